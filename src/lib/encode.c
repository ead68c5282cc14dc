/* exitprobe — hex, base64, base32. */
#include "config.h"

#include "lib/encode.h"

#include <stdint.h>
#include <string.h>

static int hexval(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

ssize_t ep_hex_encode(char *out, size_t outcap, const void *in, size_t n, bool upper) {
  const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  const uint8_t *p = in;
  if (n > (SIZE_MAX - 1) / 2 || outcap < 2 * n + 1) {
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 0xf];
  }
  out[2 * n] = '\0';
  return (ssize_t)(2 * n);
}

ssize_t ep_hex_decode(void *out, size_t outcap, const char *in, size_t inlen) {
  uint8_t *o = out;
  if (inlen % 2 != 0 || inlen / 2 > outcap) {
    return -1;
  }
  for (size_t i = 0; i < inlen / 2; i++) {
    int hi = hexval(in[2 * i]);
    int lo = hexval(in[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return -1;
    }
    o[i] = (uint8_t)(hi << 4 | lo);
  }
  return (ssize_t)(inlen / 2);
}

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

ssize_t ep_base64_encode(char *out, size_t outcap, const void *in, size_t n, unsigned flags) {
  const uint8_t *p = in;
  size_t full = n / 3, rem = n % 3;
  size_t need = full * 4 + (rem == 0 ? 0 : ((flags & EP_B64_PAD) ? 4 : rem + 1));
  if (n > SIZE_MAX / 2 || outcap < need + 1) {
    return -1;
  }
  size_t o = 0;
  for (size_t i = 0; i < full; i++) {
    uint32_t v = (uint32_t)p[3 * i] << 16 | (uint32_t)p[3 * i + 1] << 8 | p[3 * i + 2];
    out[o++] = b64chars[(v >> 18) & 63];
    out[o++] = b64chars[(v >> 12) & 63];
    out[o++] = b64chars[(v >> 6) & 63];
    out[o++] = b64chars[v & 63];
  }
  if (rem > 0) {
    uint32_t v = (uint32_t)p[3 * full] << 16;
    if (rem == 2) {
      v |= (uint32_t)p[3 * full + 1] << 8;
    }
    out[o++] = b64chars[(v >> 18) & 63];
    out[o++] = b64chars[(v >> 12) & 63];
    if (rem == 2) {
      out[o++] = b64chars[(v >> 6) & 63];
    }
    if (flags & EP_B64_PAD) {
      while (o % 4 != 0) {
        out[o++] = '=';
      }
    }
  }
  out[o] = '\0';
  return (ssize_t)o;
}

/* Decoder classes: B64_A | value for the 64 alphabet characters; B64_WS for
 * the whitespace the decoder skips; B64_PAD for '='; 0 (B64_BAD) for every
 * other byte. Only alphabet classes have bit 7 set, so one AND of four
 * classes tells whether a whole quantum is plain alphabet. */
#define B64_BAD 0x00u
#define B64_WS  0x40u
#define B64_PAD 0x41u
#define B64_A   0x80u
#define B64_V(c, v) [(unsigned char)(c)] = B64_A | (v)
static const uint8_t b64dec[256] = {
  [' '] = B64_WS, ['\n'] = B64_WS, ['\r'] = B64_WS, ['\t'] = B64_WS, ['='] = B64_PAD,
  B64_V('A', 0), B64_V('B', 1), B64_V('C', 2), B64_V('D', 3), B64_V('E', 4), B64_V('F', 5),
  B64_V('G', 6), B64_V('H', 7), B64_V('I', 8), B64_V('J', 9), B64_V('K', 10), B64_V('L', 11),
  B64_V('M', 12), B64_V('N', 13), B64_V('O', 14), B64_V('P', 15), B64_V('Q', 16), B64_V('R', 17),
  B64_V('S', 18), B64_V('T', 19), B64_V('U', 20), B64_V('V', 21), B64_V('W', 22), B64_V('X', 23),
  B64_V('Y', 24), B64_V('Z', 25), B64_V('a', 26), B64_V('b', 27), B64_V('c', 28), B64_V('d', 29),
  B64_V('e', 30), B64_V('f', 31), B64_V('g', 32), B64_V('h', 33), B64_V('i', 34), B64_V('j', 35),
  B64_V('k', 36), B64_V('l', 37), B64_V('m', 38), B64_V('n', 39), B64_V('o', 40), B64_V('p', 41),
  B64_V('q', 42), B64_V('r', 43), B64_V('s', 44), B64_V('t', 45), B64_V('u', 46), B64_V('v', 47),
  B64_V('w', 48), B64_V('x', 49), B64_V('y', 50), B64_V('z', 51), B64_V('0', 52), B64_V('1', 53),
  B64_V('2', 54), B64_V('3', 55), B64_V('4', 56), B64_V('5', 57), B64_V('6', 58), B64_V('7', 59),
  B64_V('8', 60), B64_V('9', 61), B64_V('+', 62), B64_V('/', 63),
};
#undef B64_V

/* The decoder and the checker share this body; `store` is a constant in each
 * caller, so each gets its own copy without the other's work.
 *
 * Rules (the same for both): whitespace (SP, TAB, CR, LF) is skipped anywhere;
 * '=' may only be followed by more '=' and whitespace, at most two of them,
 * and only to complete a 4-character quantum; a lone character in the last
 * quantum is an error, and so are non-zero bits left over after the last
 * byte; every other byte is an error; more than outcap bytes is an error.
 *
 * Fast path: at a quantum boundary with no padding seen, four characters that
 * are all alphabet decode to three bytes at once. Everything else (whitespace,
 * '=', bad bytes, a quantum split by a line break, the tail) goes through the
 * one-character step, which keeps the accumulator, so the result does not
 * depend on which path a character took. */
static inline ssize_t b64_run(uint8_t *o, size_t outcap, const char *in, size_t inlen,
                              const bool store) {
  const uint8_t *s = (const uint8_t *)in;
  size_t i = 0, olen = 0, nchars = 0, pads = 0;
  uint32_t acc = 0;
  unsigned bits = 0;
  while (i < inlen) {
    if (bits == 0 && pads == 0) {
      while (inlen - i >= 4) {
        uint32_t a = b64dec[s[i]], b = b64dec[s[i + 1]], c = b64dec[s[i + 2]], d = b64dec[s[i + 3]];
        if ((a & b & c & d & B64_A) == 0) {
          break;
        }
        if (outcap - olen < 3) {
          return -1;
        }
        if (store) {
          uint32_t v = (a & 63) << 18 | (b & 63) << 12 | (c & 63) << 6 | (d & 63);
          o[olen] = (uint8_t)(v >> 16);
          o[olen + 1] = (uint8_t)(v >> 8);
          o[olen + 2] = (uint8_t)v;
        }
        olen += 3;
        nchars += 4;
        i += 4;
      }
      if (i >= inlen) {
        break;
      }
    }
    uint32_t v = b64dec[s[i++]];
    if (v == B64_WS) {
      continue;
    }
    if (v == B64_PAD) {
      pads++;
      continue;
    }
    if (v == B64_BAD || pads > 0) {
      return -1; /* not base64, or data after padding */
    }
    nchars++;
    acc = acc << 6 | (v & 63);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (olen >= outcap) {
        return -1;
      }
      if (store) {
        o[olen] = (uint8_t)(acc >> bits);
      }
      olen++;
    }
  }
  /* A lone trailing char (6 bits) cannot encode a byte; leftover bits must be zero. */
  if (nchars % 4 == 1 || pads > 2 || (pads > 0 && (nchars + pads) % 4 != 0)) {
    return -1;
  }
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
    return -1;
  }
  return (ssize_t)olen;
}

