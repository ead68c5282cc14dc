/* exitprobe — the directory client's one parse, warn and join step, and
 * consensus verification (dir-spec §4), shared by the fetched documents
 * (dirclient.h's ep_dirclient_start) and the documents read from files or
 * the cache (ep_dirclient_load_files). */
#ifndef EP_PROBE_DIRJOIN_H
#define EP_PROBE_DIRJOIN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "dir/verify.h"
#include "lib/err.h"
#include "probe/dirclient/dirclient.h"
#include "probe/dirclient/netdir.h"

typedef enum ep_dirjoin_kind {
  EP_DIRJOIN_MICRODESCS = 0,   /* joined by the digests the consensus names */
  EP_DIRJOIN_DESCS             /* server descriptors, verified at `now`, then joined */
} ep_dirjoin_kind_t;

typedef struct ep_dirjoin_counts {
  size_t used;       /* joined into the netdir */
  size_t invalid;    /* malformed, skipped */
  size_t rejected;   /* server descriptors that did not verify or do not belong */
} ep_dirjoin_counts_t;

/* Parse text (len bytes) as a list of `kind`, skipping malformed entries;
 * warn about those skipped and those rejected; join the rest into nd.
 * where: NULL for a fetched document ("3 malformed microdescriptors skipped
 * (first: ...)"), else where it was read ("FILE: 3 malformed
 * microdescriptor(s) skipped ..."), which then also prefixes errors.
 * Returns an error only if the list does not parse or cannot be joined
 * (rejected descriptors are counted, not errors). out may not be NULL. */
int ep_dirjoin(ep_netdir_t *nd, ep_dirjoin_kind_t kind, const uint8_t *text, size_t len,
               const char *where, time_t now, ep_dirjoin_counts_t *out, ep_err_t *err);

/* The signature counts of a verified consensus, and where it came from
 * ("cache", "file", a server), into st. */
void ep_dirjoin_note_consensus(ep_dirclient_stats_t *st, const ep_sigreport_t *rep,
                               const char *from);

#endif
