/* exitprobe — a Tor link driven by the event loop. */
#include "config.h"

#include "probe/net/link.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/caps.h"
#include "lib/log.h"
#include "lib/timeutil.h"
#include "probe/net/net.h"

/* What one read asks the channel's input buffer for: a quarter of its cap,
 * which still holds an undecoded partial cell when the next read comes. */
#define EP_LINK_READ_WANT (EP_CAP_LINK_INBUF / 4)

struct ep_link {
  ep_loop_t *loop;
  ep_tls_ctx_t *tls_ctx;
  ep_target_t peer;
  ep_link_cfg_t cfg;
  ep_link_event_cb cb;
  void *arg;
  char name[EP_ADDR_STRLEN];
  ep_link_stage_t stage;
  ep_tcp_connect_t *connect;
  ep_tls_conn_t *tls;
  int fd;
  ep_channel_t *chan;        /* TLS reads straight into its input buffer */
  ep_buf_t out;              /* cells not yet accepted by TLS */
  ep_timer_id_t deadline;
  ep_defer_id_t flush_defer;  /* a flush at the end of this turn is pending */
  ep_defer_id_t read_defer;   /* more to read than one callback's bound */
  int64_t started_ms;
  int64_t open_ms;
  bool free_scheduled;
};

static void link_free_now(ep_loop_t *loop, void *arg) {
  (void)loop;
  ep_link_t *l = arg;
  ep_channel_free(l->chan);
  ep_buf_free(&l->out);
  free(l);
}

/* Drop the socket and everything under it; the struct lives until freed. */
static void teardown(ep_link_t *l) {
  if (l->flush_defer != 0) {
    ep_loop_defer_cancel(l->loop, l->flush_defer);
    l->flush_defer = 0;
  }
  if (l->read_defer != 0) {
    ep_loop_defer_cancel(l->loop, l->read_defer);
    l->read_defer = 0;
  }
  if (l->deadline != 0) {
    ep_loop_timer_cancel(l->loop, l->deadline);
    l->deadline = 0;
  }
  if (l->connect != NULL) {
    ep_tcp_connect_cancel(l->connect);
    l->connect = NULL;
  }
  if (l->tls != NULL) {
    ep_loop_del_fd(l->loop, l->fd);
    ep_tls_conn_free(l->tls); /* closes fd */
    l->tls = NULL;
    l->fd = -1;
  }
  l->stage = EP_LINK_CLOSED;
}

/* Cells queued this turn (a DESTROY, an END) still go out when the owner
 * closes the link right after queueing them, as far as the socket takes them
 * at once; no callback, errors ignored: the link is going anyway. */
static void flush_quietly(ep_link_t *l) {
  if (l->flush_defer == 0 || l->tls == NULL || l->chan == NULL || l->stage != EP_LINK_OPEN ||
      !ep_tls_handshake_done(l->tls)) {
    return;
  }
  size_t n;
  const uint8_t *p = ep_channel_out(l->chan, &n);
  size_t room = l->out.cap - l->out.len;
  size_t take = n < room ? n : room;
  if (take > 0 && ep_buf_append(&l->out, p, take, NULL) == EP_OK) {
    ep_channel_out_consume(l->chan, take);
  }
  if (l->out.len > 0) {
    (void)ep_tls_write_buf(l->tls, &l->out, NULL);
  }
}

void ep_link_close(ep_link_t *l) {
  if (l == NULL || l->free_scheduled) {
    return;
  }
  flush_quietly(l);
  teardown(l);
  l->free_scheduled = true;
  if (ep_loop_timer_in(l->loop, 0, link_free_now, l) == 0) {
    /* Cannot defer (out of memory): leak rather than free under a caller. */
    ep_warn("link %s: cannot schedule its release", l->name);
  }
}

/* Report the link's end once, then close it. */
static void fail(ep_link_t *l, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(ep_link_t *l, int status, const char *fmt, ...) {
  if (l->stage == EP_LINK_CLOSED) {
    return;
  }
  teardown(l);
  ep_event_t ev = {.type = EP_EV_CHAN_CLOSED, .status = status};
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ev.msg, sizeof ev.msg, fmt, ap);
  va_end(ap);
  l->cb(l->arg, l, &ev);
  ep_link_close(l);
}

