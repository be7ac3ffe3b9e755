/*
 * Redis Cluster routing (cluster.c): CRC16 and hash slots against the vectors of the Redis
 * Cluster specification (and CLUSTER KEYSLOT answers of a real redis-server 7.0), the
 * parsing of MOVED / ASK redirections and of CLUSTER SLOTS replies, well-formed and hostile.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

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

/* ---- CLUSTER SLOTS ---- */

/* What a real 3 masters + 3 replicas redis-server 7.0.15 cluster answered after 100 slots were
 * resharded from the third master to the first (the last range's replica was not synced yet). */
static const char real_slots[] =
    "*4\r\n"
    "*4\r\n:0\r\n:5460\r\n"
    "*4\r\n$9\r\n127.0.0.1\r\n:51729\r\n$40\r\nfa8f9fedac8c93a55d49f093c8e47ee9c2ffcf4f\r\n*0\r\n"
    "*4\r\n$9\r\n127.0.0.1\r\n:55077\r\n$40\r\ne99c3f21d04078cfc36ecbc1f07caf1305f3a2e2\r\n*0\r\n"
    "*4\r\n:5461\r\n:10922\r\n"
    "*4\r\n$9\r\n127.0.0.1\r\n:53135\r\n$40\r\nebbf80183e1a2ad1dcf9c38ca8a538880f675d42\r\n*0\r\n"
    "*4\r\n$9\r\n127.0.0.1\r\n:40985\r\n$40\r\n05a2cd651b9b77afe9937d5d76367438fe0ca598\r\n*0\r\n"
    "*4\r\n:10923\r\n:11022\r\n"
    "*4\r\n$9\r\n127.0.0.1\r\n:51729\r\n$40\r\nfa8f9fedac8c93a55d49f093c8e47ee9c2ffcf4f\r\n*0\r\n"
    "*4\r\n$9\r\n127.0.0.1\r\n:55077\r\n$40\r\ne99c3f21d04078cfc36ecbc1f07caf1305f3a2e2\r\n*0\r\n"
    "*3\r\n:11023\r\n:16383\r\n"
    "*4\r\n$9\r\n127.0.0.1\r\n:45925\r\n$40\r\n9b2531dd554e2547ced2cfd91cdb0f3603cbe49e\r\n*0\r\n";

/* The reply hiredis reads from resp[0..len) (the caller frees it). */
static redisReply *read_reply(const char *resp, size_t len)
{
    redisReader *r = redisReaderCreate();
    void *reply = NULL;

    assert_non_null(r);
    assert_int_equal(redisReaderFeed(r, resp, len), REDIS_OK);
    assert_int_equal(redisReaderGetReply(r, &reply), REDIS_OK);
    if (!reply)
        fail_msg("incomplete RESP: %.*s", (int)len, resp);
    redisReaderFree(r);
    return reply;
}

/* slt_cluster_parse_slots on the reply to resp (NUL-terminated), asked 10.0.0.9. */
static int parse_slots(const char *resp, const char *asked, struct slt_cluster_map *map, char *err,
                       size_t errlen)
{
    redisReply *reply = read_reply(resp, strlen(resp));
    int rc;

    err[0] = '\0';
    rc = slt_cluster_parse_slots(reply, asked, map, err, errlen);
    freeReplyObject(reply);
    return rc;
}

static struct slt_cluster_map *new_map(void)
{
    struct slt_cluster_map *map = malloc(sizeof(*map));

    assert_non_null(map);
    return map;
}

static const struct slt_cluster_node *master_of(const struct slt_cluster_map *map, unsigned slot)
{
    assert_in_range(map->slot[slot], 0, (int)map->nnodes - 1);
    return &map->nodes[map->slot[slot]];
}

