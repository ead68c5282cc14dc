/* exitprobe — Ed25519 certificates (cert-spec §2.1, §2.2) and the
 * RSA->Ed25519 cross-certificate (cert-spec §2.3, CERTS cell type 7).
 *
 * Parse and verify are two steps with two names: ep_edcert_parse reads the
 * bytes (every field through ep_reader_t) into an "unchecked" cert;
 * ep_edcert_check verifies its signature and expiry. Unknown cert types,
 * key types and extension types are kept as numbers; an extension we do not
 * understand whose flags carry AFFECTS_VALIDATION makes the cert invalid
 * (rejected by the parser, cert-spec §2.1). */
#ifndef EP_PROTO_EDCERT_H
#define EP_PROTO_EDCERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/crypto.h"
#include "lib/err.h"

#define EP_EDCERT_VERSION 1
#define EP_EDCERT_KEY_LEN 32
#define EP_EDCERT_SIG_LEN 64
/* Fixed part: version 1, type 1, expiration 4, key type 1, key 32, n_ext 1,
 * plus the signature: the shortest possible cert. */
#define EP_EDCERT_MIN_LEN (1 + 1 + 4 + 1 + 32 + 1 + 64)

/* Certificate types (cert-spec A.1; tor-spec §4.2 for the CERTS cell). */
#define EP_CERTTYPE_ID_SIGNING      0x04  /* signing key, by identity key */
#define EP_CERTTYPE_SIGNING_LINK    0x05  /* TLS link cert, by signing key */
#define EP_CERTTYPE_SIGNING_AUTH    0x06  /* auth key, by signing key */
#define EP_CERTTYPE_RSA_CROSSCERT   0x07  /* RSA->Ed25519 (not this format) */
#define EP_CERTTYPE_HS_DESC_SIGNING 0x08
#define EP_CERTTYPE_HS_INTRO_AUTH   0x09
#define EP_CERTTYPE_NTOR_CROSSCERT  0x0a
#define EP_CERTTYPE_HS_ENC_KEY      0x0b

/* Certified key types (cert-spec A.4). Tor before 0.4.5.1-alpha wrote 01
 * for every type; accepted as is. */
#define EP_CERTKEY_ED25519     0x01
#define EP_CERTKEY_SHA256_RSA  0x02
#define EP_CERTKEY_SHA256_X509 0x03

/* Extensions (cert-spec A.2) and their flags. */
#define EP_CERTEXT_SIGNED_WITH_KEY 0x04
#define EP_CERTEXT_FLAG_AFFECTS_VALIDATION 0x01

typedef struct ep_edcert_ext {
  uint8_t type;          /* kept as a number, known or not */
  uint8_t flags;
  uint16_t len;
  const uint8_t *data;   /* len bytes inside the cert's own copy (encoded) */
} ep_edcert_ext_t;

/* A parsed cert. Read-only for callers; made by ep_edcert_parse, which owns
 * everything in it, released by ep_edcert_free. */
typedef struct ep_edcert {
  uint8_t version;
  uint8_t cert_type;
  uint32_t expiration_hours;               /* hours since 1970-01-01 UTC */
  uint8_t key_type;
  uint8_t certified_key[EP_EDCERT_KEY_LEN];
  uint8_t n_extensions;
  ep_edcert_ext_t *extensions;             /* n_extensions of them */
  bool has_signing_key;                    /* extension 4 present */
  uint8_t signing_key[EP_EDCERT_KEY_LEN];  /* its key, when present */
  uint8_t signature[EP_EDCERT_SIG_LEN];
  uint8_t *encoded;                        /* the whole cert as received */
  size_t encoded_len;
  size_t signed_len;                       /* encoded_len - 64: what is signed */
} ep_edcert_t;

/* Parse exactly len bytes as one cert. EP_OK and *out (free with
 * ep_edcert_free); otherwise *out = NULL and:
 *   EP_ERR_TRUNCATED   the bytes end inside a field or extension,
 *   EP_ERR_MALFORMED   bytes left after the signature, a signed-with-key
 *                      extension not 32 bytes long or given twice,
 *   EP_ERR_UNSUPPORTED version other than 1, or an unknown extension with
 *                      AFFECTS_VALIDATION,
 *   EP_ERR_NOMEM. */
int ep_edcert_parse(ep_edcert_t **out, const uint8_t *buf, size_t len, ep_err_t *err);
void ep_edcert_free(ep_edcert_t *cert);   /* NULL-safe */

/* Verify: the Ed25519 signature over the first signed_len bytes, by
 * signing_key, or by the key in extension 4 when signing_key is NULL; if both
 * are there they must be equal. Then the expiry: valid while
 * now <= expiration_hours * 3600. EP_OK, EP_ERR_VERIFY (no key, key mismatch,
 * bad signature) or EP_ERR_EXPIRED. */
int ep_edcert_check(const ep_edcert_t *cert, const uint8_t *signing_key, time_t now,
                    ep_err_t *err);

/* Expiry as a Unix time. */
time_t ep_edcert_expires(const ep_edcert_t *cert);
/* Extension of the given type, or NULL. */
const ep_edcert_ext_t *ep_edcert_find_ext(const ep_edcert_t *cert, uint8_t type);

/* Names for logs ("id-signing", "link", ...); "unknown" for others. */
const char *ep_certtype_name(unsigned type);
const char *ep_certkey_name(unsigned key_type);
const char *ep_certext_name(unsigned ext_type);

/* ---- RSA->Ed25519 cross-certificate (CERTS cell type 7) ---- */

#define EP_RSA_CROSSCERT_PREFIX "Tor TLS RSA/Ed25519 cross-certificate"
#define EP_RSA_CROSSCERT_BODY_LEN (32 + 4)   /* the signed part: key | expiration */
#define EP_RSA_CROSSCERT_MAX_SIG 255

/* A value type: no allocation, nothing to free. */
typedef struct ep_rsa_crosscert {
  uint8_t ed25519_key[EP_EDCERT_KEY_LEN];   /* the Ed25519 identity vouched for */
  uint32_t expiration_hours;
  uint8_t siglen;
  uint8_t signature[EP_RSA_CROSSCERT_MAX_SIG];
  uint8_t body[EP_RSA_CROSSCERT_BODY_LEN];  /* the non-signature bytes, as received */
} ep_rsa_crosscert_t;

/* Parse exactly len bytes: ED25519_KEY 32 | EXPIRATION_DATE 4 | SIGLEN 1 |
 * SIGNATURE. EP_ERR_TRUNCATED, EP_ERR_MALFORMED (bytes after the signature). */
int ep_rsa_crosscert_parse(ep_rsa_crosscert_t *out, const uint8_t *buf, size_t len,
                           ep_err_t *err);
/* SHA-256 of the prefix and the body: what the RSA identity key signs. */
void ep_rsa_crosscert_digest(const ep_rsa_crosscert_t *cc, uint8_t out[EP_SHA256_LEN]);
/* Verify the RSA signature (PKCS#1 v1.5, raw digest, ep_rsa_verify_raw) by
 * rsa_identity, then the expiry (valid while now <= expiration_hours * 3600).
 * EP_OK, EP_ERR_VERIFY or EP_ERR_EXPIRED. Whether ed25519_key is the
 * identity the relay claims is for the caller to compare. */
int ep_rsa_crosscert_check(const ep_rsa_crosscert_t *cc, const ep_rsa_pub_t *rsa_identity,
                           time_t now, ep_err_t *err);
time_t ep_rsa_crosscert_expires(const ep_rsa_crosscert_t *cc);

#endif
