/* User formats: a PCRE2 regex with named groups mapped onto canonical fields. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "slt/parser.h"

struct rx {
    struct slt_format *fmt;
    struct slt_parser *p;
    struct slt_record rec;
};

static void rx_new(struct rx *r, const char *regex, const char *layout, enum slt_latency_unit u)
{
    struct slt_format_spec spec = {0};
    char err[512] = "";

    spec.name = "app";
    spec.regex = regex;
    spec.time_layout = layout;
    spec.latency_unit = u;
    if (slt_format_new(&spec, &r->fmt, err, sizeof(err)) != 0)
        fail_msg("format rejected: %s", err);
    r->p = slt_parser_new(r->fmt, 0);
    assert_non_null(r->p);
}

static void rx_free(struct rx *r)
{
    slt_parser_free(r->p);
    slt_format_free(r->fmt);
}

static int rx_parse(struct rx *r, const char *line)
{
    return slt_parse(r->p, line, strlen(line), &r->rec);
}

static void assert_field(const struct slt_record *rec, int key, const char *want)
{
    struct slt_str v = slt_record_get(rec, key);

    if (!want) {
        assert_null(v.p);
        return;
    }
    assert_non_null(v.p);
    assert_int_equal(v.len, strlen(want));
    assert_memory_equal(v.p, want, v.len);
}

static const char issue_regex[] =
    "^(?<client>\\S+) \\S+ \\S+ \\[(?<time>[^\\]]+)\\] \"(?<method>\\S+) (?<path>\\S+)[^\"]*\" "
    "(?<status>\\d{3}) .* (?<latency>[\\d.]+)$";

static void test_named_groups_fill_canonical_fields(void **state)
{
    struct rx r = {0};

    (void)state;
    rx_new(&r, issue_regex, "%d/%b/%Y:%H:%M:%S %z", SLT_UNIT_S);
    assert_int_equal(slt_format_has_latency(r.fmt), 1);
    assert_int_equal(rx_parse(&r, "10.1.2.3 - bob [10/Oct/2023:13:55:36 +0200] \"GET /a?b=1 "
                                  "HTTP/1.1\" 503 12 \"-\" \"curl\" 0.250"),
                     SLT_UP_OK);
    assert_field(&r.rec, SLT_F_CLIENT, "10.1.2.3");
    assert_field(&r.rec, SLT_F_METHOD, "GET");
    assert_field(&r.rec, SLT_F_PATH, "/a?b=1");
    assert_field(&r.rec, SLT_F_STATUS, "503");
    assert_field(&r.rec, SLT_F_HOST, NULL);
    assert_int_equal(r.rec.status, 503);
    assert_int_equal(r.rec.latency_us, 250000);
    assert_int_equal(r.rec.time, slt_time_from_civil(2023, 10, 10, 11, 55, 36));
    rx_free(&r);
}

static void test_other_named_groups_get_their_own_keys(void **state)
{
    struct rx r = {0};
    int tenant, region;

    (void)state;
    rx_new(&r, "^(?<time>\\S+) (?<tenant>\\w+)(?: r=(?<region>\\w+))? (?<request>[^|]+)\\|$", NULL,
           SLT_UNIT_S);
    assert_int_equal(slt_format_has_latency(r.fmt), 0);
    tenant = slt_format_field_key(r.fmt, "tenant", 6);
    region = slt_format_field_key(r.fmt, "region", 6);
    assert_true(tenant >= SLT_F__COUNT);
    assert_true(region >= SLT_F__COUNT);
    assert_true(tenant != region);
    assert_int_equal(slt_format_field_key(r.fmt, "nope", 4), -1);
    assert_int_equal(slt_format_field_key(r.fmt, "path", 4), SLT_F_PATH);
    assert_int_equal(rx_parse(&r, "1700000000 acme POST /x HTTP/2.0|"), SLT_UP_OK);
    assert_field(&r.rec, tenant, "acme");
    assert_field(&r.rec, region, NULL);
    /* A request group is split into method, path and protocol. */
    assert_field(&r.rec, SLT_F_METHOD, "POST");
    assert_field(&r.rec, SLT_F_PATH, "/x");
    assert_field(&r.rec, SLT_F_PROTOCOL, "HTTP/2.0");
    assert_int_equal(r.rec.time, 1700000000);
    assert_int_equal(r.rec.latency_us, -1);
    assert_int_equal(rx_parse(&r, "1700000000 acme r=eu GET / HTTP/1.1|"), SLT_UP_OK);
    assert_field(&r.rec, region, "eu");
    rx_free(&r);
}

