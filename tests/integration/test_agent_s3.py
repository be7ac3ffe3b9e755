"""The agent's S3 input against a real S3-compatible server (s3rver from npm, pinned by
tests/s3/package-lock.json, started here on a free loopback port): ALB objects laid out as AWS
does, objects landing while the agent runs (some with keys before ones already read), kill -9
in the middle of an object, credentials from the environment, the shared credentials file and
a fake instance metadata service (IMDSv2); totals equal `slitail check` on the same files."""
import gzip
import hashlib
import hmac
import http.client
import http.server
import json
import os
import subprocess
import threading
import time
import urllib.parse

import agent_testlib as L
import slt_harness as H

S3_DIR = os.path.join(H.SRC, "tests", "s3")
ACCOUNT = "123456789012"
REGION = "eu-central-1"
PREFIX = "AWSLogs/%s/elasticloadbalancing/%s/" % (ACCOUNT, REGION)
LB = "app.web-lb.50dc6c495c0c9188"
KEY_ID, SECRET = "S3RVER", "S3RVER"  # s3rver's built-in account

SLIS = """slis:
  - name: lb-availability
    input: alb
    exclude: { status: 4xx }
    bad: { status: 5xx }
  - name: lb-latency
    input: alb
    exclude: { status: '^[45]' }
    bad: { latency_over: 200ms }
"""
SLI_NAMES = ("lb-availability", "lb-latency")


def s3rver_bin():
    b = os.path.join(S3_DIR, "node_modules", ".bin", "s3rver")
    if not os.path.exists(b):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=S3_DIR,
                       check=True, timeout=300)
    return b


class S3Server:
    def __init__(self, tmp, bucket="logs"):
        self.port = H.free_port()
        self.bucket = bucket
        os.makedirs(tmp.join("s3data"))
        self.proc = H.Proc([s3rver_bin(), "-d", tmp.join("s3data"), "-a", "127.0.0.1",
                            "-p", str(self.port), "--configure-bucket", bucket, "--silent"],
                           tmp.join("s3rver.log"))
        H.wait_port(self.port, timeout=30)
        self.url = "http://127.0.0.1:%d" % self.port

    def put(self, key, data, tmp):
        path = tmp.join("upload.bin")
        with open(path, "wb") as f:
            f.write(data)
        r = H.run(["curl", "-sS", "-f", "--aws-sigv4", "aws:amz:%s:s3" % REGION,
                   "-u", "%s:%s" % (KEY_ID, SECRET), "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
                   "-T", path, "%s/%s/%s" % (self.url, self.bucket, key)])
        if r.returncode != 0:
            raise AssertionError("upload of %s failed: %s" % (key, r.stderr))

    def stop(self):
        if self.proc.alive():
            self.proc.kill9()


def alb_key(day, hhmm, node):
    return "%s%s/%s_elasticloadbalancing_%s_%s_%sT%sZ_10.0.0.%d_%08x.log.gz" % (
        PREFIX, day.replace("-", "/"), ACCOUNT, REGION, LB, day.replace("-", ""), hhmm, node,
        node * 2654435761 % (1 << 32))


class Objects:
    """ALB log objects: each made with bench/gen_log.py, kept as a local file too, so that
    `slitail check` can count the same bytes."""

    def __init__(self, tmp, s3):
        self.tmp, self.s3 = tmp, s3
        self.files = []
        os.makedirs(tmp.join("objects"))
        self.day = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 3 * 3600))

    def put(self, hhmm, node, lines, seed_span=300):
        key = alb_key(self.day, hhmm, node)
        start = "%sT%s:%s:00" % (self.day, hhmm[:2], hhmm[2:])
        r = H.run(["python3", os.path.join(H.SRC, "bench", "gen_log.py"), "alb", "--lines",
                   str(lines), "--start", start, "--span", str(seed_span)])
        if r.returncode != 0:
            raise AssertionError("gen_log failed: %s" % r.stderr)
        # one node's lines differ from another's: keep every line, vary the client port
        data = gzip.compress(r.stdout.replace(" 10.0.", " 10.%d." % node).encode())
        path = self.tmp.join("objects", os.path.basename(key))
        with open(path, "wb") as f:
            f.write(data)
        self.files.append(path)
        self.s3.put(key, data, self.tmp)
        return key


