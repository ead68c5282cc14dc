/* exitprobe — consensus parsing (dir-spec §3.4.1, §3.9). */
#include "config.h"

#include "dir/consensus.h"

#include <stdlib.h>
#include <string.h>

#include "dir/sumpool.h"
#include "dir/token.h"
#include "lib/caps.h"
#include "lib/crypto.h"
#include "lib/encode.h"

/* Known flags we keep (64 is far more than the network has ever used). */
#define EP_CONS_MAX_KNOWN_FLAGS 64
/* Parameters / bandwidth weights kept. */
#define EP_CONS_MAX_PARAMS 1024
#define EP_CONS_MAX_DIR_SOURCES 256
#define EP_CONS_MAX_SIGNATURES 256
/* One RSA signature object (16384-bit keys at most). */
#define EP_CONS_MAX_SIG_LEN 2048

enum {
  /* header */
  K_NS_VERSION, K_VOTE_STATUS, K_CONS_METHOD, K_CONS_METHODS, K_PUBLISHED, K_VALID_AFTER,
  K_FRESH_UNTIL, K_VALID_UNTIL, K_VOTING_DELAY, K_CLIENT_VERSIONS, K_SERVER_VERSIONS, K_PACKAGE,
  K_KNOWN_FLAGS, K_REC_CLIENT, K_REC_RELAY, K_REQ_CLIENT, K_REQ_RELAY, K_PARAMS, K_SR_PREV,
  K_SR_CUR,
  /* authority section */
  K_DIR_SOURCE, K_CONTACT, K_VOTE_DIGEST,
  /* router entries */
  K_R, K_A, K_S, K_V, K_PR, K_W, K_P, K_M,
  /* footer */
  K_FOOTER, K_BW_WEIGHTS,
  K_SIGNATURE
};

