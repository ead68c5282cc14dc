/* exitprobe — getting a verified directory (see dirclient.h). */
#include "config.h"

#include "probe/dirclient/dirclient.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dir/microdesc.h"
#include "dir/routerdesc.h"
#include "lib/buf.h"
#include "lib/caps.h"
#include "lib/crypto.h"
#include "lib/encode.h"
#include "lib/escape.h"
#include "lib/log.h"
#include "lib/timeutil.h"
#include "probe/dirclient/cache.h"
#include "probe/dirclient/inflate.h"

#define DC_MAX_SERVERS 64
#define DC_MAX_MD_BATCH 256        /* digests per microdescriptor request */
#define DC_MAX_DESC_BATCH 96       /* fingerprints per descriptor request */
/* probe/http.c builds the request in a 4096-byte buffer: "GET <path>
 * HTTP/1.0", Host (an address up to 47 bytes) and Accept-Encoding take
 * about 110 of them. */
#define DC_DIRPORT_MAX_PATH 3900

#define CACHE_CONSENSUS "consensus-microdesc"
#define CACHE_CERTS "certs"
#define CACHE_MICRODESCS "microdescs"

/* ---------------------------------------------------------------------- */
/* replies and the DirPort transport */

void ep_dir_server_describe(const ep_dir_server_t *s, char *out, size_t outcap) {
  uint32_t a = s->ipv4;
  snprintf(out, outcap, "%s%s%u.%u.%u.%u:%u", s->name, s->name[0] != '\0' ? " " : "",
           (unsigned)(a >> 24), (unsigned)((a >> 16) & 0xff), (unsigned)((a >> 8) & 0xff),
           (unsigned)(a & 0xff), (unsigned)s->dir_port);
}

int ep_dir_reply_from_http(ep_http_resp_t *resp, ep_dir_reply_t *out, ep_err_t *err) {
  memset(out, 0, sizeof *out);
  out->status = ep_http_resp_status(resp);
  const char *reason = ep_http_resp_reason(resp);
  ep_escape_text(out->reason, sizeof out->reason, reason, strlen(reason));
  out->enc = ep_http_resp_encoding(resp);
  out->wire_len = ep_http_resp_wire_body_len(resp);
  out->body = ep_http_resp_take_body(resp, &out->body_len, err);
  return out->body != NULL ? EP_OK : (err != NULL ? err->code : EP_ERR_NOMEM);
}

void ep_dir_reply_clear(ep_dir_reply_t *r) {
  if (r != NULL) {
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
  }
}

typedef struct dirport_req {
  ep_http_fetch_t *fetch;
  ep_dir_reply_cb cb;
  void *arg;
} dirport_req_t;

void ep_dir_reply_deliver(ep_dir_reply_cb cb, void *arg, int rc, ep_http_resp_t *resp,
                          const ep_err_t *err) {
  if (rc != EP_OK) {
    cb(arg, rc, NULL, err);
    return;
  }
  ep_dir_reply_t reply;
  ep_err_t e = {0};
  if (ep_dir_reply_from_http(resp, &reply, &e) != EP_OK) {
    cb(arg, e.code, NULL, &e);
    return;
  }
  cb(arg, EP_OK, &reply, NULL);
  ep_dir_reply_clear(&reply);
}

static void dirport_done(void *arg, int rc, ep_http_resp_t *resp, const ep_err_t *err) {
  dirport_req_t *q = arg;
  ep_dir_reply_cb cb = q->cb;
  void *cbarg = q->arg;
  free(q);
  ep_dir_reply_deliver(cb, cbarg, rc, resp, err);
}

static void *dirport_start(void *self, ep_loop_t *loop, const ep_dir_server_t *srv,
                           const char *path, const ep_http_limits_t *lim, ep_dir_reply_cb cb,
                           void *arg, ep_err_t *err) {
  (void)self;
  if (srv->dir_port == 0) {
    ep_err_set(err, EP_ERR_UNSUPPORTED, "it has no DirPort");
    return NULL;
  }
  char ip[16];
  uint32_t a = srv->ipv4;
  snprintf(ip, sizeof ip, "%u.%u.%u.%u", (unsigned)(a >> 24), (unsigned)((a >> 16) & 0xff),
           (unsigned)((a >> 8) & 0xff), (unsigned)(a & 0xff));
  dirport_req_t *q = calloc(1, sizeof *q);
  if (q == NULL) {
    ep_err_set(err, EP_ERR_NOMEM, "out of memory");
    return NULL;
  }
  q->cb = cb;
  q->arg = arg;
  q->fetch = ep_http_fetch(loop, ip, srv->dir_port, path, lim, dirport_done, q, err);
  if (q->fetch == NULL) {
    free(q);
    return NULL;
  }
  return q;
}

static void dirport_cancel(void *self, void *handle) {
  (void)self;
  dirport_req_t *q = handle;
  if (q != NULL) {
    ep_http_fetch_cancel(q->fetch);
    free(q);
  }
}

static const ep_dir_transport_t dirport_transport = {
    "dirport", DC_DIRPORT_MAX_PATH, dirport_start, dirport_cancel, NULL};

const ep_dir_transport_t *ep_dir_transport_dirport(void) { return &dirport_transport; }

/* ---------------------------------------------------------------------- */
/* verification, network key, small helpers */

int ep_dirclient_verify_consensus(const ep_consensus_t *c, const ep_dir_authset_t *auths,
                                  const ep_authcerts_t *certs, time_t now, int64_t skew,
                                  ep_dir_timecheck_t tc, ep_sigreport_t *rep, ep_err_t *err) {
  if (tc == EP_DIR_TIME_LIVE) {
    int rc = ep_consensus_check_time(c, now, skew, err);
    if (rc != EP_OK) {
      return rc;
    }
  } else {
    char t[24], n[24];
    ep_time_format_tor(n, sizeof n, now);
    if ((int64_t)now + skew < (int64_t)ep_consensus_valid_after(c)) {
      ep_time_format_tor(t, sizeof t, ep_consensus_valid_after(c));
      return ep_err_set(err, EP_ERR_EXPIRED, "%s: not valid before %s (at %s)",
                        ep_consensus_doc_name(c), t, n);
    }
    if ((int64_t)now > (int64_t)ep_consensus_valid_until(c) + EP_DIR_REASONABLY_LIVE_S) {
      ep_time_format_tor(t, sizeof t, ep_consensus_valid_until(c));
      return ep_err_set(err, EP_ERR_EXPIRED,
                        "%s: valid until %s, more than 24 h before %s: not even reasonably live",
                        ep_consensus_doc_name(c), t, n);
    }
  }
  return ep_consensus_verify_signatures(c, auths, certs, now, skew, rep, err);
}

static int id_cmp(const void *a, const void *b) { return memcmp(a, b, 20); }

void ep_dirclient_network_key(const ep_dir_authset_t *auths, char *out, size_t outcap) {
  uint8_t ids[DC_MAX_SERVERS][20];
  size_t n = 0;
  for (size_t i = 0; i < auths->n_auth && n < DC_MAX_SERVERS; i++) {
    const ep_dir_authority_t *a = &auths->auth[i];
    if (a->has_v3ident && !a->bridge) {
      memcpy(ids[n++], a->v3ident, 20);
    }
  }
  qsort(ids, n, 20, id_cmp);
  uint8_t d[EP_SHA256_LEN];
  ep_sha256(d, ids, n * 20);
  char hex[17];
  ep_hex_encode(hex, sizeof hex, d, 8, false);
  snprintf(out, outcap, "net-%s", hex);
}

