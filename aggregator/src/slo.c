/* SLO evaluation; see slo.h. */
#include "slo.h"

#include <string.h>

#define BURN_EPS 1e-9

const int64_t slt_slo_burn_windows[SLT_SLO_NBURN] = {300, 1800, 3600, 21600};
const char *const slt_slo_burn_window_names[SLT_SLO_NBURN] = {"5m", "30m", "1h", "6h"};

void slt_slo_evaluate(double objective, const struct slt_slo_sums *s, struct slt_slo_eval *e)
{
    /* objective is checked by the config (0 < x < 100); stay finite whatever it holds */
    double budget = objective > 0 && objective < 100 ? 1.0 - objective / 100.0 : 0.0;
    int64_t n;
    size_t w;

    memset(e, 0, sizeof(*e));
    memcpy(e->win, s->win, sizeof(e->win));
    n = s->win[0] + s->win[1];
    e->has_data = n > 0;
    e->attainment = n > 0 ? (double)s->win[0] / (double)n : 1.0;
    for (w = 0; w < SLT_SLO_NBURN; w++) {
        int64_t bn = s->burn[w][0] + s->burn[w][1];
        double bad_ratio = bn > 0 ? (double)s->burn[w][1] / (double)bn : 0.0;

        e->burn[w] = budget > 0 ? bad_ratio / budget : 0.0;
    }
    e->budget_remaining = budget > 0 ? 1.0 - (1.0 - e->attainment) / budget : 0.0;
    /*
     * Google SRE workbook, "multiwindow, multi-burn-rate alerts". A rate exactly at the
     * threshold fires: 1 - 0.99 is not exactly 0.01 in binary, hence the tolerance.
     */
    e->fast = e->burn[SLT_SLO_BURN_1H] >= SLT_SLO_FAST_BURN - BURN_EPS &&
              e->burn[SLT_SLO_BURN_5M] >= SLT_SLO_FAST_BURN - BURN_EPS;
    e->slow = e->burn[SLT_SLO_BURN_6H] >= SLT_SLO_SLOW_BURN - BURN_EPS &&
              e->burn[SLT_SLO_BURN_30M] >= SLT_SLO_SLOW_BURN - BURN_EPS;
}

int64_t slt_slo_now_end(int64_t now_s)
{
    return (now_s / 60 + 1) * 60;
}

int64_t slt_slo_window_start(int64_t to, int64_t window_s, int64_t minute_retention_s,
                             int64_t hour_retention_s)
{
    int64_t win = (window_s + 59) / 60 * 60;
    int64_t from = to - win > 0 ? to - win : 0;

    if (win > hour_retention_s)
        from = from / 86400 * 86400;
    else if (win > minute_retention_s)
        from = from / 3600 * 3600;
    return from;
}
