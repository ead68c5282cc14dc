/* exitprobe — unit tests of the operator notices (engine/report_notice):
 * grouping, the body, the .eml headers (To:, RFC 2047, no CR/LF or control
 * characters from relay text), nothing for inconclusive-only exits. */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/file.h"
#include "probe/engine/report_notice.h"
#include "testutil.h"

static ep_rm_pair_t pair(const char *fp, const char *nick, unsigned port, const char *contact,
                         const char *email, unsigned violates) {
  ep_rm_pair_t p;
  memset(&p, 0, sizeof p);
  snprintf(p.exit.fingerprint, sizeof p.exit.fingerprint, "%s", fp);
  p.exit.nickname = nick;
  p.exit.address = "127.0.0.1";
  p.exit.or_port = 9001;
  p.port = port;
  p.vantage = "";
  p.contact = contact;
  p.contact_email = email;
  p.contact_url = p.platform = p.family = "";
  p.records = 3;
  p.violates = violates;
  p.inconclusive = 3 - violates;
  snprintf(p.first_fail_time, sizeof p.first_fail_time, "2026-12-05T10:00:00Z");
  snprintf(p.last_fail_time, sizeof p.last_fail_time, "2026-12-05T12:00:00Z");
  p.last_class = p.fail_class = violates > 0 ? EP_CLASS_CONNECT_FAILED : EP_CLASS_CIRCUIT_FAILED;
  p.last_why = p.fail_why = "END MISC right after BEGIN";
  p.last_detail = "";
  p.last_end_reason_name = p.fail_end_reason_name = "MISC";
  p.last_end_reason = 1;
  p.last_target = "127.0.0.1";
  p.last_answer = p.fail_answer = p.last_service = "";
  p.last_control = p.last_control_detail = p.last_retry_class = p.last_retry_first_hop = "";
  p.last_dns = p.last_dns_detail = p.last_dns_reprobe = "";
  p.last_first_hop.nickname = p.fail_first_hop.nickname = "relay0";
  p.last_first_hop.address = p.fail_first_hop.address = "127.0.0.1";
  snprintf(p.fail_first_hop.fingerprint, 41, "%s", "B000000000000000000000000000000000000000");
  return p;
}

static void render(const ep_rm_pair_t *p, ep_buf_t *txt, ep_buf_t *eml) {
  const ep_rm_pair_t *g[1] = {p};
  ep_notice_cfg_t cfg = {.from = "probe@example.net", .now = 1764946800};
  ep_buf_init(txt, 1 << 20, "t", 0);
  ep_buf_init(eml, 1 << 20, "e", 0);
  ep_err_t err = {0};
  ck_assert_int_eq(ep_notice_render(g, 1, &cfg, txt, eml, &err), EP_OK);
  ck_assert_int_eq(ep_buf_append(txt, "", 1, &err), EP_OK);   /* NUL-terminate */
  ck_assert_int_eq(ep_buf_append(eml, "", 1, &err), EP_OK);
}

/* The header block of an .eml (up to the empty line). */
static char *headers_of(const char *eml) {
  const char *end = strstr(eml, "\r\n\r\n");
  ck_assert_ptr_nonnull(end);
  return strndup(eml, (size_t)(end - eml) + 2);
}

START_TEST(hostile_contact_escaped_and_addressed) {
  const char *contact = "<b>x</b>\x01 email:op[]example.com\r\nBcc: victim@example.org";
  ep_rm_pair_t p = pair("A000000000000000000000000000000000000001", "exit4", 25, contact,
                        "op@example.com", 3);
  ep_buf_t txt, eml;
  render(&p, &txt, &eml);
  const char *t = (const char *)txt.data;
  ck_assert_msg(strstr(t, "Subject: Tor exit exit4 (A0000000): port 25 ") == t, "%s", t);
  ck_assert_ptr_nonnull(strstr(t, "<b>x</b>\\x01 email:op[]example.com\\r\\nBcc: victim@example.org"));
  ck_assert_ptr_nonnull(strstr(t, "connect-failed"));
  ck_assert_ptr_nonnull(strstr(t, "MISC"));
  ck_assert_ptr_nonnull(strstr(t, "failed in 3 of 3 rounds"));
  ck_assert_ptr_nonnull(strstr(t, "ExitPolicy reject *:25"));
  ck_assert_ptr_nonnull(
      strstr(t, "exitprobe circuit --exit A000000000000000000000000000000000000001 --port 25 --target 127.0.0.1\n"));
  for (const char *c = t; *c != '\0'; c++) {
    ck_assert_msg(*c == '\n' || (*c >= 0x20 && *c < 0x7f), "byte 0x%02x in the text", (unsigned char)*c);
  }
  char *h = headers_of((const char *)eml.data);
  ck_assert_ptr_nonnull(strstr(h, "From: probe@example.net\r\n"));
  ck_assert_ptr_nonnull(strstr(h, "\r\nTo: op@example.com\r\n"));
  ck_assert_ptr_nonnull(strstr(h, "\r\nDate: Fri, 05 Dec 2025 15:00:00 +0000\r\n"));
  ck_assert_ptr_nonnull(strstr(h, "\r\nContent-Type: text/plain; charset=utf-8\r\n"));
  ck_assert_ptr_null(strstr(h, "Bcc"));
  ck_assert_ptr_null(strstr((const char *)eml.data, "\r\nBcc"));
  /* every line of the .eml ends in CRLF and is short */
  const char *s = (const char *)eml.data;
  for (const char *nl; (nl = strchr(s, '\n')) != NULL; s = nl + 1) {
    ck_assert_msg(nl > s && nl[-1] == '\r', "bare LF");
    ck_assert_uint_lt((size_t)(nl - s), 998);
  }
  free(h);
  ep_buf_free(&txt);
  ep_buf_free(&eml);
}
END_TEST

