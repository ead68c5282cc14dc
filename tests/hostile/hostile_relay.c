/* exitprobe tests — a hostile relay: a TLS server that plays the relay side
 * of the Tor link and circuit protocol (VERSIONS, CERTS, AUTH_CHALLENGE,
 * NETINFO; CREATE2 ntor and CREATE_FAST; EXTEND2, where it plays the second
 * hop itself; BEGIN, BEGIN_DIR, DATA, END, SENDME) and misbehaves at a
 * scripted point.
 *
 *   hostile_relay [--scenario NAME]... [--all] [--deadline SECONDS]
 *                 [--out FILE] [--list]
 *
 * Each scenario gets a "site": its own listening port on 127.0.0.1
 * (ephemeral), its own first-hop identity (what the port proves in CERTS)
 * and its own exit identity (what an EXTEND2 names). Link scenarios
 * misbehave on the TLS link of their port; exit scenarios misbehave when a
 * circuit (through any site's port) is extended to their exit identity, so
 * one scan through well-behaved first hops covers every hostile exit.
 * At start one JSON object per site is printed (stdout, or --out FILE):
 *   {"scenario":"good","kind":"exit","port":40001,
 *    "first_hop":"127.0.0.1:40001~FP~NTOR~ED","exit":"127.0.0.1:40001~FP~NTOR~ED"}
 * then {"ready":true}. The process stops by itself at the deadline
 * (default 120 s), on SIGTERM/SIGINT, or when stdin reaches EOF with
 * --stdin-eof. See tests/hostile/README.md for the scenarios. */
#include "config.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hr_keys.h"
#include "lib/buf.h"
#include "lib/crypto.h"
#include "lib/reader.h"
#include "lib/timeutil.h"
#include "probe/net/loop.h"
#include "probe/net/tls.h"
#include "proto/cell.h"
#include "proto/fast.h"
#include "proto/linkhs.h"
#include "proto/linkspec.h"
#include "proto/ntor.h"
#include "proto/relaymsg.h"

/* ------------------------------------------------------------ scenarios */

typedef enum { K_LINK = 0, K_EXIT } kind_t;

typedef enum {
  S_GOOD = 0,
  /* link (first hop) */
  S_WRONG_CERT, S_EXPIRED_CERT, S_IDENTITY_MISMATCH, S_TRUNCATED_CELL, S_OVERSIZED_CELL,
  S_GARBAGE_AFTER_VERSIONS, S_ENDLESS_VPADDING, S_SLOW_BYTES, S_CLOSE_NOTIFY_WITH_DATA,
  /* exit (second hop) */
  S_DESTROY_MID_EXTEND, S_BAD_CREATED2_AUTH, S_END_UNKNOWN_REASON, S_DATA_BEYOND_WINDOW,
  S_ESCAPE_GREETING, S_HUGE_GREETING, S_EXITPOLICY_END, S_UNKNOWN_RELAY_COMMAND,
  S_COUNT
} scen_t;

static const struct {
  const char *name;
  kind_t kind;
} scenarios[S_COUNT] = {
  [S_GOOD] = {"good", K_EXIT},
  [S_WRONG_CERT] = {"wrong-cert", K_LINK},
  [S_EXPIRED_CERT] = {"expired-cert", K_LINK},
  [S_IDENTITY_MISMATCH] = {"identity-mismatch", K_LINK},
  [S_TRUNCATED_CELL] = {"truncated-cell", K_LINK},
  [S_OVERSIZED_CELL] = {"oversized-cell", K_LINK},
  [S_GARBAGE_AFTER_VERSIONS] = {"garbage-after-versions", K_LINK},
  [S_ENDLESS_VPADDING] = {"endless-vpadding", K_LINK},
  [S_SLOW_BYTES] = {"slow-bytes", K_LINK},
  [S_CLOSE_NOTIFY_WITH_DATA] = {"close-notify-with-data", K_LINK},
  [S_DESTROY_MID_EXTEND] = {"destroy-mid-extend", K_EXIT},
  [S_BAD_CREATED2_AUTH] = {"bad-created2-auth", K_EXIT},
  [S_END_UNKNOWN_REASON] = {"end-unknown-reason", K_EXIT},
  [S_DATA_BEYOND_WINDOW] = {"data-beyond-window", K_EXIT},
  [S_ESCAPE_GREETING] = {"escape-greeting", K_EXIT},
  [S_HUGE_GREETING] = {"huge-greeting", K_EXIT},
  [S_EXITPOLICY_END] = {"exitpolicy-end", K_EXIT},
  [S_UNKNOWN_RELAY_COMMAND] = {"unknown-relay-command", K_EXIT},
};

#define GOOD_GREETING "220 hostile ESMTP\r\n"
/* Terminal escapes (colour, window title with BEL, cursor home + clear),
 * NUL bytes and invalid UTF-8 inside an otherwise proper 220 line. */
static const uint8_t ESCAPE_GREETING[] =
    "220 \x1b[31mhostile\x1b[0m \x1b]0;pwned\x07 \x1b[H\x1b[2J nul\x00\x00" "byte "
    "bad-utf8 \xff\xfe\xc3\x28 \xed\xa0\x80" " ESMTP\r\n";
