/* exitprobe — the directory-document tokenizer (dir-spec §1.2). */
#include "config.h"

#include "dir/token.h"

#include <stdlib.h>
#include <string.h>

#include "lib/caps.h"
#include "lib/encode.h"
#include "lib/escape.h"

/* Character classes of the meta-format, one table lookup each. */
enum {
  C_KW_START = 0x1,   /* A-Z a-z 0-9: may start a keyword */
  C_KW = 0x2,         /* keyword characters: the above and '-' */
  C_B64 = 0x4,        /* object body characters: A-Z a-z 0-9 + / = */
  C_WS = 0x8,         /* SP, TAB: separate keyword and arguments */
};
#define C_ALNUM (C_KW_START | C_KW | C_B64)
static const uint8_t ctab[256] = {
    ['A'] = C_ALNUM, ['B'] = C_ALNUM, ['C'] = C_ALNUM, ['D'] = C_ALNUM, ['E'] = C_ALNUM,
    ['F'] = C_ALNUM, ['G'] = C_ALNUM, ['H'] = C_ALNUM, ['I'] = C_ALNUM, ['J'] = C_ALNUM,
    ['K'] = C_ALNUM, ['L'] = C_ALNUM, ['M'] = C_ALNUM, ['N'] = C_ALNUM, ['O'] = C_ALNUM,
    ['P'] = C_ALNUM, ['Q'] = C_ALNUM, ['R'] = C_ALNUM, ['S'] = C_ALNUM, ['T'] = C_ALNUM,
    ['U'] = C_ALNUM, ['V'] = C_ALNUM, ['W'] = C_ALNUM, ['X'] = C_ALNUM, ['Y'] = C_ALNUM,
    ['Z'] = C_ALNUM, ['a'] = C_ALNUM, ['b'] = C_ALNUM, ['c'] = C_ALNUM, ['d'] = C_ALNUM,
    ['e'] = C_ALNUM, ['f'] = C_ALNUM, ['g'] = C_ALNUM, ['h'] = C_ALNUM, ['i'] = C_ALNUM,
    ['j'] = C_ALNUM, ['k'] = C_ALNUM, ['l'] = C_ALNUM, ['m'] = C_ALNUM, ['n'] = C_ALNUM,
    ['o'] = C_ALNUM, ['p'] = C_ALNUM, ['q'] = C_ALNUM, ['r'] = C_ALNUM, ['s'] = C_ALNUM,
    ['t'] = C_ALNUM, ['u'] = C_ALNUM, ['v'] = C_ALNUM, ['w'] = C_ALNUM, ['x'] = C_ALNUM,
    ['y'] = C_ALNUM, ['z'] = C_ALNUM, ['0'] = C_ALNUM, ['1'] = C_ALNUM, ['2'] = C_ALNUM,
    ['3'] = C_ALNUM, ['4'] = C_ALNUM, ['5'] = C_ALNUM, ['6'] = C_ALNUM, ['7'] = C_ALNUM,
    ['8'] = C_ALNUM, ['9'] = C_ALNUM,
    ['-'] = C_KW, ['+'] = C_B64, ['/'] = C_B64, ['='] = C_B64, [' '] = C_WS, ['\t'] = C_WS,
};
#undef C_ALNUM

static bool is_ws(char c) { return (ctab[(uint8_t)c] & C_WS) != 0; }

static bool is_kw_start(char c) { return (ctab[(uint8_t)c] & C_KW_START) != 0; }

static bool is_kw_char(char c) { return (ctab[(uint8_t)c] & C_KW) != 0; }

void ep_dir_lexer_init(ep_dir_lexer_t *lx, const char *text, size_t len, const char *docname,
                       unsigned flags) {
  ep_reader_init(&lx->rd, text, len);
  lx->base = text;
  lx->lineno = 1;
  lx->doc = docname;
  lx->flags = flags;
  /* One scan for NUL bytes up front instead of one per line; take_line
   * still reports the first one at its own line, when it gets there. */
  const char *nul = len > 0 ? memchr(text, '\0', len) : NULL;
  lx->nul_at = nul != NULL ? (size_t)(nul - text) : len;
  lx->nul_from = 0;
}

size_t ep_dir_lexer_pos(const ep_dir_lexer_t *lx) { return ep_rd_pos(&lx->rd); }

