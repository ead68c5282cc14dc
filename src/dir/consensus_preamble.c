/* exitprobe — consensus parsing: the preamble and the authority section
 * (dir-spec §3.4.1). The sections' rules are in consensus.c. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "dir/consensus_internal.h"
#include "lib/caps.h"
#include "lib/crypto.h"
#include "lib/vec.h"

static const ep_cons_flagname_t wellknown_flags[] = {
  {"Authority", 9, EP_RS_AUTHORITY}, {"BadExit", 7, EP_RS_BADEXIT},
  {"Exit", 4, EP_RS_EXIT},           {"Fast", 4, EP_RS_FAST},
  {"Guard", 5, EP_RS_GUARD},         {"HSDir", 5, EP_RS_HSDIR},
  {"MiddleOnly", 10, EP_RS_MIDDLEONLY}, {"NoEdConsensus", 13, EP_RS_NOEDCONSENSUS},
  {"Running", 7, EP_RS_RUNNING},     {"Stable", 6, EP_RS_STABLE},
  {"StaleDesc", 9, EP_RS_STALEDESC}, {"Sybil", 5, EP_RS_SYBIL},
  {"V2Dir", 5, EP_RS_V2DIR},         {"Valid", 5, EP_RS_VALID},
};

/* ---------- header items ---------- */

int ep_cons_kv_list(const ep_consensus_t *c, const ep_dir_tok_t *tok, ep_cons_kv_t **out,
                    size_t *nout, ep_err_t *err) {
  char eb[EP_DIR_ESC_BUF];
  size_t cap = ep_dir_tok_count_args(tok);
  if (cap > EP_CONS_MAX_PARAMS) {
    return ep_err_set(err, EP_ERR_LIMIT, "%s line %zu: more than %u parameters", c->doc,
                      tok->lineno, EP_CONS_MAX_PARAMS);
  }
  ep_cons_kv_t *v = calloc(cap ? cap : 1, sizeof *v);
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

int ep_cons_header_item(ep_consensus_t *c, const ep_dir_tok_t *tok, ep_err_t *err) {
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
      return ep_cons_kv_list(c, tok, &c->params, &c->n_params, err);
    default:
      return 0;
  }
}

/* ---------- authority section ---------- */

static int parse_dir_source(ep_consensus_t *c, const ep_dir_tok_t *tok, ep_err_t *err) {
  int rc = EP_VEC_RESERVE(c->sources, c->alloc_sources, c->n_sources + 1, EP_CONS_MAX_DIR_SOURCES,
                          "dir-source entries", NULL);
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

int ep_cons_auth_finish(ep_consensus_t *c, ep_dir_sec_t *sec, size_t line, ep_err_t *err) {
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

int ep_cons_auth_item(ep_consensus_t *c, const ep_dir_tok_t *tok, ep_err_t *err) {
  if (tok->id == K_DIR_SOURCE) {
    return parse_dir_source(c, tok, err);
  }
  if (tok->id != K_CONTACT && tok->id != K_VOTE_DIGEST) {
    return 0;
  }
  /* The section starts with its dir-source (EP_DIR_POS_START). */
  ep_dir_source_t *d = &c->sources[c->n_sources - 1];
  if (tok->id == K_CONTACT) {
    d->contact = tok->argstr;
    d->contact_len = tok->argstr_len;
  } else {
    d->has_vote_digest = true;
    if (ep_dir_arg_hex(tok, 0, d->vote_digest, EP_SHA1_LEN) < 0) {
      return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: bad vote-digest", c->doc,
                        tok->lineno);
    }
  }
  return 0;
}
