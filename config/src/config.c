/*
 * The YAML config loader. libyaml loads the file into a node tree with line/column marks
 * (yaml_parser_load); we walk it once, driven by the key table (config_keys.c), which also gives
 * the defaults, the bounds, the rejection of unknown keys and the key reference in docs/CONFIG.md.
 *
 * Every problem is reported as "file:line:col: message" (1-based) and rejects the whole
 * config, so a reload keeps the old one.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "config_load.h"

#define MAX_LABELS 32
#define MAX_LABEL_NAME 128
#define MAX_LABEL_VALUE 1024

struct ctx {
    const char *file;
    yaml_document_t *doc;
    char *err;
    size_t errlen;
    struct slt_config *cfg;
    size_t natoms;
    int *fmt_lines; /* where each user format was declared */
};

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
static int fail(struct ctx *c, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct ctx *c, const yaml_node_t *n, const char *fmt, ...)
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

static int nomem(struct ctx *c)
{
    if (c->errlen)
        snprintf(c->err, c->errlen, "%s: out of memory", c->file);
    return SLT_ENOMEM;
}

static const yaml_node_t *node(struct ctx *c, int id)
{
    return yaml_document_get_node(c->doc, id);
}

static const char *sval(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static int is_null(const yaml_node_t *n)
{
    const char *s;

    if (!n)
        return 1;
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    s = sval(n);
    return !strcmp(s, "") || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

static const char *kind_name(const yaml_node_t *n)
{
    if (is_null(n))
        return "nothing";
    switch (n->type) {
    case YAML_MAPPING_NODE:
        return "a map";
    case YAML_SEQUENCE_NODE:
        return "a list";
    default:
        return "a string";
    }
}

/* The value of key name in map n, or NULL. */
static const yaml_node_t *map_get(struct ctx *c, const yaml_node_t *n, const char *name)
{
    const yaml_node_pair_t *p;

    if (!n || n->type != YAML_MAPPING_NODE)
        return NULL;
    for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node(c, p->key);

        if (k && k->type == YAML_SCALAR_NODE && !strcmp(sval(k), name))
            return node(c, p->value);
    }
    return NULL;
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

static void free_strlist(char **list, size_t n)
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
        return fail(c, n, "%s: '%s' %s", what, k->name, msg);
    return fail(c, n, "%s: '%s' %s, got '%s'", what, k->name, msg, s);
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
        return fail(c, n, "%s: '%s' is too long (%zu bytes, max %d)", what, k->name, len, MAX_STR);
    if (memchr(s, '\0', len))
        return fail(c, n, "%s: '%s' holds a NUL byte", what, k->name);
    switch (k->type) {
    case SLT_KT_STR: {
        char *copy, *old;

        if ((rc = check_str(c, k, s, n, what)) < 0)
            return rc;
        copy = slt_strndup(s, len);
        if (!copy)
            return nomem(c);
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
            return nomem(c);
        }
        memcpy(&old, dst, sizeof(old));
        memcpy(&oldn, base + k->off2, sizeof(oldn));
        free_strlist(old, oldn);
        memcpy(dst, &list, sizeof(list));
        memcpy(base + k->off2, &one, sizeof(one));
        return 0;
    }
    case SLT_KT_DUR: {
        int64_t us;

        if (slt_parse_duration_us(s, len, 0, &us) < 0)
            return fail(c, n, "%s: bad duration '%.*s' for '%s' (use e.g. 300ms, 2s, 5m, 28d)",
                        what, (int)len, s, k->name);
        v = us / k->unit_us;
        if (us % k->unit_us) {
            slt__config_fmt_dur(lo, sizeof(lo), k->unit_us);
            return fail(c, n, "%s: '%s' must be a whole number of %s, got '%.*s'", what, k->name,
                        lo + 1, (int)len, s);
        }
        break;
    }
    case SLT_KT_SIZE: {
        uint64_t u;

        if (slt_parse_size(s, len, &u) < 0)
            return fail(c, n, "%s: bad size '%.*s' for '%s' (use e.g. 4096, 64KiB, 256MiB)", what,
                        (int)len, s, k->name);
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
            return fail(c, n, "%s: '%s' must be a whole number, got '%.*s'", what, k->name,
                        (int)len, s);
        break;
    }
    case SLT_KT_PERCENT: {
        char buf[64], *end;
        double d;

        if (len == 0 || len >= sizeof(buf))
            return fail(c, n, "%s: '%s' must be a number, got '%.*s'", what, k->name, (int)len, s);
        memcpy(buf, s, len);
        buf[len] = '\0';
        errno = 0;
        d = strtod(buf, &end);
        if (*end || end == buf || errno || !isfinite(d))
            return fail(c, n, "%s: '%s' must be a number, got '%s'", what, k->name, buf);
        if (!(d > 0 && d < 100))
            return fail(c, n, "%s: '%s' must be between 0 and 100 (both excluded), got '%s'", what,
                        k->name, buf);
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
        return fail(c, n, "%s: '%s' must be one of %s, got '%.*s'", what, k->name, k->choices,
                    (int)len, s);
    }
    case SLT_KT_COND:
    case SLT_KT_MAP:
    case SLT_KT_LIST:
        SLT_BUG("a map from text");
    }
    if (v < k->lo || (k->hi && v > k->hi)) {
        slt__config_fmt_bound(k, k->lo, lo, sizeof(lo));
        slt__config_fmt_bound(k, k->hi, hi, sizeof(hi));
        return fail(c, n, "%s: '%s' must be between %s and %s, got '%.*s'", what, k->name, lo, hi,
                    (int)len, s);
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
            return fail(c, n, "%s: '%s' must be a map, got %s", what, k->name, kind_name(n));
        memcpy(base + k->off, &n, sizeof(n));
        return 0;
    }
    if (k->type == SLT_KT_LIST) {
        if (n->type != YAML_SEQUENCE_NODE)
            return fail(c, n, "%s: '%s' must be a list, got %s", what, k->name, kind_name(n));
        memcpy(base + k->off, &n, sizeof(n));
        return 0;
    }
    if (k->type == SLT_KT_STRLIST && n->type == YAML_SEQUENCE_NODE) {
        size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start), i;
        char **list, **old;
        size_t oldn;

        if (cnt > (size_t)k->hi)
            return fail(c, n, "%s: '%s' has too many entries (%zu, max %lld)", what, k->name, cnt,
                        (long long)k->hi);
        list = slt_calloc(cnt ? cnt : 1, sizeof(char *));
        if (!list)
            return nomem(c);
        for (i = 0; i < cnt; i++) {
            const yaml_node_t *it = node(c, n->data.sequence.items.start[i]);

            if (!it || it->type != YAML_SCALAR_NODE || is_null(it)) {
                free_strlist(list, i);
                return fail(c, it ? it : n, "%s: entries of '%s' must be strings, got %s", what,
                            k->name, kind_name(it));
            }
            if (it->data.scalar.length > MAX_STR ||
                memchr(sval(it), '\0', it->data.scalar.length)) {
                free_strlist(list, i);
                return fail(c, it, "%s: bad entry in '%s' (too long or holds a NUL byte)", what,
                            k->name);
            }
            if (check_str(c, k, sval(it), it, what) < 0) {
                free_strlist(list, i);
                return SLT_ECONFIG;
            }
            list[i] = slt_strndup(sval(it), it->data.scalar.length);
            if (!list[i]) {
                free_strlist(list, i);
                return nomem(c);
            }
        }
        memcpy(&old, base + k->off, sizeof(old));
        memcpy(&oldn, base + k->off2, sizeof(oldn));
        free_strlist(old, oldn);
        memcpy(base + k->off, &list, sizeof(list));
        memcpy(base + k->off2, &cnt, sizeof(cnt));
        return 0;
    }
    if (n->type != YAML_SCALAR_NODE || is_null(n)) {
        if (k->type == SLT_KT_ENUM)
            return fail(c, n, "%s: '%s' must be one of %s, got %s", what, k->name, k->choices,
                        kind_name(n));
        return fail(c, n, "%s: '%s' must be %s, got %s", what, k->name, type_desc(k), kind_name(n));
    }
    return set_text(c, k, base, sval(n), n->data.scalar.length, n, what);
}

