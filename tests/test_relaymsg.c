/* exitprobe — unit tests of relay messages and link specifiers
 * (src/proto/relaymsg.c, src/proto/linkspec.c). */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lib/reader.h"
#include "proto/linkspec.h"
#include "proto/relaymsg.h"
#include "proto/rngpool.h"
#include "testutil.h"

static uint8_t buf[EP_RELAY_PAYLOAD_MAX];

/* Encode m, parse it back in ctx into out. */
static void encode_parse(const ep_relay_msg_t *m, ep_relay_ctx_t ctx, ep_relay_msg_t *out,
                         size_t *len) {
  ep_err_t e = {0};
  ck_assert_msg(ep_relay_msg_encode(m, buf, sizeof buf, len, &e) == EP_OK, "encode: %s", e.msg);
  int rc = ep_relay_msg_parse(ctx, m->command, m->stream_id, buf, *len, out, &e);
  ck_assert_msg(rc == EP_OK, "parse %s: %s", ep_relay_command_name(m->command), e.msg);
  ck_assert_uint_eq(out->command, m->command);
  ck_assert_uint_eq(out->stream_id, m->stream_id);
}

static int parse_bytes(ep_relay_ctx_t ctx, uint8_t cmd, uint16_t sid, const void *p, size_t n,
                       ep_relay_msg_t *out) {
  ep_err_t e = {0};
  return ep_relay_msg_parse(ctx, cmd, sid, p, n, out, &e);
}

START_TEST(header_and_body_build) {
  uint8_t body[EP_CELL_PAYLOAD_LEN];
  const uint8_t data[5] = {'h', 'e', 'l', 'l', 'o'};
  ep_err_t e = {0};
  ck_assert_int_eq(ep_relay_body_build(body, EP_RELAY_DATA, 0x1234, data, 5, &e), EP_OK);
  ck_assert_uint_eq(body[0], EP_RELAY_DATA);
  ck_assert_uint_eq(body[1] | body[2], 0);                     /* recognized */
  ck_assert_uint_eq(body[3], 0x12);
  ck_assert_uint_eq(body[4], 0x34);
  ck_assert_uint_eq(body[5] | body[6] | body[7] | body[8], 0); /* digest */
  ck_assert_uint_eq(body[9], 0);
  ck_assert_uint_eq(body[10], 5);
  ck_assert_uint_eq(body[16] | body[17] | body[18] | body[19], 0);  /* four zero pad bytes */
  ep_relay_hdr_t h;
  const uint8_t *p;
  ck_assert_int_eq(ep_relay_hdr_parse(body, &h, &p, &e), EP_OK);
  ck_assert_uint_eq(h.command, EP_RELAY_DATA);
  ck_assert_uint_eq(h.stream_id, 0x1234);
  ck_assert_uint_eq(h.length, 5);
  ck_assert_int_eq(memcmp(p, "hello", 5), 0);
  /* Full 498 bytes and then one too many. */
  uint8_t full[EP_RELAY_PAYLOAD_MAX + 1];
  memset(full, 0xab, sizeof full);
  ck_assert_int_eq(ep_relay_body_build(body, EP_RELAY_DATA, 1, full, 498, &e), EP_OK);
  ck_assert_int_eq(ep_relay_hdr_parse(body, &h, &p, &e), EP_OK);
  ck_assert_uint_eq(h.length, 498);
  ck_assert_int_eq(ep_relay_body_build(body, EP_RELAY_DATA, 1, full, 499, &e), EP_ERR_LIMIT);
  body[9] = 0x01;
  body[10] = 0xf3;   /* 499 */
  ck_assert_int_eq(ep_relay_hdr_parse(body, &h, &p, &e), EP_ERR_MALFORMED);
}
END_TEST

/* A counting source: byte i of its output is (start + i) mod 256. */
typedef struct count_src {
  uint8_t next;
  size_t calls, bytes;
} count_src_t;

static void count_fn(void *ctx, void *out, size_t n) {
  count_src_t *c = ctx;
  uint8_t *o = out;
  for (size_t i = 0; i < n; i++) {
    o[i] = c->next++;
  }
  c->calls++;
  c->bytes += n;
}

START_TEST(body_padding_comes_from_the_given_source) {
  uint8_t body[EP_CELL_PAYLOAD_LEN];
  ep_err_t e = {0};
  count_src_t src = {0x10, 0, 0};
  ck_assert_int_eq(ep_relay_body_build_rand(body, EP_RELAY_BEGIN, 7, (const uint8_t *)"ab", 2,
                                            count_fn, &src, &e),
                   EP_OK);
  /* 498 - 2 bytes of padding: 4 zeros, then 492 from the source, in order. */
  ck_assert_uint_eq(src.calls, 1);
  ck_assert_uint_eq(src.bytes, EP_RELAY_PAYLOAD_MAX - 2 - 4);
  size_t off = EP_RELAY_HEADER_LEN + 2;
  ck_assert_uint_eq(body[off] | body[off + 1] | body[off + 2] | body[off + 3], 0);
  for (size_t i = off + 4; i < EP_CELL_PAYLOAD_LEN; i++) {
    ck_assert_uint_eq(body[i], (uint8_t)(0x10 + (i - off - 4)));
  }
  /* A full message has no padding to draw. */
  uint8_t full[EP_RELAY_PAYLOAD_MAX];
  memset(full, 0xcd, sizeof full);
  ck_assert_int_eq(ep_relay_body_build_rand(body, EP_RELAY_DATA, 1, full, sizeof full, count_fn,
                                            &src, &e),
                   EP_OK);
  ck_assert_uint_eq(src.calls, 1);
}
END_TEST

