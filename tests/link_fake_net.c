/* exitprobe tests — a scripted relay's network side (link_fake_net.h). */
#include "config.h"

#include "link_fake_net.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

ep_tls_ctx_t *lf_tls_server_ctx(const lf_identity_t *id) {
  const unsigned char *p = id->tls_cert;
  X509 *x = d2i_X509(NULL, &p, (long)id->tls_cert_len);
  ck_assert_ptr_nonnull(x);
  BIO *cb = BIO_new(BIO_s_mem());
  BIO *kb = BIO_new(BIO_s_mem());
  ck_assert(PEM_write_bio_X509(cb, x) == 1);
  ck_assert(PEM_write_bio_PrivateKey(kb, (EVP_PKEY *)id->tls_key, NULL, NULL, 0, NULL, NULL) == 1);
  char *cpem, *kpem;
  long cn = BIO_get_mem_data(cb, &cpem);
  long kn = BIO_get_mem_data(kb, &kpem);
  char *c0 = calloc(1, (size_t)cn + 1), *k0 = calloc(1, (size_t)kn + 1);
  ck_assert(c0 != NULL && k0 != NULL);
  memcpy(c0, cpem, (size_t)cn);
  memcpy(k0, kpem, (size_t)kn);
  ep_err_t err = {0};
  ep_tls_ctx_t *ctx = ep_tls_ctx_new_server_pem(c0, k0, &err);
  ck_assert_msg(ctx != NULL, "%s", err.msg);
  free(c0);
  free(k0);
  BIO_free(cb);
  BIO_free(kb);
  X509_free(x);
  return ctx;
}

uint16_t lf_listen_loopback(ep_loop_t *loop, ep_loop_fd_cb on_accept, void *arg, int *lfd) {
  *lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  ck_assert_int_ge(*lfd, 0);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ck_assert_int_eq(bind(*lfd, (struct sockaddr *)&sa, sizeof sa), 0);
  ck_assert_int_eq(listen(*lfd, 4), 0);
  socklen_t len = sizeof sa;
  ck_assert_int_eq(getsockname(*lfd, (struct sockaddr *)&sa, &len), 0);
  ep_err_t err = {0};
  ck_assert_int_eq(ep_loop_add_fd(loop, *lfd, EP_LOOP_READ, on_accept, arg, &err), EP_OK);
  return ntohs(sa.sin_port);
}
