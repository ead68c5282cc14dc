/* exitprobe — server (router) descriptors (dir-spec §2.1.1): identity,
 * addresses, platform, contact, keys, family and the full exit policy in
 * order, with their signatures.
 *
 * ep_routerdescs_parse reads a concatenation (annotations such as
 * "@type server-descriptor 1.0" allowed) and computes the digests;
 * ep_routerdesc_verify checks the RSA router-signature against the
 * descriptor's identity key (and that "fingerprint" is that key's digest),
 * and, if the descriptor has an identity-ed25519 certificate, the
 * certificate (signed by the master key) and router-sig-ed25519 (by the
 * certified signing key). */
#ifndef EP_DIR_ROUTERDESC_H
#define EP_DIR_ROUTERDESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "dir/policy.h"
#include "lib/crypto.h"
#include "lib/err.h"

typedef struct ep_routerdesc {
  char nickname[20];
  uint32_t ipv4;                    /* host order */
  uint16_t or_port, dir_port;
  bool has_ipv6;                    /* first IPv6 or-address */
  uint16_t ipv6_or_port;
  uint8_t ipv6[16];
  time_t published;
  bool has_fingerprint;
  uint8_t fingerprint[EP_SHA1_LEN];     /* the "fingerprint" line */
  uint8_t identity_digest[EP_SHA1_LEN]; /* SHA-1 of signing-key's DER: the relay's RSA id */
  ep_rsa_pub_t *identity_key;           /* "signing-key", owned */
  const char *platform, *proto, *contact, *family;  /* into the list's text; NULL if absent */
  size_t platform_len, proto_len, contact_len, family_len;
  uint64_t uptime;
  bool hibernating;
  uint32_t bw_avg, bw_burst, bw_observed;
  bool has_ntor;
  uint8_t ntor_key[32];
  bool has_ed25519;                     /* master-key-ed25519 and/or identity-ed25519 */
  uint8_t ed25519_master[32];
  uint8_t *ed_cert;                     /* identity-ed25519 certificate, owned */
  size_t ed_cert_len;
  bool has_ed_sig;
  uint8_t ed_sig[64];                   /* router-sig-ed25519 */
  uint8_t ed_signed_digest[EP_SHA256_LEN];
  ep_policy_t *policy;                  /* accept/reject (and accept6/reject6), owned */
  ep_policy_summary_t *ipv6_policy;     /* "ipv6-policy", owned; NULL = reject all */
  uint8_t signed_digest[EP_SHA1_LEN];   /* SHA-1 from "router" through "router-signature\n" */
  uint8_t *sig;                         /* router-signature, owned */
  size_t sig_len;
  size_t lineno;
} ep_routerdesc_t;

typedef struct ep_routerdescs ep_routerdescs_t;

/* Fails on the first malformed descriptor; with EP_RD_SKIP_INVALID a
 * malformed descriptor is dropped (counted, its error kept) and parsing
 * resumes at the next "router" line — one bad descriptor from a relay or a
 * directory does not cost the others in the same document. Resource errors
 * (EP_ERR_NOMEM, EP_ERR_LIMIT) and a document with no valid descriptor are
 * errors either way. */
#define EP_RD_SKIP_INVALID 0x1u
ep_routerdescs_t *ep_routerdescs_parse(const char *text, size_t len, ep_err_t *err);
ep_routerdescs_t *ep_routerdescs_parse_flags(const char *text, size_t len, unsigned flags,
                                             ep_err_t *err);
/* With EP_RD_SKIP_INVALID: how many were dropped, and the first one's error
 * (NULL if none). */
size_t ep_routerdescs_n_invalid(const ep_routerdescs_t *l);
const char *ep_routerdescs_first_error(const ep_routerdescs_t *l);
void ep_routerdescs_free(ep_routerdescs_t *l);     /* NULL-safe */
size_t ep_routerdescs_count(const ep_routerdescs_t *l);
const ep_routerdesc_t *ep_routerdescs_get(const ep_routerdescs_t *l, size_t i);
/* By RSA identity digest; NULL if absent. */
const ep_routerdesc_t *ep_routerdescs_find(const ep_routerdescs_t *l, const uint8_t id[EP_SHA1_LEN]);

/* Check the signatures (see above). `now` (0: skip) is compared with the
 * Ed25519 certificate's expiry. EP_OK or EP_ERR_VERIFY / EP_ERR_EXPIRED. */
int ep_routerdesc_verify(const ep_routerdesc_t *d, time_t now, ep_err_t *err);

/* Does this relay's full policy accept port (to addr, or to an unspecified
 * address of `family`)? IPv6 without accept6/reject6 rules answers from the
 * ipv6-policy summary. */
ep_policy_answer_t ep_routerdesc_policy_eval(const ep_routerdesc_t *d, const ep_ipaddr_t *addr,
                                             int family, uint16_t port);

/* An Ed25519 certificate (cert-spec §2.1), as far as descriptors need it. */
typedef struct ep_dir_edcert {
  uint8_t type;
  uint32_t expiration_hours;
  uint8_t key_type;
  uint8_t certified_key[32];
  bool has_signing_key;            /* extension 4 */
  uint8_t signing_key[32];
  const uint8_t *signed_part;      /* into the parsed bytes */
  size_t signed_len;
  uint8_t signature[64];
} ep_dir_edcert_t;

/* Parse; unknown extensions flagged "affects validation" are rejected. */
int ep_dir_edcert_parse(const uint8_t *b, size_t n, ep_dir_edcert_t *out, ep_err_t *err);
/* Verify the certificate's signature with key (NULL: its extension key). */
int ep_dir_edcert_verify(const ep_dir_edcert_t *c, const uint8_t *key, time_t now, ep_err_t *err);

#endif
