#!/bin/bash
# Contact information in the records (issue #12), from the local network's
# server descriptors (tests/testnet/testnet CONTACT_INFO):
# - exit3's ContactInfo Information Sharing line gives contact_email,
#   contact_url and ciiss_version;
# - exit4's line with HTML and a control character is kept byte for byte
#   (JSON-escaped) and its email decoded;
# - exit5 has no contact line: null; the others keep "NICK@test.invalid"
#   with no email; every record has the tor platform and a family array.
set -u
EP=${EXITPROBE:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$EP" scan --port 25 --target 127.0.0.1 --dir-authorities "$EXITPROBE_TESTNET_DIRAUTH" \
  --cache-dir "$tmp/cache" --timeout 4s --output "$tmp/results.jsonl" --quiet >"$tmp/summary" 2>"$tmp/log"
rc=$?
[ $rc -eq 1 ] || { echo "FAIL: exit status $rc (want 1: violators found)"; cat "$tmp/log"; exit 1; }
python3 - "$tmp/results.jsonl" <<'PY' || exit 1
import json, sys
recs = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    recs[r["exit"]["nickname"]] = r
fails = 0
def check(what, got, want):
    global fails
    if got == want:
        print("ok: %s: %r" % (what, got))
    else:
        print("FAIL: %s: %r, want %r" % (what, got, want)); fails += 1
e3, e4, e5, e0 = recs.get("exit3"), recs.get("exit4"), recs.get("exit5"), recs.get("exit0")
if None in (e3, e4, e5, e0):
    print("FAIL: missing records:", sorted(recs)); sys.exit(1)
check("exit3 contact_email", e3["contact_email"], "exit3-op@example.com")
check("exit3 contact_url", e3["contact_url"], "https://example.com")
check("exit3 ciiss_version", e3["ciiss_version"], "2")
check("exit3 ciiss_proof", e3["ciiss_proof"], None)
check("exit4 contact kept raw", e4["contact"], "<b>x</b>\x01 email:op[]example.com")
check("exit4 contact_email", e4["contact_email"], "op@example.com")
check("exit5 contact", e5["contact"], None)
check("exit5 contact_email", e5["contact_email"], None)
check("exit0 contact", e0["contact"], "exit0@test.invalid")
check("exit0 contact_email", e0["contact_email"], None)
for n, r in sorted(recs.items()):
    if not (isinstance(r["platform"], str) and r["platform"].startswith("Tor 0.4")):
        print("FAIL: %s platform %r" % (n, r["platform"])); fails += 1
    if not isinstance(r["family"], list):
        print("FAIL: %s family %r" % (n, r["family"])); fails += 1
    if list(r)[-7:] != ["contact", "contact_email", "contact_url", "ciiss_version", "ciiss_proof",
                        "platform", "family"]:
        print("FAIL: %s: the contact block is not the record's end: %s" % (n, list(r)[-8:])); fails += 1
print("records:", len(recs))
sys.exit(1 if fails else 0)
PY
grep -q '\\u0001' "$tmp/results.jsonl" && echo "ok: the control character is escaped in the file" ||
  { echo "FAIL: no \\u0001 escape in the records"; exit 1; }
! grep -qP '\x01' "$tmp/results.jsonl" || { echo "FAIL: a raw control byte in the records"; exit 1; }
