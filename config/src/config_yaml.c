/*
 * The walk over libyaml's node tree: "file:line:col" failures, the bounds checked on libyaml's
 * events before the document is built, and the setting of a struct from a YAML map by the key
 * table (each value parsed and checked by its key's type, defaults, unknown and missing keys).
 * The sections' own rules are in the other config_*.c files.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config_load.h"

static int vfail(struct ctx *c, const yaml_mark_t *m, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static int vfail(struct ctx *c, const yaml_mark_t *m, const char *fmt, va_list ap)
{
    int len;

    if (!c->errlen)
        return SLT_ECONFIG;
    len = snprintf(c->err, c->errlen, "%s:%zu:%zu: ", c->file, m ? m->line + 1 : (size_t)1,
                   m ? m->column + 1 : (size_t)1);
    if (len > 0 && (size_t)len < c->errlen)
        vsnprintf(c->err + len, c->errlen - (size_t)len, fmt, ap);
    return SLT_ECONFIG;
}

/* "file:line:col: message" at node n (NULL: 1:1); returns SLT_ECONFIG. */
int slt__config_fail(struct ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vfail(c, n ? &n->start_mark : NULL, fmt, ap);
    va_end(ap);
    return rc;
}

static int fail_at(struct ctx *c, const yaml_mark_t *m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_at(struct ctx *c, const yaml_mark_t *m, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vfail(c, m, fmt, ap);
    va_end(ap);
    return rc;
}

int slt__config_nomem(struct ctx *c)
{
    if (c->errlen)
        snprintf(c->err, c->errlen, "%s: out of memory", c->file);
    return SLT_ENOMEM;
}

static const char *type_desc(const struct slt__config_key *k)
{
    switch (k->type) {
    case SLT_KT_STR:
        return "a string";
    case SLT_KT_STRLIST:
        return "a string or a list of strings";
    case SLT_KT_DUR:
        return "a duration like 300ms, 2s, 5m or 28d";
    case SLT_KT_SIZE:
        return "a size like 4096, 64KiB or 256MiB";
    case SLT_KT_UINT:
        return "a whole number";
    case SLT_KT_PERCENT:
        return "a number";
    case SLT_KT_ENUM:
        return "one of";
    case SLT_KT_COND:
        return "a map of conditions or a list of such maps";
    case SLT_KT_MAP:
        return "a map";
    case SLT_KT_LIST:
        return "a list of maps";
    }
    return "?";
}

static void store_uint(void *dst, size_t size, uint64_t v)
{
    if (size == sizeof(uint32_t)) {
        uint32_t x = (uint32_t)v;
        memcpy(dst, &x, sizeof(x));
    } else if (size == sizeof(uint64_t)) {
        memcpy(dst, &v, sizeof(v));
    } else if (size == sizeof(int)) {
        int x = (int)v;
        memcpy(dst, &x, sizeof(x));
    } else {
        SLT_BUG("config key of unexpected size");
    }
}

void slt__config_free_strlist(char **list, size_t n)
{
    size_t i;

    for (i = 0; list && i < n; i++)
        slt_free(list[i]);
    slt_free(list);
}

/* The key's own check of a NUL-terminated string value. */
static int check_str(struct ctx *c, const struct slt__config_key *k, const char *s,
                     const yaml_node_t *n, const char *what)
{
    char msg[128];

    if (!k->check || k->check(s, msg, sizeof(msg)) == 0)
        return 0;
    if (k->check == slt__config_check_redis) /* may hold a password: do not echo it */
        return slt__config_fail(c, n, "%s: '%s' %s", what, k->name, msg);
    return slt__config_fail(c, n, "%s: '%s' %s, got '%s'", what, k->name, msg, s);
}

/*
 * Set key k in base from the scalar text s (n is where it was written, NULL for a default).
 * Lists are handled by set_value.
 */
static int set_text(struct ctx *c, const struct slt__config_key *k, char *base, const char *s,
                    size_t len, const yaml_node_t *n, const char *what)
{
    char *dst = base + k->off;
    char lo[32], hi[32];
    int64_t v = 0;
    int rc;

    if (len > MAX_STR)
        return slt__config_fail(c, n, "%s: '%s' is too long (%zu bytes, max %d)", what, k->name,
                                len, MAX_STR);
    if (memchr(s, '\0', len))
        return slt__config_fail(c, n, "%s: '%s' holds a NUL byte", what, k->name);
    switch (k->type) {
    case SLT_KT_STR: {
        char *copy, *old;

        if ((rc = check_str(c, k, s, n, what)) < 0)
            return rc;
        copy = slt_strndup(s, len);
        if (!copy)
            return slt__config_nomem(c);
        memcpy(&old, dst, sizeof(old));
        slt_free(old);
        memcpy(dst, &copy, sizeof(copy));
        return 0;
    }
    case SLT_KT_STRLIST: {
        char **list, **old;
        size_t one = 1, oldn;

        if ((rc = check_str(c, k, s, n, what)) < 0)
            return rc;
        list = slt_calloc(1, sizeof(char *));
        if (!list || !(list[0] = slt_strndup(s, len))) {
            slt_free(list);
            return slt__config_nomem(c);
        }
        memcpy(&old, dst, sizeof(old));
        memcpy(&oldn, base + k->off2, sizeof(oldn));
        slt__config_free_strlist(old, oldn);
        memcpy(dst, &list, sizeof(list));
        memcpy(base + k->off2, &one, sizeof(one));
        return 0;
    }
    case SLT_KT_DUR: {
        int64_t us;

        if (slt_parse_duration_us(s, len, 0, &us) < 0)
            return slt__config_fail(
                c, n, "%s: bad duration '%.*s' for '%s' (use e.g. 300ms, 2s, 5m, 28d)", what,
                (int)len, s, k->name);
        v = us / k->unit_us;
        if (us % k->unit_us) {
            slt__config_fmt_dur(lo, sizeof(lo), k->unit_us);
            return slt__config_fail(c, n, "%s: '%s' must be a whole number of %s, got '%.*s'", what,
                                    k->name, lo + 1, (int)len, s);
        }
        break;
    }
    case SLT_KT_SIZE: {
        uint64_t u;

        if (slt_parse_size(s, len, &u) < 0)
            return slt__config_fail(c, n,
                                    "%s: bad size '%.*s' for '%s' (use e.g. 4096, 64KiB, 256MiB)",
                                    what, (int)len, s, k->name);
        if (u > (uint64_t)INT64_MAX)
            u = (uint64_t)INT64_MAX;
        v = (int64_t)u;
        break;
    }
    case SLT_KT_UINT: {
        size_t i;

        for (i = 0; i < len; i++) {
            if (s[i] < '0' || s[i] > '9' || i >= 18)
                break;
            v = v * 10 + (s[i] - '0');
        }
        if (len == 0 || i != len)
            return slt__config_fail(c, n, "%s: '%s' must be a whole number, got '%.*s'", what,
                                    k->name, (int)len, s);
        break;
    }
    case SLT_KT_PERCENT: {
        char buf[64], *end;
        double d;

        if (len == 0 || len >= sizeof(buf))
            return slt__config_fail(c, n, "%s: '%s' must be a number, got '%.*s'", what, k->name,
                                    (int)len, s);
        memcpy(buf, s, len);
        buf[len] = '\0';
        errno = 0;
        d = strtod(buf, &end);
        if (*end || end == buf || errno || !isfinite(d))
            return slt__config_fail(c, n, "%s: '%s' must be a number, got '%s'", what, k->name,
                                    buf);
        if (!(d > 0 && d < 100))
            return slt__config_fail(c, n,
                                    "%s: '%s' must be between 0 and 100 (both excluded), got '%s'",
                                    what, k->name, buf);
        memcpy(dst, &d, sizeof(d));
        return 0;
    }
    case SLT_KT_ENUM: {
        const char *p = k->choices;
        int idx = 0;

        while (*p) {
            size_t l = strcspn(p, "|");

            if (l == len && !memcmp(p, s, len)) {
                memcpy(dst, &idx, sizeof(idx));
                return 0;
            }
            p += l;
            if (*p)
                p++;
            idx++;
        }
        return slt__config_fail(c, n, "%s: '%s' must be one of %s, got '%.*s'", what, k->name,
                                k->choices, (int)len, s);
    }
    case SLT_KT_COND:
    case SLT_KT_MAP:
    case SLT_KT_LIST:
        SLT_BUG("a map from text");
    }
    if (v < k->lo || (k->hi && v > k->hi)) {
        slt__config_fmt_bound(k, k->lo, lo, sizeof(lo));
        slt__config_fmt_bound(k, k->hi, hi, sizeof(hi));
        return slt__config_fail(c, n, "%s: '%s' must be between %s and %s, got '%.*s'", what,
                                k->name, lo, hi, (int)len, s);
    }
    if (k->type == SLT_KT_DUR)
        memcpy(dst, &v, sizeof(v));
    else
        store_uint(dst, k->size, (uint64_t)v);
    return 0;
}

static int set_value(struct ctx *c, const struct slt__config_key *k, char *base,
                     const yaml_node_t *n, const char *what)
{
    if (k->type == SLT_KT_COND) {
        memcpy(base + k->off, &n, sizeof(n));
        return 0;
    }
    if (k->type == SLT_KT_MAP) {
        if (n->type != YAML_MAPPING_NODE)
            return slt__config_fail(c, n, "%s: '%s' must be a map, got %s", what, k->name,
                                    kind_name(n));
        memcpy(base + k->off, &n, sizeof(n));
        return 0;
    }
    if (k->type == SLT_KT_LIST) {
        if (n->type != YAML_SEQUENCE_NODE)
            return slt__config_fail(c, n, "%s: '%s' must be a list, got %s", what, k->name,
                                    kind_name(n));
        memcpy(base + k->off, &n, sizeof(n));
        return 0;
    }
    if (k->type == SLT_KT_STRLIST && n->type == YAML_SEQUENCE_NODE) {
        size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start), i;
        char **list, **old;
        size_t oldn;

        if (cnt > (size_t)k->hi)
            return slt__config_fail(c, n, "%s: '%s' has too many entries (%zu, max %lld)", what,
                                    k->name, cnt, (long long)k->hi);
        list = slt_calloc(cnt ? cnt : 1, sizeof(char *));
        if (!list)
            return slt__config_nomem(c);
        for (i = 0; i < cnt; i++) {
            const yaml_node_t *it = node(c, n->data.sequence.items.start[i]);

            if (!it || it->type != YAML_SCALAR_NODE || is_null(it)) {
                slt__config_free_strlist(list, i);
                return slt__config_fail(c, it ? it : n,
                                        "%s: entries of '%s' must be strings, got %s", what,
                                        k->name, kind_name(it));
            }
            if (it->data.scalar.length > MAX_STR ||
                memchr(sval(it), '\0', it->data.scalar.length)) {
                slt__config_free_strlist(list, i);
                return slt__config_fail(
                    c, it, "%s: bad entry in '%s' (too long or holds a NUL byte)", what, k->name);
            }
            if (check_str(c, k, sval(it), it, what) < 0) {
                slt__config_free_strlist(list, i);
                return SLT_ECONFIG;
            }
            list[i] = slt_strndup(sval(it), it->data.scalar.length);
            if (!list[i]) {
                slt__config_free_strlist(list, i);
                return slt__config_nomem(c);
            }
        }
        memcpy(&old, base + k->off, sizeof(old));
        memcpy(&oldn, base + k->off2, sizeof(oldn));
        slt__config_free_strlist(old, oldn);
        memcpy(base + k->off, &list, sizeof(list));
        memcpy(base + k->off2, &cnt, sizeof(cnt));
        return 0;
    }
    if (n->type != YAML_SCALAR_NODE || is_null(n)) {
        if (k->type == SLT_KT_ENUM)
            return slt__config_fail(c, n, "%s: '%s' must be one of %s, got %s", what, k->name,
                                    k->choices, kind_name(n));
        return slt__config_fail(c, n, "%s: '%s' must be %s, got %s", what, k->name, type_desc(k),
                                kind_name(n));
    }
    return set_text(c, k, base, sval(n), n->data.scalar.length, n, what);
}

