/* The agent listener: accepts connections and hands each to a session (session.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggr.h"

#define STOP_GRACE_MS 3000 /* on top of redis_timeout: the longest an apply can still take */

void slt_aggr_params_release(struct slt_aggr_params *p)
{
    slt_free(p->token);
    p->token = NULL;
    p->token_len = 0;
}

static void on_connection(struct slt_listener *l, struct slt_conn *c)
{
    struct slt_server *srv = slt_listener_data(l);
    int rc;

    rc = slt__session_accept(srv, c);
    if (rc < 0)
        slt_log(SLT_LOG_WARN, "ingest", "cannot accept a connection: %s", slt_strerror(rc));
}

int slt_server_start(struct slt_server *srv, uv_loop_t *loop, struct slt_aggr_params *params,
                     struct slt_store *store, struct slt_aggr_stats *stats, char *err,
                     size_t errlen)
{
    int rc;

    memset(srv, 0, sizeof(*srv));
    srv->loop = loop;
    srv->params = params;
    srv->store = store;
    srv->stats = stats;
    rc = slt_listener_start(loop, params->listen, NULL, on_connection, srv, &srv->listener, err,
                            errlen);
    if (rc < 0)
        return rc;
    srv->listening = 1;
    slt_log(SLT_LOG_INFO, "ingest", "listening for agents on %s", params->listen);
    return 0;
}

static void on_stop_timer_closed(uv_handle_t *h)
{
    struct slt_server *srv = h->data;

    srv->stop_timer_open = 0;
    if (srv->on_stopped)
        srv->on_stopped(srv);
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
    (void)s; /* already unlinked by session.c */
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

void slt_server_stop(struct slt_server *srv, void (*on_stopped)(struct slt_server *srv))
{
    struct slt_session *s, *next;

    if (srv->stopping)
        return;
    srv->stopping = 1;
    srv->on_stopped = on_stopped;
    uv_timer_init(srv->loop, &srv->stop_timer);
    srv->stop_timer.data = srv;
    srv->stop_timer_open = 1;
    uv_timer_start(&srv->stop_timer, on_stop_deadline,
                   (uint64_t)srv->params->redis_timeout_ms + STOP_GRACE_MS, 0);
    if (srv->listening && srv->listener) {
        slt_listener_close(srv->listener, on_listener_closed, srv);
        srv->listener = NULL;
    }
    for (s = srv->sessions; s; s = next) {
        next = slt__session_next(s);
        slt__session_drain(s);
    }
    check_stopped(srv);
}
