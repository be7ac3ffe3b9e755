/*
 * User formats described by a PCRE2 regex with named groups. A group named like a canonical
 * field (time, status, latency, method, path, host, client, ...) fills it; any other named
 * group becomes a format-specific field with a key >= SLT_F__COUNT. The regex is compiled
 * and JIT-compiled once; each parser has its own match data, and a match context carries the
 * match and depth limits so a catastrophic pattern makes the line unparsed (match_limit)
 * instead of hanging.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <string.h>

#include "builtin_internal.h"
#include "format_internal.h"

#define MAX_EXTRAS 64

struct regex_impl {
    pcre2_code *re;
    pcre2_match_context *mc;
    uint32_t ncap;  /* capture groups */
    int *group_key; /* [ncap + 1]: the field key of each group, -1 for unnamed */
    struct canon_group {
        uint32_t ovi; /* 2 * the number of a group named like a canonical field */
        uint32_t dup; /* an earlier group has the same name: fill only if it did not */
        size_t key;   /* < SLT_F__COUNT */
    } * canon;
    size_t ncanon;
    char **extra_names; /* names of the non-canonical groups, key SLT_F__COUNT + i */
    size_t nextras;
    char *time_layout; /* NULL: auto */
    int jit;           /* the pattern is JIT-compiled: use pcre2_jit_match */
};

/* Per-parser state: match data, and the last time text parsed (lines of one second share it). */
struct regex_state {
    pcre2_match_data *md;
    size_t time_len; /* 0: nothing cached */
    char time_text[64];
    int64_t time;
    int32_t time_frac_us;
};

static void regex_free(struct slt_format *fmt)
{
    struct regex_impl *ri = fmt->impl;
    size_t i;

    if (!ri)
        return;
    pcre2_code_free(ri->re);
    pcre2_match_context_free(ri->mc);
    slt_free(ri->group_key);
    slt_free(ri->canon);
    for (i = 0; i < ri->nextras; i++)
        slt_free(ri->extra_names[i]);
    slt_free(ri->extra_names);
    slt_free(ri->time_layout);
    slt_free(ri);
    fmt->impl = NULL;
}

static int regex_field_key(const struct slt_format *fmt, const char *name, size_t len)
{
    const struct regex_impl *ri = fmt->impl;
    size_t i;

    for (i = 0; i < ri->nextras; i++)
        if (strlen(ri->extra_names[i]) == len && memcmp(ri->extra_names[i], name, len) == 0)
            return SLT_F__COUNT + (int)i;
    return -1;
}

/*
 * A group that captured a quoted value ("0.012", as log_format '"$upstream_response_time"'
 * writes it, taken by a group such as (?<upstream_latency>\S+)) stands for the text inside
 * the quotes, so the value is read rather than lost.
 */
static inline struct slt_str unquote(struct slt_str s)
{
    if (s.len >= 2 && s.p[0] == '"' && s.p[s.len - 1] == '"') {
        s.p++;
        s.len -= 2;
    }
    return s;
}

/* The text of the first group with this key that took part in the match. */
static struct slt_str regex_get(const struct slt_record *rec, int key)
{
    const struct regex_impl *ri = rec->fmt->impl;
    const PCRE2_SIZE *ov;
    uint32_t g;

    if (!rec->priv || !rec->line)
        return SLT_STR_NULL;
    ov = pcre2_get_ovector_pointer(((const struct regex_state *)rec->priv)->md);
    for (g = 1; g <= ri->ncap; g++) {
        if (ri->group_key[g] == key && ov[2 * g] != PCRE2_UNSET)
            return unquote(slt_str_make(rec->line + ov[2 * g], ov[2 * g + 1] - ov[2 * g]));
    }
    return SLT_STR_NULL;
}

