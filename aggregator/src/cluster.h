/*
 * Redis Cluster routing, the pure part (docs/REDIS.md "Redis Cluster"): the hash slot of a
 * key (CRC16/XMODEM of the key or of its hash tag, modulo 16384, as the Redis Cluster
 * specification defines it), the parsing of MOVED and ASK redirections and of the slot map a
 * CLUSTER SLOTS reply gives. No I/O; the store (store_nodes.c) keeps the slot map and the
 * connections. hiredis 0.14 has no cluster support
 * and Debian 12 packages no cluster client, so this is ours.
 */
#ifndef SLT_CLUSTER_H
#define SLT_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#define SLT_CLUSTER_SLOTS 16384
#define SLT_CLUSTER_MAX_HOST 256
/* The most masters a slot map may name; the store remembers as many nodes (docs/REDIS.md). */
#define SLT_CLUSTER_MAX_NODES 128

struct redisReply;

/* CRC16/XMODEM (polynomial 0x1021, initial value 0), as Redis' src/crc16.c. */
uint16_t slt_cluster_crc16(const void *p, size_t n);

/*
 * The hash slot of key[0..n): when the key holds a '{' followed later by a '}' with at least
 * one byte between them, only the bytes between the first '{' and the first '}' after it are
 * hashed; otherwise the whole key.
 */
unsigned slt_cluster_keyslot(const char *key, size_t n);

enum slt_cluster_redirect_kind {
    SLT_CLUSTER_MOVED = 1, /* the slot lives on host:port now: update the map */
    SLT_CLUSTER_ASK = 2,   /* this once: ASKING then the command on host:port */
};

struct slt_cluster_redirect {
    int kind;
    unsigned slot;
    char host[SLT_CLUSTER_MAX_HOST]; /* "" when the server did not say (the same host) */
    int port;
};

/*
 * Parses an error reply "MOVED <slot> <host>:<port>" or "ASK <slot> <host>:<port>" (the host
 * may be an IPv6 address: the port follows the last ':'). Returns 0, or SLT_EPARSE for any
 * other error or a malformed one.
 */
int slt_cluster_parse_redirect(const char *err, size_t len, struct slt_cluster_redirect *out);

struct slt_cluster_node {
    char host[SLT_CLUSTER_MAX_HOST];
    int port;
};

/* The masters of the slots, as one CLUSTER SLOTS reply gave them (about 66 KiB: allocate it). */
struct slt_cluster_map {
    int16_t slot[SLT_CLUSTER_SLOTS]; /* index into nodes; -1: no master known */
    size_t covered;                  /* slots that have a master */
    size_t nnodes;                   /* distinct masters, in the order the reply names them */
    struct slt_cluster_node nodes[SLT_CLUSTER_MAX_NODES];
};

/*
 * Parses a CLUSTER SLOTS reply: an array of [start, end, master, replica...] with each node an
 * array [host, port, id, ...]. Takes the masters. A master whose host is "" or nil does not know
 * its own address: it is asked_host, the node that answered (NULL or "": refused); one whose
 * host is "?" has no known endpoint: its slots stay without a master.
 *
 * Every part is checked before *map is trusted, and anything off refuses the whole reply:
 * a type other than the above, fewer elements, a slot outside 0..16383, start > end, ranges
 * that overlap, more ranges than slots, a host that is empty (without asked_host), longer than
 * SLT_CLUSTER_MAX_HOST - 1 bytes or holds a byte outside '!'..'~', a port outside 1..65535, more
 * than SLT_CLUSTER_MAX_NODES masters. Returns 0, or SLT_EPARSE with what was wrong in err
 * (*map is then garbage). An empty array is a map without masters (covered 0).
 */
int slt_cluster_parse_slots(const struct redisReply *reply, const char *asked_host,
                            struct slt_cluster_map *map, char *err, size_t errlen);

#endif
