/* exitprobe — a pool of bytes from the system CSPRNG (see rngpool.h). */
#include "config.h"

#include "proto/rngpool.h"

#include <string.h>

#include "lib/crypto.h"

void ep_rng_pool_init(ep_rng_pool_t *p) { p->pos = EP_RNG_POOL_LEN; }

void ep_rng_pool_bytes(ep_rng_pool_t *p, void *out, size_t n) {
  uint8_t *o = out;
  if (n > EP_RNG_POOL_LEN / 2) {
    ep_random_bulk(o, n); /* large: no point passing it through the pool */
    return;
  }
  while (n > 0) {
    if (p->pos >= EP_RNG_POOL_LEN) {
      ep_random_bulk(p->buf, EP_RNG_POOL_LEN);
      p->pos = 0;
    }
    size_t left = EP_RNG_POOL_LEN - p->pos;
    size_t take = n < left ? n : left;
    memcpy(o, p->buf + p->pos, take);
    ep_wipe(p->buf + p->pos, take);
    p->pos += take;
    o += take;
    n -= take;
  }
}

void ep_rng_pool_wipe(ep_rng_pool_t *p) {
  ep_wipe(p->buf, sizeof p->buf);
  p->pos = EP_RNG_POOL_LEN;
}

void ep_rng_pool_fn(void *ctx, void *out, size_t n) { ep_rng_pool_bytes(ctx, out, n); }
