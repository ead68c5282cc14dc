#!/bin/bash
# `exitprobe exits --port 25` against the local network's authorities: it fetches the consensus, the
# authority certificates and the microdescriptors from the DirPorts, verifies them, and must list exactly
# the manifest's relays whose policy accepts port 25 (the 13 exits and the accept-25-only relay), with
# their fingerprints, nicknames and ORPorts, verified by all 3 authorities' signatures. A second run must
# take the consensus and microdescriptors from the cache (no request); a run with one authority's DirPort
# unreachable must still succeed; --full-policy answers from server descriptors; --dir-via orport gets the
# same over BEGIN_DIR; with the authorities' keys unknown there is no verified directory (exit status 3).
set -u
: "${EXITPROBE_TESTNET_MANIFEST:?run me through tests/integration/run (needs the testnet env)}"
: "${EXITPROBE:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi; }

cache="$tmp/cache"
run() {  # run NAME ARGS...: stdout to $tmp/NAME.out, stderr to $tmp/NAME.err, status to $tmp/NAME.rc
	local name=$1; shift
	local t0=$EPOCHREALTIME
	"$EXITPROBE" --log-level info exits --port 25 --json "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
	echo $? >"$tmp/$name.rc"
	awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d\n", (b - a) * 1000 }' >"$tmp/$name.ms"
	echo "--- $name: exit $(cat "$tmp/$name.rc"), $(cat "$tmp/$name.ms") ms; stderr:"
	sed 's/^/    /' "$tmp/$name.err"
}

# Compare a JSON Lines output with the manifest: exactly the relays whose policy accepts 25.
compare() {  # compare NAME [BASIS]
	/usr/bin/python3 - "$EXITPROBE_TESTNET_MANIFEST" "$tmp/$1.out" "${2:-summary}" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
basis = sys.argv[3]
def accepts25(pol):
    for rule in pol.split(","):
        verb, _, pat = rule.strip().partition(" ")
        addr, _, port = pat.rpartition(":")
        if verb not in ("accept", "reject") or addr != "*":
            continue   # accept6/reject6 (the IPv6 exits): not the IPv4 policy `exits --port 25` lists by
        lo, _, hi = port.partition("-")
        if port == "*" or int(lo) <= 25 <= int(hi or lo):
            return verb == "accept"
    return True
want = {r["fingerprint"]: r for r in m["relays"] if accepts25(r["exit_policy"])}
got = {}
bad = 0
for line in open(sys.argv[2]):
    o = json.loads(line)
    got[o["fingerprint"]] = o
for fp, r in want.items():
    o = got.get(fp)
    if o is None:
        print(f"  missing {r['nickname']} {fp}"); bad += 1; continue
    for k, v in (("nickname", r["nickname"]), ("or_port", r["orport"]), ("address", "127.0.0.1"),
                 ("port", 25), ("policy_basis", basis), ("policy_verdict", "accept"),
                 ("policy_may_be_restricted", False), ("policy_some_may_be_rejected", basis == "summary"),
                 ("has_ntor_key", True), ("badexit", False)):
        if o.get(k) != v:
            print(f"  {r['nickname']}: {k} = {o.get(k)!r}, want {v!r}"); bad += 1
    if r.get("ed25519") and o.get("ed25519") and r["ed25519"].rstrip("=") != o["ed25519"]:
        print(f"  {r['nickname']}: ed25519 {o['ed25519']} != manifest {r['ed25519']}"); bad += 1
    if "Running" not in o["flags"] or "Valid" not in o["flags"]:
        print(f"  {r['nickname']}: flags {o['flags']}"); bad += 1
    if r.get("exit_flag_expected") and "Exit" not in o["flags"]:
        print(f"  {r['nickname']}: no Exit flag: {o['flags']}"); bad += 1
for fp, o in got.items():
    if fp not in want:
        print(f"  unexpected {o['nickname']} {fp}"); bad += 1
print(f"  {len(got)} listed, {len(want)} expected ({', '.join(sorted(r['nickname'] for r in want.values()))})")
sys.exit(1 if bad else 0)
PY
}

