/* What a format implementation provides. Private to parsers/. */
#ifndef SLT_FORMAT_INTERNAL_H
#define SLT_FORMAT_INTERNAL_H

#include "slt/parser.h"

struct slt_format_ops {
    /* Fill rec from line; return SLT_UP_OK or a reason. p->state is this format's. */
    int (*parse)(const struct slt_format *fmt, struct slt_parser *p, const char *line, size_t len,
                 struct slt_record *rec);
    /* Key for a non-canonical field name, or -1. NULL: only canonical fields. */
    int (*field_key)(const struct slt_format *fmt, const char *name, size_t len);
    /* Text of a non-canonical key. */
    struct slt_str (*get)(const struct slt_record *rec, int key);
    /* Per-parser state (e.g. pcre2 match data); NULL ops mean none. Return 0 or error. */
    int (*parser_init)(const struct slt_format *fmt, struct slt_parser *p);
    void (*parser_release)(struct slt_parser *p);
    void (*free)(struct slt_format *fmt);
    /* Built-ins with data of their own: set up fmt->impl once fmt is made. NULL: none. */
    int (*init)(struct slt_format *fmt);
    /* Formats whose lines depend on earlier ones (w3c): select the stream (slt_parser_stream)
     * and say whether its header was seen. NULL for every other format. */
    int (*stream)(struct slt_parser *p, uint64_t id); /* 1: new stream */
    int (*has_header)(const struct slt_parser *p);
};

struct slt_format {
    const struct slt_format_ops *ops;
    char *name;
    int has_latency;
    enum slt_latency_unit latency_unit;
    void *impl; /* the implementation's own data */
};

struct slt_parser {
    const struct slt_format *fmt;
    size_t max_line;
    void *state;
};

/* Implemented by the regex and JSON formats; called by slt_format_new(). */
int slt__regex_format_new(const struct slt_format_spec *spec, struct slt_format **out, char *err,
                          size_t errlen);
int slt__json_format_new(const struct slt_format_spec *spec, struct slt_format **out, char *err,
                         size_t errlen);

#endif
