/* The nginx built-in formats: parsers/src/nginx.c */
#include "test_parser_helpers.h"

#define UA "\"Mozilla/5.0 (X11; Linux x86_64)\""

static void test_nginx_combined_fills_canonical_fields(void **state)
{
    struct slt_record rec;

    (void)state;
    use("nginx_combined");
    assert_int_equal(parse("77.179.66.156 - bob [25/Oct/2016:14:49:33 +0200] \"GET /a?b=1 "
                           "HTTP/1.1\" 404 571 \"http://localhost:8080/\" " UA,
                           &rec),
                     SLT_UP_OK);
    assert_int_equal(rec.status, 404);
    assert_int_equal(rec.time, 1477399773);
    assert_int_equal(rec.latency_us, -1);
    assert_int_equal(rec.upstream_us, -1);
    field_is(&rec, SLT_F_CLIENT, "77.179.66.156");
    field_is(&rec, SLT_F_USER, "bob");
    field_is(&rec, SLT_F_TIME, "25/Oct/2016:14:49:33 +0200");
    field_is(&rec, SLT_F_REQUEST, "GET /a?b=1 HTTP/1.1");
    field_is(&rec, SLT_F_METHOD, "GET");
    field_is(&rec, SLT_F_PATH, "/a?b=1");
    field_is(&rec, SLT_F_PROTOCOL, "HTTP/1.1");
    field_is(&rec, SLT_F_STATUS, "404");
    field_is(&rec, SLT_F_BYTES, "571");
    field_is(&rec, SLT_F_REFERER, "http://localhost:8080/");
    field_is(&rec, SLT_F_USER_AGENT, "Mozilla/5.0 (X11; Linux x86_64)");
    field_is(&rec, SLT_F_HOST, NULL);
    field_is(&rec, SLT_F_XFF, NULL);
    assert_null(rec.detail);
}

static void test_nginx_client_slot_holds_xff_list_and_ipv6(void **state)
{
    struct slt_record rec;

    (void)state;
    use("nginx_combined");
    assert_int_equal(parse("10.0.0.2, 10.0.0.1, 127.0.0.1 - - [07/Dec/2016:11:05:07 +0100] \"GET "
                           "/ocelot HTTP/1.1\" 200 571 \"-\" " UA,
                           &rec),
                     SLT_UP_OK);
    field_is(&rec, SLT_F_CLIENT, "10.0.0.2, 10.0.0.1, 127.0.0.1");
    field_is(&rec, SLT_F_HOST, NULL);
    assert_int_equal(parse("2a03:0000:10ff:f00f:0000:0000:0:8000, 10.225.192.17 10.2.2.121 - - "
                           "[30/Dec/2016:06:47:09 +0000] \"GET /test.html HTTP/1.1\" 404 8571 "
                           "\"-\" " UA,
                           &rec),
                     SLT_UP_OK);
    field_is(&rec, SLT_F_CLIENT, "2a03:0000:10ff:f00f:0000:0000:0:8000, 10.225.192.17 10.2.2.121");
    field_is(&rec, SLT_F_HOST, NULL);
    assert_int_equal(parse("::1 - - [26/Dec/2016:16:16:28 +0200] \"GET / HTTP/1.1\" 200 45", &rec),
                     SLT_UP_OK);
    field_is(&rec, SLT_F_CLIENT, "::1");
}

static void test_nginx_quoted_xff_list_is_client(void **state)
{
    struct slt_record rec;

    (void)state;
    use("nginx_combined");
    assert_int_equal(parse("\"10.5.102.222, 199.96.1.1, 204.246.1.1\" 10.2.1.185 - - "
                           "[22/Jan/2016:13:18:29 +0000] \"GET /assets/xxxx?q=100 HTTP/1.1\" 200 "
                           "25507 \"-\" \"Amazon CloudFront\"",
                           &rec),
                     SLT_UP_OK);
    field_is(&rec, SLT_F_CLIENT, "\"10.5.102.222, 199.96.1.1, 204.246.1.1\" 10.2.1.185");
    field_is(&rec, SLT_F_HOST, NULL);
    field_is(&rec, SLT_F_USER_AGENT, "Amazon CloudFront");
}

