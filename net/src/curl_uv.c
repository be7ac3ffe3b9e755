/*
 * libcurl's multi_socket API on libuv, after curl's docs/examples/multi-uv.c: curl tells us
 * which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when to wake it up
 * (CURLMOPT_TIMERFUNCTION); we tell curl what happened with curl_multi_socket_action() and
 * collect finished transfers with curl_multi_info_read().
 *
 * Lifetimes: each watched socket has a struct sock with a uv_poll_t inside; it is freed in
 * the poll's close callback. The multi handle counts its open libuv handles (the timer and
 * every sock still closing) and frees itself in the last close callback after
 * slt_curl_uv_close(). Callbacks into the user run only from check_done(), outside libcurl,
 * with m->busy raised so that a free from inside a callback is deferred to its end.
 */
#include "slt/curl_uv.h"

#include <uv.h>

#include "slt/common.h"

struct xfer {
    CURL *easy;
    slt_curl_uv_done_cb done;
    void *arg;
    struct xfer *next;
};

struct slt_curl_uv {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    struct xfer *xfers;
    struct sock *socks; /* watched, not yet closing */
    unsigned nxfers;
    unsigned open_handles; /* the timer + socks not yet closed */
    int busy;              /* > 0 while user callbacks may run */
    int freeing;           /* slt_curl_uv_close() was called */
    int cleaned;           /* the CURLM is gone */
    slt_closed_cb on_closed;
    void *closed_data;
};

struct sock {
    uv_poll_t poll;
    curl_socket_t fd;
    struct slt_curl_uv *m;
    struct sock *prev, *next;
};

static void maybe_release(struct slt_curl_uv *m);

static struct xfer **find_xfer(struct slt_curl_uv *m, CURL *easy)
{
    struct xfer **pp;

    for (pp = &m->xfers; *pp; pp = &(*pp)->next)
        if ((*pp)->easy == easy)
            return pp;
    return NULL;
}

static void on_handle_close(uv_handle_t *h)
{
    struct slt_curl_uv *m;

    if (h->type == UV_POLL) {
        struct sock *s = h->data;
        m = s->m;
        slt_free(s);
    } else {
        m = h->data;
    }
    m->open_handles--;
    if (m->open_handles == 0 && m->cleaned) {
        slt_closed_cb cb = m->on_closed;
        void *data = m->closed_data;

        slt_free(m);
        if (cb)
            cb(data);
    }
}

/* Hands every finished transfer back to its owner. */
static void check_done(struct slt_curl_uv *m)
{
    CURLMsg *msg;
    int left;

    m->busy++;
    while (!m->freeing && (msg = curl_multi_info_read(m->multi, &left)) != NULL) {
        struct xfer **pp, *x;

        if (msg->msg != CURLMSG_DONE)
            continue;
        pp = find_xfer(m, msg->easy_handle);
        if (!pp) /* not ours: cannot happen, every handle comes through slt_curl_uv_add */
            continue;
        x = *pp;
        *pp = x->next;
        m->nxfers--;
        {
            CURL *easy = x->easy;
            CURLcode result = msg->data.result;
            slt_curl_uv_done_cb done = x->done;
            void *arg = x->arg;

            /* msg belongs to the multi handle and dies with the remove */
            curl_multi_remove_handle(m->multi, easy);
            slt_free(x);
            done(easy, result, arg);
        }
    }
    m->busy--;
    maybe_release(m);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    struct sock *s = p->data;
    struct slt_curl_uv *m = s->m;
    int flags = 0, running;

    if (m->freeing)
        return;
    if (status < 0) {
        flags = CURL_CSELECT_ERR;
    } else {
        if (events & UV_READABLE)
            flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            flags |= CURL_CSELECT_OUT;
    }
    /* s may be closed by curl's socket callback inside this call; it is freed only later */
    curl_multi_socket_action(m->multi, s->fd, flags, &running);
    check_done(m);
}

static void on_timer(uv_timer_t *t)
{
    struct slt_curl_uv *m = t->data;
    int running;

    if (m->freeing)
        return;
    curl_multi_socket_action(m->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(m);
}

static void sock_close(struct sock *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        s->m->socks = s->next;
    if (s->next)
        s->next->prev = s->prev;
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, on_handle_close);
}

