/* Bucket decomposition: exact cover, coarsest buckets, bounded key counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "slt/common.h"
#include "window.h"

#define DAY 86400
#define HOUR 3600
#define BASE 1700000000LL / DAY *DAY /* a UTC midnight */

static struct slt_bucket out[8192];

/* A deterministic "count" per minute, so sums can be compared with brute force. */
static int64_t minute_value(int64_t m)
{
    uint64_t x = (uint64_t)m * 0x9E3779B97F4A7C15ull;
    return (int64_t)((x >> 40) % 1000);
}

static int64_t brute_sum(int64_t from, int64_t to)
{
    int64_t s = 0, t;

    for (t = from; t < to; t += 60)
        s += minute_value(t);
    return s;
}

/* Checks n buckets cover [from, to) exactly, in order, aligned, and coarsest-first. */
static void check_cover(int64_t from, int64_t to, long n)
{
    int64_t at = from, sum = 0;
    long i;

    assert_true(n >= 0);
    for (i = 0; i < n; i++) {
        int64_t w = slt_gran_width(out[i].gran);
        int64_t up;

        assert_int_equal(out[i].start, at);
        assert_int_equal(out[i].start % w, 0);
        /* coarsest: the next coarser bucket holding this one does not fit in the range */
        if (out[i].gran != SLT_GRAN_DAY) {
            int64_t uw = slt_gran_width(out[i].gran + 1);

            up = out[i].start / uw * uw;
            assert_false(up >= from && up + uw <= to);
        }
        sum += brute_sum(out[i].start, out[i].start + w);
        at += w;
    }
    assert_int_equal(at, to);
    assert_int_equal(sum, brute_sum(from, to));
}

static void test_aligned_28_days_is_28_day_buckets(void **state)
{
    long n;

    (void)state;
    n = slt_window_decompose(BASE, BASE + 28 * DAY, out, SLT_ARRAY_SIZE(out));
    assert_int_equal(n, 28);
    check_cover(BASE, BASE + 28 * DAY, n);
}

static void test_one_hour_aligned_is_one_hour_bucket(void **state)
{
    long n;

    (void)state;
    n = slt_window_decompose(BASE + 5 * HOUR, BASE + 6 * HOUR, out, SLT_ARRAY_SIZE(out));
    assert_int_equal(n, 1);
    assert_int_equal(out[0].gran, SLT_GRAN_HOUR);
    assert_int_equal(out[0].start, BASE + 5 * HOUR);
}

static void test_worst_case_28_days_needs_at_most_192_buckets(void **state)
{
    /* one minute past midnight to one minute before midnight, 28 days later */
    int64_t from = BASE + 60, to = BASE + 29 * DAY - 60;
    long n;

    (void)state;
    n = slt_window_decompose(from, to, out, SLT_ARRAY_SIZE(out));
    check_cover(from, to, n);
    assert_true(n <= 28 + 2 * 23 + 2 * 59);
    assert_int_equal(n, 27 + 2 * 23 + 2 * 59);
    assert_true((size_t)n <= slt_window_max_buckets(to - from));
}

/* The SLO window: exactly 28 days from any minute of a day needs at most 27 + 23 + 60 buckets. */
static void test_exact_28_day_windows_need_at_most_110_buckets(void **state)
{
    long n, worst = 0;

    (void)state;
    for (int64_t m = 0; m < 1440; m++) {
        n = slt_window_count(BASE + m * 60, BASE + m * 60 + 28 * DAY);
        assert_true(n > 0);
        if (n > worst)
            worst = n;
    }
    assert_int_equal(worst, 27 + 23 + 60);
}

static void test_random_ranges_match_brute_force(void **state)
{
    int i;

    (void)state;
    srand(12345);
    for (i = 0; i < 3000; i++) {
        int64_t len = (int64_t)(rand() % (i % 3 == 0 ? 40 * 24 * 60 : 3 * 24 * 60)) * 60;
        int64_t from = BASE + (int64_t)(rand() % (10 * 24 * 60)) * 60;
        long n = slt_window_decompose(from, from + len, out, SLT_ARRAY_SIZE(out));

        check_cover(from, from + len, n);
        assert_int_equal(slt_window_count(from, from + len), n);
        assert_true((size_t)n <= slt_window_max_buckets(len));
        if (len <= 28 * DAY)
            assert_true(n <= 192);
    }
}

static void test_small_ranges_exhaustively(void **state)
{
    int64_t from, to;

    (void)state;
    /* every minute-aligned range within 26 hours around a midnight */
    for (from = BASE - 2 * HOUR; from < BASE + 2 * HOUR; from += 60 * 7)
        for (to = from; to <= from + 26 * HOUR; to += 60 * 11)
            check_cover(from, to, slt_window_decompose(from, to, out, SLT_ARRAY_SIZE(out)));
}

static void test_empty_range_has_no_bucket(void **state)
{
    (void)state;
    assert_int_equal(slt_window_decompose(BASE, BASE, out, SLT_ARRAY_SIZE(out)), 0);
}

static void test_bad_ranges_are_refused(void **state)
{
    (void)state;
    assert_int_equal(slt_window_decompose(BASE + 1, BASE + 60, out, 10), SLT_EINVAL);
    assert_int_equal(slt_window_decompose(BASE, BASE + 61, out, 10), SLT_EINVAL);
    assert_int_equal(slt_window_decompose(BASE + 60, BASE, out, 10), SLT_EINVAL);
    assert_int_equal(slt_window_decompose(-60, BASE, out, 10), SLT_EINVAL);
}

static void test_too_many_buckets_is_a_limit(void **state)
{
    (void)state;
    assert_int_equal(slt_window_decompose(BASE + 60, BASE + 59 * 60, out, 10), SLT_ELIMIT);
    assert_int_equal(slt_window_decompose(0, 4000LL * 365 * DAY, out, 100), SLT_ELIMIT);
    assert_int_equal(slt_window_decompose(BASE, BASE + 10 * DAY, out, 10), 10);
}

static void test_gran_letters_match_redis_keys(void **state)
{
    (void)state;
    assert_string_equal(slt_gran_letter(SLT_GRAN_MINUTE), "m");
    assert_string_equal(slt_gran_letter(SLT_GRAN_HOUR), "h");
    assert_string_equal(slt_gran_letter(SLT_GRAN_DAY), "d");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aligned_28_days_is_28_day_buckets),
        cmocka_unit_test(test_one_hour_aligned_is_one_hour_bucket),
        cmocka_unit_test(test_worst_case_28_days_needs_at_most_192_buckets),
        cmocka_unit_test(test_exact_28_day_windows_need_at_most_110_buckets),
        cmocka_unit_test(test_random_ranges_match_brute_force),
        cmocka_unit_test(test_small_ranges_exhaustively),
        cmocka_unit_test(test_empty_range_has_no_bucket),
        cmocka_unit_test(test_bad_ranges_are_refused),
        cmocka_unit_test(test_too_many_buckets_is_a_limit),
        cmocka_unit_test(test_gran_letters_match_redis_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
