/* exitprobe — the DNS health of exits (see dnscheck.h). */
#include "config.h"

#include "probe/engine/dnscheck.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/escape.h"

static const char *const class_names[EP_DNS_CLASS_COUNT] = {"not-tried", "ok", "broken", "wrong",
                                                            "undecided"};

const char *ep_dns_class_name(ep_dns_class_t c) {
  return (unsigned)c < EP_DNS_CLASS_COUNT ? class_names[c] : "not-tried";
}

ep_dns_class_t ep_dns_class_parse(const char *s) {
  for (unsigned i = 0; s != NULL && i < EP_DNS_CLASS_COUNT; i++) {
    if (strcmp(s, class_names[i]) == 0) {
      return (ep_dns_class_t)i;
    }
  }
  return EP_DNS_CLASS_COUNT;
}

bool ep_dns_is_name(const char *host) {
  uint8_t b[16];
  char tmp[EP_IPADDR_STRLEN + 2];
  size_t n = strlen(host);
  if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof tmp) {
    memcpy(tmp, host + 1, n - 2);
    tmp[n - 2] = '\0';
    host = tmp;
  }
  return inet_pton(AF_INET, host, b) != 1 && inet_pton(AF_INET6, host, b) != 1;
}

static bool same_name(const char *a, const char *b) { return strcasecmp(a, b) == 0; }

int ep_dns_round_init(ep_dns_round_t *r, const char *const *hosts, size_t n, const char *domain,
                      ep_err_t *err) {
  memset(r, 0, sizeof *r);
  for (size_t i = 0; i < n; i++) {
    if (hosts[i] == NULL || hosts[i][0] == '\0' || !ep_dns_is_name(hosts[i])) {
      continue;
    }
    bool seen = false;
    for (size_t k = 0; k < r->n_names && !seen; k++) {
      seen = same_name(r->names[k].name, hosts[i]);
    }
    if (seen) {
      continue;
    }
    if (r->n_names >= EP_DNS_MAX_NAMES - 1 || strlen(hosts[i]) > EP_BEGIN_HOST_MAX) {
      return ep_err_set(err, EP_ERR_LIMIT, "DNS check: more than %u names, or one too long",
                        EP_DNS_MAX_NAMES - 1);
    }
    snprintf(r->names[r->n_names++].name, sizeof r->names[0].name, "%s", hosts[i]);
  }
  if (domain != NULL) {
    size_t dn = strlen(domain);
    /* room for "r<round>-<16 hex>-<8 hex>." (at most 38 bytes) */
    if (dn == 0 || dn + 40 > EP_BEGIN_HOST_MAX || domain[0] == '.' || !ep_dns_is_name(domain)) {
      return ep_err_set(err, EP_ERR_MALFORMED, "--dns-probe-domain: not a usable domain");
    }
    snprintf(r->domain, sizeof r->domain, "%s", domain);
    snprintf(r->names[r->n_names++].name, sizeof r->names[0].name, "*.%s", domain);
    r->has_unique = true;
  }
  return EP_OK;
}

const char *ep_dns_unique_name(char *buf, size_t cap, const char *domain, unsigned round,
                               const char *fingerprint, uint32_t salt) {
  char fp[17];
  size_t i = 0;
  for (; i < 16 && fingerprint[i] != '\0'; i++) {
    fp[i] = (char)tolower((unsigned char)fingerprint[i]);
  }
  fp[i] = '\0';
  snprintf(buf, cap, "r%u-%s-%08x.%s", round, fp, (unsigned)salt, domain);
  return buf;
}

void ep_dns_answer_resolved(ep_dns_answer_t *a, const ep_resolved_t *res, int64_t ms) {
  a->ms = ms;
  a->n_addrs = a->n_more = 0;
  if (res->error) {
    a->status = res->error_transient ? EP_DNS_ERROR_TRANSIENT : EP_DNS_ERROR;
    return;
  }
  for (size_t i = 0; i < res->n; i++) {
    if (!res->a[i].has_addr) {
      continue;
    }
    if (a->n_addrs == EP_DNS_MAX_ADDRS) {
      a->n_more++;
      continue;
    }
    a->addrs[a->n_addrs] = res->a[i].addr;
    a->ttls[a->n_addrs++] = res->a[i].ttl;
  }
  a->status = a->n_addrs > 0 ? EP_DNS_ANSWERED : EP_DNS_NO_ADDRESS;
}

