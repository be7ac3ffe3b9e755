"""No silent drop: a larger epoch stored for the agent's id (a token holder sent it, or the
agent's state was lost after its clock went back) moves the agent to a larger epoch and every
line is still stored exactly once; an epoch no later one could pass (2^53 - 1) is not stored."""
import time
import urllib.request

import agent_testlib as L
import slt_harness as H
import slt_proto as P

SERIES = [(P.SLI, n) for n in L.SLI_NAMES] + [(P.INPUT, "web")]


class AgentEpochs(L.AggrCase):
    def token_holder(self, epoch, series=SERIES):
        """Sends one batch as agent web-1 with the given epoch and no counts; its ack."""
        c = P.ProtoClient("127.0.0.1", self.port, L.TOKEN, "web-1", epoch)
        try:
            H.check_equal(c.hello().get("t"), P.WELCOME, "token holder welcomed")
            c.send_batch(1, [P.series(n, [], since=1, kind=k) for k, n in series])
            return c.recv_ack()
        finally:
            c.close()

    def it_moves_above_an_epoch_stored_by_a_token_holder(self):
        self.setup()
        try:
            self.start_aggr()
            a = L.Agent(self.tmp, self.acfg).start()
            self.writer.write(300)
            self.wait_redis_exact()
            st = a.status()
            # an hour ahead of the agent's epoch (a millisecond clock)
            high = st["epoch"] + 3600 * 1000
            H.check_equal(self.token_holder(high)["status"], P.APPLIED, "stored")
            for _ in range(4):
                self.writer.write(200)
                time.sleep(0.2)
            self.wait_redis_exact()
            st = a.status()
            c = st["counters"]
            if st["epoch"] <= high or c["stale_epochs"] < 1:
                raise AssertionError("agent epoch %d (stored %d), stale_epochs %d"
                                     % (st["epoch"], high, c["stale_epochs"]))
            H.check_equal(c["given_up"], 0, "batches given up")
            metrics = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.http,
                                             timeout=10).read().decode()
            if 'slitail_aggregator_batches_rejected_total{reason="stale_epoch"} 0' in metrics:
                raise AssertionError("stale rejections not counted")
            H.check_equal(a.term(), 0, "agent exit code")
        finally:
            self.teardown()

    def it_does_not_store_an_epoch_no_later_one_could_pass(self):
        self.setup()
        try:
            self.start_aggr()
            ack = self.token_holder(2 ** 53 - 1)
            H.check_equal((ack["status"], ack.get("reason")), (P.REJECTED, P.REJECT_INVALID),
                          "epoch 2^53-1")
            a = L.Agent(self.tmp, self.acfg).start()
            self.writer.write(500)
            self.wait_redis_exact()
            H.check_equal(a.status()["counters"]["given_up"], 0, "batches given up")
            H.check_equal(a.term(), 0, "agent exit code")
        finally:
            self.teardown()


if __name__ == "__main__":
    AgentEpochs().run_all()
