/* exitprobe — table-driven tests of ep_probe_judge, the one function that
 * says what a probe means: one row per class of the README's "Classes:" and
 * one per confirmation case of its verdict rules ("A verdict of violates
 * needs all of ..."). Each row asserts the class, the verdict and a part of
 * the detail or of why. */
#include "config.h"

#include <check.h>
#include <string.h>

#include "probe/engine/smtp.h"
#include "probe/engine/verdict.h"
#include "testutil.h"

/* A port's stream on one attempt. */
#define DONE_TRY .has_stream = true, .begun = true, .done = true
#define ENDED(reason, ms) \
  {DONE_TRY, .o = {.ended = true, .end_reason = (reason), .end_ms = (ms)}}
/* Connected to a port whose service greets (SMTP), which said `text`. */
#define GREETED(text, ...)                                                                   \
  {DONE_TRY, .o = {.connected = true, .connected_ms = 80, .expect_greeting = true,          \
                   .data = (const uint8_t *)(text), .data_len = sizeof(text) - 1, __VA_ARGS__}}
#define CLOSED .ended = true, .end_reason = EP_END_DONE
#define FLAGGED(flag, fail, past) \
  {DONE_TRY, .o = {.flag = true}, .fail_msg = fail, .past_hop_msg = past}

#define HOP_FAIL "first hop B: connection refused"
#define PAST_HOP "circuit destroyed after 1 hop(s): DESTROYED (9); extend failed"

typedef struct class_row {
  const char *name;
  ep_probe_try_t main;
  bool interrupted;
  ep_class_t cls;
  ep_verdict_t verdict;
  const char *detail;   /* a part of the class's detail (r.c.why) */
  const char *why;      /* a part of the verdict's why */
} class_row_t;

/* Every class, judged with everything else confirming: the control stream
 * connected, a retry failed the same way, the target answered elsewhere. */
