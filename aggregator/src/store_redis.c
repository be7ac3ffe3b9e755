/*
 * Exactly-once apply of batches into Redis (docs/REDIS.md).
 *
 * One hiredis async connection on the libuv loop. Each series of a batch is one entry for the
 * series' hash tag. Entries that arrive in one loop iteration are grouped by tag, and each group
 * becomes one EVALSHA (group commit): the script checks and advances every agent's high-water
 * mark of that series in order and adds the counters of the entries it accepts, in one atomic
 * step, so marks and counts are lost or kept together. Calls are pipelined; per agent, order
 * holds because a session has at most one batch in flight.
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
#define SERIES_CACHE_TTL_NS (60ULL * 1000000000ULL)
#define ARGS_MAX ((size_t)256 << 20)
/* epochs and seqs are compared as Lua numbers (doubles): keep them exact */
#define LUA_INT_MAX ((uint64_t)1 << 53)

/*
 * KEYS[1] = the series' hwm hash, KEYS[2..nk] = its counter hashes (tot, minute, hour, day).
 * ARGV[1..3] = field names; ARGV[4] = n, the number of entries; then for each KEYS[k], k >= 2,
 * four values: expire-at (0: none) and the sums of the three deltas over all n entries; then n
 * entries of seven values: agent, epoch, seq, since, the mark that makes this entry the next
 * one ("epoch:seq-1", the fast path: no parsing), the new mark ("epoch:seq") and the entry's own
 * deltas as "k:d1:d2:d3,k:d1:d2:d3..." (k a KEYS index), read only when some entry is not
 * accepted. The applied answer's n is not used.
 * Returns 2n integers, per entry {status, n}: {0, 0} applied, {1, mark} duplicate,
 * {2, resend_from} gap, {3, e0} rejected (stale epoch; e0 the epoch of the stored mark).
 */
const char slt_store_apply_script[] =
    "local nk, n = #KEYS, tonumber(ARGV[4])\n"
    "local p0 = 5 + (nk - 1) * 4\n"
    "local ids, cur, out, sets, ok = {}, {}, {}, {}, {}\n"
    "local all = true\n"
    "for i = 1, n do ids[i] = ARGV[p0 + (i - 1) * 7] end\n"
    "local marks = redis.call('HMGET', KEYS[1], unpack(ids))\n"
    "for i = 1, n do\n"
    "  if cur[ids[i]] == nil then cur[ids[i]] = marks[i] or false end\n"
    "end\n"
    "for i = 1, n do\n"
    "  local p = p0 + (i - 1) * 7\n"
    "  local A = ARGV[p]\n"
    "  local m = cur[A]\n"
    "  local st, v = 0, 0\n"
    "  if m ~= ARGV[p + 4] then\n"
    "    local E, S, nxt = tonumber(ARGV[p + 1]), tonumber(ARGV[p + 2]), tonumber(ARGV[p + 3])\n"
    "    v = S\n"
    "    if m then\n"
    "      local e0, s0 = string.match(m, '^(%d+):(%d+)$')\n"
    "      e0 = tonumber(e0) s0 = tonumber(s0)\n"
    "      if e0 then\n"
    "        if E < e0 then st, v = 3, e0\n"
    "        elseif E == e0 then\n"
    "          if S <= s0 then st, v = 1, s0\n"
    "          elseif s0 + 1 > nxt then nxt = s0 + 1 end\n"
    "        end\n"
    "      end\n"
    "    end\n"
    "    if st == 0 and S ~= nxt then st, v = 2, nxt end\n"
    "  end\n"
    "  if st == 0 then\n"
    "    cur[A] = ARGV[p + 5]\n"
    "    sets[#sets + 1] = A\n"
    "    sets[#sets + 1] = ARGV[p + 5]\n"
    "    ok[#ok + 1] = p\n"
    "  else\n"
    "    all = false\n"
    "  end\n"
    "  out[2 * i - 1] = st\n"
    "  out[2 * i] = v\n"
    "end\n"
    "local acc = {}\n"
    "if not all then\n"
    "  for _, p in ipairs(ok) do\n"
    "    for k, a, b, c in string.gmatch(ARGV[p + 6], '(%d+):(%d+):(%d+):(%d+)') do\n"
    "      k = tonumber(k)\n"
    "      local t = acc[k]\n"
    "      if not t then t = {0, 0, 0} acc[k] = t end\n"
    "      t[1] = t[1] + tonumber(a)\n"
    "      t[2] = t[2] + tonumber(b)\n"
    "      t[3] = t[3] + tonumber(c)\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local f = {ARGV[1], ARGV[2], ARGV[3]}\n"
    "for k = 2, nk do\n"
    "  local q = 5 + (k - 2) * 4\n"
    "  local d\n"
    "  if all then\n"
    "    d = {ARGV[q + 1], ARGV[q + 2], ARGV[q + 3]}\n"
    "  elseif acc[k] then\n"
    "    local t = acc[k]\n"
    "    d = {string.format('%d', t[1]), string.format('%d', t[2]), string.format('%d', t[3])}\n"
    "  end\n"
    "  if d then\n"
    "    local fresh = false\n"
    "    for j = 1, 3 do\n"
    "      if d[j] ~= '0' then\n"
    "        if redis.call('HINCRBY', KEYS[k], f[j], d[j]) == tonumber(d[j]) then fresh = true "
    "end\n"
    "      end\n"
    "    end\n"
    "    if fresh and ARGV[q] ~= '0' then redis.call('EXPIREAT', KEYS[k], ARGV[q]) end\n"
    "  end\n"
    "end\n"
    "if #sets > 0 then redis.call('HSET', KEYS[1], unpack(sets)) end\n"
    "return out\n";

