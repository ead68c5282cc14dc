/* exitprobe — a client channel: one TLS link to a relay, its link handshake
 * and the circuits it carries (tor-spec §4, §5), sans I/O.
 *
 * The event loop owns the socket and TLS. Its side of the bargain:
 *
 *   ch = ep_channel_new(&first_hop, &err);
 *   ... TCP + TLS up ...
 *   ep_channel_start(ch, peer_tls_cert_der, len, now, &err);   // queues VERSIONS
 *   loop:
 *     on readable: p = ep_channel_input_space(ch, want, &room, &err);
 *                  n = SSL_read(p, room); ep_channel_input_commit(ch, n, now);
 *                  while (ep_channel_next_event(ch, &ev)) handle(ev);
 *     on writable / after any call: p = ep_channel_out(ch, &len);
 *                  n = SSL_write(p, len); ep_channel_out_consume(ch, n);
 *   ep_channel_free(ch);
 *
 * Events (events.h): EP_EV_CHAN_OPEN once the handshake is done (CERTS
 * verified against first_hop's identities and the TLS certificate, NETINFO
 * both ways); then per circuit EP_EV_CIRC_OPEN / EP_EV_CIRC_DESTROYED and per
 * stream EP_EV_STREAM_CONNECTED / _END / _DATA / _WRITABLE; EP_EV_CHAN_CLOSED
 * when the channel fails (the loop closes TLS; all circuits are gone).
 * Cells are decoded lazily: ep_channel_next_event handles buffered cells
 * one at a time until one yields an event, so memory stays bounded.
 *
 * Circuits: ep_channel_circ_create (hop 1 = the channel's relay), then
 * ep_channel_circ_extend once per further hop, each answered by
 * EP_EV_CIRC_OPEN (hops = n). Streams go to the circuit's last hop.
 * No timeouts here: the loop owns deadlines and calls ep_channel_circ_destroy
 * / ep_channel_stream_end when one passes. */
#ifndef EP_PROTO_CHANNEL_H
#define EP_PROTO_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/err.h"
#include "proto/circuit.h"
#include "proto/events.h"
#include "proto/linkcert.h"
#include "proto/linkhs.h"
#include "proto/target.h"

typedef enum ep_chan_state {
  EP_CHAN_NEW = 0,          /* before ep_channel_start */
  EP_CHAN_WAIT_VERSIONS,
  EP_CHAN_WAIT_CERTS,
  EP_CHAN_WAIT_AUTH,        /* AUTH_CHALLENGE (ignored) or NETINFO next */
  EP_CHAN_WAIT_NETINFO,
  EP_CHAN_OPEN,
  EP_CHAN_FAILED
} ep_chan_state_t;

typedef struct ep_channel ep_channel_t;

/* What the handshake learned. Valid once EP_EV_CHAN_OPEN has come out. */
typedef struct ep_channel_info {
  int linkproto;
  ep_certs_proven_t proven;     /* identities the relay proved */
  uint32_t peer_time;           /* its NETINFO timestamp (0 if it sent none) */
  int64_t clock_skew;           /* peer_time - our now at receipt, seconds (0 if unknown) */
  ep_ipaddr_t our_addr;           /* the address it sees us at (family NONE if not said) */
  size_t n_peer_addrs;
  ep_ipaddr_t peer_addrs[EP_NETINFO_ADDRS_KEPT];   /* the addresses it claims */
} ep_channel_info_t;

/* A channel to `peer` (copied: IPv4/port, RSA id, Ed25519 id when known).
 * NULL on allocation failure. */
ep_channel_t *ep_channel_new(const ep_target_t *peer, ep_err_t *err);
/* NULL-safe. Frees every circuit (sends nothing). */
void ep_channel_free(ep_channel_t *ch);

/* TLS is up: the peer's certificate (DER, copied) for the CERTS check, and
 * our VERSIONS cell (3, 4, 5) is queued. EP_ERR_STATE if called twice. */
int ep_channel_start(ep_channel_t *ch, const uint8_t *tls_cert_der, size_t len, time_t now,
                     ep_err_t *err);

/* Bytes read from TLS (copied). Buffered (cap EP_CAP_LINK_INBUF: EP_ERR_LIMIT,
 * and the channel fails) and decoded by ep_channel_next_event. `now` is the
 * wall clock used for certificate dates and the clock skew. */
int ep_channel_feed(ep_channel_t *ch, const uint8_t *data, size_t n, time_t now, ep_err_t *err);

/* The same without the copy: TLS reads straight into the input buffer.
 * ep_channel_input_space returns *room writable bytes (1..want) at its end;
 * write n <= *room of them and call ep_channel_input_commit. NULL when the
 * channel has failed or is not started (EP_ERR_STATE), or at the cap
 * (EP_ERR_LIMIT: the channel fails). Cells are decoded and decrypted where
 * they lie; a partial cell is never moved once `want` bytes are in use:
 * *room is then what completes it, and the buffer starts over at its front
 * once every byte is decoded. */
