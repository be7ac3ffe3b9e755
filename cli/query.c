/*
 * `slitail query`: the aggregator's HTTP API for people at a terminal. A tiny HTTP/1.1 client
 * over a plain socket (one request, Connection: close, bounded response), JSON read with
 * jansson, printed as a table or, with --json, as indented JSON.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "slt/common.h"

#define MAX_RESPONSE (64u << 20)
#define DEFAULT_SERVER "http://127.0.0.1:7480"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: slitail query [--server URL] [--json] [--timeout SECONDS] COMMAND\n"
            "\n"
            "commands:\n"
            "  slis                          every SLI with totals over the default window\n"
            "  counts NAME [--from T] [--to T] [--step D]\n"
            "                                good, bad, excluded and ratio over [from, to)\n"
            "  slos                          SLO attainment, error budget, burn rates, alerts\n"
            "\n"
            "T is UNIX seconds, 'now', or relative to now: -1h, -30m, now-2d (default: -1h to\n"
            "now; from is rounded down and to up to whole minutes). D is a duration (5m, 1h) or\n"
            "seconds, a multiple of 60. --server defaults to " DEFAULT_SERVER ".\n");
}

/* ---- times -------------------------------------------------------------------------------- */

/* Sets *relative when s is relative to now. */
static int parse_time(const char *s, int64_t now, int64_t *out, int *relative)
{
    int64_t us;
    const char *rel = NULL;
    char *end;

    *relative = 1;
    if (strcmp(s, "now") == 0) {
        *out = now;
        return 0;
    }
    if (strncmp(s, "now-", 4) == 0)
        rel = s + 4;
    else if (s[0] == '-')
        rel = s + 1;
    if (rel) {
        if (slt_parse_duration_us(rel, strlen(rel), 1000000, &us) < 0 || us < 0)
            return SLT_EINVAL;
        *out = now - us / 1000000;
        return 0;
    }
    *relative = 0;
    errno = 0;
    *out = strtoll(s, &end, 10);
    if (errno || end == s || *end || *out < 0)
        return SLT_EINVAL;
    return 0;
}

static const char *fmt_time(int64_t t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (!gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M", &tm))
        snprintf(buf, len, "%" PRId64, t);
    return buf;
}

/* ---- HTTP --------------------------------------------------------------------------------- */

struct server {
    char host[256];
    char port[8];
    char prefix[256]; /* path prefix without trailing slash */
};

static int parse_server(const char *url, struct server *s)
{
    const char *p = url, *slash, *colon, *hend;
    size_t hlen;

    memset(s, 0, sizeof(*s));
    if (strncmp(p, "http://", 7) == 0)
        p += 7;
    else if (strstr(p, "://"))
        return SLT_EINVAL; /* https and others are not spoken here */
    slash = strchr(p, '/');
    hend = slash ? slash : p + strlen(p);
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(hend - p));

        if (!rb)
            return SLT_EINVAL;
        hlen = (size_t)(rb - p - 1);
        if (hlen == 0 || hlen >= sizeof(s->host))
            return SLT_EINVAL;
        memcpy(s->host, p + 1, hlen);
        colon = rb + 1 < hend && rb[1] == ':' ? rb + 1 : NULL;
    } else {
        colon = memchr(p, ':', (size_t)(hend - p));
        hlen = (size_t)((colon ? colon : hend) - p);
        if (hlen == 0 || hlen >= sizeof(s->host))
            return SLT_EINVAL;
        memcpy(s->host, p, hlen);
    }
    if (colon) {
        size_t plen = (size_t)(hend - colon - 1);

        if (plen == 0 || plen >= sizeof(s->port))
            return SLT_EINVAL;
        memcpy(s->port, colon + 1, plen);
    } else {
        strcpy(s->port, "80");
    }
    if (slash) {
        size_t n = strlen(slash);

        while (n > 0 && slash[n - 1] == '/')
            n--;
        if (n >= sizeof(s->prefix))
            return SLT_EINVAL;
        memcpy(s->prefix, slash, n);
    }
    return 0;
}

