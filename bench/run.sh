#!/bin/sh
# slitail benchmark: `slitail check` against mtail and goaccess on the same generated file, in
# the same run, with a check that all three count the same 1xx..5xx. Builds nothing (`make
# bench` builds first). Generated logs are cached in $SLT_BENCH_DIR.
#
#   bench/run.sh                    2 M nginx_timed lines, 1 M ALB lines
#   SLT_BENCH_LINES=500000 bench/run.sh
#   SLT_BENCH_REPEAT=5 bench/run.sh  best of 5 runs for each slitail case (default 3)
#   SLT_BENCH_PEERS=0 bench/run.sh   skip mtail and goaccess
#   SLT_BENCH_FORMATS=0 bench/run.sh skip the per-format parse-only lines and check -j
#
# Exit status: 0 when the counts agree, 1 when they do not, 2 when something is missing.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${SLT_BIN:-$ROOT/build/bin/slitail}
DIR=${SLT_BENCH_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/slitail-bench}
LINES=${SLT_BENCH_LINES:-2000000}
ALB_LINES=${SLT_BENCH_ALB_LINES:-$((LINES / 2))}
REPEAT=${SLT_BENCH_REPEAT:-3}
PEERS=${SLT_BENCH_PEERS:-1}
FORMATS=${SLT_BENCH_FORMATS:-1}
FMT_LINES=${SLT_BENCH_FMT_LINES:-1000000}
REPEAT_J=${SLT_BENCH_REPEAT_J:-9} # -j 1 / -j 2 take the best of more runs: they are short
TIME=/usr/bin/time

die() {
    echo "bench: $*" >&2
    exit 2
}

[ -x "$BIN" ] || die "no $BIN (run 'make bench', or set SLT_BIN)"
[ -x "$TIME" ] || die "no $TIME (apt-get install time)"
if [ "$PEERS" = 1 ]; then
    command -v mtail >/dev/null || die "no mtail (scripts/deps.sh --bench)"
    command -v goaccess >/dev/null || die "no goaccess (scripts/deps.sh --bench)"
fi
mkdir -p "$DIR"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/slt-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM

NGX=$DIR/nginx_timed-$LINES.log
ALB=$DIR/alb-$ALB_LINES.log
SMALL=$DIR/nginx_timed-$((LINES / 10)).log
if [ ! -s "$NGX" ]; then
    echo "generating $NGX ($LINES lines)..."
    python3 "$ROOT/bench/gen_log.py" nginx_timed --lines "$LINES" --seed 42 >"$NGX.tmp"
    mv "$NGX.tmp" "$NGX"
fi
if [ ! -s "$SMALL" ]; then
    head -n $((LINES / 10)) "$NGX" >"$SMALL.tmp"
    mv "$SMALL.tmp" "$SMALL"
fi
if [ ! -s "$SMALL.gz" ]; then
    gzip -c "$SMALL" >"$SMALL.gz.tmp"
    mv "$SMALL.gz.tmp" "$SMALL.gz"
fi
if [ ! -s "$ALB" ]; then
    echo "generating $ALB ($ALB_LINES lines)..."
    python3 "$ROOT/bench/gen_log.py" alb --lines "$ALB_LINES" --seed 43 >"$ALB.tmp"
    mv "$ALB.tmp" "$ALB"
fi

# page cache warm for everyone
cat "$NGX" "$ALB" "$SMALL" >/dev/null

# run NAME CMD...: runs CMD (stdout to $WORK/NAME.out) REPEAT times; keeps the best time
run_best() {
    name=$1
    shift
    best=""
    i=0
    while [ "$i" -lt "$REPEAT" ]; do
        t0=$(date +%s%N)
        "$TIME" -f "%e %M %U %S" -o "$WORK/$name.time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" ||
            {
                cat "$WORK/$name.err" >&2
                die "$name failed"
            }
        t1=$(date +%s%N)
        # wall time in ms from the clock (time(1) only has 10 ms steps)
        t=$(((t1 - t0) / 1000000))
        sed -i "s/^[^ ]*/$t/" "$WORK/$name.time"
        if [ -z "$best" ] || python3 -c "import sys; sys.exit(0 if $t < $best else 1)"; then
            best=$t
            cp "$WORK/$name.time" "$WORK/$name.best"
        fi
        i=$((i + 1))
    done
}

echo "slitail check, best of $REPEAT runs each..."
run_best ngx "$BIN" check -c "$ROOT/bench/configs/nginx_timed.yaml" --json "$NGX"
run_best ngx_small "$BIN" check -c "$ROOT/bench/configs/nginx_timed.yaml" --json "$SMALL"
run_best regex "$BIN" check -c "$ROOT/bench/configs/regex.yaml" --json "$NGX"
run_best alb "$BIN" check -c "$ROOT/bench/configs/alb.yaml" --json "$ALB"
run_best ngx_gz "$BIN" check -c "$ROOT/bench/configs/nginx_timed.yaml" --json "$SMALL.gz"

