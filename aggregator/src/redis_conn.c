/* One Redis connection with handshake, heartbeat and backoff; see redis_conn.h. */
#include "redis_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "slt/common.h"

#include "redis_uv.h"

#define COMPONENT "redis"
#define TICK_MS 100
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define PING_EVERY_MS 1000

static void rconn_connect(struct slt_rconn *c);

static uint64_t ms_to_ns(int64_t ms)
{
    return ms > 0 ? (uint64_t)ms * 1000000u : 0;
}

int slt_rconn_up(const struct slt_rconn *c)
{
    return c->ac && c->up;
}

static void schedule_reconnect(struct slt_rconn *c)
{
    uint64_t d = c->backoff_ms, jitter;

    if (c->closing)
        return;
    /* +-25 % jitter so many aggregators (and many connections) do not reconnect in step */
    jitter = d / 2 ? (uint64_t)rand_r(&c->seed) % (d / 2) : 0;
    d = d - d / 4 + jitter;
    c->reconnect_at_ns = uv_hrtime() + ms_to_ns((int64_t)d);
    c->backoff_ms *= 2;
    if (c->backoff_ms > BACKOFF_MAX_MS)
        c->backoff_ms = BACKOFF_MAX_MS;
}

/* The connection is gone (hiredis frees or freed the context): back off, tell the owner. */
static void lost(struct slt_rconn *c, int was_up)
{
    c->ac = NULL;
    c->up = 0;
    c->ping_outstanding = 0;
    schedule_reconnect(c);
    if (c->on_down)
        c->on_down(c, was_up);
}

/* 1 for the attempts worth a log line when every attempt fails: 1, 2, 4, 8, ... */
static int worth_logging(const struct slt_rconn *c)
{
    return (c->failures & (c->failures - 1)) == 0;
}

void slt_rconn_drop(struct slt_rconn *c, const char *why)
{
    redisAsyncContext *ac = c->ac;
    int was_up = c->up;

    if (!ac)
        return;
    if (!c->closing && why)
        slt_log(c->quiet > 1 && !was_up ? SLT_LOG_DEBUG : SLT_LOG_WARN, COMPONENT,
                "dropping connection to '%s': %s", c->name, why);
    c->ac = NULL;
    c->up = 0;
    /* runs every pending callback with a NULL reply (now, or after the current callback) */
    redisAsyncFree(ac);
    lost(c, was_up);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct slt_rconn *c = ac->data;

    if (status == REDIS_OK || c->ac != ac)
        return;
    (*c->stats.errors)++;
    c->failures++;
    if (worth_logging(c))
        slt_log(c->quiet > 1 ? SLT_LOG_DEBUG : SLT_LOG_WARN, COMPONENT,
                "cannot connect to '%s': %s (attempt %llu)", c->name,
                ac->errstr[0] ? ac->errstr : "connection failed", (unsigned long long)c->failures);
    /* hiredis frees the context after this callback */
    lost(c, 0);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct slt_rconn *c = ac->data;
    int was_up = c->up;

    (void)status;
    if (c->ac != ac)
        return; /* we dropped it ourselves */
    (*c->stats.errors)++;
    slt_log(c->quiet > 1 ? SLT_LOG_DEBUG : SLT_LOG_WARN, COMPONENT, "lost connection to '%s': %s",
            c->name, ac->errstr[0] ? ac->errstr : "closed by peer");
    lost(c, was_up);
}

static void on_handshake(redisAsyncContext *ac, void *r, void *priv)
{
    struct slt_rconn *c = ac->data;
    redisReply *reply = r;

    if (!reply || c->ac != ac)
        return;
    if (reply->type == REDIS_REPLY_ERROR) {
        char msg[300];

        (*c->stats.errors)++;
        c->failures++;
        snprintf(msg, sizeof(msg), "%s failed: %.200s (attempt %llu)", (const char *)priv,
                 reply->str, (unsigned long long)c->failures);
        /* a wrong password fails every attempt: log 1, 2, 4, 8, ... */
        if (worth_logging(c))
            slt_log(c->quiet > 1 ? SLT_LOG_DEBUG : SLT_LOG_WARN, COMPONENT,
                    "dropping connection to '%s': %s", c->name, msg);
        slt_rconn_drop(c, NULL);
    }
}

