/* exitprobe — the circuit and stream state machines, driven through a
 * channel by a scripted fake relay (tests/link_fake.c): no network. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/caps.h"
#include "link_fake.h"
#include "proto/channel.h"
#include "proto/fast.h"
#include "proto/relaymsg.h"
#include "testutil.h"

#define NOW ((time_t)1760000000)
#define PROTO 5

static lf_identity_t *guard, *exitr;
static ep_channel_t *ch;
static lf_circ_t rc;      /* the relay side of the circuit under test */
static uint8_t storage[EP_CELL_VAR_HEADER_MAX + 65535];

/* ---- trace recording ---- */

#define MAX_TRACE 64
static ep_cell_trace_t traces[MAX_TRACE];
static size_t n_traces;

static void record_trace(void *arg, const ep_cell_trace_t *t) {
  (void)arg;
  if (n_traces < MAX_TRACE) {
    traces[n_traces] = *t;
  }
  n_traces++;
}

/* Keys are made once per test case (RSA key generation is the slow part). */
static void make_keys(void) {
  guard = lf_identity_new(NOW);
  exitr = lf_identity_new(NOW);
}

static void free_keys(void) {
  lf_identity_free(guard);
  lf_identity_free(exitr);
}

static void setup(void) {
  ep_target_t t = lf_target(guard, 0x7f000001, 5001);
  ep_err_t e = {0};
  ch = ep_channel_new(&t, &e);
  ck_assert_ptr_nonnull(ch);
  lf_open_channel(ch, guard, PROTO, NOW);
  memset(&rc, 0, sizeof rc);
  n_traces = 0;
}

static void teardown(void) {
  ep_channel_free(ch);
  lf_circ_free(&rc);
}

/* ---- helpers ---- */

static ep_cell_t take(uint8_t command) {
  ep_cell_t cell;
  ck_assert_msg(lf_take_cell(ch, PROTO, &cell, storage), "no cell, wanted %s",
                ep_cell_command_name(command));
  ck_assert_msg(cell.command == command, "cell %u, wanted %s", cell.command,
                ep_cell_command_name(command));
  return cell;
}

static void no_more_cells(void) {
  ep_cell_t cell;
  ck_assert_msg(!lf_take_cell(ch, PROTO, &cell, storage), "unexpected %s cell",
                ep_cell_command_name(cell.command));
}

static ep_event_t next_event(ep_event_type_t type) {
  ep_event_t ev;
  ck_assert_msg(ep_channel_next_event(ch, &ev), "no event, wanted %s", ep_event_type_name(type));
  ck_assert_msg(ev.type == type, "event %s (%s), wanted %s", ep_event_type_name(ev.type), ev.msg,
                ep_event_type_name(type));
  return ev;
}

static void no_event(void) {
  ep_event_t ev;
  ck_assert_msg(!ep_channel_next_event(ch, &ev), "unexpected %s: %s", ep_event_type_name(ev.type),
                ev.msg);
}

/* Take the client's next relay cell and decrypt it relay-side. */
static ep_relay_msg_t take_relay(int want_hop, uint8_t cell_cmd, uint8_t body[EP_CELL_PAYLOAD_LEN]) {
  ep_cell_t cell = take(cell_cmd);
  ck_assert_uint_eq(cell.circ_id, rc.circ_id);
  int hop = lf_circ_recv(&rc, cell.payload, body);
  ck_assert_int_eq(hop, want_hop);
  ep_relay_hdr_t h;
  const uint8_t *data;
  ep_err_t e = {0};
  ck_assert_int_eq(ep_relay_hdr_parse(body, &h, &data, &e), EP_OK);
  ep_relay_msg_t m;
  ck_assert_msg(ep_relay_msg_parse(EP_RELAY_CTX_RELAY, h.command, h.stream_id, data, h.length, &m,
                                   &e) == EP_OK,
                "%s", e.msg);
  return m;
}

/* Send a relay message from hop hi to the client. */
static void feed_relay(unsigned hi, uint8_t cmd, uint16_t sid, const void *data, size_t len,
                       uint8_t *digest_out) {
  uint8_t payload[EP_CELL_PAYLOAD_LEN];
  lf_circ_send(&rc, hi, cmd, sid, data, len, payload, digest_out);
  lf_feed_cell(ch, PROTO, rc.circ_id, EP_CELL_RELAY, payload, sizeof payload, NOW);
}

static void feed_msg(unsigned hi, const ep_relay_msg_t *m) {
  uint8_t data[EP_RELAY_PAYLOAD_MAX];
  size_t len;
  ep_err_t e = {0};
  ck_assert_int_eq(ep_relay_msg_encode(m, data, sizeof data, &len, &e), EP_OK);
  feed_relay(hi, m->command, m->stream_id, data, len, NULL);
}

/* CREATE2 -> CREATED2: a one-hop circuit. */
static uint32_t create_one_hop(bool corrupt) {
  uint32_t id;
  ep_err_t e = {0};
  ck_assert_int_eq(ep_channel_circ_create(ch, EP_CREATE_NTOR, &id, &e), EP_OK);
  ep_cell_t cell = take(EP_CELL_CREATE2);
  ck_assert_uint_eq(cell.circ_id, id);
  ep_create2_t c2;
  ck_assert_int_eq(ep_create2_parse(cell.payload, cell.payload_len, &c2, &e), EP_OK);
  ck_assert_uint_eq(c2.htype, EP_HTYPE_NTOR);
  ck_assert_uint_eq(c2.hlen, 84);
  ck_assert_int_eq(memcmp(c2.hdata, guard->rsa_id, 20), 0);     /* ID */
  ck_assert_int_eq(memcmp(c2.hdata + 20, guard->ntor_pk, 32), 0); /* B */
  lf_circ_free(&rc);
  lf_circ_init(&rc, id);
  uint8_t reply[64];
  lf_circ_answer_ntor(&rc, guard, c2.hdata, reply, corrupt);
  uint8_t payload[EP_CELL_PAYLOAD_LEN] = {0};
  size_t plen;
  ck_assert_int_eq(ep_created2_encode(payload, sizeof payload, reply, 64, &plen, &e), EP_OK);
  lf_feed_cell(ch, PROTO, id, EP_CELL_CREATED2, payload, sizeof payload, NOW);
  return id;
}