static int apply_defaults(struct ctx *c, const char *section, void *base)
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
static int load_map(struct ctx *c, const yaml_node_t *n, const char *section, void *base,
                    const char *what)
{
    unsigned char seen[SLT__CONFIG_MAX_KEYS] = {0};
    const yaml_node_pair_t *p;
    size_t i, nkeys;
    const struct slt__config_key *keys = slt__config_keys(&nkeys);
    int rc;

    if (n->type != YAML_MAPPING_NODE)
        return fail(c, n, "%s must be a map, got %s", what, kind_name(n));
    for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node(c, p->key), *v = node(c, p->value);

        if (!k || k->type != YAML_SCALAR_NODE)
            return fail(c, k, "%s: keys must be strings, got %s", what, kind_name(k));
        for (i = 0; i < nkeys; i++)
            if (!strcmp(keys[i].section, section) && !strcmp(keys[i].name, sval(k)))
                break;
        if (i == nkeys)
            return fail(c, k, "unknown key '%s' in %s", sval(k), what);
        if (seen[i])
            return fail(c, k, "duplicate key '%s' in %s", sval(k), what);
        seen[i] = 1;
        if (!v)
            return fail(c, k, "%s: '%s' has no value", what, sval(k));
        /* `key:` or `key: ~` keeps the default; a required key needs a value. */
        if (is_null(v) && (keys[i].flags & SLT_KEY_REQUIRED))
            return fail(c, k, "%s: '%s' needs a value", what, sval(k));
        if (is_null(v))
            continue;
        if ((rc = set_value(c, &keys[i], base, v, what)) < 0)
            return rc;
    }
    for (i = 0; i < nkeys; i++)
        if (!seen[i] && (keys[i].flags & SLT_KEY_REQUIRED) && !strcmp(keys[i].section, section))
            return fail(c, n, "%s: missing key '%s'", what, keys[i].name);
    return 0;
}

/* "sli 'x'" when the map has a usable name, else "sli #3". */
static void item_what(struct ctx *c, const yaml_node_t *n, const char *singular, size_t idx,
                      char *buf, size_t len)
{
    const yaml_node_t *name = map_get(c, n, "name");

    if (name && name->type == YAML_SCALAR_NODE && !is_null(name) &&
        name->data.scalar.length <= MAX_NAME && !memchr(sval(name), '\0', name->data.scalar.length))
        snprintf(buf, len, "%s '%s'", singular, sval(name));
    else
        snprintf(buf, len, "%s #%zu", singular, idx + 1);
}

static int check_name(struct ctx *c, const yaml_node_t *map, const char *what, const char *name)
{
    size_t i, len = strlen(name);

    for (i = 0; i < len; i++) {
        char ch = name[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            break;
    }
    if (len == 0 || len > MAX_NAME || i != len)
        return fail(c, map_get(c, map, "name"),
                    "%s: bad name '%s' (use 1 to %d letters, digits, '.', '_' or '-')", what, name,
                    MAX_NAME);
    return 0;
}

/* The items of a list section; NULL n (absent or empty) gives none. */
static int section_items(struct ctx *c, const yaml_node_t *n, const char *section, size_t *cnt)
{
    *cnt = 0;
    if (!n || is_null(n))
        return 0;
    if (n->type != YAML_SEQUENCE_NODE)
        return fail(c, n, "'%s' must be a list, got %s", section, kind_name(n));
    *cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (*cnt > MAX_ITEMS)
        return fail(c, n, "'%s' has too many entries (%zu, max %d)", section, *cnt, MAX_ITEMS);
    return 0;
}

static void fmt_decl_release(struct fmt_decl *d)
{
    slt_free(d->name);
    slt_free(d->regex);
    slt_free(d->time_layout);
}

/* formats[].json: canonical field -> dotted path; the strings stay in the YAML document. */
static int json_fields(struct ctx *c, const yaml_node_t *n, struct slt_format_spec *spec,
                       const char *what)
{
    const yaml_node_pair_t *p;

    spec->json = "json";
    for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node(c, p->key), *v = node(c, p->value);
        int f;

        if (!k || k->type != YAML_SCALAR_NODE)
            return fail(c, k, "%s: keys of 'json' must be field names, got %s", what, kind_name(k));
        f = slt_field_from_name(sval(k), k->data.scalar.length);
        if (f < 0)
            return fail(c, k,
                        "%s: '%s' is not a canonical field (time, status, latency, method, "
                        "path, host, client, ...); use the dotted path in conditions instead",
                        what, sval(k));
        if (spec->json_field[f])
            return fail(c, k, "%s: duplicate key '%s' in 'json'", what, sval(k));
        if (!v || v->type != YAML_SCALAR_NODE || is_null(v) || v->data.scalar.length > 256 ||
            memchr(sval(v), '\0', v->data.scalar.length))
            return fail(c, v ? v : k, "%s: 'json.%s' must be a dotted path like resp.status", what,
                        sval(k));
        spec->json_field[f] = sval(v);
    }
    return 0;
}

static int is_builtin_name(const char *name)
{
    const char *const *b;

    for (b = slt_format_builtin_names(); b && *b; b++)
        if (!strcmp(*b, name))
            return 1;
    return 0;
}

