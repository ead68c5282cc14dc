/* exitprobe — JSON Lines result records. */
#include "config.h"

#include "probe/engine/result.h"

#include <stdio.h>
#include <string.h>

#include "lib/caps.h"
#include "lib/json.h"
#include "lib/timeutil.h"

void ep_result_init(ep_result_t *r) {
  memset(r, 0, sizeof *r);
  r->end_reason = -1;
  r->exitpolicy_ttl = -1;
  r->circuit_ms = -1;
  r->answer_ms = -1;
  r->total_ms = -1;
  r->policy_basis = "unknown";
  r->retry_cls = EP_CLASS_COUNT;
  r->verdict = EP_VERDICT_INCONCLUSIVE;
  r->confirm_cls = EP_CLASS_COUNT;
  r->ip_version = 4;
  snprintf(r->dns, sizeof r->dns, "not-tried");
}

const char *ep_svc_id_kind_name(ep_svc_id_kind_t k) {
  switch (k) {
    case EP_SVC_ID_CERT: return "cert";
    case EP_SVC_ID_HOSTNAME: return "hostname";
    case EP_SVC_ID_IRC_SERVER: return "irc-server";
    case EP_SVC_ID_XMPP_FROM: return "xmpp-from";
    default: return NULL;
  }
}

void ep_result_set_service(ep_result_t *r, ep_svc_spec_t spec, const ep_svc_result_t *svc) {
  snprintf(r->service, sizeof r->service, "%s", ep_svc_name(spec));
  if (svc == NULL) {
    return;
  }
  snprintf(r->service_answer, sizeof r->service_answer, "%s", svc->answer);
  r->identity_kind = svc->id_kind;
  snprintf(r->identity, sizeof r->identity, "%s", svc->identity);
  if (spec.tls && svc->tls_done) {
    snprintf(r->tls_version, sizeof r->tls_version, "%s", svc->tls_version);
    r->tls_resumed = svc->tls_resumed;
    snprintf(r->cert_sha256, sizeof r->cert_sha256, "%s", svc->cert_sha256);
    snprintf(r->cert_subject, sizeof r->cert_subject, "%s", svc->cert_subject);
    snprintf(r->cert_issuer, sizeof r->cert_issuer, "%s", svc->cert_issuer);
  }
}

static int key(ep_buf_t *o, const char *k, ep_err_t *err) {
  int rc = ep_json_put_str(o, k, strlen(k), err);
  return rc != EP_OK ? rc : ep_buf_append(o, ":", 1, err);
}

static int kv_str(ep_buf_t *o, const char *k, const char *v, bool comma, ep_err_t *err) {
  int rc = key(o, k, err);
  if (rc == EP_OK) {
    rc = ep_json_put_str(o, v, strlen(v), err);
  }
  if (rc == EP_OK && comma) {
    rc = ep_buf_append(o, ",", 1, err);
  }
  return rc;
}

static int kv_int(ep_buf_t *o, const char *k, int64_t v, bool null_if_negative, bool comma,
                  ep_err_t *err) {
  int rc = key(o, k, err);
  if (rc == EP_OK) {
    rc = (null_if_negative && v < 0) ? ep_buf_append_str(o, "null", err)
                                     : ep_buf_printf(o, err, "%lld", (long long)v);
  }
  if (rc == EP_OK && comma) {
    rc = ep_buf_append(o, ",", 1, err);
  }
  return rc;
}

static int kv_bool(ep_buf_t *o, const char *k, bool v, bool comma, ep_err_t *err) {
  int rc = key(o, k, err);
  if (rc == EP_OK) {
    rc = ep_buf_append_str(o, v ? "true" : "false", err);
  }
  if (rc == EP_OK && comma) {
    rc = ep_buf_append(o, ",", 1, err);
  }
  return rc;
}

/* A string, or null when empty (v NULL too). */
static int kv_str_or_null(ep_buf_t *o, const char *k, const char *v, bool comma, ep_err_t *err) {
  if (v != NULL && v[0] != '\0') {
    return kv_str(o, k, v, comma, err);
  }
  int rc = key(o, k, err);
  if (rc == EP_OK) {
    rc = ep_buf_append_str(o, comma ? "null," : "null", err);
  }
  return rc;
}

