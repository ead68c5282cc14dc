#!/usr/bin/env python3
"""Prints `NICKNAME IP:ORPORT~FINGERPRINT~NTOR_KEY~ED25519_ID` for every relay of
a running local test network, read from an authority's DirPort (plain HTTP):
the relay specs `exitprobe circuit` takes without a directory of its own.
Usage: relayspecs.py MANIFEST"""
import base64, hashlib, json, re, sys, urllib.request

def get(base, path):
    return urllib.request.urlopen(base + path, timeout=10).read().decode()

def main():
    m = json.load(open(sys.argv[1]))
    a = m["authorities"][0]
    base = "http://127.0.0.1:%d" % a["dirport"]
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
    mds = get(base, "/tor/micro/d/" + "-".join(r["md"] for r in relays))
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
    for r in relays:
        ntor, ed = keys.get(r["md"], (None, None))
        if ntor:
            print("%s %s:%s~%s~%s~%s" % (r["nick"], r["ip"], r["orport"], r["fp"], ntor, ed))

main()
