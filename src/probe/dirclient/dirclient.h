/* exitprobe — getting a verified directory: fetch, verify, cache.
 *
 * The steps (dir-spec §4 and §5, as a client does them):
 *   1. the microdesc consensus: from the cache if it is still live and
 *      verifies, else from the authorities (/tor/status-vote/current/
 *      consensus-microdesc), trying the next one when one fails, times out
 *      or serves something that does not parse or verify;
 *   2. the authority key certificates it needs (/tor/keys/fp/<v3ident>+...),
 *      also cached; then the consensus is verified: validity times (see
 *      ep_dir_timecheck_t) and good signatures from more than half of the
 *      known authorities (dir/verify.h);
 *   3. the microdescriptors still missing (/tor/micro/d/<d1>-<d2>-...) in
 *      batches, a few at once; each is joined only if its digest is the one
 *      its consensus entry names (probe/netdir.h);
 *   4. optionally (full_policies) the server descriptors of the relays that
 *      accept any port (/tor/server/fp/<fp>+...), verified and joined.
 * The result is an ep_netdir_t.
 *
 * Transport. Every request goes through an ep_dir_transport_t
 * (probe/dirclient/dirtransport.h): "fetch this path from that server, call
 * me back with the reply or an error". The DirPort one (plain HTTP/1.0,
 * Accept-Encoding: deflate, bounded streaming inflation) is built in; the
 * BEGIN_DIR-over-a-circuit one (dirvia.h) is plugged in with the same
 * interface. Both parse responses with probe/http.h's ep_http_resp_t and
 * turn them into a reply with ep_dir_reply_from_http.
 *
 * Documents fetched and documents read from files or the cache go through
 * the same parse, warn and join step (probe/dirclient/dirjoin.h).
 *
 * Progress goes to the log (lib/log.h): notices for each document fetched
 * ("fetched consensus-microdesc from auth1 127.0.0.1:7001 (38 KB deflated
 * -> 121 KB) in 12 ms"), warnings for each failure and what is tried next.
 *
 * The on-disk cache (probe/cache.h) lives in a subdirectory per network:
 * "net-" and 16 hex digits of a hash of the authorities' v3 identities. It
 * holds "consensus-microdesc", "certs" and "microdescs"; everything read
 * from it is parsed and verified again. */
#ifndef EP_PROBE_DIRCLIENT_H
#define EP_PROBE_DIRCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "dir/authcert.h"
#include "dir/authority.h"
#include "dir/consensus.h"
#include "dir/verify.h"
#include "lib/err.h"
#include "probe/dirclient/dirtransport.h"
#include "probe/dirclient/http.h"
#include "probe/net/loop.h"
#include "probe/dirclient/netdir.h"

/* Servers, replies and transports: probe/dirclient/dirtransport.h. */

/* ---- verification ---- */

typedef enum ep_dir_timecheck {
  /* A consensus to use now: valid-after - skew <= now <= valid-until + skew. */
  EP_DIR_TIME_LIVE = 0,
  /* Offline analysis of a document at a given time (--at): tor's "reasonably
   * live": up to 24 hours past valid-until. */
  EP_DIR_TIME_REASONABLY_LIVE = 1
} ep_dir_timecheck_t;

#define EP_DIR_REASONABLY_LIVE_S (24 * 3600)
#define EP_DIR_DEFAULT_SKEW_S 300

/* Times, then signatures (certificates checked at `now` within skew).
 * Errors name the document and, for signatures, the line. rep may be NULL. */
int ep_dirclient_verify_consensus(const ep_consensus_t *c, const ep_dir_authset_t *auths,
                                  const ep_authcerts_t *certs, time_t now, int64_t skew,
                                  ep_dir_timecheck_t tc, ep_sigreport_t *rep, ep_err_t *err);

/* The cache subdirectory name of a network: "net-" + 16 hex digits of
 * SHA-256 over its v3 identities, sorted (out >= 24 bytes). */
void ep_dirclient_network_key(const ep_dir_authset_t *auths, char *out, size_t outcap);

/* ---- the client ---- */

typedef struct ep_dirclient_opts {
  const ep_dir_authset_t *auths;        /* NULL: the public network's, built in */
  const ep_dir_transport_t *transport;  /* NULL: DirPort HTTP */
  const char *cache_dir;                /* NULL: the default (probe/cache.h) */
  bool no_cache;                        /* neither read nor write the cache */
  int64_t skew_s;                       /* clock skew allowed (default 300) */
  int64_t request_timeout_ms;           /* one request (default 30 s) */
  int64_t timeout_ms;                   /* everything (default 300 s) */
  size_t md_batch;                      /* digests per request, <= 256 (default 256;
                                           fewer when the path would not fit) */
  unsigned parallel;                    /* requests in flight for microdescs (default 3) */
  bool full_policies;                   /* also fetch server descriptors */
  time_t now;                           /* 0: the wall clock (tests fix it) */
  bool in_order;                        /* try servers in the order given, not from a
                                           random one (tests) */
} ep_dirclient_opts_t;

