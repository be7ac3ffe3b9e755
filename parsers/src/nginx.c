/*
 * nginx access logs, and the CLF head shared with Apache (apache.c).
 *
 *   nginx_combined  $remote_addr - $remote_user [$time_local] "$request" $status
 *                   $body_bytes_sent "$http_referer" "$http_user_agent"
 *   nginx_main      combined + ' "$http_x_forwarded_for"'
 *   nginx_timed     combined + ' $request_time $upstream_response_time' (a quoted
 *                   "$http_x_forwarded_for" between the two parts is accepted too)
 *
 * The tokenizer searches bytes with slt__find (an inlined SIMD memchr), uses no libc number or
 * time parsing and does not allocate. Trailing fields after what a format knows are ignored,
 * so a log_format that appends fields still parses.
 */
#include <string.h>

#include "builtin_internal.h"

void slt__split_request(struct slt_record *rec, const char *p, size_t len)
{
    const char *end = p + len, *sp1, *sp2;

    if (len == 0 || (len == 1 && p[0] == '-'))
        return;
    sp1 = slt__find(p, end, ' ');
    if (sp1 == end) {
        rec->field[SLT_F_METHOD] = slt_str_make(p, len);
        return;
    }
    rec->field[SLT_F_METHOD] = slt__str(p, sp1);
    /* the last space: usually the one before "HTTP/1.1", checked without a backward scan */
    if (end - sp1 >= 10 && end[-9] == ' ' && !slt__has_byte8(end - 8, ' '))
        sp2 = end - 9;
    else
        sp2 = slt__rfind(sp1 + 1, end, ' ');
    if (!sp2) {
        rec->field[SLT_F_PATH] = slt__str(sp1 + 1, end);
        return;
    }
    rec->field[SLT_F_PATH] = slt__str(sp1 + 1, sp2);
    if (sp2 + 1 < end)
        rec->field[SLT_F_PROTOCOL] = slt__str(sp2 + 1, end);
}

static int fail(struct slt_record *rec, int reason, const char *detail, size_t column)
{
    rec->detail = detail;
    rec->column = column;
    return reason;
}

/*
 * The client slot before " ident user [": nginx may put a comma-separated X-Forwarded-For list
 * there ("10.0.0.2, 10.0.0.1, 127.0.0.1"), a quoted list followed by an address, IPv6, or
 * "unix:"; some log_formats put $host (or Apache's %v / %v:%p) in front of it. The rule: when
 * the slot holds more than one space-separated group and the first is a single unquoted
 * word that does not end in ',' (so is not the head of a list), that word is the vhost (HOST)
 * and the rest is the client; otherwise the whole slot is the client.
 */
static void split_client(struct slt_record *rec, const char *p, const char *end)
{
    const char *sp;

    if (p < end && *p != '"' && (sp = memchr(p, ' ', (size_t)(end - p))) != NULL && sp > p &&
        sp[-1] != ',') {
        rec->field[SLT_F_HOST] = slt__str(p, sp);
        for (p = sp; p < end && *p == ' '; p++)
            ;
    }
    rec->field[SLT_F_CLIENT] = slt__str(p, end);
}

