/*
 * The config key table: every key of every section with its type, default, bounds, target
 * field and help, and the checks that some keys run on their strings. It drives the loader
 * (defaults, bounds, the rejection of unknown keys) and writes the key reference of
 * docs/CONFIG.md (test_config fails when that drifts) and of slitail.yaml(5)
 * (packaging/gen_yaml_man.c).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config_load.h"

#define FIELD(type, f) .off = offsetof(type, f), .size = sizeof(((type *)0)->f)
#define AGENT(f) FIELD(struct slt_agent_conf, f)
#define AGGR(f) FIELD(struct slt_aggr_conf, f)
#define TLSF(f) FIELD(struct slt_tls_conf, f)
#define INPUT(f) FIELD(struct slt_input, f)
#define S3IN(f) FIELD(struct slt_input_s3, f)
#define FMT(f) FIELD(struct fmt_decl, f)
#define SLI(f) FIELD(struct sli_decl, f)
#define SLO(f) FIELD(struct slo_decl, slo.f)
#define SLOD(f) FIELD(struct slo_decl, f)
#define POLICY(f) FIELD(struct slt_slo, f)
#define TIER(f) FIELD(struct slt_slo_tier, f)
#define ALERT(f) FIELD(struct alert_decl, conf.f)

/* "host:port" or "[v6addr]:port"; want_host: the host may not be empty, nor the port 0. */
static int check_addr(const char *s, int want_host, char *msg, size_t msglen)
{
    const char *colon, *p;
    size_t hlen;
    long port = 0;

    if (s[0] == '[') {
        const char *rb = strchr(s, ']');

        if (!rb || rb[1] != ':') {
            snprintf(msg, msglen, "must be [v6addr]:port");
            return SLT_EINVAL;
        }
        hlen = (size_t)(rb - s - 1);
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon) {
            snprintf(msg, msglen, "must be host:port");
            return SLT_EINVAL;
        }
        hlen = (size_t)(colon - s);
    }
    for (p = colon + 1; *p >= '0' && *p <= '9' && port <= 65535; p++)
        port = port * 10 + (*p - '0');
    if (p == colon + 1 || *p || port > 65535 || (want_host && port == 0)) {
        snprintf(msg, msglen, "has a bad port (want %d to 65535)", want_host ? 1 : 0);
        return SLT_EINVAL;
    }
    if (want_host && hlen == 0) {
        snprintf(msg, msglen, "must be host:port");
        return SLT_EINVAL;
    }
    return 0;
}

static int check_listen(const char *s, char *msg, size_t msglen)
{
    return check_addr(s, 0, msg, msglen);
}

static int check_connect(const char *s, char *msg, size_t msglen)
{
    return check_addr(s, 1, msg, msglen);
}

/* The aggregator parses the rest; this catches the common slips at load. */
int slt__config_check_redis(const char *s, char *msg, size_t msglen)
{
    if (!strncmp(s, "redis://", 8) || !strncmp(s, "unix://", 7))
        return 0;
    snprintf(msg, msglen, "must start with redis:// or unix://%s",
             strncmp(s, "rediss://", 9) ? "" : " (TLS is not supported)");
    return SLT_EINVAL;
}

/* A Redis Cluster seed: host:port, or redis://[[user]:password@]host:port for AUTH. */
static int check_cluster_seed(const char *s, char *msg, size_t msglen)
{
    if (!strncmp(s, "redis://", 8))
        return 0;
    if (!strncmp(s, "unix://", 7) || !strncmp(s, "rediss://", 9)) {
        snprintf(msg, msglen, "must be host:port or redis://host:port%s",
                 s[0] == 'u' ? " (cluster nodes are reached over TCP)" : " (TLS is not supported)");
        return SLT_EINVAL;
    }
    return check_connect(s, msg, msglen);
}

static int check_http_url(const char *s, char *msg, size_t msglen)
{
    struct slt_http_url u;

    return slt_http_url_parse(s, &u, msg, msglen);
}

static int check_link(const char *s, char *msg, size_t msglen)
{
    if (!strncmp(s, "http://", 7) || !strncmp(s, "https://", 8))
        return 0;
    snprintf(msg, msglen, "must start with http:// or https://");
    return SLT_EINVAL;
}

