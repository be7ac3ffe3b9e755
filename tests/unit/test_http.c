/* The HTTP server: request limits, percent-decoding, query strings, and a live server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "api.h"
#include "http.h"
#include "slt/common.h"

/* ---- pure helpers ---------------------------------------------------------------------- */

static void test_pct_decode_decodes_escapes_and_plus(void **state)
{
    char out[64];

    (void)state;
    assert_int_equal(slt_http_pct_decode("a%20b%2Fc", 9, out, sizeof(out), 0), 5);
    assert_string_equal(out, "a b/c");
    assert_int_equal(slt_http_pct_decode("a+b", 3, out, sizeof(out), 0), 3);
    assert_string_equal(out, "a+b");
    assert_int_equal(slt_http_pct_decode("a+b", 3, out, sizeof(out), 1), 3);
    assert_string_equal(out, "a b");
    assert_int_equal(slt_http_pct_decode("%e2%82%AC", 9, out, sizeof(out), 0), 3);
    assert_string_equal(out, "\xe2\x82\xac");
    assert_int_equal(slt_http_pct_decode("", 0, out, sizeof(out), 0), 0);
    assert_string_equal(out, "");
}

static void test_pct_decode_refuses_bad_escapes_and_nul(void **state)
{
    char out[8];

    (void)state;
    assert_int_equal(slt_http_pct_decode("%", 1, out, sizeof(out), 0), SLT_EPARSE);
    assert_int_equal(slt_http_pct_decode("%4", 2, out, sizeof(out), 0), SLT_EPARSE);
    assert_int_equal(slt_http_pct_decode("%zz", 3, out, sizeof(out), 0), SLT_EPARSE);
    assert_int_equal(slt_http_pct_decode("a%00b", 5, out, sizeof(out), 0), SLT_EPARSE);
    assert_int_equal(slt_http_pct_decode("12345678", 8, out, sizeof(out), 0), SLT_ELIMIT);
    assert_int_equal(slt_http_pct_decode("1234567", 7, out, sizeof(out), 0), 7);
}

static void test_query_get_finds_first_value(void **state)
{
    struct slt_str q = slt_str_make("from=60&to=120&x&step=6%30&to=999", 34);
    char v[16];

    (void)state;
    assert_int_equal(slt_http_query_get(q, "from", v, sizeof(v)), 1);
    assert_string_equal(v, "60");
    assert_int_equal(slt_http_query_get(q, "to", v, sizeof(v)), 1);
    assert_string_equal(v, "120");
    assert_int_equal(slt_http_query_get(q, "step", v, sizeof(v)), 1);
    assert_string_equal(v, "60");
    assert_int_equal(slt_http_query_get(q, "x", v, sizeof(v)), 1);
    assert_string_equal(v, "");
    assert_int_equal(slt_http_query_get(q, "fro", v, sizeof(v)), 0);
    assert_int_equal(slt_http_query_get(slt_str_make("", 0), "from", v, sizeof(v)), 0);
    assert_int_equal(slt_http_query_get(slt_str_make("a=%zz", 5), "a", v, sizeof(v)), SLT_EPARSE);
}

static void test_listen_addresses_parse(void **state)
{
    struct sockaddr_storage a;

    (void)state;
    assert_int_equal(slt_http_parse_listen("127.0.0.1:7480", &a), 0);
    assert_int_equal(a.ss_family, AF_INET);
    assert_int_equal(ntohs(((struct sockaddr_in *)&a)->sin_port), 7480);
    assert_int_equal(slt_http_parse_listen("[::1]:80", &a), 0);
    assert_int_equal(a.ss_family, AF_INET6);
    assert_int_equal(slt_http_parse_listen(":9000", &a), 0);
    assert_int_equal(slt_http_parse_listen("localhost:0", &a), 0);
    assert_int_equal(slt_http_parse_listen("::1:80", &a), SLT_EINVAL);
    assert_int_equal(slt_http_parse_listen("127.0.0.1", &a), SLT_EINVAL);
    assert_int_equal(slt_http_parse_listen("127.0.0.1:70000", &a), SLT_EINVAL);
    assert_int_equal(slt_http_parse_listen("127.0.0.1:x", &a), SLT_EINVAL);
    assert_int_equal(slt_http_parse_listen("[::1:80", &a), SLT_EINVAL);
}

