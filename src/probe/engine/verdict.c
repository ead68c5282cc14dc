/* exitprobe — what one (exit, port) probe means (see verdict.h). */
#include "config.h"

#include "probe/engine/verdict.h"

#include <stdio.h>
#include <string.h>

static bool circuit_never_reached(const ep_stream_outcome_t *o) {
  return o->first_hop_failed || o->circuit_failed || o->protocol_error;
}

/* The class and detail of the port's stream on one attempt, with the
 * job-level overrides: a stream never opened or never begun says why, and a
 * circuit failure is named by the attempt's own message. */
static void try_class(const ep_probe_try_t *t, bool interrupted, ep_classification_t *c) {
  if (!t->has_stream) {
    memset(c, 0, sizeof *c);
    c->cls = EP_CLASS_CIRCUIT_FAILED;
    snprintf(c->why, sizeof c->why, "not probed: %s",
             interrupted ? "the scan was stopped first" : "no stream was opened");
    return;
  }
  ep_classify(&t->o, c);
  if (!t->begun && !t->done) {
    /* Never began: the scan ended first. */
    c->cls = EP_CLASS_CIRCUIT_FAILED;
    snprintf(c->why, sizeof c->why, "%s", t->fail_msg[0] != '\0' ? t->fail_msg : "never started");
  } else if (t->o.first_hop_failed && t->past_hop_msg[0] != '\0') {
    /* Out of first hops, the last one down, but an earlier try got past its
     * first hop: the exit is what failed, whatever the later tries met — a
     * consensus lists relays that are down by now, and the last try landing
     * on one must not hide what happened before. Both failures are named. */
    c->cls = EP_CLASS_CIRCUIT_FAILED;
    snprintf(c->why, sizeof c->why, "%.90s; then %.60s", t->past_hop_msg, t->fail_msg);
  } else if (circuit_never_reached(&t->o) && t->fail_msg[0] != '\0') {
    snprintf(c->why, sizeof c->why, "%s", t->fail_msg);
  }
}

/* Did the same circuit work for another use? One "; "-separated part per
 * control stream begun: "BEGIN_DIR connected; port MISC (443)". */
static void control_fields(const ep_probe_in_t *in, ep_result_t *r) {
  r->control_tried = false;
  r->control_ok = false;
  r->control_detail[0] = '\0';
  for (size_t i = 0; i < in->n_control && i < EP_PROBE_MAX_CONTROL; i++) {
    const ep_probe_control_t *k = &in->control[i];
    if (!k->begun) {
      continue;
    }
    r->control_tried = true;
    r->control_ok = r->control_ok || k->connected;
    char *d = r->control_detail;
    size_t used = strlen(d);
    char rb[24];
    snprintf(d + used, sizeof r->control_detail - used, "%s%s %s", used ? "; " : "",
             k->is_dir ? "BEGIN_DIR" : "port",
             k->connected ? "connected"
                          : (k->ended ? ep_end_reason_upper(k->end_reason, rb, sizeof rb) : "no answer"));
    if (!k->is_dir) {
      used = strlen(d);
      snprintf(d + used, sizeof r->control_detail - used, " (%u)", k->port);
    }
  }
}

ep_id_state_t ep_identity_decide(const ep_identity_tally_t *t) {
  if (t->kind == EP_SVC_ID_NONE || t->with_id == 0) {
    return EP_ID_OK;
  }
  bool clear = 2 * t->leader > t->with_id && t->leader >= 2 * t->runner_up;
  bool established = clear && t->leader >= EP_ID_QUORUM;
  if (t->own_is_leader) {
    if (established || (t->final && t->leader == t->with_id)) {
      return EP_ID_OK;
    }
  } else if (established) {
    return EP_ID_INTERCEPTED;
  }
  return t->final ? EP_ID_UNDECIDED : EP_ID_WAIT;
}

