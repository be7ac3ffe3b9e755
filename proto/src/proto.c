/*
 * The wire protocol codec: frames (4-byte big-endian length + one msgpack map) and the
 * messages in docs/PROTOCOL.md.
 *
 * The decoder is a small pull parser over the frame bytes rather than msgpack-c's object
 * unpacker: msgpack-c allocates a whole array as soon as it reads a header announcing it, so a
 * 6-byte input could ask for gigabytes. Here every count is checked against the limits and
 * against the bytes left before anything is allocated, and nesting is bounded by max_depth.
 */
#include <stdio.h>

#include "slt/proto.h"

/* ---- decoding ---------------------------------------------------------------------------- */

struct cur {
    const uint8_t *p;
    const uint8_t *end;
    const struct slt_proto_limits *lim;
    char *err;
    size_t errlen;
};

static int fail(struct cur *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct cur *c, const char *fmt, ...)
{
    va_list ap;

    if (c->err && c->errlen) {
        va_start(ap, fmt);
        vsnprintf(c->err, c->errlen, fmt, ap);
        va_end(ap);
    }
    return SLT_EPROTO;
}

static size_t left(const struct cur *c)
{
    return (size_t)(c->end - c->p);
}

static uint64_t be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    size_t i;

    for (i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Takes n bytes holding a big-endian number. */
static int take_be(struct cur *c, size_t n, uint64_t *v)
{
    *v = 0;
    if (left(c) < n)
        return fail(c, "truncated value");
    *v = be(c->p, n);
    c->p += n;
    return 0;
}

/* An integer of any msgpack width, as a signed value (neg) or unsigned (!neg). */
static int rd_intany(struct cur *c, int *neg, uint64_t *u)
{
    uint8_t b;
    uint64_t v = 0;
    int rc;

    *neg = 0;
    *u = 0;
    if (left(c) < 1)
        return fail(c, "truncated value");
    b = *c->p++;
    if (b <= 0x7f) {
        *u = b;
        return 0;
    }
    if (b >= 0xe0) {
        *neg = 1;
        *u = (uint64_t)(int64_t)(int8_t)b;
        return 0;
    }
    switch (b) {
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf:
        return take_be(c, (size_t)1 << (b - 0xcc), u);
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
        size_t n = (size_t)1 << (b - 0xd0);
        int64_t s;

        rc = take_be(c, n, &v);
        if (rc < 0)
            return rc;
        /* sign-extend from n bytes */
        if (n < 8 && (v & ((uint64_t)1 << (n * 8 - 1))))
            v |= ~(((uint64_t)1 << (n * 8)) - 1);
        s = (int64_t)v;
        if (s < 0) {
            *neg = 1;
            *u = v;
        } else {
            *u = v;
        }
        return 0;
    }
    default:
        c->p--;
        return fail(c, "expected an integer");
    }
}

static int rd_uint(struct cur *c, const char *what, uint64_t *out)
{
    int neg = 0, rc;

    rc = rd_intany(c, &neg, out);
    if (rc < 0)
        return fail(c, "'%s': expected an unsigned integer", what);
    if (neg)
        return fail(c, "'%s': negative value", what);
    return 0;
}

static int rd_int(struct cur *c, const char *what, int64_t *out)
{
    uint64_t u = 0;
    int neg = 0, rc;

    rc = rd_intany(c, &neg, &u);
    if (rc < 0)
        return fail(c, "'%s': expected an integer", what);
    if (!neg && u > (uint64_t)INT64_MAX)
        return fail(c, "'%s': integer out of range", what);
    *out = (int64_t)u;
    return 0;
}

/* A str or bin value; the slice points into the frame. */
static int rd_str(struct cur *c, const char *what, struct slt_str *out)
{
    uint8_t b;
    uint64_t n = 0;
    int rc = 0;

    if (left(c) < 1)
        return fail(c, "'%s': truncated", what);
    b = *c->p++;
    if ((b & 0xe0) == 0xa0) {
        n = b & 0x1f;
    } else if (b == 0xd9 || b == 0xc4) {
        rc = take_be(c, 1, &n);
    } else if (b == 0xda || b == 0xc5) {
        rc = take_be(c, 2, &n);
    } else if (b == 0xdb || b == 0xc6) {
        rc = take_be(c, 4, &n);
    } else {
        return fail(c, "'%s': expected a string", what);
    }
    if ((b & 0xe0) != 0xa0 && rc < 0)
        return fail(c, "'%s': truncated", what);
    if (n > c->lim->max_str)
        return fail(c, "'%s': string of %llu bytes over the limit of %u", what,
                    (unsigned long long)n, c->lim->max_str);
    if (n > left(c))
        return fail(c, "'%s': truncated string", what);
    out->p = (const char *)c->p;
    out->len = (size_t)n;
    c->p += n;
    return 0;
}

