/* exitprobe — fuzz harness: the HTTP service check
 * (src/probe/engine/svc_http.c): the input is the server's answer to
 * HEAD / (properties: svc_fuzz.h). */
#include "config.h"

#include "svc_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const names[] = {"http"};
  return svc_fuzz_run(names, 1, data, size, NULL);
}
