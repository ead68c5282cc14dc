/* exitprobe — the ContactInfo Information Sharing Specification fields of a
 * relay's "contact" line (https://nusenu.github.io/ContactInfo-Information-
 * Sharing-Specification/): space-separated "key:value" tokens, of which we
 * read "email:", "url:", "ciissversion:" and "proof:". Sans I/O.
 *
 * A key counts only at the start of the line or after a space or tab, and
 * only its first occurrence. A value runs to the next space or tab; a value
 * with a byte outside printable ASCII (0x21-0x7e), or longer than
 * EP_CAP_CIISS_FIELD, or empty, reads as absent. The email is written with
 * "[]" for "@" ("op[]example.com"); ep_ciiss_email decodes it and accepts
 * only a plain address (one "@", an RFC 5322 dot-atom local part, a host
 * name of letters, digits, '-' and '.'), so it is safe in a To: header. */
#ifndef EP_DIR_CIISS_H
#define EP_DIR_CIISS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ep_ciiss_val {
  const char *p;     /* into the parsed text; NULL if absent */
  size_t len;
} ep_ciiss_val_t;

typedef struct ep_ciiss {
  ep_ciiss_val_t email, url, version, proof;
} ep_ciiss_t;

/* Never fails: fields not found (or not valid) are absent. */
void ep_ciiss_parse(const char *text, size_t len, ep_ciiss_t *out);

/* Decode the email value into out (NUL-terminated, at most cap - 1 bytes).
 * False (out = "") if absent, malformed or too long. */
bool ep_ciiss_email(const ep_ciiss_t *c, char *out, size_t cap);

#endif