static int load_formats(struct ctx *c, const yaml_node_t *n)
{
    struct slt_config *cfg = c->cfg;
    size_t cnt, i, j;
    int rc;

    if ((rc = section_items(c, n, "formats", &cnt)) < 0 || !cnt)
        return rc;
    cfg->formats = slt_calloc(cnt, sizeof(*cfg->formats));
    c->fmt_lines = slt_calloc(cnt, sizeof(int));
    if (!cfg->formats || !c->fmt_lines)
        return nomem(c);
    for (i = 0; i < cnt; i++) {
        const yaml_node_t *it = node(c, n->data.sequence.items.start[i]);
        struct fmt_decl d = {0};
        struct slt_format_spec spec = {0};
        char what[96], msg[512];

        item_what(c, it, "format", i, what, sizeof(what));
        if ((rc = apply_defaults(c, "formats", &d)) < 0 ||
            (rc = load_map(c, it, "formats", &d, what)) < 0 ||
            (rc = check_name(c, it, what, d.name)) < 0)
            goto fail_decl;
        for (j = 0; j < cfg->nformats; j++) {
            if (!strcmp(slt_format_name(cfg->formats[j]), d.name)) {
                rc = fail(c, map_get(c, it, "name"),
                          "duplicate format name '%s' (first defined at line %d)", d.name,
                          c->fmt_lines[j]);
                goto fail_decl;
            }
        }
        if (is_builtin_name(d.name)) {
            rc = fail(c, map_get(c, it, "name"), "%s: '%s' is the name of a built-in format", what,
                      d.name);
            goto fail_decl;
        }
        if (d.json && d.regex) {
            rc = fail(c, map_get(c, it, "json"), "%s: give either 'regex' or 'json', not both",
                      what);
            goto fail_decl;
        }
        if (!d.json && !d.regex) {
            rc = fail(c, it, "%s: missing key 'regex' (or 'json')", what);
            goto fail_decl;
        }
        if (d.json && (rc = json_fields(c, d.json, &spec, what)) < 0)
            goto fail_decl;
        spec.name = d.name;
        spec.regex = d.regex;
        spec.time_layout = d.time_layout;
        spec.latency_unit = (enum slt_latency_unit)d.latency_unit;
        spec.match_limit = d.match_limit;
        spec.depth_limit = d.depth_limit;
        msg[0] = '\0';
        rc = slt_format_new(&spec, &cfg->formats[cfg->nformats], msg, sizeof(msg));
        if (rc < 0) {
            if (rc == SLT_ENOMEM) {
                rc = nomem(c);
            } else {
                const yaml_node_t *at = map_get(c, it, d.regex ? "regex" : "json");

                if (strstr(msg, "time_layout") && map_get(c, it, "time_layout"))
                    at = map_get(c, it, "time_layout");
                rc = fail(c, at, "%s", msg);
            }
            goto fail_decl;
        }
        c->fmt_lines[cfg->nformats++] = (int)it->start_mark.line + 1;
        fmt_decl_release(&d);
        continue;
    fail_decl:
        fmt_decl_release(&d);
        return rc;
    }
    return 0;
}

static const char *builtin_list(char *buf, size_t len)
{
    const char *const *names = slt_format_builtin_names();
    size_t pos = 0;

    buf[0] = '\0';
    for (; names && *names && pos < len; names++) {
        int w = snprintf(buf + pos, len - pos, "%s%s", pos ? ", " : "", *names);

        if (w < 0)
            break;
        pos += (size_t)w;
    }
    return buf;
}

static int load_inputs(struct ctx *c, const yaml_node_t *n)
{
    struct slt_config *cfg = c->cfg;
    size_t cnt, i, j;
    int rc;

    if ((rc = section_items(c, n, "inputs", &cnt)) < 0 || !cnt)
        return rc;
    cfg->inputs = slt_calloc(cnt, sizeof(*cfg->inputs));
    if (!cfg->inputs)
        return nomem(c);
    for (i = 0; i < cnt; i++) {
        const yaml_node_t *it = node(c, n->data.sequence.items.start[i]);
        struct slt_input *in = &cfg->inputs[cfg->ninputs++];
        char what[96], names[256];

        item_what(c, it, "input", i, what, sizeof(what));
        in->line = (int)it->start_mark.line + 1;
        if ((rc = apply_defaults(c, "inputs", in)) < 0 ||
            (rc = load_map(c, it, "inputs", in, what)) < 0 ||
            (rc = check_name(c, it, what, in->name)) < 0)
            return rc;
        if (in->s3_node) {
            char what3[128];

            snprintf(what3, sizeof(what3), "%s: s3", what);
            if ((rc = apply_defaults(c, "inputs.s3", &in->s3)) < 0 ||
                (rc = load_map(c, in->s3_node, "inputs.s3", &in->s3, what3)) < 0)
                return rc;
            if (in->npaths)
                return fail(c, map_get(c, it, "s3"), "%s: give paths or s3, not both", what);
            if (in->s3.endpoint && strncmp(in->s3.endpoint, "http://", 7) != 0 &&
                strncmp(in->s3.endpoint, "https://", 8) != 0)
                return fail(c, map_get(c, it, "s3"),
                            "%s: s3.endpoint must start with http:// or https://, got '%s'", what,
                            in->s3.endpoint);
            in->s3_node = NULL;
        }
        for (j = 0; j + 1 < cfg->ninputs; j++)
            if (!strcmp(cfg->inputs[j].name, in->name))
                return fail(c, map_get(c, it, "name"),
                            "duplicate input name '%s' (first defined at line %d)", in->name,
                            cfg->inputs[j].line);
        for (j = 0; j < cfg->nformats; j++) {
            if (!strcmp(slt_format_name(cfg->formats[j]), in->format_name)) {
                in->fmt = cfg->formats[j];
                break;
            }
        }
        if (!in->fmt && (rc = slt_format_builtin(in->format_name, &in->fmt)) < 0) {
            in->fmt = NULL;
            if (rc == SLT_ENOMEM)
                return nomem(c);
            return fail(c, map_get(c, it, "format"),
                        "%s: unknown format '%s' (built-in formats: %s; or define it under "
                        "formats:)",
                        what, in->format_name, builtin_list(names, sizeof(names)));
        }
    }
    return 0;
}

/* `status: [429, 5xx, '^50[34]$']`: one atom holding the union. */
static int load_status_list(struct ctx *c, const yaml_node_t *k, const yaml_node_t *v,
                            struct slt_condmap *map, const struct slt_input *in, const char *what,
                            int negate)
{
    size_t cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start), i;
    struct slt_atom *a;
    char msg[512];
    int rc;

    if (cnt == 0 || cnt > MAX_MAP_ATOMS)
        return fail(c, v, "%s: a status list needs 1 to %d entries, got %zu", what, MAX_MAP_ATOMS,
                    cnt);
    if (++c->natoms > MAX_ATOMS)
        return fail(c, k, "too many conditions in the config (max %d)", MAX_ATOMS);
    if (!(a = slt_condmap_add_atom(map)))
        return nomem(c);
    a->negate = negate;
    a->line = (int)k->start_mark.line + 1;
    a->col = (int)k->start_mark.column + 1;
    for (i = 0; i < cnt; i++) {
        const yaml_node_t *it = node(c, v->data.sequence.items.start[i]);

        if (!it || it->type != YAML_SCALAR_NODE || is_null(it) ||
            it->data.scalar.length > MAX_STR || memchr(sval(it), '\0', it->data.scalar.length))
            return fail(c, it ? it : v, "%s: entries of a status list must be statuses, got %s",
                        what, kind_name(it));
        msg[0] = '\0';
        rc = slt_atom_status_list_add(a, in->fmt, sval(it), msg, sizeof(msg));
        if (rc == SLT_ENOMEM)
            return nomem(c);
        if (rc < 0)
            return fail(c, it, "%s: %s", what, msg);
    }
    return 0;
}

