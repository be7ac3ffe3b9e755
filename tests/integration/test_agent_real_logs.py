"""Real third-party access logs (shared/data/real, see its SOURCES.md) through the agent: the
counts shipped match the counts published for those files, through a kill -9 and with a
rotated .gz sibling backfilled."""
import os
import shutil
import time

import agent_testlib as L
import slt_harness as H
from fake_aggregator import FakeAggregator

AVAIL = """slis:
  - name: availability
    input: web
    exclude: { status: 4xx }
    bad: { status: 5xx }
"""


def sums(fake):
    tot = fake.totals()
    g = b = e = 0
    for (kind, name, _m), v in tot.items():
        if kind == 0 and name == "availability":
            g, b, e = g + v[0], b + v[1], e + v[2]
    return (g, b, e), L.input_totals(tot)


class AgentRealLogs(H.TestCase):
    def it_counts_the_elastic_apache_sample_and_the_lnav_gz_exactly(self):
        tmp = H.TempDir("slt-agent-real-")
        port = H.free_port()
        fake = FakeAggregator(port, token=L.TOKEN)
        try:
            logs = tmp.join("logs")
            os.makedirs(logs)
            # the current file: 10000 lines; its rotated, gzipped predecessor: 2492 lines
            shutil.copyfile(os.path.join(H.REAL, "elastic-examples-apache", "apache_logs"),
                            os.path.join(logs, "access.log"))
            shutil.copyfile(os.path.join(H.REAL, "lnav-test-logs", "playground-access_log.gz"),
                            os.path.join(logs, "access.log.1.gz"))
            cfg = L.agent_config(tmp, port, [os.path.join(logs, "access.log")], slis=AVAIL)
            with open(cfg) as f:
                text = f.read().replace("format: nginx_timed", "format: nginx_combined")
            with open(cfg, "w") as f:
                f.write(text)
            a = L.Agent(tmp, cfg).start()
            time.sleep(0.15)
            a.kill9()
            a.start()
            # SOURCES.md: apache_logs 200=9126 304=445 404=213 301=164 206=45 500=3 403=2
            # 416=2; playground 200=1373 404=544 403=423 500=152
            want = ((9126 + 445 + 164 + 45 + 1373, 3 + 152, 213 + 2 + 2 + 544 + 423),
                    (12492, 0, 0))
            try:
                H.wait_for(lambda: sums(fake) == want, timeout=30, what="published counts")
            except TimeoutError:
                pass  # check_equal below shows both values
            H.check_equal(sums(fake), want, "availability (good, bad, excluded), input")
            H.check_equal(a.term(), 0, "exit code")
        finally:
            L.kill_all()
            fake.stop()
            tmp.cleanup()


if __name__ == "__main__":
    AgentRealLogs().run_all()