static int dial(const struct server *s, int timeout_s)
{
    struct addrinfo hints, *res = NULL, *ai;
    struct timeval tv = {timeout_s, 0};
    int fd = -1, rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(s->host, s->port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "slitail query: cannot resolve '%s': %s\n", s->host, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        /* on Linux SO_SNDTIMEO bounds connect(2) too */
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        rc = errno;
        close(fd);
        fd = -1;
        errno = rc;
    }
    freeaddrinfo(res);
    if (fd < 0)
        fprintf(stderr, "slitail query: cannot connect to %s:%s: %s\n", s->host, s->port,
                strerror(errno));
    return fd;
}

/*
 * Decodes the chunked body p[0..len) in place and NUL-terminates it (the result is never
 * longer). Trailers are ignored. Returns 0, or -1 when the encoding is broken.
 */
static int dechunk(char *p, size_t len)
{
    char *in = p, *out = p, *lim = p + len, *end;

    for (;;) {
        unsigned long long n;
        char *eol;

        errno = 0;
        n = strtoull(in, &end, 16);
        if (errno || end == in || end >= lim)
            return -1;
        eol = memmem(end, (size_t)(lim - end), "\r\n", 2); /* skips chunk extensions */
        if (!eol)
            return -1;
        in = eol + 2;
        if (n == 0)
            break;
        if ((unsigned long long)(lim - in) < n + 2 || in[n] != '\r' || in[n + 1] != '\n')
            return -1;
        memmove(out, in, n);
        out += n;
        in += n + 2;
    }
    *out = '\0';
    return 0;
}

/*
 * GET target; on success *status and *body (NUL-terminated, caller frees). Returns 0, or -1
 * after printing why.
 */
static int http_get(const struct server *s, const char *target, int timeout_s, int *status,
                    char **body)
{
    struct slt_buf req, resp;
    char *hend, *cl;
    int fd, rc = -1;
    size_t off;

    slt_buf_init(&req, 8192);
    slt_buf_init(&resp, MAX_RESPONSE);
    fd = dial(s, timeout_s);
    if (fd < 0)
        goto out;
    if (slt_buf_printf(&req,
                       "GET %s%s HTTP/1.1\r\nHost: %s:%s\r\nAccept: application/json\r\n"
                       "User-Agent: slitail-query\r\nConnection: close\r\n\r\n",
                       s->prefix, target, s->host, s->port) < 0) {
        fprintf(stderr, "slitail query: request too long\n");
        goto out;
    }
    if (slt_write_all(fd, req.p, req.len) < 0) {
        fprintf(stderr, "slitail query: cannot send the request: %s\n", strerror(errno));
        goto out;
    }
    for (;;) {
        ssize_t n;

        if (slt_buf_reserve(&resp, 65536) < 0 && slt_buf_reserve(&resp, 1) < 0) {
            fprintf(stderr, "slitail query: response larger than %u bytes\n", MAX_RESPONSE);
            goto out;
        }
        n = read(fd, resp.p + resp.len, resp.cap - resp.len - 1);
        if (n == 0)
            break;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "slitail query: reading the response: %s\n",
                    errno == EAGAIN ? "timed out" : strerror(errno));
            goto out;
        }
        resp.len += (size_t)n;
    }
    if (slt_buf_append(&resp, "", 1) < 0) {
        fprintf(stderr, "slitail query: response too large\n");
        goto out;
    }
    if (sscanf(resp.p, "HTTP/1.%*d %d", status) != 1 || !(hend = strstr(resp.p, "\r\n\r\n"))) {
        fprintf(stderr, "slitail query: '%s:%s' did not answer HTTP\n", s->host, s->port);
        goto out;
    }
    off = (size_t)(hend + 4 - resp.p);
    /* honour Content-Length when present (the body may not end in NUL otherwise) */
    *hend = '\0';
    cl = strcasestr(resp.p, "\r\ncontent-length:");
    if (cl) {
        unsigned long long n = strtoull(cl + 17, NULL, 10);

        if (n < resp.len - off)
            resp.p[off + n] = '\0';
    } else if (strcasestr(resp.p, "\r\ntransfer-encoding: chunked")) {
        /* a proxy in front of the API may re-chunk the answer */
        if (dechunk(resp.p + off, resp.len - 1 - off) < 0) {
            fprintf(stderr, "slitail query: bad chunked encoding from '%s:%s'\n", s->host, s->port);
            goto out;
        }
    }
    *body = slt_strdup(resp.p + off);
    rc = *body ? 0 : -1;
