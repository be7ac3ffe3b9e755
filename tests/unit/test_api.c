/*
 * The API end to end against a real redis-server (started here on a free port) and real TCP:
 * counts agree with brute-force sums over seeded minute buckets, errors mean something, and
 * the API survives Redis going away and coming back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "aggr.h"
#include "api.h"
#include "slo.h"
#include "slt/config.h"
#include "stats.h"
#include "store.h"

#define MINUTES (30 * 60) /* seeded: the last 30 hours */

static int redis_port;
static pid_t redis_pid = -1;
static char redis_dir[] = "/tmp/slt-test-api-XXXXXX";
static int64_t seed_from; /* first seeded minute */
static int64_t counts[MINUTES][3];

static struct slt_config cfg;
static struct slt_sli slis[1];
static struct slt_slo slos[1];
static struct slt_aggr_stats stats;
static char redis_url[64];

static uv_loop_t loop;
static uv_async_t stop_async;
static struct slt_api *api;
static pthread_t loop_thread;
static int api_port;

static int free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&a, sizeof(a));
    getsockname(fd, (struct sockaddr *)&a, &len);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static void redis_start(void)
{
    char port[16];
    int i;

    snprintf(port, sizeof(port), "%d", redis_port);
    redis_pid = fork();
    if (redis_pid == 0) {
        int fd = open("/dev/null", 1);

        dup2(fd, 1);
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--dir",
               redis_dir, "--save", "", "--appendonly", "no", (char *)NULL);
        _exit(127);
    }
    for (i = 0; i < 100; i++) {
        redisContext *c = redisConnect("127.0.0.1", redis_port);

        if (c && !c->err) {
            redisReply *r = redisCommand(c, "PING");
            int ok = r && r->type == REDIS_REPLY_STATUS;

            freeReplyObject(r);
            redisFree(c);
            if (ok)
                return;
        } else if (c) {
            redisFree(c);
        }
        usleep(50000);
    }
    fail_msg("redis-server did not start on port %d", redis_port);
}

static void redis_kill(void)
{
    if (redis_pid > 0) {
        kill(redis_pid, SIGKILL);
        waitpid(redis_pid, NULL, 0);
        redis_pid = -1;
    }
}

static void add(redisContext *c, const char *tag, const char *kind, int64_t start,
                const int64_t v[3], const char *const f[3])
{
    char key[256];
    int i;

    snprintf(key, sizeof(key), "slt:{%s}:%s%s%lld", tag, kind, kind[0] ? ":" : "",
             (long long)start);
    if (strcmp(kind, "tot") == 0)
        snprintf(key, sizeof(key), "slt:{%s}:tot", tag);
    for (i = 0; i < 3; i++) {
        char val[32];
        const char *argv[4] = {"HINCRBY", key, f[i], val};

        if (!v[i])
            continue;
        snprintf(val, sizeof(val), "%lld", (long long)v[i]);
        redisAppendCommandArgv(c, 4, argv, NULL);
        freeReplyObject(NULL);
    }
}

static void drain(redisContext *c)
{
    void *r;

    while (c->obuf && c->obuf[0]) {
        int done = 0;

        if (redisBufferWrite(c, &done) != REDIS_OK)
            fail_msg("redis write failed");
        if (done)
            break;
    }
    for (;;) {
        if (redisReaderGetReply(c->reader, &r) != REDIS_OK)
            fail_msg("redis read failed");
        if (r) {
            freeReplyObject(r);
            continue;
        }
        {
            struct pollfd p = {c->fd, POLLIN, 0};

            if (poll(&p, 1, 300) <= 0)
                break;
        }
        if (redisBufferRead(c) != REDIS_OK)
            break;
    }
}