int slt__config_apply_defaults(struct ctx *c, const char *section, void *base)
{
    size_t i, nkeys;
    const struct slt__config_key *keys = slt__config_keys(&nkeys);
    int rc;

    for (i = 0; i < nkeys; i++) {
        if (strcmp(keys[i].section, section) || !keys[i].def)
            continue;
        rc = set_text(c, &keys[i], base, keys[i].def, strlen(keys[i].def), NULL, section);
        if (rc == SLT_ENOMEM)
            return rc;
        if (rc < 0)
            SLT_BUG("a config default does not parse");
    }
    return 0;
}

/* Set base from map n by the keys of section; what names the map in messages. */
int slt__config_load_map(struct ctx *c, const yaml_node_t *n, const char *section, void *base,
                         const char *what)
{
    unsigned char seen[SLT__CONFIG_MAX_KEYS] = {0};
    const yaml_node_pair_t *p;
    size_t i, nkeys;
    const struct slt__config_key *keys = slt__config_keys(&nkeys);
    int rc;

    if (n->type != YAML_MAPPING_NODE)
        return slt__config_fail(c, n, "%s must be a map, got %s", what, kind_name(n));
    for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node(c, p->key), *v = node(c, p->value);

        if (!k || k->type != YAML_SCALAR_NODE)
            return slt__config_fail(c, k, "%s: keys must be strings, got %s", what, kind_name(k));
        for (i = 0; i < nkeys; i++)
            if (!strcmp(keys[i].section, section) && !strcmp(keys[i].name, sval(k)))
                break;
        if (i == nkeys)
            return slt__config_fail(c, k, "unknown key '%s' in %s", sval(k), what);
        if (seen[i])
            return slt__config_fail(c, k, "duplicate key '%s' in %s", sval(k), what);
        seen[i] = 1;
        if (!v)
            return slt__config_fail(c, k, "%s: '%s' has no value", what, sval(k));
        /* `key:` or `key: ~` keeps the default; a required key needs a value. */
        if (is_null(v) && (keys[i].flags & SLT_KEY_REQUIRED))
            return slt__config_fail(c, k, "%s: '%s' needs a value", what, sval(k));
        if (is_null(v))
            continue;
        if ((rc = set_value(c, &keys[i], base, v, what)) < 0)
            return rc;
    }
    for (i = 0; i < nkeys; i++)
        if (!seen[i] && (keys[i].flags & SLT_KEY_REQUIRED) && !strcmp(keys[i].section, section))
            return slt__config_fail(c, n, "%s: missing key '%s'", what, keys[i].name);
    return 0;
}

