/*
 * The YAML config loader. libyaml loads the file into a node tree with line/column marks
 * (yaml_parser_load); we walk it once, driven by the key table, which also gives the defaults,
 * the bounds, the rejection of unknown keys and the key reference in docs/CONFIG.md. This file
 * holds the entry points (load a string or a file, the default config, free), the root with the
 * order the sections load in, and the agent and aggregator sections. The other pieces:
 *
 *   config_yaml.c    the walk: failures at file:line:col, the precheck, maps set by the table
 *   config_keys.c    the key table and its writers of docs/CONFIG.md and slitail.yaml(5)
 *   config_inputs.c  formats and inputs
 *   config_rules.c   slis and their conditions
 *   config_slos.c    slos, alert tiers, labels and alerting
 *   config_load.h    what they share (config_internal.h: the table, for tests and tools)
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
    if ((rc = slt__config_load_alerting(c, sec[6])) < 0)
        return rc;
    /* slos are checked against the aggregator's retention, so they come last. */
    if ((rc = slt__config_load_formats(c, sec[0])) < 0 ||
        (rc = slt__config_load_inputs(c, sec[1])) < 0 ||
        (rc = slt__config_load_slis(c, sec[2])) < 0 || (rc = slt__config_load_slos(c, sec[3])) < 0)
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
                     format_name ? format_name : "",
                     slt__config_builtin_list(names, sizeof(names)));
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
        slt__config_slo_release(&cfg->slos[i]);
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
