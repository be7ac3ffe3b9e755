/*
 * `slitail query`: the aggregator's HTTP API for people at a terminal. One GET through
 * libcurl's easy interface (http:// or https://, bounded response), JSON read with jansson,
 * printed as a table or, with --json, as indented JSON.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "slt/common.h"
#include "slt/curl_dl.h"

#define MAX_RESPONSE (64u << 20)
#define DEFAULT_SERVER "http://127.0.0.1:7480"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: slitail query [--server URL] [--ca-file PEM] [--token-file FILE] [--json]\n"
            "                     [--timeout SECONDS] COMMAND\n"
            "\n"
            "commands:\n"
            "  slis                          every SLI with totals over the default window\n"
            "  counts NAME [--from T] [--to T] [--step D]\n"
            "                                good, bad, excluded and ratio over [from, to)\n"
            "  slos                          SLO attainment, error budget, burn rates, alerts\n"
            "\n"
            "T is UNIX seconds, 'now', or relative to now: -1h, -30m, now-2d (default: -1h to\n"
            "now; from is rounded down and to up to whole minutes). D is a duration (5m, 1h) or\n"
            "seconds, a multiple of 60. --server defaults to " DEFAULT_SERVER "; an https://\n"
            "server is verified against --ca-file (default: the system's CAs). --token-file\n"
            "holds a token sent as 'Authorization: Bearer' (aggregator.api_token_file). The\n"
            "proxy variables https_proxy, http_proxy and no_proxy apply.\n");
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

/* ---- HTTP (libcurl) ------------------------------------------------------------------------ */

/*
 * libcurl is loaded when a query runs (slt/curl_dl.h), not when slitail starts: with its TLS,
 * HTTP/2, IDN, LDAP... dependencies it would add 6 MB to the resident size of every
 * `slitail check`, whose peak stays under 8 MiB (docs/CLI.md). The package depends on libcurl4.
 */

/* TLS and credentials from the command line. */
struct client_opts {
    const char *ca_file;
    const char *token_file;
    int timeout_s;
};

/* The response body, bounded by MAX_RESPONSE. */
static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct slt_buf *b = arg;

    if (slt_buf_append(b, p, size * n) < 0)
        return 0; /* over the bound: libcurl ends the transfer with CURLE_WRITE_ERROR */
    return size * n;
}

/*
 * The API's base URL from --server: http:// or https://, or a bare host:port (http), without
 * trailing slashes. A new string, or NULL when the URL is not one of those.
 */
static char *base_url(const char *server)
{
    struct slt_buf b;
    size_t n = strlen(server);

    slt_buf_init(&b, 4096);
    if (!strstr(server, "://") && slt_buf_append(&b, "http://", 7) < 0)
        return NULL;
    else if (strstr(server, "://") && strncmp(server, "http://", 7) != 0 &&
             strncmp(server, "https://", 8) != 0)
        return NULL;
    while (n > 0 && server[n - 1] == '/')
        n--;
    if (slt_buf_append(&b, server, n) < 0 || slt_buf_append(&b, "", 1) < 0) {
        slt_buf_release(&b);
        return NULL;
    }
    return b.p;
}

/*
 * GETs base + target; on success *status and *body (NUL-terminated, caller frees with
 * slt_free). Returns 0, or -1 after printing why. libcurl brings https:// (verified against
 * --ca-file or the system's store), the proxy variables, chunked answers from proxies.
 */
