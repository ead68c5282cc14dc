/* exitprobe benchmark: the library floor of a TLS probe — what the public-key
 * and TLS work of one probe costs in the libraries alone, without cells,
 * sockets or the event loop. Not a comparison: it says how low a probe's CPU
 * can go here, and so what a "N times less than tor+stem" goal asks.
 *
 *   bench_floor [-n N] [-d DATADIR] [--peer-ms MS]
 *
 * Measured, each as CPU time of the thread (CLOCK_THREAD_CPUTIME_ID):
 *   x25519      ep_x25519_keygen + two ep_x25519 (libsodium): one ntor
 *               handshake's client side; a 2-hop circuit does two.
 *   tls13       the client side of a resumed TLS 1.3 handshake plus one
 *               small request and answer, as the TLS check makes it
 *               (memory BIOs; the session of the previous handshake offered,
 *               a copy, as src/probe/engine/svc_tls.c does), against an
 *               in-process OpenSSL server with DATADIR/svc/svc-cert.pem that
 *               prefers its own cipher order (Debian's nginx settings). The
 *               server's work is not timed. A resumed TLS 1.3 handshake still
 *               makes an X25519 key share (servers accept only psk_dhe_ke).
 *   tls13_full  the same without a session (certificate, CertificateVerify).
 * Output: one line per item ("floor NAME n=N median_us=M min_us=M"), then the
 * floor of a TLS probe on its own 2-hop circuit (2 x25519 + tls13) and, with
 * --peer-ms (the peer's CPU per TLS probe, from bench/run-services), the CPU a
 * probe may take for 10x less, and what is left of it for everything else. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "lib/crypto.h"

static double thread_cpu(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void report(const char *name, double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  printf("floor %s n=%d median_us=%.1f min_us=%.1f\n", name, n, v[n / 2] * 1e6, v[0] * 1e6);
}

/* Moves what a wrote to b's input. */
static void pump(SSL *a, SSL *b) {
  char buf[16384];
  int n;
  while ((n = BIO_read(SSL_get_wbio(a), buf, sizeof buf)) > 0) BIO_write(SSL_get_rbio(b), buf, n);
}

static SSL *mem_ssl(SSL_CTX *c) {
  SSL *s = SSL_new(c);
  if (s == NULL) return NULL;
  BIO *r = BIO_new(BIO_s_mem()), *w = BIO_new(BIO_s_mem());
  if (r == NULL || w == NULL) {
    BIO_free(r);
    BIO_free(w);
    SSL_free(s);
    return NULL;
  }
  SSL_set_bio(s, r, w);
  return s;
}

/* One handshake and request; returns the client's CPU seconds (< 0: failed).
 * *sess: offered (a copy) when set; replaced by a copy of the new one. */
static double tls_once(SSL_CTX *cc, SSL_CTX *sc, SSL_SESSION **sess, bool *resumed) {
  double t = 0, t0 = thread_cpu();
  SSL *c = mem_ssl(cc);
  if (c == NULL) return -1;
  SSL_set_connect_state(c);
  if (*sess != NULL) {
    SSL_SESSION *d = SSL_SESSION_dup(*sess);
    SSL_set_session(c, d);
    SSL_SESSION_free(d);
  }
  SSL_do_handshake(c);
  t += thread_cpu() - t0;
  SSL *s = mem_ssl(sc);
  if (s == NULL) {
    SSL_free(c);
    return -1;
  }
  SSL_set_accept_state(s);
  char buf[512];
  static const char req[] = "HEAD / HTTP/1.1\r\nHost: svc.example.test\r\n\r\n";
  static const char ans[] = "HTTP/1.1 200 OK\r\nServer: nginx\r\n\r\n";
  int done = 0;
  for (int k = 0; k < 8 && done != 1; k++) {
    pump(c, s);
    SSL_do_handshake(s);
    pump(s, c);
    t0 = thread_cpu();
    done = SSL_do_handshake(c);
    t += thread_cpu() - t0;
  }
  double r = -1;
  if (done == 1) {
    t0 = thread_cpu();
    SSL_write(c, req, (int)sizeof req - 1);
    t += thread_cpu() - t0;
    pump(c, s);
    if (SSL_read(s, buf, sizeof buf) > 0 && SSL_write(s, ans, (int)sizeof ans - 1) > 0) {
      pump(s, c);
      t0 = thread_cpu();
      int n = SSL_read(c, buf, sizeof buf);
      *resumed = SSL_session_reused(c) == 1;
      SSL_SESSION *g = SSL_get1_session(c);
      SSL_SESSION_free(*sess);
      *sess = g != NULL ? SSL_SESSION_dup(g) : NULL;
      SSL_SESSION_free(g);
      t += thread_cpu() - t0;
      if (n > 0) r = t;
    }
  }
  t0 = thread_cpu();
  SSL_free(c);
  t += thread_cpu() - t0;
  SSL_free(s);
  ERR_clear_error();
  return r < 0 ? r : t;
}