/* Interception overrides what the stream's class said (it was connected). */
static void judge_identity(const ep_probe_in_t *in, ep_id_state_t st, ep_result_t *r) {
  if (st != EP_ID_INTERCEPTED) {
    return;
  }
  const ep_identity_tally_t *t = &in->ids;
  r->c.cls = EP_CLASS_INTERCEPTED;
  r->c.expected_kind = t->expected_kind;
  snprintf(r->c.expected_identity, sizeof r->c.expected_identity, "%s", t->expected);
  snprintf(r->c.why, sizeof r->c.why,
           "another identity answered than the one %u of %u exits saw", t->leader, t->with_id);
}

ep_class_t ep_probe_confirm_class(const ep_probe_in_t *in) {
  if (!in->confirm.has_stream || !(in->confirm.begun || in->confirm.done)) {
    return EP_CLASS_COUNT;
  }
  ep_classification_t cc;
  try_class(&in->confirm, in->interrupted, &cc);
  return cc.cls;
}

bool ep_probe_judge(const ep_probe_in_t *in, ep_result_t *r) {
  const ep_probe_try_t *m = &in->main;
  try_class(m, in->interrupted, &r->c);
  ep_id_state_t ids = r->c.cls == EP_CLASS_REACHABLE || r->c.cls == EP_CLASS_REACHABLE_UNEXPECTED
                          ? ep_identity_decide(&in->ids)
                          : EP_ID_OK;
  judge_identity(in, ids, r);
  r->end_reason = (m->has_stream && m->o.ended) ? m->o.end_reason : -1;
  r->answer_ms = !m->has_stream  ? -1
                 : m->o.connected ? m->o.connected_ms
                 : m->o.ended     ? m->o.end_ms
                                  : -1;
  control_fields(in, r);
  r->retry_tried = in->retry.has_stream && (in->retry.begun || in->retry.done);
  r->retry_cls = EP_CLASS_COUNT;
  if (r->retry_tried) {
    ep_classification_t rc;
    try_class(&in->retry, in->interrupted, &rc);
    r->retry_cls = rc.cls;
  }
  bool exitpolicy = r->c.cls == EP_CLASS_EXITPOLICY;
  int full = exitpolicy ? in->full_policy_accepts : 0;
  r->policy_basis = full != 0 ? "full" : (in->policy_basis != NULL ? in->policy_basis : "unknown");
  r->policy_may_be_restricted = in->may_be_restricted;
  ep_verdict_input_t vin = {.cls = r->c.cls,
                            .full_policy_accepts = full,
                            .policy_may_be_restricted = in->may_be_restricted,
                            .control_ok = r->control_ok,
                            .control_tried = r->control_tried,
                            .retry_tried = r->retry_tried,
                            .retry_cls = r->retry_cls,
                            .target_ok_elsewhere = in->target_ok_elsewhere,
                            .refused = r->c.refused,
                            .not_proto = r->c.not_proto,
                            .dest_may_close = r->c.dest_may_close,
                            .id_state = ids,
                            .confirm_cls = ep_probe_confirm_class(in)};
  vin.confirm_tried = vin.confirm_cls != EP_CLASS_COUNT && !ep_class_is_no_verdict(vin.confirm_cls);
  r->verdict = ep_verdict_decide(&vin, r->verdict_why, sizeof r->verdict_why);
  if (in->interrupted) {
    snprintf(r->verdict_why, sizeof r->verdict_why,
             "the scan was interrupted before this probe finished");
    r->verdict = r->c.cls == EP_CLASS_REACHABLE ? EP_VERDICT_HONOURS : EP_VERDICT_INCONCLUSIVE;
    return false;
  }
  if (ids == EP_ID_WAIT) {
    return true; /* the identity waits for more exits (records.c holds it) */
  }
  bool waits_target = ep_class_is_failure(r->c.cls) || r->c.not_proto;
  return waits_target && !r->c.refused && !exitpolicy && in->target_ok_elsewhere == 0 &&
         r->verdict != EP_VERDICT_VIOLATES && !(r->c.cls == EP_CLASS_CLOSED && r->c.dest_may_close);
}
