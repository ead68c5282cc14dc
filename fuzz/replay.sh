#!/bin/sh
# make check: replay every harness's corpus (fuzz/corpus/<name>/) through the
# harness built with the stdin/file driver, under whatever sanitizers the
# build has. Fails if a harness crashes or a corpus is missing.
srcdir=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${BUILDDIR:-.}
pass=0
fail=0
for src in "$srcdir"/fuzz/fuzz_*.c; do
  [ -e "$src" ] || continue
  name=$(basename "$src" .c)
  name=${name#fuzz_}
  bin="$builddir/fuzz/fuzz_$name"
  corpus="$srcdir/fuzz/corpus/$name"
  if [ ! -x "$bin" ]; then
    echo "FAIL: fuzz_$name is not built (add it to fuzz/include.am)"; fail=$((fail + 1)); continue
  fi
  if [ ! -d "$corpus" ]; then
    echo "FAIL: fuzz_$name has no corpus ($corpus)"; fail=$((fail + 1)); continue
  fi
  if "$bin" "$corpus" >/dev/null 2>"$builddir/fuzz/replay-$name.err"; then
    n=$(find "$corpus" -type f | wc -l)
    echo "ok: fuzz_$name replayed $n inputs"
    pass=$((pass + 1))
  else
    echo "FAIL: fuzz_$name crashed on its corpus:"; tail -30 "$builddir/fuzz/replay-$name.err"
    fail=$((fail + 1))
  fi
done
echo "fuzz replay: $pass passed, $fail failed"
[ $fail -eq 0 ]
