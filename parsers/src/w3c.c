/*
 * W3C extended log files: IIS and other servers (`w3c`) and CloudFront standard logs
 * (`cloudfront`). The columns of a line are named by the last `#Fields:` directive of the same
 * file, which may change in the middle of it (IIS writes a new header block when its logging
 * configuration changes or the site restarts).
 *
 *   #Software: Microsoft Internet Information Services 8.5
 *   #Version: 1.0
 *   #Date: 2016-01-10 00:07:26
 *   #Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip ...
 *   2016-01-10 00:07:26 172.31.22.76 GET /httptest.php - 80 - 188.68.224.62 - - 404 0 2 591
 *
 * Lines starting with '#' are directives: SLT_UP_NOT_ACCESS, and `#Fields:` / `#Date:` change
 * the state of the stream they belong to (slt_parser_stream()). Until a stream has seen a
 * `#Fields:` line its lines are read with the format's default columns: CloudFront's documented
 * 33 fields (cloudfront), IIS's default selection (w3c).
 *
 * Values are separated by tabs (CloudFront) or spaces (IIS: a line with a tab in it is read as
 * tab-separated); IIS writes spaces inside values as '+', CloudFront percent-encodes them. A
 * space-separated value may also be "quoted". A line with fewer values than columns leaves the
 * rest absent; values past the last column are ignored; at most W3C_MAX_COLS columns are read.
 *
 * Mapping (W3C names, case-insensitive): date + time (UTC; without a date column the date of
 * the stream's `#Date:`) -> TIME; sc-status -> STATUS (000 allowed); time-taken -> LATENCY
 * (cloudfront: seconds; w3c: milliseconds as IIS writes them, or seconds when it has a '.');
 * cs-method; cs-uri-stem (or cs-uri) -> PATH, without the query (cs-uri-query is a field of its
 * own); cs-version / cs-protocol-version -> PROTOCOL; x-host-header, else cs-host / cs(Host) ->
 * HOST; c-ip -> CLIENT; cs-username -> USER; sc-bytes -> BYTES; cs(Referer); cs(User-Agent);
 * x-forwarded-for -> XFF; cs-protocol (http|https|ws|wss) -> TYPE. Any other column can be
 * named by a rule by its W3C name (`x-edge-result-type: '^Error$'`, `sc-substatus: '^0$'`).
 */
#include <string.h>

#include "builtin_internal.h"

#define W3C_MAX_COLS 64
#define W3C_MAX_EXTRA 32
#define W3C_NAME_MAX 64

enum role {
    R_SKIP = 0,
    R_DATE,
    R_TIME,
    R_STATUS,
    R_TIME_TAKEN,
    R_METHOD,
    R_STEM,
    R_URI,
    R_PROTOCOL,
    R_HOST,
    R_XHOST,
    R_CLIENT,
    R_USER,
    R_BYTES,
    R_REFERER,
    R_UA,
    R_XFF,
    R_SCHEME,
    R__COUNT
};

static const struct {
    const char *name;
    uint8_t role;
} roles[] = {
    {"date", R_DATE},
    {"time", R_TIME},
    {"sc-status", R_STATUS},
    {"time-taken", R_TIME_TAKEN},
    {"cs-method", R_METHOD},
    {"cs-uri-stem", R_STEM},
    {"cs-uri", R_URI},
    {"cs-version", R_PROTOCOL},
    {"cs-protocol-version", R_PROTOCOL},
    {"cs-host", R_HOST},
    {"cs(Host)", R_HOST},
    {"x-host-header", R_XHOST},
    {"c-ip", R_CLIENT},
    {"cs-username", R_USER},
    {"sc-bytes", R_BYTES},
    {"cs(Referer)", R_REFERER},
    {"cs(User-Agent)", R_UA},
    {"x-forwarded-for", R_XFF},
    {"cs-protocol", R_SCHEME},
};

static const char cloudfront_fields[] =
    "date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status "
    "cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id "
    "x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher "
    "x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port "
    "time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len "
    "sc-range-start sc-range-end";
static const char iis_fields[] = "date time s-ip cs-method cs-uri-stem cs-uri-query s-port "
                                 "cs-username c-ip cs(User-Agent) cs(Referer) sc-status "
                                 "sc-substatus sc-win32-status time-taken";

/* The format: which variant, and the names rules asked for (key SLT_F__COUNT + i). */
struct w3c_impl {
    int cloudfront;
    int nextra;
    char *extra[W3C_MAX_EXTRA];
};

