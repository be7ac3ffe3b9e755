/*
 * hiredis on libuv, for every Redis connection of the aggregator (redis_conn.c). hiredis' own
 * adapters/libuv.h calls uv_poll_start for every command queued and ignores poll errors; this
 * one touches the poll handle only when the set of events changes and hands poll errors to
 * hiredis. Like hiredis' adapter it has no timer: redis_conn.c times the handshake and PING.
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
