/* exitprobe — the scan engine (see scan.h). One loop, no threads.
 *
 * Objects: a hop is a first-hop relay with at most one carrier (its link and
 * circuits, probe/net/circ.h); an attempt is one circuit (through one hop, to
 * the exit) carrying probe and control streams; a job is one exit: its main
 * attempt, and a retry attempt, through another first hop and in parallel
 * with the main one, for the ports that failed or are still unanswered after
 * the retry delay. Each state changes in one function (set_*_state). */
#include "config.h"

#include "probe/engine/scan.h"
#include "probe/engine/dnscheck.h"

#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/caps.h"
#include "lib/crypto.h"
#include "lib/log.h"
#include "lib/timeutil.h"
#include "probe/engine/smtp.h"
#include "probe/engine/verdict.h"
#include "probe/net/circ.h"
#include "probe/net/linkpool.h"
#include "proto/relaymsg.h"

#define MAX_HOP_TRIES 8

typedef struct scan scan_t;
typedef struct job job_t;
typedef struct attempt attempt_t;

typedef enum hop_state { HOP_IDLE = 0, HOP_CONNECTING, HOP_OPEN, HOP_DEAD } hop_state_t;

typedef struct hop {
  scan_t *s;
  const ep_scan_relay_t *relay;
  ep_carrier_t *car;         /* its link and the circuits on it */
  hop_state_t state;
  uint64_t weight;           /* bandwidth, halved per recent failure (ep_hop_weight) */
  ep_bucket_t bucket;        /* CREATE2 pacing (cfg->hop_pacing) */
  unsigned in_flight;        /* attempts on it now */
  size_t circuits;           /* circuits started through it this round */
  bool failed;               /* its link or a circuit failed at it: avoided for the round */
} hop_t;

/* SK_CONFIRM: the port again, to its second default target, on the same
 * circuit after SK_PROBE failed (#11). */
/* SK_RESOLVE: a RELAY_RESOLVE of one of the round's names (#14; port_idx:
 * the name's index). */
typedef enum stream_kind {
  SK_PROBE = 0, SK_CONFIRM, SK_CONTROL_DIR, SK_CONTROL_PORT, SK_RESOLVE
} stream_kind_t;

/* A stream's state is kept as the two flags the record writer reads:
 * idle (neither), begun, done (answered), dropped (done, never begun). */
typedef enum stream_state { ST_IDLE = 0, ST_BEGUN, ST_DONE, ST_DROPPED } stream_state_t;

typedef struct pstream {
  attempt_t *att;
  stream_kind_t kind;
  uint16_t port;
  size_t port_idx;           /* index in cfg->ports (SK_PROBE) */
  bool begun, done;          /* set_stream_state */
  ep_streamrec_t rec;        /* what the stream got (DATA lands in data[]) */
  ep_stream_outcome_t o;
  bool end_has_addr;         /* END EXITPOLICY named an address */
  ep_ipaddr_t end_addr;
  uint32_t end_ttl;
  uint8_t data[EP_CAP_BANNER + 1];  /* one past the cap: the reader sees "capped" */
  /* The service check (SK_PROBE, SK_CONFIRM): live while the stream is,
   * then its result is kept in svc_res (o.svc points at one or the other). */
  const char *host;          /* where BEGIN goes; NULL: BEGIN_DIR */
  ep_svc_t *svc;
  ep_svc_result_t svc_res;
  ep_timer_id_t window;      /* service "tcp": the window for bytes after CONNECTED */
  /* #14: the name failed to resolve at the exit; BEGIN went again to this address */
  bool dns_reprobed;
  char by_addr[EP_IPADDR_STRLEN + 2];
} pstream_t;

typedef enum at_state { AT_IDLE = 0, AT_BUILDING, AT_STREAMS, AT_DONE } at_state_t;

struct attempt {
  job_t *job;
  bool is_retry;
  at_state_t state;
  hop_t *hop;
  hop_t *tried[MAX_HOP_TRIES];
  unsigned n_tried;
  ep_ncirc_t *circ;
  int64_t circ_ms;
  int64_t build_start_ms;    /* this circuit's CREATE2 (the learned timeout counts from it) */
  int64_t streams_ms;        /* when this circuit opened and its streams began */
  unsigned hops_built;       /* of this circuit: 0 until the first hop answered */
  ep_timer_id_t wait_timer;  /* waiting for a first hop's pacing or in-flight cap */
  pstream_t *streams;        /* allocated when the job starts, freed when it ends */
  size_t n_streams, cap_streams;
  bool link_failed, circ_failed, proto_error;
  bool gave_up;              /* attempt_fail: no first hop left, or a protocol error */
  char fail_msg[160];
  char past_hop_msg[160];    /* the first failure beyond a working first hop */
};

typedef enum job_state { JOB_WAITING = 0, JOB_MAIN, JOB_RETRY, JOB_DONE } job_state_t;

struct job {
  scan_t *s;
  const ep_scan_relay_t *exit;
  job_state_t state;                   /* set_job_state changes it and what follows */
  bool started, finished, retried;     /* it left WAITING, reached DONE, went through RETRY */
  time_t started_wall;
  int64_t start_ms;
  attempt_t main, retry;
  ep_timer_id_t retry_timer; /* the retry delay after the main circuit's streams began */
  bool port_done[EP_SCAN_MAX_PORTS];   /* record written or held */
  struct job_dns *dns;                 /* #14: its RESOLVE answers (while in flight) */
};

struct scan {
  ep_loop_t *loop;
  ep_tls_ctx_t *tls;
  const ep_scan_cfg_t *cfg;
  ep_scan_summary_t *sum;
  const ep_scan_relay_t *exits;
  size_t n_exits;
  hop_t *hops;
  size_t n_hops;
  ep_rng_t rng;              /* first-hop choice */
  uint64_t *pick_w;          /* scratch for pick_hop: weights and hop indexes */
  size_t *pick_idx;
  ep_cbt_t own_cbt, *cbt;    /* learned build timeout: cfg->cbt or this round's */
  size_t first_active;       /* jobs before it are done (check_build_timeouts) */
  ep_timer_id_t build_timer;
  job_t *jobs;
  size_t next_job, active, finished;
  ep_records_t records;      /* written, or held until the target answers elsewhere */
  bool finalizing;
  int64_t t0;
  ep_timer_id_t progress_timer;
  ep_dns_round_t *dns;       /* #14: the round's names and answers; NULL: no DNS check */
};

static void attempt_start(attempt_t *a);
static void attempt_finish(attempt_t *a);
/* DNS health (#14): the section "DNS" below. */
static void dns_on_event(pstream_t *st, ep_srec_what_t what, const ep_event_t *ev);
static bool dns_reprobe(pstream_t *st, ep_srec_what_t what);
static void job_attempt_done(job_t *j, attempt_t *a);
static void job_retry(job_t *j, bool delay_over);
static void job_arm_retry(job_t *j);
static void start_jobs(scan_t *s);

static void set_hop_state(hop_t *h, hop_state_t to) { h->state = to; }
static void set_attempt_state(attempt_t *a, at_state_t to) { a->state = to; }
static void set_stream_state(pstream_t *st, stream_state_t to) {
  st->begun = to == ST_BEGUN || to == ST_DONE;
  st->done = to == ST_DONE || to == ST_DROPPED;
}

/* ---------------------------------------------------------------- hops */

static bool same_16(uint32_t a, uint32_t b) { return (a >> 16) == (b >> 16); }

static bool hop_usable_for(const scan_t *s, const hop_t *h, const attempt_t *a) {
  const ep_scan_relay_t *exit = a->job->exit;
  if (h->state == HOP_DEAD) {
    return false;
  }
  if (memcmp(h->relay->target.rsa_id, exit->target.rsa_id, 20) == 0) {
    return false;
  }
  if (s->cfg->related != NULL && s->cfg->related(exit, h->relay, s->cfg->related_arg)) {
    return false;
  }
  if (!s->cfg->allow_same_16 && same_16(h->relay->target.ipv4, exit->target.ipv4)) {
    return false;
  }
  for (unsigned i = 0; i < a->n_tried; i++) {
    if (a->tried[i] == h) {
      return false;
    }
  }
  /* A retry goes through a different first hop than the main attempt. */
  if (a->is_retry) {
    const attempt_t *m = &a->job->main;
    if (m->n_tried > 0 && m->tried[m->n_tried - 1] == h) {
      return false;
    }
  }
  return true;
}

