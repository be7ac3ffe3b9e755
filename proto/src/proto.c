/*
 * The wire protocol codec: frames (4-byte big-endian length + one msgpack map) and the
 * messages in docs/PROTOCOL.md, on msgpack-c.
 *
 * Decoding is three steps over one length-bounded frame:
 *  1. a bounds pass (scan) walks the bytes once without allocating: every msgpack byte is
 *     valid, every string fits max_str and the bytes left, every array and map header is
 *     checked against the bytes left and against its limit (series, rows), nesting is at most
 *     max_depth, and nothing follows the message. msgpack-c allocates a whole array as soon as
 *     it reads a header announcing it, so this pass is what keeps a 6-byte frame from asking
 *     for gigabytes: after it, msgpack-c's zone holds at most one msgpack_object (24 bytes) per
 *     byte of the frame, plus its chunk headers;
 *  2. msgpack-c unpacks the frame into a zone sized by the bounds pass (one allocation);
 *     strings are not copied, they point into the frame;
 *  3. the object tree is checked against the message schema (types, required and repeated
 *     keys, names, values) and copied into struct slt_msg, whose slices point into the frame.
 *     The zone is freed before returning.
 * Encoding uses msgpack_packer writing straight into the caller's bounded slt_buf.
 */
#include <stdio.h>

#include <msgpack.h>

#include "slt/proto.h"

/* msgpack-c's unpacker keeps its container stack in a fixed array of this many entries. */
#define MSGPACK_MAX_NESTING 32

/* ---- errors ------------------------------------------------------------------------------ */

struct cur {
    const uint8_t *p;
    const uint8_t *end;
    const struct slt_proto_limits *lim;
    uint32_t max_depth; /* lim->max_depth, at most MSGPACK_MAX_NESTING */
    size_t zone;        /* bytes msgpack-c will allocate for the frame's containers */
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

/* ---- keys -------------------------------------------------------------------------------- */

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
    "t",       "v",      "agent",  "epoch",       "token",    "server", "seq",
    "created", "series", "status", "resend_from", "msg",      "k",      "n",
    "since",   "rows",   "reason", "mark",        "instance",
};

static enum key lookup_key(const char *p, size_t len)
{
    /* the keys of each length, as key + 1 (0 ends a row) */
    static const unsigned char by_len[][5] = {
        [1] = {K_T + 1, K_V + 1, K_KIND + 1, K_NAME + 1},
        [3] = {K_SEQ + 1, K_MSG + 1},
        [4] = {K_ROWS + 1, K_MARK + 1},
        [5] = {K_AGENT + 1, K_EPOCH + 1, K_TOKEN + 1, K_SINCE + 1},
        [6] = {K_SERVER + 1, K_SERIES + 1, K_STATUS + 1, K_REASON + 1},
        [7] = {K_CREATED + 1},
        [8] = {K_INSTANCE + 1},
        [11] = {K_RESEND + 1},
    };
    const unsigned char *k;

    if (len >= SLT_ARRAY_SIZE(by_len))
        return K_UNKNOWN;
    for (k = by_len[len]; *k; k++)
        if (key_names[*k - 1][0] == p[0] && memcmp(key_names[*k - 1], p, len) == 0)
            return (enum key)(*k - 1);
    return K_UNKNOWN;
}

/* ---- 1. the bounds pass ------------------------------------------------------------------ */

/* Where a container sits in the schema: picks its name in messages and its limits. */
enum role {
    R_VALUE,   /* anything else: only the generic checks */
    R_MESSAGE, /* the frame's top-level map */
    R_SERIES,  /* a BATCH's series array */
    R_ONE,     /* one series map */
    R_ROWS,    /* a series' rows array */
    R_ROW,     /* one row array */
};

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
        return SLT_EPROTO;
    *v = be(c->p, n);
    c->p += n;
    return 0;
}

static int scan_value(struct cur *c, uint32_t depth, enum role role, const char *what,
                      struct slt_str *str, uint64_t *uint);

