/* exitprobe — Tor cells (tor-spec §3): framing, parsing and encoding of
 * fixed-length and variable-length cells, and the payloads of the fixed
 * cells a client sends or accepts (CREATE2/CREATED2, CREATE_FAST/
 * CREATED_FAST, DESTROY, PADDING_NEGOTIATE).
 *
 * Link protocol and circuit id width: `linkproto` is the negotiated link
 * protocol version, or 0 before VERSIONS has been negotiated. Versions 0..3
 * use 2-byte circuit ids (VERSIONS is always sent in that form); 4 and 5
 * use 4-byte ids. A cell is variable-length when its command is VERSIONS (7)
 * or >= 128 (we only speak the in-protocol handshake, link 3 and up).
 *
 * Streaming: ep_cell_frame peeks at a buffer of received bytes and says how
 * long the next cell is (EP_NEED_MORE until it is all there); ep_cell_parse
 * then reads exactly those bytes. Parsed cells borrow their payload from the
 * caller's buffer: copy what must outlive it. No I/O. */
#ifndef EP_PROTO_CELL_H
#define EP_PROTO_CELL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/err.h"

#define EP_CELL_PAYLOAD_LEN 509
#define EP_CELL_MAX_FIXED_LEN (4 + 1 + EP_CELL_PAYLOAD_LEN)   /* 514 */
#define EP_CELL_VAR_HEADER_MAX (4 + 1 + 2)
#define EP_CELL_VAR_PAYLOAD_MAX 65535u

/* Link protocol versions we speak, lowest and highest. */
#define EP_LINKPROTO_MIN 3
#define EP_LINKPROTO_MAX 5

/* Cell commands (tor-spec §3). Unknown commands are kept as numbers. */
enum {
  EP_CELL_PADDING = 0,
  EP_CELL_CREATE = 1,
  EP_CELL_CREATED = 2,
  EP_CELL_RELAY = 3,
  EP_CELL_DESTROY = 4,
  EP_CELL_CREATE_FAST = 5,
  EP_CELL_CREATED_FAST = 6,
  EP_CELL_VERSIONS = 7,
  EP_CELL_NETINFO = 8,
  EP_CELL_RELAY_EARLY = 9,
  EP_CELL_CREATE2 = 10,
  EP_CELL_CREATED2 = 11,
  EP_CELL_PADDING_NEGOTIATE = 12,
  EP_CELL_VPADDING = 128,
  EP_CELL_CERTS = 129,
  EP_CELL_AUTH_CHALLENGE = 130,
  EP_CELL_AUTHENTICATE = 131,
  EP_CELL_AUTHORIZE = 132
};

/* DESTROY and RELAY_TRUNCATED reasons (tor-spec §5.4). */
enum {
  EP_DESTROY_NONE = 0,
  EP_DESTROY_PROTOCOL = 1,
  EP_DESTROY_INTERNAL = 2,
  EP_DESTROY_REQUESTED = 3,
  EP_DESTROY_HIBERNATING = 4,
  EP_DESTROY_RESOURCELIMIT = 5,
  EP_DESTROY_CONNECTFAILED = 6,
  EP_DESTROY_OR_IDENTITY = 7,
  EP_DESTROY_CHANNEL_CLOSED = 8,
  EP_DESTROY_FINISHED = 9,
  EP_DESTROY_TIMEOUT = 10,
  EP_DESTROY_DESTROYED = 11,
  EP_DESTROY_NOSUCHSERVICE = 12
};

/* A parsed cell. payload points into the buffer given to ep_cell_parse. */
typedef struct ep_cell {
  uint32_t circ_id;
  uint8_t command;
  bool is_var;            /* variable-length cell */
  size_t payload_len;     /* 509 for fixed cells */
  const uint8_t *payload;
} ep_cell_t;

/* Bytes of circuit id for a link protocol (2 or 4). */
size_t ep_cell_circid_len(int linkproto);
/* Length of a fixed cell on this link (512 or 514). */
size_t ep_cell_fixed_len(int linkproto);
/* True for VERSIONS and commands >= 128. */
bool ep_cell_command_is_var(uint8_t command);
/* The largest payload we accept for a variable-length command (a cap well
 * under the 16-bit length field for the cells whose real size is known:
 * VERSIONS, AUTH_CHALLENGE, CERTS). */
