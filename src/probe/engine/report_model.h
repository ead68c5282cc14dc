/* exitprobe — the report model: result records (JSON Lines, hostile) read
 * into one aggregate per (exit, port, vantage) and one count per (round,
 * port). Linear in the input: pairs and rounds are found through hash
 * indexes; every text field is interned once in a capped string pool, so
 * memory grows with distinct pairs and distinct strings, not with records.
 * Every cap is in caps.h and, when hit, the error names file and line.
 *
 * Strings in the model are the raw relay/record text (NUL-free, capped):
 * escape them for where they go (ep_escape_text, ep_escape_html, CSV).
 * A string field is never NULL: "" when the record had none. */
#ifndef EP_PROBE_REPORT_MODEL_H
#define EP_PROBE_REPORT_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "probe/engine/classify.h"

typedef struct ep_rmodel ep_rmodel_t;

typedef struct ep_rm_relay {
  char fingerprint[41];  /* 40 upper/lower hex digits as recorded, or "" */
  const char *nickname;
  const char *address;
  unsigned or_port;
} ep_rm_relay_t;

/* One (exit, port, vantage): everything a report row or an operator notice
 * needs. "last" means the record with the highest (round, time) seen. */
typedef struct ep_rm_pair {
  ep_rm_relay_t exit;
  unsigned port;
  const char *vantage;        /* "" when records carry none */
  /* The exit's operator, from its latest record (#12 point 1). */
  const char *contact, *contact_email, *contact_url, *platform;
  const char *family;         /* family members joined by ' ', or "" */
  /* Counts over every record of the pair. */
  unsigned records;           /* rounds probed (one record per round) */
  unsigned violates, honours, inconclusive;  /* violates = rounds failing */
  unsigned classes[EP_CLASS_COUNT];
  /* Time span of the records and of the violating ones ("" if none). */
  char first_time[24], last_time[24];
  char first_fail_time[24], last_fail_time[24];
  /* The last record's evidence. */
  int64_t last_round;
  ep_class_t last_class;
  ep_verdict_t last_verdict;
  const char *last_why;       /* the verdict's reason */
  const char *last_detail;    /* the classifier's detail */
  int last_end_reason;        /* -1 when none */
  const char *last_end_reason_name;
  const char *last_target;
  const char *last_answer;    /* service_answer, else banner */
  const char *last_service;
  const char *last_control, *last_control_detail;
  const char *last_retry_class, *last_retry_first_hop;
  int64_t last_total_ms;      /* -1 when none */
  ep_rm_relay_t last_first_hop;
  /* Evidence of the last violating record (class EP_CLASS_COUNT if none). */
  ep_class_t fail_class;
  const char *fail_why, *fail_end_reason_name, *fail_answer;
  ep_rm_relay_t fail_first_hop;
  /* DNS health of the exit (#14): records whose dns was broken / wrong, and
   * the last record's dns ("" for records before #14), detail, and the
   * address the port was probed by when its name failed ("" none). */
  unsigned dns_broken, dns_wrong;
  const char *last_dns, *last_dns_detail, *last_dns_reprobe;
} ep_rm_pair_t;

/* One (round, port): how many exits did what (a chart bar). */
typedef struct ep_rm_round {
  int64_t round;
  unsigned port;
  char time[24];              /* the earliest record time of the round */
  unsigned honours, violates, inconclusive;
} ep_rm_round_t;

ep_rmodel_t *ep_rmodel_new(void);
void ep_rmodel_free(ep_rmodel_t *m);  /* NULL-safe */

/* One record. EP_ERR_MALFORMED for a bad record (message "file:line: ..."),
 * EP_ERR_LIMIT when a cap is hit (also "file:line: ..."). */
int ep_rmodel_add_record(ep_rmodel_t *m, const char *text, size_t len, const char *file,
                         size_t line, ep_err_t *err);
/* Every line of a file ("-" is stdin); bad lines are counted and the first
 * few logged. Fails when the file cannot be read or a cap is hit (then the
 * model keeps what was read before). */
int ep_rmodel_add_file(ep_rmodel_t *m, const char *path, ep_err_t *err);

size_t ep_rmodel_pairs(const ep_rmodel_t *m);
const ep_rm_pair_t *ep_rmodel_pair(const ep_rmodel_t *m, size_t i);  /* insertion order */
size_t ep_rmodel_rounds(const ep_rmodel_t *m);
/* Sorted by (port, round) once ep_rmodel_finish ran. */
const ep_rm_round_t *ep_rmodel_round(const ep_rmodel_t *m, size_t i);
size_t ep_rmodel_records(const ep_rmodel_t *m);
size_t ep_rmodel_bad_lines(const ep_rmodel_t *m);
size_t ep_rmodel_vantages(const ep_rmodel_t *m);  /* distinct non-empty vantages */

/* Sorts the round table; call after the last add. */
void ep_rmodel_finish(ep_rmodel_t *m);

/* A consistent violator violated in every observation (and at least one). */
bool ep_rm_pair_consistent(const ep_rm_pair_t *p);
/* The most common class other than reachable, or EP_CLASS_COUNT. */
ep_class_t ep_rm_pair_main_failure(const ep_rm_pair_t *p);
/* Pair indexes sorted for display: consistent violators first, then by
 * violations (descending), fingerprint, port, vantage. Caller frees. NULL on
 * allocation failure. */
size_t *ep_rmodel_sorted(const ep_rmodel_t *m);

#endif
