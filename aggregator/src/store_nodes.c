/*
 * The Redis servers the store talks to (store_internal.h, struct node): opening a node's two
 * connections and what runs when they come up, routing a key to its node, and on a Redis
 * Cluster the slot map (CLUSTER SLOTS, parsed by cluster.c), MOVED/ASK and the errors a
 * command waits out.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

#define REFRESH_MIN_NS 200000000ull    /* 200 ms between two CLUSTER SLOTS */
#define REFRESH_EVERY_NS 5000000000ull /* and one every 5 s anyway */

/* ---- nodes and routing ---------------------------------------------------------------------- */

/* The node that owns a key: the one server, or the master of the key's slot (NULL: unknown). */
struct node *slt__store_node_for_key(struct slt_store *st, const char *key, size_t klen)
{
    int idx;

    if (!st->cluster)
        return st->nnodes ? st->nodes[0] : NULL;
    idx = st->slots[slt_cluster_keyslot(key, klen)];
    return idx >= 0 ? st->nodes[idx] : NULL;
}

/* The node that owns every key of a series (its hash tag). */
struct node *slt__store_node_for_series(struct slt_store *st, int kind, const char *name,
                                        size_t nlen)
{
    char prefix[SLT_STORE_MAX_NAME + 16];
    size_t n = slt__store_series_prefix(prefix, sizeof(prefix), kind, name,
                                        nlen < SLT_STORE_MAX_NAME ? nlen : SLT_STORE_MAX_NAME);

    return slt__store_node_for_key(st, prefix, n);
}

/* 1 when every node that owns slots has its connection of the given kind up. */
int slt__store_nodes_up(const struct slt_store *st, int query)
{
    unsigned char owns[MAX_NODES];
    size_t i;

    if (st->freeing || st->nnodes == 0)
        return 0;
    if (!st->cluster)
        return slt_rconn_up(query ? &st->nodes[0]->query : &st->nodes[0]->ingest);
    if (!st->map_complete)
        return 0;
    memset(owns, 0, sizeof(owns));
    for (i = 0; i < SLT_CLUSTER_SLOTS; i++)
        owns[st->slots[i]] = 1;
    for (i = 0; i < st->nnodes; i++)
        if (owns[i] && !slt_rconn_up(query ? &st->nodes[i]->query : &st->nodes[i]->ingest))
            return 0;
    return 1;
}

/*
 * CONFIG GET maxmemory-policy: anything but noeviction lets Redis evict buckets and marks
 * under memory pressure (the API forgets SLIs, marks vanish). Warned, and shown in /metrics;
 * a server that refuses CONFIG (renamed on managed services) is noted at debug level.
 */
static void on_policy(redisAsyncContext *ac, void *r, void *priv)
{
    struct node *n = priv;
    redisReply *reply = r;
    const char *policy;

    (void)ac;
    if (!reply || n->st->freeing)
        return;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[1]->type != REDIS_REPLY_STRING) {
        slt_log(SLT_LOG_DEBUG, "redis", "cannot read maxmemory-policy of '%s'", n->addr);
        return;
    }
    policy = reply->element[1]->str;
    n->may_evict = strcmp(policy, "noeviction") != 0;
    if (n->may_evict)
        slt_log(SLT_LOG_WARN, "redis",
                "'%s' runs with maxmemory-policy '%s': under memory pressure it evicts "
                "slitail's buckets and marks; set 'maxmemory-policy noeviction' (docs/REDIS.md)",
                n->st->cluster ? n->addr : n->st->desc, policy);
    n->st->stats->redis_may_evict = 0;
    for (size_t i = 0; i < n->st->nnodes; i++)
        n->st->stats->redis_may_evict |= (uint64_t)n->st->nodes[i]->may_evict;
}

static void on_ingest_up(struct slt_rconn *c)
{
    struct node *n = c->data;
    struct slt_store *st = n->st;
    const char *argv[3] = {"SCRIPT", "LOAD", slt_store_apply_script};
    size_t lens[3] = {6, 4, strlen(slt_store_apply_script)};

    /* pipelined before any EVALSHA on this connection, so they find it (NOSCRIPT is handled
     * anyway: a SCRIPT FLUSH can come at any time) */
    slt_rconn_command(c, NULL, NULL, 3, argv, lens);
    argv[2] = slt_store_series_script;
    lens[2] = strlen(slt_store_series_script);
    slt_rconn_command(c, NULL, NULL, 3, argv, lens);
    {
        const char *cg[3] = {"CONFIG", "GET", "maxmemory-policy"};
        size_t cl[3] = {6, 3, 16};

        slt_rconn_command(c, on_policy, n, 3, cg, cl);
    }
    slt__store_cache_clear(st);
    st->stats->redis_connected = slt__store_nodes_up(st, 0);
    if (st->cluster)
        slt_log(SLT_LOG_INFO, "redis", "connected to cluster node '%s'", n->addr);
    else
        slt_log(SLT_LOG_INFO, "redis", "connected to '%s'", st->desc);
}

