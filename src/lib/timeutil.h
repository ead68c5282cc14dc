/* exitprobe — time: Tor's "YYYY-MM-DD HH:MM:SS" (UTC), ISO 8601 for output,
 * durations ("10s", "5m", "1h30m"), and a monotonic clock in milliseconds. */
#ifndef EP_LIB_TIMEUTIL_H
#define EP_LIB_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Parse exactly "YYYY-MM-DD HH:MM:SS" (19 chars from s, length-bounded) as UTC.
 * 0 on success, -1 on malformed or out-of-range fields. */
int ep_time_parse_tor(const char *s, size_t n, time_t *out);
/* Accepts the Tor form, "YYYY-MM-DDTHH:MM:SSZ", or "@<unix seconds>". */
int ep_time_parse_any(const char *s, time_t *out);
/* "YYYY-MM-DD HH:MM:SS" (out >= 20 bytes). */
void ep_time_format_tor(char *out, size_t outcap, time_t t);
/* "YYYY-MM-DDTHH:MM:SSZ" (out >= 21 bytes). */
void ep_time_format_iso(char *out, size_t outcap, time_t t);
/* Duration: "250ms", "10s", "5m", "2h", "1h30m", or a bare number of seconds.
 * Returns milliseconds in *ms; -1 if malformed. */
int ep_duration_parse(const char *s, int64_t *ms);
/* Monotonic milliseconds (CLOCK_MONOTONIC). */
int64_t ep_now_ms(void);
/* Wall clock seconds. */
time_t ep_wall_now(void);

#endif