/* The hop failed (link, or a circuit at it): avoided for the rest of the
 * round, and ranked down in later ones (cfg->hop_history). */
static void hop_mark_failed(hop_t *h) {
  if (!h->failed) {
    h->failed = true;
    h->s->sum->hops_avoided++;
  }
}

/* Can the hop take a circuit now? Else how long until it may (*wait_ms). */
static bool hop_ready(scan_t *s, hop_t *h, int64_t now, int64_t *wait_ms) {
  const ep_hop_pacing_t *p = &s->cfg->hop_pacing;
  int64_t w = h->in_flight >= p->max_in_flight ? 100 : ep_bucket_wait_ms(&h->bucket, p, now);
  if (w > 0 && (*wait_ms < 0 || w < *wait_ms)) {
    *wait_ms = w;
  }
  return w == 0;
}

/* Bandwidth-weighted among the usable hops that can take a circuit now,
 * preferring hops that have not failed this round. NULL: none; *wait_ms >= 0
 * when one will be ready then (pacing, in-flight cap), else -1. */
static hop_t *pick_hop(scan_t *s, attempt_t *a, int64_t *wait_ms) {
  int64_t now = ep_now_ms();
  *wait_ms = -1;
  for (int pass = 0; pass < 2 && *wait_ms < 0; pass++) {
    size_t n = 0;
    for (size_t i = 0; i < s->n_hops; i++) {
      hop_t *h = &s->hops[i];
      if (hop_usable_for(s, h, a) && h->failed == (pass == 1) && hop_ready(s, h, now, wait_ms)) {
        s->pick_w[n] = h->weight;
        s->pick_idx[n++] = i;
      }
    }
    size_t k = ep_hops_pick(s->pick_w, n, &s->rng);
    if (k != SIZE_MAX) {
      hop_t *h = &s->hops[s->pick_idx[k]];
      ep_bucket_take(&h->bucket, &s->cfg->hop_pacing, now);
      return h;
    }
  }
  return NULL;
}

static void on_hop_open(void *arg, ep_carrier_t *car) {
  (void)car;
  set_hop_state(arg, HOP_OPEN);
}

/* The link failed; its circuits hear it next (on_circ_failed). */
static void on_hop_closed(void *arg, ep_carrier_t *car, const ep_event_t *ev) {
  (void)car;
  hop_t *h = arg;
  set_hop_state(h, HOP_DEAD);
  hop_mark_failed(h);
  h->s->sum->links_failed++;
  ep_info("scan: first hop %s (%s): %s", h->relay->ref.nickname, h->relay->ref.fingerprint, ev->msg);
}

static const ep_carrier_cbs_t hop_cbs = {.open = on_hop_open, .closed = on_hop_closed};

static void hop_connect(hop_t *h) {
  scan_t *s = h->s;
  ep_link_cfg_t lc = {.connect_timeout_ms = s->cfg->link_timeout_ms,
                      .handshake_timeout_ms = s->cfg->link_timeout_ms,
                      .trace = s->cfg->trace, .trace_arg = s->cfg->trace_arg};
  ep_err_t err = {0};
  set_hop_state(h, HOP_CONNECTING);
  h->car = ep_carrier_open(s->loop, s->tls, &h->relay->target, &lc, &hop_cbs, h, &err);
  if (h->car == NULL) {
    ep_warn("scan: cannot start a link to first hop %s: %s", h->relay->ref.fingerprint, err.msg);
    set_hop_state(h, HOP_DEAD);
  }
}

/* ------------------------------------------------------------- streams */

void ep_scan_outcome_from_rec(const ep_streamrec_t *rec, ep_stream_outcome_t *o) {
  o->connected = rec->connected;
  o->connected_ms = rec->connected ? rec->connected_ms : 0;
  o->ended = rec->ended;
  o->end_reason = rec->end_reason;
  o->end_ms = rec->ended ? rec->end_ms : 0;
  o->deadline_hit = rec->deadline_hit;
  o->data = rec->data;
  o->data_len = rec->data_len;
}

bool ep_scan_stream_answered(const ep_streamrec_t *rec, bool expect_greeting) {
  if (!expect_greeting) {
    return rec->connected;
  }
  ep_greeting_t g;
  return rec->data_len > 0 && ep_greeting_parse(rec->data, rec->data_len, false, &g) == 1;
}

static bool is_probe(const pstream_t *st) { return st->kind == SK_PROBE || st->kind == SK_CONFIRM; }

/* The check is over: keep what it found, free its state (TLS and all). */
static void stream_svc_close(pstream_t *st) {
  if (st->window != 0) {
    ep_loop_timer_cancel(st->att->job->s->loop, st->window);
    st->window = 0;
  }
  if (st->svc != NULL) {
    st->svc_res = *ep_svc_result(st->svc);
    ep_svc_free(st->svc);
    st->svc = NULL;
    st->o.svc = &st->svc_res;
  }
}

/* A stream starts over on another circuit: nothing of its outcome stays. */
static void stream_rewind(pstream_t *st) {
  stream_svc_close(st);
  ep_svc_spec_t service = st->o.service;
  bool expect = st->o.expect_greeting;
  memset(&st->o, 0, sizeof st->o);
  st->o.expect_greeting = expect;
  st->o.service = service;
  set_stream_state(st, ST_IDLE);
}

static void start_confirm(pstream_t *failed);

/* Has every stream of the attempt its outcome? A retry circuit stays open
 * while the main one runs: a port that fails there later still goes to it. */
static bool attempt_has_pending(const attempt_t *a) {
  for (size_t i = 0; i < a->n_streams; i++) {
    if (!a->streams[i].done) {
      return true;
    }
  }
  return false;
}

static bool attempt_all_done(const attempt_t *a) {
  return !attempt_has_pending(a) && !(a->is_retry && a->job->main.state != AT_DONE);
}

static void stream_done(pstream_t *st) {
  if (st->done) {
    return;
  }
  stream_svc_close(st);
  set_stream_state(st, st->begun ? ST_DONE : ST_DROPPED);
  attempt_t *a = st->att;
  if (st->kind == SK_PROBE) {
    start_confirm(st);
    if (a->state == AT_DONE) {
      return; /* the second target's stream could not begin, and that was the last */
    }
  }
  if (st->kind == SK_PROBE && !a->is_retry && st->done) {
    job_retry(a->job, false); /* a failed port is retried at once */
  }
  if (attempt_all_done(a)) {
    attempt_finish(a);
  }
}

static void stream_end_and_done(pstream_t *st) {
  ep_ncirc_end(st->att->circ, &st->rec, EP_END_DONE);
  stream_done(st);
}

/* What the recorder got, where the record writer reads it. */
static void stream_record(pstream_t *st) {
  ep_scan_outcome_from_rec(&st->rec, &st->o);
  st->end_has_addr = st->rec.end_has_addr;
  st->end_addr = st->rec.end_addr;
  st->end_ttl = st->rec.end_ttl;
}

/* Send what the check has to say, as far as the stream's windows allow
 * (the rest goes on EP_SREC_WRITABLE). */
static void stream_send(pstream_t *st) {
  ep_err_t err = {0};
  if (st->svc != NULL && ep_scan_svc_send(st->att->circ, &st->rec, st->svc, &err) != EP_OK) {
    ep_debug("scan: exit %s port %u: cannot send: %s", st->att->job->exit->ref.fingerprint,
             st->port, err.msg);
  }
}

static void on_window(ep_loop_t *loop, void *arg) {
  (void)loop;
  pstream_t *st = arg;
  st->window = 0;
  stream_end_and_done(st);
}

/* Service "tcp" after CONNECTED: whatever arrives in a short window. */
static void stream_open_window(pstream_t *st) {
  const ep_scan_cfg_t *cfg = st->att->job->s->cfg;
  int64_t ms = cfg->tcp_window_ms > 0 ? cfg->tcp_window_ms : 2000;
  if (cfg->stream_timeout_ms > 0 && ms > cfg->stream_timeout_ms) {
    ms = cfg->stream_timeout_ms;
  }
  st->window = ep_loop_timer_in(st->att->job->s->loop, ms, on_window, st);
}

