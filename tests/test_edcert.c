/* exitprobe — unit tests of src/proto/edcert against
 * tests/data/vectors/ed25519_certs.json (11 Ed25519 certs and an RSA
 * cross-cert), plus hostile and made-up certs. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"
#include "lib/encode.h"
#include "lib/json.h"
#include "lib/reader.h"
#include "lib/timeutil.h"
#include "proto/edcert.h"
#include "testutil.h"

#define VECTORS "vectors/ed25519_certs.json"
#define N_CERTS 11

static int64_t int_member(const ep_json_t *obj, const char *key) {
  int64_t v;
  ck_assert_msg(ep_json_int(ep_json_get(obj, key), &v), "no integer member '%s'", key);
  return v;
}

static void fixed(const ep_json_t *v, const char *key, uint8_t *out, size_t want) {
  size_t n;
  uint8_t *p = tu_hex_member(v, key, &n);
  ck_assert_msg(n == want, "%s is %zu bytes, expected %zu", key, n, want);
  memcpy(out, p, n);
  free(p);
}

static const ep_json_t *certs(const ep_json_t *root) {
  const ep_json_t *cs = ep_json_get(root, "certs");
  ck_assert_uint_eq(ep_json_count(cs), N_CERTS);
  return cs;
}

static ep_edcert_t *parse_ok(const uint8_t *buf, size_t len) {
  ep_edcert_t *c = NULL;
  ep_err_t err = {0};
  int rc = ep_edcert_parse(&c, buf, len, &err);
  ck_assert_msg(rc == EP_OK, "parse failed: %s", err.msg);
  ck_assert_ptr_nonnull(c);
  return c;
}

/* Every field of every vector cert, then its signature and expiry. */
START_TEST(edcert_vectors_parse_and_check) {
  ep_json_t *root = tu_read_json(VECTORS);
  const ep_json_t *cs = certs(root);
  size_t n_valid = 0;
  for (size_t i = 0; i < N_CERTS; i++) {
    const ep_json_t *v = ep_json_at(cs, i);
    const ep_json_t *p = ep_json_get(v, "parsed");
    const char *name = ep_json_get_str(v, "name");
    size_t len;
    uint8_t *der = tu_hex_member(v, "cert_hex", &len);
    const char *b64 = ep_json_get_str(v, "cert_base64");
    if (b64 != NULL) {
      uint8_t dec[512];
      ck_assert_int_eq(ep_base64_decode(dec, sizeof dec, b64, strlen(b64)), (ssize_t)len);
      ck_assert_int_eq(memcmp(dec, der, len), 0);
    }
    ep_edcert_t *c = parse_ok(der, len);

    ck_assert_int_eq(c->version, int_member(p, "version"));
    ck_assert_int_eq(c->cert_type, int_member(p, "cert_type"));
    ck_assert_int_eq(c->expiration_hours, int_member(p, "expiration_hours"));
    ck_assert_int_eq(c->key_type, int_member(p, "cert_key_type"));
    uint8_t key[32], sig[64], signer[32];
    fixed(p, "certified_key", key, 32);
    ck_assert_int_eq(memcmp(c->certified_key, key, 32), 0);
    fixed(p, "signature", sig, 64);
    ck_assert_int_eq(memcmp(c->signature, sig, 64), 0);
    ck_assert_int_eq(c->signed_len, int_member(p, "signed_part_len"));
    ck_assert_uint_eq(c->encoded_len, len);
    ck_assert_int_eq(memcmp(c->encoded, der, len), 0);

    const ep_json_t *exts = ep_json_get(p, "extensions");
    ck_assert_int_eq(c->n_extensions, int_member(p, "n_extensions"));
    ck_assert_uint_eq(ep_json_count(exts), c->n_extensions);
    bool has4 = false;
    for (size_t e = 0; e < c->n_extensions; e++) {
      const ep_json_t *x = ep_json_at(exts, e);
      size_t dlen;
      uint8_t *data = tu_hex_member(x, "data", &dlen);
      ck_assert_int_eq(c->extensions[e].type, int_member(x, "type"));
      ck_assert_int_eq(c->extensions[e].flags, int_member(x, "flags"));
      ck_assert_uint_eq(c->extensions[e].len, dlen);
      ck_assert_int_eq(memcmp(c->extensions[e].data, data, dlen), 0);
      if (c->extensions[e].type == EP_CERTEXT_SIGNED_WITH_KEY) {
        has4 = true;
        ck_assert_int_eq(memcmp(c->signing_key, data, 32), 0);
        ck_assert_ptr_eq(ep_edcert_find_ext(c, EP_CERTEXT_SIGNED_WITH_KEY), &c->extensions[e]);
      }
      free(data);
    }
    ck_assert(c->has_signing_key == has4);

    /* Expiry in hours, and as the UTC time the vector states. */
    const char *utc = ep_json_get_str(p, "expiration_utc");
    time_t t;
    ck_assert_int_eq(ep_time_parse_tor(utc, strlen(utc), &t), 0);
    ck_assert_int_eq(ep_edcert_expires(c), t);

    /* identity-ed25519 in a descriptor: the signer is master-key-ed25519. */
    fixed(p, "signing_key", signer, 32);
    const char *master = ep_json_get_str(v, "master_key_ed25519_line_base64");
    if (master != NULL) {
      uint8_t mk[40];
      ck_assert_int_eq(ep_base64_decode(mk, sizeof mk, master, strlen(master)), 32);
      ck_assert_int_eq(memcmp(mk, signer, 32), 0);
      ck_assert(has4);
      ck_assert_int_eq(memcmp(c->signing_key, mk, 32), 0);
    }

    bool want_valid = ep_json_bool(ep_json_get(p, "signature_valid"), false);
    int want = want_valid ? EP_OK : EP_ERR_VERIFY;
    ep_err_t err = {0};
    time_t exp = ep_edcert_expires(c);
    ck_assert_msg(ep_edcert_check(c, signer, exp - 1, &err) == want, "%s: %s", name, err.msg);
    ck_assert_int_eq(ep_edcert_check(c, signer, exp, &err), want);  /* still valid at the hour */
    if (has4) {
      ck_assert_int_eq(ep_edcert_check(c, NULL, exp - 3600, &err), want);
    } else {
      ck_assert_int_eq(ep_edcert_check(c, NULL, exp - 3600, &err), EP_ERR_VERIFY);
      ck_assert_ptr_nonnull(strstr(err.msg, "no signing key"));
    }
    if (want_valid) {
      n_valid++;
      /* Expired: one second and one day after. */
      ck_assert_int_eq(ep_edcert_check(c, signer, exp + 1, &err), EP_ERR_EXPIRED);
      ck_assert_ptr_nonnull(strstr(err.msg, "expired"));
      ck_assert_ptr_nonnull(strstr(err.msg, utc));
      ck_assert_int_eq(ep_edcert_check(c, NULL, exp + 86400, &err),
                       has4 ? EP_ERR_EXPIRED : EP_ERR_VERIFY);
      /* Signed by someone else. */
      uint8_t other[32];
      memcpy(other, signer, 32);
      other[0] ^= 1;
      ck_assert_int_eq(ep_edcert_check(c, other, exp - 1, &err), EP_ERR_VERIFY);
    }
    ep_edcert_free(c);
    free(der);
  }
  ck_assert_uint_eq(n_valid, N_CERTS);  /* the file marks all 11 valid */
  ep_json_free(root);
}
END_TEST

