/* exitprobe — unit tests of the cell codec and framer (src/proto/cell.c). */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lib/caps.h"
#include "proto/cell.h"
#include "testutil.h"

static uint8_t big[EP_CELL_VAR_HEADER_MAX + 65535];

/* Encode, frame (with every shorter prefix needing more), parse, compare. */
static void round_trip(int proto, uint32_t circ_id, uint8_t cmd, const uint8_t *payload,
                       size_t plen) {
  ep_err_t e = {0};
  ssize_t n = ep_cell_encode(big, sizeof big, proto, circ_id, cmd, payload, plen, &e);
  ck_assert_msg(n > 0, "encode cmd %u: %s", cmd, e.msg);
  bool var = ep_cell_command_is_var(cmd);
  size_t want = var ? ep_cell_circid_len(proto) + 3 + plen : ep_cell_fixed_len(proto);
  ck_assert_uint_eq((size_t)n, want);
  size_t clen;
  for (size_t k = 0; k < (size_t)n; k += (k < 8 ? 1 : 97)) {
    ck_assert_int_eq(ep_cell_frame(big, k, proto, &clen, &e), EP_NEED_MORE);
  }
  ck_assert_int_eq(ep_cell_frame(big, (size_t)n, proto, &clen, &e), EP_OK);
  ck_assert_uint_eq(clen, (size_t)n);
  ep_cell_t cell;
  ck_assert_int_eq(ep_cell_parse(big, (size_t)n, proto, &cell, &e), EP_OK);
  ck_assert_uint_eq(cell.circ_id, circ_id);
  ck_assert_uint_eq(cell.command, cmd);
  ck_assert(cell.is_var == var);
  ck_assert_uint_eq(cell.payload_len, var ? plen : EP_CELL_PAYLOAD_LEN);
  if (plen > 0) {
    ck_assert_int_eq(memcmp(cell.payload, payload, plen), 0);
  }
  for (size_t i = plen; i < cell.payload_len; i++) {
    ck_assert_uint_eq(cell.payload[i], 0);   /* fixed cells are zero-padded */
  }
}

START_TEST(circid_width_per_link_protocol) {
  ck_assert_uint_eq(ep_cell_circid_len(0), 2);
  ck_assert_uint_eq(ep_cell_circid_len(3), 2);
  ck_assert_uint_eq(ep_cell_circid_len(4), 4);
  ck_assert_uint_eq(ep_cell_circid_len(5), 4);
  ck_assert_uint_eq(ep_cell_fixed_len(3), 512);
  ck_assert_uint_eq(ep_cell_fixed_len(5), 514);
  ck_assert(ep_cell_command_is_var(EP_CELL_VERSIONS));
  ck_assert(ep_cell_command_is_var(EP_CELL_VPADDING));
  ck_assert(ep_cell_command_is_var(200));
  ck_assert(!ep_cell_command_is_var(EP_CELL_RELAY));
  ck_assert(!ep_cell_command_is_var(127));
}
END_TEST

START_TEST(fixed_cells_round_trip) {
  static const uint8_t cmds[] = {
    EP_CELL_PADDING, EP_CELL_CREATE2, EP_CELL_CREATED2, EP_CELL_CREATE_FAST,
    EP_CELL_CREATED_FAST, EP_CELL_DESTROY, EP_CELL_RELAY, EP_CELL_RELAY_EARLY,
    EP_CELL_NETINFO, EP_CELL_PADDING_NEGOTIATE, EP_CELL_CREATED,
  };
  uint8_t payload[EP_CELL_PAYLOAD_LEN];
  for (size_t i = 0; i < sizeof payload; i++) {
    payload[i] = (uint8_t)(i * 7 + 1);
  }
  for (size_t i = 0; i < sizeof cmds; i++) {
    round_trip(5, 0x80000001u + (uint32_t)i, cmds[i], payload, EP_CELL_PAYLOAD_LEN);
    round_trip(4, 0xfedcba98u, cmds[i], payload, 20);
    round_trip(3, 0x8123, cmds[i], payload, 1);
    round_trip(3, 0x8123, cmds[i], NULL, 0);
  }
}
END_TEST