ssize_t ep_base64_decode(void *out, size_t outcap, const char *in, size_t inlen) {
  return b64_run(out, outcap, in, inlen, true);
}

ssize_t ep_base64_check(const char *in, size_t inlen, size_t outcap) {
  return b64_run(NULL, outcap, in, inlen, false);
}

static const char b32chars[] = "abcdefghijklmnopqrstuvwxyz234567";

ssize_t ep_base32_encode(char *out, size_t outcap, const void *in, size_t n) {
  const uint8_t *p = in;
  if (n > SIZE_MAX / 16 || outcap < EP_B32_LEN(n) + 1) {
    return -1;
  }
  size_t o = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    acc = (acc << 8 | p[i]) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out[o++] = b32chars[(acc >> bits) & 31];
    }
  }
  if (bits > 0) {
    out[o++] = b32chars[(acc << (5 - bits)) & 31];
  }
  out[o] = '\0';
  return (ssize_t)o;
}

ssize_t ep_base32_decode(void *out, size_t outcap, const char *in, size_t inlen) {
  uint8_t *o = out;
  size_t olen = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < inlen; i++) {
    char c = in[i];
    int v;
    if (c >= 'a' && c <= 'z') {
      v = c - 'a';
    } else if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= '2' && c <= '7') {
      v = c - '2' + 26;
    } else {
      return -1;
    }
    acc = (acc << 5 | (uint32_t)v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      if (olen >= outcap) {
        return -1;
      }
      o[olen++] = (uint8_t)(acc >> bits);
    }
  }
  if (bits >= 5 || (acc & ((1u << bits) - 1)) != 0) {
    return -1;
  }
  return (ssize_t)olen;
}
