#!/bin/sh
# Fails when a layer includes a layer it must not know (DESIGN.md):
#   src/lib   includes nothing of proto/dir/probe
#   src/proto and src/dir never include each other (nor probe)
srcdir=${SRCDIR:-$(dirname "$0")/..}
bad=0
check() { # dir pattern what
  hits=$(grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]*\"($2)/" "$srcdir/src/$1"/*.[ch] 2>/dev/null)
  if [ -n "$hits" ]; then
    echo "layering violation: src/$1 must not include $3:"; echo "$hits"; bad=1
  fi
}
check lib 'proto|dir|probe' 'proto, dir or probe'
check proto 'dir|probe' 'dir or probe'
check dir 'proto|probe' 'proto or probe'
if [ $bad -eq 0 ]; then echo "layers: ok (lib < proto, dir < probe)"; fi
exit $bad
