/* exitprobe exits — list the relays whose exit policy accepts a port, from a
 * verified directory (fetched, cached, or read from files). */
#include "config.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dir/authority.h"
#include "lib/buf.h"
#include "lib/encode.h"
#include "lib/escape.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/timeutil.h"
#include "probe/cmd/cmd.h"
#include "probe/cmd/commands.h"
#include "probe/dirclient/dirclient.h"
#include "probe/dirclient/dirvia.h"
#include "probe/net/loop.h"
#include "probe/dirclient/netdir.h"
#include "probe/net/tls.h"

static void exits_usage(FILE *out) {
  fprintf(out,
          "Usage: exitprobe exits --port PORT [OPTIONS]\n"
          "\n"
          "Fetches and verifies the directory, then lists every running, valid relay whose exit\n"
          "policy accepts PORT - by its policy, not by the Exit flag: fingerprint, nickname,\n"
          "address:ORPort, flags, and what answered (the microdescriptor's policy summary, or the\n"
          "full policy of its server descriptor). A summary cannot show address-restricted rules:\n"
          "such answers are marked as possibly restricted.\n"
          "\n"
          "Directory from the network (verified: certificates, a majority of authority signatures,\n"
          "validity times, every microdescriptor against its digest):\n"
          "  --dir-authorities FILE  torrc DirAuthority lines (default: the public network's)\n"
          "  --cache-dir DIR         cache root (default $XDG_CACHE_HOME/exitprobe or\n"
          "                          ~/.cache/exitprobe; one subdirectory per network)\n"
          "  --no-cache              neither read nor write the cache\n"
          "  --full-policy           also fetch server descriptors and answer from full policies\n"
          "  --dir-via dirport|orport  plain HTTP to the DirPorts (default), or BEGIN_DIR streams\n"
          "                          on one-hop circuits to the ORPorts\n"
          "  --in-order              ask the authorities in the order given (default: starting at\n"
          "                          a random one, as load spreading)\n"
          "  --timeout DURATION      give up after this long (default 5m)\n"
          "  --skew DURATION         clock skew allowed around validity times (default 5m)\n"
          "\n"
          "Directory from files (no network at all):\n"
          "  --consensus FILE        a consensus, microdesc or ns flavour (zlib-compressed is fine;\n"
          "                          ns: policies from its p lines, no ntor keys)\n"
          "  --microdescs FILE       the microdescriptors (microdesc flavour)\n"
          "  --certs FILE            authority key certificates (default: the cache's)\n"
          "  --descs FILE            server descriptors (full policies)\n"
          "  --at TIME               check times at TIME (\"2022-11-19 10:30:00\", ISO 8601 or\n"
          "                          @unixtime) and accept up to 24 h past valid-until; without it\n"
          "                          the consensus must be live now\n"
          "\n"
          "Selection and output:\n"
          "  --port PORT             the port (required)\n"
          "  --ipv6                  ask the IPv6 policy (p6) instead of the IPv4 one\n"
          "  --include-badexit       also list relays flagged BadExit\n"
          "  --json                  JSON Lines (schema exitprobe/exit/1), one relay per line\n"
          "  -h, --help              this help\n"
          "\n"
          "Progress and errors go to stderr. Exit status: 0 ok (also if no relay accepts the port),\n"
          "2 usage error, 3 no verified directory, 4 other failure.\n");
}

static bool want_arg(int argc, char **argv, int i) {
  if (i + 1 >= argc) {
    fprintf(stderr, "exitprobe exits: %s wants a value (try --help)\n", argv[i]);
    return false;
  }
  return true;
}

/* Options that take a file or directory name. */
typedef struct path_opt {
  const char *name;
  const char **dst;
} path_opt_t;

static const char **path_option(const char *a, const path_opt_t *t) {
  for (; t->name != NULL; t++) {
    if (strcmp(a, t->name) == 0) {
      return t->dst;
    }
  }
  return NULL;
}

static void addr_text(const ep_relay_t *r, char *out, size_t outcap) {
  uint32_t a = r->ipv4;
  snprintf(out, outcap, "%u.%u.%u.%u", (unsigned)(a >> 24), (unsigned)((a >> 16) & 0xff),
           (unsigned)((a >> 8) & 0xff), (unsigned)(a & 0xff));
}

static void ipv6_text(const ep_relay_t *r, char *out, size_t outcap) {
  char a[INET6_ADDRSTRLEN];
  if (!r->has_ipv6 || inet_ntop(AF_INET6, r->ipv6, a, sizeof a) == NULL) {
    out[0] = '\0';
    return;
  }
  snprintf(out, outcap, "[%s]:%u", a, (unsigned)r->ipv6_port);
}

