/* exitprobe — unit tests of the streaming inflater and its bomb guard. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "lib/caps.h"
#include "lib/crypto.h"
#include "lib/encode.h"
#include "probe/dirclient/inflate.h"
#include "testutil.h"

/* SHA-256 of the uncompressed cached-microdesc-consensus (2,112,273 bytes) of
 * tests/data/http/cached-microdesc-consensus.z (see tests/data/README.md). */
#define REAL_MD_CONSENSUS_LEN 2112273u
#define REAL_MD_CONSENSUS_SHA256 \
  "50900a43bbb0fb5d8dc04247faec23dfaa98fdfc0604e9f84c9895806857fb89"

/* Compress with zlib (windowBits 15: zlib, 31: gzip, -15: raw). */
static uint8_t *squeeze(const uint8_t *in, size_t n, int wbits, size_t *outlen) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  ck_assert_int_eq(deflateInit2(&zs, 9, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY), Z_OK);
  size_t cap = deflateBound(&zs, (uLong)n) + 64;
  uint8_t *out = malloc(cap);
  ck_assert_ptr_nonnull(out);
  zs.next_in = (Bytef *)(uintptr_t)in;
  zs.avail_in = (uInt)n;
  zs.next_out = out;
  zs.avail_out = (uInt)cap;
  ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
  *outlen = cap - zs.avail_out;
  deflateEnd(&zs);
  return out;
}

/* Some text that compresses moderately. */
static uint8_t *sample_text(size_t n) {
  uint8_t *p = malloc(n);
  ck_assert_ptr_nonnull(p);
  uint32_t x = 7;
  for (size_t i = 0; i < n; i++) {
    x = x * 1664525u + 1013904223u;
    p[i] = (i % 61 == 60) ? '\n' : (uint8_t)('a' + (x >> 24) % 12);
  }
  return p;
}

/* Inflate in pieces of `step` bytes (0: all at once); returns the status of
 * the last feed (or finish) and the output in *out. */
static int inflate_steps(ep_inflate_fmt_t fmt, const uint8_t *in, size_t n, size_t step,
                         size_t abs_cap, ep_buf_t *out, ep_err_t *err) {
  ep_inflate_t *z = ep_inflate_new(fmt, abs_cap, err);
  ck_assert_ptr_nonnull(z);
  int rc = EP_NEED_MORE;
  size_t off = 0;
  if (step == 0) {
    step = n;
  }
  while (off < n) {
    size_t k = n - off < step ? n - off : step;
    rc = ep_inflate_feed(z, in + off, k, out, err);
    if (rc < 0) {
      ep_inflate_free(z);
      return rc;
    }
    off += k;
  }
  rc = ep_inflate_finish(z, err);
  ep_inflate_free(z);
  return rc;
}

START_TEST(roundtrip_whole_and_byte_by_byte) {
  size_t n = 50000;
  uint8_t *text = sample_text(n);
  size_t zn;
  uint8_t *zdata = squeeze(text, n, 15, &zn);
  size_t steps[] = {0, 1, 2, 3, 7, 100, 4096, 65536};
  for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
    ep_buf_t out;
    ep_buf_init(&out, EP_CAP_DIR_DOCUMENT, "inflated", 0);
    ep_err_t err = {0};
    int rc = inflate_steps(EP_INFLATE_ZLIB, zdata, zn, steps[i], EP_CAP_DIR_DOCUMENT, &out, &err);
    ck_assert_msg(rc == EP_OK, "step %zu: %s", steps[i], err.msg);
    ck_assert_uint_eq(out.len, n);
    ck_assert(memcmp(out.data, text, n) == 0);
    ep_buf_free(&out);
  }
  /* The one-shot form. */
  uint8_t *flat;
  size_t flen;
  ep_err_t err = {0};
  ck_assert_int_eq(ep_inflate_all(zdata, zn, EP_CAP_DIR_DOCUMENT, &flat, &flen, &err), EP_OK);
  ck_assert_uint_eq(flen, n);
  ck_assert(memcmp(flat, text, n) == 0);
  ck_assert_int_eq(flat[flen], 0);
  free(flat);
  free(zdata);
  free(text);
}
END_TEST

