/* exitprobe — the one IP address type and its text form. */
#include "config.h"

#include "lib/addr.h"

#include <string.h>

/* Writes the decimal digits of v (0..255) at p; returns the end. */
static char *put_octet(char *p, unsigned v) {
  if (v >= 100) {
    *p++ = (char)('0' + v / 100);
    v %= 100;
    *p++ = (char)('0' + v / 10);
    v %= 10;
  } else if (v >= 10) {
    *p++ = (char)('0' + v / 10);
    v %= 10;
  }
  *p++ = (char)('0' + v);
  return p;
}

/* "a.b.c.d" of four network-order bytes at p; returns the end (no NUL). */
static char *put_dotted(char *p, const uint8_t b[4]) {
  for (int i = 0; i < 4; i++) {
    if (i > 0) {
      *p++ = '.';
    }
    p = put_octet(p, b[i]);
  }
  return p;
}

/* One 16-bit group in lower-case hex without leading zeros. */
static char *put_group(char *p, unsigned w) {
  static const char hex[] = "0123456789abcdef";
  int shift = 12;
  while (shift > 0 && ((w >> shift) & 0xfu) == 0) {
    shift -= 4;
  }
  for (; shift >= 0; shift -= 4) {
    *p++ = hex[(w >> shift) & 0xfu];
  }
  return p;
}

/* RFC 5952 text of 16 bytes, inet_ntop's way; returns the end (no NUL). */
static char *put_ipv6(char *p, const uint8_t b[16]) {
  unsigned w[8];
  int best = -1, best_len = 0, cur = -1, cur_len = 0;
  for (int i = 0; i < 8; i++) {
    w[i] = (unsigned)b[2 * i] << 8 | b[2 * i + 1];
    if (w[i] == 0) {
      if (cur < 0) {
        cur = i;
        cur_len = 0;
      }
      cur_len++;
      if (cur_len > best_len) {
        best = cur;
        best_len = cur_len;
      }
    } else {
      cur = -1;
    }
  }
  if (best_len < 2) {
    best = -1;
  }
  for (int i = 0; i < 8; i++) {
    if (best >= 0 && i >= best && i < best + best_len) {
      if (i == best) {
        *p++ = ':';
      }
      continue;
    }
    if (i != 0) {
      *p++ = ':';
    }
    /* IPv4-compatible (::a.b.c.d) or IPv4-mapped (::ffff:a.b.c.d). */
    if (i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffffu))) {
      return put_dotted(p, b + 12);
    }
    p = put_group(p, w[i]);
  }
  if (best >= 0 && best + best_len == 8) {
    *p++ = ':';
  }
  return p;
}

const char *ep_ipv4_format(char out[EP_IPV4_STRLEN], uint32_t ipv4) {
  const uint8_t b[4] = {(uint8_t)(ipv4 >> 24), (uint8_t)(ipv4 >> 16), (uint8_t)(ipv4 >> 8),
                        (uint8_t)ipv4};
  *put_dotted(out, b) = '\0';
  return out;
}

const char *ep_ipaddr_format(char *buf, size_t cap, const ep_ipaddr_t *addr) {
  char tmp[EP_IPADDR_STRLEN];
  char *end = tmp;
  if (addr->family == EP_IPADDR_V4) {
    end = put_dotted(tmp, addr->bytes);
  } else if (addr->family == EP_IPADDR_V6) {
    end = put_ipv6(tmp, addr->bytes);
  } else {
    *end++ = '-';
  }
  size_t n = (size_t)(end - tmp);
  if (n >= cap) {
    n = cap - 1;
  }
  memcpy(buf, tmp, n);
  buf[n] = '\0';
  return buf;
}

void ep_ipaddr_set_ipv4(ep_ipaddr_t *a, uint32_t ipv4) {
  memset(a, 0, sizeof *a);
  a->family = EP_IPADDR_V4;
  a->bytes[0] = (uint8_t)(ipv4 >> 24);
  a->bytes[1] = (uint8_t)(ipv4 >> 16);
  a->bytes[2] = (uint8_t)(ipv4 >> 8);
  a->bytes[3] = (uint8_t)ipv4;
}

void ep_ipaddr_set_ipv6(ep_ipaddr_t *a, const uint8_t bytes[16]) {
  a->family = EP_IPADDR_V6;
  memcpy(a->bytes, bytes, 16);
}
