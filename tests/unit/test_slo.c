/* SLO math: attainment, budget, burn rates and the two multiwindow alerts on built sums. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "slo.h"
#include "slt/common.h"
#include "slt/config.h"

#define EPS 1e-9

static void assert_near(double got, double want)
{
    if (fabs(got - want) > EPS)
        fail_msg("got %.12g, want %.12g", got, want);
}

/* The same good/bad counts in every window. */
static struct slt_slo_sums flat(int64_t good, int64_t bad)
{
    struct slt_slo_sums s;
    size_t w;

    memset(&s, 0, sizeof(s));
    s.win[0] = good;
    s.win[1] = bad;
    s.win[2] = 7;
    for (w = 0; w < SLT_SLO_NBURN; w++) {
        s.burn[w][0] = good;
        s.burn[w][1] = bad;
        s.burn[w][2] = 7;
    }
    return s;
}

static void test_no_events_is_full_attainment_and_no_burn(void **state)
{
    struct slt_slo_sums s = flat(0, 0);
    struct slt_slo_eval e;
    size_t w;

    (void)state;
    slt_slo_evaluate(99.9, &s, &e);
    assert_int_equal(e.has_data, 0);
    assert_near(e.attainment, 1.0);
    assert_near(e.budget_remaining, 1.0);
    for (w = 0; w < SLT_SLO_NBURN; w++)
        assert_near(e.burn[w], 0.0);
    assert_int_equal(e.fast, 0);
    assert_int_equal(e.slow, 0);
    assert_int_equal(e.win[2], 7);
}

static void test_excluded_events_do_not_count(void **state)
{
    struct slt_slo_sums s = flat(0, 0);
    struct slt_slo_eval e;

    (void)state;
    s.win[2] = 1000000;
    slt_slo_evaluate(99, &s, &e);
    assert_int_equal(e.has_data, 0);
    assert_near(e.attainment, 1.0);
}

static void test_burn_rate_is_bad_ratio_over_budget(void **state)
{
    /* 99% objective: budget 1%; 2 bad in 100 burns at 2x and leaves -1 (twice spent) */
    struct slt_slo_sums s = flat(98, 2);
    struct slt_slo_eval e;
    size_t w;

    (void)state;
    slt_slo_evaluate(99, &s, &e);
    assert_int_equal(e.has_data, 1);
    assert_near(e.attainment, 0.98);
    assert_near(e.budget_remaining, -1.0);
    for (w = 0; w < SLT_SLO_NBURN; w++)
        assert_near(e.burn[w], 2.0);
    assert_int_equal(e.fast, 0);
    assert_int_equal(e.slow, 0);
}

static void test_half_the_budget_spent_leaves_half(void **state)
{
    struct slt_slo_sums s = flat(9995, 5);
    struct slt_slo_eval e;

    (void)state;
    slt_slo_evaluate(99.9, &s, &e);
    assert_near(e.budget_remaining, 0.5);
    assert_near(e.burn[SLT_SLO_BURN_1H], 0.5);
}

static void test_budget_exhausted_is_zero_then_negative(void **state)
{
    struct slt_slo_sums s = flat(999, 1);
    struct slt_slo_eval e;

    (void)state;
    slt_slo_evaluate(99.9, &s, &e);
    assert_near(e.budget_remaining, 0.0);
    s = flat(0, 10);
    slt_slo_evaluate(99.9, &s, &e);
    assert_near(e.attainment, 0.0);
    assert_near(e.budget_remaining, 1.0 - 1.0 / 0.001);
    assert_near(e.burn[SLT_SLO_BURN_5M], 1000.0);
    assert_int_equal(e.fast, 1);
    assert_int_equal(e.slow, 1);
}

static void test_fast_burn_needs_both_1h_and_5m(void **state)
{
    /* 99%: 14.4x is a bad ratio of 14.4% */
    struct slt_slo_sums s = flat(856, 144);
    struct slt_slo_eval e;

    (void)state;
    slt_slo_evaluate(99, &s, &e);
    assert_near(e.burn[SLT_SLO_BURN_1H], 14.4);
    assert_int_equal(e.fast, 1);
    /* the burst is over: the last 5 minutes are clean */
    s.burn[SLT_SLO_BURN_5M][1] = 0;
    slt_slo_evaluate(99, &s, &e);
    assert_int_equal(e.fast, 0);
    assert_int_equal(e.slow, 1);
    /* a 5-minute blip on a clean hour does not page either */
    s = flat(1000, 0);
    s.burn[SLT_SLO_BURN_5M][1] = 1000;
    slt_slo_evaluate(99, &s, &e);
    assert_int_equal(e.fast, 0);
    assert_int_equal(e.slow, 0);
}

