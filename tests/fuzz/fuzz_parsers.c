/*
 * Fuzz the built-in formats: the first byte picks the format (and the max_line bound), the
 * rest is one line, or several separated by '\n' (so the w3c and cloudfront headers change
 * what the next lines mean), spread over a few streams. Every field of the record is read
 * back, through slt_record_get for all keys, so ASan sees any slice that points outside the
 * line.
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
    static struct slt_format *fmts[32];
    static struct slt_parser *parsers[32][2];
    static const char *const columns[] = {"cs-uri-query",   "x-edge-result-type",  "frontend",
                                          "response_flags", "proxy_upstream_name", "RouterName"};
    const char *const *names = slt_format_builtin_names();
    struct slt_record rec;
    unsigned n = 0, k, which, small, seg;
    char *line;
    size_t len, off;
    int r, key;

    while (names[n])
        n++;
    if (!fmts[0]) {
        for (k = 0; k < n && k < 32; k++) {
            size_t c;

            if (slt_format_builtin(names[k], &fmts[k]) != 0)
                abort();
            /* own fields named as a config would, before the parsers are made */
            for (c = 0; c < sizeof(columns) / sizeof(columns[0]); c++)
                (void)slt_format_field_key(fmts[k], columns[c], strlen(columns[c]));
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
    for (off = 0, seg = 0; off <= len; seg++) {
        const char *s = line + off, *nl = memchr(s, '\n', len - off);
        size_t l = nl ? (size_t)(nl - s) : len - off;

        slt_parser_stream(parsers[which][small], seg % 3);
        r = slt_parse(parsers[which][small], s, l, &rec);
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
        for (key = -1; key < SLT_F__COUNT + 8; key++)
            touch(slt_record_get(&rec, key), s, l);
        off += l + 1;
        if (!nl)
            break;
    }
    for (k = 0; k < SLT_F__COUNT; k++) {
        const char *name = slt_field_name((int)k);
        if (slt_format_field_key(fmts[which], name, strlen(name)) != (int)k)
            abort();
    }
    free(line);
    return 0;
}