static void test_a_real_cluster_slots_reply_gives_every_slot_its_master(void **state)
{
    struct slt_cluster_map *map = new_map();
    char err[200];

    (void)state;
    assert_int_equal(parse_slots(real_slots, "127.0.0.1", map, err, sizeof(err)), 0);
    assert_int_equal(map->covered, SLT_CLUSTER_SLOTS);
    assert_int_equal(map->nnodes, 3); /* masters only, each once */
    assert_string_equal(master_of(map, 0)->host, "127.0.0.1");
    assert_int_equal(master_of(map, 0)->port, 51729);
    assert_int_equal(master_of(map, 5460)->port, 51729);
    assert_int_equal(master_of(map, 5461)->port, 53135);
    assert_int_equal(master_of(map, 10922)->port, 53135);
    assert_int_equal(map->slot[10923], map->slot[0]); /* the resharded range */
    assert_int_equal(master_of(map, 11022)->port, 51729);
    assert_int_equal(master_of(map, 11023)->port, 45925);
    assert_int_equal(master_of(map, 16383)->port, 45925);
    free(map);
}

static void test_a_master_without_an_address_is_the_node_asked(void **state)
{
    struct slt_cluster_map *map = new_map();
    char err[200];

    (void)state;
    /* "" (a node that never learned its own address) and nil (Redis 7's unknown endpoint) */
    assert_int_equal(parse_slots("*2\r\n*3\r\n:0\r\n:99\r\n*2\r\n$0\r\n\r\n:7000\r\n"
                                 "*3\r\n:100\r\n:199\r\n*2\r\n$-1\r\n:7001\r\n",
                                 "10.0.0.9", map, err, sizeof(err)),
                     0);
    assert_int_equal(map->covered, 200);
    assert_string_equal(master_of(map, 0)->host, "10.0.0.9");
    assert_int_equal(master_of(map, 0)->port, 7000);
    assert_string_equal(master_of(map, 199)->host, "10.0.0.9");
    assert_int_equal(master_of(map, 199)->port, 7001);
    assert_int_equal(map->slot[200], -1);
    /* nobody to stand in for it: refused */
    assert_int_equal(parse_slots("*1\r\n*3\r\n:0\r\n:99\r\n*2\r\n$0\r\n\r\n:7000\r\n", NULL, map,
                                 err, sizeof(err)),
                     SLT_EPARSE);
    assert_non_null(strstr(err, "empty master host"));
    /* "?": an endpoint the node does not know: those slots have no master */
    assert_int_equal(parse_slots("*2\r\n*3\r\n:0\r\n:9\r\n*2\r\n$1\r\n?\r\n:7000\r\n"
                                 "*3\r\n:10\r\n:19\r\n*2\r\n$4\r\nredy\r\n:7000\r\n",
                                 "10.0.0.9", map, err, sizeof(err)),
                     0);
    assert_int_equal(map->covered, 10);
    assert_int_equal(map->nnodes, 1);
    assert_int_equal(map->slot[0], -1);
    assert_string_equal(master_of(map, 10)->host, "redy");
    /* no slots assigned yet: a map without masters */
    assert_int_equal(parse_slots("*0\r\n", "10.0.0.9", map, err, sizeof(err)), 0);
    assert_int_equal(map->covered, 0);
    assert_int_equal(map->nnodes, 0);
    free(map);
}

