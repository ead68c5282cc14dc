/* exitprobe — client circuits and streams (tor-spec §5, §6, §7). */
#include "config.h"

#include "proto/circuit.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/caps.h"
#include "lib/crypto.h"
#include "lib/encode.h"
#include "proto/fast.h"
#include "proto/linkspec.h"
#include "proto/ntor.h"
#include "proto/relaycrypt.h"
#include "proto/relaymsg.h"

#include "proto/circuit_internal.h"

const char *ep_circ_state_name(ep_circ_state_t s) {
  switch (s) {
    case EP_CIRC_CREATING: return "creating";
    case EP_CIRC_EXTENDING: return "extending";
    case EP_CIRC_OPEN: return "open";
    case EP_CIRC_CLOSED: return "closed";
    default: return "new";
  }
}

const char *ep_event_type_name(ep_event_type_t type) {
  switch (type) {
    case EP_EV_CHAN_OPEN: return "chan-open";
    case EP_EV_CHAN_CLOSED: return "chan-closed";
    case EP_EV_CIRC_OPEN: return "circ-open";
    case EP_EV_CIRC_DESTROYED: return "circ-destroyed";
    case EP_EV_CIRC_WRITABLE: return "circ-writable";
    case EP_EV_STREAM_CONNECTED: return "stream-connected";
    case EP_EV_STREAM_END: return "stream-end";
    case EP_EV_STREAM_DATA: return "stream-data";
    case EP_EV_STREAM_WRITABLE: return "stream-writable";
    case EP_EV_STREAM_RESOLVED: return "stream-resolved";
    default: return "none";
  }
}

ep_circ_t *ep_circ_new(uint32_t circ_id, const ep_circ_io_t *io) {
  ep_circ_t *c = calloc(1, sizeof *c);
  if (c == NULL) {
    return NULL;
  }
  c->id = circ_id;
  c->io = *io;
  c->relay_early_left = EP_CIRC_RELAY_EARLY_MAX;
  return c;
}

static void forget_handshake(ep_circ_t *c) {
  ep_ntor_client_free(c->ntor);
  ep_fast_client_free(c->fast);
  c->ntor = NULL;
  c->fast = NULL;
}

void ep_circ_free(ep_circ_t *c) {
  if (c == NULL) {
    return;
  }
  forget_handshake(c);
  for (unsigned i = 0; i < c->n_hops; i++) {
    ep_relay_crypto_free(c->hops[i].crypto);
  }
  ep_wipe(c, sizeof *c);
  free(c);
}

uint32_t ep_circ_id(const ep_circ_t *c) { return c->id; }
ep_circ_state_t ep_circ_state(const ep_circ_t *c) { return c->state; }
unsigned ep_circ_hops(const ep_circ_t *c) { return c->n_hops; }
bool ep_circ_is_closed(const ep_circ_t *c) { return c->state == EP_CIRC_CLOSED; }

static uint8_t phase_of(ep_circ_state_t s) {
  switch (s) {
    case EP_CIRC_CREATING: return EP_CIRC_PHASE_CREATING;
    case EP_CIRC_EXTENDING: return EP_CIRC_PHASE_EXTENDING;
    default: return EP_CIRC_PHASE_OPEN;
  }
}

/* ---- Randomness ---- */

void ep_circ_set_random(ep_circ_t *c, ep_random_fn fn, void *ctx) {
  c->rand = fn;
  c->rand_ctx = ctx;
}

void ep_circ_random_bytes(const ep_circ_t *c, void *out, size_t n) {
  if (c->rand != NULL) {
    c->rand(c->rand_ctx, out, n);
  } else {
    ep_random(out, n);
  }
}

/* A fresh ntor handshake with a fresh secret x from the circuit's source. */
static int ntor_start(ep_circ_t *c, const uint8_t id[20], const uint8_t B[32],
                      uint8_t onionskin[EP_NTOR_ONIONSKIN_LEN]) {
  uint8_t x[32];
  ep_circ_random_bytes(c, x, sizeof x);
  int rc = ep_ntor_client_start_with_secret(&c->ntor, id, B, x, onionskin);
  ep_wipe(x, sizeof x);
  return rc;
}

/* ---- Sending ---- */

static int send_plain(ep_circ_t *c, uint8_t command, const uint8_t payload[EP_CELL_PAYLOAD_LEN],
                      ep_cell_trace_t *trace) {
  return c->io.send_cell(c->io.ctx, c->id, command, payload, trace);
}

