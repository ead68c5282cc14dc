/* exitprobe — CERTS cell verification (tor-spec §4.2, cert-spec §2). */
#include "config.h"

#include "proto/linkcert.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <string.h>

#include "lib/crypto.h"
#include "lib/encode.h"
#include "proto/edcert.h"

/* ASN1_TIME -> time_t; -1 on failure. */
static int asn1_to_time(const ASN1_TIME *t, time_t *out) {
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
    return -1;
  }
  *out = timegm(&tm);
  return 0;
}

/* Check the X.509 RSA identity certificate; on success return its key
 * (caller frees) and the fingerprint. */
static ep_rsa_pub_t *x509_rsa_check(const uint8_t *der, size_t len, int bits, time_t now,
                                    uint8_t fingerprint[20], time_t *not_after, ep_err_t *err) {
  if (len == 0 || len > 65535) {
    ep_err_set(err, EP_ERR_MALFORMED, "X.509 certificate of %zu bytes", len);
    return NULL;
  }
  const unsigned char *p = der;
  X509 *x = d2i_X509(NULL, &p, (long)len);
  ep_rsa_pub_t *key = NULL;
  if (x == NULL || p != der + len) {
    ep_err_set(err, EP_ERR_MALFORMED, "X.509 certificate does not parse as DER (%zu bytes)", len);
    goto out;
  }
  EVP_PKEY *pk = X509_get0_pubkey(x);
  if (pk == NULL || EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) {
    ep_err_set(err, EP_ERR_VERIFY, "X.509 identity certificate: key is not RSA");
    goto out;
  }
  if (bits > 0 && EVP_PKEY_get_bits(pk) != bits) {
    ep_err_set(err, EP_ERR_VERIFY, "X.509 identity certificate: RSA key of %d bits, wants %d",
               EVP_PKEY_get_bits(pk), bits);
    goto out;
  }
  if (X509_verify(x, pk) != 1) {
    ep_err_set(err, EP_ERR_VERIFY, "X.509 identity certificate: bad self-signature");
    goto out;
  }
  time_t nb, na;
  if (asn1_to_time(X509_get0_notBefore(x), &nb) < 0 ||
      asn1_to_time(X509_get0_notAfter(x), &na) < 0) {
    ep_err_set(err, EP_ERR_MALFORMED, "X.509 identity certificate: unreadable validity dates");
    goto out;
  }
  if (nb > now + EP_X509_FUTURE_SLOP || na < now - EP_X509_PAST_SLOP) {
    ep_err_set(err, EP_ERR_EXPIRED,
               "X.509 identity certificate: valid %lld..%lld, now %lld (outside the slack)",
               (long long)nb, (long long)na, (long long)now);
    goto out;
  }
  /* The key from the certificate already parsed: the subjectPublicKey BIT
   * STRING of an RSA SubjectPublicKeyInfo is the PKCS#1 RSAPublicKey DER.
   * (Parsing the certificate a second time cost a second OSSL_DECODER run,
   * ~2.5 M instructions a link.) */
  const ASN1_BIT_STRING *bits_str = X509_get0_pubkey_bitstr(x);
  if (bits_str == NULL || ASN1_STRING_length(bits_str) <= 0) {
    ep_err_set(err, EP_ERR_MALFORMED, "X.509 identity certificate: no public key bits");
    goto out;
  }
  key = ep_rsa_pub_from_der(ASN1_STRING_get0_data(bits_str), (size_t)ASN1_STRING_length(bits_str), err);
  if (key == NULL) {
    goto out;
  }
  if (ep_rsa_pub_fingerprint(key, fingerprint) != 0) {
    ep_err_set(err, EP_ERR_INTERNAL, "X.509 identity certificate: no fingerprint");
    ep_rsa_pub_free(key);
    key = NULL;
    goto out;
  }
  if (not_after != NULL) {
    *not_after = na;
  }
out:
  X509_free(x);
  return key;
}

int ep_x509_check_rsa_selfsigned(const uint8_t *der, size_t len, int bits, time_t now,
                                 uint8_t fingerprint[20], time_t *not_after, ep_err_t *err) {
  ep_rsa_pub_t *k = x509_rsa_check(der, len, bits, now, fingerprint, not_after, err);
  if (k == NULL) {
    return err != NULL && err->code != 0 ? err->code : EP_ERR_VERIFY;
  }
  ep_rsa_pub_free(k);
  return EP_OK;
}

static int mismatch(ep_err_t *err, const char *what, const uint8_t *want, const uint8_t *got,
                    size_t n) {
  char w[65], g[65];
  ep_hex_encode(w, sizeof w, want, n, true);
  ep_hex_encode(g, sizeof g, got, n, true);
  return ep_err_set(err, EP_ERR_VERIFY, "%s identity mismatch: wanted %s, relay proved %s", what,
                    w, g);
}

static const ep_certs_entry_t *need(const ep_certs_t *certs, uint8_t type, ep_err_t *err) {
  const ep_certs_entry_t *e = ep_certs_find(certs, type);
  if (e == NULL) {
    ep_err_set(err, EP_ERR_VERIFY, "CERTS: no %s certificate (type %u)", ep_certs_type_name(type),
               (unsigned)type);
  }
  return e;
}

static void keep_earliest(time_t *acc, time_t t) {
  if (*acc == 0 || t < *acc) {
    *acc = t;
  }
}

