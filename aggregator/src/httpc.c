/* A minimal HTTP/1.1 POST client on libuv; see httpc.h. */
#include "httpc.h"

#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "slt/common.h"

struct slt_httpc {
    uv_loop_t *loop;
    uv_getaddrinfo_t gai;
    uv_connect_t conn;
    uv_write_t wr;
    uv_tcp_t tcp;
    uv_timer_t timer;
    int tcp_open;
    int gai_pending;
    int nopen; /* handles not closed yet */
    int done;  /* result is set; closing */
    int result;
    char port[8];
    struct slt_buf req;
    char resp[SLT_HTTPC_MAX_RESPONSE];
    size_t resp_len;
    slt_httpc_cb cb;
    void *data;
};

int slt_httpc_status(const char *buf, size_t len)
{
    const char *eol = memchr(buf, '\n', len);
    int status = 0, i;

    if (!eol)
        return len >= SLT_HTTPC_MAX_RESPONSE ? SLT_EPROTO : 0;
    /* "HTTP/1.1 200 OK\r\n" */
    if ((size_t)(eol - buf) < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ')
        return SLT_EPROTO;
    for (i = 9; i < 12; i++) {
        if (buf[i] < '0' || buf[i] > '9')
            return SLT_EPROTO;
        status = status * 10 + (buf[i] - '0');
    }
    if (status < 100 || status > 599 || (buf[12] != ' ' && buf[12] != '\r' && buf[12] != '\n'))
        return SLT_EPROTO;
    return status;
}

static void maybe_free(struct slt_httpc *h)
{
    if (h->nopen || h->gai_pending)
        return;
    if (h->cb)
        h->cb(h->result, h->data);
    slt_buf_release(&h->req);
    slt_free(h);
}

static void on_closed(uv_handle_t *hd)
{
    struct slt_httpc *h = hd->data;

    h->nopen--;
    maybe_free(h);
}

static void finish(struct slt_httpc *h, int result)
{
    if (h->done)
        return;
    h->done = 1;
    h->result = result;
    if (h->gai_pending)
        uv_cancel((uv_req_t *)&h->gai);
    uv_close((uv_handle_t *)&h->timer, on_closed);
    if (h->tcp_open)
        uv_close((uv_handle_t *)&h->tcp, on_closed);
}

static void on_timeout(uv_timer_t *t)
{
    finish(t->data, SLT_ETIMEDOUT);
}

static void on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf)
{
    struct slt_httpc *h = hd->data;

    (void)suggested;
    buf->base = h->resp + h->resp_len;
    buf->len = sizeof(h->resp) - h->resp_len;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct slt_httpc *h = s->data;
    int st;

    (void)buf;
    if (h->done)
        return;
    if (nread < 0) {
        finish(h, SLT_EPROTO); /* closed (or failed) before a whole status line */
        return;
    }
    h->resp_len += (size_t)nread;
    st = slt_httpc_status(h->resp, h->resp_len);
    if (st != 0)
        finish(h, st);
}

static void on_write(uv_write_t *w, int status)
{
    struct slt_httpc *h = w->data;

    if (status < 0 && !h->done)
        finish(h, status);
}

static void on_connect(uv_connect_t *c, int status)
{
    struct slt_httpc *h = c->data;
    uv_buf_t b;
    int rc;

    if (h->done)
        return;
    if (status < 0) {
        finish(h, status);
        return;
    }
    b = uv_buf_init(h->req.p, (unsigned)h->req.len);
    h->wr.data = h;
    rc = uv_write(&h->wr, (uv_stream_t *)&h->tcp, &b, 1, on_write);
    if (rc == 0)
        rc = uv_read_start((uv_stream_t *)&h->tcp, on_alloc, on_read);
    if (rc < 0)
        finish(h, rc);
}

static int start_connect(struct slt_httpc *h, const struct sockaddr *addr)
{
    int rc = uv_tcp_init(h->loop, &h->tcp);

    if (rc < 0)
        return rc;
    h->tcp.data = h;
    h->tcp_open = 1;
    h->nopen++;
    h->conn.data = h;
    return uv_tcp_connect(&h->conn, &h->tcp, addr, on_connect);
}

static void on_resolved(uv_getaddrinfo_t *g, int status, struct addrinfo *ai)
{
    struct slt_httpc *h = g->data;
    int rc;

    h->gai_pending = 0;
    if (h->done) {
        uv_freeaddrinfo(ai);
        maybe_free(h);
        return;
    }
    if (status < 0 || !ai) {
        uv_freeaddrinfo(ai);
        finish(h, status < 0 ? status : UV_EAI_NONAME);
        return;
    }
    rc = start_connect(h, ai->ai_addr);
    uv_freeaddrinfo(ai);
    if (rc < 0)
        finish(h, rc);
}

int slt_httpc_post(struct uv_loop_s *loop, const struct slt_http_url *u, const char *ctype,
                   const char *body, size_t len, int64_t timeout_ms, slt_httpc_cb cb, void *data,
                   struct slt_httpc **out)
{
    struct slt_httpc *h = slt_calloc(1, sizeof(*h));
    struct sockaddr_storage ss;
    int v6 = strchr(u->host, ':') != NULL, rc;

    if (!h)
        return SLT_ENOMEM;
    h->loop = loop;
    h->cb = cb;
    h->data = data;
    slt_buf_init(&h->req, len + 2 * SLT_URL_MAX_PATH + 1024);
    rc = slt_buf_printf(&h->req,
                        "POST %s HTTP/1.1\r\nHost: %s%s%s:%d\r\nUser-Agent: slitail\r\n"
                        "Content-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                        u->path, v6 ? "[" : "", u->host, v6 ? "]" : "", u->port, ctype, len);
    if (rc == 0)
        rc = slt_buf_append(&h->req, body, len);
    if (rc < 0) {
        slt_buf_release(&h->req);
        slt_free(h);
        return SLT_ENOMEM;
    }
    uv_timer_init(loop, &h->timer);
    h->timer.data = h;
    h->nopen = 1;
    uv_timer_start(&h->timer, on_timeout, (uint64_t)(timeout_ms > 0 ? timeout_ms : 1), 0);
    snprintf(h->port, sizeof(h->port), "%d", u->port);
    if (uv_ip4_addr(u->host, u->port, (struct sockaddr_in *)&ss) == 0 ||
        uv_ip6_addr(u->host, u->port, (struct sockaddr_in6 *)&ss) == 0) {
        rc = start_connect(h, (const struct sockaddr *)&ss);
    } else {
        struct addrinfo hints;

        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        h->gai.data = h;
        rc = uv_getaddrinfo(loop, &h->gai, on_resolved, u->host, h->port, &hints);
        if (rc == 0)
            h->gai_pending = 1;
    }
    if (rc < 0) {
        /* cb never runs for an error returned here: close quietly */
        h->cb = NULL;
        finish(h, rc); /* frees h once its handles closed */
        return rc;
    }
    if (out)
        *out = h;
    return 0;
}

void slt_httpc_cancel(struct slt_httpc *req)
{
    if (req)
        finish(req, UV_ECANCELED);
}
