#!/bin/bash
# exitprobe circuit against the local network of real tor relays:
# - a link handshake with every relay succeeds and its certificates verify
#   (one-hop circuit + BEGIN_DIR to each relay);
# - a wrong fingerprint gives a clear identity-mismatch error;
# - a 2-hop circuit through each exit, one stream to 127.0.0.1:25, gives the
#   answer its manifest behaviour implies (TESTNET.md: quick END MISC for
#   refused/unreachable, nothing for DROP, CONNECTED then DONE, silence, 554);
# - a port outside the exit's policy gives END EXITPOLICY;
# - a stream on a one-hop circuit to an exit is refused, and the trace shows
#   the reason byte the exit sent;
# - relays named by nickname or fingerprint are looked up in the verified
#   directory (--dir-authorities), and a first hop is picked when none is
#   given; an unknown name exits 3 saying so;
# - --resolve NAME prints each RESOLVED answer: the address through a working
#   resolver, a transient error through the silent one, the lie through the
#   lying one (#14).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
EP=${EXITPROBE:?}
specs=$(mktemp)
cache=$(mktemp -d)
trap 'rm -rf "$specs" "$cache"' EXIT
python3 "$HERE/relayspecs.py" "$EXITPROBE_TESTNET_MANIFEST" >"$specs" || { echo "cannot read relay specs"; exit 1; }
spec() { awk -v n="$1" '$1 == n { print $2 }' "$specs"; }
fails=0
check() { # description, command output, regex
  if grep -qE "$3" <<<"$2"; then echo "ok: $1"; else echo "FAIL: $1"; echo "$2" | sed 's/^/    /'; fails=$((fails + 1)); fi
}

n=0
while read -r nick s; do
  out=$("$EP" circuit --first-hop "$s" --one-hop --port none --begin-dir --timeout 5s 2>&1)
  check "link + certs + BEGIN_DIR with $nick" "$out" "identity verified: .*BEGIN_DIR: connected|BEGIN_DIR: connected"
  check "identity of $nick verified" "$out" "identity verified: $(cut -d~ -f2 <<<"$s")"
  n=$((n + 1))
done <"$specs"
relays=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['relays']))" "$EXITPROBE_TESTNET_MANIFEST")
[ "$n" -eq "$relays" ] && echo "ok: all $n relays reached" || { echo "FAIL: $n of $relays relays have specs"; fails=$((fails + 1)); }

bad=$(spec relay0 | sed -E 's/~(.)/~\1/; s/~([0-9A-F])([0-9A-F]{39})~/~0\2~/')
[ "$bad" = "$(spec relay0)" ] && bad=$(spec relay0 | sed -E 's/~([0-9A-F])([0-9A-F]{39})~/~1\2~/')
out=$("$EP" circuit --first-hop "$bad" --exit "$(spec exit0)" --timeout 5s 2>&1); rc=$?
check "wrong fingerprint: identity mismatch" "$out" "identity mismatch: wanted .* relay proved"
[ $rc -eq 4 ] && echo "ok: exit status 4" || { echo "FAIL: status $rc"; fails=$((fails + 1)); }

first=$(spec relay0)
while read -r nick behaviour; do
  case "$behaviour" in
    reachable) want="class reachable \(CONNECTED after [0-9]+ ms, (answered|greeting): 220" ;;
    reject-*) want="class connect-failed \(END MISC \(1\) after [0-9]+ ms" ;;
    drop) want="class timeout" ;;
    close) want="class closed \(CONNECTED, then END DONE" ;;
    silent) want="class silent" ;;
    banner-554) want="class reachable-unexpected \(the destination refused: 554" ;;
    *) echo "unknown behaviour $behaviour"; fails=$((fails + 1)); continue ;;
  esac
  out=$("$EP" circuit --first-hop "$first" --exit "$(spec "$nick")" --port 25 --timeout 4s 2>&1)
  check "$nick ($behaviour) on port 25" "$out" "$want"
