#!/usr/bin/env python3
"""Benchmark input for the built-in formats of issue 10: N lines cycled from the real sample
lines the unit tests cite (tests/unit/test_parser_formats.c has the sources), with the time of
each line moved forward so that minutes change as in a live log.

    bench/format_samples.py FORMAT --lines N > file

FORMAT: haproxy_http envoy traefik_json ingress_nginx cloudfront w3c. w3c and cloudfront
files start with their #Version / #Fields header lines.
"""
import argparse
import datetime
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
T0 = datetime.datetime(2026, 3, 1, tzinfo=datetime.timezone.utc)

HAPROXY = [
    'Feb  6 12:14:14 localhost haproxy[14389]: 10.0.1.2:33317 [{clf_ms}] http-in static/srv1 '
    '10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 {{1wt.eu}} {{}} "GET /index.html HTTP/1.1"',
    'Feb 25 16:19:49 192.168.4.2 haproxy[7]: 141.35.244.171:53332 [{clf_ms}] prod_http_in~ '
    'bk_admin/nginx_sonst 0/0/7/1457/1487 200 11394 - - ---- 2/1/0/0/0 0/0 {{Mozilla/5.0 '
    '(Windows NT 6.1; Win64; x64; rv:65.0) Gecko/20100101 Firefox/65.0}} {{}} "GET '
    '/admin/colt/administration?survey=130&input_stats=1&ajax=1&&ajax=1&refresh=1&ihandle=1 '
    'HTTP/1.1"',
    'Feb 25 16:19:49 192.168.4.2 haproxy[7]: 92.193.212.151:59841 [{clf_ms}] prod_http_in~ '
    'bk_ktest_kt/nginx_sonst 0/0/0/62/62 200 306 - - ---- 3/2/0/0/0 0/0 {{Mozilla/5.0 '
    '(Macintosh; Intel Mac OS X 10_13_6) AppleWebKit/537.36 (KHTML, like Gecko) '
    'Chrome/72.0.3626.109 Safari/537.36}} {{}} "POST '
    '/portal/?Script=934&onlinetest=speichereKorrektur&anm=10347 HTTP/1.1"',
]
ENVOY = [
    '[{iso_ms}] "POST /api/v1/locations HTTP/2" 204 - 154 0 226 100 "10.0.35.28" "nsq2http" '
    '"cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "locations" "tcp://10.0.2.1:80"',
    '[{iso_ms}] "GET /status/418 HTTP/1.1" 418 - via_upstream - "-" 0 135 4 4 "-" '
    '"curl/7.73.0-DEV" "84961386-6d84-929d-98bd-c5aee93b5c88" "httpbin:8000" "10.44.1.27:80" '
    'outbound|8000||httpbin.foo.svc.cluster.local 10.44.1.23:37652 10.0.45.184:8000 '
    '10.44.1.23:46520 - default',
]
TRAEFIK = [
    '{{"ClientAddr":"148.113.255.4:52654","ClientHost":"148.113.255.4","ClientPort":"52654",'
    '"ClientUsername":"-","DownstreamContentSize":397,"DownstreamStatus":200,"Duration":3454189,'
    '"OriginContentSize":397,"OriginDuration":3427197,"OriginStatus":200,"Overhead":26992,'
    '"RequestAddr":"sentinel.apps.auditflow.ca","RequestContentSize":0,"RequestCount":5,'
    '"RequestHost":"sentinel.apps.auditflow.ca","RequestMethod":"GET","RequestPath":"/.env",'
    '"RequestPort":"-","RequestProtocol":"HTTP/2.0","RequestScheme":"https","RetryAttempts":0,'
    '"RouterName":"sentinel@docker","ServiceAddr":"10.0.1.8:8000","ServiceName":"sentinel@docker",'
    '"ServiceURL":"http://10.0.1.8:8000","StartLocal":"{iso_ns}","StartUTC":"{iso_ns}",'
    '"TLSCipher":"TLS_AES_128_GCM_SHA256","TLSVersion":"1.3","entryPointName":"https",'
    '"level":"info","msg":"","request_User-Agent":"test-scanner/1.0","time":"{iso}"}}',
]
INGRESS = [
    '127.0.0.1 - - [{clf}] "GET /path-a/path.html HTTP/2.0" 404 19 "-" "Mozilla/5.0 (Windows NT '
    '10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/107.0.0.0 Safari/537.36" 485 '
    '0.000 [default-service-a-80] [] 10.244.0.8:80 19 0.000 404 206ed4b88b712564fc073c3adb845dff',
    '10.3.0.5 - - [{clf}] "GET /WeatherForecast HTTP/2.0" 200 508 "-" "curl/7.58.0" 70 0.001 '
    '[default-helloservice-80] [] 10.244.0.37:80 520 0.000 200 f4a0e8af30821cda341c04cdc45ed9a8',
]


def cloudfront():
    path = os.path.join(ROOT, "..", "shared", "data", "real", "elastic-integrations-aws-cloudfront",
                        "test-cloudfront.log")
    lines = open(path).read().split("\n")
    return lines[:2], [l for l in lines[2:] if l and not l.startswith("#")]


def w3c():
    text = open(os.path.join(ROOT, "tests", "data", "iis", "u_ex160110.log")).read()
    lines = text.split("\n")
    return lines[:4], [l for l in lines if l and not l.startswith("#")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("format")
    ap.add_argument("--lines", type=int, default=200000)
    a = ap.parse_args()
    out = sys.stdout
    header, templates = [], None
    if a.format == "haproxy_http":
        templates = HAPROXY
    elif a.format == "envoy":
        templates = ENVOY
    elif a.format == "traefik_json":
        templates = TRAEFIK
    elif a.format == "ingress_nginx":
        templates = INGRESS
    elif a.format in ("cloudfront", "w3c"):
        header, body = cloudfront() if a.format == "cloudfront" else w3c()
        sep = "\t" if a.format == "cloudfront" else " "
        for h in header:
            out.write(h + "\n")
        for i in range(a.lines - len(header)):
            t = T0 + datetime.timedelta(milliseconds=i * 7)
            f = body[i % len(body)].split(sep)
            f[0], f[1] = t.strftime("%Y-%m-%d"), t.strftime("%H:%M:%S")
            out.write(sep.join(f) + "\n")
        return
    else:
        ap.error("unknown format " + a.format)
    for i in range(a.lines):
        t = T0 + datetime.timedelta(milliseconds=i * 7)
        out.write(templates[i % len(templates)].format(
            clf=t.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            clf_ms=t.strftime("%d/%b/%Y:%H:%M:%S.") + "%03d" % (t.microsecond // 1000),
            iso=t.strftime("%Y-%m-%dT%H:%M:%SZ"),
            iso_ms=t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000),
            iso_ns=t.strftime("%Y-%m-%dT%H:%M:%S.") + "%06d123Z" % t.microsecond) + "\n")


if __name__ == "__main__":
    main()
