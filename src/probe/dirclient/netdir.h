/* exitprobe — the prober's view of the network: one verified consensus
 * joined with the microdescriptors (and, when fetched, server descriptors)
 * of its relays.
 *
 * A netdir is built from a consensus the caller has already verified
 * (signatures and times: probe/dirclient.h does that) and owns it from then
 * on. Microdescriptors are joined by digest: each relay's microdescriptor is
 * looked up by the "m" digest of its consensus entry and checked against it
 * (ep_microdesc_check); a microdescriptor no entry names is ignored. Server
 * descriptors are joined by identity after their signatures verify; with the
 * ns flavour their digest must also equal the entry's.
 *
 * Both flavours work: with the microdesc flavour the policy summary ("p",
 * "p6"), ntor key, Ed25519 id and family come from microdescriptors; with
 * the ns flavour the "p" summary comes from the consensus and there is no
 * ntor key (ep_netdir_target says so): fine for offline analysis, not for
 * building circuits.
 *
 * Relay-supplied text (nicknames are checked [A-Za-z0-9]{1,19} by the
 * parser, family lines are not) is still to be escaped before display. */
#ifndef EP_PROBE_NETDIR_H
#define EP_PROBE_NETDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dir/consensus.h"
#include "dir/microdesc.h"
#include "dir/policy.h"
#include "dir/routerdesc.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "proto/target.h"

typedef struct ep_netdir ep_netdir_t;

/* One relay, as the scanner needs it. Read-only; pointers live as long as
 * the netdir. */
typedef struct ep_relay {
  char nickname[20];
  uint8_t rsa_id[20];
  uint32_t ipv4;                       /* host order */
  uint16_t or_port, dir_port;
  bool has_ipv6;                       /* consensus "a" line, else microdescriptor "a" */
  uint8_t ipv6[16];
  uint16_t ipv6_port;
  uint32_t flags;                      /* EP_RS_* (dir/consensus.h) */
  uint32_t bandwidth;                  /* consensus "w Bandwidth=" (0 if absent) */
  bool has_md;                         /* a microdescriptor matched its "m" digest */
  bool md_invalid;                     /* its microdescriptor came but was malformed */
  bool has_ntor;
  uint8_t ntor_key[32];
  bool has_ed25519;
  uint8_t ed25519_id[32];
  /* The "p" / "p6" summaries: from the microdescriptor (microdesc flavour) or
   * the consensus (ns flavour; p6 is then unknown). Never NULL: a missing
   * line reads as the reject-all summary; has_policy says whether a summary
   * was known at all (false: microdesc flavour without its microdescriptor). */
  bool has_policy;
  const ep_policy_summary_t *policy;
  const ep_policy_summary_t *policy6;
  const char *family;                  /* "family" text, not NUL-terminated; NULL if none */
  size_t family_len;
  const char *family_ids;              /* "family-ids" text (tor 0.4.9), likewise */
  size_t family_ids_len;
  const ep_routerstatus_t *rs;         /* its consensus entry */
  const ep_microdesc_t *md;            /* NULL if none */
  const ep_routerdesc_t *desc;         /* verified server descriptor, NULL if none */
} ep_relay_t;

/* Build from a verified consensus; takes ownership of c (also on failure). */
ep_netdir_t *ep_netdir_new(ep_consensus_t *c, ep_err_t *err);
void ep_netdir_free(ep_netdir_t *nd);  /* NULL-safe */

const ep_consensus_t *ep_netdir_consensus(const ep_netdir_t *nd);
ep_consensus_flavor_t ep_netdir_flavor(const ep_netdir_t *nd);
size_t ep_netdir_count(const ep_netdir_t *nd);
const ep_relay_t *ep_netdir_relay(const ep_netdir_t *nd, size_t i);
/* Index of a relay pointer of this netdir. */
size_t ep_netdir_index(const ep_netdir_t *nd, const ep_relay_t *r);

/* ---- microdescriptors ---- */

/* Join a parsed list; takes ownership of mds (also on failure). Relays that
 * already have a microdescriptor keep it. Digests the list reports as
 * malformed (EP_MD_SKIP_INVALID) mark their relays md_invalid. *n_used (may
 * be NULL) gets how many relays got a microdescriptor from this list. */
int ep_netdir_add_microdescs(ep_netdir_t *nd, ep_microdescs_t *mds, size_t *n_used, ep_err_t *err);
/* Relays (microdesc flavour) without a microdescriptor yet. */
size_t ep_netdir_n_missing_md(const ep_netdir_t *nd);
/* Their "m" digests, 32 bytes each, into a malloc'd array (*out NULL if
 * there are none). Relays marked md_invalid are left out unless
 * include_invalid. */
int ep_netdir_missing_md_digests(const ep_netdir_t *nd, bool include_invalid, uint8_t **out,
                                 size_t *n, ep_err_t *err);
/* Append the text of every joined microdescriptor (what a cache keeps). */
int ep_netdir_microdesc_text(const ep_netdir_t *nd, ep_buf_t *out, ep_err_t *err);

/* ---- server descriptors (full exit policies) ---- */