/* EXTEND2 (in RELAY_EARLY) -> EXTENDED2. */
static void extend_to_exit(bool answer) {
  ep_target_t t = lf_target(exitr, 0x7f000002, 5002);
  ep_err_t e = {0};
  ck_assert_int_eq(ep_channel_circ_extend(ch, rc.circ_id, &t, &e), EP_OK);
  uint8_t body[EP_CELL_PAYLOAD_LEN];
  ep_relay_msg_t m = take_relay(0, EP_CELL_RELAY_EARLY, body);
  ck_assert_uint_eq(m.command, EP_RELAY_EXTEND2);
  const ep_relay_extend2_t *x = &m.u.extend2;
  ck_assert_uint_eq(x->ls.n, 3);
  uint32_t a;
  uint16_t port;
  ck_assert(ep_linkspec_ipv4(&x->ls.spec[0], &a, &port));
  ck_assert_uint_eq(a, 0x7f000002);
  ck_assert_uint_eq(port, 5002);
  ck_assert_int_eq(memcmp(ep_linkspecs_find(&x->ls, EP_LS_LEGACY_ID)->data, exitr->rsa_id, 20), 0);
  ck_assert_int_eq(memcmp(ep_linkspecs_find(&x->ls, EP_LS_ED25519_ID)->data, exitr->ed_pk, 32),
                   0);
  ck_assert_uint_eq(x->htype, 2);
  ck_assert_uint_eq(x->hlen, 84);
  if (!answer) {
    return;
  }
  uint8_t reply[64];
  lf_circ_answer_ntor(&rc, exitr, x->hdata, reply, false);
  ep_relay_msg_t r;
  memset(&r, 0, sizeof r);
  r.command = EP_RELAY_EXTENDED2;
  r.u.extended2.hlen = 64;
  r.u.extended2.hdata = reply;
  feed_msg(0, &r);
}

static uint32_t two_hop_circuit(void) {
  uint32_t id = create_one_hop(false);
  ep_event_t ev = next_event(EP_EV_CIRC_OPEN);
  ck_assert_uint_eq(ev.circ_id, id);
  ck_assert_uint_eq(ev.hops, 1);
  extend_to_exit(true);
  ev = next_event(EP_EV_CIRC_OPEN);
  ck_assert_uint_eq(ev.hops, 2);
  ck_assert_int_eq(ep_circ_hops(ep_channel_circ(ch, id)), 2);
  return id;
}

/* BEGIN to host:port, answered by CONNECTED from the exit. */
static uint16_t open_stream(uint32_t id, uint16_t port) {
  uint16_t sid;
  ep_err_t e = {0};
  ck_assert_int_eq(ep_channel_stream_begin(ch, id, "127.0.0.1", port, 0, &sid, &e), EP_OK);
  uint8_t body[EP_CELL_PAYLOAD_LEN];
  ep_relay_msg_t m = take_relay((int)rc.n_hops - 1, EP_CELL_RELAY, body);
  ck_assert_uint_eq(m.command, EP_RELAY_BEGIN);
  ck_assert_uint_eq(m.stream_id, sid);
  ck_assert_str_eq(m.u.begin.host, "127.0.0.1");
  ck_assert_uint_eq(m.u.begin.port, port);
  ep_relay_msg_t c;
  memset(&c, 0, sizeof c);
  c.command = EP_RELAY_CONNECTED;
  c.stream_id = sid;
  c.u.connected.has_addr = true;
  c.u.connected.addr.family = EP_IPADDR_V4;
  memcpy(c.u.connected.addr.bytes, "\x7f\0\0\x01", 4);
  c.u.connected.has_ttl = true;
  c.u.connected.ttl = 300;
  feed_msg(rc.n_hops - 1, &c);
  ep_event_t ev = next_event(EP_EV_STREAM_CONNECTED);
  ck_assert_uint_eq(ev.stream_id, sid);
  return sid;
}

/* ---- tests ---- */

