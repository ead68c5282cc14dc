/* exitprobe — fuzz harness: authority key certificates (src/dir/authcert.h).
 *
 * The input is parsed as a concatenation of certificates; each that parses is
 * verified at a fixed `now` and found again by (identity, signing key). */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dir/authcert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "fuzz_authcert: property failed: %s (line %d)\n", #cond, \
              __LINE__);                                                       \
      abort();                                                                 \
    }                                                                          \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ep_err_t err = {0};
  ep_authcerts_t *l = ep_authcerts_parse((const char *)data, size, &err);
  if (l == NULL) {
    FUZZ_CHECK(err.code < 0 && strstr(err.msg, "authority certificate") == err.msg);
    return 0;
  }
  FUZZ_CHECK(ep_authcerts_count(l) >= 1);
  for (size_t i = 0; i < ep_authcerts_count(l); i++) {
    const ep_authcert_t *c = ep_authcerts_get(l, i);
    FUZZ_CHECK(c->identity_key != NULL && c->signing_key != NULL);
    int rc = ep_authcert_verify(c, (time_t)1668855600, 0, &err);
    FUZZ_CHECK(rc == EP_OK || rc == EP_ERR_VERIFY || rc == EP_ERR_EXPIRED);
    const ep_authcert_t *f = ep_authcerts_find(l, c->fingerprint, c->signing_digest);
    FUZZ_CHECK(f != NULL && memcmp(f->signing_digest, c->signing_digest, 20) == 0);
  }
  ep_authcerts_free(l);
  return 0;
}
