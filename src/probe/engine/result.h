/* exitprobe — one result record per (round, exit, port), written as one
 * JSON Lines record (schema "exitprobe/result/1", documented in the README)
 * and flushed when written, so nothing measured is lost on a crash. */
#ifndef EP_PROBE_RESULT_H
#define EP_PROBE_RESULT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "lib/buf.h"
#include "lib/caps.h"
#include "lib/err.h"
#include "probe/engine/classify.h"
#include "probe/engine/contact.h"

#define EP_RESULT_SCHEMA "exitprobe/result/1"

typedef struct ep_relay_ref {
  char fingerprint[41];      /* hex, upper case */
  char nickname[20];         /* as the directory gave it (escaped on output) */
  char address[48];          /* IPv4 or IPv6 */
  uint16_t or_port;
} ep_relay_ref_t;

typedef struct ep_result {
  unsigned round;
  time_t started;            /* wall clock when the probe began */
  ep_relay_ref_t exit;
  ep_relay_ref_t first_hop;
  char target_host[256];
  uint16_t port;
  const char *policy_basis;  /* "summary", "full", ... (static string) */
  bool policy_may_be_restricted;
  ep_classification_t c;     /* class, greeting, why */
  int end_reason;            /* raw END reason byte, -1 if none */
  char exitpolicy_addr[48];  /* EXITPOLICY's address, "" if none */
  int64_t exitpolicy_ttl;    /* -1 if none */
  int64_t circuit_ms;        /* time to build the circuit, -1 if not built */
  int64_t answer_ms;         /* BEGIN to CONNECTED/END, -1 if none */
  int64_t total_ms;
  bool control_tried, control_ok;
  char control_detail[96];
  bool retry_tried;
  ep_class_t retry_cls;
  char retry_first_hop[41];
  ep_verdict_t verdict;
  char verdict_why[160];
  /* Services (#11): what the service check said. "" is null in the record. */
  char service[16];                    /* "smtp", "https", "tcp", ...; "" no check */
  char service_answer[EP_SVC_ANSWER];  /* one line (raw bytes; escaped in JSON) */
  char tls_version[16];                /* "" (null): no TLS handshake done */
  bool tls_resumed;                    /* the handshake resumed an earlier check's session */
  char cert_sha256[65];
  char cert_subject[EP_SVC_IDENTITY];
  char cert_issuer[EP_SVC_IDENTITY];
  char identity[EP_SVC_IDENTITY];      /* what named the destination (the majority's, when
                                          class is intercepted: c.expected_identity) */
  ep_svc_id_kind_t identity_kind;      /* EP_SVC_ID_NONE: null */
  char confirm_target[256];            /* the second default target re-test, "" none */
  ep_class_t confirm_cls;              /* its class (EP_CLASS_COUNT: none) */
  /* Issue #12: the exit's contact information (borrowed from the caller:
   * ep_scan_relay_t.contact; NULL: unknown, written as nulls). */
  const ep_relay_contact_t *contact;
  /* public network (#13): where the scan ran, which family the exit used */
  char vantage[EP_CAP_VANTAGE + 1];  /* --vantage NAME; "": null */
  uint8_t ip_version;                /* 4 or 6: the family the probe asked for */
  char connected_addr[48];           /* the address CONNECTED named; "": null */
  /* DNS health of the exit (#14), the same in each of its records */
  char dns[12];                      /* "ok", "broken", "wrong", "undecided", "not-tried" */
  char dns_detail[320];              /* each name's answer, one line (relay text escaped); "": null */
  char dns_reprobe_addr[48];         /* the port was probed by this address after its name failed; "": null */
} ep_result_t;

void ep_result_init(ep_result_t *r);
/* The service check's findings into r's service fields (svc NULL: only
 * the service name). */
void ep_result_set_service(ep_result_t *r, ep_svc_spec_t spec, const ep_svc_result_t *svc);
/* "cert", "hostname", "irc-server", "xmpp-from"; NULL for none. */
const char *ep_svc_id_kind_name(ep_svc_id_kind_t k);
/* Appends one JSON object and a newline to out. */
int ep_result_to_json(const ep_result_t *r, ep_buf_t *out, ep_err_t *err);
/* Writes the record to f and flushes it. */
int ep_result_write(const ep_result_t *r, FILE *f, ep_err_t *err);

/* The same record as one RFC 4180 CSV row (scan --csv, result_csv.c): the
 * JSON record's fields in its order, nested objects flattened (exit_nickname),
 * null and absent fields empty, family's entries joined by spaces; quoting
 * and the formula guard of ep_escape_csv_buf. */
const char *ep_result_csv_header(void);   /* the header row, CRLF-terminated */
int ep_result_to_csv(const ep_result_t *r, ep_buf_t *out, ep_err_t *err);
int ep_result_write_csv(const ep_result_t *r, FILE *f, ep_err_t *err);

#endif