START_TEST(to_only_for_a_plain_address) {
  char to[256];
  ep_rm_pair_t p = pair("A1", "n", 25, "x", "evil@example.com>\r\nBcc: a@b.c", 1);
  ep_notice_to(&p, to, sizeof to);
  ck_assert_str_eq(to, "");
  p.contact_email = "";
  ep_notice_to(&p, to, sizeof to);
  ck_assert_str_eq(to, "");
  p.contact_email = "a.b@mail.example.org";
  ep_notice_to(&p, to, sizeof to);
  ck_assert_str_eq(to, "a.b@mail.example.org");
  /* no usable address: no To: header at all */
  p.contact_email = "not an address";
  ep_buf_t txt, eml;
  render(&p, &txt, &eml);
  char *h = headers_of((const char *)eml.data);
  ck_assert_ptr_null(strstr(h, "To:"));
  free(h);
  ep_buf_free(&txt);
  ep_buf_free(&eml);
}
END_TEST

START_TEST(header_values) {
  ep_buf_t b;
  ep_buf_init(&b, 4096, "h", 0);
  ep_err_t err = {0};
  ck_assert_int_eq(ep_notice_header_value(&b, " a\r\n\tb\x01\x7f c ", 12, &err), EP_OK);
  ck_assert_uint_eq(b.len, 5);
  ck_assert_int_eq(memcmp(b.data, "a b c", 5), 0);
  b.len = 0;
  const char *u = "Relais \xc3\xa9t\xc3\xa9 \xe2\x9c\x93";
  ck_assert_int_eq(ep_notice_header_value(&b, u, strlen(u), &err), EP_OK);
  ck_assert_int_eq(ep_buf_append(&b, "", 1, &err), EP_OK);
  ck_assert_str_eq((const char *)b.data, "=?utf-8?B?UmVsYWlzIMOpdMOpIOKckw==?=");
  /* long non-ASCII: several words, none longer than 75, no UTF-8 sequence split */
  char longv[300];
  size_t n = 0;
  while (n + 2 < sizeof longv) {
    longv[n++] = '\xc3';
    longv[n++] = '\xa9';
  }
  b.len = 0;
  ck_assert_int_eq(ep_notice_header_value(&b, longv, n, &err), EP_OK);
  ck_assert_int_eq(ep_buf_append(&b, "", 1, &err), EP_OK);
  char *copy = strdup((const char *)b.data);
  size_t words = 0;
  for (char *w = strtok(copy, " "); w != NULL; w = strtok(NULL, " ")) {
    ck_assert_uint_le(strlen(w), 75);
    ck_assert(strncmp(w, "=?utf-8?B?", 10) == 0);
    words++;
  }
  ck_assert_uint_ge(words, 4);
  free(copy);
  ep_buf_free(&b);
}
END_TEST

static size_t count_files(const char *dir, const char *ext) {
  DIR *d = opendir(dir);
  ck_assert_ptr_nonnull(d);
  size_t n = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    size_t l = strlen(e->d_name);
    n += l > strlen(ext) && strcmp(e->d_name + l - strlen(ext), ext) == 0;
  }
  closedir(d);
  return n;
}

