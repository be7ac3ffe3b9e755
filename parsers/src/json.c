/*
 * JSON access logs: one object per line (nginx log_format ... escape=json, Caddy v2, or any
 * user mapping). A small hand-written scanner walks the object once; values whose dotted path
 * is wanted become slices into the line (strings without their quotes, escapes left raw;
 * numbers and true/false as written; null is absent). No allocation per line.
 *
 * Rules:
 *   - Text before the first '{' is skipped: docker-compose and kubectl prefix lines with
 *     "name  | ". Text after the object other than blanks is a syntax error.
 *   - Nesting deeper than JSON_MAX_DEPTH is a syntax error (bounds the recursion).
 *   - A wanted path whose value is an array takes the array's first scalar element, so
 *     Caddy's request.headers.User-Agent (["curl/8"]) reads as "curl/8".
 *   - An object with no status is SLT_UP_NOT_ACCESS (Caddy startup and info lines).
 *   - TIME is read as ISO 8601, CLF or epoch seconds (by its shape), or by the format's
 *     time_layout. An epoch of 10^11 or more in auto mode is taken as milliseconds.
 *   - METHOD, PATH and PROTOCOL missing but REQUEST ("GET / HTTP/1.1") present: split it.
 *
 * The default mapping (the first path present wins) covers nginx escape=json names and Caddy;
 * a user format's json_field[f] replaces the default list of f with one path.
 */
#include <stdio.h>
#include <string.h>

#include "builtin_internal.h"

#define JSON_MAX_DEPTH 32
#define JSON_MAX_PARTS 8
#define JSON_MAX_PATHS 96
#define JSON_MAX_EXTRA 32
#define JSON_PATH_MAX_LEN 256

struct jpath {
    int target; /* canonical field, or SLT_F__COUNT + extra index */
    int prio;   /* lower wins when several paths of a target are present */
    int nparts;
    uint32_t sig;                        /* key_sig() of its last part */
    struct slt_str part[JSON_MAX_PARTS]; /* slices of text */
    char *text;                          /* owned */
};

struct json_impl {
    int builtin; /* the built-in "json": canonical keys only */
    char *time_layout;
    int npaths, nextra, max_parts;
    uint64_t filter; /* bit key_bit() of the last part of every path: most keys miss it */
    struct jpath path[JSON_MAX_PATHS];
};

struct json_state {
    struct slt__time_cache clf;
    uint8_t prio[SLT_F__COUNT + JSON_MAX_EXTRA]; /* 0: unset, else prio + 1 */
    struct slt_str extra[JSON_MAX_EXTRA];
};

static const char *const default_paths[SLT_F__COUNT][8] = {
    [SLT_F_TIME] = {"time_local", "time_iso8601", "ts", "time", "timestamp", "@timestamp", "msec"},
    [SLT_F_STATUS] = {"status"},
    [SLT_F_LATENCY] = {"request_time", "duration"},
    [SLT_F_METHOD] = {"request_method", "request.method"},
    [SLT_F_PATH] = {"request_uri", "request.uri", "uri"},
    [SLT_F_PROTOCOL] = {"server_protocol", "request.proto"},
    [SLT_F_HOST] = {"host", "http_host", "request.host", "server_name"},
    [SLT_F_CLIENT] = {"remote_addr", "request.remote_ip", "request.client_ip"},
    [SLT_F_USER] = {"remote_user", "user_id"},
    [SLT_F_BYTES] = {"body_bytes_sent", "bytes_sent", "size"},
    [SLT_F_REFERER] = {"http_referer", "request.headers.Referer"},
    [SLT_F_USER_AGENT] = {"http_user_agent", "request.headers.User-Agent"},
    [SLT_F_UPSTREAM_LATENCY] = {"upstream_response_time"},
    [SLT_F_REQUEST] = {"request"},
    [SLT_F_XFF] = {"http_x_forwarded_for", "request.headers.X-Forwarded-For"},
};

/*
 * traefik_json: Traefik's JSON access log (accessLog.format: json), flat keys. Duration and
 * OriginDuration are nanoseconds; StartUTC is the request's start (RFC 3339, nanoseconds),
 * "time" when the line was written. TARGET_STATUS is OriginStatus (what the backend answered;
 * DownstreamStatus is what the client got). Header fields are "request_<Name>" when kept.
 */
