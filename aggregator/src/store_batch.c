/*
 * Entries on their way to Redis: grouped by series in one loop iteration (group commit), sent
 * as EVALSHA calls of up to MAX_ENTRIES_PER_CALL entries, parked while a node or slot is not
 * ready, followed through MOVED/ASK, and failed with RETRY (slt_store_reset, a lost connection).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

static void call_fail(struct call *c);
static void call_free(struct call *c);

void slt_store_reset(struct slt_store *st, struct slt_apply *ap, const char *reason)
{
    struct node *drop[MAX_NODES + 1];
    struct call *mine = NULL, **pc, *c;
    size_t i, j, ndrop = 0;

    /* the nodes ap waits on, and its parked calls (ap may be reused once one of them ends) */
    for (i = 0; ap && i <= ap->nparts; i++) {
        struct node *n = i < ap->nparts ? ap->parts[i].node : ap->reg_node;

        for (j = 0; n && j < ndrop && drop[j] != n; j++)
            ;
        if (n && j == ndrop)
            drop[ndrop++] = n;
    }
    for (pc = &st->parked_calls; ap && (c = *pc) != NULL;) {
        for (i = 0; i < c->n && c->ents[i]->ap != ap; i++)
            ;
        if (i < c->n) {
            *pc = c->park_next;
            c->park_next = mine;
            mine = c;
        } else {
            pc = &c->park_next;
        }
    }
    if (!ap || (ndrop == 0 && !mine)) {
        /* nothing known to wait on: drop every ingest connection, so done surely runs */
        for (i = 0; i < st->nnodes; i++)
            slt_rconn_drop(&st->nodes[i]->ingest, reason);
        slt__store_park_drop_calls(st);
        return;
    }
    for (; mine; mine = c) {
        c = mine->park_next;
        call_fail(mine);
        call_free(mine);
    }
    for (i = 0; i < ndrop; i++)
        slt_rconn_drop(&drop[i]->ingest, reason);
}

size_t slt__store_fmt_i64(char *buf, int64_t v)
{
    if (v < 0) {
        buf[0] = '-';
        return 1 + slt_fmt_u64(buf + 1, (uint64_t)0 - (uint64_t)v);
    }
    return slt_fmt_u64(buf, (uint64_t)v);
}

int slt__store_call_arg(struct call *c, const char *p, size_t n)
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

int slt__store_call_u64(struct call *c, uint64_t v)
{
    char b[24];
    return slt__store_call_arg(c, b, slt_fmt_u64(b, v));
}

int slt__store_call_i64(struct call *c, int64_t v)
{
    char b[24];
    return slt__store_call_arg(c, b, slt__store_fmt_i64(b, v));
}

static void call_free(struct call *c)
{
    slt_buf_release(&c->args);
    slt_free(c->off);
    slt_free(c->len);
    slt_free(c->ents);
    slt_free((char *)c->name);
    slt_free(c);
}

static void call_fail(struct call *c)
{
    size_t i;

    for (i = 0; i < c->n; i++)
        slt__store_entry_done(c->ents[i], SLT_ACK_RETRY, 0);
}

static int call_send(struct slt_store *st, struct call *c, int eval);

/* Parks a call: it is sent again from the tick (a node coming up, a slot that settles). */
static void call_park(struct slt_store *st, struct call *c)
{
    for (size_t i = 0; i < c->n; i++)
        c->ents[i]->node = NULL;
    if (++c->parked > PARK_TICKS_MAX || st->freeing) {
        st->stats->redis_errors++;
        call_fail(c);
        call_free(c);
        return;
    }
    c->park_next = st->parked_calls;
    st->parked_calls = c;
}

/* Sends c to its node, or parks it when the node is not up (yet). */
static void call_go(struct slt_store *st, struct call *c)
{
    int rc;

    if (!c->node)
        c->node = slt__store_node_for_series(st, c->kind, c->name, c->name_len);
    rc = c->node ? call_send(st, c, c->retried) : SLT_EREDIS;
    if (rc == 0) {
        for (size_t i = 0; i < c->n; i++)
            c->ents[i]->node = c->node;
        return;
    }
    if (rc == SLT_EREDIS && st->cluster) {
        if (!c->node)
            slt__store_want_refresh(st);
        call_park(st, c);
        return;
    }
    st->stats->redis_errors++;
    call_fail(c);
    call_free(c);
}

void slt__store_park_retry_calls(struct slt_store *st)
{
    struct call *c = st->parked_calls, *next;

    st->parked_calls = NULL;
    for (; c; c = next) {
        next = c->park_next;
        c->park_next = NULL;
        if (!c->asking)
            c->node = NULL; /* route again: the map may have changed */
        call_go(st, c);
    }
}

/* The store was reset or freed: parked calls end with RETRY. */
void slt__store_park_drop_calls(struct slt_store *st)
{
    struct call *c = st->parked_calls, *next;

    st->parked_calls = NULL;
    for (; c; c = next) {
        next = c->park_next;
        call_fail(c);
        call_free(c);
    }
}

/*
 * An error reply that can be waited out or followed in a cluster: MOVED and ASK (sent on to
 * the node named), TRYAGAIN (a slot being migrated: sent again on the next tick),
 * CLUSTERDOWN and LOADING (parked until the cluster is whole again). 1 when it took c.
 */
