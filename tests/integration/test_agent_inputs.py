"""Inputs as users have them: paths that match nothing are loud, .gz files that arrive in a
glob are read once each."""
import os
import time
import urllib.request

import agent_testlib as L
import slt_harness as H


def metrics_of(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        return r.read().decode()


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


if __name__ == "__main__":
    AgentInputs().run_all()
