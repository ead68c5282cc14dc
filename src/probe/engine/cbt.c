/* exitprobe — the learned circuit build timeout (see cbt.h). */
#include "config.h"

#include "probe/engine/cbt.h"

#include <stdlib.h>
#include <string.h>

void ep_cbt_init(ep_cbt_t *c) { memset(c, 0, sizeof *c); }

void ep_cbt_add(ep_cbt_t *c, int64_t build_ms) {
  if (build_ms < 0) {
    return;
  }
  c->ms[c->next] = build_ms > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)build_ms;
  c->next = (c->next + 1) % EP_CBT_WINDOW;
  if (c->n < EP_CBT_WINDOW) {
    c->n++;
  }
  c->total++;
}

static int cmp_u32(const void *x, const void *y) {
  uint32_t a = *(const uint32_t *)x;
  uint32_t b = *(const uint32_t *)y;
  return a < b ? -1 : a > b ? 1 : 0;
}

/* Nearest rank: the smallest sample with at least pct% of samples <= it. */
int64_t ep_cbt_percentile_ms(const ep_cbt_t *c, unsigned pct) {
  if (c->n == 0) {
    return -1;
  }
  uint32_t v[EP_CBT_WINDOW];
  memcpy(v, c->ms, c->n * sizeof v[0]);
  qsort(v, c->n, sizeof v[0], cmp_u32);
  size_t rank = (c->n * (pct > 100 ? 100 : pct) + 99) / 100;
  return v[rank > 0 ? rank - 1 : 0];
}

int64_t ep_cbt_timeout_ms(const ep_cbt_t *c, int64_t ceiling_ms) {
  if (ceiling_ms <= 0) {
    return 0;
  }
  if (c->n < EP_CBT_MIN_SAMPLES) {
    return ceiling_ms;
  }
  int64_t t = ep_cbt_percentile_ms(c, EP_CBT_PERCENTILE) * EP_CBT_SCALE_PCT / 100;
  if (t < EP_CBT_FLOOR_MS) {
    t = EP_CBT_FLOOR_MS;
  }
  return t < ceiling_ms ? t : ceiling_ms;
}

int64_t ep_cbt_try_timeout_ms(const ep_cbt_t *c, int64_t ceiling_ms, unsigned tries, unsigned k) {
  int64_t t = ep_cbt_timeout_ms(c, ceiling_ms);
  if (ceiling_ms <= 0) {
    return t;
  }
  tries = tries < 1 ? 1 : tries > 16 ? 16 : tries;
  k = k >= tries ? tries - 1 : k;
  int64_t share = ceiling_ms / (int64_t)((1u << tries) - 1u);
  if (share < EP_CBT_FLOOR_MS) {
    share = EP_CBT_FLOOR_MS;
  }
  int64_t base = t < share ? t : share;
  int64_t r = base << k;
  return r < ceiling_ms ? r : ceiling_ms;
}
