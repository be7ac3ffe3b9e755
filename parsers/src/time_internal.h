/* Time helpers shared by the built-in formats. Private to parsers/. */
#ifndef SLT_TIME_INTERNAL_H
#define SLT_TIME_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/*
 * The largest latency slt_parse_latency() accepts: 10^15 us (about 31 years). Bounding it
 * keeps sums of a few of them (ALB's three timings, upstream lists) far from overflow.
 */
#define SLT__LATENCY_MAX_US INT64_C(1000000000000000)

#if defined(__GNUC__)
#define SLT__ALWAYS_INLINE __attribute__((always_inline)) inline
#define SLT__NOINLINE __attribute__((noinline))
#else
#define SLT__ALWAYS_INLINE inline
#define SLT__NOINLINE
#endif

/*
 * The last timestamp text and its value. Busy logs repeat the same second on many consecutive
 * lines, and the same minute on many more, so a compare or two replaces the parse: when only
 * the seconds differ, the value is base (the same minute at :00) plus the new seconds. One per
 * parser (not thread-safe).
 */
struct slt__time_cache {
    size_t len; /* 0: empty */
    int64_t value;
    int64_t base; /* value with the seconds at 00 */
    char text[32];
};

/* The out-of-line halves of the two functions below: parse, then fill the cache. */
int slt__clf_cached_slow(struct slt__time_cache *c, const char *s, size_t len, int64_t *out);
int slt__iso8601_cached_slow(struct slt__time_cache *c, const char *s, size_t len, int64_t *out,
                             int32_t *frac_us);

/* "00".."60" at s (60 is a leap second, as slt_time_parse_clf takes it): the value, or -1. */
static inline int slt__sec2(const char *s)
{
    unsigned a = (unsigned)(s[0] - '0'), b = (unsigned)(s[1] - '0');

    if (a > 6 || b > 9 || (a == 6 && b != 0))
        return -1;
    return (int)(a * 10 + b);
}

/*
 * 1 when the n bytes at a and b are equal except for bytes skip and skip + 1 (the seconds),
 * for n in 17..32 (two overlapping 16-byte compares with SSE2).
 */
static inline int slt__same_but_sec(const char *a, const char *b, size_t n, size_t skip)
{
#if defined(__SSE2__)
    unsigned lo, hi, hole;

    lo = (unsigned)_mm_movemask_epi8(
        _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)a),
                       _mm_loadu_si128((const __m128i *)(const void *)b)));
    hi = (unsigned)_mm_movemask_epi8(
        _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(a + n - 16)),
                       _mm_loadu_si128((const __m128i *)(const void *)(b + n - 16))));
    hole = 3u << skip;
    /* lo covers bytes 0..15, hi bytes n-16..n-1 */
    return ((lo | (hole & 0xffff)) & 0xffff) == 0xffff &&
           ((hi | (hole >> (n - 16))) & 0xffff) == 0xffff;
#else
    return memcmp(a, b, skip) == 0 && memcmp(a + skip + 2, b + skip + 2, n - skip - 2) == 0;
#endif
}

/*
 * slt_time_parse_clf() through the cache. The common case (26 bytes, same minute as the last
 * call) is two compares and the two seconds digits.
 */
static inline int slt__clf_cached(struct slt__time_cache *c, const char *s, size_t len,
                                  int64_t *out)
{
    int sec;

    if (len == 26 && c->len == 26 && slt__same_but_sec(s, c->text, 26, 18) &&
        (sec = slt__sec2(s + 18)) >= 0) {
        *out = c->base + sec;
        return 0;
    }
    return slt__clf_cached_slow(c, s, len, out);
}

/*
 * slt_time_parse_iso8601() with the date and time of day cached. The common case is ALB's
 * "2019-10-10T12:34:56.123456Z" (27 bytes) in the same minute as the last call.
 */
static inline int slt__iso8601_cached(struct slt__time_cache *c, const char *s, size_t len,
                                      int64_t *out, int32_t *frac_us)
{
    int sec, i;
    unsigned d;
    int32_t f = 0;

    if (len == 27 && c->len == 19 && s[19] == '.' && s[26] == 'Z' &&
        slt__same_but_sec(s, c->text, 19, 17) && (sec = slt__sec2(s + 17)) >= 0) {
        for (i = 20; i < 26; i++) {
            if ((d = (unsigned)(s[i] - '0')) > 9)
                goto slow;
            f = f * 10 + (int32_t)d;
        }
        *out = c->base + sec;
        *frac_us = f;
        return 0;
    }
slow:
    return slt__iso8601_cached_slow(c, s, len, out, frac_us);
}

/*
 * Seconds as nginx and ALB write them, "digits[.digits]" with 1..9 integer digits, at p: stores
 * the value in microseconds in *us (fraction digits past the sixth are truncated) and returns
 * the first byte after the number, or NULL when p does not start such a number. The value is
 * the one slt_parse_latency(SLT_UNIT_S) gives for the same bytes; other spellings ("-", "1e-3",
 * 10 or more integer digits) are left to it. A byte at a time; slt__seconds below is faster.
 */
static inline const char *slt__seconds_bytewise(const char *p, const char *end, int64_t *us)
{
    static const int32_t scale[7] = {1000000, 100000, 10000, 1000, 100, 10, 1};
    const char *lim, *f;
    uint64_t ip, d;
    int64_t fp = 0;

    if (p >= end || (ip = (uint64_t)(unsigned char)*p - '0') > 9)
        return NULL;
    lim = end - p > 9 ? p + 9 : end;
    for (p++; p < lim && (d = (uint64_t)(unsigned char)*p - '0') <= 9; p++)
        ip = ip * 10 + d;
    if (p < end && (unsigned)(*p - '0') <= 9)
        return NULL; /* 10 or more integer digits */
    if (p < end && *p == '.') {
        f = ++p;
        lim = end - p > 6 ? p + 6 : end;
        while (p < lim && (d = (uint64_t)(unsigned char)*p - '0') <= 9) {
            fp = fp * 10 + (int64_t)d;
            p++;
        }
        fp *= scale[p - f];
        while (p < end && (unsigned)(*p - '0') <= 9)
            p++;
    }
    *us = (int64_t)ip * 1000000 + fp;
    return p;
}

/*
 * nginx writes times as seconds with exactly three decimals ("%d.%03d"): "0.123" is read in
 * one go, anything else by slt__seconds_bytewise (same result for the same bytes).
 */
static SLT__ALWAYS_INLINE const char *slt__msec(const char *p, const char *end, int64_t *us)
{
    unsigned a, b, c, d;

    if (end - p >= 5 && p[1] == '.' && (a = (unsigned)(p[0] - '0')) <= 9 &&
        (b = (unsigned)(p[2] - '0')) <= 9 && (c = (unsigned)(p[3] - '0')) <= 9 &&
        (d = (unsigned)(p[4] - '0')) <= 9 && (end - p == 5 || (unsigned)(p[5] - '0') > 9)) {
        *us = (int64_t)(a * 1000000 + b * 100000 + c * 10000 + d * 1000);
        return p + 5;
    }
    return slt__seconds_bytewise(p, end, us);
}

/* ISO 8601 when s[4] is '-', CLF when s[2] is '/', else epoch seconds. */
int slt__time_parse_auto(const char *s, size_t len, int64_t *out, int32_t *frac_us);
/* "Jan".."Dec" (any case, 3 bytes read): 1..12, or 0. */
int slt__month_from_abbr(const char *s);
/* A non-negative decimal (with optional exponent) times 10^scale, truncated. */
int slt__decimal_scaled(const char *s, size_t len, int scale, int64_t *out);

#endif