START_TEST(two_hop_circuit_streams_end_to_end) {
  uint32_t id = two_hop_circuit();
  ck_assert_uint_eq(id & 0x80000000u, 0x80000000u);

  /* A stream: BEGIN, CONNECTED (IPv4 + TTL), DATA both ways, END DONE. */
  uint16_t sid;
  ep_err_t e = {0};
  ck_assert_int_eq(ep_channel_stream_begin(ch, id, "127.0.0.1", 25, 0, &sid, &e), EP_OK);
  ck_assert_uint_ne(sid, 0);
  uint8_t body[EP_CELL_PAYLOAD_LEN];
  ep_relay_msg_t m = take_relay(1, EP_CELL_RELAY, body);
  ck_assert_uint_eq(m.command, EP_RELAY_BEGIN);
  ck_assert_str_eq(m.u.begin.host, "127.0.0.1");
  ck_assert_uint_eq(m.u.begin.port, 25);
  /* Writing before CONNECTED is refused. */
  size_t w;
  ck_assert_int_eq(ep_channel_stream_write(ch, id, sid, (const uint8_t *)"x", 1, &w, &e),
                   EP_ERR_STATE);
  ep_relay_msg_t c;
  memset(&c, 0, sizeof c);
  c.command = EP_RELAY_CONNECTED;
  c.stream_id = sid;
  c.u.connected.has_addr = true;
  c.u.connected.addr.family = EP_IPADDR_V4;
  memcpy(c.u.connected.addr.bytes, "\x7f\0\0\x01", 4);
  c.u.connected.has_ttl = true;
  c.u.connected.ttl = 300;
  feed_msg(1, &c);
  ep_event_t ev = next_event(EP_EV_STREAM_CONNECTED);
  ck_assert_uint_eq(ev.circ_id, id);
  ck_assert_uint_eq(ev.stream_id, sid);
  ck_assert(ev.has_addr);
  ck_assert_int_eq(memcmp(ev.addr.bytes, "\x7f\0\0\x01", 4), 0);
  ck_assert_uint_eq(ev.ttl, 300);
  const char banner[] = "220 smtp.example ESMTP\r\n";
  feed_relay(1, EP_RELAY_DATA, sid, banner, sizeof banner - 1, NULL);
  ev = next_event(EP_EV_STREAM_DATA);
  ck_assert_uint_eq(ev.len, sizeof banner - 1);
  ck_assert_int_eq(memcmp(ev.data, banner, ev.len), 0);
  ck_assert_int_eq(ep_channel_stream_write(ch, id, sid, (const uint8_t *)"QUIT\r\n", 6, &w, &e),
                   EP_OK);
  ck_assert_uint_eq(w, 6);
  m = take_relay(1, EP_CELL_RELAY, body);
  ck_assert_uint_eq(m.command, EP_RELAY_DATA);
  ck_assert_uint_eq(m.u.data.len, 6);
  ck_assert_int_eq(memcmp(m.u.data.data, "QUIT\r\n", 6), 0);
  ep_relay_msg_t end;
  ep_relay_msg_end(&end, sid, EP_END_DONE);
  feed_msg(1, &end);
  ev = next_event(EP_EV_STREAM_END);
  ck_assert_uint_eq(ev.reason, EP_END_DONE);
  ck_assert(!ev.end_empty && !ev.has_addr);
  /* The stream is gone. */
  ck_assert_int_eq(ep_channel_stream_write(ch, id, sid, (const uint8_t *)"x", 1, &w, &e),
                   EP_ERR_STATE);

  /* A refused port: END EXITPOLICY with address and TTL. */
  uint16_t sid2;
  ck_assert_int_eq(ep_channel_stream_begin(ch, id, "127.0.0.1", 26, 0, &sid2, &e), EP_OK);
  ck_assert_uint_ne(sid2, sid);   /* recently closed ids are not reused */
  take_relay(1, EP_CELL_RELAY, body);
  ep_relay_msg_end(&end, sid2, EP_END_EXITPOLICY);
  end.u.end.has_addr = true;
  end.u.end.addr.family = EP_IPADDR_V4;
  memcpy(end.u.end.addr.bytes, "\x7f\0\0\x01", 4);
  end.u.end.ttl = 1800;
  feed_msg(1, &end);
  ev = next_event(EP_EV_STREAM_END);
  ck_assert_uint_eq(ev.stream_id, sid2);
  ck_assert_uint_eq(ev.reason, EP_END_EXITPOLICY);
  ck_assert(ev.has_addr);
  ck_assert_uint_eq(ev.ttl, 1800);

  /* An empty END: MISC, flagged. */
  uint16_t sid3 = 0;
  ck_assert_int_eq(ep_channel_stream_begin(ch, id, "127.0.0.1", 27, 0, &sid3, &e), EP_OK);
  take_relay(1, EP_CELL_RELAY, body);
  feed_relay(1, EP_RELAY_END, sid3, NULL, 0, NULL);
  ev = next_event(EP_EV_STREAM_END);
  ck_assert_uint_eq(ev.reason, EP_END_MISC);
  ck_assert(ev.end_empty);

  /* BEGIN_DIR, CONNECTED with an empty body. */
  uint16_t dsid;
  ck_assert_int_eq(ep_channel_stream_begin_dir(ch, id, &dsid, &e), EP_OK);
  m = take_relay(1, EP_CELL_RELAY, body);
  ck_assert_uint_eq(m.command, EP_RELAY_BEGIN_DIR);
  ck_assert_uint_eq(m.stream_id, dsid);
  feed_relay(1, EP_RELAY_CONNECTED, dsid, "\0\0\0\0", 4, NULL);  /* ignored body */
  ev = next_event(EP_EV_STREAM_CONNECTED);
  ck_assert_uint_eq(ev.stream_id, dsid);
  ck_assert(!ev.has_addr);
  /* We end it ourselves. */
  ck_assert_int_eq(ep_channel_stream_end(ch, id, dsid, EP_END_DONE, &e), EP_OK);
  m = take_relay(1, EP_CELL_RELAY, body);
  ck_assert_uint_eq(m.command, EP_RELAY_END);
  ck_assert_uint_eq(m.u.end.reason, EP_END_DONE);
  ck_assert_int_eq(ep_channel_stream_end(ch, id, dsid, EP_END_DONE, &e), EP_ERR_STATE);
  /* DROP is ignored. */
  feed_relay(1, EP_RELAY_DROP, 0, "pad", 3, NULL);
  no_event();
  /* Destroy: DESTROY with reason NONE, circuit forgotten. */
  ep_channel_circ_destroy(ch, id);
  ep_cell_t cell = take(EP_CELL_DESTROY);
  ck_assert_uint_eq(cell.circ_id, id);
  ck_assert_uint_eq(cell.payload[0], EP_DESTROY_NONE);
  ck_assert_uint_eq(ep_channel_n_circs(ch), 0);
  no_more_cells();
  no_event();
}
END_TEST

START_TEST(create_fast_one_hop) {
  uint32_t id;
  ep_err_t e = {0};
  ck_assert_int_eq(ep_channel_circ_create(ch, EP_CREATE_FAST, &id, &e), EP_OK);
  ep_cell_t cell = take(EP_CELL_CREATE_FAST);
  uint8_t reply[EP_FAST_REPLY_LEN], keys[EP_RELAY_KEYS_LEN];
  ck_assert_int_eq(ep_fast_server_handshake(cell.payload, NULL, reply, keys, sizeof keys, &e),
                   EP_OK);
  lf_circ_init(&rc, id);
  lf_circ_add_hop(&rc, keys);
  lf_feed_cell(ch, PROTO, id, EP_CELL_CREATED_FAST, reply, sizeof reply, NOW);
  ep_event_t ev = next_event(EP_EV_CIRC_OPEN);
  ck_assert_uint_eq(ev.hops, 1);
  /* The keys agree: a directory stream on the one hop. */
  uint16_t sid;
  ck_assert_int_eq(ep_channel_stream_begin_dir(ch, id, &sid, &e), EP_OK);
  uint8_t body[EP_CELL_PAYLOAD_LEN];
  ep_relay_msg_t m = take_relay(0, EP_CELL_RELAY, body);
  ck_assert_uint_eq(m.command, EP_RELAY_BEGIN_DIR);
  /* A wrong KH closes the next one. */
  ck_assert_int_eq(ep_channel_circ_create(ch, EP_CREATE_FAST, &id, &e), EP_OK);
  cell = take(EP_CELL_CREATE_FAST);
  ck_assert_int_eq(ep_fast_server_handshake(cell.payload, NULL, reply, keys, sizeof keys, &e),
                   EP_OK);
  reply[25] ^= 1;
  lf_feed_cell(ch, PROTO, id, EP_CELL_CREATED_FAST, reply, sizeof reply, NOW);
  ev = next_event(EP_EV_CIRC_DESTROYED);
  ck_assert_int_eq(ev.status, EP_ERR_VERIFY);
  ck_assert_ptr_nonnull(strstr(ev.msg, "no keys"));
  take(EP_CELL_DESTROY);
}
END_TEST