static const char *const traefik_paths[SLT_F__COUNT][8] = {
    [SLT_F_TIME] = {"StartUTC", "StartLocal", "time"},
    [SLT_F_STATUS] = {"DownstreamStatus"},
    [SLT_F_LATENCY] = {"Duration"},
    [SLT_F_METHOD] = {"RequestMethod"},
    [SLT_F_PATH] = {"RequestPath"},
    [SLT_F_PROTOCOL] = {"RequestProtocol"},
    [SLT_F_HOST] = {"RequestHost", "RequestAddr"},
    [SLT_F_CLIENT] = {"ClientHost", "ClientAddr"},
    [SLT_F_USER] = {"ClientUsername"},
    [SLT_F_BYTES] = {"DownstreamContentSize"},
    [SLT_F_REFERER] = {"request_Referer"},
    [SLT_F_USER_AGENT] = {"request_User-Agent"},
    [SLT_F_UPSTREAM_LATENCY] = {"OriginDuration"},
    [SLT_F_XFF] = {"request_X-Forwarded-For"},
    [SLT_F_TYPE] = {"RequestScheme"},
    [SLT_F_TARGET_STATUS] = {"OriginStatus"},
};

/* ---- format construction ---- */

/* A member name's length and first and last bytes: equal for equal names. */
static inline uint32_t key_sig(const char *p, size_t len)
{
    return len ? (uint32_t)(len & 0xffff) | (uint32_t)(unsigned char)p[0] << 16 |
                     (uint32_t)(unsigned char)p[len - 1] << 24
               : 0;
}

static inline uint64_t key_bit(uint32_t sig)
{
    return UINT64_C(1) << ((sig * 0x9E3779B1u) >> 26);
}

static int add_path(struct json_impl *ji, int target, int prio, const char *text, char *err,
                    size_t errlen)
{
    struct jpath *jp;
    size_t len = strlen(text), i, start = 0;

    if (ji->npaths >= JSON_MAX_PATHS) {
        snprintf(err, errlen, "too many JSON paths (at most %d)", JSON_MAX_PATHS);
        return SLT_ECONFIG;
    }
    if (len == 0 || len > JSON_PATH_MAX_LEN) {
        snprintf(err, errlen, "JSON path '%s' is empty or longer than %d bytes", text,
                 JSON_PATH_MAX_LEN);
        return SLT_ECONFIG;
    }
    jp = &ji->path[ji->npaths];
    memset(jp, 0, sizeof(*jp));
    jp->text = slt_strdup(text);
    if (!jp->text)
        return SLT_ENOMEM;
    for (i = 0; i <= len; i++) {
        if (i < len && text[i] != '.')
            continue;
        if (i == start || jp->nparts >= JSON_MAX_PARTS) {
            snprintf(err, errlen, "JSON path '%s': empty part or more than %d parts", text,
                     JSON_MAX_PARTS);
            slt_free(jp->text);
            jp->text = NULL;
            return SLT_ECONFIG;
        }
        jp->part[jp->nparts++] = slt_str_make(jp->text + start, i - start);
        start = i + 1;
    }
    jp->target = target;
    jp->prio = prio;
    jp->sig = key_sig(jp->part[jp->nparts - 1].p, jp->part[jp->nparts - 1].len);
    ji->filter |= key_bit(jp->sig);
    if (jp->nparts > ji->max_parts)
        ji->max_parts = jp->nparts;
    ji->npaths++;
    return 0;
}

static void json_free(struct slt_format *fmt)
{
    struct json_impl *ji = fmt->impl;
    int i;

    if (!ji)
        return;
    for (i = 0; i < ji->npaths; i++)
        slt_free(ji->path[i].text);
    slt_free(ji->time_layout);
    slt_free(ji);
    fmt->impl = NULL;
}

/*
 * A non-canonical name of a user JSON format is a dotted path: it is added to what the
 * scanner captures and gets key SLT_F__COUNT + n. This changes the format, so call it while
 * loading the config, before parsers of the format are in use on other threads.
 */
static int json_field_key(const struct slt_format *fmt, const char *name, size_t len)
{
    struct json_impl *ji = fmt->impl;
    char buf[JSON_PATH_MAX_LEN + 1], err[128];
    int i;

    if (ji->builtin || len == 0 || len > JSON_PATH_MAX_LEN || memchr(name, '\0', len))
        return -1;
    for (i = 0; i < ji->npaths; i++)
        if (ji->path[i].target >= SLT_F__COUNT && strlen(ji->path[i].text) == len &&
            memcmp(ji->path[i].text, name, len) == 0)
            return ji->path[i].target;
    if (ji->nextra >= JSON_MAX_EXTRA)
        return -1;
    memcpy(buf, name, len);
    buf[len] = '\0';
    if (add_path(ji, SLT_F__COUNT + ji->nextra, 0, buf, err, sizeof(err)) < 0)
        return -1;
    return SLT_F__COUNT + ji->nextra++;
}

