/*
 * Reads in flight: each command of a read sent to the node owning its key (parked, redirected
 * or failed as for applies), the replies gathered into the request, and the deadlines the
 * store's tick checks; a read is answered once, by its last reply, its deadline or the close.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

/* ---- reads in flight ---- */

static const char *const sums_fields[2][3] = {{"g", "b", "e"}, {"l", "u", "o"}};

static int query_ready(const struct slt_store *st)
{
    if (st->freeing || st->nnodes == 0)
        return 0;
    return st->cluster ? st->map_complete : slt_rconn_up(&st->nodes[0]->query);
}

static void op_unlink(struct slt_store *st, struct slt_store_op *op)
{
    if (op->prev)
        op->prev->next = op->next;
    else if (st->ops_head == op)
        st->ops_head = op->next;
    if (op->next)
        op->next->prev = op->prev;
    else if (st->ops_tail == op)
        st->ops_tail = op->prev;
    op->prev = op->next = NULL;
    st->nops--;
}

/* Answers the request (if it still waits) with status. */
static void op_answer(struct slt_store_op *op, int status)
{
    struct slt_store_req *rq = op->rq;

    if (!rq)
        return;
    op->rq = NULL;
    rq->op = NULL;
    rq->status = status;
    rq->done(rq);
}

/* One reply of op came back (or never will): answer when it was the last. */
static void op_reply_done(struct slt_store_op *op)
{
    struct slt_store *st = op->st;

    if (--op->pending > 0)
        return;
    op_unlink(st, op);
    op_answer(op, op->status);
    slt__store_op_free(op);
}

static void op_fail(struct slt_store_op *op, int status)
{
    /* the first failure wins: unavailable over corrupt */
    if (!op->status)
        op->status = status;
}

static int parse_count(const redisReply *e, int64_t *out)
{
    char *end;
    long long v;

    if (e->type == REDIS_REPLY_NIL) {
        *out = 0;
        return 0;
    }
    if (e->type != REDIS_REPLY_STRING)
        return -1;
    errno = 0;
    v = strtoll(e->str, &end, 10);
    if (errno || end == e->str || *end)
        return -1;
    *out = v;
    return 0;
}

static int rcmd_send(struct slt_store *st, struct rcmd *c, int eval);
static void op_reply_done(struct slt_store_op *op);

/* Parks a read until the next tick (a node coming up, a slot that settles). */
static void rcmd_park(struct slt_store *st, struct rcmd *c)
{
    c->park_next = st->parked_reads;
    st->parked_reads = c;
}

/* Sends c, or parks it (a cluster node not up yet), or fails it. */
static void rcmd_go(struct slt_store *st, struct rcmd *c)
{
    int rc = rcmd_send(st, c, c->retried);

    if (rc == 0)
        return;
    if (rc == SLT_EREDIS && st->cluster && !st->freeing) {
        rcmd_park(st, c);
        return;
    }
    op_fail(c->op, rc == SLT_EREDIS ? SLT_EREDIS : rc);
    op_reply_done(c->op);
}

void slt__store_park_retry_reads(struct slt_store *st)
{
    struct rcmd *c = st->parked_reads, *next;

    st->parked_reads = NULL;
    for (; c; c = next) {
        next = c->park_next;
        c->park_next = NULL;
        if (!c->op->rq) {
            op_reply_done(c->op); /* answered (timed out) or cancelled meanwhile */
        } else if (++c->parked > PARK_TICKS_MAX) {
            op_fail(c->op, SLT_EREDIS);
            op_reply_done(c->op);
        } else {
            rcmd_go(st, c);
        }
    }
}

void slt__store_park_drop_reads(struct slt_store *st)
{
    struct rcmd *c = st->parked_reads, *next;

    st->parked_reads = NULL;
    for (; c; c = next) {
        next = c->park_next;
        op_fail(c->op, SLT_EREDIS);
        op_reply_done(c->op);
    }
}