static void size_format(char *out, size_t outcap, uint64_t n) {
  if (n < 10 * 1024) {
    snprintf(out, outcap, "%llu bytes", (unsigned long long)n);
  } else if (n < 10 * 1024 * 1024) {
    snprintf(out, outcap, "%llu KB", (unsigned long long)((n + 512) / 1024));
  } else {
    snprintf(out, outcap, "%.1f MB", (double)n / (1024.0 * 1024.0));
  }
}

static size_t servers_from_authset(const ep_dir_authset_t *a, ep_dir_server_t *out, size_t cap) {
  size_t n = 0;
  for (size_t i = 0; i < a->n_auth && n < cap; i++) {
    const ep_dir_authority_t *x = &a->auth[i];
    if (x->bridge || !x->has_v3ident) {
      continue;
    }
    ep_dir_server_t *s = &out[n++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", x->nickname);
    s->ipv4 = x->ipv4;
    s->dir_port = x->dir_port;
    s->or_port = x->or_port;
    memcpy(s->rsa_id, x->fingerprint, 20);
    s->has_v3ident = true;
    memcpy(s->v3ident, x->v3ident, 20);
  }
  return n;
}

/* Read a whole file, at most cap bytes; zlib/gzip data is inflated. */
static int read_doc_file(const char *path, size_t cap, uint8_t **out, size_t *len, ep_err_t *err) {
  *out = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    int e = errno;
    return ep_err_set(err, EP_ERR_IO, "%s: cannot open: %s", path, strerror(e));
  }
  ep_buf_t b;
  ep_buf_init(&b, cap, path, 0);
  int rc = EP_OK;
  for (;;) {
    uint8_t *p = ep_buf_space(&b, 65536 < cap ? 65536 : cap, NULL);
    if (p == NULL) {
      /* Near the cap: read what is left of it, then one byte more. */
      size_t left = b.cap - b.len;
      p = left > 0 ? ep_buf_space(&b, left, NULL) : NULL;
      if (p == NULL) {
        uint8_t extra;
        if (fread(&extra, 1, 1, f) == 1) {
          rc = ep_err_set(err, EP_ERR_LIMIT, "%s: larger than %zu bytes", path, cap);
        }
        break;
      }
      size_t got = fread(p, 1, left, f);
      ep_buf_commit(&b, got);
      if (got < left) {
        break;
      }
      continue;
    }
    size_t want = 65536 < cap ? 65536 : cap;
    size_t got = fread(p, 1, want, f);
    ep_buf_commit(&b, got);
    if (got < want) {
      break;
    }
  }
  if (rc == EP_OK && ferror(f)) {
    int e = errno;
    rc = ep_err_set(err, EP_ERR_IO, "%s: read error: %s", path, strerror(e));
  }
  fclose(f);
  if (rc != EP_OK) {
    ep_buf_free(&b);
    return rc;
  }
  bool zlib = b.len >= 2 && b.data[0] == 0x78 && ((b.data[0] << 8) | b.data[1]) % 31 == 0;
  bool gzip = b.len >= 2 && b.data[0] == 0x1f && b.data[1] == 0x8b;
  if (zlib || gzip) {
    ep_err_t e = {0};
    rc = ep_inflate_all(b.data, b.len, cap, out, len, &e);
    ep_buf_free(&b);
    if (rc != EP_OK) {
      return ep_err_set(err, rc, "%s: %s", path, e.msg);
    }
    return EP_OK;
  }
  if (ep_buf_nul_terminate(&b, err) != EP_OK) {
    ep_buf_free(&b);
    return EP_ERR_NOMEM;
  }
  *out = ep_buf_steal(&b, len);
  return EP_OK;
}

/* ---------------------------------------------------------------------- */
/* the client */

typedef enum kind { K_CONSENSUS = 0, K_CERTS, K_MDS, K_DESCS } kind_t;

static const char *const kind_doc[] = {"consensus-microdesc", "certificates", "microdescriptors",
                                       "server descriptors"};

static const char *items_name(kind_t kind, size_t n) {
  if (kind == K_MDS) {
    return n == 1 ? "microdescriptor" : "microdescriptors";
  }
  return n == 1 ? "server descriptor" : "server descriptors";
}

typedef struct dreq dreq_t;
struct dreq {
  ep_dirclient_t *dc;
  kind_t kind;
  char *path;
  size_t body_cap;
  bool tried[DC_MAX_SERVERS];
  size_t cur;              /* server of the attempt in flight (or last) */
  void *handle;            /* the transport's, while in flight */
  int64_t t0;
  uint8_t *items;          /* K_MDS: digests (32 each) asked for; K_DESCS: ids (20) */
  size_t n_items;
  dreq_t *next, *prev;
};

typedef enum phase { PH_CONSENSUS, PH_MDS, PH_DESCS, PH_DONE } phase_t;

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
  phase_t phase;
  dreq_t *reqs;                     /* started, not yet answered or failed */
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

/* A server in messages: by the port the transport uses. */
static void describe(const ep_dirclient_t *dc, size_t i, char *out, size_t outcap) {
  ep_dir_server_t s = dc->servers[i];
  if (strcmp(dc->tr->name, "orport") == 0) {
    s.dir_port = s.or_port;
  }
  ep_dir_server_describe(&s, out, outcap);
}

static time_t dc_now(const ep_dirclient_t *dc) {
  return dc->o.now != 0 ? dc->o.now : ep_wall_now();
}

void ep_dirclient_opts_default(ep_dirclient_opts_t *o) {
  memset(o, 0, sizeof *o);
  o->skew_s = EP_DIR_DEFAULT_SKEW_S;
  o->request_timeout_ms = 30000;
  o->timeout_ms = 300000;
  o->md_batch = DC_MAX_MD_BATCH;
  o->parallel = 3;
}

static void req_send(dreq_t *q);
static void start_consensus(ep_dirclient_t *dc);
static void have_consensus(ep_dirclient_t *dc, ep_consensus_t *c);
static void pump(ep_dirclient_t *dc);
static char *batch_path(const ep_dirclient_t *dc, bool mds, const uint8_t *items, size_t k);
static void finish(ep_dirclient_t *dc, ep_netdir_t *nd, const ep_err_t *err);

static void req_unlink(dreq_t *q) {
  ep_dirclient_t *dc = q->dc;
  if (q->prev != NULL) {
    q->prev->next = q->next;
  } else if (dc->reqs == q) {
    dc->reqs = q->next;
  }
  if (q->next != NULL) {
    q->next->prev = q->prev;
  }
  q->next = q->prev = NULL;
}

static void req_free(dreq_t *q) {
  if (q == NULL) {
    return;
  }
  if (q->handle != NULL) {
    q->dc->tr->cancel(q->dc->tr->self, q->handle);
    q->handle = NULL;
    q->dc->n_inflight--;
  }
  req_unlink(q);
  free(q->path);
  free(q->items);
  free(q);
}

static dreq_t *req_new(ep_dirclient_t *dc, kind_t kind, char *path, size_t body_cap,
                       const bool *tried, size_t prefer) {
  dreq_t *q = calloc(1, sizeof *q);
  if (q == NULL) {
    free(path);
    return NULL;
  }
  q->dc = dc;
  q->kind = kind;
  q->path = path;
  q->body_cap = body_cap;
  if (tried != NULL) {
    memcpy(q->tried, tried, sizeof q->tried);
  }
  /* The first attempt goes to `prefer` (if untried), then round the list. */
  q->cur = (prefer + dc->n_servers - 1) % dc->n_servers;
  q->next = dc->reqs;
  if (dc->reqs != NULL) {
    dc->reqs->prev = q;
  }
  dc->reqs = q;
  return q;
}

