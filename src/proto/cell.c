/* exitprobe — Tor cells: framing, parse, encode (tor-spec §3, §5.1, §5.4). */
#include "config.h"

#include "proto/cell.h"

#include <stdio.h>
#include <string.h>

#include "lib/caps.h"
#include "lib/names.h"
#include "lib/reader.h"

size_t ep_cell_circid_len(int linkproto) { return linkproto >= 4 ? 4 : 2; }

size_t ep_cell_fixed_len(int linkproto) {
  return ep_cell_circid_len(linkproto) + 1 + EP_CELL_PAYLOAD_LEN;
}

bool ep_cell_command_is_var(uint8_t command) {
  return command == EP_CELL_VERSIONS || command >= 128;
}

size_t ep_cell_var_cap(uint8_t command) {
  switch (command) {
    case EP_CELL_VERSIONS:
      return 512;          /* 256 versions; tor sends 3 */
    case EP_CELL_AUTH_CHALLENGE:
      return 1024;         /* 32 + 2 + 2 per method; tor sends 38 bytes */
    case EP_CELL_CERTS:
      return 32u * 1024u;  /* five certificates of a few hundred bytes each */
    default:
      break;
  }
  size_t cap = EP_CAP_VAR_CELL - EP_CELL_VAR_HEADER_MAX;
  return cap < EP_CELL_VAR_PAYLOAD_MAX ? cap : EP_CELL_VAR_PAYLOAD_MAX;
}

int ep_cell_frame(const uint8_t *buf, size_t len, int linkproto, size_t *cell_len,
                  ep_err_t *err) {
  size_t idlen = ep_cell_circid_len(linkproto);
  *cell_len = 0;
  if (len < idlen + 1) {
    return EP_NEED_MORE;
  }
  uint8_t cmd = buf[idlen];
  if (!ep_cell_command_is_var(cmd)) {
    *cell_len = idlen + 1 + EP_CELL_PAYLOAD_LEN;
    return len >= *cell_len ? EP_OK : EP_NEED_MORE;
  }
  if (len < idlen + 3) {
    return EP_NEED_MORE;
  }
  size_t plen = ep_get_u16(buf + idlen + 1);
  if (plen > ep_cell_var_cap(cmd)) {
    return ep_err_set(err, EP_ERR_LIMIT,
                      "variable-length cell (command %u): length %zu over the cap of %zu",
                      (unsigned)cmd, plen, ep_cell_var_cap(cmd));
  }
  *cell_len = idlen + 3 + plen;
  return len >= *cell_len ? EP_OK : EP_NEED_MORE;
}

int ep_cell_parse(const uint8_t *buf, size_t len, int linkproto, ep_cell_t *cell,
                  ep_err_t *err) {
  ep_reader_t r;
  ep_reader_init(&r, buf, len);
  memset(cell, 0, sizeof *cell);
  if (linkproto >= 4) {
    if (ep_rd_u32(&r, &cell->circ_id) < 0) {
      return ep_err_set(err, EP_ERR_TRUNCATED, "cell: %zu bytes, too short for a header", len);
    }
  } else {
    uint16_t id16;
    if (ep_rd_u16(&r, &id16) < 0) {
      return ep_err_set(err, EP_ERR_TRUNCATED, "cell: %zu bytes, too short for a header", len);
    }
    cell->circ_id = id16;
  }
  if (ep_rd_u8(&r, &cell->command) < 0) {
    return ep_err_set(err, EP_ERR_TRUNCATED, "cell: %zu bytes, too short for a header", len);
  }
  cell->is_var = ep_cell_command_is_var(cell->command);
  if (cell->is_var) {
    uint16_t plen;
    if (ep_rd_u16(&r, &plen) < 0) {
      return ep_err_set(err, EP_ERR_TRUNCATED, "variable-length cell (command %u): no length",
                        (unsigned)cell->command);
    }
    if (plen > ep_cell_var_cap(cell->command)) {
      return ep_err_set(err, EP_ERR_LIMIT,
                        "variable-length cell (command %u): length %u over the cap of %zu",
                        (unsigned)cell->command, (unsigned)plen, ep_cell_var_cap(cell->command));
    }
    cell->payload_len = plen;
  } else {
    cell->payload_len = EP_CELL_PAYLOAD_LEN;
  }
  if (ep_rd_ptr(&r, &cell->payload, cell->payload_len) < 0) {
    return ep_err_set(err, EP_ERR_TRUNCATED, "cell (command %u): payload of %zu bytes, %zu left",
                      (unsigned)cell->command, cell->payload_len, ep_rd_remaining(&r));
  }
  if (!ep_rd_empty(&r)) {
    return ep_err_set(err, EP_ERR_MALFORMED, "cell (command %u): %zu bytes after its end",
                      (unsigned)cell->command, ep_rd_remaining(&r));
  }
  return EP_OK;
}

