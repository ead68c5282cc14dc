/* exitprobe — the command line only: global options, then a subcommand. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"
#include "lib/log.h"
#include "probe/cmd/commands.h"

static void usage(FILE *out) {
  fprintf(out,
          "Usage: exitprobe [--log-level LEVEL] COMMAND [OPTIONS]\n"
          "\n"
          "Checks whether Tor exit relays can really reach the ports their exit\n"
          "policies announce. Speaks Tor itself: no tor daemon is needed.\n"
          "\n"
          "Commands:\n");
  for (const ep_command_t *c = ep_commands; c->name != NULL; c++) {
    fprintf(out, "  %-10s %s\n", c->name, c->summary);
  }
  fprintf(out,
          "\n"
          "Global options:\n"
          "  --log-level LEVEL  err, warn, notice (default), info or debug (to stderr)\n"
          "  -h, --help         this help; `exitprobe COMMAND --help` for a command\n"
          "  -V, --version      print the version\n"
          "\n"
          "See exitprobe(1) and the README for the output formats and exit statuses.\n");
}

int main(int argc, char **argv) {
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage(stdout);
      return EP_EXIT_OK;
    } else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
      printf("%s %s\n", PACKAGE_NAME, PACKAGE_VERSION);
      return EP_EXIT_OK;
    } else if (strcmp(a, "--log-level") == 0) {
      int lvl = (i + 1 < argc) ? ep_log_level_parse(argv[i + 1]) : -1;
      if (lvl < 0) {
        fprintf(stderr, "exitprobe: --log-level wants err, warn, notice, info or debug\n");
        return EP_EXIT_USAGE;
      }
      ep_log_set_level((ep_log_level_t)lvl);
      i++;
    } else if (a[0] == '-') {
      fprintf(stderr, "exitprobe: unknown option '%s' (try --help)\n", a);
      return EP_EXIT_USAGE;
    } else {
      break;
    }
  }
  if (i >= argc) {
    usage(stderr);
    return EP_EXIT_USAGE;
  }
  if (ep_crypto_init() != 0) {
    fprintf(stderr, "exitprobe: cannot initialise the crypto library\n");
    return EP_EXIT_FAILURE;
  }
  for (const ep_command_t *c = ep_commands; c->name != NULL; c++) {
    if (strcmp(c->name, argv[i]) == 0) {
      int rc = c->run(argc - i, argv + i);
      ep_crypto_cleanup();
      return rc;
    }
  }
  fprintf(stderr, "exitprobe: unknown command '%s' (try --help)\n", argv[i]);
  return EP_EXIT_USAGE;
}
