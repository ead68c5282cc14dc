/* exitprobe — the report as one self-contained HTML page: inline CSS and
 * SVG, no script, nothing fetched (the only URLs are links to Tor Metrics).
 * Every relay-supplied string goes through ep_escape_html. Thousands of rows
 * without script: per port, the first EP_CAP_REPORT_HTML_ROWS violators
 * inline (consistent ones first), the rest in a closed <details>. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/caps.h"
#include "lib/escape.h"
#include "probe/engine/report.h"

#define H_FIELD (6u * EP_CAP_REPORT_FIELD + 8u)

static void esc(FILE *o, const char *s) {
  char tmp[H_FIELD];
  fputs(ep_escape_html(tmp, sizeof tmp, s, strnlen(s, EP_CAP_REPORT_FIELD)), o);
}

static const char page_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta name=\"referrer\" content=\"no-referrer\">\n"
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
    "style-src 'unsafe-inline'; img-src data:\">\n<title>exitprobe report</title>\n<style>\n"
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em auto;max-width:1200px;color:#222;"
    "padding:0 1em}\nh1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:2px solid #ddd;"
    "padding-bottom:.2em;margin-top:1.6em}\n.sum{color:#555}.cards{display:flex;gap:1em;"
    "flex-wrap:wrap}\n.card{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;"
    "background:#fafafa}\n.card b{font-size:1.4em;display:block}\n"
    "table{border-collapse:collapse;width:100%;margin:.6em 0;font-size:13px}\n"
    "th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}\n"
    "th{background:#f0f0f0}tr:nth-child(even) td{background:#fcfcfc}\n"
    "code,.fp{font-family:ui-monospace,monospace;font-size:12px;word-break:break-all}\n"
    ".consistent{color:#b00020;font-weight:bold}.intermittent{color:#c76d00}\n"
    ".hoster{background:#fff3f3;border-left:4px solid #b00020;padding:.3em .6em}\n"
    ".strong{color:#b00020}.chart{margin:.5em 0}svg text{font:11px sans-serif}\n"
    "details{margin:.5em 0}summary{cursor:pointer;color:#0645ad}\n</style></head><body>\n";

static void summary(const ep_rmodel_t *m, FILE *o, const char *title, size_t cons,
                    size_t inter) {
  size_t v = ep_rmodel_vantages(m);
  fputs("<h1>exitprobe report", o);
  if (title != NULL) {
    fputs(": ", o);
    esc(o, title);
  }
  fprintf(o, "</h1>\n<p class=\"sum\">Do exit relays honour the ports their exit policies "
             "announce? %zu records, %zu (exit, port) pairs, %zu bad lines skipped.</p>\n"
             "<div class=\"cards\"><div class=\"card\"><b id=\"n-consistent\">%zu</b>consistent "
             "violators</div><div class=\"card\"><b id=\"n-intermittent\">%zu</b>intermittent "
             "violators</div><div class=\"card\"><b>%zu</b>%s</div></div>\n",
          ep_rmodel_records(m), ep_rmodel_pairs(m), ep_rmodel_bad_lines(m), cons, inter,
          /* records without --vantage: one place, not named */
          v > 0 ? v : 1, v > 1 ? "vantage points" : (v == 1 ? "vantage point" : "vantage (not named)"));
}

/* The legend and axes of a chart of `n` bars up to `max` exits. */
static void chart_frame(FILE *o, unsigned max, unsigned port) {
  fprintf(o, "<text x=\"10\" y=\"110\" transform=\"rotate(-90 10 110)\" "
             "text-anchor=\"middle\">exits</text>\n"
             "<text x=\"345\" y=\"236\" text-anchor=\"middle\">round (port %u)</text>\n"
             "<line x1=\"50\" y1=\"200\" x2=\"650\" y2=\"200\" stroke=\"#333\"/>"
             "<line x1=\"50\" y1=\"20\" x2=\"50\" y2=\"200\" stroke=\"#333\"/>\n",
          port);
  for (unsigned t = 0; t <= 2; t++) {
    unsigned v = max * t / 2;  /* the line goes where v is, not where max * t / 2 would be */
    double y = 200.0 - 180.0 * v / max;
    fprintf(o, "<text x=\"44\" y=\"%.1f\" text-anchor=\"end\">%u</text>"
               "<line x1=\"47\" y1=\"%.1f\" x2=\"650\" y2=\"%.1f\" stroke=\"#eee\"/>\n",
            y + 4, v, y, y);
  }
  static const char *names[] = {"honoured", "violated", "inconclusive"};
  static const char *colours[] = {"#2e7d32", "#c62828", "#9e9e9e"};
  for (unsigned k = 0; k < 3; k++) {
    fprintf(o, "<rect x=\"%u\" y=\"4\" width=\"10\" height=\"10\" fill=\"%s\"/>"
               "<text x=\"%u\" y=\"13\">%s</text>\n",
            380 + 90 * k, colours[k], 394 + 90 * k, names[k]);  /* "inconclusive" ends by 650 */
  }
}

