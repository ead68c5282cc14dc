/* exitprobe scan — probe every exit whose policy accepts the ports. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/caps.h"
#include "lib/log.h"
#include "lib/timeutil.h"
#include "lib/vec.h"
#include "probe/cmd/cmd.h"
#include "probe/cmd/commands.h"
#include "probe/cmd/opts.h"
#include "probe/net/loop.h"
#include "probe/net/relayspec.h"
#include "proto/relaymsg.h"
#include "probe/engine/result.h"
#include "probe/engine/scan.h"
#include "probe/engine/dnscheck.h"
#include "probe/cmd/scanhops.h"
#include "probe/cmd/scandir.h"
#include "probe/engine/targets.h"
#include "probe/net/tls.h"

#define SCAN_MAX_GIVEN 4096        /* --exit, --exits-file lines, --first-hop */
#define SCAN_LIST_LINE_MAX 512     /* one line of an --exits-file */
#define SCAN_RUN (-1)             /* scan_parse: options fine, run */
#define SCAN_STR(x) SCAN_STR2(x)
#define SCAN_STR2(x) #x

/* --exit and --exits-file, in the order given, and the lines read. */
typedef struct scan_given {
  ep_opt_list_t exits;
  char **owned;
  size_t n_owned, alloc_owned;
} scan_given_t;

typedef struct scan_opts {
  ep_scan_cfg_t cfg;
  ep_opt_ports_t ports;
  ep_opt_services_t services;
  const char *target;
  const char *output;
  const char *csv;
  bool json_stdout;
  bool quiet;
  unsigned rounds;
  unsigned hop_rate;          /* --hop-rate: circuits/s per first hop; HOP_RATE_UNSET: from the consensus */
  int64_t interval_ms;
  int64_t overall_ms;
  ep_scandir_opts_t dir;      /* directory options and filters */
  unsigned dir_via;           /* 0 dirport, 1 orport */
  scan_given_t given;
  ep_opt_list_t hops;
  uint16_t control_port;
  /* #13: IP versions to probe (bit 0: IPv4, bit 1: IPv6; 0: IPv4) */
  unsigned ip_versions;
  bool ipv6_only;
  bool no_tls_resume;         /* --no-tls-resume: a full TLS handshake for every check */
  char target_v6[EP_BEGIN_HOST_MAX + 1];  /* an IPv6 literal --target, bracketed for BEGIN */
} scan_opts_t;

/* --ip-version 4 | 6 | 4,6 | 6,4 into a bit mask (bit 0: 4, bit 1: 6). */
static int parse_ip_versions(void *dst, const char *v, ep_err_t *err) {
  unsigned m = 0;
  (void)err;
  for (const char *p = v; *p != '\0'; p++) {
    if ((*p == '4' || *p == '6') && (p[1] == '\0' || p[1] == ',')) {
      m |= *p == '4' ? 1u : 2u;
      p += p[1] == ',';
    } else {
      return EP_ERR_MALFORMED;
    }
  }
  if (m == 0) {
    return EP_ERR_MALFORMED;
  }
  *(unsigned *)dst = m;
  return EP_OK;
}

/* --vantage NAME: 1..EP_CAP_VANTAGE bytes of [A-Za-z0-9._:@-]. */
_Static_assert(EP_CAP_VANTAGE == 64, "--vantage's help says 64");
static int parse_vantage(void *dst, const char *v, ep_err_t *err) {
  size_t n = strlen(v);
  if (n == 0 || n > EP_CAP_VANTAGE || strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                 "0123456789._:@-") != n) {
    (void)err;
    return EP_ERR_MALFORMED;
  }
  *(const char **)dst = v;
  return EP_OK;
}

/* --dns-probe-domain D: a domain with room for a label under it (#14). */
static int parse_dns_domain(void *dst, const char *v, ep_err_t *err) {
  ep_dns_round_t *r = malloc(sizeof *r);
  if (r == NULL) {
    return ep_err_set(err, EP_ERR_NOMEM, "out of memory");
  }
  int rc = strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") == strlen(v)
               ? ep_dns_round_init(r, NULL, 0, v, err)
               : EP_ERR_MALFORMED;
  free(r);
  if (rc != EP_OK) {
    return EP_ERR_MALFORMED;
  }
  *(const char **)dst = v;
  return EP_OK;
}

static int read_list_file(void *dst, const char *path, ep_err_t *err);


#define HOP_RATE_UNSET UINT32_MAX

