/*
 * One agent connection: HELLO and token check, then batches applied one at a time, in order.
 *
 * While a batch is being applied the session stops reading, so TCP pushes back on an agent
 * that sends faster than Redis applies, and at most one frame's worth of bytes is buffered
 * (the frame reader's bound). Acks go out in the order batches came in. A session lives until
 * its socket and timers are closed and no apply is in flight (hiredis holds a pointer to it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest_internal.h"
#include "lease.h"
#include "slt/tls.h"

#define READ_CHUNK (16 * 1024)
/* Before HELLO only a HELLO may come: no reason to buffer a megabyte for a stranger. */
#define PREAUTH_MAX_FRAME (8 * 1024)
#define CLOSE_LINGER_MS 2000 /* how long an ERROR frame may take to leave before we cut */
#define SLOW_READER_MS 5000  /* a full write queue that does not drain this long: cut */

struct slt_session {
    struct slt_server *srv;
    struct slt_session_entry entry; /* the server's (server.c): its list, its counts */
    struct slt_conn *conn;
    uv_timer_t timer;       /* HELLO deadline, then idle timeout, then close linger */
    uv_timer_t apply_timer; /* the in-flight apply's deadline */
    int open_handles;
    struct slt_frame_reader fr;
    struct slt_proto_limits limits;
    char peer[64];
    char *agent;
    size_t agent_len;
    int authed;
    unsigned stale_logged, epoch_logged; /* rejections logged once per session */
    struct slt_lease *lease;             /* one live session per agent id (lease.h) */
    int lease_wait;                      /* the batch in the reader waits for the lease check */
    int lease_pass; /* the check could not be answered: that batch goes on unchecked */
    uint64_t wait_epoch, wait_seq;
    uint64_t stale_epoch, stale_mark; /* the store holds stale_mark > stale_epoch */
    int reading;
    int inflight;
    uint64_t inflight_epoch, inflight_seq;
    int closing; /* no more frames; close once the apply and the writes are done */
    int handles_closed;
    struct slt_apply ap;
    struct slt_buf out;  /* encoded frames not yet handed to libuv */
    struct slt_buf wbuf; /* frames being written */
    int writing;
};

static void process(struct slt_session *s);
static void maybe_finish(struct slt_session *s);
static void read_start(struct slt_session *s);
static void on_lease(void *data, int result, uint64_t epoch, const char *holder);
static void send_ack(struct slt_session *s, uint64_t epoch, uint64_t seq,
                     enum slt_ack_status status, uint64_t resend_from, uint32_t reason,
                     uint64_t mark);

static void session_handle_gone(struct slt_session *s)
{
    if (--s->open_handles > 0)
        return;
    slt_frame_reader_release(&s->fr);
    slt_apply_release(&s->ap);
    slt_buf_release(&s->out);
    slt_buf_release(&s->wbuf);
    slt_free(s->agent);
    slt__server_session_gone(s->srv, s);
    slt_free(s);
}

static void on_handle_closed(uv_handle_t *h)
{
    session_handle_gone(h->data);
}

static void on_conn_closed(struct slt_conn *c)
{
    session_handle_gone(slt_conn_data(c));
}

struct slt_session_entry *slt__session_entry(struct slt_session *s)
{
    return &s->entry;
}

/* Closes the handles; memory goes in the last close callback. */
static void finish(struct slt_session *s)
{
    if (s->handles_closed)
        return;
    s->handles_closed = 1;
    uv_timer_stop(&s->timer);
    uv_timer_stop(&s->apply_timer);
    slt_conn_close(s->conn, on_conn_closed);
    uv_close((uv_handle_t *)&s->timer, on_handle_closed);
    uv_close((uv_handle_t *)&s->apply_timer, on_handle_closed);
}

static void maybe_finish(struct slt_session *s)
{
    if (s->closing && !s->inflight && !s->writing && s->out.len == 0)
        finish(s);
}

static void on_linger(uv_timer_t *t)
{
    struct slt_session *s = t->data;

    /* the peer did not take our last frames in time: cut, unless hiredis still holds us
     * (the apply answers within redis_timeout; look again then) */
    if (s->inflight)
        uv_timer_start(&s->timer, on_linger, CLOSE_LINGER_MS, 0);
    else
        finish(s);
}

static void stop_reading(struct slt_session *s)
{
    if (s->reading) {
        slt_conn_read_stop(s->conn);
        s->reading = 0;
    }
}

