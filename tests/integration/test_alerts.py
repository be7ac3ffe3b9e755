"""Burn-rate alerts end to end: counts sent over the wire protocol to a real
slitail-aggregator on a private redis-server, and a small HTTP server playing Alertmanager
(POST /api/v2/alerts) and the webhook (POST /hook) that records what it gets.

Burn windows end at the current minute, so the data places the bad events: a burst now fires
the page-1h tier (page-6h and ticket-1d fire too, inhibited by it: one notification); a flood
of good events now resolves it; a burst 20 minutes ago fires page-6h but not page-1h (the
last 5 minutes are clean); a burst 2 hours ago fires nothing (only the 6h and 1d windows see
it, not their short windows)."""
import calendar
import http.server
import json
import re
import signal
import threading
import time
import urllib.request

from slt_harness import (Proc, Redis, TempDir, TestCase, binary, check_equal, free_port,
                         wait_for, wait_port)
from slt_proto import APPLIED, ProtoClient, series

CONFIG = """
inputs: [{{name: web, format: nginx_combined}}]
slis:
  - {{name: checkout, input: web, bad: {{status: 5xx}}}}
  - {{name: search, input: web, bad: {{status: 5xx}}}}
slos:
  - {{name: checkout-99, sli: checkout, objective: 99, window: 1d}}
  - {{name: search-99, sli: search, objective: 99, window: 1d}}
aggregator:
  listen: 127.0.0.1:{ingest}
  http_listen: 127.0.0.1:{http}
  redis: {redis}
  redis_timeout: 1s
  allow_unauthenticated: true
alerting:
  interval: 1s
  alertmanager: {am}
  webhook: http://127.0.0.1:{recv}/hook
  labels: {{team: shop}}
  timeout: 2s
"""


class Receiver:
    """Records every POST as (time, path, parsed JSON body); answers 200, except the first
    fail_hooks POSTs to /hook, which get a 500 and are not recorded."""

    def __init__(self, fail_hooks=0):
        self.posts = []
        self.fail_hooks = fail_hooks
        self.failed = 0
        self.am_status = 200  # what Alertmanager answers (its refused POSTs are not recorded)
        self.am_refused = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with outer.lock:
                    fail = self.path == "/hook" and outer.failed < outer.fail_hooks
                    if fail:
                        outer.failed += 1
                    elif self.path == "/api/v2/alerts" and outer.am_status != 200:
                        fail = True
                        outer.am_refused += 1
                    else:
                        outer.posts.append((time.time(), self.path, json.loads(body)))
                self.send_response(500 if fail else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def hooks(self):
        with self.lock:
            return [b for (_, p, b) in self.posts if p == "/hook"]

    def am_posts(self):
        with self.lock:
            return [(t, b) for (t, p, b) in self.posts if p == "/api/v2/alerts"]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Silent:
    """A TCP server that accepts connections, reads and never answers (a stalled peer)."""

    def __init__(self):
        import socket
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


def rfc3339(s):
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))


def minute_now():
    return int(time.time()) // 60 * 60


