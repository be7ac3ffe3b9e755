/*
 * /api/v1/slis (every SLI with its totals over the default window) and
 * /api/v1/slis/{name}/counts (one SLI over a range, optionally as a series), with the range
 * parameters they take. docs/API.md is the reference.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "api_internal.h"
#include "slt/arith.h"
#include "slt/config.h"
#include "store.h"
#include "window.h"

static int config_has_sli(const struct slt_config *cfg, const char *name)
{
    size_t i;

    if (!cfg)
        return 0;
    for (i = 0; i < cfg->nslis; i++)
        if (cfg->slis[i].name && strcmp(cfg->slis[i].name, name) == 0)
            return 1;
    return 0;
}

/* ---- parameters (pure) ------------------------------------------------------------------- */

/* A whole number of seconds: digits only, no sign, no more than 12 digits. */
static int parse_secs(const char *s, int64_t *out)
{
    int64_t v = 0;
    size_t i;

    if (!*s || strlen(s) > 12)
        return SLT_EINVAL;
    for (i = 0; s[i]; i++) {
        if (s[i] < '0' || s[i] > '9')
            return SLT_EINVAL;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int slt_api_parse_range(struct slt_str query, struct slt_api_range *r, char *err, size_t errlen)
{
    static const char *names[] = {"from", "to", "step"};
    int64_t *vals[] = {&r->from, &r->to, &r->step};
    char v[32];
    size_t i;

    memset(r, 0, sizeof(*r));
    for (i = 0; i < 3; i++) {
        int rc = slt_http_query_get(query, names[i], v, sizeof(v));

        if (rc == 0 && i < 2) {
            snprintf(err, errlen, "missing '%s' (UNIX seconds)", names[i]);
            return SLT_EINVAL;
        }
        if (rc == 0)
            continue;
        if (rc < 0 || parse_secs(v, vals[i]) < 0) {
            snprintf(err, errlen, "'%s' must be a whole number of UNIX seconds", names[i]);
            return SLT_EINVAL;
        }
        if (*vals[i] % 60 != 0) {
            snprintf(err, errlen, "'%s' must be a multiple of 60 (whole minutes), got %" PRId64,
                     names[i], *vals[i]);
            return SLT_EINVAL;
        }
    }
    if (r->from >= r->to) {
        snprintf(err, errlen, "empty range: 'from' (%" PRId64 ") must be before 'to' (%" PRId64 ")",
                 r->from, r->to);
        return SLT_EINVAL;
    }
    if (r->to - r->from > SLT_API_MAX_RANGE_S) {
        snprintf(err, errlen, "range longer than %lld days", SLT_API_MAX_RANGE_S / 86400);
        return SLT_EINVAL;
    }
    if (slt_http_query_get(query, "step", v, sizeof(v)) == 1 && r->step == 0) {
        snprintf(err, errlen, "'step' must be at least 60");
        return SLT_EINVAL;
    }
    if (r->step) {
        int64_t n = (r->to - r->from + r->step - 1) / r->step;

        if (n > SLT_API_MAX_POINTS) {
            snprintf(err, errlen, "%" PRId64 " points, more than %d: use a larger 'step'", n,
                     SLT_API_MAX_POINTS);
            return SLT_EINVAL;
        }
        r->npoints = (size_t)n;
    }
    return 0;
}

/* ---- /api/v1/slis/{name}/counts ---------------------------------------------------------- */

static void counts_done(struct query *q)
{
    json_t *j, *series;
    int64_t tot[3] = {0, 0, 0};
    size_t i;

    if (!q->configured && !q->member) {
        slt__query_answer_error(q, 404, "unknown SLI");
        return;
    }
    for (i = 0; i < q->nsums; i++) {
        tot[0] = slt_add_i64_sat(tot[0], q->sums[i][0]);
        tot[1] = slt_add_i64_sat(tot[1], q->sums[i][1]);
        tot[2] = slt_add_i64_sat(tot[2], q->sums[i][2]);
    }
    j = slt__api_counts_json(tot);
    if (!j) {
        slt__query_answer_error(q, 500, "out of memory");
        return;
    }
    json_object_set_new(j, "sli", json_string_nocheck(q->name));
    json_object_set_new(j, "from", json_integer(q->range.from));
    json_object_set_new(j, "to", json_integer(q->range.to));
    json_object_set_new(j, "partial", json_boolean(q->partial));
    if (q->range.step) {
        json_object_set_new(j, "step", json_integer(q->range.step));
        series = json_array();
        for (i = 0; series && i < q->range.npoints; i++) {
            int64_t f = q->range.from + (int64_t)i * q->range.step;
            int64_t t = f + q->range.step < q->range.to ? f + q->range.step : q->range.to;
            json_t *p = slt__api_counts_json(q->sums[i]);

            if (p) {
                json_object_set_new(p, "from", json_integer(f));
                json_object_set_new(p, "to", json_integer(t));
            }
            json_array_append_new(series, p);
        }
        json_object_set_new(j, "series", series);
    }
    slt__query_answer_json(q, 200, j);
}

void slt__api_handle_counts(struct slt_api *api, struct slt_http_req *req, const char *name)
{
    struct slt_api_range range;
    struct query *q;
    char err[200];
    size_t i, npoints, nkeys = 0;
    int rc = 0;

    /* any name ingest could have stored is readable: keys are binary-safe */
    if (!slt__api_valid_utf8(name, strlen(name))) {
        slt__api_respond_error(req, 400, "bad SLI name (not UTF-8)");
        return;
    }
    if (slt_api_parse_range(req->query, &range, err, sizeof(err)) < 0) {
        slt__api_respond_error(req, 400, err);
        return;
    }
    /* count the buckets first so a request over the limit costs Redis nothing */
    npoints = range.step ? range.npoints : 1;
    for (i = 0; i < npoints && nkeys <= SLT_API_MAX_KEYS; i++) {
        int64_t f = range.step ? range.from + (int64_t)i * range.step : range.from;
        int64_t t = range.step && f + range.step < range.to ? f + range.step : range.to;

        nkeys += (size_t)slt_window_count(f, t);
    }
    if (nkeys > SLT_API_MAX_KEYS) {
        snprintf(err, sizeof(err),
                 "range and step need more than %d buckets: use a step that is a multiple of "
                 "3600 or 86400, or a shorter range",
                 SLT_API_MAX_KEYS);
        slt__api_respond_error(req, 400, err);
        return;
    }
    q = slt__query_new(api, req, SLT_ROUTE_COUNTS);
    if (!q)
        return;
    snprintf(q->name, sizeof(q->name), "%s", name);
    q->range = range;
    q->configured = config_has_sli(api->cfg, name);
    q->on_done = counts_done;
    if (slt__query_alloc_sums(q, npoints) < 0) {
        slt__query_answer_error(q, 500, "out of memory");
        slt__query_go(q);
        return;
    }
    rc = slt_store_req_member(&q->rq, SLT_SERIES_SLI, name);
    for (i = 0; rc == 0 && i < npoints; i++) {
        int64_t f = range.step ? range.from + (int64_t)i * range.step : range.from;
        int64_t t = range.step && f + range.step < range.to ? f + range.step : range.to;

        rc = slt__query_range(q, name, f, t, (uint32_t)i, &q->partial);
    }
    if (rc == SLT_ELIMIT) {
        char msg[160];

        snprintf(msg, sizeof(msg),
                 "range and step need more than %d buckets: use a step that is a multiple of "
                 "3600 or 86400, or a shorter range",
                 SLT_API_MAX_KEYS);
        slt__query_answer_error(q, 400, msg);
    } else if (rc < 0) {
        slt__query_answer_error(q, rc == SLT_EREDIS ? 503 : 500, slt_strerror(rc));
    }
    slt__query_go(q);
}

/* ---- /api/v1/slis ------------------------------------------------------------------------ */

static void slis_done(struct query *q)
{
    json_t *j = json_object(), *arr = json_array();
    size_t i;

    if (!j || !arr) {
        json_decref(j);
        json_decref(arr);
        slt__query_answer_error(q, 500, "out of memory");
        return;
    }
    json_object_set_new(j, "from", json_integer(q->win_from));
    json_object_set_new(j, "to", json_integer(q->win_to));
    json_object_set_new(j, "window_seconds", json_integer(q->win_to - q->win_from));
    json_object_set_new(j, "partial", json_boolean(q->partial));
    for (i = 0; i < q->nnames; i++) {
        struct series_name *n = &q->names[i];
        json_t *o;

        if (n->kind != 's')
            continue;
        o = n->counted ? slt__api_counts_json(q->sums[i]) : json_object();
        if (!o)
            continue;
        json_object_set_new(o, "name", json_string_nocheck(n->name));
        json_object_set_new(o, "configured", json_boolean(n->configured));
        json_array_append_new(arr, o);
    }
    json_object_set_new(j, "slis", arr);
    json_object_set_new(j, "truncated", json_boolean(q->truncated));
    slt__query_answer_json(q, 200, j);
}

/*
 * A step: queues totals over [win_from, win_to) for every SLI listed, then runs next. SLIs
 * past SLT_API_MAX_KEYS buckets are listed without counts (truncated).
 */
static void q_fetch_window(struct query *q, void (*next)(struct query *q))
{
    size_t i;
    int rc;

    slt__query_names_sort_unique(q);
    q->on_done = next;
    if (slt__query_alloc_sums(q, q->nnames) < 0) {
        slt__query_answer_error(q, 500, "out of memory");
        return;
    }
    for (i = 0; i < q->nnames; i++) {
        if (q->names[i].kind != 's')
            continue;
        rc =
            slt__query_range(q, q->names[i].name, q->win_from, q->win_to, (uint32_t)i, &q->partial);
        if (rc == SLT_ELIMIT) {
            /* replies already queued for this one add into a sum nobody shows */
            q->truncated = 1;
            break;
        }
        if (rc < 0) {
            slt__query_answer_error(q, 503, "redis unavailable");
            return;
        }
        q->names[i].counted = 1;
    }
}

static void slis_listed(struct query *q)
{
    q_fetch_window(q, slis_done);
}

void slt__api_handle_slis(struct slt_api *api, struct slt_http_req *req, const char *name)
{
    int64_t w = api->cfg && api->cfg->aggregator.default_window_s > 0
                    ? api->cfg->aggregator.default_window_s
                    : 3600;
    struct query *q;

    (void)name;
    w = (w + 59) / 60 * 60;
    q = slt__query_new(api, req, SLT_ROUTE_SLIS);
    if (!q)
        return;
    /* the window ends with the current (open) minute */
    q->win_to = (slt__api_now_s() / 60 + 1) * 60;
    q->win_from = q->win_to - w > 0 ? q->win_to - w : 0;
    slt__query_list_series(q, slis_listed);
    slt__query_go(q);
}
