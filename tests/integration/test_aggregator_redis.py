"""The aggregator and its Redis: unix sockets, ACL users and databases, Redis down or stalled
(nothing acknowledged, reconnect, recover), config reload and clean shutdown."""
import os
import signal
import subprocess
import time

import slt_harness as h
import slt_proto as p
from slt_aggr import TOKEN, Aggregator, SimAgent, minute_now, redis_hash


class CustomRedis:
    """A redis-server with extra arguments (unix socket, ACL user)."""

    def __init__(self, tmp, *extra):
        self.port = h.free_port()
        self.dir = tmp.join(f"redis-{self.port}")
        os.makedirs(self.dir, exist_ok=True)
        self.sock = os.path.join(self.dir, "redis.sock")
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", self.dir, "--save", "", "--unixsocket", self.sock,
                "--unixsocketperm", "700"] + list(extra)
        self.proc = h.Proc(argv, os.path.join(self.dir, "redis.log"))
        h.wait_port(self.port)

    def cli(self, *args, auth=()):
        r = subprocess.run(["redis-cli", "-s", self.sock, "--raw"] + list(auth) + list(args),
                           capture_output=True, text=True)
        return r.stdout.strip()

    def stop(self):
        self.proc.term()


def one_batch(port, agent, name, good, seq=1, token=TOKEN):
    c = p.ProtoClient("127.0.0.1", port, token, agent, 1)
    w = c.hello()
    if w["t"] != p.WELCOME:
        raise AssertionError(f"no welcome: {w!r}")
    c.send_batch(seq, [p.series(name, [(minute_now(), good, 0, 0)])])
    a = c.recv_ack()
    c.close()
    return a


