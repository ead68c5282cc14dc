/* exitprobe — the report as RFC 4180 CSV: a header row, then one row per
 * (exit, port, vantage), in the order of the table. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/caps.h"
#include "lib/escape.h"
#include "probe/engine/report.h"

static const char csv_header[] =
    "fingerprint,nickname,address,or_port,port,vantage,status,records,violates,honours,"
    "inconclusive,main_failure,last_class,last_verdict,last_why,last_end_reason_name,"
    "last_answer,last_control,last_control_detail,last_retry_class,last_first_hop,first_time,"
    "last_time,first_fail_time,last_fail_time,contact,contact_email,contact_url,platform,family,"
    "dns,dns_broken,dns_wrong,dns_detail\r\n";

static void cell(ep_buf_t *b, const char *s, bool last) {
  ep_escape_csv_buf(b, s, strlen(s), NULL);
  ep_buf_append(b, last ? "\r\n" : ",", last ? 2 : 1, NULL);
}

static void num(ep_buf_t *b, unsigned v) { ep_buf_printf(b, NULL, "%u,", v); }

static void csv_row(ep_buf_t *b, const ep_rm_pair_t *p) {
  ep_class_t mf = ep_rm_pair_main_failure(p);
  cell(b, p->exit.fingerprint, false);
  cell(b, p->exit.nickname, false);
  cell(b, p->exit.address, false);
  num(b, p->exit.or_port);
  num(b, p->port);
  cell(b, p->vantage, false);
  cell(b, ep_report_status(p), false);
  num(b, p->records);
  num(b, p->violates);
  num(b, p->honours);
  num(b, p->inconclusive);
  cell(b, mf == EP_CLASS_COUNT ? "" : ep_class_name(mf), false);
  cell(b, ep_class_name(p->last_class), false);
  cell(b, ep_verdict_name(p->last_verdict), false);
  const char *text[] = {p->last_why, p->last_end_reason_name, p->last_answer, p->last_control,
                        p->last_control_detail, p->last_retry_class,
                        p->last_first_hop.fingerprint, p->first_time, p->last_time,
                        p->first_fail_time, p->last_fail_time, p->contact, p->contact_email,
                        p->contact_url, p->platform};
  for (size_t i = 0; i < sizeof text / sizeof text[0]; i++) {
    cell(b, text[i], false);
  }
  cell(b, p->family, false);
  cell(b, ep_report_dns(p), false);
  num(b, p->dns_broken);
  num(b, p->dns_wrong);
  cell(b, p->last_dns_detail, true);
}

int ep_report_csv(const ep_rmodel_t *m, FILE *out, ep_err_t *err) {
  size_t *ix = ep_rmodel_sorted(m);
  if (ix == NULL) {
    return ep_err_set(err, EP_ERR_NOMEM, "report: out of memory sorting rows");
  }
  ep_buf_t b;
  ep_buf_init(&b, 64 * EP_KiB, "CSV row", 0);
  fputs(csv_header, out);
  for (size_t i = 0; i < ep_rmodel_pairs(m); i++) {
    ep_buf_clear(&b);
    csv_row(&b, ep_rmodel_pair(m, ix[i]));
    fwrite(b.data, 1, b.len, out);
  }
  ep_buf_free(&b);
  free(ix);
  return ferror(out) ? ep_err_set(err, EP_ERR_IO, "report: cannot write the CSV") : EP_OK;
}
