/* exitprobe — relay header and relay messages (tor-spec §6, §5.1.2, §7.3). */
#include "config.h"

#include "proto/relaymsg.h"

#include <stdio.h>
#include <string.h>

#include "lib/crypto.h"
#include "lib/escape.h"
#include "lib/names.h"
#include "lib/reader.h"

/* ---- Header ---- */

int ep_relay_hdr_parse(const uint8_t body[EP_CELL_PAYLOAD_LEN], ep_relay_hdr_t *hdr,
                       const uint8_t **data, ep_err_t *err) {
  ep_reader_t r;
  ep_reader_init(&r, body, EP_CELL_PAYLOAD_LEN);
  /* 509 bytes always hold the 11-byte header. */
  ep_rd_u8(&r, &hdr->command);
  ep_rd_u16(&r, &hdr->recognized);
  ep_rd_u16(&r, &hdr->stream_id);
  ep_rd_bytes(&r, hdr->digest, sizeof hdr->digest);
  ep_rd_u16(&r, &hdr->length);
  if (hdr->length > EP_RELAY_PAYLOAD_MAX) {
    return ep_err_set(err, EP_ERR_MALFORMED, "relay cell (%s): length %u over %u",
                      ep_relay_command_name(hdr->command) ? ep_relay_command_name(hdr->command)
                                                          : "unknown",
                      (unsigned)hdr->length, EP_RELAY_PAYLOAD_MAX);
  }
  return ep_rd_ptr(&r, data, hdr->length) == 0 ? EP_OK
                                                : ep_err_set(err, EP_ERR_INTERNAL, "relay header");
}

int ep_relay_body_build(uint8_t body[EP_CELL_PAYLOAD_LEN], uint8_t command, uint16_t stream_id,
                        const uint8_t *data, size_t len, ep_err_t *err) {
  return ep_relay_body_build_rand(body, command, stream_id, data, len, NULL, NULL, err);
}

int ep_relay_body_build_rand(uint8_t body[EP_CELL_PAYLOAD_LEN], uint8_t command,
                             uint16_t stream_id, const uint8_t *data, size_t len,
                             ep_random_fn rand, void *rand_ctx, ep_err_t *err) {
  if (len > EP_RELAY_PAYLOAD_MAX) {
    return ep_err_set(err, EP_ERR_LIMIT, "relay message (command %u): %zu bytes over %u",
                      (unsigned)command, len, EP_RELAY_PAYLOAD_MAX);
  }
  body[0] = command;
  ep_put_u16(body + 1, 0);
  ep_put_u16(body + 3, stream_id);
  memset(body + 5, 0, 4);
  ep_put_u16(body + 9, (uint16_t)len);
  if (len > 0) {
    memcpy(body + EP_RELAY_HEADER_LEN, data, len);
  }
  size_t pad = EP_RELAY_PAYLOAD_MAX - len;
  uint8_t *p = body + EP_RELAY_HEADER_LEN + len;
  size_t zeros = pad < 4 ? pad : 4;
  memset(p, 0, zeros);
  if (pad > zeros) {
    if (rand != NULL) {
      rand(rand_ctx, p + zeros, pad - zeros);
    } else {
      ep_random(p + zeros, pad - zeros);
    }
  }
  return EP_OK;
}

/* ---- Names ---- */

static const ep_name_t relay_cmds[] = {
  {EP_RELAY_BEGIN, "begin"},         {EP_RELAY_DATA, "data"},
  {EP_RELAY_END, "end"},             {EP_RELAY_CONNECTED, "connected"},
  {EP_RELAY_SENDME, "sendme"},       {EP_RELAY_EXTEND, "extend"},
  {EP_RELAY_EXTENDED, "extended"},   {EP_RELAY_TRUNCATE, "truncate"},
  {EP_RELAY_TRUNCATED, "truncated"}, {EP_RELAY_DROP, "drop"},
  {EP_RELAY_RESOLVE, "resolve"},     {EP_RELAY_RESOLVED, "resolved"},
  {EP_RELAY_BEGIN_DIR, "begin_dir"}, {EP_RELAY_EXTEND2, "extend2"},
  {EP_RELAY_EXTENDED2, "extended2"},
};

