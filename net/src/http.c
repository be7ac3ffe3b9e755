/* A small HTTP/1.1 server on a slt_conn and http-parser; see slt/http.h. */
#include "slt/http.h"

#include <arpa/inet.h>
#include <http_parser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <uv.h>

#include "slt/conn.h"

#define COMPONENT "http"
#define TLS_LOG_MS 10000

/* ------------------------------------------------------------------------------------------ */
/* Request reader                                                                              */

struct slt_http_in {
    http_parser parser;
    char *buf; /* bytes read but not yet parsed */
    size_t len;
    size_t cap;
    size_t max_header;
    size_t hdr_bytes; /* of the current request */
    char *target;
    size_t target_len;
    int in_message;
    int complete; /* a request was delivered; the parser is paused after it */
    int method;
    int keep_alive;
    int error_status;
    int failed;
    /* the Authorization header of the current request (the last one wins) */
    char *auth; /* room for max_header + 1 */
    size_t auth_len;
    int have_auth;
    char field[16]; /* the header name being read, lower case, when it fits */
    size_t field_len;
    int field_done; /* a value followed the name: the next name piece starts a new one */
    int in_auth;    /* the value being read is Authorization's */
};

static int in_limit(struct slt_http_in *in, size_t n)
{
    in->hdr_bytes += n;
    if (in->hdr_bytes > in->max_header) {
        in->error_status = 431;
        return -1;
    }
    return 0;
}