def check_totals(tmp, files):
    """{(sli, 'total'): [g, b, e]} and lines from `slitail check --json` over files."""
    cfg = tmp.write("check.yaml", "inputs:\n  - { name: alb, format: alb, paths: ['%s/*'] }\n%s"
                    % (tmp.join("objects"), SLIS))
    r = H.run([H.binary("slitail"), "check", "-c", cfg, "--json"] + files)
    doc = json.loads(r.stdout)
    want = {name: [0, 0, 0] for name in SLI_NAMES}
    lines = 0
    for f in doc["files"]:
        lines += f["lines"]
        for name in SLI_NAMES:
            s = f["slis"][name]
            for i, k in enumerate(("good", "bad", "excluded")):
                want[name][i] += s[k]
    return want, lines


def agent_totals(fake):
    got = {name: [0, 0, 0] for name in SLI_NAMES}
    for (kind, name, _minute), v in fake.totals().items():
        if kind == 0 and name in got:
            for i in range(3):
                got[name][i] += v[i]
    return got, L.input_totals(fake.totals(), "alb")[0]


def wait_equal_to_check(tmp, fake, objs, timeout=90):
    # 90 s: one request stalled under load ends at the agent's 30 s request timeout and is
    # retried at the next poll; the wait only lasts this long when something is wrong
    want = check_totals(tmp, objs.files)
    deadline = time.time() + timeout
    while True:
        got = agent_totals(fake)
        if got == want:
            return want
        if time.time() > deadline:
            if os.environ.get("SLT_S3_DEBUG"):
                import shutil
                shutil.copytree(tmp.path, "/tmp/inputs_s3_debug", dirs_exist_ok=True)
            raise AssertionError("agent totals %s != slitail check %s" % (got, want))
        time.sleep(0.1)


def s3_config(tmp, port, s3, extra_s3="", read_from="beginning", extra_agent=""):
    tok = tmp.write("token", L.TOKEN + "\n")
    text = ("agent:\n  id: web-1\n  aggregators: ['127.0.0.1:%d']\n  token_file: %s\n"
            "  state_dir: %s\n  flush_interval: 100ms\n%s"
            "inputs:\n  - name: alb\n    format: alb\n    read_from: %s\n"
            "    s3: { bucket: %s, prefix: '%s', region: %s, endpoint: '%s', "
            "poll_interval: 200ms%s }\n%s") % (port, tok, tmp.join("state"), extra_agent, read_from, s3.bucket,
                                                PREFIX, REGION, s3.url, extra_s3, SLIS)
    return tmp.write("agent.yaml", text)


class FakeImds(http.server.BaseHTTPRequestHandler):
    """IMDSv2 as EC2 answers it: a token PUT, then the role name and its credentials, each
    only with the token."""
    token = "imds-session-token-1"
    seen = []

    def log_message(self, *a):
        pass

    def _send(self, code, body):
        b = body.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def do_PUT(self):
        FakeImds.seen.append(("PUT", self.path))
        if (self.path == "/latest/api/token"
                and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")):
            return self._send(200, self.token)
        return self._send(400, "")

    def do_GET(self):
        FakeImds.seen.append(("GET", self.path))
        if self.headers.get("X-aws-ec2-metadata-token") != self.token:
            return self._send(401, "")
        if self.path == "/latest/meta-data/iam/security-credentials/":
            return self._send(200, "log-reader-role")
        if self.path == "/latest/meta-data/iam/security-credentials/log-reader-role":
            exp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 6 * 3600))
            return self._send(200, json.dumps({
                "Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": KEY_ID,
                "SecretAccessKey": SECRET, "Token": "role-session-token", "Expiration": exp}))
        return self._send(404, "")


def aws_quote(s, safe):
    return urllib.parse.quote(s, safe=safe + "-_.~")


