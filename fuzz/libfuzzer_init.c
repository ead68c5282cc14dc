/* exitprobe — linked into every harness built with libFuzzer
 * (--enable-fuzzing) in place of fuzz/driver.c, whose main() would otherwise
 * do this: initialise the crypto library once before the first input.
 * A constructor, not LLVMFuzzerInitialize, so a harness stays free to
 * define that itself. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "lib/crypto.h"

static void fuzz_crypto_init(void) __attribute__((constructor));

static void fuzz_crypto_init(void) {
  if (ep_crypto_init() != 0) {
    fprintf(stderr, "fuzz: crypto initialisation failed\n");
    abort();
  }
}
