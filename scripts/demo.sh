#!/bin/sh
# `make demo`: the whole pipeline on one machine, from nothing.
#
#  1. a private redis-server on a unix socket in a temp dir
#  2. example logs for the last 3 hours (rotated access.log.1.gz + access.log, with an incident
#     about 90 minutes ago) written by bench/gen_log.py with timestamps relative to now, and
#     30 days of history before them (access.log.2.gz: a healthy 0.03% of 5xx, 5000 requests a
#     day, two incidents), so the SLO windows, the dashboard and `slitail recommend` show a
#     realistic month
#  3. slitail-aggregator and slitail-agent on the example config (examples/slitail.yaml, with
#     paths, ports and the state dir pointed into the temp dir)
#  4. the agent backfills the logs (read_from: beginning), then follows live traffic that this
#     script keeps appending, while the SLIs are printed from the HTTP API every few seconds
#
# Ctrl-C stops everything cleanly. DEMO_ONCE=1 runs to completion and exits: it waits until
# the aggregator's totals equal `slitail check` on the same files, prints them and exits 0
# (CI uses it as a smoke test).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${SLT_BIN_DIR:-$ROOT/build/bin}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
ONCE=${DEMO_ONCE:-0}
for b in slitail slitail-agent slitail-aggregator; do
    [ -x "$BIN/$b" ] || {
        echo "demo: no $BIN/$b (run 'make demo' to build it)" >&2
        exit 2
    }
done

DIR=$(mktemp -d /tmp/slitail-demo.XXXXXX)
PIDS=""
cleanup() {
    trap - INT TERM EXIT
    for p in $PIDS; do kill -TERM "$p" 2>/dev/null || true; done
    for p in $PIDS; do wait "$p" 2>/dev/null || true; done
    if [ "${KEEP:-0}" = 1 ]; then echo "demo: kept $DIR"; else rm -rf "$DIR"; fi
}
trap 'echo; echo "demo: stopping"; cleanup; exit 0' INT TERM
trap cleanup EXIT

free_port() {
    "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
AGENT_PORT=$(free_port)
HTTP_PORT=$(free_port)
STATUS_PORT=$(free_port)
API=http://127.0.0.1:$HTTP_PORT

echo "== demo directory: $DIR"
mkdir -p "$DIR/logs" "$DIR/agent" "$DIR/redis"

# 1. Redis, private, on a unix socket.
redis-server --port 0 --unixsocket "$DIR/redis.sock" --unixsocketperm 700 --dir "$DIR/redis" \
    --save '' --appendonly yes --appendfsync everysec --daemonize no >"$DIR/redis.log" 2>&1 &
PIDS="$!"
i=0
until redis-cli -s "$DIR/redis.sock" ping >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -lt 100 ] || { echo "demo: redis-server did not start, see $DIR/redis.log" >&2; exit 1; }
    sleep 0.1
done

# 2. Logs: 3 hours up to now, the older two hours rotated and gzipped.
now=$(date -u +%s)
start=$((now - 3 * 3600))
startiso=$(date -u -d "@$start" +%Y-%m-%dT%H:%M:%S)
"$PY" "$ROOT/bench/gen_log.py" nginx_timed --lines 9000 --start "$startiso" --span 10800 \
    --error-rate 0.0005 \
    --incident --seed 7 >"$DIR/all.log"
head -n 6000 "$DIR/all.log" | gzip -n >"$DIR/logs/access.log.1.gz"
tail -n +6001 "$DIR/all.log" >"$DIR/logs/access.log"
rm "$DIR/all.log"
# 30 days of history, a day per run of the generator, incidents 20 and 6 days ago
hist=$((start - 30 * 86400))
d=30
while [ $d -ge 1 ]; do
    dstart=$((start - d * 86400))
    inc=""
    [ $d = 20 ] || [ $d = 6 ] && inc=--incident
    "$PY" "$ROOT/bench/gen_log.py" nginx_timed --lines 5000 \
        --start "$(date -u -d "@$dstart" +%Y-%m-%dT%H:%M:%S)" --span 86400 --seed $((100 + d)) \
        --error-rate 0.0003 --slow-share 0.002 $inc
    d=$((d - 1))
done | gzip -n >"$DIR/logs/access.log.2.gz"
appstart=$(date -u -d "@$((now - 3600))" +%Y-%m-%dT%H:%M:%S)
"$PY" "$ROOT/bench/gen_log.py" app --lines 1500 --start "$appstart" --span 3600 --incident \
    --seed 11 >"$DIR/logs/app.log"