/* What a #Fields: line says, for one stream. */
struct w3c_layout {
    uint16_t ncols;
    uint8_t role[W3C_MAX_COLS];
    int8_t extra[W3C_MAX_COLS]; /* index into the format's extra names, -1: none */
    uint8_t has_fields;         /* a #Fields: line was seen (else the defaults) */
    uint8_t has_date;           /* #Date: seen */
    char date[10];              /* its YYYY-MM-DD */
};

struct w3c_stream {
    uint64_t id, used;
    struct w3c_layout lay;
};

struct w3c_state {
    struct slt__time_cache iso;
    struct w3c_stream *streams;
    size_t n, cap, cur;
    uint64_t clock;
    struct slt_str extra[W3C_MAX_EXTRA];
};

static int name_eq(const char *a, size_t alen, const char *b)
{
    return strlen(b) == alen && strncasecmp(a, b, alen) == 0;
}

/* Sets the columns of lay from the names in [p, end) (space- or tab-separated). */
static void layout_set(const struct w3c_impl *wi, struct w3c_layout *lay, const char *p,
                       const char *end)
{
    const char *e;
    size_t i;
    int k;

    lay->ncols = 0;
    while (p < end && lay->ncols < W3C_MAX_COLS) {
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p >= end)
            break;
        for (e = p; e < end && *e != ' ' && *e != '\t'; e++)
            ;
        lay->role[lay->ncols] = R_SKIP;
        lay->extra[lay->ncols] = -1;
        for (i = 0; i < SLT_ARRAY_SIZE(roles); i++)
            if (name_eq(p, (size_t)(e - p), roles[i].name)) {
                lay->role[lay->ncols] = roles[i].role;
                break;
            }
        for (k = 0; k < wi->nextra; k++)
            if (name_eq(p, (size_t)(e - p), wi->extra[k])) {
                lay->extra[lay->ncols] = (int8_t)k;
                break;
            }
        lay->ncols++;
        p = e;
    }
}

static void layout_default(const struct w3c_impl *wi, struct w3c_layout *lay)
{
    const char *f = wi->cloudfront ? cloudfront_fields : iis_fields;

    memset(lay, 0, sizeof(*lay));
    layout_set(wi, lay, f, f + strlen(f));
}

/* ---- streams ---- */

/* Makes stream id current; 1 when it is new (or was forgotten). */
static int stream_select(struct w3c_state *st, const struct w3c_impl *wi, uint64_t id)
{
    struct w3c_stream *s;
    size_t i, lru = 0;

    st->clock++;
    if (st->n && st->streams[st->cur].id == id) {
        st->streams[st->cur].used = st->clock;
        return 0;
    }
    for (i = 0; i < st->n; i++) {
        if (st->streams[i].id == id) {
            st->cur = i;
            st->streams[i].used = st->clock;
            return 0;
        }
        if (st->streams[i].used < st->streams[lru].used)
            lru = i;
    }
    if (st->n == st->cap && st->cap < SLT_PARSER_MAX_STREAMS) {
        size_t cap = st->cap ? st->cap * 2 : 4;
        struct w3c_stream *v;

        if (cap > SLT_PARSER_MAX_STREAMS)
            cap = SLT_PARSER_MAX_STREAMS;
        v = slt_realloc(st->streams, cap * sizeof(*v));
        if (v) {
            st->streams = v;
            st->cap = cap;
        }
    }
    /* a new slot, or (at the bound, or out of memory) the least recently used one */
    i = st->n < st->cap ? st->n++ : lru;
    s = &st->streams[i];
    s->id = id;
    s->used = st->clock;
    layout_default(wi, &s->lay);
    st->cur = i;
    return 1;
}

static int w3c_stream(struct slt_parser *p, uint64_t id)
{
    struct w3c_state *st = p->state;

    if (st->n && st->streams[st->cur].id == id)
        return 0;
    return stream_select(st, p->fmt->impl, id);
}

static int w3c_has_header(const struct slt_parser *p)
{
    const struct w3c_state *st = p->state;

    return st->n && st->streams[st->cur].lay.has_fields;
}

static int w3c_parser_init(const struct slt_format *fmt, struct slt_parser *p)
{
    struct w3c_state *st = slt_calloc(1, sizeof(*st));

    if (!st)
        return SLT_ENOMEM;
    p->state = st;
    (void)stream_select(st, fmt->impl, 0);
    if (!st->n) {
        slt_free(st);
        p->state = NULL;
        return SLT_ENOMEM;
    }
    return 0;
}