/* Has the probe stream its answer? The check decided; without a check,
 * CONNECTED (or a greeting where the service speaks first). */
static bool probe_answered(pstream_t *st, ep_srec_what_t what, const ep_event_t *ev) {
  if (st->svc == NULL) {
    return ep_scan_stream_answered(&st->rec, st->o.expect_greeting);
  }
  ep_svc_status_t status = ep_svc_result(st->svc)->status;
  if (what == EP_SREC_DATA && ev != NULL) {
    status = ep_svc_input(st->svc, ev->data, ev->len, false);
  }
  if (status != EP_SVC_NEED_MORE) {
    return true;
  }
  if (what == EP_SREC_CONNECTED && st->o.service.proto == EP_SVC_TCP && !st->o.service.tls) {
    stream_open_window(st);
  }
  stream_send(st);
  return false;
}

static void on_stream_event(void *arg, ep_ncirc_t *c, ep_streamrec_t *rec, ep_srec_what_t what,
                            const ep_event_t *ev) {
  (void)arg;
  (void)c;
  pstream_t *st = (pstream_t *)((char *)rec - offsetof(pstream_t, rec));
  if (st->done) {
    return;
  }
  if (st->kind == SK_RESOLVE) {
    dns_on_event(st, what, ev);
    return;
  }
  stream_record(st);
  if (what == EP_SREC_END || what == EP_SREC_DEADLINE) {
    if (dns_reprobe(st, what)) {
      return; /* begun again by address */
    }
    if (st->svc != NULL && what == EP_SREC_END) {
      ep_svc_input(st->svc, NULL, 0, true);
    }
    stream_done(st);
  } else if (!is_probe(st) ? ep_scan_stream_answered(rec, false) : probe_answered(st, what, ev)) {
    stream_end_and_done(st);
  }
}

/* The check for a probe stream (none for control streams, or when it cannot start). */
static void stream_svc_open(pstream_t *st) {
  if (!is_probe(st)) {
    return;
  }
  ep_err_t err = {0};
  st->svc = ep_svc_new_ex(st->o.service, st->host, st->port, st->att->job->s->cfg->tls_sessions, &err);
  if (st->svc == NULL) {
    ep_warn("scan: port %u: no %s check: %s", st->port, ep_svc_name(st->o.service), err.msg);
    return;
  }
  st->o.svc = ep_svc_result(st->svc);
}

static void begin_stream(attempt_t *a, pstream_t *st) {
  scan_t *s = a->job->s;
  ep_err_t err = {0};
  ep_streamrec_init(&st->rec, st->data, sizeof st->data);
  const char *to = st->dns_reprobed ? st->by_addr : st->host;
  int rc = st->kind == SK_RESOLVE
               ? ep_ncirc_resolve(a->circ, &st->rec, st->host, s->cfg->stream_timeout_ms, &err)
               : ep_ncirc_begin_flags(a->circ, &st->rec, to, st->port, s->cfg->begin_flags,
                                      s->cfg->stream_timeout_ms, &err);
  if (rc != EP_OK) {
    ep_debug("scan: exit %s: cannot begin a stream: %s", a->job->exit->ref.fingerprint, err.msg);
    st->o.circuit_failed = true;
    stream_done(st);
    return;
  }
  set_stream_state(st, ST_BEGUN);
  stream_svc_open(st);
}

static void begin_streams(attempt_t *a) {
  for (size_t i = 0; i < a->n_streams && a->state == AT_STREAMS; i++) {
    pstream_t *st = &a->streams[i];
    if (st->done || st->begun) {
      continue; /* answered on an earlier circuit of this attempt */
    }
    begin_stream(a, st);
  }
}

/* ------------------------------------------------------------ attempts */

static void attempt_release_hop(attempt_t *a) {
  ep_ncirc_free(a->circ); /* DESTROY if it still lives */
  a->circ = NULL;
  if (a->hop != NULL && a->hop->in_flight > 0) {
    a->hop->in_flight--;
  }
  a->hop = NULL;
  if (a->wait_timer != 0) {
    ep_loop_timer_cancel(a->job->s->loop, a->wait_timer);
    a->wait_timer = 0;
  }
}

/* The attempt is over: every stream has its outcome. */
static void attempt_finish(attempt_t *a) {
  if (a->state == AT_DONE) {
    return;
  }
  attempt_release_hop(a);
  set_attempt_state(a, AT_DONE);
  job_attempt_done(a->job, a);
}

/* An unfinished stream of an attempt that gave up fails the way it did. */
static void stream_fail_as(const attempt_t *a, pstream_t *st) {
  if (!st->done) {
    stream_svc_close(st);
    st->o.first_hop_failed = a->link_failed;
    st->o.circuit_failed = a->circ_failed;
    st->o.protocol_error = a->proto_error;
    set_stream_state(st, st->begun ? ST_DONE : ST_DROPPED);
  }
}

/* Mark every unfinished stream as failed in the given way and finish. */
static void attempt_fail(attempt_t *a, bool link, bool circ, bool proto, const char *msg) {
  a->link_failed = link;
  a->circ_failed = circ;
  a->proto_error = proto;
  a->gave_up = true;
  snprintf(a->fail_msg, sizeof a->fail_msg, "%s", msg);
  for (size_t i = 0; i < a->n_streams; i++) {
    stream_fail_as(a, &a->streams[i]);
  }
  attempt_finish(a);
}

/* No first hop left to try. When some try got past its first hop, the
 * record says circuit-failed even if the last first hop was down: that rule
 * is the verdict's (ep_probe_judge, from fail_msg and past_hop_msg). */
static void attempt_give_up(attempt_t *a, bool link, const char *msg) {
  attempt_fail(a, link, !link, false, msg);
}

/* The circuit or link under the attempt broke before every stream had its
 * answer: the streams that finished keep their outcome; the others start
 * over on a new circuit through another first hop, if any is left. A first
 * hop that dies mid-scan so costs no verdicts. */
static void attempt_try_again(attempt_t *a, bool link, const char *msg) {
  scan_t *s = a->job->s;
  attempt_release_hop(a);
  snprintf(a->fail_msg, sizeof a->fail_msg, "%s", msg);
  if (!link && a->past_hop_msg[0] == '\0') {
    snprintf(a->past_hop_msg, sizeof a->past_hop_msg, "%s", msg);
  }
  if (a->is_retry && !attempt_has_pending(a)) {
    attempt_finish(a); /* held open with nothing to carry: rebuilt if a port comes */
    return;
  }
  if (!s->finalizing && a->n_tried < s->cfg->first_hop_tries && a->n_tried < MAX_HOP_TRIES) {
    ep_debug("scan: exit %s: %s; trying another first hop", a->job->exit->ref.fingerprint, msg);
    for (size_t i = 0; i < a->n_streams; i++) {
      if (!a->streams[i].done) {
        stream_rewind(&a->streams[i]);
      }
    }
    set_attempt_state(a, AT_IDLE);
    attempt_start(a);
    return;
  }
  attempt_give_up(a, link, msg);
}

static void on_circ_opened(void *arg, ep_ncirc_t *c) {
  attempt_t *a = arg;
  a->circ_ms = ep_ncirc_build_ms(c);
  ep_cbt_add(a->job->s->cbt, a->circ_ms);
  a->streams_ms = ep_now_ms();
  set_attempt_state(a, AT_STREAMS);
  begin_streams(a);
  if (!a->is_retry && a->state == AT_STREAMS) {
    job_arm_retry(a->job);
  }
}

static void on_circ_hop(void *arg, ep_ncirc_t *c, unsigned hops) {
  (void)c;
  ((attempt_t *)arg)->hops_built = hops;
}

/* Did the circuit fail at its first hop? Its link; CREATE2 refused or
 * unanswered; a DESTROY (not a TRUNCATED from further on) saying
 * RESOURCELIMIT: the first hop defends itself. Noise about the first hop,
 * never evidence about the exit. */
