/*
 * Per-(series, minute) counter deltas between two batches.
 *
 * A series is an SLI (values good, bad, excluded) or an input (lines, unparsed, oversize); the
 * agent numbers them 0..nseries-1. Cells are kept dense, in the order they were created, with
 * an open-addressing index (linear probing, load at most 1/2) of their positions; both grow by
 * doubling. Taking a batch walks the dense cells once (grouped by series, a stable counting
 * sort) and sorts a series' rows by minute only when they are out of order (an insertion sort
 * for nearly sorted rows, as a backlog read in time order gives, else qsort), so a backlog
 * costs no sort. The capacity is kept across batches (no regrowth per batch) and given back
 * after 16 batches in a row that used less than 1/8 of it.
 *
 * Its size is bounded by the caller: once it holds soft_max (series, minute) cells
 * slt_count_add() returns 1, and the agent closes a batch early (which empties the table)
 * instead of dropping anything. Memory is therefore bounded by soft_max cells (plus the
 * cells of the one line being counted), never by log volume.
 *
 * Calling sequence:
 *   slt_count_init(&c, nseries, soft_max)
 *   per line: slt_count_add(&c, series, minute, value_index, n)   (1: close a batch soon)
 *   per batch: slt_count_take(&c, &snap)   moves every cell out, sorted by series then minute
 *              ... snap.rows[snap.off[s] .. snap.off[s+1]) are the rows of series s ...
 *              slt_count_snapshot_release(&snap)
 *   slt_count_release(&c)
 */
#ifndef SLT_COUNT_H
#define SLT_COUNT_H

#include <stddef.h>
#include <stdint.h>

#include "slt/proto.h"

struct slt_count_cell {
    int64_t minute;
    uint32_t series;
    uint32_t used;
    uint64_t v[3];
};

struct slt_count {
    struct slt_count_cell *cells; /* dense, in creation order */
    size_t ccap;                  /* cells allocated */
    uint32_t *index;              /* cap slots: 0 empty, else cell position + 1 */
    size_t cap;                   /* index slots, a power of two */
    size_t len;                   /* cells in use */
    size_t nseries;
    size_t soft_max;
    unsigned small_takes; /* batches in a row that used under 1/8 of the capacity */
    /* one-entry cache per series: most lines of a batch share a minute */
    int64_t *last_minute;
    size_t *last_slot; /* position in cells */
};

struct slt_count_snapshot {
    struct slt_count_row *rows; /* every row, grouped by series, each group sorted by minute */
    size_t *off;                /* nseries + 1 offsets into rows */
    size_t nseries;
    size_t nrows;
};

/* 0 or SLT_ENOMEM. soft_max >= 1. */
int slt_count_init(struct slt_count *c, size_t nseries, size_t soft_max);
void slt_count_release(struct slt_count *c);

/*
 * Adds n to value idx (0..2) of (series, minute). Returns 0; 1 when the table now holds
 * soft_max cells or more (close a batch soon; the count is kept either way); SLT_ENOMEM when
 * the table could not grow (nothing was added). minute must be a multiple of 60.
 */
int slt__count_add_slow(struct slt_count *c, uint32_t series, int64_t minute, unsigned idx,
                        uint64_t n);
static inline int slt_count_add(struct slt_count *c, uint32_t series, int64_t minute, unsigned idx,
                                uint64_t n)
{
    /* the hot path: the same minute as this series' last line */
    if (series < c->nseries && idx <= 2 && c->last_minute[series] == minute) {
        c->cells[c->last_slot[series]].v[idx] += n;
        return c->len >= c->soft_max;
    }
    return slt__count_add_slow(c, series, minute, idx, n);
}

/* Cells in use. */
static inline size_t slt_count_len(const struct slt_count *c)
{
    return c->len;
}

/* Moves every cell into *s (empty table afterwards). 0 or SLT_ENOMEM (table untouched). */
int slt_count_take(struct slt_count *c, struct slt_count_snapshot *s);
void slt_count_snapshot_release(struct slt_count_snapshot *s);

/* Changes the number of series: grows any time, shrinks only an empty table. 0, SLT_EINVAL or
 * SLT_ENOMEM. */
int slt_count_set_series(struct slt_count *c, size_t nseries);

/* The minute (UTC seconds, a multiple of 60) holding t, also for negative t. */
static inline int64_t slt_minute_of(int64_t t)
{
    int64_t m = t / 60;

    if (t % 60 < 0)
        m--;
    return m * 60;
}

#endif