static struct slt_str json_get(const struct slt_record *rec, int key)
{
    const struct json_impl *ji = rec->fmt->impl;
    const struct slt_str *extra = rec->priv;
    int i = key - SLT_F__COUNT;

    if (!extra || i < 0 || i >= ji->nextra)
        return SLT_STR_NULL;
    return extra[i];
}

static int json_parser_init(const struct slt_format *fmt, struct slt_parser *p)
{
    (void)fmt;
    p->state = slt_calloc(1, sizeof(struct json_state));
    return p->state ? 0 : SLT_ENOMEM;
}

static void json_parser_release(struct slt_parser *p)
{
    slt_free(p->state);
    p->state = NULL;
}

static int json_parse(const struct slt_format *fmt, struct slt_parser *p, const char *line,
                      size_t len, struct slt_record *rec);

static const struct slt_format_ops json_ops = {
    .parse = json_parse,
    .field_key = json_field_key,
    .get = json_get,
    .parser_init = json_parser_init,
    .parser_release = json_parser_release,
    .free = json_free,
};

static int json_new(const struct slt_format_spec *spec, int builtin,
                    const char *const (*defaults)[8], struct slt_format **out, char *err,
                    size_t errlen)
{
    struct slt_format *fmt;
    struct json_impl *ji;
    int f, k, rc = SLT_ENOMEM;

    *out = NULL;
    fmt = slt_calloc(1, sizeof(*fmt));
    if (!fmt)
        return SLT_ENOMEM;
    fmt->ops = &json_ops;
    fmt->name = slt_strdup(spec->name);
    ji = fmt->impl = slt_calloc(1, sizeof(*ji));
    if (!fmt->name || !ji)
        goto fail;
    ji->builtin = builtin;
    fmt->latency_unit = spec->latency_unit;
    if (spec->time_layout && !(ji->time_layout = slt_strdup(spec->time_layout)))
        goto fail;
    for (f = 0; f < SLT_F__COUNT; f++) {
        if (spec->json_field[f]) {
            if ((rc = add_path(ji, f, 0, spec->json_field[f], err, errlen)) < 0)
                goto fail;
            continue;
        }
        for (k = 0; k < 8 && defaults[f][k]; k++)
            if ((rc = add_path(ji, f, k, defaults[f][k], err, errlen)) < 0)
                goto fail;
    }
    /* a configured or default path (request_time, duration) may carry it */
    fmt->has_latency = 1;
    *out = fmt;
    return 0;
fail:
    if (rc == SLT_ENOMEM)
        snprintf(err, errlen, "format '%s': out of memory", spec->name);
    slt_format_free(fmt);
    return rc == SLT_ENOMEM ? SLT_ENOMEM : SLT_ECONFIG;
}

int slt__json_format_new(const struct slt_format_spec *spec, struct slt_format **out, char *err,
                         size_t errlen)
{
    return json_new(spec, 0, default_paths, out, err, errlen);
}

int slt__json_builtin_new(struct slt_format **out)
{
    struct slt_format_spec spec;
    char err[128];

    memset(&spec, 0, sizeof(spec));
    spec.name = "json";
    spec.json = "json";
    return json_new(&spec, 1, default_paths, out, err, sizeof(err));
}

int slt__traefik_json_new(struct slt_format **out)
{
    struct slt_format_spec spec;
    char err[128];

    memset(&spec, 0, sizeof(spec));
    spec.name = "traefik_json";
    spec.json = "json";
    spec.latency_unit = SLT_UNIT_NS;
    /* not "builtin": any other key (RouterName, ServiceName, ...) can be named by a rule */
    return json_new(&spec, 0, traefik_paths, out, err, sizeof(err));
}

/* ---- the scanner ---- */

struct scan {
    const char *p, *end;
    const struct json_impl *ji;
    struct json_state *st;
    struct slt_record *rec;
    struct slt_str key[JSON_MAX_DEPTH]; /* path of the value being read */
    const char *err;
};