/* The chutney chain: the type-5 link cert is signed by the key the type-4
 * cert certifies; the cross-cert vouches for the type-4 cert's signer. */
START_TEST(edcert_chutney_chain) {
  ep_json_t *root = tu_read_json(VECTORS);
  const ep_json_t *cs = certs(root);
  size_t l4, l5;
  uint8_t *d4 = tu_hex_member(ep_json_at(cs, 0), "cert_hex", &l4);
  uint8_t *d5 = tu_hex_member(ep_json_at(cs, 1), "cert_hex", &l5);
  ep_edcert_t *c4 = parse_ok(d4, l4);
  ep_edcert_t *c5 = parse_ok(d5, l5);
  ck_assert_int_eq(c4->cert_type, EP_CERTTYPE_ID_SIGNING);
  ck_assert_int_eq(c5->cert_type, EP_CERTTYPE_SIGNING_LINK);
  ck_assert_int_eq(c5->key_type, EP_CERTKEY_SHA256_X509);
  ck_assert_str_eq(ep_certtype_name(c4->cert_type), "id-signing");
  ck_assert_str_eq(ep_certkey_name(c5->key_type), "sha256-of-x509");
  ep_err_t err = {0};
  ck_assert_int_eq(ep_edcert_check(c4, NULL, ep_edcert_expires(c5), &err), EP_OK);
  ck_assert_int_eq(ep_edcert_check(c5, c4->certified_key, ep_edcert_expires(c5), &err), EP_OK);
  ck_assert_int_eq(ep_edcert_check(c5, c4->signing_key, ep_edcert_expires(c5), &err),
                   EP_ERR_VERIFY);
  /* The type-4 cert checked against an explicit signer that is not the one
   * in its extension 4: refused before any signature math. */
  ck_assert_int_eq(ep_edcert_check(c4, c4->certified_key, ep_edcert_expires(c5), &err),
                   EP_ERR_VERIFY);
  ck_assert_ptr_nonnull(strstr(err.msg, "another key"));

  const ep_json_t *x = ep_json_get(root, "rsa_crosscert");
  uint8_t edkey[32];
  fixed(x, "ed25519_key", edkey, 32);
  ck_assert_int_eq(memcmp(edkey, c4->signing_key, 32), 0);
  ep_edcert_free(c4);
  ep_edcert_free(c5);
  free(d4);
  free(d5);
  ep_json_free(root);
}
END_TEST

