/*
 * /api/v1/slos, /api/v1/slos/{name} (attainment, error budget, policy, burn rates and alert
 * tiers) and /api/v1/slos/{name}/series; /metrics reads the SLOs through the same steps.
 * docs/API.md is the reference.
 */
#include <jansson.h>
#include <string.h>

#include "api_internal.h"
#include "slo.h"
#include "slt/config.h"
#include "store.h"
#include "window.h"

static int64_t retention_s(const struct slt_api *api, enum slt_gran g)
{
    static const int64_t defaults[] = {2 * 86400, 35 * 86400, 400 * 86400};
    int64_t v = 0;

    if (api->cfg) {
        if (g == SLT_GRAN_MINUTE)
            v = api->cfg->aggregator.minute_retention_s;
        else if (g == SLT_GRAN_HOUR)
            v = api->cfg->aggregator.hour_retention_s;
        else
            v = api->cfg->aggregator.day_retention_s;
    }
    return v > 0 ? v : defaults[g];
}

static int config_has_slo(const struct slt_config *cfg, const char *name)
{
    size_t i;

    for (i = 0; cfg && i < cfg->nslos; i++)
        if (cfg->slos[i].name && strcmp(cfg->slos[i].name, name) == 0)
            return 1;
    return 0;
}

/* ---- SLOs: attainment, error budget, policy, burn rates and alert tiers -------------------- */

int slt__query_copy_slos(struct query *q, const char *only, size_t base, size_t *nsums)
{
    const struct slt_config *cfg = q->api->cfg;
    int64_t to = slt_slo_now_end(slt__api_now_s());
    size_t i, n = base;

    *nsums = 0;
    q->slo_now = to;
    if (!cfg || cfg->nslos == 0)
        return only ? SLT_ENOTFOUND : 0;
    q->slos = slt_calloc(cfg->nslos, sizeof(*q->slos));
    if (!q->slos)
        return SLT_ENOMEM;
    for (i = 0; i < cfg->nslos; i++) {
        struct slo_copy *c = &q->slos[q->nslos];
        long nb;

        if (only && strcmp(cfg->slos[i].name, only) != 0)
            continue;
        if (slt_slo_copy(&c->slo, &cfg->slos[i]) < 0)
            return SLT_ENOMEM;
        q->nslos++;
        slt_slo_plan_init(&c->plan, &c->slo);
        slt_slo_ranges(&c->plan, &c->slo, to, retention_s(q->api, SLT_GRAN_MINUTE),
                       retention_s(q->api, SLT_GRAN_HOUR), &c->rg);
        nb = slt_window_count(c->rg.win_from, to);
        if (nb < 0)
            return (int)nb;
        c->wb = slt_calloc(nb ? (size_t)nb : 1, sizeof(*c->wb));
        if (!c->wb)
            return SLT_ENOMEM;
        nb = slt_window_decompose(c->rg.win_from, to, c->wb, (size_t)nb);
        if (nb < 0)
            return (int)nb;
        c->nwb = (size_t)nb;
        c->base = n;
        n += c->nwb + c->plan.nwin;
    }
    if (only && q->nslos == 0)
        return SLT_ENOTFOUND;
    *nsums = n - base;
    return 0;
}

int slt__query_queue_slos(struct query *q)
{
    size_t i, k;
    int rc = 0;

    for (i = 0; rc == 0 && i < q->nslos; i++) {
        struct slo_copy *c = &q->slos[i];

        for (k = 0; rc == 0 && k < c->nwb; k++)
            rc = slt__query_range(q, c->slo.sli, c->wb[k].start,
                                  c->wb[k].start + slt_gran_width(c->wb[k].gran),
                                  (uint32_t)(c->base + k), &c->partial);
        for (k = 0; rc == 0 && k < c->plan.nwin; k++)
            rc = slt__query_range(q, c->slo.sli, c->rg.burn_from[k], c->rg.to,
                                  (uint32_t)(c->base + c->nwb + k), &c->partial);
    }
    return rc;
}

