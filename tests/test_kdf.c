/* exitprobe — unit tests of src/proto/kdf (HKDF-SHA256, KDF-TOR) and
 * src/proto/fast (CREATE_FAST), against tests/data/vectors/kdf_hkdf_create_fast.json. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"
#include "lib/json.h"
#include "proto/fast.h"
#include "proto/kdf.h"
#include "testutil.h"

#define VECTORS "vectors/kdf_hkdf_create_fast.json"

static const ep_json_t *section(const ep_json_t *root, const char *name, size_t want) {
  const ep_json_t *s = ep_json_get(root, name);
  ck_assert_msg(ep_json_type(s) == EP_JSON_ARRAY, "%s: no array '%s'", VECTORS, name);
  ck_assert_uint_eq(ep_json_count(s), want);
  return s;
}

static size_t int_member(const ep_json_t *obj, const char *key) {
  int64_t v;
  ck_assert_msg(ep_json_int(ep_json_get(obj, key), &v), "no integer member '%s'", key);
  ck_assert_int_ge(v, 0);
  return (size_t)v;
}

static const char *str_member(const ep_json_t *obj, const char *key, size_t *len) {
  const char *s = ep_json_str(ep_json_get(obj, key), len);
  ck_assert_msg(s != NULL, "no string member '%s'", key);
  return s;
}

static bool all_zero(const uint8_t *p, size_t n) {
  uint8_t acc = 0;
  for (size_t i = 0; i < n; i++) {
    acc |= p[i];
  }
  return acc == 0;
}

START_TEST(hkdf_rfc5869_vectors) {
  ep_json_t *root = tu_read_json(VECTORS);
  const ep_json_t *vs = section(root, "hkdf_sha256_rfc5869", 3);
  for (size_t i = 0; i < ep_json_count(vs); i++) {
    const ep_json_t *v = ep_json_at(vs, i);
    size_t ikmlen, saltlen, infolen, prklen, okmlen;
    uint8_t *ikm = tu_hex_member(v, "IKM", &ikmlen);
    uint8_t *salt = tu_hex_member(v, "salt", &saltlen);
    uint8_t *info = tu_hex_member(v, "info", &infolen);
    uint8_t *prk = tu_hex_member(v, "PRK", &prklen);
    uint8_t *okm = tu_hex_member(v, "OKM", &okmlen);
    size_t L = int_member(v, "L");
    ck_assert_uint_eq(L, okmlen);
    ck_assert_uint_eq(prklen, 32);

    uint8_t *out = malloc(L);
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(ep_hkdf_sha256(out, L, salt, saltlen, ikm, ikmlen, info, infolen), EP_OK);
    ck_assert_msg(memcmp(out, okm, L) == 0, "%s: HKDF output differs",
                  ep_json_get_str(v, "name"));
    memset(out, 0xee, L);
    ck_assert_int_eq(ep_hkdf_sha256_expand(out, L, prk, info, infolen), EP_OK);
    ck_assert_msg(memcmp(out, okm, L) == 0, "%s: HKDF-Expand output differs",
                  ep_json_get_str(v, "name"));
    /* A shorter output is a prefix of the longer one. */
    ck_assert_int_eq(ep_hkdf_sha256_expand(out, 7, prk, info, infolen), EP_OK);
    ck_assert_int_eq(memcmp(out, okm, 7), 0);
    free(out);
    free(ikm);
    free(salt);
    free(info);
    free(prk);
    free(okm);
  }
  ep_json_free(root);
}
END_TEST

