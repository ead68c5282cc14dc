/* exitprobe — classification and verdicts. */
#include "config.h"

#include "probe/engine/classify.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "lib/escape.h"

static const char *const class_names[EP_CLASS_COUNT] = {
    [EP_CLASS_REACHABLE] = "reachable",
    [EP_CLASS_REACHABLE_UNEXPECTED] = "reachable-unexpected",
    [EP_CLASS_CLOSED] = "closed",
    [EP_CLASS_SILENT] = "silent",
    [EP_CLASS_CONNECT_FAILED] = "connect-failed",
    [EP_CLASS_REFUSED] = "refused",
    [EP_CLASS_NOROUTE] = "noroute",
    [EP_CLASS_TIMEOUT] = "timeout",
    [EP_CLASS_EXITPOLICY] = "exitpolicy",
    [EP_CLASS_RESOLVEFAILED] = "resolvefailed",
    [EP_CLASS_CONNRESET] = "connreset",
    [EP_CLASS_RESOURCELIMIT] = "resourcelimit",
    [EP_CLASS_HIBERNATING] = "hibernating",
    [EP_CLASS_OTHER_END] = "other-end",
    [EP_CLASS_INTERCEPTED] = "intercepted",
    [EP_CLASS_CIRCUIT_FAILED] = "circuit-failed",
    [EP_CLASS_FIRST_HOP_FAILED] = "first-hop-failed",
    [EP_CLASS_PROTOCOL_ERROR] = "protocol-error",
};

const char *ep_class_name(ep_class_t c) {
  return (c >= 0 && c < EP_CLASS_COUNT) ? class_names[c] : "unknown";
}

int ep_class_parse(const char *name) {
  for (int i = 0; i < EP_CLASS_COUNT; i++) {
    if (strcmp(class_names[i], name) == 0) {
      return i;
    }
  }
  return -1;
}

bool ep_class_is_no_verdict(ep_class_t c) {
  return c == EP_CLASS_CIRCUIT_FAILED || c == EP_CLASS_FIRST_HOP_FAILED ||
         c == EP_CLASS_PROTOCOL_ERROR;
}

bool ep_class_is_failure(ep_class_t c) {
  return c != EP_CLASS_REACHABLE && !ep_class_is_no_verdict(c);
}

const char *ep_end_reason_upper(int r, char *buf, size_t cap) {
  const char *n = r >= 0 ? ep_end_reason_name((unsigned)r) : NULL;
  if (n == NULL) {
    n = "unknown";
  }
  size_t i = 0;
  for (; n[i] != '\0' && i + 1 < cap; i++) {
    buf[i] = (char)toupper((unsigned char)n[i]);
  }
  buf[i] = '\0';
  return buf;
}

/* The name tor-spec gives an END reason (REASON_MISC → "MISC"), for "why". */
#define end_name(r) ep_end_reason_upper((r), (char[24]){0}, 24)

/* tor 0.4.9 answers some failed connects with a quick END INTERNAL (seen
 * under load, within a second), and a connect that timed out (DROP) with END
 * INTERNAL after ~2 minutes: the time tells them apart. */
#define EP_QUICK_INTERNAL_MS 10000

static ep_class_t class_of_end(int reason, int64_t ms) {
  if (reason == EP_END_INTERNAL) {
    return ms < EP_QUICK_INTERNAL_MS ? EP_CLASS_CONNECT_FAILED : EP_CLASS_TIMEOUT;
  }
  switch (reason) {
    case EP_END_MISC: return EP_CLASS_CONNECT_FAILED;
    case EP_END_CONNECTREFUSED: return EP_CLASS_REFUSED;
    case EP_END_NOROUTE: return EP_CLASS_NOROUTE;
    case EP_END_TIMEOUT: return EP_CLASS_TIMEOUT;
    case EP_END_EXITPOLICY: return EP_CLASS_EXITPOLICY;
    case EP_END_RESOLVEFAILED: return EP_CLASS_RESOLVEFAILED;
    case EP_END_CONNRESET: return EP_CLASS_CONNRESET;
    case EP_END_RESOURCELIMIT: return EP_CLASS_RESOURCELIMIT;
    case EP_END_HIBERNATING: return EP_CLASS_HIBERNATING;
    case EP_END_TORPROTOCOL: return EP_CLASS_PROTOCOL_ERROR;
    default: return EP_CLASS_OTHER_END;
  }
}

