/*
 * Envoy's default access log format (and Istio's, which inserts three fields after the
 * response flags and appends more at the end):
 *
 *   [%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%"
 *   %RESPONSE_CODE% %RESPONSE_FLAGS% [%RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS%
 *   "%UPSTREAM_TRANSPORT_FAILURE_REASON%"] %BYTES_RECEIVED% %BYTES_SENT% %DURATION%
 *   %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%"
 *   "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" ...
 *
 * START_TIME is ISO 8601 UTC with milliseconds. RESPONSE_CODE "0" (the server never sent the
 * beginning of a response: the downstream client went away) is status 000. DURATION and the
 * upstream service time are milliseconds ("-": none). The byte counts are found as the first
 * three numbers in a row after the flags, so the Istio fields in between are skipped (the
 * first of them is kept as response_code_details).
 *
 * Fields: TIME, REQUEST / METHOD / PATH / PROTOCOL, STATUS, ERROR_REASON (the response flags:
 * "-", "UH" no healthy upstream, "UF" upstream connection failure, "NR" no route, ...), BYTES
 * (bytes sent), LATENCY, UPSTREAM_LATENCY, XFF, USER_AGENT, HOST (:authority). Own fields:
 * response_flags, request_id, upstream_host, response_code_details.
 * A TCP proxy line (RESPONSE_CODE "-") is SLT_UP_NOT_ACCESS.
 */
#include <string.h>

#include "builtin_internal.h"

enum { X_FLAGS, X_REQUEST_ID, X_UPSTREAM_HOST, X_DETAILS };

/* One field at *p (after spaces): quoted (without its quotes) or a word. 0 at the end. */
static int field(const char **p, const char *end, struct slt_str *out, int *quoted)
{
    const char *s = *p, *e;

    while (s < end && *s == ' ')
        s++;
    if (s >= end)
        return 0;
    if (*s == '"') {
        e = slt__quote_end(s + 1, end);
        if (!e)
            return -1;
        *out = slt__str(s + 1, e);
        *p = e + 1;
        *quoted = 1;
        return 1;
    }
    e = slt__find(s, end, ' ');
    *out = slt__str(s, e);
    *p = e;
    *quoted = 0;
    return 1;
}

static int is_number(struct slt_str s)
{
    size_t i;

    for (i = 0; i < s.len; i++)
        if ((unsigned)(s.p[i] - '0') > 9)
            return 0;
    return s.len > 0 && s.len <= 15;
}

/* Milliseconds: digits, or "-" (-1). */
static int ms(struct slt_str s, int64_t *us)
{
    int64_t v = 0;
    size_t i;

    if (s.len == 1 && s.p[0] == '-') {
        *us = -1;
        return 0;
    }
    if (!is_number(s))
        return -1;
    for (i = 0; i < s.len; i++)
        v = v * 10 + (s.p[i] - '0');
    *us = v * 1000;
    return 0;
}

