/* exitprobe — the accessors of a parsed consensus (consensus.h), and
 * ep_dir_proto_supports. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "dir/consensus_internal.h"
#include "lib/crypto.h"
#include "lib/encode.h"

ep_consensus_flavor_t ep_consensus_flavor(const ep_consensus_t *c) { return c->flavor; }

const char *ep_consensus_flavor_name(const ep_consensus_t *c) {
  return c->flavor == EP_FLAVOR_MICRODESC ? "microdesc" : "ns";
}

const char *ep_consensus_doc_name(const ep_consensus_t *c) { return c->doc; }
int ep_consensus_method(const ep_consensus_t *c) { return c->method; }
time_t ep_consensus_valid_after(const ep_consensus_t *c) { return c->valid_after; }
time_t ep_consensus_fresh_until(const ep_consensus_t *c) { return c->fresh_until; }
time_t ep_consensus_valid_until(const ep_consensus_t *c) { return c->valid_until; }

void ep_consensus_voting_delay(const ep_consensus_t *c, uint32_t *vote_s, uint32_t *dist_s) {
  *vote_s = c->vote_delay;
  *dist_s = c->dist_delay;
}

size_t ep_consensus_n_routers(const ep_consensus_t *c) { return c->n_rs; }

const ep_routerstatus_t *ep_consensus_router(const ep_consensus_t *c, size_t i) {
  return i < c->n_rs ? &c->rs[i] : NULL;
}

long ep_consensus_find_identity(const ep_consensus_t *c, const uint8_t id[EP_SHA1_LEN]) {
  size_t lo = 0, hi = c->n_rs;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int cmp = memcmp(c->rs[mid].identity, id, EP_SHA1_LEN);
    if (cmp == 0) {
      return (long)mid;
    }
    if (cmp < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return -1;
}

long ep_consensus_find_md(const ep_consensus_t *c, const uint8_t d[EP_SHA256_LEN]) {
  if (c->n_rs == 0) {
    return -1;
  }
  return ep_dir_digestidx_find(&c->md_index, c->rs[0].digest, sizeof *c->rs, d);
}

const ep_policy_summary_t *ep_routerstatus_policy(const ep_routerstatus_t *rs) {
  return rs->policy != NULL ? rs->policy : ep_policy_summary_reject_all();
}

uint32_t ep_consensus_flag_mask(const ep_consensus_t *c, const char *name) {
  size_t n = strlen(name);
  for (size_t i = 0; i < c->n_known; i++) {
    if (c->known[i].len == n && memcmp(c->known[i].name, name, n) == 0) {
      return c->known[i].bit;
    }
  }
  return 0;
}

size_t ep_consensus_n_known_flags(const ep_consensus_t *c) { return c->n_known; }

const char *ep_consensus_known_flag(const ep_consensus_t *c, size_t i, size_t *len) {
  if (i >= c->n_known) {
    *len = 0;
    return NULL;
  }
  *len = c->known[i].len;
  return c->known[i].name;
}

static const ep_cons_kv_t *kv_find(const ep_cons_kv_t *v, size_t n, const char *name) {
  size_t l = strlen(name);
  for (size_t i = 0; i < n; i++) {
    if (v[i].name_len == l && memcmp(v[i].name, name, l) == 0) {
      return &v[i];
    }
  }
  return NULL;
}

int32_t ep_consensus_param(const ep_consensus_t *c, const char *name, int32_t dflt, int32_t min,
                           int32_t max) {
  const ep_cons_kv_t *kv = kv_find(c->params, c->n_params, name);
  int32_t v = kv ? kv->value : dflt;
  if (v < min) {
    v = min;
  }
  if (v > max) {
    v = max;
  }
  return v;
}

bool ep_consensus_bw_weight(const ep_consensus_t *c, const char *name, int32_t *out) {
  const ep_cons_kv_t *kv = kv_find(c->weights, c->n_weights, name);
  if (kv == NULL) {
    return false;
  }
  *out = kv->value;
  return true;
}

const char *ep_consensus_text(const ep_consensus_t *c, ep_consensus_text_t which, size_t *len) {
  if ((int)which < 0 || which >= EP_CONS_N_TEXTS) {
    *len = 0;
    return NULL;
  }
  *len = c->text_lens[which];
  return c->texts[which];
}

size_t ep_consensus_n_dir_sources(const ep_consensus_t *c) { return c->n_sources; }

const ep_dir_source_t *ep_consensus_dir_source(const ep_consensus_t *c, size_t i) {
  return i < c->n_sources ? &c->sources[i] : NULL;
}

size_t ep_consensus_n_signatures(const ep_consensus_t *c) { return c->n_sigs; }

const ep_dir_signature_t *ep_consensus_signature(const ep_consensus_t *c, size_t i) {
  return i < c->n_sigs ? &c->sigs[i] : NULL;
}

void ep_consensus_signed_range(const ep_consensus_t *c, const char **text, size_t *len) {
  *text = c->text;
  *len = c->signed_len;
}

size_t ep_consensus_signed_digest(const ep_consensus_t *c, ep_sig_alg_t alg,
                                  uint8_t out[EP_SHA256_LEN]) {
  if (alg == EP_SIG_SHA1) {
    ep_sha1(out, c->text, c->signed_len);
    return EP_SHA1_LEN;
  }
  if (alg == EP_SIG_SHA256) {
    ep_sha256(out, c->text, c->signed_len);
    return EP_SHA256_LEN;
  }
  return 0;
}

/* The next field of s[0..n) from *pos: up to the next sep or the end. False
 * when *pos is at the end. */
static bool next_field(const char *s, size_t n, char sep, size_t *pos, const char **f, size_t *fl) {
  if (*pos >= n) {
    return false;
  }
  const char *end = memchr(s + *pos, sep, n - *pos);
  size_t e = end != NULL ? (size_t)(end - s) : n;
  *f = s + *pos;
  *fl = e - *pos;
  *pos = e + 1;
  return true;
}

bool ep_dir_proto_supports(const char *list, size_t len, const char *name, unsigned v) {
  size_t nl = strlen(name);
  size_t pos = 0;
  const char *ent;
  size_t el;
  while (next_field(list, len, ' ', &pos, &ent, &el)) {
    /* "Name=ranges"; name has no '=' */
    if (el <= nl || ent[nl] != '=' || memcmp(ent, name, nl) != 0 || memchr(ent, '=', nl) != NULL) {
      continue;
    }
    const char *r = ent + nl + 1;
    size_t rl = el - nl - 1, rpos = 0;
    const char *it;
    size_t il;
    while (next_field(r, rl, ',', &rpos, &it, &il)) {
      uint64_t lo, hi;
      if (ep_dir_parse_range(it, il, 63, &lo, &hi) < 0) {
        return false;
      }
      if (v >= lo && v <= hi) {
        return true;
      }
    }
  }
  return false;
}
