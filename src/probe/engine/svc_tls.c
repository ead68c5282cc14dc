/* exitprobe — service checks: implicit TLS (https, imaps, ...). OpenSSL
 * over a pair of memory BIOs: the check feeds the stream's bytes in and
 * hands TLS records out; nothing is verified (the leaf certificate is
 * recorded: SHA-256, subject, issuer), TLS 1.2 or later only (older
 * servers end as NOT_PROTO "TLS handshake failed: ... protocol version").
 * After the handshake the inner protocol runs through SSL_read/SSL_write.
 * With a session store (svc.h, ep_svc_sessions_t) a check offers the session
 * its destination issued before and gives back the one it ends with. */
#include "probe/engine/svc_int.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "lib/crypto.h"
#include "lib/encode.h"

#define TLS_OUT_MAX (16u * 1024u + 512u)

/* The leaf certificate as recorded: its SHA-256 (hex), subject, issuer. */
typedef struct cert_info {
  char sha256[65];
  char subject[EP_SVC_IDENTITY];
  char issuer[EP_SVC_IDENTITY];
} cert_info_t;
#define FIELD_SIZE(type, f) sizeof(((type *)0)->f)
_Static_assert(FIELD_SIZE(cert_info_t, sha256) == FIELD_SIZE(ep_svc_result_t, cert_sha256) &&
                   FIELD_SIZE(cert_info_t, subject) == FIELD_SIZE(ep_svc_result_t, cert_subject) &&
                   FIELD_SIZE(cert_info_t, issuer) == FIELD_SIZE(ep_svc_result_t, cert_issuer) &&
                   FIELD_SIZE(cert_info_t, sha256) <= FIELD_SIZE(ep_svc_result_t, identity),
               "a recorded certificate is copied whole into the result");

struct ep_svc_tls {
  SSL *ssl;
  BIO *rbio, *wbio;           /* owned by ssl */
  size_t out_len, out_off;
  uint8_t first;              /* first byte the server sent */
  bool got_first;
  /* The certificate of the session offered (sha256[0] == 0: none offered).
   * A server that resumes that session has it: a resumed handshake's peer
   * certificate is the session's (OpenSSL keeps it in the session), so it is
   * recorded from here instead of being hashed and printed again. */
  cert_info_t offered;
  uint8_t out[TLS_OUT_MAX];   /* records to send (ciphertext: not wiped) */
};

static SSL_CTX *svc_ctx;

/* The sessions of a scan: a small table, looked up linearly (at most
 * EP_SVC_SESSIONS_MAX destinations: the ports of a scan times their
 * targets). */
typedef struct sess_entry {
  char name[256];
  uint16_t port;
  SSL_SESSION *sess;          /* NULL: none (yet) */
  cert_info_t cert;           /* the session's leaf certificate */
  int votes;                  /* full handshakes and resumptions that agreed, less those that did not */
} sess_entry_t;

struct ep_svc_sessions {
  sess_entry_t e[EP_SVC_SESSIONS_MAX];
  size_t n;
};

ep_svc_sessions_t *ep_svc_sessions_new(void) { return calloc(1, sizeof(ep_svc_sessions_t)); }

void ep_svc_sessions_free(ep_svc_sessions_t *ss) {
  if (ss == NULL) return;
  for (size_t i = 0; i < ss->n; i++) SSL_SESSION_free(ss->e[i].sess);
  ep_wipe(ss, sizeof *ss);
  free(ss);
}

size_t ep_svc_sessions_count(const ep_svc_sessions_t *ss) {
  size_t k = 0;
  for (size_t i = 0; ss != NULL && i < ss->n; i++) k += ss->e[i].sess != NULL;
  return k;
}

static sess_entry_t *sess_find(ep_svc_sessions_t *ss, const char *name, uint16_t port, bool add) {
  for (size_t i = 0; i < ss->n; i++)
    if (ss->e[i].port == port && strcmp(ss->e[i].name, name) == 0) return &ss->e[i];
  if (!add || ss->n == EP_SVC_SESSIONS_MAX) return NULL;
  sess_entry_t *e = &ss->e[ss->n++];
  snprintf(e->name, sizeof e->name, "%s", name); /* both 256: never cut */
  e->port = port;
  return e;
}

