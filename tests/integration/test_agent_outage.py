"""Aggregator outages and faults: down then back, a spool that fills up (backpressure), lost
writes (GAP), RETRY, dropped connections and failover. Counts stay exact."""
import os
import time

import agent_testlib as L
import slt_harness as H
from fake_aggregator import FakeAggregator


class AgentOutage(H.TestCase):
    def setup(self, spread_s=3):
        self.tmp = H.TempDir("slt-agent-out-")
        self.port = H.free_port()
        self.fake = FakeAggregator(self.port, token=L.TOKEN)
        os.makedirs(self.tmp.join("logs"))
        self.writer = L.LogWriter(self.tmp.join("logs", "access.log"), spread_s=spread_s)

    def teardown(self):
        L.kill_all()
        self.fake.stop()
        self.tmp.cleanup()

    def it_delivers_everything_after_the_aggregator_was_down(self):
        self.setup()
        try:
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path])
            a = L.Agent(self.tmp, cfg).start()
            self.writer.write(500)
            L.wait_exact(self.fake, [self.writer])
            self.fake.down()
            for _ in range(10):
                self.writer.write(200)
                time.sleep(0.1)
            st = H.wait_for(lambda: (lambda s: s if s and s["spool"]["unacked_batches"] > 0
                                     and s["connection"]["state"] != "connected" else None)(
                a.status()), what="unacked batches while down")
            # a restart while the aggregator is away must not lose the spooled batches
            a.kill9()
            self.writer.write(100)
            a.start()
            time.sleep(1.0)
            self.fake.up()
            L.wait_exact(self.fake, [self.writer], timeout=30)
            H.check_equal(st["backpressure"], False, "backpressure with a roomy spool")
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()

    def it_pauses_reading_when_the_spool_is_full_and_drains_exactly(self):
        # one minute per line: batches are large, so 1 MiB of spool fills quickly
        self.setup(spread_s=60)
        try:
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path],
                                 extra_agent="  spool_max: 1MiB\n")
            self.fake.down()
            a = L.Agent(self.tmp, cfg).start()
            # Write until the spool is full and lines wait unread: a fast agent may read a
            # whole burst before its spool fills, so one burst is not enough.
            def paused_with_lag():
                s = a.status()
                return s if s and s["backpressure"] and \
                    s["inputs"][0]["files"][0]["lag_bytes"] > 0 else None
            st = None
            for _ in range(30):
                self.writer.write(20000)
                try:
                    st = H.wait_for(paused_with_lag, timeout=2, what="backpressure with lag")
                    break
                except TimeoutError:
                    continue
            if st is None:
                raise AssertionError("reading did not stop on a full spool: %r" % a.status())
            f = st["inputs"][0]["files"][0]
            time.sleep(1.0)
            st2 = a.status()
            H.check_equal(st2["inputs"][0]["files"][0]["offset"], f["offset"],
                          "offset while paused")
            if st2["spool"]["bytes"] > 2 * 1024 * 1024:
                raise AssertionError("spool grew to %d bytes" % st2["spool"]["bytes"])
            self.fake.up()
            L.wait_exact(self.fake, [self.writer], timeout=50)
            st3 = H.wait_for(lambda: (lambda s: s if s and not s["backpressure"] else None)(
                a.status()), what="backpressure cleared")
            if st3["counters"]["backpressure_events"] < 1:
                raise AssertionError("backpressure not counted")
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()

    def it_resends_what_the_aggregator_lost(self):
        self.setup()
        try:
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path])
            a = L.Agent(self.tmp, cfg).start()
            for _ in range(10):
                self.writer.write(100)
                time.sleep(0.15)
            L.wait_exact(self.fake, [self.writer])
            self.fake.lose_last(5)  # Redis lost its last writes
            self.writer.write(100)
            L.wait_exact(self.fake, [self.writer])
            if self.fake.stats["gap"] < 1:
                raise AssertionError("no GAP was answered: %r" % self.fake.stats)
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()

    def it_starts_a_new_epoch_when_lost_batches_are_past_retention(self):
        self.setup()
        try:
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path],
                                 extra_agent="  spool_retention: 1s\n")
            a = L.Agent(self.tmp, cfg).start()
            for _ in range(5):
                self.writer.write(100)
                time.sleep(0.15)
            L.wait_exact(self.fake, [self.writer])
            self.fake.lose_last(3)
            kept = L.sli_totals(self.fake.totals())
            kept_lines = L.input_totals(self.fake.totals())
            time.sleep(2.5)  # the lost batches leave the spool
            w2 = L.LogWriter(self.writer.path, seed=100000)
            w2.lines = w2.unparsed = 0
            w2.write(300)
            want = dict(kept)
            for k, v in w2.expected.items():
                acc = want.setdefault(k, [0, 0, 0])
                want[k] = [acc[i] + v[i] for i in range(3)]

            def settled():
                tot = self.fake.totals()
                return not L.diff(L.sli_totals(tot), want) and \
                    L.input_totals(tot)[0] == kept_lines[0] + w2.lines
            H.wait_for(settled, timeout=20, what="new lines counted in a new epoch")
            st = H.wait_for(lambda: (lambda s: s if s and s["counters"]["unrecoverable_gaps"]
                                     else None)(a.status()), what="unrecoverable gap in status")
            H.check_equal(st["counters"]["unrecoverable_gaps"], 1, "unrecoverable gaps")
            if "starting epoch" not in a.output():
                raise AssertionError("the new epoch was not logged")
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()

    def it_survives_retry_answers_and_dropped_connections(self):
        self.setup()
        try:
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path])
            a = L.Agent(self.tmp, cfg).start()
            self.fake.retry_next = 15
            for i in range(12):
                self.writer.write(150)
                if i % 3 == 0:
                    self.fake.drop_after = 2
                time.sleep(0.15)
            L.wait_exact(self.fake, [self.writer], timeout=40)
            if self.fake.stats["retry"] < 15:
                raise AssertionError("RETRY not exercised: %r" % self.fake.stats)
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()

    def it_fails_over_to_the_next_aggregator(self):
        self.setup()
        try:
            dead = H.free_port()
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path],
                                 aggregators=["127.0.0.1:%d" % dead, "127.0.0.1:%d" % self.port])
            a = L.Agent(self.tmp, cfg).start()
            self.writer.write(700)
            L.wait_exact(self.fake, [self.writer])
            st = a.status()
            H.check_equal(st["connection"]["address"], "127.0.0.1:%d" % self.port, "address")
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()

    def it_keeps_a_batch_it_cannot_spool_and_retries_it(self):
        self.setup(spread_s=60)  # a minute per line: about 50 spool bytes per line
        try:
            import subprocess
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path])
            a = L.Agent(self.tmp, cfg)
            # the spool's segment files may not grow past 64 KiB: appends fail (EFBIG)
            a.adopt(H.Proc(["prlimit", "--fsize=65536:unlimited", H.binary("slitail-agent"),
                            "-c", cfg], self.tmp.join("agent.log")))
            for _ in range(10):
                self.writer.write(500)
                time.sleep(0.1)
            H.wait_for(lambda: "cannot spool batch" in a.output(), what="append failure logged")
            st = H.wait_for(lambda: (lambda s: s if s and s["counters"]["spool_errors"] > 0
                                     else None)(a.status()), what="spool errors in status")
            lag = st["inputs"][0]["files"][0]["lag_bytes"]
            if lag <= 0:
                raise AssertionError("reading went on while a batch could not be spooled")
            subprocess.run(["prlimit", "--pid", str(a.proc.p.pid), "--fsize=unlimited"],
                           check=True)
            L.wait_exact(self.fake, [self.writer], timeout=30)
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()

    def it_survives_malformed_and_oversized_frames_from_the_aggregator(self):
        self.setup()
        try:
            import struct
            self.fake.garbage = [
                b"\x00\x00\x00\x05hello",                        # not msgpack
                struct.pack(">I", 0xFFFFFFF0) + b"x" * 100,         # 4 GiB announced
                b"\x00\x00\x00\x00",                             # zero length
                struct.pack(">I", 3) + b"\x81\xa1t",                # a map cut short
                P_ack_unknown(),                                    # ACK for nothing sent
            ]
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path])
            a = L.Agent(self.tmp, cfg).start()
            for _ in range(8):
                self.writer.write(200)
                time.sleep(0.2)
            L.wait_exact(self.fake, [self.writer], timeout=40)
            if self.fake.garbage:
                raise AssertionError("not every bad frame was sent: %d left"
                                     % len(self.fake.garbage))
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()


def P_ack_unknown():
    import slt_proto as P
    return P.encode({"t": P.ACK, "epoch": 1, "seq": 999999, "status": P.APPLIED})


if __name__ == "__main__":
    AgentOutage().run_all()