static int send_destroy(ep_circ_t *c) {
  uint8_t payload[EP_CELL_PAYLOAD_LEN];
  /* tor-spec §5.4: "An OP should always use the NONE reason for its own
   * DESTROY cells." */
  ep_destroy_encode(payload, EP_DESTROY_NONE);
  ep_cell_trace_t t = {0};
  t.has_reason = true;
  t.reason = EP_DESTROY_NONE;
  return send_plain(c, EP_CELL_DESTROY, payload, &t);
}

/* Originate a relay cell to hop `hi` (0-based), wrapping it in the forward
 * layers of the hops before it. digest_out (20 bytes, may be NULL) gets the
 * forward running digest after this cell. */
int ep_circ_send_relay(ep_circ_t *c, unsigned hi, uint8_t cell_cmd, uint8_t relay_cmd,
                      uint16_t stream_id, const uint8_t *data, size_t len, uint8_t *digest_out,
                      ep_err_t *err) {
  uint8_t body[EP_CELL_PAYLOAD_LEN];
  int rc = ep_relay_body_build_rand(body, relay_cmd, stream_id, data, len, c->rand, c->rand_ctx,
                                    err);
  if (rc != EP_OK) {
    return rc;
  }
  hop_t *h = &c->hops[hi];
  ep_relay_crypto_originate(h->crypto, body);
  if (digest_out != NULL) {
    /* The forward digest now covers this cell (digest field zero). */
    ep_relay_crypto_forward_digest(h->crypto, digest_out);
  }
  for (unsigned i = hi; i-- > 0;) {
    ep_relay_crypto_encrypt_forward(c->hops[i].crypto, body);
  }
  ep_cell_trace_t t = {0};
  t.relay = true;
  t.hop = (uint8_t)(hi + 1);
  t.relay_command = relay_cmd;
  t.stream_id = stream_id;
  t.relay_len = (uint16_t)len;
  if (relay_cmd == EP_RELAY_END && len > 0) {
    t.has_reason = true;
    t.reason = data[0];
  }
  rc = send_plain(c, cell_cmd, body, &t);
  if (rc != EP_OK) {
    return ep_err_set(err, rc, "circuit %08x: the channel refused a cell", (unsigned)c->id);
  }
  return EP_OK;
}

int ep_circ_send_msg(ep_circ_t *c, unsigned hi, uint8_t cell_cmd, const ep_relay_msg_t *m,
                    ep_err_t *err) {
  uint8_t data[EP_RELAY_PAYLOAD_MAX];
  size_t len;
  int rc = ep_relay_msg_encode(m, data, sizeof data, &len, err);
  if (rc != EP_OK) {
    return rc;
  }
  return ep_circ_send_relay(c, hi, cell_cmd, m->command, m->stream_id, data, len, NULL, err);
}

/* ---- Closing ---- */

int ep_circ_emit(ep_circ_t *c, const ep_event_t *ev) { return c->io.emit(c->io.ctx, ev); }


/* The EP_EV_CIRC_DESTROYED event of closing c, made before its state changes. */
static void destroyed_event(const ep_circ_t *c, uint8_t reason, bool remote, ep_event_t *ev) {
  memset(ev, 0, sizeof *ev);
  ev->type = EP_EV_CIRC_DESTROYED;
  ev->circ_id = c->id;
  ev->hops = c->n_hops;
  ev->phase = phase_of(c->state);
  ev->remote = remote;
  ev->reason = reason;
}

/* Mark c closed and emit its destroyed event; rc is what sending DESTROY
 * returned (EP_OK if none was sent). */
static int closed(ep_circ_t *c, int rc, const ep_event_t *ev) {
  c->state = EP_CIRC_CLOSED;
  int rc2 = ep_circ_emit(c, ev);
  return rc != EP_OK ? rc : rc2;
}

int ep_circ_fail(ep_circ_t *c, int status, uint8_t reason, const char *fmt, ...) {
  if (c->state == EP_CIRC_CLOSED) {
    return EP_OK;
  }
  ep_event_t ev;
  destroyed_event(c, reason, false, &ev);
  ev.status = status;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ev.msg, sizeof ev.msg, fmt, ap);
  va_end(ap);
  forget_handshake(c);
  return closed(c, c->state != 0 ? send_destroy(c) : EP_OK, &ev);
}