#define HUGE_GREETING_BYTES (10u * 1024u * 1024u)
#define FLOOD_CELLS 1200u            /* DATA cells sent at once: past both windows */
#define PROBE_PORT 25                /* BEGINs to other ports get a plain CONNECTED */
#define SLOW_BYTES_PER_TICK 1
#define SLOW_TICK_MS 1000
#define OUT_HIGH_WATER (256u * 1024u)   /* generate more cells below this */
#define OUT_CAP (8u * 1024u * 1024u)
#define IN_CAP (256u * 1024u)
#define MAX_CONNS 256
#define MAX_CIRCS 64
#define MAX_STREAMS 16
#define VPADDING_MAX_CELLS 100000u   /* "endless", within reason */

/* ---------------------------------------------------------------- types */

typedef struct server server_t;

typedef struct site {
  server_t *srv;
  scen_t scen;
  uint16_t port;
  int lfd;
  ep_tls_ctx_t *tls;
  hr_ident_t *hop;     /* the identity the spec names for this port */
  hr_ident_t *shown;   /* the identity CERTS proves (another one for identity-mismatch) */
  hr_ident_t *exit;    /* the exit identity EXTEND2 names */
} site_t;

typedef struct hstream {
  bool used;
  uint16_t id;
  int package_window;  /* honoured for huge-greeting */
  size_t left;         /* greeting bytes still to send */
  size_t sent;
} hstream_t;

typedef struct hcirc {
  bool used;
  uint32_t id;
  hr_circ_t crypto;
  const site_t *exit_site;   /* scenario of hop 2, once extended */
  int package_window;
  hstream_t streams[MAX_STREAMS];
} hcirc_t;

typedef struct conn {
  server_t *srv;
  const site_t *site;
  ep_tls_conn_t *tls;
  int fd;
  bool dead;
  bool close_after_flush;
  bool notify_after_flush; /* close-notify-with-data: close_notify, TCP kept open */
  int linkproto;           /* 0 until the client's VERSIONS */
  ep_buf_t in, out;
  ep_buf_t slow;           /* slow-bytes: what is still to be dripped */
  ep_timer_id_t drip;
  size_t vpadding_left;
  hcirc_t circs[MAX_CIRCS];
} conn_t;

struct server {
  ep_loop_t *loop;
  site_t sites[S_COUNT];
  size_t n_sites;
  conn_t *conns[MAX_CONNS];
  bool verbose;
};

static void conn_kill(conn_t *c, const char *why);
static void conn_update(conn_t *c);

