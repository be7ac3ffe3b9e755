/*
 * The series set (slt:series): bounded by aggregator.max_series, its growth limited per agent
 * id, and a cache of the series this aggregator registered lately, so a batch of known series
 * goes straight to the apply (docs/REDIS.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

#define SERIES_CACHE_MAX (SERIES_CACHE_SLOTS / 2)
#define SERIES_CACHE_TTL_NS (60ULL * 1000000000ULL)
#define NEW_SERIES_BURST 1000.0  /* new series an agent id may add at once ... */
#define NEW_SERIES_PER_MIN 100.0 /* ... and then per minute */

/* ---- the series set: bounded (aggregator.max_series), its growth limited per agent ---- */

void slt__store_cache_clear(struct slt_store *st)
{
    size_t i;

    if (!st->cache)
        return;
    for (i = 0; i < SERIES_CACHE_SLOTS; i++) {
        slt_free(st->cache[i]);
        st->cache[i] = NULL;
    }
    st->ncache = 0;
    st->cache_born_ns = slt_mono_ns();
}

/* The member of slt:series for part e of ap (the name with a NUL is cut there, as before). */
static size_t part_member(const struct slt_apply_part *e, char *out, size_t max)
{
    const char *name = e->ap->strs.p + e->name_off;
    const char *nul = memchr(name, '\0', e->name_len);
    size_t len = nul ? (size_t)(nul - name) : e->name_len;

    if (len + 3 > max)
        len = max - 3;
    return slt__store_series_member(out, max, e->kind, name, len);
}

static uint32_t fnv1a(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    size_t i;

    for (i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 16777619u;
    return h;
}

/* 1 when member is in the cache; else 0 and *slot is where it would go. */
static int cache_find(const struct slt_store *st, const char *m, size_t n, size_t *slot)
{
    size_t k = fnv1a(m, n) & (SERIES_CACHE_SLOTS - 1);

    while (st->cache[k]) {
        if (strlen(st->cache[k]) == n && memcmp(st->cache[k], m, n) == 0)
            return 1;
        k = (k + 1) & (SERIES_CACHE_SLOTS - 1);
    }
    *slot = k;
    return 0;
}

static void cache_put(struct slt_store *st, const char *m, size_t n)
{
    size_t slot;

    if (cache_find(st, m, n, &slot))
        return;
    if (st->ncache >= SERIES_CACHE_MAX) {
        slt__store_cache_clear(st); /* bounded: start over, registering again is harmless */
        cache_find(st, m, n, &slot);
    }
    if ((st->cache[slot] = slt_strndup(m, n)) != NULL)
        st->ncache++;
}

/*
 * The new-series allowance of an agent id: a token bucket (NEW_SERIES_BURST, refilled at
 * NEW_SERIES_PER_MIN per minute) in a fixed table of RATE_SLOTS; ids whose hashes collide
 * share one bucket (it only gets stricter).
 */
static struct rate *agent_rate(struct slt_store *st, const char *id, size_t len)
{
    struct rate *r = &st->rates[fnv1a(id, len) % RATE_SLOTS];
    uint64_t now = uv_hrtime();

    if (!r->at_ns) {
        r->tokens = NEW_SERIES_BURST;
    } else {
        r->tokens += (double)(now - r->at_ns) / 60e9 * NEW_SERIES_PER_MIN;
        if (r->tokens > NEW_SERIES_BURST)
            r->tokens = NEW_SERIES_BURST;
    }
    r->at_ns = now;
    return r;
}

/*
 * KEYS[1] = slt:series; ARGV[1] = max_series, ARGV[2] = how many new members this agent may
 * still add, ARGV[3..] = members. Per member: 1 added, 0 already there, -1 refused (the set
 * holds max_series), -2 refused (the agent's allowance is used up).
 */
const char slt_store_series_script[] =
    "local max, left = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
    "local n = redis.call('SCARD', KEYS[1])\n"
    "local out = {}\n"
    "for i = 3, #ARGV do\n"
    "  if redis.call('SISMEMBER', KEYS[1], ARGV[i]) == 1 then out[i - 2] = 0\n"
    "  elseif n >= max then out[i - 2] = -1\n"
    "  elseif left < 1 then out[i - 2] = -2\n"
    "  else redis.call('SADD', KEYS[1], ARGV[i]) n = n + 1 left = left - 1 out[i - 2] = 1 end\n"
    "end\n"
    "return out\n";

/* A registration of the new series of one batch, waiting for its answer. */
struct reg {
    struct slt_store *st;
    struct slt_apply *ap;
    struct rate *rate;
    struct node *node;
    int retried;
    size_t n;
    size_t idx[]; /* parts of ap being registered */
};

/* Queues every part of ap; 0, or SLT_ENOMEM when nothing could be queued. */
static int enqueue_all(struct slt_store *st, struct slt_apply *ap)
{
    size_t i, j;

    ap->sent_ns = uv_hrtime();
    ap->pending = ap->nparts;
    for (i = 0; i < ap->nparts; i++) {
        if (slt__store_enqueue(st, &ap->parts[i]) < 0) {
            if (i == 0) {
                ap->pending = 0;
                return SLT_ENOMEM;
            }
            /* entries before i are queued and keep pending above zero */
            for (j = i; j < ap->nparts; j++)
                slt__store_entry_done(&ap->parts[j], SLT_ACK_RETRY, 0);
            return 0;
        }
    }
    return 0;
}

/* The batch cannot go on now: RETRY (the agent sends it again later). */
static void reg_retry(struct slt_apply *ap)
{
    ap->status = SLT_ACK_RETRY;
    ap->pending = 0;
    ap->done(ap);
}

static int reg_send(struct reg *rg, int eval);

static void on_reg_reply(redisAsyncContext *ac, void *r, void *priv)
{
    struct reg *rg = priv;
    struct slt_store *st = rg->st;
    struct slt_apply *ap = rg->ap;
    redisReply *reply = r;
    size_t i, full = 0, rated = 0;
    char m[SLT_STORE_MAX_NAME + 8];

    (void)ac;
    ap->reg_node = NULL;
    if (reply && reply->type == REDIS_REPLY_ERROR && !rg->retried &&
        strncmp(reply->str, "NOSCRIPT", 8) == 0 && !st->freeing) {
        rg->retried = 1;
        if (reg_send(rg, 1) == 0)
            return;
    }
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != rg->n) {
        if (reply && reply->type == REDIS_REPLY_ERROR) {
            st->stats->redis_errors++;
            if (st->cluster)
                slt__store_want_refresh(st); /* MOVED: the series set's slot moved */
        }
        reg_retry(ap);
        slt_free(rg);
        return;
    }
    for (i = 0; i < rg->n; i++) {
        long long v =
            reply->element[i]->type == REDIS_REPLY_INTEGER ? reply->element[i]->integer : -3;
        size_t n = part_member(&ap->parts[rg->idx[i]], m, sizeof(m));

        if (v == 1 || v == 0)
            cache_put(st, m, n);
        if (v == 1 && rg->rate->tokens >= 1)
            rg->rate->tokens -= 1;
        full += v == -1;
        rated += v == -2 || v == -3;
    }
    slt_free(rg);
    if (full || rated) {
        uint64_t now = uv_hrtime();

        st->stats->series_refused[0] += full;
        st->stats->series_refused[1] += rated;
        if (now - st->series_logged_ns > 10000000000ull || !st->series_logged_ns) {
            st->series_logged_ns = now;
            slt_log(SLT_LOG_WARN, "ingest", "batch %llu of agent '%.*s' waits (RETRY): %s",
                    (unsigned long long)ap->seq, (int)ap->agent_len, ap->strs.p,
                    full ? "the series set is full (aggregator.max_series; docs/REDIS.md)"
                         : "the agent adds new series faster than allowed (docs/REDIS.md)");
        }
        reg_retry(ap);
        return;
    }
    if (enqueue_all(st, ap) < 0)
        reg_retry(ap);
}

