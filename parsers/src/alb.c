/*
 * AWS load balancer access logs.
 *
 * ALB (first field is the type), space-separated, quoted where shown:
 *    0 type  1 time  2 elb  3 client:port  4 target:port  5 request_processing_time
 *    6 target_processing_time  7 response_processing_time  8 elb_status_code
 *    9 target_status_code  10 received_bytes  11 sent_bytes  12 "request"  13 "user_agent"
 *   14 ssl_cipher  15 ssl_protocol  16 target_group_arn  17 "trace_id"  18 "domain_name"
 *   19 "chosen_cert_arn"  20 matched_rule_priority  21 request_creation_time
 *   22 "actions_executed"  23 "redirect_url"  24 "error_reason"  25... newer fields, ignored
 * Fields 0..12 are required; later ones are read when present (old logs stop early, new
 * fields only get appended).
 *
 * Classic ELB (no type field): the same layout as ALB fields 1..15, so it is read into the
 * same slots; TYPE is absent. Accepted when the third field is client:port.
 *
 * Not requests, so SLT_UP_NOT_ACCESS: lines whose type is not one of http https h2 grpcs ws
 * wss (NLB "tls" lines), and ALB connection logs (they start with a timestamp but the third
 * field is a bare port).
 *
 * latency = request + target + response processing time (seconds, microsecond precision);
 * -1 when any of them is -1 (the request never reached a target or the client left).
 * upstream_us = target_processing_time. HOST = domain_name, or the request URL's authority
 * without its port when domain_name is "-". PATH = the URL's path and query.
 *
 * A closing quote directly followed by the next field (the AWS docs example `"-" "-"1`) is
 * read as two fields: the quote ends the field either way.
 */
#include <string.h>

#include "builtin_internal.h"

#define ALB_FIELDS 25

static int fail(struct slt_record *rec, int reason, const char *detail, size_t column)
{
    rec->detail = detail;
    rec->column = column;
    return reason;
}

static int is_request_type(const struct slt_str t)
{
    switch (t.len) {
    case 2:
        return memcmp(t.p, "h2", 2) == 0 || memcmp(t.p, "ws", 2) == 0;
    case 3:
        return memcmp(t.p, "wss", 3) == 0;
    case 4:
        return memcmp(t.p, "http", 4) == 0;
    case 5:
        return memcmp(t.p, "https", 5) == 0 || memcmp(t.p, "grpcs", 5) == 0;
    default:
        return 0;
    }
}

/*
 * Splits the rest of the line into up to n fields starting at slot first. Returns the number
 * of slots filled, or -1 on an unterminated quote (*bad set to its column).
 */
static int tokenize(const char *p, const char *end, struct slt_str *f, int first, int n,
                    const char **bad)
{
    const char *e;
    int i = first;

    while (i < n) {
        while (p < end && *p == ' ')
            p++;
        if (p >= end)
            break;
        if (*p == '"') {
            e = slt__quote_end(p + 1, end);
            if (!e) {
                *bad = p;
                return -1;
            }
            f[i++] = slt__str(p + 1, e);
            p = e + 1;
        } else {
            e = slt__find(p, end, ' ');
            f[i++] = slt__str(p, e);
            p = e;
        }
    }
    return i;
}

/*
 * tokenize() for lines as ALB writes them, one space between fields, starting at the first
 * byte of field first: the same result, or -2 when the line strays from that (two spaces in a
 * row, a closing quote directly followed by the next field, an unterminated quote) and
 * tokenize() has to read it instead.
 */
static int tokenize_fast(const char *line, const char *p, const char *end, struct slt_str *f,
                         int first, int n)
{
    const char *e;
    int i;

    (void)line;
    for (i = first; i < n && p < end; i++) {
        if (*p == '"') {
            if (!(e = slt__quote_end(p + 1, end)))
                return -2;
            f[i] = slt__str(p + 1, e);
            p = e + 1;
        } else {
            if (*p == ' ')
                return -2;
            e = slt__find(p, end, ' ');
            f[i] = slt__str(p, e);
            p = e;
        }
        if (p < end && *p++ != ' ')
            return -2;
    }
    return i;
}

/* The first '/' or '?' in [p, end), or end. */
static inline const char *find_slash_or_query(const char *p, const char *end)
{
#if defined(__SSE2__)
    const __m128i slash = _mm_set1_epi8('/'), query = _mm_set1_epi8('?');
    __m128i v;
    int m;

    while (end - p >= 16) {
        v = _mm_loadu_si128((const __m128i *)(const void *)p);
        m = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, slash), _mm_cmpeq_epi8(v, query)));
        if (m)
            return p + __builtin_ctz((unsigned)m);
        p += 16;
    }
#endif
    while (p < end && *p != '/' && *p != '?')
        p++;
    return p;
}

/* A processing time: slt__seconds for the usual "0.000123", slt_parse_latency for the rest. */
static inline int timing(struct slt_str s, const char *line, int64_t *us)
{
    if (s.len && slt__seconds(s.p, s.p + s.len, line, us) == s.p + s.len)
        return 0;
    return slt_parse_latency(s.p, s.len, SLT_UNIT_S, us);
}

