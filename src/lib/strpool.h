/* exitprobe — interned strings: each distinct string is stored once, in
 * chunks that never move (pointers stay valid until ep_strpool_free), with
 * a cap on the total bytes. Used where many records repeat the same text. */
#ifndef EP_LIB_STRPOOL_H
#define EP_LIB_STRPOOL_H

#include <stddef.h>

#include "lib/err.h"
#include "lib/hidx.h"

typedef struct ep_strpool {
  char **chunks;         /* each EP_STRPOOL_CHUNK bytes, or one big string */
  size_t n_chunks, alloc_chunks;
  size_t used;           /* bytes used in the last chunk */
  size_t chunk_size;     /* size of the last chunk */
  size_t total, max_total;
  const char **strs;     /* interned strings, for the hash index */
  size_t n_strs, alloc_strs;
  ep_hidx_t idx;
} ep_strpool_t;

void ep_strpool_init(ep_strpool_t *p, size_t max_bytes, size_t max_strings);
void ep_strpool_free(ep_strpool_t *p);
/* The interned copy of s[0..n) (NUL-terminated; s must hold no NUL), or
 * NULL with EP_ERR_LIMIT/EP_ERR_NOMEM. "" is always the same static string. */
const char *ep_strpool_intern(ep_strpool_t *p, const char *s, size_t n, ep_err_t *err);

#endif
