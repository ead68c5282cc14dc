/* exitprobe — service checks: the port table, service names, and the
 * dispatch of a check's bytes to its protocol (plain or inside TLS). */
#include "probe/engine/svc_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/crypto.h"

typedef struct svc_name {
  const char *name;
  ep_svc_proto_t proto;
  bool tls;
  uint16_t port;
} svc_name_t;

/* The one table: names (first of a spec = its record name) and ports. */
static const svc_name_t svc_names[] = {
  {"tcp", EP_SVC_TCP, false, 0},
  {"ftp", EP_SVC_FTP, false, 21},
  {"ssh", EP_SVC_SSH, false, 22},
  {"smtp", EP_SVC_SMTP, false, 25},
  {"submission", EP_SVC_SMTP, false, 587},
  {"smtp-alt", EP_SVC_SMTP, false, 2525},
  {"dns", EP_SVC_DNS, false, 53},
  {"domain", EP_SVC_DNS, false, 53},
  {"http", EP_SVC_HTTP, false, 80},
  {"pop3", EP_SVC_POP3, false, 110},
  {"nntp", EP_SVC_NNTP, false, 119},
  {"imap", EP_SVC_IMAP, false, 143},
  {"https", EP_SVC_HTTP, true, 443},
  {"submissions", EP_SVC_SMTP, true, 465},
  {"smtps", EP_SVC_SMTP, true, 465},
  {"dot", EP_SVC_DNS, true, 853},
  {"imaps", EP_SVC_IMAP, true, 993},
  {"pop3s", EP_SVC_POP3, true, 995},
  {"xmpp-client", EP_SVC_XMPP, false, 5222},
  {"xmpp", EP_SVC_XMPP, false, 5222},
  {"xmpps", EP_SVC_XMPP, true, 5223},
  {"irc", EP_SVC_IRC, false, 6667},
  {"ircs", EP_SVC_IRC, true, 6697},
  {"nntps", EP_SVC_NNTP, true, 563},
  {"ftps", EP_SVC_FTP, true, 990},
};
#define SVC_NAMES (sizeof svc_names / sizeof svc_names[0])

static const uint16_t common_ports[] = {21, 22, 25, 53, 80, 110, 143, 443, 465,
                                        587, 993, 995, 5222, 6667, 6697};

ep_svc_spec_t ep_svc_for_port(uint16_t port) {
  ep_svc_spec_t s = {EP_SVC_TCP, false};
  for (size_t i = 0; i < SVC_NAMES; i++)
    if (svc_names[i].port == port && port != 0) {
      s.proto = svc_names[i].proto;
      s.tls = svc_names[i].tls;
      return s;
    }
  return s;
}

const char *ep_svc_name(ep_svc_spec_t spec) {
  for (size_t i = 0; i < SVC_NAMES; i++)
    if (svc_names[i].proto == spec.proto && svc_names[i].tls == spec.tls)
      return svc_names[i].name;
  return spec.tls ? "tls" : "tcp";
}

int ep_svc_parse(const char *name, ep_svc_spec_t *out, ep_err_t *err) {
  for (size_t i = 0; name && i < SVC_NAMES; i++)
    if (strcasecmp(name, svc_names[i].name) == 0) {
      out->proto = svc_names[i].proto;
      out->tls = svc_names[i].tls;
      return EP_OK;
    }
  return ep_err_set(err, EP_ERR_MALFORMED, "unknown service '%.40s' (smtp, https, imaps, tcp, ...)",
                    name ? name : "");
}

uint16_t ep_svc_port_by_name(const char *name) {
  for (size_t i = 0; name && i < SVC_NAMES; i++)
    if (strcasecmp(name, svc_names[i].name) == 0) return svc_names[i].port;
  return 0;
}

size_t ep_svc_common_ports(const uint16_t **ports) {
  *ports = common_ports;
  return sizeof common_ports / sizeof common_ports[0];
}

bool ep_svc_server_first(ep_svc_spec_t spec) {
  if (spec.tls) return false;
  switch (spec.proto) {
  case EP_SVC_SMTP: case EP_SVC_FTP: case EP_SVC_SSH: case EP_SVC_POP3:
  case EP_SVC_IMAP: case EP_SVC_IRC: case EP_SVC_NNTP:
    return true;
  default:
    return false;
  }
}

ep_svc_status_t ep_svc_fail(ep_svc_t *sv, ep_svc_status_t st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(sv->res.why, sizeof sv->res.why, fmt, ap);
  va_end(ap);
  sv->res.status = st;
  if (sv->res.id_kind != EP_SVC_ID_CERT) {
    /* Words that are not the protocol name nothing: only a certificate, or a
     * greeting that is the protocol, says who answered (a flood's first line
     * must not outvote the real destination). */
    sv->res.id_kind = EP_SVC_ID_NONE;
    sv->res.identity[0] = 0;
  }
  return st;
}

void ep_svc_answer(ep_svc_t *sv, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(sv->res.answer, sizeof sv->res.answer, fmt, ap);
  va_end(ap);
}

void ep_svc_copy_line(char *dst, size_t cap, const uint8_t *p, size_t n) {
  size_t k = 0;
  while (k < n && k + 1 < cap && p[k] != '\r' && p[k] != '\n' && p[k] != 0) {
    dst[k] = (char)p[k];
    k++;
  }
  dst[k] = 0;
}