static void vlog(server_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void vlog(server_t *s, const char *fmt, ...) {
  if (!s->verbose) {
    return;
  }
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "hostile_relay: ");
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

/* ------------------------------------------------------------- sending */

/* Queue raw bytes (slow-bytes diverts them to its drip buffer). */
static void put_raw(conn_t *c, const void *p, size_t n) {
  ep_buf_t *b = c->site->scen == S_SLOW_BYTES ? &c->slow : &c->out;
  if (ep_buf_append(b, p, n, NULL) != EP_OK) {
    conn_kill(c, "output buffer full");
  }
}

static void put_cell(conn_t *c, int proto, uint32_t circ_id, uint8_t cmd, const uint8_t *payload,
                     size_t plen) {
  uint8_t buf[EP_CELL_VAR_HEADER_MAX + 65535];
  ep_err_t e = {0};
  ssize_t n = ep_cell_encode(buf, sizeof buf, proto, circ_id, cmd, payload, plen, &e);
  if (n <= 0) {
    fprintf(stderr, "hostile_relay: cannot encode cell %u: %s\n", cmd, e.msg);
    conn_kill(c, "encode");
    return;
  }
  put_raw(c, buf, (size_t)n);
}

static void put_relay(conn_t *c, hcirc_t *h, unsigned hop, uint8_t rcmd, uint16_t sid,
                      const void *data, size_t len) {
  uint8_t payload[EP_CELL_PAYLOAD_LEN];
  if (hr_circ_send(&h->crypto, hop, rcmd, sid, data, len, payload) != 0) {
    conn_kill(c, "relay cell does not fit");
    return;
  }
  put_cell(c, c->linkproto, h->id, EP_CELL_RELAY, payload, sizeof payload);
}

static void put_destroy(conn_t *c, uint32_t circ_id, uint8_t reason) {
  uint8_t payload[EP_CELL_PAYLOAD_LEN];
  ep_destroy_encode(payload, reason);
  put_cell(c, c->linkproto, circ_id, EP_CELL_DESTROY, payload, sizeof payload);
}

/* ------------------------------------------------------- link handshake */

static void send_handshake(conn_t *c) {
  const site_t *st = c->site;
  uint8_t payload[4096];
  size_t plen = 0;
  ep_err_t e = {0};
  static const uint16_t vs[] = {3, 4, 5};
  if (st->scen == S_CLOSE_NOTIFY_WITH_DATA) {
    /* Half a VERSIONS header; conn_update sends the close_notify in the
     * same TCP segment and leaves TCP open. */
    static const uint8_t half[4] = {0, 0, EP_CELL_VERSIONS, 0};
    put_raw(c, half, sizeof half);
    c->notify_after_flush = true;
    return;
  }
  ep_versions_encode(payload, sizeof payload, vs, 3, &plen, &e);
  put_cell(c, 0, 0, EP_CELL_VERSIONS, payload, plen);
  int proto = c->linkproto;
  switch (st->scen) {
    case S_TRUNCATED_CELL: {
      /* A CERTS cell cut in the middle, then the connection closes. */
      plen = hr_certs_payload(st->shown, 0, payload, sizeof payload);
      uint8_t cell[4096 + 8];
      ssize_t n = ep_cell_encode(cell, sizeof cell, proto, 0, EP_CELL_CERTS, payload, plen, NULL);
      put_raw(c, cell, n > 0 ? (size_t)n / 2 : 0);
      c->close_after_flush = true;
      return;
    }
    case S_OVERSIZED_CELL: {
      /* A CERTS cell claiming 65535 bytes (over any sane cap), then more. */
      uint8_t hdr[7] = {0, 0, 0, 0, EP_CELL_CERTS, 0xff, 0xff};
      put_raw(c, hdr, sizeof hdr);
      uint8_t junk[4096];
      memset(junk, 'O', sizeof junk);
      for (int i = 0; i < 20; i++) {   /* 80 KB: more than the cell claims */
        put_raw(c, junk, sizeof junk);
      }
      return;
    }
    case S_GARBAGE_AFTER_VERSIONS: {
      static const char g[] = "GARBAGE after VERSIONS \x01\x02\x03\xff ";
      for (int i = 0; i < 64; i++) {
        put_raw(c, g, sizeof g - 1);
      }
      return;
    }
    case S_ENDLESS_VPADDING:
      c->vpadding_left = VPADDING_MAX_CELLS;   /* pumped by conn_pump */
      return;
    default:
      break;
  }
  plen = hr_certs_payload(st->shown, st->scen == S_WRONG_CERT ? HR_CERTS_FLIP_SIG4 : 0, payload,
                          sizeof payload);
  put_cell(c, proto, 0, EP_CELL_CERTS, payload, plen);
  ep_auth_challenge_t ac;
  memset(&ac, 0, sizeof ac);
  ep_random(ac.challenge, sizeof ac.challenge);
  ac.n_methods = 2;
  ac.methods[0] = 1;
  ac.methods[1] = 3;
  ep_auth_challenge_encode(payload, sizeof payload, &ac, &plen, &e);
  put_cell(c, proto, 0, EP_CELL_AUTH_CHALLENGE, payload, plen);
  ep_netinfo_t ni;
  memset(&ni, 0, sizeof ni);
  ni.timestamp = (uint32_t)time(NULL);
  ni.other.family = EP_IPADDR_V4;
  ep_put_u32(ni.other.bytes, 0x7f000001);
  ni.n_my_kept = 1;
  ni.my[0].family = EP_IPADDR_V4;
  ep_put_u32(ni.my[0].bytes, 0x7f000001);
  ep_netinfo_encode(payload, &ni, &e);
  put_cell(c, proto, 0, EP_CELL_NETINFO, payload, EP_CELL_PAYLOAD_LEN);
}

/* -------------------------------------------------------------- circuits */

static hcirc_t *circ_find(conn_t *c, uint32_t id) {
  for (size_t i = 0; i < MAX_CIRCS; i++) {
    if (c->circs[i].used && c->circs[i].id == id) {
      return &c->circs[i];
    }
  }
  return NULL;
}

static void circ_drop(hcirc_t *h) {
  hr_circ_free(&h->crypto);
  memset(h, 0, sizeof *h);
}

static hcirc_t *circ_new(conn_t *c, uint32_t id) {
  for (size_t i = 0; i < MAX_CIRCS; i++) {
    if (!c->circs[i].used) {
      hcirc_t *h = &c->circs[i];
      memset(h, 0, sizeof *h);
      h->used = true;
      h->id = id;
      h->package_window = 1000;
      return h;
    }
  }
  return NULL;
}

static void on_create2(conn_t *c, const ep_cell_t *cell) {
  ep_create2_t c2;
  if (circ_find(c, cell->circ_id) != NULL ||
      ep_create2_parse(cell->payload, cell->payload_len, &c2, NULL) != EP_OK ||
      c2.htype != EP_HTYPE_NTOR || c2.hlen != EP_NTOR_ONIONSKIN_LEN) {
    put_destroy(c, cell->circ_id, EP_DESTROY_PROTOCOL);
    return;
  }
  hcirc_t *h = circ_new(c, cell->circ_id);
  uint8_t reply[EP_NTOR_REPLY_LEN], keys[EP_RELAY_KEYS_LEN];
  const hr_ident_t *id = c->site->hop;
  if (h == NULL ||
      ep_ntor_server_handshake(id->rsa_id, id->ntor_sk, id->ntor_pk, c2.hdata, NULL, reply, keys,
                               sizeof keys, NULL) != EP_OK ||
      hr_circ_add_hop(&h->crypto, keys) != 0) {
    if (h != NULL) {
      circ_drop(h);
    }
    put_destroy(c, cell->circ_id, EP_DESTROY_PROTOCOL);
    return;
  }
  ep_wipe(keys, sizeof keys);
  uint8_t payload[EP_CELL_PAYLOAD_LEN] = {0};
  size_t plen;
  ep_created2_encode(payload, sizeof payload, reply, sizeof reply, &plen, NULL);
  put_cell(c, c->linkproto, cell->circ_id, EP_CELL_CREATED2, payload, sizeof payload);
}

static void on_create_fast(conn_t *c, const ep_cell_t *cell) {
  hcirc_t *h = circ_find(c, cell->circ_id) == NULL ? circ_new(c, cell->circ_id) : NULL;
  uint8_t reply[EP_FAST_REPLY_LEN], keys[EP_RELAY_KEYS_LEN];
  if (h == NULL ||
      ep_fast_server_handshake(cell->payload, NULL, reply, keys, sizeof keys, NULL) != EP_OK ||
      hr_circ_add_hop(&h->crypto, keys) != 0) {
    if (h != NULL) {
      circ_drop(h);
    }
    put_destroy(c, cell->circ_id, EP_DESTROY_PROTOCOL);
    return;
  }
  ep_wipe(keys, sizeof keys);
  put_cell(c, c->linkproto, cell->circ_id, EP_CELL_CREATED_FAST, reply, sizeof reply);
}

static const site_t *exit_by_id(const server_t *s, const uint8_t *rsa_id) {
  for (size_t i = 0; i < s->n_sites; i++) {
    if (memcmp(s->sites[i].exit->rsa_id, rsa_id, 20) == 0) {
      return &s->sites[i];
    }
  }
  return NULL;
}

static void on_extend2(conn_t *c, hcirc_t *h, const ep_relay_extend2_t *x) {
  const ep_linkspec_t *ls = ep_linkspecs_find(&x->ls, EP_LS_LEGACY_ID);
  const site_t *es = ls != NULL ? exit_by_id(c->srv, ls->data) : NULL;
  if (h->crypto.n_hops != 1 || es == NULL || x->htype != EP_HTYPE_NTOR ||
      x->hlen != EP_NTOR_ONIONSKIN_LEN) {
    vlog(c->srv, "EXTEND2 to an unknown relay: DESTROY");
    put_destroy(c, h->id, EP_DESTROY_CONNECTFAILED);
    circ_drop(h);
    return;
  }
  vlog(c->srv, "EXTEND2 to the exit of %s", scenarios[es->scen].name);
  if (es->scen == S_DESTROY_MID_EXTEND) {
    put_destroy(c, h->id, EP_DESTROY_CONNECTFAILED);
    circ_drop(h);
    return;
  }
  uint8_t reply[EP_NTOR_REPLY_LEN], keys[EP_RELAY_KEYS_LEN];
  const hr_ident_t *id = es->exit;
  if (ep_ntor_server_handshake(id->rsa_id, id->ntor_sk, id->ntor_pk, x->hdata, NULL, reply, keys,
                               sizeof keys, NULL) != EP_OK ||
      hr_circ_add_hop(&h->crypto, keys) != 0) {
    put_destroy(c, h->id, EP_DESTROY_PROTOCOL);
    circ_drop(h);
    return;
  }
  ep_wipe(keys, sizeof keys);
  h->exit_site = es;
  if (es->scen == S_BAD_CREATED2_AUTH) {
    reply[40] ^= 0x01;   /* inside AUTH */
  }
  uint8_t body[2 + EP_NTOR_REPLY_LEN];
  ep_put_u16(body, EP_NTOR_REPLY_LEN);
  memcpy(body + 2, reply, sizeof reply);
  put_relay(c, h, 0, EP_RELAY_EXTENDED2, 0, body, sizeof body);
}

static hstream_t *stream_new(hcirc_t *h, uint16_t sid) {
  for (size_t i = 0; i < MAX_STREAMS; i++) {
    if (!h->streams[i].used) {
      hstream_t *st = &h->streams[i];
      memset(st, 0, sizeof *st);
      st->used = true;
      st->id = sid;
      st->package_window = 500;
      return st;
    }
  }
  return NULL;
}

static hstream_t *stream_find(hcirc_t *h, uint16_t sid) {
  for (size_t i = 0; i < MAX_STREAMS; i++) {
    if (h->streams[i].used && h->streams[i].id == sid) {
      return &h->streams[i];
    }
  }
  return NULL;
}

static void put_connected(conn_t *c, hcirc_t *h, uint16_t sid) {
  uint8_t body[8];
  ep_put_u32(body, 0x7f000001);
  ep_put_u32(body + 4, 300);
  put_relay(c, h, 1, EP_RELAY_CONNECTED, sid, body, sizeof body);
}

/* Greeting bytes number `off` onwards of the huge greeting: "220-" lines. */
static size_t huge_chunk(size_t off, uint8_t *out, size_t n) {
  static const char line[] =
      "220-hostile huge greeting, line after line after line after line after line ....\r\n";
  size_t ll = sizeof line - 1;
  for (size_t i = 0; i < n; i++) {
    out[i] = (uint8_t)line[(off + i) % ll];
  }
  return n;
}

static void on_begin(conn_t *c, hcirc_t *h, const ep_relay_msg_t *m, bool dir) {
  uint16_t sid = m->stream_id;
  if (h->crypto.n_hops != 2 || h->exit_site == NULL) {
    uint8_t reason = EP_END_NOTDIRECTORY;
    put_relay(c, h, h->crypto.n_hops - 1, EP_RELAY_END, sid, &reason, 1);
    return;
  }
  scen_t sc = h->exit_site->scen;
  if (dir || m->u.begin.port != PROBE_PORT) {
    /* Control streams always work: the circuit is fine, the port is not. */
    if (dir) {
      put_relay(c, h, 1, EP_RELAY_CONNECTED, sid, NULL, 0);
    } else {
      put_connected(c, h, sid);
    }
    return;
  }
  hstream_t *st = stream_new(h, sid);
  if (st == NULL) {
    uint8_t reason = EP_END_RESOURCELIMIT;
    put_relay(c, h, 1, EP_RELAY_END, sid, &reason, 1);
    return;
  }
  switch (sc) {
    case S_END_UNKNOWN_REASON: {
      uint8_t reason = 200;
      put_relay(c, h, 1, EP_RELAY_END, sid, &reason, 1);
      st->used = false;
      return;
    }
    case S_EXITPOLICY_END: {
      uint8_t body[9];
      body[0] = EP_END_EXITPOLICY;
      ep_put_u32(body + 1, 0x7f000001);
      ep_put_u32(body + 5, 600);
      put_relay(c, h, 1, EP_RELAY_END, sid, body, sizeof body);
      st->used = false;
      return;
    }
    case S_UNKNOWN_RELAY_COMMAND: {
      static const char junk[] = "what is this?";
      put_relay(c, h, 1, 200, sid, junk, sizeof junk - 1);
      put_relay(c, h, 1, 201, 0, junk, sizeof junk - 1);
      put_connected(c, h, sid);
      put_relay(c, h, 1, EP_RELAY_DATA, sid, GOOD_GREETING, strlen(GOOD_GREETING));
      return;
    }
    case S_ESCAPE_GREETING:
      put_connected(c, h, sid);
      put_relay(c, h, 1, EP_RELAY_DATA, sid, ESCAPE_GREETING, sizeof ESCAPE_GREETING - 1);
      return;
    case S_HUGE_GREETING:
      put_connected(c, h, sid);
      st->left = HUGE_GREETING_BYTES;   /* pumped by conn_pump, within the windows */
      return;
    case S_DATA_BEYOND_WINDOW: {
      /* Ignore flow control: FLOOD_CELLS full DATA cells at once. */
      put_connected(c, h, sid);
      uint8_t chunk[EP_RELAY_PAYLOAD_MAX];
      /* 83-byte "220-" lines, 6 to a cell: a proper multi-line reply that never ends. */
      static const char line[] =
          "220-flood flood flood flood flood flood flood flood flood flood flood flood flood\r\n";
      _Static_assert(EP_RELAY_PAYLOAD_MAX % (sizeof line - 1) == 0, "whole lines per cell");
      for (size_t i = 0; i < sizeof chunk; i++) {
        chunk[i] = (uint8_t)line[i % (sizeof line - 1)];
      }
      for (unsigned i = 0; i < FLOOD_CELLS && !c->dead; i++) {
        put_relay(c, h, 1, EP_RELAY_DATA, sid, chunk, sizeof chunk);
      }
      return;
    }
    default:
      put_connected(c, h, sid);
      put_relay(c, h, 1, EP_RELAY_DATA, sid, GOOD_GREETING, strlen(GOOD_GREETING));
      return;
  }
}

static void on_relay(conn_t *c, const ep_cell_t *cell) {
  hcirc_t *h = circ_find(c, cell->circ_id);
  if (h == NULL || cell->payload_len != EP_CELL_PAYLOAD_LEN) {
    return;
  }
  uint8_t body[EP_CELL_PAYLOAD_LEN];
  int hop = hr_circ_recv(&h->crypto, cell->payload, body);
  ep_relay_hdr_t hdr;
  const uint8_t *data;
  ep_relay_msg_t m;
  if (hop < 0 || ep_relay_hdr_parse(body, &hdr, &data, NULL) != EP_OK ||
      ep_relay_msg_parse(EP_RELAY_CTX_RELAY, hdr.command, hdr.stream_id, data, hdr.length, &m,
                         NULL) != EP_OK) {
    vlog(c->srv, "unrecognized or malformed relay cell on circuit %08x: DESTROY",
         (unsigned)cell->circ_id);
    put_destroy(c, h->id, EP_DESTROY_PROTOCOL);
    circ_drop(h);
    return;
  }
  switch (m.command) {
    case EP_RELAY_EXTEND2:
      if (hop == 0) {
        on_extend2(c, h, &m.u.extend2);
      }
      break;
    case EP_RELAY_BEGIN:
    case EP_RELAY_BEGIN_DIR:
      on_begin(c, h, &m, m.command == EP_RELAY_BEGIN_DIR);
      break;
    case EP_RELAY_END: {
      hstream_t *st = stream_find(h, m.stream_id);
      if (st != NULL) {
        st->used = false;
      }
      break;
    }
    case EP_RELAY_SENDME:
      if (m.stream_id == 0) {
        h->package_window += 100;
      } else {
        hstream_t *st = stream_find(h, m.stream_id);
        if (st != NULL) {
          st->package_window += 50;
        }
      }
      break;
    default:
      break;   /* DATA, DROP: ignored */
  }
}

static void on_cell(conn_t *c, const ep_cell_t *cell) {
  switch (cell->command) {
    case EP_CELL_VERSIONS:
      if (c->linkproto == 0) {
        c->linkproto = 5;
        send_handshake(c);
      }
      break;
    case EP_CELL_CREATE2:
      on_create2(c, cell);
      break;
    case EP_CELL_CREATE_FAST:
      on_create_fast(c, cell);
      break;
    case EP_CELL_RELAY:
    case EP_CELL_RELAY_EARLY:
      on_relay(c, cell);
      break;
    case EP_CELL_DESTROY: {
      hcirc_t *h = circ_find(c, cell->circ_id);
      if (h != NULL) {
        circ_drop(h);
      }
      break;
    }
    default:
      break;   /* NETINFO, PADDING, ...: nothing to do */
  }
}

/* Generate what is generated on demand: VPADDING and the huge greeting. */
static void conn_pump(conn_t *c) {
  for (unsigned guard = 0; guard < 4096 && !c->dead && c->out.len < OUT_HIGH_WATER; guard++) {
    bool did = false;
    if (c->vpadding_left > 0) {
      uint8_t pad[256];
      memset(pad, 0, sizeof pad);
      put_cell(c, c->linkproto, 0, EP_CELL_VPADDING, pad, sizeof pad);
      c->vpadding_left--;
      did = true;
    }
    for (size_t i = 0; i < MAX_CIRCS && !c->dead; i++) {
      hcirc_t *h = &c->circs[i];
      if (!h->used || h->package_window <= 0) {
        continue;
      }
      for (size_t k = 0; k < MAX_STREAMS; k++) {
        hstream_t *st = &h->streams[k];
        if (!st->used || st->left == 0 || st->package_window <= 0 || h->package_window <= 0) {
          continue;
        }
        uint8_t chunk[EP_RELAY_PAYLOAD_MAX];
        size_t n = st->left < sizeof chunk ? st->left : sizeof chunk;
        huge_chunk(st->sent, chunk, n);
        put_relay(c, h, 1, EP_RELAY_DATA, st->id, chunk, n);
        st->left -= n;
        st->sent += n;
        st->package_window--;
        h->package_window--;
        did = true;
      }
    }
    if (!did) {
      break;
    }
  }
}

/* ------------------------------------------------------------------ I/O */

static void conn_free(conn_t *c) {
  server_t *s = c->srv;
  for (size_t i = 0; i < MAX_CONNS; i++) {
    if (s->conns[i] == c) {
      s->conns[i] = NULL;
    }
  }
  if (c->drip != 0) {
    ep_loop_timer_cancel(s->loop, c->drip);
  }
  for (size_t i = 0; i < MAX_CIRCS; i++) {
    if (c->circs[i].used) {
      circ_drop(&c->circs[i]);
    }
  }
  if (c->tls != NULL) {
    ep_loop_del_fd(s->loop, c->fd);
    ep_tls_conn_free(c->tls);   /* closes fd */
  }
  ep_buf_free(&c->in);
  ep_buf_free(&c->out);
  ep_buf_free(&c->slow);
  free(c);
}

static void reap(ep_loop_t *loop, void *arg) {
  (void)loop;
  conn_free(arg);
}

static void conn_kill(conn_t *c, const char *why) {
  if (c->dead) {
    return;
  }
  c->dead = true;
  vlog(c->srv, "port %u (%s): closing: %s", c->site->port, scenarios[c->site->scen].name, why);
  ep_loop_del_fd(c->srv->loop, c->fd);
  ep_loop_timer_in(c->srv->loop, 0, reap, c);
}

static void on_drip(ep_loop_t *loop, void *arg) {
  (void)loop;
  conn_t *c = arg;
  c->drip = 0;
  if (c->dead) {
    return;
  }
  size_t n = c->slow.len < SLOW_BYTES_PER_TICK ? c->slow.len : SLOW_BYTES_PER_TICK;
  if (n > 0) {
    ep_buf_append(&c->out, c->slow.data, n, NULL);
    ep_buf_consume(&c->slow, n);
  }
  conn_update(c);
}

/* The output, then (close-notify-with-data) a close_notify corked into the
 * same TCP segment, so the client reads both at once; TCP stays open until
 * the client closes it. */
static int conn_write(conn_t *c, ep_err_t *e) {
  int one = 1, zero = 0;
  bool cork = c->notify_after_flush && c->out.len > 0;
  if (cork) {
    setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &one, sizeof one);
  }
  int rc = c->out.len > 0 ? ep_tls_write_buf(c->tls, &c->out, e) : EP_OK;
  if (rc == EP_OK && c->notify_after_flush) {
    rc = ep_tls_shutdown(c->tls, e);
    c->notify_after_flush = rc == EP_NEED_MORE;
  }
  if (cork) {
    setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &zero, sizeof zero);
  }
  return rc;
}

