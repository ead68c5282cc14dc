/* exitprobe — the one bounded reader for untrusted bytes, and its writer twin.
 *
 * Every field of a cell, certificate or document comes through these calls.
 * A read past the end fails (returns -1) and latches `short_read`; nothing
 * is ever read out of bounds. A nested reader bounded by a length prefix
 * (ep_rd_sub) keeps a sub-structure inside its declared length.
 * Whether running out means "truncated" or "need more" is the caller's
 * decision: framing code knows, field code does not. */
#ifndef EP_LIB_READER_H
#define EP_LIB_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ep_reader {
  const uint8_t *buf;
  size_t len;
  size_t pos;
  bool short_read;   /* latched: some read wanted more than remained */
} ep_reader_t;

void ep_reader_init(ep_reader_t *r, const void *buf, size_t len);

/* The calls a tokenizer makes once per line or more are inline. */
static inline size_t ep_rd_remaining(const ep_reader_t *r) { return r->len - r->pos; }
static inline size_t ep_rd_pos(const ep_reader_t *r) { return r->pos; }
static inline bool ep_rd_empty(const ep_reader_t *r) { return r->pos == r->len; }

/* Big-endian (network order) integers. 0 on success, -1 if too short. */
int ep_rd_u8(ep_reader_t *r, uint8_t *out);
int ep_rd_u16(ep_reader_t *r, uint16_t *out);
int ep_rd_u32(ep_reader_t *r, uint32_t *out);
int ep_rd_u64(ep_reader_t *r, uint64_t *out);
/* Copy n bytes out. */
int ep_rd_bytes(ep_reader_t *r, void *out, size_t n);
/* The one bounds check: 0 if n more bytes are there, else -1 and the reader
 * remembers the short read. */
static inline int ep_rd_need(ep_reader_t *r, size_t n) {
  if (n > r->len - r->pos) {
    r->short_read = true;
    return -1;
  }
  return 0;
}
/* Point at the next n bytes without copying (valid as long as the buffer). */
static inline int ep_rd_ptr(ep_reader_t *r, const uint8_t **out, size_t n) {
  if (ep_rd_need(r, n) < 0) {
    return -1;
  }
  *out = r->buf + r->pos;
  r->pos += n;
  return 0;
}
static inline int ep_rd_skip(ep_reader_t *r, size_t n) {
  if (ep_rd_need(r, n) < 0) {
    return -1;
  }
  r->pos += n;
  return 0;
}
/* Everything that is left, as a pointer and length (never fails). */
static inline void ep_rd_rest(ep_reader_t *r, const uint8_t **out, size_t *n) {
  *out = r->buf + r->pos;
  *n = r->len - r->pos;
  r->pos = r->len;
}
/* What ep_rd_rest would return, without consuming it. */
static inline void ep_rd_peek_rest(const ep_reader_t *r, const uint8_t **out, size_t *n) {
  *out = r->buf + r->pos;
  *n = r->len - r->pos;
}
/* A nested reader over the next n bytes; the parent advances past them. */
int ep_rd_sub(ep_reader_t *r, ep_reader_t *sub, size_t n);
/* Peek without consuming. */
int ep_rd_peek_u8(const ep_reader_t *r, uint8_t *out);

/* The writer: a fixed region; writing past its end fails and latches. */
typedef struct ep_writer {
  uint8_t *buf;
  size_t cap;
  size_t pos;
  bool overflow;
} ep_writer_t;

void ep_writer_init(ep_writer_t *w, void *buf, size_t cap);
int ep_wr_u8(ep_writer_t *w, uint8_t v);
int ep_wr_u16(ep_writer_t *w, uint16_t v);
int ep_wr_u32(ep_writer_t *w, uint32_t v);
int ep_wr_u64(ep_writer_t *w, uint64_t v);
int ep_wr_bytes(ep_writer_t *w, const void *p, size_t n);
int ep_wr_zeros(ep_writer_t *w, size_t n);
/* Reserve n bytes to fill later (e.g. a length field); returns a pointer or NULL. */
uint8_t *ep_wr_reserve(ep_writer_t *w, size_t n);
size_t ep_wr_len(const ep_writer_t *w);
bool ep_wr_ok(const ep_writer_t *w);

/* Plain big-endian helpers for already-bounded memory (fixed-size headers). */
static inline uint16_t ep_get_u16(const uint8_t *p) {
  return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}
static inline uint32_t ep_get_u32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void ep_put_u16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v;
}
static inline void ep_put_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

#endif
