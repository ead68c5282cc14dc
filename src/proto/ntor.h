/* exitprobe — the ntor handshake (tor-spec §5.1.4, proposal 216):
 * CREATE2/EXTEND2 handshake type 0x0002.
 *
 * Client side: ep_ntor_client_start makes the 84-byte onionskin
 * (ID | B | X) and a state holding the secret x; ep_ntor_client_finish takes
 * the 64-byte reply (Y | AUTH), checks AUTH in constant time and derives the
 * circuit keys with HKDF-SHA256 (tor-spec §5.2.2). The state owns its
 * secrets and wipes them when the handshake finishes and when it is freed.
 *
 * Server side (for the test suite's hostile relay and known-answer tests):
 * ep_ntor_server_handshake answers an onionskin with a reply and keys. */
#ifndef EP_PROTO_NTOR_H
#define EP_PROTO_NTOR_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "proto/relaycrypt.h"   /* EP_RELAY_KEYS_LEN: Df 20 | Db 20 | Kf 16 | Kb 16 */

#define EP_NTOR_HANDSHAKE_TYPE 0x0002
#define EP_NTOR_ID_LEN 20
#define EP_NTOR_KEY_LEN 32
#define EP_NTOR_ONIONSKIN_LEN 84   /* NODEID 20 | KEYID(B) 32 | CLIENT_KP X 32 */
#define EP_NTOR_REPLY_LEN 64       /* SERVER_KP Y 32 | AUTH 32 */
#define EP_NTOR_KEYS_WITH_KH_LEN 92 /* ... | KH 20 (onion services only) */

typedef struct ep_ntor_client ep_ntor_client_t;  /* x, X, ID, B; wiped on free */

/* Start a handshake with relay (id = RSA identity digest, B = ntor onion
 * key): a fresh random x. Writes the onionskin; *out is the new state (the
 * caller frees it with ep_ntor_client_free). EP_OK, EP_ERR_NOMEM. */
int ep_ntor_client_start(ep_ntor_client_t **out, const uint8_t id[20], const uint8_t B[32],
                         uint8_t onionskin[EP_NTOR_ONIONSKIN_LEN]);
/* The same with a given secret x (32 random bytes; the circuit code draws
 * them from its channel's pool, the known-answer tests fix them). */
int ep_ntor_client_start_with_secret(ep_ntor_client_t **out, const uint8_t id[20],
                                     const uint8_t B[32], const uint8_t x[32],
                                     uint8_t onionskin[EP_NTOR_ONIONSKIN_LEN]);
/* Process the relay's reply (CREATED2/EXTENDED2 HDATA, exactly 64 bytes).
 * Checks AUTH in constant time (and that neither EXP() is the point at
 * infinity), accumulating every failure and failing once at the end; then
 * derives keylen bytes of key material (EP_RELAY_KEYS_LEN for a relay hop:
 * Df|Db|Kf|Kb). On failure: EP_ERR_VERIFY and keys are all zero. The state's
 * secret is wiped either way; a second call gives EP_ERR_STATE.
 * keylen may be up to EP_HKDF_SHA256_MAX_OUT (EP_ERR_LIMIT beyond). */
int ep_ntor_client_finish(ep_ntor_client_t *st, const uint8_t reply[EP_NTOR_REPLY_LEN],
                          uint8_t *keys, size_t keylen, ep_err_t *err);
void ep_ntor_client_free(ep_ntor_client_t *st);  /* NULL-safe, wipes */

/* Relay side. id, b (secret onion key), B (its public key) describe us;
 * onionskin is the client's CREATE2 HDATA. y is the ephemeral secret, or NULL
 * for a fresh random one (tests pass a fixed y). Writes the reply (Y | AUTH)
 * and keylen bytes of keys. EP_ERR_VERIFY if the onionskin names another
 * identity or onion key, or an EXP() is the point at infinity; reply and
 * keys are then all zero. */
int ep_ntor_server_handshake(const uint8_t id[20], const uint8_t b[32], const uint8_t B[32],
                             const uint8_t onionskin[EP_NTOR_ONIONSKIN_LEN],
                             const uint8_t *y, uint8_t reply[EP_NTOR_REPLY_LEN],
                             uint8_t *keys, size_t keylen, ep_err_t *err);

#endif
