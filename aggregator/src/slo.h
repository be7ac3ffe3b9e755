/*
 * SLO evaluation: attainment, error budget left and its policy status, burn rates and the
 * multiwindow, multi-burn-rate alert tiers of the Google SRE workbook. Pure functions: sums
 * in, evaluation out. The API (/api/v1/slos, /metrics), the alert module (alert.c) and the
 * CLI (replay, recommend, gate) all read their numbers here. docs/ALERTS.md is the reference.
 *
 * Calling sequence:
 *   slt_slo_plan_init(&plan, slo)                    which burn windows the SLO needs
 *   to = slt_slo_now_end(now)                        end of every window (the open minute)
 *   slt_slo_ranges(&plan, slo, to, retention, &r)    where each window starts
 *   read [r.win_from, to) and [r.burn_from[i], to) into a struct slt_slo_sums
 *   slt_slo_evaluate_slo(slo, &plan, &sums, &eval)   or slt_slo_eval_fn() with a sum callback
 *   slt_slo_tiers_update(slo, &eval, states, now, notices)   firing, inhibition, notifications
 */
#ifndef SLT_SLO_H
#define SLT_SLO_H

#include <stddef.h>
#include <stdint.h>

#include "slt/config.h"

/* The burn windows every SLO reports (seconds) and their names: 5m 30m 1h 2h 6h 1d 3d. */
#define SLT_SLO_NBURN 7
#define SLT_SLO_BURN_5M 0
#define SLT_SLO_BURN_30M 1
#define SLT_SLO_BURN_1H 2
#define SLT_SLO_BURN_2H 3
#define SLT_SLO_BURN_6H 4
#define SLT_SLO_BURN_1D 5
#define SLT_SLO_BURN_3D 6
extern const int64_t slt_slo_burn_windows[SLT_SLO_NBURN];
extern const char *const slt_slo_burn_window_names[SLT_SLO_NBURN];

/* The standard windows plus the long and short window of every tier, at most. */
#define SLT_SLO_MAX_WINDOWS (SLT_SLO_NBURN + 2 * SLT_SLO_MAX_TIERS)

/* Thresholds of the legacy fast/slow pair (workbook table 5-8, 30-day budget). */
#define SLT_SLO_FAST_BURN 14.4 /* over 1h and 5m: 2% of a 30-day budget in an hour */
#define SLT_SLO_SLOW_BURN 6.0  /* over 6h and 30m: 5% of a 30-day budget in six hours */

/* The candidate objectives of `slitail recommend`, percent, ascending. */
#define SLT_SLO_NCANDIDATES 8
extern const double slt_slo_candidates[SLT_SLO_NCANDIDATES];

/* The burn windows of one SLO: the standard ones first, then any other window of a tier. */
struct slt_slo_plan {
    size_t nwin;
    int64_t win_s[SLT_SLO_MAX_WINDOWS];
    size_t ntiers;
    uint8_t tier_long[SLT_SLO_MAX_TIERS];  /* index into win_s */
    uint8_t tier_short[SLT_SLO_MAX_TIERS]; /* index into win_s */
};

/* Where each window of a plan starts, for windows ending at to. */
struct slt_slo_ranges {
    int64_t to;
    int64_t win_from;
    int64_t burn_from[SLT_SLO_MAX_WINDOWS];
};

/* Counts (good, bad, excluded) over the SLO window and over each window of the plan. */
struct slt_slo_sums {
    int64_t win[3];
    int64_t burn[SLT_SLO_MAX_WINDOWS][3];
};

/* The budget policy (docs/ALERTS.md): by the share of the error budget left. */
enum slt_budget_status {
    SLT_BUDGET_HEALTHY = 0,    /* more than policy.healthy (70%) left */
    SLT_BUDGET_DEPLETING = 1,  /* between the two */
    SLT_BUDGET_ENDANGERED = 2, /* less than policy.endangered (30%) left */
    SLT_BUDGET_EXHAUSTED = 3,  /* 0 or less left */
};
#define SLT_BUDGET_NSTATUS 4