#define SCAN_FLAG(name_, member, help_) \
  {.name = name_, .kind = EP_OPT_FLAG, EP_OPT_AT(scan_opts_t, member), .help = help_}
#define SCAN_STRING(name_, member, help_) \
  {.name = name_, .kind = EP_OPT_STRING, EP_OPT_AT(scan_opts_t, member), .help = help_}
#define SCAN_DURATION(name_, member, help_) \
  {.name = name_, .kind = EP_OPT_DURATION, EP_OPT_AT(scan_opts_t, member), .min = 1, .help = help_}
#define SCAN_UINT(name_, member, lo, hi, help_) \
  {.name = name_, .kind = EP_OPT_UINT, EP_OPT_AT(scan_opts_t, member), .min = lo, .max = hi, \
   .help = help_}

static const ep_opt_t scan_table[] = {
  {.name = "--port", .kind = EP_OPT_PORTS, EP_OPT_AT(scan_opts_t, ports), .max = EP_SCAN_MAX_PORTS,
   .flags = EP_OPTF_DISTINCT | EP_OPTF_NAMES,
   .help = "  --port P[,P...]       ports, service names (smtp, https, ...) or common (the 15\n"
           "                        ports people use most); default 25; at most " SCAN_STR(EP_SCAN_MAX_PORTS) "\n"},
  {.name = "--service", .kind = EP_OPT_SERVICE, EP_OPT_AT(scan_opts_t, services),
   .max = EP_SCAN_MAX_PORTS,
   .help = "  --service PORT=SVC    check PORT as service SVC (e.g. 8443=https; repeatable;\n"
           "                        default: by port, see the README)\n"},
  SCAN_STRING("--target", target,
              "  --target HOST         where exits connect (default: per port, see the README;\n"
              "                        25 -> gmail-smtp-in.l.google.com)\n"),
  {.name = "--exit", .kind = EP_OPT_LIST, EP_OPT_AT(scan_opts_t, given.exits), .max = SCAN_MAX_GIVEN,
   .help = "  --exit X              only this exit (fingerprint; repeatable), or an explicit relay\n"
           "                        IP:ORPORT~FINGERPRINT~NTOR_KEY[~ED25519_ID] (no directory needed)\n"},
  {.name = "--exits-file", .kind = EP_OPT_FUNC, EP_OPT_AT(scan_opts_t, given), .fn = read_list_file,
   .want = "a readable file",
   .help = "  --exits-file FILE     exits as above, one per line ('#' comments)\n"},
  {.name = "--first-hop", .kind = EP_OPT_LIST, EP_OPT_AT(scan_opts_t, hops), .max = SCAN_MAX_GIVEN,
   .help = "  --first-hop X         only these first hops (fingerprint or explicit; repeatable)\n"},
  SCAN_FLAG("--include-badexit", dir.include_badexit,
            "  --include-badexit     also probe relays flagged BadExit\n"),
  {.kind = EP_OPT_TEXT, .help = "Directory:\n"},
  SCAN_STRING("--dir-authorities", dir.dir_authorities,
              "  --dir-authorities F   torrc DirAuthority lines (test networks); default:\n"
              "                        $EXITPROBE_DIR_AUTHORITIES, else the public network's\n"
              "                        authorities, built in\n"),
  {.name = "--dir-via", .kind = EP_OPT_CHOICE, EP_OPT_AT(scan_opts_t, dir_via),
   .choices = ep_scandir_dir_via_choices,
   .help = "  --dir-via dirport|orport\n"
           "                        plain HTTP to the authorities' DirPorts (default), or\n"
           "                        BEGIN_DIR over a one-hop circuit to their ORPorts\n"},
  SCAN_STRING("--cache-dir", dir.cache_dir,
              "  --cache-dir DIR       directory cache (default $XDG_CACHE_HOME/exitprobe)\n"),
  SCAN_FLAG("--no-cache", dir.no_cache, "  --no-cache            neither read nor write the cache\n"),
  SCAN_STRING("--tor-data-dir", dir.tor_data_dir,
              "  --tor-data-dir DIR    read the directory from a local tor's DataDirectory\n"
              "                        (cached-microdesc-consensus, cached-certs, ...; verified\n"
              "                        as if fetched) instead of asking the authorities\n"),
  SCAN_FLAG("--summary-only", dir.summary_only,
            "  --summary-only        do not fetch the exits' server descriptors: without their\n"
            "                        full policies, END EXITPOLICY is never blamed on an exit\n"),
  {.kind = EP_OPT_TEXT, .help = "Engine:\n"},
  SCAN_UINT("--concurrency", cfg.concurrency, 1, 4096,
            "  --concurrency N       exits in flight (default 64)\n"),
  SCAN_DURATION("--timeout", cfg.stream_timeout_ms,
                "  --timeout D           per stream: BEGIN to answer, and the greeting (default 10s)\n"),
  SCAN_DURATION("--circuit-timeout", cfg.circuit_timeout_ms,
                "  --circuit-timeout D   CREATE2 + EXTEND2 (default 20s)\n"),
  SCAN_DURATION("--link-timeout", cfg.link_timeout_ms,
                "  --link-timeout D      TCP + TLS + link handshake per first hop (default 15s)\n"),
  SCAN_UINT("--hop-rate", hop_rate, 0, 1000,
            "  --hop-rate N          new circuits per second per first hop, 0: unpaced (default:\n"
            "                        half the consensus DoSCircuitCreationRate, burst half its\n"
            "                        Burst; raise it only on a network whose relays you run)\n"),
  SCAN_DURATION("--deadline", overall_ms, "  --deadline D          the whole round (default: none)\n"),
  SCAN_FLAG("--no-retry", cfg.no_retry,
            "  --no-retry            do not retry failures through another first hop\n"),
  SCAN_DURATION("--retry-after", cfg.retry_after_ms,
                "  --retry-after D       a port that failed is retried through another first hop at\n"
                "                        once; one still unanswered after D is too, in parallel\n"
                "                        (default: half of --timeout); blame needs both to fail\n"),
  SCAN_FLAG("--no-tls-resume", no_tls_resume,
            "  --no-tls-resume       a full TLS handshake in every TLS check (default: a check\n"
            "                        resumes the session its destination gave an earlier one,\n"
            "                        which proves the same server; see exitprobe(1))\n"),
  SCAN_FLAG("--no-control", cfg.no_control,
            "  --no-control          no control streams (BEGIN_DIR, an allowed port)\n"),
  SCAN_FLAG("--no-dns-check", cfg.no_dns_check,
            "  --no-dns-check        no RELAY_RESOLVE of the target names on each exit's circuit\n"
            "                        (default: when a target is a name, each exit's resolver is\n"
            "                        checked, and a port whose name fails there is probed by\n"
            "                        the address the other exits gave)\n"),
  {.name = "--dns-probe-domain", .kind = EP_OPT_FUNC, EP_OPT_AT(scan_opts_t, cfg.dns_probe_domain),
   .fn = parse_dns_domain, .want = "a domain name (letters, digits, . - _) of at most 215 bytes",
   .help = "  --dns-probe-domain D  also RESOLVE one name unique to each exit and round under\n"
           "                        D, a wildcard zone you run (off by default)\n"},
  SCAN_UINT("--control-port", control_port, 0, 65535,
            "  --control-port P      control port for explicitly given exits (default 80)\n"),
  SCAN_FLAG("--allow-same-16", cfg.allow_same_16,
            "  --allow-same-16       first hop may share the exit's /16 (test networks)\n"),
  {.kind = EP_OPT_TEXT, .help = "Rounds and output:\n"},
  SCAN_UINT("--rounds", rounds, 1, 100000,
            "  --rounds N            repeat N times, with a fresh consensus each round (default 1)\n"),
  SCAN_DURATION("--interval", interval_ms, "  --interval D          wait between rounds (default 0)\n"),
  SCAN_STRING("--output", output,
              "  --output FILE         append JSON Lines records to FILE (flushed per record)\n"),
  SCAN_STRING("--csv", csv,
              "  --csv FILE            also append each record to FILE as a CSV row (RFC 4180;\n"
              "                        a header row when FILE is empty; the JSON record's fields)\n"),
  SCAN_FLAG("--json", json_stdout,
            "  --json                JSON Lines records on stdout; the summary goes to stderr\n"),
  SCAN_FLAG("--quiet", quiet, "  --quiet               no progress on stderr\n"),
  {.name = "--ip-version", .kind = EP_OPT_FUNC, EP_OPT_AT(scan_opts_t, ip_versions),
   .fn = parse_ip_versions, .want = "4, 6 or 4,6",
   .help = "  --ip-version 4|6|4,6  probe over IPv4 (default), IPv6 or both: IPv6 probes exits\n"
           "                        whose IPv6 policy (p6) accepts the port, with BEGIN flags\n"
           "                        asking for IPv6; a record per (exit, port, ip version)\n"},
  SCAN_FLAG("--ipv6", ipv6_only, "  --ipv6                the same as --ip-version 6\n"),
  {.name = "--vantage", .kind = EP_OPT_FUNC, EP_OPT_AT(scan_opts_t, cfg.vantage), .fn = parse_vantage,
   .want = "1 to 64 characters of A-Z a-z 0-9 . _ : @ -",
   .help = "  --vantage NAME        stamp every record with where it was measured from (a host\n"
           "                        name, e.g. \"fra1\"): see the README's vantage points\n"},
  EP_OPT_OUTBOUND_ADDRESS("  --outbound-address A  connect from local address A (IPv4 and/or IPv6: once\n"
                          "                        per family), like tor's OutboundBindAddress\n"),
  {.name = "--help", .short_name = 'h', .kind = EP_OPT_HELP,
   .help = "  -h, --help            this help\n"},
};