/* One counter hash an entry adds to: tot ('t') or a bucket ('m', 'h', 'd') starting at start. */
struct slt_store_bucket {
    char c;
    int64_t start;
    int64_t exp; /* EXPIREAT, 0 for none */
    uint64_t v[3];
    size_t kidx; /* KEYS index in the call that carries it */
};

/* One series of one batch. */
struct slt_apply_part {
    struct slt_apply *ap;
    struct slt_apply_part *next; /* in its group */
    int kind;
    size_t name_off, name_len; /* in ap->strs */
    uint64_t since;
    size_t bk0, nb; /* in ap->bk */
    uint64_t rows, late, expired;
};

/* The entries for one series queued in this loop iteration. */
struct group {
    struct group *hnext, *anext;
    int kind;
    const char *name;
    size_t name_len;
    uint32_t hash;
    struct slt_apply_part *head, *tail;
    size_t n;
};

/* One EVALSHA in flight. */
struct call {
    struct slt_store *st;
    struct slt_apply_part **ents;
    size_t n;
    int kind;
    struct slt_buf args;
    size_t *off, *len;
    size_t nargs, cap;
    int retried;
};

#define GROUP_HASH 1024
#define MAX_ENTRIES_PER_CALL 200

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
    /* scratch copy of one series' rows, sorted */
    struct slt_count_row *rows;
    size_t rowcap;
    /* entries queued in this loop iteration, grouped by series; flushed by the check handle */
    struct group *ghash[GROUP_HASH];
    struct group *active;
    uv_check_t check;
    uv_idle_t idle;
    int flush_armed;
    int open_handles;
    /* series already added to slt:series on this connection, forgotten every
     * SERIES_CACHE_TTL_NS so a Redis that lost the set (FLUSHALL, failover behind a proxy)
     * gets it back without a reconnect */
    char **cache;
    size_t ncache;
    uint64_t cache_born_ns;
    unsigned int seed;
};

static void store_connect(struct slt_store *st);
static void fail_queued(struct slt_store *st);

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
    st->cache_born_ns = slt_mono_ns();
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
    fail_queued(st);
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
    fail_queued(st);
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
    fail_queued(st);
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
    uv_check_init(loop, &st->check);
    uv_idle_init(loop, &st->idle);
    st->tick.data = st->check.data = st->idle.data = st;
    st->open_handles = 3;
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

static void on_store_handle_closed(uv_handle_t *h)
{
    struct slt_store *st = h->data;

    if (--st->open_handles > 0)
        return;
    cache_clear(st);
    slt_free(st->cache);
    slt_free(st->argv);
    slt_free(st->argvlen);
    slt_free(st->rows);
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
    fail_queued(st);
    uv_timer_stop(&st->tick);
    uv_check_stop(&st->check);
    uv_idle_stop(&st->idle);
    uv_close((uv_handle_t *)&st->tick, on_store_handle_closed);
    uv_close((uv_handle_t *)&st->check, on_store_handle_closed);
    uv_close((uv_handle_t *)&st->idle, on_store_handle_closed);
}

