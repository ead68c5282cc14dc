/* exitprobe — fuzz harness: exit policies (src/dir/policy.h).
 *
 * The input is parsed as a policy summary ("accept 20-23,25") and as a
 * torrc-style full policy ("accept 1.2.3.0/24:25, reject *:*"). Summaries are
 * formatted and parsed back (same answers); full policies are asked about
 * ports to fixed and unspecified addresses, and summarised: the summary must
 * only claim "accepted" for ports the policy accepts to an unspecified
 * address. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dir/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                     \
  do {                                                                       \
    if (!(cond)) {                                                           \
      fprintf(stderr, "fuzz_policy: property failed: %s (line %d)\n", #cond, \
              __LINE__);                                                     \
      abort();                                                               \
    }                                                                        \
  } while (0)

static const uint16_t ports[] = {0, 1, 2, 22, 25, 80, 443, 1024, 6667, 65534, 65535};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ep_err_t err = {0};
  const char *s = (const char *)data;
  ep_policy_summary_t *sum = ep_policy_summary_new(s, size, &err);
  if (sum != NULL) {
    char buf[8192];
    ep_policy_summary_format(sum, buf, sizeof buf);
    size_t bl = strlen(buf);
    if (bl < sizeof buf - 1 && (bl < 3 || strcmp(buf + bl - 3, "...") != 0)) {
      ep_policy_summary_t *again = ep_policy_summary_new(buf, bl, &err);
      FUZZ_CHECK(again != NULL);
      for (size_t k = 0; k < sizeof ports / sizeof ports[0]; k++) {
        FUZZ_CHECK(ep_policy_summary_allows(sum, ports[k]) == ep_policy_summary_allows(again, ports[k]));
      }
      ep_policy_summary_free(again);
    }
    for (size_t k = 0; k < sizeof ports / sizeof ports[0]; k++) {
      ep_policy_answer_t a = ep_policy_summary_eval(sum, ports[k]);
      FUZZ_CHECK(a.basis == EP_POLICY_BASIS_SUMMARY);
      FUZZ_CHECK(a.may_be_restricted == (a.verdict == EP_POLICY_REJECT && ports[k] != 0));
    }
    ep_policy_summary_free(sum);
  }
  ep_policy_t *p = ep_policy_parse(s, size, &err);
  if (p == NULL) {
    FUZZ_CHECK(err.code < 0);
    return 0;
  }
  ep_ipaddr_t addrs[] = {{4, {93, 184, 216, 34}}, {4, {10, 0, 0, 1}}, {6, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}}};
  for (int fam = 4; fam <= 6; fam += 2) {
    ep_port_range_t r[256];
    bool accept;
    int n = ep_policy_summarize(p, fam, &accept, r, 256);
    FUZZ_CHECK(n >= 0);
    ep_policy_summary_t ps = {accept, (uint16_t)n, r};
    for (size_t k = 0; k < sizeof ports / sizeof ports[0]; k++) {
      ep_policy_answer_t a = ep_policy_eval(p, NULL, fam, ports[k]);
      FUZZ_CHECK(a.basis == EP_POLICY_BASIS_FULL);
      if (n < 256 && ep_policy_summary_allows(&ps, ports[k])) {
        FUZZ_CHECK(a.verdict == EP_POLICY_ACCEPT);
      }
      if (ports[k] == 0) {
        FUZZ_CHECK(a.verdict == EP_POLICY_REJECT);
      }
    }
  }
  for (size_t i = 0; i < sizeof addrs / sizeof addrs[0]; i++) {
    for (size_t k = 0; k < sizeof ports / sizeof ports[0]; k++) {
      ep_policy_answer_t a = ep_policy_eval(p, &addrs[i], 0, ports[k]);
      FUZZ_CHECK(a.verdict != EP_POLICY_ACCEPT_SOME);
      ep_policy_answer_t u = ep_policy_eval(p, NULL, addrs[i].family, ports[k]);
      /* a definite answer for every address must agree with this address */
      if (u.verdict == EP_POLICY_REJECT) {
        FUZZ_CHECK(a.verdict == EP_POLICY_REJECT);
      }
      if (u.verdict == EP_POLICY_ACCEPT && !u.some_rejected) {
        FUZZ_CHECK(a.verdict == EP_POLICY_ACCEPT);
      }
    }
  }
  ep_policy_free(p);
  return 0;
}
