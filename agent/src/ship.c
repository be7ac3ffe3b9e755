/*
 * Shipping spooled batches to the aggregator (docs/PROTOCOL.md, docs/AGENT.md).
 *
 * One TCP connection at a time. Addresses are tried in order; after the last one fails the
 * next round starts after a capped exponential backoff with jitter. A session is HELLO (with
 * the token) -> WELCOME, then up to SLT_SHIP_WINDOW batches in flight, read back from the
 * spool byte for byte, oldest unacknowledged first. Every (re)connection resends from the oldest
 * unacknowledged batch; the aggregator answers DUPLICATE for what it already has.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

#include "ship.h"
#include "slt/config.h"
#include "slt/conn.h"
#include "slt/proto.h"
#include "slt/tls.h"
#include "spool.h"

#define CONNECT_TIMEOUT_MS 5000
#define ACK_TIMEOUT_MS 30000
#define WATCHDOG_MS 2000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 10000
#define HOLD_MIN_MS 200
#define HOLD_MAX_MS 5000
#define SHIP_QUEUE_MAX (256u * 1024)    /* unwritten frame bytes in memory per connection */
#define LUA_INT_MAX ((uint64_t)1 << 53) /* epochs at or over it are refused by aggregators */

/* A frame being written: the connection holds it until its write callback. */
struct wreq {
    size_t len;
    char data[];
};

struct gai {
    uv_getaddrinfo_t req;
    struct slt_ship *s;
    uint64_t gen;
};

struct inflight {
    uint64_t epoch, seq, rgen;
};

struct slt_ship {
    struct slt_ship_hooks h;
    struct slt_ship_counters n;
    struct slt_tls *tls; /* agent.tls; NULL: plain TCP */
    char host[256];      /* of the address being tried: the default TLS server name */
    char *alloc_at;      /* where the last read went (to recognise a TLS answer) */
    int got_bytes;       /* on this connection */
    enum slt_conn_state state;
    struct slt_conn *c; /* the current connection; data points back to us */
    uv_timer_t timer;   /* connect/hello timeout, backoff, ack watchdog */
    uv_timer_t hold;    /* RETRY: wait before resending */
    struct slt_frame_reader fr;
    struct slt_proto_limits limits;
    size_t addr_idx;
    int64_t backoff_ms, hold_ms;
    uint64_t gen;
    char addr[300];
    char last_err[256];
    uint64_t cur_epoch, cur_seq; /* next batch to send is the first unacked one >= this */
    struct inflight ring[SLT_SHIP_WINDOW];
    size_t ifh, ifn;
    uint64_t rgen; /* bumped on every rewind; answers to older sends do not rewind again */
    int holding;
    int64_t last_ack_ms;
    int closing, refs;
    slt_closed_cb on_closed; /* after slt_ship_close, once refs is 0 */
    void *closed_data;
    struct slt_buf wbuf;
};

static void connect_next(struct slt_ship *s);
static void pump(struct slt_ship *s);

static int64_t now_ms(void)
{
    return (int64_t)(slt_mono_ns() / 1000000);
}

static void maybe_free(struct slt_ship *s)
{
    slt_closed_cb cb;
    void *data;

    if (!s->closing || s->refs > 0)
        return;
    cb = s->on_closed;
    data = s->closed_data;
    slt_tls_free(s->tls);
    slt_frame_reader_release(&s->fr);
    slt_buf_release(&s->wbuf);
    slt_free(s);
    if (cb)
        cb(data);
}

static void on_conn_closed(struct slt_conn *c)
{
    struct slt_ship *s = slt_conn_data(c);

    s->refs--;
    maybe_free(s);
}

static void drop_conn(struct slt_ship *s)
{
    if (s->c) {
        slt_conn_close(s->c, on_conn_closed);
        s->c = NULL;
    }
    s->ifn = s->ifh = 0;
    s->holding = 0;
    uv_timer_stop(&s->hold);
    slt_frame_reader_release(&s->fr);
    slt_frame_reader_init(&s->fr, s->h.max_frame);
}

