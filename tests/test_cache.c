/* exitprobe — unit tests of the on-disk cache. */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/caps.h"
#include "probe/dirclient/cache.h"
#include "testutil.h"

static char tmpdir[256];

static void setup(void) {
  const char *base = getenv("TMPDIR");
  snprintf(tmpdir, sizeof tmpdir, "%s/ep-cache-test-XXXXXX",
           base != NULL && base[0] == '/' ? base : "/tmp");
  ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void rm_tree(const char *path) {
  DIR *d = opendir(path);
  if (d == NULL) {
    unlink(path);
    return;
  }
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
      continue;
    }
    char sub[1024];
    snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
    rm_tree(sub);
  }
  closedir(d);
  rmdir(path);
}

static void teardown(void) { rm_tree(tmpdir); }

static int count_entries(const char *path) {
  DIR *d = opendir(path);
  ck_assert_ptr_nonnull(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
      n++;
    }
  }
  closedir(d);
  return n;
}

START_TEST(default_dir_follows_xdg_then_home) {
  char out[512];
  ep_err_t err = {0};
  setenv("XDG_CACHE_HOME", "/srv/cache", 1);
  setenv("HOME", "/home/u", 1);
  ck_assert_int_eq(ep_cache_default_dir(out, sizeof out, &err), EP_OK);
  ck_assert_str_eq(out, "/srv/cache/exitprobe");
  setenv("XDG_CACHE_HOME", "relative/ignored", 1);
  ck_assert_int_eq(ep_cache_default_dir(out, sizeof out, &err), EP_OK);
  ck_assert_str_eq(out, "/home/u/.cache/exitprobe");
  unsetenv("XDG_CACHE_HOME");
  ck_assert_int_eq(ep_cache_default_dir(out, sizeof out, &err), EP_OK);
  ck_assert_str_eq(out, "/home/u/.cache/exitprobe");
  ck_assert_int_eq(ep_cache_default_dir(out, 10, &err), EP_ERR_LIMIT);
  unsetenv("HOME");
  ck_assert_int_eq(ep_cache_default_dir(out, sizeof out, &err), EP_ERR_STATE);
  /* The default is used when no directory is given. */
  char xdg[300];
  snprintf(xdg, sizeof xdg, "%s/xdg", tmpdir);
  setenv("XDG_CACHE_HOME", xdg, 1);
  ep_cache_t *c = ep_cache_open(NULL, &err);
  ck_assert_msg(c != NULL, "%s", err.msg);
  char want[400];
  snprintf(want, sizeof want, "%s/xdg/exitprobe", tmpdir);
  ck_assert_str_eq(ep_cache_dir(c), want);
  ep_cache_free(c);
}
END_TEST

START_TEST(round_trip_and_replace) {
  char dir[300];
  snprintf(dir, sizeof dir, "%s/a/b/exitprobe", tmpdir);
  ep_err_t err = {0};
  ep_cache_t *c = ep_cache_open(dir, &err);
  ck_assert_msg(c != NULL, "%s", err.msg);
  struct stat st;
  ck_assert_int_eq(stat(dir, &st), 0);
  ck_assert_int_eq(st.st_mode & 0777, 0700);

  uint8_t *out = (uint8_t *)"x";
  size_t len = 99;
  ck_assert_int_eq(ep_cache_read(c, "consensus-microdesc", EP_CAP_CONSENSUS, &out, &len, &err),
                   EP_CACHE_MISS);
  ck_assert_ptr_null(out);
  ck_assert_uint_eq(len, 0);
  time_t mt;
  ck_assert_int_eq(ep_cache_mtime(c, "consensus-microdesc", &mt, &err), EP_CACHE_MISS);

  /* Binary content with NULs round-trips exactly. */
  uint8_t blob[5000];
  for (size_t i = 0; i < sizeof blob; i++) {
    blob[i] = (uint8_t)(i * 31);
  }
  ck_assert_int_eq(ep_cache_write(c, "microdescs", blob, sizeof blob, &err), EP_OK);
  ck_assert_int_eq(ep_cache_read(c, "microdescs", EP_CAP_MICRODESCS, &out, &len, &err), EP_OK);
  ck_assert_uint_eq(len, sizeof blob);
  ck_assert(memcmp(out, blob, len) == 0);
  ck_assert_int_eq(out[len], 0);
  free(out);
  ck_assert_int_eq(ep_cache_mtime(c, "microdescs", &mt, &err), EP_OK);
  ck_assert(mt > 0);
  char path[400];
  snprintf(path, sizeof path, "%s/microdescs", dir);
  ck_assert_int_eq(stat(path, &st), 0);
  ck_assert_int_eq(st.st_mode & 0777, 0600);

  /* Replace with something shorter: the new content only. */
  ck_assert_int_eq(ep_cache_write(c, "microdescs", "short", 5, &err), EP_OK);
  ck_assert_int_eq(ep_cache_read(c, "microdescs", 100, &out, &len, &err), EP_OK);
  ck_assert_uint_eq(len, 5);
  ck_assert_str_eq((char *)out, "short");
  free(out);
  /* A hint (no fsync) replaces the same way. */
  ck_assert_int_eq(ep_cache_write_hint(c, "microdescs", "hint!!", 6, &err), EP_OK);
  ck_assert_int_eq(ep_cache_read(c, "microdescs", 100, &out, &len, &err), EP_OK);
  ck_assert_uint_eq(len, 6);
  ck_assert_str_eq((char *)out, "hint!!");
  free(out);
  ck_assert_int_eq(ep_cache_write_hint(c, "../x", "x", 1, &err), EP_ERR_MALFORMED);
  /* Empty files are fine. */
  ck_assert_int_eq(ep_cache_write(c, "certs", "", 0, &err), EP_OK);
  ck_assert_int_eq(ep_cache_read(c, "certs", 100, &out, &len, &err), EP_OK);
  ck_assert_uint_eq(len, 0);
  free(out);
  /* No temporary files are left behind. */
  ck_assert_int_eq(count_entries(dir), 2);

  ck_assert_int_eq(ep_cache_remove(c, "certs", &err), EP_OK);
  ck_assert_int_eq(ep_cache_remove(c, "certs", &err), EP_OK);
  ck_assert_int_eq(ep_cache_read(c, "certs", 100, &out, &len, &err), EP_CACHE_MISS);
  ep_cache_free(c);
  ep_cache_free(NULL);
}
END_TEST