static void test_hostile_cluster_slots_replies_are_refused(void **state)
{
    static const struct {
        const char *resp, *why;
    } bad[] = {
        {"+OK\r\n", "not an array"},
        {"-ERR no cluster\r\n", "not an array"},
        {":5\r\n", "not an array"},
        {"$-1\r\n", "not an array"},
        {"*-1\r\n", "not an array"},
        {"*1\r\n:0\r\n", "not an array of start"},
        {"*1\r\n*2\r\n:0\r\n:10\r\n", "not an array of start"},
        {"*1\r\n*3\r\n$1\r\n0\r\n:10\r\n*2\r\n$1\r\nh\r\n:7000\r\n", "not an array of start"},
        {"*1\r\n*3\r\n:0\r\n$-1\r\n*2\r\n$1\r\nh\r\n:7000\r\n", "not an array of start"},
        {"*1\r\n*3\r\n:-1\r\n:10\r\n*2\r\n$1\r\nh\r\n:7000\r\n", "outside 0..16383"},
        {"*1\r\n*3\r\n:0\r\n:16384\r\n*2\r\n$1\r\nh\r\n:7000\r\n", "outside 0..16383"},
        {"*1\r\n*3\r\n:0\r\n:9223372036854775807\r\n*2\r\n$1\r\nh\r\n:7000\r\n", "outside"},
        {"*1\r\n*3\r\n:11\r\n:10\r\n*2\r\n$1\r\nh\r\n:7000\r\n", "start 11 after end 10"},
        {"*2\r\n*3\r\n:0\r\n:10\r\n*2\r\n$1\r\nh\r\n:7000\r\n"
         "*3\r\n:10\r\n:20\r\n*2\r\n$1\r\ni\r\n:7001\r\n",
         "slot 10 is in an earlier range"},
        {"*2\r\n*3\r\n:5\r\n:5\r\n*2\r\n$1\r\nh\r\n:7000\r\n"
         "*3\r\n:0\r\n:16383\r\n*2\r\n$1\r\nh\r\n:7000\r\n",
         "slot 5 is in an earlier range"},
        {"*1\r\n*3\r\n:0\r\n:10\r\n$1\r\nh\r\n", "master: a node is not an array"},
        {"*1\r\n*3\r\n:0\r\n:10\r\n$-1\r\n", "master: a node is not an array"},
        {"*1\r\n*3\r\n:0\r\n:10\r\n*1\r\n$1\r\nh\r\n", "master: a node is not an array"},
        {"*1\r\n*3\r\n:0\r\n:10\r\n*2\r\n$1\r\nh\r\n:0\r\n", "port not an integer in 1..65535"},
        {"*1\r\n*3\r\n:0\r\n:10\r\n*2\r\n$1\r\nh\r\n:65536\r\n", "port not an integer"},
        {"*1\r\n*3\r\n:0\r\n:10\r\n*2\r\n$1\r\nh\r\n:-7000\r\n", "port not an integer"},
        {"*1\r\n*3\r\n:0\r\n:10\r\n*2\r\n$1\r\nh\r\n$4\r\n7000\r\n", "port not an integer"},
        {"*1\r\n*3\r\n:0\r\n:10\r\n*2\r\n:1\r\n:7000\r\n", "host not a string"},
        {"*1\r\n*3\r\n:0\r\n:10\r\n*2\r\n+h\r\n:7000\r\n", "host not a string"},
        {"*1\r\n*3\r\n:0\r\n:10\r\n*2\r\n$3\r\na b\r\n:7000\r\n", "not printable ASCII"},
        {"*1\r\n*3\r\n:0\r\n:10\r\n*2\r\n$3\r\na\nb\r\n:7000\r\n", "not printable ASCII"},
        {"*1\r\n*3\r\n:0\r\n:10\r\n*2\r\n$2\r\n\xc3\xa9\r\n:7000\r\n", "not printable ASCII"},
        {"*1\r\n*4\r\n:0\r\n:10\r\n*2\r\n$1\r\nh\r\n:7000\r\n:1\r\n", "replica: a node"},
        {"*1\r\n*4\r\n:0\r\n:10\r\n*2\r\n$1\r\nh\r\n:7000\r\n*2\r\n$1\r\nr\r\n:0\r\n",
         "replica: port"},
    };
    struct slt_cluster_map *map = new_map();
    char err[200], resp[600];
    redisReply *reply;
    size_t i;

    (void)state;
    for (i = 0; i < SLT_ARRAY_SIZE(bad); i++) {
        if (parse_slots(bad[i].resp, "10.0.0.9", map, err, sizeof(err)) != SLT_EPARSE)
            fail_msg("reply %zu parsed as a slot map", i);
        if (!strstr(err, bad[i].why))
            fail_msg("reply %zu: error '%s', want '%s'", i, err, bad[i].why);
    }
    /* a NUL inside the host */
    reply = read_reply("*1\r\n*3\r\n:0\r\n:10\r\n*2\r\n$3\r\na\0b\r\n:7000\r\n", 37);
    assert_int_equal(slt_cluster_parse_slots(reply, "10.0.0.9", map, err, sizeof(err)), SLT_EPARSE);
    assert_non_null(strstr(err, "not printable ASCII"));
    freeReplyObject(reply);
    /* a host of SLT_CLUSTER_MAX_HOST bytes */
    snprintf(resp, sizeof(resp), "*1\r\n*3\r\n:0\r\n:10\r\n*2\r\n$%d\r\n%0*d\r\n:7000\r\n",
             SLT_CLUSTER_MAX_HOST, SLT_CLUSTER_MAX_HOST, 0);
    assert_int_equal(parse_slots(resp, "10.0.0.9", map, err, sizeof(err)), SLT_EPARSE);
    assert_string_equal(err, "range 0, master: host too long");
    snprintf(resp, sizeof(resp), "*1\r\n*3\r\n:0\r\n:10\r\n*2\r\n$%d\r\n%0*d\r\n:7000\r\n",
             SLT_CLUSTER_MAX_HOST - 1, SLT_CLUSTER_MAX_HOST - 1, 0);
    assert_int_equal(parse_slots(resp, "10.0.0.9", map, err, sizeof(err)), 0);
    assert_int_equal(strlen(master_of(map, 0)->host), SLT_CLUSTER_MAX_HOST - 1);
    free(map);
}

