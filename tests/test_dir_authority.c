/* exitprobe — unit tests of src/dir/authority: the built-in lists and
 * torrc-style DirAuthority / FallbackDir lines. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dir/authority.h"
#include "lib/encode.h"
#include "testutil.h"

static ep_dir_authset_t *parse_text(const char *t) {
  ep_err_t err = {0};
  ep_dir_authset_t *s = ep_dir_authset_parse(t, strlen(t), "torrc", &err);
  ck_assert_msg(s != NULL, "%s", err.msg);
  return s;
}

START_TEST(builtin_matches_the_text_lists) {
  /* The generated table equals what the run-time parser makes of the
   * lists it was generated from. */
  ep_err_t err = {0};
  ep_dir_authset_t *a = ep_dir_authset_load(tu_data_path("dir/authorities-tor-0.4.9.11.txt"), &err);
  ck_assert_msg(a != NULL, "%s", err.msg);
  ep_dir_authset_t *f = ep_dir_authset_load(tu_data_path("dir/fallback-dirs-tor-0.4.9.11.txt"), &err);
  ck_assert_msg(f != NULL, "%s", err.msg);
  const ep_dir_authset_t *b = ep_dir_authset_builtin();
  ck_assert_uint_eq(b->n_auth, 9);
  ck_assert_uint_eq(b->n_fallback, 200);
  ck_assert_uint_eq(a->n_auth, 9);
  ck_assert_uint_eq(a->n_fallback, 0);
  ck_assert_uint_eq(f->n_fallback, 200);
  for (size_t i = 0; i < 9; i++) {
    ck_assert_int_eq(memcmp(&a->auth[i], &b->auth[i], sizeof a->auth[i]), 0);
  }
  for (size_t i = 0; i < 200; i++) {
    ck_assert_int_eq(memcmp(&f->fallback[i], &b->fallback[i], sizeof f->fallback[i]), 0);
  }
  ck_assert_uint_eq(ep_dir_authset_n_v3(b), 9);
  const ep_dir_authority_t *m = &b->auth[0];
  ck_assert_str_eq(m->nickname, "moria1");
  ck_assert_uint_eq(m->or_port, 9201);
  ck_assert_uint_eq(m->dir_port, 9231);
  ck_assert_uint_eq(m->ipv4, 0x801f0027u);
  ck_assert(!m->has_ipv6);
  uint8_t v3[20];
  ck_assert_int_eq(ep_hex_decode(v3, 20, "F533C81CEF0BC0267857C99B2F471ADF249FA232", 40), 20);
  ck_assert_ptr_eq(ep_dir_authset_find_v3(b, v3), m);
  const ep_dir_authority_t *t26 = &b->auth[1];
  ck_assert(t26->has_ipv6);
  ck_assert_uint_eq(t26->ipv6_or_port, 443);
  ck_assert_uint_eq(t26->ipv6[0], 0x2a);
  ck_assert_uint_eq(t26->fingerprint[0], 0xfa);
  ck_assert_uint_eq(b->fallback[0].or_port, 443);
  ck_assert_uint_eq(b->fallback[0].dir_port, 0);
  ep_dir_authset_free(a);
  ep_dir_authset_free(f);
  ep_dir_authset_free((ep_dir_authset_t *)b); /* a no-op on the built-in set */
}
END_TEST

