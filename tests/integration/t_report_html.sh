#!/bin/bash
# Issue #12 acceptance: the HTML report of a real scan, rendered by a real browser.
# - `exitprobe scan --port 25,80,443 --rounds 2` of the local network (port 25: the blocked exits
#   violate; 443: the TLS middlebox intercepts; 80 answers through every exit), with --output and --csv;
# - the CSV has a header (once: appending adds none) and one row per JSON record, every cell equal
#   to its JSON field, in the JSON order;
# - `exitprobe report --html` of the records, rendered by Debian's headless chromium
#   (tests/integration/lib/headless.py: offline, a fresh profile, every request to a closed local port):
#   * one SVG chart per port, one bar per (port, round) whose honoured/violated/inconclusive counts equal
#     those of the records, one <rect> per non-zero count, its height proportional to the count;
#   * one violator row per (exit, port) with a violating record, exactly those; the consistent count;
#   * the violators' relay-supplied contact lines as text (exit4's "<b>x</b>\x01" is no element);
#   * no console message, no request leaving the page, no script, no element fetching anything;
#   * layout (a copy with a measuring script, CSP meta removed): every chart text inside its chart, the
#     legend's swatches and labels do not overlap;
# - the same checks catch a console error and an outside request on a control page (they can fail).
# SKIP (77) only if chromium is not installed (scripts/deps installs it).
# About 30 s alone; chromium starts slowly on a loaded machine (make check beside other networks):
# test-timeout: 300
set -u
EP=${EXITPROBE:?}
: "${EXITPROBE_TESTNET_MANIFEST:?run me through tests/integration/run (needs the testnet env)}"
HL="${INTEGRATION_LIB:?}/headless.py"
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
	echo "SKIP: chromium is not installed (scripts/deps installs it)"
	exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
t0=$(date +%s)
"$EP" scan --port 25,80,443 --target 127.0.0.1 --dir-authorities "$EXITPROBE_TESTNET_DIRAUTH" \
	--cache-dir "$tmp/cache" --timeout 4s --rounds 2 --output "$tmp/results.jsonl" --csv "$tmp/results.csv" \
	--quiet >"$tmp/summary" 2>"$tmp/log"
rc=$?
t1=$(date +%s)
echo "scan: $((t1 - t0)) s"
[ $rc -eq 1 ] || { echo "FAIL: scan exit status $rc (want 1: violators found)"; tail -n 30 "$tmp/log"; exit 1; }
# Appending to a CSV that has its header adds none (this scan fails before probing: no such authority file).
"$EP" scan --port 25 --csv "$tmp/results.csv" --dir-authorities "$tmp/none" --no-cache --quiet >/dev/null 2>&1
[ "$(grep -c '^schema,round,' "$tmp/results.csv")" = 1 ] || { echo "FAIL: not one CSV header after appending"; exit 1; }
rm -f "$tmp/new.csv"
"$EP" scan --port 25 --csv "$tmp/new.csv" --dir-authorities "$tmp/none" --no-cache --quiet >/dev/null 2>&1
[ "$(cat "$tmp/new.csv")" = "$(head -n 1 "$tmp/results.csv")" ] || { echo "FAIL: a new CSV does not start with the header"; exit 1; }
echo "ok   CSV: a header in a new file, none when appending"
"$EP" report --html "$tmp/report.html" "$tmp/results.jsonl" >/dev/null 2>"$tmp/report.log" ||
	{ echo "FAIL: report --html"; cat "$tmp/report.log"; exit 1; }

# The control page: what the checks below must catch.
cat >"$tmp/control.html" <<'EOF'
<!DOCTYPE html><html><head><meta charset="utf-8"><title>control</title></head><body>
<img src="http://203.0.113.7/pixel.png"><script>console.error("control error")</script></body></html>
EOF
python3 "$HL" dom "$tmp/control.html" "$tmp/chrome-control" >"$tmp/control.dom" 2>"$tmp/control.err" ||
	{ echo "FAIL: chromium on the control page"; tail -n 20 "$tmp/control.err"; exit 1; }