static int reg_send(struct reg *rg, int eval)
{
    struct slt_store *st = rg->st;
    char(*m)[SLT_STORE_MAX_NAME + 8] = NULL;
    const char **argv;
    size_t *lens, i, argc = 6 + rg->n;
    char max[24], left[24];
    int rc = SLT_ENOMEM;

    if (!rg->node || !slt_rconn_up(&rg->node->ingest))
        return SLT_EREDIS;
    argv = slt_malloc(argc * sizeof(*argv));
    lens = slt_malloc(argc * sizeof(*lens));
    m = slt_malloc(rg->n * sizeof(*m));
    if (argv && lens && m) {
        argv[0] = eval ? "EVAL" : "EVALSHA";
        argv[1] = eval ? slt_store_series_script : st->series_sha;
        argv[2] = "1";
        argv[3] = slt__store_key_series;
        argv[4] = max;
        lens[4] = slt_fmt_u64(max, st->max_series);
        argv[5] = left;
        lens[5] = slt_fmt_u64(left, (uint64_t)rg->rate->tokens);
        for (i = 0; i < 4; i++)
            lens[i] = strlen(argv[i]);
        for (i = 0; i < rg->n; i++) {
            lens[6 + i] = part_member(&rg->ap->parts[rg->idx[i]], m[i], sizeof(m[i]));
            argv[6 + i] = m[i];
        }
        rc = slt_rconn_command(&rg->node->ingest, on_reg_reply, rg, (int)argc, argv, lens);
        if (rc == 0)
            rg->ap->reg_node = rg->node;
    }
    slt_free(argv);
    slt_free(lens);
    slt_free(m);
    return rc;
}

/*
 * Registers the series of ap that this aggregator has not seen in the last minute, then
 * queues the batch; or queues it now when there are none. 0 (done runs later), or
 * SLT_EREDIS / SLT_ENOMEM (done never runs: the caller answers RETRY).
 */
int slt__store_register_then_enqueue(struct slt_store *st, struct slt_apply *ap)
{
    char m[SLT_STORE_MAX_NAME + 8];
    struct reg *rg;
    size_t i, n = 0, slot;
    int rc;

    if (slt_mono_ns() - st->cache_born_ns > SERIES_CACHE_TTL_NS)
        slt__store_cache_clear(st);
    for (i = 0; i < ap->nparts; i++)
        n += !cache_find(st, m, part_member(&ap->parts[i], m, sizeof(m)), &slot);
    if (n == 0)
        return enqueue_all(st, ap);
    rg = slt_calloc(1, sizeof(*rg) + n * sizeof(rg->idx[0]));
    if (!rg)
        return SLT_ENOMEM;
    rg->st = st;
    rg->ap = ap;
    rg->rate = agent_rate(st, ap->strs.p, ap->agent_len);
    rg->node = slt__store_node_for_key(st, slt__store_key_series, slt__store_key_series_len);
    for (i = 0; i < ap->nparts; i++)
        if (!cache_find(st, m, part_member(&ap->parts[i], m, sizeof(m)), &slot))
            rg->idx[rg->n++] = i;
    ap->sent_ns = uv_hrtime();
    rc = reg_send(rg, 0);
    if (rc < 0)
        slt_free(rg);
    return rc;
}