START_TEST(testnet_torrc) {
  ep_dir_authset_t *s = parse_text(
      "# a test network\n"
      "TestingTorNetwork 1\n"
      "DirAuthority auth1 orport=16001 no-v2 v3ident=ABCDEF0123456789ABCDEF0123456789ABCDEF01 127.0.0.1:16002 "
      "ABCD EF01 2345 6789 ABCD EF01 2345 6789 ABCD EF01\n"
      "DirAuthority orport=16011 bridge 127.0.0.1:16012 0000000000000000000000000000000000000001\n"
      "AlternateDirAuthority auth3 orport=1 v3ident=1111111111111111111111111111111111111111 "
      "ipv6=[::1]:16021 weight=5 10.0.0.1:2 2222222222222222222222222222222222222222\n"
      "FallbackDir 127.0.0.1:16002 orport=16001 id=ABCDEF0123456789ABCDEF0123456789ABCDEF01 weight=10\n"
      "SocksPort 0\n");
  ck_assert_uint_eq(s->n_auth, 3);
  ck_assert_uint_eq(s->n_fallback, 1);
  const ep_dir_authority_t *a = &s->auth[0];
  ck_assert_str_eq(a->nickname, "auth1");
  ck_assert(a->no_v2);
  ck_assert(a->has_v3ident);
  ck_assert_uint_eq(a->v3ident[0], 0xab);
  ck_assert_uint_eq(a->fingerprint[19], 0x01);
  ck_assert_uint_eq(a->or_port, 16001);
  ck_assert_uint_eq(a->dir_port, 16002);
  ck_assert_uint_eq(a->ipv4, 0x7f000001u);
  ck_assert_str_eq(s->auth[1].nickname, "");
  ck_assert(s->auth[1].bridge);
  ck_assert(s->auth[2].has_ipv6);
  ck_assert_uint_eq(s->auth[2].ipv6_or_port, 16021);
  ck_assert_uint_eq(ep_dir_authset_n_v3(s), 2); /* the bridge authority does not count */
  ck_assert_ptr_null(ep_dir_authset_find_v3(s, s->auth[1].v3ident));
  ck_assert_uint_eq(s->fallback[0].dir_port, 16002);
  ck_assert_uint_eq(s->fallback[0].or_port, 16001);
  ep_dir_authset_free(s);
}
END_TEST

START_TEST(bad_lines_name_the_line) {
  const char *bad[][2] = {
    {"DirAuthority a orport=1 v3ident=XYZ 1.2.3.4:80 0000000000000000000000000000000000000000\n",
     "torrc line 1: DirAuthority: bad v3ident"},
    {"\nDirAuthority a orport=1 1.2.3.4:80 00000000\n", "torrc line 2: DirAuthority: bad fingerprint (want 40 hex digits)"},
    {"DirAuthority a v3ident=1111111111111111111111111111111111111111 1.2.3.4:80 "
     "0000000000000000000000000000000000000000\n", "torrc line 1: DirAuthority: no orport="},
    {"DirAuthority a orport=1 1.2.3:80 0000000000000000000000000000000000000000\n",
     "torrc line 1: DirAuthority: bad address:dirport '1.2.3:80'"},
    {"DirAuthority a orport=99999 1.2.3.4:80 0000000000000000000000000000000000000000\n",
     "torrc line 1: DirAuthority: bad orport"},
    {"DirAuthority a orport=1\n", "torrc line 1: DirAuthority: no address:dirport"},
    {"DirAuthority bad-nick orport=1 1.2.3.4:80 0000000000000000000000000000000000000000\n",
     "torrc line 1: DirAuthority: bad nickname"},
    {"DirAuthority a orport=1 ipv6=1.2.3.4:5 1.2.3.4:80 0000000000000000000000000000000000000000\n",
     "torrc line 1: DirAuthority: bad ipv6= address"},
    {"FallbackDir 1.2.3.4 orport=1\n", "torrc line 1: FallbackDir: needs orport= and id="},
    {"FallbackDir 1.2.3.4:x orport=1 id=0000000000000000000000000000000000000000\n",
     "torrc line 1: FallbackDir: bad dirport"},
    {"SocksPort 0\n# nothing\n", "torrc: no DirAuthority or FallbackDir lines"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ep_err_t err = {0};
    ep_dir_authset_t *s = ep_dir_authset_parse(bad[i][0], strlen(bad[i][0]), "torrc", &err);
    ck_assert_msg(s == NULL, "accepted #%zu", i);
    ck_assert_msg(strncmp(err.msg, bad[i][1], strlen(bad[i][1])) == 0, "#%zu: got '%s', want '%s'", i, err.msg, bad[i][1]);
  }
  ep_err_t err = {0};
  ck_assert_ptr_null(ep_dir_authset_load("/nonexistent/torrc", &err));
  ck_assert_int_eq(err.code, EP_ERR_IO);
}
END_TEST

static Suite *dir_authority_suite(void) {
  Suite *s = suite_create("dir_authority");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, builtin_matches_the_text_lists);
  tcase_add_test(tc, testnet_torrc);
  tcase_add_test(tc, bad_lines_name_the_line);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_suite(dir_authority_suite()); }
