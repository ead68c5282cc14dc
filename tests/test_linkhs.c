/* exitprobe — unit tests of the link handshake: VERSIONS, CERTS (parse and
 * verify, with a certificate chain generated here), AUTH_CHALLENGE, NETINFO,
 * and the channel's handshake state machine against a scripted relay. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/caps.h"
#include "lib/encode.h"
#include "link_fake.h"
#include "proto/channel.h"
#include "proto/linkcert.h"
#include "proto/linkhs.h"
#include "testutil.h"

#define NOW ((time_t)1760000000)   /* 2025-10-09 */

static lf_identity_t *relay_a, *relay_b;
static uint8_t payload[65536];
static uint8_t storage[EP_CELL_VAR_HEADER_MAX + 65535];

static void setup(void) {
  relay_a = lf_identity_new(NOW);
  relay_b = lf_identity_new(NOW);
}

static void teardown(void) {
  lf_identity_free(relay_a);
  lf_identity_free(relay_b);
}

/* ---- VERSIONS ---- */

START_TEST(versions_round_trip_and_choice) {
  const uint16_t ours[] = {3, 4, 5};
  size_t len;
  ep_err_t e = {0};
  ck_assert_int_eq(ep_versions_encode(payload, sizeof payload, ours, 3, &len, &e), EP_OK);
  ck_assert_uint_eq(len, 6);
  ep_versions_t v;
  ck_assert_int_eq(ep_versions_parse(payload, len, &v, &e), EP_OK);
  ck_assert_uint_eq(v.n, 3);
  ck_assert_int_eq(ep_versions_choose(&v, 3, 5), 5);
  ck_assert_int_eq(ep_versions_choose(&v, 3, 4), 4);
  const uint8_t old[] = {0, 1, 0, 2};
  ck_assert_int_eq(ep_versions_parse(old, sizeof old, &v, &e), EP_OK);
  ck_assert_int_eq(ep_versions_choose(&v, 3, 5), -1);
  const uint8_t mixed[] = {0, 9, 0, 3, 0, 2};
  ck_assert_int_eq(ep_versions_parse(mixed, sizeof mixed, &v, &e), EP_OK);
  ck_assert_int_eq(ep_versions_choose(&v, 3, 5), 3);
  ck_assert_int_eq(ep_versions_parse(mixed, 5, &v, &e), EP_ERR_MALFORMED);
  ck_assert_ptr_nonnull(strstr(e.msg, "odd"));
  ck_assert_int_eq(ep_versions_parse(payload, 0, &v, &e), EP_OK);
  ck_assert_int_eq(ep_versions_choose(&v, 3, 5), -1);
  ck_assert_int_eq(ep_versions_encode(payload, 4, ours, 3, &len, &e), EP_ERR_LIMIT);
}
END_TEST

/* ---- CERTS codec ---- */

START_TEST(certs_round_trip_and_malformed) {
  size_t len = lf_certs_payload(relay_a, 0, payload, sizeof payload);
  ep_certs_t c;
  ep_err_t e = {0};
  ck_assert_int_eq(ep_certs_parse(payload, len, &c, &e), EP_OK);
  ck_assert_uint_eq(c.n, 5);
  ck_assert_ptr_nonnull(ep_certs_find(&c, 2));
  ck_assert_uint_eq(ep_certs_find(&c, 2)->len, relay_a->id_cert_len);
  ck_assert_ptr_null(ep_certs_find(&c, 6));
  ck_assert_str_eq(ep_certs_type_name(7), "rsa-ed-crosscert");
  ck_assert_ptr_null(ep_certs_type_name(8));
  /* Extra bytes after the last cert are ignored (§4.2). */
  payload[len] = 0xee;
  ck_assert_int_eq(ep_certs_parse(payload, len + 1, &c, &e), EP_OK);
  /* Truncated in a body, in a header, empty. */
  ck_assert_int_eq(ep_certs_parse(payload, len - 1, &c, &e), EP_ERR_TRUNCATED);
  ck_assert_int_eq(ep_certs_parse(payload, 2, &c, &e), EP_ERR_TRUNCATED);
  ck_assert_int_eq(ep_certs_parse(payload, 0, &c, &e), EP_ERR_TRUNCATED);
  /* Two of one type. */
  len = lf_certs_payload(relay_a, LF_CERTS_DUP_4, payload, sizeof payload);
  ck_assert_int_eq(ep_certs_parse(payload, len, &c, &e), EP_ERR_MALFORMED);
  ck_assert_ptr_nonnull(strstr(e.msg, "two certificates of type 4"));
  /* More than we take. */
  payload[0] = 40;
  ck_assert_int_eq(ep_certs_parse(payload, len, &c, &e), EP_ERR_LIMIT);
  /* Unknown types are kept. */
  const uint8_t unk[] = {1, 99, 0, 2, 'h', 'i'};
  ck_assert_int_eq(ep_certs_parse(unk, sizeof unk, &c, &e), EP_OK);
  ck_assert_uint_eq(c.e[0].type, 99);
}
END_TEST

