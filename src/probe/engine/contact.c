/* exitprobe — a relay's contact information as records keep it. */
#include "config.h"

#include "probe/engine/contact.h"

#include <stdlib.h>
#include <string.h>

#include "dir/ciiss.h"
#include "lib/json.h"

void ep_relay_contact_init(ep_relay_contact_t *c) { memset(c, 0, sizeof *c); }

void ep_relay_contact_clear(ep_relay_contact_t *c) {
  if (c == NULL) {
    return;
  }
  for (size_t i = 0; i < c->n_family; i++) {
    free(c->family[i]);
  }
  free(c->family);
  ep_relay_contact_init(c);
}

static void copy_val(char *dst, size_t cap, const ep_ciiss_val_t *v) {
  size_t n = v->p != NULL && v->len < cap ? v->len : 0;
  if (n > 0) {
    memcpy(dst, v->p, n);
  }
  dst[n] = '\0';
}

static int add_family(ep_relay_contact_t *c, const char *f, size_t n, ep_err_t *err) {
  c->family = calloc(EP_CAP_FAMILY_MEMBERS, sizeof *c->family);
  if (c->family == NULL) {
    return ep_err_set(err, EP_ERR_NOMEM, "out of memory (family of a relay)");
  }
  size_t i = 0;
  while (i < n && c->n_family < EP_CAP_FAMILY_MEMBERS) {
    while (i < n && (f[i] == ' ' || f[i] == '\t')) {
      i++;
    }
    size_t s = i;
    while (i < n && f[i] != ' ' && f[i] != '\t') {
      i++;
    }
    size_t len = i - s;
    if (len == 0 || len > EP_CAP_FAMILY_ENTRY) {
      continue;
    }
    char *e = malloc(len + 1);
    if (e == NULL) {
      return ep_err_set(err, EP_ERR_NOMEM, "out of memory (family of a relay)");
    }
    memcpy(e, f + s, len);
    e[len] = '\0';
    c->family[c->n_family++] = e;
  }
  return EP_OK;
}

int ep_relay_contact_set(ep_relay_contact_t *c, const char *contact, size_t contact_len,
                         const char *platform, size_t platform_len, const char *family,
                         size_t family_len, ep_err_t *err) {
  ep_relay_contact_clear(c);
  if (contact != NULL) {
    c->has_contact = true;
    c->contact_capped = contact_len > EP_CAP_CONTACT;
    c->contact_len = c->contact_capped ? EP_CAP_CONTACT : contact_len;
    memcpy(c->contact, contact, c->contact_len);
    ep_ciiss_t ci;
    ep_ciiss_parse(c->contact, c->contact_len, &ci);
    ep_ciiss_email(&ci, c->email, sizeof c->email);
    copy_val(c->url, sizeof c->url, &ci.url);
    copy_val(c->ciiss_version, sizeof c->ciiss_version, &ci.version);
    copy_val(c->ciiss_proof, sizeof c->ciiss_proof, &ci.proof);
  }
  if (platform != NULL) {
    c->has_platform = true;
    c->platform_len = platform_len > EP_CAP_PLATFORM ? EP_CAP_PLATFORM : platform_len;
    memcpy(c->platform, platform, c->platform_len);
  }
  int rc = family != NULL ? add_family(c, family, family_len, err) : EP_OK;
  if (rc != EP_OK) {
    ep_relay_contact_clear(c);
  }
  return rc;
}

/* "key":"value" or "key":null, then a comma when asked. */
static int put(ep_buf_t *o, const char *k, bool present, const char *v, size_t n, bool comma,
               ep_err_t *err) {
  int rc = ep_json_put_str(o, k, strlen(k), err);
  if (rc == EP_OK) rc = ep_buf_append(o, ":", 1, err);
  if (rc == EP_OK) rc = present ? ep_json_put_str(o, v, n, err) : ep_buf_append_str(o, "null", err);
  if (rc == EP_OK && comma) rc = ep_buf_append(o, ",", 1, err);
  return rc;
}

static int put_opt(ep_buf_t *o, const char *k, const char *v, ep_err_t *err) {
  return put(o, k, v != NULL && v[0] != '\0', v, v != NULL ? strlen(v) : 0, true, err);
}

int ep_relay_contact_json(const ep_relay_contact_t *c, ep_buf_t *o, bool comma, ep_err_t *err) {
  static const ep_relay_contact_t none;
  if (c == NULL) {
    c = &none;
  }
  int rc = put(o, "contact", c->has_contact, c->contact, c->contact_len, true, err);
  if (rc == EP_OK) rc = put_opt(o, "contact_email", c->email, err);
  if (rc == EP_OK) rc = put_opt(o, "contact_url", c->url, err);
  if (rc == EP_OK) rc = put_opt(o, "ciiss_version", c->ciiss_version, err);
  if (rc == EP_OK) rc = put_opt(o, "ciiss_proof", c->ciiss_proof, err);
  if (rc == EP_OK) rc = put(o, "platform", c->has_platform, c->platform, c->platform_len, true, err);
  if (rc == EP_OK) rc = ep_buf_append_str(o, "\"family\":[", err);
  for (size_t i = 0; rc == EP_OK && i < c->n_family; i++) {
    if (i > 0) rc = ep_buf_append(o, ",", 1, err);
    if (rc == EP_OK) rc = ep_json_put_str(o, c->family[i], strlen(c->family[i]), err);
  }
  if (rc == EP_OK) rc = ep_buf_append_str(o, comma ? "]," : "]", err);
  return rc;
}
