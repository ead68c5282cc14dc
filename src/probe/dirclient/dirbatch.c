/* exitprobe — the directory client's microdescriptors and server
 * descriptors: from the cache, then in batches from the authorities, a few
 * at once (see dirclient_int.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/caps.h"
#include "lib/crypto.h"
#include "lib/encode.h"
#include "lib/log.h"
#include "lib/timeutil.h"
#include "probe/dirclient/dirclient_int.h"
#include "probe/dirclient/dirjoin.h"

static void cache_load_microdescs(ep_dirclient_t *dc) {
  if (dc->cache == NULL) {
    return;
  }
  size_t len = 0;
  uint8_t *text = ep_dc_cache_read(dc, DC_CACHE_MICRODESCS, EP_CAP_MICRODESCS, &len);
  if (text == NULL) {
    return;
  }
  ep_err_t e = {0};
  int64_t c0 = ep_now_ms();
  ep_dirjoin_counts_t n;
  if (ep_dirjoin(dc->nd, EP_DIRJOIN_MICRODESCS, text, len, "cache: microdescs", 0, &n, &e) !=
      EP_OK) {
    ep_warn("%s", e.msg);
  }
  free(text);
  dc->st.ms_verify += ep_now_ms() - c0;
  dc->st.md_from_cache = n.used;
  ep_notice("%zu microdescriptor%s from the cache", n.used, n.used == 1 ? "" : "s");
}

/* Start on a new queue of items (taken) for the phase. */
static void queue_set(ep_dirclient_t *dc, uint8_t *items, size_t n) {
  free(dc->queue);
  dc->queue = items;
  dc->queue_n = n;
  dc->queue_pos = 0;
  dc->batch_no = 0;
}

