/* exitprobe — the table of subcommands (one line each). */
#include "config.h"

#include "probe/commands.h"

#include <stddef.h>

const ep_command_t ep_commands[] = {
  {NULL, NULL, NULL},
};
