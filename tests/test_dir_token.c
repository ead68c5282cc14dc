/* exitprobe — unit tests of src/dir/token: the directory-document tokenizer. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dir/consensus.h"
#include "dir/token.h"
#include "lib/caps.h"
#include "lib/encode.h"
#include "testutil.h"

enum { T_R, T_S, T_SIG, T_END, T_ONCE };

#define R(kw, id, mn, mx, amin, amax, obj, pos) \
  { EP_DIR_KW(kw), id, mn, mx, amin, amax, EP_DIR_OBJ_##obj, EP_DIR_POS_##pos }
static const ep_dir_rule_t rules[] = {
  R("r", T_R, 1, 1, 8, EP_DIR_MANY, FORBIDDEN, START),
  R("s", T_S, 0, 1, 0, EP_DIR_MANY, FORBIDDEN, ANY),
  R("sig", T_SIG, 0, 1, 0, 0, REQUIRED, ANY),
  R("end", T_END, 0, 1, 0, 1, OPTIONAL, END),
  R("once", T_ONCE, 1, 1, 1, 2, FORBIDDEN, ANY),
};
#undef R

/* Lex all of text; returns the number of items or a negative status. */
static int lex_all(const char *text, ep_dir_tok_t *toks, int max, unsigned flags, ep_err_t *err) {
  ep_dir_lexer_t lx;
  ep_dir_lexer_init(&lx, text, strlen(text), "doc", flags);
  int n = 0;
  for (;;) {
    ep_dir_tok_t t;
    int rc = ep_dir_next(&lx, &t, err);
    if (rc < 0) {
      return rc;
    }
    if (rc == 0) {
      return n;
    }
    if (n < max) {
      toks[n] = t;
    }
    n++;
  }
}

/* Run text through the rule table as one section. */
static int check_section(const char *text, ep_err_t *err) {
  ep_dir_lexer_t lx;
  ep_dir_lexer_init(&lx, text, strlen(text), "consensus", 0);
  ep_dir_sec_t sec;
  ep_dir_sec_init(&sec, "consensus", "router entry", rules, EP_DIR_NRULES(rules));
  for (;;) {
    ep_dir_tok_t t;
    int rc = ep_dir_next(&lx, &t, err);
    if (rc < 0) {
      return rc;
    }
    if (rc == 0) {
      return ep_dir_sec_finish(&sec, lx.lineno, err);
    }
    if ((rc = ep_dir_match("consensus", rules, EP_DIR_NRULES(rules), &t, err)) < 0 ||
        (rc = ep_dir_sec_add(&sec, &t, err)) < 0) {
      return rc;
    }
  }
}

