/* exitprobe — a client channel: link handshake and circuit table (tor-spec §4, §5). */
#include "config.h"

#include "proto/channel.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/caps.h"
#include "lib/vec.h"
#include "lib/crypto.h"
#include "lib/encode.h"

/* A cell yields at most a couple of events (DATA, WRITABLE, DESTROYED...);
 * the next cell is decoded only once the queue is empty. */
#define EVQ_CAP 8

typedef struct circ_slot {
  uint32_t id;
  ep_circ_t *c;
} circ_slot_t;

struct ep_channel {
  ep_chan_state_t state;
  int linkproto;                 /* 0 until VERSIONS is negotiated */
  ep_target_t peer;
  uint8_t *tls_cert;
  size_t tls_cert_len;
  ep_buf_t in;
  size_t in_off;                 /* bytes of `in` already decoded */
  ep_buf_t out;
  time_t now;
  ep_channel_info_t info;
  unsigned n_vpadding;           /* padding cells during the handshake */
  ep_event_t evq[EVQ_CAP];
  size_t ev_head, ev_n;
  circ_slot_t *circs;            /* sorted by id */
  size_t n_circs, cap_circs;
  ep_cell_trace_fn trace_fn;
  void *trace_arg;
  ep_channel_out_fn out_fn;      /* told of every cell queued */
  void *out_arg;
  ep_err_t fail;
  bool fail_reported;
  ep_rng_pool_t rng;             /* circuit ids, and everything its circuits draw */
};

const char *ep_chan_state_name(ep_chan_state_t s) {
  switch (s) {
    case EP_CHAN_NEW: return "new";
    case EP_CHAN_WAIT_VERSIONS: return "wait-versions";
    case EP_CHAN_WAIT_CERTS: return "wait-certs";
    case EP_CHAN_WAIT_AUTH: return "wait-auth-challenge";
    case EP_CHAN_WAIT_NETINFO: return "wait-netinfo";
    case EP_CHAN_OPEN: return "open";
    case EP_CHAN_FAILED: return "failed";
    default: return "?";
  }
}

/* ---- Circuit table (sorted array, binary search) ---- */