static void on_timer(uv_timer_t *t);

/* The connection failed: try the next address, or back off after the last. */
static void fail(struct slt_ship *s, const char *why, int err)
{
    char msg[256];
    int was_up = s->state == SLT_CONN_UP;
    int64_t delay;

    snprintf(msg, sizeof(msg), "%s%s%s", why, err ? ": " : "", err ? slt_strerror(err) : "");
    /* one line per event: a repeated failure of the same kind is logged at debug */
    if (was_up || strcmp(msg, s->last_err) != 0)
        slt_log(SLT_LOG_WARN, "ship", "aggregator %s: %s", s->addr, msg);
    else
        slt_log(SLT_LOG_DEBUG, "ship", "aggregator %s: %s", s->addr, msg);
    snprintf(s->last_err, sizeof(s->last_err), "%s", msg);
    s->n.failures++;
    drop_conn(s);
    s->state = SLT_CONN_DOWN;
    s->gen++;
    if (s->closing)
        return;
    if (++s->addr_idx < s->h.conf(s->h.data)->naggregators) {
        delay = 0;
    } else {
        s->addr_idx = 0;
        /* full jitter over the upper half: between backoff/2 and backoff */
        delay = s->backoff_ms / 2 + (int64_t)(random() % (s->backoff_ms / 2 + 1));
        s->backoff_ms *= 2;
        if (s->backoff_ms > BACKOFF_MAX_MS)
            s->backoff_ms = BACKOFF_MAX_MS;
    }
    uv_timer_start(&s->timer, on_timer, (uint64_t)delay, 0);
}

static void on_timer(uv_timer_t *t)
{
    struct slt_ship *s = t->data;

    switch (s->state) {
    case SLT_CONN_DOWN:
        connect_next(s);
        break;
    case SLT_CONN_CONNECTING:
        fail(s, "connect timed out", 0);
        break;
    case SLT_CONN_HELLO:
        fail(s, "no WELCOME in time", 0);
        break;
    case SLT_CONN_UP:
        if (s->ifn > 0 && now_ms() - s->last_ack_ms > ACK_TIMEOUT_MS)
            fail(s, "no acknowledgement for 30 s", 0);
        break;
    }
}

static void on_write(struct slt_conn *c, int status, void *arg)
{
    struct slt_ship *s = slt_conn_data(c);

    slt_free(arg);
    if (status >= 0 && s->c == c) {
        pump(s); /* room for more frames */
        return;
    }
    if (status < 0 && s->c == c)
        fail(s, status == SLT_EPROTO ? slt_conn_error(c) : "write failed",
             status == SLT_EPROTO ? 0 : status);
}

static int write_frame(struct slt_ship *s, const char *p, size_t len)
{
    struct wreq *w;
    int rc;

    w = slt_malloc(sizeof(*w) + len);
    if (!w)
        return SLT_ENOMEM;
    w->len = len;
    memcpy(w->data, p, len);
    rc = slt_conn_write(s->c, w->data, len, on_write, w);
    if (rc < 0) {
        slt_free(w);
        return rc;
    }
    return 0;
}

