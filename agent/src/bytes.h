/* Little-endian fixed-width encoding for the agent's on-disk files (spool, checkpoint). */
#ifndef SLT_AGENT_BYTES_H
#define SLT_AGENT_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "slt/common.h"

static inline int slt_put_u64(struct slt_buf *b, uint64_t v)
{
    unsigned char x[8];
    int i;

    for (i = 0; i < 8; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    return slt_buf_append(b, x, 8);
}

static inline int slt_put_u32(struct slt_buf *b, uint32_t v)
{
    unsigned char x[4];
    int i;

    for (i = 0; i < 4; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    return slt_buf_append(b, x, 4);
}

static inline uint64_t slt_get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    int i;

    for (i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static inline uint32_t slt_get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void slt_set_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

/* A bounds-checked reader over a byte range: any overrun sets bad and yields zeros. */
struct slt_rd {
    const unsigned char *p;
    size_t n;
    int bad;
};

static inline const unsigned char *slt_rd_take(struct slt_rd *r, size_t k)
{
    const unsigned char *q;

    if (r->bad || r->n < k) {
        r->bad = 1;
        return NULL;
    }
    q = r->p;
    r->p += k;
    r->n -= k;
    return q;
}

static inline uint64_t slt_rd_u64(struct slt_rd *r)
{
    const unsigned char *q = slt_rd_take(r, 8);

    return q ? slt_get_u64(q) : 0;
}

static inline uint32_t slt_rd_u32(struct slt_rd *r)
{
    const unsigned char *q = slt_rd_take(r, 4);

    return q ? slt_get_u32(q) : 0;
}

#endif
