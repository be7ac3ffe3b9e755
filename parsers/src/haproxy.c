/*
 * HAProxy's HTTP log format (`option httplog`), as HAProxy writes it to syslog:
 *
 *   [syslog prefix: "Feb  6 12:14:14 localhost haproxy[14389]: "]
 *   client_ip:port [accept_date] frontend_name[~] backend_name/server_name
 *   TR/Tw/Tc/Tr/Ta status bytes_read captured_request_cookie captured_response_cookie
 *   termination_state actconn/feconn/beconn/srv_conn/retries srv_queue/backend_queue
 *   [{captured_request_headers}] [{captured_response_headers}] "http_request"
 *
 * The accept date is "06/Feb/2009:12:14:14.655" in HAProxy's local time, with no zone: it is
 * read as UTC (run HAProxy with TZ=UTC, as containers do, for event times to be right).
 * The five timers are milliseconds; before HAProxy 1.5 they were Tq/Tw/Tc/Tr/Tt. latency = the
 * last one (Ta, or Tt: the total time, "+" in front with `option logasap`), upstream = Tr (-1:
 * no complete response from the server). A status of -1 (the connection was aborted before a
 * response) is status 000, like a client that went away in other logs.
 *
 * Fields: CLIENT (ip:port as logged), TIME (the accept date text), LATENCY (the timers),
 * UPSTREAM_LATENCY (Tr), STATUS, BYTES (bytes_read: sent to the client), REQUEST / METHOD /
 * PATH / PROTOCOL, ERROR_REASON (the termination state, "----" when normal, "CD--" client
 * aborted, "SH--" server aborted...). Own fields: frontend, backend, server,
 * termination_state.
 *
 * Not requests (SLT_UP_NOT_ACCESS): HAProxy's other syslog lines ("Proxy x started.", "SSL
 * handshake failure" connection errors) and TCP-mode log lines (three timers, no request).
 */
#include <string.h>

#include "builtin_internal.h"

enum { X_FRONTEND, X_BACKEND, X_SERVER, X_TERMINATION };

/* "dd/Mon/yyyy:HH:MM:SS.mmm" at p (24 bytes): 1 when it has that shape. */
static int is_accept_date(const char *p, const char *end)
{
    return end - p >= 25 && p[2] == '/' && p[6] == '/' && p[11] == ':' && p[14] == ':' &&
           p[17] == ':' && p[20] == '.' && p[24] == ']';
}

/* A timer: digits, "-1", or "+digits" (logasap). Its value in ms (-1 for -1), or -2. */
static int64_t timer(const char *p, const char *e)
{
    int64_t v = 0;

    if (p < e && *p == '+')
        p++;
    if (e - p == 2 && p[0] == '-' && p[1] == '1')
        return -1;
    if (p == e || e - p > 12)
        return -2;
    for (; p < e; p++) {
        if ((unsigned)(*p - '0') > 9)
            return -2;
        v = v * 10 + (*p - '0');
    }
    return v;
}

/* The next space-separated word at *p: its slice, *p moved past it and one space. */
static struct slt_str word(const char **p, const char *end)
{
    const char *s = *p, *e = slt__find(s, end, ' ');

    *p = e < end ? e + 1 : end;
    return slt__str(s, e);
}

