/* exitprobe — HTTP/1.0 requests, a sans-I/O response parser, and a
 * loop-driven DirPort fetcher. See http.h. */
#include "config.h"

#include "probe/dirclient/http.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/caps.h"
#include "lib/escape.h"
#include "lib/reader.h"
#include "probe/dirclient/inflate.h"
#include "probe/net/net.h"

#define EP_HTTP_ORIGIN_MAX 96
#define EP_HTTP_DEFAULT_TIMEOUT_MS 60000

void ep_http_limits_default(ep_http_limits_t *lim) {
  lim->header_cap = EP_CAP_HTTP_HEADER;
  lim->body_cap = EP_CAP_DIR_DOCUMENT;
  lim->timeout_ms = EP_HTTP_DEFAULT_TIMEOUT_MS;
}

/* ---- the request ---- */

static bool request_text_ok(const char *s) {
  if (*s == '\0') {
    return false;
  }
  for (; *s != '\0'; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch <= 0x20 || ch >= 0x7f) {
      return false;
    }
  }
  return true;
}

int ep_http_build_get(ep_buf_t *out, const char *host, const char *path, ep_err_t *err) {
  if (path[0] != '/' || !request_text_ok(path)) {
    return ep_err_set(err, EP_ERR_MALFORMED,
                      "http request: path must start with '/' and be printable ASCII without "
                      "spaces");
  }
  if (!request_text_ok(host)) {
    return ep_err_set(err, EP_ERR_MALFORMED,
                      "http request: host must be printable ASCII without spaces");
  }
  size_t before = out->len;
  int rc = ep_buf_printf(out, err,
                         "GET %s HTTP/1.0\r\nHost: %s\r\nAccept-Encoding: deflate, identity\r\n\r\n",
                         path, host);
  if (rc != EP_OK) {
    out->len = before;
  }
  return rc;
}

/* ---- the response parser ---- */

typedef enum resp_state { RS_HEAD, RS_BODY, RS_DONE, RS_FAILED } resp_state_t;

struct ep_http_resp {
  char origin[EP_HTTP_ORIGIN_MAX];
  ep_http_limits_t lim;
  resp_state_t st;

  ep_buf_t line;          /* the head line being received */
  size_t head_bytes;      /* bytes of the head so far (against header_cap) */
  unsigned nheader_lines; /* header lines completed (status line apart) */
  bool have_status;
  bool head_done;

  int status;
  int minor;
  ep_buf_t store;         /* reason\0 then name\0value\0 per header */
  size_t nheaders;

  int64_t content_length; /* -1: none */
  ep_http_enc_t enc;
  ep_inflate_t *z;
  uint64_t wire_body;
  ep_buf_t body;

  ep_err_t failure;       /* the sticky error */
};

static int resp_fail(ep_http_resp_t *r, ep_err_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int resp_fail(ep_http_resp_t *r, ep_err_t *err, int code, const char *fmt, ...) {
  char msg[EP_ERR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  r->st = RS_FAILED;
  ep_err_set(&r->failure, code, "http from %s: %s", r->origin, msg);
  if (err != NULL) {
    *err = r->failure;
  }
  return code;
}

/* Where we are in the head, for messages. */
static void head_where(const ep_http_resp_t *r, char *out, size_t cap) {
  if (!r->have_status) {
    snprintf(out, cap, "status line");
  } else {
    snprintf(out, cap, "header line %u", r->nheader_lines + 1);
  }
}

ep_http_resp_t *ep_http_resp_new(const char *origin, const ep_http_limits_t *lim, ep_err_t *err) {
  ep_http_resp_t *r = calloc(1, sizeof *r);
  if (r == NULL) {
    ep_err_set(err, EP_ERR_NOMEM, "http: out of memory");
    return NULL;
  }
  snprintf(r->origin, sizeof r->origin, "%s", origin != NULL ? origin : "peer");
  if (lim != NULL) {
    r->lim = *lim;
  } else {
    ep_http_limits_default(&r->lim);
  }
  r->st = RS_HEAD;
  r->content_length = -1;
  ep_buf_init(&r->line, r->lim.header_cap, "http header", 0);
  ep_buf_init(&r->store, r->lim.header_cap + 2, "http header", 0);
  ep_buf_init(&r->body, r->lim.body_cap, "http body", 0);
  return r;
}

void ep_http_resp_free(ep_http_resp_t *r) {
  if (r == NULL) {
    return;
  }
  ep_buf_free(&r->line);
  ep_buf_free(&r->store);
  ep_buf_free(&r->body);
  ep_inflate_free(r->z);
  free(r);
}

/* RFC 9110 tchar. */
static bool is_tchar(uint8_t c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
    return true;
  }
  return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

/* A line may hold visible ASCII, SP, HTAB and obs-text; nothing else. */
static int check_line_chars(ep_http_resp_t *r, const uint8_t *p, size_t n, ep_err_t *err) {
  ep_reader_t rd;
  ep_reader_init(&rd, p, n);
  uint8_t c;
  while (ep_rd_u8(&rd, &c) == 0) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) {
      char where[32];
      head_where(r, where, sizeof where);
      return resp_fail(r, err, EP_ERR_MALFORMED, "%s: control character 0x%02x at column %zu",
                       where, c, ep_rd_pos(&rd));
    }
  }
  return EP_OK;
}

