/* exitprobe — directory authorities: torrc DirAuthority / FallbackDir lines. */
#include "config.h"

#include "dir/authority.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dir/token.h"
#include "lib/encode.h"
#include "lib/file.h"
#include "lib/vec.h"

#define EP_AUTHSET_MAX_FILE (1u << 20)
#define EP_AUTHSET_MAX_ENTRIES 4096

typedef struct words {
  const char *w[64];
  size_t l[64];
  size_t n;
} words_t;

static int split_words(const char *s, size_t n, words_t *out) {
  out->n = 0;
  size_t i = 0;
  while (i < n) {
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')) {
      i++;
    }
    if (i >= n) {
      break;
    }
    size_t a = i;
    while (i < n && s[i] != ' ' && s[i] != '\t' && s[i] != '\r') {
      i++;
    }
    if (out->n >= 64) {
      return -1;
    }
    out->w[out->n] = s + a;
    out->l[out->n] = i - a;
    out->n++;
  }
  return 0;
}

static bool word_is(const words_t *w, size_t i, const char *s) {
  size_t n = strlen(s);
  return i < w->n && w->l[i] == n && memcmp(w->w[i], s, n) == 0;
}

static bool has_prefix(const char *s, size_t n, const char *p, size_t *plen) {
  size_t l = strlen(p);
  *plen = l;
  return n >= l && memcmp(s, p, l) == 0;
}

/* Join words[from..] (a spaced fingerprint) into 20 bytes. */
static int join_fingerprint(const words_t *w, size_t from, uint8_t out[20]) {
  char hex[41];
  size_t h = 0;
  for (size_t i = from; i < w->n; i++) {
    if (h + w->l[i] > 40) {
      return -1;
    }
    memcpy(hex + h, w->w[i], w->l[i]);
    h += w->l[i];
  }
  if (h != 40) {
    return -1;
  }
  return ep_hex_decode(out, 20, hex, 40) == 20 ? 0 : -1;
}

static int parse_ipv6_flag(const char *v, size_t vl, uint8_t addr[16], uint16_t *port) {
  int fam;
  if (ep_dir_parse_addrport(v, vl, &fam, addr, port) < 0 || fam != 6) {
    return -1;
  }
  return 0;
}

int ep_dir_authority_parse_line(const char *s, size_t n, ep_dir_authority_t *out, ep_err_t *err) {
  char eb[EP_DIR_ESC_BUF];
  memset(out, 0, sizeof *out);
  words_t w;
  if (split_words(s, n, &w) < 0) {
    return ep_err_set(err, EP_ERR_MALFORMED, "DirAuthority: too many words");
  }
  size_t i = 0;
  if (word_is(&w, 0, "DirAuthority") || word_is(&w, 0, "AlternateDirAuthority")) {
    i = 1;
  }
  /* Optional nickname: a word with neither '=' nor ':' that is not a flag. */
  if (i < w.n && memchr(w.w[i], '=', w.l[i]) == NULL && memchr(w.w[i], ':', w.l[i]) == NULL &&
      !word_is(&w, i, "no-v2") && !word_is(&w, i, "bridge") && !word_is(&w, i, "hs") &&
      !word_is(&w, i, "no-hs") && !word_is(&w, i, "v1")) {
    if (!ep_dir_nickname_ok(w.w[i], w.l[i])) {
      return ep_err_set(err, EP_ERR_MALFORMED, "DirAuthority: bad nickname '%s'",
                        ep_dir_esc(eb, sizeof eb, w.w[i], w.l[i]));
    }
    memcpy(out->nickname, w.w[i], w.l[i]);
    out->nickname[w.l[i]] = '\0';
    i++;
  }
  bool have_orport = false;
  for (; i < w.n; i++) {
    const char *t = w.w[i];
    size_t tl = w.l[i], pl;
    uint64_t u;
    if (has_prefix(t, tl, "orport=", &pl)) {
      if (ep_dir_parse_uint(t + pl, tl - pl, 65535, &u) < 0 || u == 0) {
        return ep_err_set(err, EP_ERR_MALFORMED, "DirAuthority: bad orport");
      }
      out->or_port = (uint16_t)u;
      have_orport = true;
    } else if (has_prefix(t, tl, "v3ident=", &pl)) {
      if (tl - pl != 40 || ep_hex_decode(out->v3ident, 20, t + pl, 40) != 20) {
        return ep_err_set(err, EP_ERR_MALFORMED, "DirAuthority: bad v3ident");
      }
      out->has_v3ident = true;
    } else if (has_prefix(t, tl, "ipv6=", &pl)) {
      if (parse_ipv6_flag(t + pl, tl - pl, out->ipv6, &out->ipv6_or_port) < 0) {
        return ep_err_set(err, EP_ERR_MALFORMED, "DirAuthority: bad ipv6= address");
      }
      out->has_ipv6 = true;
    } else if (word_is(&w, i, "no-v2")) {
      out->no_v2 = true;
    } else if (word_is(&w, i, "bridge")) {
      out->bridge = true;
    } else if (memchr(t, '=', tl) != NULL || word_is(&w, i, "hs") || word_is(&w, i, "no-hs") ||
               word_is(&w, i, "v1")) {
      /* other flags (weight=, hs...): not ours */
    } else {
      break; /* address:dirport */
    }
  }
  if (i >= w.n) {
    return ep_err_set(err, EP_ERR_MALFORMED, "DirAuthority: no address:dirport");
  }
  int fam;
  uint8_t a[16];
  if (ep_dir_parse_addrport(w.w[i], w.l[i], &fam, a, &out->dir_port) < 0 || fam != 4) {
    return ep_err_set(err, EP_ERR_MALFORMED, "DirAuthority: bad address:dirport '%s'",
                      ep_dir_esc(eb, sizeof eb, w.w[i], w.l[i]));
  }
  out->ipv4 = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
  if (join_fingerprint(&w, i + 1, out->fingerprint) < 0) {
    return ep_err_set(err, EP_ERR_MALFORMED, "DirAuthority: bad fingerprint (want 40 hex digits)");
  }
  if (!have_orport) {
    return ep_err_set(err, EP_ERR_MALFORMED, "DirAuthority: no orport=");
  }
  return 0;
}

