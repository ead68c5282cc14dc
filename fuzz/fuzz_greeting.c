/* exitprobe — fuzz harness: the SMTP greeting reader (src/probe/smtp.h).
 *
 * The input is what a destination sent through the exit. It is fed whole
 * (stream ended and not), then as a stream that arrives one byte at a time:
 * every prefix, with eof false, then once with eof true. Asserted: a decision
 * taken on a prefix never changes as more bytes arrive; the end of the stream
 * always decides; the kept text is the first EP_CAP_BANNER bytes. */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/caps.h"
#include "probe/engine/smtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "fuzz_greeting: property failed: %s (line %d)\n", #cond, \
              __LINE__);                                                       \
      abort();                                                                 \
    }                                                                          \
  } while (0)

/* Past the cap nothing more is looked at; a few bytes beyond it are enough
 * to cover the capped path, and keep a long input from costing n^2. */
#define FUZZ_PREFIX_MAX (EP_CAP_BANNER + 8u)

static void check_shape(const ep_greeting_t *g, const uint8_t *data, size_t len, int decided) {
  size_t keep = len < EP_CAP_BANNER ? len : EP_CAP_BANNER;
  FUZZ_CHECK(g->len == keep);
  FUZZ_CHECK(g->capped == (len > EP_CAP_BANNER));
  FUZZ_CHECK(keep == 0 || memcmp(g->text, data, keep) == 0);
  FUZZ_CHECK(g->code >= 0 && g->code <= 999);
  FUZZ_CHECK(decided == 0 || decided == 1);
  if (decided) {
    FUZZ_CHECK(g->kind == EP_GREETING_SMTP || g->kind == EP_GREETING_NOT_SMTP ||
               g->kind == EP_GREETING_PARTIAL || g->kind == EP_GREETING_NONE);
  }
  if (g->kind == EP_GREETING_SMTP) {
    FUZZ_CHECK(decided == 1 && g->lines >= 1);
  }
  if (ep_greeting_is_ready(g)) {
    FUZZ_CHECK(g->kind == EP_GREETING_SMTP && g->code == 220);
  }
  if (g->capped) {
    FUZZ_CHECK(decided == 1);    /* a flood always decides */
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* Several greetings are large (about 1 KB each): keep them off the stack. */
  ep_greeting_t *whole = malloc(sizeof *whole);
  ep_greeting_t *at_eof = malloc(sizeof *at_eof);
  ep_greeting_t *g = malloc(sizeof *g);
  ep_greeting_t *first = malloc(sizeof *first);
  if (whole == NULL || at_eof == NULL || g == NULL || first == NULL) {
    free(whole);
    free(at_eof);
    free(g);
    free(first);
    return 0;
  }

  int d_whole = ep_greeting_parse(data, size, false, whole);
  check_shape(whole, data, size, d_whole);
  int d_eof = ep_greeting_parse(data, size, true, at_eof);
  check_shape(at_eof, data, size, d_eof);
  FUZZ_CHECK(d_eof == 1);        /* the end of the stream always decides */
  if (d_whole) {
    /* Decided without the end: the end changes nothing. */
    FUZZ_CHECK(at_eof->kind == whole->kind && at_eof->code == whole->code &&
               at_eof->lines == whole->lines);
  }

  /* The stream arriving byte by byte. */
  size_t limit = size < FUZZ_PREFIX_MAX ? size : FUZZ_PREFIX_MAX;
  bool have_first = false;
  for (size_t k = 0; k <= limit; k++) {
    int d = ep_greeting_parse(data, k, false, g);
    check_shape(g, data, k, d);
    if (d && !have_first) {
      memcpy(first, g, sizeof *first);
      have_first = true;
    }
    if (have_first) {
      /* Once decided, more bytes never change the answer. */
      FUZZ_CHECK(d == 1);
      FUZZ_CHECK(g->kind == first->kind && g->code == first->code && g->lines == first->lines);
    }
  }
  if (have_first) {
    FUZZ_CHECK(whole->kind == first->kind && whole->code == first->code &&
               whole->lines == first->lines);
  } else {
    FUZZ_CHECK(d_whole == 0 || size > limit);
  }
  free(whole);
  free(at_eof);
  free(g);
  free(first);
  return 0;
}
