/* exitprobe — the one name-table helper: codes (commands, reasons) and
 * their names, both ways.
 *
 *   static const ep_name_t reasons[] = {{1, "misc"}, {2, "resolvefailed"}};
 *   ep_name_of(reasons, EP_NAMES_N(reasons), 2)           -> "resolvefailed"
 *   ep_name_of(reasons, EP_NAMES_N(reasons), 99)          -> NULL
 *   ep_name_format(buf, cap, reasons, EP_NAMES_N(reasons), 99, "reason-") -> "reason-99"
 *   ep_name_value(reasons, EP_NAMES_N(reasons), "misc", &v) -> 0, v = 1
 *
 * Tables are small and static; lookups are linear (a few dozen entries). */
#ifndef EP_LIB_NAMES_H
#define EP_LIB_NAMES_H

#include <stddef.h>

typedef struct ep_name {
  unsigned value;
  const char *name;
} ep_name_t;

#define EP_NAMES_N(table) (sizeof(table) / sizeof((table)[0]))

/* The name of value, or NULL if the table does not have it. */
const char *ep_name_of(const ep_name_t *table, size_t n, unsigned value);
/* The name of value, or the caller's fallback (may be NULL) if unknown. */
const char *ep_name_or(const ep_name_t *table, size_t n, unsigned value, const char *fallback);
/* The name, or prefix followed by the number ("reason-17"), into buf;
 * returns buf. */
const char *ep_name_format(char *buf, size_t cap, const ep_name_t *table, size_t n, unsigned value,
                           const char *prefix);
/* The value named name (exact match): 0 and *value set, or -1. */
int ep_name_value(const ep_name_t *table, size_t n, const char *name, unsigned *value);

#endif
