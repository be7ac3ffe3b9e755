/* SLO evaluation; see slo.h and docs/ALERTS.md. */
#include "slo.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "slt/common.h"

/* 1 - 0.999 is not exactly 0.001 in binary: rates within this of a threshold are at it. */
#define BURN_EPS 1e-9
/* Retention that never shortens a window (replay reads exact minutes). */
#define NO_RETENTION (INT64_MAX / 4)

const int64_t slt_slo_burn_windows[SLT_SLO_NBURN] = {300, 1800, 3600, 7200, 21600, 86400, 259200};
const char *const slt_slo_burn_window_names[SLT_SLO_NBURN] = {"5m", "30m", "1h", "2h",
                                                              "6h", "1d",  "3d"};
const double slt_slo_candidates[SLT_SLO_NCANDIDATES] = {90, 95, 98, 99, 99.5, 99.9, 99.95, 99.99};

static double budget_of(double objective)
{
    /* objective is checked by the config (0 < x < 100); stay finite whatever it holds */
    return objective > 0 && objective < 100 ? 1.0 - objective / 100.0 : 0.0;
}

static double burn_of(const int64_t c[3], double budget)
{
    int64_t n = c[0] + c[1];

    if (n <= 0 || budget <= 0)
        return 0.0;
    return (double)c[1] / (double)n / budget;
}

/* The part shared by both evaluations: window counts, attainment, budget, standard burns. */
static void eval_common(double objective, const struct slt_slo_sums *s, size_t nburn,
                        struct slt_slo_eval *e)
{
    double budget = budget_of(objective);
    int64_t n;
    size_t w;

    memset(e, 0, sizeof(*e));
    memcpy(e->win, s->win, sizeof(e->win));
    n = s->win[0] + s->win[1];
    e->has_data = n > 0;
    e->attainment = n > 0 ? (double)s->win[0] / (double)n : 1.0;
    e->budget_remaining = budget > 0 ? 1.0 - (1.0 - e->attainment) / budget : 0.0;
    e->nburn = nburn;
    for (w = 0; w < nburn; w++)
        e->burn[w] = burn_of(s->burn[w], budget);
    /*
     * The legacy pair (Google SRE workbook, "multiwindow, multi-burn-rate alerts"). A rate
     * exactly at the threshold fires.
     */
    e->fast = e->burn[SLT_SLO_BURN_1H] >= SLT_SLO_FAST_BURN - BURN_EPS &&
              e->burn[SLT_SLO_BURN_5M] >= SLT_SLO_FAST_BURN - BURN_EPS;
    e->slow = e->burn[SLT_SLO_BURN_6H] >= SLT_SLO_SLOW_BURN - BURN_EPS &&
              e->burn[SLT_SLO_BURN_30M] >= SLT_SLO_SLOW_BURN - BURN_EPS;
}

void slt_slo_evaluate(double objective, const struct slt_slo_sums *s, struct slt_slo_eval *e)
{
    eval_common(objective, s, SLT_SLO_NBURN, e);
    e->status = slt_slo_budget_status(e->budget_remaining, 70, 30);
}

void slt_slo_evaluate_slo(const struct slt_slo *slo, const struct slt_slo_plan *p,
                          const struct slt_slo_sums *s, struct slt_slo_eval *e)
{
    size_t k;

    eval_common(slo->objective, s, p->nwin, e);
    e->status =
        slt_slo_budget_status(e->budget_remaining, slo->policy_healthy, slo->policy_endangered);
    e->ntiers = p->ntiers;
    for (k = 0; k < p->ntiers; k++) {
        const struct slt_slo_tier *t = &slo->tiers[k];
        struct slt_slo_tier_eval *te = &e->tier[k];
        const int64_t *lc = s->burn[p->tier_long[k]];

        te->long_burn = e->burn[p->tier_long[k]];
        te->short_burn = e->burn[p->tier_short[k]];
        te->long_events = lc[0] + lc[1];
        /*
         * Both windows at or above the threshold. A tier also needs a burn above 1: spending
         * the budget exactly as fast as the objective allows ends the window on target, so a
         * tier whose threshold is 1 (ticket-3d of a 30-day SLO) stays quiet at exactly 1.
         */
        te->firing = !t->unreachable && te->long_burn >= t->threshold - BURN_EPS &&
                     te->short_burn >= t->threshold - BURN_EPS && te->long_burn > 1 + BURN_EPS &&
                     te->short_burn > 1 + BURN_EPS && (uint64_t)te->long_events >= slo->min_events;
    }
}