int ep_dir_fallback_parse_line(const char *s, size_t n, ep_dir_fallback_t *out, ep_err_t *err) {
  char eb[EP_DIR_ESC_BUF];
  memset(out, 0, sizeof *out);
  words_t w;
  if (split_words(s, n, &w) < 0) {
    return ep_err_set(err, EP_ERR_MALFORMED, "FallbackDir: too many words");
  }
  size_t i = word_is(&w, 0, "FallbackDir") ? 1 : 0;
  if (i >= w.n) {
    return ep_err_set(err, EP_ERR_MALFORMED, "FallbackDir: no address");
  }
  const char *t = w.w[i];
  size_t tl = w.l[i];
  const char *colon = memchr(t, ':', tl);
  size_t hl = colon ? (size_t)(colon - t) : tl;
  if (ep_dir_parse_ipv4(t, hl, &out->ipv4) < 0) {
    return ep_err_set(err, EP_ERR_MALFORMED, "FallbackDir: bad address '%s'",
                      ep_dir_esc(eb, sizeof eb, t, tl));
  }
  if (colon != NULL) {
    uint64_t u;
    if (ep_dir_parse_uint(colon + 1, tl - hl - 1, 65535, &u) < 0) {
      return ep_err_set(err, EP_ERR_MALFORMED, "FallbackDir: bad dirport");
    }
    out->dir_port = (uint16_t)u;
  }
  bool have_or = false, have_id = false;
  for (i++; i < w.n; i++) {
    t = w.w[i];
    tl = w.l[i];
    size_t pl;
    uint64_t u;
    if (has_prefix(t, tl, "orport=", &pl)) {
      if (ep_dir_parse_uint(t + pl, tl - pl, 65535, &u) < 0 || u == 0) {
        return ep_err_set(err, EP_ERR_MALFORMED, "FallbackDir: bad orport");
      }
      out->or_port = (uint16_t)u;
      have_or = true;
    } else if (has_prefix(t, tl, "id=", &pl)) {
      if (tl - pl != 40 || ep_hex_decode(out->fingerprint, 20, t + pl, 40) != 20) {
        return ep_err_set(err, EP_ERR_MALFORMED, "FallbackDir: bad id");
      }
      have_id = true;
    } else if (has_prefix(t, tl, "ipv6=", &pl)) {
      if (parse_ipv6_flag(t + pl, tl - pl, out->ipv6, &out->ipv6_or_port) < 0) {
        return ep_err_set(err, EP_ERR_MALFORMED, "FallbackDir: bad ipv6= address");
      }
      out->has_ipv6 = true;
    }
    /* weight= and others are ignored */
  }
  if (!have_or || !have_id) {
    return ep_err_set(err, EP_ERR_MALFORMED, "FallbackDir: needs orport= and id=");
  }
  return 0;
}

const ep_dir_authset_t *ep_dir_authset_builtin(void) { return &ep_dir_builtin_set; }

void ep_dir_authset_free(ep_dir_authset_t *s) {
  if (s == NULL || !s->owned) {
    return;
  }
  free((void *)s->auth);
  free((void *)s->fallback);
  free(s);
}

typedef enum { LINE_SKIP, LINE_AUTH, LINE_FALLBACK } line_kind_t;