/* The PING that ends the handshake answered: the connection is usable. */
static void on_ready(redisAsyncContext *ac, void *r, void *priv)
{
    struct slt_rconn *c = ac->data;
    redisReply *reply = r;

    (void)priv;
    if (!reply || c->ac != ac || c->up)
        return;
    if (reply->type == REDIS_REPLY_ERROR) {
        /* AUTH or SELECT failed before it (already dropped), or a server that refuses PING */
        (*c->stats.errors)++;
        slt_rconn_drop(c, reply->str);
        return;
    }
    c->up = 1;
    c->backoff_ms = BACKOFF_MIN_MS;
    c->failures = 0;
    c->ping_sent_ns = uv_hrtime();
    slt_log(c->quiet ? SLT_LOG_DEBUG : SLT_LOG_INFO, COMPONENT, "connected to '%s'", c->name);
    if (c->on_up)
        c->on_up(c);
}

static void on_ping(redisAsyncContext *ac, void *r, void *priv)
{
    struct slt_rconn *c = ac->data;

    (void)priv;
    if (!r || c->ac != ac)
        return;
    c->ping_outstanding = 0;
}

static void rconn_connect(struct slt_rconn *c)
{
    redisAsyncContext *ac;

    c->reconnect_at_ns = 0;
    if (c->started)
        (*c->stats.reconnects)++;
    c->started = 1;
    ac = c->path ? redisAsyncConnectUnix(c->path) : redisAsyncConnect(c->host, c->port);
    if (!ac || ac->err) {
        (*c->stats.errors)++;
        c->failures++;
        if (worth_logging(c))
            slt_log(c->quiet > 1 ? SLT_LOG_DEBUG : SLT_LOG_WARN, COMPONENT,
                    "cannot connect to '%s': %s", c->name, ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        schedule_reconnect(c);
        return;
    }
    ac->data = c;
    if (slt_redis_uv_attach(ac, c->loop) != REDIS_OK) {
        slt_log(SLT_LOG_WARN, COMPONENT, "cannot watch the connection to '%s'", c->name);
        redisAsyncFree(ac);
        schedule_reconnect(c);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    c->ac = ac;
    c->up = 0;
    c->hs_start_ns = uv_hrtime();
    /* hiredis queues these until the socket is connected; replies come back in order */
    if (c->password) {
        const char *argv[3] = {"AUTH", c->user ? c->user : c->password, c->password};
        size_t lens[3] = {4, strlen(argv[1]), strlen(c->password)};

        redisAsyncCommandArgv(ac, on_handshake, "AUTH", c->user ? 3 : 2, argv, lens);
    }
    if (c->db) {
        char db[16];
        const char *argv[2] = {"SELECT", db};
        size_t lens[2] = {6, 0};

        lens[1] = (size_t)snprintf(db, sizeof(db), "%d", c->db);
        redisAsyncCommandArgv(ac, on_handshake, "SELECT", 2, argv, lens);
    }
    redisAsyncCommand(ac, on_ready, NULL, "PING");
}

static void on_tick(uv_timer_t *t)
{
    struct slt_rconn *c = t->data;
    uint64_t now = uv_hrtime();

    if (c->closing)
        return;
    if (!c->ac) {
        if (c->reconnect_at_ns && now >= c->reconnect_at_ns)
            rconn_connect(c);
        return;
    }
    if (!c->up) {
        if (now - c->hs_start_ns > ms_to_ns(c->timeout_ms)) {
            (*c->stats.timeouts)++;
            c->failures++;
            slt_rconn_drop(c, worth_logging(c) ? "connect and handshake timed out" : NULL);
        }
        return;
    }
    if (c->ping_outstanding) {
        if (now - c->ping_sent_ns > ms_to_ns(c->timeout_ms)) {
            (*c->stats.timeouts)++;
            slt_rconn_drop(c, "PING timed out");
        }
    } else if (now - c->ping_sent_ns > ms_to_ns(PING_EVERY_MS)) {
        if (redisAsyncCommand(c->ac, on_ping, NULL, "PING") == REDIS_OK) {
            c->ping_outstanding = 1;
            c->ping_sent_ns = now;
        }
    }
}

static void opts_release(struct slt_rconn *c)
{
    slt_free(c->host);
    slt_free(c->path);
    slt_free(c->user);
    slt_free(c->password);
    slt_free(c->name);
    c->host = c->path = c->user = c->password = c->name = NULL;
}

static int dup_opt(char **dst, const char *src)
{
    *dst = NULL;
    if (!src)
        return 0;
    *dst = slt_strdup(src);
    return *dst ? 0 : SLT_ENOMEM;
}

int slt_rconn_init(struct slt_rconn *c, uv_loop_t *loop, const struct slt_rconn_opts *o)
{
    memset(c, 0, sizeof(*c));
    if (dup_opt(&c->host, o->host) < 0 || dup_opt(&c->path, o->path) < 0 ||
        dup_opt(&c->user, o->user) < 0 || dup_opt(&c->password, o->password) < 0 ||
        dup_opt(&c->name, o->name ? o->name : "redis") < 0) {
        opts_release(c);
        return SLT_ENOMEM;
    }
    c->loop = loop;
    c->port = o->port;
    c->db = o->db;
    c->quiet = o->quiet;
    c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 2000;
    c->stats.reconnects = o->stats.reconnects ? o->stats.reconnects : &c->own[0];
    c->stats.errors = o->stats.errors ? o->stats.errors : &c->own[1];
    c->stats.timeouts = o->stats.timeouts ? o->stats.timeouts : &c->own[2];
    c->backoff_ms = BACKOFF_MIN_MS;
    c->seed = (unsigned int)(uv_hrtime() ^ (uintptr_t)c);
    uv_timer_init(loop, &c->tick);
    c->tick.data = c;
    uv_timer_start(&c->tick, on_tick, TICK_MS, TICK_MS);
    rconn_connect(c);
    return 0;
}

int slt_rconn_command(struct slt_rconn *c, void (*fn)(redisAsyncContext *, void *, void *),
                      void *priv, int argc, const char **argv, const size_t *lens)
{
    if (!c->ac || !c->up)
        return SLT_EREDIS;
    if (redisAsyncCommandArgv(c->ac, fn, priv, argc, argv, lens) != REDIS_OK)
        return SLT_EREDIS;
    return 0;
}

int slt_rconn_formatted(struct slt_rconn *c, void (*fn)(redisAsyncContext *, void *, void *),
                        void *priv, const char *cmd, size_t len)
{
    if (!c->ac || !c->up)
        return SLT_EREDIS;
    if (redisAsyncFormattedCommand(c->ac, fn, priv, cmd, len) != REDIS_OK)
        return SLT_EREDIS;
    return 0;
}

static void on_tick_closed(uv_handle_t *h)
{
    struct slt_rconn *c = h->data;

    opts_release(c);
    if (c->on_closed)
        c->on_closed(c->closed_data);
}

void slt_rconn_close(struct slt_rconn *c, slt_closed_cb on_closed, void *data)
{
    if (c->closing)
        return;
    c->closing = 1;
    c->on_closed = on_closed;
    c->closed_data = data;
    slt_rconn_drop(c, NULL);
    uv_timer_stop(&c->tick);
    uv_close((uv_handle_t *)&c->tick, on_tick_closed);
}
