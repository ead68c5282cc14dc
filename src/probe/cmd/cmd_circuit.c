/* exitprobe circuit — one 2-hop circuit, streams to ports, what came back;
 * --trace prints every cell in and out. For protocol debugging. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/caps.h"
#include "lib/escape.h"
#include "lib/log.h"
#include "lib/timeutil.h"
#include "probe/engine/classify.h"
#include "probe/engine/scan.h"
#include "probe/cmd/cmd.h"
#include "probe/cmd/commands.h"
#include "probe/cmd/opts.h"
#include "probe/cmd/scandir.h"
#include "probe/net/circ.h"
#include "probe/net/link.h"
#include "probe/net/loop.h"
#include "probe/net/relayspec.h"
#include "probe/net/tls.h"
#include "proto/cell.h"
#include "proto/relaymsg.h"

#define CIRC_MAX_STREAMS (EP_SCAN_MAX_PORTS + 2) /* the ports + BEGIN_DIR + RESOLVE */

typedef struct circ_run circ_run_t;

typedef struct stream_state {
  circ_run_t *run;
  uint16_t port;            /* 0: BEGIN_DIR (or RESOLVE) */
  const char *resolve;      /* RESOLVE this name instead of a stream */
  bool done;
  ep_stream_outcome_t o;
  ep_streamrec_t rec;       /* what the stream got; DATA lands in data[] */
  uint8_t data[EP_CAP_BANNER + 1];  /* one past the cap: the reader sees "capped" */
  ep_svc_t *svc;            /* the service check (#11); NULL: none */
  ep_svc_result_t svc_res;  /* what it found, once the stream is done */
} stream_state_t;

struct circ_run {
  ep_loop_t *loop;
  ep_carrier_t *car;
  ep_ncirc_t *circ;
  ep_target_t first, exit;
  bool one_hop;
  const char *target;
  int64_t stream_timeout_ms;
  int64_t t0;
  int64_t circ_start_ms;
  stream_state_t streams[CIRC_MAX_STREAMS];
  size_t n_streams;
  bool finished;
  int status;
};

