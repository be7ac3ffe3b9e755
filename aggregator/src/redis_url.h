/*
 * Redis addresses as the config writes them:
 *   redis://[[user]:password@]host[:port][/db]     host may be [v6addr]; port 6379, db 0
 *   unix://[[user]:password@]/path/to/redis.sock[?db=N]
 * rediss:// (TLS) is not supported and says so. User and password are percent-decoded.
 */
#ifndef SLT_REDIS_URL_H
#define SLT_REDIS_URL_H

struct slt_redis_url {
    char *host; /* NULL for a unix socket */
    int port;
    char *path;     /* unix socket path, NULL for TCP */
    char *user;     /* NULL when absent (AUTH password only) */
    char *password; /* NULL when absent (no AUTH) */
    int db;
};

/* 0, or SLT_EINVAL with the reason in err (never echoing the password). Release with _release. */
int slt_redis_url_parse(const char *url, struct slt_redis_url *out, char *err, size_t errlen);
void slt_redis_url_release(struct slt_redis_url *u);
/* "127.0.0.1:6379/0" or "unix:/run/redis.sock/0" for logs; no credentials. */
void slt_redis_url_describe(const struct slt_redis_url *u, char *buf, size_t len);

#endif
