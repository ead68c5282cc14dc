/* exitprobe — the learned circuit build timeout (issue #13), as tor learns
 * its own: a high percentile of the build times this process has observed,
 * scaled, between a floor and the configured timeout. Pure: the caller
 * feeds it build times and asks for the timeout at a given moment.
 *
 * Until EP_CBT_MIN_SAMPLES builds are known the configured value holds (10,
 * not tor's 100: a scan's first round on a small network has few circuits,
 * and an estimate too low from the first, fastest builds costs only a try
 * through another first hop, at a doubled timeout, while the estimate is
 * recomputed for every circuit in flight as builds come in). The
 * last EP_CBT_WINDOW build times count (a ring), so a network that slows
 * down raises the timeout within a window. */
#ifndef EP_PROBE_CBT_H
#define EP_PROBE_CBT_H

#include <stddef.h>
#include <stdint.h>

#define EP_CBT_WINDOW 128
#define EP_CBT_MIN_SAMPLES 10
#define EP_CBT_FLOOR_MS 1500
#define EP_CBT_PERCENTILE 95  /* of observed build times */
#define EP_CBT_SCALE_PCT 150  /* times 1.5 */

typedef struct ep_cbt {
  uint32_t ms[EP_CBT_WINDOW];  /* ring of build times */
  size_t n;                    /* samples in the ring (<= EP_CBT_WINDOW) */
  size_t next;                 /* where the next sample goes */
  uint64_t total;              /* every sample ever added */
} ep_cbt_t;

void ep_cbt_init(ep_cbt_t *c);
/* One built circuit took build_ms (negative: ignored; capped at UINT32_MAX). */
void ep_cbt_add(ep_cbt_t *c, int64_t build_ms);
/* The timeout to apply now: the configured one (ceiling_ms) before enough
 * samples, else p95 x 1.5 clamped to [EP_CBT_FLOOR_MS, ceiling_ms] (the
 * ceiling wins when it is below the floor). ceiling_ms <= 0: no timeout (0). */
int64_t ep_cbt_timeout_ms(const ep_cbt_t *c, int64_t ceiling_ms);
/* The timeout of try k (0: the first) of a circuit that may be tried through
 * up to `tries` first hops. Each try doubles the one before (a network slow
 * for a moment gets a longer chance, as tor backs off after timeouts); the
 * first is the learned timeout (ep_cbt_timeout_ms), but at most the ceiling
 * split so that all the tries together fit in it (ceiling / (2^tries - 1),
 * not below EP_CBT_FLOOR_MS); none above the ceiling. An exit that never
 * answers an EXTEND2 (a frozen relay) then costs at most the ceiling in all,
 * not tries x the ceiling before the timeout is learned (issue #13,
 * bench/run-frozen). tries 0 counts as 1; k past the last try as the last. */
int64_t ep_cbt_try_timeout_ms(const ep_cbt_t *c, int64_t ceiling_ms, unsigned tries, unsigned k);
/* The percentile (0..100) of the samples in the ring; -1 when empty. */
int64_t ep_cbt_percentile_ms(const ep_cbt_t *c, unsigned pct);

#endif