static int circ_remote_close(ep_circ_t *c, uint8_t reason, bool truncated) {
  ep_event_t ev;
  destroyed_event(c, reason, true, &ev);
  ev.truncated = truncated;
  char rname[32];
  snprintf(ev.msg, sizeof ev.msg, "%s from the relay: %s",
           truncated ? "RELAY_TRUNCATED" : "DESTROY",
           ep_destroy_reason_format(rname, sizeof rname, reason));
  forget_handshake(c);
  int rc = EP_OK;
  if (truncated) {
    /* tor-spec §5.4: a client that gets RELAY_TRUNCATED tears the whole
     * circuit down with DESTROY, as tor does. */
    rc = send_destroy(c);
  }
  return closed(c, rc, &ev);
}

void ep_circ_destroy(ep_circ_t *c) {
  if (c->state == EP_CIRC_CLOSED) {
    return;
  }
  forget_handshake(c);
  if (c->state != 0) {
    (void)send_destroy(c);
  }
  c->state = EP_CIRC_CLOSED;
}

void ep_circ_mark_closed(ep_circ_t *c) {
  forget_handshake(c);
  c->state = EP_CIRC_CLOSED;
}

/* ---- Hops ---- */

static int add_hop(ep_circ_t *c, const uint8_t keys[EP_RELAY_KEYS_LEN], const uint8_t rsa_id[20]) {
  if (c->n_hops >= EP_CIRC_MAX_HOPS) {
    return EP_ERR_LIMIT;
  }
  hop_t *h = &c->hops[c->n_hops];
  memset(h, 0, sizeof *h);
  h->crypto = ep_relay_crypto_new(keys);
  if (h->crypto == NULL) {
    memset(h, 0, sizeof *h);
    return EP_ERR_NOMEM;
  }
  h->package_window = EP_CIRCWINDOW_START;
  h->deliver_window = EP_CIRCWINDOW_START;
  memcpy(h->rsa_id, rsa_id, 20);
  c->n_hops++;
  return EP_OK;
}

static const char *fpr(char buf[41], const uint8_t id[20]) {
  ep_hex_encode(buf, 41, id, 20, true);
  return buf;
}

int ep_circ_create(ep_circ_t *c, ep_create_kind_t kind, const ep_target_t *first,
                   ep_err_t *err) {
  if (c->started) {
    return ep_err_set(err, EP_ERR_STATE, "circuit %08x: already created", (unsigned)c->id);
  }
  uint8_t payload[EP_CELL_PAYLOAD_LEN];
  uint8_t command;
  int rc;
  if (kind == EP_CREATE_NTOR) {
    uint8_t onionskin[EP_NTOR_ONIONSKIN_LEN];
    rc = ntor_start(c, first->rsa_id, first->ntor_key, onionskin);
    if (rc != EP_OK) {
      return ep_err_set(err, rc, "circuit %08x: ntor start failed", (unsigned)c->id);
    }
    rc = ep_create2_encode(payload, EP_NTOR_HANDSHAKE_TYPE, onionskin, sizeof onionskin, err);
    if (rc != EP_OK) {
      return rc;
    }
    command = EP_CELL_CREATE2;
  } else if (kind == EP_CREATE_FAST) {
    uint8_t x[EP_FAST_HANDSHAKE_LEN];
    rc = ep_fast_client_start(&c->fast, x);
    if (rc != EP_OK) {
      return ep_err_set(err, rc, "circuit %08x: CREATE_FAST start failed", (unsigned)c->id);
    }
    memset(payload, 0, sizeof payload);
    memcpy(payload, x, sizeof x);
    ep_wipe(x, sizeof x);
    command = EP_CELL_CREATE_FAST;
  } else {
    return ep_err_set(err, EP_ERR_INTERNAL, "circuit: unknown create kind %d", (int)kind);
  }
  memcpy(c->pending_id, first->rsa_id, 20);
  c->started = true;
  c->state = EP_CIRC_CREATING;
  ep_cell_trace_t t = {0};
  rc = send_plain(c, command, payload, &t);
  if (rc != EP_OK) {
    return ep_err_set(err, rc, "circuit %08x: the channel refused CREATE", (unsigned)c->id);
  }
  return EP_OK;
}