/* Write what we can, pick the interest, schedule the drip. */
static void conn_update(conn_t *c) {
  if (c->dead) {
    return;
  }
  ep_err_t e = {0};
  if (ep_tls_handshake_done(c->tls)) {
    conn_pump(c);
    if (conn_write(c, &e) < 0) {
      conn_kill(c, e.msg);
      return;
    }
    if (c->out.len == 0 && c->close_after_flush) {
      conn_kill(c, "scripted close");
      return;
    }
  }
  if (c->slow.len > 0 && c->drip == 0) {
    c->drip = ep_loop_timer_in(c->srv->loop, SLOW_TICK_MS, on_drip, c);
  }
  unsigned want = EP_LOOP_READ;
  if (!ep_tls_handshake_done(c->tls)) {
    want |= ep_tls_wants(c->tls);
  } else if (c->out.len > 0) {
    want |= EP_LOOP_WRITE;
  }
  ep_loop_mod_fd(c->srv->loop, c->fd, want, NULL);
}

static void on_conn_io(ep_loop_t *loop, int fd, unsigned events, void *arg) {
  (void)loop;
  (void)fd;
  conn_t *c = arg;
  ep_err_t e = {0};
  if (!ep_tls_handshake_done(c->tls)) {
    int rc = ep_tls_handshake(c->tls, &e);
    if (rc < 0) {
      conn_kill(c, e.msg);
      return;
    }
    if (rc == EP_NEED_MORE) {
      conn_update(c);
      return;
    }
  }
  if (events & (EP_LOOP_READ | EP_LOOP_HUP | EP_LOOP_ERR)) {
    for (int rounds = 0; rounds < 64 && !c->dead; rounds++) {
      size_t n = 0;
      int rc = ep_tls_read(c->tls, &c->in, &n, &e);
      if (rc == EP_TLS_CLOSED) {
        conn_kill(c, "the client closed");
        return;
      }
      if (rc < 0) {
        conn_kill(c, e.msg);
        return;
      }
      /* Decode every whole cell. */
      size_t off = 0;
      for (unsigned guard = 0; guard < 100000 && !c->dead; guard++) {
        size_t clen;
        ep_cell_t cell;
        int fr = ep_cell_frame(c->in.data + off, c->in.len - off, c->linkproto, &clen, NULL);
        if (fr == EP_NEED_MORE) {
          break;
        }
        if (fr != EP_OK ||
            ep_cell_parse(c->in.data + off, clen, c->linkproto, &cell, NULL) != EP_OK) {
          conn_kill(c, "unparsable cell from the client");
          return;
        }
        on_cell(c, &cell);
        off += clen;
      }
      if (c->dead) {
        return;
      }
      ep_buf_consume(&c->in, off);
      if (rc == EP_NEED_MORE || !ep_tls_pending(c->tls)) {
        break;
      }
    }
  }
  conn_update(c);
}

