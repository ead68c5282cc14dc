/* exitprobe — consensus signature and time checks. */
#include "config.h"

#include "dir/verify.h"

#include <stdio.h>
#include <string.h>

#include "lib/crypto.h"
#include "lib/encode.h"
#include "lib/timeutil.h"

/* Certificates checked per call (one per signing authority in practice). */
#define EP_VERIFY_CERT_CACHE 64

const char *ep_sig_status_name(ep_sig_status_t s) {
  switch (s) {
    case EP_SIGST_GOOD: return "good";
    case EP_SIGST_BAD: return "signature does not verify";
    case EP_SIGST_UNKNOWN_AUTHORITY: return "not a trusted authority";
    case EP_SIGST_NO_CERT: return "no certificate for its signing key";
    case EP_SIGST_BAD_CERT: return "its certificate does not verify";
    case EP_SIGST_EXPIRED_CERT: return "its certificate is not current";
    case EP_SIGST_UNKNOWN_ALG: return "unknown digest algorithm";
    case EP_SIGST_DUPLICATE: return "authority already counted";
    default: return "unknown";
  }
}

typedef struct cert_cache {
  const ep_authcert_t *cert[EP_VERIFY_CERT_CACHE];
  int result[EP_VERIFY_CERT_CACHE];
  size_t n;
} cert_cache_t;

static int cert_result(cert_cache_t *cc, const ep_authcert_t *cert, time_t now, int64_t skew) {
  for (size_t i = 0; i < cc->n; i++) {
    if (cc->cert[i] == cert) {
      return cc->result[i];
    }
  }
  int rc = ep_authcert_verify(cert, now, skew, NULL);
  if (cc->n < EP_VERIFY_CERT_CACHE) {
    cc->cert[cc->n] = cert;
    cc->result[cc->n] = rc;
    cc->n++;
  }
  return rc;
}

static const char *who(const ep_consensus_t *c, const ep_dir_authset_t *auths,
                       const uint8_t id[EP_SHA1_LEN]) {
  const ep_dir_authority_t *a = ep_dir_authset_find_v3(auths, id);
  if (a != NULL && a->nickname[0] != '\0') {
    return a->nickname;
  }
  for (size_t i = 0; i < ep_consensus_n_dir_sources(c); i++) {
    const ep_dir_source_t *d = ep_consensus_dir_source(c, i);
    if (memcmp(d->identity, id, EP_SHA1_LEN) == 0) {
      return d->nickname;
    }
  }
  return "?";
}

