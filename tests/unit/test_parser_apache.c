/* The Apache built-in formats: parsers/src/apache.c (CLF head shared with nginx.c) */
#include "test_parser_helpers.h"

static void test_apache_common_line_parses(void **state)
{
    struct slt_record rec;

    (void)state;
    use("apache_common");
    assert_int_equal(parse("127.0.0.1 user-identity frank [10/Oct/2000:13:55:36 -0700] \"GET "
                           "/apache_pb.gif HTTP/1.0\" 200 2326",
                           &rec),
                     SLT_UP_OK);
    assert_int_equal(rec.status, 200);
    assert_int_equal(rec.time, 971211336);
    field_is(&rec, SLT_F_USER, "frank");
    field_is(&rec, SLT_F_CLIENT, "127.0.0.1");
    field_is(&rec, SLT_F_BYTES, "2326");
    field_is(&rec, SLT_F_PATH, "/apache_pb.gif");
    assert_false(slt_format_has_latency(fmt));
}

static void test_apache_common_ignores_combined_tail(void **state)
{
    struct slt_record rec;

    (void)state;
    use("apache_common");
    assert_int_equal(parse("1.2.3.4 - - [26/Dec/2016:16:22:13 +0000] \"GET /hello HTTP/1.1\" 404 "
                           "499 \"-\" \"Mozilla/5.0\"",
                           &rec),
                     SLT_UP_OK);
    field_is(&rec, SLT_F_USER_AGENT, NULL);
    field_is(&rec, SLT_F_REFERER, NULL);
}

static void test_apache_408_with_dash_request_and_bytes(void **state)
{
    struct slt_record rec;

    (void)state;
    use("apache_common");
    assert_int_equal(parse("::1 - - [26/Dec/2016:16:16:48 +0200] \"-\" 408 -", &rec), SLT_UP_OK);
    assert_int_equal(rec.status, 408);
    field_is(&rec, SLT_F_BYTES, "-");
    field_is(&rec, SLT_F_METHOD, NULL);
}

static void test_apache_combined_accepts_common_only_line(void **state)
{
    struct slt_record rec;

    (void)state;
    use("apache_combined");
    assert_int_equal(parse("::1 - - [26/Dec/2016:16:16:29 +0200] \"GET /favicon.ico HTTP/1.1\" 404 "
                           "209",
                           &rec),
                     SLT_UP_OK);
    assert_int_equal(rec.status, 404);
    field_is(&rec, SLT_F_REFERER, NULL);
    field_is(&rec, SLT_F_USER_AGENT, NULL);
}

static void test_apache_extra_numeric_field_before_referer_is_skipped(void **state)
{
    struct slt_record rec;

    (void)state;
    use("apache_combined");
    assert_int_equal(
        parse("2a02:cf40:add:4002:91f2:a9b2:e09a:6fc6 - - [29/May/2017:19:02:48 +0000] "
              "\"GET /x HTTP/1.1\" 200 612 3413 \"-\" \"Mozilla/5.0\" "
              "X-Forwarded-For=\"10.225.192.17, 10.2.2.121\"",
              &rec),
        SLT_UP_OK);
    field_is(&rec, SLT_F_BYTES, "612");
    field_is(&rec, SLT_F_REFERER, "-");
    field_is(&rec, SLT_F_USER_AGENT, "Mozilla/5.0");
    field_is(&rec, SLT_F_CLIENT, "2a02:cf40:add:4002:91f2:a9b2:e09a:6fc6");
}

static void test_apache_escaped_quote_in_user_agent(void **state)
{
    struct slt_record rec;

    (void)state;
    use("apache_combined");
    assert_int_equal(parse("1.2.3.4 - - [29/May/2017:19:02:48 +0000] \"GET / HTTP/1.1\" 200 1 "
                           "\"-\" \"say \\\"hi\\\" \" \"-\"",
                           &rec),
                     SLT_UP_OK);
    field_is(&rec, SLT_F_USER_AGENT, "say \\\"hi\\\" ");
}