/* ---- CERTS verification ---- */

static int verify(const lf_identity_t *relay, unsigned flags, const lf_identity_t *wanted,
                  bool want_ed, time_t now, ep_certs_proven_t *out, ep_err_t *e) {
  size_t len = lf_certs_payload(relay, flags, payload, sizeof payload);
  ep_certs_t c;
  int rc = ep_certs_parse(payload, len, &c, e);
  if (rc != EP_OK) {
    return rc;
  }
  ep_certs_expect_t want = {
    .rsa_id = wanted->rsa_id,
    .ed25519_id = want_ed ? wanted->ed_pk : NULL,
    .tls_cert_der = relay->tls_cert,
    .tls_cert_len = relay->tls_cert_len,
    .now = now,
  };
  return ep_certs_verify(&c, &want, out, e);
}

START_TEST(certs_verify_good_chain) {
  ep_certs_proven_t p;
  ep_err_t e = {0};
  ck_assert_msg(verify(relay_a, 0, relay_a, true, NOW, &p, &e) == EP_OK, "%s", e.msg);
  ck_assert_int_eq(memcmp(p.rsa_id, relay_a->rsa_id, 20), 0);
  ck_assert_int_eq(memcmp(p.ed25519_id, relay_a->ed_pk, 32), 0);
  ck_assert_int_eq(memcmp(p.signing_key, relay_a->sign_pk, 32), 0);
  ck_assert_int_gt(p.expires, NOW);
  /* Without knowing the Ed25519 id, and without the type-1 cert. */
  ck_assert_int_eq(verify(relay_a, LF_CERTS_NO_TYPE1, relay_a, false, NOW, &p, &e), EP_OK);
  ck_assert_int_eq(memcmp(p.ed25519_id, relay_a->ed_pk, 32), 0);
}
END_TEST

START_TEST(certs_verify_flipped_signature_bits) {
  ep_certs_proven_t p;
  ep_err_t e = {0};
  ck_assert_int_eq(verify(relay_a, LF_CERTS_FLIP_SIG4, relay_a, true, NOW, &p, &e),
                   EP_ERR_VERIFY);
  ck_assert_ptr_nonnull(strstr(e.msg, "bad signature"));
  ck_assert_int_eq(verify(relay_a, LF_CERTS_FLIP_SIG5, relay_a, true, NOW, &p, &e),
                   EP_ERR_VERIFY);
  ck_assert_int_eq(verify(relay_a, LF_CERTS_FLIP_SIG7, relay_a, true, NOW, &p, &e),
                   EP_ERR_VERIFY);
  ck_assert_ptr_nonnull(strstr(e.msg, "crosscert"));
  ck_assert_int_eq(verify(relay_a, LF_CERTS_FLIP_X509, relay_a, true, NOW, &p, &e),
                   EP_ERR_VERIFY);
  ck_assert_ptr_nonnull(strstr(e.msg, "self-signature"));
  /* Nothing proven is left behind. */
  uint8_t zero[20] = {0};
  ck_assert_int_eq(memcmp(p.rsa_id, zero, 20), 0);
}
END_TEST

START_TEST(certs_verify_missing_certs) {
  ep_certs_proven_t p;
  ep_err_t e = {0};
  const unsigned omit[] = {LF_CERTS_OMIT_2, LF_CERTS_OMIT_4, LF_CERTS_OMIT_5, LF_CERTS_OMIT_7};
  const char *names[] = {"type 2", "type 4", "type 5", "type 7"};
  for (size_t i = 0; i < 4; i++) {
    ck_assert_int_eq(verify(relay_a, omit[i], relay_a, true, NOW, &p, &e), EP_ERR_VERIFY);
    ck_assert_msg(strstr(e.msg, names[i]) != NULL, "%s: %s", names[i], e.msg);
  }
}
END_TEST

START_TEST(certs_verify_identity_mismatch) {
  ep_certs_proven_t p;
  ep_err_t e = {0};
  /* We dialled A; B answers with its own valid chain. */
  ck_assert_int_eq(verify(relay_b, 0, relay_a, true, NOW, &p, &e), EP_ERR_VERIFY);
  char wanted[41], proved[41];
  ep_hex_encode(wanted, sizeof wanted, relay_a->rsa_id, 20, true);
  ep_hex_encode(proved, sizeof proved, relay_b->rsa_id, 20, true);
  char expect[160];
  snprintf(expect, sizeof expect, "identity mismatch: wanted %s, relay proved %s", wanted, proved);
  ck_assert_msg(strstr(e.msg, expect) != NULL, "%s", e.msg);
  /* Right RSA id, wrong Ed25519 id. */
  ep_certs_t c;
  size_t len = lf_certs_payload(relay_a, 0, payload, sizeof payload);
  ck_assert_int_eq(ep_certs_parse(payload, len, &c, &e), EP_OK);
  ep_certs_expect_t want = {relay_a->rsa_id, relay_b->ed_pk, relay_a->tls_cert,
                            relay_a->tls_cert_len, NOW};
  ck_assert_int_eq(ep_certs_verify(&c, &want, &p, &e), EP_ERR_VERIFY);
  ck_assert_ptr_nonnull(strstr(e.msg, "Ed25519 identity mismatch: wanted"));
  /* Right identities, but the TLS certificate is not the certified one. */
  want.ed25519_id = relay_a->ed_pk;
  want.tls_cert_der = relay_b->tls_cert;
  want.tls_cert_len = relay_b->tls_cert_len;
  ck_assert_int_eq(ep_certs_verify(&c, &want, &p, &e), EP_ERR_VERIFY);
  ck_assert_ptr_nonnull(strstr(e.msg, "TLS certificate"));
}
END_TEST

