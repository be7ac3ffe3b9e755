/*
 * Burn-rate alert delivery. Every alerting.interval the module asks the store (store.h) for
 * the sums of every SLO (one request, answered within aggregator.redis_timeout),
 * evaluates them with slo.c and notifies:
 *   Alertmanager   every firing alert at every evaluation (POST {url}/api/v2/alerts, endsAt
 *                  now + 4 intervals) and each resolve once (endsAt = when it resolved),
 *                  until a 2xx answer takes it;
 *   a webhook      one JSON document per state change (firing, resolved), from a bounded
 *                  queue, oldest first; a failed one is retried at the next evaluation. A
 *                  compare-and-set of the alert's state in the store makes one aggregator of
 *                  several send each change.
 * Nothing here blocks ingest: it only runs libuv callbacks. docs/ALERTS.md is the reference.
 *
 * Calling sequence (main.c):
 *   slt_alert_start(loop, cfg, stats, store, &al)   first evaluation after one interval
 *   slt_alert_set_config(al, cfg)            after a reload; copies what it needs
 *   slt_alert_close(al, on_closed, data)     cancels what is in flight; on_closed runs last
 */
#ifndef SLT_ALERT_H
#define SLT_ALERT_H

#include <stddef.h>
#include <stdint.h>

#include "slt/common.h" /* slt_closed_cb */
#include "stats.h"

struct uv_loop_s;
struct slt_config;
struct slt_alert;
struct slt_store;

/* Webhook documents waiting to be sent, at most; past it the oldest is dropped (counted). */
#define SLT_ALERT_QUEUE_MAX 256
/* Bucket reads one evaluation may send (every bucket of every SLO window). */
#define SLT_ALERT_MAX_KEYS 500000

/*
 * Starts the evaluation timer. cfg is copied (it may be freed after the call). Returns 0, or
 * SLT_ENOMEM / SLT_ECONFIG (a Redis or receiver address the config loader let through but
 * that does not parse; not expected).
 */
int slt_alert_start(struct uv_loop_s *loop, const struct slt_config *cfg,
                    struct slt_aggr_stats *stats, struct slt_store *store, struct slt_alert **out);
/*
 * Takes the SLOs, receivers, labels and intervals of a reloaded config. Alert states carry
 * over by SLO name; an SLO that is gone while firing is resolved. Returns 0, or SLT_ENOMEM /
 * SLT_ECONFIG and the old settings stay.
 */
int slt_alert_set_config(struct slt_alert *al, const struct slt_config *cfg);
/* The lifecycle verb (slt/common.h): stops and frees al; on_closed(data) runs once every
 * handle is closed. */
void slt_alert_close(struct slt_alert *al, slt_closed_cb on_closed, void *data);

/*
 * The state of tier of slo as the last evaluation left it (for the API's `alerts`): *firing
 * and *since (when it started firing). Leaves both alone when al has not evaluated that SLO
 * yet. data is the struct slt_alert (may be NULL). Fits slt_api_alert_state_fn.
 */
void slt_alert_tier_state(void *data, const char *slo, const char *tier, int *firing,
                          int64_t *since);

#endif
