/*
 * Tailing log files through rotation. No parsing here: complete lines go to a callback.
 *
 * Files are named by paths or globs. A file's identity is device + inode + a fingerprint of
 * its first bytes (FNV-1a 64 of up to SLT_TAIL_FP_BYTES; a shorter file's fingerprint grows
 * with it and is compared on the common length), so inode reuse and copies are not confused.
 * stat()/open() follow symlinks: the identity is the target's, and rotated siblings are
 * looked for next to the target (nginx setups that symlink access.log).
 *
 * Calling sequence:
 *   slt_tail_new(loop, &opts, restore, nrestore, &t)    restore: positions from a checkpoint
 *   ... on_line(data, file, line, len, flags, end_offset) for every complete line, in order
 *   slt_tail_pause(t) / slt_tail_resume(t)               backpressure (no callbacks while paused;
 *                                                        may be called from inside on_line: no
 *                                                        further line is delivered after it)
 *   slt_tail_positions(t, ...)                           snapshot for a checkpoint or a batch
 *   slt_tail_close(t, on_closed, data)                   closes every handle; frees in on_closed
 *
 * What positions guarantee (the exactly-once contract with the agent's checkpoint):
 *   - One entry per file followed, including rotated files still being drained, backfill files
 *     not read yet (offset 0) and a .gz being read (offset in decoded bytes, POS_GZ); then one
 *     POS_MARK entry per path naming its newest rotated sibling (or none). Store them all. A
 *     plain configured path always has its mark, so positions are never empty for it.
 *   - offset is just after the last '\n' delivered (inside on_line: including the line being
 *     delivered). A partial line held back is not included: it is read again on restore.
 *     While the rest of an oversize line is skipped, offset is the skip point and POS_SKIP is
 *     set, so a restore neither delivers that line again nor its tail as a line.
 *   - Handing the same positions back to slt_tail_new() delivers exactly the lines after them:
 *     each file is found among the configured paths and their rotated siblings (names starting
 *     with the base name then '.' or '-', in the directory of the path or of its symlink
 *     target) by (dev, ino, fingerprint); a file renamed while down (access.log ->
 *     access.log.1) is drained from its offset before the new access.log is read from 0; a
 *     file compressed while down (access.log.1 -> .1.gz) is found by the fingerprint of its
 *     decoded first bytes and skipped to its offset; a file copytruncated while down is read
 *     from its copy (a sibling with the same first bytes, at least offset long) and then from
 *     0; a same-inode file with other first bytes (reused inode, truncated and rewritten) is
 *     read from 0 and counted as a truncation. Siblings newer than the POS_MARK (or than a file
 *     that was at the path and is rotated now) that no position describes were created while
 *     the agent was down and are read from 0 (plain or .gz), unless they are a copy of a
 *     restored file or of the file now at the path (same first bytes).
 *   - Files fully read are dropped from positions (rotated and deleted ones after
 *     rotate_wait); until then they may appear once with POS_DONE, which a restore skips.
 *
 * Where reading starts, for a file with no restored position:
 *   - restore == NULL (first start) with read_from_beginning: every matching file from 0,
 *     after its rotated siblings (plain and .gz), oldest first (by N of name.N[.gz], else by
 *     mtime). This backfill happens only when restore == NULL.
 *   - restore != NULL (a restart; nrestore may be 0): no backfill. A file at a path known at
 *     the checkpoint (a position or a mark of it) is new since and is read from 0; any other
 *     file from 0 with read_from_beginning, else from its end.
 *   - read_from_beginning == 0 at first start: from its current end; an unterminated last
 *     line there is skipped up to its '\n' (it was not ours from the start).
 *   - Files that appear after slt_tail_new() (new name, or a new file at a path): from 0.
 *
 * A line longer than max_line is delivered once with SLT_TAIL_OVERSIZE and len == max_line; the
 * rest up to its '\n' is skipped without buffering.
 *
 * Errors: slt_tail_new() fails only for bad options (SLT_EINVAL) or memory (SLT_ENOMEM); missing
 * files and directories are not errors (they are picked up when they appear). Read errors and
 * corrupt .gz files are counted (slt_tail_errors, per-file errors) and the file is moved past.
 *
 * How rotation, copytruncate and deletion are followed, the bounds (buffers, files, siblings,
 * watches) and the limits (including rotations while the tailer looks): docs/AGENT.md,
 * "Tailing".
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
#define SLT_TAIL_POS_GZ 1u   /* a gzip file; offset counts decoded bytes */
#define SLT_TAIL_POS_DONE 2u /* fully read and no longer written (rotated away or backfilled) */
/* offset is inside an oversize line already delivered: on restore, discard through its '\n' */
#define SLT_TAIL_POS_SKIP 4u
/*
 * Not a file to read: the newest rotated sibling of a path when the positions were taken
 * (dev = ino = 0: there was none). On restore, siblings newer than it that no position
 * describes came while the agent was down and are read from 0. Always with POS_DONE.
 */
#define SLT_TAIL_POS_MARK 8u

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

/*
 * One line, without its '\n' ('\r' is kept), valid only during the call. end_offset is the
 * file offset just after it (decoded offset for .gz).
 */
typedef void (*slt_tail_line_cb)(void *data, struct slt_tail_file *file, const char *line,
                                 size_t len, unsigned flags, uint64_t end_offset);

struct slt_tail_opts {
    const char *const *paths; /* paths or globs */
    size_t npaths;
    int read_from_beginning; /* with no restore position: read existing files (and backfill
                                rotated siblings, plain and .gz, oldest first) */
    size_t max_line;         /* longest line delivered whole; 0: 65536 */
    int64_t poll_ms;         /* stat() fallback interval; 0: 1000 */
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
