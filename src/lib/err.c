/* exitprobe — error codes and messages. */
#include "config.h"

#include "lib/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *ep_status_name(int code) {
  switch (code) {
    case EP_NEED_MORE: return "need-more";
    case EP_OK: return "ok";
    case EP_ERR_TRUNCATED: return "truncated";
    case EP_ERR_MALFORMED: return "malformed";
    case EP_ERR_VERIFY: return "verification-failed";
    case EP_ERR_LIMIT: return "limit-exceeded";
    case EP_ERR_UNSUPPORTED: return "unsupported";
    case EP_ERR_IO: return "io-error";
    case EP_ERR_NOMEM: return "out-of-memory";
    case EP_ERR_STATE: return "unexpected-in-state";
    case EP_ERR_EXPIRED: return "expired";
    case EP_ERR_TIMEOUT: return "timeout";
    case EP_ERR_INTERNAL: return "internal-error";
    default: return "unknown-error";
  }
}

int ep_err_set(ep_err_t *err, int code, const char *fmt, ...) {
  if (err != NULL) {
    va_list ap;
    va_start(ap, fmt);
    err->code = code;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
  }
  return code;
}

int ep_err_wrap(ep_err_t *err, int code, const char *fmt, ...) {
  if (err == NULL) {
    return code;
  }
  char prefix[EP_ERR_MSG_MAX];
  char old[EP_ERR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(old, err->msg, sizeof old);
  old[sizeof old - 1] = '\0';
  if (err->code == 0) {
    err->code = code;
  }
  char joined[2 * EP_ERR_MSG_MAX + 2];
  if (old[0] != '\0') {
    snprintf(joined, sizeof joined, "%s: %s", prefix, old);
  } else {
    snprintf(joined, sizeof joined, "%s", prefix);
  }
  size_t n = strnlen(joined, sizeof err->msg - 1);
  memcpy(err->msg, joined, n);
  err->msg[n] = '\0';
  return err->code;
}

void ep_err_clear(ep_err_t *err) {
  if (err != NULL) {
    err->code = 0;
    err->msg[0] = '\0';
  }
}
