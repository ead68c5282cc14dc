/* exitprobe exits — list the relays whose exit policy accepts a port, from a
 * verified directory (fetched, cached, or read from files). */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dir/authority.h"
#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/encode.h"
#include "lib/escape.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/timeutil.h"
#include "probe/cmd/cmd.h"
#include "probe/cmd/commands.h"
#include "probe/cmd/opts.h"
#include "probe/dirclient/dirclient.h"
#include "probe/dirclient/dirvia.h"
#include "probe/net/loop.h"
#include "probe/dirclient/netdir.h"
#include "probe/net/tls.h"

typedef struct exits_opts {
  ep_dirclient_opts_t dc;
  ep_dirclient_files_t files;
  ep_opt_list_t md_files, desc_files;  /* --microdescs, --descs (repeatable) */
  const char *tor_data_dir;
  ep_dirclient_datadir_t datadir;      /* its paths */
  const char *authfile;
  bool json, ipv6, include_badexit;
  unsigned dir_via;     /* 0 dirport, 1 orport */
  uint16_t port;        /* 0: not given */
  int64_t skew_ms;
} exits_opts_t;

static int parse_at(void *dst, const char *value, ep_err_t *err) {
  ep_dirclient_files_t *files = dst;
  (void)err;
  if (ep_time_parse_any(value, &files->at) != 0) {
    return EP_ERR_MALFORMED;
  }
  files->has_at = true;
  return EP_OK;
}

static const char *const dir_via_choices[] = {"dirport", "orport", NULL};

#define EXITS_FLAG(name_, member, help_) \
  {.name = name_, .kind = EP_OPT_FLAG, EP_OPT_AT(exits_opts_t, member), .help = help_}
#define EXITS_STRING(name_, member, help_) \
  {.name = name_, .kind = EP_OPT_STRING, EP_OPT_AT(exits_opts_t, member), .help = help_}

static const ep_opt_t exits_table[] = {
  EXITS_STRING("--dir-authorities", authfile,
               "  --dir-authorities FILE  torrc DirAuthority lines (default: $EXITPROBE_DIR_AUTHORITIES,\n"
               "                          else the public network's)\n"),
  EXITS_STRING("--cache-dir", dc.cache_dir,
               "  --cache-dir DIR         cache root (default $XDG_CACHE_HOME/exitprobe or\n"
               "                          ~/.cache/exitprobe; one subdirectory per network)\n"),
  EXITS_FLAG("--no-cache", dc.no_cache, "  --no-cache              neither read nor write the cache\n"),
  EXITS_FLAG("--full-policy", dc.full_policies,
             "  --full-policy           also fetch server descriptors and answer from full policies\n"),
  {.name = "--dir-via", .kind = EP_OPT_CHOICE, EP_OPT_AT(exits_opts_t, dir_via),
   .choices = dir_via_choices,
   .help = "  --dir-via dirport|orport  plain HTTP to the DirPorts (default), or BEGIN_DIR streams\n"
           "                          on one-hop circuits to the ORPorts\n"},
  EXITS_FLAG("--in-order", dc.in_order,
             "  --in-order              ask the authorities in the order given (default: starting at\n"
             "                          a random one, as load spreading)\n"),
  {.name = "--timeout", .kind = EP_OPT_DURATION, EP_OPT_AT(exits_opts_t, dc.timeout_ms),
   .help = "  --timeout DURATION      give up after this long (default 5m)\n"},
  {.name = "--skew", .kind = EP_OPT_DURATION, EP_OPT_AT(exits_opts_t, skew_ms),
   .help = "  --skew DURATION         clock skew allowed around validity times (default 5m)\n"},
  {.kind = EP_OPT_TEXT, .help = "\nDirectory from files (no network at all):\n"},
  EXITS_STRING("--consensus", files.consensus,
               "  --consensus FILE        a consensus, microdesc or ns flavour (zlib-compressed is fine;\n"
               "                          ns: policies from its p lines, no ntor keys)\n"),
  {.name = "--microdescs", .kind = EP_OPT_LIST, EP_OPT_AT(exits_opts_t, md_files),
   .max = EP_DIRCLIENT_MAX_FILES,
   .help = "  --microdescs FILE       the microdescriptors (microdesc flavour); may be repeated\n"},
  EXITS_STRING("--certs", files.certs,
               "  --certs FILE            authority key certificates (default: the cache's)\n"),
  {.name = "--descs", .kind = EP_OPT_LIST, EP_OPT_AT(exits_opts_t, desc_files),
   .max = EP_DIRCLIENT_MAX_FILES,
   .help = "  --descs FILE            server descriptors (full policies); may be repeated\n"},
  EXITS_STRING("--tor-data-dir", tor_data_dir,
               "  --tor-data-dir DIR      a tor DataDirectory's cached-microdesc-consensus (or\n"
               "                          cached-consensus), cached-certs, cached-microdescs(.new)\n"
               "                          and cached-descriptors(.new), instead of the four above\n"),
  {.name = "--at", .kind = EP_OPT_FUNC, EP_OPT_AT(exits_opts_t, files), .fn = parse_at,
   .want = "\"YYYY-MM-DD HH:MM:SS\" (UTC), YYYY-MM-DDTHH:MM:SSZ or @unixtime",
   .help = "  --at TIME               check times at TIME (\"2022-11-19 10:30:00\", ISO 8601 or\n"
           "                          @unixtime) and accept up to 24 h past valid-until; without it\n"
           "                          the consensus must be live now\n"},
  {.kind = EP_OPT_TEXT, .help = "\nSelection and output:\n"},
  {.name = "--port", .kind = EP_OPT_UINT, EP_OPT_AT(exits_opts_t, port), .min = 1, .max = 65535,
   .help = "  --port PORT             the port (required)\n"},
  EXITS_FLAG("--ipv6", ipv6, "  --ipv6                  ask the IPv6 policy (p6) instead of the IPv4 one\n"),
  EXITS_FLAG("--include-badexit", include_badexit,
             "  --include-badexit       also list relays flagged BadExit\n"),
  EXITS_FLAG("--json", json,
             "  --json                  JSON Lines (schema exitprobe/exit/1), one relay per line\n"),
  EP_OPT_OUTBOUND_ADDRESS("  --outbound-address A    connect from local address A (IPv4 and/or IPv6: once\n"
                          "                          per family), like tor's OutboundBindAddress\n"),
  {.name = "--help", .short_name = 'h', .kind = EP_OPT_HELP,
   .help = "  -h, --help              this help\n"},
};