START_TEST(var_cells_round_trip) {
  uint8_t payload[4096];
  for (size_t i = 0; i < sizeof payload; i++) {
    payload[i] = (uint8_t)(i ^ 0x5a);
  }
  round_trip(0, 0, EP_CELL_VERSIONS, payload, 6);
  round_trip(0, 0, EP_CELL_VPADDING, payload, 0);   /* before VERSIONS: 2-byte ids */
  round_trip(4, 0, EP_CELL_CERTS, payload, 1800);
  round_trip(5, 0, EP_CELL_AUTH_CHALLENGE, payload, 38);
  round_trip(5, 0, EP_CELL_VPADDING, payload, 4096);
  round_trip(3, 0, EP_CELL_AUTHENTICATE, payload, 300);
  round_trip(5, 7, 250, payload, 10);                /* unknown variable command */
}
END_TEST

START_TEST(versions_cell_bytes_are_exact) {
  /* 00 00 | 07 | 00 06 | 00 03 00 04 00 05: circuit id 0 in 2 bytes. */
  const uint8_t payload[] = {0, 3, 0, 4, 0, 5};
  const uint8_t want[] = {0, 0, 7, 0, 6, 0, 3, 0, 4, 0, 5};
  uint8_t out[32];
  ep_err_t e = {0};
  ck_assert_int_eq(ep_cell_encode(out, sizeof out, 0, 0, EP_CELL_VERSIONS, payload, 6, &e), 11);
  ck_assert_int_eq(memcmp(out, want, sizeof want), 0);
}
END_TEST

START_TEST(framer_needs_more_then_frames_first_of_two) {
  uint8_t payload[EP_CELL_PAYLOAD_LEN] = {1, 2, 3};
  ep_err_t e = {0};
  ssize_t n1 = ep_cell_encode(big, sizeof big, 4, 0x80000005u, EP_CELL_RELAY, payload, 3, &e);
  ssize_t n2 = ep_cell_encode(big + n1, sizeof big - (size_t)n1, 4, 0, EP_CELL_VPADDING, payload,
                              3, &e);
  ck_assert_int_eq(n1, 514);
  ck_assert_int_eq(n2, 10);
  size_t clen;
  ck_assert_int_eq(ep_cell_frame(big, (size_t)(n1 + n2), 4, &clen, &e), EP_OK);
  ck_assert_uint_eq(clen, 514);
  ck_assert_int_eq(ep_cell_frame(big + 514, 6, 4, &clen, &e), EP_NEED_MORE);
  ck_assert_uint_eq(clen, 0);  /* header incomplete: length unknown */
  ck_assert_int_eq(ep_cell_frame(big + 514, 8, 4, &clen, &e), EP_NEED_MORE);
  ck_assert_uint_eq(clen, 10); /* header there: total known */
  ck_assert_int_eq(ep_cell_frame(big + 514, 10, 4, &clen, &e), EP_OK);
  ck_assert_int_eq(ep_cell_frame(big, 0, 4, &clen, &e), EP_NEED_MORE);
}
END_TEST

START_TEST(parse_keeps_truncated_apart_from_need_more) {
  uint8_t payload[40] = {9};
  ep_err_t e = {0};
  ssize_t n = ep_cell_encode(big, sizeof big, 4, 0, EP_CELL_CERTS, payload, sizeof payload, &e);
  ep_cell_t cell;
  /* A complete message that ends early is truncated, not "need more". */
  ck_assert_int_eq(ep_cell_parse(big, (size_t)n - 1, 4, &cell, &e), EP_ERR_TRUNCATED);
  ck_assert_int_eq(ep_cell_parse(big, 6, 4, &cell, &e), EP_ERR_TRUNCATED);
  ck_assert_int_eq(ep_cell_parse(big, 2, 4, &cell, &e), EP_ERR_TRUNCATED);
  ck_assert_int_eq(ep_cell_parse(big, 0, 4, &cell, &e), EP_ERR_TRUNCATED);
  ck_assert_int_eq(ep_cell_parse(big, (size_t)n + 1, 4, &cell, &e), EP_ERR_MALFORMED);
  n = ep_cell_encode(big, sizeof big, 3, 1, EP_CELL_RELAY, payload, 1, &e);
  ck_assert_int_eq(ep_cell_parse(big, (size_t)n - 1, 3, &cell, &e), EP_ERR_TRUNCATED);
  ck_assert_ptr_nonnull(strstr(e.msg, "payload"));
}
END_TEST

