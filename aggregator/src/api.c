/*
 * The aggregator's HTTP API: routes requests from http.c, asks the store (store.h) for window
 * sums and the series list, and answers JSON (jansson) or Prometheus text. See api.h and
 * docs/API.md.
 *
 * A request that needs stored counts becomes a struct query, which runs in steps: each step
 * queues its reads in one store request (struct slt_store_req) and the store's answer runs
 * the next step, until the query answered. The store answers every request within
 * redis_timeout_ms, so a query never waits longer and never leaks.
 */
#include "api.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "aggr.h"
#include "http.h"
#include "metrics_prom.h"
#include "slo.h"
#include "slt/arith.h"
#include "slt/config.h"
#include "slt/tls.h"
#include "store.h"
#include "window.h"

#define COMPONENT "api"

#define METRICS_MAX_BYTES (32u << 20)

struct series_name {
    char *name;
    char kind;      /* 's' SLI, 'i' input */
    int configured; /* named in the config */
    int counted;    /* totals were fetched for it */
};

struct query {
    struct slt_api *api;
    struct slt_http_req *req;
    enum slt_api_route route;
    struct slt_store_req rq; /* the reads of the current step */
    int answered;
    int oom;
    void (*on_done)(struct query *q); /* the next step, once the store answered */
    struct query *prev, *next;

    /* the sums of the last step */
    int64_t (*sums)[3];
    size_t nsums;

    /* /counts */
    char name[SLT_API_MAX_NAME];
    struct slt_api_range range;
    int configured, member, partial;

    /* /slis, /metrics, /slos */
    struct series_name *names;
    size_t nnames;
    size_t nconfigured; /* of names, from the config (never truncated away) */
    int64_t win_from, win_to;
    int truncated;

    /* SLOs copied from the config when the query started (slo_copy.base: their sums) */
    struct slo_copy *slos;
    size_t nslos;
    int64_t slo_now;
    size_t slo_lead, slo_window_points; /* /slos/{name}/series */
};

/*
 * An SLO as a query reads it: a copy of its config, the windows it needs and where its sums
 * are: one per bucket of the SLO window (for coverage), then one per window of the plan.
 */
struct slo_copy {
    struct slt_slo slo;
    struct slt_slo_plan plan;
    struct slt_slo_ranges rg;
    size_t base; /* first sum */
    size_t nwb;  /* buckets of the SLO window */
    struct slt_bucket *wb;
    int partial; /* a bucket read was past its retention */
};

struct slt_api {
    uv_loop_t *loop;
    const struct slt_config *cfg;
    struct slt_aggr_stats *stats;
    struct slt_aggr_stats own_stats; /* when started without one */
    struct slt_http_server *http;
    struct slt_store *store; /* borrowed; main frees it after the API stopped */
    int64_t redis_timeout_ms;
    struct slt_tls *http_tls;   /* aggregator.http_tls; NULL: plain HTTP */
    struct slt_tls *ingest_tls; /* borrowed from main, for /metrics */
    char *token;                /* aggregator.api_token_file; NULL: no token needed */
    size_t token_len;

    struct query *queries;
    size_t nqueries; /* in the list: not answered-and-done yet */
    uint64_t query_errors;

    /* the alert module's state of a tier (main.c wires it), for `since` */
    slt_api_alert_state_fn alert_state;
    void *alert_data;

    int stopping;
    int http_stopped;
    void (*on_stopped)(void *data);
    void *stopped_data;
};

/* ------------------------------------------------------------------------------------------ */
/* Small helpers                                                                               */

static int64_t now_s(void)
{
    return slt_now_ms() / 1000;
}

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

/* 1 when p[0..len) is valid UTF-8 (JSON strings and Prometheus labels must be). */
static int valid_utf8(const char *p, size_t len)
{
    json_t *s = json_stringn(p, len);

    json_decref(s);
    return s != NULL;
}

static int config_has_slo(const struct slt_config *cfg, const char *name)
{
    size_t i;

    for (i = 0; cfg && i < cfg->nslos; i++)
        if (cfg->slos[i].name && strcmp(cfg->slos[i].name, name) == 0)
            return 1;
    return 0;
}

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

static void respond_json(struct slt_http_req *req, int status, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(12)) : NULL;

    if (!s) {
        static const char oom[] = "{\"error\":\"out of memory\",\"status\":500}\n";
        slt_http_respond(req, 500, "application/json", oom, sizeof(oom) - 1, NULL);
    } else {
        size_t n = strlen(s);

        slt_http_respond(req, status, "application/json", s, n, NULL);
        free(s);
    }
    json_decref(j);
}

static void respond_error(struct slt_http_req *req, int status, const char *msg)
{
    respond_json(req, status, json_pack("{s:s, s:i}", "error", msg, "status", status));
}

static json_t *counts_json(const int64_t v[3])
{
    json_t *j = json_pack("{s:I, s:I, s:I}", "good", (json_int_t)v[0], "bad", (json_int_t)v[1],
                          "excluded", (json_int_t)v[2]);

    /* in doubles: good + bad may pass INT64_MAX */
    if (j)
        json_object_set_new(j, "ratio",
                            v[0] > 0 || v[1] > 0
                                ? json_real((double)v[0] / ((double)v[0] + (double)v[1]))
                                : json_null());
    return j;
}

/* ------------------------------------------------------------------------------------------ */
/* Routing and parameters (pure)                                                               */