void ep_dirclient_opts_default(ep_dirclient_opts_t *o);

/* The DirAuthority file to use: `given` (--dir-authorities) when not NULL,
 * else $EXITPROBE_DIR_AUTHORITIES when set and not empty (a private or test
 * network for every command of a shell), else NULL: the public network's
 * authorities, built in. */
const char *ep_dirclient_authorities_path(const char *given);

typedef struct ep_dirclient_stats {
  char consensus_from[64];   /* "cache", "file", or the server ("auth1 127.0.0.1:7001") */
  bool certs_from_cache;
  size_t n_requests, n_failed;
  uint64_t wire_bytes, body_bytes;
  size_t sigs_good, sigs_needed, auths_known;
  size_t certs_fetched;      /* certificates that came over the network */
  size_t md_from_cache, md_fetched, md_missing;
  size_t descs_used, descs_rejected;
  int64_t ms_total;          /* start to verified netdir */
  int64_t ms_verify;         /* parsing and verifying (CPU), all documents */
} ep_dirclient_stats_t;

typedef struct ep_dirclient ep_dirclient_t;

/* Called once with a netdir (the callee owns it; err NULL) or NULL and the
 * reason. The client frees itself after the callback returns: do not
 * cancel it from there. */
typedef void (*ep_dirclient_cb)(void *arg, ep_netdir_t *nd, const ep_dirclient_stats_t *st,
                                const ep_err_t *err);

/* Start on loop; NULL (err set) if it could not start. opts is copied (the
 * authset it points to must outlive the client). */
ep_dirclient_t *ep_dirclient_start(ep_loop_t *loop, const ep_dirclient_opts_t *o,
                                   ep_dirclient_cb cb, void *arg, ep_err_t *err);
/* Abandon (no callback). NULL-safe. */
void ep_dirclient_cancel(ep_dirclient_t *dc);

/* Start and run the loop until done: the netdir, or NULL with err. st may
 * be NULL. EP_ERR_STATE in err->code if the loop was stopped (a signal). */
ep_netdir_t *ep_dirclient_fetch(ep_loop_t *loop, const ep_dirclient_opts_t *o,
                                ep_dirclient_stats_t *st, ep_err_t *err);

/* ---- offline: documents from files, no network ---- */

/* At most this many --microdescs and --descs files each. */
#define EP_DIRCLIENT_MAX_FILES 16u

typedef struct ep_dirclient_files {
  const char *consensus;    /* either flavour; zlib-compressed is fine */
  const char *const *microdescs;  /* n_microdescs files; none: only the consensus's view */
  size_t n_microdescs;
  const char *certs;        /* NULL: the cache's certificates for this network */
  const char *const *descs; /* n_descs server descriptor files */
  size_t n_descs;
  bool has_at;
  time_t at;                /* check times at `at` (reasonably live) instead of now (live) */
} ep_dirclient_files_t;

/* A tor DataDirectory's cached documents as files (tor's names): the
 * consensus cached-microdesc-consensus, else cached-consensus; cached-certs;
 * cached-microdescs and cached-microdescs.new; cached-descriptors and
 * cached-descriptors.new (those present). The paths are owned by dd (free
 * with ep_dirclient_datadir_free); f's document fields point into it (has_at
 * and at are left alone). EP_ERR_IO naming the directory if it holds no
 * consensus, or EP_ERR_LIMIT if a path is longer than EP_CAP_PATH. */
typedef struct ep_dirclient_datadir {
  char *paths[7];
  size_t n;
  const char *md[2], *descs[2];
} ep_dirclient_datadir_t;

int ep_dirclient_datadir_files(const char *dir, ep_dirclient_datadir_t *dd, ep_dirclient_files_t *f,
                               ep_err_t *err);
void ep_dirclient_datadir_free(ep_dirclient_datadir_t *dd);

/* Read, parse, verify (certificates, consensus, microdescriptor digests),
 * join. Uses o->auths, skew_s, cache_dir/no_cache (for certificates only)
 * and now. */
ep_netdir_t *ep_dirclient_load_files(const ep_dirclient_files_t *f, const ep_dirclient_opts_t *o,
                                     ep_dirclient_stats_t *st, ep_err_t *err);

#endif
