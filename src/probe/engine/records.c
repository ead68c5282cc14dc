/* exitprobe — the records of one scan round and their tally (see records.h). */
#include "config.h"

#include "probe/engine/records.h"

#include <stdlib.h>
#include <string.h>

#include "lib/caps.h"
#include "lib/escape.h"
#include "lib/log.h"
#include "lib/vec.h"

/* A record waiting for the target or for the identity tally: the verdict's
 * input, kept to judge it again, with copies of the banners and service
 * results it points to. */
struct ep_held_record {
  ep_probe_in_t in;
  ep_result_t r;
  size_t port_idx;
  uint8_t *bytes;
  char confirm_target[256];
};

static void emit(ep_records_t *rs, const ep_result_t *r) {
  if (rs->out != NULL) {
    ep_err_t err = {0};
    if (ep_result_write(r, rs->out, &err) != EP_OK) {
      ep_warn("scan: %s", err.msg);
    }
  }
  if (rs->csv != NULL) {
    ep_err_t err = {0};
    if (ep_result_write_csv(r, rs->csv, &err) != EP_OK) {
      ep_warn("scan: %s", err.msg);
    }
  }
  ep_scan_summary_add(rs->sum, r);
}

/* Held copies: a try's service result (aligned), then its banner. */
#define HELD_ALIGN(n) (((n) + 15u) & ~(size_t)15u)

static size_t try_bytes(const ep_probe_try_t *t) {
  return HELD_ALIGN(t->o.data_len) + (t->o.svc != NULL ? sizeof *t->o.svc : 0);
}

/* Point the held try at its own copies of its banner and service result. */
static uint8_t *keep_bytes(ep_stream_outcome_t *o, uint8_t *dst) {
  if (o->svc != NULL) {
    memcpy(dst, o->svc, sizeof *o->svc);
    o->svc = (const ep_svc_result_t *)(void *)dst;
    dst += sizeof *o->svc;
  }
  if (o->data_len > 0) {
    memcpy(dst, o->data, o->data_len);
  }
  o->data = o->data_len > 0 ? dst : NULL;
  return dst + HELD_ALIGN(o->data_len);
}

/* False if it cannot be held (cap reached, out of memory): write it now. */
static bool hold(ep_records_t *rs, const ep_probe_in_t *in, const ep_result_t *r, size_t port_idx) {
  ep_err_t err = {0};
  if (EP_VEC_RESERVE(rs->held, rs->held_alloc, rs->n_held + 1, EP_CAP_HELD_RECORDS,
                     "held records", &err) != EP_OK) {
    ep_debug("scan: %s: written now", err.msg);
    return false;
  }
  /* Each banner is at most EP_CAP_BANNER + 1 bytes. */
  size_t n = try_bytes(&in->main) + try_bytes(&in->retry) + try_bytes(&in->confirm);
  uint8_t *bytes = n > 0 ? malloc(n) : NULL;
  if (n > 0 && bytes == NULL) {
    return false;
  }
  ep_held_record_t *h = &rs->held[rs->n_held++];
  h->in = *in;
  h->r = *r;
  h->port_idx = port_idx;
  h->bytes = bytes;
  uint8_t *p = keep_bytes(&h->in.main.o, bytes);
  p = keep_bytes(&h->in.retry.o, p);
  keep_bytes(&h->in.confirm.o, p);
  snprintf(h->confirm_target, sizeof h->confirm_target, "%s",
           in->confirm_target != NULL ? in->confirm_target : "");
  h->in.confirm_target = in->confirm_target != NULL ? h->confirm_target : NULL;
  return true;
}

/* The identity the main stream's service check named, or NULL. */
static const ep_svc_result_t *named(const ep_probe_in_t *in) {
  const ep_svc_result_t *v = in->main.has_stream ? in->main.o.svc : NULL;
  return (v != NULL && in->main.o.connected && v->id_kind != EP_SVC_ID_NONE) ? v : NULL;
}

static ep_id_count_t *id_find(ep_id_table_t *t, ep_svc_id_kind_t kind, const char *id) {
  for (size_t i = 0; i < t->n; i++) {
    if (t->v[i].kind == kind && strcmp(t->v[i].id, id) == 0) {
      return &t->v[i];
    }
  }
  return NULL;
}

