/*
 * slitail-aggregator -c CONFIG [--check] [-v]
 *
 * Accepts agents, applies their batches to Redis exactly once and serves the HTTP API. SIGHUP
 * reloads the config (a bad one is refused and the old one kept), SIGTERM/SIGINT stop
 * accepting, let in-flight applies answer and exit once every handle is closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "slt/config.h"
#include "slt/tls.h"
#include "slt/version.h"

#include "aggr.h"
#include "alert.h"
#include "api.h"

struct aggr_main {
    uv_loop_t loop;
    const char *config_path;
    struct slt_config *cfg;
    struct slt_aggr_params params;
    struct slt_aggr_stats stats;
    struct slt_store *store;
    struct slt_server server;
    struct slt_tls *tls; /* aggregator.tls on listen; NULL: plain TCP */
    int server_started;
    struct slt_api *api;
    struct slt_alert *alerts; /* burn-rate alerts; NULL before the start and after the stop */
    uv_signal_t sighup, sigterm, sigint;
    int stopping;
    int stop_wait; /* of the API and alerting, not stopped yet (the store outlives both) */
};

static void usage(FILE *f)
{
    fprintf(f, "usage: slitail-aggregator -c CONFIG [--check] [-v] | --version\n"
               "  -c, --config FILE   the YAML config (section 'aggregator')\n"
               "      --check         validate the config and the token file, then exit\n"
               "      --version       print the version and git revision, then exit\n"
               "  -v, --verbose       log every batch (debug)\n");
}

/* The TLS options of aggregator.tls. */
static void ingest_tls_opts(const struct slt_config *cfg, struct slt_tls_opts *o)
{
    o->cert_file = cfg->aggregator.tls.cert_file;
    o->key_file = cfg->aggregator.tls.key_file;
    o->ca_file = cfg->aggregator.tls.client_ca_file;
}

/* Loads aggregator.tls (NULL *out when absent); err says what failed. */
static int ingest_tls_new(const struct slt_config *cfg, struct slt_tls **out, char *err,
                          size_t errlen)
{
    struct slt_tls_opts o;
    char why[400];
    int rc;

    *out = NULL;
    if (!cfg->aggregator.tls.enabled)
        return 0;
    ingest_tls_opts(cfg, &o);
    rc = slt_tls_new(SLT_TLS_SERVER, &o, "ingest", out, why, sizeof(why));
    if (rc < 0)
        snprintf(err, errlen, "%s: aggregator.tls: %s", cfg->path, why);
    return rc;
}

/* Where the store lives: aggregator.redis, or the seeds of aggregator.redis_cluster. */
struct store_addr {
    struct slt_redis_url url;
    struct slt_redis_url *seeds;
    size_t nseeds;
};

static void store_addr_release(struct store_addr *sa)
{
    size_t i;

    slt_redis_url_release(&sa->url);
    for (i = 0; i < sa->nseeds; i++)
        slt_redis_url_release(&sa->seeds[i]);
    slt_free(sa->seeds);
    memset(sa, 0, sizeof(*sa));
}

static int store_addr_parse(const struct slt_aggr_conf *a, struct store_addr *sa, char *err,
                            size_t errlen)
{
    char url[600], why[300];
    size_t i;
    int rc;

    memset(sa, 0, sizeof(*sa));
    rc = slt_redis_url_parse(a->redis, &sa->url, err, errlen);
    if (rc < 0 || !a->nredis_cluster)
        return rc;
    sa->seeds = slt_calloc(a->nredis_cluster, sizeof(*sa->seeds));
    if (!sa->seeds) {
        store_addr_release(sa);
        return SLT_ENOMEM;
    }
    for (i = 0; i < a->nredis_cluster; i++) {
        const char *s = a->redis_cluster[i];

        snprintf(url, sizeof(url), "%s%s", strncmp(s, "redis://", 8) ? "redis://" : "", s);
        rc = slt_redis_url_parse(url, &sa->seeds[i], why, sizeof(why));
        if (rc == 0 && (sa->seeds[i].path || sa->seeds[i].db)) {
            slt_redis_url_release(&sa->seeds[i]);
            snprintf(why, sizeof(why), "a cluster seed is host:port (no socket, no db)");
            rc = SLT_EINVAL;
        }
        if (rc < 0) {
            snprintf(err, errlen, "aggregator.redis_cluster[%zu]: %s", i, why);
            store_addr_release(sa);
            return rc;
        }
        sa->nseeds++;
    }
    return 0;
}

