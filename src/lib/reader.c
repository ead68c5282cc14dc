/* exitprobe — the bounded reader and writer. */
#include "config.h"

#include "lib/reader.h"

#include <string.h>

void ep_reader_init(ep_reader_t *r, const void *buf, size_t len) {
  r->buf = buf;
  r->len = buf != NULL ? len : 0;
  r->pos = 0;
  r->short_read = false;
}


int ep_rd_u8(ep_reader_t *r, uint8_t *out) {
  if (ep_rd_need(r, 1) < 0) {
    return -1;
  }
  *out = r->buf[r->pos++];
  return 0;
}

int ep_rd_u16(ep_reader_t *r, uint16_t *out) {
  if (ep_rd_need(r, 2) < 0) {
    return -1;
  }
  *out = ep_get_u16(r->buf + r->pos);
  r->pos += 2;
  return 0;
}

int ep_rd_u32(ep_reader_t *r, uint32_t *out) {
  if (ep_rd_need(r, 4) < 0) {
    return -1;
  }
  *out = ep_get_u32(r->buf + r->pos);
  r->pos += 4;
  return 0;
}

int ep_rd_u64(ep_reader_t *r, uint64_t *out) {
  if (ep_rd_need(r, 8) < 0) {
    return -1;
  }
  *out = (uint64_t)ep_get_u32(r->buf + r->pos) << 32 | ep_get_u32(r->buf + r->pos + 4);
  r->pos += 8;
  return 0;
}

int ep_rd_bytes(ep_reader_t *r, void *out, size_t n) {
  if (ep_rd_need(r, n) < 0) {
    return -1;
  }
  if (n > 0) {
    memcpy(out, r->buf + r->pos, n);
  }
  r->pos += n;
  return 0;
}

int ep_rd_sub(ep_reader_t *r, ep_reader_t *sub, size_t n) {
  if (ep_rd_need(r, n) < 0) {
    return -1;
  }
  ep_reader_init(sub, r->buf + r->pos, n);
  r->pos += n;
  return 0;
}

int ep_rd_peek_u8(const ep_reader_t *r, uint8_t *out) {
  if (r->pos >= r->len) {
    return -1;
  }
  *out = r->buf[r->pos];
  return 0;
}

void ep_writer_init(ep_writer_t *w, void *buf, size_t cap) {
  w->buf = buf;
  w->cap = buf != NULL ? cap : 0;
  w->pos = 0;
  w->overflow = false;
}

static int room(ep_writer_t *w, size_t n) {
  if (w->overflow || n > w->cap - w->pos) {
    w->overflow = true;
    return -1;
  }
  return 0;
}

int ep_wr_u8(ep_writer_t *w, uint8_t v) {
  if (room(w, 1) < 0) {
    return -1;
  }
  w->buf[w->pos++] = v;
  return 0;
}

int ep_wr_u16(ep_writer_t *w, uint16_t v) {
  if (room(w, 2) < 0) {
    return -1;
  }
  ep_put_u16(w->buf + w->pos, v);
  w->pos += 2;
  return 0;
}

int ep_wr_u32(ep_writer_t *w, uint32_t v) {
  if (room(w, 4) < 0) {
    return -1;
  }
  ep_put_u32(w->buf + w->pos, v);
  w->pos += 4;
  return 0;
}

int ep_wr_u64(ep_writer_t *w, uint64_t v) {
  if (room(w, 8) < 0) {
    return -1;
  }
  ep_put_u32(w->buf + w->pos, (uint32_t)(v >> 32));
  ep_put_u32(w->buf + w->pos + 4, (uint32_t)v);
  w->pos += 8;
  return 0;
}

int ep_wr_bytes(ep_writer_t *w, const void *p, size_t n) {
  if (room(w, n) < 0) {
    return -1;
  }
  if (n > 0) {
    memcpy(w->buf + w->pos, p, n);
  }
  w->pos += n;
  return 0;
}

int ep_wr_zeros(ep_writer_t *w, size_t n) {
  if (room(w, n) < 0) {
    return -1;
  }
  if (n > 0) {
    memset(w->buf + w->pos, 0, n);
  }
  w->pos += n;
  return 0;
}

uint8_t *ep_wr_reserve(ep_writer_t *w, size_t n) {
  if (room(w, n) < 0) {
    return NULL;
  }
  uint8_t *p = w->buf + w->pos;
  memset(p, 0, n);
  w->pos += n;
  return p;
}

size_t ep_wr_len(const ep_writer_t *w) { return w->pos; }
bool ep_wr_ok(const ep_writer_t *w) { return !w->overflow; }
