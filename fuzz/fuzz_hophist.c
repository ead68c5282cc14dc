/* exitprobe — fuzz harness: the first-hop history file read from the cache
 * directory between rounds (src/probe/engine/hops.c, ep_hophist_parse).
 *
 * Properties: parsing never fails except for the header (or memory); at
 * most EP_CAP_HOPHIST_ENTRIES entries, each with at most
 * EP_HOPHIST_MAX_FAILS failures; writing the history and reading it back
 * gives the same entries with no bad line; entries sorted, one per id; a note on any entry keeps the
 * failure count within its cap. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/caps.h"
#include "probe/engine/hops.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                      \
  do {                                                                        \
    if (!(cond)) {                                                            \
      fprintf(stderr, "fuzz_hophist: property failed: %s (line %d)\n", #cond, \
              __LINE__);                                                      \
      abort();                                                                \
    }                                                                         \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > EP_CAP_HOPHIST_FILE) {
    return 0; /* the cache reader caps the file */
  }
  ep_hophist_t h;
  ep_hophist_init(&h);
  ep_err_t err = {0};
  if (ep_hophist_parse(&h, data, size, &err) != EP_OK) {
    FUZZ_CHECK(h.n == 0 && err.msg[0] != '\0');
    ep_hophist_free(&h);
    return 0;
  }
  FUZZ_CHECK(h.n <= EP_CAP_HOPHIST_ENTRIES);
  for (size_t i = 0; i < h.n; i++) {
    FUZZ_CHECK(h.v[i].fails <= EP_HOPHIST_MAX_FAILS);
    FUZZ_CHECK(i == 0 || memcmp(h.v[i - 1].id, h.v[i].id, 20) < 0); /* sorted, one per id */
  }
  /* round trip */
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  FUZZ_CHECK(f != NULL);
  FUZZ_CHECK(ep_hophist_write(&h, f) == EP_OK);
  FUZZ_CHECK(fclose(f) == 0);
  ep_hophist_t back;
  ep_hophist_init(&back);
  FUZZ_CHECK(ep_hophist_parse(&back, (const uint8_t *)text, len, &err) == EP_OK);
  FUZZ_CHECK(back.n == h.n && back.bad_lines == 0);
  FUZZ_CHECK(h.n == 0 || memcmp(back.v, h.v, h.n * sizeof h.v[0]) == 0);
  free(text);
  ep_hophist_free(&back);
  /* notes stay within the cap */
  if (h.n > 0) {
    uint8_t id[20];
    memcpy(id, h.v[0].id, sizeof id);
    for (unsigned i = 0; i < EP_HOPHIST_MAX_FAILS + 2; i++) {
      FUZZ_CHECK(ep_hophist_note(&h, id, true, &err) == EP_OK);
    }
    FUZZ_CHECK(ep_hophist_fails(&h, id) == EP_HOPHIST_MAX_FAILS);
    FUZZ_CHECK(ep_hophist_note(&h, id, false, &err) == EP_OK);
    FUZZ_CHECK(ep_hophist_fails(&h, id) < EP_HOPHIST_MAX_FAILS);
  }
  ep_hophist_free(&h);
  return 0;
}
