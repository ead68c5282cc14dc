/* exitprobe — the directory client's consensus and the authority
 * certificates it needs, from the cache or the authorities (see
 * dirclient_int.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/caps.h"
#include "lib/encode.h"
#include "lib/log.h"
#include "lib/timeutil.h"
#include "probe/dirclient/dirclient_int.h"
#include "probe/dirclient/dirjoin.h"

/* The notice for a verified consensus and its counts into the stats. from:
 * "cache", or the server it came from. */
static void note_verified(ep_dirclient_t *dc, const ep_consensus_t *c, const ep_sigreport_t *rep,
                          const char *from) {
  bool cached = strcmp(from, "cache") == 0;
  char va[24], vu[24];
  ep_time_format_tor(va, sizeof va, ep_consensus_valid_after(c));
  ep_time_format_tor(vu, sizeof vu, ep_consensus_valid_until(c));
  ep_notice(cached ? "using the cached consensus-microdesc (%s): %zu relays, valid %s to %s, "
                     "signed by %zu of %zu authorities (%zu needed)"
                   : "verified consensus-microdesc from %s: %zu relays, valid %s to %s, signed by "
                     "%zu of %zu authorities (%zu needed)",
            cached ? ep_cache_dir(dc->cache) : from, ep_consensus_n_routers(c), va, vu, rep->n_good,
            rep->n_known, rep->n_needed);
  ep_dirjoin_note_consensus(&dc->st, rep, from);
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

static void cache_load_certs(ep_dirclient_t *dc) {
  size_t len = 0;
  uint8_t *text = ep_dc_cache_read(dc, DC_CACHE_CERTS, EP_CAP_AUTHCERTS, &len);
  if (text == NULL) {
    return;
  }
  ep_err_t e = {0};
  if (certs_add_text(dc, text, len, NULL, &e) != EP_OK) {
    ep_warn("cache: certs: %s", e.msg);
  } else {
    dc->st.certs_from_cache = true;
  }
  free(text);
}

/* Is the cached consensus c live and verified? Warns (or says) why not. */
static bool cached_consensus_good(ep_dirclient_t *dc, const ep_consensus_t *c,
                                  ep_sigreport_t *rep, ep_err_t *e) {
  time_t now = ep_dc_now(dc);
  if (c == NULL) {
    ep_warn("cache: consensus-microdesc: %s", e->msg);
  } else if (ep_consensus_flavor(c) != EP_FLAVOR_MICRODESC) {
    ep_warn("cache: consensus-microdesc: not the microdesc flavour");
  } else if (now > ep_consensus_valid_until(c)) {
    char vu[24];
    ep_time_format_tor(vu, sizeof vu, ep_consensus_valid_until(c));
    ep_info("cache: consensus-microdesc expired at %s: fetching a new one", vu);
  } else if (ep_dirclient_verify_consensus(c, dc->auths, dc->certs, now, dc->o.skew_s,
                                           EP_DIR_TIME_LIVE, rep, e) != EP_OK) {
    ep_warn("cache: %s: fetching a new one", e->msg);
  } else {
    return true;
  }
  return false;
}

bool ep_dc_use_cache(ep_dirclient_t *dc) {
  cache_load_certs(dc);
  size_t len = 0;
  uint8_t *text = ep_dc_cache_read(dc, DC_CACHE_CONSENSUS, EP_CAP_CONSENSUS, &len);
  if (text == NULL) {
    return false;
  }
  ep_err_t e = {0};
  int64_t c0 = ep_now_ms();
  ep_consensus_t *c = ep_consensus_parse((const char *)text, len, &e);
  free(text);
  ep_sigreport_t rep;
  bool good = cached_consensus_good(dc, c, &rep, &e);
  dc->st.ms_verify += ep_now_ms() - c0;
  if (!good) {
    ep_consensus_free(c);
    return false;
  }
  note_verified(dc, c, &rep, "cache");
  ep_dc_have_consensus(dc, c);
  return true;
}

static void drop_candidate(ep_dirclient_t *dc) {
  ep_consensus_free(dc->cand);
  dc->cand = NULL;
  free(dc->cand_text);
  dc->cand_text = NULL;
}

void ep_dc_consensus_clear(ep_dirclient_t *dc) {
  drop_candidate(dc);
  free(dc->cons_text);
  dc->cons_text = NULL;
  ep_authcerts_free(dc->certs);
  dc->certs = NULL;
  ep_buf_free(&dc->certs_text);
}

/* The candidate consensus verifies (or not) with the certificates at hand. */
static void verify_candidate(ep_dirclient_t *dc) {
  ep_err_t e = {0};
  ep_sigreport_t rep;
  int64_t c0 = ep_now_ms();
  int rc = ep_dirclient_verify_consensus(dc->cand, dc->auths, dc->certs, ep_dc_now(dc),
                                         dc->o.skew_s, EP_DIR_TIME_LIVE, &rep, &e);
  dc->st.ms_verify += ep_now_ms() - c0;
  char who[64];
  ep_dc_describe(dc, dc->cand_server, who, sizeof who);
  if (rc != EP_OK) {
    ep_warn("consensus-microdesc from %s: %s", who, e.msg);
    dc->last_err = e;
    drop_candidate(dc);
    ep_dc_start_consensus(dc);  /* from the next authority, if one is left */
    return;
  }
  note_verified(dc, dc->cand, &rep, who);
  ep_consensus_t *c = dc->cand;
  dc->cand = NULL;
  dc->cons_text = dc->cand_text;
  dc->cons_len = dc->cand_len;
  dc->cand_text = NULL;
  ep_dc_have_consensus(dc, c);
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

int ep_dc_handle_consensus(ep_dc_req_t *q, ep_dir_reply_t *reply, ep_err_t *err) {
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
  int rc = ep_consensus_check_time(c, ep_dc_now(dc), dc->o.skew_s, err);
  if (rc != EP_OK) {
    ep_consensus_free(c);
    return rc;
  }
  dc->cand = c;
  dc->cand_text = reply->body;
  dc->cand_len = reply->body_len;
  reply->body = NULL;
  dc->cand_server = q->cur;
  ep_dc_req_free(q);
  char *path = missing_certs_path(dc, c);
  if (path == NULL) {
    verify_candidate(dc);
    return EP_OK;
  }
  ep_dc_req_t *cq = ep_dc_req_new(dc, K_CERTS, path, EP_CAP_AUTHCERTS, NULL, dc->cand_server);
  if (cq == NULL) {
    ep_dc_fail_nomem(dc, "out of memory");
    return EP_OK;
  }
  ep_dc_req_send(cq);
  return EP_OK;
}

int ep_dc_handle_certs(ep_dc_req_t *q, ep_dir_reply_t *reply, ep_err_t *err) {
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
  ep_dc_req_free(q);
  verify_candidate(dc);
  return EP_OK;
}

void ep_dc_start_consensus(ep_dirclient_t *dc) {
  if (dc->cand != NULL) {
    verify_candidate(dc);
    return;
  }
  char *path = strdup("/tor/status-vote/current/consensus-microdesc");
  ep_dc_req_t *q = path != NULL ? ep_dc_req_new(dc, K_CONSENSUS, path, EP_CAP_CONSENSUS,
                                                dc->cons_tried, dc->first)
                                : NULL;
  if (q == NULL) {
    ep_dc_fail_nomem(dc, "out of memory");
    return;
  }
  ep_dc_req_send(q);
}
