/*
 * Redis Cluster routing (cluster.c): CRC16 and hash slots against the vectors of the Redis
 * Cluster specification (and CLUSTER KEYSLOT answers of a real redis-server 7.0), and the
 * parsing of MOVED / ASK redirections, well-formed and hostile.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cluster.h"
#include "slt/common.h"

static unsigned slot(const char *key)
{
    return slt_cluster_keyslot(key, strlen(key));
}

static void test_crc16_matches_the_specification_vectors(void **state)
{
    (void)state;
    /* cluster-spec, "Keys distribution model": CRC16("123456789") = 0x31C3 (XMODEM) */
    assert_int_equal(slt_cluster_crc16("123456789", 9), 0x31C3);
    assert_int_equal(slt_cluster_crc16("", 0), 0);
    assert_int_equal(slt_cluster_crc16("A", 1), 0x58E5);
    assert_int_equal(slt_cluster_crc16("a", 1), 0x7C87);
}

static void test_keyslots_match_a_real_redis(void **state)
{
    (void)state;
    /* CLUSTER KEYSLOT on redis-server 7.0.15 */
    assert_int_equal(slot("foo"), 12182);
    assert_int_equal(slot("bar"), 5061);
    assert_int_equal(slot("hello"), 866);
    assert_int_equal(slot("123456789"), 0x31C3 & 16383);
}

static void test_hash_tags_follow_the_specification(void **state)
{
    (void)state;
    /* cluster-spec, "Hash tags" */
    assert_int_equal(slot("{user1000}.following"), slot("{user1000}.followers"));
    assert_int_equal(slot("{user1000}.following"), slot("user1000"));
    /* "foo{}{bar}": the first {} is empty, the whole key is hashed */
    assert_int_equal(slot("foo{}{bar}"), slt_cluster_crc16("foo{}{bar}", 10) & 16383);
    /* "foo{{bar}}zap": the tag is "{bar" */
    assert_int_equal(slot("foo{{bar}}zap"), slot("{bar"));
    assert_int_equal(slot("foo{{bar}}zap"), slt_cluster_crc16("{bar", 4) & 16383);
    /* "foo{bar}{zap}": the tag is "bar" */
    assert_int_equal(slot("foo{bar}{zap}"), slot("bar"));
    /* no closing brace: the whole key */
    assert_int_equal(slot("foo{bar"), slt_cluster_crc16("foo{bar", 7) & 16383);
    /* every key of one series shares its slot */
    assert_int_equal(slot("slt:{s:checkout}:hwm"), slot("slt:{s:checkout}:m:1700000040"));
    assert_int_equal(slot("slt:{s:checkout}:tot"), slot("s:checkout"));
    /* binary-safe */
    assert_int_equal(slt_cluster_keyslot("{a\0b}x", 6), slt_cluster_crc16("a\0b", 3) & 16383);
}

static void test_moved_and_ask_are_parsed(void **state)
{
    struct slt_cluster_redirect r;
    const char *e;

    (void)state;
    e = "MOVED 3999 127.0.0.1:6381";
    assert_int_equal(slt_cluster_parse_redirect(e, strlen(e), &r), 0);
    assert_int_equal(r.kind, SLT_CLUSTER_MOVED);
    assert_int_equal(r.slot, 3999);
    assert_string_equal(r.host, "127.0.0.1");
    assert_int_equal(r.port, 6381);
    e = "ASK 16383 redis-3.internal:7002";
    assert_int_equal(slt_cluster_parse_redirect(e, strlen(e), &r), 0);
    assert_int_equal(r.kind, SLT_CLUSTER_ASK);
    assert_int_equal(r.slot, 16383);
    assert_string_equal(r.host, "redis-3.internal");
    assert_int_equal(r.port, 7002);
    /* IPv6, with and without brackets; an empty host means the same host */
    e = "MOVED 0 ::1:7000";
    assert_int_equal(slt_cluster_parse_redirect(e, strlen(e), &r), 0);
    assert_string_equal(r.host, "::1");
    assert_int_equal(r.port, 7000);
    e = "MOVED 1 [fe80::1]:7001";
    assert_int_equal(slt_cluster_parse_redirect(e, strlen(e), &r), 0);
    assert_string_equal(r.host, "fe80::1");
    e = "MOVED 2 :7002";
    assert_int_equal(slt_cluster_parse_redirect(e, strlen(e), &r), 0);
    assert_string_equal(r.host, "");
    assert_int_equal(r.port, 7002);
}

static void test_other_and_malformed_errors_are_not_redirects(void **state)
{
    static const char *const bad[] = {
        "ERR unknown command",
        "TRYAGAIN Multiple keys request during rehashing of slot",
        "CLUSTERDOWN The cluster is down",
        "MOVED",
        "MOVED ",
        "MOVED 3999",
        "MOVED 3999 ",
        "MOVED 16384 127.0.0.1:7000",
        "MOVED 99999999999 127.0.0.1:7000",
        "MOVED -1 127.0.0.1:7000",
        "MOVED 12 127.0.0.1",
        "MOVED 12 127.0.0.1:",
        "MOVED 12 127.0.0.1:0",
        "MOVED 12 127.0.0.1:65536",
        "MOVED 12 127.0.0.1:70x",
        "MOVED x12 127.0.0.1:7000",
        "ASK12 127.0.0.1:7000",
        "moved 12 127.0.0.1:7000",
    };
    struct slt_cluster_redirect r;
    char longhost[600];
    size_t i;

    (void)state;
    for (i = 0; i < SLT_ARRAY_SIZE(bad); i++)
        if (slt_cluster_parse_redirect(bad[i], strlen(bad[i]), &r) != SLT_EPARSE)
            fail_msg("'%s' parsed as a redirection", bad[i]);
    memcpy(longhost, "MOVED 1 ", 8);
    memset(longhost + 8, 'h', 500);
    memcpy(longhost + 508, ":7000", 6);
    assert_int_equal(slt_cluster_parse_redirect(longhost, strlen(longhost), &r), SLT_EPARSE);
    /* a NUL inside the host */
    assert_int_equal(slt_cluster_parse_redirect("MOVED 1 a\0b:7000", 16, &r), SLT_EPARSE);
    /* the length is respected: the reply is not NUL-terminated where we stop */
    assert_int_equal(slt_cluster_parse_redirect("MOVED 1 h:70009", 14, &r), 0);
    assert_int_equal(r.port, 7000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc16_matches_the_specification_vectors),
        cmocka_unit_test(test_keyslots_match_a_real_redis),
        cmocka_unit_test(test_hash_tags_follow_the_specification),
        cmocka_unit_test(test_moved_and_ask_are_parsed),
        cmocka_unit_test(test_other_and_malformed_errors_are_not_redirects),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
