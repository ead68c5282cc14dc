/* exitprobe — what `scan` keeps about first hops between rounds and runs
 * (issue #13): the learned build timeout (in memory, for the process) and
 * the first-hop history (engine/hops.h), a file "first-hops" in the cache
 * directory, read before the first round and written after each. */
#ifndef EP_PROBE_SCANHOPS_H
#define EP_PROBE_SCANHOPS_H

#include "probe/cmd/scandir.h"
#include "probe/engine/cbt.h"
#include "probe/engine/hops.h"

typedef struct ep_scanhops {
  ep_hophist_t hist;
  ep_cbt_t cbt;
  bool persist;                /* the cache is on */
  const char *cache_dir;       /* NULL: the default */
} ep_scanhops_t;

/* Read the history (a missing or bad file: an empty one, with a warning). */
void ep_scanhops_load(ep_scanhops_t *sh, const ep_scandir_opts_t *dir);
/* Write it (a failure is a warning: the scan goes on). */
void ep_scanhops_save(ep_scanhops_t *sh);
void ep_scanhops_free(ep_scanhops_t *sh);

#endif
