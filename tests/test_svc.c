/* exitprobe — unit tests of the service checks (issue #11), driven by real
 * bytes captured from Debian's daemons (tests/data/svc/SOURCES) and by
 * hostile ones; every input both byte by byte and in one chunk. TLS runs
 * against an in-process OpenSSL server over memory BIOs. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "lib/crypto.h"
#include "probe/engine/svc.h"
#include "testutil.h"

static ep_svc_spec_t spec_of(const char *name) {
  ep_svc_spec_t s;
  ep_err_t err;
  ck_assert_int_eq(ep_svc_parse(name, &s, &err), EP_OK);
  return s;
}

static ep_svc_t *new_check(const char *svc, const char *target) {
  ep_err_t err;
  ep_svc_t *sv = ep_svc_new(spec_of(svc), target, &err);
  ck_assert_msg(sv != NULL, "ep_svc_new: %s", err.msg);
  return sv;
}

/* Everything the check wants to send now, appended to out (may be NULL). */
static size_t drain(ep_svc_t *sv, uint8_t *out, size_t cap) {
  const uint8_t *p;
  size_t n, got = 0;
  while ((n = ep_svc_output(sv, &p)) > 0) {
    if (out) {
      ck_assert_uint_le(got + n, cap);
      memcpy(out + got, p, n);
    }
    got += n;
    ep_svc_output_done(sv, n);
  }
  return got;
}

/* Feeds data in chunks of `chunk` bytes, then the end of the stream. */
static ep_svc_result_t feed(ep_svc_t *sv, const uint8_t *data, size_t len, size_t chunk, bool eof) {
  drain(sv, NULL, 0);
  for (size_t i = 0; i < len && ep_svc_result(sv)->status == EP_SVC_NEED_MORE; i += chunk)
    ep_svc_input(sv, data + i, len - i < chunk ? len - i : chunk, false);
  if (eof) ep_svc_input(sv, NULL, 0, true);
  ep_svc_result_t r = *ep_svc_result(sv);
  ep_svc_free(sv);
  return r;
}

static ep_svc_result_t run(const char *svc, const char *target, const void *d, size_t n, size_t chunk, bool eof) {
  return feed(new_check(svc, target), d, n, chunk, eof);
}

/* A captured file through a check, byte by byte and in one chunk: both
 * must give the same result, which is returned. */
static ep_svc_result_t run_file(const char *svc, const char *target, const char *file) {
  size_t n;
  uint8_t *d = tu_read_data(file, &n);
  ep_svc_result_t a = run(svc, target, d, n, 1, false);
  ep_svc_result_t b = run(svc, target, d, n, n, false);
  free(d);
  ck_assert_int_eq(a.status, b.status);
  ck_assert_str_eq(a.answer, b.answer);
  ck_assert_str_eq(a.identity, b.identity);
  ck_assert_int_eq(a.refused, b.refused);
  return a;
}

START_TEST(names_ports_and_table) {
  ep_svc_spec_t s = ep_svc_for_port(443);
  ck_assert(s.proto == EP_SVC_HTTP && s.tls);
  ck_assert_str_eq(ep_svc_name(s), "https");
  ck_assert_str_eq(ep_svc_name(ep_svc_for_port(465)), "submissions");
  ck_assert_str_eq(ep_svc_name(ep_svc_for_port(587)), "smtp");
  ck_assert_str_eq(ep_svc_name(ep_svc_for_port(853)), "dot");
  ck_assert_str_eq(ep_svc_name(ep_svc_for_port(6697)), "ircs");
  ck_assert_str_eq(ep_svc_name(ep_svc_for_port(4444)), "tcp");
  ck_assert_str_eq(ep_svc_name(ep_svc_for_port(0)), "tcp");
  ck_assert_uint_eq(ep_svc_port_by_name("submission"), 587);
  ck_assert_uint_eq(ep_svc_port_by_name("domain"), 53);
  ck_assert_uint_eq(ep_svc_port_by_name("xmpp-client"), 5222);
  ck_assert_uint_eq(ep_svc_port_by_name("xmpps"), 5223);
  ck_assert_uint_eq(ep_svc_port_by_name("nosuch"), 0);
  ep_err_t err;
  ck_assert_int_ne(ep_svc_parse("gopher", &s, &err), EP_OK);
  ck_assert(strstr(err.msg, "gopher") != NULL);
  for (int p = 0; p < EP_SVC_PROTO_COUNT; p++) /* every protocol's name parses back to it */
    for (int t = 0; t < 2; t++) {
      ep_svc_spec_t a = {(ep_svc_proto_t)p, t == 1}, b;
      if (ep_svc_parse(ep_svc_name(a), &b, &err) == EP_OK && strcmp(ep_svc_name(a), "tls") != 0)
        ck_assert(b.proto == a.proto && b.tls == a.tls);
    }
  const uint16_t *ports;
  ck_assert_uint_eq(ep_svc_common_ports(&ports), 15);
  ck_assert_uint_eq(ports[0], 21);
  ck_assert_uint_eq(ports[14], 6697);
  ck_assert(ep_svc_server_first(ep_svc_for_port(25)));
  ck_assert(!ep_svc_server_first(ep_svc_for_port(465)));
  ck_assert(!ep_svc_server_first(ep_svc_for_port(80)));
}
END_TEST