START_TEST(hkdf_ntor_vectors) {
  ep_json_t *root = tu_read_json(VECTORS);
  const ep_json_t *vs = section(root, "hkdf_sha256_ntor_kdf_tor_tests", 3);
  for (size_t i = 0; i < ep_json_count(vs); i++) {
    const ep_json_t *v = ep_json_at(vs, i);
    size_t ikmlen, saltlen, infolen, okmlen;
    const char *ikm = str_member(v, "secret_input_ascii", &ikmlen);
    const char *salt = str_member(v, "salt_ascii", &saltlen);
    const char *info = str_member(v, "info_ascii", &infolen);
    uint8_t *okm = tu_hex_member(v, "OKM", &okmlen);
    size_t L = int_member(v, "L");
    ck_assert_uint_eq(L, okmlen);
    uint8_t out[100];
    ck_assert_uint_le(L, sizeof out);
    ck_assert_int_eq(ep_hkdf_sha256(out, L, (const uint8_t *)salt, saltlen,
                                    (const uint8_t *)ikm, ikmlen, (const uint8_t *)info, infolen),
                     EP_OK);
    ck_assert_msg(memcmp(out, okm, L) == 0, "ntor HKDF vector %zu differs", i);
    free(okm);
  }
  ep_json_free(root);
}
END_TEST

START_TEST(kdf_tor_vectors) {
  ep_json_t *root = tu_read_json(VECTORS);
  const ep_json_t *vs = section(root, "kdf_tor_sha1", 3);
  for (size_t i = 0; i < ep_json_count(vs); i++) {
    const ep_json_t *v = ep_json_at(vs, i);
    size_t k0len, klen;
    const char *k0 = str_member(v, "K0_ascii", &k0len);
    uint8_t *k = tu_hex_member(v, "K", &klen);
    size_t L = int_member(v, "L");
    ck_assert_uint_eq(L, klen);
    uint8_t out[100];
    ck_assert_uint_le(L, sizeof out);
    ck_assert_int_eq(ep_kdf_tor(out, L, (const uint8_t *)k0, k0len), EP_OK);
    ck_assert_msg(memcmp(out, k, L) == 0, "KDF-TOR vector %zu ('%.*s') differs", i, (int)k0len, k0);
    /* Output not a multiple of 20 bytes is a prefix. */
    ck_assert_int_eq(ep_kdf_tor(out, 33, (const uint8_t *)k0, k0len), EP_OK);
    ck_assert_int_eq(memcmp(out, k, 33), 0);
    free(k);
  }
  ep_json_free(root);
}
END_TEST

START_TEST(kdf_limits) {
  static uint8_t big[EP_HKDF_SHA256_MAX_OUT + 1];
  uint8_t prk[32] = {1};
  memset(big, 0xaa, sizeof big);
  ck_assert_int_eq(ep_hkdf_sha256_expand(big, sizeof big, prk, NULL, 0), EP_ERR_LIMIT);
  ck_assert(all_zero(big, sizeof big));
  ck_assert_int_eq(ep_hkdf_sha256_expand(big, EP_HKDF_SHA256_MAX_OUT, prk, NULL, 0), EP_OK);
  ck_assert(!all_zero(big + EP_HKDF_SHA256_MAX_OUT - 32, 32));
  ck_assert_int_eq(ep_hkdf_sha256(big, sizeof big, NULL, 0, NULL, 0, NULL, 0), EP_ERR_LIMIT);
  /* RFC 5869: no salt is the same as 32 zero bytes of salt. */
  uint8_t a[40], b[40], zero[32] = {0};
  ck_assert_int_eq(ep_hkdf_sha256(a, sizeof a, NULL, 0, (const uint8_t *)"k", 1, NULL, 0), EP_OK);
  ck_assert_int_eq(ep_hkdf_sha256(b, sizeof b, zero, 32, (const uint8_t *)"k", 1, NULL, 0), EP_OK);
  ck_assert_int_eq(memcmp(a, b, sizeof a), 0);

  static uint8_t tbig[EP_KDF_TOR_MAX_OUT + 1];
  ck_assert_int_eq(ep_kdf_tor(tbig, sizeof tbig, (const uint8_t *)"x", 1), EP_ERR_LIMIT);
  ck_assert_int_eq(ep_kdf_tor(tbig, EP_KDF_TOR_MAX_OUT, (const uint8_t *)"x", 1), EP_OK);
  /* The last block is SHA1(K0 | ff). */
  uint8_t msg[2] = {'x', 0xff}, last[20];
  ep_sha1(last, msg, sizeof msg);
  ck_assert_int_eq(memcmp(tbig + EP_KDF_TOR_MAX_OUT - 20, last, 20), 0);
}
END_TEST

