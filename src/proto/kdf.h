/* exitprobe — Tor's key derivation functions (tor-spec §5.2).
 *
 * HKDF-SHA256 (RFC 5869; tor-spec §5.2.2 "KDF-RFC5869"), used by ntor, and
 * KDF-TOR (tor-spec §5.2.1, SHA-1 in counter mode), used by CREATE_FAST.
 * Pure functions of their inputs: no state, nothing kept. Every function
 * writes exactly outlen bytes on success and returns EP_OK; on failure it
 * returns a negative ep_status_t and leaves out zeroed. */
#ifndef EP_PROTO_KDF_H
#define EP_PROTO_KDF_H

#include <stddef.h>
#include <stdint.h>

/* RFC 5869 caps HKDF output at 255 blocks of the hash length. */
#define EP_HKDF_SHA256_MAX_OUT (255u * 32u)
/* KDF-TOR counts its blocks with one byte: at most 256 SHA-1 blocks. */
#define EP_KDF_TOR_MAX_OUT (256u * 20u)

/* HKDF-SHA256: PRK = HMAC-SHA256(salt, ikm), then Expand(PRK, info, outlen).
 * salt may be NULL/0 (RFC 5869: a string of 32 zero bytes). info and ikm may
 * be NULL when their length is 0. EP_ERR_LIMIT if outlen is over
 * EP_HKDF_SHA256_MAX_OUT, EP_ERR_NOMEM. */
int ep_hkdf_sha256(uint8_t *out, size_t outlen, const uint8_t *salt, size_t saltlen,
                   const uint8_t *ikm, size_t ikmlen, const uint8_t *info, size_t infolen);

/* HKDF-Expand only (tor-spec §5.2.2 with KEY_SEED as the PRK):
 * T(1) = HMAC(PRK, info|01), T(i+1) = HMAC(PRK, T(i)|info|i+1). */
int ep_hkdf_sha256_expand(uint8_t *out, size_t outlen, const uint8_t prk[32],
                          const uint8_t *info, size_t infolen);

/* KDF-TOR: SHA1(K0|00) | SHA1(K0|01) | ... truncated to outlen.
 * EP_ERR_LIMIT if outlen is over EP_KDF_TOR_MAX_OUT, EP_ERR_NOMEM. */
int ep_kdf_tor(uint8_t *out, size_t outlen, const uint8_t *k0, size_t k0len);

#endif