/* Every server tried: what that means depends on the document. */
static void req_exhausted(dreq_t *q) {
  ep_dirclient_t *dc = q->dc;
  kind_t kind = q->kind;
  size_t n_items = q->n_items;
  req_free(q);
  switch (kind) {
    case K_CONSENSUS: {
      ep_err_t e = {0};
      ep_err_set(&e, dc->last_err.code != 0 ? dc->last_err.code : EP_ERR_IO,
                 "no verified consensus-microdesc: every authority failed (last: %s)",
                 dc->last_err.msg);
      finish(dc, NULL, &e);
      return;
    }
    case K_CERTS:
      /* Verify with what there is: the error will name what is missing. */
      ep_warn("certificates: no authority could serve them; verifying with those at hand");
      start_consensus(dc);
      return;
    case K_MDS:
      ep_warn("%zu %s could not be had from any authority; %s left out", n_items,
              items_name(kind, n_items), n_items == 1 ? "its relay is" : "their relays are");
      pump(dc);
      return;
    case K_DESCS:
      ep_warn("%zu %s could not be had from any authority; %s judged by policy summaries",
              n_items, items_name(kind, n_items), n_items == 1 ? "its relay is" : "their relays are");
      pump(dc);
      return;
  }
}

static void req_failed(dreq_t *q, const ep_err_t *err) {
  ep_dirclient_t *dc = q->dc;
  char who[64];
  describe(dc, q->cur, who, sizeof who);
  dc->st.n_failed++;
  dc->last_err = *err;
  /* The next server to try, for the message. */
  size_t next = dc->n_servers;
  for (size_t k = 1; k <= dc->n_servers; k++) {
    size_t i = (q->cur + k) % dc->n_servers;
    if (!q->tried[i]) {
      next = i;
      break;
    }
  }
  char then[80] = "no authority left to try";
  if (next < dc->n_servers) {
    char nx[64];
    describe(dc, next, nx, sizeof nx);
    snprintf(then, sizeof then, "trying %s", nx);
  }
  ep_warn("authority %s: %s: %s; %s", who, kind_doc[q->kind], err->msg, then);
  req_send(q);
}

static int handle_consensus(dreq_t *q, ep_dir_reply_t *reply, ep_err_t *err);
static int handle_certs(dreq_t *q, ep_dir_reply_t *reply, ep_err_t *err);
static int handle_mds(dreq_t *q, ep_dir_reply_t *reply, ep_err_t *err);
static int handle_descs(dreq_t *q, ep_dir_reply_t *reply, ep_err_t *err);

static void req_reply(void *arg, int rc, ep_dir_reply_t *reply, const ep_err_t *err) {
  dreq_t *q = arg;
  ep_dirclient_t *dc = q->dc;
  q->handle = NULL;
  dc->n_inflight--;
  if (rc != EP_OK) {
    ep_err_t e = {0};
    ep_err_set(&e, rc, "%s", err != NULL ? err->msg : ep_status_name(rc));
    req_failed(q, &e);
    return;
  }
  ep_err_t e = {0};
  if (reply->status != 200) {
    ep_err_set(&e, EP_ERR_UNSUPPORTED, "HTTP %d %s for %.80s%s", reply->status, reply->reason,
               q->path, strlen(q->path) > 80 ? "..." : "");
    req_failed(q, &e);
    return;
  }
  int64_t ms = ep_now_ms() - q->t0;
  dc->st.wire_bytes += reply->wire_len;
  dc->st.body_bytes += reply->body_len;
  char who[64], wire[32], body[32];
  describe(dc, q->cur, who, sizeof who);
  size_format(wire, sizeof wire, reply->wire_len);
  size_format(body, sizeof body, reply->body_len);
  if (reply->enc != EP_HTTP_ENC_IDENTITY) {
    ep_notice("fetched %s from %s (%s %s \xe2\x86\x92 %s) in %lld ms", kind_doc[q->kind], who, wire,
              reply->enc == EP_HTTP_ENC_GZIP ? "gzipped" : "deflated", body, (long long)ms);
  } else {
    ep_notice("fetched %s from %s (%s) in %lld ms", kind_doc[q->kind], who, body, (long long)ms);
  }
  switch (q->kind) {
    case K_CONSENSUS: rc = handle_consensus(q, reply, &e); break;
    case K_CERTS: rc = handle_certs(q, reply, &e); break;
    case K_MDS: rc = handle_mds(q, reply, &e); break;
    case K_DESCS: rc = handle_descs(q, reply, &e); break;
  }
  if (rc != EP_OK) {
    req_failed(q, &e);
  }
  /* On success the handler has freed q and moved on. */
}

/* Start the next attempt of q on a server it has not tried. */
static void req_send(dreq_t *q) {
  ep_dirclient_t *dc = q->dc;
  for (;;) {
    size_t next = dc->n_servers;
    for (size_t k = 1; k <= dc->n_servers; k++) {
      size_t i = (q->cur + k) % dc->n_servers;
      if (!q->tried[i]) {
        next = i;
        break;
      }
    }
    if (next == dc->n_servers) {
      req_exhausted(q);
      return;
    }
    q->cur = next;
    q->tried[next] = true;
    if (q->kind == K_CONSENSUS) {
      dc->cons_tried[next] = true;
    }
    ep_http_limits_t lim;
    ep_http_limits_default(&lim);
    lim.body_cap = q->body_cap;
    lim.timeout_ms = dc->o.request_timeout_ms;
    ep_err_t e = {0};
    q->t0 = ep_now_ms();
    dc->st.n_requests++;
    char who[64];
    describe(dc, next, who, sizeof who);
    ep_info("asking %s for %.120s", who, q->path);
    q->handle = dc->tr->start(dc->tr->self, dc->loop, &dc->servers[next], q->path, &lim, req_reply,
                              q, &e);
    if (q->handle != NULL) {
      dc->n_inflight++;
      return;
    }
    dc->st.n_failed++;
    dc->last_err = e;
    ep_warn("authority %s: %s: %s", who, kind_doc[q->kind], e.msg);
  }
}

/* ---- consensus and certificates ---- */

/* The candidate consensus verifies (or not) with the certificates at hand. */
static void verify_candidate(ep_dirclient_t *dc) {
  ep_err_t e = {0};
  ep_sigreport_t rep;
  int64_t c0 = ep_now_ms();
  int rc = ep_dirclient_verify_consensus(dc->cand, dc->auths, dc->certs, dc_now(dc), dc->o.skew_s,
                                         EP_DIR_TIME_LIVE, &rep, &e);
  dc->st.ms_verify += ep_now_ms() - c0;
  char who[64];
  describe(dc, dc->cand_server, who, sizeof who);
  if (rc != EP_OK) {
    ep_warn("consensus-microdesc from %s: %s", who, e.msg);
    dc->last_err = e;
    ep_consensus_free(dc->cand);
    dc->cand = NULL;
    free(dc->cand_text);
    dc->cand_text = NULL;
    start_consensus(dc);  /* from the next authority, if one is left */
    return;
  }
  dc->st.sigs_good = rep.n_good;
  dc->st.sigs_needed = rep.n_needed;
  dc->st.auths_known = rep.n_known;
  snprintf(dc->st.consensus_from, sizeof dc->st.consensus_from, "%s", who);
  char va[24], vu[24];
  ep_time_format_tor(va, sizeof va, ep_consensus_valid_after(dc->cand));
  ep_time_format_tor(vu, sizeof vu, ep_consensus_valid_until(dc->cand));
  ep_notice("verified consensus-microdesc from %s: %zu relays, valid %s to %s, signed by %zu of %zu "
            "authorities (%zu needed)",
            who, ep_consensus_n_routers(dc->cand), va, vu, rep.n_good, rep.n_known, rep.n_needed);
  ep_consensus_t *c = dc->cand;
  dc->cand = NULL;
  dc->cons_text = dc->cand_text;
  dc->cons_len = dc->cand_len;
  dc->cand_text = NULL;
  have_consensus(dc, c);
}