static const class_row_t class_rows[] = {
    {"END MISC", ENDED(EP_END_MISC, 104), false, EP_CLASS_CONNECT_FAILED, EP_VERDICT_VIOLATES,
     "END MISC (1) after 104 ms", "connect-failed, confirmed by a retry"},
    {"END INTERNAL within 10 s", ENDED(EP_END_INTERNAL, 9999), false, EP_CLASS_CONNECT_FAILED,
     EP_VERDICT_VIOLATES, "END INTERNAL (10) after 9999 ms", "confirmed"},
    {"END INTERNAL after 10 s", ENDED(EP_END_INTERNAL, 10000), false, EP_CLASS_TIMEOUT,
     EP_VERDICT_VIOLATES, "END INTERNAL (10) after 10000 ms", "timeout, confirmed"},
    {"END CONNECTREFUSED", ENDED(EP_END_CONNECTREFUSED, 50), false, EP_CLASS_REFUSED,
     EP_VERDICT_VIOLATES, "END CONNECTREFUSED (3)", "refused, confirmed"},
    {"END NOROUTE", ENDED(EP_END_NOROUTE, 50), false, EP_CLASS_NOROUTE, EP_VERDICT_VIOLATES,
     "END NOROUTE (8)", "noroute, confirmed"},
    {"END TIMEOUT", ENDED(EP_END_TIMEOUT, 50), false, EP_CLASS_TIMEOUT, EP_VERDICT_VIOLATES,
     "END TIMEOUT (7)", "timeout, confirmed"},
    {"END EXITPOLICY", ENDED(EP_END_EXITPOLICY, 50), false, EP_CLASS_EXITPOLICY,
     EP_VERDICT_VIOLATES, "END EXITPOLICY (4)", "exitpolicy, confirmed"},
    {"END RESOLVEFAILED", ENDED(EP_END_RESOLVEFAILED, 50), false, EP_CLASS_RESOLVEFAILED,
     EP_VERDICT_INCONCLUSIVE, "END RESOLVEFAILED (2)", "resolvefailed says nothing about the port"},
    {"END CONNRESET", ENDED(EP_END_CONNRESET, 50), false, EP_CLASS_CONNRESET, EP_VERDICT_VIOLATES,
     "END CONNRESET (12)", "connreset, confirmed"},
    {"END RESOURCELIMIT", ENDED(EP_END_RESOURCELIMIT, 50), false, EP_CLASS_RESOURCELIMIT,
     EP_VERDICT_INCONCLUSIVE, "END RESOURCELIMIT (11)", "resourcelimit says nothing"},
    {"END HIBERNATING", ENDED(EP_END_HIBERNATING, 50), false, EP_CLASS_HIBERNATING,
     EP_VERDICT_INCONCLUSIVE, "END HIBERNATING (9)", "hibernating says nothing"},
    {"END TORPROTOCOL", ENDED(EP_END_TORPROTOCOL, 50), false, EP_CLASS_PROTOCOL_ERROR,
     EP_VERDICT_INCONCLUSIVE, "END TORPROTOCOL (13)", "protocol-error: nothing is known"},
    {"END DONE before CONNECTED", ENDED(EP_END_DONE, 50), false, EP_CLASS_OTHER_END,
     EP_VERDICT_VIOLATES, "END DONE (6)", "other-end, confirmed"},
    {"an unknown END reason, kept by number", ENDED(200, 50), false, EP_CLASS_OTHER_END,
     EP_VERDICT_VIOLATES, "END UNKNOWN (200) after 50 ms", "other-end, confirmed"},
    {"our deadline", {DONE_TRY, .o = {.deadline_hit = true}}, false, EP_CLASS_TIMEOUT,
     EP_VERDICT_VIOLATES, "no answer to BEGIN before our deadline", "timeout, confirmed"},
    {"CONNECTED, greeting 220", GREETED("220 mx.example ESMTP\r\n", .ended = false), false,
     EP_CLASS_REACHABLE, EP_VERDICT_HONOURS, "CONNECTED after 80 ms, greeting 220",
     "the exit reached the port"},
    {"CONNECTED, greeting 554: the destination's choice", GREETED("554 5.7.1 go away\r\n", CLOSED),
     false, EP_CLASS_REACHABLE_UNEXPECTED, EP_VERDICT_HONOURS,
     "the destination refused: greeting 554 instead of 220", "which refused: its choice"},
    {"CONNECTED, not SMTP", GREETED("HTTP/1.1 400 Bad Request\r\n", CLOSED), false,
     EP_CLASS_REACHABLE_UNEXPECTED, EP_VERDICT_INCONCLUSIVE,
     "26 bytes that are not an SMTP greeting", "another exit reached the real service"},
    {"CONNECTED, then closed", GREETED("", CLOSED), false, EP_CLASS_CLOSED,
     EP_VERDICT_VIOLATES, "CONNECTED, then END DONE (6) with no greeting", "closed, confirmed"},
    {"CONNECTED, silent", GREETED("", .deadline_hit = true), false, EP_CLASS_SILENT,
     EP_VERDICT_VIOLATES, "no greeting before our deadline", "silent, confirmed"},
    {"CONNECTED to a service that does not greet",
     {DONE_TRY, .o = {.connected = true, .connected_ms = 33}}, false, EP_CLASS_REACHABLE,
     EP_VERDICT_HONOURS, "CONNECTED after 33 ms", "reached the port"},
    {"circuit-failed", FLAGGED(circuit_failed, PAST_HOP, PAST_HOP), false, EP_CLASS_CIRCUIT_FAILED,
     EP_VERDICT_INCONCLUSIVE, PAST_HOP, "circuit-failed: nothing is known about the port"},
    {"circuit-failed with no message", FLAGGED(circuit_failed, "", ""), false,
     EP_CLASS_CIRCUIT_FAILED, EP_VERDICT_INCONCLUSIVE, "the circuit never reached the exit",
     "nothing is known"},
    {"first-hop-failed", FLAGGED(first_hop_failed, HOP_FAIL, ""), false,
     EP_CLASS_FIRST_HOP_FAILED, EP_VERDICT_INCONCLUSIVE, HOP_FAIL,
     "first-hop-failed: nothing is known"},
    {"protocol-error", FLAGGED(protocol_error, "cell on a closed stream", ""), false,
     EP_CLASS_PROTOCOL_ERROR, EP_VERDICT_INCONCLUSIVE, "cell on a closed stream",
     "protocol-error: nothing is known"},
    {"circuit-failed even when a later first hop was down",
     FLAGGED(first_hop_failed, HOP_FAIL, PAST_HOP), false, EP_CLASS_CIRCUIT_FAILED,
     EP_VERDICT_INCONCLUSIVE, PAST_HOP "; then " HOP_FAIL, "circuit-failed: nothing is known"},
    {"not probed: no stream", {.has_stream = false}, false, EP_CLASS_CIRCUIT_FAILED,
     EP_VERDICT_INCONCLUSIVE, "not probed: no stream was opened", "nothing is known"},
    {"not probed: interrupted", {.has_stream = false}, true, EP_CLASS_CIRCUIT_FAILED,
     EP_VERDICT_INCONCLUSIVE, "not probed: the scan was stopped first",
     "the scan was interrupted before this probe finished"},
    {"never began, with the attempt's failure", {.has_stream = true, .fail_msg = HOP_FAIL}, true,
     EP_CLASS_CIRCUIT_FAILED, EP_VERDICT_INCONCLUSIVE, HOP_FAIL, "interrupted"},
    {"never began", {.has_stream = true}, true, EP_CLASS_CIRCUIT_FAILED, EP_VERDICT_INCONCLUSIVE,
     "never started", "interrupted"},
    {"interrupted after the greeting", GREETED("220 ok\r\n", .ended = false), true,
     EP_CLASS_REACHABLE, EP_VERDICT_HONOURS, "greeting 220", "interrupted"},
    {"interrupted after a confirmed failure", ENDED(EP_END_MISC, 104), true,
     EP_CLASS_CONNECT_FAILED, EP_VERDICT_INCONCLUSIVE, "END MISC", "interrupted"},
};

