/*
 * SLI rules: atoms (a regex on a field, a status range, a latency threshold), maps of atoms
 * (all hold) and sets of maps (any holds), and the classification of a record.
 *
 * Regexes are compiled and JIT-compiled once at load. Fast paths avoid PCRE2 on the hot
 * path: a regex on `status` is run at load on all 1000 three-digit statuses and kept as a
 * bit set; a pattern that is a plain literal (maybe anchored with ^ and/or $, with escaped
 * punctuation) becomes a comparison, and an anchored alternation of such literals
 * (^(a|b|c)$, ^(?:a|b)) a short list of comparisons. Each atom's `fast` names the one test
 * to run. slt_sli_prepare orders the atoms of each map cheap first and adds a per-SLI plan: a
 * stage whose atoms all test the status becomes one lookup in a 1000-bit table, a one-map stage
 * a plain loop over its atoms.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <string.h>

#include "slt/rule.h"

struct slt_matcher {
    pcre2_match_data *md;
    pcre2_match_context *mc;
    uint64_t rule_errors;
};

const char *slt_class_name(int cls)
{
    switch (cls) {
    case SLT_GOOD:
        return "good";
    case SLT_BAD:
        return "bad";
    case SLT_EXCLUDED:
        return "excluded";
    case SLT_UNPARSED:
        return "unparsed";
    case SLT_NOMATCH:
        return "nomatch";
    default:
        return "unknown";
    }
}

struct slt_matcher *slt_matcher_new(void)
{
    struct slt_matcher *m = slt_calloc(1, sizeof(*m));

    if (!m)
        return NULL;
    m->md = pcre2_match_data_create(1, NULL);
    m->mc = pcre2_match_context_create(NULL);
    if (!m->md || !m->mc) {
        slt_matcher_free(m);
        return NULL;
    }
    pcre2_set_match_limit(m->mc, SLT_DEFAULT_MATCH_LIMIT);
    pcre2_set_depth_limit(m->mc, SLT_DEFAULT_DEPTH_LIMIT);
    return m;
}

void slt_matcher_free(struct slt_matcher *m)
{
    if (!m)
        return;
    pcre2_match_data_free(m->md);
    pcre2_match_context_free(m->mc);
    slt_free(m);
}

uint64_t slt_matcher_rule_errors(const struct slt_matcher *m)
{
    return m->rule_errors;
}

struct slt_condmap *slt_condset_add_map(struct slt_condset *cs)
{
    struct slt_condmap *maps = slt_realloc(cs->maps, (cs->nmaps + 1) * sizeof(*maps));

    if (!maps)
        return NULL;
    cs->maps = maps;
    memset(&maps[cs->nmaps], 0, sizeof(maps[0]));
    return &maps[cs->nmaps++];
}

struct slt_atom *slt_condmap_add_atom(struct slt_condmap *map)
{
    struct slt_atom *atoms = slt_realloc(map->atoms, (map->natoms + 1) * sizeof(*atoms));

    if (!atoms)
        return NULL;
    map->atoms = atoms;
    memset(&atoms[map->natoms], 0, sizeof(atoms[0]));
    atoms[map->natoms].key = -1;
    return &atoms[map->natoms++];
}

static void slt_atom_release(struct slt_atom *a)
{
    if (!a)
        return;
    pcre2_code_free(a->re);
    slt_free(a->field);
    slt_free(a->src);
    slt_free(a->lit);
    slt_free(a->status_set);
    memset(a, 0, sizeof(*a));
}

static void slt_condset_release(struct slt_condset *cs)
{
    size_t i, j;

    for (i = 0; i < cs->nmaps; i++) {
        for (j = 0; j < cs->maps[i].natoms; j++)
            slt_atom_release(&cs->maps[i].atoms[j]);
        slt_free(cs->maps[i].atoms);
    }
    slt_free(cs->maps);
    memset(cs, 0, sizeof(*cs));
}

void slt_sli_release(struct slt_sli *sli)
{
    if (!sli)
        return;
    slt_free(sli->name);
    slt_free(sli->input);
    slt_condset_release(&sli->match);
    slt_condset_release(&sli->exclude);
    slt_condset_release(&sli->bad);
    slt_free(sli->prep);
    memset(sli, 0, sizeof(*sli));
}

/*
 * One literal character of a pattern at pat[*i] (i < end): an escaped punctuation character
 * ("\.") or a character without special meaning. Advances *i past it; -1 when it is not one.
 */
