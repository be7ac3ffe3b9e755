/*
 * The aggregator's HTTP side: JSON API, Prometheus /metrics, /healthz, /readyz and the
 * dashboard page. It asks the store (store.h) for counts. docs/API.md is the reference.
 *
 * Calling sequence (from main.c):
 *   slt_api_start(loop, cfg, stats, store, &api)   listens on cfg->aggregator.http_listen
 *   slt_api_set_config(api, cfg)              after a reload (the old cfg may be freed after)
 *   slt_api_close(api, on_closed, data)       closes every handle; on_closed runs last
 */
#ifndef SLT_API_H
#define SLT_API_H

#include <stddef.h>

#include "slt/common.h"
#include "stats.h"

struct uv_loop_s;
struct slt_config;
struct slt_api;
struct slt_store;

/* store is borrowed: it must outlive the API (main closes it after slt_api_close finished). */
int slt_api_start(struct uv_loop_s *loop, const struct slt_config *cfg,
                  struct slt_aggr_stats *stats, struct slt_store *store, struct slt_api **out);
void slt_api_set_config(struct slt_api *api, const struct slt_config *cfg);
/* The agent listener's TLS context (borrowed), whose counters /metrics shows. */
struct slt_tls;
void slt_api_set_ingest_tls(struct slt_api *api, struct slt_tls *tls);
/* The lifecycle verb (slt/common.h): answers every query still waiting with 503, closes every
 * handle, frees api; on_closed runs last. */
void slt_api_close(struct slt_api *api, slt_closed_cb on_closed, void *data);

/*
 * Where the API asks whether a tier fires and since when (the alert module's state, which
 * decides notifications); without one the API shows its own evaluation and no `since`.
 * fn may overwrite *firing and sets *since (0: unknown).
 */
typedef void (*slt_api_alert_state_fn)(void *data, const char *slo, const char *tier, int *firing,
                                       int64_t *since);
void slt_api_set_alert_state(struct slt_api *api, slt_api_alert_state_fn fn, void *data);

/* The HTTP port actually bound (for tests that listen on port 0). */
int slt_api_port(const struct slt_api *api);

/* Routes of the API (rows of api.c's route table); slt_api_route() maps a raw path to one. */
enum slt_api_route {
    SLT_ROUTE_NOT_FOUND = 0,
    SLT_ROUTE_DASHBOARD,  /* / */
    SLT_ROUTE_HEALTHZ,    /* /healthz */
    SLT_ROUTE_READYZ,     /* /readyz */
    SLT_ROUTE_METRICS,    /* /metrics */
    SLT_ROUTE_SLIS,       /* /api/v1/slis */
    SLT_ROUTE_COUNTS,     /* /api/v1/slis/{name}/counts */
    SLT_ROUTE_SLOS,       /* /api/v1/slos */
    SLT_ROUTE_SLO,        /* /api/v1/slos/{name} */
    SLT_ROUTE_SLO_SERIES, /* /api/v1/slos/{name}/series */
};

/*
 * Map a raw (percent-encoded) path to a route (pure, fuzzed). For SLT_ROUTE_COUNTS the decoded
 * SLI name (for SLT_ROUTE_SLO and SLT_ROUTE_SLO_SERIES the SLO name) is written to name (room
 * for namemax bytes with its NUL). Returns the route, or SLT_EPARSE for a bad escape in the
 * name, SLT_ELIMIT for a name too long.
 */
int slt_api_route(struct slt_str path, char *name, size_t namemax);

/*
 * Query parameters of /counts: from, to (UNIX seconds, multiples of 60, from < to) and an
 * optional step (a multiple of 60). Returns 0, or SLT_EINVAL with a message in err.
 */
struct slt_api_range {
    int64_t from, to, step; /* step 0: no series */
    size_t npoints;
};
int slt_api_parse_range(struct slt_str query, struct slt_api_range *r, char *err, size_t errlen);

/* Limits of the API (docs/API.md). */
#define SLT_API_MAX_RANGE_S (4000LL * 86400) /* longest range */
#define SLT_API_MAX_POINTS 10000             /* points of a series */
#define SLT_API_MAX_KEYS 20000               /* buckets one request may read */
#define SLT_API_MAX_SLO_KEYS 500000          /* /slos, /metrics: every SLO window (config-bound) */
#define SLT_API_MAX_SERIES 5000              /* SLIs and inputs listed */
#define SLT_API_MAX_QUERIES 256              /* requests waiting for Redis */
#define SLT_API_MAX_NAME 256                 /* bytes of an SLI name */

#endif
