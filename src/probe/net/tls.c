/* exitprobe — non-blocking TLS over a connected socket (OpenSSL 3).
 *
 * The socket is reached through a small BIO of our own rather than OpenSSL's
 * socket BIO, for two reasons: writes use send(MSG_NOSIGNAL), so a peer that
 * resets the connection cannot kill us with SIGPIPE, and the errno of a failed
 * read or write, and a TCP EOF, are recorded exactly where they happen. */
#include "config.h"

#include "probe/net/tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "probe/net/net.h"

/* ep_tls_read's most per call (four TLS records). */
#define EP_TLS_READ_CHUNK 65536u
#define EP_TLS_PEER_MAX 96

struct ep_tls_ctx {
  SSL_CTX *ssl_ctx;
  BIO_METHOD *bio_meth;
  bool server;
};

struct ep_tls_conn {
  SSL *ssl;
  int fd;
  char peer[EP_TLS_PEER_MAX];
  unsigned wants;
  bool hs_done;
  bool closed;        /* the peer closed; reads return EP_TLS_CLOSED */
  bool clean_close;   /* ... with a close_notify */
  bool shutdown_sent;
  bool eof;           /* the socket read returned 0 */
  bool drained;       /* a read this call got less than it asked: the socket is empty
                       * (cleared on entry to every call into SSL) */
  int sys_errno;      /* errno of the last failed socket call */
  int held_rc;        /* EP_TLS_CLOSED or an error seen after bytes a read returned: */
  ep_err_t held_err;  /* ... the next read reports it (ep_tls_pending says so) */
};

/* ---- the socket BIO ---- */

static int sock_write_ex(BIO *b, const char *data, size_t len, size_t *written) {
  ep_tls_conn_t *c = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  *written = 0;
  ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
  if (n >= 0) {
    *written = (size_t)n;
    return 1;
  }
  int e = errno;
  if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR) {
    BIO_set_retry_write(b);
    return 0;
  }
  c->sys_errno = e;
  return 0;
}

static int sock_read_ex(BIO *b, char *data, size_t len, size_t *readbytes) {
  ep_tls_conn_t *c = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  *readbytes = 0;
  if (c->drained) {
    /* The last recv of this call emptied the socket: another would only
     * say EAGAIN. The loop (level-triggered) reports what comes next. */
    BIO_set_retry_read(b);
    return 0;
  }
  ssize_t n = recv(c->fd, data, len, 0);
  if (n > 0) {
    *readbytes = (size_t)n;
    c->drained = (size_t)n < len;
    return 1;
  }
  if (n == 0) {
    c->eof = true;
    return 0;
  }
  int e = errno;
  if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR) {
    BIO_set_retry_read(b);
    return 0;
  }
  c->sys_errno = e;
  return 0;
}

static long sock_ctrl(BIO *b, int cmd, long num, void *ptr) {
  (void)num;
  (void)ptr;
  ep_tls_conn_t *c = BIO_get_data(b);
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_EOF:
      return c != NULL && c->eof ? 1 : 0;
    default:
      return 0;
  }
}

/* ---- errors ---- */

/* "tls with PEER: WHAT: reason", the reason taken from (in order) the
 * OpenSSL error queue, the socket errno, or the EOF. Clears the queue. */
