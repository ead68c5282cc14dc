/* exitprobe — default probe targets on the public network, per port. */
#ifndef EP_PROBE_TARGETS_H
#define EP_PROBE_TARGETS_H

#include <stdint.h>

/* The documented default target for a port, or NULL if there is none
 * (then --target is required). */
const char *ep_default_target(uint16_t port);

#endif