/* ---- applies ---- */

void slt_apply_init(struct slt_apply *ap)
{
    memset(ap, 0, sizeof(*ap));
    slt_buf_init(&ap->strs, ARGS_MAX);
}

void slt_apply_release(struct slt_apply *ap)
{
    slt_buf_release(&ap->strs);
    slt_free(ap->parts);
    slt_free(ap->bk);
    ap->parts = NULL;
    ap->bk = NULL;
    ap->nparts = ap->capparts = ap->nbk = ap->capbk = 0;
}

static size_t fmt_i64(char *buf, int64_t v)
{
    if (v < 0) {
        buf[0] = '-';
        return 1 + slt_fmt_u64(buf + 1, (uint64_t)0 - (uint64_t)v);
    }
    return slt_fmt_u64(buf, (uint64_t)v);
}

static int call_arg(struct call *c, const char *p, size_t n)
{
    int rc;

    if (c->nargs == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        size_t *o = slt_realloc(c->off, cap * sizeof(*o)), *l;

        if (!o)
            return SLT_ENOMEM;
        c->off = o;
        l = slt_realloc(c->len, cap * sizeof(*l));
        if (!l)
            return SLT_ENOMEM;
        c->len = l;
        c->cap = cap;
    }
    c->off[c->nargs] = c->args.len;
    c->len[c->nargs] = n;
    rc = slt_buf_append(&c->args, p, n);
    if (rc < 0)
        return rc;
    c->nargs++;
    return 0;
}

static int call_u64(struct call *c, uint64_t v)
{
    char b[24];
    return call_arg(c, b, slt_fmt_u64(b, v));
}

static int call_i64(struct call *c, int64_t v)
{
    char b[24];
    return call_arg(c, b, fmt_i64(b, v));
}

static void call_free(struct call *c)
{
    slt_buf_release(&c->args);
    slt_free(c->off);
    slt_free(c->len);
    slt_free(c->ents);
    slt_free(c);
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
    c = n ? memcmp(x->name.p, y->name.p, n) : 0;
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

    /* the script sums in doubles: keep every delta exact (2^53) */
    for (j = 0; j < 3; j++)
        acc[j] = acc[j] + v[j] > LUA_INT_MAX ? LUA_INT_MAX : acc[j] + v[j];
}

static int push_bucket(struct slt_apply *ap, const struct slt_store_bucket *b)
{
    if (!b->v[0] && !b->v[1] && !b->v[2])
        return 0; /* nothing to add: leave the key alone */
    if (ap->nbk == ap->capbk) {
        size_t cap = ap->capbk ? ap->capbk * 2 : 64;
        struct slt_store_bucket *nb = slt_realloc(ap->bk, cap * sizeof(*nb));
        if (!nb)
            return SLT_ENOMEM;
        ap->bk = nb;
        ap->capbk = cap;
    }
    ap->bk[ap->nbk++] = *b;
    return 0;
}

/*
 * The counter hashes one series adds to: tot, and the minute, hour and day buckets its rows fall
 * in, unless a bucket is already past its retention (then the row is counted as late and still
 * goes to the coarser buckets and tot). Rows are sorted (a copy), so rows of one bucket are
 * adjacent at every resolution.
 */
static int build_entry(struct slt_store *st, struct slt_apply *ap, struct slt_apply_part *e,
                       const struct slt_series *s, int64_t now)
{
    static const struct {
        char c;
        int64_t res;
    } res[3] = {{'m', 60}, {'h', 3600}, {'d', 86400}};
    const int64_t ret[3] = {st->mret, st->hret, st->dret};
    struct slt_store_bucket bk;
    size_t r, k;
    int rc;

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
    e->bk0 = ap->nbk;
    memset(&bk, 0, sizeof(bk));
    bk.c = 't';
    for (r = 0; r < s->nrows; r++)
        add_sat(bk.v, st->rows[r].v);
    rc = push_bucket(ap, &bk);
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
                if (k == 0)
                    e->late += n;
                else if (k == 2)
                    e->expired += n;
                continue;
            }
            rc = push_bucket(ap, &bk);
        }
    }
    e->nb = ap->nbk - e->bk0;
    e->rows = s->nrows;
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

