/* Outgoing HTTP(S) POSTs through libcurl on a libuv loop; see slt/httpc.h. */
#include "slt/httpc.h"

#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "slt/common.h"
#include "slt/curl_uv.h"

struct slt_httpc {
    uv_loop_t *loop;
    struct slt_curl_uv *multi;
    struct slt_httpc_req *reqs; /* in flight, not finished */
    unsigned nreqs;             /* every request not yet freed, finished ones included */
    int in_cb;                  /* > 0 while a user callback runs */
    int freeing;
    int multi_closing; /* the multi handle's handles are still closing */
    slt_closed_cb on_closed;
    void *closed_data;
};

struct slt_httpc_req {
    struct slt_httpc *c;
    CURL *easy;
    struct curl_slist *headers;
    /*
     * Closed when the request ends, for its close callback only: the user's cb runs from
     * there, so it always runs from the loop and never inside slt_httpc_cancel().
     */
    uv_timer_t closer;
    int finished;
    int status;
    char error[CURL_ERROR_SIZE];
    slt_httpc_cb cb;
    void *data;
    struct slt_httpc_req *prev, *next;
};

static void maybe_free_client(struct slt_httpc *c)
{
    slt_closed_cb cb;
    void *data;

    if (!c->freeing || c->nreqs > 0 || c->in_cb > 0 || c->multi_closing)
        return;
    cb = c->on_closed;
    data = c->closed_data;
    slt_free(c);
    if (cb)
        cb(data);
}

static void on_multi_closed(void *data)
{
    struct slt_httpc *c = data;

    c->multi_closing = 0;
    maybe_free_client(c);
}

static void on_req_closed(uv_handle_t *h)
{
    struct slt_httpc_req *r = h->data;
    struct slt_httpc *c = r->c;

    c->in_cb++;
    if (r->cb)
        r->cb(r->status, r->status > 0 ? "" : r->error, r->data);
    c->in_cb--;
    curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    slt_free(r);
    c->nreqs--;
    maybe_free_client(c);
}

/* Unlinks r and closes its handle; its cb runs from the close callback. */
static void finish(struct slt_httpc_req *r, int status)
{
    struct slt_httpc *c = r->c;

    r->finished = 1;
    r->status = status;
    if (r->prev)
        r->prev->next = r->next;
    else
        c->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    uv_close((uv_handle_t *)&r->closer, on_req_closed);
}

static void on_done(CURL *easy, CURLcode result, void *arg)
{
    struct slt_httpc_req *r = arg;
    long code = 0;

    if (result == CURLE_OK) {
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
        if (code >= 100 && code <= 599) {
            finish(r, (int)code);
            return;
        }
        snprintf(r->error, sizeof(r->error), "no HTTP status in the answer");
        finish(r, SLT_EPROTO);
        return;
    }
    if (!r->error[0])
        snprintf(r->error, sizeof(r->error), "%s", curl_easy_strerror(result));
    finish(r, result == CURLE_OPERATION_TIMEDOUT ? SLT_ETIMEDOUT : SLT_EPROTO);
}

/* The answer's body is read (so the connection can be kept) and dropped. */
static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

int slt_httpc_new(uv_loop_t *loop, struct slt_httpc **out)
{
    struct slt_httpc *c;

    *out = NULL;
    c = slt_calloc(1, sizeof(*c));
    if (!c)
        return SLT_ENOMEM;
    c->loop = loop; /* c->multi (and libcurl) on the first request */
    *out = c;
    return 0;
}

static int add_header(struct slt_httpc_req *r, const char *h)
{
    struct curl_slist *l = curl_slist_append(r->headers, h);

    if (!l)
        return SLT_ENOMEM;
    r->headers = l;
    return 0;
}

