/*
 * Fuzz the built-in formats: the first byte picks the format (and the max_line bound), the
 * rest is one line. Every field of the record is read back, through slt_record_get for all
 * keys, so ASan sees any slice that points outside the line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slt/parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile unsigned sink;

static void touch(struct slt_str s, const char *line, size_t len)
{
    size_t i;

    if (!s.p)
        return;
    if (s.p < line || s.p + s.len > line + len)
        abort(); /* a slice outside the line */
    for (i = 0; i < s.len; i++)
        sink += (unsigned char)s.p[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct slt_format *fmts[8];
    static struct slt_parser *parsers[8][2];
    const char *const *names = slt_format_builtin_names();
    struct slt_record rec;
    unsigned n = 0, k, which, small;
    char *line;
    size_t len;
    int r, key;

    while (names[n])
        n++;
    if (!fmts[0]) {
        for (k = 0; k < n && k < 8; k++) {
            if (slt_format_builtin(names[k], &fmts[k]) != 0)
                abort();
            parsers[k][0] = slt_parser_new(fmts[k], 0);
            parsers[k][1] = slt_parser_new(fmts[k], 64);
            if (!parsers[k][0] || !parsers[k][1])
                abort();
        }
    }
    if (size < 1)
        return 0;
    which = data[0] % n;
    small = (data[0] >> 7) & 1;
    len = size - 1;
    /* an exact-size heap copy so reads past the end are caught */
    line = malloc(len ? len : 1);
    if (!line)
        return 0;
    memcpy(line, data + 1, len);
    r = slt_parse(parsers[which][small], line, len, &rec);
    if (r < 0 || r >= SLT_UP__COUNT)
        abort();
    if (r == SLT_UP_OK) {
        if (rec.status < 0 || rec.status > 999)
            abort();
        if (rec.time_frac_us < 0 || rec.time_frac_us > 999999)
            abort();
    } else if (!rec.detail) {
        abort();
    }
    for (key = -1; key < SLT_F__COUNT + 4; key++)
        touch(slt_record_get(&rec, key), line, len);
    for (k = 0; k < SLT_F__COUNT; k++) {
        const char *name = slt_field_name((int)k);
        if (slt_format_field_key(fmts[which], name, strlen(name)) != (int)k)
            abort();
    }
    free(line);
    return 0;
}
