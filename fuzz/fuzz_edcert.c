/* exitprobe — fuzz harness: Ed25519 certificates and the RSA->Ed25519
 * cross-certificate (src/proto/edcert.h).
 *
 * The whole input is parsed as one Ed25519 cert (ep_edcert_parse); a cert
 * that parses is checked (ep_edcert_check) at a fixed `now` three ways: with
 * its own signed-with-key extension, with the key it certifies, and with a
 * fixed outside key. The same input is parsed as an RSA cross-cert and
 * checked against the RSA identity key of tests/data/vectors/ed25519_certs.json
 * (rsa_crosscert). Properties the header promises are asserted: a finding is
 * either a sanitizer report or one of these aborts. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"
#include "lib/err.h"
#include "proto/edcert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                     \
  do {                                                                       \
    if (!(cond)) {                                                           \
      fprintf(stderr, "fuzz_edcert: property failed: %s (line %d)\n", #cond, \
              __LINE__);                                                     \
      abort();                                                               \
    }                                                                        \
  } while (0)

/* 2020-10-01 00:00:00 UTC: the chutney type-4 cert is still valid, the type-5
 * cert has expired, the relays' identity certs are valid. */
#define FUZZ_NOW ((time_t)1601510400)

/* The chutney relay's RSA identity key (PKCS#1 DER), from the vector file. */
static const char rsa_identity_hex[] =
    "30818902818100d38b1e6ceb946e0db0751f4cbace3dcb9688b6c25304227b4710c35afb73627e50"
    "500f5913e158b621802612d1c75827003703338375237552eb3cd3c12f6ab3604e60c1a2d26bb1fb"
    "ad206ff023969a90909d6a65a5458a5312c26ebd3a3dad30302d4515cdcd264146ac18e6fc60a04b"
    "d3ec327f04294d96ba5aa25b464c3f0203010001";

/* The type-4 cert's signing key: an outside key to check every cert with. */
static const uint8_t outside_key[EP_EDCERT_KEY_LEN] = {
    0xdc, 0xb6, 0x04, 0xdb, 0x20, 0x34, 0xb0, 0x0f, 0xd1, 0x69, 0x86, 0xd4, 0xad, 0xb9, 0xd1, 0x6b,
    0x21, 0xcb, 0x4e, 0x44, 0x57, 0xa3, 0x3d, 0xec, 0x0f, 0x53, 0x89, 0x03, 0x68, 0x3e, 0x96, 0xe9};

static int hexval(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  return c - 'a' + 10;
}

/* Loaded once per process and kept for its life (a harness may keep state
 * that does not depend on the input). */
static const ep_rsa_pub_t *rsa_identity(void) {
  static ep_rsa_pub_t *key;
  static int loaded;
  if (!loaded) {
    uint8_t der[sizeof rsa_identity_hex / 2];
    size_t n = (sizeof rsa_identity_hex - 1) / 2;
    for (size_t i = 0; i < n; i++) {
      der[i] = (uint8_t)(hexval(rsa_identity_hex[2 * i]) << 4 | hexval(rsa_identity_hex[2 * i + 1]));
    }
    key = ep_rsa_pub_from_der(der, n, NULL);
    if (key == NULL) {
      fprintf(stderr, "fuzz_edcert: cannot load the RSA identity key\n");
      abort();
    }
    loaded = 1;
  }
  return key;
}

static void check_status(int rc) {
  FUZZ_CHECK(rc == EP_OK || rc == EP_ERR_VERIFY || rc == EP_ERR_EXPIRED);
}