n_auth=$(/usr/bin/python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["authorities"]))' "$EXITPROBE_TESTNET_MANIFEST")

# 1. From the network, into an empty cache.
run first --dir-authorities "$EXITPROBE_TESTNET_DIRAUTH" --cache-dir "$cache"
check "first run: exit status 0" '[ "$(cat "$tmp/first.rc")" = 0 ]'
check "first run: lists exactly the relays accepting 25" 'compare first'
check "first run: fetched the consensus from an authority's DirPort" \
	'grep -q "fetched consensus-microdesc from auth[0-9] 127.0.0.1:" "$tmp/first.err"'
check "first run: fetched the authority certificates" 'grep -q "fetched certificates from auth" "$tmp/first.err"'
check "first run: verified with all $n_auth authorities' signatures" \
	'grep -q "signed by $n_auth of $n_auth authorities" "$tmp/first.err"'
check "first run: fetched the microdescriptors" 'grep -q "fetched microdescriptors from auth" "$tmp/first.err"'
check "first run: wrote the cache" 'ls "$cache"/net-*/consensus-microdesc "$cache"/net-*/certs "$cache"/net-*/microdescs >/dev/null'

# 2. Again: everything from the cache, no request at all.
run second --dir-authorities "$EXITPROBE_TESTNET_DIRAUTH" --cache-dir "$cache"
check "second run: exit status 0" '[ "$(cat "$tmp/second.rc")" = 0 ]'
check "second run: same list" 'compare second'
check "second run: used the cached consensus" 'grep -q "using the cached consensus-microdesc" "$tmp/second.err"'
check "second run: asked no authority" '! grep -q "asking auth\|fetched " "$tmp/second.err" && grep -q "0 requests (0 failed)" "$tmp/second.err"'

# 3. Without the cache, with the first authority's DirPort replaced by a closed port.
/usr/bin/python3 - "$EXITPROBE_TESTNET_DIRAUTH" "$tmp/auth-one-down" <<'PY'
import re, socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
lines = open(sys.argv[1]).read().splitlines()
out, done = [], False
for l in lines:
    if not done and l.startswith("DirAuthority "):
        l = re.sub(r" 127\.0\.0\.1:\d+ ", f" 127.0.0.1:{port} ", l, count=1); done = True
    out.append(l)
open(sys.argv[2], "w").write("\n".join(out) + "\n")
PY
run down --dir-authorities "$tmp/auth-one-down" --no-cache --in-order
check "one authority down: exit status 0" '[ "$(cat "$tmp/down.rc")" = 0 ]'
check "one authority down: same list" 'compare down'
check "one authority down: said so and went on" \
	'grep -q "ECONNREFUSED" "$tmp/down.err" && grep -q "trying auth" "$tmp/down.err"'

# 4. Full policies from the server descriptors: the same relays, answered by "accept *:25" itself.
run full --dir-authorities "$EXITPROBE_TESTNET_DIRAUTH" --no-cache --full-policy
check "full policies: exit status 0" '[ "$(cat "$tmp/full.rc")" = 0 ]'
check "full policies: same list, basis full, nothing hidden" 'compare full full'
check "full policies: fetched server descriptors" 'grep -q "fetched server descriptors from auth" "$tmp/full.err"'

# 5. Over BEGIN_DIR to the authorities' ORPorts instead of their DirPorts.
run orport --dir-authorities "$EXITPROBE_TESTNET_DIRAUTH" --no-cache --dir-via orport
check "via ORPort: exit status 0" '[ "$(cat "$tmp/orport.rc")" = 0 ]'
check "via ORPort: same list" 'compare orport'

