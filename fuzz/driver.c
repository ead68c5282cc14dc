/* exitprobe — the one fuzz driver shared by every harness when it is not
 * built with libFuzzer: replays files, directories of files, or stdin
 * (no arguments, or "-") through LLVMFuzzerTestOneInput. Used by
 * `make check` to replay the corpora and regression inputs under ASan+UBSan. */
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT (16u * 1024u * 1024u)

static int run_stream(FILE *f, const char *name) {
  uint8_t *buf = malloc(FUZZ_MAX_INPUT);
  if (buf == NULL) {
    return -1;
  }
  size_t n = fread(buf, 1, FUZZ_MAX_INPUT, f);
  if (ferror(f)) {
    fprintf(stderr, "fuzz driver: cannot read %s\n", name);
    free(buf);
    return -1;
  }
  /* Hand the harness an exactly-sized copy so ASan catches overreads. */
  uint8_t *exact = malloc(n > 0 ? n : 1);
  if (exact == NULL) {
    free(buf);
    return -1;
  }
  memcpy(exact, buf, n);
  free(buf);
  LLVMFuzzerTestOneInput(exact, n);
  free(exact);
  return 0;
}

static int run_path(const char *path, unsigned *count) {
  struct stat st;
  if (stat(path, &st) != 0) {
    fprintf(stderr, "fuzz driver: no such file: %s\n", path);
    return -1;
  }
  if (S_ISDIR(st.st_mode)) {
    DIR *d = opendir(path);
    if (d == NULL) {
      return -1;
    }
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
      if (e->d_name[0] == '.') {
        continue;
      }
      char sub[4096];
      snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
      if (run_path(sub, count) != 0) {
        rc = -1;
      }
    }
    closedir(d);
    return rc;
  }
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "fuzz driver: cannot open %s\n", path);
    return -1;
  }
  int rc = run_stream(f, path);
  fclose(f);
  (*count)++;
  return rc;
}

int main(int argc, char **argv) {
  if (ep_crypto_init() != 0) {
    return 1;
  }
  unsigned count = 0;
  int rc = 0;
  if (argc < 2 || (argc == 2 && strcmp(argv[1], "-") == 0)) {
    rc = run_stream(stdin, "stdin");
    count = 1;
  } else {
    for (int i = 1; i < argc; i++) {
      if (run_path(argv[i], &count) != 0) {
        rc = -1;
      }
    }
  }
  fprintf(stderr, "fuzz driver: %u input(s) replayed\n", count);
  return rc == 0 ? 0 : 1;
}
