/* exitprobe — unit tests of src/probe/net/circ.c, the circuit driver and
 * stream recorder, against a scripted relay over real TCP and TLS on
 * 127.0.0.1 in the same loop (the plumbing of tests/test_link.c; the relay
 * side of the circuit is tests/link_fake's lf_circ_t). The relay is the
 * first hop and plays the exit behind it. Checked: a 2-hop circuit opens
 * after CREATED2 + EXTENDED2; a DESTROY during the extend fails it with the
 * reason and the hop; a silent extend fails at the deadline; the recorder
 * keeps CONNECTED (address, TTL), DATA up to its cap, END with the
 * EXITPOLICY address and TTL, and the timings. */
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
#include "lib/caps.h"
#include "lib/reader.h"
#include "lib/timeutil.h"
#include "link_fake.h"
#include "link_fake_net.h"
#include "probe/net/circ.h"
#include "probe/net/loop.h"
#include "probe/net/tls.h"
#include "proto/cell.h"
#include "proto/linkhs.h"
#include "proto/relaymsg.h"
#include "testutil.h"

#define PROTO 5

typedef enum mode { M_GOOD = 0, M_DESTROY_AT_EXTEND, M_SILENT_AT_EXTEND } mode_t_;

/* ---- the relay side ---- */

typedef struct relay {
  ep_loop_t *loop;
  const lf_identity_t *id, *exitr;
  mode_t_ mode;
  ep_tls_ctx_t *ctx;
  int lfd;
  ep_tls_conn_t *c;
  ep_buf_t in, out;
  bool hs_done, greeted, closed;
  int linkproto;
  lf_circ_t rc;
  bool have_circ;
  int rc_status;
  ep_err_t err;
} relay_t;

/* RELAY_BEGIN flags the client asks with on port 25 (#13: IPv6), and the
 * flags the relay saw there. */
static uint32_t begin_flags_sent, begin_flags_seen;

static void put_cell(relay_t *r, int proto, uint32_t circ_id, uint8_t cmd, const uint8_t *p, size_t n) {
  uint8_t cell[EP_CELL_VAR_HEADER_MAX + 4096];
  ep_err_t e = {0};
  ssize_t len = ep_cell_encode(cell, sizeof cell, proto, circ_id, cmd, p, n, &e);
  ck_assert_msg(len > 0, "%s", e.msg);
  ck_assert_int_eq(ep_buf_append(&r->out, cell, (size_t)len, NULL), EP_OK);
}

static void send_msg(relay_t *r, unsigned hi, const ep_relay_msg_t *m) {
  uint8_t data[EP_RELAY_PAYLOAD_MAX], payload[EP_CELL_PAYLOAD_LEN];
  size_t len;
  ep_err_t e = {0};
  ck_assert_int_eq(ep_relay_msg_encode(m, data, sizeof data, &len, &e), EP_OK);
  lf_circ_send(&r->rc, hi, m->command, m->stream_id, data, len, payload, NULL);
  put_cell(r, PROTO, r->rc.circ_id, EP_CELL_RELAY, payload, sizeof payload);
}

static void send_data(relay_t *r, uint16_t sid, size_t n) {
  uint8_t data[400], payload[EP_CELL_PAYLOAD_LEN];
  memset(data, 'x', sizeof data);
  lf_circ_send(&r->rc, 1, EP_RELAY_DATA, sid, data, n, payload, NULL);
  put_cell(r, PROTO, r->rc.circ_id, EP_CELL_RELAY, payload, sizeof payload);
}

static void on_create2(relay_t *r, const ep_cell_t *cell) {
  ep_create2_t c2;
  ep_err_t e = {0};
  ck_assert_int_eq(ep_create2_parse(cell->payload, cell->payload_len, &c2, &e), EP_OK);
  if (r->have_circ) {
    lf_circ_free(&r->rc);
  }
  lf_circ_init(&r->rc, cell->circ_id);
  r->have_circ = true;
  uint8_t reply[64], payload[EP_CELL_PAYLOAD_LEN] = {0};
  size_t plen;
  lf_circ_answer_ntor(&r->rc, r->id, c2.hdata, reply, false);
  ck_assert_int_eq(ep_created2_encode(payload, sizeof payload, reply, 64, &plen, &e), EP_OK);
  put_cell(r, PROTO, cell->circ_id, EP_CELL_CREATED2, payload, sizeof payload);
}