START_TEST(items_arguments_and_objects) {
  const char *text =
      "alpha one  two\tthree\n"
      "\n"
      "beta\n"
      "-----BEGIN RSA PUBLIC KEY-----\n"
      "AAEC\n"
      "Aw==\n"
      "-----END RSA PUBLIC KEY-----\n"
      "gamma-1 x   \n";
  ep_dir_tok_t t[4];
  ep_err_t err = {0};
  ck_assert_int_eq(lex_all(text, t, 4, 0, &err), 3);
  ck_assert(ep_dir_tok_is(&t[0], "alpha"));
  ck_assert_uint_eq(t[0].lineno, 1);
  ck_assert_uint_eq(t[0].argstr_len, strlen("one  two\tthree"));
  ck_assert_uint_eq(ep_dir_tok_count_args(&t[0]), 3);
  /* nothing split until asked */
  ck_assert_uint_eq(t[0].nargs, 0);
  ep_dir_tok_split(&t[0], 2);
  ck_assert_uint_eq(t[0].nargs, 2);
  ck_assert(t[0].more_args);
  ck_assert(ep_dir_arg_eq(&t[0], 1, "two"));
  ep_dir_tok_split(&t[0], 5);
  ck_assert_uint_eq(t[0].nargs, 3);
  ck_assert(!t[0].more_args);
  ck_assert(ep_dir_arg_eq(&t[0], 2, "three"));

  ck_assert(ep_dir_tok_is(&t[1], "beta"));
  ck_assert_uint_eq(t[1].lineno, 3);
  ck_assert(t[1].has_obj);
  uint8_t out[8];
  ck_assert_int_eq(ep_dir_obj_decode("doc", &t[1], "RSA PUBLIC KEY", out, sizeof out, &err), 4);
  ck_assert_mem_eq(out, "\x00\x01\x02\x03", 4);
  ck_assert_int_lt(ep_dir_obj_decode("doc", &t[1], "SIGNATURE", out, sizeof out, &err), 0);
  ck_assert_str_eq(err.msg, "doc line 3: object is 'RSA PUBLIC KEY', wanted 'SIGNATURE'");
  ck_assert_int_lt(ep_dir_obj_decode("doc", &t[1], NULL, out, 2, &err), 0);
  /* Checking without decoding: same answers, same errors. */
  ck_assert_int_eq(ep_dir_obj_check("doc", &t[1], "RSA PUBLIC KEY", sizeof out, &err), 4);
  ck_assert_int_eq(ep_dir_obj_check("doc", &t[1], NULL, 6, &err), 4);
  ck_assert_int_lt(ep_dir_obj_check("doc", &t[1], "SIGNATURE", sizeof out, &err), 0);
  ck_assert_str_eq(err.msg, "doc line 3: object is 'RSA PUBLIC KEY', wanted 'SIGNATURE'");
  /* the size check counts whole quanta (2 here: up to 6 bytes), as decoding does */
  ck_assert_int_eq(ep_dir_obj_decode("doc", &t[1], NULL, out, 5, &err), EP_ERR_LIMIT);
  ck_assert_int_eq(ep_dir_obj_check("doc", &t[1], NULL, 5, &err), EP_ERR_LIMIT);
  ck_assert_str_eq(err.msg, "doc line 3: object too large (9 bytes, at most 5)");
  ck_assert_int_eq(ep_dir_obj_check("doc", &t[0], NULL, 8, &err), EP_ERR_MALFORMED);
  ck_assert_str_eq(err.msg, "doc line 1: 'alpha' has no object");

  ck_assert(ep_dir_tok_is(&t[2], "gamma-1"));
  ck_assert_uint_eq(t[2].lineno, 8);
  ck_assert_uint_eq(t[2].argstr_len, 1); /* trailing blanks cut */
  ck_assert_uint_eq(t[2].end_offset, strlen(text));
}
END_TEST

/* Objects the lexer accepts (alphabet only) but that are not valid base64:
 * the check-only path must refuse every one, as decoding does. */
START_TEST(object_check_rejects_bad_base64) {
  static const char *bodies[] = {
    "AA==AA==\n",          /* data after padding */
    "AAAAA\n",             /* a lone character */
    "AB==\n",              /* non-zero trailing bits */
    "AAA==\n",             /* too much padding */
    "AA=\n",               /* incomplete padding */
    "=\n",
    "AAAA\nA\n",           /* a lone character on its own line */
  };
  for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
    char text[256];
    snprintf(text, sizeof text, "k\n-----BEGIN X-----\n%s-----END X-----\n", bodies[i]);
    ep_dir_tok_t t[1];
    ep_err_t err = {0};
    ck_assert_int_eq(lex_all(text, t, 1, 0, &err), 1);
    uint8_t out[64];
    ck_assert_int_eq(ep_dir_obj_decode("doc", &t[0], "X", out, sizeof out, &err), EP_ERR_MALFORMED);
    ck_assert_str_eq(err.msg, "doc line 1: object is not valid base64");
    ep_err_t err2 = {0};
    ck_assert_int_eq(ep_dir_obj_check("doc", &t[0], "X", sizeof out, &err2), EP_ERR_MALFORMED);
    ck_assert_str_eq(err2.msg, err.msg);
  }
}
END_TEST

