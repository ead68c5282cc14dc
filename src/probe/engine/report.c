/* exitprobe — the per-relay report over rounds. */
#include "config.h"

#include "probe/engine/report.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/caps.h"
#include "lib/escape.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/vec.h"

#define REPORT_MAX_ROWS 100000u
#define REPORT_LINE_CAP (64u * EP_KiB)

struct ep_report {
  ep_report_row_t *rows;
  size_t n, alloc;
  size_t bad_lines;
  size_t records;
};

ep_report_t *ep_report_new(void) { return calloc(1, sizeof(ep_report_t)); }

void ep_report_free(ep_report_t *r) {
  if (r == NULL) {
    return;
  }
  free(r->rows);
  free(r);
}

static void copy_str(char *dst, size_t cap, const char *src) {
  size_t n = src != NULL ? strnlen(src, cap - 1) : 0;
  if (n > 0) {
    memcpy(dst, src, n);
  }
  dst[n] = '\0';
}

static ep_report_row_t *find_row(ep_report_t *r, const char *fp, unsigned port, ep_err_t *err) {
  for (size_t i = 0; i < r->n; i++) {
    if (r->rows[i].port == port && strcmp(r->rows[i].fingerprint, fp) == 0) {
      return &r->rows[i];
    }
  }
  if (r->n == REPORT_MAX_ROWS) {
    ep_err_set(err, EP_ERR_LIMIT, "report: more than %u (exit, port) pairs", REPORT_MAX_ROWS);
    return NULL;
  }
  if (EP_VEC_RESERVE(r->rows, r->alloc, r->n + 1, REPORT_MAX_ROWS, "report rows", err) != EP_OK) {
    return NULL;
  }
  ep_report_row_t *row = &r->rows[r->n++];
  memset(row, 0, sizeof *row);
  copy_str(row->fingerprint, sizeof row->fingerprint, fp);
  row->port = port;
  return row;
}

/* 40 hex digits, nothing else: a fingerprint is printed as it is. */
static bool is_fingerprint(const char *fp) {
  size_t n = 0;
  for (; fp[n] != '\0'; n++) {
    if (n >= 40 || !isxdigit((unsigned char)fp[n])) {
      return false;
    }
  }
  return n == 40;
}

int ep_report_add_record(ep_report_t *r, const char *text, size_t len, const char *file,
                         size_t line, ep_err_t *err) {
  ep_err_t jerr = {0};
  ep_json_t *j = ep_json_parse(text, len, &jerr);
  if (j == NULL) {
    return ep_err_set(err, EP_ERR_MALFORMED, "%s:%zu: %s", file, line, jerr.msg);
  }
  int rc = EP_ERR_MALFORMED;
  const char *schema = ep_json_get_str(j, "schema");
  const ep_json_t *exit = ep_json_get(j, "exit");
  const char *fp = ep_json_get_str(exit, "fingerprint");
  const char *cls = ep_json_get_str(j, "class");
  const char *verdict = ep_json_get_str(j, "verdict");
  int64_t port;
  if (schema == NULL || strcmp(schema, "exitprobe/result/1") != 0) {
    ep_err_set(err, rc, "%s:%zu: not an exitprobe/result/1 record", file, line);
  } else if (fp == NULL || !is_fingerprint(fp) || cls == NULL || verdict == NULL ||
             !ep_json_int(ep_json_get(j, "port"), &port) || port < 0 || port > 65535) {
    ep_err_set(err, rc, "%s:%zu: record lacks exit.fingerprint, port, class or verdict", file,
               line);
  } else {
    int c = ep_class_parse(cls);
    int v = ep_verdict_parse(verdict);
    if (c < 0 || v < 0) {
      ep_err_set(err, rc, "%s:%zu: unknown class '%.40s' or verdict '%.40s'", file, line, cls,
                 verdict);
    } else {
      ep_report_row_t *row = find_row(r, fp, (unsigned)port, err);
      if (row != NULL) {
        copy_str(row->nickname, sizeof row->nickname, ep_json_get_str(exit, "nickname"));
        copy_str(row->address, sizeof row->address, ep_json_get_str(exit, "address"));
        row->records++;
        row->classes[c]++;
        if (v == EP_VERDICT_VIOLATES) {
          row->violates++;
        } else if (v == EP_VERDICT_HONOURS) {
          row->honours++;
        } else {
          row->inconclusive++;
        }
        copy_str(row->last_why, sizeof row->last_why, ep_json_get_str(j, "why"));
        r->records++;
        rc = EP_OK;
      } else {
        rc = err != NULL ? err->code : EP_ERR_LIMIT;
      }
    }
  }
  ep_json_free(j);
  return rc;
}