/* String fields, each followed by a comma (the contact block follows). */
static int str_fields(ep_buf_t *o, const char *const (*kv)[2], size_t n, ep_err_t *err) {
  int rc = EP_OK;
  for (size_t i = 0; i < n && rc == EP_OK; i++) {
    rc = kv_str_or_null(o, kv[i][0], kv[i][1], true, err);
  }
  return rc;
}

/* The services block (#11), before the contact block (#12). */
static int service_fields(const ep_result_t *r, ep_buf_t *o, ep_err_t *err) {
  const char *const head[][2] = {
      {"service", r->service}, {"service_answer", r->service_answer}, {"tls_version", r->tls_version}};
  const char *const tail[][2] = {
      {"cert_sha256", r->cert_sha256},   {"cert_subject", r->cert_subject},
      {"cert_issuer", r->cert_issuer},   {"identity", r->identity},
      {"identity_kind", ep_svc_id_kind_name(r->identity_kind)},
      {"expected_identity", r->c.expected_identity},
      {"confirm_target", r->confirm_target},
      {"confirm_class", r->confirm_cls < EP_CLASS_COUNT ? ep_class_name(r->confirm_cls) : NULL},
  };
  int rc = str_fields(o, head, sizeof head / sizeof head[0], err);
  if (rc == EP_OK) { /* tls_resumed: null without a TLS handshake */
    rc = r->tls_version[0] != '\0' ? kv_bool(o, "tls_resumed", r->tls_resumed, true, err)
                                   : kv_str_or_null(o, "tls_resumed", NULL, true, err);
  }
  return rc == EP_OK ? str_fields(o, tail, sizeof tail / sizeof tail[0], err) : rc;
}

static int relay(ep_buf_t *o, const char *k, const ep_relay_ref_t *r, ep_err_t *err) {
  int rc = key(o, k, err);
  if (rc == EP_OK) {
    rc = ep_buf_append(o, "{", 1, err);
  }
  if (rc == EP_OK) {
    rc = kv_str(o, "fingerprint", r->fingerprint, true, err);
  }
  if (rc == EP_OK) {
    rc = kv_str(o, "nickname", r->nickname, true, err);
  }
  if (rc == EP_OK) {
    rc = kv_str(o, "address", r->address, true, err);
  }
  if (rc == EP_OK) {
    rc = kv_int(o, "or_port", r->or_port, false, false, err);
  }
  if (rc == EP_OK) {
    rc = ep_buf_append(o, "},", 2, err);
  }
  return rc;
}