START_TEST(certs_verify_expiry) {
  ep_certs_proven_t p;
  ep_err_t e = {0};
  /* Ed25519 certs expire after 30 days. */
  ck_assert_int_eq(verify(relay_a, 0, relay_a, true, NOW + 40 * 86400, &p, &e), EP_ERR_EXPIRED);
  /* The X.509 identity cert is not valid yet, beyond tor's 30-day slack. */
  ck_assert_int_eq(verify(relay_a, 0, relay_a, true, NOW - 60 * 86400, &p, &e), EP_ERR_EXPIRED);
  ck_assert_ptr_nonnull(strstr(e.msg, "X.509"));
  /* Within the slack it passes (the X.509 check; Ed25519 certs have none). */
  ck_assert_int_eq(verify(relay_a, 0, relay_a, true, NOW - 10 * 86400, &p, &e), EP_OK);
}
END_TEST

START_TEST(x509_key_size_is_checked) {
  uint8_t fp[20];
  time_t na;
  ep_err_t e = {0};
  ck_assert_int_eq(ep_x509_check_rsa_selfsigned(relay_a->id_cert, relay_a->id_cert_len, 1024,
                                                NOW, fp, &na, &e),
                   EP_OK);
  ck_assert_int_eq(memcmp(fp, relay_a->rsa_id, 20), 0);
  ck_assert_int_eq(ep_x509_check_rsa_selfsigned(relay_a->id_cert, relay_a->id_cert_len, 2048,
                                                NOW, fp, &na, &e),
                   EP_ERR_VERIFY);
  ck_assert_ptr_nonnull(strstr(e.msg, "1024 bits"));
  /* The type-1 link cert is signed by the identity, not by itself. */
  ck_assert_int_eq(ep_x509_check_rsa_selfsigned(relay_a->link_cert, relay_a->link_cert_len, 1024,
                                                NOW, fp, &na, &e),
                   EP_ERR_VERIFY);
  ck_assert_int_eq(ep_x509_check_rsa_selfsigned(relay_a->id_cert, relay_a->id_cert_len - 1, 1024,
                                                NOW, fp, &na, &e),
                   EP_ERR_MALFORMED);
  const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x01};
  ck_assert_int_eq(ep_x509_check_rsa_selfsigned(junk, sizeof junk, 0, NOW, fp, &na, &e),
                   EP_ERR_MALFORMED);
}
END_TEST

/* ---- AUTH_CHALLENGE and NETINFO ---- */

START_TEST(auth_challenge_round_trip) {
  ep_auth_challenge_t ac, out;
  memset(&ac, 0, sizeof ac);
  memset(ac.challenge, 0x77, 32);
  ac.n_methods = 2;
  ac.methods[0] = 1;
  ac.methods[1] = 3;
  size_t len;
  ep_err_t e = {0};
  ck_assert_int_eq(ep_auth_challenge_encode(payload, sizeof payload, &ac, &len, &e), EP_OK);
  ck_assert_uint_eq(len, 38);
  ck_assert_int_eq(ep_auth_challenge_parse(payload, len, &out, &e), EP_OK);
  ck_assert_uint_eq(out.n_methods, 2);
  ck_assert_uint_eq(out.methods[1], 3);
  ck_assert_int_eq(memcmp(out.challenge, ac.challenge, 32), 0);
  ck_assert_int_eq(ep_auth_challenge_parse(payload, len + 3, &out, &e), EP_OK);  /* extra */
  ck_assert_int_eq(ep_auth_challenge_parse(payload, len - 1, &out, &e), EP_ERR_TRUNCATED);
  ck_assert_int_eq(ep_auth_challenge_parse(payload, 33, &out, &e), EP_ERR_TRUNCATED);
  /* Many methods: the first ones are kept. */
  payload[32] = 0;
  payload[33] = 20;
  for (int i = 0; i < 20; i++) {
    payload[34 + 2 * i] = 0;
    payload[35 + 2 * i] = (uint8_t)(i + 1);
  }
  ck_assert_int_eq(ep_auth_challenge_parse(payload, 74, &out, &e), EP_OK);
  ck_assert_uint_eq(out.n_methods, 20);
  ck_assert_uint_eq(out.methods[EP_AUTH_METHODS_KEPT - 1], EP_AUTH_METHODS_KEPT);
}
END_TEST

