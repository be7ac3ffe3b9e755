/*
 * The fast paths (parsers/src/nginx.c clf_fast, alb.c tokenize_fast) against the general
 * paths they short-cut: the first byte picks the variant (apache_common, combined,
 * nginx_main, nginx_timed, alb), the rest is one line, parsed once with the fast path
 * (general on fallback) and once by the general path alone. The results must be the same: reason,
 * every field (same bytes of the line), time, status, latencies, and detail and column when
 * unparsed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "builtin_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The record as slt_parse() hands it to a format's parse op. */
static void blank(struct slt_record *rec, const char *line, size_t len)
{
    memset(rec, 0, sizeof(*rec));
    rec->latency_us = -1;
    rec->upstream_us = -1;
    rec->line = line;
    rec->len = len;
}

static void same(const struct slt_record *a, const struct slt_record *b, int r)
{
    int k;

    if (a->time != b->time || a->time_frac_us != b->time_frac_us || a->status != b->status ||
        a->latency_us != b->latency_us || a->upstream_us != b->upstream_us)
        abort();
    for (k = 0; k < SLT_F__COUNT; k++)
        if (a->field[k].p != b->field[k].p || a->field[k].len != b->field[k].len)
            abort();
    if (r != SLT_UP_OK && (a->detail != b->detail || a->column != b->column))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct slt__builtin_state st_fast, st_general;
    struct slt_record a, b;
    enum slt__clf_variant v;
    char *line;
    size_t len;
    int ra, rb;

    if (size < 1)
        return 0;
    v = (enum slt__clf_variant)(data[0] % 5);
    len = size - 1;
    /* an exact-size heap copy so reads past the end are caught */
    line = malloc(len ? len : 1);
    if (!line)
        return 0;
    memcpy(line, data + 1, len);
    blank(&a, line, len);
    blank(&b, line, len);
    if ((int)v == 4) {
        ra = slt__alb_parse(&st_fast, line, len, &a, 1);
        rb = slt__alb_parse(&st_general, line, len, &b, 0);
        if (ra == SLT_UP_OK)
            slt__alb_materialize(&a); /* the fields the fast path leaves for later */
    } else {
        ra = slt__clf_parse(v, &st_fast, line, len, &a);
        rb = slt__clf_parse_general(v, &st_general, line, len, &b);
    }
    if (ra != rb)
        abort();
    same(&a, &b, ra);
    free(line);
    return 0;
}