static bool failed_at_first_hop(const ep_ncirc_failure_t *f) {
  if (f->why == EP_NCIRC_LINK) {
    return true;
  }
  if (f->why == EP_NCIRC_PROTOCOL || f->why == EP_NCIRC_LOCAL) {
    return false;
  }
  bool destroy_rl = !f->truncated && f->reason == EP_DESTROY_RESOURCELIMIT &&
                    (f->why == EP_NCIRC_DESTROYED || f->why == EP_NCIRC_EXTEND_REFUSED);
  return f->hops == 0 || destroy_rl;
}

static void on_circ_failed(void *arg, ep_ncirc_t *c, const ep_ncirc_failure_t *f) {
  (void)c;
  attempt_t *a = arg;
  if (failed_at_first_hop(f)) {
    char msg[160];
    snprintf(msg, sizeof msg, "first hop %s: %.100s", a->hop->relay->ref.nickname, f->msg);
    if (!f->truncated && f->reason == EP_DESTROY_RESOURCELIMIT && f->why != EP_NCIRC_LINK) {
      a->job->s->sum->hop_resourcelimit++;
    }
    hop_mark_failed(a->hop);
    attempt_try_again(a, true, msg);
  } else if (f->why == EP_NCIRC_PROTOCOL) {
    attempt_fail(a, false, false, true, f->msg); /* a relay broke the protocol */
  } else {
    attempt_try_again(a, false, f->msg);
  }
}

/* A circuit to the exit through the attempt's hop (made when its link is up). */
static void attempt_build(attempt_t *a) {
  static const ep_ncirc_cbs_t cbs = {.hop = on_circ_hop, .opened = on_circ_opened,
                                     .failed = on_circ_failed, .stream = on_stream_event};
  scan_t *s = a->job->s;
  ep_ncirc_cfg_t cc = {.kind = EP_CREATE_NTOR, .build_timeout_ms = s->cfg->circuit_timeout_ms};
  ep_err_t err = {0};
  a->circ = ep_ncirc_new(a->hop->car, &a->job->exit->target, 1, &cc, &cbs, a, &err);
  if (a->circ == NULL) {
    attempt_try_again(a, false, err.msg);
    return;
  }
  a->build_start_ms = ep_now_ms();
  a->hops_built = 0;
  a->hop->circuits++;
  s->sum->hop_circuits++;
  set_attempt_state(a, AT_BUILDING);
}

static void on_attempt_wait(ep_loop_t *loop, void *arg) {
  (void)loop;
  attempt_t *a = arg;
  a->wait_timer = 0;
  attempt_start(a);
}

static void attempt_start(attempt_t *a) {
  scan_t *s = a->job->s;
  int64_t wait_ms;
  hop_t *h = pick_hop(s, a, &wait_ms);
  if (h == NULL && wait_ms >= 0 && !s->finalizing) {
    a->wait_timer = ep_loop_timer_in(s->loop, wait_ms, on_attempt_wait, a);
    if (a->wait_timer != 0) {
      return;
    }
  }
  if (h == NULL) {
    char msg[sizeof a->fail_msg];
    if (a->past_hop_msg[0] != '\0' && strcmp(a->past_hop_msg, a->fail_msg) == 0) {
      /* The last try got past its first hop: say that, once. */
      snprintf(msg, sizeof msg, "%.120s; no other first hop left", a->past_hop_msg);
      attempt_fail(a, false, true, false, msg);
      return;
    }
    if (a->n_tried > 0) {
      snprintf(msg, sizeof msg, "no first hop left to try; last: %.120s", a->fail_msg);
    } else {
      snprintf(msg, sizeof msg, "no usable first hop");
    }
    attempt_give_up(a, a->n_tried > 0, msg);
    return;
  }
  a->tried[a->n_tried++] = h;
  a->hop = h;
  h->in_flight++;
  if (h->state == HOP_IDLE) {
    hop_connect(h);
    if (h->state == HOP_DEAD) {
      attempt_try_again(a, true, "cannot start a link");
      return;
    }
  }
  attempt_build(a);
}

/* The learned build timeout (cbt.h), applied to every circuit being built
 * as it stands now, as tor does; try k of an attempt gets timeout_ms[k]
 * (doubling per try, all within the configured one: try_timeout_ms). A
 * circuit still building after it is a failed try, retried through another
 * first hop at once. Stuck at the first hop: the first hop's fault; past it:
 * circuit-failed, no verdict. */
static void attempt_check_timeout(attempt_t *a, int64_t now, const int64_t *timeout_ms) {
  if (a->state != AT_BUILDING || a->circ == NULL || a->n_tried == 0) {
    return;
  }
  int64_t t = timeout_ms[a->n_tried - 1 < MAX_HOP_TRIES ? a->n_tried - 1 : MAX_HOP_TRIES - 1];
  if (t <= 0 || now - a->build_start_ms < t) {
    return;
  }
  scan_t *s = a->job->s;
  char msg[160];
  ep_link_t *link = a->hop != NULL ? ep_carrier_link(a->hop->car) : NULL;
  ep_link_stage_t stage = link != NULL ? ep_link_stage(link) : EP_LINK_OPEN;
  if (a->hops_built == 0 && stage < EP_LINK_OPEN) {
    /* the first hop's link is what is stuck: say which part of it */
    snprintf(msg, sizeof msg, "link to the first hop: no %s within %lld ms (learned build timeout)",
             ep_link_stage_wait_name(stage), (long long)t);
  } else {
    snprintf(msg, sizeof msg, "circuit not built in %lld ms (learned build timeout) %s",
             (long long)t, a->hops_built == 0 ? "at the first hop" : "past the first hop");
  }
  s->sum->build_timeouts++;
  if (a->hops_built == 0) {
    hop_mark_failed(a->hop);
  }
  attempt_try_again(a, a->hops_built == 0, msg);
}

static void check_build_timeouts(ep_loop_t *loop, void *arg);

/* Try k's build timeout now (0: the first): learned, doubling per try, all
 * the tries within the configured one (ep_cbt_try_timeout_ms). */
static int64_t try_timeout_ms(const scan_t *s, unsigned k) {
  unsigned tries = s->cfg->first_hop_tries < MAX_HOP_TRIES ? s->cfg->first_hop_tries : MAX_HOP_TRIES;
  return ep_cbt_try_timeout_ms(s->cbt, s->cfg->circuit_timeout_ms, tries, k);
}

static void arm_build_check(scan_t *s) {
  s->build_timer = ep_loop_timer_in(s->loop, 250, check_build_timeouts, s);
}

static void check_build_timeouts(ep_loop_t *loop, void *arg) {
  (void)loop;
  scan_t *s = arg;
  s->build_timer = 0;
  int64_t timeout_ms[MAX_HOP_TRIES];
  for (unsigned k = 0; k < MAX_HOP_TRIES; k++) {
    timeout_ms[k] = try_timeout_ms(s, k);
  }
  int64_t now = ep_now_ms();
  while (s->first_active < s->next_job && s->jobs[s->first_active].finished) {
    s->first_active++;
  }
  for (size_t i = s->first_active; timeout_ms[0] > 0 && i < s->next_job; i++) {
    job_t *j = &s->jobs[i];
    if (!j->finished) {
      attempt_check_timeout(&j->main, now, timeout_ms);
    }
    if (!j->finished) {
      attempt_check_timeout(&j->retry, now, timeout_ms);
    }
  }
  if (!s->finalizing) {
    arm_build_check(s);
  }
}

/* ----------------------------------------------------------------- jobs */

static bool port_wanted(const ep_scan_relay_t *exit, size_t port_idx) {
  return exit->ports_mask == 0 || (exit->ports_mask & (1u << port_idx)) != 0;
}

/* Streams are allocated only for jobs in flight, so memory follows
 * --concurrency, not the number of exits (bench/RESULTS.md), and only as many
 * as the attempt can carry: `cap` (0: none yet; a retry gets its streams when
 * it is needed). Each one is ~1.1 KiB (the banner buffer). */
static void attempt_init(attempt_t *a, job_t *j, bool retry, size_t cap) {
  free(a->streams);
  memset(a, 0, sizeof *a);
  a->job = j;
  a->is_retry = retry;
  a->cap_streams = cap;
  a->streams = cap > 0 ? calloc(cap, sizeof *a->streams) : NULL;
  if (a->streams == NULL) {
    a->cap_streams = 0;
  }
}

