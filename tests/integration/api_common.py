"""Shared pieces for the API integration tests: a private redis-server seeded the way the
apply script writes (docs/REDIS.md), a real slitail-aggregator, and small HTTP helpers."""
import json
import os
import random
import socket
import time
import urllib.error
import urllib.request

from slt_harness import Proc, Redis, TempDir, binary, free_port, wait_for, wait_port

CONFIG = """
inputs:
  - name: web
    format: nginx_combined
    paths: [/nonexistent/access.log]
slis:
  - name: checkout
    input: web
    bad: {{ status: 5xx }}
    exclude: {{ status: 4xx }}
slos:
  - {{ name: checkout-99.9, sli: checkout, objective: 99.9, window: 7d }}
  - {{ name: checkout-90, sli: checkout, objective: 90, window: 1d }}
aggregator:
  listen: 127.0.0.1:{ingest}
  http_listen: 127.0.0.1:{http}
  redis: {redis}
  redis_timeout: 1s
  allow_unauthenticated: true
  default_window: 1h
"""

MINUTES = 30 * 60  # seeded: the last 30 hours


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def redis_pipe(port, commands):
    """Sends commands (tuples) in one pipeline and reads every reply (binary-safe keys)."""
    data = b"".join(resp(*c) for c in commands)
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(data)
        s.settimeout(10)
        buf = b""
        want = len(commands)
        got = 0
        while got < want:
            chunk = s.recv(65536)
            if not chunk:
                raise IOError("redis closed the connection")
            buf += chunk
            got = buf.count(b"\r\n")  # every reply here is a single line (:n or +OK)
    return got


class Seed:
    """Random counts per minute for SLI 'checkout', written to minute, hour, day and tot."""

    def __init__(self, now=None, seed=7):
        rnd = random.Random(seed)
        now = int(now or time.time())
        self.first = (now // 60 - MINUTES + 1) * 60
        self.counts = {}
        for m in range(MINUTES):
            if rnd.random() < 0.15:
                continue
            t = self.first + m * 60
            self.counts[t] = (rnd.randrange(500), rnd.randrange(20), rnd.randrange(10))

    def commands(self):
        cmds = []
        tot = [0, 0, 0]
        for t, c in self.counts.items():
            for f, v in zip("gbe", c):
                if not v:
                    continue
                for key in (f"slt:{{s:checkout}}:m:{t}", f"slt:{{s:checkout}}:h:{t // 3600 * 3600}",
                            f"slt:{{s:checkout}}:d:{t // 86400 * 86400}"):
                    cmds.append(("HINCRBY", key, f, v))
            tot = [a + b for a, b in zip(tot, c)]
        for f, v in zip("gbe", tot):
            cmds.append(("HINCRBY", "slt:{s:checkout}:tot", f, v))
        weird = 'we"ird\\na\nme'
        cmds.append(("HINCRBY", "slt:{s:" + weird + "}:tot", "g", 7))
        cmds.append(("HINCRBY", "slt:{s:" + weird + "}:tot", "b", 1))
        cmds.append(("HINCRBY", "slt:{i:web}:tot", "l", 100))
        cmds.append(("HINCRBY", "slt:{i:web}:tot", "u", 3))
        cmds.append(("SADD", "slt:series", "s:checkout", "i:web", "s:" + weird))
        self.tot = tot
        return cmds

    def brute(self, frm, to):
        g = b = e = 0
        for t in range(frm, to, 60):
            c = self.counts.get(t)
            if c:
                g += c[0]
                b += c[1]
                e += c[2]
        return g, b, e


class Aggregator:
    def __init__(self, tmp, redis):
        self.http = free_port()
        self.ingest = free_port()
        self.cfg = tmp.write("slitail.yaml", CONFIG.format(ingest=self.ingest, http=self.http,
                                                             redis=redis.url))
        self.proc = Proc([binary("slitail-aggregator"), "-c", self.cfg],
                         tmp.join("aggregator.log"))
        wait_port(self.http)

    @property
    def base(self):
        return f"http://127.0.0.1:{self.http}"

    def get(self, path, method="GET"):
        """(status, headers, body bytes); HTTP errors are answers too."""
        req = urllib.request.Request(self.base + path, method=method)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def json(self, path, want=200):
        status, headers, body = self.get(path)
        if status != want:
            raise AssertionError(f"GET {path}: status {status}, want {want}: {body!r}")
        if not headers.get("Content-Type", "").startswith("application/json"):
            raise AssertionError(f"GET {path}: content type {headers.get('Content-Type')!r}")
        return json.loads(body)

    def stop(self):
        self.proc.term()


def setup():
    """A seeded redis-server and an aggregator that answers /readyz."""
    tmp = TempDir("slt-api-")
    redis = Redis(tmp)
    seed = Seed()
    redis_pipe(redis.port, seed.commands())
    agg = Aggregator(tmp, redis)
    wait_for(lambda: agg.get("/readyz")[0] == 200, what="/readyz 200")
    return tmp, redis, seed, agg
