/* The agent listener: accepts connections and hands each to a session (session.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aggr.h"
#include "slt/tls.h"

#define TOKEN_MAX 4096
#define STOP_GRACE_MS 3000 /* on top of redis_timeout: the longest an apply can still take */

void slt_aggr_params_release(struct slt_aggr_params *p)
{
    slt_free(p->token);
    p->token = NULL;
    p->token_len = 0;
}

/* Reads the token file; trailing whitespace (the newline) is not part of the token. */
int slt_aggr_read_token(const char *path, char **out, size_t *outlen, char *err, size_t errlen)
{
    char buf[TOKEN_MAX + 1];
    ssize_t n;
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        snprintf(err, errlen, "cannot open token file '%s': %s", path, strerror(errno));
        return -errno;
    }
    while ((n = read(fd, buf + len, sizeof(buf) - len)) > 0) {
        len += (size_t)n;
        if (len == sizeof(buf))
            break;
    }
    close(fd);
    if (n < 0) {
        snprintf(err, errlen, "cannot read token file '%s': %s", path, strerror(errno));
        return SLT_EINVAL;
    }
    if (len > TOKEN_MAX) {
        snprintf(err, errlen, "token file '%s' is longer than %d bytes", path, TOKEN_MAX);
        return SLT_EINVAL;
    }
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
                   buf[len - 1] == '\t'))
        len--;
    if (len == 0) {
        snprintf(err, errlen, "token file '%s' is empty", path);
        return SLT_EINVAL;
    }
    *out = slt_strndup(buf, len);
    if (!*out)
        return SLT_ENOMEM;
    *outlen = len;
    return 0;
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
