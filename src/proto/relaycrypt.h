/* exitprobe — "tor1" relay cell crypto for one hop (tor-spec §5.5, §6.1):
 * AES-128-CTR (zero IV, one continuous keystream per direction) and a
 * running SHA-1 digest per direction seeded with Df / Db.
 *
 * One ep_relay_crypto_t per hop of a circuit, made from the hop's 72 bytes
 * of key material Df | Db | Kf | Kb (ntor or CREATE_FAST output). The object
 * owns copies of its keys and wipes them when freed.
 *
 * Client (origin) side, for a circuit of hops 1..N:
 *   sending to hop i: ep_relay_crypto_originate(hop i), then
 *                     ep_relay_crypto_encrypt_forward(hop i-1) ... (hop 1);
 *   receiving:        ep_relay_crypto_decrypt_backward(hop 1), (hop 2), ...
 *                     until one returns true: that hop sent the cell.
 * Relay side (the test suite's hostile relay): the same object, other
 * functions — ep_relay_crypto_relay_decrypt_forward on each cell arriving
 * from the client, ep_relay_crypto_relay_originate_backward to send, and
 * ep_relay_crypto_relay_encrypt_backward for cells passed back from further
 * hops. An object is used on one side only.
 *
 * The body is the 509-byte relay cell payload: command 1 | recognized 2 |
 * stream id 2 | digest 4 | length 2 | data. Fixed offsets into a fixed-size
 * array; parsing the fields is the relay cell codec's job. */
#ifndef EP_PROTO_RELAYCRYPT_H
#define EP_PROTO_RELAYCRYPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EP_RELAY_BODY_LEN 509
#define EP_RELAY_KEYS_LEN 72        /* Df 20 | Db 20 | Kf 16 | Kb 16 */
#define EP_RELAY_DIGEST_OFFSET 5
#define EP_RELAY_DIGEST_LEN 4

typedef struct ep_relay_crypto ep_relay_crypto_t;

/* NULL on allocation failure. keys = Df | Db | Kf | Kb (copied). */
ep_relay_crypto_t *ep_relay_crypto_new(const uint8_t keys[EP_RELAY_KEYS_LEN]);
void ep_relay_crypto_free(ep_relay_crypto_t *c);  /* NULL-safe, wipes */

/* Client side. body = plaintext relay payload; its digest field is set to
 * zero, the running forward digest (seeded with Df) takes the whole body,
 * its first 4 bytes go into the digest field, then this hop's forward AES
 * layer is applied. */
void ep_relay_crypto_originate(ep_relay_crypto_t *c, uint8_t body[EP_RELAY_BODY_LEN]);
/* Apply only the forward AES layer (for the hops before the target hop). */
void ep_relay_crypto_encrypt_forward(ep_relay_crypto_t *c, uint8_t body[EP_RELAY_BODY_LEN]);
/* Remove this hop's backward AES layer; true if the cell is now recognized:
 * recognized == 0 and the digest field matches the running backward digest
 * (seeded with Db) taken over the body with a zero digest field. The digest
 * state is updated only then; the body keeps the digest field it had. */
bool ep_relay_crypto_decrypt_backward(ep_relay_crypto_t *c, uint8_t body[EP_RELAY_BODY_LEN]);

/* The full 20-byte value of the running forward / backward digest as it
 * stands (after the last cell originated / recognized): what an
 * authenticated SENDME (v1) carries. */
void ep_relay_crypto_forward_digest(const ep_relay_crypto_t *c, uint8_t out[20]);
void ep_relay_crypto_backward_digest(const ep_relay_crypto_t *c, uint8_t out[20]);

/* Relay side: the mirror images (forward digest Df / key Kf inbound,
 * backward digest Db / key Kb outbound). */
bool ep_relay_crypto_relay_decrypt_forward(ep_relay_crypto_t *c, uint8_t body[EP_RELAY_BODY_LEN]);
void ep_relay_crypto_relay_originate_backward(ep_relay_crypto_t *c,
                                              uint8_t body[EP_RELAY_BODY_LEN]);
void ep_relay_crypto_relay_encrypt_backward(ep_relay_crypto_t *c,
                                            uint8_t body[EP_RELAY_BODY_LEN]);

#endif
