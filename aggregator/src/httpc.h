/*
 * A small HTTP/1.1 client for alert notifications: one POST per request over its own TCP
 * connection (Connection: close), with a timeout over the whole exchange. Only the status line
 * of the answer is read (at most SLT_HTTPC_MAX_RESPONSE bytes before it); the rest is ignored.
 * http:// only: there is no TLS. A host name is resolved with uv_getaddrinfo and the first
 * address is used.
 *
 * Calling sequence:
 *   slt_httpc_post(loop, &url, ctype, body, len, timeout_ms, cb, data, &req)
 *   ... cb(status, data) runs exactly once, after every handle of req is closed; req is
 *   freed after cb returns
 *   slt_httpc_cancel(req)      before cb ran: cb runs soon with UV_ECANCELED
 */
#ifndef SLT_HTTPC_H
#define SLT_HTTPC_H

#include <stddef.h>
#include <stdint.h>

#include "slt/config.h"

struct uv_loop_s;
struct slt_httpc;

#define SLT_HTTPC_MAX_RESPONSE 4096

/*
 * status: the HTTP status (100..599) of the answer, or a negative code: a libuv error
 * (connect refused, name not found, ...), SLT_ETIMEDOUT, SLT_EPROTO (no status line within
 * SLT_HTTPC_MAX_RESPONSE bytes, or the connection closed before one).
 */
typedef void (*slt_httpc_cb)(int status, void *data);

/*
 * POSTs body (copied) to u with Content-Type ctype. Returns 0 and later calls cb once; or
 * returns SLT_ENOMEM or a libuv error and cb never runs. *out (may be NULL) can cancel it.
 */
int slt_httpc_post(struct uv_loop_s *loop, const struct slt_http_url *u, const char *ctype,
                   const char *body, size_t len, int64_t timeout_ms, slt_httpc_cb cb, void *data,
                   struct slt_httpc **out);

/* Ends req now: cb runs (from the loop, once its handles closed) with UV_ECANCELED. */
void slt_httpc_cancel(struct slt_httpc *req);

/*
 * The status of a response that starts with "HTTP/1.x NNN": NNN, 0 when buf does not yet hold
 * the whole status line, SLT_EPROTO when it is not one. Pure; exposed for tests.
 */
int slt_httpc_status(const char *buf, size_t len);

#endif