/* Streams of a main attempt: the probed ports, the control streams, and a
 * second-target stream for each port that has one. */
static size_t main_streams_cap(const ep_scan_cfg_t *cfg) {
  size_t n = cfg->n_ports + (cfg->no_control ? 0 : 2);
  for (size_t p = 0; p < cfg->n_ports; p++) {
    n += cfg->confirm_targets[p] != NULL;
  }
  return n;
}

static void attempt_free_streams(attempt_t *a) {
  for (size_t i = 0; i < a->n_streams; i++) {
    stream_svc_close(&a->streams[i]);
  }
  free(a->streams);
  a->streams = NULL;
  a->n_streams = a->cap_streams = 0;
}

static pstream_t *add_stream(attempt_t *a, stream_kind_t kind, uint16_t port, size_t port_idx) {
  if (a->n_streams >= a->cap_streams) {
    return NULL; /* out of memory at init: the port gets a not-probed record */
  }
  const ep_scan_cfg_t *cfg = a->job->s->cfg;
  pstream_t *st = &a->streams[a->n_streams++];
  memset(st, 0, sizeof *st);
  st->att = a;
  st->kind = kind;
  st->port = port;
  st->port_idx = port_idx;
  if (is_probe(st)) {
    st->host = kind == SK_CONFIRM ? cfg->confirm_targets[port_idx] : ep_scan_port_target(cfg, port_idx);
    st->o.service = ep_scan_port_service(cfg, port_idx);
    st->o.expect_greeting = ep_svc_server_first(st->o.service);
  } else {
    st->host = kind == SK_CONTROL_DIR ? NULL : cfg->target_host;
  }
  return st;
}

static pstream_t *find_stream(attempt_t *a, stream_kind_t kind, size_t port_idx) {
  for (size_t i = 0; i < a->n_streams; i++) {
    if (a->streams[i].kind == kind && a->streams[i].port_idx == port_idx) {
      return &a->streams[i];
    }
  }
  return NULL;
}

static pstream_t *probe_stream(attempt_t *a, size_t port_idx) {
  return find_stream(a, SK_PROBE, port_idx);
}

static bool stream_failed(pstream_t *st);

/* The port's stream failed against its first target on the main circuit:
 * the same circuit tries the port's second default target before anything
 * is blamed (#11; none with --target). */
static void start_confirm(pstream_t *failed) {
  attempt_t *a = failed->att;
  const ep_scan_cfg_t *cfg = a->job->s->cfg;
  if (a->is_retry || a->state != AT_STREAMS || a->circ == NULL || !failed->begun ||
      cfg->confirm_targets[failed->port_idx] == NULL ||
      find_stream(a, SK_CONFIRM, failed->port_idx) != NULL || !stream_failed(failed)) {
    return;
  }
  pstream_t *st = add_stream(a, SK_CONFIRM, failed->port, failed->port_idx);
  if (st != NULL) {
    begin_stream(a, st);
  }
}

/* The one place a job's state changes. MAIN: it starts (counted in flight);
 * RETRY: its failed ports are tried again; DONE: its records are written. */
static void set_job_state(job_t *j, job_state_t state) {
  scan_t *s = j->s;
  if (state == JOB_MAIN) {
    j->started = true;
    j->started_wall = ep_wall_now();
    j->start_ms = ep_now_ms();
    s->active++;
    attempt_init(&j->main, j, false, main_streams_cap(s->cfg) + (s->dns != NULL ? s->dns->n_names : 0));
    attempt_init(&j->retry, j, true, 0);
  } else if (state == JOB_RETRY) {
    j->retried = true;
  } else if (state == JOB_DONE) {
    j->finished = true;
    s->active--;
    s->finished++;
  }
  j->state = state;
}

/* The port's stream on one attempt, as the verdict sees it (st NULL: none). */
static void probe_try(const attempt_t *a, pstream_t *st, ep_probe_try_t *t) {
  snprintf(t->fail_msg, sizeof t->fail_msg, "%s", a->fail_msg);
  snprintf(t->past_hop_msg, sizeof t->past_hop_msg, "%s", a->past_hop_msg);
  if (st != NULL) {
    t->has_stream = true;
    t->begun = st->begun;
    t->done = st->done;
    t->o = st->o;
    t->o.data = st->data;
  }
}

static void probe_controls(const attempt_t *m, ep_probe_in_t *in) {
  for (size_t i = 0; i < m->n_streams && in->n_control < EP_PROBE_MAX_CONTROL; i++) {
    const pstream_t *st = &m->streams[i];
    if (st->kind != SK_PROBE && st->kind != SK_RESOLVE) {
      in->control[in->n_control++] = (ep_probe_control_t){
          .is_dir = st->kind == SK_CONTROL_DIR, .port = st->port, .begun = st->begun,
          .connected = st->o.connected, .ended = st->o.ended, .end_reason = st->o.end_reason};
    }
  }
}

/* The record's service fields (#11): what the check said on the port's
 * stream, and the second target's try (its class is the judge's). */
static void job_write_service(ep_result_t *r, const ep_scan_cfg_t *cfg, size_t p,
                              const pstream_t *st, const ep_probe_in_t *in) {
  ep_result_set_service(r, ep_scan_port_service(cfg, p), st != NULL ? st->o.svc : NULL);
  r->confirm_cls = ep_probe_confirm_class(in);
  if (r->confirm_cls != EP_CLASS_COUNT && in->confirm_target != NULL) {
    snprintf(r->confirm_target, sizeof r->confirm_target, "%s", in->confirm_target);
  }
}

/* ---------------------------------------------------------------- DNS (#14) */

/* The exit's RESOLVE answers, its class once judged. */
typedef struct job_dns {
  ep_dns_exit_t e;
  bool judged;
  ep_dns_class_t cls;
  char detail[EP_DNS_DETAIL];
} job_dns_t;

/* A RESOLVE stream for each of the round's names on the main circuit. */
static void dns_add_resolves(job_t *j) {
  scan_t *s = j->s;
  if (s->dns == NULL || s->dns->n_names == 0 || (j->dns = calloc(1, sizeof *j->dns)) == NULL) {
    return;
  }
  ep_dns_exit_t *e = &j->dns->e;
  if (s->dns->has_unique) {
    uint32_t salt;
    ep_random(&salt, sizeof salt);
    ep_dns_unique_name(e->unique, sizeof e->unique, s->dns->domain, s->cfg->round,
                       j->exit->ref.fingerprint, salt);
  }
  for (size_t i = 0; i < s->dns->n_names; i++) {
    e->a[e->n].name_idx = i;
    e->a[e->n].ms = -1;
    e->n++;
    pstream_t *st = add_stream(&j->main, SK_RESOLVE, 0, i);
    if (st != NULL) {
      bool unique = s->dns->has_unique && i == s->dns->n_names - 1;
      st->host = unique ? e->unique : s->dns->names[i].name;
    }
  }
}

/* A RESOLVE's answer (RESOLVED, END, our deadline): into the exit's answers
 * and the round's tally. */
static void dns_on_event(pstream_t *st, ep_srec_what_t what, const ep_event_t *ev) {
  job_t *j = st->att->job;
  if (what != EP_SREC_RESOLVED && what != EP_SREC_END && what != EP_SREC_DEADLINE) {
    return;
  }
  if (j->dns != NULL && st->port_idx < j->dns->e.n) {
    ep_dns_answer_t *a = &j->dns->e.a[st->port_idx];
    a->ms = st->rec.end_ms >= 0 ? st->rec.end_ms : ep_now_ms() - st->rec.begin_ms;
    ep_resolved_t res;
    ep_err_t err = {0};
    if (what == EP_SREC_RESOLVED && ev != NULL &&
        ep_resolved_parse(ev->data, ev->len, &res, &err) == EP_OK) {
      ep_dns_answer_resolved(a, &res, a->ms);
    } else if (what == EP_SREC_END) {
      a->status = EP_DNS_END;
      a->end_reason = st->rec.end_reason;
    } else {
      a->status = EP_DNS_TIMEOUT;
    }
    ep_dns_round_add(j->s->dns, a);
  }
  stream_done(st);
}

