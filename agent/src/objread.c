/* Whole objects read as lines: see objread.h. */
#include "objread.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <zlib.h>

#include "slt/common.h"

#define OBJ_BUF_MIN 65536u

struct slt_objread {
    int gz;
    z_stream zs;
    int zinit;
    int in_member; /* inside a gzip member: the end of input now means more is to come */
    int ended;     /* at least one member ended (a clean end is possible) */
    int corrupt;
    size_t max_line;
    /* decoded bytes not yet delivered: [0, len), the last of them at decoded offset dec - 1;
       while skipping, buf[0..max_line) holds the start of an oversize line instead */
    char *buf;
    size_t len, cap;
    uint64_t dec;     /* decoded bytes so far */
    uint64_t skip_to; /* decoded bytes before this were delivered before a restart */
    uint64_t offset;  /* just after the last line delivered */
    int skipping;
    int paused;
    uint64_t lines;
    slt_tail_line_cb on_line;
    void *data;
};

int slt_objread_is_gzip(const void *p, size_t n)
{
    const unsigned char *c = p;

    return n >= 2 && c[0] == 0x1f && c[1] == 0x8b;
}

int slt_objread_new(int gz, size_t max_line, uint64_t skip_to, slt_tail_line_cb on_line, void *data,
                    struct slt_objread **out)
{
    struct slt_objread *r = slt_calloc(1, sizeof(*r));

    if (!r)
        return SLT_ENOMEM;
    r->gz = gz;
    r->max_line = max_line ? max_line : 65536;
    r->cap = r->max_line + 1 > OBJ_BUF_MIN ? r->max_line + 1 : OBJ_BUF_MIN;
    r->buf = slt_malloc(r->cap);
    if (!r->buf) {
        slt_free(r);
        return SLT_ENOMEM;
    }
    if (gz) {
        /* 16 + MAX_WBITS: gzip framing only */
        if (inflateInit2(&r->zs, 16 + MAX_WBITS) != Z_OK) {
            slt_free(r->buf);
            slt_free(r);
            return SLT_ENOMEM;
        }
        r->zinit = 1;
    }
    r->skip_to = skip_to;
    r->offset = skip_to;
    r->on_line = on_line;
    r->data = data;
    *out = r;
    return 0;
}

void slt_objread_free(struct slt_objread *r)
{
    if (!r)
        return;
    if (r->zinit)
        inflateEnd(&r->zs);
    slt_free(r->buf);
    slt_free(r);
}

void slt_objread_pause(struct slt_objread *r)
{
    r->paused = 1;
}

void slt_objread_resume(struct slt_objread *r)
{
    r->paused = 0;
}

int slt_objread_paused(const struct slt_objread *r)
{
    return r->paused;
}

uint64_t slt_objread_offset(const struct slt_objread *r)
{
    return r->offset;
}

uint64_t slt_objread_decoded(const struct slt_objread *r)
{
    return r->dec;
}

uint64_t slt_objread_lines(const struct slt_objread *r)
{
    return r->lines;
}

static void deliver(struct slt_objread *r, const char *p, size_t n, unsigned flags, uint64_t end)
{
    r->offset = end;
    r->lines++;
    r->on_line(r->data, NULL, p, n, flags, end);
}

/* Delivers the complete lines at the front of buf until paused; keeps the rest. */
static void deliver_lines(struct slt_objread *r)
{
    size_t pos = 0;
    uint64_t base = r->dec - r->len; /* decoded offset of buf[0] */

    if (r->skipping)
        return;
    while (pos < r->len && !r->paused) {
        const char *s = r->buf + pos, *nl = memchr(s, '\n', r->len - pos);
        size_t n;

        if (!nl)
            break;
        n = (size_t)(nl - s);
        pos += n + 1;
        if (n > r->max_line)
            deliver(r, s, r->max_line, SLT_TAIL_OVERSIZE, base + pos);
        else
            deliver(r, s, n, 0, base + pos);
    }
    if (pos > 0) {
        memmove(r->buf, r->buf + pos, r->len - pos);
        r->len -= pos;
    }
    if (!r->paused && r->len > r->max_line) {
        /* no '\n' in more than max_line bytes: hold the start, skip to the '\n' */
        r->len = r->max_line;
        r->skipping = 1;
    }
}