static int regex_parser_init(const struct slt_format *fmt, struct slt_parser *p)
{
    const struct regex_impl *ri = fmt->impl;
    struct regex_state *st = slt_calloc(1, sizeof(*st));

    if (!st)
        return SLT_ENOMEM;
    st->md = pcre2_match_data_create_from_pattern(ri->re, NULL);
    if (!st->md) {
        slt_free(st);
        return SLT_ENOMEM;
    }
    p->state = st;
    return 0;
}

static void regex_parser_release(struct slt_parser *p)
{
    struct regex_state *st = p->state;

    if (st)
        pcre2_match_data_free(st->md);
    slt_free(st);
    p->state = NULL;
}

static int unparsed(struct slt_record *rec, int reason, const char *detail, size_t column)
{
    rec->detail = detail;
    rec->column = column;
    return reason;
}

static int parse_time_text(const struct regex_impl *ri, struct slt_str t, struct slt_record *rec)
{
    if (ri->time_layout)
        return slt_time_parse_layout(ri->time_layout, t.p, t.len, &rec->time, &rec->time_frac_us);
    if (slt_time_parse_clf(t.p, t.len, &rec->time, &rec->time_frac_us) == 0 ||
        slt_time_parse_iso8601(t.p, t.len, &rec->time, &rec->time_frac_us) == 0 ||
        slt_time_parse_epoch(t.p, t.len, &rec->time, &rec->time_frac_us) == 0)
        return 0;
    return SLT_EPARSE;
}

/* The time of rec from its text, through a one-entry cache of the last text that parsed. */
static int parse_time(const struct regex_impl *ri, struct regex_state *st, struct slt_str t,
                      struct slt_record *rec)
{
    if (st->time_len && t.len == st->time_len && memcmp(t.p, st->time_text, t.len) == 0) {
        rec->time = st->time;
        rec->time_frac_us = st->time_frac_us;
        return 0;
    }
    if (parse_time_text(ri, t, rec) < 0)
        return SLT_EPARSE;
    if (t.len <= sizeof(st->time_text)) {
        memcpy(st->time_text, t.p, t.len);
        st->time_len = t.len;
        st->time = rec->time;
        st->time_frac_us = rec->time_frac_us;
    }
    return 0;
}

