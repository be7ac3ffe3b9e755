/*
 * What the pieces of the config loader share (config/src only, never installed): the bounds on
 * what a config may hold, the declarations that the key table's offsets point into, the walk's
 * context with its node accessors, and what each piece (see config.c) gives the others.
 */
#ifndef SLT_CONFIG_LOAD_H
#define SLT_CONFIG_LOAD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
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

/* One walk over a loaded document: where messages go and what the walk has built so far. */
struct ctx {
    const char *file;
    yaml_document_t *doc;
    char *err;
    size_t errlen;
    struct slt_config *cfg;
    size_t natoms;
    int *fmt_lines; /* where each user format was declared */
};

static inline const yaml_node_t *node(struct ctx *c, int id)
{
    return yaml_document_get_node(c->doc, id);
}

static inline const char *sval(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static inline int is_null(const yaml_node_t *n)
{
    const char *s;

    if (!n)
        return 1;
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    s = sval(n);
    return !strcmp(s, "") || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

static inline const char *kind_name(const yaml_node_t *n)
{
    if (is_null(n))
        return "nothing";
    switch (n->type) {
    case YAML_MAPPING_NODE:
        return "a map";
    case YAML_SEQUENCE_NODE:
        return "a list";
    default:
        return "a string";
    }
}

/* The value of key name in map n, or NULL. */
static inline const yaml_node_t *map_get(struct ctx *c, const yaml_node_t *n, const char *name)
{
    const yaml_node_pair_t *p;

    if (!n || n->type != YAML_MAPPING_NODE)
        return NULL;
    for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node(c, p->key);

        if (k && k->type == YAML_SCALAR_NODE && !strcmp(sval(k), name))
            return node(c, p->value);
    }
    return NULL;
}

/*
 * config_yaml.c, the walk over libyaml's node tree. Every failure writes "file:line:col:
 * message" and returns SLT_ECONFIG (SLT_ENOMEM: "file: out of memory").
 */
/* "file:line:col: message" at node n (NULL: 1:1); returns SLT_ECONFIG. */
int slt__config_fail(struct ctx *c, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int slt__config_nomem(struct ctx *c);
void slt__config_free_strlist(char **list, size_t n);
/* The defaults of the keys of section into base. */
int slt__config_apply_defaults(struct ctx *c, const char *section, void *base);
/* Set base from map n by the keys of section; what names the map in messages. */
int slt__config_load_map(struct ctx *c, const yaml_node_t *n, const char *section, void *base,
                         const char *what);
/* "sli 'x'" when the map has a usable name, else "sli #3". */
void slt__config_item_what(struct ctx *c, const yaml_node_t *n, const char *singular, size_t idx,
                           char *buf, size_t len);
/* name is 1 to MAX_NAME letters, digits, '.', '_' or '-' (else a failure at map's name). */
int slt__config_check_name(struct ctx *c, const yaml_node_t *map, const char *what,
                           const char *name);
/* The items of a list section; NULL n (absent or empty) gives none. */
int slt__config_section_items(struct ctx *c, const yaml_node_t *n, const char *section,
                              size_t *cnt);
/* libyaml's parser error as a failure. */
int slt__config_yaml_fail(struct ctx *c, yaml_parser_t *parser);
/* The bounds on nesting, size and anchors, checked on libyaml's events before the load. */
int slt__config_yaml_precheck(struct ctx *c, const char *yaml, size_t len);

/* config_inputs.c: the formats section, then the inputs section (which uses its formats). */
int slt__config_load_formats(struct ctx *c, const yaml_node_t *n);
int slt__config_load_inputs(struct ctx *c, const yaml_node_t *n);
/* The names of the built-in formats, ", "-separated, in buf. */
const char *slt__config_builtin_list(char *buf, size_t len);
/* config_rules.c: the slis section (after inputs), each SLI's conditions compiled. */
int slt__config_load_slis(struct ctx *c, const yaml_node_t *n);
/* config_slos.c: the alerting section, and the slos section (after slis and aggregator). */
int slt__config_load_alerting(struct ctx *c, const yaml_node_t *n);
int slt__config_load_slos(struct ctx *c, const yaml_node_t *n);
void slt__config_slo_release(struct slt_slo *slo);

#endif
