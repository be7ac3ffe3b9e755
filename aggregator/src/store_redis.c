/*
 * Exactly-once apply of batches into Redis (docs/REDIS.md).
 *
 * One hiredis async connection on the libuv loop. A batch becomes one EVALSHA per series, all
 * pipelined; the script checks and advances the agent's high-water mark of that series and adds
 * the counters in one atomic step, so marks and counts are lost or kept together.
 *
 * hiredis 0.14 has no timeouts: a tick timer watches the handshake and a PING heartbeat, and
 * sessions time their own applies and call slt_store_reset() when one is late. Dropping the
 * connection makes hiredis call every pending callback with a NULL reply, which ends each
 * pending apply with RETRY. Reconnects back off exponentially (100 ms .. 5 s, with jitter).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "aggr.h"

/*
 * hiredis <-> libuv glue. Ours rather than hiredis's adapters/libuv.h because that one drops
 * poll errors on the floor: a refused connect shows up as POLLERR, libuv reports it as a
 * status, and hiredis would never hear of it. Here an error lets hiredis look at the socket.
 */
struct uvev {
    redisAsyncContext *ac;
    uv_poll_t poll;
    int events;
};

static void uvev_on_poll(uv_poll_t *h, int status, int events)
{
    struct uvev *e = h->data;

    if (status < 0) {
        /* connecting: the write handler checks SO_ERROR; connected: the read sees the error */
        if (e->ac)
            redisAsyncHandleWrite(e->ac);
        if (e->ac)
            redisAsyncHandleRead(e->ac);
        return;
    }
    if (e->ac && (events & UV_READABLE))
        redisAsyncHandleRead(e->ac);
    if (e->ac && (events & UV_WRITABLE))
        redisAsyncHandleWrite(e->ac);
}

static void uvev_update(struct uvev *e, int add, int ev)
{
    if (add)
        e->events |= ev;
    else
        e->events &= ~ev;
    if (e->events)
        uv_poll_start(&e->poll, e->events, uvev_on_poll);
    else
        uv_poll_stop(&e->poll);
}

static void uvev_add_read(void *d)
{
    uvev_update(d, 1, UV_READABLE);
}

static void uvev_del_read(void *d)
{
    uvev_update(d, 0, UV_READABLE);
}

static void uvev_add_write(void *d)
{
    uvev_update(d, 1, UV_WRITABLE);
}

static void uvev_del_write(void *d)
{
    uvev_update(d, 0, UV_WRITABLE);
}

static void uvev_on_closed(uv_handle_t *h)
{
    slt_free(h->data);
}

static void uvev_cleanup(void *d)
{
    struct uvev *e = d;

    e->ac = NULL;
    uv_close((uv_handle_t *)&e->poll, uvev_on_closed);
}

static int uvev_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    struct uvev *e;

    if (ac->ev.data)
        return SLT_EINVAL;
    e = slt_calloc(1, sizeof(*e));
    if (!e)
        return SLT_ENOMEM;
    if (uv_poll_init(loop, &e->poll, ac->c.fd) != 0) {
        slt_free(e);
        return SLT_EINVAL;
    }
    e->ac = ac;
    e->poll.data = e;
    ac->ev.data = e;
    ac->ev.addRead = uvev_add_read;
    ac->ev.delRead = uvev_del_read;
    ac->ev.addWrite = uvev_add_write;
    ac->ev.delWrite = uvev_del_write;
    ac->ev.cleanup = uvev_cleanup;
    return 0;
}

#define TICK_MS 100
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define PING_EVERY_MS 1000
#define SERIES_CACHE_SLOTS (1u << 17)
#define SERIES_CACHE_MAX (SERIES_CACHE_SLOTS / 2)
#define ARGS_MAX ((size_t)256 << 20)
/* epochs and seqs are compared as Lua numbers (doubles): keep them exact */
#define LUA_INT_MAX ((uint64_t)1 << 53)

/*
 * KEYS[1] = hwm hash, KEYS[2..] = counter hashes (tot, minute, hour, day buckets).
 * ARGV[1..7] = agent, epoch, seq, since, field1, field2, field3; then for each KEYS[i], i >= 2,
 * four values at ARGV[8 + (i-2)*4]: expire-at (0: none), delta1, delta2, delta3.
 * Returns {status, n}: {0, seq} applied, {1, mark} duplicate, {2, resend_from} gap,
 * {3, mark} rejected (stale epoch).
 */
