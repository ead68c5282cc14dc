/* exitprobe — first-hop policy: weighted choice, pacing, history (hops.h). */
#include "config.h"

#include "probe/engine/hops.h"

#include <stdlib.h>
#include <string.h>

#include "lib/caps.h"
#include "lib/encode.h"
#include "lib/vec.h"

/* ------------------------------------------------------------- rng */

void ep_rng_seed(ep_rng_t *r, uint64_t seed) { r->s = seed; }

uint64_t ep_rng_next(ep_rng_t *r) {
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t ep_rng_below(ep_rng_t *r, uint64_t n) {
  uint64_t limit = UINT64_MAX - UINT64_MAX % n; /* reject the biased top */
  uint64_t x;
  do {
    x = ep_rng_next(r);
  } while (x >= limit);
  return x % n;
}

/* ---------------------------------------------------------- pacing */

void ep_hop_pacing_from_dos(const ep_dos_params_t *dos, ep_hop_pacing_t *p) {
  uint32_t burst = dos->circ_burst > 1 ? (uint32_t)dos->circ_burst / 2 : 1;
  uint32_t conns = dos->conn_max_concurrent > 1 ? (uint32_t)dos->conn_max_concurrent / 2 : 1;
  p->paced = dos->circ_enabled;
  p->rate_milli = dos->circ_rate > 1 ? (uint32_t)dos->circ_rate * 500u : 500u;
  p->burst = burst;
  p->max_in_flight = burst;
  if (dos->conn_enabled && conns < p->max_in_flight) {
    p->max_in_flight = conns;
  }
  if (p->max_in_flight > EP_HOP_MAX_IN_FLIGHT) {
    p->max_in_flight = EP_HOP_MAX_IN_FLIGHT;
  }
}

void ep_bucket_init(ep_bucket_t *b, const ep_hop_pacing_t *p, int64_t now_ms) {
  b->milli = (uint64_t)p->burst * 1000u;
  b->last_ms = now_ms;
}

static void bucket_refill(ep_bucket_t *b, const ep_hop_pacing_t *p, int64_t now_ms) {
  if (now_ms <= b->last_ms) {
    return;
  }
  uint64_t full = (uint64_t)p->burst * 1000u;
  uint64_t dt = (uint64_t)(now_ms - b->last_ms);
  if (dt > 1000000u) {
    dt = 1000000u; /* 1000 s: dt x rate stays far below 2^64 */
  }
  uint64_t add = dt * p->rate_milli / 1000u;
  b->milli = add >= full || b->milli + add > full ? full : b->milli + add;
  b->last_ms = now_ms;
}

bool ep_bucket_take(ep_bucket_t *b, const ep_hop_pacing_t *p, int64_t now_ms) {
  if (!p->paced) {
    return true;
  }
  bucket_refill(b, p, now_ms);
  if (b->milli < 1000u) {
    return false;
  }
  b->milli -= 1000u;
  return true;
}

int64_t ep_bucket_wait_ms(const ep_bucket_t *b, const ep_hop_pacing_t *p, int64_t now_ms) {
  if (!p->paced) {
    return 0;
  }
  ep_bucket_t t = *b;
  bucket_refill(&t, p, now_ms);
  if (t.milli >= 1000u) {
    return 0;
  }
  uint64_t need = 1000u - t.milli;
  uint32_t rate = p->rate_milli > 0 ? p->rate_milli : 1;
  return (int64_t)((need * 1000u + rate - 1) / rate);
}

/* ---------------------------------------------------------- choice */

size_t ep_hops_pick(const uint64_t *weight, size_t n, ep_rng_t *rng) {
  uint64_t total = 0;
  for (size_t i = 0; i < n; i++) {
    total += weight[i]; /* each < 2^32: no overflow below 2^32 hops */
  }
  if (total == 0) {
    return SIZE_MAX;
  }
  uint64_t x = ep_rng_below(rng, total);
  for (size_t i = 0; i < n; i++) {
    if (x < weight[i]) {
      return i;
    }
    x -= weight[i];
  }
  return SIZE_MAX; /* not reached */
}

uint64_t ep_hop_weight(uint32_t bandwidth, uint32_t recent_fails) {
  uint64_t w = bandwidth > 0 ? bandwidth : 1;
  unsigned shift = recent_fails > EP_HOPHIST_MAX_FAILS ? EP_HOPHIST_MAX_FAILS : recent_fails;
  w >>= shift;
  return w > 0 ? w : 1;
}

/* --------------------------------------------------------- history */

void ep_hophist_init(ep_hophist_t *h) { memset(h, 0, sizeof *h); }

void ep_hophist_free(ep_hophist_t *h) {
  free(h->v);
  ep_hophist_init(h);
}

static int entry_cmp(const void *x, const void *y) {
  return memcmp(((const ep_hophist_entry_t *)x)->id, ((const ep_hophist_entry_t *)y)->id, 20);
}

/* Sorted by id, one entry per id (the larger count wins). */
static void hist_sort(ep_hophist_t *h) {
  if (h->n == 0) {
    return;
  }
  qsort(h->v, h->n, sizeof *h->v, entry_cmp);
  size_t w = 0;
  for (size_t i = 1; i < h->n; i++) {
    if (memcmp(h->v[w].id, h->v[i].id, 20) == 0) {
      h->v[w].fails = h->v[i].fails > h->v[w].fails ? h->v[i].fails : h->v[w].fails;
    } else {
      h->v[++w] = h->v[i];
    }
  }
  h->n = w + 1;
}

static ep_hophist_entry_t *hist_find(const ep_hophist_t *h, const uint8_t id[20]) {
  ep_hophist_entry_t key;
  memcpy(key.id, id, 20);
  return h->n > 0 ? bsearch(&key, h->v, h->n, sizeof *h->v, entry_cmp) : NULL;
}

/* "FINGERPRINT FAILS": 40 hex digits, one space, 1-2 decimal digits. */
static bool parse_line(const char *p, size_t len, ep_hophist_entry_t *e) {
  if (len < 42 || len > 43 || p[40] != ' ' || ep_hex_decode(e->id, 20, p, 40) != 20) {
    return false;
  }
  uint32_t v = 0;
  for (size_t i = 41; i < len; i++) {
    if (p[i] < '0' || p[i] > '9') {
      return false;
    }
    v = v * 10u + (uint32_t)(p[i] - '0');
  }
  e->fails = v > EP_HOPHIST_MAX_FAILS ? EP_HOPHIST_MAX_FAILS : v;
  return true;
}

#define HOPHIST_HEADER "exitprobe-hops 1"

int ep_hophist_parse(ep_hophist_t *h, const uint8_t *text, size_t len, ep_err_t *err) {
  const char *p = (const char *)text;
  const char *end = p + len;
  const char *nl = memchr(p, '\n', len);
  size_t hl = strlen(HOPHIST_HEADER);
  if (nl == NULL || (size_t)(nl - p) != hl || memcmp(p, HOPHIST_HEADER, hl) != 0) {
    return ep_err_set(err, EP_ERR_MALFORMED, "first-hop history: no \"%s\" header line", HOPHIST_HEADER);
  }
  for (p = nl + 1; p < end; p = nl + 1) {
    nl = memchr(p, '\n', (size_t)(end - p));
    if (nl == NULL) {
      nl = end;
    }
    ep_hophist_entry_t e;
    if (!parse_line(p, (size_t)(nl - p), &e)) {
      h->bad_lines++;
      continue;
    }
    if (h->n >= EP_CAP_HOPHIST_ENTRIES) {
      break;
    }
    int rc = EP_VEC_RESERVE(h->v, h->cap, h->n + 1, EP_CAP_HOPHIST_ENTRIES, "first-hop history", err);
    if (rc != EP_OK) {
      return rc;
    }
    h->v[h->n++] = e;
  }
  hist_sort(h);
  return EP_OK;
}

int ep_hophist_write(const ep_hophist_t *h, FILE *f) {
  fprintf(f, "%s\n", HOPHIST_HEADER);
  for (size_t i = 0; i < h->n; i++) {
    char hex[41];
    ep_hex_encode(hex, sizeof hex, h->v[i].id, 20, true);
    fprintf(f, "%s %u\n", hex, (unsigned)h->v[i].fails);
  }
  return ferror(f) ? EP_ERR_IO : EP_OK;
}

uint32_t ep_hophist_fails(const ep_hophist_t *h, const uint8_t id[20]) {
  const ep_hophist_entry_t *e = hist_find(h, id);
  return e != NULL ? e->fails : 0;
}

int ep_hophist_note(ep_hophist_t *h, const uint8_t id[20], bool failed, ep_err_t *err) {
  ep_hophist_entry_t *e = hist_find(h, id);
  if (e == NULL) {
    if (!failed) {
      return EP_OK; /* a hop that served and never failed needs no line */
    }
    if (h->n >= EP_CAP_HOPHIST_ENTRIES) {
      return EP_OK; /* full: forget it */
    }
    int rc = EP_VEC_RESERVE(h->v, h->cap, h->n + 1, EP_CAP_HOPHIST_ENTRIES, "first-hop history", err);
    if (rc != EP_OK) {
      return rc;
    }
    memcpy(h->v[h->n].id, id, 20);
    h->v[h->n++].fails = 1;
    hist_sort(h); /* one insertion: sort is O(n log n); few hops fail per round */
    return EP_OK;
  }
  e->fails = failed ? (e->fails < EP_HOPHIST_MAX_FAILS ? e->fails + 1 : e->fails) : e->fails / 2;
  return EP_OK;
}
