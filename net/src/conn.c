/* Connections and listeners on libuv TCP; plain TCP's operations. See slt/conn.h. */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conn_internal.h"

#define COMPONENT "net"
#define BACKLOG 511

/* ------------------------------------------------------------------------------------------ */
/* Plain TCP                                                                                   */

static void on_tcp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct slt_conn *c = h->data;
    char *p = NULL;
    size_t room = 0;

    if (c->reading && c->alloc_cb)
        c->alloc_cb(c, suggested, &p, &room);
    *buf = uv_buf_init(p, (unsigned int)room);
}

static void on_tcp_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct slt_conn *c = s->data;

    (void)buf;
    if (c->closing || nread == 0 || !c->reading)
        return;
    c->read_cb(c, (long)nread);
}

static int tcp_read_start(struct slt_conn *c)
{
    int rc = uv_read_start((uv_stream_t *)&c->tcp, on_tcp_alloc, on_tcp_read);

    return rc == UV_EALREADY ? 0 : rc;
}

static void tcp_read_stop(struct slt_conn *c)
{
    uv_read_stop((uv_stream_t *)&c->tcp);
}

static void on_written(uv_write_t *req, int status)
{
    struct slt__conn_wreq *w = (struct slt__conn_wreq *)req;
    struct slt_conn *c = w->c;

    c->write_queued -= w->len;
    if (w->cb)
        w->cb(c, status, w->arg);
    slt_free(w);
}

/* Writes w->data[0..n) (TLS: ciphertext w owns); w->len user bytes are accounted until cb. */
int slt__conn_write_owned(struct slt_conn *c, struct slt__conn_wreq *w, size_t n)
{
    uv_buf_t b = uv_buf_init(w->data, (unsigned int)n);
    int rc;

    w->c = c;
    rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    if (rc < 0)
        return rc;
    c->write_queued += w->len;
    return 0;
}

/* Plain TCP writes the caller's buffer as is: it lives until cb. */
static int tcp_write(struct slt_conn *c, const char *p, size_t len, slt_conn_write_cb cb, void *arg)
{
    struct slt__conn_wreq *w;
    uv_buf_t b;
    int rc;

    if (len > UINT32_MAX)
        return SLT_ELIMIT;
    w = slt_malloc(sizeof(*w));
    if (!w)
        return SLT_ENOMEM;
    w->c = c;
    w->cb = cb;
    w->arg = arg;
    w->len = len;
    b = uv_buf_init((char *)p, (unsigned int)len);
    rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    if (rc < 0) {
        slt_free(w);
        return rc;
    }
    c->write_queued += len;
    return 0;
}

void slt__conn_handle_closed(uv_handle_t *h)
{
    struct slt_conn *c = h->data;
    slt_conn_close_cb cb;

    if (--c->open_handles > 0)
        return;
    cb = c->close_cb;
    if (c->tls)
        slt__tls_conn_free(c);
    if (cb)
        cb(c);
    slt_free(c);
}

static void tcp_close(struct slt_conn *c)
{
    uv_close((uv_handle_t *)&c->tcp, slt__conn_handle_closed);
}

static const struct slt_conn_ops tcp_ops = {
    .name = "tcp",
    .read_start = tcp_read_start,
    .read_stop = tcp_read_stop,
    .write = tcp_write,
    .close = tcp_close,
};

static struct slt_conn *conn_new(uv_loop_t *loop)
{
    struct slt_conn *c = slt_calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->ops = &tcp_ops;
    c->loop = loop;
    uv_tcp_init(loop, &c->tcp);
    c->tcp.data = c;
    c->creq.data = c;
    c->open_handles = 1;
    snprintf(c->peer, sizeof(c->peer), "?");
    snprintf(c->peer_ip, sizeof(c->peer_ip), "?");
    return c;
}

static void set_peer(struct slt_conn *c)
{
    struct sockaddr_storage ss;
    int namelen = sizeof(ss);
    char ip[48] = "?";

    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &namelen) != 0)
        return;
    if (ss.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof(ip));
        snprintf(c->peer, sizeof(c->peer), "[%s]:%d", ip,
                 ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
    } else {
        uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip));
        snprintf(c->peer, sizeof(c->peer), "%s:%d", ip,
                 ntohs(((struct sockaddr_in *)&ss)->sin_port));
    }
    snprintf(c->peer_ip, sizeof(c->peer_ip), "%s", ip);
}

