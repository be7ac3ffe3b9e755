/*
 * The formats and inputs sections: user formats built with slt_format_new() (a regex with
 * named groups, or JSON fields), then each input with its paths or S3 source and the format it
 * reads, a user format or a built-in one.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "config_load.h"

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
            return slt__config_fail(c, k, "%s: keys of 'json' must be field names, got %s", what,
                                    kind_name(k));
        f = slt_field_from_name(sval(k), k->data.scalar.length);
        if (f < 0)
            return slt__config_fail(
                c, k,
                "%s: '%s' is not a canonical field (time, status, latency, method, "
                "path, host, client, ...); use the dotted path in conditions instead",
                what, sval(k));
        if (spec->json_field[f])
            return slt__config_fail(c, k, "%s: duplicate key '%s' in 'json'", what, sval(k));
        if (!v || v->type != YAML_SCALAR_NODE || is_null(v) || v->data.scalar.length > 256 ||
            memchr(sval(v), '\0', v->data.scalar.length))
            return slt__config_fail(c, v ? v : k,
                                    "%s: 'json.%s' must be a dotted path like resp.status", what,
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

int slt__config_load_formats(struct ctx *c, const yaml_node_t *n)
{
    struct slt_config *cfg = c->cfg;
    size_t cnt, i, j;
    int rc;

    if ((rc = slt__config_section_items(c, n, "formats", &cnt)) < 0 || !cnt)
        return rc;
    cfg->formats = slt_calloc(cnt, sizeof(*cfg->formats));
    c->fmt_lines = slt_calloc(cnt, sizeof(int));
    if (!cfg->formats || !c->fmt_lines)
        return slt__config_nomem(c);
    for (i = 0; i < cnt; i++) {
        const yaml_node_t *it = node(c, n->data.sequence.items.start[i]);
        struct fmt_decl d = {0};
        struct slt_format_spec spec = {0};
        char what[96], msg[512];

        slt__config_item_what(c, it, "format", i, what, sizeof(what));
        if ((rc = slt__config_apply_defaults(c, "formats", &d)) < 0 ||
            (rc = slt__config_load_map(c, it, "formats", &d, what)) < 0 ||
            (rc = slt__config_check_name(c, it, what, d.name)) < 0)
            goto fail_decl;
        for (j = 0; j < cfg->nformats; j++) {
            if (!strcmp(slt_format_name(cfg->formats[j]), d.name)) {
                rc = slt__config_fail(c, map_get(c, it, "name"),
                                      "duplicate format name '%s' (first defined at line %d)",
                                      d.name, c->fmt_lines[j]);
                goto fail_decl;
            }
        }
        if (is_builtin_name(d.name)) {
            rc = slt__config_fail(c, map_get(c, it, "name"),
                                  "%s: '%s' is the name of a built-in format", what, d.name);
            goto fail_decl;
        }
        if (d.json && d.regex) {
            rc = slt__config_fail(c, map_get(c, it, "json"),
                                  "%s: give either 'regex' or 'json', not both", what);
            goto fail_decl;
        }
        if (!d.json && !d.regex) {
            rc = slt__config_fail(c, it, "%s: missing key 'regex' (or 'json')", what);
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
                rc = slt__config_nomem(c);
            } else {
                const yaml_node_t *at = map_get(c, it, d.regex ? "regex" : "json");

                if (strstr(msg, "time_layout") && map_get(c, it, "time_layout"))
                    at = map_get(c, it, "time_layout");
                rc = slt__config_fail(c, at, "%s", msg);
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

const char *slt__config_builtin_list(char *buf, size_t len)
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

int slt__config_load_inputs(struct ctx *c, const yaml_node_t *n)
{
    struct slt_config *cfg = c->cfg;
    size_t cnt, i, j;
    int rc;

    if ((rc = slt__config_section_items(c, n, "inputs", &cnt)) < 0 || !cnt)
        return rc;
    cfg->inputs = slt_calloc(cnt, sizeof(*cfg->inputs));
    if (!cfg->inputs)
        return slt__config_nomem(c);
    for (i = 0; i < cnt; i++) {
        const yaml_node_t *it = node(c, n->data.sequence.items.start[i]);
        struct slt_input *in = &cfg->inputs[cfg->ninputs++];
        char what[96], names[256];

        slt__config_item_what(c, it, "input", i, what, sizeof(what));
        in->line = (int)it->start_mark.line + 1;
        if ((rc = slt__config_apply_defaults(c, "inputs", in)) < 0 ||
            (rc = slt__config_load_map(c, it, "inputs", in, what)) < 0 ||
            (rc = slt__config_check_name(c, it, what, in->name)) < 0)
            return rc;
        if (in->s3_node) {
            char what3[128];

            snprintf(what3, sizeof(what3), "%s: s3", what);
            if ((rc = slt__config_apply_defaults(c, "inputs.s3", &in->s3)) < 0 ||
                (rc = slt__config_load_map(c, in->s3_node, "inputs.s3", &in->s3, what3)) < 0)
                return rc;
            if (in->npaths)
                return slt__config_fail(c, map_get(c, it, "s3"), "%s: give paths or s3, not both",
                                        what);
            if (in->s3.endpoint && strncmp(in->s3.endpoint, "http://", 7) != 0 &&
                strncmp(in->s3.endpoint, "https://", 8) != 0)
                return slt__config_fail(
                    c, map_get(c, it, "s3"),
                    "%s: s3.endpoint must start with http:// or https://, got '%s'", what,
                    in->s3.endpoint);
            in->s3_node = NULL;
        }
        for (j = 0; j + 1 < cfg->ninputs; j++)
            if (!strcmp(cfg->inputs[j].name, in->name))
                return slt__config_fail(c, map_get(c, it, "name"),
                                        "duplicate input name '%s' (first defined at line %d)",
                                        in->name, cfg->inputs[j].line);
        for (j = 0; j < cfg->nformats; j++) {
            if (!strcmp(slt_format_name(cfg->formats[j]), in->format_name)) {
                in->fmt = cfg->formats[j];
                break;
            }
        }
        if (!in->fmt && (rc = slt_format_builtin(in->format_name, &in->fmt)) < 0) {
            in->fmt = NULL;
            if (rc == SLT_ENOMEM)
                return slt__config_nomem(c);
            return slt__config_fail(
                c, map_get(c, it, "format"),
                "%s: unknown format '%s' (built-in formats: %s; or define it under "
                "formats:)",
                what, in->format_name, slt__config_builtin_list(names, sizeof(names)));
        }
    }
    return 0;
}
