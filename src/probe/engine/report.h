/* exitprobe — reports over rounds, written from the report model
 * (report_model.h): the terminal table, JSON Lines (exitprobe/report/1),
 * CSV (report_csv.c) and one self-contained HTML page (report_html.c). All
 * relay text is escaped for where it goes. Each writer is linear in the
 * number of pairs (plus one sort). */
#ifndef EP_PROBE_REPORT_H
#define EP_PROBE_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "lib/err.h"
#include "probe/engine/report_model.h"

/* Text table (escaped relay text) or JSON Lines, one object per pair. */
int ep_report_print(const ep_rmodel_t *m, FILE *out, bool json, ep_err_t *err);
/* RFC 4180 CSV, a header row and one row per (exit, port, vantage). */
int ep_report_csv(const ep_rmodel_t *m, FILE *out, ep_err_t *err);
/* The HTML report; `title` (may be NULL) goes in the heading, escaped. */
int ep_report_html(const ep_rmodel_t *m, FILE *out, const char *title, ep_err_t *err);

/* The status word of a pair: "consistent violator", "intermittent
 * violator", "honours" or "inconclusive". */
const char *ep_report_status(const ep_rm_pair_t *p);
/* The exit's DNS (#14) over the pair's records: "broken" or "wrong" if any
 * round said so, else the last record's dns, "" for records without. */
const char *ep_report_dns(const ep_rm_pair_t *p);

#endif
