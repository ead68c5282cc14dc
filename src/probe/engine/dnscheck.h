/* exitprobe — the DNS health of exits (issue #14), sans I/O.
 *
 * On each exit's circuit the scan sends RELAY_RESOLVE for the round's target
 * names (and, with --dns-probe-domain, for one name unique to the exit and
 * round under a wildcard zone). What each RESOLVE got is an ep_dns_answer_t;
 * the round keeps a tally per name across exits (how many exits resolved it,
 * how many failed, which addresses they gave and how often). An exit's class
 * compares its answers with the tally:
 *   broken     a RESOLVE failed (RESOLVED error, END, no address, our
 *              deadline) for a name that resolved through another exit;
 *   wrong      it answered a name with addresses none of the (at least two)
 *              other exits that resolved the name gave (a hijacking resolver);
 *   ok         it resolved a name, and nothing above;
 *   undecided  only failures, for names no other exit resolved either (the
 *              name, not the exit, may be at fault);
 *   not-tried  no RESOLVE was answered (none sent, circuit gone).
 * Broken wins over wrong, wrong over ok. The tally has a cap per name
 * (EP_DNS_MAX_TALLY addresses): past it, a new address is counted only in
 * the name's totals. */
#ifndef EP_PROBE_DNSCHECK_H
#define EP_PROBE_DNSCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"
#include "lib/err.h"
#include "probe/engine/records.h"   /* EP_SCAN_MAX_PORTS */
#include "proto/relaymsg.h"

#define EP_DNS_MAX_NAMES (EP_SCAN_MAX_PORTS + 1)  /* the target names + the unique name */
#define EP_DNS_MAX_ADDRS 4                          /* addresses kept from one answer */
#define EP_DNS_MAX_TALLY 64                         /* distinct addresses tallied per name */
#define EP_DNS_QUORUM 2     /* "wrong": at least this many other exits, most of them agreeing */
#define EP_DNS_DETAIL 320                           /* the record's dns_detail */

typedef enum ep_dns_class {
  EP_DNS_NOT_TRIED = 0,
  EP_DNS_OK,
  EP_DNS_BROKEN,
  EP_DNS_WRONG,
  EP_DNS_UNDECIDED,
  EP_DNS_CLASS_COUNT
} ep_dns_class_t;

typedef enum ep_dns_status {
  EP_DNS_PENDING = 0,       /* not sent, or no answer yet */
  EP_DNS_ANSWERED,          /* RESOLVED with at least one address */
  EP_DNS_NO_ADDRESS,        /* RESOLVED with no address (host names, unknown types only) */
  EP_DNS_ERROR,             /* RESOLVED error, nontransient */
  EP_DNS_ERROR_TRANSIENT,   /* RESOLVED error, transient */
  EP_DNS_END,               /* the exit sent END instead */
  EP_DNS_TIMEOUT,           /* our deadline */
  EP_DNS_LOST               /* the circuit went before an answer */
} ep_dns_status_t;

/* What one RESOLVE got from one exit. */
typedef struct ep_dns_answer {
  size_t name_idx;                        /* in the round's names */
  ep_dns_status_t status;
  uint8_t end_reason;                     /* EP_DNS_END */
  int64_t ms;                             /* RESOLVE to answer (-1: none) */
  size_t n_addrs;                         /* kept (A and AAAA, in the exit's order) */
  size_t n_more;                          /* addresses past EP_DNS_MAX_ADDRS */
  ep_ipaddr_t addrs[EP_DNS_MAX_ADDRS];
  uint32_t ttls[EP_DNS_MAX_ADDRS];
} ep_dns_answer_t;

/* One exit's answers this round (one per name asked). */
typedef struct ep_dns_exit {
  size_t n;
  ep_dns_answer_t a[EP_DNS_MAX_NAMES];
  char unique[EP_BEGIN_HOST_MAX + 1];     /* its unique name ("" none) */
} ep_dns_exit_t;

typedef struct ep_dns_addr_count {
  ep_ipaddr_t addr;
  unsigned n;                             /* exits that gave it */
} ep_dns_addr_count_t;

typedef struct ep_dns_name {
  char name[EP_BEGIN_HOST_MAX + 1];       /* the unique names: "*.DOMAIN" */
  unsigned resolved, failed;              /* exits */
  ep_dns_addr_count_t tally[EP_DNS_MAX_TALLY];
  size_t n_tally;
} ep_dns_name_t;

typedef struct ep_dns_round {
  ep_dns_name_t names[EP_DNS_MAX_NAMES];
  size_t n_names;
  bool has_unique;                        /* names[n_names - 1] is "*.DOMAIN" */
  char domain[EP_BEGIN_HOST_MAX + 1];
} ep_dns_round_t;

/* True unless host is an IPv4 or IPv6 literal (brackets allowed). */
bool ep_dns_is_name(const char *host);

/* The round's names: the distinct host names among hosts[0..n-1] (IP
 * literals left out), then "*.domain" when domain is non-NULL. EP_ERR_LIMIT
 * past EP_DNS_MAX_NAMES, EP_ERR_MALFORMED for a domain that leaves no room
 * for a label (or is empty). */
int ep_dns_round_init(ep_dns_round_t *r, const char *const *hosts, size_t n, const char *domain,
                      ep_err_t *err);
/* The name unique to one exit and round: "r<round>-<first 16 of fp,
 * lower case>-<8 hex of salt>.<domain>". Returns buf. */
const char *ep_dns_unique_name(char *buf, size_t cap, const char *domain, unsigned round,
                               const char *fingerprint, uint32_t salt);

/* What a RESOLVED body said (ms: RESOLVE to answer). */
void ep_dns_answer_resolved(ep_dns_answer_t *a, const ep_resolved_t *res, int64_t ms);
/* Count an exit's answer in the round's tally (pending and lost ones are
 * not counted). */
void ep_dns_round_add(ep_dns_round_t *r, const ep_dns_answer_t *a);
/* The address most exits gave for name i, of the family asked (v6 or not);
 * false if none. */
bool ep_dns_consensus_addr(const ep_dns_round_t *r, size_t name_idx, bool v6, ep_ipaddr_t *out);
/* Did the exit's RESOLVE of name i fail (answered, but no address)? */
bool ep_dns_exit_failed(const ep_dns_exit_t *e, size_t name_idx);

/* The exit's class against the round's tally (its own answers are in the
 * tally already), and one line naming each name's answer into detail. */
ep_dns_class_t ep_dns_judge(const ep_dns_round_t *r, const ep_dns_exit_t *e, char *detail,
                            size_t cap);

/* "not-tried", "ok", "broken", "wrong", "undecided". */
const char *ep_dns_class_name(ep_dns_class_t c);
/* The class of a name (NULL: none): EP_DNS_CLASS_COUNT if unknown. */
ep_dns_class_t ep_dns_class_parse(const char *s);

#endif