int slt__clf_head(struct slt__time_cache *tc, const char *line, size_t len, struct slt_record *rec,
                  size_t *pos)
{
    const char *end = line + len, *b = line, *t, *u, *q, *s, *e;
    int status;

    /*
     * The timestamp is found first: the first '[' preceded by a space and followed by 26
     * bytes and ']'. Everything before it is "client ident user", split from the right, so
     * spaces inside the client slot do not matter.
     */
    for (;;) {
        b = slt__find(b, end, '[');
        if (b == end)
            return fail(rec, SLT_UP_SYNTAX, "no [time] field", len);
        if (b > line && b[-1] == ' ' && end - b >= 28 && b[27] == ']')
            break;
        b++;
    }
    u = slt__rfind(line, b - 1, ' '); /* before user */
    if (!u || u == line)
        return fail(rec, SLT_UP_SYNTAX, "missing ident or user before [time]", 0);
    t = slt__rfind(line, u, ' '); /* before ident */
    if (!t || t == line)
        return fail(rec, SLT_UP_SYNTAX, "missing ident or user before [time]", 0);
    rec->field[SLT_F_USER] = slt__str(u + 1, b - 1);
    split_client(rec, line, t);

    rec->field[SLT_F_TIME] = slt_str_make(b + 1, 26);
    if (slt__clf_cached(tc, b + 1, 26, &rec->time) < 0)
        return fail(rec, SLT_UP_TIME, "bad [time]", (size_t)(b + 1 - line));

    q = b + 28;
    if (end - q < 2 || q[0] != ' ' || q[1] != '"')
        return fail(rec, SLT_UP_SYNTAX, "no \"request\" after [time]", (size_t)(q - line));
    q += 2;
    e = slt__quote_end(q, end);
    if (!e)
        return fail(rec, SLT_UP_SYNTAX, "unterminated \"request\"", (size_t)(q - line));
    rec->field[SLT_F_REQUEST] = slt__str(q, e);
    slt__split_request(rec, q, (size_t)(e - q));

    s = e + 1;
    if (s >= end || *s != ' ')
        return fail(rec, SLT_UP_STATUS, "no status after \"request\"", (size_t)(s - line));
    s++;
    e = slt__find(s, end, ' ');
    rec->field[SLT_F_STATUS] = slt__str(s, e);
    if ((status = slt__status3(s, (size_t)(e - s))) < 0)
        return fail(rec, SLT_UP_STATUS, "status is not 3 digits", (size_t)(s - line));
    rec->status = status;

    /* bytes: digits or "-"; optional at the end of the line */
    if (e < end) {
        s = e + 1;
        e = slt__find(s, end, ' ');
        if (e == s)
            return fail(rec, SLT_UP_SYNTAX, "bad bytes field", (size_t)(s - line));
        if (!(e - s == 1 && *s == '-')) {
            for (q = s; q < e; q++)
                if ((unsigned)(*q - '0') > 9)
                    return fail(rec, SLT_UP_SYNTAX, "bad bytes field", (size_t)(s - line));
        }
        rec->field[SLT_F_BYTES] = slt__str(s, e);
    }
    *pos = (size_t)(e - line);
    return SLT_UP_OK;
}

/* A quoted field at line[*pos] (which must be '"'); an unclosed one runs to the end. */
static struct slt_str quoted(const char *line, size_t len, size_t *pos)
{
    const char *p = line + *pos + 1, *end = line + len, *e = slt__quote_end(p, end);

    if (!e) {
        *pos = len;
        return slt__str(p, end);
    }
    *pos = (size_t)(e + 1 - line);
    return slt__str(p, e);
}

/* Past one space at *pos when a '"' follows it; 1 when so. */
static int space_quote(const char *line, size_t len, size_t *pos)
{
    if (*pos + 1 < len && line[*pos] == ' ' && line[*pos + 1] == '"') {
        (*pos)++;
        return 1;
    }
    return 0;
}

void slt__clf_referer_ua(const char *line, size_t len, struct slt_record *rec, size_t *pos)
{
    const char *e;
    int skip;

    for (skip = 0; skip < 2 && *pos + 1 < len && line[*pos] == ' ' && line[*pos + 1] != '"';
         skip++) {
        e = memchr(line + *pos + 1, ' ', len - *pos - 1);
        if (!e)
            return;
        *pos = (size_t)(e - line);
    }
    if (!space_quote(line, len, pos))
        return;
    rec->field[SLT_F_REFERER] = quoted(line, len, pos);
    if (!space_quote(line, len, pos))
        return;
    rec->field[SLT_F_USER_AGENT] = quoted(line, len, pos);
}

size_t slt__upstream_scan(const char *p, size_t len, enum slt_latency_unit unit, int64_t *sum_us)
{
    const char *start = p, *end = p + len, *last = p, *e;
    int64_t sum = 0, v;
    int any = 0;

    for (;;) {
        if (unit == SLT_UNIT_S && (e = slt__msec(p, end, &v)) != NULL &&
            (e == end || *e == ' ' || *e == ',')) {
            /* the usual "0.123": the word read while scanning it */
            sum = sum > SLT__LATENCY_MAX_US ? sum : sum + v;
            any = 1;
            goto next;
        }
        for (e = p; e < end && *e != ' ' && *e != ','; e++)
            ;
        if (e - p == 1 && *p == '-') {
            /* a server that was not reached */
        } else if (e > p && slt_parse_latency(p, (size_t)(e - p), unit, &v) == 0 && v >= 0) {
            /* saturate: a list is bounded only by the line length */
            sum = sum > SLT__LATENCY_MAX_US ? sum : sum + v;
            any = 1;
        } else {
            break;
        }
    next:
        last = e;
        if (end - e >= 2 && e[0] == ',' && e[1] == ' ')
            p = e + 2;
        else if (end - e >= 3 && e[0] == ' ' && e[1] == ':' && e[2] == ' ')
            p = e + 3;
        else if (e < end && *e == ',')
            p = e + 1;
        else
            break;
    }
    *sum_us = any ? sum : -1;
    return (size_t)(last - start);
}

