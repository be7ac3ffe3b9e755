#!/usr/bin/env python3
"""Deterministic generator of realistic access logs for the examples and the benchmark.

  gen_log.py nginx_timed --lines N --start 2026-03-01T00:00:00 --span 86400 [--incident] > FILE
  gen_log.py alb --lines N --start ... --span ... > FILE
  gen_log.py examples DIR          writes DIR/access.log.1.gz, DIR/access.log and DIR/app.log

nginx_timed is nginx's combined format plus "$request_time $upstream_response_time":
  $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
  "$http_referer" "$http_user_agent" $request_time $upstream_response_time

The output depends only on the arguments (fixed seed, fixed times), so files can be re-made
byte for byte. Mix: ~2% 5xx, ~3% 4xx (plus the malformed requests, which are 400s), the rest
2xx/3xx; user agents with nginx's \\xHH escapes; some lines with two upstream times
("0.010, 0.020" after a retry) or none ("-"); IPv6 clients; HTTP/2.0; websockets (101);
malformed requests ("-" 408, TLS bytes logged as \\x16\\x03..., a bare "hello").
With --incident a 10-minute window in the middle of the span has ~35% 5xx on the
checkout API and slow searches. --error-rate sets the 5xx share outside it (`make demo`'s 30
days of history use a healthy 0.03%).
"""
import argparse
import datetime
import gzip
import io
import os
import random
import sys

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

UAS = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "curl/8.4.0",
    "Go-http-client/2.0",
    "python-requests/2.31.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    # nginx writes '"' and '\' and non-ASCII bytes as \xHH
    "Mozilla/5.0 \\x22quoted\\x22 agent (evil\\x5Cbackslash)",
    "Opera/9.80 \\xD0\\x9F\\xD1\\x80\\xD0\\xB8\\xD0\\xB2\\xD0\\xB5\\xD1\\x82",
    "-",
]
REFERERS = ["-", "-", "-", "https://shop.example.com/", "https://www.google.com/",
            "https://shop.example.com/search?q=shoes", "https://t.co/abc"]
SEARCH_TERMS = ["shoes", "red+dress", "laptop", "caf%C3%A9", "a%22b", "usb-c+cable", "tent"]


def fmt_clf(ts):
    t = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)
    return "%02d/%s/%04d:%02d:%02d:%02d +0000" % (t.day, MONTHS[t.month - 1], t.year, t.hour,
                                                  t.minute, t.second)


def fmt_iso(ts, us):
    t = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (t.year, t.month, t.day, t.hour, t.minute,
                                                   t.second, us)


def client(r):
    x = r.random()
    if x < 0.08:
        return "2001:db8:%x:%x::%x" % (r.randrange(65536), r.randrange(65536), r.randrange(65536))
    if x < 0.5:
        return "203.0.113.%d" % r.randrange(1, 255)
    if x < 0.8:
        return "198.51.100.%d" % r.randrange(1, 255)
    return "192.0.2.%d" % r.randrange(1, 255)


def pick_request(r):
    """(method, target, kind) where kind decides latency and error behaviour."""
    x = r.random()
    if x < 0.10:
        return "POST", "/api/checkout", "checkout"
    if x < 0.30:
        return "GET", "/search?q=%s&page=%d" % (r.choice(SEARCH_TERMS), r.randrange(1, 5)), "search"
    if x < 0.42:
        return "GET", "/api/cart/%d" % r.randrange(1, 100000), "api"
    if x < 0.50:
        return "PUT", "/api/cart/%d/items" % r.randrange(1, 100000), "api"
    if x < 0.72:
        return "GET", r.choice(["/static/app.js", "/static/app.css", "/static/logo.png",
                                "/favicon.ico"]), "static"
    if x < 0.90:
        return "GET", "/product/%d" % r.randrange(1, 50000), "page"
    if x < 0.95:
        return "GET", "/", "page"
    return "GET", "/healthz", "health"