static int load_condmap(struct ctx *c, const yaml_node_t *n, struct slt_condmap *map,
                        const struct slt_input *in, const char *what, const char *stage, int negate)
{
    const yaml_node_pair_t *p, *q;
    size_t npairs = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    int rc;

    if (npairs > MAX_MAP_ATOMS)
        return fail(c, n, "%s: too many conditions in one map of '%s' (%zu, max %d)", what, stage,
                    npairs, MAX_MAP_ATOMS);
    for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node(c, p->key), *v = node(c, p->value);
        const char *name, *val;
        struct slt_atom *a;
        char msg[512];

        if (!k || k->type != YAML_SCALAR_NODE)
            return fail(c, k, "%s: condition names in '%s' must be strings, got %s", what, stage,
                        kind_name(k));
        name = sval(k);
        for (q = n->data.mapping.pairs.start; q < p; q++)
            if (!strcmp(sval(node(c, q->key)), name))
                return fail(c, k, "%s: duplicate condition '%s' in '%s'", what, name, stage);
        if (!strcmp(name, "not")) {
            if (negate)
                return fail(c, k, "%s: 'not' cannot be nested", what);
            if (!v || v->type != YAML_MAPPING_NODE)
                return fail(c, v ? v : k, "%s: 'not' must be a map of conditions, got %s", what,
                            kind_name(v));
            if ((rc = load_condmap(c, v, map, in, what, stage, 1)) < 0)
                return rc;
            continue;
        }
        if (!strcmp(name, "status") && v && v->type == YAML_SEQUENCE_NODE) {
            if ((rc = load_status_list(c, k, v, map, in, what, negate)) < 0)
                return rc;
            continue;
        }
        if (!v || v->type != YAML_SCALAR_NODE || is_null(v))
            return fail(c, v ? v : k, "%s: condition '%s' in '%s' must be a string, got %s", what,
                        name, stage, kind_name(v));
        val = sval(v);
        if (v->data.scalar.length > MAX_STR || memchr(val, '\0', v->data.scalar.length))
            return fail(c, v, "%s: condition '%s' is too long or holds a NUL byte", what, name);
        if (++c->natoms > MAX_ATOMS)
            return fail(c, k, "too many conditions in the config (max %d)", MAX_ATOMS);
        if (!(a = slt_condmap_add_atom(map)))
            return nomem(c);
        a->negate = negate;
        a->line = (int)k->start_mark.line + 1;
        a->col = (int)k->start_mark.column + 1;
        msg[0] = '\0';
        if (!strcmp(name, "latency_over") || !strcmp(name, "latency_under")) {
            int64_t us;

            if (!slt_format_has_latency(in->fmt))
                return fail(c, k, "%s: format '%s' has no latency, so '%s' cannot be used", what,
                            in->format_name, name);
            if (slt_parse_duration_us(val, v->data.scalar.length, 0, &us) < 0)
                return fail(c, v,
                            "%s: bad duration '%s' for '%s' (give a unit: e.g. 300ms, 1.5s, "
                            "250us)",
                            what, val, name);
            rc = slt_atom_init_latency(
                a, name[8] == 'o' ? SLT_ATOM_LATENCY_OVER : SLT_ATOM_LATENCY_UNDER, us, val);
            if (rc < 0)
                return nomem(c);
            continue;
        }
        if (!strcmp(name, "status"))
            rc = slt_atom_init_status(a, in->fmt, val, msg, sizeof(msg));
        else
            rc = slt_atom_init_regex(a, in->fmt, name, val, msg, sizeof(msg));
        if (rc == SLT_ENOMEM)
            return nomem(c);
        if (rc == SLT_ENOTFOUND)
            return fail(c, k, "%s: %s", what, msg);
        if (rc < 0)
            return fail(c, v, "%s: %s", what, msg);
    }
    return 0;
}

static int load_condset(struct ctx *c, const yaml_node_t *n, struct slt_condset *cs,
                        const struct slt_input *in, const char *what, const char *stage)
{
    struct slt_condmap *map;
    size_t cnt, i;
    int rc;

    if (!n || is_null(n))
        return 0;
    cs->present = 1;
    if (n->type == YAML_MAPPING_NODE) {
        if (!(map = slt_condset_add_map(cs)))
            return nomem(c);
        return load_condmap(c, n, map, in, what, stage, 0);
    }
    if (n->type != YAML_SEQUENCE_NODE)
        return fail(c, n, "%s: '%s' must be a map of conditions or a list of such maps, got %s",
                    what, stage, kind_name(n));
    cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (cnt == 0)
        return fail(c, n, "%s: '%s' is an empty list (leave it out instead)", what, stage);
    if (cnt > MAX_MAPS)
        return fail(c, n, "%s: '%s' has too many maps (%zu, max %d)", what, stage, cnt, MAX_MAPS);
    for (i = 0; i < cnt; i++) {
        const yaml_node_t *it = node(c, n->data.sequence.items.start[i]);

        if (!it || it->type != YAML_MAPPING_NODE)
            return fail(c, it ? it : n, "%s: entries of '%s' must be maps of conditions, got %s",
                        what, stage, kind_name(it));
        if (!(map = slt_condset_add_map(cs)))
            return nomem(c);
        if ((rc = load_condmap(c, it, map, in, what, stage, 0)) < 0)
            return rc;
    }
    return 0;
}

static int load_slis(struct ctx *c, const yaml_node_t *n)
{
    struct slt_config *cfg = c->cfg;
    size_t cnt, i, j;
    int rc;

    if ((rc = section_items(c, n, "slis", &cnt)) < 0 || !cnt)
        return rc;
    cfg->slis = slt_calloc(cnt, sizeof(*cfg->slis));
    if (!cfg->slis)
        return nomem(c);
    for (i = 0; i < cnt; i++) {
        const yaml_node_t *it = node(c, n->data.sequence.items.start[i]);
        struct sli_decl d = {0};
        struct slt_sli *sli;
        const struct slt_input *in;
        int idx;
        char what[96];

        item_what(c, it, "sli", i, what, sizeof(what));
        rc = load_map(c, it, "slis", &d, what);
        sli = &cfg->slis[cfg->nslis++];
        sli->name = d.name;
        sli->input = d.input;
        sli->line = (int)it->start_mark.line + 1;
        if (rc < 0 || (rc = check_name(c, it, what, sli->name)) < 0)
            return rc;
        for (j = 0; j + 1 < cfg->nslis; j++)
            if (!strcmp(cfg->slis[j].name, sli->name))
                return fail(c, map_get(c, it, "name"),
                            "duplicate sli name '%s' (first defined at line %d)", sli->name,
                            cfg->slis[j].line);
        if (!sli->input) {
            if (cfg->ninputs != 1)
                return fail(c, it,
                            "%s: missing key 'input' (needed when there is not exactly "
                            "one input)",
                            what);
            if (!(sli->input = slt_strdup(cfg->inputs[0].name)))
                return nomem(c);
        }
        idx = slt_config_input_index(cfg, sli->input);
        if (idx < 0)
            return fail(c, map_get(c, it, "input"), "%s: unknown input '%s'", what, sli->input);
        in = &cfg->inputs[idx];
        sli->input_idx = (size_t)idx;
        sli->fmt = in->fmt;
        if ((rc = load_condset(c, d.match, &sli->match, in, what, "match")) < 0 ||
            (rc = load_condset(c, d.exclude, &sli->exclude, in, what, "exclude")) < 0 ||
            (rc = load_condset(c, d.bad, &sli->bad, in, what, "bad")) < 0)
            return rc;
    }
    return 0;
}

static int load_labels(struct ctx *c, const yaml_node_t *n, const char *what,
                       struct slt_label **out, size_t *nout);

