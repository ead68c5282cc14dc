/* exitprobe — result records as RFC 4180 CSV (scan --csv): the fields of
 * the JSON record (result.c), in its order, one column each. Nested objects
 * are flattened ("exit" → exit_fingerprint, exit_nickname, ...), null and
 * absent fields are empty cells, family is its entries joined by spaces.
 * Every cell goes through ep_escape_csv_buf (the report's CSV quoting,
 * formula guard included). */
#include "config.h"

#include <string.h>

#include "lib/escape.h"
#include "lib/timeutil.h"
#include "probe/engine/result.h"

static const char csv_header[] =
    "schema,round,time,exit_fingerprint,exit_nickname,exit_address,exit_or_port,"
    "first_hop_fingerprint,first_hop_nickname,first_hop_address,first_hop_or_port,target,port,"
    "policy_basis,policy_may_be_restricted,class,detail,end_reason,end_reason_name,"
    "exitpolicy_address,exitpolicy_ttl,banner,banner_capped,banner_code,circuit_ms,answer_ms,"
    "total_ms,control,control_detail,retry_class,retry_first_hop,verdict,why,service,"
    "service_answer,tls_version,tls_resumed,cert_sha256,cert_subject,cert_issuer,identity,identity_kind,"
    "expected_identity,confirm_target,confirm_class,vantage,ip_version,connected_addr,dns,dns_detail,"
    "dns_reprobe_address,contact,"
    "contact_email,contact_url,ciiss_version,ciiss_proof,platform,family\r\n";

const char *ep_result_csv_header(void) { return csv_header; }

/* One cell of n bytes and its separator. */
static int cell_n(ep_buf_t *o, const void *v, size_t n, ep_err_t *err) {
  int rc = ep_escape_csv_buf(o, v, n, err);
  return rc == EP_OK ? ep_buf_append(o, ",", 1, err) : rc;
}

static int cell(ep_buf_t *o, const char *v, ep_err_t *err) {
  return cell_n(o, v != NULL ? v : "", v != NULL ? strlen(v) : 0, err);
}

static int cell_int(ep_buf_t *o, int64_t v, bool empty_if_negative, ep_err_t *err) {
  return (empty_if_negative && v < 0) ? ep_buf_append(o, ",", 1, err)
                                      : ep_buf_printf(o, err, "%lld,", (long long)v);
}

static int cell_bool(ep_buf_t *o, bool v, ep_err_t *err) {
  return ep_buf_append_str(o, v ? "true," : "false,", err);
}

static int relay(ep_buf_t *o, const ep_relay_ref_t *r, ep_err_t *err) {
  int rc = cell(o, r->fingerprint, err);
  if (rc == EP_OK) rc = cell(o, r->nickname, err);
  if (rc == EP_OK) rc = cell(o, r->address, err);
  return rc == EP_OK ? cell_int(o, r->or_port, false, err) : rc;
}

static int optional_parts(const ep_result_t *r, ep_buf_t *o, ep_err_t *err) {
  bool epol = r->exitpolicy_addr[0] != '\0';
  int rc = cell(o, r->exitpolicy_addr, err);
  if (rc == EP_OK) rc = epol ? cell_int(o, r->exitpolicy_ttl, true, err) : cell(o, "", err);
  const ep_greeting_t *g = &r->c.greeting;
  if (rc == EP_OK) rc = cell_n(o, g->text, g->len, err);
  if (rc == EP_OK) rc = g->len > 0 ? cell_bool(o, g->capped, err) : cell(o, "", err);
  if (rc == EP_OK) rc = g->len > 0 ? cell_int(o, g->code, false, err) : cell(o, "", err);
  return rc;
}

static int contact(const ep_relay_contact_t *c, ep_buf_t *o, ep_err_t *err) {
  static const ep_relay_contact_t none;
  c = c != NULL ? c : &none;
  int rc = cell_n(o, c->contact, c->has_contact ? c->contact_len : 0, err);
  const char *strs[] = {c->email, c->url, c->ciiss_version, c->ciiss_proof};
  for (size_t i = 0; i < sizeof strs / sizeof strs[0] && rc == EP_OK; i++) {
    rc = cell(o, strs[i], err);
  }
  if (rc == EP_OK) rc = cell_n(o, c->platform, c->has_platform ? c->platform_len : 0, err);
  /* family: the entries joined by spaces, as one cell (then the row's end) */
  ep_buf_t fam;
  ep_buf_init(&fam, (EP_CAP_FAMILY_ENTRY + 1) * EP_CAP_FAMILY_MEMBERS, "CSV family cell", 0);
  for (size_t i = 0; rc == EP_OK && i < c->n_family; i++) {
    if (i > 0) rc = ep_buf_append(&fam, " ", 1, err);
    if (rc == EP_OK) rc = ep_buf_append_str(&fam, c->family[i], err);
  }
  if (rc == EP_OK) rc = ep_escape_csv_buf(o, fam.data, fam.len, err);
  ep_buf_free(&fam);
  return rc == EP_OK ? ep_buf_append(o, "\r\n", 2, err) : rc;
}