int ep_circ_extend(ep_circ_t *c, const ep_target_t *next, ep_err_t *err) {
  if (c->state != EP_CIRC_OPEN) {
    return ep_err_set(err, EP_ERR_STATE, "circuit %08x: extend while %s", (unsigned)c->id,
                      ep_circ_state_name(c->state));
  }
  if (c->n_hops >= EP_CIRC_MAX_HOPS) {
    return ep_err_set(err, EP_ERR_LIMIT, "circuit %08x: already %u hops", (unsigned)c->id,
                      c->n_hops);
  }
  if (c->relay_early_left == 0) {
    return ep_err_set(err, EP_ERR_LIMIT, "circuit %08x: no RELAY_EARLY cells left",
                      (unsigned)c->id);
  }
  uint8_t onionskin[EP_NTOR_ONIONSKIN_LEN];
  int rc = ntor_start(c, next->rsa_id, next->ntor_key, onionskin);
  if (rc != EP_OK) {
    return ep_err_set(err, rc, "circuit %08x: ntor start failed", (unsigned)c->id);
  }
  ep_relay_msg_t m;
  memset(&m, 0, sizeof m);
  uint8_t lsbuf[EP_LINKSPEC_TARGET_BUF];
  m.command = EP_RELAY_EXTEND2;
  ep_linkspecs_from_target(&m.u.extend2.ls, next, lsbuf);
  m.u.extend2.htype = EP_NTOR_HANDSHAKE_TYPE;
  m.u.extend2.hlen = sizeof onionskin;
  m.u.extend2.hdata = onionskin;
  /* tor-spec §5.6: EXTEND2 only inside RELAY_EARLY. */
  rc = ep_circ_send_msg(c, c->n_hops - 1, EP_CELL_RELAY_EARLY, &m, err);
  if (rc != EP_OK) {
    forget_handshake(c);
    return rc;
  }
  c->relay_early_left--;
  memcpy(c->pending_id, next->rsa_id, 20);
  c->state = EP_CIRC_EXTENDING;
  return EP_OK;
}

/* ---- Handshake replies ---- */

/* The end of a handshake with the hop being added: rc and e are what its
 * finish function returned, keys (wiped here) the keys it derived. Adds the
 * hop and opens the circuit, or closes it. what names the reply cell. */
static int open_hop(ep_circ_t *c, int rc, const ep_err_t *e, uint8_t keys[EP_RELAY_KEYS_LEN],
                    const char *what) {
  char f[41];
  unsigned hopno = c->n_hops + 1;
  if (rc != EP_OK) {
    ep_wipe(keys, EP_RELAY_KEYS_LEN);
    return ep_circ_fail(c, EP_ERR_VERIFY, EP_DESTROY_PROTOCOL,
                     "%s from hop %u ($%s): handshake failed, no keys: %s", what, hopno,
                     fpr(f, c->pending_id), e->msg);
  }
  rc = add_hop(c, keys, c->pending_id);
  ep_wipe(keys, EP_RELAY_KEYS_LEN);
  if (rc != EP_OK) {
    return ep_circ_fail(c, rc, EP_DESTROY_INTERNAL, "%s: cannot add hop %u", what, hopno);
  }
  c->state = EP_CIRC_OPEN;
  ep_event_t ev = ep_circ_event(c, EP_EV_CIRC_OPEN, 0);
  ev.hops = c->n_hops;
  return ep_circ_emit(c, &ev);
}

static int finish_ntor(ep_circ_t *c, const uint8_t *hdata, size_t hlen, const char *what) {
  char f[41];
  unsigned hopno = c->n_hops + 1;
  if (c->ntor == NULL) {
    return ep_circ_fail(c, EP_ERR_STATE, EP_DESTROY_PROTOCOL, "%s without a pending handshake", what);
  }
  if (hlen != EP_NTOR_REPLY_LEN) {
    return ep_circ_fail(c, EP_ERR_MALFORMED, EP_DESTROY_PROTOCOL,
                     "%s from hop %u ($%s): ntor reply of %zu bytes, wants %u", what, hopno,
                     fpr(f, c->pending_id), hlen, EP_NTOR_REPLY_LEN);
  }
  uint8_t keys[EP_RELAY_KEYS_LEN];
  ep_err_t e = {0};
  int rc = ep_ntor_client_finish(c->ntor, hdata, keys, sizeof keys, &e);
  ep_ntor_client_free(c->ntor);
  c->ntor = NULL;
  return open_hop(c, rc, &e, keys, what);
}