static int regex_parse(const struct slt_format *fmt, struct slt_parser *p, const char *line,
                       size_t len, struct slt_record *rec)
{
    const struct regex_impl *ri = fmt->impl;
    struct regex_state *rs = p->state;
    pcre2_match_data *md = rs->md;
    const PCRE2_SIZE *ov;
    struct slt_str *f;
    const struct canon_group *cg, *cg_end;
    int rc, st;

    if (ri->jit)
        rc = pcre2_jit_match(ri->re, (PCRE2_SPTR)line, len, 0, 0, md, ri->mc);
    else
        rc = pcre2_match(ri->re, (PCRE2_SPTR)line, len, 0, 0, md, ri->mc);
    if (rc == PCRE2_ERROR_NOMATCH)
        return unparsed(rec, SLT_UP_NO_MATCH, "the line does not match the format's regex", 0);
    if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
        rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT)
        return unparsed(rec, SLT_UP_MATCH_LIMIT, "the format's regex hit its match limit", 0);
    if (rc < 0)
        return unparsed(rec, SLT_UP_SYNTAX, "the format's regex failed on the line", 0);
    ov = pcre2_get_ovector_pointer(md);
    rec->priv = rs;
    f = rec->field;
    /* the first set group of each canonical name fills the field */
    for (cg = ri->canon, cg_end = ri->canon + ri->ncanon; cg < cg_end; cg++) {
        PCRE2_SIZE a = ov[cg->ovi];
        struct slt_str *fk = f + cg->key;

        if (a == PCRE2_UNSET || (cg->dup && fk->p))
            continue;
        *fk = unquote(slt_str_make(line + a, ov[cg->ovi + 1] - a));
    }
    /* An empty time, status or latency is the same as none. */
    if (f[SLT_F_STATUS].p && f[SLT_F_STATUS].len == 0)
        f[SLT_F_STATUS] = SLT_STR_NULL;
    if (f[SLT_F_LATENCY].p && f[SLT_F_LATENCY].len == 0)
        f[SLT_F_LATENCY] = SLT_STR_NULL;
    if (f[SLT_F_REQUEST].p && !f[SLT_F_METHOD].p && !f[SLT_F_PATH].p)
        slt__split_request(rec, f[SLT_F_REQUEST].p, f[SLT_F_REQUEST].len);
    if (!f[SLT_F_TIME].p || f[SLT_F_TIME].len == 0)
        return unparsed(rec, SLT_UP_TIME, "the time group is empty", 0);
    if (parse_time(ri, rs, f[SLT_F_TIME], rec) < 0)
        return unparsed(rec, SLT_UP_TIME, "the time does not parse",
                        (size_t)(f[SLT_F_TIME].p - line));
    if (f[SLT_F_STATUS].p) {
        st = slt__status3(f[SLT_F_STATUS].p, f[SLT_F_STATUS].len);
        if (st < 0)
            return unparsed(rec, SLT_UP_STATUS, "the status is not a 3-digit number",
                            (size_t)(f[SLT_F_STATUS].p - line));
        rec->status = st;
    }
    if (f[SLT_F_LATENCY].p && slt_parse_latency(f[SLT_F_LATENCY].p, f[SLT_F_LATENCY].len,
                                                fmt->latency_unit, &rec->latency_us) < 0)
        return unparsed(rec, SLT_UP_LATENCY, "the latency does not parse",
                        (size_t)(f[SLT_F_LATENCY].p - line));
    if (f[SLT_F_UPSTREAM_LATENCY].p)
        (void)slt__upstream_scan(f[SLT_F_UPSTREAM_LATENCY].p, f[SLT_F_UPSTREAM_LATENCY].len,
                                 fmt->latency_unit, &rec->upstream_us);
    return SLT_UP_OK;
}

static const struct slt_format_ops regex_ops = {
    .parse = regex_parse,
    .field_key = regex_field_key,
    .get = regex_get,
    .parser_init = regex_parser_init,
    .parser_release = regex_parser_release,
    .free = regex_free,
};

/* Fill group_key and extra_names from the pattern's name table. */
static int map_groups(struct slt_format *fmt, struct regex_impl *ri, const char *name, char *err,
                      size_t errlen)
{
    uint32_t count = 0, esize = 0, i;
    PCRE2_SPTR table = NULL;
    int has_time = 0;

    pcre2_pattern_info(ri->re, PCRE2_INFO_CAPTURECOUNT, &ri->ncap);
    pcre2_pattern_info(ri->re, PCRE2_INFO_NAMECOUNT, &count);
    pcre2_pattern_info(ri->re, PCRE2_INFO_NAMEENTRYSIZE, &esize);
    pcre2_pattern_info(ri->re, PCRE2_INFO_NAMETABLE, &table);
    ri->group_key = slt_malloc((ri->ncap + 1) * sizeof(int));
    if (!ri->group_key)
        return SLT_ENOMEM;
    for (i = 0; i <= ri->ncap; i++)
        ri->group_key[i] = -1;
    for (i = 0; i < count; i++) {
        PCRE2_SPTR e = table + (size_t)i * esize;
        uint32_t g = ((uint32_t)e[0] << 8) | e[1];
        const char *gname = (const char *)e + 2;
        int key = slt_field_from_name(gname, strlen(gname));

        if (key < 0) {
            size_t j;

            for (j = 0; j < ri->nextras; j++)
                if (!strcmp(ri->extra_names[j], gname))
                    break;
            if (j == ri->nextras) {
                char **names;

                if (ri->nextras == MAX_EXTRAS) {
                    snprintf(err, errlen, "format '%s': more than %d named groups", name,
                             MAX_EXTRAS);
                    return SLT_ECONFIG;
                }
                names = slt_realloc(ri->extra_names, (ri->nextras + 1) * sizeof(char *));
                if (!names)
                    return SLT_ENOMEM;
                ri->extra_names = names;
                if (!(names[ri->nextras] = slt_strdup(gname)))
                    return SLT_ENOMEM;
                ri->nextras++;
            }
            key = SLT_F__COUNT + (int)j;
        }
        if (key == SLT_F_TIME)
            has_time = 1;
        if (key == SLT_F_LATENCY)
            fmt->has_latency = 1;
        if (g <= ri->ncap)
            ri->group_key[g] = key;
    }
    ri->canon = slt_malloc((ri->ncap + 1) * sizeof(*ri->canon));
    if (!ri->canon)
        return SLT_ENOMEM;
    for (i = 1; i <= ri->ncap; i++) {
        int key = ri->group_key[i];
        size_t j;

        if (key < 0 || key >= (int)SLT_F__COUNT)
            continue;
        ri->canon[ri->ncanon].ovi = 2 * i;
        ri->canon[ri->ncanon].key = (size_t)key;
        ri->canon[ri->ncanon].dup = 0;
        for (j = 0; j < ri->ncanon; j++)
            if (ri->canon[j].key == (size_t)key)
                ri->canon[ri->ncanon].dup = 1;
        ri->ncanon++;
    }
    if (!has_time) {
        snprintf(err, errlen, "format '%s': the regex has no named group 'time' (?<time>...)",
                 name);
        return SLT_ECONFIG;
    }
    return 0;
}

