/* exitprobe — unit tests of src/dir/policy: summaries, full policies, answers. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "dir/policy.h"
#include "testutil.h"

static ep_policy_summary_t *sum(const char *s) {
  ep_err_t err = {0};
  ep_policy_summary_t *p = ep_policy_summary_new(s, strlen(s), &err);
  ck_assert_msg(p != NULL, "%s: %s", s, err.msg);
  return p;
}

static ep_policy_t *pol(const char *s) {
  ep_err_t err = {0};
  ep_policy_t *p = ep_policy_parse(s, strlen(s), &err);
  ck_assert_msg(p != NULL, "%s: %s", s, err.msg);
  return p;
}

static ep_ipaddr_t addr(const char *s) {
  ep_ipaddr_t a;
  ck_assert_int_eq(ep_dir_addr_parse(s, strlen(s), &a), 0);
  return a;
}

START_TEST(summaries_parse_and_answer) {
  ep_policy_summary_t *s = sum("accept 20-23,25,443,6660-6669");
  ck_assert(s->accept);
  ck_assert_uint_eq(s->n, 4);
  ck_assert(ep_policy_summary_allows(s, 25));
  ck_assert(ep_policy_summary_allows(s, 6665));
  ck_assert(!ep_policy_summary_allows(s, 24));
  ck_assert(!ep_policy_summary_allows(s, 0));
  ep_policy_answer_t a = ep_policy_summary_eval(s, 25);
  ck_assert_int_eq(a.verdict, EP_POLICY_ACCEPT);
  ck_assert_int_eq(a.basis, EP_POLICY_BASIS_SUMMARY);
  ck_assert(!a.may_be_restricted);
  a = ep_policy_summary_eval(s, 80);
  ck_assert_int_eq(a.verdict, EP_POLICY_REJECT);
  ck_assert(a.may_be_restricted); /* "accept 1.2.3.4:80" would not show */
  char buf[80];
  ep_policy_answer_format(&a, buf, sizeof buf);
  ck_assert_str_eq(buf, "reject (summary, may-be-restricted)");
  ep_policy_summary_format(s, buf, sizeof buf);
  ck_assert_str_eq(buf, "accept 20-23,25,443,6660-6669");
  ep_policy_summary_format(s, buf, 16);
  ck_assert_str_eq(buf, "accept 20-23...");
  ep_policy_summary_free(s);

  s = sum("reject 25,465,587");
  ck_assert(!ep_policy_summary_allows(s, 25));
  ck_assert(ep_policy_summary_allows(s, 80));
  ck_assert(ep_policy_summary_allows(s, 65535));
  ep_policy_summary_free(s);

  const ep_policy_summary_t *none = ep_policy_summary_reject_all();
  ck_assert(!ep_policy_summary_allows(none, 1));
  ck_assert(!ep_policy_summary_allows(none, 65535));
  ck_assert_int_eq(ep_policy_summary_eval(NULL, 25).verdict, EP_POLICY_REJECT);
}
END_TEST

START_TEST(bad_summaries_are_refused) {
  const char *bad[] = {"", "accept", "accept ", "allow 80", "accept 80,", "accept ,80", "accept 0",
                       "accept 5-4", "accept 65536", "accept 1-65536", "accept 80-", "accept -80",
                       "accept 8a", "reject 1--2", "accept 80,,81"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ep_err_t err = {0};
    ep_policy_summary_t *s = ep_policy_summary_new(bad[i], strlen(bad[i]), &err);
    ck_assert_msg(s == NULL, "accepted '%s'", bad[i]);
    ck_assert_int_lt(err.code, 0);
    ck_assert_msg(strstr(err.msg, "policy summary") != NULL, "%s", err.msg);
  }
}
END_TEST

