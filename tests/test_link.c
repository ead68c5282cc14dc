/* exitprobe — unit tests of src/probe/link.c: a link over real TCP and TLS
 * on 127.0.0.1 to a scripted relay (tests/link_fake's identity and
 * certificates) running in the same loop. What is checked: the cells queued
 * during one turn leave at its end, every one and in order, whether or not
 * the owner calls ep_link_flush (the link schedules its own flush); a link
 * closed right after queueing a cell still sends it; a close_notify read
 * with the last bytes is seen at once, not at the handshake timeout. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/reader.h"
#include "lib/timeutil.h"
#include "link_fake.h"
#include "link_fake_net.h"
#include "probe/net/link.h"
#include "probe/net/loop.h"
#include "probe/net/tls.h"
#include "proto/cell.h"
#include "proto/linkhs.h"
#include "testutil.h"

#define N_CIRCS 40
#define PROTO 5

/* ---- the relay side ---- */

typedef struct relay {
  ep_loop_t *loop;
  const lf_identity_t *id;
  ep_tls_ctx_t *ctx;
  int lfd;
  ep_tls_conn_t *c;
  ep_buf_t in, out;
  bool hs_done, greeted, closed;
  bool notify_mode;          /* answer VERSIONS with half a header and a close_notify */
  bool notify_due;
  int linkproto;             /* 0 until our VERSIONS is out */
  uint8_t cmds[256];         /* commands received after the handshake, in order */
  uint32_t ids[256];
  size_t n_cells;
  int rc;
  ep_err_t err;
} relay_t;

static void put_cell(relay_t *r, int proto, uint8_t cmd, const uint8_t *p, size_t n) {
  uint8_t cell[EP_CELL_VAR_HEADER_MAX + 4096];
  ep_err_t e = {0};
  ssize_t len = ep_cell_encode(cell, sizeof cell, proto, 0, cmd, p, n, &e);
  ck_assert_msg(len > 0, "%s", e.msg);
  ck_assert_int_eq(ep_buf_append(&r->out, cell, (size_t)len, NULL), EP_OK);
}

/* VERSIONS, CERTS, AUTH_CHALLENGE, NETINFO, as a relay answers a client. */
static void greet(relay_t *r) {
  uint8_t payload[4096];
  size_t plen;
  ep_err_t e = {0};
  const uint16_t vs[] = {3, 4, 5};
  ck_assert_int_eq(ep_versions_encode(payload, sizeof payload, vs, 3, &plen, &e), EP_OK);
  put_cell(r, 0, EP_CELL_VERSIONS, payload, plen);
  plen = lf_certs_payload(r->id, 0, payload, sizeof payload);
  put_cell(r, PROTO, EP_CELL_CERTS, payload, plen);
  ep_auth_challenge_t ac;
  memset(&ac, 0, sizeof ac);
  ac.n_methods = 1;
  ac.methods[0] = 3;
  ck_assert_int_eq(ep_auth_challenge_encode(payload, sizeof payload, &ac, &plen, &e), EP_OK);
  put_cell(r, PROTO, EP_CELL_AUTH_CHALLENGE, payload, plen);
  ep_netinfo_t ni;
  memset(&ni, 0, sizeof ni);
  ni.timestamp = (uint32_t)time(NULL);
  ni.other.family = EP_IPADDR_V4;
  ep_put_u32(ni.other.bytes, 0x7f000001);
  ni.n_my_kept = 1;
  ni.my[0].family = EP_IPADDR_V4;
  ep_put_u32(ni.my[0].bytes, 0x7f000001);
  ck_assert_int_eq(ep_netinfo_encode(payload, &ni, &e), EP_OK);
  put_cell(r, PROTO, EP_CELL_NETINFO, payload, EP_CELL_PAYLOAD_LEN);
  r->linkproto = PROTO;
  r->greeted = true;
}

