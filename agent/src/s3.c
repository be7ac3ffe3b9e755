/* Objects of an S3 bucket read once each: see s3.h. */
#include "s3.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "arrive.h"
#include "objread.h"
#include "s3list.h"
#include "slt/common.h"
#include "slt/config.h"
#include "slt/curl_uv.h"

#define S3_LIST_MAX_BYTES (16u << 20)
#define S3_IMDS_MAX_BYTES 65536u
#define S3_MAX_PAGES 100
#define S3_REQ_TIMEOUT_MS 30000L
#define S3_IMDS_TIMEOUT_MS 5000L
#define S3_CRED_REFRESH_MS (5 * 60 * 1000LL)

enum s3_phase { P_IDLE, P_IMDS_TOKEN, P_IMDS_ROLE, P_IMDS_CREDS, P_LIST, P_GET };

struct seen {
    char *key;
    int64_t read_ms;
};

struct slt_s3 {
    uv_loop_t *loop;
    struct slt_curl_uv *cm;
    uv_timer_t timer;
    char *input, *bucket, *prefix, *region, *endpoint, *sigv4;
    int64_t poll_ms, lookback_ms;
    size_t max_line;
    slt_tail_line_cb on_line;
    void *data;

    /* credentials */
    char *akid, *secret, *token, *imds_token, *role;
    int64_t cred_expire_ms; /* 0: never */
    const char *cred_src;

    /* state */
    char *floor;
    struct seen *seen;
    size_t nseen;
    int list_to_end;  /* first start with read_from: end: the floor becomes the last key */
    char *resume_key; /* the object being read at the checkpoint, and its offset */
    uint64_t resume_off;

    /* the request in flight */
    enum s3_phase phase;
    CURL *easy;
    struct curl_slist *hdrs;
    struct slt_buf body;
    int body_over;
    char *list_token;
    int pages;
    char **cands; /* keys to read, sorted */
    size_t ncands, icand;

    /* the object being read */
    char *cur;
    struct slt_objread *r;
    unsigned char *pend; /* bytes of a write callback not fed while paused */
    size_t pend_len;
    int curl_paused;
    int finish_pending; /* the GET ended while its lines were paused */

    int paused, closing;
    void (*on_closed)(void *data);
    void *closed_data;
    uint64_t objects, lines, errors, list_errors, requests;
};

static void next_step(struct slt_s3 *s);

/* ---- small helpers ---- */

static int64_t wall_ms(void)
{
    return slt_now_ms();
}

static char *xstrdup(const char *p)
{
    return p ? slt_strdup(p) : NULL;
}

static void set_str(char **dst, char *v)
{
    slt_free(*dst);
    *dst = v;
}

/* Percent-encodes p into b: every byte but unreserved ones (and '/' when keep_slash). */
static int url_encode(struct slt_buf *b, const char *p, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = 0;

    for (; *p && rc == 0; p++) {
        unsigned char c = (unsigned char)*p;

        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
            (keep_slash && c == '/')) {
            rc = slt_buf_append(b, p, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};

            rc = slt_buf_append(b, e, 3);
        }
    }
    return rc;
}

/* The bucket's base URL (no trailing slash): path-style with an endpoint. */
static int base_url(struct slt_s3 *s, struct slt_buf *b)
{
    if (s->endpoint) {
        size_t n = strlen(s->endpoint);

        while (n > 0 && s->endpoint[n - 1] == '/')
            n--;
        if (slt_buf_append(b, s->endpoint, n) < 0 || slt_buf_append(b, "/", 1) < 0)
            return SLT_ENOMEM;
        return url_encode(b, s->bucket, 0);
    }
    return slt_buf_printf(b, "https://%s.s3.%s.amazonaws.com", s->bucket, s->region);
}

/* ---- credentials ---- */

static void creds_clear(struct slt_s3 *s)
{
    set_str(&s->akid, NULL);
    set_str(&s->secret, NULL);
    set_str(&s->token, NULL);
    s->cred_expire_ms = 0;
    s->cred_src = "none";
}

