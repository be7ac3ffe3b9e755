/* Arbitrary bytes as an S3 ListObjectsV2 answer (agent/src/s3list.c, libexpat): it must
 * parse or refuse cleanly, within its bounds, never crash. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "s3list.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct slt_s3list l;
    size_t i;

    slt_s3list_init(&l);
    if (slt_s3list_parse(&l, (const char *)data, size) == 0) {
        if (l.nkeys > SLT_S3LIST_MAX_KEYS)
            abort();
        for (i = 0; i < l.nkeys; i++)
            if (!l.keys[i].key || strlen(l.keys[i].key) > SLT_S3LIST_MAX_KEY)
                abort();
    }
    slt_s3list_release(&l);
    return 0;
}
