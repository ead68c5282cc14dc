/* exitprobe — service checks: the server-first line protocols (SMTP, FTP,
 * SSH, POP3, IMAP, IRC, NNTP) and plain tcp. Each complete line is looked
 * at once; a line longer than EP_SVC_LINE_MAX or with a NUL is not the
 * protocol. IRC sends NICK/USER first (ngircd says nothing before them);
 * the first IRC line back answers. */
#include "probe/engine/svc_int.h"

#include <string.h>

static bool starts(const uint8_t *p, size_t n, const char *s) {
  size_t k = strlen(s);
  return n >= k && memcmp(p, s, k) == 0;
}

static bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

/* The first token after "NNN " / "NNN-" (the greeting's host name). */
static void set_host(ep_svc_t *sv, const uint8_t *p, size_t n) {
  size_t i = 4, k = 0;
  while (i < n && p[i] == ' ') i++;
  while (i < n && p[i] > ' ' && p[i] < 0x7f && k + 1 < sizeof sv->res.identity)
    sv->res.identity[k++] = (char)p[i++];
  sv->res.identity[k] = 0;
  sv->res.id_kind = k ? EP_SVC_ID_HOSTNAME : EP_SVC_ID_NONE;
}

/* A refusal carries no identity to judge interception by: its text is the
 * destination's free choice ("554 5.7.1 blocked", "421 4.7.0 [addr] ..."),
 * and blaming an exit for it would break the one rule of verdicts. */
static ep_svc_status_t answered(ep_svc_t *sv, bool refused, int code) {
  if (refused) {
    sv->res.identity[0] = 0;
    sv->res.id_kind = EP_SVC_ID_NONE;
  }
  sv->res.status = EP_SVC_ANSWERED;
  sv->res.refused = refused;
  sv->res.code = code;
  return EP_SVC_ANSWERED;
}