int ep_report_add_file(ep_report_t *r, const char *path, ep_err_t *err) {
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (f == NULL) {
    return ep_err_set(err, EP_ERR_IO, "cannot open %s", path);
  }
  ep_buf_t line;
  ep_buf_init(&line, REPORT_LINE_CAP, "result line", 0);
  size_t lineno = 0;
  bool overlong = false;
  int c;
  do {
    c = fgetc(f);
    if (c != EOF && c != '\n') {
      uint8_t ch = (uint8_t)c;
      if (ep_buf_append(&line, &ch, 1, NULL) != EP_OK) {
        overlong = true;
      }
      continue;
    }
    if (line.len == 0 && !overlong) {
      if (c != EOF) {
        lineno++;
      }
      continue;
    }
    lineno++;
    ep_err_t lerr = {0};
    if (overlong) {
      ep_err_set(&lerr, EP_ERR_LIMIT, "%s:%zu: line longer than %u bytes", path, lineno,
                 REPORT_LINE_CAP);
    }
    if (overlong || ep_report_add_record(r, (const char *)line.data, line.len, path, lineno,
                                         &lerr) != EP_OK) {
      if (r->bad_lines++ < 5) {
        ep_warn("report: skipping %s", lerr.msg);
      }
    }
    ep_buf_clear(&line);
    overlong = false;
  } while (c != EOF);
  ep_buf_free(&line);
  int rc = ferror(f) ? ep_err_set(err, EP_ERR_IO, "error reading %s", path) : EP_OK;
  if (f != stdin) {
    fclose(f);
  }
  return rc;
}

size_t ep_report_rows(const ep_report_t *r) { return r->n; }
const ep_report_row_t *ep_report_row(const ep_report_t *r, size_t i) {
  return i < r->n ? &r->rows[i] : NULL;
}
size_t ep_report_bad_lines(const ep_report_t *r) { return r->bad_lines; }

bool ep_report_row_consistent(const ep_report_row_t *row) {
  return row->violates > 0 && row->violates == row->records;
}

static ep_class_t main_failure(const ep_report_row_t *row) {
  ep_class_t best = EP_CLASS_COUNT;
  unsigned n = 0;
  for (int c = 0; c < EP_CLASS_COUNT; c++) {
    if (c != EP_CLASS_REACHABLE && row->classes[c] > n) {
      n = row->classes[c];
      best = (ep_class_t)c;
    }
  }
  return best;
}

static int cmp_rows(const void *a, const void *b) {
  const ep_report_row_t *x = a, *y = b;
  /* Most violations first, then fingerprint and port for a stable order. */
  if (x->violates != y->violates) {
    return x->violates > y->violates ? -1 : 1;
  }
  int c = strcmp(x->fingerprint, y->fingerprint);
  return c != 0 ? c : (x->port < y->port ? -1 : x->port > y->port);
}