static void say(circ_run_t *r, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(circ_run_t *r, const char *what, const char *fmt, ...) {
  va_list ap;
  printf("%9.3f ms  %-8s ", (double)(ep_now_ms() - r->t0), what);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
}

static void trace_cell(void *arg, const ep_cell_trace_t *t) {
  circ_run_t *r = arg;
  char extra[192] = "";
  char rb[64];
  if (t->relay) {
    char reason[96] = "";
    if (t->has_reason) {
      snprintf(reason, sizeof reason, " reason %s",
               t->relay_command == EP_RELAY_END ? ep_end_reason_format(rb, sizeof rb, t->reason)
                                                : ep_destroy_reason_format(rb, sizeof rb, t->reason));
    }
    const char *rc = ep_relay_command_name(t->relay_command);
    char rcbuf[24];
    if (rc == NULL) {
      snprintf(rcbuf, sizeof rcbuf, "relay-%u", t->relay_command);
      rc = rcbuf;
    }
    snprintf(extra, sizeof extra, " hop %u %s stream %u len %u%s", t->hop, rc, t->stream_id,
             t->relay_len, reason);
  } else if (t->has_reason) {
    snprintf(extra, sizeof extra, " reason %s", ep_destroy_reason_format(rb, sizeof rb, t->reason));
  }
  const char *cc = ep_cell_command_name(t->command);
  char ccbuf[24];
  if (cc == NULL) {
    snprintf(ccbuf, sizeof ccbuf, "command-%u", t->command);
    cc = ccbuf;
  }
  printf("%9.3f ms  trace    %s circ 0x%08x %-14s len %-3zu%s%s\n", (double)(ep_now_ms() - r->t0),
         t->outbound ? "out" : "in ", t->circ_id, cc, t->length, extra,
         t->dropped ? " (dropped)" : "");
}

/* What the service check said: the service, its answer, TLS, identity. */
static void say_service(circ_run_t *r, const stream_state_t *s) {
  const ep_svc_result_t *v = s->o.svc;
  static const char *const status[] = {"undecided", "answered", "not this protocol", "failed"};
  char esc[4 * EP_SVC_IDENTITY + 4];
  ep_escape_text(esc, sizeof esc, (const uint8_t *)v->answer, strlen(v->answer));
  say(r, "service", "port %u: %s %s%s, answer \"%s\"", s->port, ep_svc_name(s->o.service),
      v->status < 4 ? status[v->status] : "?", v->refused ? " (refused)" : "", esc);
  if (v->why[0] != '\0') {
    ep_escape_text(esc, sizeof esc, (const uint8_t *)v->why, strlen(v->why));
    say(r, "service", "port %u: why: %s", s->port, esc);
  }
  if (v->tls_done) {
    char subj[4 * EP_SVC_IDENTITY + 4];
    ep_escape_text(subj, sizeof subj, (const uint8_t *)v->cert_subject, strlen(v->cert_subject));
    ep_escape_text(esc, sizeof esc, (const uint8_t *)v->cert_issuer, strlen(v->cert_issuer));
    say(r, "tls", "port %u: %s, certificate sha256 %s, subject \"%s\", issuer \"%s\"", s->port,
        v->tls_version, v->cert_sha256, subj, esc);
  }
  if (v->id_kind != EP_SVC_ID_NONE) {
    ep_escape_text(esc, sizeof esc, (const uint8_t *)v->identity, strlen(v->identity));
    say(r, "identity", "port %u: %s %s", s->port, ep_svc_id_kind_name(v->id_kind), esc);
  }
}

/* The run is finished once every stream is done. */
static void check_finished(circ_run_t *r) {
  bool all = true;
  for (size_t i = 0; i < r->n_streams; i++) {
    all = all && r->streams[i].done;
  }
  r->finished = all;
}

/* --resolve: what RESOLVED said, answer by answer (each escaped). */
static void say_resolved(circ_run_t *r, stream_state_t *s, const ep_event_t *ev) {
  ep_resolved_t res;
  ep_err_t err = {0};
  char name[4 * EP_BEGIN_HOST_MAX + 4];
  ep_escape_text(name, sizeof name, s->resolve, strlen(s->resolve));
  if (ev == NULL || ep_resolved_parse(ev->data, ev->len, &res, &err) != EP_OK) {
    say(r, "resolved", "%s: %s", name, ev == NULL ? "no body" : err.msg);
    return;
  }
  say(r, "resolved", "%s after %lld ms: %zu answer%s%s", name, (long long)s->rec.end_ms,
      res.n + res.n_more, res.n + res.n_more == 1 ? "" : "s",
      res.error ? (res.error_transient ? " (error, transient)" : " (error, nontransient)") : "");
  for (size_t i = 0; i < res.n; i++) {
    char a[4 * EP_BEGIN_HOST_MAX + 64];
    say(r, "answer", "%zu: %s", i + 1, ep_resolved_answer_format(a, sizeof a, &res.a[i]));
  }
  if (res.n_more > 0) {
    say(r, "answer", "%zu more not kept", res.n_more);
  }
}

/* --resolve: RESOLVED, END or our deadline. */
static void resolve_event(circ_run_t *r, stream_state_t *s, ep_srec_what_t what,
                          const ep_event_t *ev) {
  char rb[24];
  switch (what) {
    case EP_SREC_RESOLVED:
      say_resolved(r, s, ev);
      break;
    case EP_SREC_END:
      say(r, "end", "RESOLVE: END %s (%u) after %lld ms", ep_end_reason_upper(s->rec.end_reason, rb, sizeof rb),
          s->rec.end_reason, (long long)s->rec.end_ms);
      break;
    case EP_SREC_DEADLINE:
      say(r, "deadline", "RESOLVE: no answer within %lld ms", (long long)r->stream_timeout_ms);
      break;
    default:
      return;
  }
  s->done = true;
  check_finished(r);
}

static void stream_done(stream_state_t *s) {
  circ_run_t *r = s->run;
  if (s->done) {
    return;
  }
  s->done = true;
  if (s->resolve != NULL) {
    say(r, "result", "RESOLVE: no answer (the circuit is gone)");
    check_finished(r);
    return;
  }
  ep_scan_outcome_from_rec(&s->rec, &s->o);
  if (s->svc != NULL) {
    s->svc_res = *ep_svc_result(s->svc);
    ep_svc_free(s->svc);
    s->svc = NULL;
    s->o.svc = &s->svc_res;
    say_service(r, s);
  }
  ep_classification_t c;
  ep_classify(&s->o, &c);
  if (s->o.data_len > 0) {
    char esc[4 * EP_CAP_BANNER + 4];
    ep_escape_text(esc, sizeof esc, s->data, s->o.data_len);
    say(r, "banner", "port %u: \"%s\"", s->port, esc);
  }
  if (s->port == 0) {
    say(r, "result", "BEGIN_DIR: %s", s->o.connected ? "connected (the exit serves directory requests)" : c.why);
  } else {
    say(r, "result", "port %u: class %s (%s)", s->port, ep_class_name(c.cls), c.why);
  }
  check_finished(r);
}

static void fail_all(circ_run_t *r, bool first_hop, bool circuit) {
  for (size_t i = 0; i < r->n_streams; i++) {
    r->streams[i].o.first_hop_failed = first_hop;
    r->streams[i].o.circuit_failed = circuit;
    stream_done(&r->streams[i]);
  }
  r->finished = true;
}

static void begin_streams(circ_run_t *r, ep_ncirc_t *c) {
  for (size_t i = 0; i < r->n_streams; i++) {
    stream_state_t *s = &r->streams[i];
    ep_err_t err = {0};
    ep_streamrec_init(&s->rec, s->data, sizeof s->data);
    if (s->resolve != NULL) {
      char name[4 * EP_BEGIN_HOST_MAX + 4];
      ep_escape_text(name, sizeof name, s->resolve, strlen(s->resolve));
      if (ep_ncirc_resolve(c, &s->rec, s->resolve, r->stream_timeout_ms, &err) != EP_OK) {
        say(r, "error", "cannot RESOLVE %s: %s", name, err.msg);
        s->done = true;
        check_finished(r);
      } else {
        say(r, "resolve", "RESOLVE %s on stream %u", name, s->rec.id);
      }
      continue;
    }
    if (ep_ncirc_begin(c, &s->rec, s->port == 0 ? NULL : r->target, s->port, r->stream_timeout_ms,
                       &err) != EP_OK) {
      say(r, "error", "cannot begin a stream to port %u: %s", s->port, err.msg);
      s->o.protocol_error = true;
      stream_done(s);
      continue;
    }
    if (s->port == 0) {
      say(r, "begin", "BEGIN_DIR on stream %u", s->rec.id);
      continue;
    }
    say(r, "begin", "BEGIN %s:%u on stream %u (service %s)", r->target, s->port, s->rec.id,
        ep_svc_name(s->o.service));
    s->svc = ep_svc_new(s->o.service, r->target, &err);
    if (s->svc == NULL) {
      say(r, "error", "port %u: no %s check: %s", s->port, ep_svc_name(s->o.service), err.msg);
    }
  }
}

static void on_link_open(void *arg, ep_carrier_t *car) {
  circ_run_t *r = arg;
  ep_link_t *link = ep_carrier_link(car);
  const ep_channel_info_t *info = ep_channel_info(ep_link_channel(link));
  char fp[41];
  ep_fingerprint_format(fp, info->proven.rsa_id);
  say(r, "link", "%s open in %lld ms (%s, link protocol %d, clock skew %lld s); identity verified: %s",
      ep_link_peer_name(link), (long long)ep_link_open_ms(link), ep_link_tls_version(link),
      info->linkproto, (long long)info->clock_skew, fp);
  r->circ_start_ms = ep_now_ms();
}

static void on_link_closed(void *arg, ep_carrier_t *car, const ep_event_t *ev) {
  (void)car;
  circ_run_t *r = arg;
  say(r, "closed", "link: %s (%s)", ev->msg, ep_status_name(ev->status));
  if (!r->finished) {
    bool created = r->circ != NULL && ep_ncirc_id(r->circ) != 0;
    fail_all(r, !created, created);
    r->status = EP_EXIT_FAILURE;
  }
}

static void say_hop(circ_run_t *r, ep_ncirc_t *c, unsigned hops) {
  say(r, "circuit", "0x%08x: %u hop%s open after %lld ms", ep_ncirc_id(c), hops, hops == 1 ? "" : "s",
      (long long)(ep_now_ms() - r->circ_start_ms));
}

static void on_hop(void *arg, ep_ncirc_t *c, unsigned hops) {
  circ_run_t *r = arg;
  char fp[41];
  say_hop(r, c, hops);
  ep_fingerprint_format(fp, r->exit.rsa_id);
  say(r, "extend", "EXTEND2 to %s", fp);
}

static void on_opened(void *arg, ep_ncirc_t *c) {
  circ_run_t *r = arg;
  say_hop(r, c, r->one_hop ? 1 : 2);
  begin_streams(r, c);
}

static void on_failed(void *arg, ep_ncirc_t *c, const ep_ncirc_failure_t *f) {
  circ_run_t *r = arg;
  const ep_event_t *ev = f->ev;
  char buf[96];
  if (f->why == EP_NCIRC_LINK) {
    return; /* on_link_closed said it */
  }
  if (ev != NULL) {
    say(r, "destroyed", "circuit 0x%08x after %u hop%s (%s%s): %s", ep_ncirc_id(c), ev->hops,
        ev->hops == 1 ? "" : "s", ev->remote ? (ev->truncated ? "TRUNCATED " : "DESTROY ") : "closed by us",
        ev->remote ? ep_destroy_reason_format(buf, sizeof buf, ev->reason) : "", ev->msg);
  } else {
    say(r, "error", "%s: %s", f->hop <= 1 ? "CREATE2" : "EXTEND2", f->msg);
  }
  fail_all(r, false, true);
}

/* The service check's turn: every byte in, what it has to say out.
 * Returns true when it has decided (or, without a check, when the stream
 * has its answer as before). */
static bool svc_step(stream_state_t *s, ep_ncirc_t *c, ep_srec_what_t what, const ep_event_t *ev) {
  if (s->svc == NULL) {
    return ep_scan_stream_answered(&s->rec, s->o.expect_greeting);
  }
  ep_err_t err = {0};
  if (what == EP_SREC_DATA && ev != NULL &&
      ep_svc_input(s->svc, ev->data, ev->len, false) != EP_SVC_NEED_MORE) {
    return true;
  }
  if (ep_scan_svc_send(c, &s->rec, s->svc, &err) != EP_OK) {
    say(s->run, "error", "port %u: cannot send: %s", s->port, err.msg);
  }
  /* Service "tcp": CONNECTED is its answer here. */
  return s->o.service.proto == EP_SVC_TCP && !s->o.service.tls && s->rec.connected;
}

static void on_stream(void *arg, ep_ncirc_t *c, ep_streamrec_t *rec, ep_srec_what_t what,
                      const ep_event_t *ev) {
  (void)arg;
  stream_state_t *s = (stream_state_t *)((char *)rec - offsetof(stream_state_t, rec));
  circ_run_t *r = s->run;
  char ab[64], buf[96], rb[24];
  if (s->resolve != NULL) {
    resolve_event(r, s, what, ev);
    return;
  }
  switch (what) {
    case EP_SREC_CONNECTED:
      if (rec->conn_has_addr) {
        say(r, "connected", "port %u after %lld ms (address %s, ttl %u)", s->port,
            (long long)rec->connected_ms, ep_ipaddr_format(ab, sizeof ab, &rec->conn_addr), rec->conn_ttl);
      } else {
        say(r, "connected", "port %u after %lld ms", s->port, (long long)rec->connected_ms);
      }
      break;
    case EP_SREC_END:
      buf[0] = '\0';
      if (rec->end_has_addr) {
        snprintf(buf, sizeof buf, " (address %s, ttl %u)", ep_ipaddr_format(ab, sizeof ab, &rec->end_addr),
                 rec->end_ttl);
      }
      say(r, "end", "port %u: END %s (%u)%s after %lld ms%s", s->port,
          ep_end_reason_upper(rec->end_reason, rb, sizeof rb), rec->end_reason,
          rec->end_empty ? " (empty body)" : "", (long long)rec->end_ms, buf);
      if (s->svc != NULL) {
        ep_svc_input(s->svc, NULL, 0, true);
      }
      stream_done(s);
      return;
    case EP_SREC_DEADLINE:
      say(r, "deadline", "port %u: nothing more within %lld ms", s->port, (long long)r->stream_timeout_ms);
      stream_done(s);
      return;
    default:
      break;
  }
  if (s->port == 0 ? ep_scan_stream_answered(rec, false) : svc_step(s, c, what, ev)) {
    ep_ncirc_end(c, rec, EP_END_DONE);
    stream_done(s);
  }
}

static bool run_finished(void *arg) { return ((circ_run_t *)arg)->finished; }

typedef struct circuit_opts {
  const char *first, *exit, *target, *resolve;
  ep_opt_ports_t ports;
  ep_opt_services_t services;
  bool one_hop, begin_dir, trace;
  int64_t timeout_ms;
  ep_scandir_opts_t dir;     /* looking relays up by fingerprint or nickname */
  unsigned dir_via;          /* 0 dirport, 1 orport */
} circuit_opts_t;

#define CIRCUIT_STRING(name_, member, help_) \
  {.name = name_, .kind = EP_OPT_STRING, EP_OPT_AT(circuit_opts_t, member), .help = help_}
#define CIRCUIT_FLAG(name_, member, help_) \
  {.name = name_, .kind = EP_OPT_FLAG, EP_OPT_AT(circuit_opts_t, member), .help = help_}

static const ep_opt_t circuit_table[] = {
  CIRCUIT_STRING("--exit", exit, "  --exit RELAY        the exit (the circuit is extended to it)\n"),
  CIRCUIT_STRING("--first-hop", first,
                 "  --first-hop RELAY   the first hop (the TLS link goes to it); default: one\n"
                 "                      picked from the directory as a scan does\n"),
  CIRCUIT_FLAG("--one-hop", one_hop, "  --one-hop           no EXTEND2: streams go to the first hop itself\n"),
  {.name = "--port", .kind = EP_OPT_PORTS, EP_OPT_AT(circuit_opts_t, ports),
   .max = CIRC_MAX_STREAMS - 1, .flags = EP_OPTF_NONE | EP_OPTF_NAMES,
   .help = "  --port P[,P...]     ports or service names (smtp, https, ...; common: the 15 ports\n"
           "                      people use most) to open streams to (default 25; none: only\n"
           "                      --begin-dir); each gets its service check\n"},
  {.name = "--service", .kind = EP_OPT_SERVICE, EP_OPT_AT(circuit_opts_t, services),
   .max = CIRC_MAX_STREAMS - 1,
   .help = "  --service PORT=SVC  check PORT as service SVC (e.g. 8443=https; repeatable)\n"},
  CIRCUIT_STRING("--target", target, "  --target HOST       where the exit connects (default 127.0.0.1)\n"),
  CIRCUIT_STRING("--resolve", resolve,
                 "  --resolve NAME      RELAY_RESOLVE NAME at the exit and print each answer\n"
                 "                      (address, TTL, error); without --port no stream is opened\n"),
  CIRCUIT_FLAG("--begin-dir", begin_dir,
               "  --begin-dir         also open a BEGIN_DIR stream on the same circuit\n"),
  {.name = "--timeout", .kind = EP_OPT_DURATION, EP_OPT_AT(circuit_opts_t, timeout_ms), .min = 1,
   .help = "  --timeout DURATION  per stream (default 10s) and per link stage\n"},
  CIRCUIT_FLAG("--trace", trace, "  --trace             print every cell in and out, one line each\n"),
  {.kind = EP_OPT_TEXT, .help = "Directory (for relays given by fingerprint or nickname):\n"},
  CIRCUIT_STRING("--dir-authorities", dir.dir_authorities,
                 "  --dir-authorities FILE\n"
                 "                      torrc DirAuthority lines (test networks); default:\n"
                 "                      $EXITPROBE_DIR_AUTHORITIES, else the public network's\n"
                 "                      authorities, built in\n"),
  {.name = "--dir-via", .kind = EP_OPT_CHOICE, EP_OPT_AT(circuit_opts_t, dir_via),
   .choices = ep_scandir_dir_via_choices,
   .help = "  --dir-via dirport|orport\n"
           "                      plain HTTP to the authorities' DirPorts (default), or\n"
           "                      BEGIN_DIR over a one-hop circuit to their ORPorts\n"},
  CIRCUIT_STRING("--cache-dir", dir.cache_dir,
                 "  --cache-dir DIR     directory cache (default $XDG_CACHE_HOME/exitprobe)\n"),
  CIRCUIT_FLAG("--no-cache", dir.no_cache, "  --no-cache          neither read nor write the cache\n"),
  CIRCUIT_STRING("--tor-data-dir", dir.tor_data_dir,
                 "  --tor-data-dir DIR  read the directory from a local tor's DataDirectory\n"
                 "                      (verified as if fetched) instead of asking the authorities\n"),
  EP_OPT_OUTBOUND_ADDRESS("  --outbound-address A  connect from local address A (once per family)\n"),
  {.name = "--help", .short_name = 'h', .kind = EP_OPT_HELP, .help = "  -h, --help          this help\n"},
};

static const ep_optspec_t circuit_spec = {
  .cmd = "circuit",
  .head = "Usage: exitprobe circuit --exit RELAY [--first-hop RELAY] [--port P[,P...]] [OPTIONS]\n"
          "\n"
          "Builds one circuit (CREATE2 ntor to the first hop, EXTEND2 to the exit), opens one\n"
          "stream per port to the target, and prints what came back: CONNECTED, the service's\n"
          "greeting, RELAY_END with its raw reason byte, DESTROY. For protocol debugging.\n"
          "With --resolve NAME it asks the exit's resolver instead (RELAY_RESOLVE) and prints\n"
          "each answer of its RELAY_RESOLVED.\n"
          "\n"
          "A RELAY is a fingerprint or a nickname, looked up in the verified directory (as\n"
          "scan does; a nickname must name one relay), or IP:ORPORT~FINGERPRINT~NTOR_KEY\n"
          "[~ED25519_ID] (keys in base64, as in a microdescriptor: no directory needed).\n"
          "Its identity is always verified from its CERTS cell.\n"
          "\n",
  .opts = circuit_table,
  .n_opts = sizeof circuit_table / sizeof circuit_table[0],
  .tail = "\n"
          "Exit status: 0 the circuit was built (whatever the streams got), 2 usage error,\n"
          "3 no verified directory or a relay not found in it, 4 the link or circuit failed.\n",
};

#define CIRCUIT_RUN (-1) /* circuit_parse: options fine, run */

/* Whether the command line names --port (so --resolve keeps its ports). */
static bool port_given(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) {
      break;
    }
    if (strcmp(argv[i], "--port") == 0 || strncmp(argv[i], "--port=", 7) == 0) {
      return true;
    }
  }
  return false;
}