void ep_dir_lexer_seek(ep_dir_lexer_t *lx, size_t pos, size_t lineno) {
  size_t len = lx->rd.len;
  ep_reader_init(&lx->rd, lx->base, len);
  if (pos > len) {
    pos = len;
  }
  (void)ep_rd_skip(&lx->rd, pos);
  lx->lineno = lineno;
  /* Lines are read from pos on: the first NUL from there. A seek forward
   * within what the last scan covered keeps its answer (no NUL between
   * nul_from and nul_at, so none between pos and nul_at either). */
  if (pos >= lx->nul_from && lx->nul_at >= pos) {
    return;
  }
  const char *nul = pos < len ? memchr(lx->base + pos, '\0', len - pos) : NULL;
  lx->nul_at = nul != NULL ? (size_t)(nul - lx->base) : len;
  lx->nul_from = pos;
}

/* Take the next line (without its newline) from the reader. 1 = line,
 * 0 = end of input, negative = error. */
static int take_line(ep_dir_lexer_t *lx, const char **line, size_t *len, ep_err_t *err) {
  const uint8_t *rest;
  size_t restlen;
  ep_rd_peek_rest(&lx->rd, &rest, &restlen);
  if (restlen == 0) {
    return 0;
  }
  size_t window = restlen < (size_t)EP_CAP_DOC_LINE + 1 ? restlen : (size_t)EP_CAP_DOC_LINE + 1;
  const uint8_t *nl = memchr(rest, '\n', window);
  if (nl == NULL) {
    if (restlen > EP_CAP_DOC_LINE) {
      return ep_err_set(err, EP_ERR_LIMIT, "%s line %zu: line longer than EP_CAP_DOC_LINE (%u bytes)",
                        lx->doc, lx->lineno, EP_CAP_DOC_LINE);
    }
    return ep_err_set(err, EP_ERR_TRUNCATED, "%s line %zu: no newline at the end (truncated?)",
                      lx->doc, lx->lineno);
  }
  size_t n = (size_t)(nl - rest);
  const uint8_t *p;
  if (ep_rd_ptr(&lx->rd, &p, n + 1) < 0) {
    return ep_err_set(err, EP_ERR_INTERNAL, "%s line %zu: reader", lx->doc, lx->lineno);
  }
  if (n > 0 && p[n - 1] == '\r') {
    return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: CR before the newline (CRLF line endings?)",
                      lx->doc, lx->lineno);
  }
  if (lx->nul_at < ep_rd_pos(&lx->rd) - 1) {
    /* The first NUL from where reading started lies before this line's
     * newline; the lines before had none, so it is in this one. */
    return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: NUL byte in line", lx->doc, lx->lineno);
  }
  *line = (const char *)p;
  *len = n;
  lx->lineno++;
  return 1;
}

/* Does the next line start with prefix? (no consumption) */
static bool next_line_starts(const ep_dir_lexer_t *lx, const char *prefix, size_t pl) {
  const uint8_t *rest;
  size_t restlen;
  ep_rd_peek_rest(&lx->rd, &rest, &restlen);
  return restlen >= pl && rest[0] == (uint8_t)prefix[0] && memcmp(rest, prefix, pl) == 0;
}

/* Blank (SP or TAB) lookup: 1 for blanks. */
static const uint8_t blank_tab[256] = {[' '] = 1, ['\t'] = 1};

/* First blank (SP or TAB) in [p, end), or end: eight bytes a step where the
 * byte order allows, never reading at or past end. */
static inline const char *find_blank(const char *p, const char *end) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  while (end - p >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    uint64_t x = w ^ (ones * ' '), y = w ^ (ones * '\t');
    /* a zero byte of x or y is a blank; the lowest flagged byte is exact */
    uint64_t m = (((x - ones) & ~x) | ((y - ones) & ~y)) & highs;
    if (m != 0) {
      return p + (__builtin_ctzll(m) >> 3);
    }
    p += 8;
  }
#endif
  while (p < end && !blank_tab[(uint8_t)*p]) {
    p++;
  }
  return p;
}

static void set_argstr(ep_dir_tok_t *tok, const char *s, size_t n) {
  size_t i = 0;
  while (i < n && blank_tab[(uint8_t)s[i]]) {
    i++;
  }
  size_t end = n;
  while (end > i && blank_tab[(uint8_t)s[end - 1]]) {
    end--;
  }
  tok->argstr = s + i;
  tok->argstr_len = end - i;
  tok->nargs = 0;
  tok->more_args = tok->argstr_len > 0;
}

