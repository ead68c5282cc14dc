#!/bin/bash
# Issue #13 acceptance on the local network: probing exits over IPv6.
# 1. `exitprobe scan --ipv6 --target ::1 --port 22,25,80,443,110`, two rounds: exactly the IPv6 exits (IPv6Exit 1,
#    "p6 accept 22,25,80,443") are probed, on exactly the ports their p6 line accepts (none accepts 110); the
#    10 IPv4-only exits and only25 (no p6 line) are not probed at all; every record has ip_version 6 and the
#    class and verdict of the manifest's expect6; a connected record names ::1 in connected_addr; v6exit2,
#    rejected on [::1]:25 by ip6tables, is a violator (connect-failed) on port 25.
# 2. `--ip-version 4,6 --target dual.exitprobe-testnet.test` (A 127.0.0.1 and AAAA ::1, resolved by the exit)
#    through the IPv6 exits: the IPv4 records connected to 127.0.0.1 with the classes of expect, the IPv6 ones
#    to ::1 with those of expect6 (the exit picked the address the BEGIN flags asked for); v6exit2 honours
#    port 25 over IPv4 and violates it over IPv6.
# test-timeout: 180
set -u
EP=${EXITPROBE:?}
: "${EXITPROBE_TESTNET_MANIFEST:?run me through tests/integration/run (needs the testnet env)}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
M=$EXITPROBE_TESTNET_MANIFEST
nv6=$(/usr/bin/python3 -c 'import json,sys; print(sum(1 for r in json.load(open(sys.argv[1]))["relays"] if r.get("expect6")))' "$M")
if [ "$nv6" -lt 3 ]; then
	echo "FAIL: the manifest lists $nv6 IPv6 exits (want at least 3: a testnet without IPv6 exits?)"
	exit 1
fi

"$EP" scan --ipv6 --port 22,25,80,443,110 --target ::1 --dir-authorities "$EXITPROBE_TESTNET_DIRAUTH" \
	--cache-dir "$tmp/cache" --timeout 8s --rounds 2 --output "$tmp/v6.jsonl" --quiet >"$tmp/v6.summary" 2>"$tmp/v6.log"
rc=$?
cat "$tmp/v6.summary"
[ $rc -eq 1 ] || { echo "FAIL: scan --ipv6: exit status $rc (want 1: a violator)"; tail -n 30 "$tmp/v6.log"; exit 1; }

dual=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["identities"]["dual_name"])' "$M")
exits=()
for fp in $(/usr/bin/python3 -c 'import json,sys; print(" ".join(r["fingerprint"] for r in json.load(open(sys.argv[1]))["relays"] if r.get("expect6")))' "$M"); do
	exits+=(--exit "$fp")
done
"$EP" scan --ip-version 4,6 --port 25,80 --target "$dual" "${exits[@]}" --dir-authorities "$EXITPROBE_TESTNET_DIRAUTH" \
	--cache-dir "$tmp/cache" --timeout 8s --output "$tmp/v46.jsonl" --quiet >"$tmp/v46.summary" 2>"$tmp/v46.log"
rc=$?
cat "$tmp/v46.summary"
[ $rc -eq 1 ] || { echo "FAIL: scan --ip-version 4,6: exit status $rc (want 1)"; tail -n 30 "$tmp/v46.log"; exit 1; }

/usr/bin/python3 - "$M" "$tmp/v6.jsonl" "$tmp/v46.jsonl" <<'PY'
import ipaddress, json, sys
m = json.load(open(sys.argv[1]))
fails = 0


def check(ok, what):
    global fails
    print(("ok   " if ok else "FAIL ") + what)
    fails += not ok


def is_v6(a):
    try:
        return ipaddress.ip_address(a).version == 6
    except (TypeError, ValueError):
        return False


nick = {r["fingerprint"].upper(): r["nickname"] for r in m["relays"]}
v6exits = {r["fingerprint"].upper(): r for r in m["relays"] if r.get("expect6")}
v4only = sorted(r["nickname"] for r in m["relays"] if r["role"] == "exit" and not r.get("expect6"))
check(len(v4only) >= 10, f"{len(v4only)} exits without IPv6Exit in the manifest ({', '.join(v4only)})")