static int parse_status_line(ep_http_resp_t *r, const uint8_t *p, size_t n, ep_err_t *err) {
  ep_reader_t rd;
  ep_reader_init(&rd, p, n);
  const uint8_t *pfx;
  uint8_t major, dot, minor, sp;
  if (n == 0) {
    return resp_fail(r, err, EP_ERR_MALFORMED, "status line: empty");
  }
  if (ep_rd_ptr(&rd, &pfx, 5) != 0 || memcmp(pfx, "HTTP/", 5) != 0) {
    return resp_fail(r, err, EP_ERR_MALFORMED, "status line: does not start with \"HTTP/\"");
  }
  if (ep_rd_u8(&rd, &major) != 0 || ep_rd_u8(&rd, &dot) != 0 || ep_rd_u8(&rd, &minor) != 0 ||
      !is_digit(major) || dot != '.' || !is_digit(minor)) {
    return resp_fail(r, err, EP_ERR_MALFORMED, "status line: bad HTTP version");
  }
  if (major != '1' || minor > '1') {
    return resp_fail(r, err, EP_ERR_UNSUPPORTED, "status line: HTTP/%c.%c is not supported",
                     major, minor);
  }
  if (ep_rd_u8(&rd, &sp) != 0 || sp != ' ') {
    return resp_fail(r, err, EP_ERR_MALFORMED, "status line: no space after the version");
  }
  int code = 0;
  for (int i = 0; i < 3; i++) {
    uint8_t d;
    if (ep_rd_u8(&rd, &d) != 0 || !is_digit(d)) {
      return resp_fail(r, err, EP_ERR_MALFORMED, "status line: status code is not 3 digits");
    }
    code = code * 10 + (d - '0');
  }
  if (code < 100 || code > 599) {
    return resp_fail(r, err, EP_ERR_MALFORMED, "status line: status code %d out of range", code);
  }
  const uint8_t *reason = NULL;
  size_t rlen = 0;
  if (!ep_rd_empty(&rd)) {
    if (ep_rd_u8(&rd, &sp) != 0 || sp != ' ') {
      return resp_fail(r, err, EP_ERR_MALFORMED, "status line: no space after the status code");
    }
    ep_rd_rest(&rd, &reason, &rlen);
  }
  ep_err_t e2 = {0};
  uint8_t nul = 0;
  if ((rlen > 0 && ep_buf_append(&r->store, reason, rlen, &e2) != EP_OK) ||
      ep_buf_append(&r->store, &nul, 1, &e2) != EP_OK) {
    return resp_fail(r, err, e2.code, "status line: %s", e2.msg);
  }
  r->status = code;
  r->minor = minor - '0';
  r->have_status = true;
  return EP_OK;
}

static bool token_eq(const uint8_t *p, size_t n, const char *word) {
  return strlen(word) == n && strncasecmp((const char *)p, word, n) == 0;
}

