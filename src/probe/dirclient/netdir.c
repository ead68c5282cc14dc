/* exitprobe — the prober's view of the network (see netdir.h). */
#include "config.h"

#include "probe/dirclient/netdir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/encode.h"
#include "lib/vec.h"

/* Lists of documents joined into a netdir: microdescriptors come in batches. */
#define NETDIR_MAX_LISTS 4096

struct ep_netdir {
  ep_consensus_t *cons;
  ep_relay_t *relays;
  size_t n;
  ep_microdescs_t **mdlists;
  size_t n_mdlists, alloc_mdlists;
  ep_routerdescs_t **desclists;
  size_t n_desclists, alloc_desclists;
};

/* The outcome rc of reserving room for one more document list
 * (EP_VEC_RESERVE, at most NETDIR_MAX_LISTS), in the netdir's words. */
static int lists_reserved(int rc, ep_err_t *err) {
  if (rc == EP_ERR_LIMIT) {
    return ep_err_set(err, EP_ERR_LIMIT, "netdir: more than %u document lists joined",
                      NETDIR_MAX_LISTS);
  }
  if (rc != EP_OK) {
    return ep_err_set(err, EP_ERR_NOMEM, "netdir: out of memory");
  }
  return EP_OK;
}

ep_netdir_t *ep_netdir_new(ep_consensus_t *c, ep_err_t *err) {
  if (c == NULL) {
    ep_err_set(err, EP_ERR_INTERNAL, "netdir: no consensus");
    return NULL;
  }
  ep_netdir_t *nd = calloc(1, sizeof *nd);
  size_t n = ep_consensus_n_routers(c);
  if (nd == NULL || (n > 0 && (nd->relays = calloc(n, sizeof *nd->relays)) == NULL)) {
    free(nd);
    ep_consensus_free(c);
    ep_err_set(err, EP_ERR_NOMEM, "netdir: out of memory");
    return NULL;
  }
  nd->cons = c;
  nd->n = n;
  bool ns = ep_consensus_flavor(c) == EP_FLAVOR_NS;
  for (size_t i = 0; i < n; i++) {
    const ep_routerstatus_t *rs = ep_consensus_router(c, i);
    ep_relay_t *r = &nd->relays[i];
    memcpy(r->nickname, rs->nickname, sizeof r->nickname);
    r->nickname[sizeof r->nickname - 1] = '\0';
    memcpy(r->rsa_id, rs->identity, sizeof r->rsa_id);
    r->ipv4 = rs->ipv4;
    r->or_port = rs->or_port;
    r->dir_port = rs->dir_port;
    if (rs->has_ipv6) {
      r->has_ipv6 = true;
      memcpy(r->ipv6, rs->ipv6, 16);
      r->ipv6_port = rs->ipv6_port;
    }
    r->flags = rs->flags;
    r->bandwidth = rs->has_bandwidth ? rs->bandwidth : 0;
    r->rs = rs;
    r->policy = ep_routerstatus_policy(rs);
    r->policy6 = ep_policy_summary_reject_all();
    r->has_policy = ns;
  }
  return nd;
}

void ep_netdir_free(ep_netdir_t *nd) {
  if (nd == NULL) {
    return;
  }
  for (size_t i = 0; i < nd->n_mdlists; i++) {
    ep_microdescs_free(nd->mdlists[i]);
  }
  for (size_t i = 0; i < nd->n_desclists; i++) {
    ep_routerdescs_free(nd->desclists[i]);
  }
  free(nd->mdlists);
  free(nd->desclists);
  free(nd->relays);
  ep_consensus_free(nd->cons);
  free(nd);
}

const ep_consensus_t *ep_netdir_consensus(const ep_netdir_t *nd) { return nd->cons; }

ep_consensus_flavor_t ep_netdir_flavor(const ep_netdir_t *nd) {
  return ep_consensus_flavor(nd->cons);
}

size_t ep_netdir_count(const ep_netdir_t *nd) { return nd->n; }

