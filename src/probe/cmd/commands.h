/* exitprobe — the subcommands. Each lives in src/probe/cmd_<name>.c and
 * takes the arguments after its name (argv[0] is the subcommand name).
 * Returns the process exit status (see the man page: 0 ok, 1 findings or
 * failure per command, 2 usage error, 3 directory/verification failure). */
#ifndef EP_PROBE_COMMANDS_H
#define EP_PROBE_COMMANDS_H

typedef struct ep_command {
  const char *name;
  const char *summary;
  int (*run)(int argc, char **argv);
} ep_command_t;

/* Exit statuses shared by all commands. */
#define EP_EXIT_OK 0
#define EP_EXIT_FINDINGS 1   /* scan: at least one exit violates its policy */
#define EP_EXIT_USAGE 2
#define EP_EXIT_DIRECTORY 3  /* no verified directory could be had */
#define EP_EXIT_FAILURE 4    /* other runtime failure */

/* The table, terminated by a NULL name (src/probe/commands.c). */
extern const ep_command_t ep_commands[];

#endif
