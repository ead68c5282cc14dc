/* exitprobe — fuzz harness: relay messages (src/proto/relaymsg.h) and the
 * client circuit state machine (src/proto/circuit.h).
 *
 * Part 1: byte 0 picks the context (client/relay) and the input is read as
 * records "command 1 | stream id 2 | length 1 | data": each is parsed in
 * that context; one that parses is encoded again and re-parsed (same
 * command, same stream, same length of body for the commands whose encoding
 * is canonical). The relay header parser gets a 509-byte body made from the
 * input too.
 * Part 2: a one-hop circuit is opened with CREATE_FAST (the harness plays
 * the relay with ep_fast_server_handshake), two streams are begun, and the
 * same records are sent to the client as relay cells the hop originates
 * (so they are recognized and reach the state machine). Stream ids 1, 2
 * and 3 in a record mean the two real streams and a RESOLVE (its RESOLVED
 * events must carry a body the RESOLVED parser accepts). Events and cells
 * out are drained; the circuit either stays consistent or closes itself. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "proto/circuit.h"
#include "proto/fast.h"
#include "proto/relaycrypt.h"
#include "proto/relaymsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                        \
  do {                                                                                          \
    if (!(cond)) {                                                                              \
      fprintf(stderr, "fuzz_relaymsg: property failed: %s (line %d)\n", #cond, __LINE__);       \
      abort();                                                                                  \
    }                                                                                           \
  } while (0)

/* ---- Part 2's relay side ---- */

typedef struct harness {
  ep_relay_crypto_t *relay;               /* the hop's side of the crypto */
  uint8_t create_fast_x[EP_FAST_HANDSHAKE_LEN];
  bool have_x;
  uint16_t streams[3];
  size_t n_streams;
  size_t n_events;
  bool destroyed;
} harness_t;

static int h_send(void *ctx, uint32_t circ_id, uint8_t command,
                  const uint8_t payload[EP_CELL_PAYLOAD_LEN], ep_cell_trace_t *trace) {
  harness_t *h = ctx;
  (void)circ_id;
  (void)trace;
  if (command == EP_CELL_CREATE_FAST) {
    memcpy(h->create_fast_x, payload, EP_FAST_HANDSHAKE_LEN);
    h->have_x = true;
  } else if ((command == EP_CELL_RELAY || command == EP_CELL_RELAY_EARLY) && h->relay != NULL) {
    uint8_t body[EP_CELL_PAYLOAD_LEN];
    memcpy(body, payload, sizeof body);
    /* Everything the client sends must be recognized by its only hop. */
    FUZZ_CHECK(ep_relay_crypto_relay_decrypt_forward(h->relay, body));
    ep_relay_hdr_t hdr;
    const uint8_t *d;
    ep_err_t e = {0};
    FUZZ_CHECK(ep_relay_hdr_parse(body, &hdr, &d, &e) == EP_OK);
    ep_relay_msg_t m;
    FUZZ_CHECK(ep_relay_msg_parse(EP_RELAY_CTX_RELAY, hdr.command, hdr.stream_id, d, hdr.length,
                                  &m, &e) == EP_OK);
  } else if (command == EP_CELL_DESTROY) {
    h->destroyed = true;
  }
  return EP_OK;
}

static int h_emit(void *ctx, const ep_event_t *ev) {
  harness_t *h = ctx;
  h->n_events++;
  FUZZ_CHECK(ev->type >= EP_EV_CIRC_OPEN && ev->type <= EP_EV_STREAM_RESOLVED);
  if (ev->type == EP_EV_STREAM_RESOLVED) {
    /* only for the RESOLVE, and always a body the parser accepts */
    ep_resolved_t res;
    FUZZ_CHECK(ev->stream_id == h->streams[2]);
    FUZZ_CHECK(ep_resolved_parse(ev->data, ev->len, &res, NULL) == EP_OK);
  }
  FUZZ_CHECK(ev->len <= EP_RELAY_PAYLOAD_MAX);
  return EP_OK;
}