/* Seeds SLI "checkout" the way the apply script writes: minute, hour, day and tot. */
static void seed(void)
{
    static const char *const f[3] = {"g", "b", "e"};
    redisContext *c = redisConnect("127.0.0.1", redis_port);
    int64_t tot[3] = {0, 0, 0};
    int m, k;

    assert_non_null(c);
    assert_int_equal(c->err, 0);
    srand(4242);
    seed_from = (time(NULL) / 60 - MINUTES + 1) * 60;
    for (m = 0; m < MINUTES; m++) {
        int64_t t = seed_from + (int64_t)m * 60;

        if (rand() % 7 == 0)
            continue; /* some minutes have no key at all */
        for (k = 0; k < 3; k++) {
            counts[m][k] = rand() % (k == 0 ? 500 : 20);
            tot[k] += counts[m][k];
        }
        add(c, "s:checkout", "m", t, counts[m], f);
        add(c, "s:checkout", "h", t / 3600 * 3600, counts[m], f);
        add(c, "s:checkout", "d", t / 86400 * 86400, counts[m], f);
    }
    add(c, "s:checkout", "tot", 0, tot, f);
    {
        static const int64_t v[3] = {7, 1, 0};
        static const int64_t lines[3] = {100, 3, 1};
        static const char *const lf[3] = {"l", "u", "o"};

        add(c, "s:we\"ird\\na\nme", "tot", 0, v, f);
        add(c, "s:only-in-redis", "m", seed_from, v, f);
        add(c, "i:web", "tot", 0, lines, lf);
    }
    drain(c);
    freeReplyObject(redisCommand(c, "SADD slt:series s:checkout i:web s:only-in-redis s:garbled"));
    freeReplyObject(redisCommand(c, "HSET slt:{s:garbled}:m:%lld g 12abc", (long long)seed_from));
    {
        const char *argv[3] = {"SADD", "slt:series", "s:we\"ird\\na\nme"};

        freeReplyObject(redisCommandArgv(c, 3, argv, NULL));
    }
    redisFree(c);
}

static struct slt_store *store;

static void on_api_stopped(void *data)
{
    (void)data;
    slt_store_close(store, NULL, NULL);
    store = NULL;
}

static void on_stop(uv_async_t *a)
{
    (void)a;
    slt_api_close(api, on_api_stopped, NULL);
    uv_close((uv_handle_t *)&stop_async, NULL);
}

static void *loop_main(void *arg)
{
    (void)arg;
    uv_run(&loop, UV_RUN_DEFAULT);
    return NULL;
}

/* ---- a tiny HTTP client ------------------------------------------------------------------- */

struct resp {
    int status;
    char head[2048];
    char *body;
    size_t len;
};

static void http_get(const char *method, const char *target, struct resp *r)
{
    struct sockaddr_in a;
    char req[1024], *buf = malloc(1 << 20), *sep;
    size_t n = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ssize_t k;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)api_port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", method,
             target);
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    while ((k = read(fd, buf + n, (1 << 20) - 1 - n)) > 0)
        n += (size_t)k;
    close(fd);
    buf[n] = '\0';
    memset(r, 0, sizeof(*r));
    assert_int_equal(sscanf(buf, "HTTP/1.1 %d", &r->status), 1);
    sep = strstr(buf, "\r\n\r\n");
    assert_non_null(sep);
    snprintf(r->head, sizeof(r->head), "%.*s", (int)(sep - buf), buf);
    r->len = n - (size_t)(sep + 4 - buf);
    r->body = malloc(r->len + 1);
    memcpy(r->body, sep + 4, r->len + 1);
    free(buf);
}

static json_t *get_json(const char *target, int want_status)
{
    struct resp r;
    json_error_t err;
    json_t *j;

    http_get("GET", target, &r);
    if (r.status != want_status)
        fail_msg("GET %s: status %d, want %d: %s", target, r.status, want_status, r.body);
    assert_non_null(strstr(r.head, "Content-Type: application/json"));
    j = json_loads(r.body, 0, &err);
    if (!j)
        fail_msg("GET %s: not JSON (%s): %s", target, err.text, r.body);
    free(r.body);
    return j;
}

