"""The aggregator on a real Redis Cluster (3 masters, 3 replicas on loopback): applies and
reads follow the slot map, MOVED and ASK during a reshard, and a master SIGKILLed while its
replica is promoted; several agents ingest through all of it and every total stays exact
(what could not be stored meanwhile was answered RETRY, counted, and sent again)."""
import json
import random
import re
import signal
import threading
import time

import slt_harness as h
import slt_proto as p
from slt_aggr import Aggregator, SimAgent, make_batches, minute_now, run_threads, truth
from slt_aggr import http_get as get
from slt_cluster import RedisCluster


def metric(text, name):
    m = re.search(r"^" + re.escape(name) + r" (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def sli_totals(text):
    """{sli: [good, bad, excluded]} from /metrics."""
    out = {}
    idx = {"good": 0, "bad": 1, "excluded": 2}
    for m in re.finditer(r'^slitail_sli_events_total\{sli="([^"]+)",result="(\w+)"\} (\d+)$',
                         text, re.M):
        out.setdefault(m.group(1), [0, 0, 0])[idx[m.group(2)]] = int(m.group(3))
    return out


def cluster_aggregator(tmp, cluster, name="aggr", extra=""):
    seeds = ", ".join(f"'{s}'" for s in cluster.seeds())
    agg = Aggregator(tmp, None, name=name,
                     extra=f"  redis_cluster: [{seeds}]\n  redis_timeout: 1s\n" + extra)
    h.wait_for(lambda: "cluster slot map complete" in agg.log(), timeout=15,
               what="slot map learned")
    h.wait_for(lambda: get(agg.http_port, "/readyz")[0] == 200, timeout=15, what="/readyz 200")
    return agg


class RedisClusterTest(h.TestCase):
    def it_keeps_totals_exact_through_a_reshard_and_a_failover(self):
        tmp = h.TempDir()
        cluster = RedisCluster(tmp)
        try:
            agg = cluster_aggregator(tmp, cluster)
            rng = random.Random(9)
            m0 = minute_now() - 600
            minutes = [m0 + 60 * i for i in range(8)]
            names = [f"svc-{i}" for i in range(24)]  # spread over every master
            nagents, nbatches = 4, 240
            batches = [make_batches(rng, names, nbatches, minutes) for _ in range(nagents)]
            # a last batch with no rows: a write the failover lost shows as a GAP and is resent
            for b in batches:
                b.append([p.series(n, [], since=1) for n in names])
            agents = [SimAgent(agg.port, f"agent-{i}", 100 + i, batches[i])
                      for i in range(nagents)]
            stop_faults = threading.Event()

            def faults():
                try:
                    h.wait_for(lambda: min(a.acked for a in agents) >= 20, timeout=20,
                               what="ingest under way")
                    masters = cluster.masters()
                    cluster.reshard(masters[0][1], masters[1][1], 1500)
                    cluster.kill_master(masters[2][0])
                    cluster.wait_ok()
                    print(f"  faults done, agents at {[a.acked for a in agents]}")
                finally:
                    stop_faults.set()

            def ingest(a):
                def run():
                    # through the faults, then to the end with the empty last batch
                    a.ship(upto=nbatches, deadline=50, pause=0.03)
                    stop_faults.wait(45)
                    a.ship(deadline=30)
                return run

            run_threads([faults] + [ingest(a) for a in agents])
            want = truth(batches)
            # the totals read back through the API (a read that fans out to every master)
            _, text = get(agg.http_port, "/metrics")
            got = sli_totals(text)
            for n in names:
                h.check_equal(got.get(n), want.get((n, "tot"), [0, 0, 0]), f"/metrics tot {n}")
            # and minute buckets straight from the cluster, for a sample
            for n in names[:6]:
                for m in minutes:
                    g = cluster.hgetall(f"slt:{{s:{n}}}:m:{m}")
                    h.check_equal([g.get(f, 0) for f in "gbe"], want.get((n, m), [0, 0, 0]),
                                  f"{n} minute {m}")
            # a window read through the API equals the sum of the minutes
            f, t = minutes[0], minutes[-1] + 60
            _, body = get(agg.http_port, f"/api/v1/slis/{names[0]}/counts?from={f}&to={t}")
            j = json.loads(body)
            s = [sum(want.get((names[0], m), [0, 0, 0])[k] for m in minutes) for k in range(3)]
            h.check_equal([j["good"], j["bad"], j["excluded"]], s, "window sum")
            h.check_equal(get(agg.http_port, "/readyz")[0], 200, "/readyz after the failover")
            maps = metric(text, "slitail_aggregator_redis_cluster_slot_map_reads_total")
            if not maps or maps < 2:
                raise AssertionError(f"slot map read {maps} times")
            moved = metric(text, 'slitail_aggregator_redis_redirects_total{kind="moved"}')
            ask = metric(text, 'slitail_aggregator_redis_redirects_total{kind="ask"}')
            retries = metric(text, 'slitail_aggregator_batches_total{outcome="retry"}')
            print(f"  retries {retries}, "
                  f"moved {moved}, ask {ask}, "
                  f"waits {metric(text, 'slitail_aggregator_redis_cluster_waits_total')}")
            for a in agents:
                a.close()
            h.check_equal(agg.term(), 0, "aggregator exit status")
        finally:
            cluster.stop()
            tmp.cleanup()

    def it_resets_only_the_stopped_master_when_an_apply_times_out(self):
        # no replicas and a long node timeout: the SIGSTOPped master is slow, not failed over
        tmp = h.TempDir()
        cluster = RedisCluster(tmp, masters=3, replicas=0, node_timeout_ms=60000)
        try:
            agg = cluster_aggregator(tmp, cluster)  # redis_timeout 1s: the apply timeout
            ranges = {}
            for line in cluster.cli(cluster.ports[0], "CLUSTER", "NODES").splitlines():
                f = line.split()
                port = int(f[1].split(":")[1].split("@")[0])
                for r in f[8:]:
                    lo, _, hi = r.partition("-")
                    ranges.setdefault(port, []).append((int(lo), int(hi or lo)))

            def owner(key):
                slot = int(cluster.cli(cluster.ports[0], "CLUSTER", "KEYSLOT", key))
                return next(q for q, rs in ranges.items() if any(x <= slot <= y for x, y in rs))

            # the stopped master does not hold slt:series (new series register there)
            stopped = next(q for q in sorted(ranges) if q != owner("slt:series"))
            others = [q for q in sorted(ranges) if q != stopped]
            slow_names, fast_names = [], []
            for i in range(60):
                n = f"svc-{i}"
                (slow_names if owner(f"slt:{{s:{n}}}:tot") == stopped else fast_names).append(n)
            rng = random.Random(7)
            minutes = [minute_now() - 300 + 60 * i for i in range(4)]
            slow = SimAgent(agg.port, "slow", 100, make_batches(rng, slow_names[:4], 8, minutes))
            fast = [SimAgent(agg.port, f"fast-{i}", 100,
                             make_batches(rng, fast_names[6 * i:6 * i + 6], 2000, minutes))
                    for i in range(2)]
            for a in [slow] + fast:
                a.ship(upto=2, deadline=20)

            def clients(port):
                """Ids of the connections a master has from the aggregator."""
                out = set()
                for line in cluster.cli(port, "CLIENT", "LIST", "TYPE", "normal").splitlines():
                    if "cmd=client" not in line:
                        out.add(line.split()[0])
                return out
            before = {q: clients(q) for q in others}
            stop = threading.Event()
            during = {}

            def ship_fast(a):
                def run():
                    while not stop.is_set():
                        a.ship(upto=a.acked + 1, deadline=20)
                        time.sleep(0.01)
                return run

            def slow_then_resume():
                try:
                    acked0 = [a.acked for a in fast]
                    cluster.nodes[stopped].p.send_signal(signal.SIGSTOP)
                    try:
                        t = threading.Thread(target=lambda: slow.ship(deadline=40))
                        t.start()
                        # its apply timed out (1 s) and was answered RETRY, twice
                        h.wait_for(lambda: slow.statuses.count(p.RETRY) >= 2, timeout=20,
                                   what="the slow master's applies time out")
                        during["fast"] = [a.acked - a0 for a, a0 in zip(fast, acked0)]
                        during["slow"] = slow.acked
                    finally:
                        cluster.nodes[stopped].p.send_signal(signal.SIGCONT)
                    t.join(45)
                finally:
                    stop.set()

            t0 = time.time()
            run_threads([slow_then_resume] + [ship_fast(a) for a in fast])
            print(f"  stopped {time.time() - t0:.1f}s: fast agents acked {during['fast']} "
                  f"meanwhile, slow agent {during['slow']} (RETRY "
                  f"{slow.statuses.count(p.RETRY)})")
            h.check_equal(slow.acked, len(slow.batches), "slow agent done after SIGCONT")
            for a, n in zip(fast, during["fast"]):
                if n < 5:
                    raise AssertionError(f"{a.agent}: only {n} batches acknowledged meanwhile")
                h.check_equal(a.statuses.count(p.RETRY), 0, f"{a.agent}: RETRY answers")
            for port in others:
                gone = before[port] - clients(port)
                h.check_equal(sorted(gone), [], f"connections to master {port} dropped")
            want = truth([slow.batches] + [a.batches[:a.acked] for a in fast])
            names = slow_names[:4] + fast_names[:12]

            def totals():
                # /metrics reads the cluster; the first read after SIGCONT may still miss the
                # resumed master (a series then absent), so wait for one whole answer
                got = sli_totals(get(agg.http_port, "/metrics")[1])
                return got if all(n in got for n in names) else None
            got = h.wait_for(totals, timeout=20, what="/metrics with every series")
            for n in names:
                h.check_equal(got.get(n), want.get((n, "tot"), [0, 0, 0]), f"/metrics tot {n}")
            for a in [slow] + fast:
                a.close()
            h.check_equal(agg.term(), 0, "aggregator exit status")
        finally:
            for proc in cluster.nodes.values():
                if proc.alive():
                    proc.p.send_signal(signal.SIGCONT)
            cluster.stop()
            tmp.cleanup()

    def it_refuses_redis_and_redis_cluster_together(self):
        tmp = h.TempDir()
        try:
            cfg = tmp.write("both.yaml", "aggregator:\n  redis: redis://127.0.0.1:1/0\n"
                            "  redis_cluster: ['127.0.0.1:7000']\n")
            r = h.run([h.binary("slitail-aggregator"), "-c", cfg, "--check"])
            h.check_equal(r.returncode, 2, "exit status")
            if "'redis' and 'redis_cluster' cannot both be set" not in r.stderr:
                raise AssertionError("no clear error: " + r.stderr)
            cfg = tmp.write("sock.yaml", "aggregator:\n  redis_cluster: ['unix:///tmp/r.sock']\n")
            r = h.run([h.binary("slitail-aggregator"), "-c", cfg, "--check"])
            h.check_equal(r.returncode, 2, "exit status for a socket seed")
        finally:
            tmp.cleanup()


if __name__ == "__main__":
    RedisClusterTest().run_all()