static void test_nginx_host_prefix_becomes_host(void **state)
{
    struct slt_record rec;

    (void)state;
    use("nginx_combined");
    assert_int_equal(
        parse("example.com:80 unix: - - [26/Feb/2019:15:39:42 +0100] \"hello\" 400 173 "
              "\"-\" \"-\"",
              &rec),
        SLT_UP_OK);
    field_is(&rec, SLT_F_HOST, "example.com:80");
    field_is(&rec, SLT_F_CLIENT, "unix:");
    assert_int_equal(rec.status, 400);
    assert_int_equal(
        parse("example.com localhost, localhost - - [29/May/2017:19:02:48 +0000] \"GET "
              "/test2 HTTP/1.1\" 200 612 \"-\" \"curl\" \"-\"",
              &rec),
        SLT_UP_OK);
    field_is(&rec, SLT_F_HOST, "example.com");
    field_is(&rec, SLT_F_CLIENT, "localhost, localhost");
    assert_int_equal(parse("1.128.3.4 2a02:cf40::8000, 10.225.192.17 10.2.2.121 - - "
                           "[30/Dec/2016:06:47:09 +0000] \"GET / HTTP/1.1\" 404 8571 \"-\" \"-\"",
                           &rec),
                     SLT_UP_OK);
    field_is(&rec, SLT_F_HOST, "1.128.3.4");
    field_is(&rec, SLT_F_CLIENT, "2a02:cf40::8000, 10.225.192.17 10.2.2.121");
    assert_int_equal(parse("example.com:80 \"10.5.102.222, 175.16.199.1\" 10.2.1.185 - - "
                           "[22/Jan/2016:13:18:29 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"",
                           &rec),
                     SLT_UP_OK);
    field_is(&rec, SLT_F_HOST, "example.com:80");
    field_is(&rec, SLT_F_CLIENT, "\"10.5.102.222, 175.16.199.1\" 10.2.1.185");
}

static void test_nginx_escaped_quote_does_not_end_request(void **state)
{
    struct slt_record rec;

    (void)state;
    use("nginx_combined");
    assert_int_equal(parse("1.2.3.4 - - [07/Dec/2016:11:05:07 +0100] \"GET /a\\\"b HTTP/1.1\" 200 "
                           "5 \"-\" \"x\\\"y\"",
                           &rec),
                     SLT_UP_OK);
    field_is(&rec, SLT_F_PATH, "/a\\\"b");
    field_is(&rec, SLT_F_USER_AGENT, "x\\\"y");
    assert_int_equal(parse("1.2.3.4 - - [07/Dec/2016:11:05:07 +0100] \"GET /a\\x22b HTTP/1.1\" 200 "
                           "5 \"-\" \"x\\x22 y\"",
                           &rec),
                     SLT_UP_OK);
    field_is(&rec, SLT_F_PATH, "/a\\x22b");
    field_is(&rec, SLT_F_USER_AGENT, "x\\x22 y");
    /* an escaped backslash before the closing quote: the quote closes */
    assert_int_equal(parse("1.2.3.4 - - [07/Dec/2016:11:05:07 +0100] \"GET /a\\\\\" 200 5 \"-\" "
                           "\"ua\"",
                           &rec),
                     SLT_UP_OK);
    field_is(&rec, SLT_F_PATH, "/a\\\\");
    field_is(&rec, SLT_F_USER_AGENT, "ua");
}

