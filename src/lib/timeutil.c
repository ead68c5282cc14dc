/* exitprobe — time parsing and clocks. */
#include "config.h"

#include "lib/timeutil.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int digits(const char *s, size_t n, int *out) {
  int v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') {
      return -1;
    }
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return 0;
}

static int parse_fields(const char *s, size_t n, char sep, time_t *out) {
  /* YYYY-MM-DD?HH:MM:SS */
  if (n < 19 || s[4] != '-' || s[7] != '-' || s[10] != sep || s[13] != ':' || s[16] != ':') {
    return -1;
  }
  int y, mo, d, h, mi, se;
  if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
      digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &se)) {
    return -1;
  }
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) {
    return -1;
  }
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = se;
  time_t t = timegm(&tm);
  if (t == (time_t)-1) {
    return -1;
  }
  *out = t;
  return 0;
}

int ep_time_parse_tor(const char *s, size_t n, time_t *out) {
  if (n != 19) {
    return -1;
  }
  return parse_fields(s, n, ' ', out);
}

int ep_time_parse_any(const char *s, time_t *out) {
  size_t n = strlen(s);
  if (n > 1 && s[0] == '@') {
    char *end;
    long long v = strtoll(s + 1, &end, 10);
    if (*end != '\0' || v < 0) {
      return -1;
    }
    *out = (time_t)v;
    return 0;
  }
  if (n == 19) {
    return parse_fields(s, n, s[10] == 'T' ? 'T' : ' ', out);
  }
  if (n == 20 && (s[19] == 'Z' || s[19] == 'z')) {
    return parse_fields(s, 19, 'T', out);
  }
  return -1;
}

void ep_time_format_tor(char *out, size_t outcap, time_t t) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, outcap, "%Y-%m-%d %H:%M:%S", &tm);
}

void ep_time_format_iso(char *out, size_t outcap, time_t t) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, outcap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int ep_duration_parse(const char *s, int64_t *ms) {
  int64_t total = 0;
  const char *p = s;
  if (*p == '\0') {
    return -1;
  }
  while (*p != '\0') {
    if (!isdigit((unsigned char)*p)) {
      return -1;
    }
    int64_t v = 0;
    while (isdigit((unsigned char)*p)) {
      v = v * 10 + (*p - '0');
      if (v > 1000000000) {
        return -1;
      }
      p++;
    }
    int64_t unit;
    if (strncmp(p, "ms", 2) == 0) {
      unit = 1;
      p += 2;
    } else if (*p == 's') {
      unit = 1000;
      p++;
    } else if (*p == 'm') {
      unit = 60000;
      p++;
    } else if (*p == 'h') {
      unit = 3600000;
      p++;
    } else if (*p == 'd') {
      unit = 86400000;
      p++;
    } else if (*p == '\0') {
      unit = 1000; /* bare number: seconds */
    } else {
      return -1;
    }
    total += v * unit;
  }
  *ms = total;
  return 0;
}

int64_t ep_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

time_t ep_wall_now(void) { return time(NULL); }
