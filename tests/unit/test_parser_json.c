/* JSON formats, built-in and user-mapped: parsers/src/json.c */
#include "test_parser_helpers.h"

#define CADDY                                                                                      \
    "{\"level\":\"info\",\"ts\":1761019942.9484386,\"logger\":\"http.log.access\",\"msg\":"        \
    "\"handled request\",\"request\":{\"remote_ip\":\"172.19.0.1\",\"remote_port\":\"37882\","     \
    "\"client_ip\":\"172.19.0.1\",\"proto\":\"HTTP/1.1\",\"method\":\"GET\",\"host\":"             \
    "\"localhost\",\"uri\":\"/index.html\",\"headers\":{\"If-None-Match\":[\"\\\"ddnp8\\\"\"],"    \
    "\"User-Agent\":[\"Mozilla/5.0 (X11)\",\"second\"],\"Accept\":[\"*/*\"]}},\"bytes_read\":0,"   \
    "\"user_id\":\"\",\"duration\":7.314e-05,\"size\":0,\"status\":304,\"resp_headers\":"          \
    "{\"Server\":[\"Caddy\"]}}"

static struct slt_format *user_fmt;
static struct slt_parser *user_parser;

static int teardown_all(void **state)
{
    slt_parser_free(user_parser);
    slt_format_free(user_fmt);
    user_parser = NULL;
    user_fmt = NULL;
    return teardown(state);
}

static void test_json_nginx_escape_json_line(void **state)
{
    struct slt_record rec;

    (void)state;
    use("json");
    assert_int_equal(parse("{\"time_local\":\"25/Oct/2016:14:49:33 +0200\",\"remote_addr\":"
                           "\"10.0.0.1\",\"request\":\"GET /a?b=\\\"c\\\" HTTP/1.1\",\"status\":"
                           "\"503\",\"body_bytes_sent\":\"12\",\"request_time\":\"0.250\","
                           "\"upstream_response_time\":\"0.100, 0.120\",\"http_user_agent\":"
                           "\"curl/8\",\"http_referer\":\"\",\"host\":\"api.example.com\"}",
                           &rec),
                     SLT_UP_OK);
    assert_int_equal(rec.time, 1477399773);
    assert_int_equal(rec.status, 503);
    assert_int_equal(rec.latency_us, 250000);
    assert_int_equal(rec.upstream_us, 220000);
    field_is(&rec, SLT_F_METHOD, "GET");
    field_is(&rec, SLT_F_PATH, "/a?b=\\\"c\\\"");
    field_is(&rec, SLT_F_PROTOCOL, "HTTP/1.1");
    field_is(&rec, SLT_F_HOST, "api.example.com");
    field_is(&rec, SLT_F_CLIENT, "10.0.0.1");
    field_is(&rec, SLT_F_USER_AGENT, "curl/8");
    field_is(&rec, SLT_F_REFERER, "");
    field_is(&rec, SLT_F_BYTES, "12");
}

static void test_json_iso8601_and_explicit_method_uri(void **state)
{
    struct slt_record rec;

    (void)state;
    use("json");
    assert_int_equal(parse("{\"time_iso8601\":\"2024-01-02T03:04:05+01:00\",\"request_method\":"
                           "\"PUT\",\"request_uri\":\"/x\",\"status\":200,\"request_time\":0.004}",
                           &rec),
                     SLT_UP_OK);
    assert_int_equal(rec.time, slt_time_from_civil(2024, 1, 2, 2, 4, 5));
    field_is(&rec, SLT_F_METHOD, "PUT");
    field_is(&rec, SLT_F_PATH, "/x");
    assert_int_equal(rec.latency_us, 4000);
}

