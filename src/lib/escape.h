/* exitprobe — making relay-supplied text safe for a terminal.
 * Banners, nicknames and contact lines may hold escape sequences, NULs and
 * invalid UTF-8. ep_escape_text writes printable ASCII as is and everything
 * else as \xNN (\r \n \t as themselves escaped: \r \n \t; backslash as \\). */
#ifndef EP_LIB_ESCAPE_H
#define EP_LIB_ESCAPE_H

#include <stddef.h>

#include "lib/buf.h"

/* Escape n bytes of in into out (NUL-terminated, truncated to fit with "..."
 * if outcap is too small). Returns out. Worst case needs 4n+1 bytes. */
char *ep_escape_text(char *out, size_t outcap, const void *in, size_t n);

/* HTML text and attribute values: printable ASCII as is except & < > " '
 * (character references), every other byte as the text \xNN, so the page
 * shows exactly which bytes a relay sent. Worst case needs 6n+1 bytes. */
char *ep_escape_html(char *out, size_t outcap, const void *in, size_t n);
/* Appends the same to a buffer; EP_OK or the buffer's error. */
int ep_escape_html_buf(ep_buf_t *b, const void *in, size_t n, ep_err_t *err);
/* One RFC 4180 CSV field: quoted when it holds , " CR LF or starts with a
 * space, = + - @ or TAB (those are also prefixed with ' so a spreadsheet
 * never runs it as a formula); quotes doubled; NUL and other control bytes
 * (but CR LF TAB) written as \xNN. */
int ep_escape_csv_buf(ep_buf_t *b, const void *in, size_t n, ep_err_t *err);

#endif
