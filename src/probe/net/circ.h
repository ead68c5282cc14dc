/* exitprobe — the one circuit driver and stream recorder, used by the scan,
 * `exitprobe circuit` and the BEGIN_DIR directory fetches.
 *
 * A carrier (ep_carrier_t) is a link to a first hop and the circuits it
 * carries: it owns the link's event callback and routes each event to its
 * circuit through its own circuit-id map (kept here, not in the channel: the
 * channel forgets a circuit as soon as its DESTROY arrives, before the event
 * about it comes out).
 *
 * A circuit (ep_ncirc_t) is created on a carrier with the hops to extend to
 * after the first: CREATE2 (or CREATE_FAST) as soon as the link is open,
 * EXTEND2 hop by hop, a deadline for the whole build; its owner hears
 * opened, or failed once with the reason and the hop, and its streams'
 * events. A stream recorder (ep_streamrec_t, the owner's memory) records
 * what a stream got: CONNECTED (address, TTL), DATA into one capped buffer
 * the owner reads in place, END (reason byte, EXITPOLICY address/TTL),
 * timings, and a per-stream deadline.
 *
 * Cells queued by these calls are flushed here; owners never flush. Any
 * call may be made from inside a callback, ep_ncirc_free and
 * ep_carrier_free too (the memory is released when the callback returns). */
#ifndef EP_PROBE_CIRC_H
#define EP_PROBE_CIRC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "probe/net/link.h"
#include "probe/net/loop.h"
#include "probe/net/tls.h"
#include "proto/circuit.h"
#include "proto/events.h"
#include "proto/target.h"

typedef struct ep_carrier ep_carrier_t;
typedef struct ep_ncirc ep_ncirc_t;

/* ---- carriers ---- */

typedef struct ep_carrier_cbs {
  /* The link is open (ep_carrier_link for its details); waiting circuits
   * are created right after this returns. May be NULL. */
  void (*open)(void *arg, ep_carrier_t *car);
  /* The link failed (ev: EP_EV_CHAN_CLOSED with status and msg). Called
   * before its circuits hear failed(EP_NCIRC_LINK); nothing after it. */
  void (*closed)(void *arg, ep_carrier_t *car, const ep_event_t *ev);
} ep_carrier_cbs_t;

/* A link to `first` (see ep_link_open; cfg may be NULL). Failures come
 * through cbs->closed, never from this call; NULL only when nothing could be
 * started (err set). cbs is copied. */
ep_carrier_t *ep_carrier_open(ep_loop_t *loop, ep_tls_ctx_t *tls, const ep_target_t *first,
                              const ep_link_cfg_t *cfg, const ep_carrier_cbs_t *cbs, void *arg,
                              ep_err_t *err);
/* Close the link and release. Circuits still on it are detached without a
 * callback (free them too). NULL-safe. */
void ep_carrier_free(ep_carrier_t *car);
/* The link (NULL once it has failed or been closed). */
ep_link_t *ep_carrier_link(ep_carrier_t *car);
bool ep_carrier_is_open(const ep_carrier_t *car);
/* New owner callbacks (cbs copied; NULL: none) for a carrier handed from one
 * owner to another (probe/net/linkpool.h); not from inside its callbacks. */
void ep_carrier_rebind(ep_carrier_t *car, const ep_carrier_cbs_t *cbs, void *arg);
/* Circuits on it: created or waiting for the link. */
size_t ep_carrier_n_circuits(const ep_carrier_t *car);

/* ---- circuits ---- */

typedef enum ep_ncirc_fail {
  EP_NCIRC_LINK = 1,        /* the link to the first hop failed */
  EP_NCIRC_DESTROYED,       /* a relay sent DESTROY (or TRUNCATED) on a built circuit */
  EP_NCIRC_EXTEND_REFUSED,  /* DESTROY/TRUNCATED while a CREATE/EXTEND was pending */
  EP_NCIRC_PROTOCOL,        /* we closed it: a relay broke the protocol */
  EP_NCIRC_TIMEOUT,         /* not built before the deadline */
  EP_NCIRC_LOCAL            /* a CREATE/EXTEND could not be sent (limit, no memory) */
} ep_ncirc_fail_t;

typedef struct ep_ncirc_failure {
  ep_ncirc_fail_t why;
  unsigned hops;            /* hops built when it failed */
  unsigned hop;             /* the hop that failed: hops + 1 while building, else hops */
  bool created;             /* a CREATE had been sent */
  uint8_t reason;           /* DESTROY reason byte (DESTROYED, EXTEND_REFUSED) */
  bool truncated;           /* RELAY_TRUNCATED rather than DESTROY */
  int status;               /* ep_status_t */
  char msg[EP_ERR_MSG_MAX]; /* one line: what and where */
  const ep_event_t *ev;     /* the event behind it (CHAN_CLOSED, CIRC_DESTROYED) or NULL */
} ep_ncirc_failure_t;

/* What happened to a stream (after it was recorded). */
typedef enum ep_srec_what {
  EP_SREC_CONNECTED = 1,
  EP_SREC_DATA,             /* ev->data/len: this cell's bytes (also when not kept) */
  EP_SREC_END,              /* the stream is gone */
  EP_SREC_DEADLINE,         /* ours passed: RELAY_END (DONE) was sent; the stream is gone */
  EP_SREC_WRITABLE,         /* a SENDME reopened a window we had filled */
  EP_SREC_RESOLVED          /* RESOLVED answered a RESOLVE (ev->data/len: its body, checked;
                               also in rec->data as far as it fits); the request is gone */
} ep_srec_what_t;

typedef struct ep_streamrec ep_streamrec_t;

