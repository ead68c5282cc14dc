/* exitprobe — crypto wrappers over OpenSSL 3 and libsodium. */
#include "config.h"

#include "lib/crypto.h"

#include "lib/encode.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/random.h>
#endif

/* Algorithms fetched once. OpenSSL 3 resolves EVP_sha256() and friends
 * through the provider on every EVP_DigestInit_ex/EVP_EncryptInit_ex call
 * (a fetch under a lock: 5-6 k instructions per call, measured in bench/):
 * with 1788 microdescriptor digests, 4 hop ciphers and a dozen HMACs per
 * probe that adds up. The handles are written once under pthread_once and
 * read-only afterwards; a failed fetch falls back to the implicit form. */
static const EVP_MD *g_sha1, *g_sha256;
static const EVP_CIPHER *g_aes128ctr;
static pthread_once_t g_algs_once = PTHREAD_ONCE_INIT;

static void fetch_algs(void) {
  EVP_MD *s1 = EVP_MD_fetch(NULL, "SHA1", NULL);
  EVP_MD *s256 = EVP_MD_fetch(NULL, "SHA256", NULL);
  EVP_CIPHER *ctr = EVP_CIPHER_fetch(NULL, "AES-128-CTR", NULL);
  g_sha1 = s1 != NULL ? s1 : EVP_sha1();
  g_sha256 = s256 != NULL ? s256 : EVP_sha256();
  g_aes128ctr = ctr != NULL ? ctr : EVP_aes_128_ctr();
  ERR_clear_error();
}

static const EVP_MD *md_sha1(void) {
  (void)pthread_once(&g_algs_once, fetch_algs);
  return g_sha1;
}

static const EVP_MD *md_sha256(void) {
  (void)pthread_once(&g_algs_once, fetch_algs);
  return g_sha256;
}

static const EVP_CIPHER *cipher_aes128ctr(void) {
  (void)pthread_once(&g_algs_once, fetch_algs);
  return g_aes128ctr;
}

void ep_crypto_cleanup(void) {
  /* Only handles fetched here are freed; the EVP_sha1()-style fallbacks
   * are static, and what stays after this (a late digest still works,
   * through the implicit fetch). */
  if (g_sha1 != NULL && g_sha1 != EVP_sha1()) {
    EVP_MD_free((EVP_MD *)g_sha1);
  }
  if (g_sha256 != NULL && g_sha256 != EVP_sha256()) {
    EVP_MD_free((EVP_MD *)g_sha256);
  }
  if (g_aes128ctr != NULL && g_aes128ctr != EVP_aes_128_ctr()) {
    EVP_CIPHER_free((EVP_CIPHER *)g_aes128ctr);
  }
  g_sha1 = EVP_sha1();
  g_sha256 = EVP_sha256();
  g_aes128ctr = EVP_aes_128_ctr();
}

int ep_crypto_init(void) {
  if (sodium_init() < 0) {
    return -1;
  }
  (void)pthread_once(&g_algs_once, fetch_algs);
  return 0;
}

void ep_wipe(void *p, size_t n) {
  if (p != NULL && n > 0) {
    sodium_memzero(p, n);
  }
}

bool ep_ct_eq(const void *a, const void *b, size_t n) {
  if (n == 0) {
    return true;
  }
  return sodium_memcmp(a, b, n) == 0;
}

void ep_random(void *out, size_t n) { randombytes_buf(out, n); }

/* libsodium asks the kernel for at most 256 bytes per getrandom() call; a
 * 4 KiB pool refill (proto/rngpool.h) was 16 system calls. The same kernel
 * CSPRNG, asked for the whole buffer at once (a call may return less when a
 * signal comes: ask again for the rest; any failure: libsodium's way). */
void ep_random_bulk(void *out, size_t n) {
  uint8_t *o = out;
#if defined(__linux__)
  while (n > 0) {
    ssize_t got = getrandom(o, n, 0);
    if (got <= 0) {
      if (got < 0 && errno == EINTR) {
        continue;
      }
      break;
    }
    o += got;
    n -= (size_t)got;
  }
#endif
  if (n > 0) {
    randombytes_buf(o, n);
  }
}

static void one_shot(const EVP_MD *md, uint8_t *out, const void *p, size_t n) {
  unsigned int len = 0;
  /* EVP_Digest only fails on allocation failure; out is zeroed first so a
   * failure can never leave stack garbage that looks like a digest. */
  memset(out, 0, (size_t)EVP_MD_get_size(md));
  (void)EVP_Digest(p, n, out, &len, md, NULL);
}

void ep_sha1(uint8_t out[EP_SHA1_LEN], const void *p, size_t n) { one_shot(md_sha1(), out, p, n); }

