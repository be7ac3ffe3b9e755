#!/usr/bin/env python3
"""The agent on W3C logs (format w3c): the #Fields: header is kept per tailed file, and a file
the agent starts reading in the middle (read_from: end, or a restart from its checkpoint)
still has its header. Totals are compared with `slitail check` on the same lines.
Data: tests/data/iis/ (real IIS logs, see its SOURCES.md)."""
import json
import os
import time

import agent_testlib as L
import slt_harness as H

IIS = os.path.join(H.SRC, "tests", "data", "iis")
SLIS = """slis:
  - name: availability
    input: web
    exclude: { status: 4xx }
    bad: { status: 5xx }
  - name: latency
    input: web
    exclude: { status: '^[45]' }
    bad: { latency_over: 300ms }
"""
# IIS 7.0's columns: not IIS's default set, so reading them with the defaults gives other
# latencies (sc-bytes where time-taken should be)
HEADER = ("#Software: Microsoft Internet Information Services 7.0\n#Version: 1.0\n"
          "#Date: 2010-08-15 00:39:30\n"
          "#Fields: date time s-sitename s-ip cs-method cs-uri-stem cs-uri-query s-port "
          "cs-username c-ip cs(User-Agent) sc-status sc-substatus sc-win32-status sc-bytes "
          "cs-bytes time-taken\n")


def config(case, paths, read_from):
    text = open(L.agent_config(case.tmp, case.port, paths, read_from=read_from,
                               slis=SLIS)).read().replace("format: nginx_timed", "format: w3c")
    return case.tmp.write("agent.yaml", text)


def check_totals(files):
    """(lines, unparsed, {sli: (good, bad, excluded)}) from slitail check on files."""
    r = H.run([H.binary("slitail"), "check", "--json", "--format", "w3c"] + files)
    H.check_equal(r.returncode, 0, "slitail check (%s)" % r.stderr)
    d = json.loads(r.stdout)
    t = d["total"] if len(files) > 1 else d["files"][0]
    return (t["lines"], t["unparsed"],
            {k: (v["good"], v["bad"], v["excluded"]) for k, v in t["slis"].items()})


def fake_totals(fake):
    tot = fake.totals()
    slis = {}
    for (kind, name, _minute), v in tot.items():
        if kind == 0:
            acc = slis.setdefault(name, [0, 0, 0])
            for i in range(3):
                acc[i] += v[i]
    lines, unparsed, _ = L.input_totals(tot)
    return lines, unparsed, {k: tuple(v) for k, v in slis.items() if v != [0, 0, 0]}


def wait_equal(fake, want, timeout=30):
    def same():
        return fake_totals(fake) == want
    try:
        H.wait_for(same, timeout=timeout, what="agent totals equal to slitail check")
    except Exception:
        raise AssertionError("agent %s, check %s" % (fake_totals(fake), want))


class AgentW3C(L.AgentCase):
    prefix = "slt-w3c-"

    def it_counts_two_iis_files_with_their_own_headers_like_check(self):
        self.setup()
        try:
            d = self.tmp.join("logs", "iis")
            os.makedirs(d)
            files = []
            for name in ("u_ex160110.log", "u_ex100815.log"):
                files.append(os.path.join(d, name))
                with open(os.path.join(IIS, name), "rb") as src, open(files[-1], "wb") as dst:
                    dst.write(src.read())
            want = check_totals(files)
            # 184 lines, 44 requests (28 + 16), the other 140 are header lines
            H.check_equal(want[:2], (184, 140), "check's lines and unparsed")
            a = L.Agent(self.tmp, config(self, [os.path.join(d, "*.log")], "beginning")).start()
            wait_equal(self.fake, want)
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()

    def it_reads_the_header_back_when_it_starts_in_the_middle_of_a_file(self):
        self.setup()
        try:
            path = self.tmp.join("logs", "u_ex100815.log")
            body = [l for l in open(os.path.join(IIS, "u_ex100815.log")).read().splitlines()
                    if not l.startswith("#")]
            # the header and the first 6 records are there before the agent starts (read_from:
            # end skips them); the other 10 come while it runs, then after a kill -9
            with open(path, "w") as f:
                f.write(HEADER + "\n".join(body[:6]) + "\n")
            a = L.Agent(self.tmp, config(self, [path], "end")).start()
            a.wait_started()
            H.wait_for(lambda: (lambda s: s and s["inputs"][0]["files"] and
                                s["inputs"][0]["files"][0]["offset"] == os.path.getsize(path))(
                a.status()), what="the agent at the end of the file")
            with open(path, "a") as f:
                f.write("\n".join(body[6:11]) + "\n")
            expect = self.tmp.write("expect.log", HEADER + "\n".join(body[6:11]) + "\n")
            lines, unparsed, slis = check_totals([expect])
            want = (lines - 4, unparsed - 4, slis)  # the agent never reads the header lines
            wait_equal(self.fake, want)
            # the latencies are IIS 7.0's time-taken, not what the default columns would say
            H.check_equal(sum(slis["latency"]), 5, "5 latency events")
            a.kill9()
            with open(path, "a") as f:
                f.write("\n".join(body[11:]) + "\n")
            a = L.Agent(self.tmp, config(self, [path], "end")).start()
            expect = self.tmp.write("expect.log", HEADER + "\n".join(body[6:]) + "\n")
            lines, unparsed, slis = check_totals([expect])
            wait_equal(self.fake, (lines - 4, unparsed - 4, slis))
            if "#Fields: line at offset" not in open(self.tmp.join("agent.log")).read():
                raise AssertionError("the agent did not say it read the header back")
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()


if __name__ == "__main__":
    raise SystemExit(AgentW3C().run_all())
