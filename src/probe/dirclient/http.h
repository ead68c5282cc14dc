/* exitprobe — HTTP/1.0 for directory fetches.
 *
 * Three parts:
 *   - ep_http_build_get: the request tor's directory servers expect;
 *   - ep_http_resp_*: a sans-I/O response parser. Bytes go in as they come,
 *     in pieces of any size (the result never depends on how the bytes were
 *     split); the body is inflated on the fly when Content-Encoding says so.
 *     It does not know where the bytes come from: the same parser serves a
 *     DirPort fetch and a BEGIN_DIR stream over a circuit;
 *   - ep_http_fetch: a plain-HTTP GET to a DirPort driven by the event loop,
 *     with a deadline.
 *
 * Errors name the origin and the place:
 *   "http from 127.0.0.1:7000: status line: ..."
 *   "http from 127.0.0.1:7000: header line 3: ..."  (headers counted from 1,
 *                                                    the status line apart)
 *   "http from 127.0.0.1:7000: body: deflate: byte 812: invalid distance"
 * Header text is checked (no control characters, token header names) but is
 * still relay-supplied: escape it (lib/escape.h) before showing it. */
#ifndef EP_PROBE_HTTP_H
#define EP_PROBE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "probe/net/loop.h"

typedef struct ep_http_limits {
  size_t header_cap;   /* status line + headers + blank line (EP_CAP_HTTP_HEADER) */
  size_t body_cap;     /* body bytes, on the wire and after inflation */
  int64_t timeout_ms;  /* ep_http_fetch: the whole fetch, connect included */
} ep_http_limits_t;

/* header_cap EP_CAP_HTTP_HEADER, body_cap EP_CAP_DIR_DOCUMENT, 60 s. */
void ep_http_limits_default(ep_http_limits_t *lim);

/* Append "GET <path> HTTP/1.0\r\nHost: <host>\r\n
 * Accept-Encoding: deflate, identity\r\n\r\n" to out. path must start with
 * '/' and hold only printable ASCII without spaces; host likewise.
 * EP_ERR_MALFORMED otherwise (nothing appended). */
int ep_http_build_get(ep_buf_t *out, const char *host, const char *path, ep_err_t *err);

/* ---- the response parser ---- */

typedef enum ep_http_enc {
  EP_HTTP_ENC_IDENTITY = 0,
  EP_HTTP_ENC_DEFLATE,  /* "deflate" (zlib format, tor's), "x-deflate", "zlib", "x-zlib" */
  EP_HTTP_ENC_GZIP      /* "gzip", "x-gzip" */
} ep_http_enc_t;

typedef struct ep_http_resp ep_http_resp_t;

/* origin names the peer in errors ("127.0.0.1:7000", or a relay for
 * BEGIN_DIR); copied. lim NULL: defaults. */
ep_http_resp_t *ep_http_resp_new(const char *origin, const ep_http_limits_t *lim, ep_err_t *err);
void ep_http_resp_free(ep_http_resp_t *r);  /* NULL-safe */

/* Feed n more bytes. EP_NEED_MORE: go on (until EOF if there is no
 * Content-Length); EP_OK: the response is complete (Content-Length
 * reached); negative: malformed / limit / unsupported (sticky: later calls
 * return the same error). Bytes after a complete response are an error. */
int ep_http_resp_feed(ep_http_resp_t *r, const uint8_t *p, size_t n, ep_err_t *err);
/* The stream ended (EOF): EP_OK if the response is complete (HTTP/1.0: a
 * body without Content-Length ends here), EP_ERR_TRUNCATED if the head,
 * a Content-Length body or a compressed stream was cut short. */
int ep_http_resp_finish(ep_http_resp_t *r, ep_err_t *err);
/* True once ep_http_resp_feed returned EP_OK or ep_http_resp_finish did. */
bool ep_http_resp_complete(const ep_http_resp_t *r);

bool ep_http_resp_headers_done(const ep_http_resp_t *r);
/* 0 until the status line was read. */
int ep_http_resp_status(const ep_http_resp_t *r);
/* The reason phrase ("OK", "Not found"); "" if none or not yet read. */
const char *ep_http_resp_reason(const ep_http_resp_t *r);
/* HTTP minor version (0 or 1). */
int ep_http_resp_minor_version(const ep_http_resp_t *r);
/* The value of the first header called name (case-insensitive), leading and
 * trailing blanks removed; NULL if absent. Valid until the parser is freed. */
const char *ep_http_resp_header(const ep_http_resp_t *r, const char *name);
size_t ep_http_resp_header_count(const ep_http_resp_t *r);
/* The i-th header (0-based) as received; -1 if out of range. */
int ep_http_resp_header_at(const ep_http_resp_t *r, size_t i, const char **name,
                           const char **value);
ep_http_enc_t ep_http_resp_encoding(const ep_http_resp_t *r);
/* Content-Length, or -1 if the response had none. */
int64_t ep_http_resp_content_length(const ep_http_resp_t *r);
/* Body bytes received as sent (compressed, if it was). */
uint64_t ep_http_resp_wire_body_len(const ep_http_resp_t *r);
/* The body so far, decoded (inflated). */
const uint8_t *ep_http_resp_body(const ep_http_resp_t *r, size_t *len);
/* Move the decoded body out (malloc'd, NUL-terminated, NUL not counted;
 * never NULL on success, even for an empty body). The parser keeps none. */
uint8_t *ep_http_resp_take_body(ep_http_resp_t *r, size_t *len, ep_err_t *err);
const char *ep_http_resp_origin(const ep_http_resp_t *r);

/* ---- a plain-HTTP fetch from a DirPort ---- */

typedef struct ep_http_fetch ep_http_fetch_t;

/* Called exactly once, unless the fetch is cancelled first. rc EP_OK: a
 * complete response, whatever its status (check ep_http_resp_status);
 * otherwise the failure (EP_ERR_IO with the errno name, EP_ERR_TIMEOUT,
 * parser errors) is in err, and resp holds what was parsed (status and
 * headers if they came) or is NULL if nothing was. resp belongs to the
 * fetch and is freed after the callback returns: take the body with
 * ep_http_resp_take_body. Do not cancel the fetch from its callback. */
typedef void (*ep_http_fetch_cb)(void *arg, int rc, ep_http_resp_t *resp, const ep_err_t *err);

/* GET path from ip:port (numeric IPv4/IPv6). lim NULL: defaults. Returns
 * NULL (err set) only if the fetch could not be started; any later failure
 * goes to the callback, never from inside this call. */
ep_http_fetch_t *ep_http_fetch(ep_loop_t *loop, const char *ip, uint16_t port, const char *path,
                               const ep_http_limits_t *lim, ep_http_fetch_cb cb, void *arg,
                               ep_err_t *err);
/* Abandon a fetch (closes its socket, no callback). NULL-safe. */
void ep_http_fetch_cancel(ep_http_fetch_t *f);

#endif