static void bar_rect(FILE *o, double x, double w, double *y, unsigned count, double scale,
                     const char *fill, const char *what) {
  if (count == 0) {
    return;
  }
  double h = count * scale;
  *y -= h;
  fprintf(o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
             "<title>%u %s</title></rect>",
          x, *y, w, h, fill, count, what);
}

/* One port's bars: rounds [from, to) of the sorted round table. */
static void chart(const ep_rmodel_t *m, FILE *o, size_t from, size_t to) {
  unsigned max = 1;
  for (size_t i = from; i < to; i++) {
    const ep_rm_round_t *r = ep_rmodel_round(m, i);
    unsigned t = r->honours + r->violates + r->inconclusive;
    max = t > max ? t : max;
  }
  unsigned port = ep_rmodel_round(m, from)->port;
  fprintf(o, "<svg class=\"chart\" width=\"660\" height=\"244\" viewBox=\"0 0 660 244\" "
             "role=\"img\" aria-label=\"exits per round on port %u\">\n", port);
  chart_frame(o, max, port);
  double slot = 600.0 / (double)(to - from), scale = 180.0 / max;
  size_t every = (to - from + 19) / 20;
  for (size_t i = from; i < to; i++) {
    const ep_rm_round_t *r = ep_rmodel_round(m, i);
    double x = 50 + slot * (double)(i - from) + slot * 0.1, y = 200;
    fprintf(o, "<g class=\"bar\" data-port=\"%u\" data-round=\"%lld\" data-honours=\"%u\" "
               "data-violates=\"%u\" data-inconclusive=\"%u\">",
            r->port, (long long)r->round, r->honours, r->violates, r->inconclusive);
    bar_rect(o, x, slot * 0.8, &y, r->honours, scale, "#2e7d32", "honoured");
    bar_rect(o, x, slot * 0.8, &y, r->violates, scale, "#c62828", "violated");
    bar_rect(o, x, slot * 0.8, &y, r->inconclusive, scale, "#9e9e9e", "inconclusive");
    if ((i - from) % every == 0) {
      fprintf(o, "<text x=\"%.1f\" y=\"214\" text-anchor=\"middle\">%lld</text>",
              x + slot * 0.4, (long long)r->round);
    }
    fputs("</g>\n", o);
  }
  fputs("</svg>\n", o);
}

static void relay_cell(FILE *o, const ep_rm_relay_t *r) {
  if (r->fingerprint[0] == '\0') {
    fputs("-", o);
    return;
  }
  /* A fingerprint is 40 hex digits (checked on input): safe in a URL. */
  fprintf(o, "<a class=\"fp\" href=\"https://metrics.torproject.org/rs.html#details/%s\">%s</a> ",
          r->fingerprint, r->fingerprint);
  esc(o, r->nickname);
  fputs(" <code>", o);
  esc(o, r->address);
  fputs("</code>", o);
}

static void labelled(FILE *o, const char *label, const char *v) {
  if (v[0] != '\0') {
    fprintf(o, "<br>%s: <code>", label);
    esc(o, v);
    fputs("</code>", o);
  }
}

