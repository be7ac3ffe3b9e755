/*
 * The agent's own health: state_dir/status.json rewritten every flush (read by
 * `slitail-agent -c CONFIG --status`) and, with agent.status_listen, a loopback-only HTTP
 * endpoint: GET /status (the same JSON) and GET /metrics (Prometheus text).
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "agent.h"

#define MAX_FILES 256 /* files listed per input */
#define HTTP_MAX_REQ 4096
#define HTTP_MAX_CLIENTS 16
#define HTTP_CLIENT_MS 5000

static const char *conn_name(enum slt_conn_state st)
{
    switch (st) {
    case SLT_CONN_UP:
        return "connected";
    case SLT_CONN_CONNECTING:
    case SLT_CONN_HELLO:
        return "connecting";
    default:
        return "down";
    }
}

static void json_str(struct slt_buf *b, const char *s)
{
    slt_buf_append(b, "\"", 1);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\')
            slt_buf_printf(b, "\\%c", c);
        else if (c < 0x20)
            slt_buf_printf(b, "\\u%04x", c);
        else
            slt_buf_append(b, s, 1);
    }
    slt_buf_append(b, "\"", 1);
}

/* Prometheus label values: escape backslash, quote and newline. */
static void prom_label(struct slt_buf *b, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '\\' || *s == '"')
            slt_buf_printf(b, "\\%c", *s);
        else if (*s == '\n')
            slt_buf_append(b, "\\n", 2);
        else
            slt_buf_append(b, s, 1);
    }
}

static uint64_t hash_str(const char *s)
{
    return slt_path_hash(s);
}

static uint64_t file_unparsed(const struct slt_agent *a, const char *path)
{
    uint64_t h = slt_path_hash(path);
    size_t i;

    for (i = 0; i < a->nunparsed_by_file; i++)
        if (a->unparsed_by_file[i].path_hash == h)
            return a->unparsed_by_file[i].lines;
    return 0;
}

static uint64_t prev_lines(struct slt_agent *a, uint64_t h, int *found)
{
    size_t i;

    for (i = 0; i < a->nrates; i++)
        if (a->rates[i].path_hash == h) {
            *found = 1;
            return a->rates[i].lines;
        }
    *found = 0;
    return 0;
}

struct file_view {
    struct slt_tail_file_stats st;
    const struct slt_agent_input *in;
    double lines_per_sec;
    double lag_seconds;
};

/* Snapshot of every file, with rates against the previous call when update_rates. */
static size_t collect_files(struct slt_agent *a, struct file_view *out, size_t max,
                            int update_rates)
{
    struct slt_tail_file_stats st[MAX_FILES];
    int64_t now = slt_now_ms();
    double dt = a->status_ms ? (double)(now - a->status_ms) / 1000.0 : 0.0;
    size_t i, k, n = 0;

    for (i = 0; i < a->ninputs; i++) {
        struct slt_agent_input *in = &a->inputs[i];
        size_t m;

        if (!in->tail)
            continue;
        m = slt_tail_stats(in->tail, st, MAX_FILES);
        if (m > MAX_FILES)
            m = MAX_FILES;
        for (k = 0; k < m && n < max; k++) {
            struct file_view *v = &out[n++];
            int found;
            uint64_t prev = prev_lines(a, hash_str(st[k].path ? st[k].path : ""), &found);

            v->st = st[k];
            v->in = in;
            v->lines_per_sec =
                found && dt > 0 && st[k].lines >= prev ? (double)(st[k].lines - prev) / dt : 0.0;
            v->lag_seconds = 0;
            if (st[k].size > st[k].offset && in->last_event_s > 0)
                v->lag_seconds = (double)(now / 1000 - in->last_event_s);
            if (v->lag_seconds < 0)
                v->lag_seconds = 0;
        }
    }
    if (update_rates) {
        struct slt_file_rate *r = slt_calloc(n ? n : 1, sizeof(*r));

        if (r) {
            for (k = 0; k < n; k++) {
                r[k].path_hash = hash_str(out[k].st.path ? out[k].st.path : "");
                r[k].lines = out[k].st.lines;
            }
            slt_free(a->rates);
            a->rates = r;
            a->nrates = n;
            a->status_ms = now;
        }
    }
    return n;
}

