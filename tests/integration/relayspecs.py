#!/usr/bin/env python3
"""Prints `NICKNAME IP:ORPORT~FINGERPRINT~NTOR_KEY~ED25519_ID` for every relay of
a running local test network, read from the authorities' DirPorts (plain HTTP):
the relay specs `exitprobe circuit` takes without a directory of its own.
Every relay of the consensus gets a line, or the script fails naming those it
could not complete (an authority may not serve a microdescriptor its consensus
lists yet: it is asked again, and the others too, for up to 30 s).
Usage: relayspecs.py MANIFEST"""
import base64, hashlib, json, re, sys, time, urllib.request

NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))   # loopback only, whatever http_proxy says


def get(base, path):
    with NO_PROXY.open(base + path, timeout=10) as r:
        return r.read().decode()


def specs_from(base):
    """(specs by nickname, nicknames of the consensus) from one authority."""
    cons = get(base, "/tor/status-vote/current/consensus-microdesc")
    relays, cur = [], None
    for line in cons.splitlines():
        f = line.split()
        if f and f[0] == "r":
            fp = base64.b64decode(f[2] + "=").hex().upper()
            cur = {"nick": f[1], "fp": fp, "ip": f[5], "orport": f[6]}
            relays.append(cur)
        elif f and f[0] == "m" and cur is not None:
            cur["md"] = f[1]
    mds = get(base, "/tor/micro/d/" + "-".join(r["md"] for r in relays if "md" in r))
    keys = {}
    starts = [m_.start() for m_ in re.finditer(r"^onion-key$", mds, re.M)] + [len(mds)]
    for chunk in (mds[starts[i]:starts[i + 1]] for i in range(len(starts) - 1)):
        ntor = ed = None
        for line in chunk.splitlines():
            if line.startswith("ntor-onion-key "):
                ntor = line.split()[1].rstrip("=")
            elif line.startswith("id ed25519 "):
                ed = line.split()[2]
        d = base64.b64encode(hashlib.sha256(chunk.encode()).digest()).decode().rstrip("=")
        keys[d] = (ntor, ed)
    specs = {}
    for r in relays:
        ntor, ed = keys.get(r.get("md"), (None, None))
        if ntor:
            specs[r["nick"]] = "%s:%s~%s~%s~%s" % (r["ip"], r["orport"], r["fp"], ntor, ed)
    return specs, [r["nick"] for r in relays]


def main():
    m = json.load(open(sys.argv[1]))
    bases = ["http://127.0.0.1:%d" % a["dirport"] for a in m["authorities"]]
    want = {r["nickname"] for r in m["relays"]}
    deadline = time.monotonic() + 30
    specs, errors = {}, []
    while True:
        for base in bases:
            try:
                got, listed = specs_from(base)
            except Exception as e:  # noqa: BLE001 -- an authority not answering: ask the others
                errors.append("%s: %s" % (base, e))
                continue
            want |= set(listed)
            for nick, s in got.items():
                specs.setdefault(nick, s)
        missing = sorted(want - set(specs))
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(1)
    for nick in sorted(specs):
        print(nick, specs[nick])
    if missing:
        sys.exit("relayspecs: no spec for %s (%s)" % (", ".join(missing), "; ".join(errors[-3:]) or
                 "the authorities serve no microdescriptor for them"))


main()
