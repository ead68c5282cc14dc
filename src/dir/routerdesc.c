/* exitprobe — server descriptors (dir-spec §2.1.1) and their Ed25519 certificates. */
#include "config.h"

#include "dir/routerdesc.h"

#include <stdlib.h>
#include <string.h>

#include "dir/token.h"
#include "lib/caps.h"
#include "lib/encode.h"
#include "lib/reader.h"
#include "lib/timeutil.h"
#include "lib/vec.h"

#define EP_RD_MAX_DESCS 200000u
#define EP_RD_MAX_OBJ 4096

static const char DOC[] = "server descriptor";

enum {
  K_ROUTER, K_ID_ED, K_MASTER_ED, K_BANDWIDTH, K_PLATFORM, K_PUBLISHED, K_FINGERPRINT,
  K_HIBERNATING, K_UPTIME, K_ONION_KEY, K_ONION_CROSS, K_NTOR, K_NTOR_CROSS, K_SIGNING_KEY,
  K_ACCEPT, K_REJECT, K_ACCEPT6, K_REJECT6, K_IPV6_POLICY, K_SIG_ED, K_SIGNATURE, K_CONTACT,
  K_FAMILY, K_PROTO, K_OR_ADDRESS, K_EXTRA_INFO
};

#define R(kw, id, mn, mx, amin, amax, obj, pos) \
  { EP_DIR_KW(kw), id, mn, mx, amin, amax, EP_DIR_OBJ_##obj, EP_DIR_POS_##pos }
#define M EP_DIR_MANY
static const ep_dir_rule_t rd_rules[] = {
  R("router", K_ROUTER, 1, 1, 5, M, FORBIDDEN, START),
  R("identity-ed25519", K_ID_ED, 0, 1, 0, 0, REQUIRED, ANY),
  R("master-key-ed25519", K_MASTER_ED, 0, 1, 1, M, FORBIDDEN, ANY),
  R("bandwidth", K_BANDWIDTH, 1, 1, 3, M, FORBIDDEN, ANY),
  R("platform", K_PLATFORM, 0, 1, 0, M, FORBIDDEN, ANY),
  R("published", K_PUBLISHED, 1, 1, 2, M, FORBIDDEN, ANY),
  R("fingerprint", K_FINGERPRINT, 0, 1, 1, M, FORBIDDEN, ANY),
  R("hibernating", K_HIBERNATING, 0, 1, 1, M, FORBIDDEN, ANY),
  R("uptime", K_UPTIME, 0, 1, 1, M, FORBIDDEN, ANY),
  R("onion-key", K_ONION_KEY, 0, 1, 0, 0, REQUIRED, ANY),
  R("onion-key-crosscert", K_ONION_CROSS, 0, 1, 0, 0, REQUIRED, ANY),
  R("ntor-onion-key", K_NTOR, 0, 1, 1, M, FORBIDDEN, ANY),
  R("ntor-onion-key-crosscert", K_NTOR_CROSS, 0, 1, 1, M, REQUIRED, ANY),
  R("signing-key", K_SIGNING_KEY, 1, 1, 0, 0, REQUIRED, ANY),
  R("accept", K_ACCEPT, 0, M, 1, M, FORBIDDEN, ANY),
  R("reject", K_REJECT, 0, M, 1, M, FORBIDDEN, ANY),
  R("accept6", K_ACCEPT6, 0, M, 1, M, FORBIDDEN, ANY),
  R("reject6", K_REJECT6, 0, M, 1, M, FORBIDDEN, ANY),
  R("ipv6-policy", K_IPV6_POLICY, 0, 1, 2, M, FORBIDDEN, ANY),
  R("router-sig-ed25519", K_SIG_ED, 0, 1, 1, M, FORBIDDEN, ANY),
  R("router-signature", K_SIGNATURE, 1, 1, 0, 0, REQUIRED, END),
  R("contact", K_CONTACT, 0, 1, 0, M, FORBIDDEN, ANY),
  R("family", K_FAMILY, 0, 1, 0, M, FORBIDDEN, ANY),
  R("proto", K_PROTO, 0, 1, 0, M, FORBIDDEN, ANY),
  R("or-address", K_OR_ADDRESS, 0, M, 1, M, FORBIDDEN, ANY),
  R("extra-info-digest", K_EXTRA_INFO, 0, 1, 1, M, FORBIDDEN, ANY),
};
#undef R
#undef M

struct ep_routerdescs {
  char *text;
  size_t len;
  ep_routerdesc_t *v;
  size_t n, alloc;
  size_t n_invalid;                   /* skipped (EP_RD_SKIP_INVALID) */
  char first_error[EP_ERR_MSG_MAX];
};

static void desc_clear(ep_routerdesc_t *d) {
  ep_rsa_pub_free(d->identity_key);
  free(d->ed_cert);
  ep_policy_free(d->policy);
  ep_policy_summary_free(d->ipv6_policy);
  free(d->sig);
  memset(d, 0, sizeof *d);
}

void ep_routerdescs_free(ep_routerdescs_t *l) {
  if (l == NULL) {
    return;
  }
  for (size_t i = 0; i < l->n; i++) {
    desc_clear(&l->v[i]);
  }
  free(l->v);
  free(l->text);
  free(l);
}

size_t ep_routerdescs_count(const ep_routerdescs_t *l) { return l == NULL ? 0 : l->n; }

size_t ep_routerdescs_n_invalid(const ep_routerdescs_t *l) { return l == NULL ? 0 : l->n_invalid; }

const char *ep_routerdescs_first_error(const ep_routerdescs_t *l) {
  return (l == NULL || l->first_error[0] == '\0') ? NULL : l->first_error;
}

/* Where the next descriptor starts after `from`: the next line that begins
 * with "router ". Base64 object lines never hold a space, so no object can
 * hide one; a descriptor whose object never ends loses at most itself and
 * what follows up to the next router line. len if there is none. */
static size_t next_router_line(const char *t, size_t len, size_t from, size_t *lineno) {
  size_t pos = from;
  for (;;) {
    const char *nl = memchr(t + pos, '\n', len - pos);
    if (nl == NULL) {
      return len;
    }
    pos = (size_t)(nl - t) + 1;
    (*lineno)++;
    if (len - pos >= 7 && memcmp(t + pos, "router ", 7) == 0) {
      return pos;
    }
  }
}

const ep_routerdesc_t *ep_routerdescs_get(const ep_routerdescs_t *l, size_t i) {
  return (l == NULL || i >= l->n) ? NULL : &l->v[i];
}

const ep_routerdesc_t *ep_routerdescs_find(const ep_routerdescs_t *l, const uint8_t id[EP_SHA1_LEN]) {
  for (size_t i = 0; l != NULL && i < l->n; i++) {
    if (memcmp(l->v[i].identity_digest, id, EP_SHA1_LEN) == 0) {
      return &l->v[i];
    }
  }
  return NULL;
}

/* ---------- Ed25519 certificates (cert-spec §2.1) ---------- */

int ep_dir_edcert_parse(const uint8_t *b, size_t n, ep_dir_edcert_t *out, ep_err_t *err) {
  memset(out, 0, sizeof *out);
  ep_reader_t r;
  ep_reader_init(&r, b, n);
  uint8_t version, next;
  if (ep_rd_u8(&r, &version) < 0 || ep_rd_u8(&r, &out->type) < 0 ||
      ep_rd_u32(&r, &out->expiration_hours) < 0 || ep_rd_u8(&r, &out->key_type) < 0 ||
      ep_rd_bytes(&r, out->certified_key, 32) < 0 || ep_rd_u8(&r, &next) < 0) {
    return ep_err_set(err, EP_ERR_TRUNCATED, "ed25519 certificate: truncated header");
  }
  if (version != 1) {
    return ep_err_set(err, EP_ERR_UNSUPPORTED, "ed25519 certificate: version %u", version);
  }
  for (unsigned i = 0; i < next; i++) {
    uint16_t elen;
    uint8_t etype, eflags;
    ep_reader_t ext;
    if (ep_rd_u16(&r, &elen) < 0 || ep_rd_u8(&r, &etype) < 0 || ep_rd_u8(&r, &eflags) < 0 ||
        ep_rd_sub(&r, &ext, elen) < 0) {
      return ep_err_set(err, EP_ERR_TRUNCATED, "ed25519 certificate: truncated extension %u", i);
    }
    if (etype == 4) {
      if (elen != 32 || ep_rd_bytes(&ext, out->signing_key, 32) < 0) {
        return ep_err_set(err, EP_ERR_MALFORMED, "ed25519 certificate: signing-key extension of %u bytes",
                          elen);
      }
      out->has_signing_key = true;
    } else if (eflags & 1u) {
      return ep_err_set(err, EP_ERR_UNSUPPORTED,
                        "ed25519 certificate: unknown extension %u affects validation", etype);
    }
  }
  out->signed_part = b;
  out->signed_len = ep_rd_pos(&r);
  if (ep_rd_bytes(&r, out->signature, 64) < 0) {
    return ep_err_set(err, EP_ERR_TRUNCATED, "ed25519 certificate: truncated signature");
  }
  if (!ep_rd_empty(&r)) {
    return ep_err_set(err, EP_ERR_MALFORMED, "ed25519 certificate: %zu bytes after the signature",
                      ep_rd_remaining(&r));
  }
  return 0;
}

int ep_dir_edcert_verify(const ep_dir_edcert_t *c, const uint8_t *key, time_t now, ep_err_t *err) {
  if (key == NULL) {
    if (!c->has_signing_key) {
      return ep_err_set(err, EP_ERR_VERIFY, "ed25519 certificate: no signing key to check it with");
    }
    key = c->signing_key;
  }
  if (ep_ed25519_verify(c->signature, c->signed_part, c->signed_len, key) != EP_OK) {
    return ep_err_set(err, EP_ERR_VERIFY, "ed25519 certificate: signature does not verify");
  }
  if (now != 0 && (int64_t)now > (int64_t)c->expiration_hours * 3600) {
    char t[24];
    ep_time_format_tor(t, sizeof t, (time_t)((int64_t)c->expiration_hours * 3600));
    return ep_err_set(err, EP_ERR_EXPIRED, "ed25519 certificate: expired at %s", t);
  }
  return EP_OK;
}

/* ---------- descriptors ---------- */

/* An item whose arguments are kept as text (pointing into the document). */
static int take_text(const ep_dir_tok_t *tok, const char **text, size_t *len) {
  *text = tok->argstr;
  *len = tok->argstr_len;
  return 0;
}

static int handle(ep_routerdescs_t *l, ep_routerdesc_t *d, const ep_dir_tok_t *tok, size_t start,
                  ep_err_t *err) {
  const char *text = l->text;
  switch (tok->id) {
    case K_ROUTER: {
      if (!ep_dir_nickname_ok(tok->args[0], tok->arglen[0])) {
        return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: bad nickname", DOC, tok->lineno);
      }
      memcpy(d->nickname, tok->args[0], tok->arglen[0]);
      d->nickname[tok->arglen[0]] = '\0';
      uint64_t op, dp;
      if (ep_dir_parse_ipv4(tok->args[1], tok->arglen[1], &d->ipv4) < 0 ||
          ep_dir_arg_uint(tok, 2, 65535, &op) < 0 || ep_dir_arg_uint(tok, 4, 65535, &dp) < 0) {
        return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: bad address or port in 'router'",
                          DOC, tok->lineno);
      }
      d->or_port = (uint16_t)op;
      d->dir_port = (uint16_t)dp;
      return 0;
    }
    case K_ID_ED: {
      uint8_t buf[EP_RD_MAX_OBJ];
      int n = ep_dir_obj_decode(DOC, tok, "ED25519 CERT", buf, sizeof buf, err);
      if (n < 0) {
        return n;
      }
      ep_dir_edcert_t c;
      ep_err_t e2 = {0};
      if (ep_dir_edcert_parse(buf, (size_t)n, &c, &e2) < 0) {
        return ep_err_set(err, e2.code, "%s line %zu: %s", DOC, tok->lineno, e2.msg);
      }
      d->ed_cert = malloc((size_t)n);
      if (d->ed_cert == NULL) {
        return ep_err_set(err, EP_ERR_NOMEM, "%s: out of memory", DOC);
      }
      memcpy(d->ed_cert, buf, (size_t)n);
      d->ed_cert_len = (size_t)n;
      if (c.has_signing_key) {
        if (d->has_ed25519 && memcmp(d->ed25519_master, c.signing_key, 32) != 0) {
          return ep_err_set(err, EP_ERR_MALFORMED,
                            "%s line %zu: identity-ed25519 does not match master-key-ed25519", DOC,
                            tok->lineno);
        }
        memcpy(d->ed25519_master, c.signing_key, 32);
        d->has_ed25519 = true;
      }
      return 0;
    }
    case K_MASTER_ED: {
      uint8_t k[32];
      if (ep_dir_arg_b64(tok, 0, k, 32) < 0) {
        return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: bad master-key-ed25519", DOC,
                          tok->lineno);
      }
      if (d->has_ed25519 && memcmp(d->ed25519_master, k, 32) != 0) {
        return ep_err_set(err, EP_ERR_MALFORMED,
                          "%s line %zu: master-key-ed25519 does not match identity-ed25519", DOC,
                          tok->lineno);
      }
      memcpy(d->ed25519_master, k, 32);
      d->has_ed25519 = true;
      return 0;
    }
    case K_BANDWIDTH: {
      uint64_t a, b, o;
      if (ep_dir_arg_uint(tok, 0, UINT32_MAX, &a) < 0 || ep_dir_arg_uint(tok, 1, UINT32_MAX, &b) < 0 ||
          ep_dir_arg_uint(tok, 2, UINT32_MAX, &o) < 0) {
        return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: bad bandwidth", DOC, tok->lineno);
      }
      d->bw_avg = (uint32_t)a;
      d->bw_burst = (uint32_t)b;
      d->bw_observed = (uint32_t)o;
      return 0;
    }
    case K_PLATFORM:
      return take_text(tok, &d->platform, &d->platform_len);
    case K_PROTO:
      return take_text(tok, &d->proto, &d->proto_len);
    case K_CONTACT:
      return take_text(tok, &d->contact, &d->contact_len);
    case K_FAMILY:
      return take_text(tok, &d->family, &d->family_len);
    case K_PUBLISHED:
      if (ep_dir_arg_time(tok, 0, &d->published) < 0) {
        return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: bad published time", DOC, tok->lineno);
      }
      return 0;
    case K_FINGERPRINT: {
      /* "fingerprint" is the identity digest in spaced groups of four. */
      char hex[41];
      size_t h = 0, pos = 0;
      const char *a;
      size_t al;
      while (ep_dir_arg_next(tok, &pos, &a, &al)) {
        if (h + al > 40) {
          h = 41;
          break;
        }
        memcpy(hex + h, a, al);
        h += al;
      }
      if (h != 40 || ep_hex_decode(d->fingerprint, EP_SHA1_LEN, hex, 40) != EP_SHA1_LEN) {
        return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: bad fingerprint", DOC, tok->lineno);
      }
      d->has_fingerprint = true;
      return 0;
    }
    case K_HIBERNATING:
      d->hibernating = ep_dir_arg_eq(tok, 0, "1");
      return 0;
    case K_UPTIME:
      if (ep_dir_arg_uint(tok, 0, UINT64_MAX, &d->uptime) < 0) {
        return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: bad uptime", DOC, tok->lineno);
      }
      return 0;
    case K_NTOR:
      if (ep_dir_arg_b64(tok, 0, d->ntor_key, 32) < 0) {
        return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: bad ntor-onion-key", DOC, tok->lineno);
      }
      d->has_ntor = true;
      return 0;
    case K_SIGNING_KEY: {
      uint8_t der[EP_RD_MAX_OBJ];
      int n = ep_dir_obj_decode(DOC, tok, "RSA PUBLIC KEY", der, sizeof der, err);
      if (n < 0) {
        return n;
      }
      ep_err_t e2 = {0};
      d->identity_key = ep_rsa_pub_from_der(der, (size_t)n, &e2);
      if (d->identity_key == NULL) {
        return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: %s", DOC, tok->lineno, e2.msg);
      }
      ep_sha1(d->identity_digest, der, (size_t)n);
      return 0;
    }
    case K_ACCEPT:
    case K_REJECT:
    case K_ACCEPT6:
    case K_REJECT6: {
      bool v6 = tok->id == K_ACCEPT6 || tok->id == K_REJECT6;
      ep_policy_rule_t r;
      ep_err_t e2 = {0};
      if (ep_policy_rule_parse(tok->args[0], tok->arglen[0], tok->id == K_ACCEPT || tok->id == K_ACCEPT6,
                               v6 ? EP_POLICY_STAR_V6 : EP_POLICY_STAR_V4, &r, &e2) < 0) {
        return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: %s", DOC, tok->lineno, e2.msg);
      }
      if ((v6 && r.family == 4) || (!v6 && r.family == 6)) {
        return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: address family does not fit '%s'",
                          DOC, tok->lineno, tok->rule->kw);
      }
      if (d->policy == NULL && (d->policy = ep_policy_new()) == NULL) {
        return ep_err_set(err, EP_ERR_NOMEM, "%s: out of memory", DOC);
      }
      if (ep_policy_add(d->policy, &r, &e2) < 0) {
        return ep_err_set(err, e2.code, "%s line %zu: %s", DOC, tok->lineno, e2.msg);
      }
      return 0;
    }
    case K_IPV6_POLICY: {
      ep_err_t e2 = {0};
      d->ipv6_policy = ep_policy_summary_new(tok->argstr, tok->argstr_len, &e2);
      if (d->ipv6_policy == NULL) {
        return ep_err_set(err, e2.code, "%s line %zu: ipv6-policy: %s", DOC, tok->lineno, e2.msg);
      }
      return 0;
    }
    case K_OR_ADDRESS: {
      int fam;
      uint8_t a[16];
      uint16_t port;
      if (ep_dir_parse_addrport(tok->args[0], tok->arglen[0], &fam, a, &port) < 0) {
        return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: bad or-address", DOC, tok->lineno);
      }
      if (fam == 6 && !d->has_ipv6) {
        d->has_ipv6 = true;
        memcpy(d->ipv6, a, 16);
        d->ipv6_or_port = port;
      }
      return 0;
    }
    case K_SIG_ED: {
      if (ep_dir_arg_b64(tok, 0, d->ed_sig, 64) < 0) {
        return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: bad router-sig-ed25519", DOC,
                          tok->lineno);
      }
      static const char prefix[] = "Tor router descriptor signature v1";
      ep_digest_t *h = ep_digest_new(EP_DIGEST_SHA256);
      if (h == NULL) {
        return ep_err_set(err, EP_ERR_NOMEM, "%s: out of memory", DOC);
      }
      ep_digest_update(h, prefix, sizeof prefix - 1);
      ep_digest_update(h, text + start, tok->offset + strlen("router-sig-ed25519 ") - start);
      ep_digest_peek(h, d->ed_signed_digest, sizeof d->ed_signed_digest);
      ep_digest_free(h);
      d->has_ed_sig = true;
      return 0;
    }
    case K_SIGNATURE: {
      uint8_t *buf = malloc(EP_RD_MAX_OBJ);
      if (buf == NULL) {
        return ep_err_set(err, EP_ERR_NOMEM, "%s: out of memory", DOC);
      }
      int n = ep_dir_obj_decode(DOC, tok, "SIGNATURE", buf, EP_RD_MAX_OBJ, err);
      if (n < 0) {
        free(buf);
        return n;
      }
      d->sig = buf;
      d->sig_len = (size_t)n;
      const char *nl = memchr(text + tok->offset, '\n', l->len - tok->offset);
      if (nl == NULL) {
        return ep_err_set(err, EP_ERR_INTERNAL, "%s line %zu: no newline", DOC, tok->lineno);
      }
      ep_sha1(d->signed_digest, text + start, (size_t)(nl - text) + 1 - start);
      return 0;
    }
    default:
      return 0;
  }
}