static void render_json(struct slt_agent *a, struct slt_buf *b, struct file_view *fv, size_t nf)
{
    struct slt_spool *sp = a->spool;
    size_t i, k, r;
    int first;

    slt_buf_printf(b, "{\n  \"agent_id\": ");
    json_str(b, a->agent_id);
    slt_buf_printf(b,
                   ",\n  \"pid\": %d,\n  \"updated_ms\": %" PRId64 ",\n  \"started_ms\": %" PRId64
                   ",\n  \"epoch\": %" PRIu64 ",\n  \"seq\": %" PRIu64
                   ",\n  \"last_acked_seq\": %" PRIu64 ",\n",
                   (int)getpid(), slt_now_ms(), a->started_ms, a->epoch, a->seq, a->last_acked_seq);
    slt_buf_printf(b, "  \"connection\": {\"state\": \"%s\", \"address\": ",
                   a->ship ? conn_name(slt_ship_state(a->ship)) : "down");
    json_str(b, a->ship ? slt_ship_address(a->ship) : "");
    slt_buf_printf(b, ", \"connects\": %" PRIu64 ", \"failures\": %" PRIu64 "},\n",
                   a->ship ? slt_ship_connects(a->ship) : 0,
                   a->ship ? slt_ship_failures(a->ship) : 0);
    slt_buf_printf(b,
                   "  \"spool\": {\"batches\": %zu, \"bytes\": %" PRIu64
                   ", \"unacked_batches\": %" PRIu64 ", \"unacked_bytes\": %" PRIu64
                   ", \"max_bytes\": %" PRIu64 ", \"repaired_bytes\": %" PRIu64
                   ", \"pruned_early\": %" PRIu64 "},\n",
                   slt_spool_count(sp), sp->bytes, sp->unacked, sp->unacked_bytes, sp->max_bytes,
                   sp->repaired_bytes, sp->pruned_early);
    slt_buf_printf(b, "  \"backpressure\": %s,\n", a->paused_full ? "true" : "false");
    slt_buf_printf(b,
                   "  \"counters\": {\"batches\": %" PRIu64 ", \"early_closes\": %" PRIu64
                   ", \"acked\": %" PRIu64 ", \"duplicates\": %" PRIu64 ", \"rejected\": %" PRIu64
                   ", \"retries\": %" PRIu64 ", \"gaps\": %" PRIu64
                   ", \"unrecoverable_gaps\": %" PRIu64 ", \"abandoned\": %" PRIu64
                   ", \"stale_epochs\": %" PRIu64 ", \"given_up\": %" PRIu64
                   ", \"spool_errors\": %" PRIu64 ", \"backpressure_events\": %" PRIu64
                   ", \"reloads\": %" PRIu64 ", \"reload_failures\": %" PRIu64 "},\n",
                   a->batches, a->early_closes, a->acked, a->duplicates, a->rejected, a->retries,
                   a->gaps, a->unrecoverable_gaps, a->abandoned, a->stale_epochs, a->given_up,
                   a->spool_errors,
                   a->backpressure_events, a->reloads, a->reload_failures);
    slt_buf_printf(b, "  \"inputs\": [");
    for (i = 0; i < a->ninputs; i++) {
        struct slt_agent_input *in = &a->inputs[i];

        slt_buf_printf(b, "%s\n    {\"name\": ", i ? "," : "");
        json_str(b, in->name);
        slt_buf_printf(b,
                       ", \"lines\": %" PRIu64 ", \"unparsed\": %" PRIu64 ", \"oversize\": %" PRIu64
                       ", \"good\": %" PRIu64 ", \"bad\": %" PRIu64 ", \"excluded\": %" PRIu64
                       ", \"truncations\": %" PRIu64 ",\n     \"unparsed_reasons\": {",
                       in->lines, in->unparsed, in->oversize, in->cls[SLT_GOOD], in->cls[SLT_BAD],
                       in->cls[SLT_EXCLUDED], in->tail ? slt_tail_truncations(in->tail) : 0);
        first = 1;
        for (r = 1; r < SLT_UP__COUNT; r++) {
            if (!in->reasons[r])
                continue;
            slt_buf_printf(b, "%s\"%s\": %" PRIu64, first ? "" : ", ", slt_unparsed_name((int)r),
                           in->reasons[r]);
            first = 0;
        }
        slt_buf_printf(b, "},\n     \"files\": [");
        first = 1;
        for (k = 0; k < nf; k++) {
            const struct slt_tail_file_stats *f = &fv[k].st;

            if (fv[k].in != in)
                continue;
            slt_buf_printf(b, "%s\n       {\"path\": ", first ? "" : ",");
            json_str(b, f->path);
            slt_buf_printf(b,
                           ", \"offset\": %" PRIu64 ", \"size\": %" PRIu64
                           ", \"lag_bytes\": %" PRIu64 ", \"lag_seconds\": %.0f"
                           ", \"lines\": %" PRIu64 ", \"lines_per_sec\": %.1f"
                           ", \"unparsed\": %" PRIu64 ", \"oversize\": %" PRIu64
                           ", \"truncations\": %" PRIu64 ", \"errors\": %" PRIu64 "}",
                           f->offset, f->size, f->size > f->offset ? f->size - f->offset : 0,
                           fv[k].lag_seconds, f->lines, fv[k].lines_per_sec,
                           file_unparsed(a, f->path), f->oversize, f->truncations, f->errors);
            first = 0;
        }
        slt_buf_printf(b, "]}");
    }
    slt_buf_printf(b, "\n  ]\n}\n");
}