/* Content-Encoding: a comma-separated list; identity entries do nothing. */
static int parse_encoding(ep_http_resp_t *r, const uint8_t *v, size_t n, ep_err_t *err) {
  ep_reader_t rd;
  ep_reader_init(&rd, v, n);
  ep_http_enc_t enc = EP_HTTP_ENC_IDENTITY;
  while (!ep_rd_empty(&rd)) {
    /* One item: up to the next comma. */
    size_t pos = ep_rd_pos(&rd);
    size_t len = 0;
    uint8_t c;
    while (ep_rd_u8(&rd, &c) == 0 && c != ',') {
      len++;
    }
    const uint8_t *item = v + pos;
    size_t a = 0, b = len;
    while (a < b && (item[a] == ' ' || item[a] == '\t')) {
      a++;
    }
    while (b > a && (item[b - 1] == ' ' || item[b - 1] == '\t')) {
      b--;
    }
    const uint8_t *tok = item + a;
    size_t tlen = b - a;
    ep_http_enc_t this;
    if (tlen == 0 || token_eq(tok, tlen, "identity")) {
      continue;
    } else if (token_eq(tok, tlen, "deflate") || token_eq(tok, tlen, "x-deflate") ||
               token_eq(tok, tlen, "zlib") || token_eq(tok, tlen, "x-zlib")) {
      this = EP_HTTP_ENC_DEFLATE;
    } else if (token_eq(tok, tlen, "gzip") || token_eq(tok, tlen, "x-gzip")) {
      this = EP_HTTP_ENC_GZIP;
    } else {
      char shown[64];
      ep_escape_text(shown, sizeof shown, tok, tlen);
      return resp_fail(r, err, EP_ERR_UNSUPPORTED,
                       "header line %u: Content-Encoding '%s' is not supported", r->nheader_lines,
                       shown);
    }
    if (enc != EP_HTTP_ENC_IDENTITY) {
      return resp_fail(r, err, EP_ERR_UNSUPPORTED,
                       "header line %u: more than one Content-Encoding is not supported",
                       r->nheader_lines);
    }
    enc = this;
  }
  if (enc != EP_HTTP_ENC_IDENTITY && r->enc != EP_HTTP_ENC_IDENTITY && r->enc != enc) {
    return resp_fail(r, err, EP_ERR_UNSUPPORTED,
                     "header line %u: conflicting Content-Encoding headers", r->nheader_lines);
  }
  if (enc != EP_HTTP_ENC_IDENTITY) {
    r->enc = enc;
  }
  return EP_OK;
}

static int parse_content_length(ep_http_resp_t *r, const uint8_t *v, size_t n, ep_err_t *err) {
  uint64_t cl = 0;
  char shown[48];
  if (n == 0 || n > 19) {
    ep_escape_text(shown, sizeof shown, v, n);
    return resp_fail(r, err, EP_ERR_MALFORMED, "header line %u: bad Content-Length '%s'",
                     r->nheader_lines, shown);
  }
  ep_reader_t rd;
  ep_reader_init(&rd, v, n);
  uint8_t d;
  while (ep_rd_u8(&rd, &d) == 0) {
    if (!is_digit(d)) {
      ep_escape_text(shown, sizeof shown, v, n);
      return resp_fail(r, err, EP_ERR_MALFORMED, "header line %u: bad Content-Length '%s'",
                       r->nheader_lines, shown);
    }
    cl = cl * 10 + (uint64_t)(d - '0');  /* 19 digits cannot overflow */
  }
  if (r->content_length >= 0 && (uint64_t)r->content_length != cl) {
    return resp_fail(r, err, EP_ERR_MALFORMED,
                     "header line %u: Content-Length %llu contradicts an earlier %lld",
                     r->nheader_lines, (unsigned long long)cl, (long long)r->content_length);
  }
  if (cl > (uint64_t)r->lim.body_cap) {
    return resp_fail(r, err, EP_ERR_LIMIT,
                     "header line %u: Content-Length %llu exceeds the body cap of %zu bytes",
                     r->nheader_lines, (unsigned long long)cl, r->lim.body_cap);
  }
  r->content_length = (int64_t)cl;
  return EP_OK;
}

