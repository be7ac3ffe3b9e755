/*
 * The fast paths of the built-in formats (CLF: nginx.c clf_fast; ALB: alb.c tokenize_fast)
 * give the same record as their general paths:
 * over every line of the real logs in SLT_REAL_DATA, over every prefix of the first lines of
 * each file, and over those lines with one byte changed. (tests/fuzz/fuzz_fastpath.c does the
 * same with libFuzzer's inputs.)
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

#include "builtin_internal.h"

static const char *const files[] = {
    "elastic-beats-apache/darwin-2.4.23.log",
    "elastic-beats-apache/ssl-request.log",
    "elastic-beats-apache/test-vhost.log",
    "elastic-beats-aws-elb/application-lb-http.log",
    "elastic-beats-aws-elb/elb-http.log",
    "elastic-beats-aws-elb/example-alb-http.log",
    "elastic-beats-aws-elb/example-https.log",
    "elastic-beats-nginx/access.log",
    "elastic-beats-nginx/test-with-host.log",
    "elastic-beats-nginx/test.log",
    "elastic-beats-traefik/test.log",
    "elastic-examples-apache/apache_logs",
    "elastic-integrations-apache/test-access-basic.log",
    "elastic-integrations-aws-cloudfront/test-cloudfront.log",
    "elastic-integrations-aws-elb/test-alb.log",
    "elastic-integrations-nginx/test-access.log",
    "lnav-test-logs/logfile_access_log.0",
    "lnav-test-logs/logfile_access_log.1",
    "lnav-test-logs/logfile_bad_access_log.0",
    "lnav-test-logs/logfile_caddy_log.0",
    "lnav-test-logs/logfile_caddy_log.1",
    "lnav-test-logs/logfile_haproxy.0",
    "lnav-test-logs/logfile_regexp_access_log.0",
    "lnav-test-logs/logfile_shop_access_log.0",
    "lnav-test-logs/playground-access_log.gz",
};

/* Lines the real logs lack: every shape the nginx_timed fast path reads or hands over. */
static const char *const extra[] = {
    "1.2.3.4 - - [07/Dec/2016:11:05:07 +0100] \"GET / HTTP/1.1\" 200 1 \"-\" \"ua\" 0.033 0.032",
    "1.2.3.4 - - [07/Dec/2016:11:05:07 +0100] \"GET / HTTP/1.1\" 502 1 \"-\" \"ua\" 0.2 0.1, 0.1",
    "1.2.3.4 - - [07/Dec/2016:11:05:07 +0100] \"GET / HTTP/1.1\" 200 1 \"-\" \"ua\" 0.2 0.1 : 1",
    "1.2.3.4 - - [07/Dec/2016:11:05:07 +0100] \"GET / HTTP/1.1\" 200 1 \"-\" \"ua\" 0.2 0.1,0.1",
    "1.2.3.4 - - [07/Dec/2016:11:05:07 +0100] \"GET / HTTP/1.1\" 200 1 \"-\" \"ua\" 0.2 - extra",
    "1.2.3.4 - - [07/Dec/2016:11:05:07 +0100] \"GET / HTTP/1.1\" 200 1 \"-\" \"ua\" - -",
    "1.2.3.4 - - [07/Dec/2016:11:05:07 +0100] \"GET / HTTP/1.1\" 200 1 \"-\" \"ua\" -1 -1",
    "1.2.3.4 - - [07/Dec/2016:11:05:07 +0100] \"GET / HTTP/1.1\" 200 1 \"-\" \"ua\" 1e-3 2e-3",
    "1.2.3.4 - - [07/Dec/2016:11:05:07 +0100] \"GET / HTTP/1.1\" 200 1 \"-\" \"ua\" 0.1234567 9.",
    "1.2.3.4 - - [07/Dec/2016:11:05:07 +0100] \"GET / HTTP/1.1\" 200 1 \"-\" \"ua\" 999999999.1 "
    "1000000000 x",
    "1.2.3.4 - - [07/Dec/2016:11:05:07 +0100] \"GET / HTTP/1.1\" 200 1 \"-\" \"ua\" 0.1x 0.1",
    "1.2.3.4 - - [07/Dec/2016:11:05:07 +0100] \"GET / HTTP/1.1\" 200 1 \"-\" \"ua\" \"x\" 0.5 0.4",
    "1.2.3.4 - - [07/Dec/2016:11:05:07 +0100] \"GET / HTTP/1.1\" 200 1 \"-\" \"ua\" 0.5 ",
    "1.2.3.4 - - [07/Dec/2016:11:05:07 +0100] \"GET / HTTP/1.1\" 200 1 \"-\" \"ua\" 0.5",
    "1.2.3.4 - - [07/Dec/2016:11:05:07 +0100] \"GET / HTTP/1.1\" 200 1 \"-\" \"ua\"",
    "1.2.3.4 - - [07/Dec/2016:11:05:07 +0100] \"GET / HTTP/1.1\" 200 1 \"-\" \"u\\\"a\" 0.1 0.1",
    "1.2.3.4 - - [07/Dec/2016:11:05:07 +0100] \"GET /a\\\\\" HTTP/1.1\" 200 1 \"-\" \"ua\" 0.1 0.1",
    "1.2.3.4 - - [07/Dec/2016:11:05:07 +0100] \"GET /a b HTTP/1.1\" 200 - \"-\" \"ua\" 0.1 0.1",
    "1.2.3.4 - - [07/Dec/2016:11:05:07 +0100] \"-\" 400 0 \"-\" \"-\" 0.000 -",
    "1.2.3.4 - - [07/Dec/2016:11:05:07 +0100] \"GET\" 400 0 \"-\" \"-\" 0.000 -",
    "1.2.3.4 - - [07/Dec/2016:11:05:07 +0100] \"GET /x\" 400 0 \"-\" \"-\" 0.000 -",
    "1.2.3.4 - - [07/Dec/2016:11:05:07 +0100] \"\" 400 0 \"-\" \"-\" 0.000 -",
    "1.2.3.4 - - [07/Dec/2016:11:05:60 +0100] \"GET / HTTP/1.1\" 200 1 \"-\" \"ua\" 0.1 0.1",
    "1.2.3.4 - - [07/Dec/2016:11:05:61 +0100] \"GET / HTTP/1.1\" 200 1 \"-\" \"ua\" 0.1 0.1",
    "1.2.3.4 - - [07/Dec/2016:11:05:0x +0100] \"GET / HTTP/1.1\" 200 1 \"-\" \"ua\" 0.1 0.1",
    "1.2.3.4 - [x] [07/Dec/2016:11:05:07 +0100] \"GET / HTTP/1.1\" 200 1 \"-\" \"ua\" 0.1 0.1",
    "1.2.3.4 - - [x] [07/Dec/2016:11:05:07 +0100] \"GET / HTTP/1.1\" 200 1 \"-\" \"ua\" 0.1 0.1",
    "1.2.3.4 - [07/Dec/2016:11:05:07 +0100] [07/Dec/2016:11:05:07 +0100] \"GET / HTTP/1.1\" 200 1",
    "1.2.3.4 -  [07/Dec/2016:11:05:07 +0100] \"GET / HTTP/1.1\" 200 1 \"-\" \"ua\" 0.1 0.1",
    "1.2.3.4 x - [07/Dec/2016:11:05:07 +0100] \"GET / HTTP/1.1\" 200 1 \"-\" \"ua\" 0.1 0.1",
    "\"1.2.3.4\" - - [07/Dec/2016:11:05:07 +0100] \"GET / HTTP/1.1\" 200 1 \"-\" \"ua\" 0.1 0.1",
    "1.2.3.4 - - [07/Dec/2016:11:05:07 +0100] \"GET / HTTP/1.1\" 20 1 \"-\" \"ua\" 0.1 0.1",
    "1.2.3.4 - - [07/Dec/2016:11:05:07 +0100] \"GET / HTTP/1.1\" 2000 1 \"-\" \"ua\" 0.1 0.1",
    "1.2.3.4 - - [07/Dec/2016:11:05:07 +0100] \"GET / HTTP/1.1\" 200 -1 \"-\" \"ua\" 0.1 0.1",
    "1.2.3.4 - - [07/Dec/2016:11:05:07 +0100] \"GET / HTTP/1.1\" 200 12a \"-\" \"ua\" 0.1 0.1",
    "1.2.3.4 - - [07/Dec/2016:11:05:07 +0100] \"GET / HTTP/1.1\" 200  \"-\" \"ua\" 0.1 0.1",
    "1.2.3.4 - - [07/Dec/2016:11:05:07 +0100] \"GET / HTTP/1.1\" 200 1 - \"-\" \"ua\" 0.1 0.1",
    "1.2.3.4 - - [07/Dec/2016:11:05:07 +0100] \"GET / HTTP/1.1\" 200 1 \"-\" \"ua",
    "1.2.3.4 - - [07/Dec/2016:11:05:07 +0100] \"GET / HTTP/1.1\" 200 1 \"-",
    "http 2026-03-01T00:00:00.730044Z app/web-lb/50dc6c495c0c9188 198.51.100.246:31336 "
    "10.0.3.157:8080 0.000055 0.016437 0.000076 200 200 218 55862 \"GET "
    "http://shop.example.com:80/api/cart/91546 HTTP/1.1\" \"Mozilla/5.0 (compatible; "
    "Googlebot/2.1)\" - - arn:aws:elasticloadbalancing:eu-central-1:123456789012:targetgroup/web/"
    "73e2d6bc24d8a067 \"Root=1-69a38180-2d1aa9ea64d8f3636f1f16f1\" \"shop.example.com\" \"-\" 0 "
    "2026-03-01T00:00:00.729044Z \"forward\" \"-\" \"-\" \"10.0.3.157:8080\" \"200\" \"-\" \"-\"",
    "h2 2026-03-01T00:00:01.000001Z app/x/1 1.2.3.4:5 - -1 -1 -1 460 - 0 0 \"GET "
    "https://[::1]:443/a\\\"b?q HTTP/2.0\" \"u\\\\\" - - - \"-\" \"-\" \"-\" 0 "
    "2026-03-01T00:00:00Z \"-\" \"-\" \"TargetConnectionError\"",
    "wss 2026-03-01T00:00:59.5Z app/x/1 1.2.3.4:5 - 12.5 1e-3 0.1234567 101 101 0 0 \"GET "
    "wss://h/ HTTP/1.1\"  \"ua\"",
    "https 2026-03-01T00:00:01.000001Z app/x/1 1.2.3.4:5 - 0.1 0.1 0.1 200 200 0 0 \"GET / "
    "HTTP/1.1\"\"ua\" x",
};

