/* exitprobe — fuzz harness: the XMPP service check's bounded tag scanner
 * (src/probe/engine/svc_xmpp.c): the input is the server's side of the
 * stream (properties: svc_fuzz.h). */
#include "config.h"

#include "svc_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const names[] = {"xmpp"};
  return svc_fuzz_run(names, 1, data, size, NULL);
}
