/*
 * .gz files that arrive in a glob (how `aws s3 sync` or a logrotate-only host leaves them):
 * each complete file is read once, in name order, with the agent's exactly-once checkpoint.
 *
 * Which files: every `*.gz` regular file that the input's paths or globs match, except the
 * rotated siblings of a plain file of the same input (access.log.2.gz next to access.log is
 * the tailer's: rotation and backfill). Complete: its gzip stream ends with a valid trailer,
 * or it has not changed (size, mtime) for `settle_ms` (then what decoded is counted and the
 * truncation is counted in errors and logged). An incomplete file is waited for (reading
 * stops there: name order), its lines read so far are never read again. A corrupt one is
 * counted in errors, logged, and passed.
 *
 * Positions (the same struct as the tailer's, flag SLT_POS_OBJECT, for the agent's state):
 * a mark naming the last file read completely (POS_MARK | POS_DONE; path "" when none yet)
 * and, while one is being read, the file with the decoded offset after its last delivered
 * line (POS_GZ). Restored from them, the files named after the mark are read, the current
 * one from its offset. At first start (restore == NULL) with read_from_beginning every file
 * is read, else only files that arrive later (names after the greatest existing now). A file
 * that arrives with a name before the mark is not read (name order; documented).
 *
 *   slt_arrive_new(loop, &opts, restore, nrestore, &a)   restore: this input's positions
 *   slt_arrive_pause / slt_arrive_resume                  backpressure, as slt_tail_pause
 *   slt_arrive_positions(a, out, max)                     as slt_tail_positions
 *   slt_arrive_close(a, on_closed, data)                  frees after the handles closed
 *
 * Bounds: one open file, one objread (its line buffer), a 64 KiB input buffer, 1 MiB read
 * per loop turn; one glob of every path per poll.
 */
#ifndef SLT_AGENT_ARRIVE_H
#define SLT_AGENT_ARRIVE_H

#include <stddef.h>
#include <stdint.h>

#include "slt/common.h" /* slt_closed_cb */
#include "tail.h"

struct uv_loop_s;

/* a position of an object input (arrive.c, s3.c), not of a tailed file */
#define SLT_POS_OBJECT 0x100u

struct slt_arrive_opts {
    const char *input; /* for log lines */
    const char *const *paths;
    size_t npaths;
    int read_from_beginning;
    size_t max_line;
    int64_t poll_ms;
    int64_t settle_ms;
    slt_tail_line_cb on_line; /* file is NULL */
    void *data;
};

struct slt_arrive_stats {
    const char *current; /* file being read, or NULL */
    uint64_t offset;     /* decoded offset in it */
    uint64_t files, lines, errors;
    const char *mark; /* last file read completely ("" none) */
};

struct slt_arrive;

/* 1 when some path could name a .gz file (a glob or a path ending in .gz). */
int slt_arrive_wanted(const char *const *paths, size_t npaths);
int slt_arrive_new(struct uv_loop_s *loop, const struct slt_arrive_opts *o,
                   const struct slt_tail_pos *restore, size_t nrestore, struct slt_arrive **out);
void slt_arrive_pause(struct slt_arrive *a);
void slt_arrive_resume(struct slt_arrive *a);
size_t slt_arrive_positions(struct slt_arrive *a, struct slt_tail_pos *out, size_t max);
void slt_arrive_stats(struct slt_arrive *a, struct slt_arrive_stats *st);
void slt_arrive_close(struct slt_arrive *a, slt_closed_cb on_closed, void *data);

#endif