const char *ep_relay_command_name(unsigned command) {
  return ep_name_of(relay_cmds, EP_NAMES_N(relay_cmds), command);
}

bool ep_relay_command_known(unsigned command) { return ep_relay_command_name(command) != NULL; }

/* RELAY_END reasons (tor-spec 6.3). */
static const ep_name_t end_reasons[] = {
  {1, "misc"},          {2, "resolvefailed"}, {3, "connectrefused"}, {4, "exitpolicy"},
  {5, "destroy"},       {6, "done"},          {7, "timeout"},        {8, "noroute"},
  {9, "hibernating"},   {10, "internal"},     {11, "resourcelimit"}, {12, "connreset"},
  {13, "torprotocol"},  {14, "notdirectory"},
};

const char *ep_end_reason_name(unsigned reason) {
  return ep_name_of(end_reasons, EP_NAMES_N(end_reasons), reason);
}

const char *ep_end_reason_format(char *buf, size_t cap, unsigned reason) {
  return ep_name_format(buf, cap, end_reasons, EP_NAMES_N(end_reasons), reason, "reason-");
}

/* ---- Contexts ---- */

bool ep_relay_command_expected(ep_relay_ctx_t ctx, unsigned command) {
  switch (command) {
    case EP_RELAY_DATA:
    case EP_RELAY_END:
    case EP_RELAY_SENDME:
    case EP_RELAY_DROP:
      return true;
    case EP_RELAY_CONNECTED:
    case EP_RELAY_EXTENDED2:
    case EP_RELAY_TRUNCATED:
    case EP_RELAY_RESOLVED:
      return ctx == EP_RELAY_CTX_CLIENT;
    case EP_RELAY_BEGIN:
    case EP_RELAY_BEGIN_DIR:
    case EP_RELAY_EXTEND2:
    case EP_RELAY_RESOLVE:
      return ctx == EP_RELAY_CTX_RELAY;
    default:
      return false;
  }
}

/* Which commands name a stream (non-zero id) and which the circuit (zero). */
static int stream_rule(unsigned command) {
  switch (command) {
    case EP_RELAY_BEGIN:
    case EP_RELAY_DATA:
    case EP_RELAY_END:
    case EP_RELAY_CONNECTED:
    case EP_RELAY_BEGIN_DIR:
    case EP_RELAY_RESOLVE:
    case EP_RELAY_RESOLVED:
      return 1;   /* must be non-zero */
    case EP_RELAY_SENDME:
      return 0;   /* either */
    default:
      return -1;  /* must be zero */
  }
}

/* ---- Parsers ---- */

static int parse_begin(ep_reader_t *r, ep_relay_begin_t *b, ep_err_t *err) {
  const uint8_t *s;
  size_t n;
  ep_rd_rest(r, &s, &n);
  if (n == 0) {
    return ep_err_set(err, EP_ERR_MALFORMED, "BEGIN: empty body");
  }
  const uint8_t *nul = memchr(s, 0, n);
  if (nul == NULL) {
    return ep_err_set(err, EP_ERR_MALFORMED, "BEGIN: address not NUL-terminated");
  }
  size_t alen = (size_t)(nul - s);
  ep_reader_t sub;
  ep_reader_init(&sub, s, n);
  ep_rd_skip(&sub, alen + 1);
  if (ep_rd_remaining(&sub) >= 4) {
    ep_rd_u32(&sub, &b->flags);
    b->has_flags = true;
  }
  /* ADDRESS ':' PORT, split at the last ':' (IPv6 is bracketed). */
  const uint8_t *colon = NULL;
  for (size_t i = alen; i > 0; i--) {
    if (s[i - 1] == ':') {
      colon = s + i - 1;
      break;
    }
  }
  if (colon == NULL) {
    return ep_err_set(err, EP_ERR_MALFORMED, "BEGIN: no ':' before the port");
  }
  size_t hlen = (size_t)(colon - s);
  size_t plen = alen - hlen - 1;
  if (hlen == 0 || hlen > EP_BEGIN_HOST_MAX) {
    return ep_err_set(err, EP_ERR_MALFORMED, "BEGIN: host of %zu bytes", hlen);
  }
  if (plen == 0 || plen > 5) {
    return ep_err_set(err, EP_ERR_MALFORMED, "BEGIN: port of %zu characters", plen);
  }
  uint32_t port = 0;
  for (size_t i = 0; i < plen; i++) {
    uint8_t c = colon[1 + i];
    if (c < '0' || c > '9') {
      return ep_err_set(err, EP_ERR_MALFORMED, "BEGIN: port is not a number");
    }
    port = port * 10 + (uint32_t)(c - '0');
  }
  if (port == 0 || port > 65535) {
    return ep_err_set(err, EP_ERR_MALFORMED, "BEGIN: port %u out of range", (unsigned)port);
  }
  if (s[0] == '[' ? s[hlen - 1] != ']' : memchr(s, ':', hlen) != NULL) {
    return ep_err_set(err, EP_ERR_MALFORMED, "BEGIN: IPv6 address without brackets");
  }
  memcpy(b->host, s, hlen);
  b->host[hlen] = '\0';
  b->port = (uint16_t)port;
  return EP_OK;
}

