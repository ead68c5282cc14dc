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

# report --notices: one message per violating exit of the local network
# (their contacts differ), naming the relay, port 25 and its class; the
# right To: (exit3, exit4), none for exit5; nothing for the honest exits.
"$EP" report --notices "$tmp/notices" --notices-from "probe@example.net" "$tmp/results.jsonl" \
  >/dev/null 2>"$tmp/report.log" || { echo "FAIL: report --notices"; cat "$tmp/report.log"; exit 1; }
python3 - "$tmp/results.jsonl" "$tmp/notices" <<'PY' || exit 1
import glob, json, os, sys
from email import message_from_bytes
recs = [json.loads(l) for l in open(sys.argv[1])]
viol = {r["exit"]["fingerprint"]: r for r in recs if r["verdict"] == "violates"}
honest = {r["exit"]["fingerprint"] for r in recs if r["verdict"] != "violates"}
emls = sorted(glob.glob(os.path.join(sys.argv[2], "*.eml")))
txts = sorted(glob.glob(os.path.join(sys.argv[2], "*.txt")))
fails = 0
def fail(m):
    global fails
    print("FAIL:", m); fails += 1
if len(emls) != len(viol) or len(txts) != len(viol):
    fail("%d .eml / %d .txt for %d violators" % (len(emls), len(txts), len(viol)))
want_to = {"exit3": "exit3-op@example.com", "exit4": "op@example.com", "exit5": None}
seen = set()
for path in emls:
    raw = open(path, "rb").read()
    msg = message_from_bytes(raw)
    body = msg.get_payload(decode=True).decode()
    fp = os.path.basename(path)[len("notice-NNN-"):-len(".eml")]
    r = viol.get(fp)
    if r is None:
        fail("%s: not a violator" % path); continue
    seen.add(fp)
    nick = r["exit"]["nickname"]
    for want in ("Relay %s, port 25" % fp, r["class"], "exitprobe circuit --exit %s --port 25" % fp):
        if want not in body:
            fail("%s (%s): %r not in the body" % (path, nick, want))
    if msg["From"] != "probe@example.net" or not msg["Subject"] or not msg["Date"]:
        fail("%s: headers %s" % (path, dict(msg.items())))
    if nick in want_to and msg["To"] != want_to[nick]:
        fail("%s (%s): To %r, want %r" % (path, nick, msg["To"], want_to[nick]))
    if b"\x01" in raw:
        fail("%s: a raw control byte" % path)
    print("ok: notice for %s (%s, %s), To %s" % (nick, fp[:8], r["class"], msg["To"]))
if set(viol) - seen:
    fail("no notice for %s" % [viol[f]["exit"]["nickname"] for f in set(viol) - seen])
sys.exit(1 if fails else 0)
PY
