/* libcurl on a libuv loop, against a small real HTTP server on a thread (keep-alive). */
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
#include "slt/curl_uv.h"

/* ---- the server: one thread per connection; the path picks the behaviour ------------------- */
/*   /ok...     200 "hello", keep-alive      /close    closes without answering
 *   /silent    never answers (until the client goes)  POST /echo  200 with the body's length */

static int srv_fd = -1;
static int srv_port;
static pthread_mutex_t srv_lock = PTHREAD_MUTEX_INITIALIZER;
static int srv_conns; /* connections accepted */

static void *serve_conn(void *arg)
{
    int c = (int)(intptr_t)arg;
    char got[8192];
    size_t len = 0;

    for (;;) {
        char *end, *cl, ans[256];
        size_t need, body = 0;
        ssize_t n;

        end = len ? memmem(got, len, "\r\n\r\n", 4) : NULL;
        if (end) {
            cl = strcasestr(got, "Content-Length: ");
            if (cl && cl < end)
                body = (size_t)atoi(cl + 16);
            need = (size_t)(end + 4 - got) + body;
            if (len >= need) {
                int r = 0;
                if (strncmp(got, "GET /close", 10) == 0)
                    break;
                if (strncmp(got, "GET /silent", 11) == 0) {
                    while (read(c, got, sizeof(got)) > 0)
                        ;
                    break;
                }
                if (strncmp(got, "POST /echo", 10) == 0)
                    r = snprintf(ans, sizeof(ans),
                                 "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%zu",
                                 (size_t)snprintf(NULL, 0, "%zu", body), body);
                else if (strncmp(got, "GET /ok", 7) == 0)
                    r = snprintf(ans, sizeof(ans),
                                 "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
                else
                    r = snprintf(ans, sizeof(ans), "HTTP/1.1 404 No\r\nContent-Length: 0\r\n\r\n");
                if (write(c, ans, (size_t)r) < 0)
                    break;
                memmove(got, got + need, len - need);
                len -= need;
                continue;
            }
        }
        if (len == sizeof(got) - 1)
            break;
        n = read(c, got + len, sizeof(got) - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        got[len] = '\0';
    }
    close(c);
    return NULL;
}

static void *serve(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_t th;
        int c = accept(srv_fd, NULL, NULL);
        if (c < 0)
            return NULL;
        pthread_mutex_lock(&srv_lock);
        srv_conns++;
        pthread_mutex_unlock(&srv_lock);
        pthread_create(&th, NULL, serve_conn, (void *)(intptr_t)c);
        pthread_detach(th);
    }
}

static int server_start(void **state)
{
    struct sockaddr_in a = {0};
    socklen_t al = sizeof(a);
    pthread_t th;

    (void)state;
    signal(SIGPIPE, SIG_IGN);
    srv_fd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (srv_fd < 0 || bind(srv_fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        listen(srv_fd, 64) < 0 || getsockname(srv_fd, (struct sockaddr *)&a, &al) < 0)
        return -1;
    srv_port = ntohs(a.sin_port);
    pthread_create(&th, NULL, serve, NULL);
    pthread_detach(th);
    return 0;
}

/* ---- helpers ------------------------------------------------------------------------------- */

struct got {
    int calls;
    CURLcode result;
    long code;
    char body[64];
    size_t body_len;
    struct slt_curl_uv *free_in_done; /* free the multi from inside done */
};

static size_t on_write(char *p, size_t size, size_t n, void *arg)
{
    struct got *g = arg;
    size_t k = size * n;

    if (k > sizeof(g->body) - 1 - g->body_len)
        k = sizeof(g->body) - 1 - g->body_len;
    memcpy(g->body + g->body_len, p, k);
    g->body_len += k;
    return size * n;
}

static CURL *easy_for(const char *path, struct got *g, long timeout_ms)
{
    char url[128];
    CURL *e = curl_easy_init();

    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", srv_port, path);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, g);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    return e;
}

static void on_done(CURL *easy, CURLcode result, void *arg)
{
    struct got *g = arg;

    g->calls++;
    g->result = result;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &g->code);
    if (g->free_in_done)
        slt_curl_uv_close(g->free_in_done, NULL, NULL);
}

/* Runs the loop until nothing is left on it; fails the test if that takes too long. */
static void run_loop(uv_loop_t *loop)
{
    uint64_t t0 = slt_mono_ns();

    while (uv_run(loop, UV_RUN_ONCE))
        assert_true(slt_mono_ns() - t0 < 20ull * 1000 * 1000 * 1000);
}

static void run_until(uv_loop_t *loop, const int *calls, int want)
{
    uint64_t t0 = slt_mono_ns();

    while (*calls < want) {
        uv_run(loop, UV_RUN_ONCE);
        assert_true(slt_mono_ns() - t0 < 20ull * 1000 * 1000 * 1000);
    }
}

/* ---- tests --------------------------------------------------------------------------------- */

/* 1 when a file named *libcurl* is mapped into this process. */
static int libcurl_mapped(void)
{
    char line[4096];
    FILE *f = fopen("/proc/self/maps", "r");
    int found = 0;

    assert_non_null(f);
    while (!found && fgets(line, sizeof(line), f))
        found = strstr(line, "libcurl") != NULL;
    fclose(f);
    return found;
}

static void *load_in_thread(void *arg)
{
    *(int *)arg = slt_curl_load(NULL, 0);
    return NULL;
}

/* Runs first: nothing links libcurl; the first slt_curl_load() maps it, once, from any thread. */
static void test_libcurl_is_loaded_on_first_use_only(void **state)
{
    pthread_t th[4];
    int rc[4], i;
    char err[256] = "";

    (void)state;
    assert_false(libcurl_mapped());
    for (i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, load_in_thread, &rc[i]), 0);
    for (i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(rc[i], 0);
    }
    assert_true(libcurl_mapped());
    assert_int_equal(slt_curl_load(err, sizeof(err)), 0);
    assert_string_equal(err, "");
    assert_non_null(slt__curl.easy_setopt);
    assert_non_null(slt__curl.multi_info_read);
}

