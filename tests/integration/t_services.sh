#!/bin/bash
# Issue #11 on the local network: `scan --port common` runs end to end (every
# exit's accepted ports are streams of one circuit, each checked in its own
# protocol, one valid record per (exit, port) with its service fields), and
# `circuit --port smtp,http` prints what each service check said.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
EP=${EXITPROBE:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
"$EP" scan --port common,8080 --target 127.0.0.1 --dir-authorities "$EXITPROBE_TESTNET_DIRAUTH" \
  --cache-dir "$tmp/cache" --timeout 4s --output "$tmp/results.jsonl" --quiet >"$tmp/summary" 2>"$tmp/log"
rc=$?
cat "$tmp/summary"
if [ $rc -ne 0 ] && [ $rc -ne 1 ]; then echo "FAIL: exit status $rc"; cat "$tmp/log"; exit 1; fi
python3 - "$EXITPROBE_TESTNET_MANIFEST" "$tmp/results.jsonl" <<'PY' || fails=$((fails + 1))
import json, sys
want_service = {21: "ftp", 22: "ssh", 25: "smtp", 53: "dns", 80: "http", 110: "pop3", 143: "imap",
                443: "https", 465: "submissions", 587: "smtp", 993: "imaps", 995: "pop3s",
                5222: "xmpp", 6667: "irc", 6697: "ircs", 8080: "tcp"}
records = [json.loads(line) for line in open(sys.argv[2])]
fails = 0
ports = set()
for r in records:
    ports.add(r["port"])
    for k in ("service", "service_answer", "tls_version", "cert_sha256", "cert_subject", "cert_issuer",
              "identity", "identity_kind", "expected_identity", "confirm_target", "confirm_class"):
        if k not in r:
            print("FAIL: record without", k, r); fails += 1
    if r["service"] != want_service.get(r["port"]):
        print("FAIL: port %d checked as %r" % (r["port"], r["service"])); fails += 1
    if r["confirm_target"] is not None:
        print("FAIL: --target given, yet a second target", r); fails += 1
    if r["tls_version"] is not None and r["service"] not in ("https", "submissions", "imaps", "pop3s", "ircs"):
        print("FAIL: TLS fields on a plain service", r); fails += 1
print("ports probed:", sorted(ports), "records:", len(records))
if not records or 25 not in ports:
    print("FAIL: no records for port 25"); fails += 1
reach25 = [r for r in records if r["port"] == 25 and r["class"] == "reachable"]
if not reach25 or not all(r["service_answer"] and r["service_answer"].startswith("220") for r in reach25):
    print("FAIL: reachable port-25 records without their 220 answer"); fails += 1
sys.exit(1 if fails else 0)
PY
[ $fails -eq 0 ] && echo "ok: scan --port common: one record per (exit, port), each with its service"

specs=$(mktemp)
python3 "$HERE/relayspecs.py" "$EXITPROBE_TESTNET_MANIFEST" >"$specs"
spec() { awk -v n="$1" '$1 == n { print $2 }' "$specs"; }
out=$("$EP" circuit --first-hop "$(spec relay0)" --exit "$(spec exit0)" --port smtp,http --timeout 5s 2>&1)
rm -f "$specs"
if grep -qE 'service +port 25: smtp answered.*"220' <<<"$out" && grep -qE 'BEGIN 127.0.0.1:80 .*service http' <<<"$out"; then
  echo "ok: circuit --port smtp,http prints what the checks said"
else
  echo "FAIL: circuit --port smtp,http"; echo "$out" | sed 's/^/    /'; fails=$((fails + 1))
fi
[ $fails -eq 0 ]