static int http_get(const char *base, const char *target, const struct client_opts *o, int *status,
                    char **body)
{
    char url[8192], errbuf[CURL_ERROR_SIZE] = "", *token = NULL;
    struct curl_slist *hdrs = NULL;
    struct slt_buf resp;
    CURL *e = NULL;
    CURLcode cc;
    long code = 0;
    int rc = -1;

    slt_buf_init(&resp, MAX_RESPONSE);
    if ((size_t)snprintf(url, sizeof(url), "%s%s", base, target) >= sizeof(url)) {
        fprintf(stderr, "slitail query: request too long\n");
        return -1;
    }
    if (o->token_file) {
        int r = slt_read_secret(o->token_file, 16384, &token);

        if (r < 0) {
            fprintf(stderr, "slitail query: cannot read --token-file '%s': %s\n", o->token_file,
                    r == SLT_EINVAL ? "empty" : slt_strerror(r));
            return -1;
        }
    }
    if (slt_curl_load(errbuf, sizeof(errbuf)) < 0) {
        fprintf(stderr, "slitail query: %s\n", errbuf);
        if (token)
            memset(token, 0, strlen(token));
        slt_free(token);
        return -1;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(e = curl_easy_init()) ||
        !(hdrs = curl_slist_append(NULL, "Accept: application/json"))) {
        fprintf(stderr, "slitail query: cannot start libcurl\n");
        goto out;
    }
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)o->timeout_s);
    curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "slitail-query");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    if (o->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, o->ca_file);
    if (token) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
        curl_easy_setopt(e, CURLOPT_XOAUTH2_BEARER, token);
    }
    cc = curl_easy_perform(e);
    if (cc == CURLE_WRITE_ERROR && resp.len + CURL_MAX_WRITE_SIZE >= MAX_RESPONSE) {
        fprintf(stderr, "slitail query: response larger than %u bytes\n", MAX_RESPONSE);
        goto out;
    }
    if (cc != CURLE_OK) {
        fprintf(stderr, "slitail query: cannot get %s: %s\n", url,
                errbuf[0] ? errbuf : curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    if (slt_buf_append(&resp, "", 1) < 0) {
        fprintf(stderr, "slitail query: response larger than %u bytes\n", MAX_RESPONSE);
        goto out;
    }
    *status = (int)code;
    *body = slt_strdup(resp.p);
    rc = *body ? 0 : -1;
out:
    if (token) {
        memset(token, 0, strlen(token));
        slt_free(token);
    }
    curl_slist_free_all(hdrs);
    if (e)
        curl_easy_cleanup(e);
    curl_global_cleanup();
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
    printf("%-20s %9s %7s %11s %11s %-10s %8s %8s %8s %8s  %s\n", "SLO", "objective", "window",
           "attainment", "budget left", "status", "burn 5m", "burn 30m", "burn 1h", "burn 6h",
           "firing");
    json_array_foreach(arr, i, o)
    {
        json_t *burn = json_object_get(o, "burn_rates"), *al = json_object_get(o, "alerts"), *a;
        char att[32], bud[32], win[32], firing[256] = "";
        const char *st = json_string_value(json_object_get(o, "budget_status"));
        size_t k, n = 0;

        fmt_ratio(json_object_get(o, "attainment"), att, sizeof(att));
        fmt_ratio(json_object_get(o, "error_budget_remaining"), bud, sizeof(bud));
        snprintf(win, sizeof(win), "%" JSON_INTEGER_FORMAT "d", jint(o, "window_seconds") / 86400);
        /* the tiers that fire, by name */
        json_array_foreach(al, k, a)
        {
            const char *name = json_string_value(json_object_get(a, "name"));

            if (json_is_true(json_object_get(a, "firing")) && name && n < sizeof(firing))
                n += (size_t)snprintf(firing + n, sizeof(firing) - n, "%s%s", n ? "," : "", name);
        }
        printf("%-20s %8.3f%% %7s %11s %11s %-10s %8.2f %8.2f %8.2f %8.2f  %s\n",
               json_string_value(json_object_get(o, "name")),
               json_number_value(json_object_get(o, "objective")), win, att, bud, st ? st : "-",
               json_number_value(json_object_get(burn, "5m")),
               json_number_value(json_object_get(burn, "30m")),
               json_number_value(json_object_get(burn, "1h")),
               json_number_value(json_object_get(burn, "6h")), firing[0] ? firing : "-");
    }
}

/* ---- main --------------------------------------------------------------------------------- */

int slt_cli_query(int argc, char **argv)
{
    const char *server_url = DEFAULT_SERVER, *cmd = NULL, *name = NULL;
    const char *from_s = "-1h", *to_s = "now", *step_s = NULL;
    int json_out = 0, timeout_s = 10, status = 0, i, rc, from_rel = 0, to_rel = 0;
    struct client_opts copts = {NULL, NULL, 10};
    char target[1024], enc[800], *body = NULL, *base;
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
                    strcmp(a, "--timeout") == 0 || strcmp(a, "--ca-file") == 0 ||
                    strcmp(a, "--token-file") == 0)) {
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
            else if (strcmp(a, "--ca-file") == 0)
                copts.ca_file = argv[++i];
            else if (strcmp(a, "--token-file") == 0)
                copts.token_file = argv[++i];
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
    copts.timeout_s = timeout_s;
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
    base = base_url(server_url);
    if (!base) {
        fprintf(stderr, "slitail query: bad --server '%s' (want http[s]://host:port)\n",
                server_url);
        return 2;
    }
    rc = http_get(base, target, &copts, &status, &body);
    slt_free(base);
    if (rc < 0)
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

int slt__cli_get_json(const char *server_url, const char *target, int timeout_s,
                      const char *ca_file, const char *token_file, json_t **out)
{
    struct client_opts o = {ca_file, token_file, timeout_s > 0 ? timeout_s : 10};
    json_error_t jerr;
    char *body = NULL, *base = base_url(server_url);
    int status = 0, rc;
    json_t *j;

    *out = NULL;
    if (!base) {
        fprintf(stderr, "slitail: bad --url '%s' (want http[s]://host:port)\n", server_url);
        return -1;
    }
    rc = http_get(base, target, &o, &status, &body);
    slt_free(base);
    if (rc < 0)
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
