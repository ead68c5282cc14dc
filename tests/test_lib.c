/* exitprobe — unit tests of src/lib. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/vec.h"
#include "lib/crypto.h"
#include "lib/encode.h"
#include "lib/file.h"
#include "lib/escape.h"
#include "lib/json.h"
#include "lib/names.h"
#include "lib/reader.h"
#include "lib/timeutil.h"
#include "testutil.h"

START_TEST(reader_reads_fields_and_stops_at_end) {
  const uint8_t data[] = {1, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 9, 9};
  ep_reader_t r;
  ep_reader_init(&r, data, sizeof data);
  uint8_t a;
  uint16_t b;
  uint32_t c;
  ck_assert_int_eq(ep_rd_u8(&r, &a), 0);
  ck_assert_uint_eq(a, 1);
  ck_assert_int_eq(ep_rd_u16(&r, &b), 0);
  ck_assert_uint_eq(b, 0x0203);
  ck_assert_int_eq(ep_rd_u32(&r, &c), 0);
  ck_assert_uint_eq(c, 0x04050607);
  ck_assert_uint_eq(ep_rd_remaining(&r), 2);
  ck_assert_int_eq(ep_rd_u32(&r, &c), -1); /* only 2 left */
  ck_assert(r.short_read);
  ck_assert_uint_eq(ep_rd_remaining(&r), 2); /* a failed read consumes nothing */
  ep_reader_t sub;
  ck_assert_int_eq(ep_rd_sub(&r, &sub, 3), -1);
  ck_assert_int_eq(ep_rd_sub(&r, &sub, 2), 0);
  ck_assert(ep_rd_empty(&r));
  ck_assert_int_eq(ep_rd_u16(&sub, &b), 0);
  ck_assert_uint_eq(b, 0x0909);
  ck_assert_int_eq(ep_rd_u8(&sub, &a), -1);
}
END_TEST

START_TEST(reader_u64_and_skip) {
  const uint8_t data[] = {0, 0, 0, 1, 0, 0, 0, 2, 0xaa};
  ep_reader_t r;
  ep_reader_init(&r, data, sizeof data);
  uint64_t v;
  ck_assert_int_eq(ep_rd_u64(&r, &v), 0);
  ck_assert_uint_eq(v, 0x100000002ull);
  ck_assert_int_eq(ep_rd_skip(&r, 2), -1);
  ck_assert_int_eq(ep_rd_skip(&r, 1), 0);
  ep_reader_init(&r, NULL, 5);
  ck_assert_uint_eq(ep_rd_remaining(&r), 0);
}
END_TEST

START_TEST(writer_latches_overflow) {
  uint8_t buf[5];
  ep_writer_t w;
  ep_writer_init(&w, buf, sizeof buf);
  ck_assert_int_eq(ep_wr_u16(&w, 0xabcd), 0);
  ck_assert_int_eq(ep_wr_u16(&w, 0x1234), 0);
  ck_assert_int_eq(ep_wr_u16(&w, 0x5678), -1);
  ck_assert(!ep_wr_ok(&w));
  ck_assert_int_eq(ep_wr_u8(&w, 1), -1); /* latched */
  ck_assert_uint_eq(ep_wr_len(&w), 4);
  ck_assert_uint_eq(buf[0], 0xab);
  ck_assert_uint_eq(buf[3], 0x34);
}
END_TEST

START_TEST(buf_respects_its_cap) {
  ep_buf_t b;
  ep_err_t err = {0};
  ep_buf_init(&b, 10, "test buffer", 0);
  ck_assert_int_eq(ep_buf_append(&b, "0123456789", 10, &err), EP_OK);
  ck_assert_int_eq(ep_buf_append(&b, "x", 1, &err), EP_ERR_LIMIT);
  ck_assert_ptr_nonnull(strstr(err.msg, "test buffer"));
  ck_assert_uint_eq(b.len, 10);
  ep_buf_consume(&b, 4);
  ck_assert_uint_eq(b.len, 6);
  ck_assert_int_eq(memcmp(b.data, "456789", 6), 0);
  ck_assert_int_eq(ep_buf_printf(&b, &err, "%d", 1234), EP_OK);
  ck_assert_int_eq(ep_buf_printf(&b, &err, "%s", "x"), EP_ERR_LIMIT);
  ck_assert_int_eq(ep_buf_nul_terminate(&b, &err), EP_OK);
  ck_assert_str_eq((char *)b.data, "4567891234");
  ep_buf_free(&b);
  ep_buf_free(&b); /* idempotent */
  ep_buf_free(NULL);
}
END_TEST

START_TEST(buf_secret_grows_and_steals) {
  ep_buf_t b;
  ep_buf_init(&b, 100000, "secret", EP_BUF_SECRET);
  for (int i = 0; i < 1000; i++) {
    ck_assert_int_eq(ep_buf_append(&b, "0123456789", 10, NULL), EP_OK);
  }
  ck_assert_uint_eq(b.len, 10000);
  size_t n;
  uint8_t *p = ep_buf_steal(&b, &n);
  ck_assert_uint_eq(n, 10000);
  ck_assert_int_eq(memcmp(p + 9990, "0123456789", 10), 0);
  free(p);
  ck_assert_uint_eq(b.len, 0);
}
END_TEST