static void prom(struct slt_buf *b, const char *name, const char *type, const char *help,
                 uint64_t v)
{
    slt_buf_printf(b, "# HELP slitail_agent_%s %s\n# TYPE slitail_agent_%s %s\n", name, help, name,
                   type);
    slt_buf_printf(b, "slitail_agent_%s %" PRIu64 "\n", name, v);
}

static void render_prom(struct slt_agent *a, struct slt_buf *b, struct file_view *fv, size_t nf)
{
    struct slt_spool *sp = a->spool;
    enum slt_conn_state cs = a->ship ? slt_ship_state(a->ship) : SLT_CONN_DOWN;
    size_t i, k;
    static const struct {
        const char *name, *help;
        size_t off;
    } in_counters[] = {
        {"input_lines_total", "lines read", offsetof(struct slt_agent_input, lines)},
        {"input_unparsed_total", "lines that did not parse",
         offsetof(struct slt_agent_input, unparsed)},
        {"input_oversize_total", "lines over max_line", offsetof(struct slt_agent_input, oversize)},
    };

    prom(b, "connected", "gauge", "1 when connected to an aggregator", cs == SLT_CONN_UP);
    prom(b, "spool_batches", "gauge", "batches in the spool", slt_spool_count(sp));
    prom(b, "spool_bytes", "gauge", "bytes in the spool", sp->bytes);
    prom(b, "spool_unacked_batches", "gauge", "batches not yet acknowledged", sp->unacked);
    prom(b, "spool_max_bytes", "gauge", "spool bound", sp->max_bytes);
    prom(b, "backpressure", "gauge", "1 while reading is paused because the spool is full",
         (uint64_t)a->paused_full);
    prom(b, "last_acked_seq", "gauge", "last acknowledged batch seq", a->last_acked_seq);
    prom(b, "batches_total", "counter", "batches closed", a->batches);
    prom(b, "acked_total", "counter", "batches applied by the aggregator", a->acked);
    prom(b, "duplicates_total", "counter", "batches the aggregator already had", a->duplicates);
    prom(b, "rejected_total", "counter", "REJECTED answers", a->rejected);
    prom(b, "stale_epochs_total", "counter",
         "REJECTED for a stale epoch: moved to a larger epoch and resent", a->stale_epochs);
    prom(b, "batches_given_up_total", "counter",
         "batches dropped for good (rejected as invalid, or not carried into a new epoch)",
         a->given_up);
    prom(b, "retries_total", "counter", "RETRY answers", a->retries);
    prom(b, "gaps_total", "counter", "GAP answers", a->gaps);
    prom(b, "unrecoverable_gaps_total", "counter",
         "GAPs whose batches were no longer spooled (new epoch)", a->unrecoverable_gaps);
    prom(b, "backpressure_events_total", "counter", "times the spool filled up",
         a->backpressure_events);
    prom(b, "spool_errors_total", "counter", "failed spool appends", a->spool_errors);
    prom(b, "reload_failures_total", "counter", "rejected reloads", a->reload_failures);
    prom(b, "connects_total", "counter", "sessions established",
         a->ship ? slt_ship_connects(a->ship) : 0);
    for (k = 0; k < SLT_ARRAY_SIZE(in_counters); k++) {
        slt_buf_printf(b, "# HELP slitail_agent_%s %s\n# TYPE slitail_agent_%s counter\n",
                       in_counters[k].name, in_counters[k].help, in_counters[k].name);
        for (i = 0; i < a->ninputs; i++) {
            const struct slt_agent_input *in = &a->inputs[i];
            uint64_t v;

            memcpy(&v, (const char *)in + in_counters[k].off, sizeof(v));
            slt_buf_printf(b, "slitail_agent_%s{input=\"", in_counters[k].name);
            prom_label(b, in->name);
            slt_buf_printf(b, "\"} %" PRIu64 "\n", v);
        }
    }
    {
        static const struct {
            const char *name, *type, *help;
        } fm[] = {
            {"file_offset_bytes", "gauge", "next byte to read"},
            {"file_lag_bytes", "gauge", "bytes written and not yet read"},
            {"file_lines_total", "counter", "lines read since the agent started"},
            {"file_truncations_total", "counter", "truncations seen"},
        };

        /* one family at a time: Prometheus wants a family's samples together */
        for (i = 0; i < SLT_ARRAY_SIZE(fm); i++) {
            slt_buf_printf(b, "# HELP slitail_agent_%s %s\n# TYPE slitail_agent_%s %s\n",
                           fm[i].name, fm[i].help, fm[i].name, fm[i].type);
            for (k = 0; k < nf; k++) {
                const struct slt_tail_file_stats *f = &fv[k].st;
                uint64_t vals[] = {f->offset, f->size > f->offset ? f->size - f->offset : 0,
                                   f->lines, f->truncations};

                slt_buf_printf(b, "slitail_agent_%s{input=\"", fm[i].name);
                prom_label(b, fv[k].in->name);
                slt_buf_printf(b, "\",path=\"");
                prom_label(b, f->path);
                slt_buf_printf(b, "\"} %" PRIu64 "\n", vals[i]);
            }
        }
    }
}