out:
    if (fd >= 0)
        close(fd);
    slt_buf_release(&req);
    slt_buf_release(&resp);
    return rc;
}

/* Percent-encodes everything but unreserved characters. */
static int pct_encode(const char *in, char *out, size_t max)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    for (; *in; in++) {
        unsigned char c = (unsigned char)*in;

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            if (o + 2 > max)
                return SLT_ELIMIT;
            out[o++] = (char)c;
        } else {
            if (o + 4 > max)
                return SLT_ELIMIT;
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return 0;
}

/* ---- output ------------------------------------------------------------------------------- */

static json_int_t jint(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static void fmt_ratio(json_t *v, char *buf, size_t len)
{
    if (json_is_number(v))
        snprintf(buf, len, "%.4f%%", 100.0 * json_number_value(v));
    else
        snprintf(buf, len, "-");
}

static void print_counts_row(json_t *o, const char *label)
{
    char ratio[32];

    fmt_ratio(json_object_get(o, "ratio"), ratio, sizeof(ratio));
    printf("%-24s %12" JSON_INTEGER_FORMAT " %10" JSON_INTEGER_FORMAT " %10" JSON_INTEGER_FORMAT
           " %10s\n",
           label, jint(o, "good"), jint(o, "bad"), jint(o, "excluded"), ratio);
}

static void print_slis(json_t *j)
{
    json_t *arr = json_object_get(j, "slis"), *s;
    char a[32], b[32];
    size_t i;
    int starred = 0;

    printf("window %s .. %s UTC\n\n", fmt_time(jint(j, "from"), a, sizeof(a)),
           fmt_time(jint(j, "to"), b, sizeof(b)));
    printf("%-24s %12s %10s %10s %10s\n", "SLI", "good", "bad", "excluded", "ratio");
    json_array_foreach(arr, i, s)
    {
        const char *name = json_string_value(json_object_get(s, "name"));
        char label[64];

        snprintf(label, sizeof(label), "%s%s", name ? name : "?",
                 json_is_true(json_object_get(s, "configured")) ? "" : " *");
        starred |= !json_is_true(json_object_get(s, "configured"));
        if (json_object_get(s, "good"))
            print_counts_row(s, label);
        else
            printf("%-24s %12s\n", label, "(not counted)");
    }
    if (json_array_size(arr) == 0)
        printf("(no SLI known yet)\n");
    if (starred)
        printf("\n* seen in Redis but not in the aggregator's config\n");
    if (json_is_true(json_object_get(j, "partial")))
        printf("partial: some buckets are past their retention\n");
}

static void print_counts(json_t *j)
{
    json_t *series = json_object_get(j, "series"), *p;
    char a[32], b[32];
    size_t i;

    printf("SLI %s, %s .. %s UTC\n\n", json_string_value(json_object_get(j, "sli")),
           fmt_time(jint(j, "from"), a, sizeof(a)), fmt_time(jint(j, "to"), b, sizeof(b)));
    printf("%-24s %12s %10s %10s %10s\n", "from (UTC)", "good", "bad", "excluded", "ratio");
    json_array_foreach(series, i, p)
    {
        print_counts_row(p, fmt_time(jint(p, "from"), a, sizeof(a)));
    }
    if (json_array_size(series))
        printf("\n");
    print_counts_row(j, "total");
    if (json_is_true(json_object_get(j, "partial")))
        printf("\npartial: some buckets of the range are past their retention\n");
}

static void print_slos(json_t *j)
{
    json_t *arr = json_object_get(j, "slos"), *o;
    size_t i;

    if (json_array_size(arr) == 0) {
        printf("(no SLO configured)\n");
        return;
    }
    printf("%-20s %9s %7s %11s %11s %8s %8s %8s %8s  %s\n", "SLO", "objective", "window",
           "attainment", "budget left", "burn 5m", "burn 30m", "burn 1h", "burn 6h", "alert");
    json_array_foreach(arr, i, o)
    {
        json_t *burn = json_object_get(o, "burn_rates"), *al = json_object_get(o, "alerts");
        char att[32], bud[32], win[32];

        fmt_ratio(json_object_get(o, "attainment"), att, sizeof(att));
        fmt_ratio(json_object_get(o, "error_budget_remaining"), bud, sizeof(bud));
        snprintf(win, sizeof(win), "%" JSON_INTEGER_FORMAT "d", jint(o, "window_seconds") / 86400);
        printf("%-20s %8.3f%% %7s %11s %11s %8.2f %8.2f %8.2f %8.2f  %s\n",
               json_string_value(json_object_get(o, "name")),
               json_number_value(json_object_get(o, "objective")), win, att, bud,
               json_number_value(json_object_get(burn, "5m")),
               json_number_value(json_object_get(burn, "30m")),
               json_number_value(json_object_get(burn, "1h")),
               json_number_value(json_object_get(burn, "6h")),
               json_is_true(json_object_get(al, "fast_burn"))   ? "FAST BURN"
               : json_is_true(json_object_get(al, "slow_burn")) ? "SLOW BURN"
                                                                : "-");
    }
}

/* ---- main --------------------------------------------------------------------------------- */

int slt_cli_query(int argc, char **argv)
{
    const char *server_url = DEFAULT_SERVER, *cmd = NULL, *name = NULL;
    const char *from_s = "-1h", *to_s = "now", *step_s = NULL;
    int json_out = 0, timeout_s = 10, status = 0, i, rc, from_rel = 0, to_rel = 0;
    struct server srv;
    char target[1024], enc[800], *body = NULL;
    int64_t now = slt_now_ms() / 1000, from, to, step = 0;
    json_t *j;
    json_error_t jerr;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            json_out = 1;
        } else if ((strcmp(a, "--server") == 0 || strcmp(a, "--from") == 0 ||
                    strcmp(a, "--to") == 0 || strcmp(a, "--step") == 0 ||
                    strcmp(a, "--timeout") == 0)) {
            if (i + 1 >= argc) {
                fprintf(stderr, "slitail query: %s needs a value\n", a);
                return 2;
            }
            if (strcmp(a, "--server") == 0)
                server_url = argv[++i];
            else if (strcmp(a, "--from") == 0)
                from_s = argv[++i];
            else if (strcmp(a, "--to") == 0)
                to_s = argv[++i];
            else if (strcmp(a, "--step") == 0)
                step_s = argv[++i];
            else
                timeout_s = atoi(argv[++i]);
        } else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "slitail query: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        } else if (!cmd) {
            cmd = a;
        } else if (!name) {
            name = a;
        } else {
            fprintf(stderr, "slitail query: unexpected argument '%s'\n", a);
            return 2;
        }
    }
    if (!cmd) {
        usage(stderr);
        return 2;
    }
    if (timeout_s <= 0)
        timeout_s = 10;
    if (parse_server(server_url, &srv) < 0) {
        fprintf(stderr, "slitail query: bad --server '%s' (want http://host:port)\n", server_url);
        return 2;
    }
    if (strcmp(cmd, "slis") == 0 && !name) {
        snprintf(target, sizeof(target), "/api/v1/slis");
    } else if (strcmp(cmd, "slos") == 0 && !name) {
        snprintf(target, sizeof(target), "/api/v1/slos");
    } else if (strcmp(cmd, "counts") == 0) {
        if (!name) {
            fprintf(stderr, "slitail query: counts needs an SLI name\n");
            return 2;
        }
        if (parse_time(from_s, now, &from, &from_rel) < 0 ||
            parse_time(to_s, now, &to, &to_rel) < 0) {
            fprintf(stderr, "slitail query: bad time '%s' (UNIX seconds, now, -1h, now-2d)\n",
                    parse_time(from_s, now, &from, &from_rel) < 0 ? from_s : to_s);
            return 2;
        }
        from = from / 60 * 60;
        to = (to + 59) / 60 * 60;
        if (step_s) {
            int64_t us;

            if (slt_parse_duration_us(step_s, strlen(step_s), 1000000, &us) < 0 || us < 60000000 ||
                us % 60000000) {
                fprintf(stderr, "slitail query: bad --step '%s' (a multiple of 60 seconds)\n",
                        step_s);
                return 2;
            }
            step = us / 1000000;
            /* a relative start snaps to the step, so points fall on :00, :15... */
            if (from_rel && 86400 % step == 0)
                from = from / step * step;
        }
        if (pct_encode(name, enc, sizeof(enc)) < 0) {
            fprintf(stderr, "slitail query: SLI name too long\n");
            return 2;
        }
        if (step)
            snprintf(target, sizeof(target),
                     "/api/v1/slis/%s/counts?from=%" PRId64 "&to=%" PRId64 "&step=%" PRId64, enc,
                     from, to, step);
        else
            snprintf(target, sizeof(target), "/api/v1/slis/%s/counts?from=%" PRId64 "&to=%" PRId64,
                     enc, from, to);
    } else {
        fprintf(stderr, "slitail query: unknown command '%s'\n", cmd);
        usage(stderr);
        return 2;
    }
    if (http_get(&srv, target, timeout_s, &status, &body) < 0)
        return 1;
    j = json_loads(body, 0, &jerr);
    if (!j) {
        fprintf(stderr, "slitail query: the server answered HTTP %d with no JSON: %s\n", status,
                jerr.text);
        slt_free(body);
        return 1;
    }
    slt_free(body);
    if (status != 200) {
        const char *e = json_string_value(json_object_get(j, "error"));

        fprintf(stderr, "slitail query: %s (HTTP %d)\n", e ? e : "request failed", status);
        json_decref(j);
        return 1;
    }
    rc = 0;
    if (json_out) {
        char *s = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(12));

        if (s) {
            puts(s);
            free(s);
        } else {
            rc = 1;
        }
    } else if (strcmp(cmd, "slis") == 0) {
        print_slis(j);
    } else if (strcmp(cmd, "slos") == 0) {
        print_slos(j);
    } else {
        print_counts(j);
    }
    json_decref(j);
    return rc;
}