static int creds_from_env(struct slt_s3 *s)
{
    const char *id = getenv("AWS_ACCESS_KEY_ID"), *sec = getenv("AWS_SECRET_ACCESS_KEY");
    const char *tok = getenv("AWS_SESSION_TOKEN");

    if (!id || !*id || !sec || !*sec)
        return 0;
    set_str(&s->akid, xstrdup(id));
    set_str(&s->secret, xstrdup(sec));
    set_str(&s->token, tok && *tok ? xstrdup(tok) : NULL);
    s->cred_src = "env";
    return s->akid && s->secret ? 1 : SLT_ENOMEM;
}

static char *trim(char *p)
{
    char *e;

    while (*p == ' ' || *p == '\t')
        p++;
    e = p + strlen(p);
    while (e > p && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return p;
}

/* The shared credentials file (an INI file); 1 found, 0 not there. */
static int creds_from_file(struct slt_s3 *s)
{
    const char *path = getenv("AWS_SHARED_CREDENTIALS_FILE"), *home = getenv("HOME");
    const char *profile = getenv("AWS_PROFILE");
    char buf[4096], def[4096], line[4096];
    int in = 0;
    FILE *f;

    if (!profile || !*profile)
        profile = "default";
    if (!path || !*path) {
        if (!home)
            return 0;
        snprintf(def, sizeof(def), "%s/.aws/credentials", home);
        path = def;
    }
    f = fopen(path, "r");
    if (!f)
        return 0;
    snprintf(buf, sizeof(buf), "[%s]", profile);
    creds_clear(s);
    while (fgets(line, sizeof(line), f)) {
        char *l = trim(line), *eq;

        if (*l == '[') {
            in = strcmp(l, buf) == 0;
            continue;
        }
        if (!in || *l == '#' || *l == ';' || !(eq = strchr(l, '=')))
            continue;
        *eq = '\0';
        if (strcmp(trim(l), "aws_access_key_id") == 0)
            set_str(&s->akid, xstrdup(trim(eq + 1)));
        else if (strcmp(trim(l), "aws_secret_access_key") == 0)
            set_str(&s->secret, xstrdup(trim(eq + 1)));
        else if (strcmp(trim(l), "aws_session_token") == 0)
            set_str(&s->token, xstrdup(trim(eq + 1)));
    }
    fclose(f);
    if (!s->akid || !s->secret || !*s->akid || !*s->secret) {
        creds_clear(s);
        return 0;
    }
    s->cred_src = "file";
    return 1;
}

/* "Key" : "value" from a flat JSON object (the IMDS credentials document). */
static char *json_field(const char *json, const char *name)
{
    char pat[64];
    const char *p, *e;
    char *v;

    snprintf(pat, sizeof(pat), "\"%s\"", name);
    p = strstr(json, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ':')
        p++;
    if (*p != '"')
        return NULL;
    p++;
    e = strchr(p, '"');
    if (!e)
        return NULL;
    v = slt_malloc((size_t)(e - p) + 1);
    if (v) {
        memcpy(v, p, (size_t)(e - p));
        v[e - p] = '\0';
    }
    return v;
}

/* 2026-12-05T06:00:00Z as ms; 0 when it does not parse. */
static int64_t iso_ms(const char *t)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    if (!t || sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                     &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000;
}

static const char *imds_base(void)
{
    const char *e = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");

    return e && *e ? e : "http://169.254.169.254";
}

/* ---- requests ---- */

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct slt_s3 *s = arg;
    size_t len = size * n;

    if (s->body.len + len > (s->phase == P_LIST ? S3_LIST_MAX_BYTES : S3_IMDS_MAX_BYTES)) {
        s->body_over = 1;
        return 0; /* aborts the transfer */
    }
    if (slt_buf_append(&s->body, p, len) < 0)
        return 0;
    return len;
}

static void req_reset(struct slt_s3 *s)
{
    if (s->easy) {
        slt_curl_uv_cancel(s->cm, s->easy);
        curl_easy_cleanup(s->easy);
        s->easy = NULL;
    }
    curl_slist_free_all(s->hdrs);
    s->hdrs = NULL;
    s->body.len = 0;
    s->body_over = 0;
}

static void on_done(CURL *easy, CURLcode res, void *arg);

