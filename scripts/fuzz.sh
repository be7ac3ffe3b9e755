#!/bin/sh
# Runs every libFuzzer target in BUILD/fuzz for SECONDS each, starting from its committed
# corpus (new inputs go to a scratch copy, so the repo corpus only grows by hand).
set -eu
build=${1:-build-fuzz}
seconds=${2:-10}
src=$(cd "$(dirname "$0")/.." && pwd)
status=0
targets=0
start=$(date +%s)
for bin in "$build"/fuzz/fuzz_*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    work=$(mktemp -d)
    [ -d "$src/tests/fuzz/corpus/$name" ] && cp -r "$src/tests/fuzz/corpus/$name/." "$work/"
    targets=$((targets + 1))
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
# The hours run, printed and recorded (one line per run) in BUILD/fuzz/hours.log.
wall=$(($(date +%s) - start))
summary=$(awk -v t="$targets" -v s="$seconds" -v w="$wall" -v d="$(date -u +%FT%TZ)" \
    -v r="$(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown)" -v st="$status" \
    'BEGIN { printf "%s %s: %d targets x %d s = %.2f target-hours fuzzed in %.2f h wall, %s", \
             d, r, t, s, t * s / 3600, w / 3600, st ? "CRASH" : "no crash" }')
echo "fuzz: $summary"
echo "$summary" >>"$build/fuzz/hours.log"
exit $status
