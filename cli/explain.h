/* Parsing one line for `slitail explain` and `slitail test`. */
#ifndef SLT_CLI_EXPLAIN_H
#define SLT_CLI_EXPLAIN_H

#include <jansson.h>

#include "slt/config.h"

struct slt_explained {
    int input; /* index of the input in the config */
    int up;    /* SLT_UP_OK or why the line did not parse */
    struct slt_record rec;
    struct slt_parser *parser; /* rec may point into its state (named captures) */
};

/*
 * Parses line (borrowed; rec points into it) with input's format. Returns 0, or SLT_ENOMEM.
 * Release with slt__explained_release() before line goes away.
 */
int slt__explain_line(const struct slt_config *cfg, int input, const char *line, size_t len,
                      struct slt_explained *ex);
void slt__explained_release(struct slt_explained *ex);

/* A JSON string of p..len; bytes that are not UTF-8 are written as \xHH. Never NULL. */
json_t *slt__json_str(const char *p, size_t len);

/* Writes p..len to f (a FILE *) with control bytes as \xHH. */
void slt__print_safe(void *f, const char *p, size_t len);

#endif
