/*
 * Golden tests of the alert tiers (docs/ALERTS.md): a fake clock steps through time every
 * alerting interval (30 s) over counters that grow at a constant rate, and the evaluation code
 * the aggregator and `slitail replay` use (slt_slo_eval_fn, slt_slo_tiers_update) decides what
 * fires. Each expected time is the analytic one; the slack allowed is one minute bucket plus
 * one evaluation interval, no more.
 */
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "slo.h"
#include "slt/common.h"
#include "slt/config.h"

#define INTERVAL 30 /* alerting.interval */
#define SLACK (60 + INTERVAL)
#define MIN_RET (2 * 86400)
#define HOUR_RET (35 * 86400)
#define T0 1800000017LL /* the change starts here: 17 s into a minute */

/*
 * The counters: every `period` seconds (at multiples of it) `n` events arrive; during
 * [bad_from, bad_to) `bad` of them are bad. A tick at t is visible once now >= t.
 */
struct model {
    int64_t period, n, bad, bad_from, bad_to;
    int64_t fail_at; /* one extra bad event replacing a good one at this tick (0: none) */
    int64_t now;
};

/* ticks k * period in [a, b) */
static int64_t ticks(int64_t period, int64_t a, int64_t b)
{
    int64_t first = (a + period - 1) / period, last = (b + period - 1) / period;

    return b > a ? last - first : 0;
}

static int model_sum(void *ctx, int64_t from, int64_t to, int64_t out[3])
{
    const struct model *m = ctx;
    int64_t end = to < m->now + 1 ? to : m->now + 1; /* ticks at t <= now */
    int64_t all = ticks(m->period, from, end) * m->n, bad = 0;
    int64_t a = from > m->bad_from ? from : m->bad_from;
    int64_t b = end < m->bad_to ? end : m->bad_to;

    bad = ticks(m->period, a, b) * m->bad;
    if (m->fail_at && m->fail_at >= from && m->fail_at < end)
        bad++;
    out[0] += all - bad;
    out[1] += bad;
    return 0;
}

struct outcome {
    int64_t raw_first[SLT_SLO_MAX_TIERS]; /* first time the tier fired (0: never) */
    int64_t fired[SLT_SLO_MAX_TIERS];     /* first notification opened (0: never) */
    int64_t resolved[SLT_SLO_MAX_TIERS];  /* first notification closed (0: never) */
    int nopened[SLT_SLO_MAX_TIERS];
};

static struct slt_config *load_cfg(double objective)
{
    char yaml[512], err[512];
    struct slt_config *cfg = NULL;
    int n = snprintf(yaml, sizeof(yaml),
                     "inputs: [{name: web, format: nginx_combined}]\n"
                     "slis: [{name: a, input: web}]\n"
                     "slos: [{name: s, sli: a, objective: %g, window: 30d}]\n",
                     objective);

    if (slt_config_load_string("t.yaml", yaml, (size_t)n, &cfg, err, sizeof(err)) < 0)
        fail_msg("config: %s", err);
    return cfg;
}

/* Steps the fake clock from `from` to `to` every INTERVAL and records what happened. */
static void run(const struct slt_slo *slo, struct model *m, int64_t from, int64_t to,
                struct outcome *o)
{
    struct slt_slo_tier_state st[SLT_SLO_MAX_TIERS];
    struct slt_slo_plan plan;
    int64_t now;

    memset(st, 0, sizeof(st));
    memset(o, 0, sizeof(*o));
    slt_slo_plan_init(&plan, slo);
    for (now = from; now <= to; now += INTERVAL) {
        struct slt_slo_notice nt[SLT_SLO_MAX_TIERS];
        struct slt_slo_eval e;
        size_t k, n;

        m->now = now;
        assert_int_equal(
            slt_slo_eval_fn(slo, &plan, slt_slo_now_end(now), MIN_RET, HOUR_RET, model_sum, m, &e),
            0);
        n = slt_slo_tiers_update(slo, &e, st, now, nt);
        for (k = 0; k < slo->ntiers; k++)
            if (st[k].firing && !o->raw_first[k])
                o->raw_first[k] = now;
        for (k = 0; k < n; k++) {
            size_t t = nt[k].tier;

            if (nt[k].firing) {
                if (!o->fired[t])
                    o->fired[t] = now;
                o->nopened[t]++;
            } else if (!o->resolved[t]) {
                o->resolved[t] = now;
            }
        }
    }
}

static void assert_within(const char *what, int64_t got, double want_lo, double want_hi)
{
    if (got == 0)
        fail_msg("%s: never happened, want %.0f s .. %.0f s after the start", what, want_lo - T0,
                 want_hi - T0);
    if ((double)got < want_lo || (double)got > want_hi)
        fail_msg("%s: at %+" PRId64 " s, want %+.0f s .. %+.0f s", what, (int64_t)(got - T0),
                 want_lo - T0, want_hi - T0);
}