int slt_status_render(struct slt_agent *a, int prometheus, struct slt_buf *out)
{
    struct file_view *fv = slt_calloc(MAX_FILES, sizeof(*fv));
    size_t nf;

    if (!fv)
        return SLT_ENOMEM;
    nf = collect_files(a, fv, MAX_FILES, !prometheus);
    if (prometheus)
        render_prom(a, out, fv, nf);
    else
        render_json(a, out, fv, nf);
    slt_free(fv);
    return 0;
}

int slt_status_write(struct slt_agent *a)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    struct slt_buf b;
    FILE *f;
    int rc = 0;

    slt_buf_init(&b, 16u << 20);
    if ((rc = slt_status_render(a, 0, &b)) < 0)
        goto out;
    snprintf(path, sizeof(path), "%s/status.json", a->state_dir);
    snprintf(tmp, sizeof(tmp), "%s/status.json.tmp", a->state_dir);
    f = fopen(tmp, "w");
    if (!f) {
        rc = SLT_EINVAL;
        goto out;
    }
    if (fwrite(b.p, 1, b.len, f) != b.len)
        rc = SLT_EINVAL;
    if (fclose(f) != 0)
        rc = SLT_EINVAL;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = SLT_EINVAL;
out:
    slt_buf_release(&b);
    return rc;
}

