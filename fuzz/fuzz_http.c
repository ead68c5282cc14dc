/* exitprobe — fuzz harness: the HTTP/1.0 response parser and the inflater
 * behind it (src/probe/http.h, src/probe/inflate.h).
 *
 * The first input byte picks a mode, the rest is the data:
 *   bit 0 clear: the data is a whole response (status line, headers, body);
 *   bit 0 set:   the data is a body, served after a fixed head saying
 *                "Content-Encoding: deflate" (bit 1: gzip), so the fuzzer
 *                reaches the inflater without having to find the header.
 * Each response is parsed fed whole, then fed in pieces (one byte at a time
 * for small inputs, else pieces whose size comes from bits 2-7). Asserted:
 * the outcome does not depend on the pieces (same status, same error code,
 * and the same decoded body on success) — except when the bomb guard trips,
 * whose exact trip point may depend on the pieces; the decoded body never
 * exceeds its cap. The data is also inflated on its own (ep_inflate_all). */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/caps.h"
#include "lib/err.h"
#include "probe/dirclient/http.h"
#include "probe/dirclient/inflate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                    \
  do {                                                                      \
    if (!(cond)) {                                                          \
      fprintf(stderr, "fuzz_http: property failed: %s (line %d)\n", #cond, \
              __LINE__);                                                    \
      abort();                                                              \
    }                                                                       \
  } while (0)

#define FUZZ_BODY_CAP (1u * EP_MiB)

typedef struct outcome {
  int rc;
  int status;
  uint8_t *body;
  size_t blen;
} outcome_t;

static outcome_t run(const uint8_t *p, size_t n, size_t step) {
  ep_http_limits_t lim;
  ep_http_limits_default(&lim);
  lim.header_cap = 4096;
  lim.body_cap = FUZZ_BODY_CAP;
  outcome_t o = {0, 0, NULL, 0};
  ep_err_t err = {0};
  ep_http_resp_t *r = ep_http_resp_new("fuzz", &lim, &err);
  FUZZ_CHECK(r != NULL);
  int rc = EP_NEED_MORE;
  size_t off = 0;
  if (step == 0) {
    step = n > 0 ? n : 1;
  }
  while (off < n && rc >= 0) {
    size_t k = n - off < step ? n - off : step;
    rc = ep_http_resp_feed(r, p + off, k, &err);
    off += k;
  }
  if (rc >= 0) {
    rc = ep_http_resp_finish(r, &err);
  }
  if (rc < 0) {
    FUZZ_CHECK(err.code == rc);
    FUZZ_CHECK(strncmp(err.msg, "http from fuzz: ", 16) == 0);
  }
  o.rc = rc;
  o.status = ep_http_resp_status(r);
  /* Walk every accessor. */
  (void)ep_http_resp_reason(r);
  (void)ep_http_resp_header(r, "Content-Type");
  for (size_t i = 0; i < ep_http_resp_header_count(r); i++) {
    const char *name, *value;
    FUZZ_CHECK(ep_http_resp_header_at(r, i, &name, &value) == 0);
    FUZZ_CHECK(strlen(name) > 0);
  }
  size_t blen;
  const uint8_t *b = ep_http_resp_body(r, &blen);
  FUZZ_CHECK(blen <= FUZZ_BODY_CAP);
  if (rc == EP_OK) {
    o.body = ep_http_resp_take_body(r, &o.blen, NULL);
    FUZZ_CHECK(o.body != NULL);
  } else {
    (void)b;
  }
  ep_http_resp_free(r);
  return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) {
    return 0;
  }
  uint8_t mode = data[0];
  const uint8_t *p = data + 1;
  size_t n = size - 1;

  uint8_t *owned = NULL;
  if (mode & 1) {
    const char *head = (mode & 2) ? "HTTP/1.0 200 OK\r\nContent-Encoding: gzip\r\n\r\n"
                                  : "HTTP/1.0 200 OK\r\nContent-Encoding: deflate\r\n\r\n";
    size_t hl = strlen(head);
    owned = malloc(hl + n + 1);
    FUZZ_CHECK(owned != NULL);
    memcpy(owned, head, hl);
    if (n > 0) {
      memcpy(owned + hl, p, n);
    }
    p = owned;
    n += hl;
  }

  outcome_t whole = run(p, n, 0);
  size_t step = n <= 2048 ? 1 : 1 + (size_t)(mode >> 2) * 37;
  outcome_t pieces = run(p, n, step);
  if (whole.rc != EP_ERR_LIMIT && pieces.rc != EP_ERR_LIMIT) {
    FUZZ_CHECK(whole.rc == pieces.rc);
    FUZZ_CHECK(whole.status == pieces.status);
    if (whole.rc == EP_OK) {
      FUZZ_CHECK(whole.blen == pieces.blen);
      FUZZ_CHECK(whole.blen == 0 || memcmp(whole.body, pieces.body, whole.blen) == 0);
    }
  }
  free(whole.body);
  free(pieces.body);
  free(owned);

  /* The inflater alone, on the raw data. */
  uint8_t *out = NULL;
  size_t outlen = 0;
  ep_err_t err = {0};
  int rc = ep_inflate_all(data + 1, size - 1, FUZZ_BODY_CAP, &out, &outlen, &err);
  if (rc == EP_OK) {
    FUZZ_CHECK(out != NULL);
    FUZZ_CHECK(outlen <= ep_inflate_allowance(FUZZ_BODY_CAP, size - 1));
  } else {
    FUZZ_CHECK(out == NULL);
  }
  free(out);
  return 0;
}