static void on_ingest_down(struct slt_rconn *c, int was_up)
{
    struct node *n = c->data;

    (void)was_up;
    n->st->stats->redis_connected = slt__store_nodes_up(n->st, 0);
    if (n->st->cluster && !n->st->freeing)
        slt__store_want_refresh(n->st); /* a master that fails: its replica takes its slots */
}

static void on_query_up(struct slt_rconn *c)
{
    struct node *n = c->data;
    const char *scripts[2] = {slt_store_cas_script, slt_store_lease_script};
    size_t i;

    /* the scripts this connection runs, loaded before their first EVALSHA (no NOSCRIPT) */
    for (i = 0; i < 2; i++) {
        const char *argv[3] = {"SCRIPT", "LOAD", scripts[i]};
        size_t lens[3] = {6, 4, strlen(scripts[i])};

        slt_rconn_command(c, NULL, NULL, 3, argv, lens);
    }

    if (n->st->cluster && (!n->st->map_complete || n->st->refresh_wanted))
        slt__store_want_refresh(n->st);
}

/* Opens both connections of a node (path: a unix socket, only without a cluster). */
static int node_open(struct slt_store *st, struct node *n, const char *path, int db)
{
    struct slt_rconn_opts o;
    char name[400];
    int rc;

    memset(&o, 0, sizeof(o));
    n->st = st;
    o.host = path ? NULL : n->host;
    o.port = n->port;
    o.path = path;
    o.user = st->user;
    o.password = st->password;
    o.db = db;
    o.timeout_ms = st->timeout_ms;
    o.name = st->cluster ? n->addr : st->desc;
    o.quiet = 1; /* "connected to" is logged by on_ingest_up, failures by the connection */
    o.stats.reconnects = &st->stats->redis_reconnects;
    o.stats.errors = &st->stats->redis_errors;
    o.stats.timeouts = &st->stats->redis_timeouts;
    rc = slt_rconn_init(&n->ingest, st->loop, &o);
    if (rc < 0)
        return rc;
    n->ingest.data = n;
    n->ingest.on_up = on_ingest_up;
    n->ingest.on_down = on_ingest_down;
    n->nopen++;
    snprintf(name, sizeof(name), "%s (queries)", o.name);
    o.name = name;
    o.quiet = 2; /* the ingest connection already says when this server is down */
    o.stats.reconnects = &st->q_reconnects;
    o.stats.errors = &st->q_errors;
    o.stats.timeouts = &st->q_timeouts;
    rc = slt_rconn_init(&n->query, st->loop, &o);
    if (rc < 0)
        return rc;
    n->query.data = n;
    n->query.on_up = on_query_up;
    n->nopen++;
    return 0;
}

/* Adds a node (its connections start now). NULL when MAX_NODES are known or no memory. */
struct node *slt__store_node_add(struct slt_store *st, const char *host, int port, const char *path,
                                 int db)
{
    struct node *n;

    if (st->nnodes >= MAX_NODES || strlen(host) >= sizeof(n->host))
        return NULL;
    n = slt_calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    snprintf(n->host, sizeof(n->host), "%s", host);
    n->port = port;
    snprintf(n->addr, sizeof(n->addr), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    n->idx = (int)st->nnodes;
    st->nodes[st->nnodes++] = n;
    if (node_open(st, n, path, db) < 0 && n->nopen == 0) {
        /* nothing opened: forget it (a half-open node is closed with the store) */
        st->nnodes--;
        slt_free(n);
        return NULL;
    }
    return n;
}

/* The node at host:port, added when new (NULL: over MAX_NODES or no memory). */
struct node *slt__store_node_get(struct slt_store *st, const char *host, int port)
{
    size_t i;

    for (i = 0; i < st->nnodes; i++)
        if (st->nodes[i]->port == port && strcmp(st->nodes[i]->host, host) == 0)
            return st->nodes[i];
    return slt__store_node_add(st, host, port, NULL, 0);
}

/* ---- the cluster's slot map ---- */

/*
 * A CLUSTER SLOTS reply from node n, parsed (and checked) by cluster.c: the masters it names
 * become nodes, the map becomes complete when every slot has one. A reply that does not parse
 * changes nothing (counted, logged once a minute; another node is asked).
 */
static void on_cluster_slots(redisAsyncContext *ac, void *r, void *priv)
{
    struct node *from = priv;
    struct slt_store *st = from->st;
    redisReply *reply = r;
    struct slt_cluster_map *map;
    int idx[SLT_CLUSTER_MAX_NODES];
    size_t i, covered = 0;
    char err[200];

    (void)ac;
    st->refresh_inflight = 0;
    st->refresh_last_ns = uv_hrtime();
    if (st->freeing)
        return;
    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
        if (reply && reply->type == REDIS_REPLY_ERROR)
            slt_log(SLT_LOG_WARN, "redis", "CLUSTER SLOTS on '%s' failed: %.200s", from->addr,
                    reply->str);
        st->refresh_wanted = 1; /* ask another node next tick */
        return;
    }
    map = slt_malloc(sizeof(*map));
    if (!map)
        return;
    if (slt_cluster_parse_slots(reply, from->host, map, err, sizeof(err)) < 0) {
        uint64_t now = uv_hrtime();

        st->stats->redis_cluster_refused++;
        if (now - st->slots_logged_ns >= 60000000000ull || st->slots_logged_ns == 0) {
            slt_log(SLT_LOG_WARN, "redis", "CLUSTER SLOTS reply of '%s' refused: %s", from->addr,
                    err);
            st->slots_logged_ns = now;
        }
        slt_free(map);
        st->refresh_wanted = 1;
        return;
    }
    /* the masters in the order the reply names them, as nodes (-1: over MAX_NODES, no memory) */
    for (i = 0; i < map->nnodes; i++) {
        struct node *n = slt__store_node_get(st, map->nodes[i].host, map->nodes[i].port);

        idx[i] = n ? n->idx : -1;
    }
    for (i = 0; i < SLT_CLUSTER_SLOTS; i++) {
        map->slot[i] = map->slot[i] >= 0 ? (int16_t)idx[map->slot[i]] : -1;
        covered += map->slot[i] >= 0;
    }
    if (covered == 0) {
        slt_free(map);
        st->refresh_wanted = 1;
        return;
    }
    memcpy(st->slots, map->slot, SLT_CLUSTER_SLOTS * sizeof(*st->slots));
    slt_free(map);
    st->stats->redis_cluster_refreshes++;
    if (covered == SLT_CLUSTER_SLOTS && !st->map_complete)
        slt_log(SLT_LOG_INFO, "redis", "cluster slot map complete (%zu nodes known)", st->nnodes);
    else if (covered < SLT_CLUSTER_SLOTS && st->map_complete)
        slt_log(SLT_LOG_WARN, "redis", "cluster: %zu of %d slots have no master",
                SLT_CLUSTER_SLOTS - covered, SLT_CLUSTER_SLOTS);
    st->map_complete = covered == SLT_CLUSTER_SLOTS;
    st->refresh_wanted = !st->map_complete;
    st->stats->redis_connected = slt__store_nodes_up(st, 0);
}