/* A slot for a new identity: a free one, or (table full) one seen by a
 * single exit, so that a flood of one-off identities cannot keep the real
 * majority out of the table. NULL: every slot is seen more than once. */
static ep_id_count_t *id_slot(ep_id_table_t *t) {
  ep_err_t err = {0};
  if (EP_VEC_RESERVE(t->v, t->alloc, t->n + 1, EP_CAP_IDS_PER_PORT, "identities of a port",
                     &err) == EP_OK) {
    return &t->v[t->n++];
  }
  for (size_t i = 0; i < t->n; i++) {
    if (t->v[i].n <= 1) {
      return &t->v[i];
    }
  }
  return NULL;
}

static void id_add(ep_id_table_t *t, const ep_svc_result_t *v) {
  char id[EP_SVC_IDENTITY];
  snprintf(id, sizeof id, "%.*s", (int)(sizeof id - 1), v->identity);
  t->with_id++;
  ep_id_count_t *e = id_find(t, v->id_kind, id);
  if (e == NULL && (e = id_slot(t)) != NULL) {
    memset(e, 0, sizeof *e);
    e->kind = v->id_kind;
    memcpy(e->id, id, sizeof id);
  }
  if (e != NULL) {
    e->n++;
  }
}

/* Where identity `v` stands in the table (ids kind NONE if v is NULL). */
static void id_tally(const ep_id_table_t *t, const ep_svc_result_t *v, bool final,
                     ep_identity_tally_t *out) {
  memset(out, 0, sizeof *out);
  if (v == NULL) {
    return;
  }
  out->kind = v->id_kind;
  out->with_id = t->with_id;
  out->final = final;
  const ep_id_count_t *lead = NULL;
  for (size_t i = 0; i < t->n; i++) {
    unsigned n = t->v[i].n;
    if (lead == NULL || n > lead->n) {
      out->runner_up = lead != NULL ? lead->n : 0;
      lead = &t->v[i];
    } else if (n > out->runner_up) {
      out->runner_up = n;
    }
  }
  if (lead != NULL) {
    out->leader = lead->n;
    out->expected_kind = lead->kind;
    memcpy(out->expected, lead->id, sizeof out->expected);
    out->own_is_leader = lead->kind == v->id_kind &&
                         strncmp(lead->id, v->identity, sizeof lead->id - 1) == 0;
  }
}

static bool id_established(const ep_id_table_t *t) {
  ep_svc_result_t probe = {.id_kind = EP_SVC_ID_HOSTNAME};
  ep_identity_tally_t tl;
  id_tally(t, &probe, false, &tl);
  return tl.leader >= EP_ID_QUORUM && 2 * tl.leader > tl.with_id && tl.leader >= 2 * tl.runner_up;
}

/* Judge a held record again with what is known now; true if it still waits. */
static bool rejudge(ep_records_t *rs, ep_held_record_t *h, bool final) {
  h->in.target_ok_elsewhere = rs->reachable[h->port_idx];
  id_tally(&rs->ids[h->port_idx], named(&h->in), final, &h->in.ids);
  bool waits = ep_probe_judge(&h->in, &h->r);
  if (waits && !final) {
    return true;
  }
  emit(rs, &h->r);
  free(h->bytes);
  h->bytes = NULL;
  return false;
}

/* Something changed for a port: write its held records that no longer wait. */
static void recheck_port(ep_records_t *rs, size_t port_idx) {
  for (size_t i = 0; i < rs->n_held;) {
    if (rs->held[i].port_idx == port_idx && !rejudge(rs, &rs->held[i], false)) {
      rs->held[i] = rs->held[--rs->n_held];
    } else {
      i++;
    }
  }
}