const char slt_store_apply_script[] =
    "local A, E, S, since = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])\n"
    "local m = redis.call('HGET', KEYS[1], A)\n"
    "local nxt = since\n"
    "if m then\n"
    "  local e0, s0 = string.match(m, '^(%d+):(%d+)$')\n"
    "  e0 = tonumber(e0) s0 = tonumber(s0)\n"
    "  if e0 then\n"
    "    if E < e0 then return {3, s0} end\n"
    "    if E == e0 then\n"
    "      if S <= s0 then return {1, s0} end\n"
    "      if s0 + 1 > nxt then nxt = s0 + 1 end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "if S ~= nxt then return {2, nxt} end\n"
    "local f = {ARGV[5], ARGV[6], ARGV[7]}\n"
    "for i = 2, #KEYS do\n"
    "  local a = 8 + (i - 2) * 4\n"
    "  local fresh = false\n"
    "  for j = 1, 3 do\n"
    "    local v = ARGV[a + j]\n"
    "    if v ~= '0' then\n"
    "      if redis.call('HINCRBY', KEYS[i], f[j], v) == tonumber(v) then fresh = true end\n"
    "    end\n"
    "  end\n"
    "  if fresh and ARGV[a] ~= '0' then redis.call('EXPIREAT', KEYS[i], ARGV[a]) end\n"
    "end\n"
    "redis.call('HSET', KEYS[1], A, ARGV[2] .. ':' .. ARGV[3])\n"
    "return {0, S}\n";

struct bucket;

struct slt_apply_part {
    struct slt_apply *ap;
    size_t arg0; /* first argument (numkeys) in ap->argoff */
    size_t argc;
    uint64_t rows, late, expired;
    int retried;
};

struct slt_store {
    uv_loop_t *loop;
    struct slt_redis_url url;
    char desc[300];
    struct slt_aggr_stats *stats;
    int64_t mret, hret, dret, timeout_ms;
    redisAsyncContext *ac;
    int ready;
    char sha[48];
    uint64_t hs_start_ns;
    uint64_t ping_sent_ns;
    int ping_outstanding;
    uint64_t backoff_ms;
    uint64_t failures;        /* connect failures in a row; logged at 1, 2, 4, 8, ... */
    uint64_t reconnect_at_ns; /* 0: no reconnect scheduled */
    uv_timer_t tick;
    int freeing;
    /* scratch argv for one command */
    const char **argv;
    size_t *argvlen;
    size_t argcap;
    /* scratch copy of one series' rows, sorted, and the hashes they add to */
    struct slt_count_row *rows;
    size_t rowcap;
    struct bucket *bk;
    size_t bkcap;
    /* series already added to slt:series on this connection */
    char **cache;
    size_t ncache;
    unsigned int seed;
};

static void store_connect(struct slt_store *st);

static uint64_t ms_to_ns(int64_t ms)
{
    return (uint64_t)ms * 1000000u;
}

static void schedule_reconnect(struct slt_store *st)
{
    uint64_t d = st->backoff_ms, jitter;

    if (st->freeing)
        return;
    /* +-25% jitter so many aggregators do not reconnect in step */
    jitter = d / 2 ? (uint64_t)rand_r(&st->seed) % (d / 2) : 0;
    d = d - d / 4 + jitter;
    st->reconnect_at_ns = uv_hrtime() + ms_to_ns((int64_t)d);
    st->backoff_ms *= 2;
    if (st->backoff_ms > BACKOFF_MAX_MS)
        st->backoff_ms = BACKOFF_MAX_MS;
}

static void cache_clear(struct slt_store *st)
{
    size_t i;

    if (!st->cache)
        return;
    for (i = 0; i < SERIES_CACHE_SLOTS; i++) {
        slt_free(st->cache[i]);
        st->cache[i] = NULL;
    }
    st->ncache = 0;
}

static void lost(struct slt_store *st)
{
    st->ac = NULL;
    st->ready = 0;
    st->ping_outstanding = 0;
    st->stats->redis_connected = 0;
    schedule_reconnect(st);
}