if grep -q '^console: .*control error' "$tmp/control.err" && grep -q '^request: http://203.0.113.7/pixel.png' "$tmp/control.err"; then
	echo "ok   the control page's console error and outside request are seen"
else
	echo "FAIL: the checks miss the control page's console error or request:"; grep -v '^\[' "$tmp/control.err"; exit 1
fi

python3 "$HL" dom "$tmp/report.html" "$tmp/chrome" >"$tmp/report.dom" 2>"$tmp/chrome.err" ||
	{ echo "FAIL: chromium on the report"; tail -n 20 "$tmp/chrome.err"; exit 1; }
# Layout: a copy of the page with a script (its CSP meta removed) that measures the rendered charts:
# every text inside its chart, the legend's swatches and labels apart. Written into the DOM.
python3 - "$tmp/report.html" "$tmp/layout.html" <<'PY' || exit 1
import re, sys
page = open(sys.argv[1], encoding="utf-8").read()
page, n = re.subn(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)
assert n == 1, "no CSP meta in the report"
probe = """<script>
const out = [];
document.querySelectorAll("svg.chart").forEach((svg, i) => {
  const sb = svg.getBoundingClientRect();
  svg.querySelectorAll("text").forEach(t => {
    const b = t.getBoundingClientRect();
    if (b.width === 0 || b.left < sb.left - 0.5 || b.right > sb.right + 0.5 || b.top < sb.top - 0.5 ||
        b.bottom > sb.bottom + 0.5) out.push("chart " + i + ": text outside the chart: " + t.textContent);
  });
  const legend = [...svg.children].filter(e => (e.tagName === "rect" && e.getAttribute("y") === "4") ||
                                               (e.tagName === "text" && e.getAttribute("y") === "13"));
  if (legend.length !== 6) out.push("chart " + i + ": legend of " + legend.length + " elements");
  const boxes = legend.map(e => [e.textContent || "swatch", e.getBoundingClientRect()]);
  for (let a = 0; a < boxes.length; a++)
    for (let b = a + 1; b < boxes.length; b++)
      if (boxes[a][1].right > boxes[b][1].left + 0.5 && boxes[b][1].right > boxes[a][1].left + 0.5)
        out.push("chart " + i + ": legend overlap: " + boxes[a][0] + " / " + boxes[b][0]);
});
document.body.setAttribute("data-layout", JSON.stringify({charts: document.querySelectorAll("svg.chart").length, problems: out}));
</script>"""
open(sys.argv[2], "w", encoding="utf-8").write(page.replace("</body>", probe + "</body>"))
PY
python3 "$HL" dom "$tmp/layout.html" "$tmp/chrome-layout" >"$tmp/layout.dom" 2>"$tmp/layout.err" ||
	{ echo "FAIL: chromium on the layout copy"; tail -n 20 "$tmp/layout.err"; exit 1; }
t2=$(date +%s)
echo "report and chromium: $((t2 - t1)) s"

python3 - "$tmp/results.jsonl" "$tmp/results.csv" "$tmp/report.dom" "$tmp/chrome.err" "$tmp/layout.dom" "$tmp/layout.err" <<'PY'
import csv, html, json, re, sys
from html.parser import HTMLParser

recs = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
fails = 0


def check(ok, what):
    global fails
    print(("ok   " if ok else "FAIL ") + what)
    fails += not ok


# ---- the CSV beside the JSON Lines ----
def flat(rec, prefix=""):
    for k, v in rec.items():
        if isinstance(v, dict):
            yield from flat(v, prefix + k + "_")
        else:
            yield prefix + k, v


with open(sys.argv[2], newline="", encoding="utf-8", errors="surrogateescape") as f:
    rows = list(csv.reader(f))