/* Every bit of every signature, and a sample of signed bytes, flipped. */
START_TEST(edcert_flipped_bits_fail) {
  ep_json_t *root = tu_read_json(VECTORS);
  const ep_json_t *cs = certs(root);
  for (size_t i = 0; i < N_CERTS; i++) {
    const ep_json_t *v = ep_json_at(cs, i);
    size_t len;
    uint8_t *der = tu_hex_member(v, "cert_hex", &len);
    uint8_t signer[32];
    fixed(ep_json_get(v, "parsed"), "signing_key", signer, 32);
    for (size_t bit = 0; bit < len * 8; bit++) {
      bool in_sig = bit / 8 >= len - 64;
      if (!in_sig && bit % 13 != 0) {
        continue;
      }
      uint8_t *bad = malloc(len);
      ck_assert_ptr_nonnull(bad);
      memcpy(bad, der, len);
      bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
      ep_edcert_t *c = NULL;
      ep_err_t err = {0};
      int rc = ep_edcert_parse(&c, bad, len, &err);
      if (rc == EP_OK) {
        ck_assert_msg(ep_edcert_check(c, signer, 0, &err) == EP_ERR_VERIFY,
                      "cert %zu, bit %zu flipped: still verifies", i, bit);
        ck_assert_int_eq(err.code, EP_ERR_VERIFY);
        ep_edcert_free(c);
      } else {
        /* A flip in a length, version or count may break the framing. */
        ck_assert(!in_sig);
        ck_assert_ptr_null(c);
        ck_assert_int_ne(err.msg[0], '\0');
      }
      free(bad);
    }
    free(der);
  }
  ep_json_free(root);
}
END_TEST

/* Every prefix of every cert: a clear "truncated", never a crash; one
 * byte more: stray bytes. */
START_TEST(edcert_truncated_at_every_length) {
  ep_json_t *root = tu_read_json(VECTORS);
  const ep_json_t *cs = certs(root);
  for (size_t i = 0; i < N_CERTS; i++) {
    size_t len;
    uint8_t *der = tu_hex_member(ep_json_at(cs, i), "cert_hex", &len);
    for (size_t n = 0; n < len; n++) {
      /* A fresh allocation of exactly n bytes, so ASan sees any overread. */
      uint8_t *cut = malloc(n > 0 ? n : 1);
      ck_assert_ptr_nonnull(cut);
      memcpy(cut, der, n);
      ep_edcert_t *c = (ep_edcert_t *)cut;  /* must be overwritten with NULL */
      ep_err_t err = {0};
      ck_assert_int_eq(ep_edcert_parse(&c, cut, n, &err), EP_ERR_TRUNCATED);
      ck_assert_ptr_null(c);
      ck_assert_int_eq(err.code, EP_ERR_TRUNCATED);
      ck_assert_msg(strstr(err.msg, "truncated") != NULL || strstr(err.msg, "wants") != NULL,
                    "unclear: %s", err.msg);
      free(cut);
    }
    uint8_t *longer = malloc(len + 1);
    ck_assert_ptr_nonnull(longer);
    memcpy(longer, der, len);
    longer[len] = 0;
    ep_edcert_t *c = NULL;
    ep_err_t err = {0};
    ck_assert_int_eq(ep_edcert_parse(&c, longer, len + 1, &err), EP_ERR_MALFORMED);
    ck_assert_ptr_nonnull(strstr(err.msg, "stray"));
    ck_assert_ptr_null(c);
    free(longer);
    free(der);
  }
  ck_assert_int_eq(ep_edcert_parse(&(ep_edcert_t *){NULL}, NULL, 0, NULL), EP_ERR_TRUNCATED);
  ep_json_free(root);
}
END_TEST

