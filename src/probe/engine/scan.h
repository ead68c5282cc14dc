/* exitprobe — the scan engine: for every candidate exit, a 2-hop circuit
 * through a first hop, one stream per port on it, control streams on the
 * same circuit (BEGIN_DIR, and a port the exit allows), a retry of every
 * failure through a different first hop, and one result record per
 * (exit, port). Bounded concurrency; a deadline for every stage; nothing it
 * has measured is lost when it is interrupted (ep_loop_stop / SIGINT).
 *
 * The engine knows relays as ep_scan_relay_t values, filled by its caller
 * from whatever directory it has (src/probe/netdir). */
#ifndef EP_PROBE_SCAN_H
#define EP_PROBE_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/err.h"
#include "probe/engine/cbt.h"
#include "probe/engine/classify.h"
#include "probe/engine/hops.h"
#include "probe/net/circ.h"
#include "probe/net/linkpool.h"
#include "probe/net/loop.h"
#include "probe/engine/result.h"
#include "probe/engine/records.h"   /* EP_SCAN_MAX_PORTS, ep_scan_summary_t and its printing */
#include "probe/net/tls.h"
#include "proto/events.h"
#include "proto/target.h"

typedef struct ep_scan_relay {
  ep_target_t target;
  ep_relay_ref_t ref;            /* fingerprint, nickname, address, ORPort */
  const char *policy_basis;      /* static string: "summary", "full", ... */
  bool may_be_restricted;        /* the summary may hide an address restriction */
  uint16_t control_port;         /* a port its policy accepts that is not probed; 0: none */
  uint32_t ports_mask;           /* bit i: probe cfg->ports[i]; 0: every port */
  const void *handle;            /* the caller's own relay object (for cfg->related) */
  const ep_relay_contact_t *contact;  /* its contact info (caller-owned, outlives the scan); NULL: unknown */
  uint32_t bandwidth;            /* consensus "w Bandwidth=": a first hop's weight (0: 1) */
} ep_scan_relay_t;