static void on_accept(ep_loop_t *loop, int lfd, unsigned events, void *arg) {
  (void)events;
  site_t *st = arg;
  server_t *s = st->srv;
  for (int k = 0; k < 16; k++) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      return;
    }
    size_t slot = MAX_CONNS;
    for (size_t i = 0; i < MAX_CONNS; i++) {
      if (s->conns[i] == NULL) {
        slot = i;
        break;
      }
    }
    conn_t *c = slot < MAX_CONNS ? calloc(1, sizeof *c) : NULL;
    if (c == NULL) {
      close(fd);
      continue;
    }
    c->srv = s;
    c->site = st;
    c->fd = fd;
    ep_buf_init(&c->in, IN_CAP, "hostile input", 0);
    ep_buf_init(&c->out, OUT_CAP, "hostile output", 0);
    ep_buf_init(&c->slow, OUT_CAP, "hostile drip", 0);
    ep_err_t e = {0};
    c->tls = ep_tls_conn_new(st->tls, fd, "client", &e);
    if (c->tls == NULL || ep_loop_add_fd(loop, fd, EP_LOOP_READ | EP_LOOP_WRITE, on_conn_io, c,
                                         &e) != EP_OK) {
      fprintf(stderr, "hostile_relay: %s\n", e.msg);
      if (c->tls != NULL) {
        ep_tls_conn_free(c->tls);
      }
      ep_buf_free(&c->in);
      ep_buf_free(&c->out);
      ep_buf_free(&c->slow);
      free(c);
      continue;
    }
    s->conns[slot] = c;
    vlog(s, "port %u (%s): connection", st->port, scenarios[st->scen].name);
  }
}

