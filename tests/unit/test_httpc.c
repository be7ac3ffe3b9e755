/* The outgoing HTTP client (libcurl on libuv): real POSTs to a real socket served by a thread. */
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

#include "slt/common.h"
#include "slt/httpc.h"

/* ---- a one-connection server on a thread -------------------------------------------------- */

struct server {
    int fd;
    int port;
    const char *answer; /* NULL: close without answering */
    size_t answer_len;
    int silent_ms; /* hold the connection this long without answering */
    int no_read;   /* answer at once, without reading the request */
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
    if (s->no_read)
        goto answer;
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
answer:
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
    char error[256];
};

static void on_done(int status, const char *error, void *data)
{
    struct result *r = data;

    r->status = status;
    r->calls++;
    snprintf(r->error, sizeof(r->error), "%s", error);
}

/* POSTs [1,2] to url, runs the loop until the callback ran and the client is gone. */
static struct result post_url(const char *url, const struct slt_httpc_auth *auth,
                              int64_t timeout_ms, int cancel)
{
    struct result r = {0, 0, ""};
    struct slt_httpc_req *req = NULL;
    struct slt_httpc *c;
    uv_loop_t loop;

    uv_loop_init(&loop);
    assert_int_equal(slt_httpc_new(&loop, &c), 0);
    assert_int_equal(
        slt_httpc_post(c, url, auth, "application/json", "[1,2]", 5, timeout_ms, on_done, &r, &req),
        0);
    assert_non_null(req);
    if (cancel)
        slt_httpc_cancel(req);
    while (r.calls == 0)
        uv_run(&loop, UV_RUN_ONCE);
    slt_httpc_close(c, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(r.calls, 1);
    return r;
}

static struct result post(const char *host, int port, int64_t timeout_ms, int cancel)
{
    char url[128];

    snprintf(url, sizeof(url), "http://%s:%d/api/v2/alerts", host, port);
    return post_url(url, NULL, timeout_ms, cancel);
}

/* Serves answer (len bytes, NULL: close without a word) to one POST to 127.0.0.1. */
static struct result post_answered(struct server *s, const char *answer, size_t len)
{
    struct result r;

    server_start(s, answer, len);
    server_run(s);
    r = post("127.0.0.1", s->port, 5000, 0);
    server_join(s);
    return r;
}

static void test_post_sends_the_body_and_reads_the_status(void **state)
{
    static const char answer[] = "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n";
    struct server s;
    struct result r;

    (void)state;
    r = post_answered(&s, answer, sizeof(answer) - 1);
    assert_int_equal(r.status, 202);
    assert_string_equal(r.error, "");
    assert_non_null(strstr(s.got, "POST /api/v2/alerts HTTP/1.1\r\n"));
    assert_non_null(strstr(s.got, "\r\nContent-Length: 5\r\n"));
    assert_non_null(strstr(s.got, "\r\nContent-Type: application/json\r\n"));
    assert_non_null(strstr(s.got, "\r\nHost: 127.0.0.1:"));
    assert_null(strstr(s.got, "\r\nAuthorization:"));
    assert_null(strstr(s.got, "\r\nExpect:"));
    assert_string_equal(strstr(s.got, "\r\n\r\n") + 4, "[1,2]");
}

static void test_bearer_and_basic_credentials_are_sent(void **state)
{
    static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    struct slt_httpc_auth bearer = {.bearer_token = "s3cret-token"};
    struct slt_httpc_auth basic = {.basic_user = "alice", .basic_password = "pw"};
    struct server s;
    struct result r;
    char url[128];

    (void)state;
    server_start(&s, answer, sizeof(answer) - 1);
    server_run(&s);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", s.port);
    r = post_url(url, &bearer, 5000, 0);
    server_join(&s);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(s.got, "\r\nAuthorization: Bearer s3cret-token\r\n"));

    server_start(&s, answer, sizeof(answer) - 1);
    server_run(&s);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", s.port);
    r = post_url(url, &basic, 5000, 0);
    server_join(&s);
    assert_int_equal(r.status, 200);
    /* base64("alice:pw") */
    assert_non_null(strstr(s.got, "\r\nAuthorization: Basic YWxpY2U6cHc=\r\n"));
}

static void test_an_error_status_is_reported_as_is(void **state)
{
    static const char answer[] = "HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy";
    struct server s;
    struct result r;

    (void)state;
    r = post_answered(&s, answer, sizeof(answer) - 1);
    assert_int_equal(r.status, 503);
}

static void test_a_host_name_is_resolved(void **state)
{
    static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    struct server s;
    struct result r;

    (void)state;
    server_start(&s, answer, sizeof(answer) - 1);
    server_run(&s);
    r = post("localhost", s.port, 5000, 0);
    server_join(&s);
    assert_int_equal(r.status, 200); /* libcurl tries ::1 and 127.0.0.1 */
}