uint8_t *ep_channel_input_space(ep_channel_t *ch, size_t want, size_t *room, ep_err_t *err);
void ep_channel_input_commit(ep_channel_t *ch, size_t n, time_t now);

/* The next event, decoding buffered cells as needed. true if *ev was
 * filled; false when nothing more can happen without more bytes.
 * EP_EV_STREAM_DATA's data points into the input buffer: valid until the
 * next ep_channel_feed / ep_channel_input_space (events.h). */
bool ep_channel_next_event(ep_channel_t *ch, ep_event_t *ev);

/* Bytes waiting to be written to TLS (cap EP_CAP_LINK_OUTBUF; past it the
 * channel fails). The pointer is valid until the next call on ch. */
const uint8_t *ep_channel_out(ep_channel_t *ch, size_t *len);
void ep_channel_out_consume(ep_channel_t *ch, size_t n);
/* fn(arg) is called after every cell queued for output (by the ep_channel_*
 * calls below, or while decoding: SENDMEs, NETINFO), so the loop can
 * schedule its write; NULL to stop. fn must not queue or consume cells. */
typedef void (*ep_channel_out_fn)(void *arg);
void ep_channel_set_out_notify(ep_channel_t *ch, ep_channel_out_fn fn, void *arg);

ep_chan_state_t ep_channel_state(const ep_channel_t *ch);
const char *ep_chan_state_name(ep_chan_state_t s);
const ep_channel_info_t *ep_channel_info(const ep_channel_t *ch);
/* Why the channel failed (status and message), or NULL if it did not. */
const ep_err_t *ep_channel_error(const ep_channel_t *ch);
size_t ep_channel_n_circs(const ep_channel_t *ch);

/* Called for every cell in and out (NULL to stop). */
void ep_channel_set_trace(ep_channel_t *ch, ep_cell_trace_fn fn, void *arg);

/* ---- Circuits ---- */

/* A new circuit to the channel's relay: CREATE2 (ntor) or CREATE_FAST.
 * *circ_id is its id (random, high bit set: we initiated the link).
 * EP_ERR_STATE before EP_EV_CHAN_OPEN, EP_ERR_LIMIT at
 * EP_CAP_CIRCS_PER_CHAN. */
int ep_channel_circ_create(ep_channel_t *ch, ep_create_kind_t kind, uint32_t *circ_id,
                           ep_err_t *err);
/* EXTEND2 to `next` (answered by EP_EV_CIRC_OPEN or EP_EV_CIRC_DESTROYED). */
int ep_channel_circ_extend(ep_channel_t *ch, uint32_t circ_id, const ep_target_t *next,
                           ep_err_t *err);
/* DESTROY the circuit and forget it (no event). Unknown ids are ignored. */
void ep_channel_circ_destroy(ep_channel_t *ch, uint32_t circ_id);
/* The circuit, for inspection (ep_circ_state, ep_circ_hops), or NULL. */
const ep_circ_t *ep_channel_circ(const ep_channel_t *ch, uint32_t circ_id);

/* ---- Streams (on the circuit's last hop) ---- */

int ep_channel_stream_begin(ep_channel_t *ch, uint32_t circ_id, const char *host, uint16_t port,
                            uint32_t flags, uint16_t *stream_id, ep_err_t *err);
int ep_channel_stream_begin_dir(ep_channel_t *ch, uint32_t circ_id, uint16_t *stream_id,
                                ep_err_t *err);
/* RELAY_RESOLVE for host (see ep_circ_resolve): EP_EV_STREAM_RESOLVED or
 * EP_EV_STREAM_END answers it. */
int ep_channel_stream_resolve(ep_channel_t *ch, uint32_t circ_id, const char *host,
                              uint16_t *stream_id, ep_err_t *err);
/* Packages what the windows allow; *written may be short (wait for
 * EP_EV_STREAM_WRITABLE / EP_EV_CIRC_WRITABLE). */
int ep_channel_stream_write(ep_channel_t *ch, uint32_t circ_id, uint16_t stream_id,
                            const uint8_t *data, size_t n, size_t *written, ep_err_t *err);
/* Backpressure (see ep_circ_stream_hold): hold while the loop's buffer for
 * the stream is full, release when it drains. */
int ep_channel_stream_hold(ep_channel_t *ch, uint32_t circ_id, uint16_t stream_id, bool hold,
                           ep_err_t *err);
/* RELAY_END (reason: EP_END_DONE or EP_END_MISC) and forget the stream. */
int ep_channel_stream_end(ep_channel_t *ch, uint32_t circ_id, uint16_t stream_id, uint8_t reason,
                          ep_err_t *err);

#endif