static int parse_header_line(ep_http_resp_t *r, const uint8_t *p, size_t n, ep_err_t *err) {
  unsigned ln = r->nheader_lines;
  if (p[0] == ' ' || p[0] == '\t') {
    return resp_fail(r, err, EP_ERR_MALFORMED,
                     "header line %u: folded (continued) header lines are not supported", ln);
  }
  if (memchr(p, ':', n) == NULL) {
    return resp_fail(r, err, EP_ERR_MALFORMED, "header line %u: no ':'", ln);
  }
  ep_reader_t rd;
  ep_reader_init(&rd, p, n);
  size_t name_len = 0;
  uint8_t c = 0;
  while (ep_rd_u8(&rd, &c) == 0 && c != ':') {
    if (!is_tchar(c)) {
      return resp_fail(r, err, EP_ERR_MALFORMED,
                       "header line %u: bad character 0x%02x in the header name", ln, c);
    }
    name_len++;
  }
  if (c != ':') {
    return resp_fail(r, err, EP_ERR_MALFORMED, "header line %u: no ':'", ln);
  }
  if (name_len == 0) {
    return resp_fail(r, err, EP_ERR_MALFORMED, "header line %u: empty header name", ln);
  }
  const uint8_t *v;
  size_t vlen;
  ep_rd_rest(&rd, &v, &vlen);
  size_t a = 0, b = vlen;
  while (a < b && (v[a] == ' ' || v[a] == '\t')) {
    a++;
  }
  while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t')) {
    b--;
  }
  const uint8_t *val = v + a;
  size_t val_len = b - a;

  ep_err_t e2 = {0};
  uint8_t nul = 0;
  if (ep_buf_append(&r->store, p, name_len, &e2) != EP_OK ||
      ep_buf_append(&r->store, &nul, 1, &e2) != EP_OK ||
      (val_len > 0 && ep_buf_append(&r->store, val, val_len, &e2) != EP_OK) ||
      ep_buf_append(&r->store, &nul, 1, &e2) != EP_OK) {
    return resp_fail(r, err, e2.code, "header line %u: %s", ln, e2.msg);
  }
  r->nheaders++;

  if (token_eq(p, name_len, "Content-Length")) {
    return parse_content_length(r, val, val_len, err);
  }
  if (token_eq(p, name_len, "Content-Encoding")) {
    return parse_encoding(r, val, val_len, err);
  }
  if (token_eq(p, name_len, "Transfer-Encoding") && !token_eq(val, val_len, "identity")) {
    char shown[48];
    ep_escape_text(shown, sizeof shown, val, val_len);
    return resp_fail(r, err, EP_ERR_UNSUPPORTED,
                     "header line %u: Transfer-Encoding '%s' is not supported", ln, shown);
  }
  return EP_OK;
}

static void mark_done(ep_http_resp_t *r) { r->st = RS_DONE; }

/* The blank line: the head is complete. */
static int end_of_head(ep_http_resp_t *r, ep_err_t *err) {
  ep_buf_free(&r->line);
  r->head_done = true;
  if (r->enc != EP_HTTP_ENC_IDENTITY) {
    ep_err_t e2 = {0};
    r->z = ep_inflate_new(r->enc == EP_HTTP_ENC_GZIP ? EP_INFLATE_GZIP : EP_INFLATE_AUTO,
                          r->lim.body_cap, &e2);
    if (r->z == NULL) {
      return resp_fail(r, err, e2.code, "body: %s", e2.msg);
    }
  }
  r->st = RS_BODY;
  if (r->content_length == 0) {
    mark_done(r);
  }
  return EP_OK;
}

/* One complete head line, without its line ending. */
static int head_line(ep_http_resp_t *r, const uint8_t *p, size_t n, ep_err_t *err) {
  int rc = check_line_chars(r, p, n, err);
  if (rc != EP_OK) {
    return rc;
  }
  if (!r->have_status) {
    return parse_status_line(r, p, n, err);
  }
  if (n == 0) {
    return end_of_head(r, err);
  }
  r->nheader_lines++;
  return parse_header_line(r, p, n, err);
}

