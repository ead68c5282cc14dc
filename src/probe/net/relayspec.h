/* exitprobe — naming a relay on the command line without a directory:
 *   IP:ORPORT~FINGERPRINT[~NTOR_KEY[~ED25519_ID]]
 * (without the ntor key: all zero, usable only for CREATE_FAST)
 * (fingerprint in hex, keys in base64 as microdescriptors write them).
 * With a directory, a bare fingerprint is resolved there instead. */
#ifndef EP_PROBE_RELAYSPEC_H
#define EP_PROBE_RELAYSPEC_H

#include <stdbool.h>

#include "lib/addr.h"   /* ep_ipv4_format */
#include "lib/err.h"
#include "proto/target.h"

/* True if s looks like an explicit spec (contains '~'). */
bool ep_relayspec_is_explicit(const char *s);
int ep_relayspec_parse(const char *s, ep_target_t *out, ep_err_t *err);
/* 40 hex digits, optionally after '$': the RSA identity. */
int ep_fingerprint_parse(const char *s, uint8_t out[20], ep_err_t *err);
/* "AABB..." (40 upper-case hex + NUL: 41 bytes). */
void ep_fingerprint_format(char out[41], const uint8_t id[20]);

#endif