/*
 * Secure by default: agents must authenticate (token_file or tls.client_ca_file), and an API on
 * a non-loopback address needs api_token_file, unless the config says otherwise explicitly.
 */
static int check_auth(const struct slt_config *cfg, char *err, size_t errlen)
{
    const struct slt_aggr_conf *a = &cfg->aggregator;
    struct sockaddr_storage ss;

    if (!a->token_file && !(a->tls.enabled && a->tls.client_ca_file) && !a->allow_unauthenticated) {
        snprintf(err, errlen,
                 "%s: aggregator: neither token_file nor tls.client_ca_file is set, so anyone who "
                 "reaches %s could send batches; set one (docs/SECURITY.md), or "
                 "allow_unauthenticated: true",
                 cfg->path, a->listen);
        return SLT_ECONFIG;
    }
    if (!a->api_token_file && !a->allow_unauthenticated_api &&
        slt_net_parse_listen(a->http_listen, &ss) == 0 && !slt_net_is_loopback(&ss)) {
        snprintf(err, errlen,
                 "%s: aggregator: http_listen '%s' is not a loopback address and no "
                 "api_token_file is set, so anyone could read every SLI; set api_token_file "
                 "(docs/SECURITY.md), or allow_unauthenticated_api: true",
                 cfg->path, a->http_listen);
        return SLT_ECONFIG;
    }
    return 0;
}

/* Everything the ingest side needs from cfg, checked; p is filled only on success. */
static int make_params(const struct slt_config *cfg, struct slt_aggr_params *p,
                       struct store_addr *url, char *err, size_t errlen)
{
    const struct slt_aggr_conf *a = &cfg->aggregator;
    char host[64] = "aggregator";
    int rc;

    memset(p, 0, sizeof(*p));
    if (strlen(a->listen) >= sizeof(p->listen)) {
        snprintf(err, errlen, "%s: aggregator.listen is too long", cfg->path);
        return SLT_ECONFIG;
    }
    rc = store_addr_parse(a, url, err, errlen);
    if (rc < 0)
        return rc;
    if (a->token_file) {
        rc = slt_aggr_read_token(a->token_file, &p->token, &p->token_len, err, errlen);
        if (rc < 0) {
            store_addr_release(url);
            return rc;
        }
    }
    snprintf(p->listen, sizeof(p->listen), "%s", a->listen);
    p->max_frame = a->max_frame;
    p->max_agents = a->max_agents;
    p->max_series = a->max_series;
    p->minute_retention_s = a->minute_retention_s;
    p->hour_retention_s = a->hour_retention_s;
    p->day_retention_s = a->day_retention_s;
    p->redis_timeout_ms = a->redis_timeout_ms;
    p->hello_timeout_ms = 5000;
    p->idle_timeout_ms = 10 * 60 * 1000;
    p->write_queue_max = 64 * 1024;
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    snprintf(p->server_id, sizeof(p->server_id), "%.40s/%d", host, (int)getpid());
    return 0;
}

static void on_handle_closed(uv_handle_t *h)
{
    (void)h;
}

static void on_api_stopped(void *data)
{
    struct aggr_main *m = data;

    if (--m->stop_wait > 0)
        return;
    /* last, after the API and alerting: they read through the store; the rest ends now */
    slt_store_close(m->store, NULL, NULL);
    m->store = NULL;
    uv_close((uv_handle_t *)&m->sighup, on_handle_closed);
    uv_close((uv_handle_t *)&m->sigterm, on_handle_closed);
    uv_close((uv_handle_t *)&m->sigint, on_handle_closed);
}

static void on_server_stopped(void *data)
{
    struct aggr_main *m = data;

    slt_log(SLT_LOG_INFO, "aggregator", "every session closed");
    if (m->api)
        slt_api_close(m->api, on_api_stopped, m);
    else
        on_api_stopped(m);
}

/* ---- burn-rate alerts (alert.h): started after the API, reloaded with it, stopped first ---- */
static int alerts_start(struct aggr_main *m)
{
    int rc = slt_alert_start(&m->loop, m->cfg, &m->stats, m->store, &m->alerts);

    if (rc < 0)
        slt_log(SLT_LOG_ERROR, "aggregator", "cannot start alerting: %s", slt_strerror(rc));
    else
        slt_api_set_alert_state(m->api, slt_alert_tier_state, m->alerts); /* `since` in the API */
    return rc < 0 ? 1 : 0;
}