START_TEST(real_line_greetings) {
  ep_svc_result_t r = run_file("ssh", "x", "svc/ssh-openssh.bin");
  ck_assert_int_eq(r.status, EP_SVC_ANSWERED);
  ck_assert_str_eq(r.answer, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10");
  r = run_file("imap", "x", "svc/imap-dovecot.bin");
  ck_assert_int_eq(r.status, EP_SVC_ANSWERED);
  ck_assert(!r.refused);
  ck_assert(strncmp(r.answer, "* OK [CAPABILITY IMAP4rev1", 26) == 0);
  r = run_file("pop3", "x", "svc/pop3-dovecot.bin");
  ck_assert_int_eq(r.status, EP_SVC_ANSWERED);
  ck_assert_str_eq(r.answer, "+OK Dovecot (Debian) ready.");
  r = run_file("irc", "x", "svc/irc-ngircd.bin");
  ck_assert_int_eq(r.status, EP_SVC_ANSWERED);
  ck_assert_str_eq(r.answer, "NOTICE * :*** Looking up your hostname and checking ident");
  ck_assert_int_eq(r.id_kind, EP_SVC_ID_NONE); /* ngircd's notice has no prefix */
  { /* ngircd says nothing before registration: the check registers first */
    uint8_t out[128];
    ep_svc_t *sv = new_check("irc", "x");
    size_t n = drain(sv, out, sizeof out);
    ck_assert_uint_eq(n, strlen("NICK exitprobe\r\nUSER exitprobe 0 * :exitprobe\r\n"));
    ck_assert(memcmp(out, "NICK exitprobe\r\nUSER ", 21) == 0);
    ep_svc_free(sv);
  }
  /* The same captures are not the other protocols. */
  ck_assert_int_eq(run_file("smtp", "x", "svc/ssh-openssh.bin").status, EP_SVC_NOT_PROTO);
  ck_assert_int_eq(run_file("pop3", "x", "svc/imap-dovecot.bin").status, EP_SVC_NOT_PROTO);
  ck_assert_int_eq(run_file("imap", "x", "svc/pop3-dovecot.bin").status, EP_SVC_NOT_PROTO);
}
END_TEST

#define RUNS(svc, s, chunk, eof) run(svc, "x", s, strlen(s), chunk, eof)

START_TEST(smtp_ftp_nntp_irc_replies) {
  const char *m = "220-mx.example.org ESMTP Postfix\r\n220-second\r\n220 last\r\n";
  for (size_t c = 1; c <= strlen(m); c += strlen(m) - 1) {
    ep_svc_result_t r = RUNS("smtp", m, c, false);
    ck_assert_int_eq(r.status, EP_SVC_ANSWERED);
    ck_assert_int_eq(r.code, 220);
    ck_assert_str_eq(r.answer, "220-mx.example.org ESMTP Postfix");
    ck_assert_str_eq(r.identity, "mx.example.org");
    ck_assert_int_eq(r.id_kind, EP_SVC_ID_HOSTNAME);
  }
  ck_assert_int_eq(RUNS("smtp", "220-mx\r\n220-more\r\n", 1, false).status, EP_SVC_NEED_MORE);
  ck_assert_int_eq(RUNS("smtp", "220-mx\r\n220-more\r\n", 1, true).status, EP_SVC_FAILED);
  ep_svc_result_t r = RUNS("smtp", "554 5.7.1 mx.example no thanks\r\n", 1, false);
  ck_assert(r.status == EP_SVC_ANSWERED && r.refused && r.code == 554);
  /* a refusal's text is the destination's choice: no identity to judge interception by */
  ck_assert_int_eq(r.id_kind, EP_SVC_ID_NONE);
  ck_assert_str_eq(r.identity, "");
  r = RUNS("smtp", "220-a\r\n250 b\r\n", 1, false);
  ck_assert_int_eq(r.status, EP_SVC_NOT_PROTO);
  /* what is not the protocol names nobody: it must not vote on interception */
  ck_assert_int_eq(r.id_kind, EP_SVC_ID_NONE);
  ck_assert_str_eq(r.identity, "");
  ck_assert_int_eq(RUNS("smtp", "HTTP/1.1 400 Bad Request\r\n", 1, false).status, EP_SVC_NOT_PROTO);
  /* FTP: free text inside a multi-line reply, 120 then 220. */
  r = RUNS("ftp", "220-ftp.example.org FTP\r\nwelcome, free text\r\n220 ready\r\n", 1, false);
  ck_assert(r.status == EP_SVC_ANSWERED && !r.refused && strcmp(r.identity, "ftp.example.org") == 0);
  ck_assert_int_eq(RUNS("ftp", "120 wait 5 minutes\r\n", 1, false).status, EP_SVC_NEED_MORE);
  r = RUNS("ftp", "421 Too many connections\r\n", 1, false);
  ck_assert(r.status == EP_SVC_ANSWERED && r.refused);
  r = RUNS("nntp", "200 news.example.org InterNetNews server INN 2.7 ready\r\n", 1, false);
  ck_assert(r.status == EP_SVC_ANSWERED && !r.refused && strcmp(r.identity, "news.example.org") == 0);
  r = RUNS("nntp", "502 You have no permission to talk\r\n", 1, false);
  ck_assert(r.status == EP_SVC_ANSWERED && r.refused);
  r = RUNS("irc", ":irc.example.net NOTICE * :*** Looking up your hostname...\r\n", 1, false);
  ck_assert(r.status == EP_SVC_ANSWERED && r.id_kind == EP_SVC_ID_IRC_SERVER);
  ck_assert_str_eq(r.identity, "irc.example.net");
  r = RUNS("irc", "ERROR :Closing Link: too many connections\r\n", 1, false);
  ck_assert(r.status == EP_SVC_ANSWERED && r.refused);
  ck_assert_int_eq(RUNS("irc", "<html>\r\n", 1, false).status, EP_SVC_NOT_PROTO);
  r = RUNS("ssh", "some banner\r\nSSH-1.99-old\r\n", 1, false);
  ck_assert(r.status == EP_SVC_ANSWERED && !r.refused);
  ck_assert(RUNS("ssh", "SSH-1.5-ancient\r\n", 1, false).refused);
  r = RUNS("imap", "* BYE too many connections\r\n", 1, false);
  ck_assert(r.status == EP_SVC_ANSWERED && r.refused);
  ck_assert(RUNS("pop3", "-ERR go away\r\n", 1, false).refused);
}
END_TEST

START_TEST(tcp_answers_on_any_byte) {
  ep_svc_result_t r = RUNS("tcp", "x", 1, false);
  ck_assert_int_eq(r.status, EP_SVC_ANSWERED);
  ck_assert_str_eq(r.answer, "x");
  r = RUNS("tcp", "hello\r\nworld", 1, false);
  ck_assert_str_eq(r.answer, "h"); /* decided on the first byte */
  r = RUNS("tcp", "hello\r\nworld", 100, false);
  ck_assert_str_eq(r.answer, "hello");
  ck_assert_int_eq(RUNS("tcp", "", 1, false).status, EP_SVC_NEED_MORE);
  ck_assert_int_eq(RUNS("tcp", "", 1, true).status, EP_SVC_FAILED);
  ep_svc_t *sv = new_check("tcp", "x");
  ck_assert_uint_eq(drain(sv, NULL, 0), 0); /* nothing to send */
  ep_svc_free(sv);
}
END_TEST

START_TEST(http_real_and_request) {
  ep_svc_t *sv = new_check("http", "svc.example.test");
  uint8_t q[512];
  size_t n = drain(sv, q, sizeof q);
  const char *want = "HEAD / HTTP/1.1\r\nHost: svc.example.test\r\nUser-Agent: exitprobe\r\nConnection: close\r\n\r\n";
  ck_assert_uint_eq(n, strlen(want));
  ck_assert(memcmp(q, want, n) == 0);
  ep_svc_free(sv);
  ep_svc_result_t r = run_file("http", "svc.example.test", "svc/http-nginx.bin");
  ck_assert_int_eq(r.status, EP_SVC_ANSWERED);
  ck_assert_str_eq(r.answer, "HTTP/1.1 200 OK; Server: nginx/1.22.1");
  ck_assert(!r.refused && r.code == 200);
  r = run_file("http", "svc.example.test", "svc/http-nginx-404.bin");
  ck_assert(r.status == EP_SVC_ANSWERED && r.refused && r.code == 404);
  ck_assert_int_eq(RUNS("http", "SSH-2.0-x\r\n", 1, false).status, EP_SVC_NOT_PROTO);
  ck_assert_int_eq(RUNS("http", "HTTP/1.1 200 OK\r\nServer: a", 1, false).status, EP_SVC_NEED_MORE);
  r = RUNS("http", "HTTP/1.0 200 OK\nServer: tiny\n\n", 1, false);
  ck_assert_str_eq(r.answer, "HTTP/1.0 200 OK; Server: tiny");
  ep_err_t err;
  ck_assert_ptr_null(ep_svc_new(spec_of("http"), "a\r\nX-Injected: 1", &err));
}
END_TEST

START_TEST(xmpp_real_and_bomb) {
  ep_svc_t *sv = new_check("xmpp", "example.test");
  uint8_t q[512];
  size_t n = drain(sv, q, sizeof q);
  ck_assert(n > 100 && memmem(q, n, "to='example.test'", 17) != NULL);
  ep_svc_free(sv);
  ep_svc_result_t r = run_file("xmpp", "example.test", "svc/xmpp-prosody.bin");
  ck_assert_int_eq(r.status, EP_SVC_ANSWERED);
  ck_assert(!r.refused);
  ck_assert_int_eq(r.id_kind, EP_SVC_ID_XMPP_FROM);
  ck_assert_str_eq(r.identity, "example.test");
  ck_assert(strncmp(r.answer, "stream from=example.test id=e6de8445-", 37) == 0);
  r = run_file("xmpp", "unknown.test", "svc/xmpp-prosody-unknown-host.bin");
  ck_assert(r.status == EP_SVC_ANSWERED && r.refused);
  const char *bomb = "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;\">]>"
                     "<stream:stream from='x'>";
  r = RUNS("xmpp", bomb, 1, false);
  ck_assert_int_eq(r.status, EP_SVC_NOT_PROTO);
  ck_assert(strstr(r.why, "XML bomb") != NULL);
  ck_assert_int_eq(RUNS("xmpp", "HTTP/1.1 400 Bad\r\n", 1, false).status, EP_SVC_NOT_PROTO);
  r = RUNS("xmpp", "<stream:stream from='a>b' id=\"7\">", 1, true); /* quoted '>' */
  ck_assert(r.status == EP_SVC_ANSWERED && strcmp(r.identity, "a>b") == 0);
}
END_TEST

/* A captured DNS response with its id set to the query's. */
static ep_svc_result_t dns_run(const char *file, size_t chunk, int id_delta) {
  ep_svc_t *sv = new_check("dns", strstr(file, "refused") ? "other.invalid" : "svc.example.test");
  uint8_t q[512];
  ck_assert_uint_gt(drain(sv, q, sizeof q), 14);
  size_t n;
  uint8_t *d = tu_read_data(file, &n);
  d[2] = q[2];
  d[3] = (uint8_t)(q[3] + id_delta);
  ep_svc_result_t r = feed(sv, d, n, chunk ? chunk : n, false);
  free(d);
  return r;
}

START_TEST(dns_real_and_loops) {
  for (size_t c = 0; c < 2; c++) {
    ep_svc_result_t r = dns_run("svc/dns-dnsmasq.bin", c, 0);
    ck_assert_int_eq(r.status, EP_SVC_ANSWERED);
    ck_assert_str_eq(r.answer, "NOERROR, 1 answers A 127.0.0.9");
    r = dns_run("svc/dns-dnsmasq-refused.bin", c, 0);
    ck_assert(r.status == EP_SVC_ANSWERED && r.refused && r.code == 5);
    ck_assert(strncmp(r.answer, "REFUSED", 7) == 0);
  }
  ep_svc_result_t r = dns_run("svc/dns-dnsmasq.bin", 0, 1);
  ck_assert_int_eq(r.status, EP_SVC_NOT_PROTO); /* another id */
  /* A response whose answer name points at itself: a compression loop. */
  ep_svc_t *sv = new_check("dns", "a.b");
  uint8_t q[64], m[64];
  size_t qn = drain(sv, q, sizeof q);
  memcpy(m, q, qn);
  m[4] |= 0x80;                                  /* QR */
  m[9] = 1;                                      /* ANCOUNT 1 */
  size_t at = qn;
  m[at] = 0xc0; m[at + 1] = (uint8_t)(at - 2);  /* pointer to itself */
  memset(m + at + 2, 0, 10);
  m[at + 2 + 1] = 1; m[at + 2 + 3] = 1;
  size_t mn = at + 12;
  m[0] = 0; m[1] = (uint8_t)(mn - 2);
  r = feed(sv, m, mn, 1, false);
  ck_assert_int_eq(r.status, EP_SVC_NOT_PROTO);
  ck_assert(strstr(r.why, "malformed") != NULL);
  ep_err_t err;
  ck_assert_ptr_null(ep_svc_new(spec_of("dns"), "a..b", &err));
}
END_TEST

START_TEST(hostile_line_input) {
  /* An endless multi-line banner stops at the cap. */
  size_t n = EP_CAP_SVC_INPUT + 4096;
  char *big = malloc(n + 1);
  for (size_t i = 0; i < n; i += 8) memcpy(big + i, "220-xx\r\n", 8);
  big[n] = 0;
  ep_svc_result_t r = run("smtp", "x", big, n, 1000, false);
  ck_assert_int_eq(r.status, EP_SVC_FAILED);
  ck_assert(strstr(r.why, "cap") != NULL);
  ck_assert_uint_le(r.bytes_in, EP_CAP_SVC_INPUT);
  /* One endless line is not the protocol. */
  memset(big, 'a', n);
  r = run("smtp", "x", big, n, 1, false);
  ck_assert_int_eq(r.status, EP_SVC_NOT_PROTO);
  ck_assert(strstr(r.why, "longer than") != NULL);
  r = run("http", "x", "HTTP/1.1 200 OK\r\n", 17, 17, false);
  ck_assert_int_eq(r.status, EP_SVC_NEED_MORE);
  memcpy(big, "HTTP/1.1 200 OK\r\n", 17);
  r = run("http", "x", big, n, 1000, false); /* endless header: decided at its cap */
  ck_assert_int_eq(r.status, EP_SVC_ANSWERED);
  free(big);
  r = run("smtp", "x", "220 a\0b\r\n", 9, 1, false);
  ck_assert_int_eq(r.status, EP_SVC_NOT_PROTO);
  ck_assert(strstr(r.why, "NUL") != NULL);
  r = run("tcp", "x", "\0\0\0", 3, 3, false);
  ck_assert_int_eq(r.status, EP_SVC_ANSWERED);
  ck_assert_str_eq(r.answer, "");
}
END_TEST

/* ---- TLS against an in-process OpenSSL server ---- */
typedef struct tls_srv {
  SSL_CTX *ctx;
  SSL *ssl;
  BIO *rb, *wb;
  const uint8_t *reply;
  size_t reply_len;
  bool replied;
} tls_srv_t;

static SSL_CTX *srv_ctx_new(const char *chain_file) {
  SSL_CTX *c = SSL_CTX_new(TLS_server_method());
  ck_assert_int_eq(SSL_CTX_use_certificate_chain_file(c, tu_data_path(chain_file)), 1);
  ck_assert_int_eq(SSL_CTX_use_PrivateKey_file(c, tu_data_path("svc/svc-key.pem"), SSL_FILETYPE_PEM), 1);
  return c;
}

/* A connection of the server `ctx` (shared: its ticket keys stay). */
static void srv_init_ctx(tls_srv_t *s, SSL_CTX *ctx, const uint8_t *reply, size_t reply_len) {
  memset(s, 0, sizeof *s);
  s->ssl = SSL_new(ctx);
  s->rb = BIO_new(BIO_s_mem());
  s->wb = BIO_new(BIO_s_mem());
  SSL_set_bio(s->ssl, s->rb, s->wb);
  SSL_set_accept_state(s->ssl);
  s->reply = reply;
  s->reply_len = reply_len;
}

static void srv_init(tls_srv_t *s, const char *chain_file, const uint8_t *reply, size_t reply_len) {
  SSL_CTX *c = srv_ctx_new(chain_file);
  srv_init_ctx(s, c, reply, reply_len);
  s->ctx = c;
}

static void srv_free(tls_srv_t *s) {
  SSL_free(s->ssl);
  SSL_CTX_free(s->ctx); /* NULL (a shared context) ok */
}

/* Client bytes in; server works; server bytes out into *out (malloc'd). */
static size_t srv_step(tls_srv_t *s, const uint8_t *in, size_t n, uint8_t **out) {
  if (n) BIO_write(s->rb, in, (int)n);
  if (!SSL_is_init_finished(s->ssl)) SSL_do_handshake(s->ssl);
  if (SSL_is_init_finished(s->ssl) && !s->replied) {
    uint8_t buf[1024];
    int r = SSL_read(s->ssl, buf, sizeof buf); /* the request, if any (ignored) */
    (void)r;
    SSL_write(s->ssl, s->reply, (int)s->reply_len);
    s->replied = true;
  }
  size_t len = (size_t)BIO_pending(s->wb);
  *out = malloc(len + 1);
  int got = BIO_read(s->wb, *out, (int)len);
  return got > 0 ? (size_t)got : 0;
}

/* Runs a TLS check against a connection of the server `ctx`, the server's
 * bytes in chunks; resuming through `ss` (NULL: none) for (name, port). */
static ep_svc_result_t tls_run_ctx(const char *svc, SSL_CTX *ctx, const char *reply_file, size_t chunk,
                                   ep_svc_sessions_t *ss, const char *name, uint16_t port) {
  size_t rn;
  uint8_t *reply = tu_read_data(reply_file, &rn);
  tls_srv_t s;
  srv_init_ctx(&s, ctx, reply, rn);
  ep_err_t err;
  ep_svc_t *sv = ep_svc_new_ex(spec_of(svc), name, port, ss, &err);
  ck_assert_msg(sv != NULL, "ep_svc_new_ex: %s", err.msg);
  for (int round = 0; round < 16 && ep_svc_result(sv)->status == EP_SVC_NEED_MORE; round++) {
    uint8_t cbuf[65536], *sbuf;
    size_t cn = drain(sv, cbuf, sizeof cbuf);
    size_t sn = srv_step(&s, cbuf, cn, &sbuf);
    for (size_t i = 0; i < sn && ep_svc_result(sv)->status == EP_SVC_NEED_MORE; i += chunk)
      ep_svc_input(sv, sbuf + i, sn - i < chunk ? sn - i : chunk, false);
    free(sbuf);
  }
  ep_svc_result_t r = *ep_svc_result(sv);
  ep_svc_free(sv);
  srv_free(&s);
  free(reply);
  return r;
}

/* Runs a TLS check against a fresh server with the chain, the server's bytes in chunks. */
static ep_svc_result_t tls_run(const char *svc, const char *chain, const char *reply_file, size_t chunk) {
  SSL_CTX *c = srv_ctx_new(chain);
  ep_svc_result_t r = tls_run_ctx(svc, c, reply_file, chunk, NULL, "svc.example.test", 443);
  SSL_CTX_free(c);
  return r;
}

/* SHA-256 of the PEM certificate's DER, hex: independent of the check's path. */
static void cert_hex(const char *file, char out[65]) {
  FILE *f = fopen(tu_data_path(file), "r");
  ck_assert_ptr_nonnull(f);
  X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
  fclose(f);
  uint8_t *der = NULL, md[32];
  int n = i2d_X509(x, &der);
  ep_sha256(md, der, (size_t)n);
  for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
  OPENSSL_free(der);
  X509_free(x);
}

START_TEST(tls_https_and_imaps) {
  char want[65];
  cert_hex("svc/svc-cert.pem", want);
  size_t chunks[] = {1, 65536};
  for (int c = 0; c < 2; c++) {
    ep_svc_result_t r = tls_run("https", "svc/svc-cert.pem", "svc/https-nginx-inner.bin", chunks[c]);
    ck_assert_msg(r.status == EP_SVC_ANSWERED, "status %d: %s", r.status, r.why);
    ck_assert_str_eq(r.answer, "HTTP/1.1 200 OK; Server: nginx/1.22.1");
    ck_assert(r.tls_done);
    ck_assert_str_eq(r.tls_version, "TLSv1.3");
    ck_assert_str_eq(r.cert_sha256, want);
    ck_assert_str_eq(r.identity, want);
    ck_assert_int_eq(r.id_kind, EP_SVC_ID_CERT);
    ck_assert_str_eq(r.cert_subject, "O=exitprobe test,CN=svc.example.test");
    ck_assert_str_eq(r.cert_issuer, r.cert_subject);
    r = tls_run("imaps", "svc/svc-cert.pem", "svc/imaps-dovecot-inner.bin", chunks[c]);
    ck_assert_int_eq(r.status, EP_SVC_ANSWERED);
    ck_assert(strncmp(r.answer, "* OK [CAPABILITY", 16) == 0);
    ck_assert_str_eq(r.identity, want);
  }
}
END_TEST

/* A server that is not the destination: its own key pair and self-signed
 * certificate (CN=other.example.test), its own ticket keys. */
static SSL_CTX *other_ctx_new(void) {
  EVP_PKEY *k = EVP_EC_gen("P-256");
  X509 *x = X509_new();
  ck_assert_ptr_nonnull(k);
  ck_assert_ptr_nonnull(x);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_set_pubkey(x, k);
  X509_NAME *n = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"other.example.test", -1, -1, 0);
  X509_set_issuer_name(x, n);
  ck_assert_int_gt(X509_sign(x, k, EVP_sha256()), 0);
  SSL_CTX *c = SSL_CTX_new(TLS_server_method());
  ck_assert_int_eq(SSL_CTX_use_certificate(c, x), 1);
  ck_assert_int_eq(SSL_CTX_use_PrivateKey(c, k), 1);
  X509_free(x);
  EVP_PKEY_free(k);
  return c;
}