static int envoy_parse(const struct slt_format *fmt, struct slt_parser *prs, const char *line,
                       size_t len, struct slt_record *rec)
{
    struct slt__extra_state *st = prs->state;
    const char *end = line + len, *p, *e;
    struct slt_str f[3], w;
    int q, r, k, status;
    static const int tail[] = {SLT_F_XFF, SLT_F_USER_AGENT, -X_REQUEST_ID - 1, SLT_F_HOST,
                               -X_UPSTREAM_HOST - 1};

    (void)fmt;
    memset(st->extra, 0, 4 * sizeof(st->extra[0]));
    rec->priv = st->extra;
    if (line[0] != '[' || !(e = memchr(line, ']', len)))
        return slt__fail(rec, SLT_UP_SYNTAX, "no [start_time] at the start", 0);
    rec->field[SLT_F_TIME] = slt__str(line + 1, e);
    if (slt__iso8601_cached(&st->b.iso, line + 1, (size_t)(e - line - 1), &rec->time,
                            &rec->time_frac_us) < 0)
        return slt__fail(rec, SLT_UP_TIME, "bad [start_time]", 1);
    p = e + 1;
    if (end - p < 2 || p[0] != ' ' || p[1] != '"' || !(e = slt__quote_end(p + 2, end)))
        return slt__fail(rec, SLT_UP_SYNTAX, "no \"request\" after [start_time]",
                         (size_t)(p - line));
    rec->field[SLT_F_REQUEST] = slt__str(p + 2, e);
    slt__split_request(rec, p + 2, (size_t)(e - p - 2));
    p = e + 1;

    if (field(&p, end, &w, &q) <= 0 || q)
        return slt__fail(rec, SLT_UP_STATUS, "no response code", (size_t)(p - line));
    rec->field[SLT_F_STATUS] = w;
    if (w.len == 1 && w.p[0] == '-')
        return slt__fail(rec, SLT_UP_NOT_ACCESS, "a TCP proxy line, not a request",
                         (size_t)(w.p - line));
    if (w.len == 1 && w.p[0] == '0')
        status = 0; /* no response was sent: 000 */
    else if ((status = slt__status3(w.p, w.len)) < 0)
        return slt__fail(rec, SLT_UP_STATUS, "response code is not 3 digits", (size_t)(w.p - line));
    rec->status = status;
    if (field(&p, end, &w, &q) <= 0 || q)
        return slt__fail(rec, SLT_UP_SYNTAX, "no response flags", (size_t)(p - line));
    rec->field[SLT_F_ERROR_REASON] = w;
    st->extra[X_FLAGS] = w;

    /* bytes received, bytes sent, duration: the first three numbers in a row */
    for (k = 0, r = 0; k < 8; k++) {
        if ((r = field(&p, end, &f[0], &q)) <= 0)
            break;
        if (!q && is_number(f[0])) {
            const char *p2 = p;
            int q1, q2;

            if (field(&p2, end, &f[1], &q1) > 0 && !q1 && is_number(f[1]) &&
                field(&p2, end, &f[2], &q2) > 0 && !q2 &&
                (is_number(f[2]) || (f[2].len == 1 && f[2].p[0] == '-'))) {
                p = p2;
                break;
            }
        }
        if (!q && !st->extra[X_DETAILS].p && k == 0)
            st->extra[X_DETAILS] = f[0];
        r = 0;
    }
    if (r <= 0)
        return slt__fail(rec, SLT_UP_SYNTAX, "no bytes received, bytes sent and duration",
                         (size_t)(p - line));
    rec->field[SLT_F_BYTES] = f[1];
    rec->field[SLT_F_LATENCY] = f[2];
    if (ms(f[2], &rec->latency_us) < 0)
        return slt__fail(rec, SLT_UP_LATENCY, "bad duration", (size_t)(f[2].p - line));
    if (field(&p, end, &w, &q) <= 0)
        return SLT_UP_OK;
    if (!q) {
        rec->field[SLT_F_UPSTREAM_LATENCY] = w;
        if (ms(w, &rec->upstream_us) < 0)
            return slt__fail(rec, SLT_UP_LATENCY, "bad upstream service time",
                             (size_t)(w.p - line));
        if (field(&p, end, &w, &q) <= 0)
            return SLT_UP_OK;
    }
    /* the quoted fields: XFF, user agent, request id, :authority, upstream host */
    for (k = 0; k < (int)SLT_ARRAY_SIZE(tail) && q; k++) {
        if (tail[k] >= 0)
            rec->field[tail[k]] = w;
        else
            st->extra[-tail[k] - 1] = w;
        if (k + 1 < (int)SLT_ARRAY_SIZE(tail) && field(&p, end, &w, &q) <= 0)
            break;
    }
    return SLT_UP_OK;
}

const struct slt_format_ops slt__envoy_ops = {
    .parse = envoy_parse,
    .field_key = slt__extra_field_key,
    .get = slt__extra_get,
    .parser_init = slt__extra_parser_init,
    .parser_release = slt__builtin_parser_release,
};