/* A RESOLVE name's length (without its NUL): the one check of parse,
 * build and encode. */
static int resolve_name_ok(size_t n, ep_err_t *err) {
  if (n == 0 || n > EP_BEGIN_HOST_MAX) {
    return ep_err_set(err, n == 0 ? EP_ERR_MALFORMED : EP_ERR_LIMIT, "RESOLVE: name of %zu bytes",
                      n);
  }
  return EP_OK;
}

static int parse_resolve(ep_reader_t *r, ep_relay_resolve_t *q, ep_err_t *err) {
  const uint8_t *s;
  size_t n;
  ep_rd_rest(r, &s, &n);
  const uint8_t *nul = memchr(s, 0, n);
  if (nul == NULL) {
    return ep_err_set(err, EP_ERR_MALFORMED, "RESOLVE: name not NUL-terminated");
  }
  size_t hlen = (size_t)(nul - s);
  int rc = resolve_name_ok(hlen, err);
  if (rc != EP_OK) {
    return rc;
  }
  memcpy(q->host, s, hlen);
  q->host[hlen] = '\0';
  return EP_OK;
}

static int parse_connected(ep_reader_t *r, ep_relay_connected_t *c, ep_err_t *err) {
  size_t n = ep_rd_remaining(r);
  if (n == 0) {
    return EP_OK;
  }
  uint32_t a;
  if (ep_rd_u32(r, &a) < 0) {
    return ep_err_set(err, EP_ERR_TRUNCATED, "CONNECTED: %zu bytes, not an address", n);
  }
  if (a != 0) {
    c->has_addr = true;
    c->addr.family = EP_IPADDR_V4;
    ep_put_u32(c->addr.bytes, a);
    if (ep_rd_u32(r, &c->ttl) == 0) {
      c->has_ttl = true;
    }
    return EP_OK;
  }
  uint8_t atype;
  if (ep_rd_u8(r, &atype) < 0) {
    return ep_err_set(err, EP_ERR_TRUNCATED, "CONNECTED: zero IPv4 address and no type");
  }
  if (atype != 6) {
    return ep_err_set(err, EP_ERR_MALFORMED, "CONNECTED: address type %u, wants 6",
                      (unsigned)atype);
  }
  if (ep_rd_bytes(r, c->addr.bytes, 16) < 0 || ep_rd_u32(r, &c->ttl) < 0) {
    return ep_err_set(err, EP_ERR_TRUNCATED, "CONNECTED: IPv6 form of %zu bytes, wants 25", n);
  }
  c->has_addr = true;
  c->has_ttl = true;
  c->addr.family = EP_IPADDR_V6;
  return EP_OK;
}

