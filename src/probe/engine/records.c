/* exitprobe — the records of one scan round and their tally (see records.h). */
#include "config.h"

#include "probe/engine/records.h"

#include <stdlib.h>
#include <string.h>

#include "lib/caps.h"
#include "lib/escape.h"
#include "lib/log.h"
#include "lib/vec.h"

/* A record waiting for the target: the verdict's input, kept to judge it
 * again, with copies of the banners it points to. */
struct ep_held_record {
  ep_probe_in_t in;
  ep_result_t r;
  size_t port_idx;
  uint8_t *bytes;
};

static void emit(ep_records_t *rs, const ep_result_t *r) {
  if (rs->out != NULL) {
    ep_err_t err = {0};
    if (ep_result_write(r, rs->out, &err) != EP_OK) {
      ep_warn("scan: %s", err.msg);
    }
  }
  ep_scan_summary_add(rs->sum, r);
}

/* Point the held input at its own copy of a banner (NULL when empty). */
static uint8_t *keep_bytes(ep_stream_outcome_t *o, uint8_t *dst) {
  if (o->data_len > 0) {
    memcpy(dst, o->data, o->data_len);
  }
  o->data = o->data_len > 0 ? dst : NULL;
  return dst + o->data_len;
}

/* False if it cannot be held (cap reached, out of memory): write it now. */
static bool hold(ep_records_t *rs, const ep_probe_in_t *in, const ep_result_t *r, size_t port_idx) {
  ep_err_t err = {0};
  if (EP_VEC_RESERVE(rs->held, rs->held_alloc, rs->n_held + 1, EP_CAP_HELD_RECORDS,
                     "held records", &err) != EP_OK) {
    ep_debug("scan: %s: written now", err.msg);
    return false;
  }
  size_t n = in->main.o.data_len + in->retry.o.data_len; /* each at most EP_CAP_BANNER + 1 */
  uint8_t *bytes = n > 0 ? malloc(n) : NULL;
  if (n > 0 && bytes == NULL) {
    return false;
  }
  ep_held_record_t *h = &rs->held[rs->n_held++];
  h->in = *in;
  h->r = *r;
  h->port_idx = port_idx;
  h->bytes = bytes;
  keep_bytes(&h->in.retry.o, keep_bytes(&h->in.main.o, bytes));
  return true;
}

/* Judge a held record again, now that more is known, and write it. */
static void release(ep_records_t *rs, ep_held_record_t *h) {
  h->in.target_ok_elsewhere = rs->reachable[h->port_idx];
  ep_probe_judge(&h->in, &h->r);
  emit(rs, &h->r);
  free(h->bytes);
  h->bytes = NULL;
}

void ep_records_put(ep_records_t *rs, const ep_probe_in_t *in, const ep_result_t *r,
                    size_t port_idx, bool waits) {
  if (port_idx >= EP_SCAN_MAX_PORTS) {
    waits = false; /* not a port of the scan: nothing can release it */
  }
  if (waits && hold(rs, in, r, port_idx)) {
    return;
  }
  emit(rs, r);
  if (r->c.cls != EP_CLASS_REACHABLE || port_idx >= EP_SCAN_MAX_PORTS) {
    return;
  }
  rs->reachable[port_idx]++;
  for (size_t i = 0; i < rs->n_held;) {
    if (rs->held[i].port_idx == port_idx) {
      ep_held_record_t h = rs->held[i];
      rs->held[i] = rs->held[--rs->n_held];
      release(rs, &h);
    } else {
      i++;
    }
  }
}

void ep_records_flush(ep_records_t *rs) {
  for (size_t i = 0; i < rs->n_held; i++) {
    release(rs, &rs->held[i]);
  }
  free(rs->held);
  rs->held = NULL;
  rs->n_held = rs->held_alloc = 0;
}