/* Header of an array (map = 0) or map (map = 1); *n is checked against the bytes left. */
static int rd_container(struct cur *c, int map, const char *what, uint64_t *n)
{
    uint8_t b;
    int rc = 0;

    if (left(c) < 1)
        return fail(c, "'%s': truncated", what);
    b = *c->p++;
    if (map && (b & 0xf0) == 0x80) {
        *n = b & 0x0f;
    } else if (!map && (b & 0xf0) == 0x90) {
        *n = b & 0x0f;
    } else if (b == (map ? 0xde : 0xdc)) {
        rc = take_be(c, 2, n);
    } else if (b == (map ? 0xdf : 0xdd)) {
        rc = take_be(c, 4, n);
    } else {
        return fail(c, "'%s': expected %s", what, map ? "a map" : "an array");
    }
    if (rc < 0)
        return fail(c, "'%s': truncated", what);
    /* each element takes at least one byte (two for a map entry) */
    if (*n > left(c) / (map ? 2 : 1))
        return fail(c, "'%s': %llu elements announced, only %zu bytes left", what,
                    (unsigned long long)*n, left(c));
    return 0;
}

/* Skips one value of any type (unknown keys), nesting at most depth more levels. */
static int skip(struct cur *c, uint32_t depth)
{
    uint8_t b;
    uint64_t n = 0, i, v = 0;
    int rc;

    if (left(c) < 1)
        return fail(c, "truncated value");
    b = *c->p;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
        c->p++;
        return 0;
    }
    if ((b & 0xe0) == 0xa0 || b == 0xd9 || b == 0xda || b == 0xdb || b == 0xc4 || b == 0xc5 ||
        b == 0xc6) {
        struct slt_str s;
        return rd_str(c, "value", &s);
    }
    if ((b >= 0xcc && b <= 0xcf) || (b >= 0xd0 && b <= 0xd3)) {
        int neg;
        return rd_intany(c, &neg, &v);
    }
    if (b == 0xca || b == 0xcb) {
        c->p++;
        return take_be(c, b == 0xca ? 4 : 8, &v);
    }
    if ((b & 0xf0) == 0x80 || (b & 0xf0) == 0x90 || b == 0xdc || b == 0xdd || b == 0xde ||
        b == 0xdf) {
        int map = (b & 0xf0) == 0x80 || b == 0xde || b == 0xdf;

        if (depth == 0)
            return fail(c, "nesting deeper than %u", c->lim->max_depth);
        rc = rd_container(c, map, "value", &n);
        if (rc < 0)
            return rc;
        for (i = 0; i < n * (map ? 2 : 1); i++) {
            rc = skip(c, depth - 1);
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    /* ext types: fixext 1/2/4/8/16 and ext 8/16/32 */
    if (b >= 0xd4 && b <= 0xd8) {
        c->p++;
        n = ((uint64_t)1 << (b - 0xd4)) + 1;
    } else if (b >= 0xc7 && b <= 0xc9) {
        c->p++;
        rc = take_be(c, (size_t)1 << (b - 0xc7), &n);
        if (rc < 0)
            return rc;
        n += 1;
    } else {
        return fail(c, "invalid msgpack byte 0x%02x", b);
    }
    if (n > left(c))
        return fail(c, "truncated ext value");
    c->p += n;
    return 0;
}

/* Keys of the top-level map and of a series map. */
enum key {
    K_UNKNOWN = -1,
    K_T,
    K_V,
    K_AGENT,
    K_EPOCH,
    K_TOKEN,
    K_SERVER,
    K_SEQ,
    K_CREATED,
    K_SERIES,
    K_STATUS,
    K_RESEND,
    K_MSG,
    K_KIND,
    K_NAME,
    K_SINCE,
    K_ROWS,
    K_REASON,
    K_MARK,
    K_INSTANCE,
    K_COUNT
};

static const char *const key_names[K_COUNT] = {
    "t",      "v",      "agent",       "epoch", "token", "server", "seq",   "created",
    "series", "status", "resend_from", "msg",   "k",     "n",      "since", "rows",
    "reason", "mark",   "instance",
};

static enum key lookup_key(struct slt_str s)
{
    int i;

    for (i = 0; i < K_COUNT; i++)
        if (slt_str_eq(s, key_names[i]))
            return (enum key)i;
    return K_UNKNOWN;
}

/* Agent ids and series names: 1..max_str bytes, no control bytes, no braces (hash tags). */
static int check_name(struct cur *c, const char *what, struct slt_str s)
{
    size_t i;

    if (s.len == 0)
        return fail(c, "'%s': empty", what);
    for (i = 0; i < s.len; i++) {
        unsigned char ch = (unsigned char)s.p[i];
        if (ch < 0x20 || ch == 0x7f || ch == '{' || ch == '}')
            return fail(c, "'%s': byte 0x%02x not allowed", what, ch);
    }
    return 0;
}

static int rd_rows(struct cur *c, struct slt_series *s)
{
    uint64_t n = 0, m = 0, i, j;
    int rc;

    rc = rd_container(c, 0, "rows", &n);
    if (rc < 0)
        return rc;
    if (n > c->lim->max_rows)
        return fail(c, "'rows': %llu rows over the limit of %u", (unsigned long long)n,
                    c->lim->max_rows);
    /* a row is at least 5 bytes: fixarray header and four fixints */
    if (n > left(c) / 5)
        return fail(c, "'rows': %llu rows announced, only %zu bytes left", (unsigned long long)n,
                    left(c));
    if (n) {
        s->rows = slt_calloc((size_t)n, sizeof(*s->rows));
        if (!s->rows)
            return fail(c, "out of memory");
    }
    for (i = 0; i < n; i++) {
        struct slt_count_row *r = &s->rows[i];

        rc = rd_container(c, 0, "row", &m);
        if (rc < 0)
            return rc;
        if (m != 4)
            return fail(c, "'row': %llu elements, want 4", (unsigned long long)m);
        rc = rd_int(c, "minute", &r->minute);
        if (rc < 0)
            return rc;
        if (r->minute < 0 || r->minute % 60 != 0)
            return fail(c, "'minute': %lld is not a non-negative multiple of 60",
                        (long long)r->minute);
        for (j = 0; j < 3; j++) {
            rc = rd_uint(c, "count", &r->v[j]);
            if (rc < 0)
                return rc;
            /* counts go into Redis HINCRBY, which is signed 64-bit */
            if (r->v[j] > (uint64_t)INT64_MAX)
                return fail(c, "'count': %llu out of range", (unsigned long long)r->v[j]);
        }
        s->nrows++;
    }
    return 0;
}

static int rd_series_one(struct cur *c, struct slt_series *s)
{
    uint64_t n = 0, i, u = 0;
    unsigned seen = 0;
    struct slt_str ks;
    enum key k;
    int rc;

    rc = rd_container(c, 1, "series", &n);
    if (rc < 0)
        return rc;
    for (i = 0; i < n; i++) {
        rc = rd_str(c, "key", &ks);
        if (rc < 0)
            return rc;
        k = lookup_key(ks);
        if (k != K_UNKNOWN) {
            if (seen & (1u << k))
                return fail(c, "series key '%s' repeated", key_names[k]);
            seen |= 1u << k;
        }
        switch (k) {
        case K_KIND:
            rc = rd_uint(c, "k", &u);
            if (rc == 0 && u != SLT_SERIES_SLI && u != SLT_SERIES_INPUT)
                rc = fail(c, "'k': unknown series kind %llu", (unsigned long long)u);
            s->kind = (enum slt_series_kind)u;
            break;
        case K_NAME:
            rc = rd_str(c, "n", &s->name);
            if (rc == 0)
                rc = check_name(c, "n", s->name);
            break;
        case K_SINCE:
            rc = rd_uint(c, "since", &s->since);
            break;
        case K_ROWS:
            rc = rd_rows(c, s);
            break;
        default:
            rc = skip(c, c->lim->max_depth > 3 ? c->lim->max_depth - 3 : 0);
            if (k != K_UNKNOWN)
                seen &= ~(1u << k); /* a key of another message: ignored */
            break;
        }
        if (rc < 0)
            return rc;
    }
    if (!(seen & (1u << K_KIND)) || !(seen & (1u << K_NAME)) || !(seen & (1u << K_SINCE)) ||
        !(seen & (1u << K_ROWS)))
        return fail(c, "series needs 'k', 'n', 'since' and 'rows'");
    if (s->since == 0)
        return fail(c, "'since': must be at least 1");
    return 0;
}

static int rd_series(struct cur *c, struct slt_msg_batch *b)
{
    uint64_t n = 0, i;
    int rc;

    if (c->lim->max_depth < 5)
        return fail(c, "nesting deeper than %u", c->lim->max_depth);
    rc = rd_container(c, 0, "series", &n);
    if (rc < 0)
        return rc;
    if (n > c->lim->max_series)
        return fail(c, "'series': %llu series over the limit of %u", (unsigned long long)n,
                    c->lim->max_series);
    if (n) {
        b->series = slt_calloc((size_t)n, sizeof(*b->series));
        if (!b->series)
            return fail(c, "out of memory");
    }
    for (i = 0; i < n; i++) {
        b->nseries++;
        rc = rd_series_one(c, &b->series[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

void slt_proto_limits_default(struct slt_proto_limits *l)
{
    l->max_series = 4096;
    l->max_rows = 100000;
    l->max_str = 1024;
    l->max_depth = 8;
}

void slt_msg_release(struct slt_msg *m)
{
    size_t i;

    if (!m)
        return;
    if (m->type == SLT_MSG_BATCH) {
        for (i = 0; i < m->u.batch.nseries; i++)
            slt_free(m->u.batch.series[i].rows);
        slt_free(m->u.batch.series);
        m->u.batch.series = NULL;
        m->u.batch.nseries = 0;
    }
}

/* Which keys each message type needs. */
static unsigned required_keys(int type)
{
    switch (type) {
    case SLT_MSG_HELLO:
        return 1u << K_V | 1u << K_AGENT | 1u << K_EPOCH | 1u << K_TOKEN;
    case SLT_MSG_WELCOME:
        return 1u << K_V;
    case SLT_MSG_BATCH:
        return 1u << K_AGENT | 1u << K_EPOCH | 1u << K_SEQ | 1u << K_SERIES;
    case SLT_MSG_ACK:
        return 1u << K_EPOCH | 1u << K_SEQ | 1u << K_STATUS;
    case SLT_MSG_ERROR:
        return 1u << K_MSG;
    default:
        return 0;
    }
}

/*
 * The type key "t" must come first, so every later key can be read straight into the right
 * member of the union.
 */
static int decode(struct cur *c, struct slt_msg *m)
{
    uint64_t n = 0, i, u = 0;
    unsigned seen = 0, need;
    struct slt_str ks;
    enum key k;
    int rc;

    if (c->lim->max_depth < 1)
        return fail(c, "nesting deeper than %u", c->lim->max_depth);
    rc = rd_container(c, 1, "message", &n);
    if (rc < 0)
        return rc;
    if (n < 1)
        return fail(c, "empty message");
    rc = rd_str(c, "key", &ks);
    if (rc < 0)
        return rc;
    if (lookup_key(ks) != K_T)
        return fail(c, "first key must be 't'");
    rc = rd_uint(c, "t", &u);
    if (rc < 0)
        return rc;
    if (u < SLT_MSG_HELLO || u > SLT_MSG_ERROR)
        return fail(c, "unknown message type %llu", (unsigned long long)u);
    m->type = (enum slt_msg_type)u;
    need = required_keys(m->type);
    seen = 1u << K_T;
    for (i = 1; i < n; i++) {
        rc = rd_str(c, "key", &ks);
        if (rc < 0)
            return rc;
        k = lookup_key(ks);
        if (k != K_UNKNOWN && (need & (1u << k)) == 0 && k != K_CREATED && k != K_SERVER &&
            k != K_RESEND && k != K_REASON && k != K_MARK && k != K_INSTANCE)
            k = K_UNKNOWN; /* not a key of this type: skip it */
        if (k == K_CREATED && m->type != SLT_MSG_BATCH)
            k = K_UNKNOWN;
        if (k == K_SERVER && m->type != SLT_MSG_WELCOME)
            k = K_UNKNOWN;
        if ((k == K_RESEND || k == K_REASON || k == K_MARK) && m->type != SLT_MSG_ACK)
            k = K_UNKNOWN;
        if (k == K_INSTANCE && m->type != SLT_MSG_HELLO)
            k = K_UNKNOWN;
        if (k != K_UNKNOWN) {
            if (seen & (1u << k))
                return fail(c, "key '%s' repeated", key_names[k]);
            seen |= 1u << k;
        }
        switch (m->type) {
        case SLT_MSG_HELLO: {
            struct slt_msg_hello *h = &m->u.hello;
            switch (k) {
            case K_V:
                rc = rd_uint(c, "v", &u);
                if (rc == 0 && u > UINT32_MAX)
                    rc = fail(c, "'v': out of range");
                h->version = (uint32_t)u;
                break;
            case K_AGENT:
                rc = rd_str(c, "agent", &h->agent_id);
                if (rc == 0)
                    rc = check_name(c, "agent", h->agent_id);
                break;
            case K_EPOCH:
                rc = rd_uint(c, "epoch", &h->epoch);
                break;
            case K_TOKEN:
                rc = rd_str(c, "token", &h->token);
                break;
            case K_INSTANCE:
                rc = rd_str(c, "instance", &h->instance);
                if (rc == 0 && h->instance.len > 0)
                    rc = check_name(c, "instance", h->instance);
                break;
            default:
                rc = skip(c, c->lim->max_depth - 1);
            }
            break;
        }
        case SLT_MSG_WELCOME:
            if (k == K_V) {
                rc = rd_uint(c, "v", &u);
                if (rc == 0 && u > UINT32_MAX)
                    rc = fail(c, "'v': out of range");
                m->u.welcome.version = (uint32_t)u;
            } else if (k == K_SERVER) {
                rc = rd_str(c, "server", &m->u.welcome.server);
            } else {
                rc = skip(c, c->lim->max_depth - 1);
            }
            break;
        case SLT_MSG_BATCH: {
            struct slt_msg_batch *b = &m->u.batch;
            switch (k) {
            case K_AGENT:
                rc = rd_str(c, "agent", &b->agent_id);
                if (rc == 0)
                    rc = check_name(c, "agent", b->agent_id);
                break;
            case K_EPOCH:
                rc = rd_uint(c, "epoch", &b->epoch);
                break;
            case K_SEQ:
                rc = rd_uint(c, "seq", &b->seq);
                if (rc == 0 && b->seq == 0)
                    rc = fail(c, "'seq': must be at least 1");
                break;
            case K_CREATED:
                rc = rd_int(c, "created", &b->created_ms);
                break;
            case K_SERIES:
                rc = rd_series(c, b);
                break;
            default:
                rc = skip(c, c->lim->max_depth - 1);
            }
            break;
        }
        case SLT_MSG_ACK: {
            struct slt_msg_ack *a = &m->u.ack;
            switch (k) {
            case K_EPOCH:
                rc = rd_uint(c, "epoch", &a->epoch);
                break;
            case K_SEQ:
                rc = rd_uint(c, "seq", &a->seq);
                break;
            case K_STATUS:
                rc = rd_uint(c, "status", &u);
                if (rc == 0 && u > SLT_ACK_RETRY)
                    rc = fail(c, "'status': unknown ack status %llu", (unsigned long long)u);
                a->status = (enum slt_ack_status)u;
                break;
            case K_RESEND:
                rc = rd_uint(c, "resend_from", &a->resend_from);
                break;
            case K_REASON:
                rc = rd_uint(c, "reason", &u);
                /* an unknown reason is kept as "invalid": newer aggregators may add some */
                a->reason = u == SLT_REJECT_STALE_EPOCH ? SLT_REJECT_STALE_EPOCH
                            : u == 0                    ? 0
                                                        : SLT_REJECT_INVALID;
                break;
            case K_MARK:
                rc = rd_uint(c, "mark", &a->mark);
                break;
            default:
                rc = skip(c, c->lim->max_depth - 1);
            }
            break;
        }
        case SLT_MSG_ERROR:
            if (k == K_MSG)
                rc = rd_str(c, "msg", &m->u.error.message);
            else
                rc = skip(c, c->lim->max_depth - 1);
            break;
        }
        if (rc < 0)
            return rc;
    }
    if ((seen & need) != need) {
        for (i = 0; i < K_COUNT; i++)
            if ((need & (1u << i)) && !(seen & (1u << i)))
                return fail(c, "%s message without '%s'", slt_msg_type_name(m->type), key_names[i]);
    }
    if (c->p != c->end)
        return fail(c, "%zu bytes after the message", left(c));
    return 0;
}

int slt_msg_decode(const char *payload, size_t len, const struct slt_proto_limits *limits,
                   struct slt_msg *out, char *err, size_t errlen)
{
    struct slt_proto_limits def;
    struct cur c;
    int rc;

    if (!limits) {
        slt_proto_limits_default(&def);
        limits = &def;
    }
    memset(out, 0, sizeof(*out));
    if (err && errlen)
        err[0] = '\0';
    c.p = (const uint8_t *)payload;
    c.end = c.p + len;
    c.lim = limits;
    c.err = err;
    c.errlen = errlen;
    rc = decode(&c, out);
    if (rc < 0) {
        slt_msg_release(out);
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

const char *slt_msg_type_name(int type)
{
    switch (type) {
    case SLT_MSG_HELLO:
        return "hello";
    case SLT_MSG_WELCOME:
        return "welcome";
    case SLT_MSG_BATCH:
        return "batch";
    case SLT_MSG_ACK:
        return "ack";
    case SLT_MSG_ERROR:
        return "error";
    default:
        return "unknown";
    }
}

const char *slt_ack_status_name(int status)
{
    switch (status) {
    case SLT_ACK_APPLIED:
        return "applied";
    case SLT_ACK_DUPLICATE:
        return "duplicate";
    case SLT_ACK_GAP:
        return "gap";
    case SLT_ACK_REJECTED:
        return "rejected";
    case SLT_ACK_RETRY:
        return "retry";
    default:
        return "unknown";
    }
}

/* ---- encoding ---------------------------------------------------------------------------- */

struct enc {
    struct slt_buf *b;
    int rc;
};

static void put(struct enc *e, const void *p, size_t n)
{
    if (e->rc == 0)
        e->rc = slt_buf_append(e->b, p, n);
}

static void put_be(struct enc *e, uint8_t tag, uint64_t v, size_t n)
{
    uint8_t tmp[9];
    size_t i;

    tmp[0] = tag;
    for (i = 0; i < n; i++)
        tmp[1 + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    put(e, tmp, n + 1);
}

static void put_uint(struct enc *e, uint64_t v)
{
    uint8_t b;

    if (v <= 0x7f) {
        b = (uint8_t)v;
        put(e, &b, 1);
    } else if (v <= 0xff) {
        put_be(e, 0xcc, v, 1);
    } else if (v <= 0xffff) {
        put_be(e, 0xcd, v, 2);
    } else if (v <= 0xffffffffu) {
        put_be(e, 0xce, v, 4);
    } else {
        put_be(e, 0xcf, v, 8);
    }
}

/* put_uint / put_int into o (at most 9 bytes); returns the end. */
static uint8_t *row_be(uint8_t *o, uint8_t tag, uint64_t v, size_t n)
{
    size_t i;

    *o++ = tag;
    for (i = 0; i < n; i++)
        *o++ = (uint8_t)(v >> (8 * (n - 1 - i)));
    return o;
}

static uint8_t *row_uint(uint8_t *o, uint64_t v)
{
    if (v <= 0x7f) {
        *o++ = (uint8_t)v;
        return o;
    }
    if (v <= 0xff)
        return row_be(o, 0xcc, v, 1);
    if (v <= 0xffff)
        return row_be(o, 0xcd, v, 2);
    if (v <= 0xffffffffu)
        return row_be(o, 0xce, v, 4);
    return row_be(o, 0xcf, v, 8);
}

static uint8_t *row_int(uint8_t *o, int64_t v)
{
    if (v >= 0)
        return row_uint(o, (uint64_t)v);
    if (v >= -32) {
        *o++ = (uint8_t)(int8_t)v;
        return o;
    }
    if (v >= INT8_MIN)
        return row_be(o, 0xd0, (uint64_t)v & 0xff, 1);
    if (v >= INT16_MIN)
        return row_be(o, 0xd1, (uint64_t)v & 0xffff, 2);
    if (v >= INT32_MIN)
        return row_be(o, 0xd2, (uint64_t)v & 0xffffffffu, 4);
    return row_be(o, 0xd3, (uint64_t)v, 8);
}

static void put_int(struct enc *e, int64_t v)
{
    uint8_t b;

    if (v >= 0) {
        put_uint(e, (uint64_t)v);
    } else if (v >= -32) {
        b = (uint8_t)(int8_t)v;
        put(e, &b, 1);
    } else if (v >= INT8_MIN) {
        put_be(e, 0xd0, (uint64_t)v & 0xff, 1);
    } else if (v >= INT16_MIN) {
        put_be(e, 0xd1, (uint64_t)v & 0xffff, 2);
    } else if (v >= INT32_MIN) {
        put_be(e, 0xd2, (uint64_t)v & 0xffffffffu, 4);
    } else {
        put_be(e, 0xd3, (uint64_t)v, 8);
    }
}

static void put_str(struct enc *e, const char *p, size_t n)
{
    uint8_t b;

    if (n > UINT32_MAX) {
        if (e->rc == 0)
            e->rc = SLT_ELIMIT;
        return;
    }
    if (n <= 31) {
        b = (uint8_t)(0xa0 | n);
        put(e, &b, 1);
    } else if (n <= 0xff) {
        put_be(e, 0xd9, n, 1);
    } else if (n <= 0xffff) {
        put_be(e, 0xda, n, 2);
    } else {
        put_be(e, 0xdb, n, 4);
    }
    put(e, p, n);
}

static void put_slice(struct enc *e, struct slt_str s)
{
    put_str(e, s.p ? s.p : "", s.p ? s.len : 0);
}

static void put_key(struct enc *e, enum key k)
{
    put_str(e, key_names[k], strlen(key_names[k]));
}

static void put_hdr(struct enc *e, int map, uint64_t n)
{
    uint8_t b;

    if (n > UINT32_MAX) {
        if (e->rc == 0)
            e->rc = SLT_ELIMIT;
        return;
    }
    if (n <= 15) {
        b = (uint8_t)((map ? 0x80 : 0x90) | n);
        put(e, &b, 1);
    } else if (n <= 0xffff) {
        put_be(e, map ? 0xde : 0xdc, n, 2);
    } else {
        put_be(e, map ? 0xdf : 0xdd, n, 4);
    }
}

static void put_batch(struct enc *e, const struct slt_msg_batch *b)
{
    size_t i, j;

    put_key(e, K_AGENT);
    put_slice(e, b->agent_id);
    put_key(e, K_EPOCH);
    put_uint(e, b->epoch);
    put_key(e, K_SEQ);
    put_uint(e, b->seq);
    put_key(e, K_CREATED);
    put_int(e, b->created_ms);
    put_key(e, K_SERIES);
    put_hdr(e, 0, b->nseries);
    for (i = 0; i < b->nseries && e->rc == 0; i++) {
        const struct slt_series *s = &b->series[i];

        put_hdr(e, 1, 4);
        put_key(e, K_KIND);
        put_uint(e, (uint64_t)s->kind);
        put_key(e, K_NAME);
        put_slice(e, s->name);
        put_key(e, K_SINCE);
        put_uint(e, s->since);
        put_key(e, K_ROWS);
        put_hdr(e, 0, s->nrows);
        /* the bulk of a frame: each row is encoded into a local buffer and appended once */
        for (j = 0; j < s->nrows && e->rc == 0; j++) {
            const struct slt_count_row *r = &s->rows[j];
            uint8_t row[1 + 4 * 9], *o = row;

            *o++ = 0x94; /* fixarray of 4 */
            o = row_int(o, r->minute);
            o = row_uint(o, r->v[0]);
            o = row_uint(o, r->v[1]);
            o = row_uint(o, r->v[2]);
            put(e, row, (size_t)(o - row));
        }
    }
}

int slt_msg_encode(const struct slt_msg *m, struct slt_buf *out)
{
    struct enc e = {out, 0};
    size_t start = out->len, body;
    uint8_t *lp;

    put(&e, "\0\0\0\0", 4);
    switch (m->type) {
    case SLT_MSG_HELLO:
        put_hdr(&e, 1, m->u.hello.instance.len ? 6 : 5);
        put_key(&e, K_T);
        put_uint(&e, SLT_MSG_HELLO);
        put_key(&e, K_V);
        put_uint(&e, m->u.hello.version);
        put_key(&e, K_AGENT);
        put_slice(&e, m->u.hello.agent_id);
        put_key(&e, K_EPOCH);
        put_uint(&e, m->u.hello.epoch);
        put_key(&e, K_TOKEN);
        put_slice(&e, m->u.hello.token);
        if (m->u.hello.instance.len) {
            put_key(&e, K_INSTANCE);
            put_slice(&e, m->u.hello.instance);
        }
        break;
    case SLT_MSG_WELCOME:
        put_hdr(&e, 1, 3);
        put_key(&e, K_T);
        put_uint(&e, SLT_MSG_WELCOME);
        put_key(&e, K_V);
        put_uint(&e, m->u.welcome.version);
        put_key(&e, K_SERVER);
        put_slice(&e, m->u.welcome.server);
        break;
    case SLT_MSG_BATCH:
        put_hdr(&e, 1, 6);
        put_key(&e, K_T);
        put_uint(&e, SLT_MSG_BATCH);
        put_batch(&e, &m->u.batch);
        break;
    case SLT_MSG_ACK:
        put_hdr(&e, 1, m->u.ack.status == SLT_ACK_REJECTED ? 7 : 5);
        put_key(&e, K_T);
        put_uint(&e, SLT_MSG_ACK);
        put_key(&e, K_EPOCH);
        put_uint(&e, m->u.ack.epoch);
        put_key(&e, K_SEQ);
        put_uint(&e, m->u.ack.seq);
        put_key(&e, K_STATUS);
        put_uint(&e, (uint64_t)m->u.ack.status);
        put_key(&e, K_RESEND);
        put_uint(&e, m->u.ack.resend_from);
        if (m->u.ack.status == SLT_ACK_REJECTED) {
            put_key(&e, K_REASON);
            put_uint(&e, m->u.ack.reason);
            put_key(&e, K_MARK);
            put_uint(&e, m->u.ack.mark);
        }
        break;
    case SLT_MSG_ERROR:
        put_hdr(&e, 1, 2);
        put_key(&e, K_T);
        put_uint(&e, SLT_MSG_ERROR);
        put_key(&e, K_MSG);
        put_slice(&e, m->u.error.message);
        break;
    default:
        e.rc = SLT_EINVAL;
    }
    body = out->len - start - 4;
    if (e.rc == 0 && body > UINT32_MAX)
        e.rc = SLT_ELIMIT;
    if (e.rc < 0) {
        out->len = start;
        return e.rc;
    }
    lp = (uint8_t *)out->p + start;
    lp[0] = (uint8_t)(body >> 24);
    lp[1] = (uint8_t)(body >> 16);
    lp[2] = (uint8_t)(body >> 8);
    lp[3] = (uint8_t)body;
    return 0;
}

/* ---- frame reader ------------------------------------------------------------------------ */

void slt_frame_reader_init(struct slt_frame_reader *fr, uint32_t max_frame)
{
    if (max_frame == 0)
        max_frame = SLT_DEFAULT_MAX_FRAME;
    slt_buf_init(&fr->buf, (size_t)max_frame + 4 + SLT_FRAME_READ_SLACK);
    fr->max_frame = max_frame;
    fr->frame_len = 0;
    fr->off = 0;
}

void slt_frame_reader_release(struct slt_frame_reader *fr)
{
    slt_buf_release(&fr->buf);
    fr->frame_len = 0;
    fr->off = 0;
}

void slt_frame_reader_set_max(struct slt_frame_reader *fr, uint32_t max_frame)
{
    if (max_frame == 0)
        max_frame = SLT_DEFAULT_MAX_FRAME;
    fr->max_frame = max_frame;
    fr->buf.max = (size_t)max_frame + 4 + SLT_FRAME_READ_SLACK;
    if (fr->buf.max < fr->buf.len)
        fr->buf.max = fr->buf.len; /* never below what is already held */
}

size_t slt_frame_reader_pending(const struct slt_frame_reader *fr)
{
    return fr->buf.len - fr->off;
}

/* Moves unread bytes to the front so the buffer's bound counts only what is pending. */
static void compact(struct slt_frame_reader *fr)
{
    if (fr->off == 0 || fr->frame_len)
        return;
    slt_buf_consume(&fr->buf, fr->off);
    fr->off = 0;
}

/* The length prefix of the next frame, if its 4 bytes are in; SLT_ELIMIT when out of bounds. */
static int peek_len(const struct slt_frame_reader *fr, uint32_t *n)
{
    const uint8_t *p;

    if (fr->buf.len - fr->off < 4)
        return 0;
    p = (const uint8_t *)fr->buf.p + fr->off;
    *n = (uint32_t)be(p, 4);
    if (*n == 0 || *n > fr->max_frame)
        return SLT_ELIMIT;
    return 1;
}

int slt_frame_reader_feed(struct slt_frame_reader *fr, const void *data, size_t len)
{
    char *p;
    size_t avail;
    int rc;

    while (len) {
        rc = slt_frame_reader_reserve(fr, len, &p, &avail);
        if (rc < 0)
            return rc;
        memcpy(p, data, avail);
        slt_frame_reader_commit(fr, avail);
        data = (const char *)data + avail;
        len -= avail;
    }
    return 0;
}

int slt_frame_reader_reserve(struct slt_frame_reader *fr, size_t want, char **p, size_t *avail)
{
    uint32_t n;
    size_t room;
    int rc;

    compact(fr);
    if (peek_len(fr, &n) < 0)
        return SLT_ELIMIT;
    room = fr->buf.max - fr->buf.len;
    if (room == 0)
        return SLT_ELIMIT;
    if (want == 0)
        want = 1;
    if (want > room)
        want = room;
    rc = slt_buf_reserve(&fr->buf, want);
    if (rc < 0)
        return rc;
    *p = fr->buf.p + fr->buf.len;
    *avail = want;
    return 0;
}

void slt_frame_reader_commit(struct slt_frame_reader *fr, size_t n)
{
    if (n > fr->buf.cap - fr->buf.len)
        SLT_BUG("frame reader commit past the reserved space");
    fr->buf.len += n;
}

int slt_frame_reader_next(struct slt_frame_reader *fr, const char **payload, size_t *len)
{
    uint32_t n;
    int rc;

    if (fr->frame_len)
        slt_frame_reader_consume(fr);
    rc = peek_len(fr, &n);
    if (rc <= 0)
        return rc;
    if (fr->buf.len - fr->off < 4 + (size_t)n)
        return 0;
    *payload = fr->buf.p + fr->off + 4;
    *len = n;
    fr->frame_len = n;
    return 1;
}

void slt_frame_reader_consume(struct slt_frame_reader *fr)
{
    if (!fr->frame_len)
        return;
    fr->off += 4 + fr->frame_len;
    fr->frame_len = 0;
    if (fr->off == fr->buf.len) {
        fr->buf.len = 0;
        fr->off = 0;
    }
}