START_TEST(netinfo_round_trip_and_odd_addresses) {
  ep_netinfo_t ni, out;
  memset(&ni, 0, sizeof ni);
  ni.timestamp = 0x65000000;
  ni.other.family = EP_IPADDR_V6;
  memset(ni.other.bytes, 0x20, 16);
  ni.n_my_kept = 2;
  ni.my[0].family = EP_IPADDR_V4;
  memcpy(ni.my[0].bytes, "\x7f\0\0\x01", 4);
  ni.my[1].family = EP_IPADDR_V6;
  memset(ni.my[1].bytes, 0xfe, 16);
  uint8_t cellp[EP_CELL_PAYLOAD_LEN];
  ep_err_t e = {0};
  ck_assert_int_eq(ep_netinfo_encode(cellp, &ni, &e), EP_OK);
  ck_assert_int_eq(ep_netinfo_parse(cellp, sizeof cellp, &out, &e), EP_OK);
  ck_assert_uint_eq(out.timestamp, 0x65000000);
  ck_assert_uint_eq(out.other.family, EP_IPADDR_V6);
  ck_assert_uint_eq(out.n_my, 2);
  ck_assert_uint_eq(out.n_my_kept, 2);
  ck_assert_int_eq(memcmp(out.my[0].bytes, "\x7f\0\0\x01", 4), 0);
  /* A wrong ALEN for its type, an unknown type: ignored, not fatal. */
  const uint8_t odd[] = {0, 0, 0, 1, 4, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                         2, 9, 2, 0xaa, 0xbb, 4, 4, 10, 0, 0, 1};
  ck_assert_int_eq(ep_netinfo_parse(odd, sizeof odd, &out, &e), EP_OK);
  ck_assert_uint_eq(out.other.family, EP_IPADDR_NONE);
  ck_assert_uint_eq(out.n_my, 2);
  ck_assert_uint_eq(out.n_my_kept, 1);
  ck_assert_uint_eq(out.my[0].family, EP_IPADDR_V4);
  /* Truncated. */
  ck_assert_int_eq(ep_netinfo_parse(odd, 3, &out, &e), EP_ERR_TRUNCATED);
  ck_assert_int_eq(ep_netinfo_parse(odd, 10, &out, &e), EP_ERR_TRUNCATED);
  ck_assert_int_eq(ep_netinfo_parse(odd, 22, &out, &e), EP_ERR_TRUNCATED);
  ck_assert_int_eq(ep_netinfo_parse(odd, sizeof odd - 1, &out, &e), EP_ERR_TRUNCATED);
}
END_TEST

/* ---- The channel's handshake ---- */

static ep_channel_t *new_channel(const lf_identity_t *id) {
  ep_target_t t = lf_target(id, 0x7f000001, 5000);
  ep_err_t e = {0};
  ep_channel_t *ch = ep_channel_new(&t, &e);
  ck_assert_ptr_nonnull(ch);
  return ch;
}

/* The next event must be CHAN_CLOSED whose message holds `what`. */
static void expect_closed(ep_channel_t *ch, int status, const char *what) {
  ep_event_t ev;
  ck_assert(ep_channel_next_event(ch, &ev));
  ck_assert_msg(ev.type == EP_EV_CHAN_CLOSED, "got %s", ep_event_type_name(ev.type));
  ck_assert_int_eq(ev.status, status);
  ck_assert_msg(strstr(ev.msg, what) != NULL, "'%s' not in '%s'", what, ev.msg);
  ck_assert(!ep_channel_next_event(ch, &ev));
  ck_assert_int_eq(ep_channel_state(ch), EP_CHAN_FAILED);
  ck_assert_ptr_nonnull(ep_channel_error(ch));
  uint32_t id;
  ep_err_t e = {0};
  ck_assert_int_eq(ep_channel_circ_create(ch, EP_CREATE_NTOR, &id, &e), EP_ERR_STATE);
}

START_TEST(channel_handshake_each_link_protocol) {
  for (int proto = 3; proto <= 5; proto++) {
    ep_channel_t *ch = new_channel(relay_a);
    ck_assert_int_eq(lf_open_channel(ch, relay_a, proto, NOW), proto);
    const ep_channel_info_t *info = ep_channel_info(ch);
    ck_assert_int_eq(info->linkproto, proto);
    ck_assert_int_eq(info->clock_skew, 5);
    ck_assert_uint_eq(info->our_addr.family, EP_IPADDR_V4);
    ck_assert_int_eq(memcmp(info->our_addr.bytes, "\x0a\0\0\x02", 4), 0);
    ck_assert_uint_eq(info->n_peer_addrs, 1);
    ck_assert_int_eq(memcmp(info->proven.ed25519_id, relay_a->ed_pk, 32), 0);
    ck_assert_int_eq(ep_channel_state(ch), EP_CHAN_OPEN);
    ck_assert_ptr_null(ep_channel_error(ch));
    /* Circuit ids follow the negotiated width, with the high bit set. */
    uint32_t id;
    ep_err_t e = {0};
    ck_assert_int_eq(ep_channel_circ_create(ch, EP_CREATE_NTOR, &id, &e), EP_OK);
    ck_assert_uint_eq(id & (proto >= 4 ? 0x80000000u : 0x8000u), proto >= 4 ? 0x80000000u : 0x8000u);
    if (proto == 3) {
      ck_assert_uint_le(id, 0xffff);
    }
    ep_cell_t cell;
    ck_assert(lf_take_cell(ch, proto, &cell, storage));
    ck_assert_uint_eq(cell.command, EP_CELL_CREATE2);
    ck_assert_uint_eq(cell.circ_id, id);
    ep_channel_free(ch);
  }
}
END_TEST

