/* exitprobe — unit tests of src/dir/microdesc. */
#include "config.h"

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
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

/* CRLF line endings (findings): every microdescriptor is malformed (tor
 * writes LF), each counted once, not once per keyword line. */
START_TEST(crlf_counts_each_microdescriptor_once) {
  size_t n;
  char *t = (char *)tu_read_data("dir/microdescs-2022-11-19", &n);
  size_t lines = 0;
  for (size_t i = 0; i < n; i++) {
    lines += t[i] == '\n';
  }
  char *crlf = malloc(n + lines);
  ck_assert_ptr_nonnull(crlf);
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    if (t[i] == '\n') {
      crlf[m++] = '\r';
    }
    crlf[m++] = t[i];
  }
  ep_err_t err = {0};
  ep_microdescs_t *l = ep_microdescs_parse(crlf, m, EP_MD_SKIP_INVALID, &err);
  ck_assert_msg(l != NULL, "%s", err.msg);
  ck_assert_uint_eq(ep_microdescs_count(l), 0);
  ck_assert_uint_eq(ep_microdescs_n_invalid(l), 1788);
  ck_assert_ptr_nonnull(strstr(ep_microdescs_first_error(l), "CR before the newline"));
  ep_microdescs_free(l);
  free(crlf);
  free(t);
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

/* ---- the single-pass split against the rule as it was (two passes) ---- */

/* The former first pass, kept as the reference: where each microdescriptor
 * starts (offsets and line numbers). */
static bool ref_line_is_kw(const char *l, size_t n, const char *kw) {
  size_t k = strlen(kw);
  return n >= k && memcmp(l, kw, k) == 0 && (n == k || l[k] == ' ' || l[k] == '\t');
}

static size_t ref_find_starts(const char *t, size_t len, size_t *off, size_t *line, size_t max) {
  size_t n = 0, pos = 0, lineno = 1;
  bool in_obj = false, seen_body = false, only_onion = false, started = false;
  while (pos < len) {
    const char *nl = memchr(t + pos, '\n', len - pos);
    size_t end = nl ? (size_t)(nl - t) : len;
    const char *l = t + pos;
    size_t ll = end - pos;
    bool start_here = false;
    if (in_obj) {
      if (ll >= 9 && memcmp(l, "-----END ", 9) == 0) {
        in_obj = false;
      }
    } else if (ll >= 11 && memcmp(l, "-----BEGIN ", 11) == 0) {
      in_obj = true;
    } else if (ll == 0) {
    } else if (l[0] == '@') {
      start_here = seen_body || !started;
      seen_body = false;
      only_onion = false;
    } else if (ref_line_is_kw(l, ll, "onion-key")) {
      start_here = seen_body || !started;
      seen_body = true;
      only_onion = true;
    } else if (ref_line_is_kw(l, ll, "ntor-onion-key")) {
      start_here = (seen_body && !only_onion) || !started;
      seen_body = true;
      only_onion = false;
    } else {
      start_here = !started;
      seen_body = true;
      only_onion = false;
    }
    if (start_here) {
      ck_assert_uint_lt(n, max);
      off[n] = pos;
      line[n] = lineno;
      n++;
      started = true;
    }
    pos = nl ? end + 1 : len;
    lineno++;
  }
  return n;
}

/* "microdescriptors line N: rest" with N moved by delta (other messages as they are). */
static void shift_line(const char *msg, size_t delta, char *out, size_t cap) {
  static const char pre[] = "microdescriptors line ";
  char *rest = NULL;
  if (strncmp(msg, pre, sizeof pre - 1) == 0) {
    unsigned long long v = strtoull(msg + sizeof pre - 1, &rest, 10);
    snprintf(out, cap, "%s%llu%s", pre, v + (unsigned long long)delta, rest);
  } else {
    snprintf(out, cap, "%s", msg);
  }
}

/* Parsing t[0..len) whole must give what parsing each range of the old
 * split alone gives: the same microdescriptors (body, first line, digest,
 * keys), the same skipped ones, and without EP_MD_SKIP_INVALID the same
 * first error at the same line. */
