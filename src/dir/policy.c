/* exitprobe — exit policy summaries, full policies and their evaluation. */
#include "config.h"

#include "dir/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dir/token.h"
#include "lib/vec.h"

/* Most ranges a summary can hold: a 1000-character summary has fewer than
 * 500; a full policy summarises to at most one range per rule boundary. */
#define EP_POLICY_MAX_RANGES 65535u
/* Rules in one full policy. */
#define EP_POLICY_MAX_RULES 65535u

int ep_dir_addr_parse(const char *s, size_t n, ep_ipaddr_t *out) {
  memset(out, 0, sizeof *out);
  if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
    s++;
    n -= 2;
    if (ep_dir_parse_ipv6(s, n, out->bytes) < 0) {
      return -1;
    }
    out->family = EP_IPADDR_V6;
    return 0;
  }
  uint32_t v4;
  if (ep_dir_parse_ipv4(s, n, &v4) == 0) {
    ep_ipaddr_set_ipv4(out, v4);
    return 0;
  }
  if (ep_dir_parse_ipv6(s, n, out->bytes) == 0) {
    out->family = EP_IPADDR_V6;
    return 0;
  }
  return -1;
}

/* ---------- summaries ---------- */

int ep_policy_summary_parse_ranges(const char *s, size_t n, bool *accept, ep_port_range_t *ranges,
                                   size_t cap, ep_err_t *err) {
  char eb[EP_DIR_ESC_BUF];
  size_t i = 0;
  if (n >= 7 && memcmp(s, "accept ", 7) == 0) {
    *accept = true;
  } else if (n >= 7 && memcmp(s, "reject ", 7) == 0) {
    *accept = false;
  } else {
    return ep_err_set(err, EP_ERR_MALFORMED, "policy summary must start with 'accept' or 'reject'");
  }
  i = 7;
  while (i < n && s[i] == ' ') {
    i++;
  }
  size_t end = n;
  while (end > i && (s[end - 1] == ' ' || s[end - 1] == '\t')) {
    end--;
  }
  if (i >= end) {
    return ep_err_set(err, EP_ERR_MALFORMED, "policy summary has no port list");
  }
  size_t count = 0;
  while (i < end) {
    size_t a = i;
    while (i < end && s[i] != ',') {
      i++;
    }
    /* s[a..i) is "P" or "P-Q" */
    const char *item = s + a;
    size_t il = i - a;
    uint64_t lo, hi;
    if (ep_dir_parse_range(item, il, 65535, &lo, &hi) < 0) {
      return ep_err_set(err, EP_ERR_MALFORMED, "policy summary: bad port%s '%s'",
                        memchr(item, '-', il) != NULL ? " range" : "",
                        ep_dir_esc(eb, sizeof eb, item, il));
    }
    if (lo == 0 || lo > hi) {
      return ep_err_set(err, EP_ERR_MALFORMED, "policy summary: bad port range %u-%u",
                        (unsigned)lo, (unsigned)hi);
    }
    if (count >= cap) {
      return ep_err_set(err, EP_ERR_LIMIT, "policy summary: more than %zu port ranges", cap);
    }
    ranges[count].lo = (uint16_t)lo;
    ranges[count].hi = (uint16_t)hi;
    count++;
    if (i < end) {
      i++; /* the comma */
      if (i >= end) {
        return ep_err_set(err, EP_ERR_MALFORMED, "policy summary: trailing comma");
      }
    }
  }
  return (int)count;
}

typedef struct summary_owned {
  ep_policy_summary_t s;
  ep_port_range_t r[];
} summary_owned_t;

ep_policy_summary_t *ep_policy_summary_new(const char *s, size_t n, ep_err_t *err) {
  /* Every range takes at least two characters ("1,"). */
  size_t cap = n / 2 + 1;
  if (cap > EP_POLICY_MAX_RANGES) {
    cap = EP_POLICY_MAX_RANGES;
  }
  summary_owned_t *o = malloc(sizeof *o + cap * sizeof(ep_port_range_t));
  if (o == NULL) {
    ep_err_set(err, EP_ERR_NOMEM, "policy summary: out of memory");
    return NULL;
  }
  bool accept;
  int rc = ep_policy_summary_parse_ranges(s, n, &accept, o->r, cap, err);
  if (rc < 0) {
    free(o);
    return NULL;
  }
  o->s.accept = accept;
  o->s.n = (uint16_t)rc;
  o->s.ranges = o->r;
  return &o->s;
}