/* 2000 requests a second since long before T0, with bad of them bad from T0 to bad_to. */
static struct model steady(int64_t bad, int64_t bad_to)
{
    struct model m = {1, 2000, bad, T0, bad_to, 0, 0};

    return m;
}

enum { PAGE_1H = 0, PAGE_6H = 1, TICKET_1D = 2, TICKET_3D = 3 };

static void test_a_full_outage_pages_within_90_seconds(void **state)
{
    struct slt_config *cfg = load_cfg(99.9);
    struct model m = steady(2000, INT64_MAX);
    struct outcome o;

    (void)state;
    run(&cfg->slos[0], &m, T0 - 600, T0 + 600, &o);
    /* 1000x: 1.44% of an hour (52 s) of errors reaches 14.4x over 1h */
    assert_within("page-1h", o.fired[PAGE_1H], T0 + 52, T0 + 90);
    /* the slower tiers fire too but the page already went out */
    assert_true(o.raw_first[PAGE_6H] != 0);
    assert_int_equal(o.fired[PAGE_6H], 0);
    assert_int_equal(o.fired[TICKET_1D], 0);
    assert_int_equal(o.fired[TICKET_3D], 0);
    slt_config_free(cfg);
}

static void test_15_percent_for_10_minutes_pages_in_6_and_clears_in_5(void **state)
{
    struct slt_config *cfg = load_cfg(99.9);
    struct model m = steady(300, T0 + 600);
    struct outcome o;
    double fire = T0 + 0.0144 / 0.15 * 3600; /* 345.6 s */

    (void)state;
    run(&cfg->slos[0], &m, T0 - 600, T0 + 3 * 3600, &o);
    assert_within("page-1h fires", o.fired[PAGE_1H], fire - 60, fire + SLACK);
    assert_true(o.fired[PAGE_1H] - T0 <= 6 * 60 + INTERVAL);
    /* the 5m window drops under 14.4x once less than 28.8 s of errors are in it */
    assert_within("page-1h clears", o.resolved[PAGE_1H], T0 + 600 + 300 - 28.8 - 60 - SLACK,
                  T0 + 600 + 300);
    assert_int_equal(o.nopened[PAGE_1H], 1);
    assert_int_equal(o.raw_first[PAGE_6H], 0);
    assert_int_equal(o.raw_first[TICKET_1D], 0);
    assert_int_equal(o.raw_first[TICKET_3D], 0);
    slt_config_free(cfg);
}

static void test_1_4_percent_never_pages_1h_but_pages_6h_after_2_6_hours(void **state)
{
    struct slt_config *cfg = load_cfg(99.9);
    struct model m = steady(28, INT64_MAX); /* 1.4%: 14x */
    struct outcome o;
    double fire = T0 + 6.0 / 14.0 * 6 * 3600; /* 2.57 h */

    (void)state;
    run(&cfg->slos[0], &m, T0 - 600, T0 + 4 * 3600, &o);
    assert_int_equal(o.raw_first[PAGE_1H], 0);
    assert_within("page-6h", o.fired[PAGE_6H], fire - 60, fire + SLACK);
    slt_config_free(cfg);
}

static void test_0_35_percent_tickets_after_20_6_hours(void **state)
{
    struct slt_config *cfg = load_cfg(99.9);
    struct model m = steady(7, INT64_MAX); /* 0.35%: 3.5x */
    struct outcome o;
    double fire = T0 + 3.0 / 3.5 * 86400; /* 20.57 h */

    (void)state;
    run(&cfg->slos[0], &m, T0 - 600, T0 + 26 * 3600, &o);
    assert_int_equal(o.raw_first[PAGE_1H], 0);
    assert_int_equal(o.raw_first[PAGE_6H], 0);
    assert_within("ticket-1d", o.fired[TICKET_1D], fire - 60, fire + SLACK);
    /* ticket-3d gets there at the same time (1x over 3d) and is inhibited by ticket-1d */
    assert_true(o.raw_first[TICKET_3D] != 0);
    assert_int_equal(o.fired[TICKET_3D], 0);
    slt_config_free(cfg);
}

static void test_exactly_the_objective_never_fires(void **state)
{
    struct slt_config *cfg = load_cfg(99.9);
    struct model m = steady(2, INT64_MAX); /* 0.1%: 1x */
    struct outcome o;
    size_t k;

    (void)state;
    run(&cfg->slos[0], &m, T0 - 600, T0 + 4 * 86400, &o);
    for (k = 0; k < 4; k++)
        assert_int_equal(o.raw_first[k], 0);
    slt_config_free(cfg);
}

