/* gzip decoding: see gz.h */
#include "gz.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "slt/common.h"

struct slt_gz {
    z_stream zs;
    int fd; /* -1 when decoding memory */
    const unsigned char *mem;
    size_t memlen, mempos;
    int in_member; /* inside a gzip member: running out of input now means truncation */
    int end;       /* 0 running, 1 clean end, < 0 the error to keep returning */
    unsigned char in[SLT_GZ_IN_BYTES];
};

static int gz_new(struct slt_gz **out)
{
    struct slt_gz *g = slt_calloc(1, sizeof(*g));

    if (!g)
        return SLT_ENOMEM;
    /* 16 + MAX_WBITS: gzip framing only, no zlib or raw streams */
    if (inflateInit2(&g->zs, 16 + MAX_WBITS) != Z_OK) {
        slt_free(g);
        return SLT_ENOMEM;
    }
    g->fd = -1;
    *out = g;
    return 0;
}

int slt_gz_new_fd(int fd, struct slt_gz **out)
{
    int rc = gz_new(out);

    if (rc == 0)
        (*out)->fd = fd;
    return rc;
}

int slt_gz_new_mem(const void *p, size_t len, struct slt_gz **out)
{
    int rc = gz_new(out);

    if (rc == 0) {
        (*out)->mem = p;
        (*out)->memlen = len;
    }
    return rc;
}

void slt_gz_free(struct slt_gz *g)
{
    if (!g)
        return;
    inflateEnd(&g->zs);
    slt_free(g);
}

/* Refills the input buffer: > 0 bytes, 0 at end of input, -errno. */
static long gz_refill(struct slt_gz *g)
{
    ssize_t n;

    if (g->fd < 0) {
        size_t left = g->memlen - g->mempos;

        if (left > sizeof(g->in))
            left = sizeof(g->in);
        /* memory input is handed to zlib in place, no copy */
        g->zs.next_in = (unsigned char *)(uintptr_t)(g->mem + g->mempos);
        g->zs.avail_in = (uInt)left;
        g->mempos += left;
        return (long)left;
    }
    do {
        n = read(g->fd, g->in, sizeof(g->in));
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    g->zs.next_in = g->in;
    g->zs.avail_in = (uInt)n;
    return (long)n;
}

long slt_gz_read(struct slt_gz *g, void *buf, size_t n)
{
    size_t produced;
    long r;
    int rc;

    if (g->end)
        return g->end > 0 ? 0 : g->end;
    if (n > UINT_MAX)
        n = UINT_MAX;
    g->zs.next_out = buf;
    g->zs.avail_out = (uInt)n;
    while (g->zs.avail_out > 0) {
        if (g->zs.avail_in == 0) {
            r = gz_refill(g);
            if (r < 0) {
                g->end = (int)r;
                break;
            }
            if (r == 0) {
                g->end = g->in_member ? SLT_ECORRUPT : 1;
                break;
            }
        }
        g->in_member = 1;
        rc = inflate(&g->zs, Z_NO_FLUSH);
        if (rc == Z_STREAM_END) {
            /* another member may follow */
            g->in_member = 0;
            if (inflateReset(&g->zs) != Z_OK) {
                g->end = SLT_ECORRUPT;
                break;
            }
            continue;
        }
        if (rc == Z_BUF_ERROR && g->zs.avail_in == 0)
            continue;
        if (rc != Z_OK) {
            g->end = rc == Z_MEM_ERROR ? SLT_ENOMEM : SLT_ECORRUPT;
            break;
        }
    }
    produced = n - g->zs.avail_out;
    if (produced > 0)
        return (long)produced;
    return g->end > 0 ? 0 : g->end;
}

int slt_gz_decode(const void *p, size_t len, uint64_t max_out, uint64_t *out_len,
                  uint64_t *out_lines)
{
    struct slt_gz *g;
    char buf[16384];
    uint64_t total = 0, lines = 0;
    long n;
    int rc;

    *out_len = 0;
    *out_lines = 0;
    rc = slt_gz_new_mem(p, len, &g);
    if (rc < 0)
        return rc;
    while (total < max_out) {
        size_t want = sizeof(buf);
        const char *c, *end;

        if (max_out - total < want)
            want = (size_t)(max_out - total);
        n = slt_gz_read(g, buf, want);
        if (n <= 0) {
            rc = (int)n;
            break;
        }
        total += (uint64_t)n;
        for (c = buf, end = buf + n; (c = memchr(c, '\n', (size_t)(end - c))) != NULL; c++)
            lines++;
    }
    slt_gz_free(g);
    *out_len = total;
    *out_lines = lines;
    return rc;
}
