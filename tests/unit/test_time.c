/* Timestamp and latency parsing: parsers/src/time.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "slt/parser.h"

#define S(lit) (lit), (sizeof(lit) - 1)

static void test_civil_matches_timegm_across_eras(void **state)
{
    static const int dates[][6] = {
        {1970, 1, 1, 0, 0, 0},      {1969, 12, 31, 23, 59, 59}, {2000, 2, 29, 12, 0, 0},
        {2016, 10, 25, 12, 49, 33}, {2038, 1, 19, 3, 14, 8},    {2100, 3, 1, 0, 0, 0},
        {1900, 3, 1, 0, 0, 0},      {9999, 12, 31, 23, 59, 59}, {1600, 2, 29, 1, 2, 3},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
        struct tm tm;
        memset(&tm, 0, sizeof(tm));
        tm.tm_year = dates[i][0] - 1900;
        tm.tm_mon = dates[i][1] - 1;
        tm.tm_mday = dates[i][2];
        tm.tm_hour = dates[i][3];
        tm.tm_min = dates[i][4];
        tm.tm_sec = dates[i][5];
        assert_int_equal(slt_time_from_civil(dates[i][0], dates[i][1], dates[i][2], dates[i][3],
                                             dates[i][4], dates[i][5]),
                         (int64_t)timegm(&tm));
    }
}

static void test_clf_zone_offset_converts_to_utc(void **state)
{
    int64_t t = 0;
    int32_t frac = 7;

    (void)state;
    assert_int_equal(slt_time_parse_clf(S("25/Oct/2016:14:49:33 +0200"), &t, &frac), 0);
    assert_int_equal(t, 1477399773); /* 12:49:33Z */
    assert_int_equal(frac, 0);
    assert_int_equal(slt_time_parse_clf(S("09/Jun/2020:12:10:39 -0700"), &t, NULL), 0);
    assert_int_equal(t, 1591729839); /* 19:10:39Z */
    assert_int_equal(slt_time_parse_clf(S("22/Jan/2019:03:56:14 +0330"), &t, NULL), 0);
    assert_int_equal(t, slt_time_from_civil(2019, 1, 22, 0, 26, 14));
    assert_int_equal(slt_time_parse_clf(S("01/Jan/2020:00:30:00 +0100"), &t, NULL), 0);
    assert_int_equal(t, slt_time_from_civil(2019, 12, 31, 23, 30, 0));
}

static void test_clf_month_names_ignore_case(void **state)
{
    int64_t a = 0, b = 1;

    (void)state;
    assert_int_equal(slt_time_parse_clf(S("07/dec/2016:10:34:43 +0000"), &a, NULL), 0);
    assert_int_equal(slt_time_parse_clf(S("07/DEC/2016:10:34:43 +0000"), &b, NULL), 0);
    assert_int_equal(a, b);
}

static void test_clf_rejects_impossible_dates_and_junk(void **state)
{
    int64_t t;

    (void)state;
    assert_int_equal(slt_time_parse_clf(S("31/Feb/2016:10:34:43 +0000"), &t, NULL), SLT_EPARSE);
    assert_int_equal(slt_time_parse_clf(S("29/Feb/2015:10:34:43 +0000"), &t, NULL), SLT_EPARSE);
    assert_int_equal(slt_time_parse_clf(S("29/Feb/2016:10:34:43 +0000"), &t, NULL), 0);
    assert_int_equal(slt_time_parse_clf(S("07/Dex/2016:10:34:43 +0000"), &t, NULL), SLT_EPARSE);
    assert_int_equal(slt_time_parse_clf(S("07/Dec/2016:24:00:00 +0000"), &t, NULL), SLT_EPARSE);
    assert_int_equal(slt_time_parse_clf(S("07/Dec/2016:10:60:00 +0000"), &t, NULL), SLT_EPARSE);
    assert_int_equal(slt_time_parse_clf(S("07/Dec/2016:10:34:43 +2400"), &t, NULL), SLT_EPARSE);
    assert_int_equal(slt_time_parse_clf(S("07/Dec/2016:10:34:43 0000x"), &t, NULL), SLT_EPARSE);
    assert_int_equal(slt_time_parse_clf(S("7/Dec/2016:10:34:43 +0000"), &t, NULL), SLT_EPARSE);
    assert_int_equal(slt_time_parse_clf(S(""), &t, NULL), SLT_EPARSE);
}

