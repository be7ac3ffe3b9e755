/*
 * status.c: the agent's HTTP status endpoint (agent.status_listen) on the shared HTTP server
 * (slt/http.h): GET /status (JSON) and GET /metrics (Prometheus). What it serves comes from a
 * render callback; it knows nothing else of the agent.
 *
 *   slt_status_http_start(loop, listen, tls, token, render, data, &h)
 *   slt_status_http_reload(h, tls, token)
 *   slt_status_http_close(h, cb, d) stops; h is freed once every connection is closed, then cb
 */
#ifndef SLT_STATUS_H
#define SLT_STATUS_H

#include "slt/common.h" /* slt_closed_cb */

struct uv_loop_s;
struct slt_buf;
struct slt_status_http;
struct slt_tls_opts;

/* Renders the status as JSON (prometheus = 0) or Prometheus text into out; 0 or an error. */
typedef int (*slt_status_render_fn)(void *data, int prometheus, struct slt_buf *out);

/*
 * Serves on listen. tls (NULL: plain HTTP) names the certificate files (agent.status_tls);
 * token (NULL: none, borrowed for the call) is the bearer token every request must carry
 * (agent.status_token_file). Without a token listen must be a loopback address. Returns 0 and
 * *out, or a negative code (logged).
 */
int slt_status_http_start(struct uv_loop_s *loop, const char *listen,
                          const struct slt_tls_opts *tls, const char *token,
                          slt_status_render_fn render, void *data, struct slt_status_http **out);
/* SIGHUP: new certificate files and token (a file that does not load keeps the old one). */
void slt_status_http_reload(struct slt_status_http *h, const struct slt_tls_opts *tls,
                            const char *token);
void slt_status_http_close(struct slt_status_http *h, slt_closed_cb on_closed, void *data);

#endif
