/*
 * The built-in formats against the real third-party logs in SLT_REAL_DATA (see its
 * SOURCES.md). Every count here is exact. Where SOURCES.md gives numbers they are used as
 * they are; the rest come from reading every line of the (small) files by eye, and each
 * unparsed line has a comment saying why it is unparsed.
 *
 * "lines" counts what a line reader yields: each '\n'-terminated line, plus a last line
 * without '\n' if it is not empty. Blank lines are counted and come back as "empty".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <zlib.h>

#include "slt/parser.h"

struct tally {
    int lines;
    int reason[SLT_UP__COUNT];
    int status[1000];
    int no_latency;      /* parsed lines with latency_us == -1 */
    int with_host;       /* parsed lines with HOST */
    int64_t first_time;  /* time of the first parsed line */
    int64_t latency_sum; /* sum of latency_us over lines that have one */
    int field_eq[4];     /* parsed lines whose field want_field[i] equals want_value[i] */
};

static const int no_field = -1;
static int want_field[4] = {-1, -1, -1, -1};
static const char *want_value[4];

static void want(int i, int field, const char *value)
{
    want_field[i] = field;
    want_value[i] = value;
}

static void want_reset(void)
{
    int i;

    for (i = 0; i < 4; i++)
        want_field[i] = no_field;
}

static int have_real_data(void)
{
    struct stat st;

    return stat(SLT_REAL_DATA "/SOURCES.md", &st) == 0;
}

/* Parse the file (plain or gzip) with the built-in format; fail the test if it cannot. */
static void run(const char *format, const char *rel, struct tally *t)
{
    static char buf[1 << 17];
    char path[1024];
    struct slt_format *fmt;
    struct slt_parser *p;
    struct slt_record rec;
    gzFile f;
    size_t len;
    int r, i;

    if (!have_real_data())
        skip();
    memset(t, 0, sizeof(*t));
    t->first_time = -1;
    snprintf(path, sizeof(path), "%s/%s", SLT_REAL_DATA, rel);
    f = gzopen(path, "rb");
    if (!f)
        fail_msg("cannot open '%s'", path);
    assert_int_equal(slt_format_builtin(format, &fmt), 0);
    p = slt_parser_new(fmt, 0);
    assert_non_null(p);
    while (gzgets(f, buf, sizeof(buf))) {
        len = strlen(buf);
        if (len == sizeof(buf) - 1 && buf[len - 1] != '\n')
            fail_msg("'%s': a line is longer than the test's buffer", path);
        if (len > 0 && buf[len - 1] == '\n')
            len--;
        t->lines++;
        r = slt_parse(p, buf, len, &rec);
        assert_in_range(r, 0, SLT_UP__COUNT - 1);
        t->reason[r]++;
        if (r != SLT_UP_OK)
            continue;
        t->status[rec.status]++;
        if (t->first_time < 0)
            t->first_time = rec.time;
        if (rec.latency_us < 0)
            t->no_latency++;
        else
            t->latency_sum += rec.latency_us;
        if (rec.field[SLT_F_HOST].p)
            t->with_host++;
        for (i = 0; i < 4; i++) {
            struct slt_str s;

            if (want_field[i] < 0)
                continue;
            s = slt_record_get(&rec, want_field[i]);
            if (s.p && strlen(want_value[i]) == s.len && memcmp(s.p, want_value[i], s.len) == 0)
                t->field_eq[i]++;
        }
    }
    gzclose(f);
    slt_parser_free(p);
    slt_format_free(fmt);
    want_reset();
}