/* Join a parsed list; takes ownership (also on failure). Each descriptor
 * must verify (ep_routerdesc_verify at `now`; 0 skips the Ed25519 expiry
 * check), name a relay of the consensus by its identity and, with the ns
 * flavour, have the entry's digest; others are skipped and counted in
 * *n_rejected (may be NULL), the first reason in err_first (may be NULL). */
int ep_netdir_add_routerdescs(ep_netdir_t *nd, ep_routerdescs_t *l, time_t now, size_t *n_used,
                              size_t *n_rejected, ep_err_t *err_first);

/* ---- lookups ---- */

/* By fingerprint text: 40 hex digits, upper or lower case, with or without
 * a leading '$' (a "~nick" or "=nick" suffix is allowed and ignored). NULL
 * if absent; EP_ERR_MALFORMED in err if s is not a fingerprint. */
const ep_relay_t *ep_netdir_find(const ep_netdir_t *nd, const char *s, ep_err_t *err);
const ep_relay_t *ep_netdir_find_id(const ep_netdir_t *nd, const uint8_t id[20]);

/* Fill t to connect to / extend to r. EP_ERR_STATE, naming the relay, when
 * its ntor key is unknown (ns flavour, or no microdescriptor). */
int ep_netdir_target(const ep_netdir_t *nd, const ep_relay_t *r, ep_target_t *t, ep_err_t *err);

/* "Exit,Fast,Guard,Running,Stable,Valid" (known-flags order) into out. */
void ep_netdir_flags_format(const ep_netdir_t *nd, uint32_t flags, char *out, size_t outcap);
/* "$FINGERPRINT~nickname" (62 bytes are enough). */
void ep_relay_name(const ep_relay_t *r, char *out, size_t outcap);

/* ---- exits for a port ---- */

typedef struct ep_exit_query {
  uint16_t port;
  int family;               /* 4 (default, also 0) or 6: which policy/summary */
  bool include_badexit;     /* BadExit relays are left out unless set */
  bool summary_only;        /* ignore full policies even where known */
} ep_exit_query_t;

typedef struct ep_exit_candidate {
  const ep_relay_t *relay;
  ep_policy_answer_t answer;  /* verdict (accept / accept-some), basis */
  /* The accept may be restricted to some addresses (README's
   * policy_may_be_restricted): a full policy that accepts the port only to
   * some addresses, or an answer src/dir marks so. An EXITPOLICY answer
   * from such an exit is not evidence against it. */
  bool may_be_restricted;
  /* Some destination addresses may be rejected on this port although the
   * port is accepted: always possible with a summary (tor leaves rejects of
   * fewer than 2^25 addresses, and of private ones, out of summaries), and
   * with a full policy that rejects some addresses first. Weaker than
   * may_be_restricted: the scanner may want it for targets it cannot check. */
  bool some_may_be_rejected;
} ep_exit_candidate_t;

typedef struct ep_exit_stats {
  size_t n_relays;          /* entries in the consensus */
  size_t n_not_running;     /* not Running or not Valid: never candidates */
  size_t n_no_policy;       /* Running+Valid, policy unknown (no microdescriptor) */
  size_t n_badexit_left_out;
  size_t n_by_summary, n_by_full;  /* candidates by basis */
} ep_exit_stats_t;

/* Every Running+Valid relay whose policy accepts q->port (by policy, not by
 * the Exit flag): the full policy where a verified descriptor is known
 * (unless summary_only), else the summary. A full policy accepting only
 * some addresses (accept-some) counts, flagged. *out is malloc'd (NULL when
 * *n is 0), in consensus order. stats may be NULL. */
int ep_netdir_exits(const ep_netdir_t *nd, const ep_exit_query_t *q, ep_exit_candidate_t **out,
                    size_t *n, ep_exit_stats_t *stats, ep_err_t *err);

/* ---- first hops ---- */

typedef struct ep_hop_query {
  const ep_relay_t *exit;   /* the exit the circuit goes to; NULL: none */
  bool allow_same_16;       /* test networks: everything is 127.0.0.1 */
} ep_hop_query_t;

/* Are a and b of one family? Conservative (for leaving hops out): either
 * one naming the other's fingerprint in its family line is enough, and so is
 * one identifier that both list on their family-ids lines (happy families,
 * tor 0.4.9: identifiers are compared as opaque words, as tor does). */
bool ep_netdir_same_family(const ep_relay_t *a, const ep_relay_t *b);
/* IPv4 in one /16 (or IPv6 in one /32). */
bool ep_netdir_same_subnet(const ep_relay_t *a, const ep_relay_t *b);

/* Relays fit to be the first hop: Running, Valid, Fast, Stable, Guard, with
 * an ntor key; not the exit, not in its family, not in its /16 (unless
 * allowed). *out is malloc'd (NULL when *n is 0), highest consensus
 * bandwidth first. */
int ep_netdir_first_hops(const ep_netdir_t *nd, const ep_hop_query_t *q, const ep_relay_t ***out,
                         size_t *n, ep_err_t *err);

#endif
