/* exitprobe — first-hop policy (engine/hops.h) and the learned circuit build
 * timeout (engine/cbt.h): weighted choice with a fixed seed, pacing below the
 * DoS parameters, history of failures (and its hostile-input parser), and
 * the timeout's percentile, floor, ceiling and warm-up. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "dir/dosparams.h"
#include "probe/engine/cbt.h"
#include "probe/engine/hops.h"
#include "testutil.h"

/* ---- weighted choice ---- */

START_TEST(pick_follows_weights) {
  /* Weights 1:2:3:4 (and a zero that must never come up): over 100,000
   * picks each share is within 1.5 points of weight/10. */
  const uint64_t w[5] = {100, 200, 0, 300, 400};
  size_t count[5] = {0};
  ep_rng_t rng;
  ep_rng_seed(&rng, 42);
  for (int i = 0; i < 100000; i++) {
    size_t k = ep_hops_pick(w, 5, &rng);
    ck_assert_uint_lt(k, 5);
    count[k]++;
  }
  ck_assert_uint_eq(count[2], 0);
  const double want[5] = {0.1, 0.2, 0, 0.3, 0.4};
  for (int k = 0; k < 5; k++) {
    double share = (double)count[k] / 100000.0;
    ck_assert_msg(share > want[k] - 0.015 && share < want[k] + 0.015, "hop %d: share %.3f", k, share);
  }
}
END_TEST

START_TEST(pick_spreads_over_many) {
  /* 200 equal guards, 2,000 circuits: every guard is used, none more than
   * 30 times (10 expected): not the few with links already open. */
  uint64_t w[200];
  size_t count[200] = {0};
  for (int i = 0; i < 200; i++) {
    w[i] = 5000;
  }
  ep_rng_t rng;
  ep_rng_seed(&rng, 7);
  for (int i = 0; i < 2000; i++) {
    count[ep_hops_pick(w, 200, &rng)]++;
  }
  for (int i = 0; i < 200; i++) {
    ck_assert_uint_gt(count[i], 0);
    ck_assert_uint_le(count[i], 30);
  }
}
END_TEST

START_TEST(pick_nothing) {
  const uint64_t w[3] = {0, 0, 0};
  ep_rng_t rng;
  ep_rng_seed(&rng, 1);
  ck_assert_uint_eq(ep_hops_pick(w, 3, &rng), SIZE_MAX);
  ck_assert_uint_eq(ep_hops_pick(w, 0, &rng), SIZE_MAX);
}
END_TEST

START_TEST(same_seed_same_choices) {
  const uint64_t w[4] = {1, 2, 3, 4};
  ep_rng_t a, b;
  ep_rng_seed(&a, 99);
  ep_rng_seed(&b, 99);
  for (int i = 0; i < 100; i++) {
    ck_assert_uint_eq(ep_hops_pick(w, 4, &a), ep_hops_pick(w, 4, &b));
  }
}
END_TEST

START_TEST(weight_ranks_failures_down) {
  ck_assert_uint_eq(ep_hop_weight(0, 0), 1);
  ck_assert_uint_eq(ep_hop_weight(8000, 0), 8000);
  ck_assert_uint_eq(ep_hop_weight(8000, 1), 4000);
  ck_assert_uint_eq(ep_hop_weight(8000, 3), 1000);
  ck_assert_uint_eq(ep_hop_weight(8000, 1000), 1); /* capped halvings, never 0 */
  ck_assert_uint_eq(ep_hop_weight(UINT32_MAX, 0), UINT32_MAX);
}
END_TEST

/* ---- pacing ---- */

