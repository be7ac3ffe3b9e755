/*
 * Redis Cluster routing, the pure part (docs/REDIS.md "Redis Cluster"): the hash slot of a
 * key (CRC16/XMODEM of the key or of its hash tag, modulo 16384, as the Redis Cluster
 * specification defines it) and the parsing of MOVED and ASK redirections. No I/O; the store
 * (store_redis.c) keeps the slot map and the connections. hiredis 0.14 has no cluster support
 * and Debian 12 packages no cluster client, so this is ours.
 */
#ifndef SLT_CLUSTER_H
#define SLT_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#define SLT_CLUSTER_SLOTS 16384
#define SLT_CLUSTER_MAX_HOST 256

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

#endif
