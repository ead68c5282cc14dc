/* exitprobe — fuzz harness: RELAY_RESOLVED bodies (src/proto/relaymsg.h,
 * ep_resolved_parse) and their text form.
 *
 * Properties: a parsed body has at least one answer, at most
 * EP_RESOLVED_MAX_ANSWERS kept; an error answer is the only one; every
 * address answer has the right length; encoding the answers again gives the
 * input byte for byte (when none was left uncounted); the text of each
 * answer is printable ASCII (relay-supplied host names escaped); the client
 * context accepts exactly what the parser accepts. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "proto/relaymsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                        \
  do {                                                                                          \
    if (!(cond)) {                                                                              \
      fprintf(stderr, "fuzz_resolved: property failed: %s (line %d)\n", #cond, __LINE__);       \
      abort();                                                                                  \
    }                                                                                           \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > EP_RELAY_PAYLOAD_MAX) {
    size = EP_RELAY_PAYLOAD_MAX;   /* a relay message holds no more */
  }
  ep_resolved_t r;
  ep_err_t err = {0};
  int rc = ep_resolved_parse(data, size, &r, &err);
  ep_relay_msg_t m;
  ep_err_t err2 = {0};
  int rc2 = ep_relay_msg_parse(EP_RELAY_CTX_CLIENT, EP_RELAY_RESOLVED, 1, data, size, &m, &err2);
  FUZZ_CHECK(rc == rc2);
  if (rc != EP_OK) {
    FUZZ_CHECK(err.msg[0] != '\0');
    return 0;
  }
  FUZZ_CHECK(r.n >= 1 && r.n <= EP_RESOLVED_MAX_ANSWERS);
  FUZZ_CHECK(r.n_more == 0 || r.n == EP_RESOLVED_MAX_ANSWERS);
  if (r.error) {
    FUZZ_CHECK(r.n == 1 && r.n_more == 0);
  }
  for (size_t i = 0; i < r.n; i++) {
    const ep_resolved_answer_t *a = &r.a[i];
    FUZZ_CHECK(a->value >= data && a->value + a->len <= data + size);
    if (a->type == EP_RESOLVED_IPV4) {
      FUZZ_CHECK(a->has_addr && a->len == 4);
    } else if (a->type == EP_RESOLVED_IPV6) {
      FUZZ_CHECK(a->has_addr && a->len == 16);
    } else {
      FUZZ_CHECK(!a->has_addr);
    }
    char txt[1200];
    ep_resolved_answer_format(txt, sizeof txt, a);
    for (const char *p = txt; *p != '\0'; p++) {
      FUZZ_CHECK(*p >= 0x20 && *p < 0x7f);
    }
  }
  if (r.n_more == 0) {
    uint8_t again[EP_RELAY_PAYLOAD_MAX];
    size_t len = 0;
    FUZZ_CHECK(ep_resolved_encode(r.a, r.n, again, sizeof again, &len, &err) == EP_OK);
    FUZZ_CHECK(len == size && memcmp(again, data, size) == 0);
  }
  return 0;
}