static const ep_optspec_t scan_spec = {
  .cmd = "scan",
  .head = "Usage: exitprobe scan [--port 25[,465,587,...]] [--target HOST] [OPTIONS]\n"
          "\n"
          "Fetches and verifies the directory, then probes every running, valid relay whose\n"
          "exit policy accepts the port(s): a 2-hop circuit (CREATE2 + EXTEND2, ntor) through\n"
          "a fast stable guard, one RELAY_BEGIN per port, control streams on the same circuit,\n"
          "and a retry of every failure through another first hop. One JSON Lines record per\n"
          "(round, exit, port) (schema in the README); a summary at the end.\n"
          "\n"
          "What to probe:\n",
  .opts = scan_table,
  .n_opts = sizeof scan_table / sizeof scan_table[0],
  .tail = "Durations: 250ms, 10s, 5m, 1h30m.\n"
          "\n"
          "Exit status: 0 no exit violates its policy, 1 at least one does, 2 usage error,\n"
          "3 no verified directory, 4 other failure, 130 interrupted (records and summary\n"
          "are still written).\n",
};

/* --exits-file: one exit per line, '#' comments; appended to the --exit list. */
static int read_list_file(void *dst, const char *path, ep_err_t *err) {
  scan_given_t *g = dst;
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    return ep_err_set(err, EP_ERR_IO, "cannot open it (%s)", strerror(errno));
  }
  char line[SCAN_LIST_LINE_MAX];
  size_t lineno = 0;
  int rc = EP_OK;
  while (rc == EP_OK && fgets(line, sizeof line, f) != NULL) {
    lineno++;
    char *p = line + strspn(line, " \t");
    p[strcspn(p, "#\r\n \t")] = '\0';
    if (*p == '\0') {
      continue;
    }
    char *copy = NULL;
    rc = EP_VEC_RESERVE(g->owned, g->alloc_owned, g->n_owned + 1, SCAN_MAX_GIVEN, "exits", err);
    if (rc == EP_OK && (copy = strdup(p)) == NULL) {
      rc = ep_err_set(err, EP_ERR_NOMEM, "out of memory");
    }
    if (rc == EP_OK) {
      g->owned[g->n_owned++] = copy;
      rc = ep_opt_list_add(&g->exits, copy, SCAN_MAX_GIVEN, err);
    }
    if (rc == EP_ERR_LIMIT) {
      ep_err_set(err, EP_ERR_LIMIT, "line %zu: more than %d exits", lineno, SCAN_MAX_GIVEN);
    }
  }
  fclose(f);
  return rc;
}