static int put_json(ep_buf_t *b, const ep_netdir_t *nd, const ep_exit_candidate_t *c,
                    uint16_t port, const char *valid_after) {
  const ep_relay_t *r = c->relay;
  char fp[41], addr[16], v6[64], summary[256], flags[320];
  ep_hex_encode(fp, sizeof fp, r->rsa_id, 20, true);
  addr_text(r, addr, sizeof addr);
  ipv6_text(r, v6, sizeof v6);
  ep_netdir_flags_format(nd, r->flags, flags, sizeof flags);
  int rc = ep_buf_printf(b, NULL, "{\"schema\":\"exitprobe/exit/1\",\"port\":%u,\"fingerprint\":\"%s\","
                         "\"nickname\":",
                         (unsigned)port, fp);
  rc = rc != EP_OK ? rc : ep_json_put_str(b, r->nickname, strlen(r->nickname), NULL);
  rc = rc != EP_OK ? rc
                   : ep_buf_printf(b, NULL, ",\"address\":\"%s\",\"or_port\":%u,\"ipv6\":", addr,
                                   (unsigned)r->or_port);
  if (rc == EP_OK) {
    rc = v6[0] != '\0' ? ep_json_put_str(b, v6, strlen(v6), NULL) : ep_buf_append_str(b, "null", NULL);
  }
  rc = rc != EP_OK ? rc : ep_buf_append_str(b, ",\"ed25519\":", NULL);
  if (rc == EP_OK) {
    char ed[64];
    if (r->has_ed25519) {
      ep_base64_encode(ed, sizeof ed, r->ed25519_id, 32, EP_B64_NOPAD);
      rc = ep_json_put_str(b, ed, strlen(ed), NULL);
    } else {
      rc = ep_buf_append_str(b, "null", NULL);
    }
  }
  rc = rc != EP_OK ? rc : ep_buf_append_str(b, ",\"flags\":[", NULL);
  for (char *p = flags, *q; rc == EP_OK && *p != '\0'; p = *q != '\0' ? q + 1 : q) {
    q = strchr(p, ',');
    if (q == NULL) {
      q = p + strlen(p);
    }
    if (p != flags) {
      rc = ep_buf_append_str(b, ",", NULL);
    }
    rc = rc != EP_OK ? rc : ep_json_put_str(b, p, (size_t)(q - p), NULL);
  }
  const ep_policy_summary_t *s = r->policy;
  ep_policy_summary_format(s, summary, sizeof summary);
  rc = rc != EP_OK ? rc
                   : ep_buf_printf(b, NULL,
                                   "],\"policy_basis\":\"%s\",\"policy_verdict\":\"%s\","
                                   "\"policy_may_be_restricted\":%s,"
                                   "\"policy_some_may_be_rejected\":%s,\"policy_summary\":",
                                   c->answer.basis == EP_POLICY_BASIS_FULL ? "full" : "summary",
                                   ep_policy_verdict_name(c->answer.verdict),
                                   c->may_be_restricted ? "true" : "false",
                                   c->some_may_be_rejected ? "true" : "false");
  rc = rc != EP_OK ? rc : ep_json_put_str(b, summary, strlen(summary), NULL);
  rc = rc != EP_OK ? rc
                   : ep_buf_printf(b, NULL,
                                   ",\"has_ntor_key\":%s,\"badexit\":%s,\"consensus_valid_after\":"
                                   "\"%s\"}\n",
                                   r->has_ntor ? "true" : "false",
                                   (r->flags & EP_RS_BADEXIT) ? "true" : "false", valid_after);
  return rc;
}

static void print_text(const ep_netdir_t *nd, const ep_exit_candidate_t *v, size_t n) {
  printf("%-40s  %-19s  %-21s  %-50s  %s\n", "FINGERPRINT", "NICKNAME", "ADDRESS:ORPORT", "FLAGS",
         "POLICY");
  for (size_t i = 0; i < n; i++) {
    const ep_relay_t *r = v[i].relay;
    char fp[41], nick[96], addr[16], ap[32], flags[320], summary[256], basis[320];
    ep_hex_encode(fp, sizeof fp, r->rsa_id, 20, true);
    ep_escape_text(nick, sizeof nick, r->nickname, strlen(r->nickname));
    addr_text(r, addr, sizeof addr);
    snprintf(ap, sizeof ap, "%s:%u", addr, (unsigned)r->or_port);
    ep_netdir_flags_format(nd, r->flags, flags, sizeof flags);
    if (v[i].answer.basis == EP_POLICY_BASIS_FULL) {
      snprintf(basis, sizeof basis, "full policy%s%s",
               v[i].answer.verdict == EP_POLICY_ACCEPT_SOME ? ", only to some addresses" : "",
               v[i].answer.some_rejected ? ", some addresses rejected" : "");
    } else {
      ep_policy_summary_format(r->policy, summary, sizeof summary);
      snprintf(basis, sizeof basis, "summary \"%s\"", summary);
    }
    printf("%-40s  %-19s  %-21s  %-50s  %s\n", fp, nick, ap, flags, basis);
  }
  fflush(stdout);
}

