/*
 * The agent listener: accepts connections, admits each as a session (session.c) and owns the
 * list of sessions (ingest_internal.h): admission, eviction of strangers, per-address
 * throttling and the shutdown drain.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ingest_internal.h"
#include "slt/tls.h"

#define STOP_GRACE_MS 3000 /* on top of redis_timeout: the longest an apply can still take */

void slt_aggr_params_release(struct slt_aggr_params *p)
{
    slt_free(p->token);
    p->token = NULL;
    p->token_len = 0;
}

/* Reads the token file with slt_read_secret (at most SLT_TOKEN_MAX bytes, not empty). */
int slt_aggr_read_token(const char *path, char **out, size_t *outlen, char *err, size_t errlen)
{
    int rc = slt_read_secret(path, SLT_TOKEN_MAX, out);

    if (rc == SLT_ELIMIT)
        snprintf(err, errlen, "token file '%s' is longer than %d bytes", path, SLT_TOKEN_MAX);
    else if (rc == SLT_EINVAL)
        snprintf(err, errlen, "token file '%s' is empty", path);
    else if (rc < 0)
        snprintf(err, errlen, "cannot open token file '%s': %s", path, slt_strerror(rc));
    else
        *outlen = strlen(*out);
    return rc;
}

/* ---- failed authentications per address ---- */

struct slt_auth_throttle {
    char ip[48];
    int64_t last_ms;       /* last use of the slot */
    int64_t window_ms;     /* start of the current counting window */
    uint32_t failures;     /* in the window */
    int64_t blocked_until; /* refused at accept until then */
    int64_t logged_ms;     /* last line logged for this address */
    uint64_t unlogged;     /* failures or refusals since that line */
};

static struct slt_auth_throttle *throttle_find(struct slt_server *srv, const char *ip, int make)
{
    struct slt_auth_throttle *t, *lru = NULL;
    size_t i;

    for (i = 0; i < srv->nthrottle; i++) {
        t = &srv->throttle[i];
        if (strcmp(t->ip, ip) == 0)
            return t;
        if (!lru || t->last_ms < lru->last_ms)
            lru = t;
    }
    if (!make)
        return NULL;
    if (!srv->throttle) {
        srv->throttle = slt_calloc(SLT_AUTH_SLOTS, sizeof(*srv->throttle));
        if (!srv->throttle)
            return NULL;
    }
    if (srv->nthrottle < SLT_AUTH_SLOTS)
        t = &srv->throttle[srv->nthrottle++];
    else
        t = lru; /* the least recently seen address gives its slot */
    memset(t, 0, sizeof(*t));
    snprintf(t->ip, sizeof(t->ip), "%s", ip);
    return t;
}

/* 1 when ip is refused now (counted, logged once per window). */
static int throttled(struct slt_server *srv, const char *ip)
{
    struct slt_auth_throttle *t = srv->nthrottle ? throttle_find(srv, ip, 0) : NULL;
    int64_t now = (int64_t)(slt_mono_ns() / 1000000);

    if (!t || t->blocked_until <= now)
        return 0;
    t->last_ms = now;
    srv->stats->auth_throttled++;
    if (now - t->logged_ms >= SLT_AUTH_WINDOW_MS) {
        slt_log(SLT_LOG_WARN, "ingest",
                "refusing connections from %s for %lld more s: too many failed "
                "authentications (%llu failures or refusals since the last line)",
                ip, (long long)((t->blocked_until - now + 999) / 1000),
                (unsigned long long)t->unlogged + 1);
        t->logged_ms = now;
        t->unlogged = 0;
    } else {
        t->unlogged++;
    }
    return 1;
}

