/* Redis Cluster hash slots and redirections; see cluster.h. */
#include "cluster.h"

#include <string.h>

#include "slt/common.h"

uint16_t slt_cluster_crc16(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint16_t crc = 0;
    size_t i;
    int k;

    /* bitwise: a few keys per apply, not worth a table */
    for (i = 0; i < n; i++) {
        crc ^= (uint16_t)(b[i] << 8);
        for (k = 0; k < 8; k++)
            crc = crc & 0x8000 ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

unsigned slt_cluster_keyslot(const char *key, size_t n)
{
    const char *open = memchr(key, '{', n);

    if (open) {
        size_t rest = n - (size_t)(open - key) - 1;
        const char *close = memchr(open + 1, '}', rest);

        if (close && close > open + 1)
            return slt_cluster_crc16(open + 1, (size_t)(close - open - 1)) & 16383;
    }
    return slt_cluster_crc16(key, n) & 16383;
}

/* Reads a decimal number of at most maxd digits from p[0..n); returns digits read or 0. */
static size_t read_uint(const char *p, size_t n, size_t maxd, unsigned long *out)
{
    unsigned long v = 0;
    size_t i;

    for (i = 0; i < n && i < maxd && p[i] >= '0' && p[i] <= '9'; i++)
        v = v * 10 + (unsigned long)(p[i] - '0');
    *out = v;
    return i;
}

int slt_cluster_parse_redirect(const char *err, size_t len, struct slt_cluster_redirect *out)
{
    const char *p = err, *end = err + len, *addr, *colon;
    unsigned long slot, port;
    size_t k, hlen;

    memset(out, 0, sizeof(*out));
    if (len > 6 && memcmp(p, "MOVED ", 6) == 0) {
        out->kind = SLT_CLUSTER_MOVED;
        p += 6;
    } else if (len > 4 && memcmp(p, "ASK ", 4) == 0) {
        out->kind = SLT_CLUSTER_ASK;
        p += 4;
    } else {
        return SLT_EPARSE;
    }
    k = read_uint(p, (size_t)(end - p), 5, &slot);
    if (k == 0 || slot >= SLT_CLUSTER_SLOTS || p + k >= end || p[k] != ' ')
        return SLT_EPARSE;
    p += k + 1;
    addr = p;
    /* the address ends at the end of the reply or at a space (nothing follows today) */
    while (p < end && *p != ' ' && *p != '\r' && *p != '\n')
        p++;
    colon = NULL;
    for (const char *q = addr; q < p; q++)
        if (*q == ':')
            colon = q;
    if (!colon)
        return SLT_EPARSE;
    k = read_uint(colon + 1, (size_t)(p - colon - 1), 5, &port);
    if (k == 0 || colon + 1 + k != p || port == 0 || port > 65535)
        return SLT_EPARSE;
    hlen = (size_t)(colon - addr);
    /* "[::1]:6379" as some servers write it */
    if (hlen >= 2 && addr[0] == '[' && addr[hlen - 1] == ']') {
        addr++;
        hlen -= 2;
    }
    if (hlen >= sizeof(out->host) || memchr(addr, '\0', hlen))
        return SLT_EPARSE;
    memcpy(out->host, addr, hlen);
    out->host[hlen] = '\0';
    out->slot = (unsigned)slot;
    out->port = (int)port;
    return 0;
}