/*
 * One entry's answer. The last one of a batch calls done, which may start the session's next
 * batch on the same ap: nothing may touch e after this.
 */
static void entry_done(struct slt_apply_part *e, enum slt_ack_status s, uint64_t n)
{
    struct slt_apply *ap = e->ap;
    struct slt_store *st = ap->st;

    if (s == SLT_ACK_APPLIED) {
        st->stats->counter_updates += e->rows;
        st->stats->late_rows += e->late;
        st->stats->late_rows_expired += e->expired;
    }
    if (s == SLT_ACK_GAP && (ap->status != SLT_ACK_GAP || n < ap->resend_from))
        ap->resend_from = n;
    if (s == SLT_ACK_REJECTED && n > ap->mark) {
        ap->reason = SLT_REJECT_STALE_EPOCH; /* the script rejects only stale epochs */
        ap->mark = n;
    }
    if (rank(s) > rank(ap->status))
        ap->status = s;
    if (--ap->pending == 0) {
        observe_latency(st->stats, uv_hrtime() - ap->sent_ns);
        ap->done(ap);
    }
}

static void call_fail(struct call *c)
{
    size_t i;

    for (i = 0; i < c->n; i++)
        entry_done(c->ents[i], SLT_ACK_RETRY, 0);
}

static int call_send(struct slt_store *st, struct call *c, int eval);

static void on_call_reply(redisAsyncContext *ac, void *r, void *priv)
{
    struct call *c = priv;
    struct slt_store *st = c->st;
    redisReply *reply = r;
    size_t i;

    if (!reply) {
        call_fail(c);
    } else if (reply->type == REDIS_REPLY_ERROR) {
        if (!c->retried && strncmp(reply->str, "NOSCRIPT", 8) == 0 && st->ac == ac) {
            /* script cache flushed: send the body once with EVAL, which caches it again */
            c->retried = 1;
            if (call_send(st, c, 1) == 0)
                return;
        }
        st->stats->redis_errors++;
        slt_log(SLT_LOG_WARN, "redis", "apply failed: %.200s", reply->str);
        call_fail(c);
    } else if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 * c->n) {
        for (i = 0; i < c->n; i++) {
            redisReply *a = reply->element[2 * i], *b = reply->element[2 * i + 1];
            long long s = a->type == REDIS_REPLY_INTEGER ? a->integer : -1;
            long long n = b->type == REDIS_REPLY_INTEGER ? b->integer : 0;

            switch (s) {
            case 0:
                entry_done(c->ents[i], SLT_ACK_APPLIED, 0);
                break;
            case 1:
                entry_done(c->ents[i], SLT_ACK_DUPLICATE, 0);
                break;
            case 2:
                entry_done(c->ents[i], SLT_ACK_GAP, n > 0 ? (uint64_t)n : 1);
                break;
            case 3:
                entry_done(c->ents[i], SLT_ACK_REJECTED, n > 0 ? (uint64_t)n : 1);
                break;
            default:
                st->stats->redis_errors++;
                entry_done(c->ents[i], SLT_ACK_RETRY, 0);
            }
        }
    } else {
        st->stats->redis_errors++;
        slt_log(SLT_LOG_WARN, "redis", "apply: unexpected reply type %d", reply->type);
        call_fail(c);
    }
    call_free(c);
}

static int call_send(struct slt_store *st, struct call *c, int eval)
{
    size_t argc = c->nargs + 2, i;

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
    for (i = 0; i < c->nargs; i++) {
        st->argv[2 + i] = c->args.p + c->off[i];
        st->argvlen[2 + i] = c->len[i];
    }
    if (redisAsyncCommandArgv(st->ac, on_call_reply, c, (int)argc, st->argv, st->argvlen) !=
        REDIS_OK)
        return SLT_EREDIS;
    return 0;
}

static int cmp_bucket_ref(const void *a, const void *b)
{
    const struct slt_store_bucket *x = *(const struct slt_store_bucket *const *)a;
    const struct slt_store_bucket *y = *(const struct slt_store_bucket *const *)b;

    if (x->c != y->c)
        return x->c < y->c ? -1 : 1;
    return x->start < y->start ? -1 : x->start > y->start;
}

