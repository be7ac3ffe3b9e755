"""The chaos suite's world: a private redis-server, the real aggregator, the real agent tailing
a log that the test writer (agent_testlib.LogWriter) fills and rotates while it records the
ground truth, optional fault proxies in between, and the figures every scenario reports.

Exact means: for every (SLI, minute, class) the aggregator's API (/api/v1/slis/NAME/counts,
one point per minute) equals the writer's truth, and /metrics counts the writer's lines."""
import json
import os
import re
import signal
import threading
import time
import urllib.error
import urllib.request

import agent_testlib as L
import slt_harness as H
from faultproxy import FaultProxy

SHORT = os.environ.get("CHAOS_SHORT", "") not in ("", "0")
# set by run.py while an expected failure runs in the short form: waits are cut to this, so
# CI does not sit out a full timeout for a bug known to be open (the fixed code drains in a
# few seconds)
XFAIL_WAIT = {"limit": None}
# the Env of the scenario running now: run.py reads its figures and sanitizer reports
LAST = {"env": None}
SANITIZER_MARKS = ("runtime error:", "ERROR: AddressSanitizer", "ERROR: LeakSanitizer")
TOKEN = L.TOKEN


class ScenarioFailed(AssertionError):
    pass


def scale(full, short):
    """A duration or count for the full run and for the short (CI) form."""
    return short if SHORT else full


def rss_kib(pid, field="VmHWM"):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def open_fds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return 0


class Sampler(threading.Thread):
    """Samples peak RSS (VmHWM) and open fds of the current agent and aggregator processes."""

    def __init__(self, env):
        super().__init__(daemon=True)
        self.env = env
        self.peak_rss = {}
        self.peak_fds = {}
        self.stop_flag = False

    def sample(self):
        for role, proc in self.env.processes().items():
            if proc is None or not proc.alive():
                continue
            pid = proc.p.pid
            self.peak_rss[role] = max(self.peak_rss.get(role, 0), rss_kib(pid))
            self.peak_fds[role] = max(self.peak_fds.get(role, 0), open_fds(pid))

    def run(self):
        while not self.stop_flag:
            self.sample()
            time.sleep(0.2)


