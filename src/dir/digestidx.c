/* exitprobe — an index of SHA-256 digests (digestidx.h). */
#include "config.h"

#include "dir/digestidx.h"

#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/reader.h"

int ep_dir_digestidx_build(ep_dir_digestidx_t *ix, const uint8_t *first, size_t n, size_t stride) {
  size_t sz = 16;
  while (sz < n * 2) {
    sz *= 2;
  }
  ix->slot = calloc(sz, sizeof *ix->slot);
  if (ix->slot == NULL) {
    return EP_ERR_NOMEM;
  }
  ix->size = sz;
  for (size_t i = 0; i < n; i++) {
    size_t slot = ep_get_u32(first + i * stride) & (sz - 1);
    while (ix->slot[slot] != 0) {
      slot = (slot + 1) & (sz - 1);
    }
    ix->slot[slot] = (uint32_t)i + 1;
  }
  return 0;
}

long ep_dir_digestidx_find(const ep_dir_digestidx_t *ix, const uint8_t *first, size_t stride,
                           const uint8_t d[EP_SHA256_LEN]) {
  if (ix->size == 0) {
    return -1;
  }
  size_t sz = ix->size;
  size_t slot = ep_get_u32(d) & (sz - 1);
  while (ix->slot[slot] != 0) {
    uint32_t i = ix->slot[slot] - 1;
    if (memcmp(first + i * stride, d, EP_SHA256_LEN) == 0) {
      return (long)i;
    }
    slot = (slot + 1) & (sz - 1);
  }
  return -1;
}

void ep_dir_digestidx_free(ep_dir_digestidx_t *ix) {
  free(ix->slot);
  ix->slot = NULL;
  ix->size = 0;
}