if [ "$FORMATS" = 1 ]; then
    # check -j: the ALB file as 4 files, read one at a time, then two at a time
    for k in 1 2 3 4; do
        [ -s "$DIR/alb-quarter-$k.log" ] && continue
        awk -v k=$k -v n="$ALB_LINES" 'NR > (k - 1) * n / 4 && NR <= k * n / 4' "$ALB" \
            >"$DIR/alb-quarter-$k.log.tmp"
        mv "$DIR/alb-quarter-$k.log.tmp" "$DIR/alb-quarter-$k.log"
    done
    Q="$DIR/alb-quarter-1.log $DIR/alb-quarter-2.log $DIR/alb-quarter-3.log $DIR/alb-quarter-4.log"
    cat $Q >/dev/null
    echo "slitail check -j 1 and -j 2 on 4 files, best of $REPEAT_J runs each..."
    R0=$REPEAT
    REPEAT=$REPEAT_J
    # shellcheck disable=SC2086
    run_best j1 "$BIN" check -j 1 -c "$ROOT/bench/configs/alb.yaml" --json $Q
    # shellcheck disable=SC2086
    run_best j2 "$BIN" check -j 2 -c "$ROOT/bench/configs/alb.yaml" --json $Q
    REPEAT=$R0
    cmp -s "$WORK/j1.out" "$WORK/j2.out" || die "check -j 2 and -j 1 disagree"

    # parse only (bench/parse_bench.c), every built-in format of issue 10 plus alb
    BUILD_DIR=$(dirname "$(dirname "$BIN")")
    cc -O2 -std=c11 -D_GNU_SOURCE "$ROOT/bench/parse_bench.c" -I"$ROOT/parsers/include" \
        -I"$ROOT/common/include" "$BUILD_DIR/parsers/libslt_parsers.a" \
        "$BUILD_DIR/common/libslt_common.a" $(pkg-config --libs libpcre2-8) \
        -o "$WORK/parse_bench" || die "cannot build bench/parse_bench.c"
    echo "parse only, per format ($FMT_LINES lines, best of $REPEAT)..."
    : >"$WORK/formats.txt"
    for f in haproxy_http envoy traefik_json ingress_nginx cloudfront w3c; do
        F=$DIR/fmt-$f-$FMT_LINES.log
        if [ ! -s "$F" ]; then
            python3 "$ROOT/bench/format_samples.py" "$f" --lines "$FMT_LINES" >"$F.tmp"
            mv "$F.tmp" "$F"
        fi
        "$WORK/parse_bench" "$f" "$F" "$REPEAT" >>"$WORK/formats.txt"
    done
    "$WORK/parse_bench" alb "$ALB" 1 >>"$WORK/formats.txt"
    "$WORK/parse_bench" alb "$ALB" 1 all >>"$WORK/formats.txt"
fi

if [ "$PEERS" = 1 ]; then
    echo "mtail --one_shot (once)..."
    mkdir -p "$WORK/progs"
    cp "$ROOT/bench/status.mtail" "$WORK/progs/"
    "$TIME" -f "%e %M %U %S" -o "$WORK/mtail.best" mtail --one_shot --one_shot_format=json \
        --progs "$WORK/progs" --logs "$NGX" >"$WORK/mtail.out" 2>"$WORK/mtail.err" ||
        {
            tail -5 "$WORK/mtail.err" >&2
            die "mtail failed"
        }
    echo "goaccess (once)..."
    "$TIME" -f "%e %M %U %S" -o "$WORK/goaccess.best" goaccess "$NGX" --no-global-config \
        --log-format=COMBINED --no-progress -o "$WORK/goaccess.json" \
        >"$WORK/goaccess.out" 2>"$WORK/goaccess.err" ||
        {
            tail -5 "$WORK/goaccess.err" >&2
            die "goaccess failed"
        }
fi

LINES=$LINES ALB_LINES=$ALB_LINES PEERS=$PEERS FORMATS=$FORMATS WORK=$WORK NGX=$NGX ALB=$ALB \
    CPU="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
    NPROC="$(nproc)" LOAD="$(cut -d' ' -f1-3 /proc/loadavg)" \
    VERSION="$("$BIN" --version)" python3 - <<'EOF'
import json, os, sys

W = os.environ["WORK"]
lines = int(os.environ["LINES"])
alb_lines = int(os.environ["ALB_LINES"])
peers = os.environ["PEERS"] == "1"
formats = os.environ["FORMATS"] == "1"


def t(name):
    e, m, u, s = open(os.path.join(W, name + ".best")).read().split()[:4]
    # run_best stores ms; mtail and goaccess keep time(1)'s seconds
    e = float(e) / 1000.0 if name not in ("mtail", "goaccess") else float(e)
    return e, int(m), float(u), float(s)