static inline void skip_ws(struct scan *s)
{
    /* compact JSON (what loggers write) has none: one test */
    if (SLT__LIKELY(s->p < s->end && (unsigned char)*s->p > ' '))
        return;
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

/* s->p at the opening quote; the body slice in *out, s->p past the closing quote. */
static int scan_string(struct scan *s, struct slt_str *out)
{
    const char *e = slt__quote_end(s->p + 1, s->end);

    if (!e) {
        s->err = "unterminated string";
        return -1;
    }
    *out = slt__str(s->p + 1, e);
    s->p = e + 1;
    return 0;
}

/* The path (depth parts of s->key) matches which wanted path? -1 when none. */
static void capture(struct scan *s, int depth, struct slt_str v)
{
    const struct json_impl *ji = s->ji;
    const struct slt_str *last = &s->key[depth - 1];
    uint32_t sig = key_sig(last->p, last->len);
    int i, k;

    /* most member names are wanted by no path: one bit test says so */
    if (!(ji->filter & key_bit(sig)))
        return;
    for (i = 0; i < ji->npaths; i++) {
        const struct jpath *jp = &ji->path[i];
        uint8_t *pr;

        if (jp->sig != sig || jp->nparts != depth ||
            memcmp(jp->part[depth - 1].p, last->p, last->len) != 0)
            continue;
        for (k = 0; k < depth - 1; k++)
            if (jp->part[k].len != s->key[k].len ||
                memcmp(jp->part[k].p, s->key[k].p, s->key[k].len) != 0)
                break;
        if (k != depth - 1)
            continue;
        pr = &s->st->prio[jp->target];
        if (*pr && *pr <= jp->prio + 1)
            continue;
        *pr = (uint8_t)(jp->prio + 1);
        if (jp->target < SLT_F__COUNT)
            s->rec->field[jp->target] = v;
        else
            s->st->extra[jp->target - SLT_F__COUNT] = v;
    }
}

static int scan_value(struct scan *s, int depth, int want);

/* A scalar at s->p: its text in *out (empty .p for null). */
static int scan_scalar(struct scan *s, struct slt_str *out)
{
    const char *st = s->p;

    if (*s->p == '"')
        return scan_string(s, out);
    if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9')) {
        while (s->p < s->end && ((*s->p >= '0' && *s->p <= '9') || *s->p == '.' || *s->p == 'e' ||
                                 *s->p == 'E' || *s->p == '-' || *s->p == '+'))
            s->p++;
        *out = slt__str(st, s->p);
        return 0;
    }
    if (s->end - s->p >= 4 && memcmp(s->p, "true", 4) == 0) {
        s->p += 4;
        *out = slt__str(st, s->p);
        return 0;
    }
    if (s->end - s->p >= 5 && memcmp(s->p, "false", 5) == 0) {
        s->p += 5;
        *out = slt__str(st, s->p);
        return 0;
    }
    if (s->end - s->p >= 4 && memcmp(s->p, "null", 4) == 0) {
        s->p += 4;
        *out = SLT_STR_NULL;
        return 0;
    }
    s->err = "bad JSON value";
    return -1;
}

static int scan_object(struct scan *s, int depth)
{
    struct slt_str k;

    s->p++; /* '{' */
    skip_ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        return 0;
    }
    for (;;) {
        skip_ws(s);
        if (s->p >= s->end || *s->p != '"') {
            s->err = "expected a member name";
            return -1;
        }
        if (scan_string(s, &k) < 0)
            return -1;
        skip_ws(s);
        if (s->p >= s->end || *s->p != ':') {
            s->err = "expected ':'";
            return -1;
        }
        s->p++;
        skip_ws(s);
        s->key[depth] = k;
        if (scan_value(s, depth + 1, depth + 1 <= s->ji->max_parts) < 0)
            return -1;
        skip_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            continue;
        }
        if (s->p < s->end && *s->p == '}') {
            s->p++;
            return 0;
        }
        s->err = "expected ',' or '}'";
        return -1;
    }
}

/* An array; when want, its first scalar element is captured for the array's own path. */
static int scan_array(struct scan *s, int depth, int want)
{
    struct slt_str v;
    int first = 1;

    s->p++; /* '[' */
    skip_ws(s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        return 0;
    }
    for (;;) {
        skip_ws(s);
        if (s->p >= s->end) {
            s->err = "unterminated array";
            return -1;
        }
        if (*s->p == '{' || *s->p == '[') {
            if (depth >= JSON_MAX_DEPTH) {
                s->err = "JSON nested too deep";
                return -1;
            }
            /* arrays are transparent: members of an object in an array extend its path */
            if ((*s->p == '{' ? scan_object(s, depth) : scan_array(s, depth + 1, 0)) < 0)
                return -1;
        } else {
            if (scan_scalar(s, &v) < 0)
                return -1;
            if (want && first && v.p && depth > 0)
                capture(s, depth, v);
        }
        first = 0;
        skip_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            continue;
        }
        if (s->p < s->end && *s->p == ']') {
            s->p++;
            return 0;
        }
        s->err = "expected ',' or ']'";
        return -1;
    }
}

