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
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/caps.h"
#include "lib/json.h"
#include "lib/reader.h"
#include "lib/timeutil.h"
#include "link_fake.h"
#include "link_fake_net.h"
#include "probe/engine/scan.h"
#include "probe/net/circ.h"
#include "probe/net/linkpool.h"
#include "probe/net/loop.h"
#include "probe/net/tls.h"
#include "proto/cell.h"
#include "proto/linkhs.h"
#include "proto/relaymsg.h"
#include "testutil.h"

#define PROTO 5

/* M_DEST: the exit plays the destinations behind it (the scan test). */
typedef enum mode { M_GOOD = 0, M_DESTROY_AT_EXTEND, M_SILENT_AT_EXTEND, M_DEST } mode_t_;

#define MAX_BEGUN 8

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
  /* M_DEST */
  size_t n_create2;
  char begun_host[MAX_BEGUN][64];
  uint16_t begun_port[MAX_BEGUN];
  int64_t begun_ms[MAX_BEGUN];   /* when each BEGIN arrived (monotonic) */
  size_t n_begun;
  uint16_t http_sid;         /* the HTTP stream, waiting for its request */
  char http_req[512];        /* what the client sent on it */
  size_t http_req_len;
  /* 443: HTTPS, a real OpenSSL server over memory BIOs behind the exit. */
  SSL_CTX *https_ctx;
  SSL *https;
  uint8_t *https_der;        /* its certificate */
  int https_der_len;
  uint16_t https_sid;
  char https_req[512];
  size_t https_req_len;
  /* RESOLVEs seen (#14) */
  size_t n_resolve;
  char resolved_name[64];
  uint16_t flaky_sid;        /* BEGIN to "flaky.test", answered after its RESOLVE */
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

static void send_bytes(relay_t *r, uint16_t sid, const void *data, size_t n) {
  uint8_t payload[EP_CELL_PAYLOAD_LEN];
  lf_circ_send(&r->rc, 1, EP_RELAY_DATA, sid, data, n, payload, NULL);
  put_cell(r, PROTO, r->rc.circ_id, EP_CELL_RELAY, payload, sizeof payload);
}

static void send_data(relay_t *r, uint16_t sid, size_t n) {
  uint8_t data[400];
  memset(data, 'x', sizeof data);
  send_bytes(r, sid, data, n);
}

static void send_end(relay_t *r, uint16_t sid, uint8_t reason) {
  ep_relay_msg_t x;
  memset(&x, 0, sizeof x);
  x.stream_id = sid;
  x.command = EP_RELAY_END;
  x.u.end.reason = reason;
  x.u.end.ttl = EP_TTL_ABSENT;
  send_msg(r, 1, &x);
}

static void send_connected(relay_t *r, uint16_t sid) {
  ep_relay_msg_t x;
  memset(&x, 0, sizeof x);
  x.stream_id = sid;
  x.command = EP_RELAY_CONNECTED;
  x.u.connected = (ep_relay_connected_t){.has_addr = true, .ttl = 300, .has_ttl = true,
                                         .addr = {.family = EP_IPADDR_V4, .bytes = {127, 0, 0, 1}}};
  send_msg(r, 1, &x);
}

/* The HTTPS destination: a fresh P-256 key and a self-signed certificate
 * (CN dest.test); its DER goes to der for the test to hash. */
static SSL_CTX *https_ctx_new(uint8_t **der, int *der_len) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509 *x = X509_new();
  ck_assert(ctx != NULL && key != NULL && x != NULL);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_NAME *name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"dest.test", -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509_set_pubkey(x, key);
  ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);
  ck_assert_int_eq(SSL_CTX_use_certificate(ctx, x), 1);
  ck_assert_int_eq(SSL_CTX_use_PrivateKey(ctx, key), 1);
  *der = NULL;
  *der_len = i2d_X509(x, der);
  ck_assert_int_gt(*der_len, 0);
  X509_free(x);
  EVP_PKEY_free(key);
  return ctx;
}

/* What the TLS server has to send, as DATA cells. */
static void https_flush(relay_t *r) {
  BIO *out = SSL_get_wbio(r->https);
  uint8_t chunk[EP_RELAY_PAYLOAD_MAX - 11];
  int n;
  while ((n = BIO_read(out, chunk, (int)sizeof chunk)) > 0) {
    send_bytes(r, r->https_sid, chunk, (size_t)n);
  }
}

