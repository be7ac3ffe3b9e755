/*
 * Arbitrary bytes as the agent's on-disk state: decoded as a checkpoint state and scanned as a
 * spool segment. Either must load or be refused (torn/corrupt records cut away), never crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ckpt.h"
#include "spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct slt_state st;
    struct slt_spool *sp;
    char path[128];
    FILE *f;
    size_t i;

    if (slt_state_decode(data, size, &st) == 0)
        slt_state_release(&st);
    if (!dir[0]) {
        slt_log_level = -1; /* a corrupt segment is logged once per input: too loud here */
        snprintf(dir, sizeof(dir), "/tmp/slt-fuzz-spool-XXXXXX");
        if (!mkdtemp(dir))
            return 0;
    }
    snprintf(path, sizeof(path), "%s/00000000000000000001.seg", dir);
    f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    if (slt_spool_open(dir, 1 << 20, 0, &sp) == 0) {
        struct slt_buf b;

        slt_buf_init(&b, 64u << 20);
        for (i = 0; i < slt_spool_count(sp); i++) {
            b.len = 0;
            slt_spool_read_frame(sp, i, &b);
            b.len = 0;
            if (slt_spool_read_state(sp, i, &b) == 0 && slt_state_decode(b.p, b.len, &st) == 0)
                slt_state_release(&st);
        }
        slt_buf_release(&b);
        slt_spool_free(sp);
    }
    unlink(path);
    return 0;
}
