/*
 * SLO evaluation: attainment, error budget left, burn rates and the multiwindow burn-rate
 * alerts of the Google SRE workbook. Pure functions: sums in, evaluation out. The API
 * (/api/v1/slos, /metrics) and the alert module (alert.c) both read their numbers here.
 *
 * Calling sequence:
 *   to = slt_slo_now_end(now)                         end of every window (the open minute)
 *   from = slt_slo_window_start(to, window, ...)      start of the SLO window to read
 *   read [from, to) and [to - slt_slo_burn_windows[w], to) into a struct slt_slo_sums
 *   slt_slo_evaluate(objective, &sums, &eval)
 */
#ifndef SLT_SLO_H
#define SLT_SLO_H

#include <stdint.h>

/* Burn-rate windows (seconds) and their names: 5m, 30m, 1h, 6h. */
#define SLT_SLO_NBURN 4
#define SLT_SLO_BURN_5M 0
#define SLT_SLO_BURN_30M 1
#define SLT_SLO_BURN_1H 2
#define SLT_SLO_BURN_6H 3
extern const int64_t slt_slo_burn_windows[SLT_SLO_NBURN];
extern const char *const slt_slo_burn_window_names[SLT_SLO_NBURN];

/* Thresholds of the two alerts (SRE workbook, table 5-8). */
#define SLT_SLO_FAST_BURN 14.4 /* over 1h and 5m: 2% of a 30-day budget in an hour */
#define SLT_SLO_SLOW_BURN 6.0  /* over 6h and 30m: 5% of a 30-day budget in six hours */

/* Counts (good, bad, excluded) over the SLO window and over each burn window. */
struct slt_slo_sums {
    int64_t win[3];
    int64_t burn[SLT_SLO_NBURN][3];
};

struct slt_slo_eval {
    int64_t win[3];             /* counts over the SLO window */
    int has_data;               /* good + bad > 0 over the SLO window */
    double attainment;          /* good / (good + bad); 1 without events */
    double budget_remaining;    /* 1 - (1 - attainment) / (1 - objective); < 0 when spent */
    double burn[SLT_SLO_NBURN]; /* bad ratio / (1 - objective); 0 without events */
    int fast;                   /* burn[1h] >= 14.4 and burn[5m] >= 14.4 */
    int slow;                   /* burn[6h] >= 6 and burn[30m] >= 6 */
};

/*
 * Evaluates an SLO of objective percent (0 < objective < 100, as the config guarantees;
 * anything else gives zero burn and zero budget, never a division by zero) over sums.
 */
void slt_slo_evaluate(double objective, const struct slt_slo_sums *sums, struct slt_slo_eval *e);

/* The end of every window at wall time now_s: the end of the current (open) minute. */
int64_t slt_slo_now_end(int64_t now_s);

/*
 * The start of an SLO window of window_s seconds ending at to (rounded up to whole minutes).
 * A window longer than minute retention would lose the expired minutes at its start, so it
 * starts at the hour before instead (and, past hour retention, at the day before).
 */
int64_t slt_slo_window_start(int64_t to, int64_t window_s, int64_t minute_retention_s,
                             int64_t hour_retention_s);

#endif
