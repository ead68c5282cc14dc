/* exitprobe tests — the hostile relay's keys and certificates (hr_keys.h). */
#include "config.h"

#include "hr_keys.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/encode.h"
#include "lib/reader.h"
#include "proto/edcert.h"
#include "proto/linkhs.h"
#include "proto/relaymsg.h"

static uint8_t *x509_selfsigned_der(EVP_PKEY *key, const char *cn, time_t nb, time_t na,
                                    size_t *len) {
  X509 *x = X509_new();
  X509_NAME *name = X509_NAME_new();
  uint8_t *der = NULL;
  if (x == NULL || name == NULL) {
    goto out;
  }
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 42);
  ASN1_TIME_set(X509_getm_notBefore(x), nb);
  ASN1_TIME_set(X509_getm_notAfter(x), na);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
  X509_set_subject_name(x, name);
  X509_set_issuer_name(x, name);
  X509_set_pubkey(x, key);
  if (X509_sign(x, key, EVP_sha256()) <= 0) {
    goto out;
  }
  int n = i2d_X509(x, NULL);
  if (n <= 0 || (der = malloc((size_t)n)) == NULL) {
    goto out;
  }
  uint8_t *p = der;
  i2d_X509(x, &p);
  *len = (size_t)n;
out:
  X509_NAME_free(name);
  X509_free(x);
  return der;
}

/* An Ed25519 cert (cert-spec §2.1) signed by signer_sk, with the
 * signed-with-key extension when signer_pk is given. */
static size_t edcert(uint8_t *out, size_t cap, uint8_t type, uint32_t exp_hours, uint8_t key_type,
                     const uint8_t key[32], const uint8_t *signer_pk, const uint8_t signer_sk[64]) {
  ep_writer_t w;
  ep_writer_init(&w, out, cap);
  ep_wr_u8(&w, 1);
  ep_wr_u8(&w, type);
  ep_wr_u32(&w, exp_hours);
  ep_wr_u8(&w, key_type);
  ep_wr_bytes(&w, key, 32);
  ep_wr_u8(&w, signer_pk != NULL ? 1 : 0);
  if (signer_pk != NULL) {
    ep_wr_u16(&w, 32);
    ep_wr_u8(&w, EP_CERTEXT_SIGNED_WITH_KEY);
    ep_wr_u8(&w, 0);
    ep_wr_bytes(&w, signer_pk, 32);
  }
  if (!ep_wr_ok(&w)) {
    return 0;
  }
  uint8_t sig[64];
  ep_ed25519_sign(sig, out, ep_wr_len(&w), signer_sk);
  ep_wr_bytes(&w, sig, 64);
  return ep_wr_ok(&w) ? ep_wr_len(&w) : 0;
}

static uint32_t cert_exp_hours(time_t now, bool expired) {
  return expired ? (uint32_t)(now / 3600) - 24 * 10 : (uint32_t)(now / 3600) + 24 * 30;
}

hr_ident_t *hr_ident_new(time_t now, bool expired) {
  hr_ident_t *id = calloc(1, sizeof *id);
  if (id == NULL) {
    return NULL;
  }
  id->expired = expired;
  EVP_PKEY *rsa = EVP_RSA_gen(1024);
  if (rsa == NULL) {
    free(id);
    return NULL;
  }
  id->rsa = rsa;
  /* tor backdates its certificates to a day boundary; so do we. */
  time_t nb = now - 86400 - now % 86400;
  time_t na = nb + 365 * 86400;
  if (expired) {
    nb -= 400 * 86400;
    na = now - 10 * 86400;
  }
  id->id_cert = x509_selfsigned_der(rsa, "www.hostile-id.net", nb, na, &id->id_cert_len);
  ep_err_t e = {0};
  ep_rsa_pub_t *pub =
      id->id_cert != NULL ? ep_rsa_pub_from_x509_der(id->id_cert, id->id_cert_len, &e) : NULL;
  if (pub == NULL || ep_rsa_pub_fingerprint(pub, id->rsa_id) != 0) {
    fprintf(stderr, "hostile_relay: identity certificate: %s\n", e.msg);
    ep_rsa_pub_free(pub);
    hr_ident_free(id);
    return NULL;
  }
  ep_rsa_pub_free(pub);

  uint8_t seed[32];
  ep_random(seed, sizeof seed);
  ep_ed25519_seed_keypair(id->ed_pk, id->ed_sk, seed);
  ep_random(seed, sizeof seed);
  ep_ed25519_seed_keypair(id->sign_pk, id->sign_sk, seed);
  ep_wipe(seed, sizeof seed);
  uint32_t exp = cert_exp_hours(now, expired);
  id->cert4_len = edcert(id->cert4, sizeof id->cert4, EP_CERTTYPE_ID_SIGNING, exp,
                         EP_CERTKEY_ED25519, id->sign_pk, id->ed_pk, id->ed_sk);

  /* RSA->Ed25519 cross-cert: key | expiration | siglen | RSA(raw PKCS#1
   * v1.5 over SHA-256(prefix | key | expiration)). */
  ep_writer_t w;
  ep_writer_init(&w, id->cert7, sizeof id->cert7);
  ep_wr_bytes(&w, id->ed_pk, 32);
  ep_wr_u32(&w, exp);
  uint8_t msg[128];
  size_t plen = strlen(EP_RSA_CROSSCERT_PREFIX);
  memcpy(msg, EP_RSA_CROSSCERT_PREFIX, plen);
  memcpy(msg + plen, id->cert7, 36);
  uint8_t digest[32];
  ep_sha256(digest, msg, plen + 36);
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(rsa, NULL);
  uint8_t sig[256];
  size_t siglen = sizeof sig;
  bool ok = ctx != NULL && EVP_PKEY_sign_init(ctx) == 1 &&
            EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
            EVP_PKEY_sign(ctx, sig, &siglen, digest, sizeof digest) == 1;
  EVP_PKEY_CTX_free(ctx);
  ep_wr_u8(&w, (uint8_t)siglen);
  ep_wr_bytes(&w, sig, siglen);
  if (!ok || !ep_wr_ok(&w) || id->cert4_len == 0) {
    fprintf(stderr, "hostile_relay: cannot sign the identity's certificates\n");
    hr_ident_free(id);
    return NULL;
  }
  id->cert7_len = ep_wr_len(&w);
  ep_x25519_keygen(id->ntor_sk, id->ntor_pk);
  return id;
}

