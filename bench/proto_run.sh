#!/bin/sh
# The wire codec's cost (bench/proto_bench.c) against the libraries of $BUILD (default build):
# CPU ns per encode and decode (3 runs), then instructions per call under callgrind.
#   BUILD=build bench/proto_run.sh
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cc -O2 -g -std=c11 -D_GNU_SOURCE "$ROOT/bench/proto_bench.c" -I"$ROOT/proto/include" \
    -I"$ROOT/common/include" "$ROOT/$BUILD/proto/libslt_proto.a" \
    "$ROOT/$BUILD/common/libslt_common.a" $(pkg-config --libs msgpack-c 2>/dev/null ||
    pkg-config --libs msgpack) -o "$TMP/proto_bench"
for i in 1 2 3; do "$TMP/proto_bench" 1; done
command -v valgrind >/dev/null || exit 0
echo "instructions per call (callgrind, inclusive):"
printf '%-28s %12s %12s\n' message encode decode
# scale 1/1000 of the timed loops: hello/ack 1000 calls, batches 100 and 2
for c in "hello:1000" "ack:1000" "batch 40 series x 1 row:100" "batch 40 series x 120 rows:2"; do
    name=${c%:*}
    n=${c##*:}
    valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.out" \
        "$TMP/proto_bench" 0.001 "$name" >/dev/null 2>&1 || true
    callgrind_annotate --inclusive=yes "$TMP/cg.out" 2>/dev/null | tr -d , | awk -v n="$n" \
        -v name="$name" '/slt_msg_encode \[/ {e=$1} /slt_msg_decode \[/ {d=$1}
        END {printf "%-28s %12.0f %12.0f\n", name, e/n, d/n}'
done
