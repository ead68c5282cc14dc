/* exitprobe tests — a scripted fake relay for the link and circuit tests.
 *
 * lf_identity_t: a relay's keys and a real-looking certificate chain made on
 * the spot (OpenSSL RSA-1024 self-signed X.509 identity cert, a TLS link
 * cert, Ed25519 identity and signing keys, CERTS types 2, 4, 5, 7 and 1),
 * plus an ntor onion key.
 * lf_circ_t: the relay side of one circuit through up to 3 such relays
 * (ntor server handshake, relay-side relay crypto and running digests), so
 * a test can answer what a channel sends without any network. */
#ifndef EP_TESTS_LINK_FAKE_H
#define EP_TESTS_LINK_FAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/crypto.h"
#include "proto/cell.h"
#include "proto/channel.h"
#include "proto/relaycrypt.h"
#include "proto/target.h"

typedef struct lf_identity {
  void *rsa;                       /* EVP_PKEY: RSA-1024 identity */
  void *tls_key;                   /* EVP_PKEY: the TLS link key */
  uint8_t rsa_id[20];
  uint8_t *id_cert;                /* type 2, X.509 DER */
  size_t id_cert_len;
  uint8_t *tls_cert;               /* the TLS certificate, X.509 DER */
  size_t tls_cert_len;
  uint8_t *link_cert;              /* type 1, X.509 DER (TLS key, signed by identity) */
  size_t link_cert_len;
  uint8_t ed_pk[32], ed_sk[64];    /* Ed25519 identity */
  uint8_t sign_pk[32], sign_sk[64];/* Ed25519 signing key */
  uint8_t cert4[256];              /* identity -> signing */
  size_t cert4_len;
  uint8_t cert5[256];              /* signing -> TLS link */
  size_t cert5_len;
  uint8_t cert7[512];              /* RSA -> Ed25519 cross-cert */
  size_t cert7_len;
  uint8_t ntor_sk[32], ntor_pk[32];
} lf_identity_t;

/* Generate a relay whose certificates are valid around `now`. */
lf_identity_t *lf_identity_new(time_t now);
void lf_identity_free(lf_identity_t *id);
/* The ep_target_t a client would have for it. */
ep_target_t lf_target(const lf_identity_t *id, uint32_t ipv4, uint16_t port);

/* Ways to spoil a CERTS cell. */
#define LF_CERTS_FLIP_SIG4   0x001u   /* a bit of the id->signing signature */
#define LF_CERTS_FLIP_SIG5   0x002u
#define LF_CERTS_FLIP_SIG7   0x004u   /* a bit of the RSA cross-cert signature */
#define LF_CERTS_FLIP_X509   0x008u   /* a bit of the X.509 self-signature */
#define LF_CERTS_OMIT_2      0x010u
#define LF_CERTS_OMIT_4      0x020u
#define LF_CERTS_OMIT_5      0x040u
#define LF_CERTS_OMIT_7      0x080u
#define LF_CERTS_DUP_4       0x100u
#define LF_CERTS_NO_TYPE1    0x200u
/* Build the CERTS payload (types 1, 2, 4, 5, 7). Returns its length. */
size_t lf_certs_payload(const lf_identity_t *id, unsigned flags, uint8_t *out, size_t cap);
/* An Ed25519 cert (cert-spec §2.1) signed by sk, with the signed-with-key
 * extension naming signer_pk when ext is true. Returns its length. */
size_t lf_edcert(uint8_t *out, uint8_t type, uint32_t exp_hours, uint8_t key_type,
                 const uint8_t key[32], bool ext, const uint8_t signer_pk[32],
                 const uint8_t signer_sk[64]);

/* Feed one encoded cell to a channel. */
void lf_feed_cell(ep_channel_t *ch, int linkproto, uint32_t circ_id, uint8_t cmd,
                  const uint8_t *payload, size_t plen, time_t now);
/* Take the next cell the channel wants to send (copied into storage, which
 * must hold EP_CELL_VAR_HEADER_MAX + 65535 bytes). false if none. */
bool lf_take_cell(ep_channel_t *ch, int linkproto, ep_cell_t *cell, uint8_t *storage);
/* Run the whole responder side of the handshake: check VERSIONS, send
 * VERSIONS(3,4,5 capped at maxproto), CERTS, AUTH_CHALLENGE, NETINFO; drain
 * the CHAN_OPEN event and our NETINFO. Returns the negotiated protocol. */
int lf_open_channel(ep_channel_t *ch, const lf_identity_t *id, int maxproto, time_t now);

/* ---- Relay side of a circuit ---- */

#define LF_MAX_HOPS 8

typedef struct lf_circ {
  uint32_t circ_id;
  unsigned n_hops;
  ep_relay_crypto_t *hop[LF_MAX_HOPS];
  ep_digest_t *bwd[LF_MAX_HOPS];   /* relay-side mirrors: Db, fed what we originate */
  ep_digest_t *fwd[LF_MAX_HOPS];   /* Df, fed what the client originated to us */
} lf_circ_t;

void lf_circ_init(lf_circ_t *c, uint32_t circ_id);
void lf_circ_free(lf_circ_t *c);
/* Add a hop from its key material (Df | Db | Kf | Kb). */
void lf_circ_add_hop(lf_circ_t *c, const uint8_t keys[EP_RELAY_KEYS_LEN]);
/* Answer a CREATE2/EXTEND2 ntor onionskin as relay `id`: adds a hop and
 * writes the 64-byte reply. `corrupt` flips a bit of AUTH. */
void lf_circ_answer_ntor(lf_circ_t *c, const lf_identity_t *id, const uint8_t onionskin[84],
                         uint8_t reply[64], bool corrupt);
/* Peel a RELAY cell from the client; returns the 0-based hop that
 * recognized it (body is then plaintext), or -1. */
int lf_circ_recv(lf_circ_t *c, const uint8_t payload[EP_CELL_PAYLOAD_LEN],
                 uint8_t body[EP_CELL_PAYLOAD_LEN]);
/* Originate a relay message at hop `hi` towards the client; writes the
 * cell payload. digest_out (20 bytes, or NULL) gets hop hi's backward
 * running digest after this cell. */
void lf_circ_send(lf_circ_t *c, unsigned hi, uint8_t relay_cmd, uint16_t stream_id,
                  const uint8_t *data, size_t len, uint8_t payload[EP_CELL_PAYLOAD_LEN],
                  uint8_t *digest_out);

#endif
