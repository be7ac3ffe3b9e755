#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "count.h"

static void test_counts_add_up_per_series_and_minute(void **state)
{
    struct slt_count c;
    struct slt_count_snapshot s;
    int i;

    (void)state;
    assert_int_equal(slt_count_init(&c, 3, 1000), 0);
    for (i = 0; i < 1000; i++) {
        assert_int_equal(slt_count_add(&c, (uint32_t)(i % 3), 60 * (i % 5), (unsigned)(i % 3), 1),
                         0);
    }
    assert_int_equal(slt_count_len(&c), 15);
    assert_int_equal(slt_count_take(&c, &s), 0);
    assert_int_equal(s.nrows, 15);
    assert_int_equal(slt_count_len(&c), 0);
    for (i = 0; i < 3; i++) {
        size_t k;
        uint64_t total = 0;

        assert_int_equal(s.off[i + 1] - s.off[i], 5);
        for (k = s.off[i]; k < s.off[i + 1]; k++) {
            if (k > s.off[i])
                assert_true(s.rows[k].minute > s.rows[k - 1].minute);
            total += s.rows[k].v[i];
            assert_int_equal(s.rows[k].v[(i + 1) % 3], 0);
        }
        assert_int_equal(total, i == 0 ? 334 : 333);
    }
    slt_count_snapshot_release(&s);
    slt_count_release(&c);
}

static void test_soft_limit_asks_for_an_early_close_and_keeps_the_count(void **state)
{
    struct slt_count c;
    struct slt_count_snapshot s;
    int i, rc = 0;

    (void)state;
    assert_int_equal(slt_count_init(&c, 1, 100), 0);
    for (i = 0; i < 99; i++)
        assert_int_equal(slt_count_add(&c, 0, 60 * i, 0, 1), 0);
    rc = slt_count_add(&c, 0, 60 * 99, 0, 1);
    assert_int_equal(rc, 1);
    /* over the soft limit the table still counts (the caller closes a batch next) */
    assert_int_equal(slt_count_add(&c, 0, 60 * 100, 0, 7), 1);
    assert_int_equal(slt_count_len(&c), 101);
    assert_int_equal(slt_count_take(&c, &s), 0);
    assert_int_equal(s.nrows, 101);
    assert_int_equal(s.rows[100].minute, 6000);
    assert_int_equal(s.rows[100].v[0], 7);
    slt_count_snapshot_release(&s);
    /* the table is usable again after take; it keeps its capacity for the next batch */
    assert_int_equal(slt_count_add(&c, 0, 120, 1, 2), 0);
    assert_true(c.cap >= 256);
    /* and gives it back after many small batches */
    for (i = 0; i < 20; i++) {
        assert_int_equal(slt_count_take(&c, &s), 0);
        slt_count_snapshot_release(&s);
        assert_int_equal(slt_count_add(&c, 0, 120, 1, 2), 0);
    }
    assert_true(c.cap <= 64);
    assert_int_equal(slt_count_take(&c, &s), 0);
    assert_int_equal(s.nrows, 1);
    assert_int_equal(s.rows[0].v[1], 2);
    slt_count_snapshot_release(&s);
    slt_count_release(&c);
}

static void test_failed_growth_adds_nothing(void **state)
{
    struct slt_count c;
    int i;

    (void)state;
    assert_int_equal(slt_count_init(&c, 1, 1000), 0);
    for (i = 0; i < 32; i++)
        assert_int_equal(slt_count_add(&c, 0, 60 * i, 0, 1), 0);
    slt_alloc_fail_after(0);
    assert_int_equal(slt_count_add(&c, 0, 60 * 32, 0, 1), SLT_ENOMEM);
    assert_int_equal(slt_count_len(&c), 32);
    assert_int_equal(slt_count_add(&c, 0, 60 * 32, 0, 1), 0);
    assert_int_equal(slt_count_len(&c), 33);
    slt_count_release(&c);
}

/* Rows come out sorted by minute whatever the order they were counted in: in order (a
 * backlog), nearly (one unparsed line in the minute it was read), reversed, scrambled. */
static void test_rows_are_sorted_in_any_arrival_order(void **state)
{
    struct slt_count c;
    struct slt_count_snapshot s;
    int order, i;
    const int n = 3000;

    (void)state;
    for (order = 0; order < 4; order++) {
        assert_int_equal(slt_count_init(&c, 2, 100000), 0);
        for (i = 0; i < n; i++) {
            int m = order == 0 ? i : order == 2 ? n - 1 - i : (i * 7919) % n;

            if (order == 1)
                m = i == 5 ? n - 1 : i < 5 ? i : i - 1;
            assert_true(slt_count_add(&c, (uint32_t)(i & 1), 60 * (int64_t)m, 0, 1) >= 0);
            assert_true(slt_count_add(&c, 1, 60 * (int64_t)m, 1, 1) >= 0);
        }
        assert_int_equal(slt_count_take(&c, &s), 0);
        for (i = 0; i < 2; i++) {
            size_t k;

            for (k = s.off[i] + 1; k < s.off[i + 1]; k++)
                if (s.rows[k].minute <= s.rows[k - 1].minute)
                    fail_msg("order %d series %d row %zu: minute %lld after %lld", order, i, k,
                             (long long)s.rows[k].minute, (long long)s.rows[k - 1].minute);
        }
        assert_int_equal(s.off[2] - s.off[1], n);
        slt_count_snapshot_release(&s);
        slt_count_release(&c);
    }
}

static void test_minute_of_negative_times_rounds_down(void **state)
{
    (void)state;
    assert_int_equal(slt_minute_of(1700000059), 1700000040);
    assert_int_equal(slt_minute_of(-1), -60);
    assert_int_equal(slt_minute_of(-60), -60);
    assert_int_equal(slt_minute_of(0), 0);
}

static void test_bad_series_is_refused(void **state)
{
    struct slt_count c;

    (void)state;
    assert_int_equal(slt_count_init(&c, 2, 10), 0);
    assert_int_equal(slt_count_add(&c, 2, 0, 0, 1), SLT_EINVAL);
    assert_int_equal(slt_count_add(&c, 0, 0, 3, 1), SLT_EINVAL);
    assert_int_equal(slt_count_set_series(&c, 5), 0);
    assert_int_equal(slt_count_add(&c, 4, 0, 0, 1), 0);
    assert_int_equal(slt_count_set_series(&c, 1), SLT_EINVAL);
    slt_count_release(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_add_up_per_series_and_minute),
        cmocka_unit_test(test_soft_limit_asks_for_an_early_close_and_keeps_the_count),
        cmocka_unit_test(test_failed_growth_adds_nothing),
        cmocka_unit_test(test_rows_are_sorted_in_any_arrival_order),
        cmocka_unit_test(test_minute_of_negative_times_rounds_down),
        cmocka_unit_test(test_bad_series_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