def check_json(name):
    return json.load(open(os.path.join(W, name + ".out")))["files"][0]


rows = []
def row(label, name, n):
    e, m, u, s = t(name)
    rows.append((label, n, e, u + s, n / e if e else 0, n / (u + s) if u + s else 0, m))
    return n / e if e else 0


print()
print("machine: %s, %s cores, load %s; %s" % (os.environ["CPU"], os.environ["NPROC"],
                                               os.environ["LOAD"], os.environ["VERSION"]))
ngx_rate = row("slitail nginx_timed, 3 SLIs", "ngx", lines)
row("slitail nginx_timed, 3 SLIs, 1/10 file", "ngx_small", lines // 10)
regex_rate = row("slitail user PCRE2 format, 3 SLIs", "regex", lines)
alb_rate = row("slitail alb, 3 SLIs", "alb", alb_lines)
row("slitail nginx_timed .gz, 1/10 file", "ngx_gz", lines // 10)
if peers:
    mtail_rate = row("mtail --one_shot", "mtail", lines)
    ga_rate = row("goaccess", "goaccess", lines)
print("%-40s %9s %7s %7s %11s %11s %8s" % ("case", "lines", "wall s", "cpu s", "lines/s",
                                           "per cpu s", "RSS KiB"))
for r in rows:
    print("%-40s %9d %7.2f %7.2f %11.0f %11.0f %8d" % r)
if peers:
    print("slitail nginx_timed vs mtail: %.0fx, vs goaccess: %.0fx" %
          (ngx_rate / mtail_rate, ngx_rate / ga_rate))
jobs_speedup = None
if formats:
    e1, e2 = t("j1")[0], t("j2")[0]
    jobs_speedup = e1 / e2 if e2 else 0
    print("slitail check -j 1 / -j 2 on the ALB file as 4 files: %.2f s / %.2f s wall = %.2fx"
          % (e1, e2, jobs_speedup))
    print()
    print("parse only (bench/parse_bench.c, CPU time per line):")
    sys.stdout.write(open(os.path.join(W, "formats.txt")).read())

load1 = float(os.environ["LOAD"].split()[0])
if load1 > int(os.environ["NPROC"]):
    print("NOTE: the machine is busy (load %.1f on %s cores): wall-clock rates are low; the "
          "per-cpu-second rates are closer to an idle core" % (load1, os.environ["NPROC"]))
targets = [("nginx_timed >= 5 M lines/s", ngx_rate >= 5e6),
           ("user PCRE2 >= 2 M lines/s", regex_rate >= 2e6),
           ("alb >= 3 M lines/s", alb_rate >= 3e6),
           ("check -j 2 on 4 files >= 1.7x -j 1 (2 cores)",
            jobs_speedup is not None and jobs_speedup >= 1.7),
           ("peak RSS <= 8 MiB", max(t(n)[1] for n in ("ngx", "regex", "alb", "ngx_gz")) <= 8192),
           ("RSS does not grow with the file (1/10 vs full within 512 KiB)",
            t("ngx")[1] - t("ngx_small")[1] <= 512)]
for what, ok in targets:
    print("target %-62s %s" % (what, "met" if ok else "NOT met"))

# status classes: slitail (built-in and regex), mtail, goaccess
ok = True
ngx = check_json("ngx")
rx = check_json("regex")
classes = ["1xx", "2xx", "3xx", "4xx", "5xx"]
got = {"slitail": {c: ngx["status_classes"].get(c, 0) for c in classes},
       "slitail-regex": {c: rx["status_classes"].get(c, 0) for c in classes}}
if ngx["lines"] != lines or ngx["parsed"] != lines:
    print("slitail parsed %d of %d lines" % (ngx["parsed"], lines))
    ok = False
if peers:
    m = json.load(open(os.path.join(W, "mtail.out")))
    mt = {c: 0 for c in classes}
    for lv in m.get("http_requests_by_class", [{}])[0].get("LabelValues", []):
        mt[lv["Labels"][0] + "xx"] = int(lv["Value"]["Value"])
    got["mtail"] = mt
    g = json.load(open(os.path.join(W, "goaccess.json")))
    ga = {c: 0 for c in classes}
    for item in g["status_codes"]["data"]:
        ga[item["data"][0] + "xx"] = int(item["hits"]["count"])
    got["goaccess"] = ga
    if g["general"]["failed_requests"]:
        print("goaccess failed to parse %d lines" % g["general"]["failed_requests"])
print()
print("%-14s " % "status" + " ".join("%10s" % c for c in classes))
for tool, v in got.items():
    print("%-14s " % tool + " ".join("%10d" % v[c] for c in classes))
ref = got["slitail"]
for tool, v in got.items():
    if v != ref:
        print("MISMATCH: %s disagrees with slitail" % tool)
        ok = False
print("status classes agree" if ok else "status classes DO NOT agree")
sys.exit(0 if ok else 1)
EOF
