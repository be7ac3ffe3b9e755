/*
 * Fuzz the time and latency parsers. The first byte picks the parser; for the layout parser
 * the input is "layout\0text". Results must stay in range and never read past the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slt/parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int64_t t = 0;
    int32_t frac = 0;
    char *s, *layout, err[128];
    const char *nul;
    size_t len;
    int r = 0;

    if (size < 1)
        return 0;
    len = size - 1;
    s = malloc(len ? len : 1);
    if (!s)
        return 0;
    memcpy(s, data + 1, len);
    switch (data[0] % 6) {
    case 0:
        r = slt_time_parse_clf(s, len, &t, &frac);
        break;
    case 1:
        r = slt_time_parse_iso8601(s, len, &t, &frac);
        break;
    case 2:
        r = slt_time_parse_epoch(s, len, &t, &frac);
        break;
    case 3:
        r = slt_parse_latency(s, len, (enum slt_latency_unit)(data[0] / 6 % 3), &t);
        if (r == 0 && t < -1)
            abort();
        frac = 0;
        break;
    case 4:
    case 5:
        nul = memchr(s, '\0', len);
        if (!nul)
            break;
        layout = strdup(s);
        if (!layout)
            break;
        if (slt_time_layout_check(layout, err, sizeof(err)) == 0 || data[0] % 6 == 5)
            r = slt_time_parse_layout(layout, nul + 1, len - (size_t)(nul + 1 - s), &t, &frac);
        free(layout);
        break;
    }
    if (r != 0 && r != SLT_EPARSE)
        abort();
    if (r == 0 && (frac < 0 || frac > 999999))
        abort();
    free(s);
    return 0;
}
