/* exitprobe — the directory client's one transport interface.
 *
 * Every request the client makes goes through an ep_dir_transport_t: "fetch
 * this path from that server, call me back with the reply or an error". The
 * client (dirclient.h) knows nothing else of it. Both transports there are
 * speak HTTP/1.0 underneath and are built the same way, from an
 * ep_dir_http_transport_t: a pair of functions that open and close one raw
 * HTTP fetch answering through an ep_http_fetch_cb (probe/http.h):
 *   - the DirPort one (ep_dir_transport_dirport, here): plain HTTP to the
 *     server's DirPort (ep_http_fetch);
 *   - the ORPort one (probe/dirclient/dirvia.h): a BEGIN_DIR stream on a
 *     one-hop circuit (probe/dirclient/dirstream.h).
 * The request bookkeeping and the turning of a parsed response into an
 * ep_dir_reply_t are written once, here. */
#ifndef EP_PROBE_DIRTRANSPORT_H
#define EP_PROBE_DIRTRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "probe/dirclient/http.h"
#include "probe/net/loop.h"

/* A directory server (an authority, for now). */
typedef struct ep_dir_server {
  char name[24];           /* its nickname, or "" */
  uint32_t ipv4;           /* host order */
  uint16_t dir_port;       /* 0: none */
  uint16_t or_port;
  uint8_t rsa_id[20];      /* relay identity (for BEGIN_DIR) */
  bool has_v3ident;
  uint8_t v3ident[20];
} ep_dir_server_t;

/* "auth1 127.0.0.1:7001" into out (48 bytes are enough). */
void ep_dir_server_describe(const ep_dir_server_t *s, char *out, size_t outcap);

/* A complete response. */
typedef struct ep_dir_reply {
  int status;              /* HTTP status */
  char reason[64];         /* reason phrase, escaped for display */
  uint8_t *body;           /* decoded body, NUL-terminated (not counted); may be taken */
  size_t body_len;
  uint64_t wire_len;       /* body bytes as they came (compressed, if they were) */
  ep_http_enc_t enc;
} ep_dir_reply_t;

/* Fill out from a complete parsed response: takes its body. The one place
 * both transports turn HTTP into a reply. */
int ep_dir_reply_from_http(ep_http_resp_t *resp, ep_dir_reply_t *out, ep_err_t *err);
void ep_dir_reply_clear(ep_dir_reply_t *r);   /* frees the body (if not taken) */

/* Called exactly once per started request, unless cancelled first. rc
 * EP_OK: reply holds a complete response (whatever its status; the callee
 * may take reply->body and set it NULL); otherwise reply is NULL and err
 * says what failed. Never called from inside start(). The callee must not
 * cancel the request it is called for. */
typedef void (*ep_dir_reply_cb)(void *arg, int rc, ep_dir_reply_t *reply, const ep_err_t *err);
/* A transport's end of a request: turn an ep_http_fetch_cb outcome into the
 * reply callback (every transport shares this). */
void ep_dir_reply_deliver(ep_dir_reply_cb cb, void *arg, int rc, ep_http_resp_t *resp,
                          const ep_err_t *err);

typedef struct ep_dir_transport {
  const char *name;        /* "dirport", "orport" (messages then name the ORPort) */
  /* Longest path it can send (the DirPort one: what fits probe/http's
   * request buffer). Batches are cut to fit. */
  size_t max_path;
  /* Start fetching path from srv. lim: body cap and timeout for this
   * request. Returns a handle, or NULL with err if nothing was started. */
  void *(*start)(void *self, ep_loop_t *loop, const ep_dir_server_t *srv, const char *path,
                 const ep_http_limits_t *lim, ep_dir_reply_cb cb, void *arg, ep_err_t *err);
  /* Abandon a started request (no callback). */
  void (*cancel)(void *self, void *handle);
  void *self;
} ep_dir_transport_t;

/* A server in messages, by the port t uses: ep_dir_server_describe with
 * the ORPort in place of the DirPort when t is named "orport". */
void ep_dir_transport_describe(const ep_dir_transport_t *t, const ep_dir_server_t *s, char *out,
                               size_t outcap);

/* Plain HTTP/1.0 to the server's DirPort (probe/http.h's ep_http_fetch). */
const ep_dir_transport_t *ep_dir_transport_dirport(void);

/* ---- building a transport from a raw HTTP fetch ---- */

/* Start one raw fetch of path from srv: NULL with err if nothing was
 * started (e.g. "it has no DirPort"); else cb is called once, as
 * ep_http_fetch_cb says, unless the fetch is closed first. */
typedef void *(*ep_dir_http_open_fn)(void *ctx, ep_loop_t *loop, const ep_dir_server_t *srv,
                                     const char *path, const ep_http_limits_t *lim,
                                     ep_http_fetch_cb cb, void *arg, ep_err_t *err);
/* Abandon a raw fetch (no callback). */
typedef void (*ep_dir_http_close_fn)(void *fetch);

typedef struct ep_dir_http_transport {
  ep_dir_transport_t t;    /* first: what the client is given; t.self is this */
  ep_dir_http_open_fn open;
  ep_dir_http_close_fn close;
  void *ctx;               /* open's first argument */
} ep_dir_http_transport_t;

/* Fill h: t.start/t.cancel wrap open/close (one request record per fetch,
 * its outcome delivered with ep_dir_reply_deliver). */
void ep_dir_http_transport_init(ep_dir_http_transport_t *h, const char *name, size_t max_path,
                                ep_dir_http_open_fn open, ep_dir_http_close_fn close, void *ctx);

#endif