/* Skips one integer of any width if one is next and whole: 1, else 0 (and nothing moved). */
static inline int skip_int(struct cur *c)
{
    uint8_t v;
    size_t n;

    if (c->p == c->end)
        return 0;
    v = *c->p;
    if (v <= 0x7f || v >= 0xe0) {
        c->p++;
        return 1;
    }
    if (v < 0xcc || v > 0xd3)
        return 0;
    n = (size_t)1 << ((v - 0xcc) & 3);
    if (left(c) <= n)
        return 0;
    c->p += 1 + n;
    return 1;
}

/*
 * The header of an array or map (b already taken); checks its count against the bytes left
 * and the role's limits, then scans its elements.
 */
static int scan_container(struct cur *c, uint8_t b, uint32_t depth, enum role role,
                          const char *what)
{
    int map = (b & 0xf0) == 0x80 || b == 0xde || b == 0xdf;
    uint64_t n = 0, i, t = 0;
    int rc = 0;

    if (depth >= c->max_depth)
        return fail(c, "nesting deeper than %u", c->max_depth);
    if ((b & 0xf0) == 0x80 || (b & 0xf0) == 0x90)
        n = b & 0x0f;
    else
        rc = take_be(c, b == 0xdc || b == 0xde ? 2 : 4, &n);
    if (rc < 0)
        return fail(c, "'%s': truncated", what);
    /* each element takes at least one byte (two for a map entry) */
    if (n > left(c) / (map ? 2 : 1))
        return fail(c, "'%s': %llu elements announced, only %zu bytes left", what,
                    (unsigned long long)n, left(c));
    /* n is at most the frame's length, so this cannot overflow */
    c->zone += (size_t)n * (map ? sizeof(msgpack_object_kv) : sizeof(msgpack_object));
    if (role == R_SERIES && !map && n > c->lim->max_series)
        return fail(c, "'series': %llu series over the limit of %u", (unsigned long long)n,
                    c->lim->max_series);
    if (role == R_ROWS && !map) {
        if (n > c->lim->max_rows)
            return fail(c, "'rows': %llu rows over the limit of %u", (unsigned long long)n,
                        c->lim->max_rows);
        /* a row is at least 5 bytes: fixarray header and four fixints */
        if (n > left(c) / 5)
            return fail(c, "'rows': %llu rows announced, only %zu bytes left",
                        (unsigned long long)n, left(c));
    }
    for (i = 0; i < n; i++) {
        struct slt_str ks = SLT_STR_NULL;
        enum key k = K_UNKNOWN;
        enum role child = R_VALUE;
        const char *cwhat = "value";

        if (!map) {
            /* fast paths for the bulk of a frame: a row of four integers, an integer */
            if (role == R_ROWS && left(c) && *c->p == 0x94 && depth + 1 < c->max_depth) {
                const uint8_t *at = c->p++;
                if (skip_int(c) && skip_int(c) && skip_int(c) && skip_int(c)) {
                    c->zone += 4 * sizeof(msgpack_object);
                    continue;
                }
                c->p = at; /* something else in there: the slow path names it */
            }
            if (skip_int(c))
                continue;
            if (role == R_SERIES)
                child = R_ONE, cwhat = "series";
            else if (role == R_ROWS)
                child = R_ROW, cwhat = "row";
            rc = scan_value(c, depth + 1, child, cwhat, NULL, NULL);
            if (rc < 0)
                return rc;
            continue;
        }
        rc = scan_value(c, depth + 1, R_VALUE, "key", &ks, NULL);
        if (rc < 0)
            return rc;
        if (ks.p) {
            k = lookup_key(ks.p, ks.len);
            if (k != K_UNKNOWN)
                cwhat = key_names[k];
        }
        if (role == R_MESSAGE && k == K_SERIES && t == SLT_MSG_BATCH)
            child = R_SERIES;
        else if (role == R_ONE && k == K_ROWS)
            child = R_ROWS;
        /* the type comes first; it picks the schema of what follows */
        rc = scan_value(c, depth + 1, child, cwhat, NULL, role == R_MESSAGE && i == 0 ? &t : NULL);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/*
 * One value of any type at nesting level depth (the message map is level 0). For a string,
 * *str gets its slice; for a non-negative integer, *uint its value (when asked for).
 */
static int scan_value(struct cur *c, uint32_t depth, enum role role, const char *what,
                      struct slt_str *str, uint64_t *uint)
{
    uint64_t n = 0;
    uint8_t b;

    if (left(c) < 1)
        return fail(c, "'%s': truncated", what);
    b = *c->p++;
    if (role == R_MESSAGE && c->max_depth == 0)
        return fail(c, "nesting deeper than %u", c->max_depth);
    if (role == R_MESSAGE && (b & 0xf0) != 0x80 && b != 0xde && b != 0xdf)
        return fail(c, "'%s': expected a map", what);
    if (b <= 0x7f) {
        if (uint)
            *uint = b;
        return 0;
    }
    if (b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return 0;
    if ((b & 0xe0) == 0xa0 || b == 0xd9 || b == 0xda || b == 0xdb || b == 0xc4 || b == 0xc5 ||
        b == 0xc6) {
        if ((b & 0xe0) == 0xa0)
            n = b & 0x1f;
        else if (take_be(c, (size_t)1 << ((b >= 0xd9 ? b - 0xd9 : b - 0xc4)), &n) < 0)
            return fail(c, "'%s': truncated", what);
        if (n > c->lim->max_str)
            return fail(c, "'%s': string of %llu bytes over the limit of %u", what,
                        (unsigned long long)n, c->lim->max_str);
        if (n > left(c))
            return fail(c, "'%s': truncated string", what);
        if (str)
            *str = slt_str_make((const char *)c->p, (size_t)n);
        c->p += n;
        return 0;
    }
    if (b >= 0xcc && b <= 0xd3) { /* uint 8..64, int 8..64 */
        if (take_be(c, (size_t)1 << ((b - 0xcc) & 3), &n) < 0)
            return fail(c, "'%s': truncated value", what);
        if (uint && (b <= 0xcf || !(n >> (8 * ((size_t)1 << (b - 0xd0)) - 1))))
            *uint = n; /* unsigned, or signed and not negative */
        return 0;
    }
    if (b == 0xca || b == 0xcb) {
        if (take_be(c, b == 0xca ? 4 : 8, &n) < 0)
            return fail(c, "'%s': truncated value", what);
        return 0;
    }
    if ((b & 0xf0) == 0x80 || (b & 0xf0) == 0x90 || (b >= 0xdc && b <= 0xdf))
        return scan_container(c, b, depth, role, what);
    /* ext types: fixext 1/2/4/8/16 and ext 8/16/32 (one type byte, then the data) */
    if (b >= 0xd4 && b <= 0xd8) {
        n = ((uint64_t)1 << (b - 0xd4)) + 1;
    } else if (b >= 0xc7 && b <= 0xc9) {
        if (take_be(c, (size_t)1 << (b - 0xc7), &n) < 0)
            return fail(c, "'%s': truncated ext value", what);
        n += 1;
    } else {
        return fail(c, "invalid msgpack byte 0x%02x", b);
    }
    if (n > left(c))
        return fail(c, "'%s': truncated ext value", what);
    c->p += n;
    return 0;
}

/* ---- 3. the schema, on msgpack-c's objects ----------------------------------------------- */

static int ob_uint(struct cur *c, const msgpack_object *o, const char *what, uint64_t *out)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        *out = o->via.u64;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return fail(c, "'%s': negative value", what);
    return fail(c, "'%s': expected an unsigned integer", what);
}

static int ob_int(struct cur *c, const msgpack_object *o, const char *what, int64_t *out)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > (uint64_t)INT64_MAX)
            return fail(c, "'%s': integer out of range", what);
        *out = (int64_t)o->via.u64;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = o->via.i64;
        return 0;
    }
    return fail(c, "'%s': expected an integer", what);
}

