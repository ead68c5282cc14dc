#!/bin/bash
# exitprobe against the hostile relay (tests/hostile/README.md): one process
# serving every scenario, then
#   main   one scan over every exit scenario through well-behaved first hops:
#          each gets its class and a clear reason, the good exit is reachable;
#   hops   a scan whose first hops include two hostile links: it goes on;
#   flood  the exits that flood (huge greeting, DATA past the windows) with a
#          good one, peak RSS measured;
#   link:* one scan per hostile first hop: first-hop-failed with its reason;
#   circuit --trace against every link scenario and a few exit scenarios.
# Every record must be valid JSON, terminal output free of raw ESC/NUL, no
# sanitizer report, exit status 0 or 1. No root, no network beyond 127.0.0.1.
# Ends with "N passed, N failed" (known exitprobe bugs are XFAIL, not failed).
set -u
BUILDDIR=${BUILDDIR:-$(cd "$(dirname "$0")/.." && pwd)}
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
EXITPROBE=$BUILDDIR/src/exitprobe
RELAY=$BUILDDIR/tests/hostile/hostile_relay
CHECK="python3 $SRCDIR/tests/hostile/check_hostile.py"

for p in "$EXITPROBE" "$RELAY"; do
  if [ ! -x "$p" ]; then
    echo "SKIP: $p not built"
    exit 77
  fi
done
if ! command -v python3 >/dev/null; then
  echo "SKIP: python3 needed"
  exit 77
fi
TIME=
if [ -x /usr/bin/time ]; then
  TIME=/usr/bin/time
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/exitprobe-hostile.XXXXXX")
RELAY_PID=
cleanup() {
  if [ -n "$RELAY_PID" ]; then
    kill "$RELAY_PID" 2>/dev/null
    wait "$RELAY_PID" 2>/dev/null
  fi
  if [ "${KEEP:-0}" = 1 ]; then
    echo "kept $T"
  else
    rm -rf "$T"
  fi
}
trap cleanup EXIT

# ASan keeps freed memory in a quarantine (256 MB by default) that counts as
# resident: keep it small so the RSS cap measures exitprobe, not ASan.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4:malloc_context_size=10"

"$RELAY" --all --deadline 110 --out "$T/relays.jsonl" 2>"$T/relay.err" &
RELAY_PID=$!
for _ in $(seq 100); do
  grep -q '"ready"' "$T/relays.jsonl" 2>/dev/null && break
  sleep 0.1
done
if ! grep -q '"ready"' "$T/relays.jsonl" 2>/dev/null; then
  echo "FAIL: the hostile relay did not start"
  cat "$T/relay.err"
  echo "0 passed, 1 failed"
  exit 1
fi

PASS=0
FAIL=0
XFAIL=0
tally() {   # a check file: count and echo its lines
  while IFS= read -r line; do
    echo "$line"
    case "$line" in
      PASS:*|XPASS:*) PASS=$((PASS + 1)) ;;
      XFAIL:*) XFAIL=$((XFAIL + 1)) ;;
      FAIL:*) FAIL=$((FAIL + 1)) ;;
    esac
  done < "$1"
}
status_ok() {   # name, exit status
  if [ "$2" -eq 0 ] || [ "$2" -eq 1 ]; then
    echo "PASS: $1: exit status $2 (0 or 1)" >> "$T/status.txt"
  else
    echo "FAIL: $1: exit status $2 (want 0 or 1: crash, sanitizer or usage error)" >> "$T/status.txt"
  fi
}
: > "$T/status.txt"

COMMON=(--allow-same-16 --target 127.0.0.1 --port 25 --json --quiet
        --timeout 10s --circuit-timeout 60s --link-timeout 15s)
# Generous: make check runs this beside other tests on a loaded machine. Only
# slow-bytes waits for a timeout (it would take ~25 minutes to finish). The
# circuit timeout is split over the tries (the first gets 1/7 of it until
# builds are learned): at 20 s a try had 2.9 s, which one ASan relay process
# serving every scan at once can miss under load (CI at 53c327d); at 60 s
# the first try has 8.6 s, far above what a link on loopback needs.
$CHECK prepare "$T/relays.jsonl" "$T" || { echo "FAIL: cannot read the relays"; echo "0 passed, 1 failed"; exit 1; }

# scan NAME [ARGS...]: exitprobe scan in the background with args-scan-NAME, timed.
scan() {
  local name=$1
  shift
  mapfile -t A < "$T/args-scan-$name"
  (
    $TIME ${TIME:+-v -o "$T/scan-$name.time"} timeout 50 "$EXITPROBE" scan "${A[@]}" \
      "${COMMON[@]}" "$@" > "$T/scan-$name.jsonl" 2> "$T/scan-$name.err"
    echo $? > "$T/scan-$name.rc"
  ) &
}
# circuit NAME: exitprobe circuit --trace with args-circ-NAME.
circuit() {
  local to=15s
  [ "$1" = slow-bytes ] && to=6s
  mapfile -t A < "$T/args-circ-$1"
  (
    timeout 50 "$EXITPROBE" circuit "${A[@]}" --timeout $to --trace > "$T/circ-$1.out" 2>&1
    echo $? > "$T/circ-$1.rc"
  ) &
}

LINK_SCENS="wrong-cert expired-cert identity-mismatch truncated-cell oversized-cell
            garbage-after-versions endless-vpadding slow-bytes close-notify-with-data"
# main: every exit scenario, through well-behaved first hops (the ports of
# the exit scenarios). hops: two hostile first hops among three (each attempt
# has 3 tries). flood: the flooding exits and two good ones on shared first
# hops. deadhop: an extend that fails, then a first hop that is down.
# link-*: one hostile first hop each, no retry.
scan main
scan hops
scan flood
scan deadhop --no-retry
for s in $LINK_SCENS; do
  if [ "$s" = slow-bytes ]; then
    scan "link-$s" --no-retry --link-timeout 6s
  else
    scan "link-$s" --no-retry
  fi
done
# circuit --trace: every link scenario (through its port) and some exits.
for s in $LINK_SCENS good bad-created2-auth unknown-relay-command end-unknown-reason \
         escape-greeting destroy-mid-extend; do
  circuit "$s"
done
# Wait for every exitprobe (not the relay).
for j in $(jobs -p); do
  [ "$j" = "$RELAY_PID" ] || wait "$j"
done

$CHECK all "$T/relays.jsonl" "$T" "${TIME:+1}" > "$T/checks.txt" 2>&1
if kill -0 "$RELAY_PID" 2>/dev/null; then
  echo "PASS: the hostile relay served every run" >> "$T/checks.txt"
else
  echo "FAIL: the hostile relay died" >> "$T/checks.txt"
  cat "$T/relay.err" >> "$T/checks.txt"
fi
cat "$T/checks.txt"
PASS=$(grep -c -E '^(PASS|XPASS):' "$T/checks.txt")
XFAIL=$(grep -c '^XFAIL:' "$T/checks.txt")
FAIL=$(grep -c -E '^(FAIL:|Traceback)' "$T/checks.txt")
if [ "$FAIL" -gt 0 ]; then
  KEEP=1
fi
echo "$PASS passed, $FAIL failed ($XFAIL expected failures: known exitprobe bugs, see tests/hostile/README.md)"
[ "$FAIL" -eq 0 ]
