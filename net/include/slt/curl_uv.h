/*
 * libcurl's multi interface driven by a libuv loop: outgoing HTTP(S) for alerts, object
 * stores and anything else that must not block the loop.
 *
 * Calling sequence:
 *
 *   slt_curl_uv_new(loop, &m);
 *   easy = curl_easy_init(); curl_easy_setopt(easy, ...);   the caller configures the transfer
 *   slt_curl_uv_add(m, easy, done, arg);                    m drives it on the loop
 *   ... done(easy, result, arg) runs once, on the loop; the caller owns easy again and may
 *       read CURLINFO_RESPONSE_CODE etc., reuse it or curl_easy_cleanup() it ...
 *   slt_curl_uv_cancel(m, easy);                            or stop it early (no done call)
 *   slt_curl_uv_close(m, on_closed, data);                  cancels what is left, then goes
 *
 * One CURLM shares its connection cache, so keep-alive connections to a receiver are reused.
 * Socket readiness comes from one uv_poll_t per socket libcurl asks to watch; a poll error
 * (POLLERR, a socket libuv cannot watch) is handed to libcurl as CURL_CSELECT_ERR so the
 * transfer fails with a curl error instead of hanging. libcurl's timeouts come from one
 * uv_timer_t. Set CURLOPT_TIMEOUT_MS (or CONNECTTIMEOUT) on every easy handle: the module
 * itself puts no bound on how long a transfer may take.
 *
 * Not thread-safe: every call is made on the loop's thread. The done callback may call
 * slt_curl_uv_add, _cancel and _close.
 */
#ifndef SLT_CURL_UV_H
#define SLT_CURL_UV_H

#include "slt/common.h"  /* slt_closed_cb */
#include "slt/curl_dl.h" /* libcurl, loaded by slt_curl_uv_new() */

struct uv_loop_s;
struct slt_curl_uv; /* one CURLM on one uv loop */

typedef void (*slt_curl_uv_done_cb)(CURL *easy, CURLcode result, void *arg);

/*
 * A new multi handle on loop; loads libcurl first (slt_curl_load(), logging why when it
 * cannot). 0, SLT_ENOMEM, SLT_ENOTFOUND (no libcurl), or SLT_EINVAL when libcurl refuses.
 */
int slt_curl_uv_new(struct uv_loop_s *loop, struct slt_curl_uv **out);

/*
 * Adds a configured easy handle; done runs once, on the loop, when the transfer ends (result
 * CURLE_OK or the curl error); the caller then owns easy again. Returns 0, SLT_ENOMEM, or
 * SLT_EINVAL (easy already added, m closing, or libcurl refused); on failure done is never
 * called and the caller keeps easy.
 */
int slt_curl_uv_add(struct slt_curl_uv *m, CURL *easy, slt_curl_uv_done_cb done, void *arg);

/* Stops a transfer; its done is not called. Does nothing when easy is not in m. */
void slt_curl_uv_cancel(struct slt_curl_uv *m, CURL *easy);

/* Number of transfers added and not yet done or cancelled. */
unsigned slt_curl_uv_active(const struct slt_curl_uv *m);

/*
 * The lifecycle verb (slt/common.h): cancels everything (no done calls), closes its handles,
 * frees itself after the last close callback, then runs on_closed(data). The easy handles go
 * back to their owners, who clean them up.
 */
void slt_curl_uv_close(struct slt_curl_uv *m, slt_closed_cb on_closed, void *data);

#endif