class Gen:
    def __init__(self, seed, start, span, n, incident, incident_at=None, error_rate=0.02,
                 slow_share=0.03):
        self.r = random.Random(seed)
        self.error_rate = error_rate
        self.slow_share = slow_share
        self.start = start
        self.span = span
        self.n = n
        self.incident = incident
        mid = start + span // 2 if incident_at is None else incident_at
        self.inc_lo = mid - (mid % 60)
        self.inc_hi = self.inc_lo + 600

    def ts(self, i):
        # evenly spread with jitter, never decreasing by more than a second (as real logs are)
        base = self.start + (i * self.span) // self.n
        return base - (1 if self.r.random() < 0.02 and base > self.start else 0)

    def in_incident(self, ts):
        return self.incident and self.inc_lo <= ts < self.inc_hi

    def status_for(self, kind, ts):
        r = self.r
        x = r.random()
        if self.in_incident(ts) and kind == "checkout" and r.random() < 0.35:
            return r.choice([500, 502, 503, 503, 504])
        if x < self.error_rate:
            return r.choice([500, 502, 502, 503, 504])
        if x < self.error_rate + 0.03:
            return r.choice([404, 404, 404, 403, 401, 429, 499, 400])
        if kind == "static" and r.random() < 0.2:
            return 304
        if kind == "page" and r.random() < 0.03:
            return 301
        if kind == "checkout":
            return r.choice([200, 201])
        return 200

    def latency(self, kind, status, ts):
        r = self.r
        if kind == "static":
            return r.expovariate(1 / 0.002)
        if kind == "health":
            return 0.001
        base = {"checkout": 0.120, "search": 0.090, "api": 0.040, "page": 0.060}[kind]
        v = r.lognormvariate(0, 0.6) * base
        if kind == "search" and r.random() < self.slow_share:
            v += r.uniform(0.3, 1.2)
        if kind == "search" and self.in_incident(ts):
            v += r.uniform(0.25, 1.5)
        if status == 504:
            v = 60.0 + r.random() * 0.01
        return v

    def nginx_timed(self, i):
        r = self.r
        ts = self.ts(i)
        c = client(r)
        x = r.random()
        ua = r.choice(UAS)
        ref = r.choice(REFERERS)
        if x < 0.004:
            # malformed requests nginx still logs
            req, status, size, rt, up = r.choice([
                ("-", 408, 0, "0.000", "-"),
                ("\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xFC\\x03\\x03", 400, 157, "0.001", "-"),
                ("hello", 400, 157, "0.000", "-"),
                ("GET /a b c HTTP/1.1", 400, 157, "0.000", "-"),
            ])
            return '%s - - [%s] "%s" %d %d "-" "-" %s %s\n' % (c, fmt_clf(ts), req, status, size,
                                                             rt, up)
        if x < 0.006:
            req = "GET /ws/notifications HTTP/1.1"
            rt = r.uniform(5, 300)
            return '%s - - [%s] "%s" 101 %d "-" "%s" %.3f %.3f\n' % (c, fmt_clf(ts), req,
                                                                   r.randrange(100, 9000), ua,
                                                                   rt, rt)
        method, target, kind = pick_request(r)
        status = self.status_for(kind, ts)
        proto = "HTTP/2.0" if r.random() < 0.3 else "HTTP/1.1"
        lat = self.latency(kind, status, ts)
        if kind == "static" or status in (301, 304) or (status >= 400 and status < 500 and
                                                        r.random() < 0.5):
            up = "-"
            if status == 499:
                up = "%.3f" % lat
        elif status == 502 and r.random() < 0.5:
            # first upstream refused, the retry answered (or failed again)
            a = r.uniform(0.001, 0.010)
            b = lat
            up = "%.3f, %.3f" % (a, b)
            lat = a + b + 0.001
        else:
            up = "%.3f" % max(0.0, lat - 0.001)
        size = 0 if status in (301, 304) or status >= 500 else r.randrange(200, 60000)
        user = "-" if r.random() < 0.98 else "alice"
        return '%s - %s [%s] "%s %s %s" %d %d "%s" "%s" %.3f %s\n' % (
            c, user, fmt_clf(ts), method, target, proto, status, size, ref, ua, lat, up)

    def app(self, i):
        """The shop's app server log, read with the user format 'shop_app' of
        examples/slitail.yaml: ISO time, host, method, path, status, ms, tenant."""
        r = self.r
        ts = self.ts(i)
        method, target, kind = pick_request(r)
        if kind in ("static", "page"):
            method, target, kind = "GET", "/api/cart/%d" % r.randrange(1, 100000), "api"
        status = self.status_for(kind, ts)
        lat = self.latency(kind, status, ts) * 1000.0
        tenant = r.choice(["acme", "acme", "globex", "initech", "internal"])
        host = "app-%s" % r.choice(["7f9c", "81ab", "c03d"])
        return "%s %s %s %s %d %.1f tenant=%s\n" % (fmt_iso(ts, r.randrange(1000) * 1000)[:-4] + "Z",
                                                  host, method, target.split("?")[0], status,
                                                  lat, tenant)

    def alb(self, i):
        r = self.r
        ts = self.ts(i)
        us = r.randrange(1000000)
        c = client(r)
        port = r.randrange(1024, 65535)
        cl = ("[%s]" % c if ":" in c else c) + ":%d" % port
        method, target, kind = pick_request(r)
        typ = r.choice(["http", "https", "https", "h2"])
        proto = "HTTP/2.0" if typ == "h2" else "HTTP/1.1"
        host = "shop.example.com"
        scheme = "http" if typ == "http" else "https"
        port_s = "80" if typ == "http" else "443"
        req = "%s %s://%s:%s%s %s" % (method, scheme, host, port_s, target, proto)
        ua = r.choice(UAS[:9])
        tgt = "10.0.%d.%d:8080" % (r.randrange(0, 4), r.randrange(2, 250))
        x = r.random()
        err = "-"
        if x < 0.003:
            # client closed before the target answered, or the target timed out
            elb, tstat = r.choice([(460, "-"), (504, "-")])
            rp = tp = sp = "-1"
            tgt_s = "-" if elb == 460 else tgt
        else:
            elb = self.status_for(kind, ts)
            tstat = str(elb)
            if elb == 502 and r.random() < 0.5:
                tstat = "-"
                err = "TargetConnectionError"
            lat = self.latency(kind, elb, ts)
            rp = "%.6f" % (r.random() * 0.0001)
            tp = "%.6f" % lat if tstat != "-" else "-1"
            sp = "%.6f" % (r.random() * 0.0001)
            tgt_s = tgt
        ssl = "-" if typ == "http" else "ECDHE-RSA-AES128-GCM-SHA256"
        sslp = "-" if typ == "http" else "TLSv1.2"
        tg = "arn:aws:elasticloadbalancing:eu-central-1:123456789012:targetgroup/web/73e2d6bc24d8a067"
        trace = "Root=1-%08x-%024x" % (ts, r.getrandbits(96))
        cert = "-" if typ == "http" else "arn:aws:acm:eu-central-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
        return ('%s %s app/web-lb/50dc6c495c0c9188 %s %s %s %s %s %d %s %d %d "%s" "%s" %s %s %s '
                '"%s" "%s" "%s" 0 %s "forward" "-" "%s" "%s" "%s" "-" "-"\n') % (
            typ, fmt_iso(ts, us), cl, tgt_s, rp, tp, sp, elb, tstat, r.randrange(100, 2000),
            r.randrange(100, 60000), req, ua, ssl, sslp, tg, trace, host, cert,
            fmt_iso(ts, max(0, us - 1000)), err, tgt_s, tstat)


