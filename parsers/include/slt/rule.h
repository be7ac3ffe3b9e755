/*
 * SLI rules: for every parsed line and every SLI of its input,
 *   match fails   -> SLT_NOMATCH (the SLI ignores the line)
 *   exclude holds -> SLT_EXCLUDED
 *   bad holds     -> SLT_BAD
 *   otherwise     -> SLT_GOOD
 * A condition set is a list of maps: it holds when any map holds; a map holds when all of
 * its atoms hold. An absent `match` holds for every line; absent `exclude`/`bad` never hold.
 *
 * Calling sequence:
 *   map = slt_condset_add_map(cs); a = slt_condmap_add_atom(map);
 *   slt_atom_init_regex/_status/_latency(a, ...)   at config load (compiles and JITs regexes)
 *   m = slt_matcher_new()                          one per thread/loop
 *   slt_sli_classify(sli, rec, m, &why)            per line and SLI
 *   slt_decision_format(&why, rec, buf, len)       to explain it
 *
 * A regex that hits its match or depth limit (catastrophic backtracking) counts as a rule
 * error on the matcher (slt_matcher_rule_errors) and its atom does not hold.
 */
#ifndef SLT_RULE_H
#define SLT_RULE_H

#include <stddef.h>
#include <stdint.h>

#include "slt/parser.h"

enum slt_class {
    SLT_GOOD = 0,
    SLT_BAD = 1,
    SLT_EXCLUDED = 2,
    SLT_UNPARSED = 3,
    SLT_NOMATCH = 4, /* the SLI does not cover this line */
};
#define SLT_CLASS_COUNTED 3 /* good, bad, excluded are counted per SLI */

const char *slt_class_name(int cls); /* "good", "bad", "excluded", "unparsed", "nomatch" */

enum slt_atom_kind {
    SLT_ATOM_REGEX,         /* field text matches a PCRE2 pattern */
    SLT_ATOM_STATUS_RANGE,  /* lo <= status <= hi */
    SLT_ATOM_LATENCY_OVER,  /* latency_us > us (a line without latency does not hold) */
    SLT_ATOM_LATENCY_UNDER, /* latency_us < us */
    SLT_ATOM_STATUS_SET,    /* a 3-digit status in status_set (a list of statuses) */
};

/*
 * How an atom is evaluated, chosen when it is compiled. Regexes that are plain literals and
 * regexes on the status avoid PCRE2.
 */
enum slt_fast {
    SLT_FAST_NONE = 0,     /* PCRE2 */
    SLT_FAST_PREFIX,       /* ^lit */
    SLT_FAST_EXACT,        /* ^lit$ */
    SLT_FAST_SUFFIX,       /* lit$ */
    SLT_FAST_CONTAINS,     /* lit */
    SLT_FAST_STATUS_SET,   /* regex on status: a 3-digit status is looked up in status_set */
    SLT_FAST_STATUS_RANGE, /* the SLT_ATOM_ kinds that are not regexes */
    SLT_FAST_LATENCY_OVER,
    SLT_FAST_LATENCY_UNDER,
    SLT_FAST_ALT_EXACT,  /* ^(a|b|c)$ or ^(?:a|b|c)$ of plain literals: lit holds the
                            alternatives, each as a length byte and its bytes */
    SLT_FAST_ALT_PREFIX, /* ^(a|b|c) or ^(?:a|b|c): the same, as prefixes */
};

struct slt_atom {
    enum slt_atom_kind kind;
    char *field;   /* the field name as written ("status", "path", a named group) */
    int key;       /* slt_format_field_key() of field */
    void *re;      /* pcre2_code *, JIT-compiled */
    char *src;     /* the pattern or value as written, for explanations */
    int lo, hi;    /* status range */
    int64_t us;    /* latency threshold */
    int negate;    /* `not:` wrapper: the atom holds when the test fails */
    int line, col; /* where it was written, for messages */
    /* private: fast paths chosen at compile time */
    int fast;  /* enum slt_fast */
    char *lit; /* the unescaped literal of SLT_FAST_PREFIX .. SLT_FAST_CONTAINS */
    size_t litlen;
    unsigned char *status_set; /* regex on status: bit per 000..999, precomputed */
    int jit;                   /* re is JIT-compiled */
};

struct slt_condmap {
    struct slt_atom *atoms;
    size_t natoms;
};

struct slt_condset {
    struct slt_condmap *maps;
    size_t nmaps;
    int present; /* 0: the key was absent from the config */
};

struct slt_sli {
    char *name;
    char *input;                  /* input name */
    size_t input_idx;             /* index into the config's inputs */
    const struct slt_format *fmt; /* borrowed from the input */
    struct slt_condset match, exclude, bad;
    int line;   /* where it was declared */
    void *prep; /* private: slt_sli_prepare's plan (NULL: none); freed by slt_sli_release */
};