void hr_ident_free(hr_ident_t *id) {
  if (id == NULL) {
    return;
  }
  EVP_PKEY_free(id->rsa);
  free(id->id_cert);
  ep_wipe(id, sizeof *id);
  free(id);
}

int hr_ident_bind_tls(hr_ident_t *id, const uint8_t *tls_der, size_t len, time_t now) {
  uint8_t tls_digest[32];
  ep_sha256(tls_digest, tls_der, len);
  id->cert5_len = edcert(id->cert5, sizeof id->cert5, EP_CERTTYPE_SIGNING_LINK,
                         cert_exp_hours(now, id->expired), EP_CERTKEY_SHA256_X509, tls_digest,
                         NULL, id->sign_sk);
  return id->cert5_len > 0 ? 0 : -1;
}

void hr_ident_spec(const hr_ident_t *id, uint16_t port, char *out, size_t cap) {
  char fp[41], ntor[EP_B64_LEN(32) + 1], ed[EP_B64_LEN(32) + 1];
  ep_hex_encode(fp, sizeof fp, id->rsa_id, 20, true);
  ep_base64_encode(ntor, sizeof ntor, id->ntor_pk, 32, EP_B64_NOPAD);
  ep_base64_encode(ed, sizeof ed, id->ed_pk, 32, EP_B64_NOPAD);
  snprintf(out, cap, "127.0.0.1:%u~%s~%s~%s", (unsigned)port, fp, ntor, ed);
}

size_t hr_certs_payload(const hr_ident_t *id, unsigned flags, uint8_t *out, size_t cap) {
  uint8_t c4[256];
  memcpy(c4, id->cert4, id->cert4_len);
  if (flags & HR_CERTS_FLIP_SIG4) {
    c4[id->cert4_len - 10] ^= 0x04;   /* inside the signature */
  }
  ep_certs_t certs;
  memset(&certs, 0, sizeof certs);
  certs.e[certs.n++] = (ep_certs_entry_t){EP_CERTS_RSA_ID, (uint16_t)id->id_cert_len, id->id_cert};
  certs.e[certs.n++] = (ep_certs_entry_t){EP_CERTS_ED_ID_SIGNING, (uint16_t)id->cert4_len, c4};
  certs.e[certs.n++] =
      (ep_certs_entry_t){EP_CERTS_ED_SIGNING_LINK, (uint16_t)id->cert5_len, id->cert5};
  certs.e[certs.n++] = (ep_certs_entry_t){EP_CERTS_RSA_ED_CROSS, (uint16_t)id->cert7_len, id->cert7};
  size_t len = 0;
  if (ep_certs_encode(out, cap, &certs, &len, NULL) != EP_OK) {
    return 0;
  }
  return len;
}

/* ---- Relay side of a circuit ---- */

void hr_circ_free(hr_circ_t *c) {
  for (unsigned i = 0; i < c->n_hops; i++) {
    ep_relay_crypto_free(c->hop[i]);
  }
  memset(c, 0, sizeof *c);
}

int hr_circ_add_hop(hr_circ_t *c, const uint8_t keys[EP_RELAY_KEYS_LEN]) {
  if (c->n_hops >= HR_MAX_HOPS) {
    return -1;
  }
  c->hop[c->n_hops] = ep_relay_crypto_new(keys);
  if (c->hop[c->n_hops] == NULL) {
    return -1;
  }
  c->n_hops++;
  return 0;
}

int hr_circ_recv(hr_circ_t *c, const uint8_t payload[EP_CELL_PAYLOAD_LEN],
                 uint8_t body[EP_CELL_PAYLOAD_LEN]) {
  memcpy(body, payload, EP_CELL_PAYLOAD_LEN);
  for (unsigned i = 0; i < c->n_hops; i++) {
    if (ep_relay_crypto_relay_decrypt_forward(c->hop[i], body)) {
      return (int)i;
    }
  }
  return -1;
}

int hr_circ_send(hr_circ_t *c, unsigned hi, uint8_t relay_cmd, uint16_t stream_id,
                 const uint8_t *data, size_t len, uint8_t payload[EP_CELL_PAYLOAD_LEN]) {
  if (hi >= c->n_hops ||
      ep_relay_body_build(payload, relay_cmd, stream_id, data, len, NULL) != EP_OK) {
    return -1;
  }
  ep_relay_crypto_relay_originate_backward(c->hop[hi], payload);
  for (unsigned i = hi; i-- > 0;) {
    ep_relay_crypto_relay_encrypt_backward(c->hop[i], payload);
  }
  return 0;
}
