/* Parsing of the aggregator's redis address (redis_url.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slt/common.h"
#include "slt/http.h"

#include "redis_url.h"

/* A percent-decoded copy of s[0..n), or NULL (bad escape, %00, or no memory). */
static char *pct_decode(const char *s, size_t n)
{
    char *out = slt_malloc(n + 1);

    if (out && slt_http_pct_decode(s, n, out, n + 1, 0) < 0) {
        slt_free(out);
        return NULL;
    }
    return out;
}

static int parse_int(const char *s, size_t n, long lo, long hi, int *out)
{
    long v = 0;
    size_t i;

    if (n == 0 || n > 9)
        return -1;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

void slt_redis_url_release(struct slt_redis_url *u)
{
    slt_free(u->host);
    slt_free(u->path);
    slt_free(u->user);
    slt_free(u->password);
    memset(u, 0, sizeof(*u));
}

static int bad(struct slt_redis_url *u, char *err, size_t errlen, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    slt_redis_url_release(u);
    return SLT_EINVAL;
}

/* Splits "[user]:password@" off the front of *s (len *n). */
static int take_userinfo(const char **s, size_t *n, struct slt_redis_url *u)
{
    const char *at = memchr(*s, '@', *n), *colon;
    size_t ulen;

    if (!at)
        return 0;
    ulen = (size_t)(at - *s);
    colon = memchr(*s, ':', ulen);
    if (colon) {
        if (colon > *s) {
            u->user = pct_decode(*s, (size_t)(colon - *s));
            if (!u->user)
                return -1;
        }
        u->password = pct_decode(colon + 1, (size_t)(at - colon - 1));
    } else {
        /* "secret@host": a password alone, as redis-cli -u takes it */
        u->password = pct_decode(*s, ulen);
    }
    if (!u->password)
        return -1;
    *n -= ulen + 1;
    *s = at + 1;
    return 0;
}

int slt_redis_url_parse(const char *url, struct slt_redis_url *u, char *err, size_t errlen)
{
    const char *s, *q;
    size_t n;

    memset(u, 0, sizeof(*u));
    u->port = 6379;
    if (!url || !*url)
        return bad(u, err, errlen, "empty redis address");
    if (strncmp(url, "rediss://", 9) == 0)
        return bad(u, err, errlen, "rediss:// (TLS) is not supported; use redis:// or unix://");
    if (strncmp(url, "unix://", 7) == 0) {
        s = url + 7;
        n = strlen(s);
        if (take_userinfo(&s, &n, u) < 0)
            return bad(u, err, errlen, "bad percent escape in the redis user or password");
        q = memchr(s, '?', n);
        if (q) {
            if (strncmp(q, "?db=", 4) != 0 ||
                parse_int(q + 4, strlen(q + 4), 0, 1000000, &u->db) < 0)
                return bad(u, err, errlen, "unix:// address: only '?db=N' may follow the path");
            n = (size_t)(q - s);
        }
        if (n == 0 || s[0] != '/')
            return bad(u, err, errlen, "unix:// address needs an absolute path");
        u->path = slt_strndup(s, n);
        if (!u->path)
            return bad(u, err, errlen, "out of memory");
        return 0;
    }
    if (strncmp(url, "redis://", 8) != 0)
        return bad(u, err, errlen, "redis address must start with redis:// or unix://");
    s = url + 8;
    n = strlen(s);
    if (take_userinfo(&s, &n, u) < 0)
        return bad(u, err, errlen, "bad percent escape in the redis user or password");
    /* host part up to '/' */
    q = memchr(s, '/', n);
    {
        size_t hlen = q ? (size_t)(q - s) : n;
        const char *h = s, *port = NULL;
        size_t plen = 0, hostlen;

        if (hlen && h[0] == '[') {
            const char *rb = memchr(h, ']', hlen);
            if (!rb)
                return bad(u, err, errlen, "redis address: missing ']' after an IPv6 host");
            hostlen = (size_t)(rb - h - 1);
            h++;
            if (rb + 1 < s + hlen) {
                if (rb[1] != ':')
                    return bad(u, err, errlen, "redis address: junk after ']'");
                port = rb + 2;
                plen = (size_t)(s + hlen - port);
            }
        } else {
            const char *colon = memchr(h, ':', hlen);
            hostlen = colon ? (size_t)(colon - h) : hlen;
            if (colon) {
                port = colon + 1;
                plen = (size_t)(s + hlen - port);
            }
        }
        if (hostlen == 0)
            return bad(u, err, errlen, "redis address: no host");
        if (port && parse_int(port, plen, 1, 65535, &u->port) < 0)
            return bad(u, err, errlen, "redis address: port must be 1..65535");
        u->host = slt_strndup(h, hostlen);
        if (!u->host)
            return bad(u, err, errlen, "out of memory");
    }
    if (q && q[1] != '\0' && parse_int(q + 1, strlen(q + 1), 0, 1000000, &u->db) < 0)
        return bad(u, err, errlen, "redis address: database must be a number after '/'");
    return 0;
}

void slt_redis_url_describe(const struct slt_redis_url *u, char *buf, size_t len)
{
    if (u->path)
        snprintf(buf, len, "unix:%s/%d", u->path, u->db);
    else
        snprintf(buf, len, "%s:%d/%d", u->host ? u->host : "?", u->port, u->db);
}
