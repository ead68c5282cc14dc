/* exitprobe — what one (exit, port) probe means, as one pure function.
 *
 * ep_probe_judge takes everything the scan knows about one probe — the
 * port's stream on the main attempt and on the retry, the control streams of
 * the main circuit, the policy the port was chosen from, whether the target
 * answered through other exits this round, whether the scan stopped first —
 * and writes what the record says: its class and detail (ep_classify, with
 * the job-level overrides), the control and retry fields, the verdict and
 * why (ep_verdict_decide). No I/O, no scan state, no globals: the same input
 * gives the same record, so the scan can call it again for a held record
 * once the target has answered elsewhere. See the README's "Classes:". */
#ifndef EP_PROBE_VERDICT_H
#define EP_PROBE_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "probe/engine/classify.h"
#include "probe/engine/result.h"

#define EP_PROBE_FAIL_MSG 160       /* an attempt's failure message (bytes with NUL) */
#define EP_PROBE_MAX_CONTROL 2      /* BEGIN_DIR and one port */

/* The port's stream on one attempt (the main one or the retry). */
typedef struct ep_probe_try {
  bool has_stream;                  /* the attempt had a stream for the port */
  bool begun, done;                 /* BEGIN was sent / the stream has its outcome */
  ep_stream_outcome_t o;            /* o.data is read during the call only */
  char fail_msg[EP_PROBE_FAIL_MSG]; /* the attempt's last failure, "" if none */
  char past_hop_msg[EP_PROBE_FAIL_MSG]; /* its first failure past a working first hop */
} ep_probe_try_t;

/* One control stream of the main circuit. */
typedef struct ep_probe_control {
  bool is_dir;                      /* BEGIN_DIR; else BEGIN to `port` */
  uint16_t port;
  bool begun, connected, ended;
  int end_reason;                   /* valid if ended */
} ep_probe_control_t;

/* The identities the round's exits saw for one (target, port), as this
 * probe's record stands among them (records.c keeps the counts). The rule
 * (README "Verdicts", interception): the leader is the identity most exits
 * saw; it is a clear majority when more than half of the exits with an
 * identity saw it (2 * leader > with_id) and at least twice as many as the
 * runner-up (leader >= 2 * runner_up), and established when also at least
 * EP_ID_QUORUM exits saw it. A probe that saw another identity than an
 * established leader was intercepted (the leader counts only other exits
 * then: at least three). One that saw the leader is OK once it is
 * established, or at the end of the round when every exit agreed. Any other
 * case waits during the round and is undecided at its end. */
#define EP_ID_QUORUM 3

typedef struct ep_identity_tally {
  ep_svc_id_kind_t kind;            /* this probe's identity kind; NONE: no identity */
  bool own_is_leader;               /* this probe saw the leading identity */
  unsigned leader, runner_up;       /* exits that saw the leader / the next most seen */
  unsigned with_id;                 /* exits that saw an identity (this one included) */
  bool final;                       /* the round is over: no more exits will come */
  ep_svc_id_kind_t expected_kind;   /* the leader's kind and value */
  char expected[EP_SVC_IDENTITY];
} ep_identity_tally_t;

ep_id_state_t ep_identity_decide(const ep_identity_tally_t *t);

typedef struct ep_probe_in {
  bool interrupted;                 /* the scan stopped before the job finished */
  ep_probe_try_t main;
  ep_probe_try_t retry;             /* has_stream false: no retry for the port */
  ep_probe_try_t confirm;           /* the same circuit, the port's second default target
                                       (#11); has_stream false: none */
  const char *confirm_target;       /* its host name, or NULL */
  ep_probe_control_t control[EP_PROBE_MAX_CONTROL];
  size_t n_control;
  const char *policy_basis;         /* static: "summary", "full", ...; NULL "unknown" */
  bool may_be_restricted;           /* the summary may hide an address restriction */
  int full_policy_accepts;          /* the full policy on the address END EXITPOLICY
                                       named: 1 accepts, -1 rejects, 0 unknown/not asked */
  unsigned target_ok_elsewhere;     /* exits this round through which the target answered */
  ep_identity_tally_t ids;          /* kind NONE (zeroed): no identity to compare (#11) */
} ep_probe_in_t;

/* Writes r->c (class, greeting, detail), end_reason, answer_ms, control_*,
 * retry_tried, retry_cls, policy_basis, policy_may_be_restricted, verdict
 * and verdict_why; leaves every other field of r alone. Returns true when
 * the record waits for the target: a failure other than EXITPOLICY, an
 * inconclusive verdict, no other exit through which the target answered yet,
 * the scan not interrupted. Its verdict may change once the target answers
 * elsewhere: the caller can hold the record and call again then. */
bool ep_probe_judge(const ep_probe_in_t *in, ep_result_t *r);
/* What the judge said about the confirm stream: EP_CLASS_COUNT if none. */
ep_class_t ep_probe_confirm_class(const ep_probe_in_t *in);

#endif