static void test_routes_decode_the_sli_name(void **state)
{
    char name[32];

    (void)state;
    assert_int_equal(slt_api_route(slt_str_make("/api/v1/slis", 12), name, sizeof(name)),
                     SLT_ROUTE_SLIS);
#define ROUTE(s) slt_api_route(slt_str_make(s, strlen(s)), name, sizeof(name))
    assert_int_equal(ROUTE("/api/v1/slis/check%20out%2Fv2/counts"), SLT_ROUTE_COUNTS);
    assert_string_equal(name, "check out/v2");
    assert_int_equal(ROUTE("/api/v1/slis/a/b/counts"), SLT_ROUTE_NOT_FOUND);
    assert_int_equal(ROUTE("/api/v1/slis//counts"), SLT_ROUTE_NOT_FOUND);
    assert_int_equal(ROUTE("/api/v1/slis/%zz/counts"), SLT_EPARSE);
    assert_int_equal(ROUTE("/api/v1/slis/0123456789012345678901234567890123456789/counts"),
                     SLT_ELIMIT);
    assert_int_equal(ROUTE("/metrics"), SLT_ROUTE_METRICS);
    assert_int_equal(ROUTE("/healthz"), SLT_ROUTE_HEALTHZ);
    assert_int_equal(ROUTE("/readyz"), SLT_ROUTE_READYZ);
    assert_int_equal(ROUTE("/"), SLT_ROUTE_DASHBOARD);
    assert_int_equal(ROUTE("/api/v1/slos"), SLT_ROUTE_SLOS);
    assert_int_equal(ROUTE("/metricsx"), SLT_ROUTE_NOT_FOUND);
#undef ROUTE
}

static void test_ranges_must_be_whole_minutes(void **state)
{
    struct slt_api_range r;
    char err[160];

#define RANGE(s) slt_api_parse_range(slt_str_make(s, strlen(s)), &r, err, sizeof(err))
    (void)state;
    assert_int_equal(RANGE("from=600&to=1200"), 0);
    assert_int_equal(r.from, 600);
    assert_int_equal(r.to, 1200);
    assert_int_equal(r.step, 0);
    assert_int_equal(RANGE("from=600&to=1200&step=240"), 0);
    assert_int_equal(r.npoints, 3);
    assert_int_equal(RANGE("from=601&to=1200"), SLT_EINVAL);
    assert_non_null(strstr(err, "multiple of 60"));
    assert_int_equal(RANGE("from=1200&to=1200"), SLT_EINVAL);
    assert_non_null(strstr(err, "empty range"));
    assert_int_equal(RANGE("to=1200"), SLT_EINVAL);
    assert_non_null(strstr(err, "missing 'from'"));
    assert_int_equal(RANGE("from=-60&to=1200"), SLT_EINVAL);
    assert_int_equal(RANGE("from=0x10&to=1200"), SLT_EINVAL);
    assert_int_equal(RANGE("from=0&to=1200&step=0"), SLT_EINVAL);
    assert_int_equal(RANGE("from=0&to=1200&step=30"), SLT_EINVAL);
    assert_int_equal(RANGE("from=0&to=6000000&step=60"), SLT_EINVAL);
    assert_non_null(strstr(err, "points"));
    assert_int_equal(RANGE("from=0&to=999999999960"), SLT_EINVAL);
#undef RANGE
}

/* ---- the request reader ------------------------------------------------------------------ */

static struct slt_http_in *in_with(const char *bytes, size_t max)
{
    struct slt_http_in *in = slt_http_in_new(max);

    assert_non_null(in);
    assert_int_equal(slt_http_in_feed(in, bytes, strlen(bytes)), 0);
    return in;
}

