"""The real agent and the real aggregator over a private redis-server: the Redis minute buckets
hold exactly the writer's ground truth, through agent kill -9, an aggregator restart and a
Redis that loses its last writes."""
import os
import time

import agent_testlib as L
import slt_harness as H


class AgentWithAggregator(H.TestCase):
    def setup(self):
        self.tmp = H.TempDir("slt-agent-aggr-")
        self.redis = H.Redis(self.tmp)
        self.port = H.free_port()
        self.http = H.free_port()
        os.makedirs(self.tmp.join("logs"))
        self.writer = L.LogWriter(self.tmp.join("logs", "access.log"))
        self.acfg = L.agent_config(self.tmp, self.port, [self.writer.path])
        tok = self.tmp.join("token")
        # the aggregator reads the same file: one shared config, each its own section
        with open(self.acfg, "a") as f:
            f.write("aggregator:\n  listen: 127.0.0.1:%d\n  http_listen: 127.0.0.1:%d\n"
                    "  redis: %s\n  token_file: %s\n" % (self.port, self.http, self.redis.url,
                                                          tok))
        self.aggr = None

    def start_aggr(self):
        self.aggr = H.Proc([H.binary("slitail-aggregator"), "-c", self.acfg],
                           self.tmp.join("aggregator.log"))
        H.wait_port(self.port)

    def teardown(self):
        L.kill_all()
        if self.aggr:
            self.aggr.kill9()
        self.redis.stop()
        self.tmp.cleanup()

    SCRIPT = ("local out = {} "
              "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do "
              "local v = redis.call('HMGET', k, 'g', 'b', 'e') "
              "table.insert(out, k) "
              "for i = 1, 3 do table.insert(out, v[i] or '0') end end "
              "return out")

    def redis_totals(self):
        got = {}
        for sli in L.SLI_NAMES:
            out = self.redis.raw("EVAL", self.SCRIPT, "0", "slt:{s:%s}:m:*" % sli).split("\n")
            out = [x for x in out if x != ""]
            for j in range(0, len(out) - 3, 4):
                minute = int(out[j].rsplit(":", 1)[1])
                v = [int(x) for x in out[j + 1:j + 4]]
                if v != [0, 0, 0]:
                    got[(sli, minute)] = v
        return got

    def wait_redis_exact(self, timeout=40):
        want = {k: v for k, v in self.writer.expected.items()}
        deadline = time.time() + timeout
        while True:
            d = L.diff(self.redis_totals(), want)
            if not d:
                return
            if time.time() > deadline:
                raise AssertionError("%d cells differ: %s" % (len(d), "; ".join(d[:8])))
            time.sleep(0.3)

    def it_stores_exact_counts_in_redis_through_crashes_and_restarts(self):
        self.setup()
        try:
            self.start_aggr()
            a = L.Agent(self.tmp, self.acfg).start()
            for i in range(6):
                self.writer.write(400)
                time.sleep(0.1)
                if i % 2 == 1:
                    a.kill9()
                    a.start()
            self.wait_redis_exact()
            # the aggregator goes away for a while
            self.aggr.kill9()
            self.writer.write(700)
            time.sleep(1.0)
            self.start_aggr()
            self.wait_redis_exact()
            H.check_equal(a.term(), 0, "agent exit code")
            if L.TOKEN in a.output() or L.TOKEN in self.aggr.output():
                raise AssertionError("the token was logged")
        finally:
            self.teardown()

    def it_refills_a_redis_that_lost_everything_from_the_spool(self):
        self.setup()
        try:
            self.start_aggr()
            a = L.Agent(self.tmp, self.acfg).start()
            for _ in range(5):
                self.writer.write(300)
                time.sleep(0.1)
            self.wait_redis_exact()
            # no persistence: a restarted redis-server is empty, marks and counts alike
            self.redis.kill9()
            self.redis.start()
            self.writer.write(300)
            self.wait_redis_exact()
            H.check_equal(a.term(), 0, "agent exit code")
        finally:
            self.teardown()


if __name__ == "__main__":
    AgentWithAggregator().run_all()
