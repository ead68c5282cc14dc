/* exitprobe — making relay-supplied text safe for a terminal.
 * Banners, nicknames and contact lines may hold escape sequences, NULs and
 * invalid UTF-8. ep_escape_text writes printable ASCII as is and everything
 * else as \xNN (\r \n \t as themselves escaped: \r \n \t; backslash as \\). */
#ifndef EP_LIB_ESCAPE_H
#define EP_LIB_ESCAPE_H

#include <stddef.h>

/* Escape n bytes of in into out (NUL-terminated, truncated to fit with "..."
 * if outcap is too small). Returns out. Worst case needs 4n+1 bytes. */
char *ep_escape_text(char *out, size_t outcap, const void *in, size_t n);

#endif
