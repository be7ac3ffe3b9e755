/*
 * The agent's status endpoint on the shared HTTP server: GET /status (JSON) and GET /metrics
 * (Prometheus), rendered by the agent's callback. See status.h.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "slt/common.h"
#include "slt/conn.h"
#include "slt/http.h"
#include "slt/tls.h"
#include "status.h"

/* ---- HTTP: GET /status, GET /metrics ---- */

#define HTTP_MAX_CLIENTS 16
#define HTTP_CLIENT_MS 5000
#define HTTP_BODY_MAX (32u << 20)

struct slt_status_http {
    slt_status_render_fn render;
    void *data;
    struct slt_tls *tls; /* NULL: plain HTTP */
    char *token;         /* NULL: none */
    int loopback;        /* listening on a loopback address (a token is optional) */
    struct slt_http_server *srv;
    int open; /* 1 until the server is stopped */
    slt_closed_cb on_closed;
    void *closed_data;
};

static void on_status_request(struct slt_http_req *req, void *data)
{
    struct slt_status_http *h = data;
    struct slt_buf body;
    int prometheus;

    if (h->token && !slt_http_bearer_matches(req->authorization, h->token, strlen(h->token))) {
        static const char msg[] = "a bearer token is required\n";
        slt_http_respond(req, 401, "text/plain", msg, sizeof(msg) - 1,
                         "WWW-Authenticate: Bearer realm=\"slitail-agent\"\r\n");
        return;
    }
    if (slt_str_eq(req->path, "/metrics")) {
        prometheus = 1;
    } else if (slt_str_eq(req->path, "/status") || slt_str_eq(req->path, "/")) {
        prometheus = 0;
    } else {
        static const char nf[] = "not found: try /status or /metrics\n";
        slt_http_respond(req, 404, "text/plain", nf, sizeof(nf) - 1, NULL);
        return;
    }
    slt_buf_init(&body, HTTP_BODY_MAX);
    if (h->render(h->data, prometheus, &body) < 0) {
        static const char oom[] = "out of memory\n";
        slt_http_respond(req, 500, "text/plain", oom, sizeof(oom) - 1, NULL);
    } else {
        slt_http_respond(req, 200, prometheus ? "text/plain; version=0.0.4" : "application/json",
                         body.p ? body.p : "", body.len, NULL);
    }
    slt_buf_release(&body);
}

static void set_token(struct slt_status_http *h, char *token)
{
    if (h->token) {
        memset(h->token, 0, strlen(h->token));
        slt_free(h->token);
    }
    h->token = token;
}

static void status_free(struct slt_status_http *h)
{
    slt_closed_cb cb = h->on_closed;
    void *data = h->closed_data;

    set_token(h, NULL);
    slt_tls_free(h->tls);
    slt_free(h);
    if (cb)
        cb(data);
}

int slt_status_http_start(struct uv_loop_s *loop, const char *listen,
                          const struct slt_tls_opts *tls, const char *token,
                          slt_status_render_fn render, void *data, struct slt_status_http **out)
{
    static const struct slt_http_limits limits = {
        .max_header_bytes = 4096,
        .header_timeout_ms = HTTP_CLIENT_MS,
        .idle_timeout_ms = HTTP_CLIENT_MS,
        .max_conns = HTTP_MAX_CLIENTS,
    };
    struct sockaddr_storage ss;
    struct slt_status_http *h;
    int rc;

    if (slt_net_parse_listen(listen, &ss) < 0)
        return SLT_EINVAL;
    if (!token && !slt_net_is_loopback(&ss)) {
        slt_log(SLT_LOG_ERROR, "status",
                "status_listen '%s' is not a loopback address (set agent.status_token_file to "
                "serve it on any address)",
                listen);
        return SLT_EINVAL;
    }
    h = slt_calloc(1, sizeof(*h));
    if (!h)
        return SLT_ENOMEM;
    h->render = render;
    h->data = data;
    h->loopback = slt_net_is_loopback(&ss);
    if (token && !(h->token = slt_strdup(token))) {
        status_free(h);
        return SLT_ENOMEM;
    }
    if (tls) {
        char err[512];

        rc = slt_tls_new(SLT_TLS_SERVER, tls, "status", &h->tls, err, sizeof(err));
        if (rc < 0) {
            slt_log(SLT_LOG_ERROR, "status", "agent.status_tls: %s", err);
            status_free(h);
            return rc;
        }
    }
    rc = slt_http_server_start_tls(loop, listen, &limits, h->tls, on_status_request, h, &h->srv);
    if (rc < 0) {
        status_free(h);
        return rc;
    }
    h->open = 1;
    *out = h;
    return 0;
}

static void on_status_stopped(void *data)
{
    status_free(data);
}

void slt_status_http_reload(struct slt_status_http *h, const struct slt_tls_opts *tls,
                            const char *token)
{
    char err[512];
    char *t = NULL;

    if (!h || !h->open)
        return;
    if (!token && h->token && !h->loopback)
        slt_log(SLT_LOG_ERROR, "status",
                "status_token_file removed while status_listen is not loopback: keeping the "
                "token in use");
    else if (token && !(t = slt_strdup(token)))
        slt_log(SLT_LOG_ERROR, "status", "out of memory: keeping the status token in use");
    else
        set_token(h, t);
    if (!tls != !h->tls) {
        slt_log(SLT_LOG_WARN, "status",
                "turning agent.status_tls on or off takes effect at the next start");
    } else if (tls && slt_tls_reload(h->tls, tls, err, sizeof(err)) < 0) {
        slt_log(SLT_LOG_ERROR, "status", "agent.status_tls: %s; keeping the certificate in use",
                err);
    }
}

void slt_status_http_close(struct slt_status_http *h, slt_closed_cb on_closed, void *data)
{
    if (!h) {
        if (on_closed)
            on_closed(data);
        return;
    }
    if (!h->open)
        return;
    h->open = 0;
    h->on_closed = on_closed;
    h->closed_data = data;
    slt_http_server_close(h->srv, on_status_stopped, h);
}