static int64_t jint(json_t *j, const char *k)
{
    json_t *v = json_object_get(j, k);

    if (!json_is_integer(v))
        fail_msg("'%s' is not an integer", k);
    return json_integer_value(v);
}

static void brute(int64_t from, int64_t to, int64_t out[3])
{
    int64_t t;

    out[0] = out[1] = out[2] = 0;
    for (t = from; t < to; t += 60) {
        int64_t m = (t - seed_from) / 60;

        if (m < 0 || m >= MINUTES)
            continue;
        out[0] += counts[m][0];
        out[1] += counts[m][1];
        out[2] += counts[m][2];
    }
}

static int setup(void **state)
{
    (void)state;
    assert_non_null(mkdtemp(redis_dir));
    redis_port = free_port();
    redis_start();
    seed();
    snprintf(redis_url, sizeof(redis_url), "redis://127.0.0.1:%d/0", redis_port);
    slis[0].name = "checkout";
    slos[0].name = "checkout-99.9";
    slos[0].sli = "checkout";
    slos[0].objective = 99.9;
    slos[0].window_s = 7 * 86400;
    {
        /* the four default tiers, as the config loader makes them */
        static struct slt_slo_tier tiers[] = {
            {"page-1h", 3600, 300, 2, SLT_SEVERITY_PAGE, 0, 0},
            {"page-6h", 21600, 1800, 5, SLT_SEVERITY_PAGE, 0, 0},
            {"ticket-1d", 86400, 7200, 10, SLT_SEVERITY_TICKET, 0, 0},
            {"ticket-3d", 259200, 21600, 10, SLT_SEVERITY_TICKET, 0, 0},
        };
        size_t k;

        for (k = 0; k < 4; k++)
            tiers[k].threshold =
                slt_slo_threshold(tiers[k].budget_percent, slos[0].window_s, tiers[k].long_s);
        slos[0].tiers = tiers;
        slos[0].ntiers = 4;
        slos[0].policy_healthy = 70;
        slos[0].policy_endangered = 30;
        slos[0].min_events = 100;
        slos[0].dedup_key = "checkout-99.9";
    }
    cfg.slis = slis;
    cfg.nslis = 1;
    cfg.slos = slos;
    cfg.nslos = 1;
    cfg.aggregator.http_listen = "127.0.0.1:0";
    cfg.aggregator.redis = redis_url;
    cfg.aggregator.redis_timeout_ms = 1000;
    cfg.aggregator.default_window_s = 3600;
    uv_loop_init(&loop);
    uv_async_init(&loop, &stop_async, on_stop);
    {
        struct slt_redis_url url;
        struct slt_store_conf sc = {&url, NULL, 0};
        struct slt_aggr_params params;
        char err[200];

        memset(&params, 0, sizeof(params));
        params.redis_timeout_ms = cfg.aggregator.redis_timeout_ms;
        assert_int_equal(slt_redis_url_parse(redis_url, &url, err, sizeof(err)), 0);
        assert_int_equal(slt_store_new(&loop, &sc, &params, &stats, &store), 0);
        slt_redis_url_release(&url);
    }
    assert_int_equal(slt_api_start(&loop, &cfg, &stats, store, &api), 0);
    api_port = slt_api_port(api);
    assert_true(api_port > 0);
    pthread_create(&loop_thread, NULL, loop_main, NULL);
    /* wait for the query connection */
    for (int i = 0; i < 100; i++) {
        struct resp r;

        http_get("GET", "/readyz", &r);
        free(r.body);
        if (r.status == 200)
            return 0;
        usleep(50000);
    }
    fail_msg("the API never became ready");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    uv_async_send(&stop_async);
    pthread_join(loop_thread, NULL);
    assert_int_equal(uv_loop_close(&loop), 0);
    redis_kill();
    {
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "rm -rf %s", redis_dir);
        if (system(cmd) != 0)
            return 0;
    }
    return 0;
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_counts_equal_brute_force_sums_on_random_ranges(void **state)
{
    int i;

    (void)state;
    srand(99);
    for (i = 0; i < 60; i++) {
        int64_t a = seed_from + (int64_t)(rand() % MINUTES) * 60;
        int64_t b = seed_from + (int64_t)(rand() % (MINUTES + 1)) * 60;
        int64_t from = a < b ? a : b, to = a < b ? b : a + 60, want[3];
        char target[128];
        json_t *j;

        brute(from, to, want);
        snprintf(target, sizeof(target), "/api/v1/slis/checkout/counts?from=%lld&to=%lld",
                 (long long)from, (long long)to);
        j = get_json(target, 200);
        assert_int_equal(jint(j, "good"), want[0]);
        assert_int_equal(jint(j, "bad"), want[1]);
        assert_int_equal(jint(j, "excluded"), want[2]);
        assert_int_equal(jint(j, "from"), from);
        assert_int_equal(jint(j, "to"), to);
        assert_true(json_is_false(json_object_get(j, "partial")));
        if (want[0] + want[1])
            assert_float_equal(json_real_value(json_object_get(j, "ratio")),
                               (double)want[0] / (double)(want[0] + want[1]), 1e-9);
        json_decref(j);
    }
}

