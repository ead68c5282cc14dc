/* exitprobe — unit tests of the DNS health of exits (src/probe/engine/dnscheck.c):
 * the round's names, the tally across exits, and each exit's class — a
 * silent resolver is broken where others resolve, a lying one wrong, the
 * others ok; failures nobody else resolved are undecided; a flood of
 * addresses cannot make a truthful exit wrong. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "probe/engine/dnscheck.h"
#include "testutil.h"

static ep_dns_answer_t answer_v4(size_t idx, uint32_t addr, uint32_t ttl) {
  ep_dns_answer_t a;
  memset(&a, 0, sizeof a);
  a.name_idx = idx;
  a.status = EP_DNS_ANSWERED;
  a.ms = 5;
  a.n_addrs = 1;
  ep_ipaddr_set_ipv4(&a.addrs[0], addr);
  a.ttls[0] = ttl;
  return a;
}

static ep_dns_answer_t failed(size_t idx, ep_dns_status_t st) {
  ep_dns_answer_t a;
  memset(&a, 0, sizeof a);
  a.name_idx = idx;
  a.status = st;
  a.ms = 2018;
  return a;
}

static ep_dns_exit_t one(ep_dns_answer_t a) {
  ep_dns_exit_t e;
  memset(&e, 0, sizeof e);
  e.n = 1;
  e.a[0] = a;
  return e;
}

START_TEST(names_of_the_round) {
  ep_dns_round_t *r = malloc(sizeof *r);
  ck_assert_ptr_nonnull(r);
  ep_err_t e = {0};
  const char *hosts[] = {"exitprobe-testnet.test", "127.0.0.1", "[::1]", "EXITPROBE-testnet.test",
                         "dual.exitprobe-testnet.test", NULL, "::1"};
  ck_assert_int_eq(ep_dns_round_init(r, hosts, 7, "wild.example", &e), EP_OK);
  ck_assert_uint_eq(r->n_names, 3);
  ck_assert_str_eq(r->names[0].name, "exitprobe-testnet.test");
  ck_assert_str_eq(r->names[1].name, "dual.exitprobe-testnet.test");
  ck_assert_str_eq(r->names[2].name, "*.wild.example");
  ck_assert(r->has_unique);
  /* No names at all: nothing to ask. */
  ck_assert_int_eq(ep_dns_round_init(r, hosts + 1, 2, NULL, &e), EP_OK);
  ck_assert_uint_eq(r->n_names, 0);
  /* Domains that cannot hold a label. */
  ck_assert_int_eq(ep_dns_round_init(r, hosts, 1, "", &e), EP_ERR_MALFORMED);
  ck_assert_int_eq(ep_dns_round_init(r, hosts, 1, "10.0.0.1", &e), EP_ERR_MALFORMED);
  char big[240];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  ck_assert_int_eq(ep_dns_round_init(r, hosts, 1, big, &e), EP_ERR_MALFORMED);
  char name[300];
  ck_assert_str_eq(ep_dns_unique_name(name, sizeof name, "wild.example", 3,
                                      "ABCDEF0123456789ABCDEF0123456789ABCDEF01", 0xbeef),
                   "r3-abcdef0123456789-0000beef.wild.example");
  ck_assert(!ep_dns_is_name("127.0.0.1") && !ep_dns_is_name("[2001:db8::1]"));
  ck_assert(ep_dns_is_name("a.test") && ep_dns_is_name("1.2.3.4.5"));
  free(r);
}
END_TEST