class Env:
    """One scenario's processes. Call close() in a finally."""

    def __init__(self, name, proxy_agent=False, proxy_redis=False, redis_aof=False,
                 agent_extra="", aggr_extra="", extra_yaml="", state_dir=None,
                 read_from="beginning", spread_s=0.25, hours_back=3, agent_id="web-1",
                 extra_slis=""):
        self.name = name
        self.tmp = H.TempDir("slt-chaos-%s-" % name)
        self.redis = H.Redis(self.tmp, aof=redis_aof)
        self.port = H.free_port()
        self.http = H.free_port()
        self.proxy_agent = FaultProxy(self.port, name="agent-aggr") if proxy_agent else None
        self.proxy_redis = FaultProxy(self.redis.port, name="aggr-redis") if proxy_redis else None
        os.makedirs(self.tmp.join("logs"))
        base = (int(time.time()) // 3600 - hours_back) * 3600
        self.writer = L.LogWriter(self.tmp.join("logs", "access.log"), spread_s=spread_s,
                                  base_t=base)
        self.writers = [self.writer]
        agent_port = self.proxy_agent.port if self.proxy_agent else self.port
        self.state_dir = state_dir or self.tmp.join("state")
        self.config = self._config(self.tmp, agent_port, agent_id, agent_extra, read_from,
                                   aggr_extra, extra_yaml, extra_slis)
        self.aggr = None
        self.agent = L.Agent(self.tmp, self.config)
        self.agents = [self.agent]
        self.extra_tmps = []
        self.faults = 0
        self.notes = []
        self.hostile_cells = {}  # (sli, minute) that must stay [0, 0, 0]
        self.sampler = Sampler(self)
        self.sampler.start()
        self.t0 = time.time()
        self.last_diff = None
        self.snapshot = None
        self.sanitizer = []
        LAST["env"] = self

    def _config(self, tmp, agent_port, agent_id, agent_extra, read_from, aggr_extra,
                extra_yaml, extra_slis):
        cfg = L.agent_config(tmp, agent_port, [self.writer.path], read_from=read_from,
                             extra_agent=agent_extra, slis=L.SLIS_YAML + extra_slis)
        text = open(cfg).read().replace("  id: web-1\n", "  id: %s\n" % agent_id)
        text = text.replace("  state_dir: %s\n" % tmp.join("state"),
                            "  state_dir: %s\n" % self.state_dir)
        redis_url = ("redis://127.0.0.1:%d/0" % self.proxy_redis.port if self.proxy_redis
                     else self.redis.url)
        text += ("aggregator:\n  listen: 127.0.0.1:%d\n  http_listen: 127.0.0.1:%d\n"
                 "  redis: %s\n  token_file: %s\n%s%s"
                 % (self.port, self.http, redis_url, tmp.join("token"), aggr_extra, extra_yaml))
        with open(cfg, "w") as f:
            f.write(text)
        return cfg

    def add_agent(self, agent_id, seed):
        """Another host: its own temp dir, log writer (lines from `seed` on) and agent with
        id `agent_id`, shipping to the same address as the first. Returns the agent."""
        tmp = H.TempDir("slt-chaos-%s-%s-" % (self.name, agent_id))
        self.extra_tmps.append(tmp)
        os.makedirs(tmp.join("logs"))
        w = L.LogWriter(tmp.join("logs", "access.log"), seed=seed,
                        spread_s=self.writer.spread_s,
                        base_t=self.writer.base_t - int(seed * self.writer.spread_s))
        self.writers.append(w)
        port = self.proxy_agent.port if self.proxy_agent else self.port
        cfg = L.agent_config(tmp, port, [w.path])
        text = open(cfg).read().replace("  id: web-1\n", "  id: %s\n" % agent_id)
        with open(cfg, "w") as f:
            f.write(text)
        a = L.Agent(tmp, cfg)
        self.agents.append(a)
        return a

    def write_all(self, n):
        for w in self.writers:
            w.write(n)

    # ---- processes -----------------------------------------------------------------------
    def processes(self):
        return {"agent": self.agent.proc, "aggr": self.aggr}

    def start_aggr(self, wait_redis=True):
        self.aggr = H.Proc([H.binary("slitail-aggregator"), "-c", self.config],
                           self.tmp.join("aggregator.log"))
        H.wait_port(self.port, timeout=20)
        if wait_redis and not self.proxy_redis:
            H.wait_for(lambda: self.get("/readyz")[0] == 200, timeout=20, what="aggregator ready")
        return self.aggr

    def start_agent(self):
        self.agent.start()
        return self.agent

    def start(self):
        self.start_aggr()
        self.start_agent()
        return self

    def kill_aggr(self):
        self.sampler.sample()
        self.aggr.kill9()
        self.faults += 1

    def kill_agent(self):
        self.sampler.sample()
        self.agent.kill9()
        self.faults += 1

    def kill_redis(self):
        self.redis.kill9()
        self.faults += 1

    def close(self):
        try:
            self.snapshot = self.figures(None)
        except Exception:  # noqa: BLE001 - figures are best effort on the way out
            self.snapshot = None
        self.sampler.stop_flag = True
        L.kill_all()
        for p in (self.proxy_agent, self.proxy_redis):
            if p:
                p.stop()
        if self.aggr and self.aggr.alive():
            if self.aggr.p.poll() is None:
                try:
                    os.kill(self.aggr.p.pid, signal.SIGCONT)
                except OSError:
                    pass
            self.aggr.kill9()
        self.redis.stop()
        self.scan_sanitizer()
        for tmp in [self.tmp] + self.extra_tmps:
            if os.environ.get("CHAOS_KEEP"):
                print("  kept %s" % tmp.path, flush=True)
            else:
                tmp.cleanup()

    def scan_sanitizer(self):
        """Sanitizer reports in any process log of this scenario (binaries built with
        SLT_SANITIZE abort on the first)."""
        for root, _dirs, files in (x for t in [self.tmp] + self.extra_tmps
                                   for x in os.walk(t.path)):
            for name in files:
                if not name.endswith(".log"):
                    continue
                try:
                    with open(os.path.join(root, name), errors="replace") as f:
                        for line in f:
                            if any(m in line for m in SANITIZER_MARKS):
                                self.sanitizer.append("%s: %s" % (name, line.strip()[:200]))
                                break
                except OSError:
                    pass

    def total_faults(self):
        n = self.faults
        for p in (self.proxy_agent, self.proxy_redis):
            if p:
                n += p.faults
        return n

    # ---- traffic -------------------------------------------------------------------------
    def traffic(self, seconds, lines_per_tick=60, tick=0.1, rotate_every=4.0, chaos=None,
                chaos_every=1.0):
        """Writes lines for `seconds` (rename rotation every `rotate_every` s) while `chaos(i)`
        is called every `chaos_every` s (a number, or a function giving the next interval)
        from this thread."""
        def every():
            return chaos_every() if callable(chaos_every) else chaos_every
        end = time.time() + seconds
        next_rot = time.time() + rotate_every if rotate_every else None
        next_chaos = time.time() + every()
        i = 0
        while time.time() < end:
            self.write_all(lines_per_tick)
            now = time.time()
            if next_rot and now >= next_rot:
                for w in self.writers:
                    w.rotate_rename()
                next_rot = now + rotate_every
            if chaos and now >= next_chaos:
                chaos(i)
                i += 1
                next_chaos = time.time() + every()
            time.sleep(tick)

    # ---- the API -------------------------------------------------------------------------
    def get(self, path, timeout=10):
        url = "http://127.0.0.1:%d%s" % (self.http, path)
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:
                return r.status, r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8", "replace")
        except (OSError, ValueError) as e:
            return 0, str(e)

    def metrics(self):
        code, body = self.get("/metrics")
        if code != 200:
            return None
        out = {}
        for line in body.split("\n"):
            if not line or line.startswith("#"):
                continue
            k, _, v = line.rpartition(" ")
            try:
                out[k] = float(v)
            except ValueError:
                pass
        return out

    def api_cells(self, sli, minutes):
        """{(sli, minute): [g, b, e]} from the counts API over [min, max] minutes, or None."""
        lo, hi = min(minutes), max(minutes) + 60
        got = {}
        for a in range(lo, hi, 9000 * 60):
            b = min(hi, a + 9000 * 60)
            code, body = self.get("/api/v1/slis/%s/counts?from=%d&to=%d&step=60" % (sli, a, b))
            if code == 404:
                continue
            if code != 200:
                return None
            for pt in json.loads(body)["series"]:
                v = [pt["good"], pt["bad"], pt["excluded"]]
                if v != [0, 0, 0]:
                    got[(sli, pt["from"])] = v
        return got

    def truth(self):
        want = {}
        lines = unparsed = 0
        for w in self.writers:
            for k, v in w.expected.items():
                acc = want.setdefault(k, [0, 0, 0])
                for j in range(3):
                    acc[j] += v[j]
            lines += w.lines
            unparsed += w.unparsed
        return want, lines, unparsed

    def compare(self, want=None, lines=None):
        """(difference, detail): the sum over cells and classes of |API - truth|, plus the
        difference in input lines read; None when the API did not answer."""
        t_want, t_lines, t_unparsed = self.truth()
        want = t_want if want is None else want
        lines = t_lines if lines is None else lines
        got = {}
        minutes_by_sli = {}
        for (sli, m) in list(want) + list(self.hostile_cells):
            minutes_by_sli.setdefault(sli, set()).add(m)
        for sli, ms in minutes_by_sli.items():
            cells = self.api_cells(sli, ms)
            if cells is None:
                return None, "API did not answer"
            got.update(cells)
        diff = 0
        detail = []
        for k in sorted(set(got) | set(want)):
            g, w = got.get(k, [0, 0, 0]), want.get(k, [0, 0, 0])
            if g != w:
                diff += sum(abs(a - b) for a, b in zip(g, w))
                if len(detail) < 4:
                    detail.append("%s@%d got %s want %s" % (k[0], k[1], g, w))
        m = self.metrics()
        if m is None:
            return None, "/metrics did not answer"
        read = int(sum(v for k, v in m.items() if k.startswith("slitail_input_lines_total{")))
        if read != lines:
            diff += abs(read - lines)
            detail.append("input lines read %d want %d" % (read, lines))
        return diff, "; ".join(detail)

    def drain(self, timeout=None, want=None, lines=None):
        """Waits until the API is exact; returns the drain time. Raises with the difference."""
        timeout = timeout or scale(180, 120)
        if XFAIL_WAIT["limit"]:
            timeout = min(timeout, XFAIL_WAIT["limit"])
        t0 = time.time()
        last = (None, "")
        while time.time() - t0 < timeout:
            last = self.compare(want, lines)
            if last[0] == 0:
                return time.time() - t0
            if self.aggr is not None and not self.aggr.alive():
                raise ScenarioFailed("aggregator died (exit %s): %s"
                                     % (self.aggr.p.returncode, self.tail(self.aggr)))
            for a in self.agents:
                if a.proc is not None and not a.alive():
                    raise ScenarioFailed("agent died (exit %s): %s"
                                         % (a.proc.p.returncode, self.tail(a.proc)))
            self.last_diff = last[0]
            time.sleep(0.5)
        raise ScenarioFailed("not exact after %.0fs: difference %s (%s)"
                             % (timeout, last[0], last[1]))

    def tail(self, proc, n=3):
        lines = proc.output().strip().split("\n")
        return " | ".join(lines[-n:])

    def figures(self, drain):
        self.sampler.sample()
        _, lines, _ = self.truth()
        rss = self.sampler.peak_rss
        fds = {}
        for role, proc in self.processes().items():
            if proc is not None and proc.alive():
                fds[role] = open_fds(proc.p.pid)
        return {"faults": self.total_faults(), "lines": lines,
                "difference": 0 if drain is not None else self.last_diff,
                "drain_s": round(drain, 1) if drain is not None else None,
                "rss_agent_mib": round(rss.get("agent", 0) / 1024, 1),
                "rss_aggr_mib": round(rss.get("aggr", 0) / 1024, 1),
                "fds_agent": fds.get("agent", 0), "fds_aggr": fds.get("aggr", 0)}

    def metric(self, name):
        m = self.metrics() or {}
        return m.get(name, 0)

    def metric_sum(self, pattern):
        """Sum of every metric whose name (with labels) matches the regex."""
        m = self.metrics() or {}
        rx = re.compile(pattern)
        return sum(v for k, v in m.items() if rx.search(k))

