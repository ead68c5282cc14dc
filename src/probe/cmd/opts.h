/* exitprobe — the one option parser of the subcommands.
 *
 * A subcommand declares a static table of its options: long name, short
 * name, kind, where the value goes (an offset into the command's options
 * struct), its range, and its lines of --help, verbatim. ep_opts_parse walks
 * argv once, in order:
 *   --opt VALUE and --opt=VALUE (the value may begin with '-');
 *   -h / --help prints the help (the table's lines between head and tail) to
 *   stdout and returns EP_OPTS_HELP;
 *   "--" ends the options; a lone "-" and any word not starting with '-' is
 *   an operand, moved to argv[1..*n_operands] in order (at most
 *   max_operands of them);
 *   anything wrong prints one line to stderr naming the command, the option
 *   and the value ("exitprobe scan: --rounds wants a number 1..100000 (got
 *   'x')") and returns EP_OPTS_USAGE (exit status 2).
 * A value given twice: the last one wins; a list (EP_OPT_LIST) appends. */
#ifndef EP_PROBE_OPTS_H
#define EP_PROBE_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/err.h"
#include "probe/engine/svc.h"

typedef enum ep_opt_kind {
  EP_OPT_TEXT,      /* not an option: lines of the help (a heading) */
  EP_OPT_HELP,      /* -h, --help */
  EP_OPT_FLAG,      /* bool: set to true */
  EP_OPT_STRING,    /* const char *: the value itself (argv outlives the command) */
  EP_OPT_LIST,      /* ep_opt_list_t: the value appended; at most max values */
  EP_OPT_UINT,      /* unsigned integer of `size` bytes: decimal digits, in [min, max] */
  EP_OPT_DURATION,  /* int64_t milliseconds ("250ms", "10s", "1h30m"): at least min */
  EP_OPT_PORTS,     /* ep_opt_ports_t: "P[,P...]" (a trailing comma is fine), 1..max ports */
  EP_OPT_SERVICE,   /* ep_opt_services_t: "PORT=PROTO" (repeatable; the last for a port wins) */
  EP_OPT_CHOICE,    /* unsigned: the index of the value in choices */
  EP_OPT_FUNC,      /* fn(dst, value, err) does it */
} ep_opt_kind_t;

/* EP_OPT_PORTS flags. */
#define EP_OPTF_DISTINCT 1u   /* a port given twice is an error */
#define EP_OPTF_NONE 2u       /* "none" (and "") is the empty list */
#define EP_OPTF_NAMES 4u      /* service names ("smtp", "https") and the preset "common" too;
                                 a port named twice is kept once */

/* A growable list of strings (values of a repeatable option). */
typedef struct ep_opt_list {
  const char **v;
  size_t n, alloc;
} ep_opt_list_t;

#define EP_OPT_MAX_PORTS 64

typedef struct ep_opt_ports {
  uint16_t v[EP_OPT_MAX_PORTS];
  size_t n;
} ep_opt_ports_t;

#define EP_OPT_MAX_SERVICES 64

typedef struct ep_opt_services {
  uint16_t port[EP_OPT_MAX_SERVICES];
  ep_svc_spec_t spec[EP_OPT_MAX_SERVICES];
  size_t n;
} ep_opt_services_t;

typedef struct ep_opt {
  const char *name;      /* "--port"; NULL for EP_OPT_TEXT */
  char short_name;       /* 'h', or 0 */
  ep_opt_kind_t kind;
  size_t off;            /* of the destination in the options struct */
  size_t size;           /* of the destination (EP_OPT_UINT) */
  uint64_t min, max;     /* UINT range; DURATION minimum ms; LIST and PORTS: max count */
  unsigned flags;        /* EP_OPTF_* */
  const char *const *choices;  /* EP_OPT_CHOICE: NULL-terminated */
  int (*fn)(void *dst, const char *value, ep_err_t *err);  /* EP_OPT_FUNC: EP_OK or an error */
  const char *want;      /* EP_OPT_FUNC: what a good value is, for the error ("a time") */
  const char *help;      /* its lines of --help, verbatim; NULL: none */
} ep_opt_t;

/* Destination of a table row: a member of the options struct. */
#define EP_OPT_AT(type, member) .off = offsetof(type, member), .size = sizeof(((type *)0)->member)

typedef struct ep_optspec {
  const char *cmd;          /* "scan": errors say "exitprobe scan: ..." */
  const char *head;         /* help text before the table's lines */
  const ep_opt_t *opts;
  size_t n_opts;
  const char *tail;         /* help text after them */
  size_t max_operands;      /* 0: an operand is an error */
} ep_optspec_t;

typedef enum ep_opts_rc {
  EP_OPTS_OK = 0,    /* parsed: run the command */
  EP_OPTS_HELP,      /* --help was printed: exit 0 */
  EP_OPTS_USAGE,     /* an error was printed: exit 2 */
} ep_opts_rc_t;

/* Parse argv[1..argc) (argv[0] is the command name) into the struct at
 * `base`, which the caller has filled with the defaults. */
ep_opts_rc_t ep_opts_parse(const ep_optspec_t *spec, void *base, int argc, char **argv,
                           size_t *n_operands);
/* The help text: head, every row's lines, tail. */
void ep_opts_usage(const ep_optspec_t *spec, FILE *out);
/* The exit status for a parse result other than EP_OPTS_OK (0 or 2). */
int ep_opts_exit_status(ep_opts_rc_t rc);

/* Append s to a list of at most cap strings (EP_ERR_LIMIT past it). */
int ep_opt_list_add(ep_opt_list_t *l, const char *s, size_t cap, ep_err_t *err);
void ep_opt_list_free(ep_opt_list_t *l);

/* --outbound-address ADDR (scan, exits, circuit, fetch): every TCP connect
 * binds to ADDR first (net.h ep_tcp_set_outbound); one per family (a
 * later one of the same family replaces the earlier). The
 * option's table row is EP_OPT_OUTBOUND_ADDRESS. */
int ep_opt_outbound_address(void *dst, const char *value, ep_err_t *err);
#define EP_OPT_OUTBOUND_ADDRESS(help_)                                                    \
  {.name = "--outbound-address", .kind = EP_OPT_FUNC, .fn = ep_opt_outbound_address,        \
   .want = "an IPv4 or IPv6 address", .help = help_}

#endif