/* "GET http://host:80/path?q HTTP/1.1": PATH becomes "/path?q", HOST (if unset) "host". */
static void url_parts(struct slt_record *rec)
{
    struct slt_str u = rec->field[SLT_F_PATH];
    const char *p, *end, *auth, *a_end, *c;

    if (!u.p || u.len < 4)
        return;
    end = u.p + u.len;
    p = slt__find(u.p, end, ':');
    if (end - p < 3 || p[1] != '/' || p[2] != '/')
        return;
    auth = p + 3;
    a_end = find_slash_or_query(auth, end);
    rec->field[SLT_F_PATH] = a_end < end ? slt__str(a_end, end) : SLT_STR_NULL;
    if (rec->field[SLT_F_HOST].p)
        return;
    /* strip ":port", keeping an IPv6 literal in brackets whole */
    c = a_end;
    if (auth < a_end && *auth == '[') {
        const char *rb = memchr(auth, ']', (size_t)(a_end - auth));
        if (rb)
            c = rb + 1;
    } else {
        const char *colon = memrchr(auth, ':', (size_t)(a_end - auth));
        if (colon)
            c = colon;
    }
    if (c > auth)
        rec->field[SLT_F_HOST] = slt__str(auth, c);
}

static int is_dash(struct slt_str s)
{
    return s.len == 1 && s.p[0] == '-';
}

int slt__alb_parse(struct slt__builtin_state *st, const char *line, size_t len,
                   struct slt_record *rec, int fast)
{
    const char *end = line + len, *sp, *bad = NULL;
    struct slt_str f[ALB_FIELDS];
    int64_t t[3];
    int n, i, first, status;

    sp = slt__find(line, end, ' ');
    if (sp == end)
        return fail(rec, SLT_UP_SYNTAX, "a single word is not an ALB line", 0);
    f[0] = slt__str(line, sp);
    if (is_request_type(f[0])) {
        first = 1;
        rec->field[SLT_F_TYPE] = f[0];
    } else if (f[0].len >= 20 && line[4] == '-' && line[10] == 'T') {
        first = 1; /* classic ELB or a connection log: read into slots 1.. */
        f[0] = SLT_STR_NULL;
        sp = line;
    } else {
        for (i = 0; i < (int)f[0].len; i++)
            if (!((line[i] >= 'a' && line[i] <= 'z') || (line[i] >= '0' && line[i] <= '9')))
                return fail(rec, SLT_UP_SYNTAX, "first field is not an ALB type", 0);
        return fail(rec, SLT_UP_NOT_ACCESS, "not an HTTP request type", 0);
    }
    n = fast && f[0].p ? tokenize_fast(line, sp + 1, end, f, first, ALB_FIELDS) : -2;
    if (n == -2)
        n = tokenize(sp, end, f, first, ALB_FIELDS, &bad);
    if (n < 0)
        return fail(rec, SLT_UP_SYNTAX, "unterminated quoted field", (size_t)(bad - line));
    if (!f[0].p && (n < 4 || !memchr(f[3].p, ':', f[3].len)))
        return fail(rec, SLT_UP_NOT_ACCESS, "ALB connection log line", 0);
    if (n < 13)
        return fail(rec, SLT_UP_SYNTAX, "fewer than 13 fields", len);
    for (i = n; i < ALB_FIELDS; i++)
        f[i] = SLT_STR_NULL;

    rec->field[SLT_F_TIME] = f[1];
    if (slt__iso8601_cached(&st->iso, f[1].p, f[1].len, &rec->time, &rec->time_frac_us) < 0)
        return fail(rec, SLT_UP_TIME, "bad time", (size_t)(f[1].p - line));
    rec->field[SLT_F_CLIENT] = f[3];

    for (i = 0; i < 3; i++) {
        if (timing(f[5 + i], line, &t[i]) < 0)
            return fail(rec, SLT_UP_LATENCY, "bad processing time", (size_t)(f[5 + i].p - line));
    }
    rec->field[SLT_F_LATENCY] = slt__str(f[5].p, f[7].p + f[7].len);
    rec->latency_us = (t[0] < 0 || t[1] < 0 || t[2] < 0) ? -1 : t[0] + t[1] + t[2];
    rec->field[SLT_F_UPSTREAM_LATENCY] = f[6];
    rec->upstream_us = t[1];

    rec->field[SLT_F_STATUS] = f[8];
    if ((status = slt__status3(f[8].p, f[8].len)) < 0)
        return fail(rec, SLT_UP_STATUS, "elb_status_code is not 3 digits", (size_t)(f[8].p - line));
    rec->status = status;
    rec->field[SLT_F_TARGET_STATUS] = f[9];
    rec->field[SLT_F_BYTES] = f[11];
    rec->field[SLT_F_REQUEST] = f[12];
    slt__split_request(rec, f[12].p, f[12].len);
    rec->field[SLT_F_USER_AGENT] = f[13];
    if (f[18].p && f[18].len && !is_dash(f[18]))
        rec->field[SLT_F_HOST] = f[18];
    url_parts(rec);
    rec->field[SLT_F_ERROR_REASON] = f[24];
    return SLT_UP_OK;
}

static int alb_parse(const struct slt_format *fmt, struct slt_parser *p, const char *line,
                     size_t len, struct slt_record *rec)
{
    (void)fmt;
    return slt__alb_parse(p->state, line, len, rec, 1);
}

const struct slt_format_ops slt__alb_ops = {
    .parse = alb_parse,
    .parser_init = slt__builtin_parser_init,
    .parser_release = slt__builtin_parser_release,
};