int ep_result_to_csv(const ep_result_t *r, ep_buf_t *o, ep_err_t *err) {
  char when[32], rn[24] = "";
  ep_time_format_iso(when, sizeof when, r->started);
  if (r->end_reason >= 0) {
    ep_end_reason_upper(r->end_reason, rn, sizeof rn);
  }
  int rc = cell(o, EP_RESULT_SCHEMA, err);
  if (rc == EP_OK) rc = cell_int(o, r->round, false, err);
  if (rc == EP_OK) rc = cell(o, when, err);
  if (rc == EP_OK) rc = relay(o, &r->exit, err);
  if (rc == EP_OK) rc = relay(o, &r->first_hop, err);
  if (rc == EP_OK) rc = cell(o, r->target_host, err);
  if (rc == EP_OK) rc = cell_int(o, r->port, false, err);
  if (rc == EP_OK) rc = cell(o, r->policy_basis, err);
  if (rc == EP_OK) rc = cell_bool(o, r->policy_may_be_restricted, err);
  if (rc == EP_OK) rc = cell(o, ep_class_name(r->c.cls), err);
  if (rc == EP_OK) rc = cell(o, r->c.why, err);
  if (rc == EP_OK) rc = cell_int(o, r->end_reason, true, err);
  if (rc == EP_OK) rc = cell(o, rn, err);
  if (rc == EP_OK) rc = optional_parts(r, o, err);
  if (rc == EP_OK) rc = cell_int(o, r->circuit_ms, true, err);
  if (rc == EP_OK) rc = cell_int(o, r->answer_ms, true, err);
  if (rc == EP_OK) rc = cell_int(o, r->total_ms, true, err);
  if (rc == EP_OK) {
    rc = cell(o, !r->control_tried ? "not-tried" : (r->control_ok ? "ok" : "failed"), err);
  }
  if (rc == EP_OK) rc = cell(o, r->control_detail, err);
  if (rc == EP_OK) {
    rc = cell(o, r->retry_tried ? ep_class_name(r->retry_cls) : "not-tried", err);
  }
  if (rc == EP_OK) rc = cell(o, r->retry_tried ? r->retry_first_hop : "", err);
  if (rc == EP_OK) rc = cell(o, ep_verdict_name(r->verdict), err);
  if (rc == EP_OK) rc = cell(o, r->verdict_why, err);
  const char *svc[] = {
      r->service, r->service_answer, r->tls_version,
      /* tls_resumed, as in the JSON record: empty without a TLS handshake */
      r->tls_version[0] == '\0' ? "" : (r->tls_resumed ? "true" : "false"),
      r->cert_sha256, r->cert_subject, r->cert_issuer, r->identity,
      ep_svc_id_kind_name(r->identity_kind), r->c.expected_identity, r->confirm_target,
      r->confirm_cls < EP_CLASS_COUNT ? ep_class_name(r->confirm_cls) : NULL, r->vantage};
  for (size_t i = 0; i < sizeof svc / sizeof svc[0] && rc == EP_OK; i++) {
    rc = cell(o, svc[i], err);
  }
  if (rc == EP_OK) rc = cell_int(o, r->ip_version, false, err);
  if (rc == EP_OK) rc = cell(o, r->connected_addr, err);
  if (rc == EP_OK) rc = cell(o, r->dns, err);
  if (rc == EP_OK) rc = cell(o, r->dns_detail, err);
  if (rc == EP_OK) rc = cell(o, r->dns_reprobe_addr, err);
  return rc == EP_OK ? contact(r->contact, o, err) : rc;
}

int ep_result_write_csv(const ep_result_t *r, FILE *f, ep_err_t *err) {
  ep_buf_t b;
  ep_buf_init(&b, 64 * EP_KiB, "CSV record", 0);
  int rc = ep_result_to_csv(r, &b, err);
  if (rc == EP_OK && (fwrite(b.data, 1, b.len, f) != b.len || fflush(f) != 0)) {
    rc = ep_err_set(err, EP_ERR_IO, "cannot write a CSV record");
  }
  ep_buf_free(&b);
  return rc;
}
