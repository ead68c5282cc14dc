/* exitprobe — the on-disk cache of directory documents.
 *
 * One directory (default $XDG_CACHE_HOME/exitprobe, else ~/.cache/exitprobe,
 * created with mode 0700) holding flat files named like
 * "consensus-microdesc", "microdescs", "certs". Writes are atomic: a
 * temporary file in the same directory is written, fsync'd and renamed over
 * the old one, so a reader sees the old or the new document, never a part.
 * Reads are bounded by a caller-given cap. Names are checked: letters,
 * digits, '-', '_' and '.', not starting with '.', at most 64 bytes. The
 * cache trusts nothing it reads: what comes out is parsed and verified like
 * anything fetched. */
#ifndef EP_PROBE_CACHE_H
#define EP_PROBE_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/err.h"

/* A positive outcome of ep_cache_read / ep_cache_mtime: not in the cache. */
#define EP_CACHE_MISS 2

#define EP_CACHE_NAME_MAX 64

typedef struct ep_cache ep_cache_t;

/* The default directory into out: "$XDG_CACHE_HOME/exitprobe" if that
 * variable is set to an absolute path, else "$HOME/.cache/exitprobe".
 * EP_ERR_STATE if neither is usable, EP_ERR_LIMIT if outcap is too small. */
int ep_cache_default_dir(char *out, size_t outcap, ep_err_t *err);

/* Open (creating it and its parents if need be) the cache at dir, or at the
 * default if dir is NULL. */
ep_cache_t *ep_cache_open(const char *dir, ep_err_t *err);
void ep_cache_free(ep_cache_t *c);  /* NULL-safe */
const char *ep_cache_dir(const ep_cache_t *c);

/* 0 if name is acceptable, else EP_ERR_MALFORMED. */
int ep_cache_check_name(const char *name, ep_err_t *err);

/* Replace `name` atomically with n bytes, durably (fsync'd). */
int ep_cache_write(ep_cache_t *c, const char *name, const void *data, size_t n, ep_err_t *err);
/* The same without fsync: still atomic for readers (rename), but a crash may
 * leave the old document or an empty one. For state that is only a hint
 * and rewritten often (the first-hop history, every round): two fsyncs a
 * round cost more CPU than a round's probes on some file systems. */
int ep_cache_write_hint(ep_cache_t *c, const char *name, const void *data, size_t n,
                        ep_err_t *err);
/* Read `name` whole into a malloc'd buffer (NUL-terminated, NUL not counted).
 * EP_OK, EP_CACHE_MISS (*out NULL), EP_ERR_LIMIT if larger than cap,
 * EP_ERR_IO. */
int ep_cache_read(ep_cache_t *c, const char *name, size_t cap, uint8_t **out, size_t *len,
                  ep_err_t *err);
/* Modification time of `name`: EP_OK, EP_CACHE_MISS or EP_ERR_IO. */
int ep_cache_mtime(ep_cache_t *c, const char *name, time_t *mtime, ep_err_t *err);
/* Remove `name`; a missing file is not an error. */
int ep_cache_remove(ep_cache_t *c, const char *name, ep_err_t *err);

#endif