/* A str or bin value; the slice points into the frame (msgpack-c does not copy strings). */
static int ob_str(struct cur *c, const msgpack_object *o, const char *what, struct slt_str *out)
{
    if (o->type == MSGPACK_OBJECT_STR) {
        *out = slt_str_make(o->via.str.ptr, o->via.str.size);
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_BIN) {
        *out = slt_str_make(o->via.bin.ptr, o->via.bin.size);
        return 0;
    }
    return fail(c, "'%s': expected a string", what);
}

static int ob_key(struct cur *c, const msgpack_object *o, enum key *k)
{
    struct slt_str s = SLT_STR_NULL;
    int rc = ob_str(c, o, "key", &s);

    if (rc == 0)
        *k = lookup_key(s.p, s.len);
    return rc;
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

static int ob_name(struct cur *c, const msgpack_object *o, const char *what, struct slt_str *out)
{
    int rc = ob_str(c, o, what, out);

    return rc < 0 ? rc : check_name(c, what, *out);
}

static int ob_rows(struct cur *c, const msgpack_object *o, struct slt_series *s)
{
    uint32_t n, i, j;
    int rc;

    if (o->type != MSGPACK_OBJECT_ARRAY)
        return fail(c, "'rows': expected an array");
    n = o->via.array.size; /* bounded by the bounds pass; checked again, it costs nothing */
    if (n > c->lim->max_rows)
        return fail(c, "'rows': %u rows over the limit of %u", n, c->lim->max_rows);
    if (n) {
        s->rows = slt_calloc(n, sizeof(*s->rows));
        if (!s->rows)
            return fail(c, "out of memory");
    }
    for (i = 0; i < n; i++) {
        const msgpack_object *ro = &o->via.array.ptr[i];
        struct slt_count_row *r = &s->rows[i];

        if (ro->type != MSGPACK_OBJECT_ARRAY)
            return fail(c, "'row': expected an array");
        if (ro->via.array.size != 4)
            return fail(c, "'row': %u elements, want 4", ro->via.array.size);
        rc = ob_int(c, &ro->via.array.ptr[0], "minute", &r->minute);
        if (rc < 0)
            return rc;
        if (r->minute < 0 || r->minute % 60 != 0)
            return fail(c, "'minute': %lld is not a non-negative multiple of 60",
                        (long long)r->minute);
        for (j = 0; j < 3; j++) {
            rc = ob_uint(c, &ro->via.array.ptr[1 + j], "count", &r->v[j]);
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

static int ob_series_one(struct cur *c, const msgpack_object *o, struct slt_series *s)
{
    unsigned seen = 0;
    uint64_t u = 0;
    uint32_t i;
    enum key k = K_UNKNOWN;
    int rc;

    if (o->type != MSGPACK_OBJECT_MAP)
        return fail(c, "'series': expected a map");
    for (i = 0; i < o->via.map.size; i++) {
        const msgpack_object *v = &o->via.map.ptr[i].val;

        rc = ob_key(c, &o->via.map.ptr[i].key, &k);
        if (rc < 0)
            return rc;
        if (k != K_KIND && k != K_NAME && k != K_SINCE && k != K_ROWS)
            continue; /* unknown, or a key of another message: ignored */
        if (seen & (1u << k))
            return fail(c, "series key '%s' repeated", key_names[k]);
        seen |= 1u << k;
        switch (k) {
        case K_KIND:
            rc = ob_uint(c, v, "k", &u);
            if (rc == 0 && u != SLT_SERIES_SLI && u != SLT_SERIES_INPUT)
                rc = fail(c, "'k': unknown series kind %llu", (unsigned long long)u);
            s->kind = (enum slt_series_kind)u;
            break;
        case K_NAME:
            rc = ob_name(c, v, "n", &s->name);
            break;
        case K_SINCE:
            rc = ob_uint(c, v, "since", &s->since);
            break;
        default:
            rc = ob_rows(c, v, s);
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

static int ob_series(struct cur *c, const msgpack_object *o, struct slt_msg_batch *b)
{
    uint32_t n, i;
    int rc;

    if (c->lim->max_depth < 5)
        return fail(c, "nesting deeper than %u", c->lim->max_depth);
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return fail(c, "'series': expected an array");
    n = o->via.array.size;
    if (n > c->lim->max_series)
        return fail(c, "'series': %u series over the limit of %u", n, c->lim->max_series);
    if (n) {
        b->series = slt_calloc(n, sizeof(*b->series));
        if (!b->series)
            return fail(c, "out of memory");
    }
    for (i = 0; i < n; i++) {
        b->nseries++;
        rc = ob_series_one(c, &o->via.array.ptr[i], &b->series[i]);
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

/* Keys a message type may carry besides the required ones. */
static unsigned optional_keys(int type)
{
    switch (type) {
    case SLT_MSG_HELLO:
        return 1u << K_INSTANCE;
    case SLT_MSG_WELCOME:
        return 1u << K_SERVER;
    case SLT_MSG_BATCH:
        return 1u << K_CREATED;
    case SLT_MSG_ACK:
        return 1u << K_RESEND | 1u << K_REASON | 1u << K_MARK;
    default:
        return 0;
    }
}

static int ob_version(struct cur *c, const msgpack_object *v, uint32_t *out)
{
    uint64_t u = 0;
    int rc = ob_uint(c, v, "v", &u);

    if (rc == 0 && u > UINT32_MAX)
        rc = fail(c, "'v': out of range");
    *out = (uint32_t)u;
    return rc;
}

/* One known key k of message m, value v. */
static int ob_field(struct cur *c, struct slt_msg *m, enum key k, const msgpack_object *v)
{
    uint64_t u = 0;
    int rc;

    switch (m->type) {
    case SLT_MSG_HELLO: {
        struct slt_msg_hello *h = &m->u.hello;
        if (k == K_V)
            return ob_version(c, v, &h->version);
        if (k == K_AGENT)
            return ob_name(c, v, "agent", &h->agent_id);
        if (k == K_EPOCH)
            return ob_uint(c, v, "epoch", &h->epoch);
        if (k == K_INSTANCE) {
            rc = ob_str(c, v, "instance", &h->instance);
            if (rc == 0 && h->instance.len > 0)
                rc = check_name(c, "instance", h->instance);
            return rc;
        }
        return ob_str(c, v, "token", &h->token);
    }
    case SLT_MSG_WELCOME:
        if (k == K_V)
            return ob_version(c, v, &m->u.welcome.version);
        return ob_str(c, v, "server", &m->u.welcome.server);
    case SLT_MSG_BATCH: {
        struct slt_msg_batch *b = &m->u.batch;
        switch (k) {
        case K_AGENT:
            return ob_name(c, v, "agent", &b->agent_id);
        case K_EPOCH:
            return ob_uint(c, v, "epoch", &b->epoch);
        case K_SEQ:
            rc = ob_uint(c, v, "seq", &b->seq);
            if (rc == 0 && b->seq == 0)
                rc = fail(c, "'seq': must be at least 1");
            return rc;
        case K_CREATED:
            return ob_int(c, v, "created", &b->created_ms);
        default:
            return ob_series(c, v, b);
        }
    }
    case SLT_MSG_ACK: {
        struct slt_msg_ack *a = &m->u.ack;
        switch (k) {
        case K_EPOCH:
            return ob_uint(c, v, "epoch", &a->epoch);
        case K_SEQ:
            return ob_uint(c, v, "seq", &a->seq);
        case K_STATUS:
            rc = ob_uint(c, v, "status", &u);
            if (rc == 0 && u > SLT_ACK_RETRY)
                rc = fail(c, "'status': unknown ack status %llu", (unsigned long long)u);
            a->status = (enum slt_ack_status)u;
            return rc;
        case K_REASON:
            rc = ob_uint(c, v, "reason", &u);
            /* an unknown reason is kept as "invalid": newer aggregators may add some */
            a->reason = u == SLT_REJECT_STALE_EPOCH ? SLT_REJECT_STALE_EPOCH
                        : u == 0                    ? 0
                                                    : SLT_REJECT_INVALID;
            return rc;
        case K_MARK:
            return ob_uint(c, v, "mark", &a->mark);
        default:
            return ob_uint(c, v, "resend_from", &a->resend_from);
        }
    }
    default: /* SLT_MSG_ERROR */
        return ob_str(c, v, "msg", &m->u.error.message);
    }
}

/*
 * The type key "t" must come first, so every later key can be read straight into the right
 * member of the union.
 */
static const char *msg_type_name(int type);

static int decode_object(struct cur *c, const msgpack_object *o, struct slt_msg *m)
{
    unsigned seen, need, allowed;
    uint64_t u = 0;
    uint32_t i;
    enum key k = K_UNKNOWN;
    int rc;

    if (o->type != MSGPACK_OBJECT_MAP)
        return fail(c, "'message': expected a map");
    if (o->via.map.size < 1)
        return fail(c, "empty message");
    rc = ob_key(c, &o->via.map.ptr[0].key, &k);
    if (rc < 0)
        return rc;
    if (k != K_T)
        return fail(c, "first key must be 't'");
    rc = ob_uint(c, &o->via.map.ptr[0].val, "t", &u);
    if (rc < 0)
        return rc;
    if (u < SLT_MSG_HELLO || u > SLT_MSG_ERROR)
        return fail(c, "unknown message type %llu", (unsigned long long)u);
    m->type = (enum slt_msg_type)u;
    need = required_keys(m->type);
    allowed = need | optional_keys(m->type);
    seen = 1u << K_T;
    for (i = 1; i < o->via.map.size; i++) {
        rc = ob_key(c, &o->via.map.ptr[i].key, &k);
        if (rc < 0)
            return rc;
        if (k == K_UNKNOWN || !(allowed & (1u << k)))
            continue; /* not a key of this type: skipped */
        if (seen & (1u << k))
            return fail(c, "key '%s' repeated", key_names[k]);
        seen |= 1u << k;
        rc = ob_field(c, m, k, &o->via.map.ptr[i].val);
        if (rc < 0)
            return rc;
    }
    if ((seen & need) != need) {
        for (i = 0; i < K_COUNT; i++)
            if ((need & (1u << i)) && !(seen & (1u << i)))
                return fail(c, "%s message without '%s'", msg_type_name(m->type), key_names[i]);
    }
    return 0;
}

/* ---- decoding: the three steps ----------------------------------------------------------- */

int slt_msg_decode(const char *payload, size_t len, const struct slt_proto_limits *limits,
                   struct slt_msg *out, char *err, size_t errlen)
{
    struct slt_proto_limits def;
    msgpack_zone zone;
    msgpack_object obj;
    msgpack_unpack_return ur;
    struct cur c;
    size_t off = 0;
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
    c.max_depth = limits->max_depth < MSGPACK_MAX_NESTING ? limits->max_depth : MSGPACK_MAX_NESTING;
    c.err = err;
    c.errlen = errlen;
    c.zone = 0;

    /* 1. bounds */
    rc = scan_value(&c, 0, R_MESSAGE, "message", NULL, NULL);
    if (rc < 0)
        return rc;
    if (c.p != c.end)
        return fail(&c, "%zu bytes after the message", left(&c));

    /*
     * 2. msgpack-c, into a zone of exactly the size the bounds pass counted (plus alignment
     * slack): one allocation per frame, whatever its shape, where msgpack_unpack_next() would
     * grow its own zone 8 KiB at a time.
     */
    if (!msgpack_zone_init(&zone, c.zone + 64))
        return fail(&c, "out of memory");
    ur = msgpack_unpack(payload, len, &off, &zone, &obj);
    if (ur != MSGPACK_UNPACK_SUCCESS || off != len) {
        msgpack_zone_destroy(&zone);
        if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
            return fail(&c, "out of memory");
        return fail(&c, "msgpack-c refused the frame (%d)", (int)ur);
    }

    /* 3. schema */
    rc = decode_object(&c, &obj, out);
    msgpack_zone_destroy(&zone);
    if (rc < 0) {
        slt_msg_release(out);
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

/* Name of a message type for errors ("batch"), "unknown" otherwise. */
static const char *msg_type_name(int type)
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

/* msgpack_packer writes through this into the caller's bounded buffer. */
struct enc {
    struct slt_buf *b;
    int rc;
};

static int enc_write(void *data, const char *buf, size_t len)
{
    struct enc *e = data;

    if (e->rc == 0)
        e->rc = slt_buf_append(e->b, buf, len);
    return e->rc;
}

static void put_str(msgpack_packer *pk, struct enc *e, const char *p, size_t n)
{
    if (n > UINT32_MAX) {
        if (e->rc == 0)
            e->rc = SLT_ELIMIT;
        return;
    }
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, p, n);
}

static void put_slice(msgpack_packer *pk, struct enc *e, struct slt_str s)
{
    put_str(pk, e, s.p ? s.p : "", s.p ? s.len : 0);
}

static void put_key(msgpack_packer *pk, struct enc *e, enum key k)
{
    put_str(pk, e, key_names[k], strlen(key_names[k]));
}

/* An array header of n, or SLT_ELIMIT when n does not fit msgpack's 32 bits. */
static void put_array(msgpack_packer *pk, struct enc *e, size_t n)
{
    if (n > UINT32_MAX) {
        if (e->rc == 0)
            e->rc = SLT_ELIMIT;
        return;
    }
    msgpack_pack_array(pk, n);
}

/* One row: an array header and four integers of at most 9 bytes each. */
struct row_buf {
    uint8_t b[1 + 4 * 9];
    size_t len;
};

static int row_write(void *data, const char *buf, size_t len)
{
    struct row_buf *rb = data;

    memcpy(rb->b + rb->len, buf, len); /* cannot overflow: see the size of b */
    rb->len += len;
    return 0;
}

static void put_batch(msgpack_packer *pk, struct enc *e, const struct slt_msg_batch *b)
{
    size_t i, j;

    put_key(pk, e, K_AGENT);
    put_slice(pk, e, b->agent_id);
    put_key(pk, e, K_EPOCH);
    msgpack_pack_uint64(pk, b->epoch);
    put_key(pk, e, K_SEQ);
    msgpack_pack_uint64(pk, b->seq);
    put_key(pk, e, K_CREATED);
    msgpack_pack_int64(pk, b->created_ms);
    put_key(pk, e, K_SERIES);
    put_array(pk, e, b->nseries);
    for (i = 0; i < b->nseries && e->rc == 0; i++) {
        const struct slt_series *s = &b->series[i];

        msgpack_pack_map(pk, 4);
        put_key(pk, e, K_KIND);
        msgpack_pack_uint64(pk, (uint64_t)s->kind);
        put_key(pk, e, K_NAME);
        put_slice(pk, e, s->name);
        put_key(pk, e, K_SINCE);
        msgpack_pack_uint64(pk, s->since);
        put_key(pk, e, K_ROWS);
        put_array(pk, e, s->nrows);
        /* the bulk of a frame: each row is packed into a local buffer and appended once */
        for (j = 0; j < s->nrows && e->rc == 0; j++) {
            const struct slt_count_row *r = &s->rows[j];
            struct row_buf rb;
            msgpack_packer rp;

            rb.len = 0;
            msgpack_packer_init(&rp, &rb, row_write);
            msgpack_pack_array(&rp, 4);
            msgpack_pack_int64(&rp, r->minute);
            msgpack_pack_uint64(&rp, r->v[0]);
            msgpack_pack_uint64(&rp, r->v[1]);
            msgpack_pack_uint64(&rp, r->v[2]);
            enc_write(e, (const char *)rb.b, rb.len);
        }
    }
}

int slt_msg_encode(const struct slt_msg *m, struct slt_buf *out)
{
    struct enc e = {out, 0};
    msgpack_packer pk;
    size_t start = out->len, body;
    uint8_t *lp;

    msgpack_packer_init(&pk, &e, enc_write);
    enc_write(&e, "\0\0\0\0", 4);
    switch (m->type) {
    case SLT_MSG_HELLO:
        msgpack_pack_map(&pk, m->u.hello.instance.len ? 6 : 5);
        put_key(&pk, &e, K_T);
        msgpack_pack_uint64(&pk, SLT_MSG_HELLO);
        put_key(&pk, &e, K_V);
        msgpack_pack_uint64(&pk, m->u.hello.version);
        put_key(&pk, &e, K_AGENT);
        put_slice(&pk, &e, m->u.hello.agent_id);
        put_key(&pk, &e, K_EPOCH);
        msgpack_pack_uint64(&pk, m->u.hello.epoch);
        put_key(&pk, &e, K_TOKEN);
        put_slice(&pk, &e, m->u.hello.token);
        if (m->u.hello.instance.len) {
            put_key(&pk, &e, K_INSTANCE);
            put_slice(&pk, &e, m->u.hello.instance);
        }
        break;
    case SLT_MSG_WELCOME:
        msgpack_pack_map(&pk, 3);
        put_key(&pk, &e, K_T);
        msgpack_pack_uint64(&pk, SLT_MSG_WELCOME);
        put_key(&pk, &e, K_V);
        msgpack_pack_uint64(&pk, m->u.welcome.version);
        put_key(&pk, &e, K_SERVER);
        put_slice(&pk, &e, m->u.welcome.server);
        break;
    case SLT_MSG_BATCH:
        msgpack_pack_map(&pk, 6);
        put_key(&pk, &e, K_T);
        msgpack_pack_uint64(&pk, SLT_MSG_BATCH);
        put_batch(&pk, &e, &m->u.batch);
        break;
    case SLT_MSG_ACK:
        msgpack_pack_map(&pk, m->u.ack.status == SLT_ACK_REJECTED ? 7 : 5);
        put_key(&pk, &e, K_T);
        msgpack_pack_uint64(&pk, SLT_MSG_ACK);
        put_key(&pk, &e, K_EPOCH);
        msgpack_pack_uint64(&pk, m->u.ack.epoch);
        put_key(&pk, &e, K_SEQ);
        msgpack_pack_uint64(&pk, m->u.ack.seq);
        put_key(&pk, &e, K_STATUS);
        msgpack_pack_uint64(&pk, (uint64_t)m->u.ack.status);
        put_key(&pk, &e, K_RESEND);
        msgpack_pack_uint64(&pk, m->u.ack.resend_from);
        if (m->u.ack.status == SLT_ACK_REJECTED) {
            put_key(&pk, &e, K_REASON);
            msgpack_pack_uint64(&pk, m->u.ack.reason);
            put_key(&pk, &e, K_MARK);
            msgpack_pack_uint64(&pk, m->u.ack.mark);
        }
        break;
    case SLT_MSG_ERROR:
        msgpack_pack_map(&pk, 2);
        put_key(&pk, &e, K_T);
        msgpack_pack_uint64(&pk, SLT_MSG_ERROR);
        put_key(&pk, &e, K_MSG);
        put_slice(&pk, &e, m->u.error.message);
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
