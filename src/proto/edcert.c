/* exitprobe — Ed25519 certificates and the RSA->Ed25519 cross-certificate
 * (cert-spec §2). */
#include "config.h"

#include "proto/edcert.h"

#include <stdlib.h>
#include <string.h>

#include "lib/reader.h"
#include "lib/timeutil.h"

static const struct {
  unsigned value;
  const char *name;
} certtype_names[] = {
    {EP_CERTTYPE_ID_SIGNING, "id-signing"},
    {EP_CERTTYPE_SIGNING_LINK, "signing-link"},
    {EP_CERTTYPE_SIGNING_AUTH, "signing-auth"},
    {EP_CERTTYPE_RSA_CROSSCERT, "rsa-crosscert"},
    {EP_CERTTYPE_HS_DESC_SIGNING, "hs-desc-signing"},
    {EP_CERTTYPE_HS_INTRO_AUTH, "hs-intro-auth"},
    {EP_CERTTYPE_NTOR_CROSSCERT, "ntor-crosscert"},
    {EP_CERTTYPE_HS_ENC_KEY, "hs-enc-key"},
};

const char *ep_certtype_name(unsigned type) {
  for (size_t i = 0; i < sizeof certtype_names / sizeof certtype_names[0]; i++) {
    if (certtype_names[i].value == type) {
      return certtype_names[i].name;
    }
  }
  return "unknown";
}

const char *ep_certkey_name(unsigned key_type) {
  switch (key_type) {
    case EP_CERTKEY_ED25519:
      return "ed25519";
    case EP_CERTKEY_SHA256_RSA:
      return "sha256-of-rsa";
    case EP_CERTKEY_SHA256_X509:
      return "sha256-of-x509";
    default:
      return "unknown";
  }
}

const char *ep_certext_name(unsigned ext_type) {
  return ext_type == EP_CERTEXT_SIGNED_WITH_KEY ? "signed-with-ed25519-key" : "unknown";
}

/* A short read names the field it stopped in. */
static int truncated(ep_err_t *err, const char *field, const ep_reader_t *r) {
  return ep_err_set(err, EP_ERR_TRUNCATED, "ed25519 cert: truncated in %s (at byte %zu of %zu)",
                    field, ep_rd_pos(r), r->len);
}

static int parse_extensions(ep_edcert_t *c, ep_reader_t *r, ep_err_t *err) {
  if (c->n_extensions == 0) {
    return EP_OK;
  }
  c->extensions = calloc(c->n_extensions, sizeof *c->extensions);
  if (c->extensions == NULL) {
    return ep_err_set(err, EP_ERR_NOMEM, "ed25519 cert: out of memory");
  }
  for (unsigned i = 0; i < c->n_extensions; i++) {
    ep_edcert_ext_t *e = &c->extensions[i];
    if (ep_rd_u16(r, &e->len) != 0 || ep_rd_u8(r, &e->type) != 0 ||
        ep_rd_u8(r, &e->flags) != 0) {
      return ep_err_set(err, EP_ERR_TRUNCATED,
                        "ed25519 cert: extension %u of %u: header truncated (at byte %zu of %zu)",
                        i + 1, c->n_extensions, ep_rd_pos(r), r->len);
    }
    if (ep_rd_ptr(r, &e->data, e->len) != 0) {
      return ep_err_set(err, EP_ERR_TRUNCATED,
                        "ed25519 cert: extension %u of %u (type %u) wants %u bytes, %zu left",
                        i + 1, c->n_extensions, e->type, e->len, ep_rd_remaining(r));
    }
    if (e->type == EP_CERTEXT_SIGNED_WITH_KEY) {
      if (e->len != EP_EDCERT_KEY_LEN) {
        return ep_err_set(err, EP_ERR_MALFORMED,
                          "ed25519 cert: signed-with-ed25519-key extension is %u bytes, not 32",
                          e->len);
      }
      if (c->has_signing_key) {
        return ep_err_set(err, EP_ERR_MALFORMED,
                          "ed25519 cert: signed-with-ed25519-key extension given twice");
      }
      ep_reader_t kr;
      ep_reader_init(&kr, e->data, e->len);
      ep_rd_bytes(&kr, c->signing_key, sizeof c->signing_key);
      c->has_signing_key = true;
    } else if (e->flags & EP_CERTEXT_FLAG_AFFECTS_VALIDATION) {
      return ep_err_set(err, EP_ERR_UNSUPPORTED,
                        "ed25519 cert: extension %u of %u has unknown type %u with the "
                        "AFFECTS_VALIDATION flag: cert is invalid",
                        i + 1, c->n_extensions, e->type);
    }
  }
  return EP_OK;
}

