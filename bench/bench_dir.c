/* exitprobe benchmark: parse and verify real directory documents with the
 * src/dir API, N times each, and print the median and the minimum.
 *
 * A benchmark, not a test: bench/run-dir runs it next to bench/dir_stem.py
 * (stem on the same files) in one run and reports the ratio.
 *
 *   bench_dir [-n N] [-d DATADIR] [--only ns|md|mds] [--quiet]
 *
 * Phases, each timed from bytes already in memory (file reading is not timed):
 *   ns   parse the 2022-11-19 ns consensus and the authority certificates,
 *        verify it: every certificate it uses (fingerprint, cross-cert,
 *        certification, times), every signature against the trusted
 *        authority set, validity times (ep_consensus_verify).
 *   md   the same for the microdesc consensus (sha256 signatures).
 *   mds  parse the microdescriptors (digests computed) and check each
 *        against the "m" line of its entry in the microdesc consensus
 *        (ep_consensus_find_md + ep_microdesc_check). The consensus is
 *        parsed once outside the timing.
 * The cost of a phase with certificates includes parsing them (9, 20 KB).
 *
 * Output: one line per phase, "phase NAME n=N median_ms=M min_ms=M ..."
 * plus parse/verify splits, easy for scripts to read. median_ms/min_ms and
 * the splits are CPU time of the thread (CLOCK_THREAD_CPUTIME_ID: on a loaded
 * machine wall time also counts waiting for a core); wall_median_ms and
 * wall_min_ms are wall time.
 *
 * For callgrind: the work of one iteration of each phase is a non-inlined
 * function (bench_dir_ns_once, bench_dir_md_once, bench_dir_mds_once), so
 * `valgrind --tool=callgrind --toggle-collect=bench_dir_ns_once` counts
 * instructions of exactly that. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dir/authcert.h"
#include "dir/authority.h"
#include "dir/consensus.h"
#include "dir/microdesc.h"
#include "dir/verify.h"
#include "lib/crypto.h"
#include "lib/err.h"

#define BENCH_MAX_ITERS 100000

typedef struct blob {
  char *data;
  size_t len;
} blob_t;

typedef struct bench_in {
  blob_t ns, md, mds, certs;
  ep_dir_authset_t *auths;
  time_t now;
} bench_in_t;

/* Per-iteration split timings (ns): CPU time of the thread, and wall time. */
typedef struct split {
  double parse_ns, verify_ns;
  double wall_ns;
  size_t count;             /* entries / microdescriptors handled */
} split_t;

typedef struct clk {
  double cpu, wall;
} clk_t;

static double ts_ns(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static clk_t now_clk(void) {
  clk_t c = {ts_ns(CLOCK_THREAD_CPUTIME_ID), ts_ns(CLOCK_MONOTONIC)};
  return c;
}

static void set_split(split_t *sp, clk_t t0, clk_t t1, clk_t t2) {
  sp->parse_ns = t1.cpu - t0.cpu;
  sp->verify_ns = t2.cpu - t1.cpu;
  sp->wall_ns = t2.wall - t0.wall;
}

static int read_blob(const char *dir, const char *name, blob_t *b) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "bench_dir: cannot open %s: %s\n", path, strerror(errno));
    return -1;
  }
  size_t cap = 1u << 16, len = 0;
  char *buf = malloc(cap);
  while (buf != NULL) {
    if (len == cap) {
      char *nb = realloc(buf, cap * 2);
      if (nb == NULL) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
    size_t got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (got == 0) {
      break;
    }
  }
  bool bad = buf == NULL || ferror(f);
  fclose(f);
  if (bad) {
    fprintf(stderr, "bench_dir: cannot read %s\n", path);
    free(buf);
    return -1;
  }
  b->data = buf;
  b->len = len;
  return 0;
}

/* "2022-11-19 11:30:00" UTC. */
static time_t utc(int y, int mo, int d, int h, int mi, int s) {
  struct tm tm = {0};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return timegm(&tm);
}

/* One parse+verify of a consensus with its certificates. Returns 0 when the
 * consensus verified. */