/* The four tiers of the SRE workbook, used when an SLO has no `alerts:`. */
static const struct {
    const char *name;
    int64_t long_s, short_s;
    double budget_percent;
    int severity;
} default_tiers[] = {
    {"page-1h", 3600, 300, 2, SLT_SEVERITY_PAGE},
    {"page-6h", 6 * 3600, 1800, 5, SLT_SEVERITY_PAGE},
    {"ticket-1d", DAY_S, 2 * 3600, 10, SLT_SEVERITY_TICKET},
    {"ticket-3d", 3 * DAY_S, 6 * 3600, 10, SLT_SEVERITY_TICKET},
};

static int tier_cmp(const void *a, const void *b)
{
    const struct slt_slo_tier *x = a, *y = b;

    if (x->long_s != y->long_s)
        return x->long_s < y->long_s ? -1 : 1;
    return x->short_s < y->short_s ? -1 : x->short_s > y->short_s;
}

static void tiers_free(struct slt_slo_tier *t, size_t n)
{
    size_t i;

    for (i = 0; t && i < n; i++)
        slt_free(t[i].name);
    slt_free(t);
}

/* slos[].alerts, or the default tiers; then thresholds, sorted by long window. */
static int load_tiers(struct ctx *c, struct slo_decl *d, const char *what)
{
    struct slt_slo *slo = &d->slo;
    const yaml_node_t *n = d->alerts;
    size_t cnt, i, j;
    int rc;

    if (n) {
        cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
        if (cnt > SLT_SLO_MAX_TIERS)
            return fail(c, n, "%s: 'alerts' has too many tiers (%zu, max %d)", what, cnt,
                        SLT_SLO_MAX_TIERS);
    } else {
        cnt = SLT_ARRAY_SIZE(default_tiers);
    }
    if (cnt == 0)
        return 0; /* `alerts: []`: no alerts for this SLO */
    slo->tiers = slt_calloc(cnt, sizeof(*slo->tiers));
    if (!slo->tiers)
        return nomem(c);
    for (i = 0; i < cnt; i++) {
        struct slt_slo_tier *t = &slo->tiers[slo->ntiers++];

        if (!n) {
            /* a default tier longer than the SLO window means nothing: a 1d SLO has three */
            if (default_tiers[i].long_s > slo->window_s) {
                slo->ntiers--;
                continue;
            }
            if (!(t->name = slt_strdup(default_tiers[i].name)))
                return nomem(c);
            t->long_s = default_tiers[i].long_s;
            t->short_s = default_tiers[i].short_s;
            t->budget_percent = default_tiers[i].budget_percent;
            t->severity = default_tiers[i].severity;
        } else {
            const yaml_node_t *it = node(c, n->data.sequence.items.start[i]);
            char twhat[160];

            snprintf(twhat, sizeof(twhat), "%s: alert tier #%zu", what, i + 1);
            if (!it)
                return fail(c, n, "%s: bad entry", twhat);
            if ((rc = apply_defaults(c, "slos.alerts", t)) < 0 ||
                (rc = load_map(c, it, "slos.alerts", t, twhat)) < 0 ||
                (rc = check_name(c, it, twhat, t->name)) < 0)
                return rc;
            snprintf(twhat, sizeof(twhat), "%s: alert tier '%s'", what, t->name);
            for (j = 0; j + 1 < slo->ntiers; j++)
                if (!strcmp(slo->tiers[j].name, t->name))
                    return fail(c, map_get(c, it, "name"), "%s: duplicate tier name '%s'", what,
                                t->name);
            if (t->long_s % 60 || t->short_s % 60)
                return fail(c, it, "%s: 'long' and 'short' must be whole minutes", twhat);
            if (t->short_s >= t->long_s)
                return fail(c, map_get(c, it, "short"), "%s: 'short' must be shorter than 'long'",
                            twhat);
            if (t->long_s > slo->window_s)
                return fail(c, map_get(c, it, "long"), "%s: 'long' is longer than the SLO window",
                            twhat);
        }
        /* Sloth's and the workbook's threshold: the burn rate that spends budget_percent of
         * the budget of the whole window within the long window */
        t->threshold = t->budget_percent / 100.0 * (double)slo->window_s / (double)t->long_s;
        t->unreachable = t->threshold * (1.0 - slo->objective / 100.0) > 1.0 + 1e-12;
    }
    qsort(slo->tiers, slo->ntiers, sizeof(*slo->tiers), tier_cmp);
    return 0;
}

static void slo_release(struct slt_slo *slo)
{
    size_t i;

    slt_free(slo->name);
    slt_free(slo->sli);
    tiers_free(slo->tiers, slo->ntiers);
    for (i = 0; i < slo->nlabels; i++) {
        slt_free(slo->labels[i].name);
        slt_free(slo->labels[i].value);
    }
    slt_free(slo->labels);
    slt_free(slo->dedup_key);
}

static int load_slo(struct ctx *c, const yaml_node_t *it, struct slo_decl *d, const char *what)
{
    struct slt_config *cfg = c->cfg;
    struct slt_slo *slo = &d->slo;
    size_t j;
    int rc, idx;

    if ((rc = apply_defaults(c, "slos", d)) < 0 ||
        (rc = apply_defaults(c, "slos.policy", slo)) < 0 ||
        (rc = load_map(c, it, "slos", d, what)) < 0 ||
        (rc = check_name(c, it, what, slo->name)) < 0)
        return rc;
    for (j = 0; j + 1 < cfg->nslos; j++)
        if (!strcmp(cfg->slos[j].name, slo->name))
            return fail(c, map_get(c, it, "name"),
                        "duplicate slo name '%s' (first defined at line %d)", slo->name,
                        cfg->slos[j].line);
    idx = slt_config_sli_index(cfg, slo->sli);
    if (idx < 0)
        return fail(c, map_get(c, it, "sli"), "%s: unknown sli '%s'", what, slo->sli);
    slo->sli_idx = (size_t)idx;
    if (slo->window_s > cfg->aggregator.day_retention_s) {
        char w[32], r[32];

        slt__config_fmt_dur(w, sizeof(w), slo->window_s * SEC);
        slt__config_fmt_dur(r, sizeof(r), cfg->aggregator.day_retention_s * SEC);
        return fail(c, map_get(c, it, "window"),
                    "%s: window %s is longer than aggregator.day_retention (%s)", what, w, r);
    }
    if (d->policy && (rc = load_map(c, d->policy, "slos.policy", slo, what)) < 0)
        return rc;
    if (slo->policy_endangered > slo->policy_healthy)
        return fail(c, d->policy, "%s: policy 'endangered' (%g) is above 'healthy' (%g)", what,
                    slo->policy_endangered, slo->policy_healthy);
    if (d->labels && (rc = load_labels(c, d->labels, what, &slo->labels, &slo->nlabels)) < 0)
        return rc;
    if (slo->dedup_key && (!slo->dedup_key[0] || strlen(slo->dedup_key) > 255))
        return fail(c, map_get(c, it, "dedup_key"), "%s: 'dedup_key' must be 1 to 255 bytes", what);
    if (!slo->dedup_key && !(slo->dedup_key = slt_strdup(slo->name)))
        return nomem(c);
    if ((rc = load_tiers(c, d, what)) < 0)
        return rc;
    for (j = 0; j < slo->ntiers; j++) {
        const struct slt_slo_tier *t = &slo->tiers[j];

        if (t->unreachable)
            slt_log(SLT_LOG_WARN, "config",
                    "%s:%d: %s: alert tier '%s' can never fire: it needs a burn rate of %.4gx, "
                    "an error ratio of %.4g%%, and objective %g%% allows at most %.4gx",
                    c->file, slo->line, what, t->name, t->threshold,
                    t->threshold * (100.0 - slo->objective), slo->objective,
                    100.0 / (100.0 - slo->objective));
    }
    return 0;
}

