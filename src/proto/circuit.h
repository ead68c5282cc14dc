/* exitprobe — one client circuit and its streams (tor-spec §5, §6, §7),
 * sans I/O.
 *
 * A circuit is driven by its channel (channel.h), which hands it the cells
 * for its circuit id and gives it two callbacks: one to queue a cell on the
 * link, one to report an event. The circuit never owns time: deadlines
 * belong to the event loop above.
 *
 * States: CREATING (CREATE2/CREATE_FAST sent) -> OPEN; OPEN -> EXTENDING
 * (EXTEND2 sent in RELAY_EARLY) -> OPEN with one more hop; any -> CLOSED
 * (DESTROY either way, RELAY_TRUNCATED, a protocol error, or the caller).
 * Relay crypto: one ep_relay_crypto_t per hop; outbound cells are onion-
 * encrypted to their hop, inbound cells are peeled hop by hop until one
 * recognizes them.
 *
 * Flow control: circuit windows per hop (1000, SENDME every 100: version 1,
 * authenticated with the running digest of the DATA cell that triggered it,
 * as tor 0.4.9 requires; SENDMEs from the exit are checked against the
 * digests of our own DATA cells), stream windows (500, SENDME every 50).
 * DATA beyond a window closes the circuit (protocol error). */
#ifndef EP_PROTO_CIRCUIT_H
#define EP_PROTO_CIRCUIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "proto/cell.h"
#include "proto/events.h"
#include "proto/rngpool.h"
#include "proto/target.h"

#define EP_CIRC_MAX_HOPS 8
#define EP_CIRC_RELAY_EARLY_MAX 8

#define EP_CIRCWINDOW_START 1000
#define EP_CIRCWINDOW_INCREMENT 100
#define EP_STREAMWINDOW_START 500
#define EP_STREAMWINDOW_INCREMENT 50

typedef enum ep_circ_state {
  EP_CIRC_CREATING = 1,
  EP_CIRC_EXTENDING,
  EP_CIRC_OPEN,
  EP_CIRC_CLOSED
} ep_circ_state_t;

typedef enum ep_create_kind {
  EP_CREATE_NTOR = 1,   /* CREATE2, handshake type 2 */
  EP_CREATE_FAST = 2    /* CREATE_FAST (first hop only; deprecated by tor) */
} ep_create_kind_t;

/* What the circuit needs from its channel. send_cell queues one fixed cell
 * (509-byte payload) with this circuit's id; `trace` carries the relay
 * fields for the trace hook. emit reports an event. Both return EP_OK or a
 * negative status (the channel is then failing). trace_in (may be NULL) is
 * called once for each inbound RELAY/RELAY_EARLY cell, as soon as its relay
 * fields are known and before anything is done about it. */
typedef struct ep_circ_io {
  void *ctx;
  int (*send_cell)(void *ctx, uint32_t circ_id, uint8_t command,
                   const uint8_t payload[EP_CELL_PAYLOAD_LEN], ep_cell_trace_t *trace);
  int (*emit)(void *ctx, const ep_event_t *ev);
  void (*trace_in)(void *ctx, const ep_cell_trace_t *trace);
} ep_circ_io_t;

typedef struct ep_circ ep_circ_t;

/* A new circuit (nothing sent yet). NULL on allocation failure. io is
 * copied. */
ep_circ_t *ep_circ_new(uint32_t circ_id, const ep_circ_io_t *io);
/* Where the circuit draws its random bytes (ntor secrets, stream ids, relay
 * cell padding): fn(ctx, out, n), e.g. its channel's pool (ep_rng_pool_fn).
 * Default (and fn NULL): ep_random. */
void ep_circ_set_random(ep_circ_t *c, ep_random_fn fn, void *ctx);
/* NULL-safe; wipes keys and handshake state. Sends nothing. */
void ep_circ_free(ep_circ_t *c);

uint32_t ep_circ_id(const ep_circ_t *c);
ep_circ_state_t ep_circ_state(const ep_circ_t *c);
unsigned ep_circ_hops(const ep_circ_t *c);
bool ep_circ_is_closed(const ep_circ_t *c);