START_TEST(answers_from_resolved_bodies) {
  /* A and AAAA; then an error; then host names only. */
  const uint8_t body[] = {0x04, 4, 127, 0, 0, 1, 0, 0, 0, 60, 0x06, 16, 0, 0, 0, 0, 0, 0,
                          0,    0, 0,   0, 0, 0, 0, 0, 0, 1, 0,    0,  0, 60};
  ep_resolved_t res;
  ep_err_t e = {0};
  ck_assert_int_eq(ep_resolved_parse(body, sizeof body, &res, &e), EP_OK);
  ep_dns_answer_t a;
  memset(&a, 0, sizeof a);
  ep_dns_answer_resolved(&a, &res, 7);
  ck_assert_int_eq(a.status, EP_DNS_ANSWERED);
  ck_assert_uint_eq(a.n_addrs, 2);
  ck_assert_uint_eq(a.ttls[1], 60);
  ck_assert_int_eq(a.ms, 7);
  const uint8_t err_body[] = {0xf0, 0, 0, 0, 0, 0};
  ck_assert_int_eq(ep_resolved_parse(err_body, sizeof err_body, &res, &e), EP_OK);
  ep_dns_answer_resolved(&a, &res, 2000);
  ck_assert_int_eq(a.status, EP_DNS_ERROR_TRANSIENT);
  ck_assert_uint_eq(a.n_addrs, 0);
  const uint8_t host_body[] = {0x00, 1, 'x', 0, 0, 0, 1};
  ck_assert_int_eq(ep_resolved_parse(host_body, sizeof host_body, &res, &e), EP_OK);
  ep_dns_answer_resolved(&a, &res, 3);
  ck_assert_int_eq(a.status, EP_DNS_NO_ADDRESS);
  /* Seven addresses: four kept, three counted. */
  uint8_t many[7 * 10];
  for (int i = 0; i < 7; i++) {
    const uint8_t one_a[10] = {0x04, 4, 10, 0, 0, (uint8_t)i, 0, 0, 0, 1};
    memcpy(many + 10 * i, one_a, 10);
  }
  ck_assert_int_eq(ep_resolved_parse(many, sizeof many, &res, &e), EP_OK);
  ep_dns_answer_resolved(&a, &res, 3);
  ck_assert_uint_eq(a.n_addrs, EP_DNS_MAX_ADDRS);
  ck_assert_uint_eq(a.n_more, 3);
}
END_TEST

/* The testnet's shape: 12 exits resolve 127.0.0.1, one never answers, one
 * lies with 127.0.0.66. */
