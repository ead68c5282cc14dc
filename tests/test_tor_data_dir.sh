#!/bin/sh
# `exits --tor-data-dir DIR` over a tor DataDirectory made of the real
# 2022-11-19 documents (tor's file names), and repeated --microdescs: the same
# verified directory and the same list as the files given one by one. Offline:
# with --consensus / --tor-data-dir, exits reads files only (no network).
set -u
: "${BUILDDIR:?}" "${SRCDIR:?}"
ep="$BUILDDIR/src/exitprobe"
d="$SRCDIR/tests/data/dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
no() { echo "FAIL: $*"; fail=1; }
dd="$tmp/datadir"
mkdir "$dd"
cp "$d/cached-certs-2022-11-19" "$dd/cached-certs"
cp "$d/consensus-md-2022-11-19" "$dd/cached-microdesc-consensus"
# tor keeps microdescriptors in two files: the journal (.new) and the rest
head -c 300000 "$d/microdescs-2022-11-19" | sed '$d' >"$tmp/head"
n=$(wc -c <"$tmp/head")
# cut at a microdescriptor start: the first "@last-listed" line after the head
start=$(tail -c +"$((n + 1))" "$d/microdescs-2022-11-19" | grep -b -m1 '^@last-listed' | cut -d: -f1)
head -c "$((n + start))" "$d/microdescs-2022-11-19" >"$dd/cached-microdescs"
tail -c +"$((n + start + 1))" "$d/microdescs-2022-11-19" >"$dd/cached-microdescs.new"
common="--at 2022-11-19T11:30:00Z --dir-authorities $d/authorities-2022-11-19.torrc --no-cache --port 443 --json"
# shellcheck disable=SC2086
"$ep" exits $common --tor-data-dir "$dd" >"$tmp/dd.out" 2>"$tmp/dd.err" || no "--tor-data-dir: exit $? $(cat "$tmp/dd.err")"
# shellcheck disable=SC2086
"$ep" exits $common --consensus "$d/consensus-md-2022-11-19" --certs "$d/cached-certs-2022-11-19" \
	--microdescs "$d/microdescs-2022-11-19" >"$tmp/one.out" 2>"$tmp/one.err" || no "one file: exit $?"
# shellcheck disable=SC2086
"$ep" exits $common --consensus "$d/consensus-md-2022-11-19" --certs "$d/cached-certs-2022-11-19" \
	--microdescs "$dd/cached-microdescs" >"$tmp/half.out" 2>/dev/null || no "half: exit $?"
[ "$(wc -l <"$tmp/dd.out")" -gt 50 ] || no "--tor-data-dir listed only $(wc -l <"$tmp/dd.out") relays"
cmp -s "$tmp/dd.out" "$tmp/one.out" || no "--tor-data-dir and the one file list differ"
# the two halves both count: one half alone lists fewer
[ "$(wc -l <"$tmp/half.out")" -lt "$(wc -l <"$tmp/one.out")" ] || no "half of the microdescriptors list as many"
grep -q "signed by 8 of 9 authorities" "$tmp/dd.err" || no "--tor-data-dir: $(cat "$tmp/dd.err")"
# an empty journal (tor leaves cached-descriptors.new empty after folding it in) is no document
: >"$dd/cached-descriptors.new"
# shellcheck disable=SC2086
"$ep" exits $common --tor-data-dir "$dd" >"$tmp/empty.out" 2>"$tmp/empty.err" || no "empty .new journal: exit $? $(cat "$tmp/empty.err")"
cmp -s "$tmp/empty.out" "$tmp/dd.out" || no "an empty .new journal changed the list"
rm "$dd/cached-descriptors.new"
# ns flavour: cached-consensus when there is no microdesc consensus
rm "$dd/cached-microdesc-consensus"
cp "$d/consensus-ns-2022-11-19" "$dd/cached-consensus"
# shellcheck disable=SC2086
"$ep" exits $common --tor-data-dir "$dd" >/dev/null 2>"$tmp/ns.err" || no "ns: exit $?"
grep -q "ns consensus from file" "$tmp/ns.err" || grep -q "consensus from file" "$tmp/ns.err" || no "ns: $(cat "$tmp/ns.err")"
# not a data directory; with the options it replaces
# shellcheck disable=SC2086
"$ep" exits $common --tor-data-dir "$tmp" >/dev/null 2>"$tmp/err"
[ $? -eq 3 ] && grep -q "no cached-microdesc-consensus or cached-consensus" "$tmp/err" || no "empty dir: $(cat "$tmp/err")"
# shellcheck disable=SC2086
"$ep" exits $common --tor-data-dir "$dd" --microdescs x >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] || no "--tor-data-dir with --microdescs: $(cat "$tmp/err")"
echo "test_tor_data_dir: fail=$fail"
exit $fail