int ep_result_to_json(const ep_result_t *r, ep_buf_t *o, ep_err_t *err) {
  char when[32];
  ep_time_format_iso(when, sizeof when, r->started);
  int rc = ep_buf_append(o, "{", 1, err);
  if (rc == EP_OK) rc = kv_str(o, "schema", EP_RESULT_SCHEMA, true, err);
  if (rc == EP_OK) rc = kv_int(o, "round", r->round, false, true, err);
  if (rc == EP_OK) rc = kv_str(o, "time", when, true, err);
  if (rc == EP_OK) rc = relay(o, "exit", &r->exit, err);
  if (rc == EP_OK) rc = relay(o, "first_hop", &r->first_hop, err);
  if (rc == EP_OK) rc = kv_str(o, "target", r->target_host, true, err);
  if (rc == EP_OK) rc = kv_int(o, "port", r->port, false, true, err);
  if (rc == EP_OK) rc = kv_str(o, "policy_basis", r->policy_basis, true, err);
  if (rc == EP_OK) rc = kv_bool(o, "policy_may_be_restricted", r->policy_may_be_restricted, true, err);
  if (rc == EP_OK) rc = kv_str(o, "class", ep_class_name(r->c.cls), true, err);
  if (rc == EP_OK) rc = kv_str(o, "detail", r->c.why, true, err);
  if (rc == EP_OK) rc = kv_int(o, "end_reason", r->end_reason, true, true, err);
  if (rc == EP_OK) {
    char rn[24] = "";
    if (r->end_reason >= 0) {
      ep_end_reason_upper(r->end_reason, rn, sizeof rn);
    }
    rc = kv_str(o, "end_reason_name", rn, true, err);
  }
  if (rc == EP_OK && r->exitpolicy_addr[0] != '\0') {
    rc = kv_str(o, "exitpolicy_address", r->exitpolicy_addr, true, err);
    if (rc == EP_OK) rc = kv_int(o, "exitpolicy_ttl", r->exitpolicy_ttl, true, true, err);
  }
  if (rc == EP_OK && r->c.greeting.len > 0) {
    rc = key(o, "banner", err);
    if (rc == EP_OK) rc = ep_json_put_str(o, r->c.greeting.text, r->c.greeting.len, err);
    if (rc == EP_OK) rc = ep_buf_append(o, ",", 1, err);
    if (rc == EP_OK) rc = kv_bool(o, "banner_capped", r->c.greeting.capped, true, err);
    if (rc == EP_OK) rc = kv_int(o, "banner_code", r->c.greeting.code, false, true, err);
  }
  if (rc == EP_OK) rc = kv_int(o, "circuit_ms", r->circuit_ms, true, true, err);
  if (rc == EP_OK) rc = kv_int(o, "answer_ms", r->answer_ms, true, true, err);
  if (rc == EP_OK) rc = kv_int(o, "total_ms", r->total_ms, true, true, err);
  if (rc == EP_OK) {
    rc = kv_str(o, "control", !r->control_tried ? "not-tried" : (r->control_ok ? "ok" : "failed"), true, err);
  }
  if (rc == EP_OK && r->control_detail[0] != '\0') {
    rc = kv_str(o, "control_detail", r->control_detail, true, err);
  }
  if (rc == EP_OK) {
    rc = kv_str(o, "retry_class", r->retry_tried ? ep_class_name(r->retry_cls) : "not-tried", true, err);
  }
  if (rc == EP_OK && r->retry_tried) {
    rc = kv_str(o, "retry_first_hop", r->retry_first_hop, true, err);
  }
  if (rc == EP_OK) rc = kv_str(o, "verdict", ep_verdict_name(r->verdict), true, err);
  if (rc == EP_OK) rc = kv_str(o, "why", r->verdict_why, true, err);
  if (rc == EP_OK) rc = service_fields(r, o, err);
  /* public network (#13) */
  if (rc == EP_OK) rc = kv_str_or_null(o, "vantage", r->vantage, true, err);
  if (rc == EP_OK) rc = kv_int(o, "ip_version", r->ip_version, false, true, err);
  if (rc == EP_OK) rc = kv_str_or_null(o, "connected_addr", r->connected_addr, true, err);
  /* DNS health (#14) */
  if (rc == EP_OK) rc = kv_str(o, "dns", r->dns, true, err);
  if (rc == EP_OK) rc = kv_str_or_null(o, "dns_detail", r->dns_detail, true, err);
  if (rc == EP_OK) rc = kv_str_or_null(o, "dns_reprobe_address", r->dns_reprobe_addr, true, err);
  /* the operator (#12): the record's last block */
  if (rc == EP_OK) rc = ep_relay_contact_json(r->contact, o, false, err);
  if (rc == EP_OK) rc = ep_buf_append(o, "}\n", 2, err);
  return rc;
}

int ep_result_write(const ep_result_t *r, FILE *f, ep_err_t *err) {
  ep_buf_t b;
  ep_buf_init(&b, 64 * EP_KiB, "result record", 0);
  int rc = ep_result_to_json(r, &b, err);
  if (rc == EP_OK) {
    if (fwrite(b.data, 1, b.len, f) != b.len || fflush(f) != 0) {
      rc = ep_err_set(err, EP_ERR_IO, "cannot write a result record");
    }
  }
  ep_buf_free(&b);
  return rc;
}
