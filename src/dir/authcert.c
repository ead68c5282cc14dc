/* exitprobe — authority key certificates (dir-spec §3.1). */
#include "config.h"

#include "dir/authcert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dir/token.h"
#include "lib/caps.h"
#include "lib/encode.h"
#include "lib/timeutil.h"
#include "lib/vec.h"

/* Keys and signatures: 16384-bit RSA at most. */
#define EP_AUTHCERT_MAX_OBJ 4096
#define EP_AUTHCERT_MAX_CERTS 4096

enum {
  K_VERSION, K_DIR_ADDRESS, K_FINGERPRINT, K_IDENTITY_KEY, K_PUBLISHED, K_EXPIRES, K_SIGNING_KEY,
  K_CROSSCERT, K_CERTIFICATION
};

#define R(kw, id, mn, mx, amin, amax, obj, pos) \
  { EP_DIR_KW(kw), id, mn, mx, amin, amax, EP_DIR_OBJ_##obj, EP_DIR_POS_##pos }
#define M EP_DIR_MANY
static const ep_dir_rule_t cert_rules[] = {
  R("dir-key-certificate-version", K_VERSION, 1, 1, 1, M, FORBIDDEN, START),
  R("dir-address", K_DIR_ADDRESS, 0, 1, 1, M, FORBIDDEN, ANY),
  R("fingerprint", K_FINGERPRINT, 1, 1, 1, M, FORBIDDEN, ANY),
  R("dir-identity-key", K_IDENTITY_KEY, 1, 1, 0, 0, REQUIRED, ANY),
  R("dir-key-published", K_PUBLISHED, 1, 1, 2, M, FORBIDDEN, ANY),
  R("dir-key-expires", K_EXPIRES, 1, 1, 2, M, FORBIDDEN, ANY),
  R("dir-signing-key", K_SIGNING_KEY, 1, 1, 0, 0, REQUIRED, ANY),
  R("dir-key-crosscert", K_CROSSCERT, 1, 1, 0, 0, REQUIRED, ANY),
  R("dir-key-certification", K_CERTIFICATION, 1, 1, 0, 0, REQUIRED, END),
};
#undef R
#undef M

static const char DOC[] = "authority certificate";

struct ep_authcerts {
  ep_authcert_t *v;
  size_t n, alloc;
};

static void cert_clear(ep_authcert_t *c) {
  ep_rsa_pub_free(c->identity_key);
  ep_rsa_pub_free(c->signing_key);
  free(c->crosscert);
  free(c->certification);
  memset(c, 0, sizeof *c);
}

void ep_authcerts_free(ep_authcerts_t *l) {
  if (l == NULL) {
    return;
  }
  for (size_t i = 0; i < l->n; i++) {
    cert_clear(&l->v[i]);
  }
  free(l->v);
  free(l);
}

size_t ep_authcerts_count(const ep_authcerts_t *l) { return l == NULL ? 0 : l->n; }

const ep_authcert_t *ep_authcerts_get(const ep_authcerts_t *l, size_t i) {
  return (l == NULL || i >= l->n) ? NULL : &l->v[i];
}

const ep_authcert_t *ep_authcerts_find(const ep_authcerts_t *l, const uint8_t identity[EP_SHA1_LEN],
                                       const uint8_t signing_digest[EP_SHA1_LEN]) {
  for (size_t i = 0; l != NULL && i < l->n; i++) {
    if (memcmp(l->v[i].fingerprint, identity, EP_SHA1_LEN) == 0 &&
        memcmp(l->v[i].signing_digest, signing_digest, EP_SHA1_LEN) == 0) {
      return &l->v[i];
    }
  }
  return NULL;
}

/* Decode an RSA key object; its digest goes to digest. */
static ep_rsa_pub_t *read_key(const ep_dir_tok_t *tok, uint8_t digest[EP_SHA1_LEN], ep_err_t *err) {
  uint8_t der[EP_AUTHCERT_MAX_OBJ];
  int n = ep_dir_obj_decode(DOC, tok, "RSA PUBLIC KEY", der, sizeof der, err);
  if (n < 0) {
    return NULL;
  }
  ep_err_t e2 = {0};
  ep_rsa_pub_t *k = ep_rsa_pub_from_der(der, (size_t)n, &e2);
  if (k == NULL) {
    ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: %s", DOC, tok->lineno, e2.msg);
    return NULL;
  }
  ep_sha1(digest, der, (size_t)n);
  return k;
}

static int read_sig(const ep_dir_tok_t *tok, bool id_label_ok, uint8_t **out, size_t *outlen,
                    ep_err_t *err) {
  const char *label = "SIGNATURE";
  if (id_label_ok && tok->obj_label_len == 12 && memcmp(tok->obj_label, "ID SIGNATURE", 12) == 0) {
    label = "ID SIGNATURE";
  }
  uint8_t *buf = malloc(EP_AUTHCERT_MAX_OBJ);
  if (buf == NULL) {
    return ep_err_set(err, EP_ERR_NOMEM, "%s: out of memory", DOC);
  }
  int n = ep_dir_obj_decode(DOC, tok, label, buf, EP_AUTHCERT_MAX_OBJ, err);
  if (n < 0) {
    free(buf);
    return n;
  }
  free(*out);
  *out = buf;
  *outlen = (size_t)n;
  return 0;
}

static int handle(ep_authcert_t *c, const ep_dir_tok_t *tok, ep_err_t *err) {
  switch (tok->id) {
    case K_VERSION:
      if (!ep_dir_arg_eq(tok, 0, "3")) {
        return ep_err_set(err, EP_ERR_UNSUPPORTED, "%s line %zu: certificate version is not 3", DOC,
                          tok->lineno);
      }
      c->lineno = tok->lineno;
      return 0;
    case K_DIR_ADDRESS: {
      int fam;
      uint8_t a[16];
      uint16_t port;
      if (ep_dir_parse_addrport(tok->args[0], tok->arglen[0], &fam, a, &port) < 0 || fam != 4) {
        return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: bad dir-address", DOC, tok->lineno);
      }
      c->has_dir_address = true;
      c->dir_ipv4 = ep_get_u32(a);
      c->dir_port = port;
      return 0;
    }
    case K_FINGERPRINT:
      if (ep_dir_arg_hex(tok, 0, c->fingerprint, EP_SHA1_LEN) < 0) {
        return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: bad fingerprint", DOC, tok->lineno);
      }
      return 0;
    case K_IDENTITY_KEY:
      c->identity_key = read_key(tok, c->identity_digest, err);
      return c->identity_key ? 0 : (err ? err->code : EP_ERR_MALFORMED);
    case K_SIGNING_KEY:
      c->signing_key = read_key(tok, c->signing_digest, err);
      return c->signing_key ? 0 : (err ? err->code : EP_ERR_MALFORMED);
    case K_PUBLISHED:
    case K_EXPIRES: {
      time_t t;
      if (ep_dir_arg_time(tok, 0, &t) < 0) {
        return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: bad time in '%s'", DOC, tok->lineno,
                          tok->rule->kw);
      }
      if (tok->id == K_PUBLISHED) {
        c->published = t;
      } else {
        c->expires = t;
      }
      return 0;
    }
    case K_CROSSCERT:
      return read_sig(tok, true, &c->crosscert, &c->crosscert_len, err);
    case K_CERTIFICATION:
      return read_sig(tok, false, &c->certification, &c->certification_len, err);
    default:
      return 0;
  }
}

