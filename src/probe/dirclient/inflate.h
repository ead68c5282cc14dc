/* exitprobe — streaming zlib inflation with a deflate-bomb guard.
 *
 * Tor's "deflate" is the zlib format (RFC 1950); gzip (RFC 1952) is detected
 * from its header in EP_INFLATE_AUTO. Like tor, several compressed streams
 * sent back to back are accepted and inflated one after the other.
 *
 * The output may never exceed
 *     min(abs_cap, EP_CAP_INFLATE_RATIO * compressed bytes consumed
 *                  + EP_CAP_INFLATE_SLACK)
 * (lib/caps.h); nor the cap of the output ep_buf_t. Past either: EP_ERR_LIMIT
 * with a message naming the cap, and no more than the allowed bytes were
 * ever produced. */
#ifndef EP_PROBE_INFLATE_H
#define EP_PROBE_INFLATE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/err.h"

typedef enum ep_inflate_fmt {
  EP_INFLATE_AUTO = 0,  /* zlib or gzip, by header */
  EP_INFLATE_ZLIB,
  EP_INFLATE_GZIP,
  EP_INFLATE_RAW        /* bare RFC 1951 deflate, no header or checksum */
} ep_inflate_fmt_t;

typedef struct ep_inflate ep_inflate_t;

/* abs_cap: absolute bound on the inflated size (e.g. EP_CAP_CONSENSUS). */
ep_inflate_t *ep_inflate_new(ep_inflate_fmt_t fmt, size_t abs_cap, ep_err_t *err);
void ep_inflate_free(ep_inflate_t *z);  /* NULL-safe */

/* Inflate n more compressed bytes, appending to out. All n are consumed
 * unless an error is returned. EP_NEED_MORE: the stream goes on; EP_OK: the
 * input ended exactly at the end of a stream (more streams may still
 * follow); EP_ERR_MALFORMED (corrupt data, with zlib's reason and the input
 * offset), EP_ERR_LIMIT (the bomb guard, or out's cap), EP_ERR_NOMEM. After an
 * error the inflater only returns that error again. */
int ep_inflate_feed(ep_inflate_t *z, const uint8_t *in, size_t n, ep_buf_t *out, ep_err_t *err);
/* The input has ended: EP_OK if it ended at the end of a stream,
 * EP_ERR_TRUNCATED if inside one (or if there was no input at all). */
int ep_inflate_finish(ep_inflate_t *z, ep_err_t *err);

uint64_t ep_inflate_total_in(const ep_inflate_t *z);
uint64_t ep_inflate_total_out(const ep_inflate_t *z);
/* The output bound in force after `in_bytes` compressed bytes. */
size_t ep_inflate_allowance(size_t abs_cap, uint64_t in_bytes);

/* One shot: inflate a whole buffer (AUTO format) into a malloc'd result
 * (NUL-terminated, not counted in *outlen). */
int ep_inflate_all(const uint8_t *in, size_t n, size_t abs_cap, uint8_t **out, size_t *outlen,
                   ep_err_t *err);

#endif