/* clang-format off */
static const struct slt__config_key keys[] = {
    /* formats: */
    {.section = "formats", .name = "name", .type = SLT_KT_STR, FMT(name), .flags = SLT_KEY_REQUIRED,
     .help = "name used by inputs; letters, digits, '.', '_', '-'; not a built-in name"},
    {.section = "formats", .name = "regex", .type = SLT_KT_STR, FMT(regex),
     .help = "PCRE2 pattern with named groups; a group named like a canonical field fills it "
             "(give regex or json)"},
    {.section = "formats", .name = "json", .type = SLT_KT_MAP, FMT(json),
     .help = "one JSON object per line; maps canonical fields to dotted paths, `{}` keeps "
             "the defaults of the built-in json format"},
    {.section = "formats", .name = "time_layout", .type = SLT_KT_STR, FMT(time_layout),
     .help = "strptime-like layout of the time group; absent: CLF, ISO 8601 or epoch"},
    {.section = "formats", .name = "latency_unit", .type = SLT_KT_ENUM, FMT(latency_unit),
     .choices = "s|ms|us|ns", .def = "s", .help = "unit of a bare number in the latency group"},
    {.section = "formats", .name = "match_limit", .type = SLT_KT_UINT, FMT(match_limit), .lo = 1,
     .hi = 100000000, .def = "100000",
     .help = "PCRE2 match limit; a line that hits it is unparsed (match_limit)"},
    {.section = "formats", .name = "depth_limit", .type = SLT_KT_UINT, FMT(depth_limit), .lo = 1,
     .hi = 10000000, .def = "1000",
     .help = "PCRE2 depth limit; a line that hits it is unparsed (match_limit)"},
    /* inputs: */
    {.section = "inputs", .name = "name", .type = SLT_KT_STR, INPUT(name),
     .flags = SLT_KEY_REQUIRED, .help = "name used by slis; letters, digits, '.', '_', '-'"},
    {.section = "inputs", .name = "format", .type = SLT_KT_STR, INPUT(format_name),
     .flags = SLT_KEY_REQUIRED, .help = "a built-in format or a name from formats:"},
    {.section = "inputs", .name = "paths", .type = SLT_KT_STRLIST, INPUT(paths),
     .off2 = offsetof(struct slt_input, npaths), .hi = MAX_LIST,
     .help = "files or globs the agent tails"},
    {.section = "inputs", .name = "read_from", .type = SLT_KT_ENUM, INPUT(read_from_beginning),
     .choices = "end|beginning", .def = "end",
     .help = "where the agent starts a file it has no checkpoint for"},
    {.section = "inputs", .name = "max_line", .type = SLT_KT_SIZE, INPUT(max_line), .lo = 256,
     .hi = 16 * MIB, .def = "64KiB", .help = "longer lines are unparsed (oversize)"},
    {.section = "inputs", .name = "s3", .type = SLT_KT_MAP, INPUT(s3_node),
     .help = "read the objects of an S3 bucket instead of files (see `inputs.s3`; give paths "
             "or s3)"},
    {.section = "inputs", .name = "gz_settle", .type = SLT_KT_DUR, INPUT(gz_settle_ms),
     .unit_us = MS, .lo = 0, .hi = 7LL * DAY_S * 1000, .def = "1m",
     .help = "a .gz file arriving in a glob whose gzip stream has not ended is taken as "
             "complete (truncated) once unchanged this long"},
    /* inputs.s3: */
    {.section = "inputs.s3", .name = "bucket", .type = SLT_KT_STR, S3IN(bucket),
     .flags = SLT_KEY_REQUIRED, .help = "bucket name"},
    {.section = "inputs.s3", .name = "prefix", .type = SLT_KT_STR, S3IN(prefix), .def = "",
     .help = "only keys starting with this (e.g. `AWSLogs/123456789012/elasticloadbalancing/`)"},
    {.section = "inputs.s3", .name = "region", .type = SLT_KT_STR, S3IN(region),
     .def = "us-east-1", .help = "region the requests are signed for (SigV4)"},
    {.section = "inputs.s3", .name = "endpoint", .type = SLT_KT_STR, S3IN(endpoint),
     .help = "`http(s)://host[:port]` of an S3-compatible store, addressed path-style (absent: "
             "AWS, `https://BUCKET.s3.REGION.amazonaws.com`)"},
    {.section = "inputs.s3", .name = "poll_interval", .type = SLT_KT_DUR,
     S3IN(poll_interval_ms), .unit_us = MS, .lo = 100, .hi = 24LL * 3600 * 1000, .def = "1m",
     .help = "how often the bucket is listed (ListObjectsV2)"},
    {.section = "inputs.s3", .name = "lookback", .type = SLT_KT_DUR, S3IN(lookback_ms),
     .unit_us = MS, .lo = 0, .hi = 30LL * DAY_S * 1000, .def = "1h",
     .help = "objects whose key sorts before the last key read are still read if they land "
             "within this time after the keys around them were read (keys read inside it are "
             "remembered, at most 512)"},
    /* slis: */
    {.section = "slis", .name = "name", .type = SLT_KT_STR, SLI(name), .flags = SLT_KEY_REQUIRED,
     .help = "name of the SLI; letters, digits, '.', '_', '-'"},
    {.section = "slis", .name = "input", .type = SLT_KT_STR, SLI(input),
     .help = "the input whose lines it classifies; may be left out when there is one input"},
    {.section = "slis", .name = "match", .type = SLT_KT_COND, SLI(match),
     .help = "lines the SLI covers (absent: all lines)"},
    {.section = "slis", .name = "exclude", .type = SLT_KT_COND, SLI(exclude),
     .help = "covered lines that are not counted (absent: none)"},
    {.section = "slis", .name = "bad", .type = SLT_KT_COND, SLI(bad),
     .help = "counted lines that are bad; every other counted line is good (absent: none)"},
    /* slos: */
    {.section = "slos", .name = "name", .type = SLT_KT_STR, SLO(name), .flags = SLT_KEY_REQUIRED,
     .help = "name of the SLO; letters, digits, '.', '_', '-'"},
    {.section = "slos", .name = "sli", .type = SLT_KT_STR, SLO(sli), .flags = SLT_KEY_REQUIRED,
     .help = "the SLI it is about"},
    {.section = "slos", .name = "objective", .type = SLT_KT_PERCENT, SLO(objective),
     .flags = SLT_KEY_REQUIRED, .help = "percent of good among good+bad, e.g. 99.9"},
    {.section = "slos", .name = "window", .type = SLT_KT_DUR, SLO(window_s), .unit_us = SEC,
     .lo = 3600, .hi = 400LL * DAY_S, .def = "28d", .help = "rolling window"},
    {.section = "slos", .name = "alerts", .type = SLT_KT_LIST, SLOD(alerts),
     .help = "burn-rate alert tiers (see `slos.alerts`; absent: the four workbook tiers "
             "page-1h, page-6h, ticket-1d, ticket-3d, those whose long window fits in the SLO "
             "window); at most 8"},
    {.section = "slos", .name = "policy", .type = SLT_KT_MAP, SLOD(policy),
     .help = "budget policy thresholds (see `slos.policy`)"},
    {.section = "slos", .name = "min_events", .type = SLT_KT_UINT, SLO(min_events), .lo = 0,
     .hi = 1000000000, .def = "100",
     .help = "a tier fires only when its long window holds at least this many good+bad events"},
    {.section = "slos", .name = "labels", .type = SLT_KT_MAP, SLOD(labels),
     .help = "labels added to this SLO's alerts (team, service, runbook_url...); same rules "
             "as `alerting.labels`, and they win over those"},
    {.section = "slos", .name = "dedup_key", .type = SLT_KT_STR, SLO(dedup_key),
     .help = "incident key of this SLO's alerts (PagerDuty dedup_key, webhook and "
             "Alertmanager label `dedup_key`); SLOs sharing one converge into one incident "
             "(absent: the SLO name)"},
    /* slos[].alerts[]: */
    {.section = "slos.alerts", .name = "name", .type = SLT_KT_STR, TIER(name),
     .flags = SLT_KEY_REQUIRED, .help = "name of the tier, e.g. page-1h; letters, digits, '.', '_', '-'"},
    {.section = "slos.alerts", .name = "long", .type = SLT_KT_DUR, TIER(long_s), .unit_us = SEC,
     .lo = 120, .hi = 400LL * DAY_S, .flags = SLT_KEY_REQUIRED,
     .help = "long window, whole minutes, at most the SLO window"},
    {.section = "slos.alerts", .name = "short", .type = SLT_KT_DUR, TIER(short_s), .unit_us = SEC,
     .lo = 60, .hi = 400LL * DAY_S, .flags = SLT_KEY_REQUIRED,
     .help = "short window, whole minutes, shorter than long"},
    {.section = "slos.alerts", .name = "budget_percent", .type = SLT_KT_PERCENT,
     TIER(budget_percent), .flags = SLT_KEY_REQUIRED,
     .help = "share of the whole error budget spent in the long window that fires it; the "
             "burn threshold is budget_percent/100 * window / long"},
    {.section = "slos.alerts", .name = "severity", .type = SLT_KT_ENUM, TIER(severity),
     .choices = "page|ticket", .def = "page", .help = "`page` or `ticket`"},
    /* slos[].policy: */
    {.section = "slos.policy", .name = "healthy", .type = SLT_KT_PERCENT, POLICY(policy_healthy),
     .def = "70", .help = "budget left above this percent is `healthy`"},
    {.section = "slos.policy", .name = "endangered", .type = SLT_KT_PERCENT,
     POLICY(policy_endangered), .def = "30",
     .help = "budget left below this percent is `endangered` (between the two: `depleting`; "
             "0 or less: `exhausted`)"},
    /* agent: */
    {.section = "agent", .name = "id", .type = SLT_KT_STR, AGENT(id),
     .help = "agent id sent to the aggregator (absent: the host name)"},
    {.section = "agent", .name = "aggregators", .type = SLT_KT_STRLIST, AGENT(aggregators),
     .off2 = offsetof(struct slt_agent_conf, naggregators), .hi = 16, .def = "127.0.0.1:7433",
     .check = check_connect,
     .help = "host:port of aggregators, tried in order"},
    {.section = "agent", .name = "token_file", .type = SLT_KT_STR, AGENT(token_file),
     .help = "file holding the shared token (absent: no token is sent)"},
    {.section = "agent", .name = "state_dir", .type = SLT_KT_STR, AGENT(state_dir),
     .def = "/var/lib/slitail", .help = "checkpoints and the spool"},
    {.section = "agent", .name = "flush_interval", .type = SLT_KT_DUR, AGENT(flush_interval_ms),
     .unit_us = MS, .lo = 100, .hi = 3600 * 1000, .def = "2s",
     .help = "how often counts are shipped"},
    {.section = "agent", .name = "spool_max", .type = SLT_KT_SIZE, AGENT(spool_max_bytes),
     .lo = MIB, .hi = 1024LL * 1024 * MIB, .def = "256MiB",
     .help = "disk spool for batches; when full the agent stops reading (never drops counts)"},
    {.section = "agent", .name = "spool_retention", .type = SLT_KT_DUR, AGENT(spool_retention_s),
     .unit_us = SEC, .lo = 1, .hi = 30 * DAY_S, .def = "10m",
     .help = "acknowledged batches are kept this long for resends; unacknowledged ones are never dropped"},
    {.section = "agent", .name = "minutes_kept", .type = SLT_KT_UINT, AGENT(minutes_kept), .lo = 1,
     .hi = 100000, .def = "1440", .help = "open minutes kept in memory per SLI"},
    {.section = "agent", .name = "status_listen", .type = SLT_KT_STR, AGENT(status_listen),
     .check = check_listen,
     .help = "host:port of the status endpoint, loopback unless status_token_file is set (absent: off)"},
    {.section = "agent", .name = "poll_interval", .type = SLT_KT_DUR, AGENT(poll_interval_ms),
     .unit_us = MS, .lo = 10, .hi = 3600 * 1000, .def = "1s",
     .help = "stat() fallback for file changes"},
    {.section = "agent", .name = "ack_timeout", .type = SLT_KT_DUR, AGENT(ack_timeout_ms),
     .unit_us = MS, .lo = 0, .hi = 600 * 1000, .def = "5s",
     .help = "how long SIGTERM waits for acknowledgements"},
    {.section = "agent", .name = "unmatched_after", .type = SLT_KT_DUR, AGENT(unmatched_after_ms),
     .unit_us = MS, .lo = 0, .hi = 30LL * DAY_S * 1000, .def = "5m",
     .help = "an input whose paths have matched no file this long is reported in /metrics "
             "(slitail_agent_input_unmatched)"},
    {.section = "agent", .name = "status_token_file", .type = SLT_KT_STR,
     AGENT(status_token_file),
     .help = "file holding a bearer token the status endpoint requires (then status_listen may "
             "be any address)"},
    {.section = "agent", .name = "tls", .type = SLT_KT_MAP, FIELD(struct agent_decl, tls),
     .help = "TLS to the aggregator (see `agent.tls`; absent: plain TCP)"},
    {.section = "agent", .name = "status_tls", .type = SLT_KT_MAP,
     FIELD(struct agent_decl, status_tls),
     .help = "HTTPS for the status endpoint (see `agent.status_tls`; absent: plain HTTP)"},
    /* agent.tls: */
    {.section = "agent.tls", .name = "ca_file", .type = SLT_KT_STR, TLSF(ca_file),
     .help = "PEM bundle of the CA(s) that sign the aggregator's certificate (absent: the system "
             "store)"},
    {.section = "agent.tls", .name = "cert_file", .type = SLT_KT_STR, TLSF(cert_file),
     .help = "PEM client certificate (chain) for mutual TLS; needs key_file"},
    {.section = "agent.tls", .name = "key_file", .type = SLT_KT_STR, TLSF(key_file),
     .help = "PEM private key of cert_file"},
    {.section = "agent.tls", .name = "server_name", .type = SLT_KT_STR, TLSF(server_name),
     .help = "name (or IP) the aggregator's certificate must carry (absent: the host of each "
             "`aggregators` address)"},
    /* agent.status_tls: */
    {.section = "agent.status_tls", .name = "cert_file", .type = SLT_KT_STR, TLSF(cert_file),
     .flags = SLT_KEY_REQUIRED, .help = "PEM certificate (chain) of the status endpoint"},
    {.section = "agent.status_tls", .name = "key_file", .type = SLT_KT_STR, TLSF(key_file),
     .flags = SLT_KEY_REQUIRED, .help = "PEM private key of cert_file"},
    /* aggregator: */
    {.section = "aggregator", .name = "listen", .type = SLT_KT_STR, AGGR(listen),
     .def = "127.0.0.1:7433", .check = check_listen,
     .help = "host:port for agents"},
    {.section = "aggregator", .name = "http_listen", .type = SLT_KT_STR, AGGR(http_listen),
     .def = "127.0.0.1:7480", .check = check_listen,
     .help = "host:port of the HTTP API and /metrics"},
    {.section = "aggregator", .name = "redis", .type = SLT_KT_STR, AGGR(redis),
     .def = "redis://127.0.0.1:6379/0", .check = slt__config_check_redis,
     .help = "redis://host:port/db or unix:///path"},
    {.section = "aggregator", .name = "redis_cluster", .type = SLT_KT_STRLIST,
     AGGR(redis_cluster), .off2 = offsetof(struct slt_aggr_conf, nredis_cluster), .hi = 64,
     .check = check_cluster_seed,
     .help = "seed nodes of a Redis Cluster, `host:port` or `redis://[user:password@]host:port` "
             "for AUTH (the same on every node); the slot map is learned from them. Not "
             "together with `redis` (absent: one Redis at `redis`)"},
    {.section = "aggregator", .name = "token_file", .type = SLT_KT_STR, AGGR(token_file),
     .help = "file holding the shared token (absent: agents are not authenticated)"},
    {.section = "aggregator", .name = "max_frame", .type = SLT_KT_SIZE, AGGR(max_frame), .lo = 4096,
     .hi = 64 * MIB, .def = "1MiB", .help = "largest frame accepted from an agent"},
    {.section = "aggregator", .name = "max_agents", .type = SLT_KT_UINT, AGGR(max_agents), .lo = 1,
     .hi = 1000000, .def = "10000", .help = "connected agents at most"},
    {.section = "aggregator", .name = "max_series", .type = SLT_KT_UINT, AGGR(max_series),
     .lo = 1, .hi = 10000000, .def = "10000",
     .help = "series (SLIs and inputs) the store keeps at most; a batch that would add one "
             "more waits (RETRY) until this is raised. Each agent id may also add at most "
             "1000 new series at once, then 100 per minute"},
    {.section = "aggregator", .name = "minute_retention", .type = SLT_KT_DUR,
     AGGR(minute_retention_s), .unit_us = SEC, .lo = 3600, .hi = 400LL * DAY_S, .def = "2d",
     .help = "how long minute buckets are kept"},
    {.section = "aggregator", .name = "hour_retention", .type = SLT_KT_DUR, AGGR(hour_retention_s),
     .unit_us = SEC, .lo = DAY_S, .hi = 4000LL * DAY_S, .def = "35d",
     .help = "how long hour buckets are kept"},
    {.section = "aggregator", .name = "day_retention", .type = SLT_KT_DUR, AGGR(day_retention_s),
     .unit_us = SEC, .lo = DAY_S, .hi = 4000LL * DAY_S, .def = "400d",
     .help = "how long day buckets are kept"},
    {.section = "aggregator", .name = "redis_timeout", .type = SLT_KT_DUR, AGGR(redis_timeout_ms),
     .unit_us = MS, .lo = 10, .hi = 60 * 1000, .def = "2s",
     .help = "a Redis command that takes longer fails"},
    {.section = "aggregator", .name = "default_window", .type = SLT_KT_DUR, AGGR(default_window_s),
     .unit_us = SEC, .lo = 60, .hi = 400LL * DAY_S, .def = "1h",
     .help = "window of the totals in /api/v1/slis when none is asked"},
    {.section = "aggregator", .name = "api_token_file", .type = SLT_KT_STR,
     AGGR(api_token_file),
     .help = "file holding a bearer token every HTTP path but /healthz requires "
             "(`Authorization: Bearer <token>`)"},
    {.section = "aggregator", .name = "allow_unauthenticated", .type = SLT_KT_ENUM,
     AGGR(allow_unauthenticated), .choices = "false|true", .def = "false",
     .help = "start without token_file or tls.client_ca_file (anyone may send batches)"},
    {.section = "aggregator", .name = "allow_unauthenticated_api", .type = SLT_KT_ENUM,
     AGGR(allow_unauthenticated_api), .choices = "false|true", .def = "false",
     .help = "serve a non-loopback http_listen without api_token_file"},
    {.section = "aggregator", .name = "tls", .type = SLT_KT_MAP, FIELD(struct aggr_decl, tls),
     .help = "TLS on listen (see `aggregator.tls`; absent: plain TCP)"},
    {.section = "aggregator", .name = "http_tls", .type = SLT_KT_MAP,
     FIELD(struct aggr_decl, http_tls),
     .help = "HTTPS on http_listen (see `aggregator.http_tls`; absent: plain HTTP)"},
    /* aggregator.tls: */
    {.section = "aggregator.tls", .name = "cert_file", .type = SLT_KT_STR, TLSF(cert_file),
     .flags = SLT_KEY_REQUIRED, .help = "PEM certificate (chain) presented to agents"},
    {.section = "aggregator.tls", .name = "key_file", .type = SLT_KT_STR, TLSF(key_file),
     .flags = SLT_KEY_REQUIRED, .help = "PEM private key of cert_file"},
    {.section = "aggregator.tls", .name = "client_ca_file", .type = SLT_KT_STR,
     TLSF(client_ca_file),
     .help = "PEM CA bundle: agents must present a certificate it signs (mutual TLS), and "
             "HELLO's agent id must be its subject CN or one of its DNS names"},
    /* aggregator.http_tls: */
    {.section = "aggregator.http_tls", .name = "cert_file", .type = SLT_KT_STR, TLSF(cert_file),
     .flags = SLT_KEY_REQUIRED, .help = "PEM certificate (chain) of the HTTP API"},
    {.section = "aggregator.http_tls", .name = "key_file", .type = SLT_KT_STR, TLSF(key_file),
     .flags = SLT_KEY_REQUIRED, .help = "PEM private key of cert_file"},
    /* alerting: */
    {.section = "alerting", .name = "interval", .type = SLT_KT_DUR, ALERT(interval_ms),
     .unit_us = MS, .lo = 1000, .hi = 3600 * 1000, .def = "30s",
     .help = "how often every SLO is evaluated and firing alerts are sent again"},
    {.section = "alerting", .name = "alertmanager", .type = SLT_KT_STR, ALERT(alertmanager),
     .check = check_http_url,
     .help = "`http[s]://host[:port][/path]` of Alertmanager; alerts are POSTed to "
             "`{url}/api/v2/alerts` (absent: off)"},
    {.section = "alerting", .name = "webhook", .type = SLT_KT_STR, ALERT(webhook),
     .check = check_http_url,
     .help = "`http[s]://host[:port][/path]` that gets a JSON document per state change "
             "(absent: off)"},
    {.section = "alerting", .name = "labels", .type = SLT_KT_MAP, FIELD(struct alert_decl, labels),
     .help = "map of label names to strings added to every alert; at most 32, names like "
             "`[a-zA-Z_][a-zA-Z0-9_]*`, not alertname, slo, sli or severity"},
    {.section = "alerting", .name = "timeout", .type = SLT_KT_DUR, ALERT(timeout_ms),
     .unit_us = MS, .lo = 100, .hi = 60 * 1000, .def = "5s",
     .help = "a notification not answered in this time failed (it is retried at the next "
             "evaluation)"},
    {.section = "alerting", .name = "external_url", .type = SLT_KT_STR, ALERT(external_url),
     .check = check_link,
     .help = "the dashboard's URL as users reach it, used as generatorURL (absent: "
             "`http://<aggregator.http_listen>/`)"},
    {.section = "alerting", .name = "tls_ca_file", .type = SLT_KT_STR, ALERT(tls_ca_file),
     .help = "PEM file of the CA(s) that verify `https://` receivers (absent: the system's "
             "store); read for every new connection"},
    {.section = "alerting", .name = "bearer_token_file", .type = SLT_KT_STR,
     ALERT(bearer_token_file),
     .help = "file holding a token sent as `Authorization: Bearer` to Alertmanager and the "
             "webhook (read at load and reload; absent: none)"},
    {.section = "alerting", .name = "basic_auth", .type = SLT_KT_MAP,
     FIELD(struct alert_decl, basic_auth),
     .help = "HTTP basic authentication to Alertmanager and the webhook (see "
             "`alerting.basic_auth`; not with `bearer_token_file`)"},
    {.section = "alerting", .name = "pagerduty", .type = SLT_KT_MAP,
     FIELD(struct alert_decl, pagerduty),
     .help = "PagerDuty Events API v2 receiver (see `alerting.pagerduty`; absent: off)"},
    /* alerting.pagerduty: */
    {.section = "alerting.pagerduty", .name = "routing_key_file", .type = SLT_KT_STR,
     ALERT(pagerduty_routing_key_file), .flags = SLT_KEY_REQUIRED,
     .help = "file holding the integration's routing key (read at load and reload)"},
    {.section = "alerting.pagerduty", .name = "url", .type = SLT_KT_STR, ALERT(pagerduty_url),
     .def = "https://events.pagerduty.com/v2/enqueue", .check = check_link,
     .help = "Events API v2 endpoint that gets trigger and resolve events"},
    /* alerting.basic_auth: */
    {.section = "alerting.basic_auth", .name = "username", .type = SLT_KT_STR,
     ALERT(basic_auth_username), .flags = SLT_KEY_REQUIRED, .help = "the user name"},
    {.section = "alerting.basic_auth", .name = "password_file", .type = SLT_KT_STR,
     ALERT(basic_auth_password_file), .flags = SLT_KEY_REQUIRED,
     .help = "file holding the password (read at load and reload)"},
};
/* clang-format on */
_Static_assert(SLT_ARRAY_SIZE(keys) <= SLT__CONFIG_MAX_KEYS, "raise SLT__CONFIG_MAX_KEYS");

