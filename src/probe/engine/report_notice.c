/* exitprobe — operator notices (report --notices). */
#include "config.h"

#include "probe/engine/report_notice.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dir/ciiss.h"
#include "lib/caps.h"
#include "lib/encode.h"
#include "lib/escape.h"

#define NOTICE_WRAP 72u   /* body line width for long relay text */

/* ---- header values -------------------------------------------------- */

/* Control characters out, white space folded; *ascii: no byte >= 0x80. */
static size_t header_clean(const char *v, size_t n, char *out, size_t cap, bool *ascii) {
  size_t o = 0;
  bool space = true;   /* drop leading space */
  *ascii = true;
  for (size_t i = 0; i < n && o + 1 < cap; i++) {
    unsigned char c = (unsigned char)v[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      if (!space) {
        out[o++] = ' ';
      }
      space = true;
    } else if (c < 0x20 || c == 0x7f) {
      continue;
    } else {
      *ascii = *ascii && c < 0x80;
      out[o++] = (char)c;
      space = false;
    }
  }
  while (o > 0 && out[o - 1] == ' ') {
    o--;
  }
  out[o] = '\0';
  return o;
}

int ep_notice_header_value(ep_buf_t *out, const char *v, size_t n, ep_err_t *err) {
  char clean[2 * EP_CAP_CONTACT];
  bool ascii;
  size_t len = header_clean(v, n, clean, sizeof clean, &ascii);
  if (ascii) {
    return ep_buf_append(out, clean, len, err);
  }
  int rc = EP_OK;
  for (size_t i = 0; rc == EP_OK && i < len;) {
    size_t take = len - i < 45 ? len - i : 45;   /* 45 bytes: 60 base64 chars, word of 72 */
    while (take > 1 && i + take < len && ((unsigned char)clean[i + take] & 0xc0) == 0x80) {
      take--;                                     /* do not split a UTF-8 sequence */
    }
    char b64[64];
    ssize_t bn = ep_base64_encode(b64, sizeof b64, clean + i, take, EP_B64_PAD);
    rc = bn < 0 ? ep_err_set(err, EP_ERR_INTERNAL, "base64 of a header value")
                : ep_buf_printf(out, err, "%s=?utf-8?B?%.*s?=", i > 0 ? " " : "", (int)bn, b64);
    i += take;
  }
  return rc;
}

void ep_notice_to(const ep_rm_pair_t *p, char *out, size_t cap) {
  ep_ciiss_t c;
  memset(&c, 0, sizeof c);
  c.email.p = p->contact_email;
  c.email.len = strlen(p->contact_email);
  if (c.email.len == 0 || c.email.len > EP_CAP_CIISS_FIELD || !ep_ciiss_email(&c, out, cap)) {
    if (cap > 0) {
      out[0] = '\0';
    }
  }
}

/* ---- the body ------------------------------------------------------- */

/* "label: value" with value escaped for a terminal; long values continue on
 * indented lines of NOTICE_WRAP characters. */
static int put_field(ep_buf_t *b, const char *label, const char *v, ep_err_t *err) {
  char esc[4 * EP_CAP_CONTACT + 8];
  ep_escape_text(esc, sizeof esc, v, strlen(v));
  size_t n = strlen(esc);
  int rc = ep_buf_printf(b, err, "  %-12s ", label);
  for (size_t i = 0; rc == EP_OK && (i < n || i == 0); i += NOTICE_WRAP) {
    size_t take = n - i < NOTICE_WRAP ? n - i : NOTICE_WRAP;
    rc = ep_buf_printf(b, err, "%s%.*s\n", i > 0 ? "               " : "", (int)take, esc + i);
    if (n == 0) {
      break;
    }
  }
  return rc;
}

