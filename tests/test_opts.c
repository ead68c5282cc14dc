/* exitprobe — unit tests of the subcommands' option parser (probe/cmd/opts). */
#include "config.h"

#include <check.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probe/cmd/opts.h"
#include "testutil.h"

typedef struct t_opts {
  bool flag;
  const char *str;
  ep_opt_list_t list;
  uint16_t u16;
  unsigned num;
  uint64_t big;
  int64_t dur, dur0;
  ep_opt_ports_t ports, pnone, pnames;
  ep_opt_services_t svcs;
  unsigned choice;
  const char *fn_value;
} t_opts_t;

static int t_fn(void *dst, const char *value, ep_err_t *err) {
  t_opts_t *o = dst;
  if (strcmp(value, "msg") == 0) {
    return ep_err_set(err, EP_ERR_MALFORMED, "the reason");
  }
  if (strcmp(value, "ok") != 0) {
    return EP_ERR_MALFORMED;
  }
  o->fn_value = value;
  return EP_OK;
}

static const char *const t_choices[] = {"a", "b", "c", NULL};

static const ep_opt_t t_table[] = {
  {.name = "--flag", .short_name = 'f', .kind = EP_OPT_FLAG, EP_OPT_AT(t_opts_t, flag),
   .help = "  -f, --flag  a flag\n"},
  {.name = "--str", .kind = EP_OPT_STRING, EP_OPT_AT(t_opts_t, str), .help = "  --str S     a string\n"},
  {.kind = EP_OPT_TEXT, .help = "Numbers:\n"},
  {.name = "--list", .kind = EP_OPT_LIST, EP_OPT_AT(t_opts_t, list), .max = 3},
  {.name = "--u16", .kind = EP_OPT_UINT, EP_OPT_AT(t_opts_t, u16), .min = 0, .max = 65535},
  {.name = "--num", .kind = EP_OPT_UINT, EP_OPT_AT(t_opts_t, num), .min = 1, .max = 10},
  {.name = "--big", .kind = EP_OPT_UINT, EP_OPT_AT(t_opts_t, big), .min = 0, .max = UINT64_MAX},
  {.name = "--dur", .kind = EP_OPT_DURATION, EP_OPT_AT(t_opts_t, dur), .min = 1},
  {.name = "--dur0", .kind = EP_OPT_DURATION, EP_OPT_AT(t_opts_t, dur0)},
  {.name = "--ports", .kind = EP_OPT_PORTS, EP_OPT_AT(t_opts_t, ports), .max = 4,
   .flags = EP_OPTF_DISTINCT},
  {.name = "--pnone", .kind = EP_OPT_PORTS, EP_OPT_AT(t_opts_t, pnone), .max = 3,
   .flags = EP_OPTF_NONE},
  {.name = "--pnames", .kind = EP_OPT_PORTS, EP_OPT_AT(t_opts_t, pnames), .max = 17,
   .flags = EP_OPTF_DISTINCT | EP_OPTF_NAMES},
  {.name = "--svc", .kind = EP_OPT_SERVICE, EP_OPT_AT(t_opts_t, svcs), .max = 2},
  {.name = "--choice", .kind = EP_OPT_CHOICE, EP_OPT_AT(t_opts_t, choice), .choices = t_choices},
  {.name = "--fn", .kind = EP_OPT_FUNC, .off = 0, .fn = t_fn, .want = "ok"},
  {.name = "--help", .short_name = 'h', .kind = EP_OPT_HELP, .help = "  -h, --help  this help\n"},
};

static const ep_optspec_t t_spec = {
  .cmd = "t",
  .head = "Usage: exitprobe t [OPTIONS]\n\n",
  .opts = t_table,
  .n_opts = sizeof t_table / sizeof t_table[0],
  .tail = "\nThe end.\n",
  .max_operands = 2,
};

#define T_ARGS_MAX 32
#define T_TEXT_MAX 4096

typedef struct t_run {
  t_opts_t o;
  ep_opts_rc_t rc;
  char *argv[T_ARGS_MAX];
  size_t n_operands;
  char out[T_TEXT_MAX];  /* what went to stdout */
  char err[T_TEXT_MAX];  /* what went to stderr */
} t_run_t;

static void slurp(FILE *f, char *buf, size_t cap) {
  rewind(f);
  size_t n = fread(buf, 1, cap - 1, f);
  buf[n] = '\0';
  fclose(f);
}