/* The record as slt_parse() hands it to a format's parse op. */
static void blank(struct slt_record *rec, const char *line, size_t len)
{
    memset(rec, 0, sizeof(*rec));
    rec->latency_us = -1;
    rec->upstream_us = -1;
    rec->line = line;
    rec->len = len;
}

static const char *const variant_name[] = {"apache_common", "combined", "nginx_main", "nginx_timed",
                                           "alb"};
#define ALB 4
static long compared;

static void same_record(const char *line, size_t len)
{
    static struct slt__builtin_state st_fast, st_general;
    struct slt_record a, b;
    int v, ra, rb, k;

    for (v = SLT__CLF_COMMON; v <= ALB; v++) {
        blank(&a, line, len);
        blank(&b, line, len);
        if (v == ALB) {
            ra = slt__alb_parse(&st_fast, line, len, &a, 1);
            rb = slt__alb_parse(&st_general, line, len, &b, 0);
            if (ra == SLT_UP_OK)
                slt__alb_materialize(&a); /* the fields the fast path leaves for later */
        } else {
            ra = slt__clf_parse((enum slt__clf_variant)v, &st_fast, line, len, &a);
            rb = slt__clf_parse_general((enum slt__clf_variant)v, &st_general, line, len, &b);
        }
        compared++;
        if (ra != rb)
            fail_msg("%s: fast %d general %d: '%.*s'", variant_name[v], ra, rb, (int)len, line);
        if (a.time != b.time || a.status != b.status || a.latency_us != b.latency_us ||
            a.upstream_us != b.upstream_us || a.time_frac_us != b.time_frac_us)
            fail_msg("%s: time %lld/%lld status %d/%d latency %lld/%lld upstream %lld/%lld: "
                     "'%.*s'",
                     variant_name[v], (long long)a.time, (long long)b.time, a.status, b.status,
                     (long long)a.latency_us, (long long)b.latency_us, (long long)a.upstream_us,
                     (long long)b.upstream_us, (int)len, line);
        for (k = 0; k < SLT_F__COUNT; k++)
            if (a.field[k].p != b.field[k].p || a.field[k].len != b.field[k].len)
                fail_msg("%s: field %s fast '%.*s' general '%.*s': '%.*s'", variant_name[v],
                         slt_field_name(k), a.field[k].p ? (int)a.field[k].len : 6,
                         a.field[k].p ? a.field[k].p : "absent",
                         b.field[k].p ? (int)b.field[k].len : 6,
                         b.field[k].p ? b.field[k].p : "absent", (int)len, line);
        if (ra != SLT_UP_OK && (a.detail != b.detail || a.column != b.column))
            fail_msg("%s: detail '%s'@%zu / '%s'@%zu: '%.*s'", variant_name[v], a.detail, a.column,
                     b.detail, b.column, (int)len, line);
    }
}