void ep_report_print(const ep_report_t *r, FILE *out, bool json) {
  ep_report_row_t *rows = malloc((r->n ? r->n : 1) * sizeof *rows);
  if (rows == NULL) {
    return;
  }
  if (r->n > 0) {
    memcpy(rows, r->rows, r->n * sizeof *rows);
  }
  qsort(rows, r->n, sizeof *rows, cmp_rows);
  if (json) {
    ep_buf_t b;
    ep_buf_init(&b, 64 * EP_KiB, "report line", 0);
    for (size_t i = 0; i < r->n; i++) {
      const ep_report_row_t *row = &rows[i];
      ep_buf_clear(&b);
      ep_buf_append_str(&b, "{\"schema\":\"exitprobe/report/1\",\"fingerprint\":", NULL);
      ep_json_put_str(&b, row->fingerprint, strlen(row->fingerprint), NULL);
      ep_buf_append_str(&b, ",\"nickname\":", NULL);
      ep_json_put_str(&b, row->nickname, strlen(row->nickname), NULL);
      ep_buf_append_str(&b, ",\"address\":", NULL);
      ep_json_put_str(&b, row->address, strlen(row->address), NULL);
      ep_class_t mf = main_failure(row);
      ep_buf_printf(&b, NULL,
                    ",\"port\":%u,\"records\":%u,\"violates\":%u,\"honours\":%u,"
                    "\"inconclusive\":%u,\"consistent_violator\":%s,\"main_failure\":\"%s\",\"classes\":{",
                    row->port, row->records, row->violates, row->honours, row->inconclusive,
                    ep_report_row_consistent(row) ? "true" : "false",
                    mf == EP_CLASS_COUNT ? "" : ep_class_name(mf));
      bool first = true;
      for (int c = 0; c < EP_CLASS_COUNT; c++) {
        if (row->classes[c] > 0) {
          ep_buf_printf(&b, NULL, "%s\"%s\":%u", first ? "" : ",", ep_class_name((ep_class_t)c),
                        row->classes[c]);
          first = false;
        }
      }
      ep_buf_append_str(&b, "},\"last_why\":", NULL);
      ep_json_put_str(&b, row->last_why, strlen(row->last_why), NULL);
      ep_buf_append_str(&b, "}\n", NULL);
      fwrite(b.data, 1, b.len, out);
    }
    ep_buf_free(&b);
  } else {
    size_t consistent = 0, intermittent = 0;
    for (size_t i = 0; i < r->n; i++) {
      if (ep_report_row_consistent(&rows[i])) {
        consistent++;
      } else if (rows[i].violates > 0) {
        intermittent++;
      }
    }
    fprintf(out, "exitprobe report: %zu records, %zu (exit, port) pairs, %zu bad lines skipped\n",
            r->records, r->n, r->bad_lines);
    fprintf(out, "consistent violators: %zu   intermittent: %zu\n\n", consistent, intermittent);
    fprintf(out, "%-40s %-19s %-15s %5s %9s %7s %7s  %s\n", "FINGERPRINT", "NICKNAME", "ADDRESS",
            "PORT", "VIOLATES", "HONOURS", "UNSURE", "MAIN FAILURE / STATUS");
    for (size_t i = 0; i < r->n; i++) {
      const ep_report_row_t *row = &rows[i];
      char nick[4 * sizeof row->nickname + 1];
      char addr[4 * sizeof row->address + 1];
      ep_escape_text(nick, sizeof nick, row->nickname, strlen(row->nickname));
      ep_escape_text(addr, sizeof addr, row->address, strlen(row->address));
      ep_class_t mf = main_failure(row);
      const char *status = ep_report_row_consistent(row) ? "consistent violator"
                           : row->violates > 0           ? "intermittent violator"
                           : row->honours > 0            ? "honours"
                                                         : "inconclusive";
      fprintf(out, "%-40s %-19s %-15s %5u %4u/%-4u %7u %7u  %s%s%s\n", row->fingerprint, nick,
              addr, row->port, row->violates, row->records, row->honours, row->inconclusive,
              status, mf == EP_CLASS_COUNT ? "" : ", mostly ", mf == EP_CLASS_COUNT ? "" : ep_class_name(mf));
    }
  }
  free(rows);
}
