/* exitprobe — fuzz harness: consensus documents, both flavours (src/dir/consensus.h).
 *
 * The input is parsed as a consensus; one that parses is walked (every
 * entry, its policy summary, the lookups), its signatures are checked against
 * the built-in authorities with no certificates and then with certificates
 * parsed from the same input, and its times against a fixed `now`. Properties
 * that must hold are asserted: a finding is a sanitizer report or one of these
 * aborts. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dir/authcert.h"
#include "dir/authority.h"
#include "dir/consensus.h"
#include "dir/token.h"
#include "dir/verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                        \
  do {                                                                          \
    if (!(cond)) {                                                              \
      fprintf(stderr, "fuzz_consensus: property failed: %s (line %d)\n", #cond, \
              __LINE__);                                                        \
      abort();                                                                  \
    }                                                                           \
  } while (0)

#define FUZZ_NOW ((time_t)1668855600) /* 2022-11-19 11:00:00 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ep_err_t err = {0};
  ep_consensus_t *c = ep_consensus_parse((const char *)data, size, &err);
  if (c == NULL) {
    FUZZ_CHECK(err.code < 0);
    FUZZ_CHECK(strstr(err.msg, "consensus") != NULL);
    return 0;
  }
  size_t n = ep_consensus_n_routers(c);
  for (size_t i = 0; i < n; i++) {
    const ep_routerstatus_t *rs = ep_consensus_router(c, i);
    FUZZ_CHECK(rs != NULL);
    FUZZ_CHECK(strlen(rs->nickname) >= 1 && strlen(rs->nickname) <= 19);
    const ep_policy_summary_t *p = ep_routerstatus_policy(rs);
    ep_policy_answer_t a = ep_policy_summary_eval(p, 25);
    FUZZ_CHECK(a.basis == EP_POLICY_BASIS_SUMMARY);
    FUZZ_CHECK((a.verdict == EP_POLICY_ACCEPT) == ep_policy_summary_allows(p, 25));
    FUZZ_CHECK(!ep_policy_summary_allows(p, 0));
    FUZZ_CHECK(ep_consensus_find_identity(c, rs->identity) == (long)i);
    if (ep_consensus_flavor(c) == EP_FLAVOR_MICRODESC) {
      long k = ep_consensus_find_md(c, rs->digest);
      FUZZ_CHECK(k >= 0 && memcmp(ep_consensus_router(c, (size_t)k)->digest, rs->digest, 32) == 0);
    }
    if (rs->proto != NULL) {
      (void)ep_dir_proto_supports(rs->proto, rs->proto_len, "Relay", 2);
    }
  }
  FUZZ_CHECK(ep_consensus_router(c, n) == NULL);
  FUZZ_CHECK(ep_consensus_n_signatures(c) >= 1 || ep_consensus_n_dir_sources(c) >= 1);
  (void)ep_consensus_param(c, "circwindow", 1000, 100, 1000);
  const char *signed_text;
  size_t signed_len;
  ep_consensus_signed_range(c, &signed_text, &signed_len);
  /* The signed text is the document itself: the input after a CollecTor
   * "@type" annotation line, if there is one. */
  size_t skip = ep_dir_type_annotation_len((const char *)data, size);
  FUZZ_CHECK(skip <= size && signed_len <= size - skip &&
             memcmp(signed_text, data + skip, signed_len) == 0);

  ep_sigreport_t rep;
  int rc = ep_consensus_verify_signatures(c, ep_dir_authset_builtin(), NULL, FUZZ_NOW, 0, &rep, &err);
  FUZZ_CHECK(rc == EP_ERR_VERIFY && rep.n_good == 0); /* no certificates: nothing can verify */
  ep_authcerts_t *certs = ep_authcerts_parse((const char *)data, size, &err);
  if (certs != NULL) {
    rc = ep_consensus_verify_signatures(c, ep_dir_authset_builtin(), certs, FUZZ_NOW, 0, &rep, &err);
    FUZZ_CHECK(rc == EP_OK || rc == EP_ERR_VERIFY);
    FUZZ_CHECK(rep.n_good <= rep.n_sigs);
    ep_authcerts_free(certs);
  }
  rc = ep_consensus_check_time(c, FUZZ_NOW, 3600, &err);
  FUZZ_CHECK(rc == EP_OK || rc == EP_ERR_EXPIRED);
  ep_consensus_free(c);
  return 0;
}