/* ---------------------------------------------------------------- setup */

static int listen_on(uint16_t *port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(*port);
  socklen_t alen = sizeof a;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 64) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
    close(fd);
    return -1;
  }
  *port = ntohs(a.sin_port);
  return fd;
}

static int site_setup(server_t *s, site_t *st, scen_t sc, time_t now) {
  memset(st, 0, sizeof *st);
  st->srv = s;
  st->scen = sc;
  st->lfd = -1;
  ep_err_t e = {0};
  st->tls = ep_tls_ctx_new_server_selfsigned("www.hostile-tls.com", &e);
  if (st->tls == NULL) {
    fprintf(stderr, "hostile_relay: TLS: %s\n", e.msg);
    return -1;
  }
  uint8_t *der = NULL;
  size_t der_len = 0;
  if (ep_tls_ctx_cert_der(st->tls, &der, &der_len, &e) != EP_OK) {
    fprintf(stderr, "hostile_relay: TLS certificate: %s\n", e.msg);
    return -1;
  }
  st->hop = hr_ident_new(now, sc == S_EXPIRED_CERT);
  st->exit = hr_ident_new(now, false);
  st->shown = sc == S_IDENTITY_MISMATCH ? hr_ident_new(now, false) : st->hop;
  int rc = -1;
  if (st->hop != NULL && st->exit != NULL && st->shown != NULL &&
      hr_ident_bind_tls(st->shown, der, der_len, now) == 0) {
    st->lfd = listen_on(&st->port);
    rc = st->lfd >= 0 && ep_loop_add_fd(s->loop, st->lfd, EP_LOOP_READ, on_accept, st, &e) == EP_OK
             ? 0
             : -1;
  }
  free(der);
  if (rc != 0) {
    fprintf(stderr, "hostile_relay: cannot set up scenario %s\n", scenarios[sc].name);
  }
  return rc;
}

