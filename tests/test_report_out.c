/* exitprobe — unit tests of the report model's building blocks (hash index,
 * string pool, HTML and CSV escaping) and of the HTML and CSV reports. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/escape.h"
#include "lib/hidx.h"
#include "lib/json.h"
#include "lib/strpool.h"
#include "probe/engine/report.h"
#include "probe/engine/result.h"
#include "testutil.h"

static const unsigned *eq_items;
static bool item_eq(const void *ctx, size_t idx) { return eq_items[idx] == *(const unsigned *)ctx; }

START_TEST(hidx_finds_every_item_and_honours_its_cap) {
  enum { N = 5000 };
  static unsigned items[N];
  eq_items = items;
  ep_hidx_t h;
  ep_hidx_init(&h, N, "test items");
  ep_err_t err = {0};
  for (unsigned i = 0; i < N; i++) {
    items[i] = i * 7919u;
    /* A bad hash (few distinct values) must still give right answers. */
    ck_assert_int_eq(ep_hidx_insert(&h, items[i] % 13, i, &err), EP_OK);
  }
  for (unsigned i = 0; i < N; i++) {
    size_t idx = 99999;
    unsigned key = i * 7919u;
    ck_assert(ep_hidx_find(&h, key % 13, item_eq, &key, &idx));
    ck_assert_uint_eq(idx, i);
  }
  unsigned absent = 3;
  size_t idx;
  ck_assert(!ep_hidx_find(&h, absent % 13, item_eq, &absent, &idx));
  ck_assert_int_eq(ep_hidx_insert(&h, 1, N, &err), EP_ERR_LIMIT);
  ck_assert_ptr_nonnull(strstr(err.msg, "test items"));
  ck_assert_uint_ne(ep_hidx_hash("a", 1), ep_hidx_hash("b", 1));
  ck_assert_uint_eq(ep_hidx_hash("ab", 2), ep_hidx_hash("ab", 2));
  ep_hidx_free(&h);
}
END_TEST

START_TEST(strpool_interns_once_within_its_caps) {
  ep_strpool_t p;
  ep_strpool_init(&p, 64, 3);
  ep_err_t err = {0};
  const char *a = ep_strpool_intern(&p, "hello world", 5, &err);
  ck_assert_str_eq(a, "hello");
  ck_assert_ptr_eq(ep_strpool_intern(&p, "hello", 5, &err), a);
  ck_assert_str_eq(ep_strpool_intern(&p, "", 0, &err), "");
  const char *b = ep_strpool_intern(&p, "hell", 4, &err);
  ck_assert_ptr_ne(a, b);
  ck_assert_str_eq(a, "hello");
  char big[80];
  memset(big, 'x', sizeof big);
  ck_assert_ptr_null(ep_strpool_intern(&p, big, sizeof big, &err));
  ck_assert_int_eq(err.code, EP_ERR_LIMIT);
  ck_assert_ptr_nonnull(ep_strpool_intern(&p, "c", 1, &err));
  ck_assert_ptr_null(ep_strpool_intern(&p, "d", 1, &err));  /* fourth string */
  ep_strpool_free(&p);
}
END_TEST

START_TEST(html_escape_leaves_no_markup) {
  char out[128];
  const char in[] = "<script>a&b\"c'd</script>\x1b\0\xff";
  ck_assert_str_eq(ep_escape_html(out, sizeof out, in, sizeof in - 1),
                   "&lt;script&gt;a&amp;b&quot;c&#39;d&lt;/script&gt;\\x1b\\x00\\xff");
  /* Truncation keeps whole references. */
  ck_assert_str_eq(ep_escape_html(out, 12, "&&&&&&", 6), "&amp;...");
  ck_assert_str_eq(ep_escape_html(out, 4, "abcdef", 6), "");
  ep_buf_t b;
  ep_buf_init(&b, 1024, "html", 0);
  ck_assert_int_eq(ep_escape_html_buf(&b, "<a>", 3, NULL), EP_OK);
  ck_assert_int_eq(memcmp(b.data, "&lt;a&gt;", b.len), 0);
  ep_buf_free(&b);
}
END_TEST

