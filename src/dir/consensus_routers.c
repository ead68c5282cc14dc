/* exitprobe — consensus parsing: the router status entries (dir-spec
 * §3.4.1 "ns", §3.9.2 "microdesc"). ~6,000 entries and ~39,000 items per
 * consensus: this is the parser's hot path (bench/run-dir). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "dir/consensus_internal.h"
#include "lib/caps.h"
#include "lib/crypto.h"
#include "lib/vec.h"

#define R(kw, id, mn, mx, amin, amax, obj, pos) \
  { EP_DIR_KW(kw), id, mn, mx, amin, amax, EP_DIR_OBJ_##obj, EP_DIR_POS_##pos }
#define M EP_DIR_MANY

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

#undef R
#undef M

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
      const ep_cons_flagname_t *f = &c->known[k];
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
  int rc = EP_VEC_RESERVE(c->rs, c->alloc_rs, c->n_rs + 1, EP_CAP_DOC_ENTRIES, "router entries",
                          NULL);
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
  int order = c->n_rs > 0 ? memcmp(c->rs[c->n_rs - 1].identity, rs->identity, EP_SHA1_LEN) : -1;
  if (order == 0) {
    return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: a second router entry for the same identity",
                      c->doc, tok->lineno);
  }
  if (order > 0) {
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
 * An entry is what starts with 'r' (ep_cons_section_starting_with), so 'r' comes
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

int ep_cons_routers(ep_consensus_t *c, ep_dir_lexer_t *lx, ep_dir_tok_t *tok, ep_err_t *err) {
  rsec_t s;
  rsec_start(c, &s, tok->lineno);
  for (;;) {
    int rc = router_item(c, &s, tok, err);
    if (rc < 0) {
      return rc;
    }
    rc = ep_dir_next(lx, tok, err);
    if (rc <= 0) {
      return rc < 0 ? rc : rsec_finish(c, &s, err);
    }
    int next = ep_cons_section_starting_with(tok);
    if (next < 0) {
      continue;
    }
    if (next < EP_CS_ROUTERS) {
      return ep_cons_out_of_order(c, tok, EP_CS_ROUTERS, err);
    }
    rc = rsec_finish(c, &s, err);
    if (rc < 0 || next != EP_CS_ROUTERS) {
      return rc < 0 ? rc : 1;
    }
    rsec_start(c, &s, tok->lineno);
  }
}
