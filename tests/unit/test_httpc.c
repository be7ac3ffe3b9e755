/* The alert HTTP client: status lines, and real POSTs to a real socket served by a thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "httpc.h"
#include "slt/common.h"
#include "slt/config.h"

/* ---- pure --------------------------------------------------------------------------------- */

static void test_status_line_is_parsed(void **state)
{
    (void)state;
    assert_int_equal(slt_httpc_status("HTTP/1.1 200 OK\r\n", 17), 200);
    assert_int_equal(slt_httpc_status("HTTP/1.0 503 Busy\r\n", 19), 503);
    assert_int_equal(slt_httpc_status("HTTP/1.1 204\r\n", 14), 204);
    assert_int_equal(slt_httpc_status("HTTP/1.1 200 O", 14), 0); /* not all there yet */
    assert_int_equal(slt_httpc_status("", 0), 0);
    assert_int_equal(slt_httpc_status("hello\n", 6), SLT_EPROTO);
    assert_int_equal(slt_httpc_status("HTTP/1.1 2x0 OK\r\n", 17), SLT_EPROTO);
    assert_int_equal(slt_httpc_status("HTTP/1.1 999 OK\r\n", 17), SLT_EPROTO);
    assert_int_equal(slt_httpc_status("HTTP/2 200 OK\r\n\r\n", 17), SLT_EPROTO);
    assert_int_equal(slt_httpc_status("HTTP/1.1 2000 OK\r\n", 18), SLT_EPROTO);
}

/* ---- a one-connection server on a thread -------------------------------------------------- */

struct server {
    int fd;
    int port;
    const char *answer; /* NULL: close without answering */
    size_t answer_len;
    int silent_ms; /* hold the connection this long without answering */
    char got[8192];
    size_t got_len;
    pthread_t th;
};

static void *serve(void *arg)
{
    struct server *s = arg;
    int c = accept(s->fd, NULL, NULL);
    char *body;

    if (c < 0)
        return NULL;
    /* read the headers and the body announced by Content-Length */
    for (;;) {
        ssize_t n = read(c, s->got + s->got_len, sizeof(s->got) - 1 - s->got_len);
        char *cl;

        if (n <= 0)
            break;
        s->got_len += (size_t)n;
        s->got[s->got_len] = '\0';
        body = strstr(s->got, "\r\n\r\n");
        cl = strstr(s->got, "Content-Length: ");
        if (body && cl && s->got_len >= (size_t)(body + 4 - s->got) + (size_t)atoi(cl + 16))
            break;
    }
    if (s->silent_ms)
        usleep((useconds_t)s->silent_ms * 1000);
    if (s->answer && write(c, s->answer, s->answer_len) < 0)
        perror("write");
    close(c);
    return NULL;
}

static void server_start(struct server *s, const char *answer, size_t len)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    int one = 1;

    memset(s, 0, sizeof(*s));
    s->answer = answer;
    s->answer_len = len;
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->fd >= 0);
    setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s->fd, 4), 0);
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &alen), 0);
    s->port = ntohs(a.sin_port);
}

static void server_run(struct server *s)
{
    assert_int_equal(pthread_create(&s->th, NULL, serve, s), 0);
}

static void server_join(struct server *s)
{
    pthread_join(s->th, NULL);
    close(s->fd);
}

/* ---- the client --------------------------------------------------------------------------- */

struct result {
    int status;
    int calls;
};

static void on_done(int status, void *data)
{
    struct result *r = data;

    r->status = status;
    r->calls++;
}

/* POSTs body to http://host:port/path and runs the loop until the callback ran. */
static struct result post(const char *host, int port, int64_t timeout_ms, int cancel)
{
    struct slt_http_url u;
    struct result r = {0, 0};
    struct slt_httpc *req = NULL;
    uv_loop_t loop;
    char url[128], msg[128];

    snprintf(url, sizeof(url), "http://%s:%d/api/v2/alerts", host, port);
    assert_int_equal(slt_http_url_parse(url, &u, msg, sizeof(msg)), 0);
    uv_loop_init(&loop);
    assert_int_equal(
        slt_httpc_post(&loop, &u, "application/json", "[1,2]", 5, timeout_ms, on_done, &r, &req),
        0);
    if (cancel)
        slt_httpc_cancel(req);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(r.calls, 1);
    return r;
}

