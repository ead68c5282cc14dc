/* exitprobe — the link handshake cells (tor-spec §4): VERSIONS, CERTS,
 * AUTH_CHALLENGE, NETINFO. Parse and encode only; verifying a CERTS cell is
 * linkcert.h's job, and the handshake's order of events is channel.c's.
 * Parsed values borrow byte fields (certificate bodies) from the input. */
#ifndef EP_PROTO_LINKHS_H
#define EP_PROTO_LINKHS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "proto/cell.h"
#include "proto/target.h"

/* ---- VERSIONS (§4.1) ---- */

#define EP_VERSIONS_MAX 256

typedef struct ep_versions {
  size_t n;
  uint16_t v[EP_VERSIONS_MAX];
} ep_versions_t;

/* Payload: n big-endian u16s. EP_ERR_LIMIT if it does not fit cap. */
int ep_versions_encode(uint8_t *out, size_t cap, const uint16_t *versions, size_t n,
                       size_t *len, ep_err_t *err);
/* EP_ERR_MALFORMED for an odd length, EP_ERR_LIMIT past EP_VERSIONS_MAX. */
int ep_versions_parse(const uint8_t *payload, size_t len, ep_versions_t *out, ep_err_t *err);
/* The highest version in both theirs and [min, max], or -1 if none. */
int ep_versions_choose(const ep_versions_t *theirs, int min, int max);

/* ---- CERTS (§4.2) ---- */

/* Certificate types in a CERTS cell (tor-spec §4.2). */
enum {
  EP_CERTS_RSA_LINK = 1,        /* X.509 link key cert, by the RSA identity */
  EP_CERTS_RSA_ID = 2,          /* X.509 RSA1024 identity, self-signed */
  EP_CERTS_RSA_AUTH = 3,
  EP_CERTS_ED_ID_SIGNING = 4,   /* Ed25519 signing key, by the identity */
  EP_CERTS_ED_SIGNING_LINK = 5, /* TLS link cert digest, by the signing key */
  EP_CERTS_ED_SIGNING_AUTH = 6,
  EP_CERTS_RSA_ED_CROSS = 7     /* Ed25519 identity, by the RSA identity */
};

#define EP_CERTS_MAX 32

typedef struct ep_certs_entry {
  uint8_t type;            /* kept as a number, known or not */
  uint16_t len;
  const uint8_t *body;     /* borrowed */
} ep_certs_entry_t;

typedef struct ep_certs {
  size_t n;
  ep_certs_entry_t e[EP_CERTS_MAX];
} ep_certs_t;

/* Bytes after the last certificate are ignored (§4.2). EP_ERR_TRUNCATED,
 * EP_ERR_MALFORMED (two certificates of one type), EP_ERR_LIMIT. */
int ep_certs_parse(const uint8_t *payload, size_t len, ep_certs_t *out, ep_err_t *err);
/* The certificate of a type, or NULL. */
const ep_certs_entry_t *ep_certs_find(const ep_certs_t *certs, uint8_t type);
/* Encode (the test suite's relay side). */
int ep_certs_encode(uint8_t *out, size_t cap, const ep_certs_t *certs, size_t *len,
                    ep_err_t *err);
/* "rsa-link", "rsa-id", ..., NULL for unknown. */
const char *ep_certs_type_name(unsigned type);

/* ---- AUTH_CHALLENGE (§4.3) ---- */

#define EP_AUTH_CHALLENGE_LEN 32
#define EP_AUTH_METHODS_KEPT 8

typedef struct ep_auth_challenge {
  uint8_t challenge[EP_AUTH_CHALLENGE_LEN];
  uint16_t n_methods;                        /* as declared */
  uint16_t methods[EP_AUTH_METHODS_KEPT];    /* the first of them */
} ep_auth_challenge_t;

/* Extra bytes at the end are ignored (§4.3). EP_ERR_TRUNCATED. */
int ep_auth_challenge_parse(const uint8_t *payload, size_t len, ep_auth_challenge_t *out,
                            ep_err_t *err);
int ep_auth_challenge_encode(uint8_t *out, size_t cap, const ep_auth_challenge_t *ac,
                             size_t *len, ep_err_t *err);

/* ---- NETINFO (§4.5) ---- */

#define EP_NETINFO_ADDRS_KEPT 8

typedef struct ep_netinfo {
  uint32_t timestamp;          /* seconds since the epoch; clients send 0 */
  ep_ipaddr_t other;             /* the address the sender sees us at (family NONE if
                                  absent, of an unknown type or a wrong length) */
  uint8_t n_my;                /* as declared */
  size_t n_my_kept;            /* recognised ones kept, at most EP_NETINFO_ADDRS_KEPT */
  ep_ipaddr_t my[EP_NETINFO_ADDRS_KEPT];
} ep_netinfo_t;

/* Parse a NETINFO payload (trailing bytes ignored). EP_ERR_TRUNCATED. */
int ep_netinfo_parse(const uint8_t *payload, size_t len, ep_netinfo_t *out, ep_err_t *err);
/* Write a NETINFO payload (509 bytes, zero-padded). */
int ep_netinfo_encode(uint8_t payload[EP_CELL_PAYLOAD_LEN], const ep_netinfo_t *ni,
                      ep_err_t *err);

#endif
