/* Prometheus text format 0.0.4; see metrics_prom.h. */
#include "metrics_prom.h"
#include "slt/version.h"

#include <inttypes.h>

const double slt_prom_latency_bounds[SLT_PROM_LATENCY_BUCKETS] = SLT_REDIS_LATENCY_BOUNDS;

int slt_prom_header(struct slt_buf *b, const char *name, const char *type, const char *help)
{
    return slt_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int counter(struct slt_buf *b, const char *name, const char *type, const char *help,
                   uint64_t v)
{
    int rc = slt_prom_header(b, name, type, help);

    return rc < 0 ? rc : slt_buf_printf(b, "%s %" PRIu64 "\n", name, v);
}

int slt_prom_aggr_stats(struct slt_buf *b, const struct slt_aggr_stats *st)
{
    static const char *outcomes[] = {"applied", "duplicate", "gap", "rejected", "retry"};
    const uint64_t batches[] = {st->batches_applied, st->batches_duplicate, st->batches_gap,
                                st->batches_rejected, st->batches_retry};
    size_t i;
    int rc = 0;

#define TRY(x)                                                                                     \
    do {                                                                                           \
        if ((rc = (x)) < 0)                                                                        \
            return rc;                                                                             \
    } while (0)
    TRY(slt_build_info_prom(b));
    TRY(counter(b, "slitail_aggregator_connections_total", "counter", "Agent connections accepted.",
                st->connections_total));
    TRY(counter(b, "slitail_aggregator_connected_agents", "gauge",
                "Authenticated agent sessions now.", st->connected_agents));
    TRY(counter(b, "slitail_aggregator_auth_failures_total", "counter",
                "Agent connections that failed authentication.", st->auth_failures));
    TRY(counter(b, "slitail_aggregator_frame_errors_total", "counter",
                "Malformed or oversized frames (the connection was closed).", st->frame_errors));
    TRY(counter(b, "slitail_aggregator_batches_received_total", "counter",
                "Batches received from agents.", st->batches_received));
    TRY(slt_prom_header(b, "slitail_aggregator_batches_total", "counter",
                        "Batches answered, by outcome."));
    for (i = 0; i < SLT_ARRAY_SIZE(outcomes); i++)
        TRY(slt_buf_printf(b, "slitail_aggregator_batches_total{outcome=\"%s\"} %" PRIu64 "\n",
                           outcomes[i], batches[i]));
    TRY(slt_prom_header(b, "slitail_aggregator_batches_rejected_total", "counter",
                        "Batches answered REJECTED, by reason (stale_epoch: the agent should "
                        "move to a larger epoch and resend; invalid: the agent gives it up)."));
    TRY(slt_buf_printf(b,
                       "slitail_aggregator_batches_rejected_total{reason=\"stale_epoch\"} %" PRIu64
                       "\nslitail_aggregator_batches_rejected_total{reason=\"invalid\"} %" PRIu64
                       "\n",
                       st->batches_rejected_stale, st->batches_rejected_invalid));
    TRY(counter(b, "slitail_aggregator_duplicate_sessions_total", "counter",
                "Agent sessions refused or closed because another live session holds their agent "
                "id (two hosts with one agent.id).",
                st->duplicate_sessions));
    TRY(counter(b, "slitail_aggregator_rows_applied_total", "counter",
                "Rows (one minute of one series) applied to Redis.", st->counter_updates));
    TRY(counter(b, "slitail_aggregator_late_rows_total", "counter",
                "Rows older than minute retention (applied to hour and day buckets only).",
                st->late_rows));
    TRY(counter(b, "slitail_aggregator_late_rows_expired_total", "counter",
                "Rows older than day retention (applied to the cumulative counters only).",
                st->late_rows_expired));
    TRY(counter(b, "slitail_aggregator_connections_refused_total", "counter",
                "Agent connections refused over max_agents.", st->connections_refused));
    TRY(counter(b, "slitail_aggregator_slow_clients_total", "counter",
                "Agent connections closed because they did not read their acks.",
                st->slow_clients));
    TRY(counter(b, "slitail_aggregator_sessions_timed_out_total", "counter",
                "Agent sessions closed for sending no HELLO in time or idling too long.",
                st->sessions_timed_out));
    TRY(counter(b, "slitail_aggregator_cert_name_mismatches_total", "counter",
                "Agents refused: HELLO's agent id is not a name of their client certificate.",
                st->cert_name_mismatches));
    TRY(counter(b, "slitail_aggregator_auth_throttled_total", "counter",
                "Agent connections refused because their address failed authentication too "
                "often.",
                st->auth_throttled));
    TRY(counter(b, "slitail_aggregator_preauth_refused_total", "counter",
                "Agent connections refused over the cap of connections not yet authenticated.",
                st->preauth_refused));
    TRY(counter(b, "slitail_aggregator_preauth_connections", "gauge",
                "Agent connections that have not authenticated yet.", st->preauth_connections));
    TRY(counter(b, "slitail_api_auth_failures_total", "counter",
                "HTTP requests refused with 401 (no or wrong bearer token).",
                st->api_auth_failures));
    TRY(counter(b, "slitail_aggregator_redis_up", "gauge",
                "1 when the ingest Redis connection is up.", st->redis_connected));
    TRY(counter(b, "slitail_aggregator_redis_reconnects_total", "counter",
                "Ingest Redis reconnections.", st->redis_reconnects));
    TRY(counter(b, "slitail_aggregator_redis_errors_total", "counter", "Ingest Redis errors.",
                st->redis_errors));
    TRY(counter(b, "slitail_aggregator_redis_timeouts_total", "counter",
                "Ingest Redis commands that timed out.", st->redis_timeouts));
    TRY(slt_prom_header(b, "slitail_aggregator_series_refused_total", "counter",
                        "New series refused (their batch answered RETRY), by reason: max_series "
                        "(the series set is full) or rate (the agent adds series too fast)."));
    TRY(slt_buf_printf(b,
                       "slitail_aggregator_series_refused_total{reason=\"max_series\"} %" PRIu64
                       "\nslitail_aggregator_series_refused_total{reason=\"rate\"} %" PRIu64 "\n",
                       st->series_refused[0], st->series_refused[1]));
    TRY(counter(b, "slitail_aggregator_redis_may_evict", "gauge",
                "1 when a Redis the store uses runs without maxmemory-policy noeviction.",
                st->redis_may_evict));
    TRY(slt_prom_header(b, "slitail_aggregator_batches_invalid_total", "counter",
                        "Batches (or, for counter_limit, series of a batch) the store refused as "
                        "invalid before writing, by reason."));
    {
        static const char *const why[4] = {"other", "row_minute", "counts", "counter_limit"};

        for (i = 0; i < 4; i++)
            TRY(slt_buf_printf(
                b, "slitail_aggregator_batches_invalid_total{reason=\"%s\"} %" PRIu64 "\n", why[i],
                st->batches_invalid[i]));
    }
    TRY(slt_prom_header(b, "slitail_aggregator_redis_redirects_total", "counter",
                        "Redis Cluster redirections followed, by kind (moved: the slot map "
                        "changed; ask: a slot being migrated)."));
    TRY(slt_buf_printf(b,
                       "slitail_aggregator_redis_redirects_total{kind=\"moved\"} %" PRIu64 "\n"
                       "slitail_aggregator_redis_redirects_total{kind=\"ask\"} %" PRIu64 "\n",
                       st->redis_moved, st->redis_ask));
    TRY(counter(b, "slitail_aggregator_redis_cluster_waits_total", "counter",
                "Redis Cluster commands sent again after TRYAGAIN, CLUSTERDOWN or LOADING.",
                st->redis_tryagain));
    TRY(counter(b, "slitail_aggregator_redis_cluster_slot_map_reads_total", "counter",
                "Redis Cluster slot maps read (CLUSTER SLOTS).", st->redis_cluster_refreshes));
    TRY(counter(b, "slitail_aggregator_redis_cluster_slot_maps_refused_total", "counter",
                "CLUSTER SLOTS replies refused as malformed (the map kept, another node asked).",
                st->redis_cluster_refused));
    TRY(slt_prom_header(b, "slitail_aggregator_redis_latency_seconds", "histogram",
                        "Round-trip time of Redis applies."));
    for (i = 0; i < SLT_PROM_LATENCY_BUCKETS; i++) {
        TRY(slt_buf_printf(
            b, "slitail_aggregator_redis_latency_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
            slt_prom_latency_bounds[i], st->redis_latency_bucket[i]));
    }
    TRY(slt_buf_printf(b,
                       "slitail_aggregator_redis_latency_seconds_bucket{le=\"+Inf\"} %" PRIu64
                       "\nslitail_aggregator_redis_latency_seconds_sum %.9g\n"
                       "slitail_aggregator_redis_latency_seconds_count %" PRIu64 "\n",
                       st->redis_latency_count, st->redis_latency_sum, st->redis_latency_count));
    TRY(counter(b, "slitail_alert_lease_held", "gauge",
                "1 when this aggregator holds the alerting lease: it sends the webhook "
                "documents of state changes (docs/ALERTS.md).",
                st->alert_leader));
    TRY(counter(b, "slitail_alerts_firing", "gauge",
                "Burn-rate alerts firing after the last evaluation.", st->alerts_firing));
    TRY(slt_prom_header(b, "slitail_alert_evaluations_total", "counter",
                        "Alert evaluations, by outcome (failed: Redis could not be read)."));
    TRY(slt_buf_printf(b,
                       "slitail_alert_evaluations_total{outcome=\"ok\"} %" PRIu64 "\n"
                       "slitail_alert_evaluations_total{outcome=\"failed\"} %" PRIu64 "\n",
                       st->alert_evaluations, st->alert_eval_failures));
    TRY(slt_prom_header(b, "slitail_alert_notifications_total", "counter",
                        "Alert notifications by target and outcome (sent: answered 2xx; "
                        "failed: retried at the next evaluation; dropped: queue full)."));
    for (i = 0; i < 3; i++) {
        static const char *targets[] = {"alertmanager", "webhook", "pagerduty"};

        TRY(slt_buf_printf(
            b,
            "slitail_alert_notifications_total{target=\"%s\",outcome=\"sent\"} %" PRIu64 "\n"
            "slitail_alert_notifications_total{target=\"%s\",outcome=\"failed\"} %" PRIu64 "\n"
            "slitail_alert_notifications_total{target=\"%s\",outcome=\"dropped\"} %" PRIu64 "\n",
            targets[i], st->alert_notifications_sent[i], targets[i],
            st->alert_notifications_failed[i], targets[i], st->alert_notifications_dropped[i]));
    }
#undef TRY
    return rc;
}
