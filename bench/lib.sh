# Shared by bench/run-scan and bench/run-services (sourced, not run): the checks before a network
# benchmark and the commit a build comes from. Expects SRC, BUILDDIR and PY set; $1 of each function
# is the calling script's name, for the messages.

# Root, Debian's tor and python3-stem; a configured build in $BUILDDIR (a warning if it has sanitizers).
bench_require() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "$1: needs root (per-uid tor processes and iptables rules)" >&2
		exit 2
	fi
	if ! command -v tor >/dev/null 2>&1 || ! $PY -c 'import stem' 2>/dev/null; then
		echo "$1: needs Debian's tor and python3-stem (apt-get install -y tor python3-stem)" >&2
		exit 2
	fi
	if [ ! -f "$BUILDDIR/Makefile" ]; then
		echo "$1: no configured build in $BUILDDIR; do:" >&2
		echo "  mkdir -p $BUILDDIR && cd $BUILDDIR && CFLAGS=\"-O2 -g\" $SRC/configure --disable-integration" >&2
		exit 2
	fi
	if grep -Eq '^(SAN|FUZZ)_CFLAGS = .*-fsanitize' "$BUILDDIR/Makefile"; then
		echo "$1: warning: $BUILDDIR is built with sanitizers: the numbers mean little" >&2
	fi
}

# Which source the build was made from: $BENCH_COMMIT, else the build's srcdir's git HEAD (with
# "+local changes" when src/ differs from it), else "unknown" (e.g. a tree from git archive).
build_commit() {
	if [ -n "${BENCH_COMMIT:-}" ]; then echo "$BENCH_COMMIT"; return; fi
	local sd
	sd=$(sed -n "s/^srcdir='\(.*\)'$/\1/p" "$BUILDDIR/config.status" 2>/dev/null | head -1)
	case "$sd" in /*) ;; *) sd="$BUILDDIR/$sd" ;; esac
	if git -C "$sd" rev-parse --short HEAD >/dev/null 2>&1; then
		echo "$(git -C "$sd" rev-parse --short HEAD)$(git -C "$sd" diff --quiet HEAD -- src 2>/dev/null || echo ' +local changes in src/')"
	else
		echo "unknown (set BENCH_COMMIT)"
	fi
}
