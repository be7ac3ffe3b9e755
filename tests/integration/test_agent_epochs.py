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
    def start_with_agent(self):
        """The aggregator, then agent web-1 with 300 lines stored: the agent."""
        self.start_aggr()
        a = L.Agent(self.tmp, self.acfg).start()
        self.writer.write(300)
        self.wait_redis_exact()
        return a

    def agent_b(self, tmp_b, port, seed):
        """Another host with the same agent.id, its own logs and state dir: (agent, writer)."""
        os.makedirs(tmp_b.join("logs"))
        wb = L.LogWriter(tmp_b.join("logs", "access.log"), seed=seed)
        b = L.Agent(tmp_b, L.agent_config(tmp_b, port, [wb.path])).start()
        wb.write(400)
        return b, wb

    def wait_no_lease(self):
        """Until the stopped agent's session let its lease go (the aggregator saw it end)."""
        H.wait_for(lambda: self.redis.raw("EXISTS", "slt:{a:web-1}:lease").strip() == "0",
                   timeout=40, what="the lease released")

    def token_holder(self, epoch, series=SERIES):
        """Sends one batch as agent web-1 with the given epoch and no counts; its ack."""
        c = P.ProtoClient("127.0.0.1", self.port, L.TOKEN, "web-1", epoch)
        try:
            H.check_equal(c.hello().get("t"), P.WELCOME, "token holder welcomed")
            c.send_batch(1, [P.series(n, [], since=1, kind=k) for k, n in series])
            return c.recv()
        finally:
            c.close()

    def it_refuses_a_token_holder_sending_as_a_live_agent(self):
        """A session without an instance (a token holder, an older agent) that names the id of
        a live agent is refused: it cannot store a larger epoch under the agent's feet."""
        self.setup()
        try:
            a = self.start_with_agent()
            # an hour ahead of the agent's epoch (a millisecond clock)
            high = a.status()["epoch"] + 3600 * 1000
            m = self.token_holder(high)
            H.check_equal(m.get("t"), P.ERROR, "refused")
            if "agent id 'web-1' already has a live session" not in m.get("msg", ""):
                raise AssertionError("unclear refusal: %r" % m)
            if (self.metric("slitail_aggregator_duplicate_sessions_total") or 0) < 1:
                raise AssertionError("the refusal was not counted")
            for _ in range(4):
                self.writer.write(200)
                time.sleep(0.2)
            self.wait_redis_exact()
            c = a.status()["counters"]
            H.check_equal((c["stale_epochs"], c["given_up"]), (0, 0), "stale epochs, given up")
            H.check_equal(a.term(), 0, "agent exit code")
        finally:
            self.teardown()

    def it_moves_above_an_epoch_stored_by_a_token_holder_while_it_was_down(self):
        self.setup()
        try:
            a = self.start_with_agent()
            high = a.status()["epoch"] + 3600 * 1000
            H.check_equal(a.term(), 0, "agent exit code")
            self.wait_no_lease()
            H.check_equal(self.token_holder(high)["status"], P.APPLIED, "stored")
            self.writer.write(500)
            a.start()
            self.wait_redis_exact()
            st = a.status()
            if st["epoch"] <= high or st["counters"]["stale_epochs"] < 1:
                raise AssertionError("agent epoch %d (stored %d), stale_epochs %d"
                                     % (st["epoch"], high, st["counters"]["stale_epochs"]))
            H.check_equal(st["counters"]["given_up"], 0, "batches given up")
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
            a = self.start_with_agent()
            epoch = a.status()["epoch"]
            H.check_equal(a.term(), 0, "agent exit code")
            self.wait_no_lease()
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

    def second_aggregator(self):
        """Another aggregator on the same Redis; returns (proc, agent port, http port)."""
        port, http = H.free_port(), H.free_port()
        cfg = self.tmp.write("aggr2.yaml", "aggregator:\n  listen: 127.0.0.1:%d\n"
                             "  http_listen: 127.0.0.1:%d\n  redis: %s\n  token_file: %s\n"
                             % (port, http, self.redis.url, self.tmp.join("token")))
        proc = H.Proc([H.binary("slitail-aggregator"), "-c", cfg], self.tmp.join("aggr2.log"))
        H.wait_port(port)
        return proc, port, http

    def it_refuses_a_second_live_agent_with_the_same_id_on_another_aggregator(self):
        self.setup()
        aggr2 = None
        try:
            a = self.start_with_agent()
            aggr2, port2, http2 = self.second_aggregator()
            tmp_b = H.TempDir("slt-agent-b-")
            try:
                b, wb = self.agent_b(tmp_b, port2, 11)
                old_http, self.http = self.http, http2
                try:
                    H.wait_for(lambda: (self.metric(
                        "slitail_aggregator_duplicate_sessions_total") or 0) >= 1, timeout=20,
                        what="the duplicate session counted by the second aggregator")
                finally:
                    self.http = old_http
                H.check_equal(a.term(), 0, "agent a exit code")
                self.wait_redis_exact(writers=[self.writer, wb], timeout=40)
                H.check_equal(b.term(), 0, "agent b exit code")
            finally:
                tmp_b.cleanup()
        finally:
            if aggr2:
                aggr2.kill9()
            self.teardown()

    def it_hands_the_lease_to_the_same_instance_and_refuses_another(self):
        """Protocol level: instance 'i-1' holds agent id 'x'; a new session of 'i-1' (the agent
        reconnected before the old connection was seen dead) takes it over and the old session
        is closed at its next renewal; instance 'i-2' is refused with a clear error."""
        self.setup()
        try:
            self.start_aggr()
            now = int(time.time()) // 60 * 60 - 600

            def client(instance, epoch=5):
                c = P.ProtoClient("127.0.0.1", self.port, L.TOKEN, "x", epoch, instance=instance)
                H.check_equal(c.hello().get("t"), P.WELCOME, "welcome " + instance)
                return c
            old = client("i-1")
            old.send_batch(1, [P.series("lease", [(now, 1, 0, 0)])])
            H.check_equal(old.recv_ack()["status"], P.APPLIED, "first session")
            other = client("i-2")
            other.send_batch(2, [P.series("lease", [(now, 1, 0, 0)])])
            m = other.recv()
            H.check_equal(m.get("t"), P.ERROR, "another instance refused")
            if "agent id 'x' already has a live session" not in m.get("msg", ""):
                raise AssertionError("unclear refusal: %r" % m)
            H.check_equal(other.closed(), True, "refused session closed")
            new = client("i-1")
            new.send_batch(2, [P.series("lease", [(now, 1, 0, 0)])])
            H.check_equal(new.recv_ack()["status"], P.APPLIED, "the same instance took over")
            # the old session's renewal (every 10 s) finds the lease gone and closes it
            H.check_equal(old.closed(timeout=15), True, "old session closed")
            # a lower epoch of the same instance: nothing applied, the stored epoch named
            low = client("i-1", epoch=4)
            low.send_batch(1, [P.series("lease", [(now, 1, 0, 0)])])
            ack = low.recv_ack()
            H.check_equal((ack["status"], ack.get("reason"), ack.get("mark")),
                          (P.REJECTED, P.REJECT_STALE_EPOCH, 5), "stale epoch at the check")
            for c in (new, low):
                c.close()
            H.check_equal(self.redis.raw("HGET", "slt:{s:lease}:tot", "g").strip(), "2",
                          "applied exactly twice")
            H.check_equal(self.metric("slitail_aggregator_duplicate_sessions_total"), 1,
                          "duplicate sessions counted")
        finally:
            self.teardown()

    def it_refuses_a_second_live_agent_with_the_same_id_and_counts_it(self):
        self.setup()
        try:
            a = self.start_with_agent()
            # another host, the same agent.id, its own logs and state dir
            tmp_b = H.TempDir("slt-agent-b-")
            try:
                b, wb = self.agent_b(tmp_b, self.port, 7)
                H.wait_for(lambda: (self.metric("slitail_aggregator_duplicate_sessions_total")
                                    or 0) >= 1, timeout=20, what="the duplicate session counted")
                H.wait_for(lambda: "already has a live session" in b.output(), timeout=10,
                           what="the refused agent told why")
                H.wait_for(lambda: "already has a live session" in
                           ((b.status() or {}).get("connection") or {}).get("last_error", ""),
                           timeout=15, what="--status telling why")
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