static const char *meaning(ep_class_t c) {
  switch (c) {
    case EP_CLASS_CONNECT_FAILED:
    case EP_CLASS_REFUSED:
    case EP_CLASS_NOROUTE:
      return "the exit's own connection to the port was refused or found no route: most often a\n"
             "  firewall on the relay's host or its provider blocks outgoing connections to it.";
    case EP_CLASS_TIMEOUT:
      return "the exit's connection to the port never completed: outgoing packets to it are\n"
             "  most likely dropped by a firewall on the host or at the provider.";
    case EP_CLASS_EXITPOLICY:
      return "the exit answered that its exit policy rejects the port, although the policy it\n"
             "  publishes accepts it (a reject rule by address, or a policy not yet republished).";
    case EP_CLASS_CLOSED:
    case EP_CLASS_SILENT:
      return "a connection opened but closed or stayed silent where the service speaks first:\n"
             "  typically a filtering proxy or firewall in front of the destination port.";
    case EP_CLASS_INTERCEPTED:
      return "another party answered in the destination's name: a middlebox intercepts the port.";
    default:
      return "the exit did not carry the connection its exit policy announces.";
  }
}

static const char *name_of(const char *s) { return s[0] != '\0' ? s : "(unknown)"; }

static bool word_safe(const char *s) {
  for (; *s != '\0'; s++) {
    bool ok = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '-' || *s == ':' || *s == '[' || *s == ']';
    if (!ok) {
      return false;
    }
  }
  return true;
}

static int put_pair(ep_buf_t *b, const ep_rm_pair_t *p, const ep_notice_cfg_t *cfg, ep_err_t *err) {
  char addr[160];
  snprintf(addr, sizeof addr, "%s:%u", p->exit.address, p->exit.or_port);
  ep_class_t fc = p->fail_class != EP_CLASS_COUNT ? p->fail_class : p->last_class;
  char seen[160];
  snprintf(seen, sizeof seen, "failed in %u of %u round%s probed", p->violates, p->records,
           p->records == 1 ? "" : "s");
  int rc = ep_buf_printf(b, err, "Relay %s, port %u\n", p->exit.fingerprint, p->port);
  if (rc == EP_OK) rc = put_field(b, "nickname", name_of(p->exit.nickname), err);
  if (rc == EP_OK) rc = put_field(b, "address", addr, err);
  if (rc == EP_OK) rc = put_field(b, "class", fc != EP_CLASS_COUNT ? ep_class_name(fc) : "?", err);
  if (rc == EP_OK) rc = put_field(b, "raw reason", name_of(p->fail_end_reason_name), err);
  if (rc == EP_OK && p->fail_answer[0] != '\0') rc = put_field(b, "answer", p->fail_answer, err);
  if (rc == EP_OK) rc = put_field(b, "why", name_of(p->fail_why), err);
  if (rc == EP_OK) rc = put_field(b, "rounds", seen, err);
  if (rc == EP_OK) rc = put_field(b, "first failed", name_of(p->first_fail_time), err);
  if (rc == EP_OK) rc = put_field(b, "last failed", name_of(p->last_fail_time), err);
  if (rc == EP_OK) rc = put_field(b, "first hop", p->fail_first_hop.fingerprint, err);
  if (rc == EP_OK) rc = ep_buf_printf(b, err, "\n  What it likely means: %s\n", meaning(fc));
  if (rc == EP_OK) {
    rc = ep_buf_printf(b, err,
                       "\n  Two ways out:\n"
                       "    1. Allow outgoing connections to port %u from the relay's host (firewall,\n"
                       "       provider), so the exit does what its policy says; or\n"
                       "    2. Stop announcing the port: add \"ExitPolicy reject *:%u\" before your accept\n"
                       "       lines in torrc and reload tor (systemctl reload tor, or SIGHUP).\n",
                       p->port, p->port);
  }
  /* only shell-safe words go into the command; anything else: a placeholder */
  const char *fp = word_safe(p->exit.fingerprint) && p->exit.fingerprint[0] ? p->exit.fingerprint : "FINGERPRINT";
  const char *target = word_safe(p->last_target) && p->last_target[0] ? p->last_target : "HOST";
  if (rc == EP_OK) {
    rc = ep_buf_printf(b, err, "\n  To see it yourself (one probe, the same way):\n"
                               "    exitprobe circuit --exit %s --port %u --target %s%s%s\n\n",
                       fp, p->port, target,
                       cfg->extra_args != NULL ? " " : "", cfg->extra_args != NULL ? cfg->extra_args : "");
  }
  return rc;
}

