/* SLO math: attainment, budget, burn rates and the two multiwindow alerts on built sums. */
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

/* ---- tiers, policy and the config keys behind them -------------------------------------- */

static struct slt_config *load_cfg(const char *slos_yaml)
{
    char yaml[4096], err[512];
    struct slt_config *cfg = NULL;
    int n = snprintf(yaml, sizeof(yaml),
                     "inputs: [{name: web, format: nginx_combined}]\n"
                     "slis: [{name: a, input: web}]\n%s",
                     slos_yaml);
    int rc = slt_config_load_string("t.yaml", yaml, (size_t)n, &cfg, err, sizeof(err));

    if (rc < 0)
        fail_msg("config: %s", err);
    return cfg;
}

static int load_err(const char *slos_yaml, char *err, size_t errlen)
{
    char yaml[4096];
    struct slt_config *cfg = NULL;
    int n = snprintf(yaml, sizeof(yaml),
                     "inputs: [{name: web, format: nginx_combined}]\n"
                     "slis: [{name: a, input: web}]\n%s",
                     slos_yaml);
    int rc = slt_config_load_string("t.yaml", yaml, (size_t)n, &cfg, err, errlen);

    slt_config_free(cfg);
    return rc;
}

static void test_default_tiers_are_the_workbook_four_with_window_thresholds(void **state)
{
    struct slt_config *cfg = load_cfg("slos:\n"
                                      "  - {name: m, sli: a, objective: 99.9, window: 30d}\n"
                                      "  - {name: f, sli: a, objective: 99.9, window: 28d}\n");
    static const char *names[] = {"page-1h", "page-6h", "ticket-1d", "ticket-3d"};
    static const double thr30[] = {14.4, 6, 3, 1}, thr28[] = {13.44, 5.6, 2.8, 28.0 / 30.0};
    size_t k;

    (void)state;
    assert_int_equal(cfg->slos[0].ntiers, 4);
    for (k = 0; k < 4; k++) {
        assert_string_equal(cfg->slos[0].tiers[k].name, names[k]);
        assert_near(cfg->slos[0].tiers[k].threshold, thr30[k]);
        assert_near(cfg->slos[1].tiers[k].threshold, thr28[k]);
        assert_near(slt_slo_threshold(cfg->slos[1].tiers[k].budget_percent, 28 * 86400,
                                      cfg->slos[1].tiers[k].long_s),
                    thr28[k]);
        assert_int_equal(cfg->slos[0].tiers[k].unreachable, 0);
    }
    assert_int_equal(cfg->slos[0].tiers[0].long_s, 3600);
    assert_int_equal(cfg->slos[0].tiers[0].short_s, 300);
    assert_int_equal(cfg->slos[0].tiers[1].short_s, 1800);
    assert_int_equal(cfg->slos[0].tiers[2].short_s, 7200);
    assert_int_equal(cfg->slos[0].tiers[3].long_s, 3 * 86400);
    assert_int_equal(cfg->slos[0].tiers[3].short_s, 6 * 3600);
    assert_int_equal(cfg->slos[0].tiers[1].severity, SLT_SEVERITY_PAGE);
    assert_int_equal(cfg->slos[0].tiers[2].severity, SLT_SEVERITY_TICKET);
    assert_int_equal(cfg->slos[0].min_events, 100);
    assert_near(cfg->slos[0].policy_healthy, 70);
    assert_near(cfg->slos[0].policy_endangered, 30);
    assert_string_equal(cfg->slos[0].dedup_key, "m");
    slt_config_free(cfg);
}

static void test_a_90_percent_slo_has_an_unreachable_page_tier(void **state)
{
    struct slt_config *cfg = load_cfg("slos: [{name: s, sli: a, objective: 90, window: 30d}]\n");

    (void)state;
    /* 14.4x of a 10% budget is an error ratio of 144% */
    assert_int_equal(cfg->slos[0].tiers[0].unreachable, 1);
    assert_int_equal(slt_slo_unreachable(14.4, 90), 1);
    assert_int_equal(cfg->slos[0].tiers[1].unreachable, 0);
    assert_int_equal(slt_slo_unreachable(6, 90), 0);
    assert_int_equal(slt_slo_unreachable(10, 90), 0); /* exactly 100% errors reaches it */
    slt_config_free(cfg);
}

