#!/bin/sh
# Peak RSS (VmHWM) of an idle agent without any S3 input, and whether libcurl is mapped.
# usage: sh bench/agent_idle_rss.sh [path/to/slitail-agent] [seconds]   (default build/bin, 3 s)
# The agent tails one empty file and retries an aggregator that is not there (127.0.0.1:1).
set -eu
AGENT=${1:-build/bin/slitail-agent}
SECS=${2:-3}
T=$(mktemp -d /tmp/slt-idle-rss.XXXXXX)
trap 'kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; rm -rf "$T"' EXIT
echo "0123456789abcdef0123456789abcdef" >"$T/token"
: >"$T/access.log"
cat >"$T/agent.yaml" <<YAML
agent:
  id: idle-1
  aggregators: ['127.0.0.1:1']
  token_file: $T/token
  state_dir: $T/state
inputs:
  - { name: web, format: nginx_timed, paths: ['$T/access.log'] }
slis:
  - name: availability
    input: web
    bad: { status: 5xx }
YAML
"$AGENT" -c "$T/agent.yaml" 2>"$T/log" &
PID=$!
sleep "$SECS"
if ! kill -0 "$PID" 2>/dev/null; then cat "$T/log" >&2; exit 1; fi
printf '%s: %s, %s shared objects mapped, libcurl mapped: %s\n' "$AGENT" \
    "$(grep VmHWM /proc/$PID/status | tr -s ' \t' ' ')" \
    "$(grep -o '/[^ ]*\.so[.0-9]*$' /proc/$PID/maps | sort -u | wc -l)" \
    "$(grep -q libcurl /proc/$PID/maps && echo yes || echo no)"