static void test_time_is_auto_detected_without_a_layout(void **state)
{
    struct rx r = {0};

    (void)state;
    rx_new(&r, "^\\[(?<time>[^\\]]+)\\] (?<status>\\S+)$", NULL, SLT_UNIT_S);
    assert_int_equal(rx_parse(&r, "[10/Oct/2023:13:55:36 +0000] 200"), SLT_UP_OK);
    assert_int_equal(r.rec.time, slt_time_from_civil(2023, 10, 10, 13, 55, 36));
    assert_int_equal(rx_parse(&r, "[2023-10-10T13:55:36.250Z] 200"), SLT_UP_OK);
    assert_int_equal(r.rec.time, slt_time_from_civil(2023, 10, 10, 13, 55, 36));
    assert_int_equal(r.rec.time_frac_us, 250000);
    assert_int_equal(rx_parse(&r, "[1700000000.5] 200"), SLT_UP_OK);
    assert_int_equal(r.rec.time, 1700000000);
    assert_int_equal(rx_parse(&r, "[yesterday] 200"), SLT_UP_TIME);
    /* status must be three digits */
    assert_int_equal(rx_parse(&r, "[1700000000] 20"), SLT_UP_STATUS);
    assert_int_equal(rx_parse(&r, "[1700000000] 2000"), SLT_UP_STATUS);
    assert_int_equal(rx_parse(&r, "1700000000 200"), SLT_UP_NO_MATCH);
    assert_int_equal(rx_parse(&r, ""), SLT_UP_EMPTY);
    rx_free(&r);
}

static void test_repeated_time_text_gives_the_same_time(void **state)
{
    struct rx r = {0};

    (void)state;
    rx_new(&r, "^\\[(?<time>[^\\]]+)\\] (?<status>\\S+)$", NULL, SLT_UNIT_S);
    assert_int_equal(rx_parse(&r, "[2023-10-10T13:55:36.250Z] 200"), SLT_UP_OK);
    assert_int_equal(rx_parse(&r, "[2023-10-10T13:55:36.250Z] 500"), SLT_UP_OK);
    assert_int_equal(r.rec.time, slt_time_from_civil(2023, 10, 10, 13, 55, 36));
    assert_int_equal(r.rec.time_frac_us, 250000);
    assert_int_equal(rx_parse(&r, "[2023-10-10T13:55:37Z] 200"), SLT_UP_OK);
    assert_int_equal(r.rec.time, slt_time_from_civil(2023, 10, 10, 13, 55, 37));
    assert_int_equal(r.rec.time_frac_us, 0);
    assert_int_equal(rx_parse(&r, "[2023-10-10T13:55:3] 200"), SLT_UP_TIME);
    assert_int_equal(rx_parse(&r, "[2023-10-10T13:55:37Z] 200"), SLT_UP_OK);
    assert_int_equal(r.rec.time, slt_time_from_civil(2023, 10, 10, 13, 55, 37));
    rx_free(&r);
}

static void test_time_layout_is_used_when_given(void **state)
{
    struct rx r = {0};

    (void)state;
    rx_new(&r, "^(?<time>\\S+ \\S+) (?<status>\\d+)$", "%Y/%m/%d %H:%M:%S", SLT_UNIT_S);
    assert_int_equal(rx_parse(&r, "2023/10/10 13:55:36 200"), SLT_UP_OK);
    assert_int_equal(r.rec.time, slt_time_from_civil(2023, 10, 10, 13, 55, 36));
    assert_int_equal(rx_parse(&r, "2023-10-10 13:55:36 200"), SLT_UP_TIME);
    rx_free(&r);
}