/* v3idents of trusted authorities that signed c with a key we hold no
 * certificate for, as "/tor/keys/fp/A+B"; NULL if none. */
static char *missing_certs_path(ep_dirclient_t *dc, const ep_consensus_t *c) {
  ep_buf_t b;
  ep_buf_init(&b, 4096, "certificate request", 0);
  uint8_t seen[DC_MAX_SERVERS][20];
  size_t n_seen = 0;
  for (size_t i = 0; i < ep_consensus_n_signatures(c); i++) {
    const ep_dir_signature_t *s = ep_consensus_signature(c, i);
    if (ep_dir_authset_find_v3(dc->auths, s->identity) == NULL ||
        ep_authcerts_find(dc->certs, s->identity, s->signing_key_digest) != NULL) {
      continue;
    }
    bool dup = false;
    for (size_t k = 0; k < n_seen; k++) {
      dup = dup || memcmp(seen[k], s->identity, 20) == 0;
    }
    if (dup || n_seen >= DC_MAX_SERVERS) {
      continue;
    }
    memcpy(seen[n_seen++], s->identity, 20);
    char hex[41];
    ep_hex_encode(hex, sizeof hex, s->identity, 20, true);
    if (ep_buf_printf(&b, NULL, "%s%s", b.len == 0 ? "/tor/keys/fp/" : "+", hex) != EP_OK) {
      break;
    }
  }
  if (b.len == 0 || ep_buf_nul_terminate(&b, NULL) != EP_OK) {
    ep_buf_free(&b);
    return NULL;
  }
  size_t len;
  return (char *)ep_buf_steal(&b, &len);
}

static int handle_consensus(dreq_t *q, ep_dir_reply_t *reply, ep_err_t *err) {
  ep_dirclient_t *dc = q->dc;
  int64_t c0 = ep_now_ms();
  ep_consensus_t *c = ep_consensus_parse((const char *)reply->body, reply->body_len, err);
  dc->st.ms_verify += ep_now_ms() - c0;
  if (c == NULL) {
    return err->code;
  }
  if (ep_consensus_flavor(c) != EP_FLAVOR_MICRODESC) {
    ep_consensus_free(c);
    return ep_err_set(err, EP_ERR_UNSUPPORTED, "served the ns flavour, not microdesc");
  }
  /* Times first: an old consensus is not worth its certificates. */
  int rc = ep_consensus_check_time(c, dc_now(dc), dc->o.skew_s, err);
  if (rc != EP_OK) {
    ep_consensus_free(c);
    return rc;
  }
  dc->cand = c;
  dc->cand_text = reply->body;
  dc->cand_len = reply->body_len;
  reply->body = NULL;
  dc->cand_server = q->cur;
  req_free(q);
  char *path = missing_certs_path(dc, c);
  if (path == NULL) {
    verify_candidate(dc);
    return EP_OK;
  }
  dreq_t *cq = req_new(dc, K_CERTS, path, EP_CAP_AUTHCERTS, NULL, dc->cand_server);
  if (cq == NULL) {
    ep_err_t e = {0};
    ep_err_set(&e, EP_ERR_NOMEM, "out of memory");
    finish(dc, NULL, &e);
    return EP_OK;
  }
  req_send(cq);
  return EP_OK;
}

/* Add certificate text; the set is parsed again from all the text. */
static int certs_add_text(ep_dirclient_t *dc, const uint8_t *text, size_t len, size_t *n_new,
                          ep_err_t *err) {
  ep_authcerts_t *fresh = ep_authcerts_parse((const char *)text, len, err);
  if (fresh == NULL) {
    return err->code;
  }
  if (n_new != NULL) {
    *n_new = ep_authcerts_count(fresh);
  }
  ep_authcerts_free(fresh);
  size_t before = dc->certs_text.len;
  int rc = ep_buf_append(&dc->certs_text, text, len, err);
  if (rc == EP_OK && len > 0 && text[len - 1] != '\n') {
    rc = ep_buf_append(&dc->certs_text, "\n", 1, err);
  }
  if (rc != EP_OK) {
    dc->certs_text.len = before;
    return rc;
  }
  ep_authcerts_t *all = ep_authcerts_parse((const char *)dc->certs_text.data, dc->certs_text.len,
                                           err);
  if (all == NULL) {
    dc->certs_text.len = before;
    return err->code;
  }
  ep_authcerts_free(dc->certs);
  dc->certs = all;
  return EP_OK;
}

static int handle_certs(dreq_t *q, ep_dir_reply_t *reply, ep_err_t *err) {
  ep_dirclient_t *dc = q->dc;
  size_t n = 0;
  int64_t c0 = ep_now_ms();
  int rc = certs_add_text(dc, reply->body, reply->body_len, &n, err);
  dc->st.ms_verify += ep_now_ms() - c0;
  if (rc != EP_OK) {
    return rc;
  }
  dc->st.certs_fetched += n;
  dc->certs_dirty = true;
  req_free(q);
  verify_candidate(dc);
  return EP_OK;
}

/* Fetch a consensus from the next authority not yet tried for one. */
static void start_consensus(ep_dirclient_t *dc) {
  if (dc->cand != NULL) {
    verify_candidate(dc);
    return;
  }
  char *path = strdup("/tor/status-vote/current/consensus-microdesc");
  dreq_t *q = path != NULL ? req_new(dc, K_CONSENSUS, path, EP_CAP_CONSENSUS, dc->cons_tried,
                                     dc->first)
                           : NULL;
  if (q == NULL) {
    ep_err_t e = {0};
    ep_err_set(&e, EP_ERR_NOMEM, "out of memory");
    finish(dc, NULL, &e);
    return;
  }
  req_send(q);
}

/* ---- microdescriptors and descriptors ---- */

static void cache_load_microdescs(ep_dirclient_t *dc) {
  if (dc->cache == NULL) {
    return;
  }
  uint8_t *text = NULL;
  size_t len = 0;
  ep_err_t e = {0};
  int rc = ep_cache_read(dc->cache, CACHE_MICRODESCS, EP_CAP_MICRODESCS, &text, &len, &e);
  if (rc != EP_OK) {
    if (rc != EP_CACHE_MISS) {
      ep_warn("cache: %s", e.msg);
    }
    return;
  }
  int64_t c0 = ep_now_ms();
  ep_microdescs_t *l = ep_microdescs_parse((const char *)text, len, EP_MD_SKIP_INVALID, &e);
  free(text);
  size_t used = 0;
  if (l == NULL) {
    ep_warn("cache: microdescs: %s", e.msg);
  } else if (ep_netdir_add_microdescs(dc->nd, l, &used, &e) != EP_OK) {
    ep_warn("cache: microdescs: %s", e.msg);
  }
  dc->st.ms_verify += ep_now_ms() - c0;
  dc->st.md_from_cache = used;
  ep_notice("%zu microdescriptor%s from the cache", used, used == 1 ? "" : "s");
}