/* Parse "t" + the NULL-terminated arguments, capturing stdout and stderr. */
static void parse(t_run_t *r, ...) {
  memset(r, 0, sizeof *r);
  int argc = 0;
  r->argv[argc++] = (char *)"t";
  va_list ap;
  va_start(ap, r);
  for (char *a; (a = va_arg(ap, char *)) != NULL;) {
    ck_assert_int_lt(argc, T_ARGS_MAX);
    r->argv[argc++] = a;
  }
  va_end(ap);
  FILE *out = tmpfile(), *err = tmpfile();
  ck_assert(out != NULL && err != NULL);
  fflush(stdout);
  fflush(stderr);
  int saved_out = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
  dup2(fileno(out), STDOUT_FILENO);
  dup2(fileno(err), STDERR_FILENO);
  r->rc = ep_opts_parse(&t_spec, &r->o, argc, r->argv, &r->n_operands);
  fflush(stdout);
  fflush(stderr);
  dup2(saved_out, STDOUT_FILENO);
  dup2(saved_err, STDERR_FILENO);
  close(saved_out);
  close(saved_err);
  slurp(out, r->out, sizeof r->out);
  slurp(err, r->err, sizeof r->err);
}

static void expect_error(t_run_t *r, const char *msg) {
  ck_assert_int_eq(r->rc, EP_OPTS_USAGE);
  ck_assert_int_eq(ep_opts_exit_status(r->rc), 2);
  ck_assert_str_eq(r->err, msg);
  ck_assert_str_eq(r->out, "");
  ep_opt_list_free(&r->o.list);
}

START_TEST(every_kind_separate_value) {
  t_run_t r;
  parse(&r, "--flag", "--str", "-dash", "--list", "x", "--u16", "65535", "--num", "10", "--big",
        "18446744073709551615", "--dur", "1h30m", "--dur0", "0", "--ports", "25,465,587",
        "--pnone", "none", "--choice", "c", "--fn", "ok", NULL);
  ck_assert_int_eq(r.rc, EP_OPTS_OK);
  ck_assert_str_eq(r.err, "");
  ck_assert(r.o.flag);
  ck_assert_str_eq(r.o.str, "-dash");
  ck_assert_uint_eq(r.o.list.n, 1);
  ck_assert_str_eq(r.o.list.v[0], "x");
  ck_assert_uint_eq(r.o.u16, 65535);
  ck_assert_uint_eq(r.o.num, 10);
  ck_assert(r.o.big == UINT64_MAX);
  ck_assert_int_eq(r.o.dur, 5400000);
  ck_assert_int_eq(r.o.dur0, 0);
  ck_assert_uint_eq(r.o.ports.n, 3);
  ck_assert_uint_eq(r.o.ports.v[0], 25);
  ck_assert_uint_eq(r.o.ports.v[2], 587);
  ck_assert_uint_eq(r.o.pnone.n, 0);
  ck_assert_uint_eq(r.o.choice, 2);
  ck_assert_str_eq(r.o.fn_value, "ok");
  ck_assert_uint_eq(r.n_operands, 0);
  ep_opt_list_free(&r.o.list);
}
END_TEST

START_TEST(every_kind_equals_value) {
  t_run_t r;
  parse(&r, "-f", "--str=a=b", "--list==", "--u16=0", "--num=1", "--big=0", "--dur=250ms",
        "--dur0=10s", "--ports=1", "--pnone=", "--choice=a", "--fn=ok", "--str=z", NULL);
  ck_assert_int_eq(r.rc, EP_OPTS_OK);
  ck_assert(r.o.flag);
  ck_assert_str_eq(r.o.str, "z");
  ck_assert_uint_eq(r.o.list.n, 1);
  ck_assert_str_eq(r.o.list.v[0], "=");
  ck_assert_uint_eq(r.o.u16, 0);
  ck_assert_uint_eq(r.o.num, 1);
  ck_assert(r.o.big == 0);
  ck_assert_int_eq(r.o.dur, 250);
  ck_assert_int_eq(r.o.dur0, 10000);
  ck_assert_uint_eq(r.o.ports.n, 1);
  ck_assert_uint_eq(r.o.ports.v[0], 1);
  ck_assert_uint_eq(r.o.pnone.n, 0);
  ck_assert_uint_eq(r.o.choice, 0);
  ck_assert_str_eq(r.o.fn_value, "ok");
  ep_opt_list_free(&r.o.list);
  parse(&r, "--str=a=b", NULL);
  ck_assert_str_eq(r.o.str, "a=b");
}
END_TEST

