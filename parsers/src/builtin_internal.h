/*
 * Pieces shared by the hand-written built-in formats (nginx, apache, alb, json). Private to
 * parsers/. Everything here works on (pointer, length) slices and never allocates.
 */
#ifndef SLT_BUILTIN_INTERNAL_H
#define SLT_BUILTIN_INTERNAL_H

#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "format_internal.h"
#include "time_internal.h"

#if defined(__GNUC__)
#define SLT__LIKELY(x) __builtin_expect(!!(x), 1)
#define SLT__UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define SLT__LIKELY(x) (x)
#define SLT__UNLIKELY(x) (x)
#endif

/* Per-parser state of every hand-written format. */
struct slt__builtin_state {
    struct slt__time_cache clf;
    struct slt__time_cache iso;
};

/* parser_init/parser_release ops that give p->state a struct slt__builtin_state. */
int slt__builtin_parser_init(const struct slt_format *fmt, struct slt_parser *p);
void slt__builtin_parser_release(struct slt_parser *p);

extern const struct slt_format_ops slt__nginx_combined_ops;
extern const struct slt_format_ops slt__nginx_main_ops;
extern const struct slt_format_ops slt__nginx_timed_ops;
extern const struct slt_format_ops slt__apache_common_ops;
extern const struct slt_format_ops slt__apache_combined_ops;
extern const struct slt_format_ops slt__alb_ops;
extern const struct slt_format_ops slt__haproxy_http_ops;
extern const struct slt_format_ops slt__envoy_ops;
extern const struct slt_format_ops slt__ingress_nginx_ops;
extern const struct slt_format_ops slt__w3c_ops;
extern const struct slt_format_ops slt__cloudfront_ops;

/* The built-in "json" format: a JSON format with the default mapping and canonical keys only. */
int slt__json_builtin_new(struct slt_format **out);
/* The built-in "traefik_json": Traefik's JSON access log keys, durations in nanoseconds. */
int slt__traefik_json_new(struct slt_format **out);

/*
 * Format-specific fields of a hand-written format (envoy's response_flags, ingress-nginx's
 * proxy_upstream_name, ...): fmt->impl is the NULL-terminated list of their names (a static
 * table), field i has key SLT_F__COUNT + i, and the parse op fills st->extra[i] and points
 * rec->priv at st->extra. The parser state starts with the usual struct slt__builtin_state.
 */
#define SLT__MAX_EXTRAS 16
struct slt__extra_state {
    struct slt__builtin_state b;
    struct slt_str extra[SLT__MAX_EXTRAS];
};
int slt__extra_parser_init(const struct slt_format *fmt, struct slt_parser *p);
int slt__extra_field_key(const struct slt_format *fmt, const char *name, size_t len);
struct slt_str slt__extra_get(const struct slt_record *rec, int key);

/*
 * The first c in [p, end), or end. 16 bytes at a time with SSE2 (baseline on x86-64), else
 * 8 at a time (the classic "has a zero byte" test on x ^ c...c, whose lowest flagged byte is
 * always a true match); inlined, because log fields are mostly short and a call to memchr
 * costs more than the search. Never reads outside [p, end).
 */
static inline const char *slt__find(const char *p, const char *end, char c)
{
#if defined(__SSE2__)
    const __m128i pat = _mm_set1_epi8(c);
    unsigned m;

    if (end - p >= 16) {
        /* the first 16 bytes alone (most fields are short), then 32 at a time */
        m = (unsigned)_mm_movemask_epi8(
            _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)p), pat));
        if (m)
            return p + __builtin_ctz(m);
        p += 16;
        while (end - p >= 32) {
            m = (unsigned)_mm_movemask_epi8(
                    _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)p), pat)) |
                (unsigned)_mm_movemask_epi8(
                    _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 16)), pat))
                    << 16;
            if (m)
                return p + __builtin_ctz(m);
            p += 32;
        }
        if (end - p >= 16) {
            m = (unsigned)_mm_movemask_epi8(
                _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)p), pat));
            if (m)
                return p + __builtin_ctz(m);
            p += 16;
        }
    }
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
    const uint64_t pat = ones * (unsigned char)c;
    uint64_t x, t;

    while (end - p >= 8) {
        memcpy(&x, p, 8);
        x ^= pat;
        t = (x - ones) & ~x & highs;
        if (t)
            return p + (__builtin_ctzll(t) >> 3);
        p += 8;
    }
#endif
    while (p < end && *p != c)
        p++;
    return p;
}

/*
 * The closing '"' of a quoted field whose body starts at p: the first '"' not escaped by an
 * odd number of backslashes (Apache writes \" and \\; nginx writes \x22 and \x5C, which
 * need no special case). NULL when the field is not closed before end.
 */