static int handle_created2(ep_circ_t *c, const ep_cell_t *cell) {
  if (c->state != EP_CIRC_CREATING || c->ntor == NULL) {
    return ep_circ_fail(c, EP_ERR_STATE, EP_DESTROY_PROTOCOL, "CREATED2 while %s",
                     ep_circ_state_name(c->state));
  }
  ep_created2_t cr;
  ep_err_t e = {0};
  if (ep_created2_parse(cell->payload, cell->payload_len, &cr, &e) != EP_OK) {
    return ep_circ_fail(c, e.code, EP_DESTROY_PROTOCOL, "%s", e.msg);
  }
  return finish_ntor(c, cr.hdata, cr.hlen, "CREATED2");
}

static int handle_created_fast(ep_circ_t *c, const ep_cell_t *cell) {
  if (c->state != EP_CIRC_CREATING || c->fast == NULL) {
    return ep_circ_fail(c, EP_ERR_STATE, EP_DESTROY_PROTOCOL, "CREATED_FAST while %s",
                     ep_circ_state_name(c->state));
  }
  if (cell->payload_len < EP_FAST_REPLY_LEN) {
    return ep_circ_fail(c, EP_ERR_TRUNCATED, EP_DESTROY_PROTOCOL, "CREATED_FAST: %zu bytes",
                     cell->payload_len);
  }
  uint8_t keys[EP_RELAY_KEYS_LEN];
  ep_err_t e = {0};
  int rc = ep_fast_client_finish(c->fast, cell->payload, keys, sizeof keys, &e);
  ep_fast_client_free(c->fast);
  c->fast = NULL;
  return open_hop(c, rc, &e, keys, "CREATED_FAST");
}

static int on_extended2(ep_circ_t *c, unsigned hi, const ep_relay_msg_t *m) {
  if (c->state != EP_CIRC_EXTENDING || hi + 1 != c->n_hops) {
    return ep_circ_fail(c, EP_ERR_STATE, EP_DESTROY_PROTOCOL,
                     "EXTENDED2 from hop %u while %s with %u hops", hi + 1,
                     ep_circ_state_name(c->state), c->n_hops);
  }
  return finish_ntor(c, m->u.extended2.hdata, m->u.extended2.hlen, "EXTENDED2");
}

static void trace_in(ep_circ_t *c, ep_cell_trace_t *trace) {
  if (trace != NULL && c->io.trace_in != NULL) {
    c->io.trace_in(c->io.ctx, trace);
  }
}

/* body: the cell's payload, writable, decrypted in place (events point into
 * it); NULL to work on a copy (valid while the events are emitted). */