int ep_cmd_exits(int argc, char **argv) {
  ep_dirclient_opts_t o;
  ep_dirclient_opts_default(&o);
  ep_dirclient_files_t files;
  memset(&files, 0, sizeof files);
  const char *authfile = NULL;
  bool json = false, ipv6 = false, include_badexit = false, port_given = false, via_or = false;
  long port = 0;
  const path_opt_t paths[] = {{"--dir-authorities", &authfile}, {"--cache-dir", &o.cache_dir},
                              {"--consensus", &files.consensus},  {"--microdescs", &files.microdescs},
                              {"--certs", &files.certs},          {"--descs", &files.descs},
                              {NULL, NULL}};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char **dst;
    int64_t ms;
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      exits_usage(stdout);
      return EP_EXIT_OK;
    } else if (strcmp(a, "--json") == 0) {
      json = true;
    } else if (strcmp(a, "--ipv6") == 0) {
      ipv6 = true;
    } else if (strcmp(a, "--include-badexit") == 0) {
      include_badexit = true;
    } else if (strcmp(a, "--no-cache") == 0) {
      o.no_cache = true;
    } else if (strcmp(a, "--dir-via") == 0) {
      if (!want_arg(argc, argv, i)) {
        return EP_EXIT_USAGE;
      }
      const char *v = argv[++i];
      if (strcmp(v, "dirport") != 0 && strcmp(v, "orport") != 0) {
        fprintf(stderr, "exitprobe exits: --dir-via wants dirport or orport\n");
        return EP_EXIT_USAGE;
      }
      via_or = strcmp(v, "orport") == 0;
    } else if (strcmp(a, "--in-order") == 0) {
      o.in_order = true;
    } else if (strcmp(a, "--full-policy") == 0) {
      o.full_policies = true;
    } else if (strcmp(a, "--port") == 0) {
      if (!want_arg(argc, argv, i)) {
        return EP_EXIT_USAGE;
      }
      char *end;
      port = strtol(argv[++i], &end, 10);
      if (*end != '\0' || port < 1 || port > 65535) {
        fprintf(stderr, "exitprobe exits: --port wants a number 1..65535\n");
        return EP_EXIT_USAGE;
      }
      port_given = true;
    } else if ((dst = path_option(a, paths)) != NULL) {
      if (!want_arg(argc, argv, i)) {
        return EP_EXIT_USAGE;
      }
      *dst = argv[++i];
    } else if (strcmp(a, "--at") == 0) {
      if (!want_arg(argc, argv, i)) {
        return EP_EXIT_USAGE;
      }
      if (ep_time_parse_any(argv[++i], &files.at) != 0) {
        fprintf(stderr,
                "exitprobe exits: --at wants \"YYYY-MM-DD HH:MM:SS\" (UTC), "
                "YYYY-MM-DDTHH:MM:SSZ or @unixtime\n");
        return EP_EXIT_USAGE;
      }
      files.has_at = true;
    } else if (strcmp(a, "--timeout") == 0 || strcmp(a, "--skew") == 0) {
      if (!want_arg(argc, argv, i)) {
        return EP_EXIT_USAGE;
      }
      if (ep_duration_parse(argv[++i], &ms) != 0 || ms < 0) {
        fprintf(stderr, "exitprobe exits: %s wants a duration (\"90s\", \"5m\")\n", a);
        return EP_EXIT_USAGE;
      }
      if (a[2] == 't') {
        o.timeout_ms = ms;
      } else {
        o.skew_s = ms / 1000;
      }
    } else {
      fprintf(stderr, "exitprobe exits: unknown option '%s' (try --help)\n", a);
      return EP_EXIT_USAGE;
    }
  }
  if (!port_given) {
    fprintf(stderr, "exitprobe exits: --port is required (try --help)\n");
    return EP_EXIT_USAGE;
  }
  bool offline = files.consensus != NULL;
  if (!offline && (files.microdescs != NULL || files.certs != NULL || files.descs != NULL ||
                   files.has_at)) {
    fprintf(stderr,
            "exitprobe exits: --microdescs, --certs, --descs and --at go with --consensus\n");
    return EP_EXIT_USAGE;
  }

  ep_err_t err = {0};
  ep_dir_authset_t *auths = NULL;
  if (authfile != NULL) {
    auths = ep_dir_authset_load(authfile, &err);
    if (auths == NULL) {
      fprintf(stderr, "exitprobe exits: %s\n", err.msg);
      return EP_EXIT_USAGE;
    }
    if (ep_dir_authset_n_v3(auths) == 0) {
      fprintf(stderr, "exitprobe exits: %s: no v3 DirAuthority lines\n", authfile);
      ep_dir_authset_free(auths);
      return EP_EXIT_USAGE;
    }
    o.auths = auths;
  }

  int status = EP_EXIT_OK;
  ep_loop_t *loop = NULL;
  ep_netdir_t *nd = NULL;
  ep_tls_ctx_t *tls = NULL;
  ep_dir_transport_t *via = NULL;
  ep_dirclient_stats_t st;
  memset(&st, 0, sizeof st);
  if (offline) {
    nd = ep_dirclient_load_files(&files, &o, &st, &err);
  } else {
    loop = ep_loop_new(&err);
    if (loop == NULL || ep_loop_catch_signals(loop, &err) != EP_OK) {
      fprintf(stderr, "exitprobe exits: %s\n", err.msg);
      ep_loop_free(loop);
      ep_dir_authset_free(auths);
      return EP_EXIT_FAILURE;
    }
    if (via_or) {
      tls = ep_tls_ctx_new_client(&err);
      via = tls != NULL ? ep_dir_transport_orport_new(tls) : NULL;
      if (via == NULL) {
        fprintf(stderr, "exitprobe exits: %s\n", tls == NULL ? err.msg : "out of memory");
        ep_tls_ctx_free(tls);
        ep_loop_free(loop);
        ep_dir_authset_free(auths);
        return EP_EXIT_FAILURE;
      }
      o.transport = via;
    }
    nd = ep_dirclient_fetch(loop, &o, &st, &err);
  }
  if (nd == NULL) {
    fprintf(stderr, "exitprobe exits: no verified directory: %s\n", err.msg);
    if (offline && err.code == EP_ERR_EXPIRED && !files.has_at) {
      fprintf(stderr, "exitprobe exits: (to look at an old consensus, give the time with --at)\n");
    }
    bool stopped = loop != NULL && ep_loop_stopping(loop);
    ep_dir_transport_orport_free(via);
    ep_tls_ctx_free(tls);
    ep_loop_free(loop);
    ep_dir_authset_free(auths);
    return stopped ? EP_EXIT_FAILURE : EP_EXIT_DIRECTORY;
  }

  const ep_consensus_t *c = ep_netdir_consensus(nd);
  char va[24];
  ep_time_format_iso(va, sizeof va, ep_consensus_valid_after(c));
  ep_exit_query_t q = {.port = (uint16_t)port, .family = ipv6 ? 6 : 4,
                       .include_badexit = include_badexit};
  ep_exit_candidate_t *v = NULL;
  size_t n = 0;
  ep_exit_stats_t xs;
  if (ep_netdir_exits(nd, &q, &v, &n, &xs, &err) != EP_OK) {
    fprintf(stderr, "exitprobe exits: %s\n", err.msg);
    status = EP_EXIT_FAILURE;
  } else {
    if (json) {
      ep_buf_t b;
      ep_buf_init(&b, 1u << 20, "json line", 0);
      for (size_t i = 0; i < n; i++) {
        b.len = 0;
        if (put_json(&b, nd, &v[i], (uint16_t)port, va) != EP_OK) {
          fprintf(stderr, "exitprobe exits: cannot format a JSON line\n");
          status = EP_EXIT_FAILURE;
          break;
        }
        fwrite(b.data, 1, b.len, stdout);
      }
      fflush(stdout);
      ep_buf_free(&b);
    } else {
      print_text(nd, v, n);
    }
    ep_notice("exits: %zu of %zu relays accept port %ld%s (%zu by policy summary, %zu by full "
              "policy); %zu BadExit left out; %zu not running/valid; %zu without a policy "
              "(no microdescriptor)",
              n, xs.n_relays, port, ipv6 ? " over IPv6" : "", xs.n_by_summary, xs.n_by_full,
              xs.n_badexit_left_out, xs.n_not_running, xs.n_no_policy);
    ep_notice("directory: %s consensus from %s, signed by %zu of %zu authorities; "
              "microdescriptors: %zu cached/given, %zu fetched, %zu missing; %zu requests "
              "(%zu failed); %lld ms in all, %lld ms parsing and verifying",
              ep_consensus_flavor_name(c), st.consensus_from, st.sigs_good, st.auths_known,
              st.md_from_cache, st.md_fetched, st.md_missing, st.n_requests, st.n_failed,
              (long long)st.ms_total, (long long)st.ms_verify);
    if (ep_netdir_flavor(nd) == EP_FLAVOR_NS) {
      ep_notice("an ns consensus carries no ntor keys: fine for listing, not for probing");
    }
  }
  if (ferror(stdout)) {
    status = EP_EXIT_FAILURE;
  }
  free(v);
  ep_netdir_free(nd);
  ep_dir_transport_orport_free(via);
  ep_tls_ctx_free(tls);
  ep_loop_free(loop);
  ep_dir_authset_free(auths);
  return status;
}
