/* exitprobe — helpers shared by the Check unit tests. */
#include "config.h"

#include "testutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"
#include "lib/encode.h"

const char *tu_data_path(const char *rel) {
  static char path[4096];
  const char *dir = getenv("EP_TEST_DATA_DIR");
  if (dir == NULL || dir[0] == '\0') {
    dir = EP_TEST_DATA_DIR;
  }
  snprintf(path, sizeof path, "%s/%s", dir, rel);
  return path;
}

uint8_t *tu_read_data(const char *rel, size_t *len) {
  const char *path = tu_data_path(rel);
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "cannot open test data %s", path);
  ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
  long n = ftell(f);
  ck_assert_int_ge(n, 0);
  ck_assert_int_eq(fseek(f, 0, SEEK_SET), 0);
  uint8_t *buf = malloc((size_t)n + 1);
  ck_assert_ptr_nonnull(buf);
  ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  buf[n] = 0;
  if (len != NULL) {
    *len = (size_t)n;
  }
  return buf;
}

ep_json_t *tu_read_json(const char *rel) {
  size_t n;
  uint8_t *text = tu_read_data(rel, &n);
  ep_err_t err = {0};
  ep_json_t *j = ep_json_parse((const char *)text, n, &err);
  ck_assert_msg(j != NULL, "%s: %s", rel, err.msg);
  free(text);
  return j;
}

uint8_t *tu_unhex(const char *hex, size_t *len) {
  size_t n = strlen(hex);
  ck_assert_msg(n % 2 == 0, "odd hex length %zu", n);
  uint8_t *out = malloc(n / 2 + 1);
  ck_assert_ptr_nonnull(out);
  ssize_t got = ep_hex_decode(out, n / 2 + 1, hex, n);
  ck_assert_msg(got == (ssize_t)(n / 2), "bad hex: %.40s", hex);
  if (len != NULL) {
    *len = (size_t)got;
  }
  return out;
}

uint8_t *tu_hex_member(const ep_json_t *obj, const char *key, size_t *len) {
  const char *hex = ep_json_get_str(obj, key);
  ck_assert_msg(hex != NULL, "vector has no string member '%s'", key);
  return tu_unhex(hex, len);
}

int tu_run_suite(Suite *s) {
  if (ep_crypto_init() != 0) {
    fprintf(stderr, "cannot initialise libsodium\n");
    return 1;
  }
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? 0 : 1;
}
