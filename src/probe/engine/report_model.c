/* exitprobe — the report model: records into per-(exit, port, vantage)
 * aggregates and per-(round, port) counts, linear in the input. */
#include "config.h"

#include "probe/engine/report_model.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/caps.h"
#include "lib/hidx.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/strpool.h"
#include "lib/vec.h"
#include "probe/engine/dnscheck.h"

#define RM_MAX_ROUND 1000000000LL

struct ep_rmodel {
  ep_rm_pair_t *pairs;
  size_t n_pairs, alloc_pairs;
  ep_hidx_t pair_idx;
  ep_rm_round_t *rounds;
  size_t n_rounds, alloc_rounds;
  ep_hidx_t round_idx;
  ep_strpool_t strs;
  const char **vantages;  /* distinct, interned */
  size_t n_vantages, alloc_vantages;
  size_t records, bad_lines;
};

ep_rmodel_t *ep_rmodel_new(void) {
  ep_rmodel_t *m = calloc(1, sizeof *m);
  if (m != NULL) {
    ep_hidx_init(&m->pair_idx, EP_CAP_REPORT_PAIRS, "(exit, port, vantage) pairs");
    ep_hidx_init(&m->round_idx, EP_CAP_REPORT_ROUNDS, "(round, port) bars");
    ep_strpool_init(&m->strs, EP_CAP_REPORT_STR_BYTES, EP_CAP_REPORT_STRINGS);
  }
  return m;
}

void ep_rmodel_free(ep_rmodel_t *m) {
  if (m == NULL) {
    return;
  }
  free(m->pairs);
  free(m->rounds);
  free(m->vantages);
  ep_hidx_free(&m->pair_idx);
  ep_hidx_free(&m->round_idx);
  ep_strpool_free(&m->strs);
  free(m);
}

/* The record being read: the JSON tree and where errors go. */
typedef struct rec {
  ep_rmodel_t *m;
  const ep_json_t *j;
  ep_err_t *err;
  bool failed;
} rec_t;

static const char *intern_str(rec_t *r, const char *s) {
  if (s == NULL || r->failed) {
    return "";
  }
  const char *v = ep_strpool_intern(&r->m->strs, s, strnlen(s, EP_CAP_REPORT_FIELD), r->err);
  if (v == NULL) {
    r->failed = true;
    return "";
  }
  return v;
}

/* A JSON string as report text: a NUL in it (our writer escapes a banner's
 * NUL bytes as \u0000) shows as U+2400 SYMBOL FOR NULL instead of cutting
 * the text there (findings). */
static const char *intern_json(rec_t *r, const ep_json_t *v) {
  size_t len = 0;
  const char *s = ep_json_str(v, &len);
  if (s == NULL || memchr(s, '\0', len) == NULL) {
    return intern_str(r, s);
  }
  char text[EP_CAP_REPORT_FIELD + 1];
  size_t o = 0;
  for (size_t i = 0; i < len && o + 3 < sizeof text; i++) {
    if (s[i] == '\0') {
      memcpy(text + o, "\xe2\x90\x80", 3);
      o += 3;
    } else {
      text[o++] = s[i];
    }
  }
  text[o] = '\0';
  return intern_str(r, text);
}

static const char *field(rec_t *r, const ep_json_t *obj, const char *key) {
  return intern_json(r, ep_json_get(obj, key));
}

static const char *family(rec_t *r) {
  const ep_json_t *fam = ep_json_get(r->j, "family");
  char joined[EP_CAP_REPORT_FIELD + 1];
  size_t o = 0;
  for (size_t i = 0; i < ep_json_count(fam); i++) {
    const char *s = ep_json_str(ep_json_at(fam, i), NULL);
    size_t n = s != NULL ? strlen(s) : 0;
    if (n == 0 || o + n + 1 > EP_CAP_REPORT_FIELD) {
      continue;
    }
    if (o > 0) {
      joined[o++] = ' ';
    }
    memcpy(joined + o, s, n);
    o += n;
  }
  joined[o] = '\0';
  return intern_str(r, joined);
}