static const ep_optspec_t exits_spec = {
  .cmd = "exits",
  .head = "Usage: exitprobe exits --port PORT [OPTIONS]\n"
          "\n"
          "Fetches and verifies the directory, then lists every running, valid relay whose exit\n"
          "policy accepts PORT - by its policy, not by the Exit flag: fingerprint, nickname,\n"
          "address:ORPort, flags, and what answered (the microdescriptor's policy summary, or the\n"
          "full policy of its server descriptor). A summary cannot show address-restricted rules:\n"
          "such answers are marked as possibly restricted.\n"
          "\n"
          "Directory from the network (verified: certificates, a majority of authority signatures,\n"
          "validity times, every microdescriptor against its digest):\n",
  .opts = exits_table,
  .n_opts = sizeof exits_table / sizeof exits_table[0],
  .tail = "\n"
          "Progress and errors go to stderr. Exit status: 0 ok (also if no relay accepts the port),\n"
          "2 usage error, 3 no verified directory, 4 other failure.\n",
};

static void addr_text(const ep_relay_t *r, char *out, size_t outcap) {
  char ip[EP_IPV4_STRLEN];
  snprintf(out, outcap, "%s", ep_ipv4_format(ip, r->ipv4));
}

static void ipv6_text(const ep_relay_t *r, char *out, size_t outcap) {
  if (!r->has_ipv6) {
    out[0] = '\0';
    return;
  }
  ep_ipaddr_t a;
  char text[EP_IPADDR_STRLEN];
  ep_ipaddr_set_ipv6(&a, r->ipv6);
  snprintf(out, outcap, "[%s]:%u", ep_ipaddr_format(text, sizeof text, &a), (unsigned)r->ipv6_port);
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

#define EXITS_RUN (-1) /* exits_parse: options fine, run */

/* Options into o; EXITS_RUN to run, else the exit status. */
/* --tor-data-dir: the files from a tor DataDirectory (alone: not with the
 * file options it replaces). */
static int exits_data_dir(exits_opts_t *o, bool some_file) {
  if (some_file || o->files.consensus != NULL) {
    fprintf(stderr, "exitprobe exits: --tor-data-dir replaces --consensus, --microdescs, --certs "
                    "and --descs\n");
    return EP_EXIT_USAGE;
  }
  ep_err_t err = {0};
  if (ep_dirclient_datadir_files(o->tor_data_dir, &o->datadir, &o->files, &err) != EP_OK) {
    fprintf(stderr, "exitprobe exits: %s\n", err.msg);
    return EP_EXIT_DIRECTORY;
  }
  return EXITS_RUN;
}

static int exits_parse(int argc, char **argv, exits_opts_t *o) {
  memset(o, 0, sizeof *o);
  ep_dirclient_opts_default(&o->dc);
  o->skew_ms = o->dc.skew_s * 1000;
  ep_opts_rc_t rc = ep_opts_parse(&exits_spec, o, argc, argv, NULL);
  if (rc != EP_OPTS_OK) {
    return ep_opts_exit_status(rc);
  }
  o->dc.skew_s = o->skew_ms / 1000;
  if (o->port == 0) {
    fprintf(stderr, "exitprobe exits: --port is required (try --help)\n");
    return EP_EXIT_USAGE;
  }
  ep_dirclient_files_t *f = &o->files;
  f->microdescs = o->md_files.v;
  f->n_microdescs = o->md_files.n;
  f->descs = o->desc_files.v;
  f->n_descs = o->desc_files.n;
  bool some_file = f->n_microdescs > 0 || f->certs != NULL || f->n_descs > 0;
  if (o->tor_data_dir != NULL) {
    return exits_data_dir(o, some_file);
  }
  if (f->consensus == NULL && (some_file || f->has_at)) {
    fprintf(stderr,
            "exitprobe exits: --microdescs, --certs, --descs and --at go with --consensus\n");
    return EP_EXIT_USAGE;
  }
  return EXITS_RUN;
}

/* What a run holds (freed by exits_env_free). */
typedef struct exits_env {
  ep_dir_authset_t *auths;
  ep_loop_t *loop;
  ep_tls_ctx_t *tls;
  ep_dir_transport_t *via;
  ep_netdir_t *nd;
  ep_dirclient_stats_t st;
} exits_env_t;

static void exits_env_free(exits_env_t *e) {
  ep_netdir_free(e->nd);
  ep_dir_transport_orport_free(e->via);
  ep_tls_ctx_free(e->tls);
  ep_loop_free(e->loop);
  ep_dir_authset_free(e->auths);
}

static int exits_load_auths(exits_opts_t *o, exits_env_t *e) {
  ep_err_t err = {0};
  e->auths = ep_dir_authset_load(o->authfile, &err);
  if (e->auths == NULL) {
    fprintf(stderr, "exitprobe exits: %s\n", err.msg);
    return EP_EXIT_DIRECTORY; /* as scan and circuit: no authorities, no verified directory */
  }
  if (ep_dir_authset_n_v3(e->auths) == 0) {
    fprintf(stderr, "exitprobe exits: %s: no v3 DirAuthority lines\n", o->authfile);
    return EP_EXIT_DIRECTORY;
  }
  o->dc.auths = e->auths;
  return EXITS_RUN;
}

/* The verified directory, from files or the network, into e->nd;
 * EXITS_RUN, or the exit status. */
static int exits_directory(exits_opts_t *o, exits_env_t *e) {
  ep_err_t err = {0};
  bool offline = o->files.consensus != NULL;
  if (offline) {
    e->nd = ep_dirclient_load_files(&o->files, &o->dc, &e->st, &err);
  } else {
    e->loop = ep_loop_new(&err);
    if (e->loop == NULL || ep_loop_catch_signals(e->loop, &err) != EP_OK) {
      fprintf(stderr, "exitprobe exits: %s\n", err.msg);
      return EP_EXIT_FAILURE;
    }
    if (o->dir_via == 1) {
      e->tls = ep_tls_ctx_new_client(&err);
      e->via = e->tls != NULL ? ep_dir_transport_orport_new(e->tls) : NULL;
      if (e->via == NULL) {
        fprintf(stderr, "exitprobe exits: %s\n", e->tls == NULL ? err.msg : "out of memory");
        return EP_EXIT_FAILURE;
      }
      o->dc.transport = e->via;
    }
    e->nd = ep_dirclient_fetch(e->loop, &o->dc, &e->st, &err);
  }
  if (e->nd == NULL) {
    fprintf(stderr, "exitprobe exits: no verified directory: %s\n", err.msg);
    if (offline && err.code == EP_ERR_EXPIRED && !o->files.has_at) {
      fprintf(stderr, "exitprobe exits: (to look at an old consensus, give the time with --at)\n");
    }
    bool stopped = e->loop != NULL && ep_loop_stopping(e->loop);
    return stopped ? EP_EXIT_FAILURE : EP_EXIT_DIRECTORY;
  }
  return EXITS_RUN;
}

static int print_json(const ep_netdir_t *nd, const ep_exit_candidate_t *v, size_t n,
                      uint16_t port, const char *valid_after) {
  int status = EP_EXIT_OK;
  ep_buf_t b;
  ep_buf_init(&b, 1u << 20, "json line", 0);
  for (size_t i = 0; i < n; i++) {
    b.len = 0;
    if (put_json(&b, nd, &v[i], port, valid_after) != EP_OK) {
      fprintf(stderr, "exitprobe exits: cannot format a JSON line\n");
      status = EP_EXIT_FAILURE;
      break;
    }
    fwrite(b.data, 1, b.len, stdout);
  }
  fflush(stdout);
  ep_buf_free(&b);
  return status;
}

static void exits_notices(const exits_opts_t *o, const exits_env_t *e, size_t n,
                          const ep_exit_stats_t *xs) {
  const ep_consensus_t *c = ep_netdir_consensus(e->nd);
  const ep_dirclient_stats_t *st = &e->st;
  ep_notice("exits: %zu of %zu relays accept port %ld%s (%zu by policy summary, %zu by full "
            "policy); %zu BadExit left out; %zu not running/valid; %zu without a policy "
            "(no microdescriptor)",
            n, xs->n_relays, (long)o->port, o->ipv6 ? " over IPv6" : "", xs->n_by_summary,
            xs->n_by_full, xs->n_badexit_left_out, xs->n_not_running, xs->n_no_policy);
  ep_notice("directory: %s consensus from %s, signed by %zu of %zu authorities; "
            "microdescriptors: %zu cached/given, %zu fetched, %zu missing; %zu requests "
            "(%zu failed); %lld ms in all, %lld ms parsing and verifying",
            ep_consensus_flavor_name(c), st->consensus_from, st->sigs_good, st->auths_known,
            st->md_from_cache, st->md_fetched, st->md_missing, st->n_requests, st->n_failed,
            (long long)st->ms_total, (long long)st->ms_verify);
  if (ep_netdir_flavor(e->nd) == EP_FLAVOR_NS) {
    ep_notice("an ns consensus carries no ntor keys: fine for listing, not for probing");
  }
}

/* The relays whose policy accepts the port, as text or JSON Lines. */
static int exits_list(const exits_opts_t *o, const exits_env_t *e) {
  char va[24];
  ep_time_format_iso(va, sizeof va, ep_consensus_valid_after(ep_netdir_consensus(e->nd)));
  ep_exit_query_t q = {.port = o->port, .family = o->ipv6 ? 6 : 4,
                       .include_badexit = o->include_badexit};
  ep_exit_candidate_t *v = NULL;
  size_t n = 0;
  ep_exit_stats_t xs;
  ep_err_t err = {0};
  int status = EP_EXIT_OK;
  if (ep_netdir_exits(e->nd, &q, &v, &n, &xs, &err) != EP_OK) {
    fprintf(stderr, "exitprobe exits: %s\n", err.msg);
    status = EP_EXIT_FAILURE;
  } else {
    if (o->json) {
      status = print_json(e->nd, v, n, o->port, va);
    } else {
      print_text(e->nd, v, n);
    }
    exits_notices(o, e, n, &xs);
  }
  if (ferror(stdout)) {
    status = EP_EXIT_FAILURE;
  }
  free(v);
  return status;
}

static void exits_opts_free(exits_opts_t *o) {
  ep_dirclient_datadir_free(&o->datadir);
  ep_opt_list_free(&o->md_files);
  ep_opt_list_free(&o->desc_files);
}

int ep_cmd_exits(int argc, char **argv) {
  exits_opts_t o;
  int status = exits_parse(argc, argv, &o);
  if (status != EXITS_RUN) {
    exits_opts_free(&o);
    return status;
  }
  exits_env_t e;
  memset(&e, 0, sizeof e);
  o.authfile = ep_dirclient_authorities_path(o.authfile);
  if (o.authfile != NULL) {
    status = exits_load_auths(&o, &e);
  }
  if (status == EXITS_RUN) {
    status = exits_directory(&o, &e);
  }
  if (status == EXITS_RUN) {
    status = exits_list(&o, &e);
  }
  exits_env_free(&e);
  exits_opts_free(&o);
  return status;
}
