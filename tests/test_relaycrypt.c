/* exitprobe — unit tests of src/proto/relaycrypt against
 * tests/data/vectors/relay_crypto_tor1.json: 51 cells through 3 hops. */
#include "config.h"

#include <check.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "proto/relaycrypt.h"
#include "testutil.h"

#define VECTORS "vectors/relay_crypto_tor1.json"
#define N_CELLS 51
#define N_RECORDED 8
#define DATA_LEN 498
#define N_HOPS 3

typedef struct fixture {
  ep_json_t *root;
  uint8_t keys[N_HOPS][EP_RELAY_KEYS_LEN];
  uint8_t plain[N_CELLS][EP_RELAY_BODY_LEN];  /* digest field zero */
} fixture_t;

/* The vector's recipe: SHAKE256(SEED) is cut into 498-byte data fields. */
static void make_cells(fixture_t *f) {
  const char *seed = ep_json_get_str(f->root, "SEED_ascii");
  ck_assert_ptr_nonnull(seed);
  static uint8_t stream[N_CELLS * DATA_LEN];
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  ck_assert_ptr_nonnull(md);
  ck_assert_int_eq(EVP_DigestInit_ex(md, EVP_shake256(), NULL), 1);
  ck_assert_int_eq(EVP_DigestUpdate(md, seed, strlen(seed)), 1);
  ck_assert_int_eq(EVP_DigestFinalXOF(md, stream, sizeof stream), 1);
  EVP_MD_CTX_free(md);
  for (size_t i = 0; i < N_CELLS; i++) {
    uint8_t *b = f->plain[i];
    memset(b, 0, EP_RELAY_BODY_LEN);
    b[0] = 2;                 /* RELAY_DATA */
    b[4] = 1;                 /* stream 1 */
    b[9] = DATA_LEN >> 8;     /* length 498 */
    b[10] = DATA_LEN & 0xff;
    memcpy(b + 11, stream + i * DATA_LEN, DATA_LEN);
  }
}

static void load(fixture_t *f) {
  f->root = tu_read_json(VECTORS);
  static const char *names[N_HOPS] = {"K1_hex", "K2_hex", "K3_hex"};
  for (size_t h = 0; h < N_HOPS; h++) {
    size_t n;
    uint8_t *k = tu_hex_member(f->root, names[h], &n);
    ck_assert_uint_eq(n, 92);  /* Df Db Kf Kb KH; KH unused here */
    memcpy(f->keys[h], k, EP_RELAY_KEYS_LEN);
    free(k);
  }
  make_cells(f);
}

static const ep_json_t *recorded(const fixture_t *f, size_t cell) {
  const ep_json_t *vs = ep_json_get(f->root, "vectors");
  for (size_t i = 0; i < ep_json_count(vs); i++) {
    int64_t idx;
    ck_assert(ep_json_int(ep_json_get(ep_json_at(vs, i), "cell_index"), &idx));
    if (idx == (int64_t)cell) {
      return ep_json_at(vs, i);
    }
  }
  return NULL;
}

static void expect_member(const ep_json_t *v, const char *key, const uint8_t *got,
                          size_t cell) {
  size_t n;
  uint8_t *want = tu_hex_member(v, key, &n);
  ck_assert_uint_eq(n, EP_RELAY_BODY_LEN);
  ck_assert_msg(memcmp(got, want, n) == 0, "cell %zu: %s differs", cell, key);
  free(want);
}

/* Client sends all 51 cells to hop 3; relays 1..3 peel them; the 8 recorded
 * cells match the vector at every stage. */
START_TEST(relaycrypt_forward_three_hops) {
  fixture_t *f = calloc(1, sizeof *f);
  ck_assert_ptr_nonnull(f);
  load(f);
  ck_assert_uint_eq(ep_json_count(ep_json_get(f->root, "vectors")), N_RECORDED);
  ep_relay_crypto_t *client[N_HOPS], *relay[N_HOPS];
  for (size_t h = 0; h < N_HOPS; h++) {
    client[h] = ep_relay_crypto_new(f->keys[h]);
    relay[h] = ep_relay_crypto_new(f->keys[h]);
    ck_assert_ptr_nonnull(client[h]);
    ck_assert_ptr_nonnull(relay[h]);
  }
  size_t checked = 0;
  for (size_t i = 0; i < N_CELLS; i++) {
    const ep_json_t *v = recorded(f, i);
    uint8_t body[EP_RELAY_BODY_LEN];
    memcpy(body, f->plain[i], sizeof body);
    if (v != NULL) {
      expect_member(v, "plaintext_body", body, i);
    }
    ep_relay_crypto_originate(client[2], body);
    ep_relay_crypto_encrypt_forward(client[1], body);
    ep_relay_crypto_encrypt_forward(client[0], body);
    if (v != NULL) {
      expect_member(v, "encrypted_body", body, i);
    }
    /* The relays: hops 1 and 2 do not recognize it, hop 3 does. */
    ck_assert_msg(!ep_relay_crypto_relay_decrypt_forward(relay[0], body), "cell %zu at hop 1", i);
    ck_assert_msg(!ep_relay_crypto_relay_decrypt_forward(relay[1], body), "cell %zu at hop 2", i);
    ck_assert_msg(ep_relay_crypto_relay_decrypt_forward(relay[2], body), "cell %zu at hop 3", i);
    if (v != NULL) {
      expect_member(v, "body_with_digest", body, i);
      checked++;
    }
    /* Apart from the digest field, what arrives is what was sent. */
    ck_assert_int_eq(memcmp(body, f->plain[i], 5), 0);
    ck_assert_int_eq(memcmp(body + 9, f->plain[i] + 9, EP_RELAY_BODY_LEN - 9), 0);
  }
  ck_assert_uint_eq(checked, N_RECORDED);
  for (size_t h = 0; h < N_HOPS; h++) {
    ep_relay_crypto_free(client[h]);
    ep_relay_crypto_free(relay[h]);
  }
  ep_json_free(f->root);
  free(f);
}
END_TEST

