#!/bin/sh
# Aggregator ingest benchmark: a private redis-server (no persistence), slitail-aggregator from
# $BUILD (default build-rel, a RelWithDebInfo/Release build), and bench/aggr_load.c driving
# AGENTS simulated agents x BATCHES batches of SERIES SLIs x MINUTES rows. Then redis-benchmark
# on the same Redis for scale. TLS=1 runs the agents over TLS. CLUSTER=N stores into a Redis
# Cluster of N masters (no replicas; aggregator.redis_cluster) instead of one Redis (N=1 is a
# cluster of one node holding every slot). Results go to stdout; see bench/RESULTS.md.
set -eu
BUILD=${BUILD:-build-rel}
AGENTS=${AGENTS:-1000}
BATCHES=${BATCHES:-30}
SERIES=${SERIES:-10}
MINUTES=${MINUTES:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d /tmp/slt-aggr-bench.XXXXXX)
CLUSTER=${CLUSTER:-0}
CLUSTER_PIDS=""
cleanup() {
    [ -n "${AGGR_PID:-}" ] && kill "$AGGR_PID" 2>/dev/null || true
    [ -n "${REDIS_PID:-}" ] && kill "$REDIS_PID" 2>/dev/null || true
    for p in $CLUSTER_PIDS; do kill "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

cc -O2 -std=c11 -D_GNU_SOURCE "$ROOT/bench/aggr_load.c" -I"$ROOT/proto/include" \
    -I"$ROOT/common/include" -I"$ROOT/net/include" "$ROOT/$BUILD/proto/libslt_proto.a" \
    "$ROOT/$BUILD/net/libslt_net.a" "$ROOT/$BUILD/common/libslt_common.a" \
    $(pkg-config --libs msgpack 2>/dev/null || pkg-config --libs msgpack-c) \
    -lhttp_parser -lcurl -lssl -lcrypto -luv -o "$TMP/aggr_load"
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
RPORT=$(free_port)
APORT=$(free_port)
HPORT=$(free_port)
STORE_YAML="  redis: redis://127.0.0.1:$RPORT/0"
RCLI="redis-cli -p $RPORT"
if [ "$CLUSTER" -gt 0 ]; then
    # N masters on ports whose cluster bus (port + 10000) is free as well
    NODES=""
    i=0
    while [ $i -lt "$CLUSTER" ]; do
        p=$(free_port)
        [ "$p" -gt 55000 ] && continue
        mkdir -p "$TMP/node$i"
        redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly no \
            --dir "$TMP/node$i" --logfile "$TMP/node$i/redis.log" --cluster-enabled yes \
            --cluster-config-file nodes.conf &
        CLUSTER_PIDS="$CLUSTER_PIDS $!"
        NODES="$NODES 127.0.0.1:$p"
        [ $i = 0 ] && RPORT=$p
        i=$((i + 1))
    done
    sleep 0.5
    if [ "$CLUSTER" = 1 ]; then
        redis-cli -p "$RPORT" cluster addslotsrange 0 16383 >/dev/null
    else
        redis-cli --cluster create $NODES --cluster-replicas 0 --cluster-yes >/dev/null
    fi
    for _ in $(seq 50); do
        redis-cli -p "$RPORT" cluster info | grep -q 'cluster_state:ok' && break
        sleep 0.2
    done
    STORE_YAML="  redis_cluster: [$(echo $NODES | sed "s/\([^ ]*\)/'\1'/g; s/ /, /g")]"
    RCLI="redis-cli -c -p $RPORT"
else
    redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP" \
        --logfile "$TMP/redis.log" &
    REDIS_PID=$!
fi
echo bench-token > "$TMP/token"
# TLS=1: the agents connect with TLS (server certificate only, made here by the openssl CLI)
TLS_YAML=""
if [ "${TLS:-0}" = 1 ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
        -keyout "$TMP/ca.key" -out "$TMP/ca.pem" -subj '/CN=bench CA' 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/srv.key" \
        -out "$TMP/srv.csr" -subj '/CN=localhost' -addext 'subjectAltName=DNS:localhost' \
        2>/dev/null
    openssl x509 -req -in "$TMP/srv.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" \
        -CAcreateserial -days 1 -copy_extensions copy -out "$TMP/srv.pem" 2>/dev/null
    TLS_YAML="  tls: {cert_file: $TMP/srv.pem, key_file: $TMP/srv.key}"
    export AGGR_LOAD_CA="$TMP/ca.pem"
fi
cat > "$TMP/aggr.yaml" <<YAML
aggregator:
  listen: 127.0.0.1:$APORT
  http_listen: 127.0.0.1:$HPORT
$STORE_YAML
  token_file: $TMP/token
  max_agents: $((AGENTS + 100))
$TLS_YAML
YAML
sleep 0.3
${AGGR_WRAP:-} "$ROOT/$BUILD/bin/slitail-aggregator" -c "$TMP/aggr.yaml" 2>"$TMP/aggr.log" &
AGGR_PID=$!
for _ in $(seq 30); do
    if [ "$CLUSTER" -gt 0 ]; then
        grep -qs "slot map complete" "$TMP/aggr.log" && break
    else
        grep -qs "connected to" "$TMP/aggr.log" && break
    fi
    sleep 0.3
done
sleep 0.5
ulimit -n 65536 2>/dev/null || true
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
"$TMP/aggr_load" 127.0.0.1 "$APORT" "$TMP/token" "$AGENTS" "$BATCHES" "$SERIES" "$MINUTES" |
    tee "$TMP/load.out"
set -- $(grep '^expected' "$TMP/load.out")
got="g $($RCLI hget "$2" g) b $($RCLI hget "$2" b) e $($RCLI hget "$2" e)"
if [ "$got" = "$3 $4 $5 $6 $7 $8" ]; then
    echo "redis $2: $got (exact)"
else
    echo "redis $2: $got, MISMATCH" >&2
    exit 1
fi
echo "aggregator cpu (user+sys ticks): $(awk '{print $14+$15}' /proc/$AGGR_PID/stat)," \
     "rss $(awk '/VmRSS/{print $2" "$3}' /proc/$AGGR_PID/status)"
if [ "$CLUSTER" -gt 0 ]; then
    for n in $NODES; do
        echo "node $n: $(redis-cli -p "${n#*:}" info commandstats | grep evalsha | cut -d, -f1-2)"
    done
    exit 0
fi
redis-cli -p "$RPORT" info commandstats | grep -E 'evalsha|hincrby|hmget|cmdstat_hset' || true
echo "redis-benchmark on the same server:"
redis-benchmark -p "$RPORT" -q -n 200000 -c 50 -t ping,hset 2>/dev/null | tr '\r' '\n' | grep -v '^$' | tail -2
