#!/bin/sh
# `make demo` (v1): the SLI report of the example logs with the example config.
# Builds nothing; `make demo` builds first. The lead extends this to agent + aggregator later.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${SLT_BIN:-$ROOT/build/bin/slitail}
cd "$ROOT"
[ -x "$BIN" ] || {
    echo "demo: no $BIN (run 'make demo' to build it)" >&2
    exit 2
}
echo "== slitail check -c examples/slitail.yaml examples/logs/access.log.1.gz examples/logs/access.log examples/logs/app.log"
echo
"$BIN" check -c examples/slitail.yaml examples/logs/access.log.1.gz examples/logs/access.log \
    examples/logs/app.log
echo "== how one line of the incident (13:30-13:40 UTC) is classified:"
echo
line=$(grep -m1 '10/Oct/2026:13:3[0-9].*"POST /api/checkout[^"]*" 50[0-9]' examples/logs/access.log)
echo "\$ slitail explain -c examples/slitail.yaml '$line'"
"$BIN" explain -c examples/slitail.yaml --input web "$line"
echo
echo "== rule tests (tests/rules/examples.test.yaml):"
echo
"$BIN" test tests/rules/examples.test.yaml