START_TEST(pacing_halves_public_params) {
  ep_dos_params_t dos;
  ep_dos_params_defaults(&dos);
  ck_assert(dos.circ_enabled && dos.conn_enabled);
  ck_assert_int_eq(dos.circ_min_conns, 2);
  ck_assert_int_eq(dos.circ_rate, 2);
  ck_assert_int_eq(dos.circ_burst, 60);
  ck_assert_int_eq(dos.conn_max_concurrent, 50);
  ep_hop_pacing_t p;
  ep_hop_pacing_from_dos(&dos, &p);
  ck_assert(p.paced);
  ck_assert_uint_eq(p.burst, 30);
  ck_assert_uint_eq(p.rate_milli, 1000); /* 1 a second */
  ck_assert_uint_eq(p.max_in_flight, 25); /* half of 50 connections, below half the burst */
  dos.circ_enabled = false;
  dos.circ_burst = 1;
  dos.circ_rate = 1;
  ep_hop_pacing_from_dos(&dos, &p);
  ck_assert(!p.paced);
  ck_assert_uint_eq(p.burst, 1);
  ck_assert_uint_eq(p.rate_milli, 500);
  ck_assert_uint_ge(p.max_in_flight, 1);
  dos.circ_burst = INT32_MAX;
  dos.conn_enabled = false;
  ep_hop_pacing_from_dos(&dos, &p);
  ck_assert_uint_eq(p.max_in_flight, EP_HOP_MAX_IN_FLIGHT);
}
END_TEST

START_TEST(bucket_burst_then_rate) {
  ep_hop_pacing_t p = {.paced = true, .rate_milli = 1000, .burst = 30, .max_in_flight = 25};
  ep_bucket_t b;
  ep_bucket_init(&b, &p, 1000);
  for (int i = 0; i < 30; i++) {
    ck_assert(ep_bucket_take(&b, &p, 1000));
  }
  ck_assert(!ep_bucket_take(&b, &p, 1000));
  ck_assert_int_eq(ep_bucket_wait_ms(&b, &p, 1000), 1000);
  ck_assert_int_eq(ep_bucket_wait_ms(&b, &p, 1600), 400);
  ck_assert(!ep_bucket_take(&b, &p, 1999));
  ck_assert(ep_bucket_take(&b, &p, 2000));
  ck_assert(!ep_bucket_take(&b, &p, 2000));
  /* A long pause refills the bucket to the burst, no further. */
  int n = 0;
  while (ep_bucket_take(&b, &p, 10000000)) {
    n++;
  }
  ck_assert_int_eq(n, 30);
  /* Time going backwards takes nothing and adds nothing. */
  ck_assert(!ep_bucket_take(&b, &p, 5));
}
END_TEST

START_TEST(unpaced_bucket_never_waits) {
  ep_hop_pacing_t p = {.paced = false, .rate_milli = 500, .burst = 1, .max_in_flight = 1};
  ep_bucket_t b;
  ep_bucket_init(&b, &p, 0);
  for (int i = 0; i < 1000; i++) {
    ck_assert(ep_bucket_take(&b, &p, 0));
  }
  ck_assert_int_eq(ep_bucket_wait_ms(&b, &p, 0), 0);
}
END_TEST

/* ---- history ---- */

static const uint8_t ID_A[20] = {0xAA, 1};
static const uint8_t ID_B[20] = {0xBB, 2};

START_TEST(history_roundtrip_and_decay) {
  ep_hophist_t h;
  ep_hophist_init(&h);
  ck_assert_int_eq(ep_hophist_note(&h, ID_A, true, NULL), EP_OK);
  ck_assert_int_eq(ep_hophist_note(&h, ID_A, true, NULL), EP_OK);
  ck_assert_int_eq(ep_hophist_note(&h, ID_B, false, NULL), EP_OK); /* served: no line */
  ck_assert_uint_eq(h.n, 1);
  ck_assert_uint_eq(ep_hophist_fails(&h, ID_A), 2);
  ck_assert_uint_eq(ep_hophist_fails(&h, ID_B), 0);
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  ck_assert_int_eq(ep_hophist_write(&h, f), EP_OK);
  fclose(f);
  ck_assert_str_eq(text, "exitprobe-hops 1\nAA01000000000000000000000000000000000000 2\n");
  ep_hophist_t g;
  ep_hophist_init(&g);
  ck_assert_int_eq(ep_hophist_parse(&g, (const uint8_t *)text, len, NULL), EP_OK);
  ck_assert_uint_eq(ep_hophist_fails(&g, ID_A), 2);
  ck_assert_int_eq(ep_hophist_note(&g, ID_A, false, NULL), EP_OK); /* a good round halves */
  ck_assert_uint_eq(ep_hophist_fails(&g, ID_A), 1);
  for (int i = 0; i < 100; i++) {
    ep_hophist_note(&g, ID_A, true, NULL);
  }
  ck_assert_uint_eq(ep_hophist_fails(&g, ID_A), EP_HOPHIST_MAX_FAILS);
  free(text);
  ep_hophist_free(&h);
  ep_hophist_free(&g);
}
END_TEST