START_TEST(channel_sends_our_netinfo) {
  ep_channel_t *ch = new_channel(relay_a);
  ep_err_t e = {0};
  ck_assert_int_eq(ep_channel_start(ch, relay_a->tls_cert, relay_a->tls_cert_len, NOW, &e), EP_OK);
  ck_assert_int_eq(ep_channel_start(ch, relay_a->tls_cert, relay_a->tls_cert_len, NOW, &e),
                   EP_ERR_STATE);
  size_t len;
  const uint8_t *out = ep_channel_out(ch, &len);
  const uint8_t versions[] = {0, 0, 7, 0, 6, 0, 3, 0, 4, 0, 5};
  ck_assert_uint_eq(len, sizeof versions);
  ck_assert_int_eq(memcmp(out, versions, sizeof versions), 0);
  ep_channel_out_consume(ch, len);
  ep_channel_free(ch);

  ch = new_channel(relay_a);
  lf_open_channel(ch, relay_a, 5, NOW);
  ep_channel_free(ch);
}
END_TEST

START_TEST(channel_rejects_flipped_certs_and_wrong_identity) {
  /* CERTS with a flipped signature bit. */
  ep_channel_t *ch = new_channel(relay_a);
  ep_err_t e = {0};
  ck_assert_int_eq(ep_channel_start(ch, relay_a->tls_cert, relay_a->tls_cert_len, NOW, &e), EP_OK);
  const uint8_t v[] = {0, 4, 0, 5};
  lf_feed_cell(ch, 0, 0, EP_CELL_VERSIONS, v, sizeof v, NOW);
  size_t len = lf_certs_payload(relay_a, LF_CERTS_FLIP_SIG4, payload, sizeof payload);
  lf_feed_cell(ch, 5, 0, EP_CELL_CERTS, payload, len, NOW);
  expect_closed(ch, EP_ERR_VERIFY, "bad signature");
  ep_channel_free(ch);

  /* We dial A, B answers (a valid chain of its own). */
  ch = new_channel(relay_a);
  ck_assert_int_eq(ep_channel_start(ch, relay_b->tls_cert, relay_b->tls_cert_len, NOW, &e), EP_OK);
  lf_feed_cell(ch, 0, 0, EP_CELL_VERSIONS, v, sizeof v, NOW);
  len = lf_certs_payload(relay_b, 0, payload, sizeof payload);
  lf_feed_cell(ch, 5, 0, EP_CELL_CERTS, payload, len, NOW);
  expect_closed(ch, EP_ERR_VERIFY, "identity mismatch: wanted");
  ep_channel_free(ch);
}
END_TEST