static void fuzz_edcert(const uint8_t *data, size_t size) {
  ep_edcert_t *cert = NULL;
  ep_err_t err = {0};
  int rc = ep_edcert_parse(&cert, data, size, &err);
  if (rc != EP_OK) {
    FUZZ_CHECK(cert == NULL);
    FUZZ_CHECK(rc == EP_ERR_TRUNCATED || rc == EP_ERR_MALFORMED || rc == EP_ERR_UNSUPPORTED);
    FUZZ_CHECK(err.code == rc && err.msg[0] != '\0');
    return;
  }
  FUZZ_CHECK(cert != NULL);
  FUZZ_CHECK(size >= EP_EDCERT_MIN_LEN);
  FUZZ_CHECK(cert->version == EP_EDCERT_VERSION);
  FUZZ_CHECK(cert->encoded_len == size && memcmp(cert->encoded, data, size) == 0);
  FUZZ_CHECK(cert->signed_len == size - EP_EDCERT_SIG_LEN);
  FUZZ_CHECK(memcmp(cert->signature, data + cert->signed_len, EP_EDCERT_SIG_LEN) == 0);

  /* Every extension lies inside the signed part of the cert's own copy. */
  for (unsigned i = 0; i < cert->n_extensions; i++) {
    const ep_edcert_ext_t *e = &cert->extensions[i];
    FUZZ_CHECK(e->data >= cert->encoded);
    FUZZ_CHECK((size_t)(e->data - cert->encoded) + e->len <= cert->signed_len);
    (void)ep_certext_name(e->type);
  }
  const ep_edcert_ext_t *skx = ep_edcert_find_ext(cert, EP_CERTEXT_SIGNED_WITH_KEY);
  FUZZ_CHECK((skx != NULL) == cert->has_signing_key);
  if (skx != NULL) {
    FUZZ_CHECK(skx->len == EP_EDCERT_KEY_LEN);
    FUZZ_CHECK(memcmp(skx->data, cert->signing_key, EP_EDCERT_KEY_LEN) == 0);
  }
  (void)ep_certtype_name(cert->cert_type);
  (void)ep_certkey_name(cert->key_type);
  FUZZ_CHECK(ep_edcert_expires(cert) == (time_t)cert->expiration_hours * 3600);

  rc = ep_edcert_check(cert, NULL, FUZZ_NOW, &err);
  check_status(rc);
  if (!cert->has_signing_key) {
    FUZZ_CHECK(rc == EP_ERR_VERIFY);   /* no key anywhere */
  }
  int own = rc;
  if (cert->has_signing_key) {
    /* Naming the extension's own key must give the same answer. */
    uint8_t key[EP_EDCERT_KEY_LEN];
    memcpy(key, cert->signing_key, sizeof key);
    FUZZ_CHECK(ep_edcert_check(cert, key, FUZZ_NOW, NULL) == own);
  }
  check_status(ep_edcert_check(cert, cert->certified_key, FUZZ_NOW, &err));
  rc = ep_edcert_check(cert, outside_key, FUZZ_NOW, &err);
  check_status(rc);
  if (rc == EP_OK) {
    /* Valid now: still valid at expiry, expired one second later. */
    FUZZ_CHECK(ep_edcert_check(cert, outside_key, ep_edcert_expires(cert), NULL) == EP_OK);
    FUZZ_CHECK(ep_edcert_check(cert, outside_key, ep_edcert_expires(cert) + 1, NULL) ==
               EP_ERR_EXPIRED);
  }
  ep_edcert_free(cert);
}

static void fuzz_crosscert(const uint8_t *data, size_t size) {
  ep_rsa_crosscert_t cc;
  ep_err_t err = {0};
  int rc = ep_rsa_crosscert_parse(&cc, data, size, &err);
  if (rc != EP_OK) {
    FUZZ_CHECK(rc == EP_ERR_TRUNCATED || rc == EP_ERR_MALFORMED);
    return;
  }
  FUZZ_CHECK(size == EP_RSA_CROSSCERT_BODY_LEN + 1u + cc.siglen);
  FUZZ_CHECK(memcmp(cc.body, data, EP_RSA_CROSSCERT_BODY_LEN) == 0);
  FUZZ_CHECK(memcmp(cc.ed25519_key, data, EP_EDCERT_KEY_LEN) == 0);
  FUZZ_CHECK(memcmp(cc.signature, data + EP_RSA_CROSSCERT_BODY_LEN + 1, cc.siglen) == 0);
  uint8_t digest[EP_SHA256_LEN];
  ep_rsa_crosscert_digest(&cc, digest);
  (void)ep_rsa_crosscert_expires(&cc);
  FUZZ_CHECK(ep_rsa_crosscert_check(&cc, NULL, FUZZ_NOW, NULL) == EP_ERR_VERIFY);
  check_status(ep_rsa_crosscert_check(&cc, rsa_identity(), FUZZ_NOW, &err));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_edcert(data, size);
  fuzz_crosscert(data, size);
  return 0;
}
