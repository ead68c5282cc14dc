/* exitprobe — fuzz harness: the DNS-over-TCP service check
 * (src/probe/engine/svc_dns.c): the input is the server's response; its id
 * (bytes 2-3, after the length) is set to the random id of the check's
 * query so the fuzzer reaches the parser (properties: svc_fuzz.h). */
#include "config.h"

#include "svc_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fix_id(uint8_t *data, size_t size, const uint8_t *sent, size_t sent_len) {
  if (size >= 4 && sent_len >= 4) memcpy(data + 2, sent + 2, 2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const names[] = {"dns"};
  return svc_fuzz_run(names, 1, data, size, fix_id);
}
