#!/bin/bash
# Issue #11 acceptance on the local network: `exitprobe scan --port common`, three rounds in a row.
# - every (round, exit, port) record has the class and verdict of the manifest's expect[port] (real daemons
#   behind most ports; per-(exit, port) failures: reset, ICMP, DROP, a 554 greeting, two interceptions,
#   hostile destinations), and exactly the (exit, port) pairs whose policy accepts the port are probed;
# - the destination that greets 554 through one exit only is honoured (reachable-unexpected, honours);
# - both interceptions are found with both identities: the TLS middlebox's certificate against the real
#   certificate (SHA-256), and the SMTP proxy's greeting host against the real one;
# - 110/143/993/995 are answered by dovecot: its greetings, the testnet certificate on the TLS ports;
# - TLS sessions on 443 are resumed from round 2 on through every working exit, never by the middlebox,
#   in TLS 1.3 (nginx with Debian's own SSL settings);
# - the three rounds agree.
# SKIP (77) while exitprobe has no service checks (`scan --help` does not list --service).
# test-timeout: 240
set -u
EP=${EXITPROBE:?}
: "${EXITPROBE_TESTNET_MANIFEST:?run me through tests/integration/run (needs the testnet env)}"
if ! "$EP" scan --help 2>/dev/null | grep -q -- '--service'; then
	echo "SKIP: this exitprobe has no service checks (scan --help lists no --service)"
	exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$EP" scan --port common --target 127.0.0.1 --dir-authorities "$EXITPROBE_TESTNET_DIRAUTH" \
	--cache-dir "$tmp/cache" --timeout 6s --rounds 3 --output "$tmp/results.jsonl" --quiet \
	>"$tmp/summary" 2>"$tmp/log"
rc=$?
cat "$tmp/summary"
[ $rc -eq 1 ] || { echo "FAIL: exit status $rc (want 1: violators found)"; tail -n 30 "$tmp/log"; exit 1; }
/usr/bin/python3 - "$EXITPROBE_TESTNET_MANIFEST" "$tmp/results.jsonl" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
ids = m["identities"]
common = [str(p) for p in m["ports"]["common"]]
fails = 0


def check(ok, what):
    global fails
    print(("ok   " if ok else "FAIL ") + what)
    fails += not ok


def norm(x):
    return x.replace(":", "").lower() if isinstance(x, str) else x


want = {}          # (fingerprint, port) -> (nickname, expect)
for r in m["relays"]:
    for port in common:
        e = r.get("expect", {}).get(port)
        if e and e["class"] != "exitpolicy":
            want[(r["fingerprint"].upper(), port)] = (r["nickname"], e)
by_round = {}
for line in open(sys.argv[2]):
    rec = json.loads(line)
    assert rec["schema"] == "exitprobe/result/1"
    by_round.setdefault(rec["round"], {})[(rec["exit"]["fingerprint"].upper(), str(rec["port"]))] = rec
check(sorted(by_round) == [1, 2, 3], f"three rounds (got {sorted(by_round)})")
seen = []
for rnd, recs in sorted(by_round.items()):
    missing = sorted(want[k][0] + ":" + k[1] for k in set(want) - set(recs))
    extra = sorted(f"{k[0][:8]}:{k[1]}" for k in set(recs) - set(want))
    check(not missing and not extra, f"round {rnd}: {len(recs)} records, {len(want)} (exit, port) pairs expected"
          + (f"; missing {missing[:8]}" if missing else "") + (f"; extra {extra[:8]}" if extra else ""))
    bad = 0
    for k, (nick, e) in sorted(want.items(), key=lambda kv: (kv[1][0], int(kv[0][1]))):
        rec = recs.get(k)
        if rec is None:
            continue
        if (rec["class"], rec["verdict"]) != (e["class"], e["verdict"]):
            bad += 1
            print(f"FAIL round {rnd} {nick}:{k[1]} ({e['behaviour']}): {rec['class']}/{rec['verdict']}, want "
                  f"{e['class']}/{e['verdict']} ({e['why']}) — {rec.get('detail')}; {rec.get('why')}; "
                  f"service {rec.get('service')!r} answer {rec.get('service_answer')!r}")
    check(bad == 0, f"round {rnd}: every (exit, port) has the manifest's class and verdict ({bad} differ)")
    seen.append({k: (r["class"], r["verdict"]) for k, r in recs.items()})