static const ep_probe_control_t dir_connected = {.is_dir = true, .begun = true, .connected = true};
static const ep_probe_control_t dir_failed = {.is_dir = true, .begun = true, .ended = true,
                                              .end_reason = EP_END_MISC};

static ep_probe_in_t confirmed_input(const ep_probe_try_t *main) {
  ep_probe_in_t in = {.main = *main, .retry = *main, .policy_basis = "summary",
                      .target_ok_elsewhere = 3, .n_control = 1};
  in.control[0] = dir_connected;
  return in;
}

START_TEST(every_class) {
  const class_row_t *row = &class_rows[_i];
  ep_probe_in_t in = confirmed_input(&row->main);
  in.interrupted = row->interrupted;
  ep_result_t r;
  ep_result_init(&r);
  bool waits = ep_probe_judge(&in, &r);
  ck_assert_msg(r.c.cls == row->cls, "%s: class %s", row->name, ep_class_name(r.c.cls));
  ck_assert_msg(r.verdict == row->verdict, "%s: verdict %s (%s)", row->name,
                ep_verdict_name(r.verdict), r.verdict_why);
  ck_assert_msg(strstr(r.c.why, row->detail) != NULL, "%s: detail '%s'", row->name, r.c.why);
  ck_assert_msg(strstr(r.verdict_why, row->why) != NULL, "%s: why '%s'", row->name,
                r.verdict_why);
  ck_assert_msg(!waits, "%s: the target answered elsewhere: nothing to wait for", row->name);
}
END_TEST

typedef enum { CTL_OK, CTL_FAILED, CTL_NONE } ctl_t;
typedef enum { RT_FAILED, RT_OK, RT_NONE } rt_t;
typedef enum {
  POL_SUMMARY,     /* connect-failed (END MISC) on a port the summary accepts */
  POL_FULL,        /* END EXITPOLICY; the exit's policy is known in full */
  POL_RESTRICTED,  /* END EXITPOLICY; the summary may hide an address restriction */
  POL_FULL_ACCEPTS,/* ... and the full policy accepts the address the exit named */
  POL_FULL_REJECTS /* ... and the full policy rejects it */
} pol_t;

typedef struct confirm_row {
  ctl_t ctl;
  rt_t retry;
  bool seen;              /* the target answered through other exits this round */
  pol_t pol;
  ep_verdict_t verdict;
  const char *why;
} confirm_row_t;

#define V EP_VERDICT_VIOLATES
#define I EP_VERDICT_INCONCLUSIVE
#define H EP_VERDICT_HONOURS
#define CONFIRMED "confirmed by a retry through another first hop; the same circuit works"
#define CTL_BAD "the same circuit failed for other uses too"
#define NO_TARGET "the target answered through no other exit"
#define RETRY_OK "a retry through another first hop reached the port"
#define NO_CTL "not confirmed (no control stream)"
#define NO_RETRY "not confirmed (no retry)"
#define HIDDEN "the policy summary may hide an address restriction"