static void drop(struct slt_store *st, const char *reason, int quiet)
{
    redisAsyncContext *ac = st->ac;

    if (!ac)
        return;
    if (!st->freeing && !quiet)
        slt_log(SLT_LOG_WARN, "redis", "dropping connection to '%s': %s", st->desc, reason);
    lost(st);
    /* runs every pending callback with a NULL reply (now, or after the current callback) */
    redisAsyncFree(ac);
}

void slt_store_reset(struct slt_store *st, const char *reason)
{
    drop(st, reason, 0);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct slt_store *st = ac->data;

    if (status == REDIS_OK || st->ac != ac)
        return;
    st->stats->redis_errors++;
    st->failures++;
    if ((st->failures & (st->failures - 1)) == 0)
        slt_log(SLT_LOG_WARN, "redis", "cannot connect to '%s': %s (attempt %llu)", st->desc,
                ac->errstr[0] ? ac->errstr : "connection failed", (unsigned long long)st->failures);
    /* hiredis frees the context after this callback */
    lost(st);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct slt_store *st = ac->data;

    (void)status;
    if (st->ac != ac)
        return; /* we dropped it ourselves */
    st->stats->redis_errors++;
    slt_log(SLT_LOG_WARN, "redis", "lost connection to '%s': %s", st->desc,
            ac->errstr[0] ? ac->errstr : "closed by peer");
    lost(st);
}

static void on_handshake(redisAsyncContext *ac, void *r, void *priv)
{
    struct slt_store *st = ac->data;
    redisReply *reply = r;

    if (!reply || st->ac != ac)
        return;
    if (reply->type == REDIS_REPLY_ERROR) {
        char msg[300];

        st->stats->redis_errors++;
        st->failures++;
        snprintf(msg, sizeof(msg), "%s failed: %.200s (attempt %llu)", (const char *)priv,
                 reply->str, (unsigned long long)st->failures);
        /* a wrong password fails every attempt: log 1, 2, 4, 8, ... */
        drop(st, msg, (st->failures & (st->failures - 1)) != 0);
    }
}

static void on_script(redisAsyncContext *ac, void *r, void *priv)
{
    struct slt_store *st = ac->data;
    redisReply *reply = r;

    (void)priv;
    if (!reply || st->ac != ac)
        return;
    if (reply->type != REDIS_REPLY_STRING || reply->len >= sizeof(st->sha)) {
        st->stats->redis_errors++;
        slt_store_reset(st, reply->type == REDIS_REPLY_ERROR ? reply->str
                                                             : "SCRIPT LOAD: unexpected reply");
        return;
    }
    if (!st->ready) {
        memcpy(st->sha, reply->str, reply->len);
        st->sha[reply->len] = '\0';
        st->ready = 1;
        st->backoff_ms = BACKOFF_MIN_MS;
        st->failures = 0;
        st->stats->redis_connected = 1;
        cache_clear(st);
        slt_log(SLT_LOG_INFO, "redis", "connected to '%s'", st->desc);
    }
}

static void on_ping(redisAsyncContext *ac, void *r, void *priv)
{
    struct slt_store *st = ac->data;

    (void)priv;
    if (!r || st->ac != ac)
        return;
    st->ping_outstanding = 0;
}