START_TEST(lexer_errors_name_the_line) {
  ep_dir_tok_t t[4];
  ep_err_t err = {0};
  ck_assert_int_eq(lex_all("a\nb", t, 4, 0, &err), EP_ERR_TRUNCATED);
  ck_assert_str_eq(err.msg, "doc line 2: no newline at the end (truncated?)");
  ck_assert_int_eq(lex_all("a\n b\n", t, 4, 0, &err), EP_ERR_MALFORMED);
  ck_assert_str_eq(err.msg, "doc line 2: line does not start with a keyword");
  ck_assert_int_eq(lex_all("a\nb!c x\n", t, 4, 0, &err), EP_ERR_MALFORMED);
  ck_assert_str_eq(err.msg, "doc line 2: bad character in keyword");
  ck_assert_int_eq(lex_all("-k\n", t, 4, 0, &err), EP_ERR_MALFORMED);
  ck_assert_int_eq(lex_all("a 3\r\n", t, 4, 0, &err), EP_ERR_MALFORMED);
  ck_assert_str_eq(err.msg, "doc line 1: CR before the newline (CRLF line endings?)");
  ck_assert_int_eq(lex_all("a\n-----BEGIN X-----\nAAAA\n", t, 4, 0, &err), EP_ERR_TRUNCATED);
  ck_assert_str_eq(err.msg, "doc line 2: object 'X' has no END line");
  ck_assert_int_eq(lex_all("a\n-----BEGIN X-----\nAAAA\n-----END Y-----\n", t, 4, 0, &err),
                   EP_ERR_MALFORMED);
  ck_assert_str_eq(err.msg, "doc line 4: object END line does not match BEGIN");
  ck_assert_int_eq(lex_all("a\n-----BEGIN X-----\nAA*A\n-----END X-----\n", t, 4, 0, &err),
                   EP_ERR_MALFORMED);
  ck_assert_int_eq(lex_all("a\n-----BEGIN X--\n", t, 4, 0, &err), EP_ERR_MALFORMED);
  ck_assert_int_eq(lex_all("-----BEGIN X-----\n-----END X-----\n", t, 4, 0, &err), EP_ERR_MALFORMED);
  ck_assert_str_eq(err.msg, "doc line 1: object without a keyword line");
  /* annotations only when allowed */
  ck_assert_int_eq(lex_all("@type x 1\n", t, 4, 0, &err), EP_ERR_MALFORMED);
  ck_assert_int_eq(lex_all("@type x 1\n", t, 4, EP_DIR_ANNOTATIONS_OK, &err), 1);
  ck_assert_int_eq(t[0].id, EP_DIR_KW_ANNOTATION);
  /* "opt" prefix */
  ck_assert_int_eq(lex_all("opt protocols Link 1 2\n", t, 4, 0, &err), 1);
  ck_assert(ep_dir_tok_is(&t[0], "protocols"));
  ck_assert_uint_eq(ep_dir_tok_count_args(&t[0]), 3);
  /* NUL byte */
  const char nul[] = "a b\0c\n";
  ep_dir_lexer_t lx;
  ep_dir_lexer_init(&lx, nul, sizeof nul - 1, "doc", 0);
  ck_assert_int_eq(ep_dir_next(&lx, &t[0], &err), EP_ERR_MALFORMED);
  ck_assert_str_eq(err.msg, "doc line 1: NUL byte in line");
  /* The document is scanned for NUL once; the error still names the NUL's
   * own line, after the lines before it were read, whether it is in a
   * keyword line, an object line or the last byte before a newline. */
  const char nul2[] = "a 1\nb 2\nc\0\nd\n";
  ep_dir_lexer_init(&lx, nul2, sizeof nul2 - 1, "doc", 0);
  ck_assert_int_eq(ep_dir_next(&lx, &t[0], &err), 1);
  ck_assert_int_eq(ep_dir_next(&lx, &t[0], &err), 1);
  ck_assert_int_eq(ep_dir_next(&lx, &t[0], &err), EP_ERR_MALFORMED);
  ck_assert_str_eq(err.msg, "doc line 3: NUL byte in line");
  const char nul3[] = "k\n-----BEGIN X-----\nAAAA\nAA\0A\n-----END X-----\n";
  ep_dir_lexer_init(&lx, nul3, sizeof nul3 - 1, "doc", 0);
  ck_assert_int_eq(ep_dir_next(&lx, &t[0], &err), EP_ERR_MALFORMED);
  ck_assert_str_eq(err.msg, "doc line 4: NUL byte in line");
  /* an earlier error is still reported first */
  const char nul4[] = "a 1\n!bad\nc\0\n";
  ep_dir_lexer_init(&lx, nul4, sizeof nul4 - 1, "doc", 0);
  ck_assert_int_eq(ep_dir_next(&lx, &t[0], &err), 1);
  ck_assert_int_eq(ep_dir_next(&lx, &t[0], &err), EP_ERR_MALFORMED);
  ck_assert_str_eq(err.msg, "doc line 2: line does not start with a keyword");
  /* a NUL in a line that a seek skips is not this reading's; one after is */
  const char nul5[] = "a\0\nb 1\nc\0\n";
  ep_dir_lexer_init(&lx, nul5, sizeof nul5 - 1, "doc", 0);
  ep_dir_lexer_seek(&lx, 3, 2);
  ck_assert_int_eq(ep_dir_next(&lx, &t[0], &err), 1);
  ck_assert(ep_dir_tok_is(&t[0], "b"));
  ck_assert_int_eq(ep_dir_next(&lx, &t[0], &err), EP_ERR_MALFORMED);
  ck_assert_str_eq(err.msg, "doc line 3: NUL byte in line");
  ep_dir_lexer_seek(&lx, 0, 1);
  ck_assert_int_eq(ep_dir_next(&lx, &t[0], &err), EP_ERR_MALFORMED);
  ck_assert_str_eq(err.msg, "doc line 1: NUL byte in line");
}
END_TEST

