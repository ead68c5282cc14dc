/* exitprobe — the directory-document tokenizer (dir-spec §1.2 meta-format).
 *
 * A document is a byte range (never NUL-terminated reliance). The lexer hands
 * out one Item at a time: a keyword line (keyword, arguments) and an optional
 * "-----BEGIN X-----" object. It allocates nothing: tokens point into the
 * document, which must outlive them.
 *
 * What each document section allows is declared in a table of rules (tor's
 * parsecommon idea): keyword, how often it may occur, how many arguments it
 * takes, whether an object is required, optional or forbidden, and whether it
 * must come first or last. A parser matches each token against the table of
 * the section it is in (ep_dir_match: argument and object rules) and feeds it
 * to a section counter (ep_dir_sec_add / ep_dir_sec_finish: occurrence and
 * position rules). Unknown keywords are ignored, as the spec requires.
 *
 * Errors name the document and the line:
 *   "consensus line 1234: 'r' wants at least 8 arguments, has 3". */
#ifndef EP_DIR_TOKEN_H
#define EP_DIR_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/err.h"
#include "lib/reader.h"

/* Argument pointers kept per token; further arguments are counted (nargs)
 * and reachable through argstr / ep_dir_arg_next. */
#define EP_DIR_MAX_ARGS 12
/* "no upper bound" for occurrences and arguments */
#define EP_DIR_MANY 0xffffu
/* Distinct rules in one section table. */
#define EP_DIR_MAX_RULES 48

/* Token ids that are not rule ids. */
#define EP_DIR_KW_UNKNOWN (-1)
#define EP_DIR_KW_ANNOTATION (-2)   /* "@..." lines, when allowed */

typedef enum ep_dir_obj_rule {
  EP_DIR_OBJ_FORBIDDEN = 0,
  EP_DIR_OBJ_REQUIRED = 1,
  EP_DIR_OBJ_OPTIONAL = 2
} ep_dir_obj_rule_t;

typedef enum ep_dir_pos_rule {
  EP_DIR_POS_ANY = 0,
  EP_DIR_POS_START = 1,   /* must be the first item of its section */
  EP_DIR_POS_END = 2      /* must be the last item of its section */
} ep_dir_pos_rule_t;

typedef struct ep_dir_rule {
  const char *kw;         /* keyword */
  uint8_t kw_len;         /* strlen(kw): tables use EP_DIR_KW("x") */
  int id;                 /* caller's id (>= 0) */
  uint16_t min_n, max_n;  /* occurrences in a section (EP_DIR_MANY: unbounded) */
  uint16_t min_args, max_args;
  uint8_t obj;            /* ep_dir_obj_rule_t */
  uint8_t pos;            /* ep_dir_pos_rule_t */
} ep_dir_rule_t;

#define EP_DIR_NRULES(t) (sizeof(t) / sizeof((t)[0]))
/* keyword and its length, for rule tables: { EP_DIR_KW("r"), K_R, ... } */
#define EP_DIR_KW(k) k, (uint8_t)(sizeof(k) - 1)

typedef struct ep_dir_tok {
  int id;                   /* rule id, EP_DIR_KW_UNKNOWN or EP_DIR_KW_ANNOTATION */
  const ep_dir_rule_t *rule;/* matched rule (NULL when unknown) */
  size_t lineno;            /* 1-based line of the keyword line */
  size_t offset;            /* byte offset of the keyword line in the document */
  size_t end_offset;        /* byte offset just past the item (object included) */
  const char *kw;           /* keyword (not NUL-terminated) */
  size_t kw_len;
  const char *argstr;       /* everything after the keyword and its whitespace */
  size_t argstr_len;        /* up to, not including, the newline (trailing blanks cut) */
  /* Arguments are split lazily (most lines are only used whole): after
   * ep_dir_match, args[0..nargs) hold the first arguments, as many as the
   * rule's counts need (at most EP_DIR_MAX_ARGS); more_args says whether
   * more follow. ep_dir_tok_split splits further; ep_dir_arg_next walks
   * all of them. */
  uint32_t nargs;
  bool more_args;
  const char *args[EP_DIR_MAX_ARGS];
  uint16_t arglen[EP_DIR_MAX_ARGS];
  /* The object, if any. */
  bool has_obj;
  const char *obj_label;    /* "RSA PUBLIC KEY" */
  size_t obj_label_len;
  const char *obj_b64;      /* the base64 lines between BEGIN and END */
  size_t obj_b64_len;
  size_t obj_max_len;       /* upper bound of the decoded length */
} ep_dir_tok_t;

