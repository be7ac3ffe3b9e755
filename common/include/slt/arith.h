/*
 * Checked and saturating integer arithmetic: the one place where int64/uint64 sums and
 * products that a peer can influence are computed (the store's row minutes and retention, the
 * API's sums of counters). Overflow is impossible by construction: every caller either gets
 * "does not fit" back or the nearest representable value. GCC and clang builtins.
 */
#ifndef SLT_ARITH_H
#define SLT_ARITH_H

#include <stdint.h>

/* a + b into *out; 0, or -1 (and *out untouched) when it does not fit. */
static inline int slt_add_i64(int64_t a, int64_t b, int64_t *out)
{
    int64_t r;

    if (__builtin_add_overflow(a, b, &r))
        return -1;
    *out = r;
    return 0;
}

static inline int slt_add_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    uint64_t r;

    if (__builtin_add_overflow(a, b, &r))
        return -1;
    *out = r;
    return 0;
}

/* a + b, clamped to [INT64_MIN, INT64_MAX]. */
static inline int64_t slt_add_i64_sat(int64_t a, int64_t b)
{
    int64_t r;

    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

#endif
