/* exitprobe — service checks: DNS over TCP (RFC 7766). One query for the
 * target name's A record; answered on a well-formed response with the same
 * id and question. Names are read with at most DNS_JUMPS compression
 * pointers, each pointing backwards and past the 12-byte header (a name in
 * the header would be read from the random id: no name lives there). */
#include "probe/engine/svc_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/crypto.h"

#define DNS_JUMPS 16

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

int ep_svc_dns_query(ep_svc_t *sv, ep_err_t *err) {
  uint8_t *q = sv->query + 2;
  size_t n = 12, nl = strlen(sv->name);
  ep_random(&sv->dns_id, sizeof sv->dns_id);
  memset(q, 0, 12);
  q[0] = (uint8_t)(sv->dns_id >> 8); q[1] = (uint8_t)sv->dns_id;
  q[2] = 0x01;  /* RD */
  q[5] = 1;     /* QDCOUNT */
  for (size_t i = 0; i < nl;) {
    const char *dot = memchr(sv->name + i, '.', nl - i);
    size_t l = dot ? (size_t)(dot - sv->name) - i : nl - i;
    if (l == 0 || l > 63 || n + l + 6 > 12 + 255)
      return ep_err_set(err, EP_ERR_MALFORMED, "dns check: '%.60s' is not a DNS name", sv->name);
    q[n++] = (uint8_t)l;
    memcpy(q + n, sv->name + i, l);
    n += l;
    i += l + 1;
  }
  q[n++] = 0;
  q[n++] = 0; q[n++] = 1; /* A */
  q[n++] = 0; q[n++] = 1; /* IN */
  sv->query[0] = (uint8_t)(n >> 8); sv->query[1] = (uint8_t)n;
  sv->query_len = n + 2;
  return EP_OK;
}

/* Reads the name at *off of msg[0..n) into out (lower case, dotted); moves
 * *off past it. -1 if malformed, a loop, or a forward pointer. */
static int read_name(const uint8_t *m, size_t n, size_t *off, char *out, size_t cap) {
  size_t pos = *off, k = 0, jumps = 0;
  bool jumped = false;
  for (;;) {
    if (pos >= n) return -1;
    uint8_t l = m[pos];
    if ((l & 0xc0) == 0xc0) {
      if (pos + 1 >= n || ++jumps > DNS_JUMPS) return -1;
      size_t to = (size_t)(l & 0x3f) << 8 | m[pos + 1];
      if (to >= pos || to < 12) return -1; /* only backwards (no loops), never into the header */
      if (!jumped) *off = pos + 2;
      jumped = true;
      pos = to;
      continue;
    }
    if (l & 0xc0) return -1;
    if (l == 0) break;
    if (pos + 1 + l > n || k + l + 2 > cap) return -1;
    if (k) out[k++] = '.';
    for (size_t i = 0; i < l; i++) {
      uint8_t c = m[pos + 1 + i];
      out[k++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    pos += 1 + l;
  }
  out[k] = 0;
  if (!jumped) *off = pos + 1;
  return 0;
}

/* The first A record of the answer section into buf ("" if none). */
static int first_a(const uint8_t *m, size_t n, size_t off, unsigned an, char *buf, size_t cap) {
  char name[300];
  buf[0] = 0;
  for (unsigned i = 0; i < an && i < 64; i++) {
    if (read_name(m, n, &off, name, sizeof name) != 0 || off + 10 > n) return -1;
    uint16_t type = get16(m + off), rdl = get16(m + off + 8);
    off += 10;
    if (off + rdl > n) return -1;
    if (type == 1 && rdl == 4) {
      snprintf(buf, cap, " A %u.%u.%u.%u", m[off], m[off + 1], m[off + 2], m[off + 3]);
      return 0;
    }
    off += rdl;
  }
  return 0;
}

static ep_svc_status_t dns_parse(ep_svc_t *sv, const uint8_t *m, size_t n) {
  static const char *rcodes[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"};
  if (n < 12 || get16(m) != sv->dns_id || !(m[2] & 0x80))
    return ep_svc_fail(sv, EP_SVC_NOT_PROTO, "not DNS: %s", n < 12 ? "response shorter than a header" : "not a response to our query (id)");
  if (get16(m + 4) != 1) return ep_svc_fail(sv, EP_SVC_NOT_PROTO, "not DNS: %u questions", get16(m + 4));
  char qname[300];
  size_t off = 12;
  const uint8_t *ours = sv->query + 2;
  size_t qlen = sv->query_len - 2 - 12;
  if (read_name(m, n, &off, qname, sizeof qname) != 0 || off + 4 > n || off - 12 + 4 != qlen ||
      memcmp(m + off, ours + 12 + qlen - 4, 4) != 0 || strcasecmp(qname, sv->name[0] ? sv->name : "") != 0)
    return ep_svc_fail(sv, EP_SVC_NOT_PROTO, "not DNS: the question is not ours");
  off += 4;
  int rcode = m[3] & 0x0f;
  char a[40];
  if (first_a(m, n, off, get16(m + 6), a, sizeof a) != 0)
    return ep_svc_fail(sv, EP_SVC_NOT_PROTO, "not DNS: malformed answer record");
  char rc[12];
  snprintf(rc, sizeof rc, "%d", rcode);
  ep_svc_answer(sv, "%s, %u answers%s",
           rcode < 6 ? rcodes[rcode] : rc, get16(m + 6), a);
  sv->res.code = rcode;
  sv->res.refused = rcode != 0;
  sv->res.status = EP_SVC_ANSWERED;
  return EP_SVC_ANSWERED;
}

ep_svc_status_t ep_svc_dns_decide(ep_svc_t *sv, bool eof) {
  (void)eof;
  if (sv->in_len < 2) return EP_SVC_NEED_MORE;
  size_t len = get16(sv->in);
  if (len < 12) return ep_svc_fail(sv, EP_SVC_NOT_PROTO, "not DNS: message length %zu", len);
  if (sv->in_len < 2 + len) return EP_SVC_NEED_MORE;
  return dns_parse(sv, sv->in + 2, len);
}
