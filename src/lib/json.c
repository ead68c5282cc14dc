/* exitprobe — a small bounded JSON reader and JSON string writer. */
#include "config.h"

#include "lib/json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/caps.h"
#include "lib/vec.h"

struct ep_json {
  ep_json_type_t type;
  bool b;
  double num;
  bool is_int;
  int64_t ival;
  char *str;           /* STRING: value (NUL-terminated, may contain NULs) */
  size_t len;
  size_t count;        /* ARRAY/OBJECT: number of items */
  size_t alloc;
  char **keys;         /* OBJECT: keys */
  ep_json_t **items;   /* ARRAY/OBJECT: values */
};

typedef struct {
  const char *s;
  size_t n;
  size_t pos;
  size_t line;
  ep_err_t *err;
} jp_t;

static ep_json_t *parse_value(jp_t *p, unsigned depth);

static int fail(jp_t *p, const char *what) {
  return ep_err_set(p->err, EP_ERR_MALFORMED, "json line %zu (byte %zu): %s", p->line, p->pos,
                    what);
}

static void skip_ws(jp_t *p) {
  while (p->pos < p->n) {
    char c = p->s[p->pos];
    if (c == '\n') {
      p->line++;
    } else if (c != ' ' && c != '\t' && c != '\r') {
      break;
    }
    p->pos++;
  }
}

static ep_json_t *new_node(jp_t *p, ep_json_type_t t) {
  ep_json_t *v = calloc(1, sizeof *v);
  if (v == NULL) {
    ep_err_set(p->err, EP_ERR_NOMEM, "json: out of memory");
    return NULL;
  }
  v->type = t;
  return v;
}

void ep_json_free(ep_json_t *v) {
  if (v == NULL) {
    return;
  }
  for (size_t i = 0; i < v->count; i++) {
    ep_json_free(v->items[i]);
    if (v->keys != NULL) {
      free(v->keys[i]);
    }
  }
  free(v->items);
  free(v->keys);
  free(v->str);
  free(v);
}

