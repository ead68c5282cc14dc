/* exitprobe — relay cells (tor-spec §6.1): the 11-byte relay header inside
 * the 509-byte payload of a RELAY/RELAY_EARLY cell, and the messages it
 * carries (BEGIN, BEGIN_DIR, CONNECTED, DATA, END, SENDME, EXTEND2,
 * EXTENDED2, TRUNCATED, DROP), plus the END reason table.
 *
 * Each context parses only the messages it expects: a client accepts what
 * hops send back (CONNECTED, DATA, END, SENDME, EXTENDED2, TRUNCATED, DROP);
 * the relay context (the test suite's fake relay, fuzzers) accepts what a
 * client sends (BEGIN, BEGIN_DIR, DATA, END, SENDME, EXTEND2, DROP).
 * Parsed messages borrow byte fields (DATA, handshake data, link specifier
 * bytes) from the caller's buffer. Encoders write the relay message body;
 * ep_relay_body_build wraps it into a 509-byte plaintext relay payload. */
#ifndef EP_PROTO_RELAYMSG_H
#define EP_PROTO_RELAYMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "proto/cell.h"
#include "proto/linkspec.h"
#include "proto/rngpool.h"
#include "proto/target.h"

#define EP_RELAY_HEADER_LEN 11
#define EP_RELAY_PAYLOAD_MAX (EP_CELL_PAYLOAD_LEN - EP_RELAY_HEADER_LEN)   /* 498 */

/* Relay commands (tor-spec §6.1). Unknown commands are kept as numbers. */
enum {
  EP_RELAY_BEGIN = 1,
  EP_RELAY_DATA = 2,
  EP_RELAY_END = 3,
  EP_RELAY_CONNECTED = 4,
  EP_RELAY_SENDME = 5,
  EP_RELAY_EXTEND = 6,
  EP_RELAY_EXTENDED = 7,
  EP_RELAY_TRUNCATE = 8,
  EP_RELAY_TRUNCATED = 9,
  EP_RELAY_DROP = 10,
  EP_RELAY_RESOLVE = 11,
  EP_RELAY_RESOLVED = 12,
  EP_RELAY_BEGIN_DIR = 13,
  EP_RELAY_EXTEND2 = 14,
  EP_RELAY_EXTENDED2 = 15
};

/* RELAY_END reasons (tor-spec §6.3). Unknown reasons are kept as numbers. */
enum {
  EP_END_MISC = 1,
  EP_END_RESOLVEFAILED = 2,
  EP_END_CONNECTREFUSED = 3,
  EP_END_EXITPOLICY = 4,
  EP_END_DESTROY = 5,
  EP_END_DONE = 6,
  EP_END_TIMEOUT = 7,
  EP_END_NOROUTE = 8,
  EP_END_HIBERNATING = 9,
  EP_END_INTERNAL = 10,
  EP_END_RESOURCELIMIT = 11,
  EP_END_CONNRESET = 12,
  EP_END_TORPROTOCOL = 13,
  EP_END_NOTDIRECTORY = 14
};

/* BEGIN flags (tor-spec §6.2), bit 1 = LSB. */
#define EP_BEGIN_FLAG_IPV6_OK 0x1u
#define EP_BEGIN_FLAG_IPV4_NOT_OK 0x2u
#define EP_BEGIN_FLAG_IPV6_PREFERRED 0x4u

/* TTL when an END EXITPOLICY carries none (tor-spec §6.3). */
#define EP_TTL_ABSENT 0xffffffffu

#define EP_SENDME_DIGEST_LEN 20
#define EP_BEGIN_HOST_MAX 255

/* ---- The relay header ---- */

typedef struct ep_relay_hdr {
  uint8_t command;
  uint16_t recognized;
  uint16_t stream_id;
  uint8_t digest[4];
  uint16_t length;
} ep_relay_hdr_t;

/* Read the header of a decrypted 509-byte relay payload; *data points at
 * its `length` bytes of message. EP_ERR_MALFORMED if length > 498. */
int ep_relay_hdr_parse(const uint8_t body[EP_CELL_PAYLOAD_LEN], ep_relay_hdr_t *hdr,
                       const uint8_t **data, ep_err_t *err);
/* Build a plaintext relay payload: command, stream id, recognized = 0,
 * digest = 0, len bytes of message, then padding (four zero bytes, the rest
 * random, as tor-spec §6.1 recommends). EP_ERR_LIMIT if len > 498. */
int ep_relay_body_build(uint8_t body[EP_CELL_PAYLOAD_LEN], uint8_t command, uint16_t stream_id,
                        const uint8_t *data, size_t len, ep_err_t *err);