void ep_dc_have_consensus(ep_dirclient_t *dc, ep_consensus_t *c) {
  ep_err_t e = {0};
  dc->nd = ep_netdir_new(c, &e);
  if (dc->nd == NULL) {
    ep_dc_finish(dc, NULL, &e);
    return;
  }
  cache_load_microdescs(dc);
  size_t n = 0;
  uint8_t *missing = NULL;
  if (ep_netdir_missing_md_digests(dc->nd, false, &missing, &n, &e) != EP_OK) {
    ep_dc_finish(dc, NULL, &e);
    return;
  }
  dc->phase = PH_MDS;
  queue_set(dc, missing, n);
  if (n > 0) {
    ep_notice("fetching %zu microdescriptor%s", n, n == 1 ? "" : "s");
  }
  ep_dc_pump(dc);
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
  queue_set(dc, q, k);
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
      ep_cache_write(dc->cache, DC_CACHE_CONSENSUS, dc->cons_text, dc->cons_len, &e) != EP_OK) {
    ep_warn("cache: %s", e.msg);
  }
  if (dc->certs_dirty &&
      ep_cache_write(dc->cache, DC_CACHE_CERTS, dc->certs_text.data, dc->certs_text.len, &e) !=
          EP_OK) {
    ep_warn("cache: %s", e.msg);
  }
  if (dc->mds_new > 0) {
    ep_buf_t b;
    ep_buf_init(&b, EP_CAP_MICRODESCS, "microdescs cache", 0);
    if (ep_netdir_microdesc_text(dc->nd, &b, &e) != EP_OK ||
        ep_cache_write(dc->cache, DC_CACHE_MICRODESCS, b.data, b.len, &e) != EP_OK) {
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
  ep_dc_finish(dc, nd, NULL);
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

/* Items per request in this phase: the option, within the phase's cap,
 * cut to what fits the transport's longest path. */
static size_t batch_size(const ep_dirclient_t *dc, bool mds) {
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
  return batch;
}

/* Drop from the rest of the queue what an earlier answer already brought. */
static void queue_prune(ep_dirclient_t *dc, bool mds) {
  size_t width = mds ? EP_SHA256_LEN : 20;
  size_t w = dc->queue_pos;
  for (size_t r = dc->queue_pos; r < dc->queue_n; r++) {
    const uint8_t *it = dc->queue + r * width;
    if (still_missing(dc, mds, it)) {
      memmove(dc->queue + w++ * width, it, width);
    }
  }
  dc->queue_n = w;
}

/* Send the next batch of the queue (k items). False if the client failed. */
static bool send_batch(ep_dirclient_t *dc, bool mds, size_t k) {
  size_t width = mds ? EP_SHA256_LEN : 20;
  const uint8_t *items = dc->queue + dc->queue_pos * width;
  char *path = batch_path(dc, mds, items, k);
  uint8_t *copy = malloc(k * width);
  if (path == NULL || copy == NULL) {
    free(path);
    free(copy);
    ep_dc_fail_nomem(dc, "out of memory building a request");
    return false;
  }
  memcpy(copy, items, k * width);
  /* Spread the batches over the servers. */
  size_t prefer = (dc->first + dc->batch_no++) % dc->n_servers;
  ep_dc_req_t *q = ep_dc_req_new(dc, mds ? K_MDS : K_DESCS, path,
                                 mds ? EP_CAP_MICRODESCS : EP_CAP_SERVER_DESCS, NULL, prefer);
  if (q == NULL) {
    free(copy);
    ep_dc_fail_nomem(dc, "out of memory");
    return false;
  }
  q->items = copy;
  q->n_items = k;
  dc->queue_pos += k;
  ep_dc_req_send(q);
  return true;
}

/* Every batch of the phase is in: the next phase, or the end. */
static void phase_done(ep_dirclient_t *dc) {
  if (dc->phase == PH_MDS) {
    size_t miss = ep_netdir_n_missing_md(dc->nd);
    ep_notice("microdescriptors: %zu from the cache, %zu fetched, %zu missing", dc->st.md_from_cache,
              dc->st.md_fetched, miss);
    if (dc->o.full_policies) {
      dc->phase = PH_DESCS;
      if (desc_queue(dc) != EP_OK) {
        ep_dc_fail_nomem(dc, "out of memory");
        return;
      }
      ep_dc_pump(dc);
      return;
    }
  }
  all_done(dc);
}

void ep_dc_pump(ep_dirclient_t *dc) {
  if (dc->finished) {
    return;
  }
  bool mds = dc->phase == PH_MDS;
  size_t batch = batch_size(dc, mds);
  unsigned parallel = dc->o.parallel > 0 ? dc->o.parallel : 1;
  ep_dc_phase_t phase = dc->phase;
  while (dc->n_inflight < parallel && dc->queue_pos < dc->queue_n) {
    queue_prune(dc, mds);
    if (dc->queue_pos >= dc->queue_n) {
      break;
    }
    size_t k = dc->queue_n - dc->queue_pos;
    if (!send_batch(dc, mds, k > batch ? batch : k)) {
      return;
    }
    if (dc->finished || dc->phase != phase) {
      return;  /* a nested pump moved on */
    }
  }
  if (dc->n_inflight > 0 || dc->queue_pos < dc->queue_n || dc->reqs != NULL) {
    return;
  }
  phase_done(dc);
}

/* A request, not yet sent, for the items of q that did not come, to the
 * servers q has not tried; NULL if there are none (or none left). Takes left. */
static ep_dc_req_t *retry_missing(ep_dc_req_t *q, uint8_t *left, size_t n_left) {
  ep_dirclient_t *dc = q->dc;
  bool any_untried = false;
  for (size_t i = 0; i < dc->n_servers; i++) {
    any_untried = any_untried || !q->tried[i];
  }
  char *path = NULL;
  if (n_left > 0 && !any_untried) {
    ep_warn("%zu %s asked for did not come from any authority", n_left,
            ep_dc_items_name(q->kind, n_left));
  } else if (n_left > 0) {
    path = batch_path(dc, q->kind == K_MDS, left, n_left);
  }
  ep_dc_req_t *r = path != NULL ? ep_dc_req_new(dc, q->kind, path, q->body_cap, q->tried,
                                                (q->cur + 1) % dc->n_servers)
                                : NULL;
  if (r == NULL) {
    free(left);
    return NULL;
  }
  ep_info("%zu %s did not come from that authority; asking another", n_left,
          ep_dc_items_name(q->kind, n_left));
  r->items = left;
  r->n_items = n_left;
  return r;
}

/* The items q asked for that are still missing (malloc'd; NULL if out of
 * memory), their number in *n_left. */
static uint8_t *items_left(const ep_dc_req_t *q, size_t *n_left) {
  bool mds = q->kind == K_MDS;
  size_t width = mds ? EP_SHA256_LEN : 20;
  uint8_t *left = malloc(q->n_items * width + 1);
  *n_left = 0;
  for (size_t i = 0; left != NULL && i < q->n_items; i++) {
    const uint8_t *it = q->items + i * width;
    if (still_missing(q->dc, mds, it)) {
      memcpy(left + (*n_left)++ * width, it, width);
    }
  }
  return left;
}

int ep_dc_handle_batch(ep_dc_req_t *q, ep_dir_reply_t *reply, ep_err_t *err) {
  ep_dirclient_t *dc = q->dc;
  bool mds = q->kind == K_MDS;
  int64_t c0 = ep_now_ms();
  ep_dirjoin_counts_t n;
  int rc = ep_dirjoin(dc->nd, mds ? EP_DIRJOIN_MICRODESCS : EP_DIRJOIN_DESCS, reply->body,
                      reply->body_len, NULL, ep_dc_now(dc), &n, err);
  dc->st.ms_verify += ep_now_ms() - c0;
  if (rc != EP_OK) {
    return rc;
  }
  if (mds) {
    dc->st.md_fetched += n.used;
    dc->mds_new += n.used;
  } else {
    dc->st.descs_used += n.used;
    dc->st.descs_rejected += n.rejected;
  }
  /* Ask another server for what is still missing. Malformed
   * microdescriptors are not asked for again (another authority serves the
   * same bytes), they are no longer missing; rejected or malformed
   * descriptors would come again the same: then nothing is asked again. */
  size_t n_left = 0;
  uint8_t *left = items_left(q, &n_left);
  ep_dc_req_t *again = NULL;
  if (left != NULL && (mds || (n.rejected == 0 && n.invalid == 0))) {
    again = retry_missing(q, left, n_left);
  } else {
    free(left);
  }
  ep_dc_req_free(q);
  if (again != NULL) {
    ep_dc_req_send(again);
  }
  ep_dc_pump(dc);
  return EP_OK;
}