static void violator_row(FILE *o, const ep_rm_pair_t *p, unsigned seen, size_t vantages) {
  bool cons = ep_rm_pair_consistent(p);
  fprintf(o, "<tr class=\"violator\" data-fp=\"%s\" data-port=\"%u\"><td>", p->exit.fingerprint,
          p->port);
  relay_cell(o, &p->exit);
  labelled(o, "contact", p->contact);
  labelled(o, "platform", p->platform);
  fprintf(o, "</td><td>%u</td><td class=\"%s\">%s<br>%s</td><td>", p->port,
          cons ? "consistent" : "intermittent", ep_report_status(p),
          p->fail_class == EP_CLASS_COUNT ? "" : ep_class_name(p->fail_class));
  fputs("END ", o);
  esc(o, p->fail_end_reason_name[0] != '\0' ? p->fail_end_reason_name : "none");
  fputs(" at ", o);
  esc(o, p->last_fail_time);
  labelled(o, "answer", p->fail_answer);
  labelled(o, "why", p->fail_why);
  labelled(o, "control", p->last_control);
  labelled(o, "retry", p->last_retry_class);
  if (p->dns_broken > 0 || p->dns_wrong > 0) {
    labelled(o, "dns", ep_report_dns(p));   /* #14: its resolver too (see "DNS broken") */
  }
  fputs("<br>first hop: ", o);
  relay_cell(o, &p->fail_first_hop);
  fprintf(o, "</td><td>%u / %u</td>", p->violates, p->records);
  if (vantages > 1) {
    fprintf(o, "<td%s>", seen == vantages ? " class=\"strong\"" : "");
    esc(o, p->vantage);
    fprintf(o, "<br>seen from %u of %zu vantages%s</td>", seen, vantages,
            seen == vantages ? " (stronger)" : "");
  }
  fputs("</tr>\n", o);
}

static void table_start(FILE *o, size_t vantages) {
  fprintf(o, "<table><tr><th>relay</th><th>port</th><th>class</th><th>evidence (last failure)"
             "</th><th>rounds failing / probed</th>%s</tr>\n",
          vantages > 1 ? "<th>vantage</th>" : "");
}

/* ---- grouping: indexes sorted by a key, then walked once ---- */

static const ep_rmodel_t *g_model;

static const ep_rm_pair_t *P(size_t i) { return ep_rmodel_pair(g_model, i); }

/* The /16 of an IPv4 address or the /32 of an IPv6 one, as text. */
static void network(const char *addr, char *out, size_t cap) {
  const char *colon = strchr(addr, ':');
  size_t n = 0, dots = 0, colons = 0;
  for (; addr[n] != '\0' && n + 8 < cap; n++) {
    dots += addr[n] == '.';
    colons += addr[n] == ':';
    if ((colon == NULL && dots == 2) || (colon != NULL && colons == 2)) {
      break;
    }
  }
  snprintf(out, cap, "%.*s%s", (int)n, addr, colon == NULL ? ".0.0/16" : "::/32");
}

static int cmp_net(const void *a, const void *b) {
  const ep_rm_pair_t *x = P(*(const size_t *)a), *y = P(*(const size_t *)b);
  char nx[64], ny[64];
  network(x->exit.address, nx, sizeof nx);
  network(y->exit.address, ny, sizeof ny);
  int c = strcmp(nx, ny);
  return c != 0 ? c : (x->port != y->port ? (x->port < y->port ? -1 : 1) : 0);
}

static const char *operator_of(const ep_rm_pair_t *p) {
  return p->contact[0] != '\0' ? p->contact : p->family;
}

static int cmp_operator(const void *a, const void *b) {
  return strcmp(operator_of(P(*(const size_t *)a)), operator_of(P(*(const size_t *)b)));
}

static int cmp_fp_port(const void *a, const void *b) {
  const ep_rm_pair_t *x = P(*(const size_t *)a), *y = P(*(const size_t *)b);
  int c = strcmp(x->exit.fingerprint, y->exit.fingerprint);
  return c != 0 ? c : (x->port != y->port ? (x->port < y->port ? -1 : 1) : 0);
}

static size_t *sorted_copy(const size_t *ix, size_t n, int (*cmp)(const void *, const void *)) {
  size_t *c = malloc((n ? n : 1) * sizeof *c);
  if (c != NULL) {
    memcpy(c, ix, n * sizeof *c);
    qsort(c, n, sizeof *c, cmp);
  }
  return c;
}

/* seen[i]: from how many vantages pair i's (exit, port) was seen violating. */
static unsigned *vantage_counts(const ep_rmodel_t *m, const size_t *ix) {
  size_t n = ep_rmodel_pairs(m);
  unsigned *seen = calloc(n ? n : 1, sizeof *seen);
  size_t *s = sorted_copy(ix, n, cmp_fp_port);
  for (size_t i = 0, j; s != NULL && seen != NULL && i < n; i = j) {
    unsigned k = 0;
    for (j = i; j < n && cmp_fp_port(&s[i], &s[j]) == 0; j++) {
      k += P(s[j])->violates > 0;
    }
    for (size_t t = i; t < j; t++) {
      seen[s[t]] = k;
    }
  }
  free(s);
  return seen;
}