/* Did the exit's resolver fail (#14) in the pair's records? */
static bool dns_fault(const ep_rm_pair_t *p) { return p->dns_broken > 0 || p->dns_wrong > 0; }

/* The exit's DNS resolver (#14): what it answered, what it means, the fixes. */
static int put_dns(ep_buf_t *b, const ep_rm_pair_t *p, bool head, ep_err_t *err) {
  bool broken = p->dns_broken > 0;
  unsigned n = broken ? p->dns_broken : p->dns_wrong;
  char seen[160];
  snprintf(seen, sizeof seen, "%s in %u of %u round%s probed", broken ? "broken" : "wrong", n,
           p->records, p->records == 1 ? "" : "s");
  int rc = head ? ep_buf_printf(b, err, "Relay %s, its DNS resolver\n", p->exit.fingerprint)
                : ep_buf_append_str(b, "  Its DNS resolver:\n", err);
  if (rc == EP_OK && head) rc = put_field(b, "nickname", name_of(p->exit.nickname), err);
  if (rc == EP_OK) rc = put_field(b, "dns", seen, err);
  if (rc == EP_OK) rc = put_field(b, "answers", name_of(p->last_dns_detail), err);
  if (rc == EP_OK) {
    rc = ep_buf_append_str(
        b, broken ? "\n  What it likely means: the resolver tor uses fails names that resolve through\n"
                    "  other exits, so clients get RESOLVEFAILED on every port they ask for by name.\n"
                    "  (The ports themselves were probed by address: their verdicts are about the ports.)\n"
                  : "\n  What it likely means: the resolver tor uses answers with addresses no other exit\n"
                    "  got (a filtering or hijacking resolver), so clients reach someone else.\n",
        err);
  }
  if (rc == EP_OK) {
    rc = ep_buf_append_str(b, "\n  The usual fixes:\n"
                              "    1. Run a local caching resolver on the relay's host (e.g. unbound, no\n"
                              "       forwarding to filtering resolvers) and point tor at it: in torrc\n"
                              "       \"ServerDNSResolvConfFile /etc/tor/resolv.conf\", that file saying\n"
                              "       \"nameserver 127.0.0.1\"; reload tor; or\n"
                              "    2. Put working, non-rewriting resolvers in that file instead.\n", err);
  }
  const char *fp = word_safe(p->exit.fingerprint) && p->exit.fingerprint[0] ? p->exit.fingerprint : "FINGERPRINT";
  const char *target = word_safe(p->last_target) && p->last_target[0] ? p->last_target : "NAME";
  if (rc == EP_OK) {
    rc = ep_buf_printf(b, err, "\n  To see it yourself (the exit's resolver, cell by cell):\n"
                               "    exitprobe circuit --exit %s --resolve %s\n\n", fp, target);
  }
  return rc;
}

static void subject_of(const ep_rm_pair_t *const *pairs, size_t n, char *out, size_t cap) {
  size_t nv = 0;
  for (size_t i = 0; i < n; i++) {
    nv += pairs[i]->violates > 0;
  }
  if (nv == 0) {   /* only DNS faults (#14) */
    snprintf(out, cap, "Tor exit %s (%.8s): its DNS resolver is %s", name_of(pairs[0]->exit.nickname),
             pairs[0]->exit.fingerprint, pairs[0]->dns_broken > 0 ? "broken" : "giving wrong answers");
  } else if (n == 1) {
    snprintf(out, cap, "Tor exit %s (%.8s): port %u fails contrary to its exit policy (%s)",
             name_of(pairs[0]->exit.nickname), pairs[0]->exit.fingerprint, pairs[0]->port,
             ep_class_name(pairs[0]->fail_class != EP_CLASS_COUNT ? pairs[0]->fail_class
                                                                 : EP_CLASS_OTHER_END));
  } else {
    snprintf(out, cap, "Tor exits of yours: %zu relay/port pairs fail contrary to their exit policies",
             nv);
  }
}