/* ------------------------------------------------------------------------------------------ */
/* The connection API                                                                          */

void slt_conn_set_data(struct slt_conn *c, void *data)
{
    c->data = data;
}

void *slt_conn_data(const struct slt_conn *c)
{
    return c->data;
}

const char *slt_conn_peer(const struct slt_conn *c)
{
    return c->peer;
}

const char *slt_conn_peer_ip(const struct slt_conn *c)
{
    return c->peer_ip;
}

const char *slt_conn_error(const struct slt_conn *c)
{
    return c->err;
}

int slt_conn_read_start(struct slt_conn *c, slt_conn_alloc_cb alloc_cb, slt_conn_read_cb read_cb)
{
    if (c->closing)
        return UV_ECANCELED;
    c->alloc_cb = alloc_cb;
    c->read_cb = read_cb;
    c->reading = 1;
    return c->ops->read_start(c);
}

void slt_conn_read_stop(struct slt_conn *c)
{
    if (!c->reading)
        return;
    c->reading = 0;
    if (!c->closing)
        c->ops->read_stop(c);
}

int slt_conn_write(struct slt_conn *c, const char *p, size_t len, slt_conn_write_cb cb, void *arg)
{
    if (c->closing)
        return UV_ECANCELED;
    return c->ops->write(c, p, len, cb, arg);
}

size_t slt_conn_write_queued(const struct slt_conn *c)
{
    return c->write_queued;
}

void slt_conn_close(struct slt_conn *c, slt_conn_close_cb cb)
{
    if (c->closing)
        return;
    c->closing = 1;
    c->reading = 0;
    c->close_cb = cb;
    c->ops->close(c);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct slt_conn *c = req->data;

    if (c->closing)
        return;
    if (status == 0) {
        set_peer(c);
        uv_tcp_nodelay(&c->tcp, 1);
        if (c->tls) {
            slt__tls_conn_start(c); /* connect_cb runs once the handshake ends */
            return;
        }
    }
    c->connect_cb(c, status);
}

int slt_conn_connect(struct uv_loop_s *loop, const struct sockaddr *addr, struct slt_tls *tls,
                     const char *server_name, slt_conn_connect_cb cb, void *data,
                     struct slt_conn **out)
{
    struct slt_conn *c = conn_new(loop);
    int rc;

    if (!c)
        return SLT_ENOMEM;
    c->connect_cb = cb;
    c->data = data;
    if (tls && (rc = slt__tls_conn_attach(c, tls, 0, server_name)) < 0) {
        slt_conn_close(c, NULL);
        return rc;
    }
    rc = uv_tcp_connect(&c->creq, &c->tcp, addr, on_connect);
    if (rc < 0) {
        slt_conn_close(c, NULL);
        return rc;
    }
    *out = c;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Addresses                                                                                   */

int slt_net_parse_listen(const char *listen, struct sockaddr_storage *addr)
{
    char host[256];
    const char *colon, *port_s;
    size_t hlen;
    char *end;
    long port;
    struct addrinfo hints, *res = NULL;
    int rc;

    if (!listen)
        return SLT_EINVAL;
    if (listen[0] == '[') {
        const char *rb = strchr(listen, ']');

        if (!rb || rb[1] != ':')
            return SLT_EINVAL;
        hlen = (size_t)(rb - listen - 1);
        if (hlen >= sizeof(host))
            return SLT_EINVAL;
        memcpy(host, listen + 1, hlen);
        port_s = rb + 2;
    } else {
        colon = strrchr(listen, ':');
        if (!colon)
            return SLT_EINVAL;
        hlen = (size_t)(colon - listen);
        if (hlen >= sizeof(host))
            return SLT_EINVAL;
        memcpy(host, listen, hlen);
        port_s = colon + 1;
        if (memchr(host, ':', hlen))
            return SLT_EINVAL; /* a bare IPv6 address needs brackets */
    }
    host[hlen] = '\0';
    if (*port_s == '\0')
        return SLT_EINVAL;
    port = strtol(port_s, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535)
        return SLT_EINVAL;
    memset(addr, 0, sizeof(*addr));
    if (hlen == 0 || strcmp(host, "*") == 0) {
        struct sockaddr_in *a4 = (struct sockaddr_in *)addr;

        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        a4->sin_addr.s_addr = htonl(INADDR_ANY);
        return 0;
    }
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_NUMERICHOST | AI_PASSIVE;
    rc = getaddrinfo(host, port_s, &hints, &res);
    if (rc != 0 || !res)
        return SLT_EINVAL;
    if (res->ai_addrlen > sizeof(*addr)) {
        freeaddrinfo(res);
        return SLT_EINVAL;
    }
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

int slt_net_is_loopback(const struct sockaddr_storage *addr)
{
    if (addr->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)addr)->sin_addr.s_addr) >> 24) == 127;
    if (addr->ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)addr)->sin6_addr;
        static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

        if (IN6_IS_ADDR_LOOPBACK(a))
            return 1;
        return memcmp(a->s6_addr, v4mapped, 12) == 0 && a->s6_addr[12] == 127;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Listener                                                                                    */