#define R(kw, id, mn, mx, amin, amax, obj, pos) \
  { EP_DIR_KW(kw), id, mn, mx, amin, amax, EP_DIR_OBJ_##obj, EP_DIR_POS_##pos }
#define M EP_DIR_MANY

static const ep_dir_rule_t header_rules[] = {
  R("network-status-version", K_NS_VERSION, 1, 1, 1, M, FORBIDDEN, START),
  R("vote-status", K_VOTE_STATUS, 1, 1, 1, M, FORBIDDEN, ANY),
  R("consensus-method", K_CONS_METHOD, 1, 1, 1, 1, FORBIDDEN, ANY),
  R("consensus-methods", K_CONS_METHODS, 0, 0, 0, M, FORBIDDEN, ANY),  /* votes only */
  R("published", K_PUBLISHED, 0, 0, 0, M, FORBIDDEN, ANY),             /* votes only */
  R("valid-after", K_VALID_AFTER, 1, 1, 2, M, FORBIDDEN, ANY),
  R("fresh-until", K_FRESH_UNTIL, 1, 1, 2, M, FORBIDDEN, ANY),
  R("valid-until", K_VALID_UNTIL, 1, 1, 2, M, FORBIDDEN, ANY),
  R("voting-delay", K_VOTING_DELAY, 1, 1, 2, M, FORBIDDEN, ANY),
  R("client-versions", K_CLIENT_VERSIONS, 0, 1, 0, M, FORBIDDEN, ANY),
  R("server-versions", K_SERVER_VERSIONS, 0, 1, 0, M, FORBIDDEN, ANY),
  R("package", K_PACKAGE, 0, M, 4, M, FORBIDDEN, ANY),
  R("known-flags", K_KNOWN_FLAGS, 1, 1, 0, M, FORBIDDEN, ANY),
  R("recommended-client-protocols", K_REC_CLIENT, 0, 1, 0, M, FORBIDDEN, ANY),
  R("recommended-relay-protocols", K_REC_RELAY, 0, 1, 0, M, FORBIDDEN, ANY),
  R("required-client-protocols", K_REQ_CLIENT, 0, 1, 0, M, FORBIDDEN, ANY),
  R("required-relay-protocols", K_REQ_RELAY, 0, 1, 0, M, FORBIDDEN, ANY),
  R("params", K_PARAMS, 0, 1, 0, M, FORBIDDEN, ANY),
  R("shared-rand-previous-value", K_SR_PREV, 0, 1, 2, M, FORBIDDEN, ANY),
  R("shared-rand-current-value", K_SR_CUR, 0, 1, 2, M, FORBIDDEN, ANY),
};

static const ep_dir_rule_t auth_rules[] = {
  R("dir-source", K_DIR_SOURCE, 1, 1, 6, M, FORBIDDEN, START),
  R("contact", K_CONTACT, 0, 1, 0, M, FORBIDDEN, ANY),
  R("vote-digest", K_VOTE_DIGEST, 0, 1, 1, M, FORBIDDEN, ANY),
};

static const ep_dir_rule_t router_rules_ns[] = {
  R("r", K_R, 1, 1, 8, M, FORBIDDEN, START),
  R("a", K_A, 0, M, 1, M, FORBIDDEN, ANY),
  R("s", K_S, 1, 1, 0, M, FORBIDDEN, ANY),
  R("v", K_V, 0, 1, 1, M, FORBIDDEN, ANY),
  R("pr", K_PR, 0, 1, 0, M, FORBIDDEN, ANY),
  R("w", K_W, 0, 1, 1, M, FORBIDDEN, ANY),
  R("p", K_P, 0, 1, 0, M, FORBIDDEN, ANY),   /* "accept|reject PortList": checked by the summary parser */
};

static const ep_dir_rule_t router_rules_md[] = {
  R("r", K_R, 1, 1, 7, M, FORBIDDEN, START),
  R("a", K_A, 0, M, 1, M, FORBIDDEN, ANY),
  R("s", K_S, 1, 1, 0, M, FORBIDDEN, ANY),
  R("v", K_V, 0, 1, 1, M, FORBIDDEN, ANY),
  R("pr", K_PR, 0, 1, 0, M, FORBIDDEN, ANY),
  R("w", K_W, 0, 1, 1, M, FORBIDDEN, ANY),
  R("p", K_P, 0, 1, 2, M, FORBIDDEN, ANY),
  R("m", K_M, 1, 1, 1, M, FORBIDDEN, ANY),
};

static const ep_dir_rule_t footer_rules[] = {
  R("directory-footer", K_FOOTER, 1, 1, 0, 0, FORBIDDEN, START),
  R("bandwidth-weights", K_BW_WEIGHTS, 0, 1, 0, M, FORBIDDEN, ANY),
};

static const ep_dir_rule_t sig_rules[] = {
  R("directory-signature", K_SIGNATURE, 1, M, 2, M, REQUIRED, ANY),
};

#undef R
#undef M

typedef struct kv {
  const char *name;
  size_t name_len;
  int32_t value;
} kv_t;

typedef struct flagname {
  const char *name;
  size_t len;
  uint32_t bit;
} flagname_t;

struct ep_consensus {
  char *text;
  size_t len;
  size_t signed_len;
  ep_consensus_flavor_t flavor;
  const char *doc;
  int method;
  time_t valid_after, fresh_until, valid_until;
  uint32_t vote_delay, dist_delay;
  const char *texts[EP_CONS_N_TEXTS];
  size_t text_lens[EP_CONS_N_TEXTS];

  flagname_t known[EP_CONS_MAX_KNOWN_FLAGS];
  size_t n_known;

  kv_t *params;
  size_t n_params;
  kv_t *weights;
  size_t n_weights;

  ep_routerstatus_t *rs;
  size_t n_rs, alloc_rs;

  ep_dir_source_t *sources;
  size_t n_sources, alloc_sources;

  ep_dir_signature_t *sigs;
  size_t n_sigs, alloc_sigs;

  ep_sumpool_t sums;          /* policy summaries, shared by text */

  uint32_t *md_index;         /* open addressing over md digests: index+1 */
  size_t md_index_size;
};

static const flagname_t wellknown_flags[] = {
  {"Authority", 9, EP_RS_AUTHORITY}, {"BadExit", 7, EP_RS_BADEXIT},
  {"Exit", 4, EP_RS_EXIT},           {"Fast", 4, EP_RS_FAST},
  {"Guard", 5, EP_RS_GUARD},         {"HSDir", 5, EP_RS_HSDIR},
  {"MiddleOnly", 10, EP_RS_MIDDLEONLY}, {"NoEdConsensus", 13, EP_RS_NOEDCONSENSUS},
  {"Running", 7, EP_RS_RUNNING},     {"Stable", 6, EP_RS_STABLE},
  {"StaleDesc", 9, EP_RS_STALEDESC}, {"Sybil", 5, EP_RS_SYBIL},
  {"V2Dir", 5, EP_RS_V2DIR},         {"Valid", 5, EP_RS_VALID},
};

static int grow(void **arr, size_t *alloc, size_t need, size_t elem, size_t cap) {
  if (need <= *alloc) {
    return 0;
  }
  if (need > cap) {
    return EP_ERR_LIMIT;
  }
  size_t na = *alloc ? *alloc : 16;
  while (na < need) {
    na *= 2;
  }
  if (na > cap) {
    na = cap;
  }
  void *p = realloc(*arr, na * elem);
  if (p == NULL) {
    return EP_ERR_NOMEM;
  }
  *arr = p;
  *alloc = na;
  return 0;
}

void ep_consensus_free(ep_consensus_t *c) {
  if (c == NULL) {
    return;
  }
  for (size_t i = 0; i < c->n_sigs; i++) {
    free((void *)c->sigs[i].sig);
  }
  free(c->sigs);
  free(c->sources);
  free(c->rs);
  free(c->params);
  free(c->weights);
  ep_sumpool_free(&c->sums);
  free(c->md_index);
  free(c->text);
  free(c);
}

/* ---------- header items ---------- */

static int parse_kv_list(const ep_consensus_t *c, const ep_dir_tok_t *tok, kv_t **out, size_t *nout,
                         ep_err_t *err) {
  char eb[EP_DIR_ESC_BUF];
  size_t cap = ep_dir_tok_count_args(tok);
  if (cap > EP_CONS_MAX_PARAMS) {
    return ep_err_set(err, EP_ERR_LIMIT, "%s line %zu: more than %u parameters", c->doc,
                      tok->lineno, EP_CONS_MAX_PARAMS);
  }
  kv_t *v = calloc(cap ? cap : 1, sizeof *v);
  if (v == NULL) {
    return ep_err_set(err, EP_ERR_NOMEM, "%s: out of memory", c->doc);
  }
  size_t pos = 0, n = 0;
  const char *a;
  size_t al;
  while (ep_dir_arg_next(tok, &pos, &a, &al)) {
    const char *eq = memchr(a, '=', al);
    if (eq == NULL || eq == a) {
      free(v);
      return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: '%s' is not name=value", c->doc,
                        tok->lineno, ep_dir_esc(eb, sizeof eb, a, al));
    }
    size_t nl = (size_t)(eq - a);
    const char *num = eq + 1;
    size_t numl = al - nl - 1;
    bool neg = numl > 0 && num[0] == '-';
    uint64_t u;
    if (ep_dir_parse_uint(num + neg, numl - neg, neg ? 2147483648u : 2147483647u, &u) < 0) {
      free(v);
      return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: '%s' is not a 32-bit integer",
                        c->doc, tok->lineno, ep_dir_esc(eb, sizeof eb, a, al));
    }
    v[n].name = a;
    v[n].name_len = nl;
    v[n].value = neg ? (int32_t)(-(int64_t)u) : (int32_t)u;
    n++;
  }
  free(*out);
  *out = v;
  *nout = n;
  return 0;
}