struct slt_slo_tier_eval {
    double long_burn, short_burn;
    int64_t long_events; /* good + bad in the long window */
    int firing;          /* both burn at or above the threshold (and above 1), enough events */
};

struct slt_slo_eval {
    int64_t win[3];                   /* counts over the SLO window */
    int has_data;                     /* good + bad > 0 over the SLO window */
    double attainment;                /* good / (good + bad); 1 without events (show it as null) */
    double budget_remaining;          /* 1 - (1 - attainment) / (1 - objective); < 0 when spent */
    int status;                       /* enum slt_budget_status */
    size_t nburn;                     /* windows of the plan (SLT_SLO_NBURN for slt_slo_evaluate) */
    double burn[SLT_SLO_MAX_WINDOWS]; /* bad ratio / (1 - objective); 0 without events */
    int fast;                         /* legacy: burn[1h] >= 14.4 and burn[5m] >= 14.4 */
    int slow;                         /* legacy: burn[6h] >= 6 and burn[30m] >= 6 */
    size_t ntiers;
    struct slt_slo_tier_eval tier[SLT_SLO_MAX_TIERS];
};

/*
 * Evaluates an SLO of objective percent (0 < objective < 100, as the config guarantees;
 * anything else gives zero burn and zero budget, never a division by zero) over sums, with
 * the standard windows only and the default policy (no tiers: e->ntiers is 0).
 */
void slt_slo_evaluate(double objective, const struct slt_slo_sums *sums, struct slt_slo_eval *e);

/* Everything of slo over sums laid out by plan: burn rates, policy status and every tier. */
void slt_slo_evaluate_slo(const struct slt_slo *slo, const struct slt_slo_plan *plan,
                          const struct slt_slo_sums *sums, struct slt_slo_eval *e);

/* The windows slo needs (the standard seven, then its tiers' other windows). */
void slt_slo_plan_init(struct slt_slo_plan *p, const struct slt_slo *slo);

/*
 * Where the SLO window and every window of p start when they end at to; windows longer than
 * minute (hour) retention start at the hour (day) before, see slt_slo_window_start().
 */
void slt_slo_ranges(const struct slt_slo_plan *p, const struct slt_slo *slo, int64_t to,
                    int64_t minute_retention_s, int64_t hour_retention_s, struct slt_slo_ranges *r);

/*
 * A source of counts: adds good, bad and excluded over [from, to) into out. Returns 0 or a
 * negative error, which slt_slo_eval_fn() passes on.
 */
typedef int (*slt_slo_sum_fn)(void *ctx, int64_t from, int64_t to, int64_t out[3]);

/* slt_slo_ranges() + reading every window through fn + slt_slo_evaluate_slo(). */
int slt_slo_eval_fn(const struct slt_slo *slo, const struct slt_slo_plan *plan, int64_t to,
                    int64_t minute_retention_s, int64_t hour_retention_s, slt_slo_sum_fn fn,
                    void *ctx, struct slt_slo_eval *e);

/* The burn rate at which a tier fires: budget_percent/100 * window / long (Sloth's). */
double slt_slo_threshold(double budget_percent, int64_t window_s, int64_t long_s);
/* 1 when a tier of threshold can never fire for objective: threshold * (1 - objective) > 1. */
int slt_slo_unreachable(double threshold, double objective);

/*
 * The policy status of budget_remaining (a ratio, 1 untouched) with thresholds in percent of
 * budget left: healthy above healthy_pct, endangered below endangered_pct, exhausted at or
 * under 0, depleting between.
 */
int slt_slo_budget_status(double budget_remaining, double healthy_pct, double endangered_pct);
/* "healthy", "depleting", "endangered", "exhausted". */
const char *slt_budget_status_name(int status);
const char *slt_severity_name(int severity);

