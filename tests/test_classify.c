/* exitprobe — unit tests of the greeting reader, classification and verdicts. */
#include "config.h"

#include <check.h>
#include <string.h>

#include "probe/engine/classify.h"
#include "probe/engine/smtp.h"
#include "testutil.h"

static int parse(const char *s, bool eof, ep_greeting_t *g) {
  return ep_greeting_parse((const uint8_t *)s, strlen(s), eof, g);
}

START_TEST(greeting_single_and_multi_line) {
  ep_greeting_t g;
  ck_assert_int_eq(parse("220 mx.example ESMTP\r\n", false, &g), 1);
  ck_assert_int_eq(g.kind, EP_GREETING_SMTP);
  ck_assert_int_eq(g.code, 220);
  ck_assert_uint_eq(g.lines, 1);
  ck_assert(ep_greeting_is_ready(&g));
  /* A multi-line greeting is decided only at its last line. */
  ck_assert_int_eq(parse("220-mx.example\r\n220-more\r\n", false, &g), 0);
  ck_assert_int_eq(parse("220-mx.example\r\n220-more\r\n220 done\r\n", false, &g), 1);
  ck_assert_uint_eq(g.lines, 3);
  ck_assert(ep_greeting_is_ready(&g));
  ck_assert_int_eq(parse("220\n", false, &g), 1); /* bare code, bare LF */
  ck_assert(ep_greeting_is_ready(&g));
  ck_assert_int_eq(parse("554 5.7.1 blocked\r\n", false, &g), 1);
  ck_assert_int_eq(g.kind, EP_GREETING_SMTP);
  ck_assert_int_eq(g.code, 554);
  ck_assert(!ep_greeting_is_ready(&g));
}
END_TEST

START_TEST(greeting_partial_and_not_smtp) {
  ep_greeting_t g;
  ck_assert_int_eq(parse("22", false, &g), 0);
  ck_assert_int_eq(parse("220 no newline yet", false, &g), 0);
  ck_assert_int_eq(parse("220 cut", true, &g), 1);
  ck_assert_int_eq(g.kind, EP_GREETING_PARTIAL);
  ck_assert_int_eq(g.code, 220);
  ck_assert(!ep_greeting_is_ready(&g));
  ck_assert_int_eq(parse("HTTP/1.1 400 Bad Request\r\n", false, &g), 1);
  ck_assert_int_eq(g.kind, EP_GREETING_NOT_SMTP);
  ck_assert_int_eq(parse("2x", false, &g), 1);
  ck_assert_int_eq(g.kind, EP_GREETING_NOT_SMTP);
  ck_assert_int_eq(parse("220-a\r\n421 b\r\n", false, &g), 1); /* codes differ */
  ck_assert_int_eq(g.kind, EP_GREETING_NOT_SMTP);
  ck_assert_int_eq(parse("220x\r\n", false, &g), 1);
  ck_assert_int_eq(g.kind, EP_GREETING_NOT_SMTP);
  ck_assert_int_eq(parse("", true, &g), 1);
  ck_assert_int_eq(g.kind, EP_GREETING_NONE);
  ck_assert_int_eq(parse("", false, &g), 0);
}
END_TEST

START_TEST(greeting_is_capped) {
  /* A flood of continuation lines: decided at the cap, never read past it. */
  static uint8_t big[EP_CAP_BANNER * 4];
  for (size_t i = 0; i + 6 <= sizeof big; i += 6) {
    memcpy(big + i, "220-x\n", 6);
  }
  ep_greeting_t g;
  ck_assert_int_eq(ep_greeting_parse(big, sizeof big, false, &g), 1);
  ck_assert(g.capped);
  ck_assert_uint_eq(g.len, EP_CAP_BANNER);
  ck_assert_int_eq(g.kind, EP_GREETING_PARTIAL);
  /* Escape sequences and NULs are kept raw here (escaped only on output). */
  ck_assert_int_eq(ep_greeting_parse((const uint8_t *)"\x1b[31m\0", 6, true, &g), 1);
  ck_assert_int_eq(g.kind, EP_GREETING_NOT_SMTP);
  ck_assert_uint_eq(g.len, 6);
}
END_TEST

static ep_classification_t run(ep_stream_outcome_t o) {
  ep_classification_t c;
  ep_classify(&o, &c);
  return c;
}

