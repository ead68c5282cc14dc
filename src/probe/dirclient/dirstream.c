/* exitprobe — directory fetches over BEGIN_DIR. */
#include "config.h"

#include "probe/dirclient/dirstream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/caps.h"
#include "probe/net/link.h"
#include "proto/channel.h"
#include "proto/relaymsg.h"

struct ep_dirstream {
  ep_loop_t *loop;
  ep_link_t *link;
  ep_target_t relay;
  char path[512];
  char origin[96];
  ep_http_limits_t lim;
  ep_http_resp_t *resp;
  ep_http_fetch_cb cb;
  void *arg;
  uint32_t circ_id;
  uint16_t stream_id;
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
  if (d->link != NULL) {
    ep_channel_t *ch = ep_link_channel(d->link);
    if (ch != NULL && d->circ_id != 0) {
      ep_channel_circ_destroy(ch, d->circ_id);
      ep_link_flush(d->link);
    }
    ep_link_close(d->link);
    d->link = NULL;
  }
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
  ep_channel_t *ch = ep_link_channel(d->link);
  while (ch != NULL && d->req.len > 0) {
    size_t written = 0;
    ep_err_t err = {0};
    if (ep_channel_stream_write(ch, d->circ_id, d->stream_id, d->req.data, d->req.len, &written,
                                &err) != EP_OK) {
      fail(d, EP_ERR_IO, err.msg);
      return;
    }
    if (written == 0) {
      break; /* wait for a SENDME */
    }
    ep_buf_consume(&d->req, written);
  }
  ep_link_flush(d->link);
}

static void on_event(void *arg, ep_link_t *link, const ep_event_t *ev) {
  ep_dirstream_t *d = arg;
  ep_channel_t *ch = ep_link_channel(link);
  ep_err_t err = {0};
  if (d->done) {
    return;
  }
  switch (ev->type) {
    case EP_EV_CHAN_OPEN: {
      bool have_ntor = false;
      for (size_t i = 0; i < sizeof d->relay.ntor_key; i++) {
        have_ntor = have_ntor || d->relay.ntor_key[i] != 0;
      }
      if (ep_channel_circ_create(ch, have_ntor ? EP_CREATE_NTOR : EP_CREATE_FAST, &d->circ_id,
                                 &err) != EP_OK) {
        fail(d, EP_ERR_IO, err.msg);
        return;
      }
      ep_link_flush(link);
      break;
    }
    case EP_EV_CHAN_CLOSED:
      d->link = NULL;
      fail(d, ev->status < 0 ? ev->status : EP_ERR_IO, ev->msg);
      break;
    case EP_EV_CIRC_OPEN:
      if (ev->circ_id != d->circ_id) {
        break;
      }
      if (ep_channel_stream_begin_dir(ch, d->circ_id, &d->stream_id, &err) != EP_OK) {
        fail(d, EP_ERR_IO, err.msg);
        return;
      }
      ep_link_flush(link);
      break;
    case EP_EV_CIRC_DESTROYED:
      if (ev->circ_id == d->circ_id) {
        d->circ_id = 0;
        char msg[EP_ERR_MSG_MAX + 32];
        snprintf(msg, sizeof msg, "the circuit was destroyed: %s", ev->msg);
        fail(d, EP_ERR_IO, msg);
      }
      break;
    case EP_EV_STREAM_CONNECTED:
      if (ev->stream_id == d->stream_id) {
        send_request(d);
      }
      break;
    case EP_EV_STREAM_WRITABLE:
    case EP_EV_CIRC_WRITABLE:
      if (d->stream_id != 0) {
        send_request(d);
      }
      break;
    case EP_EV_STREAM_DATA:
      if (ev->stream_id != d->stream_id) {
        break;
      }
      if (ep_http_resp_feed(d->resp, ev->data, ev->len, &err) < 0) {
        finish(d, err.code, &err);
      }
      break;
    case EP_EV_STREAM_END:
      if (ev->stream_id != d->stream_id) {
        break;
      }
      d->stream_id = 0;
      if (ev->reason != EP_END_DONE) {
        char rb[48], msg[96];
        snprintf(msg, sizeof msg, "the relay ended the directory stream: %s",
                 ep_end_reason_format(rb, sizeof rb, ev->reason));
        fail(d, EP_ERR_IO, msg);
        return;
      }
      if (ep_http_resp_finish(d->resp, &err) < 0) {
        finish(d, err.code, &err);
      } else {
        finish(d, EP_OK, NULL);
      }
      break;
    default:
      break;
  }
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
  d->relay = *relay;
  d->cb = cb;
  d->arg = arg;
  if (lim != NULL) {
    d->lim = *lim;
  } else {
    ep_http_limits_default(&d->lim);
  }
  snprintf(d->path, sizeof d->path, "%s", path);
  snprintf(d->origin, sizeof d->origin, "begin_dir to %u.%u.%u.%u:%u", (relay->ipv4 >> 24) & 255,
           (relay->ipv4 >> 16) & 255, (relay->ipv4 >> 8) & 255, relay->ipv4 & 255, relay->or_port);
  ep_buf_init(&d->req, 4 * EP_KiB, "directory request", 0);
  d->resp = ep_http_resp_new(d->origin, &d->lim, err);
  if (d->resp == NULL || ep_http_build_get(&d->req, "127.0.0.1", path, err) != EP_OK) {
    ep_http_resp_free(d->resp);
    ep_buf_free(&d->req);
    free(d);
    return NULL;
  }
  ep_link_cfg_t lc = {.connect_timeout_ms = d->lim.timeout_ms, .handshake_timeout_ms = d->lim.timeout_ms};
  d->link = ep_link_open(loop, tls, relay, &lc, on_event, d, err);
  if (d->link == NULL) {
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