static void relay(rec_t *r, const ep_json_t *obj, ep_rm_relay_t *out) {
  const char *fp = ep_json_get_str(obj, "fingerprint");
  size_t n = fp != NULL ? strnlen(fp, 41) : 0;
  memset(out->fingerprint, 0, sizeof out->fingerprint);
  if (n <= 40 && n > 0) {
    memcpy(out->fingerprint, fp, n);
  }
  out->nickname = field(r, obj, "nickname");
  out->address = field(r, obj, "address");
  int64_t v;
  out->or_port = ep_json_int(ep_json_get(obj, "or_port"), &v) && v >= 0 && v <= 65535
                     ? (unsigned)v : 0;
}

/* 40 hex digits, nothing else: a fingerprint is printed as it is. */
static bool is_fingerprint(const char *fp) {
  size_t n = 0;
  for (; fp[n] != '\0'; n++) {
    if (n >= 40 || !isxdigit((unsigned char)fp[n])) {
      return false;
    }
  }
  return n == 40;
}

static void copy_time(char dst[24], const char *t) {
  size_t n = t != NULL ? strnlen(t, 23) : 0;
  memcpy(dst, t != NULL ? t : "", n);
  dst[n] = '\0';
}

/* The fields every record must have, checked before anything is kept. */
typedef struct head {
  const char *fp, *vantage, *time;
  unsigned port;
  int64_t round;
  ep_class_t cls;
  ep_verdict_t verdict;
} head_t;

static int read_head(const ep_json_t *j, head_t *h, const char *file, size_t line,
                     ep_err_t *err) {
  const char *schema = ep_json_get_str(j, "schema");
  const char *cls = ep_json_get_str(j, "class");
  const char *verdict = ep_json_get_str(j, "verdict");
  int64_t port;
  h->fp = ep_json_get_str(ep_json_get(j, "exit"), "fingerprint");
  h->time = ep_json_get_str(j, "time");
  h->vantage = ep_json_get_str(j, "vantage");
  if (schema == NULL || strcmp(schema, "exitprobe/result/1") != 0) {
    return ep_err_set(err, EP_ERR_MALFORMED, "%s:%zu: not an exitprobe/result/1 record", file,
                      line);
  }
  if (h->fp == NULL || !is_fingerprint(h->fp) || cls == NULL || verdict == NULL ||
      !ep_json_int(ep_json_get(j, "port"), &port) || port < 0 || port > 65535) {
    return ep_err_set(err, EP_ERR_MALFORMED,
                      "%s:%zu: record lacks exit.fingerprint, port, class or verdict", file, line);
  }
  h->round = 0;
  const ep_json_t *rj = ep_json_get(j, "round");
  if (rj != NULL && (!ep_json_int(rj, &h->round) || h->round < 0 || h->round > RM_MAX_ROUND)) {
    return ep_err_set(err, EP_ERR_MALFORMED, "%s:%zu: round is not an integer 0..%lld", file,
                      line, RM_MAX_ROUND);
  }
  int c = ep_class_parse(cls), v = ep_verdict_parse(verdict);
  if (c < 0 || v < 0) {
    return ep_err_set(err, EP_ERR_MALFORMED, "%s:%zu: unknown class '%.40s' or verdict '%.40s'",
                      file, line, cls, verdict);
  }
  h->port = (unsigned)port;
  h->cls = (ep_class_t)c;
  h->verdict = (ep_verdict_t)v;
  return EP_OK;
}

typedef struct pair_key {
  const ep_rmodel_t *m;
  const char *fp;
  unsigned port;
  const char *vantage;  /* interned: compared by pointer */
} pair_key_t;

static bool pair_eq(const void *ctx, size_t idx) {
  const pair_key_t *k = ctx;
  const ep_rm_pair_t *p = &k->m->pairs[idx];
  return p->port == k->port && p->vantage == k->vantage && strcmp(p->exit.fingerprint, k->fp) == 0;
}