/* CURLMOPT_SOCKETFUNCTION */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct slt_curl_uv *m = userp;
    struct sock *s = socketp;
    int events = 0, rc;

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            curl_multi_assign(m->multi, fd, NULL);
            sock_close(s);
        }
        return 0;
    }
    if (!s) {
        s = slt_calloc(1, sizeof(*s));
        if (!s)
            return -1; /* curl fails the transfer */
        s->fd = fd;
        s->m = m;
        rc = uv_poll_init_socket(m->loop, &s->poll, fd);
        if (rc < 0) {
            slt_log(SLT_LOG_WARN, "curl", "cannot watch socket %d: %s", (int)fd, uv_strerror(rc));
            slt_free(s);
            return -1;
        }
        s->poll.data = s;
        s->next = m->socks;
        if (m->socks)
            m->socks->prev = s;
        m->socks = s;
        m->open_handles++;
        curl_multi_assign(m->multi, fd, s);
    }
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        events |= UV_READABLE;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        events |= UV_WRITABLE;
    rc = uv_poll_start(&s->poll, events, on_poll);
    if (rc < 0) {
        /* the socket stays assigned; curl fails the transfer and then removes it */
        slt_log(SLT_LOG_WARN, "curl", "cannot watch socket %d: %s", (int)fd, uv_strerror(rc));
        return -1;
    }
    return 0;
}

/* CURLMOPT_TIMERFUNCTION */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct slt_curl_uv *m = userp;

    (void)multi;
    if (m->freeing)
        return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&m->timer);
    else /* 0 means "now": the next loop iteration, never from inside curl */
        uv_timer_start(&m->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

int slt_curl_uv_new(uv_loop_t *loop, struct slt_curl_uv **out)
{
    struct slt_curl_uv *m;
    char err[512];

    *out = NULL;
    if (slt_curl_load(err, sizeof(err)) < 0) {
        slt_log(SLT_LOG_ERROR, "curl", "%s", err);
        return SLT_ENOTFOUND;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return SLT_EINVAL;
    m = slt_calloc(1, sizeof(*m));
    if (!m) {
        curl_global_cleanup();
        return SLT_ENOMEM;
    }
    m->loop = loop;
    m->multi = curl_multi_init();
    if (!m->multi) {
        slt_free(m);
        curl_global_cleanup();
        return SLT_ENOMEM;
    }
    curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m);
    curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m);
    uv_timer_init(loop, &m->timer);
    m->timer.data = m;
    m->open_handles = 1;
    *out = m;
    return 0;
}

int slt_curl_uv_add(struct slt_curl_uv *m, CURL *easy, slt_curl_uv_done_cb done, void *arg)
{
    struct xfer *x;

    if (!m || !easy || !done || m->freeing || find_xfer(m, easy))
        return SLT_EINVAL;
    x = slt_calloc(1, sizeof(*x));
    if (!x)
        return SLT_ENOMEM;
    x->easy = easy;
    x->done = done;
    x->arg = arg;
    /* curl calls on_curl_timer(0) from here; the transfer starts on the next iteration */
    if (curl_multi_add_handle(m->multi, easy) != CURLM_OK) {
        slt_free(x);
        return SLT_EINVAL;
    }
    x->next = m->xfers;
    m->xfers = x;
    m->nxfers++;
    return 0;
}

void slt_curl_uv_cancel(struct slt_curl_uv *m, CURL *easy)
{
    struct xfer **pp, *x;

    if (!m || !easy || !(pp = find_xfer(m, easy)))
        return;
    x = *pp;
    *pp = x->next;
    m->nxfers--;
    curl_multi_remove_handle(m->multi, easy);
    slt_free(x);
}

unsigned slt_curl_uv_active(const struct slt_curl_uv *m)
{
    return m ? m->nxfers : 0;
}

/* After close, once no user callback is running: cleans up curl and closes the timer. */
static void maybe_release(struct slt_curl_uv *m)
{
    if (!m->freeing || m->busy > 0 || m->cleaned)
        return;
    while (m->xfers)
        slt_curl_uv_cancel(m, m->xfers->easy);
    /* closes the cached connections; curl reports each as CURL_POLL_REMOVE, closing its sock */
    curl_multi_cleanup(m->multi);
    m->multi = NULL;
    while (m->socks) /* any socket curl did not report */
        sock_close(m->socks);
    m->cleaned = 1;
    curl_global_cleanup();
    uv_close((uv_handle_t *)&m->timer, on_handle_close);
}

void slt_curl_uv_close(struct slt_curl_uv *m, slt_closed_cb on_closed, void *data)
{
    if (!m) {
        if (on_closed)
            on_closed(data);
        return;
    }
    if (m->freeing)
        return;
    m->freeing = 1;
    m->on_closed = on_closed;
    m->closed_data = data;
    maybe_release(m);
}