static void test_latency_units(void **state)
{
    static const struct {
        enum slt_latency_unit unit;
        const char *text;
        int64_t us;
    } cases[] = {
        {SLT_UNIT_S, "1.5", 1500000}, {SLT_UNIT_S, "0.000250", 250}, {SLT_UNIT_MS, "250", 250000},
        {SLT_UNIT_MS, "0.5", 500},    {SLT_UNIT_US, "42", 42},       {SLT_UNIT_S, "-", -1},
    };
    char line[128];
    size_t i;

    (void)state;
    for (i = 0; i < SLT_ARRAY_SIZE(cases); i++) {
        struct rx r = {0};

        rx_new(&r, "^(?<time>\\d+) (?<latency>\\S+)$", NULL, cases[i].unit);
        snprintf(line, sizeof(line), "1700000000 %s", cases[i].text);
        assert_int_equal(rx_parse(&r, line), SLT_UP_OK);
        assert_int_equal(r.rec.latency_us, cases[i].us);
        rx_free(&r);
    }
    {
        struct rx r = {0};

        rx_new(&r, "^(?<time>\\d+) (?<latency>\\S+)$", NULL, SLT_UNIT_S);
        assert_int_equal(rx_parse(&r, "1700000000 fast"), SLT_UP_LATENCY);
        rx_free(&r);
    }
}

static void test_upstream_and_empty_groups(void **state)
{
    struct rx r = {0};

    (void)state;
    rx_new(&r, "^(?<time>\\d+) (?<status>\\d*) (?<latency>[\\d.]*) (?<upstream_latency>.*)$", NULL,
           SLT_UNIT_S);
    assert_int_equal(rx_parse(&r, "1700000000 200 0.5 0.010, 0.020 : 0.005"), SLT_UP_OK);
    assert_int_equal(r.rec.latency_us, 500000);
    assert_int_equal(r.rec.upstream_us, 35000);
    assert_field(&r.rec, SLT_F_UPSTREAM_LATENCY, "0.010, 0.020 : 0.005");
    /* an empty status or latency group is the same as none */
    assert_int_equal(rx_parse(&r, "1700000000   -"), SLT_UP_OK);
    assert_field(&r.rec, SLT_F_STATUS, NULL);
    assert_int_equal(r.rec.status, 0);
    assert_int_equal(r.rec.latency_us, -1);
    assert_int_equal(r.rec.upstream_us, -1);
    rx_free(&r);
}

/* log_format '... "$request_time" "$upstream_response_time" "$tenant"': a group that takes
 * the quotes with the value still reads the value (issue 10). */
static void test_quoted_groups_keep_their_value(void **state)
{
    struct rx r = {0};
    struct slt_str s;
    int key;

    (void)state;
    rx_new(&r,
           "^(?<time>\\d+) (?<status>\\S+) (?<latency>\\S+) (?<upstream_latency>\"[^\"]*\") "
           "(?<tenant>\\S+)$",
           NULL, SLT_UNIT_S);
    assert_int_equal(rx_parse(&r, "1700000000 \"200\" \"0.250\" \"0.010, 0.020\" \"acme\""),
                     SLT_UP_OK);
    assert_int_equal(r.rec.status, 200);
    assert_int_equal(r.rec.latency_us, 250000);
    assert_int_equal(r.rec.upstream_us, 30000);
    assert_field(&r.rec, SLT_F_LATENCY, "0.250");
    assert_field(&r.rec, SLT_F_UPSTREAM_LATENCY, "0.010, 0.020");
    key = slt_format_field_key(r.fmt, "tenant", 6);
    s = slt_record_get(&r.rec, key);
    assert_int_equal(s.len, 4);
    assert_memory_equal(s.p, "acme", 4);
    /* a lone quote or "-" is not a quoted value */
    assert_int_equal(rx_parse(&r, "1700000000 200 \"-\" \"-\" \""), SLT_UP_OK);
    assert_int_equal(r.rec.latency_us, -1);
    assert_int_equal(r.rec.upstream_us, -1);
    assert_int_equal(rx_parse(&r, "1700000000 200 \" \"\" x"), SLT_UP_LATENCY);
    rx_free(&r);
}

