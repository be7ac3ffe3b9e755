/* The format registry and the generic slt_parse() path: parsers/src/format.c */
#include "test_parser_helpers.h"

#define LINE "1.2.3.4 - - [07/Dec/2016:11:05:07 +0100] \"GET / HTTP/1.1\" 200 5 \"-\" \"ua\""

static void test_every_builtin_name_constructs(void **state)
{
    const char *const *names = slt_format_builtin_names();
    struct slt_format *f;
    struct slt_parser *p;
    int n = 0;

    (void)state;
    for (; *names; names++, n++) {
        assert_int_equal(slt_format_builtin(*names, &f), 0);
        assert_string_equal(slt_format_name(f), *names);
        p = slt_parser_new(f, 0);
        assert_non_null(p);
        slt_parser_free(p);
        slt_format_free(f);
    }
    assert_int_equal(n, 13);
}

static void test_unknown_builtin_is_not_found(void **state)
{
    struct slt_format *f = (struct slt_format *)1;

    (void)state;
    assert_int_equal(slt_format_builtin("nginx_fancy", &f), SLT_ENOTFOUND);
    assert_null(f);
    assert_int_equal(slt_format_builtin(NULL, &f), SLT_ENOTFOUND);
    slt_format_free(NULL);
    slt_parser_free(NULL);
}

static void test_only_timed_alb_and_json_carry_latency(void **state)
{
    static const struct {
        const char *name;
        int has;
    } want[] = {{"nginx_combined", 0}, {"nginx_main", 0},      {"nginx_timed", 1}, {"alb", 1},
                {"apache_common", 0},  {"apache_combined", 0}, {"json", 1}};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        use(want[i].name);
        assert_int_equal(slt_format_has_latency(fmt), want[i].has);
    }
}

static void test_empty_and_blank_lines_are_empty(void **state)
{
    struct slt_record rec;

    (void)state;
    use("nginx_combined");
    assert_int_equal(slt_parse(parser, "", 0, &rec), SLT_UP_EMPTY);
    assert_int_equal(slt_parse(parser, "   \t ", 5, &rec), SLT_UP_EMPTY);
    assert_int_equal(slt_parse(parser, "\r", 1, &rec), SLT_UP_EMPTY);
    assert_string_equal(slt_unparsed_name(SLT_UP_EMPTY), "empty");
    assert_non_null(rec.detail);
}

static void test_trailing_cr_is_ignored(void **state)
{
    struct slt_record rec;

    (void)state;
    use("nginx_combined");
    assert_int_equal(parse(LINE "\r", &rec), SLT_UP_OK);
    field_is(&rec, SLT_F_USER_AGENT, "ua");
    assert_int_equal(rec.len, strlen(LINE));
}

static void test_event_before_1970_has_no_usable_time(void **state)
{
    struct slt_record rec;
    const char *line =
        "1.2.3.4 - - [31/Dec/1969:23:59:59 +0000] \"GET / HTTP/1.1\" 500 1 \"-\" \"c\"";

    (void)state;
    use("nginx_combined");
    assert_int_equal(parse(line, &rec), SLT_UP_TIME);
    assert_string_equal(rec.detail, "event time before 1970");
}

static void test_line_longer_than_max_line_is_oversize(void **state)
{
    struct slt_format *f;
    struct slt_parser *p;
    struct slt_record rec;
    size_t n = strlen(LINE);

    (void)state;
    assert_int_equal(slt_format_builtin("nginx_combined", &f), 0);
    p = slt_parser_new(f, n);
    assert_int_equal(slt_parse(p, LINE, n, &rec), SLT_UP_OK);
    slt_parser_free(p);
    p = slt_parser_new(f, n - 1);
    assert_int_equal(slt_parse(p, LINE, n, &rec), SLT_UP_OVERSIZE);
    assert_int_equal(rec.column, n - 1);
    assert_null(rec.field[SLT_F_STATUS].p);
    slt_parser_free(p);
    slt_format_free(f);
}

static void test_record_is_reset_between_lines(void **state)
{
    struct slt_record rec;

    (void)state;
    use("nginx_combined");
    assert_int_equal(parse(LINE, &rec), SLT_UP_OK);
    assert_int_equal(parse("1.2.3.4 - - [07/Dec/2016:11:05:07 +0100] \"-\" 400 0", &rec),
                     SLT_UP_OK);
    field_is(&rec, SLT_F_USER_AGENT, NULL);
    field_is(&rec, SLT_F_METHOD, NULL);
    assert_int_equal(rec.latency_us, -1);
    assert_null(rec.detail);
}

static void test_unparsed_record_says_why_and_where(void **state)
{
    struct slt_record rec;

    (void)state;
    use("nginx_combined");
    assert_int_equal(parse("1.2.3.4 - - [07/Dec/2016:11:05:07 +0100] \"GET /\" 2x0 5", &rec),
                     SLT_UP_STATUS);
    assert_non_null(rec.detail);
    assert_int_equal(rec.column, 49);
    assert_ptr_equal(rec.fmt, fmt);
}

