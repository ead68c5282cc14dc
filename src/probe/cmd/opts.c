/* exitprobe — the one option parser of the subcommands (see opts.h). */
#include "config.h"

#include "probe/cmd/opts.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lib/timeutil.h"
#include "lib/vec.h"
#include "probe/net/net.h"

typedef struct opts_run {
  const ep_optspec_t *spec;
  void *base;
  char **argv;
  int argc;
  int i;               /* argv index being read */
  size_t n_operands;
} opts_run_t;

void ep_opts_usage(const ep_optspec_t *spec, FILE *out) {
  fputs(spec->head, out);
  for (size_t i = 0; i < spec->n_opts; i++) {
    if (spec->opts[i].help != NULL) {
      fputs(spec->opts[i].help, out);
    }
  }
  fputs(spec->tail, out);
}

int ep_opts_exit_status(ep_opts_rc_t rc) { return rc == EP_OPTS_HELP ? 0 : 2; }

int ep_opt_list_add(ep_opt_list_t *l, const char *s, size_t cap, ep_err_t *err) {
  int rc = EP_VEC_RESERVE(l->v, l->alloc, l->n + 1, cap, "list", err);
  if (rc != EP_OK) {
    return rc;
  }
  l->v[l->n++] = s;
  return EP_OK;
}

void ep_opt_list_free(ep_opt_list_t *l) {
  free(l->v);
  memset(l, 0, sizeof *l);
}

static ep_opts_rc_t opts_error(const opts_run_t *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "exitprobe CMD: <what> (see exitprobe CMD --help)" */
static ep_opts_rc_t opts_error(const opts_run_t *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "exitprobe %s: ", r->spec->cmd);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, " (see exitprobe %s --help)\n", r->spec->cmd);
  va_end(ap);
  return EP_OPTS_USAGE;
}

static ep_opts_rc_t bad_value(const opts_run_t *r, const ep_opt_t *o, const char *want,
                              const char *v) {
  fprintf(stderr, "exitprobe %s: %s wants %s (got '%s')\n", r->spec->cmd, o->name, want, v);
  return EP_OPTS_USAGE;
}

/* Decimal digits only, no sign, no spaces; -1 if none or above max. */
static int parse_decimal(const char *s, const char **end, uint64_t max, uint64_t *out) {
  uint64_t v = 0;
  const char *p = s;
  for (; *p >= '0' && *p <= '9'; p++) {
    uint64_t d = (uint64_t)(*p - '0');
    if (d > max || v > (max - d) / 10) {
      return -1;
    }
    v = v * 10 + d;
  }
  *end = p;
  *out = v;
  return p == s ? -1 : 0;
}

static void store_uint(void *dst, size_t size, uint64_t v) {
  if (size == sizeof(uint8_t)) {
    *(uint8_t *)dst = (uint8_t)v;
  } else if (size == sizeof(uint16_t)) {
    *(uint16_t *)dst = (uint16_t)v;
  } else if (size == sizeof(uint32_t)) {
    *(uint32_t *)dst = (uint32_t)v;
  } else {
    *(uint64_t *)dst = v;
  }
}

static ep_opts_rc_t set_uint(const opts_run_t *r, const ep_opt_t *o, void *dst, const char *v) {
  uint64_t n;
  const char *end;
  if (parse_decimal(v, &end, o->max, &n) != 0 || *end != '\0' || n < o->min) {
    char want[64];
    snprintf(want, sizeof want, "a number %llu..%llu", (unsigned long long)o->min,
             (unsigned long long)o->max);
    return bad_value(r, o, want, v);
  }
  store_uint(dst, o->size, n);
  return EP_OPTS_OK;
}

/* Appends port unless the list is full (-1) or, with EP_OPTF_DISTINCT, has
 * it: an error (-1), or with EP_OPTF_NAMES skipped (a preset may overlap a
 * name). */
static int add_port(const ep_opt_t *o, ep_opt_ports_t *ports, uint16_t port) {
  for (size_t i = 0; (o->flags & (EP_OPTF_DISTINCT | EP_OPTF_NAMES)) && i < ports->n; i++) {
    if (ports->v[i] == port) {
      return (o->flags & EP_OPTF_DISTINCT) && !(o->flags & EP_OPTF_NAMES) ? -1 : 0;
    }
  }
  if (ports->n >= o->max || ports->n >= EP_OPT_MAX_PORTS) {
    return -1;
  }
  ports->v[ports->n++] = port;
  return 0;
}

/* One item of the list, up to the next ',': a number, or with
 * EP_OPTF_NAMES a service name ("smtp", "https") or the preset "common". */