static void on_extend2(relay_t *r, const ep_relay_msg_t *m) {
  if (r->mode == M_SILENT_AT_EXTEND) {
    return;
  }
  if (r->mode == M_DESTROY_AT_EXTEND) {
    uint8_t payload[EP_CELL_PAYLOAD_LEN] = {6}; /* CONNECTFAILED */
    put_cell(r, PROTO, r->rc.circ_id, EP_CELL_DESTROY, payload, sizeof payload);
    return;
  }
  uint8_t reply[64];
  lf_circ_answer_ntor(&r->rc, r->exitr, m->u.extend2.hdata, reply, false);
  ep_relay_msg_t x;
  memset(&x, 0, sizeof x);
  x.command = EP_RELAY_EXTENDED2;
  x.u.extended2.hlen = 64;
  x.u.extended2.hdata = reply;
  send_msg(r, 0, &x);
}

/* Port 25: CONNECTED (127.0.0.1, TTL 300), 3 x 400 bytes, END DONE.
 * Any other port: END EXITPOLICY (127.0.0.1, TTL 600). */
static void on_begin(relay_t *r, const ep_relay_msg_t *m) {
  ep_relay_msg_t x;
  memset(&x, 0, sizeof x);
  x.stream_id = m->stream_id;
  ep_ipaddr_t lo = {.family = EP_IPADDR_V4, .bytes = {127, 0, 0, 1}};
  if (m->u.begin.port == 25) {
    /* an exit asked for IPv6 connects over IPv6 and says so */
    begin_flags_seen = m->u.begin.flags;
    if (m->u.begin.flags & EP_BEGIN_FLAG_IPV6_OK) {
      lo = (ep_ipaddr_t){.family = EP_IPADDR_V6, .bytes = {[15] = 1}};
    }
    x.command = EP_RELAY_CONNECTED;
    x.u.connected = (ep_relay_connected_t){.has_addr = true, .addr = lo, .has_ttl = true, .ttl = 300};
    send_msg(r, 1, &x);
    for (int i = 0; i < 3; i++) {
      send_data(r, m->stream_id, 400);
    }
    memset(&x.u, 0, sizeof x.u);
    x.command = EP_RELAY_END;
    x.u.end.reason = EP_END_DONE;
    x.u.end.ttl = EP_TTL_ABSENT;
    send_msg(r, 1, &x);
    return;
  }
  x.command = EP_RELAY_END;
  x.u.end = (ep_relay_end_t){.reason = EP_END_EXITPOLICY, .has_addr = true, .addr = lo, .ttl = 600};
  send_msg(r, 1, &x);
}

static void on_relay(relay_t *r, const ep_cell_t *cell) {
  uint8_t body[EP_CELL_PAYLOAD_LEN];
  int hop = lf_circ_recv(&r->rc, cell->payload, body);
  ck_assert_int_ge(hop, 0);
  ep_relay_hdr_t h;
  const uint8_t *data;
  ep_err_t e = {0};
  ck_assert_int_eq(ep_relay_hdr_parse(body, &h, &data, &e), EP_OK);
  ep_relay_msg_t m;
  if (ep_relay_msg_parse(EP_RELAY_CTX_RELAY, h.command, h.stream_id, data, h.length, &m, &e) != EP_OK) {
    return;
  }
  if (m.command == EP_RELAY_EXTEND2) {
    on_extend2(r, &m);
  } else if (m.command == EP_RELAY_BEGIN) {
    on_begin(r, &m);
  }
}

/* VERSIONS, CERTS, AUTH_CHALLENGE, NETINFO, as a relay answers a client. */
static void greet(relay_t *r) {
  uint8_t payload[4096];
  size_t plen;
  ep_err_t e = {0};
  const uint16_t vs[] = {3, 4, 5};
  ck_assert_int_eq(ep_versions_encode(payload, sizeof payload, vs, 3, &plen, &e), EP_OK);
  put_cell(r, 0, 0, EP_CELL_VERSIONS, payload, plen);
  plen = lf_certs_payload(r->id, 0, payload, sizeof payload);
  put_cell(r, PROTO, 0, EP_CELL_CERTS, payload, plen);
  ep_auth_challenge_t ac;
  memset(&ac, 0, sizeof ac);
  ac.n_methods = 1;
  ac.methods[0] = 3;
  ck_assert_int_eq(ep_auth_challenge_encode(payload, sizeof payload, &ac, &plen, &e), EP_OK);
  put_cell(r, PROTO, 0, EP_CELL_AUTH_CHALLENGE, payload, plen);
  ep_netinfo_t ni;
  memset(&ni, 0, sizeof ni);
  ni.timestamp = (uint32_t)time(NULL);
  ni.other.family = EP_IPADDR_V4;
  ep_put_u32(ni.other.bytes, 0x7f000001);
  ni.n_my_kept = 1;
  ni.my[0].family = EP_IPADDR_V4;
  ep_put_u32(ni.my[0].bytes, 0x7f000001);
  ck_assert_int_eq(ep_netinfo_encode(payload, &ni, &e), EP_OK);
  put_cell(r, PROTO, 0, EP_CELL_NETINFO, payload, EP_CELL_PAYLOAD_LEN);
  r->linkproto = PROTO;
  r->greeted = true;
}

