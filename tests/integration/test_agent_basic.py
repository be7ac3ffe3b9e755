"""The agent against a protocol-speaking test receiver: exact counts, status, signals."""
import os
import time

import agent_testlib as L
import slt_harness as H


class AgentBasic(L.AgentCase):
    prefix = "slt-agent-"

    def it_ships_exact_counts_of_an_existing_and_a_growing_file(self):
        self.setup()
        try:
            self.writer.write(2000)
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path])
            a = L.Agent(self.tmp, cfg).start()
            L.wait_exact(self.fake, [self.writer])
            for _ in range(10):
                self.writer.write(300)
                time.sleep(0.05)
            L.wait_exact(self.fake, [self.writer])
            H.check_equal(a.term(), 0, "exit code after SIGTERM")
            out = a.output()
            if L.TOKEN in out:
                raise AssertionError("the token appears in the agent's log")
            if L.TOKEN not in self.fake.seen_tokens:
                raise AssertionError("the agent did not send the token from token_file")
        finally:
            self.teardown()

    def it_shows_files_spool_and_connection_in_status(self):
        self.setup()
        try:
            self.writer.write(500)
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path])
            a = L.Agent(self.tmp, cfg).start()
            L.wait_exact(self.fake, [self.writer])
            st = H.wait_for(lambda: (lambda s: s if s and s["connection"]["state"] ==
                                     "connected" and s["last_acked_seq"] > 0 else None)(
                a.status()), what="status with a connection")
            f = st["inputs"][0]["files"][0]
            H.check_equal(f["path"], self.writer.path, "file path")
            H.check_equal(f["offset"], os.path.getsize(self.writer.path), "offset")
            H.check_equal(f["lag_bytes"], 0, "lag")
            H.check_equal(st["inputs"][0]["unparsed"], self.writer.unparsed, "unparsed")
            H.check_equal(f["unparsed"], self.writer.unparsed, "unparsed of the file")
            for key in ("lag_seconds", "lines_per_sec", "truncations", "size"):
                if key not in f:
                    raise AssertionError("status of a file lacks %s" % key)
            H.check_equal(st["backpressure"], False, "backpressure")
            H.check_equal(a.term(), 0, "exit code")
            r = H.run([H.binary("slitail-agent"), "-c", cfg, "--status"])
            H.check_equal(r.returncode, 3, "--status of a stopped agent")
        finally:
            self.teardown()

    def it_serves_status_and_prometheus_metrics_on_loopback(self):
        self.setup()
        try:
            import urllib.request
            hp = H.free_port()
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path],
                                 extra_agent="  status_listen: 127.0.0.1:%d\n" % hp)
            self.writer.write(250)
            a = L.Agent(self.tmp, cfg).start()
            L.wait_exact(self.fake, [self.writer])
            H.wait_port(hp)

            def get(path):
                with urllib.request.urlopen("http://127.0.0.1:%d%s" % (hp, path),
                                            timeout=5) as r:
                    return r.read().decode()
            metrics = H.wait_for(lambda: (lambda m: m if 'slitail_agent_input_lines_total'
                                          '{input="web"} 250' in m else None)(get("/metrics")),
                                 what="lines in /metrics")
            check_prometheus_text(metrics)
            for name in ("slitail_agent_spool_bytes", "slitail_agent_connected 1",
                         "slitail_agent_file_lag_bytes", "slitail_agent_backpressure 0"):
                if name not in metrics:
                    raise AssertionError("%s missing from /metrics" % name)
            import json
            import socket
            st = json.loads(get("/status"))
            H.check_equal(st["agent_id"], "web-1", "agent id")
            # a client that never sends its request is dropped after 5 s
            slow = socket.create_connection(("127.0.0.1", hp))
            slow.settimeout(9)
            t0 = time.time()
            H.check_equal(slow.recv(100), b"", "a silent client is closed")
            if time.time() - t0 < 3:
                raise AssertionError("silent client closed too early")
            slow.close()
            # and one that is still connected does not hold up the shutdown
            idle = socket.create_connection(("127.0.0.1", hp))
            time.sleep(0.2)
            t0 = time.time()
            H.check_equal(a.term(), 0, "exit code")
            if time.time() - t0 > 3:
                raise AssertionError("shutdown waited for an idle status client")
            idle.close()
        finally:
            self.teardown()

    def it_refuses_a_status_listen_that_is_not_loopback(self):
        self.setup()
        try:
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path],
                                 extra_agent="  status_listen: 0.0.0.0:%d\n" % H.free_port())
            a = L.Agent(self.tmp, cfg).start()
            H.wait_for(lambda: not a.alive(), what="agent exit")
            H.check_equal(a.proc.p.returncode, 1, "exit code")
            if "not a loopback address" not in a.output():
                raise AssertionError("no clear error: %r" % a.output())
        finally:
            self.teardown()

    def it_backs_off_on_a_wrong_token_without_logging_it(self):
        self.setup()
        try:
            self.fake.token = "another-token"
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path],
                                 extra_agent="  ack_timeout: 1s\n")
            self.writer.write(100)
            a = L.Agent(self.tmp, cfg).start()
            H.wait_for(lambda: "authentication failed" in a.output(), what="auth error logged")
            time.sleep(1.0)
            if not a.alive():
                raise AssertionError("agent died on a refused token")
            if self.fake.stats["auth_failures"] > 3:
                raise AssertionError("no backoff: %d attempts in 1 s"
                                     % self.fake.stats["auth_failures"])
            if L.TOKEN in a.output():
                raise AssertionError("the token appears in the agent's log")
            self.fake.token = L.TOKEN
            H.check_equal(a.term(timeout=20), 0, "exit code")
        finally:
            self.teardown()

    def it_refuses_to_start_without_its_token_file(self):
        self.setup()
        try:
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path])
            os.unlink(self.tmp.join("token"))
            a = L.Agent(self.tmp, cfg).start()
            H.wait_for(lambda: not a.alive(), what="agent exit")
            H.check_equal(a.proc.p.returncode, 1, "exit code")
            if "cannot read token_file" not in a.output():
                raise AssertionError("no clear error: %r" % a.output())
        finally:
            self.teardown()

    def it_refuses_a_second_agent_on_the_same_state_dir(self):
        self.setup()
        try:
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path])
            a = L.Agent(self.tmp, cfg).start()
            H.wait_for(lambda: os.path.exists(self.tmp.join("state", "status.json")),
                       what="first agent up")
            b = L.Agent(self.tmp, cfg)
            b.adopt(H.Proc([H.binary("slitail-agent"), "-c", cfg], self.tmp.join("b.log")))
            H.wait_for(lambda: not b.alive(), what="second agent exit")
            H.check_equal(b.proc.p.returncode, 1, "exit code of the second agent")
            if "another agent is running" not in b.output():
                raise AssertionError("no clear error: %r" % b.output())
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()

    def it_refuses_an_agent_id_with_braces(self):
        self.setup()
        try:
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path])
            with open(cfg) as f:
                text = f.read().replace("id: web-1", "id: 'web{1}'")
            with open(cfg, "w") as f:
                f.write(text)
            r = H.run([H.binary("slitail-agent"), "-c", cfg], timeout=10)
            H.check_equal(r.returncode, 1, "exit code")
            if "agent.id" not in r.stderr:
                raise AssertionError("no clear error: %r" % r.stderr)
        finally:
            self.teardown()


def check_prometheus_text(text):
    """Every sample has a TYPE before it and the samples of a family are together."""
    typed, done, current = set(), set(), None
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if not line or line.startswith("#"):
            continue
        name = line.split("{")[0].split(" ")[0]
        if name not in typed:
            raise AssertionError("sample before its TYPE: %r" % line)
        if name != current:
            if name in done:
                raise AssertionError("family %s is split: %r" % (name, line))
            if current:
                done.add(current)
            current = name
        float(line.rsplit(" ", 1)[1])


if __name__ == "__main__":
    AgentBasic().run_all()
