/* exitprobe — fuzz harness: CERTS cells, parsed (src/proto/linkhs.h) and
 * verified (src/proto/linkcert.h), X.509 included.
 *
 * Input: TLSLEN 2 | the peer's TLS certificate (TLSLEN bytes) | FLAGS 1 |
 * a CERTS cell payload. The expectation is taken from the input itself so
 * that a well-formed chain verifies all the way down: the RSA identity is
 * the fingerprint of the type-2 certificate when it checks (else a fixed
 * value), and when FLAGS bit 0 is set the Ed25519 identity is the one the
 * type-7 cross-cert names. When FLAGS bit 1 is set, "now" is FLAGS >> 2
 * weeks after 2025-10-09 (so a chain recorded later can verify). Seeds in fuzz/corpus/certs/ are complete chains
 * (tests/data/link/, see tests/data/README.md). Properties: nothing is
 * proven on failure; on success the proven identities are the expected ones. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/reader.h"
#include "proto/edcert.h"
#include "proto/linkcert.h"
#include "proto/linkhs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                        \
  do {                                                                                          \
    if (!(cond)) {                                                                              \
      fprintf(stderr, "fuzz_certs: property failed: %s (line %d)\n", #cond, __LINE__);          \
      abort();                                                                                  \
    }                                                                                           \
  } while (0)

/* The time the seed chains were made (tests/data/link/README). */
#define FUZZ_NOW ((time_t)1760000000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ep_reader_t r;
  ep_reader_init(&r, data, size);
  uint16_t tlslen;
  const uint8_t *tls;
  uint8_t flags;
  if (ep_rd_u16(&r, &tlslen) < 0 || ep_rd_ptr(&r, &tls, tlslen) < 0 || ep_rd_u8(&r, &flags) < 0) {
    return 0;
  }
  const uint8_t *payload;
  size_t plen;
  ep_rd_rest(&r, &payload, &plen);

  ep_certs_t certs;
  ep_err_t e = {0};
  if (ep_certs_parse(payload, plen, &certs, &e) != EP_OK) {
    FUZZ_CHECK(e.msg[0] != '\0');
    return 0;
  }
  time_t now = FUZZ_NOW;
  if (flags & 2) {
    now += (time_t)(flags >> 2) * 7 * 86400;   /* later, up to 63 weeks */
  }
  uint8_t rsa_id[20];
  memset(rsa_id, 0x5a, sizeof rsa_id);
  const ep_certs_entry_t *c2 = ep_certs_find(&certs, EP_CERTS_RSA_ID);
  if (c2 != NULL) {
    uint8_t fp[20];
    time_t na;
    if (ep_x509_check_rsa_selfsigned(c2->body, c2->len, 1024, now, fp, &na, &e) == EP_OK) {
      memcpy(rsa_id, fp, 20);
    }
  }
  uint8_t ed_id[32];
  bool want_ed = false;
  const ep_certs_entry_t *c7 = ep_certs_find(&certs, EP_CERTS_RSA_ED_CROSS);
  if ((flags & 1) && c7 != NULL) {
    ep_rsa_crosscert_t cc;
    if (ep_rsa_crosscert_parse(&cc, c7->body, c7->len, &e) == EP_OK) {
      memcpy(ed_id, cc.ed25519_key, 32);
      want_ed = true;
    }
  }
  ep_certs_expect_t want = {rsa_id, want_ed ? ed_id : NULL, tls, tlslen, now};
  ep_certs_proven_t p;
  int rc = ep_certs_verify(&certs, &want, &p, &e);
  if (rc == EP_OK) {
    FUZZ_CHECK(memcmp(p.rsa_id, rsa_id, 20) == 0);
    if (want_ed) {
      FUZZ_CHECK(memcmp(p.ed25519_id, ed_id, 32) == 0);
    }
    FUZZ_CHECK(p.expires >= want.now - 2 * 86400);
  } else {
    static const uint8_t zero[20];
    FUZZ_CHECK(memcmp(p.rsa_id, zero, 20) == 0);
    FUZZ_CHECK(e.msg[0] != '\0');
  }
  return 0;
}