ssize_t ep_cell_encode(uint8_t *out, size_t outcap, int linkproto, uint32_t circ_id,
                       uint8_t command, const uint8_t *payload, size_t payload_len,
                       ep_err_t *err) {
  ep_writer_t w;
  ep_writer_init(&w, out, outcap);
  bool var = ep_cell_command_is_var(command);
  if (linkproto >= 4) {
    ep_wr_u32(&w, circ_id);
  } else {
    if (circ_id > 0xffffu) {
      return ep_err_set(err, EP_ERR_MALFORMED, "cell: circuit id %u does not fit 2 bytes",
                        (unsigned)circ_id);
    }
    ep_wr_u16(&w, (uint16_t)circ_id);
  }
  ep_wr_u8(&w, command);
  if (var) {
    if (payload_len > ep_cell_var_cap(command)) {
      return ep_err_set(err, EP_ERR_LIMIT, "cell (command %u): payload %zu over the cap of %zu",
                        (unsigned)command, payload_len, ep_cell_var_cap(command));
    }
    ep_wr_u16(&w, (uint16_t)payload_len);
    if (payload_len > 0) {
      ep_wr_bytes(&w, payload, payload_len);
    }
  } else {
    if (payload_len > EP_CELL_PAYLOAD_LEN) {
      return ep_err_set(err, EP_ERR_LIMIT, "cell (command %u): payload %zu over %u",
                        (unsigned)command, payload_len, EP_CELL_PAYLOAD_LEN);
    }
    if (payload_len > 0) {
      ep_wr_bytes(&w, payload, payload_len);
    }
    ep_wr_zeros(&w, EP_CELL_PAYLOAD_LEN - payload_len);
  }
  if (!ep_wr_ok(&w)) {
    return ep_err_set(err, EP_ERR_LIMIT, "cell (command %u): output buffer of %zu too small",
                      (unsigned)command, outcap);
  }
  return (ssize_t)ep_wr_len(&w);
}

/* ---- Fixed-cell payloads ---- */

int ep_create2_encode(uint8_t payload[EP_CELL_PAYLOAD_LEN], uint16_t htype,
                      const uint8_t *hdata, size_t hlen, ep_err_t *err) {
  if (hlen > EP_CREATE2_MAX_HLEN) {
    return ep_err_set(err, EP_ERR_LIMIT, "CREATE2: handshake of %zu bytes over %u", hlen,
                      EP_CREATE2_MAX_HLEN);
  }
  ep_writer_t w;
  ep_writer_init(&w, payload, EP_CELL_PAYLOAD_LEN);
  ep_wr_u16(&w, htype);
  ep_wr_u16(&w, (uint16_t)hlen);
  if (hlen > 0) {
    ep_wr_bytes(&w, hdata, hlen);
  }
  ep_wr_zeros(&w, EP_CELL_PAYLOAD_LEN - ep_wr_len(&w));
  return EP_OK;
}

int ep_create2_parse(const uint8_t *payload, size_t len, ep_create2_t *out, ep_err_t *err) {
  ep_reader_t r;
  ep_reader_init(&r, payload, len);
  memset(out, 0, sizeof *out);
  if (ep_rd_u16(&r, &out->htype) < 0 || ep_rd_u16(&r, &out->hlen) < 0) {
    return ep_err_set(err, EP_ERR_TRUNCATED, "CREATE2: %zu bytes, no HTYPE/HLEN", len);
  }
  if (ep_rd_ptr(&r, &out->hdata, out->hlen) < 0) {
    return ep_err_set(err, EP_ERR_TRUNCATED, "CREATE2: HLEN %u, only %zu bytes follow",
                      (unsigned)out->hlen, ep_rd_remaining(&r));
  }
  return EP_OK;
}

