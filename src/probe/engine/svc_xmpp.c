/* exitprobe — service checks: XMPP client streams. Sends the stream header;
 * answered on the server's stream header (its from= names the destination)
 * and the element after it (<stream:error> = refused). No XML parser: a
 * small bounded scanner over tags; any <!...> declaration (DOCTYPE, entity:
 * the XML bomb) is refused as not XMPP. */
#include "probe/engine/svc_int.h"

#include <stdio.h>
#include <string.h>

#define XMPP_TAG_MAX 4096u    /* longest tag the scanner looks at */

int ep_svc_xmpp_query(ep_svc_t *sv, ep_err_t *err) {
  for (const char *c = sv->name; *c; c++)
    if ((unsigned char)*c <= ' ' || strchr("<>&'\"", *c) || (unsigned char)*c >= 0x7f)
      return ep_err_set(err, EP_ERR_MALFORMED, "xmpp check: target name has a byte XML would quote");
  int n = snprintf((char *)sv->query, sizeof sv->query,
                   "<?xml version='1.0'?><stream:stream to='%s' version='1.0' xmlns='jabber:client' "
                   "xmlns:stream='http://etherx.jabber.org/streams'>", sv->name);
  if (n < 0 || (size_t)n >= sizeof sv->query)
    return ep_err_set(err, EP_ERR_LIMIT, "xmpp check: stream header longer than %d bytes", EP_SVC_QUERY_MAX);
  sv->query_len = (size_t)n;
  return EP_OK;
}

/* The end of the tag starting at p[0] == '<' (index of '>'), honouring
 * quotes; 0 if not yet complete. */
static size_t tag_end(const uint8_t *p, size_t n) {
  uint8_t q = 0;
  for (size_t i = 1; i < n; i++) {
    if (q) { if (p[i] == q) q = 0; }
    else if (p[i] == '\'' || p[i] == '"') q = p[i];
    else if (p[i] == '>') return i;
  }
  return 0;
}

/* Attribute `name` of the tag p[0..n) into out ("" if absent). */
static void attr(const uint8_t *p, size_t n, const char *name, char *out, size_t cap) {
  size_t k = strlen(name);
  out[0] = 0;
  for (size_t i = 1; i + k + 2 < n; i++) {
    if ((p[i - 1] == ' ' || p[i - 1] == '\t' || p[i - 1] == '\n' || p[i - 1] == '\r') &&
        memcmp(p + i, name, k) == 0 && p[i + k] == '=' && (p[i + k + 1] == '\'' || p[i + k + 1] == '"')) {
      uint8_t q = p[i + k + 1];
      size_t v = i + k + 2, e = v;
      while (e < n && p[e] != q) e++;
      ep_svc_copy_line(out, cap, p + v, e - v);
      return;
    }
  }
}

static ep_svc_status_t stream_header(ep_svc_t *sv, const uint8_t *p, size_t n) {
  if (n < 15 || memcmp(p, "<stream:stream", 14) != 0 || (p[14] != ' ' && p[14] != '>'))
    return ep_svc_fail(sv, EP_SVC_NOT_PROTO, "not XMPP: first element is not <stream:stream>");
  char from[EP_SVC_IDENTITY], id[96];
  attr(p, n, "from", from, sizeof from);
  attr(p, n, "id", id, sizeof id);
  ep_svc_answer(sv, "stream from=%s id=%s", from, id);
  memcpy(sv->res.identity, from, sizeof from);
  sv->res.id_kind = from[0] ? EP_SVC_ID_XMPP_FROM : EP_SVC_ID_NONE;
  sv->seen_header = true;
  return EP_SVC_NEED_MORE;
}

static ep_svc_status_t one_tag(ep_svc_t *sv, const uint8_t *p, size_t n) {
  if (n >= 2 && p[1] == '!')
    return ep_svc_fail(sv, EP_SVC_NOT_PROTO, "not XMPP: XML declaration <!...> (DOCTYPE/entity: XML bomb?) refused");
  if (n >= 2 && p[1] == '?') {
    if (sv->seen_header) return ep_svc_fail(sv, EP_SVC_NOT_PROTO, "not XMPP: processing instruction in the stream");
    return EP_SVC_NEED_MORE;
  }
  if (!sv->seen_header) return stream_header(sv, p, n);
  sv->res.status = EP_SVC_ANSWERED;
  if (n >= 14 && memcmp(p, "<stream:error", 13) == 0 && (p[13] == '>' || p[13] == ' ' || p[13] == '/'))
    sv->res.refused = true;
  return EP_SVC_ANSWERED;
}

ep_svc_status_t ep_svc_xmpp_decide(ep_svc_t *sv, bool eof) {
  while (sv->scan < sv->in_len) {
    const uint8_t *p = sv->in + sv->scan;
    size_t left = sv->in_len - sv->scan;
    if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') { sv->scan++; continue; }
    if (*p != '<') return ep_svc_fail(sv, EP_SVC_NOT_PROTO, "not XMPP: text where a tag should be");
    size_t window = left < XMPP_TAG_MAX ? left : XMPP_TAG_MAX;
    size_t e = tag_end(p, window);
    /* a NUL inside this tag (or the part of it seen so far); bytes after
     * the tag are the next tag's business, so the chunking cannot matter */
    if (memchr(p, 0, e ? e + 1 : window))
      return ep_svc_fail(sv, EP_SVC_NOT_PROTO, "not XMPP: NUL byte");
    if (e == 0) {
      if (left >= XMPP_TAG_MAX) return ep_svc_fail(sv, EP_SVC_NOT_PROTO, "not XMPP: tag longer than %u bytes", XMPP_TAG_MAX);
      break;
    }
    sv->scan += e + 1;
    ep_svc_status_t st = one_tag(sv, p, e + 1);
    if (st != EP_SVC_NEED_MORE) return st;
  }
  if (eof && sv->seen_header) {
    sv->res.status = EP_SVC_ANSWERED; /* the header, then the end: still XMPP */
    return EP_SVC_ANSWERED;
  }
  return EP_SVC_NEED_MORE;
}
