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
#include "lib/strpool.h"
#include "probe/engine/report.h"
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
  ck_assert_ptr_nonnull(strstr(html, "<code>10.1.0.0/16</code>"));
  ck_assert_uint_eq(count(html, "src="), 0);
  ck_assert_uint_eq(count(html, "https://"), 2 * 3 + 0);  /* exit + first hop per violator */
  free(html);
  char *csv = render(m, 1);
  ck_assert_uint_eq(count(csv, "\r\n"), 5);  /* header and four rows */
  ck_assert_ptr_nonnull(strstr(csv, ",<b>evil</b> \\x1b[2J <ops@example.org>,"));
  ck_assert_ptr_nonnull(strstr(csv, ",$AA $BB\r\n"));
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

static Suite *report_out_suite(void) {
  Suite *s = suite_create("report_out");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, hidx_finds_every_item_and_honours_its_cap);
  tcase_add_test(tc, strpool_interns_once_within_its_caps);
  tcase_add_test(tc, html_escape_leaves_no_markup);
  tcase_add_test(tc, csv_quoting_follows_rfc4180);
  tcase_add_test(tc, html_report_counts_escapes_and_clusters);
  tcase_add_test(tc, model_refuses_bad_rounds_and_keeps_old_records);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_suite(report_out_suite()); }