typedef struct ep_ncirc_cbs {
  /* Hop `hops` answered and more are to come (may be NULL). */
  void (*hop)(void *arg, ep_ncirc_t *c, unsigned hops);
  /* Every hop is built: streams may begin. */
  void (*opened)(void *arg, ep_ncirc_t *c);
  /* Once; the circuit is gone on the relays' side (free it). */
  void (*failed)(void *arg, ep_ncirc_t *c, const ep_ncirc_failure_t *f);
  /* A stream's event; ev is the link's event (NULL for DEADLINE). */
  void (*stream)(void *arg, ep_ncirc_t *c, ep_streamrec_t *rec, ep_srec_what_t what,
                 const ep_event_t *ev);
} ep_ncirc_cbs_t;

typedef struct ep_ncirc_cfg {
  ep_create_kind_t kind;    /* 0: EP_CREATE_NTOR */
  int64_t build_timeout_ms; /* from CREATE to the last hop; 0: none */
} ep_ncirc_cfg_t;

/* A circuit through the carrier's relay, then ext[0..n_ext-1] (n_ext <
 * EP_CIRC_MAX_HOPS; copied). Created at once if the link is open, else when
 * it opens. NULL (err set) if it cannot be: the link is gone, CREATE
 * refused, no memory. Never calls back from here. cfg may be NULL. */
ep_ncirc_t *ep_ncirc_new(ep_carrier_t *car, const ep_target_t *ext, size_t n_ext,
                         const ep_ncirc_cfg_t *cfg, const ep_ncirc_cbs_t *cbs, void *arg,
                         ep_err_t *err);
/* DESTROY (if it still lives), cancel its deadlines, forget its streams
 * (their recorders keep what they had). NULL-safe. */
void ep_ncirc_free(ep_ncirc_t *c);
uint32_t ep_ncirc_id(const ep_ncirc_t *c);     /* 0 before CREATE */
/* Milliseconds from CREATE to the last hop (-1 until opened). */
int64_t ep_ncirc_build_ms(const ep_ncirc_t *c);

/* ---- streams and their recorder ---- */

typedef enum ep_srec_state {
  EP_SREC_IDLE = 0,         /* not begun */
  EP_SREC_BEGUN,            /* BEGIN sent */
  EP_SREC_OPEN,             /* CONNECTED */
  EP_SREC_CLOSED            /* ended (END, our END, deadline, circuit gone) */
} ep_srec_state_t;

struct ep_streamrec {
  ep_srec_state_t state;
  uint16_t id;              /* stream id once begun */
  int64_t begin_ms;         /* monotonic time of BEGIN */
  /* Milliseconds after BEGIN; -1 when it did not happen. */
  int64_t connected_ms, first_byte_ms, end_ms;
  bool connected;
  bool conn_has_addr;       /* CONNECTED's address and TTL */
  ep_ipaddr_t conn_addr;
  uint32_t conn_ttl;
  bool ended;               /* RELAY_END arrived */
  uint8_t end_reason;       /* raw byte (MISC for an empty body) */
  bool end_empty;
  bool end_has_addr;        /* EXITPOLICY's address and TTL (EP_TTL_ABSENT) */
  ep_ipaddr_t end_addr;
  uint32_t end_ttl;
  bool deadline_hit;        /* our deadline passed first */
  bool resolve;             /* a RESOLVE (ep_ncirc_resolve), not a stream */
  bool resolved;            /* RESOLVED arrived (its body is the DATA below) */
  /* DATA: the first data_cap bytes, in the owner's storage. */
  uint8_t *data;
  size_t data_len, data_cap;
  uint64_t data_total;      /* bytes received, kept or not */
  /* The driver's. */
  ep_ncirc_t *circ;
  ep_timer_id_t timer;
};

/* Reset a recorder; storage (cap bytes, may be NULL/0: keep no data) is
 * where DATA goes. Not while its stream is open. */
void ep_streamrec_init(ep_streamrec_t *rec, uint8_t *storage, size_t cap);

/* BEGIN host:port (host NULL: BEGIN_DIR) on an opened circuit; the
 * recorder is reset to the same storage and fills from now on. timeout_ms:
 * a deadline for the whole stream (0: none). */
int ep_ncirc_begin(ep_ncirc_t *c, ep_streamrec_t *rec, const char *host, uint16_t port,
                   int64_t timeout_ms, ep_err_t *err);
/* ep_ncirc_begin with RELAY_BEGIN flags (tor-spec §6.2: EP_BEGIN_FLAG_IPV6_OK,
 * _IPV4_NOT_OK, _IPV6_PREFERRED); 0 is plain ep_ncirc_begin. */
int ep_ncirc_begin_flags(ep_ncirc_t *c, ep_streamrec_t *rec, const char *host, uint16_t port,
                         uint32_t flags, int64_t timeout_ms, ep_err_t *err);
/* RELAY_RESOLVE host on an opened circuit (tor-spec §6.4), recorded like a
 * stream: EP_SREC_RESOLVED (rec->resolved, the body in rec->data; parse
 * it with ep_resolved_parse), EP_SREC_END (an exit that ends it instead)
 * or EP_SREC_DEADLINE after timeout_ms (0: none); end_ms is the time to the
 * answer. Nothing at the exit to close afterwards. */
int ep_ncirc_resolve(ep_ncirc_t *c, ep_streamrec_t *rec, const char *host, int64_t timeout_ms,
                     ep_err_t *err);
/* Write what the windows allow (see ep_channel_stream_write). */
int ep_ncirc_write(ep_ncirc_t *c, ep_streamrec_t *rec, const uint8_t *data, size_t n,
                   size_t *written, ep_err_t *err);
/* RELAY_END (reason) if the stream is open, and forget it. No callback. */
void ep_ncirc_end(ep_ncirc_t *c, ep_streamrec_t *rec, uint8_t reason);

#endif