void slt__session_close(struct slt_session *s, const char *reason)
{
    if (s->closing)
        return;
    s->closing = 1;
    slt_lease_close(s->lease, NULL, NULL);
    s->lease = NULL;
    if (s->lease_wait) {
        /* the batch waiting for its lease check was not applied */
        s->lease_wait = 0;
        s->srv->stats->batches_received++;
        send_ack(s, s->wait_epoch, s->wait_seq, SLT_ACK_RETRY, 0, 0, 0);
    }
    stop_reading(s);
    slt__server_preauth_end(s->srv, s);
    if (s->authed) {
        s->srv->stats->connected_agents--;
        slt_log(SLT_LOG_INFO, "ingest", "agent '%s' from %s disconnected: %s", s->agent, s->peer,
                reason);
    } else {
        /* strangers are counted, not logged one line each (failures are, per address) */
        slt_log(SLT_LOG_DEBUG, "ingest", "connection from %s closed: %s", s->peer, reason);
    }
    uv_timer_stop(&s->timer);
    uv_timer_start(&s->timer, on_linger, CLOSE_LINGER_MS, 0);
    maybe_finish(s);
}

void slt__session_drain(struct slt_session *s)
{
    slt__session_close(s, "aggregator shutting down");
}

static void on_write(struct slt_conn *c, int status, void *arg);

/* Hands queued frames to the connection: out becomes the buffer being written. */
static void flush(struct slt_session *s)
{
    struct slt_buf tmp;
    int n;

    if (s->writing || s->out.len == 0 || s->handles_closed)
        return;
    /* swap: out becomes the buffer being written, wbuf (empty) takes new frames */
    tmp = s->wbuf;
    s->wbuf = s->out;
    s->out = tmp;
    s->out.len = 0;
    n = slt_conn_write(s->conn, s->wbuf.p, s->wbuf.len, on_write, s);
    if (n < 0) {
        s->wbuf.len = 0;
        slt__session_close(s, uv_strerror(n));
        maybe_finish(s);
        return;
    }
    s->writing = 1;
}

static void on_write(struct slt_conn *c, int status, void *arg)
{
    struct slt_session *s = arg;

    s->writing = 0;
    s->wbuf.len = 0;
    if (status < 0) {
        s->out.len = 0;
        if (status != UV_ECANCELED)
            slt__session_close(s, status == SLT_EPROTO ? slt_conn_error(c) : uv_strerror(status));
        maybe_finish(s);
        return;
    }
    flush(s);
    maybe_finish(s);
    if (!s->closing && !s->writing)
        process(s); /* a slow reader may have held us back */
}

/* Queues one frame; a peer that does not read its acks is cut off (bounded write queue). */
static void send_msg(struct slt_session *s, const struct slt_msg *m)
{
    int rc;

    if (s->handles_closed)
        return;
    rc = slt_msg_encode(m, &s->out);
    if (rc == SLT_ELIMIT) {
        s->srv->stats->slow_clients++;
        s->out.len = 0;
        slt_log(SLT_LOG_WARN, "ingest", "%s does not read its acks: closing", s->peer);
        slt__session_close(s, "write queue full");
        return;
    }
    if (rc < 0) {
        slt__session_close(s, slt_strerror(rc));
        return;
    }
    flush(s);
}

static void send_error(struct slt_session *s, const char *msg)
{
    struct slt_msg m;

    memset(&m, 0, sizeof(m));
    m.type = SLT_MSG_ERROR;
    m.u.error.message = slt_str_make(msg, strlen(msg));
    send_msg(s, &m);
}

