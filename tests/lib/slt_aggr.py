"""Test helpers for the aggregator: start slitail-aggregator against a private Redis, and a
simulated agent that keeps every batch it made (its spool) and ships them with the protocol's
ack rules, so crash tests can compare Redis with ground truth."""
import os
import socket
import threading
import time

import slt_harness as h
import slt_proto as p

TOKEN = "t0ps3cret-token"


class Aggregator:
    """redis_url None: no aggregator.redis line (extra names the store, e.g. redis_cluster)."""

    def __init__(self, tmp, redis_url, token=TOKEN, extra="", name="aggr"):
        self.tmp = tmp
        self.port = h.free_port()
        self.http_port = h.free_port()
        self.name = name
        self.token_path = tmp.write(f"{name}-token", token + "\n")
        self.config = tmp.write(f"{name}.yaml", (
            "aggregator:\n"
            f"  listen: 127.0.0.1:{self.port}\n"
            f"  http_listen: 127.0.0.1:{self.http_port}\n"
            + (f"  redis: {redis_url}\n" if redis_url else "") +
            f"  token_file: {self.token_path}\n"
            f"{extra}"))
        self.proc = None
        self.start()

    def start(self):
        self.proc = h.Proc([h.binary("slitail-aggregator"), "-c", self.config],
                           self.tmp.join(f"{self.name}.log"))
        h.wait_port(self.port)

    def log(self):
        return self.proc.output()

    def wait_redis(self, timeout=10):
        h.wait_for(lambda: "connected to" in self.log(), timeout=timeout,
                   what="aggregator connected to redis")

    def kill9(self):
        self.proc.kill9()

    def term(self):
        return self.proc.term()


def http_get(port, path, timeout=10):
    """(status, body text) of GET http://127.0.0.1:port/path; (0, "") when nothing answers."""
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return 0, ""


def metric(port, name):
    """The value of one /metrics line (name with its labels, as printed), or None."""
    import re
    _, text = http_get(port, "/metrics")
    m = re.search(r"^" + re.escape(name) + r" (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def minute_now():
    return int(time.time()) // 60 * 60


class SimAgent:
    """An agent stand-in: batches are made up front (seq 1..n), kept forever, and shipped one
    at a time; GAP moves back to resend_from, RETRY and connection errors retry later."""

    def __init__(self, port, agent, epoch, batches, token=TOKEN):
        self.port = port
        self.agent = agent
        self.epoch = epoch
        self.batches = batches  # list of series lists, index 0 = seq 1
        self.token = token
        self.client = None
        self.statuses = []
        self.acked = 0  # highest seq acknowledged APPLIED or DUPLICATE in order
        self.error = None

    def connect(self):
        self.client = p.ProtoClient("127.0.0.1", self.port, self.token, self.agent, self.epoch)
        w = self.client.hello()
        if w.get("t") != p.WELCOME:
            raise AssertionError(f"no welcome: {w!r}")

    def ship(self, upto=None, deadline=60.0, pause=0.0):
        """Ships until seq `upto` (default all) is acknowledged. Returns the statuses seen."""
        upto = upto or len(self.batches)
        seq = self.acked + 1
        end = time.time() + deadline
        while self.acked < upto:
            if time.time() > end:
                raise TimeoutError(f"agent {self.agent}: stuck at seq {seq}")
            try:
                if self.client is None:
                    self.connect()
                self.client.send_batch(seq, self.batches[seq - 1])
                a = self.client.recv_ack()
            except (OSError, ConnectionError, AssertionError):
                if self.client:
                    self.client.close()
                self.client = None
                time.sleep(0.05)
                continue
            if a["seq"] != seq or a["epoch"] != self.epoch:
                raise AssertionError(f"ack for {a['seq']}, sent {seq}")
            self.statuses.append(a["status"])
            if a["status"] in (p.APPLIED, p.DUPLICATE):
                if seq == self.acked + 1:
                    self.acked = seq
                seq += 1
                if pause:
                    time.sleep(pause)
            elif a["status"] == p.GAP:
                seq = a["resend_from"]
                self.acked = min(self.acked, seq - 1)
            elif a["status"] == p.RETRY:
                time.sleep(0.05)
            else:
                raise AssertionError(f"agent {self.agent}: batch {seq} rejected")
        return self.statuses

    def close(self):
        if self.client:
            self.client.close()
            self.client = None


def run_threads(fns):
    errors = []

    def wrap(fn):
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    ts = [threading.Thread(target=wrap, args=(fn,)) for fn in fns]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise errors[0]


def make_batches(rng, names, nbatches, minutes, kind=p.SLI):
    """Random batches carrying every series every time (rows may be empty)."""
    out = []
    for _ in range(nbatches):
        series = []
        for n in names:
            rows = []
            for m in rng.sample(minutes, rng.randint(0, min(2, len(minutes)))):
                rows.append((m, rng.randint(0, 50), rng.randint(0, 5), rng.randint(0, 3)))
            series.append(p.series(n, rows, since=1, kind=kind))
        out.append(series)
    return out


def truth(batches_by_agent):
    """{(name, minute or 'tot'): [v0, v1, v2]} summed over every batch."""
    t = {}
    for batches in batches_by_agent:
        for series in batches:
            for s in series:
                for (m, a, b, c) in s["rows"]:
                    for key in ((s["n"], m), (s["n"], "tot")):
                        acc = t.setdefault(key, [0, 0, 0])
                        acc[0] += a
                        acc[1] += b
                        acc[2] += c
    return t


def redis_hash(redis, key):
    out = redis.raw("HGETALL", key).split("\n")
    out = [x for x in out if x != ""]
    return {out[i]: int(out[i + 1]) for i in range(0, len(out), 2)}


def check_truth(redis, t, fields=("g", "b", "e"), prefix="s"):
    for (name, m), v in sorted(t.items(), key=lambda kv: str(kv[0])):
        key = f"slt:{{{prefix}:{name}}}:" + ("tot" if m == "tot" else f"m:{m}")
        got = redis_hash(redis, key)
        got = [got.get(f, 0) for f in fields]
        if got != v:
            raise AssertionError(f"{key}: got {got}, want {v}")
