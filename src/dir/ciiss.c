/* exitprobe — ContactInfo Information Sharing fields of a contact line. */
#include "config.h"

#include "dir/ciiss.h"

#include <string.h>

#include "lib/caps.h"

static bool is_space(char c) { return c == ' ' || c == '\t'; }

/* The value starting at v (up to end): to the next space or tab. */
static ep_ciiss_val_t value_at(const char *v, const char *end) {
  const char *e = v;
  while (e < end && !is_space(*e)) {
    e++;
  }
  ep_ciiss_val_t out = {NULL, 0};
  size_t n = (size_t)(e - v);
  if (n == 0 || n > EP_CAP_CIISS_FIELD) {
    return out;
  }
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)v[i];
    if (c < 0x21 || c > 0x7e) {
      return out;
    }
  }
  out.p = v;
  out.len = n;
  return out;
}

static ep_ciiss_val_t *slot_for(ep_ciiss_t *c, const char *tok, size_t n, size_t *klen) {
  static const struct {
    const char *key;
    size_t off;
  } keys[] = {
      {"email:", offsetof(ep_ciiss_t, email)},
      {"url:", offsetof(ep_ciiss_t, url)},
      {"ciissversion:", offsetof(ep_ciiss_t, version)},
      {"proof:", offsetof(ep_ciiss_t, proof)},
  };
  for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
    size_t kl = strlen(keys[k].key);
    if (n >= kl && memcmp(tok, keys[k].key, kl) == 0) {
      *klen = kl;
      return (ep_ciiss_val_t *)((char *)c + keys[k].off);
    }
  }
  return NULL;
}

void ep_ciiss_parse(const char *text, size_t len, ep_ciiss_t *out) {
  memset(out, 0, sizeof *out);
  const char *p = text, *end = text + len;
  bool seen[4] = {false, false, false, false};
  while (p < end) {
    while (p < end && is_space(*p)) {
      p++;
    }
    const char *tok = p;
    while (p < end && !is_space(*p)) {
      p++;
    }
    size_t klen = 0;
    ep_ciiss_val_t *slot = slot_for(out, tok, (size_t)(p - tok), &klen);
    if (slot != NULL) {
      size_t idx = (size_t)(slot - &out->email);
      if (!seen[idx]) {
        seen[idx] = true;
        *slot = value_at(tok + klen, end);
      }
    }
  }
}

static bool atext(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static bool host_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

/* A dot-atom (or host name when host): no leading, trailing or double dot. */
static bool dot_atom(const char *s, size_t n, bool host) {
  if (n == 0 || s[0] == '.' || s[n - 1] == '.') {
    return false;
  }
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '.') {
      if (s[i + 1] == '.') {
        return false;
      }
    } else if (!(host ? host_char(c) : atext(c))) {
      return false;
    }
  }
  return true;
}

bool ep_ciiss_email(const ep_ciiss_t *c, char *out, size_t cap) {
  if (cap > 0) {
    out[0] = '\0';
  }
  const ep_ciiss_val_t *v = &c->email;
  if (v->p == NULL || cap == 0) {
    return false;
  }
  size_t o = 0, at = 0, n_at = 0;
  for (size_t i = 0; i < v->len; i++) {
    bool marker = i + 1 < v->len && v->p[i] == '[' && v->p[i + 1] == ']';
    if (o + 1 >= cap) {
      out[0] = '\0';
      return false;
    }
    if (marker || v->p[i] == '@') {
      at = o;
      n_at++;
      out[o++] = '@';
      i += marker ? 1 : 0;
    } else {
      out[o++] = v->p[i];
    }
  }
  out[o] = '\0';
  if (n_at != 1 || !dot_atom(out, at, false) || !dot_atom(out + at + 1, o - at - 1, true)) {
    out[0] = '\0';
    return false;
  }
  return true;
}