static int parse_known_flags(ep_consensus_t *c, const ep_dir_tok_t *tok, ep_err_t *err) {
  size_t pos = 0;
  const char *a;
  size_t al;
  uint32_t next_extra = 16;
  c->n_known = 0;
  while (ep_dir_arg_next(tok, &pos, &a, &al)) {
    if (c->n_known >= EP_CONS_MAX_KNOWN_FLAGS) {
      return ep_err_set(err, EP_ERR_LIMIT, "%s line %zu: more than %u known flags", c->doc,
                        tok->lineno, EP_CONS_MAX_KNOWN_FLAGS);
    }
    uint32_t bit = 0;
    for (size_t i = 0; i < sizeof wellknown_flags / sizeof wellknown_flags[0]; i++) {
      if (wellknown_flags[i].len == al && memcmp(wellknown_flags[i].name, a, al) == 0) {
        bit = wellknown_flags[i].bit;
        break;
      }
    }
    if (bit == 0 && next_extra < 32) {
      bit = 1u << next_extra++;
    }
    c->known[c->n_known].name = a;
    c->known[c->n_known].len = al;
    c->known[c->n_known].bit = bit;
    c->n_known++;
  }
  return 0;
}

static int parse_header_tok(ep_consensus_t *c, const ep_dir_tok_t *tok, ep_err_t *err) {
  uint64_t u;
  switch (tok->id) {
    case K_NS_VERSION:
      if (!ep_dir_arg_eq(tok, 0, "3")) {
        return ep_err_set(err, EP_ERR_UNSUPPORTED, "%s line %zu: network-status-version is not 3",
                          c->doc, tok->lineno);
      }
      return 0;
    case K_VOTE_STATUS:
      if (!ep_dir_arg_eq(tok, 0, "consensus")) {
        return ep_err_set(err, EP_ERR_UNSUPPORTED, "%s line %zu: vote-status is not 'consensus'",
                          c->doc, tok->lineno);
      }
      return 0;
    case K_CONS_METHOD:
      if (ep_dir_arg_uint(tok, 0, 1000000, &u) < 0) {
        return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: bad consensus-method", c->doc,
                          tok->lineno);
      }
      c->method = (int)u;
      return 0;
    case K_CONS_METHODS:
    case K_PUBLISHED:
      return ep_err_set(err, EP_ERR_UNSUPPORTED, "%s line %zu: '%s' belongs in votes", c->doc,
                        tok->lineno, tok->rule->kw);
    case K_VALID_AFTER:
    case K_FRESH_UNTIL:
    case K_VALID_UNTIL: {
      time_t t;
      if (ep_dir_arg_time(tok, 0, &t) < 0) {
        return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: bad time in '%s'", c->doc,
                          tok->lineno, tok->rule->kw);
      }
      if (tok->id == K_VALID_AFTER) {
        c->valid_after = t;
      } else if (tok->id == K_FRESH_UNTIL) {
        c->fresh_until = t;
      } else {
        c->valid_until = t;
      }
      return 0;
    }
    case K_VOTING_DELAY: {
      uint64_t v, d;
      if (ep_dir_arg_uint(tok, 0, UINT32_MAX, &v) < 0 || ep_dir_arg_uint(tok, 1, UINT32_MAX, &d) < 0) {
        return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: bad voting-delay", c->doc,
                          tok->lineno);
      }
      c->vote_delay = (uint32_t)v;
      c->dist_delay = (uint32_t)d;
      return 0;
    }
    case K_CLIENT_VERSIONS:
    case K_SERVER_VERSIONS:
    case K_REC_CLIENT:
    case K_REC_RELAY:
    case K_REQ_CLIENT:
    case K_REQ_RELAY: {
      int which = tok->id == K_CLIENT_VERSIONS   ? EP_CONS_CLIENT_VERSIONS
                  : tok->id == K_SERVER_VERSIONS ? EP_CONS_SERVER_VERSIONS
                  : tok->id == K_REC_CLIENT      ? EP_CONS_RECOMMENDED_CLIENT_PROTOCOLS
                  : tok->id == K_REC_RELAY       ? EP_CONS_RECOMMENDED_RELAY_PROTOCOLS
                  : tok->id == K_REQ_CLIENT      ? EP_CONS_REQUIRED_CLIENT_PROTOCOLS
                                                 : EP_CONS_REQUIRED_RELAY_PROTOCOLS;
      c->texts[which] = tok->argstr;
      c->text_lens[which] = tok->argstr_len;
      return 0;
    }
    case K_KNOWN_FLAGS:
      return parse_known_flags(c, tok, err);
    case K_PARAMS:
      return parse_kv_list(c, tok, &c->params, &c->n_params, err);
    default:
      return 0;
  }
}

