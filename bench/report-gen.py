#!/usr/bin/env python3
"""usage: report-gen.py RECORDS PAIRS SEED_RECORD > r.jsonl
RECORDS records over PAIRS distinct (exit, port) pairs (ports 25 and 80),
spread over rounds; every 7th pair violates (END EXITPOLICY)."""
import sys
n, pairs = int(sys.argv[1]), int(sys.argv[2])
seed = open(sys.argv[3], 'rb').read().strip()
out = sys.stdout.buffer
FP = b'4A0F2D6E1B9C3A58E7D1F0B2C4A6E8D0F1A3B5C7'
for i in range(n):
    p = i % pairs
    rnd = i // pairs + 1
    exit_no, port = p // 2, (25, 80)[p % 2]
    rec = seed.replace(FP, ('%040X' % exit_no).encode())
    rec = rec.replace(b'"port":25', b'"port":%d' % port).replace(b'"round":3', b'"round":%d' % rnd)
    rec = rec.replace(b'203.0.113.10', ('10.%d.%d.%d' % (exit_no >> 16 & 255, exit_no >> 8 & 255, exit_no & 255)).encode())
    if p % 7 == 0:
        rec = rec.replace(b'"class":"reachable"', b'"class":"exitpolicy"').replace(b'"verdict":"honours"', b'"verdict":"violates"').replace(b'"end_reason_name":""', b'"end_reason_name":"EXITPOLICY"')
    out.write(rec + b'\n')