static void on_deadline(ep_loop_t *loop, void *arg) {
  (void)loop;
  ep_link_t *l = arg;
  l->deadline = 0;
  fail(l, EP_ERR_TIMEOUT, "link to %s: no %s within %lld ms", l->name, ep_link_stage_wait_name(l->stage),
       (long long)(l->stage == EP_LINK_CONNECTING ? l->cfg.connect_timeout_ms
                                                  : l->cfg.handshake_timeout_ms));
}

static void update_interest(ep_link_t *l) {
  if (l->tls == NULL) {
    return;
  }
  unsigned want = EP_LOOP_READ | ep_tls_wants(l->tls);
  size_t queued = 0;
  if (l->chan != NULL) {
    ep_channel_out(l->chan, &queued);
  }
  if (l->out.len > 0 || queued > 0) {
    want |= EP_LOOP_WRITE;
  }
  if (ep_loop_fd_interest(l->loop, l->fd) != want) {
    ep_loop_mod_fd(l->loop, l->fd, want, NULL);
  }
}

/* Move the channel's cells to the output buffer and hand it to TLS, until
 * both are empty or the socket takes no more. One SSL_write per call covers
 * every cell queued since the last one: cells of many circuits leave in one
 * TLS record (up to 16 KiB each) and one send(). */
static void flush_now(ep_link_t *l) {
  if (l->tls == NULL || l->chan == NULL || l->stage == EP_LINK_CLOSED) {
    return;
  }
  /* Bounded: each round either empties the output buffer or stops. */
  for (int rounds = 0; rounds < 8; rounds++) {
    size_t n;
    const uint8_t *p = ep_channel_out(l->chan, &n);
    if (n > 0) {
      ep_err_t err = {0};
      size_t room = l->out.cap - l->out.len;
      size_t take = n < room ? n : room;
      if (take > 0 && ep_buf_append(&l->out, p, take, &err) == EP_OK) {
        ep_channel_out_consume(l->chan, take);
      }
    }
    if (l->out.len == 0 || !ep_tls_handshake_done(l->tls)) {
      break;
    }
    ep_err_t err = {0};
    int rc = ep_tls_write_buf(l->tls, &l->out, &err);
    if (rc < 0) {
      fail(l, rc, "%s", err.msg);
      return;
    }
    if (rc == EP_NEED_MORE) {
      break; /* the socket is full: the loop says when it is writable */
    }
    ep_channel_out(l->chan, &n);
    if (n == 0) {
      break;
    }
  }
  update_interest(l);
}

static void on_flush_deferred(ep_loop_t *loop, void *arg) {
  (void)loop;
  ep_link_t *l = arg;
  l->flush_defer = 0;
  flush_now(l);
}

/* The channel queued a cell: write at the end of this turn, with every other
 * cell queued meanwhile (one TLS write for all). */
static void schedule_flush(void *arg) {
  ep_link_t *l = arg;
  if (l->flush_defer != 0 || l->tls == NULL || l->stage == EP_LINK_CLOSED) {
    return;
  }
  l->flush_defer = ep_loop_defer(l->loop, on_flush_deferred, l);
  if (l->flush_defer == 0) {
    update_interest(l); /* cannot defer (out of memory): write when writable */
  }
}

void ep_link_flush(ep_link_t *l) {
  size_t queued = 0;
  if (l != NULL && l->chan != NULL) {
    ep_channel_out(l->chan, &queued);
  }
  if (queued > 0) {
    schedule_flush(l);
  }
}

/* Hand every event the channel has to the owner. */
static void drain_events(ep_link_t *l) {
  ep_event_t ev;
  while (l->stage != EP_LINK_CLOSED && ep_channel_next_event(l->chan, &ev)) {
    if (ev.type == EP_EV_CHAN_OPEN) {
      l->stage = EP_LINK_OPEN;
      l->open_ms = ep_now_ms() - l->started_ms;
      if (l->deadline != 0) {
        ep_loop_timer_cancel(l->loop, l->deadline);
        l->deadline = 0;
      }
    }
    if (ev.type == EP_EV_CHAN_CLOSED) {
      teardown(l);
      l->cb(l->arg, l, &ev);
      ep_link_close(l);
      break;
    }
    l->cb(l->arg, l, &ev);
  }
}

