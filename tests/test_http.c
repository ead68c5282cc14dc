/* exitprobe — unit tests of the HTTP/1.0 request builder, the response
 * parser (split anywhere, bad input, caps, deflate) and the DirPort fetcher
 * against an in-test server on 127.0.0.1. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "lib/caps.h"
#include "lib/crypto.h"
#include "lib/encode.h"
#include "lib/timeutil.h"
#include "probe/dirclient/http.h"
#include "probe/net/loop.h"
#include "testutil.h"

#define ORIGIN "127.0.0.1:7000"
#define REAL_MD_CONSENSUS_SHA256 \
  "50900a43bbb0fb5d8dc04247faec23dfaa98fdfc0604e9f84c9895806857fb89"

/* ---- helpers ---- */

static uint8_t *zcompress(const void *in, size_t n, size_t *outlen) {
  uLongf cap = compressBound((uLong)n);
  uint8_t *out = malloc(cap);
  ck_assert_ptr_nonnull(out);
  ck_assert_int_eq(compress2(out, &cap, in, (uLong)n, 9), Z_OK);
  *outlen = cap;
  return out;
}

/* head + body into one malloc'd response. */
static uint8_t *join(const char *head, const uint8_t *body, size_t blen, size_t *len) {
  size_t hl = strlen(head);
  uint8_t *p = malloc(hl + blen + 1);
  ck_assert_ptr_nonnull(p);
  memcpy(p, head, hl);
  if (blen > 0) {
    memcpy(p + hl, body, blen);
  }
  *len = hl + blen;
  return p;
}

typedef struct outcome {
  int rc;
  int status;
  size_t nheaders;
  ep_http_enc_t enc;
  uint8_t *body;
  size_t blen;
  ep_err_t err;
} outcome_t;

/* Feed `data` cut at the offsets in cuts[] (ascending), then EOF. */
static outcome_t run_cuts(const uint8_t *data, size_t n, const size_t *cuts, size_t ncuts,
                          const ep_http_limits_t *lim) {
  outcome_t o;
  memset(&o, 0, sizeof o);
  ep_http_resp_t *r = ep_http_resp_new(ORIGIN, lim, &o.err);
  ck_assert_ptr_nonnull(r);
  size_t off = 0;
  int rc = EP_NEED_MORE;
  for (size_t i = 0; i <= ncuts && rc >= 0; i++) {
    size_t end = i < ncuts ? cuts[i] : n;
    rc = ep_http_resp_feed(r, data + off, end - off, &o.err);
    off = end;
  }
  if (rc >= 0) {
    rc = ep_http_resp_finish(r, &o.err);
  }
  o.rc = rc;
  o.status = ep_http_resp_status(r);
  o.nheaders = ep_http_resp_header_count(r);
  o.enc = ep_http_resp_encoding(r);
  const uint8_t *b = ep_http_resp_body(r, &o.blen);
  o.body = malloc(o.blen + 1);
  ck_assert_ptr_nonnull(o.body);
  memcpy(o.body, b, o.blen);
  ep_http_resp_free(r);
  return o;
}

static outcome_t run_whole(const uint8_t *data, size_t n, const ep_http_limits_t *lim) {
  return run_cuts(data, n, NULL, 0, lim);
}

static void same_outcome(const outcome_t *a, const outcome_t *b, const char *what) {
  ck_assert_msg(a->rc == b->rc, "%s: rc %d vs %d (%s | %s)", what, a->rc, b->rc, a->err.msg,
                b->err.msg);
  ck_assert_msg(a->status == b->status, "%s: status", what);
  if (a->rc >= 0) {
    ck_assert_msg(a->nheaders == b->nheaders, "%s: headers", what);
    ck_assert_msg(a->enc == b->enc, "%s: encoding", what);
    ck_assert_msg(a->blen == b->blen && memcmp(a->body, b->body, a->blen) == 0, "%s: body", what);
  }
}

/* All at once == one byte at a time == every two-piece split. */
static outcome_t check_splits(const uint8_t *data, size_t n, const ep_http_limits_t *lim) {
  outcome_t whole = run_whole(data, n, lim);
  size_t *cuts = malloc((n + 1) * sizeof *cuts);
  ck_assert_ptr_nonnull(cuts);
  for (size_t i = 0; i < n; i++) {
    cuts[i] = i + 1;
  }
  outcome_t bytes = run_cuts(data, n, cuts, n > 0 ? n - 1 : 0, lim);
  same_outcome(&whole, &bytes, "byte by byte");
  free(bytes.body);
  for (size_t k = 0; k <= n; k++) {
    outcome_t two = run_cuts(data, n, &k, 1, lim);
    char what[48];
    snprintf(what, sizeof what, "split at %zu", k);
    same_outcome(&whole, &two, what);
    free(two.body);
  }
  free(cuts);
  return whole;
}

static outcome_t parse_str(const char *s, const ep_http_limits_t *lim) {
  return run_whole((const uint8_t *)s, strlen(s), lim);
}

/* ---- the request ---- */