START_TEST(channel_rejects_bad_handshakes) {
  ep_err_t e = {0};
  const uint8_t v[] = {0, 4, 0, 5};
  /* No common version. */
  ep_channel_t *ch = new_channel(relay_a);
  ck_assert_int_eq(ep_channel_start(ch, relay_a->tls_cert, relay_a->tls_cert_len, NOW, &e), EP_OK);
  const uint8_t old[] = {0, 1, 0, 2};
  lf_feed_cell(ch, 0, 0, EP_CELL_VERSIONS, old, sizeof old, NOW);
  expect_closed(ch, EP_ERR_UNSUPPORTED, "no common link protocol (relay offers [1,2]");
  ck_assert_int_eq(ep_channel_feed(ch, v, 1, NOW, &e), EP_ERR_STATE);
  ep_channel_free(ch);

  /* An odd-length VERSIONS. */
  ch = new_channel(relay_a);
  ck_assert_int_eq(ep_channel_start(ch, relay_a->tls_cert, relay_a->tls_cert_len, NOW, &e), EP_OK);
  lf_feed_cell(ch, 0, 0, EP_CELL_VERSIONS, v, 3, NOW);
  expect_closed(ch, EP_ERR_MALFORMED, "odd length");
  ep_channel_free(ch);

  /* A cell other than VERSIONS first. */
  ch = new_channel(relay_a);
  ck_assert_int_eq(ep_channel_start(ch, relay_a->tls_cert, relay_a->tls_cert_len, NOW, &e), EP_OK);
  lf_feed_cell(ch, 0, 0, EP_CELL_NETINFO, payload, 20, NOW);
  expect_closed(ch, EP_ERR_STATE, "netinfo cell while wait-versions");
  ep_channel_free(ch);

  /* NETINFO before CERTS. */
  ch = new_channel(relay_a);
  ck_assert_int_eq(ep_channel_start(ch, relay_a->tls_cert, relay_a->tls_cert_len, NOW, &e), EP_OK);
  lf_feed_cell(ch, 0, 0, EP_CELL_VERSIONS, v, sizeof v, NOW);
  memset(payload, 0, EP_CELL_PAYLOAD_LEN);
  lf_feed_cell(ch, 5, 0, EP_CELL_NETINFO, payload, EP_CELL_PAYLOAD_LEN, NOW);
  expect_closed(ch, EP_ERR_STATE, "netinfo cell while wait-certs");
  ep_channel_free(ch);

  /* Endless VPADDING. */
  ch = new_channel(relay_a);
  ck_assert_int_eq(ep_channel_start(ch, relay_a->tls_cert, relay_a->tls_cert_len, NOW, &e), EP_OK);
  for (unsigned i = 0; i <= EP_CAP_VPADDING_CELLS; i++) {
    lf_feed_cell(ch, 0, 0, EP_CELL_VPADDING, payload, 3, NOW);
  }
  expect_closed(ch, EP_ERR_LIMIT, "VPADDING");
  ep_channel_free(ch);

  /* A variable cell over its cap, refused from its header. */
  ch = new_channel(relay_a);
  ck_assert_int_eq(ep_channel_start(ch, relay_a->tls_cert, relay_a->tls_cert_len, NOW, &e), EP_OK);
  const uint8_t huge[] = {0, 0, EP_CELL_VERSIONS, 0x40, 0x00};
  ck_assert_int_eq(ep_channel_feed(ch, huge, sizeof huge, NOW, &e), EP_OK);
  expect_closed(ch, EP_ERR_LIMIT, "over the cap");
  ep_channel_free(ch);

  /* Bytes before start; the input cap. */
  ch = new_channel(relay_a);
  ck_assert_int_eq(ep_channel_feed(ch, v, 1, NOW, &e), EP_ERR_STATE);
  ep_event_t ev;
  ck_assert(!ep_channel_next_event(ch, &ev));
  ck_assert_int_eq(ep_channel_start(ch, relay_a->tls_cert, relay_a->tls_cert_len, NOW, &e), EP_OK);
  const uint8_t vp_hdr[] = {0, 0, EP_CELL_VPADDING, 0xff, 0xff};
  ck_assert_int_eq(ep_channel_feed(ch, vp_hdr, sizeof vp_hdr, NOW, &e), EP_OK);
  static uint8_t chunk[64 * 1024];
  int rc = EP_OK;
  for (int i = 0; i < 8 && rc == EP_OK; i++) {
    rc = ep_channel_feed(ch, chunk, sizeof chunk, NOW, &e);
  }
  ck_assert_int_eq(rc, EP_ERR_LIMIT);
  expect_closed(ch, EP_ERR_LIMIT, "input buffer full");
  ep_channel_free(ch);
}
END_TEST

START_TEST(channel_tolerates_padding_and_optional_auth_challenge) {
  ep_err_t e = {0};
  ep_channel_t *ch = new_channel(relay_a);
  ck_assert_int_eq(ep_channel_start(ch, relay_a->tls_cert, relay_a->tls_cert_len, NOW, &e), EP_OK);
  lf_feed_cell(ch, 0, 0, EP_CELL_VPADDING, payload, 0, NOW);
  const uint8_t v[] = {0, 3, 0, 4};
  lf_feed_cell(ch, 0, 0, EP_CELL_VERSIONS, v, sizeof v, NOW);
  lf_feed_cell(ch, 4, 0, EP_CELL_VPADDING, payload, 17, NOW);
  size_t len = lf_certs_payload(relay_a, 0, payload, sizeof payload);
  lf_feed_cell(ch, 4, 0, EP_CELL_CERTS, payload, len, NOW);
  /* No AUTH_CHALLENGE: NETINFO straight after CERTS, with time 0. */
  ep_netinfo_t ni;
  memset(&ni, 0, sizeof ni);
  uint8_t cellp[EP_CELL_PAYLOAD_LEN];
  ck_assert_int_eq(ep_netinfo_encode(cellp, &ni, &e), EP_OK);
  lf_feed_cell(ch, 4, 0, EP_CELL_NETINFO, cellp, sizeof cellp, NOW);
  /* Fed in pieces: PADDING and a second VERSIONS after open are ignored. */
  lf_feed_cell(ch, 4, 0, EP_CELL_PADDING, NULL, 0, NOW);
  lf_feed_cell(ch, 4, 0, EP_CELL_VERSIONS, v, sizeof v, NOW);
  ep_event_t ev;
  ck_assert(ep_channel_next_event(ch, &ev));
  ck_assert_int_eq(ev.type, EP_EV_CHAN_OPEN);
  ck_assert(!ep_channel_next_event(ch, &ev));
  ck_assert_int_eq(ep_channel_info(ch)->linkproto, 4);
  ck_assert_int_eq(ep_channel_info(ch)->clock_skew, 0);
  ck_assert_uint_eq(ep_channel_info(ch)->our_addr.family, EP_IPADDR_NONE);
  /* Our NETINFO: time 0, the relay's address as we dialled it, no addresses. */
  ep_cell_t cell;
  ck_assert(lf_take_cell(ch, 0, &cell, storage));   /* our VERSIONS */
  ck_assert(lf_take_cell(ch, 4, &cell, storage));
  ck_assert_uint_eq(cell.command, EP_CELL_NETINFO);
  ck_assert_int_eq(ep_netinfo_parse(cell.payload, cell.payload_len, &ni, &e), EP_OK);
  ck_assert_uint_eq(ni.timestamp, 0);
  ck_assert_int_eq(memcmp(ni.other.bytes, "\x7f\0\0\x01", 4), 0);
  ck_assert_uint_eq(ni.n_my, 0);
  /* A NETINFO after open is a protocol violation. */
  lf_feed_cell(ch, 4, 0, EP_CELL_NETINFO, cellp, sizeof cellp, NOW);
  expect_closed(ch, EP_ERR_STATE, "after the handshake");
  ep_channel_free(ch);
}
END_TEST