/*
 * n decoded bytes were written at buf[len..len+n): drops those before skip_to, ends an
 * oversize line whose '\n' is among them, keeps the rest.
 */
static void appended(struct slt_objread *r, size_t n)
{
    char *p = r->buf + r->len;
    uint64_t start = r->dec;

    r->dec += n;
    if (start < r->skip_to) {
        uint64_t drop = r->skip_to - start;

        if (drop >= n)
            return;
        memmove(p, p + drop, n - (size_t)drop);
        n -= (size_t)drop;
    }
    if (r->skipping) {
        const char *nl = memchr(p, '\n', n);
        size_t rest;

        if (!nl)
            return; /* still inside the oversize line: dropped */
        rest = n - (size_t)(nl - p) - 1;
        r->skipping = 0;
        deliver(r, r->buf, r->max_line, SLT_TAIL_OVERSIZE, r->dec - rest);
        memmove(r->buf, nl + 1, rest);
        r->len = rest;
        return;
    }
    r->len += n;
}

/* Room to decode into: after the buffered bytes, or after the held start while skipping. */
static size_t room(const struct slt_objread *r)
{
    return r->cap - r->len;
}

long slt_objread_feed(struct slt_objread *r, const void *p, size_t n)
{
    const unsigned char *in = p;
    size_t used = 0;

    if (r->corrupt)
        return SLT_ECORRUPT;
    deliver_lines(r);
    while (!r->paused) {
        size_t space = room(r);

        if (space == 0)
            break; /* cannot happen: deliver_lines leaves at most max_line < cap bytes */
        if (!r->gz) {
            size_t k = n - used < space ? n - used : space;

            if (k == 0)
                break;
            memcpy(r->buf + r->len, in + used, k);
            used += k;
            appended(r, k);
        } else {
            size_t avail = n - used, produced;
            int rc;

            if (avail == 0)
                break;
            if (avail > UINT_MAX)
                avail = UINT_MAX;
            if (space > UINT_MAX)
                space = UINT_MAX;
            if (!r->in_member && r->ended && in[used] != 0x1f) {
                /* bytes after a complete member that start no other: gzip -d warns about
                   "trailing garbage" and ignores it; so do we */
                used = n;
                break;
            }
            r->zs.next_in = (unsigned char *)(uintptr_t)(in + used);
            r->zs.avail_in = (uInt)avail;
            r->zs.next_out = (unsigned char *)r->buf + r->len;
            r->zs.avail_out = (uInt)space;
            rc = inflate(&r->zs, Z_NO_FLUSH);
            used += avail - r->zs.avail_in;
            produced = space - r->zs.avail_out;
            r->in_member = 1;
            if (rc == Z_STREAM_END) {
                r->in_member = 0;
                r->ended = 1;
                if (inflateReset(&r->zs) != Z_OK) {
                    r->corrupt = 1;
                    return SLT_ECORRUPT;
                }
            } else if (rc == Z_BUF_ERROR) {
                if (produced == 0 && r->zs.avail_in == 0)
                    break;
            } else if (rc != Z_OK) {
                r->corrupt = 1;
                if (produced)
                    appended(r, produced);
                deliver_lines(r);
                return SLT_ECORRUPT;
            }
            if (produced)
                appended(r, produced);
        }
        deliver_lines(r);
    }
    return (long)used;
}

int slt_objread_finish(struct slt_objread *r)
{
    uint64_t end = r->dec;

    deliver_lines(r);
    if (r->paused)
        return -EAGAIN;
    if (r->corrupt)
        return SLT_ECORRUPT;
    if (r->gz && (r->in_member || !r->ended))
        return -EAGAIN;
    if (r->skipping) {
        r->skipping = 0;
        deliver(r, r->buf, r->max_line, SLT_TAIL_OVERSIZE, end);
        r->len = 0;
    } else if (r->len > 0 && end > r->offset) {
        /* the last line of a complete object, without its '\n' */
        size_t n = r->len;

        r->len = 0;
        deliver(r, r->buf, n, 0, end);
    }
    return 0;
}