static void test_apache_logs_10000_lines_match_sources_counts(void **state)
{
    static const char *const formats[] = {"apache_combined", "nginx_combined"};
    struct tally t;
    size_t k;

    (void)state;
    for (k = 0; k < 2; k++) {
        want(0, SLT_F_METHOD, "GET");
        want(1, SLT_F_METHOD, "HEAD");
        want(2, SLT_F_PROTOCOL, "HTTP/1.0");
        want(3, SLT_F_BYTES, "-");
        run(formats[k], "elastic-examples-apache/apache_logs", &t);
        assert_int_equal(t.lines, 10000);
        assert_int_equal(t.reason[SLT_UP_OK], 10000);
        assert_int_equal(t.status[200], 9126);
        assert_int_equal(t.status[304], 445);
        assert_int_equal(t.status[404], 213);
        assert_int_equal(t.status[301], 164);
        assert_int_equal(t.status[206], 45);
        assert_int_equal(t.status[500], 3);
        assert_int_equal(t.status[403], 2);
        assert_int_equal(t.status[416], 2);
        assert_int_equal(t.field_eq[0], 9952);
        assert_int_equal(t.field_eq[1], 42);
        assert_int_equal(t.field_eq[2], 700);
        assert_int_equal(t.field_eq[3], 669);
        /* 17/May/2015:10:05:03 +0000 */
        assert_int_equal(t.first_time, slt_time_from_civil(2015, 5, 17, 10, 5, 3));
    }
}

static void test_lnav_shop_log_reads_as_nginx_main(void **state)
{
    struct tally t;

    (void)state;
    want(0, SLT_F_XFF, "103.28.132.65");
    want(1, SLT_F_METHOD, "POST");
    want(2, SLT_F_PROTOCOL, "HTTP/1.1");
    run("nginx_main", "lnav-test-logs/logfile_shop_access_log.0", &t);
    assert_int_equal(t.lines, 1000);
    assert_int_equal(t.reason[SLT_UP_OK], 1000);
    assert_int_equal(t.status[200], 938);
    assert_int_equal(t.status[404], 24);
    assert_int_equal(t.status[302], 20);
    assert_int_equal(t.status[301], 11);
    assert_int_equal(t.status[304], 7);
    assert_int_equal(t.field_eq[0], 13);
    assert_int_equal(t.field_eq[1], 14);
    assert_int_equal(t.field_eq[2], 1000);
    /* 22/Jan/2019:03:56:14 +0330 */
    assert_int_equal(t.first_time, slt_time_from_civil(2019, 1, 22, 0, 26, 14));
}

static void test_lnav_playground_gz_reads_as_combined(void **state)
{
    struct tally t;

    (void)state;
    run("nginx_combined", "lnav-test-logs/playground-access_log.gz", &t);
    assert_int_equal(t.lines, 2492);
    assert_int_equal(t.reason[SLT_UP_OK], 2492);
    assert_int_equal(t.status[200], 1373);
    assert_int_equal(t.status[404], 544);
    assert_int_equal(t.status[403], 423);
    assert_int_equal(t.status[500], 152);
}

static void test_lnav_small_combined_files(void **state)
{
    struct tally t;

    (void)state;
    run("nginx_combined", "lnav-test-logs/logfile_access_log.0", &t);
    assert_int_equal(t.lines, 3);
    assert_int_equal(t.reason[SLT_UP_OK], 3);
    assert_int_equal(t.status[404], 1);
    run("nginx_combined", "lnav-test-logs/logfile_access_log.1", &t);
    assert_int_equal(t.lines, 1);
    assert_int_equal(t.reason[SLT_UP_OK], 1);
    assert_int_equal(t.status[400], 1);
    /* line 2 has no "%l %u" before [time]: syntax */
    run("apache_combined", "lnav-test-logs/logfile_bad_access_log.0", &t);
    assert_int_equal(t.lines, 3);
    assert_int_equal(t.reason[SLT_UP_OK], 2);
    assert_int_equal(t.reason[SLT_UP_SYNTAX], 1);
    /* "%v:%p %h <id> %u ... %D": vhost read as HOST, the trailing %D ignored */
    want(0, SLT_F_HOST, "localhost:443");
    want(1, SLT_F_PROTOCOL, "HTTP/2.0");
    run("apache_combined", "lnav-test-logs/logfile_regexp_access_log.0", &t);
    assert_int_equal(t.lines, 2);
    assert_int_equal(t.reason[SLT_UP_OK], 2);
    assert_int_equal(t.field_eq[0], 2);
    assert_int_equal(t.field_eq[1], 2);
}

