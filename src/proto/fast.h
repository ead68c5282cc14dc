/* exitprobe — CREATE_FAST / CREATED_FAST (tor-spec §5.1.5) with KDF-TOR
 * (tor-spec §5.2.1).
 *
 * The client sends X (20 random bytes); the relay answers Y (20 bytes) and
 * KH (20 bytes). K0 = X | Y; KDF-TOR(K0) = KH | Df | Db | Kf | Kb | ...
 * The client checks KH in constant time. Only for a first hop, whose
 * identity TLS already proved; deprecated by tor, kept for tests and as a
 * fallback. The state owns X and wipes it on finish and on free. */
#ifndef EP_PROTO_FAST_H
#define EP_PROTO_FAST_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "proto/relaycrypt.h"   /* EP_RELAY_KEYS_LEN */

#define EP_FAST_HANDSHAKE_LEN 20   /* CREATE_FAST: X */
#define EP_FAST_REPLY_LEN 40       /* CREATED_FAST: Y 20 | KH 20 */
#define EP_FAST_KH_LEN 20

typedef struct ep_fast_client ep_fast_client_t;

/* Fresh random X, written to x_out; *out is the new state (free with
 * ep_fast_client_free). EP_OK or EP_ERR_NOMEM. */
int ep_fast_client_start(ep_fast_client_t **out, uint8_t x_out[EP_FAST_HANDSHAKE_LEN]);
/* The same with a given X: for known-answer tests only (x_out = x). */
int ep_fast_client_start_with_secret(ep_fast_client_t **out, const uint8_t x[EP_FAST_HANDSHAKE_LEN],
                                     uint8_t x_out[EP_FAST_HANDSHAKE_LEN]);
/* The CREATED_FAST body (Y | KH, 40 bytes): checks KH in constant time and
 * writes keylen bytes of key material after KH (EP_RELAY_KEYS_LEN for
 * Df|Db|Kf|Kb). EP_ERR_VERIFY on a wrong KH (keys all zero); the state's X
 * is wiped either way, a second call gives EP_ERR_STATE. keylen at most
 * EP_KDF_TOR_MAX_OUT - 20 (EP_ERR_LIMIT). */
int ep_fast_client_finish(ep_fast_client_t *st, const uint8_t reply[EP_FAST_REPLY_LEN],
                          uint8_t *keys, size_t keylen, ep_err_t *err);
void ep_fast_client_free(ep_fast_client_t *st);   /* NULL-safe, wipes */

/* Relay side: answer X with Y (random, or the given y for tests) and KH;
 * writes the 40-byte reply and keylen bytes of keys. */
int ep_fast_server_handshake(const uint8_t x[EP_FAST_HANDSHAKE_LEN], const uint8_t *y,
                             uint8_t reply[EP_FAST_REPLY_LEN], uint8_t *keys, size_t keylen,
                             ep_err_t *err);

#endif