START_TEST(silent_is_broken_liar_is_wrong_others_ok) {
  ep_dns_round_t *r = malloc(sizeof *r);
  ck_assert_ptr_nonnull(r);
  ep_err_t e = {0};
  const char *hosts[] = {"exitprobe-testnet.test"};
  ck_assert_int_eq(ep_dns_round_init(r, hosts, 1, NULL, &e), EP_OK);
  char detail[EP_DNS_DETAIL];
  /* The first exit to answer has nobody to compare with: ok. */
  ep_dns_exit_t good = one(answer_v4(0, 0x7f000001u, 60));
  ep_dns_round_add(r, &good.a[0]);
  ck_assert_int_eq(ep_dns_judge(r, &good, detail, sizeof detail), EP_DNS_OK);
  ck_assert_str_eq(detail, "exitprobe-testnet.test: 127.0.0.1 ttl 60");
  /* The silent resolver before anyone else resolved the name: undecided. */
  ep_dns_round_t *alone = malloc(sizeof *alone);
  ck_assert_ptr_nonnull(alone);
  ck_assert_int_eq(ep_dns_round_init(alone, hosts, 1, NULL, &e), EP_OK);
  ep_dns_exit_t silent = one(failed(0, EP_DNS_ERROR_TRANSIENT));
  ep_dns_round_add(alone, &silent.a[0]);
  ck_assert_int_eq(ep_dns_judge(alone, &silent, detail, sizeof detail), EP_DNS_UNDECIDED);
  ck_assert_msg(strstr(detail, "through no other exit either") != NULL, "%s", detail);
  free(alone);
  for (int i = 0; i < 11; i++) {
    ep_dns_round_add(r, &good.a[0]);
  }
  ep_dns_round_add(r, &silent.a[0]);
  ck_assert_int_eq(ep_dns_judge(r, &silent, detail, sizeof detail), EP_DNS_BROKEN);
  ck_assert_str_eq(detail, "exitprobe-testnet.test: error (transient) after 2018 ms, resolved "
                           "through 12 other exits");
  ep_dns_exit_t liar = one(answer_v4(0, 0x7f000042u, 60));
  ep_dns_round_add(r, &liar.a[0]);
  ck_assert_int_eq(ep_dns_judge(r, &liar, detail, sizeof detail), EP_DNS_WRONG);
  ck_assert_str_eq(detail, "exitprobe-testnet.test: 127.0.0.66 ttl 60, never given by the 12 other "
                           "exits that resolved it (most: 127.0.0.1)");
  /* The truthful ones stay ok once the liar is counted. */
  ck_assert_int_eq(ep_dns_judge(r, &good, detail, sizeof detail), EP_DNS_OK);
  ep_ipaddr_t best;
  ck_assert(ep_dns_consensus_addr(r, 0, false, &best));
  ck_assert_uint_eq(best.bytes[3], 1);
  ck_assert(!ep_dns_consensus_addr(r, 0, true, &best));
  ck_assert(ep_dns_exit_failed(&silent, 0) && !ep_dns_exit_failed(&good, 0));
  /* Other failures: END, a deadline, no address; lost and pending count for nothing. */
  ep_dns_exit_t end = one(failed(0, EP_DNS_END));
  end.a[0].end_reason = 2;
  ck_assert_int_eq(ep_dns_judge(r, &end, detail, sizeof detail), EP_DNS_BROKEN);
  ck_assert_msg(strstr(detail, "END resolvefailed after 2018 ms") != NULL, "%s", detail);
  ep_dns_exit_t lost = one(failed(0, EP_DNS_LOST));
  ck_assert_int_eq(ep_dns_judge(r, &lost, detail, sizeof detail), EP_DNS_NOT_TRIED);
  ck_assert_str_eq(detail, "");
  ck_assert_str_eq(ep_dns_class_name(EP_DNS_UNDECIDED), "undecided");
  ck_assert_int_eq(ep_dns_class_parse("wrong"), EP_DNS_WRONG);
  ck_assert_int_eq(ep_dns_class_parse("x"), EP_DNS_CLASS_COUNT);
  free(r);
}
END_TEST

/* Two names: broken wins over wrong and ok; with fewer than two other
 * exits, or without a clear majority among them (GeoDNS), a disagreement is
 * not called wrong; a full tally does not accuse. */
