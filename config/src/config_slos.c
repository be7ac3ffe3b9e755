/*
 * The slos and alerting sections: each SLO with its SLI, window and policy, its alert tiers
 * (the SRE workbook's four by default) with their burn-rate thresholds, and the labels that
 * alerts carry (alerting.labels, slos[].labels).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config_load.h"

#define MAX_LABELS 32
#define MAX_LABEL_NAME 128
#define MAX_LABEL_VALUE 1024

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

void slt__config_slo_release(struct slt_slo *slo)
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

int slt__config_load_slos(struct ctx *c, const yaml_node_t *n)
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

int slt__config_load_alerting(struct ctx *c, const yaml_node_t *n)
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