START_TEST(history_hostile_lines) {
  const char *text =
      "exitprobe-hops 1\n"
      "BB02000000000000000000000000000000000000 3\n"
      "bb02000000000000000000000000000000000000 9\n"   /* duplicate (lower-case hex): larger wins */
      "ZZ02000000000000000000000000000000000000 3\n"   /* not hex */
      "AA01000000000000000000000000000000000000 -1\n"  /* not a count */
      "AA01000000000000000000000000000000000000  1\n"  /* two spaces */
      "AA01000000000000000000000000000000000000 123\n" /* too long */
      "AA0100000000000000000000000000000000000 1\n"    /* 39 digits */
      "\n"
      "AA01000000000000000000000000000000000000 99";   /* no newline at the end: capped at 16 */
  ep_hophist_t h;
  ep_hophist_init(&h);
  ck_assert_int_eq(ep_hophist_parse(&h, (const uint8_t *)text, strlen(text), NULL), EP_OK);
  ck_assert_uint_eq(h.n, 2);
  ck_assert_uint_eq(h.bad_lines, 6);
  ck_assert_uint_eq(ep_hophist_fails(&h, ID_B), 9);
  ck_assert_uint_eq(ep_hophist_fails(&h, ID_A), EP_HOPHIST_MAX_FAILS);
  ep_hophist_free(&h);
  ep_err_t err = {0};
  const char *bad[] = {"", "exitprobe-hops 2\n", "exitprobe-hops 1", "garbage\nAA 1\n"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ep_hophist_init(&h);
    ck_assert_int_eq(ep_hophist_parse(&h, (const uint8_t *)bad[i], strlen(bad[i]), &err),
                     EP_ERR_MALFORMED);
    ck_assert_ptr_nonnull(strstr(err.msg, "header"));
    ck_assert_uint_eq(h.n, 0);
    ep_hophist_free(&h);
  }
}
END_TEST

/* ---- learned build timeout ---- */

START_TEST(cbt_warmup_uses_configured) {
  ep_cbt_t c;
  ep_cbt_init(&c);
  ck_assert_int_eq(ep_cbt_timeout_ms(&c, 20000), 20000);
  for (int i = 0; i < EP_CBT_MIN_SAMPLES - 1; i++) {
    ep_cbt_add(&c, 5);
  }
  ck_assert_int_eq(ep_cbt_timeout_ms(&c, 20000), 20000);
  ep_cbt_add(&c, 5);
  ck_assert_int_eq(ep_cbt_timeout_ms(&c, 20000), EP_CBT_FLOOR_MS); /* ms builds: the floor */
  ck_assert_int_eq(ep_cbt_timeout_ms(&c, 1000), 1000);             /* the ceiling wins */
  ck_assert_int_eq(ep_cbt_timeout_ms(&c, 0), 0);
}
END_TEST

/* The tries of one attempt fit in the configured timeout together, each
 * doubling the one before: an exit that never answers EXTEND2 (frozen) costs
 * about 20 s in all over 3 first hops, not 3 x 20 s before the timeout is
 * learned (issue #13, bench/run-frozen). */