START_TEST(combinations_and_caps) {
  ep_dns_round_t *r = malloc(sizeof *r);
  ck_assert_ptr_nonnull(r);
  ep_err_t e = {0};
  const char *hosts[] = {"a.test", "b.test"};
  ck_assert_int_eq(ep_dns_round_init(r, hosts, 2, NULL, &e), EP_OK);
  char detail[EP_DNS_DETAIL];
  ep_dns_exit_t x = one(answer_v4(0, 0x0a000001u, 60));
  ep_dns_round_add(r, &x.a[0]);
  ep_dns_exit_t y = one(answer_v4(0, 0x0a000002u, 60));
  ep_dns_round_add(r, &y.a[0]);
  ck_assert_int_eq(ep_dns_judge(r, &y, detail, sizeof detail), EP_DNS_OK);   /* one other: no basis */
  ep_dns_round_add(r, &x.a[0]);
  ck_assert_int_eq(ep_dns_judge(r, &y, detail, sizeof detail), EP_DNS_WRONG); /* two agree */
  /* b.test fails for this exit but resolves elsewhere: broken wins. */
  ep_dns_exit_t both;
  memset(&both, 0, sizeof both);
  both.n = 2;
  both.a[0] = y.a[0];
  both.a[1] = failed(1, EP_DNS_TIMEOUT);
  ep_dns_exit_t bgood = one(answer_v4(1, 0x0a000009u, 5));
  ep_dns_round_add(r, &bgood.a[0]);
  ep_dns_round_add(r, &both.a[1]);
  ck_assert_int_eq(ep_dns_judge(r, &both, detail, sizeof detail), EP_DNS_BROKEN);
  ck_assert_msg(strstr(detail, "a.test: 10.0.0.2 ttl 60, never given") != NULL, "%s", detail);
  ck_assert_msg(strstr(detail, "; b.test: no answer within 2018 ms, resolved through 1 other exit") != NULL,
                "%s", detail);
  /* GeoDNS: four other exits, each given its own address: no majority, so
   * one more address of its own is not a lie. */
  ep_dns_round_t *g = malloc(sizeof *g);
  ck_assert_ptr_nonnull(g);
  ck_assert_int_eq(ep_dns_round_init(g, hosts, 1, NULL, &e), EP_OK);
  for (uint32_t i = 0; i < 5; i++) {
    ep_dns_exit_t z = one(answer_v4(0, 0x0c000000u + i, 60));
    ep_dns_round_add(g, &z.a[0]);
  }
  ep_dns_exit_t geo = one(answer_v4(0, 0x0c000004u, 60));
  ck_assert_int_eq(ep_dns_judge(g, &geo, detail, sizeof detail), EP_DNS_OK);
  free(g);
  /* A full tally: an address it could not count is not held against the exit. */
  ep_dns_round_t *f = malloc(sizeof *f);
  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(ep_dns_round_init(f, hosts, 1, NULL, &e), EP_OK);
  for (uint32_t i = 0; i < EP_DNS_MAX_TALLY + 5; i++) {
    ep_dns_exit_t z = one(answer_v4(0, 0x0b000000u + i, 60));
    ep_dns_round_add(f, &z.a[0]);
    ep_dns_round_add(f, &z.a[0]);
  }
  ck_assert_uint_eq(f->names[0].n_tally, EP_DNS_MAX_TALLY);
  ep_dns_exit_t late = one(answer_v4(0, 0x0b000000u + EP_DNS_MAX_TALLY + 2, 60));
  ck_assert_int_eq(ep_dns_judge(f, &late, detail, sizeof detail), EP_DNS_OK);
  /* Hostile names are escaped in the detail; a long detail is cut with "...". */
  ep_dns_round_t *h = malloc(sizeof *h);
  ck_assert_ptr_nonnull(h);
  const char *bad[] = {"\x1b[31mred.test"};
  ck_assert_int_eq(ep_dns_round_init(h, bad, 1, NULL, &e), EP_OK);
  ep_dns_exit_t hx = one(answer_v4(0, 0x7f000001u, 1));
  for (int i = 0; i < 4; i++) {
    hx.a[0].addrs[i] = hx.a[0].addrs[0];
    hx.a[0].ttls[i] = 1;
  }
  hx.a[0].n_addrs = 4;
  ep_dns_round_add(h, &hx.a[0]);
  char small[40];
  ck_assert_int_eq(ep_dns_judge(h, &hx, detail, sizeof detail), EP_DNS_OK);
  ck_assert_msg(strstr(detail, "\\x1b[31mred.test: 127.0.0.1 ttl 1") == detail, "%s", detail);
  ep_dns_judge(h, &hx, small, sizeof small);
  ck_assert_uint_eq(strlen(small), sizeof small - 1);
  ck_assert_str_eq(small + sizeof small - 4, "...");
  free(h);
  free(f);
  free(r);
}
END_TEST

static Suite *dnscheck_suite(void) {
  Suite *s = suite_create("dnscheck");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, names_of_the_round);
  tcase_add_test(tc, answers_from_resolved_bodies);
  tcase_add_test(tc, silent_is_broken_liar_is_wrong_others_ok);
  tcase_add_test(tc, combinations_and_caps);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_suite(dnscheck_suite()); }