static void test_nginx_junk_requests_parse_and_status_decides(void **state)
{
    struct slt_record rec;

    (void)state;
    use("nginx_combined");
    assert_int_equal(
        parse("127.0.0.1 - - [12/Apr/2018:09:48:40 +0200] \"\" 400 0 \"-\" \"-\"", &rec),
        SLT_UP_OK);
    assert_int_equal(rec.status, 400);
    field_is(&rec, SLT_F_REQUEST, "");
    field_is(&rec, SLT_F_METHOD, NULL);
    field_is(&rec, SLT_F_PATH, NULL);
    assert_int_equal(parse("::1 - - [26/Dec/2016:16:16:48 +0200] \"-\" 408 -", &rec), SLT_UP_OK);
    assert_int_equal(rec.status, 408);
    field_is(&rec, SLT_F_REQUEST, "-");
    field_is(&rec, SLT_F_METHOD, NULL);
    field_is(&rec, SLT_F_BYTES, "-");
    assert_int_equal(parse("1.2.3.4 - - [13/Nov/2023:10:44:31 +0000] "
                           "\"\\x16\\x03\\x03\\x01\\x8f\\x01\" 400 483 \"-\" \"-\"",
                           &rec),
                     SLT_UP_OK);
    field_is(&rec, SLT_F_METHOD, "\\x16\\x03\\x03\\x01\\x8f\\x01");
    field_is(&rec, SLT_F_PATH, NULL);
    assert_int_equal(parse("1.2.3.4 - - [14/Jun/2024:12:20:12 +0530] \"- - HTTP/1.0\" 400 226 "
                           "\"-\" \"-\"",
                           &rec),
                     SLT_UP_OK);
    field_is(&rec, SLT_F_METHOD, "-");
    field_is(&rec, SLT_F_PATH, "-");
    field_is(&rec, SLT_F_PROTOCOL, "HTTP/1.0");
    assert_int_equal(parse("1.2.3.4 - - [14/Jun/2024:12:20:12 +0530] \"GET /x\" 200 1", &rec),
                     SLT_UP_OK);
    field_is(&rec, SLT_F_PATH, "/x");
    field_is(&rec, SLT_F_PROTOCOL, NULL);
}

static void test_nginx_client_closed_and_timeout_statuses_parse(void **state)
{
    static const int codes[] = {408, 499, 460, 101, 0};
    char line[256];
    struct slt_record rec;
    size_t i;

    (void)state;
    use("nginx_combined");
    for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        snprintf(line, sizeof(line),
                 "1.2.3.4 - - [14/Jun/2024:12:20:12 +0000] \"GET /ws HTTP/1.1\" %03d 0 \"-\" \"-\"",
                 codes[i]);
        assert_int_equal(parse(line, &rec), SLT_UP_OK);
        assert_int_equal(rec.status, codes[i]);
    }
}

static void test_nginx_http2_and_websocket_requests(void **state)
{
    struct slt_record rec;

    (void)state;
    use("nginx_combined");
    assert_int_equal(parse("1.2.3.4 - - [14/Jun/2024:12:20:12 +0000] \"GET /api HTTP/2.0\" 200 1 "
                           "\"-\" \"-\"",
                           &rec),
                     SLT_UP_OK);
    field_is(&rec, SLT_F_PROTOCOL, "HTTP/2.0");
    assert_int_equal(parse("1.2.3.4 - - [14/Jun/2024:12:20:12 +0000] \"GET /socket HTTP/1.1\" 101 "
                           "1234 \"-\" \"-\"",
                           &rec),
                     SLT_UP_OK);
    assert_int_equal(rec.status, 101);
}

static void test_nginx_bad_status_is_unparsed_status(void **state)
{
    struct slt_record rec;

    (void)state;
    use("nginx_combined");
    assert_int_equal(
        parse("1.2.3.4 - - [14/Jun/2024:12:20:12 +0000] \"GET / HTTP/1.1\" 20 1", &rec),
        SLT_UP_STATUS);
    assert_string_equal(slt_unparsed_name(SLT_UP_STATUS), "status");
    assert_non_null(rec.detail);
    assert_int_equal(
        parse("1.2.3.4 - - [14/Jun/2024:12:20:12 +0000] \"GET / HTTP/1.1\" abc 1", &rec),
        SLT_UP_STATUS);
    assert_int_equal(parse("1.2.3.4 - - [14/Jun/2024:12:20:12 +0000] \"GET / HTTP/1.1\"", &rec),
                     SLT_UP_STATUS);
    assert_int_equal(
        parse("1.2.3.4 - - [14/Jun/2024:12:20:12 +0000] \"GET / HTTP/1.1\" 2000 1", &rec),
        SLT_UP_STATUS);
}