static inline const char *slt__quote_end(const char *p, const char *end)
{
    const char *q = p, *b;

    while ((q = slt__find(q, end, '"')) < end) {
        for (b = q; b > p && b[-1] == '\\'; b--)
            ;
        if (((q - b) & 1) == 0)
            return q;
        q++;
    }
    return NULL;
}

/* The last c in [p, end), or NULL. */
static inline const char *slt__rfind(const char *p, const char *end, char c)
{
    while (end > p) {
        if (*--end == c)
            return end;
    }
    return NULL;
}

/* 1 when one of the 8 bytes at p is c. */
static inline int slt__has_byte8(const char *p, char c)
{
    uint64_t x;

    memcpy(&x, p, 8);
    x ^= UINT64_C(0x0101010101010101) * (unsigned char)c;
    return ((x - UINT64_C(0x0101010101010101)) & ~x & UINT64_C(0x8080808080808080)) != 0;
}

/* A 3-digit status ("000".."999"): its value, or -1. */
static inline int slt__status3(const char *p, size_t len)
{
    if (len != 3 || (unsigned)(p[0] - '0') > 9 || (unsigned)(p[1] - '0') > 9 ||
        (unsigned)(p[2] - '0') > 9)
        return -1;
    return (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
}

/* An unparsed line: reason, with what was wrong (a static string) and its 0-based column. */
static inline int slt__fail(struct slt_record *rec, int reason, const char *detail, size_t column)
{
    rec->detail = detail;
    rec->column = column;
    return reason;
}

static inline struct slt_str slt__str(const char *p, const char *end)
{
    struct slt_str s = {p, (size_t)(end - p)};
    return s;
}

/*
 * Fill METHOD, PATH and PROTOCOL from a request line "METHOD TARGET PROTO" (REQUEST is the
 * caller's). "-" and "" leave all three absent; one word gives METHOD only; two give METHOD and
 * PATH (HTTP/0.9); three or more give the first word as METHOD, the last as PROTOCOL and
 * everything between as PATH, so a target with a space in it (ALB "SpaceInUri") stays whole.
 */
void slt__split_request(struct slt_record *rec, const char *p, size_t len);

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/*
 * The 8 bytes at p as a little-endian word (p[0] in the low byte), 0 bytes standing for those
 * at or past end. Reads only inside [lo, end): near end it reads the 8 bytes before end and
 * shifts, so lo must be at least 8 bytes before end, or p itself.
 */
static inline uint64_t slt__load8(const char *p, const char *end, const char *lo)
{
    uint64_t x = 0;

    if (end - p >= 8) {
        memcpy(&x, p, 8);
    } else if (p < end) {
        if (end - lo >= 8) {
            memcpy(&x, end - 8, 8);
            x >>= 8 * (8 - (end - p));
        } else {
            memcpy(&x, p, (size_t)(end - p));
        }
    }
    return x;
}

/* How many of the bytes of x, from the low one, are ASCII digits before the first that is not. */
static inline int slt__digits8(uint64_t x)
{
    /* a byte is a digit when its high nibble is 3 and adding 6 leaves it at 3 (no carry
     * reaches a byte before the first non-digit: only a byte >= 0xfa carries) */
    uint64_t m = ((x & UINT64_C(0xf0f0f0f0f0f0f0f0)) ^ UINT64_C(0x3030303030303030)) |
                 (((x + UINT64_C(0x0606060606060606)) & UINT64_C(0xf0f0f0f0f0f0f0f0)) ^
                  UINT64_C(0x3030303030303030));

    return m ? __builtin_ctzll(m) >> 3 : 8;
}

/* The number the first n (1..8) ASCII digits of x spell, the low byte the most significant. */
static inline uint32_t slt__value8(uint64_t x, int n)
{
    x = (x & UINT64_C(0x0f0f0f0f0f0f0f0f)) << (8 * (8 - n)); /* leading zeros below */
    x = (x * 10 + (x >> 8)) & UINT64_C(0x00ff00ff00ff00ff);
    x = (x * 100 + (x >> 16)) & UINT64_C(0x0000ffff0000ffff);
    return (uint32_t)(x * 10000 + (x >> 32));
}

/*
 * slt__seconds_bytewise, 8 bytes at a time: the same result for the same bytes. lo as for
 * slt__load8.
 */
static inline const char *slt__seconds(const char *p, const char *end, const char *lo, int64_t *us)
{
    static const int32_t scale[7] = {1000000, 100000, 10000, 1000, 100, 10, 1};
    uint64_t x = slt__load8(p, end, lo);
    int n = slt__digits8(x), k;
    int64_t v;

    if (SLT__UNLIKELY(n == 0 || n == 8))
        return n ? slt__seconds_bytewise(p, end, us) : NULL;
    v = (int64_t)(n == 1 ? (x & 0x0f) : slt__value8(x, n)) * 1000000;
    p += n;
    if (p < end && *p == '.') {
        p++;
        x = slt__load8(p, end, lo);
        n = slt__digits8(x);
        k = n < 6 ? n : 6;
        if (k)
            v += (int64_t)slt__value8(x, k) * scale[k];
        p += n;
        while (n == 8 && p < end && (unsigned)(*p - '0') <= 9)
            p++;
    }
    *us = v;
    return p;
}

/* The first byte in [p, end) that is not an ASCII digit, or end. */
static inline const char *slt__skip_digits(const char *p, const char *end)
{
    uint64_t x;
    int n;

    while (end - p >= 8) {
        memcpy(&x, p, 8);
        if ((n = slt__digits8(x)) < 8)
            return p + n;
        p += 8;
    }
    while (p < end && (unsigned)(*p - '0') <= 9)
        p++;
    return p;
}
#else
static inline const char *slt__seconds(const char *p, const char *end, const char *lo, int64_t *us)
{
    (void)lo;
    return slt__seconds_bytewise(p, end, us);
}

static inline const char *slt__skip_digits(const char *p, const char *end)
{
    while (p < end && (unsigned)(*p - '0') <= 9)
        p++;
    return p;
}
#endif

/*
 * The CLF-like formats: apache_common (head only), apache_combined and nginx_combined (head,
 * referer, user agent), nginx_main (+ X-Forwarded-For), nginx_timed (+ request and upstream
 * times). slt__clf_parse tries a fast path for the default layout first and falls back to the
 * general path, which slt__clf_parse_general is alone (the reference fuzz_fastpath checks the
 * fast path against). Both expect rec as slt_parse() hands it over (zeroed, latencies -1).
 */
enum slt__clf_variant { SLT__CLF_COMMON, SLT__CLF_COMBINED, SLT__CLF_MAIN, SLT__CLF_TIMED };
int slt__clf_parse(enum slt__clf_variant v, struct slt__builtin_state *st, const char *line,
                   size_t len, struct slt_record *rec);
int slt__clf_parse_general(enum slt__clf_variant v, struct slt__builtin_state *st, const char *line,
                           size_t len, struct slt_record *rec);

/*
 * The ALB parser (alb.c), with its fast tokenizer and the fields after the request left for
 * later (fast = 1, what the format uses) or with the general one alone, every field read
 * (fast = 0, the reference test_parser_fastpath checks against).
 */
int slt__alb_parse(struct slt__builtin_state *st, const char *line, size_t len,
                   struct slt_record *rec, int fast);
/*
 * The fast ALB parse leaves the fields after the request to be read on first use (rec->lazy:
 * method, path, protocol, host, user_agent, error_reason; slt_record_get reads them). This
 * reads them into rec->field and clears rec->lazy (the general path does it itself).
 */
void slt__alb_materialize(struct slt_record *rec);

/*
 * The common head of CLF lines, as nginx and Apache write them:
 *   [vhost ]client ident user [dd/Mon/yyyy:HH:MM:SS +zzzz] "request" status[ bytes]
 * Fills rec and sets *pos just past bytes (or status). Returns SLT_UP_OK or a reason.
 */
int slt__clf_head(struct slt__time_cache *tc, const char *line, size_t len, struct slt_record *rec,
                  size_t *pos);
/*
 * After the head: ' "referer" "user_agent"'. Both are optional; up to two unquoted fields
 * before the referer are skipped (Apache %I or %D put there); an unclosed quote runs to the
 * end of the line (a cut-off user agent). *pos moves past what was read.
 */
void slt__clf_referer_ua(const char *line, size_t len, struct slt_record *rec, size_t *pos);

/*
 * An upstream time list as nginx writes $upstream_response_time: "0.010", "-",
 * "0.010, 0.020 : 0.005" (", " between servers of one upstream, " : " between upstreams after
 * an internal redirect). *sum_us = the sum of its numbers ("-" entries ignored), -1 when it has
 * none. Stops at the first word that is neither; returns the bytes read (0: not a list).
 */
size_t slt__upstream_scan(const char *p, size_t len, enum slt_latency_unit unit, int64_t *sum_us);
/* The sum alone, for a value that is only the list (JSON). */
int64_t slt__upstream_sum(const char *p, size_t len, enum slt_latency_unit unit);

#endif
