/* Per-(series, minute) counter deltas: see count.h. */
#include "count.h"

#include <stdlib.h>
#include <string.h>

#define COUNT_MIN_CAP 64

static size_t cell_hash(uint32_t series, int64_t minute)
{
    uint64_t h =
        (uint64_t)(minute / 60) * 0x9E3779B97F4A7C15ull ^ (uint64_t)series * 0xC2B2AE3D27D4EB4Full;

    h ^= h >> 29;
    return (size_t)h;
}

static void cache_reset(struct slt_count *c)
{
    size_t i;

    for (i = 0; i < c->nseries; i++)
        c->last_minute[i] = INT64_MIN;
}

int slt_count_init(struct slt_count *c, size_t nseries, size_t soft_max)
{
    memset(c, 0, sizeof(*c));
    c->soft_max = soft_max ? soft_max : 1;
    c->cap = COUNT_MIN_CAP;
    c->cells = slt_calloc(c->cap, sizeof(*c->cells));
    if (!c->cells)
        return SLT_ENOMEM;
    if (slt_count_set_series(c, nseries) < 0) {
        slt_count_release(c);
        return SLT_ENOMEM;
    }
    return 0;
}

void slt_count_release(struct slt_count *c)
{
    slt_free(c->cells);
    slt_free(c->last_minute);
    slt_free(c->last_slot);
    memset(c, 0, sizeof(*c));
}

int slt_count_set_series(struct slt_count *c, size_t nseries)
{
    int64_t *lm;
    size_t *ls;

    /* cells of series >= nseries would be orphaned */
    if (c->len && nseries < c->nseries)
        return SLT_EINVAL;
    lm = slt_malloc((nseries ? nseries : 1) * sizeof(*lm));
    ls = slt_malloc((nseries ? nseries : 1) * sizeof(*ls));
    if (!lm || !ls) {
        slt_free(lm);
        slt_free(ls);
        return SLT_ENOMEM;
    }
    slt_free(c->last_minute);
    slt_free(c->last_slot);
    c->last_minute = lm;
    c->last_slot = ls;
    c->nseries = nseries;
    cache_reset(c);
    return 0;
}

static int grow(struct slt_count *c)
{
    size_t ncap = c->cap * 2, i, j;
    struct slt_count_cell *n = slt_calloc(ncap, sizeof(*n));

    if (!n)
        return SLT_ENOMEM;
    for (i = 0; i < c->cap; i++) {
        if (!c->cells[i].used)
            continue;
        j = cell_hash(c->cells[i].series, c->cells[i].minute) & (ncap - 1);
        while (n[j].used)
            j = (j + 1) & (ncap - 1);
        n[j] = c->cells[i];
    }
    slt_free(c->cells);
    c->cells = n;
    c->cap = ncap;
    cache_reset(c);
    return 0;
}

int slt__count_add_slow(struct slt_count *c, uint32_t series, int64_t minute, unsigned idx,
                        uint64_t n)
{
    struct slt_count_cell *cell;
    size_t i;

    if (series >= c->nseries || idx > 2)
        return SLT_EINVAL;
    if (c->last_minute[series] == minute) {
        c->cells[c->last_slot[series]].v[idx] += n;
        return c->len >= c->soft_max;
    }
    /* keep the load factor at or under 1/2 */
    if ((c->len + 1) * 2 > c->cap && grow(c) < 0)
        return SLT_ENOMEM;
    i = cell_hash(series, minute) & (c->cap - 1);
    for (;;) {
        cell = &c->cells[i];
        if (!cell->used) {
            cell->used = 1;
            cell->series = series;
            cell->minute = minute;
            c->len++;
            break;
        }
        if (cell->series == series && cell->minute == minute)
            break;
        i = (i + 1) & (c->cap - 1);
    }
    cell->v[idx] += n;
    c->last_minute[series] = minute;
    c->last_slot[series] = i;
    return c->len >= c->soft_max;
}

static int row_cmp(const void *a, const void *b)
{
    const struct slt_count_row *x = a, *y = b;

    return (x->minute > y->minute) - (x->minute < y->minute);
}

int slt_count_take(struct slt_count *c, struct slt_count_snapshot *s)
{
    size_t i, k;
    size_t *fill;

    memset(s, 0, sizeof(*s));
    s->nseries = c->nseries;
    s->nrows = c->len;
    s->rows = slt_calloc(c->len ? c->len : 1, sizeof(*s->rows));
    s->off = slt_calloc(c->nseries + 1, sizeof(*s->off));
    fill = slt_calloc(c->nseries + 1, sizeof(*fill));
    if (!s->rows || !s->off || !fill) {
        slt_free(fill);
        slt_count_snapshot_release(s);
        return SLT_ENOMEM;
    }
    for (i = 0; i < c->cap; i++)
        if (c->cells[i].used)
            s->off[c->cells[i].series + 1]++;
    for (k = 0; k < c->nseries; k++)
        s->off[k + 1] += s->off[k];
    for (i = 0; i < c->cap; i++) {
        struct slt_count_cell *cell = &c->cells[i];
        struct slt_count_row *r;

        if (!cell->used)
            continue;
        r = &s->rows[s->off[cell->series] + fill[cell->series]++];
        r->minute = cell->minute;
        memcpy(r->v, cell->v, sizeof(r->v));
    }
    slt_free(fill);
    for (k = 0; k < c->nseries; k++)
        if (s->off[k + 1] - s->off[k] > 1)
            qsort(s->rows + s->off[k], s->off[k + 1] - s->off[k], sizeof(*s->rows), row_cmp);
    /* shrink back when a backfill made the table large */
    if (c->cap > 4 * COUNT_MIN_CAP) {
        struct slt_count_cell *n = slt_calloc(COUNT_MIN_CAP, sizeof(*n));

        if (n) {
            slt_free(c->cells);
            c->cells = n;
            c->cap = COUNT_MIN_CAP;
        } else {
            memset(c->cells, 0, c->cap * sizeof(*c->cells));
        }
    } else {
        memset(c->cells, 0, c->cap * sizeof(*c->cells));
    }
    c->len = 0;
    cache_reset(c);
    return 0;
}

void slt_count_snapshot_release(struct slt_count_snapshot *s)
{
    slt_free(s->rows);
    slt_free(s->off);
    memset(s, 0, sizeof(*s));
}
