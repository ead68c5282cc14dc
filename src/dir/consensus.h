/* exitprobe — network-status consensus documents, both flavours (dir-spec
 * §3.4.1 "ns", §3.9.2 "microdesc").
 *
 * ep_consensus_parse checks the format only: header, authority section,
 * router status entries, footer and signatures, each against its table of
 * rules (dir/token.h). It does not check signatures or times: that is
 * dir/verify.h. The parsed consensus owns a copy of the text; the string
 * fields of its entries point into that copy and live as long as the
 * consensus.
 *
 * The representation is compact: one array of entries, flags as a bitmask,
 * identical policy summaries shared, no allocation per entry. */
#ifndef EP_DIR_CONSENSUS_H
#define EP_DIR_CONSENSUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "dir/policy.h"
#include "lib/crypto.h"
#include "lib/err.h"

typedef enum ep_consensus_flavor {
  EP_FLAVOR_NS = 0,
  EP_FLAVOR_MICRODESC = 1
} ep_consensus_flavor_t;

/* Relay flags with fixed bits. A flag in known-flags that is not one of
 * these gets one of bits 16..31, in known-flags order (ep_consensus_flag_mask). */
#define EP_RS_AUTHORITY     (1u << 0)
#define EP_RS_BADEXIT       (1u << 1)
#define EP_RS_EXIT          (1u << 2)
#define EP_RS_FAST          (1u << 3)
#define EP_RS_GUARD         (1u << 4)
#define EP_RS_HSDIR         (1u << 5)
#define EP_RS_MIDDLEONLY    (1u << 6)
#define EP_RS_NOEDCONSENSUS (1u << 7)
#define EP_RS_RUNNING       (1u << 8)
#define EP_RS_STABLE        (1u << 9)
#define EP_RS_STALEDESC     (1u << 10)
#define EP_RS_SYBIL         (1u << 11)
#define EP_RS_V2DIR         (1u << 12)
#define EP_RS_VALID         (1u << 13)

/* One router status entry. Read-only for users. */
typedef struct ep_routerstatus {
  char nickname[20];              /* NUL-terminated, [A-Za-z0-9]{1,19} */
  uint8_t identity[EP_SHA1_LEN];  /* RSA identity digest */
  /* ns: SHA-1 descriptor digest (20 bytes); microdesc: SHA-256 microdesc digest */
  uint8_t digest[EP_SHA256_LEN];
  time_t published;
  uint32_t ipv4;                  /* host order */
  uint16_t or_port, dir_port;
  bool has_ipv6;                  /* first IPv6 "a" line */
  uint16_t ipv6_port;
  uint8_t ipv6[16];
  uint32_t flags;                 /* EP_RS_* */
  bool has_bandwidth, unmeasured;
  uint32_t bandwidth;             /* "w Bandwidth=" */
  const char *version;            /* "v" text, not NUL-terminated; NULL if absent */
  const char *proto;              /* "pr" text; NULL if absent */
  uint16_t version_len, proto_len;
  uint32_t policy_index;          /* internal */
  const ep_policy_summary_t *policy; /* "p" summary (ns); NULL if absent */
  size_t lineno;                  /* line of its "r" item */
} ep_routerstatus_t;

/* One "dir-source" group of the authority section. */
typedef struct ep_dir_source {
  char nickname[48];              /* NUL-terminated; may end in "-legacy" */
  uint8_t identity[EP_SHA1_LEN];  /* v3 authority identity */
  const char *hostname;           /* not NUL-terminated */
  size_t hostname_len;
  uint32_t ipv4;
  uint16_t dir_port, or_port;
  const char *contact;            /* NULL for legacy entries */
  size_t contact_len;
  bool has_vote_digest;
  uint8_t vote_digest[EP_SHA1_LEN];
  bool legacy;
  size_t lineno;
} ep_dir_source_t;

typedef enum ep_sig_alg {
  EP_SIG_UNKNOWN = 0,   /* an algorithm we do not know: ignored by verification */
  EP_SIG_SHA1 = 1,
  EP_SIG_SHA256 = 2
} ep_sig_alg_t;

typedef struct ep_dir_signature {
  ep_sig_alg_t alg;
  uint8_t identity[EP_SHA1_LEN];            /* authority v3 identity */
  uint8_t signing_key_digest[EP_SHA1_LEN];  /* SHA-1 of the signing key's DER */
  const uint8_t *sig;                       /* owned by the consensus */
  size_t sig_len;
  size_t lineno;
} ep_dir_signature_t;

typedef struct ep_consensus ep_consensus_t;

