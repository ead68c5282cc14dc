/* exitprobe report — aggregate result files over rounds. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "probe/cmd/cmd.h"
#include "probe/cmd/commands.h"
#include "probe/engine/report.h"

static void report_usage(FILE *out) {
  fprintf(out,
          "Usage: exitprobe report [--json] FILE...\n"
          "\n"
          "Reads result files written by `exitprobe scan --output` (JSON Lines, one record per\n"
          "round, exit and port; '-' is standard input) and prints one row per (exit, port):\n"
          "how often it violated its announced policy, honoured it, or stayed inconclusive,\n"
          "and its most common failure. A consistent violator violated in every round.\n"
          "\n"
          "  --json     one JSON object per row (schema exitprobe/report/1) instead of a table\n"
          "  -h, --help this help\n"
          "\n"
          "Exit status: 0 ok (also with violators), 2 usage error, 4 a file could not be read.\n");
}

int ep_cmd_report(int argc, char **argv) {
  bool json = false;
  int first = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0) {
      json = true;
    } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      report_usage(stdout);
      return EP_EXIT_OK;
    } else if (strcmp(argv[i], "--") == 0) {
      first = i + 1;
      break;
    } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
      fprintf(stderr, "exitprobe report: unknown option '%s' (try --help)\n", argv[i]);
      return EP_EXIT_USAGE;
    } else if (first == 0) {
      first = i;
    }
  }
  if (first == 0 || first >= argc) {
    report_usage(stderr);
    return EP_EXIT_USAGE;
  }
  ep_report_t *r = ep_report_new();
  if (r == NULL) {
    return EP_EXIT_FAILURE;
  }
  int status = EP_EXIT_OK;
  for (int i = first; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0) {
      continue;
    }
    ep_err_t err = {0};
    if (ep_report_add_file(r, argv[i], &err) != EP_OK) {
      fprintf(stderr, "exitprobe report: %s\n", err.msg);
      status = EP_EXIT_FAILURE;
    }
  }
  ep_report_print(r, stdout, json);
  ep_report_free(r);
  return status;
}