START_TEST(created2_with_wrong_auth_closes_the_circuit) {
  uint32_t id = create_one_hop(true);
  ep_event_t ev = next_event(EP_EV_CIRC_DESTROYED);
  ck_assert_uint_eq(ev.circ_id, id);
  ck_assert(!ev.remote);
  ck_assert_int_eq(ev.status, EP_ERR_VERIFY);
  ck_assert_uint_eq(ev.phase, EP_CIRC_PHASE_CREATING);
  ck_assert_uint_eq(ev.hops, 0);
  ck_assert_msg(strstr(ev.msg, "CREATED2 from hop 1") && strstr(ev.msg, "no keys"), "%s", ev.msg);
  ep_cell_t cell = take(EP_CELL_DESTROY);
  ck_assert_uint_eq(cell.circ_id, id);
  ck_assert_uint_eq(cell.payload[0], EP_DESTROY_NONE);   /* clients send NONE */
  ck_assert_uint_eq(ep_channel_n_circs(ch), 0);
  uint16_t sid;
  ep_err_t e = {0};
  ck_assert_int_eq(ep_channel_stream_begin(ch, id, "127.0.0.1", 25, 0, &sid, &e), EP_ERR_STATE);
  ck_assert_ptr_nonnull(strstr(e.msg, "no circuit"));
  /* A second CREATED2 for the dead id is dropped. */
  uint8_t payload[EP_CELL_PAYLOAD_LEN] = {0, 64};
  lf_feed_cell(ch, PROTO, id, EP_CELL_CREATED2, payload, sizeof payload, NOW);
  no_event();
  no_more_cells();
}
END_TEST

START_TEST(created2_of_a_wrong_length) {
  uint32_t id;
  ep_err_t e = {0};
  ck_assert_int_eq(ep_channel_circ_create(ch, EP_CREATE_NTOR, &id, &e), EP_OK);
  take(EP_CELL_CREATE2);
  uint8_t payload[EP_CELL_PAYLOAD_LEN] = {0, 32};
  lf_feed_cell(ch, PROTO, id, EP_CELL_CREATED2, payload, sizeof payload, NOW);
  ep_event_t ev = next_event(EP_EV_CIRC_DESTROYED);
  ck_assert_int_eq(ev.status, EP_ERR_MALFORMED);
  ck_assert_ptr_nonnull(strstr(ev.msg, "32 bytes, wants 64"));
  take(EP_CELL_DESTROY);
  /* Relay cells before the first hop exists close the circuit too. */
  ck_assert_int_eq(ep_channel_circ_create(ch, EP_CREATE_NTOR, &id, &e), EP_OK);
  take(EP_CELL_CREATE2);
  lf_feed_cell(ch, PROTO, id, EP_CELL_RELAY, payload, sizeof payload, NOW);
  ev = next_event(EP_EV_CIRC_DESTROYED);
  ck_assert_int_eq(ev.status, EP_ERR_STATE);
  take(EP_CELL_DESTROY);
}
END_TEST

START_TEST(destroy_mid_extend) {
  uint32_t id = create_one_hop(false);
  next_event(EP_EV_CIRC_OPEN);
  extend_to_exit(false);
  ck_assert_int_eq(ep_circ_state(ep_channel_circ(ch, id)), EP_CIRC_EXTENDING);
  /* Extending twice is refused while the first is pending. */
  ep_target_t t = lf_target(exitr, 0x7f000002, 5002);
  ep_err_t e = {0};
  ck_assert_int_eq(ep_channel_circ_extend(ch, id, &t, &e), EP_ERR_STATE);
  uint8_t payload[EP_CELL_PAYLOAD_LEN];
  ep_destroy_encode(payload, EP_DESTROY_CONNECTFAILED);
  lf_feed_cell(ch, PROTO, id, EP_CELL_DESTROY, payload, sizeof payload, NOW);
  ep_event_t ev = next_event(EP_EV_CIRC_DESTROYED);
  ck_assert(ev.remote);
  ck_assert(!ev.truncated);
  ck_assert_uint_eq(ev.reason, EP_DESTROY_CONNECTFAILED);
  ck_assert_uint_eq(ev.phase, EP_CIRC_PHASE_EXTENDING);
  ck_assert_uint_eq(ev.hops, 1);
  ck_assert_ptr_nonnull(strstr(ev.msg, "connectfailed"));
  no_more_cells();   /* nothing answers a DESTROY */
  ck_assert_uint_eq(ep_channel_n_circs(ch), 0);
  /* Late cells for the dead circuit are dropped. */
  feed_relay(0, EP_RELAY_DATA, 1, "x", 1, NULL);
  no_event();
}
END_TEST

START_TEST(truncated_tears_the_circuit_down) {
  uint32_t id = two_hop_circuit();
  uint8_t reason = EP_DESTROY_OR_IDENTITY;
  feed_relay(0, EP_RELAY_TRUNCATED, 0, &reason, 1, NULL);
  ep_event_t ev = next_event(EP_EV_CIRC_DESTROYED);
  ck_assert(ev.remote && ev.truncated);
  ck_assert_uint_eq(ev.reason, EP_DESTROY_OR_IDENTITY);
  ck_assert_uint_eq(ev.hops, 2);
  ep_cell_t cell = take(EP_CELL_DESTROY);
  ck_assert_uint_eq(cell.circ_id, id);
  ck_assert_uint_eq(ep_channel_n_circs(ch), 0);
}
END_TEST

START_TEST(extended2_when_not_extending) {
  two_hop_circuit();
  uint8_t junk[66] = {0, 64};
  feed_relay(1, EP_RELAY_EXTENDED2, 0, junk, sizeof junk, NULL);
  ep_event_t ev = next_event(EP_EV_CIRC_DESTROYED);
  ck_assert_int_eq(ev.status, EP_ERR_STATE);
  ck_assert_ptr_nonnull(strstr(ev.msg, "EXTENDED2 from hop 2"));
  take(EP_CELL_DESTROY);
}
END_TEST

START_TEST(extended2_with_wrong_auth) {
  create_one_hop(false);
  next_event(EP_EV_CIRC_OPEN);
  ep_target_t t = lf_target(exitr, 0x7f000002, 5002);
  ep_err_t e = {0};
  ck_assert_int_eq(ep_channel_circ_extend(ch, rc.circ_id, &t, &e), EP_OK);
  uint8_t body[EP_CELL_PAYLOAD_LEN];
  ep_relay_msg_t m = take_relay(0, EP_CELL_RELAY_EARLY, body);
  uint8_t reply[64];
  lf_circ_answer_ntor(&rc, exitr, m.u.extend2.hdata, reply, true);
  ep_relay_msg_t r;
  memset(&r, 0, sizeof r);
  r.command = EP_RELAY_EXTENDED2;
  r.u.extended2.hlen = 64;
  r.u.extended2.hdata = reply;
  feed_msg(0, &r);
  ep_event_t ev = next_event(EP_EV_CIRC_DESTROYED);
  ck_assert_int_eq(ev.status, EP_ERR_VERIFY);
  ck_assert_uint_eq(ev.phase, EP_CIRC_PHASE_EXTENDING);
  ck_assert_ptr_nonnull(strstr(ev.msg, "EXTENDED2 from hop 2"));
  take(EP_CELL_DESTROY);
}
END_TEST

