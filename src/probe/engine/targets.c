/* exitprobe — default probe targets (README: "Default targets"). Each is a
 * large, stable service that greets every client, so that a failure says
 * something about the exit, not the target. */
#include "config.h"

#include "probe/engine/targets.h"

#include <stddef.h>

const char *ep_default_target(uint16_t port) {
  switch (port) {
    case 25: return "gmail-smtp-in.l.google.com";  /* MX: greets "220 mx.google.com ESMTP" */
    case 465:                                      /* SMTPS (TLS first: CONNECTED is the answer) */
    case 587: return "smtp.gmail.com";             /* submission: greets "220 smtp.gmail.com" */
    case 80:
    case 443: return "www.torproject.org";
    default: return NULL;
  }
}

/* Placeholder until the table of issue #11 lands: the one target above. */
size_t ep_default_targets(uint16_t port, const char *out[2]) {
  out[0] = ep_default_target(port);
  out[1] = NULL;
  return out[0] != NULL ? 1 : 0;
}