static int lit_char(const char *pat, size_t *i, size_t end)
{
    unsigned char ch = (unsigned char)pat[*i];

    if (ch == '\\') {
        if (*i + 1 >= end)
            return -1;
        ch = (unsigned char)pat[++*i];
        if (!strchr("\\^$.|?*+()[]{}/-#:'\"<>=!@%&,;~`", ch) || ch == '\0')
            return -1;
    } else if (strchr("^$.|?*+()[]{}", ch) || ch < 0x20 || ch >= 0x80) {
        return -1;
    }
    ++*i;
    return ch;
}

/*
 * "^(a|b|c)$" or "^(?:a|b|c)$" (FAST_ALT_EXACT), the same without '$' (FAST_ALT_PREFIX), where
 * a, b, c are plain literals of at most 255 bytes. Writes each alternative to lit as a length
 * byte and its bytes (at most len bytes in all) and returns the kind, or FAST_NONE.
 */
static int alternation_kind(const char *pat, size_t len, char *lit, size_t *litlen)
{
    size_t i, n = 0, start;
    int ch;

    if (len >= 4 && memcmp(pat, "^(?:", 4) == 0)
        i = 4;
    else if (len >= 2 && memcmp(pat, "^(", 2) == 0)
        i = 2;
    else
        return SLT_FAST_NONE;
    start = n++;
    while (i < len) {
        if (pat[i] == '|' || pat[i] == ')') {
            if (n - start - 1 > 255)
                return SLT_FAST_NONE;
            lit[start] = (char)(unsigned char)(n - start - 1);
            if (pat[i] == ')') {
                *litlen = n;
                if (i + 1 == len)
                    return SLT_FAST_ALT_PREFIX;
                if (i + 2 == len && pat[i + 1] == '$')
                    return SLT_FAST_ALT_EXACT;
                return SLT_FAST_NONE;
            }
            i++;
            start = n++;
            continue;
        }
        if ((ch = lit_char(pat, &i, len)) < 0)
            return SLT_FAST_NONE;
        lit[n++] = (char)ch;
    }
    return SLT_FAST_NONE; /* no ')' */
}

/*
 * A pattern that is a plain literal, maybe anchored: "^lit" (FAST_PREFIX), "^lit$" (FAST_EXACT),
 * "lit$" (FAST_SUFFIX) or "lit" (FAST_CONTAINS). Escaped punctuation ("\.") is literal. Writes
 * the unescaped literal to lit (at least len bytes) and returns the kind, or FAST_NONE.
 */
static int literal_kind(const char *pat, size_t len, char *lit, size_t *litlen)
{
    size_t i = 0, n = 0, end = len;
    int start = 0, dollar = 0, ch;

    if (len && pat[0] == '^') {
        start = 1;
        i = 1;
    }
    if (end > i && pat[end - 1] == '$') {
        size_t bs = 0;

        while (end - 1 - bs > i && pat[end - 2 - bs] == '\\')
            bs++;
        if (bs % 2 == 0) {
            dollar = 1;
            end--;
        }
    }
    while (i < end) {
        if ((ch = lit_char(pat, &i, end)) < 0)
            return alternation_kind(pat, len, lit, litlen);
        lit[n++] = (char)ch;
    }
    *litlen = n;
    if (start)
        return dollar ? SLT_FAST_EXACT : SLT_FAST_PREFIX;
    return dollar ? SLT_FAST_SUFFIX : SLT_FAST_CONTAINS;
}

static int compile_regex(struct slt_atom *a, const char *what, const char *pattern, char *err,
                         size_t errlen)
{
    size_t len = strlen(pattern);
    int ec;
    PCRE2_SIZE off;
    pcre2_code *re;

    if (len > SLT_MAX_REGEX_LEN) {
        snprintf(err, errlen, "regex for '%s' is too long (%zu bytes, max %d)", what, len,
                 SLT_MAX_REGEX_LEN);
        return SLT_ECONFIG;
    }
    re = pcre2_compile((PCRE2_SPTR)pattern, len, 0, &ec, &off, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];

        pcre2_get_error_message(ec, msg, sizeof(msg));
        snprintf(err, errlen, "bad regex for '%s' at offset %zu: %s", what, (size_t)off,
                 (const char *)msg);
        return SLT_ECONFIG;
    }
    /* Without JIT (no JIT support on this CPU) the interpreter is used: slower but correct. */
    a->jit = pcre2_jit_compile(re, PCRE2_JIT_COMPLETE) == 0;
    a->re = re;
    return 0;
}