/* ---------- authority section ---------- */

static int parse_dir_source(ep_consensus_t *c, const ep_dir_tok_t *tok, ep_err_t *err) {
  int rc = grow((void **)&c->sources, &c->alloc_sources, c->n_sources + 1, sizeof *c->sources,
                EP_CONS_MAX_DIR_SOURCES);
  if (rc < 0) {
    return ep_err_set(err, rc, "%s line %zu: too many dir-source entries", c->doc, tok->lineno);
  }
  ep_dir_source_t *d = &c->sources[c->n_sources];
  memset(d, 0, sizeof *d);
  d->lineno = tok->lineno;
  size_t nl = tok->arglen[0];
  if (nl == 0 || nl >= sizeof d->nickname) {
    return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: bad dir-source nickname", c->doc,
                      tok->lineno);
  }
  memcpy(d->nickname, tok->args[0], nl);
  d->nickname[nl] = '\0';
  for (size_t i = 0; i < nl; i++) {
    char ch = d->nickname[i];
    if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
          ch == '-')) {
      return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: bad dir-source nickname", c->doc,
                        tok->lineno);
    }
  }
  d->legacy = nl > 7 && memcmp(d->nickname + nl - 7, "-legacy", 7) == 0;
  if (ep_dir_arg_hex(tok, 1, d->identity, EP_SHA1_LEN) < 0) {
    return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: bad dir-source identity", c->doc,
                      tok->lineno);
  }
  d->hostname = tok->args[2];
  d->hostname_len = tok->arglen[2];
  uint64_t dp, op;
  if (ep_dir_parse_ipv4(tok->args[3], tok->arglen[3], &d->ipv4) < 0 ||
      ep_dir_arg_uint(tok, 4, 65535, &dp) < 0 || ep_dir_arg_uint(tok, 5, 65535, &op) < 0) {
    return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: bad dir-source address or port", c->doc,
                      tok->lineno);
  }
  d->dir_port = (uint16_t)dp;
  d->or_port = (uint16_t)op;
  c->n_sources++;
  return 0;
}

static int finish_dir_source(ep_consensus_t *c, ep_dir_sec_t *sec, size_t line, ep_err_t *err) {
  int rc = ep_dir_sec_finish(sec, line, err);
  if (rc < 0) {
    return rc;
  }
  if (c->n_sources == 0) {
    return 0;
  }
  const ep_dir_source_t *d = &c->sources[c->n_sources - 1];
  if (!d->legacy && (d->contact == NULL || !d->has_vote_digest)) {
    return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: dir-source %s lacks %s", c->doc,
                      d->lineno, d->nickname, d->contact == NULL ? "'contact'" : "'vote-digest'");
  }
  return 0;
}

/* ---------- router entries ---------- */

static int intern_summary(ep_consensus_t *c, const ep_dir_tok_t *tok, uint32_t *idx, ep_err_t *err) {
  ep_err_t e2 = {0};
  int rc = ep_sumpool_intern(&c->sums, tok->argstr, tok->argstr_len, idx, &e2);
  if (rc < 0) {
    return ep_err_set(err, rc, "%s line %zu: 'p': %s", c->doc, tok->lineno, e2.msg);
  }
  return 0;
}

static int parse_flags(ep_consensus_t *c, ep_routerstatus_t *rs, const ep_dir_tok_t *tok) {
  size_t pos = 0, k = 0;
  const char *a;
  size_t al;
  uint32_t flags = 0;
  while (ep_dir_arg_next(tok, &pos, &a, &al)) {
    /* Both lists are sorted: walk forward from the last hit, wrap once. */
    for (size_t tries = 0; tries < c->n_known; tries++) {
      const flagname_t *f = &c->known[k];
      k = (k + 1 == c->n_known) ? 0 : k + 1;
      if (f->len == al && f->name[0] == a[0] && memcmp(f->name, a, al) == 0) {
        flags |= f->bit;
        break;
      }
    }
    /* A flag not in known-flags is ignored. */
  }
  rs->flags = flags;
  return 0;
}

static int parse_r(ep_consensus_t *c, const ep_dir_tok_t *tok, ep_err_t *err) {
  if (c->n_rs >= EP_CAP_DOC_ENTRIES) {
    return ep_err_set(err, EP_ERR_LIMIT, "%s line %zu: more than %u router entries", c->doc,
                      tok->lineno, EP_CAP_DOC_ENTRIES);
  }
  int rc = grow((void **)&c->rs, &c->alloc_rs, c->n_rs + 1, sizeof *c->rs, EP_CAP_DOC_ENTRIES);
  if (rc < 0) {
    return ep_err_set(err, rc, "%s line %zu: out of memory", c->doc, tok->lineno);
  }
  ep_routerstatus_t *rs = &c->rs[c->n_rs];
  memset(rs, 0, sizeof *rs);
  rs->lineno = tok->lineno;
  rs->policy_index = UINT32_MAX;
  if (!ep_dir_nickname_ok(tok->args[0], tok->arglen[0])) {
    return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: 'r' has a bad nickname", c->doc,
                      tok->lineno);
  }
  memcpy(rs->nickname, tok->args[0], tok->arglen[0]);
  rs->nickname[tok->arglen[0]] = '\0';
  if (ep_dir_arg_b64(tok, 1, rs->identity, EP_SHA1_LEN) < 0) {
    return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: 'r' has a bad identity", c->doc,
                      tok->lineno);
  }
  uint32_t i = 2;
  if (c->flavor == EP_FLAVOR_NS) {
    if (ep_dir_arg_b64(tok, 2, rs->digest, EP_SHA1_LEN) < 0) {
      return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: 'r' has a bad descriptor digest",
                        c->doc, tok->lineno);
    }
    i = 3;
  }
  if (ep_dir_arg_time(tok, i, &rs->published) < 0) {
    return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: 'r' has a bad publication time", c->doc,
                      tok->lineno);
  }
  uint64_t op, dp;
  if (ep_dir_parse_ipv4(tok->args[i + 2], tok->arglen[i + 2], &rs->ipv4) < 0) {
    return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: 'r' has a bad IPv4 address", c->doc,
                      tok->lineno);
  }
  if (ep_dir_arg_uint(tok, i + 3, 65535, &op) < 0 || ep_dir_arg_uint(tok, i + 4, 65535, &dp) < 0) {
    return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: 'r' has a bad port", c->doc, tok->lineno);
  }
  rs->or_port = (uint16_t)op;
  rs->dir_port = (uint16_t)dp;
  if (c->n_rs > 0 && memcmp(c->rs[c->n_rs - 1].identity, rs->identity, EP_SHA1_LEN) >= 0) {
    return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: router entries are not sorted by identity",
                      c->doc, tok->lineno);
  }
  c->n_rs++;
  return 0;
}

