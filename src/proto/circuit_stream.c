/* exitprobe — streams of a client circuit (tor-spec §6, §7): ids, BEGIN and
 * BEGIN_DIR, flow-control windows and SENDMEs, and the inbound stream
 * messages (DATA, SENDME, CONNECTED, END). The circuit itself: circuit.c. */
#include "config.h"

#include "proto/circuit_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Streams ---- */

stream_t *ep_circ_find_stream(ep_circ_t *c, uint16_t id) {
  if (id == 0) {
    return NULL;
  }
  for (size_t i = 0; i < EP_CAP_STREAMS_PER_CIRC; i++) {
    if (c->streams[i].state != ST_FREE && c->streams[i].id == id) {
      return &c->streams[i];
    }
  }
  return NULL;
}

static const stream_t *find_stream_const(const ep_circ_t *c, uint16_t id) {
  return ep_circ_find_stream((ep_circ_t *)c, id);
}

static void forget_stream(ep_circ_t *c, stream_t *s) {
  c->recent[c->recent_next] = s->id;
  c->recent_next = (c->recent_next + 1) % RECENT_CLOSED;
  memset(s, 0, sizeof *s);
}

static bool id_taken(const ep_circ_t *c, uint16_t id) {
  if (id == 0 || find_stream_const(c, id) != NULL) {
    return true;
  }
  for (size_t i = 0; i < RECENT_CLOSED; i++) {
    if (c->recent[i] == id) {
      return true;
    }
  }
  return false;
}

static int new_stream(ep_circ_t *c, bool dir, stream_t **out, ep_err_t *err) {
  if (c->state != EP_CIRC_OPEN) {
    return ep_err_set(err, EP_ERR_STATE, "circuit %08x: stream while %s", (unsigned)c->id,
                      ep_circ_state_name(c->state));
  }
  stream_t *slot = NULL;
  for (size_t i = 0; i < EP_CAP_STREAMS_PER_CIRC && slot == NULL; i++) {
    if (c->streams[i].state == ST_FREE) {
      slot = &c->streams[i];
    }
  }
  if (slot == NULL) {
    return ep_err_set(err, EP_ERR_LIMIT, "circuit %08x: %u streams already", (unsigned)c->id,
                      EP_CAP_STREAMS_PER_CIRC);
  }
  /* Stream ids are picked at random, avoiding live and recently closed ones
   * (cells for a closed stream may still be in flight). */
  uint16_t id = 0;
  for (int tries = 0; tries < 256 && id_taken(c, id); tries++) {
    ep_circ_random_bytes(c, &id, sizeof id);
  }
  for (uint32_t v = 1; id_taken(c, id) && v <= 0xffff; v++) {
    id = (uint16_t)v;
  }
  slot->id = id;
  slot->state = ST_CONNECTING;
  slot->dir = dir;
  slot->hop = (uint8_t)(c->n_hops - 1);
  slot->package_window = EP_STREAMWINDOW_START;
  slot->deliver_window = EP_STREAMWINDOW_START;
  *out = slot;
  return EP_OK;
}

/* A new stream whose first message is BEGIN host:port (host non-NULL,
 * !resolve), BEGIN_DIR (host NULL) or RESOLVE host (resolve). */
static int stream_start(ep_circ_t *c, const char *host, uint16_t port, uint32_t flags,
                        bool resolve, uint16_t *stream_id, ep_err_t *err) {
  stream_t *s = NULL;
  int rc = new_stream(c, host == NULL, &s, err);
  if (rc != EP_OK) {
    return rc;
  }
  ep_relay_msg_t m;
  if (host == NULL) {
    memset(&m, 0, sizeof m);
    m.command = EP_RELAY_BEGIN_DIR;
    m.stream_id = s->id;
  } else if (resolve) {
    s->state = ST_RESOLVING;
    rc = ep_relay_msg_resolve(&m, s->id, host, err);
  } else {
    rc = ep_relay_msg_begin(&m, s->id, host, port, flags, err);
  }
  if (rc == EP_OK) {
    rc = ep_circ_send_msg(c, s->hop, EP_CELL_RELAY, &m, err);
  }
  if (rc != EP_OK) {
    memset(s, 0, sizeof *s);
    return rc;
  }
  *stream_id = s->id;
  return EP_OK;
}