static void split_same_as_reference(const char *t, size_t len) {
  enum { MAXS = 4096 };
  static size_t off[MAXS], line[MAXS];
  size_t ns = ref_find_starts(t, len, off, line, MAXS);
  ep_err_t e1 = {0}, e2 = {0};
  ep_microdescs_t *whole = ep_microdescs_parse(t, len, EP_MD_SKIP_INVALID, &e1);
  ep_microdescs_t *strict = ep_microdescs_parse(t, len, 0, &e2);
  size_t nv = 0, ni = 0;
  char want_err[EP_ERR_MSG_MAX + 32] = "";
  bool want_limit = false;
  for (size_t i = 0; i < ns; i++) {
    size_t end = i + 1 < ns ? off[i + 1] : len;
    ep_err_t e = {0};
    ep_microdescs_t *one = ep_microdescs_parse(t + off[i], end - off[i], EP_MD_SKIP_INVALID, &e);
    if (one == NULL) {
      /* a limit: the whole parse stops there too */
      ck_assert_ptr_null(whole);
      want_limit = true;
      break;
    }
    ck_assert_uint_eq(ep_microdescs_count(one) + ep_microdescs_n_invalid(one), 1);
    if (ep_microdescs_count(one) == 1) {
      const ep_microdesc_t *a = ep_microdescs_get(one, 0);
      ck_assert_ptr_nonnull(whole);
      ck_assert_uint_lt(nv, ep_microdescs_count(whole));
      const ep_microdesc_t *b = ep_microdescs_get(whole, nv++);
      ck_assert_uint_eq(b->body_len, a->body_len);
      ck_assert_mem_eq(b->body, a->body, a->body_len);
      ck_assert_uint_eq(b->lineno, a->lineno + line[i] - 1);
      ck_assert_mem_eq(b->digest, a->digest, 32);
      ck_assert_mem_eq(b->ntor_key, a->ntor_key, 32);
      ck_assert_int_eq(b->has_tap_onion_key, a->has_tap_onion_key);
      ck_assert_int_eq((long long)b->last_listed, (long long)a->last_listed);
    } else {
      ck_assert_ptr_nonnull(whole);
      ck_assert_uint_lt(ni, ep_microdescs_n_invalid(whole));
      ck_assert_mem_eq(ep_microdescs_invalid_digest(whole, ni++), ep_microdescs_invalid_digest(one, 0), 32);
      if (want_err[0] == '\0') {
        shift_line(ep_microdescs_first_error(one), line[i] - 1, want_err, sizeof want_err);
      }
    }
    ep_microdescs_free(one);
  }
  if (!want_limit) {
    ck_assert_ptr_nonnull(whole);
    ck_assert_uint_eq(ep_microdescs_count(whole), nv);
    ck_assert_uint_eq(ep_microdescs_n_invalid(whole), ni);
    if (want_err[0] != '\0') {
      ck_assert_str_eq(ep_microdescs_first_error(whole), want_err);
      ck_assert_ptr_null(strict);
      ck_assert_str_eq(e2.msg, want_err);
    } else {
      ck_assert_ptr_nonnull(strict);
      ck_assert_uint_eq(ep_microdescs_count(strict), nv);
    }
  }
  ep_microdescs_free(whole);
  ep_microdescs_free(strict);
}

START_TEST(single_pass_split_same_as_two_passes) {
  size_t n;
  char *t = (char *)tu_read_data("dir/microdescs-2022-11-19", &n);
  /* every microdescriptor of the real file */
  split_same_as_reference(t, n);
  /* cut and garbled windows of it: a few microdescriptors each */
  static const char *const junk[] = {
      "\n", "\n\n", "@", "@last-listed 2022-11-19 10:11:43\n", "-", "-----BEGIN RSA PUBLIC KEY-----\n",
      "-----END RSA PUBLIC KEY-----\n", "-----END X-----\n", "onion-key\n", "onion-key", "ntor-onion-key ",
      "ntor-onion-key AAAA\n", "opt onion-key\n", " ", "\t", "\r", "x", "=", "\0", "family a\n", "id ed25519 x\n",
  };
  uint64_t st = 0x5eed5eed12345677ull;
  char *w = malloc(64 * 1024);
  ck_assert_ptr_nonnull(w);
  for (int iter = 0; iter < 400; iter++) {
    st ^= st >> 12;
    st ^= st << 25;
    st ^= st >> 27;
    uint64_t r = st * 2685821657736338717ull;
    size_t from = (size_t)(r % (n - 20000));
    size_t wl = 2000 + (size_t)((r >> 24) % 14000);
    memcpy(w, t + from, wl);
    /* up to four edits: junk inserted, a byte replaced, or a range removed */
    int edits = (int)((r >> 40) % 5);
    for (int k = 0; k < edits; k++) {
      st ^= st >> 12;
      st ^= st << 25;
      st ^= st >> 27;
      uint64_t q = st * 2685821657736338717ull;
      size_t at = (size_t)(q % wl);
      const char *j = junk[(q >> 20) % (sizeof junk / sizeof junk[0])];
      size_t jl = j[0] == '\0' ? 1 : strlen(j);
      switch ((q >> 40) % 3) {
        case 0:
          if (wl + jl < 64 * 1024) {
            memmove(w + at + jl, w + at, wl - at);
            memcpy(w + at, j, jl);
            wl += jl;
          }
          break;
        case 1:
          w[at] = j[0];
          break;
        default: {
          size_t cut = (size_t)((q >> 48) % 300);
          if (at + cut > wl) {
            cut = wl - at;
          }
          memmove(w + at, w + at + cut, wl - at - cut);
          wl -= cut;
          break;
        }
      }
    }
    split_same_as_reference(w, wl);
    /* and cut short */
    split_same_as_reference(w, (size_t)((r >> 8) % (wl + 1)));
  }
  free(w);
  free(t);
}
END_TEST