static void send_ack(struct slt_session *s, uint64_t epoch, uint64_t seq,
                     enum slt_ack_status status, uint64_t resend_from, uint32_t reason,
                     uint64_t mark)
{
    struct slt_aggr_stats *st = s->srv->stats;
    struct slt_msg m;

    switch (status) {
    case SLT_ACK_APPLIED:
        st->batches_applied++;
        break;
    case SLT_ACK_DUPLICATE:
        st->batches_duplicate++;
        break;
    case SLT_ACK_GAP:
        st->batches_gap++;
        break;
    case SLT_ACK_REJECTED:
        st->batches_rejected++;
        if (reason == SLT_REJECT_STALE_EPOCH) {
            st->batches_rejected_stale++;
            if (s->stale_logged++ == 0)
                slt_log(SLT_LOG_WARN, "ingest",
                        "agent '%s' sends epoch %llu but epoch %llu is stored for it: rejected "
                        "(it should start a larger epoch; an agent that does not is an old one "
                        "or another host with the same agent id)",
                        s->agent, (unsigned long long)epoch, (unsigned long long)mark);
        } else {
            st->batches_rejected_invalid++;
        }
        break;
    case SLT_ACK_RETRY:
        st->batches_retry++;
        break;
    }
    slt_log(SLT_LOG_DEBUG, "ingest", "agent '%s' batch %llu:%llu %s", s->agent,
            (unsigned long long)epoch, (unsigned long long)seq, slt_ack_status_name(status));
    memset(&m, 0, sizeof(m));
    m.type = SLT_MSG_ACK;
    m.u.ack.epoch = epoch;
    m.u.ack.seq = seq;
    m.u.ack.status = status;
    m.u.ack.resend_from = status == SLT_ACK_GAP ? resend_from : 0;
    m.u.ack.reason = status == SLT_ACK_REJECTED ? (reason ? reason : SLT_REJECT_INVALID) : 0;
    m.u.ack.mark = m.u.ack.reason == SLT_REJECT_STALE_EPOCH ? mark : 0;
    send_msg(s, &m);
}

static void on_apply_timeout(uv_timer_t *t)
{
    struct slt_session *s = t->data;

    if (!s->inflight)
        return;
    s->srv->stats->redis_timeouts++;
    /* every apply pending where this one waits (it included) ends with RETRY */
    slt_store_reset(s->srv->store, &s->ap, "apply timed out");
}

static void on_apply_done(struct slt_apply *ap)
{
    struct slt_session *s = ap->data;

    s->inflight = 0;
    uv_timer_stop(&s->apply_timer);
    send_ack(s, s->inflight_epoch, s->inflight_seq, ap->status, ap->resend_from, ap->reason,
             ap->mark);
    if (s->closing) {
        maybe_finish(s);
        return;
    }
    process(s);
}

static void on_idle(uv_timer_t *t)
{
    struct slt_session *s = t->data;

    s->srv->stats->sessions_timed_out++;
    if (!s->authed) {
        send_error(s, "no hello in time");
        slt__session_close(s, "no hello in time");
    } else {
        slt__session_close(s, "idle timeout");
    }
}

static void arm_idle(struct slt_session *s)
{
    struct slt_aggr_params *p = s->srv->params;

    uv_timer_start(&s->timer, on_idle,
                   (uint64_t)(s->authed ? p->idle_timeout_ms : p->hello_timeout_ms), 0);
}

static void on_slow(uv_timer_t *t)
{
    struct slt_session *s = t->data;

    if (!s->writing) {
        arm_idle(s);
        return;
    }
    s->srv->stats->slow_clients++;
    slt_log(SLT_LOG_WARN, "ingest", "%s does not read its acks: closing", s->peer);
    slt__session_close(s, "slow reader");
}

static void protocol_error(struct slt_session *s, const char *what)
{
    char msg[300];

    s->srv->stats->frame_errors++;
    snprintf(msg, sizeof(msg), "protocol error: %s", what);
    slt_log(SLT_LOG_WARN, "ingest", "%s%s%s from %s: %s", s->authed ? "agent '" : "",
            s->authed ? s->agent : "", s->authed ? "'" : "", s->peer, msg);
    send_error(s, msg);
    slt__session_close(s, msg);
}

