/* exitprobe — unit tests of src/proto/ntor against tests/data/vectors/ntor.json. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"
#include "lib/json.h"
#include "proto/kdf.h"
#include "proto/ntor.h"
#include "testutil.h"

#define VECTORS "vectors/ntor.json"
#define N_VECTORS 3

#define PROTOID "ntor-curve25519-sha256-1"

typedef struct vec {
  uint8_t b[32], B[32], x[32], X[32], y[32], Y[32], id[20];
  uint8_t create2[EP_NTOR_ONIONSKIN_LEN], created2[EP_NTOR_REPLY_LEN];
  uint8_t auth[32];
  uint8_t km[EP_NTOR_KEYS_WITH_KH_LEN];
  size_t kmlen;
} vec_t;

static void fixed(const ep_json_t *v, const char *key, uint8_t *out, size_t want) {
  size_t n;
  uint8_t *p = tu_hex_member(v, key, &n);
  ck_assert_msg(n == want, "%s is %zu bytes, expected %zu", key, n, want);
  memcpy(out, p, n);
  free(p);
}

static ep_json_t *load(vec_t vs[N_VECTORS]) {
  ep_json_t *root = tu_read_json(VECTORS);
  const ep_json_t *arr = ep_json_get(root, "vectors");
  ck_assert_uint_eq(ep_json_count(arr), N_VECTORS);
  for (size_t i = 0; i < N_VECTORS; i++) {
    const ep_json_t *v = ep_json_at(arr, i);
    vec_t *t = &vs[i];
    fixed(v, "b_secret", t->b, 32);
    fixed(v, "B", t->B, 32);
    fixed(v, "x_secret", t->x, 32);
    fixed(v, "X", t->X, 32);
    fixed(v, "y_secret", t->y, 32);
    fixed(v, "Y", t->Y, 32);
    fixed(v, "ID", t->id, 20);
    fixed(v, "client_handshake_CREATE2_HDATA", t->create2, EP_NTOR_ONIONSKIN_LEN);
    fixed(v, "server_handshake_CREATED2_HDATA", t->created2, EP_NTOR_REPLY_LEN);
    fixed(v, "AUTH", t->auth, 32);
    uint8_t *km = tu_hex_member(v, "key_material", &t->kmlen);
    ck_assert(t->kmlen == EP_RELAY_KEYS_LEN || t->kmlen == EP_NTOR_KEYS_WITH_KH_LEN);
    memcpy(t->km, km, t->kmlen);
    free(km);
  }
  return root;
}

static bool all_zero(const uint8_t *p, size_t n) {
  uint8_t acc = 0;
  for (size_t i = 0; i < n; i++) {
    acc |= p[i];
  }
  return acc == 0;
}

/* Df | Db | Kf | Kb as recorded separately. */
static void check_split(const ep_json_t *v, const uint8_t *keys) {
  static const struct {
    const char *name;
    size_t off, len;
  } parts[] = {{"Df", 0, 20}, {"Db", 20, 20}, {"Kf", 40, 16}, {"Kb", 56, 16}};
  for (size_t i = 0; i < 4; i++) {
    uint8_t want[20];
    fixed(v, parts[i].name, want, parts[i].len);
    ck_assert_msg(memcmp(keys + parts[i].off, want, parts[i].len) == 0, "%s differs",
                  parts[i].name);
  }
  if (ep_json_get(v, "KH_nonce") != NULL) {
    uint8_t kh[20];
    fixed(v, "KH_nonce", kh, 20);
    ck_assert_int_eq(memcmp(keys + 72, kh, 20), 0);
  }
}