void ep_dir_tok_split(ep_dir_tok_t *tok, uint32_t limit) {
  if (limit > EP_DIR_MAX_ARGS) {
    limit = EP_DIR_MAX_ARGS;
  }
  const char *p = tok->argstr, *end = tok->argstr + tok->argstr_len;
  if (tok->nargs > 0) {
    p = tok->args[tok->nargs - 1] + tok->arglen[tok->nargs - 1];
  }
  while (tok->nargs < limit) {
    while (p < end && blank_tab[(uint8_t)*p]) {
      p++;
    }
    if (p >= end) {
      break;
    }
    const char *a = p;
    p = find_blank(p, end);
    tok->args[tok->nargs] = a;
    tok->arglen[tok->nargs] = (uint16_t)(p - a);
    tok->nargs++;
  }
  while (p < end && blank_tab[(uint8_t)*p]) {
    p++;
  }
  tok->more_args = p < end;
}

uint32_t ep_dir_tok_count_args(const ep_dir_tok_t *tok) {
  uint32_t n = 0;
  size_t pos = 0;
  const char *a;
  size_t al;
  while (ep_dir_arg_next(tok, &pos, &a, &al)) {
    n++;
  }
  return n;
}

static int read_object(ep_dir_lexer_t *lx, ep_dir_tok_t *tok, ep_err_t *err) {
  const char *line;
  size_t len;
  size_t begin_line = lx->lineno;
  int rc = take_line(lx, &line, &len, err);
  if (rc <= 0) {
    return rc < 0 ? rc : EP_ERR_INTERNAL;
  }
  static const char bpre[] = "-----BEGIN ";
  static const char dashes[] = "-----";
  size_t bl = sizeof bpre - 1;
  if (len < bl + 5 + 1 || memcmp(line + len - 5, dashes, 5) != 0) {
    return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: malformed object BEGIN line", lx->doc,
                      begin_line);
  }
  const char *label = line + bl;
  size_t label_len = len - bl - 5;
  for (size_t i = 0; i < label_len; i++) {
    if (!is_kw_char(label[i]) && label[i] != ' ') {
      return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: bad character in object label",
                        lx->doc, begin_line);
    }
  }
  tok->has_obj = true;
  tok->obj_label = label;
  tok->obj_label_len = label_len;
  ep_reader_t start = lx->rd;
  const char *body = (const char *)start.buf + start.pos;
  size_t chars = 0;
  const size_t maxchars = ((size_t)EP_CAP_DOC_OBJECT / 3 + 1) * 4;
  for (;;) {
    size_t ln = lx->lineno;
    rc = take_line(lx, &line, &len, err);
    if (rc < 0) {
      return rc;
    }
    if (rc == 0) {
      return ep_err_set(err, EP_ERR_TRUNCATED, "%s line %zu: object '%.*s' has no END line",
                        lx->doc, begin_line, (int)(label_len > 40 ? 40 : label_len), label);
    }
    if (len >= 9 && memcmp(line, "-----END ", 9) == 0) {
      if (len != 9 + label_len + 5 || memcmp(line + 9, label, label_len) != 0 ||
          memcmp(line + len - 5, dashes, 5) != 0) {
        return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: object END line does not match BEGIN",
                          lx->doc, ln);
      }
      tok->obj_b64 = body;
      tok->obj_b64_len = (size_t)(line - body);
      tok->obj_max_len = chars / 4 * 3 + 3;
      return 0;
    }
    unsigned ok = C_B64;
    for (size_t i = 0; i < len; i++) {
      ok &= ctab[(uint8_t)line[i]];
    }
    if (ok == 0) {
      return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: bad character in object body",
                        lx->doc, ln);
    }
    chars += len;
    if (chars > maxchars) {
      return ep_err_set(err, EP_ERR_LIMIT, "%s line %zu: object larger than EP_CAP_DOC_OBJECT",
                        lx->doc, begin_line);
    }
  }
}

