/* exitprobe — unit tests of result records and the report over rounds. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/json.h"
#include "probe/engine/report.h"
#include "probe/engine/result.h"
#include "testutil.h"

static void make_result(ep_result_t *r, unsigned round, const char *fp, const char *nick,
                        ep_class_t cls, ep_verdict_t v) {
  ep_result_init(r);
  r->round = round;
  r->started = 1764052800; /* 2025-11-25 06:40:00 UTC */
  snprintf(r->exit.fingerprint, sizeof r->exit.fingerprint, "%s", fp);
  snprintf(r->exit.nickname, sizeof r->exit.nickname, "%s", nick);
  snprintf(r->exit.address, sizeof r->exit.address, "127.0.0.1");
  r->exit.or_port = 16010;
  snprintf(r->target_host, sizeof r->target_host, "127.0.0.1");
  r->port = 25;
  r->policy_basis = "summary";
  r->c.cls = cls;
  snprintf(r->c.why, sizeof r->c.why, "why %u", round);
  r->verdict = v;
  snprintf(r->verdict_why, sizeof r->verdict_why, "because");
}

START_TEST(result_record_is_valid_json) {
  ep_result_t r;
  make_result(&r, 1, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "evil\x1b[2J", EP_CLASS_REACHABLE_UNEXPECTED,
              EP_VERDICT_VIOLATES);
  const char banner[] = "554 no\x1b]0;pwned\x07\0\xff\r\n";
  memcpy(r.c.greeting.text, banner, sizeof banner - 1);
  r.c.greeting.len = sizeof banner - 1;
  r.c.greeting.code = 554;
  r.end_reason = 6;
  ep_buf_t b;
  ep_buf_init(&b, 64 * 1024, "record", 0);
  ck_assert_int_eq(ep_result_to_json(&r, &b, NULL), EP_OK);
  ck_assert_uint_eq(b.data[b.len - 1], '\n');
  for (size_t i = 0; i + 1 < b.len; i++) {
    ck_assert_msg(b.data[i] >= 0x20 && b.data[i] != 0x7f, "raw control byte 0x%02x in JSON", b.data[i]);
  }
  ep_err_t err = {0};
  ep_json_t *j = ep_json_parse((const char *)b.data, b.len - 1, &err);
  ck_assert_msg(j != NULL, "%s", err.msg);
  ck_assert_str_eq(ep_json_get_str(j, "schema"), EP_RESULT_SCHEMA);
  ck_assert_str_eq(ep_json_get_str(j, "class"), "reachable-unexpected");
  ck_assert_str_eq(ep_json_get_str(j, "end_reason_name"), "DONE");
  size_t blen;
  const char *got = ep_json_str(ep_json_get(j, "banner"), &blen);
  /* Every byte kept, NUL included; the invalid-UTF-8 byte 0xff is written as
   * \u00ff and so reads back as U+00FF (2 bytes of UTF-8). */
  ck_assert_uint_eq(blen, sizeof banner);
  ck_assert_int_eq(memcmp(got, banner, 17), 0);
  ck_assert_int_eq(memcmp(got + 17, "\xc3\xbf\r\n", 4), 0);
  ck_assert_str_eq(ep_json_get_str(ep_json_get(j, "exit"), "nickname"), "evil\x1b[2J");
  ck_assert_int_eq(ep_json_type(ep_json_get(j, "circuit_ms")), EP_JSON_NULL);
  ep_json_free(j);
  ep_buf_free(&b);
}
END_TEST

/* #13's block: vantage and connected_addr are null until set; ip_version
 * is 4 unless the probe asked for IPv6. */
START_TEST(result_public_network_fields) {
  ep_result_t r;
  make_result(&r, 1, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "x", EP_CLASS_REACHABLE,
              EP_VERDICT_HONOURS);
  for (int k = 0; k < 2; k++) {
    if (k == 1) {
      snprintf(r.vantage, sizeof r.vantage, "fra1");
      r.ip_version = 6;
      snprintf(r.connected_addr, sizeof r.connected_addr, "::1");
    }
    ep_buf_t b;
    ep_buf_init(&b, 64 * 1024, "record", 0);
    ck_assert_int_eq(ep_result_to_json(&r, &b, NULL), EP_OK);
    ep_err_t err = {0};
    ep_json_t *j = ep_json_parse((const char *)b.data, b.len - 1, &err);
    ck_assert_msg(j != NULL, "%s", err.msg);
    if (k == 0) {
      ck_assert_int_eq(ep_json_type(ep_json_get(j, "vantage")), EP_JSON_NULL);
      ck_assert_int_eq(ep_json_type(ep_json_get(j, "connected_addr")), EP_JSON_NULL);
      ck_assert_ptr_nonnull(strstr((const char *)b.data, "\"ip_version\":4,"));
    } else {
      ck_assert_str_eq(ep_json_get_str(j, "vantage"), "fra1");
      ck_assert_str_eq(ep_json_get_str(j, "connected_addr"), "::1");
      ck_assert_ptr_nonnull(strstr((const char *)b.data, "\"ip_version\":6,"));
    }
    ck_assert_str_eq(ep_json_get_str(j, "why"), "because");
    ep_json_free(j);
    ep_buf_free(&b);
  }
}
END_TEST