static void alerts_reload(struct aggr_main *m, const struct slt_config *cfg)
{
    int rc = slt_alert_set_config(m->alerts, cfg);

    if (rc < 0)
        slt_log(SLT_LOG_ERROR, "aggregator", "alerting keeps its old settings: %s",
                slt_strerror(rc));
}

static void alerts_stop(struct aggr_main *m)
{
    slt_api_set_alert_state(m->api, NULL, NULL);
    /* it may still give the alerting lease back through the store (within redis_timeout) */
    slt_alert_close(m->alerts, on_api_stopped, m);
    m->alerts = NULL;
}
/* ---- end of burn-rate alerts ---- */

static void stop(struct aggr_main *m, const char *why)
{
    if (m->stopping)
        return;
    m->stopping = 1;
    m->stop_wait = 2;
    slt_log(SLT_LOG_INFO, "aggregator", "%s: stopping", why);
    alerts_stop(m);
    if (m->server_started)
        slt_server_close(&m->server, on_server_stopped, m);
    else
        on_server_stopped(m);
}

static void reload(struct aggr_main *m)
{
    struct slt_config *cfg = NULL;
    struct slt_aggr_params p;
    struct store_addr url;
    char err[512];
    size_t i;
    int same;
    int rc;

    rc = slt_config_load_file(m->config_path, &cfg, err, sizeof(err));
    if (rc < 0) {
        slt_log(SLT_LOG_ERROR, "aggregator", "reload refused, keeping the old config: %s", err);
        return;
    }
    rc = make_params(cfg, &p, &url, err, sizeof(err));
    if (rc == 0 && (rc = check_auth(cfg, err, sizeof(err))) < 0) {
        store_addr_release(&url);
        slt_aggr_params_release(&p);
    }
    if (rc < 0) {
        slt_log(SLT_LOG_ERROR, "aggregator", "reload refused, keeping the old config: %s", err);
        slt_config_free(cfg);
        return;
    }
    store_addr_release(&url);
    same = cfg->aggregator.nredis_cluster == m->cfg->aggregator.nredis_cluster;
    for (i = 0; same && i < cfg->aggregator.nredis_cluster; i++)
        same = !strcmp(cfg->aggregator.redis_cluster[i], m->cfg->aggregator.redis_cluster[i]);
    if (!cfg->aggregator.tls.enabled != !m->tls) {
        slt_log(SLT_LOG_WARN, "aggregator",
                "turning aggregator.tls on or off takes effect only after a restart");
    } else if (m->tls) {
        struct slt_tls_opts o;

        /* rotation: new connections get the new certificate; a bad one keeps the old */
        ingest_tls_opts(cfg, &o);
        if (slt_tls_reload(m->tls, &o, err, sizeof(err)) < 0)
            slt_log(SLT_LOG_ERROR, "aggregator",
                    "aggregator.tls: %s; keeping the certificate in use", err);
        else
            slt_log(SLT_LOG_INFO, "aggregator", "aggregator.tls: certificates reloaded");
    }
    if (strcmp(p.listen, m->params.listen) != 0 || !same ||
        strcmp(cfg->aggregator.redis, m->cfg->aggregator.redis) != 0)
        slt_log(SLT_LOG_WARN, "aggregator",
                "listen and redis changes take effect only after a restart");
    /* listen stays what we are bound to */
    snprintf(p.listen, sizeof(p.listen), "%s", m->params.listen);
    slt_aggr_params_release(&m->params);
    m->params = p;
    slt_store_set_params(m->store, &m->params);
    slt_api_set_config(m->api, cfg);
    alerts_reload(m, cfg);
    slt_config_free(m->cfg);
    m->cfg = cfg;
    slt_log(SLT_LOG_INFO, "aggregator", "config reloaded from '%s'", m->config_path);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct aggr_main *m = h->data;

    if (signum == SIGHUP) {
        if (!m->stopping)
            reload(m);
        return;
    }
    stop(m, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

int main(int argc, char **argv)
{
    struct aggr_main m;
    struct store_addr url;
    char err[512], desc[300];
    int check = 0, i, rc, status = 0;

    memset(&m, 0, sizeof(m));
    slt_log_setup_daemon();
    for (i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
            m.config_path = argv[++i];
        } else if (strcmp(argv[i], "--check") == 0) {
            check = 1;
        } else if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
            slt_log_level = SLT_LOG_DEBUG;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            slt_print_version(stdout, "slitail-aggregator");
            return 0;
        } else {
            fprintf(stderr, "slitail-aggregator: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!m.config_path) {
        usage(stderr);
        return 2;
    }
    rc = slt_config_load_file(m.config_path, &m.cfg, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "slitail-aggregator: %s\n", err);
        return 2;
    }
    rc = make_params(m.cfg, &m.params, &url, err, sizeof(err));
    if (rc == 0 && (rc = check_auth(m.cfg, err, sizeof(err))) < 0) {
        store_addr_release(&url);
        slt_aggr_params_release(&m.params);
    }
    if (rc < 0) {
        fprintf(stderr, "slitail-aggregator: %s\n", err);
        slt_config_free(m.cfg);
        return 2;
    }
    rc = ingest_tls_new(m.cfg, &m.tls, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "slitail-aggregator: %s\n", err);
        store_addr_release(&url);
        slt_aggr_params_release(&m.params);
        slt_config_free(m.cfg);
        return 2;
    }
    if (check) {
        slt_tls_free(m.tls);
        if (url.nseeds)
            snprintf(desc, sizeof(desc), "cluster (%zu seed(s))", url.nseeds);
        else
            slt_redis_url_describe(&url.url, desc, sizeof(desc));
        printf("config '%s' ok: listen %s, http %s, redis %s, %s\n", m.config_path, m.params.listen,
               m.cfg->aggregator.http_listen, desc,
               m.params.token ? "token set" : "no token (agents not authenticated)");
        store_addr_release(&url);
        slt_aggr_params_release(&m.params);
        slt_config_free(m.cfg);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    if (!m.params.token && !slt_tls_requires_client_cert(m.tls))
        slt_log(SLT_LOG_WARN, "aggregator",
                "allow_unauthenticated: agents are not authenticated, anyone who reaches %s may "
                "send batches",
                m.params.listen);
    uv_loop_init(&m.loop);
    /* before listening: a SIGTERM right after the port opens must stop us cleanly */
    uv_signal_init(&m.loop, &m.sighup);
    uv_signal_init(&m.loop, &m.sigterm);
    uv_signal_init(&m.loop, &m.sigint);
    m.sighup.data = m.sigterm.data = m.sigint.data = &m;
    uv_signal_start(&m.sighup, on_signal, SIGHUP);
    uv_signal_start(&m.sigterm, on_signal, SIGTERM);
    uv_signal_start(&m.sigint, on_signal, SIGINT);
    {
        struct slt_store_conf sc = {&url.url, url.seeds, url.nseeds};

        rc = slt_store_new(&m.loop, &sc, &m.params, &m.stats, &m.store);
    }
    store_addr_release(&url);
    if (rc < 0) {
        slt_log(SLT_LOG_ERROR, "aggregator", "cannot set up redis: %s", slt_strerror(rc));
        m.store = NULL;
        status = 1;
    }
    if (status == 0) {
        rc = slt_server_start(&m.server, &m.loop, &m.params, m.store, &m.stats, m.tls, err,
                              sizeof(err));
        if (rc < 0) {
            slt_log(SLT_LOG_ERROR, "aggregator", "%s", err);
            status = 1;
        } else {
            m.server_started = 1;
        }
    }
    if (status == 0) {
        rc = slt_api_start(&m.loop, m.cfg, &m.stats, m.store, &m.api);
        slt_api_set_ingest_tls(m.api, m.tls);
        if (rc < 0) {
            slt_log(SLT_LOG_ERROR, "aggregator", "cannot start the HTTP API on '%s': %s",
                    m.cfg->aggregator.http_listen, slt_strerror(rc));
            status = 1;
        }
    }
    if (status == 0)
        status = alerts_start(&m);
    if (status != 0)
        stop(&m, "startup failed");
    else
        slt_log(SLT_LOG_INFO, "aggregator", "started (%s)", m.params.server_id);
    uv_run(&m.loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(&m.loop);
    if (rc != 0) {
        slt_log(SLT_LOG_ERROR, "aggregator", "handles left open at exit: %s", uv_strerror(rc));
        status = status ? status : 1;
    }
    slt_aggr_params_release(&m.params);
    slt_tls_free(m.tls);
    slt_config_free(m.cfg);
    slt_log(SLT_LOG_INFO, "aggregator", "stopped");
    return status;
}