int ep_certs_verify(const ep_certs_t *certs, const ep_certs_expect_t *want, ep_certs_proven_t *out,
                    ep_err_t *err) {
  memset(out, 0, sizeof *out);
  const ep_certs_entry_t *c_id = need(certs, EP_CERTS_RSA_ID, err);
  const ep_certs_entry_t *c_cross = c_id ? need(certs, EP_CERTS_RSA_ED_CROSS, err) : NULL;
  const ep_certs_entry_t *c_sign = c_cross ? need(certs, EP_CERTS_ED_ID_SIGNING, err) : NULL;
  const ep_certs_entry_t *c_link = c_sign ? need(certs, EP_CERTS_ED_SIGNING_LINK, err) : NULL;
  if (c_link == NULL) {
    return EP_ERR_VERIFY;
  }
  if (want->tls_cert_der == NULL || want->tls_cert_len == 0) {
    return ep_err_set(err, EP_ERR_INTERNAL, "CERTS: no TLS certificate given to check against");
  }

  int rc;
  ep_edcert_t *sign = NULL, *link = NULL;
  ep_rsa_pub_t *rsa = NULL;

  /* RSA identity: X.509, 1024 bits, self-signed, in date. */
  time_t na = 0;
  rsa = x509_rsa_check(c_id->body, c_id->len, 1024, want->now, out->rsa_id, &na, err);
  if (rsa == NULL) {
    rc = err != NULL && err->code != 0 ? err->code : EP_ERR_VERIFY;
    ep_err_wrap(err, rc, "CERTS");
    goto done;
  }
  keep_earliest(&out->expires, na);
  if (!ep_ct_eq(out->rsa_id, want->rsa_id, 20)) {
    rc = mismatch(err, "RSA", want->rsa_id, out->rsa_id, 20);
    goto done;
  }

  /* RSA -> Ed25519 cross-certificate. */
  ep_rsa_crosscert_t cc;
  rc = ep_rsa_crosscert_parse(&cc, c_cross->body, c_cross->len, err);
  if (rc == EP_OK) {
    rc = ep_rsa_crosscert_check(&cc, rsa, want->now, err);
  }
  if (rc != EP_OK) {
    ep_err_wrap(err, rc, "CERTS");
    goto done;
  }
  memcpy(out->ed25519_id, cc.ed25519_key, 32);
  keep_earliest(&out->expires, ep_rsa_crosscert_expires(&cc));

  /* Ed25519 identity -> signing key. */
  rc = ep_edcert_parse(&sign, c_sign->body, c_sign->len, err);
  if (rc == EP_OK && (sign->cert_type != EP_CERTTYPE_ID_SIGNING ||
                      sign->key_type != EP_CERTKEY_ED25519)) {
    rc = ep_err_set(err, EP_ERR_VERIFY, "cert type %u / key type %u in the id->signing slot",
                    (unsigned)sign->cert_type, (unsigned)sign->key_type);
  }
  if (rc == EP_OK && !sign->has_signing_key) {
    rc = ep_err_set(err, EP_ERR_VERIFY, "id->signing cert does not name the identity key");
  }
  if (rc == EP_OK && !ep_ct_eq(sign->signing_key, out->ed25519_id, 32)) {
    rc = ep_err_set(err, EP_ERR_VERIFY,
                    "id->signing cert is signed by another Ed25519 key than the cross-cert "
                    "certifies");
  }
  if (rc == EP_OK) {
    rc = ep_edcert_check(sign, out->ed25519_id, want->now, err);
  }
  if (rc != EP_OK) {
    ep_err_wrap(err, rc, "CERTS");
    goto done;
  }
  memcpy(out->signing_key, sign->certified_key, 32);
  keep_earliest(&out->expires, ep_edcert_expires(sign));

  /* Signing key -> TLS link certificate. Tor before 0.4.5.1 wrote key type
   * 01 here; accepted as cert-spec A.4 says. */
  rc = ep_edcert_parse(&link, c_link->body, c_link->len, err);
  if (rc == EP_OK && (link->cert_type != EP_CERTTYPE_SIGNING_LINK ||
                      (link->key_type != EP_CERTKEY_SHA256_X509 &&
                       link->key_type != EP_CERTKEY_ED25519))) {
    rc = ep_err_set(err, EP_ERR_VERIFY, "cert type %u / key type %u in the signing->link slot",
                    (unsigned)link->cert_type, (unsigned)link->key_type);
  }
  if (rc == EP_OK) {
    rc = ep_edcert_check(link, out->signing_key, want->now, err);
  }
  if (rc != EP_OK) {
    ep_err_wrap(err, rc, "CERTS");
    goto done;
  }
  keep_earliest(&out->expires, ep_edcert_expires(link));
  uint8_t tls_digest[EP_SHA256_LEN];
  ep_sha256(tls_digest, want->tls_cert_der, want->tls_cert_len);
  if (!ep_ct_eq(tls_digest, link->certified_key, 32)) {
    rc = ep_err_set(err, EP_ERR_VERIFY,
                    "CERTS: the signing->link cert certifies another TLS certificate than the "
                    "one this link presented");
    goto done;
  }

  if (want->ed25519_id != NULL && !ep_ct_eq(want->ed25519_id, out->ed25519_id, 32)) {
    rc = mismatch(err, "Ed25519", want->ed25519_id, out->ed25519_id, 32);
    goto done;
  }
  rc = EP_OK;

done:
  ep_edcert_free(sign);
  ep_edcert_free(link);
  ep_rsa_pub_free(rsa);
  if (rc != EP_OK) {
    memset(out, 0, sizeof *out);
  }
  return rc;
}