static uint64_t pair_hash(const char *fp, unsigned port, const char *vantage) {
  char key[41 + 6 + EP_CAP_REPORT_FIELD + 1];
  size_t vn = strlen(vantage);
  memcpy(key, fp, 40);
  memcpy(key + 40, &port, sizeof port);
  memcpy(key + 40 + sizeof port, vantage, vn);
  return ep_hidx_hash(key, 40 + sizeof port + vn);
}

static int note_vantage(ep_rmodel_t *m, const char *v, ep_err_t *err) {
  if (v[0] == '\0') {
    return EP_OK;
  }
  for (size_t i = 0; i < m->n_vantages; i++) {  /* a handful, by design */
    if (m->vantages[i] == v) {
      return EP_OK;
    }
  }
  int rc = EP_VEC_RESERVE(m->vantages, m->alloc_vantages, m->n_vantages + 1, 256, "vantages", err);
  if (rc == EP_OK) {
    m->vantages[m->n_vantages++] = v;
  }
  return rc;
}

static ep_rm_pair_t *find_pair(ep_rmodel_t *m, const head_t *h, const char *vantage,
                               ep_err_t *err) {
  pair_key_t k = {m, h->fp, h->port, vantage};
  uint64_t hash = pair_hash(h->fp, h->port, vantage);
  size_t idx;
  if (ep_hidx_find(&m->pair_idx, hash, pair_eq, &k, &idx)) {
    return &m->pairs[idx];
  }
  if (note_vantage(m, vantage, err) != EP_OK ||
      EP_VEC_RESERVE(m->pairs, m->alloc_pairs, m->n_pairs + 1, EP_CAP_REPORT_PAIRS,
                     "(exit, port, vantage) pairs", err) != EP_OK ||
      ep_hidx_insert(&m->pair_idx, hash, m->n_pairs, err) != EP_OK) {
    return NULL;
  }
  ep_rm_pair_t *p = &m->pairs[m->n_pairs++];
  memset(p, 0, sizeof *p);
  memcpy(p->exit.fingerprint, h->fp, 40);
  p->port = h->port;
  p->vantage = vantage;
  p->last_round = -1;
  p->fail_class = EP_CLASS_COUNT;
  p->exit.nickname = p->exit.address = p->contact = p->contact_email = p->contact_url = "";
  p->platform = p->family = p->fail_why = p->fail_end_reason_name = p->fail_answer = "";
  p->last_first_hop.nickname = p->last_first_hop.address = "";
  p->fail_first_hop.nickname = p->fail_first_hop.address = "";
  return p;
}

typedef struct round_key {
  const ep_rmodel_t *m;
  int64_t round;
  unsigned port;
} round_key_t;

static bool round_eq(const void *ctx, size_t idx) {
  const round_key_t *k = ctx;
  return k->m->rounds[idx].round == k->round && k->m->rounds[idx].port == k->port;
}

static ep_rm_round_t *find_round(ep_rmodel_t *m, const head_t *h, ep_err_t *err) {
  round_key_t k = {m, h->round, h->port};
  unsigned char key[sizeof h->round + sizeof h->port];
  memcpy(key, &h->round, sizeof h->round);
  memcpy(key + sizeof h->round, &h->port, sizeof h->port);
  uint64_t hash = ep_hidx_hash(key, sizeof key);
  size_t idx;
  if (ep_hidx_find(&m->round_idx, hash, round_eq, &k, &idx)) {
    return &m->rounds[idx];
  }
  if (EP_VEC_RESERVE(m->rounds, m->alloc_rounds, m->n_rounds + 1, EP_CAP_REPORT_ROUNDS,
                     "(round, port) bars", err) != EP_OK ||
      ep_hidx_insert(&m->round_idx, hash, m->n_rounds, err) != EP_OK) {
    return NULL;
  }
  ep_rm_round_t *r = &m->rounds[m->n_rounds++];
  memset(r, 0, sizeof *r);
  r->round = h->round;
  r->port = h->port;
  return r;
}