static void test_json_caddy_access_line(void **state)
{
    struct slt_record rec;

    (void)state;
    use("json");
    assert_int_equal(parse(CADDY, &rec), SLT_UP_OK);
    assert_int_equal(rec.time, 1761019942);
    assert_int_equal(rec.time_frac_us, 948438);
    assert_int_equal(rec.status, 304);
    assert_int_equal(rec.latency_us, 73);
    field_is(&rec, SLT_F_METHOD, "GET");
    field_is(&rec, SLT_F_PATH, "/index.html");
    field_is(&rec, SLT_F_HOST, "localhost");
    field_is(&rec, SLT_F_PROTOCOL, "HTTP/1.1");
    field_is(&rec, SLT_F_CLIENT, "172.19.0.1");
    field_is(&rec, SLT_F_USER_AGENT, "Mozilla/5.0 (X11)");
    field_is(&rec, SLT_F_BYTES, "0");
    field_is(&rec, SLT_F_REQUEST, NULL);
}

static void test_json_docker_compose_prefix_is_skipped(void **state)
{
    struct slt_record rec;

    (void)state;
    use("json");
    assert_int_equal(parse("caddy  | " CADDY, &rec), SLT_UP_OK);
    assert_int_equal(rec.status, 304);
    assert_int_equal(parse("no object here", &rec), SLT_UP_SYNTAX);
}

static void test_json_object_without_status_is_not_access(void **state)
{
    struct slt_record rec;

    (void)state;
    use("json");
    assert_int_equal(parse("caddy  | {\"level\":\"info\",\"ts\":1761019822.31575,\"msg\":\"adapted "
                           "config to JSON\",\"adapter\":\"caddyfile\"}",
                           &rec),
                     SLT_UP_NOT_ACCESS);
}

static void test_json_broken_objects_are_syntax(void **state)
{
    static const char *const bad[] = {
        "{\"status\":200",       "{\"status\":200,}",      "{\"status\" 200}",
        "{\"status\":200} junk", "{\"a\":\"unterminated}", "{\"a\":[1,2}",
        "{\"a\":tru}",           "{status:200}",           "{\"a\":{\"b\":1}",
    };
    struct slt_record rec;
    size_t i;

    (void)state;
    use("json");
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse(bad[i], &rec) != SLT_UP_SYNTAX)
            fail_msg("'%s' should be a syntax error, got %s", bad[i],
                     slt_unparsed_name(parse(bad[i], &rec)));
        assert_non_null(rec.detail);
    }
}

static void test_json_nesting_depth_is_bounded(void **state)
{
    char line[512];
    struct slt_record rec;
    int i, n = 0;

    (void)state;
    use("json");
    n += snprintf(line + n, sizeof(line) - (size_t)n, "{\"status\":200,\"ts\":1,\"a\":");
    for (i = 0; i < 40; i++)
        line[n++] = '[';
    for (i = 0; i < 40; i++)
        line[n++] = ']';
    line[n++] = '}';
    line[n] = '\0';
    assert_int_equal(parse(line, &rec), SLT_UP_SYNTAX);
    assert_string_equal(rec.detail, "JSON nested too deep");
    /* 20 levels are fine */
    n = snprintf(line, sizeof(line), "{\"status\":200,\"ts\":1,\"a\":");
    for (i = 0; i < 20; i++)
        line[n++] = '[';
    for (i = 0; i < 20; i++)
        line[n++] = ']';
    line[n++] = '}';
    line[n] = '\0';
    assert_int_equal(parse(line, &rec), SLT_UP_OK);
}

static void test_json_bad_status_time_latency_give_reasons(void **state)
{
    struct slt_record rec;

    (void)state;
    use("json");
    assert_int_equal(parse("{\"status\":\"OK\",\"ts\":1}", &rec), SLT_UP_STATUS);
    assert_int_equal(parse("{\"status\":200}", &rec), SLT_UP_TIME);
    assert_int_equal(parse("{\"status\":200,\"ts\":\"yesterday\"}", &rec), SLT_UP_TIME);
    assert_int_equal(parse("{\"status\":200,\"ts\":1,\"duration\":\"slow\"}", &rec),
                     SLT_UP_LATENCY);
    assert_int_equal(parse("{\"status\":200,\"ts\":1,\"status\":null}", &rec), SLT_UP_OK);
}