static void have_consensus(ep_dirclient_t *dc, ep_consensus_t *c) {
  ep_err_t e = {0};
  dc->nd = ep_netdir_new(c, &e);
  if (dc->nd == NULL) {
    finish(dc, NULL, &e);
    return;
  }
  cache_load_microdescs(dc);
  size_t n = 0;
  uint8_t *missing = NULL;
  if (ep_netdir_missing_md_digests(dc->nd, false, &missing, &n, &e) != EP_OK) {
    finish(dc, NULL, &e);
    return;
  }
  dc->phase = PH_MDS;
  dc->queue = missing;
  dc->queue_n = n;
  dc->queue_pos = 0;
  dc->batch_no = 0;
  if (n > 0) {
    ep_notice("fetching %zu microdescriptor%s", n, n == 1 ? "" : "s");
  }
  pump(dc);
}

/* Relays whose server descriptors are worth having: Running, Valid and
 * accepting some port by their summary. */
static int desc_queue(ep_dirclient_t *dc) {
  size_t n = ep_netdir_count(dc->nd), k = 0;
  uint8_t *q = n > 0 ? malloc(n * 20) : NULL;
  if (n > 0 && q == NULL) {
    return EP_ERR_NOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    const ep_relay_t *r = ep_netdir_relay(dc->nd, i);
    const uint32_t rv = EP_RS_RUNNING | EP_RS_VALID;
    bool accepts_some = r->has_policy && (r->policy->accept ? r->policy->n > 0
                                                            : !(r->policy->n == 1 &&
                                                                r->policy->ranges[0].lo <= 1 &&
                                                                r->policy->ranges[0].hi == 65535));
    if ((r->flags & rv) == rv && accepts_some && r->desc == NULL) {
      memcpy(q + 20 * k++, r->rsa_id, 20);
    }
  }
  free(dc->queue);
  dc->queue = q;
  dc->queue_n = k;
  dc->queue_pos = 0;
  dc->batch_no = 0;
  if (k > 0) {
    ep_notice("fetching %zu server descriptor%s (full exit policies)", k, k == 1 ? "" : "s");
  }
  return EP_OK;
}

static void write_caches(ep_dirclient_t *dc) {
  if (dc->cache == NULL) {
    return;
  }
  ep_err_t e = {0};
  if (dc->cons_text != NULL &&
      ep_cache_write(dc->cache, CACHE_CONSENSUS, dc->cons_text, dc->cons_len, &e) != EP_OK) {
    ep_warn("cache: %s", e.msg);
  }
  if (dc->certs_dirty &&
      ep_cache_write(dc->cache, CACHE_CERTS, dc->certs_text.data, dc->certs_text.len, &e) !=
          EP_OK) {
    ep_warn("cache: %s", e.msg);
  }
  if (dc->mds_new > 0) {
    ep_buf_t b;
    ep_buf_init(&b, EP_CAP_MICRODESCS, "microdescs cache", 0);
    if (ep_netdir_microdesc_text(dc->nd, &b, &e) != EP_OK ||
        ep_cache_write(dc->cache, CACHE_MICRODESCS, b.data, b.len, &e) != EP_OK) {
      ep_warn("cache: %s", e.msg);
    }
    ep_buf_free(&b);
  }
}

static void all_done(ep_dirclient_t *dc) {
  dc->phase = PH_DONE;
  dc->st.md_missing = ep_netdir_n_missing_md(dc->nd);
  write_caches(dc);
  ep_netdir_t *nd = dc->nd;
  dc->nd = NULL;
  finish(dc, nd, NULL);
}

/* Is this item (a microdescriptor digest, or a relay id for its
 * descriptor) still wanted? */
static bool still_missing(const ep_dirclient_t *dc, bool md, const uint8_t *item) {
  if (md) {
    long idx = ep_consensus_find_md(ep_netdir_consensus(dc->nd), item);
    const ep_relay_t *r = idx >= 0 ? ep_netdir_relay(dc->nd, (size_t)idx) : NULL;
    return r != NULL && !r->has_md && !r->md_invalid;
  }
  const ep_relay_t *r = ep_netdir_find_id(dc->nd, item);
  return r != NULL && r->desc == NULL;
}

/* Keep up to `parallel` batch requests in flight; move on when all are in. */
static void pump(ep_dirclient_t *dc) {
  if (dc->finished) {
    return;
  }
  bool mds = dc->phase == PH_MDS;
  size_t width = mds ? EP_SHA256_LEN : 20;
  size_t word = mds ? 44 : 41;  /* 43 base64 chars + '-', 40 hex + '+' */
  const char *prefix = mds ? "/tor/micro/d/" : "/tor/server/fp/";
  size_t batch = mds ? dc->o.md_batch : DC_MAX_DESC_BATCH;
  if (batch == 0 || batch > (mds ? DC_MAX_MD_BATCH : DC_MAX_DESC_BATCH)) {
    batch = mds ? DC_MAX_MD_BATCH : DC_MAX_DESC_BATCH;
  }
  size_t fit = (dc->tr->max_path - strlen(prefix)) / word;
  if (fit < batch) {
    batch = fit > 0 ? fit : 1;
  }
  unsigned parallel = dc->o.parallel > 0 ? dc->o.parallel : 1;
  phase_t phase = dc->phase;
  while (dc->n_inflight < parallel && dc->queue_pos < dc->queue_n) {
    /* Leave out what an earlier answer already brought. */
    size_t w = dc->queue_pos;
    for (size_t r = dc->queue_pos; r < dc->queue_n; r++) {
      const uint8_t *it = dc->queue + r * width;
      if (still_missing(dc, mds, it)) {
        memmove(dc->queue + w++ * width, it, width);
      }
    }
    dc->queue_n = w;
    if (dc->queue_pos >= dc->queue_n) {
      break;
    }
    size_t k = dc->queue_n - dc->queue_pos;
    if (k > batch) {
      k = batch;
    }
    const uint8_t *items = dc->queue + dc->queue_pos * width;
    char *path = batch_path(dc, mds, items, k);
    uint8_t *copy = malloc(k * width);
    if (path == NULL || copy == NULL) {
      free(path);
      free(copy);
      ep_err_t e = {0};
      ep_err_set(&e, EP_ERR_NOMEM, "out of memory building a request");
      finish(dc, NULL, &e);
      return;
    }
    memcpy(copy, items, k * width);
    /* Spread the batches over the servers. */
    size_t prefer = (dc->first + dc->batch_no++) % dc->n_servers;
    dreq_t *q = req_new(dc, mds ? K_MDS : K_DESCS, path,
                        mds ? EP_CAP_MICRODESCS : EP_CAP_SERVER_DESCS, NULL, prefer);
    if (q == NULL) {
      free(copy);
      ep_err_t e = {0};
      ep_err_set(&e, EP_ERR_NOMEM, "out of memory");
      finish(dc, NULL, &e);
      return;
    }
    q->items = copy;
    q->n_items = k;
    dc->queue_pos += k;
    req_send(q);
    if (dc->finished || dc->phase != phase) {
      return;  /* a nested pump moved on */
    }
  }
  if (dc->n_inflight > 0 || dc->queue_pos < dc->queue_n || dc->reqs != NULL) {
    return;
  }
  if (dc->phase == PH_MDS) {
    size_t miss = ep_netdir_n_missing_md(dc->nd);
    ep_notice("microdescriptors: %zu from the cache, %zu fetched, %zu missing", dc->st.md_from_cache,
              dc->st.md_fetched, miss);
    if (dc->o.full_policies) {
      dc->phase = PH_DESCS;
      if (desc_queue(dc) != EP_OK) {
        ep_err_t e = {0};
        ep_err_set(&e, EP_ERR_NOMEM, "out of memory");
        finish(dc, NULL, &e);
        return;
      }
      pump(dc);
      return;
    }
  }
  all_done(dc);
}

