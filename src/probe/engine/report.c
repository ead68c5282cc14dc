/* exitprobe — the per-relay report over rounds: table and JSON Lines. */
#include "config.h"

#include "probe/engine/report.h"

#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/caps.h"
#include "lib/escape.h"
#include "lib/json.h"

const char *ep_report_status(const ep_rm_pair_t *p) {
  return ep_rm_pair_consistent(p) ? "consistent violator"
         : p->violates > 0        ? "intermittent violator"
         : p->honours > 0         ? "honours"
                                  : "inconclusive";
}

const char *ep_report_dns(const ep_rm_pair_t *p) {
  return p->dns_broken > 0 ? "broken" : p->dns_wrong > 0 ? "wrong" : p->last_dns;
}

static void json_kv(ep_buf_t *b, const char *k, const char *v) {
  ep_buf_printf(b, NULL, ",\"%s\":", k);
  ep_json_put_str(b, v, strlen(v), NULL);
}

static void json_row(ep_buf_t *b, const ep_rm_pair_t *p) {
  ep_buf_append_str(b, "{\"schema\":\"exitprobe/report/1\",\"fingerprint\":", NULL);
  ep_json_put_str(b, p->exit.fingerprint, strlen(p->exit.fingerprint), NULL);
  json_kv(b, "nickname", p->exit.nickname);
  json_kv(b, "address", p->exit.address);
  ep_class_t mf = ep_rm_pair_main_failure(p);
  ep_buf_printf(b, NULL,
                ",\"port\":%u,\"records\":%u,\"violates\":%u,\"honours\":%u,"
                "\"inconclusive\":%u,\"consistent_violator\":%s,\"main_failure\":\"%s\",\"classes\":{",
                p->port, p->records, p->violates, p->honours, p->inconclusive,
                ep_rm_pair_consistent(p) ? "true" : "false",
                mf == EP_CLASS_COUNT ? "" : ep_class_name(mf));
  bool first = true;
  for (int c = 0; c < EP_CLASS_COUNT; c++) {
    if (p->classes[c] > 0) {
      ep_buf_printf(b, NULL, "%s\"%s\":%u", first ? "" : ",", ep_class_name((ep_class_t)c),
                    p->classes[c]);
      first = false;
    }
  }
  ep_buf_append_str(b, "}", NULL);
  json_kv(b, "last_why", p->last_why);
  /* Added in #12: all after the original keys. */
  json_kv(b, "vantage", p->vantage);
  json_kv(b, "contact", p->contact);
  json_kv(b, "contact_email", p->contact_email);
  json_kv(b, "first_time", p->first_time);
  json_kv(b, "last_time", p->last_time);
  json_kv(b, "last_fail_time", p->last_fail_time);
  json_kv(b, "fail_end_reason_name", p->fail_end_reason_name);
  /* #14 */
  json_kv(b, "dns", ep_report_dns(p));
  ep_buf_printf(b, NULL, ",\"dns_broken\":%u,\"dns_wrong\":%u", p->dns_broken, p->dns_wrong);
  json_kv(b, "dns_detail", p->last_dns_detail);
  ep_buf_append_str(b, "}\n", NULL);
}

static void table_head(const ep_rmodel_t *m, const size_t *ix, FILE *out) {
  size_t consistent = 0, intermittent = 0;
  for (size_t i = 0; i < ep_rmodel_pairs(m); i++) {
    const ep_rm_pair_t *p = ep_rmodel_pair(m, ix[i]);
    consistent += ep_rm_pair_consistent(p);
    intermittent += p->violates > 0 && !ep_rm_pair_consistent(p);
  }
  fprintf(out, "exitprobe report: %zu records, %zu (exit, port) pairs, %zu bad lines skipped\n",
          ep_rmodel_records(m), ep_rmodel_pairs(m), ep_rmodel_bad_lines(m));
  fprintf(out, "consistent violators: %zu   intermittent: %zu\n\n", consistent, intermittent);
  fprintf(out, "%-40s %-19s %-15s %5s %9s %7s %7s %-9s %s\n", "FINGERPRINT", "NICKNAME", "ADDRESS",
          "PORT", "VIOLATES", "HONOURS", "UNSURE", "DNS", " MAIN FAILURE / STATUS");
}