/* Made-up certs, signed with a key from a fixed seed. */
typedef struct ext_spec {
  uint8_t type, flags;
  uint16_t len;
  uint8_t fill;
} ext_spec_t;

static size_t make_cert(uint8_t *out, size_t cap, uint8_t version, uint8_t type, uint32_t hours,
                        const ext_spec_t *exts, size_t n_exts, const uint8_t sk[64]) {
  ep_writer_t w;
  ep_writer_init(&w, out, cap);
  ep_wr_u8(&w, version);
  ep_wr_u8(&w, type);
  ep_wr_u32(&w, hours);
  ep_wr_u8(&w, EP_CERTKEY_ED25519);
  uint8_t key[32];
  memset(key, 0x42, sizeof key);
  ep_wr_bytes(&w, key, sizeof key);
  ep_wr_u8(&w, (uint8_t)n_exts);
  for (size_t i = 0; i < n_exts; i++) {
    ep_wr_u16(&w, exts[i].len);
    ep_wr_u8(&w, exts[i].type);
    ep_wr_u8(&w, exts[i].flags);
    uint8_t *d = ep_wr_reserve(&w, exts[i].len);
    ck_assert_ptr_nonnull(d);
    memset(d, exts[i].fill, exts[i].len);
  }
  size_t signed_len = ep_wr_len(&w);
  uint8_t sig[64];
  ep_ed25519_sign(sig, out, signed_len, sk);
  ep_wr_bytes(&w, sig, sizeof sig);
  ck_assert(ep_wr_ok(&w));
  return ep_wr_len(&w);
}

