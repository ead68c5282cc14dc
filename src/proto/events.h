/* exitprobe — what the link and circuit layer tells the event loop: events
 * (ep_event_t) and the optional per-cell trace (ep_cell_trace_t).
 * Plain values, except EP_EV_STREAM_DATA's data, which points into the
 * decrypted cell it came in (no copy): valid until the callback that got the
 * event returns (for ep_channel_next_event: until the channel is next given
 * input, see ep_channel_input_space); copy what must outlive it. */
#ifndef EP_PROTO_EVENTS_H
#define EP_PROTO_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "proto/relaymsg.h"
#include "proto/target.h"

typedef enum ep_event_type {
  EP_EV_NONE = 0,
  /* The link handshake finished: VERSIONS, CERTS verified, NETINFO both
   * ways. Circuits may now be created. (See ep_channel_info.) */
  EP_EV_CHAN_OPEN,
  /* The channel failed (protocol error, identity mismatch, cap): status and
   * msg say why. Every circuit on it is gone; nothing more comes. The caller
   * closes the TLS connection. */
  EP_EV_CHAN_CLOSED,
  /* A CREATE2/CREATE_FAST or EXTEND2 finished: the circuit has `hops` hops
   * and is open for the next extend or for streams. */
  EP_EV_CIRC_OPEN,
  /* The circuit is gone, with all its streams. remote: the relay sent
   * DESTROY (reason = its reason byte) or RELAY_TRUNCATED (truncated = true;
   * we answered with DESTROY). !remote: we closed it on a protocol error or a
   * failed handshake (status, msg; reason = the DESTROY reason it deserves,
   * though we send NONE as tor-spec §5.4 asks of clients). `hops` = hops
   * built, `extending` = a create/extend was pending. */
  EP_EV_CIRC_DESTROYED,
  /* A circuit-level SENDME reopened a hop's package window we had used up. */
  EP_EV_CIRC_WRITABLE,
  /* RELAY_CONNECTED: has_addr/addr/ttl from its body (none for BEGIN_DIR). */
  EP_EV_STREAM_CONNECTED,
  /* RELAY_END: reason is the raw byte (MISC when the body was empty, with
   * end_empty set); for EXITPOLICY has_addr/addr/ttl when given
   * (ttl EP_TTL_ABSENT when not). The stream is gone. */
  EP_EV_STREAM_END,
  /* RELAY_DATA: len bytes at data (borrowed, see above). Flow control is
   * already done (the data counts as delivered; SENDMEs are queued as due). */
  EP_EV_STREAM_DATA,
  /* A stream-level SENDME reopened a stream we had filled. */
  EP_EV_STREAM_WRITABLE,
  /* RELAY_RESOLVED for a RESOLVE (ep_circ_resolve): len bytes of body at
   * data (borrowed, as DATA's), already checked: ep_resolved_parse reads
   * it. The request is gone. */
  EP_EV_STREAM_RESOLVED
} ep_event_type_t;

/* The state a circuit was in when it was destroyed. */
typedef enum ep_circ_phase {
  EP_CIRC_PHASE_CREATING = 1,
  EP_CIRC_PHASE_EXTENDING = 2,
  EP_CIRC_PHASE_OPEN = 3
} ep_circ_phase_t;

typedef struct ep_event {
  ep_event_type_t type;
  uint32_t circ_id;
  uint16_t stream_id;
  unsigned hops;
  uint8_t phase;            /* DESTROYED: an ep_circ_phase_t */
  bool remote;
  bool truncated;
  uint8_t reason;
  bool end_empty;
  int status;               /* ep_status_t for local closes and CHAN_CLOSED */
  char msg[EP_ERR_MSG_MAX];
  bool has_addr;
  ep_ipaddr_t addr;
  uint32_t ttl;             /* EP_TTL_ABSENT when not given */
  size_t len;
  const uint8_t *data;      /* DATA: len (<= EP_RELAY_PAYLOAD_MAX) bytes, borrowed */
} ep_event_t;

/* One line of `exitprobe circuit --trace`: every cell in and out. */
typedef struct ep_cell_trace {
  bool outbound;
  uint32_t circ_id;
  uint8_t command;          /* cell command */
  size_t length;            /* payload bytes (509 for fixed cells) */
  bool relay;               /* the relay fields below are known: a relay cell we
                               originated, or one a hop of ours recognized */
  uint8_t hop;              /* 1-based hop it went to / came from */
  uint8_t relay_command;
  uint16_t stream_id;
  uint16_t relay_len;
  bool has_reason;          /* DESTROY, RELAY_END, RELAY_TRUNCATED */
  uint8_t reason;
  bool dropped;             /* inbound cell ignored (unknown circuit, command...) */
} ep_cell_trace_t;

typedef void (*ep_cell_trace_fn)(void *arg, const ep_cell_trace_t *trace);

/* "chan-open", "stream-data", ... */
const char *ep_event_type_name(ep_event_type_t type);

#endif
