/* Per-(series, minute) counter deltas: see count.h. */
#include "count.h"

#include <stdlib.h>
#include <string.h>

#define COUNT_MIN_CAP 64      /* index slots at least (cells: half of it) */
#define COUNT_SHRINK_AFTER 16 /* small batches in a row before the capacity is given back */

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

/* (Re)allocates an empty table of cap index slots and cap / 2 cells. */
static int alloc_table(struct slt_count *c, size_t cap)
{
    uint32_t *ix = slt_calloc(cap, sizeof(*ix));
    struct slt_count_cell *cells = slt_malloc(cap / 2 * sizeof(*cells));

    if (!ix || !cells) {
        slt_free(ix);
        slt_free(cells);
        return SLT_ENOMEM;
    }
    slt_free(c->index);
    slt_free(c->cells);
    c->index = ix;
    c->cells = cells;
    c->cap = cap;
    c->ccap = cap / 2;
    c->len = 0;
    return 0;
}

int slt_count_init(struct slt_count *c, size_t nseries, size_t soft_max)
{
    memset(c, 0, sizeof(*c));
    c->soft_max = soft_max ? soft_max : 1;
    if (alloc_table(c, COUNT_MIN_CAP) < 0)
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
    slt_free(c->index);
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

/* Doubles the index and the cells; cell positions (and so the cache) stay valid. */
static int grow(struct slt_count *c)
{
    size_t ncap = c->cap * 2, i, j;
    uint32_t *ix;
    struct slt_count_cell *cells;

    if (ncap / 2 > UINT32_MAX - 1)
        return SLT_ENOMEM;
    ix = slt_calloc(ncap, sizeof(*ix));
    if (!ix)
        return SLT_ENOMEM;
    cells = slt_realloc(c->cells, ncap / 2 * sizeof(*cells));
    if (!cells) {
        slt_free(ix);
        return SLT_ENOMEM;
    }
    c->cells = cells;
    c->ccap = ncap / 2;
    for (i = 0; i < c->len; i++) {
        j = cell_hash(cells[i].series, cells[i].minute) & (ncap - 1);
        while (ix[j])
            j = (j + 1) & (ncap - 1);
        ix[j] = (uint32_t)(i + 1);
    }
    slt_free(c->index);
    c->index = ix;
    c->cap = ncap;
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
    /* keep the index's load factor at or under 1/2 (and so a free cell) */
    if ((c->len + 1) * 2 > c->cap && grow(c) < 0)
        return SLT_ENOMEM;
    i = cell_hash(series, minute) & (c->cap - 1);
    for (;;) {
        uint32_t k = c->index[i];

        if (!k) {
            cell = &c->cells[c->len];
            memset(cell, 0, sizeof(*cell));
            cell->used = 1;
            cell->series = series;
            cell->minute = minute;
            c->index[i] = (uint32_t)++c->len;
            break;
        }
        cell = &c->cells[k - 1];
        if (cell->series == series && cell->minute == minute)
            break;
        i = (i + 1) & (c->cap - 1);
    }
    cell->v[idx] += n;
    c->last_minute[series] = minute;
    c->last_slot[series] = (size_t)(cell - c->cells);
    return c->len >= c->soft_max;
}

static int row_cmp(const void *a, const void *b)
{
    const struct slt_count_row *x = a, *y = b;

    return (x->minute > y->minute) - (x->minute < y->minute);
}

/*
 * Sorts rows by minute. Rows are usually sorted already or nearly (a backlog is read in time
 * order; an unparsed line counts in the minute it was read): insertion sort with a budget of
 * moves, qsort when the budget runs out.
 */
static void sort_rows(struct slt_count_row *r, size_t n)
{
    size_t i, budget = 8 * n + 64;

    for (i = 1; i < n; i++) {
        struct slt_count_row x;
        size_t j;

        if (r[i - 1].minute <= r[i].minute)
            continue;
        x = r[i];
        for (j = i; j > 0 && r[j - 1].minute > x.minute; j--) {
            if (!budget--) {
                r[j] = x;
                qsort(r, n, sizeof(*r), row_cmp);
                return;
            }
            r[j] = r[j - 1];
        }
        r[j] = x;
    }
}

int slt_count_take(struct slt_count *c, struct slt_count_snapshot *s)
{
    size_t i, k;
    size_t *fill;

    memset(s, 0, sizeof(*s));
    s->nseries = c->nseries;
    s->nrows = c->len;
    s->rows = slt_malloc((c->len ? c->len : 1) * sizeof(*s->rows));
    s->off = slt_calloc(c->nseries + 1, sizeof(*s->off));
    fill = slt_calloc(c->nseries + 1, sizeof(*fill));
    if (!s->rows || !s->off || !fill) {
        slt_free(fill);
        slt_count_snapshot_release(s);
        return SLT_ENOMEM;
    }
    /* group by series in creation order (stable), so a backlog's rows come out sorted */
    for (i = 0; i < c->len; i++)
        s->off[c->cells[i].series + 1]++;
    for (k = 0; k < c->nseries; k++)
        s->off[k + 1] += s->off[k];
    for (i = 0; i < c->len; i++) {
        const struct slt_count_cell *cell = &c->cells[i];
        struct slt_count_row *r = &s->rows[s->off[cell->series] + fill[cell->series]++];

        r->minute = cell->minute;
        memcpy(r->v, cell->v, sizeof(r->v));
    }
    slt_free(fill);
    for (k = 0; k < c->nseries; k++)
        if (s->off[k + 1] - s->off[k] > 1)
            sort_rows(s->rows + s->off[k], s->off[k + 1] - s->off[k]);
    /* keep the capacity for the next batch; give it back after many small ones */
    if (c->cap > COUNT_MIN_CAP && c->len * 8 < c->ccap)
        c->small_takes++;
    else
        c->small_takes = 0;
    if (c->small_takes >= COUNT_SHRINK_AFTER && alloc_table(c, COUNT_MIN_CAP) == 0)
        c->small_takes = 0;
    else
        memset(c->index, 0, c->cap * sizeof(*c->index));
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
