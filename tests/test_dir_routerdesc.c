/* exitprobe — unit tests of src/dir/routerdesc: server descriptors, their
 * signatures (RSA and Ed25519) and full exit policies. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dir/routerdesc.h"
#include "lib/encode.h"
#include "testutil.h"

static ep_routerdescs_t *parse_file(const char *rel) {
  size_t n;
  uint8_t *t = tu_read_data(rel, &n);
  ep_err_t err = {0};
  ep_routerdescs_t *l = ep_routerdescs_parse((const char *)t, n, &err);
  ck_assert_msg(l != NULL, "%s: %s", rel, err.msg);
  free(t);
  return l;
}

static ep_ipaddr_t addr(const char *s) {
  ep_ipaddr_t a;
  ck_assert_int_eq(ep_dir_addr_parse(s, strlen(s), &a), 0);
  return a;
}

START_TEST(all_real_descriptors_parse_and_verify) {
  const char *files[] = {"dir/collector-relay-2016-10-02-16-05-00-server-descriptors",
                         "dir/stem-server_descriptor_with_ed25519", "dir/arti-live-authority--desc--Akka",
                         "dir/arti-live-authority--desc--moria1", "dir/arti-routerdesc1.txt",
                         "dir/testnet-server-all"};
  const size_t counts[] = {10, 1, 1, 1, 1, 15};
  size_t with_ed = 0;
  for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
    ep_routerdescs_t *l = parse_file(files[f]);
    ck_assert_uint_eq(ep_routerdescs_count(l), counts[f]);
    for (size_t i = 0; i < ep_routerdescs_count(l); i++) {
      const ep_routerdesc_t *d = ep_routerdescs_get(l, i);
      ep_err_t err = {0};
      ck_assert_msg(ep_routerdesc_verify(d, 0, &err) == EP_OK, "%s #%zu: %s", files[f], i, err.msg);
      ck_assert(d->has_fingerprint);
      ck_assert_mem_eq(d->fingerprint, d->identity_digest, 20);
      ck_assert_ptr_eq(ep_routerdescs_find(l, d->identity_digest), d);
      with_ed += d->ed_cert != NULL;
    }
    ep_routerdescs_free(l);
  }
  ck_assert_uint_ge(with_ed, 20);
}
END_TEST

START_TEST(exit_2016_policy_answers) {
  ep_routerdescs_t *l = parse_file("dir/collector-relay-2016-10-02-16-05-00-server-descriptors");
  const ep_routerdesc_t *d = NULL;
  size_t exits = 0;
  for (size_t i = 0; i < ep_routerdescs_count(l); i++) {
    const ep_routerdesc_t *x = ep_routerdescs_get(l, i);
    if (ep_routerdesc_policy_eval(x, NULL, 4, 443).verdict != EP_POLICY_REJECT) {
      exits++;
      d = x;
    }
  }
  ck_assert_uint_eq(exits, 1);
  ck_assert_str_eq(d->nickname, "Unnamed");
  ck_assert_uint_eq(d->ipv4, 0x17ef048fu); /* 23.239.4.143 */
  ck_assert(d->hibernating);
  ck_assert_uint_eq(ep_policy_count(d->policy), 14);
  ck_assert_int_eq(strncmp(d->contact, "SA <marrie12 of the gmail kind>", d->contact_len), 0);
  ck_assert_int_eq(strncmp(d->platform, "Tor 0.2.8.7 on Linux", d->platform_len), 0);

  ep_ipaddr_t ext = addr("93.184.216.34"), priv = addr("192.168.1.1"), self = addr("23.239.4.143");
  const uint16_t accepted[] = {80, 443, 110, 143, 465, 587};
  for (size_t i = 0; i < 6; i++) {
    ep_policy_answer_t a = ep_routerdesc_policy_eval(d, &ext, 4, accepted[i]);
    ck_assert_int_eq(a.verdict, EP_POLICY_ACCEPT);
    ck_assert_int_eq(a.basis, EP_POLICY_BASIS_FULL);
    a = ep_routerdesc_policy_eval(d, NULL, 4, accepted[i]);
    ck_assert_int_eq(a.verdict, EP_POLICY_ACCEPT);
    ck_assert(a.some_rejected); /* private networks and itself */
    ck_assert_int_eq(ep_routerdesc_policy_eval(d, &priv, 4, accepted[i]).verdict, EP_POLICY_REJECT);
    ck_assert_int_eq(ep_routerdesc_policy_eval(d, &self, 4, accepted[i]).verdict, EP_POLICY_REJECT);
  }
  const uint16_t rejected[] = {25, 22, 8080, 1, 65535, 0};
  for (size_t i = 0; i < 6; i++) {
    ck_assert_int_eq(ep_routerdesc_policy_eval(d, &ext, 4, rejected[i]).verdict, EP_POLICY_REJECT);
    ck_assert_int_eq(ep_routerdesc_policy_eval(d, NULL, 4, rejected[i]).verdict, EP_POLICY_REJECT);
  }
  /* IPv6: no ipv6-policy line means reject all, from the summary */
  ep_policy_answer_t a = ep_routerdesc_policy_eval(d, NULL, 6, 80);
  ck_assert_int_eq(a.verdict, EP_POLICY_REJECT);
  ck_assert_int_eq(a.basis, EP_POLICY_BASIS_SUMMARY);
  /* the summary tor would put in the consensus */
  ep_port_range_t r[16];
  bool accept;
  int n = ep_policy_summarize(d->policy, 4, &accept, r, 16);
  ep_policy_summary_t s = {accept, (uint16_t)n, r};
  char buf[128];
  ep_policy_summary_format(&s, buf, sizeof buf);
  ck_assert_str_eq(buf, "accept 80,110,143,443,465,587");
  ep_routerdescs_free(l);
}
END_TEST