START_TEST(report_finds_consistent_violators) {
  char path[] = "/tmp/exitprobe-test-report-XXXXXX";
  int fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  FILE *f = fdopen(fd, "w");
  const char *blocked = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";
  const char *flaky = "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC";
  const char *good = "DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD";
  for (unsigned round = 1; round <= 3; round++) {
    ep_result_t r;
    make_result(&r, round, blocked, "blocked", EP_CLASS_CONNECT_FAILED, EP_VERDICT_VIOLATES);
    ck_assert_int_eq(ep_result_write(&r, f, NULL), EP_OK);
    make_result(&r, round, flaky, "flaky\x1b[1m", round == 2 ? EP_CLASS_TIMEOUT : EP_CLASS_REACHABLE,
                round == 2 ? EP_VERDICT_VIOLATES : EP_VERDICT_HONOURS);
    ck_assert_int_eq(ep_result_write(&r, f, NULL), EP_OK);
    make_result(&r, round, good, "good", EP_CLASS_REACHABLE, EP_VERDICT_HONOURS);
    ck_assert_int_eq(ep_result_write(&r, f, NULL), EP_OK);
  }
  fputs("this is not json\n{\"schema\":\"other\"}\n\n", f);
  /* A fingerprint that is not 40 hex digits (here: a terminal escape) is refused. */
  fputs("{\"schema\":\"exitprobe/result/1\",\"exit\":{\"fingerprint\":"
        "\"\\u001b[2JAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"},\"port\":25,"
        "\"class\":\"reachable\",\"verdict\":\"honours\"}\n", f);
  fclose(f);

  ep_rmodel_t *rep = ep_rmodel_new();
  ep_err_t err = {0};
  ck_assert_int_eq(ep_rmodel_add_file(rep, path, &err), EP_OK);
  ck_assert_uint_eq(ep_rmodel_pairs(rep), 3);
  ck_assert_uint_eq(ep_rmodel_bad_lines(rep), 3);
  unsigned consistent = 0;
  for (size_t i = 0; i < ep_rmodel_pairs(rep); i++) {
    const ep_rm_pair_t *row = ep_rmodel_pair(rep, i);
    ck_assert_uint_eq(row->records, 3);
    if (ep_rm_pair_consistent(row)) {
      consistent++;
      ck_assert_str_eq(row->exit.fingerprint, blocked);
      ck_assert_uint_eq(row->classes[EP_CLASS_CONNECT_FAILED], 3);
    }
    if (strcmp(row->exit.fingerprint, flaky) == 0) {
      ck_assert_uint_eq(row->violates, 1);
      ck_assert_uint_eq(row->honours, 2);
    }
  }
  ck_assert_uint_eq(consistent, 1);

  /* The table escapes relay text; the JSON form parses line by line. */
  char *text = NULL;
  size_t tlen = 0;
  FILE *mem = open_memstream(&text, &tlen);
  ck_assert_int_eq(ep_report_print(rep, mem, false, NULL), EP_OK);
  fclose(mem);
  ck_assert_ptr_null(strchr(text, 0x1b));
  ck_assert_ptr_nonnull(strstr(text, "flaky\\x1b[1m"));
  ck_assert_ptr_nonnull(strstr(text, "consistent violators: 1   intermittent: 1"));
  free(text);
  mem = open_memstream(&text, &tlen);
  ck_assert_int_eq(ep_report_print(rep, mem, true, NULL), EP_OK);
  fclose(mem);
  unsigned lines = 0;
  for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
    ep_json_t *j = ep_json_parse(line, strlen(line), NULL);
    ck_assert_ptr_nonnull(j);
    lines++;
    ep_json_free(j);
  }
  ck_assert_uint_eq(lines, 3);
  free(text);
  ep_rmodel_free(rep);
  unlink(path);
  rep = ep_rmodel_new();
  ck_assert_int_eq(ep_rmodel_add_file(rep, "/nonexistent/file", &err), EP_ERR_IO);
  ep_rmodel_free(rep);
}
END_TEST

/* #14: the records' dns fields: a DNS column (broken / wrong if any round
 * said so), the DNS broken and DNS wrong lists (one line per exit, relay
 * text escaped), and the JSON rows' dns keys. */