/* One item of a descriptor list: 1 (or 2 when it starts a descriptor), or
 * a negative ep_status_t with *err set. */
static int one_item(ep_routerdescs_t *l, ep_dir_tok_t *tokp, ep_routerdesc_t **curp,
                    ep_dir_sec_t *sec, size_t *start, ep_err_t *err) {
#define tok (*tokp)
  ep_routerdesc_t *cur = *curp;
  int started = 1;
  if (tok.id == EP_DIR_KW_ANNOTATION) {
    if (cur != NULL) {
      return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: annotation inside a descriptor", DOC,
                        tok.lineno);
    }
    return 1;
  }
  if (ep_dir_tok_is(&tok, "router")) {
    if (cur != NULL) {
      return ep_err_set(err, EP_ERR_MALFORMED,
                        "%s line %zu: 'router' before the previous descriptor ended (no "
                        "router-signature?)",
                        DOC, tok.lineno);
    }
    if (l->n >= EP_RD_MAX_DESCS) {
      return ep_err_set(err, EP_ERR_LIMIT, "%s line %zu: too many descriptors", DOC, tok.lineno);
    }
    int rc = EP_VEC_RESERVE(l->v, l->alloc, l->n + 1, EP_RD_MAX_DESCS, DOC, err);
    if (rc != EP_OK) {
      return rc;
    }
    cur = *curp = &l->v[l->n++];
    memset(cur, 0, sizeof *cur);
    cur->lineno = tok.lineno;
    *start = tok.offset;
    ep_dir_sec_init(sec, DOC, "descriptor", rd_rules, EP_DIR_NRULES(rd_rules));
    started = 2;
  } else if (cur == NULL) {
    return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: '%.*s' outside a descriptor", DOC,
                      tok.lineno, (int)(tok.kw_len > 40 ? 40 : tok.kw_len), tok.kw);
  }
  int rc = ep_dir_match(DOC, rd_rules, EP_DIR_NRULES(rd_rules), &tok, err);
  if (rc < 0) {
    return rc;
  }
  rc = ep_dir_sec_add(sec, &tok, err);
  if (rc < 0) {
    return rc;
  }
  rc = handle(l, cur, &tok, *start, err);
  if (rc < 0) {
    return rc;
  }
  if (tok.id == K_SIGNATURE) {
    rc = ep_dir_sec_finish(sec, tok.lineno, err);
    if (rc < 0) {
      return rc;
    }
    *curp = NULL;
  }
  return started;