/* Backward: cells originated by each of the 3 hops in turn reach the client,
 * which finds the right hop (no recorded vectors: a round trip between the
 * client and relay sides, whose forward halves the vectors pin down). */
START_TEST(relaycrypt_backward_round_trip) {
  fixture_t *f = calloc(1, sizeof *f);
  ck_assert_ptr_nonnull(f);
  load(f);
  ep_relay_crypto_t *client[N_HOPS], *relay[N_HOPS];
  for (size_t h = 0; h < N_HOPS; h++) {
    client[h] = ep_relay_crypto_new(f->keys[h]);
    relay[h] = ep_relay_crypto_new(f->keys[h]);
    ck_assert_ptr_nonnull(client[h]);
    ck_assert_ptr_nonnull(relay[h]);
  }
  for (size_t i = 0; i < N_CELLS; i++) {
    size_t origin = i % N_HOPS;  /* 0-based hop that sends this cell */
    uint8_t body[EP_RELAY_BODY_LEN];
    memcpy(body, f->plain[i], sizeof body);
    body[0] = 4;  /* any backward command */
    uint8_t sent[EP_RELAY_BODY_LEN];
    ep_relay_crypto_relay_originate_backward(relay[origin], body);
    for (size_t h = origin; h-- > 0;) {
      ep_relay_crypto_relay_encrypt_backward(relay[h], body);
    }
    memcpy(sent, body, sizeof sent);
    size_t found = N_HOPS;
    for (size_t h = 0; h <= origin; h++) {
      if (ep_relay_crypto_decrypt_backward(client[h], body)) {
        found = h;
        break;
      }
    }
    ck_assert_msg(found == origin, "cell %zu from hop %zu recognized at %zu", i, origin + 1,
                  found + 1);
    ck_assert_int_eq(body[0], 4);
    ck_assert_int_eq(memcmp(body + 9, f->plain[i] + 9, EP_RELAY_BODY_LEN - 9), 0);
    ck_assert_int_ne(memcmp(sent, body, sizeof body), 0);
  }
  for (size_t h = 0; h < N_HOPS; h++) {
    ep_relay_crypto_free(client[h]);
    ep_relay_crypto_free(relay[h]);
  }
  ep_json_free(f->root);
  free(f);
}
END_TEST

/* recognized == 0 with a wrong digest: not recognized, and the running
 * digest is left alone, so the next genuine cell is still recognized. */
START_TEST(relaycrypt_false_recognized_keeps_digest) {
  fixture_t *f = calloc(1, sizeof *f);
  ck_assert_ptr_nonnull(f);
  load(f);
  ep_relay_crypto_t *client = ep_relay_crypto_new(f->keys[0]);
  ep_relay_crypto_t *relay = ep_relay_crypto_new(f->keys[0]);
  ck_assert_ptr_nonnull(client);
  ck_assert_ptr_nonnull(relay);
  uint8_t body[EP_RELAY_BODY_LEN];
  /* A forged cell: recognized 0, digest garbage, encrypted with the right key. */
  memcpy(body, f->plain[0], sizeof body);
  body[5] = 0xde;
  body[6] = 0xad;
  ep_relay_crypto_relay_encrypt_backward(relay, body);
  ck_assert(!ep_relay_crypto_decrypt_backward(client, body));
  ck_assert_int_eq(body[5], 0xde);  /* the digest field is left as it came */
  /* A genuine one after it. */
  memcpy(body, f->plain[1], sizeof body);
  ep_relay_crypto_relay_originate_backward(relay, body);
  ck_assert(ep_relay_crypto_decrypt_backward(client, body));
  /* A genuine cell with one flipped bit is not recognized... */
  memcpy(body, f->plain[2], sizeof body);
  ep_relay_crypto_relay_originate_backward(relay, body);
  body[100] ^= 0x01;
  ck_assert(!ep_relay_crypto_decrypt_backward(client, body));
  /* ...and neither is a replay of the cell before it. */
  memcpy(body, f->plain[1], sizeof body);
  ep_relay_crypto_relay_originate_backward(relay, body);
  ck_assert(!ep_relay_crypto_decrypt_backward(client, body));
  ep_relay_crypto_free(client);
  ep_relay_crypto_free(relay);
  ep_relay_crypto_free(NULL);

  /* Forward: a flipped bit on the wire makes the last hop refuse the cell. */
  ep_relay_crypto_t *c = ep_relay_crypto_new(f->keys[2]);
  ep_relay_crypto_t *r = ep_relay_crypto_new(f->keys[2]);
  memcpy(body, f->plain[0], sizeof body);
  body[5] = 0x77;  /* originate ignores what the digest field held */
  ep_relay_crypto_originate(c, body);
  uint8_t copy[EP_RELAY_BODY_LEN];
  memcpy(copy, body, sizeof copy);
  copy[300] ^= 0x80;
  ep_relay_crypto_t *r2 = ep_relay_crypto_new(f->keys[2]);
  ck_assert(!ep_relay_crypto_relay_decrypt_forward(r2, copy));
  ck_assert(ep_relay_crypto_relay_decrypt_forward(r, body));
  ep_relay_crypto_free(c);
  ep_relay_crypto_free(r);
  ep_relay_crypto_free(r2);
  ep_json_free(f->root);
  free(f);
}
END_TEST

