"""/metrics of both daemons, a real agent shipping to a real aggregator on a private Redis:
`promtool check metrics` (Debian's prometheus) finds nothing to say, both carry
slitail_build_info with the version and git revision that --version prints, and every metric
family is listed in the docs with its meaning."""
import glob
import os
import re
import shutil
import subprocess
import urllib.request

import agent_testlib as L
import slt_harness as H

PROMTOOL = shutil.which("promtool")
SLOS = ("slos:\n"
        "  - { name: avail-99, sli: availability, objective: 99, window: 1d }\n")


def get(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
        return r.read().decode()


def families(text):
    return sorted(set(re.findall(r"^# TYPE (\S+) ", text, re.M)))


def documented():
    docs = ""
    for p in glob.glob(os.path.join(H.SRC, "docs", "*.md")):
        with open(p) as f:
            docs += f.read()
    return docs


class Metrics(L.AggrCase):
    prefix = "slt-metrics-"

    def it_both_daemons_metrics_pass_promtool_and_carry_build_info(self):
        self.setup(extra_agent="  status_listen: 127.0.0.1:%d\n" % H.free_port())
        try:
            with open(self.acfg, "a") as f:
                f.write(SLOS)
            sport = int(re.search(r"status_listen: 127.0.0.1:(\d+)",
                                  open(self.acfg).read()).group(1))
            self.writer.write(300)
            self.start_aggr()
            a = L.Agent(self.tmp, self.acfg).start()
            self.wait_redis_exact()
            H.wait_port(sport)
            H.wait_port(self.http)
            version = H.run([H.binary("slitail-agent"), "--version"]).stdout.split()
            check_version = H.run([H.binary("slitail-aggregator"), "--version"]).stdout.split()
            H.check_equal(version[1:], check_version[1:], "both daemons are one build")
            rev = version[3].rstrip(")")
            docs = documented()
            undocumented = []
            for name, port in (("agent", sport), ("aggregator", self.http)):
                text = H.wait_for(lambda: (lambda m: m if "slitail_build_info" in m else None)(
                    get(port, "/metrics")), what=name + " /metrics")
                if os.environ.get("SLT_METRICS_DUMP"):  # to write the docs from
                    with open(os.path.join(os.environ["SLT_METRICS_DUMP"], name), "w") as f:
                        f.write(text)
                want = 'slitail_build_info{version="%s",revision="%s"} 1' % (version[1], rev)
                if want not in text:
                    raise AssertionError("%s: no '%s' in /metrics" % (name, want))
                if PROMTOOL:
                    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text,
                                       capture_output=True, text=True)
                    if r.returncode != 0 or r.stdout.strip() or r.stderr.strip():
                        raise AssertionError("promtool on the %s's /metrics:\n%s%s"
                                             % (name, r.stdout, r.stderr))
                else:
                    print("promtool missing: apt-get install prometheus")
                undocumented += [f for f in families(text) if "`%s`" % f not in docs]
            if undocumented:
                raise AssertionError("metrics not in docs/: %s" % undocumented)
            H.check_equal(a.term(), 0, "agent exit")
        finally:
            self.teardown()


if __name__ == "__main__":
    Metrics().run_all()