int64_t slt__upstream_sum(const char *p, size_t len, enum slt_latency_unit unit)
{
    int64_t sum;

    slt__upstream_scan(p, len, unit, &sum);
    return sum;
}

int slt__clf_parse_general(enum slt__clf_variant v, struct slt__builtin_state *st, const char *line,
                           size_t len, struct slt_record *rec)
{
    size_t pos = 0;
    const char *s, *e;
    int r;

    if ((r = slt__clf_head(&st->clf, line, len, rec, &pos)) != SLT_UP_OK || v == SLT__CLF_COMMON)
        return r;
    slt__clf_referer_ua(line, len, rec, &pos);
    if (v == SLT__CLF_COMBINED)
        return SLT_UP_OK;
    if (space_quote(line, len, &pos))
        rec->field[SLT_F_XFF] = quoted(line, len, &pos);
    if (v == SLT__CLF_MAIN)
        return SLT_UP_OK;

    if (pos >= len || line[pos] != ' ')
        return fail(rec, SLT_UP_LATENCY, "no $request_time", pos);
    s = line + pos + 1;
    e = slt__find(s, line + len, ' ');
    rec->field[SLT_F_LATENCY] = slt__str(s, e);
    if (e == s || slt_parse_latency(s, (size_t)(e - s), SLT_UNIT_S, &rec->latency_us) < 0)
        return fail(rec, SLT_UP_LATENCY, "bad $request_time", (size_t)(s - line));
    pos = (size_t)(e - line);
    if (pos + 1 < len) {
        size_t n = slt__upstream_scan(line + pos + 1, len - pos - 1, SLT_UNIT_S, &rec->upstream_us);
        if (n)
            rec->field[SLT_F_UPSTREAM_LATENCY] = slt_str_make(line + pos + 1, n);
    }
    return SLT_UP_OK;
}

/* ' "' at p: the quoted field after it into *f, and the byte after its closing quote. */
static SLT__ALWAYS_INLINE const char *fast_quoted(const char *p, const char *end, struct slt_str *f)
{
    const char *e;

    if (end - p < 2 || p[0] != ' ' || p[1] != '"' || !(e = slt__quote_end(p + 2, end)))
        return NULL;
    *f = slt__str(p + 2, e);
    return e + 1;
}

/*
 * The fast path, for the layout the default nginx and Apache log_formats write:
 *   client - user [time] "request" status bytes "referer" "user_agent"[ "xff"][ rt ut]
 * with no space in client and user. Each field is found from where the last one ended, numbers
 * are read while scanning, and nothing is searched twice. Returns 1 with rec filled exactly as
 * slt__clf_parse_general fills it, or 0 when the line is not in this shape or does not parse:
 * the general path then decides (and says what is wrong). tests/fuzz/fuzz_fastpath.c checks
 * that the two agree on every line.
 */