static void scan_opts_free(scan_opts_t *o) {
  for (size_t i = 0; i < o->given.n_owned; i++) {
    free(o->given.owned[i]);
  }
  free(o->given.owned);
  ep_opt_list_free(&o->given.exits);
  ep_opt_list_free(&o->hops);
  free(o);
}

/* Without --target, each port's default targets: the first, and the
 * second to confirm a failure on the same circuit (#11). */
static int default_targets(scan_opts_t *o) {
  if (o->target != NULL) {
    o->cfg.target_host = o->target;
    return 0;
  }
  for (size_t i = 0; i < o->cfg.n_ports; i++) {
    const char *t[2] = {NULL, NULL};
    if (ep_default_targets(o->cfg.ports[i], t) == 0 || t[0] == NULL) {
      fprintf(stderr, "exitprobe scan: no default target for port %u: give --target\n",
              o->cfg.ports[i]);
      return -1;
    }
    o->cfg.port_targets[i] = t[0];
    o->cfg.confirm_targets[i] = t[1];
  }
  o->cfg.target_host = o->cfg.port_targets[0]; /* the control stream's */
  return 0;
}

/* --service PORT=SVC for the ports probed; one for a port not probed is an error. */
static int apply_services(scan_opts_t *o) {
  for (size_t k = 0; k < o->services.n; k++) {
    size_t i = 0;
    while (i < o->cfg.n_ports && o->cfg.ports[i] != o->services.port[k]) {
      i++;
    }
    if (i == o->cfg.n_ports) {
      fprintf(stderr, "exitprobe scan: --service %u=...: port %u is not in --port\n",
              o->services.port[k], o->services.port[k]);
      return -1;
    }
    o->cfg.services[i] = o->services.spec[k];
    o->cfg.services_given |= UINT32_C(1) << i;
  }
  return 0;
}