/* "sli 'x'" when the map has a usable name, else "sli #3". */
void slt__config_item_what(struct ctx *c, const yaml_node_t *n, const char *singular, size_t idx,
                           char *buf, size_t len)
{
    const yaml_node_t *name = map_get(c, n, "name");

    if (name && name->type == YAML_SCALAR_NODE && !is_null(name) &&
        name->data.scalar.length <= MAX_NAME && !memchr(sval(name), '\0', name->data.scalar.length))
        snprintf(buf, len, "%s '%s'", singular, sval(name));
    else
        snprintf(buf, len, "%s #%zu", singular, idx + 1);
}

int slt__config_check_name(struct ctx *c, const yaml_node_t *map, const char *what,
                           const char *name)
{
    size_t i, len = strlen(name);

    for (i = 0; i < len; i++) {
        char ch = name[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            break;
    }
    if (len == 0 || len > MAX_NAME || i != len)
        return slt__config_fail(c, map_get(c, map, "name"),
                                "%s: bad name '%s' (use 1 to %d letters, digits, '.', '_' or '-')",
                                what, name, MAX_NAME);
    return 0;
}

/* The items of a list section; NULL n (absent or empty) gives none. */
int slt__config_section_items(struct ctx *c, const yaml_node_t *n, const char *section, size_t *cnt)
{
    *cnt = 0;
    if (!n || is_null(n))
        return 0;
    if (n->type != YAML_SEQUENCE_NODE)
        return slt__config_fail(c, n, "'%s' must be a list, got %s", section, kind_name(n));
    *cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (*cnt > MAX_ITEMS)
        return slt__config_fail(c, n, "'%s' has too many entries (%zu, max %d)", section, *cnt,
                                MAX_ITEMS);
    return 0;
}

int slt__config_yaml_fail(struct ctx *c, yaml_parser_t *parser)
{
    if (parser->error == YAML_MEMORY_ERROR)
        return slt__config_nomem(c);
    if (c->errlen) {
        const yaml_mark_t *m = &parser->problem_mark;

        snprintf(c->err, c->errlen, "%s:%zu:%zu: invalid yaml: %s%s%s", c->file, m->line + 1,
                 m->column + 1, parser->problem ? parser->problem : "syntax error",
                 parser->context ? " " : "", parser->context ? parser->context : "");
    }
    return SLT_ECONFIG;
}

/*
 * A first pass over libyaml's events that bounds nesting, size and anchors before the
 * document is built: libyaml's scanner is quadratic in the nesting depth of flow collections
 * and its loader in the number of anchors, so a hostile 1 MiB file could otherwise take
 * minutes. The pass stops at the first event past a bound.
 */
int slt__config_yaml_precheck(struct ctx *c, const char *yaml, size_t len)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    size_t nev = 0, nanchors = 0;
    int depth = 0, rc = 0, done = 0;

    if (!yaml_parser_initialize(&parser))
        return slt__config_nomem(c);
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    while (!done && rc == 0) {
        const unsigned char *anchor = NULL;

        if (!yaml_parser_parse(&parser, &ev)) {
            rc = slt__config_yaml_fail(c, &parser);
            break;
        }
        switch (ev.type) {
        case YAML_SEQUENCE_START_EVENT:
            anchor = ev.data.sequence_start.anchor;
            depth++;
            break;
        case YAML_MAPPING_START_EVENT:
            anchor = ev.data.mapping_start.anchor;
            depth++;
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            depth--;
            break;
        case YAML_SCALAR_EVENT:
            anchor = ev.data.scalar.anchor;
            break;
        case YAML_ALIAS_EVENT:
            anchor = ev.data.alias.anchor;
            break;
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        default:
            break;
        }
        if (depth > MAX_YAML_DEPTH)
            rc = fail_at(c, &ev.start_mark, "config is nested too deeply (more than %d levels)",
                         MAX_YAML_DEPTH);
        else if (anchor && ++nanchors > MAX_ANCHORS)
            rc = fail_at(c, &ev.start_mark, "too many anchors and aliases (more than %d)",
                         MAX_ANCHORS);
        else if (++nev > MAX_YAML_NODES)
            rc = fail_at(c, &ev.start_mark, "config is too large (more than %d yaml nodes)",
                         MAX_YAML_NODES);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    return rc;
}
