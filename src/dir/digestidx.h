/* exitprobe — an index of SHA-256 digests held in an array of structs (the
 * microdesc digests of a consensus's entries, of a list of microdescs):
 * open addressing on the digest's first 4 bytes, at most half full. The
 * owner keeps the array; the index keeps positions in it. */
#ifndef EP_DIR_DIGESTIDX_H
#define EP_DIR_DIGESTIDX_H

#include <stddef.h>
#include <stdint.h>

#include "lib/crypto.h"

typedef struct ep_dir_digestidx {
  uint32_t *slot;   /* position + 1; 0 is empty */
  size_t size;      /* a power of two; 0 if not built */
} ep_dir_digestidx_t;

/* Index the n digests at first, first + stride, ... (first may be NULL if
 * n is 0). Returns 0 or EP_ERR_NOMEM. */
int ep_dir_digestidx_build(ep_dir_digestidx_t *ix, const uint8_t *first, size_t n, size_t stride);
/* Position of digest d among those indexed (same first and stride), or -1. */
long ep_dir_digestidx_find(const ep_dir_digestidx_t *ix, const uint8_t *first, size_t stride,
                           const uint8_t d[EP_SHA256_LEN]);
void ep_dir_digestidx_free(ep_dir_digestidx_t *ix);

#endif
