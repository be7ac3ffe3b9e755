/*
 * /healthz (the process answers; open without the bearer token) and /readyz (both Redis
 * connections are up). Both are answered even when every API connection is taken (api.c's
 * probe_paths).
 */
#include <jansson.h>
#include <string.h>

#include "api_internal.h"
#include "store.h"

void slt__api_handle_healthz(struct slt_api *api, struct slt_http_req *req, const char *name)
{
    (void)api;
    (void)name;
    slt__api_respond_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

void slt__api_handle_readyz(struct slt_api *api, struct slt_http_req *req, const char *name)
{
    struct slt_store_health h;
    int ingest, query;

    (void)name;
    memset(&h, 0, sizeof(h));
    if (api->store)
        slt_store_health(api->store, &h);
    ingest = h.ingest_up;
    query = h.query_up;

    slt__api_respond_json(req, ingest && query ? 200 : 503,
                          json_pack("{s:s, s:b, s:b}", "status",
                                    ingest && query ? "ready" : "not ready", "ingest_redis", ingest,
                                    "query_redis", query));
}