/* Take head bytes from rd until the head ends or rd is empty. */
static int feed_head(ep_http_resp_t *r, ep_reader_t *rd, ep_err_t *err) {
  while (r->st == RS_HEAD && !ep_rd_empty(rd)) {
    /* Up to and including the next '\n', or all that is left. */
    size_t start = ep_rd_pos(rd);
    size_t take = 0;
    bool eol = false;
    uint8_t c;
    while (!eol && ep_rd_u8(rd, &c) == 0) {
      take++;
      eol = c == '\n';
    }
    const uint8_t *chunk = rd->buf + start;
    if (take > r->lim.header_cap - r->head_bytes) {
      char where[32];
      head_where(r, where, sizeof where);
      return resp_fail(r, err, EP_ERR_LIMIT, "%s: response head exceeds the cap of %zu bytes",
                       where, r->lim.header_cap);
    }
    r->head_bytes += take;
    ep_err_t e2 = {0};
    if (ep_buf_append(&r->line, chunk, take, &e2) != EP_OK) {
      return resp_fail(r, err, e2.code, "%s", e2.msg);
    }
    if (!eol) {
      break;
    }
    /* A complete line: drop "\n" and one "\r" before it. */
    size_t len = r->line.len - 1;
    if (len > 0 && r->line.data[len - 1] == '\r') {
      len--;
    }
    int rc = head_line(r, r->line.data, len, err);
    if (rc != EP_OK) {
      return rc;
    }
    if (r->st == RS_HEAD) {
      ep_buf_clear(&r->line);
    }
  }
  return EP_OK;
}

static int body_complete(ep_http_resp_t *r, ep_err_t *err) {
  if (r->z != NULL && r->wire_body > 0) {
    ep_err_t e2 = {0};
    if (ep_inflate_finish(r->z, &e2) != EP_OK) {
      return resp_fail(r, err, e2.code, "body: %s", e2.msg);
    }
  }
  mark_done(r);
  return EP_OK;
}

static int feed_body(ep_http_resp_t *r, ep_reader_t *rd, ep_err_t *err) {
  const uint8_t *p;
  size_t n;
  ep_rd_rest(rd, &p, &n);
  if (n == 0) {
    return EP_OK;
  }
  size_t take = n;
  if (r->content_length >= 0) {
    uint64_t left = (uint64_t)r->content_length - r->wire_body;
    if (take > left) {
      take = (size_t)left;
    }
  } else if (take > r->lim.body_cap - r->wire_body) {
    return resp_fail(r, err, EP_ERR_LIMIT, "body: more than the cap of %zu bytes",
                     r->lim.body_cap);
  }
  ep_err_t e2 = {0};
  if (r->z != NULL) {
    int rc = ep_inflate_feed(r->z, p, take, &r->body, &e2);
    if (rc < 0) {
      return resp_fail(r, err, rc, "body: %s", e2.msg);
    }
  } else if (ep_buf_append(&r->body, p, take, &e2) != EP_OK) {
    return resp_fail(r, err, e2.code, "body: %s", e2.msg);
  }
  r->wire_body += take;
  if (r->content_length >= 0 && r->wire_body == (uint64_t)r->content_length) {
    int rc = body_complete(r, err);
    if (rc != EP_OK) {
      return rc;
    }
    if (take < n) {
      return resp_fail(r, err, EP_ERR_MALFORMED,
                       "%zu bytes after the end of the body (Content-Length %lld)", n - take,
                       (long long)r->content_length);
    }
  }
  return EP_OK;
}