/* MOVED, ASK, TRYAGAIN, CLUSTERDOWN, LOADING: as for applies (call_cluster_error). */
static int rcmd_cluster_error(struct slt_store *st, struct rcmd *c, const redisReply *reply)
{
    struct slt_cluster_redirect rd;

    if (!st->cluster)
        return 0;
    if (slt_cluster_parse_redirect(reply->str, reply->len, &rd) == 0) {
        struct node *from =
            c->asking ? c->node : slt__store_node_for_key(st, c->op->buf.p + c->off, c->len);
        struct node *to = ++c->redirects <= REDIRECTS_MAX && from
                              ? slt__store_follow_redirect(st, from, &rd)
                              : NULL;

        if (!to)
            return 0;
        c->asking = rd.kind == SLT_CLUSTER_ASK;
        c->node = to;
        rcmd_go(st, c);
        return 1;
    }
    if (slt__store_cluster_wait_error(st, reply)) {
        c->asking = 0;
        rcmd_park(st, c);
        return 1;
    }
    return 0;
}

static void on_series_reply(struct slt_store_req *rq, const redisReply *reply)
{
    size_t i, n = 0;

    slt__store_series_free(rq);
    rq->series = slt_calloc(reply->elements ? reply->elements : 1, sizeof(*rq->series));
    if (!rq->series) {
        op_fail(rq->op, SLT_ENOMEM);
        return;
    }
    for (i = 0; i < reply->elements; i++) {
        const redisReply *e = reply->element[i];
        struct slt_store_series *s = &rq->series[n];

        if (e->type != REDIS_REPLY_STRING || e->len < 3 || e->str[1] != ':' ||
            (e->str[0] != 's' && e->str[0] != 'i') || e->len - 2 >= SLT_STORE_MAX_NAME ||
            memchr(e->str + 2, '\0', e->len - 2))
            continue;
        s->name = slt_strndup(e->str + 2, e->len - 2);
        if (!s->name) {
            op_fail(rq->op, SLT_ENOMEM);
            break;
        }
        s->len = e->len - 2;
        s->kind = e->str[0] == 's' ? SLT_SERIES_SLI : SLT_SERIES_INPUT;
        n++;
    }
    rq->nseries = n;
}

static void on_read_reply(redisAsyncContext *ac, void *r, void *priv)
{
    struct rcmd *c = priv;
    struct slt_store_op *op = c->op;
    struct slt_store_req *rq = op->rq;
    redisReply *reply = r;
    size_t i;

    (void)ac;
    if (!reply) {
        /* a read is sent again elsewhere once the map says where; a compare-and-set is not
         * (it may have run: its caller sends the document, a duplicate beats a loss) */
        if (op->st->cluster && !op->st->freeing && rq && c->type != RC_CAS) {
            slt__store_want_refresh(op->st);
            c->asking = 0;
            rcmd_park(op->st, c);
            return;
        }
        op_fail(op, SLT_EREDIS);
    } else if (reply->type == REDIS_REPLY_ERROR) {
        if ((c->type == RC_CAS || c->type == RC_LEASE) && !c->retried &&
            strncmp(reply->str, "NOSCRIPT", 8) == 0) {
            c->retried = 1;
            c->asking = 0;
            rcmd_go(op->st, c);
            return;
        }
        if (rq && rcmd_cluster_error(op->st, c, reply))
            return;
        op_fail(op, SLT_EREDIS);
    } else if (rq) {
        switch (c->type) {
        case RC_SUMS:
            if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3) {
                op_fail(op, SLT_ECORRUPT);
                break;
            }
            for (i = 0; i < 3; i++) {
                int64_t v;

                if (parse_count(reply->element[i], &v) < 0)
                    op_fail(op, SLT_ECORRUPT);
                else
                    rq->sums[c->owner][i] = slt_add_i64_sat(rq->sums[c->owner][i], v);
            }
            break;
        case RC_MEMBER:
            if (reply->type == REDIS_REPLY_INTEGER)
                rq->member = reply->integer == 1;
            break;
        case RC_SERIES:
            if (reply->type == REDIS_REPLY_ARRAY)
                on_series_reply(rq, reply);
            break;
        case RC_CAS:
            if (reply->type == REDIS_REPLY_INTEGER && c->owner < rq->ncas)
                rq->cas[c->owner] = reply->integer ? 1 : 0;
            break;
        case RC_LEASE:
            if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 3 &&
                reply->element[0]->type == REDIS_REPLY_INTEGER &&
                reply->element[1]->type == REDIS_REPLY_INTEGER &&
                reply->element[0]->integer >= SLT_LEASE_HELD &&
                reply->element[0]->integer <= SLT_LEASE_STALE) {
                redisReply *h = reply->element[2];

                rq->lease.answered = 1;
                rq->lease.result = (int)reply->element[0]->integer;
                rq->lease.epoch =
                    reply->element[1]->integer > 0 ? (uint64_t)reply->element[1]->integer : 0;
                snprintf(rq->lease.holder, sizeof(rq->lease.holder), "%.*s",
                         h->type == REDIS_REPLY_STRING ? (int)h->len : 0,
                         h->type == REDIS_REPLY_STRING ? h->str : "");
            } else {
                op_fail(op, SLT_ECORRUPT);
            }
            break;
        }
    }
    op_reply_done(op);
}