typedef struct ep_scan_cfg {
  uint16_t ports[EP_SCAN_MAX_PORTS];
  size_t n_ports;
  const char *target_host;       /* where the exit connects (default "127.0.0.1") */
  unsigned round;                /* written in each record */
  unsigned concurrency;          /* exits in flight (default 64) */
  int64_t link_timeout_ms;       /* TCP + TLS + link handshake (default 15 s) */
  int64_t circuit_timeout_ms;    /* CREATE2 + EXTEND2 (default 20 s) */
  int64_t stream_timeout_ms;     /* BEGIN to answer, and to the greeting (default 10 s) */
  int64_t deadline_ms;           /* absolute monotonic deadline of the whole scan; 0 none */
  bool no_retry;                 /* do not retry failures through another first hop */
  int64_t retry_after_ms;        /* a port unanswered this long on the main circuit is also
                                  * tried through another first hop (0: half the stream timeout) */
  bool no_control;               /* no control streams */
  bool allow_same_16;            /* first hop may share the exit's /16 (test networks) */
  unsigned first_hop_tries;      /* first hops to try before circuit-failed (default 3) */
  FILE *out;                     /* JSON Lines records (NULL: none) */
  FILE *csv;                     /* the same as CSV rows (scan --csv; NULL: none) */
  FILE *progress;                /* progress lines (NULL: none) */
  bool progress_tty;             /* rewrite one line with \r */
  /* Optional: true if `hop` must not be the first hop for `exit` (same
   * family, same /16...). Identity and /16 are checked by the engine. */
  bool (*related)(const ep_scan_relay_t *exit, const ep_scan_relay_t *hop, void *arg);
  void *related_arg;
  /* Optional: the exit's full exit policy on addr:port (addr NULL: the
   * target, unresolved): 1 accepts, -1 rejects, 0 unknown. Asked when an
   * exit answers END EXITPOLICY, with the address it named. */
  int (*full_policy)(const ep_scan_relay_t *exit, const ep_ipaddr_t *addr, uint16_t port,
                     void *arg);
  void *full_policy_arg;
  ep_cell_trace_fn trace;        /* optional per-cell trace for every link */
  void *trace_arg;
  /* Services (#11). The check on ports[i] is services[i] when bit i of
   * services_given is set, else ep_svc_for_port(ports[i]). */
  ep_svc_spec_t services[EP_SCAN_MAX_PORTS];
  uint32_t services_given;
  /* Where ports[i]'s stream goes: port_targets[i], or target_host when NULL
   * (--target). confirm_targets[i] (NULL: none): the second default target,
   * tried on the same circuit when the first one's stream failed. */
  const char *port_targets[EP_SCAN_MAX_PORTS];
  const char *confirm_targets[EP_SCAN_MAX_PORTS];
  int64_t tcp_window_ms;         /* service "tcp": bytes after CONNECTED (default 2 s) */
  /* public network (#13) */
  const char *vantage;           /* stamped in every record (NULL: null) */
  uint8_t ip_version;            /* recorded: 4 (also 0) or 6 */
  uint32_t begin_flags;          /* RELAY_BEGIN flags (6: IPv6 asked for); 0 none */
  /* First hops and build timeouts (issue #13; engine/hops.h, engine/cbt.h). */
  ep_hop_pacing_t hop_pacing;    /* CREATE2 pacing per hop (default: public DoS params halved) */
  ep_hophist_t *hop_history;     /* optional: earlier rounds' failures; updated after the round */
  ep_cbt_t *cbt;                 /* optional: build times across rounds (NULL: this round's) */
  uint64_t hop_seed;             /* first-hop choice seed (0: from the clock) */
  FILE *hop_report;              /* optional: circuits per first hop, one line per hop */
  /* DNS health (#14): RESOLVE the round's target names on each exit's circuit (and one name
   * unique to the exit under dns_probe_domain, a wildcard zone); a probe whose name fails to
   * resolve is probed again on the same circuit by the address other exits gave. */
  bool no_dns_check;             /* none of it */
  const char *dns_probe_domain;  /* NULL: no unique name */
  ep_linkpool_t *links;          /* optional: first hops' links kept from round to round */
  ep_svc_sessions_t *tls_sessions; /* optional: TLS checks resume sessions (svc.h); NULL: full */
} ep_scan_cfg_t;

void ep_scan_cfg_defaults(ep_scan_cfg_t *cfg);
/* The service checked on cfg->ports[i] (see services_given). */
ep_svc_spec_t ep_scan_port_service(const ep_scan_cfg_t *cfg, size_t i);
/* Where cfg->ports[i]'s stream goes first. */
const char *ep_scan_port_target(const ep_scan_cfg_t *cfg, size_t i);
/* Run one round. Returns EP_OK (also when interrupted: see sum->interrupted)
 * or an error that prevented the scan (no first hops, ...). */
int ep_scan_run(ep_loop_t *loop, ep_tls_ctx_t *tls, const ep_scan_relay_t *exits, size_t n_exits,
                const ep_scan_relay_t *first_hops, size_t n_first_hops, const ep_scan_cfg_t *cfg,
                ep_scan_summary_t *sum, ep_err_t *err);
/* Sends what the check has to say on an open stream, as far as the
 * windows allow (call again on EP_SREC_WRITABLE and after each input). */
int ep_scan_svc_send(ep_ncirc_t *c, ep_streamrec_t *rec, ep_svc_t *sv, ep_err_t *err);
/* A stream recorder's findings as the classifier reads them (data in place);
 * the failure flags and expect_greeting are left as they are. */
void ep_scan_outcome_from_rec(const ep_streamrec_t *rec, ep_stream_outcome_t *o);
/* A probe stream has its answer: CONNECTED when the service does not speak
 * first, else a complete greeting. */
bool ep_scan_stream_answered(const ep_streamrec_t *rec, bool expect_greeting);

#endif
