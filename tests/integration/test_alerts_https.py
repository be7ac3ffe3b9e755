"""Alerts to a real Alertmanager (Debian's prometheus-alertmanager) over https with basic
authentication, with certificates made at test time by the openssl CLI: the alert arrives and
is listed by Alertmanager's own API; a wrong CA, a wrong password and a name that does not match
the certificate each fail, are counted, and say why in the aggregator's log."""
import base64
import crypt
import json
import os
import shutil
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from certs import CA  # noqa: E402
from slt_harness import Proc, TempDir, TestCase, check_equal, free_port, wait_for  # noqa: E402
from test_alerts import CONFIG, Setup, minute_now  # noqa: E402

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
USER, PASSWORD = "slitail", "s3cret pw"


class Alertmanager:
    """prometheus-alertmanager on 127.0.0.1 over TLS (a certificate for the address 127.0.0.1
    only), requiring basic auth."""

    def __init__(self, tmp, ca):
        self.port = free_port()
        cert, key = ca.issue("alertmanager", ips=["127.0.0.1"])
        self.ca = ca
        conf = tmp.write("am.yml", "route: {receiver: none}\nreceivers: [{name: none}]\n")
        # bcrypt cost 4: Alertmanager checks it on every request
        hashed = crypt.crypt(PASSWORD, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
        web = tmp.write("am-web.yml", f"tls_server_config: {{cert_file: {cert}, key_file: {key}}}\n"
                                      f"basic_auth_users: {{{USER}: '{hashed}'}}\n")
        os.makedirs(tmp.join("am-data"), exist_ok=True)
        self.proc = Proc([ALERTMANAGER, f"--config.file={conf}", f"--web.config.file={web}",
                          f"--storage.path={tmp.join('am-data')}",
                          f"--web.listen-address=127.0.0.1:{self.port}",
                          "--cluster.listen-address="], tmp.join("alertmanager.log"))
        wait_for(lambda: self.get("/-/ready") is not None, timeout=30, what="alertmanager ready")

    def get(self, path):
        auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        req = urllib.request.Request(f"https://127.0.0.1:{self.port}{path}",
                                     headers={"Authorization": "Basic " + auth})
        try:
            with urllib.request.urlopen(req, timeout=5, context=self.ca.client_context()) as r:
                return r.read().decode()
        except OSError:
            return None

    def alerts(self):
        body = self.get("/api/v2/alerts")
        return json.loads(body) if body else []

    def stop(self):
        self.proc.term()


def find(alerts, alertname, slo):
    for a in alerts:
        if a["labels"].get("alertname") == alertname and a["labels"].get("slo") == slo:
            return a
    return None


class AlertsOverHttps(TestCase):
    def it_reaches_a_real_alertmanager_over_https_with_basic_auth(self):
        if not ALERTMANAGER:
            print("skipped: no prometheus-alertmanager")
            return
        tmp = TempDir("slt-am-https-")
        ca, other = CA(tmp, "ca"), CA(tmp, "other")
        am = Alertmanager(tmp, ca)
        pw = tmp.write("am.password", PASSWORD + "\n")
        bad_pw = tmp.write("bad.password", "nope\n")

        def auth(ca_pem, password_file):
            # block style: the config is a str.format template, braces are taken
            return (f"  tls_ca_file: {ca_pem}\n" +
                    (f"  basic_auth:\n    username: {USER}\n    password_file: {password_file}\n"
                     if password_file else ""))

        s = Setup(am=f"https://127.0.0.1:{am.port}", text=CONFIG + auth(ca.pem, pw))
        others = []
        try:
            s.send("checkout", [(minute_now(), 10, 90, 0)])
            a = wait_for(lambda: find(am.alerts(), "SLOBurnRate", "checkout-99"), timeout=20,
                         what="SLOBurnRate (page-1h) listed by Alertmanager")
            check_equal(a["labels"]["team"], "shop", "label")
            check_equal(a["status"]["state"], "active", "state at Alertmanager")
            sent = s.metric('slitail_alert_notifications_total{target="alertmanager",'
                            'outcome="sent"}')
            if not sent:
                raise AssertionError(f"sent counter {sent!r}")
            check_equal(s.metric('slitail_alert_notifications_total{target="alertmanager",'
                                 'outcome="failed"}'), 0, "failures with the right CA")

            # each of these fails, is counted, and the log says why
            cases = [
                ("wrong CA", f"https://127.0.0.1:{am.port}", auth(other.pem, pw), "certificate"),
                ("wrong password", f"https://127.0.0.1:{am.port}", auth(ca.pem, bad_pw),
                 "answered 401"),
                # the certificate names 127.0.0.1 only
                ("name not in the certificate", f"https://localhost:{am.port}",
                 auth(ca.pem, pw), "certificate"),
            ]
            for what, url, extra, why in cases:
                o = Setup(am=url, text=CONFIG + extra)
                others.append(o)
                o.send("checkout", [(minute_now(), 10, 90, 0)])
                wait_for(lambda: (o.metric('slitail_alert_notifications_total{target='
                                           '"alertmanager",outcome="failed"}') or 0) >= 1
                         or "notification failed" in o.proc.output(),
                         timeout=20, what=f"a failed notification ({what})")
                out = o.proc.output()
                if "alertmanager notification failed" not in out or why not in out:
                    raise AssertionError(f"{what}: log does not say '{why}':\n{out[-2000:]}")
                if PASSWORD in out:
                    raise AssertionError("the password is in the log")
        finally:
            for o in others:
                o.close()
            s.close()
            am.stop()
            tmp.cleanup()


if __name__ == "__main__":
    AlertsOverHttps().run_all()