int slt_api_route(struct slt_str path, char *name, size_t namemax)
{
    static const char prefix[] = "/api/v1/slis/";
    static const char suffix[] = "/counts";
    const size_t plen = sizeof(prefix) - 1, slen = sizeof(suffix) - 1;

    if (slt_str_eq(path, "/") || slt_str_eq(path, "/index.html"))
        return SLT_ROUTE_DASHBOARD;
    if (slt_str_eq(path, "/healthz"))
        return SLT_ROUTE_HEALTHZ;
    if (slt_str_eq(path, "/readyz"))
        return SLT_ROUTE_READYZ;
    if (slt_str_eq(path, "/metrics"))
        return SLT_ROUTE_METRICS;
    if (slt_str_eq(path, "/api/v1/slis"))
        return SLT_ROUTE_SLIS;
    if (slt_str_eq(path, "/api/v1/slos"))
        return SLT_ROUTE_SLOS;
    if (path.len > sizeof("/api/v1/slos/") - 1 &&
        memcmp(path.p, "/api/v1/slos/", sizeof("/api/v1/slos/") - 1) == 0) {
        const char *n = path.p + sizeof("/api/v1/slos/") - 1;
        size_t nlen = path.len - (sizeof("/api/v1/slos/") - 1);
        int route = SLT_ROUTE_SLO;
        const char *slash = memchr(n, '/', nlen);
        long r;

        if (slash) {
            if ((size_t)(n + nlen - slash) != sizeof("/series") - 1 ||
                memcmp(slash, "/series", sizeof("/series") - 1) != 0)
                return SLT_ROUTE_NOT_FOUND;
            nlen = (size_t)(slash - n);
            route = SLT_ROUTE_SLO_SERIES;
        }
        r = slt_http_pct_decode(n, nlen, name, namemax, 0);
        if (r < 0)
            return (int)r;
        return r == 0 ? SLT_ROUTE_NOT_FOUND : route;
    }
    if (path.len > plen + slen && memcmp(path.p, prefix, plen) == 0 &&
        memcmp(path.p + path.len - slen, suffix, slen) == 0) {
        const char *n = path.p + plen;
        size_t nlen = path.len - plen - slen;
        long r;

        if (memchr(n, '/', nlen))
            return SLT_ROUTE_NOT_FOUND;
        r = slt_http_pct_decode(n, nlen, name, namemax, 0);
        if (r < 0)
            return (int)r;
        return r == 0 ? SLT_ROUTE_NOT_FOUND : SLT_ROUTE_COUNTS;
    }
    return SLT_ROUTE_NOT_FOUND;
}

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

/* ------------------------------------------------------------------------------------------ */
/* Queries                                                                                     */

static void api_maybe_stopped(struct slt_api *api);
static void slo_copies_free(struct query *q);
static int names_add(struct query *q, char kind, const char *name, size_t len, int configured);

static void q_answer_json(struct query *q, int status, json_t *j)
{
    if (q->answered) {
        json_decref(j);
        return;
    }
    q->answered = 1;
    respond_json(q->req, status, j);
    q->req = NULL;
}

static void respond_metrics(struct slt_api *api, struct query *q, struct slt_http_req *req);

static void q_answer_error(struct query *q, int status, const char *msg)
{
    if (status >= 500)
        q->api->query_errors++;
    if (status >= 500 && q->route == SLT_ROUTE_METRICS && !q->answered) {
        /* Redis could not be read (or held garbage): still show the aggregator's own health */
        struct slt_http_req *req = q->req;

        q->answered = 1;
        q->req = NULL;
        respond_metrics(q->api, NULL, req);
        return;
    }
    q_answer_json(q, status, json_pack("{s:s, s:i}", "error", msg, "status", status));
}

static void q_answer_raw(struct query *q, int status, const char *ctype, const char *body,
                         size_t len)
{
    if (q->answered)
        return;
    q->answered = 1;
    slt_http_respond(q->req, status, ctype, body, len, NULL);
    q->req = NULL;
}

static void q_release(struct query *q)
{
    struct slt_api *api = q->api;
    size_t i;

    if (q->prev)
        q->prev->next = q->next;
    else
        api->queries = q->next;
    if (q->next)
        q->next->prev = q->prev;
    api->nqueries--;
    slt_store_req_release(&q->rq);
    for (i = 0; i < q->nnames; i++)
        slt_free(q->names[i].name);
    slt_free(q->names);
    slo_copies_free(q);
    slt_free(q->sums);
    slt_free(q);
    api_maybe_stopped(api);
}

/*
 * After a step queued its reads (or answered): sends them, or releases the query once it is
 * answered. The answer comes to q_on_reply, which runs the next step.
 */
static void q_go(struct query *q)
{
    struct slt_api *api = q->api;

    if (!q->answered) {
        int rc =
            api->store ? slt_store_req_send(api->store, &q->rq, api->redis_timeout_ms) : SLT_EREDIS;

        if (rc == 0)
            return;
        q_answer_error(q, rc == SLT_EREDIS ? 503 : 500,
                       rc == SLT_EREDIS ? "redis unavailable" : slt_strerror(rc));
    }
    q_release(q);
}

static void q_on_reply(struct slt_store_req *rq)
{
    struct query *q = rq->data;
    void (*fn)(struct query *) = q->on_done;

    q->on_done = NULL;
    if (rq->status == SLT_ETIMEDOUT) {
        q_answer_error(q, 503, "redis did not answer in time");
    } else if (rq->status == SLT_ECORRUPT) {
        q_answer_error(q, 500, "redis holds a value that is not a counter");
    } else if (rq->status < 0) {
        q_answer_error(q, 503, "redis unavailable");
    } else if (!fn) {
        q_answer_error(q, 500, "internal error: query finished without an answer");
    } else {
        /* take the answers, then the request is free for the next step */
        size_t i;

        q->member = rq->member;
        if (rq->sums) {
            slt_free(q->sums);
            q->sums = rq->sums;
            q->nsums = rq->nsums;
            rq->sums = NULL;
            rq->nsums = 0;
        }
        for (i = 0; i < rq->nseries; i++) {
            const struct slt_store_series *s = &rq->series[i];

            if (names_add(q, s->kind == SLT_SERIES_SLI ? 's' : 'i', s->name, s->len, 0) < 0)
                q->oom = 1;
        }
        slt_store_req_reset(rq);
        if (q->oom)
            q_answer_error(q, 500, "out of memory");
        else
            fn(q);
    }
    q_go(q);
}

static struct query *q_new(struct slt_api *api, struct slt_http_req *req, enum slt_api_route r)
{
    struct slt_store_health h;
    struct query *q;