/* Send CREATE2 (ntor, to `first`) or CREATE_FAST. EP_ERR_STATE unless new. */
int ep_circ_create(ep_circ_t *c, ep_create_kind_t kind, const ep_target_t *first,
                   ep_err_t *err);
/* Send EXTEND2 in a RELAY_EARLY cell to the last hop. EP_ERR_STATE unless
 * open, EP_ERR_LIMIT past EP_CIRC_MAX_HOPS or out of RELAY_EARLY cells. */
int ep_circ_extend(ep_circ_t *c, const ep_target_t *next, ep_err_t *err);

/* A cell for this circuit (the channel matched its id). Protocol errors
 * close the circuit (DESTROY sent, EP_EV_CIRC_DESTROYED emitted) and still
 * return EP_OK; a negative return means the channel's own callbacks failed.
 * For RELAY/RELAY_EARLY cells `trace` (the cell-level fields filled by the
 * caller; may be NULL) is completed and handed to io.trace_in. */
int ep_circ_handle_cell(ep_circ_t *c, const ep_cell_t *cell, ep_cell_trace_t *trace);
/* The same, with `payload` the writable memory cell->payload points to: a
 * relay cell is decrypted there, and its events (EP_EV_STREAM_DATA's data)
 * point into it, no copy. (ep_circ_handle_cell decrypts a copy: its events'
 * data is valid only during io.emit.) */
int ep_circ_handle_cell_in_place(ep_circ_t *c, const ep_cell_t *cell, uint8_t *payload,
                                 ep_cell_trace_t *trace);

/* Streams, on the last hop. EP_ERR_STATE unless open, EP_ERR_LIMIT at
 * EP_CAP_STREAMS_PER_CIRC. *stream_id is the new stream's id. */
int ep_circ_begin(ep_circ_t *c, const char *host, uint16_t port, uint32_t flags,
                  uint16_t *stream_id, ep_err_t *err);
int ep_circ_begin_dir(ep_circ_t *c, uint16_t *stream_id, ep_err_t *err);
/* RELAY_RESOLVE for host on the last hop (tor-spec §6.4): a stream id
 * that names the request, no stream at the exit. The answer comes as
 * EP_EV_STREAM_RESOLVED (or EP_EV_STREAM_END); either forgets the id.
 * ep_circ_end_stream forgets it early (sends END, which the exit ignores). */
int ep_circ_resolve(ep_circ_t *c, const char *host, uint16_t *stream_id, ep_err_t *err);
/* Package up to n bytes as DATA cells, as the circuit and stream package
 * windows allow; *written says how many went. Only on a connected stream
 * (EP_ERR_STATE otherwise). A short write means a window is empty: wait for
 * EP_EV_STREAM_WRITABLE / EP_EV_CIRC_WRITABLE. */
int ep_circ_write(ep_circ_t *c, uint16_t stream_id, const uint8_t *data, size_t n,
                  size_t *written, ep_err_t *err);
/* Send RELAY_END and forget the stream (no event). */
int ep_circ_end_stream(ep_circ_t *c, uint16_t stream_id, uint8_t reason, ep_err_t *err);
/* Backpressure: while a stream is held, its stream-level SENDMEs are not
 * sent, so the exit may send at most the stream window (500 cells) more;
 * DATA beyond it closes the circuit. Releasing sends the SENDMEs now due.
 * (Circuit-level SENDMEs are always sent at once, as tor does.) */
int ep_circ_stream_hold(ep_circ_t *c, uint16_t stream_id, bool hold, ep_err_t *err);
/* How many bytes could be written now on a stream (0 if closed/unknown). */
size_t ep_circ_writable(const ep_circ_t *c, uint16_t stream_id);

/* Close from our side: DESTROY (reason NONE) unless already closed. No
 * event. */
void ep_circ_destroy(ep_circ_t *c);
/* The channel died: the circuit is closed, nothing sent, no event. */
void ep_circ_mark_closed(ep_circ_t *c);

/* "creating", "extending", "open", "closed". */
const char *ep_circ_state_name(ep_circ_state_t s);

#endif