# 6. One trusted v3 identity wrong: 2 of 3 good signatures are still a majority. All wrong: no verified
#    directory, exit status 3, nothing listed.
sed '0,/v3ident=[0-9A-F]\{4\}/s//v3ident=0000/' "$EXITPROBE_TESTNET_DIRAUTH" >"$tmp/auth-wrong"
run wrong --dir-authorities "$tmp/auth-wrong" --no-cache
check "one authority key unknown: still verified by the other $((n_auth - 1)) of $n_auth" \
	'[ "$(cat "$tmp/wrong.rc")" = 0 ] && grep -q "signed by $((n_auth - 1)) of $n_auth authorities" "$tmp/wrong.err"'
sed 's/v3ident=[0-9A-F]\{4\}/v3ident=0000/' "$EXITPROBE_TESTNET_DIRAUTH" >"$tmp/auth-allwrong"
run allwrong --dir-authorities "$tmp/auth-allwrong" --no-cache
check "no trusted authority signed: exit status 3" '[ "$(cat "$tmp/allwrong.rc")" = 3 ]'
check "no trusted authority signed: says why" 'grep -q "not a trusted authority\|no verified" "$tmp/allwrong.err"'
check "no trusted authority signed: lists nothing" '[ ! -s "$tmp/allwrong.out" ]'

# 7. --outbound-address (#13): every connection from 127.0.0.2, as a multi-homed host would; the same
#    list. An address on no interface fails at bind, before any packet, and says so.
run outbound --dir-authorities "$EXITPROBE_TESTNET_DIRAUTH" --no-cache --outbound-address 127.0.0.2
check "from 127.0.0.2: exit status 0" '[ "$(cat "$tmp/outbound.rc")" = 0 ]'
check "from 127.0.0.2: same list" 'compare outbound'
run nobind --dir-authorities "$EXITPROBE_TESTNET_DIRAUTH" --no-cache --outbound-address 192.0.2.1 --timeout 10s
check "from an address on no interface: no directory (exit 3), says why" \
	'[ "$(cat "$tmp/nobind.rc")" = 3 ] && grep -q "cannot bind to the outbound address 192.0.2.1" "$tmp/nobind.err"'

# 8. --tor-data-dir (#13): a tor of the network's own DataDirectory (cached-microdesc-consensus,
#    cached-certs, cached-microdescs(.new), and an authority's cached-descriptors: full policies), read
#    as files: the same list, answered by the full policies, no request.
netdir=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["dir"])' "$EXITPROBE_TESTNET_MANIFEST")
datadir=""
for d in "$netdir"/*/data; do
	if [ -s "$d/cached-microdesc-consensus" ] && [ -s "$d/cached-certs" ] &&
		{ [ -s "$d/cached-microdescs" ] || [ -s "$d/cached-microdescs.new" ]; }; then
		datadir=$d
		break
	fi
done
check "a DataDirectory with a microdesc consensus, certs and microdescs ($datadir)" '[ -n "$datadir" ]'
if [ -n "$datadir" ]; then
	cp -r "$datadir" "$tmp/datadir"   # a snapshot: the tor keeps writing its own
	run datadir --dir-authorities "$EXITPROBE_TESTNET_DIRAUTH" --no-cache --tor-data-dir "$tmp/datadir"
	check "--tor-data-dir: exit status 0" '[ "$(cat "$tmp/datadir.rc")" = 0 ]'
	check "--tor-data-dir: same list (full policies from cached-descriptors)" 'compare datadir full'
	check "--tor-data-dir: read from files" 'grep -q "consensus from file" "$tmp/datadir.err"'
fi

echo "timings (whole process, sanitizers if built with them): first $(cat "$tmp/first.ms") ms, cached $(cat "$tmp/second.ms") ms, one down $(cat "$tmp/down.ms") ms, full policies $(cat "$tmp/full.ms") ms, via ORPort $(cat "$tmp/orport.ms") ms"
echo "t_exits: $fails failure(s)"
[ $fails -eq 0 ]