const ep_relay_t *ep_netdir_relay(const ep_netdir_t *nd, size_t i) {
  return i < nd->n ? &nd->relays[i] : NULL;
}

size_t ep_netdir_index(const ep_netdir_t *nd, const ep_relay_t *r) {
  return (size_t)(r - nd->relays);
}

/* ---- microdescriptors ---- */

static void attach_md(ep_relay_t *r, const ep_microdesc_t *md) {
  r->md = md;
  r->has_md = true;
  r->md_invalid = false;
  r->has_ntor = true;
  memcpy(r->ntor_key, md->ntor_key, 32);
  r->has_ed25519 = md->has_ed25519;
  if (md->has_ed25519) {
    memcpy(r->ed25519_id, md->ed25519_id, 32);
  }
  if (!r->has_ipv6 && md->has_ipv6) {
    r->has_ipv6 = true;
    memcpy(r->ipv6, md->ipv6, 16);
    r->ipv6_port = md->ipv6_port;
  }
  r->has_policy = true;
  r->policy = md->policy != NULL ? md->policy : ep_policy_summary_reject_all();
  r->policy6 = md->policy6 != NULL ? md->policy6 : ep_policy_summary_reject_all();
  r->family = md->family;
  r->family_len = md->family_len;
  r->family_ids = md->family_ids;
  r->family_ids_len = md->family_ids_len;
}

int ep_netdir_add_microdescs(ep_netdir_t *nd, ep_microdescs_t *mds, size_t *n_used, ep_err_t *err) {
  if (n_used != NULL) {
    *n_used = 0;
  }
  if (mds == NULL) {
    return EP_OK;
  }
  if (ep_netdir_flavor(nd) != EP_FLAVOR_MICRODESC) {
    ep_microdescs_free(mds);
    return ep_err_set(err, EP_ERR_STATE,
                      "netdir: microdescriptors need a microdesc consensus (this one is %s)",
                      ep_consensus_flavor_name(nd->cons));
  }
  int rc = lists_reserved(EP_VEC_RESERVE(nd->mdlists, nd->alloc_mdlists, nd->n_mdlists + 1,
                                         NETDIR_MAX_LISTS, "netdir", NULL),
                          err);
  if (rc != EP_OK) {
    ep_microdescs_free(mds);
    return rc;
  }
  nd->mdlists[nd->n_mdlists++] = mds;
  size_t used = 0;
  for (size_t i = 0; i < nd->n; i++) {
    ep_relay_t *r = &nd->relays[i];
    if (r->has_md) {
      continue;
    }
    const ep_microdesc_t *md = ep_microdescs_find(mds, r->rs->digest);
    if (md == NULL) {
      continue;
    }
    /* Found by its digest; check it as a step of its own, and that an
     * "id rsa1024" line (old microdescriptors) names the same relay. */
    if (ep_microdesc_check(md, r->rs->digest, NULL) != EP_OK ||
        (md->has_rsa_id && memcmp(md->rsa_id, r->rsa_id, 20) != 0)) {
      r->md_invalid = true;
      continue;
    }
    attach_md(r, md);
    used++;
  }
  for (size_t k = 0; k < ep_microdescs_n_invalid(mds); k++) {
    const uint8_t *d = ep_microdescs_invalid_digest(mds, k);
    for (size_t i = 0; i < nd->n; i++) {
      ep_relay_t *r = &nd->relays[i];
      if (!r->has_md && memcmp(r->rs->digest, d, EP_SHA256_LEN) == 0) {
        r->md_invalid = true;
      }
    }
  }
  if (n_used != NULL) {
    *n_used = used;
  }
  return EP_OK;
}

size_t ep_netdir_n_missing_md(const ep_netdir_t *nd) {
  if (ep_netdir_flavor(nd) != EP_FLAVOR_MICRODESC) {
    return 0;
  }
  size_t k = 0;
  for (size_t i = 0; i < nd->n; i++) {
    k += nd->relays[i].has_md ? 0 : 1;
  }
  return k;
}