/* The index of name among the round's names, or SIZE_MAX. */
static size_t dns_name_index(const ep_dns_round_t *r, const char *name) {
  for (size_t i = 0; i < r->n_names; i++) {
    if (strcasecmp(r->names[i].name, name) == 0) {
      return i;
    }
  }
  return SIZE_MAX;
}

/* A probe of a name ended without reaching the port because the exit could
 * not resolve the name (END RESOLVEFAILED, or nothing while its own RESOLVE
 * of the name failed): BEGIN again on the same circuit to the address the
 * other exits gave, once. True if it was begun again. */
static bool dns_reprobe(pstream_t *st, ep_srec_what_t what) {
  attempt_t *a = st->att;
  job_t *j = a->job;
  scan_t *s = j->s;
  if (st->kind != SK_PROBE || st->dns_reprobed || s->dns == NULL || j->dns == NULL ||
      st->host == NULL || a->state != AT_STREAMS || a->circ == NULL || st->rec.connected) {
    return false;
  }
  size_t idx = dns_name_index(s->dns, st->host);
  bool resolvefailed = what == EP_SREC_END && st->rec.end_reason == EP_END_RESOLVEFAILED;
  ep_ipaddr_t addr;
  if (idx == SIZE_MAX || !(resolvefailed || ep_dns_exit_failed(&j->dns->e, idx)) ||
      !ep_dns_consensus_addr(s->dns, idx, s->cfg->ip_version == 6, &addr)) {
    return false;
  }
  char ab[EP_IPADDR_STRLEN];
  ep_ipaddr_format(ab, sizeof ab, &addr);
  snprintf(st->by_addr, sizeof st->by_addr, addr.family == EP_IPADDR_V6 ? "[%s]" : "%s", ab);
  ep_debug("scan: exit %s port %u: %s did not resolve there, probing %s", j->exit->ref.fingerprint,
           st->port, st->host, st->by_addr);
  stream_rewind(st);
  st->dns_reprobed = true;
  begin_stream(a, st);
  return true;
}

/* The record's DNS fields; the exit's class is judged once (and counted in
 * the summary) when its first record is written. */
static void dns_record(job_t *j, ep_result_t *r, const pstream_t *st) {
  scan_t *s = j->s;
  if (st != NULL && st->dns_reprobed) {
    snprintf(r->dns_reprobe_addr, sizeof r->dns_reprobe_addr, "%s", st->by_addr);
  }
  if (j->dns == NULL || s->dns == NULL) {
    return; /* "not-tried" */
  }
  job_dns_t *d = j->dns;
  if (!d->judged) {
    d->judged = true;
    d->cls = ep_dns_judge(s->dns, &d->e, d->detail, sizeof d->detail);
    ep_scan_summary_add_dns(s->sum, &j->exit->ref, d->cls, ep_dns_class_name(d->cls), d->detail);
  }
  snprintf(r->dns, sizeof r->dns, "%s", ep_dns_class_name(d->cls));
  snprintf(r->dns_detail, sizeof r->dns_detail, "%s", d->detail);
}

/* One record per wanted port not yet written: what it means is
 * ep_probe_judge's; here only who, when, and the relays used. */
static void job_write(job_t *j, bool interrupted) {
  scan_t *s = j->s;
  const ep_scan_cfg_t *cfg = s->cfg;
  attempt_t *m = &j->main;
  for (size_t p = 0; p < cfg->n_ports; p++) {
    if (j->port_done[p] || !port_wanted(j->exit, p)) {
      continue;
    }
    j->port_done[p] = true;
    pstream_t *st = probe_stream(m, p);
    ep_probe_in_t in = {.interrupted = interrupted,
                        .policy_basis = j->exit->policy_basis,
                        .may_be_restricted = j->exit->may_be_restricted,
                        .target_ok_elsewhere = s->records.reachable[p]};
    probe_try(m, st, &in.main);
    /* the retry speaks only for a port that failed on the main circuit (a
     * port still unanswered after the retry delay got one in parallel) */
    bool main_failed = st != NULL && st->done && stream_failed(st);
    probe_try(&j->retry, j->retried && main_failed ? probe_stream(&j->retry, p) : NULL, &in.retry);
    pstream_t *cf = find_stream(m, SK_CONFIRM, p);
    probe_try(m, cf, &in.confirm);
    in.confirm_target = cf != NULL ? cf->host : NULL;
    probe_controls(m, &in);
    ep_result_t r;
    ep_result_init(&r);
    r.round = cfg->round;
    r.started = j->started_wall;
    r.exit = j->exit->ref;
    r.contact = j->exit->contact;
    if (m->n_tried > 0) {
      r.first_hop = m->tried[m->n_tried - 1]->relay->ref;
    }
    snprintf(r.target_host, sizeof r.target_host, "%s", ep_scan_port_target(cfg, p));
    r.port = cfg->ports[p];
    job_write_service(&r, cfg, p, st, &in);
    snprintf(r.vantage, sizeof r.vantage, "%s", cfg->vantage != NULL ? cfg->vantage : "");
    r.ip_version = cfg->ip_version == 6 ? 6 : 4;
    if (st != NULL && st->rec.conn_has_addr) {
      ep_ipaddr_format(r.connected_addr, sizeof r.connected_addr, &st->rec.conn_addr);
    }
    if (st != NULL && st->o.ended && st->end_has_addr) {
      ep_ipaddr_format(r.exitpolicy_addr, sizeof r.exitpolicy_addr, &st->end_addr);
      r.exitpolicy_ttl = st->end_ttl == EP_TTL_ABSENT ? -1 : (int64_t)st->end_ttl;
    }
    r.circuit_ms = m->circ_ms > 0 ? m->circ_ms : -1;
    dns_record(j, &r, st);
    r.total_ms = ep_now_ms() - j->start_ms;
    bool waits = ep_probe_judge(&in, &r);
    if (r.c.cls == EP_CLASS_EXITPOLICY && cfg->full_policy != NULL) {
      /* Ask the exit's full policy about the address it named, and judge again. */
      in.full_policy_accepts = cfg->full_policy(j->exit, st->end_has_addr ? &st->end_addr : NULL,
                                                r.port, cfg->full_policy_arg);
      waits = ep_probe_judge(&in, &r);
    }
    if (r.retry_tried && j->retry.n_tried > 0) {
      snprintf(r.retry_first_hop, sizeof r.retry_first_hop, "%s",
               j->retry.tried[j->retry.n_tried - 1]->relay->ref.fingerprint);
    }
    ep_records_put(&s->records, &in, &r, p, waits && !s->finalizing);
  }
}

static void job_finish(job_t *j, bool interrupted) {
  if (j->finished) {
    return;
  }
  job_write(j, interrupted);
  if (j->retry_timer != 0) {
    ep_loop_timer_cancel(j->s->loop, j->retry_timer);
    j->retry_timer = 0;
  }
  free(j->dns);
  j->dns = NULL;
  attempt_free_streams(&j->main);
  attempt_free_streams(&j->retry);
  set_job_state(j, JOB_DONE);
}

/* Did the exit fail to do what the port's stream asked (worth a retry)? */
static bool stream_failed(pstream_t *st) {
  ep_classification_t c;
  st->o.data = st->data;
  ep_classify(&st->o, &c);
  return ep_class_is_failure(c.cls);
}

/* Did the main circuit never get built? Then a retry cannot tell more. A
 * first hop down after a try got past its first hop counts as the circuit
 * failing (the record says circuit-failed: ep_probe_judge). */
static bool circuit_never_built(const attempt_t *a) {
  bool past_hop = a->past_hop_msg[0] != '\0';
  return (a->link_failed && !past_hop) || ((a->link_failed || a->circ_failed) && a->circ_ms == 0);
}

/* How long a port may stay unanswered on the main circuit before it is
 * also tried through another first hop, in parallel: a silent exit then
 * costs the stream deadline once, not twice (#13). */
static int64_t retry_delay_ms(const ep_scan_cfg_t *cfg) {
  return cfg->retry_after_ms > 0 ? cfg->retry_after_ms : cfg->stream_timeout_ms / 2;
}

/* Should the main circuit's stream go to the retry now? When it failed, or
 * is still unanswered after the retry delay. */
