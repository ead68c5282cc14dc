/* exitprobe — fuzz harness: the implicit-TLS service check
 * (src/probe/engine/svc_tls.c, OpenSSL over memory BIOs): the input is the
 * server's side of the handshake, to an https and an imaps check
 * (properties: svc_fuzz.h; TLS chunking may change the outcome, so only the
 * shape and the caps are asserted). */
#include "config.h"

#include "svc_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const names[] = {"https", "imaps"};
  return svc_fuzz_run(names, 2, data, size, NULL);
}
