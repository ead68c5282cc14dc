/* exitprobe — unit tests of src/dir/microdesc. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dir/consensus.h"
#include "dir/microdesc.h"
#include "lib/encode.h"
#include "testutil.h"

static ep_microdescs_t *parse_file(const char *rel, unsigned flags) {
  size_t n;
  uint8_t *t = tu_read_data(rel, &n);
  ep_err_t err = {0};
  ep_microdescs_t *l = ep_microdescs_parse((const char *)t, n, flags, &err);
  ck_assert_msg(l != NULL, "%s: %s", rel, err.msg);
  free(t);
  return l;
}

static ep_consensus_t *cons_file(const char *rel) {
  size_t n;
  uint8_t *t = tu_read_data(rel, &n);
  ep_err_t err = {0};
  ep_consensus_t *c = ep_consensus_parse((const char *)t, n, &err);
  ck_assert_msg(c != NULL, "%s: %s", rel, err.msg);
  free(t);
  return c;
}

START_TEST(real_2022_digests_match) {
  ep_microdescs_t *l = parse_file("dir/microdescs-2022-11-19", 0);
  ep_consensus_t *c = cons_file("dir/consensus-md-2022-11-19");
  ck_assert_uint_eq(ep_microdescs_count(l), 1788);
  size_t match = 0, with_p = 0, with_p6 = 0, with_family = 0, with_ed = 0, p25 = 0;
  for (size_t i = 0; i < ep_microdescs_count(l); i++) {
    const ep_microdesc_t *md = ep_microdescs_get(l, i);
    long k = ep_consensus_find_md(c, md->digest);
    if (k >= 0) {
      match++;
      ck_assert_int_eq(ep_microdesc_check(md, ep_consensus_router(c, (size_t)k)->digest, NULL), EP_OK);
    }
    ck_assert_ptr_eq(ep_microdescs_find(l, md->digest), md);
    with_p += md->policy != ep_policy_summary_reject_all();
    with_p6 += md->policy6 != ep_policy_summary_reject_all();
    with_family += md->family != NULL;
    with_ed += md->has_ed25519;
    p25 += ep_policy_summary_allows(md->policy, 25);
    ck_assert(md->has_tap_onion_key);
    ck_assert_int_gt(md->last_listed, 0);
  }
  ck_assert_uint_eq(match, 1722);
  ck_assert_uint_eq(with_p, 407);
  ck_assert_uint_eq(with_p6, 211);
  ck_assert_uint_eq(with_family, 870);
  ck_assert_uint_eq(with_ed, 1788);
  ck_assert_uint_lt(p25, with_p);

  /* the first one, field by field */
  const ep_microdesc_t *md = ep_microdescs_get(l, 0);
  ck_assert_uint_eq(md->lineno, 2);
  ck_assert_int_eq(strncmp(md->body, "onion-key\n", 10), 0);
  uint8_t k[32];
  ck_assert_int_eq(ep_base64_decode(k, 32, "pDYVWZsjAl/VDAu/q3eOZzd38KbNtigfef8zd+INeD0", 43), 32);
  ck_assert_mem_eq(md->ntor_key, k, 32);
  ck_assert_int_eq(ep_base64_decode(k, 32, "f49EZuhDJ98j5PbD4pFG3z9YhMhU1Q1bD2oUiQFqCww", 43), 32);
  ck_assert_mem_eq(md->ed25519_id, k, 32);
  ck_assert_uint_eq(md->family_len, 3 * 41 + 2);
  /* a wrong expectation names the line */
  uint8_t wrong[32] = {0};
  ep_err_t err = {0};
  ck_assert_int_eq(ep_microdesc_check(md, wrong, &err), EP_ERR_VERIFY);
  ck_assert_ptr_nonnull(strstr(err.msg, "microdescriptors line 2: digest "));
  ep_consensus_free(c);
  ep_microdescs_free(l);
}
END_TEST

