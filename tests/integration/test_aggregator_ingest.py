"""The aggregator applies agents' batches to a real Redis exactly once: concurrent agents,
duplicates, gaps, crashes of the aggregator and of Redis, bad frames and bad tokens."""
import os
import random
import signal
import socket
import struct
import time

import slt_harness as h
import slt_proto as p
from slt_aggr import (TOKEN, Aggregator, SimAgent, check_truth, make_batches, minute_now,
                      redis_hash, run_threads, truth)


class Ingest(h.TestCase):
    def setup(self, aof=False):
        self.tmp = h.TempDir()
        self.redis = h.Redis(self.tmp, aof=aof)
        self.aggr = Aggregator(self.tmp, self.redis.url)
        self.aggr.wait_redis()

    def teardown(self):
        try:
            if self.aggr.proc.alive():
                rc = self.aggr.term()
                h.check_equal(rc, 0, "aggregator exit status after SIGTERM")
        finally:
            self.redis.stop()
            self.tmp.cleanup()

    def run_case(self, fn, aof=False):
        self.setup(aof=aof)
        try:
            fn()
        except Exception:
            print(self.aggr.log()[-3000:])
            raise
        finally:
            self.teardown()

    # -----------------------------------------------------------------------------------------
    def it_sums_many_concurrent_agents_exactly(self):
        def case():
            rng = random.Random(1)
            now = minute_now()
            minutes = [now - 60 * k for k in range(5)]
            names = [f"sli{i}" for i in range(5)]
            agents = [SimAgent(self.aggr.port, f"agent-{i}", 1,
                               make_batches(rng, names, 60, minutes)) for i in range(20)]
            run_threads([a.ship for a in agents])
            check_truth(self.redis, truth([a.batches for a in agents]))
            for a in agents:
                h.check_equal(set(a.statuses), {p.APPLIED}, f"{a.agent} statuses")
            raw = self.redis.raw("HGET", "slt:{s:sli0}:hwm", "agent-7").strip()
            h.check_equal(raw, "1:60", "agent-7's mark on sli0")
            members = sorted(self.redis.raw("SMEMBERS", "slt:series").split())
            h.check_equal(members, sorted(f"s:{n}" for n in names), "slt:series")
        self.run_case(case)

    def it_acks_duplicates_and_replays_without_counting_twice(self):
        def case():
            rng = random.Random(2)
            now = minute_now()
            a = SimAgent(self.aggr.port, "dup", 7, make_batches(rng, ["x", "y"], 10, [now]))
            a.ship()
            c = p.ProtoClient("127.0.0.1", self.aggr.port, TOKEN, "dup", 7)
            c.hello()
            for seq in (10, 3, 1, 10):
                c.send_batch(seq, a.batches[seq - 1])
                ack = c.recv_ack()
                h.check_equal(ack["status"], p.DUPLICATE, f"replayed batch {seq}")
            c.close()
            check_truth(self.redis, truth([a.batches]))
        self.run_case(case)

    def it_counts_once_when_one_agent_sends_the_same_batch_on_two_connections(self):
        """Both copies usually land in one group commit: the script must see the first
        advance the mark before it judges the second (and then add only accepted deltas)."""
        def case():
            now = minute_now()
            pairs = []
            for i in range(20):
                a = p.ProtoClient("127.0.0.1", self.aggr.port, TOKEN, f"twin{i}", 1)
                b = p.ProtoClient("127.0.0.1", self.aggr.port, TOKEN, f"twin{i}", 1)
                a.hello()
                b.hello()
                pairs.append((a, b))
            for seq in (1, 2, 3):
                raw = {i: p.batch(f"twin{i}", 1, seq, [p.series("tw", [(now, i + 1, 1, 0)]),
                                                       p.series("tw2", [(now, 1, 0, 0)])])
                       for i in range(20)}
                # stopped, so every copy is read in one loop iteration: one group commit
                os.kill(self.aggr.proc.p.pid, signal.SIGSTOP)
                for i, (a, b) in enumerate(pairs):
                    a.send_raw(raw[i])
                    b.send_raw(raw[i])
                time.sleep(0.1)
                os.kill(self.aggr.proc.p.pid, signal.SIGCONT)
                for i, (a, b) in enumerate(pairs):
                    got = sorted([a.recv_ack()["status"], b.recv_ack()["status"]])
                    h.check_equal(got, [p.APPLIED, p.DUPLICATE], f"twin{i} seq {seq}")
            for a, b in pairs:
                a.close()
                b.close()
            want = {"g": 3 * sum(range(1, 21)), "b": 60}
            h.check_equal(redis_hash(self.redis, "slt:{s:tw}:tot"), want, "tw tot")
            h.check_equal(redis_hash(self.redis, f"slt:{{s:tw}}:m:{now}"), want, "tw minute")
            h.check_equal(redis_hash(self.redis, "slt:{s:tw2}:tot"), {"g": 60}, "tw2 tot")
        self.run_case(case)

    def it_refuses_a_gap_and_recovers_from_the_mark(self):
        def case():
            now = minute_now()
            b = [[p.series("gap", [(now, i, 0, 0)])] for i in range(1, 6)]
            c = p.ProtoClient("127.0.0.1", self.aggr.port, TOKEN, "g", 1)
            c.hello()
            c.send_batch(1, b[0])
            h.check_equal(c.recv_ack()["status"], p.APPLIED, "seq 1")
            c.send_batch(4, b[3])
            ack = c.recv_ack()
            h.check_equal((ack["status"], ack["resend_from"]), (p.GAP, 2), "seq 4 after 1")
            for seq in (2, 3, 4, 5):
                c.send_batch(seq, b[seq - 1])
                h.check_equal(c.recv_ack()["status"], p.APPLIED, f"seq {seq}")
            c.close()
            h.check_equal(redis_hash(self.redis, "slt:{s:gap}:tot"), {"g": 15}, "gap tot")
            # a first batch that is not the series' first: gap back to since
            c = p.ProtoClient("127.0.0.1", self.aggr.port, TOKEN, "g2", 1)
            c.hello()
            c.send_batch(3, [p.series("gap", [(now, 100, 0, 0)], since=2)])
            ack = c.recv_ack()
            h.check_equal((ack["status"], ack["resend_from"]), (p.GAP, 2), "new agent at 3")
            # a new series joins an epoch later: its since is where it starts
            c.send_batch(2, [p.series("gap", [], since=2), p.series("late", [(now, 1, 0, 0)],
                                                                    since=2)])
            h.check_equal(c.recv_ack()["status"], p.APPLIED, "seq 2 with a new series")
            # a new epoch starts again at since; an old epoch is rejected
            c.close()
            c = p.ProtoClient("127.0.0.1", self.aggr.port, TOKEN, "g2", 2)
            c.hello()
            c.send_batch(1, [p.series("gap", [(now, 1, 0, 0)], since=1)])
            h.check_equal(c.recv_ack()["status"], p.APPLIED, "epoch 2 seq 1")
            c.close()
            c = p.ProtoClient("127.0.0.1", self.aggr.port, TOKEN, "g2", 1)
            c.hello()
            c.send_batch(3, [p.series("gap", [(now, 1, 0, 0)], since=2)])
            h.check_equal(c.recv_ack()["status"], p.REJECTED, "stale epoch")
            c.close()
            h.check_equal(redis_hash(self.redis, "slt:{s:gap}:tot"), {"g": 16}, "gap tot")
        self.run_case(case)

    def it_closes_a_wrong_token_and_never_logs_it(self):
        def case():
            c = p.ProtoClient("127.0.0.1", self.aggr.port, "wrong-token-xyz", "bad", 1)
            m = c.hello()
            h.check_equal(m, {"t": p.ERROR, "msg": "authentication failed"}, "answer")
            h.check_equal(c.closed(), True, "connection closed")
            # a batch without hello is refused too
            c = p.ProtoClient("127.0.0.1", self.aggr.port, TOKEN, "nohello", 1)
            c.send_batch(1, [p.series("x", [])])
            h.check_equal(c.recv()["t"], p.ERROR, "batch before hello")
            h.check_equal(c.closed(), True, "connection closed")
            log = self.aggr.log()
            h.check_equal("authentication failed for agent 'bad'" in log, True, "logged")
            h.check_equal("wrong-token-xyz" in log or TOKEN in log, False, "token in log")
        self.run_case(case)

    def it_survives_malformed_and_oversized_frames(self):
        def case():
            now = minute_now()
            good = p.ProtoClient("127.0.0.1", self.aggr.port, TOKEN, "good", 1)
            good.hello()
            bad_frames = [
                struct.pack(">I", 0xFFFFFFF0),             # oversized length
                struct.pack(">I", 0),                      # zero length
                p.frame(b"\x82\xa1t\x05\xa1x\xc1"),         # not msgpack
                p.frame(b"\x82\xa1t\x03\xa6series\xdd\xff\xff\xff\xff"),  # huge array
                p.frame(b"\x93\x01\x02\x03"),              # not a map
            ]
            for i, raw in enumerate(bad_frames):
                c = p.ProtoClient("127.0.0.1", self.aggr.port, TOKEN, f"bad{i}", 1)
                c.hello()
                c.send_raw(raw)
                m = c.recv()
                h.check_equal(m["t"], p.ERROR, f"bad frame {i} answer")
                h.check_equal(c.closed(), True, f"bad frame {i} closes")
                good.send_batch(i + 1, [p.series("ok", [(now, 1, 0, 0)])])
                h.check_equal(good.recv_ack()["status"], p.APPLIED, f"good agent after {i}")
            # a frame bigger than max_frame sent in full
            c = p.ProtoClient("127.0.0.1", self.aggr.port, TOKEN, "big", 1)
            c.hello()
            rows = [(now - 60 * k, 1, 1, 1) for k in range(200000)]
            try:
                c.send_batch(1, [p.series("big", rows)])
            except OSError:
                pass
            h.check_equal(c.closed(), True, "oversized batch closes")
            good.send_batch(6, [p.series("ok", [(now, 1, 0, 0)])])
            h.check_equal(good.recv_ack()["status"], p.APPLIED, "good agent at the end")
            good.close()
            h.check_equal(redis_hash(self.redis, "slt:{s:ok}:tot"), {"g": 6}, "ok tot")
            h.check_equal(self.redis.cli("EXISTS", "slt:{s:big}:tot"), "(integer) 0", "big")
            log = self.aggr.log()
            for reason in ("frame length zero or over max_frame", "invalid msgpack byte 0xc1",
                           "elements announced", "expected a map"):
                h.check_equal(reason in log, True, f"reason '{reason}' logged")
        self.run_case(case)

    def it_closes_a_connection_that_sends_no_hello(self):
        def case():
            s = socket.create_connection(("127.0.0.1", self.aggr.port))
            t0 = time.time()
            s.settimeout(15)
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            took = time.time() - t0
            h.check_equal(4 <= took < 10, True, f"closed after {took:.1f}s")
            h.check_equal(p.decode_body(data[4:])["msg"], "no hello in time", "reason")
        self.run_case(case)

    def it_keeps_late_rows_in_coarser_buckets_and_counts_them(self):
        def case():
            now = minute_now()
            old = now - 3 * 86400        # past minute retention (2d), within hour (35d)
            ancient = now - 500 * 86400  # past day retention: tot only
            c = p.ProtoClient("127.0.0.1", self.aggr.port, TOKEN, "late", 1)
            c.hello()
            c.send_batch(1, [p.series("l", [(now, 1, 0, 0), (old, 2, 0, 0), (ancient, 4, 0, 0)])])
            h.check_equal(c.recv_ack()["status"], p.APPLIED, "late batch")
            c.close()
            h.check_equal(redis_hash(self.redis, "slt:{s:l}:tot"), {"g": 7}, "tot")
            h.check_equal(self.redis.cli("EXISTS", f"slt:{{s:l}}:m:{old}"), "(integer) 0",
                          "no minute bucket for a row past minute retention")
            hour = old - old % 3600
            h.check_equal(redis_hash(self.redis, f"slt:{{s:l}}:h:{hour}"), {"g": 2}, "hour")
            keys = self.redis.raw("KEYS", "slt:{s:l}:*").split()
            h.check_equal(len([k for k in keys if str(ancient - ancient % 86400) in k]), 0,
                          "no bucket for a row past day retention")
            ttl = int(self.redis.raw("TTL", f"slt:{{s:l}}:m:{now}").strip())
            h.check_equal(2 * 86400 - 60 <= ttl <= 2 * 86400 + 60, True, f"minute TTL {ttl}")
        self.run_case(case)

    def it_loses_nothing_when_the_aggregator_is_killed_mid_ingest(self):
        def case():
            rng = random.Random(3)
            now = minute_now()
            agents = [SimAgent(self.aggr.port, f"k{i}", 1,
                               make_batches(rng, ["a", "b", "c"], 150, [now, now - 60]))
                      for i in range(8)]

            def killer():
                time.sleep(0.4)
                self.aggr.kill9()
                time.sleep(0.3)
                self.aggr.start()

            run_threads([lambda a=a: a.ship(pause=0.005) for a in agents] + [killer])
            check_truth(self.redis, truth([a.batches for a in agents]))
            log = self.aggr.log()
            h.check_equal(log.count("started ("), 2, "aggregator started twice")
            statuses = [s for a in agents for s in a.statuses]
            print("  statuses:", {p.STATUS_NAMES[k]: statuses.count(k) for k in set(statuses)})
        self.run_case(case)

    def it_loses_nothing_acknowledged_when_redis_is_killed(self):
        def case():
            rng = random.Random(4)
            now = minute_now()
            agents = [SimAgent(self.aggr.port, f"r{i}", 1,
                               make_batches(rng, ["a", "b"], 250, [now, now - 60]))
                      for i in range(6)]

            def killer():
                time.sleep(0.6)
                self.redis.kill9()
                time.sleep(0.5)
                self.redis.start()

            run_threads([lambda a=a: a.ship(pause=0.004) for a in agents] + [killer])
            # one more batch each: a write lost at the very end shows up as a gap here
            for a in agents:
                a.batches.append([p.series("a", []), p.series("b", [])])
                a.ship()
            check_truth(self.redis, truth([a.batches for a in agents]))
            statuses = [s for a in agents for s in a.statuses]
            print("  statuses:", {p.STATUS_NAMES[k]: statuses.count(k) for k in set(statuses)})
            h.check_equal(p.RETRY in statuses, True, "retries while redis was down")
        self.run_case(case, aof=True)

    def it_resends_what_redis_lost_after_acknowledging_it(self):
        """Redis restarts from an older snapshot: marks went back with the counts they guarded,
        so agents see gaps and resend from their spool."""
        def case():
            rng = random.Random(5)
            now = minute_now()
            agents = [SimAgent(self.aggr.port, f"s{i}", 1,
                               make_batches(rng, ["a", "b"], 200, [now, now - 60]))
                      for i in range(6)]

            def killer():
                time.sleep(0.3)
                h.check_equal(self.redis.cli("SAVE"), "OK", "SAVE")
                time.sleep(0.4)
                self.redis.kill9()
                time.sleep(0.3)
                self.redis.start()

            run_threads([lambda a=a: a.ship(pause=0.004) for a in agents] + [killer])
            for a in agents:
                a.batches.append([p.series("a", []), p.series("b", [])])
                a.ship()
            check_truth(self.redis, truth([a.batches for a in agents]))
            statuses = [s for a in agents for s in a.statuses]
            print("  statuses:", {p.STATUS_NAMES[k]: statuses.count(k) for k in set(statuses)})
            h.check_equal(p.GAP in statuses, True, "gaps after redis lost writes")
        self.run_case(case)

    def it_cuts_an_agent_that_does_not_read_its_acks(self):
        def case():
            now = minute_now()
            good = SimAgent(self.aggr.port, "fine", 1,
                            [[p.series("slow", [(now, 1, 0, 0)])] for _ in range(20)])
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(("127.0.0.1", self.aggr.port))
            s.sendall(p.hello("deaf", 1, TOKEN))
            # empty batches are answered without Redis: acks pile up fast
            blob = b"".join(p.batch("deaf", 1, i, []) for i in range(1, 200001))
            s.settimeout(0.5)
            sent = 0
            t0 = time.time()
            cut = False
            while time.time() - t0 < 20:
                try:
                    if sent < len(blob):
                        sent += s.send(blob[sent:sent + 65536])
                    else:
                        time.sleep(0.1)
                except socket.timeout:
                    pass
                except OSError:
                    cut = True
                    break
                if "does not read its acks" in self.aggr.log():
                    cut = True
                    break
                if sent > len(blob) // 2:
                    good.ship(upto=min(20, good.acked + 1))
            s.close()
            h.check_equal(cut, True, "deaf agent cut off")
            good.ship()
            h.check_equal(redis_hash(self.redis, "slt:{s:slow}:tot"), {"g": 20}, "other agent")
        self.run_case(case)

    def it_shares_one_redis_between_two_aggregators(self):
        def case():
            other = Aggregator(self.tmp, self.redis.url, name="aggr2")
            try:
                other.wait_redis()
                rng = random.Random(6)
                now = minute_now()
                agents = [SimAgent(self.aggr.port if i % 2 else other.port, f"two{i}", 1,
                                   make_batches(rng, ["p", "q"], 40, [now, now - 60]))
                          for i in range(6)]
                run_threads([lambda a=a: a.ship(upto=20) for a in agents])
                # every agent moves to the other aggregator half way
                for a in agents:
                    a.close()
                    a.port = other.port if a.port == self.aggr.port else self.aggr.port
                run_threads([a.ship for a in agents])
                check_truth(self.redis, truth([a.batches for a in agents]))
                h.check_equal(other.term(), 0, "second aggregator exit status")
            finally:
                if other.proc.alive():
                    other.kill9()
        self.run_case(case)


if __name__ == "__main__":
    Ingest().run_all()