static int add_port_item(const ep_opt_t *o, ep_opt_ports_t *ports, const char *p,
                         const char **end) {
  uint64_t port;
  if (parse_decimal(p, end, 65535, &port) == 0) {
    return port == 0 || (**end != ',' && **end != '\0') ? -1 : add_port(o, ports, (uint16_t)port);
  }
  if (!(o->flags & EP_OPTF_NAMES)) {
    return -1;
  }
  char name[24];
  size_t len = strcspn(p, ",");
  *end = p + len;
  if (len == 0 || len >= sizeof name) {
    return -1;
  }
  memcpy(name, p, len);
  name[len] = '\0';
  if (strcmp(name, "common") == 0) {
    const uint16_t *common;
    size_t n = ep_svc_common_ports(&common);
    for (size_t i = 0; i < n; i++) {
      if (add_port(o, ports, common[i]) != 0) {
        return -1;
      }
    }
    return 0;
  }
  uint16_t named = ep_svc_port_by_name(name);
  return named == 0 ? -1 : add_port(o, ports, named);
}

static ep_opts_rc_t set_ports(const opts_run_t *r, const ep_opt_t *o, ep_opt_ports_t *ports,
                              const char *v) {
  char want[160];
  snprintf(want, sizeof want, "%s ports 1..65535%s separated by commas, at most %llu%s",
           (o->flags & EP_OPTF_DISTINCT) ? "distinct" : "",
           (o->flags & EP_OPTF_NAMES) ? ", service names or common" : "",
           (unsigned long long)o->max, (o->flags & EP_OPTF_NONE) ? ", or none" : "");
  const char *want_text = want[0] == ' ' ? want + 1 : want;
  ports->n = 0;
  if ((o->flags & EP_OPTF_NONE) && (strcmp(v, "none") == 0 || v[0] == '\0')) {
    return EP_OPTS_OK;
  }
  const char *p = v;
  do {
    const char *end;
    if (add_port_item(o, ports, p, &end) != 0) {
      return bad_value(r, o, want_text, v);
    }
    p = *end == ',' ? end + 1 : end;
  } while (*p != '\0');
  return EP_OPTS_OK;
}

/* --service PORT=PROTO: a port given again gets the later service. */
static ep_opts_rc_t set_service(const opts_run_t *r, const ep_opt_t *o, ep_opt_services_t *sv,
                                const char *v) {
  uint64_t port;
  const char *end;
  ep_svc_spec_t spec;
  ep_err_t err = {0};
  if (parse_decimal(v, &end, 65535, &port) != 0 || port == 0 || *end != '=' ||
      ep_svc_parse(end + 1, &spec, &err) != EP_OK) {
    return bad_value(r, o, "PORT=SERVICE (a port 1..65535, a service like smtp, https, tcp)", v);
  }
  size_t i = 0;
  while (i < sv->n && sv->port[i] != port) {
    i++;
  }
  if (i == sv->n) {
    if (sv->n >= EP_OPT_MAX_SERVICES || sv->n >= o->max) {
      char want[64];
      snprintf(want, sizeof want, "PORT=SERVICE for at most %llu ports",
               (unsigned long long)(o->max < EP_OPT_MAX_SERVICES ? o->max : EP_OPT_MAX_SERVICES));
      return bad_value(r, o, want, v);
    }
    sv->n++;
  }
  sv->port[i] = (uint16_t)port;
  sv->spec[i] = spec;
  return EP_OPTS_OK;
}

static ep_opts_rc_t set_choice(const opts_run_t *r, const ep_opt_t *o, unsigned *dst,
                               const char *v) {
  char want[128] = "";
  size_t len = 0;
  for (unsigned i = 0; o->choices[i] != NULL; i++) {
    if (strcmp(v, o->choices[i]) == 0) {
      *dst = i;
      return EP_OPTS_OK;
    }
    const char *sep = i == 0 ? "" : o->choices[i + 1] == NULL ? " or " : ", ";
    int w = snprintf(want + len, sizeof want - len, "%s%s", sep, o->choices[i]);
    len = w < 0 || (size_t)w >= sizeof want - len ? sizeof want - 1 : len + (size_t)w;
  }
  return bad_value(r, o, want, v);
}