static int digest_cmp(const void *a, const void *b) { return memcmp(a, b, EP_SHA256_LEN); }

int ep_netdir_missing_md_digests(const ep_netdir_t *nd, bool include_invalid, uint8_t **out,
                                 size_t *n, ep_err_t *err) {
  *out = NULL;
  *n = 0;
  if (ep_netdir_flavor(nd) != EP_FLAVOR_MICRODESC) {
    return EP_OK;
  }
  size_t k = 0;
  for (size_t i = 0; i < nd->n; i++) {
    const ep_relay_t *r = &nd->relays[i];
    k += (!r->has_md && (include_invalid || !r->md_invalid)) ? 1 : 0;
  }
  if (k == 0) {
    return EP_OK;
  }
  uint8_t *v = malloc(k * EP_SHA256_LEN);
  if (v == NULL) {
    return ep_err_set(err, EP_ERR_NOMEM, "netdir: out of memory");
  }
  size_t j = 0;
  for (size_t i = 0; i < nd->n; i++) {
    const ep_relay_t *r = &nd->relays[i];
    if (!r->has_md && (include_invalid || !r->md_invalid)) {
      memcpy(v + j * EP_SHA256_LEN, r->rs->digest, EP_SHA256_LEN);
      j++;
    }
  }
  /* Two entries may name one digest: ask for it once. */
  qsort(v, j, EP_SHA256_LEN, digest_cmp);
  size_t u = 0;
  for (size_t i = 0; i < j; i++) {
    if (u == 0 || memcmp(v + (u - 1) * EP_SHA256_LEN, v + i * EP_SHA256_LEN, EP_SHA256_LEN) != 0) {
      memmove(v + u * EP_SHA256_LEN, v + i * EP_SHA256_LEN, EP_SHA256_LEN);
      u++;
    }
  }
  *out = v;
  *n = u;
  return EP_OK;
}

int ep_netdir_microdesc_text(const ep_netdir_t *nd, ep_buf_t *out, ep_err_t *err) {
  for (size_t i = 0; i < nd->n; i++) {
    const ep_microdesc_t *md = nd->relays[i].md;
    if (md == NULL) {
      continue;
    }
    int rc = ep_buf_append(out, md->body, md->body_len, err);
    if (rc == EP_OK && (md->body_len == 0 || md->body[md->body_len - 1] != '\n')) {
      rc = ep_buf_append(out, "\n", 1, err);
    }
    if (rc != EP_OK) {
      return rc;
    }
  }
  return EP_OK;
}

/* ---- server descriptors ---- */

