/* Redis Cluster hash slots and redirections; see cluster.h. */
#include "cluster.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <hiredis/hiredis.h>

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

/* ---- CLUSTER SLOTS ---- */

static int refuse(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int refuse(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (errlen) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return SLT_EPARSE;
}

/* 1 when r is an array of at least n elements, each of them there. */
static int is_array(const redisReply *r, size_t n)
{
    size_t i;

    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < n || (r->elements && !r->element))
        return 0;
    for (i = 0; i < r->elements; i++)
        if (!r->element[i])
            return 0;
    return 1;
}

/* A node [host, port, ...]: the port (1..65535) and the host (borrowed, hlen bytes); a nil host
 * gives NULL. Returns 0 or -1 with the reason in *why. */
static int read_node(const redisReply *n, const char **host, size_t *hlen, int *port,
                     const char **why)
{
    const redisReply *h, *p;
    size_t i;

    if (!is_array(n, 2)) {
        *why = "a node is not an array of host and port";
        return -1;
    }
    h = n->element[0];
    p = n->element[1];
    if (p->type != REDIS_REPLY_INTEGER || p->integer < 1 || p->integer > 65535) {
        *why = "port not an integer in 1..65535";
        return -1;
    }
    *port = (int)p->integer;
    if (h->type == REDIS_REPLY_NIL) {
        *host = NULL;
        *hlen = 0;
        return 0;
    }
    if (h->type != REDIS_REPLY_STRING || (h->len && !h->str)) {
        *why = "host not a string";
        return -1;
    }
    if (h->len >= SLT_CLUSTER_MAX_HOST) {
        *why = "host too long";
        return -1;
    }
    /* printable ASCII without spaces: it goes to getaddrinfo and into the logs */
    for (i = 0; i < h->len; i++) {
        if (h->str[i] < '!' || h->str[i] > '~') {
            *why = "host holds a byte that is not printable ASCII";
            return -1;
        }
    }
    *host = h->str;
    *hlen = h->len;
    return 0;
}

/* The index of host:port among the map's nodes, added when new; -1 past SLT_CLUSTER_MAX_NODES. */
static int map_node(struct slt_cluster_map *map, const char *host, size_t hlen, int port)
{
    struct slt_cluster_node *n;
    size_t i;

    for (i = 0; i < map->nnodes; i++) {
        n = &map->nodes[i];
        if (n->port == port && strlen(n->host) == hlen && memcmp(n->host, host, hlen) == 0)
            return (int)i;
    }
    if (map->nnodes >= SLT_CLUSTER_MAX_NODES)
        return -1;
    n = &map->nodes[map->nnodes];
    memcpy(n->host, host, hlen);
    n->host[hlen] = '\0';
    n->port = port;
    return (int)map->nnodes++;
}

int slt_cluster_parse_slots(const struct redisReply *reply, const char *asked_host,
                            struct slt_cluster_map *map, char *err, size_t errlen)
{
    unsigned char seen[SLT_CLUSTER_SLOTS / 8];
    size_t i, k, asked_len = asked_host ? strlen(asked_host) : 0;

    memset(seen, 0, sizeof(seen));
    map->covered = 0;
    map->nnodes = 0;
    for (i = 0; i < SLT_CLUSTER_SLOTS; i++)
        map->slot[i] = -1;
    if (!is_array(reply, 0))
        return refuse(err, errlen, "not an array");
    /* ranges do not overlap and hold a slot each: no more of them than slots */
    if (reply->elements > SLT_CLUSTER_SLOTS)
        return refuse(err, errlen, "%zu ranges for %d slots", reply->elements, SLT_CLUSTER_SLOTS);
    for (i = 0; i < reply->elements; i++) {
        const redisReply *e = reply->element[i];
        const char *host, *why = NULL;
        size_t hlen;
        long long a, b, s;
        int port, idx = -1;

        if (!is_array(e, 3) || e->element[0]->type != REDIS_REPLY_INTEGER ||
            e->element[1]->type != REDIS_REPLY_INTEGER)
            return refuse(err, errlen, "range %zu: not an array of start, end and master", i);
        a = e->element[0]->integer;
        b = e->element[1]->integer;
        if (a < 0 || b < 0 || a >= SLT_CLUSTER_SLOTS || b >= SLT_CLUSTER_SLOTS)
            return refuse(err, errlen, "range %zu: slot outside 0..%d", i, SLT_CLUSTER_SLOTS - 1);
        if (a > b)
            return refuse(err, errlen, "range %zu: start %lld after end %lld", i, a, b);
        for (k = 2; k < e->elements; k++) {
            if (read_node(e->element[k], &host, &hlen, &port, &why) < 0)
                return refuse(err, errlen, "range %zu, %s: %s", i, k == 2 ? "master" : "replica",
                              why);
        }
        /* the master, read again (the replicas only had to be well-formed) */
        read_node(e->element[2], &host, &hlen, &port, &why);
        if (!host || hlen == 0) {
            if (asked_len == 0)
                return refuse(err, errlen, "range %zu: empty master host", i);
            host = asked_host; /* it does not know its address: the one we asked */
            hlen = asked_len;
            if (hlen >= SLT_CLUSTER_MAX_HOST)
                return refuse(err, errlen, "range %zu: host too long", i);
        }
        if (!(hlen == 1 && host[0] == '?')) {
            idx = map_node(map, host, hlen, port);
            if (idx < 0)
                return refuse(err, errlen, "more than %d masters", SLT_CLUSTER_MAX_NODES);
        }
        for (s = a; s <= b; s++) {
            if (seen[s / 8] & (1u << (s % 8)))
                return refuse(err, errlen, "range %zu: slot %lld is in an earlier range too", i, s);
            seen[s / 8] |= (unsigned char)(1u << (s % 8));
            map->slot[s] = (int16_t)idx;
            map->covered += idx >= 0;
        }
    }
    return 0;
}
