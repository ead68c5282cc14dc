/* exitprobe — getting a verified directory (see dirclient.h): the client's
 * start, end and synchronous fetch. Its requests are in dirreq.c, its
 * phases in dirconsensus.c and dirbatch.c (dirclient_int.h). */
#include "config.h"

#include "probe/dirclient/dirclient.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/caps.h"
#include "lib/crypto.h"
#include "lib/encode.h"
#include "lib/log.h"
#include "lib/timeutil.h"
#include "probe/dirclient/dirclient_int.h"

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

time_t ep_dc_now(const ep_dirclient_t *dc) {
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

const char *ep_dirclient_authorities_path(const char *given) {
  if (given != NULL) {
    return given;
  }
  const char *env = getenv("EXITPROBE_DIR_AUTHORITIES");
  return env != NULL && env[0] != '\0' ? env : NULL;
}

ep_cache_t *ep_dc_open_cache(const ep_dirclient_opts_t *o, const ep_dir_authset_t *auths) {
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

uint8_t *ep_dc_cache_read(ep_dirclient_t *dc, const char *name, size_t cap, size_t *len) {
  uint8_t *text = NULL;
  ep_err_t e = {0};
  *len = 0;
  int rc = ep_cache_read(dc->cache, name, cap, &text, len, &e);
  if (rc != EP_OK && rc != EP_CACHE_MISS) {
    ep_warn("cache: %s", e.msg);
  }
  return rc == EP_OK ? text : NULL;
}

/* ---- finish ---- */

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

void ep_dc_finish(ep_dirclient_t *dc, ep_netdir_t *nd, const ep_err_t *err) {
  if (dc->finished) {
    ep_netdir_free(nd);
    return;
  }
  dc->finished = true;
  dc->phase = PH_DONE;
  while (dc->reqs != NULL) {
    ep_dc_req_free(dc->reqs);
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

void ep_dc_fail_nomem(ep_dirclient_t *dc, const char *msg) {
  ep_err_t e = {0};
  ep_err_set(&e, EP_ERR_NOMEM, "%s", msg);
  ep_dc_finish(dc, NULL, &e);
}

static void on_deadline(ep_loop_t *loop, void *arg) {
  (void)loop;
  ep_dirclient_t *dc = arg;
  dc->deadline = 0;
  static const char *const waiting[] = {[PH_CONSENSUS] = "the consensus",
                                        [PH_MDS] = "microdescriptors",
                                        [PH_DESCS] = "server descriptors",
                                        [PH_DONE] = "the end"};
  ep_err_t e = {0};
  if (dc->last_err.msg[0] != '\0') {
    ep_err_set(&e, EP_ERR_TIMEOUT, "directory: not complete within %lld ms (last failure: %s)",
               (long long)dc->o.timeout_ms, dc->last_err.msg);
  } else {
    /* nothing failed: say what was still awaited (findings: "none" named nothing) */
    ep_err_set(&e, EP_ERR_TIMEOUT,
               "directory: not complete within %lld ms: still waiting for %s (%zu request(s) "
               "unanswered, none failed)",
               (long long)dc->o.timeout_ms, waiting[dc->phase], dc->n_inflight);
  }
  ep_dc_finish(dc, NULL, &e);
}

/* ---- start, cancel ---- */

ep_dirclient_t *ep_dirclient_start(ep_loop_t *loop, const ep_dirclient_opts_t *o,
                                   ep_dirclient_cb cb, void *arg, ep_err_t *err) {
  ep_dirclient_t *dc = calloc(1, sizeof *dc);
  if (dc == NULL) {
    ep_err_set(err, EP_ERR_NOMEM, "directory: out of memory");
    return NULL;
  }
  *dc = (ep_dirclient_t){.loop = loop,
                         .o = *o,
                         .cb = cb,
                         .cbarg = arg,
                         .t0 = ep_now_ms(),
                         .auths = o->auths != NULL ? o->auths : ep_dir_authset_builtin(),
                         .tr = o->transport != NULL ? o->transport : ep_dir_transport_dirport()};
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
    dc->cache = ep_dc_open_cache(o, dc->auths);
  }
  if (dc->cache == NULL || !ep_dc_use_cache(dc)) {
    ep_dc_start_consensus(dc);
  }
  return dc;
}

void ep_dirclient_cancel(ep_dirclient_t *dc) {
  if (dc == NULL) {
    return;
  }
  dc->finished = true;
  while (dc->reqs != NULL) {
    ep_dc_req_free(dc->reqs);
  }
  ep_loop_timer_cancel(dc->loop, dc->deadline);
  ep_loop_timer_cancel(dc->loop, dc->deliver);
  ep_netdir_free(dc->result);
  ep_netdir_free(dc->nd);
  free(dc->queue);
  ep_dc_consensus_clear(dc);
  ep_cache_free(dc->cache);
  free(dc);
}

/* ---- the synchronous fetch ---- */

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