    if (api->store)
        slt_store_health(api->store, &h);
    if (!api->store || !h.query_up) {
        respond_error(req, 503, "redis unavailable");
        return NULL;
    }
    if (api->nqueries >= SLT_API_MAX_QUERIES) {
        respond_error(req, 503, "too many requests waiting for redis");
        return NULL;
    }
    q = slt_calloc(1, sizeof(*q));
    if (!q) {
        respond_error(req, 500, "out of memory");
        return NULL;
    }
    q->api = api;
    q->req = req;
    q->route = r;
    slt_store_req_init(&q->rq);
    q->rq.done = q_on_reply;
    q->rq.data = q;
    slt_store_req_limit(&q->rq, SLT_API_MAX_KEYS);
    q->next = api->queries;
    if (api->queries)
        api->queries->prev = q;
    api->queries = q;
    api->nqueries++;
    return q;
}

/* Allocates the sums the next step's reads add into. */
static int q_alloc_sums(struct query *q, size_t n)
{
    slt_free(q->sums);
    q->sums = NULL;
    q->nsums = 0;
    return slt_store_req_sums(&q->rq, n);
}

/*
 * Queues the buckets of [from, to) of SLI name adding into sums[owner]; sets *partial when a
 * bucket is older than its retention. Returns 0, SLT_ELIMIT past SLT_API_MAX_KEYS buckets.
 */
static int q_range(struct query *q, const char *name, int64_t from, int64_t to, uint32_t owner,
                   int *partial)
{
    return slt_store_req_range(&q->rq, q->api->store, SLT_SERIES_SLI, name, from, to, owner,
                               now_s(), partial);
}

/* ---- /api/v1/slis/{name}/counts ---------------------------------------------------------- */

static void counts_done(struct query *q)
{
    json_t *j, *series;
    int64_t tot[3] = {0, 0, 0};
    size_t i;

    if (!q->configured && !q->member) {
        q_answer_error(q, 404, "unknown SLI");
        return;
    }
    for (i = 0; i < q->nsums; i++) {
        tot[0] = slt_add_i64_sat(tot[0], q->sums[i][0]);
        tot[1] = slt_add_i64_sat(tot[1], q->sums[i][1]);
        tot[2] = slt_add_i64_sat(tot[2], q->sums[i][2]);
    }
    j = counts_json(tot);
    if (!j) {
        q_answer_error(q, 500, "out of memory");
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
            json_t *p = counts_json(q->sums[i]);

            if (p) {
                json_object_set_new(p, "from", json_integer(f));
                json_object_set_new(p, "to", json_integer(t));
            }
            json_array_append_new(series, p);
        }
        json_object_set_new(j, "series", series);
    }
    q_answer_json(q, 200, j);
}

static void handle_counts(struct slt_api *api, struct slt_http_req *req, const char *name)
{
    struct slt_api_range range;
    struct query *q;
    char err[200];
    size_t i, npoints, nkeys = 0;
    int rc = 0;

    /* any name ingest could have stored is readable: keys are binary-safe */
    if (!valid_utf8(name, strlen(name))) {
        respond_error(req, 400, "bad SLI name (not UTF-8)");
        return;
    }
    if (slt_api_parse_range(req->query, &range, err, sizeof(err)) < 0) {
        respond_error(req, 400, err);
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
        respond_error(req, 400, err);
        return;
    }
    q = q_new(api, req, SLT_ROUTE_COUNTS);
    if (!q)
        return;
    snprintf(q->name, sizeof(q->name), "%s", name);
    q->range = range;
    q->configured = config_has_sli(api->cfg, name);
    q->on_done = counts_done;
    if (q_alloc_sums(q, npoints) < 0) {
        q_answer_error(q, 500, "out of memory");
        q_go(q);
        return;
    }
    rc = slt_store_req_member(&q->rq, SLT_SERIES_SLI, name);
    for (i = 0; rc == 0 && i < npoints; i++) {
        int64_t f = range.step ? range.from + (int64_t)i * range.step : range.from;
        int64_t t = range.step && f + range.step < range.to ? f + range.step : range.to;

        rc = q_range(q, name, f, t, (uint32_t)i, &q->partial);
    }
    if (rc == SLT_ELIMIT) {
        char msg[160];

        snprintf(msg, sizeof(msg),
                 "range and step need more than %d buckets: use a step that is a multiple of "
                 "3600 or 86400, or a shorter range",
                 SLT_API_MAX_KEYS);
        q_answer_error(q, 400, msg);
    } else if (rc < 0) {
        q_answer_error(q, rc == SLT_EREDIS ? 503 : 500, slt_strerror(rc));
    }
    q_go(q);
}

/* ---- series listing, shared by /slis, /metrics and /slos -------------------------------- */

static int name_cmp(const void *a, const void *b)
{
    const struct series_name *x = a, *y = b;
    int c = x->kind - y->kind;

    return c ? c : strcmp(x->name, y->name);
}

/*
 * Appends a series name (no scan for duplicates: names_sort_unique merges them once every
 * name is in, in O(n log n), so a large series set costs no quadratic work on the loop).
 */
static int names_add(struct query *q, char kind, const char *name, size_t len, int configured)
{
    struct series_name *n;

    if (len == 0 || len >= SLT_API_MAX_NAME || memchr(name, '\0', len) || !valid_utf8(name, len))
        return 0; /* not a name the API can show or read back */
    if (q->nnames >= SLT_API_MAX_SERIES + q->nconfigured) {
        q->truncated = 1;
        return 0;
    }
    if ((q->nnames & (q->nnames - 1)) == 0 || q->nnames == 0) {
        size_t cap = q->nnames ? q->nnames * 2 : 16;

        n = slt_realloc(q->names, cap * sizeof(*n));
        if (!n)
            return SLT_ENOMEM;
        q->names = n;
    }
    n = &q->names[q->nnames];
    n->name = slt_strndup(name, len);
    if (!n->name)
        return SLT_ENOMEM;
    n->kind = kind;
    n->configured = configured;
    n->counted = 0;
    q->nnames++;
    q->nconfigured += configured != 0;
    return 0;
}

/* Sorts the names by kind and name and merges duplicates (a configured SLI Redis knows too). */
static void names_sort_unique(struct query *q)
{
    size_t i, o = 0;

    if (q->nnames < 2)
        return;
    qsort(q->names, q->nnames, sizeof(*q->names), name_cmp);
    for (i = 0; i < q->nnames; i++) {
        if (o > 0 && name_cmp(&q->names[o - 1], &q->names[i]) == 0) {
            q->names[o - 1].configured |= q->names[i].configured;
            slt_free(q->names[i].name);
            continue;
        }
        q->names[o++] = q->names[i];
    }
    q->nnames = o;
}