static void test_series_points_equal_brute_force_sums(void **state)
{
    int64_t from = (seed_from / 3600 + 1) * 3600 + 17 * 60, to = from + 20 * 3600 + 7 * 60;
    int64_t step = 3600, want[3], tot[3] = {0, 0, 0};
    char target[160];
    json_t *j, *series;
    size_t i;

    (void)state;
    snprintf(target, sizeof(target), "/api/v1/slis/checkout/counts?from=%lld&to=%lld&step=%lld",
             (long long)from, (long long)to, (long long)step);
    j = get_json(target, 200);
    series = json_object_get(j, "series");
    assert_int_equal(json_array_size(series), 21);
    for (i = 0; i < json_array_size(series); i++) {
        json_t *p = json_array_get(series, i);
        int64_t f = from + (int64_t)i * step, t = f + step < to ? f + step : to;

        brute(f, t, want);
        assert_int_equal(jint(p, "from"), f);
        assert_int_equal(jint(p, "to"), t);
        assert_int_equal(jint(p, "good"), want[0]);
        assert_int_equal(jint(p, "bad"), want[1]);
        assert_int_equal(jint(p, "excluded"), want[2]);
        tot[0] += want[0];
    }
    assert_int_equal(jint(j, "good"), tot[0]);
    json_decref(j);
}

static void test_unknown_sli_is_404_and_redis_only_sli_is_known(void **state)
{
    char target[128];
    json_t *j;

    (void)state;
    snprintf(target, sizeof(target), "/api/v1/slis/nope/counts?from=%lld&to=%lld",
             (long long)seed_from, (long long)seed_from + 600);
    j = get_json(target, 404);
    assert_string_equal(json_string_value(json_object_get(j, "error")), "unknown SLI");
    assert_int_equal(jint(j, "status"), 404);
    json_decref(j);
    snprintf(target, sizeof(target), "/api/v1/slis/only-in-redis/counts?from=%lld&to=%lld",
             (long long)seed_from, (long long)seed_from + 600);
    j = get_json(target, 200);
    assert_int_equal(jint(j, "good"), 7);
    json_decref(j);
}

static void test_a_value_that_is_not_a_counter_is_500(void **state)
{
    char target[128];
    json_t *j;

    (void)state;
    snprintf(target, sizeof(target), "/api/v1/slis/garbled/counts?from=%lld&to=%lld",
             (long long)seed_from, (long long)seed_from + 600);
    j = get_json(target, 500);
    assert_non_null(strstr(json_string_value(json_object_get(j, "error")), "not a counter"));
    json_decref(j);
}