int ep_dir_next(ep_dir_lexer_t *lx, ep_dir_tok_t *tok, ep_err_t *err) {
  const char *line;
  size_t len;
  size_t lineno, offset;
  for (;;) {
    lineno = lx->lineno;
    offset = ep_rd_pos(&lx->rd);
    int rc = take_line(lx, &line, &len, err);
    if (rc <= 0) {
      return rc;
    }
    if (len > 0) {
      break;
    }
  }
  tok->id = EP_DIR_KW_UNKNOWN;
  tok->rule = NULL;
  tok->lineno = lineno;
  tok->offset = offset;
  tok->has_obj = false;
  tok->obj_label = NULL;
  tok->obj_label_len = 0;
  tok->obj_b64 = NULL;
  tok->obj_b64_len = 0;
  tok->obj_max_len = 0;
  size_t i = 0;
  bool annotation = false;
  if (line[0] == '@' && (lx->flags & EP_DIR_ANNOTATIONS_OK)) {
    annotation = true;
    i = 1;
  }
  if (i >= len || !is_kw_start(line[i])) {
    if (len >= 5 && memcmp(line, "-----", 5) == 0) {
      return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: object without a keyword line",
                        lx->doc, lineno);
    }
    return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: line does not start with a keyword",
                      lx->doc, lineno);
  }
  while (i < len && is_kw_char(line[i])) {
    i++;
  }
  if (i < len && !is_ws(line[i])) {
    return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: bad character in keyword", lx->doc,
                      lineno);
  }
  tok->kw = line;
  tok->kw_len = i;
  set_argstr(tok, line + i, len - i);
  if (annotation) {
    tok->id = EP_DIR_KW_ANNOTATION;
  } else if (tok->kw_len == 3 && memcmp(tok->kw, "opt", 3) == 0 && tok->argstr_len > 0) {
    /* Old documents prefix some items with "opt": the next word is the keyword. */
    ep_dir_tok_split(tok, 1);
    const char *k = tok->args[0];
    size_t kl = tok->arglen[0];
    for (size_t j = 0; j < kl; j++) {
      if (!is_kw_char(k[j])) {
        return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: bad keyword after 'opt'", lx->doc,
                          lineno);
      }
    }
    tok->kw = k;
    tok->kw_len = kl;
    set_argstr(tok, k + kl, (size_t)(line + len - (k + kl)));
  }
  if (next_line_starts(lx, "-----BEGIN ", 11)) {
    int rc = read_object(lx, tok, err);
    if (rc < 0) {
      return rc;
    }
  }
  tok->end_offset = ep_rd_pos(&lx->rd);
  return 1;
}

bool ep_dir_tok_is(const ep_dir_tok_t *tok, const char *kw) {
  size_t n = strlen(kw);
  return tok->kw_len == n && memcmp(tok->kw, kw, n) == 0;
}

int ep_dir_match(const char *doc, const ep_dir_rule_t *rules, size_t nrules, ep_dir_tok_t *tok,
                 ep_err_t *err) {
  tok->rule = NULL;
  if (tok->id == EP_DIR_KW_ANNOTATION) {
    return 0;
  }
  tok->id = EP_DIR_KW_UNKNOWN;
  const ep_dir_rule_t *r = NULL;
  /* Length and first byte rule out nearly every other entry without a call. */
  size_t kl = tok->kw_len;
  for (size_t i = 0; i < nrules; i++) {
    if (rules[i].kw_len == kl && rules[i].kw[0] == tok->kw[0] &&
        (kl == 1 || memcmp(rules[i].kw + 1, tok->kw + 1, kl - 1) == 0)) {
      r = &rules[i];
      break;
    }
  }
  if (r == NULL) {
    return 0;
  }
  return ep_dir_match_rule(doc, r, tok, err);
}

int ep_dir_match_rule(const char *doc, const ep_dir_rule_t *r, ep_dir_tok_t *tok, ep_err_t *err) {
  tok->rule = r;
  tok->id = r->id;
  /* Split as many arguments as the counts need, plus one to see more. */
  uint32_t want = r->max_args != EP_DIR_MANY ? (uint32_t)r->max_args + 1 : (uint32_t)r->min_args;
  ep_dir_tok_split(tok, want);
  if (tok->nargs < r->min_args) {
    return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: '%s' wants at least %u argument%s, has %u",
                      doc, tok->lineno, r->kw, r->min_args, r->min_args == 1 ? "" : "s",
                      (unsigned)tok->nargs);
  }
  if (r->max_args != EP_DIR_MANY && tok->nargs > r->max_args) {
    unsigned has = (unsigned)ep_dir_tok_count_args(tok);
    return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: '%s' wants at most %u argument%s, has %u",
                      doc, tok->lineno, r->kw, r->max_args, r->max_args == 1 ? "" : "s", has);
  }
  if (r->obj == EP_DIR_OBJ_REQUIRED && !tok->has_obj) {
    return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: '%s' wants an object", doc, tok->lineno,
                      r->kw);
  }
  if (r->obj == EP_DIR_OBJ_FORBIDDEN && tok->has_obj) {
    return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: '%s' takes no object", doc, tok->lineno,
                      r->kw);
  }
  return 0;
}

