"""No silent drop: a larger epoch stored for the agent's id (a token holder sent it, or the
agent's state was lost after its clock went back) moves the agent to a larger epoch and every
line is still stored exactly once; an epoch no later one could pass (2^53 - 1) is not stored;
two live agents with one id: the second is refused, counted, and takes over once the first
is gone."""
import os
import re
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

    def metric(self, name):
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.http,
                                      timeout=10).read().decode()
        m = re.search(r"^%s (\d+)$" % re.escape(name), text, re.M)
        return int(m.group(1)) if m else None

    def it_moves_above_an_epoch_stored_for_one_series_while_it_was_down(self):
        self.setup()
        try:
            self.start_aggr()
            a = L.Agent(self.tmp, self.acfg).start()
            self.writer.write(300)
            self.wait_redis_exact()
            epoch = a.status()["epoch"]
            H.check_equal(a.term(), 0, "agent exit code")
            # one series only: a batch of the agent would be half applied, half rejected
            ack = self.token_holder(epoch + 3600 * 1000, [(P.SLI, "availability")])
            H.check_equal(ack["status"], P.APPLIED, "stored")
            self.writer.write(500)
            a.start()
            self.wait_redis_exact()
            c = a.status()["counters"]
            if c["stale_epochs"] < 1:
                raise AssertionError("no stale epoch seen: %s" % c)
            H.check_equal(c["given_up"], 0, "batches given up")
            H.check_equal(a.term(), 0, "agent exit code")
        finally:
            self.teardown()

    def it_refuses_a_second_live_agent_with_the_same_id_and_counts_it(self):
        self.setup()
        try:
            self.start_aggr()
            a = L.Agent(self.tmp, self.acfg).start()
            self.writer.write(300)
            self.wait_redis_exact()
            # another host, the same agent.id, its own logs and state dir
            tmp_b = H.TempDir("slt-agent-b-")
            try:
                os.makedirs(tmp_b.join("logs"))
                wb = L.LogWriter(tmp_b.join("logs", "access.log"), seed=7)
                cfg_b = L.agent_config(tmp_b, self.port, [wb.path])
                b = L.Agent(tmp_b, cfg_b).start()
                wb.write(400)
                H.wait_for(lambda: (self.metric("slitail_aggregator_duplicate_sessions_total")
                                    or 0) >= 1, timeout=20, what="the duplicate session counted")
                H.wait_for(lambda: "already has a live session" in b.output(), timeout=10,
                           what="the refused agent told why")
                # the first one is still served and exact
                self.writer.write(200)
                self.wait_redis_exact()
                # once it is gone, the second takes over: both hosts' lines, exactly once
                H.check_equal(a.term(), 0, "agent a exit code")
                self.wait_redis_exact(writers=[self.writer, wb], timeout=40)
                H.check_equal(b.status()["counters"]["given_up"], 0, "b gave nothing up")
                H.check_equal(b.term(), 0, "agent b exit code")
            finally:
                tmp_b.cleanup()
        finally:
            self.teardown()


if __name__ == "__main__":
    AgentEpochs().run_all()