static void test_bad_ranges_are_400_with_a_reason(void **state)
{
    json_t *j;

    (void)state;
    j = get_json("/api/v1/slis/checkout/counts?from=61&to=120", 400);
    assert_non_null(strstr(json_string_value(json_object_get(j, "error")), "multiple of 60"));
    json_decref(j);
    j = get_json("/api/v1/slis/checkout/counts?from=120&to=60", 400);
    json_decref(j);
    j = get_json("/api/v1/slis/checkout/counts?to=60", 400);
    json_decref(j);
    j = get_json("/api/v1/slis/checkout/counts?from=0&to=6000000&step=60", 400);
    json_decref(j);
    /* 3000 points of 23h59m each need too many buckets */
    j = get_json("/api/v1/slis/checkout/counts?from=0&to=259200000&step=86340", 400);
    assert_non_null(strstr(json_string_value(json_object_get(j, "error")), "buckets"));
    json_decref(j);
    j = get_json("/api/v1/nothing", 404);
    json_decref(j);
}

static void test_old_minutes_are_flagged_partial(void **state)
{
    int64_t from = (time(NULL) / 86400 - 10) * 86400 + 60;
    char target[128];
    json_t *j;

    (void)state;
    snprintf(target, sizeof(target), "/api/v1/slis/checkout/counts?from=%lld&to=%lld",
             (long long)from, (long long)from + 3 * 86400);
    j = get_json(target, 200);
    assert_true(json_is_true(json_object_get(j, "partial")));
    json_decref(j);
}

static void test_slis_lists_config_and_redis_series_with_window_totals(void **state)
{
    json_t *j = get_json("/api/v1/slis", 200), *arr, *s;
    int64_t to, want[3];
    size_t i;
    int seen = 0;

    (void)state;
    to = jint(j, "to");
    assert_int_equal(to - jint(j, "from"), 3600);
    brute(to - 3600, to, want);
    arr = json_object_get(j, "slis");
    assert_int_equal(json_array_size(arr), 4);
    json_array_foreach(arr, i, s)
    {
        const char *name = json_string_value(json_object_get(s, "name"));

        if (strcmp(name, "checkout") == 0) {
            assert_true(json_is_true(json_object_get(s, "configured")));
            assert_int_equal(jint(s, "good"), want[0]);
            assert_int_equal(jint(s, "bad"), want[1]);
            seen++;
        } else if (strcmp(name, "we\"ird\\na\nme") == 0 || strcmp(name, "only-in-redis") == 0) {
            assert_true(json_is_false(json_object_get(s, "configured")));
            seen++;
        }
    }
    assert_int_equal(seen, 3);
    json_decref(j);
}