void ep_dir_sec_init(ep_dir_sec_t *s, const char *doc, const char *name,
                     const ep_dir_rule_t *rules, size_t nrules) {
  s->doc = doc;
  s->name = name;
  s->rules = rules;
  s->nrules = nrules < EP_DIR_MAX_RULES ? nrules : EP_DIR_MAX_RULES;
  s->start_line = 0;
  s->nitems = 0;
  s->last_id = EP_DIR_KW_UNKNOWN;
  s->last_line = 0;
  s->start_rule = -1;
  s->last_was_end = false;
  for (size_t i = 0; i < s->nrules; i++) {
    if (rules[i].pos == EP_DIR_POS_START) {
      s->start_rule = (int)i;
      break;
    }
  }
  memset(s->count, 0, sizeof s->count);
}

static size_t rule_index(const ep_dir_sec_t *s, const ep_dir_rule_t *r) {
  if (r < s->rules || r >= s->rules + s->nrules) {
    return SIZE_MAX;
  }
  return (size_t)(r - s->rules);
}

int ep_dir_sec_add(ep_dir_sec_t *s, const ep_dir_tok_t *tok, ep_err_t *err) {
  if (tok->rule == NULL) {
    return 0;
  }
  size_t idx = rule_index(s, tok->rule);
  if (idx == SIZE_MAX) {
    return ep_err_set(err, EP_ERR_INTERNAL, "%s line %zu: token matched against another table",
                      s->doc, tok->lineno);
  }
  const ep_dir_rule_t *r = tok->rule;
  if (s->nitems == 0) {
    s->start_line = tok->lineno;
  }
  if (r->pos == EP_DIR_POS_START && s->nitems != 0) {
    return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: '%s' must come first in the %s", s->doc,
                      tok->lineno, r->kw, s->name);
  }
  if (s->nitems == 0 && s->start_rule >= 0 && (size_t)s->start_rule != idx) {
    /* A section whose table has a START rule must begin with it. */
    return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: the %s must start with '%s', not '%s'",
                      s->doc, tok->lineno, s->name, s->rules[s->start_rule].kw, r->kw);
  }
  if (s->last_was_end) {
    return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: '%s' after the item that must be last",
                      s->doc, tok->lineno, r->kw);
  }
  if (s->count[idx] < UINT16_MAX) {
    s->count[idx]++;
  }
  if (r->max_n != EP_DIR_MANY && s->count[idx] > r->max_n) {
    if (r->max_n == 1) {
      return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: '%s' may appear only once in the %s",
                        s->doc, tok->lineno, r->kw, s->name);
    }
    return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: '%s' may appear at most %u times in the %s",
                      s->doc, tok->lineno, r->kw, r->max_n, s->name);
  }
  s->nitems++;
  s->last_id = r->id;
  s->last_line = tok->lineno;
  s->last_was_end = r->pos == EP_DIR_POS_END;
  return 0;
}

int ep_dir_sec_finish(ep_dir_sec_t *s, size_t line, ep_err_t *err) {
  for (size_t i = 0; i < s->nrules; i++) {
    const ep_dir_rule_t *r = &s->rules[i];
    if (s->count[i] < r->min_n) {
      size_t at = s->nitems > 0 ? s->start_line : line;
      if (r->min_n == 1) {
        return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: the %s has no '%s' item", s->doc, at,
                          s->name, r->kw);
      }
      return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: the %s wants at least %u '%s' items",
                        s->doc, at, s->name, r->min_n, r->kw);
    }
    if (r->pos == EP_DIR_POS_END && s->count[i] > 0 && s->last_id != r->id) {
      return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: '%s' must be the last item of the %s",
                        s->doc, s->last_line, r->kw, s->name);
    }
  }
  return 0;
}

bool ep_dir_arg_next(const ep_dir_tok_t *tok, size_t *pos, const char **arg, size_t *len) {
  const char *s = tok->argstr;
  size_t n = tok->argstr_len;
  size_t i = *pos;
  while (i < n && is_ws(s[i])) {
    i++;
  }
  if (i >= n) {
    *pos = n;
    return false;
  }
  size_t a = i;
  i = (size_t)(find_blank(s + i, s + n) - s);
  *arg = s + a;
  *len = i - a;
  *pos = i;
  return true;
}

