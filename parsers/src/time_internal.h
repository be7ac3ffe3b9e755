/* Time helpers shared by the built-in formats. Private to parsers/. */
#ifndef SLT_TIME_INTERNAL_H
#define SLT_TIME_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/*
 * The largest latency slt_parse_latency() accepts: 10^15 us (about 31 years). Bounding it
 * keeps sums of a few of them (ALB's three timings, upstream lists) far from overflow.
 */
#define SLT__LATENCY_MAX_US INT64_C(1000000000000000)

/*
 * The last CLF timestamp text and its value. Busy logs repeat the same second on many
 * consecutive lines, so one memcmp replaces the parse. One per parser (not thread-safe).
 */
struct slt__time_cache {
    size_t len; /* 0: empty */
    int64_t value;
    char text[32];
};

/* slt_time_parse_clf() through the cache. */
int slt__clf_cached(struct slt__time_cache *c, const char *s, size_t len, int64_t *out);
/* slt_time_parse_iso8601() with the date and time of day (first 19 bytes) cached. */
int slt__iso8601_cached(struct slt__time_cache *c, const char *s, size_t len, int64_t *out,
                        int32_t *frac_us);
/* ISO 8601 when s[4] is '-', CLF when s[2] is '/', else epoch seconds. */
int slt__time_parse_auto(const char *s, size_t len, int64_t *out, int32_t *frac_us);
/* "Jan".."Dec" (any case, 3 bytes read): 1..12, or 0. */
int slt__month_from_abbr(const char *s);
/* 0 when the civil fields are in range, else SLT_EPARSE. */
int slt__time_civil_check(int y, int mo, int d, int h, int mi, int s);
/* A non-negative decimal (with optional exponent) times 10^scale, truncated. */
int slt__decimal_scaled(const char *s, size_t len, int scale, int64_t *out);

#endif