START_TEST(vec_grows_to_its_cap_and_no_further) {
  uint32_t *v = NULL;
  size_t n = 0, alloc = 0;
  ep_err_t err;
  for (uint32_t i = 0; i < 1000; i++) {
    ck_assert_int_eq(EP_VEC_RESERVE(v, alloc, n + 1, 1000, "numbers", &err), EP_OK);
    ck_assert_uint_ge(alloc, n + 1);
    ck_assert_uint_le(alloc, 1000);
    v[n++] = i;
  }
  ck_assert_uint_eq(alloc, 1000);
  ck_assert_int_eq(EP_VEC_RESERVE(v, alloc, n + 1, 1000, "numbers", &err), EP_ERR_LIMIT);
  ck_assert_ptr_nonnull(strstr(err.msg, "numbers"));
  ck_assert_uint_eq(alloc, 1000); /* left as it was */
  for (uint32_t i = 0; i < 1000; i++) {
    ck_assert_uint_eq(v[i], i);
  }
  ck_assert_int_eq(EP_VEC_RESERVE(v, alloc, SIZE_MAX / 2, SIZE_MAX, NULL, NULL), EP_ERR_NOMEM);
  free(v);
}
END_TEST

START_TEST(hex_round_trip_and_rejects) {
  uint8_t in[] = {0x00, 0xff, 0x10, 0xab};
  char out[9];
  ck_assert_int_eq(ep_hex_encode(out, sizeof out, in, 4, true), 8);
  ck_assert_str_eq(out, "00FF10AB");
  ck_assert_int_eq(ep_hex_encode(out, 8, in, 4, true), -1);
  uint8_t back[4];
  ck_assert_int_eq(ep_hex_decode(back, 4, "00ff10AB", 8), 4);
  ck_assert_int_eq(memcmp(back, in, 4), 0);
  ck_assert_int_eq(ep_hex_decode(back, 4, "00f", 3), -1);
  ck_assert_int_eq(ep_hex_decode(back, 4, "0g", 2), -1);
  ck_assert_int_eq(ep_hex_decode(back, 1, "0000", 4), -1);
}
END_TEST

START_TEST(base64_vectors) {
  /* RFC 4648 section 10. */
  static const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  static const char *padded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  static const char *bare[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
  for (int i = 0; i < 7; i++) {
    char out[16];
    uint8_t back[16];
    size_t n = strlen(plain[i]);
    ck_assert_int_eq(ep_base64_encode(out, sizeof out, plain[i], n, EP_B64_PAD), strlen(padded[i]));
    ck_assert_str_eq(out, padded[i]);
    ck_assert_int_eq(ep_base64_encode(out, sizeof out, plain[i], n, EP_B64_NOPAD), strlen(bare[i]));
    ck_assert_str_eq(out, bare[i]);
    ck_assert_int_eq(ep_base64_decode(back, sizeof back, padded[i], strlen(padded[i])), n);
    ck_assert_int_eq(memcmp(back, plain[i], n), 0);
    ck_assert_int_eq(ep_base64_decode(back, sizeof back, bare[i], strlen(bare[i])), n);
    ck_assert_int_eq(memcmp(back, plain[i], n), 0);
  }
  uint8_t back[16];
  ck_assert_int_eq(ep_base64_decode(back, sizeof back, "Zm9v\nYmFy\n", 10), 6);
  ck_assert_int_eq(ep_base64_decode(back, sizeof back, "Zm9v!", 5), -1);
  ck_assert_int_eq(ep_base64_decode(back, sizeof back, "Z", 1), -1);
  ck_assert_int_eq(ep_base64_decode(back, sizeof back, "Zg==Zg", 6), -1);
  ck_assert_int_eq(ep_base64_decode(back, sizeof back, "Zh", 2), -1); /* non-zero pad bits */
  ck_assert_int_eq(ep_base64_decode(back, 2, "Zm9v", 4), -1);
}
END_TEST

/* The byte-at-a-time decoder ep_base64_decode replaced (commit 5d18db3),
 * kept as the reference the table-driven one must agree with. */
static int ref_b64val(char c) {
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a' + 26;
  }
  if (c >= '0' && c <= '9') {
    return c - '0' + 52;
  }
  if (c == '+') {
    return 62;
  }
  if (c == '/') {
    return 63;
  }
  return -1;
}

static ssize_t ref_base64_decode(uint8_t *o, size_t outcap, const char *in, size_t inlen) {
  size_t olen = 0, pads = 0, nchars = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < inlen; i++) {
    char c = in[i];
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      continue;
    }
    if (c == '=') {
      pads++;
      continue;
    }
    if (pads > 0) {
      return -1;
    }
    int v = ref_b64val(c);
    if (v < 0) {
      return -1;
    }
    nchars++;
    acc = acc << 6 | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (olen >= outcap) {
        return -1;
      }
      o[olen++] = (uint8_t)(acc >> bits);
    }
  }
  if (nchars % 4 == 1 || pads > 2 || (pads > 0 && (nchars + pads) % 4 != 0)) {
    return -1;
  }
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
    return -1;
  }
  return (ssize_t)olen;
}

/* Decode with the new decoder, the checker and the reference; all three must
 * agree on the result, and the two decoders on the bytes. Returns the result. */
static ssize_t b64_agree(const char *in, size_t inlen, size_t cap) {
  uint8_t got[512], want[512];
  ck_assert_uint_le(cap, sizeof got);
  ssize_t g = ep_base64_decode(got, cap, in, inlen);
  ssize_t w = ref_base64_decode(want, cap, in, inlen);
  ssize_t c = ep_base64_check(in, inlen, cap);
  if (g != w || c != w) {
    ck_abort_msg("base64 '%.*s' cap %zu: decode %zd, check %zd, reference %zd", (int)inlen, in, cap,
                 g, c, w);
  }
  if (w > 0) {
    ck_assert_int_eq(memcmp(got, want, (size_t)w), 0);
  }
  return w;
}