START_TEST(report_dns_column_and_lists) {
  char path[] = "/tmp/exitprobe-test-report-XXXXXX";
  int fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  FILE *f = fdopen(fd, "w");
  const char *silent = "EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE";
  const char *liar = "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF";
  for (unsigned round = 1; round <= 2; round++) {
    for (unsigned port = 25; port <= 80; port += 55) {
      ep_result_t r;
      make_result(&r, round, silent, "silent", EP_CLASS_REACHABLE, EP_VERDICT_HONOURS);
      r.port = port;
      snprintf(r.dns, sizeof r.dns, "%s", round == 1 ? "broken" : "ok");
      snprintf(r.dns_detail, sizeof r.dns_detail, "a.test: error (transient) after 2000 ms");
      snprintf(r.dns_reprobe_addr, sizeof r.dns_reprobe_addr, "127.0.0.1");
      ck_assert_int_eq(ep_result_write(&r, f, NULL), EP_OK);
      make_result(&r, round, liar, "liar", EP_CLASS_REACHABLE, EP_VERDICT_HONOURS);
      r.port = port;
      snprintf(r.dns, sizeof r.dns, "wrong");
      snprintf(r.dns_detail, sizeof r.dns_detail, "a.test: 10.6.6.6 ttl 60 \x1b[2J");
      ck_assert_int_eq(ep_result_write(&r, f, NULL), EP_OK);
    }
  }
  fclose(f);
  ep_rmodel_t *rep = ep_rmodel_new();
  ep_err_t err = {0};
  ck_assert_int_eq(ep_rmodel_add_file(rep, path, &err), EP_OK);
  ck_assert_uint_eq(ep_rmodel_pairs(rep), 4);
  for (size_t i = 0; i < ep_rmodel_pairs(rep); i++) {
    const ep_rm_pair_t *p = ep_rmodel_pair(rep, i);
    bool is_silent = strcmp(p->exit.fingerprint, silent) == 0;
    ck_assert_uint_eq(p->dns_broken, is_silent ? 1 : 0);
    ck_assert_uint_eq(p->dns_wrong, is_silent ? 0 : 2);
    ck_assert_str_eq(ep_report_dns(p), is_silent ? "broken" : "wrong");
    ck_assert_str_eq(p->last_dns, is_silent ? "ok" : "wrong");
    ck_assert_str_eq(p->last_dns_reprobe, is_silent ? "127.0.0.1" : "");
  }
  char *text = NULL;
  size_t tlen = 0;
  FILE *mem = open_memstream(&text, &tlen);
  ck_assert_int_eq(ep_report_print(rep, mem, false, NULL), EP_OK);
  fclose(mem);
  ck_assert_ptr_null(strchr(text, 0x1b));
  ck_assert_ptr_nonnull(strstr(text, " DNS "));
  const char *b = strstr(text, "\nDNS broken");
  const char *w = strstr(text, "\nDNS wrong");
  ck_assert(b != NULL && w != NULL && b < w);
  ck_assert_ptr_nonnull(strstr(b, silent));
  ck_assert_ptr_null(strstr(strstr(b, silent) + 40, silent));   /* once, not once per port */
  ck_assert_ptr_nonnull(strstr(b, "1 of 2 rounds: a.test: error (transient)"));
  ck_assert_ptr_nonnull(strstr(w, "2 of 2 rounds: a.test: 10.6.6.6 ttl 60 \\x1b[2J"));
  ck_assert_ptr_null(strstr(w, silent));
  free(text);
  mem = open_memstream(&text, &tlen);
  ck_assert_int_eq(ep_report_print(rep, mem, true, NULL), EP_OK);
  fclose(mem);
  ck_assert_ptr_nonnull(strstr(text, "\"dns\":\"broken\",\"dns_broken\":1,\"dns_wrong\":0"));
  ck_assert_ptr_nonnull(strstr(text, "\"dns\":\"wrong\",\"dns_broken\":0,\"dns_wrong\":2"));
  free(text);
  /* The page: a DNS broken section, one row per exit, the relay text escaped. */
  mem = open_memstream(&text, &tlen);
  ck_assert_int_eq(ep_report_html(rep, mem, "t", NULL), EP_OK);
  fclose(mem);
  ck_assert_ptr_nonnull(strstr(text, "<h2 id=\"dns\">DNS broken</h2>"));
  ck_assert_ptr_nonnull(strstr(text, "data-dns=\"broken\""));
  ck_assert_ptr_nonnull(strstr(text, "data-dns=\"wrong\""));
  size_t rows = 0;
  for (const char *q = text; (q = strstr(q, "<tr class=\"dns\"")) != NULL; q++) {
    rows++;
  }
  ck_assert_uint_eq(rows, 2);
  ck_assert_ptr_null(strchr(text, 0x1b));
  ck_assert_ptr_nonnull(strstr(text, "10.6.6.6 ttl 60 \\x1b[2J"));
  free(text);
  ep_rmodel_free(rep);
  unlink(path);
}
END_TEST

static Suite *report_suite(void) {
  Suite *s = suite_create("report");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, result_record_is_valid_json);
  tcase_add_test(tc, result_public_network_fields);
  tcase_add_test(tc, report_finds_consistent_violators);
  tcase_add_test(tc, report_dns_column_and_lists);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_suite(report_suite()); }
