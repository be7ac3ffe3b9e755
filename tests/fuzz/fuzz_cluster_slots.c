/*
 * Fuzz the CLUSTER SLOTS parser (cluster.c, slt_cluster_parse_slots) the way the store meets
 * it: the bytes a Redis node (or anything in between) sends go through hiredis's reply reader,
 * and every reply it makes is handed to the parser. A map that parses must hold what the header
 * promises: every slot's master in the node list, each node with a host and a valid port.
 *
 * hiredis 0.14 allocates an array as soon as it reads its header ("*2147483647"); arrays here
 * are capped so that the fuzzer looks at the parser instead of at calloc.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "cluster.h"

#define MAX_ARRAY 65536 /* more than any input of -max_len can fill */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void *(*create_array_default)(const redisReadTask *task, int elements);

static void *create_array(const redisReadTask *task, int elements)
{
    return elements > MAX_ARRAY ? NULL : create_array_default(task, elements);
}

static void check(const struct slt_cluster_map *map)
{
    size_t i, covered = 0;

    if (map->nnodes > SLT_CLUSTER_MAX_NODES)
        abort();
    for (i = 0; i < map->nnodes; i++) {
        size_t n = strnlen(map->nodes[i].host, sizeof(map->nodes[i].host));

        if (n == 0 || n >= sizeof(map->nodes[i].host) || map->nodes[i].port < 1 ||
            map->nodes[i].port > 65535)
            abort();
    }
    for (i = 0; i < SLT_CLUSTER_SLOTS; i++) {
        if (map->slot[i] < -1 || map->slot[i] >= (int)map->nnodes)
            abort();
        covered += map->slot[i] >= 0;
    }
    if (covered != map->covered)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct slt_cluster_map map;
    static redisReplyObjectFunctions fns;
    redisReader *r = redisReaderCreate();
    void *reply;
    char err[200];
    int n;

    if (!r)
        return 0;
    fns = *r->fn;
    create_array_default = fns.createArray;
    fns.createArray = create_array;
    r->fn = &fns;
    if (redisReaderFeed(r, (const char *)data, size) != REDIS_OK)
        goto out;
    /* every reply in the input, as a connection reads them one after another */
    for (n = 0; n < 64; n++) {
        reply = NULL;
        if (redisReaderGetReply(r, &reply) != REDIS_OK || !reply)
            break;
        if (slt_cluster_parse_slots(reply, n % 2 ? NULL : "10.0.0.1", &map, err, sizeof(err)) == 0)
            check(&map);
        else if (!err[0])
            abort(); /* a refusal says why */
        freeReplyObject(reply);
    }
out:
    redisReaderFree(r);
    return 0;
}