START_TEST(inbound_sendmes_are_due_and_authenticated) {
  uint32_t id = two_hop_circuit();
  uint16_t sid = open_stream(id, 80);
  uint8_t data[EP_RELAY_PAYLOAD_MAX];
  memset(data, 'd', sizeof data);
  uint8_t digest[20], body[EP_CELL_PAYLOAD_LEN];
  for (int i = 1; i <= 100; i++) {
    feed_relay(1, EP_RELAY_DATA, sid, data, sizeof data, digest);
    ep_event_t ev = next_event(EP_EV_STREAM_DATA);
    ck_assert_uint_eq(ev.len, sizeof data);
    if (i == 50) {
      /* Stream window 500 -> 450: a stream-level SENDME, version 0, empty. */
      ep_relay_msg_t m = take_relay(1, EP_CELL_RELAY, body);
      ck_assert_uint_eq(m.command, EP_RELAY_SENDME);
      ck_assert_uint_eq(m.stream_id, sid);
      ck_assert(m.u.sendme.empty);
    } else if (i == 100) {
      /* Circuit window 1000 -> 900: SENDME v1 carrying the digest of the
       * DATA cell that triggered it, then the stream's. */
      ep_relay_msg_t m = take_relay(1, EP_CELL_RELAY, body);
      ck_assert_uint_eq(m.command, EP_RELAY_SENDME);
      ck_assert_uint_eq(m.stream_id, 0);
      ck_assert_uint_eq(m.u.sendme.version, 1);
      ck_assert_int_eq(memcmp(m.u.sendme.digest, digest, 20), 0);
      m = take_relay(1, EP_CELL_RELAY, body);
      ck_assert_uint_eq(m.command, EP_RELAY_SENDME);
      ck_assert_uint_eq(m.stream_id, sid);
    }
    no_more_cells();
  }
}
END_TEST

START_TEST(data_beyond_the_stream_window) {
  uint32_t id = two_hop_circuit();
  uint16_t sid = open_stream(id, 80);
  ep_err_t e = {0};
  ck_assert_int_eq(ep_channel_stream_hold(ch, id, sid, true, &e), EP_OK);
  uint8_t body[EP_CELL_PAYLOAD_LEN];
  for (int i = 1; i <= 500; i++) {
    feed_relay(1, EP_RELAY_DATA, sid, "z", 1, NULL);
    next_event(EP_EV_STREAM_DATA);
    if (i % 100 == 0) {
      ep_relay_msg_t m = take_relay(1, EP_CELL_RELAY, body);   /* circuit-level only */
      ck_assert_uint_eq(m.command, EP_RELAY_SENDME);
      ck_assert_uint_eq(m.stream_id, 0);
    }
    no_more_cells();
  }
  /* The 501st DATA cell is beyond the window: protocol error. */
  feed_relay(1, EP_RELAY_DATA, sid, "z", 1, NULL);
  ep_event_t ev = next_event(EP_EV_CIRC_DESTROYED);
  ck_assert(!ev.remote);
  ck_assert_int_eq(ev.status, EP_ERR_LIMIT);
  ck_assert_uint_eq(ev.reason, EP_DESTROY_PROTOCOL);
  ck_assert_ptr_nonnull(strstr(ev.msg, "beyond the stream window"));
  take(EP_CELL_DESTROY);
}
END_TEST

START_TEST(releasing_a_held_stream_sends_its_sendmes) {
  uint32_t id = two_hop_circuit();
  uint16_t sid = open_stream(id, 80);
  ep_err_t e = {0};
  ck_assert_int_eq(ep_channel_stream_hold(ch, id, sid, true, &e), EP_OK);
  uint8_t body[EP_CELL_PAYLOAD_LEN];
  for (int i = 1; i <= 150; i++) {
    feed_relay(1, EP_RELAY_DATA, sid, "z", 1, NULL);
    next_event(EP_EV_STREAM_DATA);
    if (i == 100) {
      ep_relay_msg_t m = take_relay(1, EP_CELL_RELAY, body);   /* the circuit's */
      ck_assert_uint_eq(m.stream_id, 0);
    }
  }
  no_more_cells();
  ck_assert_int_eq(ep_channel_stream_hold(ch, id, sid, false, &e), EP_OK);
  for (int k = 0; k < 3; k++) {    /* window 350: three SENDMEs bring it to 500 */
    ep_relay_msg_t m = take_relay(1, EP_CELL_RELAY, body);
    ck_assert_uint_eq(m.command, EP_RELAY_SENDME);
    ck_assert_uint_eq(m.stream_id, sid);
  }
  no_more_cells();
}
END_TEST