check(len(rows) == len(recs) + 1, "CSV: a header and %d rows for %d records" % (len(rows) - 1, len(recs)))
head = rows[0] if rows else []
# Absent JSON keys (banner, exitpolicy_*, control_detail, retry_first_hop) are empty columns: every JSON key
# is a column, in the JSON order.
order_bad = 0
for rec in recs:
    names = [k for k, _ in flat(rec)]
    order_bad += [h for h in head if h in names] != names
check(head and order_bad == 0, "CSV: the header (%d columns) holds every record's JSON fields in the JSON order"
      " (%d records differ)" % (len(head), order_bad))
bad = 0
for rec, row in zip(recs, rows[1:]):
    cells = dict(zip(head, row))
    for k, v in flat(rec):
        want = "" if v is None else (" ".join(v) if isinstance(v, list) else
                                     ("true" if v is True else "false" if v is False else str(v)))
        want = "".join(c if ord(c) >= 0x20 or c in "\r\n\t" else "\\x%02x" % ord(c) for c in want)
        if want[:1] in ("=", "+", "-", "@", "\t"):
            want = "'" + want
        if cells.get(k) != want:
            bad += 1
            if bad <= 5:
                print("  %s %s: CSV %r, JSON %r" % (rec["exit"]["nickname"], k, cells.get(k), want))
check(bad == 0, "CSV: every cell equals its JSON field (%d differ)" % bad)


