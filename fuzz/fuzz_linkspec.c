/* exitprobe — fuzz harness: link specifier lists (src/proto/linkspec.h) and
 * whole EXTEND2 bodies (src/proto/relaymsg.h).
 *
 * The input is read as a link specifier list (NSPEC | specifiers) and,
 * separately, as an EXTEND2 message body in the relay context. A list that
 * parses is written back: the bytes must be the same as those consumed.
 * Typed views must agree with the declared types and lengths. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/reader.h"
#include "proto/linkspec.h"
#include "proto/relaymsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                        \
  do {                                                                                          \
    if (!(cond)) {                                                                              \
      fprintf(stderr, "fuzz_linkspec: property failed: %s (line %d)\n", #cond, __LINE__);       \
      abort();                                                                                  \
    }                                                                                           \
  } while (0)

static void check_list(const ep_linkspecs_t *ls) {
  FUZZ_CHECK(ls->n <= EP_LINKSPEC_MAX);
  int legacy = 0, ed = 0;
  for (size_t i = 0; i < ls->n; i++) {
    const ep_linkspec_t *s = &ls->spec[i];
    uint32_t a;
    uint16_t port;
    uint8_t a6[16];
    FUZZ_CHECK(ep_linkspec_ipv4(s, &a, &port) == (s->type == EP_LS_IPV4));
    FUZZ_CHECK(ep_linkspec_ipv6(s, a6, &port) == (s->type == EP_LS_IPV6));
    legacy += s->type == EP_LS_LEGACY_ID;
    ed += s->type == EP_LS_ED25519_ID;
    if (s->type == EP_LS_LEGACY_ID) {
      FUZZ_CHECK(s->len == 20);
    } else if (s->type == EP_LS_ED25519_ID) {
      FUZZ_CHECK(s->len == 32);
    }
    (void)ep_linkspec_type_name(s->type);
  }
  FUZZ_CHECK(legacy <= 1 && ed <= 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ep_reader_t r;
  ep_reader_init(&r, data, size);
  ep_linkspecs_t ls;
  ep_err_t e = {0};
  if (ep_linkspecs_read(&r, &ls, &e) == EP_OK) {
    check_list(&ls);
    size_t used = ep_rd_pos(&r);
    static uint8_t out[1 + EP_LINKSPEC_MAX * 257];
    ep_writer_t w;
    ep_writer_init(&w, out, sizeof out);
    FUZZ_CHECK(ep_linkspecs_write(&w, &ls, &e) == EP_OK);
    FUZZ_CHECK(ep_wr_len(&w) == used && memcmp(out, data, used) == 0);
  }
  ep_relay_msg_t m;
  size_t n = size < EP_RELAY_PAYLOAD_MAX ? size : EP_RELAY_PAYLOAD_MAX;
  if (ep_relay_msg_parse(EP_RELAY_CTX_RELAY, EP_RELAY_EXTEND2, 0, data, n, &m, &e) == EP_OK) {
    check_list(&m.u.extend2.ls);
    FUZZ_CHECK(m.u.extend2.hdata + m.u.extend2.hlen <= data + n);
    static uint8_t body[EP_RELAY_PAYLOAD_MAX];
    size_t len;
    FUZZ_CHECK(ep_relay_msg_encode(&m, body, sizeof body, &len, &e) == EP_OK);
    FUZZ_CHECK(len <= n && memcmp(body, data, len) == 0);
  }
  return 0;
}
