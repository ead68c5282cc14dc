/* exitprobe — exit policies: summaries ("p accept 20-23,25", "p6 ...") and full
 * policies (server descriptor accept/reject/accept6/reject6 lines, torrc-style
 * "accept 1.2.3.0/24:80-443", "*4", "*6"), and the question the scanner asks:
 * does this relay accept port P (to address A, or to an unspecified address)?
 *
 * The answer says which basis answered it (summary or full policy) and how
 * sure it is. Tor builds a summary from a full policy like this (policies.c,
 * policy_summarize): an "accept" rule counts only when it is for every address
 * ("*:P"); "reject" rules for private networks are ignored, other rejects are
 * counted by how many IPv4 addresses they cover, and a port is summarised as
 * accepted only if fewer than 2^25 addresses (a /7) were rejected before the
 * "accept *:P". So:
 *   - a summary that lists P as accepted means "accepted to most addresses";
 *     a few addresses may still be rejected (some_rejected);
 *   - a summary that does not list P can hide an address-restricted accept
 *     ("accept 1.2.3.4:25"): may_be_restricted. */
#ifndef EP_DIR_POLICY_H
#define EP_DIR_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"
#include "lib/err.h"

/* Parse "1.2.3.4", "2001:db8::1" or "[2001:db8::1]" (lib/addr.h's
 * ep_ipaddr_format writes one); 0 or -1. */
int ep_dir_addr_parse(const char *s, size_t n, ep_ipaddr_t *out);

typedef struct ep_port_range {
  uint16_t lo, hi;
} ep_port_range_t;

/* A policy summary: the listed ports are accepted ("accept") or rejected
 * ("reject"), every other port the opposite. */
typedef struct ep_policy_summary {
  bool accept;
  uint16_t n;                      /* number of ranges */
  const ep_port_range_t *ranges;   /* owned by the summary's container */
} ep_policy_summary_t;

/* Parse "accept 20-23,43" / "reject 1-65535" (s[0..n)) into ranges[] (at most
 * cap; each range lo <= hi, ports 1..65535). Returns the number of ranges or
 * a negative ep_status_t; *accept is set. Messages name what, not where (the
 * caller wraps them with the document and line). */
int ep_policy_summary_parse_ranges(const char *s, size_t n, bool *accept, ep_port_range_t *ranges,
                                   size_t cap, ep_err_t *err);
/* A standalone, owned summary (ranges allocated with it). */
ep_policy_summary_t *ep_policy_summary_new(const char *s, size_t n, ep_err_t *err);
void ep_policy_summary_free(ep_policy_summary_t *s);   /* NULL-safe; only for _new results */
/* The "reject 1-65535" summary (a missing p/p6 line). Static, never freed. */
const ep_policy_summary_t *ep_policy_summary_reject_all(void);
/* Does the summary list port as accepted? (port 0: never) */
bool ep_policy_summary_allows(const ep_policy_summary_t *s, uint16_t port);
/* "accept 20-23,25" into out (truncated with "..." if too small). */
void ep_policy_summary_format(const ep_policy_summary_t *s, char *out, size_t outcap);

/* One rule of a full policy. */
typedef struct ep_policy_rule {
  bool accept;
  uint8_t family;        /* 0: both ("*" in torrc), 4 or 6 */
  uint8_t maskbits;      /* 0: every address of the family */
  uint8_t addr[16];      /* masked network address */
  uint16_t port_lo, port_hi;
} ep_policy_rule_t;

/* How a bare "*" is read: descriptors' accept/reject lines mean IPv4
 * (EP_POLICY_STAR_V4), accept6/reject6 IPv6, torrc both. */
#define EP_POLICY_STAR_BOTH 0
#define EP_POLICY_STAR_V4 4
#define EP_POLICY_STAR_V6 6

/* Parse one exitpattern "addrspec:portspec" (s[0..n)): addrspec is "*",
 * "*4", "*6", an IPv4 address with optional /bits or /dotted-mask, or a
 * bracketed IPv6 address with optional /bits; portspec is "*", "P" or "P-Q".
 * star_family says what "*" means. 0 or a negative ep_status_t. */
int ep_policy_rule_parse(const char *s, size_t n, bool accept, int star_family,
                         ep_policy_rule_t *out, ep_err_t *err);

/* A full policy: rules in order; no match means accept (dir-spec §2.1.1). */
typedef struct ep_policy ep_policy_t;
ep_policy_t *ep_policy_new(void);
void ep_policy_free(ep_policy_t *p);            /* NULL-safe */
int ep_policy_add(ep_policy_t *p, const ep_policy_rule_t *r, ep_err_t *err);
/* Parse a torrc-style policy: lines or commas of "accept|reject|accept6|reject6
 * exitpattern" (s[0..n)); "*" means both families in accept/reject. */
ep_policy_t *ep_policy_parse(const char *s, size_t n, ep_err_t *err);
size_t ep_policy_count(const ep_policy_t *p);
const ep_policy_rule_t *ep_policy_rule(const ep_policy_t *p, size_t i);

/* The answer to "does it accept port P?" */
typedef enum ep_policy_basis {
  EP_POLICY_BASIS_SUMMARY = 1,
  EP_POLICY_BASIS_FULL = 2
} ep_policy_basis_t;

typedef enum ep_policy_verdict {
  EP_POLICY_REJECT = 0,       /* not accepted (to A; or to any address of the family) */
  EP_POLICY_ACCEPT = 1,       /* accepted (to A; or to every/most addresses) */
  EP_POLICY_ACCEPT_SOME = 2   /* address unspecified: accepted only to some addresses */
} ep_policy_verdict_t;

typedef struct ep_policy_answer {
  ep_policy_verdict_t verdict;
  ep_policy_basis_t basis;
  bool may_be_restricted;  /* summary "not accepted": an address-restricted accept may hide behind it */
  bool some_rejected;      /* accepted, but some addresses are (full) or may be (summary) rejected */
} ep_policy_answer_t;

/* Ask a summary (IPv4 "p" or IPv6 "p6"; NULL means reject-all). */
ep_policy_answer_t ep_policy_summary_eval(const ep_policy_summary_t *s, uint16_t port);
/* Ask a full policy about port to addr, or (addr NULL) to an unspecified
 * address of `family` (4 or 6). */
ep_policy_answer_t ep_policy_eval(const ep_policy_t *p, const ep_ipaddr_t *addr, int family,
                                  uint16_t port);

/* "accept", "reject", "accept-some". */
const char *ep_policy_verdict_name(ep_policy_verdict_t v);
/* "summary", "full-policy". */
const char *ep_policy_basis_name(ep_policy_basis_t b);
/* "accept (summary)", "reject (summary, may-be-restricted)",
 * "accept (full-policy, some-rejected)". */
void ep_policy_answer_format(const ep_policy_answer_t *a, char *out, size_t outcap);

/* Summarise a full policy for one family the way tor does (see above):
 * writes up to cap ranges, returns the number written (negative on error);
 * *accept tells which kind the list is. Useful to compare a descriptor's
 * policy with the consensus "p" line. */
int ep_policy_summarize(const ep_policy_t *p, int family, bool *accept, ep_port_range_t *ranges,
                        size_t cap);

#endif