/* The node a read goes to: the one an ASK named, or the owner of its key. */
static struct node *rcmd_node(struct slt_store *st, const struct rcmd *c)
{
    const char *p = c->op->buf.p + c->off;

    if (c->asking)
        return c->node;
    if (c->type == RC_SUMS)
        return slt__store_node_for_key(st, p, c->len);
    if (c->type == RC_CAS || c->type == RC_LEASE)
        return slt__store_node_for_key(st, p, strlen(p));
    return slt__store_node_for_key(st, slt__store_key_series, slt__store_key_series_len);
}

/* Sends one command of a read to the node owning its key. */
static int rcmd_send(struct slt_store *st, struct rcmd *c, int eval)
{
    const char *p = c->op->buf.p + c->off;
    struct node *n = rcmd_node(st, c);

    if (!n || !slt_rconn_up(&n->query))
        return SLT_EREDIS;
    if (c->asking) {
        const char *asking[1] = {"ASKING"};
        size_t alen[1] = {6};

        if (slt_rconn_command(&n->query, NULL, NULL, 1, asking, alen) < 0)
            return SLT_EREDIS;
    }
    if (c->type == RC_SUMS) {
        /* HMGET in RESP, formatted here: hiredis' printf-based formatter costs more than
         * everything else a counts query does in the aggregator */
        static const char head[] = "*5\r\n$5\r\nHMGET\r\n$", sep[] = "\r\n$1\r\n";
        char cmd[SLT_STORE_MAX_NAME + 160], *q = cmd;
        size_t i;

        if (c->len > SLT_STORE_MAX_NAME + 64)
            return SLT_ELIMIT;
        memcpy(q, head, sizeof(head) - 1);
        q += sizeof(head) - 1;
        q += slt_fmt_u64(q, c->len);
        memcpy(q, "\r\n", 2);
        q += 2;
        memcpy(q, p, c->len);
        q += c->len;
        for (i = 0; i < 3; i++) {
            memcpy(q, sep, sizeof(sep) - 1);
            q += sizeof(sep) - 1;
            *q++ = sums_fields[c->kind == SLT_SERIES_SLI ? 0 : 1][i][0];
        }
        memcpy(q, "\r\n", 2);
        q += 2;
        return slt_rconn_formatted(&n->query, on_read_reply, c, cmd, (size_t)(q - cmd));
    }
    if (c->type == RC_MEMBER) {
        const char *argv[3] = {"SISMEMBER", slt__store_key_series, p};
        size_t lens[3] = {9, slt__store_key_series_len, c->len};

        return slt_rconn_command(&n->query, on_read_reply, c, 3, argv, lens);
    }
    if (c->type == RC_SERIES) {
        const char *argv[2] = {"SMEMBERS", slt__store_key_series};
        size_t lens[2] = {8, slt__store_key_series_len};

        return slt_rconn_command(&n->query, on_read_reply, c, 2, argv, lens);
    }
    if (c->type == RC_LEASE) {
        /* two keys, op, value, epoch, ttl separated by NULs */
        const char *argv[9] = {eval ? "EVAL" : "EVALSHA",
                               eval ? slt_store_lease_script : st->lease_sha, "2"};
        size_t lens[9], k;
        const char *s = p;

        for (k = 3; k < 9; k++) {
            argv[k] = s;
            s += strlen(s) + 1;
        }
        for (k = 0; k < 9; k++)
            lens[k] = strlen(argv[k]);
        return slt_rconn_command(&n->query, on_read_reply, c, 9, argv, lens);
    }
    {
        /* RC_CAS: key, state, ttl, mode separated by NULs */
        const char *argv[7] = {eval ? "EVAL" : "EVALSHA", eval ? slt_store_cas_script : st->cas_sha,
                               "1"};
        size_t lens[7], k;
        const char *s = p;

        for (k = 3; k < 7; k++) {
            argv[k] = s;
            s += strlen(s) + 1;
        }
        for (k = 0; k < 7; k++)
            lens[k] = strlen(argv[k]);
        return slt_rconn_command(&n->query, on_read_reply, c, 7, argv, lens);
    }
}