/* Take every whole cell out of r->in and answer it. */
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
    if (!r->greeted) {
      ck_assert_uint_eq(cell.command, EP_CELL_VERSIONS);
      greet(r);
    } else if (cell.command == EP_CELL_CREATE2) {
      on_create2(r, &cell);
    } else if ((cell.command == EP_CELL_RELAY || cell.command == EP_CELL_RELAY_EARLY) && r->have_circ &&
               cell.circ_id == r->rc.circ_id) {
      on_relay(r, &cell);
    }
    ep_buf_consume(&r->in, clen);
  }
}

static void relay_io(ep_loop_t *loop, int fd, unsigned events, void *arg) {
  (void)events;
  relay_t *r = arg;
  if (r->closed || r->rc_status != 0) {
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
      r->rc_status = rc;
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
      r->rc_status = rc;
    }
  }
  unsigned want = EP_LOOP_READ | (r->out.len > 0 ? EP_LOOP_WRITE : 0);
  ep_loop_mod_fd(loop, fd, (r->closed || r->rc_status != 0) ? 0 : want, NULL);
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
  bool opened, failed, done;
  ep_ncirc_failure_t f;
  char fail_msg[EP_ERR_MSG_MAX];
  bool begin_streams;
  ep_streamrec_t a, b;
  uint8_t a_data[EP_CAP_BANNER + 1];
  size_t n_data_events, ended;
} client_t;

static void on_opened(void *arg, ep_ncirc_t *c) {
  client_t *cl = arg;
  cl->opened = true;
  if (!cl->begin_streams) {
    cl->done = true;
    return;
  }
  ep_err_t e = {0};
  ep_streamrec_init(&cl->a, cl->a_data, sizeof cl->a_data);
  ep_streamrec_init(&cl->b, NULL, 0);
  ck_assert_msg(ep_ncirc_begin_flags(c, &cl->a, begin_flags_sent ? "[::1]" : "127.0.0.1", 25,
                                     begin_flags_sent, 5000, &e) == EP_OK, "%s", e.msg);
  ck_assert_msg(ep_ncirc_begin(c, &cl->b, "127.0.0.1", 80, 5000, &e) == EP_OK, "%s", e.msg);
  ck_assert_uint_eq(cl->a.state, EP_SREC_BEGUN);
}

static void on_failed(void *arg, ep_ncirc_t *c, const ep_ncirc_failure_t *f) {
  (void)c;
  client_t *cl = arg;
  cl->failed = cl->done = true;
  cl->f = *f;
  cl->f.ev = NULL;
}

static void on_stream(void *arg, ep_ncirc_t *c, ep_streamrec_t *rec, ep_srec_what_t what,
                      const ep_event_t *ev) {
  (void)c;
  client_t *cl = arg;
  ck_assert(rec == &cl->a || rec == &cl->b);
  if (what == EP_SREC_DATA) {
    ck_assert_ptr_nonnull(ev);
    cl->n_data_events++;
  }
  if (what == EP_SREC_END || what == EP_SREC_DEADLINE) {
    ck_assert_uint_eq(rec->state, EP_SREC_CLOSED);
    cl->done = ++cl->ended == 2;
  }
}

static bool client_done(void *arg) { return ((client_t *)arg)->done; }

typedef struct fixture {
  lf_identity_t *guard, *exitr;
  relay_t *r;
  ep_tls_ctx_t *cctx;
  ep_carrier_t *car;
  ep_ncirc_t *circ;
  client_t cl;
} fixture_t;