static void test_custom_tiers_are_loaded_sorted_and_checked(void **state)
{
    struct slt_config *cfg = load_cfg(
        "slos:\n"
        "  - name: s\n    sli: a\n    objective: 99\n    window: 30d\n"
        "    min_events: 5\n    dedup_key: shop\n"
        "    labels: {team: shop, runbook_url: 'https://r/x'}\n"
        "    policy: {healthy: 50, endangered: 25}\n"
        "    alerts:\n"
        "      - {name: slow, long: 12h, short: 1h, budget_percent: 20, severity: ticket}\n"
        "      - {name: fast, long: 30m, short: 2m, budget_percent: 1}\n");
    char err[512];

    (void)state;
    assert_int_equal(cfg->slos[0].ntiers, 2);
    assert_string_equal(cfg->slos[0].tiers[0].name, "fast");
    assert_int_equal(cfg->slos[0].tiers[0].severity, SLT_SEVERITY_PAGE);
    assert_near(cfg->slos[0].tiers[0].threshold, 0.01 * 30 * 48);
    assert_string_equal(cfg->slos[0].tiers[1].name, "slow");
    assert_int_equal(cfg->slos[0].min_events, 5);
    assert_string_equal(cfg->slos[0].dedup_key, "shop");
    assert_int_equal(cfg->slos[0].nlabels, 2);
    assert_string_equal(cfg->slos[0].labels[0].name, "runbook_url");
    assert_near(cfg->slos[0].policy_healthy, 50);
    assert_near(cfg->slos[0].policy_endangered, 25);
    slt_config_free(cfg);

    assert_int_equal(load_err("slos: [{name: s, sli: a, objective: 99, alerts: [{name: x, "
                              "long: 1h, short: 1h, budget_percent: 2}]}]\n",
                              err, sizeof(err)),
                     SLT_ECONFIG);
    assert_non_null(strstr(err, "'short' must be shorter than 'long'"));
    assert_int_equal(load_err("slos: [{name: s, sli: a, objective: 99, alerts: [{name: x, "
                              "long: 1h, short: 5m, budget_percent: 2}, {name: x, long: 2h, "
                              "short: 5m, budget_percent: 2}]}]\n",
                              err, sizeof(err)),
                     SLT_ECONFIG);
    assert_non_null(strstr(err, "duplicate tier name 'x'"));
    assert_int_equal(load_err("slos: [{name: s, sli: a, objective: 99, alerts: [{name: x, "
                              "long: 1h, short: 5m, budget_percent: 2, severity: loud}]}]\n",
                              err, sizeof(err)),
                     SLT_ECONFIG);
    assert_non_null(strstr(err, "'severity' must be one of page|ticket"));
    assert_int_equal(load_err("slos: [{name: s, sli: a, objective: 99, window: 7d, alerts: "
                              "[{name: x, long: 8d, short: 5m, budget_percent: 2}]}]\n",
                              err, sizeof(err)),
                     SLT_ECONFIG);
    assert_non_null(strstr(err, "'long' is longer than the SLO window"));
    assert_int_equal(
        load_err("slos: [{name: s, sli: a, objective: 99, labels: {slo: x}}]\n", err, sizeof(err)),
        SLT_ECONFIG);
    assert_non_null(strstr(err, "label 'slo' is set by slitail"));
    assert_int_equal(load_err("slos: [{name: s, sli: a, objective: 99, policy: {healthy: 20, "
                              "endangered: 40}}]\n",
                              err, sizeof(err)),
                     SLT_ECONFIG);
    assert_non_null(strstr(err, "is above 'healthy'"));
}

static void test_an_empty_alerts_list_means_no_tiers(void **state)
{
    struct slt_config *cfg = load_cfg("slos: [{name: s, sli: a, objective: 99, alerts: []}]\n");

    (void)state;
    assert_int_equal(cfg->slos[0].ntiers, 0);
    slt_config_free(cfg);
}

static void test_pagerduty_receiver_keys(void **state)
{
    struct slt_config *cfg = load_cfg("alerting:\n"
                                      "  pagerduty: {routing_key_file: /etc/slitail/pd}\n");
    char err[512];

    (void)state;
    assert_string_equal(cfg->alerting.pagerduty_routing_key_file, "/etc/slitail/pd");
    assert_string_equal(cfg->alerting.pagerduty_url, "https://events.pagerduty.com/v2/enqueue");
    slt_config_free(cfg);
    cfg = load_cfg("alerting:\n"
                   "  pagerduty: {routing_key_file: k, url: 'http://127.0.0.1:9/v2/enqueue'}\n");
    assert_string_equal(cfg->alerting.pagerduty_url, "http://127.0.0.1:9/v2/enqueue");
    slt_config_free(cfg);
    cfg = load_cfg("");
    assert_null(cfg->alerting.pagerduty_routing_key_file);
    assert_null(cfg->alerting.pagerduty_url);
    slt_config_free(cfg);
    assert_int_equal(load_err("alerting: {pagerduty: {url: 'http://x/'}}\n", err, sizeof(err)),
                     SLT_ECONFIG);
    assert_non_null(strstr(err, "missing key 'routing_key_file'"));
}