START_TEST(request_is_what_tor_expects) {
  ep_buf_t b;
  ep_buf_init(&b, 4096, "request", 0);
  ep_err_t err = {0};
  ck_assert_int_eq(
      ep_http_build_get(&b, "127.0.0.1:7000", "/tor/status-vote/current/consensus-microdesc", &err),
      EP_OK);
  const char *want =
      "GET /tor/status-vote/current/consensus-microdesc HTTP/1.0\r\n"
      "Host: 127.0.0.1:7000\r\n"
      "Accept-Encoding: deflate, identity\r\n"
      "\r\n";
  ck_assert_uint_eq(b.len, strlen(want));
  ck_assert(memcmp(b.data, want, b.len) == 0);
  /* Header injection and junk paths are refused, leaving b as it was. */
  const char *bad[] = {"tor/keys/all", "/a b", "/a\r\nX-Evil: 1", "", "/caf\xc3\xa9"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ck_assert_int_eq(ep_http_build_get(&b, "h", bad[i], &err), EP_ERR_MALFORMED);
  }
  ck_assert_int_eq(ep_http_build_get(&b, "h\r\nX: y", "/", &err), EP_ERR_MALFORMED);
  ck_assert_uint_eq(b.len, strlen(want));
  /* The request buffer's cap holds. */
  ep_buf_t small;
  ep_buf_init(&small, 16, "request", 0);
  ck_assert_int_eq(ep_http_build_get(&small, "h", "/tor/keys/all", &err), EP_ERR_LIMIT);
  ck_assert_uint_eq(small.len, 0);
  ep_buf_free(&small);
  ep_buf_free(&b);
}
END_TEST

/* ---- the parser: good responses ---- */

START_TEST(parse_identity_with_content_length) {
  const char *s =
      "HTTP/1.0 200 OK\r\n"
      "Date: Sat, 19 Nov 2022 10:00:00 GMT\r\n"
      "Content-Type: text/plain\r\n"
      "content-length:  11 \r\n"
      "X-Your-Address-Is: 127.0.0.1\r\n"
      "\r\n"
      "hello world";
  ep_err_t err = {0};
  ep_http_resp_t *r = ep_http_resp_new(ORIGIN, NULL, &err);
  ck_assert(!ep_http_resp_headers_done(r));
  ck_assert_int_eq(ep_http_resp_feed(r, (const uint8_t *)s, strlen(s), &err), EP_OK);
  ck_assert(ep_http_resp_complete(r));
  ck_assert(ep_http_resp_headers_done(r));
  ck_assert_int_eq(ep_http_resp_status(r), 200);
  ck_assert_str_eq(ep_http_resp_reason(r), "OK");
  ck_assert_int_eq(ep_http_resp_minor_version(r), 0);
  ck_assert_uint_eq(ep_http_resp_header_count(r), 4);
  ck_assert_str_eq(ep_http_resp_header(r, "CONTENT-TYPE"), "text/plain");
  ck_assert_str_eq(ep_http_resp_header(r, "Content-Length"), "11");
  ck_assert_ptr_null(ep_http_resp_header(r, "Content-Encoding"));
  const char *n, *v;
  ck_assert_int_eq(ep_http_resp_header_at(r, 3, &n, &v), 0);
  ck_assert_str_eq(n, "X-Your-Address-Is");
  ck_assert_str_eq(v, "127.0.0.1");
  ck_assert_int_eq(ep_http_resp_header_at(r, 4, &n, &v), -1);
  ck_assert_int_eq(ep_http_resp_content_length(r), 11);
  ck_assert_int_eq(ep_http_resp_encoding(r), EP_HTTP_ENC_IDENTITY);
  ck_assert_str_eq(ep_http_resp_origin(r), ORIGIN);
  /* Complete: EOF is fine, and more bytes are not. */
  ck_assert_int_eq(ep_http_resp_finish(r, &err), EP_OK);
  size_t len;
  uint8_t *body = ep_http_resp_take_body(r, &len, &err);
  ck_assert_uint_eq(len, 11);
  ck_assert_str_eq((char *)body, "hello world");
  free(body);
  ck_assert_int_eq(ep_http_resp_feed(r, (const uint8_t *)"x", 1, &err), EP_ERR_MALFORMED);
  ck_assert_str_eq(err.msg, "http from " ORIGIN ": 1 bytes after the end of the response");
  ep_http_resp_free(r);
  ep_http_resp_free(NULL);
}
END_TEST