START_TEST(classify_end_reasons_and_connected) {
  ep_stream_outcome_t o = {.ended = true, .end_reason = EP_END_MISC, .end_ms = 104};
  ep_classification_t c = run(o);
  ck_assert_int_eq(c.cls, EP_CLASS_CONNECT_FAILED);
  ck_assert_str_eq(c.why, "END MISC (1) after 104 ms");
  o.end_reason = EP_END_EXITPOLICY;
  ck_assert_int_eq(run(o).cls, EP_CLASS_EXITPOLICY);
  o.end_reason = EP_END_INTERNAL; /* quick: a failed connect (tor 0.4.9 under load) */
  ck_assert_int_eq(run(o).cls, EP_CLASS_CONNECT_FAILED);
  o.end_ms = 133000;              /* after the kernel's SYN retries: a connect timeout */
  ck_assert_int_eq(run(o).cls, EP_CLASS_TIMEOUT);
  o.end_ms = 104;
  o.end_reason = EP_END_CONNECTREFUSED;
  ck_assert_int_eq(run(o).cls, EP_CLASS_REFUSED);
  o.end_reason = EP_END_NOROUTE;
  ck_assert_int_eq(run(o).cls, EP_CLASS_NOROUTE);
  o.end_reason = 200; /* unknown reasons are kept, not rejected */
  c = run(o);
  ck_assert_int_eq(c.cls, EP_CLASS_OTHER_END);
  ck_assert_str_eq(c.why, "END UNKNOWN (200) after 104 ms");

  ep_stream_outcome_t t = {.deadline_hit = true};
  ck_assert_int_eq(run(t).cls, EP_CLASS_TIMEOUT);

  const char *hello = "220 testnet ESMTP\r\n";
  ep_stream_outcome_t s = {.connected = true, .expect_greeting = true,
                           .data = (const uint8_t *)hello, .data_len = strlen(hello)};
  ck_assert_int_eq(run(s).cls, EP_CLASS_REACHABLE);
  const char *no = "554 5.7.1 blocked\r\n";
  s.data = (const uint8_t *)no;
  s.data_len = strlen(no);
  s.ended = true;
  s.end_reason = EP_END_DONE;
  ck_assert_int_eq(run(s).cls, EP_CLASS_REACHABLE_UNEXPECTED);
  ep_stream_outcome_t closed = {.connected = true, .expect_greeting = true, .ended = true,
                                .end_reason = EP_END_DONE};
  ck_assert_int_eq(run(closed).cls, EP_CLASS_CLOSED);
  ep_stream_outcome_t silent = {.connected = true, .expect_greeting = true, .deadline_hit = true};
  ck_assert_int_eq(run(silent).cls, EP_CLASS_SILENT);
  ep_stream_outcome_t web = {.connected = true, .expect_greeting = false, .deadline_hit = true};
  ck_assert_int_eq(run(web).cls, EP_CLASS_REACHABLE);
  ep_stream_outcome_t circ = {.circuit_failed = true, .ended = true, .end_reason = 1};
  ck_assert_int_eq(run(circ).cls, EP_CLASS_CIRCUIT_FAILED);
  ep_stream_outcome_t hop = {.first_hop_failed = true};
  ck_assert_int_eq(run(hop).cls, EP_CLASS_FIRST_HOP_FAILED);
}
END_TEST

/* The service check's path (#11): the flags the verdict reads, and relay
 * text escaped into the one-line detail. */
START_TEST(classify_service_results) {
  ep_svc_result_t v = {.status = EP_SVC_ANSWERED, .refused = true, .code = 554,
                       .answer = "554 no\x1b]0;pwned\x07"};
  ep_stream_outcome_t o = {.connected = true, .service = {.proto = EP_SVC_SMTP}, .svc = &v};
  ep_classification_t c = run(o);
  ck_assert_int_eq(c.cls, EP_CLASS_REACHABLE_UNEXPECTED);
  ck_assert(c.refused && !c.not_proto);
  ck_assert_ptr_null(strchr(c.why, '\x1b')); /* escaped, never raw */
  ck_assert_ptr_nonnull(strstr(c.why, "the destination refused: 554 no"));
  v.refused = false;
  ck_assert_int_eq(run(o).cls, EP_CLASS_REACHABLE);
  /* Bytes, then the end, no answer: not the protocol. */
  v = (ep_svc_result_t){.status = EP_SVC_FAILED, .bytes_in = 3};
  o.ended = true;
  c = run(o);
  ck_assert_int_eq(c.cls, EP_CLASS_REACHABLE_UNEXPECTED);
  ck_assert(c.not_proto && !c.refused);
  /* Nothing said, then the end: the exit's if the server speaks first. */
  v.bytes_in = 0;
  c = run(o);
  ck_assert_int_eq(c.cls, EP_CLASS_CLOSED);
  ck_assert(!c.dest_may_close);
  o.service = (ep_svc_spec_t){.proto = EP_SVC_SMTP, .tls = true}; /* submissions: client first */
  ck_assert(run(o).dest_may_close);
  o.service = (ep_svc_spec_t){.proto = EP_SVC_HTTP};
  ck_assert(run(o).dest_may_close);
  /* tcp: CONNECTED is the answer, whatever came. */
  o.service = (ep_svc_spec_t){.proto = EP_SVC_TCP};
  ck_assert_int_eq(run(o).cls, EP_CLASS_REACHABLE);
  /* Silent before the deadline. */
  ep_stream_outcome_t s = {.connected = true, .deadline_hit = true,
                           .service = {.proto = EP_SVC_SSH}, .svc = &v};
  ck_assert_int_eq(run(s).cls, EP_CLASS_SILENT);
}
END_TEST

