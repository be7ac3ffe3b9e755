/*
 * Small shared pieces: string slices, error codes, allocation, logging, bounded buffers
 * and the parsing of durations and sizes used by the config.
 */
#ifndef SLT_COMMON_H
#define SLT_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A borrowed slice of bytes; not NUL-terminated. Valid as long as what it points into. */
struct slt_str {
    const char *p;
    size_t len;
};

#define SLT_STR_NULL ((struct slt_str){NULL, 0})

static inline struct slt_str slt_str_make(const char *p, size_t len)
{
    struct slt_str s = {p, len};
    return s;
}

/* 1 when s holds exactly the C string c. */
static inline int slt_str_eq(struct slt_str s, const char *c)
{
    size_t n = strlen(c);
    return s.len == n && (n == 0 || memcmp(s.p, c, n) == 0);
}

/*
 * Error codes. Functions that can fail return 0 or a negative code: -errno for system
 * errors, one of these for our own. slt_strerror() names either.
 */
/* name, text: the one list of our own codes, in the spirit of libuv's UV_ERRNO_MAP. */
#define SLT_ERRNO_MAP(XX)                                                                          \
    XX(EINVAL, "invalid value")        /* bad argument or value */                                 \
    XX(ELIMIT, "limit reached")        /* a configured bound was reached */                        \
    XX(EPARSE, "does not parse")       /* input does not parse */                                  \
    XX(ECONFIG, "config rejected")     /* config rejected */                                       \
    XX(EPROTO, "protocol error")       /* protocol violation */                                    \
    XX(EAUTH, "authentication failed") /* authentication failed */                                 \
    XX(ENOTFOUND, "not found")         /* no such name */                                          \
    XX(ECORRUPT, "data corrupt")       /* on-disk data failed its check */                         \
    XX(EREDIS, "redis error")          /* Redis error or unavailable */                            \
    XX(ETIMEDOUT, "timed out")         /* an operation ran out of time */                          \
    XX(ENOMEM, "out of memory")        /* allocation failed */

enum slt_err {
    SLT__EFIRST = -10002,
#define SLT_ERR_ENUM(name, text) SLT_##name,
    SLT_ERRNO_MAP(SLT_ERR_ENUM)
#undef SLT_ERR_ENUM
};

const char *slt_strerror(int err);

/*
 * The one lifecycle verb. Everything that owns libuv handles ends the same way:
 *
 *   void slt_X_close(struct slt_X *x, slt_closed_cb on_closed, void *data);
 *
 * It stops x, cancels what x has in flight (their callbacks run from the loop, as x's header
 * says), closes x's handles and, after the last close callback, frees what x allocated (x
 * itself when x_new() allocated it) and then runs on_closed(data) -- so the loop must run
 * once more. on_closed may be NULL. A second call does nothing. x NULL: on_closed runs now.
 */
typedef void (*slt_closed_cb)(void *data);

/* FNV-1a 64 (offset basis 14695981039346656037) of n bytes; the one copy in the tree. */
uint64_t slt_fnv1a64(const void *p, size_t n);

/*
 * All allocation goes through these so tests can make one fail. slt_free(NULL) does nothing.
 * slt_alloc_fail_after(n): the allocation after the next n succeeds fails (n < 0 turns it off).
 */
void *slt_malloc(size_t n);
void *slt_calloc(size_t count, size_t size);
void *slt_realloc(void *p, size_t n);
void slt_free(void *p);
char *slt_strdup(const char *s);
char *slt_strndup(const char *s, size_t n);
void slt_alloc_fail_after(long n);

/* Logging to stderr, one line per event. The macro checks the level before evaluating args. */
enum slt_log_level {
    SLT_LOG_ERROR = 0,
    SLT_LOG_WARN = 1,
    SLT_LOG_INFO = 2,
    SLT_LOG_DEBUG = 3,
};
extern int slt_log_level;
#define slt_log(level, component, ...)                                                             \
    do {                                                                                           \
        if ((level) <= slt_log_level)                                                              \
            slt__log((level), (component), __VA_ARGS__);                                           \
    } while (0)
void slt__log(int level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * For the daemons, once at start: when stderr is the systemd journal ($JOURNAL_STREAM names
 * stderr's device:inode) every line starts with its syslog priority, "<3>" error, "<4>" warn,
 * "<6>" info, "<7>" debug, so `journalctl -p warning` filters; otherwise with a UTC timestamp
 * ("2026-12-05T01:02:03.456Z"). Without this call (the CLI) lines have neither.
 */
void slt_log_setup_daemon(void);

/*
 * A growable byte buffer with a hard maximum given at init. Appending past max returns
 * SLT_ELIMIT and leaves the buffer as it was.
 */
struct slt_buf {
    char *p;
    size_t len;
    size_t cap;
    size_t max;
};

void slt_buf_init(struct slt_buf *b, size_t max);
void slt_buf_release(struct slt_buf *b);
int slt_buf_reserve(struct slt_buf *b, size_t extra);
int slt_buf_append(struct slt_buf *b, const void *p, size_t n);
int slt_buf_printf(struct slt_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drops the first n bytes. */
void slt_buf_consume(struct slt_buf *b, size_t n);
/*
 * The one Prometheus label escaper (text format 0.0.4): appends p[0..len) as a label value,
 * '\\' -> "\\\\", '"' -> "\\\"", newline -> "\\n", without the quotes. 0 or SLT_ELIMIT.
 */
int slt_prom_escape_label(struct slt_buf *b, const char *p, size_t len);

/*
 * "300ms", "2s", "1.5s", "250us", "5m", "2h", "28d", "1w" into microseconds. A bare number is
 * rejected unless default_unit_us is non-zero, in which case it is multiplied by it.
 */
int slt_parse_duration_us(const char *s, size_t len, int64_t default_unit_us, int64_t *out);
/* "64MiB", "10MB", "4096", "1GiB", "512KiB" into bytes. */
int slt_parse_size(const char *s, size_t len, uint64_t *out);

/* Decimal digits of v at out (room for 20), no NUL; returns how many. */
size_t slt_fmt_u64(char *out, uint64_t v);
/* fsync(2) a directory, so a rename or create in it is durable; 0 or -errno. */
int slt_fsync_dir(const char *dir);

/* write(2) until done or error; returns 0 or -errno. */
int slt_write_all(int fd, const void *p, size_t n);
/* Wall clock in ms and a monotonic clock in ns. */
int64_t slt_now_ms(void);
uint64_t slt_mono_ns(void);

/* Constant-time comparison of two byte strings (the length is not secret). */
int slt_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

/*
 * The one reader of secrets (tokens, passwords, keys) from files: at most max bytes, trailing
 * whitespace (the newline) dropped, not empty. *out is a new NUL-terminated string (slt_free;
 * wipe it first). Returns 0, -errno, SLT_ELIMIT (longer than max) or SLT_EINVAL (empty); the
 * secret never appears in messages, and slt_secret_strerror() says what was wrong.
 */
int slt_read_secret(const char *path, size_t max, char **out);
/* "empty", "longer than the limit" or slt_strerror(rc), for an error of slt_read_secret. */
const char *slt_secret_strerror(int rc);
/*
 * The bound of the shared tokens: agent.token_file / aggregator.token_file and
 * agent.status_token_file / aggregator.api_token_file hold at most this many bytes (after the
 * trailing newline is dropped); longer files are refused at start and at reload.
 */
#define SLT_TOKEN_MAX 4096

#define SLT_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define SLT_BUG(msg) slt__bug(__FILE__, __LINE__, (msg))
void slt__bug(const char *file, int line, const char *msg) __attribute__((noreturn));

#endif