/* "/tor/micro/d/A-B" or "/tor/server/fp/A+B" for k items (malloc'd). */
static char *batch_path(const ep_dirclient_t *dc, bool mds, const uint8_t *items, size_t k) {
  size_t width = mds ? EP_SHA256_LEN : 20;
  ep_buf_t b;
  ep_buf_init(&b, dc->tr->max_path + 1, "request path", 0);
  int rc = ep_buf_append_str(&b, mds ? "/tor/micro/d/" : "/tor/server/fp/", NULL);
  for (size_t i = 0; i < k && rc == EP_OK; i++) {
    char enc[64];
    if (mds) {
      ep_base64_encode(enc, sizeof enc, items + i * width, width, EP_B64_NOPAD);
    } else {
      ep_hex_encode(enc, sizeof enc, items + i * width, width, true);
    }
    rc = ep_buf_printf(&b, NULL, "%s%s", i > 0 ? (mds ? "-" : "+") : "", enc);
  }
  if (rc != EP_OK || ep_buf_nul_terminate(&b, NULL) != EP_OK) {
    ep_buf_free(&b);
    return NULL;
  }
  size_t len;
  return (char *)ep_buf_steal(&b, &len);
}

/* A request, not yet sent, for the items of q that did not come, to the
 * servers q has not tried; NULL if there are none (or none left). Takes left. */
static dreq_t *retry_missing(dreq_t *q, uint8_t *left, size_t n_left) {
  ep_dirclient_t *dc = q->dc;
  bool any_untried = false;
  for (size_t i = 0; i < dc->n_servers; i++) {
    any_untried = any_untried || !q->tried[i];
  }
  char *path = NULL;
  if (n_left > 0 && !any_untried) {
    ep_warn("%zu %s asked for did not come from any authority", n_left,
            items_name(q->kind, n_left));
  } else if (n_left > 0) {
    path = batch_path(dc, q->kind == K_MDS, left, n_left);
  }
  dreq_t *r = path != NULL ? req_new(dc, q->kind, path, q->body_cap, q->tried,
                                     (q->cur + 1) % dc->n_servers)
                           : NULL;
  if (r == NULL) {
    free(left);
    return NULL;
  }
  ep_info("%zu %s did not come from that authority; asking another", n_left,
          items_name(q->kind, n_left));
  r->items = left;
  r->n_items = n_left;
  return r;
}

static int handle_mds(dreq_t *q, ep_dir_reply_t *reply, ep_err_t *err) {
  ep_dirclient_t *dc = q->dc;
  int64_t c0 = ep_now_ms();
  ep_microdescs_t *l =
      ep_microdescs_parse((const char *)reply->body, reply->body_len, EP_MD_SKIP_INVALID, err);
  if (l == NULL) {
    dc->st.ms_verify += ep_now_ms() - c0;
    return err->code;
  }
  if (ep_microdescs_n_invalid(l) > 0) {
    ep_warn("%zu malformed microdescriptor%s skipped (first: %s)", ep_microdescs_n_invalid(l),
            ep_microdescs_n_invalid(l) == 1 ? "" : "s", ep_microdescs_first_error(l));
  }
  size_t used = 0;
  int rc = ep_netdir_add_microdescs(dc->nd, l, &used, err);
  dc->st.ms_verify += ep_now_ms() - c0;
  if (rc != EP_OK) {
    return rc;
  }
  dc->st.md_fetched += used;
  dc->mds_new += used;
  /* What was asked for and is still missing (malformed ones are not asked
   * for again: another authority serves the same bytes). */
  uint8_t *left = malloc(q->n_items * EP_SHA256_LEN + 1);
  size_t n_left = 0;
  for (size_t i = 0; left != NULL && i < q->n_items; i++) {
    const uint8_t *d = q->items + i * EP_SHA256_LEN;
    if (still_missing(dc, true, d)) {
      memcpy(left + n_left++ * EP_SHA256_LEN, d, EP_SHA256_LEN);
    }
  }
  dreq_t *again = left != NULL ? retry_missing(q, left, n_left) : NULL;
  req_free(q);
  if (again != NULL) {
    req_send(again);
  }
  pump(dc);
  return EP_OK;
}

static int handle_descs(dreq_t *q, ep_dir_reply_t *reply, ep_err_t *err) {
  ep_dirclient_t *dc = q->dc;
  int64_t c0 = ep_now_ms();
  ep_routerdescs_t *l = ep_routerdescs_parse_flags((const char *)reply->body, reply->body_len,
                                                  EP_RD_SKIP_INVALID, err);
  if (l == NULL) {
    dc->st.ms_verify += ep_now_ms() - c0;
    return err->code;
  }
  size_t invalid = ep_routerdescs_n_invalid(l);
  if (invalid > 0) {
    ep_warn("%zu malformed server descriptor%s skipped (first: %s)", invalid, invalid == 1 ? "" : "s",
            ep_routerdescs_first_error(l));
  }
  size_t used = 0, rejected = 0;
  ep_err_t first = {0};
  ep_netdir_add_routerdescs(dc->nd, l, dc_now(dc), &used, &rejected, &first);
  dc->st.ms_verify += ep_now_ms() - c0;
  dc->st.descs_used += used;
  dc->st.descs_rejected += rejected;
  if (rejected > 0) {
    ep_warn("%zu server descriptor%s rejected (first: %s)", rejected, rejected == 1 ? "" : "s",
            first.msg);
  }
  uint8_t *left = malloc(q->n_items * 20 + 1);
  size_t n_left = 0;
  for (size_t i = 0; left != NULL && i < q->n_items; i++) {
    if (still_missing(dc, false, q->items + i * 20)) {
      memcpy(left + n_left++ * 20, q->items + i * 20, 20);
    }
  }
  /* Rejected or malformed descriptors would come again the same: do not ask again. */
  dreq_t *again = NULL;
  if (left != NULL && rejected == 0 && invalid == 0) {
    again = retry_missing(q, left, n_left);
  } else {
    free(left);
  }
  req_free(q);
  if (again != NULL) {
    req_send(again);
  }
  pump(dc);
  return EP_OK;
}

/* ---- start, finish, cancel ---- */

static void deliver(ep_loop_t *loop, void *arg) {
  (void)loop;
  ep_dirclient_t *dc = arg;
  dc->deliver = 0;
  ep_dirclient_cb cb = dc->cb;
  void *cbarg = dc->cbarg;
  ep_netdir_t *nd = dc->result;
  dc->result = NULL;
  ep_dirclient_stats_t st = dc->st;
  ep_err_t err = dc->result_err;
  ep_dirclient_cancel(dc);
  cb(cbarg, nd, &st, nd != NULL ? NULL : &err);
}

