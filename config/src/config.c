/*
 * The YAML config loader. libyaml loads the file into a node tree with line/column marks
 * (yaml_parser_load); we walk it once (config_yaml.c), driven by the key table (config_keys.c),
 * which also gives the defaults, the bounds, the rejection of unknown keys and the key reference
 * in docs/CONFIG.md. This file holds the sections' own rules and the entry points.
 *
 * Every problem is reported as "file:line:col: message" (1-based) and rejects the whole
 * config, so a reload keeps the old one.
 */
#include <errno.h>
#include <fcntl.h>
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

static int load_formats(struct ctx *c, const yaml_node_t *n)
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
                what, in->format_name, builtin_list(names, sizeof(names)));
        }
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
            return slt__config_fail(c, n, "%s: 'alerts' has too many tiers (%zu, max %d)", what,
                                    cnt, SLT_SLO_MAX_TIERS);
    } else {
        cnt = SLT_ARRAY_SIZE(default_tiers);
    }
    if (cnt == 0)
        return 0; /* `alerts: []`: no alerts for this SLO */
    slo->tiers = slt_calloc(cnt, sizeof(*slo->tiers));
    if (!slo->tiers)
        return slt__config_nomem(c);
    for (i = 0; i < cnt; i++) {
        struct slt_slo_tier *t = &slo->tiers[slo->ntiers++];

        if (!n) {
            /* a default tier longer than the SLO window means nothing: a 1d SLO has three */
            if (default_tiers[i].long_s > slo->window_s) {
                slo->ntiers--;
                continue;
            }
            if (!(t->name = slt_strdup(default_tiers[i].name)))
                return slt__config_nomem(c);
            t->long_s = default_tiers[i].long_s;
            t->short_s = default_tiers[i].short_s;
            t->budget_percent = default_tiers[i].budget_percent;
            t->severity = default_tiers[i].severity;
        } else {
            const yaml_node_t *it = node(c, n->data.sequence.items.start[i]);
            char twhat[160];

            snprintf(twhat, sizeof(twhat), "%s: alert tier #%zu", what, i + 1);
            if (!it)
                return slt__config_fail(c, n, "%s: bad entry", twhat);
            if ((rc = slt__config_apply_defaults(c, "slos.alerts", t)) < 0 ||
                (rc = slt__config_load_map(c, it, "slos.alerts", t, twhat)) < 0 ||
                (rc = slt__config_check_name(c, it, twhat, t->name)) < 0)
                return rc;
            snprintf(twhat, sizeof(twhat), "%s: alert tier '%s'", what, t->name);
            for (j = 0; j + 1 < slo->ntiers; j++)
                if (!strcmp(slo->tiers[j].name, t->name))
                    return slt__config_fail(c, map_get(c, it, "name"),
                                            "%s: duplicate tier name '%s'", what, t->name);
            if (t->long_s % 60 || t->short_s % 60)
                return slt__config_fail(c, it, "%s: 'long' and 'short' must be whole minutes",
                                        twhat);
            if (t->short_s >= t->long_s)
                return slt__config_fail(c, map_get(c, it, "short"),
                                        "%s: 'short' must be shorter than 'long'", twhat);
            if (t->long_s > slo->window_s)
                return slt__config_fail(c, map_get(c, it, "long"),
                                        "%s: 'long' is longer than the SLO window", twhat);
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

    if ((rc = slt__config_apply_defaults(c, "slos", d)) < 0 ||
        (rc = slt__config_apply_defaults(c, "slos.policy", slo)) < 0 ||
        (rc = slt__config_load_map(c, it, "slos", d, what)) < 0 ||
        (rc = slt__config_check_name(c, it, what, slo->name)) < 0)
        return rc;
    for (j = 0; j + 1 < cfg->nslos; j++)
        if (!strcmp(cfg->slos[j].name, slo->name))
            return slt__config_fail(c, map_get(c, it, "name"),
                                    "duplicate slo name '%s' (first defined at line %d)", slo->name,
                                    cfg->slos[j].line);
    idx = slt_config_sli_index(cfg, slo->sli);
    if (idx < 0)
        return slt__config_fail(c, map_get(c, it, "sli"), "%s: unknown sli '%s'", what, slo->sli);
    slo->sli_idx = (size_t)idx;
    if (slo->window_s > cfg->aggregator.day_retention_s) {
        char w[32], r[32];

        slt__config_fmt_dur(w, sizeof(w), slo->window_s * SEC);
        slt__config_fmt_dur(r, sizeof(r), cfg->aggregator.day_retention_s * SEC);
        return slt__config_fail(c, map_get(c, it, "window"),
                                "%s: window %s is longer than aggregator.day_retention (%s)", what,
                                w, r);
    }
    if (d->policy && (rc = slt__config_load_map(c, d->policy, "slos.policy", slo, what)) < 0)
        return rc;
    if (slo->policy_endangered > slo->policy_healthy)
        return slt__config_fail(c, d->policy,
                                "%s: policy 'endangered' (%g) is above 'healthy' (%g)", what,
                                slo->policy_endangered, slo->policy_healthy);
    if (d->labels && (rc = load_labels(c, d->labels, what, &slo->labels, &slo->nlabels)) < 0)
        return rc;
    if (slo->dedup_key && (!slo->dedup_key[0] || strlen(slo->dedup_key) > 255))
        return slt__config_fail(c, map_get(c, it, "dedup_key"),
                                "%s: 'dedup_key' must be 1 to 255 bytes", what);
    if (!slo->dedup_key && !(slo->dedup_key = slt_strdup(slo->name)))
        return slt__config_nomem(c);
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

    if ((rc = slt__config_section_items(c, n, "slos", &cnt)) < 0 || !cnt)
        return rc;
    cfg->slos = slt_calloc(cnt, sizeof(*cfg->slos));
    if (!cfg->slos)
        return slt__config_nomem(c);
    for (i = 0; i < cnt; i++) {
        const yaml_node_t *it = node(c, n->data.sequence.items.start[i]);
        struct slo_decl d;
        char what[96];

        memset(&d, 0, sizeof(d));
        slt__config_item_what(c, it, "slo", i, what, sizeof(what));
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
        return slt__config_fail(c, n, "%s: 'labels' has too many entries (%zu, max %d)", what, cnt,
                                MAX_LABELS);
    if (cnt == 0)
        return 0;
    a->labels = slt_calloc(cnt, sizeof(*a->labels));
    if (!a->labels)
        return slt__config_nomem(c);
    /* the caller owns what was loaded, even on failure */
    *out = a->labels;
    for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node(c, p->key), *v = node(c, p->value);
        struct slt_label *l;

        if (!k || k->type != YAML_SCALAR_NODE || !label_name_ok(sval(k), k->data.scalar.length)) {
            rc = slt__config_fail(
                c, k,
                "%s: label names must be letters, digits and '_' (not first), at most %d "
                "bytes",
                what, MAX_LABEL_NAME);
            break;
        }
        for (i = 0; i < SLT_ARRAY_SIZE(reserved); i++)
            if (!strcmp(sval(k), reserved[i]))
                break;
        if (i < SLT_ARRAY_SIZE(reserved)) {
            rc = slt__config_fail(c, k, "%s: label '%s' is set by slitail and cannot be configured",
                                  what, sval(k));
            break;
        }
        for (i = 0; i < a->nlabels; i++)
            if (!strcmp(a->labels[i].name, sval(k)))
                break;
        if (i < a->nlabels) {
            rc = slt__config_fail(c, k, "%s: duplicate label '%s'", what, sval(k));
            break;
        }
        if (!v || v->type != YAML_SCALAR_NODE || is_null(v)) {
            rc = slt__config_fail(c, v ? v : k, "%s: label '%s' must be a string, got %s", what,
                                  sval(k), kind_name(v));
            break;
        }
        if (v->data.scalar.length > MAX_LABEL_VALUE ||
            memchr(sval(v), '\0', v->data.scalar.length)) {
            rc =
                slt__config_fail(c, v, "%s: label '%s' is longer than %d bytes or holds a NUL byte",
                                 what, sval(k), MAX_LABEL_VALUE);
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
            rc = slt__config_nomem(c);
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
    if ((rc = slt__config_apply_defaults(c, "alerting", &d)) < 0)
        return rc;
    if (n && !is_null(n))
        rc = slt__config_load_map(c, n, "alerting", &d, "alerting");
    /* the config owns whatever was set, even on failure, so slt_config_free releases it */
    c->cfg->alerting = d.conf;
    if (rc == 0 && d.labels)
        rc = load_labels(c, d.labels, "alerting", &c->cfg->alerting.labels,
                         &c->cfg->alerting.nlabels);
    if (rc == 0 && d.pagerduty) {
        rc = slt__config_apply_defaults(c, "alerting.pagerduty", &c->cfg->alerting);
        if (rc == 0)
            rc = slt__config_load_map(c, d.pagerduty, "alerting.pagerduty", &c->cfg->alerting,
                                      "alerting.pagerduty");
    }
    if (rc == 0 && d.basic_auth) {
        if (c->cfg->alerting.bearer_token_file)
            return slt__config_fail(
                c, d.basic_auth,
                "alerting: 'basic_auth' and 'bearer_token_file' cannot both be set");
        rc = slt__config_apply_defaults(c, "alerting.basic_auth", &c->cfg->alerting);
        if (rc == 0)
            rc = slt__config_load_map(c, d.basic_auth, "alerting.basic_auth", &c->cfg->alerting,
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
    if ((rc = slt__config_apply_defaults(c, section, t)) < 0)
        return rc;
    if ((rc = slt__config_load_map(c, n, section, t, section)) < 0)
        return rc;
    if (!t->cert_file != !t->key_file)
        return slt__config_fail(c, n, "%s: cert_file and key_file go together", section);
    return 0;
}

static int load_agent(struct ctx *c, const yaml_node_t *n)
{
    struct agent_decl d;
    int rc;

    memset(&d, 0, sizeof(d));
    d.conf = c->cfg->agent;
    rc = slt__config_load_map(c, n, "agent", &d, "agent");
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
    rc = slt__config_load_map(c, n, "aggregator", &d, "aggregator");
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

    if ((rc = slt__config_apply_defaults(c, "agent", &c->cfg->agent)) < 0 ||
        (rc = slt__config_apply_defaults(c, "aggregator", &c->cfg->aggregator)) < 0)
        return rc;
    if (root && !is_null(root)) {
        if (root->type != YAML_MAPPING_NODE)
            return slt__config_fail(c, root, "the config must be a map of sections, got %s",
                                    kind_name(root));
        for (p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
            const yaml_node_t *k = node(c, p->key);

            if (!k || k->type != YAML_SCALAR_NODE)
                return slt__config_fail(c, k, "section names must be strings, got %s",
                                        kind_name(k));
            for (i = 0; i < SLT_ARRAY_SIZE(sections); i++)
                if (!strcmp(sval(k), sections[i]))
                    break;
            if (i == SLT_ARRAY_SIZE(sections))
                return slt__config_fail(
                    c, k,
                    "unknown key '%s' at top level (sections are formats, inputs, "
                    "slis, slos, agent, aggregator, alerting)",
                    sval(k));
            if (sec[i])
                return slt__config_fail(c, k, "duplicate section '%s'", sval(k));
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
                return slt__config_fail(
                    c, k, "aggregator: 'redis' and 'redis_cluster' cannot both be set");
        }
    }
    if ((rc = load_alerting(c, sec[6])) < 0)
        return rc;
    /* slos are checked against the aggregator's retention, so they come last. */
    if ((rc = load_formats(c, sec[0])) < 0 || (rc = load_inputs(c, sec[1])) < 0 ||
        (rc = slt__config_load_slis(c, sec[2])) < 0 || (rc = load_slos(c, sec[3])) < 0)
        return rc;
    if (!c->cfg->agent.id) {
        char host[256];

        if (gethostname(host, sizeof(host) - 1) < 0)
            strcpy(host, "localhost");
        host[sizeof(host) - 1] = '\0';
        if (!(c->cfg->agent.id = slt_strdup(host)))
            return slt__config_nomem(c);
    }
    return 0;
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
        return slt__config_fail(&c, NULL, "config is too large (%zu bytes, max %d)", len,
                                MAX_CONFIG_BYTES);
    if ((rc = slt__config_yaml_precheck(&c, yaml, len)) < 0)
        return rc;
    if (!yaml_parser_initialize(&parser))
        return slt__config_nomem(&c);
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    c.doc = &doc;
    if (!yaml_parser_load(&parser, &doc)) {
        rc = slt__config_yaml_fail(&c, &parser);
        goto out;
    }
    loaded = 1;
    if (doc.nodes.top - doc.nodes.start > MAX_YAML_NODES) {
        rc = slt__config_fail(&c, NULL, "config is too large (more than %d yaml nodes)",
                              MAX_YAML_NODES);
        goto out;
    }
    if (yaml_document_get_root_node(&doc)) {
        if (!yaml_parser_load(&parser, &doc2)) {
            rc = slt__config_yaml_fail(&c, &parser);
            goto out;
        }
        if (yaml_document_get_root_node(&doc2)) {
            const yaml_node_t *r2 = yaml_document_get_root_node(&doc2);

            rc = slt__config_fail(&c, r2, "only one yaml document is allowed");
            yaml_document_delete(&doc2);
            goto out;
        }
        yaml_document_delete(&doc2);
    }
    c.cfg = slt_calloc(1, sizeof(*c.cfg));
    if (!c.cfg) {
        rc = slt__config_nomem(&c);
        goto out;
    }
    rc = load_root(&c, yaml_document_get_root_node(&doc));
    if (rc == 0 && !(c.cfg->path = slt_strdup(c.file)))
        rc = slt__config_nomem(&c);
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
        slt__config_free_strlist(in->paths, in->npaths);
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
    slt__config_free_strlist(cfg->agent.aggregators, cfg->agent.naggregators);
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
    slt__config_free_strlist(cfg->aggregator.redis_cluster, cfg->aggregator.nredis_cluster);
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