static const confirm_row_t confirm_rows[] = {
    /* A failure other than EXITPOLICY needs the target seen elsewhere. */
    {CTL_OK, RT_FAILED, true, POL_SUMMARY, V, CONFIRMED},
    {CTL_OK, RT_FAILED, false, POL_SUMMARY, I, NO_TARGET},
    {CTL_OK, RT_OK, true, POL_SUMMARY, I, RETRY_OK},
    {CTL_OK, RT_OK, false, POL_SUMMARY, I, NO_TARGET},
    {CTL_OK, RT_NONE, true, POL_SUMMARY, I, NO_RETRY},
    {CTL_OK, RT_NONE, false, POL_SUMMARY, I, NO_TARGET},
    {CTL_FAILED, RT_FAILED, true, POL_SUMMARY, I, CTL_BAD},
    {CTL_FAILED, RT_FAILED, false, POL_SUMMARY, I, CTL_BAD},
    {CTL_FAILED, RT_OK, true, POL_SUMMARY, I, CTL_BAD},
    {CTL_FAILED, RT_OK, false, POL_SUMMARY, I, CTL_BAD},
    {CTL_FAILED, RT_NONE, true, POL_SUMMARY, I, CTL_BAD},
    {CTL_FAILED, RT_NONE, false, POL_SUMMARY, I, CTL_BAD},
    {CTL_NONE, RT_FAILED, true, POL_SUMMARY, I, NO_CTL},
    {CTL_NONE, RT_FAILED, false, POL_SUMMARY, I, NO_TARGET},
    {CTL_NONE, RT_OK, true, POL_SUMMARY, I, RETRY_OK},
    {CTL_NONE, RT_OK, false, POL_SUMMARY, I, NO_TARGET},
    {CTL_NONE, RT_NONE, true, POL_SUMMARY, I, NO_RETRY},
    {CTL_NONE, RT_NONE, false, POL_SUMMARY, I, NO_TARGET},
    /* EXITPOLICY is the exit's own word: the target need not be seen. */
    {CTL_OK, RT_FAILED, true, POL_FULL, V, CONFIRMED},
    {CTL_OK, RT_FAILED, false, POL_FULL, V, CONFIRMED},
    {CTL_OK, RT_OK, true, POL_FULL, I, RETRY_OK},
    {CTL_OK, RT_OK, false, POL_FULL, I, RETRY_OK},
    {CTL_OK, RT_NONE, true, POL_FULL, I, NO_RETRY},
    {CTL_OK, RT_NONE, false, POL_FULL, I, NO_RETRY},
    {CTL_FAILED, RT_FAILED, true, POL_FULL, I, CTL_BAD},
    {CTL_FAILED, RT_FAILED, false, POL_FULL, I, CTL_BAD},
    {CTL_FAILED, RT_OK, true, POL_FULL, I, CTL_BAD},
    {CTL_FAILED, RT_OK, false, POL_FULL, I, CTL_BAD},
    {CTL_FAILED, RT_NONE, true, POL_FULL, I, CTL_BAD},
    {CTL_FAILED, RT_NONE, false, POL_FULL, I, CTL_BAD},
    {CTL_NONE, RT_FAILED, true, POL_FULL, I, NO_CTL},
    {CTL_NONE, RT_FAILED, false, POL_FULL, I, NO_CTL},
    {CTL_NONE, RT_OK, true, POL_FULL, I, RETRY_OK},
    {CTL_NONE, RT_OK, false, POL_FULL, I, RETRY_OK},
    {CTL_NONE, RT_NONE, true, POL_FULL, I, NO_RETRY},
    {CTL_NONE, RT_NONE, false, POL_FULL, I, NO_RETRY},
    /* A summary that may hide a restriction proves nothing by itself. */
    {CTL_OK, RT_FAILED, true, POL_RESTRICTED, I, HIDDEN},
    {CTL_OK, RT_FAILED, false, POL_RESTRICTED, I, HIDDEN},
    {CTL_OK, RT_OK, true, POL_RESTRICTED, I, HIDDEN},
    {CTL_OK, RT_OK, false, POL_RESTRICTED, I, HIDDEN},
    {CTL_OK, RT_NONE, true, POL_RESTRICTED, I, HIDDEN},
    {CTL_OK, RT_NONE, false, POL_RESTRICTED, I, HIDDEN},
    {CTL_FAILED, RT_FAILED, true, POL_RESTRICTED, I, HIDDEN},
    {CTL_FAILED, RT_FAILED, false, POL_RESTRICTED, I, HIDDEN},
    {CTL_FAILED, RT_OK, true, POL_RESTRICTED, I, HIDDEN},
    {CTL_FAILED, RT_OK, false, POL_RESTRICTED, I, HIDDEN},
    {CTL_FAILED, RT_NONE, true, POL_RESTRICTED, I, HIDDEN},
    {CTL_FAILED, RT_NONE, false, POL_RESTRICTED, I, HIDDEN},
    {CTL_NONE, RT_FAILED, true, POL_RESTRICTED, I, HIDDEN},
    {CTL_NONE, RT_FAILED, false, POL_RESTRICTED, I, HIDDEN},
    {CTL_NONE, RT_OK, true, POL_RESTRICTED, I, HIDDEN},
    {CTL_NONE, RT_OK, false, POL_RESTRICTED, I, HIDDEN},
    {CTL_NONE, RT_NONE, true, POL_RESTRICTED, I, HIDDEN},
    {CTL_NONE, RT_NONE, false, POL_RESTRICTED, I, HIDDEN},
    /* ... unless the full policy, asked about the address, settles it. */
    {CTL_OK, RT_FAILED, false, POL_FULL_ACCEPTS, V, CONFIRMED},
    {CTL_FAILED, RT_FAILED, false, POL_FULL_ACCEPTS, I, CTL_BAD},
    {CTL_OK, RT_NONE, false, POL_FULL_ACCEPTS, I, NO_RETRY},
    {CTL_OK, RT_FAILED, false, POL_FULL_REJECTS, H, "its full exit policy rejects that address"},
    {CTL_FAILED, RT_NONE, false, POL_FULL_REJECTS, H, "its full exit policy rejects"},
};

