"""SIGTERM flushes and exits 0 promptly; SIGHUP reloads, and a bad new config keeps the old one."""
import time

import agent_testlib as L
import slt_harness as H
from fake_aggregator import FakeAggregator

EXTRA_SLI = """  - name: static
    input: web
    match: { path: '^/static/' }
    bad: { status: 5xx }
"""


class AgentSignals(L.AgentCase):
    prefix = "slt-agent-sig-"

    def it_flushes_and_exits_0_promptly_on_sigterm(self):
        self.setup()
        try:
            # a long flush interval: only the SIGTERM flush can ship these lines
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path], flush="1h")
            a = L.Agent(self.tmp, cfg).start()
            self.writer.write(3000)
            H.wait_for(lambda: (lambda s: s and s["inputs"][0]["lines"] == 3000)(a.status()),
                       what="lines read")
            t0 = time.time()
            H.check_equal(a.term(), 0, "exit code")
            took = time.time() - t0
            if took > 3:
                raise AssertionError("SIGTERM took %.1fs" % took)
            L.wait_exact(self.fake, [self.writer], timeout=1)
        finally:
            self.teardown()

    def it_exits_0_within_ack_timeout_when_the_aggregator_is_gone(self):
        self.setup()
        try:
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path],
                                 extra_agent="  ack_timeout: 1s\n")
            self.fake.down()
            a = L.Agent(self.tmp, cfg).start()
            self.writer.write(500)
            time.sleep(0.5)
            t0 = time.time()
            H.check_equal(a.term(), 0, "exit code")
            if time.time() - t0 > 3:
                raise AssertionError("SIGTERM did not honour ack_timeout")
            # the unacknowledged batches are resent by the next start
            self.fake.up()
            a.start()
            L.wait_exact(self.fake, [self.writer])
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()

    def it_keeps_running_with_the_old_config_when_a_reload_is_bad(self):
        self.setup()
        try:
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path])
            a = L.Agent(self.tmp, cfg).start()
            self.writer.write(400)
            L.wait_exact(self.fake, [self.writer])
            good = open(cfg).read()
            with open(cfg, "w") as f:
                f.write(good.replace("slis:", "slis: [oops"))
            a.signal(L.SIGHUP)
            H.wait_for(lambda: "reload failed" in a.output(), what="reload failure logged")
            if not a.alive():
                raise AssertionError("agent died on a bad reload")
            line = [ln for ln in a.output().splitlines() if "reload failed" in ln][0]
            if "agent.yaml:" not in line:
                raise AssertionError("reload error lacks file:line: %r" % line)
            self.writer.write(400)
            L.wait_exact(self.fake, [self.writer])
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()

    def it_applies_a_good_reload_without_losing_lines(self):
        self.setup()
        try:
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path])
            a = L.Agent(self.tmp, cfg).start()
            for _ in range(5):
                self.writer.write(300)
                time.sleep(0.05)
            with open(cfg, "a") as f:
                f.write(EXTRA_SLI)
            a.signal(L.SIGHUP)
            H.wait_for(lambda: "reloaded" in a.output(), what="reload logged")
            for _ in range(5):
                self.writer.write(300)
                time.sleep(0.05)
            L.wait_exact(self.fake, [self.writer])
            st = H.wait_for(lambda: (lambda s: s if s and s["counters"]["reloads"] == 1 and
                                     s["inputs"][0]["lines"] == 3000 else None)(a.status()),
                            what="reload counted and 3000 lines in status")
            # the new SLI counts the lines read after the reload
            names = {k[1] for k in self.fake.totals() if k[0] == 0}
            if "static" not in names:
                raise AssertionError("new SLI not shipped: %r" % names)
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()

    def it_moves_to_a_new_aggregator_on_reload_and_refills_it_from_the_spool(self):
        self.setup()
        port2 = H.free_port()
        fake2 = FakeAggregator(port2, token=L.TOKEN)
        try:
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path])
            a = L.Agent(self.tmp, cfg).start()
            for _ in range(5):
                self.writer.write(200)
                time.sleep(0.1)
            L.wait_exact(self.fake, [self.writer])
            with open(cfg) as f:
                text = f.read().replace("127.0.0.1:%d" % self.port, "127.0.0.1:%d" % port2)
            with open(cfg, "w") as f:
                f.write(text)
            a.signal(L.SIGHUP)
            self.writer.write(300)
            # the new aggregator knows nothing: it asks for everything from since (GAP) and
            # gets it from the spool
            L.wait_exact(fake2, [self.writer])
            if fake2.stats["gap"] < 1:
                raise AssertionError("no GAP from the new aggregator: %r" % fake2.stats)
            H.check_equal(a.term(), 0, "exit code")
        finally:
            fake2.stop()
            self.teardown()


if __name__ == "__main__":
    AgentSignals().run_all()
