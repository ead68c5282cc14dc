/* exitprobe — the body shared by the service-check harnesses
 * (fuzz_svc_*.c): the input is what the destination sends, fed to a check
 * of each of the harness's services whole, then in chunks of a size the
 * input's first byte picks, then with the end of the stream. Asserted: a
 * check never reads more than EP_CAP_SVC_INPUT, a decision sticks once
 * taken, the end of the stream always decides, result strings are
 * NUL-terminated within their fields, and (plain protocols) the chunking
 * does not change the outcome. */
#ifndef EP_FUZZ_SVC_FUZZ_H
#define EP_FUZZ_SVC_FUZZ_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe/engine/svc.h"

#define SVC_FUZZ_CHECK(cond)                                                      \
  do {                                                                            \
    if (!(cond)) {                                                                \
      fprintf(stderr, "fuzz_svc: property failed: %s (line %d)\n", #cond, __LINE__); \
      abort();                                                                    \
    }                                                                             \
  } while (0)

/* Optional hook: edits the input with what the check sent (DNS: its id). */
typedef void (*svc_fuzz_fix_t)(uint8_t *data, size_t size, const uint8_t *sent, size_t sent_len);

static void svc_fuzz_shape(const ep_svc_result_t *r) {
  SVC_FUZZ_CHECK(r->bytes_in <= EP_CAP_SVC_INPUT);
  SVC_FUZZ_CHECK(memchr(r->answer, 0, sizeof r->answer) != NULL);
  SVC_FUZZ_CHECK(memchr(r->why, 0, sizeof r->why) != NULL);
  SVC_FUZZ_CHECK(memchr(r->identity, 0, sizeof r->identity) != NULL);
  SVC_FUZZ_CHECK(memchr(r->cert_subject, 0, sizeof r->cert_subject) != NULL);
  SVC_FUZZ_CHECK(r->status >= EP_SVC_NEED_MORE && r->status <= EP_SVC_FAILED);
  SVC_FUZZ_CHECK(!r->refused || r->status == EP_SVC_ANSWERED);
  SVC_FUZZ_CHECK(r->status == EP_SVC_ANSWERED || r->status == EP_SVC_NEED_MORE || r->why[0] != 0);
}

/* One check over the input in chunks of `chunk`; returns its final status. */
static ep_svc_status_t svc_fuzz_one(const char *name, uint8_t *data, size_t size, size_t chunk,
                                    svc_fuzz_fix_t fix, char answer[EP_SVC_ANSWER]) {
  ep_svc_spec_t spec;
  ep_err_t err;
  SVC_FUZZ_CHECK(ep_svc_parse(name, &spec, &err) == EP_OK);
  ep_svc_t *sv = ep_svc_new(spec, "svc.example.test", &err);
  SVC_FUZZ_CHECK(sv != NULL);
  const uint8_t *p;
  size_t n = ep_svc_output(sv, &p);
  if (fix) fix(data, size, p, n);
  ep_svc_output_done(sv, n);
  ep_svc_status_t decided = EP_SVC_NEED_MORE;
  for (size_t i = 0; i < size; i += chunk) {
    ep_svc_status_t st = ep_svc_input(sv, data + i, size - i < chunk ? size - i : chunk, false);
    if (decided != EP_SVC_NEED_MORE) SVC_FUZZ_CHECK(st == decided); /* sticks */
    decided = st;
    svc_fuzz_shape(ep_svc_result(sv));
    while ((n = ep_svc_output(sv, &p)) > 0) ep_svc_output_done(sv, n);
  }
  ep_svc_status_t st = ep_svc_input(sv, NULL, 0, true);
  SVC_FUZZ_CHECK(st != EP_SVC_NEED_MORE); /* the end always decides */
  if (decided != EP_SVC_NEED_MORE) SVC_FUZZ_CHECK(st == decided);
  svc_fuzz_shape(ep_svc_result(sv));
  memcpy(answer, ep_svc_result(sv)->answer, EP_SVC_ANSWER);
  ep_svc_free(sv);
  return st;
}

static int svc_fuzz_run(const char *const *names, size_t count, const uint8_t *in, size_t size,
                        svc_fuzz_fix_t fix) {
  if (size > EP_CAP_SVC_INPUT + 1024) return 0;
  uint8_t *data = malloc(size ? size : 1);
  if (data == NULL) return 0;
  memcpy(data, in, size);
  size_t chunk = size ? 1 + data[0] % 64 : 1;
  for (size_t i = 0; i < count; i++) {
    char a[EP_SVC_ANSWER], b[EP_SVC_ANSWER];
    ep_svc_status_t whole = svc_fuzz_one(names[i], data, size, size ? size : 1, fix, a);
    ep_svc_status_t split = svc_fuzz_one(names[i], data, size, chunk, fix, b);
    ep_svc_spec_t spec;
    ep_err_t err;
    ep_svc_parse(names[i], &spec, &err);
    if (!spec.tls && spec.proto != EP_SVC_TCP) { /* plain: the chunking changes nothing */
      SVC_FUZZ_CHECK(whole == split);
      SVC_FUZZ_CHECK(strcmp(a, b) == 0);
    }
  }
  free(data);
  return 0;
}

#endif