int ep_http_resp_feed(ep_http_resp_t *r, const uint8_t *p, size_t n, ep_err_t *err) {
  if (r->st == RS_FAILED) {
    if (err != NULL) {
      *err = r->failure;
    }
    return r->failure.code;
  }
  if (r->st == RS_DONE) {
    if (n == 0) {
      return EP_OK;
    }
    return resp_fail(r, err, EP_ERR_MALFORMED, "%zu bytes after the end of the response", n);
  }
  ep_reader_t rd;
  ep_reader_init(&rd, p, n);
  int rc = feed_head(r, &rd, err);
  if (rc != EP_OK) {
    return rc;
  }
  if (r->st == RS_DONE && !ep_rd_empty(&rd)) {
    return resp_fail(r, err, EP_ERR_MALFORMED,
                     "%zu bytes after the end of the body (Content-Length 0)", ep_rd_remaining(&rd));
  }
  if (r->st == RS_BODY) {
    rc = feed_body(r, &rd, err);
    if (rc != EP_OK) {
      return rc;
    }
  }
  return r->st == RS_DONE ? EP_OK : EP_NEED_MORE;
}

int ep_http_resp_finish(ep_http_resp_t *r, ep_err_t *err) {
  switch (r->st) {
    case RS_FAILED:
      if (err != NULL) {
        *err = r->failure;
      }
      return r->failure.code;
    case RS_DONE:
      return EP_OK;
    case RS_HEAD:
      if (r->head_bytes == 0) {
        return resp_fail(r, err, EP_ERR_TRUNCATED, "connection closed before any response");
      } else {
        char where[32];
        head_where(r, where, sizeof where);
        return resp_fail(r, err, EP_ERR_TRUNCATED, "%s: connection closed inside the response head",
                         where);
      }
    case RS_BODY:
    default:
      break;
  }
  if (r->content_length >= 0 && r->wire_body < (uint64_t)r->content_length) {
    return resp_fail(r, err, EP_ERR_TRUNCATED,
                     "body: connection closed after %llu of %lld bytes",
                     (unsigned long long)r->wire_body, (long long)r->content_length);
  }
  return body_complete(r, err);
}

bool ep_http_resp_complete(const ep_http_resp_t *r) { return r->st == RS_DONE; }
bool ep_http_resp_headers_done(const ep_http_resp_t *r) { return r->head_done; }
int ep_http_resp_status(const ep_http_resp_t *r) { return r->status; }
int ep_http_resp_minor_version(const ep_http_resp_t *r) { return r->minor; }
ep_http_enc_t ep_http_resp_encoding(const ep_http_resp_t *r) { return r->enc; }
int64_t ep_http_resp_content_length(const ep_http_resp_t *r) { return r->content_length; }
uint64_t ep_http_resp_wire_body_len(const ep_http_resp_t *r) { return r->wire_body; }
const char *ep_http_resp_origin(const ep_http_resp_t *r) { return r->origin; }

const char *ep_http_resp_reason(const ep_http_resp_t *r) {
  return r->have_status && r->store.data != NULL ? (const char *)r->store.data : "";
}

/* Walk the stored strings: index 0 is the reason, then name/value pairs. */
static const char *store_string(const ep_http_resp_t *r, size_t idx) {
  size_t off = 0;
  for (size_t i = 0; i < idx; i++) {
    const uint8_t *z = memchr(r->store.data + off, 0, r->store.len - off);
    if (z == NULL) {
      return NULL;
    }
    off = (size_t)(z - r->store.data) + 1;
    if (off >= r->store.len) {
      return NULL;
    }
  }
  return (const char *)r->store.data + off;
}

int ep_http_resp_header_at(const ep_http_resp_t *r, size_t i, const char **name,
                           const char **value) {
  if (i >= r->nheaders || r->store.data == NULL) {
    return -1;
  }
  const char *n = store_string(r, 1 + 2 * i);
  const char *v = store_string(r, 2 + 2 * i);
  if (n == NULL || v == NULL) {
    return -1;
  }
  *name = n;
  *value = v;
  return 0;
}

size_t ep_http_resp_header_count(const ep_http_resp_t *r) { return r->nheaders; }

const char *ep_http_resp_header(const ep_http_resp_t *r, const char *name) {
  for (size_t i = 0; i < r->nheaders; i++) {
    const char *n, *v;
    if (ep_http_resp_header_at(r, i, &n, &v) == 0 && strcasecmp(n, name) == 0) {
      return v;
    }
  }
  return NULL;
}

const uint8_t *ep_http_resp_body(const ep_http_resp_t *r, size_t *len) {
  *len = r->body.len;
  return r->body.data != NULL ? r->body.data : (const uint8_t *)"";
}