/* Does the service speak first? (svc.h's ep_svc_server_first gives the same
 * answer; kept here so the classification links without the checks.) */
static bool speaks_first(ep_svc_spec_t sp) {
  switch (sp.proto) {
    case EP_SVC_SMTP: case EP_SVC_FTP: case EP_SVC_SSH: case EP_SVC_POP3:
    case EP_SVC_IMAP: case EP_SVC_IRC: case EP_SVC_NNTP: return !sp.tls;
    default: return false;
  }
}

/* Connected, the service check ran: what the destination said (README "Classes"). */
static void classify_svc(const ep_stream_outcome_t *o, ep_classification_t *out) {
  const ep_svc_result_t *v = o->svc;
  char said[4 * EP_SVC_ANSWER + 1];
  const char *src = v->status == EP_SVC_ANSWERED ? v->answer : v->why;
  ep_escape_text(said, sizeof said, src, strnlen(src, EP_SVC_ANSWER));
  long long ms = (long long)o->connected_ms;
  if (o->service.proto == EP_SVC_TCP && !o->service.tls) {
    out->cls = EP_CLASS_REACHABLE; /* no protocol to check: CONNECTED is the answer */
    snprintf(out->why, sizeof out->why, "CONNECTED after %lld ms%s%.100s", ms,
             said[0] != '\0' ? ", said: " : "", said);
  } else if (v->status == EP_SVC_ANSWERED && !v->refused) {
    out->cls = EP_CLASS_REACHABLE;
    snprintf(out->why, sizeof out->why, "CONNECTED after %lld ms, answered: %.110s", ms, said);
  } else if (v->status == EP_SVC_ANSWERED) {
    out->cls = EP_CLASS_REACHABLE_UNEXPECTED;
    out->refused = true;
    snprintf(out->why, sizeof out->why, "the destination refused: %.120s", said);
  } else if (v->status == EP_SVC_NOT_PROTO || v->bytes_in > 0) {
    out->cls = EP_CLASS_REACHABLE_UNEXPECTED;
    out->not_proto = true;
    snprintf(out->why, sizeof out->why, "CONNECTED, not the port's protocol: %.110s",
             said[0] != '\0' ? said : "no complete answer");
  } else if (o->ended) {
    out->cls = EP_CLASS_CLOSED;
    out->dest_may_close = !speaks_first(o->service);
    snprintf(out->why, sizeof out->why, "CONNECTED, then END %s (%d) with nothing said%s",
             end_name(o->end_reason), o->end_reason,
             out->dest_may_close ? " (the client speaks first: the destination may have closed)"
                                 : "");
  } else {
    out->cls = EP_CLASS_SILENT;
    snprintf(out->why, sizeof out->why, "CONNECTED, nothing said before our deadline");
  }
}

/* Connected, no service check: the SMTP greeting path (expect_greeting). */
static void classify_greeting(const ep_stream_outcome_t *o, ep_classification_t *out) {
  bool eof = o->ended || o->deadline_hit;
  ep_greeting_parse(o->data, o->data_len, eof, &out->greeting);
  const ep_greeting_t *g = &out->greeting;
  if (!o->expect_greeting) {
    out->cls = EP_CLASS_REACHABLE;
    snprintf(out->why, sizeof out->why, "CONNECTED after %lld ms", (long long)o->connected_ms);
    return;
  }
  if (ep_greeting_is_ready(g)) {
    out->cls = EP_CLASS_REACHABLE;
    snprintf(out->why, sizeof out->why, "CONNECTED after %lld ms, greeting %d",
             (long long)o->connected_ms, g->code);
  } else if (g->kind == EP_GREETING_NONE && o->data_len == 0) {
    if (o->ended) {
      out->cls = EP_CLASS_CLOSED;
      snprintf(out->why, sizeof out->why, "CONNECTED, then END %s (%d) with no greeting",
               end_name(o->end_reason), o->end_reason);
    } else {
      out->cls = EP_CLASS_SILENT;
      snprintf(out->why, sizeof out->why, "CONNECTED, no greeting before our deadline");
    }
  } else if (g->kind == EP_GREETING_SMTP) {
    out->cls = EP_CLASS_REACHABLE_UNEXPECTED;
    out->refused = g->code >= 400;
    snprintf(out->why, sizeof out->why, "%sgreeting %d instead of 220",
             out->refused ? "the destination refused: " : "CONNECTED, ", g->code);
  } else {
    out->cls = EP_CLASS_REACHABLE_UNEXPECTED;
    out->not_proto = true;
    snprintf(out->why, sizeof out->why, "CONNECTED, %zu bytes that are not an SMTP greeting",
             g->len);
  }
}