START_TEST(ntor_intermediate_values) {
  /* The formulas of tor-spec 5.1.4, value by value, with the lib primitives:
   * proves the vector file and our reading of it agree before testing ntor.c. */
  vec_t vs[N_VECTORS];
  ep_json_t *root = load(vs);
  const ep_json_t *arr = ep_json_get(root, "vectors");
  for (size_t i = 0; i < N_VECTORS; i++) {
    const ep_json_t *v = ep_json_at(arr, i);
    const vec_t *t = &vs[i];
    uint8_t pk[32], e1[32], e2[32], mac[32];
    ck_assert_int_eq(ep_x25519_base(pk, t->x), 0);
    ck_assert_int_eq(memcmp(pk, t->X, 32), 0);
    ck_assert_int_eq(ep_x25519_base(pk, t->y), 0);
    ck_assert_int_eq(memcmp(pk, t->Y, 32), 0);
    ck_assert_int_eq(ep_x25519_base(pk, t->b), 0);
    ck_assert_int_eq(memcmp(pk, t->B, 32), 0);
    ck_assert_int_eq(ep_x25519(e1, t->x, t->Y), 0);
    ck_assert_int_eq(ep_x25519(e2, t->x, t->B), 0);
    uint8_t want[32];
    fixed(v, "EXP_Y_x", want, 32);
    ck_assert_int_eq(memcmp(e1, want, 32), 0);
    fixed(v, "EXP_B_x", want, 32);
    ck_assert_int_eq(memcmp(e2, want, 32), 0);

    size_t silen, ailen;
    uint8_t *si = tu_hex_member(v, "secret_input", &silen);
    uint8_t *ai = tu_hex_member(v, "auth_input", &ailen);
    ck_assert_uint_eq(silen, 204);
    ck_assert_uint_eq(ailen, 178);
    ep_hmac_sha256(mac, PROTOID ":key_extract", strlen(PROTOID ":key_extract"), si, silen);
    fixed(v, "KEY_SEED", want, 32);
    ck_assert_int_eq(memcmp(mac, want, 32), 0);
    uint8_t okm[EP_NTOR_KEYS_WITH_KH_LEN];
    ck_assert_int_eq(ep_hkdf_sha256_expand(okm, t->kmlen, mac, (const uint8_t *)PROTOID ":key_expand",
                                           strlen(PROTOID ":key_expand")),
                     EP_OK);
    ck_assert_int_eq(memcmp(okm, t->km, t->kmlen), 0);
    /* HKDF in one call (salt = t_key, IKM = secret_input) is the same thing. */
    ck_assert_int_eq(ep_hkdf_sha256(okm, t->kmlen, (const uint8_t *)PROTOID ":key_extract",
                                    strlen(PROTOID ":key_extract"), si, silen,
                                    (const uint8_t *)PROTOID ":key_expand",
                                    strlen(PROTOID ":key_expand")),
                     EP_OK);
    ck_assert_int_eq(memcmp(okm, t->km, t->kmlen), 0);
    ep_hmac_sha256(mac, PROTOID ":verify", strlen(PROTOID ":verify"), si, silen);
    fixed(v, "verify", want, 32);
    ck_assert_int_eq(memcmp(mac, want, 32), 0);
    ep_hmac_sha256(mac, PROTOID ":mac", strlen(PROTOID ":mac"), ai, ailen);
    ck_assert_int_eq(memcmp(mac, t->auth, 32), 0);
    ck_assert_int_eq(memcmp(t->created2 + 32, t->auth, 32), 0);
    free(si);
    free(ai);
  }
  ep_json_free(root);
}
END_TEST

START_TEST(ntor_client_vectors) {
  vec_t vs[N_VECTORS];
  ep_json_t *root = load(vs);
  const ep_json_t *arr = ep_json_get(root, "vectors");
  for (size_t i = 0; i < N_VECTORS; i++) {
    const vec_t *t = &vs[i];
    ep_ntor_client_t *st = NULL;
    uint8_t onionskin[EP_NTOR_ONIONSKIN_LEN];
    ck_assert_int_eq(ep_ntor_client_start_with_secret(&st, t->id, t->B, t->x, onionskin), EP_OK);
    ck_assert_msg(memcmp(onionskin, t->create2, sizeof onionskin) == 0,
                  "vector %zu: CREATE2 HDATA differs", i + 1);
    uint8_t keys[EP_NTOR_KEYS_WITH_KH_LEN];
    ep_err_t err = {0};
    ck_assert_int_eq(ep_ntor_client_finish(st, t->created2, keys, t->kmlen, &err), EP_OK);
    ck_assert_msg(memcmp(keys, t->km, t->kmlen) == 0, "vector %zu: key material differs", i + 1);
    check_split(ep_json_at(arr, i), keys);
    /* The handshake is single-use. */
    ck_assert_int_eq(ep_ntor_client_finish(st, t->created2, keys, t->kmlen, &err), EP_ERR_STATE);
    ck_assert(all_zero(keys, t->kmlen));
    ep_ntor_client_free(st);
  }
  ep_json_free(root);
}
END_TEST