uint8_t *ep_http_resp_take_body(ep_http_resp_t *r, size_t *len, ep_err_t *err) {
  if (ep_buf_nul_terminate(&r->body, err) != EP_OK) {
    return NULL;
  }
  return ep_buf_steal(&r->body, len);
}

/* ---- the fetcher ---- */

typedef enum fetch_state { FS_CONNECTING, FS_SENDING, FS_RECEIVING, FS_DONE } fetch_state_t;

struct ep_http_fetch {
  ep_loop_t *loop;
  fetch_state_t st;
  char origin[EP_ADDR_STRLEN];
  ep_http_limits_t lim;
  ep_tcp_connect_t *conn;
  int fd;
  ep_timer_id_t deadline;
  ep_buf_t req;
  ep_http_resp_t *resp;
  ep_http_fetch_cb cb;
  void *arg;
};

static void fetch_io(ep_loop_t *loop, int fd, unsigned events, void *arg);

/* The one place where a fetch changes state (and its fd's interest). */
static int fetch_set_state(ep_http_fetch_t *f, fetch_state_t st, ep_err_t *err) {
  f->st = st;
  if (f->fd < 0) {
    return EP_OK;
  }
  unsigned interest = st == FS_SENDING ? EP_LOOP_WRITE : st == FS_RECEIVING ? EP_LOOP_READ : 0;
  if (st == FS_DONE) {
    ep_loop_del_fd(f->loop, f->fd);
    return EP_OK;
  }
  if (ep_loop_fd_interest(f->loop, f->fd) == 0) {
    return ep_loop_add_fd(f->loop, f->fd, interest, fetch_io, f, err);
  }
  return ep_loop_mod_fd(f->loop, f->fd, interest, err);
}

static void fetch_free(ep_http_fetch_t *f) {
  ep_loop_timer_cancel(f->loop, f->deadline);
  ep_tcp_connect_cancel(f->conn);
  if (f->fd >= 0) {
    ep_loop_del_fd(f->loop, f->fd);
    close(f->fd);
  }
  ep_buf_free(&f->req);
  ep_http_resp_free(f->resp);
  free(f);
}

static void fetch_finish(ep_http_fetch_t *f, int rc, const ep_err_t *err) {
  (void)fetch_set_state(f, FS_DONE, NULL);
  ep_http_resp_t *resp = f->resp;
  if (resp != NULL && ep_http_resp_status(resp) == 0) {
    resp = NULL;  /* nothing parsed worth showing */
  }
  f->cb(f->arg, rc, resp, rc == EP_OK ? NULL : err);
  fetch_free(f);
}

static void fetch_recv(ep_http_fetch_t *f) {
  uint8_t buf[16384];
  for (int rounds = 0; rounds < 64; rounds++) {
    ssize_t n = recv(f->fd, buf, sizeof buf, 0);
    ep_err_t err = {0};
    if (n > 0) {
      int rc = ep_http_resp_feed(f->resp, buf, (size_t)n, &err);
      if (rc != EP_NEED_MORE) {
        fetch_finish(f, rc, &err);
        return;
      }
      continue;
    }
    if (n == 0) {
      int rc = ep_http_resp_finish(f->resp, &err);
      fetch_finish(f, rc, &err);
      return;
    }
    int e = errno;
    if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR) {
      return;
    }
    char scratch[24];
    ep_err_set(&err, EP_ERR_IO, "http from %s: read: %s (%s)", f->origin,
               ep_errno_name(e, scratch, sizeof scratch), strerror(e));
    fetch_finish(f, EP_ERR_IO, &err);
    return;
  }
}

static void fetch_send(ep_http_fetch_t *f) {
  while (f->req.len > 0) {
    ssize_t n = send(f->fd, f->req.data, f->req.len, MSG_NOSIGNAL);
    if (n < 0) {
      int e = errno;
      if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR) {
        return;
      }
      ep_err_t err = {0};
      char scratch[24];
      ep_err_set(&err, EP_ERR_IO, "http to %s: write: %s (%s)", f->origin,
                 ep_errno_name(e, scratch, sizeof scratch), strerror(e));
      fetch_finish(f, EP_ERR_IO, &err);
      return;
    }
    ep_buf_consume(&f->req, (size_t)n);
  }
  ep_err_t err = {0};
  if (fetch_set_state(f, FS_RECEIVING, &err) != EP_OK) {
    fetch_finish(f, err.code, &err);
  }
}

