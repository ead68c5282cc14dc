/* exitprobe — consensus parsing: the footer and the signatures (dir-spec
 * §3.4.1). The signatures are checked by dir/verify.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "dir/consensus_internal.h"
#include "lib/crypto.h"
#include "lib/vec.h"

int ep_cons_footer_item(ep_consensus_t *c, const ep_dir_tok_t *tok, ep_err_t *err) {
  if (tok->id == K_BW_WEIGHTS) {
    return ep_cons_kv_list(c, tok, &c->weights, &c->n_weights, err);
  }
  return 0;
}

int ep_cons_signature_item(ep_consensus_t *c, ep_dir_tok_t *tok, ep_err_t *err) {
  int rc = EP_VEC_RESERVE(c->sigs, c->alloc_sigs, c->n_sigs + 1, EP_CONS_MAX_SIGNATURES,
                          "signatures", NULL);
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
