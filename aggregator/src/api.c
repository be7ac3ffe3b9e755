/*
 * The aggregator's HTTP API: the route table, the dispatch of requests from the HTTP server
 * (slt/http.h) through it, and the API's lifecycle. Each endpoint family has its own file
 * (api_internal.h lists them); api.h is the contract, docs/API.md the reference.
 */
#include "api.h"

#include <stdio.h>
#include <string.h>

#include "aggr.h"
#include "api_internal.h"
#include "slt/config.h"
#include "slt/tls.h"

#define COMPONENT "api"

/* ------------------------------------------------------------------------------------------ */
/* Routes                                                                                      */

/* The methods of a route, as bits of enum slt_http_method; GET comes with HEAD (no body). */
#define API_GET ((1u << SLT_HTTP_GET) | (1u << SLT_HTTP_HEAD))

/*
 * One endpoint: its methods, its path (exact, or with one {name} segment: the raw segment is
 * percent-decoded and may not hold a '/'), its route (api.h) and its handler.
 */
struct api_route {
    unsigned methods;
    const char *path;
    enum slt_api_route route;
    slt_api_handler_fn *handler;
};

/* Adding an endpoint: a row here, a value in enum slt_api_route, a handler in its own file. */
static const struct api_route routes[] = {
    {API_GET, "/", SLT_ROUTE_DASHBOARD, slt__api_handle_dashboard},
    {API_GET, "/index.html", SLT_ROUTE_DASHBOARD, slt__api_handle_dashboard},
    {API_GET, "/healthz", SLT_ROUTE_HEALTHZ, slt__api_handle_healthz},
    {API_GET, "/readyz", SLT_ROUTE_READYZ, slt__api_handle_readyz},
    {API_GET, "/metrics", SLT_ROUTE_METRICS, slt__api_handle_metrics},
    {API_GET, "/api/v1/slis", SLT_ROUTE_SLIS, slt__api_handle_slis},
    {API_GET, "/api/v1/slis/{name}/counts", SLT_ROUTE_COUNTS, slt__api_handle_counts},
    {API_GET, "/api/v1/slos", SLT_ROUTE_SLOS, slt__api_handle_slos},
    {API_GET, "/api/v1/slos/{name}", SLT_ROUTE_SLO, slt__api_handle_slos},
    {API_GET, "/api/v1/slos/{name}/series", SLT_ROUTE_SLO_SERIES, slt__api_handle_slo_series},
};

/*
 * 1 when path matches the route's path (its {name} decoded into name), 0 when not, SLT_EPARSE
 * for a bad escape in the name, SLT_ELIMIT for a name too long.
 */
static int route_match(const struct api_route *rt, struct slt_str path, char *name, size_t namemax)
{
    const char *hole = strstr(rt->path, "{name}");
    const char *suffix;
    size_t plen, slen, nlen;
    long r;

    if (!hole)
        return slt_str_eq(path, rt->path);
    suffix = hole + sizeof("{name}") - 1;
    plen = (size_t)(hole - rt->path);
    slen = strlen(suffix);
    if (path.len <= plen + slen || memcmp(path.p, rt->path, plen) != 0 ||
        memcmp(path.p + path.len - slen, suffix, slen) != 0)
        return 0;
    nlen = path.len - plen - slen;
    if (memchr(path.p + plen, '/', nlen))
        return 0;
    r = slt_http_pct_decode(path.p + plen, nlen, name, namemax, 0);
    if (r < 0)
        return (int)r;
    return r > 0;
}

/*
 * The route of path for method (0: any), *row its table row. A path some row knows but none
 * for method: SLT_ROUTE_NOT_FOUND with the methods of those rows in *allow (else 0).
 */
static int route_find(struct slt_str path, unsigned method, char *name, size_t namemax,
                      const struct api_route **row, unsigned *allow)
{
    size_t i;

    *row = NULL;
    *allow = 0;
    for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        int m = route_match(&routes[i], path, name, namemax);

        if (m < 0)
            return m;
        if (m == 0)
            continue;
        if (method && !(routes[i].methods & (1u << method))) {
            *allow |= routes[i].methods;
            continue;
        }
        *row = &routes[i];
        *allow = 0;
        return (int)routes[i].route;
    }
    return SLT_ROUTE_NOT_FOUND;
}

int slt_api_route(struct slt_str path, char *name, size_t namemax)
{
    const struct api_route *row;
    unsigned allow;

    return route_find(path, 0, name, namemax, &row, &allow);
}

static void respond_not_allowed(struct slt_http_req *req, unsigned allow)
{
    static const char body[] = "{\"error\":\"Method Not Allowed\",\"status\":405}\n";
    char hdr[64];

    /* as the HTTP server answers a method it does not serve at all */
    snprintf(hdr, sizeof(hdr), "Allow: %s%s%s\r\n", allow & (1u << SLT_HTTP_GET) ? "GET" : "",
             (allow & API_GET) == API_GET ? ", " : "", allow & (1u << SLT_HTTP_HEAD) ? "HEAD" : "");
    slt_http_respond(req, 405, "application/json", body, sizeof(body) - 1, hdr);
}

static void on_request(struct slt_http_req *req, void *data)
{
    struct slt_api *api = data;
    char name[SLT_API_MAX_NAME];
    const struct api_route *row;
    unsigned allow;
    int route = route_find(req->path, req->method, name, sizeof(name), &row, &allow);

    if (allow) {
        respond_not_allowed(req, allow);
        return;
    }
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
        slt__api_respond_error(req, 503, "shutting down");
        return;
    }
    if (row)
        row->handler(api, req, strstr(row->path, "{name}") ? name : NULL);
    else if (route == SLT_ELIMIT)
        slt__api_respond_error(req, 404, "unknown SLI (name too long)");
    else if (route == SLT_EPARSE)
        slt__api_respond_error(req, 400, "bad percent-encoding in the SLI name");
    else
        slt__api_respond_error(req, 404, "no such endpoint");
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

void slt__api_maybe_stopped(struct slt_api *api)
{
    slt_closed_cb cb;
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
    slt__api_maybe_stopped(api);
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

void slt_api_close(struct slt_api *api, slt_closed_cb on_stopped, void *data)
{
    if (!api) {
        if (on_stopped)
            on_stopped(data);
        return;
    }
    if (api->stopping)
        return;
    api->stopping = 1;
    api->on_stopped = on_stopped;
    api->stopped_data = data;
    /* every query waiting for the store ends now */
    while (api->queries) {
        struct query *q = api->queries;

        slt_store_req_cancel(&q->rq);
        slt__query_answer_error(q, 503, "shutting down");
        slt__query_release(q);
    }
    slt_http_server_close(api->http, on_http_stopped, api);
}