static void test_a_get_completes_once_with_its_body(void **state)
{
    uv_loop_t loop;
    struct slt_curl_uv *m;
    struct got g = {0};
    CURL *e;

    (void)state;
    uv_loop_init(&loop);
    assert_int_equal(slt_curl_uv_new(&loop, &m), 0);
    e = easy_for("/ok", &g, 10000);
    assert_int_equal(slt_curl_uv_add(m, e, on_done, &g), 0);
    assert_int_equal(slt_curl_uv_add(m, e, on_done, &g), SLT_EINVAL); /* twice: refused */
    assert_int_equal(slt_curl_uv_active(m), 1);
    run_until(&loop, &g.calls, 1);
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.result, CURLE_OK);
    assert_int_equal(g.code, 200);
    assert_string_equal(g.body, "hello");
    assert_int_equal(slt_curl_uv_active(m), 0);
    /* the caller owns easy again: reuse it on the same multi (the connection is kept alive) */
    memset(&g, 0, sizeof(g));
    assert_int_equal(slt_curl_uv_add(m, e, on_done, &g), 0);
    run_until(&loop, &g.calls, 1);
    assert_int_equal(g.result, CURLE_OK);
    assert_string_equal(g.body, "hello");
    slt_curl_uv_close(m, NULL, NULL); /* with an idle cached connection */
    run_loop(&loop);
    assert_int_equal(g.calls, 1);
    curl_easy_cleanup(e);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_many_transfers_run_at_once(void **state)
{
    enum { N = 12 };
    uv_loop_t loop;
    struct slt_curl_uv *m;
    struct got g[N];
    CURL *e[N];
    int i, total = 0;
    char body[3000];
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: text/plain");

    (void)state;
    memset(g, 0, sizeof(g));
    memset(body, 'x', sizeof(body));
    uv_loop_init(&loop);
    assert_int_equal(slt_curl_uv_new(&loop, &m), 0);
    for (i = 0; i < N; i++) {
        e[i] = easy_for(i % 2 ? "/ok" : "/echo", &g[i], 10000);
        if (i % 2 == 0) {
            curl_easy_setopt(e[i], CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(e[i], CURLOPT_POSTFIELDSIZE, (long)(100 * i + 1));
            curl_easy_setopt(e[i], CURLOPT_HTTPHEADER, hdr);
        }
        assert_int_equal(slt_curl_uv_add(m, e[i], on_done, &g[i]), 0);
    }
    {
        uint64_t t0 = slt_mono_ns();
        for (;;) {
            total = 0;
            for (i = 0; i < N; i++)
                total += g[i].calls;
            if (total == N)
                break;
            uv_run(&loop, UV_RUN_ONCE);
            assert_true(slt_mono_ns() - t0 < 20ull * 1000 * 1000 * 1000);
        }
    }
    for (i = 0; i < N; i++) {
        char want[16];
        assert_int_equal(g[i].calls, 1);
        assert_int_equal(g[i].result, CURLE_OK);
        assert_int_equal(g[i].code, 200);
        snprintf(want, sizeof(want), "%d", 100 * i + 1);
        assert_string_equal(g[i].body, i % 2 ? "hello" : want);
        curl_easy_cleanup(e[i]);
    }
    slt_curl_uv_close(m, NULL, NULL);
    run_loop(&loop);
    curl_slist_free_all(hdr);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_failures_reach_done_as_curl_errors(void **state)
{
    uv_loop_t loop;
    struct slt_curl_uv *m;
    struct got g[3];
    CURL *e[3];
    int total = 0, i;
    char url[64];
    int dead;
    struct sockaddr_in a = {0};
    socklen_t al = sizeof(a);

    (void)state;
    memset(g, 0, sizeof(g));
    /* a port nobody listens on: bind, read the port, close */
    dead = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(dead, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(dead, (struct sockaddr *)&a, &al), 0);
    close(dead);

    uv_loop_init(&loop);
    assert_int_equal(slt_curl_uv_new(&loop, &m), 0);
    e[0] = easy_for("/close", &g[0], 10000);
    e[1] = easy_for("/silent", &g[1], 300);
    e[2] = easy_for("/", &g[2], 10000);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", ntohs(a.sin_port));
    curl_easy_setopt(e[2], CURLOPT_URL, url);
    for (i = 0; i < 3; i++)
        assert_int_equal(slt_curl_uv_add(m, e[i], on_done, &g[i]), 0);
    {
        uint64_t t0 = slt_mono_ns();
        while ((total = g[0].calls + g[1].calls + g[2].calls) < 3) {
            uv_run(&loop, UV_RUN_ONCE);
            assert_true(slt_mono_ns() - t0 < 20ull * 1000 * 1000 * 1000);
        }
    }
    assert_int_equal(g[0].result, CURLE_GOT_NOTHING);
    assert_int_equal(g[1].result, CURLE_OPERATION_TIMEDOUT);
    assert_int_equal(g[2].result, CURLE_COULDNT_CONNECT);
    for (i = 0; i < 3; i++) {
        assert_int_equal(g[i].calls, 1);
        curl_easy_cleanup(e[i]);
    }
    slt_curl_uv_close(m, NULL, NULL);
    run_loop(&loop);
    assert_int_equal(uv_loop_close(&loop), 0);
}

struct cancel_ctx {
    struct slt_curl_uv *m;
    CURL *easy;
};

static void on_cancel_timer(uv_timer_t *t)
{
    struct cancel_ctx *c = t->data;

    slt_curl_uv_cancel(c->m, c->easy);
    slt_curl_uv_cancel(c->m, c->easy); /* twice: nothing */
    uv_close((uv_handle_t *)t, NULL);
}

static void test_a_cancelled_transfer_never_calls_done(void **state)
{
    uv_loop_t loop;
    uv_timer_t t;
    struct slt_curl_uv *m;
    struct got g = {0}, g2 = {0};
    struct cancel_ctx c;
    CURL *e, *e2;

    (void)state;
    uv_loop_init(&loop);
    assert_int_equal(slt_curl_uv_new(&loop, &m), 0);
    e = easy_for("/silent", &g, 10000);
    assert_int_equal(slt_curl_uv_add(m, e, on_done, &g), 0);
    c.m = m;
    c.easy = e;
    uv_timer_init(&loop, &t);
    t.data = &c;
    uv_timer_start(&t, on_cancel_timer, 100, 0);
    /* the loop ends: nothing of the cancelled transfer stays on it */
    e2 = easy_for("/ok", &g2, 10000);
    assert_int_equal(slt_curl_uv_add(m, e2, on_done, &g2), 0);
    run_until(&loop, &g2.calls, 1);
    while (uv_is_active((uv_handle_t *)&t) || slt_curl_uv_active(m) > 0)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(g.calls, 0);
    assert_int_equal(g2.result, CURLE_OK);
    /* the cancelled handle is the caller's again and can be reused */
    curl_easy_setopt(e, CURLOPT_URL, "http://127.0.0.1:1/");
    slt_curl_uv_close(m, NULL, NULL);
    run_loop(&loop);
    assert_int_equal(g.calls, 0);
    curl_easy_cleanup(e);
    curl_easy_cleanup(e2);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_free_with_transfers_in_flight_calls_no_done(void **state)
{
    uv_loop_t loop;
    struct slt_curl_uv *m;
    struct got g[2];
    CURL *e[2];
    int i;

    (void)state;
    memset(g, 0, sizeof(g));
    uv_loop_init(&loop);
    assert_int_equal(slt_curl_uv_new(&loop, &m), 0);
    for (i = 0; i < 2; i++) {
        e[i] = easy_for("/silent", &g[i], 10000);
        assert_int_equal(slt_curl_uv_add(m, e[i], on_done, &g[i]), 0);
    }
    /* let them connect and send */
    for (i = 0; i < 20; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    slt_curl_uv_close(m, NULL, NULL);
    run_loop(&loop);
    for (i = 0; i < 2; i++) {
        assert_int_equal(g[i].calls, 0);
        curl_easy_cleanup(e[i]);
    }
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_done_may_free_the_multi(void **state)
{
    uv_loop_t loop;
    struct slt_curl_uv *m;
    struct got g = {0}, g2 = {0};
    CURL *e, *e2;

    (void)state;
    uv_loop_init(&loop);
    assert_int_equal(slt_curl_uv_new(&loop, &m), 0);
    e = easy_for("/ok", &g, 10000);
    e2 = easy_for("/silent", &g2, 10000);
    g.free_in_done = m;
    assert_int_equal(slt_curl_uv_add(m, e, on_done, &g), 0);
    assert_int_equal(slt_curl_uv_add(m, e2, on_done, &g2), 0);
    run_loop(&loop);
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.result, CURLE_OK);
    assert_int_equal(g2.calls, 0);
    curl_easy_cleanup(e);
    curl_easy_cleanup(e2);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_free_null_and_bad_arguments(void **state)
{
    uv_loop_t loop;
    struct slt_curl_uv *m;

    (void)state;
    slt_curl_uv_close(NULL, NULL, NULL);
    slt_curl_uv_cancel(NULL, NULL);
    uv_loop_init(&loop);
    assert_int_equal(slt_curl_uv_new(&loop, &m), 0);
    assert_int_equal(slt_curl_uv_add(m, NULL, on_done, NULL), SLT_EINVAL);
    slt_curl_uv_close(m, NULL, NULL);
    run_loop(&loop);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_libcurl_is_loaded_on_first_use_only),
        cmocka_unit_test(test_a_get_completes_once_with_its_body),
        cmocka_unit_test(test_many_transfers_run_at_once),
        cmocka_unit_test(test_failures_reach_done_as_curl_errors),
        cmocka_unit_test(test_a_cancelled_transfer_never_calls_done),
        cmocka_unit_test(test_free_with_transfers_in_flight_calls_no_done),
        cmocka_unit_test(test_done_may_free_the_multi),
        cmocka_unit_test(test_free_null_and_bad_arguments),
    };
    return cmocka_run_group_tests(tests, server_start, NULL);
}