void slt__server_auth_failed(struct slt_server *srv, const char *ip, const char *peer,
                             const char *what)
{
    struct slt_auth_throttle *t = throttle_find(srv, ip, 1);
    int64_t now = (int64_t)(slt_mono_ns() / 1000000);

    if (!t) {
        slt_log(SLT_LOG_WARN, "ingest", "%s from %s", what, peer);
        return;
    }
    t->last_ms = now;
    if (now - t->window_ms >= SLT_AUTH_WINDOW_MS) {
        t->window_ms = now;
        t->failures = 0;
    }
    t->failures++;
    if (t->failures >= SLT_AUTH_FAILURES && t->blocked_until <= now) {
        t->blocked_until = now + SLT_AUTH_BLOCK_MS;
        /* once per block, whatever the interval */
        slt_log(SLT_LOG_WARN, "ingest",
                "refusing connections from %s for %d s: %u failed authentications in %d s "
                "(the last: %s)",
                ip, SLT_AUTH_BLOCK_MS / 1000, t->failures, SLT_AUTH_WINDOW_MS / 1000, what);
        t->logged_ms = now;
        t->unlogged = 0;
        return;
    }
    if (t->logged_ms == 0 || now - t->logged_ms >= SLT_AUTH_WINDOW_MS) {
        /* never the token: only what failed, from where, and how often */
        slt_log(SLT_LOG_WARN, "ingest",
                "%s from %s (%llu failures from this address since the last line)", what, peer,
                (unsigned long long)t->unlogged + 1);
        t->logged_ms = now;
        t->unlogged = 0;
    } else {
        t->unlogged++;
    }
}

/* ---- the sessions ---- */

/* Puts s on the list (newest first) and counts it; slt__server_session_gone takes it off. */
static struct slt_session_entry *session_add(struct slt_server *srv, struct slt_session *s)
{
    struct slt_session_entry *e = slt__session_entry(s);

    e->session = s;
    e->prev = NULL;
    e->next = srv->sessions;
    if (srv->sessions)
        srv->sessions->prev = e;
    srv->sessions = e;
    srv->nsessions++;
    srv->stats->connections_total++;
    return e;
}

static size_t preauth_max(const struct slt_server *srv)
{
    uint32_t m = srv->params->max_agents;

    return m < SLT_PREAUTH_MIN ? SLT_PREAUTH_MIN : m > SLT_PREAUTH_MAX ? SLT_PREAUTH_MAX : m;
}

/* Closes the oldest session still waiting for HELLO for SLT_PREAUTH_EVICT_MS (to make room);
 * 0 when there is none. */
static int evict_preauth(struct slt_server *srv)
{
    struct slt_session_entry *e, *oldest = NULL;

    for (e = srv->sessions; e; e = e->next)
        if (e->preauth)
            oldest = e; /* newest first: the last one seen is the oldest */
    if (!oldest || uv_now(srv->loop) - oldest->accepted_ms < SLT_PREAUTH_EVICT_MS)
        return 0;
    srv->stats->preauth_refused++;
    slt__session_close(oldest->session, "too many connections waiting for HELLO");
    return 1;
}

void slt__server_preauth_end(struct slt_server *srv, struct slt_session *s)
{
    struct slt_session_entry *e = slt__session_entry(s);

    if (!e->preauth)
        return;
    e->preauth = 0;
    srv->npreauth--;
    srv->stats->preauth_connections = srv->npreauth;
}

static void on_connection(struct slt_listener *l, struct slt_conn *c)
{
    struct slt_server *srv = slt_listener_data(l);
    struct slt_session_entry *e;
    struct slt_session *s;
    int rc;

    if (throttled(srv, slt_conn_peer_ip(c))) {
        slt_conn_close(c, NULL);
        return;
    }
    rc = slt__session_new(srv, c, &s);
    if (rc < 0) {
        slt_log(SLT_LOG_WARN, "ingest", "cannot accept a connection: %s", slt_strerror(rc));
        return;
    }
    /* on the list before anything can fail, so slt__server_session_gone can unlink it */
    e = session_add(srv, s);
    if (srv->stats->connected_agents >= srv->params->max_agents || srv->stopping) {
        srv->stats->connections_refused++;
        slt_log(SLT_LOG_WARN, "ingest", "refusing %s: %s", slt_conn_peer(c),
                srv->stopping ? "shutting down" : "max_agents connections reached");
        slt__session_refuse(s, srv->stopping ? "shutting down" : "too many agents");
        return;
    }
    /* room for this one among the unauthenticated: the oldest stranger goes first */
    e->accepted_ms = uv_now(srv->loop);
    if (srv->npreauth >= preauth_max(srv) && !evict_preauth(srv)) {
        srv->stats->preauth_refused++;
        slt__session_refuse(s, NULL);
        return;
    }
    e->preauth = 1;
    srv->npreauth++;
    srv->stats->preauth_connections = srv->npreauth;
    slt__session_start(s);
}