/* ---- loopback HTTP ---- */

struct http_client;

struct slt_status_http {
    struct slt_agent *a;
    uv_tcp_t server;
    uv_timer_t reaper;           /* closes clients that are too slow */
    struct http_client *clients; /* open ones, closed with the server */
    int nclients;
    int closing;
    int open; /* handles not yet closed: server, reaper, clients */
};

struct http_client {
    uv_tcp_t tcp;
    uint64_t accepted_ms; /* uv_now() */
    struct slt_status_http *h;
    struct http_client *next, **pprev;
    char req[HTTP_MAX_REQ];
    size_t len;
    int done;
};

struct http_write {
    uv_write_t req;
    struct http_client *c;
    struct slt_buf body;
};

static void http_maybe_free(struct slt_status_http *h)
{
    if (h->closing && h->open == 0)
        slt_free(h);
}

static void on_client_closed(uv_handle_t *hd)
{
    struct http_client *c = hd->data;
    struct slt_status_http *h = c->h;

    if (c->next)
        c->next->pprev = c->pprev;
    *c->pprev = c->next;
    slt_free(c);
    h->nclients--;
    h->open--;
    http_maybe_free(h);
}

static void client_close(struct http_client *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_client_closed);
}

static void on_http_written(uv_write_t *req, int status)
{
    struct http_write *w = (struct http_write *)req;

    (void)status;
    client_close(w->c);
    slt_buf_release(&w->body);
    slt_free(w);
}

static void respond(struct http_client *c, int code, const char *ctype, struct slt_buf *body)
{
    struct http_write *w = slt_calloc(1, sizeof(*w));
    uv_buf_t bufs[1];

    if (!w) {
        client_close(c);
        return;
    }
    w->c = c;
    slt_buf_init(&w->body, 32u << 20);
    slt_buf_printf(&w->body,
                   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                   "Connection: close\r\n\r\n",
                   code, code == 200 ? "OK" : "Not Found", ctype, body->len);
    slt_buf_append(&w->body, body->p, body->len);
    bufs[0] = uv_buf_init(w->body.p, (unsigned)w->body.len);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, bufs, 1, on_http_written) < 0) {
        slt_buf_release(&w->body);
        slt_free(w);
        client_close(c);
    }
}

static void on_http_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf)
{
    struct http_client *c = hd->data;

    (void)suggested;
    buf->base = c->req + c->len;
    buf->len = sizeof(c->req) - 1 - c->len;
}

static void on_http_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct http_client *c = st->data;
    struct slt_buf body;
    int prometheus;

    (void)buf;
    if (c->done)
        return;
    if (nread < 0) {
        client_close(c);
        return;
    }
    c->len += (size_t)nread;
    c->req[c->len] = '\0';
    if (!strstr(c->req, "\r\n\r\n") && !strstr(c->req, "\n\n")) {
        if (c->len >= sizeof(c->req) - 1)
            client_close(c);
        return;
    }
    c->done = 1;
    uv_read_stop(st);
    slt_buf_init(&body, 16u << 20);
    if (strncmp(c->req, "GET /metrics", 12) == 0)
        prometheus = 1;
    else if (strncmp(c->req, "GET /status", 11) == 0 || strncmp(c->req, "GET / ", 6) == 0)
        prometheus = 0;
    else {
        slt_buf_printf(&body, "not found: try /status or /metrics\n");
        respond(c, 404, "text/plain", &body);
        slt_buf_release(&body);
        return;
    }
    slt_status_render(c->h->a, prometheus, &body);
    respond(c, 200, prometheus ? "text/plain; version=0.0.4" : "application/json", &body);
    slt_buf_release(&body);
}