START_TEST(testnet_digests_match) {
  ep_microdescs_t *l = parse_file("dir/testnet-micro-d", 0);
  ep_consensus_t *c = cons_file("dir/testnet-consensus-microdesc");
  ck_assert_uint_eq(ep_microdescs_count(l), 15);
  size_t match = 0, p25 = 0;
  for (size_t i = 0; i < ep_microdescs_count(l); i++) {
    const ep_microdesc_t *md = ep_microdescs_get(l, i);
    match += ep_consensus_find_md(c, md->digest) >= 0;
    p25 += ep_policy_summary_allows(md->policy, 25);
  }
  ck_assert_uint_eq(match, 15);
  ck_assert_uint_eq(p25, 10);
  ep_consensus_free(c);
  ep_microdescs_free(l);
}
END_TEST

/* A microdescriptor the way tor 0.4.9 may write it: no TAP onion-key. */
#define MD_NO_TAP                                                     \
  "ntor-onion-key Kj/V/G0c3YcRs0ImWov1agCHfE+saJl1xoVyeWpbcis\n"     \
  "p accept 25,80\n"                                                  \
  "id ed25519 FxqAmUG8i91Ce+5CTe7Pq7ukZQWF4MRimQ6JRsOO/lM\n"
#define MD_NO_TAP2                                                    \
  "ntor-onion-key Q7upli5fvreGU9KT4Hvm2EdZdc07DpWPLhQLBO6dQX0\n"     \
  "family $0036FA36AB435FD5D0F640626636867EBFB72C68\n"

START_TEST(without_onion_key) {
  const char *text = "@last-listed 2026-11-25 04:33:20\n" MD_NO_TAP MD_NO_TAP2 "@last-listed 2026-11-25 04:33:20\n" MD_NO_TAP;
  ep_err_t err = {0};
  ep_microdescs_t *l = ep_microdescs_parse(text, strlen(text), 0, &err);
  ck_assert_msg(l != NULL, "%s", err.msg);
  ck_assert_uint_eq(ep_microdescs_count(l), 3);
  const ep_microdesc_t *a = ep_microdescs_get(l, 0), *b = ep_microdescs_get(l, 1), *c = ep_microdescs_get(l, 2);
  ck_assert(!a->has_tap_onion_key);
  ck_assert_uint_eq(a->body_len, strlen(MD_NO_TAP));
  ck_assert_uint_eq(b->body_len, strlen(MD_NO_TAP2));
  ck_assert_uint_eq(b->lineno, 5);
  ck_assert_mem_eq(a->digest, c->digest, 32);
  uint8_t d[32];
  ep_sha256(d, MD_NO_TAP, strlen(MD_NO_TAP));
  ck_assert_mem_eq(a->digest, d, 32);
  ck_assert(ep_policy_summary_allows(a->policy, 80));
  ck_assert(!ep_policy_summary_allows(b->policy, 80));
  ck_assert_int_eq(b->last_listed, 0);
  ep_microdescs_free(l);
}
END_TEST

START_TEST(family_ids_line) {
  /* tor 0.4.9 (consensus method 35) adds "family-ids" to microdescriptors. */
  const char *text = MD_NO_TAP "family-ids ed25519:9Tr8p8f1Ua9vJ2tD2G9ds3nGfU3AS4OQFp6F0ozXFmE x:1\n" MD_NO_TAP2;
  ep_err_t err = {0};
  ep_microdescs_t *l = ep_microdescs_parse(text, strlen(text), 0, &err);
  ck_assert_msg(l != NULL, "%s", err.msg);
  ck_assert_uint_eq(ep_microdescs_count(l), 2);
  const ep_microdesc_t *a = ep_microdescs_get(l, 0), *b = ep_microdescs_get(l, 1);
  ck_assert_uint_eq(a->family_ids_len, strlen("ed25519:9Tr8p8f1Ua9vJ2tD2G9ds3nGfU3AS4OQFp6F0ozXFmE x:1"));
  ck_assert(memcmp(a->family_ids, "ed25519:9Tr8", 12) == 0);
  ck_assert_ptr_null(b->family_ids);
  ep_microdescs_free(l);
  /* without an identifier, or twice: malformed */
  const char *bad1 = MD_NO_TAP "family-ids\n";
  ck_assert_ptr_null(ep_microdescs_parse(bad1, strlen(bad1), 0, &err));
  ck_assert_msg(strstr(err.msg, "'family-ids' wants at least 1 argument") != NULL, "%s", err.msg);
  const char *bad2 = MD_NO_TAP "family-ids a\nfamily-ids b\n";
  ck_assert_ptr_null(ep_microdescs_parse(bad2, strlen(bad2), 0, &err));
  ck_assert_msg(strstr(err.msg, "family-ids") != NULL, "%s", err.msg);
}
END_TEST