/* SMTP / FTP / NNTP reply lines: "NNN text", "NNN-text" (multi-line), "NNN". */
static ep_svc_status_t coded_line(ep_svc_t *sv, const uint8_t *p, size_t n) {
  bool coded = n >= 3 && is_digit(p[0]) && is_digit(p[1]) && is_digit(p[2]) &&
               (n == 3 || p[3] == ' ' || p[3] == '-');
  int code = coded ? (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0') : 0;
  if (sv->multi) {
    if (coded && code == sv->res.code && (n == 3 || p[3] == ' ')) sv->multi = false;
    else if (!coded && sv->spec.proto == EP_SVC_SMTP)
      return ep_svc_fail(sv, EP_SVC_NOT_PROTO, "not SMTP: line %u of a multi-line reply has no code", sv->lines);
    else if (coded && code != sv->res.code && sv->spec.proto == EP_SVC_SMTP)
      return ep_svc_fail(sv, EP_SVC_NOT_PROTO, "not SMTP: reply code changes from %d to %d", sv->res.code, code);
    if (sv->multi) return EP_SVC_NEED_MORE;
  } else {
    if (!coded) return ep_svc_fail(sv, EP_SVC_NOT_PROTO, "not %s: no reply code", ep_svc_name(sv->spec));
    sv->res.code = code;
    ep_svc_copy_line(sv->res.answer, sizeof sv->res.answer, p, n);
    set_host(sv, p, n);
    if (n > 3 && p[3] == '-' && sv->spec.proto != EP_SVC_NNTP) {
      sv->multi = true;
      return EP_SVC_NEED_MORE;
    }
  }
  code = sv->res.code;
  if (sv->spec.proto == EP_SVC_FTP && code >= 100 && code < 200) return EP_SVC_NEED_MORE; /* 120: wait */
  if (sv->spec.proto == EP_SVC_NNTP) {
    if (code == 200 || code == 201) return answered(sv, false, code);
    if (code == 400 || code == 502) return answered(sv, true, code);
  } else {
    if (code == 220) return answered(sv, false, code);
    if (code >= 400 && code < 600) return answered(sv, true, code);
  }
  return ep_svc_fail(sv, EP_SVC_NOT_PROTO, "not %s: reply code %d", ep_svc_name(sv->spec), code);
}

static ep_svc_status_t ssh_line(ep_svc_t *sv, const uint8_t *p, size_t n) {
  if (!starts(p, n, "SSH-")) {
    if (sv->lines > 32) return ep_svc_fail(sv, EP_SVC_NOT_PROTO, "not SSH: no identification in 32 lines");
    return EP_SVC_NEED_MORE; /* RFC 4253 4.2: other lines may come first */
  }
  ep_svc_copy_line(sv->res.answer, sizeof sv->res.answer, p, n);
  if (starts(p, n, "SSH-2.0-") || starts(p, n, "SSH-1.99-")) return answered(sv, false, 0);
  return answered(sv, true, 0); /* SSH-1.5: an SSH server, just too old */
}

static ep_svc_status_t pop_imap_line(ep_svc_t *sv, const uint8_t *p, size_t n) {
  ep_svc_copy_line(sv->res.answer, sizeof sv->res.answer, p, n);
  if (sv->spec.proto == EP_SVC_POP3) {
    if (starts(p, n, "+OK")) return answered(sv, false, 0);
    if (starts(p, n, "-ERR")) return answered(sv, true, 0);
    return ep_svc_fail(sv, EP_SVC_NOT_PROTO, "not POP3: no +OK / -ERR");
  }
  if (starts(p, n, "* OK") || starts(p, n, "* PREAUTH")) return answered(sv, false, 0);
  if (starts(p, n, "* BYE")) return answered(sv, true, 0);
  return ep_svc_fail(sv, EP_SVC_NOT_PROTO, "not IMAP: no * OK / * PREAUTH / * BYE");
}

/* RFC 2812 message: [":" prefix SP] command (letters or 3 digits) [params]. */
static ep_svc_status_t irc_line(ep_svc_t *sv, const uint8_t *p, size_t n) {
  size_t i = 0, pre = 0, pend = 0;
  if (n == 0) return EP_SVC_NEED_MORE;
  if (p[0] == ':') {
    pre = 1;
    while (i < n && p[i] != ' ') i++;
    pend = i;
    if (pend == 1 || i == n) return ep_svc_fail(sv, EP_SVC_NOT_PROTO, "not IRC: prefix without a command");
    i++;
  }
  size_t c0 = i;
  bool letters = true, digits = true;
  for (; i < n && p[i] != ' '; i++) {
    letters = letters && ((p[i] | 0x20) >= 'a' && (p[i] | 0x20) <= 'z');
    digits = digits && is_digit(p[i]);
  }
  if (i == c0 || !(letters || (digits && i - c0 == 3)))
    return ep_svc_fail(sv, EP_SVC_NOT_PROTO, "not IRC: bad command");
  ep_svc_copy_line(sv->res.answer, sizeof sv->res.answer, p, n);
  if (pre) {
    size_t k = 0;
    for (size_t j = 1; j < pend && p[j] != '!' && p[j] != '@' && k + 1 < sizeof sv->res.identity; j++)
      sv->res.identity[k++] = (char)p[j];
    sv->res.identity[k] = 0;
    sv->res.id_kind = EP_SVC_ID_IRC_SERVER;
  }
  return answered(sv, letters && i - c0 == 5 && starts(p + c0, n - c0, "ERROR"), digits ? (p[c0] - '0') * 100 + (p[c0 + 1] - '0') * 10 + (p[c0 + 2] - '0') : 0);
}

int ep_svc_irc_query(ep_svc_t *sv, ep_err_t *err) {
  static const char reg[] = "NICK exitprobe\r\nUSER exitprobe 0 * :exitprobe\r\n";
  (void)err;
  memcpy(sv->query, reg, sizeof reg - 1);
  sv->query_len = sizeof reg - 1;
  return EP_OK;
}

static ep_svc_status_t one_line(ep_svc_t *sv, const uint8_t *p, size_t n) {
  sv->lines++;
  if (memchr(p, 0, n)) return ep_svc_fail(sv, EP_SVC_NOT_PROTO, "not %s: NUL byte in line %u", ep_svc_name(sv->spec), sv->lines);
  switch (sv->spec.proto) {
  case EP_SVC_SMTP: case EP_SVC_FTP: case EP_SVC_NNTP: return coded_line(sv, p, n);
  case EP_SVC_SSH: return ssh_line(sv, p, n);
  case EP_SVC_POP3: case EP_SVC_IMAP: return pop_imap_line(sv, p, n);
  case EP_SVC_IRC: return irc_line(sv, p, n);
  default: return ep_svc_fail(sv, EP_SVC_NOT_PROTO, "not a line protocol");
  }
}

ep_svc_status_t ep_svc_line_decide(ep_svc_t *sv, bool eof) {
  if (sv->spec.proto == EP_SVC_TCP) {
    if (sv->in_len == 0) return EP_SVC_NEED_MORE;
    ep_svc_copy_line(sv->res.answer, sizeof sv->res.answer, sv->in, sv->in_len);
    return answered(sv, false, 0);
  }
  while (sv->scan < sv->in_len) {
    const uint8_t *p = sv->in + sv->scan;
    size_t left = sv->in_len - sv->scan;
    size_t lim = left < EP_SVC_LINE_MAX ? left : EP_SVC_LINE_MAX;
    const uint8_t *nl = sv->lscan < lim ? memchr(p + sv->lscan, '\n', lim - sv->lscan) : NULL;
    if (nl == NULL) {
      sv->lscan = lim; /* searched so far: each byte once */
      if (left >= EP_SVC_LINE_MAX)
        return ep_svc_fail(sv, EP_SVC_NOT_PROTO, "not %s: line %u longer than %d bytes",
                           ep_svc_name(sv->spec), sv->lines + 1, EP_SVC_LINE_MAX);
      if (!eof) return EP_SVC_NEED_MORE;
      nl = p + left; /* the last line, cut short by the end of the stream */
    }
    size_t n = (size_t)(nl - p);
    sv->lscan = 0;
    sv->scan += n + (nl < p + left ? 1 : 0);
    if (n > 0 && p[n - 1] == '\r') n--;
    ep_svc_status_t st = one_line(sv, p, n);
    if (st != EP_SVC_NEED_MORE) return st;
  }
  return EP_SVC_NEED_MORE;
}