START_TEST(oversized_var_cells_are_refused) {
  ep_err_t e = {0};
  /* A VERSIONS cell claiming 600 bytes is refused from its header alone. */
  const uint8_t hdr[] = {0, 0, EP_CELL_VERSIONS, 0x02, 0x58};
  size_t clen;
  ck_assert_int_eq(ep_cell_frame(hdr, sizeof hdr, 0, &clen, &e), EP_ERR_LIMIT);
  ck_assert_ptr_nonnull(strstr(e.msg, "cap"));
  const uint8_t certs_hdr[] = {0, 0, 0, 0, EP_CELL_CERTS, 0xff, 0xff};
  ck_assert_int_eq(ep_cell_frame(certs_hdr, sizeof certs_hdr, 4, &clen, &e), EP_ERR_LIMIT);
  ep_cell_t cell;
  ck_assert_int_eq(ep_cell_parse(certs_hdr, sizeof certs_hdr, 4, &cell, &e), EP_ERR_LIMIT);
  /* VPADDING may use the whole 16-bit length. */
  const uint8_t vpad_hdr[] = {0, 0, 0, 0, EP_CELL_VPADDING, 0xff, 0xff};
  ck_assert_int_eq(ep_cell_frame(vpad_hdr, sizeof vpad_hdr, 4, &clen, &e), EP_NEED_MORE);
  ck_assert_uint_eq(clen, 7 + 65535u);
  ck_assert_uint_le(clen, EP_CAP_VAR_CELL);
  /* Encoding refuses too. */
  uint8_t payload[600] = {0};
  ck_assert_int_eq(ep_cell_encode(big, sizeof big, 0, 0, EP_CELL_VERSIONS, payload, 600, &e),
                   EP_ERR_LIMIT);
  ck_assert_int_eq(ep_cell_encode(big, sizeof big, 4, 1, EP_CELL_RELAY, payload, 510, &e),
                   EP_ERR_LIMIT);
  ck_assert_int_eq(ep_cell_encode(big, 100, 4, 1, EP_CELL_RELAY, payload, 10, &e), EP_ERR_LIMIT);
  ck_assert_int_eq(ep_cell_encode(big, sizeof big, 3, 0x10000, EP_CELL_RELAY, payload, 1, &e),
                   EP_ERR_MALFORMED);
}
END_TEST

START_TEST(unknown_commands_keep_their_number) {
  uint8_t payload[EP_CELL_PAYLOAD_LEN] = {0};
  ep_err_t e = {0};
  ssize_t n = ep_cell_encode(big, sizeof big, 4, 3, 42, payload, 0, &e);
  ck_assert_int_eq(n, 514);
  ep_cell_t cell;
  ck_assert_int_eq(ep_cell_parse(big, (size_t)n, 4, &cell, &e), EP_OK);
  ck_assert_uint_eq(cell.command, 42);
  ck_assert_ptr_null(ep_cell_command_name(42));
  ck_assert_ptr_null(ep_cell_command_name(200));
  ck_assert_str_eq(ep_cell_command_name(EP_CELL_RELAY_EARLY), "relay_early");
  ck_assert_str_eq(ep_cell_command_name(EP_CELL_CERTS), "certs");
}
END_TEST

