/* exitprobe — VERSIONS, CERTS, AUTH_CHALLENGE, NETINFO codecs (tor-spec §4). */
#include "config.h"

#include "proto/linkhs.h"

#include <string.h>

#include "lib/reader.h"

/* ---- VERSIONS ---- */

int ep_versions_encode(uint8_t *out, size_t cap, const uint16_t *versions, size_t n,
                       size_t *len, ep_err_t *err) {
  ep_writer_t w;
  ep_writer_init(&w, out, cap);
  for (size_t i = 0; i < n; i++) {
    ep_wr_u16(&w, versions[i]);
  }
  if (!ep_wr_ok(&w)) {
    return ep_err_set(err, EP_ERR_LIMIT, "VERSIONS: %zu versions do not fit %zu bytes", n, cap);
  }
  *len = ep_wr_len(&w);
  return EP_OK;
}

int ep_versions_parse(const uint8_t *payload, size_t len, ep_versions_t *out, ep_err_t *err) {
  out->n = 0;
  if (len % 2 != 0) {
    return ep_err_set(err, EP_ERR_MALFORMED, "VERSIONS: odd length %zu", len);
  }
  if (len / 2 > EP_VERSIONS_MAX) {
    return ep_err_set(err, EP_ERR_LIMIT, "VERSIONS: %zu versions, over %u", len / 2,
                      EP_VERSIONS_MAX);
  }
  ep_reader_t r;
  ep_reader_init(&r, payload, len);
  while (!ep_rd_empty(&r)) {
    ep_rd_u16(&r, &out->v[out->n++]);
  }
  return EP_OK;
}

int ep_versions_choose(const ep_versions_t *theirs, int min, int max) {
  int best = -1;
  for (size_t i = 0; i < theirs->n; i++) {
    int v = theirs->v[i];
    if (v >= min && v <= max && v > best) {
      best = v;
    }
  }
  return best;
}

/* ---- CERTS ---- */

static const char *const certs_names[] = {
  NULL, "rsa-link", "rsa-id", "rsa-auth", "ed-id-signing", "ed-signing-link",
  "ed-signing-auth", "rsa-ed-crosscert",
};

const char *ep_certs_type_name(unsigned type) {
  if (type < sizeof certs_names / sizeof certs_names[0]) {
    return certs_names[type];
  }
  return NULL;
}

int ep_certs_parse(const uint8_t *payload, size_t len, ep_certs_t *out, ep_err_t *err) {
  ep_reader_t r;
  ep_reader_init(&r, payload, len);
  uint8_t n;
  out->n = 0;
  if (ep_rd_u8(&r, &n) < 0) {
    return ep_err_set(err, EP_ERR_TRUNCATED, "CERTS: empty");
  }
  if (n > EP_CERTS_MAX) {
    return ep_err_set(err, EP_ERR_LIMIT, "CERTS: %u certificates, we take at most %u",
                      (unsigned)n, EP_CERTS_MAX);
  }
  for (unsigned i = 0; i < n; i++) {
    ep_certs_entry_t *e = &out->e[i];
    if (ep_rd_u8(&r, &e->type) < 0 || ep_rd_u16(&r, &e->len) < 0) {
      return ep_err_set(err, EP_ERR_TRUNCATED, "CERTS: certificate %u of %u has no header",
                        i + 1, (unsigned)n);
    }
    if (ep_rd_ptr(&r, &e->body, e->len) < 0) {
      return ep_err_set(err, EP_ERR_TRUNCATED,
                        "CERTS: certificate %u (type %u) of %u bytes, %zu left", i + 1,
                        (unsigned)e->type, (unsigned)e->len, ep_rd_remaining(&r));
    }
    for (unsigned j = 0; j < i; j++) {
      if (out->e[j].type == e->type) {
        return ep_err_set(err, EP_ERR_MALFORMED, "CERTS: two certificates of type %u",
                          (unsigned)e->type);
      }
    }
    out->n++;
  }
  return EP_OK;
}

const ep_certs_entry_t *ep_certs_find(const ep_certs_t *certs, uint8_t type) {
  for (size_t i = 0; i < certs->n; i++) {
    if (certs->e[i].type == type) {
      return &certs->e[i];
    }
  }
  return NULL;
}

int ep_certs_encode(uint8_t *out, size_t cap, const ep_certs_t *certs, size_t *len,
                    ep_err_t *err) {
  ep_writer_t w;
  ep_writer_init(&w, out, cap);
  if (certs->n > EP_CERTS_MAX) {
    return ep_err_set(err, EP_ERR_LIMIT, "CERTS: %zu certificates", certs->n);
  }
  ep_wr_u8(&w, (uint8_t)certs->n);
  for (size_t i = 0; i < certs->n; i++) {
    ep_wr_u8(&w, certs->e[i].type);
    ep_wr_u16(&w, certs->e[i].len);
    if (certs->e[i].len > 0) {
      ep_wr_bytes(&w, certs->e[i].body, certs->e[i].len);
    }
  }
  if (!ep_wr_ok(&w)) {
    return ep_err_set(err, EP_ERR_LIMIT, "CERTS: does not fit %zu bytes", cap);
  }
  *len = ep_wr_len(&w);
  return EP_OK;
}

/* ---- AUTH_CHALLENGE ---- */