bool ep_dir_arg_eq(const ep_dir_tok_t *tok, uint32_t i, const char *s) {
  if (i >= tok->nargs || i >= EP_DIR_MAX_ARGS) {
    return false;
  }
  size_t n = strlen(s);
  return tok->arglen[i] == n && memcmp(tok->args[i], s, n) == 0;
}

int ep_dir_parse_uint(const char *s, size_t n, uint64_t max, uint64_t *out) {
  if (n == 0 || n > 20) {
    return -1;
  }
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') {
      return -1;
    }
    uint64_t d = (uint64_t)(s[i] - '0');
    if (v > (max - d) / 10) {
      return -1;
    }
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}

int ep_dir_parse_range(const char *s, size_t n, uint64_t max, uint64_t *lo, uint64_t *hi) {
  const char *dash = memchr(s, '-', n);
  if (dash == NULL) {
    if (ep_dir_parse_uint(s, n, max, lo) < 0) {
      return -1;
    }
    *hi = *lo;
    return 0;
  }
  size_t l1 = (size_t)(dash - s);
  if (ep_dir_parse_uint(s, l1, max, lo) < 0 || ep_dir_parse_uint(dash + 1, n - l1 - 1, max, hi) < 0) {
    return -1;
  }
  return 0;
}

int ep_dir_arg_uint(const ep_dir_tok_t *tok, uint32_t i, uint64_t max, uint64_t *out) {
  if (i >= tok->nargs || i >= EP_DIR_MAX_ARGS) {
    return -1;
  }
  return ep_dir_parse_uint(tok->args[i], tok->arglen[i], max, out);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (y >= 1970). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = y / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static int two(const char *s, unsigned *out) {
  if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9') {
    return -1;
  }
  *out = (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
  return 0;
}

int ep_dir_arg_time(const ep_dir_tok_t *tok, uint32_t i, time_t *out) {
  if (i + 1 >= tok->nargs || i + 1 >= EP_DIR_MAX_ARGS) {
    return -1;
  }
  if (tok->arglen[i] != 10 || tok->arglen[i + 1] != 8 || tok->args[i + 1] != tok->args[i] + 11) {
    return -1;
  }
  /* "YYYY-MM-DD HH:MM:SS", UTC */
  const char *s = tok->args[i];
  unsigned yh, yl, mo, d, h, mi, se;
  if (two(s, &yh) < 0 || two(s + 2, &yl) < 0 || s[4] != '-' || two(s + 5, &mo) < 0 || s[7] != '-' ||
      two(s + 8, &d) < 0 || two(s + 11, &h) < 0 || s[13] != ':' || two(s + 14, &mi) < 0 ||
      s[16] != ':' || two(s + 17, &se) < 0) {
    return -1;
  }
  unsigned y = yh * 100 + yl;
  static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 60) {
    return -1;
  }
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (mo == 2 && d == 29 && !leap) {
    return -1;
  }
  int64_t t = days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + se;
  *out = (time_t)t;
  return 0;
}

int ep_dir_arg_hex(const ep_dir_tok_t *tok, uint32_t i, uint8_t *out, size_t n) {
  if (i >= tok->nargs || i >= EP_DIR_MAX_ARGS || tok->arglen[i] != 2 * n) {
    return -1;
  }
  return ep_hex_decode(out, n, tok->args[i], tok->arglen[i]) == (ssize_t)n ? 0 : -1;
}

int ep_dir_arg_b64(const ep_dir_tok_t *tok, uint32_t i, uint8_t *out, size_t n) {
  if (i >= tok->nargs || i >= EP_DIR_MAX_ARGS) {
    return -1;
  }
  size_t l = tok->arglen[i];
  const char *s = tok->args[i];
  size_t want = (n * 4 + 2) / 3; /* unpadded length */
  size_t padded = (n + 2) / 3 * 4;
  if (l == padded && padded != want) {
    for (size_t j = want; j < padded; j++) {
      if (s[j] != '=') {
        return -1;
      }
    }
    l = want;
  }
  if (l != want) {
    return -1;
  }
  /* Exactly n bytes from exactly ceil(4n/3) characters: anything the
   * decoder would skip or stop at (whitespace, '=') leaves it short. */
  return ep_base64_decode(out, n, s, l) == (ssize_t)n ? 0 : -1;
}