static size_t plan_add(struct slt_slo_plan *p, int64_t w)
{
    size_t i;

    for (i = 0; i < p->nwin; i++)
        if (p->win_s[i] == w)
            return i;
    p->win_s[p->nwin] = w;
    return p->nwin++;
}

void slt_slo_plan_init(struct slt_slo_plan *p, const struct slt_slo *slo)
{
    size_t k;

    memset(p, 0, sizeof(*p));
    for (k = 0; k < SLT_SLO_NBURN; k++)
        p->win_s[p->nwin++] = slt_slo_burn_windows[k];
    p->ntiers = slo->ntiers < SLT_SLO_MAX_TIERS ? slo->ntiers : SLT_SLO_MAX_TIERS;
    for (k = 0; k < p->ntiers; k++) {
        p->tier_long[k] = (uint8_t)plan_add(p, slo->tiers[k].long_s);
        p->tier_short[k] = (uint8_t)plan_add(p, slo->tiers[k].short_s);
    }
}

void slt_slo_ranges(const struct slt_slo_plan *p, const struct slt_slo *slo, int64_t to,
                    int64_t minute_retention_s, int64_t hour_retention_s, struct slt_slo_ranges *r)
{
    size_t i;

    memset(r, 0, sizeof(*r));
    r->to = to;
    r->win_from = slt_slo_window_start(to, slo->window_s, minute_retention_s, hour_retention_s);
    for (i = 0; i < p->nwin; i++)
        r->burn_from[i] =
            slt_slo_window_start(to, p->win_s[i], minute_retention_s, hour_retention_s);
}

int slt_slo_eval_fn(const struct slt_slo *slo, const struct slt_slo_plan *p, int64_t to,
                    int64_t minute_retention_s, int64_t hour_retention_s, slt_slo_sum_fn fn,
                    void *ctx, struct slt_slo_eval *e)
{
    struct slt_slo_ranges r;
    struct slt_slo_sums s;
    size_t i;
    int rc;

    memset(&s, 0, sizeof(s));
    slt_slo_ranges(p, slo, to, minute_retention_s, hour_retention_s, &r);
    if ((rc = fn(ctx, r.win_from, to, s.win)) < 0)
        return rc;
    for (i = 0; i < p->nwin; i++)
        if ((rc = fn(ctx, r.burn_from[i], to, s.burn[i])) < 0)
            return rc;
    slt_slo_evaluate_slo(slo, p, &s, e);
    return 0;
}

double slt_slo_threshold(double budget_percent, int64_t window_s, int64_t long_s)
{
    if (long_s <= 0)
        return 0;
    return budget_percent / 100.0 * (double)window_s / (double)long_s;
}

int slt_slo_unreachable(double threshold, double objective)
{
    return threshold * budget_of(objective) > 1.0 + 1e-12;
}

int slt_slo_budget_status(double r, double healthy_pct, double endangered_pct)
{
    double pct = r * 100.0;

    if (r <= 1e-12)
        return SLT_BUDGET_EXHAUSTED;
    if (pct < endangered_pct - BURN_EPS)
        return SLT_BUDGET_ENDANGERED;
    if (pct > healthy_pct + BURN_EPS)
        return SLT_BUDGET_HEALTHY;
    return SLT_BUDGET_DEPLETING;
}

const char *slt_budget_status_name(int status)
{
    static const char *const names[SLT_BUDGET_NSTATUS] = {"healthy", "depleting", "endangered",
                                                          "exhausted"};

    return status >= 0 && status < SLT_BUDGET_NSTATUS ? names[status] : "unknown";
}

const char *slt_severity_name(int severity)
{
    return severity == SLT_SEVERITY_TICKET ? "ticket" : "page";
}

void slt_slo_fmt_window(int64_t s, char *buf, size_t len)
{
    if (s > 0 && s % 86400 == 0)
        snprintf(buf, len, "%" PRId64 "d", s / 86400);
    else if (s > 0 && s % 3600 == 0)
        snprintf(buf, len, "%" PRId64 "h", s / 3600);
    else if (s > 0 && s % 60 == 0)
        snprintf(buf, len, "%" PRId64 "m", s / 60);
    else
        snprintf(buf, len, "%" PRId64 "s", s);
}

