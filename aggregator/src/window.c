/* Bucket decomposition of a time range; see window.h. */
#include "window.h"

#include "slt/common.h"

static const int64_t widths[] = {60, 3600, 86400};

int64_t slt_gran_width(enum slt_gran gran)
{
    return widths[gran];
}

const char *slt_gran_letter(enum slt_gran gran)
{
    static const char *letters[] = {"m", "h", "d"};
    return letters[gran];
}

size_t slt_window_max_buckets(int64_t len)
{
    if (len <= 0)
        return 0;
    /* whole days + up to 23 hours and 59 minutes on each side (or all minutes/hours) */
    return (size_t)(len / 86400) + 2 * 23 + 2 * 59 + 1;
}

struct emitter {
    struct slt_bucket *out;
    size_t max;
    size_t n;
    int overflow;
};

static void emit(struct emitter *e, int64_t start, enum slt_gran gran)
{
    if (!e->out) {
        /* counting only */
    } else if (e->n < e->max) {
        e->out[e->n].start = start;
        e->out[e->n].gran = gran;
    } else {
        e->overflow = 1;
    }
    e->n++;
}

/* Covers [from, to) with buckets of gran and finer; from, to are multiples of 60. */
static void decompose(struct emitter *e, int64_t from, int64_t to, int gran)
{
    int64_t w = widths[gran], a, b, t;

    if (from >= to)
        return;
    if (gran == SLT_GRAN_MINUTE) {
        for (t = from; t < to; t += w)
            emit(e, t, SLT_GRAN_MINUTE);
        return;
    }
    a = (from + w - 1) / w * w; /* first boundary at or after from */
    b = to / w * w;             /* last boundary at or before to */
    if (a >= b) {
        decompose(e, from, to, gran - 1);
        return;
    }
    decompose(e, from, a, gran - 1);
    for (t = a; t < b; t += w)
        emit(e, t, (enum slt_gran)gran);
    decompose(e, b, to, gran - 1);
}

long slt_window_decompose(int64_t from, int64_t to, struct slt_bucket *out, size_t max)
{
    struct emitter e = {out, max, 0, 0};

    if (from < 0 || to < from || from % 60 || to % 60)
        return SLT_EINVAL;
    /* refuse ranges whose day count alone would not fit, before walking them */
    if ((uint64_t)((to - from) / 86400) > max)
        return SLT_ELIMIT;
    decompose(&e, from, to, SLT_GRAN_DAY);
    if (e.overflow)
        return SLT_ELIMIT;
    return (long)e.n;
}

long slt_window_count(int64_t from, int64_t to)
{
    struct emitter e = {NULL, 0, 0, 0};

    if (from < 0 || to < from || from % 60 || to % 60)
        return SLT_EINVAL;
    decompose(&e, from, to, SLT_GRAN_DAY);
    return (long)e.n;
}
