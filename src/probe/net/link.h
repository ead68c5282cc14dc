/* exitprobe — a Tor link driven by the event loop: TCP connect, TLS, and the
 * sans-I/O channel of src/proto (CERTS verified against the relay we asked
 * for), with a deadline for each stage. Its owner gets every channel event
 * (proto/events.h) through one callback; a link that fails for any reason —
 * refused, TLS error, identity mismatch, handshake timeout, the peer closing —
 * reports one EP_EV_CHAN_CLOSED with the reason, and nothing after it.
 *
 * The owner creates circuits and streams with the ep_channel_* calls on
 * ep_link_channel(link); the link writes every cell queued during a turn of
 * the loop at its end, in one TLS write (the channel tells it of each cell).
 * ep_link_close may be called from inside the callback; the link is freed on
 * a later turn of the loop.
 *
 * Copies: TLS decrypts straight into the channel's input buffer, where cells
 * are decoded and relay cells decrypted in place; an EP_EV_STREAM_DATA's
 * data points there, valid until the callback returns. */
#ifndef EP_PROBE_LINK_H
#define EP_PROBE_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"
#include "probe/net/loop.h"
#include "probe/net/tls.h"
#include "proto/channel.h"
#include "proto/events.h"
#include "proto/target.h"

typedef struct ep_link ep_link_t;

typedef enum ep_link_stage {
  EP_LINK_CONNECTING = 0,   /* TCP */
  EP_LINK_TLS,              /* TLS handshake */
  EP_LINK_HANDSHAKE,        /* VERSIONS, CERTS, NETINFO */
  EP_LINK_OPEN,
  EP_LINK_CLOSED
} ep_link_stage_t;

typedef struct ep_link_cfg {
  int64_t connect_timeout_ms;    /* TCP connect (default 10 s) */
  int64_t handshake_timeout_ms;  /* TLS + link handshake (default 15 s) */
  ep_cell_trace_fn trace;        /* optional per-cell trace */
  void *trace_arg;
} ep_link_cfg_t;

typedef void (*ep_link_event_cb)(void *arg, ep_link_t *link, const ep_event_t *ev);

/* Start a link to `peer` (its IPv4 address and ORPort, RSA id, and Ed25519
 * id when known). Failures are reported through cb, never from this call;
 * NULL only when nothing could be started (err set). cfg may be NULL. */
ep_link_t *ep_link_open(ep_loop_t *loop, ep_tls_ctx_t *tls, const ep_target_t *peer,
                        const ep_link_cfg_t *cfg, ep_link_event_cb cb, void *arg, ep_err_t *err);
/* Close at once (no further callbacks) and free on a later turn. NULL-safe. */
void ep_link_close(ep_link_t *link);
/* The channel, for circuits and streams (NULL before the TLS handshake). */
ep_channel_t *ep_link_channel(ep_link_t *link);
/* Not needed any more (the link schedules its own flush when a cell is
 * queued); kept for older callers: harmless, a no-op when nothing is queued
 * or the flush is already due. NULL-safe. */
void ep_link_flush(ep_link_t *link);
ep_link_stage_t ep_link_stage(const ep_link_t *link);
/* What a link in `stage` waits for: "TCP connection", "TLS handshake",
 * "link handshake (VERSIONS/CERTS/NETINFO)" (open or closed: ""). */
const char *ep_link_stage_wait_name(ep_link_stage_t stage);
const char *ep_link_peer_name(const ep_link_t *link);   /* "127.0.0.1:16004" */
/* TLS version and cipher once TLS is up ("" before). */
const char *ep_link_tls_version(const ep_link_t *link);
/* Milliseconds from open to EP_EV_CHAN_OPEN (-1 if not open yet). */
int64_t ep_link_open_ms(const ep_link_t *link);

#endif