/* Index of the first live record >= (epoch, seq). */
static size_t lower_bound(struct slt_spool *sp, uint64_t epoch, uint64_t seq)
{
    size_t lo = 0, hi = slt_spool_count(sp);

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct slt_spool_rec *r = slt_spool_at(sp, mid);

        if (r->epoch < epoch || (r->epoch == epoch && r->seq < seq))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void pump(struct slt_ship *s)
{
    struct slt_spool *sp = s->h.spool;
    uint64_t epoch = s->h.epoch(s->h.data);
    size_t i, n;
    int rc;

    if (s->state != SLT_CONN_UP || s->holding || s->closing)
        return;
    n = slt_spool_count(sp);
    i = lower_bound(sp, s->cur_epoch, s->cur_seq);
    /* a peer that stops reading holds at most SHIP_QUEUE_MAX (+ one frame) here: the rest of
       the window waits in the spool, on disk */
    while (s->ifn < SLT_SHIP_WINDOW && i < n && slt_conn_write_queued(s->c) < SHIP_QUEUE_MAX) {
        struct slt_spool_rec *r = slt_spool_at(sp, i);
        struct inflight *f;

        if (r->acked || r->epoch != epoch) {
            i++;
            continue;
        }
        s->wbuf.len = 0;
        if ((rc = slt_spool_read_frame(sp, i, &s->wbuf)) < 0) {
            slt_log(SLT_LOG_ERROR, "ship", "cannot read spooled batch %" PRIu64 ": %s", r->seq,
                    slt_strerror(rc));
            fail(s, "spool read failed", rc);
            return;
        }
        if ((rc = write_frame(s, s->wbuf.p, s->wbuf.len)) < 0) {
            fail(s, "write failed", rc);
            return;
        }
        if (s->ifn == 0)
            s->last_ack_ms = now_ms();
        f = &s->ring[(s->ifh + s->ifn) % SLT_SHIP_WINDOW];
        f->epoch = r->epoch;
        f->seq = r->seq;
        f->rgen = s->rgen;
        s->ifn++;
        s->cur_epoch = r->epoch;
        s->cur_seq = r->seq + 1;
        i++;
    }
}

static void rewind_to(struct slt_ship *s, uint64_t epoch, uint64_t seq)
{
    if (epoch < s->cur_epoch || (epoch == s->cur_epoch && seq < s->cur_seq)) {
        s->cur_epoch = epoch;
        s->cur_seq = seq;
    }
    s->rgen++;
}

static void on_hold(uv_timer_t *t)
{
    struct slt_ship *s = t->data;

    s->holding = 0;
    pump(s);
}

static void handle_ack(struct slt_ship *s, const struct slt_msg_ack *ack)
{
    struct slt_spool *sp = s->h.spool;
    uint64_t epoch = s->h.epoch(s->h.data);
    struct inflight f;
    uint64_t from;
    long idx;
    size_t k, n;

    if (s->ifn == 0 || s->ring[s->ifh].epoch != ack->epoch || s->ring[s->ifh].seq != ack->seq) {
        fail(s, "acknowledgement out of order", SLT_EPROTO);
        return;
    }
    f = s->ring[s->ifh];
    s->ifh = (s->ifh + 1) % SLT_SHIP_WINDOW;
    s->ifn--;
    s->last_ack_ms = now_ms();
    idx = slt_spool_find(sp, ack->epoch, ack->seq);
    switch (ack->status) {
    case SLT_ACK_APPLIED:
    case SLT_ACK_DUPLICATE:
        if (ack->status == SLT_ACK_APPLIED)
            s->n.acked++;
        else
            s->n.duplicates++;
        if (idx >= 0)
            slt_spool_set_acked(sp, (size_t)idx, 1);
        if (ack->epoch == epoch)
            s->h.acked(s->h.data, ack->epoch, ack->seq);
        s->hold_ms = HOLD_MIN_MS;
        break;
    case SLT_ACK_REJECTED:
        s->n.rejected++;
        if (ack->reason == SLT_REJECT_STALE_EPOCH && ack->epoch == epoch) {
            if (ack->mark + 1 < LUA_INT_MAX) {
                /* nothing of the rejected batch was stored: move above the stored epoch
                 * and send again everything not acknowledged */
                char why[160];

                s->n.stale_epochs++;
                snprintf(why, sizeof(why),
                         "the aggregator holds epoch %" PRIu64 " for agent id '%s' (state lost, "
                         "clock set back, or another host with this id)",
                         ack->mark, s->h.agent_id);
                s->h.new_epoch(s->h.data, ack->mark, 1, why);
                slt_ship_reconnect(s);
                return;
            }
            slt_log(SLT_LOG_ERROR, "ship",
                    "the aggregator holds epoch %" PRIu64 " for agent id '%s', the largest "
                    "there is: remove it (docs/REDIS.md, 'What grows') or use another agent.id",
                    ack->mark, s->h.agent_id);
        }
        s->n.given_up++;
        slt_log(SLT_LOG_ERROR, "ship",
                "batch %" PRIu64 ":%" PRIu64 " rejected by the aggregator (%s); it is given up",
                ack->epoch, ack->seq,
                ack->reason == SLT_REJECT_STALE_EPOCH ? "stale epoch"
                : ack->reason == SLT_REJECT_INVALID   ? "content it cannot store"
                                                      : "no reason given");
        if (idx >= 0)
            slt_spool_set_acked(sp, (size_t)idx, 1);
        break;
    case SLT_ACK_RETRY:
        s->n.retries++;
        if (f.rgen != s->rgen)
            break;
        if (s->n.retries == 1 || s->hold_ms >= HOLD_MAX_MS)
            slt_log(SLT_LOG_WARN, "ship", "aggregator asks to retry batch %" PRIu64 " later",
                    ack->seq);
        rewind_to(s, ack->epoch, ack->seq);
        s->holding = 1;
        uv_timer_start(&s->hold, on_hold, (uint64_t)s->hold_ms, 0);
        s->hold_ms *= 2;
        if (s->hold_ms > HOLD_MAX_MS)
            s->hold_ms = HOLD_MAX_MS;
        break;
    case SLT_ACK_GAP:
        s->n.gaps++;
        if (f.rgen != s->rgen || ack->epoch != epoch)
            break;
        from = ack->resend_from;
        if (from > ack->seq || from == 0) {
            /* nonsense: resend the batch itself, which is certainly not applied */
            slt_log(SLT_LOG_WARN, "ship",
                    "GAP for batch %" PRIu64 " asks for %" PRIu64 "; resending from the batch",
                    ack->seq, from);
            from = ack->seq;
        }
        idx = slt_spool_find(sp, ack->epoch, from);
        if (idx < 0) {
            s->n.unrecoverable_gaps++;
            s->h.new_epoch(s->h.data, 0, 0,
                           "aggregator lost batches that are no longer spooled "
                           "(older than spool_retention)");
            slt_ship_reconnect(s);
            return;
        }
        slt_log(SLT_LOG_WARN, "ship",
                "aggregator asks to resend from batch %" PRIu64 " (it lost writes); resending",
                from);
        n = slt_spool_count(sp);
        for (k = (size_t)idx; k < n; k++)
            if (slt_spool_at(sp, k)->epoch == ack->epoch)
                slt_spool_set_acked(sp, k, 0);
        rewind_to(s, ack->epoch, from);
        break;
    default:
        fail(s, "unknown acknowledgement status", SLT_EPROTO);
        return;
    }
    s->h.after_ack(s->h.data);
    if (!s->closing)
        pump(s);
}

static void handle_msg(struct slt_ship *s, const struct slt_msg *m)
{
    switch (m->type) {
    case SLT_MSG_WELCOME:
        if (s->state != SLT_CONN_HELLO) {
            fail(s, "unexpected WELCOME", SLT_EPROTO);
            return;
        }
        s->state = SLT_CONN_UP;
        s->n.connects++;
        s->backoff_ms = BACKOFF_MIN_MS;
        s->hold_ms = HOLD_MIN_MS;
        s->last_err[0] = '\0';
        slt_log(SLT_LOG_INFO, "ship", "connected to aggregator %s (%" PRIu64 " to resend)", s->addr,
                s->h.spool->unacked);
        s->cur_epoch = s->cur_seq = 0;
        s->rgen++;
        uv_timer_start(&s->timer, on_timer, WATCHDOG_MS, WATCHDOG_MS);
        pump(s);
        return;
    case SLT_MSG_ACK:
        if (s->state != SLT_CONN_UP) {
            fail(s, "ACK before WELCOME", SLT_EPROTO);
            return;
        }
        handle_ack(s, &m->u.ack);
        return;
    case SLT_MSG_ERROR: {
        char msg[200];
        size_t n =
            m->u.error.message.len < sizeof(msg) - 1 ? m->u.error.message.len : sizeof(msg) - 1;

        memcpy(msg, m->u.error.message.p ? m->u.error.message.p : "", n);
        msg[n] = '\0';
        /* a bad token, or another live session with our agent id: do not hammer */
        s->backoff_ms = BACKOFF_MAX_MS;
        fail(s, msg[0] ? msg : "error from aggregator", 0);
        return;
    }
    default:
        fail(s, "unexpected message", SLT_EPROTO);
        return;
    }
}

static void on_alloc(struct slt_conn *c, size_t suggested, char **p, size_t *room)
{
    struct slt_ship *s = slt_conn_data(c);

    *p = NULL;
    *room = 0;
    if (s->c != c)
        return;
    if (slt_frame_reader_reserve(&s->fr, suggested, p, room) < 0) {
        *p = NULL;
        *room = 0;
    }
    s->alloc_at = *p;
}

static void on_read(struct slt_conn *c, long nread)
{
    struct slt_ship *s = slt_conn_data(c);
    const char *payload;
    size_t len;
    uint64_t gen;
    int r;

    if (s->c != c)
        return;
    if (nread == SLT_EPROTO)
        s->n.tls_failures++;
    if (nread < 0) {
        if (nread == SLT_EPROTO)
            fail(s, slt_conn_error(c), 0);
        else
            fail(s,
                 nread != UV_EOF ? "read failed"
                 : s->state == SLT_CONN_HELLO && !s->tls && !s->got_bytes
                     ? "connection closed by the aggregator before WELCOME (a TLS listener? "
                       "see agent.tls)"
                     : "connection closed by the aggregator",
                 nread == UV_EOF ? 0 : (int)nread);
        return;
    }
    if (!s->got_bytes && !s->tls && nread >= 2 && s->alloc_at &&
        (s->alloc_at[0] == 0x15 || s->alloc_at[0] == 0x16) && s->alloc_at[1] == 0x03) {
        /* a TLS record (an alert for our HELLO) where a frame should be */
        s->n.tls_failures++;
        fail(s, "the aggregator speaks TLS: set agent.tls", 0);
        return;
    }
    s->got_bytes = 1;
    slt_frame_reader_commit(&s->fr, (size_t)nread);
    gen = s->gen;
    while ((r = slt_frame_reader_next(&s->fr, &payload, &len)) == 1) {
        struct slt_msg m;
        char err[200];

        if (slt_msg_decode(payload, len, &s->limits, &m, err, sizeof(err)) < 0) {
            fail(s, "malformed frame from the aggregator", SLT_EPROTO);
            return;
        }
        handle_msg(s, &m);
        slt_msg_release(&m);
        /* the handler may have dropped the connection (and reset the reader) */
        if (s->closing || s->gen != gen || s->c != c)
            return;
        slt_frame_reader_consume(&s->fr);
    }
    if (r < 0)
        fail(s, "oversized frame from the aggregator", r);
}

static void on_connect(struct slt_conn *c, int status)
{
    struct slt_ship *s = slt_conn_data(c);
    const char *token;
    struct slt_msg m;
    int rc;

    if (s->c != c)
        return;
    if (status < 0) {
        if (status == SLT_EPROTO) {
            s->n.tls_failures++;
            fail(s, slt_conn_error(c), 0);
        } else {
            fail(s, "cannot connect", status);
        }
        return;
    }
    s->got_bytes = 0;
    if ((rc = slt_conn_read_start(c, on_alloc, on_read)) < 0) {
        fail(s, "cannot read", rc);
        return;
    }
    memset(&m, 0, sizeof(m));
    m.type = SLT_MSG_HELLO;
    m.u.hello.version = SLT_PROTO_VERSION;
    token = s->h.token(s->h.data);
    m.u.hello.agent_id = slt_str_make(s->h.agent_id, strlen(s->h.agent_id));
    m.u.hello.epoch = s->h.epoch(s->h.data);
    m.u.hello.token = slt_str_make(token, strlen(token));
    if (s->h.instance)
        m.u.hello.instance = slt_str_make(s->h.instance, strlen(s->h.instance));
    s->wbuf.len = 0;
    rc = slt_msg_encode(&m, &s->wbuf);
    if (rc == 0)
        rc = write_frame(s, s->wbuf.p, s->wbuf.len);
    memset(s->wbuf.p, 0, s->wbuf.len); /* the token */
    if (rc < 0) {
        fail(s, "cannot send HELLO", rc);
        return;
    }
    s->state = SLT_CONN_HELLO;
    uv_timer_start(&s->timer, on_timer, CONNECT_TIMEOUT_MS, 0);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct gai *g = (struct gai *)req;
    struct slt_ship *s = g->s;
    struct slt_conn *c;
    int rc;

    s->refs--;
    if (s->closing || g->gen != s->gen) {
        uv_freeaddrinfo(res);
        slt_free(g);
        maybe_free(s);
        return;
    }
    slt_free(g);
    if (status < 0 || !res) {
        uv_freeaddrinfo(res);
        fail(s, "cannot resolve", status);
        return;
    }
    {
        const struct slt_agent_conf *ac = s->h.conf(s->h.data);
        const char *name = ac->tls.server_name ? ac->tls.server_name : s->host;

        rc = slt_conn_connect(s->h.loop, res->ai_addr, s->tls, name, on_connect, s, &c);
    }
    uv_freeaddrinfo(res);
    if (rc < 0) {
        fail(s, "cannot connect", rc);
        return;
    }
    s->c = c;
    s->refs++;
}

/* "host:port" or "[v6]:port" into host and port. */
static int split_addr(const char *addr, char *host, size_t hlen, char *port, size_t plen)
{
    const char *colon;
    size_t n;

    if (addr[0] == '[') {
        const char *end = strchr(addr, ']');

        if (!end || end[1] != ':')
            return SLT_EINVAL;
        n = (size_t)(end - addr - 1);
        colon = end + 1;
        if (n >= hlen)
            return SLT_EINVAL;
        memcpy(host, addr + 1, n);
    } else {
        colon = strrchr(addr, ':');
        if (!colon)
            return SLT_EINVAL;
        n = (size_t)(colon - addr);
        if (n >= hlen)
            return SLT_EINVAL;
        memcpy(host, addr, n);
    }
    host[n] = '\0';
    if (strlen(colon + 1) == 0 || strlen(colon + 1) >= plen)
        return SLT_EINVAL;
    strcpy(port, colon + 1);
    return 0;
}

static void connect_next(struct slt_ship *s)
{
    const struct slt_agent_conf *ac = s->h.conf(s->h.data);
    struct addrinfo hints;
    char host[256], port[16];
    struct gai *g;
    int rc;

    if (s->closing)
        return;
    if (ac->naggregators == 0) {
        snprintf(s->addr, sizeof(s->addr), "(none configured)");
        return;
    }
    if (s->addr_idx >= ac->naggregators)
        s->addr_idx = 0;
    snprintf(s->addr, sizeof(s->addr), "%s", ac->aggregators[s->addr_idx]);
    s->state = SLT_CONN_CONNECTING;
    s->gen++;
    uv_timer_start(&s->timer, on_timer, CONNECT_TIMEOUT_MS, 0);
    if (split_addr(s->addr, host, sizeof(host), port, sizeof(port)) < 0) {
        fail(s, "bad address (want host:port)", 0);
        return;
    }
    snprintf(s->host, sizeof(s->host), "%s", host);
    g = slt_calloc(1, sizeof(*g));
    if (!g) {
        fail(s, "cannot resolve", SLT_ENOMEM);
        return;
    }
    g->s = s;
    g->gen = s->gen;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    s->refs++;
    rc = uv_getaddrinfo(s->h.loop, &g->req, on_resolved, host, port, &hints);
    if (rc < 0) {
        s->refs--;
        slt_free(g);
        fail(s, "cannot resolve", rc);
    }
}

static void on_timer_closed(uv_handle_t *h)
{
    struct slt_ship *s = h->data;

    s->refs--;
    maybe_free(s);
}

static void tls_opts(const struct slt_agent_conf *ac, struct slt_tls_opts *o)
{
    o->cert_file = ac->tls.cert_file;
    o->key_file = ac->tls.key_file;
    o->ca_file = ac->tls.ca_file;
}

int slt_ship_new(const struct slt_ship_hooks *hooks, struct slt_ship **out)
{
    struct slt_ship *s = slt_calloc(1, sizeof(*s));
    const struct slt_agent_conf *ac = hooks->conf(hooks->data);
    char err[512];
    int rc;

    if (!s)
        return SLT_ENOMEM;
    if (ac->tls.enabled) {
        struct slt_tls_opts o;

        tls_opts(ac, &o);
        if ((rc = slt_tls_new(SLT_TLS_CLIENT, &o, "agent", &s->tls, err, sizeof(err))) < 0) {
            slt_log(SLT_LOG_ERROR, "ship", "agent.tls: %s", err);
            slt_free(s);
            return rc;
        }
    }
    s->h = *hooks;
    s->backoff_ms = BACKOFF_MIN_MS;
    s->hold_ms = HOLD_MIN_MS;
    slt_proto_limits_default(&s->limits);
    slt_frame_reader_init(&s->fr, s->h.max_frame);
    slt_buf_init(&s->wbuf, s->h.max_frame + 4);
    uv_timer_init(s->h.loop, &s->timer);
    uv_timer_init(s->h.loop, &s->hold);
    s->timer.data = s->hold.data = s;
    s->refs = 2;
    srandom((unsigned)(slt_mono_ns() ^ (uint64_t)getpid()));
    *out = s;
    connect_next(s);
    return 0;
}

void slt_ship_kick(struct slt_ship *s)
{
    pump(s);
}

void slt_ship_reconnect(struct slt_ship *s)
{
    if (s->closing)
        return;
    drop_conn(s);
    s->state = SLT_CONN_DOWN;
    s->gen++;
    s->addr_idx = 0;
    s->backoff_ms = BACKOFF_MIN_MS;
    uv_timer_start(&s->timer, on_timer, 0, 0);
}

void slt_ship_reload_tls(struct slt_ship *s)
{
    const struct slt_agent_conf *ac = s->h.conf(s->h.data);
    struct slt_tls_opts o;
    char err[512];

    if (s->closing)
        return;
    if (!ac->tls.enabled != !s->tls) {
        slt_log(SLT_LOG_WARN, "ship", "turning agent.tls on or off takes effect at the next start");
        return;
    }
    if (!s->tls)
        return;
    tls_opts(ac, &o);
    if (slt_tls_reload(s->tls, &o, err, sizeof(err)) < 0)
        slt_log(SLT_LOG_ERROR, "ship", "agent.tls: %s; keeping the certificates in use", err);
}

void slt_ship_close(struct slt_ship *s, slt_closed_cb on_closed, void *data)
{
    if (!s) {
        if (on_closed)
            on_closed(data);
        return;
    }
    if (s->closing)
        return;
    s->closing = 1;
    s->on_closed = on_closed;
    s->closed_data = data;
    s->gen++;
    drop_conn(s);
    s->state = SLT_CONN_DOWN;
    uv_close((uv_handle_t *)&s->timer, on_timer_closed);
    uv_close((uv_handle_t *)&s->hold, on_timer_closed);
}

enum slt_conn_state slt_ship_state(const struct slt_ship *s)
{
    return s->state;
}

const char *slt_ship_last_error(const struct slt_ship *s)
{
    return s->last_err;
}

const char *slt_ship_address(const struct slt_ship *s)
{
    return s->addr;
}

const struct slt_ship_counters *slt_ship_counters(const struct slt_ship *s)
{
    return &s->n;
}
