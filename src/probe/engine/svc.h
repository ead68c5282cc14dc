/* exitprobe — service checks: what the destination behind an exit should say
 * on a port, one small sans-I/O state machine per protocol (issue #11).
 *
 * A check is told the protocol (from the one port table, ep_svc_for_port, or
 * --service PORT=PROTO) and the target name (SNI, HTTP Host, XMPP to, DNS
 * question). It hands out the bytes to send first (client-first protocols,
 * TLS records) and takes every byte the stream receives, as it arrives:
 *
 *   ep_svc_t *sv = ep_svc_new(&spec, "www.example.org", &err);
 *   while (ep_svc_output(sv, &p, &n) > 0) { send p[0..n); ep_svc_output_done(sv, n); }
 *   on DATA:  st = ep_svc_input(sv, bytes, len, false);   (then send output again)
 *   on END:   st = ep_svc_input(sv, NULL, 0, true);
 *   st: EP_SVC_NEED_MORE until ANSWERED / NOT_PROTO / FAILED; then
 *   ep_svc_result(sv) says what the destination said.
 *
 * Every byte is hostile: a check keeps at most EP_CAP_SVC_INPUT bytes in all
 * (TLS handshake included) and decides as soon as it can; no loop is more
 * than linear in what arrived. No I/O, no clock: the caller's deadline ends a
 * check that never decides (the caller then calls ep_svc_input(.., eof=true)
 * or just reads ep_svc_result, whose status stays NEED_MORE). */
#ifndef EP_PROBE_SVC_H
#define EP_PROBE_SVC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/caps.h"   /* EP_CAP_SVC_INPUT */
#include "lib/err.h"

#define EP_SVC_ANSWER 160              /* one line of what the protocol said (raw, NUL-terminated) */
#define EP_SVC_IDENTITY 256            /* what names the destination (raw, NUL-terminated) */

typedef enum ep_svc_proto {
  EP_SVC_TCP = 0, /* CONNECTED plus whatever arrives in a short window */
  EP_SVC_SMTP,    /* server first: 220 (multi-line) */
  EP_SVC_FTP,     /* server first: 220 */
  EP_SVC_SSH,     /* server first: SSH-2.0- / SSH-1.99- identification line */
  EP_SVC_POP3,    /* server first: +OK */
  EP_SVC_IMAP,    /* server first: * OK / * PREAUTH */
  EP_SVC_IRC,     /* server first: any IRC message line (NOTICE ...) */
  EP_SVC_NNTP,    /* server first: 200 / 201 */
  EP_SVC_HTTP,    /* client first: HEAD / with Host -> status line, Server header */
  EP_SVC_XMPP,    /* client first: stream header -> server stream header */
  EP_SVC_DNS,     /* client first: one query over TCP -> a well-formed answer */
  EP_SVC_PROTO_COUNT
} ep_svc_proto_t;

/* A service: a protocol, possibly inside implicit TLS (https = HTTP in TLS). */
typedef struct ep_svc_spec {
  ep_svc_proto_t proto;
  bool tls;
} ep_svc_spec_t;

/* The one port table (README "Services"): 21 ftp, 22 ssh, 25/587/2525 smtp,
 * 53 dns, 80 http, 110 pop3, 119 nntp, 143 imap, 443 https, 465 submissions
 * (smtp in TLS), 853 dns in TLS, 993 imaps, 995 pop3s, 5222 xmpp, 5223 xmpp
 * in TLS, 6667 irc, 6697 ircs; any other port: tcp. */
ep_svc_spec_t ep_svc_for_port(uint16_t port);
/* A service's name as records and --service use it: "smtp", "https",
 * "submissions", "imaps", "pop3s", "ircs", "xmpps", "dot", "tcp", ... */
const char *ep_svc_name(ep_svc_spec_t spec);
/* Parses a service name (as ep_svc_name gives). Returns EP_OK or an error. */
int ep_svc_parse(const char *name, ep_svc_spec_t *out, ep_err_t *err);
/* The well-known port of a service name ("smtp" 25, "submissions" 465,
 * "https" 443, ...), 0 if none. --port takes these names. */
uint16_t ep_svc_port_by_name(const char *name);
/* The preset --port common: 21,22,25,53,80,110,143,443,465,587,993,995,5222,6667,6697. */
size_t ep_svc_common_ports(const uint16_t **ports);
/* Does the service speak first (then a connection closed with nothing said
 * is the exit's fault; for client-first services it is not)? TLS ports: no. */
bool ep_svc_server_first(ep_svc_spec_t spec);

typedef enum ep_svc_status {
  EP_SVC_NEED_MORE = 0, /* nothing decided yet */
  EP_SVC_ANSWERED,      /* the protocol answered (maybe refusing: see refused) */
  EP_SVC_NOT_PROTO,     /* something answered, but not this protocol (or a TLS failure) */
  EP_SVC_FAILED         /* the stream ended / a cap was hit before an answer */
} ep_svc_status_t;

