/*
 * A read as its caller builds it (store.h, struct slt_store_req): its commands and their keys
 * and arguments in one buffer (the keys come from store_keys.c), and the scripts the query
 * connection runs: the alert compare-and-set and the agent lease. Sending is store_inflight.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

#define OP_BUF_MAX ((size_t)64 << 20)

/*
 * The state of each alert shared by the aggregators (docs/ALERTS.md), so that of several
 * aggregators only the first to see a state change sends its webhook document. KEYS[1] =
 * slt:alert:<fingerprint>; ARGV = state, ttl seconds, mode (store.h, SLT_CAS_*). "cas": set
 * the state, 1 when this call changed it (send), 0 when it already was (another aggregator
 * sent it). "sync": the same, but an absent state counts as resolved. "refresh": an alert
 * still firing keeps its key alive. "lease" (key slt:alert:lease, state = the holder): 1 when
 * the caller holds the alerting lease (taken or renewed for ttl), 0 when another does.
 * "release": deletes the lease if the caller still holds it (1), else 0.
 */
const char slt_store_cas_script[] =
    "local cur = redis.call('GET', KEYS[1]) "
    "if ARGV[3] == 'refresh' then "
    "  if cur == ARGV[1] then redis.call('EXPIRE', KEYS[1], ARGV[2]) end return 0 end "
    "if ARGV[3] == 'release' then "
    "  if cur == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end return 0 end "
    "if ARGV[3] == 'lease' then "
    "  if cur and cur ~= ARGV[1] then return 0 end "
    "  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) return 1 end "
    "if ARGV[3] == 'sync' and not cur and ARGV[1] == 'resolved' then return 0 end "
    "if cur == ARGV[1] then return 0 end "
    "redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) return 1";

/*
 * One live session per agent id: KEYS[1] = slt:{a:<id>}:lease, KEYS[2] = slt:{a:<id>}:epoch;
 * ARGV = op, value ("<instance>\n..."), epoch, ttl ms. Returns {result, stored epoch, holder}
 * (store.h, slt_store_req_lease). Epochs are below 2^53: exact as Lua numbers.
 */
const char slt_store_lease_script[] =
    "local op, me, ttl = ARGV[1], ARGV[2], ARGV[4]\n"
    "local cur = redis.call('GET', KEYS[1])\n"
    "if op == 'release' then\n"
    "  if cur == me then redis.call('DEL', KEYS[1]) end return {0, 0, ''}\n"
    "end\n"
    "if op == 'renew' then\n"
    "  if cur == me or not cur then redis.call('SET', KEYS[1], me, 'PX', ttl) return {0, 0, ''} "
    "end\n"
    "  return {1, 0, cur}\n"
    "end\n"
    "local inst = string.match(me, '^([^\\n]*)')\n"
    "local E = tonumber(ARGV[3])\n"
    "local e0 = tonumber(redis.call('GET', KEYS[2]) or '0') or 0\n"
    "if inst ~= '' then\n"
    "  if cur and cur ~= me and string.match(cur, '^([^\\n]*)') ~= inst then return {1, e0, cur} "
    "end\n"
    "  if E < e0 then return {2, e0, ''} end\n"
    "  redis.call('SET', KEYS[1], me, 'PX', ttl)\n"
    "elseif cur then return {1, e0, cur}\n"
    "end\n"
    "if E > e0 then redis.call('SET', KEYS[2], ARGV[3]) end\n"
    "return {0, e0, ''}\n";

/* ---- reads ---------------------------------------------------------------------------------- */

void slt__store_series_free(struct slt_store_req *rq)
{
    size_t i;

    for (i = 0; i < rq->nseries; i++)
        slt_free(rq->series[i].name);
    slt_free(rq->series);
    rq->series = NULL;
    rq->nseries = 0;
}

void slt__store_op_free(struct slt_store_op *op)
{
    if (!op)
        return;
    slt_buf_release(&op->buf);
    slt_free(op->cmds);
    slt_free(op);
}

void slt_store_req_init(struct slt_store_req *rq)
{
    memset(rq, 0, sizeof(*rq));
}

void slt_store_req_release(struct slt_store_req *rq)
{
    if (rq->op && !rq->op->sent)
        slt__store_op_free(rq->op);
    rq->op = NULL;
    slt_free(rq->sums);
    rq->sums = NULL;
    rq->nsums = 0;
    slt__store_series_free(rq);
    slt_free(rq->cas);
    rq->cas = NULL;
    rq->ncas = 0;
    rq->nkeys = 0;
}

void slt_store_req_reset(struct slt_store_req *rq)
{
    void (*done)(struct slt_store_req *) = rq->done;
    void *data = rq->data;

    slt_store_req_release(rq);
    slt_store_req_init(rq);
    rq->done = done;
    rq->data = data;
}

struct slt_store_op *slt__store_req_op(struct slt_store_req *rq)
{
    if (!rq->op) {
        rq->op = slt_calloc(1, sizeof(*rq->op));
        if (!rq->op)
            return NULL;
        slt_buf_init(&rq->op->buf, OP_BUF_MAX);
    }
    return rq->op;
}

void slt_store_req_limit(struct slt_store_req *rq, size_t max_keys)
{
    struct slt_store_op *op = slt__store_req_op(rq);

    if (op)
        op->max_keys = max_keys;
}

int slt_store_req_sums(struct slt_store_req *rq, size_t n)
{
    slt_free(rq->sums);
    rq->sums = slt_calloc(n ? n : 1, sizeof(*rq->sums));
    rq->nsums = rq->sums ? n : 0;
    return rq->sums ? 0 : SLT_ENOMEM;
}

/* Appends a command whose key (and arguments) are p[0..n). */
int slt__store_op_add(struct slt_store_req *rq, int type, int kind, uint32_t owner, const char *p,
                      size_t n)
{
    struct slt_store_op *op = slt__store_req_op(rq);
    struct rcmd *c;
    int rc;

    if (!op)
        return SLT_ENOMEM;
    if (op->sent)
        return SLT_EINVAL;
    if (type == RC_SUMS && op->max_keys && rq->nkeys >= op->max_keys)
        return SLT_ELIMIT;
    if (op->ncmds == op->capcmds) {
        size_t cap = op->capcmds ? op->capcmds * 2 : 64;

        c = slt_realloc(op->cmds, cap * sizeof(*c));
        if (!c)
            return SLT_ENOMEM;
        op->cmds = c;
        op->capcmds = cap;
    }
    c = &op->cmds[op->ncmds];
    memset(c, 0, sizeof(*c));
    c->off = (uint32_t)op->buf.len;
    c->len = (uint32_t)n;
    rc = slt_buf_append(&op->buf, p, n);
    if (rc < 0)
        return rc;
    c->type = (uint8_t)type;
    c->kind = (uint8_t)kind;
    c->owner = owner;
    op->ncmds++;
    if (type == RC_SUMS)
        rq->nkeys++;
    return 0;
}
