/* exitprobe — microdescriptors (dir-spec §3.3).
 *
 * A response or cache file is a concatenation of microdescriptors, each
 * perhaps preceded by annotations ("@last-listed ..."). A microdescriptor
 * starts at its "onion-key" item (optional since tor 0.4.9: then at its first
 * item, "ntor-onion-key") and runs to the next one's annotations or start.
 * Its digest is the SHA-256 of that text; the microdesc consensus lists it
 * in the entry's "m" line. Parsing computes digests; checking them against
 * a consensus is ep_microdesc_check / ep_consensus_find_md. */
#ifndef EP_DIR_MICRODESC_H
#define EP_DIR_MICRODESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "dir/policy.h"
#include "lib/crypto.h"
#include "lib/err.h"

typedef struct ep_microdesc {
  uint8_t digest[EP_SHA256_LEN];   /* SHA-256 of the text */
  size_t lineno;                   /* first line of the text */
  const char *body;                /* the text (not NUL-terminated), owned by the list */
  size_t body_len;
  time_t last_listed;              /* "@last-listed", 0 if absent */
  bool has_tap_onion_key;          /* "onion-key" (RSA) present */
  uint8_t ntor_key[32];            /* "ntor-onion-key" (curve25519) */
  bool has_ed25519;
  uint8_t ed25519_id[32];          /* "id ed25519" */
  bool has_rsa_id;
  uint8_t rsa_id[EP_SHA1_LEN];     /* "id rsa1024" */
  bool has_ipv6;                   /* first IPv6 "a" line (methods 14-27) */
  uint16_t ipv6_port;
  uint8_t ipv6[16];
  const char *family;              /* "family" text, NULL if absent */
  size_t family_len;
  const char *family_ids;          /* "family-ids" text (tor 0.4.9, proposal 321: space-
                                    * separated family identifiers such as "ed25519:..."),
                                    * NULL if absent */
  size_t family_ids_len;
  uint32_t p_index, p6_index;      /* internal */
  const ep_policy_summary_t *policy;   /* "p"; reject-all if absent */
  const ep_policy_summary_t *policy6;  /* "p6"; reject-all if absent */
} ep_microdesc_t;

typedef struct ep_microdescs ep_microdescs_t;

/* Skip malformed microdescriptors instead of failing: their digests are
 * kept (ep_microdescs_invalid) so the caller can mark those relays. */
#define EP_MD_SKIP_INVALID 0x1u

/* Parse text[0..len) (annotations allowed). NULL with err naming the line
 * (or, with EP_MD_SKIP_INVALID, only on resource errors). */
ep_microdescs_t *ep_microdescs_parse(const char *text, size_t len, unsigned flags, ep_err_t *err);
void ep_microdescs_free(ep_microdescs_t *l);    /* NULL-safe */
size_t ep_microdescs_count(const ep_microdescs_t *l);
const ep_microdesc_t *ep_microdescs_get(const ep_microdescs_t *l, size_t i);
/* The microdescriptor with this digest, or NULL. */
const ep_microdesc_t *ep_microdescs_find(const ep_microdescs_t *l, const uint8_t d[EP_SHA256_LEN]);
/* Microdescriptors skipped as malformed (EP_MD_SKIP_INVALID): their digests
 * and the first error message. */
size_t ep_microdescs_n_invalid(const ep_microdescs_t *l);
const uint8_t *ep_microdescs_invalid_digest(const ep_microdescs_t *l, size_t i);
const char *ep_microdescs_first_error(const ep_microdescs_t *l);

/* Does md's digest equal `expected` (from an "m" line)? EP_OK or
 * EP_ERR_VERIFY naming the microdescriptor's line. */
int ep_microdesc_check(const ep_microdesc_t *md, const uint8_t expected[EP_SHA256_LEN], ep_err_t *err);

#endif
