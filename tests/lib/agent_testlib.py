"""Pieces shared by the agent integration tests: a log writer that knows the ground truth, the
agent's config, and exact comparison of (SLI, minute, class) counts."""
import json
import os
import shutil
import signal
import time

import slt_harness as H

# six hours ago, on the hour: inside the aggregator's minute retention
BASE_T = (int(time.time()) // 3600 - 6) * 3600
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
STATUSES = [200, 200, 200, 201, 200, 304, 404, 500, 200, 503, 200, 429]
LATENCIES = ["0.010", "0.050", "0.120", "0.700", "1.500", "0.020", "0.005"]
PATHS = ["/", "/api/orders", "/static/app.css", "/api/cart?id=7", "/login"]
TOKEN = "s3cret-token-never-logged"

SLIS_YAML = """slis:
  - name: availability
    input: web
    exclude: { status: 4xx }
    bad: { status: 5xx }
  - name: latency
    input: web
    exclude: { status: '^[45]' }
    bad: { latency_over: 300ms }
  - name: api
    input: web
    match: { path: '^/api/' }
    bad: { status: 5xx }
"""


def clf_time(t):
    g = time.gmtime(t)
    return "%02d/%s/%04d:%02d:%02d:%02d +0000" % (g.tm_mday, MONTHS[g.tm_mon - 1], g.tm_year,
                                                   g.tm_hour, g.tm_min, g.tm_sec)


def classify(status, latency, path):
    """(sli, class) pairs for one parsed line; class 0 good, 1 bad, 2 excluded."""
    out = []
    if 400 <= status < 500:
        out.append(("availability", 2))
    elif status >= 500:
        out.append(("availability", 1))
    else:
        out.append(("availability", 0))
    if status >= 400:
        out.append(("latency", 2))
    elif float(latency) > 0.3:
        out.append(("latency", 1))
    else:
        out.append(("latency", 0))
    if path.startswith("/api/"):
        out.append(("api", 1 if status >= 500 else 0))
    return out


class LogWriter:
    """Appends access-log lines to one path and remembers what a correct agent must count."""

    def __init__(self, path, seed=0, garbage_every=53, spread_s=3, base_t=None):
        self.path = path
        self.base_t = BASE_T if base_t is None else base_t
        self.i = seed
        self.garbage_every = garbage_every
        self.spread_s = spread_s
        self.expected = {}  # (sli, minute) -> [good, bad, excluded]
        self.lines = 0
        self.unparsed = 0
        self.partial = None  # text of a line started but not finished
        self.rotations = 0
        open(path, "a").close()

    def _line(self):
        """(text, account): account() adds the line to the ground truth."""
        i = self.i
        self.i += 1
        if self.garbage_every and i % self.garbage_every == self.garbage_every - 1:
            def account_garbage():
                self.lines += 1
                self.unparsed += 1
            return "this is not an access log line %d\n" % i, account_garbage
        t = self.base_t + int(i * self.spread_s)  # spread_s may be a fraction
        st = STATUSES[i % len(STATUSES)]
        lat = LATENCIES[(i // 3) % len(LATENCIES)]
        path = PATHS[(i // 2) % len(PATHS)]
        minute = t - t % 60

        def account():
            for sli, cls in classify(st, lat, path):
                self.expected.setdefault((sli, minute), [0, 0, 0])[cls] += 1
            self.lines += 1
        return ('10.0.%d.%d - - [%s] "GET %s HTTP/1.1" %d %d "-" "test/1.0" %s %s\n'
                % (i % 200, i % 250, clf_time(t), path, st, 100 + i % 900, lat, lat)), account

    def write(self, n):
        with open(self.path, "a") as f:
            if self.partial is not None:
                f.write(self.partial[0])
                self.partial[1]()
                self.partial = None
            for _ in range(n):
                text, account = self._line()
                f.write(text)
                account()

    def write_partial(self):
        """Writes the first half of one line; the next write() completes it."""
        line, account = self._line()
        half = len(line) // 2
        with open(self.path, "a") as f:
            f.write(line[:half])
        self.partial = (line[half:], account)

    def rotate_rename(self):
        self.rotations += 1
        # shift older copies like logrotate does (access.log.1 -> access.log.2 ...)
        for k in range(self.rotations, 0, -1):
            src = "%s.%d" % (self.path, k)
            if os.path.exists(src):
                os.rename(src, "%s.%d" % (self.path, k + 1))
        os.rename(self.path, self.path + ".1")
        open(self.path, "a").close()

    def rotate_copytruncate(self):
        self.rotations += 1
        for k in range(self.rotations, 0, -1):
            src = "%s.%d" % (self.path, k)
            if os.path.exists(src):
                os.rename(src, "%s.%d" % (self.path, k + 1))
        shutil.copyfile(self.path, self.path + ".1")
        with open(self.path, "r+") as f:
            f.truncate(0)


def agent_config(tmp, port, log_paths, extra_agent="", read_from="beginning",
                 flush="100ms", slis=SLIS_YAML, aggregators=None):
    tok = tmp.write("token", TOKEN + "\n")
    aggs = aggregators or ["127.0.0.1:%d" % port]
    paths = ", ".join("'%s'" % p for p in log_paths)
    text = ("agent:\n"
            "  id: web-1\n"
            "  aggregators: [%s]\n"
            "  token_file: %s\n"
            "  state_dir: %s\n"
            "  flush_interval: %s\n"
            "  poll_interval: 100ms\n"
            "%s"
            "inputs:\n"
            "  - { name: web, format: nginx_timed, paths: [%s], read_from: %s }\n"
            "%s") % (", ".join("'%s'" % a for a in aggs), tok, tmp.join("state"), flush,
                     extra_agent, paths, read_from, slis)
    return tmp.write("agent.yaml", text)


_STARTED = []  # every agent process a test started: kill_all() ends what is left


def kill_all():
    """kill -9 every agent process still running (a failed test leaves no process behind)."""
    while _STARTED:
        p = _STARTED.pop()
        if p.alive():
            p.kill9()


class Agent:
    def __init__(self, tmp, config):
        self.tmp = tmp
        self.config = config
        self.proc = None
        self.starts = 0

    def start(self):
        self.starts += 1
        self.proc = H.Proc([H.binary("slitail-agent"), "-c", self.config],
                           self.tmp.join("agent.log"))
        _STARTED.append(self.proc)
        return self

    def adopt(self, proc):
        """Use a process started another way (prlimit ...) as this agent."""
        self.proc = proc
        _STARTED.append(proc)
        return self

    def kill9(self):
        self.proc.kill9()

    def wait_started(self, timeout=10):
        """Until this process wrote its status (its signal handlers are in place)."""
        path = os.path.join(self.tmp.join("state"), "status.json")
        pid = self.proc.p.pid

        def up():
            if not self.alive():
                return True
            try:
                with open(path) as f:
                    return json.load(f).get("pid") == pid
            except (OSError, ValueError):
                return False
        H.wait_for(up, timeout=timeout, what="agent started")

    def term(self, timeout=15):
        if self.alive():
            self.wait_started()
        return self.proc.term(timeout=timeout)

    def alive(self):
        return self.proc and self.proc.alive()

    def status(self):
        r = H.run([H.binary("slitail-agent"), "-c", self.config, "--status"])
        if r.returncode != 0:
            return None
        return json.loads(r.stdout)

    def signal(self, sig):
        self.proc.p.send_signal(sig)

    def output(self):
        return self.proc.output()


SLI_NAMES = ("availability", "latency", "api")


def sli_totals(fake_totals, names=SLI_NAMES):
    """{(sli, minute): [g, b, e]} of the SLIs the writer knows, from the fake's totals."""
    return {(name, minute): v for (kind, name, minute), v in fake_totals.items() if kind == 0
            and v != [0, 0, 0] and name in names}


def input_totals(fake_totals, name="web"):
    lines = unparsed = oversize = 0
    for (kind, n, _minute), v in fake_totals.items():
        if kind == 1 and n == name:
            lines += v[0]
            unparsed += v[1]
            oversize += v[2]
    return lines, unparsed, oversize


def diff(got, want):
    """Human-readable differences of two {(sli, minute): [g, b, e]} maps, [] when equal."""
    out = []
    for k in sorted(set(got) | set(want)):
        g, w = got.get(k, [0, 0, 0]), want.get(k, [0, 0, 0])
        if g != w:
            out.append("%s minute %d: got %s want %s" % (k[0], k[1], g, w))
    return out


def truth(writers):
    """The writers' ground truth together: ({(sli, minute): [g, b, e]}, lines, unparsed)."""
    want = {}
    lines = unparsed = 0
    for w in writers:
        for k, v in w.expected.items():
            acc = want.setdefault(k, [0, 0, 0])
            for i in range(3):
                acc[i] += v[i]
        lines += w.lines
        unparsed += w.unparsed
    return want, lines, unparsed


def wait_exact(fake, writers, timeout=30.0):
    """Waits until the fake aggregator holds exactly the writers' ground truth."""
    want, lines, unparsed = truth(writers)
    deadline = time.time() + timeout
    while True:
        tot = fake.totals()
        got = sli_totals(tot)
        d = diff(got, want)
        il = input_totals(tot)
        if not d and il[0] == lines and il[1] == unparsed:
            return
        if time.time() > deadline:
            raise AssertionError("counts differ after %.0fs: input lines/unparsed got %s want %s;"
                                 " %d SLI cells differ: %s" % (timeout, il[:2], (lines, unparsed),
                                                              len(d), "; ".join(d[:8])))
        time.sleep(0.1)


SIGTERM = signal.SIGTERM
SIGHUP = signal.SIGHUP


class AgentCase(H.TestCase):
    """An agent test against the fake aggregator: a temp dir, a free port, a log writer at
    logs/access.log. Each test calls setup() and, in a finally, teardown()."""

    prefix = "slt-agent-"

    def setup(self):
        from fake_aggregator import FakeAggregator

        self.tmp = H.TempDir(self.prefix)
        self.port = H.free_port()
        self.fake = FakeAggregator(self.port, token=TOKEN)
        os.makedirs(self.tmp.join("logs"))
        self.writer = LogWriter(self.tmp.join("logs", "access.log"))

    def teardown(self):
        kill_all()
        self.fake.stop()
        self.tmp.cleanup()


class AggrCase(H.TestCase):
    """An agent test against the real aggregator and a private redis-server: a temp dir, one
    config file for both (agent id web-1), a log writer at logs/access.log. Each test calls
    setup() and, in a finally, teardown()."""

    prefix = "slt-agent-aggr-"

    def setup(self, extra_agent="", read_from="beginning"):
        self.tmp = H.TempDir(self.prefix)
        self.redis = H.Redis(self.tmp)
        self.port = H.free_port()
        self.http = H.free_port()
        os.makedirs(self.tmp.join("logs"))
        self.writer = LogWriter(self.tmp.join("logs", "access.log"))
        self.acfg = agent_config(self.tmp, self.port, [self.writer.path], extra_agent=extra_agent,
                                 read_from=read_from)
        # the aggregator reads the same file: one shared config, each its own section
        with open(self.acfg, "a") as f:
            f.write("aggregator:\n  listen: 127.0.0.1:%d\n  http_listen: 127.0.0.1:%d\n"
                    "  redis: %s\n  token_file: %s\n" % (self.port, self.http, self.redis.url,
                                                          self.tmp.join("token")))
        self.aggr = None

    def start_aggr(self):
        self.aggr = H.Proc([H.binary("slitail-aggregator"), "-c", self.acfg],
                           self.tmp.join("aggregator.log"))
        H.wait_port(self.port)

    def teardown(self):
        kill_all()
        if self.aggr:
            self.aggr.kill9()
        self.redis.stop()
        self.tmp.cleanup()

    SCRIPT = ("local out = {} "
              "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do "
              "local v = redis.call('HMGET', k, ARGV[2], ARGV[3], ARGV[4]) "
              "table.insert(out, k) "
              "for i = 1, 3 do table.insert(out, v[i] or '0') end end "
              "return out")

    def redis_cells(self, tag, fields="gbe"):
        """{minute: [v0, v1, v2]} of the minute buckets of one series tag ('s:availability')."""
        out = self.redis.raw("EVAL", self.SCRIPT, "0", "slt:{%s}:m:*" % tag,
                             *fields).split("\n")
        out = [x for x in out if x != ""]
        got = {}
        for j in range(0, len(out) - 3, 4):
            v = [int(x) for x in out[j + 1:j + 4]]
            if v != [0, 0, 0]:
                got[int(out[j].rsplit(":", 1)[1])] = v
        return got

    def redis_totals(self):
        got = {}
        for sli in SLI_NAMES:
            for minute, v in self.redis_cells("s:" + sli).items():
                got[(sli, minute)] = v
        return got

    def redis_lines(self):
        """(lines, unparsed) of the input 'web' over its minute buckets."""
        lines = unparsed = 0
        for v in self.redis_cells("i:web", "luo").values():
            lines += v[0]
            unparsed += v[1]
        return lines, unparsed

    def wait_redis_exact(self, writers=None, timeout=40):
        """Until Redis holds exactly the writers' ground truth, SLIs and input lines alike."""
        want, lines, unparsed = truth(writers or [self.writer])
        deadline = time.time() + timeout
        while True:
            d = diff(self.redis_totals(), want)
            il = self.redis_lines()
            if not d and il == (lines, unparsed):
                return
            if time.time() > deadline:
                raise AssertionError("input lines/unparsed got %s want %s; %d cells differ: %s"
                                     % (il, (lines, unparsed), len(d), "; ".join(d[:8])))
            time.sleep(0.3)
