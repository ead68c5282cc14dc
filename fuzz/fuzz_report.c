/* exitprobe — fuzz harness: result records read by `exitprobe report`
 * (src/probe/report.h).
 *
 * The input is one JSON Lines record. It is added to a fresh report twice
 * (the second time finds the row the first made); the report is then printed
 * as text and as JSON Lines into memory. Asserted: a record is taken or
 * refused as a whole; the row holds what the record said, bounded; every
 * JSON line printed parses and names the same fingerprint and port. */
#include "config.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/json.h"
#include "probe/engine/report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                      \
  do {                                                                        \
    if (!(cond)) {                                                            \
      fprintf(stderr, "fuzz_report: property failed: %s (line %d)\n", #cond, \
              __LINE__);                                                      \
      abort();                                                                \
    }                                                                         \
  } while (0)


static bool printable_ascii(const char *s) {
  for (; *s != '\0'; s++) {
    if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e) {
      return false;
    }
  }
  return true;
}

/* The JSON Lines output: every line one object of the report schema. */
static void check_json_output(const char *text, size_t len, const ep_rm_pair_t *row) {
  size_t lines = 0;
  size_t pos = 0;
  while (pos < len) {
    const char *nl = memchr(text + pos, '\n', len - pos);
    FUZZ_CHECK(nl != NULL);   /* every line ends */
    size_t n = (size_t)(nl - (text + pos));
    ep_err_t err = {0};
    ep_json_t *j = ep_json_parse(text + pos, n, &err);
    if (j == NULL) {
      fprintf(stderr, "fuzz_report: printed line does not parse: %s\n", err.msg);
    }
    FUZZ_CHECK(j != NULL);
    const char *schema = ep_json_get_str(j, "schema");
    FUZZ_CHECK(schema != NULL && strcmp(schema, "exitprobe/report/1") == 0);
    const char *fp = ep_json_get_str(j, "fingerprint");
    FUZZ_CHECK(fp != NULL);
    if (printable_ascii(row->exit.fingerprint)) {
      FUZZ_CHECK(strcmp(fp, row->exit.fingerprint) == 0);
    }
    int64_t port = -1;
    FUZZ_CHECK(ep_json_int(ep_json_get(j, "port"), &port) && port == (int64_t)row->port);
    int64_t records = -1;
    FUZZ_CHECK(ep_json_int(ep_json_get(j, "records"), &records) &&
               records == (int64_t)row->records);
    ep_json_free(j);
    lines++;
    pos += n + 1;
  }
  FUZZ_CHECK(lines == 1);
}

static void print_report(const ep_rmodel_t *r, bool json, const ep_rm_pair_t *row) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (f == NULL) {
    return;
  }
  if (ep_report_print(r, f, json, NULL) != EP_OK) {
    fclose(f);
    free(text);
    return;
  }
  if (fclose(f) != 0) {
    free(text);
    return;
  }
  if (json) {
    check_json_output(text, len, row);
  } else {
    /* Text for a terminal: relay-supplied bytes arrive escaped, so nothing
     * but printable ASCII and line ends (HACKING.md: ep_escape_text). */
    FUZZ_CHECK(len > 0);
    for (size_t i = 0; i < len; i++) {
      unsigned char c = (unsigned char)text[i];
      if (!(c == '\n' || (c >= 0x20 && c <= 0x7e))) {
        fprintf(stderr, "fuzz_report: text report byte %zu is 0x%02x\n", i, c);
      }
      FUZZ_CHECK(c == '\n' || (c >= 0x20 && c <= 0x7e));
    }
  }
  free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ep_rmodel_t *r = ep_rmodel_new();
  if (r == NULL) {
    return 0;
  }
  ep_err_t err = {0};
  int rc = ep_rmodel_add_record(r, (const char *)data, size, "fuzz", 1, &err);
  if (rc != EP_OK) {
    FUZZ_CHECK(rc < 0 && err.code == rc && err.msg[0] != '\0');
    FUZZ_CHECK(ep_rmodel_pairs(r) == 0);   /* refused as a whole */
    FUZZ_CHECK(ep_rmodel_add_record(r, (const char *)data, size, "fuzz", 2, NULL) == rc);
    ep_rmodel_free(r);
    return 0;
  }
  FUZZ_CHECK(ep_rmodel_pairs(r) == 1);
  FUZZ_CHECK(ep_rmodel_add_record(r, (const char *)data, size, "fuzz", 2, &err) == EP_OK);
  FUZZ_CHECK(ep_rmodel_pairs(r) == 1);    /* the same (exit, port): the same row */
  const ep_rm_pair_t *row = ep_rmodel_pair(r, 0);
  FUZZ_CHECK(row != NULL && ep_rmodel_pair(r, 1) == NULL);
  FUZZ_CHECK(strlen(row->exit.fingerprint) == 40);
  FUZZ_CHECK(strlen(row->exit.nickname) <= 1024);
  FUZZ_CHECK(strlen(row->exit.address) <= 1024);
  FUZZ_CHECK(strlen(row->last_why) <= 1024);
  FUZZ_CHECK(row->port <= 65535);
  FUZZ_CHECK(row->records == 2);
  FUZZ_CHECK(row->violates + row->honours + row->inconclusive == row->records);
  unsigned classes = 0;
  for (int c = 0; c < EP_CLASS_COUNT; c++) {
    classes += row->classes[c];
  }
  FUZZ_CHECK(classes == row->records);
  FUZZ_CHECK(ep_rm_pair_consistent(row) == (row->violates == 2));
  FUZZ_CHECK(ep_rmodel_bad_lines(r) == 0);

  print_report(r, false, row);
  print_report(r, true, row);
  ep_rmodel_free(r);
  return 0;
}