/* The service check's rows (#11): what the destination said once reached,
 * whose identity answered, and the second target on the same circuit. */
#define SVC_TRY(proto_, ...)                                                                \
  {DONE_TRY, .o = {.connected = true, .connected_ms = 80, .service = {.proto = (proto_)}, \
                   __VA_ARGS__}}

static const ep_svc_result_t svc_ok = {.status = EP_SVC_ANSWERED, .code = 220,
                                       .answer = "220 mx.example ESMTP"};
static const ep_svc_result_t svc_421 = {.status = EP_SVC_ANSWERED, .refused = true, .code = 421,
                                        .answer = "421 too many connections from your net"};
static const ep_svc_result_t svc_403 = {.status = EP_SVC_ANSWERED, .refused = true, .code = 403,
                                        .answer = "HTTP/1.1 403 Forbidden"};
static const ep_svc_result_t svc_bye = {.status = EP_SVC_ANSWERED, .refused = true,
                                        .answer = "* BYE blocked"};
static const ep_svc_result_t svc_other = {.status = EP_SVC_NOT_PROTO, .why = "not SMTP: HTTP/1.1",
                                          .bytes_in = 20};
static const ep_svc_result_t svc_tls_bad = {.status = EP_SVC_NOT_PROTO, .why = "TLS alert 40",
                                            .bytes_in = 7};
static const ep_svc_result_t svc_none = {.status = EP_SVC_FAILED};
static const ep_svc_result_t svc_named = {.status = EP_SVC_ANSWERED, .code = 220,
                                          .answer = "220 proxy.evil ESMTP",
                                          .id_kind = EP_SVC_ID_HOSTNAME, .identity = "proxy.evil"};

typedef struct svc_row {
  const char *name;
  ep_probe_try_t main;
  unsigned seen;                /* target_ok_elsewhere */
  ep_identity_tally_t ids;
  ep_probe_try_t confirm;
  ep_class_t cls;
  ep_verdict_t verdict;
  const char *detail, *why;
  bool waits;
} svc_row_t;

#define TALLY(own_lead, lead, runner, with, fin)                                        \
  {.kind = EP_SVC_ID_HOSTNAME, .own_is_leader = (own_lead), .leader = (lead),           \
   .runner_up = (runner), .with_id = (with), .final = (fin),                            \
   .expected_kind = EP_SVC_ID_HOSTNAME, .expected = "mx.example"}

