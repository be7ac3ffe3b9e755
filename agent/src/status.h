/*
 * status.c: the agent's HTTP status endpoint (agent.status_listen) on the shared HTTP server
 * (slt/http.h): GET /status (JSON) and GET /metrics (Prometheus). What it serves comes from a
 * render callback; it knows nothing else of the agent.
 *
 *   slt_status_http_start(loop, listen, render, data, &h)
 *   slt_status_http_close(h)     stops; h is freed once every connection is closed
 */
#ifndef SLT_STATUS_H
#define SLT_STATUS_H

struct uv_loop_s;
struct slt_buf;
struct slt_status_http;

/* Renders the status as JSON (prometheus = 0) or Prometheus text into out; 0 or an error. */
typedef int (*slt_status_render_fn)(void *data, int prometheus, struct slt_buf *out);

int slt_status_http_start(struct uv_loop_s *loop, const char *listen, slt_status_render_fn render,
                          void *data, struct slt_status_http **out);
void slt_status_http_close(struct slt_status_http *h);

#endif
