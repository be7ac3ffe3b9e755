/*
 * Arbitrary bytes through the object reader (agent/src/objread.c), as gzip and as plain text,
 * fed in chunks whose sizes come from the input, with a pause after some lines and a resume
 * offset: it must deliver lines with growing offsets and end cleanly or with an error.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "objread.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct st {
    struct slt_objread *r;
    uint64_t last, decoded_cap;
    unsigned n;
};

static void on_line(void *d, struct slt_tail_file *f, const char *line, size_t len, unsigned flags,
                    uint64_t end)
{
    struct st *s = d;

    (void)f;
    (void)line;
    (void)flags;
    if (len > 300 || (s->n && end <= s->last))
        abort();
    s->last = end;
    if (++s->n % 3 == 0)
        slt_objread_pause(s->r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int gz;

    if (size < 2)
        return 0;
    for (gz = 0; gz < 2; gz++) {
        struct st s = {0};
        size_t off = 2, step = (size_t)data[0] % 97 + 1;
        uint64_t skip = data[1] % 64;
        int rounds = 0;

        if (slt_objread_new(gz, 256, skip, on_line, &s, &s.r) < 0)
            return 0;
        while (off < size && rounds++ < 1000000) {
            size_t k = size - off < step ? size - off : step;
            long used = slt_objread_feed(s.r, data + off, k);

            if (used < 0)
                break;
            off += (size_t)used;
            if (slt_objread_paused(s.r))
                slt_objread_resume(s.r);
            if (slt_objread_decoded(s.r) > (64u << 20))
                break;
        }
        while (slt_objread_paused(s.r) && rounds++ < 2000000) {
            (void)slt_objread_finish(s.r);
            slt_objread_resume(s.r);
        }
        (void)slt_objread_finish(s.r);
        slt_objread_free(s.r);
    }
    return 0;
}
