/* exitprobe — fuzz harness: server descriptors (src/dir/routerdesc.h).
 *
 * The input is parsed as a concatenation of descriptors; each one that
 * parses is verified (RSA and, if present, Ed25519) and its full policy asked
 * about a few ports, to an unspecified address and to fixed ones, and
 * summarised. The Ed25519 certificate parser also gets the raw input.
 * The same input parsed with EP_RD_SKIP_INVALID must agree with the strict
 * parse: everything when that succeeds, at least one skipped when it fails. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dir/routerdesc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                         \
  do {                                                                           \
    if (!(cond)) {                                                               \
      fprintf(stderr, "fuzz_routerdesc: property failed: %s (line %d)\n", #cond, \
              __LINE__);                                                         \
      abort();                                                                   \
    }                                                                            \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ep_err_t err = {0};
  ep_dir_edcert_t cert;
  if (ep_dir_edcert_parse(data, size, &cert, &err) == 0) {
    FUZZ_CHECK(cert.signed_len + 64 == size);
    int rc = ep_dir_edcert_verify(&cert, NULL, 1700000000, &err);
    FUZZ_CHECK(rc == EP_OK || rc == EP_ERR_VERIFY || rc == EP_ERR_EXPIRED);
  }
  ep_routerdescs_t *l = ep_routerdescs_parse((const char *)data, size, &err);
  ep_err_t err2 = {0};
  ep_routerdescs_t *lax = ep_routerdescs_parse_flags((const char *)data, size, EP_RD_SKIP_INVALID, &err2);
  if (lax == NULL) {
    FUZZ_CHECK(err2.code < 0 && strstr(err2.msg, "server descriptor") == err2.msg);
    FUZZ_CHECK(l == NULL);
  } else if (l != NULL) {
    FUZZ_CHECK(ep_routerdescs_count(lax) == ep_routerdescs_count(l) && ep_routerdescs_n_invalid(lax) == 0);
  } else {
    FUZZ_CHECK(ep_routerdescs_n_invalid(lax) >= 1 && ep_routerdescs_first_error(lax) != NULL);
  }
  ep_routerdescs_free(lax);
  if (l == NULL) {
    FUZZ_CHECK(err.code < 0 && strstr(err.msg, "server descriptor") == err.msg);
    return 0;
  }
  ep_ipaddr_t v4 = {4, {93, 184, 216, 34}}, v6 = {6, {0x20, 0x01, 0x0d, 0xb8}};
  static const uint16_t ports[] = {0, 1, 25, 80, 443, 65535};
  for (size_t i = 0; i < ep_routerdescs_count(l); i++) {
    const ep_routerdesc_t *d = ep_routerdescs_get(l, i);
    int rc = ep_routerdesc_verify(d, 1700000000, &err);
    FUZZ_CHECK(rc == EP_OK || rc == EP_ERR_VERIFY || rc == EP_ERR_EXPIRED || rc == EP_ERR_MALFORMED ||
               rc == EP_ERR_TRUNCATED || rc == EP_ERR_UNSUPPORTED);
    FUZZ_CHECK(ep_routerdescs_find(l, d->identity_digest) != NULL);
    for (size_t k = 0; k < sizeof ports / sizeof ports[0]; k++) {
      ep_policy_answer_t a = ep_routerdesc_policy_eval(d, NULL, 4, ports[k]);
      if (ports[k] == 0) {
        FUZZ_CHECK(a.verdict == EP_POLICY_REJECT);
      }
      (void)ep_routerdesc_policy_eval(d, &v4, 4, ports[k]);
      (void)ep_routerdesc_policy_eval(d, &v6, 6, ports[k]);
      (void)ep_routerdesc_policy_eval(d, NULL, 6, ports[k]);
    }
    ep_port_range_t r[64];
    bool accept;
    int n = ep_policy_summarize(d->policy, 4, &accept, r, 64);
    FUZZ_CHECK(n >= 0 && n <= 64);
    for (int k = 0; k < n; k++) {
      FUZZ_CHECK(r[k].lo >= 1 && r[k].lo <= r[k].hi);
    }
  }
  ep_routerdescs_free(l);
  return 0;
}
