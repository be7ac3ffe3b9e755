/* The aggregator's own counters, shown by /metrics. One instance, owned by main. */
#ifndef SLT_AGGR_STATS_H
#define SLT_AGGR_STATS_H

#include <stdint.h>

struct slt_aggr_stats {
    uint64_t connections_total;
    uint64_t connected_agents; /* gauge: authenticated sessions now */
    uint64_t auth_failures;
    uint64_t frame_errors; /* malformed or oversized frames (connection closed) */
    uint64_t batches_received;
    uint64_t batches_applied;
    uint64_t batches_duplicate;
    uint64_t batches_gap;
    uint64_t batches_rejected;
    uint64_t batches_rejected_stale;   /* of which: a larger epoch is stored for the agent */
    uint64_t batches_rejected_invalid; /* of which: content that cannot be stored */
    uint64_t duplicate_sessions;       /* refused or closed: another live session has the id */
    uint64_t batches_retry;            /* refused because Redis was down or slow */
    uint64_t counter_updates;          /* rows applied */
    uint64_t late_rows;       /* rows older than minute retention (went to hour/day only) */
    uint64_t redis_connected; /* gauge 0/1 for the ingest connection */
    uint64_t redis_reconnects;
    uint64_t redis_errors;
    uint64_t redis_timeouts;
    /* Redis round-trip latency histogram of applies, seconds buckets (see metrics_prom.c). */
    uint64_t redis_latency_bucket[12];
    double redis_latency_sum;
    uint64_t redis_latency_count;
    uint64_t http_requests;
    uint64_t http_errors;
    /* added by the ingest side */
    uint64_t late_rows_expired;   /* rows older than day retention (went to tot only) */
    uint64_t connections_refused; /* over max_agents */
    uint64_t slow_clients;        /* closed because they did not read their acks */
    uint64_t sessions_timed_out;  /* no HELLO in time, or idle too long */
    /* added by alerting (alert.c); index [SLT_ALERT_TARGET_*] */
    uint64_t alert_evaluations;   /* evaluations that read every SLO from Redis */
    uint64_t alert_eval_failures; /* evaluations that could not (Redis down or slow) */
    uint64_t alerts_firing;       /* gauge: alerts firing after the last evaluation */
    uint64_t alert_leader; /* gauge: this aggregator holds the alerting lease (sends webhooks) */
    uint64_t alert_notifications_sent[3];    /* answered 2xx */
    uint64_t alert_notifications_failed[3];  /* refused, not 2xx, unreachable or timed out */
    uint64_t alert_notifications_dropped[3]; /* never sent: the queue was full */
    /* added by the transport and authentication (net) */
    uint64_t cert_name_mismatches; /* HELLO's agent id is not a name of the client certificate */
    uint64_t auth_throttled;       /* connections refused: their address failed auth too often */
    uint64_t preauth_refused;      /* connections refused: too many not yet authenticated */
    uint64_t preauth_connections;  /* gauge: connections that have not sent HELLO yet */
    uint64_t api_auth_failures;    /* HTTP requests refused 401 (no or wrong bearer token) */
    /* added by the store on a Redis Cluster (store_nodes.c) */
    uint64_t redis_moved;             /* MOVED redirections followed */
    uint64_t redis_ask;               /* ASK redirections followed */
    uint64_t redis_tryagain;          /* TRYAGAIN / CLUSTERDOWN / LOADING waited out */
    uint64_t redis_cluster_refreshes; /* slot maps read (CLUSTER SLOTS) */
    uint64_t redis_cluster_refused;   /* CLUSTER SLOTS replies refused (cluster.c) */
    uint64_t redis_may_evict;         /* gauge: a Redis runs without maxmemory-policy noeviction */
    /* batches or entries refused as invalid by the store, by SLT_INVALID_* */
    uint64_t batches_invalid[4];
    /* new series refused (the batch waits: RETRY): [0] the set is full (max_series), [1] the
     * agent's allowance of new series is used up */
    uint64_t series_refused[2];
};

/* Why the store refused a batch as invalid (index of batches_invalid; docs/REDIS.md). */
#define SLT_INVALID_OTHER 0         /* epoch/seq over 2^53, since after seq, a series twice */
#define SLT_INVALID_ROW_MINUTE 1    /* a row minute more than a day ahead */
#define SLT_INVALID_COUNTS 2        /* a count, or a series' sum in one batch, over 2^53 */
#define SLT_INVALID_COUNTER_LIMIT 3 /* a stored counter would pass 9.2e18 (its entry only) */

/* Targets of alert notifications, the index of the alert_notifications_* arrays. */
#define SLT_ALERT_TARGET_ALERTMANAGER 0
#define SLT_ALERT_TARGET_WEBHOOK 1
#define SLT_ALERT_TARGET_PAGERDUTY 2

/*
 * Upper bounds (seconds) of redis_latency_bucket[i]; bucket i counts applies that took at most
 * bounds[i] (cumulative, as Prometheus wants); redis_latency_count is the +Inf bucket.
 */
#define SLT_REDIS_LATENCY_BOUNDS                                                                   \
    {                                                                                              \
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5                  \
    }

#endif
