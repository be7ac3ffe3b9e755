"""slitail replay, gate and recommend give the same answers from log files (--logs) and from a
running aggregator (--url) that a real agent fed the same files: five hours of traffic with a
20-minute outage three hours ago, which the page-1h tier pages on and resolves."""
import json
import time

import agent_testlib as L
import slt_harness as H

SLOS = """slos:
  - { name: site, sli: availability, objective: 99.9, window: 30d }
"""


def slitail(*args):
    return H.run([H.binary("slitail")] + [str(a) for a in args], timeout=60)


class CliBudget(L.AggrCase):
    prefix = "slt-cli-budget-"

    def write_logs(self, start, end, outage):
        """one request every 2 s over [start, end); 5xx during outage = (from, to)"""
        with open(self.writer.path, "w") as f:
            for t in range(start, end, 2):
                st = 503 if outage[0] <= t < outage[1] else 200
                f.write('10.0.0.1 - - [%s] "GET /api/orders HTTP/1.1" %d 120 "-" "t/1" '
                        '0.010 0.010\n' % (L.clf_time(t), st))
        return (end - start) // 2

    def it_replays_gates_and_recommends_the_same_from_logs_and_the_aggregator(self):
        self.setup()
        try:
            with open(self.acfg, "a") as f:
                f.write(SLOS)
            end = int(time.time()) // 60 * 60 - 60  # every line is in a closed minute
            start = end - 5 * 3600
            outage = (end - 3 * 3600, end - 3 * 3600 + 20 * 60)
            n = self.write_logs(start, end, outage)
            self.start_aggr()
            agent = L.Agent(self.tmp, self.acfg).start()
            url = "http://127.0.0.1:%d" % self.http

            def counted():
                r = slitail("query", "--server", url, "--json", "counts", "availability",
                            "--from", start, "--to", end)
                return r.returncode == 0 and json.loads(r.stdout)["good"] + \
                    json.loads(r.stdout)["bad"] == n
            H.wait_for(counted, timeout=40, what="every line counted by the aggregator")
            agent.term()

            common = ["-c", self.acfg, "--slo", "site", "--json"]
            logs = ["--logs", self.writer.path]
            r1 = slitail("replay", *common, "--from", start, "--to", end, *logs)
            r2 = slitail("replay", *common, "--from", start, "--to", end, "--url", url)
            H.check_equal((r1.returncode, r2.returncode), (0, 0), f"exit ({r1.stderr}{r2.stderr})")
            a1, a2 = json.loads(r1.stdout), json.loads(r2.stdout)
            H.check_equal(a1["alerts"], a2["alerts"], "replay from logs and from the aggregator")
            pages = [a for a in a1["alerts"] if a["name"] == "page-1h"]
            H.check_equal(len(pages), 1, f"one page-1h ({a1['alerts']!r})")
            p = pages[0]
            H.check_equal((p["severity"], p["windows"]), ("page", "1h/5m"), "tier")
            # 100% errors: 52 s of them page at the next minute end; the 5m window lets go
            # once less than 4.3 s of errors are in it
            if not outage[0] < p["fired"] <= outage[0] + 120:
                raise AssertionError(f"fired {p['fired'] - outage[0]} s into the outage")
            if not outage[1] < p["resolved"] <= outage[1] + 6 * 60:
                raise AssertionError(f"resolved {p['resolved'] - outage[1]} s after it")
            for a in a1["alerts"]:
                assert set(a) == {"name", "severity", "windows", "fired", "resolved"}, a

            g1 = slitail("gate", *common, *logs)
            g2 = slitail("gate", *common, "--url", url)
            j1, j2 = json.loads(g1.stdout), json.loads(g2.stdout)
            # 600 bad of 9000: far over a 30-day budget of 99.9%
            H.check_equal((g1.returncode, g2.returncode), (1, 1), "gate refuses")
            H.check_equal((j1["budget_status"], j2["budget_status"]), ("exhausted",) * 2,
                          "status")
            assert abs(j1["error_budget_remaining"] - j2["error_budget_remaining"]) < 1e-9, \
                (j1, j2)
            H.check_equal(j1["allowed"], False, "allowed")
            g3 = slitail("gate", "-c", self.acfg, "--slo", "site", "--url", url,
                         "--min-budget", "0%")
            H.check_equal(g3.returncode, 1, "exhausted is under 0% too")
            if "release refused" not in g3.stdout:
                raise AssertionError(g3.stdout)
            bad = slitail("gate", "-c", self.acfg, "--slo", "nope", "--url", url)
            H.check_equal(bad.returncode, 2, "unknown SLO")

            at = end + 1800
            c1 = slitail("recommend", *common, "--at", at, *logs)
            c2 = slitail("recommend", *common, "--at", at, "--url", url)
            H.check_equal((c1.returncode, c2.returncode), (0, 0), "recommend exit")
            k1, k2 = json.loads(c1.stdout), json.loads(c2.stdout)
            H.check_equal(k1, k2, "recommend from logs and from the aggregator")
            H.check_equal((k1["good"], k1["bad"]), (n - 600, 600), "28-day counts")
            # 6.67% errors: 90% is met spending 67% of its budget, 95% would take 133%
            H.check_equal(k1["recommended"], 90.0, "recommended objective")
            assert abs(k1["exact"] - 100 * (1 - (600 / n) / 0.75)) < 1e-9, k1
        finally:
            self.teardown()


if __name__ == "__main__":
    CliBudget().run_all()