void ep_policy_summary_free(ep_policy_summary_t *s) {
  if (s == NULL) {
    return;
  }
  /* s is the first member of summary_owned_t */
  free((summary_owned_t *)(void *)s);
}

static const ep_port_range_t all_ports = {1, 65535};
static const ep_policy_summary_t reject_all = {false, 1, &all_ports};

const ep_policy_summary_t *ep_policy_summary_reject_all(void) { return &reject_all; }

bool ep_policy_summary_allows(const ep_policy_summary_t *s, uint16_t port) {
  if (port == 0) {
    return false;
  }
  if (s == NULL) {
    return false;
  }
  bool listed = false;
  for (uint16_t i = 0; i < s->n; i++) {
    if (port >= s->ranges[i].lo && port <= s->ranges[i].hi) {
      listed = true;
      break;
    }
  }
  return s->accept ? listed : !listed;
}

void ep_policy_summary_format(const ep_policy_summary_t *s, char *out, size_t outcap) {
  if (outcap == 0) {
    return;
  }
  size_t pos = 0;
  int w = snprintf(out, outcap, "%s ", s->accept ? "accept" : "reject");
  if (w < 0 || (size_t)w >= outcap) {
    return;
  }
  pos = (size_t)w;
  for (uint16_t i = 0; i < s->n; i++) {
    char item[16];
    if (s->ranges[i].lo == s->ranges[i].hi) {
      snprintf(item, sizeof item, "%s%u", i ? "," : "", s->ranges[i].lo);
    } else {
      snprintf(item, sizeof item, "%s%u-%u", i ? "," : "", s->ranges[i].lo, s->ranges[i].hi);
    }
    size_t il = strlen(item);
    if (pos + il + 4 > outcap) {
      if (pos + 4 <= outcap) {
        memcpy(out + pos, "...", 4);
      }
      return;
    }
    memcpy(out + pos, item, il + 1);
    pos += il;
  }
}

ep_policy_answer_t ep_policy_summary_eval(const ep_policy_summary_t *s, uint16_t port) {
  ep_policy_answer_t a = {EP_POLICY_REJECT, EP_POLICY_BASIS_SUMMARY, false, false};
  if (ep_policy_summary_allows(s, port)) {
    a.verdict = EP_POLICY_ACCEPT;
  } else {
    /* The summary only lists ports accepted to (nearly) every address: an
     * "accept A:P" for some addresses A leaves P out of it. Port 0 is never
     * accepted. */
    a.may_be_restricted = port != 0;
  }
  return a;
}

/* ---------- full policies ---------- */

struct ep_policy {
  ep_policy_rule_t *rules;
  size_t n, alloc;
};

ep_policy_t *ep_policy_new(void) { return calloc(1, sizeof(ep_policy_t)); }

void ep_policy_free(ep_policy_t *p) {
  if (p == NULL) {
    return;
  }
  free(p->rules);
  free(p);
}

int ep_policy_add(ep_policy_t *p, const ep_policy_rule_t *r, ep_err_t *err) {
  if (p->n >= EP_POLICY_MAX_RULES) {
    return ep_err_set(err, EP_ERR_LIMIT, "exit policy: more than %u rules", EP_POLICY_MAX_RULES);
  }
  int rc =
      EP_VEC_RESERVE(p->rules, p->alloc, p->n + 1, EP_POLICY_MAX_RULES, "exit policy rules", err);
  if (rc != EP_OK) {
    return rc;
  }
  p->rules[p->n++] = *r;
  return 0;
}

size_t ep_policy_count(const ep_policy_t *p) { return p == NULL ? 0 : p->n; }

const ep_policy_rule_t *ep_policy_rule(const ep_policy_t *p, size_t i) {
  return (p == NULL || i >= p->n) ? NULL : &p->rules[i];
}

static void apply_mask(uint8_t *addr, unsigned bits, unsigned total) {
  for (unsigned i = 0; i < total / 8; i++) {
    unsigned b = i * 8;
    if (b >= bits) {
      addr[i] = 0;
    } else if (bits - b < 8) {
      addr[i] &= (uint8_t)(0xffu << (8 - (bits - b)));
    }
  }
}