/* Options into o (allocated here); SCAN_RUN to run, else the exit status. */
static int scan_parse(int argc, char **argv, scan_opts_t **out) {
  scan_opts_t *o = calloc(1, sizeof *o);
  *out = o;
  if (o == NULL) {
    return EP_EXIT_FAILURE;
  }
  ep_scan_cfg_defaults(&o->cfg);
  ep_scandir_opts_defaults(&o->dir);
  o->rounds = 1;
  o->hop_rate = HOP_RATE_UNSET;
  o->control_port = 80;
  o->ports.n = o->cfg.n_ports;
  memcpy(o->ports.v, o->cfg.ports, o->cfg.n_ports * sizeof o->cfg.ports[0]);
  ep_opts_rc_t rc = ep_opts_parse(&scan_spec, o, argc, argv, NULL);
  if (rc != EP_OPTS_OK) {
    return ep_opts_exit_status(rc);
  }
  o->cfg.n_ports = o->ports.n;
  memcpy(o->cfg.ports, o->ports.v, o->ports.n * sizeof o->ports.v[0]);
  if (default_targets(o) != 0 || apply_services(o) != 0) {
    return EP_EXIT_USAGE;
  }
  if (o->ipv6_only) {
    o->ip_versions = 2;
  }
  if (o->ip_versions == 0) {
    o->ip_versions = 1;
  }
  /* an IPv6 literal target goes in brackets in RELAY_BEGIN */
  if (o->target != NULL && strchr(o->target, ':') != NULL && o->target[0] != '[') {
    if (strlen(o->target) + 3 > sizeof o->target_v6) {
      fprintf(stderr, "exitprobe scan: --target too long\n");
      return EP_EXIT_USAGE;
    }
    snprintf(o->target_v6, sizeof o->target_v6, "[%s]", o->target);
    o->cfg.target_host = o->target_v6;
  }
  o->dir.dir_via_orport = o->dir_via == 1;
  o->dir.given_exits = o->given.exits.v;
  o->dir.n_given_exits = o->given.exits.n;
  o->dir.given_hops = o->hops.v;
  o->dir.n_given_hops = o->hops.n;
  o->dir.ports = o->cfg.ports;
  o->dir.n_ports = o->cfg.n_ports;
  return SCAN_RUN;
}

/* Relays given explicitly (IP:PORT~FP~NTOR[~ED]): no directory at all. */
static int explicit_relays(const char *const *given, size_t n, uint16_t control_port,
                           ep_scan_relay_t **out, size_t *nout) {
  *out = calloc(n ? n : 1, sizeof **out);
  if (*out == NULL) {
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    ep_scan_relay_t *r = &(*out)[i];
    ep_err_t err = {0};
    if (ep_relayspec_parse(given[i], &r->target, &err) != EP_OK) {
      fprintf(stderr, "exitprobe scan: %s\n", err.msg);
      return -1;
    }
    ep_fingerprint_format(r->ref.fingerprint, r->target.rsa_id);
    snprintf(r->ref.nickname, sizeof r->ref.nickname, "given%u", (unsigned)(i + 1) % 100000u);
    ep_ipv4_format(r->ref.address, r->target.ipv4);
    r->ref.or_port = r->target.or_port;
    r->policy_basis = "given";
    r->control_port = control_port;
  }
  *nout = n;
  return 0;
}

