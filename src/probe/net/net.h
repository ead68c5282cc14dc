/* exitprobe — numeric socket addresses and non-blocking TCP connects.
 *
 * No name resolution anywhere: relays and authorities are addressed by IP.
 * A connect is started, completes when the socket becomes writable, and its
 * result is read from SO_ERROR; the errno is kept as a number and shown with
 * its symbolic name ("ECONNREFUSED") so results can be classified. */
#ifndef EP_PROBE_NET_H
#define EP_PROBE_NET_H

#include <stdint.h>
#include <sys/socket.h>

#include "lib/err.h"
#include "probe/net/loop.h"

/* An IPv4 or IPv6 address with a port. */
typedef struct ep_addr {
  struct sockaddr_storage ss;
  socklen_t len;
} ep_addr_t;

/* "255.255.255.255:65535" or "[ffff:...:ffff]:65535" fits. */
#define EP_ADDR_STRLEN 64

/* Numeric IPv4 ("127.0.0.1") or IPv6 ("::1", "[::1]") host and a port. */
int ep_addr_from_ip(ep_addr_t *a, const char *ip, uint16_t port, ep_err_t *err);
/* "127.0.0.1:9030" or "[::1]:9030" (one colon-separated port, 1..65535). */
int ep_addr_parse(ep_addr_t *a, const char *hostport, ep_err_t *err);
/* Writes "127.0.0.1:9030" / "[::1]:9030" into out; returns out. */
char *ep_addr_format(const ep_addr_t *a, char *out, size_t outcap);
uint16_t ep_addr_port(const ep_addr_t *a);
/* The address family: AF_INET or AF_INET6 (0 if unset). */
int ep_addr_family(const ep_addr_t *a);

/* Symbolic name of an errno value: "ECONNREFUSED", "ETIMEDOUT"...; one not
 * in the table is written as "errno 135" into scratch (>= 16 bytes) and
 * scratch is returned. Never NULL. */
const char *ep_errno_name(int e, char *scratch, size_t scratchcap);

/* ---- the source address (like tor's OutboundBindAddress) ---- */

/* Every later TCP connect of this process to an address of a's family binds
 * to a's address first (port 0: any; its port is ignored), for multi-homed
 * hosts. One per family; NULL clears both. Process-wide, set once at
 * start-up from --outbound-address. */
void ep_tcp_set_outbound(const ep_addr_t *a);

/* ---- the low-level steps ---- */

/* Make a non-blocking, close-on-exec TCP socket and start connecting.
 * Returns EP_OK (connected at once), EP_NEED_MORE (in progress: wait for
 * writable, then ep_tcp_connect_result), or EP_ERR_IO with *sys_errno set and
 * *fd_out = -1. On EP_OK/EP_NEED_MORE the caller owns *fd_out. */
int ep_tcp_connect_start(const ep_addr_t *a, int *fd_out, int *sys_errno, ep_err_t *err);
/* After the fd became writable (or reported an error): EP_OK if connected,
 * else EP_ERR_IO with *sys_errno from SO_ERROR. The fd is left open. */
int ep_tcp_connect_result(int fd, const ep_addr_t *a, int *sys_errno, ep_err_t *err);

/* ---- driven by the loop ---- */

typedef struct ep_tcp_connect ep_tcp_connect_t;

/* Called exactly once (unless cancelled first). On success fd >= 0 and the
 * callee owns it (it is not registered with the loop); sys_errno is 0. On
 * failure fd is -1, sys_errno says why (ETIMEDOUT for our own timeout) and
 * err carries "tcp connect to 127.0.0.1:1: ECONNREFUSED (Connection refused)".
 * The handle is freed right after the callback returns. */
typedef void (*ep_tcp_connect_cb)(void *arg, int fd, int sys_errno, const ep_err_t *err);

/* Start a connect with a timeout (ms, > 0; < 0: none). Even a failure known
 * at once is reported through the callback, on a later turn of the loop, never
 * from inside this call. NULL only if nothing could be started (err set). */
ep_tcp_connect_t *ep_tcp_connect(ep_loop_t *loop, const ep_addr_t *a, int64_t timeout_ms,
                                 ep_tcp_connect_cb cb, void *arg, ep_err_t *err);
/* Abandon a pending connect: closes its socket; the callback is not called.
 * NULL-safe; must not be called after the callback ran. */
void ep_tcp_connect_cancel(ep_tcp_connect_t *c);

#endif