static int tls_fail(ep_tls_conn_t *c, const char *what, int ssl_error, ep_err_t *err) {
  char reason[160] = "";
  unsigned long e = ERR_get_error();
  if (e != 0 && !(c->eof && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
    ERR_error_string_n(e, reason, sizeof reason);
  } else if (c->sys_errno != 0) {
    char scratch[24];
    snprintf(reason, sizeof reason, "%s (%s)", ep_errno_name(c->sys_errno, scratch, sizeof scratch),
             strerror(c->sys_errno));
  } else if (c->eof) {
    snprintf(reason, sizeof reason, "connection closed by the peer");
  } else {
    snprintf(reason, sizeof reason, "SSL error %d", ssl_error);
  }
  ERR_clear_error();
  return ep_err_set(err, EP_ERR_IO, "tls with %s: %s: %s", c->peer, what, reason);
}

static int ctx_fail(const char *what, ep_err_t *err) {
  char reason[160] = "unknown error";
  unsigned long e = ERR_get_error();
  if (e != 0) {
    ERR_error_string_n(e, reason, sizeof reason);
  }
  ERR_clear_error();
  return ep_err_set(err, EP_ERR_INTERNAL, "tls: %s: %s", what, reason);
}

/* ---- contexts ---- */

static ep_tls_ctx_t *ctx_new(bool server, ep_err_t *err) {
  ep_tls_ctx_t *ctx = calloc(1, sizeof *ctx);
  if (ctx == NULL) {
    ep_err_set(err, EP_ERR_NOMEM, "tls: out of memory");
    return NULL;
  }
  ctx->server = server;
  ERR_clear_error();
  ctx->ssl_ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (ctx->ssl_ctx == NULL) {
    ctx_fail("SSL_CTX_new", err);
    free(ctx);
    return NULL;
  }
  SSL_CTX *s = ctx->ssl_ctx;
  SSL_CTX_set_min_proto_version(s, TLS1_2_VERSION);
  /* Identity is proven by the CERTS cell, not by a CA: no chain check. */
  SSL_CTX_set_verify(s, SSL_VERIFY_NONE, NULL);
  /* Debian's default level 2 would refuse older relays' parameters. */
  SSL_CTX_set_security_level(s, 1);
  SSL_CTX_set_options(s, SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(s, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                          SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_OFF);
  if (!server) {
    /* Read what the socket holds, not one record header and then its body:
     * fewer recv() calls per cell batch (ep_tls_pending covers the rest). */
    SSL_CTX_set_read_ahead(s, 1);
  }

  /* A fixed type rather than BIO_get_new_index(), whose indices run out
   * after ~128 contexts; nothing looks this BIO up by type. */
  ctx->bio_meth = BIO_meth_new(BIO_TYPE_SOURCE_SINK, "exitprobe socket");
  if (ctx->bio_meth == NULL || !BIO_meth_set_write_ex(ctx->bio_meth, sock_write_ex) ||
      !BIO_meth_set_read_ex(ctx->bio_meth, sock_read_ex) ||
      !BIO_meth_set_ctrl(ctx->bio_meth, sock_ctrl)) {
    ctx_fail("BIO method", err);
    ep_tls_ctx_free(ctx);
    return NULL;
  }
  return ctx;
}

ep_tls_ctx_t *ep_tls_ctx_new_client(ep_err_t *err) { return ctx_new(false, err); }

static int make_selfsigned(const char *cn, EVP_PKEY **key_out, X509 **cert_out) {
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509 *x = X509_new();
  X509_NAME *name = NULL;
  if (key == NULL || x == NULL) {
    goto fail;
  }
  if (!X509_set_version(x, 2)) {
    goto fail;
  }
  /* Not a secret, merely distinct: time and address suffice. */
  uint64_t sv = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)x;
  if (!ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), sv & 0x7fffffffffffffffull)) {
    goto fail;
  }
  if (X509_gmtime_adj(X509_getm_notBefore(x), -86400L) == NULL ||
      X509_gmtime_adj(X509_getm_notAfter(x), 365L * 86400L) == NULL) {
    goto fail;
  }
  name = X509_NAME_new();
  if (name == NULL ||
      !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) ||
      !X509_set_subject_name(x, name) || !X509_set_issuer_name(x, name) ||
      !X509_set_pubkey(x, key) || X509_sign(x, key, EVP_sha256()) <= 0) {
    goto fail;
  }
  X509_NAME_free(name);
  *key_out = key;
  *cert_out = x;
  return 0;
fail:
  X509_NAME_free(name);
  X509_free(x);
  EVP_PKEY_free(key);
  return -1;
}

