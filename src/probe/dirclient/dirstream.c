/* exitprobe — directory fetches over BEGIN_DIR. */
#include "config.h"

#include "probe/dirclient/dirstream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/caps.h"
#include "probe/net/circ.h"
#include "proto/relaymsg.h"

struct ep_dirstream {
  ep_loop_t *loop;
  ep_carrier_t *car;
  ep_ncirc_t *circ;
  ep_streamrec_t rec;       /* the BEGIN_DIR stream (keeps no data: the parser does) */
  char path[512];
  char origin[96];
  ep_http_limits_t lim;
  ep_http_resp_t *resp;
  ep_http_fetch_cb cb;
  void *arg;
  ep_buf_t req;             /* request bytes not yet packaged */
  ep_timer_id_t timer;
  bool done;
};

static void release(ep_loop_t *loop, void *arg) {
  (void)loop;
  ep_dirstream_t *d = arg;
  ep_http_resp_free(d->resp);
  ep_buf_free(&d->req);
  free(d);
}

static void close_all(ep_dirstream_t *d) {
  if (d->timer != 0) {
    ep_loop_timer_cancel(d->loop, d->timer);
    d->timer = 0;
  }
  ep_ncirc_free(d->circ);
  d->circ = NULL;
  ep_carrier_free(d->car);
  d->car = NULL;
}

/* Report once, then release on a later turn. */
static void finish(ep_dirstream_t *d, int rc, ep_err_t *err) {
  if (d->done) {
    return;
  }
  d->done = true;
  close_all(d);
  d->cb(d->arg, rc, d->resp, err);
  ep_loop_timer_in(d->loop, 0, release, d);
}

static void fail(ep_dirstream_t *d, int rc, const char *detail) {
  ep_err_t err = {0};
  ep_err_set(&err, rc, "%s: %s", d->origin, detail);
  finish(d, rc, &err);
}

static void on_timeout(ep_loop_t *loop, void *arg) {
  (void)loop;
  ep_dirstream_t *d = arg;
  d->timer = 0;
  fail(d, EP_ERR_TIMEOUT, "no complete answer before the deadline");
}

static void send_request(ep_dirstream_t *d) {
  while (d->req.len > 0) {
    size_t written = 0;
    ep_err_t err = {0};
    if (ep_ncirc_write(d->circ, &d->rec, d->req.data, d->req.len, &written, &err) != EP_OK) {
      fail(d, EP_ERR_IO, err.msg);
      return;
    }
    if (written == 0) {
      break; /* wait for a SENDME */
    }
    ep_buf_consume(&d->req, written);
  }
}

static void on_opened(void *arg, ep_ncirc_t *c) {
  ep_dirstream_t *d = arg;
  ep_err_t err = {0};
  if (ep_ncirc_begin(c, &d->rec, NULL, 0, 0, &err) != EP_OK) {
    fail(d, EP_ERR_IO, err.msg);
  }
}

static void on_failed(void *arg, ep_ncirc_t *c, const ep_ncirc_failure_t *f) {
  (void)c;
  ep_dirstream_t *d = arg;
  if (f->why == EP_NCIRC_LINK) {
    fail(d, f->status < 0 ? f->status : EP_ERR_IO, f->msg);
  } else if (f->ev != NULL) {
    char msg[EP_ERR_MSG_MAX + 32];
    snprintf(msg, sizeof msg, "the circuit was destroyed: %s", f->ev->msg);
    fail(d, EP_ERR_IO, msg);
  } else {
    fail(d, EP_ERR_IO, f->msg);
  }
}

static void on_stream(void *arg, ep_ncirc_t *c, ep_streamrec_t *rec, ep_srec_what_t what,
                      const ep_event_t *ev) {
  (void)c;
  ep_dirstream_t *d = arg;
  ep_err_t err = {0};
  switch (what) {
    case EP_SREC_CONNECTED:
    case EP_SREC_WRITABLE:
      send_request(d);
      break;
    case EP_SREC_DATA:
      if (ep_http_resp_feed(d->resp, ev->data, ev->len, &err) < 0) {
        finish(d, err.code, &err);
      }
      break;
    case EP_SREC_END:
      if (rec->end_reason != EP_END_DONE) {
        char rb[48], msg[96];
        snprintf(msg, sizeof msg, "the relay ended the directory stream: %s",
                 ep_end_reason_format(rb, sizeof rb, rec->end_reason));
        fail(d, EP_ERR_IO, msg);
      } else if (ep_http_resp_finish(d->resp, &err) < 0) {
        finish(d, err.code, &err);
      } else {
        finish(d, EP_OK, NULL);
      }
      break;
    default:
      break;
  }
}

static bool have_ntor_key(const ep_target_t *t) {
  bool have = false;
  for (size_t i = 0; i < sizeof t->ntor_key; i++) {
    have = have || t->ntor_key[i] != 0;
  }
  return have;
}

ep_dirstream_t *ep_dirstream_fetch(ep_loop_t *loop, ep_tls_ctx_t *tls, const ep_target_t *relay,
                                   const char *path, const ep_http_limits_t *lim,
                                   ep_http_fetch_cb cb, void *arg, ep_err_t *err) {
  ep_dirstream_t *d = calloc(1, sizeof *d);
  if (d == NULL) {
    ep_err_set(err, EP_ERR_NOMEM, "out of memory");
    return NULL;
  }
  d->loop = loop;
  d->cb = cb;
  d->arg = arg;
  if (lim != NULL) {
    d->lim = *lim;
  } else {
    ep_http_limits_default(&d->lim);
  }
  snprintf(d->path, sizeof d->path, "%s", path);
  char ip[EP_IPV4_STRLEN];
  snprintf(d->origin, sizeof d->origin, "begin_dir to %s:%u", ep_ipv4_format(ip, relay->ipv4),
           relay->or_port);
  ep_buf_init(&d->req, 4 * EP_KiB, "directory request", 0);
  d->resp = ep_http_resp_new(d->origin, &d->lim, err);
  if (d->resp == NULL || ep_http_build_get(&d->req, "127.0.0.1", path, err) != EP_OK) {
    ep_http_resp_free(d->resp);
    ep_buf_free(&d->req);
    free(d);
    return NULL;
  }
  ep_link_cfg_t lc = {.connect_timeout_ms = d->lim.timeout_ms, .handshake_timeout_ms = d->lim.timeout_ms};
  static const ep_ncirc_cbs_t cbs = {.opened = on_opened, .failed = on_failed, .stream = on_stream};
  ep_ncirc_cfg_t cc = {.kind = have_ntor_key(relay) ? EP_CREATE_NTOR : EP_CREATE_FAST};
  ep_streamrec_init(&d->rec, NULL, 0);
  d->car = ep_carrier_open(loop, tls, relay, &lc, NULL, NULL, err);
  d->circ = d->car != NULL ? ep_ncirc_new(d->car, NULL, 0, &cc, &cbs, d, err) : NULL;
  if (d->circ == NULL) {
    ep_carrier_free(d->car);
    ep_http_resp_free(d->resp);
    ep_buf_free(&d->req);
    free(d);
    return NULL;
  }
  if (d->lim.timeout_ms > 0) {
    d->timer = ep_loop_timer_in(loop, d->lim.timeout_ms, on_timeout, d);
  }
  return d;
}

void ep_dirstream_cancel(ep_dirstream_t *d) {
  if (d == NULL || d->done) {
    return;
  }
  d->done = true;
  close_all(d);
  ep_loop_timer_in(d->loop, 0, release, d);
}