static void test_catastrophic_pattern_hits_the_match_limit_quickly(void **state)
{
    struct rx r = {0};
    char line[4096];
    uint64_t t0;

    (void)state;
    rx_new(&r, "^(?<time>\\d+) (a+)+$", NULL, SLT_UNIT_S);
    memcpy(line, "1700000000 ", 11);
    memset(line + 11, 'a', sizeof(line) - 11);
    line[sizeof(line) - 2] = 'b';
    line[sizeof(line) - 1] = '\0';
    t0 = slt_mono_ns();
    assert_int_equal(rx_parse(&r, line), SLT_UP_MATCH_LIMIT);
    assert_int_equal(rx_parse(&r, "1700000000 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"),
                     SLT_UP_MATCH_LIMIT);
    assert_true(slt_mono_ns() - t0 < 2000000000ULL);
    assert_int_equal(rx_parse(&r, "1700000000 aaaa"), SLT_UP_OK);
    rx_free(&r);
}

static void test_bad_regex_and_missing_time_are_rejected(void **state)
{
    struct slt_format_spec spec = {0};
    struct slt_format *fmt = (struct slt_format *)1;
    char err[512] = "";

    (void)state;
    spec.name = "app";
    spec.regex = "^(?<time>\\S+";
    assert_int_equal(slt_format_new(&spec, &fmt, err, sizeof(err)), SLT_ECONFIG);
    assert_null(fmt);
    assert_string_equal(err, "format 'app': bad regex at offset 12: missing closing parenthesis");
    spec.regex = "^(?<status>\\d+)$";
    assert_int_equal(slt_format_new(&spec, &fmt, err, sizeof(err)), SLT_ECONFIG);
    assert_string_equal(err, "format 'app': the regex has no named group 'time' (?<time>...)");
}

/* The combined regex over elastic-examples-apache/apache_logs gives the counts in SOURCES.md. */
static void test_real_apache_log_through_a_user_regex(void **state)
{
    struct rx r = {0};
    char line[65536];
    size_t total = 0, ok = 0, s200 = 0, s404 = 0, s500 = 0, post = 0;
    FILE *fp;

    (void)state;
    rx_new(&r,
           "^(?<client>\\S+) \\S+ (?<user>\\S+) \\[(?<time>[^\\]]+)\\] \"(?<request>[^\"]*)\" "
           "(?<status>\\d{3}) (?<bytes>\\S+)",
           "%d/%b/%Y:%H:%M:%S %z", SLT_UNIT_S);
    fp = fopen(SLT_REAL_DATA "/elastic-examples-apache/apache_logs", "r");
    assert_non_null(fp);
    while (fgets(line, sizeof(line), fp)) {
        size_t len = strlen(line);

        if (len && line[len - 1] == '\n')
            line[--len] = '\0';
        total++;
        if (slt_parse(r.p, line, len, &r.rec) != SLT_UP_OK)
            continue;
        ok++;
        s200 += r.rec.status == 200;
        s404 += r.rec.status == 404;
        s500 += r.rec.status == 500;
        post += slt_str_eq(r.rec.field[SLT_F_METHOD], "POST");
    }
    fclose(fp);
    assert_int_equal(total, 10000);
    assert_int_equal(ok, 10000);
    assert_int_equal(s200, 9126);
    assert_int_equal(s404, 213);
    assert_int_equal(s500, 3);
    assert_int_equal(post, 5);
    rx_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_named_groups_fill_canonical_fields),
        cmocka_unit_test(test_other_named_groups_get_their_own_keys),
        cmocka_unit_test(test_time_is_auto_detected_without_a_layout),
        cmocka_unit_test(test_repeated_time_text_gives_the_same_time),
        cmocka_unit_test(test_time_layout_is_used_when_given),
        cmocka_unit_test(test_latency_units),
        cmocka_unit_test(test_upstream_and_empty_groups),
        cmocka_unit_test(test_quoted_groups_keep_their_value),
        cmocka_unit_test(test_catastrophic_pattern_hits_the_match_limit_quickly),
        cmocka_unit_test(test_bad_regex_and_missing_time_are_rejected),
        cmocka_unit_test(test_real_apache_log_through_a_user_regex),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