static void test_10_requests_an_hour_with_one_failure_opens_two_tickets(void **state)
{
    struct slt_config *cfg = load_cfg(99.9);
    struct model m = {360, 1, 0, 0, 0, 0, 0};
    struct outcome o;
    int64_t fail = (T0 / 360 + 1) * 360;

    (void)state;
    m.fail_at = fail;
    run(&cfg->slos[0], &m, T0 - 600, T0 + 12 * 3600, &o);
    /* 10 and 60 events in the page tiers' long windows: under min_events (100) */
    assert_int_equal(o.raw_first[PAGE_1H], 0);
    assert_int_equal(o.raw_first[PAGE_6H], 0);
    /* 1 in 240 over 1d (4.2x) and 1 in 720 over 3d (1.4x): both tickets, the 3d one once the
     * 1d one's 2h short window let the failure go */
    assert_within("ticket-1d", o.fired[TICKET_1D], (double)fail, (double)fail + SLACK);
    assert_within("ticket-1d clears", o.resolved[TICKET_1D], (double)fail + 2 * 3600 - 60,
                  (double)fail + 2 * 3600 + SLACK);
    assert_within("ticket-3d", o.fired[TICKET_3D], (double)o.resolved[TICKET_1D],
                  (double)o.resolved[TICKET_1D]);
    assert_within("ticket-3d clears", o.resolved[TICKET_3D], (double)fail + 6 * 3600 - 60,
                  (double)fail + 6 * 3600 + SLACK);
    slt_config_free(cfg);
}

static void test_a_90_percent_slo_reports_and_skips_its_unreachable_tier(void **state)
{
    struct slt_config *cfg = load_cfg(90);
    struct model m = steady(2000, INT64_MAX);
    struct outcome o;
    double fire = T0 + 6.0 / 10.0 * 6 * 3600; /* 6x of a max 10x: 60% of 6h */

    (void)state;
    assert_int_equal(cfg->slos[0].tiers[PAGE_1H].unreachable, 1);
    assert_int_equal(cfg->slos[0].tiers[PAGE_6H].unreachable, 0);
    run(&cfg->slos[0], &m, T0 - 600, T0 + 5 * 3600, &o);
    assert_int_equal(o.raw_first[PAGE_1H], 0);
    assert_within("page-6h", o.fired[PAGE_6H], fire - 60, fire + SLACK);
    slt_config_free(cfg);
}

static void test_zero_traffic_never_fires(void **state)
{
    struct slt_config *cfg = load_cfg(99.9);
    struct model m = {1, 0, 0, 0, 0, 0, 0};
    struct outcome o;
    size_t k;

    (void)state;
    run(&cfg->slos[0], &m, T0, T0 + 4 * 86400, &o);
    for (k = 0; k < 4; k++)
        assert_int_equal(o.raw_first[k], 0);
    slt_config_free(cfg);
}

/* Replay over the same counters as minutes finds the same page (minute-end evaluation). */
static void test_replay_over_minutes_finds_the_same_page(void **state)
{
    struct slt_config *cfg = load_cfg(99.9);
    struct model m = steady(300, T0 + 600);
    struct slt_minutes mins;
    struct slt_slo_replay_alert *al = NULL;
    int64_t start = (T0 - 4 * 86400) / 60 * 60, end = (T0 + 3 * 3600) / 60 * 60;
    size_t i, n = 0;
    struct outcome o;

    (void)state;
    mins.start = start;
    mins.n = (size_t)((end - start) / 60);
    mins.c = calloc(mins.n, sizeof(*mins.c));
    assert_non_null(mins.c);
    m.now = INT64_MAX - 1;
    for (i = 0; i < mins.n; i++)
        model_sum(&m, start + 60 * (int64_t)i, start + 60 * (int64_t)i + 60, mins.c[i]);
    assert_int_equal(slt_slo_replay(&cfg->slos[0], &mins, (T0 - 600) / 60 * 60, end, 1000, &al, &n),
                     0);
    assert_int_equal(n, 1);
    assert_int_equal(al[0].tier, PAGE_1H);
    run(&cfg->slos[0], &m, T0 - 600, T0 + 3 * 3600, &o);
    /* the clock evaluates every 30 s with the open minute, replay at minute ends */
    assert_true(llabs(al[0].fired - o.fired[PAGE_1H]) <= SLACK);
    assert_true(llabs(al[0].resolved - o.resolved[PAGE_1H]) <= SLACK);
    slt_free(al);
    free(mins.c);
    slt_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_full_outage_pages_within_90_seconds),
        cmocka_unit_test(test_15_percent_for_10_minutes_pages_in_6_and_clears_in_5),
        cmocka_unit_test(test_1_4_percent_never_pages_1h_but_pages_6h_after_2_6_hours),
        cmocka_unit_test(test_0_35_percent_tickets_after_20_6_hours),
        cmocka_unit_test(test_exactly_the_objective_never_fires),
        cmocka_unit_test(test_10_requests_an_hour_with_one_failure_opens_two_tickets),
        cmocka_unit_test(test_a_90_percent_slo_reports_and_skips_its_unreachable_tier),
        cmocka_unit_test(test_zero_traffic_never_fires),
        cmocka_unit_test(test_replay_over_minutes_finds_the_same_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