static void table_row(const ep_rm_pair_t *p, FILE *out) {
  char nick[4 * 20 + 1];
  char addr[4 * 48 + 1];
  ep_escape_text(nick, sizeof nick, p->exit.nickname, strnlen(p->exit.nickname, 19));
  ep_escape_text(addr, sizeof addr, p->exit.address, strnlen(p->exit.address, 47));
  ep_class_t mf = ep_rm_pair_main_failure(p);
  fprintf(out, "%-40s %-19s %-15s %5u %4u/%-4u %7u %7u %-9s  %s%s%s\n", p->exit.fingerprint, nick,
          addr, p->port, p->violates, p->records, p->honours, p->inconclusive,
          ep_report_dns(p)[0] != '\0' ? ep_report_dns(p) : "-",
          ep_report_status(p),
          mf == EP_CLASS_COUNT ? "" : ", mostly ", mf == EP_CLASS_COUNT ? "" : ep_class_name(mf));
}

/* #14: does pair p go in DNS list k (0 broken, 1 wrong)? */
static bool dns_listed(const ep_rm_pair_t *p, int k) {
  return k == 0 ? p->dns_broken > 0 : p->dns_wrong > 0 && p->dns_broken == 0;
}

/* #14: the exits whose resolver was broken (or wrong) in some round, once
 * each (their first pair in table order), with the last answers seen. */
static void dns_lists(const ep_rmodel_t *m, const size_t *ix, FILE *out) {
  static const char *const heads[] = {
      "\nDNS broken (names that resolve through other exits fail here; ports judged by address):\n",
      "\nDNS wrong (answers no other exit gave):\n"};
  for (int k = 0; k < 2; k++) {
    bool head = false;
    for (size_t i = 0; i < ep_rmodel_pairs(m); i++) {
      const ep_rm_pair_t *p = ep_rmodel_pair(m, ix[i]);
      bool seen = !dns_listed(p, k);
      for (size_t j = 0; j < i && !seen; j++) {
        const ep_rm_pair_t *q = ep_rmodel_pair(m, ix[j]);
        seen = dns_listed(q, k) && strcmp(q->exit.fingerprint, p->exit.fingerprint) == 0;
      }
      if (seen) {
        continue;
      }
      if (!head) {
        fputs(heads[k], out);
        head = true;
      }
      char nick[4 * 20 + 1];
      char detail[4 * 320 + 1];
      ep_escape_text(nick, sizeof nick, p->exit.nickname, strnlen(p->exit.nickname, 19));
      ep_escape_text(detail, sizeof detail, p->last_dns_detail, strnlen(p->last_dns_detail, 320));
      fprintf(out, "  %-40s %-19s %u of %u rounds: %s\n", p->exit.fingerprint, nick,
              k == 0 ? p->dns_broken : p->dns_wrong, p->records, detail);
    }
  }
}

int ep_report_print(const ep_rmodel_t *m, FILE *out, bool json, ep_err_t *err) {
  size_t *ix = ep_rmodel_sorted(m);
  if (ix == NULL) {
    return ep_err_set(err, EP_ERR_NOMEM, "report: out of memory sorting rows");
  }
  ep_buf_t b;
  ep_buf_init(&b, 64 * EP_KiB, "report line", 0);
  if (!json) {
    table_head(m, ix, out);
  }
  for (size_t i = 0; i < ep_rmodel_pairs(m); i++) {
    const ep_rm_pair_t *p = ep_rmodel_pair(m, ix[i]);
    if (json) {
      ep_buf_clear(&b);
      json_row(&b, p);
      fwrite(b.data, 1, b.len, out);
    } else {
      table_row(p, out);
    }
  }
  if (!json) {
    dns_lists(m, ix, out);
  }
  ep_buf_free(&b);
  free(ix);
  return ferror(out) ? ep_err_set(err, EP_ERR_IO, "report: cannot write the output") : EP_OK;
}