START_TEST(rules_parse) {
  ep_policy_rule_t r;
  ep_err_t err = {0};
  ck_assert_int_eq(ep_policy_rule_parse("*:*", 3, true, EP_POLICY_STAR_V4, &r, &err), 0);
  ck_assert_uint_eq(r.family, 4);
  ck_assert_uint_eq(r.maskbits, 0);
  ck_assert_uint_eq(r.port_lo, 1);
  ck_assert_uint_eq(r.port_hi, 65535);
  ck_assert_int_eq(ep_policy_rule_parse("*6:80-88", 8, false, EP_POLICY_STAR_BOTH, &r, &err), 0);
  ck_assert_uint_eq(r.family, 6);
  ck_assert_uint_eq(r.port_lo, 80);
  ck_assert_uint_eq(r.port_hi, 88);
  ck_assert_int_eq(ep_policy_rule_parse("10.1.2.3/8:*", 12, false, EP_POLICY_STAR_BOTH, &r, &err), 0);
  ck_assert_uint_eq(r.maskbits, 8);
  ck_assert_mem_eq(r.addr, "\x0a\x00\x00\x00", 4); /* masked */
  ck_assert_int_eq(ep_policy_rule_parse("172.16.0.0/255.240.0.0:25", 25, false, EP_POLICY_STAR_BOTH,
                                        &r, &err), 0);
  ck_assert_uint_eq(r.maskbits, 12);
  ck_assert_int_eq(ep_policy_rule_parse("[2001:db8::]/32:443", 19, true, EP_POLICY_STAR_BOTH, &r,
                                        &err), 0);
  ck_assert_uint_eq(r.family, 6);
  ck_assert_uint_eq(r.maskbits, 32);
  ck_assert_int_eq(ep_policy_rule_parse("1.2.3.4:0-10", 12, true, EP_POLICY_STAR_BOTH, &r, &err), 0);
  ck_assert_uint_eq(r.port_lo, 1); /* port 0 tolerated, never permitted */
  const char *bad[] = {"*", "1.2.3.4", "1.2.3.4:", "1.2.3.4:x", "1.2.3.4/33:*", "1.2.3.4/255.0.255.0:*",
                       "[::1:*", "[::1]/129:*", "1.2.3:80", "*:10-5", "*:0", "host.example:80"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ck_assert_msg(ep_policy_rule_parse(bad[i], strlen(bad[i]), true, EP_POLICY_STAR_BOTH, &r, &err) < 0,
                  "accepted '%s'", bad[i]);
    ck_assert_msg(strstr(err.msg, "exit policy") != NULL, "%s", err.msg);
  }
}
END_TEST

START_TEST(full_policy_answers) {
  /* The 2016 exit "Unnamed" (23.239.4.143), shortened. */
  ep_policy_t *p = pol("reject 0.0.0.0/8:*\nreject 10.0.0.0/8:*\nreject 23.239.4.143:*\n"
                       "accept *:80\naccept *:443\naccept 198.51.100.7:25\nreject *:*\n");
  ck_assert_uint_eq(ep_policy_count(p), 7);
  ep_ipaddr_t ext = addr("93.184.216.34"), priv = addr("10.9.8.7"), self = addr("23.239.4.143");
  ep_ipaddr_t mail = addr("198.51.100.7"), v6 = addr("[2001:db8::1]");
  ck_assert_int_eq(ep_policy_eval(p, &ext, 0, 80).verdict, EP_POLICY_ACCEPT);
  ck_assert_int_eq(ep_policy_eval(p, &priv, 0, 80).verdict, EP_POLICY_REJECT);
  ck_assert_int_eq(ep_policy_eval(p, &self, 0, 443).verdict, EP_POLICY_REJECT);
  ck_assert_int_eq(ep_policy_eval(p, &ext, 0, 25).verdict, EP_POLICY_REJECT);
  ck_assert_int_eq(ep_policy_eval(p, &mail, 0, 25).verdict, EP_POLICY_ACCEPT);
  ck_assert_int_eq(ep_policy_eval(p, &ext, 0, 0).verdict, EP_POLICY_REJECT);
  /* torrc "*" covers IPv6 too */
  ck_assert_int_eq(ep_policy_eval(p, &v6, 0, 80).verdict, EP_POLICY_ACCEPT);
  /* unspecified address */
  ep_policy_answer_t a = ep_policy_eval(p, NULL, 4, 80);
  ck_assert_int_eq(a.verdict, EP_POLICY_ACCEPT);
  ck_assert_int_eq(a.basis, EP_POLICY_BASIS_FULL);
  ck_assert(a.some_rejected);
  a = ep_policy_eval(p, NULL, 4, 25);
  ck_assert_int_eq(a.verdict, EP_POLICY_ACCEPT_SOME);
  char buf[80];
  ep_policy_answer_format(&a, buf, sizeof buf);
  ck_assert_str_eq(buf, "accept-some (full-policy)");
  ck_assert_int_eq(ep_policy_eval(p, NULL, 4, 22).verdict, EP_POLICY_REJECT);
  ep_policy_free(p);

  /* no matching rule: accepted */
  p = pol("reject *:25");
  ck_assert_int_eq(ep_policy_eval(p, NULL, 4, 80).verdict, EP_POLICY_ACCEPT);
  ck_assert_int_eq(ep_policy_eval(p, NULL, 4, 25).verdict, EP_POLICY_REJECT);
  ep_policy_free(p);

  /* families */
  p = pol("accept6 [2001:db8::]/32:25, reject6 *:*, accept *4:25, reject *:*");
  ck_assert_int_eq(ep_policy_eval(p, &v6, 0, 25).verdict, EP_POLICY_ACCEPT);
  ep_ipaddr_t other6 = addr("2001:db9::1");
  ck_assert_int_eq(ep_policy_eval(p, &other6, 0, 25).verdict, EP_POLICY_REJECT);
  ck_assert_int_eq(ep_policy_eval(p, &ext, 0, 25).verdict, EP_POLICY_ACCEPT);
  ck_assert_int_eq(ep_policy_eval(p, NULL, 6, 25).verdict, EP_POLICY_ACCEPT_SOME);
  ck_assert_int_eq(ep_policy_eval(p, NULL, 4, 25).verdict, EP_POLICY_ACCEPT);
  ep_policy_free(p);

  ep_err_t err = {0};
  ck_assert_ptr_null(ep_policy_parse("permit *:*", 10, &err));
  ck_assert_ptr_null(ep_policy_parse("accept6 1.2.3.4:80", 18, &err));
  ck_assert_ptr_null(ep_policy_parse("accept *:99999", 14, &err));
}
END_TEST

