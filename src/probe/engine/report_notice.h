/* exitprobe report --notices: one plain-text message per operator about the
 * exits that violated their exit policy (issue #12), grouped by the
 * contact's email, else by the contact line, else by relay. Each message is
 * written as NAME.txt and as NAME.eml (RFC 5322, text/plain UTF-8, addressed
 * To: the contact's email when known) — never sent. Pairs that were only
 * inconclusive or honoured get nothing.
 *
 * Every relay-supplied string is hostile: the body carries it through
 * ep_escape_text (printable ASCII, \xNN for the rest); a header value has
 * CR, LF and control characters removed and non-ASCII encoded as RFC 2047
 * encoded-words; the To: address is used only if it is a plain address
 * (dir/ciiss.h rules), file names hold only [0-9A-Fa-f-]. */
#ifndef EP_PROBE_REPORT_NOTICE_H
#define EP_PROBE_REPORT_NOTICE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "probe/engine/report_model.h"

typedef struct ep_notice_cfg {
  const char *from;       /* From: address (default "exitprobe@localhost") */
  time_t now;             /* Date: header */
  const char *extra_args; /* appended to the reproduce command (e.g. "--dir-authorities F"); NULL none */
} ep_notice_cfg_t;

/* One group's message: body (UTF-8 text) into txt, the whole .eml into eml.
 * pairs: the group's violating pairs (all of one operator), n >= 1. */
int ep_notice_render(const ep_rm_pair_t *const *pairs, size_t n, const ep_notice_cfg_t *cfg,
                     ep_buf_t *txt, ep_buf_t *eml, ep_err_t *err);

/* A header value made safe: control characters (CR, LF included) dropped,
 * runs of white space folded to one space, and, if any byte is non-ASCII,
 * the whole value as RFC 2047 "=?utf-8?B?...?=" words (each at most 75
 * bytes, separated by " "). Appends to out. */
int ep_notice_header_value(ep_buf_t *out, const char *v, size_t n, ep_err_t *err);

/* The To: address of a group: the contact's email if it is a plain address,
 * else "" (written to out, cap bytes). */
void ep_notice_to(const ep_rm_pair_t *p, char *out, size_t cap);

/* Group the violating pairs (violates > 0; the others are skipped) by
 * operator and write dir/notice-NNN-FINGERPRINT.txt and .eml per group
 * (dir must exist). *n_written: messages written. */
int ep_notices_write(const ep_rm_pair_t *const *pairs, size_t n, const char *dir,
                     const ep_notice_cfg_t *cfg, size_t *n_written, ep_err_t *err);

#endif