static bool port_wants_retry(job_t *j, pstream_t *st, bool delay_over) {
  if (probe_stream(&j->retry, st->port_idx) != NULL) {
    return false;
  }
  if (st->done) {
    return stream_failed(st);
  }
  return delay_over && st->begun && j->main.state == AT_STREAMS;
}

/* The ports that want it go to the retry attempt, through a different first
 * hop: started on the first one, streams added to its circuit after. The
 * confirmation rules are the verdict's and do not change: a port is blamed
 * only when both circuits saw it fail. */
static void job_retry(job_t *j, bool delay_over) {
  scan_t *s = j->s;
  const ep_scan_cfg_t *cfg = s->cfg;
  attempt_t *m = &j->main, *r = &j->retry;
  if (cfg->no_retry || s->finalizing || j->finished) {
    return;
  }
  /* a main circuit that never got built: a retry cannot tell more */
  if (m->state == AT_DONE ? circuit_never_built(m) : m->state != AT_STREAMS) {
    return;
  }
  if (!j->retried && r->cap_streams == 0) {
    attempt_init(r, j, true, cfg->n_ports);
  }
  size_t added = 0;
  for (size_t p = 0; p < cfg->n_ports; p++) {
    pstream_t *st = probe_stream(m, p);
    if (st != NULL && port_wants_retry(j, st, delay_over) &&
        add_stream(r, SK_PROBE, cfg->ports[p], p) != NULL) {
      added++;
    }
  }
  if (added == 0) {
    return;
  }
  if (!j->retried) {
    set_job_state(j, JOB_RETRY);
    attempt_start(r);
  } else if (r->state == AT_STREAMS) {
    begin_streams(r);
  } else if (r->state == AT_DONE && r->gave_up) {
    for (size_t i = 0; i < r->n_streams; i++) {
      stream_fail_as(r, &r->streams[i]); /* no first hop left: the new ports fail alike */
    }
  } else if (r->state == AT_DONE) {
    set_attempt_state(r, AT_IDLE); /* its circuit broke with nothing to carry */
    attempt_start(r);
  } /* building, or waiting for a first hop: they begin when it opens */
}

static void on_retry_delay(ep_loop_t *loop, void *arg) {
  (void)loop;
  job_t *j = arg;
  j->retry_timer = 0;
  job_retry(j, true);
}

/* The main circuit's streams began: the retry delay counts from now. */
static void job_arm_retry(job_t *j) {
  scan_t *s = j->s;
  if (j->retry_timer != 0) {
    ep_loop_timer_cancel(s->loop, j->retry_timer);
    j->retry_timer = 0;
  }
  if (!s->cfg->no_retry) {
    j->retry_timer = ep_loop_timer_in(s->loop, retry_delay_ms(s->cfg), on_retry_delay, j);
  }
}

/* An attempt is over. The job is over when the main one is and the retry,
 * if it started, is too. */
static void job_attempt_done(job_t *j, attempt_t *a) {
  scan_t *s = j->s;
  if (j->finished) {
    return;
  }
  attempt_t *r = &j->retry;
  if (a == &j->main) {
    job_retry(j, false); /* the ports that failed last */
    if (j->retried && r->state != AT_DONE) {
      if (r->state == AT_STREAMS && attempt_all_done(r)) {
        attempt_finish(r); /* and through it, job_attempt_done(j, r) */
      }
      return;
    }
  } else if (j->main.state != AT_DONE) {
    return; /* the main circuit still runs */
  }
  job_finish(j, false);
  start_jobs(s);
}

static void job_start(scan_t *s, job_t *j) {
  const ep_scan_cfg_t *cfg = s->cfg;
  set_job_state(j, JOB_MAIN);
  for (size_t p = 0; p < cfg->n_ports; p++) {
    if (port_wanted(j->exit, p)) {
      add_stream(&j->main, SK_PROBE, cfg->ports[p], p);
    }
  }
  if (!cfg->no_control) {
    add_stream(&j->main, SK_CONTROL_DIR, 0, 0);
    if (j->exit->control_port != 0) {
      add_stream(&j->main, SK_CONTROL_PORT, j->exit->control_port, 0);
    }
  }
  dns_add_resolves(j);
  attempt_start(&j->main);
}

static void start_jobs(scan_t *s) {
  while (!s->finalizing && s->active < s->cfg->concurrency && s->next_job < s->n_exits) {
    job_t *j = &s->jobs[s->next_job++];
    job_start(s, j);
  }
}

/* The round is over (done, stopped or out of time): whatever is unfinished
 * is written with what it knows, and every candidate ends with a record — one
 * never probed says so (circuit-failed, no verdict). */
static void scan_finalize(scan_t *s) {
  s->finalizing = true;
  for (size_t i = 0; i < s->n_exits; i++) {
    job_t *j = &s->jobs[i];
    if (!j->started) {
      set_job_state(j, JOB_MAIN);
    }
    if (!j->finished) {
      attempt_release_hop(&j->main);
      attempt_release_hop(&j->retry);
      set_attempt_state(&j->main, AT_DONE);
      set_attempt_state(&j->retry, AT_DONE);
      job_finish(j, true);
    }
  }
  ep_records_flush(&s->records);
}

/* ------------------------------------------------------------ progress */

static void print_progress(scan_t *s, bool final) {
  const ep_scan_cfg_t *cfg = s->cfg;
  if (cfg->progress != NULL) {
    ep_scan_progress_print(cfg->progress, cfg->progress_tty, final, cfg->round, s->finished,
                           s->n_exits, s->active, ep_now_ms() - s->t0);
  }
}

static void on_progress(ep_loop_t *loop, void *arg) {
  scan_t *s = arg;
  print_progress(s, false);
  s->progress_timer = ep_loop_timer_in(loop, s->cfg->progress_tty ? 1000 : 10000, on_progress, s);
}

static bool scan_done(void *arg) {
  scan_t *s = arg;
  return s->finished == s->n_exits;
}

/* ----------------------------------------------------------------- API */

void ep_scan_cfg_defaults(ep_scan_cfg_t *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->ports[0] = 25;
  cfg->n_ports = 1;
  cfg->target_host = "127.0.0.1";
  cfg->round = 1;
  cfg->concurrency = 64;
  cfg->link_timeout_ms = 15000;
  cfg->circuit_timeout_ms = 20000;
  cfg->stream_timeout_ms = 10000;
  cfg->first_hop_tries = 3;
  cfg->tcp_window_ms = 2000;
  ep_dos_params_t dos;
  ep_dos_params_defaults(&dos);
  ep_hop_pacing_from_dos(&dos, &cfg->hop_pacing);
}

/* ---------------------------------------------------- first hops, per round */

/* Links kept from the last round (cfg->links): their hops start open. */
static void hops_take_links(scan_t *s) {
  int64_t now = ep_now_ms();
  for (size_t i = 0; i < s->n_hops && s->cfg->links != NULL; i++) {
    hop_t *h = &s->hops[i];
    h->car = ep_linkpool_take(s->cfg->links, h->relay->target.rsa_id, now, &hop_cbs, h);
    if (h->car != NULL) {
      set_hop_state(h, HOP_OPEN);
    }
  }
}

/* The round is over: open links of hops that did not fail go back to
 * cfg->links for the next round, the others are closed. */
static void hops_release_links(scan_t *s) {
  int64_t now = ep_now_ms();
  for (size_t i = 0; i < s->n_hops; i++) {
    hop_t *h = &s->hops[i];
    if (s->cfg->links != NULL && h->car != NULL && h->state == HOP_OPEN && !h->failed) {
      ep_linkpool_put(s->cfg->links, h->relay->target.rsa_id, h->car, now);
    } else {
      ep_carrier_free(h->car);
    }
    h->car = NULL;
  }
}