int ep_dir_parse_ipv4(const char *s, size_t n, uint32_t *out) {
  uint32_t v = 0;
  size_t i = 0;
  for (int part = 0; part < 4; part++) {
    if (part > 0) {
      if (i >= n || s[i] != '.') {
        return -1;
      }
      i++;
    }
    size_t a = i;
    uint32_t o = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9' && i - a < 3) {
      o = o * 10 + (uint32_t)(s[i] - '0');
      i++;
    }
    if (i == a || o > 255 || (i - a > 1 && s[a] == '0')) {
      return -1;
    }
    v = v << 8 | o;
  }
  if (i != n) {
    return -1;
  }
  *out = v;
  return 0;
}

/* Hex digit values plus one; 0 for anything else. */
static const uint8_t hex1[256] = {
    ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8,
    ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15,
    ['f'] = 16, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

/* RFC 4291 §2.2 text, as inet_pton(AF_INET6) accepts it: up to eight groups
 * of 1-4 hex digits separated by ':', one "::" standing for at least one
 * zero group, optionally ending in a dotted quad (ep_dir_parse_ipv4's rules)
 * in place of the last two groups. Bounded by n; no NUL termination needed
 * (a NUL byte is refused like any other foreign character). */
int ep_dir_parse_ipv6(const char *s, size_t n, uint8_t out[16]) {
  uint16_t g[8];
  size_t ng = 0;       /* groups so far */
  size_t gap = SIZE_MAX; /* where "::" stands, as a group index */
  size_t i = 0;
  if (n == 0 || n > 45) {
    return -1; /* the longest literal: 6 groups of 4 and a dotted quad */
  }
  if (s[0] == ':') {
    if (n < 2 || s[1] != ':') {
      return -1;
    }
    gap = 0;
    i = 2;
  }
  while (i < n) {
    size_t a = i;
    uint32_t v = 0;
    unsigned d;
    while (i < n && i - a < 5 && (d = hex1[(uint8_t)s[i]]) != 0) {
      v = v << 4 | (d - 1);
      i++;
    }
    if (i - a > 4) {
      return -1;
    }
    if (i < n && s[i] == '.') {
      /* a dotted quad: the rest of the text, two groups */
      uint32_t v4;
      if (ng > 6 || ep_dir_parse_ipv4(s + a, n - a, &v4) < 0) {
        return -1;
      }
      g[ng++] = (uint16_t)(v4 >> 16);
      g[ng++] = (uint16_t)v4;
      break;
    }
    if (i == a || ng == 8) {
      return -1;
    }
    g[ng++] = (uint16_t)v;
    if (i == n) {
      break;
    }
    if (s[i] != ':' || i + 1 == n) {
      return -1; /* a foreign character, or a single ':' at the end */
    }
    i++;
    if (s[i] == ':') {
      if (gap != SIZE_MAX) {
        return -1; /* a second "::" */
      }
      gap = ng;
      i++;
    }
  }
  if (gap == SIZE_MAX ? ng != 8 : ng > 7) {
    return -1;
  }
  /* the groups before the gap, zeros, the groups after it */
  size_t before = gap == SIZE_MAX ? ng : gap;
  memset(out, 0, 16);
  for (size_t j = 0; j < ng; j++) {
    size_t at = j < before ? j : j + (8 - ng);
    out[2 * at] = (uint8_t)(g[j] >> 8);
    out[2 * at + 1] = (uint8_t)g[j];
  }
  return 0;
}

int ep_dir_parse_addrport(const char *s, size_t n, int *family, uint8_t addr[16], uint16_t *port) {
  const char *colon = NULL;
  size_t alen;
  const char *a;
  if (n > 0 && s[0] == '[') {
    const char *close = memchr(s, ']', n);
    if (close == NULL || (size_t)(close - s) + 1 >= n || close[1] != ':') {
      return -1;
    }
    a = s + 1;
    alen = (size_t)(close - a);
    colon = close + 1;
    if (ep_dir_parse_ipv6(a, alen, addr) < 0) {
      return -1;
    }
    *family = 6;
  } else {
    for (size_t i = n; i > 0; i--) {
      if (s[i - 1] == ':') {
        colon = s + i - 1;
        break;
      }
    }
    if (colon == NULL) {
      return -1;
    }
    uint32_t v4;
    if (ep_dir_parse_ipv4(s, (size_t)(colon - s), &v4) < 0) {
      return -1;
    }
    memset(addr, 0, 16);
    addr[0] = (uint8_t)(v4 >> 24);
    addr[1] = (uint8_t)(v4 >> 16);
    addr[2] = (uint8_t)(v4 >> 8);
    addr[3] = (uint8_t)v4;
    *family = 4;
  }
  uint64_t p;
  const char *ps = colon + 1;
  if (ep_dir_parse_uint(ps, (size_t)(s + n - ps), 65535, &p) < 0 || p == 0) {
    return -1;
  }
  *port = (uint16_t)p;
  return 0;
}

bool ep_dir_nickname_ok(const char *s, size_t n) {
  if (n == 0 || n > 19) {
    return false;
  }
  for (size_t i = 0; i < n; i++) {
    if (!is_kw_start(s[i])) {
      return false;
    }
  }
  return true;
}

/* What ep_dir_obj_decode and ep_dir_obj_check share: the object is there,
 * has the label and fits in cap bytes (by its length in characters). */
static int obj_precheck(const char *doc, const ep_dir_tok_t *tok, const char *label, size_t cap,
                        ep_err_t *err) {
  if (!tok->has_obj) {
    return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: '%.*s' has no object", doc, tok->lineno,
                      (int)(tok->kw_len > 40 ? 40 : tok->kw_len), tok->kw);
  }
  if (label != NULL) {
    size_t ll = strlen(label);
    if (tok->obj_label_len != ll || memcmp(tok->obj_label, label, ll) != 0) {
      return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: object is '%.*s', wanted '%s'", doc,
                        tok->lineno, (int)(tok->obj_label_len > 40 ? 40 : tok->obj_label_len),
                        tok->obj_label, label);
    }
  }
  if (tok->obj_max_len > cap + 3) {
    return ep_err_set(err, EP_ERR_LIMIT, "%s line %zu: object too large (%zu bytes, at most %zu)",
                      doc, tok->lineno, tok->obj_max_len, cap);
  }
  return 0;
}

