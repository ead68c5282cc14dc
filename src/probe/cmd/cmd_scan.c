/* exitprobe scan — probe every exit whose policy accepts the ports. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/timeutil.h"
#include "probe/cmd/cmd.h"
#include "probe/cmd/commands.h"
#include "probe/net/loop.h"
#include "probe/net/relayspec.h"
#include "probe/engine/scan.h"
#include "probe/cmd/scandir.h"
#include "probe/engine/targets.h"
#include "probe/net/tls.h"

#define SCAN_MAX_GIVEN 4096

typedef struct scan_opts {
  ep_scan_cfg_t cfg;
  const char *target;
  const char *output;
  bool json_stdout;
  bool quiet;
  unsigned rounds;
  int64_t interval_ms;
  int64_t overall_ms;
  ep_scandir_opts_t dir;      /* directory options and filters */
  const char *given_exits[SCAN_MAX_GIVEN];
  size_t n_given_exits;
  const char *given_hops[SCAN_MAX_GIVEN];
  size_t n_given_hops;
  uint16_t control_port;
} scan_opts_t;

static void scan_usage(FILE *out) {
  fprintf(out,
          "Usage: exitprobe scan [--port 25[,465,587,...]] [--target HOST] [OPTIONS]\n"
          "\n"
          "Fetches and verifies the directory, then probes every running, valid relay whose\n"
          "exit policy accepts the port(s): a 2-hop circuit (CREATE2 + EXTEND2, ntor) through\n"
          "a fast stable guard, one RELAY_BEGIN per port, control streams on the same circuit,\n"
          "and a retry of every failure through another first hop. One JSON Lines record per\n"
          "(round, exit, port) (schema in the README); a summary at the end.\n"
          "\n"
          "What to probe:\n"
          "  --port P[,P...]       ports (default 25; at most %d)\n"
          "  --target HOST         where exits connect (default: per port, see the README;\n"
          "                        25 -> gmail-smtp-in.l.google.com)\n"
          "  --exit X              only this exit (fingerprint; repeatable), or an explicit relay\n"
          "                        IP:ORPORT~FINGERPRINT~NTOR_KEY[~ED25519_ID] (no directory needed)\n"
          "  --exits-file FILE     exits as above, one per line ('#' comments)\n"
          "  --first-hop X         only these first hops (fingerprint or explicit; repeatable)\n"
          "  --include-badexit     also probe relays flagged BadExit\n"
          "Directory:\n"
          "  --dir-authorities F   torrc DirAuthority lines (test networks); default: the\n"
          "                        public network's authorities, built in\n"
          "  --dir-via dirport|orport\n"
          "                        plain HTTP to the authorities' DirPorts (default), or\n"
          "                        BEGIN_DIR over a one-hop circuit to their ORPorts\n"
          "  --cache-dir DIR       directory cache (default $XDG_CACHE_HOME/exitprobe)\n"
          "  --no-cache            neither read nor write the cache\n"
          "  --summary-only        do not fetch the exits' server descriptors: without their\n"
          "                        full policies, END EXITPOLICY is never blamed on an exit\n"
          "Engine:\n"
          "  --concurrency N       exits in flight (default 64)\n"
          "  --timeout D           per stream: BEGIN to answer, and the greeting (default 10s)\n"
          "  --circuit-timeout D   CREATE2 + EXTEND2 (default 20s)\n"
          "  --link-timeout D      TCP + TLS + link handshake per first hop (default 15s)\n"
          "  --deadline D          the whole round (default: none)\n"
          "  --no-retry            do not retry failures through another first hop\n"
          "  --no-control          no control streams (BEGIN_DIR, an allowed port)\n"
          "  --control-port P      control port for explicitly given exits (default 80)\n"
          "  --allow-same-16       first hop may share the exit's /16 (test networks)\n"
          "Rounds and output:\n"
          "  --rounds N            repeat N times, with a fresh consensus each round (default 1)\n"
          "  --interval D          wait between rounds (default 0)\n"
          "  --output FILE         append JSON Lines records to FILE (flushed per record)\n"
          "  --json                JSON Lines records on stdout; the summary goes to stderr\n"
          "  --quiet               no progress on stderr\n"
          "  -h, --help            this help\n"
          "Durations: 250ms, 10s, 5m, 1h30m.\n"
          "\n"
          "Exit status: 0 no exit violates its policy, 1 at least one does, 2 usage error,\n"
          "3 no verified directory, 4 other failure, 130 interrupted (records and summary\n"
          "are still written).\n",
          EP_SCAN_MAX_PORTS);
}

