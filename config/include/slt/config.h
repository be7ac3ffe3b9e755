/*
 * The YAML config shared by the CLI, the agent and the aggregator. Each reads the sections it
 * needs; docs/CONFIG.md lists every key. A config that does not load is rejected whole with
 * "file:line:col: message", so a reload can keep the old one.
 */
#ifndef SLT_CONFIG_H
#define SLT_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "slt/parser.h"
#include "slt/rule.h"

/* inputs[].s3: objects of a bucket instead of files (agent/src/s3.h) */
struct slt_input_s3 {
    char *bucket;
    char *prefix;             /* "" default */
    char *region;             /* default us-east-1 */
    char *endpoint;           /* http(s)://host:port of an S3-compatible store, path-style */
    int64_t poll_interval_ms; /* ListObjectsV2 this often, default 60000 */
    int64_t lookback_ms;      /* objects landing this late behind the last key are read */
};

struct slt_input {
    char *name;
    char *format_name;
    struct slt_format *fmt; /* owned by the config */
    char **paths;           /* paths or globs */
    size_t npaths;
    int read_from_beginning; /* read_from: beginning (default: end) */
    size_t max_line;         /* bytes */
    int64_t gz_settle_ms;    /* a .gz arriving in a glob unchanged this long is complete */
    const void *s3_node;     /* the s3: map while loading (internal) */
    struct slt_input_s3 s3;  /* s3.bucket != NULL: an S3 input */
    int line;
};

/* A label added to alerts (alerting.labels, slos[].labels). */
struct slt_label {
    char *name;
    char *value;
};

/* Severity of an alert tier (slos[].alerts[].severity). */
enum slt_severity {
    SLT_SEVERITY_PAGE = 0,
    SLT_SEVERITY_TICKET = 1,
};

/*
 * One alert tier of an SLO (slos[].alerts, docs/ALERTS.md): it fires when the burn rate over
 * both its long and its short window is at or above threshold, the rate that spends
 * budget_percent of the error budget in the long window.
 */
struct slt_slo_tier {
    char *name;
    int64_t long_s, short_s;
    double budget_percent; /* of the whole error budget, e.g. 2 */
    int severity;          /* enum slt_severity */
    double threshold;      /* derived: budget_percent/100 * window / long */
    int unreachable;       /* derived: threshold * (1 - objective) > 1, it can never fire */
};

#define SLT_SLO_MAX_TIERS 8

struct slt_slo {
    char *name;
    char *sli;
    size_t sli_idx;
    double objective; /* percent, e.g. 99.9 */
    int64_t window_s; /* e.g. 28d */
    int line;
    struct slt_slo_tier *tiers; /* sorted by long window; default the four workbook tiers */
    size_t ntiers;
    double policy_healthy;    /* percent of budget left above which it is healthy (70) */
    double policy_endangered; /* below which it is endangered (30) */
    uint64_t min_events;      /* a tier fires only with this many events in its long window */
    struct slt_label *labels; /* added to this SLO's alerts, sorted by name */
    size_t nlabels;
    char *dedup_key; /* incident key; default the SLO name */
};

/*
 * TLS of one link (docs/SECURITY.md): agent.tls, agent.status_tls, aggregator.tls and
 * aggregator.http_tls. Absent map: enabled 0, plain TCP.
 */
struct slt_tls_conf {
    int enabled;          /* the map is present */
    char *ca_file;        /* agent.tls: CA bundle for the aggregator's cert (NULL: system store) */
    char *cert_file;      /* our certificate chain (PEM) */
    char *key_file;       /* its private key (PEM) */
    char *client_ca_file; /* aggregator.tls: client certificates required, signed by this CA */
    char *server_name;    /* agent.tls: name checked in the aggregator's certificate */
};

struct slt_agent_conf {
    char *id;           /* default: the host name */
    char **aggregators; /* host:port, tried in order */
    size_t naggregators;
    char *token_file;
    char *state_dir;
    int64_t flush_interval_ms;      /* default 2000, min 100 */
    uint64_t spool_max_bytes;       /* default 256 MiB */
    int64_t spool_retention_s;      /* default 600 */
    int64_t minutes_kept;           /* open minutes kept in memory per SLI, default 1440 */
    char *status_listen;            /* loopback HTTP status, e.g. 127.0.0.1:7434; NULL = off */
    int64_t poll_interval_ms;       /* stat() fallback, default 1000 */
    int64_t ack_timeout_ms;         /* SIGTERM waits this long for acks, default 5000 */
    int64_t unmatched_after_ms;     /* an input matching no file this long shows in /metrics */
    struct slt_tls_conf tls;        /* to the aggregator */
    struct slt_tls_conf status_tls; /* HTTPS for the status endpoint */
    char *status_token_file;        /* bearer token for the status endpoint (any address then) */
};