static void count(unsigned *honours, unsigned *violates, unsigned *inconclusive, ep_verdict_t v) {
  if (v == EP_VERDICT_VIOLATES) {
    (*violates)++;
  } else if (v == EP_VERDICT_HONOURS) {
    (*honours)++;
  } else {
    (*inconclusive)++;
  }
}

static const char *answer(rec_t *r) {
  const ep_json_t *a = ep_json_get(r->j, "service_answer");
  return intern_json(r, ep_json_str(a, NULL) != NULL ? a : ep_json_get(r->j, "banner"));
}

static void take_last(rec_t *r, ep_rm_pair_t *p, const head_t *h) {
  const ep_json_t *j = r->j;
  int64_t v;
  relay(r, ep_json_get(j, "exit"), &p->exit);
  memcpy(p->exit.fingerprint, h->fp, 40);
  p->contact = field(r, j, "contact");
  p->contact_email = field(r, j, "contact_email");
  p->contact_url = field(r, j, "contact_url");
  p->platform = field(r, j, "platform");
  p->family = family(r);
  p->last_round = h->round;
  p->last_class = h->cls;
  p->last_verdict = h->verdict;
  p->last_why = field(r, j, "why");
  p->last_detail = field(r, j, "detail");
  p->last_end_reason = ep_json_int(ep_json_get(j, "end_reason"), &v) && v >= 0 && v < 256
                           ? (int)v : -1;
  p->last_end_reason_name = field(r, j, "end_reason_name");
  p->last_target = field(r, j, "target");
  p->last_answer = answer(r);
  p->last_service = field(r, j, "service");
  p->last_control = field(r, j, "control");
  p->last_control_detail = field(r, j, "control_detail");
  p->last_retry_class = field(r, j, "retry_class");
  p->last_retry_first_hop = field(r, j, "retry_first_hop");
  p->last_total_ms = ep_json_int(ep_json_get(j, "total_ms"), &v) && v >= 0 ? v : -1;
  /* a class name or nothing: the value is printed as is (report.c) */
  ep_dns_class_t dc = ep_dns_class_parse(ep_json_get_str(j, "dns"));
  p->last_dns = dc != EP_DNS_CLASS_COUNT ? ep_dns_class_name(dc) : "";
  p->last_dns_detail = field(r, j, "dns_detail");
  p->last_dns_reprobe = field(r, j, "dns_reprobe_address");
  relay(r, ep_json_get(j, "first_hop"), &p->last_first_hop);
  copy_time(p->last_time, h->time);
}

static void take_failure(rec_t *r, ep_rm_pair_t *p, const head_t *h) {
  p->fail_class = h->cls;
  p->fail_why = field(r, r->j, "why");
  p->fail_end_reason_name = field(r, r->j, "end_reason_name");
  p->fail_answer = answer(r);
  relay(r, ep_json_get(r->j, "first_hop"), &p->fail_first_hop);
}

/* Is (round, time) later than the pair's last? */
static bool later(const ep_rm_pair_t *p, const head_t *h, const char *last_time) {
  const char *t = h->time != NULL ? h->time : "";
  return h->round > p->last_round || (h->round == p->last_round && strcmp(t, last_time) >= 0);
}

static void update_pair(rec_t *r, ep_rm_pair_t *p, const head_t *h) {
  const char *t = h->time != NULL ? h->time : "";
  bool is_last = p->records == 0 || later(p, h, p->last_time);
  p->records++;
  p->classes[h->cls]++;
  count(&p->honours, &p->violates, &p->inconclusive, h->verdict);
  const char *dns = ep_json_get_str(r->j, "dns");
  p->dns_broken += dns != NULL && strcmp(dns, "broken") == 0;
  p->dns_wrong += dns != NULL && strcmp(dns, "wrong") == 0;
  if (p->first_time[0] == '\0' || strcmp(t, p->first_time) < 0) {
    copy_time(p->first_time, t);
  }
  if (h->verdict == EP_VERDICT_VIOLATES) {
    if (p->first_fail_time[0] == '\0' || strcmp(t, p->first_fail_time) < 0) {
      copy_time(p->first_fail_time, t);
    }
    if (strcmp(t, p->last_fail_time) >= 0) {
      copy_time(p->last_fail_time, t);
      take_failure(r, p, h);
    }
  }
  if (is_last) {
    take_last(r, p, h);
  }
}

