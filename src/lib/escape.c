/* exitprobe — escaping relay-supplied text for terminals. */
#include "config.h"

#include "lib/escape.h"

#include <stdint.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>

char *ep_escape_text(char *out, size_t outcap, const void *in, size_t n) {
  const uint8_t *p = in;
  size_t o = 0;
  if (outcap == 0) {
    return out;
  }
  for (size_t i = 0; i < n; i++) {
    char tmp[5];
    size_t tl;
    uint8_t c = p[i];
    if (c == '\\') {
      memcpy(tmp, "\\\\", 2);
      tl = 2;
    } else if (c == '\n') {
      memcpy(tmp, "\\n", 2);
      tl = 2;
    } else if (c == '\r') {
      memcpy(tmp, "\\r", 2);
      tl = 2;
    } else if (c == '\t') {
      memcpy(tmp, "\\t", 2);
      tl = 2;
    } else if (c >= 0x20 && c < 0x7f) {
      tmp[0] = (char)c;
      tl = 1;
    } else {
      snprintf(tmp, sizeof tmp, "\\x%02x", c);
      tl = 4;
    }
    if (o + tl + 1 > outcap) {
      /* Does not fit: end with "..." if there is room for it. */
      while (o > 0 && o + 4 > outcap) {
        o--;
      }
      if (o + 4 <= outcap) {
        memcpy(out + o, "...", 3);
        o += 3;
      }
      break;
    }
    memcpy(out + o, tmp, tl);
    o += tl;
  }
  out[o] = '\0';
  return out;
}

/* One byte as HTML-safe text into out (at least 7 bytes); returns its length. */
static size_t html_byte(char *out, unsigned char c) {
  static const char hex[] = "0123456789abcdef";
  const char *ref = c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;"
                  : c == '"' ? "&quot;" : c == '\'' ? "&#39;" : NULL;
  if (ref != NULL) {
    size_t n = strlen(ref);
    memcpy(out, ref, n);
    return n;
  }
  if (c >= 0x20 && c < 0x7f) {
    out[0] = (char)c;
    return 1;
  }
  out[0] = '\\';
  out[1] = 'x';
  out[2] = hex[c >> 4];
  out[3] = hex[c & 15];
  return 4;
}

char *ep_escape_html(char *out, size_t outcap, const void *in, size_t n) {
  const unsigned char *p = in;
  if (outcap == 0) {
    return out;
  }
  char piece[8];
  size_t total = 0;
  for (size_t i = 0; i < n; i++) {
    total += html_byte(piece, p[i]);
  }
  /* When it does not fit, whole pieces and "..." (never half a reference). */
  size_t room = total + 1 <= outcap ? outcap - 1 : (outcap > 4 ? outcap - 4 : 0);
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    size_t k = html_byte(piece, p[i]);
    if (o + k > room) {
      break;
    }
    memcpy(out + o, piece, k);
    o += k;
  }
  if (total + 1 > outcap && outcap > 4) {
    memcpy(out + o, "...", 3);
    o += 3;
  }
  out[o] = '\0';
  return out;
}

int ep_escape_html_buf(ep_buf_t *b, const void *in, size_t n, ep_err_t *err) {
  const unsigned char *p = in;
  for (size_t i = 0; i < n; i++) {
    char piece[8];
    size_t k = html_byte(piece, p[i]);
    int rc = ep_buf_append(b, piece, k, err);
    if (rc != EP_OK) {
      return rc;
    }
  }
  return EP_OK;
}

static bool csv_needs_quotes(const unsigned char *p, size_t n, bool *formula) {
  *formula = n > 0 && (p[0] == '=' || p[0] == '+' || p[0] == '-' || p[0] == '@' || p[0] == '\t');
  bool q = *formula || (n > 0 && p[0] == ' ');
  for (size_t i = 0; i < n && !q; i++) {
    q = p[i] == ',' || p[i] == '"' || p[i] == '\r' || p[i] == '\n';
  }
  return q;
}

int ep_escape_csv_buf(ep_buf_t *b, const void *in, size_t n, ep_err_t *err) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *p = in;
  bool formula;
  bool quote = csv_needs_quotes(p, n, &formula);
  int rc = quote ? ep_buf_append(b, formula ? "\"'" : "\"", formula ? 2 : 1, err) : EP_OK;
  for (size_t i = 0; i < n && rc == EP_OK; i++) {
    unsigned char c = p[i];
    if (c == '"') {
      rc = ep_buf_append(b, "\"\"", 2, err);
    } else if ((c < 0x20 && c != '\r' && c != '\n' && c != '\t') || c == 0x7f) {
      char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
      rc = ep_buf_append(b, e, 4, err);
    } else {
      rc = ep_buf_append(b, &c, 1, err);
    }
  }
  return rc == EP_OK && quote ? ep_buf_append(b, "\"", 1, err) : rc;
}
