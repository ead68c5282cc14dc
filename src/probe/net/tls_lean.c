/* exitprobe — OpenSSL 3.0's public-key decoding without its decoder
 * framework (see ep_tls_lean_pubkeys in tls.h).
 *
 * Why: OpenSSL 3.0 turns the SubjectPublicKeyInfo of every certificate it
 * parses (each service's TLS leaf, each relay's link and identity
 * certificates) into a key through OSSL_DECODER_CTX_new_for_pkey, which
 * gathers and chains the provider decoders afresh for every key: about a
 * quarter of a TLS client handshake's instructions here (bench/RESULTS.md).
 * The decoder it ends up in calls the same per-type decoding as before 3.0
 * (the "legacy" ASN.1 methods: d2i of the SPKI, point on the curve, ...).
 * x509_pubkey_decode takes that path at once when an ENGINE implements the
 * key type; the engine registered here implements RSA, RSA-PSS and EC with
 * OpenSSL's own built-in methods (EVP_PKEY_meth_find), so the keys are
 * decoded and the signatures verified by the same code, without the
 * decoder set-up. Nothing is skipped: certificates, signatures and
 * handshakes are checked exactly as before.
 *
 * The cost: every RSA, RSA-PSS and EC operation of the process goes through
 * those built-in methods, which know curves by OpenSSL's names only
 * (EVP_EC_gen("P-256") fails; libssl's "prime256v1" works). Client
 * processes only: never where a server makes EC keys (tests). */
#include "config.h"

/* The ENGINE and EVP_PKEY_METHOD calls are deprecated in OpenSSL 3.0 (and
 * still there in 3.x): this file is where they are used on purpose. */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include "probe/net/tls.h"

#include <openssl/evp.h>
#include <openssl/opensslconf.h>
#ifndef OPENSSL_NO_ENGINE
#include <openssl/engine.h>
#endif

#ifndef OPENSSL_NO_ENGINE
static const int lean_nids[] = {EVP_PKEY_RSA, EVP_PKEY_RSA_PSS, EVP_PKEY_EC};

static int lean_pkey_meths(ENGINE *e, EVP_PKEY_METHOD **pmeth, const int **nids, int nid) {
  (void)e;
  if (pmeth == NULL) {
    *nids = lean_nids;
    return (int)(sizeof lean_nids / sizeof lean_nids[0]);
  }
  *pmeth = (EVP_PKEY_METHOD *)EVP_PKEY_meth_find(nid);
  return *pmeth != NULL ? 1 : 0;
}
#endif

bool ep_tls_lean_pubkeys(void) {
#ifndef OPENSSL_NO_ENGINE
  static bool done;
  if (done) {
    return true;
  }
  ENGINE *e = ENGINE_new();
  if (e == NULL) {
    return false;
  }
  bool ok = ENGINE_set_id(e, "exitprobe-lean-pubkeys") == 1 &&
            ENGINE_set_name(e, "exitprobe: built-in RSA/EC key methods, no decoder set-up") == 1 &&
            ENGINE_set_pkey_meths(e, lean_pkey_meths) == 1 && ENGINE_add(e) == 1 &&
            ENGINE_register_pkey_meths(e) == 1;
  ENGINE_free(e); /* the engine list holds it */
  done = ok;
  return ok;
#else
  return false;
#endif
}