/* Starts a request of the current phase to url; signed unless imds. */
static int req_start(struct slt_s3 *s, const char *url, int imds, const char *method)
{
    CURL *e;
    int rc;

    req_reset(s);
    e = curl_easy_init();
    if (!e)
        return SLT_ENOMEM;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (s->phase == P_GET) {
        /* objects can be large: no total timeout, but not stalled for long (unless paused) */
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 300L);
    } else {
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, imds ? S3_IMDS_TIMEOUT_MS : S3_REQ_TIMEOUT_MS);
    }
    if (imds) {
        char h[600];

        if (strcmp(method, "PUT") == 0) {
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "PUT");
            s->hdrs = curl_slist_append(s->hdrs, "X-aws-ec2-metadata-token-ttl-seconds: 21600");
        } else if (s->imds_token) {
            snprintf(h, sizeof(h), "X-aws-ec2-metadata-token: %s", s->imds_token);
            s->hdrs = curl_slist_append(s->hdrs, h);
        }
    } else {
        curl_easy_setopt(e, CURLOPT_AWS_SIGV4, s->sigv4);
        curl_easy_setopt(e, CURLOPT_USERNAME, s->akid);
        curl_easy_setopt(e, CURLOPT_PASSWORD, s->secret);
        s->hdrs = curl_slist_append(s->hdrs, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
        if (s->token) {
            struct slt_buf h;

            slt_buf_init(&h, 1 << 16);
            if (slt_buf_printf(&h, "x-amz-security-token: %s", s->token) == 0)
                s->hdrs = curl_slist_append(s->hdrs, h.p);
            slt_buf_release(&h);
        }
    }
    if (s->hdrs)
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->hdrs);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
    s->easy = e;
    s->requests++;
    rc = slt_curl_uv_add(s->cm, e, on_done, s);
    if (rc < 0) {
        curl_easy_cleanup(e);
        s->easy = NULL;
    }
    return rc;
}

/* ---- the object being read ---- */

static void obj_line(void *data, struct slt_tail_file *f, const char *line, size_t len,
                     unsigned flags, uint64_t end)
{
    struct slt_s3 *s = data;

    s->on_line(s->data, f, line, len, flags, end);
}

static int is_gz_key(const char *k)
{
    size_t n = strlen(k);

    return n > 3 && strcmp(k + n - 3, ".gz") == 0;
}

/* Feeds bytes of the object; returns how many were taken (all unless paused). */
static size_t obj_feed(struct slt_s3 *s, const unsigned char *p, size_t n)
{
    size_t used = 0;

    if (!s->r) {
        int gz = is_gz_key(s->cur) || slt_objread_is_gzip(p, n);
        uint64_t skip = s->resume_key && strcmp(s->resume_key, s->cur) == 0 ? s->resume_off : 0;

        if (slt_objread_new(gz, s->max_line, skip, obj_line, s, &s->r) < 0)
            return 0;
        if (s->paused)
            slt_objread_pause(s->r);
    }
    while (used < n && !slt_objread_paused(s->r)) {
        long k = slt_objread_feed(s->r, p + used, n - used);

        if (k < 0)
            return n; /* corrupt: the rest is dropped, finish() reports it */
        used += (size_t)k;
    }
    return used;
}

static size_t on_object(char *p, size_t size, size_t n, void *arg)
{
    struct slt_s3 *s = arg;
    size_t len = size * n, used;
    long code = 0;

    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
    if (code != 200)
        return on_body(p, size, n, arg); /* an error document */
    if (s->pend_len || s->paused) {
        if (s->pend_len)
            return CURL_WRITEFUNC_PAUSE; /* curl keeps this chunk and hands it again */
    }
    used = obj_feed(s, (const unsigned char *)p, len);
    if (used < len) {
        s->pend = slt_malloc(len - used);
        if (!s->pend)
            return 0;
        memcpy(s->pend, p + used, len - used);
        s->pend_len = len - used;
        s->curl_paused = 1;
        /* this chunk was taken (the rest is in pend); curl holds the next ones */
    }
    return len;
}

static void seen_add(struct slt_s3 *s, const char *key, int64_t ms)
{
    struct seen *v = slt_realloc(s->seen, (s->nseen + 1) * sizeof(*v));

    if (!v)
        return;
    s->seen = v;
    v[s->nseen].key = slt_strdup(key);
    v[s->nseen].read_ms = ms;
    if (v[s->nseen].key)
        s->nseen++;
}