class SigV4Proxy(http.server.BaseHTTPRequestHandler):
    """Checks the AWS Signature Version 4 of every request (header form) with the secret of
    its key id, as AWS does, then forwards it to the S3 server; a bad signature gets 403
    SignatureDoesNotMatch. s3rver itself does not check V4 signatures."""
    upstream = None
    secrets = {KEY_ID: SECRET}
    checked = []  # (path, signed headers) of requests that passed

    def log_message(self, *a):
        pass

    def _fail(self, code, msg):
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code>"
                "<Message>%s</Message></Error>" % (code, msg)).encode()
        self.send_response(403)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            return self._fail("AccessDenied", "no SigV4 authorization")
        parts = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
        key_id, date, region, service, term = parts["Credential"].split("/")
        signed = parts["SignedHeaders"].split(";")
        if key_id not in self.secrets or term != "aws4_request" or service != "s3":
            return self._fail("InvalidAccessKeyId", "unknown key")
        for must in ("host", "x-amz-date", "x-amz-content-sha256"):
            if must not in signed:
                return self._fail("AccessDenied", "%s not signed" % must)
        url = urllib.parse.urlsplit(self.path)
        query = sorted(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        cquery = "&".join("%s=%s" % (aws_quote(k, ""), aws_quote(v, "")) for k, v in query)
        cheaders = "".join("%s:%s\n" % (h, " ".join(self.headers.get(h, "").split()))
                           for h in signed)
        creq = "\n".join([self.command, url.path, cquery, cheaders, ";".join(signed),
                          self.headers.get("x-amz-content-sha256", "")])
        amz_date = self.headers.get("x-amz-date", "")
        scope = "/".join([date, region, service, term])
        sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(creq.encode()).hexdigest()])
        k = ("AWS4" + self.secrets[key_id]).encode()
        for part in (date, region, service, term):
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        want = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, parts.get("Signature", "")):
            return self._fail("SignatureDoesNotMatch", "The request signature we calculated "
                              "does not match the signature you provided.")
        SigV4Proxy.checked.append((url.path, signed))
        c = http.client.HTTPConnection("127.0.0.1", self.upstream, timeout=30)
        c.request("GET", self.path, headers={h: v for h, v in self.headers.items()})
        r = c.getresponse()
        body = r.read()
        self.send_response(r.status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        c.close()


class AgentS3(L.AgentCase):
    prefix = "slt-s3-"

    def setup(self):
        super().setup()
        self.s3 = S3Server(self.tmp)
        self.env = dict(os.environ)
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                  "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE",
                  "AWS_EC2_METADATA_SERVICE_ENDPOINT"):
            os.environ.pop(k, None)
        os.environ["AWS_SHARED_CREDENTIALS_FILE"] = self.tmp.join("no-such-credentials")
        os.environ["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = "http://127.0.0.1:9"

    def teardown(self):
        os.environ.clear()
        os.environ.update(self.env)
        self.s3.stop()
        super().teardown()

    def it_reads_alb_objects_exactly_once_across_late_keys_and_kill_9(self):
        self.setup()
        try:
            os.environ["AWS_ACCESS_KEY_ID"] = KEY_ID
            os.environ["AWS_SECRET_ACCESS_KEY"] = SECRET
            objs = Objects(self.tmp, self.s3)
            objs.put("0005", 1, 300)
            objs.put("0005", 2, 200)
            objs.put("0010", 1, 250)
            # minutes_kept: 2 closes a batch at every new minute of an object (see below)
            cfg = s3_config(self.tmp, self.port, self.s3,
                            extra_agent="  minutes_kept: 2\n  spool_max: 1MiB\n")
            a = L.Agent(self.tmp, cfg).start()
            wait_equal_to_check(self.tmp, self.fake, objs)
            # landing late: a key before the last one read (another node's 00:05), and a new one
            objs.put("0005", 3, 150)
            objs.put("0015", 2, 100)
            wait_equal_to_check(self.tmp, self.fake, objs)
            # kill -9 in the middle of a big object: with the aggregator down the spool fills
            # (one batch per minute of the object) and reading stops inside it
            self.fake.down()
            objs.put("0020", 1, 60000, seed_span=43200)
            H.wait_for(lambda: (lambda s: s and s["backpressure"] and
                                s["inputs"][0]["s3"]["current"])(a.status()), timeout=60,
                       what="reading stopped inside the big object")
            a.kill9()
            self.fake.up()
            a.start()
            wait_equal_to_check(self.tmp, self.fake, objs, timeout=90)
            objs.put("0025", 2, 10)
            st = H.wait_for(lambda: (lambda s: s if s and s["inputs"][0]["s3"]["objects_read"]
                                     >= 1 else None)(a.status()), what="status")
            wait_equal_to_check(self.tmp, self.fake, objs)
            s3 = st["inputs"][0]["s3"]
            H.check_equal(s3["credentials"], "env", "credentials source")
            H.check_equal(s3["errors"], 0, "object errors")
            H.check_equal(a.term(), 0, "exit code")
            if a.output().count("resuming s3://") < 1:
                raise AssertionError("no kill -9 in the middle of an object:\n" + a.output())
            if "S3RVER" in a.output():
                raise AssertionError("a credential appears in the agent's log")
        finally:
            self.teardown()

    def it_takes_role_credentials_from_imdsv2(self):
        self.setup()
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeImds)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            os.environ["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = "http://127.0.0.1:%d" % (
                srv.server_address[1])
            FakeImds.seen = []
            objs = Objects(self.tmp, self.s3)
            objs.put("0005", 1, 100)
            cfg = s3_config(self.tmp, self.port, self.s3)
            a = L.Agent(self.tmp, cfg).start()
            wait_equal_to_check(self.tmp, self.fake, objs)
            st = a.status()
            H.check_equal(st["inputs"][0]["s3"]["credentials"], "imds", "credentials source")
            H.check_equal(FakeImds.seen[0], ("PUT", "/latest/api/token"), "first IMDS request")
            if "role-session-token" in a.output() or FakeImds.token in a.output():
                raise AssertionError("a token appears in the agent's log")
            H.check_equal(a.term(), 0, "exit code")
        finally:
            srv.shutdown()
            self.teardown()

    def it_takes_credentials_from_the_shared_file_and_profile(self):
        self.setup()
        try:
            os.environ["AWS_SHARED_CREDENTIALS_FILE"] = self.tmp.write(
                "credentials", "[default]\naws_access_key_id = WRONG\naws_secret_access_key = x\n"
                "\n[logs]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % (KEY_ID,
                                                                                    SECRET))
            os.environ["AWS_PROFILE"] = "logs"
            objs = Objects(self.tmp, self.s3)
            objs.put("0005", 1, 100)
            cfg = s3_config(self.tmp, self.port, self.s3)
            a = L.Agent(self.tmp, cfg).start()
            wait_equal_to_check(self.tmp, self.fake, objs)
            # a GET answered 400/403 (s3rver under load) clears the credentials until the next
            # request reads them again: wait for the file to be the source, as it must be
            src = H.wait_for(lambda: (lambda c: c if c == "file" else None)(
                a.status()["inputs"][0]["s3"]["credentials"]), timeout=30,
                what="credentials from the shared file")
            H.check_equal(src, "file", "source")
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()

    def it_signs_with_sigv4_and_a_wrong_secret_is_refused(self):
        self.setup()
        SigV4Proxy.upstream = self.s3.port
        SigV4Proxy.checked = []
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SigV4Proxy)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            objs = Objects(self.tmp, self.s3)
            objs.put("0005", 1, 120)
            real_url = self.s3.url
            self.s3.url = "http://127.0.0.1:%d" % srv.server_address[1]
            cfg = s3_config(self.tmp, self.port, self.s3)
            os.environ["AWS_ACCESS_KEY_ID"] = KEY_ID
            os.environ["AWS_SECRET_ACCESS_KEY"] = "not-the-secret"
            a = L.Agent(self.tmp, cfg).start()
            H.wait_for(lambda: "SignatureDoesNotMatch" in a.output(), timeout=20,
                       what="the wrong secret refused")
            H.check_equal(agent_totals(self.fake)[1], 0, "lines read with a wrong secret")
            H.check_equal(a.term(), 0, "exit code")
            os.environ["AWS_SECRET_ACCESS_KEY"] = SECRET
            os.environ["AWS_SESSION_TOKEN"] = "a-session-token"
            a.start()
            self.s3.url = real_url
            wait_equal_to_check(self.tmp, self.fake, objs)
            if not SigV4Proxy.checked:
                raise AssertionError("no request passed the signature check")
            for path, signed in SigV4Proxy.checked:
                if "x-amz-security-token" not in signed:
                    raise AssertionError("the session token is not signed: %s" % signed)
            if "not-the-secret" in a.output() or "a-session-token" in a.output():
                raise AssertionError("a credential appears in the agent's log")
            H.check_equal(a.term(), 0, "exit code")
        finally:
            srv.shutdown()
            self.teardown()

    def it_reads_only_objects_landing_after_the_first_start_with_read_from_end(self):
        self.setup()
        try:
            os.environ["AWS_ACCESS_KEY_ID"] = KEY_ID
            os.environ["AWS_SECRET_ACCESS_KEY"] = SECRET
            objs = Objects(self.tmp, self.s3)
            objs.put("0005", 1, 50)
            last = objs.put("0010", 1, 50)
            cfg = s3_config(self.tmp, self.port, self.s3, read_from="end")
            a = L.Agent(self.tmp, cfg).start()
            H.wait_for(lambda: (lambda s: s and s["inputs"][0]["s3"]["floor"] == last)(
                a.status()), what="the floor at the last existing key")
            objs.files = []
            objs.put("0015", 1, 70)
            wait_equal_to_check(self.tmp, self.fake, objs)
            # a reload keeps the S3 input's place
            a.signal(L.SIGHUP)
            H.wait_for(lambda: "reloaded" in a.output(), what="reload")
            objs.put("0020", 1, 40)
            wait_equal_to_check(self.tmp, self.fake, objs)
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()


if __name__ == "__main__":
    AgentS3().run_all()
