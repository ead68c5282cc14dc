/* exitprobe — the directory client's requests: which server next, retries,
 * replies (see dirclient_int.h). The transport is used only through its
 * interface (dirtransport.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/timeutil.h"
#include "probe/dirclient/dirclient_int.h"

static const char *const kind_doc[] = {"consensus-microdesc", "certificates", "microdescriptors",
                                       "server descriptors"};

const char *ep_dc_items_name(ep_dc_kind_t kind, size_t n) {
  if (kind == K_MDS) {
    return n == 1 ? "microdescriptor" : "microdescriptors";
  }
  return n == 1 ? "server descriptor" : "server descriptors";
}

void ep_dc_describe(const ep_dirclient_t *dc, size_t i, char *out, size_t outcap) {
  ep_dir_transport_describe(dc->tr, &dc->servers[i], out, outcap);
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

/* The next server after q's current one that q has not tried;
 * dc->n_servers if none is left. */
static size_t next_untried(const ep_dc_req_t *q) {
  const ep_dirclient_t *dc = q->dc;
  for (size_t k = 1; k <= dc->n_servers; k++) {
    size_t i = (q->cur + k) % dc->n_servers;
    if (!q->tried[i]) {
      return i;
    }
  }
  return dc->n_servers;
}

static void req_unlink(ep_dc_req_t *q) {
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

void ep_dc_req_free(ep_dc_req_t *q) {
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

ep_dc_req_t *ep_dc_req_new(ep_dirclient_t *dc, ep_dc_kind_t kind, char *path, size_t body_cap,
                           const bool *tried, size_t prefer) {
  ep_dc_req_t *q = calloc(1, sizeof *q);
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
static void req_exhausted(ep_dc_req_t *q) {
  ep_dirclient_t *dc = q->dc;
  ep_dc_kind_t kind = q->kind;
  size_t n_items = q->n_items;
  ep_dc_req_free(q);
  switch (kind) {
    case K_CONSENSUS: {
      ep_err_t e = {0};
      ep_err_set(&e, dc->last_err.code != 0 ? dc->last_err.code : EP_ERR_IO,
                 "no verified consensus-microdesc: every authority failed (last: %s)",
                 dc->last_err.msg);
      ep_dc_finish(dc, NULL, &e);
      return;
    }
    case K_CERTS:
      /* Verify with what there is: the error will name what is missing. */
      ep_warn("certificates: no authority could serve them; verifying with those at hand");
      ep_dc_start_consensus(dc);
      return;
    case K_MDS:
    case K_DESCS:
      ep_warn("%zu %s could not be had from any authority; %s %s", n_items,
              ep_dc_items_name(kind, n_items), n_items == 1 ? "its relay is" : "their relays are",
              kind == K_MDS ? "left out" : "judged by policy summaries");
      ep_dc_pump(dc);
      return;
  }
}

static void req_failed(ep_dc_req_t *q, const ep_err_t *err) {
  ep_dirclient_t *dc = q->dc;
  char who[64];
  ep_dc_describe(dc, q->cur, who, sizeof who);
  dc->st.n_failed++;
  dc->last_err = *err;
  /* The next server to try, for the message. */
  size_t next = next_untried(q);
  char then[80] = "no authority left to try";
  if (next < dc->n_servers) {
    char nx[64];
    ep_dc_describe(dc, next, nx, sizeof nx);
    snprintf(then, sizeof then, "trying %s", nx);
  }
  ep_warn("authority %s: %s: %s; %s", who, kind_doc[q->kind], err->msg, then);
  ep_dc_req_send(q);
}

/* "fetched consensus-microdesc from auth1 127.0.0.1:7001 (38 KB deflated
 * -> 121 KB) in 12 ms", and the byte counts. */
static void note_fetched(ep_dc_req_t *q, const ep_dir_reply_t *reply) {
  ep_dirclient_t *dc = q->dc;
  int64_t ms = ep_now_ms() - q->t0;
  dc->st.wire_bytes += reply->wire_len;
  dc->st.body_bytes += reply->body_len;
  char who[64], wire[32], body[32];
  ep_dc_describe(dc, q->cur, who, sizeof who);
  size_format(wire, sizeof wire, reply->wire_len);
  size_format(body, sizeof body, reply->body_len);
  if (reply->enc != EP_HTTP_ENC_IDENTITY) {
    ep_notice("fetched %s from %s (%s %s \xe2\x86\x92 %s) in %lld ms", kind_doc[q->kind], who, wire,
              reply->enc == EP_HTTP_ENC_GZIP ? "gzipped" : "deflated", body, (long long)ms);
  } else {
    ep_notice("fetched %s from %s (%s) in %lld ms", kind_doc[q->kind], who, body, (long long)ms);
  }
}

static void req_reply(void *arg, int rc, ep_dir_reply_t *reply, const ep_err_t *err) {
  ep_dc_req_t *q = arg;
  ep_dirclient_t *dc = q->dc;
  q->handle = NULL;
  dc->n_inflight--;
  ep_err_t e = {0};
  if (rc != EP_OK) {
    ep_err_set(&e, rc, "%s", err != NULL ? err->msg : ep_status_name(rc));
    req_failed(q, &e);
    return;
  }
  if (reply->status != 200) {
    ep_err_set(&e, EP_ERR_UNSUPPORTED, "HTTP %d %s for %.80s%s", reply->status, reply->reason,
               q->path, strlen(q->path) > 80 ? "..." : "");
    req_failed(q, &e);
    return;
  }
  note_fetched(q, reply);
  switch (q->kind) {
    case K_CONSENSUS: rc = ep_dc_handle_consensus(q, reply, &e); break;
    case K_CERTS: rc = ep_dc_handle_certs(q, reply, &e); break;
    case K_MDS:
    case K_DESCS: rc = ep_dc_handle_batch(q, reply, &e); break;
  }
  if (rc != EP_OK) {
    req_failed(q, &e);
  }
  /* On success the handler has freed q and moved on. */
}

void ep_dc_req_send(ep_dc_req_t *q) {
  ep_dirclient_t *dc = q->dc;
  for (;;) {
    size_t next = next_untried(q);
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
    ep_dc_describe(dc, next, who, sizeof who);
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
