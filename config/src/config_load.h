/*
 * What the pieces of the config loader share (config/src only, never installed): the bounds on
 * what a config may hold, the declarations that the key table's offsets point into, and the
 * helpers of config_keys.c that the loader uses.
 */
#ifndef SLT_CONFIG_LOAD_H
#define SLT_CONFIG_LOAD_H

#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "config_internal.h"
#include "slt/config.h"

/* Bounds on what a config may hold. */
#define MAX_CONFIG_BYTES (1024 * 1024)
#define MAX_YAML_NODES 100000
#define MAX_YAML_DEPTH 32
#define MAX_ANCHORS 256
#define MAX_ITEMS 1024   /* per list section */
#define MAX_STR 4096     /* bytes in one string value */
#define MAX_LIST 1024    /* strings in one list */
#define MAX_ATOMS 4096   /* conditions in the whole config */
#define MAX_MAP_ATOMS 64 /* conditions in one map */
#define MAX_MAPS 64      /* maps in one condition list */
#define MAX_NAME 64

#define MS 1000
#define SEC 1000000
#define DAY_S 86400
#define MIB (1024 * 1024)

/* What a format entry holds until slt_format_new() builds it. */
struct fmt_decl {
    char *name;
    char *regex;
    const yaml_node_t *json;
    char *time_layout;
    int latency_unit;
    uint32_t match_limit;
    uint32_t depth_limit;
};

/* What an SLI entry holds until its input is known and its conditions compile. */
struct sli_decl {
    char *name;
    char *input;
    const yaml_node_t *match, *exclude, *bad;
};

/* What the alerting section holds until its labels are checked. */
struct alert_decl {
    struct slt_alert_conf conf;
    const yaml_node_t *labels;
    const yaml_node_t *pagerduty;
    const yaml_node_t *basic_auth;
};

/* What the agent and aggregator sections hold until their TLS maps are loaded. */
struct agent_decl {
    struct slt_agent_conf conf; /* first: the AGENT() offsets hold for this struct too */
    const yaml_node_t *tls, *status_tls;
};

struct aggr_decl {
    struct slt_aggr_conf conf; /* first: the AGGR() offsets hold for this struct too */
    const yaml_node_t *tls, *http_tls;
};

/* What an SLO entry holds until its tiers, policy and labels are loaded. */
struct slo_decl {
    struct slt_slo slo;
    const yaml_node_t *alerts, *policy, *labels;
};

/* config_keys.c: the check of `aggregator.redis` (its message must not echo the value). */
int slt__config_check_redis(const char *s, char *msg, size_t msglen);
/* A duration in us as the largest unit that divides it ("2s", "28d", "100ms"). */
void slt__config_fmt_dur(char *buf, size_t len, int64_t us);
/* A bound of k in its unit as text. */
void slt__config_fmt_bound(const struct slt__config_key *k, int64_t v, char *buf, size_t len);

#endif
