/*
 * The aggregator's only door to storage (docs/REDIS.md). Ingest applies batches through it,
 * the API and alerting ask it for window sums, the series list, the alerts' shared state,
 * health and stats; nobody else names a Redis key or opens a Redis connection.
 * store_redis.c and its pieces (listed at its top) implement it on one Redis (aggregator.redis)
 * or a Redis Cluster (aggregator.redis_cluster), routing each key to the master of its slot
 * (cluster.h).
 *
 * Calling sequence (main.c):
 *   slt_store_new(loop, &conf, &params, stats, &store)   connects, reconnects with backoff
 *   ... slt_store_apply / slt_store_req_send ... from the server, the API and alerting
 *   on SIGHUP:  slt_store_set_params(store, &params)
 *   at exit:    slt_store_close(store, cb, d)  after the server, the API and alerting stopped;
 *                  anything still in flight ends now (RETRY, SLT_EREDIS)
 *
 * A read (struct slt_store_req) belongs to its caller, who builds it, sends it, gets exactly
 * one done() and releases it; the store never calls into the API or alerting otherwise, so
 * there is no cycle api <-> store <-> alert.
 */
#ifndef SLT_STORE_H
#define SLT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "slt/common.h"
#include "slt/proto.h"

#include "redis_url.h"
#include "stats.h"

struct slt_aggr_params;
struct slt_store;

/*
 * Where the store lives: one Redis (url), or a Redis Cluster when nseeds > 0 (seeds: nodes
 * to learn the slot map from, host and port only; AUTH user and password are the first a
 * seed carries, the same for every node).
 */
struct slt_store_conf {
    const struct slt_redis_url *url;
    const struct slt_redis_url *seeds;
    size_t nseeds;
};

int slt_store_new(uv_loop_t *loop, const struct slt_store_conf *conf,
                  const struct slt_aggr_params *params, struct slt_aggr_stats *stats,
                  struct slt_store **out);
/* Copies the retention and timeout values. */
void slt_store_set_params(struct slt_store *st, const struct slt_aggr_params *params);
/* The lifecycle verb (slt/common.h): closes every connection and handle; whatever is in flight
 * ends now (RETRY, SLT_EREDIS); frees st, then on_closed(data). */
void slt_store_close(struct slt_store *st, slt_closed_cb on_closed, void *data);

/* ---- health and stats ----------------------------------------------------------------------- */

struct slt_store_health {
    int ingest_up; /* applies can be sent (a cluster: to every master) */
    int query_up;  /* reads can be sent (a cluster: to every master) */
    uint64_t query_timeouts;
    uint64_t query_reconnects;
};

void slt_store_health(const struct slt_store *st, struct slt_store_health *h);

/* ---- applies ---------------------------------------------------------------------------------
 * Each series of a batch becomes an entry; entries of one series that arrive in the same loop
 * iteration share one script call. ap->done runs once every entry has its answer, or once the
 * connection failed.
 */
struct slt_apply_part;
struct slt_store_bucket;

struct slt_apply {
    void (*done)(struct slt_apply *ap); /* runs exactly once per successful slt_store_apply */
    void *data;
    /* outcome, valid in done() */
    enum slt_ack_status status;
    uint64_t resend_from;
    uint32_t reason; /* with REJECTED: enum slt_reject_reason */
    uint64_t mark;   /* with SLT_REJECT_STALE_EPOCH: the largest epoch stored for the agent */
    /* internal */
    struct slt_store *st;
    uint64_t epoch, seq;
    struct slt_apply_part *parts;
    size_t nparts, capparts;
    size_t pending;
    uint64_t sent_ns;
    struct slt_buf strs; /* agent id and series names, copied */
    size_t agent_len;    /* the agent id is at strs.p[0] */
    struct slt_store_bucket *bk;
    size_t nbk, capbk;
    void *reg_node; /* the node its series registration waits on (store_series.c) */
};

