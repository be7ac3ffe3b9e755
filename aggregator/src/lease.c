/*
 * One live session per agent id, across every aggregator sharing the store (docs/REDIS.md,
 * "Sessions"; docs/PROTOCOL.md). See lease.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lease.h"

#define LEASE_TTL_MS 30000
#define LEASE_RENEW_MS 10000
#define LEASE_TIMEOUT_MS 0 /* the store's own (aggregator.redis_timeout) */

enum lease_state {
    L_NONE = 0, /* not checked for the current epoch */
    L_ASKING,   /* an ACQUIRE is in flight */
    L_OK,       /* checked (and held, with an instance) for epoch */
};

struct slt_lease {
    struct slt_store *store;
    uv_timer_t timer; /* renewals while held */
    struct slt_store_req rq;
    int asking;   /* rq is in flight */
    int renewing; /* ... and it is a RENEW */
    int held;     /* the lease key is ours */
    int closing;
    slt_closed_cb on_closed;
    void *closed_data;
    enum lease_state state;
    uint64_t epoch; /* the epoch checked */
    slt_lease_cb cb;
    void *data;
    char *agent;
    char *value; /* "<instance>\n<description>" */
};

static void on_timer_closed(uv_handle_t *h)
{
    struct slt_lease *l = h->data;
    slt_closed_cb cb = l->on_closed;
    void *data = l->closed_data;

    slt_store_req_release(&l->rq);
    slt_free(l->agent);
    slt_free(l->value);
    slt_free(l);
    if (cb)
        cb(data);
}

int slt_lease_new(uv_loop_t *loop, struct slt_store *store, const char *agent,
                  struct slt_str instance, const char *desc, slt_lease_cb cb, void *data,
                  struct slt_lease **out)
{
    struct slt_lease *l = slt_calloc(1, sizeof(*l));
    size_t dn = strlen(desc);

    if (!l)
        return SLT_ENOMEM;
    l->store = store;
    l->cb = cb;
    l->data = data;
    l->agent = slt_strdup(agent);
    l->value = slt_malloc(instance.len + 1 + dn + 1);
    if (!l->agent || !l->value) {
        slt_free(l->agent);
        slt_free(l->value);
        slt_free(l);
        return SLT_ENOMEM;
    }
    if (instance.len)
        memcpy(l->value, instance.p, instance.len);
    l->value[instance.len] = '\n';
    memcpy(l->value + instance.len + 1, desc, dn + 1);
    slt_store_req_init(&l->rq);
    uv_timer_init(loop, &l->timer);
    l->timer.data = l;
    *out = l;
    return 0;
}

static int send_op(struct slt_lease *l, int op, uint64_t epoch)
{
    int rc;

    slt_store_req_reset(&l->rq);
    l->rq.data = l;
    rc = slt_store_req_lease(&l->rq, op, l->agent, l->value, epoch, LEASE_TTL_MS);
    if (rc == 0)
        rc = slt_store_req_send(l->store, &l->rq, LEASE_TIMEOUT_MS);
    if (rc == 0)
        l->asking = 1;
    return rc;
}

static void on_renew_timer(uv_timer_t *t);

static void on_answer(struct slt_store_req *rq)
{
    struct slt_lease *l = rq->data;
    const struct slt_store_lease_answer *a = &rq->lease;
    int renewing = l->renewing;

    l->asking = 0;
    l->renewing = 0;
    if (renewing) {
        /* no answer: try again at the next renewal (the lease may lapse meanwhile; a renewal
           takes it again when it is free) */
        if (rq->status == 0 && a->answered && a->result == SLT_LEASE_OTHER) {
            size_t n = (size_t)(strchr(l->value, '\n') - l->value);
            int same = strncmp(a->holder, l->value, n) == 0 && a->holder[n] == '\n';

            l->held = 0;
            uv_timer_stop(&l->timer);
            l->cb(l->data, same ? SLT_LEASE_TAKEN_OVER : SLT_LEASE_OTHER, 0, a->holder);
        }
        return;
    }
    if (rq->status != 0 || !a->answered) {
        l->state = L_NONE;
        l->cb(l->data, -1, 0, "");
        return;
    }
    if (a->result == SLT_LEASE_HELD) {
        l->state = L_OK;
        /* an agent without an instance takes no lease: nothing to renew */
        if (l->value[0] != '\n') {
            l->held = 1;
            uv_timer_start(&l->timer, on_renew_timer, LEASE_RENEW_MS, LEASE_RENEW_MS);
        }
    } else {
        l->state = L_NONE;
    }
    l->cb(l->data, a->result, a->epoch, a->holder);
}

static void on_renew_timer(uv_timer_t *t)
{
    struct slt_lease *l = t->data;

    if (l->asking || !l->held)
        return;
    l->rq.done = on_answer;
    l->renewing = 1;
    if (send_op(l, SLT_LEASE_RENEW, 0) < 0)
        l->renewing = 0;
}

int slt_lease_check(struct slt_lease *l, uint64_t epoch)
{
    int rc;

    if (l->state == L_OK && l->epoch == epoch)
        return 1;
    if (l->state == L_ASKING)
        return 0;
    if (l->asking) {
        /* a renewal is in flight: its answer is not for this epoch; forget it */
        slt_store_req_cancel(&l->rq);
        l->asking = l->renewing = 0;
    }
    l->rq.done = on_answer;
    if ((rc = send_op(l, SLT_LEASE_ACQUIRE, epoch)) < 0)
        return rc;
    l->state = L_ASKING;
    l->epoch = epoch;
    return 0;
}

static void on_released(struct slt_store_req *rq)
{
    slt_store_req_release(rq);
    slt_free(rq);
}

void slt_lease_close(struct slt_lease *l, slt_closed_cb on_closed, void *data)
{
    struct slt_store_req *rq;

    if (!l) {
        if (on_closed)
            on_closed(data);
        return;
    }
    if (l->closing)
        return;
    l->closing = 1;
    l->on_closed = on_closed;
    l->closed_data = data;
    if (l->asking)
        slt_store_req_cancel(&l->rq);
    uv_timer_stop(&l->timer);
    if (l->held && (rq = slt_malloc(sizeof(*rq))) != NULL) {
        /* fire and forget: it frees itself (a lease not released lapses after its ttl) */
        slt_store_req_init(rq);
        rq->done = on_released;
        if (slt_store_req_lease(rq, SLT_LEASE_RELEASE, l->agent, l->value, 0, LEASE_TTL_MS) < 0 ||
            slt_store_req_send(l->store, rq, LEASE_TIMEOUT_MS) < 0) {
            slt_store_req_release(rq);
            slt_free(rq);
        }
    }
    uv_close((uv_handle_t *)&l->timer, on_timer_closed);
}
