#!/usr/bin/env python3
"""The agent's end-to-end benchmark (run by bench/agent_run.sh, which builds nothing and caches
the generated log): slitail-agent tailing a growing file and shipping 3 SLIs through a real
slitail-aggregator into a private redis-server, beside mtail tailing the same bytes, in the same
run. Figures: lines/s end to end (first write until Redis holds every line), the agent's CPU
seconds (utime + stime of /proc/PID/stat, all threads) and lines per CPU-second, its peak RSS
(VmHWM), the spool at the end; the same for mtail; `slitail check` on the same file as the
reference for CPU per line and for exactness. Exit 0 when Redis totals equal `slitail check`
(and mtail's status classes agree), 1 otherwise, 2 when something is missing or times out.

  agent_bench.py --bin-dir build-rel/bin --log FILE --lines N [--peers 0|1] [--rate LINES/S]
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TICK = os.sysconf("SC_CLK_TCK")
CHUNK = 4 << 20
TOKEN = "bench-token"


def die(msg, code=2):
    print("agent bench: " + msg, file=sys.stderr)
    sys.exit(code)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_for(pred, timeout, what, interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise TimeoutError("%s not reached after %ss" % (what, timeout))


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def cpu_s(pid):
    """utime + stime of every thread, live and exited (fields 14, 15 of /proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        st = f.read().rsplit(")", 1)[1].split()
    return (int(st[11]) + int(st[12])) / TICK, int(st[11]) / TICK, int(st[12]) / TICK


def run_ns(pid):
    """Time on CPU of PID's live threads in ns (/proc/PID/task/*/schedstat): finer than ticks."""
    total = 0
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total


def proc_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def fd_pos(pid, path):
    """Offset of PID's descriptor on PATH (from /proc/PID/fdinfo), None when it has none."""
    d = "/proc/%d/fd" % pid
    try:
        fds = os.listdir(d)
    except OSError:
        return None
    best = None
    for fd in fds:
        try:
            if os.readlink(os.path.join(d, fd)) != path:
                continue
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                pos = int(f.readline().split()[1])
            best = pos if best is None else max(best, pos)
        except (OSError, ValueError, IndexError):
            continue
    return best


def rchar(pid):
    """Bytes PID read with any read syscall (pread included) so far (/proc/PID/io)."""
    with open("/proc/%d/io" % pid) as f:
        for line in f:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    return 0


class Resp:
    """Just enough RESP to poll HGETALL without forking redis-cli every few milliseconds."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.f = self.s.makefile("rb")

    def cmd(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)
        return self._read()

    def _read(self):
        line = self.f.readline()
        t, rest = line[:1], line[1:-2]
        if t in (b"+", b"-"):
            return rest.decode()
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)[:-2]
            return data.decode()
        if t == b"*":
            return [self._read() for _ in range(int(rest))]
        raise IOError("bad RESP reply %r" % line)

    def hash(self, key):
        v = self.cmd("HGETALL", key)
        return {v[i]: int(v[i + 1]) for i in range(0, len(v), 2)}


class Proc:
    def __init__(self, argv, log):
        self.log = open(log, "wb")
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        self.pid = self.p.pid

    def alive(self):
        return self.p.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.alive():
            self.p.send_signal(sig)
            try:
                self.p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


class Writer(threading.Thread):
    """Appends SRC REPEAT times to DST in CHUNK-byte writes (lines cut anywhere), optionally
    paced at RATE bytes/s."""

    def __init__(self, src, dst, rate_bytes, repeat):
        super().__init__(daemon=True)
        self.src, self.dst, self.rate, self.repeat = src, dst, rate_bytes, repeat
        self.t0 = self.t1 = None
        self.done = 0
        self.error = None

    def run(self):
        try:
            with open(self.dst, "ab", buffering=0) as d:
                self.t0 = time.time()
                for _ in range(self.repeat):
                    with open(self.src, "rb") as s:
                        while True:
                            b = s.read(CHUNK)
                            if not b:
                                break
                            d.write(b)
                            self.done += len(b)
                            if self.rate:
                                ahead = self.t0 + self.done / self.rate - time.time()
                                if ahead > 0:
                                    time.sleep(ahead)
                self.t1 = time.time()
        except OSError as e:
            self.error = e


def http_get(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
        return r.read().decode()


def run_check(args, cfg, work):
    """slitail check under /usr/bin/time (a small parent, so the peak RSS is check's own)."""
    out = os.path.join(work, "check.time")
    t0 = time.time()
    r = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", out,
                        os.path.join(args.bin_dir, "slitail"), "check", "-c", cfg, "--json",
                        args.log], capture_output=True, text=True)
    wall = time.time() - t0
    if r.returncode != 0:
        die("slitail check failed: " + r.stderr.strip()[-500:])
    with open(out) as f:
        rss, user, sys_ = f.read().split()[-3:]
    return json.loads(r.stdout)["files"][0], wall, float(user) + float(sys_), int(rss)


