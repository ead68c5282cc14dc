/* exitprobe — fuzz harness: the bounded JSON reader and the JSON string
 * writer (src/lib/json.h).
 *
 * The input is parsed; a document that parses is walked through every
 * accessor and written back: each string (keys too) on its own with
 * ep_json_put_str, then the whole document, and the output is parsed again.
 * Asserted: what ep_json_put_str writes always parses; a string that was
 * valid UTF-8 comes back byte for byte (NULs included); the rewritten
 * document has the same shape, the same integers and the same numbers; an
 * integer said to be exact is the number parsed. */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/caps.h"
#include "lib/err.h"
#include "lib/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                    \
  do {                                                                      \
    if (!(cond)) {                                                          \
      fprintf(stderr, "fuzz_json: property failed: %s (line %d)\n", #cond, \
              __LINE__);                                                    \
      abort();                                                              \
    }                                                                       \
  } while (0)

/* Strict UTF-8 (RFC 3629): no overlongs, no surrogates, nothing past
 * U+10FFFF. Written here independently of src/lib/json.c. */
static bool valid_utf8(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    size_t need;
    uint32_t cp;
    uint32_t min;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      need = 1;
      cp = c & 0x1fu;
      min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      cp = c & 0x0fu;
      min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      cp = c & 0x07u;
      min = 0x10000;
    } else {
      return false;
    }
    if (n - i - 1 < need) {
      return false;
    }
    for (size_t k = 1; k <= need; k++) {
      if ((s[i + k] & 0xc0) != 0x80) {
        return false;
      }
      cp = cp << 6 | (s[i + k] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += need + 1;
  }
  return true;
}

/* ep_json_put_str of s, parsed back: always a string; the same bytes when s
 * was valid UTF-8, valid UTF-8 in any case. */
static void string_round_trip(const char *s, size_t n) {
  ep_buf_t b;
  ep_buf_init(&b, 6 * n + 16, "fuzz json string", 0);
  ep_err_t err = {0};
  FUZZ_CHECK(ep_json_put_str(&b, s, n, &err) == EP_OK);
  FUZZ_CHECK(b.len >= 2 && b.data[0] == '"' && b.data[b.len - 1] == '"');
  for (size_t i = 0; i < b.len; i++) {
    FUZZ_CHECK(b.data[i] >= 0x20 && b.data[i] != 0x7f);   /* no raw control bytes out */
  }
  ep_json_t *back = ep_json_parse((const char *)b.data, b.len, &err);
  FUZZ_CHECK(back != NULL);
  size_t blen = 0;
  const char *bs = ep_json_str(back, &blen);
  FUZZ_CHECK(bs != NULL);
  FUZZ_CHECK(bs[blen] == '\0');
  FUZZ_CHECK(valid_utf8((const uint8_t *)bs, blen));
  if (valid_utf8((const uint8_t *)s, n)) {
    FUZZ_CHECK(blen == n && memcmp(bs, s, n) == 0);
  }
  ep_json_free(back);
  ep_buf_free(&b);
}

/* Writes v back as JSON (strings through ep_json_put_str). */
static int write_value(ep_buf_t *out, const ep_json_t *v) {
  switch (ep_json_type(v)) {
    case EP_JSON_NULL:
      return ep_buf_append_str(out, "null", NULL);
    case EP_JSON_BOOL:
      return ep_buf_append_str(out, ep_json_bool(v, false) ? "true" : "false", NULL);
    case EP_JSON_NUMBER: {
      int64_t i;
      if (ep_json_int(v, &i)) {
        return ep_buf_printf(out, NULL, "%" PRId64, i);
      }
      return ep_buf_printf(out, NULL, "%.17g", ep_json_num(v, 0));
    }
    case EP_JSON_STRING: {
      size_t n = 0;
      const char *s = ep_json_str(v, &n);
      return ep_json_put_str(out, s, n, NULL);
    }
    case EP_JSON_ARRAY:
    case EP_JSON_OBJECT: {
      bool obj = ep_json_type(v) == EP_JSON_OBJECT;
      int rc = ep_buf_append_str(out, obj ? "{" : "[", NULL);
      for (size_t i = 0; i < ep_json_count(v) && rc == EP_OK; i++) {
        if (i > 0) {
          rc = ep_buf_append_str(out, ",", NULL);
        }
        if (obj && rc == EP_OK) {
          const char *k = ep_json_key_at(v, i);
          rc = ep_json_put_str(out, k, strlen(k), NULL);
          if (rc == EP_OK) {
            rc = ep_buf_append_str(out, ":", NULL);
          }
        }
        if (rc == EP_OK) {
          rc = write_value(out, ep_json_at(v, i));
        }
      }
      if (rc == EP_OK) {
        rc = ep_buf_append_str(out, obj ? "}" : "]", NULL);
      }
      return rc;
    }
  }
  return EP_ERR_INTERNAL;
}

