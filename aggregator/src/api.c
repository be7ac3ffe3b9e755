/* Placeholder until the HTTP API lands (replaced by the aggregator HTTP work). */
#include <stddef.h>

#include "api.h"

int slt_api_start(struct uv_loop_s *loop, const struct slt_config *cfg,
                  struct slt_aggr_stats *stats, struct slt_api **out)
{
    (void)loop;
    (void)cfg;
    (void)stats;
    *out = NULL;
    return 0;
}

void slt_api_set_config(struct slt_api *api, const struct slt_config *cfg)
{
    (void)api;
    (void)cfg;
}

void slt_api_stop(struct slt_api *api, void (*on_stopped)(void *data), void *data)
{
    (void)api;
    if (on_stopped)
        on_stopped(data);
}
