/* http:// and https:// URLs of alert receivers; see slt_http_url_parse() in slt/config.h. */
#include <stdio.h>
#include <string.h>

#include "slt/config.h"

static int host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

int slt_http_url_parse(const char *s, struct slt_http_url *u, char *msg, size_t msglen)
{
    const char *p, *h, *hend;
    long port = 0;
    size_t hlen, plen;

    memset(u, 0, sizeof(*u));
    if (strncmp(s, "https://", 8) == 0) {
        u->tls = 1;
        h = s + 8;
    } else if (strncmp(s, "http://", 7) == 0) {
        h = s + 7;
    } else {
        snprintf(msg, msglen, "must be an http:// or https:// URL like https://host:port/path");
        return SLT_EINVAL;
    }
    if (h[strcspn(h, "/")] != '\0' && memchr(h, '@', strcspn(h, "/"))) {
        snprintf(msg, msglen, "must not hold user:password@ (not supported)");
        return SLT_EINVAL;
    }
    if (*h == '[') {
        hend = strchr(h, ']');
        if (!hend || hend == h + 1) {
            snprintf(msg, msglen, "has a bad [v6] address");
            return SLT_EINVAL;
        }
        for (p = h + 1; p < hend; p++) {
            if (!(*p == ':' || *p == '.' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
                  (*p >= 'A' && *p <= 'F'))) {
                snprintf(msg, msglen, "has a bad [v6] address");
                return SLT_EINVAL;
            }
        }
        h++;
        hlen = (size_t)(hend - h);
        p = hend + 1;
    } else {
        for (p = h; host_char(*p); p++)
            ;
        hlen = (size_t)(p - h);
        if (hlen == 0) {
            snprintf(msg, msglen, "has no host");
            return SLT_EINVAL;
        }
    }
    if (hlen >= sizeof(u->host)) {
        snprintf(msg, msglen, "has a host longer than %zu bytes", sizeof(u->host) - 1);
        return SLT_EINVAL;
    }
    memcpy(u->host, h, hlen);
    u->port = u->tls ? 443 : 80;
    if (*p == ':') {
        const char *d = ++p;

        while (*p >= '0' && *p <= '9' && port <= 65535)
            port = port * 10 + (*p++ - '0');
        if (p == d || port < 1 || port > 65535 || (*p && *p != '/')) {
            snprintf(msg, msglen, "has a bad port (want 1 to 65535)");
            return SLT_EINVAL;
        }
        u->port = (int)port;
    }
    if (*p && *p != '/') {
        snprintf(msg, msglen, "has a bad character in the host");
        return SLT_EINVAL;
    }
    if (!*p)
        p = "/";
    plen = strlen(p);
    if (plen >= sizeof(u->path)) {
        snprintf(msg, msglen, "has a path longer than %zu bytes", sizeof(u->path) - 1);
        return SLT_EINVAL;
    }
    for (h = p; *h; h++) {
        unsigned char c = (unsigned char)*h;

        if (c <= ' ' || c == 0x7f || c == '#') {
            snprintf(msg, msglen, "has a space, control byte or '#' in the path");
            return SLT_EINVAL;
        }
    }
    memcpy(u->path, p, plen + 1);
    return 0;
}