static int is_done(struct slt_s3 *s, const char *key)
{
    size_t i;

    if (s->floor && strcmp(key, s->floor) <= 0)
        return 1;
    for (i = 0; i < s->nseen; i++)
        if (strcmp(s->seen[i].key, key) == 0)
            return 1;
    return 0;
}

/* Moves the floor up over remembered keys read longer than lookback ago (or too many). */
static void advance_floor(struct slt_s3 *s)
{
    int64_t now = wall_ms();

    for (;;) {
        size_t i, lo = 0;

        if (!s->nseen)
            return;
        for (i = 1; i < s->nseen; i++)
            if (strcmp(s->seen[i].key, s->seen[lo].key) < 0)
                lo = i;
        if (now - s->seen[lo].read_ms < s->lookback_ms && s->nseen <= SLT_S3_MAX_SEEN)
            return;
        if (!s->floor || strcmp(s->seen[lo].key, s->floor) > 0) {
            slt_free(s->floor);
            s->floor = s->seen[lo].key;
        } else {
            slt_free(s->seen[lo].key);
        }
        s->seen[lo] = s->seen[--s->nseen];
    }
}

static void obj_drop(struct slt_s3 *s)
{
    if (s->r)
        s->lines += slt_objread_lines(s->r);
    slt_objread_free(s->r);
    s->r = NULL;
    slt_free(s->pend);
    s->pend = NULL;
    s->pend_len = 0;
    s->curl_paused = 0;
}

/* The current object is done (read, or given up). */
static void obj_done(struct slt_s3 *s)
{
    seen_add(s, s->cur, wall_ms());
    if (s->resume_key && strcmp(s->resume_key, s->cur) == 0)
        set_str(&s->resume_key, NULL);
    obj_drop(s);
    set_str(&s->cur, NULL);
    s->objects++;
    advance_floor(s);
}

/* ---- the steps ---- */

static void cands_clear(struct slt_s3 *s)
{
    size_t i;

    for (i = 0; i < s->ncands; i++)
        slt_free(s->cands[i]);
    slt_free(s->cands);
    s->cands = NULL;
    s->ncands = s->icand = 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int start_list(struct slt_s3 *s)
{
    struct slt_buf u;
    int rc;

    slt_buf_init(&u, 1 << 16);
    s->phase = P_LIST;
    /* parameters in sorted order: the SigV4 canonical query string */
    rc = base_url(s, &u);
    if (rc == 0 && s->list_token) {
        rc = slt_buf_printf(&u, "?continuation-token=");
        rc |= url_encode(&u, s->list_token, 0);
        rc |= slt_buf_printf(&u, "&list-type=2");
    } else if (rc == 0) {
        rc = slt_buf_printf(&u, "?list-type=2");
    }
    if (rc == 0 && s->prefix && *s->prefix) {
        rc = slt_buf_printf(&u, "&prefix=");
        rc |= url_encode(&u, s->prefix, 0);
    }
    if (rc == 0 && s->floor && *s->floor && !s->list_token) {
        rc = slt_buf_printf(&u, "&start-after=");
        rc |= url_encode(&u, s->floor, 0);
    }
    if (rc == 0)
        rc = slt_buf_append(&u, "", 1);
    if (rc == 0)
        rc = req_start(s, u.p, 0, "GET");
    slt_buf_release(&u);
    return rc;
}

static int start_get(struct slt_s3 *s, const char *key)
{
    struct slt_buf u;
    int rc;

    slt_buf_init(&u, 1 << 16);
    set_str(&s->cur, slt_strdup(key));
    if (!s->cur)
        return SLT_ENOMEM;
    s->phase = P_GET;
    rc = base_url(s, &u);
    rc |= slt_buf_append(&u, "/", 1);
    rc |= url_encode(&u, key, 1);
    rc |= slt_buf_append(&u, "", 1);
    if (rc == 0)
        rc = req_start(s, u.p, 0, "GET");
    if (rc == 0) {
        curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_object);
        curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
    }
    slt_buf_release(&u);
    return rc;
}

