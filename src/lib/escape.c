/* exitprobe — escaping relay-supplied text for terminals. */
#include "config.h"

#include "lib/escape.h"

#include <stdint.h>
#include <stdio.h>
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