int slt_server_start(struct slt_server *srv, uv_loop_t *loop, struct slt_aggr_params *params,
                     struct slt_store *store, struct slt_aggr_stats *stats, struct slt_tls *tls,
                     char *err, size_t errlen)
{
    int rc;

    memset(srv, 0, sizeof(*srv));
    srv->loop = loop;
    srv->params = params;
    srv->store = store;
    srv->stats = stats;
    srv->tls = tls;
    rc = slt_listener_start(loop, params->listen, tls, on_connection, srv, &srv->listener, err,
                            errlen);
    if (rc < 0)
        return rc;
    srv->listening = 1;
    slt_log(SLT_LOG_INFO, "ingest", "listening for agents on %s%s", params->listen,
            !tls                                ? ""
            : slt_tls_requires_client_cert(tls) ? " (TLS, client certificates required)"
                                                : " (TLS)");
    return 0;
}

static void on_stop_timer_closed(uv_handle_t *h)
{
    struct slt_server *srv = h->data;

    srv->stop_timer_open = 0;
    slt_free(srv->throttle);
    srv->throttle = NULL;
    srv->nthrottle = 0;
    if (srv->on_stopped)
        srv->on_stopped(srv->stopped_data);
}

static void check_stopped(struct slt_server *srv)
{
    if (!srv->stopping || srv->nsessions || srv->listening || !srv->stop_timer_open)
        return;
    uv_timer_stop(&srv->stop_timer);
    if (!uv_is_closing((uv_handle_t *)&srv->stop_timer))
        uv_close((uv_handle_t *)&srv->stop_timer, on_stop_timer_closed);
}

void slt__server_session_gone(struct slt_server *srv, struct slt_session *s)
{
    struct slt_session_entry *e = slt__session_entry(s);

    if (e->prev)
        e->prev->next = e->next;
    else
        srv->sessions = e->next;
    if (e->next)
        e->next->prev = e->prev;
    srv->nsessions--;
    check_stopped(srv);
}

static void on_listener_closed(void *data)
{
    struct slt_server *srv = data;

    srv->listening = 0;
    check_stopped(srv);
}

static void on_stop_deadline(uv_timer_t *t)
{
    struct slt_server *srv = t->data;

    slt_log(SLT_LOG_WARN, "ingest", "%zu sessions still open at the shutdown deadline",
            srv->nsessions);
}

void slt_server_close(struct slt_server *srv, slt_closed_cb on_stopped, void *data)
{
    struct slt_session_entry *e, *next;

    if (srv->stopping)
        return;
    srv->stopping = 1;
    srv->on_stopped = on_stopped;
    srv->stopped_data = data;
    uv_timer_init(srv->loop, &srv->stop_timer);
    srv->stop_timer.data = srv;
    srv->stop_timer_open = 1;
    uv_timer_start(&srv->stop_timer, on_stop_deadline,
                   (uint64_t)srv->params->redis_timeout_ms + STOP_GRACE_MS, 0);
    if (srv->listening && srv->listener) {
        slt_listener_close(srv->listener, on_listener_closed, srv);
        srv->listener = NULL;
    }
    for (e = srv->sessions; e; e = next) {
        next = e->next;
        slt__session_drain(e->session);
    }
    check_stopped(srv);
}