static ep_tls_ctx_t *server_with(EVP_PKEY *key, X509 *cert, ep_err_t *err) {
  ep_tls_ctx_t *ctx = ctx_new(true, err);
  if (ctx == NULL) {
    return NULL;
  }
  if (SSL_CTX_use_certificate(ctx->ssl_ctx, cert) != 1 ||
      SSL_CTX_use_PrivateKey(ctx->ssl_ctx, key) != 1 ||
      SSL_CTX_check_private_key(ctx->ssl_ctx) != 1) {
    ctx_fail("server certificate and key", err);
    ep_tls_ctx_free(ctx);
    return NULL;
  }
  return ctx;
}

ep_tls_ctx_t *ep_tls_ctx_new_server_selfsigned(const char *cn, ep_err_t *err) {
  EVP_PKEY *key = NULL;
  X509 *cert = NULL;
  ERR_clear_error();
  if (make_selfsigned(cn != NULL ? cn : "exitprobe test", &key, &cert) != 0) {
    ctx_fail("self-signed certificate", err);
    return NULL;
  }
  ep_tls_ctx_t *ctx = server_with(key, cert, err);
  X509_free(cert);
  EVP_PKEY_free(key);
  return ctx;
}

ep_tls_ctx_t *ep_tls_ctx_new_server_pem(const char *cert_pem, const char *key_pem, ep_err_t *err) {
  ERR_clear_error();
  BIO *cb = BIO_new_mem_buf(cert_pem, -1);
  BIO *kb = BIO_new_mem_buf(key_pem, -1);
  X509 *cert = cb != NULL ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
  EVP_PKEY *key = kb != NULL ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
  BIO_free(cb);
  BIO_free(kb);
  ep_tls_ctx_t *ctx = NULL;
  if (cert == NULL || key == NULL) {
    ctx_fail(cert == NULL ? "server certificate PEM" : "server key PEM", err);
  } else {
    ctx = server_with(key, cert, err);
  }
  X509_free(cert);
  EVP_PKEY_free(key);
  return ctx;
}

static int cert_to_der(X509 *x, uint8_t **der, size_t *len, ep_err_t *err) {
  int n = i2d_X509(x, NULL);
  if (n <= 0) {
    return ctx_fail("certificate DER", err);
  }
  uint8_t *buf = malloc((size_t)n);
  if (buf == NULL) {
    return ep_err_set(err, EP_ERR_NOMEM, "tls: out of memory");
  }
  uint8_t *p = buf;
  if (i2d_X509(x, &p) != n) {
    free(buf);
    return ctx_fail("certificate DER", err);
  }
  *der = buf;
  *len = (size_t)n;
  return EP_OK;
}

int ep_tls_ctx_cert_der(const ep_tls_ctx_t *ctx, uint8_t **der, size_t *len, ep_err_t *err) {
  X509 *x = ctx->server ? SSL_CTX_get0_certificate(ctx->ssl_ctx) : NULL;
  if (x == NULL) {
    return ep_err_set(err, EP_ERR_STATE, "tls: context has no certificate");
  }
  return cert_to_der(x, der, len, err);
}

void ep_tls_ctx_free(ep_tls_ctx_t *ctx) {
  if (ctx == NULL) {
    return;
  }
  SSL_CTX_free(ctx->ssl_ctx);
  BIO_meth_free(ctx->bio_meth);
  free(ctx);
}

/* ---- connections ---- */

ep_tls_conn_t *ep_tls_conn_new(ep_tls_ctx_t *ctx, int fd, const char *peer, ep_err_t *err) {
  ep_tls_conn_t *c = calloc(1, sizeof *c);
  if (c == NULL) {
    close(fd);
    ep_err_set(err, EP_ERR_NOMEM, "tls: out of memory");
    return NULL;
  }
  c->fd = fd;
  snprintf(c->peer, sizeof c->peer, "%s", peer != NULL ? peer : "peer");
  ERR_clear_error();
  c->ssl = SSL_new(ctx->ssl_ctx);
  BIO *bio = c->ssl != NULL ? BIO_new(ctx->bio_meth) : NULL;
  if (bio == NULL) {
    ctx_fail("SSL_new", err);
    ep_tls_conn_free(c);
    return NULL;
  }
  BIO_set_data(bio, c);
  BIO_set_init(bio, 1);
  SSL_set_bio(c->ssl, bio, bio);  /* the SSL owns the BIO now */
  if (ctx->server) {
    SSL_set_accept_state(c->ssl);
  } else {
    SSL_set_connect_state(c->ssl);  /* no SNI: tor relays do not want one */
  }
  c->wants = EP_LOOP_WRITE;
  return c;
}