static int call_cluster_error(struct slt_store *st, struct call *c, const redisReply *reply)
{
    struct slt_cluster_redirect rd;

    if (!st->cluster)
        return 0;
    if (slt_cluster_parse_redirect(reply->str, reply->len, &rd) == 0) {
        struct node *to =
            ++c->redirects <= REDIRECTS_MAX ? slt__store_follow_redirect(st, c->node, &rd) : NULL;

        if (!to)
            return 0;
        c->node = to;
        c->asking = rd.kind == SLT_CLUSTER_ASK;
        call_go(st, c);
        return 1;
    }
    if (slt__store_cluster_wait_error(st, reply)) {
        c->asking = 0;
        call_park(st, c);
        return 1;
    }
    return 0;
}

static void on_call_reply(redisAsyncContext *ac, void *r, void *priv)
{
    struct call *c = priv;
    struct slt_store *st = c->st;
    redisReply *reply = r;
    size_t i;

    if (!reply) {
        /* the connection went away: whether the script ran is unknown, and an agent's resend
         * is answered DUPLICATE if it did (the marks travel with the counts) */
        if (st->cluster && !st->freeing)
            slt__store_want_refresh(st);
        call_fail(c);
    } else if (reply->type == REDIS_REPLY_ERROR) {
        if (!c->retried && strncmp(reply->str, "NOSCRIPT", 8) == 0 && c->node->ingest.ac == ac) {
            /* script cache flushed: send the body once with EVAL, which caches it again */
            c->retried = 1;
            c->asking = 0;
            call_go(st, c);
            return;
        }
        if (call_cluster_error(st, c, reply))
            return;
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
                slt__store_entry_done(c->ents[i], SLT_ACK_APPLIED, 0);
                break;
            case 1:
                slt__store_entry_done(c->ents[i], SLT_ACK_DUPLICATE, 0);
                break;
            case 2:
                slt__store_entry_done(c->ents[i], SLT_ACK_GAP, n > 0 ? (uint64_t)n : 1);
                break;
            case 3:
                slt__store_entry_done(c->ents[i], SLT_ACK_REJECTED, n > 0 ? (uint64_t)n : 1);
                break;
            case 4:
                /* a counter would pass its limit: nothing of this entry was written */
                st->stats->batches_invalid[SLT_INVALID_COUNTER_LIMIT]++;
                if (c->ents[i]->ap->reason != SLT_REJECT_STALE_EPOCH)
                    c->ents[i]->ap->reason = SLT_REJECT_INVALID;
                slt__store_entry_done(c->ents[i], SLT_ACK_REJECTED, 0);
                break;
            default:
                st->stats->redis_errors++;
                slt__store_entry_done(c->ents[i], SLT_ACK_RETRY, 0);
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

    if (!slt_rconn_up(&c->node->ingest))
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
    if (c->asking) {
        /* ASK: this command only, on the node importing the slot, right after ASKING */
        const char *asking[1] = {"ASKING"};
        size_t alen[1] = {6};

        if (slt_rconn_command(&c->node->ingest, NULL, NULL, 1, asking, alen) < 0)
            return SLT_EREDIS;
    }
    st->argv[0] = eval ? "EVAL" : "EVALSHA";
    st->argvlen[0] = strlen(st->argv[0]);
    st->argv[1] = eval ? slt_store_apply_script : st->apply_sha;
    st->argvlen[1] = strlen(st->argv[1]);
    for (i = 0; i < c->nargs; i++) {
        st->argv[2 + i] = c->args.p + c->off[i];
        st->argvlen[2 + i] = c->len[i];
    }
    return slt_rconn_command(&c->node->ingest, on_call_reply, c, (int)argc, st->argv, st->argvlen);
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
                slt__store_entry_done(e, SLT_ACK_RETRY, 0);
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
        c->name = slt_strndup(g->name, g->name_len);
        c->name_len = g->name_len;
        if (!c->name || slt__store_call_build(c, g) < 0) {
            st->stats->redis_errors++;
            call_fail(c);
            call_free(c);
            continue;
        }
        call_go(st, c);
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

void slt__store_fail_queued(struct slt_store *st)
{
    struct group *g = take_queued(st), *next;
    struct slt_apply_part *e;

    for (; g; g = next) {
        next = g->anext;
        while ((e = g->head) != NULL) {
            g->head = e->next;
            slt__store_entry_done(e, SLT_ACK_RETRY, 0);
        }
        slt_free(g);
    }
}

static void on_check(uv_check_t *h)
{
    struct slt_store *st = h->data;
    struct group *g = take_queued(st), *next;

    slt__store_answer_due(st);
    for (; g; g = next) {
        next = g->anext;
        if (!st->freeing) {
            flush_group(st, g);
        } else {
            struct slt_apply_part *e;
            while ((e = g->head) != NULL) {
                g->head = e->next;
                slt__store_entry_done(e, SLT_ACK_RETRY, 0);
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

void slt__store_arm_flush(struct slt_store *st)
{
    if (!st->flush_armed) {
        uv_check_start(&st->check, on_check);
        uv_idle_start(&st->idle, on_idle);
        st->flush_armed = 1;
    }
}

int slt__store_enqueue(struct slt_store *st, struct slt_apply_part *e)
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
    slt__store_arm_flush(st);
    return 0;
}