int ep_consensus_verify_signatures(const ep_consensus_t *c, const ep_dir_authset_t *auths,
                                   const ep_authcerts_t *certs, time_t now, int64_t cert_skew,
                                   ep_sigreport_t *report, ep_err_t *err) {
  ep_sigreport_t local;
  ep_sigreport_t *r = report != NULL ? report : &local;
  memset(r, 0, sizeof *r);
  r->n_known = ep_dir_authset_n_v3(auths);
  r->n_needed = r->n_known / 2 + 1;
  r->n_sigs = ep_consensus_n_signatures(c);
  cert_cache_t cc;
  cc.n = 0;
  uint8_t d1[EP_SHA256_LEN], d256[EP_SHA256_LEN];
  bool have1 = false, have256 = false;
  uint8_t counted[EP_SIGREPORT_MAX][EP_SHA1_LEN];
  size_t ncounted = 0;
  const ep_dir_signature_t *first_bad = NULL;
  ep_sig_status_t first_bad_status = EP_SIGST_GOOD;

  for (size_t i = 0; i < r->n_sigs; i++) {
    const ep_dir_signature_t *s = ep_consensus_signature(c, i);
    ep_sig_status_t st = EP_SIGST_GOOD;
    const ep_authcert_t *cert = NULL;
    bool dup = false;
    for (size_t j = 0; j < ncounted; j++) {
      if (memcmp(counted[j], s->identity, EP_SHA1_LEN) == 0) {
        dup = true;
      }
    }
    if (s->alg != EP_SIG_SHA1 && s->alg != EP_SIG_SHA256) {
      st = EP_SIGST_UNKNOWN_ALG;
    } else if (ep_dir_authset_find_v3(auths, s->identity) == NULL) {
      st = EP_SIGST_UNKNOWN_AUTHORITY;
    } else if (dup) {
      st = EP_SIGST_DUPLICATE;
    } else if ((cert = ep_authcerts_find(certs, s->identity, s->signing_key_digest)) == NULL) {
      st = EP_SIGST_NO_CERT;
    } else {
      int cr = cert_result(&cc, cert, now, cert_skew);
      if (cr == EP_ERR_EXPIRED) {
        st = EP_SIGST_EXPIRED_CERT;
      } else if (cr != EP_OK) {
        st = EP_SIGST_BAD_CERT;
      } else {
        const uint8_t *dg;
        size_t dl;
        if (s->alg == EP_SIG_SHA1) {
          if (!have1) {
            ep_consensus_signed_digest(c, EP_SIG_SHA1, d1);
            have1 = true;
          }
          dg = d1;
          dl = EP_SHA1_LEN;
        } else {
          if (!have256) {
            ep_consensus_signed_digest(c, EP_SIG_SHA256, d256);
            have256 = true;
          }
          dg = d256;
          dl = EP_SHA256_LEN;
        }
        if (ep_rsa_verify_raw(cert->signing_key, s->sig, s->sig_len, dg, dl) != EP_OK) {
          st = EP_SIGST_BAD;
        }
      }
    }
    if (st == EP_SIGST_GOOD && ncounted < EP_SIGREPORT_MAX) {
      memcpy(counted[ncounted++], s->identity, EP_SHA1_LEN);
      r->n_good++;
    }
    if (i < EP_SIGREPORT_MAX) {
      r->status[i] = st;
    }
    if (st != EP_SIGST_GOOD && st != EP_SIGST_DUPLICATE && first_bad == NULL) {
      first_bad = s;
      first_bad_status = st;
    }
  }
  if (r->n_known > 0 && r->n_good >= r->n_needed) {
    return EP_OK;
  }
  if (r->n_known == 0) {
    return ep_err_set(err, EP_ERR_VERIFY, "%s: no trusted authorities to check signatures against",
                      ep_consensus_doc_name(c));
  }
  if (first_bad != NULL) {
    char idhex[41];
    ep_hex_encode(idhex, sizeof idhex, first_bad->identity, EP_SHA1_LEN, true);
    return ep_err_set(err, EP_ERR_VERIFY,
                      "%s: %zu good signature%s from %zu trusted authorities, need %zu; "
                      "line %zu: %s (%.8s...): %s",
                      ep_consensus_doc_name(c), r->n_good, r->n_good == 1 ? "" : "s", r->n_known,
                      r->n_needed, first_bad->lineno, who(c, auths, first_bad->identity), idhex,
                      ep_sig_status_name(first_bad_status));
  }
  return ep_err_set(err, EP_ERR_VERIFY,
                    "%s: %zu good signature%s from %zu trusted authorities, need %zu",
                    ep_consensus_doc_name(c), r->n_good, r->n_good == 1 ? "" : "s", r->n_known,
                    r->n_needed);
}

int ep_consensus_check_time(const ep_consensus_t *c, time_t now, int64_t skew, ep_err_t *err) {
  char t[24], n[24];
  if ((int64_t)now + skew < (int64_t)ep_consensus_valid_after(c)) {
    ep_time_format_tor(t, sizeof t, ep_consensus_valid_after(c));
    ep_time_format_tor(n, sizeof n, now);
    return ep_err_set(err, EP_ERR_EXPIRED, "%s: not valid before %s (now %s)",
                      ep_consensus_doc_name(c), t, n);
  }
  if ((int64_t)now - skew > (int64_t)ep_consensus_valid_until(c)) {
    ep_time_format_tor(t, sizeof t, ep_consensus_valid_until(c));
    ep_time_format_tor(n, sizeof n, now);
    return ep_err_set(err, EP_ERR_EXPIRED, "%s: expired at %s (now %s)", ep_consensus_doc_name(c),
                      t, n);
  }
  return EP_OK;
}

int ep_consensus_verify(const ep_consensus_t *c, const ep_dir_authset_t *auths,
                        const ep_authcerts_t *certs, time_t now, int64_t skew, ep_err_t *err) {
  int rc = ep_consensus_check_time(c, now, skew, err);
  if (rc != EP_OK) {
    return rc;
  }
  return ep_consensus_verify_signatures(c, auths, certs, now, skew, NULL, err);
}
