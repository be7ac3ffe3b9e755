"""The HTTP side of a real slitail-aggregator: /metrics in Prometheus text format with label
values escaped, health endpoints, request limits (431, slowloris) and 503 when Redis dies."""
import json
import re
import socket
import time

from api_common import setup
from slt_harness import TestCase, check_equal, wait_for

# One sample line of the text format 0.0.4: name, optional labels, value.
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\\\|\\"|\\n)*"'
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:' + LABEL + r')(?:,' + LABEL +
                    r')*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$')


def unescape(v):
    out, i = [], 0
    while i < len(v):
        if v[i] == "\\":
            out.append({"\\": "\\", '"': '"', "n": "\n"}[v[i + 1]])
            i += 2
        else:
            out.append(v[i])
            i += 1
    return "".join(out)


def parse_metrics(text):
    """{(name, ((label, value), ...)): float}; raises on any line that is not 0.0.4."""
    samples, typed = {}, set()
    for line in text.split("\n"):
        if not line:
            continue
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            parts = line.split(" ", 3)
            if line.startswith("# TYPE "):
                if parts[2] in typed:
                    raise AssertionError(f"TYPE twice for {parts[2]}")
                typed.add(parts[2])
            continue
        m = SAMPLE.match(line)
        if not m:
            raise AssertionError(f"not a 0.0.4 sample line: {line!r}")
        labels = ()
        if m.group(2):
            labels = tuple((k, unescape(v)) for k, v in
                           re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2)))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples


