/* exitprobe — link specifiers (tor-spec §5.1.2). */
#include "config.h"

#include "proto/linkspec.h"

#include <string.h>

/* Expected length of a known type, or -1 for unknown types. */
static int known_len(uint8_t type) {
  switch (type) {
    case EP_LS_IPV4: return 6;
    case EP_LS_IPV6: return 18;
    case EP_LS_LEGACY_ID: return 20;
    case EP_LS_ED25519_ID: return 32;
    default: return -1;
  }
}

const char *ep_linkspec_type_name(unsigned type) {
  switch (type) {
    case EP_LS_IPV4: return "ipv4";
    case EP_LS_IPV6: return "ipv6";
    case EP_LS_LEGACY_ID: return "legacy-id";
    case EP_LS_ED25519_ID: return "ed25519-id";
    default: return NULL;
  }
}

int ep_linkspecs_read(ep_reader_t *r, ep_linkspecs_t *out, ep_err_t *err) {
  uint8_t nspec;
  memset(out, 0, sizeof *out);
  if (ep_rd_u8(r, &nspec) < 0) {
    return ep_err_set(err, EP_ERR_TRUNCATED, "link specifiers: no NSPEC");
  }
  if (nspec > EP_LINKSPEC_MAX) {
    return ep_err_set(err, EP_ERR_LIMIT, "link specifiers: %u of them, we keep at most %u",
                      (unsigned)nspec, EP_LINKSPEC_MAX);
  }
  bool seen_legacy = false, seen_ed = false;
  for (unsigned i = 0; i < nspec; i++) {
    ep_linkspec_t *ls = &out->spec[i];
    if (ep_rd_u8(r, &ls->type) < 0 || ep_rd_u8(r, &ls->len) < 0) {
      return ep_err_set(err, EP_ERR_TRUNCATED, "link specifier %u of %u: no type/length", i + 1,
                        (unsigned)nspec);
    }
    if (ep_rd_ptr(r, &ls->data, ls->len) < 0) {
      return ep_err_set(err, EP_ERR_TRUNCATED, "link specifier %u (type %u): length %u, %zu left",
                        i + 1, (unsigned)ls->type, (unsigned)ls->len, ep_rd_remaining(r));
    }
    int want = known_len(ls->type);
    if (want >= 0 && ls->len != (unsigned)want) {
      return ep_err_set(err, EP_ERR_MALFORMED, "link specifier %u (%s): length %u, wants %d",
                        i + 1, ep_linkspec_type_name(ls->type), (unsigned)ls->len, want);
    }
    if (ls->type == EP_LS_LEGACY_ID) {
      if (seen_legacy) {
        return ep_err_set(err, EP_ERR_MALFORMED, "link specifier %u: a second legacy id", i + 1);
      }
      seen_legacy = true;
    } else if (ls->type == EP_LS_ED25519_ID) {
      if (seen_ed) {
        return ep_err_set(err, EP_ERR_MALFORMED, "link specifier %u: a second Ed25519 id", i + 1);
      }
      seen_ed = true;
    }
    out->n++;
  }
  return EP_OK;
}

int ep_linkspecs_write(ep_writer_t *w, const ep_linkspecs_t *ls, ep_err_t *err) {
  if (ls->n > EP_LINKSPEC_MAX) {
    return ep_err_set(err, EP_ERR_LIMIT, "link specifiers: %zu over %u", ls->n, EP_LINKSPEC_MAX);
  }
  ep_wr_u8(w, (uint8_t)ls->n);
  for (size_t i = 0; i < ls->n; i++) {
    const ep_linkspec_t *s = &ls->spec[i];
    int want = known_len(s->type);
    if (want >= 0 && s->len != (unsigned)want) {
      return ep_err_set(err, EP_ERR_MALFORMED, "link specifier %zu (%s): length %u, wants %d",
                        i + 1, ep_linkspec_type_name(s->type), (unsigned)s->len, want);
    }
    ep_wr_u8(w, s->type);
    ep_wr_u8(w, s->len);
    if (s->len > 0) {
      ep_wr_bytes(w, s->data, s->len);
    }
  }
  if (!ep_wr_ok(w)) {
    return ep_err_set(err, EP_ERR_LIMIT, "link specifiers: do not fit the message");
  }
  return EP_OK;
}

void ep_linkspecs_from_target(ep_linkspecs_t *out, const ep_target_t *t,
                              uint8_t buf[EP_LINKSPEC_TARGET_BUF]) {
  memset(out, 0, sizeof *out);
  uint8_t *p = buf;
  ep_put_u32(p, t->ipv4);
  ep_put_u16(p + 4, t->or_port);
  out->spec[out->n++] = (ep_linkspec_t){EP_LS_IPV4, 6, p};
  p += 6;
  memcpy(p, t->rsa_id, 20);
  out->spec[out->n++] = (ep_linkspec_t){EP_LS_LEGACY_ID, 20, p};
  p += 20;
  if (t->has_ed25519) {
    memcpy(p, t->ed25519_id, 32);
    out->spec[out->n++] = (ep_linkspec_t){EP_LS_ED25519_ID, 32, p};
    p += 32;
  }
  if (t->has_ipv6) {
    memcpy(p, t->ipv6, 16);
    ep_put_u16(p + 16, t->ipv6_port);
    out->spec[out->n++] = (ep_linkspec_t){EP_LS_IPV6, 18, p};
  }
}

bool ep_linkspec_ipv4(const ep_linkspec_t *ls, uint32_t *addr, uint16_t *port) {
  if (ls->type != EP_LS_IPV4 || ls->len != 6) {
    return false;
  }
  *addr = ep_get_u32(ls->data);
  *port = ep_get_u16(ls->data + 4);
  return true;
}

bool ep_linkspec_ipv6(const ep_linkspec_t *ls, uint8_t addr[16], uint16_t *port) {
  if (ls->type != EP_LS_IPV6 || ls->len != 18) {
    return false;
  }
  memcpy(addr, ls->data, 16);
  *port = ep_get_u16(ls->data + 16);
  return true;
}

const ep_linkspec_t *ep_linkspecs_find(const ep_linkspecs_t *ls, uint8_t type) {
  for (size_t i = 0; i < ls->n; i++) {
    if (ls->spec[i].type == type) {
      return &ls->spec[i];
    }
  }
  return NULL;
}