START_TEST(every_split_point_gives_the_same_result) {
  /* Identity, with and without Content-Length; LF-only lines; no body. */
  const char *plain[] = {
      "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world",
      "HTTP/1.0 200 OK\r\nServer: x\r\n\r\nbody that ends at EOF\n",
      "HTTP/1.1 200 OK\nContent-Length: 3\n\nabc",
      "HTTP/1.0 404 Not found\r\n\r\n",
      "HTTP/1.0 503 Directory busy, try again later\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.0 200\r\n\r\n",
  };
  int want_status[] = {200, 200, 200, 404, 503, 200};
  size_t want_blen[] = {11, 22, 3, 0, 0, 0};
  for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
    outcome_t o = check_splits((const uint8_t *)plain[i], strlen(plain[i]), NULL);
    ck_assert_msg(o.rc == EP_OK, "%zu: %s", i, o.err.msg);
    ck_assert_int_eq(o.status, want_status[i]);
    ck_assert_uint_eq(o.blen, want_blen[i]);
    free(o.body);
  }
  /* Deflated bodies, with and without Content-Length. */
  char text[3000];
  for (size_t i = 0; i < sizeof text; i++) {
    text[i] = (char)(i % 80 == 79 ? '\n' : 'a' + (i * 7) % 26);
  }
  size_t zn;
  uint8_t *z = zcompress(text, sizeof text, &zn);
  char head[256];
  snprintf(head, sizeof head,
           "HTTP/1.0 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: %zu\r\n\r\n", zn);
  const char *heads[] = {head, "HTTP/1.0 200 OK\r\nContent-Encoding: x-zlib, identity\r\n\r\n"};
  for (size_t i = 0; i < 2; i++) {
    size_t n;
    uint8_t *resp = join(heads[i], z, zn, &n);
    outcome_t o = check_splits(resp, n, NULL);
    ck_assert_msg(o.rc == EP_OK, "deflate %zu: %s", i, o.err.msg);
    ck_assert_int_eq(o.enc, EP_HTTP_ENC_DEFLATE);
    ck_assert_uint_eq(o.blen, sizeof text);
    ck_assert(memcmp(o.body, text, sizeof text) == 0);
    free(o.body);
    free(resp);
  }
  /* Bad inputs fail the same way wherever they are cut. */
  const char *badones[] = {
      "HTTP/1.0 2000 OK\r\n\r\n",
      "HTTP/1.0 200 OK\r\nNo colon here\r\n\r\n",
      "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nabc",
      "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nabc",
      "HTTP/1.0 200 OK\r\nContent-Encoding: deflate\r\n\r\nnot deflate at all",
  };
  int want_rc[] = {EP_ERR_MALFORMED, EP_ERR_MALFORMED, EP_ERR_MALFORMED, EP_ERR_TRUNCATED,
                   EP_ERR_MALFORMED};
  for (size_t i = 0; i < sizeof badones / sizeof badones[0]; i++) {
    outcome_t o = check_splits((const uint8_t *)badones[i], strlen(badones[i]), NULL);
    ck_assert_msg(o.rc == want_rc[i], "bad %zu: %d %s", i, o.rc, o.err.msg);
    free(o.body);
  }
  free(z);
}
END_TEST

/* ---- the parser: bad responses ---- */

typedef struct bad_case {
  const char *resp;
  int rc;
  const char *msg;  /* expected message, after "http from 127.0.0.1:7000: " */
} bad_case_t;

START_TEST(bad_status_lines) {
  const bad_case_t cases[] = {
      {"\r\n\r\n", EP_ERR_MALFORMED, "status line: empty"},
      {"HTTX/1.0 200 OK\r\n\r\n", EP_ERR_MALFORMED, "status line: does not start with \"HTTP/\""},
      {"HTTP/1.x 200 OK\r\n\r\n", EP_ERR_MALFORMED, "status line: bad HTTP version"},
      {"HTTP/2.0 200 OK\r\n\r\n", EP_ERR_UNSUPPORTED, "status line: HTTP/2.0 is not supported"},
      {"HTTP/1.2 200 OK\r\n\r\n", EP_ERR_UNSUPPORTED, "status line: HTTP/1.2 is not supported"},
      {"HTTP/1.0  200 OK\r\n\r\n", EP_ERR_MALFORMED, "status line: status code is not 3 digits"},
      {"HTTP/1.0 20 OK\r\n\r\n", EP_ERR_MALFORMED, "status line: status code is not 3 digits"},
      {"HTTP/1.0 2000 OK\r\n\r\n", EP_ERR_MALFORMED, "status line: no space after the status code"},
      {"HTTP/1.0 099 Low\r\n\r\n", EP_ERR_MALFORMED, "status line: status code 99 out of range"},
      {"HTTP/1.0 600 High\r\n\r\n", EP_ERR_MALFORMED, "status line: status code 600 out of range"},
      {"HTTP/1.0\r\n\r\n", EP_ERR_MALFORMED, "status line: no space after the version"},
      {"HTTP/1.0 200 O\x01K\r\n\r\n", EP_ERR_MALFORMED,
       "status line: control character 0x01 at column 15"},
      {"HTTP/1.0 200 OK\rX\r\n\r\n", EP_ERR_MALFORMED,
       "status line: control character 0x0d at column 16"},
      {"SSH-2.0-OpenSSH_9.2\r\n", EP_ERR_MALFORMED, "status line: does not start with \"HTTP/\""},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    outcome_t o = parse_str(cases[i].resp, NULL);
    char want[EP_ERR_MSG_MAX];
    snprintf(want, sizeof want, "http from " ORIGIN ": %s", cases[i].msg);
    ck_assert_msg(o.rc == cases[i].rc, "case %zu: rc %d: %s", i, o.rc, o.err.msg);
    ck_assert_msg(strcmp(o.err.msg, want) == 0, "case %zu: got '%s'", i, o.err.msg);
    ck_assert_int_eq(o.status, 0);
    free(o.body);
  }
}
END_TEST

