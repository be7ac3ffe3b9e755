#!/bin/sh
# The agent's end-to-end benchmark: slitail-agent tailing a growing file (read_from: end,
# flush_interval 1s, the 3 web SLIs of bench/configs/nginx_timed.yaml) and shipping through a
# real slitail-aggregator into a private redis-server; beside it, in the same run, mtail tailing
# the same bytes. Prints lines/s end to end, CPU seconds and lines per CPU-second, peak RSS,
# the spool at the end, and checks that Redis's totals equal `slitail check` on the same file.
# Builds nothing; the generated log is cached in $SLT_BENCH_DIR as bench/run.sh does.
#
#   bench/agent_run.sh                          2 M nginx_timed lines, build/bin (make build)
#   SLT_BIN_DIR=build-rel/bin bench/agent_run.sh
#   SLT_BENCH_LINES=500000 bench/agent_run.sh
#   SLT_BENCH_RATE=1000000 bench/agent_run.sh   pace the writer at 1 M lines/s (default unpaced)
#   SLT_BENCH_REPEAT=3 bench/agent_run.sh       append the file 3 times (6 M lines)
#   SLT_BENCH_PEERS=0 bench/agent_run.sh        skip mtail
#   SLT_BENCH_SPAN=2592000 SLT_BENCH_LINES=1000000 bench/agent_run.sh
#                                               lines spread over 30 days of log time (a
#                                               backfill: many minutes, batches closed early)
#   SLT_BENCH_PERF=/tmp/agent.perf bench/agent_run.sh   perf record -g the agent meanwhile
#
# Exit status: 0 when the counts are exact, 1 when they are not, 2 when something is missing.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN_DIR=${SLT_BIN_DIR:-$ROOT/build/bin}
DIR=${SLT_BENCH_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/slitail-bench}
LINES=${SLT_BENCH_LINES:-2000000}
SPAN=${SLT_BENCH_SPAN:-86400}

[ -x "$BIN_DIR/slitail-agent" ] || {
    echo "bench: no $BIN_DIR/slitail-agent (run 'make bench', or set SLT_BIN_DIR)" >&2
    exit 2
}
mkdir -p "$DIR"
NGX=$DIR/nginx_timed-$LINES.log
[ "$SPAN" = 86400 ] || NGX=$DIR/nginx_timed-$LINES-span$SPAN.log
if [ ! -s "$NGX" ]; then
    echo "generating $NGX ($LINES lines over $SPAN s)..."
    python3 "$ROOT/bench/gen_log.py" nginx_timed --lines "$LINES" --seed 42 --span "$SPAN" \
        >"$NGX.tmp"
    mv "$NGX.tmp" "$NGX"
fi
exec python3 "$ROOT/bench/agent_bench.py" --bin-dir "$BIN_DIR" --log "$NGX" --lines "$LINES" \
    --peers "${SLT_BENCH_PEERS:-1}" --rate "${SLT_BENCH_RATE:-0}" --repeat "${SLT_BENCH_REPEAT:-1}" \
    ${SLT_BENCH_PERF:+--perf "$SLT_BENCH_PERF"}