START_TEST(class_and_verdict_names_round_trip) {
  for (int i = 0; i < EP_CLASS_COUNT; i++) {
    ck_assert_int_eq(ep_class_parse(ep_class_name((ep_class_t)i)), i);
  }
  ck_assert_int_eq(ep_class_parse("nonsense"), -1);
  for (int i = 0; i <= EP_VERDICT_INCONCLUSIVE; i++) {
    ck_assert_int_eq(ep_verdict_parse(ep_verdict_name((ep_verdict_t)i)), i);
  }
}
END_TEST

START_TEST(verdict_needs_confirmation) {
  char why[160];
  ep_verdict_input_t in = {.cls = EP_CLASS_CONNECT_FAILED, .control_tried = true,
                           .control_ok = true, .retry_tried = true,
                           .retry_cls = EP_CLASS_CONNECT_FAILED, .target_ok_elsewhere = 3};
  ck_assert_int_eq(ep_verdict_decide(&in, why, sizeof why), EP_VERDICT_VIOLATES);
  ck_assert_ptr_nonnull(strstr(why, "confirmed"));
  ep_verdict_input_t x = in;
  x.retry_tried = false;
  ck_assert_int_eq(ep_verdict_decide(&x, why, sizeof why), EP_VERDICT_INCONCLUSIVE);
  x = in;
  x.retry_cls = EP_CLASS_REACHABLE;
  ck_assert_int_eq(ep_verdict_decide(&x, why, sizeof why), EP_VERDICT_INCONCLUSIVE);
  x = in;
  x.control_ok = false;
  ck_assert_int_eq(ep_verdict_decide(&x, why, sizeof why), EP_VERDICT_INCONCLUSIVE);
  x = in;
  x.target_ok_elsewhere = 0;
  ck_assert_int_eq(ep_verdict_decide(&x, why, sizeof why), EP_VERDICT_INCONCLUSIVE);
  x = in;
  x.retry_cls = EP_CLASS_CIRCUIT_FAILED;
  ck_assert_int_eq(ep_verdict_decide(&x, why, sizeof why), EP_VERDICT_INCONCLUSIVE);
  x = in;
  x.cls = EP_CLASS_CIRCUIT_FAILED;
  ck_assert_int_eq(ep_verdict_decide(&x, why, sizeof why), EP_VERDICT_INCONCLUSIVE);
  x = in;
  x.cls = EP_CLASS_EXITPOLICY;
  x.retry_cls = EP_CLASS_EXITPOLICY;
  x.target_ok_elsewhere = 0; /* EXITPOLICY is the exit's own word: no target needed */
  ck_assert_int_eq(ep_verdict_decide(&x, why, sizeof why), EP_VERDICT_VIOLATES);
  x.policy_may_be_restricted = true;
  x.full_policy_accepts = 0; /* unknown */
  ck_assert_int_eq(ep_verdict_decide(&x, why, sizeof why), EP_VERDICT_INCONCLUSIVE);
  x.full_policy_accepts = 1; /* the full policy accepts the address: blame */
  ck_assert_int_eq(ep_verdict_decide(&x, why, sizeof why), EP_VERDICT_VIOLATES);
  x.full_policy_accepts = -1; /* the full policy rejects it: the exit is honest */
  ck_assert_int_eq(ep_verdict_decide(&x, why, sizeof why), EP_VERDICT_HONOURS);
  x = in;
  x.cls = EP_CLASS_REACHABLE;
  ck_assert_int_eq(ep_verdict_decide(&x, why, sizeof why), EP_VERDICT_HONOURS);
}
END_TEST

static Suite *classify_suite(void) {
  Suite *s = suite_create("classify");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, greeting_single_and_multi_line);
  tcase_add_test(tc, greeting_partial_and_not_smtp);
  tcase_add_test(tc, greeting_is_capped);
  tcase_add_test(tc, classify_end_reasons_and_connected);
  tcase_add_test(tc, classify_service_results);
  tcase_add_test(tc, class_and_verdict_names_round_trip);
  tcase_add_test(tc, verdict_needs_confirmation);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_suite(classify_suite()); }