int ep_edcert_parse(ep_edcert_t **out, const uint8_t *buf, size_t len, ep_err_t *err) {
  *out = NULL;
  ep_edcert_t *c = calloc(1, sizeof *c);
  if (c == NULL) {
    return ep_err_set(err, EP_ERR_NOMEM, "ed25519 cert: out of memory");
  }
  /* Parse from our own copy, so extension data can point into it. */
  c->encoded = malloc(len > 0 ? len : 1);
  if (c->encoded == NULL) {
    ep_edcert_free(c);
    return ep_err_set(err, EP_ERR_NOMEM, "ed25519 cert: out of memory");
  }
  if (len > 0) {
    memcpy(c->encoded, buf, len);
  }
  c->encoded_len = len;

  ep_reader_t r;
  ep_reader_init(&r, c->encoded, c->encoded_len);
  int rc = EP_OK;
  if (ep_rd_u8(&r, &c->version) != 0) {
    rc = truncated(err, "version", &r);
  } else if (c->version != EP_EDCERT_VERSION) {
    rc = ep_err_set(err, EP_ERR_UNSUPPORTED, "ed25519 cert: version %u, only 1 is known",
                    c->version);
  } else if (ep_rd_u8(&r, &c->cert_type) != 0) {
    rc = truncated(err, "cert type", &r);
  } else if (ep_rd_u32(&r, &c->expiration_hours) != 0) {
    rc = truncated(err, "expiration date", &r);
  } else if (ep_rd_u8(&r, &c->key_type) != 0) {
    rc = truncated(err, "certified key type", &r);
  } else if (ep_rd_bytes(&r, c->certified_key, sizeof c->certified_key) != 0) {
    rc = truncated(err, "certified key", &r);
  } else if (ep_rd_u8(&r, &c->n_extensions) != 0) {
    rc = truncated(err, "extension count", &r);
  } else if ((rc = parse_extensions(c, &r, err)) != EP_OK) {
    /* err filled */
  } else {
    c->signed_len = ep_rd_pos(&r);
    if (ep_rd_bytes(&r, c->signature, sizeof c->signature) != 0) {
      rc = truncated(err, "signature", &r);
    } else if (!ep_rd_empty(&r)) {
      rc = ep_err_set(err, EP_ERR_MALFORMED, "ed25519 cert: %zu stray bytes after the signature",
                      ep_rd_remaining(&r));
    }
  }
  if (rc != EP_OK) {
    ep_edcert_free(c);
    return rc;
  }
  *out = c;
  return EP_OK;
}

void ep_edcert_free(ep_edcert_t *cert) {
  if (cert == NULL) {
    return;
  }
  free(cert->extensions);
  free(cert->encoded);
  free(cert);
}

time_t ep_edcert_expires(const ep_edcert_t *cert) {
  return (time_t)cert->expiration_hours * 3600;
}

const ep_edcert_ext_t *ep_edcert_find_ext(const ep_edcert_t *cert, uint8_t type) {
  for (unsigned i = 0; i < cert->n_extensions; i++) {
    if (cert->extensions[i].type == type) {
      return &cert->extensions[i];
    }
  }
  return NULL;
}

static int expired(ep_err_t *err, const char *what, unsigned type, time_t expires, time_t now) {
  char when[32];
  char at[32];
  ep_time_format_tor(when, sizeof when, expires);
  ep_time_format_tor(at, sizeof at, now);
  return ep_err_set(err, EP_ERR_EXPIRED, "%s (type %u) expired at %s UTC (now %s UTC)", what,
                    type, when, at);
}