/* 1 match, 0 no match, -1 limit or other match error. */
static int run_regex(const pcre2_code *re, int jit, const char *s, size_t len, pcre2_match_data *md,
                     pcre2_match_context *mc)
{
    int rc = jit ? pcre2_jit_match(re, (PCRE2_SPTR)(s ? s : ""), len, 0, 0, md, mc)
                 : pcre2_match(re, (PCRE2_SPTR)(s ? s : ""), len, 0, 0, md, mc);

    if (rc >= 0)
        return 1;
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    return -1;
}

int slt_atom_init_regex(struct slt_atom *a, const struct slt_format *fmt, const char *field,
                        const char *pattern, char *err, size_t errlen)
{
    int key, rc;
    size_t litlen = 0;

    key = slt_format_field_key(fmt, field, strlen(field));
    if (key < 0) {
        snprintf(err, errlen, "format '%s' has no field '%s'", slt_format_name(fmt), field);
        return SLT_ENOTFOUND;
    }
    a->kind = SLT_ATOM_REGEX;
    a->key = key;
    a->field = slt_strdup(field);
    a->src = slt_strdup(pattern);
    if (!a->field || !a->src)
        goto nomem;
    rc = compile_regex(a, field, pattern, err, errlen);
    if (rc < 0)
        return rc;
    if (key == SLT_F_STATUS) {
        pcre2_match_data *md = pcre2_match_data_create(1, NULL);
        int i, r;
        char s[4];

        a->status_set = slt_calloc(1, 125);
        if (!md || !a->status_set) {
            pcre2_match_data_free(md);
            goto nomem;
        }
        for (i = 0; i < 1000; i++) {
            snprintf(s, sizeof(s), "%03d", i);
            r = run_regex(a->re, a->jit, s, 3, md, NULL);
            if (r < 0) {
                pcre2_match_data_free(md);
                snprintf(err, errlen, "regex for 'status' fails on '%s'", s);
                return SLT_ECONFIG;
            }
            if (r)
                a->status_set[i >> 3] |= (unsigned char)(1u << (i & 7));
        }
        pcre2_match_data_free(md);
    }
    if (a->status_set) {
        a->fast = SLT_FAST_STATUS_SET;
        return 0;
    }
    a->lit = slt_malloc(strlen(pattern) + 1);
    if (!a->lit)
        goto nomem;
    a->fast = literal_kind(pattern, strlen(pattern), a->lit, &litlen);
    a->litlen = litlen;
    if (a->fast == SLT_FAST_NONE) {
        slt_free(a->lit);
        a->lit = NULL;
        a->litlen = 0;
    }
    return 0;
nomem:
    snprintf(err, errlen, "out of memory");
    return SLT_ENOMEM;
}

