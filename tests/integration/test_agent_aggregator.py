"""The real agent and the real aggregator over a private redis-server: the Redis minute buckets
hold exactly the writer's ground truth, through agent kill -9, an aggregator restart and a
Redis that loses its last writes."""
import time

import agent_testlib as L
import slt_harness as H


class AgentWithAggregator(L.AggrCase):
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