static int parse_ports(const char *s, ep_scan_cfg_t *cfg) {
  cfg->n_ports = 0;
  for (const char *p = s; *p != '\0';) {
    char *end;
    long port = strtol(p, &end, 10);
    if (end == p || port <= 0 || port > 65535 || (*end != ',' && *end != '\0') ||
        cfg->n_ports >= EP_SCAN_MAX_PORTS) {
      return -1;
    }
    for (size_t i = 0; i < cfg->n_ports; i++) {
      if (cfg->ports[i] == port) {
        return -1;
      }
    }
    cfg->ports[cfg->n_ports++] = (uint16_t)port;
    p = *end == ',' ? end + 1 : end;
  }
  return cfg->n_ports > 0 ? 0 : -1;
}

static int duration_opt(const char *name, const char *v, int64_t *out) {
  if (v == NULL || ep_duration_parse(v, out) != 0 || *out <= 0) {
    fprintf(stderr, "exitprobe scan: %s wants a duration like 10s (got '%s')\n", name, v ? v : "");
    return -1;
  }
  return 0;
}

static int read_list_file(const char *path, const char **list, size_t *n, char ***owned,
                          size_t *n_owned) {
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    fprintf(stderr, "exitprobe scan: cannot open %s\n", path);
    return -1;
  }
  char line[512];
  size_t lineno = 0;
  while (fgets(line, sizeof line, f) != NULL) {
    lineno++;
    char *p = line;
    while (*p == ' ' || *p == '\t') {
      p++;
    }
    char *end = p + strcspn(p, "#\r\n \t");
    *end = '\0';
    if (*p == '\0') {
      continue;
    }
    if (*n >= SCAN_MAX_GIVEN) {
      fprintf(stderr, "exitprobe scan: %s:%zu: more than %d entries\n", path, lineno, SCAN_MAX_GIVEN);
      fclose(f);
      return -1;
    }
    char *copy = strdup(p);
    char **no = realloc(*owned, (*n_owned + 1) * sizeof *no);
    if (copy == NULL || no == NULL) {
      free(copy);
      fclose(f);
      return -1;
    }
    *owned = no;
    no[(*n_owned)++] = copy;
    list[(*n)++] = copy;
  }
  fclose(f);
  return 0;
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

