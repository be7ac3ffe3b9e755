#include "lreader.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

int slt_lreader_open(struct slt_lreader *r, const char *path, size_t max_line)
{
    gzFile gz;

    memset(r, 0, sizeof(*r));
    r->max_line = max_line ? max_line : 65536;
    r->cap = r->max_line + SLT_LR_SLACK;
    if (r->cap < SLT_LR_MIN_BUF)
        r->cap = SLT_LR_MIN_BUF;
    r->buf = slt_malloc(r->cap);
    if (!r->buf)
        return SLT_ENOMEM;
    errno = 0;
    if (strcmp(path, "-") == 0)
        gz = gzdopen(dup(STDIN_FILENO), "rb");
    else
        gz = gzopen(path, "rb");
    if (!gz) {
        int err = errno ? -errno : SLT_ENOMEM;
        slt_free(r->buf);
        r->buf = NULL;
        return err;
    }
    /* zlib reads straight into our buffer when a read asks for 2x its own buffer or more */
    gzbuffer(gz, 128 * 1024);
    r->gz = gz;
    return 0;
}

/* Moves the partial record to the front and reads more after it. 0, or -errno/SLT_EPARSE. */
static int fill(struct slt_lreader *r)
{
    int n;

    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->end - r->pos);
        r->end -= r->pos;
        r->pos = 0;
    }
    n = gzread((gzFile)r->gz, r->buf + r->end, (unsigned)(r->cap - r->end));
    if (n < 0) {
        int zerr;
        gzerror((gzFile)r->gz, &zerr);
        return zerr == Z_ERRNO ? -errno : SLT_ECORRUPT;
    }
    if (n == 0) {
        int zerr;
        r->eof = 1;
        gzerror((gzFile)r->gz, &zerr);
        if (zerr == Z_BUF_ERROR)
            r->truncated = 1;
    }
    r->end += (size_t)n;
    return 0;
}

int slt_lreader_next(struct slt_lreader *r, struct slt_str *line)
{
    size_t scanned = 0; /* bytes of the current record already searched for '\n' */
    int rc;

    for (;;) {
        char *start = r->buf + r->pos;
        size_t avail = r->end - r->pos;
        char *nl = avail > scanned ? memchr(start + scanned, '\n', avail - scanned) : NULL;

        if (r->skipping) {
            if (nl) {
                r->bytes += (size_t)(nl - start) + 1;
                r->pos += (size_t)(nl - start) + 1;
                r->skipping = 0;
                scanned = 0;
                continue;
            }
            r->bytes += avail;
            r->pos = r->end;
            scanned = 0;
            if (r->eof)
                return 0;
            if ((rc = fill(r)) < 0)
                return rc;
            continue;
        }
        if (nl) {
            size_t len = (size_t)(nl - start);
            r->pos += len + 1;
            r->bytes += len + 1;
            r->lineno++;
            *line = slt_str_make(start, len);
            return len > r->max_line ? SLT_LR_OVERSIZE : SLT_LR_LINE;
        }
        if (avail > r->max_line) {
            /* no '\n' within max_line bytes: count it once, drop the rest up to its '\n' */
            r->lineno++;
            r->bytes += avail;
            r->pos = r->end;
            r->skipping = 1;
            *line = SLT_STR_NULL;
            return SLT_LR_OVERSIZE;
        }
        if (r->eof) {
            if (avail == 0)
                return 0;
            r->pos = r->end;
            r->bytes += avail;
            r->lineno++;
            *line = slt_str_make(start, avail);
            return SLT_LR_LINE;
        }
        scanned = avail;
        if ((rc = fill(r)) < 0)
            return rc;
    }
}

void slt_lreader_close(struct slt_lreader *r)
{
    if (r->gz)
        gzclose((gzFile)r->gz);
    r->gz = NULL;
    slt_free(r->buf);
    r->buf = NULL;
}