START_TEST(gzip_is_detected_and_raw_works) {
  size_t n = 10000;
  uint8_t *text = sample_text(n);
  size_t gn, rn;
  uint8_t *gz = squeeze(text, n, 31, &gn);
  uint8_t *raw = squeeze(text, n, -15, &rn);
  ck_assert_uint_eq(gz[0], 0x1f);
  ep_buf_t out;
  ep_buf_init(&out, EP_CAP_DIR_DOCUMENT, "inflated", 0);
  ep_err_t err = {0};
  ck_assert_int_eq(inflate_steps(EP_INFLATE_AUTO, gz, gn, 1, EP_CAP_DIR_DOCUMENT, &out, &err),
                   EP_OK);
  ck_assert_uint_eq(out.len, n);
  ck_assert(memcmp(out.data, text, n) == 0);
  ep_buf_clear(&out);
  ck_assert_int_eq(inflate_steps(EP_INFLATE_RAW, raw, rn, 0, EP_CAP_DIR_DOCUMENT, &out, &err),
                   EP_OK);
  ck_assert(out.len == n && memcmp(out.data, text, n) == 0);
  ep_buf_clear(&out);
  /* zlib-only refuses gzip. */
  ck_assert_int_eq(inflate_steps(EP_INFLATE_ZLIB, gz, gn, 0, EP_CAP_DIR_DOCUMENT, &out, &err),
                   EP_ERR_MALFORMED);
  ck_assert_msg(strstr(err.msg, "byte ") != NULL, "%s", err.msg);
  ep_buf_free(&out);
  free(gz);
  free(raw);
  free(text);
}
END_TEST

START_TEST(concatenated_streams_are_inflated_in_turn) {
  const char *a = "first document\n";
  const char *b = "second document\n";
  size_t an, bn;
  uint8_t *za = squeeze((const uint8_t *)a, strlen(a), 15, &an);
  uint8_t *zb = squeeze((const uint8_t *)b, strlen(b), 15, &bn);
  uint8_t *both = malloc(an + bn);
  memcpy(both, za, an);
  memcpy(both + an, zb, bn);
  for (size_t step = 0; step <= 3; step++) {
    ep_buf_t out;
    ep_buf_init(&out, 4096, "inflated", 0);
    ep_err_t err = {0};
    ck_assert_int_eq(inflate_steps(EP_INFLATE_AUTO, both, an + bn, step, 1 << 20, &out, &err),
                     EP_OK);
    ck_assert_uint_eq(out.len, strlen(a) + strlen(b));
    ck_assert(memcmp(out.data, "first document\nsecond document\n", out.len) == 0);
    ep_buf_free(&out);
  }
  /* Garbage after the first stream is an error, named as such. */
  memcpy(both + an, "garbage!", 8);
  ep_buf_t out;
  ep_buf_init(&out, 4096, "inflated", 0);
  ep_err_t err = {0};
  ck_assert_int_eq(inflate_steps(EP_INFLATE_AUTO, both, an + 8, 0, 1 << 20, &out, &err),
                   EP_ERR_MALFORMED);
  ck_assert_msg(strstr(err.msg, "after the end of stream 1") != NULL, "%s", err.msg);
  ep_buf_free(&out);
  free(both);
  free(za);
  free(zb);
}
END_TEST

START_TEST(truncated_and_corrupt_input) {
  size_t n = 20000;
  uint8_t *text = sample_text(n);
  size_t zn;
  uint8_t *zdata = squeeze(text, n, 15, &zn);
  /* Every prefix short of the whole is truncated (checked every 97 bytes,
   * and every byte of the last 97). */
  for (size_t cut = 0; cut < zn; cut += (cut + 97 < zn) ? 97 : 1) {
    ep_buf_t out;
    ep_buf_init(&out, EP_CAP_DIR_DOCUMENT, "inflated", 0);
    ep_err_t err = {0};
    int rc = inflate_steps(EP_INFLATE_AUTO, zdata, cut, 0, EP_CAP_DIR_DOCUMENT, &out, &err);
    ck_assert_msg(rc == EP_ERR_TRUNCATED, "cut %zu of %zu: %d %s", cut, zn, rc, err.msg);
    ep_buf_free(&out);
  }
  /* A flipped bit in the data or in the Adler-32 trailer. */
  size_t spots[] = {zn / 2, zn - 1};
  for (size_t i = 0; i < 2; i++) {
    zdata[spots[i]] ^= 0x10;
    ep_buf_t out;
    ep_buf_init(&out, EP_CAP_DIR_DOCUMENT, "inflated", 0);
    ep_err_t err = {0};
    int rc = inflate_steps(EP_INFLATE_AUTO, zdata, zn, 0, EP_CAP_DIR_DOCUMENT, &out, &err);
    ck_assert_msg(rc == EP_ERR_MALFORMED, "flip at %zu: %d %s", spots[i], rc, err.msg);
    ck_assert_msg(strncmp(err.msg, "deflate: byte ", 14) == 0, "%s", err.msg);
    zdata[spots[i]] ^= 0x10;
    ep_buf_free(&out);
  }
  /* Not compressed at all. */
  ep_buf_t out;
  ep_buf_init(&out, 4096, "inflated", 0);
  ep_err_t err = {0};
  const char *plain = "network-status-version 3\n";
  ck_assert_int_eq(inflate_steps(EP_INFLATE_AUTO, (const uint8_t *)plain, strlen(plain), 0, 4096,
                                 &out, &err),
                   EP_ERR_MALFORMED);
  /* An error is sticky. */
  ep_inflate_t *z = ep_inflate_new(EP_INFLATE_AUTO, 4096, &err);
  ck_assert_int_eq(ep_inflate_feed(z, (const uint8_t *)plain, strlen(plain), &out, &err),
                   EP_ERR_MALFORMED);
  ck_assert_int_eq(ep_inflate_feed(z, zdata, zn, &out, &err), EP_ERR_MALFORMED);
  ck_assert_int_eq(ep_inflate_finish(z, &err), EP_ERR_MALFORMED);
  ep_inflate_free(z);
  ep_inflate_free(NULL);
  ep_buf_free(&out);
  free(zdata);
  free(text);
}
END_TEST