void ep_sha256(uint8_t out[EP_SHA256_LEN], const void *p, size_t n) {
  one_shot(md_sha256(), out, p, n);
}

/* HMAC (RFC 2104) over one reusable SHA-256 context: OpenSSL 3's HMAC()
 * fetches the MAC algorithm on every call, which cost ~10% of a probe's CPU
 * (bench/RESULTS.md). Keys and pads are wiped. */
void ep_hmac_sha256(uint8_t out[EP_SHA256_LEN], const void *key, size_t klen, const void *msg,
                    size_t mlen) {
  uint8_t k[64], pad[64], inner[EP_SHA256_LEN];
  memset(k, 0, sizeof k);
  memset(out, 0, EP_SHA256_LEN);
  if (klen > sizeof k) {
    ep_sha256(k, key, klen);
  } else if (klen > 0) {
    memcpy(k, key, klen);
  }
  EVP_MD_CTX *c = EVP_MD_CTX_new();
  unsigned int len = 0;
  if (c != NULL) {
    for (size_t i = 0; i < sizeof pad; i++) {
      pad[i] = k[i] ^ 0x36;
    }
    bool ok = EVP_DigestInit_ex(c, md_sha256(), NULL) == 1 && EVP_DigestUpdate(c, pad, sizeof pad) == 1 &&
              EVP_DigestUpdate(c, msg, mlen) == 1 && EVP_DigestFinal_ex(c, inner, &len) == 1;
    for (size_t i = 0; i < sizeof pad; i++) {
      pad[i] = k[i] ^ 0x5c;
    }
    ok = ok && EVP_DigestInit_ex(c, md_sha256(), NULL) == 1 && EVP_DigestUpdate(c, pad, sizeof pad) == 1 &&
         EVP_DigestUpdate(c, inner, sizeof inner) == 1 && EVP_DigestFinal_ex(c, out, &len) == 1;
    if (!ok) {
      memset(out, 0, EP_SHA256_LEN);
    }
    EVP_MD_CTX_free(c);
  }
  ep_wipe(k, sizeof k);
  ep_wipe(pad, sizeof pad);
  ep_wipe(inner, sizeof inner);
}

struct ep_digest {
  EVP_MD_CTX *ctx;
  ep_digest_alg_t alg;
};

ep_digest_t *ep_digest_new(ep_digest_alg_t alg) {
  ep_digest_t *d = calloc(1, sizeof *d);
  if (d == NULL) {
    return NULL;
  }
  d->alg = alg;
  d->ctx = EVP_MD_CTX_new();
  if (d->ctx == NULL ||
      EVP_DigestInit_ex(d->ctx, alg == EP_DIGEST_SHA1 ? md_sha1() : md_sha256(), NULL) != 1) {
    ep_digest_free(d);
    return NULL;
  }
  return d;
}

void ep_digest_free(ep_digest_t *d) {
  if (d == NULL) {
    return;
  }
  EVP_MD_CTX_free(d->ctx); /* OpenSSL cleanses the context */
  free(d);
}

void ep_digest_update(ep_digest_t *d, const void *p, size_t n) { (void)EVP_DigestUpdate(d->ctx, p, n); }