const struct slt__config_key *slt__config_keys(size_t *n)
{
    *n = SLT_ARRAY_SIZE(keys);
    return keys;
}

/* A duration in us as the largest unit that divides it ("2s", "28d", "100ms"). */
void slt__config_fmt_dur(char *buf, size_t len, int64_t us)
{
    static const struct {
        const char *name;
        int64_t us;
    } units[] = {{"d", 86400LL * SEC}, {"h", 3600LL * SEC}, {"m", 60LL * SEC},
                 {"s", SEC},           {"ms", MS},          {"us", 1}};
    size_t i;

    if (us == 0) {
        snprintf(buf, len, "0");
        return;
    }
    for (i = 0; i < SLT_ARRAY_SIZE(units); i++) {
        if (us % units[i].us == 0) {
            snprintf(buf, len, "%lld%s", (long long)(us / units[i].us), units[i].name);
            return;
        }
    }
    snprintf(buf, len, "%lldus", (long long)us);
}

static void fmt_size(char *buf, size_t len, uint64_t n)
{
    if (n && n % (1024ULL * MIB) == 0)
        snprintf(buf, len, "%lluGiB", (unsigned long long)(n / (1024ULL * MIB)));
    else if (n && n % MIB == 0)
        snprintf(buf, len, "%lluMiB", (unsigned long long)(n / MIB));
    else if (n && n % 1024 == 0)
        snprintf(buf, len, "%lluKiB", (unsigned long long)(n / 1024));
    else
        snprintf(buf, len, "%llu", (unsigned long long)n);
}

