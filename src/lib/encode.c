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

static int b64val(char c) {
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a' + 26;
  }
  if (c >= '0' && c <= '9') {
    return c - '0' + 52;
  }
  if (c == '+') {
    return 62;
  }
  if (c == '/') {
    return 63;
  }
  return -1;
}

ssize_t ep_base64_decode(void *out, size_t outcap, const char *in, size_t inlen) {
  uint8_t *o = out;
  size_t olen = 0;
  uint32_t acc = 0;
  int bits = 0;
  size_t pads = 0;
  size_t nchars = 0;
  for (size_t i = 0; i < inlen; i++) {
    char c = in[i];
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      continue;
    }
    if (c == '=') {
      pads++;
      continue;
    }
    if (pads > 0) {
      return -1; /* data after padding */
    }
    int v = b64val(c);
    if (v < 0) {
      return -1;
    }
    nchars++;
    acc = acc << 6 | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (olen >= outcap) {
        return -1;
      }
      o[olen++] = (uint8_t)(acc >> bits);
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
