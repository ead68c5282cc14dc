/* exitprobe — checking a parsed consensus: signatures (dir-spec §3.4.1
 * "directory-signature", §1.3) and validity times.
 *
 * A signature counts when: its algorithm is known (sha1 or sha256); its
 * identity is one of the trusted v3 authorities; a certificate with that
 * identity and signing-key digest is in `certs` and itself verifies (and is
 * current at `now`, within cert_skew); and the RSA signature's recovered
 * block equals the digest of the signed range. Each authority counts once.
 * The consensus is accepted when more than half of the trusted v3
 * authorities have a good signature on it. */
#ifndef EP_DIR_VERIFY_H
#define EP_DIR_VERIFY_H

#include <stddef.h>
#include <time.h>

#include "dir/authcert.h"
#include "dir/authority.h"
#include "dir/consensus.h"
#include "lib/err.h"

typedef enum ep_sig_status {
  EP_SIGST_GOOD = 0,
  EP_SIGST_BAD,               /* does not verify against the certified key */
  EP_SIGST_UNKNOWN_AUTHORITY, /* identity is not a trusted v3 authority */
  EP_SIGST_NO_CERT,           /* no certificate for (identity, signing key) */
  EP_SIGST_BAD_CERT,          /* the certificate does not verify */
  EP_SIGST_EXPIRED_CERT,      /* the certificate is not current */
  EP_SIGST_UNKNOWN_ALG,       /* algorithm we do not know: ignored */
  EP_SIGST_DUPLICATE          /* this authority was already counted */
} ep_sig_status_t;

const char *ep_sig_status_name(ep_sig_status_t s);

#define EP_SIGREPORT_MAX 64

typedef struct ep_sigreport {
  size_t n_known;     /* trusted v3 authorities */
  size_t n_needed;    /* good signatures needed: n_known / 2 + 1 */
  size_t n_good;      /* distinct trusted authorities with a good signature */
  size_t n_sigs;      /* signatures on the document */
  ep_sig_status_t status[EP_SIGREPORT_MAX];   /* per signature, in document order */
} ep_sigreport_t;

/* Check the signatures. EP_OK when enough are good; EP_ERR_VERIFY otherwise,
 * with err naming the document, the counts and the first failing signature's
 * line and reason. report (may be NULL) gets the details either way. */
int ep_consensus_verify_signatures(const ep_consensus_t *c, const ep_dir_authset_t *auths,
                                   const ep_authcerts_t *certs, time_t now, int64_t cert_skew,
                                   ep_sigreport_t *report, ep_err_t *err);

/* Is now within [valid-after - skew, valid-until + skew]? EP_OK or
 * EP_ERR_EXPIRED ("consensus: expired at 2022-11-19 13:00:00, now ..."). */
int ep_consensus_check_time(const ep_consensus_t *c, time_t now, int64_t skew, ep_err_t *err);

/* Both of the above (times first). */
int ep_consensus_verify(const ep_consensus_t *c, const ep_dir_authset_t *auths,
                        const ep_authcerts_t *certs, time_t now, int64_t skew, ep_err_t *err);

#endif