def expected_totals(chk, k):
    """What Redis's tot hashes hold after the file was appended K times."""
    want = {"slt:{i:web}:tot": {"l": k * chk["lines"], "u": k * chk["unparsed"]}}
    for name, v in chk["slis"].items():
        want["slt:{s:%s}:tot" % name] = {"g": k * v["good"], "b": k * v["bad"],
                                          "e": k * v["excluded"]}
    # a field never incremented is absent: compare as 0
    return {k: {f: n for f, n in v.items() if n} for k, v in want.items()}


def run_agent(args, work, slis_yaml, want):
    rport, aport, hport, sport = free_port(), free_port(), free_port(), free_port()
    rdir = os.path.join(work, "redis")
    os.makedirs(rdir)
    redis = Proc(["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--dir", rdir,
                  "--save", "", "--appendonly", "no"], os.path.join(work, "redis.log"))
    procs = [redis]
    try:
        wait_for(lambda: port_open(rport), 10, "redis port")
        tok = os.path.join(work, "token")
        with open(tok, "w") as f:
            f.write(TOKEN + "\n")
        log = os.path.join(work, "agent-access.log")
        open(log, "w").close()
        cfg = os.path.join(work, "agent.yaml")
        with open(cfg, "w") as f:
            f.write("agent:\n  id: bench-1\n  aggregators: ['127.0.0.1:%d']\n"
                    "  token_file: %s\n  state_dir: %s\n  flush_interval: 1s\n"
                    "  status_listen: 127.0.0.1:%d\n"
                    "aggregator:\n  listen: 127.0.0.1:%d\n  http_listen: 127.0.0.1:%d\n"
                    "  redis: redis://127.0.0.1:%d/0\n  token_file: %s\n"
                    "inputs:\n  - { name: web, format: nginx_timed, paths: ['%s'],"
                    " read_from: end }\n%s" % (aport, tok, os.path.join(work, "state"), sport,
                                               aport, hport, rport, tok, log, slis_yaml))
        aggr = Proc([os.path.join(args.bin_dir, "slitail-aggregator"), "-c", cfg],
                    os.path.join(work, "aggregator.log"))
        procs.append(aggr)
        wait_for(lambda: port_open(aport), 10, "aggregator port")
        agent = Proc([os.path.join(args.bin_dir, "slitail-agent"), "-c", cfg],
                     os.path.join(work, "agent.log"))
        procs.append(agent)

        def status():
            try:
                return json.loads(http_get(sport, "/status"))
            except (OSError, ValueError):
                return None

        wait_for(lambda: (s := status()) and s["connection"]["state"] == "connected"
                 and fd_pos(agent.pid, log) is not None, 15, "agent connected and tailing")
        rss_idle = proc_kib(agent.pid, "VmRSS")
        i0, t_i0 = run_ns(agent.pid), time.time()
        time.sleep(args.idle)
        idle = (run_ns(agent.pid) - i0) / 1e6 / (time.time() - t_i0)
        r = Resp(rport)
        c0, a0, d0 = cpu_s(agent.pid), cpu_s(aggr.pid), cpu_s(redis.pid)
        io0 = rchar(agent.pid)
        perf = None
        if args.perf:
            perf = subprocess.Popen(["perf", "record", "-g", "-q", "-o", args.perf, "-p",
                                     str(agent.pid)], stdout=subprocess.DEVNULL)
            time.sleep(1)  # perf attached before the first write
            c0 = cpu_s(agent.pid)
        load0 = open("/proc/loadavg").read().split()[:3]
        w = Writer(args.log, log, args.rate_bytes, args.repeat)
        w.start()
        size = os.path.getsize(args.log) * args.repeat
        t_read = t_done = None
        lag = 0
        deadline = time.time() + args.timeout
        next_redis = 0
        while time.time() < deadline:
            if not agent.alive():
                die("the agent died: see " + os.path.join(work, "agent.log"))
            now = time.time()
            rd = rchar(agent.pid) - io0
            lag = max(lag, w.done - rd)
            if t_read is None and rd >= size:
                t_read = now
            if now >= next_redis:
                next_redis = now + 0.02
                got = {k: {f: v for f, v in r.hash(k).items() if v} for k in want}
                if got == want:
                    t_done = time.time()
                    break
            time.sleep(0.005)
        c1, a1, d1 = cpu_s(agent.pid), cpu_s(aggr.pid), cpu_s(redis.pid)
        if perf:
            perf.send_signal(signal.SIGINT)
            perf.wait()
        hwm = proc_kib(agent.pid, "VmHWM")
        rss_end = proc_kib(agent.pid, "VmRSS")
        w.join()
        if w.error:
            die("writer: %s" % w.error)
        got = {k: r.hash(k) for k in want}
        st = wait_for(lambda: (s := status()) and s["last_acked_seq"] == s["seq"] and s, 10,
                      "agent's last batch acknowledged", 0.02) if t_done else status()
        return {"t0": w.t0, "t_write": w.t1, "t_read": t_read, "t_done": t_done,
                "cpu": c1[0] - c0[0], "user": c1[1] - c0[1], "sys": c1[2] - c0[2],
                "aggr_cpu": a1[0] - a0[0], "redis_cpu": d1[0] - d0[0], "hwm": hwm,
                "rss_idle": rss_idle, "rss_end": rss_end, "status": st, "got": got,
                "load": load0, "lag": lag, "idle": idle}
    finally:
        for p in reversed(procs):
            p.stop()