START_TEST(destiny_2015) {
  ep_routerdescs_t *l = parse_file("dir/stem-server_descriptor_with_ed25519");
  const ep_routerdesc_t *d = ep_routerdescs_get(l, 0);
  ck_assert_str_eq(d->nickname, "destiny");
  ck_assert(d->has_ipv6);
  ck_assert_uint_eq(d->ipv6_or_port, 9003);
  ck_assert(d->has_ed25519);
  ck_assert(d->has_ntor);
  ep_ipaddr_t ext = addr("93.184.216.34"), blocked = addr("217.69.139.215");
  ck_assert_int_eq(ep_routerdesc_policy_eval(d, &ext, 4, 25).verdict, EP_POLICY_REJECT);
  ck_assert_int_eq(ep_routerdesc_policy_eval(d, &ext, 4, 80).verdict, EP_POLICY_ACCEPT);
  ck_assert_int_eq(ep_routerdesc_policy_eval(d, &blocked, 4, 80).verdict, EP_POLICY_REJECT);
  ck_assert_int_eq(ep_routerdesc_policy_eval(d, NULL, 4, 10000).verdict, EP_POLICY_REJECT);
  ep_policy_answer_t a = ep_routerdesc_policy_eval(d, NULL, 6, 443);
  ck_assert_int_eq(a.verdict, EP_POLICY_ACCEPT);
  ck_assert_int_eq(a.basis, EP_POLICY_BASIS_SUMMARY);
  ck_assert_int_eq(ep_routerdesc_policy_eval(d, NULL, 6, 587).verdict, EP_POLICY_REJECT);
  ep_port_range_t r[16];
  bool accept;
  int n = ep_policy_summarize(d->policy, 4, &accept, r, 16);
  ep_policy_summary_t s = {accept, (uint16_t)n, r};
  char buf[128];
  ep_policy_summary_format(&s, buf, sizeof buf);
  ck_assert_str_eq(buf, "reject 25,465,587,10000,14464");
  ep_routerdescs_free(l);
}
END_TEST