/* Networks with two or more violators on a port; a line when all of the
 * network's exits fail that port the same way. */
static void net_clusters(FILE *o, const size_t *ix, size_t n) {
  size_t *s = sorted_copy(ix, n, cmp_net);
  fputs("<h2 id=\"networks\">Clusters by network</h2>\n<table><tr><th>network</th><th>port</th>"
        "<th>violators / exits</th><th>finding</th></tr>\n", o);
  for (size_t i = 0, j; s != NULL && i < n; i = j) {
    unsigned viol = 0, total = 0;
    ep_class_t cls = ep_rm_pair_main_failure(P(s[i]));
    bool same = true;
    for (j = i; j < n && cmp_net(&s[i], &s[j]) == 0; j++) {
      total++;
      viol += P(s[j])->violates > 0;
      same = same && P(s[j])->violates > 0 && ep_rm_pair_main_failure(P(s[j])) == cls;
    }
    if (viol < 2) {
      continue;
    }
    char net[64];
    network(P(s[i])->exit.address, net, sizeof net);
    fputs("<tr><td><code>", o);
    esc(o, net);
    fprintf(o, "</code></td><td>%u</td><td>%u / %u</td><td>", P(s[i])->port, viol, total);
    if (same && cls != EP_CLASS_COUNT) {
      fprintf(o, "<div class=\"hoster\">every exit of this network fails port %u the same way "
                 "(%s): likely the hoster blocks it</div>", P(s[i])->port, ep_class_name(cls));
    }
    fputs("</td></tr>\n", o);
  }
  fputs("</table>\n", o);
  free(s);
}

/* Violators sharing a contact line (else a family). */
static void operator_clusters(FILE *o, const size_t *ix, size_t n) {
  size_t *s = sorted_copy(ix, n, cmp_operator);
  fputs("<h2 id=\"operators\">Clusters by operator</h2>\n<table><tr><th>operator (contact or "
        "family)</th><th>violating (exit, port) pairs</th></tr>\n", o);
  for (size_t i = 0, j; s != NULL && i < n; i = j) {
    unsigned viol = 0;
    for (j = i; j < n && cmp_operator(&s[i], &s[j]) == 0; j++) {
      viol += P(s[j])->violates > 0;
    }
    if (viol < 2 || operator_of(P(s[i]))[0] == '\0') {
      continue;
    }
    fputs("<tr><td>", o);
    esc(o, operator_of(P(s[i])));
    fprintf(o, "</td><td>%u</td></tr>\n", viol);
  }
  fputs("</table>\n", o);
  free(s);
}

/* Display order, bucketed by port (stable): a counting sort. */
static size_t *by_port(const ep_rmodel_t *m, const size_t *ix) {
  size_t n = ep_rmodel_pairs(m);
  size_t *start = calloc(65537, sizeof *start);
  size_t *out = malloc((n ? n : 1) * sizeof *out);
  if (start == NULL || out == NULL) {
    free(start);
    free(out);
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    start[ep_rmodel_pair(m, i)->port + 1]++;
  }
  for (size_t p = 1; p <= 65536; p++) {
    start[p] += start[p - 1];
  }
  for (size_t i = 0; i < n; i++) {
    out[start[ep_rmodel_pair(m, ix[i])->port]++] = ix[i];
  }
  free(start);
  return out;
}

/* One port: pairs s[from, to), rounds from *ri on. */
static void port_section(FILE *o, const ep_rmodel_t *m, const size_t *s, size_t from, size_t to,
                         size_t *ri, const unsigned *seen) {
  unsigned port = ep_rmodel_pair(m, s[from])->port, honour = 0, viol = 0;
  for (size_t i = from; i < to; i++) {
    const ep_rm_pair_t *p = ep_rmodel_pair(m, s[i]);
    honour += p->violates == 0 && p->honours > 0;
    viol += p->violates > 0;
  }
  fprintf(o, "<h2 id=\"port-%u\">Port %u</h2>\n<p class=\"share\" data-port=\"%u\">%u of %zu "
             "exits (%.1f%%) honour port %u in every round; %u violated it at least once.</p>\n",
          port, port, port, honour, to - from, 100.0 * honour / (double)(to - from), port, viol);
  size_t r0 = *ri;
  while (*ri < ep_rmodel_rounds(m) && ep_rmodel_round(m, *ri)->port == port) {
    (*ri)++;
  }
  if (*ri > r0) {
    chart(m, o, r0, *ri);
  }
  if (viol == 0) {
    return;
  }
  size_t v = ep_rmodel_vantages(m);
  table_start(o, v);
  for (size_t i = from; i < from + viol; i++) {
    if (i - from == EP_CAP_REPORT_HTML_ROWS) {
      fprintf(o, "</table>\n<details><summary>%zu more violators on port %u</summary>\n",
              from + viol - i, port);
      table_start(o, v);
    }
    violator_row(o, ep_rmodel_pair(m, s[i]), seen != NULL ? seen[s[i]] : 0, v);
  }
  fputs(viol > EP_CAP_REPORT_HTML_ROWS ? "</table></details>\n" : "</table>\n", o);
}