done < <(python3 -c "
import json, sys
for r in json.load(open(sys.argv[1]))['relays']:
    if r.get('port25_behaviour'): print(r['nickname'], r['port25_behaviour'])" "$EXITPROBE_TESTNET_MANIFEST")

# (23: not among the ports the exits accept, see tests/testnet/README.md "Shape")
out=$("$EP" circuit --first-hop "$first" --exit "$(spec exit0)" --port 23 --timeout 5s 2>&1)
check "port outside the policy: END EXITPOLICY" "$out" "END EXITPOLICY \(4\).*address 127.0.0.1"
out=$("$EP" circuit --first-hop "$(spec exit0)" --one-hop --port 25 --trace --timeout 5s 2>&1)
check "one-hop stream refused" "$out" "class protocol-error \(END TORPROTOCOL \(13\)"
check "trace shows the reason byte" "$out" "trace +in +circ 0x[0-9a-f]+ relay .* end stream [0-9]+ len 1 reason torprotocol"
check "trace shows outbound VERSIONS" "$out" "trace +out circ 0x00000000 versions"

dir=(--dir-authorities "$EXITPROBE_TESTNET_DIRAUTH" --cache-dir "$cache")
# $EXITPROBE_DIR_AUTHORITIES is the default for --dir-authorities (testnet env exports it: nothing here asks the
# public authorities)
out=$(EXITPROBE_DIR_AUTHORITIES="$EXITPROBE_TESTNET_DIRAUTH" "$EP" circuit --exit exit3 --cache-dir "$cache" --port 25 --timeout 4s 2>&1)
check "by nickname, the authorities from \$EXITPROBE_DIR_AUTHORITIES" "$out" "relay +exit exit3 \($(spec exit3 | cut -d~ -f2)\)"
out=$("$EP" circuit --exit exit3 "${dir[@]}" --port 25 --timeout 4s 2>&1)
check "by nickname: the exit looked up" "$out" "relay +exit exit3 \($(spec exit3 | cut -d~ -f2)\)"
check "by nickname: a first hop picked" "$out" "relay +first-hop [A-Za-z0-9]+ \([0-9A-F]{40}\), picked from the directory"
check "by nickname: exit3 refuses port 25" "$out" "class connect-failed \(END MISC"
fp0=$(spec exit0 | cut -d~ -f2)
out=$("$EP" circuit --exit "$fp0" --first-hop relay1 "${dir[@]}" --port 25 --timeout 4s 2>&1)
check "by fingerprint, first hop by nickname" "$out" "relay +first-hop relay1 \([0-9A-F]{40}\)$"
check "by fingerprint: exit0 reachable" "$out" "class reachable \(CONNECTED after [0-9]+ ms, answered: 220"
out=$("$EP" circuit --exit "\$$(tr A-F a-f <<<"$fp0")" "${dir[@]}" --port 23 --timeout 4s 2>&1)
check "lower-case \$fingerprint: END EXITPOLICY on port 23 (the policy rejects it)" "$out" "END EXITPOLICY \(4\)"
out=$("$EP" circuit --exit nosuchrelay "${dir[@]}" --timeout 4s 2>&1); rc=$?
check "unknown nickname named" "$out" "relay nosuchrelay: no relay has this nickname"
[ $rc -eq 3 ] && echo "ok: unknown relay: exit status 3" || { echo "FAIL: unknown relay: status $rc"; fails=$((fails + 1)); }

# --resolve (#14): RELAY_RESOLVE at each kind of exit resolver (tests/testnet/README.md "Exits' resolvers"),
# answer by answer; no stream is opened without --port.
name=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["identities"]["dns_name"])' "$EXITPROBE_TESTNET_MANIFEST")
out=$("$EP" circuit --first-hop "$first" --exit "$(spec exit0)" --resolve "$name" --timeout 8s --trace 2>&1)
check "--resolve through exit0 (dnsmasq): the address and its TTL" "$out" "answer +1: 127\.0\.0\.1 ttl [0-9]+"
check "--resolve: the cells (RESOLVE out, RESOLVED in)" "$out" "in  circ 0x[0-9a-f]+ relay .* resolved stream [0-9]+ len 10"
if grep -qE "BEGIN |begin " <<<"$out"; then echo "FAIL: --resolve alone opened a stream"; fails=$((fails + 1)); else echo "ok: --resolve alone opens no stream"; fi
out=$("$EP" circuit --first-hop "$first" --exit "$(spec exit1)" --resolve "$name" --timeout 8s 2>&1)
check "--resolve through exit1 (silent resolver): a transient error" "$out" "resolved +$name after [0-9]+ ms: 1 answer \(error, transient\)"
out=$("$EP" circuit --first-hop "$first" --exit "$(spec exit2)" --resolve "$name" --timeout 8s 2>&1)
check "--resolve through exit2 (lying resolver): the lie" "$out" "answer +1: 127\.0\.0\.66 ttl [0-9]+"
out=$("$EP" circuit --first-hop "$first" --exit "$(spec v6exit0)" --resolve dual.exitprobe-testnet.test --port 25 --timeout 8s 2>&1)
check "--resolve with --port: A and AAAA" "$out" "answer +2: ::1 ttl [0-9]+"
check "--resolve with --port: the stream too" "$out" "port 25: class reachable"

# --tor-data-dir (#13): the relays looked up in a snapshot of a relay's own DataDirectory
netdir=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["dir"])' "$EXITPROBE_TESTNET_MANIFEST")
for d in "$netdir"/relay*/data "$netdir"/exit*/data; do
  if [ -s "$d/cached-microdesc-consensus" ] && [ -s "$d/cached-certs" ]; then
    cp -r "$d" "$cache/datadir"
    break
  fi
done
out=$("$EP" circuit --exit exit0 --tor-data-dir "$cache/datadir" --dir-authorities "$EXITPROBE_TESTNET_DIRAUTH" \
  --no-cache --port 25 --timeout 4s 2>&1)
check "--tor-data-dir: the directory read from files" "$out" "consensus from file"
check "--tor-data-dir: exit0 looked up and reachable" "$out" "class reachable \(CONNECTED after [0-9]+ ms, answered: 220"
[ $fails -eq 0 ]