START_TEST(testnet_exits) {
  ep_routerdescs_t *l = parse_file("dir/testnet-server-all");
  size_t p25 = 0, p80 = 0;
  for (size_t i = 0; i < ep_routerdescs_count(l); i++) {
    const ep_routerdesc_t *d = ep_routerdescs_get(l, i);
    p25 += ep_routerdesc_policy_eval(d, NULL, 4, 25).verdict == EP_POLICY_ACCEPT;
    p80 += ep_routerdesc_policy_eval(d, NULL, 4, 80).verdict == EP_POLICY_ACCEPT;
  }
  ck_assert_uint_eq(p25, 10);
  ck_assert_uint_eq(p80, 9); /* only25 */
  ep_routerdescs_free(l);
}
END_TEST

START_TEST(tampered_descriptors_fail) {
  size_t n;
  char *t = (char *)tu_read_data("dir/testnet-server-all", &n);
  ep_err_t err = {0};
  /* 1. the policy changed after signing: both signatures fail, RSA first */
  char *p = strstr(t, "accept *:25\n");
  ck_assert_ptr_nonnull(p);
  p[10] = '6'; /* accept *:26 */
  ep_routerdescs_t *l = ep_routerdescs_parse(t, n, &err);
  ck_assert_ptr_nonnull(l);
  ck_assert_int_eq(ep_routerdesc_verify(ep_routerdescs_get(l, 0), 0, &err), EP_ERR_VERIFY);
  ck_assert_str_eq(err.msg, "server descriptor line 1 (exit3): router-signature does not verify");
  ep_routerdescs_free(l);
  p[10] = '5';
  /* 2. the RSA signature covers router-sig-ed25519 too */
  p = strstr(t, "router-sig-ed25519 ");
  p += strlen("router-sig-ed25519 ") + 3;
  char was = *p;
  *p = *p == 'A' ? 'B' : 'A';
  l = ep_routerdescs_parse(t, n, &err);
  ck_assert_ptr_nonnull(l);
  ck_assert_int_eq(ep_routerdesc_verify(ep_routerdescs_get(l, 0), 0, &err), EP_ERR_VERIFY);
  ck_assert_ptr_nonnull(strstr(err.msg, "router-signature does not verify"));
  ep_routerdescs_free(l);
  *p = was;
  /* 3. a bad Ed25519 signature alone (in a copy of the parsed descriptor) */
  l = ep_routerdescs_parse(t, n, &err);
  ck_assert_ptr_nonnull(l);
  ep_routerdesc_t copy = *ep_routerdescs_get(l, 0);
  copy.ed_sig[5] ^= 0x20;
  ck_assert_int_eq(ep_routerdesc_verify(&copy, 0, &err), EP_ERR_VERIFY);
  ck_assert_str_eq(err.msg, "server descriptor line 1 (exit3): router-sig-ed25519 does not verify");
  copy = *ep_routerdescs_get(l, 0);
  copy.ed25519_master[0] ^= 1;
  ck_assert_int_eq(ep_routerdesc_verify(&copy, 0, &err), EP_ERR_VERIFY);
  ck_assert_ptr_nonnull(strstr(err.msg, "identity-ed25519: ed25519 certificate: signature does not verify"));
  /* the others still verify */
  ck_assert_int_eq(ep_routerdesc_verify(ep_routerdescs_get(l, 1), 0, &err), EP_OK);
  /* the ed25519 certificate expired long ago by 2100 */
  ck_assert_int_eq(ep_routerdesc_verify(ep_routerdescs_get(l, 1), 4102444800, &err), EP_ERR_EXPIRED);
  ep_routerdescs_free(l);
  free(t);
}
END_TEST

