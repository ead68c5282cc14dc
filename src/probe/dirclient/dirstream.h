/* exitprobe — a directory fetch over a Tor link: a one-hop circuit to the
 * relay (CREATE2 ntor when its ntor key is known, else CREATE_FAST, as tor
 * does for directory fetches), a BEGIN_DIR stream, an HTTP/1.0 GET on it,
 * and the same sans-I/O response parser as plain DirPort fetches
 * (probe/http.h). This is how a client fetches from ORPort-only fallbacks.
 * The callback contract is ep_http_fetch's. */
#ifndef EP_PROBE_DIRSTREAM_H
#define EP_PROBE_DIRSTREAM_H

#include "lib/err.h"
#include "probe/dirclient/http.h"
#include "probe/net/loop.h"
#include "probe/net/tls.h"
#include "proto/target.h"

typedef struct ep_dirstream ep_dirstream_t;

/* relay: IPv4 + ORPort and RSA id (verified from its CERTS cell); its ntor
 * key if known (all zero: CREATE_FAST). lim NULL: defaults. */
ep_dirstream_t *ep_dirstream_fetch(ep_loop_t *loop, ep_tls_ctx_t *tls, const ep_target_t *relay,
                                   const char *path, const ep_http_limits_t *lim,
                                   ep_http_fetch_cb cb, void *arg, ep_err_t *err);
/* Abandon (no callback). NULL-safe; not from inside its own callback. */
void ep_dirstream_cancel(ep_dirstream_t *d);

#endif
