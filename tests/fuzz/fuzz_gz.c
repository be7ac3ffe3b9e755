/* Arbitrary bytes through the gzip decoder: it must end cleanly or with an error, never crash. */
#include <stddef.h>
#include <stdint.h>

#include "gz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t len, lines;

    /* bounded so a small bomb cannot make one input run for minutes */
    (void)slt_gz_decode(data, size, 64u << 20, &len, &lines);
    return 0;
}
