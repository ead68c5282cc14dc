/* exitprobe — verifying a responder's CERTS cell (tor-spec §4.2, cert-spec):
 * does the relay at the other end of this TLS link prove the identity we
 * dialled?
 *
 * The Ed25519+RSA path (what tor 0.4.9 relays send):
 *   type 2  X.509 RSA identity cert: a 1024-bit RSA key, self-signed, within
 *           its validity dates (tor's slack: 2 days past, 30 days future);
 *           SHA-1 of its PKCS#1 DER is the RSA fingerprint;
 *   type 7  RSA->Ed25519 cross-cert: signed by that RSA key, not expired;
 *           certifies the Ed25519 identity key;
 *   type 4  Ed25519 identity->signing cert, signed by that identity (and its
 *           signed-with-key extension, when present, names it);
 *   type 5  signing->TLS link cert, signed by the signing key; its certified
 *           key is SHA-256 of the TLS certificate the peer presented.
 * Then the identities are compared with what we wanted:
 *   "identity mismatch: wanted <hex>, relay proved <hex>".
 * Type 1 (the RSA link cert) is ignored; unknown types are ignored. */
#ifndef EP_PROTO_LINKCERT_H
#define EP_PROTO_LINKCERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/err.h"
#include "proto/linkhs.h"

/* X.509 validity slack, as tor allows (seconds). */
#define EP_X509_PAST_SLOP (2 * 24 * 60 * 60)
#define EP_X509_FUTURE_SLOP (30 * 24 * 60 * 60)

typedef struct ep_certs_expect {
  const uint8_t *rsa_id;          /* 20 bytes: required */
  const uint8_t *ed25519_id;      /* 32 bytes or NULL when unknown */
  const uint8_t *tls_cert_der;    /* the peer's TLS certificate (DER) */
  size_t tls_cert_len;
  time_t now;
} ep_certs_expect_t;

typedef struct ep_certs_proven {
  uint8_t rsa_id[20];
  uint8_t ed25519_id[32];
  uint8_t signing_key[32];
  time_t expires;                 /* the earliest expiry among the checked certs */
} ep_certs_proven_t;

/* EP_OK and *out filled; EP_ERR_VERIFY (a missing certificate, a bad
 * signature, a wrong key size, a TLS certificate not the one certified, an
 * identity mismatch), EP_ERR_EXPIRED, EP_ERR_MALFORMED (a certificate that
 * does not parse), EP_ERR_NOMEM. */
int ep_certs_verify(const ep_certs_t *certs, const ep_certs_expect_t *want, ep_certs_proven_t *out,
                    ep_err_t *err);

/* The X.509 piece on its own: a self-signed RSA certificate of `bits` bits
 * (0: any) valid at now within the slack above; writes the SHA-1 fingerprint
 * of its key. EP_OK, EP_ERR_MALFORMED, EP_ERR_VERIFY, EP_ERR_EXPIRED. */
int ep_x509_check_rsa_selfsigned(const uint8_t *der, size_t len, int bits, time_t now,
                                 uint8_t fingerprint[20], time_t *not_after, ep_err_t *err);

#endif
