/* exitprobe — non-blocking TLS over a connected socket (OpenSSL 3).
 *
 * The client side is what a Tor link needs: TLS 1.2 or 1.3, no SNI, and NO
 * certificate chain verification — relays present self-signed link
 * certificates; their identity is proven above TLS by the CERTS cell, which
 * binds the SHA-256 of the peer's certificate DER (ep_tls_peer_cert_der).
 *
 * Nothing here waits. Every call does what it can and says what it is
 * blocked on (ep_tls_wants); the caller owns the event loop and the fd's
 * registration in it. Bytes travel through caller-owned ep_buf_t buffers
 * (caps: EP_CAP_LINK_INBUF / EP_CAP_LINK_OUTBUF): a full input buffer is
 * EP_ERR_LIMIT, never growth. The socket is written with MSG_NOSIGNAL (no
 * SIGPIPE) and the errno of a failed read/write is kept (ep_tls_sys_errno).
 *
 * Driving a connection (level-triggered loop):
 *   interest = EP_LOOP_READ, plus EP_LOOP_WRITE while the handshake or the
 *   last call wants it (ep_tls_wants) or the output buffer is not empty;
 *   on readiness: ep_tls_handshake until EP_OK, then ep_tls_write_buf and
 *   ep_tls_read; after ep_tls_read returns EP_OK, consume the input and call
 *   it again while ep_tls_pending() (OpenSSL may hold decrypted bytes, or a
 *   close_notify it read with them, that epoll cannot see). */
#ifndef EP_PROBE_TLS_H
#define EP_PROBE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "probe/net/loop.h"

/* A positive outcome of ep_tls_read: the peer closed the connection. */
#define EP_TLS_CLOSED 2

typedef struct ep_tls_ctx ep_tls_ctx_t;
typedef struct ep_tls_conn ep_tls_conn_t;

/* The client configuration, shared by all connections (owns an SSL_CTX). */
ep_tls_ctx_t *ep_tls_ctx_new_client(ep_err_t *err);
/* Client processes only (scan): decode RSA and EC public keys without
 * OpenSSL 3.0's per-key decoder set-up, through an ENGINE of OpenSSL's own
 * built-in key methods (tls_lean.c says why and what it costs: no EC keys
 * by NIST curve name afterwards). Certificates and signatures are checked
 * exactly as before. Once per process; false when it could not be (no
 * ENGINE support): nothing changed. */
bool ep_tls_lean_pubkeys(void);
/* A server configuration, for tests and test relays: a fresh self-signed
 * certificate (EC P-256, CN=cn) and key. */
ep_tls_ctx_t *ep_tls_ctx_new_server_selfsigned(const char *cn, ep_err_t *err);
/* A server configuration from a PEM certificate and PEM private key. */
ep_tls_ctx_t *ep_tls_ctx_new_server_pem(const char *cert_pem, const char *key_pem, ep_err_t *err);
/* The server certificate's DER (malloc'd, caller frees). EP_ERR_STATE for a
 * client context. */
int ep_tls_ctx_cert_der(const ep_tls_ctx_t *ctx, uint8_t **der, size_t *len, ep_err_t *err);
/* NULL-safe. Every connection made from ctx must be freed first. */
void ep_tls_ctx_free(ep_tls_ctx_t *ctx);

/* A connection over fd, which must be connected and non-blocking. The conn
 * takes ownership of fd (closes it when freed). `peer` names the other end in
 * error messages ("127.0.0.1:9001"; copied). The role (client/server) comes
 * from ctx. On failure fd is closed too. */
ep_tls_conn_t *ep_tls_conn_new(ep_tls_ctx_t *ctx, int fd, const char *peer, ep_err_t *err);
/* Frees and closes the fd without sending close_notify (see ep_tls_shutdown).
 * Remove the fd from the loop first. NULL-safe. */
void ep_tls_conn_free(ep_tls_conn_t *c);
int ep_tls_fd(const ep_tls_conn_t *c);
const char *ep_tls_peer(const ep_tls_conn_t *c);

/* Advance the handshake: EP_OK when done (then calling again is a no-op),
 * EP_NEED_MORE (see ep_tls_wants), or EP_ERR_IO with
 * "tls with 127.0.0.1:9001: handshake: <OpenSSL's reason or errno name>". */
int ep_tls_handshake(ep_tls_conn_t *c, ep_err_t *err);
bool ep_tls_handshake_done(const ep_tls_conn_t *c);
/* What the last call that returned EP_NEED_MORE is waiting for:
 * EP_LOOP_READ and/or EP_LOOP_WRITE (loop.h); 0 if nothing. */
unsigned ep_tls_wants(const ep_tls_conn_t *c);

/* Read decrypted bytes into dst[0..room): as many as are available and fit.
 *   EP_OK          *nread >= 1 bytes written (more may be waiting: see
 *                  ep_tls_pending);
 *   EP_NEED_MORE   nothing available now (*nread = 0);
 *   EP_TLS_CLOSED  the peer closed (close_notify, or a TCP close without it:
 *                  ep_tls_closed_cleanly tells); bytes read before the close
 *                  were returned by earlier calls;
 *   EP_ERR_LIMIT   room is 0;
 *   EP_ERR_IO      TLS or socket error (message from the OpenSSL error queue
 *                  or the errno name).
 * A close or an error met after some bytes in the same call is kept and
 * reported by the next call, which ep_tls_pending announces: the socket need
 * not become readable again (a close_notify with TCP left open). */
int ep_tls_read_into(ep_tls_conn_t *c, uint8_t *dst, size_t room, size_t *nread, ep_err_t *err);
/* The same into the free space of `in` (at most 64 KiB per call); EP_ERR_LIMIT
 * when `in` is already full (in->len == in->cap): the caller must consume
 * before reading more. */
int ep_tls_read(ep_tls_conn_t *c, ep_buf_t *in, size_t *nread, ep_err_t *err);
/* True if a read would return something without the socket becoming
 * readable: bytes OpenSSL holds (decrypted, or a record in progress), or a
 * close or error it met after the bytes the last read returned. */
bool ep_tls_pending(const ep_tls_conn_t *c);
bool ep_tls_closed_cleanly(const ep_tls_conn_t *c);

/* Write as much of `out` as the socket takes, consuming what was written.
 * EP_OK when `out` is empty, EP_NEED_MORE if bytes remain (wait per
 * ep_tls_wants), EP_ERR_IO on failure. Between a EP_NEED_MORE and the retry
 * the caller may append to `out` but must not remove from it. */
int ep_tls_write_buf(ep_tls_conn_t *c, ep_buf_t *out, ep_err_t *err);

/* Send close_notify (once): EP_OK when sent, EP_NEED_MORE to retry when
 * writable, EP_ERR_IO. Does not wait for the peer's close_notify. */
int ep_tls_shutdown(ep_tls_conn_t *c, ep_err_t *err);

/* The peer's certificate as DER (malloc'd, caller frees): the link layer
 * checks that the CERTS cell's type-5 certificate names its SHA-256.
 * EP_ERR_STATE before the handshake is done or if the peer sent none. */
int ep_tls_peer_cert_der(const ep_tls_conn_t *c, uint8_t **der, size_t *len, ep_err_t *err);
/* "TLSv1.3" / "TLSv1.2", and the cipher name; "" before the handshake. */
const char *ep_tls_version(const ep_tls_conn_t *c);
const char *ep_tls_cipher(const ep_tls_conn_t *c);
/* The errno of the last failed socket read or write (0 if none). */
int ep_tls_sys_errno(const ep_tls_conn_t *c);

#endif