static int load_slos(struct ctx *c, const yaml_node_t *n)
{
    struct slt_config *cfg = c->cfg;
    size_t cnt, i;
    int rc;

    if ((rc = section_items(c, n, "slos", &cnt)) < 0 || !cnt)
        return rc;
    cfg->slos = slt_calloc(cnt, sizeof(*cfg->slos));
    if (!cfg->slos)
        return nomem(c);
    for (i = 0; i < cnt; i++) {
        const yaml_node_t *it = node(c, n->data.sequence.items.start[i]);
        struct slo_decl d;
        char what[96];

        memset(&d, 0, sizeof(d));
        item_what(c, it, "slo", i, what, sizeof(what));
        d.slo.line = (int)it->start_mark.line + 1;
        cfg->nslos++;
        rc = load_slo(c, it, &d, what);
        /* the config owns whatever was set, even on failure */
        cfg->slos[i] = d.slo;
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int label_cmp(const void *a, const void *b)
{
    return strcmp(((const struct slt_label *)a)->name, ((const struct slt_label *)b)->name);
}

static int label_name_ok(const char *s, size_t len)
{
    size_t i;

    if (len == 0 || len > MAX_LABEL_NAME || (s[0] >= '0' && s[0] <= '9'))
        return 0;
    for (i = 0; i < len; i++) {
        char ch = s[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_'))
            return 0;
    }
    return 1;
}

/* A labels map (alerting.labels, slos[].labels) into *out / *nout, sorted by name. */
static int load_labels(struct ctx *c, const yaml_node_t *n, const char *what,
                       struct slt_label **out, size_t *nout)
{
    static const char *const reserved[] = {"alertname", "slo", "sli", "severity", "tier"};
    const yaml_node_pair_t *p;
    size_t cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start), i;
    struct slt_alert_conf labels = {0}, *a = &labels;
    int rc = 0;

    if (cnt > MAX_LABELS)
        return fail(c, n, "%s: 'labels' has too many entries (%zu, max %d)", what, cnt, MAX_LABELS);
    if (cnt == 0)
        return 0;
    a->labels = slt_calloc(cnt, sizeof(*a->labels));
    if (!a->labels)
        return nomem(c);
    /* the caller owns what was loaded, even on failure */
    *out = a->labels;
    for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node(c, p->key), *v = node(c, p->value);
        struct slt_label *l;

        if (!k || k->type != YAML_SCALAR_NODE || !label_name_ok(sval(k), k->data.scalar.length)) {
            rc = fail(c, k,
                      "%s: label names must be letters, digits and '_' (not first), at most %d "
                      "bytes",
                      what, MAX_LABEL_NAME);
            break;
        }
        for (i = 0; i < SLT_ARRAY_SIZE(reserved); i++)
            if (!strcmp(sval(k), reserved[i]))
                break;
        if (i < SLT_ARRAY_SIZE(reserved)) {
            rc = fail(c, k, "%s: label '%s' is set by slitail and cannot be configured", what,
                      sval(k));
            break;
        }
        for (i = 0; i < a->nlabels; i++)
            if (!strcmp(a->labels[i].name, sval(k)))
                break;
        if (i < a->nlabels) {
            rc = fail(c, k, "%s: duplicate label '%s'", what, sval(k));
            break;
        }
        if (!v || v->type != YAML_SCALAR_NODE || is_null(v)) {
            rc = fail(c, v ? v : k, "%s: label '%s' must be a string, got %s", what, sval(k),
                      kind_name(v));
            break;
        }
        if (v->data.scalar.length > MAX_LABEL_VALUE ||
            memchr(sval(v), '\0', v->data.scalar.length)) {
            rc = fail(c, v, "%s: label '%s' is longer than %d bytes or holds a NUL byte", what,
                      sval(k), MAX_LABEL_VALUE);
            break;
        }
        l = &a->labels[a->nlabels];
        l->name = slt_strdup(sval(k));
        l->value = slt_strndup(sval(v), v->data.scalar.length);
        if (l->name && l->value) {
            a->nlabels++;
        } else {
            slt_free(l->name);
            slt_free(l->value);
            l->name = l->value = NULL;
            rc = nomem(c);
            break;
        }
    }
    *nout = a->nlabels;
    if (rc == 0)
        qsort(a->labels, a->nlabels, sizeof(*a->labels), label_cmp);
    return rc;
}

static int load_alerting(struct ctx *c, const yaml_node_t *n)
{
    struct alert_decl d;
    int rc;

    memset(&d, 0, sizeof(d));
    if ((rc = apply_defaults(c, "alerting", &d)) < 0)
        return rc;
    if (n && !is_null(n))
        rc = load_map(c, n, "alerting", &d, "alerting");
    /* the config owns whatever was set, even on failure, so slt_config_free releases it */
    c->cfg->alerting = d.conf;
    if (rc == 0 && d.labels)
        rc = load_labels(c, d.labels, "alerting", &c->cfg->alerting.labels,
                         &c->cfg->alerting.nlabels);
    if (rc == 0 && d.pagerduty) {
        rc = apply_defaults(c, "alerting.pagerduty", &c->cfg->alerting);
        if (rc == 0)
            rc = load_map(c, d.pagerduty, "alerting.pagerduty", &c->cfg->alerting,
                          "alerting.pagerduty");
    }
    if (rc == 0 && d.basic_auth) {
        if (c->cfg->alerting.bearer_token_file)
            return fail(c, d.basic_auth,
                        "alerting: 'basic_auth' and 'bearer_token_file' cannot both be set");
        rc = apply_defaults(c, "alerting.basic_auth", &c->cfg->alerting);
        if (rc == 0)
            rc = load_map(c, d.basic_auth, "alerting.basic_auth", &c->cfg->alerting,
                          "alerting.basic_auth");
    }
    return rc;
}

/* A TLS map (n may be an empty map): enabled, with its keys. */
static int load_tls(struct ctx *c, const yaml_node_t *n, const char *section,
                    struct slt_tls_conf *t)
{
    int rc;

    t->enabled = 1;
    if ((rc = apply_defaults(c, section, t)) < 0)
        return rc;
    if ((rc = load_map(c, n, section, t, section)) < 0)
        return rc;
    if (!t->cert_file != !t->key_file)
        return fail(c, n, "%s: cert_file and key_file go together", section);
    return 0;
}

static int load_agent(struct ctx *c, const yaml_node_t *n)
{
    struct agent_decl d;
    int rc;

    memset(&d, 0, sizeof(d));
    d.conf = c->cfg->agent;
    rc = load_map(c, n, "agent", &d, "agent");
    /* the config owns whatever was set, even on failure, so slt_config_free releases it */
    c->cfg->agent = d.conf;
    if (rc == 0 && d.tls)
        rc = load_tls(c, d.tls, "agent.tls", &c->cfg->agent.tls);
    if (rc == 0 && d.status_tls)
        rc = load_tls(c, d.status_tls, "agent.status_tls", &c->cfg->agent.status_tls);
    return rc;
}

static int load_aggregator(struct ctx *c, const yaml_node_t *n)
{
    struct aggr_decl d;
    int rc;

    memset(&d, 0, sizeof(d));
    d.conf = c->cfg->aggregator;
    rc = load_map(c, n, "aggregator", &d, "aggregator");
    c->cfg->aggregator = d.conf;
    if (rc == 0 && d.tls)
        rc = load_tls(c, d.tls, "aggregator.tls", &c->cfg->aggregator.tls);
    if (rc == 0 && d.http_tls)
        rc = load_tls(c, d.http_tls, "aggregator.http_tls", &c->cfg->aggregator.http_tls);
    return rc;
}

static int load_root(struct ctx *c, const yaml_node_t *root)
{
    static const char *const sections[] = {"formats", "inputs",     "slis",    "slos",
                                           "agent",   "aggregator", "alerting"};
    const yaml_node_t *sec[SLT_ARRAY_SIZE(sections)] = {0};
    const yaml_node_pair_t *p;
    size_t i;
    int rc;

    if ((rc = apply_defaults(c, "agent", &c->cfg->agent)) < 0 ||
        (rc = apply_defaults(c, "aggregator", &c->cfg->aggregator)) < 0)
        return rc;
    if (root && !is_null(root)) {
        if (root->type != YAML_MAPPING_NODE)
            return fail(c, root, "the config must be a map of sections, got %s", kind_name(root));
        for (p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
            const yaml_node_t *k = node(c, p->key);

            if (!k || k->type != YAML_SCALAR_NODE)
                return fail(c, k, "section names must be strings, got %s", kind_name(k));
            for (i = 0; i < SLT_ARRAY_SIZE(sections); i++)
                if (!strcmp(sval(k), sections[i]))
                    break;
            if (i == SLT_ARRAY_SIZE(sections))
                return fail(c, k,
                            "unknown key '%s' at top level (sections are formats, inputs, "
                            "slis, slos, agent, aggregator, alerting)",
                            sval(k));
            if (sec[i])
                return fail(c, k, "duplicate section '%s'", sval(k));
            sec[i] = node(c, p->value);
        }
    }
    if (sec[4] && !is_null(sec[4]) && (rc = load_agent(c, sec[4])) < 0)
        return rc;
    if (sec[5] && !is_null(sec[5]) && (rc = load_aggregator(c, sec[5])) < 0)
        return rc;
    if (c->cfg->aggregator.nredis_cluster) {
        const yaml_node_pair_t *q;

        for (q = sec[5]->data.mapping.pairs.start; q < sec[5]->data.mapping.pairs.top; q++) {
            const yaml_node_t *k = node(c, q->key);

            if (k && !strcmp(sval(k), "redis"))
                return fail(c, k, "aggregator: 'redis' and 'redis_cluster' cannot both be set");
        }
    }
    if ((rc = load_alerting(c, sec[6])) < 0)
        return rc;
    /* slos are checked against the aggregator's retention, so they come last. */
    if ((rc = load_formats(c, sec[0])) < 0 || (rc = load_inputs(c, sec[1])) < 0 ||
        (rc = load_slis(c, sec[2])) < 0 || (rc = load_slos(c, sec[3])) < 0)
        return rc;
    if (!c->cfg->agent.id) {
        char host[256];

        if (gethostname(host, sizeof(host) - 1) < 0)
            strcpy(host, "localhost");
        host[sizeof(host) - 1] = '\0';
        if (!(c->cfg->agent.id = slt_strdup(host)))
            return nomem(c);
    }
    return 0;
}

static int yaml_fail(struct ctx *c, yaml_parser_t *parser)
{
    if (parser->error == YAML_MEMORY_ERROR)
        return nomem(c);
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
static int yaml_precheck(struct ctx *c, const char *yaml, size_t len)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    size_t nev = 0, nanchors = 0;
    int depth = 0, rc = 0, done = 0;

    if (!yaml_parser_initialize(&parser))
        return nomem(c);
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    while (!done && rc == 0) {
        const unsigned char *anchor = NULL;

        if (!yaml_parser_parse(&parser, &ev)) {
            rc = yaml_fail(c, &parser);
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

int slt_config_load_string(const char *name, const char *yaml, size_t len, struct slt_config **out,
                           char *err, size_t errlen)
{
    yaml_parser_t parser;
    yaml_document_t doc, doc2;
    struct ctx c = {0};
    char dummy[1];
    int rc, loaded = 0;

    *out = NULL;
    c.file = name ? name : "<config>";
    c.err = err ? err : dummy;
    c.errlen = err ? errlen : 0;
    if (c.errlen)
        c.err[0] = '\0';
    if (len > MAX_CONFIG_BYTES)
        return fail(&c, NULL, "config is too large (%zu bytes, max %d)", len, MAX_CONFIG_BYTES);
    if ((rc = yaml_precheck(&c, yaml, len)) < 0)
        return rc;
    if (!yaml_parser_initialize(&parser))
        return nomem(&c);
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    c.doc = &doc;
    if (!yaml_parser_load(&parser, &doc)) {
        rc = yaml_fail(&c, &parser);
        goto out;
    }
    loaded = 1;
    if (doc.nodes.top - doc.nodes.start > MAX_YAML_NODES) {
        rc = fail(&c, NULL, "config is too large (more than %d yaml nodes)", MAX_YAML_NODES);
        goto out;
    }
    if (yaml_document_get_root_node(&doc)) {
        if (!yaml_parser_load(&parser, &doc2)) {
            rc = yaml_fail(&c, &parser);
            goto out;
        }
        if (yaml_document_get_root_node(&doc2)) {
            const yaml_node_t *r2 = yaml_document_get_root_node(&doc2);

            rc = fail(&c, r2, "only one yaml document is allowed");
            yaml_document_delete(&doc2);
            goto out;
        }
        yaml_document_delete(&doc2);
    }
    c.cfg = slt_calloc(1, sizeof(*c.cfg));
    if (!c.cfg) {
        rc = nomem(&c);
        goto out;
    }
    rc = load_root(&c, yaml_document_get_root_node(&doc));
    if (rc == 0 && !(c.cfg->path = slt_strdup(c.file)))
        rc = nomem(&c);
    /* The SLI array does not move from here on, so every user gets the atoms ordered cheap first
     * and the classification plans (slt_sli_prepare) without asking; a plan that cannot be built
     * only costs speed. */
    for (size_t i = 0; rc == 0 && i < c.cfg->nslis; i++)
        (void)slt_sli_prepare(&c.cfg->slis[i]);
out:
    if (loaded)
        yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    slt_free(c.fmt_lines);
    if (rc < 0) {
        slt_config_free(c.cfg);
        return rc;
    }
    *out = c.cfg;
    return 0;
}

int slt_config_load_file(const char *path, struct slt_config **out, char *err, size_t errlen)
{
    struct stat st;
    char *buf;
    size_t got = 0;
    ssize_t r;
    int fd, rc;

    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        if (err && errlen)
            snprintf(err, errlen, "cannot open config '%s': %s", path, strerror(-rc));
        return rc;
    }
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        close(fd);
        if (err && errlen)
            snprintf(err, errlen, "cannot stat config '%s': %s", path, strerror(-rc));
        return rc;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > MAX_CONFIG_BYTES) {
        close(fd);
        if (err && errlen)
            snprintf(err, errlen, "%s:1:1: config is %s (max %d bytes)", path,
                     S_ISREG(st.st_mode) ? "too large" : "not a regular file", MAX_CONFIG_BYTES);
        return SLT_ECONFIG;
    }
    buf = slt_malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        if (err && errlen)
            snprintf(err, errlen, "%s: out of memory", path);
        return SLT_ENOMEM;
    }
    /* Read one byte more than stat said, to notice a file that grew past the bound. */
    while (got <= (size_t)st.st_size) {
        r = read(fd, buf + got, (size_t)st.st_size + 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -errno;
            close(fd);
            slt_free(buf);
            if (err && errlen)
                snprintf(err, errlen, "cannot read config '%s': %s", path, strerror(-rc));
            return rc;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (got > (size_t)st.st_size) {
        slt_free(buf);
        if (err && errlen)
            snprintf(err, errlen, "cannot read config '%s': it changed while being read", path);
        return SLT_ECONFIG;
    }
    rc = slt_config_load_string(path, buf, got, out, err, errlen);
    slt_free(buf);
    return rc;
}

/* A duration in the largest unit that writes it whole: 300ms, 2s, 1500us. */
static const char *duration_text(int64_t us, char *buf, size_t len)
{
    if (us % 1000000 == 0)
        snprintf(buf, len, "%llds", (long long)(us / 1000000));
    else if (us % 1000 == 0)
        snprintf(buf, len, "%lldms", (long long)(us / 1000));
    else
        snprintf(buf, len, "%lldus", (long long)us);
    return buf;
}

int slt_config_default(const char *format_name, int64_t latency_threshold_us,
                       struct slt_config **out, char *err, size_t errlen)
{
    struct slt_format *fmt;
    struct slt_buf b;
    char names[256], thr[32];
    int has_latency, rc;

    *out = NULL;
    rc = format_name ? slt_format_builtin(format_name, &fmt) : SLT_ENOTFOUND;
    if (rc == SLT_ENOMEM) {
        if (err && errlen)
            snprintf(err, errlen, "out of memory");
        return rc;
    }
    if (rc < 0) {
        if (err && errlen)
            snprintf(err, errlen, "unknown format '%s' (built-in formats: %s)",
                     format_name ? format_name : "", builtin_list(names, sizeof(names)));
        return SLT_ENOTFOUND;
    }
    has_latency = slt_format_has_latency(fmt);
    slt_format_free(fmt);
    slt_buf_init(&b, 4096);
    rc = slt_buf_printf(&b,
                        "inputs:\n"
                        "  - { name: default, format: '%s' }\n"
                        "slis:\n"
                        "  - name: availability\n"
                        "    input: default\n"
                        "    exclude: [ { status: 4xx }, { status: '^0' } ]\n"
                        "    bad: { status: 5xx }\n",
                        format_name);
    if (rc == 0 && has_latency && latency_threshold_us > 0)
        rc = slt_buf_printf(&b,
                            "  - name: latency\n"
                            "    input: default\n"
                            "    exclude: [ { status: '^[045]' }, { status: '101' } ]\n"
                            "    bad: { latency_over: %s }\n",
                            duration_text(latency_threshold_us, thr, sizeof(thr)));
    if (rc < 0) {
        slt_buf_release(&b);
        if (err && errlen)
            snprintf(err, errlen, "out of memory");
        return SLT_ENOMEM;
    }
    rc = slt_config_load_string("<default config>", b.p, b.len, out, err, errlen);
    slt_buf_release(&b);
    return rc;
}

static int is_user_format(const struct slt_config *cfg, const struct slt_format *fmt)
{
    size_t i;

    for (i = 0; i < cfg->nformats; i++)
        if (cfg->formats[i] == fmt)
            return 1;
    return 0;
}

static void slt_tls_conf_release(struct slt_tls_conf *t)
{
    slt_free(t->ca_file);
    slt_free(t->cert_file);
    slt_free(t->key_file);
    slt_free(t->client_ca_file);
    slt_free(t->server_name);
    memset(t, 0, sizeof(*t));
}

void slt_config_free(struct slt_config *cfg)
{
    size_t i;

    if (!cfg)
        return;
    for (i = 0; i < cfg->ninputs; i++) {
        struct slt_input *in = &cfg->inputs[i];

        if (in->fmt && !is_user_format(cfg, in->fmt))
            slt_format_free(in->fmt);
        slt_free(in->name);
        slt_free(in->format_name);
        free_strlist(in->paths, in->npaths);
        slt_free(in->s3.bucket);
        slt_free(in->s3.prefix);
        slt_free(in->s3.region);
        slt_free(in->s3.endpoint);
    }
    slt_free(cfg->inputs);
    for (i = 0; i < cfg->nformats; i++)
        slt_format_free(cfg->formats[i]);
    slt_free(cfg->formats);
    for (i = 0; i < cfg->nslis; i++)
        slt_sli_release(&cfg->slis[i]);
    slt_free(cfg->slis);
    for (i = 0; i < cfg->nslos; i++)
        slo_release(&cfg->slos[i]);
    slt_free(cfg->slos);
    slt_free(cfg->agent.id);
    free_strlist(cfg->agent.aggregators, cfg->agent.naggregators);
    slt_free(cfg->agent.token_file);
    slt_free(cfg->agent.state_dir);
    slt_free(cfg->agent.status_listen);
    slt_free(cfg->agent.status_token_file);
    slt_tls_conf_release(&cfg->agent.tls);
    slt_tls_conf_release(&cfg->agent.status_tls);
    slt_tls_conf_release(&cfg->aggregator.tls);
    slt_tls_conf_release(&cfg->aggregator.http_tls);
    slt_free(cfg->aggregator.api_token_file);
    slt_free(cfg->aggregator.listen);
    slt_free(cfg->aggregator.http_listen);
    slt_free(cfg->aggregator.redis);
    free_strlist(cfg->aggregator.redis_cluster, cfg->aggregator.nredis_cluster);
    slt_free(cfg->aggregator.token_file);
    slt_free(cfg->alerting.alertmanager);
    slt_free(cfg->alerting.webhook);
    slt_free(cfg->alerting.external_url);
    slt_free(cfg->alerting.pagerduty_routing_key_file);
    slt_free(cfg->alerting.pagerduty_url);
    slt_free(cfg->alerting.tls_ca_file);
    slt_free(cfg->alerting.bearer_token_file);
    slt_free(cfg->alerting.basic_auth_username);
    slt_free(cfg->alerting.basic_auth_password_file);
    for (i = 0; i < cfg->alerting.nlabels; i++) {
        slt_free(cfg->alerting.labels[i].name);
        slt_free(cfg->alerting.labels[i].value);
    }
    slt_free(cfg->alerting.labels);
    slt_free(cfg->path);
    slt_free(cfg);
}

int slt_config_input_index(const struct slt_config *cfg, const char *name)
{
    size_t i;

    for (i = 0; i < cfg->ninputs; i++)
        if (cfg->inputs[i].name && !strcmp(cfg->inputs[i].name, name))
            return (int)i;
    return -1;
}

int slt_config_sli_index(const struct slt_config *cfg, const char *name)
{
    size_t i;

    for (i = 0; i < cfg->nslis; i++)
        if (cfg->slis[i].name && !strcmp(cfg->slis[i].name, name))
            return (int)i;
    return -1;
}
