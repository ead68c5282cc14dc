/* exitprobe — the tally of one scan round (see summary.h). */
#include "config.h"

#include "probe/engine/summary.h"

#include <stdlib.h>
#include <string.h>

#include "lib/caps.h"
#include "lib/escape.h"
#include "lib/log.h"
#include "lib/vec.h"

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