static void test_lnav_caddy_logs_read_as_json(void **state)
{
    struct tally t;

    (void)state;
    /*
     * The docker-compose prefix "caddy  | " is skipped. 35 lines are not_access: Caddy's own
     * messages (maxprocs, GOMEMLIMIT, config adapted/loaded/autosaved, admin endpoint, HTTP/2
     * and HTTP/3 skipped without TLS, certificate and storage maintenance, server running,
     * shutdown, "exiting; byeee!!"): JSON objects with no status. The 4 http.log.access lines
     * parse.
     */
    want(0, SLT_F_PROTOCOL, "HTTP/1.1");
    run("json", "lnav-test-logs/logfile_caddy_log.0", &t);
    assert_int_equal(t.lines, 39);
    assert_int_equal(t.reason[SLT_UP_OK], 4);
    assert_int_equal(t.reason[SLT_UP_NOT_ACCESS], 35);
    assert_int_equal(t.status[304], 3);
    assert_int_equal(t.status[200], 1);
    assert_int_equal(t.field_eq[0], 4);
    /* durations 0.001674508 0.001239398 0.00007314 0.000073649 s, truncated to us */
    assert_int_equal(t.latency_sum, 1674 + 1239 + 73 + 73);
    assert_int_equal(t.no_latency, 0);

    want(0, SLT_F_PROTOCOL, "HTTP/2.0");
    want(1, SLT_F_PROTOCOL, "HTTP/3.0");
    want(2, SLT_F_CLIENT, "10.5.1.1");
    run("json", "lnav-test-logs/logfile_caddy_log.1", &t);
    assert_int_equal(t.lines, 4);
    assert_int_equal(t.reason[SLT_UP_OK], 4);
    assert_int_equal(t.status[200], 4);
    assert_int_equal(t.field_eq[0], 3);
    assert_int_equal(t.field_eq[1], 1);
    assert_int_equal(t.field_eq[2], 3);
    assert_int_equal(t.with_host, 4);
    assert_int_equal(t.first_time, 1716723772);
}

static void test_beats_nginx_fixtures_all_parse(void **state)
{
    struct tally t;

    (void)state;
    run("nginx_combined", "elastic-beats-nginx/test.log", &t);
    assert_int_equal(t.lines, 7);
    assert_int_equal(t.reason[SLT_UP_OK], 7);
    assert_int_equal(t.status[200], 4);
    assert_int_equal(t.status[404], 2);
    assert_int_equal(t.status[400], 1);
    assert_int_equal(t.with_host, 0);

    want(0, SLT_F_CLIENT, "unix:");
    want(1, SLT_F_REQUEST, "hello");
    run("nginx_combined", "elastic-beats-nginx/test-with-host.log", &t);
    assert_int_equal(t.lines, 10);
    assert_int_equal(t.reason[SLT_UP_OK], 10);
    assert_int_equal(t.status[200], 6);
    assert_int_equal(t.status[404], 2);
    assert_int_equal(t.status[400], 2);
    assert_int_equal(t.with_host, 10);
    assert_int_equal(t.field_eq[0], 1);
    assert_int_equal(t.field_eq[1], 1);

    want(0, SLT_F_HOST, "lessons.example.com");
    run("nginx_combined", "elastic-beats-nginx/access.log", &t);
    assert_int_equal(t.lines, 13);
    assert_int_equal(t.reason[SLT_UP_OK], 13);
    assert_int_equal(t.status[200], 2);
    assert_int_equal(t.status[404], 8);
    assert_int_equal(t.status[304], 2);
    assert_int_equal(t.status[206], 1);
    assert_int_equal(t.with_host, 1);
    assert_int_equal(t.field_eq[0], 1);
    /* 25/Oct/2016:14:49:33 +0200 */
    assert_int_equal(t.first_time, 1477399773);

    run("nginx_combined", "elastic-integrations-nginx/test-access.log", &t);
    assert_int_equal(t.lines, 14);
    assert_int_equal(t.reason[SLT_UP_OK], 14);
    assert_int_equal(t.status[206], 2);
    assert_int_equal(t.with_host, 2);
}