static int parse_end(ep_reader_t *r, ep_relay_end_t *e) {
  e->ttl = EP_TTL_ABSENT;
  if (ep_rd_u8(r, &e->reason) < 0) {
    e->reason = EP_END_MISC;
    e->empty = true;
    return EP_OK;
  }
  if (e->reason != EP_END_EXITPOLICY) {
    return EP_OK;   /* other reasons carry nothing we read */
  }
  /* Address and TTL: absent or of a wrong length means "none", and the END
   * is processed anyway (tor-spec §6.3). */
  size_t n = ep_rd_remaining(r);
  if (n == 4 || n == 8) {
    e->addr.family = EP_IPADDR_V4;
    ep_rd_bytes(r, e->addr.bytes, 4);
    e->has_addr = true;
  } else if (n == 16 || n == 20) {
    e->addr.family = EP_IPADDR_V6;
    ep_rd_bytes(r, e->addr.bytes, 16);
    e->has_addr = true;
  }
  if (e->has_addr && ep_rd_remaining(r) == 4) {
    ep_rd_u32(r, &e->ttl);
  }
  return EP_OK;
}

static int parse_sendme(ep_reader_t *r, ep_relay_sendme_t *s, ep_err_t *err) {
  if (ep_rd_empty(r)) {
    s->empty = true;
    s->version = 0;
    return EP_OK;
  }
  ep_reader_t sub;
  if (ep_rd_u8(r, &s->version) < 0 || ep_rd_u16(r, &s->data_len) < 0) {
    return ep_err_set(err, EP_ERR_TRUNCATED, "SENDME: no version/length");
  }
  if (ep_rd_sub(r, &sub, s->data_len) < 0) {
    return ep_err_set(err, EP_ERR_TRUNCATED, "SENDME: DATA_LEN %u, %zu bytes left",
                      (unsigned)s->data_len, ep_rd_remaining(r));
  }
  if (s->version == 1) {
    if (ep_rd_bytes(&sub, s->digest, EP_SENDME_DIGEST_LEN) < 0) {
      return ep_err_set(err, EP_ERR_MALFORMED, "SENDME v1: DATA_LEN %u, wants a 20-byte digest",
                        (unsigned)s->data_len);
    }
    s->has_digest = true;
  }
  return EP_OK;
}

static int parse_handshake(ep_reader_t *r, uint16_t *hlen, const uint8_t **hdata,
                           const char *what, ep_err_t *err) {
  if (ep_rd_u16(r, hlen) < 0) {
    return ep_err_set(err, EP_ERR_TRUNCATED, "%s: no HLEN", what);
  }
  if (ep_rd_ptr(r, hdata, *hlen) < 0) {
    return ep_err_set(err, EP_ERR_TRUNCATED, "%s: HLEN %u, %zu bytes left", what,
                      (unsigned)*hlen, ep_rd_remaining(r));
  }
  return EP_OK;
}