#define HTTPS_REPLY "svc/https-nginx-inner.bin"

START_TEST(tls_resumption) {
  char want[65];
  cert_hex("svc/svc-cert.pem", want);
  const char *name = "svc.example.test";
  /* TLS 1.3 (tickets after the handshake) and TLS 1.2 (tickets in it). */
  for (int v = 0; v < 2; v++) {
    SSL_CTX *dest = srv_ctx_new("svc/svc-cert.pem");
    if (v == 1) SSL_CTX_set_max_proto_version(dest, TLS1_2_VERSION);
    const char *ver = v == 0 ? "TLSv1.3" : "TLSv1.2";
    ep_svc_sessions_t *ss = ep_svc_sessions_new();
    ck_assert_ptr_nonnull(ss);
    ep_svc_result_t r = tls_run_ctx("https", dest, HTTPS_REPLY, 65536, ss, name, 443);
    ck_assert_msg(r.status == EP_SVC_ANSWERED, "status %d: %s", r.status, r.why);
    ck_assert(r.tls_done && !r.tls_resumed);
    ck_assert_str_eq(r.tls_version, ver);
    ck_assert_uint_eq(ep_svc_sessions_count(ss), 1);
    /* The next checks resume: same answer, the session's certificate. */
    for (int i = 0; i < 3; i++) {
      r = tls_run_ctx("https", dest, HTTPS_REPLY, i == 1 ? 1 : 65536, ss, name, 443);
      ck_assert_msg(r.status == EP_SVC_ANSWERED, "status %d: %s", r.status, r.why);
      ck_assert_msg(r.tls_resumed, "%s check %d not resumed", ver, i);
      ck_assert_str_eq(r.tls_version, ver);
      ck_assert_str_eq(r.cert_sha256, want);
      ck_assert_str_eq(r.identity, want);
      ck_assert_str_eq(r.cert_subject, "O=exitprobe test,CN=svc.example.test");
      ck_assert_str_eq(r.cert_issuer, r.cert_subject); /* recorded from the offered session's certificate */
      ck_assert_str_eq(r.answer, "HTTP/1.1 200 OK; Server: nginx/1.22.1");
    }
    /* Another port or another name of the same server: no session offered. */
    r = tls_run_ctx("https", dest, HTTPS_REPLY, 65536, ss, name, 8443);
    ck_assert(r.tls_done && !r.tls_resumed);
    r = tls_run_ctx("https", dest, HTTPS_REPLY, 65536, ss, "www.example.test", 443);
    ck_assert(r.tls_done && !r.tls_resumed);
    ck_assert_uint_eq(ep_svc_sessions_count(ss), 3);
    /* A middlebox (its own certificate and keys) cannot resume: a full
     * handshake, its certificate recorded. One such answer does not displace
     * the destination's session: the next check to the destination resumes. */
    SSL_CTX *mitm = other_ctx_new();
    r = tls_run_ctx("https", mitm, HTTPS_REPLY, 65536, ss, name, 443);
    ck_assert_msg(r.status == EP_SVC_ANSWERED, "status %d: %s", r.status, r.why);
    ck_assert(r.tls_done && !r.tls_resumed);
    ck_assert_str_ne(r.cert_sha256, want);
    ck_assert_str_eq(r.cert_subject, "CN=other.example.test");
    r = tls_run_ctx("https", dest, HTTPS_REPLY, 65536, ss, name, 443);
    ck_assert(r.tls_resumed);
    ck_assert_str_eq(r.cert_sha256, want);
    /* The destination's restart (new ticket keys): a full handshake, the
     * same certificate, and resumption again after it. */
    SSL_CTX *restarted = srv_ctx_new("svc/svc-cert.pem");
    if (v == 1) SSL_CTX_set_max_proto_version(restarted, TLS1_2_VERSION);
    r = tls_run_ctx("https", restarted, HTTPS_REPLY, 65536, ss, name, 443);
    ck_assert(r.tls_done && !r.tls_resumed);
    ck_assert_str_eq(r.cert_sha256, want);
    r = tls_run_ctx("https", restarted, HTTPS_REPLY, 65536, ss, name, 443);
    ck_assert(r.tls_resumed);
    /* Where the middlebox answers more often than the destination, its
     * session is kept: the destination's checks are then full handshakes,
     * still with the destination's certificate (nothing is taken on trust). */
    for (int i = 0; i < 8; i++) {
      r = tls_run_ctx("https", mitm, HTTPS_REPLY, 65536, ss, name, 443);
      ck_assert_str_eq(r.cert_subject, "CN=other.example.test");
    }
    ck_assert(r.tls_resumed); /* the middlebox's own session by now */
    ck_assert_str_ne(r.cert_sha256, want); /* and its certificate recorded, not the destination's */
    ck_assert_str_eq(r.identity, r.cert_sha256);
    r = tls_run_ctx("https", restarted, HTTPS_REPLY, 65536, ss, name, 443);
    ck_assert(r.tls_done && !r.tls_resumed);
    ck_assert_str_eq(r.cert_sha256, want);
    ep_svc_sessions_free(ss);
    SSL_CTX_free(mitm);
    SSL_CTX_free(restarted);
    SSL_CTX_free(dest);
  }
  /* Without a store nothing is resumed. */
  SSL_CTX *dest = srv_ctx_new("svc/svc-cert.pem");
  for (int i = 0; i < 2; i++) {
    ep_svc_result_t r = tls_run_ctx("https", dest, HTTPS_REPLY, 65536, NULL, name, 443);
    ck_assert(r.tls_done && !r.tls_resumed);
  }
  SSL_CTX_free(dest);
  ep_svc_sessions_free(NULL);
}
END_TEST