static const svc_row_t svc_rows[] = {
    {"answered", SVC_TRY(EP_SVC_SMTP, .svc = &svc_ok), 3, {0}, {0}, EP_CLASS_REACHABLE,
     H, "answered: 220 mx.example", "reached the port", false},
    {"a 421 greeting honours", SVC_TRY(EP_SVC_SMTP, .svc = &svc_421, CLOSED), 0, {0}, {0},
     EP_CLASS_REACHABLE_UNEXPECTED, H, "the destination refused: 421 too many", "its choice", false},
    {"HTTP 403 honours", SVC_TRY(EP_SVC_HTTP, .svc = &svc_403), 3, {0}, {0},
     EP_CLASS_REACHABLE_UNEXPECTED, H, "the destination refused: HTTP/1.1 403", "its choice", false},
    {"IMAP BYE honours", SVC_TRY(EP_SVC_IMAP, .svc = &svc_bye), 3, {0}, {0},
     EP_CLASS_REACHABLE_UNEXPECTED, H, "refused: * BYE blocked", "its choice", false},
    {"not the protocol, nowhere seen: honours (for now)", SVC_TRY(EP_SVC_SMTP, .svc = &svc_other),
     0, {0}, {0}, EP_CLASS_REACHABLE_UNEXPECTED, H, "not the port's protocol: not SMTP",
     "no exit saw the protocol there", true},
    {"not the protocol, seen elsewhere", SVC_TRY(EP_SVC_SMTP, .svc = &svc_other), 2, {0}, {0},
     EP_CLASS_REACHABLE_UNEXPECTED, I, "not SMTP", "another exit reached the real service", false},
    {"TLS failure after CONNECTED: not the protocol",
     {DONE_TRY, .o = {.connected = true, .service = {EP_SVC_HTTP, true}, .svc = &svc_tls_bad}},
     2, {0}, {0},
     EP_CLASS_REACHABLE_UNEXPECTED, I, "TLS alert 40", "another exit reached", false},
    {"server-first closed with nothing: blame as before",
     SVC_TRY(EP_SVC_SMTP, .svc = &svc_none, CLOSED), 3, {0}, {0}, EP_CLASS_CLOSED, V,
     "with nothing said", "closed, confirmed", false},
    {"client-first closed with nothing: the destination may have",
     SVC_TRY(EP_SVC_HTTP, .svc = &svc_none, CLOSED), 3, {0}, {0}, EP_CLASS_CLOSED, I,
     "the destination may have closed", "the destination may have closed", false},
    {"server-first silent", SVC_TRY(EP_SVC_SSH, .svc = &svc_none, .deadline_hit = true), 3, {0},
     {0}, EP_CLASS_SILENT, V, "nothing said before our deadline", "silent, confirmed", false},
    {"intercepted: 3 others agree on another identity",
     SVC_TRY(EP_SVC_SMTP, .svc = &svc_named), 3, TALLY(false, 3, 1, 4, false), {0},
     EP_CLASS_INTERCEPTED, V, "the one 3 of 4 exits saw", "a middlebox answers", false},
    {"another identity, no majority yet: waits", SVC_TRY(EP_SVC_SMTP, .svc = &svc_named), 3,
     TALLY(false, 2, 1, 3, false), {0}, EP_CLASS_REACHABLE, H, "answered", "reached", true},
    {"another identity, round over, no majority: inconclusive",
     SVC_TRY(EP_SVC_SMTP, .svc = &svc_named), 3, TALLY(false, 2, 2, 4, true), {0},
     EP_CLASS_REACHABLE, I, "answered", "no clear majority", false},
    {"target 1 failed, target 2 answered: target 1's problem", ENDED(EP_END_MISC, 90), 3, {0},
     SVC_TRY(EP_SVC_SMTP, .svc = &svc_ok), EP_CLASS_CONNECT_FAILED, I, "END MISC",
     "target 2 answered: target 1's problem", false},
    {"both targets failed the same way: confirmed", ENDED(EP_END_MISC, 90), 0, {0},
     ENDED(EP_END_MISC, 95), EP_CLASS_CONNECT_FAILED, V, "END MISC",
     "the second target failing the same way", false},
};

START_TEST(every_service_rule) {
  const svc_row_t *row = &svc_rows[_i];
  ep_probe_in_t in = {.main = row->main, .retry = row->main, .target_ok_elsewhere = row->seen,
                      .ids = row->ids,
                      .confirm = row->confirm, .confirm_target = "mx2.example", .n_control = 1};
  in.control[0] = dir_connected;
  ep_result_t r;
  ep_result_init(&r);
  bool waits = ep_probe_judge(&in, &r);
  ck_assert_msg(r.c.cls == row->cls, "%s: class %s", row->name, ep_class_name(r.c.cls));
  ck_assert_msg(r.verdict == row->verdict, "%s: verdict %s (%s)", row->name,
                ep_verdict_name(r.verdict), r.verdict_why);
  ck_assert_msg(strstr(r.c.why, row->detail) != NULL, "%s: detail '%s'", row->name, r.c.why);
  ck_assert_msg(strstr(r.verdict_why, row->why) != NULL, "%s: why '%s'", row->name,
                r.verdict_why);
  ck_assert_msg(waits == row->waits, "%s: waits %d", row->name, waits);
  if (r.c.cls == EP_CLASS_INTERCEPTED) {
    ck_assert_str_eq(r.c.expected_identity, "mx.example");
  }
}
END_TEST

