/* hiredis on libuv; see redis_uv.h. */
#include "redis_uv.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <uv.h>

#include "slt/common.h"

/*
 * hiredis' own adapters/libuv.h calls uv_poll_start for every command queued, and each call
 * costs epoll_ctl syscalls; this one touches the poll handle only when the set of events
 * changes (once per batch instead of once per command). It also does not drop poll errors on
 * the floor: a refused connect shows up as POLLERR, libuv reports it as a negative status, and
 * hiredis would never hear of it; here an error lets hiredis look at the socket.
 */
struct redis_uv {
    redisAsyncContext *ac; /* NULL once hiredis is done with us */
    uv_poll_t poll;
    int events;
};

static void on_redis_poll(uv_poll_t *h, int status, int events)
{
    struct redis_uv *p = h->data;

    if (status < 0) {
        /* connecting: the write handler checks SO_ERROR; connected: the read sees the error */
        if (p->ac)
            redisAsyncHandleWrite(p->ac);
        if (p->ac)
            redisAsyncHandleRead(p->ac);
        return;
    }
    if (p->ac && (events & UV_READABLE))
        redisAsyncHandleRead(p->ac);
    if (p->ac && (events & UV_WRITABLE))
        redisAsyncHandleWrite(p->ac);
}

static void redis_uv_set(struct redis_uv *p, int events)
{
    if (events == p->events)
        return;
    p->events = events;
    if (events)
        uv_poll_start(&p->poll, events, on_redis_poll);
    else
        uv_poll_stop(&p->poll);
}

static void ev_add_read(void *d)
{
    struct redis_uv *p = d;
    redis_uv_set(p, p->events | UV_READABLE);
}

static void ev_del_read(void *d)
{
    struct redis_uv *p = d;
    redis_uv_set(p, p->events & ~UV_READABLE);
}

static void ev_add_write(void *d)
{
    struct redis_uv *p = d;
    redis_uv_set(p, p->events | UV_WRITABLE);
}

static void ev_del_write(void *d)
{
    struct redis_uv *p = d;
    redis_uv_set(p, p->events & ~UV_WRITABLE);
}

static void on_redis_uv_closed(uv_handle_t *h)
{
    slt_free(h->data);
}

static void ev_cleanup(void *d)
{
    struct redis_uv *p = d;

    p->ac = NULL;
    uv_close((uv_handle_t *)&p->poll, on_redis_uv_closed);
}

int slt_redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    struct redis_uv *p;

    if (ac->ev.data)
        return REDIS_ERR;
    p = slt_calloc(1, sizeof(*p));
    if (!p)
        return REDIS_ERR;
    if (uv_poll_init(loop, &p->poll, ac->c.fd) != 0) {
        slt_free(p);
        return REDIS_ERR;
    }
    p->poll.data = p;
    p->ac = ac;
    ac->ev.data = p;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    return REDIS_OK;
}