int ep_circ_begin(ep_circ_t *c, const char *host, uint16_t port, uint32_t flags,
                  uint16_t *stream_id, ep_err_t *err) {
  if (host == NULL) {
    return ep_err_set(err, EP_ERR_MALFORMED, "BEGIN: no host");
  }
  return stream_start(c, host, port, flags, false, stream_id, err);
}

int ep_circ_begin_dir(ep_circ_t *c, uint16_t *stream_id, ep_err_t *err) {
  return stream_start(c, NULL, 0, 0, false, stream_id, err);
}

int ep_circ_resolve(ep_circ_t *c, const char *host, uint16_t *stream_id, ep_err_t *err) {
  if (host == NULL) {
    return ep_err_set(err, EP_ERR_MALFORMED, "RESOLVE: no name");
  }
  return stream_start(c, host, 0, 0, true, stream_id, err);
}

size_t ep_circ_writable(const ep_circ_t *c, uint16_t stream_id) {
  const stream_t *s = find_stream_const(c, stream_id);
  if (s == NULL || s->state != ST_OPEN || c->state == EP_CIRC_CLOSED) {
    return 0;
  }
  int cells = c->hops[s->hop].package_window;
  if (s->package_window < cells) {
    cells = s->package_window;
  }
  return cells > 0 ? (size_t)cells * EP_RELAY_PAYLOAD_MAX : 0;
}

int ep_circ_write(ep_circ_t *c, uint16_t stream_id, const uint8_t *data, size_t n,
                  size_t *written, ep_err_t *err) {
  *written = 0;
  stream_t *s = ep_circ_find_stream(c, stream_id);
  if (c->state == EP_CIRC_CLOSED || s == NULL || s->state != ST_OPEN) {
    return ep_err_set(err, EP_ERR_STATE, "circuit %08x stream %u: not open for data",
                      (unsigned)c->id, (unsigned)stream_id);
  }
  hop_t *h = &c->hops[s->hop];
  while (*written < n) {
    if (h->package_window <= 0) {
      h->blocked = true;
      break;
    }
    if (s->package_window <= 0) {
      s->blocked = true;
      break;
    }
    size_t chunk = n - *written;
    if (chunk > EP_RELAY_PAYLOAD_MAX) {
      chunk = EP_RELAY_PAYLOAD_MAX;
    }
    uint8_t digest[EP_SENDME_DIGEST_LEN];
    int rc = ep_circ_send_relay(c, s->hop, EP_CELL_RELAY, EP_RELAY_DATA, s->id, data + *written, chunk,
                        digest, err);
    if (rc != EP_OK) {
      return rc;
    }
    h->package_window--;
    s->package_window--;
    /* The cell after which the hop owes us a SENDME: remember its digest
     * (tor-spec §7.3, authenticated SENDMEs). */
    if (h->package_window % EP_CIRCWINDOW_INCREMENT == 0 && h->expect_n < SENDME_FIFO) {
      unsigned slot = (h->expect_head + h->expect_n) % SENDME_FIFO;
      memcpy(h->expect[slot], digest, sizeof digest);
      h->expect_n++;
    }
    *written += chunk;
  }
  return EP_OK;
}

int ep_circ_end_stream(ep_circ_t *c, uint16_t stream_id, uint8_t reason, ep_err_t *err) {
  stream_t *s = ep_circ_find_stream(c, stream_id);
  if (s == NULL) {
    return ep_err_set(err, EP_ERR_STATE, "circuit %08x: no stream %u", (unsigned)c->id,
                      (unsigned)stream_id);
  }
  int rc = EP_OK;
  if (c->state != EP_CIRC_CLOSED) {
    ep_relay_msg_t m;
    ep_relay_msg_end(&m, stream_id, reason);
    rc = ep_circ_send_msg(c, s->hop, EP_CELL_RELAY, &m, err);
  }
  forget_stream(c, s);
  return rc;
}