START_TEST(read_cap_and_bad_names) {
  ep_err_t err = {0};
  ep_cache_t *c = ep_cache_open(tmpdir, &err);
  ck_assert_ptr_nonnull(c);
  char big[1000];
  memset(big, 'q', sizeof big);
  ck_assert_int_eq(ep_cache_write(c, "consensus-microdesc", big, sizeof big, &err), EP_OK);
  uint8_t *out;
  size_t len;
  ck_assert_int_eq(ep_cache_read(c, "consensus-microdesc", 999, &out, &len, &err), EP_ERR_LIMIT);
  ck_assert_ptr_null(out);
  ck_assert_msg(strstr(err.msg, "has 1000 bytes, more than the cap of 999") != NULL, "%s", err.msg);
  ck_assert_int_eq(ep_cache_read(c, "consensus-microdesc", 1000, &out, &len, &err), EP_OK);
  ck_assert_uint_eq(len, 1000);
  free(out);

  const char *bad[] = {"", ".hidden", "a/b", "../etc", "sp ace", "new\nline",
                       "0123456789012345678901234567890123456789012345678901234567890123456789"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ck_assert_int_eq(ep_cache_check_name(bad[i], &err), EP_ERR_MALFORMED);
    ck_assert_int_eq(ep_cache_write(c, bad[i], "x", 1, &err), EP_ERR_MALFORMED);
    ck_assert_int_eq(ep_cache_read(c, bad[i], 10, &out, &len, &err), EP_ERR_MALFORMED);
  }
  ck_assert_int_eq(ep_cache_check_name("cached-microdesc-consensus.z", &err), EP_OK);

  /* A directory where a file should be: an error, not a crash. */
  char sub[400];
  snprintf(sub, sizeof sub, "%s/certs", tmpdir);
  ck_assert_int_eq(mkdir(sub, 0700), 0);
  ck_assert_int_ne(ep_cache_read(c, "certs", 10, &out, &len, &err), EP_OK);
  ck_assert_int_eq(ep_cache_write(c, "certs", "x", 1, &err), EP_ERR_IO);
  ck_assert_int_eq(count_entries(tmpdir), 2); /* no stray temporary file */
  ep_cache_free(c);

  /* A cache path that cannot be created. */
  char blocked[400];
  snprintf(blocked, sizeof blocked, "%s/consensus-microdesc/sub", tmpdir);
  ck_assert_ptr_null(ep_cache_open(blocked, &err));
  ck_assert_int_eq(err.code, EP_ERR_IO);
}
END_TEST

static Suite *cache_suite(void) {
  Suite *s = suite_create("cache");
  TCase *t = tcase_create("cache");
  tcase_add_checked_fixture(t, setup, teardown);
  tcase_add_test(t, default_dir_follows_xdg_then_home);
  tcase_add_test(t, round_trip_and_replace);
  tcase_add_test(t, read_cap_and_bad_names);
  suite_add_tcase(s, t);
  return s;
}

int main(void) { return tu_run_suite(cache_suite()); }