/* Sends CLUSTER SLOTS to the next node whose query connection is up. */
static void refresh_map(struct slt_store *st)
{
    const char *argv[2] = {"CLUSTER", "SLOTS"};
    size_t lens[2] = {7, 5}, k;

    if (st->refresh_inflight || st->freeing)
        return;
    for (k = 0; k < st->nnodes; k++) {
        struct node *n = st->nodes[(st->refresh_next + k) % st->nnodes];

        if (!slt_rconn_up(&n->query))
            continue;
        if (slt_rconn_command(&n->query, on_cluster_slots, n, 2, argv, lens) == 0) {
            st->refresh_next = (size_t)n->idx + 1;
            st->refresh_inflight = 1;
            st->refresh_wanted = 0;
            return;
        }
    }
}

void slt__store_want_refresh(struct slt_store *st)
{
    st->refresh_wanted = 1;
    if (uv_hrtime() - st->refresh_last_ns >= REFRESH_MIN_NS)
        refresh_map(st);
}

/* From the tick: keeps the map fresh while something is off, and every 5 s anyway. */
void slt__store_refresh_tick(struct slt_store *st)
{
    uint64_t now = uv_hrtime();

    if (!st->cluster || st->refresh_inflight)
        return;
    if (!st->map_complete || !slt__store_nodes_up(st, 0))
        st->refresh_wanted = 1;
    if ((st->refresh_wanted && now - st->refresh_last_ns >= REFRESH_MIN_NS) ||
        now - st->refresh_last_ns >= REFRESH_EVERY_NS)
        refresh_map(st);
}

/*
 * A redirection of a command sent to node from: MOVED updates the map (and asks for a fresh
 * one); both give the node to send to next, or NULL.
 */
struct node *slt__store_follow_redirect(struct slt_store *st, struct node *from,
                                        const struct slt_cluster_redirect *rd)
{
    struct node *to;

    if (!st->cluster)
        return NULL;
    to = slt__store_node_get(st, rd->host[0] ? rd->host : from->host, rd->port);
    if (!to)
        return NULL;
    if (rd->kind == SLT_CLUSTER_MOVED) {
        st->stats->redis_moved++;
        st->slots[rd->slot] = (int16_t)to->idx;
        slt__store_want_refresh(st);
    } else {
        st->stats->redis_ask++;
    }
    return to;
}

/*
 * 1 for an error a cluster command waits out and sends again (counted): TRYAGAIN (a
 * multi-key command while its slot is migrated), CLUSTERDOWN (asks for a fresh map), LOADING.
 */
int slt__store_cluster_wait_error(struct slt_store *st, const redisReply *reply)
{
    if (strncmp(reply->str, "TRYAGAIN", 8) != 0 && strncmp(reply->str, "CLUSTERDOWN", 11) != 0 &&
        strncmp(reply->str, "LOADING", 7) != 0)
        return 0;
    st->stats->redis_tryagain++;
    if (reply->str[0] == 'C')
        slt__store_want_refresh(st);
    return 1;
}