static void test_fast_burn_just_under_threshold_does_not_fire(void **state)
{
    struct slt_slo_sums s = flat(857, 143);
    struct slt_slo_eval e;

    (void)state;
    slt_slo_evaluate(99, &s, &e);
    assert_int_equal(e.fast, 0);
    assert_int_equal(e.slow, 1);
}

static void test_slow_burn_needs_both_6h_and_30m(void **state)
{
    struct slt_slo_sums s = flat(1000, 0);
    struct slt_slo_eval e;

    (void)state;
    /* 99%: 6x is a bad ratio of 6% */
    s.burn[SLT_SLO_BURN_6H][0] = 94;
    s.burn[SLT_SLO_BURN_6H][1] = 6;
    s.burn[SLT_SLO_BURN_30M][0] = 94;
    s.burn[SLT_SLO_BURN_30M][1] = 6;
    slt_slo_evaluate(99, &s, &e);
    assert_near(e.burn[SLT_SLO_BURN_6H], 6.0);
    assert_int_equal(e.slow, 1);
    assert_int_equal(e.fast, 0);
    s.burn[SLT_SLO_BURN_30M][1] = 5;
    slt_slo_evaluate(99, &s, &e);
    assert_int_equal(e.slow, 0);
}

static void test_objective_out_of_range_never_divides_by_zero(void **state)
{
    struct slt_slo_sums s = flat(1, 1);
    struct slt_slo_eval e;

    (void)state;
    slt_slo_evaluate(100, &s, &e);
    assert_near(e.budget_remaining, 0.0);
    assert_near(e.burn[0], 0.0);
    assert_int_equal(e.fast, 0);
    slt_slo_evaluate(-1, &s, &e);
    assert_near(e.burn[0], 0.0);
    assert_true(isfinite(e.budget_remaining));
}

static void test_objective_100_is_rejected_by_the_config(void **state)
{
    static const char yaml[] = "inputs: [{name: web, format: nginx_combined}]\n"
                               "slis: [{name: a, input: web}]\n"
                               "slos: [{name: s, sli: a, objective: 100}]\n";
    struct slt_config *cfg = NULL;
    char err[256];

    (void)state;
    assert_int_equal(
        slt_config_load_string("t.yaml", yaml, sizeof(yaml) - 1, &cfg, err, sizeof(err)),
        SLT_ECONFIG);
    assert_null(cfg);
    assert_non_null(strstr(err, "'objective' must be between 0 and 100"));
}

static void test_windows_end_with_the_open_minute(void **state)
{
    (void)state;
    assert_int_equal(slt_slo_now_end(1700000000), 1700000040);
    assert_int_equal(slt_slo_now_end(1700000040), 1700000100);
    assert_int_equal(slt_slo_burn_windows[SLT_SLO_BURN_5M], 300);
    assert_int_equal(slt_slo_burn_windows[SLT_SLO_BURN_6H], 21600);
    assert_string_equal(slt_slo_burn_window_names[SLT_SLO_BURN_30M], "30m");
}

static void test_long_windows_start_on_kept_buckets(void **state)
{
    int64_t to = 1700000040; /* not on an hour */

    (void)state;
    /* within minute retention: exact */
    assert_int_equal(slt_slo_window_start(to, 3600, 2 * 86400, 35 * 86400), to - 3600);
    /* past minute retention: the hour before */
    assert_int_equal(slt_slo_window_start(to, 7 * 86400, 2 * 86400, 35 * 86400),
                     (to - 7 * 86400) / 3600 * 3600);
    /* past hour retention: the day before */
    assert_int_equal(slt_slo_window_start(to, 90 * 86400, 2 * 86400, 35 * 86400),
                     (to - 90 * 86400) / 86400 * 86400);
    /* a window reaching before 1970 starts at 0 */
    assert_int_equal(slt_slo_window_start(600, 3600, 2 * 86400, 35 * 86400), 0);
    /* seconds round up to whole minutes */
    assert_int_equal(slt_slo_window_start(to, 3601, 2 * 86400, 35 * 86400), to - 3660);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_events_is_full_attainment_and_no_burn),
        cmocka_unit_test(test_excluded_events_do_not_count),
        cmocka_unit_test(test_burn_rate_is_bad_ratio_over_budget),
        cmocka_unit_test(test_half_the_budget_spent_leaves_half),
        cmocka_unit_test(test_budget_exhausted_is_zero_then_negative),
        cmocka_unit_test(test_fast_burn_needs_both_1h_and_5m),
        cmocka_unit_test(test_fast_burn_just_under_threshold_does_not_fire),
        cmocka_unit_test(test_slow_burn_needs_both_6h_and_30m),
        cmocka_unit_test(test_objective_out_of_range_never_divides_by_zero),
        cmocka_unit_test(test_objective_100_is_rejected_by_the_config),
        cmocka_unit_test(test_windows_end_with_the_open_minute),
        cmocka_unit_test(test_long_windows_start_on_kept_buckets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
