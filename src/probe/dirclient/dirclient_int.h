/* exitprobe — the directory client's insides, shared by its files (not for
 * use outside src/probe/dirclient):
 *   dirclient.c    start, finish, cancel, the synchronous fetch;
 *   dirreq.c       requests: which server next, retries, replies (through
 *                  the transport, dirtransport.h, and nothing else of it);
 *   dirconsensus.c the consensus and the certificates it needs;
 *   dirbatch.c     microdescriptors and server descriptors in batches;
 *   dirfiles.c     the same documents from files (offline);
 *   dirjoin.c      the parse, warn and join step all of them share. */
#ifndef EP_PROBE_DIRCLIENT_INT_H
#define EP_PROBE_DIRCLIENT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/buf.h"
#include "probe/dirclient/cache.h"
#include "probe/dirclient/dirclient.h"

#define DC_MAX_SERVERS 64
#define DC_MAX_MD_BATCH 256        /* digests per microdescriptor request */
#define DC_MAX_DESC_BATCH 96       /* fingerprints per descriptor request */

#define DC_CACHE_CONSENSUS "consensus-microdesc"
#define DC_CACHE_CERTS "certs"
#define DC_CACHE_MICRODESCS "microdescs"

typedef enum ep_dc_kind { K_CONSENSUS = 0, K_CERTS, K_MDS, K_DESCS } ep_dc_kind_t;

typedef struct ep_dc_req ep_dc_req_t;
struct ep_dc_req {
  ep_dirclient_t *dc;
  ep_dc_kind_t kind;
  char *path;
  size_t body_cap;
  bool tried[DC_MAX_SERVERS];
  size_t cur;              /* server of the attempt in flight (or last) */
  void *handle;            /* the transport's, while in flight */
  int64_t t0;
  uint8_t *items;          /* K_MDS: digests (32 each) asked for; K_DESCS: ids (20) */
  size_t n_items;
  ep_dc_req_t *next, *prev;
};

typedef enum ep_dc_phase { PH_CONSENSUS, PH_MDS, PH_DESCS, PH_DONE } ep_dc_phase_t;

struct ep_dirclient {
  ep_loop_t *loop;
  ep_dirclient_opts_t o;
  const ep_dir_authset_t *auths;
  const ep_dir_transport_t *tr;
  ep_dir_server_t servers[DC_MAX_SERVERS];
  size_t n_servers;
  size_t first;                     /* where rotations start */
  ep_cache_t *cache;
  ep_dirclient_cb cb;
  void *cbarg;
  ep_dc_phase_t phase;
  ep_dc_req_t *reqs;                /* started, not yet answered or failed */
  size_t n_inflight;
  bool cons_tried[DC_MAX_SERVERS];  /* across consensus attempts */
  ep_consensus_t *cand;             /* fetched, verification pending certs */
  uint8_t *cand_text;
  size_t cand_len;
  size_t cand_server;
  uint8_t *cons_text;               /* the verified consensus as fetched (for the cache) */
  size_t cons_len;
  ep_authcerts_t *certs;
  ep_buf_t certs_text;
  bool certs_dirty;
  ep_netdir_t *nd;
  size_t mds_new;                   /* joined from the network */
  uint8_t *queue;                   /* items still to ask for (width per phase) */
  size_t queue_n, queue_pos, batch_no;
  ep_err_t last_err;
  ep_timer_id_t deadline, deliver;
  bool finished;
  ep_netdir_t *result;
  ep_err_t result_err;
  ep_dirclient_stats_t st;
  int64_t t0;
};

/* dirclient.c */
time_t ep_dc_now(const ep_dirclient_t *dc);
/* End with nd (taken) or the error; the callback comes from the loop. */
void ep_dc_finish(ep_dirclient_t *dc, ep_netdir_t *nd, const ep_err_t *err);
/* ep_dc_finish with an EP_ERR_NOMEM error saying msg. */
void ep_dc_fail_nomem(ep_dirclient_t *dc, const char *msg);
/* The cache of this network under o->cache_dir (or the default); NULL,
 * with a warning, if it cannot be had. */
ep_cache_t *ep_dc_open_cache(const ep_dirclient_opts_t *o, const ep_dir_authset_t *auths);
/* The cache file name (at most cap bytes; NUL-terminated, malloc'd), or
 * NULL if it is not there or cannot be read (then a warning says why). */
uint8_t *ep_dc_cache_read(ep_dirclient_t *dc, const char *name, size_t cap, size_t *len);

/* dirreq.c */
/* A server in messages, by the port the transport uses. */
void ep_dc_describe(const ep_dirclient_t *dc, size_t i, char *out, size_t outcap);
/* A request for path (taken), not yet sent: the first attempt goes to
 * `prefer` if it is not in tried (NULL: none), then round the list. */
ep_dc_req_t *ep_dc_req_new(ep_dirclient_t *dc, ep_dc_kind_t kind, char *path, size_t body_cap,
                           const bool *tried, size_t prefer);
void ep_dc_req_free(ep_dc_req_t *q);  /* cancels an attempt in flight; NULL-safe */
/* Start the next attempt of q on a server it has not tried. */
void ep_dc_req_send(ep_dc_req_t *q);
const char *ep_dc_items_name(ep_dc_kind_t kind, size_t n);

/* dirconsensus.c */
/* The cached certificates and, if it is live and verifies, the cached
 * consensus. True if the consensus was taken. */
bool ep_dc_use_cache(ep_dirclient_t *dc);
/* Fetch a consensus from the next authority not yet tried for one. */
void ep_dc_start_consensus(ep_dirclient_t *dc);
int ep_dc_handle_consensus(ep_dc_req_t *q, ep_dir_reply_t *reply, ep_err_t *err);
/* Free the candidate, the verified consensus text and the certificates. */
void ep_dc_consensus_clear(ep_dirclient_t *dc);
int ep_dc_handle_certs(ep_dc_req_t *q, ep_dir_reply_t *reply, ep_err_t *err);

/* dirbatch.c */
/* A verified consensus (taken): join the cache's microdescriptors, fetch
 * the missing ones (and the descriptors), then finish. */
void ep_dc_have_consensus(ep_dirclient_t *dc, ep_consensus_t *c);
/* Keep up to `parallel` batch requests in flight; move on when all are in. */
void ep_dc_pump(ep_dirclient_t *dc);
int ep_dc_handle_batch(ep_dc_req_t *q, ep_dir_reply_t *reply, ep_err_t *err);

#endif
