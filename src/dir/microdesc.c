/* exitprobe — microdescriptors (dir-spec §3.3). */
#include "config.h"

#include "dir/microdesc.h"

#include <stdlib.h>
#include <string.h>

#include "dir/sumpool.h"
#include "dir/token.h"
#include "lib/caps.h"
#include "lib/encode.h"

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
  uint32_t *index;      /* open addressing over digests: index+1 */
  size_t index_size;
};

void ep_microdescs_free(ep_microdescs_t *l) {
  if (l == NULL) {
    return;
  }
  ep_sumpool_free(&l->sums);
  free(l->v);
  free(l->invalid);
  free(l->index);
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

static bool line_is_kw(const char *l, size_t n, const char *kw) {
  size_t k = strlen(kw);
  return n >= k && memcmp(l, kw, k) == 0 && (n == k || l[k] == ' ' || l[k] == '\t');
}

typedef struct mdstart {
  size_t off;
  size_t lineno;
} mdstart_t;

/* Find where each microdescriptor starts (tor's rule, extended for
 * microdescriptors without onion-key). */
static int find_starts(const char *t, size_t len, mdstart_t **out, size_t *nout, ep_err_t *err) {
  mdstart_t *v = NULL;
  size_t n = 0, alloc = 0;
  size_t pos = 0, lineno = 1;
  bool in_obj = false, seen_body = false, only_onion = false, started = false;
  while (pos < len) {
    const char *nl = memchr(t + pos, '\n', len - pos);
    size_t end = nl ? (size_t)(nl - t) : len;
    const char *l = t + pos;
    size_t ll = end - pos;
    bool start_here = false;
    if (in_obj) {
      if (ll >= 9 && memcmp(l, "-----END ", 9) == 0) {
        in_obj = false;
      }
    } else if (ll >= 11 && memcmp(l, "-----BEGIN ", 11) == 0) {
      in_obj = true;
    } else if (ll == 0) {
      /* blank */
    } else if (l[0] == '@') {
      start_here = seen_body || !started;
      seen_body = false;
      only_onion = false;
    } else if (line_is_kw(l, ll, "onion-key")) {
      start_here = seen_body || !started;
      seen_body = true;
      only_onion = true;
    } else if (line_is_kw(l, ll, "ntor-onion-key")) {
      start_here = (seen_body && !only_onion) || !started;
      seen_body = true;
      only_onion = false;
    } else {
      start_here = !started;
      seen_body = true;
      only_onion = false;
    }
    if (start_here) {
      /* An annotation right after another annotation continues the same start. */
      if (n == alloc) {
        size_t na = alloc ? alloc * 2 : 256;
        if (na > EP_MD_MAX) {
          free(v);
          return ep_err_set(err, EP_ERR_LIMIT, "%s line %zu: more than %u microdescriptors", DOC,
                            lineno, EP_MD_MAX);
        }
        mdstart_t *nv = realloc(v, na * sizeof *nv);
        if (nv == NULL) {
          free(v);
          return ep_err_set(err, EP_ERR_NOMEM, "%s: out of memory", DOC);
        }
        v = nv;
        alloc = na;
      }
      v[n].off = pos;
      v[n].lineno = lineno;
      n++;
      started = true;
    }
    pos = nl ? end + 1 : len;
    lineno++;
  }
  *out = v;
  *nout = n;
  return 0;
}

static int parse_one(ep_microdescs_t *l, ep_microdesc_t *md, size_t off, size_t end,
                     size_t lineno, ep_err_t *err) {
  memset(md, 0, sizeof *md);
  md->p_index = UINT32_MAX;
  md->p6_index = UINT32_MAX;
  ep_dir_lexer_t lx;
  ep_dir_lexer_init(&lx, l->text + off, end - off, DOC, EP_DIR_ANNOTATIONS_OK);
  lx.lineno = lineno;
  ep_dir_sec_t sec;
  ep_dir_sec_init(&sec, DOC, "microdescriptor", md_rules, EP_DIR_NRULES(md_rules));
  ep_dir_tok_t tok;
  bool in_body = false;
  int rc;
  /* The digest covers the body even if a later item is malformed. */
  size_t body_off = end;
  for (;;) {
    rc = ep_dir_next(&lx, &tok, err);
    if (rc < 0) {
      break;
    }
    if (rc == 0) {
      rc = in_body ? ep_dir_sec_finish(&sec, lx.lineno, err)
                   : ep_err_set(err, EP_ERR_MALFORMED,
                                "%s line %zu: annotations without a microdescriptor", DOC, lineno);
      break;
    }
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
      body_off = off + tok.offset;
      md->lineno = tok.lineno;
      md->body = l->text + body_off;
      md->body_len = end - body_off;
      ep_sha256(md->digest, md->body, md->body_len);
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
  if (rc < 0 && !in_body) {
    /* Nothing to name it by: digest the whole range. */
    md->body = l->text + off;
    md->body_len = end - off;
    ep_sha256(md->digest, md->body, md->body_len);
  }
  return rc < 0 ? rc : 0;
}

static int build_index(ep_microdescs_t *l) {
  size_t sz = 16;
  while (sz < l->n * 2) {
    sz *= 2;
  }
  l->index = calloc(sz, sizeof *l->index);
  if (l->index == NULL) {
    return EP_ERR_NOMEM;
  }
  l->index_size = sz;
  for (size_t i = 0; i < l->n; i++) {
    size_t slot = ep_get_u32(l->v[i].digest) & (sz - 1);
    while (l->index[slot] != 0) {
      slot = (slot + 1) & (sz - 1);
    }
    l->index[slot] = (uint32_t)i + 1;
  }
  return 0;
}

ep_microdescs_t *ep_microdescs_parse(const char *text, size_t len, unsigned flags, ep_err_t *err) {
  if (len > EP_CAP_MICRODESCS) {
    ep_err_set(err, EP_ERR_LIMIT, "%s: %zu bytes exceeds EP_CAP_MICRODESCS", DOC, len);
    return NULL;
  }
  ep_microdescs_t *l = calloc(1, sizeof *l);
  mdstart_t *starts = NULL;
  size_t nstarts = 0;
  if (l == NULL || (l->text = malloc(len + 1)) == NULL) {
    free(l);
    ep_err_set(err, EP_ERR_NOMEM, "%s: out of memory", DOC);
    return NULL;
  }
  memcpy(l->text, text, len);
  l->text[len] = '\0';
  l->len = len;
  if (find_starts(l->text, len, &starts, &nstarts, err) < 0) {
    goto fail;
  }
  if (nstarts > 0) {
    l->v = calloc(nstarts, sizeof *l->v);
    if (l->v == NULL) {
      ep_err_set(err, EP_ERR_NOMEM, "%s: out of memory", DOC);
      goto fail;
    }
    l->alloc = nstarts;
  }
  for (size_t i = 0; i < nstarts; i++) {
    size_t end = i + 1 < nstarts ? starts[i + 1].off : len;
    ep_microdesc_t *md = &l->v[l->n];
    ep_err_t e = {0};
    int rc = parse_one(l, md, starts[i].off, end, starts[i].lineno, &e);
    if (rc == 0) {
      l->n++;
      continue;
    }
    if (!(flags & EP_MD_SKIP_INVALID) || rc == EP_ERR_NOMEM || rc == EP_ERR_LIMIT) {
      if (err != NULL) {
        *err = e;
      }
      goto fail;
    }
    if (l->first_error[0] == '\0') {
      memcpy(l->first_error, e.msg, sizeof l->first_error);
    }
    if (l->n_invalid == l->alloc_invalid) {
      size_t na = l->alloc_invalid ? l->alloc_invalid * 2 : 16;
      uint8_t(*nv)[EP_SHA256_LEN] = realloc(l->invalid, na * sizeof *nv);
      if (nv == NULL) {
        ep_err_set(err, EP_ERR_NOMEM, "%s: out of memory", DOC);
        goto fail;
      }
      l->invalid = nv;
      l->alloc_invalid = na;
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
  free(starts);
  return l;
fail:
  free(starts);
  ep_microdescs_free(l);
  return NULL;
}

const ep_microdesc_t *ep_microdescs_find(const ep_microdescs_t *l, const uint8_t d[EP_SHA256_LEN]) {
  if (l == NULL || l->index_size == 0) {
    return NULL;
  }
  size_t sz = l->index_size;
  size_t slot = ep_get_u32(d) & (sz - 1);
  while (l->index[slot] != 0) {
    const ep_microdesc_t *md = &l->v[l->index[slot] - 1];
    if (memcmp(md->digest, d, EP_SHA256_LEN) == 0) {
      return md;
    }
    slot = (slot + 1) & (sz - 1);
  }
  return NULL;
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