static bool addr_eq(const ep_ipaddr_t *x, const ep_ipaddr_t *y) {
  size_t n = x->family == EP_IPADDR_V6 ? 16 : 4;
  return x->family == y->family && memcmp(x->bytes, y->bytes, n) == 0;
}

static bool is_failure(ep_dns_status_t s) {
  return s == EP_DNS_NO_ADDRESS || s == EP_DNS_ERROR || s == EP_DNS_ERROR_TRANSIENT ||
         s == EP_DNS_END || s == EP_DNS_TIMEOUT;
}

static ep_dns_addr_count_t *tally_find(ep_dns_name_t *nm, const ep_ipaddr_t *addr) {
  for (size_t i = 0; i < nm->n_tally; i++) {
    if (addr_eq(&nm->tally[i].addr, addr)) {
      return &nm->tally[i];
    }
  }
  return NULL;
}

static unsigned tally_count(const ep_dns_name_t *nm, const ep_ipaddr_t *addr) {
  const ep_dns_addr_count_t *c = tally_find((ep_dns_name_t *)nm, addr);
  return c != NULL ? c->n : 0;
}

/* How many exits gave the name's most given address. */
static unsigned tally_leader(const ep_dns_name_t *nm) {
  unsigned best = 0;
  for (size_t i = 0; i < nm->n_tally; i++) {
    best = nm->tally[i].n > best ? nm->tally[i].n : best;
  }
  return best;
}

void ep_dns_round_add(ep_dns_round_t *r, const ep_dns_answer_t *a) {
  if (a->name_idx >= r->n_names) {
    return;
  }
  ep_dns_name_t *nm = &r->names[a->name_idx];
  if (is_failure(a->status)) {
    nm->failed++;
    return;
  }
  if (a->status != EP_DNS_ANSWERED) {
    return;
  }
  nm->resolved++;
  for (size_t i = 0; i < a->n_addrs; i++) {
    bool dup = false;
    for (size_t k = 0; k < i && !dup; k++) {
      dup = addr_eq(&a->addrs[k], &a->addrs[i]);
    }
    if (dup) {
      continue;   /* an exit counts once per address */
    }
    ep_dns_addr_count_t *c = tally_find(nm, &a->addrs[i]);
    if (c == NULL && nm->n_tally < EP_DNS_MAX_TALLY) {
      c = &nm->tally[nm->n_tally++];
      c->addr = a->addrs[i];
      c->n = 0;
    }
    if (c != NULL) {
      c->n++;
    }
  }
}

bool ep_dns_consensus_addr(const ep_dns_round_t *r, size_t name_idx, bool v6, ep_ipaddr_t *out) {
  if (name_idx >= r->n_names) {
    return false;
  }
  const ep_dns_name_t *nm = &r->names[name_idx];
  const ep_dns_addr_count_t *best = NULL;
  for (size_t i = 0; i < nm->n_tally; i++) {
    const ep_dns_addr_count_t *c = &nm->tally[i];
    if ((c->addr.family == EP_IPADDR_V6) == v6 && (best == NULL || c->n > best->n)) {
      best = c;
    }
  }
  if (best != NULL) {
    *out = best->addr;
  }
  return best != NULL;
}

static const ep_dns_answer_t *find_answer(const ep_dns_exit_t *e, size_t name_idx) {
  for (size_t i = 0; i < e->n; i++) {
    if (e->a[i].name_idx == name_idx) {
      return &e->a[i];
    }
  }
  return NULL;
}

bool ep_dns_exit_failed(const ep_dns_exit_t *e, size_t name_idx) {
  const ep_dns_answer_t *a = find_answer(e, name_idx);
  return a != NULL && is_failure(a->status);
}

/* The addresses of an answer, "127.0.0.1 ttl 60, ::1 ttl 60". */
static void addrs_text(char *buf, size_t cap, const ep_dns_answer_t *a) {
  size_t off = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < a->n_addrs && off < cap; i++) {
    char ab[EP_IPADDR_STRLEN];
    int w = snprintf(buf + off, cap - off, "%s%s ttl %lu", i > 0 ? ", " : "",
                     ep_ipaddr_format(ab, sizeof ab, &a->addrs[i]), (unsigned long)a->ttls[i]);
    off += w > 0 ? (size_t)w : 0;
  }
  if (a->n_more > 0 && off < cap) {
    snprintf(buf + off, cap - off, " (+%zu)", a->n_more);
  }
}