static void w3c_parser_release(struct slt_parser *p)
{
    struct w3c_state *st = p->state;

    if (st)
        slt_free(st->streams);
    slt_free(st);
    p->state = NULL;
}

/* ---- fields named by rules ---- */

/*
 * Any other column by its W3C name: it gets key SLT_F__COUNT + n. This changes the format, so
 * call it while loading the config, before parsers of the format are made (layouts are resolved
 * when a stream is created and at each #Fields: line).
 */
static int w3c_field_key(const struct slt_format *fmt, const char *name, size_t len)
{
    struct w3c_impl *wi = fmt->impl;
    size_t i;
    int k;

    if (len == 0 || len > W3C_NAME_MAX)
        return -1;
    for (i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '(' || c == ')' || c == '.'))
            return -1;
    }
    for (k = 0; k < wi->nextra; k++)
        if (name_eq(name, len, wi->extra[k]))
            return SLT_F__COUNT + k;
    if (wi->nextra >= W3C_MAX_EXTRA)
        return -1;
    wi->extra[wi->nextra] = slt_malloc(len + 1);
    if (!wi->extra[wi->nextra])
        return -1;
    memcpy(wi->extra[wi->nextra], name, len);
    wi->extra[wi->nextra][len] = '\0';
    return SLT_F__COUNT + wi->nextra++;
}

static struct slt_str w3c_get(const struct slt_record *rec, int key)
{
    const struct w3c_impl *wi = rec->fmt->impl;
    const struct slt_str *extra = rec->priv;
    int i = key - SLT_F__COUNT;

    if (!extra || i < 0 || i >= wi->nextra)
        return SLT_STR_NULL;
    return extra[i];
}

static void w3c_free(struct slt_format *fmt)
{
    struct w3c_impl *wi = fmt->impl;
    int k;

    if (!wi)
        return;
    for (k = 0; k < wi->nextra; k++)
        slt_free(wi->extra[k]);
    slt_free(wi);
    fmt->impl = NULL;
}

/* ---- lines ---- */

static int directive(const struct w3c_impl *wi, struct w3c_layout *lay, const char *line,
                     size_t len, struct slt_record *rec)
{
    const char *end = line + len, *p;

    if (len > 8 && strncasecmp(line, "#Fields:", 8) == 0) {
        layout_set(wi, lay, line + 8, end);
        lay->has_fields = 1;
    } else if (len > 6 && strncasecmp(line, "#Date:", 6) == 0) {
        for (p = line + 6; p < end && *p == ' '; p++)
            ;
        if (end - p >= 10 && p[4] == '-' && p[7] == '-') {
            memcpy(lay->date, p, 10);
            lay->has_date = 1;
        }
    }
    return slt__fail(rec, SLT_UP_NOT_ACCESS, "a W3C directive line (#...)", 0);
}