START_TEST(bad_microdescs) {
  const char *bad[][2] = {
    {"onion-key\n-----BEGIN RSA PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----\np accept 25\n",
     "microdescriptors line 1: the microdescriptor has no 'ntor-onion-key' item"},
    {"ntor-onion-key abc\n", "microdescriptors line 1: bad ntor-onion-key"},
    {"ntor-onion-key Kj/V/G0c3YcRs0ImWov1agCHfE+saJl1xoVyeWpbcis\np accept 0\n",
     "microdescriptors line 2: 'p': policy summary: bad port range 0-0"},
    {"ntor-onion-key Kj/V/G0c3YcRs0ImWov1agCHfE+saJl1xoVyeWpbcis\nid ed25519 FxqAmUG8i91Ce+5CTe7Pq7ukZQWF4MRimQ6JRsOO/lM\n"
     "id ed25519 FxqAmUG8i91Ce+5CTe7Pq7ukZQWF4MRimQ6JRsOO/lM\n", "microdescriptors line 3: second 'id ed25519'"},
    {"@last-listed yesterday\nntor-onion-key Kj/V/G0c3YcRs0ImWov1agCHfE+saJl1xoVyeWpbcis\n",
     "microdescriptors line 1: bad @last-listed time"},
    {"@last-listed 2026-11-25 04:33:20\n", "microdescriptors line 1: annotations without a microdescriptor"},
    {"onion-key\n-----BEGIN RSA PUBLIC KEY-----\nAAAA\n", "microdescriptors line 2: object 'RSA PUBLIC KEY' has no END line"},
    {"ntor-onion-key Kj/V/G0c3YcRs0ImWov1agCHfE+saJl1xoVyeWpbcis", "microdescriptors line 1: no newline at the end"},
    /* The TAP key is only checked, not decoded: bad base64 still fails. */
    {"onion-key\n-----BEGIN RSA PUBLIC KEY-----\nAA==AA==\n-----END RSA PUBLIC KEY-----\n"
     "ntor-onion-key Kj/V/G0c3YcRs0ImWov1agCHfE+saJl1xoVyeWpbcis\n",
     "microdescriptors line 1: object is not valid base64"},
    {"onion-key\n-----BEGIN RSA PUBLIC KEY-----\nAB==\n-----END RSA PUBLIC KEY-----\n"
     "ntor-onion-key Kj/V/G0c3YcRs0ImWov1agCHfE+saJl1xoVyeWpbcis\n",
     "microdescriptors line 1: object is not valid base64"},
    {"onion-key\n-----BEGIN RSA PUBLIC KEY-----\nAAAAA\n-----END RSA PUBLIC KEY-----\n"
     "ntor-onion-key Kj/V/G0c3YcRs0ImWov1agCHfE+saJl1xoVyeWpbcis\n",
     "microdescriptors line 1: object is not valid base64"},
    {"onion-key\n-----BEGIN SIGNATURE-----\nAAAA\n-----END SIGNATURE-----\n"
     "ntor-onion-key Kj/V/G0c3YcRs0ImWov1agCHfE+saJl1xoVyeWpbcis\n",
     "microdescriptors line 1: object is 'SIGNATURE', wanted 'RSA PUBLIC KEY'"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ep_err_t err = {0};
    ep_microdescs_t *l = ep_microdescs_parse(bad[i][0], strlen(bad[i][0]), 0, &err);
    ck_assert_msg(l == NULL, "accepted #%zu", i);
    ck_assert_msg(strstr(err.msg, bad[i][1]) == err.msg, "#%zu: got '%s', want '%s'", i, err.msg, bad[i][1]);
  }
}
END_TEST

/* A TAP key larger than the microdescriptor cap (4096 bytes; the length
 * check works on whole quanta) is refused even though its bytes are never
 * decoded. */
START_TEST(oversized_onion_key) {
  const char *head = "onion-key\n-----BEGIN RSA PUBLIC KEY-----\n";
  const char *tail = "-----END RSA PUBLIC KEY-----\n"
                     "ntor-onion-key Kj/V/G0c3YcRs0ImWov1agCHfE+saJl1xoVyeWpbcis\n";
  for (size_t keylen = 4093; keylen <= 4098; keylen++) {
    if (keylen == 4096) {
      continue;   /* 1366 quanta: over the quantum-rounded limit, though it fits */
    }
    size_t chars = (keylen + 2) / 3 * 4;
    size_t cap = strlen(head) + chars + chars / 64 + 1 + strlen(tail) + 1;
    char *t = malloc(cap);
    ck_assert_ptr_nonnull(t);
    size_t n = 0;
    memcpy(t, head, strlen(head));
    n += strlen(head);
    for (size_t i = 0; i < chars; i++) {
      /* keylen bytes of zeros, padded */
      t[n++] = i >= (keylen * 4 + 2) / 3 ? '=' : 'A';
      if (i % 64 == 63) {
        t[n++] = '\n';
      }
    }
    if (t[n - 1] != '\n') {
      t[n++] = '\n';
    }
    memcpy(t + n, tail, strlen(tail));
    n += strlen(tail);
    ep_err_t err = {0};
    ep_microdescs_t *l = ep_microdescs_parse(t, n, 0, &err);
    if (keylen < 4096) {
      ck_assert_msg(l != NULL, "%zu: %s", keylen, err.msg);
      ck_assert(ep_microdescs_get(l, 0)->has_tap_onion_key);
    } else {
      ck_assert_ptr_null(l);
      ck_assert_msg(strstr(err.msg, "microdescriptors line 1: object") == err.msg, "%s", err.msg);
    }
    ep_microdescs_free(l);
    free(t);
  }
}
END_TEST

START_TEST(skip_invalid_keeps_the_rest) {
  size_t n;
  char *t = (char *)tu_read_data("dir/testnet-micro-d", &n);
  /* break the third microdescriptor's ntor key */
  char *p = t;
  for (int i = 0; i < 3; i++) {
    p = strstr(p + 1, "ntor-onion-key ");
  }
  p[strlen("ntor-onion-key ")] = '*';
  ep_err_t err = {0};
  ck_assert_ptr_null(ep_microdescs_parse(t, n, 0, &err));
  ck_assert_ptr_nonnull(strstr(err.msg, "bad ntor-onion-key"));
  ep_microdescs_t *l = ep_microdescs_parse(t, n, EP_MD_SKIP_INVALID, &err);
  ck_assert_ptr_nonnull(l);
  ck_assert_uint_eq(ep_microdescs_count(l), 14);
  ck_assert_uint_eq(ep_microdescs_n_invalid(l), 1);
  ck_assert_ptr_nonnull(strstr(ep_microdescs_first_error(l), "bad ntor-onion-key"));
  /* the skipped one's digest is what the text hashes to: it no longer
   * matches its consensus entry */
  ep_consensus_t *c = cons_file("dir/testnet-consensus-microdesc");
  ck_assert_int_eq(ep_consensus_find_md(c, ep_microdescs_invalid_digest(l, 0)), -1);
  size_t match = 0;
  for (size_t i = 0; i < ep_microdescs_count(l); i++) {
    match += ep_consensus_find_md(c, ep_microdescs_get(l, i)->digest) >= 0;
  }
  ck_assert_uint_eq(match, 14);
  ep_consensus_free(c);
  ep_microdescs_free(l);

  /* truncated at every byte: parses fewer, or fails; never more */
  for (size_t cut = 0; cut < n; cut++) {
    ep_microdescs_t *m = ep_microdescs_parse(t, cut, 0, &err);
    if (m != NULL) {
      ck_assert_uint_le(ep_microdescs_count(m), 15);
      ep_microdescs_free(m);
    } else {
      ck_assert_msg(strncmp(err.msg, "microdescriptors", 16) == 0, "%s", err.msg);
    }
  }
  free(t);
}
END_TEST

static Suite *dir_microdesc_suite(void) {
  Suite *s = suite_create("dir_microdesc");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, real_2022_digests_match);
  tcase_add_test(tc, testnet_digests_match);
  tcase_add_test(tc, without_onion_key);
  tcase_add_test(tc, family_ids_line);
  tcase_add_test(tc, bad_microdescs);
  tcase_add_test(tc, oversized_onion_key);
  tcase_add_test(tc, skip_invalid_keeps_the_rest);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_suite(dir_microdesc_suite()); }