int ep_cmd_scan(int argc, char **argv) {
  scan_opts_t *o = calloc(1, sizeof *o);
  char **owned = NULL;
  size_t n_owned = 0;
  int status = EP_EXIT_USAGE;
  if (o == NULL) {
    return EP_EXIT_FAILURE;
  }
  ep_scan_cfg_defaults(&o->cfg);
  ep_scandir_opts_defaults(&o->dir);
  o->rounds = 1;
  o->control_port = 80;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    bool takes = true;
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      scan_usage(stdout);
      status = EP_EXIT_OK;
      goto out;
    } else if (strcmp(a, "--include-badexit") == 0) {
      o->dir.include_badexit = true;
      takes = false;
    } else if (strcmp(a, "--summary-only") == 0) {
      o->dir.summary_only = true;
      takes = false;
    } else if (strcmp(a, "--no-cache") == 0) {
      o->dir.no_cache = true;
      takes = false;
    } else if (strcmp(a, "--no-retry") == 0) {
      o->cfg.no_retry = true;
      takes = false;
    } else if (strcmp(a, "--no-control") == 0) {
      o->cfg.no_control = true;
      takes = false;
    } else if (strcmp(a, "--allow-same-16") == 0) {
      o->cfg.allow_same_16 = true;
      takes = false;
    } else if (strcmp(a, "--json") == 0) {
      o->json_stdout = true;
      takes = false;
    } else if (strcmp(a, "--quiet") == 0) {
      o->quiet = true;
      takes = false;
    } else if (v == NULL) {
      fprintf(stderr, "exitprobe scan: unknown option or missing value: '%s' (try --help)\n", a);
      goto out;
    } else if (strcmp(a, "--port") == 0) {
      if (parse_ports(v, &o->cfg) != 0) {
        fprintf(stderr, "exitprobe scan: bad --port list '%s' (1-%d distinct ports)\n", v,
                EP_SCAN_MAX_PORTS);
        goto out;
      }
    } else if (strcmp(a, "--target") == 0) {
      o->target = v;
    } else if (strcmp(a, "--exit") == 0) {
      if (o->n_given_exits >= SCAN_MAX_GIVEN) {
        goto out;
      }
      o->given_exits[o->n_given_exits++] = v;
    } else if (strcmp(a, "--exits-file") == 0) {
      if (read_list_file(v, o->given_exits, &o->n_given_exits, &owned, &n_owned) != 0) {
        goto out;
      }
    } else if (strcmp(a, "--first-hop") == 0) {
      if (o->n_given_hops >= SCAN_MAX_GIVEN) {
        goto out;
      }
      o->given_hops[o->n_given_hops++] = v;
    } else if (strcmp(a, "--dir-authorities") == 0) {
      o->dir.dir_authorities = v;
    } else if (strcmp(a, "--dir-via") == 0) {
      if (strcmp(v, "orport") != 0 && strcmp(v, "dirport") != 0) {
        fprintf(stderr, "exitprobe scan: --dir-via wants dirport or orport\n");
        goto out;
      }
      o->dir.dir_via_orport = strcmp(v, "orport") == 0;
    } else if (strcmp(a, "--cache-dir") == 0) {
      o->dir.cache_dir = v;
    } else if (strcmp(a, "--concurrency") == 0) {
      long c = strtol(v, NULL, 10);
      if (c < 1 || c > 4096) {
        fprintf(stderr, "exitprobe scan: --concurrency wants 1..4096\n");
        goto out;
      }
      o->cfg.concurrency = (unsigned)c;
    } else if (strcmp(a, "--control-port") == 0) {
      long c = strtol(v, NULL, 10);
      if (c < 0 || c > 65535) {
        goto out;
      }
      o->control_port = (uint16_t)c;
    } else if (strcmp(a, "--rounds") == 0) {
      long c = strtol(v, NULL, 10);
      if (c < 1 || c > 100000) {
        fprintf(stderr, "exitprobe scan: --rounds wants a positive number\n");
        goto out;
      }
      o->rounds = (unsigned)c;
    } else if (strcmp(a, "--timeout") == 0) {
      if (duration_opt(a, v, &o->cfg.stream_timeout_ms) != 0) goto out;
    } else if (strcmp(a, "--circuit-timeout") == 0) {
      if (duration_opt(a, v, &o->cfg.circuit_timeout_ms) != 0) goto out;
    } else if (strcmp(a, "--link-timeout") == 0) {
      if (duration_opt(a, v, &o->cfg.link_timeout_ms) != 0) goto out;
    } else if (strcmp(a, "--deadline") == 0) {
      if (duration_opt(a, v, &o->overall_ms) != 0) goto out;
    } else if (strcmp(a, "--interval") == 0) {
      if (duration_opt(a, v, &o->interval_ms) != 0) goto out;
    } else if (strcmp(a, "--output") == 0) {
      o->output = v;
    } else {
      fprintf(stderr, "exitprobe scan: unknown option '%s' (try --help)\n", a);
      goto out;
    }
    if (takes) {
      i++;
    }
  }
  if (o->target == NULL) {
    for (size_t i = 0; i < o->cfg.n_ports; i++) {
      const char *t = ep_default_target(o->cfg.ports[i]);
      if (t == NULL || (o->target != NULL && strcmp(t, o->target) != 0)) {
        fprintf(stderr, "exitprobe scan: no single default target for port%s %u: give --target\n",
                o->cfg.n_ports > 1 ? "s including" : "", o->cfg.ports[i]);
        goto out;
      }
      o->target = t;
    }
  }
  o->cfg.target_host = o->target;
  o->dir.given_exits = o->given_exits;
  o->dir.n_given_exits = o->n_given_exits;
  o->dir.given_hops = o->given_hops;
  o->dir.n_given_hops = o->n_given_hops;
  o->dir.ports = o->cfg.ports;
  o->dir.n_ports = o->cfg.n_ports;

  FILE *out = NULL;
  if (o->output != NULL) {
    out = strcmp(o->output, "-") == 0 ? stdout : fopen(o->output, "a");
    if (out == NULL) {
      fprintf(stderr, "exitprobe scan: cannot open %s for appending\n", o->output);
      status = EP_EXIT_FAILURE;
      goto out;
    }
  }
  if (o->json_stdout) {
    out = stdout;
  }
  FILE *summary_to = o->json_stdout || out == stdout ? stderr : stdout;
  o->cfg.out = out;
  if (!o->quiet) {
    o->cfg.progress = stderr;
    o->cfg.progress_tty = isatty(STDERR_FILENO) != 0;
  }

  ep_err_t err = {0};
  ep_loop_t *loop = ep_loop_new(&err);
  ep_tls_ctx_t *tls = loop != NULL ? ep_tls_ctx_new_client(&err) : NULL;
  if (tls == NULL) {
    fprintf(stderr, "exitprobe scan: %s\n", err.msg);
    ep_loop_free(loop);
    status = EP_EXIT_FAILURE;
    goto close_out;
  }
  ep_loop_catch_signals(loop, NULL);
  o->dir.tls = tls;
  status = EP_EXIT_OK;
  bool explicit_exits = all_explicit(o->given_exits, o->n_given_exits);
  bool explicit_hops = all_explicit(o->given_hops, o->n_given_hops);
  for (unsigned round = 1; round <= o->rounds && !ep_loop_stopping(loop); round++) {
    ep_scan_relay_t *exits = NULL, *hops = NULL;
    size_t n_exits = 0, n_hops = 0;
    ep_scandir_t *sd = NULL;
    if (explicit_exits && explicit_hops) {
      if (explicit_relays(o->given_exits, o->n_given_exits, o->control_port, &exits, &n_exits) != 0 ||
          explicit_relays(o->given_hops, o->n_given_hops, 0, &hops, &n_hops) != 0) {
        free(exits);
        free(hops);
        status = EP_EXIT_USAGE;
        break;
      }
    } else {
      sd = ep_scandir_load(loop, &o->dir, &err);
      if (sd == NULL) {
        fprintf(stderr, "exitprobe scan: %s\n", err.msg);
        status = ep_loop_stopping(loop) ? 130 : EP_EXIT_DIRECTORY;
        break;
      }
      ep_scandir_relays(sd, &exits, &n_exits, &hops, &n_hops);
      o->cfg.related = ep_scandir_related;
      o->cfg.related_arg = sd;
      o->cfg.full_policy = ep_scandir_full_policy;
      o->cfg.full_policy_arg = sd;
      if (explicit_hops && o->n_given_hops > 0) {
        if (explicit_relays(o->given_hops, o->n_given_hops, 0, &hops, &n_hops) != 0) {
          ep_scandir_free(sd);
          status = EP_EXIT_USAGE;
          break;
        }
        ep_scandir_own_hops(sd, hops, n_hops);
      }
      if (!o->cfg.allow_same_16 && ep_scandir_is_test_network(sd)) {
        o->cfg.allow_same_16 = true;
        ep_notice("scan: every relay is on one /16 (a test network): first hops may share the exit's /16");
      }
    }
    o->cfg.round = round;
    o->cfg.deadline_ms = o->overall_ms > 0 ? ep_now_ms() + o->overall_ms : 0;
    if (!o->quiet) {
      fprintf(stderr, "scan round %u: %zu exits, %zu first hops, port%s", round, n_exits, n_hops,
              o->cfg.n_ports > 1 ? "s" : "");
      for (size_t i = 0; i < o->cfg.n_ports; i++) {
        fprintf(stderr, "%s%u", i ? "," : " ", o->cfg.ports[i]);
      }
      fprintf(stderr, ", target %s\n", o->cfg.target_host);
    }
    ep_scan_summary_t sum;
    int rc = ep_scan_run(loop, tls, exits, n_exits, hops, n_hops, &o->cfg, &sum, &err);
    if (rc != EP_OK) {
      fprintf(stderr, "exitprobe scan: %s\n", err.msg);
      status = EP_EXIT_FAILURE;
    } else {
      if (o->rounds > 1) {
        fprintf(summary_to, "== round %u of %u\n", round, o->rounds);
      }
      ep_scan_summary_print(&sum, summary_to);
      if (sum.n_violators > 0 && status == EP_EXIT_OK) {
        status = EP_EXIT_FINDINGS;
      }
      if (sum.interrupted) {
        status = 130;
      }
    }
    ep_scan_summary_free(&sum);
    if (sd != NULL) {
      ep_scandir_free(sd);
    } else {
      free(exits);
      free(hops);
    }
    if (rc != EP_OK) {
      break;
    }
    if (round < o->rounds && o->interval_ms > 0 && !ep_loop_stopping(loop)) {
      if (!o->quiet) {
        fprintf(stderr, "scan: next round in %lld s\n", (long long)(o->interval_ms / 1000));
      }
      ep_timer_id_t wake = ep_loop_timer_in(loop, o->interval_ms, wake_up, NULL);
      ep_loop_run_until(loop, NULL, NULL, ep_now_ms() + o->interval_ms, NULL);
      ep_loop_timer_cancel(loop, wake);
    }
  }
  if (ep_loop_stopping(loop)) {
    status = 130;
  }
  ep_tls_ctx_free(tls);
  ep_loop_free(loop);
close_out:
  if (out != NULL && out != stdout) {
    fclose(out);
  }
out:
  for (size_t i = 0; i < n_owned; i++) {
    free(owned[i]);
  }
  free(owned);
  free(o);
  return status;
}