static void test_reader_reads_pipelined_requests(void **state)
{
    struct slt_http_in *in = in_with("GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n"
                                     "HEAD /b HTTP/1.1\r\nConnection: close\r\n\r\nGET /c",
                                     8192);

    (void)state;
    assert_int_equal(slt_http_in_next(in), SLT_HTTP_IN_REQUEST);
    assert_string_equal(slt_http_in_target(in), "/a?x=1");
    assert_int_equal(slt_http_in_method(in), SLT_HTTP_GET);
    assert_int_equal(slt_http_in_keep_alive(in), 1);
    assert_int_equal(slt_http_in_next(in), SLT_HTTP_IN_REQUEST);
    assert_string_equal(slt_http_in_target(in), "/b");
    assert_int_equal(slt_http_in_method(in), SLT_HTTP_HEAD);
    assert_int_equal(slt_http_in_keep_alive(in), 0);
    assert_int_equal(slt_http_in_next(in), SLT_HTTP_IN_NEED_MORE);
    assert_int_equal(slt_http_in_started(in), 1);
    assert_int_equal(slt_http_in_feed(in, " HTTP/1.0\r\n\r\n", 13), 0);
    assert_int_equal(slt_http_in_next(in), SLT_HTTP_IN_REQUEST);
    assert_string_equal(slt_http_in_target(in), "/c");
    assert_int_equal(slt_http_in_keep_alive(in), 0);
    slt_http_in_free(in);
}

static void test_reader_keeps_each_requests_authorization(void **state)
{
    struct slt_http_in *in = in_with("GET /a HTTP/1.1\r\nX-Authorization-Not: no\r\n"
                                     "AUTHORIZATION: Bearer  s3cret \r\n\r\n"
                                     "GET /b HTTP/1.1\r\nauthorizatio: x\r\n\r\n",
                                     8192);

    (void)state;
    assert_int_equal(slt_http_in_next(in), SLT_HTTP_IN_REQUEST);
    assert_string_equal(slt_http_in_authorization(in), "Bearer  s3cret ");
    assert_int_equal(slt_http_bearer_matches(slt_http_in_authorization(in), "s3cret", 6), 1);
    assert_int_equal(slt_http_bearer_matches(slt_http_in_authorization(in), "s3cre", 5), 0);
    assert_int_equal(slt_http_in_next(in), SLT_HTTP_IN_REQUEST);
    assert_null(slt_http_in_authorization(in));
    assert_int_equal(slt_http_bearer_matches(NULL, "s3cret", 6), 0);
    assert_int_equal(slt_http_bearer_matches("Basic s3cret", "s3cret", 6), 0);
    assert_int_equal(slt_http_bearer_matches("bearer s3cret", "s3cret", 6), 1);
    assert_int_equal(slt_http_bearer_matches("Bearer ", "", 0), 0);
    slt_http_in_free(in);
}

static void test_reader_refuses_oversize_headers_with_431(void **state)
{
    char big[2048];
    struct slt_http_in *in;

    (void)state;
    snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nX-Big: %01200d\r\n\r\n", 7);
    in = in_with(big, 1024);
    assert_int_equal(slt_http_in_next(in), SLT_HTTP_IN_ERROR);
    assert_int_equal(slt_http_in_error_status(in), 431);
    slt_http_in_free(in);
}

