/*
 * ingress-nginx's default log format, `upstreaminfo`:
 *
 *   $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
 *   "$http_referer" "$http_user_agent" $request_length $request_time [$proxy_upstream_name]
 *   [$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length
 *   $upstream_response_time $upstream_status $req_id
 *
 * The head is nginx's combined (nginx.c). The four upstream values are lists when nginx tried
 * several servers ("10.0.0.1:80, 10.0.0.2:80", and " : " after an internal redirect), so the
 * rest of the line is split into groups of words joined by ", " and " : ". latency =
 * $request_time (seconds); upstream = the sum of $upstream_response_time (as nginx_timed).
 *
 * Fields: the CLF ones, LATENCY, UPSTREAM_LATENCY, TARGET_STATUS ($upstream_status, a list as
 * logged). Own fields: proxy_upstream_name (namespace-service-port: which backend), upstream_addr,
 * proxy_alternative_upstream_name, request_length, req_id. A line that stops after the user
 * agent (a plain combined line) is unparsed (latency): the format is not this one.
 */
#include <string.h>

#include "builtin_internal.h"

enum { X_UPSTREAM_NAME, X_ALT_UPSTREAM_NAME, X_UPSTREAM_ADDR, X_REQUEST_LENGTH, X_REQ_ID };

/* The next word at *p (after one space): its slice; .p NULL at the end. */
static struct slt_str next_word(const char **p, const char *end)
{
    const char *s = *p, *e;

    if (s < end && *s == ' ')
        s++;
    if (s >= end)
        return SLT_STR_NULL;
    e = slt__find(s, end, ' ');
    *p = e;
    return slt__str(s, e);
}

/* "[name]" at *p (after one space): the name; .p NULL when absent. */
static struct slt_str bracketed(const char **p, const char *end)
{
    const char *s = *p, *e;

    if (end - s < 3 || s[0] != ' ' || s[1] != '[' || !(e = slt__find(s + 2, end, ']')))
        return SLT_STR_NULL;
    if (e == end)
        return SLT_STR_NULL;
    *p = e + 1;
    return slt__str(s + 2, e);
}

/* A list value at *p: words joined by ", " or " : " (the word before ends in ','). */
static struct slt_str group(const char **p, const char *end)
{
    const char *s, *q = *p;
    struct slt_str w = next_word(&q, end);

    if (!w.p)
        return w;
    s = w.p;
    for (;;) {
        if (w.len && w.p[w.len - 1] == ',') {
            w = next_word(&q, end);
            if (!w.p)
                break;
            continue;
        }
        if (end - q >= 3 && q[0] == ' ' && q[1] == ':' && q[2] == ' ') {
            q += 2;
            w = next_word(&q, end);
            if (!w.p)
                break;
            continue;
        }
        break;
    }
    *p = q;
    return slt__str(s, q);
}

static int ingress_parse(const struct slt_format *fmt, struct slt_parser *prs, const char *line,
                         size_t len, struct slt_record *rec)
{
    struct slt__extra_state *st = prs->state;
    const char *end = line + len, *p;
    struct slt_str w, ut;
    size_t pos = 0;
    int r;

    (void)fmt;
    memset(st->extra, 0, 5 * sizeof(st->extra[0]));
    rec->priv = st->extra;
    if ((r = slt__clf_head(&st->b.clf, line, len, rec, &pos)) != SLT_UP_OK)
        return r;
    slt__clf_referer_ua(line, len, rec, &pos);
    p = line + pos;
    st->extra[X_REQUEST_LENGTH] = next_word(&p, end);
    w = next_word(&p, end);
    if (!w.p)
        return slt__fail(rec, SLT_UP_LATENCY, "no $request_time after the user agent", pos);
    rec->field[SLT_F_LATENCY] = w;
    if (slt_parse_latency(w.p, w.len, SLT_UNIT_S, &rec->latency_us) < 0)
        return slt__fail(rec, SLT_UP_LATENCY, "bad $request_time", (size_t)(w.p - line));
    st->extra[X_UPSTREAM_NAME] = bracketed(&p, end);
    if (!st->extra[X_UPSTREAM_NAME].p)
        return slt__fail(rec, SLT_UP_SYNTAX, "no [$proxy_upstream_name]", (size_t)(p - line));
    st->extra[X_ALT_UPSTREAM_NAME] = bracketed(&p, end);
    st->extra[X_UPSTREAM_ADDR] = group(&p, end);
    (void)group(&p, end); /* $upstream_response_length */
    ut = group(&p, end);
    if (ut.p) {
        size_t n = slt__upstream_scan(ut.p, ut.len, SLT_UNIT_S, &rec->upstream_us);

        if (n)
            rec->field[SLT_F_UPSTREAM_LATENCY] = slt_str_make(ut.p, n);
    }
    rec->field[SLT_F_TARGET_STATUS] = group(&p, end);
    st->extra[X_REQ_ID] = next_word(&p, end);
    return SLT_UP_OK;
}

const struct slt_format_ops slt__ingress_nginx_ops = {
    .parse = ingress_parse,
    .field_key = slt__extra_field_key,
    .get = slt__extra_get,
    .parser_init = slt__extra_parser_init,
    .parser_release = slt__builtin_parser_release,
};