/* Options into o and r (relays, streams); CIRCUIT_RUN, or the exit status. */
static int circuit_parse(int argc, char **argv, circ_run_t *r, circuit_opts_t *o) {
  *o = (circuit_opts_t){.target = "127.0.0.1", .ports = {.v = {25}, .n = 1}, .timeout_ms = 10000};
  ep_opts_rc_t orc = ep_opts_parse(&circuit_spec, o, argc, argv, NULL);
  if (orc != EP_OPTS_OK) {
    return ep_opts_exit_status(orc);
  }
  if (o->resolve != NULL) {
    size_t n = strlen(o->resolve);
    if (n == 0 || n > EP_BEGIN_HOST_MAX) {
      fprintf(stderr, "exitprobe circuit: --resolve: a name of 1 to %u bytes\n", EP_BEGIN_HOST_MAX);
      return EP_EXIT_USAGE;
    }
    if (!port_given(argc, argv)) {
      o->ports.n = 0;   /* only the RESOLVE */
    }
  }
  if (o->one_hop ? o->first == NULL : o->exit == NULL) {
    ep_opts_usage(&circuit_spec, stderr);
    return EP_EXIT_USAGE;
  }
  o->dir.dir_via_orport = o->dir_via == 1;
  o->dir.summary_only = true;   /* lookups need no server descriptors */
  r->one_hop = o->one_hop;
  r->target = o->target;
  r->stream_timeout_ms = o->timeout_ms;
  for (size_t i = 0; i < o->ports.n; i++) {
    stream_state_t *s = &r->streams[r->n_streams++];
    s->run = r;
    s->port = o->ports.v[i];
    s->o.service = ep_svc_for_port(s->port);
    for (size_t k = 0; k < o->services.n; k++) {
      if (o->services.port[k] == s->port) {
        s->o.service = o->services.spec[k];
      }
    }
    s->o.expect_greeting = ep_svc_server_first(s->o.service);
  }
  if (o->resolve != NULL) {
    stream_state_t *s = &r->streams[r->n_streams++];
    s->run = r;
    s->resolve = o->resolve;
  }
  if (o->begin_dir || r->n_streams == 0) {
    stream_state_t *s = &r->streams[r->n_streams++];
    s->run = r;
    s->port = 0;
  }
  return CIRCUIT_RUN;
}

