/* exitprobe — what a scan needs from the directory: the candidate exits for
 * the ports and the first hops, as engine values (ep_scan_relay_t), from a
 * verified netdir. Filters (--exit, --first-hop, --include-badexit) apply
 * here. */
#ifndef EP_PROBE_SCANDIR_H
#define EP_PROBE_SCANDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "probe/net/loop.h"
#include "probe/dirclient/netdir.h"
#include "dir/dosparams.h"
#include "probe/engine/scan.h"
#include "probe/net/tls.h"

typedef struct ep_scandir_opts {
  const char *dir_authorities;   /* torrc DirAuthority lines; NULL: built in */
  const char *cache_dir;
  bool no_cache;
  bool include_badexit;
  bool summary_only;
  bool dir_via_orport;           /* fetch over BEGIN_DIR to the authorities' ORPorts */
  ep_tls_ctx_t *tls;             /* for dir_via_orport */             /* do not fetch server descriptors (full policies) */
  const char *const *given_exits;   /* fingerprints (explicit specs are not looked up) */
  size_t n_given_exits;
  const char *const *given_hops;
  size_t n_given_hops;
  const uint16_t *ports;
  size_t n_ports;
  int family;                    /* 4 (also 0) or 6: which exit policy selects (p / p6) */
  const char *tor_data_dir;      /* read a tor DataDirectory's cached documents instead of
                                    fetching (verified the same way); NULL: fetch */
} ep_scandir_opts_t;

typedef struct ep_scandir ep_scandir_t;

void ep_scandir_opts_defaults(ep_scandir_opts_t *o);
/* --dir-via's choices: index 0 "dirport", 1 "orport" (dir_via_orport). */
extern const char *const ep_scandir_dir_via_choices[];
/* Fetch and verify the directory (dirclient); no selection. */
ep_netdir_t *ep_scandir_fetch(ep_loop_t *loop, const ep_scandir_opts_t *o, ep_err_t *err);
/* A relay by fingerprint (as ep_netdir_find) or by nickname (any case; it
 * must name exactly one relay of the consensus). NULL with err otherwise. */
const ep_relay_t *ep_scandir_lookup(const ep_netdir_t *nd, const char *name, ep_err_t *err);
/* The first hop a scan would use for exit (NULL: any exit): the highest-
 * bandwidth Guard/Fast/Stable relay outside its family and /16 (the /16 is
 * allowed on a test network). NULL with err if there is none. */
const ep_relay_t *ep_scandir_pick_first_hop(const ep_netdir_t *nd, const ep_relay_t *exit,
                                            ep_err_t *err);
/* Fetch and verify the directory (dirclient), then select. */
ep_scandir_t *ep_scandir_load(ep_loop_t *loop, const ep_scandir_opts_t *o, ep_err_t *err);
/* Select from a netdir (taken over: freed with the scandir). */
ep_scandir_t *ep_scandir_from_netdir(ep_netdir_t *nd, const ep_scandir_opts_t *o, ep_err_t *err);
void ep_scandir_free(ep_scandir_t *sd);
/* The arrays stay owned by sd. */
void ep_scandir_relays(ep_scandir_t *sd, ep_scan_relay_t **exits, size_t *n_exits,
                       ep_scan_relay_t **hops, size_t *n_hops);
/* Replace the first hops by caller-made ones (malloc'd; sd frees them). */
void ep_scandir_own_hops(ep_scandir_t *sd, ep_scan_relay_t *hops, size_t n_hops);
/* Every relay on one /16 (a local test network). */
bool ep_scandir_is_test_network(const ep_scandir_t *sd);
/* The engine's `related` callback: same family or same /16 per netdir. */
bool ep_scandir_related(const ep_scan_relay_t *exit, const ep_scan_relay_t *hop, void *arg);
/* The engine's `full_policy` callback: the exit's verified server
 * descriptor's policy (0 when there is none). */
int ep_scandir_full_policy(const ep_scan_relay_t *exit, const ep_ipaddr_t *addr, uint16_t port,
                           void *arg);
const ep_netdir_t *ep_scandir_netdir(const ep_scandir_t *sd);

/* The relays' DoS parameters from the consensus (issue #13; defaults if absent). */
void ep_scandir_dos_params(const ep_scandir_t *sd, ep_dos_params_t *p);

#endif