START_TEST(tls_hostile) {
  /* 100 certificates: a clear cap, not memory growth. */
  ep_svc_result_t r = tls_run("https", "svc/chain100.pem", "svc/https-nginx-inner.bin", 4096);
  ck_assert_int_ne(r.status, EP_SVC_ANSWERED);
  ck_assert_int_ne(r.status, EP_SVC_NEED_MORE);
  ck_assert_uint_le(r.bytes_in, EP_CAP_SVC_INPUT);
  ck_assert_msg(strstr(r.why, "cap") || strstr(r.why, "excessive"), "why: %s", r.why);
  /* Plain text where TLS should be. */
  r = RUNS("https", "HTTP/1.1 400 Bad Request\r\n\r\n", 1, false);
  ck_assert_int_eq(r.status, EP_SVC_NOT_PROTO);
  ck_assert_str_eq(r.why, "not TLS: first byte 0x48");
  /* An alert (handshake_failure) instead of a ServerHello. */
  r = run("https", "svc.example.test", "\x15\x03\x03\x00\x02\x02\x28", 7, 1, false);
  ck_assert_int_eq(r.status, EP_SVC_NOT_PROTO);
  ck_assert_msg(strstr(r.why, "alert") != NULL, "why: %s", r.why);
  /* A handshake cut short by the end of the stream. */
  tls_srv_t s;
  srv_init(&s, "svc/svc-cert.pem", (const uint8_t *)"x", 1);
  ep_svc_t *sv = new_check("https", "svc.example.test");
  uint8_t cbuf[4096], *sbuf;
  size_t sn = srv_step(&s, cbuf, drain(sv, cbuf, sizeof cbuf), &sbuf);
  ck_assert_uint_gt(sn, 100);
  ep_svc_input(sv, sbuf, sn / 2, false);
  ck_assert_int_eq(ep_svc_result(sv)->status, EP_SVC_NEED_MORE);
  ck_assert_int_eq(ep_svc_input(sv, NULL, 0, true), EP_SVC_FAILED);
  ck_assert(strstr(ep_svc_result(sv)->why, "cut short") != NULL);
  free(sbuf);
  ep_svc_free(sv);
  srv_free(&s);
  ck_assert_int_eq(RUNS("https", "", 1, true).status, EP_SVC_FAILED);
  ep_svc_global_cleanup();
}
END_TEST

static Suite *svc_suite(void) {
  Suite *s = suite_create("svc");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, names_ports_and_table);
  tcase_add_test(tc, real_line_greetings);
  tcase_add_test(tc, smtp_ftp_nntp_irc_replies);
  tcase_add_test(tc, tcp_answers_on_any_byte);
  tcase_add_test(tc, http_real_and_request);
  tcase_add_test(tc, xmpp_real_and_bomb);
  tcase_add_test(tc, dns_real_and_loops);
  tcase_add_test(tc, hostile_line_input);
  tcase_add_test(tc, tls_https_and_imaps);
  tcase_add_test(tc, tls_resumption);
  tcase_add_test(tc, tls_hostile);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  ep_crypto_init();
  return tu_run_suite(svc_suite());
}
