"""End to end through the real ingest: batches an agent stand-in sends over the wire protocol
are what the API reads back, over random ranges, as series, and as /metrics counters."""
import random
import time

from api_common import Aggregator
from slt_harness import Redis, TempDir, TestCase, check_equal, wait_for
from slt_proto import APPLIED, INPUT, ProtoClient, series


class ApiIngest(TestCase):
    def __init__(self):
        self.tmp = TempDir("slt-api-ingest-")
        self.redis = Redis(self.tmp)
        self.agg = Aggregator(self.tmp, self.redis)
        wait_for(lambda: self.agg.get("/readyz")[0] == 200, what="/readyz 200")
        rnd = random.Random(5)
        now = int(time.time()) // 60 * 60
        self.first = now - 6 * 3600
        self.counts = {}
        self.client = ProtoClient("127.0.0.1", self.agg.ingest, "", "agent-1", 1)
        hello = self.client.hello()
        check_equal(hello.get("t"), 2, f"WELCOME ({hello!r})")
        seq = 0
        # two batches of three hours each, from one agent, as the agent would send them
        for part in range(2):
            rows = []
            for m in range(part * 180, part * 180 + 180):
                t = self.first + m * 60
                if rnd.random() < 0.2:
                    continue
                c = (rnd.randrange(1, 300), rnd.randrange(10), rnd.randrange(5))
                self.counts[t] = c
                rows.append((t,) + c)
            seq += 1
            self.client.send_batch(seq, [series("checkout", rows, since=1),
                                         series("web", [(self.first, 10, 1, 0)], since=1,
                                                kind=INPUT)])
            ack = self.client.recv_ack()
            check_equal(ack["status"], APPLIED, f"ack of batch {seq} ({ack!r})")

    def brute(self, frm, to):
        s = [0, 0, 0]
        for t in range(frm, to, 60):
            for i, v in enumerate(self.counts.get(t, (0, 0, 0))):
                s[i] += v
        return tuple(s)

    def it_api_reads_back_what_ingest_applied(self):
        rnd = random.Random(6)
        for _ in range(80):
            a = self.first + rnd.randrange(360) * 60
            b = self.first + rnd.randrange(361) * 60
            frm, to = min(a, b), max(a, b) + 60
            j = self.agg.json(f"/api/v1/slis/checkout/counts?from={frm}&to={to}")
            check_equal((j["good"], j["bad"], j["excluded"]), self.brute(frm, to),
                        f"[{frm},{to})")

    def it_series_by_hour_match(self):
        frm = self.first // 3600 * 3600
        to = frm + 7 * 3600
        j = self.agg.json(f"/api/v1/slis/checkout/counts?from={frm}&to={to}&step=3600")
        for p in j["series"]:
            check_equal((p["good"], p["bad"], p["excluded"]), self.brute(p["from"], p["to"]),
                        f"hour {p['from']}")

    def it_metrics_show_the_cumulative_counters(self):
        body = self.agg.get("/metrics")[2].decode()
        tot = self.brute(self.first, self.first + 6 * 3600)
        for name, v in zip(("good", "bad", "excluded"), tot):
            line = f'slitail_sli_events_total{{sli="checkout",result="{name}"}} {v}\n'
            assert line in body, line
        assert 'slitail_aggregator_batches_total{outcome="applied"} 2\n' in body
        # the web series rides in both batches, so its row counts twice
        assert 'slitail_input_unparsed_total{input="web"} 2\n' in body
        assert "slitail_aggregator_connected_agents 1\n" in body


if __name__ == "__main__":
    t = ApiIngest()
    try:
        t.run_all()
    finally:
        t.client.close()
        t.agg.stop()
        t.redis.stop()
        t.tmp.cleanup()