static void csv_is(const char *in, size_t n, const char *want) {
  ep_buf_t b;
  ep_buf_init(&b, 1024, "csv", 0);
  ck_assert_int_eq(ep_escape_csv_buf(&b, in, n, NULL), EP_OK);
  ck_assert_uint_eq(b.len, strlen(want));
  ck_assert(b.len == 0 || memcmp(b.data, want, b.len) == 0);
  ep_buf_free(&b);
}

START_TEST(csv_quoting_follows_rfc4180) {
  csv_is("plain", 5, "plain");
  csv_is("a,b", 3, "\"a,b\"");
  csv_is("say \"hi\"", 8, "\"say \"\"hi\"\"\"");
  csv_is("l1\r\nl2", 6, "\"l1\r\nl2\"");
  csv_is("nul\0x", 5, "nul\\x00x");
  csv_is("=cmd()", 6, "\"'=cmd()\"");
  csv_is("", 0, "");
}
END_TEST

static const char rec_fmt[] =
    "{\"schema\":\"exitprobe/result/1\",\"round\":%u,\"time\":\"2026-12-05T0%u:00:00Z\","
    "\"exit\":{\"fingerprint\":\"%s\",\"nickname\":\"%s\",\"address\":\"%s\",\"or_port\":9001},"
    "\"first_hop\":{\"fingerprint\":\"0011223344556677889900112233445566778899\","
    "\"nickname\":\"g\",\"address\":\"127.0.0.9\",\"or_port\":1},\"port\":%u,"
    "\"class\":\"%s\",\"verdict\":\"%s\",\"why\":\"w\",\"end_reason_name\":\"%s\","
    "\"contact\":\"%s\",\"family\":[\"$AA\",\"$BB\"]}\n";

static FILE *records(char *path) {
  int fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  FILE *f = fdopen(fd, "w");
  const char *contact = "<b>evil</b> \\u001b[2J <ops@example.org>";
  for (unsigned round = 1; round <= 2; round++) {
    /* Two exits of 10.1/16 fail port 25 the same way: a hoster line. */
    fprintf(f, rec_fmt, round, round, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "a<i>", "10.1.0.1",
            25u, "exitpolicy", "violates", "EXITPOLICY", contact);
    fprintf(f, rec_fmt, round, round, "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB", "b", "10.1.0.2", 25u,
            "exitpolicy", "violates", "EXITPOLICY", contact);
    fprintf(f, rec_fmt, round, round, "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC", "c", "10.2.0.3", 25u,
            round == 1 ? "reachable" : "timeout", round == 1 ? "honours" : "violates",
            round == 1 ? "" : "TIMEOUT", "");
    fprintf(f, rec_fmt, round, round, "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC", "c", "10.2.0.3", 80u,
            "reachable", "honours", "", "");
  }
  return f;
}

static char *render(const ep_rmodel_t *m, int which) {
  char *text = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&text, &len);
  int rc = which == 0 ? ep_report_html(m, mem, "t<>", NULL) : ep_report_csv(m, mem, NULL);
  ck_assert_int_eq(rc, EP_OK);
  fclose(mem);
  return text;
}

static size_t count(const char *hay, const char *needle) {
  size_t n = 0;
  for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle)) {
    n++;
  }
  return n;
}

/* #13: files from two vantages; a violation seen from both is marked
 * stronger than one seen from one vantage only. */