START_TEST(channel_feed_byte_by_byte) {
  /* The whole handshake, delivered one byte at a time. */
  ep_err_t e = {0};
  ep_channel_t *ch = new_channel(relay_a);
  ck_assert_int_eq(ep_channel_start(ch, relay_a->tls_cert, relay_a->tls_cert_len, NOW, &e), EP_OK);
  static uint8_t stream[8192];
  size_t n = 0;
  const uint8_t v[] = {0, 5};
  ssize_t k = ep_cell_encode(stream, sizeof stream, 0, 0, EP_CELL_VERSIONS, v, 2, &e);
  n += (size_t)k;
  size_t len = lf_certs_payload(relay_a, 0, payload, sizeof payload);
  n += (size_t)ep_cell_encode(stream + n, sizeof stream - n, 5, 0, EP_CELL_CERTS, payload, len, &e);
  uint8_t cellp[EP_CELL_PAYLOAD_LEN] = {0};
  n += (size_t)ep_cell_encode(stream + n, sizeof stream - n, 5, 0, EP_CELL_NETINFO, cellp,
                              sizeof cellp, &e);
  ep_event_t ev;
  size_t opened = 0;
  for (size_t i = 0; i < n; i++) {
    ck_assert_int_eq(ep_channel_feed(ch, stream + i, 1, NOW, &e), EP_OK);
    while (ep_channel_next_event(ch, &ev)) {
      ck_assert_int_eq(ev.type, EP_EV_CHAN_OPEN);
      opened = i + 1;
    }
  }
  ck_assert_uint_eq(opened, n);
  ep_channel_free(ch);
}
END_TEST

/* ---- A real tor 0.4.9.11 relay's handshake (tests/data/link/) ---- */

typedef struct recorded {
  uint8_t *bytes, *tls;
  size_t len, tls_len;
  time_t now;
  ep_target_t target;
} recorded_t;

static void load_recorded(recorded_t *r) {
  r->bytes = tu_read_data("link/tor-0.4.9.11-responder.bin", &r->len);
  r->tls = tu_read_data("link/tor-0.4.9.11-tls-cert.der", &r->tls_len);
  ep_json_t *j = tu_read_json("link/tor-0.4.9.11-responder.json");
  int64_t now = 0;
  ck_assert(ep_json_int(ep_json_get(j, "now"), &now));
  r->now = (time_t)now;
  memset(&r->target, 0, sizeof r->target);
  r->target.ipv4 = 0x7f000001;
  r->target.or_port = 15001;
  size_t n;
  uint8_t *rsa = tu_hex_member(j, "rsa_id", &n);
  ck_assert_uint_eq(n, 20);
  memcpy(r->target.rsa_id, rsa, 20);
  uint8_t *ed = tu_hex_member(j, "ed25519_id", &n);
  ck_assert_uint_eq(n, 32);
  memcpy(r->target.ed25519_id, ed, 32);
  r->target.has_ed25519 = true;
  free(rsa);
  free(ed);
  ep_json_free(j);
}

static void free_recorded(recorded_t *r) {
  free(r->bytes);
  free(r->tls);
}

/* Feed the recorded responder bytes; return the first event. */
static ep_event_t replay(const recorded_t *r, const ep_target_t *t, const uint8_t *bytes,
                         time_t now) {
  ep_err_t e = {0};
  ep_channel_t *ch = ep_channel_new(t, &e);
  ck_assert_int_eq(ep_channel_start(ch, r->tls, r->tls_len, now, &e), EP_OK);
  ck_assert_int_eq(ep_channel_feed(ch, bytes, r->len, now, &e), EP_OK);
  ep_event_t ev;
  ck_assert(ep_channel_next_event(ch, &ev));
  if (ev.type == EP_EV_CHAN_OPEN) {
    const ep_channel_info_t *info = ep_channel_info(ch);
    ck_assert_int_eq(info->linkproto, 5);
    ck_assert_int_eq(memcmp(info->proven.rsa_id, r->target.rsa_id, 20), 0);
    ck_assert_int_eq(memcmp(info->proven.ed25519_id, r->target.ed25519_id, 32), 0);
    ck_assert_uint_eq(info->our_addr.family, EP_IPADDR_V4);
    ck_assert_uint_eq(info->n_peer_addrs, 1);
  }
  ep_channel_free(ch);
  return ev;
}