static int put_body(const ep_rm_pair_t *const *pairs, size_t n, const ep_notice_cfg_t *cfg,
                    const char *subject, ep_buf_t *b, ep_err_t *err) {
  int rc = ep_buf_append_str(b, "Subject: ", err);
  if (rc == EP_OK) rc = ep_notice_header_value(b, subject, strlen(subject), err);
  if (rc == EP_OK) {
    rc = ep_buf_append_str(b, "\n\nHello,\n\n"
                              "exitprobe, which checks whether Tor exits can reach the ports their exit\n"
                              "policies announce, found the following exit(s) failing. Your contact line:\n", err);
  }
  if (rc == EP_OK) rc = put_field(b, "contact", pairs[0]->contact[0] ? pairs[0]->contact : "(none)", err);
  if (rc == EP_OK) rc = ep_buf_append_str(b, "\n", err);
  for (size_t i = 0; rc == EP_OK && i < n; i++) {
    /* the exit's DNS block once, with its first pair (pairs are sorted by exit) */
    bool first_of_exit = i == 0 || strcmp(pairs[i - 1]->exit.fingerprint, pairs[i]->exit.fingerprint) != 0;
    if (pairs[i]->violates > 0) {
      rc = put_pair(b, pairs[i], cfg, err);
      if (rc == EP_OK && first_of_exit && dns_fault(pairs[i])) {
        rc = put_dns(b, pairs[i], false, err);
      }
    } else if (first_of_exit && dns_fault(pairs[i])) {
      rc = put_dns(b, pairs[i], true, err);
    }
  }
  if (rc == EP_OK) {
    rc = ep_buf_append_str(b, "Clients that pick your exit for these ports get failed connections, so\n"
                              "either fix above helps them. Thank you for running a relay.\n", err);
  }
  return rc;
}