static bool all_explicit(const char *const *given, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (!ep_relayspec_is_explicit(given[i])) {
      return false;
    }
  }
  return n > 0;
}

static void wake_up(ep_loop_t *loop, void *arg) {
  (void)loop;
  (void)arg;
}

/* One round's relays: explicit ones, or from the directory (sd). */
typedef struct scan_round {
  ep_scan_relay_t *exits, *hops;
  size_t n_exits, n_hops;
  ep_scandir_t *sd;
} scan_round_t;

static void scan_round_free(scan_round_t *rd) {
  if (rd->sd != NULL) {
    ep_scandir_free(rd->sd);
  } else {
    free(rd->exits);
    free(rd->hops);
  }
  memset(rd, 0, sizeof *rd);
}

/* The round's exits and first hops; EP_EXIT_OK, or the exit status to stop with. */
static int scan_round_load(ep_loop_t *loop, scan_opts_t *o, scan_round_t *rd, ep_err_t *err) {
  bool explicit_exits = all_explicit(o->dir.given_exits, o->dir.n_given_exits);
  bool explicit_hops = all_explicit(o->dir.given_hops, o->dir.n_given_hops);
  if (explicit_exits && explicit_hops) {
    if (explicit_relays(o->dir.given_exits, o->dir.n_given_exits, o->control_port, &rd->exits,
                        &rd->n_exits) != 0 ||
        explicit_relays(o->dir.given_hops, o->dir.n_given_hops, 0, &rd->hops, &rd->n_hops) != 0) {
      scan_round_free(rd);
      return EP_EXIT_USAGE;
    }
    return EP_EXIT_OK;
  }
  rd->sd = ep_scandir_load(loop, &o->dir, err);
  if (rd->sd == NULL) {
    fprintf(stderr, "exitprobe scan: %s\n", err->msg);
    return ep_loop_stopping(loop) ? 130 : EP_EXIT_DIRECTORY;
  }
  ep_scandir_relays(rd->sd, &rd->exits, &rd->n_exits, &rd->hops, &rd->n_hops);
  o->cfg.related = ep_scandir_related;
  o->cfg.related_arg = rd->sd;
  o->cfg.full_policy = ep_scandir_full_policy;
  o->cfg.full_policy_arg = rd->sd;
  if (explicit_hops && o->dir.n_given_hops > 0) {
    if (explicit_relays(o->dir.given_hops, o->dir.n_given_hops, 0, &rd->hops, &rd->n_hops) != 0) {
      free(rd->hops); /* the new array: sd still owns its own */
      scan_round_free(rd);
      return EP_EXIT_USAGE;
    }
    ep_scandir_own_hops(rd->sd, rd->hops, rd->n_hops);
  }
  ep_dos_params_t dos;
  ep_scandir_dos_params(rd->sd, &dos);
  ep_hop_pacing_from_dos(&dos, &o->cfg.hop_pacing);
  if (!o->cfg.allow_same_16 && ep_scandir_is_test_network(rd->sd)) {
    o->cfg.allow_same_16 = true;
    ep_notice("scan: every relay is on one /16 (a test network): first hops may share the exit's /16");
  }
  return EP_EXIT_OK;
}

/* Probe one round and print its summary; folds the outcome into *status.
 * Returns the engine's result (EP_OK, or an error that ends the scan). */
static int scan_round_run(ep_loop_t *loop, ep_tls_ctx_t *tls, scan_opts_t *o, unsigned round,
                          const scan_round_t *rd, FILE *summary_to, int *status) {
  o->cfg.round = round;
  o->cfg.deadline_ms = o->overall_ms > 0 ? ep_now_ms() + o->overall_ms : 0;
  if (!o->quiet) {
    fprintf(stderr, "scan round %u: %zu exits, %zu first hops, port%s", round, rd->n_exits,
            rd->n_hops, o->cfg.n_ports > 1 ? "s" : "");
    for (size_t i = 0; i < o->cfg.n_ports; i++) {
      fprintf(stderr, "%s%u", i ? "," : " ", o->cfg.ports[i]);
    }
    fprintf(stderr, ", target %s\n", o->target != NULL ? o->target : "per port (the defaults)");
  }
  if (o->hop_rate != HOP_RATE_UNSET) {
    /* after the consensus's parameters: the user's word wins */
    o->cfg.hop_pacing.paced = o->hop_rate > 0;
    o->cfg.hop_pacing.rate_milli = o->hop_rate * 1000u;
    if (o->cfg.hop_pacing.burst < o->hop_rate) {
      o->cfg.hop_pacing.burst = o->hop_rate;
    }
  }
  ep_scan_summary_t sum;
  ep_err_t err = {0};
  int rc = ep_scan_run(loop, tls, rd->exits, rd->n_exits, rd->hops, rd->n_hops, &o->cfg, &sum, &err);
  if (rc != EP_OK) {
    fprintf(stderr, "exitprobe scan: %s\n", err.msg);
    *status = EP_EXIT_FAILURE;
  } else {
    if (o->rounds > 1) {
      fprintf(summary_to, "== round %u of %u\n", round, o->rounds);
    }
    ep_scan_summary_print(&sum, summary_to);
    if (sum.n_violators > 0 && *status == EP_EXIT_OK) {
      *status = EP_EXIT_FINDINGS;
    }
    if (sum.interrupted) {
      *status = 130;
    }
  }
  ep_scan_summary_free(&sum);
  return rc;
}

