/* exitprobe — interned policy summaries (internal to src/dir). */
#include "config.h"

#include "dir/sumpool.h"

#include <stdlib.h>
#include <string.h>

#include "lib/caps.h"
#include "lib/vec.h"

/* Distinct summaries and ranges in one pool. */
#define EP_SUMPOOL_MAX_SUMS EP_CAP_DOC_ENTRIES
#define EP_SUMPOOL_MAX_RANGES (64u * 1024u * 1024u)

/* A quick non-cryptographic hash over 8-byte words (texts are a relay's own
 * summary line; collisions only cost a compare). */
static uint64_t fnv1a(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull ^ n;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, s + i, 8);
    h = (h ^ w) * 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
  }
  for (; i < n; i++) {
    h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
  }
  h ^= h >> 32;
  return h;
}

static void hash_insert(uint32_t *h, size_t size, uint64_t hv, uint32_t idx) {
  size_t slot = (size_t)hv & (size - 1);
  while (h[slot] != 0) {
    slot = (slot + 1) & (size - 1);
  }
  h[slot] = idx + 1;
}

static int rehash(ep_sumpool_t *p) {
  size_t ns = p->hash_size ? p->hash_size * 2 : 256;
  uint32_t *h = calloc(ns, sizeof *h);
  if (h == NULL) {
    return EP_ERR_NOMEM;
  }
  for (size_t i = 0; i < p->n; i++) {
    hash_insert(h, ns, fnv1a(p->meta[i].text, p->meta[i].text_len), (uint32_t)i);
  }
  free(p->hash);
  p->hash = h;
  p->hash_size = ns;
  return 0;
}

int ep_sumpool_intern(ep_sumpool_t *p, const char *s, size_t n, uint32_t *idx, ep_err_t *err) {
  if (n > UINT32_MAX) {
    return ep_err_set(err, EP_ERR_LIMIT, "policy summary too long");
  }
  uint64_t hv = fnv1a(s, n);
  if (p->hash_size != 0) {
    size_t slot = (size_t)hv & (p->hash_size - 1);
    while (p->hash[slot] != 0) {
      uint32_t i = p->hash[slot] - 1;
      if (p->meta[i].text_len == n && memcmp(p->meta[i].text, s, n) == 0) {
        *idx = i;
        return 0;
      }
      slot = (slot + 1) & (p->hash_size - 1);
    }
  }
  size_t maxr = n / 2 + 1;
  int rc = EP_VEC_RESERVE(p->ranges, p->alloc_ranges, p->n_ranges + maxr, EP_SUMPOOL_MAX_RANGES,
                          "policy summary ranges", NULL);
  if (rc < 0) {
    return ep_err_set(err, rc, "policy summaries: too many port ranges");
  }
  bool accept;
  int nr = ep_policy_summary_parse_ranges(s, n, &accept, p->ranges + p->n_ranges, maxr, err);
  if (nr < 0) {
    return nr;
  }
  if (EP_VEC_RESERVE(p->sums, p->alloc_sums, p->n + 1, EP_SUMPOOL_MAX_SUMS, NULL, NULL) < 0 ||
      EP_VEC_RESERVE(p->meta, p->alloc_meta, p->n + 1, EP_SUMPOOL_MAX_SUMS, NULL, NULL) < 0) {
    return ep_err_set(err, EP_ERR_LIMIT, "policy summaries: too many");
  }
  uint32_t i = (uint32_t)p->n;
  p->sums[i].accept = accept;
  p->sums[i].n = (uint16_t)nr;
  p->sums[i].ranges = NULL;
  p->meta[i].text = s;
  p->meta[i].text_len = (uint32_t)n;
  p->meta[i].off = (uint32_t)p->n_ranges;
  p->n_ranges += (size_t)nr;
  p->n++;
  if (p->n * 2 > p->hash_size) {
    if (rehash(p) < 0) {
      return ep_err_set(err, EP_ERR_NOMEM, "policy summaries: out of memory");
    }
  } else {
    hash_insert(p->hash, p->hash_size, hv, i);
  }
  *idx = i;
  return 0;
}

void ep_sumpool_finalize(ep_sumpool_t *p) {
  for (size_t i = 0; i < p->n; i++) {
    p->sums[i].ranges = p->ranges + p->meta[i].off;
  }
}

const ep_policy_summary_t *ep_sumpool_get(const ep_sumpool_t *p, uint32_t idx) {
  return idx < p->n ? &p->sums[idx] : NULL;
}

void ep_sumpool_free(ep_sumpool_t *p) {
  free(p->sums);
  free(p->meta);
  free(p->ranges);
  free(p->hash);
  memset(p, 0, sizeof *p);
}