START_TEST(malformed_descriptors) {
  const char *bad[][2] = {
    {"router a 1.2.3.4 9001 0 0\n", "server descriptor line 1: the descriptor has no 'bandwidth' item"},
    {"router a 1.2.3.4 9001 0\n", "server descriptor line 1: 'router' wants at least 5 arguments, has 4"},
    {"router a-b 1.2.3.4 9001 0 0\n", "server descriptor line 1: bad nickname"},
    {"router a 1.2.3.400 9001 0 0\n", "server descriptor line 1: bad address or port in 'router'"},
    {"platform x\n", "server descriptor line 1: 'platform' outside a descriptor"},
    {"router a 1.2.3.4 9001 0 0\nreject 1.2.3.4/40:*\n", "server descriptor line 2: exit policy: bad mask"},
    {"router a 1.2.3.4 9001 0 0\naccept [::1]:80\n", "server descriptor line 2: address family does not fit 'accept'"},
    {"router a 1.2.3.4 9001 0 0\nrouter b 1.2.3.4 9001 0 0\n", "server descriptor line 2: 'router' before the previous"},
    {"router a 1.2.3.4 9001 0 0\nipv6-policy accept\n", "server descriptor line 2: 'ipv6-policy' wants at least 2 arguments"},
    {"router a 1.2.3.4 9001 0 0\nfingerprint 1234 5678\n", "server descriptor line 2: bad fingerprint"},
    {"router a 1.2.3.4 9001 0 0\nidentity-ed25519\n-----BEGIN ED25519 CERT-----\nAQQ=\n-----END ED25519 CERT-----\n",
     "server descriptor line 2: ed25519 certificate: truncated header"},
    {"@type server-descriptor 1.0\n", "server descriptor: no descriptors"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ep_err_t err = {0};
    ep_routerdescs_t *l = ep_routerdescs_parse(bad[i][0], strlen(bad[i][0]), &err);
    ck_assert_msg(l == NULL, "accepted #%zu", i);
    ck_assert_msg(strstr(err.msg, bad[i][1]) == err.msg, "#%zu: got '%s', want '%s'", i, err.msg, bad[i][1]);
  }
  /* truncated at every byte of one descriptor: never a crash or a leak */
  size_t n;
  char *t = (char *)tu_read_data("dir/stem-server_descriptor_with_ed25519", &n);
  for (size_t cut = 0; cut + 1 < n; cut++) {
    ep_err_t err = {0};
    ep_routerdescs_t *l = ep_routerdescs_parse(t, cut, &err);
    ck_assert_msg(l == NULL, "parsed when cut at %zu", cut);
    ck_assert_msg(strncmp(err.msg, "server descriptor", 17) == 0, "%s", err.msg);
  }
  free(t);
}
END_TEST

/* The n-th "router " line of t (0-based), or NULL. */
static char *nth_router(char *t, int k) {
  char *p = t;
  for (int i = 0; p != NULL; i++) {
    if (i == k) {
      return p;
    }
    p = strstr(p + 1, "\nrouter ");
    if (p != NULL) {
      p++;
    }
  }
  return NULL;
}

static void check_skipped(const char *t, size_t n, size_t want_n, const char *want_err) {
  ep_err_t err = {0};
  /* Strict parsing refuses the whole document... */
  ck_assert_ptr_null(ep_routerdescs_parse(t, n, &err));
  ck_assert_msg(strstr(err.msg, want_err) != NULL, "strict: got '%s', want '%s'", err.msg, want_err);
  /* ...skipping keeps every other descriptor, and each still verifies. */
  ep_routerdescs_t *l = ep_routerdescs_parse_flags(t, n, EP_RD_SKIP_INVALID, &err);
  ck_assert_msg(l != NULL, "%s", err.msg);
  ck_assert_uint_eq(ep_routerdescs_count(l), want_n);
  ck_assert_uint_eq(ep_routerdescs_n_invalid(l), 1);
  ck_assert_msg(strstr(ep_routerdescs_first_error(l), want_err) != NULL, "skip: got '%s', want '%s'",
                ep_routerdescs_first_error(l), want_err);
  for (size_t i = 0; i < ep_routerdescs_count(l); i++) {
    ck_assert_msg(ep_routerdesc_verify(ep_routerdescs_get(l, i), 0, &err) == EP_OK, "#%zu: %s", i,
                  err.msg);
  }
  ep_routerdescs_free(l);
}

START_TEST(one_bad_descriptor_costs_only_itself) {
  size_t n;
  char *orig = (char *)tu_read_data("dir/testnet-server-all", &n);
  char *t = malloc(n + 1);
  ck_assert_ptr_nonnull(t);
  /* 1. an item of the 4th descriptor misspelt: it has no bandwidth */
  memcpy(t, orig, n);
  t[n] = '\0';
  char *b = strstr(nth_router(t, 3), "\nbandwidth ");
  ck_assert_ptr_nonnull(b);
  memcpy(b + 1, "bandwidXh", 9);
  check_skipped(t, n, 14, "the descriptor has no 'bandwidth' item");
  ep_err_t err = {0};
  ep_routerdescs_t *l;
  /* 2. the router line of the 7th broken (a bad address) */
  memcpy(t, orig, n);
  char *r = nth_router(t, 6);
  char *sp = strchr(r + 7, ' ');
  memcpy(sp + 1, "999", 3);
  check_skipped(t, n, 14, "bad address or port in 'router'");
  /* 3. the 2nd descriptor's signature object never ends: it swallows lines
   * up to the next router line only */
  memcpy(t, orig, n);
  char *end = strstr(nth_router(t, 1), "-----END SIGNATURE-----");
  ck_assert_ptr_nonnull(end);
  memcpy(end, "-----END SIGNATURX-----", 23);
  check_skipped(t, n, 14, "server descriptor line");
  /* 4. the last descriptor cut short */
  memcpy(t, orig, n);
  check_skipped(t, n - 40, 14, "truncated");
  /* 5. every descriptor broken: no list */
  memcpy(t, orig, n);
  for (int k = 0; k < 15; k++) {
    char *x = nth_router(t, k);
    ck_assert_ptr_nonnull(x);
    x[7] = '-'; /* nickname "-..." */
  }
  l = ep_routerdescs_parse_flags(t, n, EP_RD_SKIP_INVALID, &err);
  ck_assert_ptr_null(l);
  ck_assert_msg(strstr(err.msg, "no valid descriptor (15 malformed; first: server descriptor line 1: bad nickname") != NULL,
                "%s", err.msg);
  /* 6. cut at every line start: the complete descriptors before the cut
   * survive, never a crash or a leak */
  memcpy(t, orig, n);
  size_t complete = 0;
  for (size_t cut = 1; cut <= n; cut++) {
    if (t[cut - 1] != '\n') {
      continue;
    }
    if (cut >= 24 && memcmp(t + cut - 24, "-----END SIGNATURE-----\n", 24) == 0) {
      complete++;
    }
    l = ep_routerdescs_parse_flags(t, cut, EP_RD_SKIP_INVALID, &err);
    if (complete == 0) {
      ck_assert_ptr_null(l);
      continue;
    }
    ck_assert_msg(l != NULL, "cut at %zu: %s", cut, err.msg);
    ck_assert_uint_eq(ep_routerdescs_count(l), complete);
    ep_routerdescs_free(l);
  }
  ck_assert_uint_eq(complete, 15);
  free(t);
  free(orig);
}
END_TEST

/* ../shared/findings: an over-size line (over EP_CAP_DOC_LINE) or object
 * (over EP_CAP_DOC_OBJECT) in one descriptor costs only that descriptor. */
START_TEST(oversize_costs_only_itself) {
  size_t n0;
  char *orig = (char *)tu_read_data("dir/testnet-server-all", &n0);
  const char *anchor[2] = {"\nplatform ", "-----BEGIN SIGNATURE-----\n"};
  const char *want[2] = {"line longer than EP_CAP_DOC_LINE", "object larger than EP_CAP_DOC_OBJECT"};
  for (int c = 0; c < 2; c++) {
    char *z = malloc(n0 + 1);
    ck_assert_ptr_nonnull(z);
    memcpy(z, orig, n0);
    z[n0] = '\0';
    char *a = strstr(nth_router(z, 4), anchor[c]);
    ck_assert_ptr_nonnull(a);
    size_t at = (size_t)(a - z) + strlen(anchor[c]);
    size_t len = c == 0 ? 70000 : 100000, nins = len + (c == 0 ? 0 : len / 64);
    char *t = malloc(n0 + nins + 1);
    ck_assert_ptr_nonnull(t);
    memcpy(t, z, at);
    size_t j = at;
    for (size_t i = 0; i < len; i++) {
      t[j++] = c == 0 ? 'x' : 'A';
      if (c == 1 && i % 64 == 63) {
        t[j++] = '\n';
      }
    }
    memcpy(t + j, z + at, n0 - at);
    t[n0 + nins] = '\0';
    check_skipped(t, n0 + nins, 14, want[c]);
    free(t);
    free(z);
  }
  free(orig);
}
END_TEST

START_TEST(ed25519_certificates) {
  uint8_t seed[32] = {1, 2, 3}, pk[32], sk[64], cert[200];
  ep_ed25519_seed_keypair(pk, sk, seed);
  /* version 1, type 4, expires in hour 500000, key type 1, key, 1 extension (4: signing key) */
  size_t n = 0;
  cert[n++] = 1;
  cert[n++] = 4;
  cert[n++] = 0x00; cert[n++] = 0x07; cert[n++] = 0xa1; cert[n++] = 0x20;
  cert[n++] = 1;
  memset(cert + n, 0x55, 32);
  n += 32;
  cert[n++] = 1;
  cert[n++] = 0; cert[n++] = 32; cert[n++] = 4; cert[n++] = 0;
  memcpy(cert + n, pk, 32);
  n += 32;
  ep_ed25519_sign(cert + n, cert, n, sk);
  n += 64;
  ep_dir_edcert_t c;
  ep_err_t err = {0};
  ck_assert_int_eq(ep_dir_edcert_parse(cert, n, &c, &err), 0);
  ck_assert_uint_eq(c.type, 4);
  ck_assert_uint_eq(c.expiration_hours, 500000);
  ck_assert(c.has_signing_key);
  ck_assert_int_eq(ep_dir_edcert_verify(&c, NULL, 0, &err), EP_OK);
  ck_assert_int_eq(ep_dir_edcert_verify(&c, pk, 500000 * 3600 - 1, &err), EP_OK);
  ck_assert_int_eq(ep_dir_edcert_verify(&c, pk, 500000 * 3600 + 1, &err), EP_ERR_EXPIRED);
  uint8_t other[32] = {9};
  ck_assert_int_eq(ep_dir_edcert_verify(&c, other, 0, &err), EP_ERR_VERIFY);
  /* every truncation fails cleanly; trailing bytes too */
  for (size_t cut = 0; cut < n; cut++) {
    ck_assert_int_lt(ep_dir_edcert_parse(cert, cut, &c, &err), 0);
  }
  ck_assert_int_lt(ep_dir_edcert_parse(cert, n + 1, &c, &err), 0);
  /* an unknown extension that affects validation */
  cert[42] = 7;
  cert[43] = 1;
  ck_assert_int_eq(ep_dir_edcert_parse(cert, n, &c, &err), EP_ERR_UNSUPPORTED);
  cert[0] = 2;
  ck_assert_int_eq(ep_dir_edcert_parse(cert, n, &c, &err), EP_ERR_UNSUPPORTED);
}
END_TEST

static Suite *dir_routerdesc_suite(void) {
  Suite *s = suite_create("dir_routerdesc");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, all_real_descriptors_parse_and_verify);
  tcase_add_test(tc, exit_2016_policy_answers);
  tcase_add_test(tc, destiny_2015);
  tcase_add_test(tc, testnet_exits);
  tcase_add_test(tc, tampered_descriptors_fail);
  tcase_add_test(tc, malformed_descriptors);
  tcase_add_test(tc, one_bad_descriptor_costs_only_itself);
  tcase_add_test(tc, ed25519_certificates);
  tcase_add_test(tc, oversize_costs_only_itself);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_suite(dir_routerdesc_suite()); }
