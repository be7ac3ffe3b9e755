/*
 * Tailing log files through rotation. No parsing here: complete lines go to a callback.
 *
 * Files are named by paths or globs. A file's identity is device + inode + a fingerprint of
 * its first bytes (up to SLT_TAIL_FP_BYTES), so inode reuse and copies are not confused.
 * Rotation by rename + create: the old file is drained to EOF, then the new one is followed.
 * copytruncate / truncation (size < offset): restart from 0 and count a truncation. A deleted
 * file is drained of what is still readable, then closed. inotify through uv_fs_event where it
 * works plus a uv_timer stat() poll fallback.
 *
 * Calling sequence:
 *   slt_tail_new(loop, &opts, restore, nrestore, &t)    restore: positions from a checkpoint
 *   ... on_line(data, file, line, len, flags, end_offset) for every complete line, in order
 *   slt_tail_pause(t) / slt_tail_resume(t)               backpressure (no callbacks while paused)
 *   slt_tail_positions(t, ...)                           snapshot for a checkpoint or a batch:
 *                                                        offsets just after the last line delivered
 *   slt_tail_close(t, on_closed, data)                   closes every handle; frees in on_closed
 *
 * Guarantee: every complete line ('\n'-terminated) is delivered exactly once relative to the
 * restore positions; a partial last line is held back until its '\n' arrives. A line longer
 * than max_line is delivered once with SLT_TAIL_OVERSIZE and len truncated to max_line.
 */
#ifndef SLT_TAIL_H
#define SLT_TAIL_H

#include <stddef.h>
#include <stdint.h>

struct uv_loop_s;

#define SLT_TAIL_FP_BYTES 256
#define SLT_TAIL_PATH_MAX 4096

/* The position of one file, as checkpointed. */
struct slt_tail_pos {
    uint64_t dev, ino;
    uint64_t fingerprint; /* hash of the first fp_len bytes */
    uint32_t fp_len;      /* bytes hashed so far (grows until SLT_TAIL_FP_BYTES) */
    uint64_t offset;      /* next byte to read (uncompressed offset for .gz) */
    uint32_t flags;       /* SLT_TAIL_POS_* */
    char path[SLT_TAIL_PATH_MAX];
};
#define SLT_TAIL_POS_GZ 1u   /* a gzip file read for backfill */
#define SLT_TAIL_POS_DONE 2u /* fully read and no longer written (rotated away or backfilled) */
#define SLT_TAIL_POS_SKIP                                                                          \
    4u /* offset is inside an oversize line already delivered: on                                  \
          restore, discard up to and including the next '\n' */

/* Per-file figures for status output. */
struct slt_tail_file_stats {
    const char *path;
    uint64_t offset, size;
    uint64_t lines, oversize, truncations;
    int64_t last_line_ms; /* wall clock of the last delivered line, 0 if none */
    uint64_t errors;      /* read errors, corrupt .gz */
};

struct slt_tail_file; /* one open file */

#define SLT_TAIL_OVERSIZE 1u

typedef void (*slt_tail_line_cb)(void *data, struct slt_tail_file *file, const char *line,
                                 size_t len, unsigned flags, uint64_t end_offset);

struct slt_tail_opts {
    const char *const *paths; /* paths or globs */
    size_t npaths;
    int read_from_beginning; /* with no restore position: read existing files (and backfill
                                rotated siblings, plain and .gz, oldest first) */
    size_t max_line;
    int64_t poll_ms; /* stat() fallback interval */
    slt_tail_line_cb on_line;
    void *data;
    int64_t rotate_wait_ms; /* keep a rotated-away file open this long after its last growth,
                               for writers that reopen late (nginx USR1); 0: 5000 */
};

struct slt_tail;

int slt_tail_new(struct uv_loop_s *loop, const struct slt_tail_opts *opts,
                 const struct slt_tail_pos *restore, size_t nrestore, struct slt_tail **out);
void slt_tail_pause(struct slt_tail *t);
void slt_tail_resume(struct slt_tail *t);
/* Writes up to max positions; returns how many there are (may exceed max). */
size_t slt_tail_positions(struct slt_tail *t, struct slt_tail_pos *out, size_t max);
/* Per-file stats; same counting convention. Pointers valid until the next loop iteration. */
size_t slt_tail_stats(struct slt_tail *t, struct slt_tail_file_stats *out, size_t max);
/* Totals for metrics. */
uint64_t slt_tail_truncations(struct slt_tail *t);
uint64_t slt_tail_errors(struct slt_tail *t);
/* The path a file was last seen at (valid during on_line). */
const char *slt_tail_file_path(const struct slt_tail_file *f);
void slt_tail_close(struct slt_tail *t, void (*on_closed)(void *data), void *data);

#endif