void slt__query_slo_evaluate(const struct query *q, size_t i, struct slt_slo_eval *e,
                             int64_t *first)
{
    const struct slo_copy *c = &q->slos[i];
    const int64_t(*s)[3] = (const int64_t(*)[3])q->sums + c->base;
    struct slt_slo_sums sums;
    size_t k;

    memset(&sums, 0, sizeof(sums));
    *first = 0;
    for (k = 0; k < c->nwb; k++) {
        sums.win[0] += s[k][0];
        sums.win[1] += s[k][1];
        sums.win[2] += s[k][2];
        if (!*first && s[k][0] + s[k][1] + s[k][2] > 0)
            *first = c->wb[k].start;
    }
    for (k = 0; k < c->plan.nwin; k++)
        memcpy(sums.burn[k], s[c->nwb + k], sizeof(sums.burn[k]));
    slt_slo_evaluate_slo(&c->slo, &c->plan, &sums, e);
}

static json_t *slo_json(const struct query *q, size_t i)
{
    const struct slo_copy *c = &q->slos[i];
    const struct slt_slo *slo = &c->slo;
    struct slt_slo_eval e;
    json_t *o, *burn, *alerts, *cov;
    int64_t first, to = c->rg.to, from = c->rg.win_from;
    double fraction;
    size_t k;

    slt__query_slo_evaluate(q, i, &e, &first);
    o = slt__api_counts_json(e.win);
    burn = json_object();
    alerts = json_array();
    cov = json_object();
    if (!o || !burn || !alerts || !cov) {
        json_decref(o);
        json_decref(burn);
        json_decref(alerts);
        json_decref(cov);
        return NULL;
    }
    /* the share of the window from the first bucket with data to its end */
    fraction = first && to > from
                   ? (double)(to - (first > from ? first : from)) / (double)(to - from)
                   : 0.0;
    json_object_set_new(o, "name", json_string_nocheck(slo->name));
    json_object_set_new(o, "sli", json_string_nocheck(slo->sli));
    json_object_set_new(o, "objective", json_real(slo->objective));
    json_object_set_new(o, "window_seconds", json_integer(slo->window_s));
    json_object_set_new(o, "from", json_integer(from));
    json_object_set_new(o, "to", json_integer(to));
    if (e.has_data) {
        json_object_set_new(o, "attainment", json_real(e.attainment));
    } else {
        json_object_set_new(o, "attainment", json_null());
        json_object_set_new(o, "attainment_reason",
                            json_string("no good or bad events in the SLO window"));
    }
    json_object_set_new(o, "error_budget_remaining", json_real(e.budget_remaining));
    json_object_set_new(o, "budget_status", json_string(slt_budget_status_name(e.status)));
    json_object_set_new(o, "policy",
                        json_pack("{s:f, s:f}", "healthy", slo->policy_healthy, "endangered",
                                  slo->policy_endangered));
    /* partial: the data starts more than 1% of the window after its start (a quiet first
     * minute of a low-traffic SLI is not a gap), or a bucket was past its retention */
    json_object_set_new(o, "partial", json_boolean(c->partial || fraction < 0.99));
    json_object_set_new(cov, "fraction", json_real(fraction));
    json_object_set_new(cov, "first", first ? json_integer(first) : json_null());
    json_object_set_new(o, "coverage", cov);
    for (k = 0; k < SLT_SLO_NBURN; k++)
        json_object_set_new(burn, slt_slo_burn_window_names[k], json_real(e.burn[k]));
    json_object_set_new(o, "burn_rates", burn);
    for (k = 0; k < e.ntiers; k++) {
        const struct slt_slo_tier *t = &slo->tiers[k];
        char win[64];
        int64_t since = 0;
        int firing = e.tier[k].firing;

        slt_slo_tier_windows(t, win, sizeof(win));
        if (q->api->alert_state)
            q->api->alert_state(q->api->alert_data, slo->name, t->name, &firing, &since);
        json_array_append_new(
            alerts, json_pack("{s:s, s:s, s:b, s:o, s:s, s:f, s:f, s:f, s:I, s:b}", "name", t->name,
                              "severity", slt_severity_name(t->severity), "firing", firing, "since",
                              firing && since ? json_integer(since) : json_null(), "windows", win,
                              "threshold", t->threshold, "long_burn", e.tier[k].long_burn,
                              "short_burn", e.tier[k].short_burn, "long_events",
                              (json_int_t)e.tier[k].long_events, "reachable", !t->unreachable));
    }
    json_object_set_new(o, "alerts", alerts);
    json_object_set_new(o, "min_events", json_integer((json_int_t)slo->min_events));
    json_object_set_new(o, "dedup_key", json_string_nocheck(slo->dedup_key));
    return o;
}

