#!/bin/sh
# make check: replay every harness's corpus (fuzz/corpus/<name>/) through the
# harness, under whatever sanitizers the build has. Inputs are passed as
# files, never as a directory, so the same command replays with fuzz/driver.c
# and with a libFuzzer build (which would start fuzzing a directory).
# Fails if a harness is not built, has no corpus or an empty one, or crashes.
# Inputs listed in fuzz/known-bugs (found, not yet fixed) are replayed one by
# one and must still fail (XFAIL); one that passes fails the replay until its
# line is removed. NAMES (space-separated) limits the run to some harnesses.
srcdir=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${BUILDDIR:-.}
known="$srcdir/fuzz/known-bugs"
pass=0
fail=0
xfail=0
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
  if [ ! -d "$corpus" ] || [ -z "$(find "$corpus" -type f | head -1)" ]; then
    echo "FAIL: fuzz_$name has no corpus (add seeds to fuzz/corpus/$name/)"
    fail=$((fail + 1)); continue
  fi
  # This harness's open bugs: file names, one a line.
  open_bugs=""
  if [ -f "$known" ]; then
    open_bugs=$(sed -n "s|^$name/\([^ 	]*\).*|\1|p" "$known")
  fi
  log="$builddir/fuzz/replay-$name.err"
  : >"$log"
  status=0
  open_list=" $(echo $open_bugs) "
  for f in $(find "$corpus" -type f | sort); do
    case $open_list in *" $(basename "$f") "*) continue ;; esac
    echo "$f"
  done >"$log.list"
  n=$(wc -l <"$log.list")
  # In batches, so a libFuzzer binary and the driver both get plain files.
  if ! xargs "$bin" <"$log.list" >/dev/null 2>>"$log"; then
    status=1
  fi
  rm -f "$log.list"
  if [ $status -eq 0 ]; then
    echo "ok: fuzz_$name replayed $n inputs"
    pass=$((pass + 1))
  else
    echo "FAIL: fuzz_$name crashed on its corpus (full log: $log):"
    tail -40 "$log"
    fail=$((fail + 1))
  fi
  for base in $open_bugs; do
    if [ ! -f "$corpus/$base" ]; then
      echo "FAIL: fuzz/known-bugs names $name/$base, which is not in the corpus"
      fail=$((fail + 1))
    elif "$bin" "$corpus/$base" >/dev/null 2>&1; then
      echo "FAIL: $name/$base now passes: its bug is fixed, remove its line from fuzz/known-bugs"
      fail=$((fail + 1))
    else
      echo "XFAIL: fuzz_$name still fails on $base (open bug, fuzz/known-bugs)"
      xfail=$((xfail + 1))
    fi
  done
done
echo "fuzz replay: $pass passed, $fail failed, $xfail known open bugs"
[ $fail -eq 0 ]