/* #14: was an earlier pair (in ix order) of the same exit listed already? */
static bool dns_listed_before(const size_t *ix, size_t i) {
  const ep_rm_pair_t *p = P(ix[i]);
  for (size_t j = 0; j < i; j++) {
    const ep_rm_pair_t *q = P(ix[j]);
    if ((q->dns_broken > 0 || q->dns_wrong > 0) && strcmp(q->exit.fingerprint, p->exit.fingerprint) == 0) {
      return true;
    }
  }
  return false;
}

/* #14: the exits whose resolver was broken or wrong, one row each. */
static void dns_section(FILE *o, const size_t *ix, size_t n) {
  bool head = false;
  for (size_t i = 0; i < n; i++) {
    const ep_rm_pair_t *p = P(ix[i]);
    if ((p->dns_broken == 0 && p->dns_wrong == 0) || dns_listed_before(ix, i)) {
      continue;
    }
    if (!head) {
      fputs("<h2 id=\"dns\">DNS broken</h2>\n<p class=\"sum\">Exits whose resolver failed names that "
            "resolve through other exits (broken: their ports were probed by address, so the port "
            "verdicts above are about the ports), or answered with addresses no other exit got "
            "(wrong).</p>\n<table><tr><th>relay</th><th>dns</th><th>rounds</th><th>answers (last)"
            "</th></tr>\n", o);
      head = true;
    }
    fprintf(o, "<tr class=\"dns\" data-fp=\"%s\" data-dns=\"%s\"><td>", p->exit.fingerprint,
            ep_report_dns(p));
    relay_cell(o, &p->exit);
    labelled(o, "contact", p->contact);
    fprintf(o, "</td><td>%s</td><td>%u / %u</td><td><code>", ep_report_dns(p),
            p->dns_broken > 0 ? p->dns_broken : p->dns_wrong, p->records);
    esc(o, p->last_dns_detail);
    fputs("</code></td></tr>\n", o);
  }
  if (head) {
    fputs("</table>\n", o);
  }
}

int ep_report_html(const ep_rmodel_t *m, FILE *o, const char *title, ep_err_t *err) {
  size_t n = ep_rmodel_pairs(m);
  size_t *ix = ep_rmodel_sorted(m);
  size_t *s = ix != NULL ? by_port(m, ix) : NULL;
  g_model = m;
  unsigned *seen = s != NULL ? vantage_counts(m, ix) : NULL;
  if (seen == NULL) {
    free(ix);
    free(s);
    return ep_err_set(err, EP_ERR_NOMEM, "report: out of memory for the HTML report");
  }
  size_t cons = 0, inter = 0;
  for (size_t i = 0; i < n; i++) {
    cons += ep_rm_pair_consistent(ep_rmodel_pair(m, i));
    inter += ep_rmodel_pair(m, i)->violates > 0 && !ep_rm_pair_consistent(ep_rmodel_pair(m, i));
  }
  fputs(page_head, o);
  summary(m, o, title, cons, inter);
  size_t ri = 0;
  for (size_t i = 0, j; i < n; i = j) {
    for (j = i; j < n && ep_rmodel_pair(m, s[j])->port == ep_rmodel_pair(m, s[i])->port; j++) {
    }
    port_section(o, m, s, i, j, &ri, seen);
  }
  dns_section(o, ix, n);
  net_clusters(o, ix, n);
  operator_clusters(o, ix, n);
  fputs("<p class=\"sum\">Written by exitprobe. Violators are listed consistent first; per port "
        "the first rows are shown and the rest are in a closed section.</p>\n</body></html>\n", o);
  free(seen);
  free(s);
  free(ix);
  g_model = NULL;
  return ferror(o) ? ep_err_set(err, EP_ERR_IO, "report: cannot write the HTML") : EP_OK;
}
