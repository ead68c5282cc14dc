/* exitprobe — interned strings. */
#include "config.h"

#include "lib/strpool.h"

#include <stdlib.h>
#include <string.h>

#include "lib/vec.h"

#define STRPOOL_CHUNK (256u * 1024u)

void ep_strpool_init(ep_strpool_t *p, size_t max_bytes, size_t max_strings) {
  memset(p, 0, sizeof *p);
  p->max_total = max_bytes;
  ep_hidx_init(&p->idx, max_strings, "distinct strings");
}

void ep_strpool_free(ep_strpool_t *p) {
  for (size_t i = 0; i < p->n_chunks; i++) {
    free(p->chunks[i]);
  }
  free(p->chunks);
  free(p->strs);
  ep_hidx_free(&p->idx);
  memset(p, 0, sizeof *p);
}

typedef struct key {
  const ep_strpool_t *p;
  const char *s;
  size_t n;
} key_t_;

static bool eq(const void *ctx, size_t idx) {
  const key_t_ *k = ctx;
  const char *t = k->p->strs[idx];
  return strncmp(t, k->s, k->n) == 0 && t[k->n] == '\0';
}

static char *room(ep_strpool_t *p, size_t need, ep_err_t *err) {
  if (p->n_chunks > 0 && p->chunk_size - p->used >= need) {
    char *at = p->chunks[p->n_chunks - 1] + p->used;
    p->used += need;
    return at;
  }
  size_t size = need > STRPOOL_CHUNK ? need : STRPOOL_CHUNK;
  if (EP_VEC_RESERVE(p->chunks, p->alloc_chunks, p->n_chunks + 1, SIZE_MAX / 2, "string chunks",
                     err) != EP_OK) {
    return NULL;
  }
  char *c = malloc(size);
  if (c == NULL) {
    ep_err_set(err, EP_ERR_NOMEM, "out of memory for strings");
    return NULL;
  }
  p->chunks[p->n_chunks++] = c;
  p->chunk_size = size;
  p->used = need;
  return c;
}

const char *ep_strpool_intern(ep_strpool_t *p, const char *s, size_t n, ep_err_t *err) {
  if (n == 0) {
    return "";
  }
  key_t_ k = {p, s, n};
  uint64_t h = ep_hidx_hash(s, n);
  size_t idx;
  if (ep_hidx_find(&p->idx, h, eq, &k, &idx)) {
    return p->strs[idx];
  }
  if (p->total + n + 1 > p->max_total) {
    ep_err_set(err, EP_ERR_LIMIT, "more than %zu bytes of distinct strings", p->max_total);
    return NULL;
  }
  if (EP_VEC_RESERVE(p->strs, p->alloc_strs, p->n_strs + 1, p->idx.max, "distinct strings",
                     err) != EP_OK) {
    return NULL;
  }
  char *at = room(p, n + 1, err);
  if (at == NULL) {
    return NULL;
  }
  memcpy(at, s, n);
  at[n] = '\0';
  if (ep_hidx_insert(&p->idx, h, p->n_strs, err) != EP_OK) {
    return NULL;  /* the bytes stay in the chunk, unused: bounded by the cap */
  }
  p->strs[p->n_strs++] = at;
  p->total += n + 1;
  return at;
}