START_TEST(rng_pool_hands_out_each_byte_once) {
  ep_rng_pool_t *p = malloc(sizeof *p);
  ck_assert_ptr_nonnull(p);
  ep_rng_pool_init(p);
  /* Served in pieces across refills: no two 32-byte draws alike, and what
   * was handed out is wiped from the pool. */
  enum { DRAWS = 3 * EP_RNG_POOL_LEN / 32 + 5 };
  static uint8_t got[DRAWS][32];
  for (size_t i = 0; i < DRAWS; i++) {
    size_t before = p->pos < EP_RNG_POOL_LEN ? p->pos : 0;
    ep_rng_pool_bytes(p, got[i], 32);
    static const uint8_t zero[32];
    if (p->pos >= 32 && before + 32 == p->pos) {
      ck_assert_int_eq(memcmp(p->buf + before, zero, 32), 0);
    }
    for (size_t j = 0; j < i; j++) {
      ck_assert(memcmp(got[i], got[j], 32) != 0);
    }
  }
  /* Odd sizes straddle a refill; large ones bypass the pool. */
  uint8_t odd[EP_RNG_POOL_LEN / 2];
  for (int k = 0; k < 20; k++) {
    ep_rng_pool_bytes(p, odd, 333);
    ck_assert_uint_le(p->pos, EP_RNG_POOL_LEN);
  }
  size_t pos = p->pos;
  uint8_t big[EP_RNG_POOL_LEN + 1];
  memset(big, 0, sizeof big);
  ep_rng_pool_bytes(p, big, sizeof big);
  ck_assert_uint_eq(p->pos, pos);
  size_t zeros = 0;
  for (size_t i = 0; i < sizeof big; i++) {
    zeros += big[i] == 0;
  }
  ck_assert_uint_lt(zeros, 64);  /* ~16 expected from random bytes */
  ep_rng_pool_bytes(p, odd, 0);
  ck_assert_uint_eq(p->pos, pos);
  ep_rng_pool_wipe(p);
  ck_assert_uint_eq(p->pos, EP_RNG_POOL_LEN);
  for (size_t i = 0; i < EP_RNG_POOL_LEN; i++) {
    ck_assert_uint_eq(p->buf[i], 0);
  }
  free(p);
}
END_TEST

START_TEST(begin_round_trip_and_flags) {
  ep_relay_msg_t m, out;
  size_t len;
  ep_err_t e = {0};
  ck_assert_int_eq(ep_relay_msg_begin(&m, 7, "192.0.2.10", 25, 0, &e), EP_OK);
  encode_parse(&m, EP_RELAY_CTX_RELAY, &out, &len);
  ck_assert_uint_eq(len, strlen("192.0.2.10:25") + 1);   /* no flags when zero, as tor */
  ck_assert_str_eq(out.u.begin.host, "192.0.2.10");
  ck_assert_uint_eq(out.u.begin.port, 25);
  ck_assert(!out.u.begin.has_flags);
  ck_assert_int_eq(ep_relay_msg_begin(&m, 8, "[2001:db8::1]", 443,
                                      EP_BEGIN_FLAG_IPV6_OK | EP_BEGIN_FLAG_IPV6_PREFERRED, &e),
                   EP_OK);
  encode_parse(&m, EP_RELAY_CTX_RELAY, &out, &len);
  ck_assert_str_eq(out.u.begin.host, "[2001:db8::1]");
  ck_assert_uint_eq(out.u.begin.port, 443);
  ck_assert(out.u.begin.has_flags);
  ck_assert_uint_eq(out.u.begin.flags, 5);
  ck_assert_uint_eq(buf[len - 1], 5);
  ck_assert_int_eq(ep_relay_msg_begin(&m, 8, "example.com", 65535, 0, &e), EP_OK);
  encode_parse(&m, EP_RELAY_CTX_RELAY, &out, &len);
  ck_assert_str_eq(out.u.begin.host, "example.com");
  ck_assert_uint_eq(out.u.begin.port, 65535);
  /* Hosts we refuse to encode. */
  ck_assert_int_eq(ep_relay_msg_begin(&m, 8, "2001:db8::1", 80, 0, &e), EP_ERR_MALFORMED);
  ck_assert_int_eq(ep_relay_msg_begin(&m, 8, "", 80, 0, &e), EP_ERR_MALFORMED);
  char longhost[300];
  memset(longhost, 'a', sizeof longhost - 1);
  longhost[sizeof longhost - 1] = 0;
  ck_assert_int_eq(ep_relay_msg_begin(&m, 8, longhost, 80, 0, &e), EP_ERR_LIMIT);
}
END_TEST

START_TEST(begin_parse_rejects_bad_addresses) {
  ep_relay_msg_t out;
  const ep_relay_ctx_t R = EP_RELAY_CTX_RELAY;
  ck_assert_int_eq(parse_bytes(R, EP_RELAY_BEGIN, 1, "1.2.3.4:80", 10, &out), EP_ERR_MALFORMED);
  ck_assert_int_eq(parse_bytes(R, EP_RELAY_BEGIN, 1, "1.2.3.4\0", 8, &out), EP_ERR_MALFORMED);
  ck_assert_int_eq(parse_bytes(R, EP_RELAY_BEGIN, 1, "1.2.3.4:0\0", 10, &out), EP_ERR_MALFORMED);
  ck_assert_int_eq(parse_bytes(R, EP_RELAY_BEGIN, 1, "1.2.3.4:65536\0", 14, &out),
                   EP_ERR_MALFORMED);
  ck_assert_int_eq(parse_bytes(R, EP_RELAY_BEGIN, 1, "1.2.3.4:8x\0", 11, &out), EP_ERR_MALFORMED);
  ck_assert_int_eq(parse_bytes(R, EP_RELAY_BEGIN, 1, ":80\0", 4, &out), EP_ERR_MALFORMED);
  ck_assert_int_eq(parse_bytes(R, EP_RELAY_BEGIN, 1, "::1:80\0", 7, &out), EP_ERR_MALFORMED);
  ck_assert_int_eq(parse_bytes(R, EP_RELAY_BEGIN, 1, "", 0, &out), EP_ERR_MALFORMED);
  ck_assert_int_eq(parse_bytes(R, EP_RELAY_BEGIN, 0, "a:1\0", 4, &out), EP_ERR_MALFORMED);
  /* Upper case is accepted; a short flags field is ignored. */
  ck_assert_int_eq(parse_bytes(R, EP_RELAY_BEGIN, 1, "EXAMPLE.ORG:80\0\0\0", 17, &out), EP_OK);
  ck_assert_str_eq(out.u.begin.host, "EXAMPLE.ORG");
  ck_assert(!out.u.begin.has_flags);
}
END_TEST

