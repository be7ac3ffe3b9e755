"""Authentication, secure by default (issue 7) and pressure before authentication (issue 11
item 7) on a real slitail-aggregator: the API with and without its bearer token (over HTTPS
too), refusal to start unauthenticated, failed agent authentications throttled per address and
logged once per interval, silent sockets that cannot lock agents out, /healthz through a full
API, and the agent's status endpoint behind its own token."""
import re
import socket
import ssl
import time
import urllib.error
import urllib.request

import agent_testlib as L
import certs
import slt_harness as h
import slt_proto as p
from slt_aggr import TOKEN, Aggregator

API_TOKEN = "api-s3cret-42"


def get(url, token=None, ctx=None, timeout=5):
    """(status, headers, body) of a GET."""
    req = urllib.request.Request(url)
    if token is not None:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=ctx) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def metric(text, name, labels=""):
    m = re.search(r"^%s%s (\S+)$" % (re.escape(name), re.escape(labels)), text, re.M)
    return float(m.group(1)) if m else 0.0


class AuthTest(h.TestCase):
    def it_requires_the_api_token_on_every_path_but_healthz_over_https(self):
        tmp = h.TempDir("slt-auth-")
        redis = h.Redis(tmp)
        try:
            ca = certs.CA(tmp)
            cert, key = ca.issue("aggregator.test", dns=["localhost"], ips=["127.0.0.1"])
            tok = tmp.write("api-token", API_TOKEN + "\n")
            aggr = Aggregator(tmp, redis.url, extra=(
                f"  api_token_file: {tok}\n"
                f"  http_tls: {{cert_file: '{cert}', key_file: '{key}'}}\n"))
            aggr.wait_redis()
            ctx = ca.client_context()
            base = "https://localhost:%d" % aggr.http_port
            h.wait_for(lambda: get(base + "/healthz", ctx=ctx)[0] == 200, what="https up")
            for path in ("/api/v1/slis", "/metrics", "/readyz", "/", "/api/v1/slos"):
                code, hdrs, body = get(base + path, ctx=ctx)
                h.check_equal(code, 401, "%s without a token" % path)
                h.check_equal(hdrs.get("WWW-Authenticate"), 'Bearer realm="slitail"', path)
                h.check_equal(get(base + path, token="wrong", ctx=ctx)[0], 401,
                              "%s with a wrong token" % path)
            h.check_equal(get(base + "/api/v1/slis", token=API_TOKEN, ctx=ctx)[0], 200,
                          "with the token")
            code, _, text = get(base + "/metrics", token=API_TOKEN, ctx=ctx)
            h.check_equal(code, 200, "metrics with the token")
            if metric(text, "slitail_api_auth_failures_total") < 10:
                raise AssertionError("401s not counted:\n" + text)
            if metric(text, "slitail_tls_handshakes_total", '{listener="http"}') < 1:
                raise AssertionError("https handshakes not counted")
            # plain HTTP on the HTTPS port: no answer, a counted failure
            with socket.create_connection(("127.0.0.1", aggr.http_port), timeout=5) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                s.settimeout(5)
                got = s.recv(100)
                if got.startswith(b"HTTP/"):
                    raise AssertionError("plain HTTP answered on the HTTPS port: %r" % got)
            text = get(base + "/metrics", token=API_TOKEN, ctx=ctx)[2]
            h.check_equal(metric(text, "slitail_tls_handshake_failures_total",
                                 '{listener="http",reason="plaintext"}') >= 1, True,
                          "plaintext on https counted")
            if API_TOKEN in aggr.log():
                raise AssertionError("the API token was logged")
            h.check_equal(aggr.term(), 0, "exit status")
        finally:
            redis.stop()
            tmp.cleanup()

    def it_checks_the_token_before_routing_and_after_the_method(self):
        tmp = h.TempDir("slt-auth-")
        redis = h.Redis(tmp)
        try:
            tok = tmp.write("api-token", API_TOKEN + "\n")
            aggr = Aggregator(tmp, redis.url, extra=f"  api_token_file: {tok}\n")
            base = "http://127.0.0.1:%d" % aggr.http_port
            h.wait_for(lambda: get(base + "/healthz")[0] == 200, what="http up")
            h.check_equal(get(base + "/healthz?probe=1")[0], 200, "/healthz with a query")
            for path in ("/nope", "/healthz/", "/api/v1/slis/%zz/counts", "/index.html"):
                code, hdrs, body = get(base + path)
                h.check_equal((code, hdrs.get("WWW-Authenticate"), body),
                              (401, 'Bearer realm="slitail"',
                               '{"error": "a bearer token is required", "status": 401}'), path)
            h.check_equal(get(base + "/nope", token=API_TOKEN)[0], 404, "/nope with the token")
            req = urllib.request.Request(base + "/api/v1/slis", method="HEAD")
            try:
                urllib.request.urlopen(req, timeout=5)
                raise AssertionError("HEAD without a token answered 2xx")
            except urllib.error.HTTPError as e:
                h.check_equal((e.code, e.read()), (401, b""), "HEAD without a token")
            with socket.create_connection(("127.0.0.1", aggr.http_port), timeout=5) as s:
                s.sendall(b"POST /api/v1/slis HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
                got = s.recv(4096)
            if not got.startswith(b"HTTP/1.1 405 ") or b"Allow: GET, HEAD" not in got:
                raise AssertionError("POST without a token: %r" % got)
            h.check_equal(aggr.term(), 0, "exit status")
        finally:
            redis.stop()
            tmp.cleanup()

    def it_refuses_to_start_unauthenticated_unless_told(self):
        tmp = h.TempDir("slt-auth-")
        try:
            def check(text):
                cfg = tmp.write("c.yaml", "aggregator:\n" + text)
                return h.run([h.binary("slitail-aggregator"), "-c", cfg, "--check"])
            r = check("  listen: 127.0.0.1:7433\n")
            h.check_equal(r.returncode, 2, "no token, no client CA")
            if "neither token_file nor tls.client_ca_file" not in r.stderr:
                raise AssertionError("unclear: " + r.stderr)
            h.check_equal(check("  allow_unauthenticated: true\n").returncode, 0, "allowed")
            tok = tmp.write("t", "x\n")
            r = check(f"  token_file: {tok}\n  http_listen: 0.0.0.0:7480\n")
            h.check_equal(r.returncode, 2, "public API without a token")
            if "api_token_file" not in r.stderr:
                raise AssertionError("unclear: " + r.stderr)
            r = check(f"  token_file: {tok}\n  http_listen: 0.0.0.0:7480\n"
                      "  allow_unauthenticated_api: true\n")
            h.check_equal(r.returncode, 0, "public API allowed: " + r.stderr)
            r = check(f"  token_file: {tok}\n  http_listen: 0.0.0.0:7480\n"
                      f"  api_token_file: {tok}\n")
            h.check_equal(r.returncode, 0, "public API with a token: " + r.stderr)
        finally:
            tmp.cleanup()

    def it_throttles_failed_authentications_per_address(self):
        tmp = h.TempDir("slt-auth-")
        redis = h.Redis(tmp)
        try:
            aggr = Aggregator(tmp, redis.url)
            aggr.wait_redis()
            answers = []
            for i in range(12):
                try:
                    c = p.ProtoClient("127.0.0.1", aggr.port, "wrong-%d" % i, "mallory", 1,
                                      timeout=3)
                    answers.append(c.hello())
                    c.close()
                except (OSError, ValueError) as e:
                    answers.append(repr(e))
            errors = [a for a in answers if isinstance(a, dict)]
            h.check_equal(len(errors), 5, "ERROR answers before the address is refused")
            for a in errors:
                h.check_equal(a, {"t": p.ERROR, "msg": "authentication failed"}, "answer")
            # another address is not affected
            s = socket.socket()
            s.bind(("127.0.0.2", 0))
            s.settimeout(5)
            s.connect(("127.0.0.1", aggr.port))
            s.sendall(p.hello("good", 1, TOKEN))
            h.check_equal(p.recv_frame(s)["t"], p.WELCOME, "a good agent from 127.0.0.2")
            s.close()
            log = aggr.log()
            lines = [x for x in log.splitlines() if "mallory" in x or "refusing connections" in x]
            if len(lines) > 2:
                raise AssertionError("not logged once per interval:\n" + "\n".join(lines))
            if "refusing connections from 127.0.0.1" not in log:
                raise AssertionError("the refusal is not logged:\n" + log)
            for i in range(12):
                if ("wrong-%d" % i) in log:
                    raise AssertionError("a token was logged")
            code, _, text = get("http://127.0.0.1:%d/metrics" % aggr.http_port)
            h.check_equal(metric(text, "slitail_aggregator_auth_failures_total"), 5.0,
                          "auth failures")
            h.check_equal(metric(text, "slitail_aggregator_auth_throttled_total") >= 7, True,
                          "throttled connections counted")
            h.check_equal(aggr.term(), 0, "exit status")
        finally:
            redis.stop()
            tmp.cleanup()

    def it_keeps_agents_and_probes_in_through_silent_sockets(self):
        tmp = h.TempDir("slt-auth-")
        redis = h.Redis(tmp)
        held = []
        try:
            aggr = Aggregator(tmp, redis.url, extra="  max_agents: 2\n")
            aggr.wait_redis()
            # more silent sockets than the pre-authentication cap (64 here), on both listeners
            for _ in range(300):
                held.append(socket.create_connection(("127.0.0.1", aggr.port), timeout=5))
            for _ in range(300):
                held.append(socket.create_connection(("127.0.0.1", aggr.http_port), timeout=5))
            time.sleep(1.2)  # the strangers have waited long enough to be evicted
            c = p.ProtoClient("127.0.0.1", aggr.port, TOKEN, "real", 1)
            h.check_equal(c.hello()["t"], p.WELCOME, "a real agent among 300 silent sockets")
            c.close()
            for path in ("/healthz", "/readyz"):
                h.check_equal(get("http://127.0.0.1:%d%s" % (aggr.http_port, path))[0], 200,
                              path + " with the API full")
            text = get("http://127.0.0.1:%d/metrics" % aggr.http_port)[2]
            if metric(text, "slitail_aggregator_preauth_refused_total") < 1:
                raise AssertionError("pre-authentication evictions not counted:\n" + text)
            if metric(text, "slitail_aggregator_connections_refused_total") != 0:
                raise AssertionError("silent sockets counted against max_agents")
            h.check_equal(aggr.term(), 0, "exit status")
        finally:
            for s in held:
                s.close()
            redis.stop()
            tmp.cleanup()

    def it_serves_the_agent_status_on_any_address_with_a_token(self):
        tmp = h.TempDir("slt-auth-")
        try:
            ca = certs.CA(tmp)
            cert, key = ca.issue("web-1.test", dns=["localhost"], ips=["127.0.0.1"])
            tok = tmp.write("status-token", "st4tus-tok\n")
            hp = h.free_port()
            cfg = L.agent_config(tmp, h.free_port(), [tmp.join("access.log")], extra_agent=(
                f"  status_listen: 0.0.0.0:{hp}\n  status_token_file: {tok}\n"
                f"  status_tls: {{cert_file: '{cert}', key_file: '{key}'}}\n"))
            a = L.Agent(tmp, cfg).start()
            a.wait_started()
            ctx = ca.client_context()
            url = "https://localhost:%d/metrics" % hp
            h.wait_for(lambda: get(url, token="st4tus-tok", ctx=ctx)[0] == 200, what="status up")
            code, hdrs, _ = get(url, ctx=ctx)
            h.check_equal(code, 401, "status without the token")
            h.check_equal(hdrs.get("WWW-Authenticate"), 'Bearer realm="slitail-agent"', "header")
            h.check_equal(get(url, token="nope", ctx=ctx)[0], 401, "wrong token")
            code, _, body = get("https://localhost:%d/status" % hp, token="st4tus-tok", ctx=ctx)
            h.check_equal(code, 200, "status with the token")
            h.check_equal('"agent_id": "web-1"' in body, True, body[:200])
            h.check_equal(a.term(), 0, "agent exit code")
        finally:
            L.kill_all()
            tmp.cleanup()


if __name__ == "__main__":
    AuthTest().run_all()
