/* exitprobe — links to first hops kept between scan rounds (issue #11).
 *
 * A round ends with its first hops' links still open; rebuilding them (TCP,
 * TLS, the link handshake and its certificate checks) in every round of a
 * --rounds scan is most of a round's fixed cost. The pool holds each open,
 * healthy carrier by its relay's RSA identity until the next round takes it
 * back: still one link per first hop per process (a carrier is either in the
 * pool or with the round's hop, never both). A pooled link the relay closes
 * is freed quietly (an idle link is the relay's to close: no hop is blamed);
 * one idle for longer than max_idle_ms is not handed out again (tor closes
 * idle client links after some minutes: one is built afresh rather than
 * risk a close in the middle of the next round). */
#ifndef EP_PROBE_LINKPOOL_H
#define EP_PROBE_LINKPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "probe/net/circ.h"

typedef struct ep_linkpool ep_linkpool_t;

/* An empty pool; NULL when out of memory (callers then keep nothing). */
ep_linkpool_t *ep_linkpool_new(int64_t max_idle_ms);
/* Close every pooled link. NULL-safe. The links are released by the loop
 * (run it once after, as ep_carrier_free asks). */
void ep_linkpool_free(ep_linkpool_t *p);
/* Keep car (open, without circuits) for the relay rsa_id; the pool owns it
 * from now on and its callbacks are the pool's. A second link for the same
 * relay, or one the pool cannot hold, is closed; so are the pooled links idle
 * for longer than max_idle_ms (first hops no round took back; car NULL:
 * only that). */
void ep_linkpool_put(ep_linkpool_t *p, const uint8_t rsa_id[20], ep_carrier_t *car, int64_t now_ms);
/* The open link kept for rsa_id, given back with cbs/arg as its callbacks;
 * NULL when there is none (or it was idle too long: then it is closed). */
ep_carrier_t *ep_linkpool_take(ep_linkpool_t *p, const uint8_t rsa_id[20], int64_t now_ms,
                               const ep_carrier_cbs_t *cbs, void *arg);
/* Links held now. */
size_t ep_linkpool_count(const ep_linkpool_t *p);

#endif