START_TEST(lexer_caps_lines_and_objects) {
  ep_err_t err = {0};
  ep_dir_tok_t t;
  ep_dir_lexer_t lx;
  size_t n = (size_t)EP_CAP_DOC_LINE + 10;
  char *big = malloc(n + 1);
  ck_assert_ptr_nonnull(big);
  memset(big, 'a', n);
  big[n] = '\n';
  ep_dir_lexer_init(&lx, big, n + 1, "doc", 0);
  ck_assert_int_eq(ep_dir_next(&lx, &t, &err), EP_ERR_LIMIT);
  free(big);
  /* an object of more than EP_CAP_DOC_OBJECT bytes */
  size_t lines = (size_t)EP_CAP_DOC_OBJECT / 48 + 4;
  size_t cap = 64 + lines * 65;
  char *obj = malloc(cap);
  ck_assert_ptr_nonnull(obj);
  size_t pos = (size_t)snprintf(obj, cap, "k\n-----BEGIN X-----\n");
  for (size_t i = 0; i < lines; i++) {
    memset(obj + pos, 'A', 64);
    obj[pos + 64] = '\n';
    pos += 65;
  }
  pos += (size_t)snprintf(obj + pos, cap - pos, "-----END X-----\n");
  ep_dir_lexer_init(&lx, obj, pos, "doc", 0);
  ck_assert_int_eq(ep_dir_next(&lx, &t, &err), EP_ERR_LIMIT);
  ck_assert_ptr_nonnull(strstr(err.msg, "EP_CAP_DOC_OBJECT"));
  free(obj);
}
END_TEST

START_TEST(rules_check_arguments_objects_and_counts) {
  ep_err_t err = {0};
  ck_assert_int_eq(check_section("r 1 2 3 4 5 6 7 8\nonce a\n", &err), 0);
  ck_assert_int_eq(check_section("r a b c\nonce a\n", &err), EP_ERR_MALFORMED);
  ck_assert_str_eq(err.msg, "consensus line 1: 'r' wants at least 8 arguments, has 3");
  ck_assert_int_eq(check_section("r 1 2 3 4 5 6 7 8\nonce a b c d\n", &err), EP_ERR_MALFORMED);
  ck_assert_str_eq(err.msg, "consensus line 2: 'once' wants at most 2 arguments, has 4");
  ck_assert_int_eq(check_section("r 1 2 3 4 5 6 7 8\nonce\n", &err), EP_ERR_MALFORMED);
  ck_assert_str_eq(err.msg, "consensus line 2: 'once' wants at least 1 argument, has 0");
  ck_assert_int_eq(check_section("r 1 2 3 4 5 6 7 8\n", &err), EP_ERR_MALFORMED);
  ck_assert_str_eq(err.msg, "consensus line 1: the router entry has no 'once' item");
  ck_assert_int_eq(check_section("r 1 2 3 4 5 6 7 8\nonce a\nonce b\n", &err), EP_ERR_MALFORMED);
  ck_assert_str_eq(err.msg, "consensus line 3: 'once' may appear only once in the router entry");
  ck_assert_int_eq(check_section("once a\nr 1 2 3 4 5 6 7 8\n", &err), EP_ERR_MALFORMED);
  ck_assert_str_eq(err.msg, "consensus line 1: the router entry must start with 'r', not 'once'");
  ck_assert_int_eq(check_section("r 1 2 3 4 5 6 7 8\nonce a\nsig\n", &err), EP_ERR_MALFORMED);
  ck_assert_str_eq(err.msg, "consensus line 3: 'sig' wants an object");
  ck_assert_int_eq(check_section("r 1 2 3 4 5 6 7 8\nonce a\ns\n-----BEGIN A-----\n-----END A-----\n",
                                 &err), EP_ERR_MALFORMED);
  ck_assert_str_eq(err.msg, "consensus line 3: 's' takes no object");
  ck_assert_int_eq(check_section("r 1 2 3 4 5 6 7 8\nonce a\nend\ns\n", &err), EP_ERR_MALFORMED);
  ck_assert_str_eq(err.msg, "consensus line 4: 's' after the item that must be last");
  /* unknown keywords are ignored, objects and all */
  ck_assert_int_eq(check_section("r 1 2 3 4 5 6 7 8\nx-new 1\n-----BEGIN Q-----\n-----END Q-----\n"
                                 "once a\nend\n", &err), 0);
}
END_TEST

