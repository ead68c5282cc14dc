/* exitprobe — the records of a round (records.c): the identity tally across
 * exits that finds interception (#11), the records it holds until a
 * majority forms or the round ends, and its caps. A synthetic round: each
 * record is judged as the scan does (ep_probe_judge, then ep_records_put). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "lib/caps.h"
#include "probe/engine/records.h"
#include "probe/engine/verdict.h"
#include "testutil.h"

typedef struct round {
  ep_scan_summary_t sum;
  ep_records_t rs;
  unsigned next_exit;
} round_t;

static void round_init(round_t *rd) {
  memset(rd, 0, sizeof *rd);
  rd->rs.sum = &rd->sum;
}

static void round_end(round_t *rd) {
  ep_records_flush(&rd->rs);
  ep_scan_summary_free(&rd->sum);
}

/* One exit's record for port index 0, whose SMTP greeting named `host`. */
static void put_named(round_t *rd, const char *host) {
  ep_svc_result_t v = {.status = EP_SVC_ANSWERED, .code = 220, .id_kind = EP_SVC_ID_HOSTNAME};
  snprintf(v.answer, sizeof v.answer, "220 %s ESMTP", host);
  snprintf(v.identity, sizeof v.identity, "%s", host);
  ep_probe_in_t in = {.main = {.has_stream = true, .begun = true, .done = true,
                               .o = {.connected = true, .connected_ms = 50,
                                     .service = {.proto = EP_SVC_SMTP}, .svc = &v}},
                      .target_ok_elsewhere = rd->rs.reachable[0]};
  ep_result_t r;
  ep_result_init(&r);
  snprintf(r.exit.fingerprint, sizeof r.exit.fingerprint, "%040u", rd->next_exit++);
  r.port = 25;
  bool waits = ep_probe_judge(&in, &r);
  ep_records_put(&rd->rs, &in, &r, 0, waits);
  memset(&v, 0x55, sizeof v); /* a held record must have copied what it needs */
}

START_TEST(three_agree_one_differs_is_intercepted) {
  round_t rd;
  round_init(&rd);
  put_named(&rd, "mx.example");
  put_named(&rd, "proxy.evil");
  put_named(&rd, "mx.example");
  ck_assert_uint_eq(rd.sum.probes, 0); /* no majority established yet: all held */
  put_named(&rd, "mx.example");         /* 3 agree: established, held ones released */
  ck_assert_uint_eq(rd.sum.probes, 4);
  ck_assert_uint_eq(rd.sum.classes[EP_CLASS_INTERCEPTED], 1);
  ck_assert_uint_eq(rd.sum.verdicts[EP_VERDICT_VIOLATES], 1);
  ck_assert_uint_eq(rd.sum.verdicts[EP_VERDICT_HONOURS], 3);
  ck_assert_uint_eq(rd.sum.n_violators, 1);
  ck_assert_str_eq(rd.sum.violators[0].exit.fingerprint, "0000000000000000000000000000000000000001");
  ck_assert(strstr(rd.sum.violators[0].why, "3 of 4 exits") != NULL);
  put_named(&rd, "mx.example");  /* matches the established majority: written at once */
  ck_assert_uint_eq(rd.sum.probes, 5);
  put_named(&rd, "other.evil");  /* differs from it: intercepted at once */
  ck_assert_uint_eq(rd.sum.probes, 6);
  ck_assert_uint_eq(rd.sum.classes[EP_CLASS_INTERCEPTED], 2);
  ck_assert_uint_eq(rd.rs.n_held, 0);
  round_end(&rd);
}
END_TEST

START_TEST(two_against_two_is_inconclusive) {
  round_t rd;
  round_init(&rd);
  put_named(&rd, "a.example");
  put_named(&rd, "b.example");
  put_named(&rd, "a.example");
  put_named(&rd, "b.example");
  ck_assert_uint_eq(rd.sum.probes, 0);
  ep_records_flush(&rd.rs);
  ck_assert_uint_eq(rd.sum.probes, 4);
  ck_assert_uint_eq(rd.sum.verdicts[EP_VERDICT_INCONCLUSIVE], 4);
  ck_assert_uint_eq(rd.sum.classes[EP_CLASS_INTERCEPTED], 0);
  round_end(&rd);
}
END_TEST

START_TEST(few_that_agree_honour_at_round_end) {
  round_t rd;
  round_init(&rd);
  put_named(&rd, "mx.example");
  put_named(&rd, "mx.example");
  ck_assert_uint_eq(rd.sum.probes, 0);
  ep_records_flush(&rd.rs);
  ck_assert_uint_eq(rd.sum.verdicts[EP_VERDICT_HONOURS], 2);
  round_end(&rd);
}
END_TEST

START_TEST(identity_table_is_capped) {
  round_t rd;
  round_init(&rd);
  char host[32];
  for (unsigned i = 0; i < EP_CAP_IDS_PER_PORT + 10; i++) {
    snprintf(host, sizeof host, "h%u.example", i);
    put_named(&rd, host);
  }
  ck_assert_uint_eq(rd.rs.ids[0].n, EP_CAP_IDS_PER_PORT);
  ck_assert_uint_eq(rd.rs.ids[0].with_id, EP_CAP_IDS_PER_PORT + 10);
  /* Past the cap, the identity still counts: three agreeing exits outvote it. */
  for (int i = 0; i < 200; i++) {
    put_named(&rd, "mx.example");
  }
  ck_assert_uint_eq(rd.rs.ids[0].n, EP_CAP_IDS_PER_PORT);
  ep_records_flush(&rd.rs);
  ck_assert_uint_eq(rd.sum.probes, EP_CAP_IDS_PER_PORT + 10 + 200);
  ck_assert_uint_eq(rd.sum.classes[EP_CLASS_INTERCEPTED], EP_CAP_IDS_PER_PORT + 10);
  ck_assert_ptr_null(rd.rs.ids[0].v); /* the flush frees the tally */
  round_end(&rd);
}
END_TEST

static Suite *records_suite(void) {
  Suite *s = suite_create("records");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, three_agree_one_differs_is_intercepted);
  tcase_add_test(tc, two_against_two_is_inconclusive);
  tcase_add_test(tc, few_that_agree_honour_at_round_end);
  tcase_add_test(tc, identity_table_is_capped);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return tu_run_suite(records_suite());
}