static void test_traefik_clf_reads_as_nginx_combined(void **state)
{
    struct tally t;

    (void)state;
    /* line 2's broken quote is in the Traefik-only tail, which combined ignores */
    run("nginx_combined", "elastic-beats-traefik/test.log", &t);
    assert_int_equal(t.lines, 2);
    assert_int_equal(t.reason[SLT_UP_OK], 2);
    assert_int_equal(t.status[304], 2);
}

static void test_beats_apache_fixtures(void **state)
{
    struct tally t;

    (void)state;
    want(0, SLT_F_CLIENT, "::1");
    run("apache_common", "elastic-beats-apache/darwin-2.4.23.log", &t);
    assert_int_equal(t.lines, 6);
    assert_int_equal(t.reason[SLT_UP_OK], 6);
    assert_int_equal(t.status[200], 2);
    assert_int_equal(t.status[404], 3);
    assert_int_equal(t.status[408], 1);
    assert_int_equal(t.field_eq[0], 3);

    /* mod_ssl's ssl_request_log puts [time] first: not CLF, both lines syntax */
    run("apache_common", "elastic-beats-apache/ssl-request.log", &t);
    assert_int_equal(t.lines, 2);
    assert_int_equal(t.reason[SLT_UP_SYNTAX], 2);

    want(0, SLT_F_HOST, "vhost1.domaine.fr");
    run("apache_combined", "elastic-beats-apache/test-vhost.log", &t);
    assert_int_equal(t.lines, 1);
    assert_int_equal(t.reason[SLT_UP_OK], 1);
    assert_int_equal(t.field_eq[0], 1);
}

static void test_integrations_apache_mixed_file_all_17_parse(void **state)
{
    struct tally t;

    (void)state;
    want(0, SLT_F_USER, "frank");
    want(1, SLT_F_REQUEST, "- - HTTP/1.0");
    want(2, SLT_F_CLIENT, "monitoring-server");
    want(3, SLT_F_HOST, "127.0.1.1:80");
    run("apache_combined", "elastic-integrations-apache/test-access-basic.log", &t);
    assert_int_equal(t.lines, 17);
    assert_int_equal(t.reason[SLT_UP_OK], 17);
    assert_int_equal(t.status[200], 8);
    assert_int_equal(t.status[404], 3);
    assert_int_equal(t.status[408], 2);
    assert_int_equal(t.status[400], 4);
    assert_int_equal(t.field_eq[0], 1);
    assert_int_equal(t.field_eq[1], 1);
    assert_int_equal(t.field_eq[2], 4);
    assert_int_equal(t.field_eq[3], 1);
}

static void test_real_alb_log_460_and_504_have_no_latency(void **state)
{
    struct tally t;

    (void)state;
    /* 10 records and a trailing empty line */
    run("alb", "elastic-beats-aws-elb/application-lb-http.log", &t);
    assert_int_equal(t.lines, 11);
    assert_int_equal(t.reason[SLT_UP_OK], 10);
    assert_int_equal(t.reason[SLT_UP_EMPTY], 1);
    assert_int_equal(t.status[460], 1);
    assert_int_equal(t.status[504], 6);
    assert_int_equal(t.status[200], 3);
    assert_int_equal(t.no_latency, 7);
    /* 0.001+0.000+0.000, 0.001+0.001+0.000, 0.000+0.001+0.000 */
    assert_int_equal(t.latency_sum, 1000 + 2000 + 1000);
}

