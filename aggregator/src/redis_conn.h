/*
 * One Redis connection of the aggregator: connect (TCP or unix socket), AUTH, SELECT, a
 * handshake deadline, a PING heartbeat with a deadline, reconnects with exponential backoff
 * (100 ms doubling to 5 s, +-25 % jitter) and poll errors handed to hiredis (redis_uv.c).
 * Every connection the aggregator opens is one of these (the store owns them all: store_nodes.c).
 *
 * Calling sequence:
 *   slt_rconn_init(c, loop, &opts)       copies opts, starts connecting
 *   slt_rconn_command*(c, ...)           while slt_rconn_up(c); replies come back in order
 *   slt_rconn_drop(c, why)               every pending callback runs with a NULL reply (now,
 *                                        or after the callback we are in), then on_down;
 *                                        reconnects after the backoff
 *   slt_rconn_close(c, on_closed, data)  no more reconnects; pending callbacks run with NULL;
 *                                        on_closed(data) runs once its handles are closed
 *
 * The hiredis context's data field points at the struct slt_rconn (ac->data).
 */
#ifndef SLT_REDIS_CONN_H
#define SLT_REDIS_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "slt/common.h" /* slt_closed_cb */

struct redisAsyncContext;

/*
 * Counters a connection adds to: each points at a uint64_t of the owner's (several
 * connections may share them), or at the connection's own when the owner left it NULL.
 */
struct slt_rconn_stats {
    uint64_t *reconnects; /* connection attempts after the first */
    uint64_t *errors;     /* failed connects, lost connections, AUTH/SELECT errors */
    uint64_t *timeouts;   /* handshake or PING deadline missed */
};

struct slt_rconn_opts {
    const char *host; /* TCP host, or NULL with path */
    int port;
    const char *path;     /* unix socket path, or NULL */
    const char *user;     /* AUTH user (ACL), or NULL */
    const char *password; /* AUTH password, or NULL: no AUTH */
    int db;               /* SELECT db when not 0 */
    int64_t timeout_ms;   /* handshake and PING deadline */
    const char *name;     /* for logs, e.g. "ingest redis 127.0.0.1:6379/0" */
    int quiet;            /* 0: log "connected" (info) and failures (warn); 1: "connected" at debug
                             level (the owner says it); 2: everything at debug level */
    struct slt_rconn_stats stats; /* where to count; NULL members: the connection's own */
};

struct slt_rconn {
    uv_loop_t *loop;
    struct redisAsyncContext *ac; /* NULL while disconnected */
    int up;                       /* the handshake answered */
    void *data;                   /* the owner's */
    /* called when the handshake answered, and after the connection was lost or a connect
     * failed (was_up says whether it had been up); both may be NULL */
    void (*on_up)(struct slt_rconn *c);
    void (*on_down)(struct slt_rconn *c, int was_up);
    struct slt_rconn_stats stats; /* every member set after init */

    /* internal */
    uint64_t own[3];
    char *host, *path, *user, *password, *name;
    int port, db, quiet;
    int64_t timeout_ms;
    uv_timer_t tick;
    uint64_t hs_start_ns, ping_sent_ns, reconnect_at_ns;
    int ping_outstanding;
    uint64_t backoff_ms;
    uint64_t failures; /* in a row; logged at 1, 2, 4, 8, ... */
    unsigned int seed;
    int closing, started;
    slt_closed_cb on_closed;
    void *closed_data;
};

/* 0, or SLT_ENOMEM. The first connect starts now; c must stay where it is until closed. */
int slt_rconn_init(struct slt_rconn *c, uv_loop_t *loop, const struct slt_rconn_opts *opts);
/* 1 when connected and the handshake answered. */
int slt_rconn_up(const struct slt_rconn *c);
/*
 * Queues a command (binary-safe argv). Returns 0, or SLT_EREDIS when the connection is not up
 * (fn is then never called). fn(ac, reply, priv) runs once: reply is NULL when the connection
 * went away first.
 */
int slt_rconn_command(struct slt_rconn *c, void (*fn)(struct redisAsyncContext *, void *, void *),
                      void *priv, int argc, const char **argv, const size_t *lens);
/* The same with a command already in RESP. */
int slt_rconn_formatted(struct slt_rconn *c, void (*fn)(struct redisAsyncContext *, void *, void *),
                        void *priv, const char *cmd, size_t len);
/* Drops the connection (a timeout, a protocol error); reconnects after the backoff. */
void slt_rconn_drop(struct slt_rconn *c, const char *why);
void slt_rconn_close(struct slt_rconn *c, slt_closed_cb on_closed, void *data);

#endif