/* 100 MB of zeros, deflated at run time without holding 100 MB. */
static uint8_t *make_bomb(size_t *outlen) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  ck_assert_int_eq(deflateInit(&zs, 9), Z_OK);
  static uint8_t zeros[1 << 20];
  size_t cap = 1 << 20, len = 0;
  uint8_t *out = malloc(cap);
  ck_assert_ptr_nonnull(out);
  for (int i = 0; i < 100; i++) {
    zs.next_in = zeros;
    zs.avail_in = sizeof zeros;
    int flush = i == 99 ? Z_FINISH : Z_NO_FLUSH;
    do {
      zs.next_out = out + len;
      zs.avail_out = (uInt)(cap - len);
      int ret = deflate(&zs, flush);
      ck_assert(ret == Z_OK || ret == Z_STREAM_END || ret == Z_BUF_ERROR);
      len = cap - zs.avail_out;
      ck_assert_uint_lt(len, cap); /* 100 MB of zeros is ~100 kB */
    } while (zs.avail_in > 0 || (flush == Z_FINISH && zs.avail_out == 0));
  }
  deflateEnd(&zs);
  *outlen = len;
  return out;
}

START_TEST(deflate_bomb_is_a_limit) {
  size_t bn;
  uint8_t *bomb = make_bomb(&bn);
  ck_assert_uint_lt(bn, 200 * 1024);
  size_t steps[] = {0, 1000};
  for (size_t i = 0; i < 2; i++) {
    ep_buf_t out;
    ep_buf_init(&out, EP_CAP_DIR_DOCUMENT, "inflated", 0);
    ep_err_t err = {0};
    ep_inflate_t *z = ep_inflate_new(EP_INFLATE_AUTO, EP_CAP_DIR_DOCUMENT, &err);
    int rc = EP_NEED_MORE;
    size_t off = 0, step = steps[i] == 0 ? bn : steps[i];
    while (off < bn && rc >= 0) {
      size_t k = bn - off < step ? bn - off : step;
      rc = ep_inflate_feed(z, bomb + off, k, &out, &err);
      off += k;
    }
    ck_assert_int_eq(rc, EP_ERR_LIMIT);
    ck_assert_msg(strstr(err.msg, "deflate bomb") != NULL, "%s", err.msg);
    /* Never more than the guard allows for what was fed. */
    ck_assert_uint_le(out.len, ep_inflate_allowance(EP_CAP_DIR_DOCUMENT, off));
    ck_assert_uint_le(ep_inflate_total_out(z), ep_inflate_allowance(EP_CAP_DIR_DOCUMENT, off));
    ck_assert_uint_lt(out.alloc, 16 * EP_MiB);
    ep_inflate_free(z);
    ep_buf_free(&out);
  }
  uint8_t *flat = NULL;
  size_t flen = 0;
  ep_err_t err = {0};
  ck_assert_int_eq(ep_inflate_all(bomb, bn, EP_CAP_DIR_DOCUMENT, &flat, &flen, &err), EP_ERR_LIMIT);
  ck_assert_ptr_null(flat);
  free(bomb);
}
END_TEST