static void test_reader_refuses_methods_bodies_and_garbage(void **state)
{
    struct slt_http_in *in;

    (void)state;
    in = in_with("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 8192);
    assert_int_equal(slt_http_in_next(in), SLT_HTTP_IN_ERROR);
    assert_int_equal(slt_http_in_error_status(in), 405);
    slt_http_in_free(in);
    in = in_with("GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 8192);
    assert_int_equal(slt_http_in_next(in), SLT_HTTP_IN_ERROR);
    assert_int_equal(slt_http_in_error_status(in), 413);
    slt_http_in_free(in);
    in = in_with("\x01\x02 garbage\r\n\r\n", 8192);
    assert_int_equal(slt_http_in_next(in), SLT_HTTP_IN_ERROR);
    assert_int_equal(slt_http_in_error_status(in), 400);
    slt_http_in_free(in);
}

static void test_target_splits_path_and_query(void **state)
{
    struct slt_str p, q;

    (void)state;
    slt_http_split_target("/a/b?x=1&y=2#frag", &p, &q);
    assert_true(slt_str_eq(p, "/a/b"));
    assert_true(slt_str_eq(q, "x=1&y=2"));
    slt_http_split_target("/a#q?x", &p, &q);
    assert_true(slt_str_eq(p, "/a"));
    assert_int_equal(q.len, 0);
}

/* ---- a live server ------------------------------------------------------------------------ */

struct live {
    uv_loop_t loop;
    uv_async_t stop;
    uv_timer_t later;
    struct slt_http_server *srv;
    struct slt_http_req *held; /* answered 300 ms later by the timer */
    pthread_t thread;
    int port;
};

static void on_later(uv_timer_t *t)
{
    struct live *lv = t->data;

    if (lv->held) {
        slt_http_respond(lv->held, 200, "text/plain", "late\n", 5, NULL);
        lv->held = NULL;
    }
}

static void live_handler(struct slt_http_req *req, void *data)
{
    struct live *lv = data;

    if (slt_str_eq(req->path, "/slow") && !lv->held) {
        lv->held = req;
        uv_timer_start(&lv->later, on_later, 300, 0);
        return;
    }
    if (slt_str_eq(req->path, "/big")) {
        static char big[16 << 20];

        memset(big, 'x', sizeof(big));
        slt_http_respond(req, 200, "text/plain", big, sizeof(big), NULL);
        return;
    }
    slt_http_respond(req, 200, "text/plain", "hello\n", 6, NULL);
}

static void on_stop(uv_async_t *a)
{
    struct live *lv = a->data;

    on_later(&lv->later);
    slt_http_server_close(lv->srv, NULL, NULL);
    uv_close((uv_handle_t *)&lv->stop, NULL);
    uv_close((uv_handle_t *)&lv->later, NULL);
}

static void *live_run(void *arg)
{
    struct live *lv = arg;

    uv_run(&lv->loop, UV_RUN_DEFAULT);
    return NULL;
}

static struct live *live_start(void)
{
    static struct live lv;
    struct slt_http_limits lim = {1024, 400, 1000, 4, NULL, 0, 0, 0};

    memset(&lv, 0, sizeof(lv));
    uv_loop_init(&lv.loop);
    assert_int_equal(
        slt_http_server_start(&lv.loop, "127.0.0.1:0", &lim, live_handler, &lv, &lv.srv), 0);
    lv.port = slt_http_server_port(lv.srv);
    uv_async_init(&lv.loop, &lv.stop, on_stop);
    lv.stop.data = &lv;
    uv_timer_init(&lv.loop, &lv.later);
    lv.later.data = &lv;
    pthread_create(&lv.thread, NULL, live_run, &lv);
    return &lv;
}

static void live_stop(struct live *lv)
{
    uv_async_send(&lv->stop);
    pthread_join(lv->thread, NULL);
    assert_int_equal(uv_loop_close(&lv->loop), 0);
}

static int dial(int port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

/* Reads until EOF or timeout_ms; returns bytes read, and *eof when the server closed. */
static size_t read_all(int fd, char *buf, size_t max, int timeout_ms, int *eof)
{
    size_t n = 0;

    *eof = 0;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t r;

        if (poll(&p, 1, timeout_ms) <= 0)
            break;
        r = read(fd, buf + n, max - 1 - n);
        if (r <= 0) {
            *eof = 1;
            break;
        }
        n += (size_t)r;
    }
    buf[n] = '\0';
    return n;
}

static void test_live_keep_alive_serves_two_requests(void **state)
{
    struct live *lv = live_start();
    char buf[4096];
    int fd = dial(lv->port), eof;
    const char *req = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n"
                      "Connection: close\r\n\r\n";

    (void)state;
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    read_all(fd, buf, sizeof(buf), 2000, &eof);
    assert_int_equal(eof, 1);
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK"));
    assert_non_null(strstr(strstr(buf, "hello") + 1, "hello"));
    assert_non_null(strstr(buf, "Connection: close"));
    close(fd);
    live_stop(lv);
}

static void test_live_oversize_headers_get_431(void **state)
{
    struct live *lv = live_start();
    char buf[4096], req[3000];
    int fd = dial(lv->port), eof;

    (void)state;
    snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nX-Pad: %02000d\r\n\r\n", 1);
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    read_all(fd, buf, sizeof(buf), 2000, &eof);
    assert_non_null(strstr(buf, "HTTP/1.1 431 "));
    assert_int_equal(eof, 1);
    close(fd);
    live_stop(lv);
}

static void test_live_slowloris_is_closed_after_header_timeout(void **state)
{
    struct live *lv = live_start();
    char buf[256];
    int fd = dial(lv->port), eof = 0, i;
    struct timespec t0, t1;
    long ms;

    (void)state;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* one header byte every 100 ms never finishes; the 400 ms header timeout closes it */
    for (i = 0; i < 30 && !eof; i++) {
        if (write(fd, i == 0 ? "GET / HTTP/1.1\r\n" : "X", i == 0 ? 16 : 1) < 0)
            break;
        read_all(fd, buf, sizeof(buf), 100, &eof);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_int_equal(eof, 1);
    assert_true(ms >= 350 && ms < 1500);
    close(fd);
    assert_int_equal(slt_http_server_counters(lv->srv)->header_timeouts, 1);
    live_stop(lv);
}

static void test_live_header_timer_runs_from_accept(void **state)
{
    struct live *lv = live_start();
    char buf[256];
    int fd = dial(lv->port), eof = 0;
    struct timespec t0, t1;
    long ms;

    (void)state;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    usleep(350000);
    /* the first byte 350 ms after connecting does not buy another 400 ms (750 ms) */
    assert_int_equal(write(fd, "G", 1), 1);
    read_all(fd, buf, sizeof(buf), 2000, &eof);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_int_equal(eof, 1);
    assert_true(ms >= 350 && ms < 700);
    close(fd);
    live_stop(lv);
}

static void test_live_client_leaving_mid_request_is_harmless(void **state)
{
    struct live *lv = live_start();
    char buf[256];
    int fd = dial(lv->port), eof;
    const char *req = "GET /slow HTTP/1.1\r\n\r\n";

    (void)state;
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    usleep(50000);
    close(fd); /* the answer comes 300 ms later, to nobody */
    usleep(400000);
    fd = dial(lv->port);
    req = "GET / HTTP/1.0\r\n\r\n";
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    read_all(fd, buf, sizeof(buf), 2000, &eof);
    assert_non_null(strstr(buf, "hello"));
    close(fd);
    live_stop(lv);
}

static void test_live_connections_over_the_limit_are_closed(void **state)
{
    struct live *lv = live_start();
    char buf[256];
    int fds[6], i, eof;

    (void)state;
    for (i = 0; i < 6; i++)
        fds[i] = dial(lv->port);
    read_all(fds[5], buf, sizeof(buf), 1000, &eof);
    assert_int_equal(eof, 1);
    for (i = 0; i < 6; i++)
        close(fds[i]);
    usleep(100000);
    assert_int_equal(slt_http_server_counters(lv->srv)->conns_refused, 2);
    live_stop(lv);
}

static void test_live_client_not_reading_its_answer_is_closed(void **state)
{
    struct live *lv = live_start();
    const char *req = "GET /big HTTP/1.1\r\n\r\n";
    int fd = dial(lv->port), i;
    size_t conns = 1;

    (void)state;
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    /* never read: 16 MiB cannot fit the socket buffers; the 1 s idle timeout closes it */
    for (i = 0; i < 40 && conns > 0; i++) {
        usleep(100000);
        conns = slt_http_server_conns(lv->srv);
    }
    assert_int_equal(conns, 0);
    close(fd);
    live_stop(lv);
}

static void test_live_server_listens_on_ipv6_loopback(void **state)
{
    uv_loop_t loop;
    struct slt_http_server *srv = NULL;
    int rc;

    (void)state;
    uv_loop_init(&loop);
    rc = slt_http_server_start(&loop, "[::1]:0", NULL, live_handler, NULL, &srv);
    if (rc == UV_EADDRNOTAVAIL || rc == UV_EAFNOSUPPORT) {
        uv_loop_close(&loop);
        skip(); /* no IPv6 here */
    }
    assert_int_equal(rc, 0);
    assert_true(slt_http_server_port(srv) > 0);
    slt_http_server_close(srv, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_bad_listen_address_is_refused(void **state)
{
    uv_loop_t loop;
    struct slt_http_server *srv = NULL;

    (void)state;
    uv_loop_init(&loop);
    assert_int_equal(slt_http_server_start(&loop, "nonsense", NULL, live_handler, NULL, &srv),
                     SLT_EINVAL);
    assert_null(srv);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_port_in_use_is_an_error_without_leaks(void **state)
{
    uv_loop_t loop;
    struct slt_http_server *a = NULL, *b = NULL;
    char addr[32];

    (void)state;
    uv_loop_init(&loop);
    assert_int_equal(slt_http_server_start(&loop, "127.0.0.1:0", NULL, live_handler, NULL, &a), 0);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", slt_http_server_port(a));
    assert_int_equal(slt_http_server_start(&loop, addr, NULL, live_handler, NULL, &b),
                     UV_EADDRINUSE);
    assert_null(b);
    slt_http_server_close(a, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_live_post_gets_405_with_allow(void **state)
{
    struct live *lv = live_start();
    char buf[1024];
    int fd = dial(lv->port), eof;
    const char *req = "DELETE / HTTP/1.1\r\n\r\n";

    (void)state;
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    read_all(fd, buf, sizeof(buf), 2000, &eof);
    assert_non_null(strstr(buf, "HTTP/1.1 405 "));
    assert_non_null(strstr(buf, "Allow: GET, HEAD"));
    close(fd);
    live_stop(lv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pct_decode_decodes_escapes_and_plus),
        cmocka_unit_test(test_pct_decode_refuses_bad_escapes_and_nul),
        cmocka_unit_test(test_query_get_finds_first_value),
        cmocka_unit_test(test_listen_addresses_parse),
        cmocka_unit_test(test_routes_decode_the_sli_name),
        cmocka_unit_test(test_ranges_must_be_whole_minutes),
        cmocka_unit_test(test_reader_reads_pipelined_requests),
        cmocka_unit_test(test_reader_keeps_each_requests_authorization),
        cmocka_unit_test(test_reader_refuses_oversize_headers_with_431),
        cmocka_unit_test(test_reader_refuses_methods_bodies_and_garbage),
        cmocka_unit_test(test_target_splits_path_and_query),
        cmocka_unit_test(test_live_keep_alive_serves_two_requests),
        cmocka_unit_test(test_live_oversize_headers_get_431),
        cmocka_unit_test(test_live_slowloris_is_closed_after_header_timeout),
        cmocka_unit_test(test_live_header_timer_runs_from_accept),
        cmocka_unit_test(test_live_client_leaving_mid_request_is_harmless),
        cmocka_unit_test(test_live_connections_over_the_limit_are_closed),
        cmocka_unit_test(test_live_post_gets_405_with_allow),
        cmocka_unit_test(test_live_client_not_reading_its_answer_is_closed),
        cmocka_unit_test(test_live_server_listens_on_ipv6_loopback),
        cmocka_unit_test(test_bad_listen_address_is_refused),
        cmocka_unit_test(test_port_in_use_is_an_error_without_leaks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