/* The check is over: its session (with the ticket the server sent, which in
 * TLS 1.3 comes after the handshake) goes to the store. A resumption or a
 * full handshake showing the kept session's certificate is a vote for it
 * (and refreshes the session); another certificate is a vote against it,
 * and replaces it once the votes fall below zero. */
static void sess_offer(ep_svc_t *sv) {
  ep_svc_tls_t *t = sv->tls;
  const ep_svc_result_t *r = &sv->res;
  if (sv->sessions == NULL || !r->tls_done || r->cert_sha256[0] == 0) return;
  sess_entry_t *e = sess_find(sv->sessions, sv->name, sv->port, true);
  if (e == NULL) return;
  /* A copy: OpenSSL marks a connection's own session not resumable when the
   * connection is freed without a TLS shutdown (the exit or the server
   * usually ends the stream without one). */
  SSL_SESSION *cur = SSL_get1_session(t->ssl);
  SSL_SESSION *s = cur != NULL && SSL_SESSION_is_resumable(cur) ? SSL_SESSION_dup(cur) : NULL;
  SSL_SESSION_free(cur);
  bool same = e->sess != NULL && strcmp(e->cert.sha256, r->cert_sha256) == 0;
  if (e->sess != NULL && !same && --e->votes >= 0) {
    SSL_SESSION_free(s); /* another certificate, still outvoted */
    return;
  }
  if (s == NULL) return;  /* nothing to resume with: keep what there is */
  e->votes = same ? e->votes + (e->votes < 1000000) : 1;
  SSL_SESSION_free(e->sess);
  e->sess = s;
  snprintf(e->cert.sha256, sizeof e->cert.sha256, "%s", r->cert_sha256);
  snprintf(e->cert.subject, sizeof e->cert.subject, "%s", r->cert_subject);
  snprintf(e->cert.issuer, sizeof e->cert.issuer, "%s", r->cert_issuer);
}

void ep_svc_global_cleanup(void) {
  SSL_CTX_free(svc_ctx);
  svc_ctx = NULL;
}

static SSL_CTX *ctx_get(void) {
  if (svc_ctx) return svc_ctx;
  SSL_CTX *c = SSL_CTX_new(TLS_client_method());
  if (c == NULL) return NULL;
  SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_max_cert_list(c, EP_CAP_SVC_INPUT);
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
  /* OpenSSL's three TLS 1.3 suites in the order browsers offer them:
   * AES-128-GCM first. A server that follows the client's order (OpenSSL's
   * default, nginx without ssl_prefer_server_ciphers) then runs the key
   * schedule with SHA-256 rather than SHA-384: a resumed handshake cost
   * client and server together ~10 % less CPU in an in-memory test
   * (bench/RESULTS.md). One that prefers its own order (Debian's nginx
   * configuration) is unaffected. Nothing is dropped. */
  if (SSL_CTX_set_ciphersuites(c, "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384") != 1) {
    SSL_CTX_free(c);
    return NULL;
  }
  svc_ctx = c;
  atexit(ep_svc_global_cleanup);
  return c;
}

/* An address, not a name: no SNI (RFC 6066 3). "[::1]" is how an IPv6
 * literal target travels in RELAY_BEGIN. */