static void site_free(site_t *st) {
  if (st->lfd >= 0) {
    close(st->lfd);
  }
  if (st->shown != st->hop) {
    hr_ident_free(st->shown);
  }
  hr_ident_free(st->hop);
  hr_ident_free(st->exit);
  ep_tls_ctx_free(st->tls);
}

static int scen_parse(const char *name) {
  for (int i = 0; i < S_COUNT; i++) {
    if (strcmp(scenarios[i].name, name) == 0) {
      return i;
    }
  }
  return -1;
}

static void usage(FILE *f) {
  fprintf(f,
          "Usage: hostile_relay [--scenario NAME]... [--all] [--deadline SECONDS] [--out FILE]\n"
          "                     [--stdin-eof] [--verbose] [--list]\n"
          "A scripted hostile Tor relay for tests (see tests/hostile/README.md).\n"
          "Prints one JSON line per scenario: its port, first-hop and exit relay specs.\n");
}

static void on_deadline(ep_loop_t *loop, void *arg) {
  (void)arg;
  fprintf(stderr, "hostile_relay: deadline reached, stopping\n");
  ep_loop_stop(loop);
}

static void on_stdin(ep_loop_t *loop, int fd, unsigned events, void *arg) {
  (void)events;
  (void)arg;
  char buf[256];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
    ep_loop_del_fd(loop, fd);
    ep_loop_stop(loop);
  }
}

