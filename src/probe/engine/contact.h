/* exitprobe — what a record says about the exit's operator (issue #12): its
 * server descriptor's "contact" line (raw bytes, capped at EP_CAP_CONTACT),
 * that line's ContactInfo Information Sharing fields (dir/ciiss.h), its
 * "platform" line and its "family" entries. Every string is relay text:
 * escaped where written (JSON, HTML, mail headers), never trusted. */
#ifndef EP_PROBE_CONTACT_H
#define EP_PROBE_CONTACT_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"
#include "lib/caps.h"
#include "lib/err.h"

typedef struct ep_relay_contact {
  bool has_contact;
  char contact[EP_CAP_CONTACT + 1];           /* raw bytes (may hold NUL), contact_len of them */
  size_t contact_len;
  bool contact_capped;
  char email[EP_CAP_CIISS_FIELD + 1];         /* decoded address; "" = none */
  char url[EP_CAP_CIISS_FIELD + 1];           /* "" = none (likewise below) */
  char ciiss_version[EP_CAP_CIISS_FIELD + 1];
  char ciiss_proof[EP_CAP_CIISS_FIELD + 1];
  bool has_platform;
  char platform[EP_CAP_PLATFORM + 1];
  size_t platform_len;
  char **family;                              /* owned; n_family entries, each NUL-terminated */
  size_t n_family;
} ep_relay_contact_t;

void ep_relay_contact_init(ep_relay_contact_t *c);
/* Fill from descriptor text (any pointer NULL: that line is absent). Long
 * lines are capped; family entries beyond EP_CAP_FAMILY_MEMBERS or longer
 * than EP_CAP_FAMILY_ENTRY are dropped. Fails only for memory. */
int ep_relay_contact_set(ep_relay_contact_t *c, const char *contact, size_t contact_len,
                         const char *platform, size_t platform_len, const char *family,
                         size_t family_len, ep_err_t *err);
void ep_relay_contact_clear(ep_relay_contact_t *c);   /* frees; NULL-safe; re-inits */

/* The record's block of keys (c NULL: every one null, family []):
 * "contact","contact_email","contact_url","ciiss_version","ciiss_proof",
 * "platform","family", each followed by a comma when `comma`. */
int ep_relay_contact_json(const ep_relay_contact_t *c, ep_buf_t *o, bool comma, ep_err_t *err);

#endif
