/*
 * The aggregator's HTTP side: JSON API, Prometheus /metrics, /healthz, /readyz and the
 * dashboard page. It keeps its own Redis connection for queries.
 *
 * Calling sequence (from main.c):
 *   slt_api_start(loop, cfg, stats, &api)     listens on cfg->aggregator.http_listen
 *   slt_api_set_config(api, cfg)              after a reload (the old cfg may be freed after)
 *   slt_api_stop(api, on_stopped, data)       closes every handle; on_stopped runs last
 */
#ifndef SLT_API_H
#define SLT_API_H

#include "stats.h"

struct uv_loop_s;
struct slt_config;
struct slt_api;

int slt_api_start(struct uv_loop_s *loop, const struct slt_config *cfg,
                  struct slt_aggr_stats *stats, struct slt_api **out);
void slt_api_set_config(struct slt_api *api, const struct slt_config *cfg);
void slt_api_stop(struct slt_api *api, void (*on_stopped)(void *data), void *data);

#endif