static void drive_circuit(const uint8_t *p, size_t n) {
  harness_t h;
  memset(&h, 0, sizeof h);
  ep_circ_io_t io = {&h, h_send, h_emit, NULL};
  ep_circ_t *c = ep_circ_new(0x80000001u, &io);
  FUZZ_CHECK(c != NULL);
  ep_target_t t;
  memset(&t, 0, sizeof t);
  ep_err_t e = {0};
  FUZZ_CHECK(ep_circ_create(c, EP_CREATE_FAST, &t, &e) == EP_OK && h.have_x);
  static const uint8_t y[EP_FAST_HANDSHAKE_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                                                   11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
  uint8_t reply[EP_CELL_PAYLOAD_LEN] = {0};
  uint8_t keys[EP_RELAY_KEYS_LEN];
  FUZZ_CHECK(ep_fast_server_handshake(h.create_fast_x, y, reply, keys, sizeof keys, &e) == EP_OK);
  h.relay = ep_relay_crypto_new(keys);
  FUZZ_CHECK(h.relay != NULL);
  ep_cell_t cell = {0x80000001u, EP_CELL_CREATED_FAST, false, EP_CELL_PAYLOAD_LEN, reply};
  FUZZ_CHECK(ep_circ_handle_cell(c, &cell, NULL) == EP_OK);
  FUZZ_CHECK(ep_circ_state(c) == EP_CIRC_OPEN);
  FUZZ_CHECK(ep_circ_begin(c, "127.0.0.1", 25, 0, &h.streams[0], &e) == EP_OK);
  FUZZ_CHECK(ep_circ_begin_dir(c, &h.streams[1], &e) == EP_OK);
  FUZZ_CHECK(ep_circ_resolve(c, "exitprobe-testnet.test", &h.streams[2], &e) == EP_OK);

  size_t off = 0;
  while (off + 4 <= n && !ep_circ_is_closed(c)) {
    uint8_t cmd = p[off];
    uint16_t sid = (uint16_t)(p[off + 1] << 8 | p[off + 2]);
    size_t len = p[off + 3];
    off += 4;
    if (len > n - off) {
      len = n - off;
    }
    if (sid >= 1 && sid <= 3) {
      sid = h.streams[sid - 1];
    }
    uint8_t body[EP_CELL_PAYLOAD_LEN];
    ep_err_t be = {0};
    FUZZ_CHECK(ep_relay_body_build(body, cmd, sid, p + off, len, &be) == EP_OK);
    off += len;
    ep_relay_crypto_relay_originate_backward(h.relay, body);
    ep_cell_t rc = {0x80000001u, EP_CELL_RELAY, false, EP_CELL_PAYLOAD_LEN, body};
    FUZZ_CHECK(ep_circ_handle_cell(c, &rc, NULL) == EP_OK);
    /* A client-side write never fails on an open stream, whatever came in. */
    size_t w;
    (void)ep_circ_write(c, h.streams[0], (const uint8_t *)"QUIT\r\n", 6, &w, &be);
  }
  if (ep_circ_is_closed(c)) {
    FUZZ_CHECK(h.destroyed);
  }
  ep_circ_free(c);
  ep_relay_crypto_free(h.relay);
}

/* ---- Part 1 ---- */

static void parse_records(ep_relay_ctx_t ctx, const uint8_t *p, size_t n) {
  size_t off = 0;
  static uint8_t out[EP_RELAY_PAYLOAD_MAX];
  while (off + 4 <= n) {
    uint8_t cmd = p[off];
    uint16_t sid = (uint16_t)(p[off + 1] << 8 | p[off + 2]);
    size_t len = p[off + 3];
    off += 4;
    if (len > n - off) {
      len = n - off;
    }
    ep_relay_msg_t m;
    ep_err_t e = {0};
    int rc = ep_relay_msg_parse(ctx, cmd, sid, p + off, len, &m, &e);
    if (rc == EP_OK) {
      FUZZ_CHECK(m.command == cmd && m.stream_id == sid);
      size_t olen;
      if (ep_relay_msg_encode(&m, out, sizeof out, &olen, &e) == EP_OK) {
        ep_relay_msg_t again;
        FUZZ_CHECK(ep_relay_msg_parse(ctx, cmd, sid, out, olen, &again, &e) == EP_OK);
        FUZZ_CHECK(again.command == cmd);
        if (cmd == EP_RELAY_END) {
          FUZZ_CHECK(again.u.end.reason == m.u.end.reason);
          FUZZ_CHECK(again.u.end.has_addr == m.u.end.has_addr);
        } else if (cmd == EP_RELAY_BEGIN) {
          FUZZ_CHECK(strcmp(again.u.begin.host, m.u.begin.host) == 0);
          FUZZ_CHECK(again.u.begin.port == m.u.begin.port);
        } else if (cmd == EP_RELAY_DATA || cmd == EP_RELAY_RESOLVED) {
          FUZZ_CHECK(again.u.data.len == m.u.data.len);
        } else if (cmd == EP_RELAY_RESOLVE) {
          FUZZ_CHECK(strcmp(again.u.resolve.host, m.u.resolve.host) == 0);
        } else if (cmd == EP_RELAY_SENDME && m.u.sendme.has_digest) {
          FUZZ_CHECK(memcmp(again.u.sendme.digest, m.u.sendme.digest, 20) == 0);
        }
      }
    } else {
      FUZZ_CHECK(rc < 0 && e.msg[0] != '\0');
    }
    off += len;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) {
    return 0;
  }
  ep_relay_ctx_t ctx = (data[0] & 1) ? EP_RELAY_CTX_RELAY : EP_RELAY_CTX_CLIENT;
  parse_records(ctx, data + 1, size - 1);

  uint8_t body[EP_CELL_PAYLOAD_LEN] = {0};
  memcpy(body, data, size < sizeof body ? size : sizeof body);
  ep_relay_hdr_t hdr;
  const uint8_t *d;
  ep_err_t e = {0};
  if (ep_relay_hdr_parse(body, &hdr, &d, &e) == EP_OK) {
    FUZZ_CHECK(hdr.length <= EP_RELAY_PAYLOAD_MAX);
  }
  drive_circuit(data + 1, size - 1);
  return 0;
}