static void on_read_deferred(ep_loop_t *loop, void *arg);

/* TLS reads straight into the channel's input buffer; the channel decodes
 * there. Reads again while TLS holds bytes or a close it has seen (epoll
 * cannot see them); past the bound, on a deferral at the end of the turn. */
static void pump_read(ep_link_t *l) {
  for (int rounds = 0; rounds < 64; rounds++) {
    ep_err_t err = {0};
    size_t room = 0, nread = 0;
    uint8_t *p = ep_channel_input_space(l->chan, EP_LINK_READ_WANT, &room, &err);
    int rc = p != NULL ? ep_tls_read_into(l->tls, p, room, &nread, &err) : err.code;
    if (rc == EP_OK) {
      ep_channel_input_commit(l->chan, nread, ep_wall_now());
    }
    if (rc == EP_OK || p == NULL) {
      drain_events(l); /* a failed channel reports its failure as an event */
    }
    if (l->stage == EP_LINK_CLOSED || rc == EP_NEED_MORE) {
      return;
    }
    if (rc == EP_TLS_CLOSED) {
      fail(l, EP_ERR_IO, "link to %s: the relay closed the connection%s", l->name,
           ep_tls_closed_cleanly(l->tls) ? "" : " (no close_notify)");
      return;
    }
    if (rc != EP_OK) {
      fail(l, rc < 0 ? rc : EP_ERR_IO, "%s", err.msg);
      return;
    }
    if (!ep_tls_pending(l->tls)) {
      return;
    }
  }
  if (l->read_defer == 0) {
    l->read_defer = ep_loop_defer(l->loop, on_read_deferred, l);
  }
}

static void on_read_deferred(ep_loop_t *loop, void *arg) {
  (void)loop;
  ep_link_t *l = arg;
  l->read_defer = 0;
  if (l->stage != EP_LINK_CLOSED && l->chan != NULL) {
    pump_read(l);
  }
}

static void on_io(ep_loop_t *loop, int fd, unsigned events, void *arg) {
  (void)loop;
  (void)fd;
  ep_link_t *l = arg;
  if (l->stage == EP_LINK_TLS) {
    ep_err_t err = {0};
    int rc = ep_tls_handshake(l->tls, &err);
    if (rc == EP_NEED_MORE) {
      update_interest(l);
      return;
    }
    if (rc != EP_OK) {
      fail(l, rc, "%s", err.msg);
      return;
    }
    uint8_t *der = NULL;
    size_t derlen = 0;
    if (ep_tls_peer_cert_der(l->tls, &der, &derlen, &err) != EP_OK) {
      fail(l, EP_ERR_VERIFY, "link to %s: %s", l->name, err.msg);
      return;
    }
    l->chan = ep_channel_new(&l->peer, &err);
    if (l->chan != NULL) {
      ep_channel_set_out_notify(l->chan, schedule_flush, l);
    }
    if (l->chan != NULL && l->cfg.trace != NULL) {
      ep_channel_set_trace(l->chan, l->cfg.trace, l->cfg.trace_arg);
    }
    int src = l->chan != NULL ? ep_channel_start(l->chan, der, derlen, ep_wall_now(), &err)
                              : EP_ERR_NOMEM;
    free(der);
    if (src != EP_OK) {
      fail(l, src, "link to %s: %s", l->name, err.msg);
      return;
    }
    l->stage = EP_LINK_HANDSHAKE; /* VERSIONS is queued: its flush is due */
    return;
  }
  if (events & (EP_LOOP_READ | EP_LOOP_HUP | EP_LOOP_ERR)) {
    pump_read(l);
  }
  if (l->stage != EP_LINK_CLOSED && (events & EP_LOOP_WRITE)) {
    flush_now(l); /* the socket has room now */
  }
}

