/* exitprobe — fuzz harness: the cell framer and codec (src/proto/cell.h), the
 * link handshake payloads (src/proto/linkhs.h), and a channel's handshake
 * state machine (src/proto/channel.h) fed the same bytes.
 *
 * Input: byte 0 picks the link protocol (0, 3, 4, 5); the rest is a stream of
 * cells. Each framed cell is parsed, re-encoded (it must give the same
 * bytes), and its payload handed to the parser of its command. Then the
 * whole stream is fed to a fresh channel, in one piece and byte by byte,
 * and every event drained. Properties the headers promise are asserted. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "proto/cell.h"
#include "proto/channel.h"
#include "proto/linkhs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                        \
  do {                                                                                          \
    if (!(cond)) {                                                                              \
      fprintf(stderr, "fuzz_cell: property failed: %s (line %d)\n", #cond, __LINE__);           \
      abort();                                                                                  \
    }                                                                                           \
  } while (0)

#define FUZZ_NOW ((time_t)1760000000)

static uint8_t reenc[EP_CELL_VAR_HEADER_MAX + 65535];

static void parse_payload(const ep_cell_t *cell) {
  ep_err_t e = {0};
  switch (cell->command) {
    case EP_CELL_VERSIONS: {
      ep_versions_t v;
      if (ep_versions_parse(cell->payload, cell->payload_len, &v, &e) == EP_OK) {
        FUZZ_CHECK(v.n * 2 == cell->payload_len);
        int best = ep_versions_choose(&v, EP_LINKPROTO_MIN, EP_LINKPROTO_MAX);
        FUZZ_CHECK(best == -1 || (best >= EP_LINKPROTO_MIN && best <= EP_LINKPROTO_MAX));
      }
      break;
    }
    case EP_CELL_CERTS: {
      ep_certs_t c;
      if (ep_certs_parse(cell->payload, cell->payload_len, &c, &e) == EP_OK) {
        for (size_t i = 0; i < c.n; i++) {
          FUZZ_CHECK(c.e[i].body + c.e[i].len <= cell->payload + cell->payload_len);
        }
      }
      break;
    }
    case EP_CELL_AUTH_CHALLENGE: {
      ep_auth_challenge_t ac;
      (void)ep_auth_challenge_parse(cell->payload, cell->payload_len, &ac, &e);
      break;
    }
    case EP_CELL_NETINFO: {
      ep_netinfo_t ni;
      if (ep_netinfo_parse(cell->payload, cell->payload_len, &ni, &e) == EP_OK) {
        FUZZ_CHECK(ni.n_my_kept <= EP_NETINFO_ADDRS_KEPT && ni.n_my_kept <= ni.n_my);
      }
      break;
    }
    case EP_CELL_CREATE2: {
      ep_create2_t c2;
      if (ep_create2_parse(cell->payload, cell->payload_len, &c2, &e) == EP_OK) {
        FUZZ_CHECK((size_t)c2.hlen + 4 <= cell->payload_len);
      }
      break;
    }
    case EP_CELL_CREATED2: {
      ep_created2_t c2;
      if (ep_created2_parse(cell->payload, cell->payload_len, &c2, &e) == EP_OK) {
        FUZZ_CHECK((size_t)c2.hlen + 2 <= cell->payload_len);
      }
      break;
    }
    case EP_CELL_DESTROY: {
      uint8_t reason;
      FUZZ_CHECK(ep_destroy_parse(cell->payload, cell->payload_len, &reason, &e) == EP_OK);
      char buf[32];
      ep_destroy_reason_format(buf, sizeof buf, reason);
      break;
    }
    default:
      break;
  }
}

static void feed_channel(const uint8_t *p, size_t n, bool byte_by_byte) {
  ep_target_t t;
  memset(&t, 0, sizeof t);
  t.ipv4 = 0x7f000001;
  t.or_port = 5000;
  memset(t.rsa_id, 0xaa, sizeof t.rsa_id);
  ep_err_t e = {0};
  ep_channel_t *ch = ep_channel_new(&t, &e);
  FUZZ_CHECK(ch != NULL);
  static const uint8_t cert[] = "not really a certificate";
  FUZZ_CHECK(ep_channel_start(ch, cert, sizeof cert, FUZZ_NOW, &e) == EP_OK);
  size_t step = byte_by_byte ? 1 : (n > 0 ? n : 1);
  ep_event_t ev;
  for (size_t off = 0; off < n; off += step) {
    size_t k = n - off < step ? n - off : step;
    if (ep_channel_feed(ch, p + off, k, FUZZ_NOW, &e) != EP_OK) {
      break;
    }
    while (ep_channel_next_event(ch, &ev)) {
      FUZZ_CHECK(ev.type == EP_EV_CHAN_OPEN || ev.type == EP_EV_CHAN_CLOSED);
    }
  }
  while (ep_channel_next_event(ch, &ev)) {
  }
  size_t len;
  (void)ep_channel_out(ch, &len);
  ep_channel_out_consume(ch, len);
  /* Without a valid CERTS cell for this identity the channel never opens. */
  FUZZ_CHECK(ep_channel_state(ch) != EP_CHAN_OPEN);
  ep_channel_free(ch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) {
    return 0;
  }
  static const int protos[] = {0, 3, 4, 5};
  int proto = protos[data[0] & 3];
  const uint8_t *p = data + 1;
  size_t n = size - 1;
  size_t off = 0;
  while (off < n) {
    size_t clen = 0;
    ep_err_t e = {0};
    int rc = ep_cell_frame(p + off, n - off, proto, &clen, &e);
    if (rc == EP_NEED_MORE) {
      FUZZ_CHECK(clen == 0 || clen > n - off);
      ep_cell_t cell;
      FUZZ_CHECK(ep_cell_parse(p + off, n - off, proto, &cell, &e) != EP_OK);
      break;
    }
    if (rc != EP_OK) {
      FUZZ_CHECK(rc == EP_ERR_LIMIT);
      break;
    }
    FUZZ_CHECK(clen > 0 && clen <= n - off);
    ep_cell_t cell;
    FUZZ_CHECK(ep_cell_parse(p + off, clen, proto, &cell, &e) == EP_OK);
    FUZZ_CHECK(ep_cell_parse(p + off, clen - 1, proto, &cell, &e) == EP_ERR_TRUNCATED);
    FUZZ_CHECK(ep_cell_parse(p + off, clen, proto, &cell, &e) == EP_OK);
    ssize_t m = ep_cell_encode(reenc, sizeof reenc, proto, cell.circ_id, cell.command,
                               cell.payload, cell.payload_len, &e);
    FUZZ_CHECK(m == (ssize_t)clen && memcmp(reenc, p + off, clen) == 0);
    parse_payload(&cell);
    (void)ep_cell_command_name(cell.command);
    off += clen;
  }
  feed_channel(p, n, false);
  if (n <= 4096) {
    feed_channel(p, n, true);
  }
  return 0;
}
