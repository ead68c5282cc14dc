/* exitprobe tests — the hostile relay's keys and certificates, and the
 * relay side of a circuit (factored from what tests/link_fake.c does for the
 * unit tests, without Check: every failure here is a return value).
 *
 * hr_ident_t: one relay identity made on the spot: an RSA-1024 identity key
 * with its self-signed X.509 certificate (CERTS type 2), an Ed25519 identity
 * and signing key (type 4: identity -> signing), the RSA -> Ed25519
 * cross-certificate (type 7), an ntor onion key, and, once a TLS certificate
 * is bound to it, the signing -> TLS link certificate (type 5).
 * hr_circ_t: relay-side crypto for up to HR_MAX_HOPS hops of one circuit
 * (every hop played by the same process). */
#ifndef EP_TESTS_HOSTILE_HR_KEYS_H
#define EP_TESTS_HOSTILE_HR_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/crypto.h"
#include "proto/cell.h"
#include "proto/relaycrypt.h"

typedef struct hr_ident {
  void *rsa;                        /* EVP_PKEY: RSA-1024 identity */
  uint8_t rsa_id[20];
  uint8_t *id_cert;                 /* type 2, X.509 DER */
  size_t id_cert_len;
  uint8_t ed_pk[32], ed_sk[64];     /* Ed25519 identity */
  uint8_t sign_pk[32], sign_sk[64]; /* Ed25519 signing key */
  uint8_t cert4[256];
  size_t cert4_len;
  uint8_t cert5[256];               /* set by hr_ident_bind_tls */
  size_t cert5_len;
  uint8_t cert7[512];
  size_t cert7_len;
  uint8_t ntor_sk[32], ntor_pk[32];
  bool expired;                     /* every certificate expired long ago */
} hr_ident_t;

/* A new identity whose certificates are valid around `now` (or, with
 * expired, ran out 10 days before it: beyond tor's 2-day slack). NULL on
 * failure. */
hr_ident_t *hr_ident_new(time_t now, bool expired);
void hr_ident_free(hr_ident_t *id);   /* NULL-safe */
/* Certify the TLS certificate (DER) the relay presents: makes cert5. */
int hr_ident_bind_tls(hr_ident_t *id, const uint8_t *tls_der, size_t len, time_t now);
/* "IP:PORT~FINGERPRINT~NTOR_B64~ED25519_B64", as exitprobe's --exit and
 * --first-hop take it. */
void hr_ident_spec(const hr_ident_t *id, uint16_t port, char *out, size_t cap);

/* Ways to spoil a CERTS cell. */
#define HR_CERTS_FLIP_SIG4 0x1u   /* a bit of the identity -> signing signature */

/* The CERTS payload (types 2, 4, 5, 7). Returns its length, 0 on failure. */
size_t hr_certs_payload(const hr_ident_t *id, unsigned flags, uint8_t *out, size_t cap);

/* ---- Relay side of a circuit ---- */

#define HR_MAX_HOPS 2

typedef struct hr_circ {
  unsigned n_hops;
  ep_relay_crypto_t *hop[HR_MAX_HOPS];
} hr_circ_t;

void hr_circ_free(hr_circ_t *c);
/* Add a hop from its key material (Df | Db | Kf | Kb). -1 when full. */
int hr_circ_add_hop(hr_circ_t *c, const uint8_t keys[EP_RELAY_KEYS_LEN]);
/* Peel a RELAY cell from the client: the 0-based hop that recognized it
 * (body is then plaintext), or -1. */
int hr_circ_recv(hr_circ_t *c, const uint8_t payload[EP_CELL_PAYLOAD_LEN],
                 uint8_t body[EP_CELL_PAYLOAD_LEN]);
/* Originate a relay message at hop `hi` towards the client; writes the cell
 * payload. -1 if the message does not fit or hi is not a hop. */
int hr_circ_send(hr_circ_t *c, unsigned hi, uint8_t relay_cmd, uint16_t stream_id,
                 const uint8_t *data, size_t len, uint8_t payload[EP_CELL_PAYLOAD_LEN]);

#endif
