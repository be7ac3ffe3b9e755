/*
 * Prometheus text exposition format 0.0.4 for /metrics: label escaping, HELP/TYPE lines and
 * the aggregator's own counters from struct slt_aggr_stats.
 */
#ifndef SLT_METRICS_PROM_H
#define SLT_METRICS_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "slt/common.h"
#include "stats.h"

/*
 * The Redis apply latency histogram comes from stats.h: redis_latency_bucket[i] is cumulative
 * (applies that took at most SLT_REDIS_LATENCY_BOUNDS[i] seconds), redis_latency_count is +Inf.
 */
#define SLT_PROM_LATENCY_BUCKETS 12
extern const double slt_prom_latency_bounds[SLT_PROM_LATENCY_BUCKETS];

/* Appends "# HELP name help\n# TYPE name type\n". */
int slt_prom_header(struct slt_buf *b, const char *name, const char *type, const char *help);
/* Appends the aggregator's own health metrics. */
int slt_prom_aggr_stats(struct slt_buf *b, const struct slt_aggr_stats *st);

#endif