static void test_nginx_bad_time_is_unparsed_time(void **state)
{
    struct slt_record rec;

    (void)state;
    use("nginx_combined");
    assert_int_equal(
        parse("1.2.3.4 - - [32/Jun/2024:12:20:12 +0000] \"GET / HTTP/1.1\" 200 1", &rec),
        SLT_UP_TIME);
    assert_int_equal(rec.column, 13);
}

static void test_nginx_structural_damage_is_syntax(void **state)
{
    struct slt_record rec;

    (void)state;
    use("nginx_combined");
    assert_int_equal(parse("hello world", &rec), SLT_UP_SYNTAX);
    assert_int_equal(parse("1.2.3.4 [14/Jun/2024:12:20:12 +0000] \"GET / HTTP/1.1\" 200 1", &rec),
                     SLT_UP_SYNTAX);
    assert_int_equal(parse("1.2.3.4 - - [14/Jun/2024:12:20:12 +0000] \"GET / HTTP/1.1 200 1", &rec),
                     SLT_UP_SYNTAX);
    assert_int_equal(parse("1.2.3.4 - - [14/Jun/2024:12:20:12 +0000] GET / 200 1", &rec),
                     SLT_UP_SYNTAX);
    assert_int_equal(parse("1.2.3.4 - - [14/Jun/2024:12:20:12 +0000] \"GET /\" 200 1x", &rec),
                     SLT_UP_SYNTAX);
}

static void test_nginx_trailing_fields_are_ignored(void **state)
{
    struct slt_record rec;

    (void)state;
    use("nginx_combined");
    assert_int_equal(parse("1.2.3.4 - - [02/Oct/2017:20:22:07 +0000] \"GET /f.png HTTP/1.1\" 304 0 "
                           "\"http://example.com/login\" \"Mozilla\" 262 \"Host-host-1\" "
                           "\"http://172.19.0.3:5601\" 2ms",
                           &rec),
                     SLT_UP_OK);
    field_is(&rec, SLT_F_USER_AGENT, "Mozilla");
    assert_int_equal(rec.status, 304);
}

static void test_nginx_main_reads_xff(void **state)
{
    struct slt_record rec;

    (void)state;
    use("nginx_main");
    assert_int_equal(parse("5.160.157.21 - - [22/Jan/2019:03:56:14 +0330] \"GET /x HTTP/1.1\" 200 "
                           "30577 \"-\" \"Googlebot\" \"103.28.132.65\"",
                           &rec),
                     SLT_UP_OK);
    field_is(&rec, SLT_F_XFF, "103.28.132.65");
    field_is(&rec, SLT_F_USER_AGENT, "Googlebot");
    assert_int_equal(rec.time, 1548116774);
    assert_int_equal(parse("5.160.157.21 - - [22/Jan/2019:03:56:14 +0330] \"GET /x HTTP/1.1\" 200 "
                           "30577 \"-\" \"Googlebot\"",
                           &rec),
                     SLT_UP_OK);
    field_is(&rec, SLT_F_XFF, NULL);
}

#define TIMED_HEAD                                                                                 \
    "10.1.2.3 - - [22/Jan/2019:03:56:14 +0000] \"POST /api/v1/orders HTTP/1.1\" 201 17 \"-\" "     \
    "\"curl/8.0\" "

static void test_nginx_timed_reads_request_time(void **state)
{
    struct slt_record rec;

    (void)state;
    use("nginx_timed");
    assert_true(slt_format_has_latency(fmt));
    assert_int_equal(parse(TIMED_HEAD "0.123 0.120", &rec), SLT_UP_OK);
    assert_int_equal(rec.latency_us, 123000);
    assert_int_equal(rec.upstream_us, 120000);
    field_is(&rec, SLT_F_LATENCY, "0.123");
    field_is(&rec, SLT_F_UPSTREAM_LATENCY, "0.120");
    field_is(&rec, SLT_F_METHOD, "POST");
    assert_int_equal(rec.status, 201);
}

