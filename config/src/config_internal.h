/* The config key table, shared by the loader and the test that keeps docs/CONFIG.md in sync. */
#ifndef SLT_CONFIG_INTERNAL_H
#define SLT_CONFIG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

enum slt__key_type {
    SLT_KT_STR,     /* a string */
    SLT_KT_STRLIST, /* a list of strings (a single string is a list of one) */
    SLT_KT_DUR,     /* a duration with a unit ("2s"), stored as int64 in unit_us steps */
    SLT_KT_SIZE,    /* a size ("64MiB", "4096"), stored as an unsigned of `size` bytes */
    SLT_KT_UINT,    /* a plain unsigned integer, stored as an integer of `size` bytes */
    SLT_KT_PERCENT, /* a number strictly between 0 and 100, stored as double */
    SLT_KT_ENUM,    /* one of `choices` ("end|beginning"), stored as int (its index) */
    SLT_KT_COND,    /* a condition set (slis only), compiled once the input is known */
    SLT_KT_MAP,     /* a map handled by its section's code (formats: json) */
    SLT_KT_LIST,    /* a list of maps handled by its section's code (slos: alerts) */
};

#define SLT_KEY_REQUIRED 1

struct slt__config_key {
    const char *section; /* "formats", "inputs", "slis", "slos", "agent", "aggregator" */
    const char *name;
    enum slt__key_type type;
    size_t off;      /* offset of the target field in the section's struct */
    size_t off2;     /* SLT_KT_STRLIST: offset of the size_t count */
    size_t size;     /* size of the target field */
    int64_t unit_us; /* SLT_KT_DUR: 1000 for a field in ms, 1000000 for seconds */
    int64_t lo, hi;  /* bounds in the field's unit (hi 0: none; strlist: max entries) */
    const char *def; /* the default as it would be written in YAML; NULL: none */
    const char *choices;
    int flags;
    /* SLT_KT_STR/_STRLIST: further checks of each string; 0 or a message (no value) in msg */
    int (*check)(const char *s, char *msg, size_t msglen);
    const char *help;
};

/*
 * The most keys the table may hold (checked when it compiles): the loader marks the keys it saw
 * in an array of this size.
 */
#define SLT__CONFIG_MAX_KEYS 256

/* The table, in documentation order; *n gets its length. */
const struct slt__config_key *slt__config_keys(size_t *n);

/*
 * The key reference of docs/CONFIG.md (the text between its KEYS markers), generated from the
 * table. Appends to b; returns 0 or SLT_ELIMIT / SLT_ENOMEM.
 */
struct slt_buf;
int slt__config_doc_keys(struct slt_buf *b);
/* The same reference as roff (.SS per section, .TP per key), for slitail.yaml(5). */
int slt__config_man_keys(struct slt_buf *b);

#endif
