/* exitprobe — internal to src/dir: a pool of interned policy summaries.
 * Identical summary texts ("reject 1-65535" is shared by thousands of
 * relays) are parsed once; their port ranges live in one array. The texts
 * must outlive the pool (they point into a document copy). Indexes are
 * stable; summary pointers are valid after ep_sumpool_finalize. */
#ifndef EP_DIR_SUMPOOL_H
#define EP_DIR_SUMPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "dir/policy.h"
#include "lib/err.h"

typedef struct ep_sumpool_meta {
  const char *text;
  uint32_t text_len;
  uint32_t off;                 /* first range in `ranges` */
} ep_sumpool_meta_t;

typedef struct ep_sumpool {
  ep_policy_summary_t *sums;
  ep_sumpool_meta_t *meta;
  size_t n, alloc_sums, alloc_meta;
  ep_port_range_t *ranges;
  size_t n_ranges, alloc_ranges;
  uint32_t *hash;               /* open addressing: index+1, 0 = empty */
  size_t hash_size;
} ep_sumpool_t;

/* Intern "accept 20-23,25" (s[0..n)); *idx gets its index. Error messages
 * name what is wrong, not where (callers add document and line). */
int ep_sumpool_intern(ep_sumpool_t *p, const char *s, size_t n, uint32_t *idx, ep_err_t *err);
/* Point every summary at its ranges; call once all are interned. */
void ep_sumpool_finalize(ep_sumpool_t *p);
const ep_policy_summary_t *ep_sumpool_get(const ep_sumpool_t *p, uint32_t idx);
void ep_sumpool_free(ep_sumpool_t *p);   /* frees the contents, not p */

#endif
