/* exitprobe report — aggregate result files over rounds. */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "probe/cmd/cmd.h"
#include "probe/cmd/commands.h"
#include "probe/cmd/opts.h"
#include "probe/engine/report.h"
#include "probe/engine/report_model.h"
#include "probe/engine/report_notice.h"

typedef struct report_opts {
  bool json;
  bool csv;
  const char *html;
  const char *notices_dir;    /* --notices DIR (issue #12) */
  const char *notices_from;   /* --notices-from ADDR */
} report_opts_t;

static const ep_opt_t report_table[] = {
  {.name = "--json", .kind = EP_OPT_FLAG, EP_OPT_AT(report_opts_t, json),
   .help = "  --json     one JSON object per row (schema exitprobe/report/1) instead of a table\n"},
  {.name = "--csv", .kind = EP_OPT_FLAG, EP_OPT_AT(report_opts_t, csv),
   .help = "  --csv      CSV (RFC 4180, a header row) instead of the table\n"},
  {.name = "--html", .kind = EP_OPT_STRING, EP_OPT_AT(report_opts_t, html),
   .help = "  --html FILE\n"
           "             also write one self-contained HTML page (charts per port and round,\n"
           "             violators with their evidence, clusters by operator and network)\n"},
  {.name = "--notices", .kind = EP_OPT_STRING, EP_OPT_AT(report_opts_t, notices_dir),
   .help = "  --notices DIR\n"
           "             also write one message per operator about its violating exits to\n"
           "             DIR (created if missing): notice-NNN-FP.txt and .eml (never sent)\n"},
  {.name = "--notices-from", .kind = EP_OPT_STRING, EP_OPT_AT(report_opts_t, notices_from),
   .help = "  --notices-from ADDR\n"
           "             the .eml From: address (default exitprobe@localhost)\n"},
  {.name = "--help", .short_name = 'h', .kind = EP_OPT_HELP, .help = "  -h, --help this help\n"},
};

static const ep_optspec_t report_spec = {
  .cmd = "report",
  .head = "Usage: exitprobe report [--json | --csv] [--html FILE] [--notices DIR] FILE...\n"
          "\n"
          "Reads result files written by `exitprobe scan --output` (JSON Lines, one record per\n"
          "round, exit and port; '-' is standard input) and prints one row per (exit, port):\n"
          "how often it violated its announced policy, honoured it, or stayed inconclusive,\n"
          "and its most common failure. A consistent violator violated in every round.\n"
          "\n",
  .opts = report_table,
  .n_opts = sizeof report_table / sizeof report_table[0],
  .tail = "\n"
          "Exit status: 0 ok (also with violators), 2 usage error, 4 a file could not be read.\n",
  .max_operands = SIZE_MAX,
};

static int write_html(const ep_rmodel_t *m, const char *path, ep_err_t *err) {
  FILE *f = fopen(path, "w");
  if (f == NULL) {
    return ep_err_set(err, EP_ERR_IO, "cannot create %s", path);
  }
  int rc = ep_report_html(m, f, NULL, err);
  if (fclose(f) != 0 && rc == EP_OK) {
    rc = ep_err_set(err, EP_ERR_IO, "cannot write %s", path);
  }
  return rc;
}

/* --notices: one message per operator about its violating pairs
 * (engine/report_notice; nothing for an exit that was only inconclusive). */
static int write_notices(const report_opts_t *o, const ep_rmodel_t *m, ep_err_t *err) {
  if (mkdir(o->notices_dir, 0755) != 0 && errno != EEXIST) {
    return ep_err_set(err, EP_ERR_IO, "cannot create %s: %s", o->notices_dir, strerror(errno));
  }
  size_t np = ep_rmodel_pairs(m), written = 0;
  const ep_rm_pair_t **pairs = calloc(np ? np : 1, sizeof *pairs);
  if (pairs == NULL) {
    return ep_err_set(err, EP_ERR_NOMEM, "out of memory");
  }
  for (size_t i = 0; i < np; i++) {
    pairs[i] = ep_rmodel_pair(m, i);
  }
  ep_notice_cfg_t cfg = {.from = o->notices_from, .now = time(NULL)};
  int rc = ep_notices_write(pairs, np, o->notices_dir, &cfg, &written, err);
  if (rc == EP_OK) {
    fprintf(stderr, "exitprobe report: %zu notice%s written to %s\n", written, written == 1 ? "" : "s",
            o->notices_dir);
  }
  free(pairs);
  return rc;
}

int ep_cmd_report(int argc, char **argv) {
  report_opts_t o = {.json = false};
  size_t n_files = 0;
  ep_opts_rc_t orc = ep_opts_parse(&report_spec, &o, argc, argv, &n_files);
  if (orc != EP_OPTS_OK) {
    return ep_opts_exit_status(orc);
  }
  if (o.json && o.csv) {
    fprintf(stderr, "exitprobe report: --json and --csv exclude each other\n");
    return EP_EXIT_USAGE;
  }
  if (n_files == 0) {
    ep_opts_usage(&report_spec, stderr);
    return EP_EXIT_USAGE;
  }
  ep_rmodel_t *m = ep_rmodel_new();
  if (m == NULL) {
    return EP_EXIT_FAILURE;
  }
  int status = EP_EXIT_OK;
  for (size_t i = 1; i <= n_files && status == EP_EXIT_OK; i++) {
    ep_err_t err = {0};
    if (ep_rmodel_add_file(m, argv[i], &err) != EP_OK) {
      fprintf(stderr, "exitprobe report: %s\n", err.msg);
      status = EP_EXIT_FAILURE;
    }
  }
  ep_rmodel_finish(m);
  if (status == EP_EXIT_OK && ep_rmodel_records(m) == 0) {
    /* an empty table would read as "nothing violates": say there was nothing */
    fprintf(stderr, "exitprobe report: no exitprobe record in the input (%zu bad line(s) skipped)\n",
            ep_rmodel_bad_lines(m));
    status = EP_EXIT_FAILURE;
  }
  ep_err_t err = {0};
  int rc = status != EP_EXIT_OK ? EP_OK
           : o.csv             ? ep_report_csv(m, stdout, &err)
                               : ep_report_print(m, stdout, o.json, &err);
  if (rc == EP_OK && status == EP_EXIT_OK && o.html != NULL) {
    rc = write_html(m, o.html, &err);
  }
  if (rc == EP_OK && status == EP_EXIT_OK && o.notices_dir != NULL) {
    rc = write_notices(&o, m, &err);
  }
  if (rc != EP_OK) {
    fprintf(stderr, "exitprobe report: %s\n", err.msg);
    status = EP_EXIT_FAILURE;
  }
  ep_rmodel_free(m);
  return status;
}