static int add_tree(ep_rmodel_t *m, const ep_json_t *j, const char *file, size_t line,
                    ep_err_t *err) {
  head_t h;
  int rc = read_head(j, &h, file, line, err);
  if (rc != EP_OK) {
    return rc;
  }
  ep_err_t cerr = {0};
  rec_t r = {m, j, &cerr, false};
  const char *vantage = intern_str(&r, h.vantage);
  ep_rm_pair_t *p = r.failed ? NULL : find_pair(m, &h, vantage, &cerr);
  ep_rm_round_t *bar = p != NULL ? find_round(m, &h, &cerr) : NULL;
  if (bar != NULL) {
    update_pair(&r, p, &h);
  }
  if (bar == NULL || r.failed) {
    return ep_err_set(err, cerr.code != EP_OK ? cerr.code : EP_ERR_LIMIT, "%s:%zu: %s", file,
                      line, cerr.msg);
  }
  count(&bar->honours, &bar->violates, &bar->inconclusive, h.verdict);
  if (h.time != NULL && (bar->time[0] == '\0' || strcmp(h.time, bar->time) < 0)) {
    copy_time(bar->time, h.time);
  }
  m->records++;
  return EP_OK;
}

int ep_rmodel_add_record(ep_rmodel_t *m, const char *text, size_t len, const char *file,
                         size_t line, ep_err_t *err) {
  ep_err_t jerr = {0};
  ep_json_t *j = ep_json_parse(text, len, &jerr);
  if (j == NULL) {
    return ep_err_set(err, EP_ERR_MALFORMED, "%s:%zu: %s", file, line, jerr.msg);
  }
  int rc = add_tree(m, j, file, line, err);
  ep_json_free(j);
  return rc;
}

/* Reads one line into buf (cap bytes + NUL); *overlong when it did not fit
 * (the rest of the line is skipped). false at the end of the file. */
static bool read_line(FILE *f, char *buf, size_t cap, size_t *len, bool *overlong) {
  *overlong = false;
  if (fgets(buf, (int)cap + 1, f) == NULL) {
    return false;
  }
  *len = strlen(buf);  /* a NUL byte cuts the line: the JSON then fails */
  if (*len > 0 && buf[*len - 1] == '\n') {
    buf[--*len] = '\0';
    return true;
  }
  int c;
  if (*len == cap) {
    while ((c = getc(f)) != EOF && c != '\n') {
      *overlong = true;
    }
  }
  return true;
}

static void bad_line(ep_rmodel_t *m, const char *msg) {
  if (m->bad_lines++ < 5) {
    ep_warn("report: skipping %s", msg);
  }
}

int ep_rmodel_add_file(ep_rmodel_t *m, const char *path, ep_err_t *err) {
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (f == NULL) {
    return ep_err_set(err, EP_ERR_IO, "cannot open %s", path);
  }
  char *buf = malloc(EP_CAP_REPORT_LINE + 1);
  int rc = buf == NULL ? ep_err_set(err, EP_ERR_NOMEM, "out of memory reading %s", path) : EP_OK;
  size_t lineno = 0, len;
  bool overlong;
  while (rc == EP_OK && read_line(f, buf, EP_CAP_REPORT_LINE, &len, &overlong)) {
    lineno++;
    ep_err_t lerr = {0};
    if (overlong) {
      ep_err_set(&lerr, EP_ERR_LIMIT, "%s:%zu: line longer than %u bytes", path, lineno,
                 EP_CAP_REPORT_LINE);
      bad_line(m, lerr.msg);
    } else if (len > 0 && ep_rmodel_add_record(m, buf, len, path, lineno, &lerr) != EP_OK) {
      if (lerr.code == EP_ERR_LIMIT || lerr.code == EP_ERR_NOMEM) {
        rc = ep_err_set(err, lerr.code, "%s", lerr.msg);  /* a cap: stop, say where */
      } else {
        bad_line(m, lerr.msg);
      }
    }
  }
  if (rc == EP_OK && ferror(f)) {
    rc = ep_err_set(err, EP_ERR_IO, "error reading %s", path);
  }
  free(buf);
  if (f != stdin) {
    fclose(f);
  }
  return rc;
}

