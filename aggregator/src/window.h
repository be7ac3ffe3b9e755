/*
 * Bucket decomposition: a time range [from, to) in UTC Unix seconds, both multiples of 60,
 * split into the fewest minute, hour and day buckets that cover it exactly: whole days first,
 * then whole hours on either side of them, then minutes. Pure functions, no I/O.
 *
 * A window of exactly 28 days (the SLO window) needs at most 110 buckets (27 day, 23 hour and
 * 60 minute ones), 28 when it is day-aligned; any range shorter than 29 days at most 191 (27
 * day, 2 * 23 hour and 2 * 59 minute ones, tests/unit/test_window.c); in general
 * slt_window_max_buckets() bounds the count for a range length.
 */
#ifndef SLT_WINDOW_H
#define SLT_WINDOW_H

#include <stddef.h>
#include <stdint.h>

enum slt_gran {
    SLT_GRAN_MINUTE = 0,
    SLT_GRAN_HOUR = 1,
    SLT_GRAN_DAY = 2,
};

struct slt_bucket {
    int64_t start; /* UTC seconds, a multiple of the width */
    enum slt_gran gran;
};

/* Width in seconds of a bucket of gran: 60, 3600 or 86400. */
int64_t slt_gran_width(enum slt_gran gran);
/* "m", "h" or "d": the letter used in Redis keys. */
const char *slt_gran_letter(enum slt_gran gran);

/*
 * An upper bound on the number of buckets slt_window_decompose() produces for a range of
 * len seconds (len >= 0, a multiple of 60).
 */
size_t slt_window_max_buckets(int64_t len);

/*
 * Decompose [from, to) into buckets, in ascending time order, written to out (room for max).
 * from and to must be multiples of 60 with 0 <= from <= to; from == to gives no bucket.
 * Returns the number of buckets, SLT_EINVAL for a bad range or SLT_ELIMIT when more than max
 * buckets would be needed (out then holds the first max).
 */
long slt_window_decompose(int64_t from, int64_t to, struct slt_bucket *out, size_t max);

/* The number of buckets slt_window_decompose() would produce, or SLT_EINVAL. */
long slt_window_count(int64_t from, int64_t to);

#endif
