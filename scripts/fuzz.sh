#!/bin/sh
# Runs every libFuzzer target in BUILD/fuzz for SECONDS each, starting from its committed
# corpus (new inputs go to a scratch copy, so the repo corpus only grows by hand).
set -eu
build=${1:-build-fuzz}
seconds=${2:-10}
src=$(cd "$(dirname "$0")/.." && pwd)
status=0
for bin in "$build"/fuzz/fuzz_*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    work=$(mktemp -d)
    [ -d "$src/tests/fuzz/corpus/$name" ] && cp -r "$src/tests/fuzz/corpus/$name/." "$work/"
    echo "== $name ($seconds s)"
    if ! "$bin" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
        -artifact_prefix="$build/fuzz/$name-" "$work" >"$build/fuzz/$name.log" 2>&1; then
        echo "$name: crash, see $build/fuzz/$name.log"
        tail -30 "$build/fuzz/$name.log"
        status=1
    else
        grep -E '^#[0-9]+.*(DONE|pulse)' "$build/fuzz/$name.log" | tail -1
    fi
    rm -rf "$work"
done
exit $status
