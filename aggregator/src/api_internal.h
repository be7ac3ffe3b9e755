/*
 * What the files of the HTTP API share (not part of its contract, which is api.h).
 *
 * api.c holds the route table, the dispatch (bearer token, 404, 405) and the lifecycle; each
 * endpoint family has its own file with its handlers: api_counts.c (/api/v1/slis...),
 * api_slos.c (/api/v1/slos...), api_metrics.c (/metrics), api_health.c (/healthz, /readyz) and
 * api_dashboard.c (/). api_query.c runs the requests that read the store (struct query) and
 * writes the JSON answers. A new endpoint is one row in api.c and one file (docs/API.md).
 */
#ifndef SLT_API_INTERNAL_H
#define SLT_API_INTERNAL_H

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#include "api.h"
#include "http.h"
#include "slo.h"
#include "store.h"
#include "window.h"

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
    slt_closed_cb on_stopped;
    void *stopped_data;
};

/*
 * A handler of the route table: answers req (now, or later from a query). name is the decoded
 * {name} of the path, NULL for a path without one.
 */
typedef void slt_api_handler_fn(struct slt_api *api, struct slt_http_req *req, const char *name);

slt_api_handler_fn slt__api_handle_dashboard; /* api_dashboard.c */
slt_api_handler_fn slt__api_handle_healthz;   /* api_health.c */
slt_api_handler_fn slt__api_handle_readyz;
slt_api_handler_fn slt__api_handle_metrics; /* api_metrics.c */
slt_api_handler_fn slt__api_handle_slis;    /* api_counts.c */
slt_api_handler_fn slt__api_handle_counts;
slt_api_handler_fn slt__api_handle_slos; /* api_slos.c: /slos (name NULL) and /slos/{name} */
slt_api_handler_fn slt__api_handle_slo_series;

/* The dashboard page (dashboard_page.c, generated from aggregator/web). */
extern const char slt_dashboard_html[];
size_t slt_dashboard_html_len(void);

/* ---- api_query.c: answers ----------------------------------------------------------------- */

int64_t slt__api_now_s(void);
/* 1 when p[0..len) is valid UTF-8 (JSON strings and Prometheus labels must be). */
int slt__api_valid_utf8(const char *p, size_t len);
/* Answers req with j (taken; NULL: 500 out of memory). */
void slt__api_respond_json(struct slt_http_req *req, int status, json_t *j);
void slt__api_respond_error(struct slt_http_req *req, int status, const char *msg);
/* {good, bad, excluded, ratio} of v. */
json_t *slt__api_counts_json(const int64_t v[3]);

/* ---- api_query.c: queries ----------------------------------------------------------------- */

/*
 * A query for req on route r, or NULL when req was answered already (503 without Redis or
 * with SLT_API_MAX_QUERIES waiting, 500 out of memory). A handler queues the reads of the
 * first step, sets on_done and calls slt__query_go, which sends them or, once the query
 * answered, releases it.
 */
struct query *slt__query_new(struct slt_api *api, struct slt_http_req *req, enum slt_api_route r);
void slt__query_go(struct query *q);
void slt__query_release(struct query *q);
/* The answer (once; later ones are dropped). A 5xx of /metrics still shows the own health. */
void slt__query_answer_json(struct query *q, int status, json_t *j);
void slt__query_answer_error(struct query *q, int status, const char *msg);
void slt__query_answer_raw(struct query *q, int status, const char *ctype, const char *body,
                           size_t len);
/* Allocates the sums the next step's reads add into. */
int slt__query_alloc_sums(struct query *q, size_t n);
/*
 * Queues the buckets of [from, to) of SLI name adding into sums[owner]; sets *partial when a
 * bucket is older than its retention. Returns 0, SLT_ELIMIT past SLT_API_MAX_KEYS buckets.
 */
int slt__query_range(struct query *q, const char *name, int64_t from, int64_t to, uint32_t owner,
                     int *partial);
/* Starts a query that lists every series (config SLIs and slt:series), then runs next. */
void slt__query_list_series(struct query *q, void (*next)(struct query *q));
/* Sorts the names by kind and name and merges duplicates (a configured SLI Redis knows too). */
void slt__query_names_sort_unique(struct query *q);

/* ---- api_slos.c, for /metrics -------------------------------------------------------------- */

/*
 * Copies the SLOs of the config (only the one called only, when not NULL) and lays out their
 * sums from base on: returns the number of sums needed in *nsums. 0, SLT_ENOMEM, or
 * SLT_ENOTFOUND when only names no SLO.
 */
int slt__query_copy_slos(struct query *q, const char *only, size_t base, size_t *nsums);
/* Queues every bucket of the SLO windows and every plan window; sums must be allocated. */
int slt__query_queue_slos(struct query *q);
/* The evaluation of SLO i, and where its data starts (0: no data in the window). */
void slt__query_slo_evaluate(const struct query *q, size_t i, struct slt_slo_eval *e,
                             int64_t *first);

/* ---- api_metrics.c, api.c ------------------------------------------------------------------ */

/* Answers /metrics; q is NULL when Redis could not be read (own health only). */
void slt__api_respond_metrics(struct slt_api *api, struct query *q, struct slt_http_req *req);
/* Frees the API once it is stopping, its server stopped and no query is left. */
void slt__api_maybe_stopped(struct slt_api *api);

#endif