START_TEST(html_marks_violations_seen_from_every_vantage) {
  char path[] = "/tmp/exitprobe-test-vantage-XXXXXX";
  int fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  FILE *f = fdopen(fd, "w");
  static const char fmt[] =
      "{\"schema\":\"exitprobe/result/1\",\"round\":1,\"time\":\"2026-12-05T01:00:00Z\","
      "\"exit\":{\"fingerprint\":\"%s\",\"nickname\":\"n\",\"address\":\"10.3.0.1\",\"or_port\":9001},"
      "\"first_hop\":{\"fingerprint\":\"0011223344556677889900112233445566778899\","
      "\"nickname\":\"g\",\"address\":\"127.0.0.9\",\"or_port\":1},\"port\":25,"
      "\"class\":\"%s\",\"verdict\":\"%s\",\"why\":\"w\",\"end_reason_name\":\"\","
      "\"vantage\":\"%s\",\"contact\":null,\"family\":[]}\n";
  const char *both = "DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD", *one = "EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE";
  fprintf(f, fmt, both, "exitpolicy", "violates", "fra1");
  fprintf(f, fmt, both, "exitpolicy", "violates", "nyc1");
  fprintf(f, fmt, one, "exitpolicy", "violates", "fra1");
  fprintf(f, fmt, one, "reachable", "honours", "nyc1");
  fclose(f);
  ep_rmodel_t *m = ep_rmodel_new();
  ck_assert_int_eq(ep_rmodel_add_file(m, path, NULL), EP_OK);
  ep_rmodel_finish(m);
  unlink(path);
  ck_assert_uint_eq(ep_rmodel_vantages(m), 2);
  char *html = render(m, 0);
  ck_assert_uint_eq(count(html, "<th>vantage</th>"), 1);
  ck_assert_uint_eq(count(html, "<tr class=\"violator\""), 3); /* DDDD from each vantage, EEEE from fra1 */
  ck_assert_uint_eq(count(html, "seen from 2 of 2 vantages (stronger)"), 2);
  ck_assert_uint_eq(count(html, "seen from 1 of 2 vantages</td>"), 1);
  ck_assert_uint_eq(count(html, "class=\"strong\""), 2);
  /* the stronger mark sits in DDDD's rows, not EEEE's */
  const char *e = strstr(html, "data-fp=\"EEEE");
  ck_assert_ptr_nonnull(e);
  const char *end = strstr(e, "</tr>");
  ck_assert_ptr_nonnull(end);
  const char *strong = strstr(e, "class=\"strong\"");
  ck_assert(strong == NULL || strong > end);
  free(html);
  ep_rmodel_free(m);
}
END_TEST

/* A file without one record (findings: report over nothing): the model
 * finishes and renders without touching its absent arrays (UBSan aborts
 * on qsort of NULL). */
START_TEST(empty_input_finishes_and_renders) {
  char path[] = "/tmp/exitprobe-test-empty-XXXXXX";
  int fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(write(fd, "{\"x\":1}\n", 8), 8);
  close(fd);
  ep_rmodel_t *m = ep_rmodel_new();
  ck_assert_int_eq(ep_rmodel_add_file(m, path, NULL), EP_OK);
  unlink(path);
  ep_rmodel_finish(m);
  ck_assert_uint_eq(ep_rmodel_records(m), 0);
  ck_assert_uint_eq(ep_rmodel_bad_lines(m), 1);
  ck_assert_uint_eq(ep_rmodel_rounds(m), 0);
  char *html = render(m, 0);
  ck_assert_ptr_nonnull(strstr(html, "</html>"));
  free(html);
  ep_rmodel_free(m);
}
END_TEST

