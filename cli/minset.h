/*
 * A bounded set of event-time minutes, for "minutes covered". A bitmap of SLT_MINSET_BITS
 * minutes (about two years, 128 KiB, allocated on first use; only touched pages become
 * resident) centred on the first minute added, plus a hash set of up to SLT_MINSET_EXTRA
 * minutes outside that range (32 KiB when used). Minutes beyond both are not stored; they are
 * counted in `outside`, and the count is then a lower bound (reported as approximate).
 */
#ifndef SLT_MINSET_H
#define SLT_MINSET_H

#include <stddef.h>
#include <stdint.h>

#define SLT_MINSET_BITS (1u << 20)
#define SLT_MINSET_EXTRA 3072 /* in a table of 4096 slots */
#define SLT_MINSET_SLOTS 4096

struct slt_minset {
    uint64_t *bits;
    int64_t base;   /* minute of bit 0 */
    int64_t last;   /* last minute added: sorted logs skip the bitmap */
    uint64_t count; /* distinct minutes stored */
    int64_t *extra; /* open addressing, INT64_MIN = empty */
    size_t nextra;
    uint64_t outside; /* adds that could not be stored */
    int err;          /* the bitmap could not be allocated */
};

static inline int64_t slt_minute_of(int64_t t)
{
    return t / 60 - (t % 60 < 0);
}

void slt__minset_add_slow(struct slt_minset *s, int64_t minute);

static inline void slt_minset_add(struct slt_minset *s, int64_t minute)
{
    if (s->bits && minute == s->last)
        return;
    slt__minset_add_slow(s, minute);
}

/* Adds every minute of src to dst. */
void slt_minset_merge(struct slt_minset *dst, const struct slt_minset *src);
void slt_minset_release(struct slt_minset *s);
/* 1 when count is a lower bound. */
static inline int slt_minset_approx(const struct slt_minset *s)
{
    return s->outside > 0 || s->err;
}

#endif