int ep_relay_msg_parse(ep_relay_ctx_t ctx, uint8_t command, uint16_t stream_id,
                       const uint8_t *data, size_t len, ep_relay_msg_t *out, ep_err_t *err) {
  memset(out, 0, sizeof *out);
  out->command = command;
  out->stream_id = stream_id;
  const char *name = ep_relay_command_name(command);
  if (name == NULL) {
    return ep_err_set(err, EP_ERR_UNSUPPORTED, "relay command %u unknown", (unsigned)command);
  }
  if (!ep_relay_command_expected(ctx, command)) {
    return ep_err_set(err, EP_ERR_STATE, "relay %s not expected by a %s", name,
                      ctx == EP_RELAY_CTX_CLIENT ? "client" : "relay");
  }
  int rule = stream_rule(command);
  if (rule > 0 && stream_id == 0) {
    return ep_err_set(err, EP_ERR_MALFORMED, "relay %s on stream 0", name);
  }
  if (rule < 0 && stream_id != 0) {
    return ep_err_set(err, EP_ERR_MALFORMED, "relay %s on stream %u, wants 0", name,
                      (unsigned)stream_id);
  }
  ep_reader_t r;
  ep_reader_init(&r, data, len);
  switch (command) {
    case EP_RELAY_BEGIN:
      return parse_begin(&r, &out->u.begin, err);
    case EP_RELAY_CONNECTED:
      return parse_connected(&r, &out->u.connected, err);
    case EP_RELAY_END:
      return parse_end(&r, &out->u.end);
    case EP_RELAY_SENDME:
      return parse_sendme(&r, &out->u.sendme, err);
    case EP_RELAY_EXTEND2: {
      int rc = ep_linkspecs_read(&r, &out->u.extend2.ls, err);
      if (rc != EP_OK) {
        return ep_err_wrap(err, rc, "EXTEND2");
      }
      if (ep_rd_u16(&r, &out->u.extend2.htype) < 0) {
        return ep_err_set(err, EP_ERR_TRUNCATED, "EXTEND2: no HTYPE");
      }
      return parse_handshake(&r, &out->u.extend2.hlen, &out->u.extend2.hdata, "EXTEND2", err);
    }
    case EP_RELAY_EXTENDED2:
      return parse_handshake(&r, &out->u.extended2.hlen, &out->u.extended2.hdata, "EXTENDED2",
                             err);
    case EP_RELAY_TRUNCATED:
      if (ep_rd_u8(&r, &out->u.truncated_reason) < 0) {
        out->u.truncated_reason = 0;
      }
      return EP_OK;
    case EP_RELAY_RESOLVE:
      return parse_resolve(&r, &out->u.resolve, err);
    case EP_RELAY_RESOLVED: {
      ep_resolved_t check;
      int rc = ep_resolved_parse(data, len, &check, err);
      out->u.data.data = data;
      out->u.data.len = len;
      return rc;
    }
    case EP_RELAY_DATA:
    case EP_RELAY_DROP:
    case EP_RELAY_BEGIN_DIR:
    default:
      out->u.data.data = data;
      out->u.data.len = len;
      return EP_OK;
  }
}

/* ---- Encoders ---- */

static int host_ok(const char *host, size_t n, ep_err_t *err) {
  if (n == 0 || n > EP_BEGIN_HOST_MAX) {
    return ep_err_set(err, n == 0 ? EP_ERR_MALFORMED : EP_ERR_LIMIT, "BEGIN: host of %zu bytes",
                      n);
  }
  if (host[0] == '[' ? host[n - 1] != ']' : memchr(host, ':', n) != NULL) {
    return ep_err_set(err, EP_ERR_MALFORMED, "BEGIN: IPv6 address without brackets");
  }
  return EP_OK;
}

int ep_relay_msg_begin(ep_relay_msg_t *m, uint16_t stream_id, const char *host, uint16_t port,
                       uint32_t flags, ep_err_t *err) {
  memset(m, 0, sizeof *m);
  size_t n = strnlen(host, EP_BEGIN_HOST_MAX + 1);
  int rc = host_ok(host, n, err);
  if (rc != EP_OK) {
    return rc;
  }
  m->command = EP_RELAY_BEGIN;
  m->stream_id = stream_id;
  memcpy(m->u.begin.host, host, n);
  m->u.begin.host[n] = '\0';
  m->u.begin.port = port;
  m->u.begin.flags = flags;
  m->u.begin.has_flags = flags != 0;
  return EP_OK;
}

int ep_relay_msg_resolve(ep_relay_msg_t *m, uint16_t stream_id, const char *host,
                         ep_err_t *err) {
  memset(m, 0, sizeof *m);
  size_t n = strnlen(host, EP_BEGIN_HOST_MAX + 1);
  int rc = resolve_name_ok(n, err);
  if (rc != EP_OK) {
    return rc;
  }
  m->command = EP_RELAY_RESOLVE;
  m->stream_id = stream_id;
  memcpy(m->u.resolve.host, host, n);
  m->u.resolve.host[n] = '\0';
  return EP_OK;
}

void ep_relay_msg_end(ep_relay_msg_t *m, uint16_t stream_id, uint8_t reason) {
  memset(m, 0, sizeof *m);
  m->command = EP_RELAY_END;
  m->stream_id = stream_id;
  m->u.end.reason = reason;
  m->u.end.ttl = EP_TTL_ABSENT;
}