static void on_hello(struct slt_session *s, const struct slt_msg_hello *h)
{
    struct slt_aggr_params *p = s->srv->params;
    struct slt_msg m;

    if (h->version != SLT_PROTO_VERSION) {
        char msg[80];
        snprintf(msg, sizeof(msg), "protocol version %u not supported (want %d)", h->version,
                 SLT_PROTO_VERSION);
        protocol_error(s, msg);
        return;
    }
    if (p->token && !slt_ct_equal(p->token, p->token_len, h->token.p, h->token.len)) {
        char what[200];

        s->srv->stats->auth_failures++;
        /* never the token itself */
        snprintf(what, sizeof(what), "authentication failed for agent '%.*s'",
                 (int)(h->agent_id.len > 100 ? 100 : h->agent_id.len), h->agent_id.p);
        slt__server_auth_failed(s->srv, slt_conn_peer_ip(s->conn), s->peer, what);
        send_error(s, "authentication failed");
        slt__session_close(s, "authentication failed");
        return;
    }
    if (slt_tls_requires_client_cert(s->srv->tls) &&
        !slt_conn_peer_cert_has_name(s->conn, h->agent_id.p, h->agent_id.len)) {
        char what[220];

        /* one agent must never advance another agent's sequence */
        s->srv->stats->cert_name_mismatches++;
        snprintf(what, sizeof(what),
                 "agent id '%.*s' is neither the subject CN nor a DNS name of its client "
                 "certificate: refused",
                 (int)(h->agent_id.len > 100 ? 100 : h->agent_id.len), h->agent_id.p);
        slt__server_auth_failed(s->srv, slt_conn_peer_ip(s->conn), s->peer, what);
        send_error(s, "agent id does not match the client certificate");
        slt__session_close(s, "agent id does not match the client certificate");
        return;
    }
    if (s->srv->stats->connected_agents >= p->max_agents) {
        s->srv->stats->connections_refused++;
        slt_log(SLT_LOG_WARN, "ingest", "refusing agent '%.*s' from %s: max_agents reached",
                (int)(h->agent_id.len > 100 ? 100 : h->agent_id.len), h->agent_id.p, s->peer);
        send_error(s, "too many agents");
        slt__session_close(s, "too many agents");
        return;
    }
    s->agent = slt_strndup(h->agent_id.p, h->agent_id.len);
    if (!s->agent) {
        slt__session_close(s, "out of memory");
        return;
    }
    s->agent_len = h->agent_id.len;
    slt__server_preauth_end(s->srv, s);
    s->authed = 1;
    slt_frame_reader_set_max(&s->fr, p->max_frame);
    s->srv->stats->connected_agents++;
    slt_log(SLT_LOG_INFO, "ingest", "agent '%s' connected from %s (epoch %llu)", s->agent, s->peer,
            (unsigned long long)h->epoch);
    {
        char desc[200];

        snprintf(desc, sizeof(desc), "from %s via aggregator %s", s->peer, p->server_id);
        if (slt_lease_new(s->srv->loop, s->srv->store, s->agent, h->instance, desc, on_lease, s,
                          &s->lease) < 0)
            s->lease = NULL; /* out of memory: unchecked, as an agent without an instance */
    }
    memset(&m, 0, sizeof(m));
    m.type = SLT_MSG_WELCOME;
    m.u.welcome.version = SLT_PROTO_VERSION;
    m.u.welcome.server = slt_str_make(p->server_id, strlen(p->server_id));
    send_msg(s, &m);
}

/* A renewal found the lease taken, or the check did: this session must not go on. */
static void refuse_duplicate(struct slt_session *s, const char *holder)
{
    static uint64_t last_log_ms;
    char msg[400], who[200];
    const char *nl = strchr(holder, '\n');
    int64_t now = slt_now_ms();

    s->srv->stats->duplicate_sessions++;
    snprintf(who, sizeof(who), "%s", nl ? nl + 1 : holder);
    snprintf(msg, sizeof(msg),
             "agent id '%s' already has a live session (%s): is agent.id the same on two hosts?",
             s->agent, who);
    /* a refused agent comes back every few seconds: one line per 10 s, then debug */
    slt_log(now - (int64_t)last_log_ms >= 10000 ? SLT_LOG_WARN : SLT_LOG_DEBUG, "ingest",
            "refusing agent '%s' from %s: %s", s->agent, s->peer, msg);
    if (now - (int64_t)last_log_ms >= 10000)
        last_log_ms = (uint64_t)now;
    send_error(s, msg);
    slt__session_close(s, "duplicate agent id");
}

static void on_lease(void *data, int result, uint64_t epoch, const char *holder)
{
    struct slt_session *s = data;
    int waited = s->lease_wait;

    if (s->closing)
        return;
    s->lease_wait = 0;
    if (result == SLT_LEASE_OTHER) {
        refuse_duplicate(s, holder);
        return;
    }
    if (result == SLT_LEASE_TAKEN_OVER) {
        /* the agent reconnected (here or elsewhere) before this connection was seen dead */
        send_error(s, "a newer session of this agent took over");
        slt__session_close(s, "taken over by a newer session of the same agent");
        return;
    }
    if (!waited)
        return;
    if (result == SLT_LEASE_STALE) {
        s->stale_epoch = s->wait_epoch;
        s->stale_mark = epoch;
    }
    if (result == SLT_LEASE_STALE) {
        /* nothing of the batch was applied: answer it and drop it */
        s->srv->stats->batches_received++;
        slt_frame_reader_consume(&s->fr);
        send_ack(s, s->wait_epoch, s->wait_seq, SLT_ACK_REJECTED, 0, SLT_REJECT_STALE_EPOCH, epoch);
    } else if (result != SLT_LEASE_HELD) {
        /* no answer (Redis down or slow): the apply goes on unchecked and meets the same */
        s->lease_pass = 1;
    }
    process(s);
}

