/* exitprobe — the one name-table helper. */
#include "config.h"

#include "lib/names.h"

#include <stdio.h>
#include <string.h>

const char *ep_name_of(const ep_name_t *table, size_t n, unsigned value) {
  return ep_name_or(table, n, value, NULL);
}

const char *ep_name_or(const ep_name_t *table, size_t n, unsigned value, const char *fallback) {
  for (size_t i = 0; i < n; i++) {
    if (table[i].value == value) {
      return table[i].name;
    }
  }
  return fallback;
}

const char *ep_name_format(char *buf, size_t cap, const ep_name_t *table, size_t n, unsigned value,
                           const char *prefix) {
  const char *name = ep_name_of(table, n, value);
  if (name != NULL) {
    snprintf(buf, cap, "%s", name);
  } else {
    snprintf(buf, cap, "%s%u", prefix, value);
  }
  return buf;
}

int ep_name_value(const ep_name_t *table, size_t n, const char *name, unsigned *value) {
  for (size_t i = 0; i < n; i++) {
    if (strcmp(table[i].name, name) == 0) {
      *value = table[i].value;
      return 0;
    }
  }
  return -1;
}