static void test_post_sends_the_body_and_reads_the_status(void **state)
{
    static const char answer[] = "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n";
    struct server s;
    struct result r;

    (void)state;
    server_start(&s, answer, sizeof(answer) - 1);
    server_run(&s);
    r = post("127.0.0.1", s.port, 5000, 0);
    server_join(&s);
    assert_int_equal(r.status, 202);
    assert_non_null(strstr(s.got, "POST /api/v2/alerts HTTP/1.1\r\n"));
    assert_non_null(strstr(s.got, "\r\nContent-Length: 5\r\n"));
    assert_non_null(strstr(s.got, "\r\nConnection: close\r\n"));
    assert_non_null(strstr(s.got, "\r\nContent-Type: application/json\r\n"));
    assert_non_null(strstr(s.got, "\r\nHost: 127.0.0.1:"));
    assert_string_equal(strstr(s.got, "\r\n\r\n") + 4, "[1,2]");
}

static void test_a_host_name_is_resolved(void **state)
{
    static const char answer[] = "HTTP/1.1 200 OK\r\n\r\n";
    struct server s;
    struct result r;

    (void)state;
    server_start(&s, answer, sizeof(answer) - 1);
    server_run(&s);
    r = post("localhost", s.port, 5000, 0);
    server_join(&s);
    /* localhost may resolve to ::1 first, where nothing listens: then it is refused */
    if (r.status != 200)
        assert_int_equal(r.status, UV_ECONNREFUSED);
}

static void test_a_refused_connection_is_an_error(void **state)
{
    struct server s;
    struct result r;
    int port;

    (void)state;
    server_start(&s, NULL, 0);
    port = s.port;
    close(s.fd); /* nothing listens there now */
    r = post("127.0.0.1", port, 5000, 0);
    assert_int_equal(r.status, UV_ECONNREFUSED);
}

static void test_a_silent_server_times_out(void **state)
{
    static const char answer[] = "HTTP/1.1 200 OK\r\n\r\n";
    struct server s;
    struct result r;
    uint64_t t0 = slt_mono_ns();

    (void)state;
    server_start(&s, answer, sizeof(answer) - 1);
    s.silent_ms = 1000;
    server_run(&s);
    r = post("127.0.0.1", s.port, 150, 0);
    assert_int_equal(r.status, SLT_ETIMEDOUT);
    assert_true(slt_mono_ns() - t0 < 900000000ull);
    server_join(&s);
}

static void test_garbage_or_no_answer_is_a_protocol_error(void **state)
{
    static char big[SLT_HTTPC_MAX_RESPONSE + 100];
    struct server s;
    struct result r;

    (void)state;
    server_start(&s, "SSH-2.0-OpenSSH\r\n", 17);
    server_run(&s);
    r = post("127.0.0.1", s.port, 5000, 0);
    server_join(&s);
    assert_int_equal(r.status, SLT_EPROTO);

    server_start(&s, NULL, 0); /* closes without a word */
    server_run(&s);
    r = post("127.0.0.1", s.port, 5000, 0);
    server_join(&s);
    assert_int_equal(r.status, SLT_EPROTO);

    memset(big, 'x', sizeof(big)); /* no end of line within the bound */
    server_start(&s, big, sizeof(big));
    server_run(&s);
    r = post("127.0.0.1", s.port, 5000, 0);
    server_join(&s);
    assert_int_equal(r.status, SLT_EPROTO);
}

static void test_cancel_calls_back_once_with_ecanceled(void **state)
{
    struct result r;

    (void)state;
    r = post("127.0.0.1", 9, 5000, 1);
    assert_int_equal(r.status, UV_ECANCELED);
    r = post("localhost", 9, 5000, 1); /* while the name is being resolved */
    assert_int_equal(r.status, UV_ECANCELED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_line_is_parsed),
        cmocka_unit_test(test_post_sends_the_body_and_reads_the_status),
        cmocka_unit_test(test_a_host_name_is_resolved),
        cmocka_unit_test(test_a_refused_connection_is_an_error),
        cmocka_unit_test(test_a_silent_server_times_out),
        cmocka_unit_test(test_garbage_or_no_answer_is_a_protocol_error),
        cmocka_unit_test(test_cancel_calls_back_once_with_ecanceled),
    };

    signal(SIGPIPE, SIG_IGN); /* the server thread may write to a client that gave up */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
