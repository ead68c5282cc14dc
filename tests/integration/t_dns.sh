#!/bin/bash
# Issue #14 acceptance: DNS health of every exit, told apart from port blocks, on the circuits the scan
# already builds.  `scan --target NAME --dns-probe-domain WILD --rounds 3` on the local network, whose exits
# each have a resolver (tests/testnet/README.md "Exits' resolvers"):
# - exit1 (its resolver never answers) gets dns "broken" in every round, and its ports are judged by address
#   (dns_reprobe_address 127.0.0.1, the manifest's class and verdict: it honours where they are open);
# - exit2 (its resolver lies: 127.0.0.66) gets dns "wrong", the lie in its dns_detail;
# - every other exit dns "ok", with the name and the unique name under the wildcard zone in its detail;
# - no record is resolvefailed, every exit's class is the same in the three rounds, the summary lists the
#   broken and the wrong exit, and every record validates against doc/result.schema.json.
# (That the RESOLVEs ride the exit's one circuit is test_circ's scan_resolves_target_names_on_the_same_circuit.)
# test-timeout: 300
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
EP=${EXITPROBE:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
read -r name wild < <(python3 -c 'import json,sys; i=json.load(open(sys.argv[1]))["identities"]; print(i["dns_name"], i["dns_wild_zone"])' "$EXITPROBE_TESTNET_MANIFEST")
"$EP" scan --port 25,80,443 --target "$name" --dns-probe-domain "$wild" --rounds 3 \
  --dir-authorities "$EXITPROBE_TESTNET_DIRAUTH" --cache-dir "$tmp/cache" --allow-same-16 \
  --output "$tmp/results.jsonl" --quiet >"$tmp/summary" 2>"$tmp/log"
rc=$?
cat "$tmp/summary"
[ $rc -eq 0 ] || [ $rc -eq 1 ] || { echo "FAIL: exit status $rc"; tail -20 "$tmp/log"; exit 1; }
python3 "$HERE/lib/check_schema.py" "$(dirname "$HERE")/../doc/result.schema.json" "$tmp/results.jsonl" || exit 1
python3 - "$EXITPROBE_TESTNET_MANIFEST" "$tmp/results.jsonl" "$tmp/summary" "$wild" <<'PY'
import json, sys
man = json.load(open(sys.argv[1]))
recs = [json.loads(l) for l in open(sys.argv[2])]
summary = open(sys.argv[3]).read()
wild = sys.argv[4]
exits = {r["fingerprint"]: r for r in man["relays"] if r["role"] == "exit"}
fails = []
def check(ok, what):
    print(("ok: " if ok else "FAIL: ") + what)
    if not ok:
        fails.append(what)
check({r["round"] for r in recs} == {1, 2, 3}, "three rounds of records")
per = {}
for r in recs:
    per.setdefault(r["exit"]["fingerprint"], []).append(r)
check(set(per) == set(exits), f"every exit has records ({len(per)} of {len(exits)})")
check(not [r for r in recs if r["class"] == "resolvefailed"], "no record is resolvefailed")
for fp, rs in sorted(per.items(), key=lambda kv: exits[kv[0]]["nickname"]):
    m = exits[fp]
    nick, want = m["nickname"], m["dns_expect"]
    got = sorted({(r["round"], r["dns"]) for r in rs})
    check(all(r["dns"] == want for r in rs), f"{nick}: dns {want} in every record of every round ({got})")
    details = {r["round"]: r["dns_detail"] or "" for r in rs}
    if want == "wrong":
        check(all("127.0.0.66" in d and "never given by the" in d for d in details.values()),
              f"{nick}: the lie in dns_detail ({details.get(1)})")
    elif want == "ok":
        check(all(f"-{fp[:16].lower()}-" in d and d.count("127.0.0.1 ttl") == 2 for d in details.values()),
              f"{nick}: the name and its unique name under {wild} resolved ({details.get(1)})")
    elif want == "broken":
        check(all("resolved through" in d for d in details.values()), f"{nick}: what failed ({details.get(1)})")
    for r in rs:
        exp = m["expect"][str(r["port"])]
        if want == "broken":
            check(r["dns_reprobe_address"] == "127.0.0.1",
                  f"{nick} round {r['round']} port {r['port']}: probed by address ({r['dns_reprobe_address']})")
        else:
            check(r["dns_reprobe_address"] is None, f"{nick} round {r['round']} port {r['port']}: by name")
        if r["port"] in (25, 80) or want == "broken":
            check((r["class"], r["verdict"]) == (exp["class"], exp["verdict"]),
                  f"{nick} round {r['round']} port {r['port']}: {r['class']}/{r['verdict']}, "
                  f"manifest {exp['class']}/{exp['verdict']}")
broken = [fp for fp, m in exits.items() if m["dns_expect"] == "broken"]
wrong = [fp for fp, m in exits.items() if m["dns_expect"] == "wrong"]
check("DNS broken" in summary and all(fp in summary.split("DNS broken")[1] for fp in broken),
      "the summary lists the broken exit under DNS broken")
check("DNS wrong" in summary and all(fp in summary.split("DNS wrong")[1] for fp in wrong),
      "the summary lists the wrong exit under DNS wrong")
sys.exit(1 if fails else 0)
PY
