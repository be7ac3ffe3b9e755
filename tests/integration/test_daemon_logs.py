"""Daemon log lines suit journald: when stderr is the journal ($JOURNAL_STREAM names stderr's
device:inode, as systemd sets it) every line starts with its syslog priority, so
`journalctl -p warning` filters; otherwise with a UTC timestamp. The aggregator's warning that
Redis cannot be reached, both ways."""
import os
import re

import slt_harness as h

PRIO = {"error": "3", "warn": "4", "info": "6", "debug": "7"}


class DaemonLogs(h.TestCase):
    def run_aggregator(self, journal):
        tmp = h.TempDir("slt-logs-")
        try:
            port = h.free_port()  # no Redis there: a warning is logged
            cfg = tmp.write("aggr.yaml", (
                "aggregator:\n"
                f"  listen: 127.0.0.1:{h.free_port()}\n"
                f"  http_listen: 127.0.0.1:{h.free_port()}\n"
                f"  redis: redis://127.0.0.1:{port}/0\n"
                f"  token_file: {tmp.write('token', 'tok')}\n"))
            logpath = tmp.join("aggr.log")
            open(logpath, "w").close()
            env = dict(os.environ)
            env.pop("JOURNAL_STREAM", None)
            if journal:
                st = os.stat(logpath)  # the Proc's stdout/stderr is this very file
                env["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
            aggr = h.Proc([h.binary("slitail-aggregator"), "-c", cfg], logpath, env=env)
            h.wait_for(lambda: "cannot connect" in aggr.output(), what="the redis warning")
            h.check_equal(aggr.term(), 0, "exit status")
            return [l for l in aggr.output().splitlines() if l.strip()]
        finally:
            tmp.cleanup()

    def it_prefixes_syslog_priorities_on_the_journal(self):
        lines = self.run_aggregator(journal=True)
        for line in lines:
            m = re.match(r"<(\d)>(error|warn|info|debug) ", line)
            if not m and not ("Sanitizer" in line or "runtime error" in line):
                raise AssertionError("no priority prefix: %r" % line)
            if m:
                h.check_equal(m.group(1), PRIO[m.group(2)], "priority of " + line)
        if not any(l.startswith("<4>warn ") and "cannot connect" in l for l in lines):
            raise AssertionError("no <4> warning in %r" % lines)

    def it_writes_utc_timestamps_elsewhere(self):
        lines = self.run_aggregator(journal=False)
        ts = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (error|warn|info|debug) ")
        for line in lines:
            if not ts.match(line):
                raise AssertionError("no timestamp: %r" % line)


if __name__ == "__main__":
    DaemonLogs().run_all()