static int haproxy_parse(const struct slt_format *fmt, struct slt_parser *prs, const char *line,
                         size_t len, struct slt_record *rec)
{
    struct slt__extra_state *st = prs->state;
    const char *end = line + len, *b = line, *p, *c, *e, *slash, *q;
    struct slt_str client, w, timers, status, tm[5];
    int64_t t[5];
    int n, k, v;

    (void)fmt;
    memset(st->extra, 0, 4 * sizeof(st->extra[0]));
    rec->priv = st->extra;
    /* the accept date: the first '[' that starts one; the word before it is the client */
    for (;;) {
        b = slt__find(b, end, '[');
        if (b == end) {
            if (memmem(line, len, "haproxy[", 8) || memmem(line, len, "Proxy ", 6))
                return slt__fail(rec, SLT_UP_NOT_ACCESS, "an HAProxy message, not a request", 0);
            return slt__fail(rec, SLT_UP_SYNTAX, "no [accept_date] field", len);
        }
        if (b > line && b[-1] == ' ' && is_accept_date(b + 1, end))
            break;
        b++;
    }
    c = slt__rfind(line, b - 1, ' ');
    c = c ? c + 1 : line;
    client = slt__str(c, b - 1);
    if (!client.len)
        return slt__fail(rec, SLT_UP_SYNTAX, "no client before [accept_date]", 0);
    rec->field[SLT_F_CLIENT] = client;
    rec->field[SLT_F_TIME] = slt_str_make(b + 1, 24);
    {
        char iso[32];
        int d = (b[1] - '0') * 10 + (b[2] - '0'), mo = slt__month_from_abbr(b + 4);

        /* dd/Mon/yyyy:HH:MM:SS.mmm as yyyy-mm-ddTHH:MM:SS.mmm, through the ISO cache */
        if ((unsigned)(b[1] - '0') > 9 || (unsigned)(b[2] - '0') > 9 || !mo)
            return slt__fail(rec, SLT_UP_TIME, "bad [accept_date]", (size_t)(b + 1 - line));
        memcpy(iso, b + 8, 4);
        iso[4] = '-';
        iso[5] = (char)('0' + mo / 10);
        iso[6] = (char)('0' + mo % 10);
        iso[7] = '-';
        iso[8] = (char)('0' + d / 10);
        iso[9] = (char)('0' + d % 10);
        iso[10] = 'T';
        memcpy(iso + 11, b + 13, 12);
        if (slt__iso8601_cached(&st->b.iso, iso, 23, &rec->time, &rec->time_frac_us) < 0)
            return slt__fail(rec, SLT_UP_TIME, "bad [accept_date]", (size_t)(b + 1 - line));
    }
    if (end - b < 27 || b[26] != ' ')
        return slt__fail(rec, SLT_UP_SYNTAX, "nothing after [accept_date]", (size_t)(b - line));
    p = b + 27;

    /* frontend ("~" after it: SSL), then backend/server; a connection error says "fe/bind:" */
    w = word(&p, end);
    if (!w.len || w.p[w.len - 1] == ':' || memchr(w.p, '/', w.len))
        return slt__fail(rec, SLT_UP_NOT_ACCESS, "a connection error, not a request",
                         (size_t)(w.p - line));
    st->extra[X_FRONTEND] = w;
    w = word(&p, end);
    slash = memchr(w.p, '/', w.len);
    if (!slash)
        return slt__fail(rec, SLT_UP_SYNTAX, "no backend/server field", (size_t)(w.p - line));
    st->extra[X_BACKEND] = slt__str(w.p, slash);
    st->extra[X_SERVER] = slt__str(slash + 1, w.p + w.len);

    /* the timers: five for HTTP, three for a TCP-mode line */
    timers = word(&p, end);
    n = 0;
    q = timers.p;
    e = timers.p + timers.len;
    for (;;) {
        const char *sl = memchr(q, '/', (size_t)(e - q));

        if (n == 5) {
            n = 6; /* too many */
            break;
        }
        tm[n++] = slt__str(q, sl ? sl : e);
        if (!sl)
            break;
        q = sl + 1;
    }
    if (n == 3)
        return slt__fail(rec, SLT_UP_NOT_ACCESS, "a TCP-mode log line, not a request",
                         (size_t)(timers.p - line));
    if (n != 5)
        return slt__fail(rec, SLT_UP_SYNTAX, "the timers are not TR/Tw/Tc/Tr/Ta",
                         (size_t)(timers.p - line));
    for (k = 0; k < 5; k++)
        if ((t[k] = timer(tm[k].p, tm[k].p + tm[k].len)) < -1)
            return slt__fail(rec, SLT_UP_LATENCY, "a timer is not a number",
                             (size_t)(tm[k].p - line));
    rec->field[SLT_F_LATENCY] = timers;
    rec->latency_us = t[4] >= 0 ? t[4] * 1000 : -1;
    rec->field[SLT_F_UPSTREAM_LATENCY] = tm[3];
    rec->upstream_us = t[3] >= 0 ? t[3] * 1000 : -1;

    status = word(&p, end);
    rec->field[SLT_F_STATUS] = status;
    if (status.len == 2 && status.p[0] == '-' && status.p[1] == '1')
        v = 0; /* aborted before a response: 000 */
    else if ((v = slt__status3(status.p, status.len)) < 0)
        return slt__fail(rec, SLT_UP_STATUS, "status is not 3 digits", (size_t)(status.p - line));
    rec->status = v;
    rec->field[SLT_F_BYTES] = word(&p, end);
    (void)word(&p, end); /* captured request cookie */
    (void)word(&p, end); /* captured response cookie */
    w = word(&p, end);
    rec->field[SLT_F_ERROR_REASON] = w;
    st->extra[X_TERMINATION] = w;
    (void)word(&p, end); /* actconn/feconn/beconn/srv_conn/retries */
    (void)word(&p, end); /* srv_queue/backend_queue */
    /* captured headers: {...} blocks (HAProxy escapes '{', '|', '}' and '"' inside them) */
    while (p < end && *p == '{') {
        e = slt__find(p, end, '}');
        p = e < end ? e + 1 : end;
        while (p < end && *p == ' ')
            p++;
    }
    if (p >= end || *p != '"')
        return slt__fail(rec, SLT_UP_SYNTAX, "no \"http_request\"", (size_t)(p - line));
    /* the request runs to the closing quote at the end (none when HAProxy cut it short) */
    p++;
    e = end > p && end[-1] == '"' ? end - 1 : end;
    rec->field[SLT_F_REQUEST] = slt__str(p, e);
    slt__split_request(rec, p, (size_t)(e - p));
    return SLT_UP_OK;
}

const struct slt_format_ops slt__haproxy_http_ops = {
    .parse = haproxy_parse,
    .field_key = slt__extra_field_key,
    .get = slt__extra_get,
    .parser_init = slt__extra_parser_init,
    .parser_release = slt__builtin_parser_release,
};