/* Starts a query that lists every series (config SLIs and slt:series), then runs next. */
static void q_list_series(struct query *q, void (*next)(struct query *q))
{
    const struct slt_config *cfg = q->api->cfg;
    size_t i;

    for (i = 0; cfg && i < cfg->nslis; i++) {
        if (cfg->slis[i].name &&
            names_add(q, 's', cfg->slis[i].name, strlen(cfg->slis[i].name), 1) < 0) {
            q_answer_error(q, 500, "out of memory");
            return;
        }
    }
    q->on_done = next;
    if (slt_store_req_series(&q->rq) < 0)
        q_answer_error(q, 500, "out of memory");
}

/* ---- /api/v1/slis ------------------------------------------------------------------------ */

static void slis_done(struct query *q)
{
    json_t *j = json_object(), *arr = json_array();
    size_t i;

    if (!j || !arr) {
        json_decref(j);
        json_decref(arr);
        q_answer_error(q, 500, "out of memory");
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
        o = n->counted ? counts_json(q->sums[i]) : json_object();
        if (!o)
            continue;
        json_object_set_new(o, "name", json_string_nocheck(n->name));
        json_object_set_new(o, "configured", json_boolean(n->configured));
        json_array_append_new(arr, o);
    }
    json_object_set_new(j, "slis", arr);
    json_object_set_new(j, "truncated", json_boolean(q->truncated));
    q_answer_json(q, 200, j);
}

/*
 * A step: queues totals over [win_from, win_to) for every SLI listed, then runs next. SLIs
 * past SLT_API_MAX_KEYS buckets are listed without counts (truncated).
 */
static void q_fetch_window(struct query *q, void (*next)(struct query *q))
{
    size_t i;
    int rc;

    names_sort_unique(q);
    q->on_done = next;
    if (q_alloc_sums(q, q->nnames) < 0) {
        q_answer_error(q, 500, "out of memory");
        return;
    }
    for (i = 0; i < q->nnames; i++) {
        if (q->names[i].kind != 's')
            continue;
        rc = q_range(q, q->names[i].name, q->win_from, q->win_to, (uint32_t)i, &q->partial);
        if (rc == SLT_ELIMIT) {
            /* replies already queued for this one add into a sum nobody shows */
            q->truncated = 1;
            break;
        }
        if (rc < 0) {
            q_answer_error(q, 503, "redis unavailable");
            return;
        }
        q->names[i].counted = 1;
    }
}

static void slis_listed(struct query *q)
{
    q_fetch_window(q, slis_done);
}

static void handle_slis(struct slt_api *api, struct slt_http_req *req)
{
    int64_t w = api->cfg && api->cfg->aggregator.default_window_s > 0
                    ? api->cfg->aggregator.default_window_s
                    : 3600;
    struct query *q;

    w = (w + 59) / 60 * 60;
    q = q_new(api, req, SLT_ROUTE_SLIS);
    if (!q)
        return;
    /* the window ends with the current (open) minute */
    q->win_to = (now_s() / 60 + 1) * 60;
    q->win_from = q->win_to - w > 0 ? q->win_to - w : 0;
    q_list_series(q, slis_listed);
    q_go(q);
}

/* ---- SLOs: attainment, error budget, policy, burn rates and alert tiers -------------------- */

static void slo_copies_free(struct query *q)
{
    size_t i;

    for (i = 0; q->slos && i < q->nslos; i++) {
        slt_slo_copy_free(&q->slos[i].slo);
        slt_free(q->slos[i].wb);
    }
    slt_free(q->slos);
    q->slos = NULL;
    q->nslos = 0;
}

/*
 * Copies the SLOs of the config (only the one called only, when not NULL) and lays out their
 * sums from base on: returns the number of sums needed in *nsums. 0, SLT_ENOMEM, or
 * SLT_ENOTFOUND when only names no SLO.
 */
static int q_copy_slos(struct query *q, const char *only, size_t base, size_t *nsums)
{
    const struct slt_config *cfg = q->api->cfg;
    int64_t to = slt_slo_now_end(now_s());
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

/* Queues every bucket of the SLO windows and every plan window; sums must be allocated. */
static int q_queue_slos(struct query *q)
{
    size_t i, k;
    int rc = 0;

    for (i = 0; rc == 0 && i < q->nslos; i++) {
        struct slo_copy *c = &q->slos[i];

        for (k = 0; rc == 0 && k < c->nwb; k++)
            rc = q_range(q, c->slo.sli, c->wb[k].start,
                         c->wb[k].start + slt_gran_width(c->wb[k].gran), (uint32_t)(c->base + k),
                         &c->partial);
        for (k = 0; rc == 0 && k < c->plan.nwin; k++)
            rc = q_range(q, c->slo.sli, c->rg.burn_from[k], c->rg.to,
                         (uint32_t)(c->base + c->nwb + k), &c->partial);
    }
    return rc;
}

/* The evaluation of SLO i, and where its data starts (0: no data in the window). */
static void slo_evaluate(const struct query *q, size_t i, struct slt_slo_eval *e, int64_t *first)
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

    slo_evaluate(q, i, &e, &first);
    o = counts_json(e.win);
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
        q_answer_error(q, 500, "out of memory");
        return;
    }
    for (i = 0; i < q->nslos; i++)
        json_array_append_new(arr, slo_json(q, i));
    json_object_set_new(j, "to", json_integer(q->slo_now));
    json_object_set_new(j, "slos", arr);
    q_answer_json(q, 200, j);
}

static void slo_done(struct query *q)
{
    json_t *o = slo_json(q, 0);

    if (!o)
        q_answer_error(q, 500, "out of memory");
    else
        q_answer_json(q, 200, o);
}