void slt_apply_init(struct slt_apply *ap);
void slt_apply_release(struct slt_apply *ap);
/*
 * Starts applying batch b at wall time now_s. Returns 0 and later calls ap->done, or returns
 * SLT_EREDIS (not connected), SLT_EINVAL (the batch cannot be applied: ap->status holds
 * SLT_ACK_REJECTED) or SLT_ENOMEM, and done is never called. b may be freed after the call.
 */
int slt_store_apply(struct slt_store *st, struct slt_apply *ap, const struct slt_msg_batch *b,
                    int64_t now_s);
/*
 * ap timed out: drops the ingest connection(s) ap waits on (on a cluster, only those masters;
 * NULL: every one) and ends its parked calls; the applies pending there end with RETRY.
 */
void slt_store_reset(struct slt_store *st, struct slt_apply *ap, const char *reason);

/* aggregator.max_series when the config does not say: series in slt:series at most. */
#define SLT_STORE_MAX_SERIES_DEFAULT 10000

/* A row minute later than this after the aggregator's clock is refused (REJECTED invalid). */
#define SLT_STORE_AHEAD_MAX_S 86400

/* ---- reads -----------------------------------------------------------------------------------
 * A request is a list of questions answered together:
 *   slt_store_req_init(&rq)
 *   slt_store_req_sums(&rq, n)                    n zeroed sums, rq.sums[0..n)
 *   slt_store_req_range(&rq, kind, name, from, to, i, now, &partial)   += window [from, to)
 *   slt_store_req_total(&rq, kind, name, i)       += the all-time total
 *   slt_store_req_member(&rq, kind, name)         is the series known? -> rq.member
 *   slt_store_req_series(&rq)                     every known series -> rq.series
 *   slt_store_req_cas(&rq, fp, state, ttl_s, refresh)   alert state -> rq.cas[k]
 *   slt_store_req_lease(&rq, op, agent, value, epoch, ttl_ms)   session lease -> rq.lease
 *   rq.done = ...; slt_store_req_send(st, &rq, timeout_ms)
 *   ... done(&rq) runs exactly once (never from inside slt_store_req_send) ...
 *   slt_store_req_release(&rq)                    (or reuse it after slt_store_req_reset)
 * kind is SLT_SERIES_SLI ('s' keys, good/bad/excluded) or SLT_SERIES_INPUT (lines/unparsed/
 * oversize). Sums add as int64 with saturation at INT64_MAX.
 */
#define SLT_STORE_MAX_NAME 1024 /* bytes of a series name the store reads */

struct slt_store_series {
    char *name; /* NUL-terminated copy (names with a NUL byte are skipped) */
    size_t len;
    int kind; /* SLT_SERIES_SLI or SLT_SERIES_INPUT */
};

struct slt_store_op;

struct slt_store_req {
    void (*done)(struct slt_store_req *rq);
    void *data;
    /* results, valid in done() */
    int status;         /* 0, SLT_EREDIS (unavailable), SLT_ETIMEDOUT, SLT_ECORRUPT (a value
                           that is not a counter), SLT_ENOMEM */
    int64_t (*sums)[3]; /* owned */
    size_t nsums;
    int member;
    struct slt_store_series *series; /* owned; unsorted, no duplicates */
    size_t nseries;
    int *cas; /* per slt_store_req_cas call: 1 changed, 0 was already so, -1 no answer */
    size_t ncas;
    struct slt_store_lease_answer {
        int answered;     /* 0: no answer (Redis error, timeout) */
        int result;       /* SLT_LEASE_HELD, _OTHER, _STALE */
        uint64_t epoch;   /* the epoch stored for the agent id before this call */
        char holder[256]; /* with SLT_LEASE_OTHER: the holder's value */
    } lease;
    /* internal */
    struct slt_store_op *op; /* questions, then the request in flight */
    size_t nkeys;
};