void ep_relay_msg_sendme_v1(ep_relay_msg_t *m, uint16_t stream_id,
                            const uint8_t digest[EP_SENDME_DIGEST_LEN]) {
  memset(m, 0, sizeof *m);
  m->command = EP_RELAY_SENDME;
  m->stream_id = stream_id;
  m->u.sendme.version = 1;
  m->u.sendme.data_len = EP_SENDME_DIGEST_LEN;
  m->u.sendme.has_digest = true;
  memcpy(m->u.sendme.digest, digest, EP_SENDME_DIGEST_LEN);
}

void ep_relay_msg_sendme_v0(ep_relay_msg_t *m, uint16_t stream_id) {
  memset(m, 0, sizeof *m);
  m->command = EP_RELAY_SENDME;
  m->stream_id = stream_id;
  m->u.sendme.empty = true;
}

static void write_addr(ep_writer_t *w, const ep_ipaddr_t *a) {
  ep_wr_bytes(w, a->bytes, a->family == EP_IPADDR_V6 ? 16 : 4);
}

int ep_relay_msg_encode(const ep_relay_msg_t *msg, uint8_t *out, size_t cap, size_t *len,
                        ep_err_t *err) {
  ep_writer_t w;
  ep_writer_init(&w, out, cap < EP_RELAY_PAYLOAD_MAX ? cap : EP_RELAY_PAYLOAD_MAX);
  *len = 0;
  switch (msg->command) {
    case EP_RELAY_BEGIN: {
      const ep_relay_begin_t *b = &msg->u.begin;
      size_t n = strnlen(b->host, sizeof b->host);
      int rc = host_ok(b->host, n, err);
      if (rc != EP_OK) {
        return rc;
      }
      char port[8];
      int pn = snprintf(port, sizeof port, ":%u", (unsigned)b->port);
      ep_wr_bytes(&w, b->host, n);
      ep_wr_bytes(&w, port, (size_t)pn);
      ep_wr_u8(&w, 0);
      if (b->has_flags || b->flags != 0) {
        ep_wr_u32(&w, b->flags);
      }
      break;
    }
    case EP_RELAY_BEGIN_DIR:
    case EP_RELAY_TRUNCATE:
      break;   /* empty bodies (tor-spec §6.2.1: BEGIN_DIR's payload is all zero) */
    case EP_RELAY_CONNECTED: {
      const ep_relay_connected_t *c = &msg->u.connected;
      if (!c->has_addr) {
        break;
      }
      if (c->addr.family == EP_IPADDR_V6) {
        ep_wr_u32(&w, 0);
        ep_wr_u8(&w, 6);
        ep_wr_bytes(&w, c->addr.bytes, 16);
        ep_wr_u32(&w, c->ttl);
      } else {
        ep_wr_bytes(&w, c->addr.bytes, 4);
        if (c->has_ttl) {
          ep_wr_u32(&w, c->ttl);
        }
      }
      break;
    }
    case EP_RELAY_END: {
      const ep_relay_end_t *e = &msg->u.end;
      if (e->empty) {
        break;
      }
      ep_wr_u8(&w, e->reason);
      if (e->reason == EP_END_EXITPOLICY && e->has_addr) {
        write_addr(&w, &e->addr);
        if (e->ttl != EP_TTL_ABSENT) {
          ep_wr_u32(&w, e->ttl);
        }
      }
      break;
    }
    case EP_RELAY_SENDME: {
      const ep_relay_sendme_t *s = &msg->u.sendme;
      if (s->empty) {
        break;
      }
      ep_wr_u8(&w, s->version);
      if (s->has_digest) {
        ep_wr_u16(&w, EP_SENDME_DIGEST_LEN);
        ep_wr_bytes(&w, s->digest, EP_SENDME_DIGEST_LEN);
      } else {
        ep_wr_u16(&w, 0);
      }
      break;
    }
    case EP_RELAY_EXTEND2: {
      const ep_relay_extend2_t *x = &msg->u.extend2;
      int rc = ep_linkspecs_write(&w, &x->ls, err);
      if (rc != EP_OK) {
        return ep_err_wrap(err, rc, "EXTEND2");
      }
      ep_wr_u16(&w, x->htype);
      ep_wr_u16(&w, x->hlen);
      if (x->hlen > 0) {
        ep_wr_bytes(&w, x->hdata, x->hlen);
      }
      break;
    }
    case EP_RELAY_EXTENDED2:
      ep_wr_u16(&w, msg->u.extended2.hlen);
      if (msg->u.extended2.hlen > 0) {
        ep_wr_bytes(&w, msg->u.extended2.hdata, msg->u.extended2.hlen);
      }
      break;
    case EP_RELAY_TRUNCATED:
      ep_wr_u8(&w, msg->u.truncated_reason);
      break;
    case EP_RELAY_RESOLVE: {
      size_t n = strnlen(msg->u.resolve.host, sizeof msg->u.resolve.host);
      int rc = resolve_name_ok(n, err);
      if (rc != EP_OK) {
        return rc;
      }
      ep_wr_bytes(&w, msg->u.resolve.host, n);
      ep_wr_u8(&w, 0);
      break;
    }
    case EP_RELAY_DATA:
    case EP_RELAY_DROP:
    case EP_RELAY_RESOLVED:
      if (msg->u.data.len > 0) {
        ep_wr_bytes(&w, msg->u.data.data, msg->u.data.len);
      }
      break;
    default:
      return ep_err_set(err, EP_ERR_UNSUPPORTED, "relay command %u: no encoder",
                        (unsigned)msg->command);
  }
  if (!ep_wr_ok(&w)) {
    return ep_err_set(err, EP_ERR_LIMIT, "relay %s: does not fit %zu bytes",
                      ep_relay_command_name(msg->command), cap);
  }
  *len = ep_wr_len(&w);
  return EP_OK;
}