static int parse_portspec(const char *s, size_t n, uint16_t *lo, uint16_t *hi) {
  if (n == 1 && s[0] == '*') {
    *lo = 1;
    *hi = 65535;
    return 0;
  }
  uint64_t a, b;
  if (ep_dir_parse_range(s, n, 65535, &a, &b) < 0 || a > b) {
    return -1;
  }
  /* Port 0 is tolerated in input (dir-spec §2.1.3) but never permitted. */
  if (a == 0) {
    a = 1;
  }
  if (b == 0) {
    return -1;
  }
  *lo = (uint16_t)a;
  *hi = (uint16_t)b;
  return 0;
}

static int mask_from_dotted(uint32_t m, uint8_t *bits) {
  unsigned b = 0;
  while (b < 32 && (m & (0x80000000u >> b))) {
    b++;
  }
  if (b < 32 && (m << b) != 0) {
    return -1; /* not a prefix mask */
  }
  *bits = (uint8_t)b;
  return 0;
}

int ep_policy_rule_parse(const char *s, size_t n, bool accept, int star_family,
                         ep_policy_rule_t *out, ep_err_t *err) {
  char eb[EP_DIR_ESC_BUF];
  memset(out, 0, sizeof *out);
  out->accept = accept;
  /* The port is after the last ':' (IPv6 addresses are bracketed). */
  const char *colon = NULL;
  for (size_t i = n; i > 0; i--) {
    if (s[i - 1] == ':') {
      colon = s + i - 1;
      break;
    }
    if (s[i - 1] == ']') {
      break;
    }
  }
  if (colon == NULL) {
    return ep_err_set(err, EP_ERR_MALFORMED, "exit policy: '%s' has no ':port'",
                      ep_dir_esc(eb, sizeof eb, s, n));
  }
  const char *as = s;
  size_t al = (size_t)(colon - s);
  if (parse_portspec(colon + 1, (size_t)(s + n - colon - 1), &out->port_lo, &out->port_hi) < 0) {
    return ep_err_set(err, EP_ERR_MALFORMED, "exit policy: bad port in '%s'",
                      ep_dir_esc(eb, sizeof eb, s, n));
  }
  if (al == 1 && as[0] == '*') {
    out->family = (uint8_t)star_family;
    return 0;
  }
  if (al == 2 && as[0] == '*' && (as[1] == '4' || as[1] == '6')) {
    out->family = as[1] == '4' ? 4 : 6;
    return 0;
  }
  const char *slash = memchr(as, '/', al);
  size_t hl = slash ? (size_t)(slash - as) : al;
  if (hl >= 2 && as[0] == '[' && as[hl - 1] == ']') {
    if (ep_dir_parse_ipv6(as + 1, hl - 2, out->addr) < 0) {
      return ep_err_set(err, EP_ERR_MALFORMED, "exit policy: bad IPv6 address in '%s'",
                        ep_dir_esc(eb, sizeof eb, s, n));
    }
    out->family = 6;
    out->maskbits = 128;
    if (slash != NULL) {
      uint64_t b;
      if (ep_dir_parse_uint(slash + 1, al - hl - 1, 128, &b) < 0) {
        return ep_err_set(err, EP_ERR_MALFORMED, "exit policy: bad IPv6 prefix in '%s'",
                          ep_dir_esc(eb, sizeof eb, s, n));
      }
      out->maskbits = (uint8_t)b;
    }
    apply_mask(out->addr, out->maskbits, 128);
    return 0;
  }
  uint32_t v4;
  if (ep_dir_parse_ipv4(as, hl, &v4) < 0) {
    return ep_err_set(err, EP_ERR_MALFORMED, "exit policy: bad address in '%s'",
                      ep_dir_esc(eb, sizeof eb, s, n));
  }
  out->family = 4;
  out->maskbits = 32;
  if (slash != NULL) {
    const char *ms = slash + 1;
    size_t ml = al - hl - 1;
    uint64_t b;
    uint32_t m;
    if (ep_dir_parse_uint(ms, ml, 32, &b) == 0) {
      out->maskbits = (uint8_t)b;
    } else if (ep_dir_parse_ipv4(ms, ml, &m) == 0 && mask_from_dotted(m, &out->maskbits) == 0) {
      /* dotted mask */
    } else {
      return ep_err_set(err, EP_ERR_MALFORMED, "exit policy: bad mask in '%s'",
                        ep_dir_esc(eb, sizeof eb, s, n));
    }
  }
  out->addr[0] = (uint8_t)(v4 >> 24);
  out->addr[1] = (uint8_t)(v4 >> 16);
  out->addr[2] = (uint8_t)(v4 >> 8);
  out->addr[3] = (uint8_t)v4;
  apply_mask(out->addr, out->maskbits, 32);
  return 0;
}