static int hex4(jp_t *p, unsigned *out) {
  if (p->n - p->pos < 4) {
    return fail(p, "truncated \\u escape");
  }
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p->s[p->pos++];
    v <<= 4;
    if (c >= '0' && c <= '9') {
      v |= (unsigned)(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      v |= (unsigned)(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      v |= (unsigned)(c - 'A' + 10);
    } else {
      return fail(p, "bad hex digit in \\u escape");
    }
  }
  *out = v;
  return 0;
}

static size_t put_utf8(char *o, unsigned cp) {
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  } else if (cp < 0x800) {
    o[0] = (char)(0xc0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
  } else if (cp < 0x10000) {
    o[0] = (char)(0xe0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  o[0] = (char)(0xf0 | (cp >> 18));
  o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
  o[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

/* Parses a string at p->pos (which is at the opening quote). */
static char *parse_string(jp_t *p, size_t *lenp) {
  p->pos++; /* opening quote */
  size_t start = p->pos;
  /* The decoded string is never longer than the raw text. */
  size_t end = start;
  while (end < p->n && p->s[end] != '"') {
    end += (p->s[end] == '\\') ? 2 : 1;
  }
  if (end >= p->n) {
    fail(p, "unterminated string");
    return NULL;
  }
  char *out = malloc(end - start + 1);
  if (out == NULL) {
    ep_err_set(p->err, EP_ERR_NOMEM, "json: out of memory");
    return NULL;
  }
  size_t o = 0;
  while (p->pos < p->n && p->s[p->pos] != '"') {
    unsigned char c = (unsigned char)p->s[p->pos++];
    if (c < 0x20) {
      fail(p, "control character in string");
      free(out);
      return NULL;
    }
    if (c != '\\') {
      out[o++] = (char)c;
      continue;
    }
    if (p->pos >= p->n) {
      break;
    }
    char e = p->s[p->pos++];
    unsigned cp;
    switch (e) {
      case '"': out[o++] = '"'; break;
      case '\\': out[o++] = '\\'; break;
      case '/': out[o++] = '/'; break;
      case 'b': out[o++] = '\b'; break;
      case 'f': out[o++] = '\f'; break;
      case 'n': out[o++] = '\n'; break;
      case 'r': out[o++] = '\r'; break;
      case 't': out[o++] = '\t'; break;
      case 'u':
        if (hex4(p, &cp) != 0) {
          free(out);
          return NULL;
        }
        if (cp >= 0xd800 && cp < 0xdc00 && p->n - p->pos >= 6 && p->s[p->pos] == '\\' &&
            p->s[p->pos + 1] == 'u') {
          unsigned lo;
          p->pos += 2;
          if (hex4(p, &lo) != 0) {
            free(out);
            return NULL;
          }
          if (lo >= 0xdc00 && lo < 0xe000) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          } else {
            o += put_utf8(out + o, 0xfffd);
            cp = lo;
          }
        }
        /* a lone surrogate is no character: U+FFFD (findings). U+0000 is
         * kept (ep_json_str gives the length; our writer escapes NUL bytes
         * of banners so) */
        if (cp >= 0xd800 && cp < 0xe000) {
          cp = 0xfffd;
        }
        /* \uXXXX is 6 raw chars, its UTF-8 at most 3 (4 for a pair of 12). */
        o += put_utf8(out + o, cp);
        break;
      default:
        fail(p, "bad escape in string");
        free(out);
        return NULL;
    }
  }
  if (p->pos >= p->n) {
    fail(p, "unterminated string");
    free(out);
    return NULL;
  }
  p->pos++; /* closing quote */
  out[o] = '\0';
  *lenp = o;
  return out;
}

static int add_item(jp_t *p, ep_json_t *v, char *key, ep_json_t *item) {
  /* items and keys grow together from the same count to the same size;
   * v->alloc is what both hold. */
  size_t ia = v->alloc, ka = v->alloc;
  int rc = EP_VEC_RESERVE(v->items, ia, v->count + 1, EP_CAP_JSON_ITEMS, "json items", p->err);
  if (rc == EP_OK && v->type == EP_JSON_OBJECT) {
    rc = EP_VEC_RESERVE(v->keys, ka, v->count + 1, EP_CAP_JSON_ITEMS, "json keys", p->err);
  }
  if (rc != EP_OK) {
    return rc;
  }
  v->alloc = ia;
  v->items[v->count] = item;
  if (v->type == EP_JSON_OBJECT) {
    v->keys[v->count] = key;
  }
  v->count++;
  return 0;
}

static ep_json_t *parse_container(jp_t *p, unsigned depth, bool obj) {
  ep_json_t *v = new_node(p, obj ? EP_JSON_OBJECT : EP_JSON_ARRAY);
  if (v == NULL) {
    return NULL;
  }
  p->pos++; /* [ or { */
  skip_ws(p);
  char close = obj ? '}' : ']';
  if (p->pos < p->n && p->s[p->pos] == close) {
    p->pos++;
    return v;
  }
  for (;;) {
    char *key = NULL;
    size_t klen;
    skip_ws(p);
    if (obj) {
      if (p->pos >= p->n || p->s[p->pos] != '"') {
        fail(p, "expected a string key");
        goto bad;
      }
      key = parse_string(p, &klen);
      if (key == NULL) {
        goto bad;
      }
      skip_ws(p);
      if (p->pos >= p->n || p->s[p->pos] != ':') {
        free(key);
        fail(p, "expected ':'");
        goto bad;
      }
      p->pos++;
    }
    ep_json_t *item = parse_value(p, depth + 1);
    if (item == NULL || add_item(p, v, key, item) != 0) {
      free(key);
      ep_json_free(item);
      goto bad;
    }
    skip_ws(p);
    if (p->pos < p->n && p->s[p->pos] == ',') {
      p->pos++;
      continue;
    }
    if (p->pos < p->n && p->s[p->pos] == close) {
      p->pos++;
      return v;
    }
    fail(p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
    goto bad;
  }
bad:
  ep_json_free(v);
  return NULL;
}

static ep_json_t *parse_number(jp_t *p) {
  size_t start = p->pos;
  if (p->s[p->pos] == '-') {
    p->pos++;
  }
  bool integral = true;
  size_t digits = 0;
  while (p->pos < p->n) {
    char c = p->s[p->pos];
    if (c >= '0' && c <= '9') {
      digits++;
    } else if (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
      integral = false;
    } else {
      break;
    }
    p->pos++;
  }
  char tmp[64];
  size_t len = p->pos - start;
  if (digits == 0 || len >= sizeof tmp) {
    fail(p, "bad number");
    return NULL;
  }
  memcpy(tmp, p->s + start, len);
  tmp[len] = '\0';
  char *end;
  double d = strtod(tmp, &end);
  if (*end != '\0' || !isfinite(d)) {
    fail(p, "bad number");
    return NULL;
  }
  ep_json_t *v = new_node(p, EP_JSON_NUMBER);
  if (v == NULL) {
    return NULL;
  }
  v->num = d;
  if (integral && len <= 20) {
    errno = 0;
    v->ival = strtoll(tmp, &end, 10);
    v->is_int = (*end == '\0' && errno == 0); /* ERANGE: not an exact int64 */
  }
  return v;
}

static ep_json_t *parse_value(jp_t *p, unsigned depth) {
  if (depth > EP_CAP_JSON_DEPTH) {
    ep_err_set(p->err, EP_ERR_LIMIT, "json line %zu: nested deeper than %u", p->line,
               EP_CAP_JSON_DEPTH);
    return NULL;
  }
  skip_ws(p);
  if (p->pos >= p->n) {
    fail(p, "unexpected end of input");
    return NULL;
  }
  char c = p->s[p->pos];
  if (c == '{' || c == '[') {
    return parse_container(p, depth, c == '{');
  }
  if (c == '"') {
    size_t len;
    char *s = parse_string(p, &len);
    if (s == NULL) {
      return NULL;
    }
    ep_json_t *v = new_node(p, EP_JSON_STRING);
    if (v == NULL) {
      free(s);
      return NULL;
    }
    v->str = s;
    v->len = len;
    return v;
  }
  if (c == '-' || (c >= '0' && c <= '9')) {
    return parse_number(p);
  }
  static const struct {
    const char *word;
    ep_json_type_t t;
    bool b;
  } words[] = {{"true", EP_JSON_BOOL, true}, {"false", EP_JSON_BOOL, false}, {"null", EP_JSON_NULL, false}};
  for (size_t i = 0; i < 3; i++) {
    size_t wl = strlen(words[i].word);
    if (p->n - p->pos >= wl && memcmp(p->s + p->pos, words[i].word, wl) == 0) {
      p->pos += wl;
      ep_json_t *v = new_node(p, words[i].t);
      if (v != NULL) {
        v->b = words[i].b;
      }
      return v;
    }
  }
  fail(p, "unexpected character");
  return NULL;
}

ep_json_t *ep_json_parse(const char *text, size_t len, ep_err_t *err) {
  if (len > EP_CAP_JSON_INPUT) {
    ep_err_set(err, EP_ERR_LIMIT, "json: %zu bytes exceeds the cap of %u", len, EP_CAP_JSON_INPUT);
    return NULL;
  }
  jp_t p = {text, len, 0, 1, err};
  ep_json_t *v = parse_value(&p, 0);
  if (v == NULL) {
    return NULL;
  }
  skip_ws(&p);
  if (p.pos != p.n) {
    fail(&p, "trailing characters after the value");
    ep_json_free(v);
    return NULL;
  }
  return v;
}

ep_json_type_t ep_json_type(const ep_json_t *v) { return v != NULL ? v->type : EP_JSON_NULL; }

const ep_json_t *ep_json_get(const ep_json_t *v, const char *key) {
  if (v == NULL || v->type != EP_JSON_OBJECT) {
    return NULL;
  }
  for (size_t i = 0; i < v->count; i++) {
    if (strcmp(v->keys[i], key) == 0) {
      return v->items[i];
    }
  }
  return NULL;
}

size_t ep_json_count(const ep_json_t *v) {
  return (v != NULL && (v->type == EP_JSON_ARRAY || v->type == EP_JSON_OBJECT)) ? v->count : 0;
}

const ep_json_t *ep_json_at(const ep_json_t *v, size_t i) {
  return i < ep_json_count(v) ? v->items[i] : NULL;
}

const char *ep_json_key_at(const ep_json_t *v, size_t i) {
  return (v != NULL && v->type == EP_JSON_OBJECT && i < v->count) ? v->keys[i] : NULL;
}

const char *ep_json_str(const ep_json_t *v, size_t *len) {
  if (v == NULL || v->type != EP_JSON_STRING) {
    return NULL;
  }
  if (len != NULL) {
    *len = v->len;
  }
  return v->str;
}

double ep_json_num(const ep_json_t *v, double fallback) {
  return (v != NULL && v->type == EP_JSON_NUMBER) ? v->num : fallback;
}

bool ep_json_int(const ep_json_t *v, int64_t *out) {
  if (v == NULL || v->type != EP_JSON_NUMBER || !v->is_int) {
    return false;
  }
  *out = v->ival;
  return true;
}

bool ep_json_bool(const ep_json_t *v, bool fallback) {
  return (v != NULL && v->type == EP_JSON_BOOL) ? v->b : fallback;
}

const char *ep_json_get_str(const ep_json_t *v, const char *key) {
  return ep_json_str(ep_json_get(v, key), NULL);
}

/* Length of a valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_len(const uint8_t *s, size_t n) {
  uint8_t c = s[0];
  size_t len;
  uint32_t cp;
  if (c < 0x80) {
    return 1;
  } else if ((c & 0xe0) == 0xc0) {
    len = 2;
    cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    len = 3;
    cp = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (len > n) {
    return 0;
  }
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80) {
      return 0;
    }
    cp = cp << 6 | (s[i] & 0x3f);
  }
  if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
      cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) {
    return 0;
  }
  return len;
}

int ep_json_put_str(ep_buf_t *out, const void *sv, size_t n, ep_err_t *err) {
  const uint8_t *s = sv;
  int rc = ep_buf_append(out, "\"", 1, err);
  for (size_t i = 0; i < n && rc == EP_OK;) {
    uint8_t c = s[i];
    char esc[8];
    if (c == '"' || c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)c;
      rc = ep_buf_append(out, esc, 2, err);
      i++;
    } else if (c < 0x20 || c == 0x7f) {
      snprintf(esc, sizeof esc, "\\u%04x", c);
      rc = ep_buf_append(out, esc, 6, err);
      i++;
    } else if (c < 0x80) {
      /* A run of characters that need no escape goes out in one append. */
      size_t j = i + 1;
      while (j < n && s[j] >= 0x20 && s[j] < 0x7f && s[j] != '"' && s[j] != '\\') {
        j++;
      }
      rc = ep_buf_append(out, &s[i], j - i, err);
      i = j;
    } else {
      size_t l = utf8_len(s + i, n - i);
      if (l == 0) {
        snprintf(esc, sizeof esc, "\\u%04x", c);
        rc = ep_buf_append(out, esc, 6, err);
        i++;
      } else {
        rc = ep_buf_append(out, s + i, l, err);
        i += l;
      }
    }
  }
  if (rc == EP_OK) {
    rc = ep_buf_append(out, "\"", 1, err);
  }
  return rc;
}