static int parse_router_tok(ep_consensus_t *c, const ep_dir_tok_t *tok, ep_err_t *err) {
  if (tok->id == K_R) {
    return parse_r(c, tok, err);
  }
  if (c->n_rs == 0) {
    return ep_err_set(err, EP_ERR_INTERNAL, "%s line %zu: entry item before 'r'", c->doc,
                      tok->lineno);
  }
  ep_routerstatus_t *rs = &c->rs[c->n_rs - 1];
  switch (tok->id) {
    case K_A: {
      int fam;
      uint8_t addr[16];
      uint16_t port;
      if (ep_dir_parse_addrport(tok->args[0], tok->arglen[0], &fam, addr, &port) < 0) {
        return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: 'a' has a bad address", c->doc,
                          tok->lineno);
      }
      if (fam == 6 && !rs->has_ipv6) {
        rs->has_ipv6 = true;
        memcpy(rs->ipv6, addr, 16);
        rs->ipv6_port = port;
      }
      return 0;
    }
    case K_S:
      return parse_flags(c, rs, tok);
    case K_V:
      if (tok->argstr_len > 1024) {
        return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: 'v' too long", c->doc, tok->lineno);
      }
      rs->version = tok->argstr;
      rs->version_len = (uint16_t)tok->argstr_len;
      return 0;
    case K_PR:
      if (tok->argstr_len > 4096) {
        return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: 'pr' too long", c->doc, tok->lineno);
      }
      rs->proto = tok->argstr;
      rs->proto_len = (uint16_t)tok->argstr_len;
      return 0;
    case K_W: {
      size_t pos = 0;
      const char *a;
      size_t al;
      while (ep_dir_arg_next(tok, &pos, &a, &al)) {
        uint64_t v;
        if (al > 10 && memcmp(a, "Bandwidth=", 10) == 0) {
          if (ep_dir_parse_uint(a + 10, al - 10, UINT32_MAX, &v) < 0) {
            return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: bad Bandwidth in 'w'", c->doc,
                              tok->lineno);
          }
          rs->bandwidth = (uint32_t)v;
          rs->has_bandwidth = true;
        } else if (al == 12 && memcmp(a, "Unmeasured=1", 12) == 0) {
          rs->unmeasured = true;
        }
      }
      return 0;
    }
    case K_P: {
      uint32_t idx;
      int rc = intern_summary(c, tok, &idx, err);
      if (rc < 0) {
        return rc;
      }
      rs->policy_index = idx;
      return 0;
    }
    case K_M:
      if (ep_dir_arg_b64(tok, 0, rs->digest, EP_SHA256_LEN) < 0) {
        return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: 'm' has a bad digest", c->doc,
                          tok->lineno);
      }
      return 0;
    default:
      return 0;
  }
}

/* The router entry section is checked without the generic section counter
 * (ep_dir_sec_*), ~39,000 times per consensus: the same rules from the same
 * tables (router_rules_ns/_md, whose order is K_R..K_M), the same messages.
 * An entry is what starts with 'r' (section_starting_with), so 'r' comes
 * first and once; every item may occur at most once ('a': any number), and
 * the items with min_n 1 must occur. */
typedef struct rsec {
  const ep_dir_rule_t *rules;
  size_t nrules;
  uint32_t seen;        /* bit (id - K_R) per item seen */
  size_t start_line;
} rsec_t;

static void rsec_start(const ep_consensus_t *c, rsec_t *s, size_t line) {
  if (c->flavor == EP_FLAVOR_NS) {
    s->rules = router_rules_ns;
    s->nrules = EP_DIR_NRULES(router_rules_ns);
  } else {
    s->rules = router_rules_md;
    s->nrules = EP_DIR_NRULES(router_rules_md);
  }
  s->seen = 0;
  s->start_line = line;
}

static int rsec_finish(const ep_consensus_t *c, const rsec_t *s, ep_err_t *err) {
  for (size_t i = 0; i < s->nrules; i++) {
    const ep_dir_rule_t *r = &s->rules[i];
    if (r->min_n > 0 && !(s->seen & (1u << i))) {
      return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: the router entry has no '%s' item",
                        c->doc, s->start_line, r->kw);
    }
  }
  return 0;
}