/* Take every whole cell out of r->in. */
static void take_cells(relay_t *r) {
  for (;;) {
    int proto = r->greeted ? r->linkproto : 0;
    size_t clen = 0;
    ep_err_t e = {0};
    int rc = ep_cell_frame(r->in.data, r->in.len, proto, &clen, &e);
    if (rc == EP_NEED_MORE) {
      return;
    }
    ck_assert_msg(rc == EP_OK, "relay: %s", e.msg);
    ep_cell_t cell;
    ck_assert_int_eq(ep_cell_parse(r->in.data, clen, proto, &cell, &e), EP_OK);
    if (!r->greeted && r->notify_mode) {
      static const uint8_t half[4] = {0, 0, EP_CELL_VERSIONS, 0};
      ck_assert_int_eq(ep_buf_append(&r->out, half, sizeof half, NULL), EP_OK);
      r->notify_due = true;
      r->greeted = true;
    } else if (!r->greeted) {
      ck_assert_uint_eq(cell.command, EP_CELL_VERSIONS);
      greet(r);
    } else if (cell.command != EP_CELL_NETINFO && r->n_cells < 256) {
      r->cmds[r->n_cells] = cell.command;
      r->ids[r->n_cells] = cell.circ_id;
      r->n_cells++;
    }
    ep_buf_consume(&r->in, clen);
  }
}

static void relay_io(ep_loop_t *loop, int fd, unsigned events, void *arg) {
  (void)events;
  relay_t *r = arg;
  if (r->closed || r->rc != 0) {
    ep_loop_mod_fd(loop, fd, 0, NULL);
    return;
  }
  if (!r->hs_done) {
    int rc = ep_tls_handshake(r->c, &r->err);
    if (rc == EP_NEED_MORE) {
      ep_loop_mod_fd(loop, fd, EP_LOOP_READ | ep_tls_wants(r->c), NULL);
      return;
    }
    ck_assert_msg(rc == EP_OK, "relay handshake: %s", r->err.msg);
    r->hs_done = true;
  }
  for (;;) {
    size_t n = 0;
    int rc = ep_tls_read(r->c, &r->in, &n, &r->err);
    if (rc == EP_TLS_CLOSED) {
      r->closed = true;
      break;
    }
    if (rc < 0) {
      r->rc = rc;
      break;
    }
    if (rc == EP_NEED_MORE) {
      break;
    }
    take_cells(r);
  }
  take_cells(r);
  if (r->out.len > 0 && !r->closed) {
    int rc = ep_tls_write_buf(r->c, &r->out, &r->err);
    if (rc < 0) {
      r->rc = rc;
    }
  }
  if (r->notify_due && r->out.len == 0 && !r->closed) {
    /* Right after the bytes, in the same turn: the client reads both at
     * once. TCP stays open. */
    int rc = ep_tls_shutdown(r->c, &r->err);
    ck_assert_msg(rc == EP_OK, "relay close_notify: %s", r->err.msg);
    r->notify_due = false;
  }
  unsigned want = EP_LOOP_READ | (r->out.len > 0 ? EP_LOOP_WRITE : 0);
  ep_loop_mod_fd(loop, fd, (r->closed || r->rc != 0) ? 0 : want, NULL);
}

static void relay_accept(ep_loop_t *loop, int fd, unsigned events, void *arg) {
  (void)events;
  relay_t *r = arg;
  int s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (s < 0) {
    return;
  }
  ep_err_t err = {0};
  r->c = ep_tls_conn_new(r->ctx, s, "test client", &err);
  ck_assert_msg(r->c != NULL, "%s", err.msg);
  ck_assert_int_eq(ep_loop_add_fd(loop, s, EP_LOOP_READ, relay_io, r, &err), EP_OK);
  ep_loop_del_fd(loop, fd);
}

/* ---- the client side ---- */

typedef struct client {
  ep_link_t *link;
  bool open, closed;
  char closed_msg[256];
  uint32_t ids[N_CIRCS];
  size_t n_ids;
  size_t pending_after_flush;   /* bytes still queued in the channel after ep_link_flush */
  bool no_flush_calls;          /* never call ep_link_flush */
} client_t;