/* Insert ins (nins bytes) into t[0..*n) at offset at; a new buffer. */
static char *splice(const char *t, size_t *n, size_t at, const char *ins, size_t nins) {
  char *o = malloc(*n + nins);
  ck_assert_ptr_nonnull(o);
  memcpy(o, t, at);
  memcpy(o + at, ins, nins);
  memcpy(o + at + nins, t + at, *n - at);
  *n += nins;
  return o;
}

/* ../shared/findings: one over-size microdescriptor (a line over
 * EP_CAP_DOC_LINE, an object over EP_CAP_DOC_OBJECT or over the onion-key
 * cap) in the real 2022-11-19 file costs only itself when skipping; strict
 * parsing still refuses the file. */
START_TEST(oversize_costs_only_itself) {
  size_t n0;
  char *orig = (char *)tu_read_data("dir/microdescs-2022-11-19", &n0);
  /* the 100th microdescriptor's ntor-onion-key line */
  char *p = orig;
  for (int i = 0; i < 100; i++) {
    p = strstr(p + 1, "\nntor-onion-key ");
    ck_assert_ptr_nonnull(p);
  }
  size_t at_line = (size_t)(p - orig) + 1 + strlen("ntor-onion-key ");
  /* the 200th onion-key object's body */
  char *k = orig;
  for (int i = 0; i < 200; i++) {
    k = strstr(k + 1, "-----BEGIN RSA PUBLIC KEY-----\n");
    ck_assert_ptr_nonnull(k);
  }
  size_t at_obj = (size_t)(k - orig) + strlen("-----BEGIN RSA PUBLIC KEY-----\n");
  struct {
    size_t at, len;
    bool lines;   /* split into 64-char base64 lines */
    const char *want;
  } cases[] = {
      {at_line, 70000, false, "line longer than EP_CAP_DOC_LINE"},
      {at_obj, 8000, true, "object too large"},
      {at_obj, 100000, true, "object larger than EP_CAP_DOC_OBJECT"},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    size_t len = cases[c].len, nins = len + (cases[c].lines ? len / 64 : 0);
    char *ins = malloc(nins);
    ck_assert_ptr_nonnull(ins);
    for (size_t i = 0, j = 0; i < len; i++) {
      ins[j++] = 'A';
      if (cases[c].lines && i % 64 == 63) {
        ins[j++] = '\n';
      }
    }
    size_t n = n0;
    char *t = splice(orig, &n, cases[c].at, ins, nins);
    ep_err_t err = {0};
    ck_assert_ptr_null(ep_microdescs_parse(t, n, 0, &err));
    ck_assert_msg(strstr(err.msg, cases[c].want) != NULL, "strict %zu: %s", c, err.msg);
    ep_microdescs_t *l = ep_microdescs_parse(t, n, EP_MD_SKIP_INVALID, &err);
    ck_assert_msg(l != NULL, "case %zu: %s", c, err.msg);
    ck_assert_uint_eq(ep_microdescs_count(l), 1787);
    ck_assert_uint_eq(ep_microdescs_n_invalid(l), 1);
    ck_assert_msg(strstr(ep_microdescs_first_error(l), cases[c].want) != NULL, "%zu: %s", c,
                  ep_microdescs_first_error(l));
    ep_microdescs_free(l);
    free(t);
    free(ins);
  }
  free(orig);
}
END_TEST

/* A CollecTor microdescriptor file: "@type microdescriptor 1.0" first. */
START_TEST(collector_type_annotation) {
  size_t n;
  char *t = (char *)tu_read_data("dir/microdescs-2022-11-19", &n);
  const char *ann = "@type microdescriptor 1.0\n";
  size_t m = n;
  char *u = splice(t, &m, 0, ann, strlen(ann));
  ep_err_t err = {0};
  ep_microdescs_t *l = ep_microdescs_parse(u, m, 0, &err);
  ck_assert_msg(l != NULL, "%s", err.msg);
  ck_assert_uint_eq(ep_microdescs_count(l), 1788);
  ep_microdescs_free(l);
  free(u);
  free(t);
}
END_TEST

static Suite *dir_microdesc_suite(void) {
  Suite *s = suite_create("dir_microdesc");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, real_2022_digests_match);
  tcase_add_test(tc, single_pass_split_same_as_two_passes);
  tcase_add_test(tc, testnet_digests_match);
  tcase_add_test(tc, without_onion_key);
  tcase_add_test(tc, family_ids_line);
  tcase_add_test(tc, bad_microdescs);
  tcase_add_test(tc, oversized_onion_key);
  tcase_add_test(tc, skip_invalid_keeps_the_rest);
  tcase_add_test(tc, crlf_counts_each_microdescriptor_once);
  tcase_add_test(tc, oversize_costs_only_itself);
  tcase_add_test(tc, collector_type_annotation);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_suite(dir_microdesc_suite()); }