static int start_imds(struct slt_s3 *s, enum s3_phase ph)
{
    char url[1024];

    s->phase = ph;
    if (ph == P_IMDS_TOKEN) {
        snprintf(url, sizeof(url), "%s/latest/api/token", imds_base());
        return req_start(s, url, 1, "PUT");
    }
    if (ph == P_IMDS_ROLE) {
        snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/", imds_base());
        return req_start(s, url, 1, "GET");
    }
    snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/%s", imds_base(),
             s->role);
    return req_start(s, url, 1, "GET");
}

/* Credentials are there and fresh, or being fetched (0: go on; 1: wait; < 0 none). */
static int ensure_creds(struct slt_s3 *s)
{
    int64_t now = wall_ms();
    const char *dis;

    if (s->akid && (!s->cred_expire_ms || now < s->cred_expire_ms - S3_CRED_REFRESH_MS))
        return 0;
    creds_clear(s);
    if (creds_from_env(s) == 1 || creds_from_file(s) == 1)
        return 0;
    dis = getenv("AWS_EC2_METADATA_DISABLED");
    if (dis && strcmp(dis, "true") == 0)
        return SLT_EAUTH;
    return start_imds(s, P_IMDS_TOKEN) == 0 ? 1 : SLT_EAUTH;
}

/* What to do next, when nothing is in flight. */
static void next_step(struct slt_s3 *s)
{
    int rc;

    if (s->closing || s->easy || s->finish_pending)
        return;
    s->phase = P_IDLE;
    if (s->paused)
        return;
    if (s->icand < s->ncands) {
        const char *k = s->cands[s->icand];

        if (is_done(s, k)) {
            s->icand++;
            next_step(s);
            return;
        }
        if ((rc = ensure_creds(s)) != 0) {
            if (rc < 0)
                cands_clear(s);
            return;
        }
        if (start_get(s, k) < 0)
            cands_clear(s);
        return;
    }
    cands_clear(s);
}

static void on_timer(uv_timer_t *t)
{
    struct slt_s3 *s = t->data;
    int rc;

    if (s->closing || s->easy || s->paused || s->ncands)
        return;
    if ((rc = ensure_creds(s)) != 0) {
        if (rc < 0) {
            s->list_errors++;
            slt_log(SLT_LOG_WARN, "s3",
                    "input '%s': no AWS credentials (environment, shared credentials file or "
                    "instance metadata)",
                    s->input);
        }
        return;
    }
    s->pages = 0;
    set_str(&s->list_token, NULL);
    if (start_list(s) < 0)
        s->list_errors++;
}

static void list_done(struct slt_s3 *s, long code)
{
    struct slt_s3list l;
    size_t i;
    int rc;

    slt_s3list_init(&l);
    rc = slt_s3list_parse(&l, s->body.p ? s->body.p : "", s->body.len);
    if (code != 200 || rc < 0) {
        s->list_errors++;
        slt_log(SLT_LOG_WARN, "s3", "input '%s': listing s3://%s/%s failed: HTTP %ld %s%s%s",
                s->input, s->bucket, s->prefix, code, l.error_code ? l.error_code : "",
                l.error_message ? ": " : "", l.error_message ? l.error_message : "");
        if (l.error_code && (strcmp(l.error_code, "ExpiredToken") == 0 ||
                             strcmp(l.error_code, "InvalidAccessKeyId") == 0))
            creds_clear(s);
        slt_s3list_release(&l);
        set_str(&s->list_token, NULL);
        cands_clear(s);
        return;
    }
    for (i = 0; i < l.nkeys; i++) {
        const char *k = l.keys[i].key;
        char **nv;

        if (s->list_to_end) {
            if (!s->floor || strcmp(k, s->floor) > 0)
                set_str(&s->floor, slt_strdup(k));
            continue;
        }
        if (is_done(s, k))
            continue;
        nv = slt_realloc(s->cands, (s->ncands + 1) * sizeof(*nv));
        if (!nv)
            break;
        s->cands = nv;
        if ((s->cands[s->ncands] = slt_strdup(k)))
            s->ncands++;
    }
    set_str(&s->list_token, l.truncated && l.next_token ? xstrdup(l.next_token) : NULL);
    slt_s3list_release(&l);
    if (s->list_token && ++s->pages < S3_MAX_PAGES) {
        s->easy = NULL;
        if (start_list(s) < 0)
            s->list_errors++;
        return;
    }
    set_str(&s->list_token, NULL);
    if (s->list_to_end) {
        s->list_to_end = 0;
        slt_log(SLT_LOG_INFO, "s3", "input '%s': read_from end: starting after '%s'", s->input,
                s->floor ? s->floor : "");
    }
    if (s->ncands > 1)
        qsort(s->cands, s->ncands, sizeof(*s->cands), cmp_str);
    s->icand = 0;
}