int ep_netdir_add_routerdescs(ep_netdir_t *nd, ep_routerdescs_t *l, time_t now, size_t *n_used,
                              size_t *n_rejected, ep_err_t *err_first) {
  size_t used = 0, rejected = 0;
  if (n_used != NULL) {
    *n_used = 0;
  }
  if (n_rejected != NULL) {
    *n_rejected = 0;
  }
  if (l == NULL) {
    return EP_OK;
  }
  ep_err_t dummy;
  ep_err_t *e1 = err_first != NULL ? err_first : &dummy;
  int rc = lists_reserved(EP_VEC_RESERVE(nd->desclists, nd->alloc_desclists, nd->n_desclists + 1,
                                         NETDIR_MAX_LISTS, "netdir", NULL),
                          e1);
  if (rc != EP_OK) {
    ep_routerdescs_free(l);
    return rc;
  }
  nd->desclists[nd->n_desclists++] = l;
  bool ns = ep_netdir_flavor(nd) == EP_FLAVOR_NS;
  for (size_t k = 0; k < ep_routerdescs_count(l); k++) {
    const ep_routerdesc_t *d = ep_routerdescs_get(l, k);
    ep_err_t e = {0};
    char fp[41];
    ep_hex_encode(fp, sizeof fp, d->identity_digest, 20, true);
    long idx = ep_consensus_find_identity(nd->cons, d->identity_digest);
    if (idx < 0) {
      ep_err_set(&e, EP_ERR_STATE, "server descriptor line %zu ($%s): not in the consensus",
                 d->lineno, fp);
    } else if (ep_routerdesc_verify(d, now, &e) != EP_OK) {
      ep_err_wrap(&e, e.code, "server descriptor line %zu ($%s)", d->lineno, fp);
    } else if (ns && memcmp(d->signed_digest, nd->relays[idx].rs->digest, EP_SHA1_LEN) != 0) {
      ep_err_set(&e, EP_ERR_VERIFY,
                 "server descriptor line %zu ($%s): digest differs from the consensus entry's",
                 d->lineno, fp);
    }
    if (e.code != EP_OK) {
      if (rejected == 0 && err_first != NULL) {
        *err_first = e;
      }
      rejected++;
      continue;
    }
    ep_relay_t *r = &nd->relays[idx];
    if (r->desc == NULL || d->published > r->desc->published) {
      r->desc = d;
      used++;
    }
  }
  if (n_used != NULL) {
    *n_used = used;
  }
  if (n_rejected != NULL) {
    *n_rejected = rejected;
  }
  return EP_OK;
}

/* ---- lookups ---- */

static int parse_fp(const char *s, size_t n, uint8_t id[20]) {
  if (n > 0 && s[0] == '$') {
    s++;
    n--;
  }
  if (n > 40 && (s[40] == '~' || s[40] == '=')) {
    n = 40;
  }
  if (n != 40 || ep_hex_decode(id, 20, s, 40) != 20) {
    return -1;
  }
  return 0;
}

const ep_relay_t *ep_netdir_find(const ep_netdir_t *nd, const char *s, ep_err_t *err) {
  uint8_t id[20];
  if (s == NULL || parse_fp(s, strlen(s), id) != 0) {
    ep_err_set(err, EP_ERR_MALFORMED,
               "not a relay fingerprint (40 hex digits, optionally after '$')");
    return NULL;
  }
  return ep_netdir_find_id(nd, id);
}

const ep_relay_t *ep_netdir_find_id(const ep_netdir_t *nd, const uint8_t id[20]) {
  long i = ep_consensus_find_identity(nd->cons, id);
  return i < 0 ? NULL : &nd->relays[i];
}

void ep_relay_name(const ep_relay_t *r, char *out, size_t outcap) {
  char fp[41];
  ep_hex_encode(fp, sizeof fp, r->rsa_id, 20, true);
  snprintf(out, outcap, "$%s~%s", fp, r->nickname);
}

int ep_netdir_target(const ep_netdir_t *nd, const ep_relay_t *r, ep_target_t *t, ep_err_t *err) {
  memset(t, 0, sizeof *t);
  if (!r->has_ntor) {
    char name[64];
    ep_relay_name(r, name, sizeof name);
    if (ep_netdir_flavor(nd) == EP_FLAVOR_NS) {
      return ep_err_set(err, EP_ERR_STATE,
                        "relay %s: no ntor onion key: an ns consensus carries none "
                        "(use the microdesc flavour and its microdescriptors)",
                        name);
    }
    return ep_err_set(err, EP_ERR_STATE, "relay %s: no ntor onion key: %s", name,
                      r->md_invalid ? "its microdescriptor was malformed"
                                    : "its microdescriptor is missing");
  }
  t->ipv4 = r->ipv4;
  t->or_port = r->or_port;
  t->has_ipv6 = r->has_ipv6;
  if (r->has_ipv6) {
    memcpy(t->ipv6, r->ipv6, 16);
    t->ipv6_port = r->ipv6_port;
  }
  memcpy(t->rsa_id, r->rsa_id, 20);
  t->has_ed25519 = r->has_ed25519;
  if (r->has_ed25519) {
    memcpy(t->ed25519_id, r->ed25519_id, 32);
  }
  memcpy(t->ntor_key, r->ntor_key, 32);
  return EP_OK;
}