void ep_tls_conn_free(ep_tls_conn_t *c) {
  if (c == NULL) {
    return;
  }
  SSL_free(c->ssl);
  if (c->fd >= 0) {
    close(c->fd);
  }
  free(c);
}

int ep_tls_fd(const ep_tls_conn_t *c) { return c->fd; }
const char *ep_tls_peer(const ep_tls_conn_t *c) { return c->peer; }
bool ep_tls_handshake_done(const ep_tls_conn_t *c) { return c->hs_done; }
unsigned ep_tls_wants(const ep_tls_conn_t *c) { return c->wants; }
bool ep_tls_closed_cleanly(const ep_tls_conn_t *c) { return c->closed && c->clean_close; }
int ep_tls_sys_errno(const ep_tls_conn_t *c) { return c->sys_errno; }

/* Record what a call is blocked on; true if it is merely blocked. */
static bool blocked(ep_tls_conn_t *c, int ssl_error) {
  if (ssl_error == SSL_ERROR_WANT_READ) {
    c->wants = EP_LOOP_READ;
    return true;
  }
  if (ssl_error == SSL_ERROR_WANT_WRITE) {
    c->wants = EP_LOOP_WRITE;
    return true;
  }
  return false;
}

int ep_tls_handshake(ep_tls_conn_t *c, ep_err_t *err) {
  if (c->hs_done) {
    return EP_OK;
  }
  c->drained = false;
  ERR_clear_error();
  int r = SSL_do_handshake(c->ssl);
  if (r == 1) {
    c->hs_done = true;
    c->wants = 0;
    return EP_OK;
  }
  int e = SSL_get_error(c->ssl, r);
  if (blocked(c, e)) {
    return EP_NEED_MORE;
  }
  c->wants = 0;
  return tls_fail(c, "handshake", e, err);
}

/* How a read that is not merely blocked ends: the peer's close (with or
 * without close_notify) or an error, with its message in err. */
static int read_end(ep_tls_conn_t *c, int ssl_error, ep_err_t *err) {
  c->wants = 0;
  if (ssl_error == SSL_ERROR_ZERO_RETURN) {
    c->closed = true;
    c->clean_close = true;
    return EP_TLS_CLOSED;
  }
  if (c->eof && c->sys_errno == 0) {
    c->closed = true;  /* TCP close without close_notify: common, not an error */
    ERR_clear_error();
    return EP_TLS_CLOSED;
  }
  return tls_fail(c, "read", ssl_error, err);
}

int ep_tls_read_into(ep_tls_conn_t *c, uint8_t *dst, size_t room, size_t *nread, ep_err_t *err) {
  *nread = 0;
  if (!c->hs_done) {
    return ep_err_set(err, EP_ERR_STATE, "tls with %s: read before the handshake is done", c->peer);
  }
  if (c->held_rc != 0) {
    /* The close or error seen while returning the bytes before it. */
    int rc = c->held_rc;
    c->held_rc = 0;
    return rc == EP_TLS_CLOSED ? rc : ep_err_set(err, rc, "%s", c->held_err.msg);
  }
  if (c->closed) {
    return EP_TLS_CLOSED;
  }
  if (room == 0) {
    return ep_err_set(err, EP_ERR_LIMIT, "tls with %s: no room to read into", c->peer);
  }
  c->drained = false;
  while (*nread < room) {
    ERR_clear_error();
    size_t got = 0;
    int r = SSL_read_ex(c->ssl, dst + *nread, room - *nread, &got);
    if (r == 1) {
      *nread += got;
      continue;
    }
    int e = SSL_get_error(c->ssl, r);
    if (blocked(c, e)) {
      break;
    }
    if (*nread == 0) {
      return read_end(c, e, err);
    }
    /* Bytes came first: return them now and the end on the next call, which
     * ep_tls_pending announces (the socket may never be readable again: a
     * close_notify with TCP left open). */
    c->held_err = (ep_err_t){0};
    c->held_rc = read_end(c, e, &c->held_err);
    break;
  }
  return *nread > 0 ? EP_OK : EP_NEED_MORE;
}

