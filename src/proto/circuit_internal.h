/* exitprobe — what circuit.c and circuit_stream.c share: the circuit's
 * state and the helpers both use. Private to src/proto/circuit*.c. */
#ifndef EP_PROTO_CIRCUIT_INTERNAL_H
#define EP_PROTO_CIRCUIT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "lib/caps.h"
#include "lib/crypto.h"
#include "proto/circuit.h"
#include "proto/fast.h"
#include "proto/ntor.h"
#include "proto/relaycrypt.h"
#include "proto/relaymsg.h"

#define SENDME_FIFO (EP_CIRCWINDOW_START / EP_CIRCWINDOW_INCREMENT)
#define RECENT_CLOSED 32

/* SENDME v1 carries the whole running SHA-1 digest. */
_Static_assert(EP_SENDME_DIGEST_LEN == EP_SHA1_LEN, "SENDME digest is a SHA-1 digest");

typedef struct hop {
  ep_relay_crypto_t *crypto;   /* its running digests also serve SENDME v1 */
  int package_window;
  int deliver_window;
  bool blocked;                                  /* a write ran out of package window */
  uint8_t expect[SENDME_FIFO][EP_SENDME_DIGEST_LEN];  /* digests our SENDME-triggering DATA had */
  unsigned expect_head, expect_n;
  uint8_t rsa_id[20];
} hop_t;

typedef enum { ST_FREE = 0, ST_CONNECTING, ST_OPEN, ST_RESOLVING } stream_state_t;

typedef struct stream {
  uint16_t id;
  uint8_t state;
  bool dir;
  bool blocked;
  bool held;                                     /* stream SENDMEs withheld */
  uint8_t hop;                                   /* index into hops */
  int package_window;
  int deliver_window;
} stream_t;

struct ep_circ {
  uint32_t id;
  ep_circ_state_t state;
  bool started;
  ep_circ_io_t io;
  ep_random_fn rand;        /* NULL: ep_random */
  void *rand_ctx;
  hop_t hops[EP_CIRC_MAX_HOPS];
  unsigned n_hops;
  ep_ntor_client_t *ntor;
  ep_fast_client_t *fast;
  uint8_t pending_id[20];
  unsigned relay_early_left;
  stream_t streams[EP_CAP_STREAMS_PER_CIRC];
  uint16_t recent[RECENT_CLOSED];
  unsigned recent_next;
};

/* An event of circuit c (stream_id 0: about the circuit), other fields zero. */
static inline ep_event_t ep_circ_event(const ep_circ_t *c, ep_event_type_t type,
                                       uint16_t stream_id) {
  ep_event_t ev;
  memset(&ev, 0, sizeof ev);
  ev.type = type;
  ev.circ_id = c->id;
  ev.stream_id = stream_id;
  return ev;
}

/* circuit.c */
void ep_circ_random_bytes(const ep_circ_t *c, void *out, size_t n);
int ep_circ_send_relay(ep_circ_t *c, unsigned hi, uint8_t cell_cmd, uint8_t relay_cmd,
                       uint16_t stream_id, const uint8_t *data, size_t len, uint8_t *digest_out,
                       ep_err_t *err);
int ep_circ_send_msg(ep_circ_t *c, unsigned hi, uint8_t cell_cmd, const ep_relay_msg_t *m,
                     ep_err_t *err);
int ep_circ_emit(ep_circ_t *c, const ep_event_t *ev);
/* Close on a protocol error or failed handshake: DESTROY (NONE) out, an
 * EP_EV_CIRC_DESTROYED with our reason, status and message. */
int ep_circ_fail(ep_circ_t *c, int status, uint8_t reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* circuit_stream.c: stream ids, windows and the inbound stream messages. */
stream_t *ep_circ_find_stream(ep_circ_t *c, uint16_t id);
int ep_circ_on_data(ep_circ_t *c, unsigned hi, const ep_relay_msg_t *m);
int ep_circ_on_sendme(ep_circ_t *c, unsigned hi, const ep_relay_msg_t *m);
int ep_circ_on_connected(ep_circ_t *c, unsigned hi, const ep_relay_msg_t *m);
int ep_circ_on_end(ep_circ_t *c, unsigned hi, const ep_relay_msg_t *m);
int ep_circ_on_resolved(ep_circ_t *c, unsigned hi, const ep_relay_msg_t *m);

#endif