START_TEST(argument_helpers) {
  ep_dir_tok_t t;
  ep_err_t err = {0};
  ck_assert_int_eq(lex_all("t 2022-11-19 10:00:00 1970-01-01 00:00:00 2022-02-29 00:00:00\n", &t, 1, 0,
                           &err), 1);
  ep_dir_tok_split(&t, 6);
  time_t tm;
  ck_assert_int_eq(ep_dir_arg_time(&t, 0, &tm), 0);
  ck_assert_int_eq((long long)tm, 1668852000LL);
  ck_assert_int_eq(ep_dir_arg_time(&t, 2, &tm), 0);
  ck_assert_int_eq((long long)tm, 0);
  ck_assert_int_eq(ep_dir_arg_time(&t, 4, &tm), -1); /* not a leap year */
  ck_assert_int_eq(ep_dir_arg_time(&t, 1, &tm), -1);
  ck_assert_int_eq(ep_dir_arg_time(&t, 5, &tm), -1); /* no second half */

  ck_assert_int_eq(lex_all("h 00ff10 AAoQ1DAR6kkoo19hBAX5K0QztNw AAoQ1DAR6kkoo19hBAX5K0QztNw= AAoQ1DAR6kkoo19hBAX5K0QztNx 0h\n",
                           &t, 1, 0, &err), 1);
  ep_dir_tok_split(&t, 6);
  uint8_t b[20];
  ck_assert_int_eq(ep_dir_arg_hex(&t, 0, b, 3), 0);
  ck_assert_mem_eq(b, "\x00\xff\x10", 3);
  ck_assert_int_eq(ep_dir_arg_hex(&t, 0, b, 2), -1);
  ck_assert_int_eq(ep_dir_arg_b64(&t, 1, b, 20), 0);
  ck_assert_mem_eq(b, "\x00\x0a\x10\xd4\x30\x11\xea\x49\x28\xa3\x5f\x61\x04\x05\xf9\x2b\x44\x33\xb4\xdc", 20);
  ck_assert_int_eq(ep_dir_arg_b64(&t, 2, b, 20), 0);  /* padded form too */
  ck_assert_int_eq(ep_dir_arg_b64(&t, 3, b, 20), -1); /* non-canonical last char */
  ck_assert_int_eq(ep_dir_arg_b64(&t, 4, b, 1), -1);
  ck_assert_int_eq(ep_dir_arg_b64(&t, 1, b, 19), -1);

  uint32_t v4;
  ck_assert_int_eq(ep_dir_parse_ipv4("104.53.221.159", 14, &v4), 0);
  ck_assert_uint_eq(v4, 0x6835dd9fu);
  ck_assert_int_eq(ep_dir_parse_ipv4("1.2.3", 5, &v4), -1);
  ck_assert_int_eq(ep_dir_parse_ipv4("1.2.3.256", 9, &v4), -1);
  ck_assert_int_eq(ep_dir_parse_ipv4("01.2.3.4", 8, &v4), -1);
  ck_assert_int_eq(ep_dir_parse_ipv4("1.2.3.4 ", 8, &v4), -1);
  int fam;
  uint8_t a[16];
  uint16_t port;
  ck_assert_int_eq(ep_dir_parse_addrport("[2a02:16a8:662:2203::1]:443", 27, &fam, a, &port), 0);
  ck_assert_int_eq(fam, 6);
  ck_assert_uint_eq(port, 443);
  ck_assert_uint_eq(a[0], 0x2a);
  ck_assert_uint_eq(a[15], 1);
  ck_assert_int_eq(ep_dir_parse_addrport("127.0.0.1:7000", 14, &fam, a, &port), 0);
  ck_assert_int_eq(fam, 4);
  ck_assert_int_eq(ep_dir_parse_addrport("127.0.0.1:0", 11, &fam, a, &port), -1);
  ck_assert_int_eq(ep_dir_parse_addrport("[::1]443", 8, &fam, a, &port), -1);
  ck_assert_int_eq(ep_dir_parse_addrport("[zz::1]:443", 11, &fam, a, &port), -1);
  ck_assert(ep_dir_nickname_ok("moria1", 6));
  ck_assert(!ep_dir_nickname_ok("a-b", 3));
  ck_assert(!ep_dir_nickname_ok("abcdefghijklmnopqrst", 20));
  uint64_t u;
  ck_assert_int_eq(ep_dir_parse_uint("65535", 5, 65535, &u), 0);
  ck_assert_int_eq(ep_dir_parse_uint("65536", 5, 65535, &u), -1);
  ck_assert_int_eq(ep_dir_parse_uint("18446744073709551616", 20, UINT64_MAX, &u), -1);
}
END_TEST

