/* exitprobe — directory requests over BEGIN_DIR (see dirvia.h): the
 * ep_dir_http_transport_t (dirtransport.h) whose raw fetch is a dirstream. */
#include "config.h"

#include "probe/dirclient/dirvia.h"

#include <stdlib.h>
#include <string.h>

#include "probe/dirclient/dirstream.h"

/* Paths longer than this are cut into more batches by the directory client;
 * the request (with its headers) must fit dirstream's 4 KiB buffer. */
#define ORPORT_MAX_PATH 3072

static void *orport_open(void *ctx, ep_loop_t *loop, const ep_dir_server_t *srv, const char *path,
                         const ep_http_limits_t *lim, ep_http_fetch_cb cb, void *arg,
                         ep_err_t *err) {
  if (srv->or_port == 0) {
    ep_err_set(err, EP_ERR_UNSUPPORTED, "it has no ORPort");
    return NULL;
  }
  ep_target_t t;
  memset(&t, 0, sizeof t); /* no ntor key: CREATE_FAST, as tor does for directory circuits */
  t.ipv4 = srv->ipv4;
  t.or_port = srv->or_port;
  memcpy(t.rsa_id, srv->rsa_id, sizeof t.rsa_id);
  return ep_dirstream_fetch(loop, ctx, &t, path, lim, cb, arg, err);
}

static void orport_close(void *fetch) { ep_dirstream_cancel(fetch); }

ep_dir_transport_t *ep_dir_transport_orport_new(ep_tls_ctx_t *tls) {
  ep_dir_http_transport_t *h = calloc(1, sizeof *h);
  if (h == NULL) {
    return NULL;
  }
  ep_dir_http_transport_init(h, "orport", ORPORT_MAX_PATH, orport_open, orport_close, tls);
  return &h->t;
}

void ep_dir_transport_orport_free(ep_dir_transport_t *t) {
  free(t); /* t is the first member of its ep_dir_http_transport_t */
}