static void on_http_conn(uv_stream_t *server, int status)
{
    struct slt_status_http *h = server->data;
    struct http_client *c;

    if (status < 0 || h->closing)
        return;
    c = slt_calloc(1, sizeof(*c));
    if (!c)
        return;
    uv_tcp_init(h->a->loop, &c->tcp);
    c->tcp.data = c;
    c->h = h;
    c->accepted_ms = uv_now(h->a->loop);
    c->next = h->clients;
    if (h->clients)
        h->clients->pprev = &c->next;
    c->pprev = &h->clients;
    h->clients = c;
    h->nclients++;
    h->open++;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0 || h->nclients > HTTP_MAX_CLIENTS) {
        client_close(c);
        return;
    }
    uv_read_start((uv_stream_t *)&c->tcp, on_http_alloc, on_http_read);
}

/* A client gets HTTP_CLIENT_MS to send its request and take the answer. */
static void on_reap(uv_timer_t *t)
{
    struct slt_status_http *h = t->data;
    uint64_t now = uv_now(h->a->loop);
    struct http_client *c;

    for (c = h->clients; c; c = c->next)
        if (now - c->accepted_ms > HTTP_CLIENT_MS)
            client_close(c);
}

static void on_server_closed(uv_handle_t *hd)
{
    struct slt_status_http *h = hd->data;

    h->open--;
    http_maybe_free(h);
}

int slt_status_http_start(struct slt_agent *a, const char *listen, struct slt_status_http **out)
{
    struct sockaddr_storage ss;
    char host[256];
    const char *colon = strrchr(listen, ':');
    struct slt_status_http *h;
    size_t n;
    int rc, port;

    if (!colon)
        return SLT_EINVAL;
    n = (size_t)(colon - listen);
    if (n >= sizeof(host))
        return SLT_EINVAL;
    memcpy(host, listen, n);
    host[n] = '\0';
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        memmove(host, host + 1, n - 2);
        host[n - 2] = '\0';
    }
    port = atoi(colon + 1);
    if (port <= 0 || port > 65535)
        return SLT_EINVAL;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) == 0) {
        if ((ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) != 127) {
            slt_log(SLT_LOG_ERROR, "status", "status_listen '%s' is not a loopback address",
                    listen);
            return SLT_EINVAL;
        }
    } else if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) == 0) {
        struct in6_addr lo = IN6ADDR_LOOPBACK_INIT;

        if (memcmp(&((struct sockaddr_in6 *)&ss)->sin6_addr, &lo, sizeof(lo)) != 0) {
            slt_log(SLT_LOG_ERROR, "status", "status_listen '%s' is not a loopback address",
                    listen);
            return SLT_EINVAL;
        }
    } else {
        return SLT_EINVAL;
    }
    h = slt_calloc(1, sizeof(*h));
    if (!h)
        return SLT_ENOMEM;
    h->a = a;
    uv_tcp_init(a->loop, &h->server);
    uv_timer_init(a->loop, &h->reaper);
    h->server.data = h->reaper.data = h;
    h->open = 2;
    if ((rc = uv_tcp_bind(&h->server, (struct sockaddr *)&ss, 0)) < 0 ||
        (rc = uv_listen((uv_stream_t *)&h->server, 16, on_http_conn)) < 0) {
        h->closing = 1;
        uv_close((uv_handle_t *)&h->server, on_server_closed);
        uv_close((uv_handle_t *)&h->reaper, on_server_closed);
        return rc;
    }
    uv_timer_start(&h->reaper, on_reap, 1000, 1000);
    *out = h;
    return 0;
}

void slt_status_http_close(struct slt_status_http *h)
{
    struct http_client *c;

    if (!h || h->closing)
        return;
    h->closing = 1;
    for (c = h->clients; c; c = c->next)
        client_close(c);
    uv_close((uv_handle_t *)&h->server, on_server_closed);
    uv_close((uv_handle_t *)&h->reaper, on_server_closed);
}

int slt_status_http_open(const struct slt_status_http *h)
{
    return h ? h->open : 0;
}