/* What ep_dir_arg_b64 must do, written with the general decoder: the
 * argument is the unpadded encoding of exactly n bytes, or the padded one
 * ending in '='; characters outside the alphabet (whitespace included),
 * a lone last character and non-zero trailing bits are refused. */
static int ref_arg_b64(const char *s, size_t l, uint8_t *out, size_t n) {
  size_t want = (n * 4 + 2) / 3, padded = (n + 2) / 3 * 4;
  if (l == padded && padded != want) {
    for (size_t j = want; j < padded; j++) {
      if (s[j] != '=') {
        return -1;
      }
    }
    l = want;
  }
  if (l != want || memchr(s, '=', l) != NULL) {
    return -1;
  }
  for (size_t j = 0; j < l; j++) {
    if (s[j] == ' ' || s[j] == '\t' || s[j] == '\r' || s[j] == '\n') {
      return -1;
    }
  }
  return ep_base64_decode(out, n, s, l) == (ssize_t)n ? 0 : -1;
}

static uint64_t xs64(uint64_t *st) {
  *st ^= *st >> 12;
  *st ^= *st << 25;
  *st ^= *st >> 27;
  return *st * 2685821657736338717ull;
}

/* The fixed-length argument decoder against the reference, on real
 * encodings (digests and keys: 20 and 32 bytes), their padded forms, and
 * mutations of both (any byte replaced, truncated, extended). */
START_TEST(arg_b64_matches_the_general_decoder) {
  static const char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  static const size_t sizes[] = {1, 2, 3, 4, 20, 32, 33};
  uint64_t st = 0x243f6a8885a308d3ull;
  size_t n_ok = 0, n_bad = 0;
  for (int iter = 0; iter < 100000; iter++) {
    size_t n = sizes[xs64(&st) % (sizeof sizes / sizeof sizes[0])];
    uint8_t plain[40];
    for (size_t i = 0; i < n; i++) {
      plain[i] = (uint8_t)xs64(&st);
    }
    char enc[64];
    ssize_t el = ep_base64_encode(enc, sizeof enc, plain, n,
                                  (xs64(&st) & 1) ? EP_B64_PAD : EP_B64_NOPAD);
    ck_assert_int_gt(el, 0);
    size_t l = (size_t)el;
    switch (xs64(&st) % 5) {
      case 0:
        break;
      case 1: /* one byte replaced by anything but a blank or newline */
      case 2: {
        uint8_t c;
        do {
          c = (uint8_t)xs64(&st);
          if (xs64(&st) & 1) {
            c = (uint8_t)alphabet[c % 64];
          }
        } while (c == ' ' || c == '\t' || c == '\n' || c == '\0');
        size_t at = xs64(&st) % l;
        if (c == '\r' && at == l - 1) {
          c = '!';   /* a CR before the newline is a lexer error, not ours */
        }
        enc[at] = (char)c;
        break;
      }
      case 3:
        l -= 1 + xs64(&st) % (l < 3 ? l : 3);
        break;
      default:
        enc[l++] = (xs64(&st) & 1) ? '=' : alphabet[xs64(&st) % 64];
        break;
    }
    if (l == 0) {
      continue;
    }
    char line[80];
    int ll = snprintf(line, sizeof line, "k %.*s\n", (int)l, enc);
    ck_assert_int_gt(ll, 0);
    ep_dir_tok_t t;
    ep_err_t err = {0};
    ck_assert_int_eq(lex_all(line, &t, 1, 0, &err), 1);
    ep_dir_tok_split(&t, 1);
    ck_assert_uint_eq(t.nargs, 1);
    uint8_t got[40], want[40];
    int g = ep_dir_arg_b64(&t, 0, got, n);
    int w = ref_arg_b64(t.args[0], t.arglen[0], want, n);
    if (g != w) {
      ck_abort_msg("'%.*s' n=%zu: got %d, reference %d", (int)t.arglen[0], t.args[0], n, g, w);
    }
    if (w == 0) {
      ck_assert_int_eq(memcmp(got, want, n), 0);
      n_ok++;
    } else {
      n_bad++;
    }
  }
  ck_assert_uint_gt(n_ok, 20000);
  ck_assert_uint_gt(n_bad, 20000);
}
END_TEST

