/* exitprobe — aggregating result records over rounds into a per-relay table:
 * how often each (exit, port) failed and how consistently. Input files are
 * hostile JSON Lines: every line is bounded and a bad line is reported by
 * file and line number and skipped. */
#ifndef EP_PROBE_REPORT_H
#define EP_PROBE_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "lib/err.h"
#include "probe/engine/classify.h"

typedef struct ep_report ep_report_t;

typedef struct ep_report_row {
  char fingerprint[41];
  char nickname[20];
  char address[48];
  unsigned port;
  unsigned records;          /* observations (one per round) */
  unsigned violates, honours, inconclusive;
  unsigned classes[EP_CLASS_COUNT];
  char last_why[160];
} ep_report_row_t;

ep_report_t *ep_report_new(void);
void ep_report_free(ep_report_t *r);
/* One JSON Lines record; `file`/`line` name it in errors. A record of
 * another schema or with missing fields is an error (EP_ERR_MALFORMED). */
int ep_report_add_record(ep_report_t *r, const char *text, size_t len, const char *file,
                         size_t line, ep_err_t *err);
/* Every line of a file; bad lines are counted and the first few logged.
 * Fails only when the file cannot be read. */
int ep_report_add_file(ep_report_t *r, const char *path, ep_err_t *err);
size_t ep_report_rows(const ep_report_t *r);
const ep_report_row_t *ep_report_row(const ep_report_t *r, size_t i);
size_t ep_report_bad_lines(const ep_report_t *r);
/* A consistent violator violated in every observation (and at least one). */
bool ep_report_row_consistent(const ep_report_row_t *row);
/* Text table (escaped relay text) or JSON Lines, one object per row. */
void ep_report_print(const ep_report_t *r, FILE *out, bool json);

#endif