/* Df | Db | Kf | Kb of a CREATE_FAST vector. */
static void fast_expected_keys(const ep_json_t *v, uint8_t keys[EP_RELAY_KEYS_LEN]) {
  static const struct {
    const char *name;
    size_t len;
  } parts[] = {{"Df", 20}, {"Db", 20}, {"Kf", 16}, {"Kb", 16}};
  size_t off = 0;
  for (size_t i = 0; i < 4; i++) {
    size_t n;
    uint8_t *p = tu_hex_member(v, parts[i].name, &n);
    ck_assert_uint_eq(n, parts[i].len);
    memcpy(keys + off, p, n);
    off += n;
    free(p);
  }
  ck_assert_uint_eq(off, EP_RELAY_KEYS_LEN);
}

START_TEST(create_fast_vectors) {
  ep_json_t *root = tu_read_json(VECTORS);
  const ep_json_t *vs = section(root, "create_fast", 2);
  for (size_t i = 0; i < ep_json_count(vs); i++) {
    const ep_json_t *v = ep_json_at(vs, i);
    size_t xlen, bodylen, ylen, khlen, kmlen;
    uint8_t *x = tu_hex_member(v, "X_client_CREATE_FAST", &xlen);
    uint8_t *body = tu_hex_member(v, "CREATED_FAST_body", &bodylen);
    uint8_t *y = tu_hex_member(v, "Y", &ylen);
    uint8_t *kh = tu_hex_member(v, "KH_derivative_key_data", &khlen);
    uint8_t *km = tu_hex_member(v, "key_material_after_KH", &kmlen);
    ck_assert_uint_eq(xlen, EP_FAST_HANDSHAKE_LEN);
    ck_assert_uint_eq(bodylen, EP_FAST_REPLY_LEN);
    ck_assert_uint_eq(ylen, 20);
    ck_assert_uint_eq(khlen, EP_FAST_KH_LEN);
    uint8_t want[EP_RELAY_KEYS_LEN];
    fast_expected_keys(v, want);
    ck_assert_int_eq(memcmp(want, km, sizeof want), 0);

    /* The raw KDF: KDF-TOR(X | Y) = KH | key material. */
    uint8_t k0[40], kdf[120];
    memcpy(k0, x, 20);
    memcpy(k0 + 20, y, 20);
    ck_assert_int_eq(ep_kdf_tor(kdf, 20 + kmlen, k0, sizeof k0), EP_OK);
    ck_assert_int_eq(memcmp(kdf, kh, 20), 0);
    ck_assert_int_eq(memcmp(kdf + 20, km, kmlen), 0);

    /* Client. */
    ep_fast_client_t *st = NULL;
    uint8_t onwire[EP_FAST_HANDSHAKE_LEN];
    ck_assert_int_eq(ep_fast_client_start_with_secret(&st, x, onwire), EP_OK);
    ck_assert_int_eq(memcmp(onwire, x, xlen), 0);
    uint8_t keys[EP_RELAY_KEYS_LEN];
    ep_err_t err = {0};
    ck_assert_int_eq(ep_fast_client_finish(st, body, keys, sizeof keys, &err), EP_OK);
    ck_assert_int_eq(memcmp(keys, want, sizeof keys), 0);
    ck_assert_int_eq(ep_fast_client_finish(st, body, keys, sizeof keys, &err), EP_ERR_STATE);
    ck_assert(all_zero(keys, sizeof keys));
    ep_fast_client_free(st);

    /* All 100 bytes after KH, through the client. */
    uint8_t longkeys[100];
    ck_assert_uint_eq(kmlen, sizeof longkeys);
    ck_assert_int_eq(ep_fast_client_start_with_secret(&st, x, onwire), EP_OK);
    ck_assert_int_eq(ep_fast_client_finish(st, body, longkeys, sizeof longkeys, &err), EP_OK);
    ck_assert_int_eq(memcmp(longkeys, km, kmlen), 0);
    ep_fast_client_free(st);

    /* Relay side with the vector's Y gives the recorded CREATED_FAST body. */
    uint8_t reply[EP_FAST_REPLY_LEN], skeys[EP_RELAY_KEYS_LEN];
    ck_assert_int_eq(ep_fast_server_handshake(x, y, reply, skeys, sizeof skeys, &err), EP_OK);
    ck_assert_int_eq(memcmp(reply, body, sizeof reply), 0);
    ck_assert_int_eq(memcmp(skeys, want, sizeof skeys), 0);

    free(x);
    free(body);
    free(y);
    free(kh);
    free(km);
  }
  ep_json_free(root);
}
END_TEST