START_TEST(ntor_server_vectors) {
  vec_t vs[N_VECTORS];
  ep_json_t *root = load(vs);
  const ep_json_t *arr = ep_json_get(root, "vectors");
  for (size_t i = 0; i < N_VECTORS; i++) {
    const vec_t *t = &vs[i];
    uint8_t reply[EP_NTOR_REPLY_LEN], keys[EP_NTOR_KEYS_WITH_KH_LEN];
    ep_err_t err = {0};
    ck_assert_int_eq(ep_ntor_server_handshake(t->id, t->b, t->B, t->create2, t->y, reply, keys,
                                              t->kmlen, &err),
                     EP_OK);
    ck_assert_msg(memcmp(reply, t->created2, sizeof reply) == 0,
                  "vector %zu: CREATED2 HDATA differs", i + 1);
    ck_assert_int_eq(memcmp(keys, t->km, t->kmlen), 0);
    check_split(ep_json_at(arr, i), keys);

    /* An onionskin for another relay or onion key is refused. */
    uint8_t other[EP_NTOR_ONIONSKIN_LEN];
    memcpy(other, t->create2, sizeof other);
    other[3] ^= 0x10;
    ck_assert_int_eq(ep_ntor_server_handshake(t->id, t->b, t->B, other, t->y, reply, keys,
                                              t->kmlen, &err),
                     EP_ERR_VERIFY);
    ck_assert(all_zero(reply, sizeof reply));
    ck_assert(all_zero(keys, t->kmlen));
    memcpy(other, t->create2, sizeof other);
    other[20 + 31] ^= 0x01;
    ck_assert_int_eq(ep_ntor_server_handshake(t->id, t->b, t->B, other, t->y, reply, keys,
                                              t->kmlen, &err),
                     EP_ERR_VERIFY);
  }
  ep_json_free(root);
}
END_TEST

/* Every single-bit flip of AUTH (and some of Y) fails, with no keys out. */
START_TEST(ntor_rejects_flipped_reply) {
  vec_t vs[N_VECTORS];
  ep_json_t *root = load(vs);
  for (size_t i = 0; i < N_VECTORS; i++) {
    const vec_t *t = &vs[i];
    for (size_t bit = 0; bit < EP_NTOR_REPLY_LEN * 8; bit++) {
      if (bit < 256 && bit % 5 != 0) {
        continue;  /* Y: a sample; AUTH (bits 256..511): all of them */
      }
      uint8_t bad[EP_NTOR_REPLY_LEN];
      memcpy(bad, t->created2, sizeof bad);
      bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
      ep_ntor_client_t *st = NULL;
      uint8_t onionskin[EP_NTOR_ONIONSKIN_LEN];
      ck_assert_int_eq(ep_ntor_client_start_with_secret(&st, t->id, t->B, t->x, onionskin), EP_OK);
      uint8_t keys[EP_RELAY_KEYS_LEN];
      memset(keys, 0x5a, sizeof keys);
      ep_err_t err = {0};
      ck_assert_int_eq(ep_ntor_client_finish(st, bad, keys, sizeof keys, &err), EP_ERR_VERIFY);
      ck_assert_int_eq(err.code, EP_ERR_VERIFY);
      ck_assert_msg(strstr(err.msg, "AUTH") != NULL, "unclear error: %s", err.msg);
      ck_assert(all_zero(keys, sizeof keys));
      ep_ntor_client_free(st);
    }
  }
  ep_json_free(root);
}
END_TEST

/* A relay answering with a low-order Y (EXP(Y,x) all zero) is refused even
 * if it could make AUTH match. */
