/*
 * / and /index.html: the dashboard page, one self-contained HTML document (uPlot and its
 * styles inlined) that aggregator/web/embed.cmake turns into dashboard_page.c at build time.
 * It reads /api/v1/slos and /api/v1/slos/{name}/series from the same origin.
 */
#include "api_internal.h"

void slt__api_handle_dashboard(struct slt_api *api, struct slt_http_req *req, const char *name)
{
    (void)api;
    (void)name;
    slt_http_respond(req, 200, "text/html; charset=utf-8", slt_dashboard_html,
                     slt_dashboard_html_len(),
                     "Content-Security-Policy: default-src 'self'; style-src 'unsafe-inline'; "
                     "script-src 'unsafe-inline'\r\n");
}