static void test_budget_status_follows_the_policy(void **state)
{
    (void)state;
    assert_string_equal(slt_budget_status_name(slt_slo_budget_status(1.0, 70, 30)), "healthy");
    assert_string_equal(slt_budget_status_name(slt_slo_budget_status(0.71, 70, 30)), "healthy");
    assert_string_equal(slt_budget_status_name(slt_slo_budget_status(0.70, 70, 30)), "depleting");
    assert_string_equal(slt_budget_status_name(slt_slo_budget_status(0.30, 70, 30)), "depleting");
    assert_string_equal(slt_budget_status_name(slt_slo_budget_status(0.29, 70, 30)), "endangered");
    assert_string_equal(slt_budget_status_name(slt_slo_budget_status(0.001, 70, 30)), "endangered");
    assert_string_equal(slt_budget_status_name(slt_slo_budget_status(0.0, 70, 30)), "exhausted");
    assert_string_equal(slt_budget_status_name(slt_slo_budget_status(-3.0, 70, 30)), "exhausted");
    /* a policy of its own */
    assert_string_equal(slt_budget_status_name(slt_slo_budget_status(0.6, 50, 25)), "healthy");
    assert_string_equal(slt_budget_status_name(slt_slo_budget_status(0.2, 50, 25)), "endangered");
}

/* Evaluates slo over flat sums: every window holds the same good/bad counts. */
static void eval_flat(const struct slt_slo *slo, int64_t good, int64_t bad, struct slt_slo_eval *e)
{
    struct slt_slo_plan p;
    struct slt_slo_sums s;
    size_t w;

    slt_slo_plan_init(&p, slo);
    memset(&s, 0, sizeof(s));
    s.win[0] = good;
    s.win[1] = bad;
    for (w = 0; w < p.nwin; w++) {
        s.burn[w][0] = good;
        s.burn[w][1] = bad;
    }
    slt_slo_evaluate_slo(slo, &p, &s, e);
}

static void test_tiers_fire_at_their_threshold_with_enough_events(void **state)
{
    struct slt_config *cfg = load_cfg("slos: [{name: s, sli: a, objective: 99, window: 30d}]\n");
    struct slt_slo_eval e;

    (void)state;
    /* 99%: 14.4x is 14.4% errors; every tier fires */
    eval_flat(&cfg->slos[0], 856, 144, &e);
    assert_int_equal(e.ntiers, 4);
    assert_int_equal(e.tier[0].firing, 1);
    assert_near(e.tier[0].long_burn, 14.4);
    assert_int_equal(e.tier[3].firing, 1);
    assert_string_equal(slt_budget_status_name(e.status), "exhausted");
    /* just under: only the slower tiers */
    eval_flat(&cfg->slos[0], 857, 143, &e);
    assert_int_equal(e.tier[0].firing, 0);
    assert_int_equal(e.tier[1].firing, 1);
    /* the same ratio over 99 events: under min_events (100), nothing fires */
    eval_flat(&cfg->slos[0], 85, 14, &e);
    assert_int_equal(e.tier[1].firing, 0);
    assert_int_equal(e.tier[3].firing, 0);
    /* exactly the budget's rate (1x) does not fire ticket-3d, whose threshold is 1 */
    eval_flat(&cfg->slos[0], 99000, 1000, &e);
    assert_near(e.tier[3].long_burn, 1.0);
    assert_int_equal(e.tier[3].firing, 0);
    eval_flat(&cfg->slos[0], 98990, 1010, &e);
    assert_int_equal(e.tier[3].firing, 1);
    assert_int_equal(e.tier[2].firing, 0);
    slt_config_free(cfg);
}

static void test_no_events_has_no_attainment_and_a_full_budget(void **state)
{
    struct slt_config *cfg = load_cfg("slos: [{name: s, sli: a, objective: 99.9}]\n");
    struct slt_slo_eval e;
    size_t k;

    (void)state;
    eval_flat(&cfg->slos[0], 0, 0, &e);
    assert_int_equal(e.has_data, 0);
    assert_near(e.budget_remaining, 1.0);
    assert_string_equal(slt_budget_status_name(e.status), "healthy");
    for (k = 0; k < e.ntiers; k++)
        assert_int_equal(e.tier[k].firing, 0);
    slt_config_free(cfg);
}

