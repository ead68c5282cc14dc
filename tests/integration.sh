#!/bin/sh
# make check's entry to the integration tests on a local network of real tor
# (tests/integration/run). Skips (77) when they cannot run here.
srcdir=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
if [ ! -x "$srcdir/tests/integration/run" ]; then
  echo "SKIP: tests/integration/run not present"
  exit 77
fi
exec "$srcdir/tests/integration/run"
