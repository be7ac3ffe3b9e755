/*
 * Outgoing HTTP(S) requests on a libuv loop, through libcurl (slt/curl_uv.h): alert
 * notifications to Alertmanager, webhooks and PagerDuty. One client keeps one pool of
 * connections (keep-alive, TLS sessions) for every request made through it.
 *
 * Calling sequence:
 *   slt_httpc_new(loop, &c)
 *   slt_httpc_post(c, url, auth, ctype, body, len, timeout_ms, cb, data, &req)
 *   ... cb(status, error, data) runs exactly once, from the loop; req is gone after it returns
 *   slt_httpc_cancel(req)        before cb ran: cb runs soon with UV_ECANCELED
 *   slt_httpc_close(c, cb, d)    cancels what is in flight (each cb runs with UV_ECANCELED);
 *                                the client frees itself once its handles are closed, then cb
 *
 * What libcurl does for us: http:// and https:// only (no redirects followed), TLS 1.2 at
 * least with the server's certificate and name verified (against auth->ca_file, or the
 * system's store), the proxy variables http_proxy, https_proxy, HTTPS_PROXY and no_proxy,
 * name resolution without blocking the loop. The response body is read and dropped; only the
 * status is reported.
 */
#ifndef SLT_HTTPC_H
#define SLT_HTTPC_H

#include <stddef.h>
#include <stdint.h>

#include "slt/common.h" /* slt_closed_cb */

struct uv_loop_s;
struct slt_httpc;
struct slt_httpc_req;

/* Per request; the strings are copied by slt_httpc_post(). NULL members: not used. */
struct slt_httpc_auth {
    const char *ca_file;      /* PEM bundle that verifies https:// servers (NULL: system) */
    const char *bearer_token; /* Authorization: Bearer <token> */
    const char *basic_user;   /* with basic_password: Authorization: Basic */
    const char *basic_password;
};

/*
 * status: the HTTP status (100..599) of the answer, or a negative code: SLT_ETIMEDOUT (no
 * whole answer within timeout_ms), UV_ECANCELED (slt_httpc_cancel / _close), SLT_EPROTO
 * (anything else: name not found, connection refused, TLS verification, a bad answer).
 * error: libcurl's description of a failure ("" with a status), for the log; valid during cb.
 */
typedef void (*slt_httpc_cb)(int status, const char *error, void *data);

/* A client on loop: 0 or SLT_ENOMEM. libcurl is loaded (slt/curl_dl.h) on the first post. */
int slt_httpc_new(struct uv_loop_s *loop, struct slt_httpc **out);

/*
 * POSTs body (copied) to url with Content-Type ctype. Returns 0 and later calls cb once; or
 * SLT_ENOMEM / SLT_EINVAL (bad url, client closing, libcurl refused) / SLT_ENOTFOUND
 * (libcurl not installed, logged) and cb never runs. *out (may be NULL)
 * can cancel the request until cb runs.
 */
int slt_httpc_post(struct slt_httpc *c, const char *url, const struct slt_httpc_auth *auth,
                   const char *ctype, const char *body, size_t len, int64_t timeout_ms,
                   slt_httpc_cb cb, void *data, struct slt_httpc_req **out);

/* Ends req now: cb runs soon (from the loop) with UV_ECANCELED. */
void slt_httpc_cancel(struct slt_httpc_req *req);

/* Requests in flight. */
unsigned slt_httpc_pending(const struct slt_httpc *c);

/* The lifecycle verb (slt/common.h): cancels every request (their cb run, from the loop, with
 * UV_ECANCELED), frees c once its handles are closed, then runs on_closed(data). */
void slt_httpc_close(struct slt_httpc *c, slt_closed_cb on_closed, void *data);

#endif