void slt_slo_tier_windows(const struct slt_slo_tier *t, char *buf, size_t len)
{
    char l[32], s[32];

    slt_slo_fmt_window(t->long_s, l, sizeof(l));
    slt_slo_fmt_window(t->short_s, s, sizeof(s));
    snprintf(buf, len, "%s/%s", l, s);
}

size_t slt_slo_tiers_update(const struct slt_slo *slo, const struct slt_slo_eval *e,
                            struct slt_slo_tier_state *st, int64_t now, struct slt_slo_notice *out)
{
    size_t n = e->ntiers < slo->ntiers ? e->ntiers : slo->ntiers, k, j, nout = 0;

    for (k = 0; k < n; k++) {
        int f = e->tier[k].firing;

        if (f && !st[k].firing)
            st[k].since = now;
        st[k].firing = f;
    }
    for (k = 0; k < n; k++) {
        int inhibited = 0;

        if (st[k].firing && !st[k].notified) {
            /* tiers are sorted by long window: the faster ones come first */
            for (j = 0; j < k && !inhibited; j++)
                inhibited = st[j].firing && slo->tiers[j].long_s < slo->tiers[k].long_s;
            if (inhibited)
                continue;
            st[k].notified = 1;
            st[k].opened = now;
            out[nout++] = (struct slt_slo_notice){k, 1, now, now};
        } else if (!st[k].firing && st[k].notified) {
            st[k].notified = 0;
            out[nout++] = (struct slt_slo_notice){k, 0, now, st[k].opened};
        }
    }
    return nout;
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

/* ---- replay -------------------------------------------------------------------------------- */

struct prefix {
    int64_t start; /* minute of p[0] */
    size_t n;      /* minutes; p has n + 1 rows */
    int64_t (*p)[3];
};

/* Counts over [from, to) from the prefix sums; minutes outside the series are empty. */
static int prefix_sum(void *ctx, int64_t from, int64_t to, int64_t out[3])
{
    const struct prefix *px = ctx;
    int64_t a = (from - px->start) / 60, b = (to - px->start) / 60;
    size_t i;

    if (a < 0)
        a = 0;
    if (b > (int64_t)px->n)
        b = (int64_t)px->n;
    if (b <= a)
        return 0;
    for (i = 0; i < 3; i++)
        out[i] += px->p[b][i] - px->p[a][i];
    return 0;
}

int slt_slo_replay(const struct slt_slo *slo, const struct slt_minutes *m, int64_t from, int64_t to,
                   size_t max, struct slt_slo_replay_alert **out, size_t *nout)
{
    struct slt_slo_tier_state st[SLT_SLO_MAX_TIERS];
    size_t open_idx[SLT_SLO_MAX_TIERS];
    struct slt_slo_replay_alert *al = NULL;
    struct slt_slo_plan plan;
    struct prefix px;
    size_t n = 0, cap = 0, i;
    int64_t t;
    int rc = 0;

    *out = NULL;
    *nout = 0;
    if (from < 0 || to < from || from % 60 || to % 60 || (m->n && m->start % 60))
        return SLT_EINVAL;
    px.start = m->start;
    px.n = m->n;
    px.p = slt_calloc(m->n + 1, sizeof(*px.p));
    if (!px.p)
        return SLT_ENOMEM;
    for (i = 0; i < m->n; i++) {
        px.p[i + 1][0] = px.p[i][0] + m->c[i][0];
        px.p[i + 1][1] = px.p[i][1] + m->c[i][1];
        px.p[i + 1][2] = px.p[i][2] + m->c[i][2];
    }
    memset(st, 0, sizeof(st));
    slt_slo_plan_init(&plan, slo);
    for (t = from + 60; t <= to && rc == 0; t += 60) {
        struct slt_slo_notice nt[SLT_SLO_MAX_TIERS];
        struct slt_slo_eval e;
        size_t k, nn;

        slt_slo_eval_fn(slo, &plan, t, NO_RETENTION, NO_RETENTION, prefix_sum, &px, &e);
        nn = slt_slo_tiers_update(slo, &e, st, t, nt);
        for (k = 0; k < nn; k++) {
            if (!nt[k].firing) {
                al[open_idx[nt[k].tier]].resolved = t;
                continue;
            }
            if (n == max) {
                rc = SLT_ELIMIT;
                break;
            }
            if (n == cap) {
                size_t c2 = cap ? cap * 2 : 16;
                struct slt_slo_replay_alert *a2 = slt_realloc(al, c2 * sizeof(*a2));

                if (!a2) {
                    rc = SLT_ENOMEM;
                    break;
                }
                al = a2;
                cap = c2;
            }
            al[n] = (struct slt_slo_replay_alert){nt[k].tier, t, 0};
            open_idx[nt[k].tier] = n++;
        }
    }
    slt_free(px.p);
    if (rc < 0 && rc != SLT_ELIMIT) {
        slt_free(al);
        return rc;
    }
    *out = al;
    *nout = n;
    return rc;
}

/* ---- recommend ----------------------------------------------------------------------------- */

void slt_slo_recommend(int64_t good, int64_t bad, double share, struct slt_slo_recommendation *r)
{
    int64_t n = good + bad;
    double err = n > 0 ? (double)bad / (double)n : 0.0;
    size_t i;

    memset(r, 0, sizeof(*r));
    r->good = good;
    r->bad = bad;
    r->share = share;
    r->attainment = n > 0 ? 1.0 - err : -1.0;
    r->pick = -1;
    /* bad is exactly share of the budget of an objective o when err = share * (1 - o) */
    r->exact = share > 0 ? 100.0 * (1.0 - err / share) : 0.0;
    for (i = 0; i < SLT_SLO_NCANDIDATES; i++) {
        double budget = 1.0 - slt_slo_candidates[i] / 100.0;

        r->spent[i] = err / budget;
        if (n > 0 && r->spent[i] <= share + BURN_EPS)
            r->pick = (int)i;
    }
}

/* ---- copies -------------------------------------------------------------------------------- */

void slt_slo_copy_free(struct slt_slo *s)
{
    size_t i;

    if (!s)
        return;
    slt_free(s->name);
    slt_free(s->sli);
    slt_free(s->dedup_key);
    for (i = 0; s->tiers && i < s->ntiers; i++)
        slt_free(s->tiers[i].name);
    slt_free(s->tiers);
    for (i = 0; s->labels && i < s->nlabels; i++) {
        slt_free(s->labels[i].name);
        slt_free(s->labels[i].value);
    }
    slt_free(s->labels);
    memset(s, 0, sizeof(*s));
}

int slt_slo_copy(struct slt_slo *dst, const struct slt_slo *src)
{
    size_t i;

    *dst = *src;
    dst->name = slt_strdup(src->name ? src->name : "");
    dst->sli = slt_strdup(src->sli ? src->sli : "");
    dst->dedup_key = slt_strdup(src->dedup_key ? src->dedup_key : dst->name ? dst->name : "");
    dst->tiers = NULL;
    dst->labels = NULL;
    dst->ntiers = dst->nlabels = 0;
    if (!dst->name || !dst->sli || !dst->dedup_key)
        goto nomem;
    if (src->ntiers) {
        dst->tiers = slt_calloc(src->ntiers, sizeof(*dst->tiers));
        if (!dst->tiers)
            goto nomem;
        for (i = 0; i < src->ntiers; i++, dst->ntiers++) {
            dst->tiers[i] = src->tiers[i];
            dst->tiers[i].name = slt_strdup(src->tiers[i].name ? src->tiers[i].name : "");
            if (!dst->tiers[i].name)
                goto nomem;
        }
    }
    if (src->nlabels) {
        dst->labels = slt_calloc(src->nlabels, sizeof(*dst->labels));
        if (!dst->labels)
            goto nomem;
        for (i = 0; i < src->nlabels; i++, dst->nlabels++) {
            dst->labels[i].name = slt_strdup(src->labels[i].name);
            dst->labels[i].value = slt_strdup(src->labels[i].value);
            if (!dst->labels[i].name || !dst->labels[i].value) {
                dst->nlabels++;
                goto nomem;
            }
        }
    }
    if (dst->window_s <= 0)
        dst->window_s = 28 * 86400;
    return 0;
nomem:
    slt_slo_copy_free(dst);
    return SLT_ENOMEM;
}