check(len(seen) == 3 and seen[0] == seen[1] == seen[2], "the three rounds agree")

# The refusing destination (554 through exit8 only) is honoured; the interceptions carry both identities.
def find(nick, port):
    fp = next(r["fingerprint"].upper() for r in m["relays"] if r["nickname"] == nick)
    return [recs.get((fp, port)) for recs in by_round.values()]


def holder(behaviour, port):
    return next(r["nickname"] for r in m["relays"] if r.get("port_behaviours", {}).get(port) == behaviour)


n554 = holder("banner-554", "25")
for rec in find(n554, "25"):
    check(rec is not None and rec["class"] == "reachable-unexpected" and rec["verdict"] == "honours"
          and (rec.get("service_answer") or rec.get("banner") or "").startswith("554"),
          f"{n554}:25 greets 554: honoured ({rec and (rec['class'], rec['verdict'], rec.get('why'))})")
cases = [(holder("tls-other-cert", "443"), "443", ids["other_cert_sha256"], ids["cert_sha256"], "cert"),
         (holder("smtp-intercept", "587"), "587", ids["intercept_host"], ids["smtp_host"], "hostname")]
for nick, port, ident, expected, kind in cases:
    for rec in find(nick, port):
        got = rec and (norm(rec.get("identity")), norm(rec.get("expected_identity")), rec.get("identity_kind"))
        check(rec is not None and rec["class"] == "intercepted" and rec["verdict"] == "violates"
              and got == (norm(ident), norm(expected), kind),
              f"{nick}:{port} intercepted, identity {ident[:16]} instead of {expected[:16]} ({kind}): got {got}")
# Every working exit shows the real identity on the TLS ports (the majority interception is judged by).
for rnd, recs in sorted(by_round.items()):
    wrong = [f"{want[k][0]}:{k[1]}" for k, rec in recs.items() if k in want and rec.get("tls_version")
             and want[k][1]["behaviour"] == "reachable" and norm(rec.get("cert_sha256")) != norm(ids["cert_sha256"])]
    check(not wrong, f"round {rnd}: the real certificate through every working exit on the TLS ports {wrong[:6]}")
# TLS sessions are resumed (README "Services"): after round 1 every working exit's check of nginx on 443
# resumes the session nginx gave an earlier check (tls_resumed true, the real certificate); the middlebox
# never does (it cannot: its full handshake shows its own certificate, as above).
mitm = holder("tls-other-cert", "443")
for rnd, recs in sorted(by_round.items()):
    tls = [(want[k], rec) for k, rec in recs.items() if k in want and k[1] == "443" and rec.get("tls_version")]
    bad = [w[0] for w, rec in tls if not isinstance(rec.get("tls_resumed"), bool)
           or (w[0] == mitm and rec["tls_resumed"])
           or (rnd > 1 and w[1]["behaviour"] == "reachable" and not rec["tls_resumed"])]
    n = sum(1 for w, rec in tls if rec.get("tls_resumed"))
    check(tls and not bad, f"round {rnd}: 443 TLS sessions resumed: {n} of {len(tls)} handshakes {bad[:6]}")
    # nginx runs with Debian's SSL settings (TLS 1.3 on), as a user's does: 1.3 resumptions, with their key share.
    v12 = [w[0] for w, rec in tls if rec["tls_version"] != "TLSv1.3"]
    check(tls and not v12, f"round {rnd}: 443 spoke TLS 1.3 through every exit {v12[:6]}")