static int w3c_parse(const struct slt_format *fmt, struct slt_parser *prs, const char *line,
                     size_t len, struct slt_record *rec)
{
    const struct w3c_impl *wi = fmt->impl;
    struct w3c_state *st = prs->state;
    struct w3c_layout *lay = &st->streams[st->cur].lay;
    const char *end = line + len, *p = line, *e;
    struct slt_str v[R__COUNT];
    char sep, iso[40];
    size_t col, dlen;
    int status;

    if (line[0] == '#')
        return directive(wi, lay, line, len, rec);
    memset(v, 0, sizeof(v));
    memset(st->extra, 0, (size_t)wi->nextra * sizeof(st->extra[0]));
    rec->priv = st->extra;
    sep = wi->cloudfront || memchr(line, '\t', len) ? '\t' : ' ';
    for (col = 0; col < lay->ncols; col++) {
        struct slt_str val;

        if (sep == ' ' && p < end && *p == '"' && (e = slt__quote_end(p + 1, end)) != NULL) {
            val = slt__str(p + 1, e);
            e++;
        } else {
            e = slt__find(p, end, sep);
            val = slt__str(p, e);
        }
        if (lay->role[col] != R_SKIP)
            v[lay->role[col]] = val;
        if (lay->extra[col] >= 0)
            st->extra[lay->extra[col]] = val;
        if (e >= end)
            break;
        p = e + 1;
    }

    /* time: date and time of day (UTC), or the #Date: directive's date */
    if (!v[R_TIME].p || v[R_TIME].len < 8 || v[R_TIME].len > 20)
        return slt__fail(rec, SLT_UP_TIME, "no time field (or a bad one)",
                         v[R_TIME].p ? (size_t)(v[R_TIME].p - line) : 0);
    if (v[R_DATE].p && v[R_DATE].len == 10) {
        memcpy(iso, v[R_DATE].p, 10);
    } else if (!v[R_DATE].p && lay->has_date) {
        memcpy(iso, lay->date, 10);
    } else {
        return slt__fail(rec, SLT_UP_TIME, "no date field and no #Date: directive",
                         v[R_DATE].p ? (size_t)(v[R_DATE].p - line) : 0);
    }
    iso[10] = 'T';
    memcpy(iso + 11, v[R_TIME].p, v[R_TIME].len);
    dlen = 11 + v[R_TIME].len;
    if (slt__iso8601_cached(&st->iso, iso, dlen, &rec->time, &rec->time_frac_us) < 0)
        return slt__fail(rec, SLT_UP_TIME, "bad date or time", (size_t)(v[R_TIME].p - line));
    if (v[R_DATE].p && v[R_TIME].p == v[R_DATE].p + 11)
        rec->field[SLT_F_TIME] = slt__str(v[R_DATE].p, v[R_TIME].p + v[R_TIME].len);
    else
        rec->field[SLT_F_TIME] = v[R_TIME];

    if (!v[R_STATUS].p)
        return slt__fail(rec, SLT_UP_STATUS, "no sc-status field", len);
    rec->field[SLT_F_STATUS] = v[R_STATUS];
    if ((status = slt__status3(v[R_STATUS].p, v[R_STATUS].len)) < 0)
        return slt__fail(rec, SLT_UP_STATUS, "sc-status is not 3 digits",
                         (size_t)(v[R_STATUS].p - line));
    rec->status = status;

    if (v[R_TIME_TAKEN].p) {
        struct slt_str t = v[R_TIME_TAKEN];
        enum slt_latency_unit unit =
            wi->cloudfront || memchr(t.p, '.', t.len) ? SLT_UNIT_S : SLT_UNIT_MS;

        rec->field[SLT_F_LATENCY] = t;
        if (slt_parse_latency(t.p, t.len, unit, &rec->latency_us) < 0)
            return slt__fail(rec, SLT_UP_LATENCY, "bad time-taken", (size_t)(t.p - line));
    }
    rec->field[SLT_F_METHOD] = v[R_METHOD];
    rec->field[SLT_F_PATH] = v[R_URI].p ? v[R_URI] : v[R_STEM];
    rec->field[SLT_F_PROTOCOL] = v[R_PROTOCOL];
    rec->field[SLT_F_HOST] =
        v[R_XHOST].p && !(v[R_XHOST].len == 1 && v[R_XHOST].p[0] == '-') ? v[R_XHOST] : v[R_HOST];
    rec->field[SLT_F_CLIENT] = v[R_CLIENT];
    rec->field[SLT_F_USER] = v[R_USER];
    rec->field[SLT_F_BYTES] = v[R_BYTES];
    rec->field[SLT_F_REFERER] = v[R_REFERER];
    rec->field[SLT_F_USER_AGENT] = v[R_UA];
    rec->field[SLT_F_XFF] = v[R_XFF];
    rec->field[SLT_F_TYPE] = v[R_SCHEME];
    return SLT_UP_OK;
}

static int w3c_format_init(struct slt_format *fmt, int cloudfront)
{
    struct w3c_impl *wi = slt_calloc(1, sizeof(*wi));

    if (!wi)
        return SLT_ENOMEM;
    wi->cloudfront = cloudfront;
    fmt->impl = wi;
    return 0;
}

static int w3c_init(struct slt_format *fmt)
{
    return w3c_format_init(fmt, 0);
}

static int cloudfront_init(struct slt_format *fmt)
{
    return w3c_format_init(fmt, 1);
}

#define W3C_OPS(init_fn)                                                                           \
    {                                                                                              \
        .parse = w3c_parse, .field_key = w3c_field_key, .get = w3c_get,                            \
        .parser_init = w3c_parser_init, .parser_release = w3c_parser_release, .free = w3c_free,    \
        .init = init_fn, .stream = w3c_stream, .has_header = w3c_has_header,                       \
    }

const struct slt_format_ops slt__w3c_ops = W3C_OPS(w3c_init);
const struct slt_format_ops slt__cloudfront_ops = W3C_OPS(cloudfront_init);
