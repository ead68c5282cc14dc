/* exitprobe — the subcommands' entry points (each in src/probe/cmd_<name>.c). */
#ifndef EP_PROBE_CMD_H
#define EP_PROBE_CMD_H

int ep_cmd_report(int argc, char **argv);
int ep_cmd_circuit(int argc, char **argv);
int ep_cmd_scan(int argc, char **argv);
int ep_cmd_fetch(int argc, char **argv);
int ep_cmd_exits(int argc, char **argv);

#endif