/* A value at depth (its path is s->key[0..depth-1]). */
static int scan_value(struct scan *s, int depth, int want)
{
    struct slt_str v;

    if (s->p >= s->end) {
        s->err = "line ends inside the object";
        return -1;
    }
    if (*s->p == '{' || *s->p == '[') {
        if (depth >= JSON_MAX_DEPTH) {
            s->err = "JSON nested too deep";
            return -1;
        }
        return *s->p == '{' ? scan_object(s, depth) : scan_array(s, depth, want);
    }
    if (scan_scalar(s, &v) < 0)
        return -1;
    if (want && v.p)
        capture(s, depth, v);
    return 0;
}

static int fail(struct slt_record *rec, int reason, const char *detail, size_t column)
{
    rec->detail = detail;
    rec->column = column;
    return reason;
}

static int parse_time(const struct json_impl *ji, struct json_state *st, struct slt_str t,
                      struct slt_record *rec)
{
    int64_t us;

    if (ji->time_layout)
        return slt_time_parse_layout(ji->time_layout, t.p, t.len, &rec->time, &rec->time_frac_us);
    if (t.len == 26 && t.p[2] == '/')
        return slt__clf_cached(&st->clf, t.p, t.len, &rec->time);
    if ((t.len >= 19 && t.p[4] == '-') || (t.len >= 20 && t.p[2] == '/'))
        return slt__time_parse_auto(t.p, t.len, &rec->time, &rec->time_frac_us);
    /* epoch seconds, or milliseconds when 10^11 or more (year 5138 in seconds) */
    if (t.len == 0 || (unsigned)(t.p[0] - '0') > 9 || slt__decimal_scaled(t.p, t.len, 6, &us) < 0)
        return SLT_EPARSE;
    if (us >= INT64_C(100000000000) * 1000000)
        us /= 1000;
    if (us / 1000000 > INT64_C(253402300799))
        return SLT_EPARSE;
    rec->time = us / 1000000;
    rec->time_frac_us = (int32_t)(us % 1000000);
    return 0;
}

static int json_parse(const struct slt_format *fmt, struct slt_parser *p, const char *line,
                      size_t len, struct slt_record *rec)
{
    const struct json_impl *ji = fmt->impl;
    struct json_state *st = p->state;
    const char *brace = memchr(line, '{', len);
    struct slt_str f;
    struct scan s;
    int status;

    if (!brace)
        return fail(rec, SLT_UP_SYNTAX, "no JSON object on the line", 0);
    memset(st->prio, 0, sizeof(st->prio));
    memset(st->extra, 0, sizeof(st->extra[0]) * (size_t)ji->nextra);
    rec->priv = st->extra;
    s.p = brace;
    s.end = line + len;
    s.ji = ji;
    s.st = st;
    s.rec = rec;
    s.err = NULL;
    if (scan_object(&s, 0) < 0)
        return fail(rec, SLT_UP_SYNTAX, s.err, (size_t)(s.p - line));
    skip_ws(&s);
    if (s.p != s.end)
        return fail(rec, SLT_UP_SYNTAX, "text after the JSON object", (size_t)(s.p - line));

    f = rec->field[SLT_F_STATUS];
    if (!f.p)
        return fail(rec, SLT_UP_NOT_ACCESS, "no status: not an access log entry", 0);
    /* Caddy writes "status": 0 when no response was written: the 000 of other logs */
    if (f.len == 1 && f.p[0] == '0')
        status = 0;
    else if ((status = slt__status3(f.p, f.len)) < 0)
        return fail(rec, SLT_UP_STATUS, "status is not 3 digits", (size_t)(f.p - line));
    rec->status = status;

    f = rec->field[SLT_F_TIME];
    if (!f.p)
        return fail(rec, SLT_UP_TIME, "no time field", 0);
    if (parse_time(ji, st, f, rec) < 0)
        return fail(rec, SLT_UP_TIME, "bad time", (size_t)(f.p - line));

    f = rec->field[SLT_F_LATENCY];
    if (f.p && slt_parse_latency(f.p, f.len, fmt->latency_unit, &rec->latency_us) < 0)
        return fail(rec, SLT_UP_LATENCY, "bad latency", (size_t)(f.p - line));

    f = rec->field[SLT_F_UPSTREAM_LATENCY];
    if (f.p)
        rec->upstream_us = slt__upstream_sum(f.p, f.len, fmt->latency_unit);

    f = rec->field[SLT_F_REQUEST];
    if (f.p && !rec->field[SLT_F_METHOD].p && !rec->field[SLT_F_PATH].p) {
        struct slt_str proto = rec->field[SLT_F_PROTOCOL];

        slt__split_request(rec, f.p, f.len);
        if (proto.p)
            rec->field[SLT_F_PROTOCOL] = proto;
    }
    return SLT_UP_OK;
}