int ep_created2_encode(uint8_t *payload, size_t cap, const uint8_t *hdata, size_t hlen,
                       size_t *outlen, ep_err_t *err) {
  if (hlen > EP_CREATED2_MAX_HLEN || hlen + 2 > cap) {
    return ep_err_set(err, EP_ERR_LIMIT, "CREATED2: handshake of %zu bytes does not fit %zu",
                      hlen, cap);
  }
  ep_put_u16(payload, (uint16_t)hlen);
  if (hlen > 0) {
    memcpy(payload + 2, hdata, hlen);
  }
  *outlen = hlen + 2;
  return EP_OK;
}

int ep_created2_parse(const uint8_t *payload, size_t len, ep_created2_t *out, ep_err_t *err) {
  ep_reader_t r;
  ep_reader_init(&r, payload, len);
  memset(out, 0, sizeof *out);
  if (ep_rd_u16(&r, &out->hlen) < 0) {
    return ep_err_set(err, EP_ERR_TRUNCATED, "CREATED2: %zu bytes, no HLEN", len);
  }
  if (ep_rd_ptr(&r, &out->hdata, out->hlen) < 0) {
    return ep_err_set(err, EP_ERR_TRUNCATED, "CREATED2: HLEN %u, only %zu bytes follow",
                      (unsigned)out->hlen, ep_rd_remaining(&r));
  }
  return EP_OK;
}

void ep_destroy_encode(uint8_t payload[EP_CELL_PAYLOAD_LEN], uint8_t reason) {
  memset(payload, 0, EP_CELL_PAYLOAD_LEN);
  payload[0] = reason;
}

int ep_destroy_parse(const uint8_t *payload, size_t len, uint8_t *reason, ep_err_t *err) {
  ep_reader_t r;
  ep_reader_init(&r, payload, len);
  if (ep_rd_u8(&r, reason) < 0) {
    return ep_err_set(err, EP_ERR_TRUNCATED, "DESTROY: no reason byte");
  }
  return EP_OK;
}

void ep_padding_negotiate_encode(uint8_t payload[EP_CELL_PAYLOAD_LEN], uint8_t command,
                                 uint16_t ito_low_ms, uint16_t ito_high_ms) {
  memset(payload, 0, EP_CELL_PAYLOAD_LEN);
  payload[0] = 0;  /* version */
  payload[1] = command;
  ep_put_u16(payload + 2, ito_low_ms);
  ep_put_u16(payload + 4, ito_high_ms);
}

/* ---- Names ---- */

static const ep_name_t cell_cmds[] = {
  {EP_CELL_PADDING, "padding"},
  {EP_CELL_CREATE, "create"},
  {EP_CELL_CREATED, "created"},
  {EP_CELL_RELAY, "relay"},
  {EP_CELL_DESTROY, "destroy"},
  {EP_CELL_CREATE_FAST, "create_fast"},
  {EP_CELL_CREATED_FAST, "created_fast"},
  {EP_CELL_VERSIONS, "versions"},
  {EP_CELL_NETINFO, "netinfo"},
  {EP_CELL_RELAY_EARLY, "relay_early"},
  {EP_CELL_CREATE2, "create2"},
  {EP_CELL_CREATED2, "created2"},
  {EP_CELL_PADDING_NEGOTIATE, "padding_negotiate"},
  {EP_CELL_VPADDING, "vpadding"},
  {EP_CELL_CERTS, "certs"},
  {EP_CELL_AUTH_CHALLENGE, "auth_challenge"},
  {EP_CELL_AUTHENTICATE, "authenticate"},
  {EP_CELL_AUTHORIZE, "authorize"},
};

const char *ep_cell_command_name(unsigned command) {
  return ep_name_of(cell_cmds, EP_NAMES_N(cell_cmds), command);
}

/* DESTROY reasons (tor-spec 5.4). */
static const ep_name_t destroy_reasons[] = {
  {0, "none"},          {1, "protocol"},       {2, "internal"},        {3, "requested"},
  {4, "hibernating"},   {5, "resourcelimit"},  {6, "connectfailed"},   {7, "or_identity"},
  {8, "channel_closed"}, {9, "finished"},      {10, "timeout"},        {11, "destroyed"},
  {12, "nosuchservice"},
};

const char *ep_destroy_reason_name(unsigned reason) {
  return ep_name_of(destroy_reasons, EP_NAMES_N(destroy_reasons), reason);
}

const char *ep_destroy_reason_format(char *buf, size_t cap, unsigned reason) {
  return ep_name_format(buf, cap, destroy_reasons, EP_NAMES_N(destroy_reasons), reason, "reason-");
}