/* "1h/5m": the windows of a tier as replay and the API print them. */
void slt_slo_tier_windows(const struct slt_slo_tier *t, char *buf, size_t len);
/* "5m", "6h", "28d", "90s": a duration as the largest unit that divides it. */
void slt_slo_fmt_window(int64_t s, char *buf, size_t len);

/*
 * Alert state of a tier across evaluations. A tier *fires* while its evaluation says so; its
 * *notification* opens when it starts firing while no faster tier (shorter long window) of the
 * same SLO fires, or when those stop while it still fires, and closes when it stops firing.
 */
struct slt_slo_tier_state {
    int firing;
    int64_t since;  /* when it started firing */
    int notified;   /* a notification is open */
    int64_t opened; /* when that notification opened */
};

struct slt_slo_notice {
    size_t tier;
    int firing;     /* 1: opened ("fired"), 0: closed ("resolved") */
    int64_t at;     /* now */
    int64_t opened; /* when the notification opened (== at when firing) */
};

/*
 * Applies e (evaluated at now) to st[0 .. slo->ntiers). Writes the notifications that open or
 * close to out (room for slo->ntiers) and returns how many.
 */
size_t slt_slo_tiers_update(const struct slt_slo *slo, const struct slt_slo_eval *e,
                            struct slt_slo_tier_state *st, int64_t now, struct slt_slo_notice *out);

/* The end of every window at wall time now_s: the end of the current (open) minute. */
int64_t slt_slo_now_end(int64_t now_s);

/*
 * The start of a window of window_s seconds ending at to (rounded up to whole minutes). A
 * window longer than minute retention would lose the expired minutes at its start, so it
 * starts at the hour before instead (and, past hour retention, at the day before).
 */
int64_t slt_slo_window_start(int64_t to, int64_t window_s, int64_t minute_retention_s,
                             int64_t hour_retention_s);

/*
 * Per-minute counts: c[i] holds good, bad and excluded of the minute start + 60 * i. The CLI
 * builds them from log files or from the aggregator's /counts, and replay reads them.
 */
struct slt_minutes {
    int64_t start; /* a multiple of 60 */
    size_t n;
    int64_t (*c)[3];
};

/* One notification that replay found. */
struct slt_slo_replay_alert {
    size_t tier;
    int64_t fired;
    int64_t resolved; /* 0: still open at the end */
};

/*
 * Evaluates the tiers of slo at the end of every minute T in (from, to] (multiples of 60),
 * every window ending at T and read from m exactly (minutes outside m count as empty), and
 * lists every notification that opened, in order, into a new array *out (slt_free) of *nout.
 * At most max notifications (SLT_ELIMIT past that). Returns 0, SLT_EINVAL for a bad range,
 * SLT_ENOMEM.
 */
#define SLT_SLO_REPLAY_MAX 100000
int slt_slo_replay(const struct slt_slo *slo, const struct slt_minutes *m, int64_t from, int64_t to,
                   size_t max, struct slt_slo_replay_alert **out, size_t *nout);

/*
 * A deep copy of src into dst (names, tiers, labels), for a module that outlives a reload.
 * Returns 0 or SLT_ENOMEM (dst then holds nothing). Free with slt_slo_copy_free().
 */
int slt_slo_copy(struct slt_slo *dst, const struct slt_slo *src);
void slt_slo_copy_free(struct slt_slo *s);

/* The 28-day method of `slitail recommend` (docs/CLI.md). */
struct slt_slo_recommendation {
    int64_t good, bad;
    double attainment; /* -1 without events */
    double share;      /* of the budget one may spend, e.g. 0.75 */
    double exact;      /* the objective (percent) at which bad is exactly share of the budget */
    int pick;          /* index into slt_slo_candidates, -1 when none is met */
    double spent[SLT_SLO_NCANDIDATES]; /* share of each candidate's budget the period spent */
};
void slt_slo_recommend(int64_t good, int64_t bad, double share, struct slt_slo_recommendation *r);

#endif
