#!/usr/bin/env python3
"""slitail check / explain / test, run as a user would: the real binary on real logs
(SLT_REAL_DATA, see its SOURCES.md for the counts asserted here) and the example logs."""
import gzip
import json
import os
import sys

from slt_harness import REAL, SRC, TempDir, TestCase, binary, check_equal, run

SLITAIL = binary("slitail")
# AddressSanitizer's shadow memory makes RSS meaningless; only growth is checked then
asan = "asan" in os.environ.get("SLT_BIN_DIR", "")
EXAMPLE_CFG = os.path.join(SRC, "examples", "slitail.yaml")
LOGS = os.path.join(SRC, "examples", "logs")


def check_json(*args, rc=0):
    r = run([SLITAIL, "check", "--json"] + list(args))
    check_equal(r.returncode, rc, f"exit status of check {args} (stderr: {r.stderr})")
    return json.loads(r.stdout)


def one(*args):
    return check_json(*args)["files"][0]


def peak_rss_kib(argv, tmp):
    """Runs argv under /usr/bin/time and returns its peak RSS in KiB. (Not wait4 from here:
    Linux reports the larger of the child's RSS and this Python's RSS at fork.)"""
    out = tmp.join("rss")
    r = run(["/usr/bin/time", "-f", "%M", "-o", out] + argv)
    check_equal(r.returncode, 0, f"exit status of {argv} ({r.stderr})")
    return int(open(out).read().split()[-1])