/* Stream-level SENDMEs now due (version 0, empty: tor-spec §7.4), unless
 * the stream is held. The data went to the caller at once, so the window
 * refills as it arrives. */
static int stream_sendmes(ep_circ_t *c, stream_t *s, ep_err_t *err) {
  while (!s->held && s->deliver_window <= EP_STREAMWINDOW_START - EP_STREAMWINDOW_INCREMENT) {
    s->deliver_window += EP_STREAMWINDOW_INCREMENT;
    ep_relay_msg_t sm;
    ep_relay_msg_sendme_v0(&sm, s->id);
    int rc = ep_circ_send_msg(c, s->hop, EP_CELL_RELAY, &sm, err);
    if (rc != EP_OK) {
      return rc;
    }
  }
  return EP_OK;
}

int ep_circ_stream_hold(ep_circ_t *c, uint16_t stream_id, bool hold, ep_err_t *err) {
  stream_t *s = ep_circ_find_stream(c, stream_id);
  if (s == NULL || c->state == EP_CIRC_CLOSED) {
    return ep_err_set(err, EP_ERR_STATE, "circuit %08x: no stream %u", (unsigned)c->id,
                      (unsigned)stream_id);
  }
  s->held = hold;
  return stream_sendmes(c, s, err);
}

/* ---- Inbound relay messages ---- */

int ep_circ_on_data(ep_circ_t *c, unsigned hi, const ep_relay_msg_t *m) {
  hop_t *h = &c->hops[hi];
  if (--h->deliver_window < 0) {
    return ep_circ_fail(c, EP_ERR_LIMIT, EP_DESTROY_PROTOCOL,
                     "hop %u sent DATA beyond the circuit window", hi + 1);
  }
  if (h->deliver_window <= EP_CIRCWINDOW_START - EP_CIRCWINDOW_INCREMENT) {
    /* Authenticated SENDME: the backward running digest right after the
     * DATA cell that brought the window down to the threshold. */
    uint8_t digest[EP_SENDME_DIGEST_LEN];
    ep_relay_crypto_backward_digest(h->crypto, digest);
    while (h->deliver_window <= EP_CIRCWINDOW_START - EP_CIRCWINDOW_INCREMENT) {
      h->deliver_window += EP_CIRCWINDOW_INCREMENT;
      ep_relay_msg_t sm;
      ep_relay_msg_sendme_v1(&sm, 0, digest);
      ep_err_t e = {0};
      int rc = ep_circ_send_msg(c, hi, EP_CELL_RELAY, &sm, &e);
      if (rc != EP_OK) {
        return rc;
      }
    }
  }
  stream_t *s = ep_circ_find_stream(c, m->stream_id);
  if (s == NULL || s->hop != hi || s->state != ST_OPEN) {
    return EP_OK;   /* counted against the circuit window, then dropped (as tor) */
  }
  if (--s->deliver_window < 0) {
    return ep_circ_fail(c, EP_ERR_LIMIT, EP_DESTROY_PROTOCOL,
                     "stream %u: DATA beyond the stream window", (unsigned)s->id);
  }
  ep_event_t ev = ep_circ_event(c, EP_EV_STREAM_DATA, s->id);
  ev.len = m->u.data.len;
  ev.data = m->u.data.data;   /* into the decrypted cell body: no copy */
  int rc = ep_circ_emit(c, &ev);
  if (rc != EP_OK) {
    return rc;
  }
  ep_err_t e = {0};
  return stream_sendmes(c, s, &e);
}