/* One relay: an explicit spec (then also found in nd by its identity, if
 * there), or a fingerprint or nickname looked up in nd. */
static int resolve_one(const ep_netdir_t *nd, const char *name, ep_target_t *t,
                       const ep_relay_t **rel, ep_err_t *err) {
  *rel = NULL;
  if (ep_relayspec_is_explicit(name)) {
    if (ep_relayspec_parse(name, t, err) != EP_OK) {
      return EP_EXIT_USAGE;
    }
    *rel = nd != NULL ? ep_netdir_find_id(nd, t->rsa_id) : NULL;
    return CIRCUIT_RUN;
  }
  *rel = ep_scandir_lookup(nd, name, err);
  return *rel != NULL && ep_netdir_target(nd, *rel, t, err) == EP_OK ? CIRCUIT_RUN
                                                                      : EP_EXIT_DIRECTORY;
}

static void say_relay(circ_run_t *r, const char *role, const ep_relay_t *rel, bool picked) {
  char fp[41];
  ep_fingerprint_format(fp, rel->rsa_id);
  say(r, "relay", "%s %s (%s)%s", role, rel->nickname, fp, picked ? ", picked from the directory" : "");
}

/* r->first and r->exit from the options, through the verified directory
 * when a relay is named or the first hop is to be picked; CIRCUIT_RUN or
 * the exit status. */