static int parse_status3(const char *s, size_t len)
{
    if (len != 3 || s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' || s[2] < '0' ||
        s[2] > '9')
        return -1;
    return (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
}

int slt_atom_init_status(struct slt_atom *a, const struct slt_format *fmt, const char *text,
                         char *err, size_t errlen)
{
    size_t len = strlen(text);
    int lo = -1, hi = -1;

    if (slt_format_field_key(fmt, "status", 6) != SLT_F_STATUS) {
        snprintf(err, errlen, "format '%s' has no field 'status'", slt_format_name(fmt));
        return SLT_ENOTFOUND;
    }
    if (len == 3 && (lo = parse_status3(text, 3)) >= 0) {
        hi = lo;
    } else if (len == 7 && text[3] == '-') {
        lo = parse_status3(text, 3);
        hi = parse_status3(text + 4, 3);
        if (lo < 0 || hi < 0 || lo > hi) {
            snprintf(err, errlen, "bad status range '%s' (want e.g. 500-599)", text);
            return SLT_ECONFIG;
        }
    } else if (len == 3 && text[0] >= '1' && text[0] <= '9' && (text[1] == 'x' || text[1] == 'X') &&
               (text[2] == 'x' || text[2] == 'X')) {
        lo = (text[0] - '0') * 100;
        hi = lo + 99;
    }
    if (lo < 0)
        return slt_atom_init_regex(a, fmt, "status", text, err, errlen);
    a->kind = SLT_ATOM_STATUS_RANGE;
    a->fast = SLT_FAST_STATUS_RANGE;
    a->key = SLT_F_STATUS;
    a->lo = lo;
    a->hi = hi;
    a->field = slt_strdup("status");
    a->src = slt_strdup(text);
    if (!a->field || !a->src) {
        snprintf(err, errlen, "out of memory");
        return SLT_ENOMEM;
    }
    return 0;
}

int slt_atom_status_list_add(struct slt_atom *a, const struct slt_format *fmt, const char *text,
                             char *err, size_t errlen)
{
    struct slt_atom one;
    size_t i, n;
    char *src;
    int rc, st;

    memset(&one, 0, sizeof(one));
    if ((rc = slt_atom_init_status(&one, fmt, text, err, errlen)) < 0) {
        slt_atom_release(&one);
        return rc;
    }
    if (a->kind != SLT_ATOM_STATUS_SET || !a->status_set) {
        a->kind = SLT_ATOM_STATUS_SET;
        a->fast = SLT_FAST_STATUS_SET;
        a->key = SLT_F_STATUS;
        a->status_set = slt_calloc(1, 125);
        a->field = slt_strdup("status");
        a->src = slt_strdup("[]");
        if (!a->status_set || !a->field || !a->src)
            goto nomem;
    }
    for (st = 0; st < 1000; st++) {
        int in = one.kind == SLT_ATOM_STATUS_RANGE ? st >= one.lo && st <= one.hi
                                                   : (one.status_set[st >> 3] >> (st & 7)) & 1;
        if (in)
            a->status_set[st >> 3] |= (unsigned char)(1u << (st & 7));
    }
    /* src: "[a]" -> "[a, text]" */
    n = strlen(a->src);
    src = slt_malloc(n + strlen(text) + 3);
    if (!src)
        goto nomem;
    memcpy(src, a->src, n - 1);
    i = n - 1;
    if (n > 2) {
        src[i++] = ',';
        src[i++] = ' ';
    }
    memcpy(src + i, text, strlen(text));
    i += strlen(text);
    src[i++] = ']';
    src[i] = '\0';
    slt_free(a->src);
    a->src = src;
    slt_atom_release(&one);
    return 0;
nomem:
    slt_atom_release(&one);
    snprintf(err, errlen, "out of memory");
    return SLT_ENOMEM;
}

int slt_atom_init_latency(struct slt_atom *a, enum slt_atom_kind kind, int64_t us, const char *src)
{
    a->kind = kind;
    a->fast = kind == SLT_ATOM_LATENCY_OVER ? SLT_FAST_LATENCY_OVER : SLT_FAST_LATENCY_UNDER;
    a->key = SLT_F_LATENCY;
    a->us = us;
    a->field = slt_strdup("latency");
    a->src = slt_strdup(src);
    if (!a->field || !a->src)
        return SLT_ENOMEM;
    return 0;
}

static inline struct slt_str field_of(const struct slt_record *rec, int key)
{
    if ((unsigned)key < SLT_F__COUNT && !((rec->lazy >> key) & 1))
        return rec->field[key];
    return slt_record_get(rec, key);
}

static inline uint64_t ld64(const char *p)
{
    uint64_t v;

    memcpy(&v, p, 8);
    return v;
}

static inline uint32_t ld32(const char *p)
{
    uint32_t v;

    memcpy(&v, p, 4);
    return v;
}

static inline uint16_t ld16(const char *p)
{
    uint16_t v;

    memcpy(&v, p, 2);
    return v;
}

/* a[0..n) == b[0..n): word compares, the last one overlapping; reads nothing past n. */
static inline int lit_eq(const char *a, const char *b, size_t n)
{
    if (n >= 8) {
        size_t i;

        for (i = 0; i + 8 < n; i += 8)
            if (ld64(a + i) != ld64(b + i))
                return 0;
        return ld64(a + n - 8) == ld64(b + n - 8);
    }
    if (n >= 4)
        return ld32(a) == ld32(b) && ld32(a + n - 4) == ld32(b + n - 4);
    if (n >= 2)
        return ld16(a) == ld16(b) && ld16(a + n - 2) == ld16(b + n - 2);
    return n == 0 || a[0] == b[0];
}

/* v equals (exact) or starts with (!exact) one of the alternatives of SLT_FAST_ALT_*. */
static inline int alt_test(struct slt_str v, const char *lit, size_t litlen, int exact)
{
    const char *p = lit, *end = lit + litlen;

    while (p < end) {
        size_t n = (unsigned char)*p++;

        if ((exact ? v.len == n : v.len >= n) && lit_eq(v.p, p, n))
            return 1;
        p += n;
    }
    return 0;
}

/* A rule error (a regex limit hit) counts on the matcher and the atom does not hold. */
static int rule_error(struct slt_matcher *m)
{
    m->rule_errors++;
    return 0;
}

/*
 * 1 when the atom (with its negation) holds. One dispatch per atom: each case reads what it
 * needs from the record and folds the negation in.
 */
static inline __attribute__((always_inline)) int
atom_eval(const struct slt_atom *a, const struct slt_record *rec, struct slt_matcher *m)
{
    struct slt_str v;
    unsigned d0, d1, d2;
    int r;

    switch (a->fast) {
    case SLT_FAST_STATUS_RANGE:
        r = rec->field[SLT_F_STATUS].p != NULL &&
            (unsigned)(rec->status - a->lo) <= (unsigned)(a->hi - a->lo);
        break;
    case SLT_FAST_LATENCY_OVER:
        r = rec->latency_us >= 0 && rec->latency_us > a->us;
        break;
    case SLT_FAST_LATENCY_UNDER:
        r = rec->latency_us >= 0 && rec->latency_us < a->us;
        break;
    case SLT_FAST_STATUS_SET:
        v = rec->field[SLT_F_STATUS];
        if (!v.p) {
            r = 0;
            break;
        }
        d0 = (unsigned)(unsigned char)v.p[0] - '0';
        if (v.len == 3 && d0 < 10 && (d1 = (unsigned)(unsigned char)v.p[1] - '0') < 10 &&
            (d2 = (unsigned)(unsigned char)v.p[2] - '0') < 10) {
            unsigned st = d0 * 100 + d1 * 10 + d2;

            r = (a->status_set[st >> 3] >> (st & 7)) & 1;
            break;
        }
        if (v.len == 1 && d0 == 0 && rec->status == 0) {
            /* "status": 0 (Caddy, Envoy): tested as 000 */
            r = a->status_set[0] & 1;
            break;
        }
        r = a->re ? run_regex(a->re, a->jit, v.p, v.len, m->md, m->mc) : 0;
        if (r < 0)
            return rule_error(m);
        break;
    case SLT_FAST_PREFIX:
        v = field_of(rec, a->key);
        r = v.p && v.len >= a->litlen && lit_eq(v.p, a->lit, a->litlen);
        break;
    case SLT_FAST_EXACT:
        v = field_of(rec, a->key);
        r = v.p && v.len == a->litlen && lit_eq(v.p, a->lit, a->litlen);
        break;
    case SLT_FAST_SUFFIX:
        v = field_of(rec, a->key);
        r = v.p && v.len >= a->litlen && lit_eq(v.p + v.len - a->litlen, a->lit, a->litlen);
        break;
    case SLT_FAST_CONTAINS:
        v = field_of(rec, a->key);
        r = v.p && (a->litlen == 0 || memmem(v.p, v.len, a->lit, a->litlen) != NULL);
        break;
    case SLT_FAST_ALT_EXACT:
        v = field_of(rec, a->key);
        r = v.p && alt_test(v, a->lit, a->litlen, 1);
        break;
    case SLT_FAST_ALT_PREFIX:
        v = field_of(rec, a->key);
        r = v.p && alt_test(v, a->lit, a->litlen, 0);
        break;
    default:
        v = field_of(rec, a->key);
        if (!v.p) {
            r = 0;
            break;
        }
        r = run_regex(a->re, a->jit, v.p, v.len, m->md, m->mc);
        if (r < 0)
            return rule_error(m);
        break;
    }
    return r ^ (a->negate != 0);
}

int slt_atom_eval(const struct slt_atom *a, const struct slt_record *rec, struct slt_matcher *m)
{
    return atom_eval(a, rec, m);
}

static inline __attribute__((always_inline)) int
map_holds(const struct slt_condmap *map, const struct slt_record *rec, struct slt_matcher *m)
{
    const struct slt_atom *a = map->atoms, *end = map->atoms + map->natoms;

    for (; a < end; a++)
        if (!atom_eval(a, rec, m))
            return 0;
    return 1;
}

static inline __attribute__((always_inline)) int
set_holds(const struct slt_condset *cs, const struct slt_record *rec, struct slt_matcher *m)
{
    const struct slt_condmap *map = cs->maps, *end = cs->maps + cs->nmaps;

    for (; map < end; map++)
        if (map_holds(map, rec, m))
            return 1;
    return 0;
}

/* Index of the first map that holds, or -1; *failed: the first failing atom of map 0. */
static long set_explain(const struct slt_condset *cs, const struct slt_record *rec,
                        struct slt_matcher *m, const struct slt_atom **failed)
{
    size_t i, j;

    for (i = 0; i < cs->nmaps; i++) {
        const struct slt_condmap *map = &cs->maps[i];

        for (j = 0; j < map->natoms; j++) {
            if (!atom_eval(&map->atoms[j], rec, m)) {
                if (i == 0 && failed)
                    *failed = &map->atoms[j];
                break;
            }
        }
        if (j == map->natoms)
            return (long)i;
    }
    return -1;
}

static void decide(struct slt_decision *why, enum slt_class cls, const char *stage,
                   const struct slt_condset *cs, long idx, const struct slt_atom *atom)
{
    why->cls = cls;
    why->stage = stage;
    why->atom = atom;
    why->map_idx = idx >= 0 ? (size_t)idx : 0;
    why->map = cs && cs->nmaps ? &cs->maps[why->map_idx] : NULL;
    why->nmaps = cs ? cs->nmaps : 0;
}

/* The hot path: no bookkeeping of why. */
static enum slt_class classify_fast(const struct slt_sli *sli, const struct slt_record *rec,
                                    struct slt_matcher *m)
{
    if (sli->match.present && !set_holds(&sli->match, rec, m))
        return SLT_NOMATCH;
    if (sli->exclude.present && set_holds(&sli->exclude, rec, m))
        return SLT_EXCLUDED;
    if (sli->bad.present && set_holds(&sli->bad, rec, m))
        return SLT_BAD;
    return SLT_GOOD;
}

/*
 * slt_sli_prepare's plan, per stage (match, exclude, bad): absent; a table of the 1000
 * three-digit statuses when every atom tests the status (bit st: the stage holds for status
 * st); the atoms of its only map; or its maps.
 */
enum { STAGE_ABSENT = 0, STAGE_TABLE, STAGE_ONE_MAP, STAGE_MAPS };
struct stage {
    int mode;
    const struct slt_atom *atoms, *atoms_end; /* STAGE_ONE_MAP */
    const struct slt_condset *cs;             /* the set (and the fallback of STAGE_TABLE) */
    unsigned char tab[125];                   /* STAGE_TABLE */
};
struct sli_prep {
    struct stage stage[3];
};

static int status_only(const struct slt_condset *cs)
{
    size_t i, j;

    for (i = 0; i < cs->nmaps; i++)
        for (j = 0; j < cs->maps[i].natoms; j++) {
            int f = cs->maps[i].atoms[j].fast;

            if (f != SLT_FAST_STATUS_RANGE && f != SLT_FAST_STATUS_SET)
                return 0;
        }
    return 1;
}

/* Cheap atoms first: the order of a map does not change its meaning. */
static int atom_cost(const struct slt_atom *a)
{
    return a->fast == SLT_FAST_NONE || a->fast == SLT_FAST_CONTAINS;
}

static void sort_atoms(struct slt_condmap *map)
{
    size_t i, j;

    for (i = 1; i < map->natoms; i++) {
        struct slt_atom a = map->atoms[i];

        for (j = i; j > 0 && atom_cost(&map->atoms[j - 1]) > atom_cost(&a); j--)
            map->atoms[j] = map->atoms[j - 1];
        map->atoms[j] = a;
    }
}

int slt_sli_prepare(struct slt_sli *sli)
{
    struct slt_condset *sets[3] = {&sli->match, &sli->exclude, &sli->bad};
    struct sli_prep *pp;
    struct slt_record rec;
    char txt[4];
    size_t i;
    int k, st;

    /* before the plan, so that the atoms are ordered even when it cannot be allocated */
    for (k = 0; k < 3; k++)
        for (i = 0; i < sets[k]->nmaps; i++)
            sort_atoms(&sets[k]->maps[i]);
    pp = slt_calloc(1, sizeof(*pp));
    if (!pp)
        return SLT_ENOMEM;
    memset(&rec, 0, sizeof(rec));
    for (k = 0; k < 3; k++) {
        struct stage *sg = &pp->stage[k];

        sg->cs = sets[k];
        if (!sets[k]->present) {
            sg->mode = STAGE_ABSENT;
            continue;
        }
        if (sets[k]->nmaps == 1) {
            sg->mode = STAGE_ONE_MAP;
            sg->atoms = sets[k]->maps[0].atoms;
            sg->atoms_end = sets[k]->maps[0].atoms + sets[k]->maps[0].natoms;
        } else {
            sg->mode = STAGE_MAPS;
        }
        if (!sets[k]->nmaps || !status_only(sets[k]))
            continue;
        sg->mode = STAGE_TABLE;
        for (st = 0; st < 1000; st++) {
            /* status atoms read only the status text and value; no regex runs (3 digits) */
            txt[0] = (char)('0' + st / 100);
            txt[1] = (char)('0' + st / 10 % 10);
            txt[2] = (char)('0' + st % 10);
            rec.field[SLT_F_STATUS] = slt_str_make(txt, 3);
            rec.status = st;
            rec.latency_us = -1;
            if (set_holds(sets[k], &rec, NULL))
                sg->tab[st >> 3] |= (unsigned char)(1u << (st & 7));
        }
    }
    slt_free(sli->prep);
    sli->prep = pp;
    return 0;
}

/* The 3-digit status of rec (text and value agree), or -1. */
static inline int status3(const struct slt_record *rec)
{
    struct slt_str v = rec->field[SLT_F_STATUS];
    unsigned d0, d1, d2, st;

    if (v.p && v.len == 1 && v.p[0] == '0' && rec->status == 0)
        return 0; /* "status": 0 (Caddy, Envoy): no response, the 000 of other logs */
    if (!v.p || v.len != 3)
        return -1;
    d0 = (unsigned)(unsigned char)v.p[0] - '0';
    d1 = (unsigned)(unsigned char)v.p[1] - '0';
    d2 = (unsigned)(unsigned char)v.p[2] - '0';
    if (d0 > 9 || d1 > 9 || d2 > 9)
        return -1;
    st = d0 * 100 + d1 * 10 + d2;
    return (int)st == rec->status ? (int)st : -1;
}

/* Whether a present stage holds; *st: the status from status3, read on first use (-2). */
static inline __attribute__((always_inline)) int
stage_holds(const struct stage *sg, int *st, const struct slt_record *rec, struct slt_matcher *m)
{
    const struct slt_atom *a;

    switch (sg->mode) {
    case STAGE_TABLE:
        if (*st == -2)
            *st = status3(rec);
        if (*st >= 0)
            return (sg->tab[*st >> 3] >> (*st & 7)) & 1;
        return set_holds(sg->cs, rec, m);
    case STAGE_ONE_MAP:
        for (a = sg->atoms; a < sg->atoms_end; a++)
            if (!atom_eval(a, rec, m))
                return 0;
        return 1;
    default:
        return set_holds(sg->cs, rec, m);
    }
}

static inline __attribute__((always_inline)) enum slt_class
classify_prepared(const struct slt_sli *sli, const struct slt_record *rec, struct slt_matcher *m,
                  int *st)
{
    const struct stage *sg = ((const struct sli_prep *)sli->prep)->stage;

    if (sg[0].mode != STAGE_ABSENT && !stage_holds(&sg[0], st, rec, m))
        return SLT_NOMATCH;
    if (sg[1].mode != STAGE_ABSENT && stage_holds(&sg[1], st, rec, m))
        return SLT_EXCLUDED;
    if (sg[2].mode != STAGE_ABSENT && stage_holds(&sg[2], st, rec, m))
        return SLT_BAD;
    return SLT_GOOD;
}

void slt_slis_classify(const struct slt_sli *const *slis, size_t n, const struct slt_record *rec,
                       struct slt_matcher *m, unsigned char *cls)
{
    int st = -2;
    size_t i;

    for (i = 0; i < n; i++)
        cls[i] = (unsigned char)(slis[i]->prep ? classify_prepared(slis[i], rec, m, &st)
                                               : classify_fast(slis[i], rec, m));
}

enum slt_class slt_sli_classify(const struct slt_sli *sli, const struct slt_record *rec,
                                struct slt_matcher *m, struct slt_decision *why)
{
    const struct slt_atom *failed = NULL;
    long i;

    if (!why) {
        int st = -2;

        return sli->prep ? classify_prepared(sli, rec, m, &st) : classify_fast(sli, rec, m);
    }
    if (sli->match.present && set_explain(&sli->match, rec, m, &failed) < 0) {
        decide(why, SLT_NOMATCH, "match", &sli->match, 0, failed);
        return SLT_NOMATCH;
    }
    if (sli->exclude.present && (i = set_explain(&sli->exclude, rec, m, NULL)) >= 0) {
        decide(why, SLT_EXCLUDED, "exclude", &sli->exclude, i, NULL);
        return SLT_EXCLUDED;
    }
    if (sli->bad.present && (i = set_explain(&sli->bad, rec, m, NULL)) >= 0) {
        decide(why, SLT_BAD, "bad", &sli->bad, i, NULL);
        return SLT_BAD;
    }
    decide(why, SLT_GOOD, "default", NULL, -1, NULL);
    return SLT_GOOD;
}

/* Appends printf output to buf at *pos, truncating safely. */
static void put(char *buf, size_t len, size_t *pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t len, size_t *pos, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (*pos >= len)
        return;
    va_start(ap, fmt);
    n = vsnprintf(buf + *pos, len - *pos, fmt, ap);
    va_end(ap);
    if (n > 0)
        *pos = *pos + (size_t)n < len ? *pos + (size_t)n : len - 1;
}

/* Field text quoted, with control and non-ASCII bytes escaped and long values cut. */
static void put_quoted(char *buf, size_t len, size_t *pos, struct slt_str v)
{
    size_t i, n = v.len > 80 ? 80 : v.len;

    put(buf, len, pos, "'");
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v.p[i];

        if (c < 0x20 || c >= 0x7f || c == '\'' || c == '\\')
            put(buf, len, pos, "\\x%02x", c);
        else
            put(buf, len, pos, "%c", c);
    }
    put(buf, len, pos, "%s'", v.len > n ? "..." : "");
}

