/* exitprobe — microdescriptors (dir-spec §3.3). */
#include "config.h"

#include "dir/microdesc.h"

#include <stdlib.h>
#include <string.h>

#include "dir/digestidx.h"
#include "dir/sumpool.h"
#include "dir/token.h"
#include "lib/caps.h"
#include "lib/encode.h"
#include "lib/vec.h"

#define EP_MD_MAX 1000000u
#define EP_MD_MAX_KEY 4096

static const char DOC[] = "microdescriptors";

enum { K_ONION_KEY, K_NTOR, K_A, K_FAMILY, K_FAMILY_IDS, K_P, K_P6, K_ID };

#define R(kw, id, mn, mx, amin, amax, obj) \
  { EP_DIR_KW(kw), id, mn, mx, amin, amax, EP_DIR_OBJ_##obj, EP_DIR_POS_ANY }
#define M EP_DIR_MANY
static const ep_dir_rule_t md_rules[] = {
  R("onion-key", K_ONION_KEY, 0, 1, 0, 0, REQUIRED),
  R("ntor-onion-key", K_NTOR, 1, 1, 1, M, FORBIDDEN),
  R("a", K_A, 0, M, 1, M, FORBIDDEN),
  R("family", K_FAMILY, 0, 1, 0, M, FORBIDDEN),
  R("family-ids", K_FAMILY_IDS, 0, 1, 1, M, FORBIDDEN),
  R("p", K_P, 0, 1, 2, M, FORBIDDEN),
  R("p6", K_P6, 0, 1, 2, M, FORBIDDEN),
  R("id", K_ID, 0, M, 2, M, FORBIDDEN),
};
#undef R
#undef M

struct ep_microdescs {
  char *text;
  size_t len;
  ep_microdesc_t *v;
  size_t n, alloc;
  ep_sumpool_t sums;
  uint8_t (*invalid)[EP_SHA256_LEN];
  size_t n_invalid, alloc_invalid;
  char first_error[EP_ERR_MSG_MAX];
  ep_dir_digestidx_t index;  /* over the digests of v */
  bool pool_full;            /* the list-wide summary pool hit its cap (fatal) */
};

void ep_microdescs_free(ep_microdescs_t *l) {
  if (l == NULL) {
    return;
  }
  ep_sumpool_free(&l->sums);
  free(l->v);
  free(l->invalid);
  ep_dir_digestidx_free(&l->index);
  free(l->text);
  free(l);
}

size_t ep_microdescs_count(const ep_microdescs_t *l) { return l == NULL ? 0 : l->n; }

const ep_microdesc_t *ep_microdescs_get(const ep_microdescs_t *l, size_t i) {
  return (l == NULL || i >= l->n) ? NULL : &l->v[i];
}

size_t ep_microdescs_n_invalid(const ep_microdescs_t *l) { return l == NULL ? 0 : l->n_invalid; }

const uint8_t *ep_microdescs_invalid_digest(const ep_microdescs_t *l, size_t i) {
  return (l == NULL || i >= l->n_invalid) ? NULL : l->invalid[i];
}

const char *ep_microdescs_first_error(const ep_microdescs_t *l) {
  return (l == NULL || l->first_error[0] == '\0') ? NULL : l->first_error;
}

/* Where microdescriptors start (tor's rule, extended for microdescriptors
 * without onion-key), one line at a time: an annotation after body lines,
 * an "onion-key" after body lines, an "ntor-onion-key" after body lines
 * other than a lone "onion-key" item, or the first line that is none of a
 * blank line or an object's; object lines ("-----BEGIN " to "-----END ")
 * start nothing. Parsing runs this rule alongside the lexer, in one pass:
 * the state after a start line depends on that line alone, so each
 * microdescriptor starts from a fresh state. */
typedef struct mdsplit {
  bool in_obj, seen_body, only_onion, started;
} mdsplit_t;

/* Does the line at l (up to n bytes of the text are readable from l) begin
 * with keyword kw followed by a blank, a newline or the end of the text? */
static bool line_is_kw(const char *l, size_t n, const char *kw, size_t k) {
  /* '\r' ends a keyword too: a CRLF file splits where an LF one does, and
   * each microdescriptor is then one malformed one, not two (findings) */
  return n >= k && memcmp(l, kw, k) == 0 &&
         (n == k || l[k] == ' ' || l[k] == '\t' || l[k] == '\n' || l[k] == '\r');
}

/* A keyword or annotation line at l (n bytes readable from there) through
 * the rule, outside objects: true if a microdescriptor starts here. */
static bool split_item_line(mdsplit_t *st, const char *l, size_t n) {
  bool start_here;
  if (l[0] == '@') {
    start_here = st->seen_body || !st->started;
    st->seen_body = false;
    st->only_onion = false;
  } else if (line_is_kw(l, n, "onion-key", 9)) {
    start_here = st->seen_body || !st->started;
    st->seen_body = true;
    st->only_onion = true;
  } else if (line_is_kw(l, n, "ntor-onion-key", 14)) {
    start_here = (st->seen_body && !st->only_onion) || !st->started;
    st->seen_body = true;
    st->only_onion = false;
  } else {
    start_here = !st->started;
    st->seen_body = true;
    st->only_onion = false;
  }
  if (start_here) {
    st->started = true;
  }
  return start_here;
}

/* Any line (l: its first byte, n: bytes readable from there, ll: the
 * line's length without its newline) through the rule. */
static bool split_line(mdsplit_t *st, const char *l, size_t n, size_t ll) {
  if (st->in_obj) {
    if (ll >= 9 && memcmp(l, "-----END ", 9) == 0) {
      st->in_obj = false;
    }
    return false;
  }
  if (ll >= 11 && memcmp(l, "-----BEGIN ", 11) == 0) {
    st->in_obj = true;
    return false;
  }
  if (ll == 0) {
    return false;
  }
  return split_item_line(st, l, n);
}

/* Would the non-blank, non-object line at l be a start? (split_line
 * without the update, for a state with started set and in_obj clear). */
static bool is_start(const mdsplit_t *st, const char *l, size_t n) {
  switch (l[0]) {
    case '@':
      return st->seen_body;
    case 'o':
      return st->seen_body && line_is_kw(l, n, "onion-key", 9);
    case 'n':
      return st->seen_body && !st->only_onion && line_is_kw(l, n, "ntor-onion-key", 14);
    default:
      return false;
  }
}

/* The first start at or after the line at pos (number *lineno), with the
 * rule in state *st; len if none. *lineno becomes the start's line number.
 * With skip_first, the line at pos is fed but cannot be the answer. */
static size_t next_start(const char *t, size_t len, size_t pos, size_t *lineno, mdsplit_t *st,
                         bool skip_first) {
  bool first = true;
  while (pos < len) {
    const char *nl = memchr(t + pos, '\n', len - pos);
    size_t end = nl ? (size_t)(nl - t) : len;
    if (split_line(st, t + pos, len - pos, end - pos) && !(first && skip_first)) {
      return pos;
    }
    first = false;
    pos = nl ? end + 1 : len;
    (*lineno)++;
  }
  return len;
}

/* Parse the microdescriptor whose start line is at off (line lineno),
 * reading on with the document's lexer until the next start; *end and
 * *end_line are where that is (len at the end). */
static int parse_one(ep_microdescs_t *l, ep_microdesc_t *md, ep_dir_lexer_t *lx, size_t off,
                     size_t lineno, size_t *end, size_t *end_line, ep_err_t *err) {
  const char *t = l->text;
  size_t len = l->len;
  memset(md, 0, sizeof *md);
  md->p_index = UINT32_MAX;
  md->p6_index = UINT32_MAX;
  ep_dir_lexer_seek(lx, off, lineno);
  ep_dir_sec_t sec;
  ep_dir_sec_init(&sec, DOC, "microdescriptor", md_rules, EP_DIR_NRULES(md_rules));
  mdsplit_t st = {0};
  ep_dir_tok_t tok;
  bool in_body = false, first = true, have_end = false;
  int rc;
  size_t body_off = 0;
  for (;;) {
    /* The end: the next non-blank line starts the next microdescriptor, or
     * the text ends. The lexer is at a line start: blank lines are "\n". */
    size_t pos = ep_dir_lexer_pos(lx), q = pos;
    while (q < len && t[q] == '\n') {
      q++;
    }
    if (q == len || (!first && is_start(&st, t + q, len - q))) {
      *end = q;
      *end_line = lx->lineno + (q - pos);
      have_end = true;
      rc = in_body ? ep_dir_sec_finish(&sec, *end_line, err)
                   : ep_err_set(err, EP_ERR_MALFORMED,
                                "%s line %zu: annotations without a microdescriptor", DOC, lineno);
      break;
    }
    rc = ep_dir_next(lx, &tok, err);
    if (rc <= 0) {
      if (rc == 0) {
        rc = ep_err_set(err, EP_ERR_INTERNAL, "%s line %zu: lexer ended early", DOC, lx->lineno);
      }
      break;
    }
    /* The keyword line through the start rule (an object's lines leave its
     * state as they found it: BEGIN, body, END). */
    (void)split_item_line(&st, t + tok.offset, len - tok.offset);
    first = false;
    if (tok.id == EP_DIR_KW_ANNOTATION) {
      if (in_body) {
        rc = ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: annotation inside a microdescriptor",
                        DOC, tok.lineno);
        break;
      }
      ep_dir_tok_split(&tok, 2);
      if (ep_dir_tok_is(&tok, "@last-listed") && ep_dir_arg_time(&tok, 0, &md->last_listed) < 0) {
        rc = ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: bad @last-listed time", DOC,
                        tok.lineno);
        break;
      }
      continue;
    }
    if (!in_body) {
      in_body = true;
      body_off = tok.offset;
      md->lineno = tok.lineno;
    }
    rc = ep_dir_match(DOC, md_rules, EP_DIR_NRULES(md_rules), &tok, err);
    if (rc < 0) {
      break;
    }
    rc = ep_dir_sec_add(&sec, &tok, err);
    if (rc < 0) {
      break;
    }
    switch (tok.id) {
      case K_ONION_KEY:
        /* Only its presence is kept: check the base64 without decoding it. */
        rc = ep_dir_obj_check(DOC, &tok, "RSA PUBLIC KEY", EP_MD_MAX_KEY, err);
        md->has_tap_onion_key = rc >= 0;
        break;
      case K_NTOR:
        if (ep_dir_arg_b64(&tok, 0, md->ntor_key, 32) < 0) {
          rc = ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: bad ntor-onion-key", DOC, tok.lineno);
        }
        break;
      case K_A: {
        int fam;
        uint8_t a[16];
        uint16_t port;
        if (ep_dir_parse_addrport(tok.args[0], tok.arglen[0], &fam, a, &port) < 0) {
          rc = ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: bad address in 'a'", DOC, tok.lineno);
        } else if (fam == 6 && !md->has_ipv6) {
          md->has_ipv6 = true;
          memcpy(md->ipv6, a, 16);
          md->ipv6_port = port;
        }
        break;
      }
      case K_FAMILY:
        md->family = tok.argstr;
        md->family_len = tok.argstr_len;
        break;
      case K_FAMILY_IDS:
        md->family_ids = tok.argstr;
        md->family_ids_len = tok.argstr_len;
        break;
      case K_P:
      case K_P6: {
        ep_err_t e2 = {0};
        uint32_t idx;
        if (ep_sumpool_intern(&l->sums, tok.argstr, tok.argstr_len, &idx, &e2) < 0) {
          l->pool_full = e2.code == EP_ERR_LIMIT;
          rc = ep_err_set(err, e2.code, "%s line %zu: '%s': %s", DOC, tok.lineno, tok.rule->kw,
                          e2.msg);
        } else if (tok.id == K_P) {
          md->p_index = idx;
        } else {
          md->p6_index = idx;
        }
        break;
      }
      case K_ID:
        if (ep_dir_arg_eq(&tok, 0, "ed25519")) {
          if (md->has_ed25519) {
            rc = ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: second 'id ed25519'", DOC,
                            tok.lineno);
          } else if (ep_dir_arg_b64(&tok, 1, md->ed25519_id, 32) < 0) {
            rc = ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: bad ed25519 identity", DOC,
                            tok.lineno);
          }
          md->has_ed25519 = true;
        } else if (ep_dir_arg_eq(&tok, 0, "rsa1024")) {
          if (md->has_rsa_id) {
            rc = ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: second 'id rsa1024'", DOC,
                            tok.lineno);
          } else if (ep_dir_arg_b64(&tok, 1, md->rsa_id, EP_SHA1_LEN) < 0) {
            rc = ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: bad rsa1024 identity", DOC,
                            tok.lineno);
          }
          md->has_rsa_id = true;
        }
        break;
      default:
        break;
    }
    if (rc < 0) {
      break;
    }
  }
  if (!have_end) {
    /* Where the next microdescriptor starts, by the rule alone (the lexer
     * stopped somewhere in this one). */
    *end_line = lineno;
    mdsplit_t fresh = {0};
    *end = next_start(t, len, off, end_line, &fresh, true);
  }
  /* The digest covers the body even if an item is malformed; without a
   * body, the whole range names it. */
  if (!in_body) {
    body_off = off;
  }
  md->body = t + body_off;
  md->body_len = *end - body_off;
  ep_sha256(md->digest, md->body, md->body_len);
  return rc < 0 ? rc : 0;
}