static void test_aws_doc_alb_examples_including_the_glued_quote(void **state)
{
    struct tally t;

    (void)state;
    /* 9 records (the wss one has `"-" "-"1`, tolerated) and a trailing empty line */
    want(0, SLT_F_TYPE, "h2");
    want(1, SLT_F_ERROR_REASON, "LambdaInvalidResponse");
    want(2, SLT_F_TYPE, "wss");
    run("alb", "elastic-beats-aws-elb/example-alb-http.log", &t);
    assert_int_equal(t.lines, 10);
    assert_int_equal(t.reason[SLT_UP_OK], 9);
    assert_int_equal(t.reason[SLT_UP_EMPTY], 1);
    assert_int_equal(t.status[200], 4);
    assert_int_equal(t.status[101], 2);
    assert_int_equal(t.status[502], 1);
    assert_int_equal(t.status[400], 2);
    assert_int_equal(t.no_latency, 2);
    assert_int_equal(t.field_eq[0], 1);
    assert_int_equal(t.field_eq[1], 1);
    assert_int_equal(t.field_eq[2], 1);
}

static void test_classic_elb_logs_read_with_alb(void **state)
{
    struct tally t;

    (void)state;
    run("alb", "elastic-beats-aws-elb/elb-http.log", &t);
    assert_int_equal(t.lines, 6);
    assert_int_equal(t.reason[SLT_UP_OK], 5);
    assert_int_equal(t.reason[SLT_UP_EMPTY], 1);
    assert_int_equal(t.status[200], 5);
    /* microsecond timings with varying digits, e.g. 0.000041 0.00491 0.000027 */
    assert_int_equal(t.latency_sum, (43 + 785 + 23) + (41 + 4910 + 27) + (41 + 790 + 24) +
                                        (39 + 1184 + 28) + (38 + 787 + 24));
    run("alb", "elastic-beats-aws-elb/example-https.log", &t);
    assert_int_equal(t.lines, 2);
    assert_int_equal(t.reason[SLT_UP_OK], 1);
    assert_int_equal(t.reason[SLT_UP_EMPTY], 1);
    assert_int_equal(t.latency_sum, 86 + 1048 + 1337);
}

static void test_integrations_alb_only_request_lines_count(void **state)
{
    struct tally t;

    (void)state;
    /*
     * 3 ALB request lines parse (http 200, http 301 SpaceInUri, http 200 with all "-");
     * 4 NLB "tls" lines and 3 connection-log lines are not_access.
     */
    run("alb", "elastic-integrations-aws-elb/test-alb.log", &t);
    assert_int_equal(t.lines, 10);
    assert_int_equal(t.reason[SLT_UP_OK], 3);
    assert_int_equal(t.reason[SLT_UP_NOT_ACCESS], 7);
    assert_int_equal(t.status[200], 2);
    assert_int_equal(t.status[301], 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apache_logs_10000_lines_match_sources_counts),
        cmocka_unit_test(test_lnav_shop_log_reads_as_nginx_main),
        cmocka_unit_test(test_lnav_playground_gz_reads_as_combined),
        cmocka_unit_test(test_lnav_small_combined_files),
        cmocka_unit_test(test_lnav_caddy_logs_read_as_json),
        cmocka_unit_test(test_beats_nginx_fixtures_all_parse),
        cmocka_unit_test(test_traefik_clf_reads_as_nginx_combined),
        cmocka_unit_test(test_beats_apache_fixtures),
        cmocka_unit_test(test_integrations_apache_mixed_file_all_17_parse),
        cmocka_unit_test(test_real_alb_log_460_and_504_have_no_latency),
        cmocka_unit_test(test_aws_doc_alb_examples_including_the_glued_quote),
        cmocka_unit_test(test_classic_elb_logs_read_with_alb),
        cmocka_unit_test(test_integrations_alb_only_request_lines_count),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