int slt__regex_format_new(const struct slt_format_spec *spec, struct slt_format **out, char *err,
                          size_t errlen)
{
    struct slt_format *fmt;
    struct regex_impl *ri;
    PCRE2_SIZE off;
    size_t len = strlen(spec->regex);
    int ec, rc;

    *out = NULL;
    if (len > 8192) {
        snprintf(err, errlen, "format '%s': regex is too long (%zu bytes, max 8192)", spec->name,
                 len);
        return SLT_ECONFIG;
    }
    fmt = slt_calloc(1, sizeof(*fmt));
    ri = slt_calloc(1, sizeof(*ri));
    if (!fmt || !ri) {
        slt_free(fmt);
        slt_free(ri);
        return SLT_ENOMEM;
    }
    fmt->ops = &regex_ops;
    fmt->impl = ri;
    fmt->latency_unit = spec->latency_unit;
    fmt->name = slt_strdup(spec->name);
    if (!fmt->name)
        goto nomem;
    if (spec->time_layout && !(ri->time_layout = slt_strdup(spec->time_layout)))
        goto nomem;
    ri->re = pcre2_compile((PCRE2_SPTR)spec->regex, len, 0, &ec, &off, NULL);
    if (!ri->re) {
        PCRE2_UCHAR msg[256];

        pcre2_get_error_message(ec, msg, sizeof(msg));
        snprintf(err, errlen, "format '%s': bad regex at offset %zu: %s", spec->name, (size_t)off,
                 (const char *)msg);
        rc = SLT_ECONFIG;
        goto fail;
    }
    /* No JIT on this machine is not an error: the interpreter honours the same limits. */
    ri->jit = pcre2_jit_compile(ri->re, PCRE2_JIT_COMPLETE) == 0;
    ri->mc = pcre2_match_context_create(NULL);
    if (!ri->mc)
        goto nomem;
    pcre2_set_match_limit(ri->mc, spec->match_limit ? spec->match_limit : SLT_DEFAULT_MATCH_LIMIT);
    pcre2_set_depth_limit(ri->mc, spec->depth_limit ? spec->depth_limit : SLT_DEFAULT_DEPTH_LIMIT);
    rc = map_groups(fmt, ri, spec->name, err, errlen);
    if (rc < 0)
        goto fail;
    *out = fmt;
    return 0;
nomem:
    snprintf(err, errlen, "out of memory");
    rc = SLT_ENOMEM;
fail:
    slt_format_free(fmt);
    return rc;
}