ep_authcerts_t *ep_authcerts_parse(const char *text, size_t len, ep_err_t *err) {
  if (len > EP_CAP_AUTHCERTS) {
    ep_err_set(err, EP_ERR_LIMIT, "%s: %zu bytes exceeds EP_CAP_AUTHCERTS", DOC, len);
    return NULL;
  }
  ep_authcerts_t *l = calloc(1, sizeof *l);
  if (l == NULL) {
    ep_err_set(err, EP_ERR_NOMEM, "%s: out of memory", DOC);
    return NULL;
  }
  ep_dir_lexer_t lx;
  /* CollecTor's "@type dir-key-certificate-3 1.0" lines (one per file,
   * so one per certificate when files are concatenated) */
  ep_dir_lexer_init(&lx, text, len, DOC, EP_DIR_ANNOTATIONS_OK);
  ep_dir_tok_t tok;
  ep_dir_sec_t sec;
  ep_authcert_t *cur = NULL;
  size_t start_off = 0;
  int rc;
  for (;;) {
    rc = ep_dir_next(&lx, &tok, err);
    if (rc < 0) {
      goto fail;
    }
    if (rc == 0) {
      break;
    }
    if (tok.id == EP_DIR_KW_ANNOTATION) {
      if (cur != NULL) {
        rc = ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: annotation inside a certificate", DOC,
                        tok.lineno);
        goto fail;
      }
      continue;
    }
    if (ep_dir_tok_is(&tok, "dir-key-certificate-version")) {
      if (cur != NULL) {
        rc = ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: certificate before it has ended", DOC,
                        tok.lineno);
        goto fail;
      }
      if (l->n >= EP_AUTHCERT_MAX_CERTS) {
        rc = ep_err_set(err, EP_ERR_LIMIT, "%s line %zu: too many certificates", DOC, tok.lineno);
        goto fail;
      }
      rc = EP_VEC_RESERVE(l->v, l->alloc, l->n + 1, EP_AUTHCERT_MAX_CERTS, DOC, err);
      if (rc != EP_OK) {
        goto fail;
      }
      cur = &l->v[l->n++];
      memset(cur, 0, sizeof *cur);
      start_off = tok.offset;
      ep_dir_sec_init(&sec, DOC, "certificate", cert_rules, EP_DIR_NRULES(cert_rules));
    } else if (cur == NULL) {
      rc = ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: '%.*s' outside a certificate", DOC,
                      tok.lineno, (int)(tok.kw_len > 40 ? 40 : tok.kw_len), tok.kw);
      goto fail;
    }
    rc = ep_dir_match(DOC, cert_rules, EP_DIR_NRULES(cert_rules), &tok, err);
    if (rc < 0) {
      goto fail;
    }
    rc = ep_dir_sec_add(&sec, &tok, err);
    if (rc < 0) {
      goto fail;
    }
    rc = handle(cur, &tok, err);
    if (rc < 0) {
      goto fail;
    }
    if (tok.id == K_CERTIFICATION) {
      rc = ep_dir_sec_finish(&sec, tok.lineno, err);
      if (rc < 0) {
        goto fail;
      }
      /* Signed: from the first keyword through the newline after
       * "dir-key-certification" (the object starts on the next line). */
      const char *nl = memchr(text + tok.offset, '\n', len - tok.offset);
      if (nl == NULL) {
        rc = ep_err_set(err, EP_ERR_INTERNAL, "%s line %zu: no newline", DOC, tok.lineno);
        goto fail;
      }
      size_t end = (size_t)(nl - text) + 1;
      ep_sha1(cur->signed_digest, text + start_off, end - start_off);
      cur = NULL;
    }
  }
  if (cur != NULL) {
    rc = ep_dir_sec_finish(&sec, lx.lineno, err);
    if (rc >= 0) {
      rc = ep_err_set(err, EP_ERR_TRUNCATED, "%s line %zu: certificate does not end (truncated?)",
                      DOC, lx.lineno);
    }
    goto fail;
  }
  if (l->n == 0) {
    ep_err_set(err, EP_ERR_MALFORMED, "%s: no certificates", DOC);
    goto fail;
  }
  return l;
