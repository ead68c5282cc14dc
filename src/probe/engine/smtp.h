/* exitprobe — reading a service's greeting (SMTP first), sans I/O.
 * Bytes from the exit's stream are hostile: the reader keeps at most
 * EP_CAP_BANNER bytes and decides as soon as it can. */
#ifndef EP_PROBE_SMTP_H
#define EP_PROBE_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/caps.h"

typedef enum ep_greeting_kind {
  EP_GREETING_NONE = 0,      /* nothing received (yet) */
  EP_GREETING_SMTP,          /* a complete SMTP reply: code + lines */
  EP_GREETING_NOT_SMTP,      /* text that is not an SMTP reply */
  EP_GREETING_PARTIAL        /* an SMTP reply cut short (EOF or cap) */
} ep_greeting_kind_t;

typedef struct ep_greeting {
  ep_greeting_kind_t kind;
  int code;                  /* SMTP reply code (e.g. 220, 554), or 0 */
  unsigned lines;            /* lines of the reply (multi-line aware) */
  bool capped;               /* more than EP_CAP_BANNER bytes arrived */
  size_t len;                /* bytes kept in text */
  uint8_t text[EP_CAP_BANNER];  /* raw bytes as received (escape before showing) */
} ep_greeting_t;

/* Look at everything received so far on the stream (`eof`: the stream has
 * ended). Returns 1 when the greeting is decided (out->kind is SMTP,
 * NOT_SMTP or PARTIAL), 0 when more bytes could change the answer. */
int ep_greeting_parse(const uint8_t *data, size_t len, bool eof, ep_greeting_t *out);

/* Does the service on this port speak first (SMTP on 25 and 587)? The one
 * per-port table of what a service says; the scan and `exitprobe circuit`
 * both ask it. */
bool ep_port_expects_greeting(uint16_t port);

/* Is this the greeting the service should give? SMTP on 25/587: code 220. */
bool ep_greeting_is_ready(const ep_greeting_t *g);

#endif