/* ---- RESOLVED answers ---- */

static const ep_name_t resolved_types[] = {
  {EP_RESOLVED_HOSTNAME, "hostname"},
  {EP_RESOLVED_IPV4, "ipv4"},
  {EP_RESOLVED_IPV6, "ipv6"},
  {EP_RESOLVED_ERR_TRANSIENT, "error-transient"},
  {EP_RESOLVED_ERR_NONTRANSIENT, "error-nontransient"},
};

const char *ep_resolved_type_name(unsigned type) {
  return ep_name_of(resolved_types, EP_NAMES_N(resolved_types), type);
}

static bool resolved_is_error(uint8_t type) {
  return type == EP_RESOLVED_ERR_TRANSIENT || type == EP_RESOLVED_ERR_NONTRANSIENT;
}

/* One answer's value, checked by its type. */
static int resolved_value(ep_resolved_answer_t *a, size_t i, ep_err_t *err) {
  switch (a->type) {
    case EP_RESOLVED_IPV4:
      if (a->len != 4) {
        return ep_err_set(err, EP_ERR_MALFORMED, "RESOLVED: answer %zu: IPv4 of %u bytes", i + 1,
                          (unsigned)a->len);
      }
      ep_ipaddr_set_ipv4(&a->addr, ep_get_u32(a->value));
      a->has_addr = true;
      return EP_OK;
    case EP_RESOLVED_IPV6:
      if (a->len != 16) {
        return ep_err_set(err, EP_ERR_MALFORMED, "RESOLVED: answer %zu: IPv6 of %u bytes", i + 1,
                          (unsigned)a->len);
      }
      ep_ipaddr_set_ipv6(&a->addr, a->value);
      a->has_addr = true;
      return EP_OK;
    case EP_RESOLVED_HOSTNAME:
      if (a->len == 0 || memchr(a->value, 0, a->len) != NULL) {
        return ep_err_set(err, EP_ERR_MALFORMED, "RESOLVED: answer %zu: %s host name", i + 1,
                          a->len == 0 ? "an empty" : "a NUL in the");
      }
      return EP_OK;
    default:
      return EP_OK;   /* errors (value ignored, tor-spec §6.4) and unknown types: kept as is */
  }
}