void ep_netdir_flags_format(const ep_netdir_t *nd, uint32_t flags, char *out, size_t outcap) {
  size_t used = 0;
  if (outcap == 0) {
    return;
  }
  out[0] = '\0';
  for (size_t i = 0; i < ep_consensus_n_known_flags(nd->cons); i++) {
    size_t len;
    const char *name = ep_consensus_known_flag(nd->cons, i, &len);
    char buf[64];
    if (name == NULL || len == 0 || len >= sizeof buf) {
      continue;
    }
    memcpy(buf, name, len);
    buf[len] = '\0';
    uint32_t bit = ep_consensus_flag_mask(nd->cons, buf);
    if (bit == 0 || (flags & bit) == 0) {
      continue;
    }
    int w = snprintf(out + used, outcap - used, "%s%s", used > 0 ? "," : "", buf);
    if (w < 0 || (size_t)w >= outcap - used) {
      out[used] = '\0';
      return;
    }
    used += (size_t)w;
  }
}

/* ---- exits ---- */

int ep_netdir_exits(const ep_netdir_t *nd, const ep_exit_query_t *q, ep_exit_candidate_t **out,
                    size_t *n, ep_exit_stats_t *stats, ep_err_t *err) {
  *out = NULL;
  *n = 0;
  ep_exit_stats_t st;
  memset(&st, 0, sizeof st);
  st.n_relays = nd->n;
  int fam = q->family == 6 ? 6 : 4;
  if (q->port == 0) {
    return ep_err_set(err, EP_ERR_MALFORMED, "exits: port 0 is not a port");
  }
  ep_exit_candidate_t *v = NULL;
  size_t nv = 0;
  if (nd->n > 0) {
    v = calloc(nd->n, sizeof *v);
    if (v == NULL) {
      return ep_err_set(err, EP_ERR_NOMEM, "exits: out of memory");
    }
  }
  for (size_t i = 0; i < nd->n; i++) {
    const ep_relay_t *r = &nd->relays[i];
    if ((r->flags & EP_RS_RUNNING) == 0 || (r->flags & EP_RS_VALID) == 0) {
      st.n_not_running++;
      continue;
    }
    ep_policy_answer_t a;
    if (r->desc != NULL && !q->summary_only) {
      a = ep_routerdesc_policy_eval(r->desc, NULL, fam, q->port);
    } else if (!r->has_policy) {
      st.n_no_policy++;
      continue;
    } else {
      a = ep_policy_summary_eval(fam == 6 ? r->policy6 : r->policy, q->port);
    }
    if (a.verdict == EP_POLICY_REJECT) {
      continue;
    }
    if ((r->flags & EP_RS_BADEXIT) != 0 && !q->include_badexit) {
      st.n_badexit_left_out++;
      continue;
    }
    ep_exit_candidate_t *c = &v[nv++];
    c->relay = r;
    c->answer = a;
    c->may_be_restricted = a.may_be_restricted || a.verdict == EP_POLICY_ACCEPT_SOME;
    c->some_may_be_rejected = a.basis == EP_POLICY_BASIS_SUMMARY || a.some_rejected;
    if (a.basis == EP_POLICY_BASIS_FULL) {
      st.n_by_full++;
    } else {
      st.n_by_summary++;
    }
  }
  if (nv == 0) {
    free(v);
    v = NULL;
  }
  *out = v;
  *n = nv;
  if (stats != NULL) {
    *stats = st;
  }
  return EP_OK;
}

/* ---- first hops ---- */

/* The next blank-separated word of t[*i..n), or false at the end. */
static bool next_word(const char *t, size_t n, size_t *i, const char **w, size_t *wl) {
  while (*i < n && (t[*i] == ' ' || t[*i] == '\t')) {
    (*i)++;
  }
  size_t a = *i;
  while (*i < n && t[*i] != ' ' && t[*i] != '\t') {
    (*i)++;
  }
  *w = t + a;
  *wl = *i - a;
  return *wl > 0;
}

