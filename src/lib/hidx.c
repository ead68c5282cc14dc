/* exitprobe — open-addressing hash index. */
#include "config.h"

#include "lib/hidx.h"

#include <sodium.h>
#include <stdlib.h>

static unsigned char hidx_key[crypto_shorthash_KEYBYTES];
static bool hidx_keyed;

void ep_hidx_init(ep_hidx_t *h, size_t max_entries, const char *what) {
  h->slots = NULL;
  h->cap = 0;
  h->n = 0;
  h->max = max_entries;
  h->what = what;
}

void ep_hidx_free(ep_hidx_t *h) {
  free(h->slots);
  h->slots = NULL;
  h->cap = h->n = 0;
}

uint64_t ep_hidx_hash(const void *data, size_t n) {
  if (!hidx_keyed) {
    if (sodium_init() < 0) {
      abort();  /* no RNG: nothing in exitprobe can work */
    }
    randombytes_buf(hidx_key, sizeof hidx_key);
    hidx_keyed = true;
  }
  unsigned char out[crypto_shorthash_BYTES];
  crypto_shorthash(out, data, n, hidx_key);
  uint64_t v = 0;
  for (size_t i = 0; i < sizeof out; i++) {
    v = (v << 8) | out[i];
  }
  return v;
}

bool ep_hidx_find(const ep_hidx_t *h, uint64_t hash, ep_hidx_eq_fn eq, const void *ctx,
                  size_t *idx) {
  if (h->cap == 0) {
    return false;
  }
  size_t mask = h->cap - 1;
  for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
    const ep_hidx_slot_t *s = &h->slots[i];
    if (s->idx1 == 0) {
      return false;
    }
    if (s->hash == hash && eq(ctx, s->idx1 - 1)) {
      *idx = s->idx1 - 1;
      return true;
    }
  }
}

static void put(ep_hidx_slot_t *slots, size_t cap, uint64_t hash, size_t idx1) {
  size_t mask = cap - 1;
  size_t i = (size_t)hash & mask;
  while (slots[i].idx1 != 0) {
    i = (i + 1) & mask;
  }
  slots[i].hash = hash;
  slots[i].idx1 = idx1;
}

static int grow(ep_hidx_t *h, ep_err_t *err) {
  size_t ncap = h->cap == 0 ? 16 : h->cap * 2;
  if (ncap > SIZE_MAX / sizeof(ep_hidx_slot_t) / 2) {
    return ep_err_set(err, EP_ERR_LIMIT, "%s: hash index too large", h->what);
  }
  ep_hidx_slot_t *ns = calloc(ncap, sizeof *ns);
  if (ns == NULL) {
    return ep_err_set(err, EP_ERR_NOMEM, "%s: out of memory for %zu hash slots", h->what, ncap);
  }
  for (size_t i = 0; i < h->cap; i++) {
    if (h->slots[i].idx1 != 0) {
      put(ns, ncap, h->slots[i].hash, h->slots[i].idx1);
    }
  }
  free(h->slots);
  h->slots = ns;
  h->cap = ncap;
  return EP_OK;
}

int ep_hidx_insert(ep_hidx_t *h, uint64_t hash, size_t idx, ep_err_t *err) {
  if (h->n >= h->max) {
    return ep_err_set(err, EP_ERR_LIMIT, "more than %zu %s", h->max, h->what);
  }
  if ((h->n + 1) * 2 > h->cap) {
    int rc = grow(h, err);
    if (rc != EP_OK) {
      return rc;
    }
  }
  put(h->slots, h->cap, hash, idx + 1);
  h->n++;
  return EP_OK;
}