static void check_summary(const char *policy, int family, const char *want) {
  ep_policy_t *p = pol(policy);
  ep_port_range_t r[64];
  bool accept;
  int n = ep_policy_summarize(p, family, &accept, r, 64);
  ck_assert_int_ge(n, 1);
  ep_policy_summary_t s = {accept, (uint16_t)n, r};
  char buf[256];
  ep_policy_summary_format(&s, buf, sizeof buf);
  ck_assert_msg(strcmp(buf, want) == 0, "%s -> '%s', want '%s'", policy, buf, want);
  ep_policy_free(p);
}

START_TEST(summarize_like_tor) {
  check_summary("reject 0.0.0.0/8:*,reject 169.254.0.0/16:*,reject 127.0.0.0/8:*,"
                "reject 192.168.0.0/16:*,reject 10.0.0.0/8:*,reject 172.16.0.0/12:*,"
                "reject 23.239.4.143:*,accept *:80,accept *:443,accept *:110,accept *:143,"
                "accept *:465,accept *:587,reject *:*",
                4, "accept 80,110,143,443,465,587");
  check_summary("reject *:25,reject *:587,reject *:465,reject 176.67.160.187:*,accept *:*", 4,
                "reject 25,465,587");
  check_summary("accept *:*", 4, "accept 1-65535");
  check_summary("reject *:*", 4, "reject 1-65535");
  /* an address-restricted accept does not make it into the summary */
  check_summary("accept 1.2.3.4:25,reject *:*", 4, "reject 1-65535");
  /* rejecting a /6 before the accept hides the port; a /8 of public space does not */
  check_summary("reject 4.0.0.0/6:80,accept *:80,reject *:*", 4, "reject 1-65535");
  check_summary("reject 4.0.0.0/8:80,accept *:80,reject *:*", 4, "accept 80");
  check_summary("accept *6:22,reject *:*", 6, "accept 22");
  check_summary("accept *6:22,reject *:*", 4, "reject 1-65535");
}
END_TEST

START_TEST(addresses) {
  ep_ipaddr_t a;
  char buf[64];
  ck_assert_int_eq(ep_dir_addr_parse("[2001:db8::1]", 13, &a), 0);
  ck_assert_uint_eq(a.family, 6);
  ep_ipaddr_format(buf, sizeof buf, &a);
  ck_assert_str_eq(buf, "2001:db8::1");
  ck_assert_int_eq(ep_dir_addr_parse("192.0.2.1", 9, &a), 0);
  ep_ipaddr_format(buf, sizeof buf, &a);
  ck_assert_str_eq(buf, "192.0.2.1");
  ck_assert_int_eq(ep_dir_addr_parse("192.0.2", 7, &a), -1);
  ck_assert_int_eq(ep_dir_addr_parse("", 0, &a), -1);
  ck_assert_str_eq(ep_policy_verdict_name(EP_POLICY_ACCEPT_SOME), "accept-some");
  ck_assert_str_eq(ep_policy_basis_name(EP_POLICY_BASIS_FULL), "full-policy");
}
END_TEST

static Suite *dir_policy_suite(void) {
  Suite *s = suite_create("dir_policy");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, summaries_parse_and_answer);
  tcase_add_test(tc, bad_summaries_are_refused);
  tcase_add_test(tc, rules_parse);
  tcase_add_test(tc, full_policy_answers);
  tcase_add_test(tc, summarize_like_tor);
  tcase_add_test(tc, addresses);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_suite(dir_policy_suite()); }
