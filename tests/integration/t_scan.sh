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
