/* exitprobe — a small open-addressing hash index: it maps a key's hash to an
 * index into the caller's own array (the caller keeps the items and says
 * whether an item equals the key). Linear probing, load factor <= 1/2,
 * capacity doubling, never past a named cap of entries. Hashes are keyed
 * SipHash (libsodium crypto_shorthash) with a random key per process, so
 * hostile keys cannot be chosen to collide. */
#ifndef EP_LIB_HIDX_H
#define EP_LIB_HIDX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

typedef struct ep_hidx_slot {
  uint64_t hash;
  size_t idx1;  /* item index + 1; 0 = empty */
} ep_hidx_slot_t;

typedef struct ep_hidx {
  ep_hidx_slot_t *slots;
  size_t cap;   /* slots, a power of two (0 before the first insert) */
  size_t n;     /* entries */
  size_t max;   /* entry cap */
  const char *what;
} ep_hidx_t;

/* Does item `idx` equal the key the caller is looking for? */
typedef bool (*ep_hidx_eq_fn)(const void *ctx, size_t idx);

void ep_hidx_init(ep_hidx_t *h, size_t max_entries, const char *what);
void ep_hidx_free(ep_hidx_t *h);
/* Keyed hash of n bytes (same key for the whole process). */
uint64_t ep_hidx_hash(const void *data, size_t n);
/* true and *idx when an entry with this hash satisfies eq(ctx, idx). */
bool ep_hidx_find(const ep_hidx_t *h, uint64_t hash, ep_hidx_eq_fn eq, const void *ctx,
                  size_t *idx);
/* Adds (hash → idx); the caller checked it is absent. EP_ERR_LIMIT past the
 * cap (naming `what`), EP_ERR_NOMEM when growing fails; h is unchanged then. */
int ep_hidx_insert(ep_hidx_t *h, uint64_t hash, size_t idx, ep_err_t *err);

#endif