static int build_index(ep_microdescs_t *l) {
  return ep_dir_digestidx_build(&l->index, l->n > 0 ? l->v[0].digest : NULL, l->n, sizeof *l->v);
}

ep_microdescs_t *ep_microdescs_parse(const char *text, size_t len, unsigned flags, ep_err_t *err) {
  char *copy;
  ep_microdescs_t *l = ep_dir_new_with_text(DOC, sizeof *l, text, len, EP_CAP_MICRODESCS, "EP_CAP_MICRODESCS", &copy, err);
  if (l == NULL) {
    return NULL;
  }
  l->text = copy;
  l->len = len;
  /* One lexer over the whole text (one NUL scan); each microdescriptor
   * runs from its start line to the next one (parse_one finds it). */
  ep_dir_lexer_t lx;
  ep_dir_lexer_init(&lx, l->text, len, DOC, EP_DIR_ANNOTATIONS_OK);
  size_t lineno = 1, nstarts = 0, starts_cap = 0;
  mdsplit_t st0 = {0};
  size_t off = next_start(l->text, len, 0, &lineno, &st0, false);
  while (off < len) {
    if (nstarts == starts_cap) {
      /* the limit as the starts were always counted: in steps doubling from 256 */
      size_t na = starts_cap ? starts_cap * 2 : 256;
      if (na > EP_MD_MAX) {
        ep_err_set(err, EP_ERR_LIMIT, "%s line %zu: more than %u microdescriptors", DOC, lineno,
                   EP_MD_MAX);
        goto fail;
      }
      starts_cap = na;
    }
    if (EP_VEC_RESERVE(l->v, l->alloc, l->n + 1, EP_MD_MAX, DOC, err) != EP_OK) {
      goto fail;
    }
    ep_microdesc_t *md = &l->v[l->n];
    ep_err_t e = {0};
    size_t end, end_line;
    int rc = parse_one(l, md, &lx, off, lineno, &end, &end_line, &e);
    nstarts++;
    off = end;
    lineno = end_line;
    if (rc == 0) {
      l->n++;
      continue;
    }
    /* Only list-wide resources are fatal: an over-size line or object
     * (EP_CAP_DOC_LINE, EP_CAP_DOC_OBJECT, the key cap) is one malformed
     * microdescriptor like any other. */
    if (!(flags & EP_MD_SKIP_INVALID) || rc == EP_ERR_NOMEM || l->pool_full) {
      if (err != NULL) {
        *err = e;
      }
      goto fail;
    }
    if (l->first_error[0] == '\0') {
      memcpy(l->first_error, e.msg, sizeof l->first_error);
    }
    if (EP_VEC_RESERVE(l->invalid, l->alloc_invalid, l->n_invalid + 1, EP_MD_MAX,
                       "invalid microdescriptors", err) != EP_OK) {
      goto fail;
    }
    memcpy(l->invalid[l->n_invalid++], md->digest, EP_SHA256_LEN);
  }
  ep_sumpool_finalize(&l->sums);
  for (size_t i = 0; i < l->n; i++) {
    ep_microdesc_t *md = &l->v[i];
    md->policy = md->p_index == UINT32_MAX ? ep_policy_summary_reject_all()
                                           : ep_sumpool_get(&l->sums, md->p_index);
    md->policy6 = md->p6_index == UINT32_MAX ? ep_policy_summary_reject_all()
                                             : ep_sumpool_get(&l->sums, md->p6_index);
  }
  if (build_index(l) < 0) {
    ep_err_set(err, EP_ERR_NOMEM, "%s: out of memory", DOC);
    goto fail;
  }
  return l;
fail:
  ep_microdescs_free(l);
  return NULL;
}

const ep_microdesc_t *ep_microdescs_find(const ep_microdescs_t *l, const uint8_t d[EP_SHA256_LEN]) {
  if (l == NULL || l->n == 0) {
    return NULL;
  }
  long i = ep_dir_digestidx_find(&l->index, l->v[0].digest, sizeof *l->v, d);
  return i < 0 ? NULL : &l->v[i];
}

int ep_microdesc_check(const ep_microdesc_t *md, const uint8_t expected[EP_SHA256_LEN], ep_err_t *err) {
  if (ep_ct_eq(md->digest, expected, EP_SHA256_LEN)) {
    return EP_OK;
  }
  char got[EP_B64_LEN(EP_SHA256_LEN) + 1], want[EP_B64_LEN(EP_SHA256_LEN) + 1];
  ep_base64_encode(got, sizeof got, md->digest, EP_SHA256_LEN, EP_B64_NOPAD);
  ep_base64_encode(want, sizeof want, expected, EP_SHA256_LEN, EP_B64_NOPAD);
  return ep_err_set(err, EP_ERR_VERIFY, "%s line %zu: digest %s, the consensus says %s", DOC,
                    md->lineno, got, want);
}