int main(int argc, char **argv) {
  bool want[S_COUNT] = {false};
  bool any = false, stdin_eof = false, verbose = false;
  long deadline_s = 120;
  const char *out_path = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--all") == 0) {
      for (int k = 0; k < S_COUNT; k++) {
        want[k] = true;
      }
      any = true;
    } else if (strcmp(a, "--list") == 0) {
      for (int k = 0; k < S_COUNT; k++) {
        printf("%s %s\n", scenarios[k].name, scenarios[k].kind == K_LINK ? "link" : "exit");
      }
      return 0;
    } else if (strcmp(a, "--stdin-eof") == 0) {
      stdin_eof = true;
    } else if (strcmp(a, "--verbose") == 0) {
      verbose = true;
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage(stdout);
      return 0;
    } else if (v != NULL && strcmp(a, "--scenario") == 0) {
      int k = scen_parse(v);
      if (k < 0) {
        fprintf(stderr, "hostile_relay: unknown scenario '%s' (try --list)\n", v);
        return 2;
      }
      want[k] = true;
      any = true;
      i++;
    } else if (v != NULL && strcmp(a, "--deadline") == 0) {
      deadline_s = strtol(v, NULL, 10);
      if (deadline_s <= 0 || deadline_s > 3600) {
        fprintf(stderr, "hostile_relay: --deadline wants 1..3600 seconds\n");
        return 2;
      }
      i++;
    } else if (v != NULL && strcmp(a, "--out") == 0) {
      out_path = v;
      i++;
    } else {
      usage(stderr);
      return 2;
    }
  }
  if (!any) {
    want[S_GOOD] = true;
  }
  if (ep_crypto_init() != 0) {
    fprintf(stderr, "hostile_relay: crypto init failed\n");
    return 1;
  }
  server_t *s = calloc(1, sizeof *s);
  ep_err_t e = {0};
  if (s == NULL || (s->loop = ep_loop_new(&e)) == NULL) {
    fprintf(stderr, "hostile_relay: %s\n", e.msg);
    free(s);
    return 1;
  }
  s->verbose = verbose;
  ep_loop_catch_signals(s->loop, NULL);
  time_t now = time(NULL);
  int status = 0;
  for (int k = 0; k < S_COUNT; k++) {
    if (!want[k]) {
      continue;
    }
    if (site_setup(s, &s->sites[s->n_sites], (scen_t)k, now) != 0) {
      site_free(&s->sites[s->n_sites]);
      status = 1;
      goto out;
    }
    s->n_sites++;
  }
  FILE *out = out_path != NULL ? fopen(out_path, "w") : stdout;
  if (out == NULL) {
    fprintf(stderr, "hostile_relay: cannot write %s\n", out_path);
    status = 1;
    goto out;
  }
  for (size_t i = 0; i < s->n_sites; i++) {
    const site_t *st = &s->sites[i];
    char hop[256], ex[256];
    hr_ident_spec(st->hop, st->port, hop, sizeof hop);
    hr_ident_spec(st->exit, st->port, ex, sizeof ex);
    fprintf(out, "{\"scenario\":\"%s\",\"kind\":\"%s\",\"port\":%u,\"first_hop\":\"%s\",\"exit\":\"%s\"}\n",
            scenarios[st->scen].name, scenarios[st->scen].kind == K_LINK ? "link" : "exit",
            (unsigned)st->port, hop, ex);
  }
  fprintf(out, "{\"ready\":true}\n");
  fflush(out);
  if (out != stdout) {
    fclose(out);
  }
  if (stdin_eof) {
    int fl = fcntl(0, F_GETFL);
    fcntl(0, F_SETFL, fl | O_NONBLOCK);
    ep_loop_add_fd(s->loop, 0, EP_LOOP_READ, on_stdin, s, NULL);
  }
  ep_loop_timer_in(s->loop, (int64_t)deadline_s * 1000, on_deadline, s);
  ep_loop_run_until(s->loop, NULL, NULL, EP_LOOP_NO_DEADLINE, &e);
out:
  for (size_t i = 0; i < MAX_CONNS; i++) {
    if (s->conns[i] != NULL) {
      conn_free(s->conns[i]);
    }
  }
  for (size_t i = 0; i < s->n_sites; i++) {
    if (s->sites[i].lfd >= 0) {
      ep_loop_del_fd(s->loop, s->sites[i].lfd);
    }
    site_free(&s->sites[i]);
  }
  ep_loop_free(s->loop);
  free(s);
  return status;
}