START_TEST(ntor_rejects_degenerate_y) {
  vec_t vs[N_VECTORS];
  ep_json_t *root = load(vs);
  const vec_t *t = &vs[0];
  uint8_t reply[EP_NTOR_REPLY_LEN] = {0};
  /* Y = 0 and Y = 1 are points of small order. */
  for (int y0 = 0; y0 < 2; y0++) {
    reply[0] = (uint8_t)y0;
    ep_ntor_client_t *st = NULL;
    uint8_t onionskin[EP_NTOR_ONIONSKIN_LEN];
    ck_assert_int_eq(ep_ntor_client_start_with_secret(&st, t->id, t->B, t->x, onionskin), EP_OK);
    uint8_t keys[EP_RELAY_KEYS_LEN];
    ep_err_t err = {0};
    ck_assert_int_eq(ep_ntor_client_finish(st, reply, keys, sizeof keys, &err), EP_ERR_VERIFY);
    ck_assert(all_zero(keys, sizeof keys));
    ep_ntor_client_free(st);
  }
  /* The relay side refuses a degenerate X the same way. */
  uint8_t skin[EP_NTOR_ONIONSKIN_LEN];
  memcpy(skin, t->create2, sizeof skin);
  memset(skin + 52, 0, 32);
  uint8_t keys[EP_RELAY_KEYS_LEN];
  ck_assert_int_eq(ep_ntor_server_handshake(t->id, t->b, t->B, skin, t->y, reply, keys,
                                            sizeof keys, NULL),
                   EP_ERR_VERIFY);
  ck_assert(all_zero(reply, sizeof reply));
  ep_json_free(root);
}
END_TEST

START_TEST(ntor_random_round_trip) {
  vec_t vs[N_VECTORS];
  ep_json_t *root = load(vs);
  const vec_t *t = &vs[1];
  uint8_t onion1[EP_NTOR_ONIONSKIN_LEN], onion2[EP_NTOR_ONIONSKIN_LEN];
  ep_ntor_client_t *a = NULL, *b = NULL;
  ck_assert_int_eq(ep_ntor_client_start(&a, t->id, t->B, onion1), EP_OK);
  ck_assert_int_eq(ep_ntor_client_start(&b, t->id, t->B, onion2), EP_OK);
  ck_assert_int_eq(memcmp(onion1, t->create2, 52), 0);  /* ID | B */
  ck_assert_int_ne(memcmp(onion1 + 52, onion2 + 52, 32), 0);  /* fresh X each time */
  uint8_t reply[EP_NTOR_REPLY_LEN], sk[EP_RELAY_KEYS_LEN], ck[EP_RELAY_KEYS_LEN];
  ep_err_t err = {0};
  ck_assert_int_eq(ep_ntor_server_handshake(t->id, t->b, t->B, onion1, NULL, reply, sk,
                                            sizeof sk, &err),
                   EP_OK);
  ck_assert_int_eq(ep_ntor_client_finish(a, reply, ck, sizeof ck, &err), EP_OK);
  ck_assert_int_eq(memcmp(ck, sk, sizeof ck), 0);
  /* The reply to one handshake does not finish another. */
  ck_assert_int_eq(ep_ntor_client_finish(b, reply, ck, sizeof ck, &err), EP_ERR_VERIFY);
  ep_ntor_client_free(a);
  ep_ntor_client_free(b);
  ep_ntor_client_free(NULL);
  /* Too many key bytes asked. */
  ck_assert_int_eq(ep_ntor_client_start(&a, t->id, t->B, onion1), EP_OK);
  static uint8_t big[EP_HKDF_SHA256_MAX_OUT + 1];
  ck_assert_int_eq(ep_ntor_client_finish(a, reply, big, sizeof big, &err), EP_ERR_LIMIT);
  ep_ntor_client_free(a);
  ep_json_free(root);
}
END_TEST

static Suite *ntor_suite(void) {
  Suite *s = suite_create("ntor");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, ntor_intermediate_values);
  tcase_add_test(tc, ntor_client_vectors);
  tcase_add_test(tc, ntor_server_vectors);
  tcase_add_test(tc, ntor_rejects_flipped_reply);
  tcase_add_test(tc, ntor_rejects_degenerate_y);
  tcase_add_test(tc, ntor_random_round_trip);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_suite(ntor_suite()); }