/* Caddy logs "status": 0 when no response was written (issue 10): the documented 000. */
static void test_json_caddy_status_0_is_000(void **state)
{
    struct slt_record rec;

    (void)state;
    use("json");
    assert_int_equal(
        parse("{\"level\":\"error\",\"ts\":1646861401.52,\"logger\":\"http.log.access\","
              "\"request\":{\"method\":\"GET\",\"uri\":\"/\"},\"duration\":0.5,"
              "\"size\":0,\"status\":0}",
              &rec),
        SLT_UP_OK);
    assert_int_equal(rec.status, 0);
    field_is(&rec, SLT_F_STATUS, "0");
    assert_int_equal(parse("{\"ts\":1,\"status\":00}", &rec), SLT_UP_STATUS);
    assert_int_equal(parse("{\"ts\":1,\"status\":7}", &rec), SLT_UP_STATUS);
}

static void test_json_epoch_milliseconds_are_recognised(void **state)
{
    struct slt_record rec;

    (void)state;
    use("json");
    assert_int_equal(parse("{\"status\":200,\"ts\":1700000000123}", &rec), SLT_UP_OK);
    assert_int_equal(rec.time, 1700000000);
    assert_int_equal(rec.time_frac_us, 123000);
}

static void test_json_builtin_only_knows_canonical_keys(void **state)
{
    (void)state;
    use("json");
    assert_int_equal(slt_format_field_key(fmt, "status", 6), SLT_F_STATUS);
    assert_int_equal(slt_format_field_key(fmt, "request.headers.X-Id", 20), -1);
}

static void user_format(const char *paths[SLT_F__COUNT], const char *layout,
                        enum slt_latency_unit unit)
{
    struct slt_format_spec spec;
    char err[256] = "";
    int i;

    memset(&spec, 0, sizeof(spec));
    spec.name = "myjson";
    spec.json = "json";
    spec.time_layout = layout;
    spec.latency_unit = unit;
    for (i = 0; i < SLT_F__COUNT; i++)
        spec.json_field[i] = paths ? paths[i] : NULL;
    if (slt_format_new(&spec, &user_fmt, err, sizeof(err)) != 0)
        fail_msg("format rejected: %s", err);
    user_parser = slt_parser_new(user_fmt, 0);
    assert_non_null(user_parser);
}

static void test_json_user_paths_layout_and_unit(void **state)
{
    const char *paths[SLT_F__COUNT] = {0};
    static const char line[] = "{\"when\":\"2024/03/04 05:06:07\",\"http\":{\"code\":\"502\","
                               "\"took_ms\":12.5,\"route\":\"/checkout\"},\"status\":200}";
    struct slt_record rec;

    (void)state;
    paths[SLT_F_TIME] = "when";
    paths[SLT_F_STATUS] = "http.code";
    paths[SLT_F_LATENCY] = "http.took_ms";
    paths[SLT_F_PATH] = "http.route";
    user_format(paths, "%Y/%m/%d %H:%M:%S", SLT_UNIT_MS);
    assert_string_equal(slt_format_name(user_fmt), "myjson");
    assert_int_equal(slt_parse(user_parser, line, strlen(line), &rec), SLT_UP_OK);
    assert_int_equal(rec.status, 502);
    assert_int_equal(rec.latency_us, 12500);
    assert_int_equal(rec.time, slt_time_from_civil(2024, 3, 4, 5, 6, 7));
    field_is(&rec, SLT_F_PATH, "/checkout");
}

