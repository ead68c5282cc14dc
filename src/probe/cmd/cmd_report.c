/* exitprobe report — aggregate result files over rounds. */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "probe/cmd/cmd.h"
#include "probe/cmd/commands.h"
#include "probe/cmd/opts.h"
#include "probe/engine/report.h"

typedef struct report_opts {
  bool json;
} report_opts_t;

static const ep_opt_t report_table[] = {
  {.name = "--json", .kind = EP_OPT_FLAG, EP_OPT_AT(report_opts_t, json),
   .help = "  --json     one JSON object per row (schema exitprobe/report/1) instead of a table\n"},
  {.name = "--help", .short_name = 'h', .kind = EP_OPT_HELP, .help = "  -h, --help this help\n"},
};

static const ep_optspec_t report_spec = {
  .cmd = "report",
  .head = "Usage: exitprobe report [--json] FILE...\n"
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

int ep_cmd_report(int argc, char **argv) {
  report_opts_t o = {.json = false};
  size_t n_files = 0;
  ep_opts_rc_t orc = ep_opts_parse(&report_spec, &o, argc, argv, &n_files);
  if (orc != EP_OPTS_OK) {
    return ep_opts_exit_status(orc);
  }
  if (n_files == 0) {
    ep_opts_usage(&report_spec, stderr);
    return EP_EXIT_USAGE;
  }
  ep_report_t *r = ep_report_new();
  if (r == NULL) {
    return EP_EXIT_FAILURE;
  }
  int status = EP_EXIT_OK;
  for (size_t i = 1; i <= n_files; i++) {
    ep_err_t err = {0};
    if (ep_report_add_file(r, argv[i], &err) != EP_OK) {
      fprintf(stderr, "exitprobe report: %s\n", err.msg);
      status = EP_EXIT_FAILURE;
    }
  }
  ep_report_print(r, stdout, o.json);
  ep_report_free(r);
  return status;
}