static void test_clf_without_zone_is_utc(void **state)
{
    int64_t t = 0;

    (void)state;
    assert_int_equal(slt_time_parse_clf(S("07/Dec/2016:10:34:43"), &t, NULL), 0);
    assert_int_equal(t, slt_time_from_civil(2016, 12, 7, 10, 34, 43));
}

static void test_iso8601_zulu_with_microseconds(void **state)
{
    int64_t t = 0;
    int32_t frac = 0;

    (void)state;
    assert_int_equal(slt_time_parse_iso8601(S("2019-10-11T15:01:12.376735Z"), &t, &frac), 0);
    assert_int_equal(t, slt_time_from_civil(2019, 10, 11, 15, 1, 12));
    assert_int_equal(frac, 376735);
}

static void test_iso8601_offsets_and_fraction_lengths(void **state)
{
    int64_t base = slt_time_from_civil(2019, 10, 10, 12, 34, 56), t = 0;
    int32_t frac = 0;

    (void)state;
    assert_int_equal(slt_time_parse_iso8601(S("2019-10-10T12:34:56+02:00"), &t, &frac), 0);
    assert_int_equal(t, base - 7200);
    assert_int_equal(slt_time_parse_iso8601(S("2019-10-10T12:34:56-0530"), &t, &frac), 0);
    assert_int_equal(t, base + 5 * 3600 + 1800);
    assert_int_equal(slt_time_parse_iso8601(S("2019-10-10 12:34:56+01"), &t, &frac), 0);
    assert_int_equal(t, base - 3600);
    assert_int_equal(slt_time_parse_iso8601(S("2019-10-10T12:34:56.1Z"), &t, &frac), 0);
    assert_int_equal(frac, 100000);
    assert_int_equal(slt_time_parse_iso8601(S("2019-10-10T12:34:56.123456789+00:00"), &t, &frac),
                     0);
    assert_int_equal(frac, 123456);
    assert_int_equal(slt_time_parse_iso8601(S("2019-10-10T12:34:56"), &t, &frac), 0);
    assert_int_equal(t, base);
    assert_int_equal(frac, 0);
}

static void test_iso8601_rejects_trailing_text_and_bad_fields(void **state)
{
    int64_t t;

    (void)state;
    assert_int_equal(slt_time_parse_iso8601(S("2019-10-10T12:34:56Zjunk"), &t, NULL), SLT_EPARSE);
    assert_int_equal(slt_time_parse_iso8601(S("2019-13-10T12:34:56Z"), &t, NULL), SLT_EPARSE);
    assert_int_equal(slt_time_parse_iso8601(S("2019-10-10X12:34:56Z"), &t, NULL), SLT_EPARSE);
    assert_int_equal(slt_time_parse_iso8601(S("2019-10-10T12:34:56."), &t, NULL), SLT_EPARSE);
    assert_int_equal(slt_time_parse_iso8601(S("2019-10-10T12:34"), &t, NULL), SLT_EPARSE);
}

static void test_epoch_float_keeps_microseconds(void **state)
{
    int64_t t = 0;
    int32_t frac = 0;

    (void)state;
    assert_int_equal(slt_time_parse_epoch(S("1716723772.6014807"), &t, &frac), 0);
    assert_int_equal(t, 1716723772);
    assert_int_equal(frac, 601480);
    assert_int_equal(slt_time_parse_epoch(S("1700000000"), &t, &frac), 0);
    assert_int_equal(t, 1700000000);
    assert_int_equal(frac, 0);
    assert_int_equal(slt_time_parse_epoch(S("1.7e9"), &t, &frac), 0);
    assert_int_equal(t, 1700000000);
    assert_int_equal(slt_time_parse_epoch(S("-5"), &t, &frac), SLT_EPARSE);
    assert_int_equal(slt_time_parse_epoch(S("12abc"), &t, &frac), SLT_EPARSE);
    assert_int_equal(slt_time_parse_epoch(S("99999999999999999999999"), &t, &frac), SLT_EPARSE);
}