/* One round over each IP version asked for (#13): IPv6 selects by the p6
 * policy and asks for IPv6 in RELAY_BEGIN. EP_OK, or what ends the scan
 * (*status says why). */
static int scan_round_versions(ep_loop_t *loop, ep_tls_ctx_t *tls, scan_opts_t *o, unsigned round,
                               FILE *summary_to, int *status) {
  for (int v = 0; v < 2; v++) {
    if (!(o->ip_versions & (1u << v)) || ep_loop_stopping(loop)) {
      continue;
    }
    o->dir.family = v == 0 ? 4 : 6;
    o->cfg.ip_version = v == 0 ? 4 : 6;
    o->cfg.begin_flags = v == 0 ? 0
                                : EP_BEGIN_FLAG_IPV6_OK | EP_BEGIN_FLAG_IPV4_NOT_OK |
                                      EP_BEGIN_FLAG_IPV6_PREFERRED;
    if (!o->quiet && o->ip_versions == 3) {
      fprintf(stderr, "scan round %u over IPv%d\n", round, o->cfg.ip_version);
    }
    scan_round_t rd = {0};
    ep_err_t err = {0};
    int load = scan_round_load(loop, o, &rd, &err);
    if (load != EP_EXIT_OK) {
      *status = load;
      return EP_ERR_IO;
    }
    int rc = scan_round_run(loop, tls, o, round, &rd, summary_to, status);
    scan_round_free(&rd);
    if (rc != EP_OK) {
      return rc;
    }
  }
  return EP_OK;
}

static void scan_wait(ep_loop_t *loop, const scan_opts_t *o) {
  if (!o->quiet) {
    fprintf(stderr, "scan: next round in %lld s\n", (long long)(o->interval_ms / 1000));
  }
  ep_timer_id_t wake = ep_loop_timer_in(loop, o->interval_ms, wake_up, NULL);
  ep_loop_run_until(loop, NULL, NULL, ep_now_ms() + o->interval_ms, NULL);
  ep_loop_timer_cancel(loop, wake);
}

/* Rounds closer together than this keep their first hops' links (tor closes
 * a client's idle link after some minutes; see probe/net/linkpool.h). */
#define SCAN_LINK_KEEP_MS 60000

/* A pool for the first hops' links when one scan_round_run follows another
 * soon enough; NULL when nothing is to be kept. */
static ep_linkpool_t *scan_links_new(const scan_opts_t *o) {
  bool several = o->rounds > 1 || o->ip_versions == 3;
  return several && o->interval_ms < SCAN_LINK_KEEP_MS ? ep_linkpool_new(SCAN_LINK_KEEP_MS) : NULL;
}

static void scan_links_free(ep_loop_t *loop, ep_linkpool_t *links) {
  if (links != NULL) {
    ep_linkpool_free(links);
    ep_loop_run_once(loop, 0, NULL); /* let the closed links be released */
  }
}

