#include "minset.h"

#include "slt/common.h"

static void add_extra(struct slt_minset *s, int64_t minute)
{
    size_t i, h;

    if (!s->extra) {
        s->extra = slt_malloc(SLT_MINSET_SLOTS * sizeof(int64_t));
        if (!s->extra) {
            s->err = 1;
            s->outside++;
            return;
        }
        for (i = 0; i < SLT_MINSET_SLOTS; i++)
            s->extra[i] = INT64_MIN;
    }
    h = (size_t)(((uint64_t)minute * UINT64_C(0x9E3779B97F4A7C15)) >> 52); /* 12 bits */
    for (i = 0; i < SLT_MINSET_SLOTS; i++, h = (h + 1) & (SLT_MINSET_SLOTS - 1)) {
        if (s->extra[h] == minute)
            return;
        if (s->extra[h] == INT64_MIN)
            break;
    }
    if (s->nextra >= SLT_MINSET_EXTRA) {
        s->outside++;
        return;
    }
    s->extra[h] = minute;
    s->nextra++;
    s->count++;
}

void slt__minset_add_slow(struct slt_minset *s, int64_t minute)
{
    uint64_t off, m;

    if (!s->bits) {
        if (s->err) {
            s->outside++;
            return;
        }
        s->bits = slt_calloc(SLT_MINSET_BITS / 64, sizeof(uint64_t));
        if (!s->bits) {
            s->err = 1;
            s->outside++;
            return;
        }
        s->base = minute - SLT_MINSET_BITS / 2;
    }
    s->last = minute;
    off = (uint64_t)(minute - s->base);
    if (minute < s->base || off >= SLT_MINSET_BITS) {
        add_extra(s, minute);
        return;
    }
    m = UINT64_C(1) << (off & 63);
    if (!(s->bits[off >> 6] & m)) {
        s->bits[off >> 6] |= m;
        s->count++;
    }
}

void slt_minset_merge(struct slt_minset *dst, const struct slt_minset *src)
{
    size_t w;
    int b;

    dst->outside += src->outside;
    dst->err |= src->err;
    for (w = 0; src->extra && w < SLT_MINSET_SLOTS; w++)
        if (src->extra[w] != INT64_MIN)
            slt_minset_add(dst, src->extra[w]);
    if (!src->bits)
        return;
    for (w = 0; w < SLT_MINSET_BITS / 64; w++) {
        uint64_t v = src->bits[w];
        for (b = 0; v && b < 64; b++, v >>= 1)
            if (v & 1)
                slt_minset_add(dst, src->base + (int64_t)(w * 64) + b);
    }
}

void slt_minset_release(struct slt_minset *s)
{
    slt_free(s->bits);
    s->bits = NULL;
    slt_free(s->extra);
    s->extra = NULL;
}