START_TEST(html_report_counts_escapes_and_clusters) {
  char path[] = "/tmp/exitprobe-test-html-XXXXXX";
  fclose(records(path));
  ep_rmodel_t *m = ep_rmodel_new();
  ck_assert_int_eq(ep_rmodel_add_file(m, path, NULL), EP_OK);
  ep_rmodel_finish(m);
  ck_assert_uint_eq(ep_rmodel_pairs(m), 4);
  ck_assert_uint_eq(ep_rmodel_rounds(m), 4);
  char *html = render(m, 0);
  ck_assert_ptr_null(strstr(html, "<b>evil"));
  ck_assert_ptr_null(strstr(html, "<i>"));
  ck_assert_ptr_null(strstr(html, "<script"));
  ck_assert_ptr_null(strchr(html, 0x1b));
  ck_assert_ptr_nonnull(strstr(html, "&lt;b&gt;evil&lt;/b&gt; \\x1b[2J &lt;ops@example.org&gt;"));
  ck_assert_uint_eq(count(html, "<tr class=\"violator\""), 3);
  /* Consistent violators come before the intermittent one. */
  ck_assert(strstr(html, "data-fp=\"BBBB") < strstr(html, "data-fp=\"CCCC"));
  ck_assert_ptr_nonnull(strstr(html, "data-port=\"25\" data-round=\"2\" data-honours=\"0\" "
                                     "data-violates=\"3\" data-inconclusive=\"0\""));
  ck_assert_ptr_nonnull(strstr(html, "data-port=\"25\" data-round=\"1\" data-honours=\"1\" "
                                     "data-violates=\"2\""));
  ck_assert_ptr_nonnull(strstr(html, "likely the hoster"));
  ck_assert_ptr_nonnull(strstr(html, "<b>1</b>vantage (not named)"));  /* not "0 vantage points" */
  ck_assert_ptr_nonnull(strstr(html, "<code>10.1.0.0/16</code>"));
  ck_assert_uint_eq(count(html, "src="), 0);
  ck_assert_uint_eq(count(html, "https://"), 2 * 3 + 0);  /* exit + first hop per violator */
  free(html);
  char *csv = render(m, 1);
  ck_assert_uint_eq(count(csv, "\r\n"), 5);  /* header and four rows */
  ck_assert_ptr_nonnull(strstr(csv, ",<b>evil</b> \\x1b[2J <ops@example.org>,"));
  ck_assert_ptr_nonnull(strstr(csv, ",$AA $BB,,0,0,\r\n"));  /* family, then the DNS columns (#14) */
  free(csv);
  ep_rmodel_free(m);
  unlink(path);
}
END_TEST

START_TEST(model_refuses_bad_rounds_and_keeps_old_records) {
  ep_rmodel_t *m = ep_rmodel_new();
  ep_err_t err = {0};
  const char old[] = "{\"schema\":\"exitprobe/result/1\",\"exit\":{\"fingerprint\":"
                     "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"},\"port\":25,"
                     "\"class\":\"reachable\",\"verdict\":\"honours\"}";
  ck_assert_int_eq(ep_rmodel_add_record(m, old, sizeof old - 1, "f", 1, &err), EP_OK);
  const char neg[] = "{\"schema\":\"exitprobe/result/1\",\"round\":-1,\"exit\":{\"fingerprint\":"
                     "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"},\"port\":25,"
                     "\"class\":\"reachable\",\"verdict\":\"honours\"}";
  ck_assert_int_eq(ep_rmodel_add_record(m, neg, sizeof neg - 1, "f.jsonl", 7, &err),
                   EP_ERR_MALFORMED);
  ck_assert_ptr_nonnull(strstr(err.msg, "f.jsonl:7:"));
  const ep_rm_pair_t *p = ep_rmodel_pair(m, 0);
  ck_assert_str_eq(p->contact, "");
  ck_assert_str_eq(p->vantage, "");
  ck_assert_uint_eq(p->records, 1);
  ep_rmodel_free(m);
}
END_TEST


/* ---- scan --csv: one record as a row, read back ---- */

#define CSV_MAX_CELLS 80

typedef struct csv_row {
  char *cell[CSV_MAX_CELLS];
  size_t len[CSV_MAX_CELLS];
  size_t n;
} csv_row_t;

/* An RFC 4180 reader for one row starting at *p (CRLF-terminated); the
 * cells are malloc'ed copies. Fails the test on anything malformed. */
static void csv_read_row(const char **p, const char *end, csv_row_t *row) {
  memset(row, 0, sizeof *row);
  const char *s = *p;
  for (;;) {
    ck_assert_uint_lt(row->n, CSV_MAX_CELLS);
    char *c = malloc((size_t)(end - s) + 1);
    size_t n = 0;
    if (s < end && *s == '"') {
      for (s++;; s++) {
        ck_assert_msg(s < end, "unterminated quoted cell");
        if (*s == '"' && s + 1 < end && s[1] == '"') {
          c[n++] = '"';
          s++;
        } else if (*s == '"') {
          s++;
          break;
        } else {
          c[n++] = *s;
        }
      }
    } else {
      for (; s < end && *s != ',' && *s != '\r' && *s != '\n'; s++) {
        ck_assert_msg(*s != '"', "a quote inside an unquoted cell");
        c[n++] = *s;
      }
    }
    c[n] = '\0';
    row->cell[row->n] = c;
    row->len[row->n++] = n;
    ck_assert(s < end);
    if (*s == ',') {
      s++;
      continue;
    }
    ck_assert_msg(s + 1 < end && s[0] == '\r' && s[1] == '\n', "a row ends with CRLF");
    *p = s + 2;
    return;
  }
}