/* Parse a consensus of either flavour from text[0..len). Returns a new
 * consensus (free with ep_consensus_free) or NULL with err naming the line. */
ep_consensus_t *ep_consensus_parse(const char *text, size_t len, ep_err_t *err);
/* The same, taking ownership of text (malloc'd, len bytes): no copy. text is
 * freed with the consensus, or before returning NULL. The fetch path hands
 * its body over this way (ep_buf_steal). */
ep_consensus_t *ep_consensus_parse_owned(char *text, size_t len, ep_err_t *err);
void ep_consensus_free(ep_consensus_t *c);   /* NULL-safe */

ep_consensus_flavor_t ep_consensus_flavor(const ep_consensus_t *c);
const char *ep_consensus_flavor_name(const ep_consensus_t *c);  /* "ns", "microdesc" */
/* "consensus" or "microdesc consensus": the name used in error messages. */
const char *ep_consensus_doc_name(const ep_consensus_t *c);
int ep_consensus_method(const ep_consensus_t *c);
time_t ep_consensus_valid_after(const ep_consensus_t *c);
time_t ep_consensus_fresh_until(const ep_consensus_t *c);
time_t ep_consensus_valid_until(const ep_consensus_t *c);
void ep_consensus_voting_delay(const ep_consensus_t *c, uint32_t *vote_s, uint32_t *dist_s);

size_t ep_consensus_n_routers(const ep_consensus_t *c);
const ep_routerstatus_t *ep_consensus_router(const ep_consensus_t *c, size_t i);
/* Index of the entry with this RSA identity (entries are sorted), or -1. */
long ep_consensus_find_identity(const ep_consensus_t *c, const uint8_t id[EP_SHA1_LEN]);
/* Index of the entry whose microdesc digest ("m") is d, or -1 (microdesc flavour). */
long ep_consensus_find_md(const ep_consensus_t *c, const uint8_t d[EP_SHA256_LEN]);
/* The entry's exit policy summary; the reject-all summary if it has none. */
const ep_policy_summary_t *ep_routerstatus_policy(const ep_routerstatus_t *rs);

/* Bit for a flag name listed in known-flags (0 if not listed). */
uint32_t ep_consensus_flag_mask(const ep_consensus_t *c, const char *name);
size_t ep_consensus_n_known_flags(const ep_consensus_t *c);
/* Name of known flag i (not NUL-terminated). */
const char *ep_consensus_known_flag(const ep_consensus_t *c, size_t i, size_t *len);

/* A consensus parameter (param-spec): dflt if absent, clamped to [min, max]. */
int32_t ep_consensus_param(const ep_consensus_t *c, const char *name, int32_t dflt, int32_t min,
                           int32_t max);
/* A bandwidth weight ("Wgg"...); false if absent. */
bool ep_consensus_bw_weight(const ep_consensus_t *c, const char *name, int32_t *out);

/* Texts of header items (not NUL-terminated), NULL if absent. */
typedef enum ep_consensus_text {
  EP_CONS_CLIENT_VERSIONS,
  EP_CONS_SERVER_VERSIONS,
  EP_CONS_RECOMMENDED_CLIENT_PROTOCOLS,
  EP_CONS_RECOMMENDED_RELAY_PROTOCOLS,
  EP_CONS_REQUIRED_CLIENT_PROTOCOLS,
  EP_CONS_REQUIRED_RELAY_PROTOCOLS,
  EP_CONS_N_TEXTS
} ep_consensus_text_t;
const char *ep_consensus_text(const ep_consensus_t *c, ep_consensus_text_t which, size_t *len);

size_t ep_consensus_n_dir_sources(const ep_consensus_t *c);
const ep_dir_source_t *ep_consensus_dir_source(const ep_consensus_t *c, size_t i);
size_t ep_consensus_n_signatures(const ep_consensus_t *c);
const ep_dir_signature_t *ep_consensus_signature(const ep_consensus_t *c, size_t i);

/* The signed part: from "network-status-version" through the space after
 * the first "directory-signature". */
void ep_consensus_signed_range(const ep_consensus_t *c, const char **text, size_t *len);
/* Digest of the signed part with the signature's algorithm; returns the
 * digest length (20 or 32) or 0 for EP_SIG_UNKNOWN. */
size_t ep_consensus_signed_digest(const ep_consensus_t *c, ep_sig_alg_t alg,
                                  uint8_t out[EP_SHA256_LEN]);

/* Does the protocol list ("Link=1-5 Relay=2") support version v of name?
 * (dir-spec §2.1.1 "proto"; a malformed list supports nothing.) */
bool ep_dir_proto_supports(const char *list, size_t len, const char *name, unsigned v);

#endif