static int consensus_once(const bench_in_t *in, const blob_t *doc, split_t *sp) {
  ep_err_t err = {0};
  clk_t t0 = now_clk();
  ep_authcerts_t *certs = ep_authcerts_parse(in->certs.data, in->certs.len, &err);
  ep_consensus_t *c = certs != NULL ? ep_consensus_parse(doc->data, doc->len, &err) : NULL;
  clk_t t1 = now_clk();
  int rc = -1;
  if (c != NULL) {
    rc = ep_consensus_verify(c, in->auths, certs, in->now, 0, &err);
    sp->count = ep_consensus_n_routers(c);
  }
  clk_t t2 = now_clk();
  if (rc != EP_OK) {
    fprintf(stderr, "bench_dir: %s\n", err.msg);
  }
  ep_consensus_free(c);
  ep_authcerts_free(certs);
  set_split(sp, t0, t1, t2);
  return rc == EP_OK ? 0 : -1;
}

__attribute__((noinline)) int bench_dir_ns_once(const bench_in_t *in, split_t *sp);
__attribute__((noinline)) int bench_dir_md_once(const bench_in_t *in, split_t *sp);
__attribute__((noinline)) int bench_dir_mds_once(const bench_in_t *in, const ep_consensus_t *mdc,
                                                 split_t *sp);

int bench_dir_ns_once(const bench_in_t *in, split_t *sp) {
  return consensus_once(in, &in->ns, sp);
}

int bench_dir_md_once(const bench_in_t *in, split_t *sp) {
  return consensus_once(in, &in->md, sp);
}

