/* exitprobe — a small bounded JSON reader (test vectors, result files for
 * `report`, manifests) and JSON string writing for JSON Lines output.
 * Input is hostile: depth and size are capped, numbers are doubles plus an
 * exact int64 when they are integers, strings are UTF-8 as given (\u escapes
 * decoded; NUL in a string is kept, len says how long). */
#ifndef EP_LIB_JSON_H
#define EP_LIB_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/err.h"

typedef enum ep_json_type {
  EP_JSON_NULL, EP_JSON_BOOL, EP_JSON_NUMBER, EP_JSON_STRING, EP_JSON_ARRAY, EP_JSON_OBJECT
} ep_json_type_t;

typedef struct ep_json ep_json_t;

/* Parse one JSON value (surrounding whitespace allowed, nothing else). */
ep_json_t *ep_json_parse(const char *text, size_t len, ep_err_t *err);
void ep_json_free(ep_json_t *v);                  /* NULL-safe, frees the tree */

ep_json_type_t ep_json_type(const ep_json_t *v);  /* NULL → EP_JSON_NULL */
/* Object member by key (NULL if absent or v not an object). */
const ep_json_t *ep_json_get(const ep_json_t *v, const char *key);
/* Array element / object member value by index; count of either. */
size_t ep_json_count(const ep_json_t *v);
const ep_json_t *ep_json_at(const ep_json_t *v, size_t i);
const char *ep_json_key_at(const ep_json_t *v, size_t i);
/* Accessors return a fallback when the type does not match. */
const char *ep_json_str(const ep_json_t *v, size_t *len);   /* NULL if not a string */
double ep_json_num(const ep_json_t *v, double fallback);
bool ep_json_int(const ep_json_t *v, int64_t *out);          /* exact integer only */
bool ep_json_bool(const ep_json_t *v, bool fallback);
/* Shortcut: string member `key` of object v, or NULL. */
const char *ep_json_get_str(const ep_json_t *v, const char *key);

/* Append s (n bytes) as a quoted JSON string: control bytes, quotes and
 * backslashes escaped; bytes that are not valid UTF-8 become \u00XX of the
 * byte value so the output is always valid JSON. */
int ep_json_put_str(ep_buf_t *out, const void *s, size_t n, ep_err_t *err);

#endif