static void https_begin(relay_t *r, uint16_t sid) {
  if (r->https_ctx == NULL) {
    r->https_ctx = https_ctx_new(&r->https_der, &r->https_der_len);
  }
  r->https = SSL_new(r->https_ctx);
  ck_assert_ptr_nonnull(r->https);
  SSL_set_bio(r->https, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
  SSL_set_accept_state(r->https);
  r->https_sid = sid;
}

/* Bytes from the client: the handshake, then the request; a status line back. */
static void https_data(relay_t *r, const uint8_t *data, size_t n) {
  ck_assert_int_eq(BIO_write(SSL_get_rbio(r->https), data, (int)n), (int)n);
  if (!SSL_is_init_finished(r->https)) {
    SSL_do_handshake(r->https);
  }
  int got;
  while (SSL_is_init_finished(r->https) &&
         (got = SSL_read(r->https, r->https_req + r->https_req_len,
                         (int)(sizeof r->https_req - 1 - r->https_req_len))) > 0) {
    r->https_req_len += (size_t)got;
    r->https_req[r->https_req_len] = '\0';
  }
  if (strstr(r->https_req, "\r\n\r\n") != NULL) {
    static const char resp[] = "HTTP/1.1 200 OK\r\nServer: tlsdest\r\n\r\n";
    ck_assert_int_eq(SSL_write(r->https, resp, (int)sizeof resp - 1), (int)sizeof resp - 1);
    r->https_req[0] = '\0';
  }
  https_flush(r);
}

/* M_DEST's destinations: 25 greets (server first); 80 answers a request
 * (client first); 587 refuses on t1.test and greets on t2.test; 443 is
 * HTTPS; 21 closes with nothing said; 9 never answers the BEGIN (a DROP
 * behind the exit); any other port connects and stays silent. */
static void dest_begin(relay_t *r, const ep_relay_msg_t *m) {
  uint16_t sid = m->stream_id;
  const char *host = m->u.begin.host;
  if (r->n_begun < MAX_BEGUN) {
    snprintf(r->begun_host[r->n_begun], sizeof r->begun_host[0], "%.63s", host);
    r->begun_ms[r->n_begun] = ep_now_ms();
    r->begun_port[r->n_begun++] = m->u.begin.port;
  }
  if (m->u.begin.port == 9) {
    return;
  }
  if (strcmp(host, "flaky.test") == 0) {
    r->flaky_sid = sid;   /* END RESOLVEFAILED once the RESOLVE is answered (on_resolve) */
    return;
  }
  if (m->u.begin.port == 587 && strcmp(host, "t1.test") == 0) {
    send_end(r, sid, EP_END_CONNECTREFUSED);
    return;
  }
  send_connected(r, sid);
  if (m->u.begin.port == 25) {
    send_bytes(r, sid, "220 mx.test ESMTP\r\n", 19);
  } else if (m->u.begin.port == 587) {
    send_bytes(r, sid, "220 t2.test ESMTP\r\n", 19);
  } else if (m->u.begin.port == 80) {
    r->http_sid = sid;
  } else if (m->u.begin.port == 443) {
    https_begin(r, sid);
  } else if (m->u.begin.port == 21) {
    send_end(r, sid, EP_END_DONE); /* a server-first service that says nothing */
  }
}

/* The HTTP destination: once the request is whole, a status line and END. */
static void dest_data(relay_t *r, const ep_relay_msg_t *m) {
  if (r->https != NULL && m->stream_id == r->https_sid) {
    https_data(r, m->u.data.data, m->u.data.len);
    return;
  }
  if (m->stream_id != r->http_sid || r->http_sid == 0) {
    return;
  }
  size_t n = m->u.data.len;
  ck_assert_uint_le(r->http_req_len + n, sizeof r->http_req - 1);
  memcpy(r->http_req + r->http_req_len, m->u.data.data, n);
  r->http_req_len += n;
  r->http_req[r->http_req_len] = '\0';
  if (strstr(r->http_req, "\r\n\r\n") != NULL) {
    static const char resp[] = "HTTP/1.1 200 OK\r\nServer: fakedest\r\n\r\n";
    send_bytes(r, r->http_sid, resp, sizeof resp - 1);
    send_end(r, r->http_sid, EP_END_DONE);
    r->http_sid = 0;
  }
}

static void on_create2(relay_t *r, const ep_cell_t *cell) {
  ep_create2_t c2;
  ep_err_t e = {0};
  ck_assert_int_eq(ep_create2_parse(cell->payload, cell->payload_len, &c2, &e), EP_OK);
  if (r->have_circ) {
    lf_circ_free(&r->rc);
  }
  r->n_create2++;
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
  if (r->mode == M_DEST) {
    dest_begin(r, m);
    return;
  }
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

/* RESOLVE: "ok.test" -> A 127.0.0.1 and AAAA ::1 (TTL 60); "lie.test" ->
 * A 10.9.9.9; "silent.test" -> nothing; "hostile.test" -> a RESOLVED whose
 * IPv4 answer has 5 bytes; any other name -> error, transient for
 * "fail.test", else nontransient (as tor's send_resolved_cell). */
static void on_resolve(relay_t *r, const ep_relay_msg_t *m) {
  const char *name = m->u.resolve.host;
  r->n_resolve++;
  snprintf(r->resolved_name, sizeof r->resolved_name, "%.63s", name);
  if (strcmp(name, "silent.test") == 0) {
    return;
  }
  ep_resolved_answer_t a[2];
  memset(a, 0, sizeof a);
  size_t n = 1;
  bool truthful = strcmp(name, "ok.test") == 0 || strcmp(name, "flaky.test") == 0;
  if (truthful || strcmp(name, "lie.test") == 0) {
    a[0].type = EP_RESOLVED_IPV4;
    ep_ipaddr_set_ipv4(&a[0].addr, truthful ? 0x7f000001u : 0x0a090909u);
    a[0].ttl = 60;
    if (truthful) {
      a[1].type = EP_RESOLVED_IPV6;
      a[1].addr = (ep_ipaddr_t){.family = EP_IPADDR_V6, .bytes = {[15] = 1}};
      a[1].ttl = 60;
      n = 2;
    }
  } else {
    a[0].type = strcmp(name, "fail.test") == 0 ? EP_RESOLVED_ERR_TRANSIENT
                                               : EP_RESOLVED_ERR_NONTRANSIENT;
    a[0].value = (const uint8_t *)"Error resolving hostname";
    a[0].len = 24;
  }
  uint8_t body[EP_RELAY_PAYLOAD_MAX];
  size_t len;
  ep_err_t e = {0};
  ck_assert_int_eq(ep_resolved_encode(a, n, body, sizeof body, &len, &e), EP_OK);
  if (strcmp(name, "hostile.test") == 0) {
    static const uint8_t bad[] = {EP_RESOLVED_IPV4, 5, 127, 0, 0, 1, 1, 0, 0, 0, 60};
    memcpy(body, bad, sizeof bad);
    len = sizeof bad;
  }
  uint8_t payload[EP_CELL_PAYLOAD_LEN];
  lf_circ_send(&r->rc, 1, EP_RELAY_RESOLVED, m->stream_id, body, len, payload, NULL);
  put_cell(r, r->linkproto, r->rc.circ_id, EP_CELL_RELAY, payload, sizeof payload);
  if (strcmp(name, "flaky.test") == 0 && r->flaky_sid != 0) {
    send_end(r, r->flaky_sid, EP_END_RESOLVEFAILED);   /* BEGIN by name fails though RESOLVE worked */
    r->flaky_sid = 0;
  }
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
  } else if (m.command == EP_RELAY_RESOLVE) {
    on_resolve(r, &m);
  } else if (m.command == EP_RELAY_DATA && r->mode == M_DEST) {
    dest_data(r, &m);
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
  const char *resolve[2];    /* names to RESOLVE instead of the streams (a, b) */
  int64_t resolve_timeout_ms;
  ep_resolved_t answers[2];  /* parsed from the RESOLVED events */
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
  if (cl->resolve[0] != NULL) {
    ck_assert_msg(ep_ncirc_resolve(c, &cl->a, cl->resolve[0], cl->resolve_timeout_ms, &e) == EP_OK,
                  "%s", e.msg);
    ck_assert_msg(ep_ncirc_resolve(c, &cl->b, cl->resolve[1], cl->resolve_timeout_ms, &e) == EP_OK,
                  "%s", e.msg);
    ck_assert(cl->a.resolve && cl->a.state == EP_SREC_BEGUN);
    ck_assert_int_eq(ep_ncirc_resolve(c, &cl->a, NULL, 0, &e), EP_ERR_MALFORMED);
    return;
  }
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
  if (what == EP_SREC_RESOLVED) {
    ep_err_t e = {0};
    ck_assert_ptr_nonnull(ev);
    ck_assert_msg(ep_resolved_parse(ev->data, ev->len, &cl->answers[rec == &cl->b], &e) == EP_OK,
                  "%s", e.msg);
  }
  if (what == EP_SREC_END || what == EP_SREC_DEADLINE || what == EP_SREC_RESOLVED) {
    ck_assert_uint_eq(rec->state, EP_SREC_CLOSED);
    cl->done = ++cl->ended == 2;
  }
}

static bool client_done(void *arg) { return ((client_t *)arg)->done; }

/* Names for the next run() to RESOLVE instead of beginning streams. */
static const char **resolve_names;
static int64_t resolve_timeout;

typedef struct fixture {
  lf_identity_t *guard, *exitr;
  relay_t *r;
  ep_tls_ctx_t *cctx;
  ep_carrier_t *car;
  ep_ncirc_t *circ;
  client_t cl;
} fixture_t;

/* A relay in `mode` listening on 127.0.0.1 (its port returned), and the client's TLS context. */
/* A relay with identity `id` on `loop` (its port in *port). */
static relay_t *relay_new(ep_loop_t *loop, const lf_identity_t *id, const lf_identity_t *exitr,
                          mode_t_ mode, uint16_t *port) {
  relay_t *r = calloc(1, sizeof *r);
  ck_assert_ptr_nonnull(r);
  r->loop = loop;
  r->id = id;
  r->exitr = exitr;
  r->mode = mode;
  r->ctx = lf_tls_server_ctx(id);
  ep_buf_init(&r->in, 1u << 20, "relay in", 0);
  ep_buf_init(&r->out, 1u << 20, "relay out", 0);
  *port = lf_listen_loopback(r->loop, relay_accept, r, &r->lfd);
  return r;
}

/* The relay's side freed (not its loop). */
static void relay_free(relay_t *r) {
  if (r->c != NULL) {
    ep_loop_del_fd(r->loop, ep_tls_fd(r->c));
    ep_tls_conn_free(r->c);
  }
  close(r->lfd);
  if (r->have_circ) {
    lf_circ_free(&r->rc);
  }
  SSL_free(r->https);
  SSL_CTX_free(r->https_ctx);
  OPENSSL_free(r->https_der);
  ep_buf_free(&r->in);
  ep_buf_free(&r->out);
  ep_tls_ctx_free(r->ctx);
  free(r);
}

static uint16_t relay_start(fixture_t *fx, mode_t_ mode) {
  memset(fx, 0, sizeof *fx);
  ep_err_t err = {0};
  fx->guard = lf_identity_new(time(NULL));
  fx->exitr = lf_identity_new(time(NULL));
  ck_assert(fx->guard != NULL && fx->exitr != NULL);
  ep_loop_t *loop = ep_loop_new(&err);
  ck_assert_ptr_nonnull(loop);
  uint16_t port;
  fx->r = relay_new(loop, fx->guard, fx->exitr, mode, &port);
  fx->cctx = ep_tls_ctx_new_client(&err);
  ck_assert_ptr_nonnull(fx->cctx);
  return port;
}

/* A relay in `mode`, a carrier to it and a circuit of 1 + n_ext hops through it. */
static void run(fixture_t *fx, mode_t_ mode, int64_t build_timeout_ms, bool streams, size_t n_ext) {
  static const ep_ncirc_cbs_t cbs = {.opened = on_opened, .failed = on_failed, .stream = on_stream};
  uint16_t port = relay_start(fx, mode);
  relay_t *r = fx->r;
  ep_err_t err = {0};
  ep_target_t first = lf_target(fx->guard, 0x7f000001, port);
  ep_target_t exit = lf_target(fx->exitr, 0x7f000002, 5002);
  fx->car = ep_carrier_open(r->loop, fx->cctx, &first, NULL, NULL, NULL, &err);
  ck_assert_msg(fx->car != NULL, "%s", err.msg);
  ep_ncirc_cfg_t cc = {.build_timeout_ms = build_timeout_ms};
  fx->cl.begin_streams = streams;
  if (resolve_names != NULL) {
    fx->cl.resolve[0] = resolve_names[0];
    fx->cl.resolve[1] = resolve_names[1];
    fx->cl.resolve_timeout_ms = resolve_timeout;
  }
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
  ep_loop_t *loop = r->loop;
  ep_loop_run_once(loop, 0, NULL);
  relay_free(r);
  ep_tls_ctx_free(fx->cctx);
  ep_loop_free(loop);
  lf_identity_free(fx->guard);
  lf_identity_free(fx->exitr);
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

/* RESOLVE on a built circuit: the answers (A and AAAA with TTLs, an error)
 * come through the recorder and parse; a silent resolver meets the
 * deadline; a malformed RESOLVED is a protocol error that closes the
 * circuit. */
START_TEST(resolve_answers_errors_deadline_hostile) {
  fixture_t fx;
  memset(&fx, 0, sizeof fx);
  static const char *names1[2] = {"ok.test", "fail.test"};
  client_t *cl = &fx.cl;
  /* run() memsets the fixture: the names go in through a static. */
  resolve_names = names1;
  resolve_timeout = 5000;
  run(&fx, M_GOOD, 5000, true, 1);
  ck_assert(cl->opened && !cl->failed);
  ck_assert(cl->a.resolved && !cl->a.connected && !cl->a.ended);
  ck_assert_int_ge(cl->a.end_ms, 0);
  ck_assert_uint_eq(cl->answers[0].n, 2);
  ck_assert_uint_eq(cl->answers[0].a[0].addr.bytes[0], 127);
  ck_assert_uint_eq(cl->answers[0].a[0].ttl, 60);
  ck_assert_uint_eq(cl->answers[0].a[1].addr.family, EP_IPADDR_V6);
  ck_assert_uint_eq(cl->a.data_len, 10 + 22);   /* the body, kept */
  ck_assert(cl->b.resolved && cl->answers[1].error && cl->answers[1].error_transient);
  teardown_fx(&fx);

  static const char *names2[2] = {"silent.test", "nosuch.test"};
  resolve_names = names2;
  resolve_timeout = 300;
  int64_t t0 = ep_now_ms();
  run(&fx, M_GOOD, 5000, true, 1);
  ck_assert(fx.cl.a.deadline_hit && !fx.cl.a.resolved);
  ck_assert_int_ge(ep_now_ms() - t0, 300);
  ck_assert(fx.cl.b.resolved && fx.cl.answers[1].error && !fx.cl.answers[1].error_transient);
  teardown_fx(&fx);

  static const char *names3[2] = {"hostile.test", "silent.test"};
  resolve_names = names3;
  resolve_timeout = 5000;
  run(&fx, M_GOOD, 5000, true, 1);
  ck_assert(fx.cl.failed);
  ck_assert_int_eq(fx.cl.f.why, EP_NCIRC_PROTOCOL);
  ck_assert_msg(strstr(fx.cl.f.msg, "IPv4 of 5 bytes") != NULL, "%s", fx.cl.f.msg);
  ck_assert(!fx.cl.a.resolved && !fx.cl.b.resolved);
  resolve_names = NULL;
  teardown_fx(&fx);
}
END_TEST

/* ---- the scan engine over the scripted relay (#11 service checks) ---- */

/* The record for `port` among the JSON Lines in f (the caller frees it). */
static ep_json_t *record_for(FILE *f, unsigned port) {
  rewind(f);
  char line[16384];
  while (fgets(line, sizeof line, f) != NULL) {
    ep_err_t e = {0};
    ep_json_t *j = ep_json_parse(line, strlen(line), &e);
    ck_assert_msg(j != NULL, "%s: %s", e.msg, line);
    int64_t p;
    if (ep_json_int(ep_json_get(j, "port"), &p) && p == port) {
      return j;
    }
    ep_json_free(j);
  }
  ck_abort_msg("no record for port %u", port);
  return NULL;
}

/* One round of cfg through the relay (listening on port) to its fake exit. */
static void scan_round_through(fixture_t *fx, uint16_t port, ep_scan_cfg_t *cfg) {
  ep_scan_relay_t hop = {.target = lf_target(fx->guard, 0x7f000001, port)};
  ep_scan_relay_t exit = {.target = lf_target(fx->exitr, 0x7f000002, 5002)};
  snprintf(hop.ref.fingerprint, sizeof hop.ref.fingerprint, "%s", "HOP");
  snprintf(exit.ref.fingerprint, sizeof exit.ref.fingerprint, "%s", "EXIT");
  cfg->no_control = cfg->no_retry = cfg->allow_same_16 = true;
  cfg->out = tmpfile();
  ck_assert_ptr_nonnull(cfg->out);
  ep_scan_summary_t sum;
  ep_err_t err = {0};
  ck_assert_msg(ep_scan_run(fx->r->loop, fx->cctx, &exit, 1, &hop, 1, cfg, &sum, &err) == EP_OK,
                "%s", err.msg);
  ck_assert_int_eq(fx->r->rc_status, 0);
}

static void scan_fake_exit(fixture_t *fx, ep_scan_cfg_t *cfg) {
  scan_round_through(fx, relay_start(fx, M_DEST), cfg);
}

/* cfg: the defaults, one port. */
static void one_port(ep_scan_cfg_t *cfg, uint16_t port) {
  ep_scan_cfg_defaults(cfg);
  cfg->ports[0] = port;
  cfg->n_ports = 1;
}

/* A server-first check reads the greeting; a client-first check's request
 * goes out as RELAY_DATA and its answer comes back; a port refused on its
 * first target is tried on the second on the same circuit. */
START_TEST(scan_checks_services_and_confirms_on_the_same_circuit) {
  fixture_t fx;
  ep_scan_cfg_t cfg;
  ep_scan_cfg_defaults(&cfg);
  const uint16_t ports[] = {25, 80, 587};
  memcpy(cfg.ports, ports, sizeof ports);
  cfg.n_ports = 3;
  cfg.port_targets[2] = "t1.test";
  cfg.confirm_targets[2] = "t2.test";
  cfg.stream_timeout_ms = 5000;
  scan_fake_exit(&fx, &cfg);
  relay_t *r = fx.r;

  ep_json_t *j = record_for(cfg.out, 25);
  ck_assert_str_eq(ep_json_get_str(j, "service"), "smtp");
  ck_assert_str_eq(ep_json_get_str(j, "service_answer"), "220 mx.test ESMTP");
  ck_assert_str_eq(ep_json_get_str(j, "class"), "reachable");
  ck_assert_int_eq(ep_json_type(ep_json_get(j, "tls_version")), EP_JSON_NULL);
  ck_assert_int_eq(ep_json_type(ep_json_get(j, "confirm_target")), EP_JSON_NULL);
  ep_json_free(j);

  /* The HEAD request went out as DATA on the stream; the status line came back. */
  ck_assert_msg(strncmp(r->http_req, "HEAD / HTTP/1.", 14) == 0, "%s", r->http_req);
  ck_assert_ptr_nonnull(strstr(r->http_req, "\r\nHost: 127.0.0.1"));
  j = record_for(cfg.out, 80);
  ck_assert_str_eq(ep_json_get_str(j, "service"), "http");
  ck_assert_str_eq(ep_json_get_str(j, "service_answer"), "HTTP/1.1 200 OK; Server: fakedest");
  ck_assert_str_eq(ep_json_get_str(j, "target"), "127.0.0.1");
  ep_json_free(j);

  /* 587: refused on t1.test, then t2.test on the same circuit (one CREATE2). */
  j = record_for(cfg.out, 587);
  ck_assert_str_eq(ep_json_get_str(j, "target"), "t1.test");
  ck_assert_str_eq(ep_json_get_str(j, "service"), "smtp");
  ck_assert_str_eq(ep_json_get_str(j, "confirm_target"), "t2.test");
  ck_assert_str_eq(ep_json_get_str(j, "confirm_class"), "reachable");
  ep_json_free(j);
  ck_assert_uint_eq(r->n_create2, 1);
  ck_assert_uint_eq(r->n_begun, 4);
  ck_assert_str_eq(r->begun_host[3], "t2.test");
  ck_assert_uint_eq(r->begun_port[3], 587);
  fclose(cfg.out);
  teardown_fx(&fx);
}
END_TEST

/* With --target (no second target), a failure stays a failure: no confirm stream. */
START_TEST(scan_without_second_target_confirms_nothing) {
  fixture_t fx;
  ep_scan_cfg_t cfg;
  one_port(&cfg, 587);
  cfg.target_host = "t1.test";
  scan_fake_exit(&fx, &cfg);
  ep_json_t *j = record_for(cfg.out, 587);
  ck_assert_str_eq(ep_json_get_str(j, "target"), "t1.test");
  ck_assert_str_eq(ep_json_get_str(j, "class"), "refused");
  ck_assert_int_eq(ep_json_type(ep_json_get(j, "confirm_class")), EP_JSON_NULL);
  ep_json_free(j);
  ck_assert_uint_eq(fx.r->n_begun, 1);
  fclose(cfg.out);
  teardown_fx(&fx);
}
END_TEST

/* Service "tcp": CONNECTED plus a short window, then the stream is
 * answered; a server-first service closed with nothing said stays closed. */
START_TEST(scan_tcp_window_and_silent_close) {
  fixture_t fx;
  ep_scan_cfg_t cfg;
  ep_scan_cfg_defaults(&cfg);
  const uint16_t ports[] = {9999, 21};
  memcpy(cfg.ports, ports, sizeof ports);
  cfg.n_ports = 2;
  cfg.tcp_window_ms = 50;
  cfg.stream_timeout_ms = 8000;
  scan_fake_exit(&fx, &cfg);
  ep_json_t *j = record_for(cfg.out, 9999);
  ck_assert_str_eq(ep_json_get_str(j, "service"), "tcp");
  ck_assert_str_eq(ep_json_get_str(j, "class"), "reachable");
  ck_assert_int_eq(ep_json_type(ep_json_get(j, "service_answer")), EP_JSON_NULL);
  int64_t total;
  ck_assert(ep_json_int(ep_json_get(j, "total_ms"), &total));
  ck_assert_int_lt(total, 8000); /* the window ended it, not the stream's deadline */
  ep_json_free(j);
  j = record_for(cfg.out, 21);
  ck_assert_str_eq(ep_json_get_str(j, "service"), "ftp");
  ck_assert_str_eq(ep_json_get_str(j, "class"), "closed");
  ep_json_free(j);
  fclose(cfg.out);
  teardown_fx(&fx);
}
END_TEST

/* TLS through the stream: the check's ClientHello goes out as DATA, a real
 * OpenSSL server behind the exit answers; the record has the version, the
 * leaf certificate's SHA-256, and the HTTP answer inside TLS. */
static void assert_tls_record(fixture_t *fx, FILE *out) {
  ep_json_t *j = record_for(out, 443);
  ck_assert_str_eq(ep_json_get_str(j, "service"), "https");
  const char *v = ep_json_get_str(j, "tls_version");
  ck_assert_msg(v != NULL && strncmp(v, "TLSv1.", 6) == 0, "tls_version %s", v ? v : "null");
  uint8_t md[32];
  char hex[65];
  ck_assert_int_eq(EVP_Digest(fx->r->https_der, (size_t)fx->r->https_der_len, md, NULL, EVP_sha256(), NULL), 1);
  for (size_t i = 0; i < 32; i++) {
    snprintf(hex + 2 * i, 3, "%02x", md[i]);
  }
  ck_assert_str_eq(ep_json_get_str(j, "cert_sha256"), hex);
  ck_assert_str_eq(ep_json_get_str(j, "identity"), hex);
  ck_assert_str_eq(ep_json_get_str(j, "identity_kind"), "cert");
  const char *subject = ep_json_get_str(j, "cert_subject");
  ck_assert_msg(subject != NULL && strstr(subject, "CN=dest.test") != NULL, "%s", subject);
  ck_assert_str_eq(ep_json_get_str(j, "service_answer"), "HTTP/1.1 200 OK; Server: tlsdest");
  ck_assert_str_eq(ep_json_get_str(j, "class"), "reachable");
  ep_json_free(j);
  ck_assert(SSL_is_init_finished(fx->r->https));
}

START_TEST(scan_tls_through_the_stream) {
  fixture_t fx;
  ep_scan_cfg_t cfg;
  one_port(&cfg, 443);
  scan_fake_exit(&fx, &cfg);
  assert_tls_record(&fx, cfg.out);
  fclose(cfg.out);
  teardown_fx(&fx);
}
END_TEST

/* ep_tls_lean_pubkeys (what scan turns on): the same record (version, leaf
 * SHA-256, subject, answer) and signatures still checked: the destination's
 * certificate verifies, the same certificate with one signature bit flipped
 * does not. Last in the suite: the ENGINE stays for the process (Check forks
 * a process per test unless CK_FORK=no), and EVP_EC_gen("P-256") no longer
 * works under it, so the destination's key is made first. */
START_TEST(scan_tls_with_lean_pubkeys_checks_the_same) {
  fixture_t fx;
  ep_scan_cfg_t cfg;
  one_port(&cfg, 443);
  uint16_t port = relay_start(&fx, M_DEST);
  fx.r->https_ctx = https_ctx_new(&fx.r->https_der, &fx.r->https_der_len);
  /* key exchange on P-256 only (a server without X25519): the client's
   * ephemeral EC key is made under the lean methods too */
  ck_assert_int_eq(SSL_CTX_set1_groups_list(fx.r->https_ctx, "P-256"), 1);
  ck_assert(ep_tls_lean_pubkeys());
  scan_round_through(&fx, port, &cfg);
  assert_tls_record(&fx, cfg.out);
  fclose(cfg.out);
  for (int flip = 0; flip < 2; flip++) {
    uint8_t *der = malloc((size_t)fx.r->https_der_len);
    ck_assert_ptr_nonnull(der);
    memcpy(der, fx.r->https_der, (size_t)fx.r->https_der_len);
    der[fx.r->https_der_len - 3] ^= (uint8_t)flip; /* inside the signature BIT STRING */
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, fx.r->https_der_len);
    ck_assert_ptr_nonnull(x);
    int v = X509_verify(x, X509_get0_pubkey(x));
    ck_assert_msg(flip ? v != 1 : v == 1, "X509_verify %d with %d bit flipped", v, flip);
    X509_free(x);
    free(der);
  }
  teardown_fx(&fx);
}
END_TEST

/* #11: with cfg.links the first hop's link outlives the round and carries
 * the next round's circuit. The fake relay accepts one connection only, so
 * the second round is answered through the link of the first or not at all. */
START_TEST(scan_keeps_the_first_hops_link_for_the_next_round) {
  fixture_t fx;
  ep_scan_cfg_t cfg;
  one_port(&cfg, 25);
  cfg.stream_timeout_ms = 5000;
  cfg.link_timeout_ms = 3000;
  cfg.links = ep_linkpool_new(60000);
  ck_assert_ptr_nonnull(cfg.links);
  uint16_t port = relay_start(&fx, M_DEST);
  for (unsigned round = 1; round <= 2; round++) {
    cfg.round = round;
    scan_round_through(&fx, port, &cfg);
    ck_assert_uint_eq(ep_linkpool_count(cfg.links), 1);
    ep_json_t *j = record_for(cfg.out, 25);
    ck_assert_str_eq(ep_json_get_str(j, "class"), "reachable");
    ep_json_free(j);
    fclose(cfg.out);
  }
  ck_assert_uint_eq(fx.r->n_create2, 2);
  /* Taken back within the pool's limit, kept again; closed once idle for
   * longer than the pool keeps links (the next put sweeps). */
  ep_target_t first = lf_target(fx.guard, 0x7f000001, port);
  int64_t t = ep_now_ms() + 30000;
  ep_carrier_t *car = ep_linkpool_take(cfg.links, first.rsa_id, t, NULL, NULL);
  ck_assert_ptr_nonnull(car);
  ck_assert_uint_eq(ep_linkpool_count(cfg.links), 0);
  ep_linkpool_put(cfg.links, first.rsa_id, car, t);
  ep_linkpool_put(cfg.links, first.rsa_id, NULL, t + 30000);
  ck_assert_uint_eq(ep_linkpool_count(cfg.links), 1);
  ep_linkpool_put(cfg.links, first.rsa_id, NULL, t + 60001);
  ck_assert_uint_eq(ep_linkpool_count(cfg.links), 0);
  ep_linkpool_free(cfg.links);
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

/* The first BEGIN to `port` a relay saw (-1: none). */
static int begun_at(const relay_t *r, uint16_t port, int64_t *ms) {
  for (size_t i = 0; i < r->n_begun; i++) {
    if (r->begun_port[i] == port) {
      *ms = r->begun_ms[i];
      return (int)i;
    }
  }
  return -1;
}

/* #13: a failed port goes through another first hop at once, and one still
 * unanswered after the retry delay does too, in parallel with the main
 * circuit (not after its stream deadline); a port answered on the main
 * circuit gets no retry. Two first hops, one exit behind both. */
START_TEST(scan_retries_through_another_first_hop_in_parallel) {
  fixture_t fx;
  uint16_t port1 = relay_start(&fx, M_DEST);
  lf_identity_t *guard2 = lf_identity_new(time(NULL));
  ck_assert_ptr_nonnull(guard2);
  uint16_t port2;
  relay_t *r2 = relay_new(fx.r->loop, guard2, fx.exitr, M_DEST, &port2);
  ep_scan_relay_t hops[2] = {{.target = lf_target(fx.guard, 0x7f000001, port1)},
                             {.target = lf_target(guard2, 0x7f000001, port2)}};
  ep_scan_relay_t exit = {.target = lf_target(fx.exitr, 0x7f000002, 5002)};
  snprintf(hops[0].ref.fingerprint, sizeof hops[0].ref.fingerprint, "%s", "HOP1");
  snprintf(hops[1].ref.fingerprint, sizeof hops[1].ref.fingerprint, "%s", "HOP2");
  snprintf(exit.ref.fingerprint, sizeof exit.ref.fingerprint, "%s", "EXIT");
  ep_scan_cfg_t cfg;
  ep_scan_cfg_defaults(&cfg);
  const uint16_t ports[] = {25, 587, 9};
  memcpy(cfg.ports, ports, sizeof ports);
  cfg.n_ports = 3;
  cfg.target_host = "t1.test";         /* 587 refuses it; no second target */
  cfg.stream_timeout_ms = 4000;
  cfg.retry_after_ms = 1000;
  cfg.no_control = cfg.allow_same_16 = true;
  cfg.out = tmpfile();
  ck_assert_ptr_nonnull(cfg.out);
  ep_scan_summary_t sum;
  ep_err_t err = {0};
  ck_assert_msg(ep_scan_run(fx.r->loop, fx.cctx, &exit, 1, hops, 2, &cfg, &sum, &err) == EP_OK,
                "%s", err.msg);
  ep_scan_summary_free(&sum);
  /* whichever hop carried the main circuit saw 25 first */
  relay_t *m = fx.r, *r = r2;
  int64_t t25, t587, t9, rt587, rt9, dummy;
  if (begun_at(m, 25, &t25) < 0) {
    m = r2;
    r = fx.r;
  }
  ck_assert_int_ge(begun_at(m, 25, &t25), 0);
  ck_assert_int_ge(begun_at(m, 587, &t587), 0);
  ck_assert_int_ge(begun_at(m, 9, &t9), 0);
  ck_assert_int_lt(begun_at(r, 25, &dummy), 0); /* answered: no retry */
  ck_assert_int_ge(begun_at(r, 587, &rt587), 0);
  ck_assert_int_ge(begun_at(r, 9, &rt9), 0);
  /* 587 was refused at once: its retry does not wait for the delay; 9 was
   * silent: its retry starts after the delay, before the main deadline */
  ck_assert_int_lt(rt587 - t587, 1000);
  ck_assert_int_ge(rt9 - t9, 900); /* the delay, counted from when the main circuit began */
  ck_assert_int_lt(rt9 - t9, 4000);
  ck_assert_uint_eq(m->n_create2 + r->n_create2, 2); /* one retry circuit for both ports */

  ep_json_t *j = record_for(cfg.out, 9);
  ck_assert_str_eq(ep_json_get_str(j, "class"), "timeout");
  ck_assert_str_eq(ep_json_get_str(j, "retry_class"), "timeout");
  /* one exit and no control stream: nothing shows the target answers */
  ck_assert_str_eq(ep_json_get_str(j, "verdict"), "inconclusive");
  ck_assert_msg(strstr(ep_json_get_str(j, "why"), "no other exit") != NULL, "%s", ep_json_get_str(j, "why"));
  ep_json_free(j);
  j = record_for(cfg.out, 587);
  ck_assert_str_eq(ep_json_get_str(j, "retry_class"), "refused");
  ep_json_free(j);
  j = record_for(cfg.out, 25);
  ck_assert_str_eq(ep_json_get_str(j, "class"), "reachable");
  ck_assert_str_eq(ep_json_get_str(j, "retry_class"), "not-tried");
  ep_json_free(j);
  fclose(cfg.out);
  relay_free(r2);
  lf_identity_free(guard2);
  teardown_fx(&fx);
}
END_TEST

/* #14: with a name as target the exit's circuit also carries a RESOLVE of
 * it, and every record says what the exit's resolver answered; with
 * --no-dns-check (or an address as target) nothing is asked. */
START_TEST(scan_resolves_target_names_on_the_same_circuit) {
  fixture_t fx;
  ep_scan_cfg_t cfg;
  one_port(&cfg, 25);
  cfg.target_host = "ok.test";
  cfg.stream_timeout_ms = 5000;
  scan_fake_exit(&fx, &cfg);
  ck_assert_uint_eq(fx.r->n_resolve, 1);
  ck_assert_str_eq(fx.r->resolved_name, "ok.test");
  ck_assert_uint_eq(fx.r->n_create2, 1);   /* no extra circuit */
  ep_json_t *j = record_for(cfg.out, 25);
  ck_assert_str_eq(ep_json_get_str(j, "class"), "reachable");
  ck_assert_str_eq(ep_json_get_str(j, "dns"), "ok");
  ck_assert_str_eq(ep_json_get_str(j, "dns_detail"), "ok.test: 127.0.0.1 ttl 60, ::1 ttl 60");
  ck_assert(ep_json_get(j, "dns_reprobe_address") != NULL && ep_json_type(ep_json_get(j, "dns_reprobe_address")) == EP_JSON_NULL);
  ep_json_free(j);
  fclose(cfg.out);
  teardown_fx(&fx);

  one_port(&cfg, 25);
  cfg.target_host = "ok.test";
  cfg.no_dns_check = true;
  scan_fake_exit(&fx, &cfg);
  ck_assert_uint_eq(fx.r->n_resolve, 0);
  j = record_for(cfg.out, 25);
  ck_assert_str_eq(ep_json_get_str(j, "dns"), "not-tried");
  ck_assert(ep_json_get(j, "dns_detail") != NULL && ep_json_type(ep_json_get(j, "dns_detail")) == EP_JSON_NULL);
  ep_json_free(j);
  fclose(cfg.out);
  teardown_fx(&fx);

  /* BEGIN to the name gets END RESOLVEFAILED: the port is probed again on
   * the same circuit by the address the name resolved to, and judged by it. */
  one_port(&cfg, 25);
  cfg.target_host = "flaky.test";
  scan_fake_exit(&fx, &cfg);
  ck_assert_uint_eq(fx.r->n_create2, 1);
  ck_assert_uint_eq(fx.r->n_begun, 2);
  ck_assert_str_eq(fx.r->begun_host[0], "flaky.test");
  ck_assert_str_eq(fx.r->begun_host[1], "127.0.0.1");
  j = record_for(cfg.out, 25);
  ck_assert_str_eq(ep_json_get_str(j, "class"), "reachable");
  ck_assert_str_eq(ep_json_get_str(j, "verdict"), "honours");
  ck_assert_str_eq(ep_json_get_str(j, "dns_reprobe_address"), "127.0.0.1");
  ck_assert_str_eq(ep_json_get_str(j, "connected_addr"), "127.0.0.1");
  ck_assert_str_eq(ep_json_get_str(j, "target"), "flaky.test");
  ep_json_free(j);
  fclose(cfg.out);
  teardown_fx(&fx);

  /* A name nobody resolves (this exit's resolver says no, and there is no
   * other exit): undecided, not broken. */
  one_port(&cfg, 25);
  cfg.target_host = "nosuch.test";
  scan_fake_exit(&fx, &cfg);
  ck_assert_uint_eq(fx.r->n_resolve, 1);
  j = record_for(cfg.out, 25);
  ck_assert_str_eq(ep_json_get_str(j, "dns"), "undecided");
  ck_assert_msg(strstr(ep_json_get_str(j, "dns_detail"), "nosuch.test: error (nontransient)") != NULL,
                "%s", ep_json_get_str(j, "dns_detail"));
  ep_json_free(j);
  fclose(cfg.out);
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
  tcase_add_test(t, resolve_answers_errors_deadline_hostile);
  tcase_add_test(t, scan_checks_services_and_confirms_on_the_same_circuit);
  tcase_add_test(t, scan_without_second_target_confirms_nothing);
  tcase_add_test(t, scan_tls_through_the_stream);
  tcase_add_test(t, scan_keeps_the_first_hops_link_for_the_next_round);
  tcase_add_test(t, scan_tcp_window_and_silent_close);
  tcase_add_test(t, scan_retries_through_another_first_hop_in_parallel);
  tcase_add_test(t, scan_resolves_target_names_on_the_same_circuit);
  tcase_add_test(t, scan_tls_with_lean_pubkeys_checks_the_same); /* last: see there */
  suite_add_tcase(s, t);
  return s;
}

int main(void) { return tu_run_suite(circ_suite()); }