static int resolve_relays(circ_run_t *r, circuit_opts_t *o, ep_err_t *err) {
  ep_netdir_t *nd = NULL;
  bool need_dir = o->first == NULL || !ep_relayspec_is_explicit(o->first) ||
                  (o->exit != NULL && !ep_relayspec_is_explicit(o->exit));
  if (need_dir && (nd = ep_scandir_fetch(r->loop, &o->dir, err)) == NULL) {
    return ep_loop_stopping(r->loop) ? 130 : EP_EXIT_DIRECTORY;
  }
  const ep_relay_t *exit = NULL, *first = NULL;
  int st = o->exit != NULL ? resolve_one(nd, o->exit, &r->exit, &exit, err) : CIRCUIT_RUN;
  if (st == CIRCUIT_RUN && o->first != NULL) {
    st = resolve_one(nd, o->first, &r->first, &first, err);
  } else if (st == CIRCUIT_RUN) {
    first = ep_scandir_pick_first_hop(nd, exit, err);
    st = first != NULL && ep_netdir_target(nd, first, &r->first, err) == EP_OK ? CIRCUIT_RUN
                                                                                : EP_EXIT_DIRECTORY;
  }
  if (st == CIRCUIT_RUN && exit != NULL) {
    say_relay(r, "exit", exit, false);
  }
  if (st == CIRCUIT_RUN && first != NULL) {
    say_relay(r, "first-hop", first, o->first == NULL);
  }
  ep_netdir_free(nd);
  return st;
}