/* One option's value. */
static ep_opts_rc_t set_value(const opts_run_t *r, const ep_opt_t *o, const char *v) {
  void *dst = (char *)r->base + o->off;
  ep_err_t err = {0};
  if ((o->kind == EP_OPT_STRING || o->kind == EP_OPT_LIST) && v[0] == '\0') {
    /* "--exit $(lookup)" where the lookup printed nothing must not mean
     * "no relay given" or a lookup of "" in the public directory */
    return bad_value(r, o, "a value, not an empty string", v);
  }
  switch (o->kind) {
    case EP_OPT_STRING:
      *(const char **)dst = v;
      return EP_OPTS_OK;
    case EP_OPT_LIST:
      if (ep_opt_list_add(dst, v, (size_t)o->max, &err) != EP_OK) {
        fprintf(stderr, "exitprobe %s: %s given more than %llu times\n", r->spec->cmd, o->name,
                (unsigned long long)o->max);
        return EP_OPTS_USAGE;
      }
      return EP_OPTS_OK;
    case EP_OPT_UINT:
      return set_uint(r, o, dst, v);
    case EP_OPT_DURATION: {
      int64_t ms;
      if (ep_duration_parse(v, &ms) != 0 || ms < (int64_t)o->min) {
        return bad_value(r, o, o->min > 0 ? "a duration like 250ms, 10s, 5m or 1h30m"
                                          : "a duration like 0s, 250ms, 10s, 5m or 1h30m", v);
      }
      *(int64_t *)dst = ms;
      return EP_OPTS_OK;
    }
    case EP_OPT_PORTS:
      return set_ports(r, o, dst, v);
    case EP_OPT_SERVICE:
      return set_service(r, o, dst, v);
    case EP_OPT_CHOICE:
      return set_choice(r, o, dst, v);
    case EP_OPT_FUNC:
      if (o->fn(dst, v, &err) != EP_OK) {
        if (err.msg[0] != '\0') {
          fprintf(stderr, "exitprobe %s: %s %s: %s\n", r->spec->cmd, o->name, v, err.msg);
          return EP_OPTS_USAGE;
        }
        return bad_value(r, o, o->want, v);
      }
      return EP_OPTS_OK;
    default:
      return opts_error(r, "%s: not a valued option", o->name);
  }
}

static const ep_opt_t *find_long(const ep_optspec_t *spec, const char *name, size_t len) {
  for (size_t i = 0; i < spec->n_opts; i++) {
    const char *n = spec->opts[i].name;
    if (n != NULL && strncmp(n, name, len) == 0 && n[len] == '\0') {
      return &spec->opts[i];
    }
  }
  return NULL;
}

static const ep_opt_t *find_short(const ep_optspec_t *spec, char c) {
  for (size_t i = 0; i < spec->n_opts; i++) {
    if (spec->opts[i].short_name != 0 && spec->opts[i].short_name == c) {
      return &spec->opts[i];
    }
  }
  return NULL;
}

/* argv[r->i] starts with '-' and is not "-" or "--". */
static ep_opts_rc_t one_option(opts_run_t *r) {
  const char *a = r->argv[r->i];
  const char *eq = a[1] == '-' ? strchr(a, '=') : NULL;
  size_t len = eq != NULL ? (size_t)(eq - a) : strlen(a);
  const ep_opt_t *o = a[1] == '-' ? find_long(r->spec, a, len)
                                  : (a[2] == '\0' ? find_short(r->spec, a[1]) : NULL);
  if (o == NULL || o->kind == EP_OPT_TEXT) {
    return opts_error(r, "unknown option '%s'", a);
  }
  if (o->kind == EP_OPT_HELP || o->kind == EP_OPT_FLAG) {
    if (eq != NULL) {
      return opts_error(r, "%s takes no value (got '%s')", o->name, a);
    }
    if (o->kind == EP_OPT_HELP) {
      ep_opts_usage(r->spec, stdout);
      return EP_OPTS_HELP;
    }
    *(bool *)((char *)r->base + o->off) = true;
    return EP_OPTS_OK;
  }
  const char *v = eq != NULL ? eq + 1 : NULL;
  if (v == NULL) {
    if (r->i + 1 >= r->argc) {
      return opts_error(r, "%s wants a value", o->name);
    }
    v = r->argv[++r->i];
  }
  return set_value(r, o, v);
}

static ep_opts_rc_t operand(opts_run_t *r) {
  if (r->n_operands >= r->spec->max_operands) {
    return opts_error(r, "unexpected argument '%s'", r->argv[r->i]);
  }
  r->argv[1 + r->n_operands++] = r->argv[r->i];
  return EP_OPTS_OK;
}

ep_opts_rc_t ep_opts_parse(const ep_optspec_t *spec, void *base, int argc, char **argv,
                           size_t *n_operands) {
  opts_run_t r = {.spec = spec, .base = base, .argv = argv, .argc = argc};
  bool options_end = false;
  ep_opts_rc_t rc = EP_OPTS_OK;
  for (r.i = 1; r.i < argc && rc == EP_OPTS_OK; r.i++) {
    const char *a = argv[r.i];
    if (options_end || a[0] != '-' || a[1] == '\0') {
      rc = operand(&r);
    } else if (strcmp(a, "--") == 0) {
      options_end = true;
    } else {
      rc = one_option(&r);
    }
  }
  if (n_operands != NULL) {
    *n_operands = r.n_operands;
  }
  return rc;
}

int ep_opt_outbound_address(void *dst, const char *value, ep_err_t *err) {
  (void)dst;
  ep_addr_t a;
  if (ep_addr_from_ip(&a, value, 0, err) != EP_OK) {
    return EP_ERR_MALFORMED;
  }
  ep_tcp_set_outbound(&a);
  return EP_OK;
}
