#!/bin/sh
# make check: replay every harness's corpus (fuzz/corpus/<name>/) through the
# harness, under whatever sanitizers the build has. Inputs are passed as
# files, never as a directory, so the same command replays with fuzz/driver.c
# and with a libFuzzer build (which would start fuzzing a directory).
# Fails if a harness is not built, has no corpus or an empty one, or crashes.
# NAMES (space-separated) limits the run to some harnesses.
srcdir=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${BUILDDIR:-.}
pass=0
fail=0
for src in "$srcdir"/fuzz/fuzz_*.c; do
  [ -e "$src" ] || continue
  name=$(basename "$src" .c)
  name=${name#fuzz_}
  if [ -n "${NAMES:-}" ]; then
    case " $NAMES " in *" $name "*) ;; *) continue ;; esac
  fi
  bin="$builddir/fuzz/fuzz_$name"
  corpus="$srcdir/fuzz/corpus/$name"
  if [ ! -x "$bin" ]; then
    echo "FAIL: fuzz_$name is not built (run scripts/gen-fuzz-am, then autoreconf -fi)"
    fail=$((fail + 1)); continue
  fi
  n=$(find "$corpus" -type f 2>/dev/null | wc -l)
  if [ ! -d "$corpus" ] || [ "$n" -eq 0 ]; then
    echo "FAIL: fuzz_$name has no corpus (add seeds to fuzz/corpus/$name/)"
    fail=$((fail + 1)); continue
  fi
  log="$builddir/fuzz/replay-$name.err"
  if find "$corpus" -type f -exec "$bin" {} + >/dev/null 2>"$log"; then
    echo "ok: fuzz_$name replayed $n inputs"
    pass=$((pass + 1))
  else
    echo "FAIL: fuzz_$name crashed on its corpus (full log: $log):"
    tail -40 "$log"
    fail=$((fail + 1))
  fi
done
echo "fuzz replay: $pass passed, $fail failed"
[ $fail -eq 0 ]