int ep_dir_obj_decode(const char *doc, const ep_dir_tok_t *tok, const char *label, uint8_t *out,
                      size_t cap, ep_err_t *err) {
  int rc = obj_precheck(doc, tok, label, cap, err);
  if (rc < 0) {
    return rc;
  }
  ssize_t got = ep_base64_decode(out, cap, tok->obj_b64, tok->obj_b64_len);
  if (got < 0) {
    return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: object is not valid base64", doc,
                      tok->lineno);
  }
  return (int)got;
}

int ep_dir_obj_check(const char *doc, const ep_dir_tok_t *tok, const char *label, size_t cap,
                     ep_err_t *err) {
  int rc = obj_precheck(doc, tok, label, cap, err);
  if (rc < 0) {
    return rc;
  }
  ssize_t got = ep_base64_check(tok->obj_b64, tok->obj_b64_len, cap);
  if (got < 0) {
    return ep_err_set(err, EP_ERR_MALFORMED, "%s line %zu: object is not valid base64", doc,
                      tok->lineno);
  }
  return (int)got;
}

const char *ep_dir_esc(char *buf, size_t cap, const char *s, size_t n) {
  return ep_escape_text(buf, cap, s, n > 40 ? 40 : n);
}

char *ep_dir_copy_text(const char *doc, const char *text, size_t len, size_t cap,
                       const char *cap_name, ep_err_t *err) {
  if (len > cap) {
    ep_err_set(err, EP_ERR_LIMIT, "%s: %zu bytes exceeds %s", doc, len, cap_name);
    return NULL;
  }
  char *copy = malloc(len + 1);
  if (copy == NULL) {
    ep_err_set(err, EP_ERR_NOMEM, "%s: out of memory", doc);
    return NULL;
  }
  memcpy(copy, text, len);
  copy[len] = '\0';
  return copy;
}

void *ep_dir_new_with_text(const char *doc, size_t size, const char *text, size_t len, size_t cap,
                           const char *cap_name, char **copy, ep_err_t *err) {
  *copy = ep_dir_copy_text(doc, text, len, cap, cap_name, err);
  if (*copy == NULL) {
    return NULL;
  }
  void *o = calloc(1, size);
  if (o == NULL) {
    free(*copy);
    *copy = NULL;
    ep_err_set(err, EP_ERR_NOMEM, "%s: out of memory", doc);
  }
  return o;
}

size_t ep_dir_type_annotation_len(const char *text, size_t len) {
  if (len < 6 || memcmp(text, "@type ", 6) != 0) {
    return 0;
  }
  size_t window = len < (size_t)EP_CAP_DOC_LINE ? len : (size_t)EP_CAP_DOC_LINE;
  const char *nl = memchr(text, '\n', window);
  return nl == NULL ? 0 : (size_t)(nl - text) + 1;
}
