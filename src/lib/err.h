/* exitprobe — error and status codes shared by every layer.
 *
 * Convention: functions return 0 (EP_OK) on success, a negative ep_status_t
 * on failure, or EP_NEED_MORE (> 0) where a streaming parser needs more bytes.
 * "Truncated" (the message itself is too short for what it claims: malformed)
 * is kept apart from "need more" (the stream has not delivered it all yet).
 * A failure may also fill an ep_err_t with a human message naming what and
 * where (document, line, relay, field). */
#ifndef EP_LIB_ERR_H
#define EP_LIB_ERR_H

#include <stddef.h>

typedef enum ep_status {
  EP_NEED_MORE = 1,          /* not an error: read more bytes, call again */
  EP_OK = 0,
  EP_ERR_TRUNCATED = -1,     /* a length-delimited message ended too early */
  EP_ERR_MALFORMED = -2,     /* bytes or text that break the format */
  EP_ERR_VERIFY = -3,        /* a signature, digest, MAC or identity failed */
  EP_ERR_LIMIT = -4,         /* a named cap would be exceeded */
  EP_ERR_UNSUPPORTED = -5,   /* well-formed but not something we speak */
  EP_ERR_IO = -6,            /* system call, socket, file */
  EP_ERR_NOMEM = -7,
  EP_ERR_STATE = -8,         /* message not expected in this state */
  EP_ERR_EXPIRED = -9,       /* outside its validity time */
  EP_ERR_TIMEOUT = -10,
  EP_ERR_INTERNAL = -11      /* a programmer bug caught at run time */
} ep_status_t;

#define EP_ERR_MSG_MAX 256

/* A caller-owned error detail. Every ep_err_t* argument may be NULL. */
typedef struct ep_err {
  int code;                  /* an ep_status_t */
  char msg[EP_ERR_MSG_MAX];  /* "consensus line 12: 'r' wants 8 arguments, has 3" */
} ep_err_t;

/* Name of a status code, e.g. "truncated". Never NULL. */
const char *ep_status_name(int code);

/* Record an error (printf-style message) and return code, so a failure is one
 * line: `return ep_err_set(err, EP_ERR_MALFORMED, "cell: bad length %u", n);`
 * If err already holds an error, the new message is prefixed to it
 * ("what: cause") only when ep_err_wrap is used; ep_err_set overwrites. */
int ep_err_set(ep_err_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix context to an existing error: "microdesc 17: " + old message.
 * Returns err->code (or code if err is NULL). */
int ep_err_wrap(ep_err_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void ep_err_clear(ep_err_t *err);

#endif
