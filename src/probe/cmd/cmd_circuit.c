/* exitprobe circuit — one 2-hop circuit, streams to ports, what came back;
 * --trace prints every cell in and out. For protocol debugging. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/caps.h"
#include "lib/escape.h"
#include "lib/log.h"
#include "lib/timeutil.h"
#include "probe/engine/classify.h"
#include "probe/cmd/cmd.h"
#include "probe/cmd/commands.h"
#include "probe/net/link.h"
#include "probe/net/loop.h"
#include "probe/net/relayspec.h"
#include "probe/net/tls.h"
#include "proto/cell.h"
#include "proto/relaymsg.h"

#define CIRC_MAX_STREAMS 17 /* 16 ports + BEGIN_DIR */

typedef struct circ_run circ_run_t;

typedef struct stream_state {
  circ_run_t *run;
  uint16_t port;            /* 0: BEGIN_DIR */
  uint16_t id;
  bool begun, done;
  int64_t begin_ms;
  ep_stream_outcome_t o;
  uint8_t data[EP_CAP_BANNER + 1];  /* one past the cap: the reader sees "capped" */
  ep_timer_id_t deadline;
} stream_state_t;

struct circ_run {
  ep_loop_t *loop;
  ep_link_t *link;
  ep_target_t first, exit;
  bool one_hop;
  const char *target;
  int64_t stream_timeout_ms;
  int64_t t0;
  uint32_t circ_id;
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

static void stream_done(stream_state_t *s) {
  circ_run_t *r = s->run;
  if (s->done) {
    return;
  }
  s->done = true;
  if (s->deadline != 0) {
    ep_loop_timer_cancel(r->loop, s->deadline);
    s->deadline = 0;
  }
  ep_classification_t c;
  s->o.data = s->data;
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
  bool all = true;
  for (size_t i = 0; i < r->n_streams; i++) {
    all = all && r->streams[i].done;
  }
  r->finished = all;
}

static void on_stream_deadline(ep_loop_t *loop, void *arg) {
  (void)loop;
  stream_state_t *s = arg;
  s->deadline = 0;
  s->o.deadline_hit = true;
  circ_run_t *r = s->run;
  ep_channel_t *ch = ep_link_channel(r->link);
  if (ch != NULL && s->begun) {
    ep_channel_stream_end(ch, r->circ_id, s->id, EP_END_DONE, NULL);
    ep_link_flush(r->link);
  }
  say(r, "deadline", "port %u: nothing more within %lld ms", s->port, (long long)r->stream_timeout_ms);
  stream_done(s);
}

static stream_state_t *find_stream(circ_run_t *r, uint16_t id) {
  for (size_t i = 0; i < r->n_streams; i++) {
    if (r->streams[i].begun && r->streams[i].id == id) {
      return &r->streams[i];
    }
  }
  return NULL;
}

static void fail_all(circ_run_t *r, bool first_hop, bool circuit) {
  for (size_t i = 0; i < r->n_streams; i++) {
    r->streams[i].o.first_hop_failed = first_hop;
    r->streams[i].o.circuit_failed = circuit;
    stream_done(&r->streams[i]);
  }
  r->finished = true;
}

static void begin_streams(circ_run_t *r) {
  ep_channel_t *ch = ep_link_channel(r->link);
  for (size_t i = 0; i < r->n_streams; i++) {
    stream_state_t *s = &r->streams[i];
    ep_err_t err = {0};
    int rc = s->port == 0 ? ep_channel_stream_begin_dir(ch, r->circ_id, &s->id, &err)
                          : ep_channel_stream_begin(ch, r->circ_id, r->target, s->port, 0, &s->id, &err);
    if (rc != EP_OK) {
      say(r, "error", "cannot begin a stream to port %u: %s", s->port, err.msg);
      s->o.protocol_error = true;
      stream_done(s);
      continue;
    }
    s->begun = true;
    s->begin_ms = ep_now_ms();
    s->deadline = ep_loop_timer_in(r->loop, r->stream_timeout_ms, on_stream_deadline, s);
    if (s->port == 0) {
      say(r, "begin", "BEGIN_DIR on stream %u", s->id);
    } else {
      say(r, "begin", "BEGIN %s:%u on stream %u", r->target, s->port, s->id);
    }
  }
  ep_link_flush(r->link);
}

static void on_event(void *arg, ep_link_t *link, const ep_event_t *ev) {
  circ_run_t *r = arg;
  ep_channel_t *ch = ep_link_channel(link);
  char fp[41], buf[96];
  ep_err_t err = {0};
  switch (ev->type) {
    case EP_EV_CHAN_OPEN: {
      const ep_channel_info_t *info = ep_channel_info(ch);
      ep_fingerprint_format(fp, info->proven.rsa_id);
      say(r, "link", "%s open in %lld ms (%s, link protocol %d, clock skew %lld s); identity verified: %s",
          ep_link_peer_name(link), (long long)ep_link_open_ms(link), ep_link_tls_version(link),
          info->linkproto, (long long)info->clock_skew, fp);
      r->circ_start_ms = ep_now_ms();
      if (ep_channel_circ_create(ch, EP_CREATE_NTOR, &r->circ_id, &err) != EP_OK) {
        say(r, "error", "CREATE2: %s", err.msg);
        fail_all(r, false, true);
        return;
      }
      ep_link_flush(link);
      break;
    }
    case EP_EV_CHAN_CLOSED:
      say(r, "closed", "link: %s (%s)", ev->msg, ep_status_name(ev->status));
      if (!r->finished) {
        fail_all(r, r->circ_id == 0, r->circ_id != 0);
        r->status = EP_EXIT_FAILURE;
      }
      r->link = NULL;
      break;
    case EP_EV_CIRC_OPEN:
      say(r, "circuit", "0x%08x: %u hop%s open after %lld ms", ev->circ_id, ev->hops,
          ev->hops == 1 ? "" : "s", (long long)(ep_now_ms() - r->circ_start_ms));
      if (ev->hops == 1 && !r->one_hop) {
        if (ep_channel_circ_extend(ch, r->circ_id, &r->exit, &err) != EP_OK) {
          say(r, "error", "EXTEND2: %s", err.msg);
          fail_all(r, false, true);
          return;
        }
        ep_fingerprint_format(fp, r->exit.rsa_id);
        say(r, "extend", "EXTEND2 to %s", fp);
        ep_link_flush(link);
      } else {
        begin_streams(r);
      }
      break;
    case EP_EV_CIRC_DESTROYED:
      say(r, "destroyed", "circuit 0x%08x after %u hop%s (%s%s): %s", ev->circ_id, ev->hops,
          ev->hops == 1 ? "" : "s", ev->remote ? (ev->truncated ? "TRUNCATED " : "DESTROY ") : "closed by us",
          ev->remote ? ep_destroy_reason_format(buf, sizeof buf, ev->reason) : "", ev->msg);
      fail_all(r, false, true);
      break;
    case EP_EV_STREAM_CONNECTED: {
      stream_state_t *s = find_stream(r, ev->stream_id);
      if (s == NULL) {
        break;
      }
      s->o.connected = true;
      s->o.connected_ms = ep_now_ms() - s->begin_ms;
      if (ev->has_addr) {
        char ab[64];
        say(r, "connected", "port %u after %lld ms (address %s, ttl %u)", s->port,
            (long long)s->o.connected_ms, ep_ipaddr_format(ab, sizeof ab, &ev->addr), ev->ttl);
      } else {
        say(r, "connected", "port %u after %lld ms", s->port, (long long)s->o.connected_ms);
      }
      if (s->port == 0 || !s->o.expect_greeting) {
        ep_channel_stream_end(ch, r->circ_id, s->id, EP_END_DONE, NULL);
        ep_link_flush(link);
        stream_done(s);
      }
      break;
    }
    case EP_EV_STREAM_DATA: {
      stream_state_t *s = find_stream(r, ev->stream_id);
      if (s == NULL || s->done) {
        break;
      }
      size_t room = sizeof s->data - s->o.data_len;
      size_t take = ev->len < room ? ev->len : room;
      memcpy(s->data + s->o.data_len, ev->data, take);
      s->o.data_len += take;
      ep_greeting_t g;
      if (ep_greeting_parse(s->data, s->o.data_len, false, &g) == 1) {
        ep_channel_stream_end(ch, r->circ_id, s->id, EP_END_DONE, NULL);
        ep_link_flush(link);
        stream_done(s);
      }
      break;
    }
    case EP_EV_STREAM_END: {
      stream_state_t *s = find_stream(r, ev->stream_id);
      if (s == NULL || s->done) {
        break;
      }
      s->o.ended = true;
      s->o.end_reason = ev->reason;
      s->o.end_ms = ep_now_ms() - s->begin_ms;
      char ab[64] = "";
      if (ev->has_addr) {
        snprintf(buf, sizeof buf, " (address %s, ttl %u)", ep_ipaddr_format(ab, sizeof ab, &ev->addr),
                 ev->ttl);
      } else {
        buf[0] = '\0';
      }
      char rb[24];
      say(r, "end", "port %u: END %s (%u)%s after %lld ms%s", s->port,
          ep_end_reason_upper(ev->reason, rb, sizeof rb), ev->reason, ev->end_empty ? " (empty body)" : "",
          (long long)s->o.end_ms, buf);
      stream_done(s);
      break;
    }
    default:
      break;
  }
}

static bool run_finished(void *arg) { return ((circ_run_t *)arg)->finished; }

static void circuit_usage(FILE *out) {
  fprintf(out,
          "Usage: exitprobe circuit --first-hop RELAY --exit RELAY [--port P[,P...]] [OPTIONS]\n"
          "\n"
          "Builds one circuit (CREATE2 ntor to the first hop, EXTEND2 to the exit), opens one\n"
          "stream per port to the target, and prints what came back: CONNECTED, the service's\n"
          "greeting, RELAY_END with its raw reason byte, DESTROY. For protocol debugging.\n"
          "\n"
          "A RELAY is IP:ORPORT~FINGERPRINT~NTOR_KEY[~ED25519_ID] (keys in base64, as in a\n"
          "microdescriptor). Its identity is always verified from its CERTS cell.\n"
          "\n"
          "  --first-hop RELAY   the first hop (the TLS link goes to it)\n"
          "  --exit RELAY        the exit (the circuit is extended to it)\n"
          "  --one-hop           no EXTEND2: streams go to the first hop itself\n"
          "  --port P[,P...]     ports to open streams to (default 25; none: only --begin-dir)\n"
          "  --target HOST       where the exit connects (default 127.0.0.1)\n"
          "  --begin-dir         also open a BEGIN_DIR stream on the same circuit\n"
          "  --timeout DURATION  per stream (default 10s) and per link stage\n"
          "  --trace             print every cell in and out, one line each\n"
          "  -h, --help          this help\n"
          "\n"
          "Exit status: 0 the circuit was built (whatever the streams got), 2 usage error,\n"
          "4 the link or circuit failed.\n");
}

int ep_cmd_circuit(int argc, char **argv) {
  circ_run_t *r = calloc(1, sizeof *r);
  if (r == NULL) {
    return EP_EXIT_FAILURE;
  }
  const char *first = NULL, *exitspec = NULL, *ports = "25";
  bool trace = false, begin_dir = false;
  int64_t timeout_ms = 10000;
  r->target = "127.0.0.1";
  int status = EP_EXIT_USAGE;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      circuit_usage(stdout);
      free(r);
      return EP_EXIT_OK;
    } else if (strcmp(a, "--trace") == 0) {
      trace = true;
    } else if (strcmp(a, "--one-hop") == 0) {
      r->one_hop = true;
    } else if (strcmp(a, "--begin-dir") == 0) {
      begin_dir = true;
    } else if (v != NULL && strcmp(a, "--first-hop") == 0) {
      first = v;
      i++;
    } else if (v != NULL && strcmp(a, "--exit") == 0) {
      exitspec = v;
      i++;
    } else if (v != NULL && strcmp(a, "--port") == 0) {
      ports = v;
      i++;
    } else if (v != NULL && strcmp(a, "--target") == 0) {
      r->target = v;
      i++;
    } else if (v != NULL && strcmp(a, "--timeout") == 0) {
      if (ep_duration_parse(v, &timeout_ms) != 0 || timeout_ms <= 0) {
        fprintf(stderr, "exitprobe circuit: bad --timeout '%s'\n", v);
        goto out;
      }
      i++;
    } else {
      fprintf(stderr, "exitprobe circuit: unknown or incomplete option '%s' (try --help)\n", a);
      goto out;
    }
  }
  ep_err_t err = {0};
  if (first == NULL || (exitspec == NULL && !r->one_hop)) {
    circuit_usage(stderr);
    goto out;
  }
  if (ep_relayspec_parse(first, &r->first, &err) != EP_OK ||
      (exitspec != NULL && ep_relayspec_parse(exitspec, &r->exit, &err) != EP_OK)) {
    fprintf(stderr, "exitprobe circuit: %s\n", err.msg);
    goto out;
  }
  if (strcmp(ports, "none") == 0) {
    ports = "";
  }
  for (const char *p = ports; *p != '\0';) {
    char *end;
    long port = strtol(p, &end, 10);
    if (end == p || port <= 0 || port > 65535 || (*end != ',' && *end != '\0') ||
        r->n_streams >= CIRC_MAX_STREAMS - 1) {
      fprintf(stderr, "exitprobe circuit: bad --port list '%s'\n", ports);
      goto out;
    }
    stream_state_t *s = &r->streams[r->n_streams++];
    s->run = r;
    s->port = (uint16_t)port;
    s->o.expect_greeting = ep_port_expects_greeting((uint16_t)port);
    p = *end == ',' ? end + 1 : end;
  }
  if (begin_dir || r->n_streams == 0) {
    stream_state_t *s = &r->streams[r->n_streams++];
    s->run = r;
    s->port = 0;
  }
  r->stream_timeout_ms = timeout_ms;
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
  ep_link_cfg_t cfg = {.connect_timeout_ms = timeout_ms, .handshake_timeout_ms = timeout_ms,
                       .trace = trace ? trace_cell : NULL, .trace_arg = r};
  r->link = ep_link_open(r->loop, tls, &r->first, &cfg, on_event, r, &err);
  if (r->link == NULL) {
    fprintf(stderr, "exitprobe circuit: %s\n", err.msg);
  } else {
    char fp[41];
    ep_fingerprint_format(fp, r->first.rsa_id);
    say(r, "connect", "to the first hop %s (%s)", ep_link_peer_name(r->link), fp);
    int64_t overall = ep_now_ms() + 4 * timeout_ms + 5000;
    int rc = ep_loop_run_until(r->loop, run_finished, r, overall, &err);
    if (rc == EP_LOOP_STOPPED) {
      fprintf(stderr, "exitprobe circuit: interrupted\n");
    } else if (rc == EP_LOOP_DEADLINE) {
      fprintf(stderr, "exitprobe circuit: gave up after %lld ms\n", (long long)(ep_now_ms() - r->t0));
    }
    bool built = false;
    for (size_t i = 0; i < r->n_streams; i++) {
      built = built || r->streams[i].begun;
    }
    status = (built && r->status == 0) ? EP_EXIT_OK : EP_EXIT_FAILURE;
    if (r->link != NULL) {
      ep_channel_t *ch = ep_link_channel(r->link);
      if (ch != NULL && r->circ_id != 0) {
        ep_channel_circ_destroy(ch, r->circ_id);
        ep_link_flush(r->link);
      }
      ep_link_close(r->link);
    }
    ep_loop_run_once(r->loop, 0, NULL); /* let deferred releases run */
  }
  ep_tls_ctx_free(tls);
  ep_loop_free(r->loop);
out:
  free(r);
  return status;
}
