/* exitprobe — the table of subcommands (one line each). */
#include "config.h"

#include "probe/cmd/commands.h"

#include "probe/cmd/cmd.h"

#include <stddef.h>

const ep_command_t ep_commands[] = {
  {"scan", "probe every exit whose policy accepts the ports; classify, confirm, report", ep_cmd_scan},
  {"circuit", "build one circuit to an exit, open streams, print what came back (--trace: every cell)", ep_cmd_circuit},
  {"fetch", "fetch one directory document from a DirPort or over BEGIN_DIR (debugging)", ep_cmd_fetch},
  {"exits", "list the relays whose exit policy accepts a port, from a verified directory", ep_cmd_exits},
  {"report", "aggregate result files over rounds into a per-relay table", ep_cmd_report},
  {NULL, NULL, NULL},
};