/* Run the loop until every stream is done (or the overall deadline); the
 * exit status. */
static int run_to_end(circ_run_t *r, int64_t timeout_ms) {
  ep_err_t err = {0};
  int64_t overall = ep_now_ms() + 4 * timeout_ms + 5000;
  int rc = ep_loop_run_until(r->loop, run_finished, r, overall, &err);
  if (rc == EP_LOOP_STOPPED) {
    fprintf(stderr, "exitprobe circuit: interrupted\n");
  } else if (rc == EP_LOOP_DEADLINE) {
    fprintf(stderr, "exitprobe circuit: gave up after %lld ms\n", (long long)(ep_now_ms() - r->t0));
  }
  bool built = false;
  for (size_t i = 0; i < r->n_streams; i++) {
    built = built || r->streams[i].rec.state != EP_SREC_IDLE;
  }
  return (built && r->status == 0) ? EP_EXIT_OK : EP_EXIT_FAILURE;
}

int ep_cmd_circuit(int argc, char **argv) {
  circ_run_t *r = calloc(1, sizeof *r);
  if (r == NULL) {
    return EP_EXIT_FAILURE;
  }
  circuit_opts_t opts;
  int status = circuit_parse(argc, argv, r, &opts);
  if (status != CIRCUIT_RUN) {
    free(r);
    return status;
  }
  int64_t timeout_ms = opts.timeout_ms;
  ep_err_t err = {0};
  status = EP_EXIT_FAILURE;
  r->loop = ep_loop_new(&err);
  ep_tls_ctx_t *tls = r->loop != NULL ? ep_tls_ctx_new_client(&err) : NULL;
  if (tls == NULL) {
    fprintf(stderr, "exitprobe circuit: %s\n", err.msg);
    ep_loop_free(r->loop);
    goto out;
  }
  ep_loop_catch_signals(r->loop, NULL);
  r->t0 = ep_now_ms();
  opts.dir.tls = tls;
  status = resolve_relays(r, &opts, &err);
  if (status != CIRCUIT_RUN) {
    fprintf(stderr, "exitprobe circuit: %s\n", err.msg);
    ep_tls_ctx_free(tls);
    ep_loop_free(r->loop);
    goto out;
  }
  status = EP_EXIT_FAILURE;
  ep_link_cfg_t cfg = {.connect_timeout_ms = timeout_ms, .handshake_timeout_ms = timeout_ms,
                       .trace = opts.trace ? trace_cell : NULL, .trace_arg = r};
  static const ep_carrier_cbs_t lcbs = {.open = on_link_open, .closed = on_link_closed};
  static const ep_ncirc_cbs_t ccbs = {.hop = on_hop, .opened = on_opened, .failed = on_failed,
                                      .stream = on_stream};
  r->car = ep_carrier_open(r->loop, tls, &r->first, &cfg, &lcbs, r, &err);
  r->circ = r->car != NULL ? ep_ncirc_new(r->car, &r->exit, r->one_hop ? 0 : 1, NULL, &ccbs, r, &err)
                           : NULL;
  if (r->circ == NULL) {
    fprintf(stderr, "exitprobe circuit: %s\n", err.msg);
  } else {
    char fp[41];
    ep_fingerprint_format(fp, r->first.rsa_id);
    say(r, "connect", "to the first hop %s (%s)", ep_link_peer_name(ep_carrier_link(r->car)), fp);
    status = run_to_end(r, timeout_ms);
  }
  for (size_t i = 0; i < r->n_streams; i++) {
    ep_svc_free(r->streams[i].svc); /* undecided when the run ended */
  }
  ep_ncirc_free(r->circ);
  ep_carrier_free(r->car);
  ep_loop_run_once(r->loop, 0, NULL); /* let deferred releases run */
  ep_tls_ctx_free(tls);
  ep_loop_free(r->loop);
out:
  free(r);
  return status;
}
