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

/* "host:port" or "[v6]:port" into a socket address. */
static int parse_listen(const char *s, struct sockaddr_storage *ss, char *err, size_t errlen)
{
    char host[256];
    const char *colon;
    long port;
    char *end;
    size_t hlen;

    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':') {
            snprintf(err, errlen, "listen address '%s': want [v6addr]:port", s);
            return SLT_EINVAL;
        }
        hlen = (size_t)(rb - s - 1);
        if (hlen >= sizeof(host))
            hlen = sizeof(host) - 1;
        memcpy(host, s + 1, hlen);
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon) {
            snprintf(err, errlen, "listen address '%s': want host:port", s);
            return SLT_EINVAL;
        }
        hlen = (size_t)(colon - s);
        if (hlen >= sizeof(host))
            hlen = sizeof(host) - 1;
        memcpy(host, s, hlen);
    }
    host[hlen] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535 || end == colon + 1) {
        snprintf(err, errlen, "listen address '%s': bad port", s);
        return SLT_EINVAL;
    }
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    if (uv_ip4_addr(host[0] ? host : "0.0.0.0", (int)port, (struct sockaddr_in *)ss) == 0)
        return 0;
    if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) == 0)
        return 0;
    snprintf(err, errlen, "listen address '%s': '%s' is not an IP address", s, host);
    return SLT_EINVAL;
}

static void on_connection(uv_stream_t *server, int status)
{
    struct slt_server *srv = server->data;
    int rc;

    if (status < 0) {
        slt_log(SLT_LOG_WARN, "ingest", "accept failed: %s", uv_strerror(status));
        return;
    }
    rc = slt__session_accept(srv);
    if (rc < 0)
        slt_log(SLT_LOG_WARN, "ingest", "cannot accept a connection: %s", slt_strerror(rc));
}

int slt_server_start(struct slt_server *srv, uv_loop_t *loop, struct slt_aggr_params *params,
                     struct slt_store *store, struct slt_aggr_stats *stats, char *err,
                     size_t errlen)
{
    struct sockaddr_storage ss;
    int rc;

    memset(srv, 0, sizeof(*srv));
    srv->loop = loop;
    srv->params = params;
    srv->store = store;
    srv->stats = stats;
    rc = parse_listen(params->listen, &ss, err, errlen);
    if (rc < 0)
        return rc;
    uv_tcp_init(loop, &srv->listener);
    srv->listener.data = srv;
    srv->listening = 1;
    rc = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&srv->listener, 511, on_connection);
    if (rc < 0) {
        snprintf(err, errlen, "cannot listen on '%s': %s", params->listen, uv_strerror(rc));
        uv_close((uv_handle_t *)&srv->listener, NULL);
        srv->listening = 0;
        return rc;
    }
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

static void on_listener_closed(uv_handle_t *h)
{
    struct slt_server *srv = h->data;

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
    if (srv->listening && !uv_is_closing((uv_handle_t *)&srv->listener))
        uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
    for (s = srv->sessions; s; s = next) {
        next = slt__session_next(s);
        slt__session_drain(s);
    }
    check_stopped(srv);
}