/* A bound of k in its unit as text. */
void slt__config_fmt_bound(const struct slt__config_key *k, int64_t v, char *buf, size_t len)
{
    if (k->type == SLT_KT_DUR)
        slt__config_fmt_dur(buf, len, v * k->unit_us);
    else if (k->type == SLT_KT_SIZE)
        fmt_size(buf, len, (uint64_t)v);
    else
        snprintf(buf, len, "%lld", (long long)v);
}

static const char *doc_type(const struct slt__config_key *k)
{
    switch (k->type) {
    case SLT_KT_STR:
        return "string";
    case SLT_KT_STRLIST:
        return "string or list of strings";
    case SLT_KT_DUR:
        return "duration";
    case SLT_KT_SIZE:
        return "size";
    case SLT_KT_UINT:
        return "integer";
    case SLT_KT_PERCENT:
        return "number";
    case SLT_KT_ENUM:
        return "enum";
    case SLT_KT_COND:
        return "conditions";
    case SLT_KT_MAP:
        return "map";
    case SLT_KT_LIST:
        return "list of maps";
    }
    return "?";
}

/* The bounds column of key k ("1s .. 1h", "`a`, `b`"); sep quotes enum choices. */
static void doc_bounds(const struct slt__config_key *k, char *bounds, size_t len, const char *q)
{
    char lo[32], hi[32];

    bounds[0] = '\0';
    if (k->type == SLT_KT_DUR || k->type == SLT_KT_SIZE || k->type == SLT_KT_UINT) {
        slt__config_fmt_bound(k, k->lo, lo, sizeof(lo));
        slt__config_fmt_bound(k, k->hi, hi, sizeof(hi));
        snprintf(bounds, len, "%s .. %s", lo, hi);
    } else if (k->type == SLT_KT_PERCENT) {
        snprintf(bounds, len, "0 < x < 100");
    } else if (k->type == SLT_KT_STRLIST) {
        snprintf(bounds, len, "at most %lld entries", (long long)k->hi);
    } else if (k->type == SLT_KT_ENUM) {
        const char *c = k->choices;
        size_t pos = 0;

        /* A '|' would end the markdown table cell. */
        while (*c && pos + 8 < len) {
            size_t l = strcspn(c, "|");
            int w =
                snprintf(bounds + pos, len - pos, "%s%s%.*s%s", pos ? ", " : "", q, (int)l, c, q);

            if (w < 0)
                break;
            pos += (size_t)w;
            c += l;
            if (*c)
                c++;
        }
    }
}