static int clf_fast(enum slt__clf_variant v, struct slt__builtin_state *st, const char *line,
                    size_t len, struct slt_record *rec)
{
    const char *end = line + len, *sp, *u, *b, *q, *e, *s, *p;
    int status;
    int64_t us;

    /* client, ident "-", user: the first '[' after a space is then the time's */
    sp = slt__find(line, end, ' ');
    if (sp == line || end - sp < 33 || sp[1] != '-' || sp[2] != ' ' || sp[3] == '[')
        return 0;
    u = sp + 3;
    if (u[0] == '-' && u[1] == ' ') {
        b = u + 2;
    } else {
        e = slt__find(u, end, ' ');
        if (end - e < 29)
            return 0;
        b = e + 1;
    }
    if (end - b < 28 || b[0] != '[' || b[27] != ']')
        return 0;
    rec->field[SLT_F_CLIENT] = slt__str(line, sp);
    rec->field[SLT_F_USER] = slt__str(u, b - 1);
    rec->field[SLT_F_TIME] = slt_str_make(b + 1, 26);
    if (slt__clf_cached(&st->clf, b + 1, 26, &rec->time) < 0)
        return 0;

    q = b + 28;
    if (end - q < 2 || q[0] != ' ' || q[1] != '"' || !(e = slt__quote_end(q + 2, end)))
        return 0;
    q += 2;
    rec->field[SLT_F_REQUEST] = slt__str(q, e);
    slt__split_request(rec, q, (size_t)(e - q));

    /* ' 200 ' then bytes: digits or "-" */
    s = e + 1;
    if (end - s < 5 || s[0] != ' ' || s[4] != ' ' || (status = slt__status3(s + 1, 3)) < 0)
        return 0;
    rec->field[SLT_F_STATUS] = slt_str_make(s + 1, 3);
    rec->status = status;
    s += 5;
    p = slt__skip_digits(s, end);
    if (p == s && p < end && *p == '-')
        p++;
    if (p == s || (p < end && *p != ' '))
        return 0;
    rec->field[SLT_F_BYTES] = slt__str(s, p);
    if (v == SLT__CLF_COMMON)
        return 1;

    if (!(p = fast_quoted(p, end, &rec->field[SLT_F_REFERER])) ||
        !(p = fast_quoted(p, end, &rec->field[SLT_F_USER_AGENT])))
        return 0;
    if (v == SLT__CLF_COMBINED)
        return 1;
    if (end - p >= 2 && p[0] == ' ' && p[1] == '"' &&
        !(p = fast_quoted(p, end, &rec->field[SLT_F_XFF])))
        return 0;
    if (v == SLT__CLF_MAIN)
        return 1;

    /* ' 0.123' (or ' -'), then the upstream list when there is one */
    if (p >= end || *p != ' ')
        return 0;
    s = p + 1;
    if ((p = slt__msec(s, end, &us)) != NULL && (p == end || *p == ' ')) {
        rec->latency_us = us;
    } else if (s < end && *s == '-' && (s + 1 == end || s[1] == ' ')) {
        p = s + 1;
    } else {
        return 0;
    }
    rec->field[SLT_F_LATENCY] = slt__str(s, p);
    if (end - p >= 2) {
        s = p + 1;
        q = slt__msec(s, end, &us);
        if (q && (q == end || (*q == ' ' && !(end - q >= 3 && q[1] == ':' && q[2] == ' ')))) {
            /* a single upstream time: what slt__upstream_scan would sum */
            rec->field[SLT_F_UPSTREAM_LATENCY] = slt__str(s, q);
            rec->upstream_us = us;
        } else {
            size_t n = slt__upstream_scan(s, (size_t)(end - s), SLT_UNIT_S, &rec->upstream_us);
            if (n)
                rec->field[SLT_F_UPSTREAM_LATENCY] = slt_str_make(s, n);
        }
    }
    return 1;
}

int slt__clf_parse(enum slt__clf_variant v, struct slt__builtin_state *st, const char *line,
                   size_t len, struct slt_record *rec)
{
    if (SLT__LIKELY(clf_fast(v, st, line, len, rec)))
        return SLT_UP_OK;
    /* back to the record slt_parse() handed over */
    memset(rec->field, 0, sizeof(rec->field));
    rec->time = 0;
    rec->status = 0;
    rec->latency_us = -1;
    rec->upstream_us = -1;
    return slt__clf_parse_general(v, st, line, len, rec);
}

static int parse_combined(const struct slt_format *fmt, struct slt_parser *p, const char *line,
                          size_t len, struct slt_record *rec)
{
    (void)fmt;
    return slt__clf_parse(SLT__CLF_COMBINED, p->state, line, len, rec);
}

static int parse_main(const struct slt_format *fmt, struct slt_parser *p, const char *line,
                      size_t len, struct slt_record *rec)
{
    (void)fmt;
    return slt__clf_parse(SLT__CLF_MAIN, p->state, line, len, rec);
}

static int parse_timed(const struct slt_format *fmt, struct slt_parser *p, const char *line,
                       size_t len, struct slt_record *rec)
{
    (void)fmt;
    return slt__clf_parse(SLT__CLF_TIMED, p->state, line, len, rec);
}

const struct slt_format_ops slt__nginx_combined_ops = {
    .parse = parse_combined,
    .parser_init = slt__builtin_parser_init,
    .parser_release = slt__builtin_parser_release,
};

const struct slt_format_ops slt__nginx_main_ops = {
    .parse = parse_main,
    .parser_init = slt__builtin_parser_init,
    .parser_release = slt__builtin_parser_release,
};

const struct slt_format_ops slt__nginx_timed_ops = {
    .parse = parse_timed,
    .parser_init = slt__builtin_parser_init,
    .parser_release = slt__builtin_parser_release,
};