int ep_edcert_check(const ep_edcert_t *cert, const uint8_t *signing_key, time_t now,
                    ep_err_t *err) {
  const uint8_t *key = signing_key;
  if (key == NULL) {
    if (!cert->has_signing_key) {
      return ep_err_set(err, EP_ERR_VERIFY,
                        "ed25519 cert (type %u): no signing key given and no "
                        "signed-with-ed25519-key extension",
                        cert->cert_type);
    }
    key = cert->signing_key;
  } else if (cert->has_signing_key &&
             !ep_ct_eq(cert->signing_key, signing_key, EP_EDCERT_KEY_LEN)) {
    return ep_err_set(err, EP_ERR_VERIFY,
                      "ed25519 cert (type %u): signed-with-ed25519-key extension names "
                      "another key than the expected signer",
                      cert->cert_type);
  }
  if (ep_ed25519_verify(cert->signature, cert->encoded, cert->signed_len, key) != EP_OK) {
    return ep_err_set(err, EP_ERR_VERIFY, "ed25519 cert (type %u): bad signature",
                      cert->cert_type);
  }
  if (now > ep_edcert_expires(cert)) {
    return expired(err, "ed25519 cert", cert->cert_type, ep_edcert_expires(cert), now);
  }
  return EP_OK;
}

/* ---- RSA->Ed25519 cross-certificate ---- */

int ep_rsa_crosscert_parse(ep_rsa_crosscert_t *out, const uint8_t *buf, size_t len,
                           ep_err_t *err) {
  memset(out, 0, sizeof *out);
  ep_reader_t r;
  ep_reader_init(&r, buf, len);
  ep_reader_t body;
  if (ep_rd_sub(&r, &body, EP_RSA_CROSSCERT_BODY_LEN) != 0) {
    return ep_err_set(err, EP_ERR_TRUNCATED,
                      "rsa crosscert: %zu bytes, shorter than its %u-byte key and expiration",
                      len, EP_RSA_CROSSCERT_BODY_LEN);
  }
  /* The body is 36 bytes by construction: these reads cannot fail. */
  ep_reader_t copy = body;
  ep_rd_bytes(&copy, out->body, sizeof out->body);
  ep_rd_bytes(&body, out->ed25519_key, sizeof out->ed25519_key);
  ep_rd_u32(&body, &out->expiration_hours);
  if (ep_rd_u8(&r, &out->siglen) != 0) {
    return ep_err_set(err, EP_ERR_TRUNCATED, "rsa crosscert: truncated in signature length");
  }
  if (ep_rd_bytes(&r, out->signature, out->siglen) != 0) {
    return ep_err_set(err, EP_ERR_TRUNCATED,
                      "rsa crosscert: signature wants %u bytes, %zu left", out->siglen,
                      ep_rd_remaining(&r));
  }
  if (!ep_rd_empty(&r)) {
    return ep_err_set(err, EP_ERR_MALFORMED, "rsa crosscert: %zu stray bytes after the signature",
                      ep_rd_remaining(&r));
  }
  return EP_OK;
}

void ep_rsa_crosscert_digest(const ep_rsa_crosscert_t *cc, uint8_t out[EP_SHA256_LEN]) {
  static const char prefix[] = EP_RSA_CROSSCERT_PREFIX;
  uint8_t msg[sizeof prefix - 1 + EP_RSA_CROSSCERT_BODY_LEN];
  ep_writer_t w;
  ep_writer_init(&w, msg, sizeof msg);
  ep_wr_bytes(&w, prefix, sizeof prefix - 1);
  ep_wr_bytes(&w, cc->body, sizeof cc->body);
  ep_sha256(out, msg, sizeof msg);
}

time_t ep_rsa_crosscert_expires(const ep_rsa_crosscert_t *cc) {
  return (time_t)cc->expiration_hours * 3600;
}

int ep_rsa_crosscert_check(const ep_rsa_crosscert_t *cc, const ep_rsa_pub_t *rsa_identity,
                           time_t now, ep_err_t *err) {
  if (rsa_identity == NULL) {
    return ep_err_set(err, EP_ERR_VERIFY, "rsa crosscert: no RSA identity key to check it with");
  }
  uint8_t digest[EP_SHA256_LEN];
  ep_rsa_crosscert_digest(cc, digest);
  if (ep_rsa_verify_raw(rsa_identity, cc->signature, cc->siglen, digest, sizeof digest) != EP_OK) {
    return ep_err_set(err, EP_ERR_VERIFY,
                      "rsa crosscert: RSA signature (%u bytes) does not verify with the "
                      "identity key",
                      cc->siglen);
  }
  if (now > ep_rsa_crosscert_expires(cc)) {
    return expired(err, "rsa crosscert", EP_CERTTYPE_RSA_CROSSCERT, ep_rsa_crosscert_expires(cc),
                   now);
  }
  return EP_OK;
}
