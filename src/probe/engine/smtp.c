/* exitprobe — the SMTP greeting reader (RFC 5321 section 4.2: "220-" lines
 * continue a reply, "220 " or "220" + CRLF ends it). */
#include "config.h"

#include "probe/engine/smtp.h"

#include <string.h>

/* Ports whose service greets first. */
static const uint16_t greeting_ports[] = {25, 587};

bool ep_port_expects_greeting(uint16_t port) {
  for (size_t i = 0; i < sizeof greeting_ports / sizeof greeting_ports[0]; i++) {
    if (greeting_ports[i] == port) {
      return true;
    }
  }
  return false;
}

static bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

int ep_greeting_parse(const uint8_t *data, size_t len, bool eof, ep_greeting_t *out) {
  memset(out, 0, sizeof *out);
  out->len = len < sizeof out->text ? len : sizeof out->text;
  out->capped = len > sizeof out->text;
  if (out->len > 0) {
    memcpy(out->text, data, out->len);
  }
  /* Decide only from what we keep, so a flood cannot make us scan further. */
  const uint8_t *p = out->text;
  size_t n = out->len;
  if (n == 0) {
    out->kind = EP_GREETING_NONE;
    return eof ? 1 : 0;
  }
  size_t pos = 0;
  int code = -1;
  while (pos < n) {
    /* A line needs 3 digits; check what has arrived so far. */
    for (size_t i = 0; i < 3; i++) {
      if (pos + i < n && !is_digit(p[pos + i])) {
        out->kind = EP_GREETING_NOT_SMTP;
        return 1;
      }
    }
    const uint8_t *nl = memchr(p + pos, '\n', n - pos);
    if (nl == NULL) {
      break; /* this line is not complete yet */
    }
    size_t line_end = (size_t)(nl - p);
    size_t content_end = (line_end > pos && p[line_end - 1] == '\r') ? line_end - 1 : line_end;
    if (content_end - pos < 3) {
      out->kind = EP_GREETING_NOT_SMTP;
      return 1;
    }
    int this_code = (p[pos] - '0') * 100 + (p[pos + 1] - '0') * 10 + (p[pos + 2] - '0');
    if (code >= 0 && this_code != code) {
      out->kind = EP_GREETING_NOT_SMTP; /* a reply's lines share one code */
      return 1;
    }
    code = this_code;
    out->code = code;
    out->lines++;
    uint8_t sep = content_end - pos > 3 ? p[pos + 3] : ' ';
    if (sep == ' ') {
      out->kind = EP_GREETING_SMTP;
      return 1;
    }
    if (sep != '-') {
      out->kind = EP_GREETING_NOT_SMTP;
      return 1;
    }
    pos = line_end + 1;
  }
  if (out->capped || eof) {
    /* No final line within the cap, or the stream ended mid-reply. */
    out->kind = code >= 0 || pos < n ? EP_GREETING_PARTIAL : EP_GREETING_NONE;
    if (code < 0 && n >= 3 && is_digit(p[0]) && is_digit(p[1]) && is_digit(p[2])) {
      out->code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
    }
    return 1;
  }
  return 0;
}

bool ep_greeting_is_ready(const ep_greeting_t *g) {
  return g->kind == EP_GREETING_SMTP && g->code == 220;
}