/* The line, every prefix of it, and it with each byte in turn replaced by each of a few. */
static void same_record_mutated(const char *line, size_t len)
{
    static const char subst[] = {' ', '"', '\\', '-', '[', ']', ',', ':', '.', '0', 'x'};
    char *copy = test_malloc(len ? len : 1);
    size_t i, n, k;

    memcpy(copy, line, len);
    for (n = 0; n <= len; n++)
        same_record(copy, n);
    for (i = 0; i < len; i++) {
        for (k = 0; k < sizeof(subst); k++) {
            copy[i] = subst[k];
            same_record(copy, len);
        }
        copy[i] = line[i];
    }
    test_free(copy);
}

static void test_fast_paths_agree_with_general_path_on_real_logs(void **state)
{
    static char buf[1 << 17];
    char path[1024];
    struct stat st;
    size_t i, len;
    gzFile f;
    int nline;

    (void)state;
    if (stat(SLT_REAL_DATA "/SOURCES.md", &st) != 0)
        skip();
    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", SLT_REAL_DATA, files[i]);
        f = gzopen(path, "rb");
        if (!f)
            fail_msg("cannot open '%s'", path);
        for (nline = 0; gzgets(f, buf, sizeof(buf)); nline++) {
            len = strlen(buf);
            if (len > 0 && buf[len - 1] == '\n')
                len--;
            if (nline < 3)
                same_record_mutated(buf, len);
            else
                same_record(buf, len);
        }
        gzclose(f);
    }
    assert_true(compared > 40000);
}

static void test_fast_paths_agree_with_general_path_on_odd_lines(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
        same_record_mutated(extra[i], strlen(extra[i]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fast_paths_agree_with_general_path_on_real_logs),
        cmocka_unit_test(test_fast_paths_agree_with_general_path_on_odd_lines),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