size_t ep_digest_peek(const ep_digest_t *d, uint8_t *out, size_t outcap) {
  size_t dlen = d->alg == EP_DIGEST_SHA1 ? EP_SHA1_LEN : EP_SHA256_LEN;
  uint8_t tmp[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_MD_CTX *c = EVP_MD_CTX_new();
  if (c == NULL || EVP_MD_CTX_copy_ex(c, d->ctx) != 1 || EVP_DigestFinal_ex(c, tmp, &len) != 1) {
    EVP_MD_CTX_free(c);
    memset(out, 0, outcap);
    return 0;
  }
  EVP_MD_CTX_free(c);
  if (outcap < dlen) {
    dlen = outcap;
  }
  memcpy(out, tmp, dlen);
  ep_wipe(tmp, sizeof tmp);
  return dlen;
}

ep_digest_t *ep_digest_dup(const ep_digest_t *d) {
  ep_digest_t *n = ep_digest_new(d->alg);
  if (n != NULL && EVP_MD_CTX_copy_ex(n->ctx, d->ctx) != 1) {
    ep_digest_free(n);
    return NULL;
  }
  return n;
}

int ep_digest_copy_state(ep_digest_t *d, const ep_digest_t *src) {
  if (d->alg != src->alg) {
    return -1;
  }
  return EVP_MD_CTX_copy_ex(d->ctx, src->ctx) == 1 ? 0 : -1;
}

struct ep_aes_ctr {
  EVP_CIPHER_CTX *ctx;
};

ep_aes_ctr_t *ep_aes_ctr_new(const uint8_t key[16], const uint8_t iv[16]) {
  ep_aes_ctr_t *c = calloc(1, sizeof *c);
  if (c == NULL) {
    return NULL;
  }
  c->ctx = EVP_CIPHER_CTX_new();
  if (c->ctx == NULL || EVP_EncryptInit_ex(c->ctx, cipher_aes128ctr(), NULL, key, iv) != 1) {
    ep_aes_ctr_free(c);
    return NULL;
  }
  return c;
}

void ep_aes_ctr_free(ep_aes_ctr_t *c) {
  if (c == NULL) {
    return;
  }
  EVP_CIPHER_CTX_free(c->ctx); /* cleanses key schedule */
  free(c);
}

void ep_aes_ctr_crypt(ep_aes_ctr_t *c, uint8_t *buf, size_t n) {
  /* CTR mode: EncryptUpdate never buffers, so out length == in length. */
  while (n > 0) {
    int chunk = n > (1u << 30) ? (1 << 30) : (int)n;
    int outl = 0;
    (void)EVP_EncryptUpdate(c->ctx, buf, &outl, buf, chunk);
    buf += chunk;
    n -= (size_t)chunk;
  }
}

struct ep_rsa_pub {
  EVP_PKEY *pkey;
};

static void ossl_error(ep_err_t *err, int code, const char *what) {
  unsigned long e = ERR_get_error();
  char buf[160];
  if (e != 0) {
    ERR_error_string_n(e, buf, sizeof buf);
  } else {
    snprintf(buf, sizeof buf, "no detail");
  }
  ERR_clear_error();
  ep_err_set(err, code, "%s: %s", what, buf);
}

static ep_rsa_pub_t *wrap_pkey(EVP_PKEY *pkey, ep_err_t *err) {
  if (pkey == NULL) {
    return NULL;
  }
  if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
    EVP_PKEY_free(pkey);
    ep_err_set(err, EP_ERR_UNSUPPORTED, "public key is not RSA");
    return NULL;
  }
  ep_rsa_pub_t *k = calloc(1, sizeof *k);
  if (k == NULL) {
    EVP_PKEY_free(pkey);
    ep_err_set(err, EP_ERR_NOMEM, "out of memory");
    return NULL;
  }
  k->pkey = pkey;
  return k;
}

/* PKCS#1 RSAPublicKey DER through d2i_PublicKey: the ASN.1 template decoder
 * alone. OSSL_DECODER tried every decoder it knows and took ~1.4 M
 * instructions a key (20% of a consensus parse+verify, bench/RESULTS.md). */
ep_rsa_pub_t *ep_rsa_pub_from_der(const uint8_t *der, size_t n, ep_err_t *err) {
  if (n == 0 || n > 0x7fffffff) {
    ep_err_set(err, EP_ERR_MALFORMED, "RSA public key: not a valid PKCS#1 RSAPublicKey (%zu bytes)", n);
    return NULL;
  }
  const unsigned char *p = der;
  EVP_PKEY *pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)n);
  if (pkey == NULL || p != der + n) {
    EVP_PKEY_free(pkey);
    ERR_clear_error();
    ep_err_set(err, EP_ERR_MALFORMED, "RSA public key: not a valid PKCS#1 RSAPublicKey (%zu bytes)", n);
    return NULL;
  }
  return wrap_pkey(pkey, err);
}

ep_rsa_pub_t *ep_rsa_pub_from_pem(const char *pem, size_t n, ep_err_t *err) {
  static const char begin[] = "-----BEGIN RSA PUBLIC KEY-----";
  static const char end[] = "-----END RSA PUBLIC KEY-----";
  const char *b = memmem(pem, n, begin, sizeof begin - 1);
  if (b == NULL) {
    ep_err_set(err, EP_ERR_MALFORMED, "RSA public key: no '%s' line", begin);
    return NULL;
  }
  b += sizeof begin - 1;
  const char *e = memmem(b, n - (size_t)(b - pem), end, sizeof end - 1);
  if (e == NULL) {
    ep_err_set(err, EP_ERR_MALFORMED, "RSA public key: no '%s' line", end);
    return NULL;
  }
  uint8_t der[2048];
  size_t inlen = (size_t)(e - b);
  /* base64 decoder skips whitespace; base64 length bounds the DER length. */
  if (inlen / 4 * 3 > sizeof der + 3) {
    ep_err_set(err, EP_ERR_LIMIT, "RSA public key: %zu bytes of base64 is too long", inlen);
    return NULL;
  }

  ssize_t dl = ep_base64_decode(der, sizeof der, b, inlen);
  if (dl <= 0) {
    ep_err_set(err, EP_ERR_MALFORMED, "RSA public key: bad base64");
    return NULL;
  }
  return ep_rsa_pub_from_der(der, (size_t)dl, err);
}

