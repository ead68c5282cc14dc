/* exitprobe — leveled logging to stderr. */
#include "config.h"

#include "lib/log.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

/* The one process-wide setting (see log.h). */
static ep_log_level_t log_level = EP_LOG_NOTICE;
static FILE *log_file = NULL;

static const char *const level_names[] = {"err", "warn", "notice", "info", "debug"};

void ep_log_set_level(ep_log_level_t lvl) { log_level = lvl; }
ep_log_level_t ep_log_get_level(void) { return log_level; }
void ep_log_set_file(FILE *f) { log_file = f; }

int ep_log_level_parse(const char *s) {
  for (int i = 0; i < 5; i++) {
    if (strcmp(s, level_names[i]) == 0) {
      return i;
    }
  }
  return -1;
}

int ep_log_enabled(ep_log_level_t lvl) { return lvl <= log_level; }

void ep_log(ep_log_level_t lvl, const char *fmt, ...) {
  if (lvl > log_level) {
    return;
  }
  FILE *f = log_file != NULL ? log_file : stderr;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char when[32];
  strftime(when, sizeof when, "%H:%M:%S", &tm);
  fprintf(f, "%s.%03ld [%s] ", when, ts.tv_nsec / 1000000, level_names[lvl]);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(f, fmt, ap);
  va_end(ap);
  fputc('\n', f);
  fflush(f);
}
