#!/bin/bash
# Every authority serves, over plain HTTP on its DirPort, a consensus (both flavours) that lists every relay
# of the manifest, carries a directory-signature from each of the 3 authorities, and is valid now.
# Also: the dirauthorities file has one DirAuthority line per authority, as in the torrcs.
set -u
: "${EXITPROBE_TESTNET_MANIFEST:?run me through tests/integration/run (needs the testnet env)}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for dirport in $(/usr/bin/python3 -c 'import json,sys; print(" ".join(str(a["dirport"]) for a in json.load(open(sys.argv[1]))["authorities"]))' "$EXITPROBE_TESTNET_MANIFEST"); do
	for flavour in consensus consensus-microdesc; do
		curl --noproxy '*' -sS --max-time 10 -o "$tmp/$dirport.$flavour" -w '%{http_code}\n' \
			"http://127.0.0.1:$dirport/tor/status-vote/current/$flavour" >"$tmp/$dirport.$flavour.code" 2>&1
	done
done

/usr/bin/python3 - "$EXITPROBE_TESTNET_MANIFEST" "$tmp" "$EXITPROBE_TESTNET_DIRAUTH" <<'PY'
import base64, binascii, datetime, json, os, sys
m = json.load(open(sys.argv[1]))
tmp, dirauth = sys.argv[2], sys.argv[3]
fails = 0

def check(ok, what):
    global fails
    print(("ok   " if ok else "FAIL ") + what)
    fails += 0 if ok else 1

want = {r["fingerprint"]: r for r in m["relays"]}
v3 = {a["v3ident"] for a in m["authorities"]}
now = datetime.datetime.now(datetime.timezone.utc)
for a in m["authorities"]:
    for flavour in ("consensus", "consensus-microdesc"):
        base = os.path.join(tmp, f"{a['dirport']}.{flavour}")
        code = open(base + ".code").read().strip()
        if code != "200":
            check(False, f"{a['nickname']} {flavour}: HTTP {code}")
            continue
        text = open(base, encoding="utf-8", errors="replace").read()
        listed, flags, sigs, times, cur = set(), {}, set(), {}, None
        for line in text.splitlines():
            f = line.split()
            if not f:
                continue
            if f[0] == "r":
                cur = binascii.hexlify(base64.b64decode(f[2] + "=" * (-len(f[2]) % 4))).decode().upper()
                listed.add(cur)
            elif f[0] == "s" and cur:
                flags[cur] = set(f[1:])
            elif f[0] == "directory-signature":
                sigs.add(f[-2].upper())
            elif f[0] in ("valid-after", "valid-until"):
                times[f[0]] = datetime.datetime.strptime(" ".join(f[1:3]), "%Y-%m-%d %H:%M:%S").replace(
                    tzinfo=datetime.timezone.utc)
        missing = [want[x]["nickname"] for x in want if x not in listed]
        check(not missing, f"{a['nickname']} {flavour}: lists {len(want) - len(missing)}/{len(want)} relays"
                           + (f" (missing {missing})" if missing else ""))
        notrunning = [want[x]["nickname"] for x in want if x in flags and "Running" not in flags[x]]
        check(not notrunning, f"{a['nickname']} {flavour}: all Running" + (f" (not: {notrunning})" if notrunning else ""))
        noexit = [r["nickname"] for r in want.values() if r.get("exit_flag_expected") and
                  "Exit" not in flags.get(r["fingerprint"], set())]
        check(not noexit, f"{a['nickname']} {flavour}: Exit flag on the {sum(1 for r in m['relays'] if r.get('exit_flag_expected'))} exits" + (f" (not: {noexit})" if noexit else ""))
        check(len(sigs & v3) == len(v3) and text.count("\ndirectory-signature ") == len(v3),
              f"{a['nickname']} {flavour}: {len(sigs & v3)}/{len(v3)} authority signatures")
        va, vu = times.get("valid-after"), times.get("valid-until")
        check(va is not None and vu is not None and va <= now + datetime.timedelta(seconds=5) and now < vu,
              f"{a['nickname']} {flavour}: valid now (valid-after {va}, valid-until {vu})")

lines = [l for l in open(dirauth).read().splitlines() if l.strip()]
check(len(lines) == len(m["authorities"]), f"dirauthorities: {len(lines)} lines")
for a in m["authorities"]:
    line = (f"DirAuthority {a['nickname']} orport={a['orport']} no-v2 v3ident={a['v3ident']} "
            f"127.0.0.1:{a['dirport']} {a['fingerprint']}")
    check(line in lines, f"dirauthorities has {a['nickname']}")
    torrc = os.path.join(m["dir"], a["nickname"], "torrc")
    check(line in open(torrc).read().splitlines(), f"{a['nickname']}/torrc has the same DirAuthority line")
print(f"t_smoke_consensus: {fails} failure(s)")
sys.exit(1 if fails else 0)
PY