static void slos_done(struct query *q)
{
    json_t *j = json_object(), *arr = json_array();
    size_t i;

    if (!j || !arr) {
        json_decref(j);
        json_decref(arr);
        slt__query_answer_error(q, 500, "out of memory");
        return;
    }
    for (i = 0; i < q->nslos; i++)
        json_array_append_new(arr, slo_json(q, i));
    json_object_set_new(j, "to", json_integer(q->slo_now));
    json_object_set_new(j, "slos", arr);
    slt__query_answer_json(q, 200, j);
}

static void slo_done(struct query *q)
{
    json_t *o = slo_json(q, 0);

    if (!o)
        slt__query_answer_error(q, 500, "out of memory");
    else
        slt__query_answer_json(q, 200, o);
}

/* /api/v1/slos, or /api/v1/slos/{name} when name is not NULL. */
void slt__api_handle_slos(struct slt_api *api, struct slt_http_req *req, const char *name)
{
    struct query *q;
    size_t n = 0;
    int rc;

    if (name && !config_has_slo(api->cfg, name)) {
        slt__api_respond_error(req, 404, "unknown SLO");
        return;
    }
    q = slt__query_new(api, req, name ? SLT_ROUTE_SLO : SLT_ROUTE_SLOS);
    if (!q)
        return;
    q->on_done = name ? slo_done : slos_done;
    /* the SLOs of the config decide what is read (about 750 buckets a 28-day SLO), not the
     * client: the bound of alerting, not of /counts */
    slt_store_req_limit(&q->rq, SLT_API_MAX_SLO_KEYS);
    rc = slt__query_copy_slos(q, name, 0, &n);
    if (rc == 0)
        rc = slt__query_alloc_sums(q, n);
    if (rc == 0)
        rc = slt__query_queue_slos(q);
    if (rc == SLT_ENOTFOUND)
        slt__query_answer_error(q, 404, "unknown SLO");
    else if (rc == SLT_ELIMIT)
        slt__query_answer_error(q, 400,
                                "the SLO windows need more buckets than one request may read");
    else if (rc < 0)
        slt__query_answer_error(q, rc == SLT_EREDIS ? 503 : 500, slt_strerror(rc));
    slt__query_go(q);
}

/* ---- /api/v1/slos/{name}/series ------------------------------------------------------------ */

/*
 * Points [from + i*step, ...) for i >= 0 are the answer; q->range.npoints more before them
 * (q->slo_lead) make the rolling window of the first point.
 */
static void series_done(struct query *q)
{
    const struct slo_copy *c = &q->slos[0];
    double budget = 1.0 - c->slo.objective / 100.0;
    size_t lead = q->slo_lead, n = q->range.npoints, i;
    int64_t roll[2] = {0, 0};
    json_t *j = json_object(), *arr = json_array();

    if (!j || !arr) {
        json_decref(j);
        json_decref(arr);
        slt__query_answer_error(q, 500, "out of memory");
        return;
    }
    for (i = 0; i < lead + n; i++) {
        const int64_t *p = q->sums[i];
        int64_t f, t;
        json_t *o;

        roll[0] += p[0];
        roll[1] += p[1];
        if (i >= q->slo_window_points) {
            roll[0] -= q->sums[i - q->slo_window_points][0];
            roll[1] -= q->sums[i - q->slo_window_points][1];
        }
        if (i < lead)
            continue;
        f = q->range.from + (int64_t)(i - lead) * q->range.step;
        t = f + q->range.step < q->range.to ? f + q->range.step : q->range.to;
        o = slt__api_counts_json(p);
        if (!o)
            continue;
        json_object_set_new(o, "from", json_integer(f));
        json_object_set_new(o, "to", json_integer(t));
        json_object_set_new(o, "sli", json_incref(json_object_get(o, "ratio")));
        json_object_set_new(o, "burn_rate",
                            p[0] + p[1] > 0
                                ? json_real((double)p[1] / (double)(p[0] + p[1]) / budget)
                                : json_null());
        if (roll[0] + roll[1] > 0) {
            double att = (double)roll[0] / (double)(roll[0] + roll[1]);

            json_object_set_new(o, "attainment", json_real(att));
            json_object_set_new(o, "error_budget_remaining", json_real(1.0 - (1.0 - att) / budget));
        } else {
            json_object_set_new(o, "attainment", json_null());
            json_object_set_new(o, "error_budget_remaining", json_real(1.0));
        }
        json_array_append_new(arr, o);
    }
    json_object_set_new(j, "slo", json_string_nocheck(c->slo.name));
    json_object_set_new(j, "sli", json_string_nocheck(c->slo.sli));
    json_object_set_new(j, "objective", json_real(c->slo.objective));
    json_object_set_new(j, "window_seconds", json_integer(c->slo.window_s));
    json_object_set_new(j, "from", json_integer(q->range.from));
    json_object_set_new(j, "to", json_integer(q->range.to));
    json_object_set_new(j, "step", json_integer(q->range.step));
    json_object_set_new(j, "rolling_points", json_integer((json_int_t)q->slo_window_points));
    json_object_set_new(j, "partial", json_boolean(q->partial));
    json_object_set_new(j, "series", arr);
    slt__query_answer_json(q, 200, j);
}