void slt_store_req_init(struct slt_store_req *rq);
/* Frees the results and questions; rq must not be in flight (cancel it first). */
void slt_store_req_release(struct slt_store_req *rq);
/* Release, then init (keeps done and data). */
void slt_store_req_reset(struct slt_store_req *rq);
/* Allocates n zeroed sums (replacing any). 0 or SLT_ENOMEM. */
int slt_store_req_sums(struct slt_store_req *rq, size_t n);
/*
 * Adds the buckets of window [from, to) (multiples of 60) of a series into sums[i]. Sets
 * *partial when a bucket is older than its retention at wall time now. Returns 0,
 * SLT_ELIMIT past max_keys buckets in this request (see slt_store_req_limit), SLT_EINVAL, or
 * SLT_ENOMEM.
 */
int slt_store_req_range(struct slt_store_req *rq, const struct slt_store *st, int kind,
                        const char *name, int64_t from, int64_t to, size_t i, int64_t now,
                        int *partial);
int slt_store_req_total(struct slt_store_req *rq, int kind, const char *name, size_t i);
int slt_store_req_member(struct slt_store_req *rq, int kind, const char *name);
int slt_store_req_series(struct slt_store_req *rq);
/*
 * Compare-and-set of an alert's shared state (fingerprint: 16 hex digits) by mode:
 *   SLT_CAS_SET      set state; 1 when this call changed it, 0 when it already was so
 *   SLT_CAS_REFRESH  keep a state that is still current alive for ttl_s; 0
 *   SLT_CAS_SYNC     as SET, but an absent state counts as "resolved"
 *   SLT_CAS_LEASE    fingerprint "lease", state = holder id: 1 when the caller holds the
 *                    alerting lease (free or its own: taken for ttl_s), 0 when another does
 *   SLT_CAS_RELEASE  fingerprint "lease": deletes the lease if state still holds it (1), else 0
 * Answer k (the k-th call) in rq.cas[k] (-1: no answer).
 */
enum {
    SLT_CAS_SET = 0,
    SLT_CAS_REFRESH = 1,
    SLT_CAS_SYNC = 2,
    SLT_CAS_LEASE = 3,
    SLT_CAS_RELEASE = 4
};
int slt_store_req_cas(struct slt_store_req *rq, const char *fingerprint, const char *state,
                      int64_t ttl_s, int mode);
/*
 * One live session per agent id (docs/REDIS.md, "Sessions"): slt:{a:<agent>}:lease holds the
 * session's value ("<instance>\n<description>", instance "" for agents that send none) for
 * ttl_ms, slt:{a:<agent>}:epoch the largest epoch a session of that id started with.
 *   SLT_LEASE_ACQUIRE: with an instance, the lease is taken unless another instance holds it
 *     (result OTHER, holder set) and the epoch must not be below the stored one (STALE, epoch
 *     set); without one, no lease is taken and the epoch is not checked, but the call is
 *     refused (OTHER) while a session with an instance holds the lease. The stored epoch is
 *     raised to epoch.
 *   SLT_LEASE_RENEW: HELD when the lease is still ours (or free, then taken again), else OTHER.
 *   SLT_LEASE_RELEASE: deleted if still ours.
 * At most one per request. 0, SLT_ELIMIT (names too long) or SLT_ENOMEM.
 */
enum slt_lease_op { SLT_LEASE_ACQUIRE = 0, SLT_LEASE_RENEW, SLT_LEASE_RELEASE };
enum slt_lease_result { SLT_LEASE_HELD = 0, SLT_LEASE_OTHER = 1, SLT_LEASE_STALE = 2 };
int slt_store_req_lease(struct slt_store_req *rq, int op, const char *agent, const char *value,
                        uint64_t epoch, int64_t ttl_ms);

/* Bucket reads one request may hold (0: unlimited). */
void slt_store_req_limit(struct slt_store_req *rq, size_t max_keys);
/*
 * Sends the request. Returns 0 and done runs once later (by timeout_ms at the latest), or
 * SLT_EREDIS (not connected) / SLT_ENOMEM and done never runs.
 */
int slt_store_req_send(struct slt_store *st, struct slt_store_req *rq, int64_t timeout_ms);
/* Ends a request in flight without calling done; its late replies are ignored. */
void slt_store_req_cancel(struct slt_store_req *rq);

#endif