/* Does family text fam[0..n) name id ("$HEX", "$HEX=nick", "$HEX~nick")? */
static bool family_names(const char *fam, size_t n, const uint8_t id[20]) {
  const char *w;
  size_t wl, i = 0;
  while (next_word(fam, n, &i, &w, &wl)) {
    uint8_t got[20];
    if (w[0] == '$' && parse_fp(w, wl, got) == 0 && memcmp(got, id, 20) == 0) {
      return true;
    }
  }
  return false;
}

/* Do the two family-ids lines share an identifier? Both are capped by the
 * microdescriptor's line length, so the quadratic walk is bounded. */
static bool family_ids_meet(const char *x, size_t xn, const char *y, size_t yn) {
  const char *w, *v;
  size_t wl, vl, i = 0;
  while (next_word(x, xn, &i, &w, &wl)) {
    size_t j = 0;
    while (next_word(y, yn, &j, &v, &vl)) {
      if (wl == vl && memcmp(w, v, wl) == 0) {
        return true;
      }
    }
  }
  return false;
}

bool ep_netdir_same_family(const ep_relay_t *a, const ep_relay_t *b) {
  if (memcmp(a->rsa_id, b->rsa_id, 20) == 0) {
    return true;
  }
  if (a->family_ids != NULL && b->family_ids != NULL &&
      family_ids_meet(a->family_ids, a->family_ids_len, b->family_ids, b->family_ids_len)) {
    return true;
  }
  return (a->family != NULL && family_names(a->family, a->family_len, b->rsa_id)) ||
         (b->family != NULL && family_names(b->family, b->family_len, a->rsa_id));
}

bool ep_netdir_same_subnet(const ep_relay_t *a, const ep_relay_t *b) {
  if (a->ipv4 != 0 && (a->ipv4 >> 16) == (b->ipv4 >> 16)) {
    return true;
  }
  return a->has_ipv6 && b->has_ipv6 && memcmp(a->ipv6, b->ipv6, 4) == 0;
}

static int hop_cmp(const void *x, const void *y) {
  const ep_relay_t *a = *(const ep_relay_t *const *)x;
  const ep_relay_t *b = *(const ep_relay_t *const *)y;
  if (a->bandwidth != b->bandwidth) {
    return a->bandwidth > b->bandwidth ? -1 : 1;
  }
  return a < b ? -1 : a > b ? 1 : 0;  /* consensus order */
}

int ep_netdir_first_hops(const ep_netdir_t *nd, const ep_hop_query_t *q, const ep_relay_t ***out,
                         size_t *n, ep_err_t *err) {
  *out = NULL;
  *n = 0;
  const uint32_t need = EP_RS_RUNNING | EP_RS_VALID | EP_RS_FAST | EP_RS_STABLE | EP_RS_GUARD;
  const ep_relay_t **v = NULL;
  size_t nv = 0;
  if (nd->n > 0) {
    v = calloc(nd->n, sizeof *v);
    if (v == NULL) {
      return ep_err_set(err, EP_ERR_NOMEM, "first hops: out of memory");
    }
  }
  for (size_t i = 0; i < nd->n; i++) {
    const ep_relay_t *r = &nd->relays[i];
    if ((r->flags & need) != need || !r->has_ntor) {
      continue;
    }
    if (q != NULL && q->exit != NULL) {
      if (ep_netdir_same_family(r, q->exit)) {
        continue;
      }
      if (!q->allow_same_16 && ep_netdir_same_subnet(r, q->exit)) {
        continue;
      }
    }
    v[nv++] = r;
  }
  if (nv == 0) {
    free(v);
    return EP_OK;
  }
  qsort(v, nv, sizeof *v, hop_cmp);
  *out = v;
  *n = nv;
  return EP_OK;
}