int ep_auth_challenge_parse(const uint8_t *payload, size_t len, ep_auth_challenge_t *out,
                            ep_err_t *err) {
  ep_reader_t r;
  ep_reader_init(&r, payload, len);
  memset(out, 0, sizeof *out);
  if (ep_rd_bytes(&r, out->challenge, EP_AUTH_CHALLENGE_LEN) < 0 ||
      ep_rd_u16(&r, &out->n_methods) < 0) {
    return ep_err_set(err, EP_ERR_TRUNCATED, "AUTH_CHALLENGE: %zu bytes, wants 34 or more", len);
  }
  for (unsigned i = 0; i < out->n_methods; i++) {
    uint16_t m;
    if (ep_rd_u16(&r, &m) < 0) {
      return ep_err_set(err, EP_ERR_TRUNCATED, "AUTH_CHALLENGE: %u methods declared, %u there",
                        (unsigned)out->n_methods, i);
    }
    if (i < EP_AUTH_METHODS_KEPT) {
      out->methods[i] = m;
    }
  }
  return EP_OK;
}

int ep_auth_challenge_encode(uint8_t *out, size_t cap, const ep_auth_challenge_t *ac,
                             size_t *len, ep_err_t *err) {
  ep_writer_t w;
  ep_writer_init(&w, out, cap);
  ep_wr_bytes(&w, ac->challenge, EP_AUTH_CHALLENGE_LEN);
  unsigned n = ac->n_methods < EP_AUTH_METHODS_KEPT ? ac->n_methods : EP_AUTH_METHODS_KEPT;
  ep_wr_u16(&w, (uint16_t)n);
  for (unsigned i = 0; i < n; i++) {
    ep_wr_u16(&w, ac->methods[i]);
  }
  if (!ep_wr_ok(&w)) {
    return ep_err_set(err, EP_ERR_LIMIT, "AUTH_CHALLENGE: does not fit %zu bytes", cap);
  }
  *len = ep_wr_len(&w);
  return EP_OK;
}

/* ---- NETINFO ---- */

/* One ATYPE | ALEN | AVAL. An unknown type or a wrong length gives family
 * NONE (the address is ignored, §4.5). -1 if truncated. */
static int read_netinfo_addr(ep_reader_t *r, ep_ipaddr_t *a) {
  uint8_t type, alen;
  const uint8_t *val;
  memset(a, 0, sizeof *a);
  if (ep_rd_u8(r, &type) < 0 || ep_rd_u8(r, &alen) < 0 || ep_rd_ptr(r, &val, alen) < 0) {
    return -1;
  }
  if (type == 4 && alen == 4) {
    a->family = EP_IPADDR_V4;
    memcpy(a->bytes, val, 4);
  } else if (type == 6 && alen == 16) {
    a->family = EP_IPADDR_V6;
    memcpy(a->bytes, val, 16);
  }
  return 0;
}

static void write_netinfo_addr(ep_writer_t *w, const ep_ipaddr_t *a) {
  if (a->family == EP_IPADDR_V6) {
    ep_wr_u8(w, 6);
    ep_wr_u8(w, 16);
    ep_wr_bytes(w, a->bytes, 16);
  } else if (a->family == EP_IPADDR_V4) {
    ep_wr_u8(w, 4);
    ep_wr_u8(w, 4);
    ep_wr_bytes(w, a->bytes, 4);
  } else {
    /* No address known: an IPv4 0.0.0.0, as tor writes for an unknown peer. */
    ep_wr_u8(w, 4);
    ep_wr_u8(w, 4);
    ep_wr_u32(w, 0);
  }
}

int ep_netinfo_parse(const uint8_t *payload, size_t len, ep_netinfo_t *out, ep_err_t *err) {
  ep_reader_t r;
  ep_reader_init(&r, payload, len);
  memset(out, 0, sizeof *out);
  if (ep_rd_u32(&r, &out->timestamp) < 0) {
    return ep_err_set(err, EP_ERR_TRUNCATED, "NETINFO: no timestamp");
  }
  if (read_netinfo_addr(&r, &out->other) < 0) {
    return ep_err_set(err, EP_ERR_TRUNCATED, "NETINFO: other address truncated");
  }
  if (ep_rd_u8(&r, &out->n_my) < 0) {
    return ep_err_set(err, EP_ERR_TRUNCATED, "NETINFO: no NMYADDR");
  }
  for (unsigned i = 0; i < out->n_my; i++) {
    ep_ipaddr_t a;
    if (read_netinfo_addr(&r, &a) < 0) {
      return ep_err_set(err, EP_ERR_TRUNCATED, "NETINFO: address %u of %u truncated", i + 1,
                        (unsigned)out->n_my);
    }
    if (a.family != EP_IPADDR_NONE && out->n_my_kept < EP_NETINFO_ADDRS_KEPT) {
      out->my[out->n_my_kept++] = a;
    }
  }
  return EP_OK;
}

int ep_netinfo_encode(uint8_t payload[EP_CELL_PAYLOAD_LEN], const ep_netinfo_t *ni,
                      ep_err_t *err) {
  ep_writer_t w;
  ep_writer_init(&w, payload, EP_CELL_PAYLOAD_LEN);
  size_t n = ni->n_my_kept < EP_NETINFO_ADDRS_KEPT ? ni->n_my_kept : EP_NETINFO_ADDRS_KEPT;
  ep_wr_u32(&w, ni->timestamp);
  write_netinfo_addr(&w, &ni->other);
  ep_wr_u8(&w, (uint8_t)n);
  for (size_t i = 0; i < n; i++) {
    write_netinfo_addr(&w, &ni->my[i]);
  }
  if (!ep_wr_ok(&w)) {
    return ep_err_set(err, EP_ERR_INTERNAL, "NETINFO: does not fit a cell");
  }
  ep_wr_zeros(&w, EP_CELL_PAYLOAD_LEN - ep_wr_len(&w));
  return EP_OK;
}
