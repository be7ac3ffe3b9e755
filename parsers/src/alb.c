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
 *
 * Speed: fields 0..12 (through the request) are read for every line; the fields after the
 * request (user agent, domain, error_reason, ...: two thirds of a line) and the request's parts
 * (method, path, protocol, host) are read on first use, through slt_record_get() (rec->lazy),
 * once per line however many rules ask. A line therefore needs 13 well-formed fields to parse;
 * the fields after the request are read as far as they are well formed (an unterminated quote
 * there leaves the fields from it on absent instead of making the line unparsed).
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
 * of slots filled, or -1 on an unterminated quote (*bad set to its column). *endp: just after
 * the last field read (after its closing quote).
 */
static int tokenize(const char *p, const char *end, struct slt_str *f, int first, int n,
                    const char **bad, const char **endp)
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
    *endp = p;
    return i;
}

/*
 * The head of a line as ALB writes it: fields 0..11 (type .. sent_bytes) are never quoted and
 * one space apart, so they are found from a bit mask of the spaces, 16 bytes at a time, and
 * then field 12 (the request) with its quotes. Returns 13 with f[0..12] and *endp just after
 * the request's closing quote, or -2 when the line strays from that shape (two spaces in a
 * row, a quote where the head has none, an unquoted or unterminated request, fewer fields) and
 * tokenize() has to read it instead: the same result either way.
 */
static int head_fast(const char *line, const char *end, struct slt_str *f, const char **endp)
{
    const char *p = line, *start = line, *e;
    int i = 0;

#if defined(__SSE2__)
    const __m128i sp = _mm_set1_epi8(' ');

    while (end - p >= 16) {
        unsigned m = (unsigned)_mm_movemask_epi8(
            _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)p), sp));

        while (m) {
            const char *s = p + __builtin_ctz(m);

            if (s == start || *start == '"')
                return -2;
            f[i++] = slt__str(start, s);
            start = s + 1;
            if (i == 12)
                goto request;
            m &= m - 1;
        }
        p += 16;
    }
#endif
    for (; p < end; p++) {
        if (*p != ' ')
            continue;
        if (p == start || *start == '"')
            return -2;
        f[i++] = slt__str(start, p);
        start = p + 1;
        if (i == 12)
            goto request;
    }
    return -2;
request:
    if (start >= end || *start != '"' || !(e = slt__quote_end(start + 1, end)))
        return -2;
    f[12] = slt__str(start + 1, e);
    *endp = e + 1;
    return 13;
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
static inline int timing(struct slt_str s, const char *line, int64_t *us, int fast)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t x;

    /* ALB writes "d.dddddd": its 8 bytes at once, the same value slt__seconds gives (the
     * general path, fast = 0, keeps to slt__seconds: the fast path is checked against it) */
    if (fast && s.len == 8 && s.p[1] == '.' && (unsigned)(s.p[0] - '0') <= 9) {
        memcpy(&x, s.p, 8);
        x = (x >> 16) | ((uint64_t)'0' << 48) | ((uint64_t)'0' << 56); /* the 6 decimals */
        if (slt__digits8(x) == 8) {
            *us = (int64_t)(s.p[0] - '0') * 1000000 + slt__value8(x, 6);
            return 0;
        }
    }
#endif
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

/* The fields read on first use: from the request's parts to the end of the line. */
#define ALB_LAZY                                                                                   \
    ((1u << SLT_F_METHOD) | (1u << SLT_F_PATH) | (1u << SLT_F_PROTOCOL) | (1u << SLT_F_HOST) |     \
     (1u << SLT_F_USER_AGENT) | (1u << SLT_F_ERROR_REASON))

/*
 * The lazy fields of a parsed record into out[] (indexed by field): the request split, and
 * fields 13.. read from rec->lazy_pos (just after the request) by the general tokenizer, as
 * far as they are well formed (an unterminated quote ends them: the fields from it on are
 * absent).
 */