typedef enum ep_svc_id_kind {
  EP_SVC_ID_NONE = 0,
  EP_SVC_ID_CERT,       /* TLS leaf certificate SHA-256 (hex) */
  EP_SVC_ID_HOSTNAME,   /* host name in an SMTP / FTP / NNTP greeting */
  EP_SVC_ID_IRC_SERVER, /* the IRC server name (prefix of its first message) */
  EP_SVC_ID_XMPP_FROM   /* the XMPP stream header's from */
} ep_svc_id_kind_t;

typedef struct ep_svc_result {
  ep_svc_status_t status;
  bool refused;                 /* answered, but said no: SMTP 4xx/5xx, FTP 421, POP3 -ERR,
                                   IMAP * BYE, NNTP 400/502, HTTP status >= 400, XMPP stream
                                   error, DNS rcode != NOERROR. The destination's choice. */
  int code;                     /* numeric reply code where the protocol has one, else 0 */
  char answer[EP_SVC_ANSWER];   /* one line: what the protocol said (raw bytes; escape to show) */
  char why[EP_SVC_ANSWER];      /* NOT_PROTO / FAILED: why, one line ("TLS alert 40 ...") */
  ep_svc_id_kind_t id_kind;
  char identity[EP_SVC_IDENTITY]; /* for interception: same destination => same identity */
  /* TLS (spec.tls): filled once the handshake is done. */
  bool tls_done;
  bool tls_resumed;             /* an abbreviated handshake: the server resumed a session it
                                   issued to an earlier check (cert_* are that session's) */
  char tls_version[16];         /* "TLSv1.3" */
  char cert_sha256[65];         /* leaf certificate, hex lower case */
  char cert_subject[EP_SVC_IDENTITY]; /* one-line RFC 2253 */
  char cert_issuer[EP_SVC_IDENTITY];
  size_t bytes_in;              /* bytes the check read in all */
} ep_svc_result_t;

typedef struct ep_svc ep_svc_t;

/* TLS sessions kept for resumption, one per (target name, port), shared by
 * the checks of a scan (and its rounds). A TLS check given the store offers
 * the session its destination issued to an earlier check: a server that
 * accepts it proves it holds the keys that issued the ticket, i.e. that it
 * is the same server that showed the certificate recorded with the session
 * (a middlebox cannot resume a session it did not issue: it answers with a
 * full handshake and its own certificate, recorded as such). The abbreviated
 * handshake skips the key exchange, the certificate and its signature: most
 * of a TLS probe's CPU. A TLS 1.2 session is offered with TLS 1.2 as the
 * highest version (no TLS 1.3 key share to compute). When several
 * certificates answer for one destination, the session kept is the one of
 * the certificate seen most (a vote that one different answer does not
 * turn); a rejected session costs nothing but a full handshake.
 * At most EP_SVC_SESSIONS_MAX destinations; more are checked in full. */
#define EP_SVC_SESSIONS_MAX 128
typedef struct ep_svc_sessions ep_svc_sessions_t;
ep_svc_sessions_t *ep_svc_sessions_new(void);
void ep_svc_sessions_free(ep_svc_sessions_t *ss); /* NULL ok */
/* Destinations with a session kept (for tests and progress). */
size_t ep_svc_sessions_count(const ep_svc_sessions_t *ss);

/* target_name: the host the exit connects to (SNI, Host, to, DNS question;
 * an IP literal is used as is and sends no SNI). */
ep_svc_t *ep_svc_new(ep_svc_spec_t spec, const char *target_name, ep_err_t *err);
/* The same, resuming TLS sessions through `ss` (NULL: a full handshake every
 * time) for the destination (target_name, port). */
ep_svc_t *ep_svc_new_ex(ep_svc_spec_t spec, const char *target_name, uint16_t port,
                        ep_svc_sessions_t *ss, ep_err_t *err);
void ep_svc_free(ep_svc_t *sv); /* NULL ok; wipes TLS state */
/* Bytes to send now: *p and the count (0: nothing). The caller sends some
 * or all and says how many with ep_svc_output_done. */
size_t ep_svc_output(ep_svc_t *sv, const uint8_t **p);
void ep_svc_output_done(ep_svc_t *sv, size_t n);
/* Everything the stream received since the last call (data may be NULL
 * when len is 0); eof: the stream ended. */
ep_svc_status_t ep_svc_input(ep_svc_t *sv, const uint8_t *data, size_t len, bool eof);
const ep_svc_result_t *ep_svc_result(const ep_svc_t *sv);
/* Frees the process-wide TLS context of the checks (also done at exit). */
void ep_svc_global_cleanup(void);

#endif