START_TEST(grouped_by_operator_inconclusive_skipped) {
  ep_rm_pair_t p[5] = {
      pair("A000000000000000000000000000000000000001", "a1", 25, "Op A email:a[]x.org", "a@x.org", 2),
      pair("A000000000000000000000000000000000000002", "a2", 465, "Op A, other relay", "a@x.org", 1),
      pair("C000000000000000000000000000000000000003", "c", 25, "shared text", "", 3),
      pair("D000000000000000000000000000000000000004", "d", 25, "", "", 1),
      pair("E000000000000000000000000000000000000005", "e", 25, "only inconclusive", "", 0),
  };
  const ep_rm_pair_t *v[5] = {&p[0], &p[1], &p[2], &p[3], &p[4]};
  char dir[] = "/tmp/test_notice_XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  ep_notice_cfg_t cfg = {.now = 0};
  size_t n = 0;
  ep_err_t err = {0};
  ck_assert_int_eq(ep_notices_write(v, 5, dir, &cfg, &n, &err), EP_OK);
  ck_assert_uint_eq(n, 3);   /* a@x.org (2 pairs), "shared text", relay D; not E */
  ck_assert_uint_eq(count_files(dir, ".txt"), 3);
  ck_assert_uint_eq(count_files(dir, ".eml"), 3);
  /* each .eml: the email group has both of a@x.org's relays and To:; none names E */
  char path[512];
  size_t groups_a = 0;
  DIR *dd = opendir(dir);
  for (struct dirent *e; (e = readdir(dd)) != NULL;) {
    if (strstr(e->d_name, ".eml") == NULL) {
      continue;
    }
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    uint8_t *data = NULL;
    size_t len = 0;
    ck_assert_int_eq(ep_file_read(path, 1 << 20, "notice", &data, &len, &err), EP_OK);
    char *t = strndup((const char *)data, len);
    bool group_a = strstr(t, "To: a@x.org\r\n") != NULL;
    groups_a += group_a;
    ck_assert(group_a == (strstr(t, "Relay A000000000000000000000000000000000000002, port 465") != NULL));
    ck_assert(group_a == (strstr(t, "Relay A000000000000000000000000000000000000001, port 25") != NULL));
    ck_assert_ptr_null(strstr(t, "E000000000000000000000000000000000000005"));
    ck_assert(group_a || strstr(t, "\r\nTo:") == NULL);
    free(t);
    free(data);
  }
  closedir(dd);
  ck_assert_uint_eq(groups_a, 1);
  DIR *d = opendir(dir);
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    if (e->d_name[0] != '.') {
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
      unlink(path);
    }
  }
  closedir(d);
  rmdir(dir);
}
END_TEST

/* #14: an exit whose only fault is its resolver gets a notice about it
 * (the fixes, the command that shows it); one that also violates gets the
 * DNS block after its port, once. */
START_TEST(dns_broken_exit_gets_the_resolver_fixes) {
  ep_rm_pair_t p = pair("E000000000000000000000000000000000000000", "dnsbad", 25, "op", "", 0);
  p.honours = 3;
  p.inconclusive = 0;
  p.dns_broken = 3;
  p.last_dns = "broken";
  p.last_dns_detail = "a.test: error (transient) after 2000 ms \x1b[2J";
  p.last_target = "a.test";
  ep_buf_t txt, eml;
  render(&p, &txt, &eml);
  const char *t = (const char *)txt.data;
  ck_assert_msg(strstr(t, "Subject: Tor exit dnsbad (E0000000): its DNS resolver is broken\n") == t, "%s", t);
  ck_assert_ptr_nonnull(strstr(t, "Relay E000000000000000000000000000000000000000, its DNS resolver"));
  ck_assert_ptr_nonnull(strstr(t, "broken in 3 of 3 rounds probed"));
  ck_assert_ptr_nonnull(strstr(t, "\\x1b[2J"));
  ck_assert_ptr_null(strchr(t, 0x1b));
  ck_assert_ptr_nonnull(strstr(t, "ServerDNSResolvConfFile"));
  ck_assert_ptr_nonnull(strstr(t, "local caching resolver"));
  ck_assert_ptr_nonnull(strstr(t, "exitprobe circuit --exit E000000000000000000000000000000000000000 --resolve a.test"));
  ck_assert_ptr_null(strstr(t, "Two ways out"));
  ep_buf_free(&txt);
  ep_buf_free(&eml);
  /* Violating too: the port's block, then the resolver's. */
  p.violates = 1;
  render(&p, &txt, &eml);
  t = (const char *)txt.data;
  const char *ways = strstr(t, "Two ways out");
  ck_assert(ways != NULL && strstr(ways, "Its DNS resolver:") != NULL);
  ep_buf_free(&txt);
  ep_buf_free(&eml);
  /* Written as a notice even without a violation; a clean exit gets none. */
  char dir[] = "/tmp/exitprobe-test-notice-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  p.violates = 0;
  ep_rm_pair_t clean = pair("F000000000000000000000000000000000000000", "fine", 25, "op2", "", 0);
  const ep_rm_pair_t *all[2] = {&p, &clean};
  ep_notice_cfg_t cfg = {.now = 1764946800};
  size_t n = 0;
  ep_err_t err = {0};
  ck_assert_int_eq(ep_notices_write(all, 2, dir, &cfg, &n, &err), EP_OK);
  ck_assert_uint_eq(n, 1);
  ck_assert_uint_eq(count_files(dir, ".txt"), 1);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static Suite *notice_suite(void) {
  Suite *s = suite_create("report_notice");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, hostile_contact_escaped_and_addressed);
  tcase_add_test(tc, to_only_for_a_plain_address);
  tcase_add_test(tc, header_values);
  tcase_add_test(tc, grouped_by_operator_inconclusive_skipped);
  tcase_add_test(tc, dns_broken_exit_gets_the_resolver_fixes);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_suite(notice_suite()); }
