/* exitprobe — the one fuzz driver shared by every harness when it is not
 * built with libFuzzer: replays files, directories of files, or stdin
 * (no arguments, or "-") through LLVMFuzzerTestOneInput. Used by
 * `make check` to replay the corpora and regression inputs under ASan+UBSan.
 * libFuzzer-style options ("-runs=1", "-rss_limit_mb=2048") are accepted and
 * ignored, so one command line works with either build. Directories are
 * replayed in name order, so a run is the same on every machine. */
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
  if (n == FUZZ_MAX_INPUT && fgetc(f) != EOF) {
    fprintf(stderr, "fuzz driver: %s is longer than %u bytes\n", name, FUZZ_MAX_INPUT);
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
  /* Named before the run, so a crash report says which input it was. */
  fprintf(stderr, "fuzz driver: running %s (%zu bytes)\n", name, n);
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
    struct dirent **names = NULL;
    int n = scandir(path, &names, NULL, alphasort);
    if (n < 0) {
      fprintf(stderr, "fuzz driver: cannot read directory %s\n", path);
      return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
      if (names[i]->d_name[0] != '.') {
        char sub[4096];
        int len = snprintf(sub, sizeof sub, "%s/%s", path, names[i]->d_name);
        if (len < 0 || (size_t)len >= sizeof sub) {
          fprintf(stderr, "fuzz driver: path too long under %s\n", path);
          rc = -1;
        } else if (run_path(sub, count) != 0) {
          rc = -1;
        }
      }
      free(names[i]);
    }
    free(names);
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
  int paths = 0;
  for (int i = 1; i < argc; i++) {
    if (argv[i][0] == '-' && argv[i][1] != '\0') {
      continue;   /* a libFuzzer option */
    }
    paths++;
    if (strcmp(argv[i], "-") == 0) {
      if (run_stream(stdin, "stdin") != 0) {
        rc = -1;
      }
      count++;
    } else if (run_path(argv[i], &count) != 0) {
      rc = -1;
    }
  }
  if (paths == 0) {
    rc = run_stream(stdin, "stdin");
    count = 1;
  }
  fprintf(stderr, "fuzz driver: %u input(s) replayed\n", count);
  return rc == 0 ? 0 : 1;
}