/*
 * Before a batch is applied, its agent id is checked for another live session and its epoch
 * against the one stored for the id (lease.h). 1: apply it now; 0: wait (the frame stays in
 * the reader); -1: answered here. When the check cannot be answered the batch goes on
 * unchecked (the store is down or slow: its apply most likely answers RETRY as well).
 */
static int lease_gate(struct slt_session *s, const struct slt_msg_batch *b)
{
    int r;

    if (!s->lease || b->nseries == 0 || b->agent_id.len != s->agent_len ||
        memcmp(b->agent_id.p, s->agent, s->agent_len) != 0 ||
        b->epoch > (uint64_t)(slt_now_ms() + SLT_EPOCH_AHEAD_MAX_MS))
        return 1; /* on_batch answers these */
    if (s->lease_pass) {
        s->lease_pass = 0;
        return 1;
    }
    if (s->stale_mark && b->epoch == s->stale_epoch) {
        s->srv->stats->batches_received++;
        send_ack(s, b->epoch, b->seq, SLT_ACK_REJECTED, 0, SLT_REJECT_STALE_EPOCH, s->stale_mark);
        return -1;
    }
    r = slt_lease_check(s->lease, b->epoch);
    if (r == 0) {
        s->lease_wait = 1;
        s->wait_epoch = b->epoch;
        s->wait_seq = b->seq;
        return 0;
    }
    /* r < 0: cannot ask (the store is down): the apply meets the same and answers RETRY */
    return 1;
}

static void on_batch(struct slt_session *s, const struct slt_msg_batch *b)
{
    int rc;

    if (b->agent_id.len != s->agent_len || memcmp(b->agent_id.p, s->agent, s->agent_len) != 0) {
        protocol_error(s, "batch for another agent than the hello named");
        return;
    }
    s->srv->stats->batches_received++;
    if (b->nseries == 0) {
        send_ack(s, b->epoch, b->seq, SLT_ACK_APPLIED, 0, 0, 0); /* nothing to store */
        return;
    }
    if (b->epoch > (uint64_t)(slt_now_ms() + SLT_EPOCH_AHEAD_MAX_MS)) {
        /* stored, it would lock the agent id out: no later epoch could pass it (2^53) */
        if (s->epoch_logged++ == 0)
            slt_log(SLT_LOG_WARN, "ingest",
                    "agent '%s' from %s: epoch %llu is more than a year ahead of this clock: "
                    "batches rejected",
                    s->agent, s->peer, (unsigned long long)b->epoch);
        send_ack(s, b->epoch, b->seq, SLT_ACK_REJECTED, 0, SLT_REJECT_INVALID, 0);
        return;
    }
    s->ap.done = on_apply_done;
    s->ap.data = s;
    rc = slt_store_apply(s->srv->store, &s->ap, b, slt_now_ms() / 1000);
    if (rc == 0) {
        s->inflight = 1;
        s->inflight_epoch = b->epoch;
        s->inflight_seq = b->seq;
        uv_timer_start(&s->apply_timer, on_apply_timeout,
                       (uint64_t)s->srv->params->redis_timeout_ms, 0);
        return;
    }
    send_ack(s, b->epoch, b->seq, rc == SLT_EINVAL ? SLT_ACK_REJECTED : SLT_ACK_RETRY, 0,
             s->ap.reason, 0);
}

