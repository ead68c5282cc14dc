/* exitprobe — first-hop policy (issue #13), pure: which first hop a circuit
 * goes through, and how fast circuits go through each.
 *
 * - Choice: bandwidth-weighted among the usable guards (ep_hops_pick), with
 *   a seeded generator so tests can fix it; a hop that failed in earlier
 *   rounds weighs less (ep_hophist: halved per recent failure).
 * - Pacing: a token bucket per hop for CREATE2 and a cap on circuits in
 *   flight per hop, both below the relays' DoS parameters (ep_hop_pacing_from_dos:
 *   half the burst, half the rate), so a change of params does not bite even
 *   though one link per hop keeps us below DoSCircuitCreationMinConnections.
 * - History: per hop (fingerprint), recent failures across rounds, kept in
 *   a small text file in the cache directory: "exitprobe-hops 1" then one
 *   line "FINGERPRINT FAILS" per hop. Every line is checked; a bad line is
 *   skipped (and counted), never fatal. */
#ifndef EP_PROBE_HOPS_H
#define EP_PROBE_HOPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dir/dosparams.h"
#include "lib/err.h"

/* ---- a small deterministic generator (splitmix64) ---- */
typedef struct ep_rng { uint64_t s; } ep_rng_t;
void ep_rng_seed(ep_rng_t *r, uint64_t seed);
uint64_t ep_rng_next(ep_rng_t *r);
/* Uniform in [0, n) (n > 0), without modulo bias. */
uint64_t ep_rng_below(ep_rng_t *r, uint64_t n);

/* ---- pacing ---- */
typedef struct ep_hop_pacing {
  bool paced;              /* false: no token bucket (the relays do not count) */
  uint32_t rate_milli;     /* tokens per 1000 s (rate x 1000, so rate/2 of 1 is 500) */
  uint32_t burst;          /* bucket size (>= 1) */
  uint32_t max_in_flight;  /* circuits being built or used per hop (>= 1) */
} ep_hop_pacing_t;

/* Half the DoS burst and rate (at least 1 and 0.5/s); in flight at most
 * half the burst and half DoSConnectionMaxConcurrentCount... at most
 * EP_HOP_MAX_IN_FLIGHT. Disabled circuit defence: no bucket, the cap holds. */
#define EP_HOP_MAX_IN_FLIGHT 32u
void ep_hop_pacing_from_dos(const ep_dos_params_t *dos, ep_hop_pacing_t *p);

typedef struct ep_bucket {
  uint64_t milli;          /* tokens x 1000 */
  int64_t last_ms;
} ep_bucket_t;

void ep_bucket_init(ep_bucket_t *b, const ep_hop_pacing_t *p, int64_t now_ms);
/* Take one token if there is one (refilled up to now). Unpaced: always. */
bool ep_bucket_take(ep_bucket_t *b, const ep_hop_pacing_t *p, int64_t now_ms);
/* Milliseconds until a token is there (0: now). */
int64_t ep_bucket_wait_ms(const ep_bucket_t *b, const ep_hop_pacing_t *p, int64_t now_ms);

/* ---- weighted choice ---- */
/* An index in [0, n) with probability weight[i] / sum; SIZE_MAX when every
 * weight is 0 or n is 0. Linear in n. */
size_t ep_hops_pick(const uint64_t *weight, size_t n, ep_rng_t *rng);
/* A hop's weight: its consensus bandwidth (0 counts as 1), halved per
 * recent failure (at most 16 halvings, never below 1). */
uint64_t ep_hop_weight(uint32_t bandwidth, uint32_t recent_fails);

/* ---- history across rounds ---- */
#define EP_HOPHIST_MAX_FAILS 16u
typedef struct ep_hophist_entry {
  uint8_t id[20];
  uint32_t fails;          /* recent failures: +1 per failed round, halved per good one */
} ep_hophist_entry_t;

typedef struct ep_hophist {
  ep_hophist_entry_t *v;
  size_t n, cap;
  size_t bad_lines;        /* lines skipped when parsing */
} ep_hophist_t;

void ep_hophist_init(ep_hophist_t *h);
void ep_hophist_free(ep_hophist_t *h);
/* Parse the file's text (any bytes). Bad lines are skipped; more than
 * EP_CAP_HOPHIST_ENTRIES entries: the rest is ignored. Errors: no memory, or
 * a missing/unknown header line (nothing is read then). */
int ep_hophist_parse(ep_hophist_t *h, const uint8_t *text, size_t len, ep_err_t *err);
/* Write the whole history (header first). */
int ep_hophist_write(const ep_hophist_t *h, FILE *f);
uint32_t ep_hophist_fails(const ep_hophist_t *h, const uint8_t id[20]);
/* After a round: the hop failed (fails + 1, capped) or served (halved). */
int ep_hophist_note(ep_hophist_t *h, const uint8_t id[20], bool failed, ep_err_t *err);

#endif