def run_mtail(args, work):
    port = free_port()
    progs = os.path.join(work, "progs")
    os.makedirs(progs)
    shutil.copy(os.path.join(HERE, "status.mtail"), progs)
    log = os.path.join(work, "mtail-access.log")
    open(log, "w").close()
    m = Proc(["mtail", "--progs", progs, "--logs", log, "--address", "127.0.0.1", "--port",
              str(port), "--logtostderr"], os.path.join(work, "mtail.log"))
    try:
        wait_for(lambda: port_open(port) and fd_pos(m.pid, log) is not None, 20,
                 "mtail listening and tailing")
        time.sleep(0.5)

        def classes():
            out = {}
            for metric in json.loads(http_get(port, "/json")):
                if metric.get("Name") == "http_requests_by_class":
                    for lv in metric.get("LabelValues", []):
                        out[lv["Labels"][0] + "xx"] = int(lv["Value"]["Value"])
            return out

        c0 = cpu_s(m.pid)
        io0 = rchar(m.pid)
        w = Writer(args.log, log, args.rate_bytes, args.repeat)
        w.start()
        size = os.path.getsize(args.log) * args.repeat
        t_read = t_done = None
        lag = 0
        got = {}
        deadline = time.time() + args.timeout
        next_poll = 0
        while time.time() < deadline:
            if not m.alive():
                die("mtail died: see " + os.path.join(work, "mtail.log"))
            now = time.time()
            rd = rchar(m.pid) - io0
            lag = max(lag, w.done - rd)
            if t_read is None and rd >= size:
                t_read = now
            if now >= next_poll:
                next_poll = now + 0.1
                got = classes()
                if sum(got.values()) >= args.lines * args.repeat:
                    t_done = time.time()
                    break
            time.sleep(0.01)
        c1 = cpu_s(m.pid)
        hwm = proc_kib(m.pid, "VmHWM")
        w.join()
        return {"t0": w.t0, "t_write": w.t1, "t_read": t_read, "t_done": t_done,
                "cpu": c1[0] - c0[0], "user": c1[1] - c0[1], "sys": c1[2] - c0[2], "hwm": hwm,
                "classes": got, "lag": lag}
    finally:
        m.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--lines", type=int, required=True)
    ap.add_argument("--peers", type=int, default=1)
    ap.add_argument("--rate", type=float, default=0, help="writer pace, lines/s (0: unpaced)")
    ap.add_argument("--perf", help="perf record -g the agent into this file")
    ap.add_argument("--repeat", type=int, default=1, help="append the file this many times")
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--idle", type=float, default=3, help="seconds the idle agent is measured")
    args = ap.parse_args()
    for b in ("slitail", "slitail-agent", "slitail-aggregator"):
        if not os.access(os.path.join(args.bin_dir, b), os.X_OK):
            die("no %s in %s" % (b, args.bin_dir))
    for b in ["redis-server", "/usr/bin/time"] + (["mtail"] if args.peers else []):
        if not shutil.which(b):
            die("no %s (scripts/deps.sh --bench)" % b)
    args.log = os.path.abspath(args.log)
    size = os.path.getsize(args.log)
    args.rate_bytes = args.rate * size / args.lines if args.rate else 0

    cfg = os.path.join(HERE, "configs", "nginx_timed.yaml")
    with open(cfg) as f:
        text = f.read()
    slis_yaml = text[text.index("\nslis:") + 1:]

    work = tempfile.mkdtemp(prefix="slt-agent-bench.")
    try:
        with open(args.log, "rb") as f:  # page cache warm for everyone
            while f.read(CHUNK):
                pass
        print("slitail check on %s (reference, median of 3)..." % args.log, flush=True)
        runs = sorted((run_check(args, cfg, work) for _ in range(3)), key=lambda r: r[2])
        chk, chk_wall, chk_cpu, chk_rss = runs[1]
        if chk["lines"] != args.lines:
            die("%s has %d lines, not %d" % (args.log, chk["lines"], args.lines))
        want = expected_totals(chk, args.repeat)
        print("slitail-agent -> slitail-aggregator -> redis, file growing...", flush=True)
        ag = run_agent(args, work, slis_yaml, want)
        mt = None
        if args.peers:
            print("mtail on the same bytes, file growing...", flush=True)
            mt = run_mtail(args, work)
        load1 = open("/proc/loadavg").read().split()[:3]
    finally:
        shutil.rmtree(work, ignore_errors=True)

    n = args.lines * args.repeat
    ver = subprocess.run([os.path.join(args.bin_dir, "slitail"), "--version"],
                         capture_output=True, text=True).stdout.strip()
    cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                      if l.startswith("model name")), "?")
    print()
    print("machine: %s, %d cores, load %s before the agent run, %s at the end; %s" %
          (cpu_model, os.cpu_count(), " ".join(ag["load"]), " ".join(load1), ver))
    print("file: %d lines, %.0f MB (%s x %d lines), written in %d KiB chunks%s" %
          (n, size * args.repeat / 1e6, os.path.basename(args.log), args.lines, CHUNK >> 10,
           ", paced at %.0f lines/s" % args.rate if args.rate else ", unpaced"))
    ok = ag["t_done"] is not None

    def span(r, key):
        return r[key] - r["t0"] if r.get(key) else float("nan")

    print("%-44s %8s %8s %8s %8s %12s %9s" % ("case", "write s", "read s", "done s", "cpu s",
                                              "lines/cpu s", "peak RSS"))
    print("%-44s %8s %8s %8.2f %8.2f %12.0f %6.1f MiB" %
          ("slitail check (one copy, median of 3)", "", "", chk_wall, chk_cpu,
           args.lines / chk_cpu if chk_cpu else 0, chk_rss / 1024))
    rows = [("slitail-agent, 3 SLIs, shipped to Redis", ag)]
    if mt:
        rows.append(("mtail, status classes", mt))
    for label, r in rows:
        print("%-44s %8.2f %8.2f %8.2f %8.2f %12.0f %6.1f MiB" %
              (label, span(r, "t_write"), span(r, "t_read"), span(r, "t_done"), r["cpu"],
               n / r["cpu"] if r["cpu"] else 0, r["hwm"] / 1024))
    print("(write: first to last write; read: until the process had read the file's bytes (rchar of /proc/PID/io); "
          "done: until Redis (agent) or /json (mtail) held every line)")
    st = ag["status"] or {}
    sp = st.get("spool", {})
    print("agent: read at %.2f M lines/s (wall, lines / read s)" %
          (n / span(ag, "t_read") / 1e6 if ag["t_read"] else 0))
    print("agent: user %.2f s, sys %.2f s; end to end %.2f M lines/s (wall); %.2f M lines per "
          "cpu-second; RSS idle %d KiB, peak %d KiB; batches %s, seq %s, last_acked_seq %s; "
          "spool at the end %s batches / %s bytes, %s unacked" %
          (ag["user"], ag["sys"], n / span(ag, "t_done") / 1e6 if ok else 0,
           n / ag["cpu"] / 1e6 if ag["cpu"] else 0, ag["rss_idle"], ag["hwm"],
           st.get("counters", {}).get("batches"), st.get("seq"), st.get("last_acked_seq"),
           sp.get("batches"), sp.get("bytes"), sp.get("unacked_batches")))
    print("aggregator cpu %.2f s, redis cpu %.2f s for the same lines" %
          (ag["aggr_cpu"], ag["redis_cpu"]))
    print("idle agent (connected, empty file, before the writes): %.2f ms of CPU per second" %
          ag["idle"])
    print("agent cpu per line vs slitail check: %.2fx" %
          (ag["cpu"] / n / (chk_cpu / args.lines) if chk_cpu else 0))
    bpl = size / args.lines
    for label, r in rows:
        print("%s: largest lag behind the writer %.1f MB = %.0f k lines%s" %
              (label.split(",")[0], r["lag"] / 1e6, r["lag"] / bpl / 1e3,
               " = %.2f s at the writer's pace" % (r["lag"] / bpl / args.rate) if args.rate
               else ""))
    if mt:
        print("mtail: user %.2f s, sys %.2f s; %.0f k lines per cpu-second" %
              (mt["user"], mt["sys"], n / mt["cpu"] / 1e3 if mt["cpu"] else 0))
        print("slitail-agent vs mtail per cpu-second: %.1fx" %
              (mt["cpu"] / ag["cpu"] if ag["cpu"] else 0))

    # exactness: Redis totals against slitail check on the same file
    print()
    print("%-40s %10s %10s %10s   %s" % ("redis tot (agent) vs slitail check", "good/lines",
                                         "bad/unparsed", "excluded", ""))
    want = expected_totals(chk, args.repeat)
    for k in want:
        g = ag["got"].get(k, {})
        fields = ("l", "u") if ":{i:" in k else ("g", "b", "e")
        same = all(g.get(f, 0) == want[k].get(f, 0) for f in fields)
        ok = ok and same
        print("%-40s " % k + " ".join("%10d" % g.get(f, 0) for f in fields) +
              ("" if len(fields) == 3 else " " * 11) + "   %s" %
              ("= check" if same else "MISMATCH, check: " +
               " ".join(str(want[k].get(f, 0)) for f in fields)))
    if mt:
        sc = chk["status_classes"]
        same = all(mt["classes"].get(c, 0) == args.repeat * sc.get(c, 0) for c in sc)
        ok = ok and same and mt["t_done"] is not None
        print("mtail status classes %s slitail check's" % ("equal" if same else "DIFFER from"))
    wrate = n / span(ag, "t_write")
    # unpaced: the agent read >= 2 M lines/s; paced at >= 2 M lines/s: it finished reading
    # within 0.25 s of the last write
    keep_up = bool(ag["t_read"]) and (n / span(ag, "t_read") >= 2e6 or (
        wrate >= 1.98e6 and ag["t_read"] - ag["t_write"] <= 0.25))
    print("writer %.2f M lines/s; agent done reading %.2f s after the last write; Redis held "
          "every line %.2f s after it (flush_interval 1s)" %
          (wrate / 1e6, ag["t_read"] - ag["t_write"] if ag["t_read"] else float("nan"),
           ag["t_done"] - ag["t_write"] if ag["t_done"] else float("nan")))
    hwm_ok = ag["hwm"] <= 10 * 1024 and sp.get("unacked_batches") == 0
    for what, met in [
            (">= 2 M lines per cpu-second, 3 SLIs, shipped", n / ag["cpu"] >= 2e6),
            ("keeps up with >= 2 M lines/s (wall): read rate, or <= 0.25 s behind a paced writer",
             keep_up),
            ("peak RSS <= 10 MiB, spool empty (all acked) at the end", hwm_ok)]:
        print("target %-78s %s" % (what, "met" if met else "NOT met"))
    if float(ag["load"][0]) > os.cpu_count():
        print("NOTE: the machine is busy (load %s on %d cores): wall-clock figures are low; the "
              "per-cpu-second figures are the 'per core' ones" % (ag["load"][0], os.cpu_count()))
    print("counts exact" if ok else "counts NOT exact (or not all lines arrived)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