#define EP_DIR_ANNOTATIONS_OK 0x1u  /* accept "@keyword ..." lines */

typedef struct ep_dir_lexer {
  ep_reader_t rd;           /* over the whole document */
  const char *base;         /* the document */
  size_t lineno;            /* line number of the next line */
  const char *doc;          /* document name for errors ("consensus") */
  unsigned flags;
  size_t nul_at;            /* first NUL at or after nul_from, or len */
  size_t nul_from;          /* where that scan started (init: 0; a seek backwards rescans) */
} ep_dir_lexer_t;

void ep_dir_lexer_init(ep_dir_lexer_t *lx, const char *text, size_t len, const char *docname,
                       unsigned flags);
/* Byte offset of the next item. */
size_t ep_dir_lexer_pos(const ep_dir_lexer_t *lx);
/* Restart at byte offset pos (must be a line start) with the given line number. */
void ep_dir_lexer_seek(ep_dir_lexer_t *lx, size_t pos, size_t lineno);

/* Read the next item (blank lines skipped). Returns 1 with *tok filled, 0 at
 * the end of the document, or a negative ep_status_t (line too long, bad
 * keyword, missing newline, unterminated or mismatched object...). tok->id
 * is EP_DIR_KW_UNKNOWN until matched. */
int ep_dir_next(ep_dir_lexer_t *lx, ep_dir_tok_t *tok, ep_err_t *err);

/* Look the token's keyword up in rules; on a hit set tok->id/rule and check
 * the argument count and object rule (error naming doc and line). On a miss
 * tok->id stays EP_DIR_KW_UNKNOWN and 0 is returned. */
int ep_dir_match(const char *doc, const ep_dir_rule_t *rules, size_t nrules, ep_dir_tok_t *tok,
                 ep_err_t *err);
/* ep_dir_match for a token whose keyword the caller already knows to be
 * rule r's (a parser's own dispatch): the same argument and object checks. */
int ep_dir_match_rule(const char *doc, const ep_dir_rule_t *r, ep_dir_tok_t *tok, ep_err_t *err);
/* Split the first `limit` arguments (at most EP_DIR_MAX_ARGS) into args[]. */
void ep_dir_tok_split(ep_dir_tok_t *tok, uint32_t limit);
/* Exact number of arguments (walks the line). */
uint32_t ep_dir_tok_count_args(const ep_dir_tok_t *tok);
/* True if the token's keyword is kw. */
bool ep_dir_tok_is(const ep_dir_tok_t *tok, const char *kw);

/* Occurrence and position checking for one section. */
typedef struct ep_dir_sec {
  const char *doc;          /* "consensus" */
  const char *name;         /* "router entry", "header" */
  const ep_dir_rule_t *rules;
  size_t nrules;
  size_t start_line;        /* line of the section's first item */
  size_t nitems;            /* known items seen */
  int last_id;              /* id of the last known item */
  size_t last_line;
  int start_rule;           /* index of the "at start" rule, -1 if none */
  bool last_was_end;        /* the last item was an "at end" one */
  uint16_t count[EP_DIR_MAX_RULES];
} ep_dir_sec_t;

void ep_dir_sec_init(ep_dir_sec_t *s, const char *doc, const char *name,
                     const ep_dir_rule_t *rules, size_t nrules);
/* Count a matched token (unknown tokens are ignored). Fails if it occurs
 * too often or breaks a "at start" rule. */
int ep_dir_sec_add(ep_dir_sec_t *s, const ep_dir_tok_t *tok, ep_err_t *err);
/* End of section at line `line`: checks minimum counts and "at end". */
int ep_dir_sec_finish(ep_dir_sec_t *s, size_t line, ep_err_t *err);

/* --- argument helpers (all length-bounded) --- */

/* Iterate over all arguments of the token: *pos starts at 0. Returns true
 * with *arg and *len set, false at the end. */
