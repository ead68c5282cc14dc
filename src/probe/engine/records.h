/* exitprobe — the records of one scan round. Each is written (JSON Lines)
 * and counted at once, or held while it waits for the target to answer
 * through another exit on its port (ep_probe_judge says when); a held
 * record is judged again and written when the target answers there, or
 * when the round ends. Then the tally: records per class and verdict, the
 * violators, and the progress and summary lines a person reads. */
#ifndef EP_PROBE_RECORDS_H
#define EP_PROBE_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "probe/engine/classify.h"
#include "probe/engine/result.h"
#include "probe/engine/verdict.h"

#define EP_SCAN_MAX_PORTS 32               /* covers --port common (15); ports_mask is a uint32_t */

typedef struct ep_scan_violator {
  ep_relay_ref_t exit;
  uint16_t port;
  ep_class_t cls;
  char why[160];
} ep_scan_violator_t;

/* An exit whose resolver is broken or wrong (#14). */
typedef struct ep_scan_dns_fault {
  ep_relay_ref_t exit;
  char cls[12];                  /* "broken", "wrong" */
  char detail[320];
} ep_scan_dns_fault_t;

#define EP_SCAN_DNS_CLASSES 5    /* ep_dns_class_t: not-tried, ok, broken, wrong, undecided */

typedef struct ep_scan_summary {
  size_t exits, probes;          /* candidates, (exit, port) records written */
  size_t classes[EP_CLASS_COUNT];
  size_t verdicts[3];            /* honours, violates, inconclusive */
  size_t links_failed;
  bool interrupted;
  bool deadline_hit;
  int64_t wall_ms;
  ep_scan_violator_t *violators; /* at most EP_CAP_VIOLATORS; ep_scan_summary_free */
  size_t n_violators, violators_alloc;
  size_t violators_left_out;     /* past the cap (or out of memory): counted only */
  /* First hops (issue #13): circuits started through each this round. */
  size_t hops_used;              /* first hops that carried at least one circuit */
  size_t hop_circuits;           /* circuits started */
  size_t hop_circuits_min, hop_circuits_median, hop_circuits_max;  /* over the hops used */
  size_t hops_avoided;           /* first hops avoided for the round after a failure */
  size_t hop_resourcelimit;      /* DESTROY RESOURCELIMIT from a first hop (no verdict) */
  size_t build_timeouts;         /* circuits that hit the (learned) build timeout */
  int64_t cbt_ms;                /* the circuit build timeout at the end of the round */
  /* DNS health (#14): exits per class (ep_dns_class_t), the broken and wrong ones listed */
  size_t dns[EP_SCAN_DNS_CLASSES];
  ep_scan_dns_fault_t *dns_faults;   /* at most EP_CAP_VIOLATORS */
  size_t n_dns_faults, dns_faults_alloc, dns_faults_left_out;
} ep_scan_summary_t;

typedef struct ep_held_record ep_held_record_t;

/* One identity the round's exits saw for a port's target, and how many. */
typedef struct ep_id_count {
  ep_svc_id_kind_t kind;
  char id[EP_SVC_IDENTITY];
  unsigned n;
} ep_id_count_t;

/* The identities of one port's target this round: at most EP_CAP_IDS_PER_PORT
 * distinct ones. When full, a new identity takes the slot of one that a
 * single exit saw (that one then counts in with_id only); when every slot
 * was seen twice or more, the new one counts in with_id only. */
typedef struct ep_id_table {
  ep_id_count_t *v;
  size_t n, alloc;
  unsigned with_id;
} ep_id_table_t;

typedef struct ep_records {
  FILE *out;                      /* where records are written; NULL: counted only */
  FILE *csv;                      /* the same records as CSV rows (scan --csv); NULL: none */
  ep_scan_summary_t *sum;
  unsigned reachable[EP_SCAN_MAX_PORTS];  /* exits through which the target answered */
  ep_id_table_t ids[EP_SCAN_MAX_PORTS];   /* identities seen per port (#11 interception) */
  ep_held_record_t *held;         /* at most EP_CAP_HELD_RECORDS */
  size_t n_held, held_alloc;
} ep_records_t;

/* One (exit, port) record, judged by ep_probe_judge from `in` (in->data and
 * the service results are copied if held); `waits`: its return value, false
 * once the round ends. A record whose service check named the destination
 * (svc identity) is tallied and judged again against the port's tally: held
 * while that waits (ep_identity_decide), written at once when it matches an
 * established majority or was intercepted. The first record through which
 * the target answered, and the tally's leader becoming established, release
 * what then no longer waits. */
void ep_records_put(ep_records_t *rs, const ep_probe_in_t *in, const ep_result_t *r,
                    size_t port_idx, bool waits);
/* Writes every record still held (the round is over, the tally final) and
 * frees them and the tally. */
void ep_records_flush(ep_records_t *rs);

/* Counts one written record (and lists it if it violates). */
void ep_scan_summary_add(ep_scan_summary_t *sum, const ep_result_t *r);
void ep_scan_summary_free(ep_scan_summary_t *sum);
/* Counts one exit's DNS class (cls: an ep_dns_class_t, named `name`); a
 * broken or wrong one is listed with its detail. */
void ep_scan_summary_add_dns(ep_scan_summary_t *sum, const ep_relay_ref_t *exit, unsigned cls,
                             const char *name, const char *detail);
/* The human summary: counts per class and verdict, then the violators. */
void ep_scan_summary_print(const ep_scan_summary_t *sum, FILE *out);

/* One progress line ("scan round 1: 3/10 exits done, ..."); on a terminal
 * (`tty`) it rewrites the line, ending it only when `final`. */
void ep_scan_progress_print(FILE *out, bool tty, bool final, unsigned round, size_t done,
                            size_t total, size_t active, int64_t elapsed_ms);

#endif
