/* exitprobe — service checks: HTTP. Sends HEAD / with the target's Host;
 * the answer is the status line plus the Server header, read from at most
 * HTTP_HEAD_MAX bytes of header. */
#include "probe/engine/svc_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define HTTP_HEAD_MAX (16u * 1024u)

int ep_svc_http_query(ep_svc_t *sv, ep_err_t *err) {
  for (const char *c = sv->name; *c; c++)
    if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f)
      return ep_err_set(err, EP_ERR_MALFORMED, "http check: target name has a space or control byte");
  bool v6 = strchr(sv->name, ':') != NULL;
  int n = snprintf((char *)sv->query, sizeof sv->query,
                   "HEAD / HTTP/1.1\r\nHost: %s%s%s\r\nUser-Agent: exitprobe\r\nConnection: close\r\n\r\n",
                   v6 ? "[" : "", sv->name, v6 ? "]" : "");
  if (n < 0 || (size_t)n >= sizeof sv->query)
    return ep_err_set(err, EP_ERR_LIMIT, "http check: request longer than %d bytes", EP_SVC_QUERY_MAX);
  sv->query_len = (size_t)n;
  return EP_OK;
}

/* Where the header ends (just past the empty line), 0 if not yet. */
static size_t head_end(ep_svc_t *sv) {
  const uint8_t *p = sv->in;
  for (size_t i = sv->scan > 1 ? sv->scan : 1; i < sv->in_len; i++) {
    if (p[i] == '\n' && (p[i - 1] == '\n' || (p[i - 1] == '\r' && i >= 2 && p[i - 2] == '\n')))
      return i + 1;
  }
  sv->scan = sv->in_len;
  return 0;
}

/* The Server header's value within p[0..n), "" if none. */
static void server_header(const uint8_t *p, size_t n, char *out, size_t cap) {
  out[0] = 0;
  for (size_t i = 0; i < n;) {
    const uint8_t *nl = memchr(p + i, '\n', n - i);
    size_t end = nl ? (size_t)(nl - p) : n;
    if (end - i > 7 && strncasecmp((const char *)p + i, "server:", 7) == 0) {
      size_t v = i + 7;
      while (v < end && (p[v] == ' ' || p[v] == '\t')) v++;
      ep_svc_copy_line(out, cap, p + v, end - v);
      return;
    }
    i = end + 1;
  }
}

static ep_svc_status_t http_parse(ep_svc_t *sv, size_t n) {
  const uint8_t *p = sv->in;
  if (n < 12 || memcmp(p, "HTTP/", 5) != 0 || p[6] != '.' || p[8] != ' ')
    return ep_svc_fail(sv, EP_SVC_NOT_PROTO, "not HTTP: bad status line");
  int code = 0;
  for (int i = 9; i < 12; i++) {
    if (p[i] < '0' || p[i] > '9') return ep_svc_fail(sv, EP_SVC_NOT_PROTO, "not HTTP: bad status code");
    code = code * 10 + (p[i] - '0');
  }
  if (memchr(p, 0, n)) return ep_svc_fail(sv, EP_SVC_NOT_PROTO, "not HTTP: NUL byte in the header");
  char status[EP_SVC_ANSWER], server[EP_SVC_ANSWER];
  ep_svc_copy_line(status, sizeof status, p, n);
  server_header(p, n, server, sizeof server);
  ep_svc_answer(sv, "%s%s%s", status, server[0] ? "; Server: " : "", server);
  sv->res.code = code;
  sv->res.refused = code >= 400;
  sv->res.status = EP_SVC_ANSWERED;
  return EP_SVC_ANSWERED;
}

ep_svc_status_t ep_svc_http_decide(ep_svc_t *sv, bool eof) {
  size_t k = sv->in_len < 5 ? sv->in_len : 5;
  if (memcmp(sv->in, "HTTP/", k) != 0) return ep_svc_fail(sv, EP_SVC_NOT_PROTO, "not HTTP: no HTTP/ status line");
  size_t end = head_end(sv);
  if (end == 0 && sv->in_len >= HTTP_HEAD_MAX) end = HTTP_HEAD_MAX;
  if (end == 0 && eof && memchr(sv->in, '\n', sv->in_len)) end = sv->in_len;
  if (end == 0) return EP_SVC_NEED_MORE;
  return http_parse(sv, end);
}