START_TEST(connected_forms) {
  ep_relay_msg_t m, out;
  size_t len;
  const ep_relay_ctx_t C = EP_RELAY_CTX_CLIENT;
  memset(&m, 0, sizeof m);
  m.command = EP_RELAY_CONNECTED;
  m.stream_id = 3;
  /* Empty (BEGIN_DIR). */
  encode_parse(&m, C, &out, &len);
  ck_assert_uint_eq(len, 0);
  ck_assert(!out.u.connected.has_addr);
  /* IPv4 + TTL. */
  m.u.connected.has_addr = true;
  m.u.connected.addr.family = EP_IPADDR_V4;
  memcpy(m.u.connected.addr.bytes, "\xc0\x00\x02\x0a", 4);
  m.u.connected.has_ttl = true;
  m.u.connected.ttl = 300;
  encode_parse(&m, C, &out, &len);
  ck_assert_uint_eq(len, 8);
  ck_assert(out.u.connected.has_addr && out.u.connected.has_ttl);
  ck_assert_uint_eq(out.u.connected.addr.family, EP_IPADDR_V4);
  ck_assert_int_eq(memcmp(out.u.connected.addr.bytes, "\xc0\x00\x02\x0a", 4), 0);
  ck_assert_uint_eq(out.u.connected.ttl, 300);
  char txt[64];
  ck_assert_str_eq(ep_ipaddr_format(txt, sizeof txt, &out.u.connected.addr), "192.0.2.10");
  /* IPv4 without TTL. */
  m.u.connected.has_ttl = false;
  encode_parse(&m, C, &out, &len);
  ck_assert_uint_eq(len, 4);
  ck_assert(!out.u.connected.has_ttl);
  /* IPv6 form. */
  m.u.connected.addr.family = EP_IPADDR_V6;
  memcpy(m.u.connected.addr.bytes, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
  m.u.connected.has_ttl = true;
  m.u.connected.ttl = 60;
  encode_parse(&m, C, &out, &len);
  ck_assert_uint_eq(len, 25);
  ck_assert_uint_eq(out.u.connected.addr.family, EP_IPADDR_V6);
  ck_assert_uint_eq(out.u.connected.ttl, 60);
  ck_assert_str_eq(ep_ipaddr_format(txt, sizeof txt, &out.u.connected.addr), "2001:db8::1");
  /* Broken forms. */
  ck_assert_int_eq(parse_bytes(C, EP_RELAY_CONNECTED, 3, "\x01\x02\x03", 3, &out),
                   EP_ERR_TRUNCATED);
  ck_assert_int_eq(parse_bytes(C, EP_RELAY_CONNECTED, 3, "\0\0\0\0\x04", 5, &out),
                   EP_ERR_MALFORMED);
  ck_assert_int_eq(parse_bytes(C, EP_RELAY_CONNECTED, 3, "\0\0\0\0\x06\x20\x01", 7, &out),
                   EP_ERR_TRUNCATED);
  ck_assert_int_eq(parse_bytes(C, EP_RELAY_CONNECTED, 3, "\0\0\0\0", 4, &out), EP_ERR_TRUNCATED);
}
END_TEST

START_TEST(end_reasons_and_exitpolicy) {
  ep_relay_msg_t m, out;
  size_t len;
  const ep_relay_ctx_t C = EP_RELAY_CTX_CLIENT;
  ep_relay_msg_end(&m, 9, EP_END_CONNECTREFUSED);
  encode_parse(&m, C, &out, &len);
  ck_assert_uint_eq(len, 1);
  ck_assert_uint_eq(out.u.end.reason, EP_END_CONNECTREFUSED);
  ck_assert(!out.u.end.empty && !out.u.end.has_addr);
  /* An empty END means MISC (tor-spec §6.3). */
  ck_assert_int_eq(parse_bytes(C, EP_RELAY_END, 9, "", 0, &out), EP_OK);
  ck_assert_uint_eq(out.u.end.reason, EP_END_MISC);
  ck_assert(out.u.end.empty);
  /* Unknown reasons are kept. */
  ck_assert_int_eq(parse_bytes(C, EP_RELAY_END, 9, "\xc8", 1, &out), EP_OK);
  ck_assert_uint_eq(out.u.end.reason, 200);
  /* EXITPOLICY with IPv4 + TTL, IPv4 alone, IPv6 + TTL, a wrong length. */
  ep_relay_msg_end(&m, 9, EP_END_EXITPOLICY);
  m.u.end.has_addr = true;
  m.u.end.addr.family = EP_IPADDR_V4;
  memcpy(m.u.end.addr.bytes, "\x7f\0\0\x01", 4);
  m.u.end.ttl = 600;
  encode_parse(&m, C, &out, &len);
  ck_assert_uint_eq(len, 9);
  ck_assert(out.u.end.has_addr);
  ck_assert_uint_eq(out.u.end.ttl, 600);
  ck_assert_int_eq(memcmp(out.u.end.addr.bytes, "\x7f\0\0\x01", 4), 0);
  m.u.end.ttl = EP_TTL_ABSENT;
  encode_parse(&m, C, &out, &len);
  ck_assert_uint_eq(len, 5);
  ck_assert(out.u.end.has_addr);
  ck_assert_uint_eq(out.u.end.ttl, EP_TTL_ABSENT);
  m.u.end.addr.family = EP_IPADDR_V6;
  m.u.end.ttl = 7;
  encode_parse(&m, C, &out, &len);
  ck_assert_uint_eq(len, 21);
  ck_assert_uint_eq(out.u.end.addr.family, EP_IPADDR_V6);
  ck_assert_uint_eq(out.u.end.ttl, 7);
  ck_assert_int_eq(parse_bytes(C, EP_RELAY_END, 9, "\x04\x01\x02\x03", 4, &out), EP_OK);
  ck_assert_uint_eq(out.u.end.reason, EP_END_EXITPOLICY);
  ck_assert(!out.u.end.has_addr);   /* wrong length: processed anyway, no address */
  ck_assert_uint_eq(out.u.end.ttl, EP_TTL_ABSENT);
}
END_TEST

START_TEST(end_reason_table) {
  char b[32];
  ck_assert_str_eq(ep_end_reason_name(EP_END_MISC), "misc");
  ck_assert_str_eq(ep_end_reason_name(EP_END_EXITPOLICY), "exitpolicy");
  ck_assert_str_eq(ep_end_reason_name(EP_END_DONE), "done");
  ck_assert_str_eq(ep_end_reason_name(EP_END_INTERNAL), "internal");
  ck_assert_str_eq(ep_end_reason_name(EP_END_TORPROTOCOL), "torprotocol");
  ck_assert_str_eq(ep_end_reason_name(EP_END_NOTDIRECTORY), "notdirectory");
  ck_assert_ptr_null(ep_end_reason_name(0));
  ck_assert_ptr_null(ep_end_reason_name(15));
  ck_assert_str_eq(ep_end_reason_format(b, sizeof b, 12), "connreset");
  ck_assert_str_eq(ep_end_reason_format(b, sizeof b, 99), "reason-99");
  ck_assert_str_eq(ep_relay_command_name(EP_RELAY_EXTENDED2), "extended2");
  ck_assert_ptr_null(ep_relay_command_name(16));
}
END_TEST

START_TEST(data_drop_truncated_begin_dir) {
  ep_relay_msg_t m, out;
  size_t len;
  memset(&m, 0, sizeof m);
  m.command = EP_RELAY_DATA;
  m.stream_id = 4;
  const uint8_t payload[] = "220 smtp.example ESMTP\r\n";
  m.u.data.data = payload;
  m.u.data.len = sizeof payload - 1;
  encode_parse(&m, EP_RELAY_CTX_CLIENT, &out, &len);
  ck_assert_uint_eq(out.u.data.len, sizeof payload - 1);
  ck_assert_int_eq(memcmp(out.u.data.data, payload, out.u.data.len), 0);
  encode_parse(&m, EP_RELAY_CTX_RELAY, &out, &len);
  m.command = EP_RELAY_DROP;
  m.stream_id = 0;
  encode_parse(&m, EP_RELAY_CTX_CLIENT, &out, &len);
  memset(&m, 0, sizeof m);
  m.command = EP_RELAY_TRUNCATED;
  m.u.truncated_reason = EP_DESTROY_CONNECTFAILED;
  encode_parse(&m, EP_RELAY_CTX_CLIENT, &out, &len);
  ck_assert_uint_eq(out.u.truncated_reason, 6);
  ck_assert_int_eq(parse_bytes(EP_RELAY_CTX_CLIENT, EP_RELAY_TRUNCATED, 0, "", 0, &out), EP_OK);
  ck_assert_uint_eq(out.u.truncated_reason, 0);
  memset(&m, 0, sizeof m);
  m.command = EP_RELAY_BEGIN_DIR;
  m.stream_id = 11;
  encode_parse(&m, EP_RELAY_CTX_RELAY, &out, &len);
  ck_assert_uint_eq(len, 0);
}
END_TEST

START_TEST(sendme_versions) {
  ep_relay_msg_t m, out;
  size_t len;
  uint8_t digest[20];
  for (int i = 0; i < 20; i++) {
    digest[i] = (uint8_t)(0xa0 + i);
  }
  ep_relay_msg_sendme_v1(&m, 0, digest);
  encode_parse(&m, EP_RELAY_CTX_CLIENT, &out, &len);
  ck_assert_uint_eq(len, 23);
  ck_assert_uint_eq(buf[0], 1);
  ck_assert_uint_eq(buf[1], 0);
  ck_assert_uint_eq(buf[2], 20);
  ck_assert_uint_eq(out.u.sendme.version, 1);
  ck_assert(out.u.sendme.has_digest);
  ck_assert_int_eq(memcmp(out.u.sendme.digest, digest, 20), 0);
  ep_relay_msg_sendme_v0(&m, 17);
  encode_parse(&m, EP_RELAY_CTX_RELAY, &out, &len);
  ck_assert_uint_eq(len, 0);
  ck_assert(out.u.sendme.empty);
  ck_assert_uint_eq(out.u.sendme.version, 0);
  /* v1 with more than 20 bytes: the first 20 are the digest. */
  uint8_t longer[26] = {1, 0, 23};
  memcpy(longer + 3, digest, 20);
  ck_assert_int_eq(parse_bytes(EP_RELAY_CTX_CLIENT, EP_RELAY_SENDME, 0, longer, 26, &out), EP_OK);
  ck_assert_int_eq(memcmp(out.u.sendme.digest, digest, 20), 0);
  /* v1 with a short digest, a DATA_LEN past the end, a bare version byte. */
  const uint8_t shortv1[] = {1, 0, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  ck_assert_int_eq(parse_bytes(EP_RELAY_CTX_CLIENT, EP_RELAY_SENDME, 0, shortv1, sizeof shortv1,
                               &out),
                   EP_ERR_MALFORMED);
  const uint8_t past[] = {1, 0, 40, 1, 2};
  ck_assert_int_eq(parse_bytes(EP_RELAY_CTX_CLIENT, EP_RELAY_SENDME, 0, past, sizeof past, &out),
                   EP_ERR_TRUNCATED);
  ck_assert_int_eq(parse_bytes(EP_RELAY_CTX_CLIENT, EP_RELAY_SENDME, 0, "\x01", 1, &out),
                   EP_ERR_TRUNCATED);
  /* Unknown versions are kept for the circuit to judge. */
  const uint8_t v7[] = {7, 0, 0};
  ck_assert_int_eq(parse_bytes(EP_RELAY_CTX_CLIENT, EP_RELAY_SENDME, 0, v7, sizeof v7, &out),
                   EP_OK);
  ck_assert_uint_eq(out.u.sendme.version, 7);
}
END_TEST

START_TEST(extend2_extended2_round_trip) {
  ep_target_t t;
  memset(&t, 0, sizeof t);
  t.ipv4 = 0x7f000001;
  t.or_port = 5001;
  memset(t.rsa_id, 0x11, 20);
  t.has_ed25519 = true;
  memset(t.ed25519_id, 0x22, 32);
  t.has_ipv6 = true;
  memset(t.ipv6, 0x33, 16);
  t.ipv6_port = 9001;
  uint8_t lsbuf[EP_LINKSPEC_TARGET_BUF];
  uint8_t onionskin[84];
  memset(onionskin, 0x44, sizeof onionskin);
  ep_relay_msg_t m, out;
  memset(&m, 0, sizeof m);
  m.command = EP_RELAY_EXTEND2;
  ep_linkspecs_from_target(&m.u.extend2.ls, &t, lsbuf);
  ck_assert_uint_eq(m.u.extend2.ls.n, 4);
  /* The recommended order: [00], [02], [03], [01]. */
  ck_assert_uint_eq(m.u.extend2.ls.spec[0].type, EP_LS_IPV4);
  ck_assert_uint_eq(m.u.extend2.ls.spec[1].type, EP_LS_LEGACY_ID);
  ck_assert_uint_eq(m.u.extend2.ls.spec[2].type, EP_LS_ED25519_ID);
  ck_assert_uint_eq(m.u.extend2.ls.spec[3].type, EP_LS_IPV6);
  m.u.extend2.htype = 2;
  m.u.extend2.hlen = 84;
  m.u.extend2.hdata = onionskin;
  size_t len;
  encode_parse(&m, EP_RELAY_CTX_RELAY, &out, &len);
  ck_assert_uint_eq(len, 1 + 8 + 22 + 34 + 20 + 4 + 84);
  ck_assert_uint_eq(out.u.extend2.ls.n, 4);
  uint32_t a;
  uint16_t port;
  ck_assert(ep_linkspec_ipv4(&out.u.extend2.ls.spec[0], &a, &port));
  ck_assert_uint_eq(a, 0x7f000001);
  ck_assert_uint_eq(port, 5001);
  ck_assert(!ep_linkspec_ipv4(&out.u.extend2.ls.spec[1], &a, &port));
  uint8_t a6[16];
  ck_assert(ep_linkspec_ipv6(ep_linkspecs_find(&out.u.extend2.ls, EP_LS_IPV6), a6, &port));
  ck_assert_uint_eq(port, 9001);
  ck_assert_int_eq(memcmp(ep_linkspecs_find(&out.u.extend2.ls, EP_LS_ED25519_ID)->data,
                          t.ed25519_id, 32),
                   0);
  ck_assert_uint_eq(out.u.extend2.htype, 2);
  ck_assert_uint_eq(out.u.extend2.hlen, 84);
  ck_assert_int_eq(memcmp(out.u.extend2.hdata, onionskin, 84), 0);

  /* Without the optional identities. */
  t.has_ed25519 = false;
  t.has_ipv6 = false;
  ep_linkspecs_from_target(&m.u.extend2.ls, &t, lsbuf);
  ck_assert_uint_eq(m.u.extend2.ls.n, 2);
  ck_assert_ptr_null(ep_linkspecs_find(&m.u.extend2.ls, EP_LS_ED25519_ID));

  uint8_t reply[64];
  memset(reply, 0x55, sizeof reply);
  memset(&m, 0, sizeof m);
  m.command = EP_RELAY_EXTENDED2;
  m.u.extended2.hlen = 64;
  m.u.extended2.hdata = reply;
  encode_parse(&m, EP_RELAY_CTX_CLIENT, &out, &len);
  ck_assert_uint_eq(len, 66);
  ck_assert_uint_eq(out.u.extended2.hlen, 64);
  ck_assert_int_eq(memcmp(out.u.extended2.hdata, reply, 64), 0);
  ck_assert_int_eq(parse_bytes(EP_RELAY_CTX_CLIENT, EP_RELAY_EXTENDED2, 0, "\x00\x40\x01", 3,
                               &out),
                   EP_ERR_TRUNCATED);
  ck_assert_int_eq(parse_bytes(EP_RELAY_CTX_CLIENT, EP_RELAY_EXTENDED2, 0, "\x00", 1, &out),
                   EP_ERR_TRUNCATED);
}
END_TEST

/* Read a link specifier list from bytes. */
static int read_ls(const uint8_t *p, size_t n, ep_linkspecs_t *ls, ep_err_t *e) {
  ep_reader_t r;
  ep_reader_init(&r, p, n);
  return ep_linkspecs_read(&r, ls, e);
}

START_TEST(linkspec_bad_lengths_and_unknown_types) {
  ep_linkspecs_t ls;
  ep_err_t e = {0};
  const uint8_t ipv4_short[] = {1, 0, 5, 1, 2, 3, 4, 5};
  ck_assert_int_eq(read_ls(ipv4_short, sizeof ipv4_short, &ls, &e), EP_ERR_MALFORMED);
  ck_assert_ptr_nonnull(strstr(e.msg, "ipv4"));
  ck_assert_ptr_nonnull(strstr(e.msg, "wants 6"));
  uint8_t legacy19[2 + 1 + 19] = {1, 2, 19};
  ck_assert_int_eq(read_ls(legacy19, sizeof legacy19, &ls, &e), EP_ERR_MALFORMED);
  uint8_t ed31[3 + 31] = {1, 3, 31};
  ck_assert_int_eq(read_ls(ed31, sizeof ed31, &ls, &e), EP_ERR_MALFORMED);
  uint8_t v6_17[3 + 17] = {1, 1, 17};
  ck_assert_int_eq(read_ls(v6_17, sizeof v6_17, &ls, &e), EP_ERR_MALFORMED);
  /* Length past the end, no NSPEC, more than we keep. */
  const uint8_t past[] = {1, 0, 6, 1, 2, 3};
  ck_assert_int_eq(read_ls(past, sizeof past, &ls, &e), EP_ERR_TRUNCATED);
  ck_assert_int_eq(read_ls(past, 0, &ls, &e), EP_ERR_TRUNCATED);
  const uint8_t many[] = {17};
  ck_assert_int_eq(read_ls(many, sizeof many, &ls, &e), EP_ERR_LIMIT);
  /* Two legacy identities. */
  uint8_t two[1 + 2 * 22] = {2, 2, 20};
  two[23] = 2;
  two[24] = 20;
  ck_assert_int_eq(read_ls(two, sizeof two, &ls, &e), EP_ERR_MALFORMED);
  /* Unknown types are kept with their bytes, any length. */
  const uint8_t unk[] = {2, 9, 3, 'a', 'b', 'c', 200, 0};
  ck_assert_int_eq(read_ls(unk, sizeof unk, &ls, &e), EP_OK);
  ck_assert_uint_eq(ls.n, 2);
  ck_assert_uint_eq(ls.spec[0].type, 9);
  ck_assert_uint_eq(ls.spec[0].len, 3);
  ck_assert_int_eq(memcmp(ls.spec[0].data, "abc", 3), 0);
  ck_assert_uint_eq(ls.spec[1].type, 200);
  ck_assert_ptr_null(ep_linkspec_type_name(9));
  /* They round trip. */
  uint8_t out[64];
  ep_writer_t w;
  ep_writer_init(&w, out, sizeof out);
  ck_assert_int_eq(ep_linkspecs_write(&w, &ls, &e), EP_OK);
  ck_assert_uint_eq(ep_wr_len(&w), sizeof unk);
  ck_assert_int_eq(memcmp(out, unk, sizeof unk), 0);
  /* The writer refuses a known type of the wrong length. */
  ls.spec[0].type = EP_LS_LEGACY_ID;
  ep_writer_init(&w, out, sizeof out);
  ck_assert_int_eq(ep_linkspecs_write(&w, &ls, &e), EP_ERR_MALFORMED);
  /* Through EXTEND2 the error names the message. */
  const uint8_t x2[] = {1, 0, 5, 1, 2, 3, 4, 5, 0, 2, 0, 0};
  ep_relay_msg_t m;
  ck_assert_int_eq(ep_relay_msg_parse(EP_RELAY_CTX_RELAY, EP_RELAY_EXTEND2, 0, x2, sizeof x2, &m,
                                      &e),
                   EP_ERR_MALFORMED);
  ck_assert_ptr_nonnull(strstr(e.msg, "EXTEND2"));
  const uint8_t x2_nohtype[] = {0, 0};
  ck_assert_int_eq(ep_relay_msg_parse(EP_RELAY_CTX_RELAY, EP_RELAY_EXTEND2, 0, x2_nohtype, 2, &m,
                                      &e),
                   EP_ERR_TRUNCATED);
}
END_TEST

/* ---- RESOLVE / RESOLVED (tor-spec §6.4) ---- */

START_TEST(resolve_round_trip_and_bad_names) {
  ep_relay_msg_t m, out;
  ep_err_t e = {0};
  ck_assert_int_eq(ep_relay_msg_resolve(&m, 9, "exitprobe-testnet.test", &e), EP_OK);
  size_t len;
  encode_parse(&m, EP_RELAY_CTX_RELAY, &out, &len);
  ck_assert_uint_eq(len, strlen("exitprobe-testnet.test") + 1);
  ck_assert_uint_eq(buf[len - 1], 0);
  ck_assert_str_eq(out.u.resolve.host, "exitprobe-testnet.test");
  /* Names: empty, too long. */
  ck_assert_int_eq(ep_relay_msg_resolve(&m, 9, "", &e), EP_ERR_MALFORMED);
  char big[300];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  ck_assert_int_eq(ep_relay_msg_resolve(&m, 9, big, &e), EP_ERR_LIMIT);
  /* The wire: no NUL, empty name; stream 0 is not allowed. */
  ck_assert_int_eq(parse_bytes(EP_RELAY_CTX_RELAY, EP_RELAY_RESOLVE, 3, "abc", 3, &out),
                   EP_ERR_MALFORMED);
  ck_assert_int_eq(parse_bytes(EP_RELAY_CTX_RELAY, EP_RELAY_RESOLVE, 3, "\0", 1, &out),
                   EP_ERR_MALFORMED);
  ck_assert_int_eq(parse_bytes(EP_RELAY_CTX_RELAY, EP_RELAY_RESOLVE, 0, "a\0", 2, &out),
                   EP_ERR_MALFORMED);
  /* A client never parses RESOLVE, a relay never RESOLVED. */
  ck_assert_int_eq(parse_bytes(EP_RELAY_CTX_RELAY, EP_RELAY_RESOLVED, 3,
                               "\x04\x04\x7f\0\0\x01\0\0\0\x3c", 10, &out),
                   EP_ERR_STATE);
}
END_TEST

START_TEST(resolved_answers_as_tor_sends_them) {
  /* What tor's send_resolved_cell writes for an A and an AAAA answer. */
  const uint8_t body[] = {0x04, 4,  127, 0, 0, 1, 0, 0, 0, 60, 0x06, 16, 0, 0, 0, 0, 0, 0,
                          0,    0,  0,   0, 0, 0, 0, 0, 0, 1, 0,    0,  1, 0x2c};
  ep_resolved_t r;
  ep_err_t e = {0};
  ck_assert_msg(ep_resolved_parse(body, sizeof body, &r, &e) == EP_OK, "%s", e.msg);
  ck_assert_uint_eq(r.n, 2);
  ck_assert(!r.error);
  char txt[600];
  ck_assert_str_eq(ep_resolved_answer_format(txt, sizeof txt, &r.a[0]), "127.0.0.1 ttl 60");
  ck_assert_str_eq(ep_resolved_answer_format(txt, sizeof txt, &r.a[1]), "::1 ttl 300");
  ck_assert_uint_eq(r.a[1].addr.family, EP_IPADDR_V6);
  /* The same through the client context: kept as bytes, checked. */
  ep_relay_msg_t out;
  ck_assert_int_eq(parse_bytes(EP_RELAY_CTX_CLIENT, EP_RELAY_RESOLVED, 5, body, sizeof body, &out),
                   EP_OK);
  ck_assert_uint_eq(out.u.data.len, sizeof body);
  /* An error as tor sends it: "Error resolving hostname", TTL. */
  uint8_t errb[64];
  const char *msg = "Error resolving hostname";
  errb[0] = EP_RESOLVED_ERR_TRANSIENT;
  errb[1] = (uint8_t)strlen(msg);
  memcpy(errb + 2, msg, strlen(msg));
  ep_put_u32(errb + 2 + strlen(msg), 0);
  ck_assert_int_eq(ep_resolved_parse(errb, 6 + strlen(msg), &r, &e), EP_OK);
  ck_assert(r.error && r.error_transient);
  ck_assert_str_eq(ep_resolved_answer_format(txt, sizeof txt, &r.a[0]), "error-transient ttl 0");
  errb[0] = EP_RESOLVED_ERR_NONTRANSIENT;
  ck_assert_int_eq(ep_resolved_parse(errb, 6 + strlen(msg), &r, &e), EP_OK);
  ck_assert(r.error && !r.error_transient);
}
END_TEST

START_TEST(resolved_hostile_bodies) {
  ep_resolved_t r;
  ep_err_t e = {0};
  /* Nothing at all. */
  ck_assert_int_eq(ep_resolved_parse((const uint8_t *)"", 0, &r, &e), EP_ERR_MALFORMED);
  /* Truncated: type only; value past the end; TTL short. */
  ck_assert_int_eq(ep_resolved_parse((const uint8_t *)"\x04", 1, &r, &e), EP_ERR_TRUNCATED);
  ck_assert_int_eq(ep_resolved_parse((const uint8_t *)"\x04\x04\x7f\0", 4, &r, &e),
                   EP_ERR_TRUNCATED);
  ck_assert_int_eq(ep_resolved_parse((const uint8_t *)"\x04\x04\x7f\0\0\x01\0\0\0", 9, &r, &e),
                   EP_ERR_TRUNCATED);
  /* Lengths that do not fit their type. */
  ck_assert_int_eq(ep_resolved_parse((const uint8_t *)"\x04\x05\x7f\0\0\x01\x02\0\0\0\0", 11, &r,
                                     &e),
                   EP_ERR_MALFORMED);
  ck_assert_int_eq(ep_resolved_parse((const uint8_t *)"\x06\x04\x7f\0\0\x01\0\0\0\0", 10, &r, &e),
                   EP_ERR_MALFORMED);
  ck_assert_int_eq(ep_resolved_parse((const uint8_t *)"\x00\x00\0\0\0\0", 6, &r, &e),
                   EP_ERR_MALFORMED);
  ck_assert_int_eq(ep_resolved_parse((const uint8_t *)"\x00\x02\x61\0\0\0\0\0", 8, &r, &e),
                   EP_ERR_MALFORMED);
  /* An error beside an address. */
  ck_assert_int_eq(
      ep_resolved_parse((const uint8_t *)"\x04\x04\x7f\0\0\x01\0\0\0\0\xf0\x00\0\0\0\0", 16, &r, &e),
      EP_ERR_MALFORMED);
  /* A hostname with an escape sequence comes out escaped; an unknown type
   * is kept as a number. */
  ck_assert_int_eq(ep_resolved_parse((const uint8_t *)"\x00\x03\x1b[2\0\0\0\x01\x07\x01z\0\0\0\x02",
                                     16, &r, &e),
                   EP_OK);
  char txt[600];
  ck_assert_str_eq(ep_resolved_answer_format(txt, sizeof txt, &r.a[0]),
                   "hostname '\\x1b[2' ttl 1");
  ck_assert_str_eq(ep_resolved_answer_format(txt, sizeof txt, &r.a[1]), "type-7 (1 bytes) ttl 2");
  /* 83 answers of 6 bytes: 16 kept, the rest counted. */
  uint8_t many[EP_RELAY_PAYLOAD_MAX];
  memset(many, 0, sizeof many);
  for (size_t i = 0; i + 6 <= sizeof many; i += 6) {
    many[i] = 0x07;
  }
  ck_assert_int_eq(ep_resolved_parse(many, 83 * 6, &r, &e), EP_OK);
  ck_assert_uint_eq(r.n, EP_RESOLVED_MAX_ANSWERS);
  ck_assert_uint_eq(r.n_more, 83 - EP_RESOLVED_MAX_ANSWERS);
  /* Through the client context a malformed RESOLVED is an error. */
  ep_relay_msg_t out;
  ck_assert_int_eq(parse_bytes(EP_RELAY_CTX_CLIENT, EP_RELAY_RESOLVED, 5, "\x04", 1, &out),
                   EP_ERR_TRUNCATED);
}
END_TEST

START_TEST(resolved_encode_round_trip) {
  ep_resolved_answer_t a[3];
  memset(a, 0, sizeof a);
  a[0].type = EP_RESOLVED_IPV4;
  ep_ipaddr_set_ipv4(&a[0].addr, 0x7f000002u);
  a[0].ttl = 60;
  a[1].type = EP_RESOLVED_IPV6;
  const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 7};
  ep_ipaddr_set_ipv6(&a[1].addr, v6);
  a[1].ttl = 61;
  a[2].type = EP_RESOLVED_HOSTNAME;
  a[2].value = (const uint8_t *)"x.test";
  a[2].len = 6;
  a[2].ttl = 62;
  uint8_t out[EP_RELAY_PAYLOAD_MAX];
  size_t len;
  ep_err_t e = {0};
  ck_assert_int_eq(ep_resolved_encode(a, 3, out, sizeof out, &len, &e), EP_OK);
  ck_assert_uint_eq(len, 10 + 22 + 12);
  ep_resolved_t r;
  ck_assert_int_eq(ep_resolved_parse(out, len, &r, &e), EP_OK);
  ck_assert_uint_eq(r.n, 3);
  char txt[600];
  ck_assert_str_eq(ep_resolved_answer_format(txt, sizeof txt, &r.a[0]), "127.0.0.2 ttl 60");
  ck_assert_str_eq(ep_resolved_answer_format(txt, sizeof txt, &r.a[1]), "2001:db8::7 ttl 61");
  ck_assert_str_eq(ep_resolved_answer_format(txt, sizeof txt, &r.a[2]), "hostname 'x.test' ttl 62");
  ck_assert_int_eq(ep_resolved_encode(a, 3, out, 20, &len, &e), EP_ERR_LIMIT);
  ck_assert_str_eq(ep_resolved_type_name(EP_RESOLVED_ERR_NONTRANSIENT), "error-nontransient");
  ck_assert_ptr_null(ep_resolved_type_name(7));
}
END_TEST

START_TEST(contexts_parse_only_what_they_expect) {
  ep_relay_msg_t out;
  /* A client never accepts forward-only messages... */
  ck_assert_int_eq(parse_bytes(EP_RELAY_CTX_CLIENT, EP_RELAY_BEGIN, 1, "a:1\0", 4, &out),
                   EP_ERR_STATE);
  ck_assert_int_eq(parse_bytes(EP_RELAY_CTX_CLIENT, EP_RELAY_EXTEND2, 0, "", 0, &out),
                   EP_ERR_STATE);
  ck_assert_int_eq(parse_bytes(EP_RELAY_CTX_CLIENT, EP_RELAY_BEGIN_DIR, 1, "", 0, &out),
                   EP_ERR_STATE);
  ck_assert_int_eq(parse_bytes(EP_RELAY_CTX_CLIENT, EP_RELAY_RESOLVE, 1, "", 0, &out),
                   EP_ERR_STATE);
  ck_assert_int_eq(parse_bytes(EP_RELAY_CTX_CLIENT, EP_RELAY_EXTEND, 0, "", 0, &out),
                   EP_ERR_STATE);
  /* ...nor a relay backward-only ones. */
  ck_assert_int_eq(parse_bytes(EP_RELAY_CTX_RELAY, EP_RELAY_CONNECTED, 1, "", 0, &out),
                   EP_ERR_STATE);
  ck_assert_int_eq(parse_bytes(EP_RELAY_CTX_RELAY, EP_RELAY_EXTENDED2, 0, "", 0, &out),
                   EP_ERR_STATE);
  /* Unknown commands: the caller drops them. */
  ck_assert_int_eq(parse_bytes(EP_RELAY_CTX_CLIENT, 77, 0, "", 0, &out),
                   EP_ERR_UNSUPPORTED);
  ck_assert_uint_eq(out.command, 77);
  ck_assert(!ep_relay_command_known(77));
  /* Stream id rules. */
  ck_assert_int_eq(parse_bytes(EP_RELAY_CTX_CLIENT, EP_RELAY_DATA, 0, "x", 1, &out),
                   EP_ERR_MALFORMED);
  ck_assert_int_eq(parse_bytes(EP_RELAY_CTX_CLIENT, EP_RELAY_END, 0, "\x06", 1, &out),
                   EP_ERR_MALFORMED);
  ck_assert_int_eq(parse_bytes(EP_RELAY_CTX_CLIENT, EP_RELAY_EXTENDED2, 5, "\0\0", 2, &out),
                   EP_ERR_MALFORMED);
  ck_assert_int_eq(parse_bytes(EP_RELAY_CTX_CLIENT, EP_RELAY_TRUNCATED, 5, "\0", 1, &out),
                   EP_ERR_MALFORMED);
  ck_assert_int_eq(parse_bytes(EP_RELAY_CTX_CLIENT, EP_RELAY_SENDME, 5, "", 0, &out),
                   EP_OK);
  ck_assert_int_eq(parse_bytes(EP_RELAY_CTX_CLIENT, EP_RELAY_SENDME, 0, "", 0, &out),
                   EP_OK);
  /* No encoder for what we never send (EXTEND, the old form); an empty
   * RESOLVE name is refused. */
  ep_err_t e = {0};
  ep_relay_msg_t m;
  memset(&m, 0, sizeof m);
  m.command = EP_RELAY_EXTEND;
  size_t len;
  ck_assert_int_eq(ep_relay_msg_encode(&m, buf, sizeof buf, &len, &e), EP_ERR_UNSUPPORTED);
  m.command = EP_RELAY_RESOLVE;
  ck_assert_int_eq(ep_relay_msg_encode(&m, buf, sizeof buf, &len, &e), EP_ERR_MALFORMED);
}
END_TEST

static Suite *relaymsg_suite(void) {
  Suite *s = suite_create("relaymsg");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, header_and_body_build);
  tcase_add_test(tc, body_padding_comes_from_the_given_source);
  tcase_add_test(tc, rng_pool_hands_out_each_byte_once);
  tcase_add_test(tc, begin_round_trip_and_flags);
  tcase_add_test(tc, begin_parse_rejects_bad_addresses);
  tcase_add_test(tc, connected_forms);
  tcase_add_test(tc, end_reasons_and_exitpolicy);
  tcase_add_test(tc, end_reason_table);
  tcase_add_test(tc, data_drop_truncated_begin_dir);
  tcase_add_test(tc, sendme_versions);
  tcase_add_test(tc, extend2_extended2_round_trip);
  tcase_add_test(tc, linkspec_bad_lengths_and_unknown_types);
  tcase_add_test(tc, contexts_parse_only_what_they_expect);
  tcase_add_test(tc, resolve_round_trip_and_bad_names);
  tcase_add_test(tc, resolved_answers_as_tor_sends_them);
  tcase_add_test(tc, resolved_hostile_bodies);
  tcase_add_test(tc, resolved_encode_round_trip);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_suite(relaymsg_suite()); }