static void store_connect(struct slt_store *st)
{
    redisAsyncContext *ac;
    char db[16];

    st->reconnect_at_ns = 0;
    if (st->url.path)
        ac = redisAsyncConnectUnix(st->url.path);
    else
        ac = redisAsyncConnect(st->url.host, st->url.port);
    if (!ac) {
        slt_log(SLT_LOG_WARN, "redis", "cannot connect to '%s': out of memory", st->desc);
        schedule_reconnect(st);
        return;
    }
    if (ac->err) {
        st->stats->redis_errors++;
        slt_log(SLT_LOG_WARN, "redis", "cannot connect to '%s': %s", st->desc, ac->errstr);
        redisAsyncFree(ac);
        schedule_reconnect(st);
        return;
    }
    ac->data = st;
    if (uvev_attach(ac, st->loop) < 0) {
        slt_log(SLT_LOG_WARN, "redis", "cannot watch the connection to '%s'", st->desc);
        redisAsyncFree(ac);
        schedule_reconnect(st);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    st->ac = ac;
    st->ready = 0;
    st->hs_start_ns = uv_hrtime();
    st->stats->redis_reconnects++;
    /* hiredis queues these until the socket is connected; replies come back in order */
    if (st->url.password) {
        if (st->url.user)
            redisAsyncCommand(ac, on_handshake, "AUTH", "AUTH %s %s", st->url.user,
                              st->url.password);
        else
            redisAsyncCommand(ac, on_handshake, "AUTH", "AUTH %s", st->url.password);
    }
    if (st->url.db) {
        snprintf(db, sizeof(db), "%d", st->url.db);
        redisAsyncCommand(ac, on_handshake, "SELECT", "SELECT %s", db);
    }
    redisAsyncCommand(ac, on_script, NULL, "SCRIPT LOAD %s", slt_store_apply_script);
}

static void on_tick(uv_timer_t *t)
{
    struct slt_store *st = t->data;
    uint64_t now = uv_hrtime();

    if (!st->ac) {
        if (st->reconnect_at_ns && now >= st->reconnect_at_ns)
            store_connect(st);
        return;
    }
    if (!st->ready) {
        if (now - st->hs_start_ns > ms_to_ns(st->timeout_ms)) {
            st->stats->redis_timeouts++;
            slt_store_reset(st, "connect and handshake timed out");
        }
        return;
    }
    if (st->ping_outstanding) {
        if (now - st->ping_sent_ns > ms_to_ns(st->timeout_ms)) {
            st->stats->redis_timeouts++;
            slt_store_reset(st, "PING timed out");
        }
    } else if (now - st->ping_sent_ns > ms_to_ns(PING_EVERY_MS)) {
        if (redisAsyncCommand(st->ac, on_ping, NULL, "PING") == REDIS_OK) {
            st->ping_outstanding = 1;
            st->ping_sent_ns = now;
        }
    }
}

int slt_store_new(uv_loop_t *loop, const struct slt_redis_url *url,
                  const struct slt_aggr_params *params, struct slt_aggr_stats *stats,
                  struct slt_store **out)
{
    struct slt_store *st = slt_calloc(1, sizeof(*st));

    if (!st)
        return SLT_ENOMEM;
    st->loop = loop;
    st->stats = stats;
    st->url.host = url->host ? slt_strdup(url->host) : NULL;
    st->url.path = url->path ? slt_strdup(url->path) : NULL;
    st->url.user = url->user ? slt_strdup(url->user) : NULL;
    st->url.password = url->password ? slt_strdup(url->password) : NULL;
    st->url.port = url->port;
    st->url.db = url->db;
    st->cache = slt_calloc(SERIES_CACHE_SLOTS, sizeof(*st->cache));
    if ((url->host && !st->url.host) || (url->path && !st->url.path) ||
        (url->user && !st->url.user) || (url->password && !st->url.password) || !st->cache) {
        slt_redis_url_release(&st->url);
        slt_free(st->cache);
        slt_free(st);
        return SLT_ENOMEM;
    }
    slt_redis_url_describe(&st->url, st->desc, sizeof(st->desc));
    st->seed = (unsigned int)uv_hrtime();
    st->backoff_ms = BACKOFF_MIN_MS;
    slt_store_set_params(st, params);
    uv_timer_init(loop, &st->tick);
    st->tick.data = st;
    uv_timer_start(&st->tick, on_tick, TICK_MS, TICK_MS);
    stats->redis_connected = 0;
    store_connect(st);
    *out = st;
    return 0;
}

void slt_store_set_params(struct slt_store *st, const struct slt_aggr_params *p)
{
    st->mret = p->minute_retention_s;
    st->hret = p->hour_retention_s;
    st->dret = p->day_retention_s;
    st->timeout_ms = p->redis_timeout_ms;
}

int slt_store_ready(const struct slt_store *st)
{
    return st->ready;
}

static void on_tick_closed(uv_handle_t *h)
{
    struct slt_store *st = h->data;

    cache_clear(st);
    slt_free(st->cache);
    slt_free(st->argv);
    slt_free(st->argvlen);
    slt_free(st->rows);
    slt_free(st->bk);
    slt_redis_url_release(&st->url);
    slt_free(st);
}

void slt_store_free(struct slt_store *st)
{
    if (!st)
        return;
    st->freeing = 1;
    slt_store_reset(st, "shutting down");
    st->stats->redis_connected = 0;
    uv_timer_stop(&st->tick);
    uv_close((uv_handle_t *)&st->tick, on_tick_closed);
}

/* ---- applies ------------------------------------------------------------------------------ */

void slt_apply_init(struct slt_apply *ap)
{
    memset(ap, 0, sizeof(*ap));
    slt_buf_init(&ap->args, ARGS_MAX);
}

void slt_apply_release(struct slt_apply *ap)
{
    slt_buf_release(&ap->args);
    slt_free(ap->argoff);
    slt_free(ap->arglen);
    slt_free(ap->parts);
    ap->argoff = ap->arglen = NULL;
    ap->parts = NULL;
    ap->capargs = ap->nargs = ap->nparts = 0;
}

static int add_arg(struct slt_apply *ap, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int add_arg(struct slt_apply *ap, const char *fmt, ...)
{
    size_t start = ap->args.len;
    va_list va;
    char tmp[512];
    int n, rc;

    if (ap->nargs == ap->capargs) {
        size_t cap = ap->capargs ? ap->capargs * 2 : 256;
        size_t *o = slt_realloc(ap->argoff, cap * sizeof(*o));
        size_t *l;

        if (!o)
            return SLT_ENOMEM;
        ap->argoff = o;
        l = slt_realloc(ap->arglen, cap * sizeof(*l));
        if (!l)
            return SLT_ENOMEM;
        ap->arglen = l;
        ap->capargs = cap;
    }
    va_start(va, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, va);
    va_end(va);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return SLT_ELIMIT;
    rc = slt_buf_append(&ap->args, tmp, (size_t)n);
    if (rc < 0)
        return rc;
    ap->argoff[ap->nargs] = start;
    ap->arglen[ap->nargs] = (size_t)n;
    ap->nargs++;
    return 0;
}

static int cmp_row(const void *a, const void *b)
{
    const struct slt_count_row *x = a, *y = b;

    return x->minute < y->minute ? -1 : x->minute > y->minute;
}

static int cmp_series(const void *a, const void *b)
{
    const struct slt_series *x = *(const struct slt_series *const *)a;
    const struct slt_series *y = *(const struct slt_series *const *)b;
    size_t n = x->name.len < y->name.len ? x->name.len : y->name.len;
    int c;

    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    c = memcmp(x->name.p, y->name.p, n);
    if (c)
        return c;
    return x->name.len < y->name.len ? -1 : x->name.len > y->name.len;
}

/* SLT_EINVAL with a reason when the batch can never be applied. */
static int check_batch(const struct slt_msg_batch *b, const char **why)
{
    const struct slt_series **idx;
    size_t i;
    int rc = 0;

    if (b->epoch >= LUA_INT_MAX || b->seq >= LUA_INT_MAX) {
        *why = "epoch or seq over 2^53";
        return SLT_EINVAL;
    }
    for (i = 0; i < b->nseries; i++) {
        if (b->series[i].since > b->seq) {
            *why = "a series 'since' is after the batch seq";
            return SLT_EINVAL;
        }
    }
    if (b->nseries < 2)
        return 0;
    idx = slt_malloc(b->nseries * sizeof(*idx));
    if (!idx)
        return SLT_ENOMEM;
    for (i = 0; i < b->nseries; i++)
        idx[i] = &b->series[i];
    qsort(idx, b->nseries, sizeof(*idx), cmp_series);
    for (i = 1; i < b->nseries; i++) {
        if (cmp_series(&idx[i - 1], &idx[i]) == 0) {
            *why = "a series appears twice";
            rc = SLT_EINVAL;
            break;
        }
    }
    slt_free(idx);
    return rc;
}

static void add_sat(uint64_t acc[3], const uint64_t v[3])
{
    int j;

    /* Redis counters are signed 64-bit; a sum past that would make HINCRBY fail */
    for (j = 0; j < 3; j++)
        acc[j] = acc[j] + v[j] > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : acc[j] + v[j];
}

/* One counter hash an apply adds to: tot ('t') or a bucket ('m', 'h', 'd') starting at start. */
struct bucket {
    char c;
    int64_t start;
    int64_t exp; /* EXPIREAT, 0 for none */
    uint64_t v[3];
};

static int push_bucket(struct slt_store *st, size_t *nb, const struct bucket *b)
{
    if (!b->v[0] && !b->v[1] && !b->v[2])
        return 0; /* nothing to add: leave the key alone */
    if (*nb == st->bkcap) {
        size_t cap = st->bkcap ? st->bkcap * 2 : 64;
        struct bucket *nbk = slt_realloc(st->bk, cap * sizeof(*nbk));
        if (!nbk)
            return SLT_ENOMEM;
        st->bk = nbk;
        st->bkcap = cap;
    }
    st->bk[(*nb)++] = *b;
    return 0;
}

/*
 * Builds the arguments of one series: numkeys, KEYS (hwm, then the counter hashes), ARGV.
 * Rows are sorted (a copy), so rows of one bucket are adjacent at every resolution.
 */
static int build_part(struct slt_store *st, struct slt_apply *ap, struct slt_apply_part *part,
                      const struct slt_msg_batch *b, const struct slt_series *s, int64_t now)
{
    static const char *const fields[2][3] = {{"g", "b", "e"}, {"l", "u", "o"}};
    static const struct {
        char c;
        int64_t res;
    } res[3] = {{'m', 60}, {'h', 3600}, {'d', 86400}};
    const int64_t ret[3] = {st->mret, st->hret, st->dret};
    const char *const *f = fields[s->kind == SLT_SERIES_SLI ? 0 : 1];
    char prefix[1100];
    struct bucket bk;
    size_t nb = 0, i, r, k;
    int rc;

    snprintf(prefix, sizeof(prefix), "slt:{%c:%.*s}:", s->kind == SLT_SERIES_SLI ? 's' : 'i',
             (int)s->name.len, s->name.p);
    if (s->nrows > st->rowcap) {
        struct slt_count_row *nr = slt_realloc(st->rows, s->nrows * sizeof(*nr));
        if (!nr)
            return SLT_ENOMEM;
        st->rows = nr;
        st->rowcap = s->nrows;
    }
    if (s->nrows)
        memcpy(st->rows, s->rows, s->nrows * sizeof(*st->rows));
    if (s->nrows > 1)
        qsort(st->rows, s->nrows, sizeof(*st->rows), cmp_row);

    memset(&bk, 0, sizeof(bk));
    bk.c = 't';
    for (r = 0; r < s->nrows; r++)
        add_sat(bk.v, st->rows[r].v);
    rc = push_bucket(st, &nb, &bk);
    for (k = 0; rc == 0 && k < 3; k++) {
        r = 0;
        while (rc == 0 && r < s->nrows) {
            size_t n = 0;

            memset(&bk, 0, sizeof(bk));
            bk.c = res[k].c;
            bk.start = st->rows[r].minute - st->rows[r].minute % res[k].res;
            bk.exp = bk.start + res[k].res + ret[k];
            while (r < s->nrows &&
                   st->rows[r].minute - st->rows[r].minute % res[k].res == bk.start) {
                add_sat(bk.v, st->rows[r].v);
                r++;
                n++;
            }
            if (bk.exp <= now) {
                /* older than this resolution keeps: counted; coarser buckets and tot keep it */
                if (k == 0)
                    part->late += n;
                else if (k == 2)
                    part->expired += n;
                continue;
            }
            rc = push_bucket(st, &nb, &bk);
        }
    }
    if (rc < 0)
        return rc;
    part->rows = s->nrows;
    part->arg0 = ap->nargs;
    rc = add_arg(ap, "%zu", nb + 1);
    if (rc == 0)
        rc = add_arg(ap, "%shwm", prefix);
    for (i = 0; rc == 0 && i < nb; i++) {
        if (st->bk[i].c == 't')
            rc = add_arg(ap, "%stot", prefix);
        else
            rc = add_arg(ap, "%s%c:%lld", prefix, st->bk[i].c, (long long)st->bk[i].start);
    }
    if (rc == 0)
        rc = add_arg(ap, "%.*s", (int)b->agent_id.len, b->agent_id.p);
    if (rc == 0)
        rc = add_arg(ap, "%llu", (unsigned long long)b->epoch);
    if (rc == 0)
        rc = add_arg(ap, "%llu", (unsigned long long)b->seq);
    if (rc == 0)
        rc = add_arg(ap, "%llu", (unsigned long long)s->since);
    for (i = 0; rc == 0 && i < 3; i++)
        rc = add_arg(ap, "%s", f[i]);
    for (i = 0; rc == 0 && i < nb; i++) {
        rc = add_arg(ap, "%lld", (long long)st->bk[i].exp);
        if (rc == 0)
            rc = add_arg(ap, "%llu", (unsigned long long)st->bk[i].v[0]);
        if (rc == 0)
            rc = add_arg(ap, "%llu", (unsigned long long)st->bk[i].v[1]);
        if (rc == 0)
            rc = add_arg(ap, "%llu", (unsigned long long)st->bk[i].v[2]);
    }
    part->argc = ap->nargs - part->arg0;
    return rc;
}

static int rank(enum slt_ack_status s)
{
    switch (s) {
    case SLT_ACK_DUPLICATE:
        return 0;
    case SLT_ACK_APPLIED:
        return 1;
    case SLT_ACK_GAP:
        return 2;
    case SLT_ACK_REJECTED:
        return 3;
    default:
        return 4;
    }
}

/* Combines one series' outcome into the batch's. */
static void merge(struct slt_apply *ap, enum slt_ack_status s, uint64_t resend_from)
{
    if (s == SLT_ACK_GAP && (ap->status != SLT_ACK_GAP || resend_from < ap->resend_from))
        ap->resend_from = resend_from;
    if (rank(s) > rank(ap->status))
        ap->status = s;
}

static void observe_latency(struct slt_aggr_stats *stats, uint64_t ns)
{
    static const double bounds[12] = SLT_REDIS_LATENCY_BOUNDS;
    double sec = (double)ns / 1e9;
    size_t i;

    for (i = 0; i < 12; i++)
        if (sec <= bounds[i])
            stats->redis_latency_bucket[i]++;
    stats->redis_latency_sum += sec;
    stats->redis_latency_count++;
}

static int send_part(struct slt_store *st, struct slt_apply_part *part, int eval);

static void on_apply_reply(redisAsyncContext *ac, void *r, void *priv)
{
    struct slt_apply_part *part = priv;
    struct slt_apply *ap = part->ap;
    struct slt_store *st = ap->st;
    redisReply *reply = r;

    if (!reply) {
        merge(ap, SLT_ACK_RETRY, 0);
    } else if (reply->type == REDIS_REPLY_ERROR) {
        if (!part->retried && strncmp(reply->str, "NOSCRIPT", 8) == 0 && st->ac == ac) {
            /* script cache flushed: send the body once with EVAL, which also caches it */
            part->retried = 1;
            if (send_part(st, part, 1) == 0)
                return;
        }
        st->stats->redis_errors++;
        slt_log(SLT_LOG_WARN, "redis", "apply failed: %.200s", reply->str);
        merge(ap, SLT_ACK_RETRY, 0);
    } else if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
               reply->element[0]->type == REDIS_REPLY_INTEGER &&
               reply->element[1]->type == REDIS_REPLY_INTEGER) {
        long long s = reply->element[0]->integer, n = reply->element[1]->integer;

        switch (s) {
        case 0:
            merge(ap, SLT_ACK_APPLIED, 0);
            st->stats->counter_updates += part->rows;
            st->stats->late_rows += part->late;
            st->stats->late_rows_expired += part->expired;
            break;
        case 1:
            merge(ap, SLT_ACK_DUPLICATE, 0);
            break;
        case 2:
            merge(ap, SLT_ACK_GAP, n > 0 ? (uint64_t)n : 1);
            break;
        default:
            merge(ap, SLT_ACK_REJECTED, 0);
        }
    } else {
        st->stats->redis_errors++;
        merge(ap, SLT_ACK_RETRY, 0);
    }
    if (--ap->pending == 0) {
        observe_latency(st->stats, uv_hrtime() - ap->sent_ns);
        ap->done(ap);
    }
}

static int send_part(struct slt_store *st, struct slt_apply_part *part, int eval)
{
    struct slt_apply *ap = part->ap;
    size_t argc = part->argc + 2, i;

    if (!st->ac)
        return SLT_EREDIS;
    if (argc > st->argcap) {
        const char **a = slt_realloc(st->argv, argc * sizeof(*a));
        size_t *l;

        if (!a)
            return SLT_ENOMEM;
        st->argv = a;
        l = slt_realloc(st->argvlen, argc * sizeof(*l));
        if (!l)
            return SLT_ENOMEM;
        st->argvlen = l;
        st->argcap = argc;
    }
    st->argv[0] = eval ? "EVAL" : "EVALSHA";
    st->argvlen[0] = strlen(st->argv[0]);
    st->argv[1] = eval ? slt_store_apply_script : st->sha;
    st->argvlen[1] = strlen(st->argv[1]);
    for (i = 0; i < part->argc; i++) {
        st->argv[2 + i] = ap->args.p + ap->argoff[part->arg0 + i];
        st->argvlen[2 + i] = ap->arglen[part->arg0 + i];
    }
    if (redisAsyncCommandArgv(st->ac, on_apply_reply, part, (int)argc, st->argv, st->argvlen) !=
        REDIS_OK)
        return SLT_EREDIS;
    return 0;
}

static void on_sadd(redisAsyncContext *ac, void *r, void *priv)
{
    struct slt_store *st = ac->data;
    redisReply *reply = r;

    (void)priv;
    if (reply && reply->type == REDIS_REPLY_ERROR)
        st->stats->redis_errors++;
}

/* SADD slt:series once per series and connection (the set is not part of the apply). */
static void register_series(struct slt_store *st, const struct slt_series *s)
{
    char member[1100];
    uint32_t h = 2166136261u;
    size_t i, n, slot;

    n = (size_t)snprintf(member, sizeof(member), "%c:%.*s", s->kind == SLT_SERIES_SLI ? 's' : 'i',
                         (int)s->name.len, s->name.p);
    for (i = 0; i < n; i++)
        h = (h ^ (uint8_t)member[i]) * 16777619u;
    slot = h & (SERIES_CACHE_SLOTS - 1);
    while (st->cache[slot]) {
        if (strcmp(st->cache[slot], member) == 0)
            return;
        slot = (slot + 1) & (SERIES_CACHE_SLOTS - 1);
    }
    if (redisAsyncCommand(st->ac, on_sadd, NULL, "SADD slt:series %b", member, n) != REDIS_OK)
        return;
    if (st->ncache >= SERIES_CACHE_MAX)
        cache_clear(st); /* bounded: start over, re-adding is harmless */
    else if ((st->cache[slot] = slt_strdup(member)) != NULL)
        st->ncache++;
}

int slt_store_apply(struct slt_store *st, struct slt_apply *ap, const struct slt_msg_batch *b,
                    int64_t now_s)
{
    const char *why = NULL;
    size_t i, sent = 0;
    int rc;

    ap->st = st;
    ap->status = SLT_ACK_DUPLICATE;
    ap->resend_from = 0;
    rc = check_batch(b, &why);
    if (rc == SLT_EINVAL) {
        ap->status = SLT_ACK_REJECTED;
        slt_log(SLT_LOG_WARN, "ingest", "batch %llu of agent '%.*s' rejected: %s",
                (unsigned long long)b->seq, (int)b->agent_id.len, b->agent_id.p, why);
        return rc;
    }
    if (rc < 0)
        return rc;
    if (!st->ready || !st->ac)
        return SLT_EREDIS;
    if (b->nseries > ap->nparts || !ap->parts) {
        struct slt_apply_part *p = slt_realloc(ap->parts, (b->nseries + 1) * sizeof(*p));
        if (!p)
            return SLT_ENOMEM;
        ap->parts = p;
    }
    ap->nparts = b->nseries;
    ap->nargs = 0;
    ap->args.len = 0;
    for (i = 0; i < b->nseries; i++) {
        memset(&ap->parts[i], 0, sizeof(ap->parts[i]));
        ap->parts[i].ap = ap;
        rc = build_part(st, ap, &ap->parts[i], b, &b->series[i], now_s);
        if (rc < 0) {
            if (rc == SLT_ELIMIT) {
                ap->status = SLT_ACK_REJECTED;
                return SLT_EINVAL;
            }
            return rc;
        }
    }
    ap->sent_ns = uv_hrtime();
    ap->pending = b->nseries;
    for (i = 0; i < b->nseries; i++) {
        register_series(st, &b->series[i]);
        if (send_part(st, &ap->parts[i], 0) == 0) {
            sent++;
        } else {
            merge(ap, SLT_ACK_RETRY, 0);
            ap->pending--;
        }
    }
    if (sent == 0)
        return SLT_EREDIS;
    return 0;
}