void slt__api_handle_slo_series(struct slt_api *api, struct slt_http_req *req, const char *name)
{
    struct slt_api_range range;
    struct query *q;
    char err[200], v[32];
    size_t i, lead, nkeys = 0, n = 0;
    int64_t win = 0;
    int rc;

    if (!config_has_slo(api->cfg, name)) {
        slt__api_respond_error(req, 404, "unknown SLO");
        return;
    }
    if (slt_http_query_get(req->query, "step", v, sizeof(v)) == 0) {
        slt__api_respond_error(req, 400, "missing 'step' (seconds, a multiple of 60)");
        return;
    }
    if (slt_api_parse_range(req->query, &range, err, sizeof(err)) < 0) {
        slt__api_respond_error(req, 400, err);
        return;
    }
    for (i = 0; i < api->cfg->nslos; i++)
        if (!strcmp(api->cfg->slos[i].name, name))
            win = api->cfg->slos[i].window_s;
    /* the rolling window is the last window/step points (rounded up) */
    lead = (size_t)((win + range.step - 1) / range.step);
    if ((int64_t)lead > range.from / range.step)
        lead = (size_t)(range.from / range.step);
    if (lead + range.npoints > SLT_API_MAX_POINTS * 2) {
        slt__api_respond_error(req, 400,
                               "window / step and the range need too many points: use a "
                               "larger 'step'");
        return;
    }
    for (i = 0; i < lead + range.npoints && nkeys <= SLT_API_MAX_KEYS; i++) {
        int64_t f = range.from - (int64_t)lead * range.step + (int64_t)i * range.step;
        int64_t t = f + range.step < range.to ? f + range.step : range.to;

        nkeys += (size_t)slt_window_count(f, t);
    }
    if (nkeys > SLT_API_MAX_KEYS) {
        snprintf(err, sizeof(err),
                 "the range, step and SLO window need more than %d buckets: use a step that is "
                 "a multiple of 3600 or 86400",
                 SLT_API_MAX_KEYS);
        slt__api_respond_error(req, 400, err);
        return;
    }
    q = slt__query_new(api, req, SLT_ROUTE_SLO_SERIES);
    if (!q)
        return;
    q->range = range;
    q->on_done = series_done;
    q->slo_lead = lead;
    q->slo_window_points = (size_t)((win + range.step - 1) / range.step);
    rc = slt__query_copy_slos(q, name, 0, &n);
    if (rc == 0)
        rc = slt__query_alloc_sums(q, lead + range.npoints);
    for (i = 0; rc == 0 && i < lead + range.npoints; i++) {
        int64_t f = range.from - (int64_t)lead * range.step + (int64_t)i * range.step;
        int64_t t = f + range.step < range.to ? f + range.step : range.to;

        rc = slt__query_range(q, q->slos[0].slo.sli, f, t, (uint32_t)i, &q->partial);
    }
    if (rc == SLT_ENOTFOUND)
        slt__query_answer_error(q, 404, "unknown SLO");
    else if (rc < 0)
        slt__query_answer_error(q, rc == SLT_EREDIS ? 503 : 500, slt_strerror(rc));
    slt__query_go(q);
}
