/* exitprobe — default probe targets on the public network, per port. */
#ifndef EP_PROBE_TARGETS_H
#define EP_PROBE_TARGETS_H

#include <stddef.h>
#include <stdint.h>

/* The documented default target for a port, or NULL if there is none
 * (then --target is required). */
const char *ep_default_target(uint16_t port);

/* Issue #11: the documented table of two independent default targets per
 * port (different operators). Writes up to 2 host names to out and returns
 * how many (0: none; then --target is required). out[0] is the one probed
 * first; a failure against it is re-tested on the same circuit against
 * out[1] before anything is blamed. (ep_default_target(port) is out[0].) */
size_t ep_default_targets(uint16_t port, const char *out[2]);

#endif