ep_policy_t *ep_policy_parse(const char *s, size_t n, ep_err_t *err) {
  char eb[EP_DIR_ESC_BUF];
  ep_policy_t *p = ep_policy_new();
  if (p == NULL) {
    ep_err_set(err, EP_ERR_NOMEM, "exit policy: out of memory");
    return NULL;
  }
  size_t i = 0;
  while (i < n) {
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == ',' || s[i] == '\r')) {
      i++;
    }
    if (i >= n) {
      break;
    }
    size_t a = i;
    while (i < n && s[i] != ' ' && s[i] != '\t') {
      i++;
    }
    const char *kw = s + a;
    size_t kl = i - a;
    bool accept;
    int fam;
    if (kl == 6 && memcmp(kw, "accept", 6) == 0) {
      accept = true;
      fam = EP_POLICY_STAR_BOTH;
    } else if (kl == 6 && memcmp(kw, "reject", 6) == 0) {
      accept = false;
      fam = EP_POLICY_STAR_BOTH;
    } else if (kl == 7 && memcmp(kw, "accept6", 7) == 0) {
      accept = true;
      fam = EP_POLICY_STAR_V6;
    } else if (kl == 7 && memcmp(kw, "reject6", 7) == 0) {
      accept = false;
      fam = EP_POLICY_STAR_V6;
    } else {
      ep_err_set(err, EP_ERR_MALFORMED, "exit policy: unknown action '%s'",
                 ep_dir_esc(eb, sizeof eb, kw, kl));
      ep_policy_free(p);
      return NULL;
    }
    while (i < n && (s[i] == ' ' || s[i] == '\t')) {
      i++;
    }
    size_t b = i;
    while (i < n && s[i] != ',' && s[i] != '\n' && s[i] != ' ' && s[i] != '\t' && s[i] != '\r') {
      i++;
    }
    ep_policy_rule_t r;
    if (ep_policy_rule_parse(s + b, i - b, accept, fam, &r, err) < 0 ||
        (fam == EP_POLICY_STAR_V6 && r.family == 4)) {
      if (fam == EP_POLICY_STAR_V6 && r.family == 4) {
        ep_err_set(err, EP_ERR_MALFORMED, "exit policy: IPv4 address in an accept6/reject6 rule");
      }
      ep_policy_free(p);
      return NULL;
    }
    if (ep_policy_add(p, &r, err) < 0) {
      ep_policy_free(p);
      return NULL;
    }
  }
  return p;
}

static bool prefix_match(const uint8_t *net, const uint8_t *addr, unsigned bits) {
  unsigned full = bits / 8;
  if (memcmp(net, addr, full) != 0) {
    return false;
  }
  unsigned rest = bits % 8;
  if (rest == 0) {
    return true;
  }
  uint8_t m = (uint8_t)(0xffu << (8 - rest));
  return (net[full] & m) == (addr[full] & m);
}

static bool rule_family_ok(const ep_policy_rule_t *r, int family) {
  return r->family == 0 || r->family == family;
}

