/*
 * A bounded set of event-time minutes, for "minutes covered". A bitmap of SLT_MINSET_BITS
 * minutes (about two years, 128 KiB, allocated on first use and only touched pages become
 * resident) centred on the first minute added. Minutes outside that range are not stored; they
 * are counted in `outside`, and the count is then a lower bound (reported as approximate).
 */
#ifndef SLT_MINSET_H
#define SLT_MINSET_H

#include <stdint.h>

#define SLT_MINSET_BITS (1u << 20)

struct slt_minset {
    uint64_t *bits;
    int64_t base;     /* minute of bit 0 */
    int64_t last;     /* last minute added: sorted logs skip the bitmap */
    uint64_t count;   /* distinct minutes stored */
    uint64_t outside; /* adds that fell outside the bitmap */
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