START_TEST(create_fast_rejects_bad_kh) {
  ep_json_t *root = tu_read_json(VECTORS);
  const ep_json_t *v = ep_json_at(section(root, "create_fast", 2), 0);
  uint8_t *x = tu_hex_member(v, "X_client_CREATE_FAST", NULL);
  uint8_t *body = tu_hex_member(v, "CREATED_FAST_body", NULL);
  for (size_t bit = 0; bit < EP_FAST_REPLY_LEN * 8; bit += 7) {
    uint8_t bad[EP_FAST_REPLY_LEN];
    memcpy(bad, body, sizeof bad);
    bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    ep_fast_client_t *st = NULL;
    uint8_t onwire[EP_FAST_HANDSHAKE_LEN];
    ck_assert_int_eq(ep_fast_client_start_with_secret(&st, x, onwire), EP_OK);
    uint8_t keys[EP_RELAY_KEYS_LEN];
    memset(keys, 0x55, sizeof keys);
    ep_err_t err = {0};
    ck_assert_int_eq(ep_fast_client_finish(st, bad, keys, sizeof keys, &err), EP_ERR_VERIFY);
    ck_assert_int_eq(err.code, EP_ERR_VERIFY);
    ck_assert_ptr_nonnull(strstr(err.msg, "KH"));
    ck_assert(all_zero(keys, sizeof keys));
    ep_fast_client_free(st);
  }
  free(x);
  free(body);
  ep_json_free(root);
}
END_TEST

START_TEST(create_fast_random_round_trip) {
  ep_fast_client_t *st = NULL;
  uint8_t x[EP_FAST_HANDSHAKE_LEN], reply[EP_FAST_REPLY_LEN];
  uint8_t ck[EP_RELAY_KEYS_LEN], sk[EP_RELAY_KEYS_LEN];
  ep_err_t err = {0};
  ck_assert_int_eq(ep_fast_client_start(&st, x), EP_OK);
  ck_assert(!all_zero(x, sizeof x));
  ck_assert_int_eq(ep_fast_server_handshake(x, NULL, reply, sk, sizeof sk, &err), EP_OK);
  ck_assert_int_eq(ep_fast_client_finish(st, reply, ck, sizeof ck, &err), EP_OK);
  ck_assert_int_eq(memcmp(ck, sk, sizeof ck), 0);
  ep_fast_client_free(st);
  ep_fast_client_free(NULL);
  /* Too many key bytes asked. */
  ck_assert_int_eq(ep_fast_client_start(&st, x), EP_OK);
  static uint8_t big[EP_KDF_TOR_MAX_OUT];
  ck_assert_int_eq(ep_fast_client_finish(st, reply, big, sizeof big, &err), EP_ERR_LIMIT);
  ep_fast_client_free(st);
}
END_TEST

static Suite *kdf_suite(void) {
  Suite *s = suite_create("kdf");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, hkdf_rfc5869_vectors);
  tcase_add_test(tc, hkdf_ntor_vectors);
  tcase_add_test(tc, kdf_tor_vectors);
  tcase_add_test(tc, kdf_limits);
  tcase_add_test(tc, create_fast_vectors);
  tcase_add_test(tc, create_fast_rejects_bad_kh);
  tcase_add_test(tc, create_fast_random_round_trip);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_suite(kdf_suite()); }