# 3. Config: the example, pointed into the temp dir.
printf 'demo-token-%s\n' "$now" >"$DIR/token"
chmod 600 "$DIR/token"
sed -e "s|examples/logs/|$DIR/logs/|g" \
    -e "s|/tmp/slitail-demo/agent|$DIR/agent|" \
    -e "s|redis://127.0.0.1:6379/0|unix://$DIR/redis.sock|" \
    -e "s|127.0.0.1:7433|127.0.0.1:$AGENT_PORT|g" \
    -e "s|127.0.0.1:7480|127.0.0.1:$HTTP_PORT|" \
    -e "s|127.0.0.1:7434|127.0.0.1:$STATUS_PORT|" \
    -e "s|^agent:|agent:\n  token_file: $DIR/token|" \
    -e "s|^aggregator:|aggregator:\n  token_file: $DIR/token|" \
    "$ROOT/examples/slitail.yaml" >"$DIR/slitail.yaml"

"$BIN/slitail-aggregator" -c "$DIR/slitail.yaml" >"$DIR/aggregator.log" 2>&1 &
PIDS="$! $PIDS"
i=0
until "$PY" -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1])" "$API/readyz" >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -lt 100 ] || { echo "demo: aggregator did not start, see $DIR/aggregator.log" >&2; cat "$DIR/aggregator.log" >&2; exit 1; }
    sleep 0.1
done
"$BIN/slitail-agent" -c "$DIR/slitail.yaml" >"$DIR/agent.log" 2>&1 &
AGENT=$!
PIDS="$AGENT $PIDS"
echo "== redis-server, slitail-aggregator (agents :$AGENT_PORT, API $API) and slitail-agent are up"
echo "   logs: $DIR/{aggregator,agent,redis}.log   dashboard: $API/"

# The ground truth: what `slitail check` says about the same files.
"$BIN/slitail" check -c "$DIR/slitail.yaml" --json "$DIR/logs/access.log.2.gz" \
    "$DIR/logs/access.log.1.gz" "$DIR/logs/access.log" "$DIR/logs/app.log" \
    --max-unparsed 100% >"$DIR/check.json"

show() {
    echo
    echo "== $(date -u +%H:%M:%S) slitail query slis"
    "$BIN/slitail" query --server "$API" slis || true
    echo "== slitail query counts checkout-availability --from -3h --step 15m   (the incident shows)"
    "$BIN/slitail" query --server "$API" counts checkout-availability --from -3h --to now \
        --step 15m || true
    echo "== slitail query slos"
    "$BIN/slitail" query --server "$API" slos || true
    echo "== slitail gate -c slitail.yaml --slo checkout-99.9 --url $API"
    "$BIN/slitail" gate -c "$DIR/slitail.yaml" --slo checkout-99.9 --url "$API" || true
}

# Totals over the 31 days of logs from the API must equal slitail check's.
agree() {
    "$PY" - "$DIR/check.json" "$API" "$hist" <<'PYEOF'
import json, sys, time, urllib.request
check, api, start = sys.argv[1], sys.argv[2], int(sys.argv[3])
want = {}
for f in json.load(open(check))["files"]:
    for name, s in f["slis"].items():
        w = want.setdefault(name, [0, 0, 0])
        w[0] += s["good"]; w[1] += s["bad"]; w[2] += s["excluded"]
frm = (start // 86400 - 1) * 86400
to = (int(time.time()) // 60 + 2) * 60
ok = True
for name, w in sorted(want.items()):
    try:
        with urllib.request.urlopen(f"{api}/api/v1/slis/{name}/counts?from={frm}&to={to}") as r:
            got = json.load(r)
        g = [got["good"], got["bad"], got["excluded"]]
    except Exception as e:  # not there yet
        g = str(e)
    print(f"  {name:24} check good/bad/excluded {w}  aggregator {g}")
    ok = ok and g == w
sys.exit(0 if ok else 1)
PYEOF
}

if [ "$ONCE" = 1 ]; then
    echo "== waiting until the aggregator holds exactly what slitail check counts"
    i=0
    until agree >"$DIR/agree.txt" 2>&1; do
        i=$((i + 1))
        if [ $i -ge 60 ]; then
            cat "$DIR/agree.txt"
            echo "demo: totals did not agree within 60 s; logs in $DIR" >&2
            KEEP=1
            tail -20 "$DIR/agent.log" "$DIR/aggregator.log" >&2
            exit 1
        fi
        sleep 1
    done
    cat "$DIR/agree.txt"
    show
    "$BIN/slitail-agent" -c "$DIR/slitail.yaml" --status || true
    echo
    echo "demo: ok (every line counted exactly once end to end)"
    exit 0
fi

# Live traffic: a few lines a second with the current time, until Ctrl-C.
(
    n=0
    while :; do
        n=$((n + 1))
        t=$(date -u +%Y-%m-%dT%H:%M:%S)
        "$PY" "$ROOT/bench/gen_log.py" nginx_timed --lines 10 --start "$t" --span 1 \
            --seed "$n" >>"$DIR/logs/access.log" 2>/dev/null || exit 0
        sleep 1
    done
) &
PIDS="$! $PIDS"
echo "== appending live traffic to $DIR/logs/access.log; Ctrl-C stops the demo"
while :; do
    show
    sleep 10
done