# The mail ports are Debian's dovecot (not a fake): through every working exit, 143 and 993 greet with dovecot's
# IMAP greeting (STARTTLS offered on 143 only), 110 and 995 with its POP3 one, and 993/995 show the testnet
# certificate that dovecot was given.
import re
check("dovecot" in (m.get("daemons") or {}), f"the manifest lists dovecot among the daemons {sorted(m.get('daemons') or {})}")
imap_re = re.compile(r"\* OK \[CAPABILITY IMAP4rev1 ([^]]*)\] Dovecot( \(Debian\))? ready\.")
pop3_re = re.compile(r"\+OK Dovecot( \(Debian\))? ready\.")
for rnd, recs in sorted(by_round.items()):
    bad, n, ports = [], 0, set()
    for k, rec in sorted(recs.items()):
        if k not in want or k[1] not in ("110", "143", "993", "995") or want[k][1]["behaviour"] != "reachable":
            continue
        n += 1
        ports.add(k[1])
        a = rec.get("service_answer") or ""
        mm = (imap_re if k[1] in ("143", "993") else pop3_re).fullmatch(a)
        ok = mm is not None and rec["class"] == "reachable"
        if ok and k[1] in ("143", "993"):
            ok = ("STARTTLS" in mm.group(1).split()) == (k[1] == "143")
        if ok and k[1] in ("993", "995"):
            ok = norm(rec.get("cert_sha256")) == norm(ids["cert_sha256"])
        if not ok:
            bad.append(f"{want[k][0]}:{k[1]} {a!r} {rec.get('cert_sha256')}")
    check(ports == {"110", "143", "993", "995"} and not bad, f"round {rnd}: dovecot greets on 110/143/993/995 through every working exit "
          f"({n} records) {bad[:4]}")
# Every record carries the service fields (README "Record"), each port checked as its service.
want_service = {21: "ftp", 22: "ssh", 25: "smtp", 53: "dns", 80: "http", 110: "pop3", 143: "imap",
                443: "https", 465: "submissions", 587: "smtp", 993: "imaps", 995: "pop3s",
                5222: "xmpp-client", 6667: "irc", 6697: "ircs"}
bad = []
for recs in by_round.values():
    for rec in recs.values():
        miss = [k for k in ("service", "service_answer", "tls_version", "tls_resumed", "cert_sha256", "cert_subject",
                            "cert_issuer", "identity", "identity_kind", "expected_identity", "confirm_target",
                            "confirm_class") if k not in rec]
        if miss or rec["service"] != want_service.get(rec["port"]) or rec["confirm_target"] is not None \
           or (rec["tls_version"] is not None and not rec["service"].endswith("s")):
            bad.append((rec["port"], rec.get("service"), miss))
check(not bad, f"every record has the service fields and its port's service {bad[:4]}")
print(f"t_services: {fails} failure(s)")
sys.exit(1 if fails else 0)
PY
[ $? -eq 0 ] || exit 1
# every record as doc/result.schema.json says (every service's fields)
/usr/bin/python3 "$INTEGRATION_LIB/check_schema.py" "$INTEGRATION_LIB/../../../doc/result.schema.json" "$tmp/results.jsonl" || exit 1

# circuit --port smtp,http prints what each check said.
specs=$(mktemp)
python3 "$(dirname "$0")/relayspecs.py" "$EXITPROBE_TESTNET_MANIFEST" >"$specs" || { echo "FAIL: cannot read relay specs"; exit 1; }
spec() { awk -v n="$1" '$1 == n { print $2 }' "$specs"; }
out=$("$EP" circuit --first-hop "$(spec relay0)" --exit "$(spec exit0)" --port smtp,http --timeout 5s 2>&1)
rm -f "$specs"
if grep -qE 'service +port 25: smtp answered.*"220' <<<"$out" && grep -qE 'BEGIN 127.0.0.1:80 .*service http' <<<"$out"; then
	echo "ok: circuit --port smtp,http prints what the checks said"
else
	echo "FAIL: circuit --port smtp,http"; echo "$out" | sed 's/^/    /'; exit 1
fi
