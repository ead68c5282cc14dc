/* exitprobe — the one place that reads a whole file.
 *
 * Below src/probe nothing else opens files (tests/check-layers.sh). A file
 * is read whole, under a named cap from caps.h: a larger file is refused
 * (EP_ERR_LIMIT), never cut short. Errors name the file and why:
 *   "/etc/x: cannot open: No such file or directory"
 *   "/etc/x: larger than 1048576 bytes"
 *   "/etc/x: read error: Input/output error"
 * (prefixed with `what` and a space when what is not NULL). */
#ifndef EP_LIB_FILE_H
#define EP_LIB_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

/* Read all of path (at most cap bytes) into a new buffer *data (caller
 * frees; NUL-terminated past *len, so text can be used as a C string) of
 * *len bytes. Returns EP_OK, EP_ERR_IO, EP_ERR_LIMIT or EP_ERR_NOMEM; on
 * failure *data is NULL and *len 0. */
int ep_file_read(const char *path, size_t cap, const char *what, uint8_t **data, size_t *len,
                 ep_err_t *err);

#endif