/* The rule of a router entry item (by its keyword), NULL if unknown. */
static const ep_dir_rule_t *rsec_rule(const rsec_t *s, const ep_dir_tok_t *tok) {
  size_t i;
  if (tok->kw_len == 1) {
    switch (tok->kw[0]) {
      case 'r': i = K_R - K_R; break;
      case 'a': i = K_A - K_R; break;
      case 's': i = K_S - K_R; break;
      case 'v': i = K_V - K_R; break;
      case 'w': i = K_W - K_R; break;
      case 'p': i = K_P - K_R; break;
      case 'm': i = K_M - K_R; break;
      default: return NULL;
    }
  } else if (tok->kw_len == 2 && tok->kw[0] == 'p' && tok->kw[1] == 'r') {
    i = K_PR - K_R;
  } else {
    return NULL;
  }
  return i < s->nrules ? &s->rules[i] : NULL;
}

static int router_item(ep_consensus_t *c, rsec_t *s, ep_dir_tok_t *tok, ep_err_t *err) {
  const ep_dir_rule_t *r = rsec_rule(s, tok);
  if (r == NULL) {
    return 0; /* unknown keyword: ignored */
  }
  int rc = ep_dir_match_rule(c->doc, r, tok, err);
  if (rc < 0) {
    return rc;
  }
  uint32_t bit = 1u << (r - s->rules);
  if (r->max_n != EP_DIR_MANY && (s->seen & bit)) {
    return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: '%s' may appear only once in the router entry",
                      c->doc, tok->lineno, r->kw);
  }
  s->seen |= bit;
  return parse_router_tok(c, tok, err);
}

/* ---------- signatures ---------- */

static int parse_signature(ep_consensus_t *c, ep_dir_tok_t *tok, ep_err_t *err) {
  int rc = grow((void **)&c->sigs, &c->alloc_sigs, c->n_sigs + 1, sizeof *c->sigs,
                EP_CONS_MAX_SIGNATURES);
  if (rc < 0) {
    return ep_err_set(err, rc, "%s line %zu: too many signatures", c->doc, tok->lineno);
  }
  ep_dir_signature_t *s = &c->sigs[c->n_sigs];
  memset(s, 0, sizeof *s);
  s->lineno = tok->lineno;
  uint32_t i = 0;
  ep_dir_tok_split(tok, 3);
  if (tok->nargs >= 3) {
    if (ep_dir_arg_eq(tok, 0, "sha1")) {
      s->alg = EP_SIG_SHA1;
    } else if (ep_dir_arg_eq(tok, 0, "sha256")) {
      s->alg = EP_SIG_SHA256;
    } else {
      s->alg = EP_SIG_UNKNOWN;
    }
    i = 1;
  } else {
    s->alg = EP_SIG_SHA1;
  }
  if (ep_dir_arg_hex(tok, i, s->identity, EP_SHA1_LEN) < 0 ||
      ep_dir_arg_hex(tok, i + 1, s->signing_key_digest, EP_SHA1_LEN) < 0) {
    if (s->alg == EP_SIG_UNKNOWN) {
      return 0; /* unknown algorithm: its arguments are not ours to judge */
    }
    return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: bad fingerprint in directory-signature",
                      c->doc, tok->lineno);
  }
  uint8_t *buf = malloc(EP_CONS_MAX_SIG_LEN);
  if (buf == NULL) {
    return ep_err_set(err, EP_ERR_NOMEM, "%s: out of memory", c->doc);
  }
  int n = ep_dir_obj_decode(c->doc, tok, "SIGNATURE", buf, EP_CONS_MAX_SIG_LEN, err);
  if (n < 0) {
    free(buf);
    return n;
  }
  s->sig = buf;
  s->sig_len = (size_t)n;
  c->n_sigs++;
  return 0;
}

/* ---------- the document ---------- */

enum section { S_HEADER, S_AUTH, S_ROUTERS, S_FOOTER, S_SIGS };

static int section_starting_with(const ep_dir_tok_t *tok) {
  switch (tok->kw_len) {
    case 1:
      return tok->kw[0] == 'r' ? S_ROUTERS : -1;
    case 10:
      return memcmp(tok->kw, "dir-source", 10) == 0 ? S_AUTH : -1;
    case 16:
      return memcmp(tok->kw, "directory-footer", 16) == 0 ? S_FOOTER : -1;
    case 19:
      return memcmp(tok->kw, "directory-signature", 19) == 0 ? S_SIGS : -1;
    default:
      return -1;
  }
}

static const char *section_name(int s) {
  switch (s) {
    case S_HEADER: return "preamble";
    case S_AUTH: return "authority section";
    case S_ROUTERS: return "router entry";
    case S_FOOTER: return "footer";
    default: return "signatures";
  }
}

static int finish_section(ep_consensus_t *c, int state, ep_dir_sec_t *sec, size_t line,
                          ep_err_t *err) {
  if (state == S_AUTH) {
    return finish_dir_source(c, sec, line, err);
  }
  return ep_dir_sec_finish(sec, line, err);
}