static void csv_row_free(csv_row_t *row) {
  for (size_t i = 0; i < row->n; i++) {
    free(row->cell[i]);
  }
}

/* What the CSV cell of a JSON value must read back as: the formula guard's
 * ' before = + - @ TAB, control bytes but CR LF TAB as \xNN. */
static void csv_expect(ep_buf_t *b, const char *v, size_t n) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *u = (const unsigned char *)v;
  if (n > 0 && strchr("=+-@\t", v[0]) != NULL) {
    ep_buf_append(b, "'", 1, NULL);
  }
  for (size_t i = 0; i < n; i++) {
    if ((u[i] < 0x20 && u[i] != '\r' && u[i] != '\n' && u[i] != '\t') || u[i] == 0x7f) {
      char e[4] = {'\\', 'x', hex[u[i] >> 4], hex[u[i] & 15]};
      ep_buf_append(b, e, 4, NULL);
    } else {
      ep_buf_append(b, &u[i], 1, NULL);
    }
  }
}

/* Flatten the JSON record as scan --csv must: nested keys joined by _,
 * arrays joined by spaces, null empty. names/values: parallel lists. */
static void flatten(const ep_json_t *o, const char *prefix, csv_row_t *names, csv_row_t *vals) {
  for (size_t i = 0; i < ep_json_count(o); i++) {
    const ep_json_t *v = ep_json_at(o, i);
    char key[128];
    snprintf(key, sizeof key, "%s%s", prefix, ep_json_key_at(o, i));
    if (ep_json_type(v) == EP_JSON_OBJECT) {
      char pre[130];
      snprintf(pre, sizeof pre, "%s_", key);
      flatten(v, pre, names, vals);
      continue;
    }
    ep_buf_t b;
    ep_buf_init(&b, 64 * 1024, "expected cell", 0);
    int64_t iv;
    size_t n;
    const char *sv;
    if ((sv = ep_json_str(v, &n)) != NULL) {
      csv_expect(&b, sv, n);
    } else if (ep_json_type(v) == EP_JSON_ARRAY) {
      ep_buf_t j;
      ep_buf_init(&j, 64 * 1024, "joined", 0);
      for (size_t k = 0; k < ep_json_count(v); k++) {
        const char *e = ep_json_str(ep_json_at(v, k), &n);
        ep_buf_append(&j, " ", k > 0 ? 1 : 0, NULL);
        ep_buf_append(&j, e, n, NULL);
      }
      csv_expect(&b, (const char *)j.data, j.len);
      ep_buf_free(&j);
    } else if (ep_json_type(v) == EP_JSON_BOOL) {
      ep_buf_append_str(&b, ep_json_bool(v, false) ? "true" : "false", NULL);
    } else if (ep_json_int(v, &iv)) {
      ep_buf_printf(&b, NULL, "%lld", (long long)iv);
    }
    ck_assert_uint_lt(names->n, CSV_MAX_CELLS);
    names->cell[names->n] = strdup(key);
    names->len[names->n++] = strlen(key);
    vals->cell[vals->n] = strndup(b.len > 0 ? (const char *)b.data : "", b.len);
    vals->len[vals->n++] = b.len;
    ep_buf_free(&b);
  }
}