START_TEST(unknown_option) {
  t_run_t r;
  parse(&r, "--flag", "--foo", NULL);
  expect_error(&r, "exitprobe t: unknown option '--foo' (see exitprobe t --help)\n");
  parse(&r, "--foo=1", NULL);
  expect_error(&r, "exitprobe t: unknown option '--foo=1' (see exitprobe t --help)\n");
  parse(&r, "-x", NULL);
  expect_error(&r, "exitprobe t: unknown option '-x' (see exitprobe t --help)\n");
  parse(&r, "-fh", NULL);
  expect_error(&r, "exitprobe t: unknown option '-fh' (see exitprobe t --help)\n");
  parse(&r, "--fla", NULL);  /* no abbreviations */
  expect_error(&r, "exitprobe t: unknown option '--fla' (see exitprobe t --help)\n");
  parse(&r, "--flag=yes", NULL);
  expect_error(&r, "exitprobe t: --flag takes no value (got '--flag=yes') (see exitprobe t --help)\n");
}
END_TEST

START_TEST(missing_value) {
  t_run_t r;
  parse(&r, "--str", NULL);
  expect_error(&r, "exitprobe t: --str wants a value (see exitprobe t --help)\n");
  parse(&r, "--flag", "--num", NULL);
  expect_error(&r, "exitprobe t: --num wants a value (see exitprobe t --help)\n");
  /* an empty string is no value either (an empty $(...) in a script) */
  parse(&r, "--str", "", NULL);
  expect_error(&r, "exitprobe t: --str wants a value, not an empty string (got '')\n");
  parse(&r, "--list=", NULL);
  expect_error(&r, "exitprobe t: --list wants a value, not an empty string (got '')\n");
}
END_TEST

START_TEST(malformed_number) {
  t_run_t r;
  const char *bad[] = {"", "x", "1x", "-1", "+1", " 1", "0x5", "1.0"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    parse(&r, "--num", bad[i], NULL);
    char want[128];
    snprintf(want, sizeof want, "exitprobe t: --num wants a number 1..10 (got '%s')\n", bad[i]);
    expect_error(&r, want);
  }
  parse(&r, "--dur", "10 s", NULL);
  expect_error(&r, "exitprobe t: --dur wants a duration like 250ms, 10s, 5m or 1h30m (got '10 s')\n");
  parse(&r, "--dur0", "soon", NULL);
  expect_error(&r,
               "exitprobe t: --dur0 wants a duration like 0s, 250ms, 10s, 5m or 1h30m (got 'soon')\n");
  parse(&r, "--choice", "d", NULL);
  expect_error(&r, "exitprobe t: --choice wants a, b or c (got 'd')\n");
  parse(&r, "--fn", "bad", NULL);
  expect_error(&r, "exitprobe t: --fn wants ok (got 'bad')\n");
  parse(&r, "--fn=msg", NULL);
  expect_error(&r, "exitprobe t: --fn msg: the reason\n");
}
END_TEST

START_TEST(out_of_range) {
  t_run_t r;
  parse(&r, "--num", "0", NULL);
  expect_error(&r, "exitprobe t: --num wants a number 1..10 (got '0')\n");
  parse(&r, "--num=11", NULL);
  expect_error(&r, "exitprobe t: --num wants a number 1..10 (got '11')\n");
  parse(&r, "--u16", "65536", NULL);
  expect_error(&r, "exitprobe t: --u16 wants a number 0..65535 (got '65536')\n");
  parse(&r, "--num", "99999999999999999999999", NULL);
  expect_error(&r, "exitprobe t: --num wants a number 1..10 (got '99999999999999999999999')\n");
  parse(&r, "--big", "18446744073709551616", NULL);
  expect_error(&r, "exitprobe t: --big wants a number 0..18446744073709551615 "
                   "(got '18446744073709551616')\n");
  parse(&r, "--dur", "0ms", NULL);
  expect_error(&r, "exitprobe t: --dur wants a duration like 250ms, 10s, 5m or 1h30m (got '0ms')\n");
}
END_TEST

/* Every value in bad is an error: "exitprobe t: OPT wants WANT (got 'VALUE')". */
static void expect_bad_values(const char *opt, const char *want, const char *const *bad, size_t n) {
  t_run_t r;
  for (size_t i = 0; i < n; i++) {
    parse(&r, opt, bad[i], NULL);
    char msg[256];
    snprintf(msg, sizeof msg, "exitprobe t: %s wants %s (got '%s')\n", opt, want, bad[i]);
    expect_error(&r, msg);
  }
}