int ep_circ_on_sendme(ep_circ_t *c, unsigned hi, const ep_relay_msg_t *m) {
  const ep_relay_sendme_t *sm = &m->u.sendme;
  ep_event_t ev;
  memset(&ev, 0, sizeof ev);
  ev.circ_id = c->id;
  if (m->stream_id == 0) {
    hop_t *h = &c->hops[hi];
    if (h->package_window + EP_CIRCWINDOW_INCREMENT > EP_CIRCWINDOW_START) {
      return ep_circ_fail(c, EP_ERR_MALFORMED, EP_DESTROY_PROTOCOL,
                       "hop %u sent a circuit SENDME we did not ask for (window %d)", hi + 1,
                       h->package_window);
    }
    if (sm->version > 1) {
      return ep_circ_fail(c, EP_ERR_UNSUPPORTED, EP_DESTROY_PROTOCOL,
                       "hop %u sent a SENDME of unknown version %u", hi + 1,
                       (unsigned)sm->version);
    }
    if (sm->version == 1) {
      if (h->expect_n == 0 ||
          !ep_ct_eq(h->expect[h->expect_head], sm->digest, EP_SENDME_DIGEST_LEN)) {
        return ep_circ_fail(c, EP_ERR_VERIFY, EP_DESTROY_PROTOCOL,
                         "hop %u sent a SENDME v1 whose digest matches none of our DATA cells",
                         hi + 1);
      }
    }
    if (h->expect_n > 0) {
      h->expect_head = (h->expect_head + 1) % SENDME_FIFO;
      h->expect_n--;
    }
    h->package_window += EP_CIRCWINDOW_INCREMENT;
    if (h->blocked) {
      h->blocked = false;
      ev.type = EP_EV_CIRC_WRITABLE;
      return ep_circ_emit(c, &ev);
    }
    return EP_OK;
  }
  stream_t *s = ep_circ_find_stream(c, m->stream_id);
  if (s == NULL || s->hop != hi) {
    return EP_OK;
  }
  if (s->package_window + EP_STREAMWINDOW_INCREMENT > EP_STREAMWINDOW_START) {
    return ep_circ_fail(c, EP_ERR_MALFORMED, EP_DESTROY_PROTOCOL,
                     "stream %u: a SENDME we did not ask for (window %d)", (unsigned)s->id,
                     s->package_window);
  }
  s->package_window += EP_STREAMWINDOW_INCREMENT;
  if (s->blocked) {
    s->blocked = false;
    ev.type = EP_EV_STREAM_WRITABLE;
    ev.stream_id = s->id;
    return ep_circ_emit(c, &ev);
  }
  return EP_OK;
}

int ep_circ_on_connected(ep_circ_t *c, unsigned hi, const ep_relay_msg_t *m) {
  stream_t *s = ep_circ_find_stream(c, m->stream_id);
  if (s == NULL || s->hop != hi || s->state != ST_CONNECTING) {
    return EP_OK;   /* unknown or already connected: dropped */
  }
  s->state = ST_OPEN;
  ep_event_t ev = ep_circ_event(c, EP_EV_STREAM_CONNECTED, s->id);
  ev.ttl = EP_TTL_ABSENT;
  if (!s->dir && m->u.connected.has_addr) {
    ev.has_addr = true;
    ev.addr = m->u.connected.addr;
    if (m->u.connected.has_ttl) {
      ev.ttl = m->u.connected.ttl;
    }
  }
  return ep_circ_emit(c, &ev);
}

int ep_circ_on_end(ep_circ_t *c, unsigned hi, const ep_relay_msg_t *m) {
  stream_t *s = ep_circ_find_stream(c, m->stream_id);
  if (s == NULL || s->hop != hi) {
    return EP_OK;
  }
  ep_event_t ev = ep_circ_event(c, EP_EV_STREAM_END, s->id);
  ev.reason = m->u.end.reason;
  ev.end_empty = m->u.end.empty;
  ev.has_addr = m->u.end.has_addr;
  ev.addr = m->u.end.addr;
  ev.ttl = m->u.end.ttl;
  forget_stream(c, s);
  return ep_circ_emit(c, &ev);
}


int ep_circ_on_resolved(ep_circ_t *c, unsigned hi, const ep_relay_msg_t *m) {
  stream_t *s = ep_circ_find_stream(c, m->stream_id);
  if (s == NULL || s->hop != hi || s->state != ST_RESOLVING) {
    return EP_OK;   /* no RESOLVE of ours: dropped */
  }
  ep_event_t ev = ep_circ_event(c, EP_EV_STREAM_RESOLVED, s->id);
  ev.ttl = EP_TTL_ABSENT;
  ev.len = m->u.data.len;
  ev.data = m->u.data.data;
  forget_stream(c, s);
  return ep_circ_emit(c, &ev);
}