fail:
  ep_authcerts_free(l);
  return NULL;
}

static void hexid(char out[41], const uint8_t id[EP_SHA1_LEN]) {
  ep_hex_encode(out, 41, id, EP_SHA1_LEN, true);
}

int ep_authcert_verify_signatures(const ep_authcert_t *c, ep_err_t *err) {
  char h[41];
  hexid(h, c->fingerprint);
  if (c->identity_key == NULL || c->signing_key == NULL) {
    return ep_err_set(err, EP_ERR_VERIFY, "%s %s: keys missing", DOC, h);
  }
  if (!ep_ct_eq(c->fingerprint, c->identity_digest, EP_SHA1_LEN)) {
    return ep_err_set(err, EP_ERR_VERIFY, "%s line %zu: fingerprint %s is not the identity key's digest",
                      DOC, c->lineno, h);
  }
  if (ep_rsa_verify_raw(c->signing_key, c->crosscert, c->crosscert_len, c->identity_digest,
                        EP_SHA1_LEN) != EP_OK) {
    return ep_err_set(err, EP_ERR_VERIFY, "%s line %zu (%s): dir-key-crosscert does not verify", DOC,
                      c->lineno, h);
  }
  if (ep_rsa_verify_raw(c->identity_key, c->certification, c->certification_len, c->signed_digest,
                        EP_SHA1_LEN) != EP_OK) {
    return ep_err_set(err, EP_ERR_VERIFY, "%s line %zu (%s): dir-key-certification does not verify",
                      DOC, c->lineno, h);
  }
  return EP_OK;
}

int ep_authcert_verify(const ep_authcert_t *c, time_t now, int64_t skew, ep_err_t *err) {
  int rc = ep_authcert_verify_signatures(c, err);
  if (rc != EP_OK) {
    return rc;
  }
  char h[41];
  hexid(h, c->fingerprint);
  char t[24];
  if ((int64_t)now + skew < (int64_t)c->published) {
    ep_time_format_tor(t, sizeof t, c->published);
    return ep_err_set(err, EP_ERR_EXPIRED, "%s line %zu (%s): published in the future (%s)", DOC,
                      c->lineno, h, t);
  }
  if ((int64_t)now - skew > (int64_t)c->expires) {
    ep_time_format_tor(t, sizeof t, c->expires);
    return ep_err_set(err, EP_ERR_EXPIRED, "%s line %zu (%s): expired at %s", DOC, c->lineno, h, t);
  }
  return EP_OK;
}