static void on_connected(void *arg, int fd, int sys_errno, const ep_err_t *cerr) {
  ep_link_t *l = arg;
  l->connect = NULL;
  if (fd < 0) {
    (void)sys_errno;
    fail(l, cerr != NULL && cerr->code != 0 ? cerr->code : EP_ERR_IO, "link to %s: %s", l->name,
         cerr != NULL ? cerr->msg : "TCP connect failed");
    return;
  }
  ep_err_t err = {0};
  l->tls = ep_tls_conn_new(l->tls_ctx, fd, l->name, &err);
  if (l->tls == NULL) {
    fail(l, EP_ERR_IO, "link to %s: %s", l->name, err.msg);
    return;
  }
  l->fd = fd;
  l->stage = EP_LINK_TLS;
  if (l->deadline != 0) {
    ep_loop_timer_cancel(l->loop, l->deadline);
  }
  l->deadline = ep_loop_timer_in(l->loop, l->cfg.handshake_timeout_ms, on_deadline, l);
  if (ep_loop_add_fd(l->loop, fd, EP_LOOP_READ | EP_LOOP_WRITE, on_io, l, &err) != EP_OK) {
    fail(l, EP_ERR_IO, "link to %s: %s", l->name, err.msg);
    return;
  }
  on_io(l->loop, fd, EP_LOOP_WRITE, l); /* start the handshake now */
}

ep_link_t *ep_link_open(ep_loop_t *loop, ep_tls_ctx_t *tls, const ep_target_t *peer,
                        const ep_link_cfg_t *cfg, ep_link_event_cb cb, void *arg, ep_err_t *err) {
  ep_link_t *l = calloc(1, sizeof *l);
  if (l == NULL) {
    ep_err_set(err, EP_ERR_NOMEM, "out of memory");
    return NULL;
  }
  l->loop = loop;
  l->tls_ctx = tls;
  l->peer = *peer;
  if (cfg != NULL) {
    l->cfg = *cfg;
  }
  if (l->cfg.connect_timeout_ms <= 0) {
    l->cfg.connect_timeout_ms = 10000;
  }
  if (l->cfg.handshake_timeout_ms <= 0) {
    l->cfg.handshake_timeout_ms = 15000;
  }
  l->cb = cb;
  l->arg = arg;
  l->fd = -1;
  l->open_ms = -1;
  l->started_ms = ep_now_ms();
  ep_buf_init(&l->out, EP_CAP_LINK_OUTBUF, "link output", 0);
  char ip[EP_IPV4_STRLEN];
  ep_ipv4_format(ip, peer->ipv4);
  snprintf(l->name, sizeof l->name, "%s:%u", ip, peer->or_port);
  ep_addr_t addr;
  if (ep_addr_from_ip(&addr, ip, peer->or_port, err) != EP_OK) {
    free(l);
    return NULL;
  }
  l->stage = EP_LINK_CONNECTING;
  /* The connect has its own timeout; the deadline timer covers the rest. */
  l->connect = ep_tcp_connect(loop, &addr, l->cfg.connect_timeout_ms, on_connected, l, err);
  if (l->connect == NULL) {
    ep_buf_free(&l->out);
    free(l);
    return NULL;
  }
  return l;
}

ep_channel_t *ep_link_channel(ep_link_t *l) {
  return (l != NULL && l->stage != EP_LINK_CLOSED) ? l->chan : NULL;
}
ep_link_stage_t ep_link_stage(const ep_link_t *l) { return l->stage; }

const char *ep_link_stage_wait_name(ep_link_stage_t stage) {
  switch (stage) {
    case EP_LINK_CONNECTING: return "TCP connection";
    case EP_LINK_TLS: return "TLS handshake";
    case EP_LINK_HANDSHAKE: return "link handshake (VERSIONS/CERTS/NETINFO)";
    default: return "";
  }
}
const char *ep_link_peer_name(const ep_link_t *l) { return l->name; }
const char *ep_link_tls_version(const ep_link_t *l) {
  return l->tls != NULL ? ep_tls_version(l->tls) : "";
}
int64_t ep_link_open_ms(const ep_link_t *l) { return l->open_ms; }