class CliCheck(TestCase):
    # ---- real logs, built-in formats, default SLIs -------------------------------------

    def it_counts_the_semicomplete_apache_sample_exactly(self):
        f = one("--format", "nginx_combined", os.path.join(REAL, "elastic-examples-apache",
                                                            "apache_logs"))
        check_equal(f["lines"], 10000, "lines")
        check_equal(f["parsed"], 10000, "parsed")
        check_equal(f["unparsed"], 0, "unparsed")
        # SOURCES.md: 200=9126 206=45 304=445 301=164 404=213 403=2 416=2 500=3
        check_equal(f["status_classes"], {"1xx": 0, "2xx": 9171, "3xx": 609, "4xx": 217,
                                          "5xx": 3}, "status classes")
        a = f["slis"]["availability"]
        check_equal((a["good"], a["bad"], a["excluded"]), (9780, 3, 217), "availability")
        check_equal(round(a["ratio"], 9), round(9780 / 9783, 9), "ratio")
        check_equal(f["minutes"], 84, "distinct minutes in the file")
        check_equal(a["minutes"], 84, "availability minutes")
        check_equal(f["first_time"], 1431857100, "first time (17/May/2015:10:05:00)")
        check_equal(f["last_time"], 1432155959, "last time (20/May/2015:21:05:59)")
        check_equal("latency" in f["slis"], False, "combined has no latency SLI")

    def it_reads_gzip_transparently(self):
        f = one("--format", "nginx_combined", os.path.join(REAL, "lnav-test-logs",
                                                            "playground-access_log.gz"))
        check_equal((f["lines"], f["parsed"]), (2492, 2492), "lines, parsed")
        a = f["slis"]["availability"]
        # 200=1373, 404=544, 403=423, 500=152
        check_equal((a["good"], a["bad"], a["excluded"]), (1373, 152, 967), "availability")

    def it_counts_the_trailing_empty_line_of_alb_files_as_unparsed_empty(self):
        f = one("--format", "alb", os.path.join(REAL, "elastic-beats-aws-elb",
                                                 "application-lb-http.log"))
        check_equal((f["lines"], f["parsed"], f["unparsed"]), (11, 10, 1), "lines/parsed/unparsed")
        check_equal(f["unparsed_reasons"], {"empty": 1}, "reasons")
        check_equal(f["unparsed_samples"][0]["line"], 11, "line number of the empty line")
        a = f["slis"]["availability"]
        # 460 is a 4xx (excluded); 504s with -1 timings are bad
        check_equal((a["good"], a["bad"], a["excluded"]), (3, 6, 1), "availability")
        lat = f["slis"]["latency"]
        check_equal((lat["good"], lat["bad"], lat["excluded"]), (3, 0, 7), "latency")

    def it_skips_alb_connection_and_nlb_lines_as_not_access(self):
        f = one("--format", "alb", os.path.join(REAL, "elastic-integrations-aws-elb",
                                                 "test-alb.log"))
        check_equal((f["lines"], f["parsed"]), (10, 3), "lines, parsed (3 ALB request lines)")
        check_equal(f["unparsed_reasons"], {"not_access": 7}, "reasons")

    def it_counts_a_last_record_without_newline(self):
        f = one("--format", "nginx_combined", os.path.join(REAL, "elastic-beats-apache",
                                                            "test-vhost.log"))
        check_equal((f["lines"], f["parsed"]), (1, 1), "one record, no final newline")
        f = one("--format", "apache_combined", os.path.join(REAL, "elastic-integrations-apache",
                                                             "test-access-basic.log"))
        check_equal((f["lines"], f["parsed"]), (17, 17), "17 records, wc -l says 16")

    def it_reports_the_broken_line_with_its_number_and_reason(self):
        f = one("--format", "nginx_combined", "--max-unparsed", "50%",
                os.path.join(REAL, "lnav-test-logs", "logfile_bad_access_log.0"))
        check_equal((f["lines"], f["parsed"], f["unparsed"]), (3, 2, 1), "lines/parsed/unparsed")
        s = f["unparsed_samples"][0]
        check_equal((s["line"], s["reason"]), (2, "syntax"), "sample")
        check_equal(bool(s.get("detail")), True, "a detail is given")

    def it_reads_the_real_shop_log_with_nginx_main(self):
        f = one("--format", "nginx_main", os.path.join(REAL, "lnav-test-logs",
                                                        "logfile_shop_access_log.0"))
        check_equal(f["status_classes"], {"1xx": 0, "2xx": 938, "3xx": 38, "4xx": 24, "5xx": 0},
                    "status 200=938 404=24 302=20 301=11 304=7")

    # ---- the examples ------------------------------------------------------------------

    def it_reports_the_example_logs_exactly(self):
        d = check_json("-c", EXAMPLE_CFG, os.path.join(LOGS, "access.log.1.gz"),
                       os.path.join(LOGS, "access.log"), os.path.join(LOGS, "app.log"))
        old, cur, app = d["files"]
        check_equal((old["input"], old["format"], old["lines"], old["parsed"]),
                    ("web", "nginx_timed", 4000, 4000), "access.log.1.gz")
        check_equal((cur["lines"], cur["minutes"]), (2000, 60), "access.log")
        check_equal((app["input"], app["format"], app["lines"]), ("app", "shop_app", 1500),
                    "app.log")
        co = cur["slis"]["checkout-availability"]
        check_equal((co["good"], co["bad"], co["excluded"], co["minutes"]), (195, 24, 1, 59),
                    "checkout-availability in the incident hour")
        sl = cur["slis"]["search-latency"]
        check_equal((sl["good"], sl["bad"], sl["excluded"]), (295, 78, 19), "search-latency")
        co_old = old["slis"]["checkout-availability"]
        check_equal((co_old["good"], co_old["bad"]), (396, 11), "checkout before the incident")
        check_equal(sorted(app["slis"]), ["app-api"], "app.log has only the app SLI")
        t = d["total"]
        check_equal(t["lines"], 7500, "total lines")
        check_equal(t["slis"]["checkout-availability"]["good"], 591, "total checkout good")
        check_equal(t["minutes"], 180, "three hours")

    def it_prints_a_table_with_the_same_numbers(self):
        r = run([SLITAIL, "check", "-c", EXAMPLE_CFG, os.path.join(LOGS, "access.log")])
        check_equal(r.returncode, 0, "exit status")
        row = [line.split() for line in r.stdout.splitlines()
               if line.strip().startswith("checkout-availability")][0]
        check_equal(row[1:6], ["195", "24", "1", "0.890411", "59"], "table row")

    # ---- reading: bounds, odd input ----------------------------------------------------

    def it_counts_an_oversize_line_once_and_keeps_going(self):
        tmp = TempDir()
        try:
            ok = ('203.0.113.9 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 12 "-" '
                  '"curl/8" 0.120 0.118\n')
            big = '203.0.113.9 - - [10/Oct/2026:13:55:36 +0000] "GET /' + "a" * 3_000_000 + '"\n'
            p = tmp.write("big.log", ok + big + ok + big.rstrip("\n"))
            f = one("--format", "nginx_timed", "--max-unparsed", "100%", p)
            check_equal((f["lines"], f["parsed"], f["unparsed"]), (4, 2, 2), "lines/parsed/unp")
            check_equal(f["unparsed_reasons"], {"oversize": 2}, "reasons")
            check_equal([s["line"] for s in f["unparsed_samples"]], [2, 4], "sample lines")
        finally:
            tmp.cleanup()

    def it_keeps_memory_flat_whatever_the_file_or_line_size(self):
        tmp = TempDir()
        try:
            line = ('203.0.113.9 - - [10/Oct/2026:13:55:36 +0000] "GET /search?q=x HTTP/1.1" 200 '
                    '12 "-" "curl/8" 0.120 0.118\n')
            small = tmp.write("small.log", line * 15000)  # > the 1 MiB read buffer
            with open(tmp.join("large.log"), "w") as f:
                for _ in range(300):
                    f.write(line * 1000)
                f.write("x" * 20_000_000)  # one 20 MB record without a newline
            a = peak_rss_kib([SLITAIL, "check", "-c", EXAMPLE_CFG, "--input", "web", small], tmp)
            b = peak_rss_kib([SLITAIL, "check", "-c", EXAMPLE_CFG, "--input", "web",
                              tmp.join("large.log")], tmp)
            if not os.path.exists("/usr/bin/time"):
                print("skipped: no /usr/bin/time (apt-get install time)")
                return
            if not asan and b > 8192:
                raise AssertionError(f"peak RSS {b} KiB > 8 MiB")
            if b - a > 1024:
                raise AssertionError(f"RSS grew with the file: {a} KiB -> {b} KiB")
        finally:
            tmp.cleanup()

    def it_handles_crlf_and_stdin(self):
        line = ('203.0.113.9 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 503 12 "-" '
                '"curl/8" 0.120 0.118\r\n')
        r = run([SLITAIL, "check", "--format", "nginx_timed", "--json", "-"], input=line * 3)
        check_equal(r.returncode, 0, f"exit status ({r.stderr})")
        f = json.loads(r.stdout)["files"][0]
        check_equal((f["lines"], f["parsed"]), (3, 3), "CRLF lines parse")
        check_equal(f["slis"]["availability"]["bad"], 3, "bad")
        check_equal(f["slis"]["availability"]["ratio"], 0.0, "ratio")

    def it_gives_null_ratio_without_events(self):
        tmp = TempDir()
        try:
            p = tmp.write("e.log", "")
            f = one("--format", "nginx_timed", p)
            check_equal((f["lines"], f["minutes"], f["first_time"]), (0, 0, None), "empty file")
            check_equal(f["slis"]["availability"]["ratio"], None, "ratio of nothing")
        finally:
            tmp.cleanup()

    def it_reads_a_truncated_gzip_up_to_the_damage_and_fails(self):
        tmp = TempDir()
        try:
            data = gzip.compress(open(os.path.join(LOGS, "access.log"), "rb").read())
            p = tmp.write("cut.log.gz", data[: len(data) // 2], mode="wb")
            d = check_json("--format", "nginx_timed", p, rc=1)
            f = d["files"][0]
            check_equal(bool(f.get("error")), True, "the error is reported")
            if not 0 < f["parsed"] < 2000:
                raise AssertionError(f"parsed {f['parsed']} lines of a half file")
        finally:
            tmp.cleanup()

    def it_reports_a_missing_file_and_still_checks_the_others(self):
        d = check_json("--format", "nginx_timed", "/nonexistent/access.log",
                       os.path.join(LOGS, "access.log"), rc=1)
        check_equal(d["files"][0]["error"], "no such file", "error")
        check_equal(d["files"][1]["lines"], 2000, "the other file is read")
        r = run([SLITAIL, "check", "--format", "nginx_timed", "/nonexistent/access.log"])
        check_equal(r.returncode, 1, "exit status")
        if "no such file '/nonexistent/access.log'" not in r.stderr:
            raise AssertionError(f"no 'no such file' in {r.stderr!r}")

    def it_says_no_such_file_rather_than_no_input_with_several_inputs(self):
        missing = os.path.join(LOGS, "missing-access.log")
        r = run([SLITAIL, "check", "-c", EXAMPLE_CFG, missing])
        check_equal(r.returncode, 1, "exit status of check")
        if "no such file" not in r.stderr or "matches the paths of no input" in r.stderr:
            raise AssertionError(f"check: {r.stderr!r}")
        for args in (["--file", missing], [missing]):
            r = run([SLITAIL, "explain", "-c", EXAMPLE_CFG] + args)
            check_equal(r.returncode, 2, f"exit status of explain {args}")
            if "no such file" not in r.stderr or "matches the paths of no input" in r.stderr:
                raise AssertionError(f"explain {args}: {r.stderr!r}")

    def it_explains_a_line_of_a_w3c_file_with_its_header(self):
        iis = os.path.join(SRC, "tests", "data", "iis", "u_ex100815.log")  # CRLF, IIS 7.0 columns
        for args in (["--file", iis], ["--file", iis, "--line", "5"], [iis]):
            r = run([SLITAIL, "explain", "--json", "--format", "w3c"] + args)
            check_equal(r.returncode, 0, f"explain {args} ({r.stderr})")
            d = json.loads(r.stdout)
            check_equal((d["status"], d["latency_ms"], d["fields"]["bytes"]), (200, 376.0, "8999"),
                        f"explain {args}: the IIS 7.0 header's columns")
        r = run([SLITAIL, "explain", "--format", "w3c", "--file", iis, "--line", "10"])
        check_equal(r.returncode, 0, "line 10")
        if "Googlebot" in r.stdout or "msnbot" not in r.stdout:
            raise AssertionError(f"line 10 of the file: {r.stdout!r}")
        r = run([SLITAIL, "explain", "--format", "w3c", "--file", iis, "--line", "999"])
        check_equal(r.returncode, 2, "past the end")
        r = run([SLITAIL, "explain", "--format", "w3c", "--line", "2", "x"])
        check_equal(r.returncode, 2, "--line without --file")

    # ---- --max-unparsed: exit 3, the reasons and a suggested format ----------------------

    def it_exits_3_with_reasons_and_a_suggestion_when_the_format_is_wrong(self):
        apache = os.path.join(REAL, "elastic-examples-apache", "apache_logs")
        d = check_json("--format", "alb", apache, rc=3)
        check_equal(d["too_many_unparsed"], True, "too_many_unparsed")
        check_equal(d["max_unparsed"], 0.1, "default --max-unparsed")
        check_equal(d["unparsed_ratio"], 1.0, "all unparsed")
        check_equal(d["top_reasons"], [{"reason": "syntax", "lines": 10000}], "top reasons")
        check_equal(d["suggested_format"], "nginx_combined", "suggested format")
        o = d["over_max_unparsed"][0]
        check_equal((o["input"], o["format"], o["sample_lines"], o["suggested_format_parsed"]),
                    ("default", "alb", 1000, 1000), "the input over the limit")
        r = run([SLITAIL, "check", "--format", "alb", apache])
        check_equal(r.returncode, 3, "exit status of the table")
        for want in ("too many unparsed lines", "syntax 10000", "suggested format: nginx_combined"):
            if want not in r.stdout:
                raise AssertionError(f"no {want!r} in {r.stdout[-600:]!r}")
        # ALB lines read as nginx: the suggestion is alb
        alb = os.path.join(REAL, "elastic-beats-aws-elb", "application-lb-http.log")
        check_equal(check_json("--format", "nginx_combined", alb, rc=3)["suggested_format"],
                    "alb", "suggested for ALB lines")

    def it_honours_max_unparsed_and_ignores_lines_that_are_not_requests(self):
        bad = os.path.join(REAL, "lnav-test-logs", "logfile_bad_access_log.0")  # 1 of 3 broken
        check_json("--format", "nginx_combined", bad, rc=3)
        check_json("--format", "nginx_combined", "--max-unparsed", "34%", bad, rc=0)
        check_json("--format", "nginx_combined", "--max-unparsed", "33%", bad, rc=3)
        check_json("--format", "alb", "--max-unparsed", "100%",
                   os.path.join(REAL, "elastic-examples-apache", "apache_logs"), rc=0)
        d = check_json("--format", "nginx_combined", "--max-unparsed", "50", bad, rc=0)
        check_equal((d["max_unparsed"], d["too_many_unparsed"]), (0.5, False), "no '%'")
        check_json("--format", "nginx_combined", "--max-unparsed", "0.5", bad, rc=3)
        check_equal(check_json("--format", "nginx_combined", "--max-unparsed", "100%",
                               bad)["max_unparsed"], None, "100% disables")
        # 7 of the 10 records are NLB and connection-log lines: not_access, not a wrong format
        d = check_json("--format", "alb",
                       os.path.join(REAL, "elastic-integrations-aws-elb", "test-alb.log"), rc=0)
        check_equal(d["too_many_unparsed"], False, "not_access does not count")
        for v in ("ten", "101%", "-1", "5%%"):
            r = run([SLITAIL, "check", "--format", "alb", "--max-unparsed", v, bad])
            check_equal(r.returncode, 2, f"a bad --max-unparsed {v}")

    # ---- the formats of issue 10 on real files ------------------------------------------

    def it_reads_real_cloudfront_iis_and_haproxy_files(self):
        f = one("--format", "cloudfront", os.path.join(REAL, "elastic-integrations-aws-cloudfront",
                                                        "test-cloudfront.log"))
        check_equal((f["lines"], f["parsed"], f["unparsed_reasons"]), (14, 12, {"not_access": 2}),
                    "cloudfront: #Version and #Fields are not requests")
        # SOURCES.md: one 000 (the viewer left), three 502, one 404
        check_equal(f["status_classes"], {"0xx": 1, "1xx": 0, "2xx": 7, "3xx": 0, "4xx": 1,
                                          "5xx": 3}, "cloudfront status classes")
        iis = [os.path.join(SRC, "tests", "data", "iis", n) for n in ("u_ex160110.log",
                                                                       "u_ex100815.log")]
        d = check_json("--format", "w3c", *iis)
        check_equal((d["total"]["lines"], d["total"]["parsed"]), (184, 44), "iis lines, parsed")
        check_equal(d["total"]["status_classes"], {"1xx": 0, "2xx": 16, "3xx": 11, "4xx": 17,
                                                   "5xx": 0}, "iis status classes")
        f = one("--format", "haproxy_http", os.path.join(REAL, "lnav-test-logs",
                                                          "logfile_haproxy.0"))
        check_equal((f["lines"], f["parsed"], f["unparsed_reasons"]), (17, 13, {"not_access": 4}),
                    "haproxy: 3 'Proxy started' lines and an SSL handshake failure")

    # ---- -j N: files in parallel, the same report ----------------------------------------

    def it_reads_files_in_parallel_with_the_same_report(self):
        files = [os.path.join(REAL, "elastic-examples-apache", "apache_logs"),
                 os.path.join(REAL, "lnav-test-logs", "playground-access_log.gz"),
                 os.path.join(REAL, "lnav-test-logs", "logfile_shop_access_log.0"),
                 os.path.join(REAL, "elastic-beats-nginx", "test.log"),
                 "/nonexistent/x.log",
                 os.path.join(REAL, "lnav-test-logs", "logfile_bad_access_log.0")]
        base = run([SLITAIL, "check", "--json", "--format", "nginx_combined"] + files)
        check_equal(base.returncode, 1, "exit status (a missing file)")
        for jobs in ("2", "3", "8"):
            r = run([SLITAIL, "check", "--json", "-j", jobs, "--format", "nginx_combined"] + files)
            check_equal(r.returncode, base.returncode, f"exit status with -j {jobs}")
            check_equal(r.stdout, base.stdout, f"--json output with -j {jobs}")
        t1 = run([SLITAIL, "check", "-c", EXAMPLE_CFG] + [os.path.join(LOGS, n) for n in (
            "access.log.1.gz", "access.log", "app.log")])
        t2 = run([SLITAIL, "check", "--jobs", "3", "-c", EXAMPLE_CFG] + [
            os.path.join(LOGS, n) for n in ("access.log.1.gz", "access.log", "app.log")])
        check_equal((t2.returncode, t2.stdout), (t1.returncode, t1.stdout), "table with --jobs 3")
        r = run([SLITAIL, "check", "-j", "0", "--format", "alb", files[0]])
        check_equal(r.returncode, 2, "-j 0")

    # ---- config and input selection ----------------------------------------------------

    def it_rejects_a_bad_config_with_file_line_col_and_exit_2(self):
        tmp = TempDir()
        try:
            p = tmp.write("bad.yaml", "inputs:\n  - name: web\n    format: nginx_timed\n"
                                      "slis:\n  - name: a\n    bad: { status: '(' }\n")
            r = run([SLITAIL, "check", "-c", p, os.path.join(LOGS, "access.log")])
            check_equal(r.returncode, 2, "exit status")
            if f"{p}:6:" not in r.stderr:
                raise AssertionError(f"no {p}:6:col in {r.stderr!r}")
        finally:
            tmp.cleanup()

    def it_needs_a_config_or_a_format(self):
        r = run([SLITAIL, "check", os.path.join(LOGS, "access.log")])
        check_equal(r.returncode, 2, "exit status")
        if "nginx_timed" not in r.stderr:
            raise AssertionError(f"built-in formats not listed: {r.stderr!r}")
        r = run([SLITAIL, "check", "--format", "nope", os.path.join(LOGS, "access.log")])
        check_equal(r.returncode, 2, "unknown format")

    def it_picks_the_input_by_path_glob_or_flag(self):
        tmp = TempDir()
        try:
            p = tmp.write("elsewhere.log", open(os.path.join(LOGS, "access.log")).read())
            r = run([SLITAIL, "check", "-c", EXAMPLE_CFG, p])
            check_equal(r.returncode, 2, "a file no input's paths match")
            if "--input" not in r.stderr:
                raise AssertionError(f"no hint in {r.stderr!r}")
            f = one("-c", EXAMPLE_CFG, "--input", "web", p)
            check_equal((f["input"], f["parsed"]), ("web", 2000), "--input web")
        finally:
            tmp.cleanup()

    def it_applies_the_latency_threshold_flag(self):
        a = one("--format", "nginx_timed", os.path.join(LOGS, "access.log"))["slis"]["latency"]
        b = one("--format", "nginx_timed", "--latency-threshold", "2s",
                os.path.join(LOGS, "access.log"))["slis"]["latency"]
        if not b["bad"] < a["bad"]:
            raise AssertionError(f"2s threshold: {b['bad']} bad, 300ms: {a['bad']} bad")
        r = run([SLITAIL, "check", "--format", "nginx_timed", "--latency-threshold", "fast",
                 os.path.join(LOGS, "access.log")])
        check_equal(r.returncode, 2, "bad duration")

    # ---- explain -----------------------------------------------------------------------

    def it_explains_a_line_with_fields_and_the_deciding_condition(self):
        line = ('203.0.113.9 - - [10/Oct/2026:13:55:36 +0000] "POST /api/checkout HTTP/1.1" 503 '
                '12 "-" "curl/8" 0.120 0.118')
        r = run([SLITAIL, "explain", "-c", EXAMPLE_CFG, "--input", "web", "--json", line])
        check_equal(r.returncode, 0, f"exit status ({r.stderr})")
        d = json.loads(r.stdout)
        check_equal(d["parsed"], True, "parsed")
        check_equal(d["fields"]["path"], "/api/checkout", "path")
        check_equal(d["time"], "2026-10-10T13:55:36Z", "time")
        check_equal(d["latency_ms"], 120.0, "latency_ms")
        check_equal(d["slis"]["checkout-availability"]["class"], "bad", "class")
        if "5xx" not in d["slis"]["checkout-availability"]["reason"]:
            raise AssertionError(f"reason: {d['slis']['checkout-availability']}")
        check_equal(d["slis"]["search-latency"]["class"], "nomatch", "search")
        r = run([SLITAIL, "explain", "-c", EXAMPLE_CFG, "--input", "web", line])
        if "checkout-availability" not in r.stdout or "bad" not in r.stdout:
            raise AssertionError(r.stdout)

    def it_explains_named_groups_of_a_user_format(self):
        line = "2026-10-10T13:55:36.123Z app-7f9c GET /api/cart/1 200 612.0 tenant=acme"
        r = run([SLITAIL, "explain", "-c", EXAMPLE_CFG, "--input", "app", "--json", line])
        d = json.loads(r.stdout)
        check_equal(d["fields"]["tenant"], "acme", "named group")
        check_equal(d["slis"]["app-api"]["class"], "bad", "slow")

    def it_exits_1_when_explain_cannot_parse_and_2_on_bad_use(self):
        r = run([SLITAIL, "explain", "--format", "nginx_timed", "--json", "not a log line"])
        check_equal(r.returncode, 1, "unparsed")
        d = json.loads(r.stdout)
        check_equal((d["parsed"], d["reason"]), (False, "syntax"), "reason")
        r = run([SLITAIL, "explain", "-c", EXAMPLE_CFG, "x"])
        check_equal(r.returncode, 2, "two inputs and no --input")
        r = run([SLITAIL, "explain", "--format", "nginx_timed"])
        check_equal(r.returncode, 2, "no line")

    # ---- test --------------------------------------------------------------------------

    def it_passes_the_shipped_rule_cases(self):
        rules = os.path.join(SRC, "tests", "rules")
        files = sorted(os.path.join(rules, f) for f in os.listdir(rules)
                       if f.endswith(".test.yaml"))
        r = run([SLITAIL, "test"] + files)
        check_equal(r.returncode, 0, f"exit status:\n{r.stdout}{r.stderr}")
        if " 0 failed" not in r.stdout:
            raise AssertionError(r.stdout)

    def it_fails_a_wrong_case_with_a_diff(self):
        tmp = TempDir()
        try:
            p = tmp.write("c.test.yaml", f"""config: {EXAMPLE_CFG}
tests:
  - name: wrongly expected good
    input: web
    line: '203.0.113.9 - - [10/Oct/2026:13:55:36 +0000] "POST /api/checkout HTTP/1.1" 503 12 "-" "curl/8" 0.120 0.118'
    expect: {{ checkout-availability: good, site-availability: bad }}
  - name: right
    input: web
    line: '203.0.113.9 - - [10/Oct/2026:13:55:36 +0000] "POST /api/checkout HTTP/1.1" 200 12 "-" "curl/8" 0.120 0.118'
    expect: {{ checkout-availability: good }}
""")
            r = run([SLITAIL, "test", p])
            check_equal(r.returncode, 1, "exit status")
            for want in ("FAILED: wrongly expected good", "- expected good", "+ got      bad",
                         "1 passed, 1 failed"):
                if want not in r.stdout:
                    raise AssertionError(f"{want!r} not in:\n{r.stdout}")
        finally:
            tmp.cleanup()

    def it_rejects_a_bad_case_file_with_file_line_and_exit_2(self):
        tmp = TempDir()
        try:
            p = tmp.write("c.test.yaml", f"""config: {EXAMPLE_CFG}
tests:
  - name: typo in the SLI name
    input: web
    line: 'x'
    expect: {{ checkout-availabilty: good }}
""")
            r = run([SLITAIL, "test", p])
            check_equal(r.returncode, 2, "exit status")
            if f"{p}:6:" not in r.stderr:
                raise AssertionError(f"no {p}:6: in {r.stderr!r}")
            p2 = tmp.write("y.test.yaml", "tests: [\n")
            check_equal(run([SLITAIL, "test", p2]).returncode, 2, "bad YAML")
        finally:
            tmp.cleanup()


if __name__ == "__main__":
    if not os.path.exists(SLITAIL):
        print(f"no {SLITAIL}")
        sys.exit(1)
    CliCheck().run_all()