static void test_layout_reads_strptime_like_directives(void **state)
{
    int64_t t = 0;
    int32_t frac = 0;

    (void)state;
    assert_int_equal(
        slt_time_parse_layout("%d/%b/%Y:%H:%M:%S %z", S("25/Oct/2016:14:49:33 +0200"), &t, &frac),
        0);
    assert_int_equal(t, 1477399773);
    assert_int_equal(
        slt_time_parse_layout("%Y-%m-%d %T.%f", S("2023-07-26 00:01:26.25"), &t, &frac), 0);
    assert_int_equal(t, slt_time_from_civil(2023, 7, 26, 0, 1, 26));
    assert_int_equal(frac, 250000);
    assert_int_equal(slt_time_parse_layout("[%s]", S("[1700000000]"), &t, &frac), 0);
    assert_int_equal(t, 1700000000);
    assert_int_equal(
        slt_time_parse_layout("%d %b %Y %H:%M:%S%%", S("5 October 2020 01:02:03%"), &t, &frac), 0);
    assert_int_equal(t, slt_time_from_civil(2020, 10, 5, 1, 2, 3));
}

static void test_layout_rejects_mismatch(void **state)
{
    int64_t t;

    (void)state;
    assert_int_equal(slt_time_parse_layout("%Y-%m-%d", S("2020/01/01"), &t, NULL), SLT_EPARSE);
    assert_int_equal(slt_time_parse_layout("%Y-%m-%d", S("2020-01-01x"), &t, NULL), SLT_EPARSE);
    assert_int_equal(slt_time_parse_layout("%Y-%m-%d", S("2020-02-30"), &t, NULL), SLT_EPARSE);
    assert_int_equal(slt_time_parse_layout("%Q", S("x"), &t, NULL), SLT_EPARSE);
}

/* slt_time_parse_layout remembers its last result: each call must still give its own answer. */
static void test_layout_repeats_give_each_line_its_own_time(void **state)
{
    static const char *const clf = "%d/%b/%Y:%H:%M:%S %z";
    int64_t t = 0, base = slt_time_from_civil(2016, 10, 25, 12, 49, 0);
    int32_t frac = 7;

    (void)state;
    assert_int_equal(slt_time_parse_layout(clf, S("25/Oct/2016:14:49:33 +0200"), &t, &frac), 0);
    assert_int_equal(t, base + 33);
    assert_int_equal(slt_time_parse_layout(clf, S("25/Oct/2016:14:49:33 +0200"), &t, &frac), 0);
    assert_int_equal(t, base + 33);
    /* another second of the same minute, a leap second, and seconds that are not valid */
    assert_int_equal(slt_time_parse_layout(clf, S("25/Oct/2016:14:49:07 +0200"), &t, &frac), 0);
    assert_int_equal(t, base + 7);
    assert_int_equal(slt_time_parse_layout(clf, S("25/Oct/2016:14:49:60 +0200"), &t, &frac), 0);
    assert_int_equal(t, base + 60);
    assert_int_equal(slt_time_parse_layout(clf, S("25/Oct/2016:14:49:61 +0200"), &t, &frac),
                     SLT_EPARSE);
    assert_int_equal(slt_time_parse_layout(clf, S("25/Oct/2016:14:49:7x +0200"), &t, &frac),
                     SLT_EPARSE);
    /* the minute and the zone are compared, not assumed */
    assert_int_equal(slt_time_parse_layout(clf, S("25/Oct/2016:14:50:07 +0200"), &t, &frac), 0);
    assert_int_equal(t, base + 67);
    assert_int_equal(slt_time_parse_layout(clf, S("25/Oct/2016:14:50:07 +0000"), &t, &frac), 0);
    assert_int_equal(t, base + 67 + 7200);
    /* the same text under another layout is parsed under that layout */
    assert_int_equal(slt_time_parse_layout("%d/%b/%Y:%H:%M:%S +0000",
                                           S("25/Oct/2016:14:50:07 +0000"), &t, &frac),
                     0);
    assert_int_equal(slt_time_parse_layout("%d/%b/%Y:%H:%M:%S +0200",
                                           S("25/Oct/2016:14:50:07 +0000"), &t, &frac),
                     SLT_EPARSE);
    /* with %s the seconds digits of %S do not count */
    assert_int_equal(slt_time_parse_layout("%s %S", S("1700000000 05"), &t, &frac), 0);
    assert_int_equal(t, 1700000000);
    assert_int_equal(slt_time_parse_layout("%s %S", S("1700000000 06"), &t, &frac), 0);
    assert_int_equal(t, 1700000000);
    /* fractions differ line by line */
    assert_int_equal(slt_time_parse_layout("%T.%f", S("00:00:01.25"), &t, &frac), 0);
    assert_int_equal(frac, 250000);
    assert_int_equal(slt_time_parse_layout("%T.%f", S("00:00:02.5"), &t, &frac), 0);
    assert_int_equal(frac, 500000);
    assert_int_equal(t, 2);
}