bool ep_dir_arg_next(const ep_dir_tok_t *tok, size_t *pos, const char **arg, size_t *len);
/* Argument i (< nargs, already split) equals s. */
bool ep_dir_arg_eq(const ep_dir_tok_t *tok, uint32_t i, const char *s);
/* Parse argument i as a decimal unsigned integer <= max. 0 or -1. */
int ep_dir_arg_uint(const ep_dir_tok_t *tok, uint32_t i, uint64_t max, uint64_t *out);
/* Arguments i and i+1 as "YYYY-MM-DD HH:MM:SS" (one space between). */
int ep_dir_arg_time(const ep_dir_tok_t *tok, uint32_t i, time_t *out);
/* Exactly n bytes from hex (2n chars) / unpadded-or-padded base64. */
int ep_dir_arg_hex(const ep_dir_tok_t *tok, uint32_t i, uint8_t *out, size_t n);
int ep_dir_arg_b64(const ep_dir_tok_t *tok, uint32_t i, uint8_t *out, size_t n);

/* Decimal number in s[0..n) <= max; 0 or -1. */
int ep_dir_parse_uint(const char *s, size_t n, uint64_t max, uint64_t *out);
/* "N" or "N-M", decimal, each <= max, into [*lo, *hi] (*hi = *lo for "N");
 * 0 or -1. Whether lo <= hi is the caller's to judge. */
int ep_dir_parse_range(const char *s, size_t n, uint64_t max, uint64_t *lo, uint64_t *hi);
/* Dotted-quad IPv4 into a host-order uint32; 0 or -1. */
int ep_dir_parse_ipv4(const char *s, size_t n, uint32_t *out);
/* IPv6 text (no brackets) into 16 bytes; 0 or -1. */
int ep_dir_parse_ipv6(const char *s, size_t n, uint8_t out[16]);
/* "[v6]:port" or "v4:port"; family 4 or 6 in *family. */
int ep_dir_parse_addrport(const char *s, size_t n, int *family, uint8_t addr[16], uint16_t *port);
/* Router nickname: 1..19 of [A-Za-z0-9]. */
bool ep_dir_nickname_ok(const char *s, size_t n);

/* Untrusted text s[0..n) made safe for an error message: ep_escape_text of
 * at most 40 bytes, into buf (>= 4*40+4 bytes). Returns buf. */
#define EP_DIR_ESC_BUF 168
const char *ep_dir_esc(char *buf, size_t cap, const char *s, size_t n);

/* A document parser's own NUL-terminated copy of text[0..len) (free()),
 * or NULL with err naming doc and the cap (cap_name) it exceeds, or memory. */
char *ep_dir_copy_text(const char *doc, const char *text, size_t len, size_t cap,
                       const char *cap_name, ep_err_t *err);
/* A new zeroed object of size bytes and, in *copy, its copy of the text
 * (as ep_dir_copy_text; both free()), or NULL with err set. */
void *ep_dir_new_with_text(const char *doc, size_t size, const char *text, size_t len, size_t cap,
                           const char *cap_name, char **copy, ep_err_t *err);

/* CollecTor archives start each file with one "@type NAME VERSION" line
 * (https://metrics.torproject.org/collector.html#data-formats): the length
 * of that line with its newline if text starts with one (at most
 * EP_CAP_DOC_LINE bytes), else 0. For documents whose parser takes no
 * annotations (consensus). */
size_t ep_dir_type_annotation_len(const char *text, size_t len);

/* Decode the token's object into out (cap bytes). Returns the length or a
 * negative ep_status_t (no object, bad base64, too large). If label is not
 * NULL the object's label must equal it. */
int ep_dir_obj_decode(const char *doc, const ep_dir_tok_t *tok, const char *label, uint8_t *out,
                      size_t cap, ep_err_t *err);
/* The same checks and errors as ep_dir_obj_decode with a cap-byte buffer,
 * without decoding: for objects that must be valid but whose bytes are not
 * kept. Returns the decoded length or a negative ep_status_t. */
int ep_dir_obj_check(const char *doc, const ep_dir_tok_t *tok, const char *label, size_t cap,
                     ep_err_t *err);

#endif
