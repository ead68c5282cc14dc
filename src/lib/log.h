/* exitprobe — a small leveled logger writing to stderr (or a chosen FILE).
 * The log configuration is the one process-wide setting; everything else is
 * passed in context structs. Relay-supplied text must be escaped (escape.h)
 * before it is logged. */
#ifndef EP_LIB_LOG_H
#define EP_LIB_LOG_H

#include <stdio.h>

typedef enum ep_log_level {
  EP_LOG_ERR = 0,
  EP_LOG_WARN = 1,
  EP_LOG_NOTICE = 2,
  EP_LOG_INFO = 3,
  EP_LOG_DEBUG = 4
} ep_log_level_t;

void ep_log_set_level(ep_log_level_t lvl);
ep_log_level_t ep_log_get_level(void);
void ep_log_set_file(FILE *f);          /* NULL: stderr */
/* Parse "err|warn|notice|info|debug"; -1 if unknown. */
int ep_log_level_parse(const char *s);
int ep_log_enabled(ep_log_level_t lvl);
void ep_log(ep_log_level_t lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define ep_err_log(...)    ep_log(EP_LOG_ERR, __VA_ARGS__)
#define ep_warn(...)       ep_log(EP_LOG_WARN, __VA_ARGS__)
#define ep_notice(...)     ep_log(EP_LOG_NOTICE, __VA_ARGS__)
#define ep_info(...)       ep_log(EP_LOG_INFO, __VA_ARGS__)
#define ep_debug(...)      ep_log(EP_LOG_DEBUG, __VA_ARGS__)

#endif