/* A reply of n ranges of one slot each, each with a master of its own port (7000 + i % nports). */
static char *many_ranges(size_t n, size_t nports, size_t *len)
{
    size_t cap = 32 + n * 64, off = 0, i;
    char *p = malloc(cap);

    assert_non_null(p);
    off += (size_t)snprintf(p + off, cap - off, "*%zu\r\n", n);
    for (i = 0; i < n; i++)
        off += (size_t)snprintf(p + off, cap - off,
                                "*3\r\n:%zu\r\n:%zu\r\n*2\r\n$9\r\n127.0.0.1\r\n:%zu\r\n",
                                i % SLT_CLUSTER_SLOTS, i % SLT_CLUSTER_SLOTS, 7000 + i % nports);
    *len = off;
    return p;
}

static void test_slot_maps_are_bounded(void **state)
{
    struct slt_cluster_map *map = new_map();
    redisReply *reply;
    char err[200], *resp;
    size_t len;

    (void)state;
    /* SLT_CLUSTER_MAX_NODES masters: taken */
    resp = many_ranges(SLT_CLUSTER_SLOTS, SLT_CLUSTER_MAX_NODES, &len);
    reply = read_reply(resp, len);
    assert_int_equal(slt_cluster_parse_slots(reply, NULL, map, err, sizeof(err)), 0);
    assert_int_equal(map->nnodes, SLT_CLUSTER_MAX_NODES);
    assert_int_equal(map->covered, SLT_CLUSTER_SLOTS);
    freeReplyObject(reply);
    free(resp);
    /* one more: refused */
    resp = many_ranges(SLT_CLUSTER_MAX_NODES + 1, SLT_CLUSTER_MAX_NODES + 1, &len);
    reply = read_reply(resp, len);
    assert_int_equal(slt_cluster_parse_slots(reply, NULL, map, err, sizeof(err)), SLT_EPARSE);
    assert_string_equal(err, "more than 128 masters");
    freeReplyObject(reply);
    free(resp);
    /* more ranges than slots can only overlap: refused before any is read */
    resp = many_ranges(SLT_CLUSTER_SLOTS + 1, 1, &len);
    reply = read_reply(resp, len);
    assert_int_equal(slt_cluster_parse_slots(reply, NULL, map, err, sizeof(err)), SLT_EPARSE);
    assert_string_equal(err, "16385 ranges for 16384 slots");
    freeReplyObject(reply);
    free(resp);
    free(map);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc16_matches_the_specification_vectors),
        cmocka_unit_test(test_keyslots_match_a_real_redis),
        cmocka_unit_test(test_hash_tags_follow_the_specification),
        cmocka_unit_test(test_moved_and_ask_are_parsed),
        cmocka_unit_test(test_other_and_malformed_errors_are_not_redirects),
        cmocka_unit_test(test_a_real_cluster_slots_reply_gives_every_slot_its_master),
        cmocka_unit_test(test_a_master_without_an_address_is_the_node_asked),
        cmocka_unit_test(test_hostile_cluster_slots_replies_are_refused),
        cmocka_unit_test(test_slot_maps_are_bounded),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