/* The bounded IPv6 parser against inet_pton(AF_INET6) on NUL-terminated
 * copies: fixed cases, then random addresses in every textual form (with and
 * without "::", upper and lower case, leading zeros, a dotted-quad tail) and
 * random mutations of them (a character replaced, inserted, deleted; cut),
 * and random strings over the characters that matter. */
static void ipv6_same_as_inet_pton(const char *s, size_t n) {
  char buf[128];
  ck_assert_uint_lt(n, sizeof buf);
  memcpy(buf, s, n);
  buf[n] = '\0';
  uint8_t want[16], got[16];
  memset(got, 0xa5, sizeof got);
  int ref = inet_pton(AF_INET6, buf, want) == 1 ? 0 : -1;
  int rc = ep_dir_parse_ipv6(s, n, got);
  if (rc != ref) {
    ck_abort_msg("'%s': ep_dir_parse_ipv6 %d, inet_pton %d", buf, rc, ref);
  }
  if (rc == 0) {
    ck_assert_mem_eq(got, want, 16);
  }
}

static size_t random_ipv6_text(uint64_t *st, char *out, size_t cap) {
  uint16_t g[8];
  for (int j = 0; j < 8; j++) {
    uint64_t r = xs64(st);
    g[j] = (r & 3) == 0 ? 0 : (uint16_t)(r >> 8);
    if ((r & 0x30) == 0) {
      g[j] &= 0xff;
    }
  }
  bool v4 = (xs64(st) & 3) == 0;
  int ngroups = v4 ? 6 : 8;
  /* "::" over a random run of groups (or none) */
  int gs = -1, ge = -1;
  if (xs64(st) & 1) {
    gs = (int)(xs64(st) % (uint64_t)(ngroups + 1));
    ge = gs + (int)(xs64(st) % (uint64_t)(ngroups - gs + 1));
  }
  size_t n = 0;
  bool upper = (xs64(st) & 7) == 0, lead = (xs64(st) & 7) == 0;
  for (int j = 0; j < ngroups; j++) {
    if (gs >= 0 && j >= gs && j < ge) {
      if (j == gs) {
        n += (size_t)snprintf(out + n, cap - n, "::");
      }
      continue;
    }
    if (n > 0 && out[n - 1] != ':') {
      n += (size_t)snprintf(out + n, cap - n, ":");
    }
    n += (size_t)snprintf(out + n, cap - n, lead ? (upper ? "%04X" : "%04x") : (upper ? "%X" : "%x"),
                          (unsigned)g[j]);
  }
  if (gs >= 0 && ge == ngroups && gs == ngroups) {
    n += (size_t)snprintf(out + n, cap - n, "::");
  }
  if (v4) {
    if (n > 0 && out[n - 1] != ':') {
      n += (size_t)snprintf(out + n, cap - n, ":");
    }
    uint64_t r = xs64(st);
    n += (size_t)snprintf(out + n, cap - n, "%u.%u.%u.%u", (unsigned)(r & 0xff),
                          (unsigned)((r >> 8) & 0xff), (unsigned)((r >> 16) & 0xff),
                          (unsigned)((r >> 24) & 0xff));
  }
  return n;
}