static void alb_tail(const struct slt_record *rec, struct slt_str *out)
{
    const char *line = rec->line, *end = line + rec->len, *bad = NULL, *stop;
    struct slt_str f[ALB_FIELDS];
    struct slt_record tmp;
    int n, i;

    n = tokenize(line + rec->lazy_pos, end, f, 13, ALB_FIELDS, &bad, &stop);
    if (n < 0) {
        /* keep what came before the bad quote */
        n = tokenize(line + rec->lazy_pos, bad, f, 13, ALB_FIELDS, &bad, &stop);
        if (n < 0)
            n = 13;
    }
    for (i = n; i < ALB_FIELDS; i++)
        f[i] = SLT_STR_NULL;
    memset(tmp.field, 0, sizeof(tmp.field));
    slt__split_request(&tmp, rec->field[SLT_F_REQUEST].p, rec->field[SLT_F_REQUEST].len);
    tmp.field[SLT_F_USER_AGENT] = f[13];
    if (f[18].p && f[18].len && !is_dash(f[18]))
        tmp.field[SLT_F_HOST] = f[18];
    url_parts(&tmp);
    tmp.field[SLT_F_ERROR_REASON] = f[24];
    for (i = 0; i < SLT_F__COUNT; i++)
        if ((ALB_LAZY >> i) & 1)
            out[i] = tmp.field[i];
}

void slt__alb_materialize(struct slt_record *rec)
{
    struct slt_str f[SLT_F__COUNT];
    int i;

    if (!rec->lazy)
        return;
    alb_tail(rec, f);
    for (i = 0; i < SLT_F__COUNT; i++)
        if ((rec->lazy >> i) & 1)
            rec->field[i] = f[i];
    rec->lazy = 0;
}

int slt__alb_parse(struct slt__builtin_state *st, const char *line, size_t len,
                   struct slt_record *rec, int fast)
{
    const char *end = line + len, *sp, *bad = NULL, *after = NULL;
    struct slt_str f[13];
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
    /* the head, through the request: what every line needs (the rest is read on first use) */
    n = fast && f[0].p ? head_fast(line, end, f, &after) : -2;
    if (n == -2)
        n = tokenize(sp, end, f, first, 13, &bad, &after);
    if (n < 0)
        return fail(rec, SLT_UP_SYNTAX, "unterminated quoted field", (size_t)(bad - line));
    if (!f[0].p && (n < 4 || !memchr(f[3].p, ':', f[3].len)))
        return fail(rec, SLT_UP_NOT_ACCESS, "ALB connection log line", 0);
    if (n < 13)
        return fail(rec, SLT_UP_SYNTAX, "fewer than 13 fields", len);

    rec->field[SLT_F_TIME] = f[1];
    if (slt__iso8601_cached(&st->iso, f[1].p, f[1].len, &rec->time, &rec->time_frac_us) < 0)
        return fail(rec, SLT_UP_TIME, "bad time", (size_t)(f[1].p - line));
    rec->field[SLT_F_CLIENT] = f[3];

    for (i = 0; i < 3; i++) {
        if (timing(f[5 + i], line, &t[i], fast) < 0)
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
    rec->lazy_pos = (size_t)(after - line); /* just after the request (and its closing quote) */
    rec->line = line;
    rec->len = len;
    rec->lazy = ALB_LAZY;
    if (!fast)
        slt__alb_materialize(rec);
    return SLT_UP_OK;
}

/* Per parser: the usual state, and the lazy fields of the last line once read. */
struct alb_state {
    struct slt__builtin_state b;
    int have;
    struct slt_str tail[SLT_F__COUNT];
};

static int alb_parse(const struct slt_format *fmt, struct slt_parser *p, const char *line,
                     size_t len, struct slt_record *rec)
{
    struct alb_state *st = p->state;

    (void)fmt;
    st->have = 0;
    rec->priv = st;
    return slt__alb_parse(&st->b, line, len, rec, 1);
}

static struct slt_str alb_get(const struct slt_record *rec, int key)
{
    /* the state of the parser that made rec, whose last line rec is (records live until the
     * next slt_parse on their parser) */
    struct alb_state *st = (struct alb_state *)(uintptr_t)rec->priv;

    if ((unsigned)key >= SLT_F__COUNT || !((rec->lazy >> key) & 1) || !st)
        return SLT_STR_NULL;
    if (!st->have) {
        alb_tail(rec, st->tail);
        st->have = 1;
    }
    return st->tail[key];
}

static int alb_parser_init(const struct slt_format *fmt, struct slt_parser *p)
{
    (void)fmt;
    p->state = slt_calloc(1, sizeof(struct alb_state));
    return p->state ? 0 : SLT_ENOMEM;
}

const struct slt_format_ops slt__alb_ops = {
    .parse = alb_parse,
    .get = alb_get,
    .parser_init = alb_parser_init,
    .parser_release = slt__builtin_parser_release,
};