/* Handles buffered frames until one starts an apply, the buffer is empty, or we close. */
static void process(struct slt_session *s)
{
    const char *payload;
    char err[256];
    struct slt_msg m;
    size_t len;
    int r;

    while (!s->inflight && !s->lease_wait && !s->closing) {
        if (s->out.len > s->srv->params->write_queue_max / 2 && s->writing) {
            /* the agent is slow to take its acks: wait for the write, but not forever */
            stop_reading(s);
            uv_timer_start(&s->timer, on_slow, SLOW_READER_MS, 0);
            return;
        }
        r = slt_frame_reader_next(&s->fr, &payload, &len);
        if (r == 0)
            break;
        if (r < 0) {
            protocol_error(s, "frame length zero or over max_frame");
            return;
        }
        if (slt_msg_decode(payload, len, &s->limits, &m, err, sizeof(err)) < 0) {
            slt_frame_reader_consume(&s->fr);
            protocol_error(s, err);
            return;
        }
        arm_idle(s);
        if (!s->authed) {
            if (m.type == SLT_MSG_HELLO)
                on_hello(s, &m.u.hello);
            else
                protocol_error(s, "first frame must be hello");
        } else if (m.type == SLT_MSG_BATCH) {
            int g = lease_gate(s, &m.u.batch);

            if (g == 0) {
                /* read again from the reader when the check answers (on_lease) */
                slt_msg_release(&m);
                s->fr.frame_len = 0;
                break;
            }
            if (g > 0)
                on_batch(s, &m.u.batch);
        } else if (m.type == SLT_MSG_ERROR) {
            slt_log(SLT_LOG_WARN, "ingest", "agent '%s' sent an error: %.*s", s->agent,
                    (int)m.u.error.message.len, m.u.error.message.p);
            slt__session_close(s, "agent sent an error");
        } else {
            protocol_error(s, "unexpected message type");
        }
        slt_msg_release(&m);
        slt_frame_reader_consume(&s->fr);
    }
    if (s->inflight || s->lease_wait)
        stop_reading(s); /* TCP holds the agent back until the outcome is known */
    else if (!s->closing && !s->reading)
        read_start(s);
}

static void on_alloc(struct slt_conn *c, size_t suggested, char **p, size_t *room)
{
    struct slt_session *s = slt_conn_data(c);

    (void)suggested;
    if (slt_frame_reader_reserve(&s->fr, READ_CHUNK, p, room) < 0) {
        *p = NULL; /* read_cb gets UV_ENOBUFS */
        *room = 0;
    }
}

static void on_read(struct slt_conn *c, long nread)
{
    struct slt_session *s = slt_conn_data(c);

    if (nread == UV_ENOBUFS) {
        protocol_error(s, "frame length over max_frame");
        return;
    }
    if (nread == SLT_EPROTO) {
        /* TLS: a plaintext client, an unknown CA, an expired or missing certificate */
        if (!s->authed)
            slt__server_auth_failed(s->srv, slt_conn_peer_ip(c), s->peer, slt_conn_error(c));
        else
            slt_log(SLT_LOG_WARN, "ingest", "agent '%s' from %s: %s", s->agent, s->peer,
                    slt_conn_error(c));
        slt__session_close(s, slt_conn_error(c));
        return;
    }
    if (nread < 0) {
        slt__session_close(s, nread == UV_EOF ? "closed by peer" : uv_strerror((int)nread));
        return;
    }
    slt_frame_reader_commit(&s->fr, (size_t)nread);
    process(s);
}

static void read_start(struct slt_session *s)
{
    int rc = slt_conn_read_start(s->conn, on_alloc, on_read);

    if (rc < 0) {
        slt__session_close(s, uv_strerror(rc));
        return;
    }
    s->reading = 1;
}

int slt__session_new(struct slt_server *srv, struct slt_conn *c, struct slt_session **out)
{
    struct slt_session *s = slt_calloc(1, sizeof(*s));

    *out = NULL;
    if (!s) {
        slt_conn_close(c, NULL);
        return SLT_ENOMEM;
    }
    s->srv = srv;
    s->conn = c;
    slt_conn_set_data(c, s);
    uv_timer_init(srv->loop, &s->timer);
    uv_timer_init(srv->loop, &s->apply_timer);
    s->timer.data = s->apply_timer.data = s;
    s->open_handles = 3;
    slt_frame_reader_init(&s->fr, PREAUTH_MAX_FRAME);
    slt_proto_limits_default(&s->limits);
    slt_apply_init(&s->ap);
    slt_buf_init(&s->out, srv->params->write_queue_max);
    slt_buf_init(&s->wbuf, srv->params->write_queue_max);
    snprintf(s->peer, sizeof(s->peer), "%s", slt_conn_peer(c));
    *out = s;
    return 0;
}

void slt__session_refuse(struct slt_session *s, const char *msg)
{
    if (!msg) {
        s->closing = 1;
        finish(s);
        return;
    }
    send_error(s, msg);
    s->closing = 1;
    uv_timer_start(&s->timer, on_linger, CLOSE_LINGER_MS, 0);
    maybe_finish(s);
}

void slt__session_start(struct slt_session *s)
{
    arm_idle(s);
    read_start(s);
}