START_TEST(create2_created2_destroy_payloads) {
  uint8_t hdata[84];
  for (size_t i = 0; i < sizeof hdata; i++) {
    hdata[i] = (uint8_t)i;
  }
  uint8_t payload[EP_CELL_PAYLOAD_LEN];
  ep_err_t e = {0};
  ck_assert_int_eq(ep_create2_encode(payload, EP_HTYPE_NTOR, hdata, 84, &e), EP_OK);
  ck_assert_uint_eq(payload[0], 0);
  ck_assert_uint_eq(payload[1], 2);
  ck_assert_uint_eq(payload[3], 84);
  ep_create2_t c2;
  ck_assert_int_eq(ep_create2_parse(payload, sizeof payload, &c2, &e), EP_OK);
  ck_assert_uint_eq(c2.htype, EP_HTYPE_NTOR);
  ck_assert_uint_eq(c2.hlen, 84);
  ck_assert_int_eq(memcmp(c2.hdata, hdata, 84), 0);
  ck_assert_int_eq(ep_create2_encode(payload, 2, hdata, 506, &e), EP_ERR_LIMIT);
  /* HLEN past the payload. */
  payload[2] = 0x02;
  payload[3] = 0x00;
  ck_assert_int_eq(ep_create2_parse(payload, sizeof payload, &c2, &e), EP_ERR_TRUNCATED);
  ck_assert_int_eq(ep_create2_parse(payload, 3, &c2, &e), EP_ERR_TRUNCATED);

  size_t len;
  ck_assert_int_eq(ep_created2_encode(payload, sizeof payload, hdata, 64, &len, &e), EP_OK);
  ck_assert_uint_eq(len, 66);
  ep_created2_t cr;
  ck_assert_int_eq(ep_created2_parse(payload, sizeof payload, &cr, &e), EP_OK);
  ck_assert_uint_eq(cr.hlen, 64);
  ck_assert_int_eq(memcmp(cr.hdata, hdata, 64), 0);
  ck_assert_int_eq(ep_created2_parse(payload, 65, &cr, &e), EP_ERR_TRUNCATED);
  ck_assert_int_eq(ep_created2_parse(payload, 1, &cr, &e), EP_ERR_TRUNCATED);
  ck_assert_int_eq(ep_created2_encode(payload, 10, hdata, 64, &len, &e), EP_ERR_LIMIT);

  ep_destroy_encode(payload, EP_DESTROY_OR_IDENTITY);
  uint8_t reason = 0;
  ck_assert_int_eq(ep_destroy_parse(payload, sizeof payload, &reason, &e), EP_OK);
  ck_assert_uint_eq(reason, 7);
  ck_assert_int_eq(ep_destroy_parse(payload, 0, &reason, &e), EP_ERR_TRUNCATED);

  ep_padding_negotiate_encode(payload, EP_PADNEG_STOP, 0, 0);
  ck_assert_uint_eq(payload[0], 0);
  ck_assert_uint_eq(payload[1], 1);
}
END_TEST

START_TEST(destroy_reason_table) {
  char buf[32];
  ck_assert_str_eq(ep_destroy_reason_name(0), "none");
  ck_assert_str_eq(ep_destroy_reason_name(6), "connectfailed");
  ck_assert_str_eq(ep_destroy_reason_name(12), "nosuchservice");
  ck_assert_ptr_null(ep_destroy_reason_name(13));
  ck_assert_str_eq(ep_destroy_reason_format(buf, sizeof buf, 8), "channel_closed");
  ck_assert_str_eq(ep_destroy_reason_format(buf, sizeof buf, 200), "reason-200");
}
END_TEST

static Suite *cell_suite(void) {
  Suite *s = suite_create("cell");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, circid_width_per_link_protocol);
  tcase_add_test(tc, fixed_cells_round_trip);
  tcase_add_test(tc, var_cells_round_trip);
  tcase_add_test(tc, versions_cell_bytes_are_exact);
  tcase_add_test(tc, framer_needs_more_then_frames_first_of_two);
  tcase_add_test(tc, parse_keeps_truncated_apart_from_need_more);
  tcase_add_test(tc, oversized_var_cells_are_refused);
  tcase_add_test(tc, unknown_commands_keep_their_number);
  tcase_add_test(tc, create2_created2_destroy_payloads);
  tcase_add_test(tc, destroy_reason_table);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_suite(cell_suite()); }