START_TEST(real_tor_handshake_verifies) {
  recorded_t r;
  load_recorded(&r);
  ep_event_t ev = replay(&r, &r.target, r.bytes, r.now);
  ck_assert_msg(ev.type == EP_EV_CHAN_OPEN, "%s: %s", ep_event_type_name(ev.type), ev.msg);
  /* Without knowing the Ed25519 id. */
  ep_target_t t = r.target;
  t.has_ed25519 = false;
  ev = replay(&r, &t, r.bytes, r.now);
  ck_assert_int_eq(ev.type, EP_EV_CHAN_OPEN);
  free_recorded(&r);
}
END_TEST

START_TEST(real_tor_handshake_negative) {
  recorded_t r;
  load_recorded(&r);
  /* Another relay's identity. */
  ep_target_t t = r.target;
  memcpy(t.rsa_id, relay_a->rsa_id, 20);
  ep_event_t ev = replay(&r, &t, r.bytes, r.now);
  ck_assert_int_eq(ev.type, EP_EV_CHAN_CLOSED);
  ck_assert_ptr_nonnull(strstr(ev.msg, "RSA identity mismatch: wanted"));
  t = r.target;
  memcpy(t.ed25519_id, relay_a->ed_pk, 32);
  ev = replay(&r, &t, r.bytes, r.now);
  ck_assert_ptr_nonnull(strstr(ev.msg, "Ed25519 identity mismatch: wanted"));
  /* Every certificate's last byte (inside each signature), flipped. */
  const size_t certs_off = 11 + 7;   /* VERSIONS cell, then the CERTS header */
  ep_certs_t c;
  ep_err_t e = {0};
  ck_assert_int_eq(ep_certs_parse(r.bytes + certs_off, 1459, &c, &e), EP_OK);
  ck_assert_uint_eq(c.n, 5);
  for (size_t i = 0; i < c.n; i++) {
    if (c.e[i].type == EP_CERTS_RSA_LINK) {
      continue;   /* not checked: the type-5 cert binds the TLS certificate */
    }
    size_t at = (size_t)(c.e[i].body - r.bytes) + c.e[i].len - 2;
    uint8_t *copy = malloc(r.len);
    memcpy(copy, r.bytes, r.len);
    copy[at] ^= 0x01;
    ev = replay(&r, &r.target, copy, r.now);
    ck_assert_msg(ev.type == EP_EV_CHAN_CLOSED && ev.status == EP_ERR_VERIFY,
                  "cert type %u: %s %s", c.e[i].type, ep_event_type_name(ev.type), ev.msg);
    free(copy);
  }
  /* A year later everything has expired. */
  ev = replay(&r, &r.target, r.bytes, r.now + 400 * 86400);
  ck_assert_int_eq(ev.type, EP_EV_CHAN_CLOSED);
  ck_assert_int_eq(ev.status, EP_ERR_EXPIRED);
  free_recorded(&r);
}
END_TEST

static Suite *linkhs_suite(void) {
  Suite *s = suite_create("linkhs");
  TCase *tc = tcase_create("core");
  tcase_add_unchecked_fixture(tc, setup, teardown);   /* keys made once */
  tcase_add_test(tc, versions_round_trip_and_choice);
  tcase_add_test(tc, certs_round_trip_and_malformed);
  tcase_add_test(tc, certs_verify_good_chain);
  tcase_add_test(tc, certs_verify_flipped_signature_bits);
  tcase_add_test(tc, certs_verify_missing_certs);
  tcase_add_test(tc, certs_verify_identity_mismatch);
  tcase_add_test(tc, certs_verify_expiry);
  tcase_add_test(tc, x509_key_size_is_checked);
  tcase_add_test(tc, auth_challenge_round_trip);
  tcase_add_test(tc, netinfo_round_trip_and_odd_addresses);
  tcase_add_test(tc, channel_handshake_each_link_protocol);
  tcase_add_test(tc, channel_sends_our_netinfo);
  tcase_add_test(tc, channel_rejects_flipped_certs_and_wrong_identity);
  tcase_add_test(tc, channel_rejects_bad_handshakes);
  tcase_add_test(tc, channel_tolerates_padding_and_optional_auth_challenge);
  tcase_add_test(tc, channel_feed_byte_by_byte);
  tcase_add_test(tc, real_tor_handshake_verifies);
  tcase_add_test(tc, real_tor_handshake_negative);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_suite(linkhs_suite()); }