class Setup:
    def __init__(self, am=None, fail_hooks=0, text=CONFIG):
        self.tmp = TempDir("slt-alerts-")
        self.redis = Redis(self.tmp)
        self.recv = Receiver(fail_hooks)
        self.http = free_port()
        self.ingest = free_port()
        am = am or f"http://127.0.0.1:{self.recv.port}"
        self.am = am
        self.cfg = self.tmp.write("slitail.yaml", self.config(text))
        self.proc = Proc([binary("slitail-aggregator"), "-c", self.cfg],
                         self.tmp.join("aggregator.log"))
        wait_port(self.http)
        wait_for(lambda: self.get("/readyz")[0] == 200, what="/readyz 200")
        self.client = ProtoClient("127.0.0.1", self.ingest, "", "agent-1", 1)
        check_equal(self.client.hello().get("t"), 2, "WELCOME")
        self.seq = 0
        self.since = {}  # series name: the first seq that carried it (docs/PROTOCOL.md)

    def config(self, text=CONFIG):
        return text.format(ingest=self.ingest, http=self.http, redis=self.redis.url,
                           recv=self.recv.port, am=self.am)

    def get(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http}{path}", timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except OSError:
            return 0, ""

    def send(self, name, rows):
        """rows: (minute, good, bad, excluded); waits for APPLIED."""
        self.seq += 1
        since = self.since.setdefault(name, self.seq)
        self.client.send_batch(self.seq, [series(name, rows, since=since)])
        ack = self.client.recv_ack()
        check_equal(ack["status"], APPLIED, f"ack of batch {self.seq} ({ack!r})")

    def metric(self, line_re):
        _, text = self.get("/metrics")
        m = re.search(r"^" + line_re + r" (\d+)$", text, re.M)
        return int(m.group(1)) if m else None

    def stop_clean(self):
        """SIGTERM with whatever is in flight: exit 0 and no sanitizer report."""
        self.client.close()
        check_equal(self.proc.term(), 0, "aggregator exit code")
        out = self.proc.output()
        if "Sanitizer" in out or "runtime error" in out:
            raise AssertionError("sanitizer report:\n" + out[-3000:])

    def close(self):
        self.client.close()
        self.proc.term()
        self.recv.stop()
        self.redis.stop()
        self.tmp.cleanup()


def find_hook(recv, slo, alert, status):
    for d in recv.hooks():
        if d["labels"]["slo"] == slo and d["alert"] == alert and d["status"] == status:
            return d
    return None


def am_alerts(recv, tier, slo):
    """[(post time, alert)] for every Alertmanager post holding that alert."""
    out = []
    for t, body in recv.am_posts():
        for a in body:
            if a["labels"]["tier"] == tier and a["labels"]["slo"] == slo:
                out.append((t, a))
    return out