static void test_layout_check_names_unknown_directive(void **state)
{
    char err[256] = "";

    (void)state;
    assert_int_equal(slt_time_layout_check("%d/%b/%Y:%H:%M:%S %z", err, sizeof(err)), 0);
    assert_int_equal(slt_time_layout_check("%Y-%m-%dT%T.%f%z %% %s", err, sizeof(err)), 0);
    assert_int_equal(slt_time_layout_check("%Y-%q", err, sizeof(err)), SLT_ECONFIG);
    assert_non_null(strstr(err, "'%q'"));
    assert_non_null(strstr(err, "offset 3"));
    assert_int_equal(slt_time_layout_check("%Y%", err, sizeof(err)), SLT_ECONFIG);
    assert_int_equal(slt_time_layout_check("", err, sizeof(err)), SLT_ECONFIG);
}

static void test_latency_units_dash_and_exponent(void **state)
{
    int64_t us = 0;

    (void)state;
    assert_int_equal(slt_parse_latency(S("0.123"), SLT_UNIT_S, &us), 0);
    assert_int_equal(us, 123000);
    assert_int_equal(slt_parse_latency(S("0.00491"), SLT_UNIT_S, &us), 0);
    assert_int_equal(us, 4910);
    assert_int_equal(slt_parse_latency(S("7.314e-05"), SLT_UNIT_S, &us), 0);
    assert_int_equal(us, 73);
    assert_int_equal(slt_parse_latency(S("12"), SLT_UNIT_MS, &us), 0);
    assert_int_equal(us, 12000);
    assert_int_equal(slt_parse_latency(S("116075"), SLT_UNIT_US, &us), 0);
    assert_int_equal(us, 116075);
    assert_int_equal(slt_parse_latency(S("-"), SLT_UNIT_S, &us), 0);
    assert_int_equal(us, -1);
    assert_int_equal(slt_parse_latency(S("-1"), SLT_UNIT_S, &us), 0);
    assert_int_equal(us, -1);
    assert_int_equal(slt_parse_latency(S("-2"), SLT_UNIT_S, &us), SLT_EPARSE);
    assert_int_equal(slt_parse_latency(S("1.2.3"), SLT_UNIT_S, &us), SLT_EPARSE);
    assert_int_equal(slt_parse_latency(S(""), SLT_UNIT_S, &us), SLT_EPARSE);
    assert_int_equal(slt_parse_latency(S("1e"), SLT_UNIT_S, &us), SLT_EPARSE);
    assert_int_equal(slt_parse_latency(S("1e999999"), SLT_UNIT_S, &us), SLT_EPARSE);
    assert_int_equal(slt_parse_latency(S("1e-999999"), SLT_UNIT_S, &us), 0);
    assert_int_equal(us, 0);
    /* bounded at 10^15 us so sums of timings cannot overflow */
    assert_int_equal(slt_parse_latency(S("1000000000"), SLT_UNIT_S, &us), 0);
    assert_int_equal(slt_parse_latency(S("1000000001"), SLT_UNIT_S, &us), SLT_EPARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_civil_matches_timegm_across_eras),
        cmocka_unit_test(test_clf_zone_offset_converts_to_utc),
        cmocka_unit_test(test_clf_month_names_ignore_case),
        cmocka_unit_test(test_clf_rejects_impossible_dates_and_junk),
        cmocka_unit_test(test_clf_without_zone_is_utc),
        cmocka_unit_test(test_iso8601_zulu_with_microseconds),
        cmocka_unit_test(test_iso8601_offsets_and_fraction_lengths),
        cmocka_unit_test(test_iso8601_rejects_trailing_text_and_bad_fields),
        cmocka_unit_test(test_epoch_float_keeps_microseconds),
        cmocka_unit_test(test_layout_reads_strptime_like_directives),
        cmocka_unit_test(test_layout_rejects_mismatch),
        cmocka_unit_test(test_layout_repeats_give_each_line_its_own_time),
        cmocka_unit_test(test_layout_check_names_unknown_directive),
        cmocka_unit_test(test_latency_units_dash_and_exponent),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