static void test_json_user_extra_fields_get_their_own_keys(void **state)
{
    static const char line[] = "{\"status\":200,\"ts\":1,\"request\":{\"headers\":{\"X-Id\":"
                               "[\"abc\"]},\"tenant\":\"t1\"}}";
    static const char next[] = "{\"status\":201,\"ts\":2}";
    struct slt_record rec;
    struct slt_str s;
    int k1, k2;

    (void)state;
    user_format(NULL, NULL, SLT_UNIT_S);
    k1 = slt_format_field_key(user_fmt, "request.headers.X-Id", 20);
    k2 = slt_format_field_key(user_fmt, "request.tenant", 14);
    assert_true(k1 >= SLT_F__COUNT);
    assert_true(k2 >= SLT_F__COUNT);
    assert_int_not_equal(k1, k2);
    assert_int_equal(slt_format_field_key(user_fmt, "request.tenant", 14), k2);
    assert_int_equal(slt_format_field_key(user_fmt, "", 0), -1);
    assert_int_equal(slt_format_field_key(user_fmt, "a..b", 4), -1);
    assert_int_equal(slt_parse(user_parser, line, strlen(line), &rec), SLT_UP_OK);
    s = slt_record_get(&rec, k1);
    assert_int_equal(s.len, 3);
    assert_memory_equal(s.p, "abc", 3);
    s = slt_record_get(&rec, k2);
    assert_int_equal(s.len, 2);
    assert_memory_equal(s.p, "t1", 2);
    assert_null(slt_record_get(&rec, k2 + 5).p);
    s = slt_record_get(&rec, SLT_F_STATUS);
    assert_int_equal(s.len, 3);
    /* absent on the next line that lacks them */
    assert_int_equal(slt_parse(user_parser, next, strlen(next), &rec), SLT_UP_OK);
    assert_null(slt_record_get(&rec, k1).p);
}

static void test_json_user_bad_path_is_rejected(void **state)
{
    struct slt_format_spec spec;
    struct slt_format *f = NULL;
    char err[256] = "";

    (void)state;
    memset(&spec, 0, sizeof(spec));
    spec.name = "bad";
    spec.json = "json";
    spec.json_field[SLT_F_STATUS] = "a..b";
    assert_int_equal(slt_format_new(&spec, &f, err, sizeof(err)), SLT_ECONFIG);
    assert_null(f);
    assert_non_null(strstr(err, "a..b"));
    spec.json_field[SLT_F_STATUS] = "status";
    spec.time_layout = "%Y-%J";
    assert_int_equal(slt_format_new(&spec, &f, err, sizeof(err)), SLT_ECONFIG);
    assert_non_null(strstr(err, "%J"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_json_nginx_escape_json_line, teardown_all),
        cmocka_unit_test_teardown(test_json_iso8601_and_explicit_method_uri, teardown_all),
        cmocka_unit_test_teardown(test_json_caddy_access_line, teardown_all),
        cmocka_unit_test_teardown(test_json_docker_compose_prefix_is_skipped, teardown_all),
        cmocka_unit_test_teardown(test_json_object_without_status_is_not_access, teardown_all),
        cmocka_unit_test_teardown(test_json_broken_objects_are_syntax, teardown_all),
        cmocka_unit_test_teardown(test_json_nesting_depth_is_bounded, teardown_all),
        cmocka_unit_test_teardown(test_json_bad_status_time_latency_give_reasons, teardown_all),
        cmocka_unit_test_teardown(test_json_caddy_status_0_is_000, teardown_all),
        cmocka_unit_test_teardown(test_json_epoch_milliseconds_are_recognised, teardown_all),
        cmocka_unit_test_teardown(test_json_builtin_only_knows_canonical_keys, teardown_all),
        cmocka_unit_test_teardown(test_json_user_paths_layout_and_unit, teardown_all),
        cmocka_unit_test_teardown(test_json_user_extra_fields_get_their_own_keys, teardown_all),
        cmocka_unit_test_teardown(test_json_user_bad_path_is_rejected, teardown_all),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