int ep_tls_read(ep_tls_conn_t *c, ep_buf_t *in, size_t *nread, ep_err_t *err) {
  *nread = 0;
  size_t room = in->cap - in->len;
  size_t chunk = room < EP_TLS_READ_CHUNK ? room : EP_TLS_READ_CHUNK;
  uint8_t *p = chunk > 0 ? ep_buf_space(in, chunk, err) : NULL;
  if (chunk > 0 && p == NULL) {
    return err != NULL ? err->code : EP_ERR_NOMEM;
  }
  int rc = ep_tls_read_into(c, p, chunk, nread, err);
  if (rc == EP_ERR_LIMIT) {
    return ep_err_set(err, EP_ERR_LIMIT, "tls with %s: %s is full (cap %zu bytes)", c->peer,
                      in->name, in->cap);
  }
  ep_buf_commit(in, *nread);
  return rc;
}

bool ep_tls_pending(const ep_tls_conn_t *c) {
  return c->hs_done && (c->held_rc != 0 || (!c->closed && SSL_has_pending(c->ssl) == 1));
}

int ep_tls_write_buf(ep_tls_conn_t *c, ep_buf_t *out, ep_err_t *err) {
  if (!c->hs_done) {
    return ep_err_set(err, EP_ERR_STATE, "tls with %s: write before the handshake is done", c->peer);
  }
  c->drained = false; /* a fresh call: its reads ask the socket again */
  while (out->len > 0) {
    ERR_clear_error();
    size_t w = 0;
    int r = SSL_write_ex(c->ssl, out->data, out->len, &w);
    if (r == 1) {
      ep_buf_consume(out, w);
      continue;
    }
    int e = SSL_get_error(c->ssl, r);
    if (blocked(c, e)) {
      return EP_NEED_MORE;
    }
    c->wants = 0;
    return tls_fail(c, "write", e, err);
  }
  c->wants &= ~EP_LOOP_WRITE;
  return EP_OK;
}

int ep_tls_shutdown(ep_tls_conn_t *c, ep_err_t *err) {
  if (!c->hs_done || c->shutdown_sent) {
    return EP_OK;
  }
  c->drained = false;
  ERR_clear_error();
  int r = SSL_shutdown(c->ssl);
  if (r >= 0) {
    c->shutdown_sent = true;  /* 0: ours sent, the peer's not seen; 1: both */
    c->wants = 0;
    return EP_OK;
  }
  int e = SSL_get_error(c->ssl, r);
  if (blocked(c, e)) {
    return EP_NEED_MORE;
  }
  return tls_fail(c, "close_notify", e, err);
}

int ep_tls_peer_cert_der(const ep_tls_conn_t *c, uint8_t **der, size_t *len, ep_err_t *err) {
  *der = NULL;
  *len = 0;
  if (!c->hs_done) {
    return ep_err_set(err, EP_ERR_STATE, "tls with %s: no certificate before the handshake",
                      c->peer);
  }
  X509 *x = SSL_get1_peer_certificate(c->ssl);
  if (x == NULL) {
    return ep_err_set(err, EP_ERR_STATE, "tls with %s: the peer sent no certificate", c->peer);
  }
  int rc = cert_to_der(x, der, len, err);
  X509_free(x);
  return rc;
}

const char *ep_tls_version(const ep_tls_conn_t *c) {
  return c->hs_done ? SSL_get_version(c->ssl) : "";
}

const char *ep_tls_cipher(const ep_tls_conn_t *c) {
  const char *s = c->hs_done ? SSL_get_cipher_name(c->ssl) : NULL;
  return s != NULL ? s : "";
}