static void test_apache_cut_off_user_agent_runs_to_end_of_line(void **state)
{
    struct slt_record rec;

    (void)state;
    use("apache_combined");
    assert_int_equal(parse("46.118.127.106 - - [20/May/2015:12:05:17 +0000] \"GET /c.py HTTP/1.1\" "
                           "200 235 \"-\" \"Mozilla/5.0 (compatible; Googlebot/2.1; "
                           "+http://www.google.com/bot.html",
                           &rec),
                     SLT_UP_OK);
    field_is(&rec, SLT_F_USER_AGENT,
             "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html");
}

static void test_apache_vhost_prefixes_become_host(void **state)
{
    struct slt_record rec;

    (void)state;
    use("apache_combined");
    assert_int_equal(parse("127.0.1.1:80 127.0.0.1 - - [13/Nov/2023:10:44:31 +0000] "
                           "\"\\x16\\x03\\x03\\x01\\x8f\\x01\" 400 483 \"-\" \"-\"",
                           &rec),
                     SLT_UP_OK);
    field_is(&rec, SLT_F_HOST, "127.0.1.1:80");
    field_is(&rec, SLT_F_CLIENT, "127.0.0.1");
    assert_int_equal(rec.status, 400);
    /* a lone host:port is the client, not a vhost */
    assert_int_equal(
        parse("127.0.0.1:80 - - [13/Nov/2023:10:44:01 +0000] \"<SCRIPT>NXSSTEST</SCRIPT> "
              "/ HTTP/1.1\" 400 3386 \"-\" \"-\"",
              &rec),
        SLT_UP_OK);
    field_is(&rec, SLT_F_HOST, NULL);
    field_is(&rec, SLT_F_CLIENT, "127.0.0.1:80");
    field_is(&rec, SLT_F_METHOD, "<SCRIPT>NXSSTEST</SCRIPT>");
    field_is(&rec, SLT_F_PATH, "/");
}

static void test_apache_literal_backslash_n_request_with_trailing_number(void **state)
{
    struct slt_record rec;

    (void)state;
    use("apache_combined");
    assert_int_equal(parse("127.0.0.1 - - [22/May/2024:08:21:14 +0300] \"\\n\" 400 226 98", &rec),
                     SLT_UP_OK);
    field_is(&rec, SLT_F_REQUEST, "\\n");
    field_is(&rec, SLT_F_REFERER, NULL);
    assert_int_equal(rec.status, 400);
}

static void test_apache_missing_ident_and_user_is_syntax(void **state)
{
    struct slt_record rec;

    (void)state;
    use("apache_combined");
    assert_int_equal(parse("192.168.202.254 [20/Jul/2009:22:59:29 +0000] \"GET / HTTP/1.0\" 404 "
                           "46210 \"-\" \"gPXE/0.9.7\"",
                           &rec),
                     SLT_UP_SYNTAX);
}

static void test_apache_ssl_request_log_is_not_clf(void **state)
{
    struct slt_record rec;

    (void)state;
    use("apache_common");
    assert_int_equal(parse("[10/Aug/2018:09:45:56 +0200] 172.30.0.119 TLSv1.2 ECDHE-RSA-AES128-GCM "
                           "\"GET / HTTP/1.1\" 1375",
                           &rec),
                     SLT_UP_SYNTAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_apache_common_line_parses, teardown),
        cmocka_unit_test_teardown(test_apache_common_ignores_combined_tail, teardown),
        cmocka_unit_test_teardown(test_apache_408_with_dash_request_and_bytes, teardown),
        cmocka_unit_test_teardown(test_apache_combined_accepts_common_only_line, teardown),
        cmocka_unit_test_teardown(test_apache_extra_numeric_field_before_referer_is_skipped,
                                  teardown),
        cmocka_unit_test_teardown(test_apache_escaped_quote_in_user_agent, teardown),
        cmocka_unit_test_teardown(test_apache_cut_off_user_agent_runs_to_end_of_line, teardown),
        cmocka_unit_test_teardown(test_apache_vhost_prefixes_become_host, teardown),
        cmocka_unit_test_teardown(test_apache_literal_backslash_n_request_with_trailing_number,
                                  teardown),
        cmocka_unit_test_teardown(test_apache_missing_ident_and_user_is_syntax, teardown),
        cmocka_unit_test_teardown(test_apache_ssl_request_log_is_not_clf, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