static void fetch_io(ep_loop_t *loop, int fd, unsigned events, void *arg) {
  (void)loop;
  (void)fd;
  ep_http_fetch_t *f = arg;
  if (f->st == FS_SENDING && (events & (EP_LOOP_WRITE | EP_LOOP_ERR | EP_LOOP_HUP))) {
    fetch_send(f);
  } else if (f->st == FS_RECEIVING) {
    fetch_recv(f);
  }
}

static void fetch_connected(void *arg, int fd, int sys_errno, const ep_err_t *err) {
  (void)sys_errno;
  ep_http_fetch_t *f = arg;
  f->conn = NULL;
  if (fd < 0) {
    ep_err_t e2 = {0};
    ep_err_set(&e2, err != NULL ? err->code : EP_ERR_IO, "http from %s: %s", f->origin,
               err != NULL ? err->msg : "connect failed");
    fetch_finish(f, e2.code, &e2);
    return;
  }
  f->fd = fd;
  ep_err_t e3 = {0};
  if (fetch_set_state(f, FS_SENDING, &e3) != EP_OK) {
    fetch_finish(f, e3.code, &e3);
    return;
  }
  fetch_send(f);
}

static void fetch_timeout(ep_loop_t *loop, void *arg) {
  (void)loop;
  ep_http_fetch_t *f = arg;
  f->deadline = 0;
  static const char *const what[] = {"connecting", "sending the request", "receiving the response",
                                     "done"};
  ep_err_t err = {0};
  ep_err_set(&err, EP_ERR_TIMEOUT, "http from %s: no complete response within %lld ms (while %s)",
             f->origin, (long long)f->lim.timeout_ms, what[f->st]);
  fetch_finish(f, EP_ERR_TIMEOUT, &err);
}

ep_http_fetch_t *ep_http_fetch(ep_loop_t *loop, const char *ip, uint16_t port, const char *path,
                               const ep_http_limits_t *lim, ep_http_fetch_cb cb, void *arg,
                               ep_err_t *err) {
  ep_addr_t addr;
  if (ep_addr_from_ip(&addr, ip, port, err) != EP_OK) {
    return NULL;
  }
  ep_http_fetch_t *f = calloc(1, sizeof *f);
  if (f == NULL) {
    ep_err_set(err, EP_ERR_NOMEM, "http: out of memory");
    return NULL;
  }
  f->loop = loop;
  f->fd = -1;
  f->cb = cb;
  f->arg = arg;
  if (lim != NULL) {
    f->lim = *lim;
  } else {
    ep_http_limits_default(&f->lim);
  }
  ep_addr_format(&addr, f->origin, sizeof f->origin);
  ep_buf_init(&f->req, 4096, "http request", 0);
  f->st = FS_CONNECTING;
  if (ep_http_build_get(&f->req, f->origin, path, err) != EP_OK) {
    fetch_free(f);
    return NULL;
  }
  f->resp = ep_http_resp_new(f->origin, &f->lim, err);
  if (f->resp == NULL) {
    fetch_free(f);
    return NULL;
  }
  if (f->lim.timeout_ms >= 0) {
    f->deadline = ep_loop_timer_in(loop, f->lim.timeout_ms, fetch_timeout, f);
    if (f->deadline == 0) {
      ep_err_set(err, EP_ERR_NOMEM, "http: cannot arm the deadline");
      fetch_free(f);
      return NULL;
    }
  }
  f->conn = ep_tcp_connect(loop, &addr, -1, fetch_connected, f, err);
  if (f->conn == NULL) {
    fetch_free(f);
    return NULL;
  }
  return f;
}

void ep_http_fetch_cancel(ep_http_fetch_t *f) {
  if (f != NULL) {
    fetch_free(f);
  }
}
