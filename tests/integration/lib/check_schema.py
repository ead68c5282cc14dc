#!/usr/bin/python3
"""Validate JSON Lines result records against doc/result.schema.json.

    check_schema.py SCHEMA FILE.jsonl...

Prints one line per file (records checked) and every invalid record with
where it failed; exit status 1 if any record is invalid, 77 if the
jsonschema module is missing (apt-get install python3-jsonschema)."""
import json
import sys

try:
    import jsonschema
except ImportError:
    print("check_schema: python3-jsonschema is not installed")
    sys.exit(77)


def main():
    schema = json.load(open(sys.argv[1]))
    jsonschema.Draft202012Validator.check_schema(schema)
    v = jsonschema.Draft202012Validator(schema)
    bad = 0
    for path in sys.argv[2:]:
        n = 0
        for lineno, line in enumerate(open(path, encoding="utf-8", errors="strict"), 1):
            n += 1
            rec = json.loads(line)
            for e in v.iter_errors(rec):
                bad += 1
                where = "/".join(str(p) for p in e.absolute_path) or "(record)"
                print(f"FAIL: {path}:{lineno}: {where}: {e.message[:200]}")
        print(f"check_schema: {path}: {n} records checked")
    return 1 if bad else 0


sys.exit(main())