START_TEST(absolute_and_buffer_caps) {
  size_t n = 100000;
  uint8_t *text = sample_text(n);
  size_t zn;
  uint8_t *zdata = squeeze(text, n, 15, &zn);
  ep_buf_t out;
  ep_buf_init(&out, EP_CAP_DIR_DOCUMENT, "inflated", 0);
  ep_err_t err = {0};
  /* Exactly the size fits; one byte less does not. */
  ck_assert_int_eq(inflate_steps(EP_INFLATE_AUTO, zdata, zn, 0, n, &out, &err), EP_OK);
  ep_buf_clear(&out);
  ck_assert_int_eq(inflate_steps(EP_INFLATE_AUTO, zdata, zn, 0, n - 1, &out, &err), EP_ERR_LIMIT);
  ck_assert_msg(strstr(err.msg, "cap of 99999 bytes") != NULL, "%s", err.msg);
  ck_assert_uint_le(out.len, n - 1);
  ep_buf_free(&out);
  /* The output buffer's own cap. */
  ep_buf_init(&out, 5000, "consensus", 0);
  ck_assert_int_eq(inflate_steps(EP_INFLATE_AUTO, zdata, zn, 0, n, &out, &err), EP_ERR_LIMIT);
  ck_assert_msg(strstr(err.msg, "consensus cap of 5000 bytes") != NULL, "%s", err.msg);
  ck_assert_uint_eq(out.len, 5000);
  ep_buf_free(&out);
  /* The allowance arithmetic. */
  ck_assert_uint_eq(ep_inflate_allowance(SIZE_MAX, 0), EP_CAP_INFLATE_SLACK);
  ck_assert_uint_eq(ep_inflate_allowance(SIZE_MAX, 1000),
                    1000u * EP_CAP_INFLATE_RATIO + EP_CAP_INFLATE_SLACK);
  ck_assert_uint_eq(ep_inflate_allowance(12345, 1000000), 12345);
  ck_assert_uint_eq(ep_inflate_allowance(SIZE_MAX, UINT64_MAX), SIZE_MAX);
  /* No input at all is truncated; an empty stream is fine. */
  ep_inflate_t *z = ep_inflate_new(EP_INFLATE_AUTO, 100, &err);
  ck_assert_int_eq(ep_inflate_finish(z, &err), EP_ERR_TRUNCATED);
  ep_inflate_free(z);
  size_t en;
  uint8_t *empty = squeeze((const uint8_t *)"", 0, 15, &en);
  uint8_t *flat;
  size_t flen;
  ck_assert_int_eq(ep_inflate_all(empty, en, 100, &flat, &flen, &err), EP_OK);
  ck_assert_uint_eq(flen, 0);
  free(flat);
  free(empty);
  free(zdata);
  free(text);
}
END_TEST

static void check_real_consensus(const uint8_t *data, size_t len) {
  char hex[2 * EP_SHA256_LEN + 1];
  uint8_t d[EP_SHA256_LEN];
  ck_assert_uint_eq(len, REAL_MD_CONSENSUS_LEN);
  ep_sha256(d, data, len);
  ep_hex_encode(hex, sizeof hex, d, sizeof d, false);
  ck_assert_str_eq(hex, REAL_MD_CONSENSUS_SHA256);
  ck_assert(memcmp(data, "network-status-version 3 microdesc\n", 35) == 0);
}

START_TEST(real_microdesc_consensus_z) {
  size_t zn;
  uint8_t *zdata = tu_read_data("http/cached-microdesc-consensus.z", &zn);
  ck_assert_uint_eq(zn, 568728);
  size_t steps[] = {0, 1, 13, 1500, 65536};
  for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
    ep_buf_t out;
    ep_buf_init(&out, EP_CAP_CONSENSUS, "consensus", 0);
    ep_err_t err = {0};
    int rc = inflate_steps(EP_INFLATE_AUTO, zdata, zn, steps[i], EP_CAP_CONSENSUS, &out, &err);
    ck_assert_msg(rc == EP_OK, "step %zu: %s", steps[i], err.msg);
    check_real_consensus(out.data, out.len);
    ep_buf_free(&out);
  }
  /* Cut anywhere: truncated. */
  ep_buf_t out;
  ep_buf_init(&out, EP_CAP_CONSENSUS, "consensus", 0);
  ep_err_t err = {0};
  ck_assert_int_eq(inflate_steps(EP_INFLATE_AUTO, zdata, zn - 1, 0, EP_CAP_CONSENSUS, &out, &err),
                   EP_ERR_TRUNCATED);
  ep_buf_free(&out);
  free(zdata);
}
END_TEST

static Suite *inflate_suite(void) {
  Suite *s = suite_create("inflate");
  TCase *t = tcase_create("inflate");
  tcase_set_timeout(t, 120);
  tcase_add_test(t, roundtrip_whole_and_byte_by_byte);
  tcase_add_test(t, gzip_is_detected_and_raw_works);
  tcase_add_test(t, concatenated_streams_are_inflated_in_turn);
  tcase_add_test(t, truncated_and_corrupt_input);
  tcase_add_test(t, deflate_bomb_is_a_limit);
  tcase_add_test(t, absolute_and_buffer_caps);
  tcase_add_test(t, real_microdesc_consensus_z);
  suite_add_tcase(s, t);
  return s;
}

int main(void) { return tu_run_suite(inflate_suite()); }