size_t ep_cell_var_cap(uint8_t command);

/* Framing. buf holds len received bytes, starting at a cell boundary.
 *   EP_OK         a whole cell is there: *cell_len bytes of it;
 *   EP_NEED_MORE  its header or body is not all there yet (*cell_len is the
 *                 total needed when known, else 0);
 *   EP_ERR_LIMIT  a variable-length cell declares more than its cap. */
int ep_cell_frame(const uint8_t *buf, size_t len, int linkproto, size_t *cell_len, ep_err_t *err);

/* Parse exactly len bytes as one cell. EP_ERR_TRUNCATED if they end before
 * the cell does, EP_ERR_MALFORMED if bytes are left over, EP_ERR_LIMIT past
 * the variable-length cap. */
int ep_cell_parse(const uint8_t *buf, size_t len, int linkproto, ep_cell_t *cell, ep_err_t *err);

/* Encode one cell into out. Fixed cells: payload_len <= 509, padded with
 * zero bytes to 509; variable cells: exactly payload_len bytes (<= its cap).
 * The circuit id must fit the link's width. Returns the bytes written, or a
 * negative ep_status_t (EP_ERR_LIMIT when out is too small or the payload
 * too long, EP_ERR_MALFORMED for a circuit id that does not fit). */
ssize_t ep_cell_encode(uint8_t *out, size_t outcap, int linkproto, uint32_t circ_id,
                       uint8_t command, const uint8_t *payload, size_t payload_len,
                       ep_err_t *err);

/* ---- Fixed-cell payloads ---- */

#define EP_CREATE2_MAX_HLEN (EP_CELL_PAYLOAD_LEN - 4)
#define EP_CREATED2_MAX_HLEN (EP_CELL_PAYLOAD_LEN - 2)
#define EP_HTYPE_TAP 0x0000
#define EP_HTYPE_NTOR 0x0002

/* CREATE2: HTYPE 2 | HLEN 2 | HDATA. hdata borrowed from the payload. */
typedef struct ep_create2 {
  uint16_t htype;
  uint16_t hlen;
  const uint8_t *hdata;
} ep_create2_t;

/* CREATED2 (and EXTENDED2's body): HLEN 2 | HDATA. */
typedef struct ep_created2 {
  uint16_t hlen;
  const uint8_t *hdata;
} ep_created2_t;

/* Write a CREATE2 payload (509 bytes, zero-padded). EP_ERR_LIMIT if hlen is
 * too long. */
int ep_create2_encode(uint8_t payload[EP_CELL_PAYLOAD_LEN], uint16_t htype,
                      const uint8_t *hdata, size_t hlen, ep_err_t *err);
int ep_create2_parse(const uint8_t *payload, size_t len, ep_create2_t *out, ep_err_t *err);
int ep_created2_encode(uint8_t *payload, size_t cap, const uint8_t *hdata, size_t hlen,
                       size_t *outlen, ep_err_t *err);
/* Parse HLEN | HDATA from len bytes (trailing padding ignored).
 * EP_ERR_TRUNCATED if HLEN runs past len. */
int ep_created2_parse(const uint8_t *payload, size_t len, ep_created2_t *out, ep_err_t *err);

/* DESTROY: one reason byte. */
void ep_destroy_encode(uint8_t payload[EP_CELL_PAYLOAD_LEN], uint8_t reason);
int ep_destroy_parse(const uint8_t *payload, size_t len, uint8_t *reason, ep_err_t *err);

/* PADDING_NEGOTIATE (tor-spec §7.2): version 0, command 1 (stop) or 2
 * (start), ito_low_ms, ito_high_ms. */
#define EP_PADNEG_STOP 1
#define EP_PADNEG_START 2
void ep_padding_negotiate_encode(uint8_t payload[EP_CELL_PAYLOAD_LEN], uint8_t command,
                                 uint16_t ito_low_ms, uint16_t ito_high_ms);

/* ---- Names ---- */

/* "relay", "create2", ...; NULL for unknown commands (keep the number). */
const char *ep_cell_command_name(unsigned command);
/* "protocol", "connectfailed", ...; NULL for unknown reasons. */
const char *ep_destroy_reason_name(unsigned reason);
/* Name or "reason-N" for unknown numbers, into buf; returns buf. */
const char *ep_destroy_reason_format(char *buf, size_t cap, unsigned reason);

#endif
