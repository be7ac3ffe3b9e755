/*
 * What the API's endpoints share: JSON answers, and the query that runs a request in steps
 * against the store.
 *
 * A request that needs stored counts becomes a struct query, which runs in steps: each step
 * queues its reads in one store request (struct slt_store_req) and the store's answer runs
 * the next step, until the query answered. The store answers every request within
 * redis_timeout_ms, so a query never waits longer and never leaks.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "slo.h"
#include "slt/config.h"
#include "store.h"

/* ------------------------------------------------------------------------------------------ */
/* Small helpers                                                                               */

int64_t slt__api_now_s(void)
{
    return slt_now_ms() / 1000;
}

int slt__api_valid_utf8(const char *p, size_t len)
{
    json_t *s = json_stringn(p, len);

    json_decref(s);
    return s != NULL;
}

void slt__api_respond_json(struct slt_http_req *req, int status, json_t *j)
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

void slt__api_respond_error(struct slt_http_req *req, int status, const char *msg)
{
    slt__api_respond_json(req, status, json_pack("{s:s, s:i}", "error", msg, "status", status));
}

json_t *slt__api_counts_json(const int64_t v[3])
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
/* Queries                                                                                     */

static int names_add(struct query *q, char kind, const char *name, size_t len, int configured);

void slt__query_answer_json(struct query *q, int status, json_t *j)
{
    if (q->answered) {
        json_decref(j);
        return;
    }
    q->answered = 1;
    slt__api_respond_json(q->req, status, j);
    q->req = NULL;
}

void slt__query_answer_error(struct query *q, int status, const char *msg)
{
    if (status >= 500)
        q->api->query_errors++;
    if (status >= 500 && q->route == SLT_ROUTE_METRICS && !q->answered) {
        /* Redis could not be read (or held garbage): still show the aggregator's own health */
        struct slt_http_req *req = q->req;

        q->answered = 1;
        q->req = NULL;
        slt__api_respond_metrics(q->api, NULL, req);
        return;
    }
    slt__query_answer_json(q, status, json_pack("{s:s, s:i}", "error", msg, "status", status));
}

void slt__query_answer_raw(struct query *q, int status, const char *ctype, const char *body,
                           size_t len)
{
    if (q->answered)
        return;
    q->answered = 1;
    slt_http_respond(q->req, status, ctype, body, len, NULL);
    q->req = NULL;
}

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

void slt__query_release(struct query *q)
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
    slt__api_maybe_stopped(api);
}

/*
 * After a step queued its reads (or answered): sends them, or releases the query once it is
 * answered. The answer comes to q_on_reply, which runs the next step.
 */
void slt__query_go(struct query *q)
{
    struct slt_api *api = q->api;

    if (!q->answered) {
        int rc =
            api->store ? slt_store_req_send(api->store, &q->rq, api->redis_timeout_ms) : SLT_EREDIS;

        if (rc == 0)
            return;
        slt__query_answer_error(q, rc == SLT_EREDIS ? 503 : 500,
                                rc == SLT_EREDIS ? "redis unavailable" : slt_strerror(rc));
    }
    slt__query_release(q);
}

static void q_on_reply(struct slt_store_req *rq)
{
    struct query *q = rq->data;
    void (*fn)(struct query *) = q->on_done;

    q->on_done = NULL;
    if (rq->status == SLT_ETIMEDOUT) {
        slt__query_answer_error(q, 503, "redis did not answer in time");
    } else if (rq->status == SLT_ECORRUPT) {
        slt__query_answer_error(q, 500, "redis holds a value that is not a counter");
    } else if (rq->status < 0) {
        slt__query_answer_error(q, 503, "redis unavailable");
    } else if (!fn) {
        slt__query_answer_error(q, 500, "internal error: query finished without an answer");
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
            slt__query_answer_error(q, 500, "out of memory");
        else
            fn(q);
    }
    slt__query_go(q);
}

struct query *slt__query_new(struct slt_api *api, struct slt_http_req *req, enum slt_api_route r)
{
    struct slt_store_health h;
    struct query *q;

    if (api->store)
        slt_store_health(api->store, &h);
    if (!api->store || !h.query_up) {
        slt__api_respond_error(req, 503, "redis unavailable");
        return NULL;
    }
    if (api->nqueries >= SLT_API_MAX_QUERIES) {
        slt__api_respond_error(req, 503, "too many requests waiting for redis");
        return NULL;
    }
    q = slt_calloc(1, sizeof(*q));
    if (!q) {
        slt__api_respond_error(req, 500, "out of memory");
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

int slt__query_alloc_sums(struct query *q, size_t n)
{
    slt_free(q->sums);
    q->sums = NULL;
    q->nsums = 0;
    return slt_store_req_sums(&q->rq, n);
}

int slt__query_range(struct query *q, const char *name, int64_t from, int64_t to, uint32_t owner,
                     int *partial)
{
    return slt_store_req_range(&q->rq, q->api->store, SLT_SERIES_SLI, name, from, to, owner,
                               slt__api_now_s(), partial);
}

/* ---- series listing, shared by /slis, /metrics and /slos -------------------------------- */

static int name_cmp(const void *a, const void *b)
{
    const struct series_name *x = a, *y = b;
    int c = x->kind - y->kind;

    return c ? c : strcmp(x->name, y->name);
}

/*
 * Appends a series name (no scan for duplicates: slt__query_names_sort_unique merges them once
 * every name is in, in O(n log n), so a large series set costs no quadratic work on the loop).
 */
static int names_add(struct query *q, char kind, const char *name, size_t len, int configured)
{
    struct series_name *n;

    if (len == 0 || len >= SLT_API_MAX_NAME || memchr(name, '\0', len) ||
        !slt__api_valid_utf8(name, len))
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

void slt__query_names_sort_unique(struct query *q)
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

void slt__query_list_series(struct query *q, void (*next)(struct query *q))
{
    const struct slt_config *cfg = q->api->cfg;
    size_t i;

    for (i = 0; cfg && i < cfg->nslis; i++) {
        if (cfg->slis[i].name &&
            names_add(q, 's', cfg->slis[i].name, strlen(cfg->slis[i].name), 1) < 0) {
            slt__query_answer_error(q, 500, "out of memory");
            return;
        }
    }
    q->on_done = next;
    if (slt_store_req_series(&q->rq) < 0)
        slt__query_answer_error(q, 500, "out of memory");
}