/* Every round; the exit status. */
static int scan_rounds(scan_opts_t *o, FILE *summary_to) {
  ep_err_t err = {0};
  if (!ep_tls_lean_pubkeys()) {
    ep_info("scan: public keys are decoded through OpenSSL's decoders (no ENGINE support)");
  }
  ep_loop_t *loop = ep_loop_new(&err);
  ep_tls_ctx_t *tls = loop != NULL ? ep_tls_ctx_new_client(&err) : NULL;
  if (tls == NULL) {
    fprintf(stderr, "exitprobe scan: %s\n", err.msg);
    ep_loop_free(loop);
    return EP_EXIT_FAILURE;
  }
  ep_loop_catch_signals(loop, NULL);
  o->dir.tls = tls;
  int status = EP_EXIT_OK;
  ep_scanhops_t hops;
  ep_scanhops_load(&hops, &o->dir);
  o->cfg.hop_history = &hops.hist;
  o->cfg.cbt = &hops.cbt;
  o->cfg.links = scan_links_new(o);
  o->cfg.tls_sessions = o->no_tls_resume ? NULL : ep_svc_sessions_new(); /* NULL: full handshakes */
  for (unsigned round = 1; round <= o->rounds && !ep_loop_stopping(loop); round++) {
    int rc = scan_round_versions(loop, tls, o, round, summary_to, &status);
    ep_scanhops_save(&hops);
    if (rc != EP_OK) {
      break;
    }
    if (round < o->rounds && o->interval_ms > 0 && !ep_loop_stopping(loop)) {
      scan_wait(loop, o);
    }
  }
  if (ep_loop_stopping(loop)) {
    status = 130;
  }
  o->cfg.hop_history = NULL;
  o->cfg.cbt = NULL;
  scan_links_free(loop, o->cfg.links);
  o->cfg.links = NULL;
  ep_svc_sessions_free(o->cfg.tls_sessions);
  o->cfg.tls_sessions = NULL;
  ep_scanhops_free(&hops);
  ep_tls_ctx_free(tls);
  ep_loop_free(loop);
  return status;
}

/* --csv FILE, opened for appending: the header row when it is empty
 * ("-": stdout, always a header). NULL (said why) if it cannot be. */
static FILE *scan_open_csv(const char *path) {
  if (strcmp(path, "-") == 0) {
    fputs(ep_result_csv_header(), stdout);
    return stdout;
  }
  FILE *f = fopen(path, "a");
  struct stat st;
  if (f == NULL || fstat(fileno(f), &st) != 0) {
    fprintf(stderr, "exitprobe scan: cannot open %s for appending\n", path);
    if (f != NULL) {
      fclose(f);
    }
    return NULL;
  }
  if (st.st_size == 0 && (fputs(ep_result_csv_header(), f) == EOF || fflush(f) != 0)) {
    fprintf(stderr, "exitprobe scan: cannot write %s\n", path);
    fclose(f);
    return NULL;
  }
  return f;
}

int ep_cmd_scan(int argc, char **argv) {
  scan_opts_t *o = NULL;
  int status = scan_parse(argc, argv, &o);
  if (status != SCAN_RUN) {
    if (o != NULL) {
      scan_opts_free(o);
    }
    return status;
  }
  FILE *file = NULL, *csv = NULL;
  bool csv_stdout = o->csv != NULL && strcmp(o->csv, "-") == 0;
  bool json_to_stdout = o->json_stdout || (o->output != NULL && strcmp(o->output, "-") == 0);
  if (csv_stdout && json_to_stdout) {
    fprintf(stderr, "exitprobe scan: --csv - and JSON records on stdout: choose one\n");
    scan_opts_free(o);
    return EP_EXIT_USAGE;
  }
  if (o->output != NULL) {
    file = strcmp(o->output, "-") == 0 ? stdout : fopen(o->output, "a");
    if (file == NULL) {
      fprintf(stderr, "exitprobe scan: cannot open %s for appending\n", o->output);
      scan_opts_free(o);
      return EP_EXIT_FAILURE;
    }
  }
  if (o->csv != NULL && (csv = scan_open_csv(o->csv)) == NULL) {
    if (file != NULL && file != stdout) {
      fclose(file);
    }
    scan_opts_free(o);
    return EP_EXIT_FAILURE;
  }
  FILE *out = o->json_stdout ? stdout : file;
  FILE *summary_to = o->json_stdout || out == stdout || csv == stdout ? stderr : stdout;
  o->cfg.out = out;
  o->cfg.csv = csv;
  if (!o->quiet) {
    o->cfg.progress = stderr;
    o->cfg.progress_tty = isatty(STDERR_FILENO) != 0;
  }
  status = scan_rounds(o, summary_to);
  if (file != NULL && file != stdout) {
    fclose(file);
  }
  if (csv != NULL && csv != stdout) {
    fclose(csv);
  }
  scan_opts_free(o);
  return status;
}
