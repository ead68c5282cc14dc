/* exitprobe — classification and verdicts. */
#include "config.h"

#include "probe/engine/classify.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

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
  /* Connected: what did the service say? */
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
  } else {
    out->cls = EP_CLASS_REACHABLE_UNEXPECTED;
    if (g->kind == EP_GREETING_SMTP) {
      snprintf(out->why, sizeof out->why, "CONNECTED, greeting %d instead of 220", g->code);
    } else {
      snprintf(out->why, sizeof out->why, "CONNECTED, %zu bytes that are not an SMTP greeting",
               g->len);
    }
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

ep_verdict_t ep_verdict_decide(const ep_verdict_input_t *in, char *why, size_t whylen) {
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
  if (in->target_ok_elsewhere == 0 && in->cls != EP_CLASS_EXITPOLICY) {
    snprintf(why, whylen, "the target answered through no other exit");
    return EP_VERDICT_INCONCLUSIVE;
  }
  if (in->retry_tried && in->retry_cls == EP_CLASS_REACHABLE) {
    snprintf(why, whylen, "a retry through another first hop reached the port");
    return EP_VERDICT_INCONCLUSIVE;
  }
  if (in->retry_tried && ep_class_is_no_verdict(in->retry_cls)) {
    snprintf(why, whylen, "the retry never reached the exit");
    return EP_VERDICT_INCONCLUSIVE;
  }
  if (!in->retry_tried || !in->control_tried) {
    snprintf(why, whylen, "%s, not confirmed (%s)", ep_class_name(in->cls),
             !in->retry_tried ? "no retry" : "no control stream");
    return EP_VERDICT_INCONCLUSIVE;
  }
  snprintf(why, whylen, "%s, confirmed by a retry through another first hop%s",
           ep_class_name(in->cls), in->control_ok ? "; the same circuit works for other uses" : "");
  return EP_VERDICT_VIOLATES;
}