void ep_records_put(ep_records_t *rs, const ep_probe_in_t *in, const ep_result_t *r,
                    size_t port_idx, bool waits) {
  if (port_idx >= EP_SCAN_MAX_PORTS) {
    emit(rs, r); /* not a port of the scan: nothing can release it */
    return;
  }
  ep_probe_in_t in2 = *in;
  ep_result_t r2 = *r;
  const ep_svc_result_t *v = named(in);
  ep_id_table_t *t = &rs->ids[port_idx];
  bool was_established = id_established(t);
  if (v != NULL) {
    id_add(t, v);
    id_tally(t, v, false, &in2.ids);
    waits = ep_probe_judge(&in2, &r2);
  }
  if (!(waits && hold(rs, &in2, &r2, port_idx))) {
    emit(rs, &r2);
  }
  bool answered = r2.c.cls == EP_CLASS_REACHABLE || r2.c.refused;
  bool first_answer = answered && rs->reachable[port_idx]++ == 0;
  if (first_answer || (!was_established && id_established(t))) {
    recheck_port(rs, port_idx);
  }
}

void ep_records_flush(ep_records_t *rs) {
  for (size_t i = 0; i < rs->n_held; i++) {
    rejudge(rs, &rs->held[i], true);
  }
  free(rs->held);
  rs->held = NULL;
  rs->n_held = rs->held_alloc = 0;
  for (size_t p = 0; p < EP_SCAN_MAX_PORTS; p++) {
    free(rs->ids[p].v);
    memset(&rs->ids[p], 0, sizeof rs->ids[p]);
  }
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

void ep_scan_summary_add_dns(ep_scan_summary_t *sum, const ep_relay_ref_t *exit, unsigned cls,
                             const char *name, const char *detail) {
  if (cls >= EP_SCAN_DNS_CLASSES) {
    return;
  }
  sum->dns[cls]++;
  if (strcmp(name, "broken") != 0 && strcmp(name, "wrong") != 0) {
    return;
  }
  ep_err_t err = {0};
  if (EP_VEC_RESERVE(sum->dns_faults, sum->dns_faults_alloc, sum->n_dns_faults + 1,
                     EP_CAP_VIOLATORS, "DNS faults", &err) != EP_OK) {
    sum->dns_faults_left_out++;
    return;
  }
  ep_scan_dns_fault_t *f = &sum->dns_faults[sum->n_dns_faults++];
  f->exit = *exit;
  snprintf(f->cls, sizeof f->cls, "%s", name);
  snprintf(f->detail, sizeof f->detail, "%s", detail);
}

void ep_scan_summary_free(ep_scan_summary_t *sum) {
  if (sum != NULL) {
    free(sum->violators);
    sum->violators = NULL;
    sum->n_violators = sum->violators_alloc = 0;
    free(sum->dns_faults);
    sum->dns_faults = NULL;
    sum->n_dns_faults = sum->dns_faults_alloc = 0;
  }
}

/* DNS (#14): exits per class, then the broken and wrong ones. */
static void summary_print_dns(const ep_scan_summary_t *sum, FILE *out) {
  size_t tried = sum->dns[1] + sum->dns[2] + sum->dns[3] + sum->dns[4];
  if (tried == 0) {
    return;
  }
  fprintf(out, "dns: %zu ok, %zu broken, %zu wrong, %zu undecided, %zu not tried\n", sum->dns[1],
          sum->dns[2], sum->dns[3], sum->dns[4], sum->dns[0]);
  static const char *const kinds[] = {"broken", "wrong"};
  static const char *const heads[] = {
      "\nDNS broken (a name that resolves through other exits fails here; ports judged by address):\n",
      "\nDNS wrong (answers no other exit gave):\n"};
  for (size_t k = 0; k < 2; k++) {
    bool head = false;
    for (size_t i = 0; i < sum->n_dns_faults; i++) {
      const ep_scan_dns_fault_t *f = &sum->dns_faults[i];
      if (strcmp(f->cls, kinds[k]) != 0) {
        continue;
      }
      if (!head) {
        fputs(heads[k], out);
        head = true;
      }
      char nick[4 * sizeof f->exit.nickname + 1];
      char detail[4 * sizeof f->detail + 1];
      ep_escape_text(nick, sizeof nick, f->exit.nickname, strlen(f->exit.nickname));
      ep_escape_text(detail, sizeof detail, f->detail, strlen(f->detail));
      fprintf(out, "  %s %-19s %s\n", f->exit.fingerprint, nick, detail);
    }
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
  summary_print_dns(sum, out);
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
