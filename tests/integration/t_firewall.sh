#!/bin/bash
# The harness did what its manifest says: as each exit's own uid (the uid its tor runs under), connect to
# 127.0.0.1:25 and to the exit's other policy ports, and compare with the exit's port_behaviours (port 25:
# port25_behaviour): the real service's first words, or the failure the behaviour stands for.
# Also checks the firewall chains' shape (loopback-only safety rules, jumps from OUTPUT).
set -u
: "${EXITPROBE_TESTNET_MANIFEST:?run me through tests/integration/run (needs the testnet env)}"
LIB=${INTEGRATION_LIB:-$(cd "$(dirname "$0")" && pwd)/lib}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

/usr/bin/python3 - "$EXITPROBE_TESTNET_MANIFEST" >"$tmp/list" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
for r in m["relays"]:
    if r["role"] == "exit":
        ports = [p for p, v in r["expected"].items() if v != "exitpolicy"]
        print(r["nickname"], r["uid"], r["port25_behaviour"], " ".join(ports))
PY

# All probes in parallel (one process per exit uid, one thread per port): the slowest (drop, silent) take ~2 s.
while read -r nick uid beh ports; do
	specs=()
	for port in $ports; do
		case $port in
			80) specs+=("$port/http") ;;
			*) specs+=("$port/quit") ;;
		esac
	done
	setpriv --reuid="$uid" --regid="$uid" --clear-groups \
		/usr/bin/python3 "$LIB/tcpprobe.py" 127.0.0.1 "${specs[@]}" --connect-timeout 2 --read-timeout 2 \
		>"$tmp/$nick" 2>&1 &
done <"$tmp/list"
wait

chain=EXPRB$EXITPROBE_TESTNET_BASE_PORT
iptables -w -S "$chain" >"$tmp/filter" 2>&1
iptables -w -t nat -S "$chain" >"$tmp/nat" 2>&1
ip6tables -w -S "$chain" >"$tmp/filter6" 2>&1
iptables -w -S OUTPUT >"$tmp/out" 2>&1
iptables -w -t nat -S OUTPUT >"$tmp/natout" 2>&1
ip6tables -w -S OUTPUT >"$tmp/out6" 2>&1
# Root is outside the network's uids: its connections to port 25 must not be redirected.
root25=skip
if ! ss -Hltn 'sport = :25' | grep -q .; then
	root25=$(/usr/bin/python3 "$LIB/tcpprobe.py" 127.0.0.1 25 --connect-timeout 2 --read-timeout 1)
fi

/usr/bin/python3 - "$EXITPROBE_TESTNET_MANIFEST" "$tmp" "$root25" <<'PY'
import json, os, sys
m = json.load(open(sys.argv[1]))
tmp, root25 = sys.argv[2], sys.argv[3]
fails = 0

def check(ok, what):
    global fails
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        fails += 1

def want25(beh, r):
    res, t = r.get("result"), r.get("after_s", 99)
    data = r.get("data", "")
    if beh == "reachable":
        return res == "data" and data.startswith("220 ") and r.get("quit", "").startswith("221")
    # (no time limit on the REJECTs: the result itself cannot come from a DROP, and a loaded machine
    # with 50 probes in parallel has been seen to take 1.1 s to start one)
    if beh in ("reject-tcp-reset", "reject-icmp-port-unreachable"):
        return res == "refused"
    if beh == "reject-icmp-host-unreachable":
        return res == "ehostunreach"
    if beh == "drop":
        return res == "timeout" and t >= 1.9
    if beh == "close":
        return res == "eof"
    if beh == "silent":
        return res == "silent" and t >= 1.9
    if beh == "banner-554":
        return res == "data" and data.startswith("554 ")
    return False

# First words of each real service (server speaks first); the others (TLS, HTTP is asked, DNS, XMPP, IRC)
# only have to accept the connection and wait for the client.
GREETING = {21: "220 ", 22: "SSH-2.0-", 25: "220 ", 110: "+OK", 119: "200 ", 143: "* OK", 587: "220 ",
            2525: "220 "}