static void get_done(struct slt_s3 *s, CURLcode res, long code)
{
    int rc;

    if (res == CURLE_OK && code == 200) {
        if (!s->r)
            obj_feed(s, (const unsigned char *)"", 0);
        if (s->pend_len || (s->r && slt_objread_paused(s->r))) {
            s->finish_pending = 1; /* slt_s3_resume() finishes it */
            return;
        }
        rc = s->r ? slt_objread_finish(s->r) : SLT_ENOMEM;
        if (rc == -EAGAIN && slt_objread_paused(s->r)) {
            s->finish_pending = 1;
            return;
        }
        if (rc == 0) {
            slt_log(SLT_LOG_DEBUG, "s3", "input '%s': read s3://%s/%s: %" PRIu64 " lines", s->input,
                    s->bucket, s->cur, slt_objread_lines(s->r));
        } else {
            s->errors++;
            slt_log(SLT_LOG_WARN, "s3",
                    "input '%s': s3://%s/%s is %s after %" PRIu64
                    " decoded bytes; its lines so far are counted, the rest is skipped",
                    s->input, s->bucket, s->cur,
                    rc == -EAGAIN ? "a truncated gzip stream" : "not valid gzip",
                    slt_objread_decoded(s->r));
        }
        obj_done(s);
        s->icand++;
        return;
    }
    if (res == CURLE_OK && code == 404) {
        slt_log(SLT_LOG_WARN, "s3", "input '%s': s3://%s/%s was deleted before it was read",
                s->input, s->bucket, s->cur);
        s->errors++;
        obj_done(s);
        s->icand++;
        return;
    }
    /* retried at the next poll from the offset reached (never twice) */
    s->errors++;
    slt_log(SLT_LOG_WARN, "s3", "input '%s': GET s3://%s/%s failed: %s (HTTP %ld); retried",
            s->input, s->bucket, s->cur, res != CURLE_OK ? curl_easy_strerror(res) : "error", code);
    if (code == 400 || code == 403)
        creds_clear(s);
    if (s->r) {
        set_str(&s->resume_key, slt_strdup(s->cur));
        s->resume_off = slt_objread_offset(s->r);
    }
    obj_drop(s);
    set_str(&s->cur, NULL);
    cands_clear(s);
}

static void imds_done(struct slt_s3 *s, CURLcode res, long code)
{
    enum s3_phase ph = s->phase;

    if (s->body.len >= s->body.cap && slt_buf_reserve(&s->body, 1) < 0)
        code = 0;
    if (res != CURLE_OK || code != 200 || !s->body.p) {
        s->list_errors++;
        slt_log(SLT_LOG_WARN, "s3", "input '%s': instance metadata (%s) failed: %s (HTTP %ld)",
                s->input,
                ph == P_IMDS_TOKEN  ? "token"
                : ph == P_IMDS_ROLE ? "role"
                                    : "credentials",
                res != CURLE_OK ? curl_easy_strerror(res) : "error", code);
        return;
    }
    s->body.p[s->body.len] = '\0';
    if (ph == P_IMDS_TOKEN) {
        set_str(&s->imds_token, slt_strdup(trim(s->body.p)));
        s->easy = NULL;
        start_imds(s, P_IMDS_ROLE);
        return;
    }
    if (ph == P_IMDS_ROLE) {
        char *nl = strchr(s->body.p, '\n');

        if (nl)
            *nl = '\0';
        set_str(&s->role, slt_strdup(trim(s->body.p)));
        s->easy = NULL;
        if (s->role && *s->role)
            start_imds(s, P_IMDS_CREDS);
        return;
    }
    {
        char *id = json_field(s->body.p, "AccessKeyId"),
             *sec = json_field(s->body.p, "SecretAccessKey");
        char *tok = json_field(s->body.p, "Token"), *exp = json_field(s->body.p, "Expiration");

        if (id && sec) {
            set_str(&s->akid, id);
            set_str(&s->secret, sec);
            set_str(&s->token, tok);
            s->cred_expire_ms = iso_ms(exp);
            if (!s->cred_expire_ms)
                s->cred_expire_ms = wall_ms() + 3600 * 1000LL;
            s->cred_src = "imds";
            slt_log(SLT_LOG_INFO, "s3",
                    "input '%s': credentials of role '%s' from instance metadata", s->input,
                    s->role);
        } else {
            slt_free(id);
            slt_free(sec);
            slt_free(tok);
            s->list_errors++;
        }
        slt_free(exp);
    }
}

