/* exitprobe — directory authority key certificates (dir-spec §3.1).
 *
 * A certificate binds an authority's long-term identity key (whose SHA-1 is
 * its v3ident) to a medium-term signing key, which signs consensuses.
 * ep_authcerts_parse reads a concatenation of certificates (as served at
 * /tor/keys/all or kept in cached-certs); ep_authcert_verify checks one:
 * fingerprint, cross-certificate, certification signature and validity time. */
#ifndef EP_DIR_AUTHCERT_H
#define EP_DIR_AUTHCERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/crypto.h"
#include "lib/err.h"

typedef struct ep_authcert {
  uint8_t fingerprint[EP_SHA1_LEN];      /* "fingerprint" line: the v3ident */
  uint8_t identity_digest[EP_SHA1_LEN];  /* SHA-1 of dir-identity-key's DER */
  uint8_t signing_digest[EP_SHA1_LEN];   /* SHA-1 of dir-signing-key's DER */
  time_t published, expires;
  bool has_dir_address;
  uint32_t dir_ipv4;
  uint16_t dir_port;
  ep_rsa_pub_t *identity_key;            /* owned */
  ep_rsa_pub_t *signing_key;             /* owned */
  uint8_t *crosscert;                    /* owned */
  size_t crosscert_len;
  uint8_t *certification;                /* owned */
  size_t certification_len;
  /* SHA-1 of the text from "dir-key-certificate-version" through the
   * newline after "dir-key-certification": what the identity key signed. */
  uint8_t signed_digest[EP_SHA1_LEN];
  size_t lineno;                         /* first line in its document */
} ep_authcert_t;

typedef struct ep_authcerts ep_authcerts_t;

/* Parse one or more certificates from text[0..len). NULL with err naming the
 * line on the first malformed one. */
ep_authcerts_t *ep_authcerts_parse(const char *text, size_t len, ep_err_t *err);
void ep_authcerts_free(ep_authcerts_t *l);   /* NULL-safe */
size_t ep_authcerts_count(const ep_authcerts_t *l);
const ep_authcert_t *ep_authcerts_get(const ep_authcerts_t *l, size_t i);
/* The certificate with this identity and signing-key digest, or NULL. */
const ep_authcert_t *ep_authcerts_find(const ep_authcerts_t *l, const uint8_t identity[EP_SHA1_LEN],
                                       const uint8_t signing_digest[EP_SHA1_LEN]);

/* Verify one certificate: the fingerprint is the identity key's digest, the
 * signing key cross-certifies the identity (signature over the identity
 * digest), the identity key signed the certificate, and `now` lies within
 * [published - skew, expires + skew]. EP_OK, EP_ERR_VERIFY or EP_ERR_EXPIRED. */
int ep_authcert_verify(const ep_authcert_t *cert, time_t now, int64_t skew, ep_err_t *err);
/* Signatures only (no time check). */
int ep_authcert_verify_signatures(const ep_authcert_t *cert, ep_err_t *err);

#endif
