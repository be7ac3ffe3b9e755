/*
 * The slis section and its rule conditions: each `match`, `exclude` and `bad` (a map of
 * conditions or a list of such maps, with `not:` and status lists) becomes an slt_condset of
 * compiled atoms for the SLI's input format (parsers/src/rule.c). The atoms' order for
 * evaluation is slt_sli_prepare's, which slt_config_load_string calls once the SLIs are loaded.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <yaml.h>

#include "config_load.h"

/* One more (zeroed) atom in map for the condition named by key k, counted against MAX_ATOMS. */
static int add_atom(struct ctx *c, const yaml_node_t *k, struct slt_condmap *map, int negate,
                    struct slt_atom **out)
{
    struct slt_atom *a;

    if (++c->natoms > MAX_ATOMS)
        return slt__config_fail(c, k, "too many conditions in the config (max %d)", MAX_ATOMS);
    if (!(a = slt_condmap_add_atom(map)))
        return slt__config_nomem(c);
    a->negate = negate;
    a->line = (int)k->start_mark.line + 1;
    a->col = (int)k->start_mark.column + 1;
    *out = a;
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
        return slt__config_fail(c, v, "%s: a status list needs 1 to %d entries, got %zu", what,
                                MAX_MAP_ATOMS, cnt);
    if ((rc = add_atom(c, k, map, negate, &a)) < 0)
        return rc;
    for (i = 0; i < cnt; i++) {
        const yaml_node_t *it = node(c, v->data.sequence.items.start[i]);

        if (!it || it->type != YAML_SCALAR_NODE || is_null(it) ||
            it->data.scalar.length > MAX_STR || memchr(sval(it), '\0', it->data.scalar.length))
            return slt__config_fail(c, it ? it : v,
                                    "%s: entries of a status list must be statuses, got %s", what,
                                    kind_name(it));
        msg[0] = '\0';
        rc = slt_atom_status_list_add(a, in->fmt, sval(it), msg, sizeof(msg));
        if (rc == SLT_ENOMEM)
            return slt__config_nomem(c);
        if (rc < 0)
            return slt__config_fail(c, it, "%s: %s", what, msg);
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
        return slt__config_fail(c, n, "%s: too many conditions in one map of '%s' (%zu, max %d)",
                                what, stage, npairs, MAX_MAP_ATOMS);
    for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node(c, p->key), *v = node(c, p->value);
        const char *name, *val;
        struct slt_atom *a;
        char msg[512];

        if (!k || k->type != YAML_SCALAR_NODE)
            return slt__config_fail(c, k, "%s: condition names in '%s' must be strings, got %s",
                                    what, stage, kind_name(k));
        name = sval(k);
        for (q = n->data.mapping.pairs.start; q < p; q++)
            if (!strcmp(sval(node(c, q->key)), name))
                return slt__config_fail(c, k, "%s: duplicate condition '%s' in '%s'", what, name,
                                        stage);
        if (!strcmp(name, "not")) {
            if (negate)
                return slt__config_fail(c, k, "%s: 'not' cannot be nested", what);
            if (!v || v->type != YAML_MAPPING_NODE)
                return slt__config_fail(c, v ? v : k,
                                        "%s: 'not' must be a map of conditions, got %s", what,
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
            return slt__config_fail(c, v ? v : k,
                                    "%s: condition '%s' in '%s' must be a string, got %s", what,
                                    name, stage, kind_name(v));
        val = sval(v);
        if (v->data.scalar.length > MAX_STR || memchr(val, '\0', v->data.scalar.length))
            return slt__config_fail(c, v, "%s: condition '%s' is too long or holds a NUL byte",
                                    what, name);
        if ((rc = add_atom(c, k, map, negate, &a)) < 0)
            return rc;
        msg[0] = '\0';
        if (!strcmp(name, "latency_over") || !strcmp(name, "latency_under")) {
            int64_t us;

            if (!slt_format_has_latency(in->fmt))
                return slt__config_fail(c, k,
                                        "%s: format '%s' has no latency, so '%s' cannot be used",
                                        what, in->format_name, name);
            if (slt_parse_duration_us(val, v->data.scalar.length, 0, &us) < 0)
                return slt__config_fail(
                    c, v,
                    "%s: bad duration '%s' for '%s' (give a unit: e.g. 300ms, 1.5s, "
                    "250us)",
                    what, val, name);
            rc = slt_atom_init_latency(
                a, name[8] == 'o' ? SLT_ATOM_LATENCY_OVER : SLT_ATOM_LATENCY_UNDER, us, val);
            if (rc < 0)
                return slt__config_nomem(c);
            continue;
        }
        if (!strcmp(name, "status"))
            rc = slt_atom_init_status(a, in->fmt, val, msg, sizeof(msg));
        else
            rc = slt_atom_init_regex(a, in->fmt, name, val, msg, sizeof(msg));
        if (rc == SLT_ENOMEM)
            return slt__config_nomem(c);
        if (rc == SLT_ENOTFOUND)
            return slt__config_fail(c, k, "%s: %s", what, msg);
        if (rc < 0)
            return slt__config_fail(c, v, "%s: %s", what, msg);
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
            return slt__config_nomem(c);
        return load_condmap(c, n, map, in, what, stage, 0);
    }
    if (n->type != YAML_SEQUENCE_NODE)
        return slt__config_fail(
            c, n, "%s: '%s' must be a map of conditions or a list of such maps, got %s", what,
            stage, kind_name(n));
    cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (cnt == 0)
        return slt__config_fail(c, n, "%s: '%s' is an empty list (leave it out instead)", what,
                                stage);
    if (cnt > MAX_MAPS)
        return slt__config_fail(c, n, "%s: '%s' has too many maps (%zu, max %d)", what, stage, cnt,
                                MAX_MAPS);
    for (i = 0; i < cnt; i++) {
        const yaml_node_t *it = node(c, n->data.sequence.items.start[i]);

        if (!it || it->type != YAML_MAPPING_NODE)
            return slt__config_fail(c, it ? it : n,
                                    "%s: entries of '%s' must be maps of conditions, got %s", what,
                                    stage, kind_name(it));
        if (!(map = slt_condset_add_map(cs)))
            return slt__config_nomem(c);
        if ((rc = load_condmap(c, it, map, in, what, stage, 0)) < 0)
            return rc;
    }
    return 0;
}

int slt__config_load_slis(struct ctx *c, const yaml_node_t *n)
{
    struct slt_config *cfg = c->cfg;
    size_t cnt, i, j;
    int rc;

    if ((rc = slt__config_section_items(c, n, "slis", &cnt)) < 0 || !cnt)
        return rc;
    cfg->slis = slt_calloc(cnt, sizeof(*cfg->slis));
    if (!cfg->slis)
        return slt__config_nomem(c);
    for (i = 0; i < cnt; i++) {
        const yaml_node_t *it = node(c, n->data.sequence.items.start[i]);
        struct sli_decl d = {0};
        struct slt_sli *sli;
        const struct slt_input *in;
        int idx;
        char what[96];

        slt__config_item_what(c, it, "sli", i, what, sizeof(what));
        rc = slt__config_load_map(c, it, "slis", &d, what);
        sli = &cfg->slis[cfg->nslis++];
        sli->name = d.name;
        sli->input = d.input;
        sli->line = (int)it->start_mark.line + 1;
        if (rc < 0 || (rc = slt__config_check_name(c, it, what, sli->name)) < 0)
            return rc;
        for (j = 0; j + 1 < cfg->nslis; j++)
            if (!strcmp(cfg->slis[j].name, sli->name))
                return slt__config_fail(c, map_get(c, it, "name"),
                                        "duplicate sli name '%s' (first defined at line %d)",
                                        sli->name, cfg->slis[j].line);
        if (!sli->input) {
            if (cfg->ninputs != 1)
                return slt__config_fail(c, it,
                                        "%s: missing key 'input' (needed when there is not exactly "
                                        "one input)",
                                        what);
            if (!(sli->input = slt_strdup(cfg->inputs[0].name)))
                return slt__config_nomem(c);
        }
        idx = slt_config_input_index(cfg, sli->input);
        if (idx < 0)
            return slt__config_fail(c, map_get(c, it, "input"), "%s: unknown input '%s'", what,
                                    sli->input);
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