static int on_message_begin(http_parser *p)
{
    struct slt_http_in *in = p->data;

    in->in_message = 1;
    in->hdr_bytes = 0;
    in->target_len = 0;
    in->target[0] = '\0';
    in->have_auth = 0;
    in->auth_len = 0;
    in->auth[0] = '\0';
    in->field_len = 0;
    in->field_done = 1;
    in->in_auth = 0;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    struct slt_http_in *in = p->data;

    if (in_limit(in, n) < 0)
        return -1;
    /* hdr_bytes bounds target_len, and target has room for max_header + 1 */
    memcpy(in->target + in->target_len, at, n);
    in->target_len += n;
    in->target[in->target_len] = '\0';
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    struct slt_http_in *in = p->data;
    size_t i;

    /* ": " and CRLF count too, roughly: 2 bytes per field or value piece */
    if (in_limit(in, n + 2) < 0)
        return -1;
    if (in->field_done) {
        in->field_len = 0;
        in->field_done = 0;
        in->in_auth = 0;
    }
    for (i = 0; i < n; i++) {
        char ch = at[i];

        if (in->field_len >= sizeof(in->field) - 1) {
            in->field_len = sizeof(in->field); /* too long to be a name we want */
            break;
        }
        in->field[in->field_len++] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    struct slt_http_in *in = p->data;

    if (in_limit(in, n + 2) < 0)
        return -1;
    if (!in->field_done) {
        in->field_done = 1;
        in->in_auth = in->field_len == 13 && memcmp(in->field, "authorization", 13) == 0;
        if (in->in_auth) {
            in->auth_len = 0;
            in->have_auth = 1;
        }
    }
    if (in->in_auth) {
        /* hdr_bytes bounds auth_len, and auth has room for max_header + 1 */
        memcpy(in->auth + in->auth_len, at, n);
        in->auth_len += n;
        in->auth[in->auth_len] = '\0';
    }
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct slt_http_in *in = p->data;

    if (p->method != HTTP_GET && p->method != HTTP_HEAD) {
        in->error_status = 405;
        return -1;
    }
    if ((p->flags & F_CHUNKED) || (p->content_length > 0 && p->content_length != ULLONG_MAX)) {
        in->error_status = 413;
        return -1;
    }
    if (in->target_len == 0) {
        in->error_status = 400;
        return -1;
    }
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct slt_http_in *in = p->data;

    in->method = p->method == HTTP_HEAD ? SLT_HTTP_HEAD : SLT_HTTP_GET;
    in->keep_alive = http_should_keep_alive(p) && !p->upgrade;
    in->complete = 1;
    in->in_message = 0;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings in_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_message_complete = on_message_complete,
};

struct slt_http_in *slt_http_in_new(size_t max_header_bytes)
{
    struct slt_http_in *in = slt_calloc(1, sizeof(*in));

    if (!in)
        return NULL;
    in->max_header = max_header_bytes;
    in->cap = max_header_bytes < 4096 ? 4096 : max_header_bytes;
    in->buf = slt_malloc(in->cap);
    in->target = slt_malloc(max_header_bytes + 1);
    in->auth = slt_malloc(max_header_bytes + 1);
    if (!in->buf || !in->target || !in->auth) {
        slt_http_in_free(in);
        return NULL;
    }
    in->target[0] = '\0';
    in->auth[0] = '\0';
    http_parser_init(&in->parser, HTTP_REQUEST);
    in->parser.data = in;
    return in;
}

void slt_http_in_free(struct slt_http_in *in)
{
    if (!in)
        return;
    slt_free(in->buf);
    slt_free(in->target);
    slt_free(in->auth);
    slt_free(in);
}

/* Room to read into: *p, *room (0 when the buffer is full). */
static void slt_http_in_space(struct slt_http_in *in, char **p, size_t *room)
{
    *p = in->buf + in->len;
    *room = in->cap - in->len;
}

/* n bytes were written at the place slt_http_in_space gave. */
static void slt_http_in_wrote(struct slt_http_in *in, size_t n)
{
    if (n > in->cap - in->len)
        SLT_BUG("http input overrun");
    in->len += n;
}

int slt_http_in_feed(struct slt_http_in *in, const char *p, size_t n)
{
    if (n > in->cap - in->len)
        return SLT_ELIMIT;
    memcpy(in->buf + in->len, p, n);
    in->len += n;
    return 0;
}

enum slt_http_in_result slt_http_in_next(struct slt_http_in *in)
{
    size_t n;
    enum http_errno err;

    if (in->failed)
        return SLT_HTTP_IN_ERROR;
    if (in->complete) {
        in->complete = 0;
        http_parser_pause(&in->parser, 0);
    }
    if (in->len == 0)
        return SLT_HTTP_IN_NEED_MORE;
    n = http_parser_execute(&in->parser, &in_settings, in->buf, in->len);
    err = HTTP_PARSER_ERRNO(&in->parser);
    if (n > in->len)
        n = in->len;
    memmove(in->buf, in->buf + n, in->len - n);
    in->len -= n;
    if (in->complete)
        return SLT_HTTP_IN_REQUEST;
    if (err != HPE_OK) {
        in->failed = 1;
        if (!in->error_status)
            in->error_status = err == HPE_HEADER_OVERFLOW ? 431 : 400;
        return SLT_HTTP_IN_ERROR;
    }
    if (in->len > 0) {
        /* the parser consumes everything it is given unless it stops; be safe anyway */
        in->failed = 1;
        in->error_status = 400;
        return SLT_HTTP_IN_ERROR;
    }
    return SLT_HTTP_IN_NEED_MORE;
}

int slt_http_in_error_status(const struct slt_http_in *in)
{
    return in->error_status ? in->error_status : 400;
}

int slt_http_in_method(const struct slt_http_in *in)
{
    return in->complete ? in->method : 0;
}

const char *slt_http_in_target(const struct slt_http_in *in)
{
    return in->target;
}

const char *slt_http_in_authorization(const struct slt_http_in *in)
{
    return in->complete && in->have_auth ? in->auth : NULL;
}

int slt_http_in_keep_alive(const struct slt_http_in *in)
{
    return in->keep_alive;
}

int slt_http_in_started(const struct slt_http_in *in)
{
    return in->in_message || in->len > 0;
}

void slt_http_split_target(const char *target, struct slt_str *path, struct slt_str *query)
{
    const char *q = strchr(target, '?');
    const char *h = strchr(target, '#');
    size_t tlen = h ? (size_t)(h - target) : strlen(target);

    if (q && (size_t)(q - target) < tlen) {
        *path = slt_str_make(target, (size_t)(q - target));
        *query = slt_str_make(q + 1, tlen - (size_t)(q - target) - 1);
    } else {
        *path = slt_str_make(target, tlen);
        *query = slt_str_make(target + tlen, 0);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Pure helpers                                                                                */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long slt_http_pct_decode(const char *in, size_t len, char *out, size_t outmax, int plus_is_space)
{
    size_t i, o = 0;

    for (i = 0; i < len; i++) {
        int c = (unsigned char)in[i];

        if (c == '%') {
            int hi, lo;

            if (len - i < 3)
                return SLT_EPARSE;
            hi = hexval((unsigned char)in[i + 1]);
            lo = hexval((unsigned char)in[i + 2]);
            if (hi < 0 || lo < 0)
                return SLT_EPARSE;
            c = hi * 16 + lo;
            if (c == 0)
                return SLT_EPARSE;
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        } else if (c == 0) {
            return SLT_EPARSE;
        }
        if (o + 1 >= outmax)
            return SLT_ELIMIT; /* keep room for the terminator */
        out[o++] = (char)c;
    }
    if (outmax == 0)
        return SLT_ELIMIT;
    out[o] = '\0';
    return (long)o;
}

int slt_http_query_get(struct slt_str query, const char *name, char *out, size_t outmax)
{
    size_t nlen = strlen(name), i = 0;

    while (i <= query.len && query.len > 0) {
        const char *p = query.p + i;
        const char *amp = memchr(p, '&', query.len - i);
        size_t plen = amp ? (size_t)(amp - p) : query.len - i;
        const char *eq = memchr(p, '=', plen);
        size_t klen = eq ? (size_t)(eq - p) : plen;
        char key[64];
        long k;

        if (klen > 0) {
            k = slt_http_pct_decode(p, klen, key, sizeof(key), 1);
            if (k == (long)nlen && memcmp(key, name, nlen) == 0) {
                long v;

                if (!eq) {
                    if (outmax == 0)
                        return SLT_ELIMIT;
                    out[0] = '\0';
                    return 1;
                }
                v = slt_http_pct_decode(eq + 1, plen - klen - 1, out, outmax, 1);
                return v < 0 ? (int)v : 1;
            }
        }
        if (!amp)
            break;
        i += plen + 1;
    }
    return 0;
}

int slt_http_bearer_matches(const char *authorization, const char *token, size_t token_len)
{
    const char *p = authorization;
    size_t n;

    if (!p || strncasecmp(p, "bearer ", 7) != 0)
        return 0;
    p += 7;
    while (*p == ' ' || *p == '\t')
        p++;
    n = strlen(p);
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    return token_len > 0 && slt_ct_equal(p, n, token, token_len);
}

int slt_http_parse_listen(const char *listen, struct sockaddr_storage *addr)
{
    return slt_net_parse_listen(listen, addr);
}

/* The reason phrase for status ("Not Found"). */
static const char *slt_http_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 401:
        return "Unauthorized";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Payload Too Large";
    case 422:
        return "Unprocessable Content";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Unknown";
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Server                                                                                      */

enum conn_state {
    CONN_WAITING, /* for the first byte of a request (idle or fresh) */
    CONN_READING, /* a request started; the header timer runs */
    CONN_BUSY,    /* a request is with the handler or its answer is being written */
};

struct slt_http_conn {
    struct slt_conn *conn;
    uv_timer_t timer;
    struct slt_http_server *srv;
    struct slt_http_in *in;
    struct slt_http_req *req; /* with the handler, not answered yet */
    enum conn_state state;
    int fresh; /* no request answered yet: the header timer runs from accept */
    int keep_alive;
    int closing;
    int over_cap; /* accepted over max_conns: probe paths only, one request */
    int open_handles;
    char *wbuf;
    struct slt_http_conn *prev, *next;
};

struct slt_http_server {
    uv_loop_t *loop;
    struct slt_listener *listener;
    struct slt_http_limits limits;
    slt_http_handler_fn handler;
    void *data;
    struct slt_http_counters counters;
    struct slt_http_conn *conns;
    size_t nconns;
    size_t nover;    /* of nconns, accepted over max_conns */
    size_t nclosing; /* of nconns, closing (their handles not closed yet) */
    uint64_t tls_logged_ms, tls_unlogged;
    int port;
    int stopping;
    int listener_open;
    slt_closed_cb on_stopped;
    void *stopped_data;
};

static void conn_close(struct slt_http_conn *c);
static void conn_process(struct slt_http_conn *c);
static void on_alloc(struct slt_conn *sc, size_t hint, char **p, size_t *room);
static void on_read(struct slt_conn *sc, long nread);
static void tls_failed(struct slt_http_server *srv, struct slt_conn *sc);

static void maybe_stopped(struct slt_http_server *srv)
{
    slt_closed_cb cb;
    void *d;

    if (!srv->stopping || srv->listener_open || srv->conns)
        return;
    cb = srv->on_stopped;
    d = srv->stopped_data;
    slt_free(srv);
    if (cb)
        cb(d);
}

static void conn_handle_gone(struct slt_http_conn *c)
{
    struct slt_http_server *srv = c->srv;

    if (--c->open_handles > 0)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->nconns--;
    srv->nclosing--;
    if (c->over_cap)
        srv->nover--;
    slt_http_in_free(c->in);
    slt_free(c->wbuf);
    slt_free(c);
    maybe_stopped(srv);
}

static void on_timer_closed(uv_handle_t *h)
{
    conn_handle_gone(h->data);
}

static void on_conn_closed(struct slt_conn *sc)
{
    conn_handle_gone(slt_conn_data(sc));
}

static void conn_close(struct slt_http_conn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    c->srv->nclosing++;
    if (c->req) {
        c->req->conn = NULL; /* the handler still answers; the answer is dropped */
        c->req = NULL;
    }
    slt_conn_close(c->conn, on_conn_closed);
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}

static void on_timer(uv_timer_t *t)
{
    struct slt_http_conn *c = t->data;

    if (c->state == CONN_READING)
        c->srv->counters.header_timeouts++;
    conn_close(c);
}

static uint64_t header_timeout(const struct slt_http_conn *c)
{
    const struct slt_http_limits *l = &c->srv->limits;

    if (c->over_cap && l->probe_timeout_ms && l->probe_timeout_ms < l->header_timeout_ms)
        return l->probe_timeout_ms;
    return l->header_timeout_ms;
}

static void on_write(struct slt_conn *sc, int status, void *arg)
{
    struct slt_http_conn *c = arg;

    (void)sc;
    slt_free(c->wbuf);
    c->wbuf = NULL;
    if (c->closing)
        return;
    if (status < 0 || !c->keep_alive) {
        conn_close(c);
        return;
    }
    c->state = CONN_WAITING;
    c->fresh = 0;
    uv_timer_start(&c->timer, on_timer, c->srv->limits.idle_timeout_ms, 0);
    conn_process(c);
}

/* Sends a complete response and closes after it unless keep_alive. Takes ownership of buf. */
static void conn_send(struct slt_http_conn *c, char *buf, size_t len)
{
    int rc;

    c->wbuf = buf;
    c->state = CONN_BUSY;
    /* a client that does not read its answer is closed after the idle timeout */
    uv_timer_start(&c->timer, on_timer, c->srv->limits.idle_timeout_ms, 0);
    rc = slt_conn_write(c->conn, buf, len, on_write, c);
    if (rc < 0) {
        slt_free(buf);
        c->wbuf = NULL;
        conn_close(c);
    }
}

static char *build_response(int status, const char *ctype, const char *body, size_t len,
                            const char *extra, int head, int keep_alive, size_t *outlen)
{
    struct slt_buf b;

    slt_buf_init(&b, len + 1024 + (extra ? strlen(extra) : 0));
    if (slt_buf_printf(&b,
                       "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                       "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
                       "Connection: %s\r\n%s\r\n",
                       status, slt_http_reason(status), ctype, len,
                       keep_alive ? "keep-alive" : "close", extra ? extra : "") < 0 ||
        (!head && slt_buf_append(&b, body, len) < 0)) {
        slt_buf_release(&b);
        return NULL;
    }
    *outlen = b.len;
    return b.p;
}

static void count_status(struct slt_http_server *srv, int status)
{
    if (status >= 500)
        srv->counters.responses_5xx++;
    else if (status >= 400)
        srv->counters.responses_4xx++;
}

static void conn_error(struct slt_http_conn *c, int status)
{
    char body[160];
    char *buf;
    size_t len, blen;

    if (status != 503)
        c->srv->counters.bad_requests++;
    count_status(c->srv, status);
    blen = (size_t)snprintf(body, sizeof(body), "{\"error\":\"%s\",\"status\":%d}\n",
                            slt_http_reason(status), status);
    c->keep_alive = 0;
    slt_conn_read_stop(c->conn);
    buf = build_response(status, "application/json", body, blen,
                         status == 405 ? "Allow: GET, HEAD\r\n" : NULL, 0, 0, &len);
    if (!buf) {
        conn_close(c);
        return;
    }
    conn_send(c, buf, len);
}

static int is_probe_path(const struct slt_http_server *srv, struct slt_str path)
{
    const char *const *p;

    for (p = srv->limits.probe_paths; p && *p; p++)
        if (slt_str_eq(path, *p))
            return 1;
    return 0;
}

static void conn_dispatch(struct slt_http_conn *c)
{
    struct slt_http_server *srv = c->srv;
    struct slt_http_req *req = slt_calloc(1, sizeof(*req));
    const char *auth = slt_http_in_authorization(c->in);

    slt_conn_read_stop(c->conn);
    uv_timer_stop(&c->timer);
    c->state = CONN_BUSY;
    c->keep_alive = slt_http_in_keep_alive(c->in) && !srv->stopping && !c->over_cap;
    if (req) {
        req->target = slt_strdup(slt_http_in_target(c->in));
        if (auth)
            req->authorization = slt_strdup(auth);
    }
    if (!req || !req->target || (auth && !req->authorization)) {
        if (req) {
            slt_free(req->target);
            slt_free(req->authorization);
            slt_free(req);
        }
        conn_error(c, 500);
        return;
    }
    req->conn = c;
    req->method = (enum slt_http_method)slt_http_in_method(c->in);
    slt_http_split_target(req->target, &req->path, &req->query);
    req->start_ns = slt_mono_ns();
    srv->counters.requests++;
    if (c->over_cap && !is_probe_path(srv, req->path)) {
        slt_free(req->target);
        slt_free(req->authorization);
        slt_free(req);
        conn_error(c, 503);
        return;
    }
    c->req = req;
    srv->handler(req, srv->data);
}

/* Parses what is buffered: dispatches a request, answers an error, or reads on. */
static void conn_process(struct slt_http_conn *c)
{
    enum slt_http_in_result r;

    if (c->closing || c->state == CONN_BUSY)
        return;
    r = slt_http_in_next(c->in);
    if (r == SLT_HTTP_IN_REQUEST) {
        conn_dispatch(c);
        return;
    }
    if (r == SLT_HTTP_IN_ERROR) {
        conn_error(c, slt_http_in_error_status(c->in));
        return;
    }
    if (slt_http_in_started(c->in) && c->state == CONN_WAITING) {
        c->state = CONN_READING;
        /* a fresh connection's header timer has been running since accept */
        if (!c->fresh)
            uv_timer_start(&c->timer, on_timer, header_timeout(c), 0);
    }
    /* reading may have been stopped for the previous request */
    if (slt_conn_read_start(c->conn, on_alloc, on_read) < 0)
        conn_close(c);
}

static void on_alloc(struct slt_conn *sc, size_t hint, char **p, size_t *room)
{
    struct slt_http_conn *c = slt_conn_data(sc);

    (void)hint;
    slt_http_in_space(c->in, p, room);
}

static void on_read(struct slt_conn *sc, long nread)
{
    struct slt_http_conn *c = slt_conn_data(sc);

    if (nread < 0) {
        if (nread == SLT_EPROTO)
            tls_failed(c->srv, sc);
        conn_close(c);
        return;
    }
    slt_http_in_wrote(c->in, (size_t)nread);
    conn_process(c);
}

/* A failed TLS handshake: counted, and logged at most once per TLS_LOG_MS with a count. */
static void tls_failed(struct slt_http_server *srv, struct slt_conn *sc)
{
    uint64_t now = uv_now(srv->loop);

    srv->counters.tls_failures++;
    if (srv->tls_logged_ms && now - srv->tls_logged_ms < TLS_LOG_MS) {
        srv->tls_unlogged++;
        return;
    }
    slt_log(SLT_LOG_WARN, COMPONENT, "%s: %s (%llu more TLS failures since the last line)",
            slt_conn_peer(sc), slt_conn_error(sc), (unsigned long long)srv->tls_unlogged);
    srv->tls_logged_ms = now;
    srv->tls_unlogged = 0;
}

static void on_connection(struct slt_listener *l, struct slt_conn *sc)
{
    struct slt_http_server *srv = slt_listener_data(l);
    struct slt_http_conn *c;

    if (srv->stopping) {
        slt_conn_close(sc, NULL);
        return;
    }
    srv->counters.conns_accepted++;
    if (srv->nconns - srv->nclosing >= srv->limits.max_conns && srv->limits.evict_idle) {
        struct slt_http_conn *o, *oldest = NULL;

        /* the oldest connection without a request being answered makes room (slowloris) */
        for (o = srv->conns; o; o = o->next)
            if (!o->closing && o->state != CONN_BUSY)
                oldest = o;
        if (oldest) {
            srv->counters.conns_evicted++;
            conn_close(oldest);
        }
    }
    if (srv->nconns - srv->nclosing >= srv->limits.max_conns &&
        (!srv->limits.probe_paths || srv->nover >= srv->limits.probe_conns)) {
        srv->counters.conns_refused++;
        slt_conn_close(sc, NULL);
        return;
    }
    c = slt_calloc(1, sizeof(*c));
    if (c)
        c->in = slt_http_in_new(srv->limits.max_header_bytes);
    if (!c || !c->in) {
        slt_log(SLT_LOG_ERROR, COMPONENT, "cannot serve a connection: out of memory");
        if (c)
            slt_free(c);
        slt_conn_close(sc, NULL);
        return;
    }
    c->srv = srv;
    c->conn = sc;
    slt_conn_set_data(sc, c);
    uv_timer_init(srv->loop, &c->timer);
    c->timer.data = c;
    c->open_handles = 2;
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->nconns++;
    if (srv->nconns - srv->nclosing > srv->limits.max_conns) {
        c->over_cap = 1;
        srv->nover++;
        srv->counters.conns_over_cap++;
    }
    c->state = CONN_WAITING;
    c->fresh = 1;
    uv_timer_start(&c->timer, on_timer, header_timeout(c), 0);
    if (slt_conn_read_start(sc, on_alloc, on_read) < 0)
        conn_close(c);
}

void slt_http_respond(struct slt_http_req *req, int status, const char *content_type,
                      const char *body, size_t len, const char *extra_headers)
{
    struct slt_http_conn *c = req->conn;
    char *buf;
    size_t blen;

    if (c) {
        c->req = NULL;
        count_status(c->srv, status);
        buf = build_response(status, content_type, body, len, extra_headers,
                             req->method == SLT_HTTP_HEAD, c->keep_alive, &blen);
        if (buf)
            conn_send(c, buf, blen);
        else
            conn_close(c);
    }
    slt_free(req->target);
    slt_free(req->authorization);
    slt_free(req);
}

int slt_http_server_start(struct uv_loop_s *loop, const char *listen,
                          const struct slt_http_limits *limits, slt_http_handler_fn handler,
                          void *data, struct slt_http_server **out)
{
    return slt_http_server_start_tls(loop, listen, limits, NULL, handler, data, out);
}

int slt_http_server_start_tls(struct uv_loop_s *loop, const char *listen,
                              const struct slt_http_limits *limits, struct slt_tls *tls,
                              slt_http_handler_fn handler, void *data, struct slt_http_server **out)
{
    static const struct slt_http_limits defaults = SLT_HTTP_LIMITS_DEFAULT;
    struct slt_http_server *srv;
    char err[300];
    int rc;

    srv = slt_calloc(1, sizeof(*srv));
    if (!srv)
        return SLT_ENOMEM;
    srv->loop = loop;
    srv->limits = limits ? *limits : defaults;
    srv->handler = handler;
    srv->data = data;
    rc =
        slt_listener_start(loop, listen, tls, on_connection, srv, &srv->listener, err, sizeof(err));
    if (rc < 0) {
        slt_log(SLT_LOG_ERROR, COMPONENT, "%s", err);
        slt_free(srv);
        return rc;
    }
    srv->listener_open = 1;
    srv->port = slt_listener_port(srv->listener);
    *out = srv;
    return 0;
}

int slt_http_server_port(const struct slt_http_server *srv)
{
    return srv->port;
}

const struct slt_http_counters *slt_http_server_counters(const struct slt_http_server *srv)
{
    return &srv->counters;
}

size_t slt_http_server_conns(const struct slt_http_server *srv)
{
    return srv->nconns;
}

static void on_listener_closed(void *data)
{
    struct slt_http_server *srv = data;

    srv->listener_open = 0;
    maybe_stopped(srv);
}

void slt_http_server_close(struct slt_http_server *srv, slt_closed_cb on_stopped, void *data)
{
    struct slt_http_conn *c, *next;

    if (!srv) {
        if (on_stopped)
            on_stopped(data);
        return;
    }
    if (srv->stopping)
        return;
    srv->stopping = 1;
    srv->on_stopped = on_stopped;
    srv->stopped_data = data;
    for (c = srv->conns; c; c = next) {
        next = c->next;
        conn_close(c);
    }
    slt_listener_close(srv->listener, on_listener_closed, srv);
    srv->listener = NULL;
}