/* The same, the padding's random bytes from rand(rand_ctx, ...) (rand NULL:
 * ep_random). */
int ep_relay_body_build_rand(uint8_t body[EP_CELL_PAYLOAD_LEN], uint8_t command,
                             uint16_t stream_id, const uint8_t *data, size_t len,
                             ep_random_fn rand, void *rand_ctx, ep_err_t *err);

/* ---- Messages ---- */

typedef struct ep_relay_begin {
  char host[EP_BEGIN_HOST_MAX + 1];   /* NUL-terminated; IPv6 keeps its [brackets] */
  uint16_t port;
  uint32_t flags;
  bool has_flags;                     /* the FLAGS field was present */
} ep_relay_begin_t;

typedef struct ep_relay_connected {
  bool has_addr;                      /* false for an empty body (BEGIN_DIR) */
  ep_ipaddr_t addr;
  bool has_ttl;
  uint32_t ttl;
} ep_relay_connected_t;

typedef struct ep_relay_end {
  uint8_t reason;                     /* raw byte; MISC when the body was empty */
  bool empty;                         /* the body was empty */
  bool has_addr;                      /* EXITPOLICY with an address of a right length */
  ep_ipaddr_t addr;
  uint32_t ttl;                       /* EP_TTL_ABSENT when not given */
} ep_relay_end_t;

typedef struct ep_relay_sendme {
  uint8_t version;                    /* 0 for an empty body */
  bool empty;
  uint16_t data_len;
  bool has_digest;                    /* version 1 */
  uint8_t digest[EP_SENDME_DIGEST_LEN];
} ep_relay_sendme_t;

typedef struct ep_relay_extend2 {
  ep_linkspecs_t ls;
  uint16_t htype;
  uint16_t hlen;
  const uint8_t *hdata;
} ep_relay_extend2_t;

typedef struct ep_relay_extended2 {
  uint16_t hlen;
  const uint8_t *hdata;
} ep_relay_extended2_t;

/* RELAY_RESOLVE (tor-spec §6.4): a host name (or in-addr.arpa name), NUL
 * terminated on the wire. */
typedef struct ep_relay_resolve {
  char host[EP_BEGIN_HOST_MAX + 1];   /* NUL-terminated */
} ep_relay_resolve_t;

typedef struct ep_relay_bytes {
  size_t len;
  const uint8_t *data;
} ep_relay_bytes_t;

typedef struct ep_relay_msg {
  uint8_t command;
  uint16_t stream_id;
  union {
    ep_relay_begin_t begin;
    ep_relay_connected_t connected;
    ep_relay_end_t end;
    ep_relay_sendme_t sendme;
    ep_relay_extend2_t extend2;
    ep_relay_extended2_t extended2;
    uint8_t truncated_reason;         /* TRUNCATED (0 when empty) */
    ep_relay_resolve_t resolve;
    ep_relay_bytes_t data;            /* DATA, DROP, BEGIN_DIR (ignored bytes); RESOLVED
                                         (its body, checked: read it with ep_resolved_parse) */
  } u;
} ep_relay_msg_t;

typedef enum ep_relay_ctx {
  EP_RELAY_CTX_CLIENT = 1,   /* we built the circuit: messages from its hops */
  EP_RELAY_CTX_RELAY = 2     /* we are the hop (tests, fuzzing) */
} ep_relay_ctx_t;

/* True for the relay commands tor-spec §6.1 lists (1..15). */
bool ep_relay_command_known(unsigned command);
/* Whether a context accepts a command. */
bool ep_relay_command_expected(ep_relay_ctx_t ctx, unsigned command);

/* Parse the len bytes of a relay message in a context.
 *   EP_ERR_UNSUPPORTED  a command this code does not know (callers drop it),
 *   EP_ERR_STATE        a known command this context never accepts,
 *   EP_ERR_MALFORMED    wrong stream id for the command (0 / non-0), a bad
 *                       BEGIN address, a CONNECTED of a wrong form, a SENDME
 *                       v1 without its 20-byte digest,
 *   EP_ERR_TRUNCATED    a length field running past the message,
 *   EP_ERR_LIMIT        too many link specifiers. */
int ep_relay_msg_parse(ep_relay_ctx_t ctx, uint8_t command, uint16_t stream_id,
                       const uint8_t *data, size_t len, ep_relay_msg_t *out, ep_err_t *err);