int ep_resolved_parse(const uint8_t *data, size_t len, ep_resolved_t *out, ep_err_t *err) {
  memset(out, 0, sizeof *out);
  ep_reader_t r;
  ep_reader_init(&r, data, len);
  size_t total = 0;
  size_t errors = 0;
  while (!ep_rd_empty(&r)) {
    ep_resolved_answer_t a;
    memset(&a, 0, sizeof a);
    if (ep_rd_u8(&r, &a.type) < 0 || ep_rd_u8(&r, &a.len) < 0) {
      return ep_err_set(err, EP_ERR_TRUNCATED, "RESOLVED: answer %zu: no type and length",
                        total + 1);
    }
    if (ep_rd_ptr(&r, &a.value, a.len) < 0 || ep_rd_u32(&r, &a.ttl) < 0) {
      return ep_err_set(err, EP_ERR_TRUNCATED,
                        "RESOLVED: answer %zu: %u value bytes and a TTL, %zu bytes left",
                        total + 1, (unsigned)a.len, ep_rd_remaining(&r));
    }
    int rc = resolved_value(&a, total, err);
    if (rc != EP_OK) {
      return rc;
    }
    if (resolved_is_error(a.type)) {
      errors++;
      out->error = true;
      out->error_transient = a.type == EP_RESOLVED_ERR_TRANSIENT;
    }
    if (out->n < EP_RESOLVED_MAX_ANSWERS) {
      out->a[out->n++] = a;
    } else {
      out->n_more++;
    }
    total++;
  }
  if (total == 0) {
    return ep_err_set(err, EP_ERR_MALFORMED, "RESOLVED: no answer");
  }
  if (errors > 0 && total > 1) {
    return ep_err_set(err, EP_ERR_MALFORMED, "RESOLVED: an error among %zu answers", total);
  }
  return EP_OK;
}

int ep_resolved_encode(const ep_resolved_answer_t *a, size_t n, uint8_t *out, size_t cap,
                       size_t *len, ep_err_t *err) {
  ep_writer_t w;
  ep_writer_init(&w, out, cap < EP_RELAY_PAYLOAD_MAX ? cap : EP_RELAY_PAYLOAD_MAX);
  *len = 0;
  for (size_t i = 0; i < n; i++) {
    ep_wr_u8(&w, a[i].type);
    if (a[i].type == EP_RESOLVED_IPV4 || a[i].type == EP_RESOLVED_IPV6) {
      size_t alen = a[i].type == EP_RESOLVED_IPV6 ? 16 : 4;
      ep_wr_u8(&w, (uint8_t)alen);
      ep_wr_bytes(&w, a[i].addr.bytes, alen);
    } else {
      ep_wr_u8(&w, a[i].len);
      if (a[i].len > 0) {
        ep_wr_bytes(&w, a[i].value, a[i].len);
      }
    }
    ep_wr_u32(&w, a[i].ttl);
  }
  if (!ep_wr_ok(&w)) {
    return ep_err_set(err, EP_ERR_LIMIT, "RESOLVED: %zu answers do not fit %zu bytes", n, cap);
  }
  *len = ep_wr_len(&w);
  return EP_OK;
}

const char *ep_resolved_answer_format(char *buf, size_t cap, const ep_resolved_answer_t *a) {
  char val[4 * EP_BEGIN_HOST_MAX + 16];
  const char *name = ep_resolved_type_name(a->type);
  if (a->has_addr) {
    ep_ipaddr_format(val, sizeof val, &a->addr);
  } else if (a->type == EP_RESOLVED_HOSTNAME) {
    char esc[4 * EP_BEGIN_HOST_MAX + 1];
    ep_escape_text(esc, sizeof esc, a->value, a->len);
    snprintf(val, sizeof val, "hostname '%s'", esc);
  } else if (name != NULL) {
    snprintf(val, sizeof val, "%s", name);
  } else {
    snprintf(val, sizeof val, "type-%u (%u bytes)", (unsigned)a->type, (unsigned)a->len);
  }
  snprintf(buf, cap, "%s ttl %lu", val, (unsigned long)a->ttl);
  return buf;
}
