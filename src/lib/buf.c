/* exitprobe — capped growable buffers. */
#include "config.h"

#include "lib/buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"

void ep_buf_init(ep_buf_t *b, size_t cap, const char *name, unsigned flags) {
  b->data = NULL;
  b->len = 0;
  b->alloc = 0;
  b->cap = cap;
  b->name = name != NULL ? name : "buffer";
  b->flags = flags;
}

void ep_buf_free(ep_buf_t *b) {
  if (b == NULL) {
    return;
  }
  if (b->data != NULL && (b->flags & EP_BUF_SECRET)) {
    ep_wipe(b->data, b->alloc);
  }
  free(b->data);
  b->data = NULL;
  b->len = 0;
  b->alloc = 0;
}

/* Grow so that `want` bytes (+1 for an optional NUL) fit; respects the cap. */
static int grow(ep_buf_t *b, size_t want, ep_err_t *err) {
  if (want > b->cap) {
    return ep_err_set(err, EP_ERR_LIMIT, "%s: %zu bytes would exceed its cap of %zu bytes",
                      b->name, want, b->cap);
  }
  if (want + 1 <= b->alloc) {
    return EP_OK;
  }
  size_t n = b->alloc < 256 ? 256 : b->alloc;
  while (n < want + 1) {
    n = n > SIZE_MAX / 2 ? want + 1 : n * 2;
  }
  if (n > b->cap + 1) {
    n = b->cap + 1;
  }
  uint8_t *p;
  if (b->flags & EP_BUF_SECRET) {
    /* Never leave secret bytes behind in a freed block. */
    p = malloc(n);
    if (p != NULL && b->data != NULL) {
      memcpy(p, b->data, b->len);
      ep_wipe(b->data, b->alloc);
      free(b->data);
    }
  } else {
    p = realloc(b->data, n);
  }
  if (p == NULL) {
    return ep_err_set(err, EP_ERR_NOMEM, "%s: cannot allocate %zu bytes", b->name, n);
  }
  b->data = p;
  b->alloc = n;
  return EP_OK;
}

int ep_buf_append(ep_buf_t *b, const void *p, size_t n, ep_err_t *err) {
  if (n > b->cap - b->len) {
    return ep_err_set(err, EP_ERR_LIMIT, "%s: %zu more bytes would exceed its cap of %zu bytes",
                      b->name, n, b->cap);
  }
  int rc = grow(b, b->len + n, err);
  if (rc != EP_OK) {
    return rc;
  }
  if (n > 0) {
    memcpy(b->data + b->len, p, n);
  }
  b->len += n;
  return EP_OK;
}

int ep_buf_append_str(ep_buf_t *b, const char *s, ep_err_t *err) {
  return ep_buf_append(b, s, strlen(s), err);
}

int ep_buf_printf(ep_buf_t *b, ep_err_t *err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) {
    return ep_err_set(err, EP_ERR_INTERNAL, "%s: bad format", b->name);
  }
  /* ep_buf_space keeps one spare byte past the space, for vsnprintf's NUL. */
  uint8_t *space = ep_buf_space(b, (size_t)n, err);
  if (space == NULL) {
    return err != NULL ? err->code : EP_ERR_LIMIT;
  }
  va_start(ap, fmt);
  vsnprintf((char *)space, (size_t)n + 1, fmt, ap);
  va_end(ap);
  ep_buf_commit(b, (size_t)n);
  return EP_OK;
}

uint8_t *ep_buf_space(ep_buf_t *b, size_t n, ep_err_t *err) {
  if (n > b->cap - b->len) {
    ep_err_set(err, EP_ERR_LIMIT, "%s: %zu more bytes would exceed its cap of %zu bytes",
               b->name, n, b->cap);
    return NULL;
  }
  if (grow(b, b->len + n, err) != EP_OK) {
    return NULL;
  }
  return b->data + b->len;
}

void ep_buf_commit(ep_buf_t *b, size_t n) {
  if (n > b->alloc - b->len) {
    n = b->alloc - b->len;
  }
  if (n > b->cap - b->len) {
    n = b->cap - b->len;
  }
  b->len += n;
}

void ep_buf_consume(ep_buf_t *b, size_t n) {
  if (n >= b->len) {
    if (b->data != NULL && (b->flags & EP_BUF_SECRET)) {
      ep_wipe(b->data, b->len);
    }
    b->len = 0;
    return;
  }
  memmove(b->data, b->data + n, b->len - n);
  if (b->flags & EP_BUF_SECRET) {
    ep_wipe(b->data + b->len - n, n);
  }
  b->len -= n;
}

void ep_buf_clear(ep_buf_t *b) { ep_buf_consume(b, b->len); }

int ep_buf_nul_terminate(ep_buf_t *b, ep_err_t *err) {
  /* grow() always keeps one spare byte beyond len when it allocates. */
  int rc = grow(b, b->len, err);
  if (rc != EP_OK) {
    return rc;
  }
  b->data[b->len] = 0;
  return EP_OK;
}

uint8_t *ep_buf_steal(ep_buf_t *b, size_t *len) {
  uint8_t *p = b->data;
  if (len != NULL) {
    *len = b->len;
  }
  b->data = NULL;
  b->len = 0;
  b->alloc = 0;
  return p;
}