struct slt_aggr_conf {
    char *listen;         /* default 127.0.0.1:7433 */
    char *http_listen;    /* default 127.0.0.1:7480 */
    char *redis;          /* default redis://127.0.0.1:6379/0 */
    char **redis_cluster; /* seed nodes of a Redis Cluster; none: one Redis at redis */
    size_t nredis_cluster;
    char *token_file;
    uint32_t max_frame;            /* default 1 MiB */
    uint32_t max_agents;           /* default 10000 */
    uint64_t max_series;           /* series in the store at most, default 10000 */
    int64_t minute_retention_s;    /* default 2d */
    int64_t hour_retention_s;      /* default 35d */
    int64_t day_retention_s;       /* default 400d */
    int64_t redis_timeout_ms;      /* default 2000 */
    int64_t default_window_s;      /* /api/v1/slis totals, default 1h */
    struct slt_tls_conf tls;       /* on listen (client_ca_file: mutual TLS) */
    struct slt_tls_conf http_tls;  /* HTTPS on http_listen */
    char *api_token_file;          /* bearer token for every HTTP path but /healthz */
    int allow_unauthenticated;     /* start without token_file or tls.client_ca_file */
    int allow_unauthenticated_api; /* non-loopback http_listen without api_token_file */
};

/* alerting: burn-rate alerts sent by the aggregator (docs/ALERTS.md). */
struct slt_alert_conf {
    int64_t interval_ms;      /* evaluation period, default 30s */
    char *alertmanager;       /* http://host[:port][/path]; NULL: off */
    char *webhook;            /* http://host[:port][/path]; NULL: off */
    int64_t timeout_ms;       /* per notification, default 5s */
    char *external_url;       /* generatorURL of alerts; NULL: http://<aggregator.http_listen>/ */
    struct slt_label *labels; /* added to every alert, sorted by name */
    size_t nlabels;
    char *pagerduty_routing_key_file; /* alerting.pagerduty; NULL: no PagerDuty */
    char *pagerduty_url;              /* Events API v2 endpoint */
    char *tls_ca_file;                /* verifies https:// receivers; NULL: system store */
    char *bearer_token_file;          /* Authorization: Bearer to receivers; NULL: none */
    char *basic_auth_username;        /* alerting.basic_auth; NULL: none */
    char *basic_auth_password_file;
};

struct slt_config {
    char *path;
    struct slt_format **formats; /* user formats, owned */
    size_t nformats;
    struct slt_input *inputs;
    size_t ninputs;
    struct slt_sli *slis;
    size_t nslis;
    struct slt_slo *slos;
    size_t nslos;
    struct slt_agent_conf agent;
    struct slt_aggr_conf aggregator;
    struct slt_alert_conf alerting;
};

/*
 * Load and validate a config file. On success *out is a new config (free with
 * slt_config_free). On failure returns SLT_ECONFIG (or -errno when the file cannot be read)
 * and writes "file:line:col: message" to err.
 */
int slt_config_load_file(const char *path, struct slt_config **out, char *err, size_t errlen);
/* The same from memory; name is used in messages. */
int slt_config_load_string(const char *name, const char *yaml, size_t len, struct slt_config **out,
                           char *err, size_t errlen);
/*
 * The config the CLI uses without -c: one input "default" of format_name, an "availability"
 * SLI (4xx excluded, 5xx bad) and, when the format has latency, a "latency" SLI (4xx/5xx
 * excluded, latency over latency_threshold_us bad).
 */
int slt_config_default(const char *format_name, int64_t latency_threshold_us,
                       struct slt_config **out, char *err, size_t errlen);
void slt_config_free(struct slt_config *cfg);

/* Index of the input / SLI called name, or -1. */
int slt_config_input_index(const struct slt_config *cfg, const char *name);
int slt_config_sli_index(const struct slt_config *cfg, const char *name);

/*
 * An http:// or https:// URL split into host, port and path (with the query), as the config
 * checks it: no user:password@, host of letters, digits, '.', '-', '_' or a [v6] address, port
 * 1..65535 (default 80 or 443), path without spaces, control bytes or '#' (default "/").
 * Returns 0, or SLT_EINVAL with what is wrong (without the value) in msg.
 */
#define SLT_URL_MAX_HOST 256
#define SLT_URL_MAX_PATH 1024
struct slt_http_url {
    char host[SLT_URL_MAX_HOST]; /* without the brackets of a v6 address */
    int port;                    /* default 80, 443 with tls */
    char path[SLT_URL_MAX_PATH];
    int tls; /* https:// */
};
int slt_http_url_parse(const char *s, struct slt_http_url *u, char *msg, size_t msglen);

#endif
