#!/bin/bash
# exitprobe scan on the local network, three rounds in a row:
# - every candidate exit (by policy: the 13 exits and the accept-25-only
#   relay) gets the class its manifest behaviour implies, every round;
# - verdicts: as the manifest's expect["25"] says (issue #11: the exit whose destination greets 554 honours;
#   an exitprobe without the service checks, `scan --help` without --service, still blames it);
# - the three rounds agree; `exitprobe report` over them names exactly the
#   blocked exits as consistent violators;
# - every record is valid JSON, one per (round, exit, port).
set -u
EP=${EXITPROBE:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$EP" scan --port 25 --target 127.0.0.1 --dir-authorities "$EXITPROBE_TESTNET_DIRAUTH" \
  --cache-dir "$tmp/cache" --timeout 4s --rounds 3 --output "$tmp/results.jsonl" --quiet >"$tmp/summary" 2>"$tmp/log"
rc=$?
cat "$tmp/summary"
[ $rc -eq 1 ] || { echo "FAIL: exit status $rc (want 1: violators found)"; cat "$tmp/log"; exit 1; }
old=0
"$EP" scan --help 2>/dev/null | grep -q -- '--service' || old=1
export OLD_VERDICTS=$old
python3 - "$EXITPROBE_TESTNET_MANIFEST" "$tmp/results.jsonl" <<'PY' || exit 1
import json, os, sys
manifest = json.load(open(sys.argv[1]))
old = os.environ.get("OLD_VERDICTS") == "1"
expect = {}
for r in manifest["relays"]:
    b = r.get("port25_behaviour")
    if b:
        e = r["expect"]["25"]
        v = "violates" if old and b == "banner-554" else e["verdict"]
        expect[r["fingerprint"].upper()] = (r["nickname"], b, e["class"], v)
records = [json.loads(line) for line in open(sys.argv[2])]
fails = 0
by_round = {}
for rec in records:
    assert rec["schema"] == "exitprobe/result/1"
    by_round.setdefault(rec["round"], {})[rec["exit"]["fingerprint"]] = rec
if sorted(by_round) != [1, 2, 3]:
    print("FAIL: rounds", sorted(by_round)); sys.exit(1)
verdicts = []
for rnd, recs in sorted(by_round.items()):
    if set(recs) != set(expect):
        print("FAIL: round %d probed %d exits, want exactly the %d candidates" % (rnd, len(recs), len(expect)))
        print("  missing:", [expect[f][0] for f in set(expect) - set(recs)], "extra:", list(set(recs) - set(expect)))
        fails += 1
        continue
    for fp, (nick, b, wc, wv) in sorted(expect.items()):
        rec = recs[fp]
        if rec["class"] != wc or rec["verdict"] != wv:
            print("FAIL: round %d %s (%s): %s/%s, want %s/%s — %s; %s" % (rnd, nick, b, rec["class"], rec["verdict"], wc, wv, rec["detail"], rec["why"]))
            fails += 1
        else:
            print("ok: round %d %s (%s): %s, %s" % (rnd, nick, b, rec["class"], rec["verdict"]))
    verdicts.append({fp: (r["class"], r["verdict"]) for fp, r in recs.items()})
if len(verdicts) == 3 and not (verdicts[0] == verdicts[1] == verdicts[2]):
    print("FAIL: the three rounds disagree"); fails += 1
print("records:", len(records))
sys.exit(1 if fails else 0)
PY
# every record as doc/result.schema.json says (no field it does not name)
/usr/bin/python3 "$INTEGRATION_LIB/check_schema.py" "$INTEGRATION_LIB/../../../doc/result.schema.json" "$tmp/results.jsonl" || exit 1
"$EP" report --json "$tmp/results.jsonl" >"$tmp/report.jsonl" || { echo "FAIL: report"; exit 1; }
"$EP" report "$tmp/results.jsonl"
python3 - "$EXITPROBE_TESTNET_MANIFEST" "$tmp/report.jsonl" <<'PY'
import json, os, sys
manifest = json.load(open(sys.argv[1]))
old = os.environ.get("OLD_VERDICTS") == "1"
blocked = {r["fingerprint"].upper() for r in manifest["relays"] if r.get("port25_behaviour") and
           (r["expect"]["25"]["verdict"] == "violates" or (old and r["port25_behaviour"] == "banner-554"))}
rows = [json.loads(l) for l in open(sys.argv[2])]
consistent = {r["fingerprint"] for r in rows if r["consistent_violator"]}
ok = consistent == blocked and all(r["records"] == 3 for r in rows)
print(("ok" if ok else "FAIL") + ": report names %d consistent violators; the manifest blocks %d" % (len(consistent), len(blocked)))
sys.exit(0 if ok else 1)
PY
[ $? -eq 0 ] || exit 1

# --tor-data-dir (#13): the same scan with the directory read from a relay's own DataDirectory (a
# snapshot: the tor keeps writing it) gives the same exits the same class and verdict, with no
# directory request.
netdir=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["dir"])' "$EXITPROBE_TESTNET_MANIFEST")
datadir=""
for d in "$netdir"/*/data; do
  if [ -s "$d/cached-microdesc-consensus" ] && [ -s "$d/cached-certs" ] && [ -s "$d/cached-descriptors" ] &&
    { [ -s "$d/cached-microdescs" ] || [ -s "$d/cached-microdescs.new" ]; }; then
    datadir=$d
    break
  fi
done
[ -n "$datadir" ] || { echo "FAIL: no DataDirectory with a consensus, certs, descriptors and microdescs"; exit 1; }
cp -r "$datadir" "$tmp/datadir"
"$EP" scan --port 25 --target 127.0.0.1 --dir-authorities "$EXITPROBE_TESTNET_DIRAUTH" --no-cache \
  --tor-data-dir "$tmp/datadir" --timeout 4s --output "$tmp/dd.jsonl" --quiet >/dev/null 2>"$tmp/dd.log"
rc=$?
[ $rc -eq 1 ] || { echo "FAIL: --tor-data-dir: exit status $rc (want 1)"; cat "$tmp/dd.log"; exit 1; }
grep -q "consensus from file" "$tmp/dd.log" || { echo "FAIL: --tor-data-dir: not read from files"; cat "$tmp/dd.log"; exit 1; }
python3 - "$tmp/results.jsonl" "$tmp/dd.jsonl" <<'PY'
import json, sys
def verdicts(path, rnd):
    return {r["exit"]["fingerprint"]: (r["class"], r["verdict"]) for r in map(json.loads, open(path)) if r["round"] == rnd}
a, b = verdicts(sys.argv[1], 3), verdicts(sys.argv[2], 1)
ok = a == b and len(b) > 0
print(("ok" if ok else "FAIL") + ": --tor-data-dir scan: %d exits, the same classes and verdicts as the fetched directory's" % len(b))
if not ok:
    print("  fetched:", sorted(a.items())); print("  datadir:", sorted(b.items()))
sys.exit(0 if ok else 1)
PY