/* The running digests' full values (SENDME v1): SHA-1 over the seed and
 * every cell originated / recognized with its digest field zero; a cell not
 * recognized leaves the backward digest as it was. */
static void sha1_of(uint8_t out[20], const uint8_t *seed, const uint8_t cells[][EP_RELAY_BODY_LEN],
                    size_t n) {
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  ck_assert_ptr_nonnull(md);
  ck_assert_int_eq(EVP_DigestInit_ex(md, EVP_sha1(), NULL), 1);
  ck_assert_int_eq(EVP_DigestUpdate(md, seed, 20), 1);
  for (size_t i = 0; i < n; i++) {
    ck_assert_int_eq(EVP_DigestUpdate(md, cells[i], EP_RELAY_BODY_LEN), 1);
  }
  unsigned len = 0;
  ck_assert_int_eq(EVP_DigestFinal_ex(md, out, &len), 1);
  ck_assert_uint_eq(len, 20);
  EVP_MD_CTX_free(md);
}

START_TEST(relaycrypt_running_digests_for_sendme) {
  fixture_t *f = calloc(1, sizeof *f);
  ck_assert_ptr_nonnull(f);
  load(f);
  ep_relay_crypto_t *client = ep_relay_crypto_new(f->keys[1]);
  ep_relay_crypto_t *relay = ep_relay_crypto_new(f->keys[1]);
  ck_assert_ptr_nonnull(client);
  ck_assert_ptr_nonnull(relay);
  uint8_t got[20], want[20], body[EP_RELAY_BODY_LEN];
  /* Before any cell: SHA-1(Df) and SHA-1(Db). */
  ep_relay_crypto_forward_digest(client, got);
  sha1_of(want, f->keys[1], f->plain, 0);
  ck_assert_int_eq(memcmp(got, want, 20), 0);
  ep_relay_crypto_backward_digest(client, got);
  sha1_of(want, f->keys[1] + 20, f->plain, 0);
  ck_assert_int_eq(memcmp(got, want, 20), 0);
  /* Forward, after 3 cells; peeking does not disturb the running state. */
  for (size_t i = 0; i < 3; i++) {
    memcpy(body, f->plain[i], sizeof body);
    ep_relay_crypto_originate(client, body);
    ep_relay_crypto_forward_digest(client, got);
    sha1_of(want, f->keys[1], f->plain, i + 1);
    ck_assert_int_eq(memcmp(got, want, 20), 0);
    ck_assert(ep_relay_crypto_relay_decrypt_forward(relay, body));
  }
  /* Backward: two recognized cells, a forged one in between. */
  memcpy(body, f->plain[0], sizeof body);
  ep_relay_crypto_relay_originate_backward(relay, body);
  ck_assert(ep_relay_crypto_decrypt_backward(client, body));
  memcpy(body, f->plain[5], sizeof body);
  body[5] = 0x42;
  ep_relay_crypto_relay_encrypt_backward(relay, body);
  ck_assert(!ep_relay_crypto_decrypt_backward(client, body));
  ep_relay_crypto_backward_digest(client, got);
  sha1_of(want, f->keys[1] + 20, f->plain, 1);
  ck_assert_int_eq(memcmp(got, want, 20), 0);
  ep_relay_crypto_free(client);
  ep_relay_crypto_free(relay);
  ep_json_free(f->root);
  free(f);
}
END_TEST

static Suite *relaycrypt_suite(void) {
  Suite *s = suite_create("relaycrypt");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, relaycrypt_forward_three_hops);
  tcase_add_test(tc, relaycrypt_backward_round_trip);
  tcase_add_test(tc, relaycrypt_false_recognized_keeps_digest);
  tcase_add_test(tc, relaycrypt_running_digests_for_sendme);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_suite(relaycrypt_suite()); }
