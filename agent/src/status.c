/*
 * The agent's status endpoint on the shared HTTP server: GET /status (JSON) and GET /metrics
 * (Prometheus), rendered by the agent's callback. See status.h.
 */
#include <stdlib.h>
#include <sys/socket.h>

#include "slt/common.h"
#include "slt/conn.h"
#include "slt/http.h"
#include "status.h"

/* ---- HTTP: GET /status, GET /metrics ---- */

#define HTTP_MAX_CLIENTS 16
#define HTTP_CLIENT_MS 5000
#define HTTP_BODY_MAX (32u << 20)

struct slt_status_http {
    slt_status_render_fn render;
    void *data;
    struct slt_http_server *srv;
    int open; /* 1 until the server is stopped */
};

static void on_status_request(struct slt_http_req *req, void *data)
{
    struct slt_status_http *h = data;
    struct slt_buf body;
    int prometheus;

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

int slt_status_http_start(struct uv_loop_s *loop, const char *listen, slt_status_render_fn render,
                          void *data, struct slt_status_http **out)
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
    if (!slt_net_is_loopback(&ss)) {
        slt_log(SLT_LOG_ERROR, "status", "status_listen '%s' is not a loopback address", listen);
        return SLT_EINVAL;
    }
    h = slt_calloc(1, sizeof(*h));
    if (!h)
        return SLT_ENOMEM;
    h->render = render;
    h->data = data;
    rc = slt_http_server_start(loop, listen, &limits, on_status_request, h, &h->srv);
    if (rc < 0) {
        slt_free(h);
        return rc;
    }
    h->open = 1;
    *out = h;
    return 0;
}

static void on_status_stopped(void *data)
{
    slt_free(data);
}

void slt_status_http_close(struct slt_status_http *h)
{
    if (!h || !h->open)
        return;
    h->open = 0;
    slt_http_server_stop(h->srv, on_status_stopped, h);
}