/* A relay in `mode`, a carrier to it and a circuit of 1 + n_ext hops through it. */
static void run(fixture_t *fx, mode_t_ mode, int64_t build_timeout_ms, bool streams, size_t n_ext) {
  static const ep_ncirc_cbs_t cbs = {.opened = on_opened, .failed = on_failed, .stream = on_stream};
  memset(fx, 0, sizeof *fx);
  ep_err_t err = {0};
  fx->guard = lf_identity_new(time(NULL));
  fx->exitr = lf_identity_new(time(NULL));
  ck_assert(fx->guard != NULL && fx->exitr != NULL);
  relay_t *r = fx->r = calloc(1, sizeof *r);
  ck_assert_ptr_nonnull(r);
  r->loop = ep_loop_new(&err);
  ck_assert_ptr_nonnull(r->loop);
  r->id = fx->guard;
  r->exitr = fx->exitr;
  r->mode = mode;
  r->ctx = lf_tls_server_ctx(fx->guard);
  ep_buf_init(&r->in, 1u << 20, "relay in", 0);
  ep_buf_init(&r->out, 1u << 20, "relay out", 0);
  uint16_t port = lf_listen_loopback(r->loop, relay_accept, r, &r->lfd);
  fx->cctx = ep_tls_ctx_new_client(&err);
  ck_assert_ptr_nonnull(fx->cctx);
  ep_target_t first = lf_target(fx->guard, 0x7f000001, port);
  ep_target_t exit = lf_target(fx->exitr, 0x7f000002, 5002);
  fx->car = ep_carrier_open(r->loop, fx->cctx, &first, NULL, NULL, NULL, &err);
  ck_assert_msg(fx->car != NULL, "%s", err.msg);
  ep_ncirc_cfg_t cc = {.build_timeout_ms = build_timeout_ms};
  fx->cl.begin_streams = streams;
  fx->circ = ep_ncirc_new(fx->car, n_ext > 0 ? &exit : NULL, n_ext, &cc, &cbs, &fx->cl, &err);
  ck_assert_msg(fx->circ != NULL, "%s", err.msg);
  int rc = ep_loop_run_until(r->loop, client_done, &fx->cl, ep_now_ms() + 10000, &err);
  ck_assert_int_eq(rc, EP_LOOP_DONE);
  ck_assert_int_eq(r->rc_status, 0);
}

static void teardown_fx(fixture_t *fx) {
  relay_t *r = fx->r;
  ep_ncirc_free(fx->circ);
  ep_carrier_free(fx->car);
  ep_loop_run_once(r->loop, 0, NULL);
  if (r->c != NULL) {
    ep_loop_del_fd(r->loop, ep_tls_fd(r->c));
    ep_tls_conn_free(r->c);
  }
  close(r->lfd);
  if (r->have_circ) {
    lf_circ_free(&r->rc);
  }
  ep_buf_free(&r->in);
  ep_buf_free(&r->out);
  ep_tls_ctx_free(r->ctx);
  ep_tls_ctx_free(fx->cctx);
  ep_loop_free(r->loop);
  lf_identity_free(fx->guard);
  lf_identity_free(fx->exitr);
  free(r);
}

START_TEST(opens_after_created2_and_extended2) {
  fixture_t fx;
  run(&fx, M_GOOD, 5000, false, 1);
  ck_assert_msg(fx.cl.opened && !fx.cl.failed, "failed: %s", fx.cl.f.msg);
  ck_assert_uint_ne(ep_ncirc_id(fx.circ), 0);
  ck_assert_int_ge(ep_ncirc_build_ms(fx.circ), 0);
  teardown_fx(&fx);
}
END_TEST

START_TEST(one_hop_opens_after_created2) {
  fixture_t fx;
  run(&fx, M_SILENT_AT_EXTEND, 5000, false, 0); /* an EXTEND2 would go unanswered */
  ck_assert_msg(fx.cl.opened && !fx.cl.failed, "failed: %s", fx.cl.f.msg);
  teardown_fx(&fx);
}
END_TEST

START_TEST(destroy_mid_extend_fails_with_reason_and_hop) {
  fixture_t fx;
  run(&fx, M_DESTROY_AT_EXTEND, 5000, false, 1);
  ck_assert(!fx.cl.opened && fx.cl.failed);
  ck_assert_int_eq(fx.cl.f.why, EP_NCIRC_EXTEND_REFUSED);
  ck_assert_uint_eq(fx.cl.f.reason, 6);
  ck_assert_uint_eq(fx.cl.f.hops, 1);
  ck_assert_uint_eq(fx.cl.f.hop, 2);
  ck_assert(fx.cl.f.created);
  ck_assert_msg(strstr(fx.cl.f.msg, "circuit destroyed after 1 hop(s): connectfailed") != NULL, "%s",
                fx.cl.f.msg);
  teardown_fx(&fx);
}
END_TEST