START_TEST(ipv6_matches_inet_pton) {
  static const char *const fixed[] = {
      "::", "::1", "1::", "1::2", ":", ":::", "::::", "1:::2", "1::2::3", ":1::", "1:", "1::2:",
      "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8",
      "1:2:3:4:5:6:7::8", "::1:2:3:4:5:6:7:8", "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4",
      "::1.2.3.4", "::ffff:1.2.3.4", "::ffff:01.2.3.4", "::1.2.3.256", "::1.2.3", "::1.2.3.4.",
      "::1.2.3.4:5", "1.2.3.4", "::12345", "::01234", "0000:0000:0000:0000:0000:0000:0000:0001",
      "2a02:16a8:662:2203::1", "2A02:16A8:662:2203::1", "fe80::1%eth0", "[::1]", " ::1", "::1 ",
      "::g", "::.1.2.3", "::a.2.3.4", "1::2:1.2.3.4", "::ffff:0.0.0.0", "1:2:3:4:5:6:7:8::",
      "::0:0:0:0:0:0:0", "0:0:0:0:0:0:0::", "::1234:5678:9abc:def0:1234:5678:9abc",
  };
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
    ipv6_same_as_inet_pton(fixed[i], strlen(fixed[i]));
  }
  /* bounded: the bytes after n are never looked at */
  uint8_t a[16];
  ck_assert_int_eq(ep_dir_parse_ipv6("::1:2", 3, a), 0);
  ck_assert_uint_eq(a[15], 1);
  ck_assert_int_eq(ep_dir_parse_ipv6("::1", 0, a), -1);
  /* a NUL byte is foreign (inet_pton would stop there) */
  ck_assert_int_eq(ep_dir_parse_ipv6("::1\0", 4, a), -1);

  uint64_t st = 0x1badc0ffee15600dull;
  static const char alphabet[] = "0123456789abcdefABCDEFg:::::....";
  char s[96];
  for (int iter = 0; iter < 200000; iter++) {
    size_t n = random_ipv6_text(&st, s, 64);
    ipv6_same_as_inet_pton(s, n);
    uint64_t r = xs64(&st);
    size_t at = n > 0 ? (size_t)(r >> 8) % n : 0;
    char c = alphabet[(r >> 32) % (sizeof alphabet - 1)];
    switch (r & 3) {
      case 0: /* replace */
        if (n > 0) {
          s[at] = c;
        }
        break;
      case 1: /* insert */
        memmove(s + at + 1, s + at, n - at);
        s[at] = c;
        n++;
        break;
      case 2: /* delete */
        if (n > 0) {
          memmove(s + at, s + at + 1, n - at - 1);
          n--;
        }
        break;
      default: /* cut */
        n = at;
        break;
    }
    ipv6_same_as_inet_pton(s, n);
    /* random text over the characters that matter */
    size_t m = (size_t)(xs64(&st) % 48);
    for (size_t j = 0; j < m; j++) {
      s[j] = alphabet[xs64(&st) % (sizeof alphabet - 1)];
    }
    ipv6_same_as_inet_pton(s, m);
  }
}
END_TEST

START_TEST(protocol_lists) {
  const char *pr = "Cons=1-2 Desc=1-2 Link=1-5 LinkAuth=1,3 Relay=1-4";
  size_t n = strlen(pr);
  ck_assert(ep_dir_proto_supports(pr, n, "Link", 5));
  ck_assert(!ep_dir_proto_supports(pr, n, "Link", 6));
  ck_assert(ep_dir_proto_supports(pr, n, "LinkAuth", 3));
  ck_assert(!ep_dir_proto_supports(pr, n, "LinkAuth", 2));
  ck_assert(!ep_dir_proto_supports(pr, n, "Lin", 1));
  ck_assert(!ep_dir_proto_supports(pr, n, "FlowCtrl", 1));
  ck_assert(!ep_dir_proto_supports("Link=x", 6, "Link", 1));
}
END_TEST

static Suite *dir_token_suite(void) {
  Suite *s = suite_create("dir_token");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, items_arguments_and_objects);
  tcase_add_test(tc, object_check_rejects_bad_base64);
  tcase_add_test(tc, lexer_errors_name_the_line);
  tcase_add_test(tc, lexer_caps_lines_and_objects);
  tcase_add_test(tc, rules_check_arguments_objects_and_counts);
  tcase_add_test(tc, argument_helpers);
  tcase_add_test(tc, arg_b64_matches_the_general_decoder);
  tcase_add_test(tc, ipv6_matches_inet_pton);
  tcase_add_test(tc, protocol_lists);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_suite(dir_token_suite()); }
