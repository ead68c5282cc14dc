#!/bin/sh
# Every subcommand's --help (and -h) is byte for byte tests/data/help/CMD.txt
# with exit status 0, and an unknown option exits 2 naming it; a bad
# authorities file exits 3. Nothing here reaches the network: every run
# stops at its options or at the authorities file.
set -u
: "${BUILDDIR:?}" "${SRCDIR:?}"
ep="$BUILDDIR/src/exitprobe"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check_help() { # name expected-file args...
	name=$1 want=$2
	shift 2
	"$ep" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -ne 0 ] || ! cmp -s "$want" "$tmp/out" || [ -s "$tmp/err" ]; then
		echo "FAIL: exitprobe $* (exit $rc):"
		diff "$want" "$tmp/out" | head -20
		fail=1
	fi
}
check_help main "$SRCDIR/tests/data/help/main.txt" --help
for c in scan exits circuit fetch report; do
	check_help "$c" "$SRCDIR/tests/data/help/$c.txt" "$c" --help
	check_help "$c" "$SRCDIR/tests/data/help/$c.txt" "$c" -h
	"$ep" "$c" --no-such-option >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -ne 2 ] || [ -s "$tmp/out" ] ||
		! grep -qx "exitprobe $c: unknown option '--no-such-option' (see exitprobe $c --help)" "$tmp/err"; then
		echo "FAIL: exitprobe $c --no-such-option: exit $rc, stderr: $(cat "$tmp/err")"
		fail=1
	fi
done
# report over input without one record: status 4 and why, no empty table
# (an empty table would read as "nothing violates")
printf '{"x":1}\n' >"$tmp/norecords.jsonl"
"$ep" report "$tmp/norecords.jsonl" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -ne 4 ] || [ -s "$tmp/out" ] ||
	! grep -qx "exitprobe report: no exitprobe record in the input (1 bad line(s) skipped)" "$tmp/err"; then
	echo "FAIL: exitprobe report on no records: exit $rc, stdout $(wc -c <"$tmp/out") bytes, stderr: $(cat "$tmp/err")"
	fail=1
fi
# A directory authorities file that cannot be read or names no authority: every command that fetches a
# directory exits 3 (no verified directory), naming the file, before any network use.
printf 'nothing here\n' >"$tmp/auth-empty"
for f in "$tmp/no-such-file" "$tmp/auth-empty"; do
	for c in "scan --port 443 --target 127.0.0.1" "exits --port 443" "circuit --exit relay0"; do
		# shellcheck disable=SC2086
		"$ep" $c --dir-authorities "$f" --cache-dir "$tmp/cache" >"$tmp/out" 2>"$tmp/err"
		rc=$?
		if [ $rc -ne 3 ] || ! grep -q "$f" "$tmp/err"; then
			echo "FAIL: exitprobe $c --dir-authorities $f: exit $rc (want 3), stderr: $(cat "$tmp/err")"
			fail=1
		fi
	done
done
[ $fail -eq 0 ] && echo "ok: --help of every command unchanged; unknown options exit 2; report on no records exits 4;" \
	"a bad authorities file exits 3"
exit $fail