void ep_scan_summary_add(ep_scan_summary_t *sum, const ep_result_t *r) {
  sum->probes++;
  sum->classes[r->c.cls]++;
  sum->verdicts[r->verdict]++;
  if (r->verdict != EP_VERDICT_VIOLATES) {
    return;
  }
  ep_err_t err = {0};
  if (EP_VEC_RESERVE(sum->violators, sum->violators_alloc, sum->n_violators + 1,
                     EP_CAP_VIOLATORS, "violators", &err) != EP_OK) {
    if (sum->violators_left_out++ == 0) {
      ep_warn("scan: %s: the summary lists no more (their records are written)", err.msg);
    }
    return;
  }
  ep_scan_violator_t *v = &sum->violators[sum->n_violators++];
  v->exit = r->exit;
  v->port = r->port;
  v->cls = r->c.cls;
  snprintf(v->why, sizeof v->why, "%s", r->c.why);
}

void ep_scan_summary_free(ep_scan_summary_t *sum) {
  if (sum != NULL) {
    free(sum->violators);
    sum->violators = NULL;
    sum->n_violators = sum->violators_alloc = 0;
  }
}

void ep_scan_summary_print(const ep_scan_summary_t *sum, FILE *out) {
  fprintf(out, "exitprobe scan: %zu exits, %zu probes in %.1f s%s%s\n", sum->exits, sum->probes,
          (double)sum->wall_ms / 1000.0, sum->interrupted ? " (interrupted)" : "",
          sum->deadline_hit ? " (deadline reached)" : "");
  fprintf(out, "verdicts: %zu honour, %zu violate, %zu inconclusive\n", sum->verdicts[0],
          sum->verdicts[1], sum->verdicts[2]);
  fprintf(out, "classes:");
  for (int c = 0; c < EP_CLASS_COUNT; c++) {
    if (sum->classes[c] > 0) {
      fprintf(out, " %s %zu", ep_class_name((ep_class_t)c), sum->classes[c]);
    }
  }
  fprintf(out, "\n");
  if (sum->hops_used > 0) {
    fprintf(out,
            "first hops: %zu used, %zu circuits, per first hop min/median/max %zu/%zu/%zu; "
            "%zu avoided, %zu RESOURCELIMIT, %zu build timeouts (timeout %lld ms)\n",
            sum->hops_used, sum->hop_circuits, sum->hop_circuits_min, sum->hop_circuits_median,
            sum->hop_circuits_max, sum->hops_avoided, sum->hop_resourcelimit, sum->build_timeouts,
            (long long)sum->cbt_ms);
  }
  if (sum->n_violators > 0) {
    fprintf(out, "\nexits that announce a port they cannot reach:\n");
    for (size_t i = 0; i < sum->n_violators; i++) {
      const ep_scan_violator_t *v = &sum->violators[i];
      char nick[4 * sizeof v->exit.nickname + 1];
      char why[4 * sizeof v->why + 1];
      ep_escape_text(nick, sizeof nick, v->exit.nickname, strlen(v->exit.nickname));
      ep_escape_text(why, sizeof why, v->why, strlen(v->why));
      fprintf(out, "  %s %-19s %s:%u  port %u  %s: %s\n", v->exit.fingerprint, nick, v->exit.address,
              v->exit.or_port, v->port, ep_class_name(v->cls), why);
    }
  }
}

void ep_scan_progress_print(FILE *out, bool tty, bool final, unsigned round, size_t done,
                            size_t total, size_t active, int64_t elapsed_ms) {
  double secs = (double)elapsed_ms / 1000.0;
  double rate = secs > 0 ? (double)done / secs : 0;
  double eta = rate > 0 ? (double)(total - done) / rate : 0;
  fprintf(out, "%sscan round %u: %zu/%zu exits done, %zu in flight, %.1f exits/s, ETA %.0f s%s",
          tty ? "\r\033[K" : "", round, done, total, active, rate, eta, (tty && !final) ? "" : "\n");
  fflush(out);
}