static void test_a_refused_connection_is_an_error_with_a_reason(void **state)
{
    struct server s;
    struct result r;
    int port;

    (void)state;
    server_start(&s, NULL, 0);
    port = s.port;
    close(s.fd); /* nothing listens there now */
    r = post("127.0.0.1", port, 5000, 0);
    assert_int_equal(r.status, SLT_EPROTO);
    assert_true(strlen(r.error) > 0);
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
    static char big[8192];
    struct server s;
    struct result r;

    (void)state;
    r = post_answered(&s, "SSH-2.0-OpenSSH\r\n", 17);
    assert_int_equal(r.status, SLT_EPROTO);

    server_start(&s, NULL, 0); /* closes without a word */
    server_run(&s);
    r = post("127.0.0.1", s.port, 5000, 0);
    server_join(&s);
    assert_int_equal(r.status, SLT_EPROTO);

    memset(big, 'x', sizeof(big)); /* no end of line */
    r = post_answered(&s, big, sizeof(big));
    assert_int_equal(r.status, SLT_EPROTO);
}

static void test_https_to_a_plain_server_fails_the_handshake(void **state)
{
    static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    struct server s;
    struct result r;
    char url[128];

    (void)state;
    server_start(&s, answer, sizeof(answer) - 1);
    s.no_read = 1; /* a plain HTTP answer to the TLS hello */
    server_run(&s);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/x", s.port);
    r = post_url(url, NULL, 5000, 0);
    server_join(&s);
    assert_int_equal(r.status, SLT_EPROTO);
    assert_true(strlen(r.error) > 0);
}

static void test_only_http_and_https_urls_are_taken(void **state)
{
    uv_loop_t loop;
    struct slt_httpc *c;
    struct result r = {0, 0, ""};

    (void)state;
    uv_loop_init(&loop);
    assert_int_equal(slt_httpc_new(&loop, &c), 0);
    assert_int_equal(
        slt_httpc_post(c, "file:///etc/passwd", NULL, NULL, "", 0, 1000, on_done, &r, NULL),
        SLT_EINVAL);
    assert_int_equal(slt_httpc_post(c, "gopher://h/", NULL, NULL, "", 0, 1000, on_done, &r, NULL),
                     SLT_EINVAL);
    slt_httpc_close(c, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(r.calls, 0);
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

/* A client on loop with one POST in flight to s, a server that holds it 300 ms unanswered. */
static struct slt_httpc *post_to_a_silent_server(struct server *s, uv_loop_t *loop,
                                                 struct result *r)
{
    static const char answer[] = "HTTP/1.1 200 OK\r\n\r\n";
    struct slt_httpc *c;
    char url[128];
    int i;

    server_start(s, answer, sizeof(answer) - 1);
    s->silent_ms = 300;
    server_run(s);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", s->port);
    uv_loop_init(loop);
    assert_int_equal(slt_httpc_new(loop, &c), 0);
    assert_int_equal(slt_httpc_post(c, url, NULL, NULL, "{}", 2, 5000, on_done, r, NULL), 0);
    for (i = 0; i < 10; i++)
        uv_run(loop, UV_RUN_NOWAIT);
    return c;
}

static void test_free_cancels_what_is_in_flight(void **state)
{
    struct result r = {0, 0, ""};
    struct slt_httpc *c;
    struct server s;
    uv_loop_t loop;

    (void)state;
    c = post_to_a_silent_server(&s, &loop, &r);
    assert_int_equal(slt_httpc_pending(c), 1);
    slt_httpc_close(c, NULL, NULL);
    assert_int_equal(r.calls, 0); /* from the loop, not from inside free */
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, UV_ECANCELED);
    server_join(&s);
}

static void on_closed_after(void *data)
{
    struct result *r = data;

    r->calls += 100; /* after the request's cb: 101 */
}

static void test_close_runs_its_callback_once_after_every_request_cb(void **state)
{
    struct result r = {0, 0, ""};
    struct slt_httpc *c;
    struct server s;
    uv_loop_t loop;

    (void)state;
    c = post_to_a_silent_server(&s, &loop, &r);
    slt_httpc_close(c, on_closed_after, &r);
    slt_httpc_close(c, on_closed_after, &r); /* a second close does nothing */
    assert_int_equal(r.calls, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(r.calls, 101);
    server_join(&s);
    r.calls = 0;
    slt_httpc_close(NULL, on_closed_after, &r); /* NULL: at once */
    assert_int_equal(r.calls, 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_post_sends_the_body_and_reads_the_status),
        cmocka_unit_test(test_bearer_and_basic_credentials_are_sent),
        cmocka_unit_test(test_an_error_status_is_reported_as_is),
        cmocka_unit_test(test_a_host_name_is_resolved),
        cmocka_unit_test(test_a_refused_connection_is_an_error_with_a_reason),
        cmocka_unit_test(test_a_silent_server_times_out),
        cmocka_unit_test(test_garbage_or_no_answer_is_a_protocol_error),
        cmocka_unit_test(test_https_to_a_plain_server_fails_the_handshake),
        cmocka_unit_test(test_only_http_and_https_urls_are_taken),
        cmocka_unit_test(test_cancel_calls_back_once_with_ecanceled),
        cmocka_unit_test(test_free_cancels_what_is_in_flight),
        cmocka_unit_test(test_close_runs_its_callback_once_after_every_request_cb),
    };

    signal(SIGPIPE, SIG_IGN); /* the server thread may write to a client that gave up */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