static size_t circ_lower_bound(const ep_channel_t *ch, uint32_t id) {
  size_t lo = 0, hi = ch->n_circs;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (ch->circs[mid].id < id) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

static ep_circ_t *circ_find(const ep_channel_t *ch, uint32_t id) {
  size_t i = circ_lower_bound(ch, id);
  return i < ch->n_circs && ch->circs[i].id == id ? ch->circs[i].c : NULL;
}

static int circ_insert(ep_channel_t *ch, uint32_t id, ep_circ_t *c) {
  int rc = EP_VEC_RESERVE(ch->circs, ch->cap_circs, ch->n_circs + 1, EP_CAP_CIRCS_PER_CHAN,
                          "circuits of a channel", NULL);
  if (rc != EP_OK) {
    return rc;
  }
  size_t i = circ_lower_bound(ch, id);
  memmove(ch->circs + i + 1, ch->circs + i, (ch->n_circs - i) * sizeof *ch->circs);
  ch->circs[i].id = id;
  ch->circs[i].c = c;
  ch->n_circs++;
  return EP_OK;
}

static void circ_remove(ep_channel_t *ch, uint32_t id) {
  size_t i = circ_lower_bound(ch, id);
  if (i < ch->n_circs && ch->circs[i].id == id) {
    ep_circ_free(ch->circs[i].c);
    memmove(ch->circs + i, ch->circs + i + 1, (ch->n_circs - i - 1) * sizeof *ch->circs);
    ch->n_circs--;
  }
}

static void free_all_circs(ep_channel_t *ch) {
  for (size_t i = 0; i < ch->n_circs; i++) {
    ep_circ_mark_closed(ch->circs[i].c);
    ep_circ_free(ch->circs[i].c);
  }
  ch->n_circs = 0;
}

/* ---- Failure, events, trace ---- */

static void chan_fail(ep_channel_t *ch, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void chan_fail(ep_channel_t *ch, int code, const char *fmt, ...) {
  if (ch->state == EP_CHAN_FAILED) {
    return;
  }
  ch->fail.code = code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ch->fail.msg, sizeof ch->fail.msg, fmt, ap);
  va_end(ap);
  /* Circuits are freed when the failure is reported (or with the channel),
   * never here: a circuit may be on the call stack. */
  ch->state = EP_CHAN_FAILED;
}

static int push_event(void *ctx, const ep_event_t *ev) {
  ep_channel_t *ch = ctx;
  if (ch->ev_n == EVQ_CAP) {
    chan_fail(ch, EP_ERR_INTERNAL, "channel: event queue overflow");
    return EP_ERR_INTERNAL;
  }
  ch->evq[(ch->ev_head + ch->ev_n) % EVQ_CAP] = *ev;
  ch->ev_n++;
  return EP_OK;
}

static void trace(ep_channel_t *ch, const ep_cell_trace_t *t) {
  if (ch->trace_fn != NULL) {
    ch->trace_fn(ch->trace_arg, t);
  }
}

static void trace_in_cb(void *ctx, const ep_cell_trace_t *t) { trace(ctx, t); }

/* ---- Output ---- */

static int queue_cell(ep_channel_t *ch, uint32_t circ_id, uint8_t command, const uint8_t *payload,
                      size_t plen, ep_cell_trace_t *t) {
  if (ch->state == EP_CHAN_FAILED) {
    return EP_ERR_STATE;
  }
  size_t need = ep_cell_command_is_var(command) ? EP_CELL_VAR_HEADER_MAX + plen
                                                : EP_CELL_MAX_FIXED_LEN;
  ep_err_t e = {0};
  uint8_t *p = ep_buf_space(&ch->out, need, &e);
  if (p == NULL) {
    chan_fail(ch, EP_ERR_LIMIT, "channel: output queue full (%s)", e.msg);
    return EP_ERR_LIMIT;
  }
  /* VERSIONS always travels with 2-byte circuit ids (tor-spec §3). */
  int proto = command == EP_CELL_VERSIONS ? 0 : ch->linkproto;
  ssize_t n = ep_cell_encode(p, need, proto, circ_id, command, payload, plen, &e);
  if (n < 0) {
    chan_fail(ch, (int)n, "channel: cannot encode a cell: %s", e.msg);
    return (int)n;
  }
  ep_buf_commit(&ch->out, (size_t)n);
  ep_cell_trace_t base = {0};
  if (t == NULL) {
    t = &base;
  }
  t->outbound = true;
  t->circ_id = circ_id;
  t->command = command;
  t->length = ep_cell_command_is_var(command) ? plen : EP_CELL_PAYLOAD_LEN;
  trace(ch, t);
  if (ch->out_fn != NULL) {
    ch->out_fn(ch->out_arg);
  }
  return EP_OK;
}

static int circ_send_cb(void *ctx, uint32_t circ_id, uint8_t command,
                        const uint8_t payload[EP_CELL_PAYLOAD_LEN], ep_cell_trace_t *t) {
  return queue_cell(ctx, circ_id, command, payload, EP_CELL_PAYLOAD_LEN, t);
}

/* ---- Lifecycle ---- */

ep_channel_t *ep_channel_new(const ep_target_t *peer, ep_err_t *err) {
  ep_channel_t *ch = calloc(1, sizeof *ch);
  if (ch == NULL) {
    ep_err_set(err, EP_ERR_NOMEM, "channel: out of memory");
    return NULL;
  }
  ch->peer = *peer;
  ep_buf_init(&ch->in, EP_CAP_LINK_INBUF, "EP_CAP_LINK_INBUF", 0);
  ep_buf_init(&ch->out, EP_CAP_LINK_OUTBUF, "EP_CAP_LINK_OUTBUF", 0);
  ep_rng_pool_init(&ch->rng);
  return ch;
}

void ep_channel_free(ep_channel_t *ch) {
  if (ch == NULL) {
    return;
  }
  free_all_circs(ch);
  free(ch->circs);
  free(ch->tls_cert);
  ep_buf_free(&ch->in);
  ep_buf_free(&ch->out);
  ep_rng_pool_wipe(&ch->rng);
  free(ch);
}

int ep_channel_start(ep_channel_t *ch, const uint8_t *tls_cert_der, size_t len, time_t now,
                     ep_err_t *err) {
  if (ch->state != EP_CHAN_NEW) {
    return ep_err_set(err, EP_ERR_STATE, "channel: already started");
  }
  if (tls_cert_der == NULL || len == 0 || len > 65535) {
    return ep_err_set(err, EP_ERR_MALFORMED, "channel: TLS certificate of %zu bytes", len);
  }
  ch->tls_cert = malloc(len);
  if (ch->tls_cert == NULL) {
    return ep_err_set(err, EP_ERR_NOMEM, "channel: out of memory");
  }
  memcpy(ch->tls_cert, tls_cert_der, len);
  ch->tls_cert_len = len;
  ch->now = now;
  static const uint16_t ours[] = {3, 4, 5};
  uint8_t payload[8];
  size_t plen;
  int rc = ep_versions_encode(payload, sizeof payload, ours, 3, &plen, err);
  if (rc != EP_OK) {
    return rc;
  }
  ch->state = EP_CHAN_WAIT_VERSIONS;
  rc = queue_cell(ch, 0, EP_CELL_VERSIONS, payload, plen, NULL);
  if (rc != EP_OK) {
    return ep_err_set(err, rc, "%s", ch->fail.msg);
  }
  return EP_OK;
}

/* Drop the decoded bytes, moving the undecoded ones to the front. */
static void compact(ep_channel_t *ch) {
  if (ch->in_off > 0) {
    ep_buf_consume(&ch->in, ch->in_off);
    ch->in_off = 0;
  }
}

static int input_ready(ep_channel_t *ch, ep_err_t *err) {
  if (ch->state == EP_CHAN_FAILED) {
    return ep_err_set(err, EP_ERR_STATE, "channel failed: %s", ch->fail.msg);
  }
  if (ch->state == EP_CHAN_NEW) {
    return ep_err_set(err, EP_ERR_STATE, "channel: bytes before ep_channel_start");
  }
  return EP_OK;
}

static int input_full(ep_channel_t *ch, const char *why, ep_err_t *err) {
  chan_fail(ch, EP_ERR_LIMIT, "channel: input buffer full: %s", why);
  return ep_err_set(err, EP_ERR_LIMIT, "%s", ch->fail.msg);
}

int ep_channel_feed(ep_channel_t *ch, const uint8_t *data, size_t n, time_t now, ep_err_t *err) {
  int rc = input_ready(ch, err);
  if (rc != EP_OK) {
    return rc;
  }
  ch->now = now;
  compact(ch);
  ep_err_t e = {0};
  if (ep_buf_append(&ch->in, data, n, &e) != EP_OK) {
    return input_full(ch, e.msg, err);
  }
  return EP_OK;
}

/* Bytes still missing from the partial cell at the front of the undecoded
 * input, or 0 if unknown (its header is incomplete) or if a whole cell is
 * there. */
static size_t partial_cell_need(const ep_channel_t *ch) {
  size_t held = ch->in.len - ch->in_off;
  size_t clen = 0;
  int rc = ep_cell_frame(ch->in.data + ch->in_off, held, ch->linkproto, &clen, NULL);
  return rc == EP_NEED_MORE && clen > held ? clen - held : 0;
}

uint8_t *ep_channel_input_space(ep_channel_t *ch, size_t want, size_t *room, ep_err_t *err) {
  *room = 0;
  if (input_ready(ch, err) != EP_OK) {
    return NULL;
  }
  size_t offer = want;
  if (ch->in_off == ch->in.len) {
    compact(ch);   /* all decoded: start over at the front, nothing moves */
  } else if (ch->in.len >= want) {
    /* This stretch is used: complete the partial cell where it is (the next
     * call then starts over), or, if its length is not known yet, move the
     * few undecoded bytes to the front. */
    offer = partial_cell_need(ch);
    if (offer == 0) {
      compact(ch);
      offer = want;
    }
  }
  if (offer > ch->in.cap - ch->in.len && ch->in_off > 0) {
    compact(ch);
  }
  if (offer > ch->in.cap - ch->in.len) {
    offer = ch->in.cap - ch->in.len;
  }
  if (offer == 0) {
    char why[96];
    snprintf(why, sizeof why, "%zu undecoded bytes, its cap (%s) is %zu", ch->in.len - ch->in_off,
             ch->in.name, ch->in.cap);
    input_full(ch, why, err);
    return NULL;
  }
  ep_err_t e = {0};
  uint8_t *p = ep_buf_space(&ch->in, offer, &e);
  if (p == NULL) {
    chan_fail(ch, e.code, "channel: %s", e.msg);
    ep_err_set(err, e.code, "%s", ch->fail.msg);
    return NULL;
  }
  *room = offer;
  return p;
}

void ep_channel_input_commit(ep_channel_t *ch, size_t n, time_t now) {
  ch->now = now;
  ep_buf_commit(&ch->in, n);
}

const uint8_t *ep_channel_out(ep_channel_t *ch, size_t *len) {
  *len = ch->out.len;
  return ch->out.data;
}

void ep_channel_set_out_notify(ep_channel_t *ch, ep_channel_out_fn fn, void *arg) {
  ch->out_fn = fn;
  ch->out_arg = arg;
}

void ep_channel_out_consume(ep_channel_t *ch, size_t n) {
  ep_buf_consume(&ch->out, n <= ch->out.len ? n : ch->out.len);
}

ep_chan_state_t ep_channel_state(const ep_channel_t *ch) { return ch->state; }
const ep_channel_info_t *ep_channel_info(const ep_channel_t *ch) { return &ch->info; }
size_t ep_channel_n_circs(const ep_channel_t *ch) { return ch->n_circs; }

const ep_err_t *ep_channel_error(const ep_channel_t *ch) {
  return ch->state == EP_CHAN_FAILED ? &ch->fail : NULL;
}

void ep_channel_set_trace(ep_channel_t *ch, ep_cell_trace_fn fn, void *arg) {
  ch->trace_fn = fn;
  ch->trace_arg = arg;
}

/* ---- The handshake ---- */

static const char *cmd_name(uint8_t cmd, char buf[16]) {
  const char *n = ep_cell_command_name(cmd);
  if (n == NULL) {
    snprintf(buf, 16, "command-%u", (unsigned)cmd);
    return buf;
  }
  return n;
}

static void peer_desc(const ep_channel_t *ch, char out[48]) {
  char hex[41];
  ep_hex_encode(hex, sizeof hex, ch->peer.rsa_id, 20, true);
  snprintf(out, 48, "$%s", hex);
}

static void on_versions(ep_channel_t *ch, const ep_cell_t *cell) {
  ep_versions_t v;
  ep_err_t e = {0};
  if (ep_versions_parse(cell->payload, cell->payload_len, &v, &e) != EP_OK) {
    chan_fail(ch, e.code, "%s", e.msg);
    return;
  }
  int best = ep_versions_choose(&v, EP_LINKPROTO_MIN, EP_LINKPROTO_MAX);
  if (best < 0) {
    char list[64] = "";
    size_t off = 0;
    for (size_t i = 0; i < v.n && off + 8 < sizeof list; i++) {
      off += (size_t)snprintf(list + off, sizeof list - off, "%s%u", i ? "," : "", v.v[i]);
    }
    chan_fail(ch, EP_ERR_UNSUPPORTED, "VERSIONS: no common link protocol (relay offers [%s], we %d-%d)",
              list, EP_LINKPROTO_MIN, EP_LINKPROTO_MAX);
    return;
  }
  ch->linkproto = best;
  ch->info.linkproto = best;
  ch->state = EP_CHAN_WAIT_CERTS;
}

static void on_certs(ep_channel_t *ch, const ep_cell_t *cell) {
  ep_certs_t certs;
  ep_err_t e = {0};
  char who[48];
  peer_desc(ch, who);
  if (ep_certs_parse(cell->payload, cell->payload_len, &certs, &e) != EP_OK) {
    chan_fail(ch, e.code, "%s: %s", who, e.msg);
    return;
  }
  ep_certs_expect_t want = {
    .rsa_id = ch->peer.rsa_id,
    .ed25519_id = ch->peer.has_ed25519 ? ch->peer.ed25519_id : NULL,
    .tls_cert_der = ch->tls_cert,
    .tls_cert_len = ch->tls_cert_len,
    .now = ch->now,
  };
  int rc = ep_certs_verify(&certs, &want, &ch->info.proven, &e);
  if (rc != EP_OK) {
    chan_fail(ch, rc, "%s: %s", who, e.msg);
    return;
  }
  ch->state = EP_CHAN_WAIT_AUTH;
}

static void on_auth_challenge(ep_channel_t *ch, const ep_cell_t *cell) {
  ep_auth_challenge_t ac;
  ep_err_t e = {0};
  if (ep_auth_challenge_parse(cell->payload, cell->payload_len, &ac, &e) != EP_OK) {
    chan_fail(ch, e.code, "%s", e.msg);
    return;
  }
  /* We do not authenticate: accepted and ignored (tor-spec §4). */
  ch->state = EP_CHAN_WAIT_NETINFO;
}

static void on_netinfo(ep_channel_t *ch, const ep_cell_t *cell) {
  ep_netinfo_t ni;
  ep_err_t e = {0};
  if (ep_netinfo_parse(cell->payload, cell->payload_len, &ni, &e) != EP_OK) {
    chan_fail(ch, e.code, "%s", e.msg);
    return;
  }
  ch->info.peer_time = ni.timestamp;
  ch->info.clock_skew = ni.timestamp != 0 ? (int64_t)ni.timestamp - (int64_t)ch->now : 0;
  ch->info.our_addr = ni.other;
  static const uint8_t zero4[4] = {0};
  if (ni.other.family == EP_IPADDR_V4 && memcmp(ni.other.bytes, zero4, 4) == 0) {
    ch->info.our_addr.family = EP_IPADDR_NONE;   /* 0.0.0.0: "not known" */
  }
  ch->info.n_peer_addrs = ni.n_my_kept;
  memcpy(ch->info.peer_addrs, ni.my, sizeof ni.my);

  /* Ours: time 0 (clients send 0, tor-spec §4.5), the relay's address as we
   * dialled it, no addresses of our own. */
  ep_netinfo_t mine;
  memset(&mine, 0, sizeof mine);
  mine.other.family = EP_IPADDR_V4;
  ep_put_u32(mine.other.bytes, ch->peer.ipv4);
  uint8_t payload[EP_CELL_PAYLOAD_LEN];
  if (ep_netinfo_encode(payload, &mine, &e) != EP_OK) {
    chan_fail(ch, e.code, "%s", e.msg);
    return;
  }
  if (queue_cell(ch, 0, EP_CELL_NETINFO, payload, sizeof payload, NULL) != EP_OK) {
    return;
  }
  ch->state = EP_CHAN_OPEN;
  ep_event_t ev;
  memset(&ev, 0, sizeof ev);
  ev.type = EP_EV_CHAN_OPEN;
  push_event(ch, &ev);
}

/* A cell during the handshake. */
static void handshake_cell(ep_channel_t *ch, const ep_cell_t *cell) {
  char nb[16];
  if (cell->command == EP_CELL_VPADDING) {
    if (++ch->n_vpadding > EP_CAP_VPADDING_CELLS) {
      chan_fail(ch, EP_ERR_LIMIT, "handshake: more than %u VPADDING cells",
                EP_CAP_VPADDING_CELLS);
    }
    return;
  }
  switch (ch->state) {
    case EP_CHAN_WAIT_VERSIONS:
      if (cell->command == EP_CELL_VERSIONS) {
        on_versions(ch, cell);
        return;
      }
      break;
    case EP_CHAN_WAIT_CERTS:
      if (cell->command == EP_CELL_CERTS) {
        on_certs(ch, cell);
        return;
      }
      break;
    case EP_CHAN_WAIT_AUTH:
      if (cell->command == EP_CELL_AUTH_CHALLENGE) {
        on_auth_challenge(ch, cell);
        return;
      }
      if (cell->command == EP_CELL_NETINFO) {
        on_netinfo(ch, cell);
        return;
      }
      break;
    case EP_CHAN_WAIT_NETINFO:
      if (cell->command == EP_CELL_NETINFO) {
        on_netinfo(ch, cell);
        return;
      }
      break;
    default:
      break;
  }
  chan_fail(ch, EP_ERR_STATE, "handshake: %s cell while %s", cmd_name(cell->command, nb),
            ep_chan_state_name(ch->state));
}

/* A cell on an open channel, `payload` the writable bytes cell->payload
 * points to (relay cells are decrypted there). Returns false if the cell was
 * dropped. */
static bool open_cell(ep_channel_t *ch, const ep_cell_t *cell, uint8_t *payload,
                      ep_cell_trace_t *t) {
  char nb[16];
  switch (cell->command) {
    case EP_CELL_PADDING:
    case EP_CELL_VPADDING:
    case EP_CELL_PADDING_NEGOTIATE:
    case EP_CELL_VERSIONS:     /* later VERSIONS cells are ignored (§4.1) */
      trace(ch, t);
      return true;
    case EP_CELL_CERTS:
    case EP_CELL_AUTH_CHALLENGE:
    case EP_CELL_NETINFO:
    case EP_CELL_AUTHENTICATE:
      trace(ch, t);
      chan_fail(ch, EP_ERR_STATE, "%s cell after the handshake", cmd_name(cell->command, nb));
      return true;
    case EP_CELL_CREATED:
    case EP_CELL_CREATED2:
    case EP_CELL_CREATED_FAST:
    case EP_CELL_RELAY:
    case EP_CELL_RELAY_EARLY:
    case EP_CELL_DESTROY:
      break;
    default:
      /* CREATE* towards a client, unknown commands: dropped (§3). */
      t->dropped = true;
      trace(ch, t);
      return false;
  }
  ep_circ_t *c = cell->circ_id != 0 ? circ_find(ch, cell->circ_id) : NULL;
  bool relay = cell->command == EP_CELL_RELAY || cell->command == EP_CELL_RELAY_EARLY;
  if (cell->command == EP_CELL_DESTROY) {
    uint8_t reason = 0;
    if (ep_destroy_parse(cell->payload, cell->payload_len, &reason, NULL) == EP_OK) {
      t->has_reason = true;
      t->reason = reason;
    }
  }
  if (c == NULL) {
    t->dropped = true;
    trace(ch, t);
    return false;
  }
  if (!relay) {
    trace(ch, t);   /* relay cells are traced by the circuit, once decrypted */
  }
  int rc = ep_circ_handle_cell_in_place(c, cell, payload, t);
  if (rc != EP_OK) {
    if (ch->state != EP_CHAN_FAILED) {
      chan_fail(ch, rc, "circuit %08x: %s", (unsigned)cell->circ_id, ep_status_name(rc));
    }
    return true;
  }
  if (ep_circ_is_closed(c)) {
    circ_remove(ch, cell->circ_id);
  }
  return true;
}

static void handle_cell(ep_channel_t *ch, const ep_cell_t *cell, uint8_t *payload) {
  ep_cell_trace_t t = {0};
  t.outbound = false;
  t.circ_id = cell->circ_id;
  t.command = cell->command;
  t.length = cell->payload_len;
  if (ch->state == EP_CHAN_OPEN) {
    open_cell(ch, cell, payload, &t);
    return;
  }
  trace(ch, &t);
  handshake_cell(ch, cell);
}

bool ep_channel_next_event(ep_channel_t *ch, ep_event_t *ev) {
  for (;;) {
    if (ch->ev_n > 0) {
      *ev = ch->evq[ch->ev_head];
      ch->ev_head = (ch->ev_head + 1) % EVQ_CAP;
      ch->ev_n--;
      return true;
    }
    if (ch->state == EP_CHAN_FAILED) {
      if (ch->fail_reported) {
        return false;
      }
      ch->fail_reported = true;
      free_all_circs(ch);
      memset(ev, 0, sizeof *ev);
      ev->type = EP_EV_CHAN_CLOSED;
      ev->status = ch->fail.code;
      snprintf(ev->msg, sizeof ev->msg, "%s", ch->fail.msg);
      return true;
    }
    if (ch->state == EP_CHAN_NEW) {
      return false;
    }
    size_t avail = ch->in.len - ch->in_off;
    if (avail == 0) {
      return false;
    }
    uint8_t *p = ch->in.data + ch->in_off;
    size_t clen;
    ep_err_t e = {0};
    int rc = ep_cell_frame(p, avail, ch->linkproto, &clen, &e);
    if (rc == EP_NEED_MORE) {
      return false;
    }
    ep_cell_t cell;
    if (rc == EP_OK) {
      rc = ep_cell_parse(p, clen, ch->linkproto, &cell, &e);
    }
    if (rc != EP_OK) {
      chan_fail(ch, rc, "link: %s", e.msg);
      continue;
    }
    /* Decoded in place: the payload is the cell's last bytes, in our buffer. */
    handle_cell(ch, &cell, p + (clen - cell.payload_len));
    ch->in_off += clen;
  }
}

/* ---- Circuits and streams ---- */

static int need_open(const ep_channel_t *ch, ep_err_t *err) {
  if (ch->state != EP_CHAN_OPEN) {
    return ep_err_set(err, EP_ERR_STATE, "channel is %s%s%s", ep_chan_state_name(ch->state),
                      ch->state == EP_CHAN_FAILED ? ": " : "",
                      ch->state == EP_CHAN_FAILED ? ch->fail.msg : "");
  }
  return EP_OK;
}

static ep_circ_t *need_circ(const ep_channel_t *ch, uint32_t circ_id, ep_err_t *err) {
  if (need_open(ch, err) != EP_OK) {
    return NULL;
  }
  ep_circ_t *c = circ_find(ch, circ_id);
  if (c == NULL) {
    ep_err_set(err, EP_ERR_STATE, "no circuit %08x on this channel", (unsigned)circ_id);
  }
  return c;
}

/* After a call that may have closed the circuit (a send failure). */
static void reap(ep_channel_t *ch, ep_circ_t *c, uint32_t id) {
  if (ch->state != EP_CHAN_FAILED && ep_circ_is_closed(c)) {
    circ_remove(ch, id);
  }
}

int ep_channel_circ_create(ep_channel_t *ch, ep_create_kind_t kind, uint32_t *circ_id,
                           ep_err_t *err) {
  int rc = need_open(ch, err);
  if (rc != EP_OK) {
    return rc;
  }
  if (ch->n_circs >= EP_CAP_CIRCS_PER_CHAN) {
    return ep_err_set(err, EP_ERR_LIMIT, "channel: %u circuits already", EP_CAP_CIRCS_PER_CHAN);
  }
  /* Random ids; the initiator of the link sets the high bit (tor-spec
   * §5.1.1; with 2-byte ids a client may pick any, we keep the rule). Tor
   * gives up after 64 tries. */
  uint32_t id = 0;
  for (int tries = 0; tries < 64; tries++) {
    uint32_t r;
    ep_rng_pool_bytes(&ch->rng, &r, sizeof r);
    r = ch->linkproto >= 4 ? (r | 0x80000000u) : ((r & 0xffffu) | 0x8000u);
    if (circ_find(ch, r) == NULL) {
      id = r;
      break;
    }
  }
  if (id == 0) {
    return ep_err_set(err, EP_ERR_LIMIT, "channel: no free circuit id after 64 tries");
  }
  ep_circ_io_t io = {ch, circ_send_cb, push_event, trace_in_cb};
  ep_circ_t *c = ep_circ_new(id, &io);
  if (c == NULL) {
    return ep_err_set(err, EP_ERR_NOMEM, "channel: out of memory");
  }
  ep_circ_set_random(c, ep_rng_pool_fn, &ch->rng);
  rc = circ_insert(ch, id, c);
  if (rc != EP_OK) {
    ep_circ_free(c);
    return ep_err_set(err, rc, "channel: out of memory");
  }
  rc = ep_circ_create(c, kind, &ch->peer, err);
  if (rc != EP_OK) {
    if (ch->state != EP_CHAN_FAILED) {
      circ_remove(ch, id);
    }
    return rc;
  }
  *circ_id = id;
  return EP_OK;
}

int ep_channel_circ_extend(ep_channel_t *ch, uint32_t circ_id, const ep_target_t *next,
                           ep_err_t *err) {
  ep_circ_t *c = need_circ(ch, circ_id, err);
  if (c == NULL) {
    return err != NULL ? err->code : EP_ERR_STATE;
  }
  int rc = ep_circ_extend(c, next, err);
  reap(ch, c, circ_id);
  return rc;
}

void ep_channel_circ_destroy(ep_channel_t *ch, uint32_t circ_id) {
  ep_circ_t *c = circ_find(ch, circ_id);
  if (c == NULL) {
    return;
  }
  if (ch->state != EP_CHAN_FAILED) {
    ep_circ_destroy(c);
  }
  circ_remove(ch, circ_id);
}

const ep_circ_t *ep_channel_circ(const ep_channel_t *ch, uint32_t circ_id) {
  return circ_find(ch, circ_id);
}

int ep_channel_stream_begin(ep_channel_t *ch, uint32_t circ_id, const char *host, uint16_t port,
                            uint32_t flags, uint16_t *stream_id, ep_err_t *err) {
  ep_circ_t *c = need_circ(ch, circ_id, err);
  if (c == NULL) {
    return err != NULL ? err->code : EP_ERR_STATE;
  }
  int rc = ep_circ_begin(c, host, port, flags, stream_id, err);
  reap(ch, c, circ_id);
  return rc;
}

int ep_channel_stream_begin_dir(ep_channel_t *ch, uint32_t circ_id, uint16_t *stream_id,
                                ep_err_t *err) {
  ep_circ_t *c = need_circ(ch, circ_id, err);
  if (c == NULL) {
    return err != NULL ? err->code : EP_ERR_STATE;
  }
  int rc = ep_circ_begin_dir(c, stream_id, err);
  reap(ch, c, circ_id);
  return rc;
}

int ep_channel_stream_resolve(ep_channel_t *ch, uint32_t circ_id, const char *host,
                              uint16_t *stream_id, ep_err_t *err) {
  ep_circ_t *c = need_circ(ch, circ_id, err);
  if (c == NULL) {
    return err != NULL ? err->code : EP_ERR_STATE;
  }
  int rc = ep_circ_resolve(c, host, stream_id, err);
  reap(ch, c, circ_id);
  return rc;
}

int ep_channel_stream_write(ep_channel_t *ch, uint32_t circ_id, uint16_t stream_id,
                            const uint8_t *data, size_t n, size_t *written, ep_err_t *err) {
  *written = 0;
  ep_circ_t *c = need_circ(ch, circ_id, err);
  if (c == NULL) {
    return err != NULL ? err->code : EP_ERR_STATE;
  }
  int rc = ep_circ_write(c, stream_id, data, n, written, err);
  reap(ch, c, circ_id);
  return rc;
}

int ep_channel_stream_end(ep_channel_t *ch, uint32_t circ_id, uint16_t stream_id, uint8_t reason,
                          ep_err_t *err) {
  ep_circ_t *c = need_circ(ch, circ_id, err);
  if (c == NULL) {
    return err != NULL ? err->code : EP_ERR_STATE;
  }
  int rc = ep_circ_end_stream(c, stream_id, reason, err);
  reap(ch, c, circ_id);
  return rc;
}

int ep_channel_stream_hold(ep_channel_t *ch, uint32_t circ_id, uint16_t stream_id, bool hold,
                           ep_err_t *err) {
  ep_circ_t *c = need_circ(ch, circ_id, err);
  if (c == NULL) {
    return err != NULL ? err->code : EP_ERR_STATE;
  }
  int rc = ep_circ_stream_hold(c, stream_id, hold, err);
  reap(ch, c, circ_id);
  return rc;
}