static const char *failure_text(char *buf, size_t cap, const ep_dns_answer_t *a) {
  char rb[32];
  switch (a->status) {
    case EP_DNS_ERROR:
      snprintf(buf, cap, "error (nontransient) after %lld ms", (long long)a->ms);
      break;
    case EP_DNS_ERROR_TRANSIENT:
      snprintf(buf, cap, "error (transient) after %lld ms", (long long)a->ms);
      break;
    case EP_DNS_NO_ADDRESS:
      snprintf(buf, cap, "no address after %lld ms", (long long)a->ms);
      break;
    case EP_DNS_END:
      snprintf(buf, cap, "END %s after %lld ms", ep_end_reason_format(rb, sizeof rb, a->end_reason),
               (long long)a->ms);
      break;
    default:
      snprintf(buf, cap, "no answer within %lld ms", (long long)a->ms);
      break;
  }
  return buf;
}

/* Append "; " and text to detail (cut short with "..." when full). */
static void detail_add(char *detail, size_t cap, const char *text) {
  size_t off = strlen(detail);
  if (off + 4 >= cap) {
    return;
  }
  int w = snprintf(detail + off, cap - off, "%s%s", off > 0 ? "; " : "", text);
  if (w < 0 || (size_t)w >= cap - off) {
    memcpy(detail + cap - 4, "...", 4);
  }
}

ep_dns_class_t ep_dns_judge(const ep_dns_round_t *r, const ep_dns_exit_t *e, char *detail,
                            size_t cap) {
  bool broken = false, wrong = false, ok = false, undecided = false;
  detail[0] = '\0';
  for (size_t i = 0; i < e->n; i++) {
    const ep_dns_answer_t *a = &e->a[i];
    if (a->name_idx >= r->n_names || a->status == EP_DNS_PENDING || a->status == EP_DNS_LOST) {
      continue;
    }
    const ep_dns_name_t *nm = &r->names[a->name_idx];
    char name[4 * EP_BEGIN_HOST_MAX + 1];
    const char *shown = r->has_unique && a->name_idx == r->n_names - 1 && e->unique[0] != '\0'
                            ? e->unique : nm->name;
    ep_escape_text(name, sizeof name, shown, strlen(shown));
    char what[160], line[4 * EP_BEGIN_HOST_MAX + 400];
    if (is_failure(a->status)) {
      /* Its own failure is in nm->failed, never in nm->resolved. */
      failure_text(what, sizeof what, a);
      if (nm->resolved > 0) {
        broken = true;
        snprintf(line, sizeof line, "%s: %s, resolved through %u other exit%s", name, what,
                 nm->resolved, nm->resolved == 1 ? "" : "s");
      } else {
        undecided = true;
        snprintf(line, sizeof line, "%s: %s, and through no other exit either", name, what);
      }
      detail_add(detail, cap, line);
      continue;
    }
    unsigned others = nm->resolved > 0 ? nm->resolved - 1 : 0;
    bool shared = false;
    for (size_t k = 0; k < a->n_addrs && !shared; k++) {
      /* not in a full tally: unknown, so not held against the exit */
      shared = tally_count(nm, &a->addrs[k]) > 1 ||
               (nm->n_tally == EP_DNS_MAX_TALLY && tally_count(nm, &a->addrs[k]) == 0);
    }
    addrs_text(what, sizeof what, a);
    /* Only against a clear majority: names served by GeoDNS or a CDN give
     * exits in different places different addresses, and that is no lie. */
    if (!shared && others >= EP_DNS_QUORUM && 2 * tally_leader(nm) > others) {
      wrong = true;
      ep_ipaddr_t best;
      char ab[EP_IPADDR_STRLEN] = "-";
      if (ep_dns_consensus_addr(r, a->name_idx, a->addrs[0].family == EP_IPADDR_V6, &best)) {
        ep_ipaddr_format(ab, sizeof ab, &best);
      }
      snprintf(line, sizeof line, "%s: %s, never given by the %u other exits that resolved it (most: %s)",
               name, what, others, ab);
    } else {
      ok = true;
      snprintf(line, sizeof line, "%s: %s", name, what);
    }
    detail_add(detail, cap, line);
  }
  if (broken) {
    return EP_DNS_BROKEN;
  }
  if (wrong) {
    return EP_DNS_WRONG;
  }
  if (ok) {
    return EP_DNS_OK;
  }
  return undecided ? EP_DNS_UNDECIDED : EP_DNS_NOT_TRIED;
}