/* /api/v1/slos, or /api/v1/slos/{name} when name is not NULL. */
static void handle_slos(struct slt_api *api, struct slt_http_req *req, const char *name)
{
    struct query *q;
    size_t n = 0;
    int rc;

    if (name && !config_has_slo(api->cfg, name)) {
        respond_error(req, 404, "unknown SLO");
        return;
    }
    q = q_new(api, req, name ? SLT_ROUTE_SLO : SLT_ROUTE_SLOS);
    if (!q)
        return;
    q->on_done = name ? slo_done : slos_done;
    /* the SLOs of the config decide what is read (about 750 buckets a 28-day SLO), not the
     * client: the bound of alerting, not of /counts */
    slt_store_req_limit(&q->rq, SLT_API_MAX_SLO_KEYS);
    rc = q_copy_slos(q, name, 0, &n);
    if (rc == 0)
        rc = q_alloc_sums(q, n);
    if (rc == 0)
        rc = q_queue_slos(q);
    if (rc == SLT_ENOTFOUND)
        q_answer_error(q, 404, "unknown SLO");
    else if (rc == SLT_ELIMIT)
        q_answer_error(q, 400, "the SLO windows need more buckets than one request may read");
    else if (rc < 0)
        q_answer_error(q, rc == SLT_EREDIS ? 503 : 500, slt_strerror(rc));
    q_go(q);
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
        q_answer_error(q, 500, "out of memory");
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
        o = counts_json(p);
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
    q_answer_json(q, 200, j);
}