/* Weights from the bandwidth and earlier rounds; pacing buckets full. */
static int hops_init(scan_t *s, const ep_scan_relay_t *first_hops, size_t n, ep_err_t *err) {
  const ep_scan_cfg_t *cfg = s->cfg;
  s->hops = calloc(n, sizeof *s->hops);
  s->pick_w = calloc(n, sizeof *s->pick_w);
  s->pick_idx = calloc(n, sizeof *s->pick_idx);
  if (s->hops == NULL || s->pick_w == NULL || s->pick_idx == NULL) {
    return ep_err_set(err, EP_ERR_NOMEM, "scan: out of memory");
  }
  s->n_hops = n;
  int64_t now = ep_now_ms();
  for (size_t i = 0; i < n; i++) {
    hop_t *h = &s->hops[i];
    h->s = s;
    h->relay = &first_hops[i];
    uint32_t fails = cfg->hop_history ? ep_hophist_fails(cfg->hop_history, h->relay->target.rsa_id) : 0;
    h->weight = ep_hop_weight(h->relay->bandwidth, fails);
    ep_bucket_init(&h->bucket, &cfg->hop_pacing, now);
  }
  uint64_t seed = cfg->hop_seed != 0 ? cfg->hop_seed : ((uint64_t)time(NULL) << 20) ^ (uint64_t)ep_now_ms();
  ep_rng_seed(&s->rng, seed);
  if (cfg->cbt != NULL) {
    s->cbt = cfg->cbt;
  } else {
    ep_cbt_init(&s->own_cbt);
    s->cbt = &s->own_cbt;
  }
  hops_take_links(s);
  return EP_OK;
}

static int cmp_size(const void *x, const void *y) {
  size_t a = *(const size_t *)x;
  size_t b = *(const size_t *)y;
  return a < b ? -1 : a > b ? 1 : 0;
}

/* Circuits per first hop into the summary (and cfg->hop_report); failures
 * into the history for the next rounds. */
static void hops_round_end(scan_t *s) {
  ep_scan_summary_t *sum = s->sum;
  size_t *counts = s->pick_idx; /* scratch, as many as hops */
  size_t n = 0;
  for (size_t i = 0; i < s->n_hops; i++) {
    hop_t *h = &s->hops[i];
    if (h->circuits > 0) {
      counts[n++] = h->circuits;
      if (s->cfg->hop_report != NULL) {
        fprintf(s->cfg->hop_report, "first hop %s %s: %zu circuits%s\n", h->relay->ref.fingerprint,
                h->relay->ref.nickname, h->circuits, h->failed ? " (failed, avoided)" : "");
      } else {
        ep_info("scan: first hop %s %s: %zu circuits%s", h->relay->ref.fingerprint,
                h->relay->ref.nickname, h->circuits, h->failed ? " (failed, avoided)" : "");
      }
    }
    if (s->cfg->hop_history != NULL && (h->circuits > 0 || h->failed)) {
      ep_hophist_note(s->cfg->hop_history, h->relay->target.rsa_id, h->failed, NULL);
    }
  }
  sum->hops_used = n;
  sum->cbt_ms = try_timeout_ms(s, 0);
  if (n > 0) {
    qsort(counts, n, sizeof *counts, cmp_size);
    sum->hop_circuits_min = counts[0];
    sum->hop_circuits_median = counts[n / 2];
    sum->hop_circuits_max = counts[n - 1];
  }
}

int ep_scan_svc_send(ep_ncirc_t *c, ep_streamrec_t *rec, ep_svc_t *sv, ep_err_t *err) {
  const uint8_t *p;
  size_t n;
  while (c != NULL && rec->circ == c && rec->connected && (n = ep_svc_output(sv, &p)) > 0) {
    size_t written = 0;
    int rc = ep_ncirc_write(c, rec, p, n, &written, err);
    if (rc != EP_OK) {
      return rc;
    }
    if (written == 0) {
      break; /* the windows are full: EP_SREC_WRITABLE comes */
    }
    ep_svc_output_done(sv, written);
  }
  return EP_OK;
}

ep_svc_spec_t ep_scan_port_service(const ep_scan_cfg_t *cfg, size_t i) {
  if (i < EP_SCAN_MAX_PORTS && (cfg->services_given & (UINT32_C(1) << i)) != 0) {
    return cfg->services[i];
  }
  return ep_svc_for_port(i < cfg->n_ports ? cfg->ports[i] : 0);
}

const char *ep_scan_port_target(const ep_scan_cfg_t *cfg, size_t i) {
  return i < EP_SCAN_MAX_PORTS && cfg->port_targets[i] != NULL ? cfg->port_targets[i]
                                                                : cfg->target_host;
}

/* The round's names to RESOLVE (#14): each port's target that is a name,
 * and the wildcard zone; s->dns stays NULL without names or with
 * --no-dns-check. */
static int dns_round_new(scan_t *s, ep_err_t *err) {
  const ep_scan_cfg_t *cfg = s->cfg;
  if (cfg->no_dns_check) {
    return EP_OK;
  }
  const char *hosts[EP_SCAN_MAX_PORTS];
  for (size_t p = 0; p < cfg->n_ports; p++) {
    hosts[p] = ep_scan_port_target(cfg, p);
  }
  ep_dns_round_t *r = malloc(sizeof *r);
  if (r == NULL) {
    return ep_err_set(err, EP_ERR_NOMEM, "scan: out of memory");
  }
  int rc = ep_dns_round_init(r, hosts, cfg->n_ports, cfg->dns_probe_domain, err);
  if (rc != EP_OK || r->n_names == 0) {
    free(r);
    return rc;
  }
  s->dns = r;
  return EP_OK;
}

int ep_scan_run(ep_loop_t *loop, ep_tls_ctx_t *tls, const ep_scan_relay_t *exits, size_t n_exits,
                const ep_scan_relay_t *first_hops, size_t n_first_hops, const ep_scan_cfg_t *cfg,
                ep_scan_summary_t *sum, ep_err_t *err) {
  memset(sum, 0, sizeof *sum);
  sum->exits = n_exits;
  if (cfg->n_ports == 0 || cfg->n_ports > EP_SCAN_MAX_PORTS) {
    return ep_err_set(err, EP_ERR_STATE, "scan: between 1 and %d ports", EP_SCAN_MAX_PORTS);
  }
  if (n_first_hops == 0) {
    return ep_err_set(err, EP_ERR_STATE, "scan: no first hops to build circuits through");
  }
  scan_t s;
  memset(&s, 0, sizeof s);
  s.loop = loop;
  s.tls = tls;
  s.cfg = cfg;
  s.sum = sum;
  s.exits = exits;
  s.n_exits = n_exits;
  s.t0 = ep_now_ms();
  s.records.out = cfg->out;
  s.records.csv = cfg->csv;
  s.records.sum = sum;
  /* before the hops: once they took the kept links, nothing may fail */
  int drc = dns_round_new(&s, err);
  if (drc != EP_OK) {
    return drc;
  }
  s.jobs = calloc(n_exits ? n_exits : 1, sizeof *s.jobs);
  if (s.jobs == NULL || hops_init(&s, first_hops, n_first_hops, err) != EP_OK) {
    free(s.hops);
    free(s.pick_w);
    free(s.pick_idx);
    free(s.jobs);
    free(s.dns);
    return ep_err_set(err, EP_ERR_NOMEM, "scan: out of memory");
  }
  for (size_t i = 0; i < n_exits; i++) {
    s.jobs[i].s = &s;
    s.jobs[i].exit = &exits[i];
  }
  if (cfg->progress != NULL) {
    s.progress_timer = ep_loop_timer_in(loop, cfg->progress_tty ? 1000 : 10000, on_progress, &s);
  }
  arm_build_check(&s);
  start_jobs(&s);
  int rc = ep_loop_run_until(loop, scan_done, &s,
                             cfg->deadline_ms > 0 ? cfg->deadline_ms : EP_LOOP_NO_DEADLINE, err);
  if (rc == EP_LOOP_STOPPED) {
    sum->interrupted = true;
  } else if (rc == EP_LOOP_DEADLINE) {
    sum->deadline_hit = true;
  }
  scan_finalize(&s);
  ep_loop_timer_cancel(loop, s.build_timer);
  if (s.progress_timer != 0) {
    ep_loop_timer_cancel(loop, s.progress_timer);
  }
  hops_round_end(&s);
  print_progress(&s, true);
  hops_release_links(&s);
  ep_loop_run_once(loop, 0, NULL); /* let closed links be released */
  sum->wall_ms = ep_now_ms() - s.t0;
  free(s.hops);
  free(s.pick_w);
  free(s.pick_idx);
  free(s.jobs);
  free(s.dns);
  return rc < 0 ? rc : EP_OK;
}