static void put_us(char *buf, size_t len, size_t *pos, int64_t us)
{
    if (us % 1000 == 0)
        put(buf, len, pos, "%lldms", (long long)(us / 1000));
    else
        put(buf, len, pos, "%.3fms", (double)us / 1000.0);
}

/* Describes how atom a relates to rec: holds says whether its (negated) test held. */
static void put_atom(char *buf, size_t len, size_t *pos, const struct slt_atom *a,
                     const struct slt_record *rec, int holds)
{
    struct slt_str v;
    int test = a->negate ? !holds : holds;

    if (a->negate)
        put(buf, len, pos, "not: ");
    switch (a->kind) {
    case SLT_ATOM_REGEX:
        v = field_of(rec, a->key);
        if (!v.p) {
            put(buf, len, pos, "%s is absent, so it does not match '%s'", a->field, a->src);
            return;
        }
        put(buf, len, pos, "%s ", a->field);
        put_quoted(buf, len, pos, v);
        put(buf, len, pos, " %s '%s'", test ? "matches" : "does not match", a->src);
        return;
    case SLT_ATOM_STATUS_SET:
        if (!rec->field[SLT_F_STATUS].p) {
            put(buf, len, pos, "status is absent, so it is not in %s", a->src);
            return;
        }
        put(buf, len, pos, "status ");
        put_quoted(buf, len, pos, rec->field[SLT_F_STATUS]);
        put(buf, len, pos, " %s %s", test ? "is in" : "is not in", a->src);
        return;
    case SLT_ATOM_STATUS_RANGE:
        if (!rec->field[SLT_F_STATUS].p) {
            put(buf, len, pos, "status is absent, so it is not in %s", a->src);
            return;
        }
        put(buf, len, pos, "status %03d %s %s", rec->status, test ? "is in" : "is not in", a->src);
        return;
    case SLT_ATOM_LATENCY_OVER:
    case SLT_ATOM_LATENCY_UNDER:
        if (rec->latency_us < 0) {
            put(buf, len, pos, "latency is absent, so it is not %s %s",
                a->kind == SLT_ATOM_LATENCY_OVER ? "over" : "under", a->src);
            return;
        }
        put(buf, len, pos, "latency ");
        put_us(buf, len, pos, rec->latency_us);
        put(buf, len, pos, " is %s%s %s", test ? "" : "not ",
            a->kind == SLT_ATOM_LATENCY_OVER ? "over" : "under", a->src);
        return;
    }
}