static void finish(ep_dirclient_t *dc, ep_netdir_t *nd, const ep_err_t *err) {
  if (dc->finished) {
    ep_netdir_free(nd);
    return;
  }
  dc->finished = true;
  dc->phase = PH_DONE;
  while (dc->reqs != NULL) {
    req_free(dc->reqs);
  }
  ep_loop_timer_cancel(dc->loop, dc->deadline);
  dc->deadline = 0;
  dc->result = nd;
  if (nd == NULL) {
    dc->result_err = *err;
  }
  dc->st.ms_total = ep_now_ms() - dc->t0;
  dc->deliver = ep_loop_timer_in(dc->loop, 0, deliver, dc);
}

static void on_deadline(ep_loop_t *loop, void *arg) {
  (void)loop;
  ep_dirclient_t *dc = arg;
  dc->deadline = 0;
  ep_err_t e = {0};
  ep_err_set(&e, EP_ERR_TIMEOUT, "directory: not complete within %lld ms (last failure: %s)",
             (long long)dc->o.timeout_ms, dc->last_err.msg[0] != '\0' ? dc->last_err.msg : "none");
  finish(dc, NULL, &e);
}

/* The cached certificates and, if it is live and verifies, the cached
 * consensus. True if the consensus was taken. */
static bool use_cache(ep_dirclient_t *dc) {
  uint8_t *text = NULL;
  size_t len = 0;
  ep_err_t e = {0};
  int rc = ep_cache_read(dc->cache, CACHE_CERTS, EP_CAP_AUTHCERTS, &text, &len, &e);
  if (rc == EP_OK) {
    if (certs_add_text(dc, text, len, NULL, &e) != EP_OK) {
      ep_warn("cache: certs: %s", e.msg);
    } else {
      dc->st.certs_from_cache = true;
    }
    free(text);
  } else if (rc != EP_CACHE_MISS) {
    ep_warn("cache: %s", e.msg);
  }
  text = NULL;
  rc = ep_cache_read(dc->cache, CACHE_CONSENSUS, EP_CAP_CONSENSUS, &text, &len, &e);
  if (rc != EP_OK) {
    if (rc != EP_CACHE_MISS) {
      ep_warn("cache: %s", e.msg);
    }
    return false;
  }
  int64_t c0 = ep_now_ms();
  ep_consensus_t *c = ep_consensus_parse((const char *)text, len, &e);
  ep_sigreport_t rep;
  time_t now = dc_now(dc);
  if (c == NULL) {
    ep_warn("cache: consensus-microdesc: %s", e.msg);
  } else if (ep_consensus_flavor(c) != EP_FLAVOR_MICRODESC) {
    ep_warn("cache: consensus-microdesc: not the microdesc flavour");
  } else if (now > ep_consensus_valid_until(c)) {
    char vu[24];
    ep_time_format_tor(vu, sizeof vu, ep_consensus_valid_until(c));
    ep_info("cache: consensus-microdesc expired at %s: fetching a new one", vu);
  } else if (ep_dirclient_verify_consensus(c, dc->auths, dc->certs, now, dc->o.skew_s,
                                           EP_DIR_TIME_LIVE, &rep, &e) != EP_OK) {
    ep_warn("cache: %s: fetching a new one", e.msg);
  } else {
    dc->st.ms_verify += ep_now_ms() - c0;
    free(text);
    dc->st.sigs_good = rep.n_good;
    dc->st.sigs_needed = rep.n_needed;
    dc->st.auths_known = rep.n_known;
    snprintf(dc->st.consensus_from, sizeof dc->st.consensus_from, "cache");
    char va[24], vu[24];
    ep_time_format_tor(va, sizeof va, ep_consensus_valid_after(c));
    ep_time_format_tor(vu, sizeof vu, ep_consensus_valid_until(c));
    ep_notice("using the cached consensus-microdesc (%s): %zu relays, valid %s to %s, signed by "
              "%zu of %zu authorities (%zu needed)",
              ep_cache_dir(dc->cache), ep_consensus_n_routers(c), va, vu, rep.n_good, rep.n_known,
              rep.n_needed);
    have_consensus(dc, c);
    return true;
  }
  dc->st.ms_verify += ep_now_ms() - c0;
  ep_consensus_free(c);
  free(text);
  return false;
}

static ep_cache_t *open_cache(const ep_dirclient_opts_t *o, const ep_dir_authset_t *auths) {
  char base[4096], dir[4200], key[32];
  ep_err_t e = {0};
  if (o->cache_dir != NULL) {
    snprintf(base, sizeof base, "%s", o->cache_dir);
  } else if (ep_cache_default_dir(base, sizeof base, &e) != EP_OK) {
    ep_warn("cache: %s: going without", e.msg);
    return NULL;
  }
  ep_dirclient_network_key(auths, key, sizeof key);
  snprintf(dir, sizeof dir, "%s/%s", base, key);
  ep_cache_t *c = ep_cache_open(dir, &e);
  if (c == NULL) {
    ep_warn("cache: %s: going without", e.msg);
  }
  return c;
}

ep_dirclient_t *ep_dirclient_start(ep_loop_t *loop, const ep_dirclient_opts_t *o,
                                   ep_dirclient_cb cb, void *arg, ep_err_t *err) {
  ep_dirclient_t *dc = calloc(1, sizeof *dc);
  if (dc == NULL) {
    ep_err_set(err, EP_ERR_NOMEM, "directory: out of memory");
    return NULL;
  }
  dc->loop = loop;
  dc->o = *o;
  dc->cb = cb;
  dc->cbarg = arg;
  dc->t0 = ep_now_ms();
  dc->auths = o->auths != NULL ? o->auths : ep_dir_authset_builtin();
  dc->tr = o->transport != NULL ? o->transport : ep_dir_transport_dirport();
  ep_buf_init(&dc->certs_text, EP_CAP_AUTHCERTS, "authority certificates", 0);
  dc->n_servers = servers_from_authset(dc->auths, dc->servers, DC_MAX_SERVERS);
  if (dc->n_servers == 0 || ep_dir_authset_n_v3(dc->auths) == 0) {
    ep_err_set(err, EP_ERR_STATE, "directory: no v3 directory authorities to ask");
    ep_dirclient_cancel(dc);
    return NULL;
  }
  if (!o->in_order) {
    uint32_t r;
    ep_random(&r, sizeof r);
    dc->first = r % dc->n_servers;
  }
  if (o->timeout_ms > 0) {
    dc->deadline = ep_loop_timer_in(loop, o->timeout_ms, on_deadline, dc);
  }
  if (!o->no_cache) {
    dc->cache = open_cache(o, dc->auths);
  }
  if (dc->cache == NULL || !use_cache(dc)) {
    start_consensus(dc);
  }
  return dc;
}

void ep_dirclient_cancel(ep_dirclient_t *dc) {
  if (dc == NULL) {
    return;
  }
  dc->finished = true;
  while (dc->reqs != NULL) {
    req_free(dc->reqs);
  }
  ep_loop_timer_cancel(dc->loop, dc->deadline);
  ep_loop_timer_cancel(dc->loop, dc->deliver);
  ep_netdir_free(dc->result);
  ep_netdir_free(dc->nd);
  ep_consensus_free(dc->cand);
  free(dc->cand_text);
  free(dc->cons_text);
  ep_authcerts_free(dc->certs);
  ep_buf_free(&dc->certs_text);
  free(dc->queue);
  ep_cache_free(dc->cache);
  free(dc);
}

typedef struct sync_run {
  bool done;
  ep_netdir_t *nd;
  ep_err_t err;
  ep_dirclient_stats_t st;
} sync_run_t;

