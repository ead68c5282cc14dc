/* exitprobe — thin crypto wrappers over OpenSSL (digests, HMAC, RSA, AES)
 * and libsodium (curve25519, Ed25519, constant-time compare, wiping, RNG).
 * Nothing here knows Tor; the Tor constructions live in src/proto. */
#ifndef EP_LIB_CRYPTO_H
#define EP_LIB_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

#define EP_SHA1_LEN 20
#define EP_SHA256_LEN 32
#define EP_X25519_LEN 32
#define EP_ED25519_PK_LEN 32
#define EP_ED25519_SIG_LEN 64
#define EP_AES128_KEY_LEN 16

/* Call once before anything else (libsodium init, OpenSSL algorithms
 * fetched once). 0 or -1. */
int ep_crypto_init(void);
/* Release what ep_crypto_init fetched (at exit, when nothing uses crypto any
 * more; only so leak checkers see every block freed). */
void ep_crypto_cleanup(void);

/* Wipe memory so the compiler cannot elide it. */
void ep_wipe(void *p, size_t n);
/* Constant-time equality: true if the n bytes are equal. */
bool ep_ct_eq(const void *a, const void *b, size_t n);
/* Fill with cryptographically secure random bytes. */
void ep_random(void *out, size_t n);
/* As ep_random (the kernel CSPRNG), with as few system calls as the kernel
 * allows: for pools and other large buffers. */
void ep_random_bulk(void *out, size_t n);

void ep_sha1(uint8_t out[EP_SHA1_LEN], const void *p, size_t n);
void ep_sha256(uint8_t out[EP_SHA256_LEN], const void *p, size_t n);
void ep_hmac_sha256(uint8_t out[EP_SHA256_LEN], const void *key, size_t klen,
                    const void *msg, size_t mlen);

/* Incremental SHA-1/SHA-256 whose running state can be read without being
 * finished (relay crypto's running digest needs this). */
typedef struct ep_digest ep_digest_t;
typedef enum { EP_DIGEST_SHA1, EP_DIGEST_SHA256 } ep_digest_alg_t;
ep_digest_t *ep_digest_new(ep_digest_alg_t alg);
void ep_digest_free(ep_digest_t *d);            /* NULL-safe */
void ep_digest_update(ep_digest_t *d, const void *p, size_t n);
/* Digest of everything so far; the state goes on. Returns digest length. */
size_t ep_digest_peek(const ep_digest_t *d, uint8_t *out, size_t outcap);
ep_digest_t *ep_digest_dup(const ep_digest_t *d);
/* Overwrite d's state with src's (same algorithm); 0 or -1. */
int ep_digest_copy_state(ep_digest_t *d, const ep_digest_t *src);

/* AES-128-CTR with a 16-byte IV (Tor uses all zeros); one continuous
 * keystream across calls. */
typedef struct ep_aes_ctr ep_aes_ctr_t;
ep_aes_ctr_t *ep_aes_ctr_new(const uint8_t key[16], const uint8_t iv[16]);
void ep_aes_ctr_free(ep_aes_ctr_t *c);          /* NULL-safe, wipes */
void ep_aes_ctr_crypt(ep_aes_ctr_t *c, uint8_t *buf, size_t n);  /* in place */

/* RSA public keys (Tor: 1024-bit identity/onion keys, 2048+ authority keys). */
typedef struct ep_rsa_pub ep_rsa_pub_t;
/* From PKCS#1 RSAPublicKey DER (what Tor hashes for fingerprints). */
ep_rsa_pub_t *ep_rsa_pub_from_der(const uint8_t *der, size_t n, ep_err_t *err);
/* From a "-----BEGIN RSA PUBLIC KEY-----" PEM block (length-bounded). */
ep_rsa_pub_t *ep_rsa_pub_from_pem(const char *pem, size_t n, ep_err_t *err);
/* From an X.509 certificate's subject public key (DER certificate). */
ep_rsa_pub_t *ep_rsa_pub_from_x509_der(const uint8_t *der, size_t n, ep_err_t *err);
void ep_rsa_pub_free(ep_rsa_pub_t *k);          /* NULL-safe */
int ep_rsa_pub_bits(const ep_rsa_pub_t *k);
/* PKCS#1 RSAPublicKey DER encoding; returns length, or -1 if outcap too small. */
int ep_rsa_pub_to_der(const ep_rsa_pub_t *k, uint8_t *out, size_t outcap);
/* SHA-1 of the DER encoding: the relay/authority fingerprint. */
int ep_rsa_pub_fingerprint(const ep_rsa_pub_t *k, uint8_t out[EP_SHA1_LEN]);
/* Verify a PKCS#1 v1.5 signature whose payload is a raw digest (no
 * DigestInfo), as Tor's directory and cross-cert signatures are: recover the
 * block and compare it to `digest` in constant time. EP_OK or EP_ERR_VERIFY. */
int ep_rsa_verify_raw(const ep_rsa_pub_t *k, const uint8_t *sig, size_t siglen,
                      const uint8_t *digest, size_t dlen);
/* Verify a standard PKCS#1 v1.5 signature with DigestInfo over SHA-256 of msg. */
int ep_rsa_verify_sha256(const ep_rsa_pub_t *k, const uint8_t *sig, size_t siglen,
                         const void *msg, size_t mlen);

/* curve25519 (X25519). */
void ep_x25519_keygen(uint8_t sk[32], uint8_t pk[32]);
int ep_x25519_base(uint8_t pk[32], const uint8_t sk[32]);
/* shared = sk * pk; -1 if the result is all zero (low-order point). */
int ep_x25519(uint8_t shared[32], const uint8_t sk[32], const uint8_t pk[32]);

/* Ed25519 signature verification: EP_OK or EP_ERR_VERIFY. */
int ep_ed25519_verify(const uint8_t sig[64], const void *msg, size_t n,
                      const uint8_t pk[32]);
/* For tests and the hostile relay only: keypair from a 32-byte seed, sign. */
void ep_ed25519_seed_keypair(uint8_t pk[32], uint8_t sk[64], const uint8_t seed[32]);
void ep_ed25519_sign(uint8_t sig[64], const void *msg, size_t n, const uint8_t sk[64]);

#endif
