/*
 * hiredis on libuv, for the aggregator's query connections (api.c, alert.c). hiredis' own
 * adapters/libuv.h calls uv_poll_start for every command queued; this one touches the poll
 * handle only when the set of events changes. Like hiredis' adapter it has no timer: callers
 * time their commands with their own uv_timer_t.
 */
#ifndef SLT_REDIS_UV_H
#define SLT_REDIS_UV_H

struct redisAsyncContext;
struct uv_loop_s;

/*
 * Attaches ac to loop. Returns REDIS_OK, or REDIS_ERR when ac is already attached or memory
 * ran out. The adapter frees itself when hiredis frees ac.
 */
int slt_redis_uv_attach(struct redisAsyncContext *ac, struct uv_loop_s *loop);

#endif
