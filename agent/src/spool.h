/*
 * The on-disk spool of closed batches.
 *
 * state_dir/spool/ holds segment files NNNNNNNNNNNNNNNNNNNN.seg, appended to in order. A record:
 *   u32 magic "SLR1" | u32 body length | u32 crc32(body) |
 *   body: u64 epoch | u64 seq | i64 created_ms | u32 frame length | frame (the exact bytes
 *         sent to the aggregator) | u32 state length | state (slt_state_encode(): positions
 *         just after the last line counted into this batch, since of every series, ...)
 * slt_spool_append() writes one record and fdatasyncs before returning, and the agent sends a
 * batch only after that, so a record that is torn or fails its crc was never sent: open()
 * truncates it away (and logs). Appends go to a new segment after each open() and when the
 * active segment reaches seg_max bytes. A new segment's directory entry is fsynced.
 *
 * Records are acknowledged in memory (slt_spool_set_acked). slt_spool_prune() deletes whole
 * segments, oldest first, whose records are all acknowledged (or given up) and either older
 * than the retention window or needed to get back under max_bytes. Unacknowledged records are
 * never deleted. The caller writes its checkpoint before pruning, since pruning may delete the
 * newest record; when it cannot (a full disk), it prunes with SLT_SPOOL_PRUNE_KEEP_LAST.
 *
 * The in-memory index costs ~64 bytes per spooled record.
 */
#ifndef SLT_SPOOL_H
#define SLT_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "slt/common.h"

struct slt_spool_rec {
    uint64_t epoch, seq;
    int64_t created_ms;
    uint64_t seg;     /* segment id */
    uint64_t off;     /* offset of the record in its segment */
    uint32_t rec_len; /* bytes on disk */
    uint32_t frame_len;
    uint32_t state_len;
    uint32_t acked; /* 1: acknowledged or given up */
};

struct slt_spool_seg {
    uint64_t id;
    uint64_t bytes;
};

struct slt_spool {
    char *dir;
    uint64_t max_bytes, seg_max;
    int fd;             /* active segment, -1 when none */
    uint64_t active_id; /* valid when fd >= 0 */
    uint64_t next_id;
    struct slt_spool_seg *segs;
    size_t nsegs, segcap;
    struct slt_spool_rec *recs;
    size_t head, nrecs, reccap; /* live records are recs[head .. nrecs) */
    uint64_t bytes;             /* on disk */
    uint64_t unacked, unacked_bytes;
    uint64_t repaired_bytes; /* torn or corrupt bytes truncated away by open() */
    uint64_t pruned_early;   /* acked records deleted before retention to stay under max */
    int rfd;                 /* cached fd for reads */
    uint64_t rfd_id;
};

/*
 * Opens (creating) the spool in dir and indexes every valid record; torn or corrupt tails are
 * truncated. seg_max 0 = max_bytes / 8 within 4 KiB .. 4 MiB. Returns 0 or -errno/SLT_ENOMEM.
 */
int slt_spool_open(const char *dir, uint64_t max_bytes, uint64_t seg_max, struct slt_spool **out);
void slt_spool_free(struct slt_spool *sp);

/*
 * Appends one record and fdatasyncs it. The byte bound is not enforced here (counted lines
 * must never be dropped): the caller stops reading when slt_spool_full(). On failure the
 * segment is cut back to its previous size and -errno is returned.
 */
int slt_spool_append(struct slt_spool *sp, uint64_t epoch, uint64_t seq, int64_t created_ms,
                     const void *frame, size_t frame_len, const void *state, size_t state_len);

static inline size_t slt_spool_count(const struct slt_spool *sp)
{
    return sp->nrecs - sp->head;
}
/* The i-th live record, oldest first. */
static inline struct slt_spool_rec *slt_spool_at(struct slt_spool *sp, size_t i)
{
    return &sp->recs[sp->head + i];
}
static inline int slt_spool_full(const struct slt_spool *sp)
{
    return sp->bytes >= sp->max_bytes;
}

/* Index of record (epoch, seq), or -1. */
long slt_spool_find(const struct slt_spool *sp, uint64_t epoch, uint64_t seq);
/* Marks the i-th record acknowledged (acked=1) or not (acked=0). */
void slt_spool_set_acked(struct slt_spool *sp, size_t i, int acked);

/* Reads the frame / the state of the i-th record into out (appended). 0, -errno, SLT_ECORRUPT. */
int slt_spool_read_frame(struct slt_spool *sp, size_t i, struct slt_buf *out);
int slt_spool_read_state(struct slt_spool *sp, size_t i, struct slt_buf *out);

/* Pruning flags. */
#define SLT_SPOOL_PRUNE_EARLY 1u     /* acknowledged records go now, retention or not (disk full) */
#define SLT_SPOOL_PRUNE_KEEP_LAST 2u /* the segment of the newest record stays: it is the state */

/* How many segments slt_spool_prune() would delete now. */
size_t slt_spool_prunable(const struct slt_spool *sp, int64_t now_ms, int64_t retention_ms,
                          unsigned flags);
/* Deletes them; returns how many records went. */
size_t slt_spool_prune(struct slt_spool *sp, int64_t now_ms, int64_t retention_ms, unsigned flags);

#endif