START_TEST(bad_headers) {
  const bad_case_t cases[] = {
      {"HTTP/1.0 200 OK\r\nA: 1\r\nB: 2\r\nno colon\r\n\r\n", EP_ERR_MALFORMED,
       "header line 3: no ':'"},
      {"HTTP/1.0 200 OK\r\n: empty\r\n\r\n", EP_ERR_MALFORMED, "header line 1: empty header name"},
      {"HTTP/1.0 200 OK\r\nBad Name: x\r\n\r\n", EP_ERR_MALFORMED,
       "header line 1: bad character 0x20 in the header name"},
      {"HTTP/1.0 200 OK\r\nA: 1\r\n  folded\r\n\r\n", EP_ERR_MALFORMED,
       "header line 2: folded (continued) header lines are not supported"},
      {"HTTP/1.0 200 OK\r\nA: x\x1b[31m\r\n\r\n", EP_ERR_MALFORMED,
       "header line 1: control character 0x1b at column 5"},
      {"HTTP/1.0 200 OK\r\nContent-Length: 12a\r\n\r\n", EP_ERR_MALFORMED,
       "header line 1: bad Content-Length '12a'"},
      {"HTTP/1.0 200 OK\r\nContent-Length: -1\r\n\r\n", EP_ERR_MALFORMED,
       "header line 1: bad Content-Length '-1'"},
      {"HTTP/1.0 200 OK\r\nContent-Length:\r\n\r\n", EP_ERR_MALFORMED,
       "header line 1: bad Content-Length ''"},
      {"HTTP/1.0 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", EP_ERR_MALFORMED,
       "header line 1: bad Content-Length '99999999999999999999'"},
      {"HTTP/1.0 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", EP_ERR_MALFORMED,
       "header line 2: Content-Length 6 contradicts an earlier 5"},
      {"HTTP/1.0 200 OK\r\nContent-Encoding: x-zstd\r\n\r\n", EP_ERR_UNSUPPORTED,
       "header line 1: Content-Encoding 'x-zstd' is not supported"},
      {"HTTP/1.0 200 OK\r\nContent-Encoding: deflate, gzip\r\n\r\n", EP_ERR_UNSUPPORTED,
       "header line 1: more than one Content-Encoding is not supported"},
      {"HTTP/1.0 200 OK\r\nContent-Encoding: deflate\r\nContent-Encoding: gzip\r\n\r\n",
       EP_ERR_UNSUPPORTED, "header line 2: conflicting Content-Encoding headers"},
      {"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", EP_ERR_UNSUPPORTED,
       "header line 1: Transfer-Encoding 'chunked' is not supported"},
      {"HTTP/1.0 200 OK\r\nContent-Length: 10\r\n\r\nshort", EP_ERR_TRUNCATED,
       "body: connection closed after 5 of 10 bytes"},
      {"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nabcd", EP_ERR_MALFORMED,
       "2 bytes after the end of the body (Content-Length 2)"},
      {"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\nab", EP_ERR_MALFORMED,
       "2 bytes after the end of the body (Content-Length 0)"},
      {"", EP_ERR_TRUNCATED, "connection closed before any response"},
      {"HTTP/1.0 200 OK", EP_ERR_TRUNCATED, "status line: connection closed inside the response head"},
      {"HTTP/1.0 200 OK\r\nA: 1\r\nB:", EP_ERR_TRUNCATED,
       "header line 2: connection closed inside the response head"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    outcome_t o = parse_str(cases[i].resp, NULL);
    char want[EP_ERR_MSG_MAX];
    snprintf(want, sizeof want, "http from " ORIGIN ": %s", cases[i].msg);
    ck_assert_msg(o.rc == cases[i].rc, "case %zu: rc %d: %s", i, o.rc, o.err.msg);
    ck_assert_msg(strcmp(o.err.msg, want) == 0, "case %zu: got '%s'", i, o.err.msg);
    free(o.body);
  }
  /* A NUL inside a header value. */
  static const char nul[] = "HTTP/1.0 200 OK\r\nA: x\0y\r\n\r\n";
  outcome_t o = run_whole((const uint8_t *)nul, sizeof nul - 1, NULL);
  ck_assert_int_eq(o.rc, EP_ERR_MALFORMED);
  ck_assert_str_eq(o.err.msg, "http from " ORIGIN ": header line 1: control character 0x00 at column 5");
  free(o.body);
}
END_TEST

START_TEST(oversize_head_and_body_are_limits) {
  /* A head larger than the cap, fed whole or a byte at a time. */
  ep_http_limits_t lim;
  ep_http_limits_default(&lim);
  ck_assert_uint_eq(lim.header_cap, EP_CAP_HTTP_HEADER);
  size_t big = EP_CAP_HTTP_HEADER + 100;
  char *resp = malloc(big + 64);
  ck_assert_ptr_nonnull(resp);
  strcpy(resp, "HTTP/1.0 200 OK\r\nX-Pad: ");
  size_t n = strlen(resp);
  memset(resp + n, 'p', big - n);
  memcpy(resp + big, "\r\n\r\n", 5);
  outcome_t o = check_splits((const uint8_t *)resp, big + 4, NULL);
  ck_assert_int_eq(o.rc, EP_ERR_LIMIT);
  ck_assert_str_eq(o.err.msg,
                   "http from " ORIGIN ": header line 1: response head exceeds the cap of 16384 bytes");
  free(o.body);
  free(resp);

  /* Many small headers add up against the same cap. */
  ep_http_limits_t small = lim;
  small.header_cap = 200;
  char many[512] = "HTTP/1.0 200 OK\r\n";
  for (int i = 0; i < 20; i++) {
    strcat(many, "X-A: 0123456\r\n");
  }
  strcat(many, "\r\n");
  o = parse_str(many, &small);
  ck_assert_int_eq(o.rc, EP_ERR_LIMIT);
  ck_assert_msg(strstr(o.err.msg, "header line 14: response head exceeds the cap of 200 bytes"),
                "%s", o.err.msg);
  free(o.body);

  /* Content-Length beyond the body cap is refused up front. */
  small.header_cap = EP_CAP_HTTP_HEADER;
  small.body_cap = 1000;
  o = parse_str("HTTP/1.0 200 OK\r\nContent-Length: 1001\r\n\r\n", &small);
  ck_assert_int_eq(o.rc, EP_ERR_LIMIT);
  ck_assert_str_eq(o.err.msg, "http from " ORIGIN
                              ": header line 1: Content-Length 1001 exceeds the body cap of 1000 bytes");
  free(o.body);
  /* Without Content-Length, the body stops at the cap. */
  char body[1500];
  memset(body, 'b', sizeof body);
  size_t rn;
  uint8_t *r2 = join("HTTP/1.0 200 OK\r\n\r\n", (uint8_t *)body, sizeof body, &rn);
  o = run_whole(r2, rn, &small);
  ck_assert_int_eq(o.rc, EP_ERR_LIMIT);
  ck_assert_str_eq(o.err.msg, "http from " ORIGIN ": body: more than the cap of 1000 bytes");
  ck_assert_uint_eq(o.blen, 0);
  free(o.body);
  /* Exactly at the cap is fine. */
  o = run_whole(r2, rn - 500, &small);
  ck_assert_int_eq(o.rc, EP_OK);
  ck_assert_uint_eq(o.blen, 1000);
  free(o.body);
  free(r2);
}
END_TEST

START_TEST(truncated_deflate_body) {
  char text[5000];
  for (size_t i = 0; i < sizeof text; i++) {
    text[i] = (char)('A' + (i * 13) % 50);
  }
  size_t zn;
  uint8_t *z = zcompress(text, sizeof text, &zn);
  /* Cut inside the compressed stream, EOF-delimited: truncated. */
  size_t n;
  uint8_t *resp = join("HTTP/1.0 200 OK\r\nContent-Encoding: deflate\r\n\r\n", z, zn - 10, &n);
  outcome_t o = check_splits(resp, n, NULL);
  ck_assert_int_eq(o.rc, EP_ERR_TRUNCATED);
  ck_assert_msg(strncmp(o.err.msg, "http from " ORIGIN ": body: deflate: compressed data ends inside a stream",
                        strlen("http from " ORIGIN ": body: deflate: compressed data ends inside a stream")) == 0,
                "%s", o.err.msg);
  free(o.body);
  free(resp);
  /* With a Content-Length that matches the cut: also truncated. */
  char head[128];
  snprintf(head, sizeof head, "HTTP/1.0 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: %zu\r\n\r\n",
           zn - 10);
  resp = join(head, z, zn - 10, &n);
  o = run_whole(resp, n, NULL);
  ck_assert_int_eq(o.rc, EP_ERR_TRUNCATED);
  free(o.body);
  free(resp);
  /* A flipped byte in the middle: malformed, located. */
  z[zn / 2] ^= 0x55;
  resp = join("HTTP/1.0 200 OK\r\nContent-Encoding: deflate\r\n\r\n", z, zn, &n);
  o = run_whole(resp, n, NULL);
  ck_assert_int_eq(o.rc, EP_ERR_MALFORMED);
  ck_assert_msg(strstr(o.err.msg, ": body: deflate: byte ") != NULL, "%s", o.err.msg);
  free(o.body);
  free(resp);
  /* An empty body with Content-Encoding (tor's errors): fine, empty. */
  o = parse_str("HTTP/1.0 404 Not found\r\nContent-Encoding: deflate\r\n\r\n", NULL);
  ck_assert_int_eq(o.rc, EP_OK);
  ck_assert_int_eq(o.status, 404);
  ck_assert_uint_eq(o.blen, 0);
  free(o.body);
  free(z);
}
END_TEST

START_TEST(deflate_bomb_in_a_response) {
  /* 100 MB of zeros compressed (~100 kB), served as a consensus. */
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  ck_assert_int_eq(deflateInit(&zs, 9), Z_OK);
  static uint8_t zeros[1 << 20];
  size_t cap = 1 << 20;
  uint8_t *z = malloc(cap);
  size_t zl = 0;
  for (int i = 0; i < 100; i++) {
    zs.next_in = zeros;
    zs.avail_in = sizeof zeros;
    zs.next_out = z + zl;
    zs.avail_out = (uInt)(cap - zl);
    ck_assert_int_ne(deflate(&zs, i == 99 ? Z_FINISH : Z_NO_FLUSH), Z_STREAM_ERROR);
    zl = cap - zs.avail_out;
  }
  ck_assert_int_eq(zs.avail_in, 0);
  deflateEnd(&zs);
  size_t n;
  uint8_t *resp = join("HTTP/1.0 200 OK\r\nContent-Encoding: deflate\r\n\r\n", z, zl, &n);
  outcome_t o = run_whole(resp, n, NULL);
  ck_assert_int_eq(o.rc, EP_ERR_LIMIT);
  ck_assert_msg(strstr(o.err.msg, ": body: deflate: deflate bomb: ") != NULL, "%s", o.err.msg);
  ck_assert_uint_lt(o.blen, 16 * EP_MiB);
  free(o.body);
  free(resp);
  free(z);
}
END_TEST

START_TEST(real_consensus_through_the_parser) {
  size_t zn;
  uint8_t *z = tu_read_data("http/cached-microdesc-consensus.z", &zn);
  char head[160];
  snprintf(head, sizeof head,
           "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: deflate\r\n"
           "Content-Length: %zu\r\n\r\n",
           zn);
  size_t n;
  uint8_t *resp = join(head, z, zn, &n);
  size_t steps[] = {1, 1000, 16384};
  ep_http_limits_t lim;
  ep_http_limits_default(&lim);
  lim.body_cap = EP_CAP_CONSENSUS;
  for (size_t i = 0; i < 3; i++) {
    size_t ncuts = (n - 1) / steps[i];
    size_t *cuts = malloc((ncuts + 1) * sizeof *cuts);
    for (size_t k = 0; k < ncuts; k++) {
      cuts[k] = (k + 1) * steps[i];
    }
    outcome_t o = run_cuts(resp, n, cuts, ncuts, &lim);
    ck_assert_msg(o.rc == EP_OK, "step %zu: %s", steps[i], o.err.msg);
    uint8_t d[EP_SHA256_LEN];
    char hex[2 * EP_SHA256_LEN + 1];
    ep_sha256(d, o.body, o.blen);
    ep_hex_encode(hex, sizeof hex, d, sizeof d, false);
    ck_assert_str_eq(hex, REAL_MD_CONSENSUS_SHA256);
    free(o.body);
    free(cuts);
  }
  free(resp);
  free(z);
}
END_TEST

/* ---- the fetcher, against a server in the same loop ---- */

typedef enum srv_mode { SRV_RESPOND, SRV_SILENT } srv_mode_t;

typedef struct srv {
  ep_loop_t *loop;
  int lfd;
  int cfd;
  srv_mode_t mode;
  char req[2048];
  size_t reqlen;
  const uint8_t *resp;
  size_t resplen;
  size_t sent;
} srv_t;

static void srv_io(ep_loop_t *loop, int fd, unsigned events, void *arg) {
  srv_t *s = arg;
  if (events & EP_LOOP_READ) {
    ssize_t n = read(fd, s->req + s->reqlen, sizeof s->req - 1 - s->reqlen);
    if (n > 0) {
      s->reqlen += (size_t)n;
      s->req[s->reqlen] = 0;
    }
    if (strstr(s->req, "\r\n\r\n") != NULL && s->mode == SRV_RESPOND) {
      ep_loop_mod_fd(loop, fd, EP_LOOP_WRITE, NULL);
    } else if (n == 0) {
      ep_loop_mod_fd(loop, fd, 0, NULL);
    }
    return;
  }
  if (events & EP_LOOP_WRITE) {
    ssize_t n = send(fd, s->resp + s->sent, s->resplen - s->sent, MSG_NOSIGNAL);
    if (n > 0) {
      s->sent += (size_t)n;
    }
    if (n < 0 && errno != EAGAIN) {
      s->sent = s->resplen;
    }
    if (s->sent == s->resplen) {
      ep_loop_del_fd(loop, fd);
      close(fd);
      s->cfd = -1;
    }
  }
}

static void srv_accept(ep_loop_t *loop, int fd, unsigned events, void *arg) {
  (void)events;
  srv_t *s = arg;
  s->cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (s->cfd >= 0) {
    ep_loop_add_fd(loop, s->cfd, EP_LOOP_READ, srv_io, s, NULL);
  }
  ep_loop_del_fd(loop, fd);
}

static uint16_t srv_start(srv_t *s, ep_loop_t *loop, srv_mode_t mode, const uint8_t *resp,
                          size_t resplen) {
  memset(s, 0, sizeof *s);
  s->loop = loop;
  s->mode = mode;
  s->resp = resp;
  s->resplen = resplen;
  s->cfd = -1;
  s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  ck_assert_int_ge(s->lfd, 0);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ck_assert_int_eq(bind(s->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
  ck_assert_int_eq(listen(s->lfd, 4), 0);
  socklen_t len = sizeof sa;
  ck_assert_int_eq(getsockname(s->lfd, (struct sockaddr *)&sa, &len), 0);
  ck_assert_int_eq(ep_loop_add_fd(loop, s->lfd, EP_LOOP_READ, srv_accept, s, NULL), EP_OK);
  return ntohs(sa.sin_port);
}

static void srv_stop(srv_t *s) {
  ep_loop_del_fd(s->loop, s->lfd);
  close(s->lfd);
  if (s->cfd >= 0) {
    ep_loop_del_fd(s->loop, s->cfd);
    close(s->cfd);
  }
}

typedef struct fetch_out {
  bool done;
  int rc;
  int status;
  bool had_resp;
  uint8_t *body;
  size_t blen;
  ep_err_t err;
} fetch_out_t;

static void on_fetched(void *arg, int rc, ep_http_resp_t *resp, const ep_err_t *err) {
  fetch_out_t *o = arg;
  o->done = true;
  o->rc = rc;
  o->had_resp = resp != NULL;
  if (resp != NULL) {
    o->status = ep_http_resp_status(resp);
    o->body = ep_http_resp_take_body(resp, &o->blen, NULL);
  }
  if (err != NULL) {
    o->err = *err;
  }
}

static bool fetched(void *arg) { return ((fetch_out_t *)arg)->done; }

START_TEST(fetch_real_consensus_from_a_local_dirport) {
  ep_loop_t *loop = ep_loop_new(NULL);
  size_t zn;
  uint8_t *z = tu_read_data("http/cached-microdesc-consensus.z", &zn);
  size_t n;
  uint8_t *resp = join("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: deflate\r\n\r\n",
                       z, zn, &n);
  srv_t s;
  uint16_t port = srv_start(&s, loop, SRV_RESPOND, resp, n);
  ep_http_limits_t lim;
  ep_http_limits_default(&lim);
  lim.body_cap = EP_CAP_CONSENSUS;
  lim.timeout_ms = 20000;
  fetch_out_t o = {0};
  ep_err_t err = {0};
  ep_http_fetch_t *f = ep_http_fetch(loop, "127.0.0.1", port,
                                     "/tor/status-vote/current/consensus-microdesc", &lim,
                                     on_fetched, &o, &err);
  ck_assert_msg(f != NULL, "%s", err.msg);
  ck_assert(!o.done);
  ck_assert_int_eq(ep_loop_run_until(loop, fetched, &o, ep_now_ms() + 30000, &err), EP_LOOP_DONE);
  ck_assert_msg(o.rc == EP_OK, "%s", o.err.msg);
  ck_assert_int_eq(o.status, 200);
  char want[256];
  snprintf(want, sizeof want,
           "GET /tor/status-vote/current/consensus-microdesc HTTP/1.0\r\nHost: 127.0.0.1:%u\r\n"
           "Accept-Encoding: deflate, identity\r\n\r\n",
           (unsigned)port);
  ck_assert_str_eq(s.req, want);
  uint8_t d[EP_SHA256_LEN];
  char hex[2 * EP_SHA256_LEN + 1];
  ep_sha256(d, o.body, o.blen);
  ep_hex_encode(hex, sizeof hex, d, sizeof d, false);
  ck_assert_str_eq(hex, REAL_MD_CONSENSUS_SHA256);
  ck_assert_int_eq(ep_loop_timer_count(loop), 0); /* the deadline is gone */
  free(o.body);
  srv_stop(&s);
  free(resp);
  free(z);
  ep_loop_free(loop);
}
END_TEST

START_TEST(fetch_404_refused_timeout_and_cut) {
  ep_loop_t *loop = ep_loop_new(NULL);
  ep_err_t err = {0};
  ep_http_limits_t lim;
  ep_http_limits_default(&lim);
  lim.timeout_ms = 300;

  /* 404: a complete response, status for the caller to judge. */
  const char *nf = "HTTP/1.0 404 Not found\r\n\r\n";
  srv_t s;
  uint16_t port = srv_start(&s, loop, SRV_RESPOND, (const uint8_t *)nf, strlen(nf));
  fetch_out_t o = {0};
  ck_assert_ptr_nonnull(ep_http_fetch(loop, "127.0.0.1", port, "/tor/micro/all", &lim, on_fetched,
                                      &o, &err));
  ck_assert_int_eq(ep_loop_run_until(loop, fetched, &o, ep_now_ms() + 5000, &err), EP_LOOP_DONE);
  ck_assert_int_eq(o.rc, EP_OK);
  ck_assert_int_eq(o.status, 404);
  ck_assert_uint_eq(o.blen, 0);
  free(o.body);
  srv_stop(&s);

  /* Silent server: our deadline. */
  port = srv_start(&s, loop, SRV_SILENT, NULL, 0);
  memset(&o, 0, sizeof o);
  int64_t t0 = ep_now_ms();
  ck_assert_ptr_nonnull(ep_http_fetch(loop, "127.0.0.1", port, "/tor/keys/all", &lim, on_fetched,
                                      &o, &err));
  ck_assert_int_eq(ep_loop_run_until(loop, fetched, &o, ep_now_ms() + 5000, &err), EP_LOOP_DONE);
  ck_assert_int_ge(ep_now_ms() - t0, 300);
  ck_assert_int_eq(o.rc, EP_ERR_TIMEOUT);
  ck_assert(!o.had_resp);
  char want[160];
  snprintf(want, sizeof want,
           "http from 127.0.0.1:%u: no complete response within 300 ms (while receiving the "
           "response)",
           (unsigned)port);
  ck_assert_str_eq(o.err.msg, want);
  srv_stop(&s);

  /* Nothing listening: the errno, by name. */
  int tmp = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ck_assert_int_eq(bind(tmp, (struct sockaddr *)&sa, sizeof sa), 0);
  socklen_t sl = sizeof sa;
  getsockname(tmp, (struct sockaddr *)&sa, &sl);
  close(tmp);
  memset(&o, 0, sizeof o);
  ck_assert_ptr_nonnull(ep_http_fetch(loop, "127.0.0.1", ntohs(sa.sin_port), "/tor/keys/all", &lim,
                                      on_fetched, &o, &err));
  ck_assert_int_eq(ep_loop_run_until(loop, fetched, &o, ep_now_ms() + 5000, &err), EP_LOOP_DONE);
  ck_assert_int_eq(o.rc, EP_ERR_IO);
  ck_assert(!o.had_resp);
  ck_assert_msg(strstr(o.err.msg, ": ECONNREFUSED (") != NULL, "%s", o.err.msg);
  ck_assert_msg(strncmp(o.err.msg, "http from 127.0.0.1:", 20) == 0, "%s", o.err.msg);

  /* Cut short of its Content-Length: truncated, with the status kept. */
  const char *cut = "HTTP/1.0 200 OK\r\nContent-Length: 100\r\n\r\nonly this";
  port = srv_start(&s, loop, SRV_RESPOND, (const uint8_t *)cut, strlen(cut));
  memset(&o, 0, sizeof o);
  ck_assert_ptr_nonnull(ep_http_fetch(loop, "127.0.0.1", port, "/tor/keys/all", &lim, on_fetched,
                                      &o, &err));
  ck_assert_int_eq(ep_loop_run_until(loop, fetched, &o, ep_now_ms() + 5000, &err), EP_LOOP_DONE);
  ck_assert_int_eq(o.rc, EP_ERR_TRUNCATED);
  ck_assert(o.had_resp);
  ck_assert_int_eq(o.status, 200);
  free(o.body);
  srv_stop(&s);

  /* Bad arguments: refused at once, nothing started. */
  ck_assert_ptr_null(ep_http_fetch(loop, "localhost", 80, "/", &lim, on_fetched, &o, &err));
  ck_assert_ptr_null(ep_http_fetch(loop, "127.0.0.1", 80, "no-slash", &lim, on_fetched, &o, &err));
  ck_assert_int_eq(ep_loop_timer_count(loop), 0);

  /* Cancel: no callback, nothing left behind. */
  port = srv_start(&s, loop, SRV_SILENT, NULL, 0);
  memset(&o, 0, sizeof o);
  ep_http_fetch_t *f =
      ep_http_fetch(loop, "127.0.0.1", port, "/tor/keys/all", &lim, on_fetched, &o, &err);
  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(ep_loop_run_until(loop, NULL, NULL, ep_now_ms() + 50, &err), EP_LOOP_DEADLINE);
  ep_http_fetch_cancel(f);
  ck_assert(!o.done);
  srv_stop(&s);
  ck_assert_int_eq(ep_loop_timer_count(loop), 0);
  ck_assert_int_eq(ep_loop_run_until(loop, NULL, NULL, EP_LOOP_NO_DEADLINE, &err), EP_LOOP_IDLE);
  ep_loop_free(loop);
}
END_TEST

static Suite *http_suite(void) {
  Suite *s = suite_create("http");
  TCase *t = tcase_create("request");
  tcase_add_test(t, request_is_what_tor_expects);
  suite_add_tcase(s, t);
  t = tcase_create("parser");
  tcase_set_timeout(t, 120);
  tcase_add_test(t, parse_identity_with_content_length);
  tcase_add_test(t, every_split_point_gives_the_same_result);
  tcase_add_test(t, bad_status_lines);
  tcase_add_test(t, bad_headers);
  tcase_add_test(t, oversize_head_and_body_are_limits);
  tcase_add_test(t, truncated_deflate_body);
  tcase_add_test(t, deflate_bomb_in_a_response);
  tcase_add_test(t, real_consensus_through_the_parser);
  suite_add_tcase(s, t);
  t = tcase_create("fetch");
  tcase_set_timeout(t, 60);
  tcase_add_test(t, fetch_real_consensus_from_a_local_dirport);
  tcase_add_test(t, fetch_404_refused_timeout_and_cut);
  suite_add_tcase(s, t);
  return s;
}

int main(void) { return tu_run_suite(http_suite()); }