def check_record(rec, e, want_addr, what):
    ok = rec["class"] == e["class"] and rec["verdict"] == e["verdict"]
    if e["class"] in ("reachable", "reachable-unexpected", "intercepted"):
        ok = ok and rec["connected_addr"] == want_addr
    else:
        ok = ok and rec["connected_addr"] is None
    check(ok, f"{what}: {rec['class']}/{rec['verdict']}, connected_addr {rec['connected_addr']} "
              f"(want {e['class']}/{e['verdict']}, {e['behaviour']}) — {rec['detail']}")


# 1. scan --ipv6
recs = [json.loads(l) for l in open(sys.argv[2])]
want = {(fp, p) for fp, r in v6exits.items() for p in r["expect6"]}
by_round = {}
for rec in recs:
    by_round.setdefault(rec["round"], {})[(rec["exit"]["fingerprint"].upper(), str(rec["port"]))] = rec
check(sorted(by_round) == [1, 2], f"--ipv6: two rounds (got {sorted(by_round)})")
for rnd, got in sorted(by_round.items()):
    extra = sorted(f"{nick.get(k[0], k[0])}:{k[1]}" for k in set(got) - set(want))
    missing = sorted(f"{nick[k[0]]}:{k[1]}" for k in set(want) - set(got))
    check(not extra and not missing, f"--ipv6 round {rnd}: {len(got)} records, exactly the IPv6 exits on their p6 "
                                     f"ports ({len(want)}); extra {extra}, missing {missing}")
    check(not any(k[1] == "110" for k in got), f"--ipv6 round {rnd}: port 110 (in no p6 line) not probed")
    check(not any(nick.get(k[0]) in v4only for k in got),
          f"--ipv6 round {rnd}: none of the {len(v4only)} exits without IPv6Exit probed")
    for k in sorted(set(want) & set(got)):
        rec = got[k]
        check(rec["ip_version"] == 6, f"--ipv6 round {rnd} {nick[k[0]]}:{k[1]}: ip_version {rec['ip_version']}")
        check_record(rec, v6exits[k[0]]["expect6"][k[1]], "::1", f"--ipv6 round {rnd} {nick[k[0]]}:{k[1]}")
viol = {(nick[r["exit"]["fingerprint"].upper()], r["port"]) for r in recs if r["verdict"] == "violates"}
want_viol = {(r["nickname"], int(p)) for r in v6exits.values() for p, e in r["expect6"].items()
             if e["verdict"] == "violates"}
check(viol == want_viol and want_viol, f"--ipv6: violators {sorted(viol)} == the manifest's {sorted(want_viol)}")
check(all(is_v6(r["connected_addr"]) for r in recs if r["class"] == "reachable"),
      "--ipv6: every reachable record's connected_addr is an IPv6 address")

# 2. --ip-version 4,6 with a name that has both A and AAAA
recs = [json.loads(l) for l in open(sys.argv[3])]
got = {(r["exit"]["fingerprint"].upper(), str(r["port"]), r["ip_version"]): r for r in recs}
want = {(fp, p, v) for fp in v6exits for p in ("25", "80") for v in (4, 6)}
check(set(got) == want and len(recs) == len(want),
      f"--ip-version 4,6: {len(recs)} records, one per (IPv6 exit, port 25/80, IP version): {len(want)}")
for k in sorted(set(want) & set(got)):
    fp, p, v = k
    e = v6exits[fp]["expect6"][p] if v == 6 else v6exits[fp]["expect"][p]
    check_record(got[k], e, "::1" if v == 6 else "127.0.0.1", f"--ip-version 4,6 {nick[fp]}:{p} over IPv{v}")
blocked = [(fp, p) for fp, r in v6exits.items() for p, e in r["expect6"].items()
           if p in ("25", "80") and e["verdict"] == "violates"]
check(len(blocked) == 1, f"one (exit, port) blocked over IPv6 only: {[(nick[f], p) for f, p in blocked]}")
for fp, p in blocked:
    r4, r6 = got.get((fp, p, 4)), got.get((fp, p, 6))
    check(r4 is not None and r6 is not None and r4["verdict"] == "honours" and r6["verdict"] == "violates",
          f"{nick[fp]}:{p}: honours over IPv4 ({r4 and r4['class']}), violates over IPv6 ({r6 and r6['class']})")
print(f"{fails} failure(s)")
sys.exit(1 if fails else 0)
PY
