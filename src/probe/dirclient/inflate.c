/* exitprobe — streaming zlib inflation with a deflate-bomb guard.
 *
 * Output is produced in chunks no larger than what the guard still allows
 * for the input given so far, so memory never runs ahead of the cap; when the
 * allowance is used up, one byte into a scratch cell tells whether the stream
 * wants to go on (a bomb: EP_ERR_LIMIT) or merely needs more input. */
#include "config.h"

#include "probe/dirclient/inflate.h"

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "lib/caps.h"

#define EP_INFLATE_CHUNK (64u * 1024u)

struct ep_inflate {
  z_stream zs;
  bool zinit;
  ep_inflate_fmt_t fmt;
  size_t abs_cap;
  uint64_t total_in;
  uint64_t total_out;
  bool at_end;       /* the current stream has ended */
  unsigned streams;  /* streams completed */
  int failed;        /* sticky error code, 0 if none */
};

size_t ep_inflate_allowance(size_t abs_cap, uint64_t in_bytes) {
  uint64_t a;
  if (in_bytes > (UINT64_MAX - EP_CAP_INFLATE_SLACK) / EP_CAP_INFLATE_RATIO) {
    a = UINT64_MAX;
  } else {
    a = in_bytes * EP_CAP_INFLATE_RATIO + EP_CAP_INFLATE_SLACK;
  }
  return a < (uint64_t)abs_cap ? (size_t)a : abs_cap;
}

static int window_bits(ep_inflate_fmt_t fmt) {
  switch (fmt) {
    case EP_INFLATE_ZLIB: return 15;
    case EP_INFLATE_GZIP: return 15 + 16;
    case EP_INFLATE_RAW: return -15;
    case EP_INFLATE_AUTO:
    default: return 15 + 32;
  }
}

static const char *fmt_name(ep_inflate_fmt_t fmt) {
  switch (fmt) {
    case EP_INFLATE_ZLIB: return "zlib";
    case EP_INFLATE_GZIP: return "gzip";
    case EP_INFLATE_RAW: return "raw deflate";
    case EP_INFLATE_AUTO:
    default: return "deflate";
  }
}

ep_inflate_t *ep_inflate_new(ep_inflate_fmt_t fmt, size_t abs_cap, ep_err_t *err) {
  ep_inflate_t *z = calloc(1, sizeof *z);
  if (z == NULL) {
    ep_err_set(err, EP_ERR_NOMEM, "inflate: out of memory");
    return NULL;
  }
  z->fmt = fmt;
  z->abs_cap = abs_cap;
  if (inflateInit2(&z->zs, window_bits(fmt)) != Z_OK) {
    ep_err_set(err, EP_ERR_NOMEM, "inflate: cannot initialise zlib");
    free(z);
    return NULL;
  }
  z->zinit = true;
  return z;
}

void ep_inflate_free(ep_inflate_t *z) {
  if (z == NULL) {
    return;
  }
  if (z->zinit) {
    inflateEnd(&z->zs);
  }
  free(z);
}

uint64_t ep_inflate_total_in(const ep_inflate_t *z) { return z->total_in; }
uint64_t ep_inflate_total_out(const ep_inflate_t *z) { return z->total_out; }