START_TEST(edcert_extensions_and_unknowns) {
  uint8_t seed[32], pk[32], sk[64];
  memset(seed, 7, sizeof seed);
  ep_ed25519_seed_keypair(pk, sk, seed);
  uint8_t buf[512];
  ep_err_t err = {0};
  ep_edcert_t *c = NULL;
  const uint32_t hours = 500000;

  /* Unknown extension without AFFECTS_VALIDATION (other flag bits set too):
   * kept as a number, the cert is fine. Unknown cert type: kept as number. */
  ext_spec_t harmless[] = {{0x42, 0x00, 3, 0xaa}, {0x43, 0xfe, 0, 0}};
  size_t n = make_cert(buf, sizeof buf, 1, 0x99, hours, harmless, 2, sk);
  ck_assert_int_eq(ep_edcert_parse(&c, buf, n, &err), EP_OK);
  ck_assert_int_eq(c->cert_type, 0x99);
  ck_assert_str_eq(ep_certtype_name(c->cert_type), "unknown");
  ck_assert_int_eq(c->n_extensions, 2);
  ck_assert_int_eq(c->extensions[0].type, 0x42);
  ck_assert_int_eq(c->extensions[0].len, 3);
  ck_assert_int_eq(c->extensions[0].data[2], 0xaa);
  ck_assert_int_eq(c->extensions[1].type, 0x43);
  ck_assert_int_eq(c->extensions[1].flags, 0xfe);
  ck_assert_str_eq(ep_certext_name(0x42), "unknown");
  ck_assert(!c->has_signing_key);
  ck_assert_int_eq(ep_edcert_check(c, pk, 0, &err), EP_OK);
  ck_assert_int_eq(ep_edcert_check(c, NULL, 0, &err), EP_ERR_VERIFY);
  ep_edcert_free(c);

  /* Unknown extension with AFFECTS_VALIDATION: invalid, though well signed. */
  ext_spec_t critical[] = {{EP_CERTEXT_SIGNED_WITH_KEY, 0, 32, 0}, {0x42, 0x01, 4, 0xbb}};
  n = make_cert(buf, sizeof buf, 1, EP_CERTTYPE_ID_SIGNING, hours, critical, 2, sk);
  c = (ep_edcert_t *)buf;
  ck_assert_int_eq(ep_edcert_parse(&c, buf, n, &err), EP_ERR_UNSUPPORTED);
  ck_assert_ptr_null(c);
  ck_assert_ptr_nonnull(strstr(err.msg, "AFFECTS_VALIDATION"));
  ck_assert_ptr_nonnull(strstr(err.msg, "type 66"));
  /* The same flag on the extension we understand is fine: its key is pk. */
  ext_spec_t known_critical[] = {{EP_CERTEXT_SIGNED_WITH_KEY, 0x01, 32, 0}};
  n = make_cert(buf, sizeof buf, 1, EP_CERTTYPE_ID_SIGNING, hours, known_critical, 1, sk);
  memcpy(buf + 40 + 4, pk, 32);  /* ext data sits after the 40 fixed bytes and its header */
  uint8_t sig[64];
  ep_ed25519_sign(sig, buf, n - 64, sk);
  memcpy(buf + n - 64, sig, 64);
  ck_assert_int_eq(ep_edcert_parse(&c, buf, n, &err), EP_OK);
  ck_assert(c->has_signing_key);
  ck_assert_int_eq(memcmp(c->signing_key, pk, 32), 0);
  ck_assert_int_eq(ep_edcert_check(c, NULL, (time_t)hours * 3600, &err), EP_OK);
  ck_assert_int_eq(ep_edcert_check(c, pk, (time_t)hours * 3600 + 1, &err), EP_ERR_EXPIRED);
  ep_edcert_free(c);

  /* Signed-with-key extension of the wrong length, or twice. */
  ext_spec_t short4[] = {{EP_CERTEXT_SIGNED_WITH_KEY, 0, 31, 1}};
  n = make_cert(buf, sizeof buf, 1, 4, hours, short4, 1, sk);
  ck_assert_int_eq(ep_edcert_parse(&c, buf, n, &err), EP_ERR_MALFORMED);
  ck_assert_ptr_nonnull(strstr(err.msg, "31 bytes"));
  ext_spec_t twice4[] = {{4, 0, 32, 1}, {4, 0, 32, 2}};
  n = make_cert(buf, sizeof buf, 1, 4, hours, twice4, 2, sk);
  ck_assert_int_eq(ep_edcert_parse(&c, buf, n, &err), EP_ERR_MALFORMED);
  ck_assert_ptr_nonnull(strstr(err.msg, "twice"));

  /* Version 2 is not ours. */
  n = make_cert(buf, sizeof buf, 2, 4, hours, NULL, 0, sk);
  ck_assert_int_eq(ep_edcert_parse(&c, buf, n, &err), EP_ERR_UNSUPPORTED);
  ck_assert_ptr_nonnull(strstr(err.msg, "version 2"));

  /* An extension claiming more bytes than the cert holds. */
  ext_spec_t big[] = {{0x42, 0, 10, 0}};
  n = make_cert(buf, sizeof buf, 1, 4, hours, big, 1, sk);
  buf[40] = 0x01;  /* ExtLength high byte: 266 bytes, past the end */
  ck_assert_int_eq(ep_edcert_parse(&c, buf, n, &err), EP_ERR_TRUNCATED);
  ck_assert_ptr_nonnull(strstr(err.msg, "extension 1 of 1"));
  /* 255 extensions announced, none there. */
  n = make_cert(buf, sizeof buf, 1, 4, hours, NULL, 0, sk);
  buf[39] = 0xff;
  ck_assert_int_eq(ep_edcert_parse(&c, buf, n, &err), EP_ERR_TRUNCATED);
  ep_edcert_free(NULL);
}
END_TEST