class RedisSide(h.TestCase):
    def it_uses_a_unix_socket_acl_user_and_database(self):
        tmp = h.TempDir()
        r = CustomRedis(tmp, "--user", "default", "off",
                        "--user", "ingest", "on", ">pw%x", "~*", "+@all")
        try:
            url = f"unix://ingest:pw%25x@{r.sock}?db=4"
            aggr = Aggregator(tmp, url)
            aggr.wait_redis()
            a = one_batch(aggr.port, "u1", "sock", 3)
            h.check_equal(a["status"], p.APPLIED, "batch over a unix socket")
            auth = ("--user", "ingest", "--pass", "pw%x")
            h.check_equal(r.cli("-n", "4", "HGET", "slt:{s:sock}:tot", "g", auth=auth), "3",
                          "counter in db 4")
            h.check_equal(r.cli("-n", "0", "EXISTS", "slt:{s:sock}:tot", auth=auth), "0",
                          "nothing in db 0")
            h.check_equal(aggr.term(), 0, "exit status")
            h.check_equal("pw%x" in aggr.log() or "pw%25x" in aggr.log(), False,
                          "password in the log")
        finally:
            r.stop()
            tmp.cleanup()

    def it_refuses_a_wrong_redis_password_and_says_so(self):
        tmp = h.TempDir()
        r = CustomRedis(tmp, "--requirepass", "right")
        try:
            aggr = Aggregator(tmp, f"redis://:wrong@127.0.0.1:{r.port}/0")
            h.wait_for(lambda: "AUTH failed" in aggr.log(), what="AUTH failure logged")
            a = one_batch(aggr.port, "w1", "pw", 1)
            h.check_equal(a["status"], p.RETRY, "batch while redis refuses us")
            h.check_equal(aggr.term(), 0, "exit status")
        finally:
            r.stop()
            tmp.cleanup()

    def it_answers_retry_while_redis_is_down_and_recovers(self):
        tmp = h.TempDir()
        port = h.free_port()
        try:
            aggr = Aggregator(tmp, f"redis://127.0.0.1:{port}/0")
            a = one_batch(aggr.port, "d1", "down", 1)
            h.check_equal(a["status"], p.RETRY, "batch with no redis")
            redis = h.Redis(tmp, port=port)
            aggr.wait_redis()
            a = one_batch(aggr.port, "d1", "down", 2, seq=1)
            h.check_equal(a["status"], p.APPLIED, "batch once redis is up")
            h.check_equal(redis_hash(redis, "slt:{s:down}:tot"), {"g": 2}, "tot")
            h.check_equal("cannot connect to '127.0.0.1" in aggr.log(), True, "logged")
            h.check_equal(aggr.term(), 0, "exit status")
            redis.stop()
        finally:
            tmp.cleanup()

    def it_times_out_a_stalled_redis_and_acknowledges_nothing(self):
        tmp = h.TempDir()
        redis = h.Redis(tmp)
        try:
            aggr = Aggregator(tmp, redis.url, extra="  redis_timeout: 300ms\n")
            aggr.wait_redis()
            agent = SimAgent(aggr.port, "st", 1,
                             [[p.series("stall", [(minute_now(), 1, 0, 0)])] for _ in range(30)])
            agent.ship(upto=10)
            os.kill(redis.proc.p.pid, signal.SIGSTOP)
            t0 = time.time()
            c = p.ProtoClient("127.0.0.1", aggr.port, TOKEN, "st", 1)
            c.hello()
            c.send_batch(11, agent.batches[10])
            a = c.recv_ack()
            took = time.time() - t0
            c.close()
            h.check_equal(a["status"], p.RETRY, "batch while redis is stalled")
            h.check_equal(took < 2.0, True, f"answered after {took:.2f}s")
            os.kill(redis.proc.p.pid, signal.SIGCONT)
            agent.ship()
            h.check_equal(redis_hash(redis, "slt:{s:stall}:tot"), {"g": 30}, "tot exact")
            h.check_equal("apply timed out" in aggr.log(), True, "timeout logged")
            h.check_equal(aggr.term(), 0, "exit status")
        finally:
            try:
                os.kill(redis.proc.p.pid, signal.SIGCONT)
            except OSError:
                pass
            redis.stop()
            tmp.cleanup()

    def it_reloads_the_token_on_sighup_and_keeps_a_bad_config_out(self):
        tmp = h.TempDir()
        redis = h.Redis(tmp)
        try:
            aggr = Aggregator(tmp, redis.url)
            aggr.wait_redis()
            h.check_equal(one_batch(aggr.port, "h1", "hup", 1)["status"], p.APPLIED, "before")
            with open(aggr.token_path, "w") as f:
                f.write("new-token\n")
            aggr.proc.p.send_signal(signal.SIGHUP)
            h.wait_for(lambda: "config reloaded" in aggr.log(), what="reload logged")
            h.check_equal(one_batch(aggr.port, "h1", "hup", 1, seq=2, token="new-token")["status"],
                          p.APPLIED, "new token")
            # a broken config is refused and the running one kept
            with open(aggr.config) as f:
                good = f.read()
            with open(aggr.config, "w") as f:
                f.write(good + "  max_agents: lots\n")
            aggr.proc.p.send_signal(signal.SIGHUP)
            h.wait_for(lambda: "reload refused" in aggr.log(), what="refusal logged")
            h.check_equal(one_batch(aggr.port, "h1", "hup", 1, seq=3, token="new-token")["status"],
                          p.APPLIED, "still running with the old config")
            h.check_equal(aggr.term(), 0, "exit status")
        finally:
            redis.stop()
            tmp.cleanup()

    def it_checks_a_config_without_starting(self):
        tmp = h.TempDir()
        try:
            tok = tmp.write("tok", "x\n")
            cfg = tmp.write("a.yaml", "aggregator:\n  redis: rediss://h:1\n"
                                      f"  token_file: {tok}\n")
            r = h.run([h.binary("slitail-aggregator"), "-c", cfg, "--check"])
            h.check_equal(r.returncode, 2, "exit status for rediss")
            h.check_equal("a.yaml:2:10:" in r.stderr and "TLS is not supported" in r.stderr, True, r.stderr)
            cfg = tmp.write("b.yaml", "aggregator:\n  redis: unix:///run/r.sock?db=2\n"
                                      f"  token_file: {tok}\n")
            r = h.run([h.binary("slitail-aggregator"), "-c", cfg, "--check"])
            h.check_equal(r.returncode, 0, "exit status " + r.stderr)
            h.check_equal("redis unix:/run/r.sock/2" in r.stdout, True, r.stdout)
            cfg = tmp.write("c.yaml", "aggregator:\n  token_file: /nonexistent/tok\n")
            r = h.run([h.binary("slitail-aggregator"), "-c", cfg, "--check"])
            h.check_equal(r.returncode, 2, "missing token file")
            h.check_equal("cannot open token file '/nonexistent/tok'" in r.stderr, True,
                          r.stderr)
        finally:
            tmp.cleanup()

    def it_refuses_agents_over_max_agents(self):
        tmp = h.TempDir()
        redis = h.Redis(tmp)
        try:
            aggr = Aggregator(tmp, redis.url, extra="  max_agents: 2\n")
            aggr.wait_redis()
            time.sleep(0.3)  # the port probe's connection is gone
            c1 = p.ProtoClient("127.0.0.1", aggr.port, TOKEN, "m1", 1)
            c2 = p.ProtoClient("127.0.0.1", aggr.port, TOKEN, "m2", 1)
            h.check_equal(c1.hello()["t"], p.WELCOME, "first")
            h.check_equal(c2.hello()["t"], p.WELCOME, "second")
            c3 = p.ProtoClient("127.0.0.1", aggr.port, TOKEN, "m3", 1)
            h.check_equal(c3.recv(), {"t": p.ERROR, "msg": "too many agents"}, "third")
            c1.close()
            time.sleep(0.2)
            c4 = p.ProtoClient("127.0.0.1", aggr.port, TOKEN, "m4", 1)
            h.check_equal(c4.hello()["t"], p.WELCOME, "after one left")
            for c in (c2, c3, c4):
                c.close()
            h.check_equal(aggr.term(), 0, "exit status")
        finally:
            redis.stop()
            tmp.cleanup()

    def it_answers_an_in_flight_batch_before_shutting_down(self):
        """SIGTERM while Redis holds an apply: the batch gets RETRY within redis_timeout, then
        the aggregator exits 0 (every handle closed)."""
        tmp = h.TempDir()
        redis = h.Redis(tmp)
        try:
            aggr = Aggregator(tmp, redis.url, extra="  redis_timeout: 1s\n")
            aggr.wait_redis()
            c = p.ProtoClient("127.0.0.1", aggr.port, TOKEN, "inflight", 1)
            c.hello()
            os.kill(redis.proc.p.pid, signal.SIGSTOP)
            c.send_batch(1, [p.series("fl", [(minute_now(), 1, 0, 0)])])
            time.sleep(0.2)
            t0 = time.time()
            aggr.proc.p.send_signal(signal.SIGTERM)
            a = c.recv_ack()
            h.check_equal(a["status"], p.RETRY, "in-flight batch at shutdown")
            h.check_equal(c.closed(timeout=5), True, "closed after the answer")
            h.check_equal(aggr.proc.p.wait(timeout=10), 0, "exit status")
            h.check_equal(time.time() - t0 < 5, True, f"stopped after {time.time() - t0:.1f}s")
        finally:
            try:
                os.kill(redis.proc.p.pid, signal.SIGCONT)
            except OSError:
                pass
            redis.stop()
            tmp.cleanup()

    def it_shuts_down_cleanly_with_agents_connected(self):
        tmp = h.TempDir()
        redis = h.Redis(tmp)
        try:
            aggr = Aggregator(tmp, redis.url)
            aggr.wait_redis()
            clients = []
            for i in range(20):
                c = p.ProtoClient("127.0.0.1", aggr.port, TOKEN, f"sd{i}", 1)
                c.hello()
                c.send_batch(1, [p.series("sd", [(minute_now(), 1, 0, 0)])])
                clients.append(c)
            for c in clients:
                h.check_equal(c.recv_ack()["status"], p.APPLIED, "ack before shutdown")
            t0 = time.time()
            h.check_equal(aggr.term(), 0, "exit status")
            h.check_equal(time.time() - t0 < 5, True, "quick shutdown")
            for c in clients:
                h.check_equal(c.closed(timeout=2), True, "client closed by shutdown")
            h.check_equal("stopped" in aggr.log(), True, "stopped logged")
        finally:
            redis.stop()
            tmp.cleanup()


if __name__ == "__main__":
    RedisSide().run_all()
