/* exitprobe — how src/proto sees a relay and an address: small values, never
 * a directory object (arti's "CircTarget"). src/probe fills an ep_target_t
 * from whatever directory document it has; src/proto never looks further.
 * Header only: plain structs, no allocation, nothing to free. */
#ifndef EP_PROTO_TARGET_H
#define EP_PROTO_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"   /* ep_ipaddr_t */

/* A relay to connect to, create a circuit at, or extend to. */
typedef struct ep_target {
  uint32_t ipv4;                 /* host order, e.g. 0x7f000001 for 127.0.0.1 */
  uint16_t or_port;
  bool has_ipv6;
  uint8_t ipv6[16];
  uint16_t ipv6_port;
  uint8_t rsa_id[20];            /* SHA-1 of the RSA identity key (fingerprint) */
  bool has_ed25519;
  uint8_t ed25519_id[32];        /* Ed25519 identity key, when known */
  uint8_t ntor_key[32];          /* ntor onion key (curve25519) */
} ep_target_t;

#endif
