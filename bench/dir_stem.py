#!/usr/bin/python3
"""The peer of bench/bench_dir: stem (python3-stem, Debian) parses and checks the same
2022-11-19 documents, N times each; prints the same "phase ..." lines as bench_dir.

  dir_stem.py [-n N] [-d DATADIR] [--only ns|md|mds]

What stem checks (validate=True) and what it does not:
  ns   KeyCertificate(validate=True) for each of the 9 certificates: layout and fields only,
       stem verifies neither the cross-certificate nor the certification signature, nor the
       certificate's times. NetworkStatusDocumentV3(validate=True): every item of header,
       authority section, router entries and footer. validate_signatures(certs): for each
       signature whose identity has a certificate, RSA-recover the block with the signing key
       and compare it with the SHA-1 of the signed range; at least half must match. It does not
       check the signer against a list of trusted authorities, nor the signing-key digest,
       and it knows only SHA-1. The validity-time check is done here by hand (two comparisons).
  md   the same for the microdesc consensus; its signatures are "sha256", which stem's
       validate_signatures cannot check (it compares SHA-1 digests and fails). We check them
       with stem's own pieces (_content_range, _digest_for_signature) and hashlib.sha256:
       the same logic as validate_signatures, with the right digest.
  mds  stem.descriptor.parse_file(..., 'microdescriptor 1.0', validate=True) (annotations
       allowed), then each microdescriptor's digest() is looked up among the consensus "m"
       digests (the consensus is parsed once, outside the timing).
Times are from bytes already in memory (file reading is not timed). median_ms/min_ms and the
parse/verify splits are CPU time of the thread (time.thread_time: less disturbed by a loaded
machine than wall time); wall_median_ms/wall_min_ms are wall time.
"""
import argparse
import calendar
import hashlib
import io
import os
import sys
import time

import stem
import stem.descriptor
import stem.descriptor.microdescriptor
import stem.descriptor.networkstatus as ns

NOW = calendar.timegm((2022, 11, 19, 11, 30, 0, 0, 0, 0))


def read(d, name):
    with open(os.path.join(d, name), "rb") as f:
        return f.read()


def parse_certs(data):
    certs = list(stem.descriptor.parse_file(io.BytesIO(data), "dir-key-certificate-3 1.0", validate=True))
    if len(certs) != 9:
        raise SystemExit("dir_stem: expected 9 certificates, got %d" % len(certs))
    return certs


def check_times(c):
    va = calendar.timegm(c.valid_after.timetuple())
    vu = calendar.timegm(c.valid_until.timetuple())
    if not va <= NOW <= vu:
        raise SystemExit("dir_stem: consensus not valid at the benchmark's time")


def verify_sha256(c, certs):
    """validate_signatures with SHA-256 (stem's own method knows only SHA-1)."""
    content = c._content_range("network-status-version", "directory-signature ")
    local = hashlib.sha256(content).hexdigest().upper()
    keys = dict((cert.fingerprint, cert.signing_key) for cert in certs)
    good = total = 0
    for sig in c.signatures:
        if sig.identity not in keys:
            continue
        total += 1
        if c._digest_for_signature(keys[sig.identity], sig.signature) == local:
            good += 1
    if good < len(c.signatures) / 2.0:
        raise SystemExit("dir_stem: microdesc consensus: %d of %d signatures good" % (good, total))


def clk():
    """(CPU time of this thread, wall time), seconds."""
    return time.thread_time(), time.perf_counter()


def split(t0, t1, t2, count):
    return (t1[0] - t0[0], t2[0] - t1[0], t1[1] - t0[1], t2[1] - t1[1], count)


def ns_once(data, certs_data):
    t0 = clk()
    certs = parse_certs(certs_data)
    c = ns.NetworkStatusDocumentV3(data, validate=True)
    t1 = clk()
    c.validate_signatures(certs)
    check_times(c)
    t2 = clk()
    return split(t0, t1, t2, len(c.routers))


def md_once(data, certs_data):
    t0 = clk()
    certs = parse_certs(certs_data)
    c = ns.NetworkStatusDocumentV3(data, validate=True)
    t1 = clk()
    if any(s.method != "sha256" for s in c.signatures):
        raise SystemExit("dir_stem: expected sha256 signatures")
    verify_sha256(c, certs)
    check_times(c)
    t2 = clk()
    return split(t0, t1, t2, len(c.routers))


def mds_once(data, listed):
    t0 = clk()
    mds = list(stem.descriptor.parse_file(io.BytesIO(data), "microdescriptor 1.0", validate=True))
    t1 = clk()
    matched = 0
    for md in mds:
        if md.digest() in listed:
            matched += 1
    t2 = clk()
    return split(t0, t1, t2, matched)


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def report(name, what, runs, nbytes):
    tot = [r[0] + r[1] for r in runs]
    par = [r[0] for r in runs]
    ver = [r[1] for r in runs]
    wall = [r[2] + r[3] for r in runs]
    ms = lambda x: x * 1e3  # noqa: E731
    print("phase %s n=%d median_ms=%.3f min_ms=%.3f parse_median_ms=%.3f parse_min_ms=%.3f "
          "verify_median_ms=%.3f verify_min_ms=%.3f wall_median_ms=%.3f wall_min_ms=%.3f "
          "items=%d bytes=%d mb_per_s=%.2f  # %s"
          % (name, len(runs), ms(median(tot)), ms(min(tot)), ms(median(par)), ms(min(par)),
             ms(median(ver)), ms(min(ver)), ms(median(wall)), ms(min(wall)), runs[-1][4], nbytes,
             nbytes / min(tot) / 1e6, what), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=3)
    ap.add_argument("-d", default=os.environ.get("EXITPROBE_DATA_DIR", "tests/data/dir"))
    ap.add_argument("--only", choices=["ns", "md", "mds"])
    a = ap.parse_args()
    nsd = read(a.d, "consensus-ns-2022-11-19")
    mdd = read(a.d, "consensus-md-2022-11-19")
    mdsd = read(a.d, "microdescs-2022-11-19")
    certs = read(a.d, "cached-certs-2022-11-19")
    print("# stem %s, python %s" % (stem.__version__, sys.version.split()[0]), flush=True)
    if a.only in (None, "ns"):
        runs = [ns_once(nsd, certs) for _ in range(a.n)]
        report("ns", "stem: ns consensus + certs: parse (validate=True), validate_signatures (sha1), times",
               runs, len(nsd) + len(certs))
    if a.only in (None, "md"):
        runs = [md_once(mdd, certs) for _ in range(a.n)]
        report("md", "stem: microdesc consensus + certs: parse (validate=True), sha256 signatures, times",
               runs, len(mdd) + len(certs))
    if a.only in (None, "mds"):
        c = ns.NetworkStatusDocumentV3(mdd, validate=True)
        listed = set(r.microdescriptor_digest for r in c.routers.values())
        runs = [mds_once(mdsd, listed) for _ in range(a.n)]
        report("mds", "stem: microdescriptors: parse_file(validate=True), digest looked up in the m lines",
               runs, len(mdsd))


main()