/* Every accessor on every node; each string (and key) round-tripped. */
static void walk(const ep_json_t *v) {
  ep_json_type_t t = ep_json_type(v);
  size_t n = 0;
  const char *s = ep_json_str(v, &n);
  FUZZ_CHECK((s != NULL) == (t == EP_JSON_STRING));
  int64_t i64;
  bool is_int = ep_json_int(v, &i64);
  FUZZ_CHECK(!is_int || t == EP_JSON_NUMBER);
  if (is_int) {
    /* Exact: the integer, rounded to a double, is the number parsed. */
    FUZZ_CHECK((double)i64 == ep_json_num(v, NAN));
  }
  if (t == EP_JSON_NUMBER) {
    FUZZ_CHECK(isfinite(ep_json_num(v, NAN)));
  }
  if (t == EP_JSON_STRING) {
    string_round_trip(s, n);
  }
  size_t count = ep_json_count(v);
  FUZZ_CHECK(count == 0 || t == EP_JSON_ARRAY || t == EP_JSON_OBJECT);
  FUZZ_CHECK(ep_json_at(v, count) == NULL);
  for (size_t i = 0; i < count; i++) {
    const ep_json_t *item = ep_json_at(v, i);
    FUZZ_CHECK(item != NULL);
    const char *k = ep_json_key_at(v, i);
    FUZZ_CHECK((k != NULL) == (t == EP_JSON_OBJECT));
    if (k != NULL) {
      string_round_trip(k, strlen(k));
      FUZZ_CHECK(ep_json_get(v, k) != NULL);   /* the first member of that name */
      (void)ep_json_get_str(v, k);
    }
    walk(item);
  }
}

/* a and b have the same shape and values (b was written from a). */
static void same(const ep_json_t *a, const ep_json_t *b) {
  FUZZ_CHECK(ep_json_type(a) == ep_json_type(b));
  switch (ep_json_type(a)) {
    case EP_JSON_BOOL:
      FUZZ_CHECK(ep_json_bool(a, false) == ep_json_bool(b, true));
      break;
    case EP_JSON_NUMBER: {
      int64_t ia;
      int64_t ib;
      if (ep_json_int(a, &ia)) {
        FUZZ_CHECK(ep_json_int(b, &ib) && ia == ib);
      }
      FUZZ_CHECK(ep_json_num(a, NAN) == ep_json_num(b, NAN));
      break;
    }
    case EP_JSON_STRING: {
      size_t na = 0;
      size_t nb = 0;
      const char *sa = ep_json_str(a, &na);
      const char *sb = ep_json_str(b, &nb);
      if (valid_utf8((const uint8_t *)sa, na)) {
        FUZZ_CHECK(na == nb && memcmp(sa, sb, na) == 0);
      }
      break;
    }
    case EP_JSON_ARRAY:
    case EP_JSON_OBJECT:
      FUZZ_CHECK(ep_json_count(a) == ep_json_count(b));
      for (size_t i = 0; i < ep_json_count(a); i++) {
        const char *ka = ep_json_key_at(a, i);
        const char *kb = ep_json_key_at(b, i);
        if (ka != NULL && valid_utf8((const uint8_t *)ka, strlen(ka))) {
          FUZZ_CHECK(kb != NULL && strcmp(ka, kb) == 0);
        }
        same(ep_json_at(a, i), ep_json_at(b, i));
      }
      break;
    case EP_JSON_NULL:
      break;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ep_err_t err = {0};
  ep_json_t *doc = ep_json_parse((const char *)data, size, &err);
  if (doc == NULL) {
    FUZZ_CHECK(err.code != EP_OK && err.msg[0] != '\0');
    return 0;
  }
  walk(doc);

  /* The whole document written back parses to the same document. Numbers
   * can grow to 24 bytes and bytes to 6: the cap covers both. */
  ep_buf_t out;
  ep_buf_init(&out, 32 * size + 64, "fuzz json document", 0);
  FUZZ_CHECK(write_value(&out, doc) == EP_OK);
  if (out.len <= EP_CAP_JSON_INPUT) {
    ep_json_t *again = ep_json_parse((const char *)out.data, out.len, &err);
    if (again == NULL) {
      fprintf(stderr, "fuzz_json: rewritten document does not parse: %s\n", err.msg);
    }
    FUZZ_CHECK(again != NULL);
    same(doc, again);
    ep_json_free(again);
  }
  ep_buf_free(&out);
  ep_json_free(doc);
  return 0;
}