/* Encode a message's body (not the header) into out (cap >= 498 is always
 * enough); *len is its length. Commands without a body encoder give
 * EP_ERR_UNSUPPORTED. */
int ep_relay_msg_encode(const ep_relay_msg_t *msg, uint8_t *out, size_t cap, size_t *len,
                        ep_err_t *err);

/* Convenience constructors for encoding. host is copied (EP_ERR_LIMIT past
 * 255 bytes, EP_ERR_MALFORMED for a NUL or an unbracketed ':' in it). */
int ep_relay_msg_begin(ep_relay_msg_t *m, uint16_t stream_id, const char *host, uint16_t port,
                       uint32_t flags, ep_err_t *err);
void ep_relay_msg_end(ep_relay_msg_t *m, uint16_t stream_id, uint8_t reason);
void ep_relay_msg_sendme_v1(ep_relay_msg_t *m, uint16_t stream_id,
                            const uint8_t digest[EP_SENDME_DIGEST_LEN]);
void ep_relay_msg_sendme_v0(ep_relay_msg_t *m, uint16_t stream_id);

/* A RESOLVE for host (1..255 bytes, no NUL; not checked further: the
 * exit judges the name). EP_ERR_LIMIT / EP_ERR_MALFORMED otherwise. */
int ep_relay_msg_resolve(ep_relay_msg_t *m, uint16_t stream_id, const char *host,
                         ep_err_t *err);

/* ---- RESOLVED answers (tor-spec §6.4) ---- */

/* Answer types. Unknown types are kept as numbers. */
enum {
  EP_RESOLVED_HOSTNAME = 0x00,
  EP_RESOLVED_IPV4 = 0x04,
  EP_RESOLVED_IPV6 = 0x06,
  EP_RESOLVED_ERR_TRANSIENT = 0xf0,
  EP_RESOLVED_ERR_NONTRANSIENT = 0xf1
};

/* Answers kept from one RESOLVED; more are counted (n_more), not kept. A
 * 498-byte body holds at most 83 (6 bytes each at least). */
#define EP_RESOLVED_MAX_ANSWERS 16

typedef struct ep_resolved_answer {
  uint8_t type;
  uint8_t len;
  const uint8_t *value;               /* len bytes, borrowed from the body */
  bool has_addr;                      /* IPv4 / IPv6: addr holds it */
  ep_ipaddr_t addr;
  uint32_t ttl;
} ep_resolved_answer_t;

typedef struct ep_resolved {
  size_t n;                           /* answers kept in a[] */
  size_t n_more;                      /* answers past EP_RESOLVED_MAX_ANSWERS */
  bool error;                         /* the (only) answer is an error */
  bool error_transient;               /* ... of type 0xF0 */
  ep_resolved_answer_t a[EP_RESOLVED_MAX_ANSWERS];
} ep_resolved_t;

/* Parse a RESOLVED body. out->a[i].value borrows from data.
 *   EP_ERR_MALFORMED  no answer at all; an IPv4 answer whose length is not
 *                     4, an IPv6 one not 16, an empty host name or one with
 *                     a NUL; an error answer beside other answers,
 *   EP_ERR_TRUNCATED  an answer running past the body. */
int ep_resolved_parse(const uint8_t *data, size_t len, ep_resolved_t *out, ep_err_t *err);
/* Encode answers (tests and the fake relay): n answers from a[], values
 * from value (hostname, error text) or addr (IPv4/IPv6). EP_ERR_LIMIT past
 * cap (or 498 bytes). */
int ep_resolved_encode(const ep_resolved_answer_t *a, size_t n, uint8_t *out, size_t cap,
                       size_t *len, ep_err_t *err);
/* "hostname", "ipv4", "ipv6", "error-transient", "error-nontransient";
 * NULL for unknown types. */
const char *ep_resolved_type_name(unsigned type);
/* One answer as text into buf: "127.0.0.1 ttl 60", "::1 ttl 60",
 * "hostname 'a.b' ttl 60" (escaped), "error-transient ttl 0",
 * "type-7 (3 bytes) ttl 60". Returns buf. */
const char *ep_resolved_answer_format(char *buf, size_t cap, const ep_resolved_answer_t *a);

/* ---- Names ---- */

/* "begin", "data", ...; NULL for unknown commands. */
const char *ep_relay_command_name(unsigned command);
/* "misc", "exitpolicy", ...; NULL for unknown reasons (keep the number). */
const char *ep_end_reason_name(unsigned reason);
/* Name or "reason-N" into buf; returns buf. */
const char *ep_end_reason_format(char *buf, size_t cap, unsigned reason);

#endif