static void test_metrics_escape_label_values_and_show_totals(void **state)
{
    struct resp r;
    int64_t tot[3] = {0, 0, 0};
    char line[128];
    int m;

    (void)state;
    for (m = 0; m < MINUTES; m++) {
        tot[0] += counts[m][0];
        tot[1] += counts[m][1];
    }
    http_get("GET", "/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.head, "Content-Type: text/plain; version=0.0.4"));
    snprintf(line, sizeof(line),
             "slitail_sli_events_total{sli=\"checkout\",result=\"good\"} %lld\n",
             (long long)tot[0]);
    assert_non_null(strstr(r.body, line));
    snprintf(line, sizeof(line), "slitail_sli_events_total{sli=\"checkout\",result=\"bad\"} %lld\n",
             (long long)tot[1]);
    assert_non_null(strstr(r.body, line));
    assert_non_null(strstr(
        r.body, "slitail_sli_events_total{sli=\"we\\\"ird\\\\na\\nme\",result=\"good\"} 7\n"));
    assert_non_null(strstr(r.body, "slitail_input_unparsed_total{input=\"web\"} 3\n"));
    assert_non_null(strstr(r.body, "# TYPE slitail_sli_events_total counter\n"));
    assert_non_null(strstr(r.body, "slitail_aggregator_batches_total{outcome=\"gap\"} 0\n"));
    assert_non_null(strstr(r.body, "slitail_api_redis_up 1\n"));
    assert_non_null(strstr(r.body, "slitail_slo_burn_rate{slo=\"checkout-99.9\",window=\"1h\"}"));
    assert_non_null(strstr(r.body,
                           "slitail_slo_alert_firing{slo=\"checkout-99.9\",alert=\"page-1h\","
                           "severity=\"page\"}"));
    assert_non_null(strstr(r.body, "slitail_slo_budget_status{slo=\"checkout-99.9\",status=\""));
    assert_non_null(strstr(r.body, "slitail_slo_burn_rate{slo=\"checkout-99.9\",window=\"3d\"}"));
    free(r.body);
}

static void test_slos_report_attainment_and_burn_rates(void **state)
{
    json_t *j = get_json("/api/v1/slos", 200), *o;
    int64_t to, want[3], w1h[3];
    double budget = 0.001, burn;

    (void)state;
    o = json_array_get(json_object_get(j, "slos"), 0);
    assert_non_null(o);
    to = jint(j, "to");
    /* 7 days is past minute retention: the window starts at the hour */
    assert_int_equal(jint(o, "from"), (to - 7 * 86400) / 3600 * 3600);
    brute(jint(o, "from"), to, want);
    assert_int_equal(jint(o, "good"), want[0]);
    assert_int_equal(jint(o, "bad"), want[1]);
    assert_float_equal(json_real_value(json_object_get(o, "attainment")),
                       (double)want[0] / (double)(want[0] + want[1]), 1e-9);
    brute(to - 3600, to, w1h);
    burn = w1h[0] + w1h[1] ? (double)w1h[1] / (double)(w1h[0] + w1h[1]) / budget : 0;
    assert_float_equal(json_real_value(json_object_get(json_object_get(o, "burn_rates"), "1h")),
                       burn, 1e-6);
    {
        static const char *tiers[] = {"page-1h", "page-6h", "ticket-1d", "ticket-3d"};
        json_t *al = json_object_get(o, "alerts"), *one;
        size_t k;

        assert_int_equal(json_array_size(al), 4);
        for (k = 0; k < 4; k++) {
            json_t *a = json_array_get(al, k);

            assert_string_equal(json_string_value(json_object_get(a, "name")), tiers[k]);
            assert_true(json_is_boolean(json_object_get(a, "firing")));
            assert_non_null(json_object_get(a, "since"));
            assert_non_null(json_object_get(a, "severity"));
        }
        assert_non_null(json_string_value(json_object_get(o, "budget_status")));
        assert_true(json_is_boolean(json_object_get(o, "partial")));
        assert_true(json_is_number(json_object_get(json_object_get(o, "coverage"), "fraction")));
        for (k = 0; k < SLT_SLO_NBURN; k++)
            assert_true(json_is_number(
                json_object_get(json_object_get(o, "burn_rates"), slt_slo_burn_window_names[k])));
        /* one SLO by name answers the same object */
        one = get_json("/api/v1/slos/checkout-99.9", 200);
        assert_int_equal(jint(one, "good"), jint(o, "good"));
        assert_string_equal(json_string_value(json_object_get(one, "budget_status")),
                            json_string_value(json_object_get(o, "budget_status")));
        json_decref(one);
        json_decref(get_json("/api/v1/slos/nope", 404));
        json_decref(get_json("/api/v1/slos/checkout-99.9/nope", 404));
    }
    json_decref(j);
}

static void test_slo_series_points_have_sli_attainment_budget_and_burn(void **state)
{
    json_t *j, *pts, *p;
    int64_t to = slt_slo_now_end(slt_now_ms() / 1000) / 3600 * 3600, from = to - 6 * 3600;
    int64_t want[3], roll[3];
    char target[256];
    size_t i;

    (void)state;
    snprintf(target, sizeof(target),
             "/api/v1/slos/checkout-99.9/series?from=%lld&to=%lld&step=3600", (long long)from,
             (long long)to);
    j = get_json(target, 200);
    pts = json_object_get(j, "series");
    assert_int_equal(json_array_size(pts), 6);
    for (i = 0; i < 6; i++) {
        int64_t f = from + (int64_t)i * 3600;

        p = json_array_get(pts, i);
        brute(f, f + 3600, want);
        assert_int_equal(jint(p, "good"), want[0]);
        assert_int_equal(jint(p, "bad"), want[1]);
        /* the rolling 7-day window ends with the point */
        brute(f + 3600 - 7 * 86400, f + 3600, roll);
        if (roll[0] + roll[1])
            assert_float_equal(json_real_value(json_object_get(p, "attainment")),
                               (double)roll[0] / (double)(roll[0] + roll[1]), 1e-9);
        if (want[0] + want[1])
            assert_float_equal(json_real_value(json_object_get(p, "burn_rate")),
                               (double)want[1] / (double)(want[0] + want[1]) / 0.001, 1e-6);
    }
    json_decref(j);
    json_decref(get_json("/api/v1/slos/checkout-99.9/series?from=0&to=60", 400));
    json_decref(get_json("/api/v1/slos/nope/series?from=0&to=60&step=60", 404));
}

static void test_healthz_dashboard_and_head(void **state)
{
    struct resp r;
    json_t *j = get_json("/healthz", 200);

    (void)state;
    assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
    json_decref(j);
    http_get("GET", "/", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "<!doctype html>"));
    /* self-contained: nothing loaded from elsewhere */
    assert_null(strstr(r.body, "src="));
    assert_null(strstr(r.body, "<link"));
    assert_null(strstr(r.body, "url(http")); /* uPlot's banner names its home page: fine */
    assert_non_null(strstr(r.body, "uPlot"));
    free(r.body);
    http_get("HEAD", "/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 0);
    free(r.body);
}

static void test_redis_down_is_503_and_recovers(void **state)
{
    char target[128];
    json_t *j;
    int i, ok = 0;

    (void)state;
    redis_kill();
    usleep(200000);
    j = get_json("/readyz", 503);
    assert_true(json_is_false(json_object_get(j, "query_redis")));
    json_decref(j);
    snprintf(target, sizeof(target), "/api/v1/slis/checkout/counts?from=%lld&to=%lld",
             (long long)seed_from, (long long)seed_from + 600);
    j = get_json(target, 503);
    assert_int_equal(jint(j, "status"), 503);
    json_decref(j);
    {
        struct resp r;

        /* /metrics still answers with the aggregator's own health */
        http_get("GET", "/metrics", &r);
        assert_int_equal(r.status, 200);
        assert_non_null(strstr(r.body, "slitail_api_redis_up 0\n"));
        free(r.body);
    }
    redis_start();
    seed();
    for (i = 0; i < 100 && !ok; i++) {
        struct resp r;

        http_get("GET", "/readyz", &r);
        free(r.body);
        ok = r.status == 200;
        if (!ok)
            usleep(100000);
    }
    assert_int_equal(ok, 1);
    j = get_json(target, 200);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_equal_brute_force_sums_on_random_ranges),
        cmocka_unit_test(test_series_points_equal_brute_force_sums),
        cmocka_unit_test(test_unknown_sli_is_404_and_redis_only_sli_is_known),
        cmocka_unit_test(test_bad_ranges_are_400_with_a_reason),
        cmocka_unit_test(test_a_value_that_is_not_a_counter_is_500),
        cmocka_unit_test(test_old_minutes_are_flagged_partial),
        cmocka_unit_test(test_slis_lists_config_and_redis_series_with_window_totals),
        cmocka_unit_test(test_metrics_escape_label_values_and_show_totals),
        cmocka_unit_test(test_slos_report_attainment_and_burn_rates),
        cmocka_unit_test(test_slo_series_points_have_sli_attainment_budget_and_burn),
        cmocka_unit_test(test_healthz_dashboard_and_head),
        cmocka_unit_test(test_redis_down_is_503_and_recovers),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, setup, teardown);
}
