/* exitprobe — fuzz harness: microdescriptors (src/dir/microdesc.h).
 *
 * The input is parsed strictly and with EP_MD_SKIP_INVALID; what parses is
 * walked: every digest is found again, checked against itself and against a
 * wrong value, and the policy summaries are asked about a few ports. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dir/microdesc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                        \
  do {                                                                          \
    if (!(cond)) {                                                              \
      fprintf(stderr, "fuzz_microdesc: property failed: %s (line %d)\n", #cond, \
              __LINE__);                                                        \
      abort();                                                                  \
    }                                                                           \
  } while (0)

static void walk(const ep_microdescs_t *l) {
  for (size_t i = 0; i < ep_microdescs_count(l); i++) {
    const ep_microdesc_t *md = ep_microdescs_get(l, i);
    const ep_microdesc_t *found = ep_microdescs_find(l, md->digest);
    FUZZ_CHECK(found != NULL && memcmp(found->digest, md->digest, 32) == 0);
    FUZZ_CHECK(ep_microdesc_check(md, md->digest, NULL) == EP_OK);
    uint8_t wrong[32];
    memcpy(wrong, md->digest, 32);
    wrong[31] ^= 1;
    ep_err_t err = {0};
    FUZZ_CHECK(ep_microdesc_check(md, wrong, &err) == EP_ERR_VERIFY);
    FUZZ_CHECK(md->policy != NULL && md->policy6 != NULL);
    static const uint16_t ports[] = {0, 1, 25, 443, 65535};
    for (size_t k = 0; k < sizeof ports / sizeof ports[0]; k++) {
      (void)ep_policy_summary_eval(md->policy, ports[k]);
      (void)ep_policy_summary_eval(md->policy6, ports[k]);
    }
    uint8_t d[32];
    ep_sha256(d, md->body, md->body_len);
    FUZZ_CHECK(memcmp(d, md->digest, 32) == 0);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ep_err_t err = {0};
  ep_microdescs_t *l = ep_microdescs_parse((const char *)data, size, 0, &err);
  if (l == NULL) {
    FUZZ_CHECK(err.code < 0 && strstr(err.msg, "microdescriptors") == err.msg);
  } else {
    walk(l);
    ep_microdescs_free(l);
  }
  l = ep_microdescs_parse((const char *)data, size, EP_MD_SKIP_INVALID, &err);
  if (l != NULL) {
    walk(l);
    for (size_t i = 0; i < ep_microdescs_n_invalid(l); i++) {
      FUZZ_CHECK(ep_microdescs_invalid_digest(l, i) != NULL);
    }
    FUZZ_CHECK(ep_microdescs_n_invalid(l) == 0 || ep_microdescs_first_error(l) != NULL);
    ep_microdescs_free(l);
  }
  return 0;
}