static void on_done(CURL *easy, CURLcode res, void *arg)
{
    struct slt_s3 *s = arg;
    long code = 0;
    enum s3_phase ph = s->phase;

    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    s->easy = NULL;
    curl_easy_cleanup(easy);
    curl_slist_free_all(s->hdrs);
    s->hdrs = NULL;
    if (ph == P_LIST)
        list_done(s, res == CURLE_OK ? code : 0);
    else if (ph == P_GET)
        get_done(s, res, code);
    else
        imds_done(s, res, code);
    s->body.len = 0;
    if (s->easy)
        return; /* the next page or IMDS step is on its way */
    if (ph == P_IMDS_CREDS && s->akid && !s->ncands) {
        on_timer(&s->timer); /* list at once with the new credentials */
        return;
    }
    next_step(s);
}

/* ---- life ---- */

/* Frees s and all it holds but its handles (closed already, or never started). */
static void s3_free(struct slt_s3 *s)
{
    size_t i;

    for (i = 0; i < s->nseen; i++)
        slt_free(s->seen[i].key);
    slt_free(s->seen);
    cands_clear(s);
    slt_buf_release(&s->body);
    slt_free(s->input);
    slt_free(s->bucket);
    slt_free(s->prefix);
    slt_free(s->region);
    slt_free(s->endpoint);
    slt_free(s->sigv4);
    slt_free(s->floor);
    slt_free(s->resume_key);
    slt_free(s->list_token);
    slt_free(s->cur);
    slt_free(s->imds_token);
    slt_free(s->role);
    creds_clear(s);
    slt_free(s);
}

int slt_s3_new(struct uv_loop_s *loop, struct slt_curl_uv *cm, const struct slt_s3_opts *o,
               const struct slt_tail_pos *restore, size_t nrestore, struct slt_s3 **out)
{
    struct slt_s3 *s = slt_calloc(1, sizeof(*s));
    const struct slt_input_s3 *c = o->conf;
    int have_mark = 0;
    size_t i;

    if (!s)
        return SLT_ENOMEM;
    s->loop = loop;
    s->cm = cm;
    s->input = xstrdup(o->input);
    s->bucket = xstrdup(c->bucket);
    s->prefix = xstrdup(c->prefix ? c->prefix : "");
    s->region = xstrdup(c->region ? c->region : "us-east-1");
    s->endpoint = xstrdup(c->endpoint);
    s->poll_ms = c->poll_interval_ms > 0 ? c->poll_interval_ms : 60000;
    s->lookback_ms = c->lookback_ms;
    s->max_line = o->max_line;
    s->on_line = o->on_line;
    s->data = o->data;
    s->cred_src = "none";
    slt_buf_init(&s->body, S3_LIST_MAX_BYTES);
    if (s->region) {
        size_t n = strlen(s->region) + 16;

        s->sigv4 = slt_malloc(n);
        if (s->sigv4)
            snprintf(s->sigv4, n, "aws:amz:%s:s3", s->region);
    }
    if (!s->input || !s->bucket || !s->prefix || !s->region || !s->sigv4 ||
        (c->endpoint && !s->endpoint))
        goto nomem;
    for (i = 0; i < nrestore; i++) {
        const struct slt_tail_pos *p = &restore[i];

        if (!(p->flags & SLT_POS_OBJECT))
            continue;
        if (p->flags & SLT_TAIL_POS_MARK) {
            set_str(&s->floor, p->path[0] ? slt_strdup(p->path) : NULL);
            have_mark = 1;
        } else if (p->flags & SLT_TAIL_POS_DONE) {
            seen_add(s, p->path, (int64_t)p->fingerprint);
        } else {
            set_str(&s->resume_key, slt_strdup(p->path));
            s->resume_off = p->offset;
            slt_log(SLT_LOG_INFO, "s3",
                    "input '%s': resuming s3://%s/%s at decoded offset %" PRIu64, o->input,
                    c->bucket, p->path, p->offset);
        }
    }
    if (!have_mark && !o->read_from_beginning)
        s->list_to_end = 1;
    uv_timer_init(loop, &s->timer);
    s->timer.data = s;
    uv_timer_start(&s->timer, on_timer, 0, (uint64_t)s->poll_ms);
    *out = s;
    return 0;
nomem:
    s3_free(s);
    return SLT_ENOMEM;
}

