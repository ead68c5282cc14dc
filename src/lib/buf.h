/* exitprobe — growable byte buffers with a mandatory, named size cap.
 *
 * Every buffer that grows with input from the network or a file is an
 * ep_buf_t with a cap from caps.h; appending past the cap fails with
 * EP_ERR_LIMIT and leaves the buffer as it was. The buffer owns its memory;
 * ep_buf_free wipes it if it was created with EP_BUF_SECRET. */
#ifndef EP_LIB_BUF_H
#define EP_LIB_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

#define EP_BUF_SECRET 0x1u

typedef struct ep_buf {
  uint8_t *data;
  size_t len;        /* bytes held, data[0..len) */
  size_t alloc;      /* bytes allocated */
  size_t cap;        /* hard cap on len */
  const char *name;  /* the cap's name, for error messages */
  unsigned flags;
} ep_buf_t;

void ep_buf_init(ep_buf_t *b, size_t cap, const char *name, unsigned flags);
void ep_buf_free(ep_buf_t *b);          /* NULL-safe; resets to empty */
/* Append; EP_ERR_LIMIT past the cap, EP_ERR_NOMEM. err may be NULL. */
int ep_buf_append(ep_buf_t *b, const void *p, size_t n, ep_err_t *err);
int ep_buf_append_str(ep_buf_t *b, const char *s, ep_err_t *err);
int ep_buf_printf(ep_buf_t *b, ep_err_t *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Make room for n more bytes and return a pointer to write them; commit with
 * ep_buf_commit. NULL past the cap. */
uint8_t *ep_buf_space(ep_buf_t *b, size_t n, ep_err_t *err);
void ep_buf_commit(ep_buf_t *b, size_t n);
/* Drop n bytes from the front. */
void ep_buf_consume(ep_buf_t *b, size_t n);
void ep_buf_clear(ep_buf_t *b);
/* Ensure data[len] == 0 (not counted in len) so text can be used as a C string;
 * text parsers still go by length, never by the NUL. */
int ep_buf_nul_terminate(ep_buf_t *b, ep_err_t *err);
/* Move the contents out (caller frees with free()); buffer becomes empty. */
uint8_t *ep_buf_steal(ep_buf_t *b, size_t *len);

#endif
