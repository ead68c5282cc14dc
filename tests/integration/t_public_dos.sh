#!/bin/bash
# test-timeout: 420
# Issue #13, acceptance: a scan under the public network's DoS defences, seen by the relays as a client.
# This test starts a network of its own (`testnet start --dos-params`: the authorities publish the public
# DoS parameters in ConsensusParams) on the runner's slot + 1000 ports (uids: the unused upper half of
# the runner's uid slot), because the shared network has no DoS parameters. The prober connects from
# 127.0.0.2 (--outbound-address): the relays all listen on 127.0.0.1, so 127.0.0.2 is no relay address
# and their DoS subsystem counts it as a client.
# Asserts, over three rounds, every exit (by policy) and ports 25, 80, 443:
# - zero circuit failures (class circuit-failed) and the manifest's class and verdict for every
#   (exit, port), every round; the same set of (exit, port) each round;
# - the circuits per first hop of each round (summary line "first hops: ..."): at least 2 first hops
#   used, none above the number of probe circuits the round could need (exits x 2: main + retry),
#   the median at most the max; no RESOURCELIMIT from a first hop. Printed for bench/RESULTS.md.
set -u
EP=${EXITPROBE:?}
TESTNET=${EXITPROBE_TESTNET_TOOL:?}
BP=$((${EXITPROBE_TESTNET_BASE_PORT:?} + 1000))
BU=$((${EXITPROBE_TESTNET_BASE_UID:?} + 50))
NETDIR=/tmp/exitprobe-testnet-$BP
NET=(--dir "$NETDIR" --base-port "$BP" --base-uid "$BU")
tmp=$(mktemp -d)
started=0
cleanup() {
	[ "$started" = 1 ] && { "$TESTNET" stop "${NET[@]}" >>"$tmp/testnet.log" 2>&1 || echo "WARNING: testnet stop reported leftovers"; }
	rm -rf "$tmp"
}
trap cleanup EXIT
"$TESTNET" start "${NET[@]}" --dos-params --timeout "${TESTNET_START_TIMEOUT:-150}" >"$tmp/testnet.log" 2>&1
rc=$?
if [ $rc -eq 3 ]; then echo "SKIP: ports $BP.. are busy (another network)"; exit 77; fi
if [ $rc -ne 0 ]; then echo "FAIL: testnet start --dos-params: exit $rc"; tail -20 "$tmp/testnet.log"; started=1; exit 1; fi
started=1
eval "$("$TESTNET" env "${NET[@]}")"
grep -q "^ConsensusParams .*DoSCircuitCreationEnabled=1" "$NETDIR"/auth0/torrc ||
	{ echo "FAIL: the authorities' torrc has no DoS parameters"; exit 1; }

"$EP" scan --port 25,80,443 --target 127.0.0.1 --dir-authorities "$EXITPROBE_TESTNET_DIRAUTH" \
	--outbound-address 127.0.0.2 --cache-dir "$tmp/cache" --rounds 3 --output "$tmp/results.jsonl" \
	--quiet >"$tmp/summary" 2>"$tmp/log"
rc=$?
cat "$tmp/summary"
[ $rc -le 1 ] || { echo "FAIL: exit status $rc"; tail -30 "$tmp/log"; exit 1; }
python3 - "$EXITPROBE_TESTNET_MANIFEST" "$tmp/results.jsonl" "$tmp/summary" <<'PY' || exit 1
import collections, json, re, sys
manifest = json.load(open(sys.argv[1]))
PORTS = ("25", "80", "443")
want = {}
for r in manifest["relays"]:
    for p in PORTS:
        e = r.get("expect", {}).get(p)
        if e and e["class"] != "exitpolicy":
            want[(r["fingerprint"].upper(), int(p))] = (r["nickname"], e["class"], e["verdict"])
fails = 0
by_round = collections.defaultdict(dict)
for line in open(sys.argv[2]):
    rec = json.loads(line)
    by_round[rec["round"]][(rec["exit"]["fingerprint"].upper(), rec["port"])] = rec
if sorted(by_round) != [1, 2, 3]:
    print("FAIL: rounds", sorted(by_round)); sys.exit(1)
circ_failed = 0
for rnd, recs in sorted(by_round.items()):
    if set(recs) != set(want):
        print("FAIL: round %d: missing %s, extra %s" % (rnd, sorted(want[k][0] + ":%d" % k[1] for k in set(want) - set(recs)),
                                                        sorted("%s:%d" % k for k in set(recs) - set(want))))
        fails += 1
    for k, rec in sorted(recs.items()):
        if rec["class"] == "circuit-failed":
            circ_failed += 1
            print("FAIL: round %d %s port %d: circuit-failed — %s" % (rnd, want.get(k, ("?",))[0], k[1], rec.get("detail")))
            fails += 1
            continue
        if k in want:
            nick, wc, wv = want[k]
            if (rec["class"], rec["verdict"]) != (wc, wv):
                print("FAIL: round %d %s port %d: %s/%s, want %s/%s — %s" % (rnd, nick, k[1], rec["class"], rec["verdict"], wc, wv, rec.get("detail")))
                fails += 1
print("records: %d; circuit failures: %d" % (sum(len(r) for r in by_round.values()), circ_failed))
n_exits = len({k[0] for k in want})
hop_lines = [l for l in open(sys.argv[3]) if l.startswith("first hops:")]
if len(hop_lines) != 3:
    print("FAIL: %d 'first hops:' summary lines, want 3 (one per round)" % len(hop_lines)); sys.exit(1)
for i, l in enumerate(hop_lines, 1):
    m = re.match(r"first hops: (\d+) used, (\d+) circuits, per first hop min/median/max (\d+)/(\d+)/(\d+); "
                 r"(\d+) avoided, (\d+) RESOURCELIMIT", l)
    if not m:
        print("FAIL: cannot read %r" % l); fails += 1; continue
    used, circs, mn, med, mx, avoided, rl = map(int, m.groups())
    print("round %d: circuits per first hop: %d hops, %d circuits, min/median/max %d/%d/%d" % (i, used, circs, mn, med, mx))
    if used < 2 or not (1 <= mn <= med <= mx) or mx > 2 * n_exits or circs < n_exits or rl != 0:
        print("FAIL: round %d: circuits per first hop not sane (%d exits): %s" % (i, n_exits, l.strip())); fails += 1
sys.exit(1 if fails else 0)
PY
echo "ok: three rounds under the public DoS parameters from 127.0.0.2: no circuit failure, every verdict as expected"