/* Sets up r->easy; 0, SLT_ENOMEM or SLT_EINVAL. */
static int setup(struct slt_httpc_req *r, const char *url, const struct slt_httpc_auth *auth,
                 const char *ctype, const char *body, size_t len, int64_t timeout_ms)
{
    CURL *e = r->easy;
    char hdr[256];
    int ok = 1;

    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return SLT_EINVAL;
    snprintf(hdr, sizeof(hdr), "Content-Type: %s", ctype ? ctype : "application/json");
    if (add_header(r, hdr) < 0 || add_header(r, "Expect:") < 0) /* no 100-continue round */
        return SLT_ENOMEM;
    ok &= curl_easy_setopt(e, CURLOPT_URL, url) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(timeout_ms > 0 ? timeout_ms : 5000)) ==
          CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_USERAGENT, "slitail") == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body ? body : "") == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->error) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_PRIVATE, r) == CURLE_OK;
    if (auth && auth->ca_file)
        ok &= curl_easy_setopt(e, CURLOPT_CAINFO, auth->ca_file) == CURLE_OK;
    if (auth && auth->bearer_token) {
        ok &= curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER) == CURLE_OK;
        ok &= curl_easy_setopt(e, CURLOPT_XOAUTH2_BEARER, auth->bearer_token) == CURLE_OK;
    } else if (auth && auth->basic_user) {
        ok &= curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC) == CURLE_OK;
        ok &= curl_easy_setopt(e, CURLOPT_USERNAME, auth->basic_user) == CURLE_OK;
        ok &= curl_easy_setopt(e, CURLOPT_PASSWORD,
                               auth->basic_password ? auth->basic_password : "") == CURLE_OK;
    }
    return ok ? 0 : SLT_ENOMEM;
}

int slt_httpc_post(struct slt_httpc *c, const char *url, const struct slt_httpc_auth *auth,
                   const char *ctype, const char *body, size_t len, int64_t timeout_ms,
                   slt_httpc_cb cb, void *data, struct slt_httpc_req **out)
{
    struct slt_httpc_req *r;
    int rc;

    if (out)
        *out = NULL;
    if (!c || c->freeing || !url)
        return SLT_EINVAL;
    if (!c->multi && (rc = slt_curl_uv_new(c->loop, &c->multi)) < 0)
        return rc;
    r = slt_calloc(1, sizeof(*r));
    if (!r)
        return SLT_ENOMEM;
    r->c = c;
    r->cb = cb;
    r->data = data;
    r->easy = curl_easy_init();
    rc = r->easy ? setup(r, url, auth, ctype, body, len, timeout_ms) : SLT_ENOMEM;
    if (rc == 0)
        rc = slt_curl_uv_add(c->multi, r->easy, on_done, r);
    if (rc < 0) {
        curl_easy_cleanup(r->easy);
        curl_slist_free_all(r->headers);
        slt_free(r);
        return rc;
    }
    uv_timer_init(c->loop, &r->closer);
    r->closer.data = r;
    r->next = c->reqs;
    if (c->reqs)
        c->reqs->prev = r;
    c->reqs = r;
    c->nreqs++;
    if (out)
        *out = r;
    return 0;
}

void slt_httpc_cancel(struct slt_httpc_req *r)
{
    if (!r || r->finished)
        return;
    slt_curl_uv_cancel(r->c->multi, r->easy);
    snprintf(r->error, sizeof(r->error), "cancelled");
    finish(r, UV_ECANCELED);
}

unsigned slt_httpc_pending(const struct slt_httpc *c)
{
    return c ? slt_curl_uv_active(c->multi) : 0;
}

void slt_httpc_close(struct slt_httpc *c, slt_closed_cb on_closed, void *data)
{
    if (!c) {
        if (on_closed)
            on_closed(data);
        return;
    }
    if (c->freeing)
        return;
    c->freeing = 1;
    c->on_closed = on_closed;
    c->closed_data = data;
    while (c->reqs)
        slt_httpc_cancel(c->reqs);
    if (c->multi) {
        c->multi_closing = 1;
        slt_curl_uv_close(c->multi, on_multi_closed, c);
        c->multi = NULL;
    }
    maybe_free_client(c);
}
