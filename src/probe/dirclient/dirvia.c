/* exitprobe — directory requests over BEGIN_DIR. */
#include "config.h"

#include "probe/dirclient/dirvia.h"

#include <stdlib.h>
#include <string.h>

#include "probe/dirclient/dirstream.h"

/* Paths longer than this are cut into more batches by the directory client;
 * the request (with its headers) must fit dirstream's 4 KiB buffer. */
#define ORPORT_MAX_PATH 3072

typedef struct orport_self {
  ep_dir_transport_t t;
  ep_tls_ctx_t *tls;
} orport_self_t;

typedef struct orport_req {
  ep_dirstream_t *d;
  ep_dir_reply_cb cb;
  void *arg;
} orport_req_t;

static void orport_done(void *arg, int rc, ep_http_resp_t *resp, const ep_err_t *err) {
  orport_req_t *q = arg;
  ep_dir_reply_cb cb = q->cb;
  void *cbarg = q->arg;
  free(q);
  ep_dir_reply_deliver(cb, cbarg, rc, resp, err);
}

static void *orport_start(void *self, ep_loop_t *loop, const ep_dir_server_t *srv,
                          const char *path, const ep_http_limits_t *lim, ep_dir_reply_cb cb,
                          void *arg, ep_err_t *err) {
  orport_self_t *s = self;
  if (srv->or_port == 0) {
    ep_err_set(err, EP_ERR_UNSUPPORTED, "it has no ORPort");
    return NULL;
  }
  ep_target_t t;
  memset(&t, 0, sizeof t); /* no ntor key: CREATE_FAST, as tor does for directory circuits */
  t.ipv4 = srv->ipv4;
  t.or_port = srv->or_port;
  memcpy(t.rsa_id, srv->rsa_id, sizeof t.rsa_id);
  orport_req_t *q = calloc(1, sizeof *q);
  if (q == NULL) {
    ep_err_set(err, EP_ERR_NOMEM, "out of memory");
    return NULL;
  }
  q->cb = cb;
  q->arg = arg;
  q->d = ep_dirstream_fetch(loop, s->tls, &t, path, lim, orport_done, q, err);
  if (q->d == NULL) {
    free(q);
    return NULL;
  }
  return q;
}

static void orport_cancel(void *self, void *handle) {
  (void)self;
  orport_req_t *q = handle;
  if (q != NULL) {
    ep_dirstream_cancel(q->d);
    free(q);
  }
}

ep_dir_transport_t *ep_dir_transport_orport_new(ep_tls_ctx_t *tls) {
  orport_self_t *s = calloc(1, sizeof *s);
  if (s == NULL) {
    return NULL;
  }
  s->tls = tls;
  s->t.name = "orport";
  s->t.max_path = ORPORT_MAX_PATH;
  s->t.start = orport_start;
  s->t.cancel = orport_cancel;
  s->t.self = s;
  return &s->t;
}

void ep_dir_transport_orport_free(ep_dir_transport_t *t) {
  free(t); /* t is the first member of orport_self_t */
}