void ep_classify(const ep_stream_outcome_t *o, ep_classification_t *out) {
  memset(out, 0, sizeof *out);
  if (o->first_hop_failed) {
    out->cls = EP_CLASS_FIRST_HOP_FAILED;
    snprintf(out->why, sizeof out->why, "the link to the first hop failed");
    return;
  }
  if (o->protocol_error) {
    out->cls = EP_CLASS_PROTOCOL_ERROR;
    snprintf(out->why, sizeof out->why, "a relay broke the protocol");
    return;
  }
  if (o->circuit_failed) {
    out->cls = EP_CLASS_CIRCUIT_FAILED;
    snprintf(out->why, sizeof out->why, "the circuit never reached the exit");
    return;
  }
  if (!o->connected) {
    if (o->ended) {
      out->cls = class_of_end(o->end_reason, o->end_ms);
      snprintf(out->why, sizeof out->why, "END %s (%d) after %lld ms", end_name(o->end_reason),
               o->end_reason, (long long)o->end_ms);
    } else {
      out->cls = EP_CLASS_TIMEOUT;
      snprintf(out->why, sizeof out->why, "no answer to BEGIN before our deadline");
    }
    return;
  }
  if (o->svc != NULL) {
    classify_svc(o, out);
    if (o->service.proto == EP_SVC_SMTP && !o->service.tls) {
      /* The raw greeting, byte for byte, for the record's banner (cell-level debugging). */
      ep_greeting_parse(o->data, o->data_len, o->ended || o->deadline_hit, &out->greeting);
    }
  } else {
    classify_greeting(o, out);
  }
}

static const char *const verdict_names[] = {"honours", "violates", "inconclusive"};

const char *ep_verdict_name(ep_verdict_t v) {
  return (v >= 0 && v <= EP_VERDICT_INCONCLUSIVE) ? verdict_names[v] : "unknown";
}

int ep_verdict_parse(const char *name) {
  for (int i = 0; i <= EP_VERDICT_INCONCLUSIVE; i++) {
    if (strcmp(verdict_names[i], name) == 0) {
      return i;
    }
  }
  return -1;
}

/* The #11 rules that come before the confirmation: what the destination
 * said once reached, and whose identity answered. Returns -1 when none applies. */
static int decide_service(const ep_verdict_input_t *in, char *why, size_t whylen) {
  if (in->cls == EP_CLASS_INTERCEPTED) {
    snprintf(why, whylen, "another identity answered than through a clear majority of exits: "
                          "a middlebox answers in the destination's name");
    return EP_VERDICT_VIOLATES;
  }
  if (in->id_state == EP_ID_UNDECIDED) {
    snprintf(why, whylen, "the exits saw different identities for this destination, "
                          "with no clear majority");
    return EP_VERDICT_INCONCLUSIVE;
  }
  if (in->cls == EP_CLASS_REACHABLE_UNEXPECTED && in->refused) {
    snprintf(why, whylen, "the exit reached the destination, which refused: its choice");
    return EP_VERDICT_HONOURS;
  }
  if (in->cls == EP_CLASS_REACHABLE_UNEXPECTED && in->not_proto) {
    if (in->target_ok_elsewhere > 0) {
      snprintf(why, whylen, "another exit reached the real service; this one got something else");
      return EP_VERDICT_INCONCLUSIVE;
    }
    snprintf(why, whylen, "the exit reached the destination; no exit saw the protocol there");
    return EP_VERDICT_HONOURS;
  }
  if (in->cls == EP_CLASS_CLOSED && in->dest_may_close) {
    snprintf(why, whylen, "closed before the client spoke: the destination may have closed");
    return EP_VERDICT_INCONCLUSIVE;
  }
  bool failure = ep_class_is_failure(in->cls) && in->cls != EP_CLASS_EXITPOLICY;
  if (failure && in->confirm_tried &&
      (in->confirm_cls == EP_CLASS_REACHABLE || in->confirm_cls == EP_CLASS_REACHABLE_UNEXPECTED)) {
    snprintf(why, whylen, "target 1 failed through this exit, target 2 answered: "
                          "target 1's problem");
    return EP_VERDICT_INCONCLUSIVE;
  }
  return -1;
}

