/*
 * What the pieces of the store on Redis share (aggregator/src only; store.h is the contract).
 *
 * store_redis.c     the struct's life: slt_store_new, slt_store_close, health, the tick
 * store_keys.c      the key schema: every Redis key name of slitail is spelled there
 * store_nodes.c     nodes and routing, the cluster's slot map, MOVED/ASK
 * store_apply.c     the apply script, checking a batch, slt_store_apply, an entry's answer
 * store_batch.c     entries grouped per series (group commit), the EVALSHA calls, parking
 * store_series.c    the series set: bounded, its growth limited per agent, and its cache
 * store_read.c      a read as its caller builds it; the scripts of the query connection
 * store_inflight.c  reads in flight: routing, replies, deadlines
 */
#ifndef SLT_STORE_INTERNAL_H
#define SLT_STORE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "slt/arith.h"

#include "aggr.h"
#include "cluster.h"
#include "redis_conn.h"
#include "store.h"
#include "window.h"

#define SERIES_CACHE_SLOTS (1u << 17)
#define ARGS_MAX ((size_t)256 << 20)

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
    struct node *node; /* the node whose answer it waits for (NULL: none, or parked) */
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

struct node;

/* One EVALSHA in flight. */
struct call {
    struct slt_store *st;
    struct node *node; /* where it goes next; NULL: route by the slot map */
    const char *name;  /* the series (the group's copy, owned here) */
    size_t name_len;
    struct call *park_next;
    int parked, redirects, asking;
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

/*
 * A Redis server the store talks to, with its two connections: the one of aggregator.redis,
 * or every master of a cluster the store learned (the seeds first). Nodes are never freed
 * before the store (a node that left keeps reconnecting with backoff, idle); at most
 * MAX_NODES are known.
 */
struct node {
    struct slt_store *st;
    struct slt_rconn ingest; /* applies and series registration */
    struct slt_rconn query;  /* reads of the API and alerting, CLUSTER SLOTS */
    int nopen;               /* connections not closed yet */
    int idx;
    int may_evict; /* maxmemory-policy is not noeviction */
    char host[SLT_CLUSTER_MAX_HOST];
    int port;
    char addr[SLT_CLUSTER_MAX_HOST + 16]; /* "host:port" for logs */
};

#define MAX_NODES SLT_CLUSTER_MAX_NODES
#define RATE_SLOTS 4096

struct rate {
    double tokens;
    uint64_t at_ns;
};
#define PARK_TICKS_MAX 40 /* 2 s of ticks: a command waiting for a node or slot */
#define REDIRECTS_MAX 5   /* MOVED/ASK followed per command before giving up */

struct call;
struct rcmd;

struct slt_store {
    uv_loop_t *loop;
    char desc[300];
    struct slt_aggr_stats *stats;
    int64_t mret, hret, dret, timeout_ms;
    struct node **nodes;
    size_t nnodes;
    char apply_sha[41], cas_sha[41], lease_sha[41];
    uv_timer_t tick;
    int freeing;
    slt_closed_cb on_closed; /* after slt_store_close, once everything closed */
    void *closed_data;
    /* cluster: slot -> node index (-1 unknown), how to log in to a node it learns of */
    int cluster;
    int16_t *slots;
    int map_complete;
    char *user, *password;
    int refresh_inflight, refresh_wanted;
    uint64_t refresh_last_ns;
    uint64_t slots_logged_ns; /* a refused CLUSTER SLOTS reply: one line a minute */
    size_t refresh_next;      /* the node asked next (round robin) */
    /* commands waiting for a node to come up, a slot to settle (TRYAGAIN) or an ASK target */
    struct call *parked_calls;
    struct rcmd *parked_reads;
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
    /* series already added to slt:series, forgotten every SERIES_CACHE_TTL_NS (and when the
     * ingest connection comes back) so a Redis that lost the set (FLUSHALL, failover behind a
     * proxy) gets it back */
    char **cache;
    size_t ncache;
    uint64_t cache_born_ns;
    uint64_t max_series;
    struct rate *rates; /* RATE_SLOTS new-series allowances, by agent id hash */
    uint64_t series_logged_ns;
    char series_sha[41];
    /* reads in flight, oldest first (their deadlines are checked by the tick) */
    struct slt_store_op *ops_head, *ops_tail;
    size_t nops;
    int ops_due; /* some have nothing to ask and wait for on_check */
    /* counters of the query connections */
    uint64_t q_reconnects, q_errors, q_timeouts, q_deadlines;
};

enum rcmd_type {
    RC_SUMS = 0, /* HMGET key g b e (SLI) or l u o (input): adds into sums[owner] */
    RC_MEMBER,   /* SISMEMBER slt:series member */
    RC_SERIES,   /* SMEMBERS slt:series */
    RC_CAS,      /* EVALSHA cas_script 1 key state ttl mode: cas[owner] */
    RC_LEASE,    /* EVALSHA lease_script 2 lease-key epoch-key op value epoch ttl: lease */
};

/* One command of a read: its key (and arguments) sit in op->buf at off. */
struct rcmd {
    struct slt_store_op *op;
    struct node *node; /* with asking: the node an ASK named */
    struct rcmd *park_next;
    uint32_t owner;
    uint8_t type;
    uint8_t kind;    /* RC_SUMS: SLT_SERIES_SLI or SLT_SERIES_INPUT */
    uint8_t retried; /* RC_CAS, RC_LEASE: sent again with EVAL after NOSCRIPT */
    uint8_t asking, redirects, parked;
    uint32_t off, len;
};

struct slt_store_op {
    struct slt_store_req *rq; /* NULL once answered, timed out or cancelled */
    struct slt_store *st;
    struct rcmd *cmds;
    size_t ncmds, capcmds;
    struct slt_buf buf; /* keys and arguments */
    size_t ncas;
    size_t max_keys;
    size_t pending; /* replies outstanding; the op is freed when it reaches 0 after sending */
    int sent;
    int status;
    uint64_t deadline_ns;
    struct slt_store_op *prev, *next; /* in st->ops_* while sent */
};

/* store_keys.c: the key schema (every Redis key name of slitail is spelled there) */
extern const char slt__store_key_series[];
extern const size_t slt__store_key_series_len;
size_t slt__store_series_prefix(char *out, size_t max, int kind, const char *name, size_t nlen);
size_t slt__store_series_member(char *out, size_t max, int kind, const char *name, size_t nlen);
int slt__store_call_build(struct call *c, const struct group *g);

/* store_nodes.c: nodes, routing, the cluster's slot map, MOVED/ASK */
struct node *slt__store_node_for_key(struct slt_store *st, const char *key, size_t klen);
struct node *slt__store_node_for_series(struct slt_store *st, int kind, const char *name,
                                        size_t nlen);
int slt__store_nodes_up(const struct slt_store *st, int query);
struct node *slt__store_node_add(struct slt_store *st, const char *host, int port, const char *path,
                                 int db);
struct node *slt__store_node_get(struct slt_store *st, const char *host, int port);
void slt__store_want_refresh(struct slt_store *st);
void slt__store_refresh_tick(struct slt_store *st);
struct node *slt__store_follow_redirect(struct slt_store *st, struct node *from,
                                        const struct slt_cluster_redirect *rd);
int slt__store_cluster_wait_error(struct slt_store *st, const redisReply *reply);

/* store_apply.c: the apply script, checking a batch, its entries' answers */
extern const char slt_store_apply_script[];
void slt__store_add_counts(uint64_t acc[3], const uint64_t v[3]);
void slt__store_entry_done(struct slt_apply_part *e, enum slt_ack_status s, uint64_t n);

/* store_batch.c: entries grouped per series and loop iteration, the EVALSHA calls */
size_t slt__store_fmt_i64(char *buf, int64_t v);
int slt__store_call_arg(struct call *c, const char *p, size_t n);
int slt__store_call_u64(struct call *c, uint64_t v);
int slt__store_call_i64(struct call *c, int64_t v);
void slt__store_park_retry_calls(struct slt_store *st);
void slt__store_park_drop_calls(struct slt_store *st);
void slt__store_fail_queued(struct slt_store *st);
void slt__store_arm_flush(struct slt_store *st);
int slt__store_enqueue(struct slt_store *st, struct slt_apply_part *e);

/* store_series.c: the series set and its cache */
extern const char slt_store_series_script[];
void slt__store_cache_clear(struct slt_store *st);
int slt__store_register_then_enqueue(struct slt_store *st, struct slt_apply *ap);

/* store_read.c: a read as its caller builds it; the scripts of the query connection */
extern const char slt_store_cas_script[];
extern const char slt_store_lease_script[];
void slt__store_series_free(struct slt_store_req *rq);
void slt__store_op_free(struct slt_store_op *op);
struct slt_store_op *slt__store_req_op(struct slt_store_req *rq);
int slt__store_op_add(struct slt_store_req *rq, int type, int kind, uint32_t owner, const char *p,
                      size_t n);

/* store_inflight.c: reads in flight, their deadlines */
void slt__store_park_retry_reads(struct slt_store *st);
void slt__store_park_drop_reads(struct slt_store *st);
void slt__store_answer_due(struct slt_store *st);
void slt__store_check_deadlines(struct slt_store *st);
void slt__store_abort_ops(struct slt_store *st);
#endif