START_TEST(rsa_crosscert_vector) {
  ep_json_t *root = tu_read_json(VECTORS);
  const ep_json_t *x = ep_json_get(root, "rsa_crosscert");
  size_t len, derlen;
  uint8_t *raw = tu_hex_member(x, "cert_hex", &len);
  uint8_t *der = tu_hex_member(x, "rsa_identity_key_pkcs1_der_hex", &derlen);
  ep_err_t err = {0};
  ep_rsa_pub_t *rsa = ep_rsa_pub_from_der(der, derlen, &err);
  ck_assert_msg(rsa != NULL, "%s", err.msg);
  uint8_t fp[20], fpwant[20];
  ck_assert_int_eq(ep_rsa_pub_fingerprint(rsa, fp), 0);
  ck_assert_int_eq(ep_hex_decode(fpwant, sizeof fpwant,
                                 ep_json_get_str(x, "rsa_identity_fingerprint_sha1"), 40),
                   20);
  ck_assert_int_eq(memcmp(fp, fpwant, 20), 0);

  ep_rsa_crosscert_t cc;
  ck_assert_int_eq(ep_rsa_crosscert_parse(&cc, raw, len, &err), EP_OK);
  uint8_t edkey[32], digest[32], want_digest[32];
  fixed(x, "ed25519_key", edkey, 32);
  ck_assert_int_eq(memcmp(cc.ed25519_key, edkey, 32), 0);
  ck_assert_int_eq(cc.expiration_hours, int_member(x, "expiration_hours"));
  ck_assert_int_eq(cc.siglen, int_member(x, "siglen"));
  ep_rsa_crosscert_digest(&cc, digest);
  fixed(x, "signed_digest_sha256", want_digest, 32);
  ck_assert_int_eq(memcmp(digest, want_digest, 32), 0);
  const char *utc = ep_json_get_str(x, "expiration_utc");
  time_t t;
  ck_assert_int_eq(ep_time_parse_tor(utc, strlen(utc), &t), 0);
  ck_assert_int_eq(ep_rsa_crosscert_expires(&cc), t);
  ck_assert(ep_json_bool(ep_json_get(x, "signature_valid"), false));

  ck_assert_int_eq(ep_rsa_crosscert_check(&cc, rsa, t - 1, &err), EP_OK);
  ck_assert_int_eq(ep_rsa_crosscert_check(&cc, rsa, t, &err), EP_OK);
  ck_assert_int_eq(ep_rsa_crosscert_check(&cc, rsa, t + 1, &err), EP_ERR_EXPIRED);
  ck_assert_ptr_nonnull(strstr(err.msg, utc));
  ck_assert_int_eq(ep_rsa_crosscert_check(&cc, NULL, t - 1, &err), EP_ERR_VERIFY);

  /* Flipped bits: in the signature, in the key, in the expiry. */
  for (size_t bit = 0; bit < len * 8; bit += 3) {
    if (bit / 8 == 36) {
      continue;  /* SIGLEN: breaks framing, covered below */
    }
    uint8_t *bad = malloc(len);
    ck_assert_ptr_nonnull(bad);
    memcpy(bad, raw, len);
    bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    ep_rsa_crosscert_t b;
    ck_assert_int_eq(ep_rsa_crosscert_parse(&b, bad, len, &err), EP_OK);
    ck_assert_msg(ep_rsa_crosscert_check(&b, rsa, 0, &err) == EP_ERR_VERIFY, "bit %zu", bit);
    free(bad);
  }
  /* A different RSA key. */
  size_t pemlen;
  uint8_t *pem = tu_read_data("lib/rsa1024-pub.pem", &pemlen);
  ep_rsa_pub_t *other = ep_rsa_pub_from_pem((const char *)pem, pemlen, &err);
  ck_assert_ptr_nonnull(other);
  ck_assert_int_eq(ep_rsa_crosscert_check(&cc, other, t - 1, &err), EP_ERR_VERIFY);
  ck_assert_ptr_nonnull(strstr(err.msg, "does not verify"));
  ep_rsa_pub_free(other);
  free(pem);

  /* Truncated at every length; one byte more; SIGLEN past the end. */
  for (size_t n = 0; n < len; n++) {
    uint8_t *cut = malloc(n > 0 ? n : 1);
    ck_assert_ptr_nonnull(cut);
    memcpy(cut, raw, n);
    ep_rsa_crosscert_t b;
    ck_assert_int_eq(ep_rsa_crosscert_parse(&b, cut, n, &err), EP_ERR_TRUNCATED);
    ck_assert_int_ne(err.msg[0], '\0');
    free(cut);
  }
  uint8_t *longer = malloc(len + 1);
  ck_assert_ptr_nonnull(longer);
  memcpy(longer, raw, len);
  longer[len] = 0;
  ck_assert_int_eq(ep_rsa_crosscert_parse(&cc, longer, len + 1, &err), EP_ERR_MALFORMED);
  longer[36] = 200;
  ck_assert_int_eq(ep_rsa_crosscert_parse(&cc, longer, len + 1, &err), EP_ERR_TRUNCATED);
  free(longer);

  ep_rsa_pub_free(rsa);
  free(raw);
  free(der);
  ep_json_free(root);
}
END_TEST

static Suite *edcert_suite(void) {
  Suite *s = suite_create("edcert");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, edcert_vectors_parse_and_check);
  tcase_add_test(tc, edcert_chutney_chain);
  tcase_add_test(tc, edcert_flipped_bits_fail);
  tcase_add_test(tc, edcert_truncated_at_every_length);
  tcase_add_test(tc, edcert_extensions_and_unknowns);
  tcase_add_test(tc, rsa_crosscert_vector);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_suite(edcert_suite()); }
