/*
 * The store on Redis (store.h, docs/REDIS.md): the Redis key schema, the scripts, the
 * exactly-once apply of batches and the reads of the API and alerting. This file is the
 * store's life (slt_store_new, slt_store_close, health, the tick); the rest is in pieces that
 * share store_internal.h:
 *
 * store_redis.c     the struct's life: slt_store_new, slt_store_close, health, the tick
 * store_keys.c      the key schema: every Redis key name of slitail is spelled there
 * store_nodes.c     nodes and routing, the cluster's slot map, MOVED/ASK
 * store_apply.c     the apply script, checking a batch, slt_store_apply, an entry's answer
 * store_batch.c     entries grouped per series (group commit), the EVALSHA calls, parking
 * store_series.c    the series set: bounded, its growth limited per agent, and its cache
 * store_read.c      a read as its caller builds it; the scripts of the query connection
 * store_inflight.c  reads in flight: routing, replies, deadlines
 *
 * Two connections (redis_conn.c): "ingest" for applies and "query" for reads, so a slow read
 * never delays an apply. Each series of a batch is one entry for the series' hash tag.
 * Entries that arrive in one loop iteration are grouped by tag, and each group becomes one
 * EVALSHA (group commit): the script checks and advances every agent's high-water mark of that
 * series in order and adds the counters of the entries it accepts, in one atomic step, so marks
 * and counts are lost or kept together. Calls are pipelined; per agent, order holds because a
 * session has at most one batch in flight.
 *
 * hiredis 0.14 has no timeouts: redis_conn.c watches the handshake and a PING heartbeat,
 * sessions time their own applies and call slt_store_reset() when one is late, and every read
 * has a deadline checked by the store's tick. Dropping a connection makes hiredis call every
 * pending callback with a NULL reply, which ends each pending apply with RETRY and each read
 * with SLT_EREDIS.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include "store_internal.h"

#define TICK_MS 50

/* The SHA1 of a script in hex, as EVALSHA wants it. */
static void script_sha(const char *script, char out[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0, i;

    if (!EVP_Digest(script, strlen(script), md, &n, EVP_sha1(), NULL) || n != 20)
        SLT_BUG("SHA1 of a script failed");
    for (i = 0; i < 20; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* ---- lifecycle ---- */

static void on_tick(uv_timer_t *t);

static int dup_str(char **dst, const char *src)
{
    *dst = src ? slt_strdup(src) : NULL;
    return src && !*dst ? SLT_ENOMEM : 0;
}

int slt_store_new(uv_loop_t *loop, const struct slt_store_conf *conf,
                  const struct slt_aggr_params *params, struct slt_aggr_stats *stats,
                  struct slt_store **out)
{
    const struct slt_redis_url *auth = conf->nseeds ? &conf->seeds[0] : conf->url;
    struct slt_store *st = slt_calloc(1, sizeof(*st));
    size_t i;
    int rc = 0;

    if (!st)
        return SLT_ENOMEM;
    st->loop = loop;
    st->stats = stats;
    st->cluster = conf->nseeds > 0;
    st->cache = slt_calloc(SERIES_CACHE_SLOTS, sizeof(*st->cache));
    st->nodes = slt_calloc(MAX_NODES, sizeof(*st->nodes));
    st->rates = slt_calloc(RATE_SLOTS, sizeof(*st->rates));
    st->slots = st->cluster ? slt_malloc(SLT_CLUSTER_SLOTS * sizeof(*st->slots)) : NULL;
    for (i = 0; i < conf->nseeds && !auth->password; i++)
        if (conf->seeds[i].password)
            auth = &conf->seeds[i];
    if (!st->cache || !st->nodes || !st->rates || (st->cluster && !st->slots) ||
        dup_str(&st->user, auth->user) < 0 || dup_str(&st->password, auth->password) < 0) {
        slt_free(st->cache);
        slt_free(st->nodes);
        slt_free(st->rates);
        slt_free(st->slots);
        slt_free(st->user);
        slt_free(st->password);
        slt_free(st);
        return SLT_ENOMEM;
    }
    for (i = 0; st->cluster && i < SLT_CLUSTER_SLOTS; i++)
        st->slots[i] = -1;
    if (st->cluster)
        snprintf(st->desc, sizeof(st->desc), "cluster of %zu seed(s)", conf->nseeds);
    else
        slt_redis_url_describe(conf->url, st->desc, sizeof(st->desc));
    script_sha(slt_store_apply_script, st->apply_sha);
    script_sha(slt_store_cas_script, st->cas_sha);
    script_sha(slt_store_series_script, st->series_sha);
    script_sha(slt_store_lease_script, st->lease_sha);
    slt_store_set_params(st, params);
    uv_timer_init(loop, &st->tick);
    uv_check_init(loop, &st->check);
    uv_idle_init(loop, &st->idle);
    st->tick.data = st->check.data = st->idle.data = st;
    st->open_handles = 3;
    uv_timer_start(&st->tick, on_tick, TICK_MS, TICK_MS);
    stats->redis_connected = 0;
    if (!st->cluster) {
        if (!slt__store_node_add(st, conf->url->host ? conf->url->host : "", conf->url->port,
                                 conf->url->path, conf->url->db))
            rc = SLT_ENOMEM;
    }
    for (i = 0; rc == 0 && i < conf->nseeds; i++)
        if (!slt__store_node_get(st, conf->seeds[i].host, conf->seeds[i].port))
            rc = SLT_ENOMEM;
    if (rc < 0) {
        slt_store_close(st, NULL, NULL);
        return rc;
    }
    *out = st;
    return 0;
}

void slt_store_set_params(struct slt_store *st, const struct slt_aggr_params *p)
{
    st->mret = p->minute_retention_s;
    st->hret = p->hour_retention_s;
    st->dret = p->day_retention_s;
    st->timeout_ms = p->redis_timeout_ms > 0 ? p->redis_timeout_ms : 2000;
    st->max_series = p->max_series ? p->max_series : SLT_STORE_MAX_SERIES_DEFAULT;
}

static void store_maybe_freed(struct slt_store *st)
{
    slt_closed_cb cb;
    void *data;
    size_t i;

    if (st->open_handles > 0)
        return;
    for (i = 0; i < st->nnodes; i++)
        if (st->nodes[i]->nopen > 0)
            return;
    cb = st->on_closed;
    data = st->closed_data;
    for (i = 0; i < st->nnodes; i++)
        slt_free(st->nodes[i]);
    slt__store_cache_clear(st);
    slt_free(st->cache);
    slt_free(st->nodes);
    slt_free(st->rates);
    slt_free(st->slots);
    slt_free(st->user);
    slt_free(st->password);
    slt_free(st->argv);
    slt_free(st->argvlen);
    slt_free(st->rows);
    slt_free(st);
    if (cb)
        cb(data);
}

static void on_store_handle_closed(uv_handle_t *h)
{
    struct slt_store *st = h->data;

    st->open_handles--;
    store_maybe_freed(st);
}

static void on_conn_closed(void *data)
{
    struct node *n = data;

    n->nopen--;
    store_maybe_freed(n->st);
}

void slt_store_close(struct slt_store *st, slt_closed_cb on_closed, void *data)
{
    size_t i;

    if (!st) {
        if (on_closed)
            on_closed(data);
        return;
    }
    if (st->freeing)
        return;
    st->freeing = 1;
    st->on_closed = on_closed;
    st->closed_data = data;
    st->stats->redis_connected = 0;
    /* pending applies end with RETRY and reads with SLT_EREDIS, now */
    for (i = 0; i < st->nnodes; i++) {
        struct node *n = st->nodes[i];

        n->ingest.data = n->query.data = n; /* also for a connection whose init failed */
        if (n->ingest.name)
            slt_rconn_close(&n->ingest, on_conn_closed, n);
        if (n->query.name)
            slt_rconn_close(&n->query, on_conn_closed, n);
    }
    slt__store_park_drop_calls(st);
    slt__store_park_drop_reads(st);
    slt__store_fail_queued(st);
    slt__store_abort_ops(st);
    uv_timer_stop(&st->tick);
    uv_check_stop(&st->check);
    uv_idle_stop(&st->idle);
    uv_close((uv_handle_t *)&st->tick, on_store_handle_closed);
    uv_close((uv_handle_t *)&st->check, on_store_handle_closed);
    uv_close((uv_handle_t *)&st->idle, on_store_handle_closed);
}

void slt_store_health(const struct slt_store *st, struct slt_store_health *h)
{
    memset(h, 0, sizeof(*h));
    h->ingest_up = slt__store_nodes_up(st, 0);
    h->query_up = slt__store_nodes_up(st, 1);
    h->query_timeouts = st->q_deadlines;
    h->query_reconnects = st->q_reconnects;
}

static void on_tick(uv_timer_t *t)
{
    struct slt_store *st = t->data;

    slt__store_refresh_tick(st);
    slt__store_park_retry_calls(st);
    slt__store_park_retry_reads(st);
    slt__store_check_deadlines(st);
}
