/* exitprobe — consensus parsing (dir-spec §3.4.1, §3.9): the document, its
 * sections and their rules, and the driver that walks them. The items of
 * each section are parsed in consensus_preamble.c, consensus_routers.c and
 * consensus_footer.c (see consensus_internal.h). */
#include "config.h"

#include "dir/consensus.h"

#include <stdlib.h>
#include <string.h>

#include "dir/consensus_internal.h"
#include "lib/caps.h"
#include "lib/crypto.h"
#include "lib/encode.h"
#include "lib/vec.h"

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

static const ep_dir_rule_t footer_rules[] = {
  R("directory-footer", K_FOOTER, 1, 1, 0, 0, FORBIDDEN, START),
  R("bandwidth-weights", K_BW_WEIGHTS, 0, 1, 0, M, FORBIDDEN, ANY),
};

static const ep_dir_rule_t sig_rules[] = {
  R("directory-signature", K_SIGNATURE, 1, M, 2, M, REQUIRED, ANY),
};

#undef R
#undef M

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
  ep_dir_digestidx_free(&c->md_index);
  free(c->text);
  free(c);
}

/* ---------- the document ---------- */

static const char *section_name(int s) {
  switch (s) {
    case EP_CS_HEADER: return "preamble";
    case EP_CS_AUTH: return "authority section";
    case EP_CS_ROUTERS: return "router entry";
    case EP_CS_FOOTER: return "footer";
    default: return "signatures";
  }
}

int ep_cons_out_of_order(const ep_consensus_t *c, const ep_dir_tok_t *tok, int section,
                         ep_err_t *err) {
  return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: '%.*s' after the %s", c->doc, tok->lineno,
                    (int)tok->kw_len, tok->kw, section_name(section));
}

static int finish_section(ep_consensus_t *c, int state, ep_dir_sec_t *sec, size_t line,
                          ep_err_t *err) {
  if (state == EP_CS_AUTH) {
    return ep_cons_auth_finish(c, sec, line, err);
  }
  return ep_dir_sec_finish(sec, line, err);
}

static void start_section(ep_consensus_t *c, int state, ep_dir_sec_t *sec) {
  switch (state) {
    case EP_CS_HEADER:
      ep_dir_sec_init(sec, c->doc, "preamble", header_rules, EP_DIR_NRULES(header_rules));
      break;
    case EP_CS_AUTH:
      ep_dir_sec_init(sec, c->doc, "authority section", auth_rules, EP_DIR_NRULES(auth_rules));
      break;
    case EP_CS_FOOTER:
      ep_dir_sec_init(sec, c->doc, "footer", footer_rules, EP_DIR_NRULES(footer_rules));
      break;
    default:
      ep_dir_sec_init(sec, c->doc, "signatures", sig_rules, EP_DIR_NRULES(sig_rules));
      break;
  }
}

/* One item of a section other than the router entries. */
static int section_item(ep_consensus_t *c, int state, ep_dir_sec_t *sec, ep_dir_tok_t *tok,
                        ep_err_t *err) {
  int rc = ep_dir_match(c->doc, sec->rules, sec->nrules, tok, err);
  if (rc < 0) {
    return rc;
  }
  rc = ep_dir_sec_add(sec, tok, err);
  if (rc < 0) {
    return rc;
  }
  if (tok->rule == NULL) {
    return 0; /* unknown keyword: ignored */
  }
  switch (state) {
    case EP_CS_HEADER:
      return ep_cons_header_item(c, tok, err);
    case EP_CS_AUTH:
      return ep_cons_auth_item(c, tok, err);
    case EP_CS_FOOTER:
      return ep_cons_footer_item(c, tok, err);
    default:
      return ep_cons_signature_item(c, tok, err);
  }
}

/* The first item: "network-status-version 3 [flavour]", which names the
 * flavour. Returns 1 with tok that item, or an error (an empty document is
 * one). */
static int first_item(ep_consensus_t *c, ep_dir_lexer_t *lx, ep_dir_tok_t *tok, ep_err_t *err) {
  char eb[EP_DIR_ESC_BUF];
  int rc = ep_dir_next(lx, tok, err);
  if (rc <= 0) {
    return rc < 0 ? rc : ep_err_set(err, EP_ERR_TRUNCATED, "%s: empty document", c->doc);
  }
  ep_dir_tok_split(tok, 2);
  if (!ep_dir_tok_is(tok, "network-status-version")) {
    return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: does not start with network-status-version",
                      c->doc, tok->lineno);
  }
  if (tok->nargs >= 2 && ep_dir_arg_eq(tok, 1, "microdesc")) {
    c->flavor = EP_FLAVOR_MICRODESC;
    c->doc = "microdesc consensus";
    lx->doc = c->doc;
  } else if (tok->nargs >= 2 && !ep_dir_arg_eq(tok, 1, "ns")) {
    return ep_err_set(err, EP_ERR_UNSUPPORTED, "%s line %zu: unknown consensus flavour '%s'",
                      c->doc, tok->lineno, ep_dir_esc(eb, sizeof eb, tok->args[1], tok->arglen[1]));
  }
  return 1;
}