static line_kind_t classify(const char *s, size_t n) {
  words_t w;
  if (split_words(s, n, &w) < 0 || w.n == 0 || w.w[0][0] == '#') {
    return LINE_SKIP;
  }
  if (word_is(&w, 0, "DirAuthority") || word_is(&w, 0, "AlternateDirAuthority")) {
    return LINE_AUTH;
  }
  if (word_is(&w, 0, "FallbackDir")) {
    return LINE_FALLBACK;
  }
  /* Bare lines as in tor's lists: a fallback starts with an IPv4 address,
   * an authority has an orport= flag. Other torrc options are skipped. */
  const char *colon = memchr(w.w[0], ':', w.l[0]);
  size_t hl = colon ? (size_t)(colon - w.w[0]) : w.l[0];
  uint32_t v4;
  if (ep_dir_parse_ipv4(w.w[0], hl, &v4) == 0) {
    return LINE_FALLBACK;
  }
  for (size_t i = 1; i < w.n; i++) {
    if (w.l[i] > 7 && memcmp(w.w[i], "orport=", 7) == 0) {
      return LINE_AUTH;
    }
  }
  return LINE_SKIP;
}

ep_dir_authset_t *ep_dir_authset_parse(const char *text, size_t len, const char *docname,
                                       ep_err_t *err) {
  if (len > EP_AUTHSET_MAX_FILE) {
    ep_err_set(err, EP_ERR_LIMIT, "%s: larger than 1 MiB", docname);
    return NULL;
  }
  ep_dir_authset_t *set = calloc(1, sizeof *set);
  ep_dir_authority_t *auth = NULL;
  ep_dir_fallback_t *fb = NULL;
  size_t na = 0, nf = 0, aa = 0, af = 0;
  if (set == NULL) {
    ep_err_set(err, EP_ERR_NOMEM, "%s: out of memory", docname);
    return NULL;
  }
  size_t pos = 0, lineno = 0;
  while (pos < len) {
    lineno++;
    const char *nl = memchr(text + pos, '\n', len - pos);
    size_t end = nl ? (size_t)(nl - text) : len;
    const char *line = text + pos;
    size_t ll = end - pos;
    pos = nl ? end + 1 : len;
    if (memchr(line, '\0', ll) != NULL) {
      ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: NUL byte", docname, lineno);
      goto fail;
    }
    line_kind_t k = classify(line, ll);
    if (k == LINE_SKIP) {
      continue;
    }
    if (na + nf >= EP_AUTHSET_MAX_ENTRIES) {
      ep_err_set(err, EP_ERR_LIMIT, "%s line %zu: too many entries", docname, lineno);
      goto fail;
    }
    if (k == LINE_AUTH) {
      if (EP_VEC_RESERVE(auth, aa, na + 1, EP_AUTHSET_MAX_ENTRIES, docname, err) != EP_OK) {
        goto fail;
      }
      if (ep_dir_authority_parse_line(line, ll, &auth[na], err) < 0) {
        ep_err_wrap(err, EP_ERR_MALFORMED, "%s line %zu", docname, lineno);
        goto fail;
      }
      na++;
    } else {
      if (EP_VEC_RESERVE(fb, af, nf + 1, EP_AUTHSET_MAX_ENTRIES, docname, err) != EP_OK) {
        goto fail;
      }
      if (ep_dir_fallback_parse_line(line, ll, &fb[nf], err) < 0) {
        ep_err_wrap(err, EP_ERR_MALFORMED, "%s line %zu", docname, lineno);
        goto fail;
      }
      nf++;
    }
  }
  if (na == 0 && nf == 0) {
    ep_err_set(err, EP_ERR_MALFORMED, "%s: no DirAuthority or FallbackDir lines", docname);
    goto fail;
  }
  set->auth = auth;
  set->n_auth = na;
  set->fallback = fb;
  set->n_fallback = nf;
  set->owned = true;
  return set;
fail:
  free(auth);
  free(fb);
  free(set);
  return NULL;
}

ep_dir_authset_t *ep_dir_authset_load(const char *path, ep_err_t *err) {
  uint8_t *buf;
  size_t n;
  if (ep_file_read(path, EP_AUTHSET_MAX_FILE, NULL, &buf, &n, err) != EP_OK) {
    return NULL;
  }
  ep_dir_authset_t *s = ep_dir_authset_parse((const char *)buf, n, path, err);
  free(buf);
  return s;
}

const ep_dir_authority_t *ep_dir_authset_find_v3(const ep_dir_authset_t *s, const uint8_t id[20]) {
  for (size_t i = 0; s != NULL && i < s->n_auth; i++) {
    const ep_dir_authority_t *a = &s->auth[i];
    if (a->has_v3ident && !a->bridge && memcmp(a->v3ident, id, 20) == 0) {
      return a;
    }
  }
  return NULL;
}

size_t ep_dir_authset_n_v3(const ep_dir_authset_t *s) {
  size_t n = 0;
  for (size_t i = 0; s != NULL && i < s->n_auth; i++) {
    if (s->auth[i].has_v3ident && !s->auth[i].bridge) {
      n++;
    }
  }
  return n;
}