static int fail(ep_inflate_t *z, ep_err_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(ep_inflate_t *z, ep_err_t *err, int code, const char *fmt, ...) {
  char msg[EP_ERR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  z->failed = code;
  return ep_err_set(err, code, "%s: %s", fmt_name(z->fmt), msg);
}

/* The limit that was hit, said plainly. */
static int limit_hit(ep_inflate_t *z, const ep_buf_t *out, ep_err_t *err) {
  size_t ratio_cap = ep_inflate_allowance(SIZE_MAX, z->total_in);
  if (out->len >= out->cap && out->cap <= ratio_cap && out->cap <= z->abs_cap) {
    return fail(z, err, EP_ERR_LIMIT, "inflated data would exceed the %s cap of %zu bytes",
                out->name, out->cap);
  }
  if (z->abs_cap <= ratio_cap) {
    return fail(z, err, EP_ERR_LIMIT, "inflated data would exceed the cap of %zu bytes",
                z->abs_cap);
  }
  return fail(z, err, EP_ERR_LIMIT,
              "deflate bomb: more than %u x %llu compressed bytes + %u = %zu bytes inflated",
              (unsigned)EP_CAP_INFLATE_RATIO, (unsigned long long)z->total_in,
              (unsigned)EP_CAP_INFLATE_SLACK, ratio_cap);
}

static int zlib_error(ep_inflate_t *z, int ret, ep_err_t *err) {
  const char *why = z->zs.msg != NULL ? z->zs.msg : "corrupt data";
  if (ret == Z_MEM_ERROR) {
    return fail(z, err, EP_ERR_NOMEM, "zlib is out of memory");
  }
  if (ret == Z_NEED_DICT) {
    why = "stream wants a preset dictionary";
  }
  if (z->streams > 0) {
    return fail(z, err, EP_ERR_MALFORMED, "byte %llu: %s (in data after the end of stream %u)",
                (unsigned long long)z->total_in, why, z->streams);
  }
  return fail(z, err, EP_ERR_MALFORMED, "byte %llu: %s", (unsigned long long)z->total_in, why);
}

int ep_inflate_feed(ep_inflate_t *z, const uint8_t *in, size_t n, ep_buf_t *out, ep_err_t *err) {
  if (z->failed != 0) {
    return ep_err_set(err, z->failed, "%s: the inflater failed earlier", fmt_name(z->fmt));
  }
  for (;;) {
    if (z->at_end) {
      if (n == 0) {
        return EP_OK;
      }
      /* Another stream follows the one that ended. */
      if (inflateReset(&z->zs) != Z_OK) {
        return fail(z, err, EP_ERR_INTERNAL, "inflateReset failed");
      }
      z->at_end = false;
    }
    uInt avail_in = n > UINT_MAX ? UINT_MAX : (uInt)n;
    /* The most that may exist after this call, counting all of its input. */
    size_t upper = ep_inflate_allowance(z->abs_cap, z->total_in + n);
    size_t out_room = out->cap - out->len;
    if (upper > z->total_out + out_room) {
      upper = (size_t)z->total_out + out_room;
    }
    size_t room = upper > z->total_out ? upper - (size_t)z->total_out : 0;
    uint8_t scratch = 0;
    uint8_t *dst;
    size_t chunk;
    if (room == 0) {
      dst = &scratch;  /* probe: does the stream want to produce more? */
      chunk = 1;
    } else {
      chunk = room < EP_INFLATE_CHUNK ? room : EP_INFLATE_CHUNK;
      dst = ep_buf_space(out, chunk, err);
      if (dst == NULL) {
        z->failed = err != NULL ? err->code : EP_ERR_NOMEM;
        return z->failed;
      }
    }
    z->zs.next_in = (Bytef *)(uintptr_t)in;
    z->zs.avail_in = avail_in;
    z->zs.next_out = dst;
    z->zs.avail_out = (uInt)chunk;
    int ret = inflate(&z->zs, Z_NO_FLUSH);
    size_t consumed = avail_in - z->zs.avail_in;
    size_t produced = chunk - z->zs.avail_out;
    in += consumed;
    n -= consumed;
    z->total_in += consumed;
    if (room == 0) {
      if (produced > 0) {
        return limit_hit(z, out, err);
      }
    } else {
      ep_buf_commit(out, produced);
      z->total_out += produced;
      if (z->total_out > ep_inflate_allowance(z->abs_cap, z->total_in)) {
        return limit_hit(z, out, err);
      }
    }
    if (ret == Z_STREAM_END) {
      z->at_end = true;
      z->streams++;
      continue;
    }
    if (ret != Z_OK && ret != Z_BUF_ERROR) {
      return zlib_error(z, ret, err);
    }
    if (n == 0 && (z->zs.avail_out > 0 || produced == 0)) {
      return EP_NEED_MORE;  /* all input taken, zlib has nothing more to give */
    }
    if (consumed == 0 && produced == 0) {
      return fail(z, err, EP_ERR_INTERNAL, "byte %llu: zlib made no progress",
                  (unsigned long long)z->total_in);
    }
  }
}

int ep_inflate_finish(ep_inflate_t *z, ep_err_t *err) {
  if (z->failed != 0) {
    return ep_err_set(err, z->failed, "%s: the inflater failed earlier", fmt_name(z->fmt));
  }
  if (z->at_end && z->streams > 0) {
    return EP_OK;
  }
  if (z->total_in == 0) {
    return ep_err_set(err, EP_ERR_TRUNCATED, "%s: no compressed data", fmt_name(z->fmt));
  }
  return ep_err_set(err, EP_ERR_TRUNCATED,
                    "%s: compressed data ends inside a stream after %llu bytes (%llu inflated)",
                    fmt_name(z->fmt), (unsigned long long)z->total_in,
                    (unsigned long long)z->total_out);
}

int ep_inflate_all(const uint8_t *in, size_t n, size_t abs_cap, uint8_t **out, size_t *outlen,
                   ep_err_t *err) {
  *out = NULL;
  *outlen = 0;
  ep_inflate_t *z = ep_inflate_new(EP_INFLATE_AUTO, abs_cap, err);
  if (z == NULL) {
    return err != NULL ? err->code : EP_ERR_NOMEM;
  }
  ep_buf_t b;
  ep_buf_init(&b, abs_cap, "inflated data", 0);
  int rc = ep_inflate_feed(z, in, n, &b, err);
  if (rc >= 0) {
    rc = ep_inflate_finish(z, err);
  }
  if (rc == EP_OK) {
    rc = ep_buf_nul_terminate(&b, err);
  }
  ep_inflate_free(z);
  if (rc != EP_OK) {
    ep_buf_free(&b);
    return rc;
  }
  if (b.data == NULL) {
    /* An empty stream inflates to nothing: still hand back a buffer. */
    *out = calloc(1, 1);
    if (*out == NULL) {
      return ep_err_set(err, EP_ERR_NOMEM, "inflate: out of memory");
    }
    return EP_OK;
  }
  *out = ep_buf_steal(&b, outlen);
  return EP_OK;
}
