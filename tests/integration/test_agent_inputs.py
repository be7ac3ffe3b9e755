"""Inputs as users have them: paths that match nothing are loud, .gz files that arrive in a
glob are read once each."""
import gzip
import os
import time
import urllib.request

import agent_testlib as L
import slt_harness as H


def metrics_of(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        return r.read().decode()


class GzMaker:
    """Makes .gz files of access-log lines in a directory, with the ground truth of one
    LogWriter (its file is a scratch file, emptied after each .gz)."""

    def __init__(self, tmp, dirname="in"):
        self.dir = tmp.join("logs", dirname)
        os.makedirs(self.dir, exist_ok=True)
        self.w = L.LogWriter(tmp.join("scratch.log"))

    def data(self, lines):
        self.w.write(lines)
        with open(self.w.path, "rb") as f:
            raw = f.read()
        open(self.w.path, "w").close()
        return gzip.compress(raw)

    def put(self, name, lines):
        path = os.path.join(self.dir, name)
        with open(path + ".tmp", "wb") as f:
            f.write(self.data(lines))
        os.rename(path + ".tmp", path)
        return path


class AgentInputs(L.AgentCase):
    prefix = "slt-inputs-"

    def it_warns_of_paths_that_match_nothing_at_start_on_sighup_and_in_status(self):
        self.setup()
        try:
            hp = H.free_port()
            missing = self.tmp.join("logs", "nginx", "acces.log")
            glob_none = self.tmp.join("logs", "*.lgo")
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path, missing, glob_none],
                                 extra_agent="  status_listen: 127.0.0.1:%d\n"
                                             "  unmatched_after: 1s\n" % hp)
            a = L.Agent(self.tmp, cfg).start()
            a.wait_started()
            H.wait_for(lambda: "matches no file" in a.output(), what="a warning")
            out = a.output()
            for p in (missing, glob_none):
                if "warn agent: input 'web': path '%s' matches no file" % p not in out:
                    raise AssertionError("no warning for %s in:\n%s" % (p, out))
            if "path '%s' matches no file" % self.writer.path in out:
                raise AssertionError("a warning for a path that matches a file")
            st = H.wait_for(a.status, what="status")
            H.check_equal(st["inputs"][0]["unmatched_paths"], [missing, glob_none],
                          "unmatched paths in --status")
            H.wait_port(hp)
            m = metrics_of(hp)
            for want in ('slitail_agent_input_unmatched_paths{input="web"} 2',
                         'slitail_agent_input_unmatched{input="web"} 0'):
                if want not in m:
                    raise AssertionError("%s not in /metrics" % want)
            # the live file goes away: after unmatched_after the input is reported
            os.unlink(self.writer.path)
            H.wait_for(lambda: 'slitail_agent_input_unmatched{input="web"} 1' in metrics_of(hp),
                       timeout=20, what="input_unmatched 1 in /metrics")
            # SIGHUP logs the warnings again; a file that appears clears the report
            n = a.output().count("matches no file")
            a.signal(L.SIGHUP)
            H.wait_for(lambda: a.output().count("matches no file") >= n + 3,
                       what="warnings again after SIGHUP")
            with open(glob_none.replace("*", "x"), "w") as f:
                f.write("")
            H.wait_for(lambda: 'slitail_agent_input_unmatched{input="web"} 0' in metrics_of(hp)
                       and 'slitail_agent_input_unmatched_paths{input="web"} 2' in
                       metrics_of(hp), timeout=20, what="input_unmatched back to 0")
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()

    def it_reads_each_arriving_gz_file_once_in_name_order(self):
        self.setup()
        try:
            g = GzMaker(self.tmp)
            g.put("elb-0001.log.gz", 300)
            g.put("elb-0002.log.gz", 200)
            # a rotated sibling of a plain file of the input is the tailer's (backfilled with
            # read_from: beginning), not an arrival too: read once
            self.writer.write(50)
            with open(self.writer.path + ".2.gz", "wb") as f:
                f.write(gzip.compress(b"an old line that does not parse\n"))
            self.writer.lines += 1
            self.writer.unparsed += 1
            cfg = L.agent_config(self.tmp, self.port,
                                 [self.writer.path, os.path.join(g.dir, "*.gz")])
            a = L.Agent(self.tmp, cfg).start()
            L.wait_exact(self.fake, [g.w, self.writer])
            g.put("elb-0003.log.gz", 250)
            L.wait_exact(self.fake, [g.w, self.writer])
            # an incomplete file (its first half only): lines so far are read, never again
            data = g.data(400)
            half = os.path.join(g.dir, "elb-0004.log.gz")
            with open(half, "wb") as f:
                f.write(data[:len(data) // 2])
            H.wait_for(lambda: (a.status() or {}).get("inputs", [{}])[0].get("gz", {})
                       .get("current") == half, what="the incomplete file being read")
            time.sleep(0.5)
            # a file after it waits for it (name order)
            g.put("elb-0005.log.gz", 100)
            a.kill9()
            a.start()
            with open(half, "ab") as f:
                f.write(data[len(data) // 2:])
            L.wait_exact(self.fake, [g.w, self.writer])
            # the status is written periodically: wait for it to catch up with the counts
            want = os.path.join(g.dir, "elb-0005.log.gz")
            st = H.wait_for(lambda: (lambda s: s if s and s["inputs"][0]["gz"].get("last") == want
                                     else None)(a.status()), what="status naming the last file")
            gz = st["inputs"][0]["gz"]
            H.check_equal(gz["last"], want, "last file read")
            H.check_equal(gz["errors"], 0, "errors")
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()

    def it_counts_a_gz_killed_mid_file_exactly_once(self):
        self.setup()
        try:
            g = GzMaker(self.tmp)
            g.put("a-1.gz", 60000)
            g.put("a-2.gz", 60000)
            cfg = L.agent_config(self.tmp, self.port, [os.path.join(g.dir, "*.gz")])
            a = L.Agent(self.tmp, cfg).start()
            for _ in range(3):
                H.wait_for(lambda: L.input_totals(self.fake.totals())[0] > 0, timeout=20,
                           what="some lines counted")
                a.kill9()
                a.start()
                time.sleep(0.15)
            L.wait_exact(self.fake, [g.w], timeout=60)
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()

    def it_takes_a_gz_unchanged_for_gz_settle_as_complete(self):
        self.setup()
        try:
            g = GzMaker(self.tmp)
            data = g.data(300)
            path = os.path.join(g.dir, "x-1.gz")
            with open(path, "wb") as f:
                f.write(data[:-8])  # no trailer: the last line and the trailer are missing
            cfg = L.agent_config(self.tmp, self.port, [os.path.join(g.dir, "*.gz")])
            with open(cfg, "a") as f:
                pass
            text = open(cfg).read().replace("read_from: beginning }",
                                            "read_from: beginning, gz_settle: 1s }")
            with open(cfg, "w") as f:
                f.write(text)
            a = L.Agent(self.tmp, cfg).start()
            st = H.wait_for(lambda: (lambda s: s if s and s["inputs"][0].get("gz", {})
                                     .get("errors") == 1 else None)(a.status()), timeout=20,
                            what="the truncated file given up")
            H.check_equal(st["inputs"][0]["gz"]["last"], path, "last file")
            if "taken as complete (truncated)" not in a.output():
                raise AssertionError("no warning for the truncated file")
            lines = L.input_totals(self.fake.totals())[0]
            if not 0 < lines <= 300:
                raise AssertionError("lines counted from the truncated file: %d" % lines)
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()


if __name__ == "__main__":
    AgentInputs().run_all()