int slt__config_doc_keys(struct slt_buf *b)
{
    const char *section = "";
    char bounds[96];
    size_t i;
    int rc = 0;

    for (i = 0; i < SLT_ARRAY_SIZE(keys) && rc == 0; i++) {
        const struct slt__config_key *k = &keys[i];

        if (strcmp(section, k->section)) {
            section = k->section;
            rc = slt_buf_printf(b,
                                "%s### `%s`\n\n"
                                "| key | type | default | bounds | meaning |\n"
                                "|---|---|---|---|---|\n",
                                i ? "\n" : "", section);
            if (rc)
                break;
        }
        doc_bounds(k, bounds, sizeof(bounds), "`");
        rc = slt_buf_printf(b, "| `%s` | %s | %s%s%s | %s | %s |\n", k->name, doc_type(k),
                            k->def ? "`" : "",
                            k->def ? k->def : (k->flags & SLT_KEY_REQUIRED ? "required" : "none"),
                            k->def ? "`" : "", bounds, k->help);
    }
    return rc;
}

/* s as roff text: backslashes doubled, `code` in bold, a leading '.' or '\'' escaped. */
static int roff_text(struct slt_buf *b, const char *s)
{
    int rc = 0, bold = 0;

    if (*s == '.' || *s == '\'')
        rc = slt_buf_append(b, "\\&", 2);
    for (; *s && rc == 0; s++) {
        if (*s == '\\')
            rc = slt_buf_append(b, "\\e", 2);
        else if (*s == '`')
            rc = slt_buf_append(b, (bold = !bold) ? "\\fB" : "\\fR", 3);
        else if (*s == '-')
            rc = slt_buf_append(b, "\\-", 2);
        else
            rc = slt_buf_append(b, s, 1);
    }
    if (rc == 0 && bold)
        rc = slt_buf_append(b, "\\fR", 3);
    return rc;
}

int slt__config_man_keys(struct slt_buf *b)
{
    const char *section = "";
    char bounds[96], line[256];
    size_t i;
    int rc = 0;

    for (i = 0; i < SLT_ARRAY_SIZE(keys) && rc == 0; i++) {
        const struct slt__config_key *k = &keys[i];

        if (strcmp(section, k->section)) {
            section = k->section;
            rc = slt_buf_printf(b, ".SS \"%s\"\n", section);
        }
        doc_bounds(k, bounds, sizeof(bounds), "");
        snprintf(line, sizeof(line), "%s; default %s%s%s%s%s", doc_type(k), k->def ? "`" : "",
                 k->def ? k->def : (k->flags & SLT_KEY_REQUIRED ? "none, required" : "none"),
                 k->def ? "`" : "", bounds[0] ? "; " : "", bounds);
        if (rc == 0)
            rc = slt_buf_printf(b, ".TP\n.B %s\n", k->name);
        if (rc == 0)
            rc = roff_text(b, line);
        if (rc == 0)
            rc = slt_buf_append(b, ".\n.br\n", 6);
        if (rc == 0)
            rc = roff_text(b, k->help);
        if (rc == 0)
            rc = slt_buf_append(b, "\n", 1);
    }
    return rc;
}