int ep_svc_build_query(ep_svc_t *sv, ep_err_t *err) {
  switch (sv->spec.proto) {
  case EP_SVC_HTTP: return ep_svc_http_query(sv, err);
  case EP_SVC_XMPP: return ep_svc_xmpp_query(sv, err);
  case EP_SVC_DNS: return ep_svc_dns_query(sv, err);
  case EP_SVC_IRC: return ep_svc_irc_query(sv, err);
  default: return EP_OK;
  }
}

ep_svc_t *ep_svc_new(ep_svc_spec_t spec, const char *target_name, ep_err_t *err) {
  return ep_svc_new_ex(spec, target_name, 0, NULL, err);
}

ep_svc_t *ep_svc_new_ex(ep_svc_spec_t spec, const char *target_name, uint16_t port,
                        ep_svc_sessions_t *ss, ep_err_t *err) {
  if ((unsigned)spec.proto >= EP_SVC_PROTO_COUNT) {
    ep_err_set(err, EP_ERR_MALFORMED, "service check: unknown protocol %d", (int)spec.proto);
    return NULL;
  }
  size_t nl = target_name ? strlen(target_name) : 0;
  ep_svc_t *sv = calloc(1, sizeof *sv);
  if (sv == NULL || nl >= sizeof sv->name) {
    ep_err_set(err, sv ? EP_ERR_LIMIT : EP_ERR_NOMEM, "service check: %s",
               sv ? "target name longer than 255 bytes" : "out of memory");
    free(sv);
    return NULL;
  }
  sv->spec = spec;
  sv->sessions = ss;
  sv->port = port;
  memcpy(sv->name, target_name ? target_name : "", nl + 1);
  if (ep_svc_build_query(sv, err) != EP_OK || (spec.tls && ep_svc_tls_new(sv, err) != EP_OK)) {
    ep_svc_free(sv);
    return NULL;
  }
  return sv;
}

void ep_svc_free(ep_svc_t *sv) {
  if (sv == NULL) return;
  ep_svc_tls_free(sv);
  if (sv->in) {
    ep_wipe(sv->in, sv->in_len);
    free(sv->in);
  }
  ep_wipe(sv, sizeof *sv);
  free(sv);
}

size_t ep_svc_output(ep_svc_t *sv, const uint8_t **p) {
  if (sv->tls) return ep_svc_tls_output(sv, p);
  *p = sv->query + sv->query_off;
  return sv->query_len - sv->query_off;
}

void ep_svc_output_done(ep_svc_t *sv, size_t n) {
  if (sv->tls) {
    ep_svc_tls_output_done(sv, n);
    return;
  }
  size_t left = sv->query_len - sv->query_off;
  sv->query_off += n < left ? n : left;
}

static ep_svc_status_t plain_decide(ep_svc_t *sv, bool eof) {
  switch (sv->spec.proto) {
  case EP_SVC_HTTP: return ep_svc_http_decide(sv, eof);
  case EP_SVC_XMPP: return ep_svc_xmpp_decide(sv, eof);
  case EP_SVC_DNS: return ep_svc_dns_decide(sv, eof);
  default: return ep_svc_line_decide(sv, eof);
  }
}

ep_svc_status_t ep_svc_plain_input(ep_svc_t *sv, const uint8_t *data, size_t len, bool eof) {
  if (sv->res.status != EP_SVC_NEED_MORE) return sv->res.status;
  if (len > EP_CAP_SVC_INPUT - sv->in_len) {
    len = EP_CAP_SVC_INPUT - sv->in_len;
    eof = false;
    if (len == 0)
      return ep_svc_fail(sv, EP_SVC_FAILED, "no answer within %u bytes (cap)", EP_CAP_SVC_INPUT);
  }
  if (len > 0) {
    if (sv->in == NULL && (sv->in = malloc(EP_CAP_SVC_INPUT)) == NULL)
      return ep_svc_fail(sv, EP_SVC_FAILED, "out of memory");
    memcpy(sv->in + sv->in_len, data, len);
    sv->in_len += len;
  }
  ep_svc_status_t st = sv->in_len ? plain_decide(sv, eof) : EP_SVC_NEED_MORE;
  if (st == EP_SVC_NEED_MORE && sv->in_len >= EP_CAP_SVC_INPUT)
    return ep_svc_fail(sv, EP_SVC_FAILED, "no answer within %u bytes (cap)", EP_CAP_SVC_INPUT);
  if (st == EP_SVC_NEED_MORE && eof)
    return ep_svc_fail(sv, EP_SVC_FAILED, sv->in_len ? "stream ended in the middle of an answer (%zu bytes)"
                                                     : "stream ended with nothing said%.0zu", sv->in_len);
  return st;
}

ep_svc_status_t ep_svc_input(ep_svc_t *sv, const uint8_t *data, size_t len, bool eof) {
  if (sv->res.status != EP_SVC_NEED_MORE) return sv->res.status;
  size_t room = EP_CAP_SVC_INPUT - sv->res.bytes_in;
  if (len > room) len = room;
  sv->res.bytes_in += len;
  ep_svc_status_t st = sv->tls ? ep_svc_tls_input(sv, data, len, eof)
                               : ep_svc_plain_input(sv, data, len, eof);
  if (st == EP_SVC_NEED_MORE && sv->res.bytes_in >= EP_CAP_SVC_INPUT)
    return ep_svc_fail(sv, EP_SVC_FAILED, "no answer within %u bytes (cap)", EP_CAP_SVC_INPUT);
  return st;
}

const ep_svc_result_t *ep_svc_result(const ep_svc_t *sv) { return &sv->res; }