void slt_s3_pause(struct slt_s3 *s)
{
    s->paused = 1;
    if (s->r)
        slt_objread_pause(s->r);
}

void slt_s3_resume(struct slt_s3 *s)
{
    if (!s->paused)
        return;
    s->paused = 0;
    if (s->r)
        slt_objread_resume(s->r);
    if (s->pend_len) {
        unsigned char *p = s->pend;
        size_t n = s->pend_len, used;

        s->pend = NULL;
        s->pend_len = 0;
        used = obj_feed(s, p, n);
        if (used < n) {
            /* paused again inside: keep the rest */
            s->pend = slt_malloc(n - used);
            if (s->pend) {
                memcpy(s->pend, p + used, n - used);
                s->pend_len = n - used;
            }
            slt_free(p);
            return;
        }
        slt_free(p);
    }
    if (s->curl_paused && s->easy) {
        s->curl_paused = 0;
        curl_easy_pause(s->easy, CURLPAUSE_CONT);
        return;
    }
    if (s->finish_pending) {
        /* the transfer ended while the lines were paused: finish now */
        s->finish_pending = 0;
        get_done(s, CURLE_OK, 200);
        next_step(s);
        return;
    }
    next_step(s);
}

static void put_pos(struct slt_tail_pos *p, const char *path, uint64_t offset, uint32_t flags,
                    uint64_t fp)
{
    memset(p, 0, sizeof(*p));
    p->offset = offset;
    p->fingerprint = fp;
    p->flags = flags | SLT_POS_OBJECT;
    snprintf(p->path, sizeof(p->path), "%s", path ? path : "");
}

size_t slt_s3_positions(struct slt_s3 *s, struct slt_tail_pos *out, size_t max)
{
    size_t n = 0, i;

    if (n < max)
        put_pos(&out[n], s->floor, 0, SLT_TAIL_POS_MARK | SLT_TAIL_POS_DONE, 0);
    n++;
    for (i = 0; i < s->nseen; i++, n++)
        if (n < max)
            put_pos(&out[n], s->seen[i].key, 0, SLT_TAIL_POS_DONE, (uint64_t)s->seen[i].read_ms);
    if (s->cur && s->r) {
        if (n < max)
            put_pos(&out[n], s->cur, slt_objread_offset(s->r), 0, 0);
        n++;
    } else if (s->resume_key) {
        if (n < max)
            put_pos(&out[n], s->resume_key, s->resume_off, 0, 0);
        n++;
    }
    return n;
}

void slt_s3_stats(struct slt_s3 *s, struct slt_s3_stats *st)
{
    memset(st, 0, sizeof(*st));
    st->current = s->cur;
    st->floor = s->floor ? s->floor : "";
    st->offset = s->r ? slt_objread_offset(s->r) : 0;
    st->objects = s->objects;
    st->lines = s->lines + (s->r ? slt_objread_lines(s->r) : 0);
    st->errors = s->errors;
    st->list_errors = s->list_errors;
    st->requests = s->requests;
    st->remembered = s->nseen;
    st->credentials = s->cred_src;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct slt_s3 *s = h->data;

    if (s->on_closed)
        s->on_closed(s->closed_data);
    s3_free(s);
}

void slt_s3_close(struct slt_s3 *s, slt_closed_cb on_closed, void *data)
{
    if (!s) {
        if (on_closed)
            on_closed(data);
        return;
    }
    if (s->closing)
        return;
    s->closing = 1;
    s->on_closed = on_closed;
    s->closed_data = data;
    req_reset(s);
    obj_drop(s);
    uv_close((uv_handle_t *)&s->timer, on_timer_closed);
}