static void sync_done(void *arg, ep_netdir_t *nd, const ep_dirclient_stats_t *st,
                      const ep_err_t *err) {
  sync_run_t *s = arg;
  s->done = true;
  s->nd = nd;
  s->st = *st;
  if (err != NULL) {
    s->err = *err;
  }
}

static bool sync_pred(void *arg) { return ((sync_run_t *)arg)->done; }

ep_netdir_t *ep_dirclient_fetch(ep_loop_t *loop, const ep_dirclient_opts_t *o,
                                ep_dirclient_stats_t *st, ep_err_t *err) {
  sync_run_t s;
  memset(&s, 0, sizeof s);
  ep_dirclient_t *dc = ep_dirclient_start(loop, o, sync_done, &s, err);
  if (dc == NULL) {
    return NULL;
  }
  int rc = ep_loop_run_until(loop, sync_pred, &s, EP_LOOP_NO_DEADLINE, err);
  if (!s.done) {
    ep_dirclient_cancel(dc);
    if (rc == EP_LOOP_STOPPED) {
      ep_err_set(err, EP_ERR_STATE, "directory: interrupted");
    } else if (rc >= 0) {
      ep_err_set(err, EP_ERR_INTERNAL, "directory: the loop ended (%s) before the fetch did",
                 ep_loop_outcome_name(rc));
    }
    return NULL;
  }
  if (st != NULL) {
    *st = s.st;
  }
  if (s.nd == NULL && err != NULL) {
    *err = s.err;
  }
  return s.nd;
}

/* ---------------------------------------------------------------------- */
/* offline */

ep_netdir_t *ep_dirclient_load_files(const ep_dirclient_files_t *f, const ep_dirclient_opts_t *o,
                                     ep_dirclient_stats_t *st, ep_err_t *err) {
  ep_dirclient_stats_t local;
  ep_dirclient_stats_t *s = st != NULL ? st : &local;
  memset(s, 0, sizeof *s);
  int64_t t0 = ep_now_ms();
  const ep_dir_authset_t *auths = o->auths != NULL ? o->auths : ep_dir_authset_builtin();
  time_t now = f->has_at ? f->at : (o->now != 0 ? o->now : ep_wall_now());
  uint8_t *text = NULL;
  size_t len = 0;
  ep_consensus_t *c = NULL;
  ep_authcerts_t *certs = NULL;
  ep_netdir_t *nd = NULL;
  if (read_doc_file(f->consensus, EP_CAP_CONSENSUS, &text, &len, err) != EP_OK) {
    return NULL;
  }
  c = ep_consensus_parse((const char *)text, len, err);
  free(text);
  text = NULL;
  if (c == NULL) {
    ep_err_wrap(err, err != NULL ? err->code : EP_ERR_MALFORMED, "%s", f->consensus);
    return NULL;
  }
  /* Certificates: the file given, else the cache's for this network. */
  if (f->certs != NULL) {
    if (read_doc_file(f->certs, EP_CAP_AUTHCERTS, &text, &len, err) != EP_OK) {
      goto fail;
    }
    certs = ep_authcerts_parse((const char *)text, len, err);
    free(text);
    text = NULL;
    if (certs == NULL) {
      ep_err_wrap(err, err != NULL ? err->code : EP_ERR_MALFORMED, "%s", f->certs);
      goto fail;
    }
  } else {
    ep_cache_t *cache = o->no_cache ? NULL : open_cache(o, auths);
    int rc = cache != NULL ? ep_cache_read(cache, CACHE_CERTS, EP_CAP_AUTHCERTS, &text, &len, err)
                           : EP_CACHE_MISS;
    ep_cache_free(cache);
    if (rc == EP_OK) {
      certs = ep_authcerts_parse((const char *)text, len, err);
      free(text);
      text = NULL;
      s->certs_from_cache = certs != NULL;
    }
    if (certs == NULL) {
      ep_err_set(err, EP_ERR_VERIFY,
                 "%s: no authority certificates to verify it with (give --certs FILE)",
                 f->consensus);
      goto fail;
    }
  }
  ep_sigreport_t rep;
  if (ep_dirclient_verify_consensus(c, auths, certs, now, o->skew_s,
                                    f->has_at ? EP_DIR_TIME_REASONABLY_LIVE : EP_DIR_TIME_LIVE,
                                    &rep, err) != EP_OK) {
    ep_err_wrap(err, err != NULL ? err->code : EP_ERR_VERIFY, "%s", f->consensus);
    goto fail;
  }
  ep_authcerts_free(certs);
  certs = NULL;
  s->sigs_good = rep.n_good;
  s->sigs_needed = rep.n_needed;
  s->auths_known = rep.n_known;
  snprintf(s->consensus_from, sizeof s->consensus_from, "file");
  nd = ep_netdir_new(c, err);
  c = NULL;
  if (nd == NULL) {
    goto fail;
  }
  if (f->microdescs != NULL) {
    if (ep_netdir_flavor(nd) != EP_FLAVOR_MICRODESC) {
      ep_warn("%s: an ns consensus has no microdescriptors to join: ignored", f->microdescs);
    } else {
      if (read_doc_file(f->microdescs, EP_CAP_MICRODESCS, &text, &len, err) != EP_OK) {
        goto fail;
      }
      ep_microdescs_t *l =
          ep_microdescs_parse((const char *)text, len, EP_MD_SKIP_INVALID, err);
      free(text);
      text = NULL;
      if (l == NULL) {
        ep_err_wrap(err, err != NULL ? err->code : EP_ERR_MALFORMED, "%s", f->microdescs);
        goto fail;
      }
      if (ep_microdescs_n_invalid(l) > 0) {
        ep_warn("%s: %zu malformed microdescriptor(s) skipped (first: %s)", f->microdescs,
                ep_microdescs_n_invalid(l), ep_microdescs_first_error(l));
      }
      if (ep_netdir_add_microdescs(nd, l, &s->md_from_cache, err) != EP_OK) {
        goto fail;
      }
    }
  }
  if (f->descs != NULL) {
    if (read_doc_file(f->descs, EP_CAP_SERVER_DESCS, &text, &len, err) != EP_OK) {
      goto fail;
    }
    ep_routerdescs_t *l =
        ep_routerdescs_parse_flags((const char *)text, len, EP_RD_SKIP_INVALID, err);
    free(text);
    text = NULL;
    if (l == NULL) {
      ep_err_wrap(err, err != NULL ? err->code : EP_ERR_MALFORMED, "%s", f->descs);
      goto fail;
    }
    if (ep_routerdescs_n_invalid(l) > 0) {
      ep_warn("%s: %zu malformed server descriptor(s) skipped (first: %s)", f->descs,
              ep_routerdescs_n_invalid(l), ep_routerdescs_first_error(l));
    }
    ep_err_t first = {0};
    ep_netdir_add_routerdescs(nd, l, now, &s->descs_used, &s->descs_rejected, &first);
    if (s->descs_rejected > 0) {
      ep_warn("%s: %zu server descriptor(s) rejected (first: %s)", f->descs, s->descs_rejected,
              first.msg);
    }
  }
  s->md_missing = ep_netdir_n_missing_md(nd);
  s->ms_total = s->ms_verify = ep_now_ms() - t0;
  return nd;

fail:
  free(text);
  ep_consensus_free(c);
  ep_authcerts_free(certs);
  ep_netdir_free(nd);
  return NULL;
}