START_TEST(outbound_windows_and_sendme_v1_checks) {
  uint32_t id = two_hop_circuit();
  uint16_t sid = open_stream(id, 80);
  ep_err_t e = {0};
  size_t chunk = EP_RELAY_PAYLOAD_MAX;
  static uint8_t big[1100 * EP_RELAY_PAYLOAD_MAX];
  memset(big, 'q', sizeof big);
  uint8_t digests[11][20];
  uint8_t body[EP_CELL_PAYLOAD_LEN];
  ck_assert_uint_eq(ep_circ_writable(ep_channel_circ(ch, id), sid), 500 * chunk);
  /* The stream window (500) stops the first write. */
  size_t w;
  ck_assert_int_eq(ep_channel_stream_write(ch, id, sid, big, 600 * chunk, &w, &e), EP_OK);
  ck_assert_uint_eq(w, 500 * chunk);
  for (int i = 1; i <= 500; i++) {
    ep_relay_msg_t m = take_relay(1, EP_CELL_RELAY, body);
    ck_assert_uint_eq(m.command, EP_RELAY_DATA);
    if (i % 100 == 0) {
      ep_digest_peek(rc.fwd[1], digests[i / 100], 20);
    }
  }
  ck_assert_uint_eq(ep_circ_writable(ep_channel_circ(ch, id), sid), 0);
  /* Ten stream SENDMEs reopen it; the first wakes the writer. */
  for (int k = 0; k < 10; k++) {
    feed_relay(1, EP_RELAY_SENDME, sid, NULL, 0, NULL);
    if (k == 0) {
      ep_event_t ev = next_event(EP_EV_STREAM_WRITABLE);
      ck_assert_uint_eq(ev.stream_id, sid);
    }
    no_event();
  }
  /* Now the circuit window (1000) stops it. */
  ck_assert_int_eq(ep_channel_stream_write(ch, id, sid, big, 600 * chunk, &w, &e), EP_OK);
  ck_assert_uint_eq(w, 500 * chunk);
  for (int i = 501; i <= 1000; i++) {
    take_relay(1, EP_CELL_RELAY, body);
    if (i % 100 == 0 && i / 100 <= 10) {
      ep_digest_peek(rc.fwd[1], digests[i / 100], 20);
    }
  }
  ck_assert_int_eq(ep_channel_stream_write(ch, id, sid, big, chunk, &w, &e), EP_OK);
  ck_assert_uint_eq(w, 0);
  /* The exit's SENDME v1 carries the digest of our 100th cell: accepted, and
   * the blocked circuit becomes writable. */
  ep_relay_msg_t sm;
  ep_relay_msg_sendme_v1(&sm, 0, digests[1]);
  feed_msg(1, &sm);
  next_event(EP_EV_CIRC_WRITABLE);
  ck_assert_int_eq(ep_channel_stream_write(ch, id, sid, big, chunk, &w, &e), EP_OK);
  ck_assert_uint_eq(w, 0);   /* the stream window is empty too */
  feed_relay(1, EP_RELAY_SENDME, sid, NULL, 0, NULL);
  next_event(EP_EV_STREAM_WRITABLE);
  ck_assert_int_eq(ep_channel_stream_write(ch, id, sid, big, chunk, &w, &e), EP_OK);
  ck_assert_uint_eq(w, chunk);
  take_relay(1, EP_CELL_RELAY, body);
  /* A v0 SENDME is still accepted (consumes the 200th cell's digest). */
  feed_relay(1, EP_RELAY_SENDME, 0, NULL, 0, NULL);
  no_event();
  /* A SENDME v1 naming another digest closes the circuit. */
  ep_relay_msg_sendme_v1(&sm, 0, digests[1]);
  feed_msg(1, &sm);
  ep_event_t ev = next_event(EP_EV_CIRC_DESTROYED);
  ck_assert_int_eq(ev.status, EP_ERR_VERIFY);
  ck_assert_ptr_nonnull(strstr(ev.msg, "SENDME v1"));
  take(EP_CELL_DESTROY);
}
END_TEST

START_TEST(unasked_sendmes_close_the_circuit) {
  uint32_t id = two_hop_circuit();
  uint16_t sid = open_stream(id, 80);
  /* A stream SENDME while the window is full. */
  feed_relay(1, EP_RELAY_SENDME, sid, NULL, 0, NULL);
  ep_event_t ev = next_event(EP_EV_CIRC_DESTROYED);
  ck_assert_ptr_nonnull(strstr(ev.msg, "did not ask for"));
  take(EP_CELL_DESTROY);
  /* A circuit SENDME while the window is full. */
  lf_circ_free(&rc);
  two_hop_circuit();
  feed_relay(1, EP_RELAY_SENDME, 0, NULL, 0, NULL);
  ev = next_event(EP_EV_CIRC_DESTROYED);
  ck_assert_ptr_nonnull(strstr(ev.msg, "did not ask for"));
  take(EP_CELL_DESTROY);
}
END_TEST

START_TEST(hostile_relay_cells) {
  /* Garbage no hop recognizes. */
  uint32_t id = two_hop_circuit();
  uint8_t junk[EP_CELL_PAYLOAD_LEN];
  memset(junk, 0x5a, sizeof junk);
  lf_feed_cell(ch, PROTO, id, EP_CELL_RELAY, junk, sizeof junk, NOW);
  ep_event_t ev = next_event(EP_EV_CIRC_DESTROYED);
  ck_assert_int_eq(ev.status, EP_ERR_VERIFY);
  ck_assert_ptr_nonnull(strstr(ev.msg, "recognized by none"));
  take(EP_CELL_DESTROY);

  /* A RELAY_EARLY towards the client. */
  lf_circ_free(&rc);
  id = two_hop_circuit();
  uint8_t payload[EP_CELL_PAYLOAD_LEN];
  lf_circ_send(&rc, 1, EP_RELAY_DATA, 1, (const uint8_t *)"x", 1, payload, NULL);
  lf_feed_cell(ch, PROTO, id, EP_CELL_RELAY_EARLY, payload, sizeof payload, NOW);
  ev = next_event(EP_EV_CIRC_DESTROYED);
  ck_assert_ptr_nonnull(strstr(ev.msg, "RELAY_EARLY"));
  take(EP_CELL_DESTROY);

  /* A forward-only message (BEGIN) sent to the client. */
  lf_circ_free(&rc);
  id = two_hop_circuit();
  feed_relay(1, EP_RELAY_BEGIN, 5, "evil:25\0", 8, NULL);
  ev = next_event(EP_EV_CIRC_DESTROYED);
  ck_assert_int_eq(ev.status, EP_ERR_STATE);
  ck_assert_ptr_nonnull(strstr(ev.msg, "not expected by a client"));
  take(EP_CELL_DESTROY);

  /* A malformed CONNECTED. */
  lf_circ_free(&rc);
  id = two_hop_circuit();
  uint16_t sid;
  ep_err_t e = {0};
  ck_assert_int_eq(ep_channel_stream_begin(ch, id, "127.0.0.1", 25, 0, &sid, &e), EP_OK);
  uint8_t body[EP_CELL_PAYLOAD_LEN];
  take_relay(1, EP_CELL_RELAY, body);
  feed_relay(1, EP_RELAY_CONNECTED, sid, "\0\0\0\0\x07", 5, NULL);
  ev = next_event(EP_EV_CIRC_DESTROYED);
  ck_assert_int_eq(ev.status, EP_ERR_MALFORMED);
  take(EP_CELL_DESTROY);

  /* An unknown relay command is dropped; the circuit lives on. */
  lf_circ_free(&rc);
  id = two_hop_circuit();
  sid = open_stream(id, 25);
  feed_relay(1, 99, 0, "??", 2, NULL);
  no_event();
  feed_relay(1, EP_RELAY_DATA, sid, "ok", 2, NULL);
  ev = next_event(EP_EV_STREAM_DATA);
  ck_assert_uint_eq(ev.len, 2);
  /* DATA for an unknown stream is dropped too. */
  feed_relay(1, EP_RELAY_DATA, (uint16_t)(sid + 1), "no", 2, NULL);
  no_event();
  /* A stream's message from the wrong hop is not that stream's. */
  feed_relay(0, EP_RELAY_DATA, sid, "hop1", 4, NULL);
  no_event();
  no_more_cells();
}
END_TEST