static void test_nginx_timed_upstream_list_sums(void **state)
{
    struct slt_record rec;

    (void)state;
    use("nginx_timed");
    assert_int_equal(parse(TIMED_HEAD "0.040 0.010, 0.020 : 0.005", &rec), SLT_UP_OK);
    assert_int_equal(rec.latency_us, 40000);
    assert_int_equal(rec.upstream_us, 35000);
    field_is(&rec, SLT_F_UPSTREAM_LATENCY, "0.010, 0.020 : 0.005");
}

static void test_nginx_timed_dash_upstream_entries_are_ignored(void **state)
{
    struct slt_record rec;

    (void)state;
    use("nginx_timed");
    assert_int_equal(parse(TIMED_HEAD "0.002 -", &rec), SLT_UP_OK);
    assert_int_equal(rec.latency_us, 2000);
    assert_int_equal(rec.upstream_us, -1);
    field_is(&rec, SLT_F_UPSTREAM_LATENCY, "-");
    assert_int_equal(parse(TIMED_HEAD "3.001 -, 3.000", &rec), SLT_UP_OK);
    assert_int_equal(rec.upstream_us, 3000000);
    assert_int_equal(parse(TIMED_HEAD "0.5", &rec), SLT_UP_OK);
    assert_int_equal(rec.upstream_us, -1);
    field_is(&rec, SLT_F_UPSTREAM_LATENCY, NULL);
    /* a word after the list is a trailing field, not part of it */
    assert_int_equal(parse(TIMED_HEAD "0.5 0.4 extra", &rec), SLT_UP_OK);
    field_is(&rec, SLT_F_UPSTREAM_LATENCY, "0.4");
}

static void test_nginx_timed_huge_upstream_list_saturates(void **state)
{
    static char line[8192];
    struct slt_record rec;
    int n, i;

    (void)state;
    use("nginx_timed");
    n = snprintf(line, sizeof(line), "%s0.1 ", TIMED_HEAD);
    for (i = 0; i < 100; i++)
        n += snprintf(line + n, sizeof(line) - (size_t)n, "%s999999999", i ? ", " : "");
    assert_int_equal(parse(line, &rec), SLT_UP_OK);
    assert_true(rec.upstream_us > 0);
    assert_true(rec.upstream_us <= INT64_C(2000000000000000));
}

static void test_nginx_timed_dash_request_time_gives_no_latency(void **state)
{
    struct slt_record rec;

    (void)state;
    use("nginx_timed");
    assert_int_equal(parse(TIMED_HEAD "- -", &rec), SLT_UP_OK);
    assert_int_equal(rec.latency_us, -1);
}

static void test_nginx_timed_missing_or_bad_request_time_is_latency(void **state)
{
    struct slt_record rec;

    (void)state;
    use("nginx_timed");
    assert_int_equal(parse(TIMED_HEAD "abc 0.1", &rec), SLT_UP_LATENCY);
    assert_int_equal(parse(TIMED_HEAD, &rec), SLT_UP_LATENCY);
    assert_int_equal(
        parse("10.1.2.3 - - [22/Jan/2019:03:56:14 +0000] \"GET / HTTP/1.1\" 200 1", &rec),
        SLT_UP_LATENCY);
}

static void test_nginx_timed_accepts_xff_before_times(void **state)
{
    struct slt_record rec;

    (void)state;
    use("nginx_timed");
    assert_int_equal(parse(TIMED_HEAD "\"9.9.9.9\" 0.250 0.249", &rec), SLT_UP_OK);
    field_is(&rec, SLT_F_XFF, "9.9.9.9");
    assert_int_equal(rec.latency_us, 250000);
    assert_int_equal(rec.upstream_us, 249000);
}