static void handle_slo_series(struct slt_api *api, struct slt_http_req *req, const char *name)
{
    struct slt_api_range range;
    struct query *q;
    char err[200], v[32];
    size_t i, lead, nkeys = 0, n = 0;
    int64_t win = 0;
    int rc;

    if (!config_has_slo(api->cfg, name)) {
        respond_error(req, 404, "unknown SLO");
        return;
    }
    if (slt_http_query_get(req->query, "step", v, sizeof(v)) == 0) {
        respond_error(req, 400, "missing 'step' (seconds, a multiple of 60)");
        return;
    }
    if (slt_api_parse_range(req->query, &range, err, sizeof(err)) < 0) {
        respond_error(req, 400, err);
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
        respond_error(req, 400,
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
        respond_error(req, 400, err);
        return;
    }
    q = q_new(api, req, SLT_ROUTE_SLO_SERIES);
    if (!q)
        return;
    q->range = range;
    q->on_done = series_done;
    q->slo_lead = lead;
    q->slo_window_points = (size_t)((win + range.step - 1) / range.step);
    rc = q_copy_slos(q, name, 0, &n);
    if (rc == 0)
        rc = q_alloc_sums(q, lead + range.npoints);
    for (i = 0; rc == 0 && i < lead + range.npoints; i++) {
        int64_t f = range.from - (int64_t)lead * range.step + (int64_t)i * range.step;
        int64_t t = f + range.step < range.to ? f + range.step : range.to;

        rc = q_range(q, q->slos[0].slo.sli, f, t, (uint32_t)i, &q->partial);
    }
    if (rc == SLT_ENOTFOUND)
        q_answer_error(q, 404, "unknown SLO");
    else if (rc < 0)
        q_answer_error(q, rc == SLT_EREDIS ? 503 : 500, slt_strerror(rc));
    q_go(q);
}

/* ---- /metrics ----------------------------------------------------------------------------- */

static int prom_series_line(struct slt_buf *b, const char *metric, const char *l1, const char *v1,
                            const char *l2, const char *v2, int64_t value)
{
    int rc;

    if ((rc = slt_buf_printf(b, "%s{%s=\"", metric, l1)) < 0 ||
        (rc = slt_prom_escape_label(b, v1, strlen(v1))) < 0)
        return rc;
    if (l2 && ((rc = slt_buf_printf(b, "\",%s=\"", l2)) < 0 ||
               (rc = slt_prom_escape_label(b, v2, strlen(v2))) < 0))
        return rc;
    return slt_buf_printf(b, "\"} %" PRId64 "\n", value);
}

static int prom_gauge_line(struct slt_buf *b, const char *metric, const char *slo, const char *l2,
                           const char *v2, double value)
{
    int rc;

    if ((rc = slt_buf_printf(b, "%s{slo=\"", metric)) < 0 ||
        (rc = slt_prom_escape_label(b, slo, strlen(slo))) < 0)
        return rc;
    if (l2 && (rc = slt_buf_printf(b, "\",%s=\"%s", l2, v2)) < 0)
        return rc;
    return slt_buf_printf(b, "\"} %.9g\n", value);
}

static int render_series(struct slt_buf *b, const struct query *q)
{
    static const char *sli_results[] = {"good", "bad", "excluded"};
    /* one family per count: a total never shares a family with its own subsets */
    static const struct {
        const char *name, *help;
    } input_families[] = {
        {"slitail_input_lines_total", "Lines read per input since the first apply."},
        {"slitail_input_unparsed_total",
         "Lines of the input that did not parse (part of slitail_input_lines_total)."},
        {"slitail_input_oversize_total",
         "Lines of the input over max_line (part of slitail_input_unparsed_total)."},
    };
    size_t i, k;
    int rc = 0;

    rc = slt_prom_header(b, "slitail_sli_events_total", "counter",
                         "Events per SLI and result since the first apply (kept in Redis).");
    for (i = 0; rc == 0 && i < q->nnames; i++)
        for (k = 0; rc == 0 && q->names[i].kind == 's' && k < 3; k++)
            rc = prom_series_line(b, "slitail_sli_events_total", "sli", q->names[i].name, "result",
                                  sli_results[k], q->sums[i][k]);
    for (k = 0; rc == 0 && k < 3; k++) {
        rc = slt_prom_header(b, input_families[k].name, "counter", input_families[k].help);
        for (i = 0; rc == 0 && i < q->nnames; i++)
            if (q->names[i].kind == 'i')
                rc = prom_series_line(b, input_families[k].name, "input", q->names[i].name, NULL,
                                      NULL, q->sums[i][k]);
    }
    return rc;
}

static int render_slos(struct slt_buf *b, const struct query *q)
{
    struct slt_slo_eval *ev = slt_calloc(q->nslos ? q->nslos : 1, sizeof(*ev));
    size_t i, w, k;
    int64_t first;
    int rc;

    if (!ev)
        return SLT_ENOMEM;
    for (i = 0; i < q->nslos; i++)
        slo_evaluate(q, i, &ev[i], &first);
    rc = slt_prom_header(b, "slitail_slo_objective_ratio", "gauge", "SLO objective (0..1).");
    for (i = 0; rc == 0 && i < q->nslos; i++)
        rc = prom_gauge_line(b, "slitail_slo_objective_ratio", q->slos[i].slo.name, NULL, NULL,
                             q->slos[i].slo.objective / 100.0);
    if (rc == 0)
        rc = slt_prom_header(b, "slitail_slo_attainment_ratio", "gauge",
                             "good / (good + bad) over the SLO window (absent without events).");
    for (i = 0; rc == 0 && i < q->nslos; i++)
        if (ev[i].has_data)
            rc = prom_gauge_line(b, "slitail_slo_attainment_ratio", q->slos[i].slo.name, NULL, NULL,
                                 ev[i].attainment);
    if (rc == 0)
        rc = slt_prom_header(b, "slitail_slo_error_budget_remaining_ratio", "gauge",
                             "Error budget left over the SLO window (negative when spent).");
    for (i = 0; rc == 0 && i < q->nslos; i++)
        rc = prom_gauge_line(b, "slitail_slo_error_budget_remaining_ratio", q->slos[i].slo.name,
                             NULL, NULL, ev[i].budget_remaining);
    if (rc == 0)
        rc = slt_prom_header(b, "slitail_slo_budget_status", "gauge",
                             "1 for the budget policy status of the SLO (healthy, depleting, "
                             "endangered, exhausted), 0 for the others.");
    for (i = 0; rc == 0 && i < q->nslos; i++)
        for (k = 0; rc == 0 && k < SLT_BUDGET_NSTATUS; k++)
            rc = prom_gauge_line(b, "slitail_slo_budget_status", q->slos[i].slo.name, "status",
                                 slt_budget_status_name((int)k), ev[i].status == (int)k);
    if (rc == 0)
        rc = slt_prom_header(b, "slitail_slo_burn_rate", "gauge",
                             "Error-budget burn rate over the last 5m, 30m, 1h, 2h, 6h, 1d and "
                             "3d.");
    for (i = 0; rc == 0 && i < q->nslos; i++)
        for (w = 0; rc == 0 && w < SLT_SLO_NBURN; w++)
            rc = prom_gauge_line(b, "slitail_slo_burn_rate", q->slos[i].slo.name, "window",
                                 slt_slo_burn_window_names[w], ev[i].burn[w]);
    if (rc == 0)
        rc = slt_prom_header(b, "slitail_slo_alert_firing", "gauge",
                             "1 while an alert tier of the SLO fires (both its windows burn at "
                             "or above its threshold), by tier and severity.");
    for (i = 0; rc == 0 && i < q->nslos; i++) {
        const struct slt_slo *slo = &q->slos[i].slo;

        for (k = 0; rc == 0 && k < ev[i].ntiers; k++) {
            int firing = ev[i].tier[k].firing;
            int64_t since = 0;

            if (q->api->alert_state)
                q->api->alert_state(q->api->alert_data, slo->name, slo->tiers[k].name, &firing,
                                    &since);
            if ((rc = slt_buf_printf(b, "slitail_slo_alert_firing{slo=\"")) < 0 ||
                (rc = slt_prom_escape_label(b, slo->name, strlen(slo->name))) < 0 ||
                (rc = slt_buf_printf(b, "\",alert=\"")) < 0 ||
                (rc = slt_prom_escape_label(b, slo->tiers[k].name, strlen(slo->tiers[k].name))) < 0)
                break;
            rc = slt_buf_printf(b, "\",severity=\"%s\"} %d\n",
                                slt_severity_name(slo->tiers[k].severity), firing != 0);
        }
    }
    slt_free(ev);
    return rc;
}

/* Renders /metrics; q is NULL when Redis could not be read (own health only). */
static int render_metrics(struct slt_api *api, const struct query *q, struct slt_buf *b)
{
    const struct slt_http_counters *hc = slt_http_server_counters(api->http);
    struct slt_store_health h;
    int rc = 0;

    memset(&h, 0, sizeof(h));
    if (api->store)
        slt_store_health(api->store, &h);
    api->stats->http_requests = hc->requests;
    api->stats->http_errors = hc->responses_4xx + hc->responses_5xx;
    if (q)
        rc = render_series(b, q);
    if (rc == 0 && q && q->nslos)
        rc = render_slos(b, q);
    if (rc == 0)
        rc = slt_prom_aggr_stats(b, api->stats);
    if (rc == 0)
        rc = slt_buf_printf(
            b,
            "# HELP slitail_api_redis_up 1 when the API's query connection to Redis is up.\n"
            "# TYPE slitail_api_redis_up gauge\nslitail_api_redis_up %d\n"
            "# HELP slitail_api_scrape_redis_ok 1 when this scrape read the counters from "
            "Redis.\n# TYPE slitail_api_scrape_redis_ok gauge\nslitail_api_scrape_redis_ok %d\n"
            "# HELP slitail_api_redis_timeouts_total API queries Redis did not answer in time.\n"
            "# TYPE slitail_api_redis_timeouts_total counter\n"
            "slitail_api_redis_timeouts_total %" PRIu64 "\n"
            "# HELP slitail_api_redis_reconnects_total API Redis reconnection attempts.\n"
            "# TYPE slitail_api_redis_reconnects_total counter\n"
            "slitail_api_redis_reconnects_total %" PRIu64 "\n"
            "# HELP slitail_http_requests_total HTTP requests read.\n"
            "# TYPE slitail_http_requests_total counter\nslitail_http_requests_total %" PRIu64
            "\n# HELP slitail_http_responses_total HTTP error responses by class.\n"
            "# TYPE slitail_http_responses_total counter\n"
            "slitail_http_responses_total{class=\"4xx\"} %" PRIu64 "\n"
            "slitail_http_responses_total{class=\"5xx\"} %" PRIu64 "\n"
            "# HELP slitail_http_header_timeouts_total Connections closed for sending headers "
            "too slowly.\n# TYPE slitail_http_header_timeouts_total counter\n"
            "slitail_http_header_timeouts_total %" PRIu64 "\n"
            "# HELP slitail_http_connections_refused_total Connections over the limit.\n"
            "# TYPE slitail_http_connections_refused_total counter\n"
            "slitail_http_connections_refused_total %" PRIu64 "\n"
            "# HELP slitail_http_connections Open HTTP connections.\n"
            "# TYPE slitail_http_connections gauge\nslitail_http_connections %zu\n",
            h.query_up, q != NULL, h.query_timeouts, h.query_reconnects, hc->requests,
            hc->responses_4xx, hc->responses_5xx, hc->header_timeouts, hc->conns_refused,
            slt_http_server_conns(api->http));
    if (rc == 0 && (api->ingest_tls || api->http_tls)) {
        struct slt_tls *tls[2] = {api->ingest_tls, api->http_tls};
        static const char *const names[2] = {"ingest", "http"};

        rc = slt_tls_prom(b, "slitail", tls, names, 2);
    }
    if (rc == 0)
        rc = slt_buf_printf(b,
                            "# HELP slitail_http_probe_connections_total Connections over the "
                            "limit served /healthz or /readyz only.\n"
                            "# TYPE slitail_http_probe_connections_total counter\n"
                            "slitail_http_probe_connections_total %" PRIu64 "\n"
                            "# HELP slitail_http_connections_evicted_total Idle or slow "
                            "connections closed to make room at the connection limit.\n"
                            "# TYPE slitail_http_connections_evicted_total counter\n"
                            "slitail_http_connections_evicted_total %" PRIu64 "\n",
                            hc->conns_over_cap, hc->conns_evicted);
    return rc;
}

static void respond_metrics(struct slt_api *api, struct query *q, struct slt_http_req *req)
{
    static const char ctype[] = "text/plain; version=0.0.4; charset=utf-8";
    struct slt_buf b;

    slt_buf_init(&b, METRICS_MAX_BYTES);
    if (render_metrics(api, q, &b) < 0) {
        slt_buf_release(&b);
        if (q)
            q_answer_error(q, 500, "metrics too large");
        else
            respond_error(req, 500, "metrics too large");
        return;
    }
    if (q)
        q_answer_raw(q, 200, ctype, b.p ? b.p : "", b.len);
    else
        slt_http_respond(req, 200, ctype, b.p ? b.p : "", b.len, NULL);
    slt_buf_release(&b);
}

static void metrics_done(struct query *q)
{
    respond_metrics(q->api, q, NULL);
}

static void metrics_listed(struct query *q)
{
    size_t i, nslo = 0;
    int rc;

    names_sort_unique(q);
    q->on_done = metrics_done;
    slt_store_req_limit(&q->rq, SLT_API_MAX_SLO_KEYS); /* as /api/v1/slos */
    rc = q_copy_slos(q, NULL, q->nnames, &nslo);
    if (rc == 0)
        rc = q_alloc_sums(q, q->nnames + nslo);
    for (i = 0; rc == 0 && i < q->nnames; i++)
        rc =
            slt_store_req_total(&q->rq, q->names[i].kind == 's' ? SLT_SERIES_SLI : SLT_SERIES_INPUT,
                                q->names[i].name, i);
    if (rc == 0)
        rc = q_queue_slos(q);
    if (rc < 0)
        q_answer_error(q, rc == SLT_EREDIS ? 503 : 500, slt_strerror(rc));
}

static void handle_metrics(struct slt_api *api, struct slt_http_req *req)
{
    struct query *q;

    struct slt_store_health h;

    if (api->store)
        slt_store_health(api->store, &h);
    if (!api->store || !h.query_up || api->nqueries >= SLT_API_MAX_QUERIES) {
        respond_metrics(api, NULL, req);
        return;
    }
    q = q_new(api, req, SLT_ROUTE_METRICS);
    if (!q)
        return;
    q_list_series(q, metrics_listed);
    q_go(q);
}

/* ---- dispatch ----------------------------------------------------------------------------- */

static void handle_readyz(struct slt_api *api, struct slt_http_req *req)
{
    struct slt_store_health h;
    int ingest, query;

    memset(&h, 0, sizeof(h));
    if (api->store)
        slt_store_health(api->store, &h);
    ingest = h.ingest_up;
    query = h.query_up;

    respond_json(req, ingest && query ? 200 : 503,
                 json_pack("{s:s, s:b, s:b}", "status", ingest && query ? "ready" : "not ready",
                           "ingest_redis", ingest, "query_redis", query));
}

static void on_request(struct slt_http_req *req, void *data)
{
    struct slt_api *api = data;
    char name[SLT_API_MAX_NAME];
    int route = slt_api_route(req->path, name, sizeof(name));

    if (api->token && route != SLT_ROUTE_HEALTHZ &&
        !slt_http_bearer_matches(req->authorization, api->token, api->token_len)) {
        static const char body[] = "{\"error\": \"a bearer token is required\", \"status\": 401}";

        /* never the token sent, right or wrong */
        api->stats->api_auth_failures++;
        slt_http_respond(req, 401, "application/json", body, sizeof(body) - 1,
                         "WWW-Authenticate: Bearer realm=\"slitail\"\r\n");
        return;
    }
    if (api->stopping) {
        respond_error(req, 503, "shutting down");
        return;
    }
    switch (route) {
    case SLT_ROUTE_DASHBOARD:
        slt_http_respond(req, 200, "text/html; charset=utf-8", slt_dashboard_html,
                         slt_dashboard_html_len(),
                         "Content-Security-Policy: default-src 'self'; style-src 'unsafe-inline'; "
                         "script-src 'unsafe-inline'\r\n");
        break;
    case SLT_ROUTE_HEALTHZ:
        respond_json(req, 200, json_pack("{s:s}", "status", "ok"));
        break;
    case SLT_ROUTE_READYZ:
        handle_readyz(api, req);
        break;
    case SLT_ROUTE_METRICS:
        handle_metrics(api, req);
        break;
    case SLT_ROUTE_SLIS:
        handle_slis(api, req);
        break;
    case SLT_ROUTE_COUNTS:
        handle_counts(api, req, name);
        break;
    case SLT_ROUTE_SLOS:
        handle_slos(api, req, NULL);
        break;
    case SLT_ROUTE_SLO:
        handle_slos(api, req, name);
        break;
    case SLT_ROUTE_SLO_SERIES:
        handle_slo_series(api, req, name);
        break;
    case SLT_ELIMIT:
        respond_error(req, 404, "unknown SLI (name too long)");
        break;
    case SLT_EPARSE:
        respond_error(req, 400, "bad percent-encoding in the SLI name");
        break;
    default:
        respond_error(req, 404, "no such endpoint");
        break;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Lifecycle                                                                                   */

/* Takes token (NULL: none); the old one is wiped. */
static void api_set_token(struct slt_api *api, char *token, size_t len)
{
    if (api->token) {
        memset(api->token, 0, api->token_len);
        slt_free(api->token);
    }
    api->token = token;
    api->token_len = len;
}

/* aggregator.api_token_file and aggregator.http_tls from cfg; 0 or an error (logged). */
static int api_load_secrets(struct slt_api *api, const struct slt_config *cfg, int reload)
{
    const struct slt_aggr_conf *a = &cfg->aggregator;
    char err[512];
    char *tok = NULL;
    size_t len = 0;
    int rc = 0;

    if (a->api_token_file &&
        (rc = slt_aggr_read_token(a->api_token_file, &tok, &len, err, sizeof(err))) < 0) {
        slt_log(SLT_LOG_ERROR, COMPONENT, "aggregator.api_token_file: %s%s", err,
                reload ? "; keeping the token in use" : "");
        if (!reload)
            return rc;
    } else {
        api_set_token(api, tok, len);
    }
    if (!a->http_tls.enabled != !api->http_tls) {
        if (reload)
            slt_log(SLT_LOG_WARN, COMPONENT,
                    "turning aggregator.http_tls on or off takes effect only after a restart");
        else
            rc = slt_tls_new(
                SLT_TLS_SERVER,
                &(struct slt_tls_opts){a->http_tls.cert_file, a->http_tls.key_file, NULL}, "http",
                &api->http_tls, err, sizeof(err));
    } else if (api->http_tls) {
        rc = slt_tls_reload(
            api->http_tls,
            &(struct slt_tls_opts){a->http_tls.cert_file, a->http_tls.key_file, NULL}, err,
            sizeof(err));
    }
    if (rc < 0) {
        slt_log(SLT_LOG_ERROR, COMPONENT, "aggregator.http_tls: %s%s", err,
                reload ? "; keeping the certificate in use" : "");
        return reload ? 0 : rc;
    }
    return 0;
}

static void api_maybe_stopped(struct slt_api *api)
{
    void (*cb)(void *);
    void *d;

    if (!api->stopping || !api->http_stopped || api->nqueries)
        return;
    cb = api->on_stopped;
    d = api->stopped_data;
    slt_tls_free(api->http_tls);
    api_set_token(api, NULL, 0);
    slt_free(api);
    if (cb)
        cb(d);
}

static void on_http_stopped(void *data)
{
    struct slt_api *api = data;

    api->http_stopped = 1;
    api_maybe_stopped(api);
}

/* /healthz and /readyz are answered even when every API connection is taken (slowloris). */
static const char *const probe_paths[] = {"/healthz", "/readyz", NULL};
static const struct slt_http_limits http_limits = {
    .max_header_bytes = 8192,
    .header_timeout_ms = 5000,
    .idle_timeout_ms = 30000,
    .max_conns = 256,
    .probe_paths = probe_paths,
    .probe_conns = 16,
    .probe_timeout_ms = 1000,
    .evict_idle = 1,
};

int slt_api_start(struct uv_loop_s *loop, const struct slt_config *cfg,
                  struct slt_aggr_stats *stats, struct slt_store *store, struct slt_api **out)
{
    struct slt_api *api;
    const char *listen =
        cfg && cfg->aggregator.http_listen ? cfg->aggregator.http_listen : "127.0.0.1:7480";
    int rc;

    api = slt_calloc(1, sizeof(*api));
    if (!api)
        return SLT_ENOMEM;
    api->loop = loop;
    api->cfg = cfg;
    api->stats = stats ? stats : &api->own_stats;
    api->store = store;
    api->redis_timeout_ms =
        cfg && cfg->aggregator.redis_timeout_ms > 0 ? cfg->aggregator.redis_timeout_ms : 2000;
    if (cfg && (rc = api_load_secrets(api, cfg, 0)) < 0) {
        slt_tls_free(api->http_tls);
        api_set_token(api, NULL, 0);
        slt_free(api);
        return rc;
    }
    rc = slt_http_server_start_tls(loop, listen, &http_limits, api->http_tls, on_request, api,
                                   &api->http);
    if (rc < 0) {
        slt_tls_free(api->http_tls);
        api_set_token(api, NULL, 0);
        slt_free(api);
        return rc;
    }
    slt_log(SLT_LOG_INFO, COMPONENT, "http api listening on %s (port %d%s%s)", listen,
            slt_http_server_port(api->http), api->http_tls ? ", https" : "",
            api->token ? ", bearer token required" : "");
    *out = api;
    return 0;
}

int slt_api_port(const struct slt_api *api)
{
    return api && api->http ? slt_http_server_port(api->http) : 0;
}

void slt_api_set_alert_state(struct slt_api *api, slt_api_alert_state_fn fn, void *data)
{
    if (!api)
        return;
    api->alert_state = fn;
    api->alert_data = data;
}

void slt_api_set_config(struct slt_api *api, const struct slt_config *cfg)
{
    if (!api)
        return;
    /* listen and redis addresses need a restart; SLIs, SLOs, windows and retention follow */
    api->cfg = cfg;
    if (cfg && cfg->aggregator.redis_timeout_ms > 0)
        api->redis_timeout_ms = cfg->aggregator.redis_timeout_ms;
    if (cfg)
        (void)api_load_secrets(api, cfg, 1);
}

void slt_api_set_ingest_tls(struct slt_api *api, struct slt_tls *tls)
{
    if (api)
        api->ingest_tls = tls;
}

void slt_api_stop(struct slt_api *api, void (*on_stopped)(void *data), void *data)
{
    if (!api) {
        if (on_stopped)
            on_stopped(data);
        return;
    }
    api->stopping = 1;
    api->on_stopped = on_stopped;
    api->stopped_data = data;
    /* every query waiting for the store ends now */
    while (api->queries) {
        struct query *q = api->queries;

        slt_store_req_cancel(&q->rq);
        q_answer_error(q, 503, "shutting down");
        q_release(q);
    }
    slt_http_server_close(api->http, on_http_stopped, api);
}