static void start_section(ep_consensus_t *c, int state, ep_dir_sec_t *sec) {
  switch (state) {
    case S_HEADER:
      ep_dir_sec_init(sec, c->doc, "preamble", header_rules, EP_DIR_NRULES(header_rules));
      break;
    case S_AUTH:
      ep_dir_sec_init(sec, c->doc, "authority section", auth_rules, EP_DIR_NRULES(auth_rules));
      break;
    case S_FOOTER:
      ep_dir_sec_init(sec, c->doc, "footer", footer_rules, EP_DIR_NRULES(footer_rules));
      break;
    default:
      ep_dir_sec_init(sec, c->doc, "signatures", sig_rules, EP_DIR_NRULES(sig_rules));
      break;
  }
}

static int finalize(ep_consensus_t *c, ep_err_t *err) {
  ep_sumpool_finalize(&c->sums);
  for (size_t i = 0; i < c->n_rs; i++) {
    ep_routerstatus_t *rs = &c->rs[i];
    rs->policy = rs->policy_index == UINT32_MAX ? NULL : ep_sumpool_get(&c->sums, rs->policy_index);
  }
  if (c->flavor == EP_FLAVOR_MICRODESC && c->n_rs > 0) {
    size_t sz = 16;
    while (sz < c->n_rs * 2) {
      sz *= 2;
    }
    c->md_index = calloc(sz, sizeof *c->md_index);
    if (c->md_index == NULL) {
      return ep_err_set(err, EP_ERR_NOMEM, "%s: out of memory", c->doc);
    }
    c->md_index_size = sz;
    for (size_t i = 0; i < c->n_rs; i++) {
      size_t slot = ep_get_u32(c->rs[i].digest) & (sz - 1);
      while (c->md_index[slot] != 0) {
        slot = (slot + 1) & (sz - 1);
      }
      c->md_index[slot] = (uint32_t)i + 1;
    }
  }
  return 0;
}

static ep_consensus_t *parse_text(char *text, size_t len, ep_err_t *err);

ep_consensus_t *ep_consensus_parse(const char *text, size_t len, ep_err_t *err) {
  if (len > EP_CAP_CONSENSUS) {
    ep_err_set(err, EP_ERR_LIMIT, "consensus: %zu bytes exceeds EP_CAP_CONSENSUS", len);
    return NULL;
  }
  char *copy = malloc(len + 1);
  if (copy == NULL) {
    ep_err_set(err, EP_ERR_NOMEM, "consensus: out of memory");
    return NULL;
  }
  memcpy(copy, text, len);
  copy[len] = '\0';
  return parse_text(copy, len, err);
}

ep_consensus_t *ep_consensus_parse_owned(char *text, size_t len, ep_err_t *err) {
  if (len > EP_CAP_CONSENSUS) {
    free(text);
    ep_err_set(err, EP_ERR_LIMIT, "consensus: %zu bytes exceeds EP_CAP_CONSENSUS", len);
    return NULL;
  }
  return parse_text(text, len, err);
}

/* Parse text[0..len), which the consensus owns from here on (freed with it,
 * or now on failure). */
