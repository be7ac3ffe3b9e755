/*
 * /metrics: the counters of every series and the state of every SLO from Redis, then the
 * aggregator's own health (also alone, when Redis cannot be read), in the Prometheus text
 * format 0.0.4. docs/METRICS.md lists the families.
 */
#include <inttypes.h>
#include <string.h>

#include "api_internal.h"
#include "metrics_prom.h"
#include "slo.h"
#include "slt/tls.h"
#include "store.h"

#define METRICS_MAX_BYTES (32u << 20)

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
        slt__query_slo_evaluate(q, i, &ev[i], &first);
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

void slt__api_respond_metrics(struct slt_api *api, struct query *q, struct slt_http_req *req)
{
    static const char ctype[] = "text/plain; version=0.0.4; charset=utf-8";
    struct slt_buf b;

    slt_buf_init(&b, METRICS_MAX_BYTES);
    if (render_metrics(api, q, &b) < 0) {
        slt_buf_release(&b);
        if (q)
            slt__query_answer_error(q, 500, "metrics too large");
        else
            slt__api_respond_error(req, 500, "metrics too large");
        return;
    }
    if (q)
        slt__query_answer_raw(q, 200, ctype, b.p ? b.p : "", b.len);
    else
        slt_http_respond(req, 200, ctype, b.p ? b.p : "", b.len, NULL);
    slt_buf_release(&b);
}

static void metrics_done(struct query *q)
{
    slt__api_respond_metrics(q->api, q, NULL);
}

static void metrics_listed(struct query *q)
{
    size_t i, nslo = 0;
    int rc;

    slt__query_names_sort_unique(q);
    q->on_done = metrics_done;
    slt_store_req_limit(&q->rq, SLT_API_MAX_SLO_KEYS); /* as /api/v1/slos */
    rc = slt__query_copy_slos(q, NULL, q->nnames, &nslo);
    if (rc == 0)
        rc = slt__query_alloc_sums(q, q->nnames + nslo);
    for (i = 0; rc == 0 && i < q->nnames; i++)
        rc =
            slt_store_req_total(&q->rq, q->names[i].kind == 's' ? SLT_SERIES_SLI : SLT_SERIES_INPUT,
                                q->names[i].name, i);
    if (rc == 0)
        rc = slt__query_queue_slos(q);
    if (rc < 0)
        slt__query_answer_error(q, rc == SLT_EREDIS ? 503 : 500, slt_strerror(rc));
}

void slt__api_handle_metrics(struct slt_api *api, struct slt_http_req *req, const char *name)
{
    struct query *q;

    struct slt_store_health h;

    (void)name;
    if (api->store)
        slt_store_health(api->store, &h);
    if (!api->store || !h.query_up || api->nqueries >= SLT_API_MAX_QUERIES) {
        slt__api_respond_metrics(api, NULL, req);
        return;
    }
    q = slt__query_new(api, req, SLT_ROUTE_METRICS);
    if (!q)
        return;
    slt__query_list_series(q, metrics_listed);
    slt__query_go(q);
}
