/* exitprobe tests — a scripted relay's network side: a TLS server context
 * with the fake relay's link certificate, and a loopback listener on the
 * test's loop. Shared by tests/test_link.c and tests/test_circ.c. */
#ifndef EP_TESTS_LINK_FAKE_NET_H
#define EP_TESTS_LINK_FAKE_NET_H

#include <stdint.h>

#include "link_fake.h"
#include "probe/net/loop.h"
#include "probe/net/tls.h"

/* A TLS server context presenting id's link certificate (check-asserts). */
ep_tls_ctx_t *lf_tls_server_ctx(const lf_identity_t *id);
/* Listen on 127.0.0.1, an ephemeral port; on_accept(arg) runs on the loop
 * when a client connects. *lfd gets the socket; returns the port. */
uint16_t lf_listen_loopback(ep_loop_t *loop, ep_loop_fd_cb on_accept, void *arg, int *lfd);

#endif