static bool ip_literal(const char *s) {
  uint8_t b[16];
  if (s[0] == '[') {
    return true;
  }
  return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

int ep_svc_tls_new(ep_svc_t *sv, ep_err_t *err) {
  SSL_CTX *c = ctx_get();
  /* Not calloc: the 16 KiB output buffer needs no zeroing (out_len = 0). */
  ep_svc_tls_t *t = malloc(sizeof *t);
  if (t != NULL) memset(t, 0, offsetof(ep_svc_tls_t, out));
  if (c == NULL || t == NULL) {
    free(t);
    return ep_err_set(err, EP_ERR_NOMEM, "tls check: no TLS context");
  }
  sv->tls = t;
  t->ssl = SSL_new(c);
  t->rbio = BIO_new(BIO_s_mem());
  t->wbio = BIO_new(BIO_s_mem());
  if (t->ssl == NULL || t->rbio == NULL || t->wbio == NULL) {
    BIO_free(t->rbio);
    BIO_free(t->wbio);
    t->rbio = t->wbio = NULL;
    return ep_err_set(err, EP_ERR_NOMEM, "tls check: out of memory");
  }
  BIO_set_mem_eof_return(t->rbio, -1);
  SSL_set_bio(t->ssl, t->rbio, t->wbio);
  SSL_set_connect_state(t->ssl);
  if (sv->name[0] && !ip_literal(sv->name) && SSL_set_tlsext_host_name(t->ssl, sv->name) != 1)
    return ep_err_set(err, EP_ERR_MALFORMED, "tls check: bad SNI name '%.60s'", sv->name);
  const sess_entry_t *e = sv->sessions ? sess_find(sv->sessions, sv->name, sv->port, false) : NULL;
  SSL_SESSION *offer = e != NULL && e->sess != NULL ? SSL_SESSION_dup(e->sess) : NULL; /* see sess_offer */
  if (offer != NULL && SSL_set_session(t->ssl, offer) == 1) {
    t->offered = e->cert;
    if (SSL_SESSION_get_protocol_version(offer) == TLS1_2_VERSION) {
      /* The server chose TLS 1.2 for this session: no TLS 1.3 key share. */
      SSL_set_max_proto_version(t->ssl, TLS1_2_VERSION);
    }
  }
  SSL_SESSION_free(offer); /* the connection holds its own reference */
  SSL_do_handshake(t->ssl); /* writes the ClientHello */
  ERR_clear_error();
  return EP_OK;
}

void ep_svc_tls_free(ep_svc_t *sv) {
  ep_svc_tls_t *t = sv->tls;
  if (t == NULL) return;
  if (t->ssl != NULL) sess_offer(sv);
  SSL_free(t->ssl); /* frees the BIOs */
  ep_wipe(t, offsetof(ep_svc_tls_t, out));
  free(t);
  sv->tls = NULL;
}

size_t ep_svc_tls_output(ep_svc_t *sv, const uint8_t **p) {
  ep_svc_tls_t *t = sv->tls;
  if (t->out_off == t->out_len) {
    int r = BIO_read(t->wbio, t->out, (int)sizeof t->out);
    t->out_len = r > 0 ? (size_t)r : 0;
    t->out_off = 0;
  }
  *p = t->out + t->out_off;
  return t->out_len - t->out_off;
}

void ep_svc_tls_output_done(ep_svc_t *sv, size_t n) {
  ep_svc_tls_t *t = sv->tls;
  size_t left = t->out_len - t->out_off;
  t->out_off += n < left ? n : left;
}

/* The leaf certificate's SHA-256 (hex; empty if it cannot be hashed),
 * subject and issuer. */
static void cert_info_of(X509 *x, cert_info_t *ci) {
  uint8_t md[32];
  unsigned mdl = 0;
  if (X509_digest(x, EVP_sha256(), md, &mdl) != 1 || mdl != 32 ||
      ep_hex_encode(ci->sha256, sizeof ci->sha256, md, sizeof md, false) < 0) {
    ci->sha256[0] = 0;
  }
  BIO *b = BIO_new(BIO_s_mem());
  X509_NAME *names[2] = {X509_get_subject_name(x), X509_get_issuer_name(x)};
  char *outs[2] = {ci->subject, ci->issuer};
  for (int i = 0; i < 2; i++) {
    int n = 0;
    if (b != NULL) {
      (void)BIO_reset(b);
      X509_NAME_print_ex(b, names[i], 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
      n = BIO_read(b, outs[i], EP_SVC_IDENTITY - 1);
    }
    outs[i][n > 0 ? n : 0] = 0;
  }
  BIO_free(b);
}

static void record_cert(ep_svc_t *sv) {
  ep_svc_tls_t *t = sv->tls;
  ep_svc_result_t *r = &sv->res;
  snprintf(r->tls_version, sizeof r->tls_version, "%s", SSL_get_version(t->ssl));
  r->tls_done = true;
  r->tls_resumed = SSL_session_reused(t->ssl) == 1;
  cert_info_t shown;
  const cert_info_t *ci = &t->offered; /* resumed: the offered session's (see struct ep_svc_tls) */
  if (!r->tls_resumed || ci->sha256[0] == 0) {
    X509 *x = SSL_get0_peer_certificate(t->ssl);
    if (x == NULL) return;
    cert_info_of(x, &shown);
    ci = &shown;
  }
  memcpy(r->cert_sha256, ci->sha256, sizeof r->cert_sha256);
  memcpy(r->cert_subject, ci->subject, sizeof r->cert_subject);
  memcpy(r->cert_issuer, ci->issuer, sizeof r->cert_issuer);
  if (ci->sha256[0] != 0) {
    memcpy(r->identity, ci->sha256, sizeof ci->sha256);
    r->id_kind = EP_SVC_ID_CERT;
  }
}

static ep_svc_status_t tls_failed(ep_svc_t *sv, const char *what) {
  ep_svc_tls_t *t = sv->tls;
  unsigned long e = ERR_peek_last_error();
  const char *reason = e ? ERR_reason_error_string(e) : NULL;
  ERR_clear_error();
  if (t->got_first && t->first != 0x16 && t->first != 0x15)
    return ep_svc_fail(sv, EP_SVC_NOT_PROTO, "not TLS: first byte 0x%02x", t->first);
  return ep_svc_fail(sv, EP_SVC_NOT_PROTO, "TLS %s: %s", what, reason ? reason : "error");
}

/* Handshake done: send the inner query, read what the inner protocol got. */
static ep_svc_status_t tls_inner(ep_svc_t *sv, bool eof) {
  ep_svc_tls_t *t = sv->tls;
  if (sv->query_off < sv->query_len) {
    int w = SSL_write(t->ssl, sv->query + sv->query_off, (int)(sv->query_len - sv->query_off));
    if (w > 0) sv->query_off += (size_t)w;
  }
  uint8_t buf[4096];
  for (;;) {
    int r = SSL_read(t->ssl, buf, sizeof buf);
    if (r > 0) {
      ep_svc_status_t st = ep_svc_plain_input(sv, buf, (size_t)r, false);
      ep_wipe(buf, sizeof buf);
      if (st != EP_SVC_NEED_MORE) return st;
      continue;
    }
    int e = SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_ZERO_RETURN) eof = true;
    else if (e != SSL_ERROR_WANT_READ && !eof) return tls_failed(sv, "after the handshake");
    ERR_clear_error();
    break;
  }
  return ep_svc_plain_input(sv, NULL, 0, eof);
}

ep_svc_status_t ep_svc_tls_input(ep_svc_t *sv, const uint8_t *data, size_t len, bool eof) {
  ep_svc_tls_t *t = sv->tls;
  if (len > 0) {
    if (!t->got_first) { t->got_first = true; t->first = data[0]; }
    if (t->first != 0x16 && t->first != 0x15)
      return ep_svc_fail(sv, EP_SVC_NOT_PROTO, "not TLS: first byte 0x%02x", t->first);
    if (BIO_write(t->rbio, data, (int)len) != (int)len)
      return ep_svc_fail(sv, EP_SVC_FAILED, "tls check: out of memory");
  }
  if (!sv->res.tls_done) {
    int r = SSL_do_handshake(t->ssl);
    if (r != 1) {
      int e = SSL_get_error(t->ssl, r);
      if (e == SSL_ERROR_WANT_READ && !eof) { ERR_clear_error(); return EP_SVC_NEED_MORE; }
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_SYSCALL)
        return ep_svc_fail(sv, EP_SVC_FAILED, t->got_first ? "TLS handshake cut short by the end of the stream"
                                                           : "stream ended with nothing said");
      return tls_failed(sv, "handshake failed");
    }
    record_cert(sv);
  }
  return tls_inner(sv, eof);
}