void slt_decision_format(const struct slt_decision *d, const struct slt_record *rec, char *buf,
                         size_t len)
{
    size_t pos = 0, i;

    if (!len)
        return;
    buf[0] = '\0';
    put(buf, len, &pos, "%s: ", slt_class_name(d->cls));
    if (d->cls == SLT_UNPARSED) {
        put(buf, len, &pos, "%s", rec && rec->detail ? rec->detail : "the line does not parse");
        return;
    }
    if (d->cls == SLT_GOOD) {
        put(buf, len, &pos, "no exclude or bad condition held");
        return;
    }
    if (d->cls == SLT_NOMATCH) {
        if (d->atom)
            put_atom(buf, len, &pos, d->atom, rec, 0);
        else
            put(buf, len, &pos, "no match condition held");
        put(buf, len, &pos, " (match[0]");
        if (d->nmaps > 1)
            put(buf, len, &pos, "; none of the %zu match maps held", d->nmaps);
        put(buf, len, &pos, ")");
        return;
    }
    if (d->map && d->map->natoms) {
        for (i = 0; i < d->map->natoms; i++) {
            if (i)
                put(buf, len, &pos, " and ");
            put_atom(buf, len, &pos, &d->map->atoms[i], rec, 1);
        }
    } else {
        put(buf, len, &pos, "the empty condition always holds");
    }
    put(buf, len, &pos, " (%s[%zu])", d->stage, d->map_idx);
}
