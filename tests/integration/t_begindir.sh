#!/bin/bash
# BEGIN_DIR over an authority's ORPort (one-hop circuit, CREATE_FAST and
# ntor) gives the consensus byte-identical to the DirPort copy. The network
# votes often, so the DirPort is read before and after: the ORPort copy must
# equal one of them.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
EP=${EXITPROBE:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 "$HERE/relayspecs.py" "$EXITPROBE_TESTNET_MANIFEST" >"$tmp/specs" || exit 1
fails=0
for auth in $(python3 -c "import json,sys; print(' '.join(a['nickname'] for a in json.load(open(sys.argv[1]))['authorities']))" "$EXITPROBE_TESTNET_MANIFEST"); do
  spec=$(awk -v n="$auth" '$1 == n { print $2 }' "$tmp/specs")
  dirport=$(python3 -c "import json,sys; print([a['dirport'] for a in json.load(open(sys.argv[1]))['authorities'] if a['nickname']==sys.argv[2]][0])" "$EXITPROBE_TESTNET_MANIFEST" "$auth")
  for doc in consensus consensus-microdesc; do
    path=/tor/status-vote/current/$doc
    for how in fast ntor; do
      ok=0
      for try in 1 2 3; do
        "$EP" fetch --dirport "127.0.0.1:$dirport" "$path" --output "$tmp/before" 2>/dev/null
        if [ $how = fast ]; then orspec=$(cut -d~ -f1-2 <<<"$spec"); else orspec=$spec; fi
        "$EP" fetch --orport "$orspec" "$path" --output "$tmp/or" 2>"$tmp/err" || { cat "$tmp/err"; break; }
        "$EP" fetch --dirport "127.0.0.1:$dirport" "$path" --output "$tmp/after" 2>/dev/null
        if cmp -s "$tmp/or" "$tmp/before" || cmp -s "$tmp/or" "$tmp/after"; then ok=1; break; fi
      done
      if [ $ok = 1 ]; then
        echo "ok: $auth $doc over BEGIN_DIR ($how) is byte-identical to the DirPort copy ($(wc -c <"$tmp/or") bytes)"
      else
        echo "FAIL: $auth $doc over BEGIN_DIR ($how) differs from the DirPort copy"; fails=$((fails + 1))
      fi
    done
  done
done
# A relay's wrong identity is refused before any byte of the document.
spec=$(awk '$1 == "auth0" { print $2 }' "$tmp/specs")
bad=$(sed -E 's/~[0-9A-F]{40}/~0000000000000000000000000000000000000000/' <<<"$spec")
if "$EP" fetch --orport "$bad" /tor/status-vote/current/consensus 2>&1 >/dev/null | grep -q "identity mismatch"; then
  echo "ok: wrong identity refused"
else
  echo "FAIL: wrong identity not refused"; fails=$((fails + 1))
fi
# The directory client over BEGIN_DIR (--dir-via orport): verified directory, then a probe.
exit0=$(awk '$1 == "exit0" { print $2 }' "$tmp/specs" | cut -d~ -f2)
if "$EP" scan --port 25 --target 127.0.0.1 --dir-authorities "$EXITPROBE_TESTNET_DIRAUTH" --dir-via orport \
     --no-cache --quiet --exit "$exit0" --json 2>"$tmp/via.log" | grep -q '"class":"reachable"'; then
  echo "ok: scan --dir-via orport: verified directory over BEGIN_DIR, exit0 reachable"
else
  echo "FAIL: scan --dir-via orport"; cat "$tmp/via.log"; fails=$((fails + 1))
fi
[ $fails -eq 0 ]