static ep_consensus_t *parse_text(char *text, size_t len, ep_err_t *err) {
  char eb[EP_DIR_ESC_BUF];
  ep_consensus_t *c = calloc(1, sizeof *c);
  if (c == NULL) {
    free(text);
    ep_err_set(err, EP_ERR_NOMEM, "consensus: out of memory");
    return NULL;
  }
  c->text = text;
  c->len = len;
  c->doc = "consensus";
  /* Router entries average ~350 bytes: size the array once. */
  size_t guess = len / 300 + 16;
  if (guess > EP_CAP_DOC_ENTRIES) {
    guess = EP_CAP_DOC_ENTRIES;
  }
  if (grow((void **)&c->rs, &c->alloc_rs, guess, sizeof *c->rs, EP_CAP_DOC_ENTRIES) < 0) {
    ep_consensus_free(c);
    ep_err_set(err, EP_ERR_NOMEM, "consensus: out of memory");
    return NULL;
  }

  ep_dir_lexer_t lx;
  ep_dir_lexer_init(&lx, c->text, len, c->doc, 0);
  ep_dir_tok_t tok;
  ep_dir_sec_t sec;
  rsec_t rsec = {0};
  int state = S_HEADER;
  int rc;
  bool first = true;
  start_section(c, state, &sec);
  for (;;) {
    rc = ep_dir_next(&lx, &tok, err);
    if (rc < 0) {
      goto fail;
    }
    if (rc == 0) {
      break;
    }
    if (first) {
      first = false;
      ep_dir_tok_split(&tok, 2);
      if (!ep_dir_tok_is(&tok, "network-status-version")) {
        rc = ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: does not start with network-status-version",
                        c->doc, tok.lineno);
        goto fail;
      }
      if (tok.nargs >= 2 && ep_dir_arg_eq(&tok, 1, "microdesc")) {
        c->flavor = EP_FLAVOR_MICRODESC;
        c->doc = "microdesc consensus";
        lx.doc = c->doc;
        sec.doc = c->doc;
      } else if (tok.nargs >= 2 && !ep_dir_arg_eq(&tok, 1, "ns")) {
        rc = ep_err_set(err, EP_ERR_UNSUPPORTED, "%s line %zu: unknown consensus flavour '%s'",
                        c->doc, tok.lineno, ep_dir_esc(eb, sizeof eb, tok.args[1], tok.arglen[1]));
        goto fail;
      }
    }
    int next = section_starting_with(&tok);
    if (next >= 0) {
      if (next < state) {
        rc = ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: '%.*s' after the %s", c->doc,
                        tok.lineno, (int)tok.kw_len, tok.kw, section_name(state));
        goto fail;
      }
      if (next != state || next == S_AUTH || next == S_ROUTERS) {
        rc = state == S_ROUTERS ? rsec_finish(c, &rsec, err)
                                : finish_section(c, state, &sec, tok.lineno, err);
        if (rc < 0) {
          goto fail;
        }
        if (next == S_SIGS && state != S_SIGS) {
          c->signed_len = tok.offset + strlen("directory-signature ");
        }
        state = next;
        if (state == S_ROUTERS) {
          rsec_start(c, &rsec, tok.lineno);
        } else {
          start_section(c, state, &sec);
        }
      }
    }
    if (state == S_ROUTERS) {
      rc = router_item(c, &rsec, &tok, err);
      if (rc < 0) {
        goto fail;
      }
      continue;
    }
    rc = ep_dir_match(c->doc, sec.rules, sec.nrules, &tok, err);
    if (rc < 0) {
      goto fail;
    }
    rc = ep_dir_sec_add(&sec, &tok, err);
    if (rc < 0) {
      goto fail;
    }
    if (tok.rule == NULL) {
      continue; /* unknown keyword: ignored */
    }
    switch (state) {
      case S_HEADER:
        rc = parse_header_tok(c, &tok, err);
        break;
      case S_AUTH:
        if (tok.id == K_DIR_SOURCE) {
          rc = parse_dir_source(c, &tok, err);
        } else if (tok.id == K_CONTACT) {
          c->sources[c->n_sources - 1].contact = tok.argstr;
          c->sources[c->n_sources - 1].contact_len = tok.argstr_len;
        } else if (tok.id == K_VOTE_DIGEST) {
          ep_dir_source_t *d = &c->sources[c->n_sources - 1];
          if (ep_dir_arg_hex(&tok, 0, d->vote_digest, EP_SHA1_LEN) < 0) {
            rc = ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: bad vote-digest", c->doc,
                            tok.lineno);
          }
          d->has_vote_digest = true;
        }
        break;
      case S_FOOTER:
        if (tok.id == K_BW_WEIGHTS) {
          rc = parse_kv_list(c, &tok, &c->weights, &c->n_weights, err);
        }
        break;
      default:
        rc = parse_signature(c, &tok, err);
        break;
    }
    if (rc < 0) {
      goto fail;
    }
  }
  if (first) {
    rc = ep_err_set(err, EP_ERR_TRUNCATED, "%s: empty document", c->doc);
    goto fail;
  }
  rc = state == S_ROUTERS ? rsec_finish(c, &rsec, err) : finish_section(c, state, &sec, lx.lineno, err);
  if (rc < 0) {
    goto fail;
  }
  if (c->n_sources == 0) {
    rc = ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: no dir-source entries", c->doc,
                    lx.lineno);
    goto fail;
  }
  if (state != S_SIGS) {
    rc = ep_err_set(err, EP_ERR_TRUNCATED, "%s line %zu: no directory-signature (truncated?)",
                    c->doc, lx.lineno);
    goto fail;
  }
  if (c->valid_after > c->fresh_until || c->fresh_until > c->valid_until) {
    rc = ep_err_set(err, EP_ERR_MALFORMED, "%s: valid-after, fresh-until, valid-until out of order",
                    c->doc);
    goto fail;
  }
  rc = finalize(c, err);
  if (rc < 0) {
    goto fail;
  }
  return c;
fail:
  ep_consensus_free(c);
  return NULL;
}

/* ---------- accessors ---------- */

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
  if (c->md_index_size == 0) {
    return -1;
  }
  size_t sz = c->md_index_size;
  size_t slot = ep_get_u32(d) & (sz - 1);
  while (c->md_index[slot] != 0) {
    uint32_t i = c->md_index[slot] - 1;
    if (memcmp(c->rs[i].digest, d, EP_SHA256_LEN) == 0) {
      return (long)i;
    }
    slot = (slot + 1) & (sz - 1);
  }
  return -1;
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

static const kv_t *kv_find(const kv_t *v, size_t n, const char *name) {
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
  const kv_t *kv = kv_find(c->params, c->n_params, name);
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
  const kv_t *kv = kv_find(c->weights, c->n_weights, name);
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

bool ep_dir_proto_supports(const char *list, size_t len, const char *name, unsigned v) {
  size_t nl = strlen(name);
  size_t i = 0;
  while (i < len) {
    while (i < len && list[i] == ' ') {
      i++;
    }
    size_t a = i;
    while (i < len && list[i] != ' ') {
      i++;
    }
    const char *ent = list + a;
    size_t el = i - a;
    const char *eq = memchr(ent, '=', el);
    if (eq == NULL || (size_t)(eq - ent) != nl || memcmp(ent, name, nl) != 0) {
      continue;
    }
    const char *r = eq + 1;
    size_t rl = el - nl - 1;
    size_t j = 0;
    while (j < rl) {
      size_t b = j;
      while (j < rl && r[j] != ',') {
        j++;
      }
      const char *it = r + b;
      size_t il = j - b;
      const char *dash = memchr(it, '-', il);
      uint64_t lo, hi;
      if (dash == NULL) {
        if (ep_dir_parse_uint(it, il, 63, &lo) < 0) {
          return false;
        }
        hi = lo;
      } else if (ep_dir_parse_uint(it, (size_t)(dash - it), 63, &lo) < 0 ||
                 ep_dir_parse_uint(dash + 1, il - (size_t)(dash - it) - 1, 63, &hi) < 0) {
        return false;
      }
      if (v >= lo && v <= hi) {
        return true;
      }
      j++;
    }
  }
  return false;
}