int main(int argc, char **argv) {
  int n = 2000;
  const char *data = "tests/data";
  double peer_ms = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) n = atoi(argv[++i]);
    else if (strcmp(argv[i], "-d") == 0 && i + 1 < argc) data = argv[++i];
    else if (strcmp(argv[i], "--peer-ms") == 0 && i + 1 < argc) peer_ms = atof(argv[++i]);
    else {
      fprintf(stderr, "usage: bench_floor [-n N] [-d DATADIR] [--peer-ms MS]\n");
      return 2;
    }
  }
  if (n < 10 || n > 1000000) {
    fprintf(stderr, "bench_floor: -n wants 10 to 1000000\n");
    return 2;
  }
  if (ep_crypto_init() != 0) {
    fprintf(stderr, "bench_floor: crypto init failed\n");
    return 1;
  }
  double *v = calloc((size_t)n, sizeof *v);
  if (v == NULL) return 1;

  uint8_t sk[32], pk[32], peer[32], shared[32];
  ep_x25519_keygen(sk, peer);
  for (int i = 0; i < n; i++) {
    double t0 = thread_cpu();
    ep_x25519_keygen(sk, pk);
    int bad = ep_x25519(shared, sk, peer) | ep_x25519(shared, sk, pk);
    v[i] = thread_cpu() - t0;
    if (bad) {
      fprintf(stderr, "bench_floor: x25519 failed\n");
      return 1;
    }
  }
  ep_wipe(sk, sizeof sk);
  ep_wipe(shared, sizeof shared);
  report("x25519", v, n);
  double x25519 = v[n / 2];

  char cert[4096];
  snprintf(cert, sizeof cert, "%s/svc/svc-cert.pem", data);
  SSL_CTX *sc = SSL_CTX_new(TLS_server_method()), *cc = SSL_CTX_new(TLS_client_method());
  if (sc == NULL || cc == NULL || SSL_CTX_use_certificate_file(sc, cert, SSL_FILETYPE_PEM) != 1) {
    fprintf(stderr, "bench_floor: cannot load %s\n", cert);
    return 1;
  }
  snprintf(cert, sizeof cert, "%s/svc/svc-key.pem", data);
  if (SSL_CTX_use_PrivateKey_file(sc, cert, SSL_FILETYPE_PEM) != 1) {
    fprintf(stderr, "bench_floor: cannot load %s\n", cert);
    return 1;
  }
  SSL_CTX_set_options(sc, SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_min_proto_version(cc, TLS1_2_VERSION);
  SSL_CTX_set_session_cache_mode(cc, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_ciphersuites(cc, "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384");
  double tls13 = 0;
  for (int full = 0; full < 2; full++) {
    SSL_SESSION *sess = NULL;
    bool resumed = false;
    if (!full && tls_once(cc, sc, &sess, &resumed) < 0) return 1; /* the first session */
    int k = 0;
    for (int i = 0; i < n; i++) {
      if (full) {
        SSL_SESSION_free(sess);
        sess = NULL;
      }
      double t = tls_once(cc, sc, &sess, &resumed);
      if (t < 0 || resumed == (bool)full) {
        fprintf(stderr, "bench_floor: handshake %d failed or %s\n", i, resumed ? "resumed" : "not resumed");
        return 1;
      }
      v[k++] = t;
    }
    SSL_SESSION_free(sess);
    report(full ? "tls13_full" : "tls13", v, k);
    if (!full) tls13 = v[k / 2];
  }
  double probe = 2 * x25519 + tls13;
  printf("floor tls_probe_own_circuit_us=%.1f (2 ntor handshakes + a resumed TLS 1.3 check)\n", probe * 1e6);
  if (peer_ms > 0) {
    double budget = peer_ms / 1000 / 10;
    printf("floor peer_ms=%.2f budget_10x_us=%.1f left_for_cells_sockets_loop_us=%.1f\n", peer_ms, budget * 1e6,
           (budget - probe) * 1e6);
  }
  SSL_CTX_free(cc);
  SSL_CTX_free(sc);
  free(v);
  return 0;
}