START_TEST(port_lists) {
  t_run_t r;
  const char *bad[] = {"", "0", "65536", ",1", "1,,2", "1 ", "1,2,3,4,5", "25,25", "none"};
  expect_bad_values("--ports", "distinct ports 1..65535 separated by commas, at most 4", bad,
                    sizeof bad / sizeof bad[0]);
  parse(&r, "--ports", "1,2,", NULL);  /* a trailing comma was always fine */
  ck_assert_int_eq(r.rc, EP_OPTS_OK);
  ck_assert_uint_eq(r.o.ports.n, 2);
  parse(&r, "--ports", "1,2,3,65535", "--pnone", "7,7,7", NULL);
  ck_assert_int_eq(r.rc, EP_OPTS_OK);
  ck_assert_uint_eq(r.o.ports.n, 4);
  ck_assert_uint_eq(r.o.ports.v[3], 65535);
  ck_assert_uint_eq(r.o.pnone.n, 3);
  parse(&r, "--pnone", "1,2,3,4", NULL);
  expect_error(&r, "exitprobe t: --pnone wants ports 1..65535 separated by commas, at most 3, or "
                   "none (got '1,2,3,4')\n");
}
END_TEST

/* --port smtp,submissions,https and --port common,8080 (issue #11). */
START_TEST(port_names_and_common) {
  t_run_t r;
  parse(&r, "--pnames", "smtp,submissions,https", NULL);
  ck_assert_int_eq(r.rc, EP_OPTS_OK);
  ck_assert_uint_eq(r.o.pnames.n, 3);
  ck_assert_uint_eq(r.o.pnames.v[0], 25);
  ck_assert_uint_eq(r.o.pnames.v[1], 465);
  ck_assert_uint_eq(r.o.pnames.v[2], 443);
  parse(&r, "--pnames", "common,8080", NULL);
  ck_assert_int_eq(r.rc, EP_OPTS_OK);
  const uint16_t *common;
  size_t n = ep_svc_common_ports(&common);
  ck_assert_uint_eq(n, 15);
  ck_assert_uint_eq(r.o.pnames.n, n + 1);
  for (size_t i = 0; i < n; i++) {
    ck_assert_uint_eq(r.o.pnames.v[i], common[i]);
  }
  ck_assert_uint_eq(r.o.pnames.v[n], 8080);
  /* A name inside the preset is kept once; numbers still are numbers. */
  parse(&r, "--pnames", "25,common,smtp", NULL);
  ck_assert_int_eq(r.rc, EP_OPTS_OK);
  ck_assert_uint_eq(r.o.pnames.n, n);
  ck_assert_uint_eq(r.o.pnames.v[0], 25);
  const char *bad[] = {"nosuchservice", "smtp,,https", "common,1,2,3", "", "0", "smtp x",
                       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
  expect_bad_values("--pnames",
                    "distinct ports 1..65535, service names or common separated by commas, at most 17",
                    bad, sizeof bad / sizeof bad[0]);
  /* Without EP_OPTF_NAMES a name is an error, as before. */
  parse(&r, "--ports", "smtp", NULL);
  ck_assert_int_eq(r.rc, EP_OPTS_USAGE);
}
END_TEST

START_TEST(service_overrides) {
  t_run_t r;
  parse(&r, "--svc", "8443=https", "--svc=2525=smtp", "--svc", "8443=tcp", NULL);
  ck_assert_int_eq(r.rc, EP_OPTS_OK);
  ck_assert_uint_eq(r.o.svcs.n, 2);
  ck_assert_uint_eq(r.o.svcs.port[0], 8443);
  ck_assert_str_eq(ep_svc_name(r.o.svcs.spec[0]), "tcp"); /* the last for a port wins */
  ck_assert_uint_eq(r.o.svcs.port[1], 2525);
  ck_assert_str_eq(ep_svc_name(r.o.svcs.spec[1]), "smtp");
  ck_assert(!r.o.svcs.spec[1].tls);
  parse(&r, "--svc", "443=https", NULL);
  ck_assert(r.o.svcs.spec[0].tls);
  const char *bad[] = {"8443", "=https", "0=https", "70000=https", "8443=nosuch", "8443=", "x=smtp"};
  expect_bad_values("--svc", "PORT=SERVICE (a port 1..65535, a service like smtp, https, tcp)", bad,
                    sizeof bad / sizeof bad[0]);
  parse(&r, "--svc", "1=smtp", "--svc", "2=smtp", "--svc", "3=smtp", NULL);
  expect_error(&r, "exitprobe t: --svc wants PORT=SERVICE for at most 2 ports (got '3=smtp')\n");
}
END_TEST

START_TEST(repeated_option) {
  t_run_t r;
  parse(&r, "--str", "a", "--num", "3", "--str=b", "--num", "4", "--flag", "--flag", NULL);
  ck_assert_int_eq(r.rc, EP_OPTS_OK);
  ck_assert_str_eq(r.o.str, "b");  /* the last one wins */
  ck_assert_uint_eq(r.o.num, 4);
  ck_assert(r.o.flag);
  parse(&r, "--list", "a", "--list=b", "--list", "c", NULL);
  ck_assert_int_eq(r.rc, EP_OPTS_OK);
  ck_assert_uint_eq(r.o.list.n, 3);  /* a list appends, in order */
  ck_assert_str_eq(r.o.list.v[0], "a");
  ck_assert_str_eq(r.o.list.v[1], "b");
  ck_assert_str_eq(r.o.list.v[2], "c");
  ep_opt_list_free(&r.o.list);
  parse(&r, "--list", "a", "--list=b", "--list", "c", "--list", "d", NULL);
  expect_error(&r, "exitprobe t: --list given more than 3 times\n");
}
END_TEST

START_TEST(operands) {
  t_run_t r;
  parse(&r, "one", "--flag", "-", NULL);
  ck_assert_int_eq(r.rc, EP_OPTS_OK);
  ck_assert_uint_eq(r.n_operands, 2);
  ck_assert_str_eq(r.argv[1], "one");
  ck_assert_str_eq(r.argv[2], "-");
  ck_assert(r.o.flag);
  parse(&r, "--", "--flag", NULL);  /* "--" ends the options */
  ck_assert_int_eq(r.rc, EP_OPTS_OK);
  ck_assert_uint_eq(r.n_operands, 1);
  ck_assert_str_eq(r.argv[1], "--flag");
  ck_assert(!r.o.flag);
  parse(&r, "a", "b", "c", NULL);
  expect_error(&r, "exitprobe t: unexpected argument 'c' (see exitprobe t --help)\n");
}
END_TEST

START_TEST(help_from_the_table) {
  const char *text = "Usage: exitprobe t [OPTIONS]\n\n"
                     "  -f, --flag  a flag\n"
                     "  --str S     a string\n"
                     "Numbers:\n"
                     "  -h, --help  this help\n"
                     "\nThe end.\n";
  t_run_t r;
  parse(&r, "--flag", "-h", "--foo", NULL);  /* stops at the help */
  ck_assert_int_eq(r.rc, EP_OPTS_HELP);
  ck_assert_int_eq(ep_opts_exit_status(r.rc), 0);
  ck_assert_str_eq(r.out, text);
  ck_assert_str_eq(r.err, "");
  parse(&r, "--help", NULL);
  ck_assert_int_eq(r.rc, EP_OPTS_HELP);
  ck_assert_str_eq(r.out, text);
  parse(&r, "--foo", "--help", NULL);  /* an error before it wins */
  ck_assert_int_eq(r.rc, EP_OPTS_USAGE);
  ck_assert_str_eq(r.out, "");
  parse(&r, "--str", "--help", NULL);  /* a value, not the option */
  ck_assert_int_eq(r.rc, EP_OPTS_OK);
  ck_assert_str_eq(r.o.str, "--help");
  parse(&r, "--TEXT", NULL);
  ck_assert_int_eq(r.rc, EP_OPTS_USAGE);
}
END_TEST

static Suite *opts_suite(void) {
  Suite *s = suite_create("opts");
  TCase *tc = tcase_create("parse");
  tcase_add_test(tc, every_kind_separate_value);
  tcase_add_test(tc, every_kind_equals_value);
  tcase_add_test(tc, unknown_option);
  tcase_add_test(tc, missing_value);
  tcase_add_test(tc, malformed_number);
  tcase_add_test(tc, out_of_range);
  tcase_add_test(tc, port_lists);
  tcase_add_test(tc, port_names_and_common);
  tcase_add_test(tc, service_overrides);
  tcase_add_test(tc, repeated_option);
  tcase_add_test(tc, operands);
  tcase_add_test(tc, help_from_the_table);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_suite(opts_suite()); }