/* ---- for the other subcommands (cli.h) ---------------------------------------------------- */

int slt__cli_parse_time(const char *s, int64_t now, int64_t *out)
{
    int rel;

    return parse_time(s, now, out, &rel);
}

int slt__cli_get_json(const char *server_url, const char *target, int timeout_s, json_t **out)
{
    struct server srv;
    json_error_t jerr;
    char *body = NULL;
    int status = 0;
    json_t *j;

    *out = NULL;
    if (parse_server(server_url, &srv) < 0) {
        fprintf(stderr, "slitail: bad --url '%s' (want http://host:port)\n", server_url);
        return -1;
    }
    if (http_get(&srv, target, timeout_s > 0 ? timeout_s : 10, &status, &body) < 0)
        return -1;
    j = json_loads(body, 0, &jerr);
    slt_free(body);
    if (!j) {
        fprintf(stderr, "slitail: the aggregator answered HTTP %d with no JSON: %s\n", status,
                jerr.text);
        return -1;
    }
    if (status != 200) {
        const char *e = json_string_value(json_object_get(j, "error"));

        fprintf(stderr, "slitail: %s: %s (HTTP %d)\n", target, e ? e : "request failed", status);
        json_decref(j);
        return -1;
    }
    *out = j;
    return 0;
}

int slt__cli_pct_encode(const char *in, char *out, size_t max)
{
    return pct_encode(in, out, max);
}