static void test_clf_time_cache_follows_changes(void **state)
{
    struct slt_record rec;

    (void)state;
    use("nginx_combined");
    assert_int_equal(parse("a - - [07/Dec/2016:11:05:07 +0100] \"GET / HTTP/1.1\" 200 1", &rec), 0);
    assert_int_equal(rec.time, 1481105107);
    assert_int_equal(parse("a - - [07/Dec/2016:11:05:07 +0100] \"GET / HTTP/1.1\" 200 1", &rec), 0);
    assert_int_equal(rec.time, 1481105107);
    assert_int_equal(parse("a - - [07/Dec/2016:11:05:08 +0100] \"GET / HTTP/1.1\" 200 1", &rec), 0);
    assert_int_equal(rec.time, 1481105108);
    assert_int_equal(parse("a - - [07/Dec/2016:11:05:08 +0000] \"GET / HTTP/1.1\" 200 1", &rec), 0);
    assert_int_equal(rec.time, 1481108708);
    assert_int_equal(parse("a - - [07/Dec/2016:11:05:08 +0000] \"GET / HTTP/1.1\" 200 1", &rec), 0);
    assert_int_equal(rec.time, 1481108708);
}

static void test_nginx_every_prefix_of_a_line_is_a_result(void **state)
{
    static const char line[] =
        "example.com \"1.1.1.1, 2.2.2.2\" 3.3.3.3 - - [07/Dec/2016:11:05:07 +0100] \"GET /a\\\"b "
        "HTTP/1.1\" 200 571 \"-\" \"ua\" \"x\" 0.010 0.005, - : 0.001";
    static const char *const names[] = {"nginx_combined", "nginx_main", "nginx_timed"};
    struct slt_record rec;
    size_t n, k;
    int r;

    (void)state;
    for (k = 0; k < 3; k++) {
        use(names[k]);
        for (n = 0; n <= sizeof(line) - 1; n++) {
            /* a private copy so ASan sees any read past n */
            char *copy = test_malloc(n ? n : 1);
            memcpy(copy, line, n);
            r = slt_parse(parser, copy, n, &rec);
            assert_in_range(r, SLT_UP_OK, SLT_UP__COUNT - 1);
            test_free(copy);
        }
        assert_int_equal(slt_parse(parser, line, sizeof(line) - 1, &rec), SLT_UP_OK);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_nginx_combined_fills_canonical_fields, teardown),
        cmocka_unit_test_teardown(test_nginx_client_slot_holds_xff_list_and_ipv6, teardown),
        cmocka_unit_test_teardown(test_nginx_quoted_xff_list_is_client, teardown),
        cmocka_unit_test_teardown(test_nginx_host_prefix_becomes_host, teardown),
        cmocka_unit_test_teardown(test_nginx_escaped_quote_does_not_end_request, teardown),
        cmocka_unit_test_teardown(test_nginx_junk_requests_parse_and_status_decides, teardown),
        cmocka_unit_test_teardown(test_nginx_client_closed_and_timeout_statuses_parse, teardown),
        cmocka_unit_test_teardown(test_nginx_http2_and_websocket_requests, teardown),
        cmocka_unit_test_teardown(test_nginx_bad_status_is_unparsed_status, teardown),
        cmocka_unit_test_teardown(test_nginx_bad_time_is_unparsed_time, teardown),
        cmocka_unit_test_teardown(test_nginx_structural_damage_is_syntax, teardown),
        cmocka_unit_test_teardown(test_nginx_trailing_fields_are_ignored, teardown),
        cmocka_unit_test_teardown(test_nginx_main_reads_xff, teardown),
        cmocka_unit_test_teardown(test_nginx_timed_reads_request_time, teardown),
        cmocka_unit_test_teardown(test_nginx_timed_upstream_list_sums, teardown),
        cmocka_unit_test_teardown(test_nginx_timed_dash_upstream_entries_are_ignored, teardown),
        cmocka_unit_test_teardown(test_nginx_timed_huge_upstream_list_saturates, teardown),
        cmocka_unit_test_teardown(test_nginx_timed_dash_request_time_gives_no_latency, teardown),
        cmocka_unit_test_teardown(test_nginx_timed_missing_or_bad_request_time_is_latency,
                                  teardown),
        cmocka_unit_test_teardown(test_nginx_timed_accepts_xff_before_times, teardown),
        cmocka_unit_test_teardown(test_clf_time_cache_follows_changes, teardown),
        cmocka_unit_test_teardown(test_nginx_every_prefix_of_a_line_is_a_result, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
