/* exitprobe — what one probe stream's outcome means (sans I/O).
 *
 * A class says what happened on the stream; a verdict says whether the exit
 * honours its announced policy, and is only given when the failure is the
 * exit's own: the circuit reached the exit, the same circuit worked for
 * another use (control), a retry through another first hop failed the same
 * way, and the target answered through other exits. See DESIGN.md. */
#ifndef EP_PROBE_CLASSIFY_H
#define EP_PROBE_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "probe/engine/smtp.h"
#include "probe/engine/svc.h"
#include "proto/relaymsg.h"   /* EP_END_* reasons and their names */

typedef enum ep_class {
  EP_CLASS_REACHABLE = 0,        /* connected; the service said what it should */
  EP_CLASS_REACHABLE_UNEXPECTED, /* connected; wrong greeting (4xx/5xx, not SMTP) */
  EP_CLASS_CLOSED,               /* connected, then closed with no greeting */
  EP_CLASS_SILENT,               /* connected, nothing said before the deadline */
  EP_CLASS_CONNECT_FAILED,       /* END MISC: tor 0.4.9 reports refused/unreachable so */
  EP_CLASS_REFUSED,              /* END CONNECTREFUSED */
  EP_CLASS_NOROUTE,              /* END NOROUTE */
  EP_CLASS_TIMEOUT,              /* END TIMEOUT/INTERNAL after a long wait, or our deadline */
  EP_CLASS_EXITPOLICY,           /* END EXITPOLICY: refuses what its policy announces */
  EP_CLASS_RESOLVEFAILED,
  EP_CLASS_CONNRESET,
  EP_CLASS_RESOURCELIMIT,
  EP_CLASS_HIBERNATING,
  EP_CLASS_OTHER_END,            /* any other END reason, kept by number */
  EP_CLASS_INTERCEPTED,          /* another identity answered than through most exits (#11) */
  EP_CLASS_CIRCUIT_FAILED,       /* the circuit never reached the exit: no verdict */
  EP_CLASS_FIRST_HOP_FAILED,     /* the first hop's link failed: no verdict */
  EP_CLASS_PROTOCOL_ERROR,       /* the relay broke the protocol */
  EP_CLASS_COUNT
} ep_class_t;

const char *ep_class_name(ep_class_t c);
/* -1 if unknown. */
int ep_class_parse(const char *name);
/* True for classes that say the exit could not do what its policy announces
 * (if confirmed); false for reachable and for no-verdict classes. */
bool ep_class_is_failure(ep_class_t c);
/* True for classes that say nothing about the port (circuit never got there). */
bool ep_class_is_no_verdict(ep_class_t c);

/* What the engine saw on one stream. Times in ms from sending BEGIN. */
typedef struct ep_stream_outcome {
  bool first_hop_failed;     /* TLS/link to the first hop failed */
  bool circuit_failed;       /* CREATE/EXTEND failed or circuit destroyed before BEGIN */
  bool protocol_error;       /* malformed/unexpected cells from a relay */
  bool connected;            /* CONNECTED arrived */
  int64_t connected_ms;
  bool ended;                /* RELAY_END arrived */
  int end_reason;            /* raw reason byte, valid if ended */
  int64_t end_ms;
  bool deadline_hit;         /* our own deadline fired first */
  bool expect_greeting;      /* the service speaks first (SMTP 25/587) */
  ep_svc_spec_t service;     /* the service checked on the stream (#11) */
  const ep_svc_result_t *svc;/* what the check found; NULL: no check ran. Read during the call only */
  const uint8_t *data;       /* stream data received (up to the banner cap) */
  size_t data_len;
} ep_stream_outcome_t;

typedef struct ep_classification {
  ep_class_t cls;
  ep_greeting_t greeting;    /* parsed greeting (kind NONE if no data) */
  char why[160];             /* one line: "END MISC (1) after 104 ms" */
  /* #11 verdict semantics (what the service check found; see README "Verdicts"): */
  bool refused;              /* the destination answered and said no (421/554, HTTP 403,
                                IMAP BYE, ...): its choice, the exit honoured the port */
  bool not_proto;            /* something answered, but not the port's protocol (or TLS failed) */
  bool dest_may_close;       /* a client-first service closed with nothing said: the
                                destination may have closed it; never the exit's blame */
  ep_svc_id_kind_t expected_kind; /* intercepted: what the majority of exits saw, */
  char expected_identity[EP_SVC_IDENTITY]; /* else EP_SVC_ID_NONE and "" */
} ep_classification_t;

/* An END reason's tor-spec name in capitals ("MISC", "EXITPOLICY", "UNKNOWN"). */
const char *ep_end_reason_upper(int reason, char *buf, size_t cap);

void ep_classify(const ep_stream_outcome_t *o, ep_classification_t *out);

typedef enum ep_verdict {
  EP_VERDICT_HONOURS = 0,
  EP_VERDICT_VIOLATES,
  EP_VERDICT_INCONCLUSIVE
} ep_verdict_t;

const char *ep_verdict_name(ep_verdict_t v);
int ep_verdict_parse(const char *name);

/* Where a probe's destination identity stands among the identities the
 * round's exits saw for the same (target, port) (ep_identity_decide). */
typedef enum ep_id_state {
  EP_ID_OK = 0,          /* no identity, or it agrees with an established majority / everyone */
  EP_ID_WAIT,            /* no decision yet: hold the record */
  EP_ID_INTERCEPTED,     /* another identity than a clear majority of other exits saw */
  EP_ID_UNDECIDED        /* the round ended with identities that disagree, no clear majority */
} ep_id_state_t;

/* The evidence a verdict is made from. */
typedef struct ep_verdict_input {
  ep_class_t cls;
  bool policy_may_be_restricted;  /* the policy summary might hide an address restriction */
  int full_policy_accepts;        /* EXITPOLICY: the exit's full policy on the address the
                                     exit named: 1 accepts, -1 rejects, 0 unknown */
  bool control_ok;                /* the same circuit worked for another use */
  bool control_tried;
  bool retry_tried;               /* a retry through another first hop was made */
  ep_class_t retry_cls;           /* its class */
  unsigned target_ok_elsewhere;   /* exits this round through which the target answered */
  /* #11: */
  bool refused, not_proto, dest_may_close; /* from the classification */
  ep_id_state_t id_state;         /* the identity's standing among the round's exits */
  bool confirm_tried;             /* the same circuit tried the port's second target */
  ep_class_t confirm_cls;         /* its class */
} ep_verdict_input_t;

ep_verdict_t ep_verdict_decide(const ep_verdict_input_t *in, char *why, size_t whylen);

#endif