def want_service(port, r):
    res, data = r.get("result"), r.get("data", "")
    if port in GREETING:
        return res == "data" and data.startswith(GREETING[port]) and (
            not data.startswith("220 ") or r.get("quit", "").startswith("221"))
    if port == 80:
        return res == "data" and data.startswith("HTTP/1.1 200")
    return res == "silent"


def want_other(beh, r):
    res, data = r.get("result"), r.get("data", "")
    if beh in ("reject-tcp-reset", "reject-icmp-host-unreachable", "reject-icmp-port-unreachable", "drop",
               "close", "silent", "banner-554"):
        return want25(beh, r)
    if beh == "smtp-intercept":
        return res == "data" and data.startswith("220 mx.intercept.test")
    if beh == "endless-banner":
        return res == "data" and data.startswith("220-xxxx")
    return res == "silent"      # TLS fakes and the XML bomb wait for the client's first bytes


for rel in m["relays"]:
    if rel["role"] != "exit":
        continue
    for port, exp in rel["expected"].items():
        if exp == "exitpolicy":
            continue
        path = os.path.join(tmp, rel["nickname"])
        try:
            r = [x for x in map(json.loads, open(path).read().splitlines()) if str(x["port"]) == port][0]
        except Exception as e:
            check(False, f"{rel['nickname']} uid {rel['uid']} port {port}: no probe result ({e}): "
                         f"{open(path).read() if os.path.exists(path) else ''}")
            continue
        beh = rel.get("port_behaviours", {}).get(port, "reachable")
        if port == "25":
            ok = want25(rel["port25_behaviour"], r)
            what = rel["port25_behaviour"]
        elif beh != "reachable":
            ok = want_other(beh, r)
            what = beh
        else:
            ok = want_service(int(port), r)
            what = m.get("ports", {}).get("service", {}).get(port, "service")
        check(ok, f"{rel['nickname']:<7} uid {rel['uid']} 127.0.0.1:{port:<4} expect {what:<29} got "
                  f"{r.get('result')} {r.get('data', '')!r} after {r.get('after_s')} s")

# Firewall shape.
chain = m["chain"]
lo, hi = m["uid_range"]
rd = lambda n: open(os.path.join(tmp, n)).read()
check(f"! -d 127.0.0.0/8 -m owner --uid-owner {lo}-{hi}" in rd("filter") and "-j REJECT" in rd("filter"),
      f"{chain}: IPv4 safety rule (uids {lo}-{hi}: loopback only)")
check(f"! -d ::1/128 -m owner --uid-owner {lo}-{hi}" in rd("filter6"),
      f"{chain}: IPv6 safety rule (uids {lo}-{hi}: ::1 only)")
for n in ("out", "natout", "out6"):
    check(f"--uid-owner {lo}-{hi}" in rd(n) and f"-j {chain}" in rd(n), f"OUTPUT jump to {chain} in {n}")
nat = rd("nat")
FILTERED = ("reject-tcp-reset", "reject-icmp-port-unreachable", "reject-icmp-host-unreachable", "drop")
for rel in m["relays"]:
    if rel["role"] != "exit":
        continue
    for port, beh in rel.get("port_behaviours", {"25": rel["port25_behaviour"]}).items():
        if beh in FILTERED:
            # TCP: the exit's own resolver's UDP to 127.0.0.1:53 has its nat rule (issue #14)
            bad = [l for l in nat.splitlines() if f"--dport {port} " in l and f"--uid-owner {rel['uid']} " in l
                   and "-p udp" not in l]
            check(not bad, f"{rel['nickname']}: no nat rule on port {port} (filter decides)")
    # issue #14: every exit's resolver (UDP 127.0.0.1:53) goes to the one the manifest names
    want = f"--dport 53 -m owner --uid-owner {rel['uid']} "
    res = [l for l in nat.splitlines() if "-p udp" in l and want in l]
    check(len(res) == 1 and f"--to-ports {m['services'][rel['resolver']]}" in res[0],
          f"{rel['nickname']}: its resolver is {rel['resolver']} ({res})")
if root25 != "skip":
    r = json.loads(root25)
    check(r.get("result") == "refused", f"root (outside the uid range) to 127.0.0.1:25 is not redirected: {r}")

print(f"t_firewall: {fails} failure(s)")
sys.exit(1 if fails else 0)
PY