static void test_record_get_and_field_keys_for_builtins(void **state)
{
    struct slt_record rec;
    struct slt_str s;

    (void)state;
    use("nginx_combined");
    assert_int_equal(slt_format_field_key(fmt, "path", 4), SLT_F_PATH);
    assert_int_equal(slt_format_field_key(fmt, "user_agent", 10), SLT_F_USER_AGENT);
    assert_int_equal(slt_format_field_key(fmt, "x_trace", 7), -1);
    assert_int_equal(parse(LINE, &rec), SLT_UP_OK);
    s = slt_record_get(&rec, SLT_F_PATH);
    assert_int_equal(s.len, 1);
    assert_memory_equal(s.p, "/", 1);
    assert_null(slt_record_get(&rec, SLT_F__COUNT).p);
    assert_null(slt_record_get(&rec, -1).p);
    assert_null(slt_record_get(&rec, 1000).p);
}

static void test_format_new_rejects_bad_specs(void **state)
{
    struct slt_format_spec spec;
    struct slt_format *f = (struct slt_format *)1;
    char err[256] = "";

    (void)state;
    memset(&spec, 0, sizeof(spec));
    assert_int_equal(slt_format_new(&spec, &f, err, sizeof(err)), SLT_ECONFIG);
    assert_null(f);
    spec.name = "x";
    assert_int_equal(slt_format_new(&spec, &f, err, sizeof(err)), SLT_ECONFIG);
    assert_non_null(strstr(err, "'x'"));
    spec.json = "json";
    spec.regex = "(?<status>\\d+)";
    assert_int_equal(slt_format_new(&spec, &f, err, sizeof(err)), SLT_ECONFIG);
    spec.regex = NULL;
    spec.time_layout = "%d/%b/%Y %Q";
    assert_int_equal(slt_format_new(&spec, &f, err, sizeof(err)), SLT_ECONFIG);
    assert_non_null(strstr(err, "%Q"));
    spec.time_layout = NULL;
    spec.latency_unit = (enum slt_latency_unit)7;
    assert_int_equal(slt_format_new(&spec, &f, err, sizeof(err)), SLT_ECONFIG);
    spec.latency_unit = SLT_UNIT_MS;
    assert_int_equal(slt_format_new(&spec, &f, err, sizeof(err)), 0);
    assert_string_equal(slt_format_name(f), "x");
    slt_format_free(f);
}

static void test_allocation_failures_are_reported_not_fatal(void **state)
{
    struct slt_format *f = NULL;
    struct slt_parser *p;
    struct slt_format_spec spec;
    char err[128];
    long i;
    int rc;

    (void)state;
    for (i = 0; i < 4; i++) {
        slt_alloc_fail_after(i);
        rc = slt_format_builtin("nginx_timed", &f);
        slt_alloc_fail_after(-1);
        if (rc == 0)
            slt_format_free(f);
        else
            assert_int_equal(rc, SLT_ENOMEM);
    }
    assert_int_equal(slt_format_builtin("alb", &f), 0);
    slt_alloc_fail_after(0);
    assert_null(slt_parser_new(f, 0));
    slt_alloc_fail_after(-1);
    slt_format_free(f);
    assert_int_equal(slt_format_builtin("nginx_main", &f), 0);
    slt_alloc_fail_after(1);
    assert_null(slt_parser_new(f, 0));
    slt_alloc_fail_after(-1);
    p = slt_parser_new(f, 0);
    assert_non_null(p);
    slt_parser_free(p);
    slt_format_free(f);
    memset(&spec, 0, sizeof(spec));
    spec.name = "j";
    spec.json = "json";
    for (i = 0; i < 80; i++) {
        slt_alloc_fail_after(i);
        rc = slt_format_new(&spec, &f, err, sizeof(err));
        slt_alloc_fail_after(-1);
        if (rc == 0) {
            slt_format_free(f);
            break;
        }
        assert_int_equal(rc, SLT_ENOMEM);
        assert_null(f);
    }
    assert_true(i < 80);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_builtin_name_constructs),
        cmocka_unit_test(test_event_before_1970_has_no_usable_time),
        cmocka_unit_test(test_unknown_builtin_is_not_found),
        cmocka_unit_test_teardown(test_only_timed_alb_and_json_carry_latency, teardown),
        cmocka_unit_test_teardown(test_empty_and_blank_lines_are_empty, teardown),
        cmocka_unit_test_teardown(test_trailing_cr_is_ignored, teardown),
        cmocka_unit_test(test_line_longer_than_max_line_is_oversize),
        cmocka_unit_test_teardown(test_record_is_reset_between_lines, teardown),
        cmocka_unit_test_teardown(test_unparsed_record_says_why_and_where, teardown),
        cmocka_unit_test_teardown(test_record_get_and_field_keys_for_builtins, teardown),
        cmocka_unit_test(test_format_new_rejects_bad_specs),
        cmocka_unit_test(test_allocation_failures_are_reported_not_fatal),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