class Alerts(TestCase):
    def it_page_1h_fires_to_both_receivers_inhibits_slower_tiers_then_resolves(self):
        s = Setup()
        try:
            # 90% bad now: 90x the budget of a 99% SLO over every window
            s.send("checkout", [(minute_now(), 10, 90, 0)])
            d = wait_for(lambda: find_hook(s.recv, "checkout-99", "page-1h", "firing"),
                         timeout=15, what="webhook page-1h firing")
            check_equal(d["labels"], {"alertname": "SLOBurnRate", "slo": "checkout-99",
                                      "sli": "checkout", "tier": "page-1h", "severity": "page",
                                      "dedup_key": "checkout-99", "team": "shop"},
                        "webhook labels")
            check_equal((d["severity"], d["dedup_key"]), ("page", "checkout-99"), "document")
            check_equal(d["endsAt"], None, "endsAt of a firing document")
            check_equal(d["generatorURL"], f"http://127.0.0.1:{s.http}/", "generatorURL")
            check_equal(d["slo"]["objective"], 99.0, "objective")
            if not d["slo"]["burn_rates"]["5m"] > 14.4 or not d["slo"]["burn_rates"]["1h"] > 14.4:
                raise AssertionError(f"burn rates {d['slo']['burn_rates']!r}")
            if "checkout-99" not in d["annotations"]["summary"]:
                raise AssertionError(f"summary {d['annotations']['summary']!r}")
            check_equal(len(d["fingerprint"]), 16, "fingerprint length")
            # page-6h and ticket-1d fire too, inhibited by page-1h: no notification of theirs
            def tiers():
                o = json.loads(s.get("/api/v1/slos/checkout-99")[1])
                return {a["name"]: a for a in o["alerts"]}

            t6 = wait_for(lambda: tiers()["page-6h"]["firing"] and tiers(), timeout=10,
                          what="page-6h firing in the API")
            if not t6["page-1h"]["since"]:
                raise AssertionError(f"page-1h has no since: {t6['page-1h']!r}")
            check_equal(sorted(t6), ["page-1h", "page-6h", "ticket-1d"], "tiers of a 1d SLO")
            # Alertmanager gets the firing alert again at every evaluation
            wait_for(lambda: len(am_alerts(s.recv, "page-1h", "checkout-99")) >= 3,
                     timeout=15, what="three Alertmanager posts of page-1h")
            check_equal(am_alerts(s.recv, "page-6h", "checkout-99"), [], "inhibited at AM")
            check_equal(find_hook(s.recv, "checkout-99", "page-6h", "firing"), None,
                        "inhibited page-6h document")
            t, a = am_alerts(s.recv, "page-1h", "checkout-99")[-1]
            check_equal(a["labels"], d["labels"], "Alertmanager labels")
            check_equal(a["generatorURL"], f"http://127.0.0.1:{s.http}/", "AM generatorURL")
            ends = rfc3339(a["endsAt"])
            if not t + 2 <= ends <= t + 6:
                raise AssertionError(f"endsAt {a['endsAt']} not 4 intervals after {t}")
            if rfc3339(a["startsAt"]) > t:
                raise AssertionError(f"startsAt {a['startsAt']} after the post at {t}")
            check_equal(s.metric("slitail_alerts_firing"), 1, "slitail_alerts_firing")
            check_equal(s.metric('slitail_slo_alert_firing{slo="checkout-99",alert="page-6h",'
                                 'severity="page"}'), 1, "page-6h tier gauge")
            # no search alert: its SLI has no events
            check_equal(find_hook(s.recv, "search-99", "page-1h", "firing"), None,
                        "search alert")

            # a flood of good events: 90 bad in 100100 is 0.09x
            s.send("checkout", [(minute_now(), 100000, 0, 0)])
            r = wait_for(lambda: find_hook(s.recv, "checkout-99", "page-1h", "resolved"),
                         timeout=15, what="webhook page-1h resolved")
            check_equal(r["labels"], d["labels"], "resolved labels")
            check_equal(r["fingerprint"], d["fingerprint"], "resolved fingerprint")
            check_equal(r["startsAt"], d["startsAt"], "resolved startsAt")
            if r["endsAt"] is None:
                raise AssertionError("a resolved document without endsAt")

            def am_resolved():
                for t2, a2 in am_alerts(s.recv, "page-1h", "checkout-99"):
                    if rfc3339(a2["endsAt"]) <= t2 + 1:
                        return a2
                return None

            wait_for(am_resolved, timeout=10, what="Alertmanager resolve")
            wait_for(lambda: s.metric("slitail_alerts_firing") == 0, timeout=5,
                     what="slitail_alerts_firing 0")
            # one document per state change: one firing and one resolved, page-1h only
            check_equal(sorted((x["alert"], x["status"]) for x in s.recv.hooks()),
                        [("page-1h", "firing"), ("page-1h", "resolved")], "documents")
            # the resolve is sent once: once Alertmanager took it, the alert is not sent again
            n = len(am_alerts(s.recv, "page-1h", "checkout-99"))
            time.sleep(2.5)
            check_equal(len(am_alerts(s.recv, "page-1h", "checkout-99")), n,
                        "Alertmanager posts after the resolve")
            if not s.metric('slitail_alert_notifications_total{target="webhook",outcome="sent"}') >= 2:
                raise AssertionError("webhook sent counter")
            check_equal(s.metric('slitail_alert_notifications_total{target="alertmanager",'
                                 'outcome="failed"}'), 0, "alertmanager failures")
            slos = json.loads(s.get("/api/v1/slos")[1])
            check_equal([a["firing"] for a in slos["slos"][0]["alerts"]], [False] * 3,
                        "/api/v1/slos alerts")
            s.stop_clean()
        finally:
            s.close()

    def it_a_burst_20_minutes_ago_pages_6h_and_2_hours_ago_nothing(self):
        s = Setup()
        try:
            now = minute_now()
            s.send("checkout", [(now - 20 * 60, 10, 90, 0)])
            s.send("search", [(now - 120 * 60, 10, 90, 0)])
            d = wait_for(lambda: find_hook(s.recv, "checkout-99", "page-6h", "firing"),
                         timeout=15, what="webhook page-6h firing")
            check_equal(d["labels"]["severity"], "page", "severity")
            check_equal(d["slo"]["burn_rates"]["5m"], 0.0, "5m burn rate")
            # let a few more evaluations pass: neither a fast burn nor the old burst alerts
            n = s.metric('slitail_alert_evaluations_total{outcome="ok"}')
            wait_for(lambda: s.metric('slitail_alert_evaluations_total{outcome="ok"}') >= n + 3,
                     timeout=10, what="three more evaluations")
            others = [(x["labels"]["slo"], x["alert"]) for x in s.recv.hooks()
                      if (x["labels"]["slo"], x["alert"]) != ("checkout-99", "page-6h")]
            check_equal(others, [], "other alerts")
            for t, body in s.recv.am_posts():
                names = sorted((a["labels"]["tier"], a["labels"]["slo"]) for a in body)
                check_equal(names, [("page-6h", "checkout-99")], f"AM post at {t}")
            check_equal(s.metric("slitail_alerts_firing"), 1, "slitail_alerts_firing")
            s.stop_clean()
        finally:
            s.close()

    def it_an_unreachable_alertmanager_is_counted_and_ingest_goes_on(self):
        dead = free_port()  # nothing listens there
        s = Setup(am=f"http://127.0.0.1:{dead}")
        try:
            s.send("checkout", [(minute_now(), 0, 100, 0)])
            wait_for(lambda: (s.metric('slitail_alert_notifications_total{target='
                                       '"alertmanager",outcome="failed"}') or 0) >= 3,
                     timeout=15, what="three failed Alertmanager notifications")
            # the webhook is another target: it still gets its document
            wait_for(lambda: find_hook(s.recv, "checkout-99", "page-1h", "firing"),
                     timeout=10, what="webhook page-1h firing")
            # ingest answers at once meanwhile, and every count lands
            t0 = time.time()
            for i in range(50):
                s.send("search", [(minute_now() - 600, 1, 0, 0)])
            elapsed = time.time() - t0
            if elapsed > 5:
                raise AssertionError(f"50 batches took {elapsed:.1f}s")
            got = s.redis.cli("HGET", "slt:{s:search}:tot", "g")
            check_equal(got, "50", "search good total in redis")
            check_equal(s.metric('slitail_alert_notifications_total{target="alertmanager",'
                                 'outcome="sent"}'), 0, "alertmanager sent")
            if "alertmanager notification failed" not in s.proc.output():
                raise AssertionError("no log line about the failed notification")
            s.stop_clean()
        finally:
            s.close()

    def it_a_refused_webhook_document_is_retried_and_a_lost_redis_is_counted(self):
        s = Setup(fail_hooks=2)
        try:
            s.send("checkout", [(minute_now(), 0, 100, 0)])
            # answered 500 twice, then taken: each document arrives once, in order
            d = wait_for(lambda: find_hook(s.recv, "checkout-99", "page-1h", "firing"),
                         timeout=20, what="webhook documents after two refusals")
            check_equal(s.recv.failed, 2, "refused POSTs")
            check_equal([(x["alert"], x["status"]) for x in s.recv.hooks()],
                        [("page-1h", "firing")], "documents")
            check_equal(s.metric('slitail_alert_notifications_total{target="webhook",'
                                 'outcome="failed"}'), 2, "webhook failures")
            check_equal(d["labels"]["team"], "shop", "team label")
            # Redis goes away: evaluations fail and are counted, the alerts stay as they were
            s.redis.kill9()
            n = s.metric('slitail_alert_evaluations_total{outcome="failed"}')
            wait_for(lambda: s.metric('slitail_alert_evaluations_total{outcome="failed"}')
                     >= n + 2, timeout=15, what="two failed evaluations")
            check_equal(s.metric("slitail_alerts_firing"), 1, "firing while redis is gone")
            check_equal([x["status"] for x in s.recv.hooks()], ["firing"],
                        "no resolve while redis is gone")
            s.stop_clean()
        finally:
            s.close()


    def it_a_resolve_alertmanager_refused_is_sent_again(self):
        s = Setup()
        try:
            s.send("checkout", [(minute_now(), 0, 100, 0)])
            wait_for(lambda: am_alerts(s.recv, "page-1h", "checkout-99"), timeout=15,
                     what="page-1h at Alertmanager")
            s.recv.am_status = 500
            s.send("checkout", [(minute_now(), 1000000, 0, 0)])
            wait_for(lambda: find_hook(s.recv, "checkout-99", "page-1h", "resolved"),
                     timeout=15, what="resolved (webhook)")
            n = s.recv.am_refused
            wait_for(lambda: s.recv.am_refused >= n + 2, timeout=10,
                     what="two refused Alertmanager posts")
            s.recv.am_status = 200
            t_ok = time.time()

            def resolved():
                for t, a in am_alerts(s.recv, "page-1h", "checkout-99"):
                    if t >= t_ok and rfc3339(a["endsAt"]) <= t:
                        return a
                return None

            a = wait_for(resolved, timeout=10, what="the resolve, once Alertmanager answers")
            r = find_hook(s.recv, "checkout-99", "page-1h", "resolved")
            check_equal(a["endsAt"], r["endsAt"], "endsAt is when it resolved, not when sent")
            if not (s.metric('slitail_alert_notifications_total{target="alertmanager",'
                             'outcome="failed"}') or 0) >= 2:
                raise AssertionError("alertmanager failures not counted")
            s.stop_clean()
        finally:
            s.close()

    def it_two_aggregators_on_one_redis_send_each_state_change_once(self):
        s = Setup()
        other = None
        try:
            # a second aggregator on the same Redis and receivers, other ports
            http2, ingest2 = free_port(), free_port()
            cfg2 = s.tmp.write("other.yaml", CONFIG.format(
                ingest=ingest2, http=http2, redis=s.redis.url, recv=s.recv.port, am=s.am))
            other = Proc([binary("slitail-aggregator"), "-c", cfg2], s.tmp.join("other.log"))
            wait_port(http2)
            s.send("checkout", [(minute_now(), 0, 100, 0)])
            # Alertmanager gets the alert from both, with the same labels (it deduplicates)
            wait_for(lambda: len({a["generatorURL"] for _, a in
                                  am_alerts(s.recv, "page-1h", "checkout-99")}) == 2,
                     timeout=15, what="page-1h from both aggregators")
            check_equal(len({json.dumps(a["labels"], sort_keys=True) for _, a in
                             am_alerts(s.recv, "page-1h", "checkout-99")}), 1,
                        "distinct label sets at Alertmanager")
            # the webhook gets each state change once: the shared state in Redis decides
            s.send("checkout", [(minute_now(), 1000000, 0, 0)])
            wait_for(lambda: find_hook(s.recv, "checkout-99", "page-1h", "resolved"),
                     timeout=15, what="resolved")
            time.sleep(2.5)  # both have evaluated the change by now
            got = sorted((d["alert"], d["status"]) for d in s.recv.hooks())
            check_equal(got, [("page-1h", "firing"), ("page-1h", "resolved")],
                        "webhook documents from two aggregators")
            fp = find_hook(s.recv, "checkout-99", "page-1h", "firing")["fingerprint"]
            check_equal(s.redis.cli("GET", f"slt:alert:{fp}"), "resolved", "shared state")
            ttl = int(s.redis.raw("TTL", f"slt:alert:{fp}").strip())
            if not 0 < ttl <= 30 * 86400:
                raise AssertionError(f"TTL of the shared state: {ttl}")
            check_equal(other.term(), 0, "second aggregator exit code")
            s.stop_clean()
        finally:
            if other:
                other.term()
            s.close()

    def it_a_restart_sends_no_duplicate_but_a_long_outage_sends_again(self):
        s = Setup()
        try:
            s.send("checkout", [(minute_now(), 0, 100, 0)])
            d = wait_for(lambda: find_hook(s.recv, "checkout-99", "page-1h", "firing"),
                         timeout=15, what="firing")
            key = f"slt:alert:{d['fingerprint']}"
            check_equal(s.redis.cli("GET", key), "firing", "shared state")
            ttl = int(s.redis.raw("TTL", key).strip())
            if not 0 < ttl <= 14:  # 4 intervals + 10 s, refreshed while firing
                raise AssertionError(f"TTL of a firing state: {ttl}")
            s.client.close()
            check_equal(s.proc.term(), 0, "exit code")
            # a restart: the new process sees the alert start, the shared state says it was sent
            s.proc = Proc([binary("slitail-aggregator"), "-c", s.cfg], s.tmp.join("aggr2.log"))
            wait_port(s.http)
            wait_for(lambda: (s.metric('slitail_alert_evaluations_total{outcome="ok"}') or 0)
                     >= 3, timeout=15, what="three evaluations after the restart")
            check_equal(s.metric("slitail_alerts_firing"), 1, "firing after the restart")
            firing = [x["alert"] for x in s.recv.hooks() if x["status"] == "firing"]
            check_equal(sorted(firing), ["page-1h"], "documents after a restart")
            # no aggregator for longer than the firing state lives: it is sent again
            check_equal(s.proc.term(), 0, "exit code")
            wait_for(lambda: s.redis.cli("EXISTS", key) == "(integer) 0", timeout=20,
                     what="the shared state expired")
            s.proc = Proc([binary("slitail-aggregator"), "-c", s.cfg], s.tmp.join("aggr3.log"))
            wait_for(lambda: len([x for x in s.recv.hooks() if x["alert"] == "page-1h"]) == 2,
                     timeout=15, what="page-1h sent again")
            s.stop_clean()
        finally:
            s.close()

    def it_a_stalled_redis_fails_evaluations_in_time_and_sigterm_is_prompt(self):
        stalled = Silent()
        tmp = TempDir("slt-alerts-stalled-")
        recv = Receiver()
        http, ingest = free_port(), free_port()
        cfg = tmp.write("slitail.yaml", CONFIG.format(
            ingest=ingest, http=http, redis=f"redis://127.0.0.1:{stalled.port}/0",
            recv=recv.port, am=f"http://127.0.0.1:{stalled.port}"))
        proc = Proc([binary("slitail-aggregator"), "-c", cfg], tmp.join("aggregator.log"))
        try:
            wait_port(http)

            def failed():
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{http}/metrics",
                                                timeout=10) as r:
                        text = r.read().decode()
                except OSError:
                    return 0
                m = re.search(r'^slitail_alert_evaluations_total\{outcome="failed"\} (\d+)$',
                              text, re.M)
                return int(m.group(1)) if m else 0

            # redis_timeout is 1s: each evaluation gives up after it
            wait_for(lambda: failed() >= 3, timeout=15, what="three failed evaluations")
            t0 = time.time()
            check_equal(proc.term(), 0, "exit code")
            if time.time() - t0 > 5:
                raise AssertionError(f"SIGTERM took {time.time() - t0:.1f}s")
            out = proc.output()
            if "Sanitizer" in out or "runtime error" in out:
                raise AssertionError("sanitizer report:\n" + out[-3000:])
            check_equal(recv.hooks(), [], "documents without data")
        finally:
            proc.term()
            recv.stop()
            stalled.close()
            tmp.cleanup()

    def it_sigterm_with_a_notification_in_flight_exits_at_once(self):
        stalled = Silent()
        # Alertmanager never answers, and the notification timeout is long
        s = Setup(am=f"http://127.0.0.1:{stalled.port}",
                  text=CONFIG.replace("timeout: 2s", "timeout: 30s"))
        try:
            s.send("checkout", [(minute_now(), 0, 100, 0)])
            wait_for(lambda: find_hook(s.recv, "checkout-99", "page-1h", "firing"),
                     timeout=15, what="firing (the webhook still works)")
            wait_for(lambda: stalled.conns, timeout=5, what="a POST to the stalled Alertmanager")
            t0 = time.time()
            s.stop_clean()  # the POST in flight is cancelled, not waited for
            if time.time() - t0 > 5:
                raise AssertionError(f"SIGTERM took {time.time() - t0:.1f}s")
        finally:
            s.close()
            stalled.close()

    def it_a_reload_resolves_a_removed_slo_and_takes_new_labels(self):
        s = Setup()
        try:
            s.send("checkout", [(minute_now(), 0, 100, 0)])
            wait_for(lambda: find_hook(s.recv, "checkout-99", "page-1h", "firing"),
                     timeout=15, what="checkout alerts firing")
            # checkout-99 goes away, the labels change
            text = CONFIG.replace("  - {{name: checkout-99, sli: checkout, objective: 99, "
                                  "window: 1d}}\n", "").replace("team: shop", "team: payments")
            s.tmp.write("slitail.yaml", s.config(text))
            s.proc.p.send_signal(signal.SIGHUP)
            r = wait_for(lambda: find_hook(s.recv, "checkout-99", "page-1h", "resolved"),
                         timeout=10, what="page-1h of the removed SLO resolved")
            check_equal(r["labels"]["team"], "shop", "labels of the removed SLO")
            wait_for(lambda: s.metric("slitail_alerts_firing") == 0, timeout=10,
                     what="nothing firing after the reload")
            s.send("search", [(minute_now(), 0, 100, 0)])
            d = wait_for(lambda: find_hook(s.recv, "search-99", "page-1h", "firing"),
                         timeout=15, what="search alert after the reload")
            check_equal(d["labels"]["team"], "payments", "new label")
            if "config reloaded" not in s.proc.output():
                raise AssertionError("no reload in the log")
            s.stop_clean()
        finally:
            s.close()

    def it_pagerduty_gets_one_incident_per_dedup_key_triggered_then_resolved(self):
        # checkout and search share one dedup_key: one incident for the two
        text = (CONFIG.replace("window: 1d}}\n  - {{name: search-99",
                               "window: 1d, dedup_key: shop, labels: {{runbook_url: rb}}}}\n"
                               "  - {{name: search-99")
                .replace("objective: 99, window: 1d}}\naggregator",
                         "objective: 99, window: 1d, dedup_key: shop}}\naggregator")
                .replace("  timeout: 2s\n", "  timeout: 2s\n  pagerduty: {{routing_key_file: "
                         "{key}, url: 'http://127.0.0.1:{recv}/v2/enqueue'}}\n"))
        tmp = TempDir("slt-alerts-pd-")
        keyfile = tmp.write("pd.key", "R0UT1NGKEY\n")
        s = Setup(text=text.replace("{key}", keyfile))
        try:
            def events():
                with s.recv.lock:
                    return [b for (_, p, b) in s.recv.posts if p == "/v2/enqueue"]

            def send(checkout, search):
                """both series in every batch (a series' batches follow each other)"""
                s.seq += 1
                s.client.send_batch(s.seq, [series("checkout", [(minute_now(),) + checkout],
                                                   since=1),
                                            series("search", [(minute_now(),) + search],
                                                   since=1)])
                check_equal(s.client.recv_ack()["status"], APPLIED, "ack")

            send((0, 100, 0), (0, 0, 0))
            e = wait_for(lambda: events(), timeout=15, what="a PagerDuty event")[0]
            check_equal((e["event_action"], e["dedup_key"], e["routing_key"]),
                        ("trigger", "shop", "R0UT1NGKEY"), "trigger")
            check_equal((e["payload"]["severity"], e["payload"]["class"], e["payload"]["group"]),
                        ("critical", "page-1h", "checkout-99"), "payload")
            check_equal(e["payload"]["custom_details"]["runbook_url"], "rb", "SLO label")
            # search burns too: same key, the incident is already open
            send((0, 0, 0), (0, 100, 0))
            wait_for(lambda: find_hook(s.recv, "search-99", "page-1h", "firing"), timeout=15,
                     what="search page-1h firing")
            # checkout recovers: search still fires, so the incident stays open
            send((1000000, 0, 0), (0, 0, 0))
            wait_for(lambda: find_hook(s.recv, "checkout-99", "page-1h", "resolved"),
                     timeout=15, what="checkout resolved")
            time.sleep(1.5)
            check_equal([x["event_action"] for x in events()], ["trigger"], "events so far")
            send((0, 0, 0), (1000000, 0, 0))
            wait_for(lambda: len(events()) == 2, timeout=15, what="the resolve")
            check_equal((events()[1]["event_action"], events()[1]["dedup_key"]),
                        ("resolve", "shop"), "resolve")
            check_equal(s.metric('slitail_alert_notifications_total{target="pagerduty",'
                                 'outcome="sent"}'), 2, "pagerduty sent")
            s.stop_clean()
        finally:
            s.close()
            tmp.cleanup()


if __name__ == "__main__":
    Alerts().run_all()