static void test_faster_tiers_inhibit_slower_notifications(void **state)
{
    struct slt_config *cfg = load_cfg("slos: [{name: s, sli: a, objective: 99, window: 30d}]\n");
    struct slt_slo_tier_state st[SLT_SLO_MAX_TIERS];
    struct slt_slo_notice nt[SLT_SLO_MAX_TIERS];
    struct slt_slo_eval e;
    size_t n;

    (void)state;
    memset(st, 0, sizeof(st));
    /* everything fires: only page-1h notifies */
    eval_flat(&cfg->slos[0], 500, 500, &e);
    n = slt_slo_tiers_update(&cfg->slos[0], &e, st, 100, nt);
    assert_int_equal(n, 1);
    assert_int_equal(nt[0].tier, 0);
    assert_int_equal(nt[0].firing, 1);
    assert_int_equal(st[3].firing, 1);
    assert_int_equal(st[3].notified, 0);
    /* page-1h stops, page-6h still fires: now it notifies; the tickets stay inhibited by it */
    e.tier[0].firing = 0;
    n = slt_slo_tiers_update(&cfg->slos[0], &e, st, 160, nt);
    assert_int_equal(n, 2);
    assert_int_equal(nt[0].tier, 0);
    assert_int_equal(nt[0].firing, 0);
    assert_int_equal(nt[0].opened, 100);
    assert_int_equal(nt[1].tier, 1);
    assert_int_equal(nt[1].firing, 1);
    assert_int_equal(st[1].since, 100);
    /* all clear: page-6h resolves, the inhibited tickets never notified */
    eval_flat(&cfg->slos[0], 1000, 0, &e);
    n = slt_slo_tiers_update(&cfg->slos[0], &e, st, 220, nt);
    assert_int_equal(n, 1);
    assert_int_equal(nt[0].tier, 1);
    assert_int_equal(nt[0].firing, 0);
    slt_config_free(cfg);
}

static void test_recommend_picks_the_highest_objective_within_the_share(void **state)
{
    struct slt_slo_recommendation r;

    (void)state;
    /* 0.05% errors: 99.9 spends 50% of its budget, 99.95 100%, so 99.9 at 75% */
    slt_slo_recommend(999500, 500, 0.75, &r);
    assert_near(r.attainment, 0.9995);
    assert_int_equal(r.pick, 5);
    assert_near(slt_slo_candidates[r.pick], 99.9);
    assert_near(r.spent[5], 0.5);
    assert_near(r.spent[6], 1.0);
    /* 0.05% / 0.75 = 0.0667%: the objective at which 75% would be spent */
    assert_near(r.exact, 100.0 * (1.0 - 0.0005 / 0.75));
    /* 20% errors meet none of them */
    slt_slo_recommend(80, 20, 0.75, &r);
    assert_int_equal(r.pick, -1);
    /* no events */
    slt_slo_recommend(0, 0, 0.75, &r);
    assert_near(r.attainment, -1.0);
    assert_int_equal(r.pick, -1);
}

static void test_burn_windows_past_minute_retention_start_on_hours(void **state)
{
    struct slt_config *cfg = load_cfg("slos: [{name: s, sli: a, objective: 99}]\n");
    struct slt_slo_plan p;
    struct slt_slo_ranges r;
    int64_t to = 1700000040;

    (void)state;
    slt_slo_plan_init(&p, &cfg->slos[0]);
    assert_int_equal(p.nwin, SLT_SLO_NBURN); /* the default tiers add no window */
    slt_slo_ranges(&p, &cfg->slos[0], to, 3600, 35 * 86400, &r);
    assert_int_equal(r.burn_from[SLT_SLO_BURN_1H], to - 3600);
    assert_int_equal(r.burn_from[SLT_SLO_BURN_6H], (to - 6 * 3600) / 3600 * 3600);
    assert_int_equal(r.burn_from[SLT_SLO_BURN_3D], (to - 3 * 86400) / 3600 * 3600);
    slt_config_free(cfg);
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
        cmocka_unit_test(test_default_tiers_are_the_workbook_four_with_window_thresholds),
        cmocka_unit_test(test_a_90_percent_slo_has_an_unreachable_page_tier),
        cmocka_unit_test(test_custom_tiers_are_loaded_sorted_and_checked),
        cmocka_unit_test(test_an_empty_alerts_list_means_no_tiers),
        cmocka_unit_test(test_pagerduty_receiver_keys),
        cmocka_unit_test(test_budget_status_follows_the_policy),
        cmocka_unit_test(test_tiers_fire_at_their_threshold_with_enough_events),
        cmocka_unit_test(test_no_events_has_no_attainment_and_a_full_budget),
        cmocka_unit_test(test_faster_tiers_inhibit_slower_notifications),
        cmocka_unit_test(test_recommend_picks_the_highest_objective_within_the_share),
        cmocka_unit_test(test_burn_windows_past_minute_retention_start_on_hours),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