static void hostile_record(ep_result_t *r, ep_relay_contact_t *c) {
  ep_result_init(r);
  r->round = 3;
  r->started = 1796083200;
  snprintf(r->exit.fingerprint, sizeof r->exit.fingerprint, "%s",
           "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
  snprintf(r->exit.nickname, sizeof r->exit.nickname, "%s", "=HYPERLINK(\"x\",1)");
  snprintf(r->exit.address, sizeof r->exit.address, "%s", "10.0.0.1");
  r->exit.or_port = 9001;
  snprintf(r->first_hop.nickname, sizeof r->first_hop.nickname, "%s", "-2+3");
  snprintf(r->target_host, sizeof r->target_host, "%s", "smtp.example.org");
  r->port = 25;
  r->c.cls = EP_CLASS_REACHABLE_UNEXPECTED;
  snprintf(r->c.why, sizeof r->c.why, "%s", "a, \"quoted\"\r\nsecond line");
  r->end_reason = 4;
  snprintf(r->exitpolicy_addr, sizeof r->exitpolicy_addr, "%s", "10.9.9.9");
  r->exitpolicy_ttl = 60;
  const char banner[] = "554 no\r\n@SUM(1)\0\x1b[2J,\"";
  memcpy(r->c.greeting.text, banner, sizeof banner - 1);
  r->c.greeting.len = sizeof banner - 1;
  r->c.greeting.code = 554;
  r->circuit_ms = 120;
  r->control_tried = r->control_ok = true;
  snprintf(r->control_detail, sizeof r->control_detail, "%s", "+1");
  r->retry_tried = true;
  r->retry_cls = EP_CLASS_TIMEOUT;
  snprintf(r->retry_first_hop, sizeof r->retry_first_hop, "%s",
           "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB");
  r->verdict = EP_VERDICT_VIOLATES;
  snprintf(r->verdict_why, sizeof r->verdict_why, "%s", " leading space");
  snprintf(r->service, sizeof r->service, "%s", "smtp");
  snprintf(r->service_answer, sizeof r->service_answer, "%s", "\t220 tab");
  snprintf(r->tls_version, sizeof r->tls_version, "%s", "TLSv1.2");
  r->tls_resumed = true;
  snprintf(r->vantage, sizeof r->vantage, "%s", "fra1");
  const char contact[] = "=cmd|' /C calc'!A0 email:op[]example.org \"q\", l1\r\nl2\x01";
  const char fam[] = "$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA -x @y";
  ep_relay_contact_init(c);
  ck_assert_int_eq(ep_relay_contact_set(c, contact, sizeof contact - 1, "Tor, \"0.4\"", 10, fam,
                                        sizeof fam - 1, NULL), EP_OK);
  r->contact = c;
}

/* A banner's NUL byte (\u0000 in the record) shows as U+2400 in the
 * report, and what follows it is not lost (findings: it cut the text). */
START_TEST(report_keeps_text_after_a_nul) {
  ep_result_t r;
  ep_relay_contact_t c;
  hostile_record(&r, &c);
  r.c.cls = EP_CLASS_TIMEOUT; /* a failure: the pair's last answer is kept */
  r.service_answer[0] = '\0';   /* the answer is then the banner */
  ep_buf_t j;
  ep_buf_init(&j, 64 * 1024, "json", 0);
  ck_assert_int_eq(ep_result_to_json(&r, &j, NULL), EP_OK);
  char path[] = "/tmp/exitprobe-test-nul-XXXXXX";
  int fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(write(fd, j.data, j.len), (ssize_t)j.len);
  close(fd);
  ep_buf_free(&j);
  ep_rmodel_t *m = ep_rmodel_new();
  ck_assert_int_eq(ep_rmodel_add_file(m, path, NULL), EP_OK);
  unlink(path);
  ep_rmodel_finish(m);
  ck_assert_uint_eq(ep_rmodel_records(m), 1);
  char *out = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&out, &n);
  ck_assert_int_eq(ep_report_csv(m, f, NULL), EP_OK);
  fclose(f);
  const char *nul = strstr(out, "@SUM(1)\xe2\x90\x80");
  ck_assert_msg(nul != NULL, "%s", out);
  ck_assert_ptr_nonnull(strstr(nul, "[2J"));
  free(out);
  ep_rmodel_free(m);
  ep_relay_contact_clear(&c);
}
END_TEST

