/* exitprobe — service checks, internals shared by svc*.c (not an API). */
#ifndef EP_PROBE_SVC_INT_H
#define EP_PROBE_SVC_INT_H

#include "probe/engine/svc.h"

#define EP_SVC_LINE_MAX 2048   /* longest line a line protocol may send */
#define EP_SVC_QUERY_MAX 512   /* what a client-first check sends */

typedef struct ep_svc_tls ep_svc_tls_t;

struct ep_svc {
  ep_svc_spec_t spec;
  char name[256];             /* target name */
  ep_svc_result_t res;
  uint8_t *in;                /* plaintext received (inner protocol), capped */
  size_t in_len;
  size_t scan;                /* parser position in `in` (each byte looked at once) */
  size_t lscan;               /* bytes of the current line searched for LF */
  unsigned lines;             /* lines seen (line protocols) */
  bool multi;                 /* inside a multi-line reply (SMTP/FTP) */
  bool seen_header;           /* XMPP: the server's stream header arrived */
  uint8_t query[EP_SVC_QUERY_MAX]; /* plaintext to send (client-first) */
  size_t query_len, query_off;
  uint16_t dns_id;
  ep_svc_tls_t *tls;          /* implicit TLS, NULL otherwise */
  ep_svc_sessions_t *sessions; /* TLS resumption (NULL: none) */
  uint16_t port;              /* the destination's port (the sessions' key) */
};

/* Sets status and a why line; returns the status. */
ep_svc_status_t ep_svc_fail(ep_svc_t *sv, ep_svc_status_t st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Formats the answer line (cut short to fit). */
void ep_svc_answer(ep_svc_t *sv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Copies n raw bytes as one line (stops at CR/LF/NUL; truncates). */
void ep_svc_copy_line(char *dst, size_t cap, const uint8_t *p, size_t n);
/* The inner (plaintext) protocol: appends bytes, decides. */
ep_svc_status_t ep_svc_plain_input(ep_svc_t *sv, const uint8_t *data, size_t len, bool eof);
/* Builds the first bytes a client-first protocol sends into sv->query. */
int ep_svc_build_query(ep_svc_t *sv, ep_err_t *err);

ep_svc_status_t ep_svc_line_decide(ep_svc_t *sv, bool eof);
ep_svc_status_t ep_svc_http_decide(ep_svc_t *sv, bool eof);
int ep_svc_http_query(ep_svc_t *sv, ep_err_t *err);
ep_svc_status_t ep_svc_xmpp_decide(ep_svc_t *sv, bool eof);
int ep_svc_xmpp_query(ep_svc_t *sv, ep_err_t *err);
/* IRC: NICK and USER, so that servers which wait for registration before
 * their first line (ngircd) answer too. */
int ep_svc_irc_query(ep_svc_t *sv, ep_err_t *err);
ep_svc_status_t ep_svc_dns_decide(ep_svc_t *sv, bool eof);
int ep_svc_dns_query(ep_svc_t *sv, ep_err_t *err);

/* TLS (svc_tls.c). */
int ep_svc_tls_new(ep_svc_t *sv, ep_err_t *err);
/* Offers the session to sv->sessions (when the handshake was done), frees. */
void ep_svc_tls_free(ep_svc_t *sv);
size_t ep_svc_tls_output(ep_svc_t *sv, const uint8_t **p);
void ep_svc_tls_output_done(ep_svc_t *sv, size_t n);
ep_svc_status_t ep_svc_tls_input(ep_svc_t *sv, const uint8_t *data, size_t len, bool eof);

#endif
