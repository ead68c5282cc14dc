/* exitprobe — the directory client's transports (see dirtransport.h). */
#include "config.h"

#include "probe/dirclient/dirtransport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/addr.h"
#include "lib/escape.h"

/* probe/http.c builds the request in a 4096-byte buffer: "GET <path>
 * HTTP/1.0", Host (an address up to 47 bytes) and Accept-Encoding take
 * about 110 of them. */
#define DIRPORT_MAX_PATH 3900

void ep_dir_server_describe(const ep_dir_server_t *s, char *out, size_t outcap) {
  char ip[EP_IPV4_STRLEN];
  ep_ipv4_format(ip, s->ipv4);
  snprintf(out, outcap, "%s%s%s:%u", s->name, s->name[0] != '\0' ? " " : "", ip,
           (unsigned)s->dir_port);
}

void ep_dir_transport_describe(const ep_dir_transport_t *t, const ep_dir_server_t *s, char *out,
                               size_t outcap) {
  ep_dir_server_t c = *s;
  if (t->name != NULL && strcmp(t->name, "orport") == 0) {
    c.dir_port = c.or_port;
  }
  ep_dir_server_describe(&c, out, outcap);
}

/* ---- replies ---- */

int ep_dir_reply_from_http(ep_http_resp_t *resp, ep_dir_reply_t *out, ep_err_t *err) {
  memset(out, 0, sizeof *out);
  out->status = ep_http_resp_status(resp);
  const char *reason = ep_http_resp_reason(resp);
  ep_escape_text(out->reason, sizeof out->reason, reason, strlen(reason));
  out->enc = ep_http_resp_encoding(resp);
  out->wire_len = ep_http_resp_wire_body_len(resp);
  out->body = ep_http_resp_take_body(resp, &out->body_len, err);
  return out->body != NULL ? EP_OK : (err != NULL ? err->code : EP_ERR_NOMEM);
}

void ep_dir_reply_clear(ep_dir_reply_t *r) {
  if (r != NULL) {
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
  }
}

void ep_dir_reply_deliver(ep_dir_reply_cb cb, void *arg, int rc, ep_http_resp_t *resp,
                          const ep_err_t *err) {
  if (rc != EP_OK) {
    cb(arg, rc, NULL, err);
    return;
  }
  ep_dir_reply_t reply;
  ep_err_t e = {0};
  if (ep_dir_reply_from_http(resp, &reply, &e) != EP_OK) {
    cb(arg, e.code, NULL, &e);
    return;
  }
  cb(arg, EP_OK, &reply, NULL);
  ep_dir_reply_clear(&reply);
}

/* ---- a transport over raw HTTP fetches ---- */

typedef struct http_req {
  const ep_dir_http_transport_t *h;
  void *fetch;
  ep_dir_reply_cb cb;
  void *arg;
} http_req_t;

static void http_done(void *arg, int rc, ep_http_resp_t *resp, const ep_err_t *err) {
  http_req_t *q = arg;
  ep_dir_reply_cb cb = q->cb;
  void *cbarg = q->arg;
  free(q);
  ep_dir_reply_deliver(cb, cbarg, rc, resp, err);
}

static void *http_start(void *self, ep_loop_t *loop, const ep_dir_server_t *srv, const char *path,
                        const ep_http_limits_t *lim, ep_dir_reply_cb cb, void *arg,
                        ep_err_t *err) {
  const ep_dir_http_transport_t *h = self;
  http_req_t *q = calloc(1, sizeof *q);
  if (q == NULL) {
    ep_err_set(err, EP_ERR_NOMEM, "out of memory");
    return NULL;
  }
  *q = (http_req_t){.h = h, .cb = cb, .arg = arg};
  q->fetch = h->open(h->ctx, loop, srv, path, lim, http_done, q, err);
  if (q->fetch == NULL) {
    free(q);
    return NULL;
  }
  return q;
}

static void http_cancel(void *self, void *handle) {
  (void)self;
  http_req_t *q = handle;
  if (q != NULL) {
    q->h->close(q->fetch);
    free(q);
  }
}

void ep_dir_http_transport_init(ep_dir_http_transport_t *h, const char *name, size_t max_path,
                                ep_dir_http_open_fn open, ep_dir_http_close_fn close, void *ctx) {
  memset(h, 0, sizeof *h);
  h->t.name = name;
  h->t.max_path = max_path;
  h->t.start = http_start;
  h->t.cancel = http_cancel;
  h->t.self = h;
  h->open = open;
  h->close = close;
  h->ctx = ctx;
}

/* ---- the DirPort transport ---- */

static void *dirport_open(void *ctx, ep_loop_t *loop, const ep_dir_server_t *srv, const char *path,
                          const ep_http_limits_t *lim, ep_http_fetch_cb cb, void *arg,
                          ep_err_t *err) {
  (void)ctx;
  if (srv->dir_port == 0) {
    ep_err_set(err, EP_ERR_UNSUPPORTED, "it has no DirPort");
    return NULL;
  }
  char ip[EP_IPV4_STRLEN];
  ep_ipv4_format(ip, srv->ipv4);
  return ep_http_fetch(loop, ip, srv->dir_port, path, lim, cb, arg, err);
}

static void dirport_close(void *fetch) { ep_http_fetch_cancel(fetch); }

/* Never written: t.self is cast from const only because the interface's
 * self is a plain pointer (http_start reads it as const). */
static const ep_dir_http_transport_t dirport_transport = {
    .t = {.name = "dirport",
          .max_path = DIRPORT_MAX_PATH,
          .start = http_start,
          .cancel = http_cancel,
          .self = (void *)&dirport_transport},
    .open = dirport_open,
    .close = dirport_close,
    .ctx = NULL};

const ep_dir_transport_t *ep_dir_transport_dirport(void) { return &dirport_transport.t; }
