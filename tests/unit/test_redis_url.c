#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "redis_url.h"
#include "slt/common.h"

static void test_tcp_url_with_defaults(void **state)
{
    struct slt_redis_url u;
    char err[200];

    (void)state;
    assert_int_equal(slt_redis_url_parse("redis://127.0.0.1", &u, err, sizeof(err)), 0);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 0);
    assert_null(u.path);
    assert_null(u.user);
    assert_null(u.password);
    slt_redis_url_release(&u);
}

static void test_tcp_url_with_user_password_port_and_db(void **state)
{
    struct slt_redis_url u;
    char err[200], desc[100];

    (void)state;
    assert_int_equal(
        slt_redis_url_parse("redis://ingest:p%40ss:w@redis.local:6380/3", &u, err, sizeof(err)), 0);
    assert_string_equal(u.host, "redis.local");
    assert_int_equal(u.port, 6380);
    assert_int_equal(u.db, 3);
    assert_string_equal(u.user, "ingest");
    assert_string_equal(u.password, "p@ss:w");
    slt_redis_url_describe(&u, desc, sizeof(desc));
    assert_string_equal(desc, "redis.local:6380/3");
    slt_redis_url_release(&u);

    assert_int_equal(slt_redis_url_parse("redis://:secret@h/0", &u, err, sizeof(err)), 0);
    assert_null(u.user);
    assert_string_equal(u.password, "secret");
    slt_redis_url_release(&u);
}

static void test_ipv6_host_in_brackets(void **state)
{
    struct slt_redis_url u;
    char err[200];

    (void)state;
    assert_int_equal(slt_redis_url_parse("redis://[::1]:7000/2", &u, err, sizeof(err)), 0);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 7000);
    assert_int_equal(u.db, 2);
    slt_redis_url_release(&u);
}

static void test_unix_socket_url_with_db(void **state)
{
    struct slt_redis_url u;
    char err[200], desc[100];

    (void)state;
    assert_int_equal(slt_redis_url_parse("unix:///run/redis/redis.sock?db=5", &u, err, sizeof(err)),
                     0);
    assert_string_equal(u.path, "/run/redis/redis.sock");
    assert_null(u.host);
    assert_int_equal(u.db, 5);
    slt_redis_url_describe(&u, desc, sizeof(desc));
    assert_string_equal(desc, "unix:/run/redis/redis.sock/5");
    slt_redis_url_release(&u);

    assert_int_equal(slt_redis_url_parse("unix://:pw@/tmp/r.sock", &u, err, sizeof(err)), 0);
    assert_string_equal(u.path, "/tmp/r.sock");
    assert_string_equal(u.password, "pw");
    slt_redis_url_release(&u);
}

static void expect_bad(const char *url, const char *reason)
{
    struct slt_redis_url u;
    char err[200] = "";

    assert_int_equal(slt_redis_url_parse(url, &u, err, sizeof(err)), SLT_EINVAL);
    if (!strstr(err, reason)) {
        print_error("'%s': error '%s' lacks '%s'\n", url, err, reason);
        fail();
    }
    /* the password never shows in the message */
    assert_null(strstr(err, "hunter2"));
}

static void test_bad_urls_say_why(void **state)
{
    (void)state;
    expect_bad("rediss://h:6379", "TLS) is not supported");
    expect_bad("http://h", "must start with redis:// or unix://");
    expect_bad("redis://h:0", "port must be 1..65535");
    expect_bad("redis://h:70000", "port must be 1..65535");
    expect_bad("redis://h:63x", "port must be 1..65535");
    expect_bad("redis://:hunter2@h/abc", "database must be a number");
    expect_bad("redis://:hunter2@:6379", "no host");
    expect_bad("redis://[::1:6379", "missing ']'");
    expect_bad("unix://relative.sock", "absolute path");
    expect_bad("unix:///tmp/x.sock?foo=1", "only '?db=N'");
    expect_bad("redis://us%zzer:hunter2@h", "bad percent escape");
    expect_bad("", "empty");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_url_with_defaults),
        cmocka_unit_test(test_tcp_url_with_user_password_port_and_db),
        cmocka_unit_test(test_ipv6_host_in_brackets),
        cmocka_unit_test(test_unix_socket_url_with_db),
        cmocka_unit_test(test_bad_urls_say_why),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