ep_policy_answer_t ep_policy_eval(const ep_policy_t *p, const ep_ipaddr_t *addr, int family,
                                  uint16_t port) {
  ep_policy_answer_t a = {EP_POLICY_REJECT, EP_POLICY_BASIS_FULL, false, false};
  if (port == 0) {
    return a;
  }
  if (addr != NULL) {
    family = addr->family;
  }
  size_t n = p == NULL ? 0 : p->n;
  bool some_accept = false, some_reject = false;
  for (size_t i = 0; i < n; i++) {
    const ep_policy_rule_t *r = &p->rules[i];
    if (!rule_family_ok(r, family) || port < r->port_lo || port > r->port_hi) {
      continue;
    }
    if (addr != NULL) {
      if (r->maskbits == 0 || prefix_match(r->addr, addr->bytes, r->maskbits)) {
        a.verdict = r->accept ? EP_POLICY_ACCEPT : EP_POLICY_REJECT;
        return a;
      }
      continue;
    }
    if (r->maskbits == 0) {
      if (r->accept) {
        a.verdict = EP_POLICY_ACCEPT;
        a.some_rejected = some_reject;
      } else {
        a.verdict = some_accept ? EP_POLICY_ACCEPT_SOME : EP_POLICY_REJECT;
      }
      return a;
    }
    if (r->accept) {
      some_accept = true;
    } else {
      some_reject = true;
    }
  }
  /* No rule matched: accepted (dir-spec §2.1.1). */
  a.verdict = EP_POLICY_ACCEPT;
  a.some_rejected = some_reject;
  return a;
}

const char *ep_policy_verdict_name(ep_policy_verdict_t v) {
  switch (v) {
    case EP_POLICY_ACCEPT: return "accept";
    case EP_POLICY_ACCEPT_SOME: return "accept-some";
    case EP_POLICY_REJECT: return "reject";
    default: return "unknown";
  }
}

const char *ep_policy_basis_name(ep_policy_basis_t b) {
  switch (b) {
    case EP_POLICY_BASIS_SUMMARY: return "summary";
    case EP_POLICY_BASIS_FULL: return "full-policy";
    default: return "unknown";
  }
}

void ep_policy_answer_format(const ep_policy_answer_t *a, char *out, size_t outcap) {
  snprintf(out, outcap, "%s (%s%s%s)", ep_policy_verdict_name(a->verdict),
           ep_policy_basis_name(a->basis), a->may_be_restricted ? ", may-be-restricted" : "",
           a->some_rejected ? ", some-rejected" : "");
}

/* ---------- summarising a full policy (tor's rule, our code) ---------- */

typedef struct private_net {
  uint8_t family;
  uint8_t bits;
  uint8_t addr[16];
} private_net_t;

static const private_net_t private_nets[] = {
  {4, 8, {0}},                                  /* 0.0.0.0/8 */
  {4, 8, {10}},                                 /* 10.0.0.0/8 */
  {4, 8, {127}},                                /* 127.0.0.0/8 */
  {4, 10, {100, 64}},                           /* 100.64.0.0/10 */
  {4, 12, {172, 16}},                           /* 172.16.0.0/12 */
  {4, 16, {169, 254}},                          /* 169.254.0.0/16 */
  {4, 16, {192, 168}},                          /* 192.168.0.0/16 */
  {6, 8, {0}},                                  /* [::]/8 */
  {6, 7, {0xfc}},                               /* [fc00::]/7 */
  {6, 10, {0xfe, 0x80}},                        /* [fe80::]/10 */
  {6, 10, {0xfe, 0xc0}},                        /* [fec0::]/10 */
};

static bool rule_is_private(const ep_policy_rule_t *r, int family) {
  for (size_t i = 0; i < sizeof private_nets / sizeof private_nets[0]; i++) {
    const private_net_t *pn = &private_nets[i];
    if (pn->family != family || r->maskbits < pn->bits) {
      continue;
    }
    if (prefix_match(pn->addr, r->addr, pn->bits)) {
      return true;
    }
  }
  return false;
}

/* The next run of segments from *s on whose acc is want (segment i covers
 * ports bounds[i] up to the next bound): its ports [*lo, *hi]; false when
 * there is none. */
static bool next_run(const bool *acc, const uint32_t *bounds, size_t nu, bool want, size_t *s,
                     uint32_t *lo, uint32_t *hi) {
  while (*s < nu && acc[*s] != want) {
    (*s)++;
  }
  if (*s >= nu) {
    return false;
  }
  *lo = bounds[*s];
  while (*s < nu && acc[*s] == want) {
    (*s)++;
  }
  *hi = *s < nu ? bounds[*s] - 1 : 65535;
  return true;
}