START_TEST(silent_extend_fails_at_the_deadline) {
  fixture_t fx;
  int64_t t0 = ep_now_ms();
  run(&fx, M_SILENT_AT_EXTEND, 300, false, 1);
  ck_assert(!fx.cl.opened && fx.cl.failed);
  ck_assert_int_eq(fx.cl.f.why, EP_NCIRC_TIMEOUT);
  ck_assert_int_eq(fx.cl.f.status, EP_ERR_TIMEOUT);
  ck_assert_uint_eq(fx.cl.f.hop, 2);
  ck_assert_str_eq(fx.cl.f.msg, "circuit not built within 300 ms");
  ck_assert_int_ge(ep_now_ms() - t0, 300);
  teardown_fx(&fx);
}
END_TEST

START_TEST(recorder_connected_data_capped_end_exitpolicy) {
  fixture_t fx;
  run(&fx, M_GOOD, 5000, true, 1);
  client_t *cl = &fx.cl;
  ck_assert(cl->opened && !cl->failed);
  /* Port 25: CONNECTED with its address and TTL, 1200 bytes seen, the cap kept. */
  ck_assert(cl->a.connected && cl->a.conn_has_addr);
  ck_assert_uint_eq(cl->a.conn_addr.family, EP_IPADDR_V4);
  ck_assert_uint_eq(cl->a.conn_ttl, 300);
  ck_assert_uint_eq(cl->n_data_events, 3);
  ck_assert_uint_eq(cl->a.data_total, 1200);
  ck_assert_uint_eq(cl->a.data_len, EP_CAP_BANNER + 1);
  ck_assert_ptr_eq(cl->a.data, cl->a_data);
  ck_assert_uint_eq(cl->a_data[EP_CAP_BANNER], 'x');
  ck_assert(cl->a.ended && !cl->a.deadline_hit);
  ck_assert_uint_eq(cl->a.end_reason, EP_END_DONE);
  ck_assert_int_ge(cl->a.connected_ms, 0);
  ck_assert_int_ge(cl->a.first_byte_ms, cl->a.connected_ms);
  ck_assert_int_ge(cl->a.end_ms, cl->a.first_byte_ms);
  /* Port 80: END EXITPOLICY naming 127.0.0.1, TTL 600; no data kept. */
  ck_assert(!cl->b.connected && cl->b.ended);
  ck_assert_uint_eq(cl->b.end_reason, EP_END_EXITPOLICY);
  ck_assert(cl->b.end_has_addr);
  ck_assert_uint_eq(cl->b.end_addr.bytes[0], 127);
  ck_assert_uint_eq(cl->b.end_addr.bytes[3], 1);
  ck_assert_uint_eq(cl->b.end_ttl, 600);
  ck_assert_int_eq(cl->b.connected_ms, -1);
  ck_assert_uint_eq(cl->b.data_len, 0);
  teardown_fx(&fx);
}
END_TEST

/* #13: BEGIN flags asking for IPv6 reach the exit as sent, to an IPv6
 * literal in brackets; CONNECTED's IPv6 address is recorded. */
START_TEST(begin_flags_ask_for_ipv6) {
  fixture_t fx;
  begin_flags_sent = EP_BEGIN_FLAG_IPV6_OK | EP_BEGIN_FLAG_IPV4_NOT_OK | EP_BEGIN_FLAG_IPV6_PREFERRED;
  begin_flags_seen = 0;
  run(&fx, M_GOOD, 5000, true, 1);
  ck_assert_uint_eq(begin_flags_seen, 7);
  ck_assert(fx.cl.a.connected && fx.cl.a.conn_has_addr);
  ck_assert_uint_eq(fx.cl.a.conn_addr.family, EP_IPADDR_V6);
  ck_assert_uint_eq(fx.cl.a.conn_addr.bytes[15], 1);
  begin_flags_sent = 0;
  teardown_fx(&fx);
  /* without flags: none on the wire */
  begin_flags_seen = 99;
  run(&fx, M_GOOD, 5000, true, 1);
  ck_assert_uint_eq(begin_flags_seen, 0);
  ck_assert_uint_eq(fx.cl.a.conn_addr.family, EP_IPADDR_V4);
  teardown_fx(&fx);
}
END_TEST

static Suite *circ_suite(void) {
  Suite *s = suite_create("circ");
  TCase *t = tcase_create("driver");
  tcase_set_timeout(t, 60);
  tcase_add_test(t, opens_after_created2_and_extended2);
  tcase_add_test(t, begin_flags_ask_for_ipv6);
  tcase_add_test(t, one_hop_opens_after_created2);
  tcase_add_test(t, destroy_mid_extend_fails_with_reason_and_hop);
  tcase_add_test(t, silent_extend_fails_at_the_deadline);
  tcase_add_test(t, recorder_connected_data_capped_end_exitpolicy);
  suite_add_tcase(s, t);
  return s;
}

int main(void) { return tu_run_suite(circ_suite()); }
