#include "slt/common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static long alloc_fail_countdown = -1;

void slt_alloc_fail_after(long n)
{
    alloc_fail_countdown = n;
}

static int alloc_should_fail(void)
{
    if (alloc_fail_countdown < 0)
        return 0;
    if (alloc_fail_countdown == 0) {
        alloc_fail_countdown = -1;
        return 1;
    }
    alloc_fail_countdown--;
    return 0;
}

void *slt_malloc(size_t n)
{
    return alloc_should_fail() ? NULL : malloc(n ? n : 1);
}

void *slt_calloc(size_t count, size_t size)
{
    return alloc_should_fail() ? NULL : calloc(count ? count : 1, size ? size : 1);
}

void *slt_realloc(void *p, size_t n)
{
    return alloc_should_fail() ? NULL : realloc(p, n ? n : 1);
}

void slt_free(void *p)
{
    free(p);
}

char *slt_strndup(const char *s, size_t n)
{
    char *d = slt_malloc(n + 1);

    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *slt_strdup(const char *s)
{
    return s ? slt_strndup(s, strlen(s)) : NULL;
}

const char *slt_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
#define SLT_ERR_CASE(name, text)                                                                   \
    case SLT_##name:                                                                               \
        return text;
        SLT_ERRNO_MAP(SLT_ERR_CASE)
#undef SLT_ERR_CASE
    default:
        if (err < 0 && err > -4096)
            return strerror(-err);
        return "unknown error";
    }
}

uint64_t slt_fnv1a64(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 14695981039346656037ULL;

    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

int slt_log_level = SLT_LOG_INFO;

enum { LOG_PLAIN, LOG_TIMESTAMP, LOG_JOURNAL };
static int log_style = LOG_PLAIN;

void slt_log_setup_daemon(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;

    log_style = LOG_TIMESTAMP;
    if (js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
        (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino)
        log_style = LOG_JOURNAL;
}

void slt__log(int level, const char *component, const char *fmt, ...)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    static const char prio[] = {'3', '4', '6', '7'};
    char msg[1024], pre[64] = "";
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (level < 0 || level > SLT_LOG_DEBUG)
        level = SLT_LOG_ERROR;
    if (log_style == LOG_JOURNAL) {
        snprintf(pre, sizeof(pre), "<%c>", prio[level]);
    } else if (log_style == LOG_TIMESTAMP) {
        struct timespec ts;
        struct tm tm;

        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        snprintf(pre, sizeof(pre), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int)(ts.tv_nsec / 1000000) % 1000);
    }
    /* one fprintf per line: stderr is unbuffered, glibc writes the line at once */
    fprintf(stderr, "%s%s %s: %s\n", pre, names[level], component, msg);
}

void slt__bug(const char *file, int line, const char *msg)
{
    fprintf(stderr, "BUG at %s:%d: %s\n", file, line, msg);
    abort();
}