static void on_link(void *arg, ep_link_t *link, const ep_event_t *ev) {
  client_t *c = arg;
  if (ev->type == EP_EV_CHAN_CLOSED) {
    c->closed = true;
    snprintf(c->closed_msg, sizeof c->closed_msg, "%s", ev->msg);
    return;
  }
  if (ev->type != EP_EV_CHAN_OPEN) {
    return;
  }
  c->open = true;
  /* Many circuits in one turn, a flush after each, as the scan does. */
  ep_channel_t *ch = ep_link_channel(link);
  ck_assert_ptr_nonnull(ch);
  for (size_t i = 0; i < N_CIRCS; i++) {
    ep_err_t e = {0};
    ck_assert_msg(ep_channel_circ_create(ch, EP_CREATE_NTOR, &c->ids[i], &e) == EP_OK, "%s", e.msg);
    c->n_ids++;
    if (!c->no_flush_calls) {
      ep_link_flush(link);
    }
    size_t n;
    ep_channel_out(ch, &n);
    c->pending_after_flush = n;
  }
}

typedef struct waitfor {
  relay_t *r;
  client_t *c;
  size_t cells;
  bool relay_closed;
} waitfor_t;

static bool got_enough(void *arg) {
  waitfor_t *w = arg;
  if (w->c->closed || w->r->rc != 0) {
    return true;
  }
  return w->relay_closed ? w->r->closed : w->r->n_cells >= w->cells;
}

typedef struct fixture {
  lf_identity_t *id;
  relay_t *r;
  client_t *c;
  ep_tls_ctx_t *cctx;
} fixture_t;

/* A relay listening in a new loop and a link to it (handshake timeout hs_ms). */
static void fixture_start(fixture_t *f, bool notify_mode, bool no_flush_calls, int64_t hs_ms) {
  f->id = lf_identity_new(time(NULL));
  ck_assert_ptr_nonnull(f->id);
  ep_err_t err = {0};
  relay_t *r = f->r = calloc(1, sizeof *r);
  client_t *c = f->c = calloc(1, sizeof *c);
  ck_assert(r != NULL && c != NULL);
  c->no_flush_calls = no_flush_calls;
  r->notify_mode = notify_mode;
  r->loop = ep_loop_new(&err);
  ck_assert_ptr_nonnull(r->loop);
  r->id = f->id;
  r->ctx = lf_tls_server_ctx(f->id);
  ep_buf_init(&r->in, 1u << 20, "relay in", 0);
  ep_buf_init(&r->out, 1u << 20, "relay out", 0);
  uint16_t port = lf_listen_loopback(r->loop, relay_accept, r, &r->lfd);
  f->cctx = ep_tls_ctx_new_client(&err);
  ck_assert_ptr_nonnull(f->cctx);
  ep_target_t t = lf_target(f->id, 0x7f000001, port);
  ep_link_cfg_t cfg = {.handshake_timeout_ms = hs_ms};
  c->link = ep_link_open(r->loop, f->cctx, &t, &cfg, on_link, c, &err);
  ck_assert_msg(c->link != NULL, "%s", err.msg);
}

static void fixture_free(fixture_t *f) {
  relay_t *r = f->r;
  ep_err_t err = {0};
  ep_loop_run_once(r->loop, 0, &err); /* the link is freed on a later turn */
  if (r->c != NULL) {
    ep_loop_del_fd(r->loop, ep_tls_fd(r->c));
    ep_tls_conn_free(r->c);
  }
  close(r->lfd);
  ep_buf_free(&r->in);
  ep_buf_free(&r->out);
  ep_tls_ctx_free(r->ctx);
  ep_tls_ctx_free(f->cctx);
  ep_loop_free(r->loop);
  lf_identity_free(f->id);
  free(r);
  free(f->c);
}