static int key_arg(struct call *c, const char *prefix, size_t plen,
                   const struct slt_store_bucket *b)
{
    char key[1200], num[24];
    size_t n;

    memcpy(key, prefix, plen);
    n = plen;
    if (b->c == 't') {
        memcpy(key + n, "tot", 3);
        n += 3;
    } else {
        key[n++] = b->c;
        key[n++] = ':';
        size_t k = fmt_i64(num, b->start);
        memcpy(key + n, num, k);
        n += k;
    }
    return call_arg(c, key, n);
}

/*
 * Builds the EVALSHA for up to MAX_ENTRIES_PER_CALL entries of one series: the union of their
 * counter hashes becomes KEYS, each entry names its hashes by KEYS index.
 */
static int call_build(struct call *c, const struct group *g)
{
    static const char *const fields[2][3] = {{"g", "b", "e"}, {"l", "u", "o"}};
    const char *const *f = fields[g->kind == SLT_SERIES_SLI ? 0 : 1];
    struct slt_store_bucket **refs;
    size_t nrefs = 0, i, j, k, nkeys = 0;
    char prefix[1100];
    size_t plen;
    int rc = 0;

    plen = (size_t)snprintf(prefix, sizeof(prefix),
                            "slt:{%c:%.*s}:", g->kind == SLT_SERIES_SLI ? 's' : 'i',
                            (int)g->name_len, g->name);
    if (plen >= sizeof(prefix))
        return SLT_ELIMIT;
    for (i = 0; i < c->n; i++)
        nrefs += c->ents[i]->nb;
    refs = slt_malloc((nrefs ? nrefs : 1) * sizeof(*refs));
    if (!refs)
        return SLT_ENOMEM;
    nrefs = 0;
    for (i = 0; i < c->n; i++)
        for (j = 0; j < c->ents[i]->nb; j++)
            refs[nrefs++] = &c->ents[i]->ap->bk[c->ents[i]->bk0 + j];
    if (nrefs > 1)
        qsort(refs, nrefs, sizeof(*refs), cmp_bucket_ref);
    /* numkeys is patched once the keys are known: reserve its slot first */
    rc = call_arg(c, "0", 1);
    if (rc == 0) {
        char hwm[1104];
        memcpy(hwm, prefix, plen);
        memcpy(hwm + plen, "hwm", 3);
        rc = call_arg(c, hwm, plen + 3);
    }
    for (i = 0; rc == 0 && i < nrefs; i++) {
        if (i == 0 || cmp_bucket_ref(&refs[i - 1], &refs[i]) != 0) {
            rc = key_arg(c, prefix, plen, refs[i]);
            nkeys++;
        }
        refs[i]->kidx = nkeys + 1; /* KEYS[1] is hwm */
    }
    if (rc == 0) {
        /* patch numkeys: write it at the end and point the first argument at it */
        size_t save = c->nargs;
        rc = call_u64(c, nkeys + 1);
        if (rc == 0) {
            c->off[0] = c->off[save];
            c->len[0] = c->len[save];
            c->nargs = save;
        }
    }
    for (i = 0; rc == 0 && i < 3; i++)
        rc = call_arg(c, f[i], 1);
    if (rc == 0)
        rc = call_u64(c, c->n);
    /* per key, in KEYS order: expire-at and the sums over every entry */
    for (i = 0; rc == 0 && i < nrefs; i = j) {
        int64_t exp = refs[i]->exp;
        uint64_t sum[3] = {0, 0, 0};

        for (j = i; j < nrefs && cmp_bucket_ref(&refs[i], &refs[j]) == 0; j++) {
            if (refs[j]->exp > exp)
                exp = refs[j]->exp;
            add_sat(sum, refs[j]->v);
        }
        rc = call_i64(c, exp);
        for (k = 0; rc == 0 && k < 3; k++)
            rc = call_u64(c, sum[k]);
    }
    for (i = 0; rc == 0 && i < c->n; i++) {
        const struct slt_apply_part *e = c->ents[i];
        const struct slt_apply *ap = e->ap;
        char num[24];
        size_t start;

        rc = call_arg(c, ap->strs.p, ap->agent_len);
        if (rc == 0)
            rc = call_u64(c, ap->epoch);
        if (rc == 0)
            rc = call_u64(c, ap->seq);
        if (rc == 0)
            rc = call_u64(c, e->since);
        if (rc == 0) {
            char mark[48];
            size_t n = slt_fmt_u64(mark, ap->epoch);

            mark[n++] = ':';
            n += slt_fmt_u64(mark + n, ap->seq - 1);
            rc = call_arg(c, mark, n);
            if (rc == 0) {
                n -= slt_fmt_u64(num, ap->seq - 1);
                n += slt_fmt_u64(mark + n, ap->seq);
                rc = call_arg(c, mark, n);
            }
        }
        /* the deltas as one string: "k:d1:d2:d3,..." */
        if (rc == 0)
            rc = call_arg(c, "", 0);
        start = c->args.len;
        for (j = 0; rc == 0 && j < e->nb; j++) {
            const struct slt_store_bucket *b = &ap->bk[e->bk0 + j];
            uint64_t vals[4] = {b->kidx, b->v[0], b->v[1], b->v[2]};

            for (k = 0; rc == 0 && k < 4; k++) {
                size_t n = slt_fmt_u64(num + 1, vals[k]);
                num[0] = k ? ':' : ',';
                if (j == 0 && k == 0)
                    rc = slt_buf_append(&c->args, num + 1, n);
                else
                    rc = slt_buf_append(&c->args, num, n + 1);
            }
        }
        if (rc == 0)
            c->len[c->nargs - 1] = c->args.len - start;
    }
    slt_free(refs);
    return rc;
}