#undef tok
}

ep_routerdescs_t *ep_routerdescs_parse(const char *text, size_t len, ep_err_t *err) {
  return ep_routerdescs_parse_flags(text, len, 0, err);
}

ep_routerdescs_t *ep_routerdescs_parse_flags(const char *text, size_t len, unsigned flags,
                                             ep_err_t *err) {
  char *copy;
  ep_routerdescs_t *l = ep_dir_new_with_text(DOC, sizeof *l, text, len, EP_CAP_SERVER_DESCS, "EP_CAP_SERVER_DESCS", &copy, err);
  if (l == NULL) {
    return NULL;
  }
  l->text = copy;
  l->len = len;
  ep_dir_lexer_t lx;
  ep_dir_lexer_init(&lx, l->text, len, DOC, EP_DIR_ANNOTATIONS_OK);
  ep_dir_tok_t tok;
  ep_dir_sec_t sec;
  ep_routerdesc_t *cur = NULL;
  size_t start = 0, start_lineno = 0;
  ep_err_t e = {0};
  int rc;
  for (;;) {
    size_t item_pos = ep_dir_lexer_pos(&lx), item_lineno = lx.lineno;
    rc = ep_dir_next(&lx, &tok, &e);
    if (rc == 0) {
      if (cur == NULL) {
        break;
      }
      rc = ep_dir_sec_finish(&sec, lx.lineno, &e);
      if (rc >= 0) {
        rc = ep_err_set(&e, EP_ERR_TRUNCATED, "%s line %zu: descriptor does not end (truncated?)",
                        DOC, lx.lineno);
      }
    }
    if (rc > 0) {
      rc = one_item(l, &tok, &cur, &sec, &start, &e);
      if (rc == 2) {
        start_lineno = tok.lineno;
      }
    }
    if (rc >= 0) {
      continue;
    }
    /* A malformed descriptor: fatal, or (EP_RD_SKIP_INVALID) dropped and
     * parsing resumes at the next "router" line. List-wide resource errors
     * stay fatal; an over-size line or object (EP_CAP_DOC_LINE,
     * EP_CAP_DOC_OBJECT) costs only its descriptor. */
    if (!(flags & EP_RD_SKIP_INVALID) || rc == EP_ERR_NOMEM ||
        (rc == EP_ERR_LIMIT && l->n >= EP_RD_MAX_DESCS)) {
      goto fail;
    }
    if (l->n_invalid++ == 0) {
      memcpy(l->first_error, e.msg, sizeof l->first_error);
    }
    size_t from = item_pos, lineno = item_lineno;
    if (cur != NULL) {
      desc_clear(cur);
      l->n--;
      cur = NULL;
      from = start;
      lineno = start_lineno;
    }
    size_t next = next_router_line(l->text, len, from, &lineno);
    if (next >= len) {
      break;
    }
    ep_dir_lexer_seek(&lx, next, lineno);
    memset(&e, 0, sizeof e);
  }
  if (l->n == 0) {
    if (l->n_invalid > 0) {
      ep_err_set(&e, EP_ERR_MALFORMED, "%s: no valid descriptor (%zu malformed; first: %s)", DOC,
                 l->n_invalid, l->first_error);
    } else {
      ep_err_set(&e, EP_ERR_MALFORMED, "%s: no descriptors", DOC);
    }
    goto fail;
  }
  return l;
fail:
  if (err != NULL) {
    *err = e;
  }
  ep_routerdescs_free(l);
  return NULL;
}