static int handle_relay(ep_circ_t *c, const ep_cell_t *cell, uint8_t *body,
                        ep_cell_trace_t *trace) {
  if (cell->command == EP_CELL_RELAY_EARLY) {
    /* tor-spec §5.6: an inbound RELAY_EARLY closes the circuit at once. */
    trace_in(c, trace);
    return ep_circ_fail(c, EP_ERR_MALFORMED, EP_DESTROY_PROTOCOL,
                     "RELAY_EARLY cell towards the client");
  }
  if (c->n_hops == 0 || cell->payload_len != EP_CELL_PAYLOAD_LEN) {
    trace_in(c, trace);
    return ep_circ_fail(c, EP_ERR_STATE, EP_DESTROY_PROTOCOL, "relay cell before the first hop");
  }
  uint8_t copy[EP_CELL_PAYLOAD_LEN];
  if (body == NULL) {
    memcpy(copy, cell->payload, sizeof copy);
    body = copy;
  }
  unsigned hi = 0;
  bool found = false;
  for (; hi < c->n_hops; hi++) {
    if (ep_relay_crypto_decrypt_backward(c->hops[hi].crypto, body)) {
      found = true;
      break;
    }
  }
  if (!found) {
    trace_in(c, trace);
    return ep_circ_fail(c, EP_ERR_VERIFY, EP_DESTROY_PROTOCOL,
                     "relay cell recognized by none of the %u hops", c->n_hops);
  }

  ep_relay_hdr_t hdr;
  const uint8_t *data;
  ep_err_t e = {0};
  if (ep_relay_hdr_parse(body, &hdr, &data, &e) != EP_OK) {
    trace_in(c, trace);
    return ep_circ_fail(c, e.code, EP_DESTROY_PROTOCOL, "hop %u: %s", hi + 1, e.msg);
  }
  ep_relay_msg_t m;
  int rc;
  stream_t *s = ep_circ_find_stream(c, hdr.stream_id);
  if (hdr.command == EP_RELAY_CONNECTED && s != NULL && s->dir) {
    /* tor-spec §6.2.1: clients ignore the body of a BEGIN_DIR's CONNECTED. */
    memset(&m, 0, sizeof m);
    m.command = hdr.command;
    m.stream_id = hdr.stream_id;
    rc = EP_OK;
  } else {
    rc = ep_relay_msg_parse(EP_RELAY_CTX_CLIENT, hdr.command, hdr.stream_id, data, hdr.length, &m,
                            &e);
  }
  if (trace != NULL) {
    trace->relay = true;
    trace->hop = (uint8_t)(hi + 1);
    trace->relay_command = hdr.command;
    trace->stream_id = hdr.stream_id;
    trace->relay_len = hdr.length;
    if (rc == EP_OK && m.command == EP_RELAY_END) {
      trace->has_reason = true;
      trace->reason = m.u.end.reason;
    } else if (rc == EP_OK && m.command == EP_RELAY_TRUNCATED) {
      trace->has_reason = true;
      trace->reason = m.u.truncated_reason;
    }
    /* An unknown relay command is dropped (tor-spec §6.1). */
    trace->dropped = rc == EP_ERR_UNSUPPORTED;
  }
  trace_in(c, trace);
  if (rc == EP_ERR_UNSUPPORTED) {
    return EP_OK;
  }
  if (rc != EP_OK) {
    return ep_circ_fail(c, rc, EP_DESTROY_PROTOCOL, "hop %u: %s", hi + 1, e.msg);
  }
  switch (m.command) {
    case EP_RELAY_DATA:
      return ep_circ_on_data(c, hi, &m);
    case EP_RELAY_SENDME:
      return ep_circ_on_sendme(c, hi, &m);
    case EP_RELAY_CONNECTED:
      return ep_circ_on_connected(c, hi, &m);
    case EP_RELAY_END:
      return ep_circ_on_end(c, hi, &m);
    case EP_RELAY_RESOLVED:
      return ep_circ_on_resolved(c, hi, &m);
    case EP_RELAY_EXTENDED2:
      return on_extended2(c, hi, &m);
    case EP_RELAY_TRUNCATED:
      return circ_remote_close(c, m.u.truncated_reason, true);
    case EP_RELAY_DROP:
    default:
      return EP_OK;
  }
}

static int handle_cell(ep_circ_t *c, const ep_cell_t *cell, uint8_t *body,
                       ep_cell_trace_t *trace) {
  if (c->state == EP_CIRC_CLOSED || c->state == 0) {
    if (trace != NULL) {
      trace->dropped = true;
      if (cell->command == EP_CELL_RELAY || cell->command == EP_CELL_RELAY_EARLY) {
        trace_in(c, trace);
      }
    }
    return EP_OK;
  }
  switch (cell->command) {
    case EP_CELL_CREATED2:
      return handle_created2(c, cell);
    case EP_CELL_CREATED_FAST:
      return handle_created_fast(c, cell);
    case EP_CELL_RELAY:
    case EP_CELL_RELAY_EARLY:
      return handle_relay(c, cell, body, trace);
    case EP_CELL_DESTROY: {
      uint8_t reason = 0;
      (void)ep_destroy_parse(cell->payload, cell->payload_len, &reason, NULL);
      return circ_remote_close(c, reason, false);
    }
    case EP_CELL_CREATED:
      return ep_circ_fail(c, EP_ERR_UNSUPPORTED, EP_DESTROY_PROTOCOL,
                       "CREATED (TAP) answer: we sent no CREATE");
    default:
      return EP_OK;
  }
}

int ep_circ_handle_cell(ep_circ_t *c, const ep_cell_t *cell, ep_cell_trace_t *trace) {
  return handle_cell(c, cell, NULL, trace);
}

int ep_circ_handle_cell_in_place(ep_circ_t *c, const ep_cell_t *cell, uint8_t *payload,
                                 ep_cell_trace_t *trace) {
  return handle_cell(c, cell, payload, trace);
}