START_TEST(a_turns_cells_leave_together_all_in_order) {
  fixture_t f;
  fixture_start(&f, false, _i == 1, 0);
  relay_t *r = f.r;
  client_t *c = f.c;
  ep_err_t err = {0};
  waitfor_t w = {r, c, N_CIRCS, false};
  int rc = ep_loop_run_until(r->loop, got_enough, &w, ep_now_ms() + 10000, &err);
  ck_assert_msg(!c->closed, "link closed: %s", c->closed_msg);
  ck_assert_int_eq(rc, EP_LOOP_DONE);
  ck_assert(c->open);
  ck_assert_int_eq(r->rc, 0);
  /* Flushes inside the turn only asked for a write at its end: the cells
   * were still queued when the owner's callback returned... */
  ck_assert_uint_ge(c->pending_after_flush, N_CIRCS * EP_CELL_MAX_FIXED_LEN);
  /* ...and then all of them went, in the order they were made. */
  ck_assert_uint_eq(r->n_cells, N_CIRCS);
  for (size_t i = 0; i < N_CIRCS; i++) {
    ck_assert_uint_eq(r->cmds[i], EP_CELL_CREATE2);
    ck_assert_uint_eq(r->ids[i], c->ids[i]);
  }
  ck_assert_uint_eq(ep_loop_defer_count(r->loop), 0);

  /* Outside a turn: a DESTROY queued, then the link closed at once. The
   * DESTROY still goes out before the connection closes. */
  ep_channel_t *ch = ep_link_channel(c->link);
  ck_assert_ptr_nonnull(ch);
  ep_channel_circ_destroy(ch, c->ids[7]);
  if (!c->no_flush_calls) {
    ep_link_flush(c->link);
  }
  ep_link_close(c->link);
  w.relay_closed = true;
  rc = ep_loop_run_until(r->loop, got_enough, &w, ep_now_ms() + 10000, &err);
  ck_assert_int_eq(rc, EP_LOOP_DONE);
  ck_assert(r->closed);
  ck_assert_uint_eq(r->n_cells, N_CIRCS + 1);
  ck_assert_uint_eq(r->cmds[N_CIRCS], EP_CELL_DESTROY);
  ck_assert_uint_eq(r->ids[N_CIRCS], c->ids[7]);

  fixture_free(&f);
}
END_TEST

/* The relay's last bytes (half a VERSIONS header) and its close_notify come
 * in one read, TCP stays open: the link must see the close at once, not wait
 * for its handshake deadline (the socket never becomes readable again). */
START_TEST(a_close_notify_read_with_data_closes_the_link_at_once) {
  fixture_t f;
  fixture_start(&f, true, false, 8000);
  ep_err_t err = {0};
  int64_t t0 = ep_now_ms();
  waitfor_t w = {f.r, f.c, N_CIRCS, false};
  int rc = ep_loop_run_until(f.r->loop, got_enough, &w, t0 + 20000, &err);
  int64_t took = ep_now_ms() - t0;
  ck_assert_int_eq(rc, EP_LOOP_DONE);
  ck_assert(f.c->closed);
  ck_assert(!f.c->open);
  ck_assert_msg(strstr(f.c->closed_msg, "the relay closed the connection") != NULL &&
                    strstr(f.c->closed_msg, "no close_notify") == NULL,
                "%s", f.c->closed_msg);
  ck_assert_msg(took < 4000, "the link took %lld ms to close", (long long)took);
  fixture_free(&f);
}
END_TEST

static Suite *link_suite(void) {
  Suite *s = suite_create("link");
  TCase *t = tcase_create("batching");
  tcase_set_timeout(t, 60);
  /* 0: the owner calls ep_link_flush after each cell; 1: never. */
  tcase_add_loop_test(t, a_turns_cells_leave_together_all_in_order, 0, 2);
  tcase_add_test(t, a_close_notify_read_with_data_closes_the_link_at_once);
  suite_add_tcase(s, t);
  return s;
}

int main(void) { return tu_run_suite(link_suite()); }