/* The identity rule on its own (verdict.h): quorum, majority, ties. */
START_TEST(identity_rule) {
  ep_identity_tally_t t = TALLY(false, 3, 1, 4, false);
  ck_assert_int_eq(ep_identity_decide(&t), EP_ID_INTERCEPTED);
  t = (ep_identity_tally_t)TALLY(false, 2, 1, 3, false); /* only two others */
  ck_assert_int_eq(ep_identity_decide(&t), EP_ID_WAIT);
  t = (ep_identity_tally_t)TALLY(false, 4, 3, 7, true); /* not twice the runner-up */
  ck_assert_int_eq(ep_identity_decide(&t), EP_ID_UNDECIDED);
  t = (ep_identity_tally_t)TALLY(true, 3, 1, 4, false);
  ck_assert_int_eq(ep_identity_decide(&t), EP_ID_OK);
  t = (ep_identity_tally_t)TALLY(true, 2, 0, 2, false); /* all agree, too few yet */
  ck_assert_int_eq(ep_identity_decide(&t), EP_ID_WAIT);
  t.final = true;
  ck_assert_int_eq(ep_identity_decide(&t), EP_ID_OK);
  t = (ep_identity_tally_t)TALLY(true, 2, 2, 4, true);
  ck_assert_int_eq(ep_identity_decide(&t), EP_ID_UNDECIDED);
  t = (ep_identity_tally_t){0};
  ck_assert_int_eq(ep_identity_decide(&t), EP_ID_OK);
}
END_TEST

START_TEST(every_confirmation_case) {
  const confirm_row_t *row = &confirm_rows[_i];
  static const ep_probe_try_t misc = ENDED(EP_END_MISC, 104);
  static const ep_probe_try_t exitpolicy = ENDED(EP_END_EXITPOLICY, 40);
  static const ep_probe_try_t greeted = GREETED("220 mx.example ESMTP\r\n", .ended = false);
  bool is_exitpolicy = row->pol != POL_SUMMARY;
  ep_probe_in_t in = confirmed_input(is_exitpolicy ? &exitpolicy : &misc);
  in.target_ok_elsewhere = row->seen ? 2 : 0;
  in.retry = row->retry == RT_FAILED ? in.main
             : row->retry == RT_OK   ? greeted
                                     : (ep_probe_try_t){.has_stream = false};
  in.control[0] = dir_failed;
  in.n_control = row->ctl == CTL_NONE ? 0 : 1;
  if (row->ctl == CTL_OK) {
    in.control[0] = dir_connected;
  }
  in.policy_basis = row->pol == POL_FULL ? "full" : "summary";
  in.may_be_restricted = row->pol >= POL_RESTRICTED;
  in.full_policy_accepts = row->pol == POL_FULL_ACCEPTS ? 1 : row->pol == POL_FULL_REJECTS ? -1 : 0;
  ep_result_t r;
  ep_result_init(&r);
  bool waits = ep_probe_judge(&in, &r);
  ck_assert_int_eq(r.c.cls, is_exitpolicy ? EP_CLASS_EXITPOLICY : EP_CLASS_CONNECT_FAILED);
  ck_assert_msg(r.verdict == row->verdict, "row %d: verdict %s (%s)", _i,
                ep_verdict_name(r.verdict), r.verdict_why);
  ck_assert_msg(strstr(r.verdict_why, row->why) != NULL, "row %d: why '%s'", _i, r.verdict_why);
  /* What the record says about the confirmation. */
  ck_assert(r.control_tried == (row->ctl != CTL_NONE));
  ck_assert(r.control_ok == (row->ctl == CTL_OK));
  ck_assert(r.retry_tried == (row->retry != RT_NONE));
  ck_assert_int_eq(r.retry_cls, row->retry == RT_NONE ? EP_CLASS_COUNT
                                : row->retry == RT_OK ? EP_CLASS_REACHABLE
                                                      : r.c.cls);
  ck_assert_str_eq(r.policy_basis, row->pol == POL_SUMMARY || row->pol == POL_RESTRICTED
                                       ? "summary" : "full");
  ck_assert(r.policy_may_be_restricted == (row->pol >= POL_RESTRICTED));
  /* Only a failure the target could still confirm waits for it. */
  ck_assert_msg(waits == (row->pol == POL_SUMMARY && !row->seen), "row %d: waits %d", _i, waits);
}
END_TEST

