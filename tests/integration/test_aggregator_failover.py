"""Several aggregators on one Redis (docs/ALERTS.md and docs/REDIS.md, "Several
aggregators"): an agent that lists two keeps exact totals when the one it uses is SIGKILLed,
and alert evaluation moves to the survivor within four alert intervals (the alerting lease
lives three), each state change still reaching the webhook once."""
import http.server
import json
import os
import threading
import time

import agent_testlib as L
import slt_harness as H
from slt_aggr import metric
from slt_proto import APPLIED, ProtoClient, series


class Hooks:
    """A webhook receiver that records every document."""

    def __init__(self):
        self.docs = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer.lock:
                    outer.docs.append((time.time(), json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def find(self, alert, status):
        with self.lock:
            return [(t, d) for t, d in self.docs if d["alert"] == alert and d["status"] == status]

    def all(self):
        with self.lock:
            return sorted((d["alert"], d["status"]) for _, d in self.docs)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


ALERT_CONFIG = """
inputs: [{{name: web, format: nginx_combined}}]
slis:
  - {{name: checkout, input: web, bad: {{status: 5xx}}}}
slos:
  - {{name: checkout-99, sli: checkout, objective: 99, window: 1d}}
aggregator:
  listen: 127.0.0.1:{ingest}
  http_listen: 127.0.0.1:{http}
  redis: {redis}
  redis_timeout: 1s
  allow_unauthenticated: true
alerting:
  interval: 1s
  webhook: http://127.0.0.1:{hook}/hook
  timeout: 2s
"""


class Failover(H.TestCase):
    def it_an_agent_keeps_exact_totals_when_its_aggregator_is_killed(self):
        tmp = H.TempDir("slt-failover-")
        redis = H.Redis(tmp)
        aggrs = {}
        try:
            os.makedirs(tmp.join("logs"))
            writer = L.LogWriter(tmp.join("logs", "access.log"))
            ports = [(H.free_port(), H.free_port()) for _ in range(2)]
            acfg = L.agent_config(tmp, 0, [writer.path],
                                  aggregators=[f"127.0.0.1:{p}" for p, _ in ports])
            base = open(acfg).read()
            for i, (port, http) in enumerate(ports):
                cfg = tmp.write(f"aggr{i}.yaml", base + (
                    "aggregator:\n  listen: 127.0.0.1:%d\n  http_listen: 127.0.0.1:%d\n"
                    "  redis: %s\n  token_file: %s\n" % (port, http, redis.url,
                                                        tmp.join("token"))))
                aggrs[i] = H.Proc([H.binary("slitail-aggregator"), "-c", cfg],
                                  tmp.join(f"aggr{i}.log"))
                H.wait_port(port)
            agent = L.Agent(tmp, acfg)
            agent.start()
            for _ in range(20):
                writer.write(50)
                time.sleep(0.05)
            # the aggregator the agent is connected to
            used = H.wait_for(lambda: [i for i, (_, http) in enumerate(ports)
                                       if metric(http, "slitail_aggregator_connected_agents")
                                       == 1], what="the agent connected")[0]
            aggrs[used].kill9()
            for _ in range(40):
                writer.write(50)
                time.sleep(0.05)
            other = 1 - used
            H.wait_for(lambda: metric(ports[other][1], "slitail_aggregator_connected_agents")
                       == 1, timeout=20, what="the agent moved to the other aggregator")
            case = L.AggrCase()
            case.redis = redis
            case.writer = writer
            case.wait_redis_exact(timeout=40)
            H.check_equal(aggrs[other].term(), 0, "survivor exit status")
        finally:
            L.kill_all()
            for p in aggrs.values():
                if p.alive():
                    p.kill9()
            redis.stop()
            tmp.cleanup()

    def it_moves_alerting_to_the_survivor_and_notifies_each_change_once(self):
        self.moves_alerting(graceful=False)

    def it_moves_alerting_within_an_interval_when_the_holder_stops_with_sigterm(self):
        self.moves_alerting(graceful=True)

    def moves_alerting(self, graceful):
        tmp = H.TempDir("slt-failover-alerts-")
        redis = H.Redis(tmp)
        hooks = Hooks()
        procs, nodes = [], []
        try:
            for i in range(2):
                ingest, http = H.free_port(), H.free_port()
                cfg = tmp.write(f"a{i}.yaml", ALERT_CONFIG.format(
                    ingest=ingest, http=http, redis=redis.url, hook=hooks.port))
                procs.append(H.Proc([H.binary("slitail-aggregator"), "-c", cfg],
                                    tmp.join(f"a{i}.log")))
                nodes.append((ingest, http))
                H.wait_port(http)
            leader = H.wait_for(lambda: [i for i in range(2) if metric(
                nodes[i][1], "slitail_alert_lease_held") == 1], timeout=15,
                what="one aggregator holds the alerting lease")[0]
            H.check_equal(metric(nodes[1 - leader][1], "slitail_alert_lease_held"), 0.0,
                          "the other does not")
            m = int(time.time()) // 60 * 60
            c = ProtoClient("127.0.0.1", nodes[leader][0], "", "agent-1", 1)
            H.check_equal(c.hello().get("t"), 2, "WELCOME")
            c.send_batch(1, [series("checkout", [(m, 0, 100, 0)], since=1)])
            H.check_equal(c.recv_ack()["status"], APPLIED, "burst")
            c.close()
            # the page-1h tier notifies (the tiers below it are inhibited: docs/ALERTS.md)
            H.wait_for(lambda: hooks.find("page-1h", "firing"), timeout=15,
                       what="the firing document")
            survivor = 1 - leader
            t_kill = time.time()
            if graceful:
                # SIGTERM: the holder gives the lease back before it exits, the survivor takes
                # it at its next evaluation (1 interval of 1 s), not when it runs out (3)
                pid = procs[leader].p.pid
                H.check_equal(procs[leader].term(), 0, "holder exit status")
                held = redis.raw("GET", "slt:alert:lease").strip()
                if f"/{pid}/" in held:
                    raise AssertionError(f"the stopped holder left its lease: {held!r}")
                limit = 1 + 1.5  # 1 interval, the exit and the scrape
            else:
                # the lease holder dies; the survivor takes over within 4 intervals of 1 s
                procs[leader].kill9()
                limit = 4 + 2  # 4 intervals, and the scrape
            H.wait_for(lambda: metric(nodes[survivor][1], "slitail_alert_lease_held") == 1,
                       timeout=10, what="the survivor holds the lease")
            took = time.time() - t_kill
            print(f"  the lease moved after {took:.1f}s ({'SIGTERM' if graceful else 'SIGKILL'})")
            if took > limit:
                raise AssertionError(f"the lease moved after {took:.1f}s")
            # a state change seen only by the survivor is sent, once
            c = ProtoClient("127.0.0.1", nodes[survivor][0], "", "agent-1", 2)
            H.check_equal(c.hello().get("t"), 2, "WELCOME")
            c.send_batch(1, [series("checkout", [(int(time.time()) // 60 * 60, 1000000, 0, 0)],
                                    since=1)])
            H.check_equal(c.recv_ack()["status"], APPLIED, "good flood")
            c.close()
            H.wait_for(lambda: hooks.find("page-1h", "resolved"), timeout=15,
                       what="the resolved document from the survivor")
            time.sleep(2.5)  # a few more evaluations: nothing is sent twice
            H.check_equal(hooks.all(), [("page-1h", "firing"), ("page-1h", "resolved")],
                          "each state change once")
            H.check_equal(procs[survivor].term(), 0, "survivor exit status")
        finally:
            for p in procs:
                if p.alive():
                    p.kill9()
            hooks.stop()
            redis.stop()
            tmp.cleanup()


if __name__ == "__main__":
    Failover().run_all()