/* Sends the entries of group g, MAX_ENTRIES_PER_CALL per EVALSHA. */
static void flush_group(struct slt_store *st, struct group *g)
{
    while (g->head) {
        struct call *c = slt_calloc(1, sizeof(*c));
        struct slt_apply_part *e;
        size_t n = g->n < MAX_ENTRIES_PER_CALL ? g->n : MAX_ENTRIES_PER_CALL, i;

        if (c)
            c->ents = slt_malloc(n * sizeof(*c->ents));
        if (!c || !c->ents) {
            slt_free(c);
            /* no memory: answer RETRY for everything left */
            while ((e = g->head) != NULL) {
                g->head = e->next;
                g->n--;
                entry_done(e, SLT_ACK_RETRY, 0);
            }
            return;
        }
        c->st = st;
        c->kind = g->kind;
        slt_buf_init(&c->args, ARGS_MAX);
        for (i = 0; i < n; i++) {
            e = g->head;
            g->head = e->next;
            g->n--;
            c->ents[c->n++] = e;
        }
        if (call_build(c, g) < 0 || call_send(st, c, 0) < 0) {
            st->stats->redis_errors++;
            call_fail(c);
            call_free(c);
        }
    }
}

/* Takes every queued group off the store (new entries go into fresh groups). */
static struct group *take_queued(struct slt_store *st)
{
    struct group *g = st->active;

    st->active = NULL;
    if (g)
        memset(st->ghash, 0, sizeof(st->ghash));
    if (st->flush_armed) {
        uv_check_stop(&st->check);
        uv_idle_stop(&st->idle);
        st->flush_armed = 0;
    }
    return g;
}

static void fail_queued(struct slt_store *st)
{
    struct group *g = take_queued(st), *next;
    struct slt_apply_part *e;

    for (; g; g = next) {
        next = g->anext;
        while ((e = g->head) != NULL) {
            g->head = e->next;
            entry_done(e, SLT_ACK_RETRY, 0);
        }
        slt_free(g);
    }
}

static void on_check(uv_check_t *h)
{
    struct slt_store *st = h->data;
    struct group *g = take_queued(st), *next;

    for (; g; g = next) {
        next = g->anext;
        if (st->ready && st->ac) {
            flush_group(st, g);
        } else {
            struct slt_apply_part *e;
            while ((e = g->head) != NULL) {
                g->head = e->next;
                entry_done(e, SLT_ACK_RETRY, 0);
            }
        }
        slt_free(g);
    }
}

static void on_idle(uv_idle_t *h)
{
    /* only here so the loop does not block in poll while entries wait for on_check */
    (void)h;
}