/* What decided a classification, for `slitail explain`. */
struct slt_decision {
    enum slt_class cls;
    const char *stage;             /* "match", "exclude", "bad", "default" */
    const struct slt_atom *atom;   /* the atom that decided (or failed for nomatch); may be NULL */
    size_t map_idx;                /* which map of the stage held */
    const struct slt_condmap *map; /* that map (NULL for "default") */
    size_t nmaps;                  /* how many maps the stage has */
};

/*
 * Per-thread matching state: PCRE2 match data and a match context with the limits, and the
 * count of rule errors (regex limits hit). Returns NULL when out of memory.
 */
struct slt_matcher;
struct slt_matcher *slt_matcher_new(void);
void slt_matcher_free(struct slt_matcher *m);
uint64_t slt_matcher_rule_errors(const struct slt_matcher *m);

/* Grow a set by one empty map / a map by one zeroed atom; NULL when out of memory. */
struct slt_condmap *slt_condset_add_map(struct slt_condset *cs);
struct slt_atom *slt_condmap_add_atom(struct slt_condmap *map);

/*
 * Compile a regex atom against fmt: resolves the field key (SLT_ENOTFOUND with a message
 * when fmt has no such field) and compiles+JITs the pattern (SLT_ECONFIG with PCRE2's message
 * and offset). Writes a message into err on failure.
 */
int slt_atom_init_regex(struct slt_atom *a, const struct slt_format *fmt, const char *field,
                        const char *pattern, char *err, size_t errlen);
/*
 * A status atom from text as written: "503" (one status), "500-599" (a range), "5xx" (a
 * class) or else a regex on the status text (see slt_atom_init_regex).
 */
int slt_atom_init_status(struct slt_atom *a, const struct slt_format *fmt, const char *text,
                         char *err, size_t errlen);
/*
 * Add one entry of a status list (`status: [429, 5xx, '^50[34]$']`) to a: the first call
 * makes a an SLT_ATOM_STATUS_SET, each call adds the statuses text stands for (as
 * slt_atom_init_status reads it) to the set. The list holds for a 3-digit status in the set.
 */
int slt_atom_status_list_add(struct slt_atom *a, const struct slt_format *fmt, const char *text,
                             char *err, size_t errlen);
/* A latency atom: kind is SLT_ATOM_LATENCY_OVER or _UNDER; src is the text as written. */
int slt_atom_init_latency(struct slt_atom *a, enum slt_atom_kind kind, int64_t us, const char *src);
/* The longest regex accepted, in bytes. */
#define SLT_MAX_REGEX_LEN 4096
void slt_sli_release(struct slt_sli *sli);

/* 1 when the atom holds for rec. */
int slt_atom_eval(const struct slt_atom *a, const struct slt_record *rec, struct slt_matcher *m);

/*
 * Optional, once after the SLI's conditions are complete and before classifying. It orders
 * the atoms of each map cheap first (status, latency and anchored literal tests before substring
 * searches and other regexes; stable, so calling it again changes nothing), then makes a plan per
 * stage (match, exclude, bad) for slt_sli_classify(..., NULL) and slt_slis_classify: a stage whose
 * atoms all test the status becomes one lookup in a table of the 1000 three-digit statuses, a
 * stage of one map a plain loop over its atoms. Classes are the same with or without it (a map
 * holds when all its atoms do); an explanation names the first failing atom in the new order.
 * SLT_ENOMEM (atoms ordered, no plan) when out of memory. The plan points into sli: moving or
 * copying the struct, or changing its conditions, afterwards needs another call (on the copy:
 * slt_sli_release frees the plan, so only one of two copies may keep it).
 */
int slt_sli_prepare(struct slt_sli *sli);

/* Classify rec for sli; why may be NULL (the fast path). Returns the class. */
enum slt_class slt_sli_classify(const struct slt_sli *sli, const struct slt_record *rec,
                                struct slt_matcher *m, struct slt_decision *why);

/*
 * The hot loop's form: cls[i] = slt_sli_classify(slis[i], rec, m, NULL) for i < n, in one
 * call per line (what the SLIs share, such as the status, is read once).
 */
void slt_slis_classify(const struct slt_sli *const *slis, size_t n, const struct slt_record *rec,
                       struct slt_matcher *m, unsigned char *cls);

/* A one-line human explanation of a decision, e.g. "bad: status '503' matches '^5'". */
void slt_decision_format(const struct slt_decision *d, const struct slt_record *rec, char *buf,
                         size_t len);

#endif