void slt_buf_init(struct slt_buf *b, size_t max)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void slt_buf_release(struct slt_buf *b)
{
    slt_free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

int slt_buf_reserve(struct slt_buf *b, size_t extra)
{
    size_t want, cap;
    char *p;

    if (extra > b->max || b->len > b->max - extra)
        return SLT_ELIMIT;
    want = b->len + extra;
    if (want <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 256;
    while (cap < want)
        cap = cap > SIZE_MAX / 2 ? want : cap * 2;
    if (cap > b->max)
        cap = b->max;
    p = slt_realloc(b->p, cap);
    if (!p)
        return SLT_ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

int slt_buf_append(struct slt_buf *b, const void *p, size_t n)
{
    int rc = slt_buf_reserve(b, n);

    if (rc < 0)
        return rc;
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

int slt_buf_printf(struct slt_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n, rc;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return SLT_EINVAL;
    rc = slt_buf_reserve(b, (size_t)n + 1);
    if (rc < 0)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void slt_buf_consume(struct slt_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
}

int slt_parse_duration_us(const char *s, size_t len, int64_t default_unit_us, int64_t *out)
{
    static const struct {
        const char *name;
        int64_t us;
    } units[] = {
        {"us", 1},         {"µs", 1},           {"ms", 1000},         {"s", 1000000},
        {"m", 60000000LL}, {"h", 3600000000LL}, {"d", 86400000000LL}, {"w", 604800000000LL},
    };
    int64_t whole = 0, unit = 0;
    double frac = 0, scale = 0.1;
    size_t i = 0, j, ulen;
    int digits = 0;

    while (i < len && s[i] >= '0' && s[i] <= '9') {
        if (whole > (INT64_MAX - 9) / 10)
            return SLT_EINVAL;
        whole = whole * 10 + (s[i++] - '0');
        digits++;
    }
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            frac += (s[i++] - '0') * scale;
            scale /= 10;
            digits++;
        }
    }
    if (!digits)
        return SLT_EINVAL;
    ulen = len - i;
    if (ulen == 0) {
        if (!default_unit_us)
            return SLT_EINVAL;
        unit = default_unit_us;
    }
    for (j = 0; ulen && j < SLT_ARRAY_SIZE(units); j++) {
        if (strlen(units[j].name) == ulen && memcmp(units[j].name, s + i, ulen) == 0) {
            unit = units[j].us;
            break;
        }
    }
    if (!unit)
        return SLT_EINVAL;
    if (whole > INT64_MAX / unit)
        return SLT_EINVAL;
    *out = whole * unit + (int64_t)(frac * (double)unit + 0.5);
    return 0;
}

int slt_parse_size(const char *s, size_t len, uint64_t *out)
{
    static const struct {
        const char *name;
        uint64_t mult;
    } units[] = {
        {"", 1},         {"B", 1},         {"KB", 1000},       {"KiB", 1024},
        {"MB", 1000000}, {"MiB", 1048576}, {"GB", 1000000000}, {"GiB", 1073741824},
        {"K", 1024},     {"M", 1048576},   {"G", 1073741824},
    };
    uint64_t n = 0;
    size_t i = 0, j, ulen;

    while (i < len && s[i] >= '0' && s[i] <= '9') {
        if (n > (UINT64_MAX - 9) / 10)
            return SLT_EINVAL;
        n = n * 10 + (uint64_t)(s[i++] - '0');
    }
    if (i == 0)
        return SLT_EINVAL;
    while (i < len && s[i] == ' ')
        i++;
    ulen = len - i;
    for (j = 0; j < SLT_ARRAY_SIZE(units); j++) {
        if (strlen(units[j].name) == ulen && memcmp(units[j].name, s + i, ulen) == 0) {
            if (units[j].mult > 1 && n > UINT64_MAX / units[j].mult)
                return SLT_EINVAL;
            *out = n * units[j].mult;
            return 0;
        }
    }
    return SLT_EINVAL;
}

size_t slt_fmt_u64(char *out, uint64_t v)
{
    char tmp[24];
    size_t n = 0, i;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

int slt_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

    if (fd < 0)
        return -errno;
    if (fsync(fd) < 0)
        rc = -errno;
    close(fd);
    return rc;
}

int slt_write_all(int fd, const void *p, size_t n)
{
    const char *c = p;

    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int64_t slt_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t slt_mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int slt_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    const unsigned char *x = a, *y = b;
    unsigned char diff = 0;
    size_t i;

    if (alen != blen)
        return 0;
    for (i = 0; i < alen; i++)
        diff |= x[i] ^ y[i];
    return diff == 0;
}

int slt_prom_escape_label(struct slt_buf *b, const char *p, size_t len)
{
    size_t i, start = 0;
    int rc;

    for (i = 0; i < len; i++) {
        const char *esc = NULL;

        if (p[i] == '\\')
            esc = "\\\\";
        else if (p[i] == '"')
            esc = "\\\"";
        else if (p[i] == '\n')
            esc = "\\n";
        if (!esc)
            continue;
        if ((rc = slt_buf_append(b, p + start, i - start)) < 0 ||
            (rc = slt_buf_append(b, esc, 2)) < 0)
            return rc;
        start = i + 1;
    }
    return slt_buf_append(b, p + start, len - start);
}

int slt_read_secret(const char *path, size_t max, char **out)
{
    struct slt_buf b;
    char chunk[512];
    ssize_t n;
    int fd, rc = 0;

    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    slt_buf_init(&b, max + 64); /* room for trailing whitespace */
    while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        if ((rc = slt_buf_append(&b, chunk, (size_t)n)) < 0)
            break;
    }
    close(fd);
    memset(chunk, 0, sizeof(chunk));
    while (rc == 0 && b.len &&
           (b.p[b.len - 1] == '\n' || b.p[b.len - 1] == '\r' || b.p[b.len - 1] == ' ' ||
            b.p[b.len - 1] == '\t'))
        b.len--;
    if (rc == 0 && b.len > max)
        rc = SLT_ELIMIT;
    if (rc == 0 && b.len == 0)
        rc = SLT_EINVAL;
    if (rc == 0) {
        *out = slt_strndup(b.p, b.len);
        if (!*out)
            rc = SLT_ENOMEM;
    }
    if (b.p)
        memset(b.p, 0, b.cap);
    slt_buf_release(&b);
    return rc;
}

const char *slt_secret_strerror(int rc)
{
    if (rc == SLT_EINVAL)
        return "empty";
    if (rc == SLT_ELIMIT)
        return "longer than the limit";
    return slt_strerror(rc);
}