static int enqueue(struct slt_store *st, struct slt_apply_part *e)
{
    const char *name = e->ap->strs.p + e->name_off;
    uint32_t hash = 2166136261u ^ (uint32_t)e->kind;
    struct group *g;
    size_t i;

    for (i = 0; i < e->name_len; i++)
        hash = (hash ^ (uint8_t)name[i]) * 16777619u;
    for (g = st->ghash[hash % GROUP_HASH]; g; g = g->hnext)
        if (g->hash == hash && g->kind == e->kind && g->name_len == e->name_len &&
            memcmp(g->name, name, e->name_len) == 0)
            break;
    if (!g) {
        /* the name is copied: the first entry's apply may be reused before the group is done */
        g = slt_calloc(1, sizeof(*g) + e->name_len + 1);
        if (!g)
            return SLT_ENOMEM;
        memcpy(g + 1, name, e->name_len);
        g->kind = e->kind;
        g->name = (const char *)(g + 1);
        g->name_len = e->name_len;
        g->hash = hash;
        g->hnext = st->ghash[hash % GROUP_HASH];
        st->ghash[hash % GROUP_HASH] = g;
        g->anext = st->active;
        st->active = g;
    }
    e->next = NULL;
    if (g->tail && g->head)
        g->tail->next = e;
    else
        g->head = e;
    g->tail = e;
    g->n++;
    if (!st->flush_armed) {
        uv_check_start(&st->check, on_check);
        uv_idle_start(&st->idle, on_idle);
        st->flush_armed = 1;
    }
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

/*
 * SADD slt:series once per series and connection, and again every minute (the set is not
 * part of the apply, so it is not restored by the resends that restore lost counts).
 */
static void register_series(struct slt_store *st, const struct slt_series *s)
{
    char member[1100];
    uint32_t h = 2166136261u;
    size_t i, n, slot;

    if (slt_mono_ns() - st->cache_born_ns > SERIES_CACHE_TTL_NS)
        cache_clear(st);

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
    size_t i;
    int rc;

    ap->st = st;
    ap->status = SLT_ACK_DUPLICATE;
    ap->resend_from = 0;
    ap->reason = 0;
    ap->mark = 0;
    rc = check_batch(b, &why);
    if (rc == SLT_EINVAL) {
        ap->status = SLT_ACK_REJECTED;
        ap->reason = SLT_REJECT_INVALID;
        slt_log(SLT_LOG_WARN, "ingest", "batch %llu of agent '%.*s' rejected: %s",
                (unsigned long long)b->seq, (int)b->agent_id.len, b->agent_id.p, why);
        return rc;
    }
    if (rc < 0)
        return rc;
    if (!st->ready || !st->ac)
        return SLT_EREDIS;
    if (b->nseries > ap->capparts) {
        struct slt_apply_part *p = slt_realloc(ap->parts, b->nseries * sizeof(*p));
        if (!p)
            return SLT_ENOMEM;
        ap->parts = p;
        ap->capparts = b->nseries;
    }
    ap->nparts = b->nseries;
    ap->nbk = 0;
    ap->strs.len = 0;
    ap->epoch = b->epoch;
    ap->seq = b->seq;
    rc = slt_buf_append(&ap->strs, b->agent_id.p, b->agent_id.len);
    ap->agent_len = b->agent_id.len;
    for (i = 0; rc == 0 && i < b->nseries; i++) {
        struct slt_apply_part *e = &ap->parts[i];
        const struct slt_series *s = &b->series[i];

        memset(e, 0, sizeof(*e));
        e->ap = ap;
        e->kind = s->kind;
        e->since = s->since;
        e->name_off = ap->strs.len;
        e->name_len = s->name.len;
        rc = slt_buf_append(&ap->strs, s->name.p, s->name.len);
        if (rc == 0)
            rc = build_entry(st, ap, e, s, now_s);
    }
    if (rc < 0) {
        if (rc == SLT_ELIMIT) {
            ap->status = SLT_ACK_REJECTED;
            ap->reason = SLT_REJECT_INVALID;
            return SLT_EINVAL;
        }
        return rc;
    }
    ap->sent_ns = uv_hrtime();
    ap->pending = b->nseries;
    for (i = 0; i < b->nseries; i++) {
        register_series(st, &b->series[i]);
        if (enqueue(st, &ap->parts[i]) < 0) {
            size_t j;

            if (i == 0) {
                ap->pending = 0;
                return SLT_ENOMEM;
            }
            /* entries before i are queued and keep pending above zero */
            for (j = i; j < b->nseries; j++)
                entry_done(&ap->parts[j], SLT_ACK_RETRY, 0);
            return 0;
        }
    }
    return 0;
}