/* Parse the microdescriptors and check every one the consensus lists. */
int bench_dir_mds_once(const bench_in_t *in, const ep_consensus_t *mdc, split_t *sp) {
  ep_err_t err = {0};
  clk_t t0 = now_clk();
  ep_microdescs_t *l = ep_microdescs_parse(in->mds.data, in->mds.len, 0, &err);
  clk_t t1 = now_clk();
  size_t matched = 0;
  int rc = l != NULL ? 0 : -1;
  for (size_t i = 0; l != NULL && i < ep_microdescs_count(l); i++) {
    const ep_microdesc_t *md = ep_microdescs_get(l, i);
    long k = ep_consensus_find_md(mdc, md->digest);
    if (k < 0) {
      continue;   /* cached but no longer listed: a client drops it */
    }
    if (ep_microdesc_check(md, ep_consensus_router(mdc, (size_t)k)->digest, &err) != EP_OK) {
      rc = -1;
      break;
    }
    matched++;
  }
  clk_t t2 = now_clk();
  if (rc != 0) {
    fprintf(stderr, "bench_dir: microdescs: %s\n", err.msg);
  }
  ep_microdescs_free(l);
  set_split(sp, t0, t1, t2);
  sp->count = matched;
  return rc;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, size_t n) {
  qsort(v, n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double minimum(const double *v, size_t n) {
  double m = v[0];
  for (size_t i = 1; i < n; i++) {
    m = v[i] < m ? v[i] : m;
  }
  return m;
}

typedef struct series {
  double *tot, *parse, *verify, *wall;
} series_t;

static void record(series_t *s, size_t i, const split_t *sp) {
  s->parse[i] = sp->parse_ns;
  s->verify[i] = sp->verify_ns;
  s->tot[i] = sp->parse_ns + sp->verify_ns;
  s->wall[i] = sp->wall_ns;
}

static void report(const char *name, const char *what, size_t n, series_t *s, size_t count,
                   size_t bytes) {
  double min_tot = minimum(s->tot, n), min_p = minimum(s->parse, n), min_v = minimum(s->verify, n);
  double min_w = minimum(s->wall, n);
  double med_tot = median(s->tot, n), med_p = median(s->parse, n), med_v = median(s->verify, n);
  double med_w = median(s->wall, n);
  printf("phase %s n=%zu median_ms=%.3f min_ms=%.3f parse_median_ms=%.3f parse_min_ms=%.3f "
         "verify_median_ms=%.3f verify_min_ms=%.3f wall_median_ms=%.3f wall_min_ms=%.3f "
         "items=%zu bytes=%zu mb_per_s=%.1f  # %s\n",
         name, n, med_tot / 1e6, min_tot / 1e6, med_p / 1e6, min_p / 1e6, med_v / 1e6, min_v / 1e6,
         med_w / 1e6, min_w / 1e6, count, bytes, (double)bytes / (min_tot / 1e9) / 1e6, what);
}

static void usage(FILE *f) {
  fprintf(f, "Usage: bench_dir [-n N] [-d DATADIR] [--only ns|md|mds] [--quiet]\n"
             "  -n N        iterations per phase (default 30)\n"
             "  -d DATADIR  tests/data/dir of the source tree (default $EXITPROBE_DATA_DIR\n"
             "              or ./tests/data/dir)\n"
             "  --only P    run one phase (ns, md or mds)\n");
}

int main(int argc, char **argv) {
  long iters = 30;
  const char *dir = getenv("EXITPROBE_DATA_DIR");
  const char *only = NULL;
  if (dir == NULL || *dir == '\0') {
    dir = "tests/data/dir";
  }
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
      iters = strtol(argv[++i], NULL, 10);
    } else if (strcmp(argv[i], "-d") == 0 && i + 1 < argc) {
      dir = argv[++i];
    } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
      only = argv[++i];
    } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      usage(stdout);
      return 0;
    } else {
      usage(stderr);
      return 2;
    }
  }
  if (iters < 1 || iters > BENCH_MAX_ITERS) {
    fprintf(stderr, "bench_dir: -n wants 1..%d\n", BENCH_MAX_ITERS);
    return 2;
  }
  if (only != NULL && strcmp(only, "ns") != 0 && strcmp(only, "md") != 0 && strcmp(only, "mds") != 0) {
    usage(stderr);
    return 2;
  }
  if (ep_crypto_init() != 0) {
    fprintf(stderr, "bench_dir: crypto init failed\n");
    return 1;
  }
  bench_in_t in = {0};
  in.now = utc(2022, 11, 19, 11, 30, 0);
  if (read_blob(dir, "consensus-ns-2022-11-19", &in.ns) != 0 ||
      read_blob(dir, "consensus-md-2022-11-19", &in.md) != 0 ||
      read_blob(dir, "microdescs-2022-11-19", &in.mds) != 0 ||
      read_blob(dir, "cached-certs-2022-11-19", &in.certs) != 0) {
    return 1;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/authorities-2022-11-19.torrc", dir);
  ep_err_t err = {0};
  in.auths = ep_dir_authset_load(path, &err);
  if (in.auths == NULL) {
    fprintf(stderr, "bench_dir: %s\n", err.msg);
    return 1;
  }
  size_t n = (size_t)iters;
  series_t ser = {calloc(n, sizeof(double)), calloc(n, sizeof(double)), calloc(n, sizeof(double)),
                  calloc(n, sizeof(double))};
  if (ser.tot == NULL || ser.parse == NULL || ser.verify == NULL || ser.wall == NULL) {
    return 1;
  }
  int status = 0;
  split_t sp = {0};

  if (only == NULL || strcmp(only, "ns") == 0) {
    for (size_t i = 0; i < n; i++) {
      if (bench_dir_ns_once(&in, &sp) != 0) {
        return 1;
      }
      record(&ser, i, &sp);
    }
    report("ns", "ns consensus + certs: parse, verify certs + signatures + times", n, &ser, sp.count, in.ns.len + in.certs.len);
  }
  if (only == NULL || strcmp(only, "md") == 0) {
    for (size_t i = 0; i < n; i++) {
      if (bench_dir_md_once(&in, &sp) != 0) {
        return 1;
      }
      record(&ser, i, &sp);
    }
    report("md", "microdesc consensus + certs: parse, verify certs + signatures + times", n, &ser, sp.count, in.md.len + in.certs.len);
  }
  if (only == NULL || strcmp(only, "mds") == 0) {
    ep_consensus_t *mdc = ep_consensus_parse(in.md.data, in.md.len, &err);
    if (mdc == NULL) {
      fprintf(stderr, "bench_dir: %s\n", err.msg);
      return 1;
    }
    for (size_t i = 0; i < n; i++) {
      if (bench_dir_mds_once(&in, mdc, &sp) != 0) {
        status = 1;
        break;
      }
      record(&ser, i, &sp);
    }
    if (status == 0) {
      report("mds", "microdescriptors: parse (digests) + check against the m lines", n, &ser, sp.count, in.mds.len);
    }
    ep_consensus_free(mdc);
  }
  free(ser.tot);
  free(ser.parse);
  free(ser.verify);
  free(ser.wall);
  ep_dir_authset_free(in.auths);
  free(in.ns.data);
  free(in.md.data);
  free(in.mds.data);
  free(in.certs.data);
  return status;
}