ep_verdict_t ep_verdict_decide(const ep_verdict_input_t *in, char *why, size_t whylen) {
  int s = decide_service(in, why, whylen);
  if (s >= 0) {
    return (ep_verdict_t)s;
  }
  if (in->cls == EP_CLASS_REACHABLE) {
    snprintf(why, whylen, "the exit reached the port");
    return EP_VERDICT_HONOURS;
  }
  if (ep_class_is_no_verdict(in->cls)) {
    snprintf(why, whylen, "%s: nothing is known about the port", ep_class_name(in->cls));
    return EP_VERDICT_INCONCLUSIVE;
  }
  if (in->cls == EP_CLASS_RESOLVEFAILED || in->cls == EP_CLASS_HIBERNATING ||
      in->cls == EP_CLASS_RESOURCELIMIT) {
    snprintf(why, whylen, "%s says nothing about the port", ep_class_name(in->cls));
    return EP_VERDICT_INCONCLUSIVE;
  }
  if (in->cls == EP_CLASS_EXITPOLICY && in->full_policy_accepts < 0) {
    snprintf(why, whylen, "its full exit policy rejects that address: the summary could not say so");
    return EP_VERDICT_HONOURS;
  }
  if (in->cls == EP_CLASS_EXITPOLICY && in->policy_may_be_restricted && in->full_policy_accepts != 1) {
    snprintf(why, whylen, "the policy summary may hide an address restriction");
    return EP_VERDICT_INCONCLUSIVE;
  }
  if (in->control_tried && !in->control_ok) {
    snprintf(why, whylen, "the same circuit failed for other uses too");
    return EP_VERDICT_INCONCLUSIVE;
  }
  /* Target 2 failed the same way on the same circuit: two independent
   * targets, so it counts like the retry and like the target answering elsewhere. */
  bool by_confirm = in->confirm_tried && in->confirm_cls == in->cls;
  if (in->target_ok_elsewhere == 0 && in->cls != EP_CLASS_EXITPOLICY && !by_confirm) {
    snprintf(why, whylen, "the target answered through no other exit");
    return EP_VERDICT_INCONCLUSIVE;
  }
  if (in->retry_tried && in->retry_cls == EP_CLASS_REACHABLE) {
    snprintf(why, whylen, "a retry through another first hop reached the port");
    return EP_VERDICT_INCONCLUSIVE;
  }
  if (in->retry_tried && ep_class_is_no_verdict(in->retry_cls) && !by_confirm) {
    snprintf(why, whylen, "the retry never reached the exit");
    return EP_VERDICT_INCONCLUSIVE;
  }
  if ((!in->retry_tried && !by_confirm) || !in->control_tried) {
    snprintf(why, whylen, "%s, not confirmed (%s)", ep_class_name(in->cls),
             (!in->retry_tried && !by_confirm) ? "no retry" : "no control stream");
    return EP_VERDICT_INCONCLUSIVE;
  }
  snprintf(why, whylen, "%s, confirmed by %s%s", ep_class_name(in->cls),
           by_confirm ? "the second target failing the same way on the same circuit"
                      : "a retry through another first hop",
           in->control_ok ? "; the same circuit works for other uses" : "");
  return EP_VERDICT_VIOLATES;
}