# ---- the rendered page ----
class Dom(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.charts, self.bars, self.violators = [], [], [], []
        self.cards, self.fetching, self.scripts, self.b_tags, self.svg_elems = {}, [], 0, 0, 0
        self.text_into = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag not in ("br", "meta", "line", "rect", "img", "link", "input"):
            self.stack.append(tag)
        if tag == "svg" and "chart" in a.get("class", ""):
            self.charts.append(a.get("aria-label", ""))
        if tag in ("svg", "g", "rect", "line", "text", "title"):
            self.svg_elems += 1
        if tag == "g" and a.get("class") == "bar":
            self.bars.append({"attrs": a, "rects": []})
        if tag == "rect" and self.bars and "g" in self.stack and self.stack[-1] == "g":
            self.bars[-1]["rects"].append(a)
        if tag == "tr" and a.get("class") == "violator":
            self.violators.append({"fp": a.get("data-fp"), "port": a.get("data-port"), "text": ""})
            self.text_into.append(self.violators[-1])
        elif tag == "b" and "id" in a:
            self.cards[a["id"]] = {"text": ""}
            self.text_into.append(self.cards[a["id"]])
        elif tag in ("tr", "b"):
            self.text_into.append(None)
        if tag == "b" and "table" in self.stack:
            self.b_tags += 1
        if tag == "script":
            self.scripts += 1
        for k in ("src", "srcset", "data", "poster", "action", "background"):
            if k in a:
                self.fetching.append((tag, k, a[k]))
        href = a.get("href", "")
        if tag == "link" or (tag == "a" and not (href.startswith("https://metrics.torproject.org/") or href.startswith("#"))):
            self.fetching.append((tag, "href", a.get("href")))

    def handle_endtag(self, tag):
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass
        if tag in ("tr", "b") and self.text_into:
            self.text_into.pop()

    def handle_data(self, data):
        for t in self.text_into:
            if t is not None:
                t["text"] += data


dom = Dom()
dom.feed(open(sys.argv[3], encoding="utf-8").read())
err = [l.rstrip("\n") for l in open(sys.argv[4], encoding="utf-8", errors="replace")]
check("chromium: ok" in err, "chromium rendered the page")
console = [l for l in err if l.startswith("console: ")]
check(not console, "no console message (%s)" % "; ".join(console)[:300])
requests = [l for l in err if l.startswith("request: ")]
check(not requests, "no request leaving the page (%s)" % "; ".join(requests)[:300])
check(dom.scripts == 0 and not dom.fetching, "no script, no element that fetches: %s" % dom.fetching[:3])

# Per (port, round): records by verdict.
want_bars = {}
for r in recs:
    key = (r["port"], r["round"])
    want_bars.setdefault(key, {"honours": 0, "violates": 0, "inconclusive": 0})[r["verdict"]] += 1
ports = sorted({r["port"] for r in recs})
check(len(dom.charts) == len(ports) and all("port %d" % p in c for p, c in zip(ports, dom.charts)),
      "one SVG chart per port %s: %s" % (ports, dom.charts))
check(dom.svg_elems > 10 * len(want_bars), "%d SVG elements rendered" % dom.svg_elems)
got_bars = {}
geometry_bad = 0
for b in dom.bars:
    a = b["attrs"]
    key = (int(a["data-port"]), int(a["data-round"]))
    got_bars[key] = {k: int(a["data-" + k]) for k in ("honours", "violates", "inconclusive")}
    nonzero = [v for v in got_bars[key].values() if v > 0]
    heights = [float(r["height"]) for r in b["rects"]]
    # every non-zero count is a rect, and the heights keep the counts' proportions
    if len(heights) != len(nonzero) or any(abs(h / heights[0] - v / nonzero[0]) > 0.01 for h, v in zip(heights, nonzero)):
        geometry_bad += 1
check(got_bars == want_bars, "bars: %d (port, round) bars with the records' counts" % len(want_bars))
if got_bars != want_bars:
    print("  page:   ", sorted(got_bars.items()))
    print("  records:", sorted(want_bars.items()))
check(geometry_bad == 0 and dom.bars, "each bar: one rect per non-zero count, heights in proportion")

pairs = {}
for r in recs:
    p = pairs.setdefault((r["exit"]["fingerprint"], str(r["port"])), {"n": 0, "v": 0, "contact": r.get("contact")})
    p["n"] += 1
    p["v"] += r["verdict"] == "violates"
want_viol = sorted(k for k, p in pairs.items() if p["v"] > 0)
got_viol = sorted((v["fp"], v["port"]) for v in dom.violators)
check(got_viol == want_viol, "one violator row per violating (exit, port): %d rows, %d pairs" %
      (len(got_viol), len(want_viol)))
check(len(want_viol) >= 3 and {p for _, p in want_viol} >= {"25", "443"},
      "violators on ports 25 and 443 (the network's blocked exits and the TLS middlebox)")
consistent = sum(1 for p in pairs.values() if p["v"] == p["n"])
card = dom.cards.get("n-consistent", {"text": ""})["text"].strip()
check(card == str(consistent), "consistent violators card: %r, records: %d" % (card, consistent))
lerr = [l for l in open(sys.argv[6], encoding="utf-8", errors="replace") if l.startswith("console: ")]
m = re.search(r'<body data-layout="([^"]*)"', open(sys.argv[5], encoding="utf-8").read())
layout = json.loads(html.unescape(m.group(1))) if m else {"charts": 0, "problems": ["no layout measured"]}
check(layout["charts"] == len(ports) and not layout["problems"] and not lerr,
      "layout: %d charts measured, every text inside its chart, legend apart %s%s" %
      (layout["charts"], layout["problems"][:4], lerr[:2]))
check(dom.b_tags == 0, "no <b> element from relay text (%d)" % dom.b_tags)


def shown(s):  # what ep_escape_html shows: printable ASCII as is, other bytes as \xNN
    return "".join(chr(c) if 0x20 <= c < 0x7f else "\\x%02x" % c for c in s.encode("utf-8"))


rows_by = {(v["fp"], v["port"]): v["text"] for v in dom.violators}
missing = [k for k in want_viol if pairs[k]["contact"] and shown(pairs[k]["contact"]) not in rows_by.get(k, "")]
check(not missing, "every violator row shows its contact line as text (%d missing)" % len(missing))
html_contact = [k for k in want_viol if "<b>" in (pairs[k]["contact"] or "")]
print("     (%d violator rows carry a contact with markup)" % len(html_contact))
sys.exit(1 if fails else 0)
PY