def raw(port, data, timeout=10.0):
    """Sends data, returns everything read until the server closes (or timeout)."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(data)
        s.settimeout(timeout)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
    return out


class ApiHttp(TestCase):
    def __init__(self):
        self.tmp, self.redis, self.seed, self.agg = setup()

    def it_metrics_parse_and_escape_label_values(self):
        status, headers, body = self.agg.get("/metrics")
        check_equal(status, 200, "status")
        check_equal(headers["Content-Type"].split(";")[0:2], ["text/plain", " version=0.0.4"],
                    "content type")
        s = parse_metrics(body.decode())
        g, b, e = self.seed.tot
        ev = "slitail_sli_events_total"
        check_equal(s[(ev, (("sli", "checkout"), ("result", "good")))], g, "good")
        check_equal(s[(ev, (("sli", "checkout"), ("result", "bad")))], b, "bad")
        check_equal(s[(ev, (("sli", "checkout"), ("result", "excluded")))], e, "excluded")
        check_equal(s[(ev, (("sli", 'we"ird\\na\nme'), ("result", "good")))], 7, "escaped")
        check_equal(s[("slitail_input_unparsed_total", (("input", "web"),))],
                    3, "unparsed")
        for outcome in ("applied", "duplicate", "gap", "rejected", "retry"):
            assert ("slitail_aggregator_batches_total", (("outcome", outcome),)) in s, outcome
        for name in ("slitail_aggregator_auth_failures_total",
                     "slitail_aggregator_frame_errors_total",
                     "slitail_aggregator_connected_agents", "slitail_aggregator_redis_up",
                     "slitail_aggregator_redis_latency_seconds_count", "slitail_api_redis_up"):
            assert (name, ()) in s, name
        check_equal(s[("slitail_api_redis_up", ())], 1, "api redis up")
        assert ("slitail_slo_burn_rate", (("slo", "checkout-99.9"), ("window", "1h"))) in s

    def it_metrics_counters_survive_an_aggregator_restart(self):
        before = parse_metrics(self.agg.get("/metrics")[2].decode())
        self.agg.stop()
        from api_common import Aggregator
        self.agg = Aggregator(self.tmp, self.redis)
        wait_for(lambda: self.agg.get("/readyz")[0] == 200, what="/readyz after restart")
        after = parse_metrics(self.agg.get("/metrics")[2].decode())
        key = ("slitail_sli_events_total", (("sli", "checkout"), ("result", "good")))
        check_equal(after[key], before[key], "good after restart")

    def it_health_endpoints_answer(self):
        check_equal(self.agg.json("/healthz"), {"status": "ok"}, "healthz")
        j = self.agg.json("/readyz")
        check_equal(j["status"], "ready", "readyz")
        status, headers, body = self.agg.get("/")
        check_equal(status, 200, "dashboard")
        assert headers["Content-Type"].startswith("text/html"), headers
        assert b"<script src" not in body and b"<link" not in body, "self-contained"
        status, headers, body = self.agg.get("/metrics", method="HEAD")
        check_equal((status, body), (200, b""), "HEAD")

    def it_reload_adds_an_sli_and_an_slo(self):
        import signal
        text = open(self.agg.cfg).read()
        text = text.replace("slos:\n", "  - name: search\n    input: web\n    bad: { status: 5xx }\n"
                            "slos:\n  - { name: search-99, sli: search, objective: 99, "
                            "window: 1d }\n")
        with open(self.agg.cfg, "w") as f:
            f.write(text)
        self.agg.proc.p.send_signal(signal.SIGHUP)

        def reloaded():
            names = {s["name"]: s for s in self.agg.json("/api/v1/slis")["slis"]}
            return "search" in names and names["search"]["configured"]
        wait_for(reloaded, what="SLI 'search' after SIGHUP")
        slos = [o["name"] for o in self.agg.json("/api/v1/slos")["slos"]]
        check_equal(sorted(slos), ["checkout-90", "checkout-99.9", "search-99"], "SLOs after reload")
        f = self.seed.first
        j = self.agg.json(f"/api/v1/slis/search/counts?from={f}&to={f + 600}")
        check_equal((j["good"], j["bad"], j["excluded"]), (0, 0, 0), "new SLI has no data yet")

    def it_oversize_headers_get_431(self):
        req = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 10000 + b"\r\n\r\n"
        out = raw(self.agg.http, req)
        assert out.startswith(b"HTTP/1.1 431 "), out[:80]

    def it_other_methods_get_405(self):
        out = raw(self.agg.http, b"POST /api/v1/slis HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        assert out.startswith(b"HTTP/1.1 405 "), out[:80]
        assert b"Allow: GET, HEAD" in out

    def it_routes_answer_unknown_paths_bad_names_and_heads_as_before(self):
        """The routing contract the route table keeps: 404 bodies, name errors, HEAD, 405."""
        def error(path, status, msg):
            code, headers, body = self.agg.get(path)
            check_equal((code, headers.get("Content-Type"), json.loads(body)),
                        (status, "application/json", {"error": msg, "status": status}), path)
        for path in ("/api/v1/nothing-here", "/healthz/", "/index.htm", "/api/v1/slos/",
                     "/api/v1/slos/checkout-90/x", "/api/v1/slos/a/b/series",
                     "/api/v1/slis/a/b/counts", "/api/v1/slis//counts", "/api/v1/slis/a",
                     "/metrics/", "//healthz"):
            error(path, 404, "no such endpoint")
        error("/api/v1/slis/" + "n" * 300 + "/counts?from=0&to=600", 404,
              "unknown SLI (name too long)")
        error("/api/v1/slos/%zz", 400, "bad percent-encoding in the SLI name")
        error("/api/v1/slos/%zz/series?from=0&to=600&step=60", 400,
              "bad percent-encoding in the SLI name")
        error("/api/v1/slos/nope", 404, "unknown SLO")
        error("/api/v1/slos/nope/series?from=0&to=600&step=60", 404, "unknown SLO")
        check_equal(self.agg.json("/healthz?x=1"), {"status": "ok"}, "healthz with a query")
        csp = ("default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'")
        for path in ("/", "/index.html", "/?x=1"):
            status, headers, body = self.agg.get(path)
            check_equal((status, headers["Content-Type"], headers["Content-Security-Policy"]),
                        (200, "text/html; charset=utf-8", csp), path)
        for path in ("/", "/healthz", "/readyz", "/api/v1/nothing-here", "/api/v1/slis",
                     "/api/v1/slos", "/api/v1/slos/checkout-90"):
            g_status, g_headers, g_body = self.agg.get(path)
            status, headers, body = self.agg.get(path, method="HEAD")
            check_equal((status, headers["Content-Type"], body),
                        (g_status, g_headers["Content-Type"], b""), "HEAD " + path)
            if path not in ("/api/v1/slis", "/api/v1/slos", "/api/v1/slos/checkout-90"):
                check_equal(headers["Content-Length"], str(len(g_body)), "HEAD length " + path)
        for req in (b"DELETE /healthz HTTP/1.1\r\n\r\n", b"PUT /nope HTTP/1.1\r\n\r\n",
                    b"OPTIONS / HTTP/1.1\r\n\r\n"):
            out = raw(self.agg.http, req)
            assert out.startswith(b"HTTP/1.1 405 ") and b"\r\nAllow: GET, HEAD\r\n" in out, out
            body = out.split(b"\r\n\r\n", 1)[1]
            check_equal(json.loads(body), {"error": "Method Not Allowed", "status": 405}, req)

    def it_slowloris_headers_are_closed_after_the_timeout(self):
        with socket.create_connection(("127.0.0.1", self.agg.http)) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\n")
            t0 = time.time()
            closed = False
            while time.time() - t0 < 12:
                try:
                    s.sendall(b"X-A: b\r\n")
                except OSError:
                    closed = True
                    break
                s.settimeout(0.5)
                try:
                    if s.recv(100) == b"":
                        closed = True
                        break
                except socket.timeout:
                    pass
            elapsed = time.time() - t0
        assert closed, "connection still open after 12 s"
        assert 4.0 <= elapsed <= 8.0, f"closed after {elapsed:.1f}s, want about 5 s"

    def it_zz_redis_killed_gives_503_then_recovers(self):
        f = self.seed.first
        path = f"/api/v1/slis/checkout/counts?from={f}&to={f + 600}"
        self.redis.kill9()
        wait_for(lambda: self.agg.get("/readyz")[0] == 503, what="/readyz 503")
        j = self.agg.json(path, want=503)
        check_equal(j["status"], 503, "status field")
        self.agg.json("/api/v1/slis", want=503)
        s = parse_metrics(self.agg.get("/metrics")[2].decode())
        check_equal(s[("slitail_api_redis_up", ())], 0, "api redis up")
        self.redis.start()
        from api_common import redis_pipe
        redis_pipe(self.redis.port, self.seed.commands())
        wait_for(lambda: self.agg.get("/readyz")[0] == 200, timeout=15, what="/readyz 200")
        j = self.agg.json(path)
        check_equal(j["good"], self.seed.brute(f, f + 600)[0], "good after recovery")


if __name__ == "__main__":
    t = ApiHttp()
    try:
        t.run_all()
    finally:
        t.agg.stop()
        t.redis.stop()
        t.tmp.cleanup()