/* A held record is judged again once the target answers elsewhere. */
START_TEST(held_record_judged_again) {
  static const ep_probe_try_t misc = ENDED(EP_END_MISC, 104);
  ep_probe_in_t in = confirmed_input(&misc);
  in.target_ok_elsewhere = 0;
  ep_result_t r;
  ep_result_init(&r);
  ck_assert(ep_probe_judge(&in, &r));
  ck_assert_int_eq(r.verdict, EP_VERDICT_INCONCLUSIVE);
  in.target_ok_elsewhere = 1;
  ck_assert(!ep_probe_judge(&in, &r));
  ck_assert_int_eq(r.verdict, EP_VERDICT_VIOLATES);
  ck_assert_str_eq(r.c.why, "END MISC (1) after 104 ms");
  /* The scan stopped first: nothing waits, nothing is blamed. */
  in.target_ok_elsewhere = 0;
  in.interrupted = true;
  ck_assert(!ep_probe_judge(&in, &r));
  ck_assert_int_eq(r.verdict, EP_VERDICT_INCONCLUSIVE);
}
END_TEST

/* The record's other fields that follow from the outcomes. */
START_TEST(record_fields) {
  static const ep_probe_try_t refused = ENDED(EP_END_CONNECTREFUSED, 61);
  ep_probe_in_t in = confirmed_input(&refused);
  in.control[1] = (ep_probe_control_t){.port = 443, .begun = true, .ended = true,
                                       .end_reason = EP_END_MISC};
  in.n_control = 2;
  in.policy_basis = NULL;
  ep_result_t r;
  ep_result_init(&r);
  ep_probe_judge(&in, &r);
  ck_assert_str_eq(r.control_detail, "BEGIN_DIR connected; port MISC (443)");
  ck_assert_int_eq(r.end_reason, EP_END_CONNECTREFUSED);
  ck_assert_int_eq(r.answer_ms, 61);
  ck_assert_str_eq(r.policy_basis, "unknown");
  /* A control stream never begun says nothing. */
  in.control[0].begun = false;
  in.control[1].begun = false;
  ep_probe_judge(&in, &r);
  ck_assert(!r.control_tried);
  ck_assert_str_eq(r.control_detail, "");
  /* No stream: no END, no answer time. */
  in.main = (ep_probe_try_t){.has_stream = false};
  ep_probe_judge(&in, &r);
  ck_assert_int_eq(r.end_reason, -1);
  ck_assert_int_eq(r.answer_ms, -1);
  /* Connected: the answer time is CONNECTED's. */
  in.main = (ep_probe_try_t){DONE_TRY, .o = {.connected = true, .connected_ms = 7, .ended = true,
                                             .end_reason = EP_END_DONE, .end_ms = 90}};
  ep_probe_judge(&in, &r);
  ck_assert_int_eq(r.answer_ms, 7);
  ck_assert_int_eq(r.end_reason, EP_END_DONE);
}
END_TEST

START_TEST(ports_that_greet) {
  ck_assert(ep_port_expects_greeting(25));
  ck_assert(ep_port_expects_greeting(587));
  ck_assert(!ep_port_expects_greeting(465));
  ck_assert(!ep_port_expects_greeting(443));
  ck_assert(!ep_port_expects_greeting(0));
}
END_TEST

static Suite *verdict_suite(void) {
  Suite *s = suite_create("verdict");
  TCase *tc = tcase_create("core");
  tcase_add_loop_test(tc, every_class, 0, (int)(sizeof class_rows / sizeof class_rows[0]));
  tcase_add_loop_test(tc, every_confirmation_case, 0,
                      (int)(sizeof confirm_rows / sizeof confirm_rows[0]));
  tcase_add_loop_test(tc, every_service_rule, 0, (int)(sizeof svc_rows / sizeof svc_rows[0]));
  tcase_add_test(tc, identity_rule);
  tcase_add_test(tc, held_record_judged_again);
  tcase_add_test(tc, record_fields);
  tcase_add_test(tc, ports_that_greet);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_suite(verdict_suite()); }