/* Leave section *state for section next, which tok starts: check the order,
 * finish the section (the router entries finish themselves), note where
 * the signed text ends. */
static int leave_section(ep_consensus_t *c, int state, int next, ep_dir_sec_t *sec,
                         const ep_dir_tok_t *tok, ep_err_t *err) {
  if (next < state) {
    return ep_cons_out_of_order(c, tok, state, err);
  }
  if (state != EP_CS_ROUTERS) {
    int rc = finish_section(c, state, sec, tok->lineno, err);
    if (rc < 0) {
      return rc;
    }
  }
  if (next == EP_CS_SIGS && state != EP_CS_SIGS) {
    c->signed_len = tok->offset + strlen("directory-signature ");
  }
  return 0;
}

/* The checks of the whole document, once all of it is read in section state. */
static int end_of_document(ep_consensus_t *c, int state, ep_dir_sec_t *sec, size_t line,
                           ep_err_t *err) {
  int rc = state == EP_CS_ROUTERS ? 0 : finish_section(c, state, sec, line, err);
  if (rc < 0) {
    return rc;
  }
  if (c->n_sources == 0) {
    return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: no dir-source entries", c->doc, line);
  }
  if (state != EP_CS_SIGS) {
    return ep_err_set(err, EP_ERR_TRUNCATED, "%s line %zu: no directory-signature (truncated?)",
                      c->doc, line);
  }
  if (c->valid_after > c->fresh_until || c->fresh_until > c->valid_until) {
    return ep_err_set(err, EP_ERR_MALFORMED, "%s: valid-after, fresh-until, valid-until out of order",
                      c->doc);
  }
  return 0;
}

/* Every item of the document, section by section. */
static int parse_sections(ep_consensus_t *c, ep_dir_lexer_t *lx, ep_err_t *err) {
  ep_dir_tok_t tok;
  ep_dir_sec_t sec;
  int state = EP_CS_HEADER;
  int rc = first_item(c, lx, &tok, err);
  start_section(c, state, &sec);
  while (rc > 0) {
    int next = ep_cons_section_starting_with(&tok);
    if (next >= 0 && (next != state || next == EP_CS_AUTH)) {
      rc = leave_section(c, state, next, &sec, &tok, err);
      if (rc < 0) {
        return rc;
      }
      state = next;
      if (state == EP_CS_ROUTERS) {
        rc = ep_cons_routers(c, lx, &tok, err);
        continue;
      }
      start_section(c, state, &sec);
    }
    rc = section_item(c, state, &sec, &tok, err);
    if (rc < 0) {
      return rc;
    }
    rc = ep_dir_next(lx, &tok, err);
  }
  return rc < 0 ? rc : end_of_document(c, state, &sec, lx->lineno, err);
}

static int finalize(ep_consensus_t *c, ep_err_t *err) {
  ep_sumpool_finalize(&c->sums);
  for (size_t i = 0; i < c->n_rs; i++) {
    ep_routerstatus_t *rs = &c->rs[i];
    rs->policy = rs->policy_index == UINT32_MAX ? NULL : ep_sumpool_get(&c->sums, rs->policy_index);
  }
  if (c->flavor == EP_FLAVOR_MICRODESC && c->n_rs > 0) {
    if (ep_dir_digestidx_build(&c->md_index, c->rs[0].digest, c->n_rs, sizeof *c->rs) < 0) {
      return ep_err_set(err, EP_ERR_NOMEM, "%s: out of memory", c->doc);
    }
  }
  return 0;
}

/* Parse text[0..len), which the consensus owns from here on (freed with it,
 * or now on failure). */
static ep_consensus_t *parse_text(char *text, size_t len, ep_err_t *err) {
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
  if (EP_VEC_RESERVE(c->rs, c->alloc_rs, guess, EP_CAP_DOC_ENTRIES, "router entries", NULL) < 0) {
    ep_consensus_free(c);
    ep_err_set(err, EP_ERR_NOMEM, "consensus: out of memory");
    return NULL;
  }
  ep_dir_lexer_t lx;
  ep_dir_lexer_init(&lx, c->text, len, c->doc, 0);
  int rc = parse_sections(c, &lx, err);
  if (rc >= 0) {
    rc = finalize(c, err);
  }
  if (rc < 0) {
    ep_consensus_free(c);
    return NULL;
  }
  return c;
}

ep_consensus_t *ep_consensus_parse(const char *text, size_t len, ep_err_t *err) {
  /* A CollecTor file's "@type network-status-... 1.0" line is not signed:
   * the document starts after it. */
  size_t skip = ep_dir_type_annotation_len(text, len);
  text += skip;
  len -= skip;
  char *copy = ep_dir_copy_text("consensus", text, len, EP_CAP_CONSENSUS, "EP_CAP_CONSENSUS", err);
  return copy != NULL ? parse_text(copy, len, err) : NULL;
}

ep_consensus_t *ep_consensus_parse_owned(char *text, size_t len, ep_err_t *err) {
  if (len > EP_CAP_CONSENSUS) {
    free(text);
    ep_err_set(err, EP_ERR_LIMIT, "consensus: %zu bytes exceeds EP_CAP_CONSENSUS", len);
    return NULL;
  }
  return parse_text(text, len, err);
}