START_TEST(trace_hook_sees_every_cell) {
  ep_channel_set_trace(ch, record_trace, NULL);
  uint32_t id = two_hop_circuit();
  uint16_t sid = open_stream(id, 25);
  ep_relay_msg_t end;
  ep_relay_msg_end(&end, sid, EP_END_EXITPOLICY);
  feed_msg(1, &end);
  next_event(EP_EV_STREAM_END);
  uint8_t payload[EP_CELL_PAYLOAD_LEN];
  ep_destroy_encode(payload, EP_DESTROY_FINISHED);
  lf_feed_cell(ch, PROTO, id, EP_CELL_DESTROY, payload, sizeof payload, NOW);
  next_event(EP_EV_CIRC_DESTROYED);
  lf_feed_cell(ch, PROTO, 0x1234, EP_CELL_RELAY, payload, sizeof payload, NOW);  /* unknown */
  no_event();
  ck_assert_uint_eq(n_traces, 9);
  /* out CREATE2, in CREATED2, out EXTEND2 (RELAY_EARLY, hop 1), in EXTENDED2,
   * out BEGIN (hop 2), in CONNECTED, in END, in DESTROY, in dropped RELAY. */
  ck_assert(traces[0].outbound && traces[0].command == EP_CELL_CREATE2 && traces[0].circ_id == id);
  ck_assert(!traces[1].outbound && traces[1].command == EP_CELL_CREATED2);
  ck_assert(traces[2].outbound && traces[2].command == EP_CELL_RELAY_EARLY && traces[2].relay);
  ck_assert_uint_eq(traces[2].relay_command, EP_RELAY_EXTEND2);
  ck_assert_uint_eq(traces[2].hop, 1);
  ck_assert(!traces[3].outbound && traces[3].relay);
  ck_assert_uint_eq(traces[3].relay_command, EP_RELAY_EXTENDED2);
  ck_assert(traces[4].outbound && traces[4].relay_command == EP_RELAY_BEGIN);
  ck_assert_uint_eq(traces[4].hop, 2);
  ck_assert_uint_eq(traces[4].stream_id, sid);
  ck_assert_uint_eq(traces[4].length, EP_CELL_PAYLOAD_LEN);
  ck_assert(!traces[5].outbound && traces[5].relay_command == EP_RELAY_CONNECTED);
  ck_assert_uint_eq(traces[5].relay_len, 8);
  ck_assert(traces[6].relay_command == EP_RELAY_END && traces[6].has_reason);
  ck_assert_uint_eq(traces[6].reason, EP_END_EXITPOLICY);
  ck_assert(traces[7].command == EP_CELL_DESTROY && traces[7].has_reason);
  ck_assert_uint_eq(traces[7].reason, EP_DESTROY_FINISHED);
  ck_assert(traces[8].dropped && traces[8].circ_id == 0x1234);
}
END_TEST

START_TEST(many_circuits_share_one_link) {
  enum { N = 20 };
  uint32_t ids[N];
  uint8_t onions[N][84];
  ep_err_t e = {0};
  for (int i = 0; i < N; i++) {
    ck_assert_int_eq(ep_channel_circ_create(ch, EP_CREATE_NTOR, &ids[i], &e), EP_OK);
    ep_cell_t cell = take(EP_CELL_CREATE2);
    ck_assert_uint_eq(cell.circ_id, ids[i]);
    memcpy(onions[i], cell.payload + 4, 84);
    for (int j = 0; j < i; j++) {
      ck_assert_uint_ne(ids[i], ids[j]);
    }
  }
  ck_assert_uint_eq(ep_channel_n_circs(ch), N);
  /* Answer in reverse order: each event names its own circuit. */
  lf_circ_t relays[N];
  for (int i = N - 1; i >= 0; i--) {
    lf_circ_init(&relays[i], ids[i]);
    uint8_t reply[64];
    lf_circ_answer_ntor(&relays[i], guard, onions[i], reply, false);
    uint8_t payload[EP_CELL_PAYLOAD_LEN] = {0};
    size_t plen;
    ck_assert_int_eq(ep_created2_encode(payload, sizeof payload, reply, 64, &plen, &e), EP_OK);
    lf_feed_cell(ch, PROTO, ids[i], EP_CELL_CREATED2, payload, sizeof payload, NOW);
    ep_event_t ev = next_event(EP_EV_CIRC_OPEN);
    ck_assert_uint_eq(ev.circ_id, ids[i]);
  }
  /* A cell from each relay side is recognized on its own circuit... */
  for (int i = 0; i < N; i++) {
    uint8_t payload[EP_CELL_PAYLOAD_LEN];
    lf_circ_send(&relays[i], 0, EP_RELAY_DROP, 0, NULL, 0, payload, NULL);
    lf_feed_cell(ch, PROTO, ids[i], EP_CELL_RELAY, payload, sizeof payload, NOW);
    no_event();
  }
  /* ...and a cell sent under another circuit's id is recognized by nobody. */
  uint8_t payload[EP_CELL_PAYLOAD_LEN];
  lf_circ_send(&relays[0], 0, EP_RELAY_DROP, 0, NULL, 0, payload, NULL);
  lf_feed_cell(ch, PROTO, ids[1], EP_CELL_RELAY, payload, sizeof payload, NOW);
  ep_event_t ev = next_event(EP_EV_CIRC_DESTROYED);
  ck_assert_uint_eq(ev.circ_id, ids[1]);
  take(EP_CELL_DESTROY);
  ck_assert_uint_eq(ep_channel_n_circs(ch), N - 1);
  for (int i = 0; i < N; i++) {
    lf_circ_free(&relays[i]);
  }
}
END_TEST

