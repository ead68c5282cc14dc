/* exitprobe — link specifiers (tor-spec §5.1.2), as carried in EXTEND2:
 * NSPEC 1 | NSPEC x (LSTYPE 1 | LSLEN 1 | LSPEC LSLEN).
 *
 * Known types have fixed lengths (IPv4 0: 6, IPv6 1: 18, legacy RSA id 2:
 * 20, Ed25519 id 3: 32); a wrong length is malformed. Unknown types are kept
 * as numbers with their bytes. At most one legacy id and one Ed25519 id.
 * Parsed specifiers borrow their bytes from the input. */
#ifndef EP_PROTO_LINKSPEC_H
#define EP_PROTO_LINKSPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/reader.h"
#include "proto/target.h"

enum {
  EP_LS_IPV4 = 0,
  EP_LS_IPV6 = 1,
  EP_LS_LEGACY_ID = 2,
  EP_LS_ED25519_ID = 3
};

/* We keep at most this many specifiers from one list (EP_ERR_LIMIT past it). */
#define EP_LINKSPEC_MAX 16

typedef struct ep_linkspec {
  uint8_t type;          /* kept as a number, known or not */
  uint8_t len;
  const uint8_t *data;   /* borrowed */
} ep_linkspec_t;

typedef struct ep_linkspecs {
  size_t n;
  ep_linkspec_t spec[EP_LINKSPEC_MAX];
} ep_linkspecs_t;

/* Read NSPEC and the specifiers from r (used by the EXTEND2 parser).
 * EP_ERR_TRUNCATED, EP_ERR_MALFORMED (bad length for a known type, a
 * repeated identity), EP_ERR_LIMIT (more than EP_LINKSPEC_MAX). */
int ep_linkspecs_read(ep_reader_t *r, ep_linkspecs_t *out, ep_err_t *err);
/* Append NSPEC and the specifiers to w. */
int ep_linkspecs_write(ep_writer_t *w, const ep_linkspecs_t *ls, ep_err_t *err);

/* The specifiers for a target in the recommended order: IPv4 [00], legacy
 * id [02], Ed25519 id [03] when known, IPv6 [01] when known. buf gives the
 * storage the specifiers point into (at least 6+20+32+18 bytes). */
#define EP_LINKSPEC_TARGET_BUF 76
void ep_linkspecs_from_target(ep_linkspecs_t *out, const ep_target_t *t,
                              uint8_t buf[EP_LINKSPEC_TARGET_BUF]);

/* Typed views; false if the specifier is of another type. */
bool ep_linkspec_ipv4(const ep_linkspec_t *ls, uint32_t *addr, uint16_t *port);
bool ep_linkspec_ipv6(const ep_linkspec_t *ls, uint8_t addr[16], uint16_t *port);
/* The first specifier of a type, or NULL. */
const ep_linkspec_t *ep_linkspecs_find(const ep_linkspecs_t *ls, uint8_t type);

/* "ipv4", "ipv6", "legacy-id", "ed25519-id"; NULL for unknown types. */
const char *ep_linkspec_type_name(unsigned type);

#endif