int ep_policy_summarize(const ep_policy_t *p, int family, bool *accept, ep_port_range_t *ranges,
                        size_t cap) {
  size_t n = p == NULL ? 0 : p->n;
  /* Segment starts: 1, every lo, every hi+1. */
  size_t nb = 0;
  uint32_t *bounds = malloc((2 * n + 2) * sizeof *bounds);
  if (bounds == NULL) {
    return EP_ERR_NOMEM;
  }
  bounds[nb++] = 1;
  for (size_t i = 0; i < n; i++) {
    bounds[nb++] = p->rules[i].port_lo;
    bounds[nb++] = (uint32_t)p->rules[i].port_hi + 1;
  }
  /* sort + unique (insertion sort is fine for policy sizes) */
  for (size_t i = 1; i < nb; i++) {
    uint32_t v = bounds[i];
    size_t j = i;
    while (j > 0 && bounds[j - 1] > v) {
      bounds[j] = bounds[j - 1];
      j--;
    }
    bounds[j] = v;
  }
  size_t nu = 0;
  for (size_t i = 0; i < nb; i++) {
    if (bounds[i] <= 65535 && (nu == 0 || bounds[nu - 1] != bounds[i])) {
      bounds[nu++] = bounds[i];
    }
  }
  uint64_t *count = calloc(nu, sizeof *count);
  bool *acc = calloc(nu, sizeof *acc);
  if (count == NULL || acc == NULL) {
    free(bounds);
    free(count);
    free(acc);
    return EP_ERR_NOMEM;
  }
  /* Reject cutoff: a /7 of IPv4; for IPv6 the same share of a /64-granular space. */
  const unsigned width = family == 6 ? 64 : 32;
  const uint64_t cutoff = (uint64_t)1 << (width - 7);
  for (size_t i = 0; i < n; i++) {
    const ep_policy_rule_t *r = &p->rules[i];
    if (!rule_family_ok(r, family)) {
      continue;
    }
    uint64_t cnt = 0;
    if (!r->accept) {
      if (r->maskbits != 0 && rule_is_private(r, family)) {
        continue;
      }
      unsigned mb = r->maskbits > width ? width : r->maskbits;
      cnt = (width - mb) >= 64 ? UINT64_MAX : ((uint64_t)1 << (width - mb));
    } else if (r->maskbits != 0) {
      continue; /* only accepts for every address count */
    }
    for (size_t s = 0; s < nu; s++) {
      uint32_t lo = bounds[s];
      if (lo < r->port_lo || lo > r->port_hi) {
        continue;
      }
      if (r->accept) {
        if (!acc[s] && count[s] <= cutoff) {
          acc[s] = true;
        }
      } else {
        count[s] = (count[s] > UINT64_MAX - cnt) ? UINT64_MAX : count[s] + cnt;
      }
    }
  }
  /* Build accepted and rejected range lists; pick the shorter text. */
  size_t na = 0, nr = 0, la = 0, lr = 0;
  for (int pass = 0; pass < 2; pass++) {
    bool want = pass == 0;
    size_t cnt = 0, len = 0;
    size_t s = 0;
    uint32_t lo, hi;
    while (next_run(acc, bounds, nu, want, &s, &lo, &hi)) {
      cnt++;
      char tmp[16];
      int w = lo == hi ? snprintf(tmp, sizeof tmp, "%u,", lo)
                       : snprintf(tmp, sizeof tmp, "%u-%u,", lo, hi);
      len += w > 0 ? (size_t)w : 0;
    }
    if (want) {
      na = cnt;
      la = len;
    } else {
      nr = cnt;
      lr = len;
    }
  }
  bool use_accept;
  if (na == 0) {
    use_accept = false;      /* reject 1-65535 */
  } else if (nr == 0) {
    use_accept = true;       /* accept 1-65535 */
  } else {
    use_accept = la <= lr;
  }
  *accept = use_accept;
  int out = 0;
  if ((use_accept && na == 0) || (!use_accept && nr == 0)) {
    /* all one way: "accept 1-65535" / "reject 1-65535" */
    if (cap > 0) {
      ranges[0].lo = 1;
      ranges[0].hi = 65535;
      out = 1;
    }
    *accept = (na != 0);
  } else {
    size_t s = 0;
    uint32_t lo, hi;
    while (next_run(acc, bounds, nu, use_accept, &s, &lo, &hi)) {
      if ((size_t)out >= cap) {
        break;
      }
      ranges[out].lo = (uint16_t)lo;
      ranges[out].hi = (uint16_t)hi;
      out++;
    }
  }
  free(bounds);
  free(count);
  free(acc);
  return out;
}