START_TEST(base64_error_cases_match_the_old_decoder) {
  static const struct {
    const char *in;
    size_t cap;
    ssize_t want;
    size_t len;   /* 0: strlen(in) */
  } cases[] = {
    {"", 16, 0, 0},
    {"Zm9v", 16, 3, 0},
    {"Zm9vYmFy", 16, 6, 0},
    {"Zm9v\nYmFy\n", 16, 6, 0},          /* whitespace between quanta */
    {"Zm\n9v Ym\tFy\r\n", 16, 6, 0},     /* ... and inside them */
    {"  Zg==  ", 16, 1, 0},              /* around the data and padding */
    {"Zg=\n=", 16, 1, 0},                /* between the padding characters */
    {"Zg", 16, 1, 0},                    /* unpadded tails */
    {"Zm8", 16, 2, 0},
    {"Zm8=", 16, 2, 0},
    {"Zg==", 16, 1, 0},
    {"Zg=", 16, -1, 0},                  /* incomplete padding */
    {"Zm8==", 16, -1, 0},                /* too much padding */
    {"Zg===", 16, -1, 0},
    {"Zm9v=", 16, -1, 0},                /* padding after a full quantum */
    {"Zm9v====", 16, -1, 0},
    {"=", 16, -1, 0},
    {"==", 16, -1, 0},
    {"Zg==Zg==", 16, -1, 0},             /* data after padding */
    {"Zg==Zg", 16, -1, 0},
    {"Zm8=Zm9v", 16, -1, 0},
    {"Z", 16, -1, 0},                    /* a lone character */
    {"Zm9vY", 16, -1, 0},
    {"Zm9vY=", 16, -1, 0},
    {"Zm9vY===", 16, -1, 0},
    {"Zh", 16, -1, 0},                   /* non-zero trailing bits */
    {"Zh==", 16, -1, 0},
    {"Zm9", 16, -1, 0},
    {"Zm9=", 16, -1, 0},
    {"Zm9v!", 16, -1, 0},                /* bad characters: anywhere in a quantum */
    {"!m9v", 16, -1, 0},
    {"Zm9v-_", 16, -1, 0},               /* base64url is not base64 */
    {"Zm9v\vYmFy", 16, -1, 0},           /* VT and FF are not whitespace here */
    {"Zm9v\fYmFy", 16, -1, 0},
    {"Zm9v\0YmFy", 16, -1, 9},
    {"Zm9v\xc3\xa9", 16, -1, 0},
    {"Zm9vYmFy", 6, 6, 0},               /* caps: exactly full */
    {"Zm9vYmFy", 5, -1, 0},              /* one short, in the fast path */
    {"Zm9vYg==", 4, 4, 0},
    {"Zm9vYg==", 3, -1, 0},              /* one short, in the tail */
    {"Zm9vYmE", 4, -1, 0},
    {"Zm9v", 0, -1, 0},
    {"", 0, 0, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t n = cases[i].len ? cases[i].len : strlen(cases[i].in);
    ssize_t got = b64_agree(cases[i].in, n, cases[i].cap);
    if (got != cases[i].want) {
      ck_abort_msg("case %zu '%s' cap %zu: %zd, wanted %zd", i, cases[i].in, cases[i].cap, got,
                   cases[i].want);
    }
  }
}
END_TEST

/* xorshift64*: a fixed-seed generator, so a failure replays. */
static uint64_t rnd_next(uint64_t *s) {
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * 2685821657736338717ull;
}

START_TEST(base64_randomized_differential) {
  static const char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  static const char noise[] = {' ', '\n', '\r', '\t', '=', '=', '!', '-', '\0', '\v', '\x80', '.'};
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  size_t n_ok = 0, n_bad = 0;
  for (int iter = 0; iter < 200000; iter++) {
    char in[400];
    size_t len;
    uint64_t kind = rnd_next(&seed) % 4;
    if (kind == 0) {
      /* Real encodings, wrapped in lines of 4..76 characters, padded or not. */
      uint8_t plain[200];
      size_t pn = rnd_next(&seed) % 120;
      for (size_t i = 0; i < pn; i++) {
        plain[i] = (uint8_t)rnd_next(&seed);
      }
      char enc[EP_B64_LEN(200) + 1];
      ssize_t el = ep_base64_encode(enc, sizeof enc, plain, pn,
                                    (rnd_next(&seed) & 1) ? EP_B64_PAD : EP_B64_NOPAD);
      ck_assert_int_ge(el, 0);
      size_t wrap = 4 + rnd_next(&seed) % 73;
      len = 0;
      for (size_t i = 0; i < (size_t)el; i++) {
        if (i > 0 && i % wrap == 0) {
          in[len++] = '\n';
        }
        in[len++] = enc[i];
      }
      if (rnd_next(&seed) & 1) {
        in[len++] = '\n';
      }
      uint8_t out[200];
      ck_assert_int_eq(ep_base64_decode(out, sizeof out, in, len), (ssize_t)pn);
      ck_assert_int_eq(memcmp(out, plain, pn), 0);
    } else {
      /* Alphabet with some noise: whitespace, padding, bad bytes, anywhere. */
      len = rnd_next(&seed) % 40;
      unsigned noise_rate = 1 + (unsigned)(rnd_next(&seed) % 16);
      for (size_t i = 0; i < len; i++) {
        uint64_t r = rnd_next(&seed);
        in[i] = (r % noise_rate == 0) ? noise[(r >> 8) % sizeof noise] : alphabet[(r >> 8) % 64];
      }
      if (kind == 2 && len > 0) {
        /* Clear the trailing bits of the last character now and then, so
         * that tails are valid more often. */
        in[len - 1] = 'A';
      }
    }
    size_t cap = rnd_next(&seed) % 8 == 0 ? (size_t)(rnd_next(&seed) % 40) : 300;
    ssize_t r = b64_agree(in, len, cap);
    if (r >= 0) {
      n_ok++;
    } else {
      n_bad++;
    }
  }
  /* Both outcomes must have been exercised a lot. */
  ck_assert_uint_gt(n_ok, 20000);
  ck_assert_uint_gt(n_bad, 20000);
}
END_TEST

/* ep_ipaddr_format against inet_ntop: edge cases (zero runs at every place,
 * ties, IPv4-mapped and -compatible forms) and many random addresses whose
 * groups are often zero. */
static void check_addr6(const uint8_t b[16]) {
  char want[INET6_ADDRSTRLEN], got[EP_IPADDR_STRLEN];
  ep_ipaddr_t a;
  ep_ipaddr_set_ipv6(&a, b);
  ck_assert_ptr_nonnull(inet_ntop(AF_INET6, b, want, sizeof want));
  ck_assert_str_eq(ep_ipaddr_format(got, sizeof got, &a), want);
}

static void check_addr4(uint32_t v4) {
  uint8_t b[4] = {(uint8_t)(v4 >> 24), (uint8_t)(v4 >> 16), (uint8_t)(v4 >> 8), (uint8_t)v4};
  char want[INET_ADDRSTRLEN], got[EP_IPADDR_STRLEN], got4[EP_IPV4_STRLEN];
  ep_ipaddr_t a;
  ep_ipaddr_set_ipv4(&a, v4);
  ck_assert_ptr_nonnull(inet_ntop(AF_INET, b, want, sizeof want));
  ck_assert_str_eq(ep_ipaddr_format(got, sizeof got, &a), want);
  ck_assert_str_eq(ep_ipv4_format(got4, v4), want);
}

START_TEST(addr_format_matches_inet_ntop) {
  /* Every pattern of zero and non-zero groups, with several non-zero values
   * (including 0xffff in group 5 for the mapped form). */
  static const unsigned vals[] = {1, 0xffff, 0xabc, 0x100, 0x10};
  for (unsigned mask = 0; mask < 256; mask++) {
    for (size_t v = 0; v < sizeof vals / sizeof vals[0]; v++) {
      uint8_t b[16] = {0};
      for (int g = 0; g < 8; g++) {
        if (mask & (1u << g)) {
          unsigned w = vals[v];
          b[2 * g] = (uint8_t)(w >> 8);
          b[2 * g + 1] = (uint8_t)w;
        }
      }
      check_addr6(b);
    }
  }
  static const uint32_t v4s[] = {0, 1, 0x7f000001u, 0xffffffffu, 0x0a000000u, 0xc0000201u,
                                 0x01020304u, 0x64646464u, 0x09090909u, 0x80000000u};
  for (size_t i = 0; i < sizeof v4s / sizeof v4s[0]; i++) {
    check_addr4(v4s[i]);
    uint8_t b[16] = {0};
    b[10] = b[11] = 0xff;
    memcpy(b + 12, (uint8_t[4]){(uint8_t)(v4s[i] >> 24), (uint8_t)(v4s[i] >> 16),
                                (uint8_t)(v4s[i] >> 8), (uint8_t)v4s[i]}, 4);
    check_addr6(b);   /* ::ffff:a.b.c.d */
    b[10] = b[11] = 0;
    check_addr6(b);   /* ::a.b.c.d (or ::, ::1) */
  }
  uint64_t seed = 0x2545f4914f6cdd1dull;
  for (int iter = 0; iter < 100000; iter++) {
    uint8_t b[16];
    uint64_t r = rnd_next(&seed);
    for (int g = 0; g < 8; g++) {
      uint64_t x = rnd_next(&seed);
      /* Half the groups zero, some small, some full width. */
      unsigned w = ((r >> g) & 1) ? 0 : (x & 4) ? (unsigned)(x >> 8) & 0xfu : (unsigned)(x >> 16);
      b[2 * g] = (uint8_t)(w >> 8);
      b[2 * g + 1] = (uint8_t)w;
    }
    check_addr6(b);
    check_addr4((uint32_t)rnd_next(&seed));
  }
  /* No family, an unknown one, and a short buffer. */
  ep_ipaddr_t none = {0};
  char buf[EP_IPADDR_STRLEN];
  ck_assert_str_eq(ep_ipaddr_format(buf, sizeof buf, &none), "-");
  none.family = 5;
  ck_assert_str_eq(ep_ipaddr_format(buf, sizeof buf, &none), "-");
  ep_ipaddr_t a;
  ep_ipaddr_set_ipv4(&a, 0xc0000201u);
  ck_assert_str_eq(ep_ipaddr_format(buf, 5, &a), "192.");
  ck_assert_str_eq(ep_ipaddr_format(buf, 1, &a), "");
}
END_TEST

START_TEST(file_read_whole_under_a_cap) {
  char path[] = "/tmp/ep_test_file_XXXXXX";
  int fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(write(fd, "hello\nworld", 11), 11);
  close(fd);
  uint8_t *data = NULL;
  size_t len = 99;
  ep_err_t err = {0};
  ck_assert_int_eq(ep_file_read(path, 11, NULL, &data, &len, &err), EP_OK);
  ck_assert_uint_eq(len, 11);
  ck_assert_str_eq((const char *)data, "hello\nworld");   /* NUL-terminated */
  free(data);
  /* One byte over the cap: refused, naming the file and the cap. */
  ck_assert_int_eq(ep_file_read(path, 10, "test file", &data, &len, &err), EP_ERR_LIMIT);
  ck_assert_ptr_null(data);
  ck_assert_uint_eq(len, 0);
  ck_assert_ptr_nonnull(strstr(err.msg, "test file /tmp/ep_test_file_"));
  ck_assert_ptr_nonnull(strstr(err.msg, ": larger than 10 bytes"));
  /* Bigger than one read chunk, exactly at the cap. */
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  for (int i = 0; i < 200000; i++) {
    fputc('a' + i % 26, f);
  }
  fclose(f);
  ck_assert_int_eq(ep_file_read(path, 200000, NULL, &data, &len, &err), EP_OK);
  ck_assert_uint_eq(len, 200000);
  ck_assert_int_eq(data[199999], 'a' + 199999 % 26);
  free(data);
  ck_assert_int_eq(ep_file_read(path, 199999, NULL, &data, &len, &err), EP_ERR_LIMIT);
  /* Empty file. */
  f = fopen(path, "wb");
  fclose(f);
  ck_assert_int_eq(ep_file_read(path, 10, NULL, &data, &len, &err), EP_OK);
  ck_assert_uint_eq(len, 0);
  ck_assert_str_eq((const char *)data, "");
  free(data);
  unlink(path);
  /* Missing file: which one and why. */
  ck_assert_int_eq(ep_file_read(path, 10, NULL, &data, &len, &err), EP_ERR_IO);
  ck_assert_ptr_null(data);
  ck_assert_ptr_nonnull(strstr(err.msg, ": cannot open: No such file or directory"));
}
END_TEST

START_TEST(names_both_ways_with_a_fallback) {
  static const ep_name_t t[] = {{0, "none"}, {3, "three"}, {200, "big"}};
  char buf[32];
  ck_assert_str_eq(ep_name_of(t, EP_NAMES_N(t), 3), "three");
  ck_assert_str_eq(ep_name_of(t, EP_NAMES_N(t), 0), "none");
  ck_assert_ptr_null(ep_name_of(t, EP_NAMES_N(t), 4));
  ck_assert_str_eq(ep_name_or(t, EP_NAMES_N(t), 4, "UNKNOWN"), "UNKNOWN");
  ck_assert_str_eq(ep_name_or(t, EP_NAMES_N(t), 200, "UNKNOWN"), "big");
  ck_assert_str_eq(ep_name_format(buf, sizeof buf, t, EP_NAMES_N(t), 17, "reason-"), "reason-17");
  ck_assert_str_eq(ep_name_format(buf, sizeof buf, t, EP_NAMES_N(t), 3, "reason-"), "three");
  ck_assert_str_eq(ep_name_format(buf, 3, t, EP_NAMES_N(t), 3, "reason-"), "th");
  unsigned v = 99;
  ck_assert_int_eq(ep_name_value(t, EP_NAMES_N(t), "big", &v), 0);
  ck_assert_uint_eq(v, 200);
  ck_assert_int_eq(ep_name_value(t, EP_NAMES_N(t), "Big", &v), -1);
  ck_assert_int_eq(ep_name_value(t, EP_NAMES_N(t), "", &v), -1);
  ck_assert_uint_eq(v, 200);
}
END_TEST

START_TEST(base32_vectors) {
  static const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  static const char *enc[] = {"", "my", "mzxq", "mzxw6", "mzxw6yq", "mzxw6ytb", "mzxw6ytboi"};
  for (int i = 0; i < 7; i++) {
    char out[32];
    uint8_t back[16];
    size_t n = strlen(plain[i]);
    ck_assert_int_eq(ep_base32_encode(out, sizeof out, plain[i], n), strlen(enc[i]));
    ck_assert_str_eq(out, enc[i]);
    ck_assert_int_eq(ep_base32_decode(back, sizeof back, enc[i], strlen(enc[i])), n);
    ck_assert_int_eq(memcmp(back, plain[i], n), 0);
  }
  uint8_t back[16];
  ck_assert_int_eq(ep_base32_decode(back, sizeof back, "MZXW6", 5), 3);
  ck_assert_int_eq(ep_base32_decode(back, sizeof back, "mzx1", 4), -1);
}
END_TEST

START_TEST(escape_makes_text_terminal_safe) {
  char out[64];
  const char evil[] = "220 hi\x1b[2J\x07\r\n\0x\\";
  ep_escape_text(out, sizeof out, evil, sizeof evil - 1);
  ck_assert_str_eq(out, "220 hi\\x1b[2J\\x07\\r\\n\\x00x\\\\");
  ck_assert_ptr_null(strchr(out, 0x1b));
  char small[8];
  ep_escape_text(small, sizeof small, "0123456789", 10);
  ck_assert_str_eq(small, "0123...");
  ep_escape_text(small, sizeof small, "\xff\xfe", 2);
  ck_assert_str_eq(small, "\\xff...");
}
END_TEST

START_TEST(time_parse_and_format) {
  time_t t;
  ck_assert_int_eq(ep_time_parse_tor("2022-11-19 10:00:00", 19, &t), 0);
  ck_assert_int_eq((long long)t, 1668852000LL);
  char out[32];
  ep_time_format_tor(out, sizeof out, t);
  ck_assert_str_eq(out, "2022-11-19 10:00:00");
  ep_time_format_iso(out, sizeof out, t);
  ck_assert_str_eq(out, "2022-11-19T10:00:00Z");
  ck_assert_int_eq(ep_time_parse_any("2022-11-19T10:00:00Z", &t), 0);
  ck_assert_int_eq((long long)t, 1668852000LL);
  ck_assert_int_eq(ep_time_parse_any("@1668852000", &t), 0);
  ck_assert_int_eq((long long)t, 1668852000LL);
  ck_assert_int_eq(ep_time_parse_tor("2022-13-19 10:00:00", 19, &t), -1);
  ck_assert_int_eq(ep_time_parse_tor("2022-11-19 10:00", 16, &t), -1);
  ck_assert_int_eq(ep_time_parse_tor("2022-11-19X10:00:00", 19, &t), -1);
  int64_t ms;
  ck_assert_int_eq(ep_duration_parse("1h30m", &ms), 0);
  ck_assert_int_eq(ms, 5400000);
  ck_assert_int_eq(ep_duration_parse("250ms", &ms), 0);
  ck_assert_int_eq(ms, 250);
  ck_assert_int_eq(ep_duration_parse("10", &ms), 0);
  ck_assert_int_eq(ms, 10000);
  ck_assert_int_eq(ep_duration_parse("10x", &ms), -1);
  ck_assert_int_eq(ep_duration_parse("", &ms), -1);
}
END_TEST

START_TEST(json_parses_and_rejects) {
  const char *doc = "{\"a\": [1, -2.5, true, null, \"x\\u00e9\\n\"], \"b\": {\"c\": 9007199254740993}}";
  ep_err_t err = {0};
  ep_json_t *j = ep_json_parse(doc, strlen(doc), &err);
  ck_assert_msg(j != NULL, "%s", err.msg);
  const ep_json_t *a = ep_json_get(j, "a");
  ck_assert_uint_eq(ep_json_count(a), 5);
  int64_t iv;
  ck_assert(ep_json_int(ep_json_at(a, 0), &iv));
  ck_assert_int_eq(iv, 1);
  ck_assert(!ep_json_int(ep_json_at(a, 1), &iv));
  ck_assert(ep_json_num(ep_json_at(a, 1), 0) == -2.5);
  ck_assert(ep_json_bool(ep_json_at(a, 2), false));
  ck_assert_int_eq(ep_json_type(ep_json_at(a, 3)), EP_JSON_NULL);
  size_t len;
  ck_assert_str_eq(ep_json_str(ep_json_at(a, 4), &len), "x\xc3\xa9\n");
  ck_assert(ep_json_int(ep_json_get(ep_json_get(j, "b"), "c"), &iv));
  ck_assert_int_eq(iv, 9007199254740993LL);
  ck_assert_ptr_null(ep_json_get(j, "zz"));
  ep_json_free(j);
  /* U+0000 (a NUL our writer escapes from a banner) is kept, with the
   * length; lone surrogates read as U+FFFD: no invalid UTF-8 comes out */
  const char *odd = "[\"a\\u0000b\", \"\\ud800x\", \"\\udc00\", \"\\ud83d\\ude00\"]";
  j = ep_json_parse(odd, strlen(odd), &err);
  ck_assert_msg(j != NULL, "%s", err.msg);
  const char *nul = ep_json_str(ep_json_at(j, 0), &len);
  ck_assert_uint_eq(len, 3);
  ck_assert_int_eq(memcmp(nul, "a\0b", 3), 0);
  ck_assert_str_eq(ep_json_str(ep_json_at(j, 1), &len), "\xef\xbf\xbdx");
  ck_assert_str_eq(ep_json_str(ep_json_at(j, 2), &len), "\xef\xbf\xbd");
  ck_assert_str_eq(ep_json_str(ep_json_at(j, 3), &len), "\xf0\x9f\x98\x80");
  ep_json_free(j);
  /* Beyond int64: a number, but never an exact integer (strtoll saturates). */
  j = ep_json_parse("[9223372036854775808, -9223372036854775808, 9223372036854775807]", 64, &err);
  ck_assert_ptr_nonnull(j);
  ck_assert(!ep_json_int(ep_json_at(j, 0), &iv));
  ck_assert(ep_json_int(ep_json_at(j, 1), &iv));
  ck_assert(iv == INT64_MIN);
  ck_assert(ep_json_int(ep_json_at(j, 2), &iv));
  ck_assert(iv == INT64_MAX);
  ep_json_free(j);

  static const char *bad[] = {"", "{", "[1,]", "{\"a\" 1}", "\"abc", "[1] x", "tru", "\"\\q\"",
                              "\"a\x01\"", "-", "{\"a\":}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ep_err_clear(&err);
    ck_assert_ptr_null(ep_json_parse(bad[i], strlen(bad[i]), &err));
    ck_assert_msg(strstr(err.msg, "json") != NULL, "no message for %s", bad[i]);
  }
  char deep[200];
  memset(deep, '[', sizeof deep);
  ck_assert_ptr_null(ep_json_parse(deep, sizeof deep, &err));
  ck_assert_int_eq(err.code, EP_ERR_LIMIT);
}
END_TEST

START_TEST(json_writer_escapes) {
  ep_buf_t b;
  ep_buf_init(&b, 1024, "json out", 0);
  const char s[] = "a\"b\\c\x1b\n\xc3\xa9\xff\0z runs of text~\x7f.";
  ck_assert_int_eq(ep_json_put_str(&b, s, sizeof s - 1, NULL), EP_OK);
  ck_assert_int_eq(ep_buf_nul_terminate(&b, NULL), EP_OK);
  ck_assert_str_eq((char *)b.data,
                   "\"a\\\"b\\\\c\\u001b\\u000a\xc3\xa9\\u00ff\\u0000z runs of text~\\u007f.\"");
  /* What we write, we can read back. */
  ep_json_t *j = ep_json_parse((char *)b.data, b.len, NULL);
  ck_assert_ptr_nonnull(j);
  ep_json_free(j);
  ep_buf_free(&b);
}
END_TEST

START_TEST(crypto_digests_and_hmac) {
  uint8_t d[32];
  char hex[65];
  ep_sha1(d, "abc", 3);
  ep_hex_encode(hex, sizeof hex, d, 20, false);
  ck_assert_str_eq(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
  ep_sha256(d, "abc", 3);
  ep_hex_encode(hex, sizeof hex, d, 32, false);
  ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  /* RFC 4231 test case 2. */
  ep_hmac_sha256(d, "Jefe", 4, "what do ya want for nothing?", 28);
  ep_hex_encode(hex, sizeof hex, d, 32, false);
  ck_assert_str_eq(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  ep_digest_t *dg = ep_digest_new(EP_DIGEST_SHA1);
  ep_digest_update(dg, "a", 1);
  uint8_t peek[20];
  ck_assert_uint_eq(ep_digest_peek(dg, peek, 20), 20);
  ep_digest_update(dg, "bc", 2);
  ep_digest_t *copy = ep_digest_dup(dg);
  ck_assert_uint_eq(ep_digest_peek(copy, d, 20), 20);
  ep_hex_encode(hex, sizeof hex, d, 20, false);
  ck_assert_str_eq(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
  ep_sha1(d, "a", 1);
  ck_assert(ep_ct_eq(d, peek, 20));
  ck_assert(!ep_ct_eq(d, "aaaaaaaaaaaaaaaaaaaa", 20));
  ep_digest_free(copy);
  ep_digest_free(dg);
  ep_digest_free(NULL);
}
END_TEST

START_TEST(crypto_aes_ctr_continuous) {
  /* NIST SP 800-38A F.5.1 CTR-AES128.Encrypt, block 1 and 2. */
  uint8_t key[16], iv[16], pt[32], expect[32];
  ep_hex_decode(key, 16, "2b7e151628aed2a6abf7158809cf4f3c", 32);
  ep_hex_decode(iv, 16, "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff", 32);
  ep_hex_decode(pt, 32, "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51", 64);
  ep_hex_decode(expect, 32, "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff", 64);
  ep_aes_ctr_t *c = ep_aes_ctr_new(key, iv);
  ck_assert_ptr_nonnull(c);
  ep_aes_ctr_crypt(c, pt, 5); /* split across calls: one keystream */
  ep_aes_ctr_crypt(c, pt + 5, 27);
  ck_assert_int_eq(memcmp(pt, expect, 32), 0);
  ep_aes_ctr_free(c);
}
END_TEST

START_TEST(crypto_x25519_and_ed25519) {
  /* RFC 7748 6.1 */
  uint8_t a[32], b_pub[32], a_pub[32], shared[32], expect[32];
  ep_hex_decode(a, 32, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", 64);
  ep_hex_decode(b_pub, 32, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", 64);
  ep_hex_decode(expect, 32, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742", 64);
  ck_assert_int_eq(ep_x25519_base(a_pub, a), 0);
  uint8_t a_pub_expect[32];
  ep_hex_decode(a_pub_expect, 32, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", 64);
  ck_assert_int_eq(memcmp(a_pub, a_pub_expect, 32), 0);
  ck_assert_int_eq(ep_x25519(shared, a, b_pub), 0);
  ck_assert_int_eq(memcmp(shared, expect, 32), 0);
  uint8_t zero[32] = {0};
  ck_assert_int_eq(ep_x25519(shared, a, zero), -1); /* low-order point refused */
  /* RFC 8032 7.1 test 1 (empty message). */
  uint8_t seed[32], pk[32], sk[64], sig[64], pk_expect[32], sig_expect[64];
  ep_hex_decode(seed, 32, "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", 64);
  ep_hex_decode(pk_expect, 32, "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", 64);
  ep_hex_decode(sig_expect, 64,
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bac"
                "c61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b", 128);
  ep_ed25519_seed_keypair(pk, sk, seed);
  ck_assert_int_eq(memcmp(pk, pk_expect, 32), 0);
  ep_ed25519_sign(sig, "", 0, sk);
  ck_assert_int_eq(memcmp(sig, sig_expect, 64), 0);
  ck_assert_int_eq(ep_ed25519_verify(sig, "", 0, pk), EP_OK);
  sig[3] ^= 1;
  ck_assert_int_eq(ep_ed25519_verify(sig, "", 0, pk), EP_ERR_VERIFY);
  ep_wipe(sk, sizeof sk);
  ck_assert(ep_ct_eq(sk, (uint8_t[64]){0}, 64));
}
END_TEST

START_TEST(crypto_rsa_raw_signature) {
  /* An authority's signing key and a signature from the real 2022-11-19
   * consensus are exercised by the directory tests; here: key decoding
   * errors and a self-made signature through OpenSSL's command-free path. */
  ep_err_t err = {0};
  ck_assert_ptr_null(ep_rsa_pub_from_der((const uint8_t *)"\x30\x03\x02\x01\x01", 5, &err));
  ck_assert_int_eq(err.code, EP_ERR_MALFORMED);
  ck_assert_ptr_null(ep_rsa_pub_from_pem("nothing", 7, &err));
  ck_assert_ptr_null(ep_rsa_pub_from_x509_der((const uint8_t *)"junk", 4, &err));
  size_t n;
  uint8_t *pem = tu_read_data("lib/rsa1024-pub.pem", &n);
  ep_rsa_pub_t *k = ep_rsa_pub_from_pem((const char *)pem, n, &err);
  ck_assert_msg(k != NULL, "%s", err.msg);
  ck_assert_int_eq(ep_rsa_pub_bits(k), 1024);
  uint8_t fp[20];
  ck_assert_int_eq(ep_rsa_pub_fingerprint(k, fp), 0);
  size_t siglen, dlen;
  uint8_t *sig = tu_read_data("lib/rsa1024-rawsig.bin", &siglen);
  uint8_t *digest = tu_read_data("lib/rsa1024-rawsig-digest.bin", &dlen);
  ck_assert_int_eq(ep_rsa_verify_raw(k, sig, siglen, digest, dlen), EP_OK);
  digest[0] ^= 1;
  ck_assert_int_eq(ep_rsa_verify_raw(k, sig, siglen, digest, dlen), EP_ERR_VERIFY);
  digest[0] ^= 1;
  sig[10] ^= 1;
  ck_assert_int_eq(ep_rsa_verify_raw(k, sig, siglen, digest, dlen), EP_ERR_VERIFY);
  ck_assert_int_eq(ep_rsa_verify_raw(k, sig, siglen - 1, digest, dlen), EP_ERR_VERIFY);
  char fphex[41];
  ep_hex_encode(fphex, sizeof fphex, fp, 20, true);
  size_t fplen;
  uint8_t *fpexpect = tu_read_data("lib/rsa1024-fingerprint.txt", &fplen);
  ck_assert_int_eq(memcmp(fphex, fpexpect, 40), 0);
  free(fpexpect);
  free(sig);
  free(digest);
  free(pem);
  ep_rsa_pub_free(k);
}
END_TEST

START_TEST(crypto_rsa_der_strict) {
  /* PKCS#1 RSAPublicKey DER: exact round trip, nothing accepted around it. */
  ep_err_t err = {0};
  size_t n;
  uint8_t *pem = tu_read_data("lib/rsa1024-pub.pem", &n);
  ep_rsa_pub_t *k = ep_rsa_pub_from_pem((const char *)pem, n, &err);
  ck_assert_msg(k != NULL, "%s", err.msg);
  uint8_t der[600];
  int dl = ep_rsa_pub_to_der(k, der, sizeof der);
  ck_assert_int_eq(dl, 140); /* 1024-bit modulus, e = 65537 */
  uint8_t fp[20], fp2[20];
  ck_assert_int_eq(ep_rsa_pub_fingerprint(k, fp), 0);
  ep_sha1(fp2, der, (size_t)dl);
  ck_assert(memcmp(fp, fp2, 20) == 0);
  /* Decoded again, it encodes to the same bytes. */
  ep_rsa_pub_t *k2 = ep_rsa_pub_from_der(der, (size_t)dl, &err);
  ck_assert_msg(k2 != NULL, "%s", err.msg);
  uint8_t der2[600];
  ck_assert_int_eq(ep_rsa_pub_to_der(k2, der2, sizeof der2), dl);
  ck_assert(memcmp(der, der2, (size_t)dl) == 0);
  ep_rsa_pub_free(k2);
  /* A short output buffer is refused and not written past. */
  memset(der2, 0xa5, sizeof der2);
  ck_assert_int_eq(ep_rsa_pub_to_der(k, der2, (size_t)dl - 1), -1);
  for (size_t i = 0; i < sizeof der2; i++) {
    ck_assert_uint_eq(der2[i], 0xa5);
  }
  /* Every truncation, and a trailing byte, are malformed. */
  for (int cut = 0; cut < dl; cut++) {
    err.code = 0;
    ck_assert_ptr_null(ep_rsa_pub_from_der(der, (size_t)cut, &err));
    ck_assert_int_eq(err.code, EP_ERR_MALFORMED);
  }
  der[dl] = 0;
  ck_assert_ptr_null(ep_rsa_pub_from_der(der, (size_t)dl + 1, &err));
  ck_assert_int_eq(err.code, EP_ERR_MALFORMED);
  /* The same key as a SubjectPublicKeyInfo (X.509's form) is not PKCS#1. */
  static const uint8_t spki_head[] = {0x30, 0x81, 0x9f, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48,
                                      0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00, 0x03, 0x81,
                                      0x8d, 0x00};
  uint8_t spki[sizeof spki_head + 140];
  memcpy(spki, spki_head, sizeof spki_head);
  memcpy(spki + sizeof spki_head, der, 140);
  err.code = 0;
  ck_assert_ptr_null(ep_rsa_pub_from_der(spki, sizeof spki, &err));
  ck_assert_int_eq(err.code, EP_ERR_MALFORMED);
  ep_rsa_pub_free(k);
  free(pem);
}
END_TEST

static Suite *lib_suite(void) {
  Suite *s = suite_create("lib");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, reader_reads_fields_and_stops_at_end);
  tcase_add_test(tc, reader_u64_and_skip);
  tcase_add_test(tc, writer_latches_overflow);
  tcase_add_test(tc, buf_respects_its_cap);
  tcase_add_test(tc, buf_secret_grows_and_steals);
  tcase_add_test(tc, vec_grows_to_its_cap_and_no_further);
  tcase_add_test(tc, hex_round_trip_and_rejects);
  tcase_add_test(tc, base64_vectors);
  tcase_add_test(tc, base64_error_cases_match_the_old_decoder);
  tcase_add_test(tc, base64_randomized_differential);
  tcase_add_test(tc, base32_vectors);
  tcase_add_test(tc, addr_format_matches_inet_ntop);
  tcase_add_test(tc, file_read_whole_under_a_cap);
  tcase_add_test(tc, names_both_ways_with_a_fallback);
  tcase_add_test(tc, escape_makes_text_terminal_safe);
  tcase_add_test(tc, time_parse_and_format);
  tcase_add_test(tc, json_parses_and_rejects);
  tcase_add_test(tc, json_writer_escapes);
  tcase_add_test(tc, crypto_digests_and_hmac);
  tcase_add_test(tc, crypto_aes_ctr_continuous);
  tcase_add_test(tc, crypto_x25519_and_ed25519);
  tcase_add_test(tc, crypto_rsa_raw_signature);
  tcase_add_test(tc, crypto_rsa_der_strict);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_suite(lib_suite()); }
