/* exitprobe — directory authorities and fallback directories.
 *
 * The public network's lists are built in (authorities_builtin.c, generated
 * from tor 0.4.9.11's auth_dirs.inc / fallback_dirs.inc as shipped in Debian,
 * by gen_authorities.py). Test networks give theirs as torrc lines:
 *   DirAuthority auth1 orport=16001 no-v2 v3ident=ABCD... 127.0.0.1:16002 ABCD ...
 *   FallbackDir 1.2.3.4:80 orport=443 id=ABCD... [ipv6=[2001:db8::1]:443]
 * ep_dir_authset_parse reads such a file (other torrc lines and # comments
 * are skipped; lines without the leading keyword, as in tor's .inc lists,
 * are accepted too). */
#ifndef EP_DIR_AUTHORITY_H
#define EP_DIR_AUTHORITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

typedef struct ep_dir_authority {
  char nickname[20];          /* NUL-terminated; "" if the line had none */
  bool has_v3ident;
  uint8_t v3ident[20];        /* v3 identity: the key behind its consensus signatures */
  uint8_t fingerprint[20];    /* relay RSA identity */
  uint32_t ipv4;              /* host order */
  uint16_t dir_port, or_port;
  bool has_ipv6;
  uint8_t ipv6[16];
  uint16_t ipv6_or_port;
  bool bridge;                /* a bridge authority: not a v3 directory authority */
  bool no_v2;
} ep_dir_authority_t;

typedef struct ep_dir_fallback {
  uint32_t ipv4;              /* host order */
  uint16_t dir_port;          /* 0: none (fetch with BEGIN_DIR over the ORPort) */
  uint16_t or_port;
  uint8_t fingerprint[20];
  bool has_ipv6;
  uint8_t ipv6[16];
  uint16_t ipv6_or_port;
} ep_dir_fallback_t;

/* The built-in lists (static, never freed). */
extern const ep_dir_authority_t ep_dir_builtin_authorities[];
extern const size_t ep_dir_builtin_n_authorities;
extern const ep_dir_fallback_t ep_dir_builtin_fallbacks[];
extern const size_t ep_dir_builtin_n_fallbacks;

/* One "DirAuthority" line, with or without the keyword. */
int ep_dir_authority_parse_line(const char *s, size_t n, ep_dir_authority_t *out, ep_err_t *err);
/* One "FallbackDir" line, with or without the keyword; ":dirport" optional. */
int ep_dir_fallback_parse_line(const char *s, size_t n, ep_dir_fallback_t *out, ep_err_t *err);

/* A set of authorities and fallbacks. */
typedef struct ep_dir_authset {
  const ep_dir_authority_t *auth;
  size_t n_auth;
  const ep_dir_fallback_t *fallback;
  size_t n_fallback;
  bool owned;                 /* arrays allocated (parsed) rather than built in */
} ep_dir_authset_t;

/* The built-in set over the lists above (generated too). */
extern const ep_dir_authset_t ep_dir_builtin_set;
/* The built-in set (a static value; ep_dir_authset_free ignores it). */
const ep_dir_authset_t *ep_dir_authset_builtin(void);
/* Parse a torrc-style file's text. docname names it in errors
 * ("torrc line 3: ..."). NULL on error. */
ep_dir_authset_t *ep_dir_authset_parse(const char *text, size_t len, const char *docname,
                                       ep_err_t *err);
/* Read and parse a named file (capped at 1 MiB). */
ep_dir_authset_t *ep_dir_authset_load(const char *path, ep_err_t *err);
void ep_dir_authset_free(ep_dir_authset_t *s);   /* NULL-safe; no-op on the built-in set */

/* The v3 authority with this v3ident (bridge authorities excluded), or NULL. */
const ep_dir_authority_t *ep_dir_authset_find_v3(const ep_dir_authset_t *s, const uint8_t id[20]);
/* Number of v3 directory authorities: a consensus needs good signatures
 * from more than half of them. */
size_t ep_dir_authset_n_v3(const ep_dir_authset_t *s);

#endif