struct slt_listener {
    uv_loop_t *loop;
    uv_tcp_t tcp;
    struct slt_tls *tls;
    slt_listener_cb cb;
    void *data;
    int port;
    void (*closed_cb)(void *data);
    void *closed_data;
};

static void on_connection(uv_stream_t *ls, int status)
{
    struct slt_listener *l = ls->data;
    struct slt_conn *c;
    int rc;

    if (status < 0) {
        slt_log(SLT_LOG_WARN, COMPONENT, "accept failed: %s", uv_strerror(status));
        return;
    }
    c = conn_new(l->loop);
    if (!c) {
        /* libuv keeps the connection queued and retries on the next one */
        slt_log(SLT_LOG_ERROR, COMPONENT, "cannot accept a connection: out of memory");
        return;
    }
    if ((rc = uv_accept(ls, (uv_stream_t *)&c->tcp)) < 0) {
        slt_log(SLT_LOG_WARN, COMPONENT, "accept failed: %s", uv_strerror(rc));
        slt_conn_close(c, NULL);
        return;
    }
    set_peer(c);
    uv_tcp_nodelay(&c->tcp, 1);
    if (l->tls && (rc = slt__tls_conn_attach(c, l->tls, 1, NULL)) < 0) {
        slt_log(SLT_LOG_WARN, COMPONENT, "cannot start TLS with %s: %s", c->peer, slt_strerror(rc));
        slt_conn_close(c, NULL);
        return;
    }
    l->cb(l, c);
}

int slt_listener_start(struct uv_loop_s *loop, const char *listen, struct slt_tls *tls,
                       slt_listener_cb cb, void *data, struct slt_listener **out, char *err,
                       size_t errlen)
{
    struct sockaddr_storage addr, bound;
    struct slt_listener *l;
    int rc, namelen = sizeof(bound);

    if (slt_net_parse_listen(listen, &addr) < 0) {
        snprintf(err, errlen, "bad listen address '%s': want host:port with a numeric host",
                 listen ? listen : "");
        return SLT_EINVAL;
    }
    l = slt_calloc(1, sizeof(*l));
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return SLT_ENOMEM;
    }
    l->loop = loop;
    l->tls = tls;
    l->cb = cb;
    l->data = data;
    uv_tcp_init(loop, &l->tcp);
    l->tcp.data = l;
    rc = uv_tcp_bind(&l->tcp, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&l->tcp, BACKLOG, on_connection);
    if (rc < 0) {
        snprintf(err, errlen, "cannot listen on '%s': %s", listen, uv_strerror(rc));
        slt_listener_close(l, NULL, NULL);
        return rc;
    }
    if (uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&bound, &namelen) == 0)
        l->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                    : ((struct sockaddr_in *)&bound)->sin_port);
    *out = l;
    return 0;
}

void *slt_listener_data(const struct slt_listener *l)
{
    return l->data;
}

int slt_listener_port(const struct slt_listener *l)
{
    return l->port;
}

static void on_listener_closed(uv_handle_t *h)
{
    struct slt_listener *l = h->data;
    void (*cb)(void *) = l->closed_cb;
    void *d = l->closed_data;

    slt_free(l);
    if (cb)
        cb(d);
}

void slt_listener_close(struct slt_listener *l, slt_closed_cb cb, void *data)
{
    if (!l) {
        if (cb)
            cb(data);
        return;
    }
    if (uv_is_closing((uv_handle_t *)&l->tcp))
        return;
    l->closed_cb = cb;
    l->closed_data = data;
    uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
}
