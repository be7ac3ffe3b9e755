"""Agent and aggregator over TLS with certificates the openssl CLI makes at test time: exact
totals over mutual TLS through kill -9 of either side and a log rotation, every failure case
(plaintext client, unknown CA, expired certificate, no client certificate, wrong name, an agent
id its certificate does not carry) with a clear line on both sides and a counter, and
certificate rotation by SIGHUP under load."""
import os
import re
import signal
import socket
import ssl
import time
import urllib.request

import agent_testlib as L
import certs
import slt_harness as H


def metric(text, name, labels=""):
    """The value of one sample of Prometheus text (0 when absent)."""
    m = re.search(r"^%s%s (\S+)$" % (re.escape(name), re.escape(labels)), text, re.M)
    return float(m.group(1)) if m else 0.0


class TlsCase(L.AggrCase):
    prefix = "slt-tls-"

    def setup_tls(self, agent_tls, aggr_tls, agent_id="web-1", extra_aggr=""):
        """A config whose agent and aggregator sections carry these tls maps ("~": none)."""
        self.setup()
        with open(self.acfg) as f:
            text = f.read()
        text = text.replace("  id: web-1\n", "  id: %s\n  tls: %s\n" % (agent_id, agent_tls), 1)
        # the aggregator's section comes last
        text += "  tls: %s\n%s" % (aggr_tls, extra_aggr)
        with open(self.acfg, "w") as f:
            f.write(text)

    def metrics(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.http, timeout=5) as r:
            return r.read().decode()

    def wait_log(self, proc, pattern, what, timeout=15):
        H.wait_for(lambda: re.search(pattern, proc.output()) is not None, timeout=timeout,
                   what=what)

    def make_pki(self):
        self.pki = H.TempDir(self.prefix + "pki-")
        self.ca = certs.CA(self.pki, "ca")
        self.srv = self.ca.issue("aggregator.test", dns=["localhost"], ips=["127.0.0.1"])
        self.cli = self.ca.issue("web-1")

    def agent_tls(self, ca=None, cert=None, extra=""):
        ca = ca or self.ca.pem
        cert = cert or self.cli
        return "{ca_file: '%s', cert_file: '%s', key_file: '%s'%s}" % (ca, cert[0], cert[1],
                                                                        extra)

    def aggr_tls(self, client_ca=True):
        return "{cert_file: '%s', key_file: '%s'%s}" % (
            self.srv[0], self.srv[1], ", client_ca_file: '%s'" % self.ca.pem if client_ca else "")

    def it_counts_exactly_over_mutual_tls_through_kill9(self):
        self.make_pki()
        self.setup_tls(self.agent_tls(), self.aggr_tls())
        try:
            self.start_aggr()
            a = L.Agent(self.tmp, self.acfg).start()
            for i in range(6):
                self.writer.write(400)
                time.sleep(0.1)
                if i == 2:
                    self.writer.rotate_rename()
                if i % 2 == 1:
                    a.kill9()
                    a.start()
            self.wait_redis_exact()
            self.aggr.kill9()
            self.writer.write(500)
            time.sleep(0.5)
            self.start_aggr()
            self.wait_redis_exact()
            H.check_equal(a.term(), 0, "agent exit code")
            m = self.metrics()
            if metric(m, "slitail_tls_handshakes_total", '{listener="ingest"}') < 1:
                raise AssertionError("no TLS handshake counted:\n" + m)
            if "(TLS, client certificates required)" not in self.aggr.output():
                raise AssertionError("the aggregator did not say it listens with mTLS")
            if L.TOKEN in a.output() or L.TOKEN in self.aggr.output():
                raise AssertionError("the token was logged")
        finally:
            self.teardown()
            self.pki.cleanup()

    def _fails(self, agent_tls, aggr_tls, agent_pat, aggr_pat, reason, agent_id="web-1",
               counter=None):
        """Starts both, waits for the two log lines and the aggregator's counter."""
        self.setup_tls(agent_tls, aggr_tls, agent_id)
        self.start_aggr()
        a = L.Agent(self.tmp, self.acfg).start()
        try:
            self.wait_log(a.proc, agent_pat, "agent log /%s/" % agent_pat)
            self.wait_log(self.aggr, aggr_pat, "aggregator log /%s/" % aggr_pat)
            if counter:
                name, labels = counter
            else:
                name = "slitail_tls_handshake_failures_total"
                labels = '{listener="ingest",reason="%s"}' % reason
            H.wait_for(lambda: metric(self.metrics(), name, labels) >= 1, timeout=10,
                       what="%s%s >= 1" % (name, labels))
            a.wait_started()
            # the agent counts it too (plaintext: it only sees the connection close)
            key = "tls_failures" if reason not in ("plaintext", "mismatch") else "failures"

            def counted():
                st = a.status()
                return bool(st) and st["connection"][key] >= 1
            H.wait_for(counted, timeout=10, what="agent status %s >= 1" % key)
        finally:
            a.kill9()
            self.aggr.kill9()
            self.aggr = None
            L.kill_all()

    def it_fails_each_bad_tls_case_with_a_line_on_both_sides_and_a_counter(self):
        self.make_pki()
        base = self.pki
        try:
            other = certs.CA(base, "other")
            expired = self.ca.issue("web-1", expired=True, out="web-1-expired")
            cases = [
                # a plaintext agent on a TLS listener
                ("", self.aggr_tls(), r"TLS listener\? see agent\.tls",
                 r"does not speak TLS", "plaintext", "web-1", None),
                # the agent does not trust the aggregator's CA
                (self.agent_tls(ca=other.pem), self.aggr_tls(),
                 r"certificate is refused: (unable to get local issuer|self-signed)", r"unknown ca",
                 "unknown_ca", "web-1", None),
                # an expired client certificate
                (self.agent_tls(cert=expired), self.aggr_tls(),
                 r"TLS error: .*certificate expired|refused our certificate",
                 r"certificate is refused: certificate has expired", "expired", "web-1", None),
                # mutual TLS: an agent without a client certificate
                ("{ca_file: '%s'}" % self.ca.pem, self.aggr_tls(),
                 r"certificate required", r"did not return a certificate", "no_cert", "web-1",
                 None),
                # the aggregator's certificate does not carry the name asked for
                (self.agent_tls(extra=", server_name: wrong.example"), self.aggr_tls(),
                 r"certificate is refused: [Hh]ostname mismatch", r"TLS handshake failed",
                 "other", "web-1", None),
                # mTLS: the HELLO names another agent than the certificate
                (self.agent_tls(), self.aggr_tls(), r"agent id does not match the client "
                 r"certificate", r"agent id 'web-2' is neither the subject CN", "mismatch",
                 "web-2", ("slitail_aggregator_cert_name_mismatches_total", "")),
            ]
            for agent_tls, aggr_tls, apat, gpat, reason, aid, counter in cases:
                agent_tls = agent_tls or "~"
                try:
                    self._fails(agent_tls, aggr_tls, apat, gpat, reason, aid, counter)
                except Exception:
                    print("--- case %s, agent log:\n%s\n--- aggregator log:\n%s" % (
                        reason, open(self.tmp.join("agent.log")).read(),
                        open(self.tmp.join("aggregator.log")).read()))
                    raise
                finally:
                    self.teardown()
        finally:
            base.cleanup()

    def it_rotates_certificates_on_sighup_under_load(self):
        self.make_pki()
        self.setup_tls(self.agent_tls(), self.aggr_tls())
        try:
            self.start_aggr()
            a = L.Agent(self.tmp, self.acfg).start()

            def served_serial():
                ctx = self.ca.client_context()
                ctx.load_cert_chain(*self.cli)
                with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                    with ctx.wrap_socket(s, server_hostname="localhost") as t:
                        der = t.getpeercert(binary_form=True)
                return ssl.DER_cert_to_PEM_cert(der)

            first = served_serial()
            for i in range(3):
                self.writer.write(300)
                time.sleep(0.1)
            # a new certificate under the same file names, SIGHUP, while the agent ships
            new = self.ca.issue("aggregator.test", dns=["localhost"], ips=["127.0.0.1"],
                                out="aggregator-2")
            os.replace(new[0], self.srv[0])
            os.replace(new[1], self.srv[1])
            self.aggr.p.send_signal(signal.SIGHUP)
            H.wait_for(lambda: served_serial() != first, timeout=10, what="new certificate")
            second = served_serial()
            self.writer.write(300)
            # a broken one keeps the one in use
            with open(self.srv[0], "w") as f:
                f.write("not a certificate\n")
            self.aggr.p.send_signal(signal.SIGHUP)
            self.wait_log(self.aggr, r"keeping the certificate in use", "reload refused")
            H.check_equal(served_serial(), second, "certificate after a bad reload")
            self.writer.write(300)
            a.kill9()  # a new connection must handshake with the rotated certificate
            a.start()
            self.wait_redis_exact()
            m = self.metrics()
            if metric(m, "slitail_tls_reloads_total", '{listener="ingest",result="failed"}') < 1:
                raise AssertionError("failed reload not counted")
            H.check_equal(a.term(), 0, "agent exit code")
        finally:
            self.teardown()
            self.pki.cleanup()


if __name__ == "__main__":
    TlsCase().run_all()