def parse_start(s):
    t = datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return int(t.timestamp())


def write_lines(out, g, kind, lo, hi):
    f = {"nginx_timed": g.nginx_timed, "alb": g.alb, "app": g.app}[kind]
    chunk = []
    for i in range(lo, hi):
        chunk.append(f(i))
        if len(chunk) >= 4096:
            out.write("".join(chunk))
            chunk = []
    out.write("".join(chunk))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["nginx_timed", "alb", "app", "examples"])
    ap.add_argument("dir", nargs="?", help="output directory (examples)")
    ap.add_argument("--lines", type=int, default=2000000)
    ap.add_argument("--start", default="2026-03-01T00:00:00")
    ap.add_argument("--span", type=int, default=86400, help="seconds covered")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--incident", action="store_true")
    ap.add_argument("--error-rate", type=float, default=0.02,
                    help="share of 5xx outside the incident (default 0.02)")
    ap.add_argument("--slow-share", type=float, default=0.03,
                    help="share of searches 0.3-1.2 s slower outside the incident (default 0.03)")
    a = ap.parse_args()

    if a.kind == "examples":
        if not a.dir:
            ap.error("examples needs a directory")
        # 3 hours on 10 Oct 2026, 6000 lines; the older 2 hours were rotated and gzipped.
        # The incident is 13:30-13:40 UTC, in the current file.
        n, start, span = 6000, parse_start("2026-10-10T11:00:00"), 3 * 3600
        g = Gen(7, start, span, n, incident=True, incident_at=start + 150 * 60)
        split = (n * 2) // 3
        os.makedirs(a.dir, exist_ok=True)
        old = os.path.join(a.dir, "access.log.1.gz")
        # mtime=0 keeps the .gz byte-identical from run to run
        with open(old, "wb") as raw:
            with gzip.GzipFile(filename="access.log.1", mode="wb", fileobj=raw, mtime=0) as gz:
                w = io.TextIOWrapper(gz, encoding="utf-8", newline="\n")
                write_lines(w, g, "nginx_timed", 0, split)
                w.flush()
                w.detach()
        with open(os.path.join(a.dir, "access.log"), "w", encoding="utf-8", newline="\n") as w:
            write_lines(w, g, "nginx_timed", split, n)
        # the app servers behind it, the last hour (same incident)
        g = Gen(11, start + 2 * 3600, 3600, 1500, incident=True, incident_at=start + 150 * 60)
        with open(os.path.join(a.dir, "app.log"), "w", encoding="utf-8", newline="\n") as w:
            write_lines(w, g, "app", 0, 1500)
        return 0

    g = Gen(a.seed, parse_start(a.start), a.span, a.lines, a.incident, error_rate=a.error_rate,
            slow_share=a.slow_share)
    out = sys.stdout
    write_lines(out, g, a.kind, 0, a.lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
