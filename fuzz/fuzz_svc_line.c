/* exitprobe — fuzz harness: the server-first line protocols of the service
 * checks (src/probe/engine/svc_line.c): the input is what the destination
 * says, to a check of each protocol (properties: svc_fuzz.h). */
#include "config.h"

#include "svc_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const names[] = {"smtp", "ftp", "ssh", "pop3", "imap", "irc", "nntp", "tcp"};
  return svc_fuzz_run(names, sizeof names / sizeof names[0], data, size, NULL);
}