START_TEST(cbt_try_timeout_splits_the_ceiling) {
  ep_cbt_t c;
  ep_cbt_init(&c);
  ck_assert_int_eq(ep_cbt_try_timeout_ms(&c, 20000, 3, 0), 2857); /* 20000 / 7 */
  ck_assert_int_eq(ep_cbt_try_timeout_ms(&c, 20000, 3, 1), 5714);
  ck_assert_int_eq(ep_cbt_try_timeout_ms(&c, 20000, 3, 2), 11428);
  ck_assert_int_eq(ep_cbt_try_timeout_ms(&c, 20000, 3, 7), 11428); /* past the last: the last */
  ck_assert_int_eq(ep_cbt_try_timeout_ms(&c, 20000, 1, 0), 20000);
  ck_assert_int_eq(ep_cbt_try_timeout_ms(&c, 20000, 0, 0), 20000);
  ck_assert_int_eq(ep_cbt_try_timeout_ms(&c, 3000, 8, 0), EP_CBT_FLOOR_MS); /* not below the floor */
  ck_assert_int_eq(ep_cbt_try_timeout_ms(&c, 3000, 8, 5), 3000);            /* nor above the ceiling */
  ck_assert_int_eq(ep_cbt_try_timeout_ms(&c, 1000, 3, 0), 1000);
  ck_assert_int_eq(ep_cbt_try_timeout_ms(&c, 0, 3, 0), 0);
  for (int i = 0; i < EP_CBT_MIN_SAMPLES; i++) {
    ep_cbt_add(&c, 4000);
  }
  /* learned 6000 (p95 x 1.5): above the share, so the share */
  ck_assert_int_eq(ep_cbt_try_timeout_ms(&c, 20000, 3, 0), 2857);
  ck_assert_int_eq(ep_cbt_try_timeout_ms(&c, 20000, 1, 0), 6000);
  ep_cbt_init(&c);
  for (int i = 0; i < EP_CBT_MIN_SAMPLES; i++) {
    ep_cbt_add(&c, 100);
  }
  /* learned: the floor, then doubled per try */
  ck_assert_int_eq(ep_cbt_try_timeout_ms(&c, 20000, 3, 0), EP_CBT_FLOOR_MS);
  ck_assert_int_eq(ep_cbt_try_timeout_ms(&c, 20000, 3, 1), 2 * EP_CBT_FLOOR_MS);
  ck_assert_int_eq(ep_cbt_try_timeout_ms(&c, 20000, 3, 2), 4 * EP_CBT_FLOOR_MS);
}
END_TEST

START_TEST(cbt_percentile_scaled) {
  ep_cbt_t c;
  ep_cbt_init(&c);
  for (int i = 1; i <= 100; i++) {
    ep_cbt_add(&c, i * 100); /* 100 .. 10000 ms */
  }
  ck_assert_int_eq(ep_cbt_percentile_ms(&c, 95), 9500);
  ck_assert_int_eq(ep_cbt_percentile_ms(&c, 100), 10000);
  ck_assert_int_eq(ep_cbt_percentile_ms(&c, 0), 100);
  ck_assert_int_eq(ep_cbt_timeout_ms(&c, 60000), 14250);
  ck_assert_int_eq(ep_cbt_timeout_ms(&c, 12000), 12000);
  ep_cbt_add(&c, -5); /* ignored */
  ck_assert_uint_eq(c.total, 100);
}
END_TEST

START_TEST(cbt_window_follows_the_network) {
  /* A window of slow builds, then a window of fast ones: the old are forgotten. */
  ep_cbt_t c;
  ep_cbt_init(&c);
  for (int i = 0; i < EP_CBT_WINDOW; i++) {
    ep_cbt_add(&c, 8000);
  }
  ck_assert_int_eq(ep_cbt_timeout_ms(&c, 20000), 12000);
  for (int i = 0; i < EP_CBT_WINDOW; i++) {
    ep_cbt_add(&c, 200);
  }
  ck_assert_int_eq(ep_cbt_timeout_ms(&c, 20000), EP_CBT_FLOOR_MS);
  ck_assert_uint_eq(c.n, EP_CBT_WINDOW);
  ep_cbt_add(&c, INT64_MAX); /* capped, not wrapped */
  ck_assert_int_eq(ep_cbt_percentile_ms(&c, 100), UINT32_MAX);
}
END_TEST

static Suite *hops_suite(void) {
  Suite *s = suite_create("hops");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, pick_follows_weights);
  tcase_add_test(tc, pick_spreads_over_many);
  tcase_add_test(tc, pick_nothing);
  tcase_add_test(tc, same_seed_same_choices);
  tcase_add_test(tc, weight_ranks_failures_down);
  tcase_add_test(tc, pacing_halves_public_params);
  tcase_add_test(tc, bucket_burst_then_rate);
  tcase_add_test(tc, unpaced_bucket_never_waits);
  tcase_add_test(tc, history_roundtrip_and_decay);
  tcase_add_test(tc, history_hostile_lines);
  tcase_add_test(tc, cbt_warmup_uses_configured);
  tcase_add_test(tc, cbt_percentile_scaled);
  tcase_add_test(tc, cbt_try_timeout_splits_the_ceiling);
  tcase_add_test(tc, cbt_window_follows_the_network);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_suite(hops_suite()); }