int ep_routerdesc_verify(const ep_routerdesc_t *d, time_t now, ep_err_t *err) {
  if (d->identity_key == NULL || d->sig == NULL) {
    return ep_err_set(err, EP_ERR_VERIFY, "%s line %zu: no key or signature", DOC, d->lineno);
  }
  if (d->has_fingerprint && !ep_ct_eq(d->fingerprint, d->identity_digest, EP_SHA1_LEN)) {
    return ep_err_set(err, EP_ERR_VERIFY, "%s line %zu (%s): fingerprint is not its key's digest",
                      DOC, d->lineno, d->nickname);
  }
  if (ep_rsa_verify_raw(d->identity_key, d->sig, d->sig_len, d->signed_digest, EP_SHA1_LEN) != EP_OK) {
    return ep_err_set(err, EP_ERR_VERIFY, "%s line %zu (%s): router-signature does not verify", DOC,
                      d->lineno, d->nickname);
  }
  if (d->ed_cert != NULL) {
    ep_dir_edcert_t c;
    ep_err_t e2 = {0};
    int rc = ep_dir_edcert_parse(d->ed_cert, d->ed_cert_len, &c, &e2);
    if (rc == 0) {
      rc = ep_dir_edcert_verify(&c, d->has_ed25519 ? d->ed25519_master : NULL, now, &e2);
    }
    if (rc != 0) {
      return ep_err_set(err, rc, "%s line %zu (%s): identity-ed25519: %s", DOC, d->lineno,
                        d->nickname, e2.msg);
    }
    if (c.type != 4) {
      return ep_err_set(err, EP_ERR_VERIFY, "%s line %zu (%s): identity-ed25519 has type %u, not 4",
                        DOC, d->lineno, d->nickname, c.type);
    }
    if (!d->has_ed_sig) {
      return ep_err_set(err, EP_ERR_VERIFY, "%s line %zu (%s): identity-ed25519 without router-sig-ed25519",
                        DOC, d->lineno, d->nickname);
    }
    if (ep_ed25519_verify(d->ed_sig, d->ed_signed_digest, EP_SHA256_LEN, c.certified_key) != EP_OK) {
      return ep_err_set(err, EP_ERR_VERIFY, "%s line %zu (%s): router-sig-ed25519 does not verify",
                        DOC, d->lineno, d->nickname);
    }
  }
  return EP_OK;
}

ep_policy_answer_t ep_routerdesc_policy_eval(const ep_routerdesc_t *d, const ep_ipaddr_t *addr,
                                             int family, uint16_t port) {
  int fam = addr != NULL ? addr->family : family;
  if (d->policy == NULL && fam != 6) {
    /* No accept/reject lines (dir-spec says there must be one): take it
     * as rejecting everything rather than tor's "no match means accept". */
    ep_policy_answer_t a = {EP_POLICY_REJECT, EP_POLICY_BASIS_FULL, false, false};
    return a;
  }
  if (fam == 6) {
    bool has_v6_rules = false;
    for (size_t i = 0; i < ep_policy_count(d->policy); i++) {
      if (ep_policy_rule(d->policy, i)->family == 6) {
        has_v6_rules = true;
        break;
      }
    }
    if (!has_v6_rules) {
      return ep_policy_summary_eval(d->ipv6_policy, port);
    }
  }
  return ep_policy_eval(d->policy, addr, fam, port);
}
