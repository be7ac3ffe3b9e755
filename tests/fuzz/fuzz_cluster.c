/*
 * Fuzz the Redis Cluster routing parsers (cluster.c): a redirection error as a server (or a
 * proxy in between) could send it, and the hash slot of any key. The input is copied to a
 * buffer of exactly its size so a read past the end is caught.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct slt_cluster_redirect r;
    char *s = malloc(size ? size : 1);

    if (!s)
        return 0;
    memcpy(s, data, size);
    if (slt_cluster_parse_redirect(s, size, &r) == 0) {
        if (r.slot >= SLT_CLUSTER_SLOTS || r.port < 1 || r.port > 65535 ||
            strlen(r.host) >= sizeof(r.host) ||
            (r.kind != SLT_CLUSTER_MOVED && r.kind != SLT_CLUSTER_ASK))
            abort();
    }
    if (slt_cluster_keyslot(s, size) >= SLT_CLUSTER_SLOTS)
        abort();
    free(s);
    return 0;
}