size_t ep_rmodel_pairs(const ep_rmodel_t *m) { return m->n_pairs; }
const ep_rm_pair_t *ep_rmodel_pair(const ep_rmodel_t *m, size_t i) {
  return i < m->n_pairs ? &m->pairs[i] : NULL;
}
size_t ep_rmodel_rounds(const ep_rmodel_t *m) { return m->n_rounds; }
const ep_rm_round_t *ep_rmodel_round(const ep_rmodel_t *m, size_t i) {
  return i < m->n_rounds ? &m->rounds[i] : NULL;
}
size_t ep_rmodel_records(const ep_rmodel_t *m) { return m->records; }
size_t ep_rmodel_bad_lines(const ep_rmodel_t *m) { return m->bad_lines; }
size_t ep_rmodel_vantages(const ep_rmodel_t *m) { return m->n_vantages; }

static int cmp_round(const void *a, const void *b) {
  const ep_rm_round_t *x = a, *y = b;
  if (x->port != y->port) {
    return x->port < y->port ? -1 : 1;
  }
  return x->round < y->round ? -1 : x->round > y->round;
}

void ep_rmodel_finish(ep_rmodel_t *m) {
  /* The round index points into the array: sorting retires it. */
  if (m->n_rounds > 1) { /* none: m->rounds is NULL, which qsort must not get */
    qsort(m->rounds, m->n_rounds, sizeof *m->rounds, cmp_round);
  }
  ep_hidx_free(&m->round_idx);
  ep_hidx_init(&m->round_idx, 0, "(round, port) bars (finished)");
}

bool ep_rm_pair_consistent(const ep_rm_pair_t *p) {
  return p->violates > 0 && p->violates == p->records;
}

ep_class_t ep_rm_pair_main_failure(const ep_rm_pair_t *p) {
  ep_class_t best = EP_CLASS_COUNT;
  unsigned n = 0;
  for (int c = 0; c < EP_CLASS_COUNT; c++) {
    if (c != EP_CLASS_REACHABLE && p->classes[c] > n) {
      n = p->classes[c];
      best = (ep_class_t)c;
    }
  }
  return best;
}

static const ep_rm_pair_t *sort_base;

static int cmp_pairs(const void *a, const void *b) {
  const ep_rm_pair_t *x = &sort_base[*(const size_t *)a], *y = &sort_base[*(const size_t *)b];
  bool cx = ep_rm_pair_consistent(x), cy = ep_rm_pair_consistent(y);
  if (cx != cy) {
    return cx ? -1 : 1;
  }
  if (x->violates != y->violates) {
    return x->violates > y->violates ? -1 : 1;
  }
  int c = strcmp(x->exit.fingerprint, y->exit.fingerprint);
  if (c != 0) {
    return c;
  }
  if (x->port != y->port) {
    return x->port < y->port ? -1 : 1;
  }
  return strcmp(x->vantage, y->vantage);
}

size_t *ep_rmodel_sorted(const ep_rmodel_t *m) {
  size_t *ix = malloc((m->n_pairs ? m->n_pairs : 1) * sizeof *ix);
  if (ix == NULL) {
    return NULL;
  }
  for (size_t i = 0; i < m->n_pairs; i++) {
    ix[i] = i;
  }
  sort_base = m->pairs;
  qsort(ix, m->n_pairs, sizeof *ix, cmp_pairs);
  sort_base = NULL;
  return ix;
}