START_TEST(caps_on_streams_and_circuits) {
  uint32_t id = two_hop_circuit();
  ep_err_t e = {0};
  uint8_t body[EP_CELL_PAYLOAD_LEN];
  for (unsigned i = 0; i < EP_CAP_STREAMS_PER_CIRC; i++) {
    uint16_t sid;
    ck_assert_int_eq(ep_channel_stream_begin(ch, id, "127.0.0.1", 25, 0, &sid, &e), EP_OK);
    take_relay(1, EP_CELL_RELAY, body);
  }
  uint16_t sid;
  ck_assert_int_eq(ep_channel_stream_begin(ch, id, "127.0.0.1", 25, 0, &sid, &e), EP_ERR_LIMIT);
  /* Circuits: up to EP_CAP_CIRCS_PER_CHAN on one channel. */
  size_t have = ep_channel_n_circs(ch);
  for (size_t i = have; i < EP_CAP_CIRCS_PER_CHAN; i++) {
    uint32_t cid;
    ck_assert_int_eq(ep_channel_circ_create(ch, EP_CREATE_FAST, &cid, &e), EP_OK);
    size_t len;
    ep_channel_out(ch, &len);
    ep_channel_out_consume(ch, len);
  }
  uint32_t cid;
  ck_assert_int_eq(ep_channel_circ_create(ch, EP_CREATE_FAST, &cid, &e), EP_ERR_LIMIT);
  ck_assert_uint_eq(ep_channel_n_circs(ch), EP_CAP_CIRCS_PER_CHAN);
}
END_TEST

START_TEST(api_misuse_is_refused) {
  ep_err_t e = {0};
  uint16_t sid;
  ep_target_t t = lf_target(exitr, 1, 1);
  ck_assert_int_eq(ep_channel_circ_extend(ch, 0x80000001u, &t, &e), EP_ERR_STATE);
  uint32_t id;
  ck_assert_int_eq(ep_channel_circ_create(ch, EP_CREATE_NTOR, &id, &e), EP_OK);
  take(EP_CELL_CREATE2);
  /* Not open yet. */
  ck_assert_int_eq(ep_channel_stream_begin(ch, id, "127.0.0.1", 25, 0, &sid, &e), EP_ERR_STATE);
  ck_assert_int_eq(ep_channel_circ_extend(ch, id, &t, &e), EP_ERR_STATE);
  ck_assert_int_eq(ep_channel_stream_end(ch, id, 9, EP_END_DONE, &e), EP_ERR_STATE);
  ck_assert_int_eq(ep_channel_stream_hold(ch, id, 9, true, &e), EP_ERR_STATE);
  ep_channel_circ_destroy(ch, id);
  take(EP_CELL_DESTROY);
  ep_channel_circ_destroy(ch, id);   /* unknown now: ignored */
  no_more_cells();
  /* A bad host is refused without touching the circuit. */
  lf_circ_free(&rc);
  id = two_hop_circuit();
  ck_assert_int_eq(ep_channel_stream_begin(ch, id, "no:colons", 25, 0, &sid, &e),
                   EP_ERR_MALFORMED);
  no_more_cells();
  ck_assert_int_eq(ep_circ_state(ep_channel_circ(ch, id)), EP_CIRC_OPEN);
}
END_TEST

START_TEST(extends_up_to_the_hop_cap) {
  /* Every EXTEND2 goes in a RELAY_EARLY cell to the current last hop; the
   * relay side answers each as the exit relay. */
  create_one_hop(false);
  next_event(EP_EV_CIRC_OPEN);
  ep_err_t e = {0};
  ep_target_t t = lf_target(exitr, 0x7f000002, 5002);
  uint8_t body[EP_CELL_PAYLOAD_LEN];
  for (unsigned n = 1; n < EP_CIRC_MAX_HOPS; n++) {
    ck_assert_int_eq(ep_channel_circ_extend(ch, rc.circ_id, &t, &e), EP_OK);
    ep_relay_msg_t m = take_relay((int)n - 1, EP_CELL_RELAY_EARLY, body);
    ck_assert_uint_eq(m.command, EP_RELAY_EXTEND2);
    uint8_t reply[64];
    lf_circ_answer_ntor(&rc, exitr, m.u.extend2.hdata, reply, false);
    ep_relay_msg_t r;
    memset(&r, 0, sizeof r);
    r.command = EP_RELAY_EXTENDED2;
    r.u.extended2.hlen = 64;
    r.u.extended2.hdata = reply;
    feed_msg(n - 1, &r);
    ep_event_t ev = next_event(EP_EV_CIRC_OPEN);
    ck_assert_uint_eq(ev.hops, n + 1);
  }
  ck_assert_int_eq(ep_channel_circ_extend(ch, rc.circ_id, &t, &e), EP_ERR_LIMIT);
  ck_assert_ptr_nonnull(strstr(e.msg, "already 8 hops"));
  /* The eight-hop circuit works end to end. */
  uint16_t sid = open_stream(rc.circ_id, 443);
  feed_relay(EP_CIRC_MAX_HOPS - 1, EP_RELAY_DATA, sid, "deep", 4, NULL);
  ep_event_t ev = next_event(EP_EV_STREAM_DATA);
  ck_assert_int_eq(memcmp(ev.data, "deep", 4), 0);
}
END_TEST

static Suite *circuit_suite(void) {
  Suite *s = suite_create("circuit");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_unchecked_fixture(tc, make_keys, free_keys);
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, two_hop_circuit_streams_end_to_end);
  tcase_add_test(tc, create_fast_one_hop);
  tcase_add_test(tc, created2_with_wrong_auth_closes_the_circuit);
  tcase_add_test(tc, created2_of_a_wrong_length);
  tcase_add_test(tc, destroy_mid_extend);
  tcase_add_test(tc, truncated_tears_the_circuit_down);
  tcase_add_test(tc, extended2_when_not_extending);
  tcase_add_test(tc, extended2_with_wrong_auth);
  tcase_add_test(tc, inbound_sendmes_are_due_and_authenticated);
  tcase_add_test(tc, data_beyond_the_stream_window);
  tcase_add_test(tc, releasing_a_held_stream_sends_its_sendmes);
  tcase_add_test(tc, outbound_windows_and_sendme_v1_checks);
  tcase_add_test(tc, unasked_sendmes_close_the_circuit);
  tcase_add_test(tc, hostile_relay_cells);
  tcase_add_test(tc, trace_hook_sees_every_cell);
  tcase_add_test(tc, many_circuits_share_one_link);
  tcase_add_test(tc, caps_on_streams_and_circuits);
  tcase_add_test(tc, api_misuse_is_refused);
  tcase_add_test(tc, extends_up_to_the_hop_cap);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_suite(circuit_suite()); }
