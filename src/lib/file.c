/* exitprobe — the one place that reads a whole file. */
#include "config.h"

#include "lib/file.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lib/buf.h"

/* Bytes asked of fread at a time. */
#define EP_FILE_CHUNK (64u * 1024u)

static int file_fail(ep_err_t *err, int code, const char *what, const char *path,
                     const char *why, int e) {
  return ep_err_set(err, code, "%s%s%s: %s%s%s", what != NULL ? what : "", what != NULL ? " " : "",
                    path, why, e != 0 ? ": " : "", e != 0 ? strerror(e) : "");
}

int ep_file_read(const char *path, size_t cap, const char *what, uint8_t **data, size_t *len,
                 ep_err_t *err) {
  *data = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    return file_fail(err, EP_ERR_IO, what, path, "cannot open", errno);
  }
  /* One byte past the cap tells a file of exactly cap bytes from a larger one. */
  ep_buf_t b;
  ep_buf_init(&b, cap < SIZE_MAX ? cap + 1 : cap, path, 0);
  int rc = EP_OK;
  for (;;) {
    size_t room = b.cap - b.len;
    size_t want = room < EP_FILE_CHUNK ? room : EP_FILE_CHUNK;
    if (want == 0) {
      break;
    }
    uint8_t *p = ep_buf_space(&b, want, NULL);
    if (p == NULL) {
      rc = file_fail(err, EP_ERR_NOMEM, what, path, "out of memory", 0);
      break;
    }
    size_t got = fread(p, 1, want, f);
    ep_buf_commit(&b, got);
    if (got < want) {
      break;
    }
  }
  if (rc == EP_OK && ferror(f)) {
    rc = file_fail(err, EP_ERR_IO, what, path, "read error", errno);
  }
  fclose(f);
  if (rc == EP_OK && b.len > cap) {
    char why[64];
    snprintf(why, sizeof why, "larger than %zu bytes", cap);
    rc = file_fail(err, EP_ERR_LIMIT, what, path, why, 0);
  }
  if (rc == EP_OK && ep_buf_nul_terminate(&b, NULL) != EP_OK) {
    rc = file_fail(err, EP_ERR_NOMEM, what, path, "out of memory", 0);
  }
  if (rc != EP_OK) {
    ep_buf_free(&b);
    return rc;
  }
  *data = ep_buf_steal(&b, len);
  return EP_OK;
}