int slt_store_req_send(struct slt_store *st, struct slt_store_req *rq, int64_t timeout_ms)
{
    struct slt_store_op *op;
    size_t i;

    if (!rq->done)
        SLT_BUG("a store request without done()");
    if (!query_ready(st))
        return SLT_EREDIS;
    op = slt__store_req_op(rq);
    if (!op)
        return SLT_ENOMEM;
    if (op->ncas) {
        slt_free(rq->cas);
        rq->cas = slt_malloc(op->ncas * sizeof(*rq->cas));
        if (!rq->cas)
            return SLT_ENOMEM;
        for (i = 0; i < op->ncas; i++)
            rq->cas[i] = -1;
        rq->ncas = op->ncas;
    }
    rq->status = 0;
    memset(&rq->lease, 0, sizeof(rq->lease));
    op->rq = rq;
    op->st = st;
    op->sent = 1;
    op->deadline_ns =
        uv_hrtime() + (uint64_t)(timeout_ms > 0 ? timeout_ms : st->timeout_ms) * 1000000u;
    /* linked first: a command that fails to go out is counted as one that failed */
    op->prev = st->ops_tail;
    if (st->ops_tail)
        st->ops_tail->next = op;
    else
        st->ops_head = op;
    st->ops_tail = op;
    st->nops++;
    /* one pending for the sending itself, so no reply can finish the op before we are done */
    op->pending = 1;
    for (i = 0; i < op->ncmds; i++) {
        op->cmds[i].op = op;
        op->pending++;
        rcmd_go(st, &op->cmds[i]); /* sent, parked for the tick, or failed (pending again) */
    }
    if (op->pending == 1 && op->status) {
        /* nothing went out: tell the caller now, done never runs */
        int rc = op->status;

        op_unlink(st, op);
        op->sent = 0;
        op->rq = NULL;
        op->status = 0;
        op->ncmds = 0; /* what was queued is gone; rq may be reset and used again */
        return rc;
    }
    if (op->pending == 1) {
        /* nothing to ask: answered on this loop iteration, never inside this call */
        op->deadline_ns = 0;
        st->ops_due = 1;
        slt__store_arm_flush(st);
    } else {
        op->pending--;
    }
    return 0;
}

void slt_store_req_cancel(struct slt_store_req *rq)
{
    struct slt_store_op *op = rq->op;

    if (!op || !op->sent)
        return;
    op->rq = NULL;
    rq->op = NULL;
}

/* Answers the reads with nothing to ask. */
void slt__store_answer_due(struct slt_store *st)
{
    struct slt_store_op *op, *next;

    if (!st->ops_due)
        return;
    st->ops_due = 0;
    for (op = st->ops_head; op; op = next) {
        next = op->next;
        if (op->deadline_ns == 0 && op->pending == 1)
            op_reply_done(op);
    }
}

/* Answers the reads past their deadline (their late replies are ignored). */
void slt__store_check_deadlines(struct slt_store *st)
{
    uint64_t now = uv_hrtime();
    struct slt_store_op *op, *next;

    slt__store_answer_due(st);
    for (op = st->ops_head; op; op = next) {
        next = op->next;
        if (!op->rq || op->deadline_ns == 0 || now < op->deadline_ns)
            continue;
        st->q_deadlines++;
        op_answer(op, SLT_ETIMEDOUT);
    }
}

/* At free: the connections are closed (every reply came back as NULL); answer what is left. */
void slt__store_abort_ops(struct slt_store *st)
{
    struct slt_store_op *op, *next;

    for (op = st->ops_head; op; op = next) {
        next = op->next;
        if (op->deadline_ns == 0 && op->pending == 1)
            op_reply_done(op);
        else
            op_answer(op, SLT_EREDIS);
    }
}