START_TEST(scan_csv_row_reads_back_as_the_json_record) {
  ep_result_t r;
  ep_relay_contact_t c;
  hostile_record(&r, &c);
  ep_buf_t j, v;
  ep_buf_init(&j, 64 * 1024, "json", 0);
  ep_buf_init(&v, 64 * 1024, "csv", 0);
  ck_assert_int_eq(ep_result_to_json(&r, &j, NULL), EP_OK);
  ck_assert_int_eq(ep_result_to_csv(&r, &v, NULL), EP_OK);
  ep_err_t err = {0};
  ep_json_t *rec = ep_json_parse((const char *)j.data, j.len, &err);
  ck_assert_msg(rec != NULL, "%s", err.msg);
  csv_row_t names = {0}, want = {0}, head, row;
  flatten(rec, "", &names, &want);
  const char *h = ep_result_csv_header(), *p = (const char *)v.data;
  csv_read_row(&h, h + strlen(h), &head);
  csv_read_row(&p, (const char *)v.data + v.len, &row);
  ck_assert_ptr_eq(p, (const char *)v.data + v.len); /* one row, CRLF inside cells quoted */
  ck_assert_uint_eq(head.n, names.n);                 /* every JSON field, in its order */
  ck_assert_uint_eq(row.n, names.n);
  for (size_t i = 0; i < names.n; i++) {
    ck_assert_str_eq(head.cell[i], names.cell[i]);
    ck_assert_msg(row.len[i] == want.len[i] && memcmp(row.cell[i], want.cell[i], row.len[i]) == 0,
                  "column %s: got [%s] want [%s]", names.cell[i], row.cell[i], want.cell[i]);
  }
  /* Spot checks of what the flattening must have produced. */
  ck_assert_str_eq(row.cell[4], "'=HYPERLINK(\"x\",1)");  /* exit_nickname, guarded */
  static const char why[] = "\"a, \"\"quoted\"\"\r\nsecond line\"";
  static const char banner[] = "\"554 no\r\n@SUM(1)\\x00\\x1b[2J,\"\"\"";
  ck_assert_ptr_nonnull(memmem(v.data, v.len, why, sizeof why - 1));
  ck_assert_ptr_nonnull(memmem(v.data, v.len, banner, sizeof banner - 1));
  ck_assert_str_eq(row.cell[names.n - 1], "$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA -x @y");
  ck_assert_str_eq(head.cell[names.n - 1], "family");
  size_t k = 0;
  while (k < names.n && strcmp(head.cell[k], "tls_resumed") != 0) k++;
  ck_assert_uint_lt(k, names.n);
  ck_assert_str_eq(head.cell[k - 1], "tls_version");
  ck_assert_str_eq(row.cell[k], "true");
  /* A record with nothing optional: the same columns, empty where JSON has null or no key. */
  ep_result_t bare;
  ep_result_init(&bare);
  ep_buf_clear(&v);
  ck_assert_int_eq(ep_result_to_csv(&bare, &v, NULL), EP_OK);
  p = (const char *)v.data;
  csv_row_t row2;
  csv_read_row(&p, (const char *)v.data + v.len, &row2);
  ck_assert_uint_eq(row2.n, names.n);
  ck_assert_str_eq(row2.cell[19], "");  /* exitpolicy_address */
  ck_assert_str_eq(row2.cell[21], "");  /* banner */
  csv_row_free(&row2);
  csv_row_free(&names);
  csv_row_free(&want);
  csv_row_free(&head);
  csv_row_free(&row);
  ep_json_free(rec);
  ep_buf_free(&j);
  ep_buf_free(&v);
  ep_relay_contact_clear(&c);
}
END_TEST

static Suite *report_out_suite(void) {
  Suite *s = suite_create("report_out");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, hidx_finds_every_item_and_honours_its_cap);
  tcase_add_test(tc, strpool_interns_once_within_its_caps);
  tcase_add_test(tc, html_escape_leaves_no_markup);
  tcase_add_test(tc, empty_input_finishes_and_renders);
  tcase_add_test(tc, report_keeps_text_after_a_nul);
  tcase_add_test(tc, csv_quoting_follows_rfc4180);
  tcase_add_test(tc, html_report_counts_escapes_and_clusters);
  tcase_add_test(tc, html_marks_violations_seen_from_every_vantage);
  tcase_add_test(tc, model_refuses_bad_rounds_and_keeps_old_records);
  tcase_add_test(tc, scan_csv_row_reads_back_as_the_json_record);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_suite(report_out_suite()); }
