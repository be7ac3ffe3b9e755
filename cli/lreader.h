/*
 * Reads a plain or gzip file line by line through one fixed buffer. zlib's gzread() reads both
 * transparently. Lines are slices into the buffer (valid until the next call): no per-line
 * allocation, and memory stays at the buffer size whatever the file or line length.
 *
 *   slt_lreader_open(&r, path, max_line)       path "-" reads standard input
 *   while ((rc = slt_lreader_next(&r, &line)) > 0)
 *       rc == SLT_LR_LINE: line is one record without its '\n'
 *       rc == SLT_LR_OVERSIZE: a record longer than max_line, skipped to its '\n'; no text
 *   rc == 0 at the end, < 0 on a read error
 *   slt_lreader_close(&r)
 *
 * A last record without a final '\n' is still a line. A gzip file cut short reads up to the
 * damage, then ends with r.truncated set. r.lineno is the 1-based number of the
 * record just returned.
 */
#ifndef SLT_LREADER_H
#define SLT_LREADER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "slt/common.h"

#define SLT_LR_LINE 1
#define SLT_LR_OVERSIZE 2

/* The buffer is max_line + this, and at least SLT_LR_MIN_BUF. */
#define SLT_LR_SLACK (64 * 1024)
#define SLT_LR_MIN_BUF (1024 * 1024)

struct slt_lreader {
    void *gz; /* gzFile */
    char *buf;
    size_t cap, pos, end;
    size_t max_line;
    int eof;
    int skipping; /* inside an oversize record, looking for its '\n' */
    uint64_t lineno;
    uint64_t bytes; /* uncompressed bytes consumed */
    int truncated;  /* a gzip stream ended early ("unexpected end of file") */
};

/* Returns 0, -errno when the file cannot be opened, or SLT_ENOMEM. */
int slt_lreader_open(struct slt_lreader *r, const char *path, size_t max_line);
int slt_lreader_next(struct slt_lreader *r, struct slt_str *line);
void slt_lreader_close(struct slt_lreader *r);

/*
 * slt_lreader_next for the hot loop: a whole line already in the buffer is returned here, the
 * rest (refills, oversize records, the last line) by slt_lreader_next.
 */
static inline int slt_lreader_next_fast(struct slt_lreader *r, struct slt_str *line)
{
    if (!r->skipping) {
        char *start = r->buf + r->pos;
        char *nl = memchr(start, '\n', r->end - r->pos);

        if (nl && (size_t)(nl - start) <= r->max_line) {
            size_t len = (size_t)(nl - start);

            r->pos += len + 1;
            r->bytes += len + 1;
            r->lineno++;
            line->p = start;
            line->len = len;
            return SLT_LR_LINE;
        }
    }
    return slt_lreader_next(r, line);
}

#endif