static void date_of(time_t t, char *out, size_t cap) {
  static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  struct tm tm;
  if (gmtime_r(&t, &tm) == NULL) {
    memset(&tm, 0, sizeof tm);
    tm.tm_mday = 1;
    tm.tm_year = 70;
    tm.tm_wday = 4;
  }
  snprintf(out, cap, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7], tm.tm_mday,
           months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int put_eml(const ep_rm_pair_t *p, const ep_notice_cfg_t *cfg, const char *subject,
                   const ep_buf_t *txt, ep_buf_t *eml, ep_err_t *err) {
  char to[EP_CAP_CIISS_FIELD + 1], date[64];
  ep_notice_to(p, to, sizeof to);
  date_of(cfg->now, date, sizeof date);
  const char *from = cfg->from != NULL ? cfg->from : "exitprobe@localhost";
  int rc = ep_buf_append_str(eml, "From: ", err);
  if (rc == EP_OK) rc = ep_notice_header_value(eml, from, strlen(from), err);
  if (rc == EP_OK && to[0] != '\0') rc = ep_buf_printf(eml, err, "\r\nTo: %s", to);
  if (rc == EP_OK) rc = ep_buf_append_str(eml, "\r\nSubject: ", err);
  if (rc == EP_OK) rc = ep_notice_header_value(eml, subject, strlen(subject), err);
  if (rc == EP_OK) {
    rc = ep_buf_printf(eml, err, "\r\nDate: %s\r\nMIME-Version: 1.0\r\n"
                                 "Content-Type: text/plain; charset=utf-8\r\n"
                                 "Content-Transfer-Encoding: 8bit\r\n\r\n", date);
  }
  /* the body after the text's Subject line, with CRLF line ends */
  const char *s = (const char *)txt->data, *end = s + txt->len;
  const char *nl = memchr(s, '\n', txt->len);
  s = nl != NULL && nl + 2 <= end ? nl + 2 : end;
  while (rc == EP_OK && s < end) {
    const char *e = memchr(s, '\n', (size_t)(end - s));
    size_t len = e != NULL ? (size_t)(e - s) : (size_t)(end - s);
    rc = ep_buf_append(eml, s, len, err);
    if (rc == EP_OK) rc = ep_buf_append(eml, "\r\n", 2, err);
    s += len + (e != NULL ? 1 : 0);
  }
  return rc;
}

int ep_notice_render(const ep_rm_pair_t *const *pairs, size_t n, const ep_notice_cfg_t *cfg,
                     ep_buf_t *txt, ep_buf_t *eml, ep_err_t *err) {
  char subject[256];
  subject_of(pairs, n, subject, sizeof subject);
  int rc = put_body(pairs, n, cfg, subject, txt, err);
  return rc == EP_OK ? put_eml(pairs[0], cfg, subject, txt, eml, err) : rc;
}

/* ---- grouping and files -------------------------------------------- */

static const char *group_key(const ep_rm_pair_t *p) {
  return p->contact_email[0] != '\0' ? p->contact_email
         : p->contact[0] != '\0'     ? p->contact
                                     : p->exit.fingerprint;
}

static int by_group(const void *a, const void *b) {
  const ep_rm_pair_t *x = *(const ep_rm_pair_t *const *)a, *y = *(const ep_rm_pair_t *const *)b;
  int c = strcmp(group_key(x), group_key(y));
  if (c == 0) c = strcmp(x->exit.fingerprint, y->exit.fingerprint);
  if (c == 0) c = (x->port > y->port) - (x->port < y->port);
  return c;
}

static int write_file(const char *dir, size_t idx, const char *fp, const char *ext, const ep_buf_t *b,
                      ep_err_t *err) {
  char safe[41];
  size_t k = 0;
  for (const char *s = fp; *s != '\0' && k < 40; s++) {
    if ((*s >= '0' && *s <= '9') || (*s >= 'A' && *s <= 'F') || (*s >= 'a' && *s <= 'f')) {
      safe[k++] = *s;
    }
  }
  safe[k] = '\0';
  char path[4096];
  snprintf(path, sizeof path, "%s/notice-%03zu-%s.%s", dir, idx, safe[0] ? safe : "relay", ext);
  FILE *f = fopen(path, "w");
  bool ok = f != NULL && fwrite(b->data, 1, b->len, f) == b->len;
  ok = (f == NULL || fclose(f) == 0) && ok;
  return ok ? EP_OK : ep_err_set(err, EP_ERR_IO, "cannot write %s", path);
}

static int write_group(const ep_rm_pair_t *const *g, size_t n, const char *dir, size_t idx,
                       const ep_notice_cfg_t *cfg, ep_err_t *err) {
  ep_buf_t txt, eml;
  ep_buf_init(&txt, 4 * EP_MiB, "notice", 0);
  ep_buf_init(&eml, 8 * EP_MiB, "notice .eml", 0);
  int rc = ep_notice_render(g, n, cfg, &txt, &eml, err);
  if (rc == EP_OK) rc = write_file(dir, idx, g[0]->exit.fingerprint, "txt", &txt, err);
  if (rc == EP_OK) rc = write_file(dir, idx, g[0]->exit.fingerprint, "eml", &eml, err);
  ep_buf_free(&txt);
  ep_buf_free(&eml);
  return rc;
}

int ep_notices_write(const ep_rm_pair_t *const *pairs, size_t np, const char *dir,
                     const ep_notice_cfg_t *cfg, size_t *n_written, ep_err_t *err) {
  *n_written = 0;
  size_t nv = 0;
  const ep_rm_pair_t **v = calloc(np ? np : 1, sizeof *v);
  if (v == NULL) {
    return ep_err_set(err, EP_ERR_NOMEM, "out of memory (notices)");
  }
  for (size_t i = 0; i < np; i++) {
    if (pairs[i]->violates > 0 || dns_fault(pairs[i])) {
      v[nv++] = pairs[i];
    }
  }
  qsort(v, nv, sizeof *v, by_group);
  int rc = EP_OK;
  for (size_t i = 0, j; rc == EP_OK && i < nv; i = j) {
    for (j = i + 1; j < nv && strcmp(group_key(v[i]), group_key(v[j])) == 0; j++) {
    }
    size_t n = j - i > EP_CAP_NOTICE_PAIRS ? EP_CAP_NOTICE_PAIRS : j - i;
    rc = write_group(v + i, n, dir, *n_written + 1, cfg, err);
    *n_written += rc == EP_OK ? 1 : 0;
  }
  free(v);
  return rc;
}