ep_rsa_pub_t *ep_rsa_pub_from_x509_der(const uint8_t *der, size_t n, ep_err_t *err) {
  const unsigned char *p = der;
  X509 *x = d2i_X509(NULL, &p, (long)n);
  if (x == NULL || p != der + n) {
    X509_free(x);
    ERR_clear_error();
    ep_err_set(err, EP_ERR_MALFORMED, "X.509 certificate: not valid DER (%zu bytes)", n);
    return NULL;
  }
  EVP_PKEY *pkey = X509_get_pubkey(x);
  X509_free(x);
  if (pkey == NULL) {
    ossl_error(err, EP_ERR_MALFORMED, "X.509 certificate: no public key");
    return NULL;
  }
  return wrap_pkey(pkey, err);
}

void ep_rsa_pub_free(ep_rsa_pub_t *k) {
  if (k == NULL) {
    return;
  }
  EVP_PKEY_free(k->pkey);
  free(k);
}

int ep_rsa_pub_bits(const ep_rsa_pub_t *k) { return EVP_PKEY_get_bits(k->pkey); }

int ep_rsa_pub_to_der(const ep_rsa_pub_t *k, uint8_t *out, size_t outcap) {
  /* Measure first, so a short buffer is never written past. */
  int len = i2d_PublicKey(k->pkey, NULL);
  if (len <= 0 || (size_t)len > outcap) {
    ERR_clear_error();
    return -1;
  }
  unsigned char *p = out;
  if (i2d_PublicKey(k->pkey, &p) != len) {
    ERR_clear_error();
    return -1;
  }
  return len;
}

int ep_rsa_pub_fingerprint(const ep_rsa_pub_t *k, uint8_t out[EP_SHA1_LEN]) {
  uint8_t der[2048];
  int n = ep_rsa_pub_to_der(k, der, sizeof der);
  if (n < 0) {
    return -1;
  }
  ep_sha1(out, der, (size_t)n);
  return 0;
}

int ep_rsa_verify_raw(const ep_rsa_pub_t *k, const uint8_t *sig, size_t siglen,
                      const uint8_t *digest, size_t dlen) {
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k->pkey, NULL);
  int rc = EP_ERR_VERIFY;
  uint8_t rec[1024];
  size_t reclen = sizeof rec;
  if (ctx == NULL) {
    return EP_ERR_VERIFY;
  }
  if ((size_t)EVP_PKEY_get_size(k->pkey) > sizeof rec || siglen != (size_t)EVP_PKEY_get_size(k->pkey)) {
    EVP_PKEY_CTX_free(ctx);
    return EP_ERR_VERIFY;
  }
  if (EVP_PKEY_verify_recover_init(ctx) == 1 &&
      EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
      EVP_PKEY_verify_recover(ctx, rec, &reclen, sig, siglen) == 1) {
    if (reclen == dlen && ep_ct_eq(rec, digest, dlen)) {
      rc = EP_OK;
    }
  }
  ERR_clear_error();
  EVP_PKEY_CTX_free(ctx);
  return rc;
}

int ep_rsa_verify_sha256(const ep_rsa_pub_t *k, const uint8_t *sig, size_t siglen, const void *msg,
                         size_t mlen) {
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  int rc = EP_ERR_VERIFY;
  if (ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, md_sha256(), NULL, k->pkey) == 1 &&
      EVP_DigestVerify(ctx, sig, siglen, msg, mlen) == 1) {
    rc = EP_OK;
  }
  ERR_clear_error();
  EVP_MD_CTX_free(ctx);
  return rc;
}

void ep_x25519_keygen(uint8_t sk[32], uint8_t pk[32]) {
  randombytes_buf(sk, 32);
  crypto_scalarmult_base(pk, sk);
}

int ep_x25519_base(uint8_t pk[32], const uint8_t sk[32]) {
  return crypto_scalarmult_base(pk, sk) == 0 ? 0 : -1;
}

int ep_x25519(uint8_t shared[32], const uint8_t sk[32], const uint8_t pk[32]) {
  /* libsodium returns -1 for an all-zero result (a low-order point). */
  return crypto_scalarmult(shared, sk, pk) == 0 ? 0 : -1;
}

int ep_ed25519_verify(const uint8_t sig[64], const void *msg, size_t n, const uint8_t pk[32]) {
  return crypto_sign_verify_detached(sig, msg, n, pk) == 0 ? EP_OK : EP_ERR_VERIFY;
}

void ep_ed25519_seed_keypair(uint8_t pk[32], uint8_t sk[64], const uint8_t seed[32]) {
  crypto_sign_seed_keypair(pk, sk, seed);
}

void ep_ed25519_sign(uint8_t sig[64], const void *msg, size_t n, const uint8_t sk[64]) {
  crypto_sign_detached(sig, NULL, msg, n, sk);
}
