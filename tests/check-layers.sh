#!/bin/sh
# Fails when a layer includes what it must not know (README "Layout",
# DESIGN.md). The layers, lowest first; each may include only those before it:
#   src/lib                leaf helpers
#   src/proto, src/dir     the Tor protocol (sans I/O) and directory documents;
#                          they never include each other
#   src/probe/net          event loop, TCP, TLS, links to relays
#   src/probe/dirclient    fetching and joining the directory
#   src/probe/engine       scanning, classification, verdicts, results, reports
#   src/probe/cmd          the subcommands
#   src/exitprobe.c        the command line: includes src/probe/cmd only
# lib, proto and dir do no I/O: they include no socket, TLS, epoll, zlib or
# file header, and call no stdio file function, except the one documented
# place for each (lib/log.c writes log lines to stderr; lib/file.c reads a
# whole file under a cap).
srcdir=${SRCDIR:-$(dirname "$0")/..}
src=$srcdir/src
bad=0
fail() { echo "layering violation: $1:"; echo "$2"; bad=1; }

# includes DIR PATTERN WHAT: no file in src/DIR includes "PATTERN/..."
includes() {
  hits=$(grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]*\"($2)/" "$src/$1"/*.[ch] 2>/dev/null)
  [ -z "$hits" ] || fail "src/$1 must not include $3" "$hits"
}
includes lib 'proto|dir|probe' 'proto, dir or probe'
includes proto 'dir|probe' 'dir or probe'
includes dir 'proto|probe' 'proto or probe'
includes probe/net 'dir|probe/(dirclient|engine|cmd)' 'dir, probe/dirclient, probe/engine or probe/cmd'
includes probe/dirclient 'probe/(engine|cmd)' 'probe/engine or probe/cmd'
includes probe/engine 'probe/cmd' 'probe/cmd'

# Every source file of src/probe lives in one of the four layer folders.
stray=$(ls "$src"/probe/*.[ch] 2>/dev/null)
[ -z "$stray" ] || fail "src/probe keeps its code in net, dirclient, engine or cmd" "$stray"

# src/exitprobe.c knows only the commands.
hits=$(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$src/exitprobe.c" |
  grep -vE '"(config\.h|probe/cmd/[a-z_]+\.h|lib/[a-z_]+\.h)"')
[ -z "$hits" ] || fail "src/exitprobe.c includes only probe/cmd (and lib)" "$hits"

# No I/O below src/probe.
for d in lib proto dir; do
  hits=$(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*<(sys/socket|sys/epoll|netinet/[a-z_]+|arpa/inet|netdb|poll|fcntl|unistd|openssl/(ssl|bio)|zlib)\.h>' \
    "$src/$d"/*.[ch] 2>/dev/null | grep -vE "^$src/lib/(file|log|crypto)\.c:")
  [ -z "$hits" ] || fail "src/$d includes an I/O header" "$hits"
  hits=$(grep -nE '\b(fopen|fdopen|fread|fwrite|fclose|fgets|fputs|fflush|popen|open|read|write|socket|connect)[[:space:]]*\(' \
    "$src/$d"/*.c 2>/dev/null | grep -vE "^$src/lib/(file|log)\.c:")
  [ -z "$hits" ] || fail "src/$d does file or socket I/O outside lib/file.c and lib/log.c" "$hits"
done

if [ $bad -eq 0 ]; then
  echo "layers: ok (lib < proto, dir < probe/net < probe/dirclient < probe/engine < probe/cmd < exitprobe.c; no I/O below probe)"
fi
exit $bad
