/*
 * Burn-rate alerts to Alertmanager and a webhook; see alert.h and docs/ALERTS.md.
 *
 * One evaluation at a time: it asks the store (store.h) for the sums of every SLO window in
 * one request, which the store answers within aggregator.redis_timeout. Then the states change
 * and Alertmanager gets every firing alert and the unsent resolves. The documents of state
 * changes go through a compare-and-set of the alert's shared state (a second store request,
 * so several aggregators send each once), then into the webhook queue, which is sent one
 * document after the other.
 */
#include "alert.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "slo.h"
#include "slt/config.h"
#include "slt/httpc.h"
#include "store.h"

#define COMPONENT "alert"
#define SLOTS (1 + SLT_SLO_MAX_WINDOWS) /* the SLO window, then the plan's windows */
#define ALERTNAME "SLOBurnRate"
#define MAX_ROUTING_KEY 256

struct alert_state {
    int firing;
    int64_t since;       /* when it started firing (startsAt) */
    int resolve_pending; /* resolved, Alertmanager has not taken the resolve yet */
    int resolve_sending; /* that resolve is in the request in flight */
    int64_t resolved_at; /* endsAt of the resolve */
};

/*
 * An SLO and its tiers. ts[k] is the tier's state as slo.c keeps it (firing, inhibition,
 * the notification); st[k] follows the notification to the receivers: st[k].firing while it
 * is open, since when it opened.
 */
struct alert_slo {
    struct slt_slo slo; /* a copy of the config's */
    struct slt_slo_plan plan;
    int evaluated;            /* last holds an evaluation */
    struct slt_slo_eval last; /* the evaluation that last changed or confirmed a state */
    struct slt_slo_tier_state ts[SLT_SLO_MAX_TIERS];
    struct alert_state st[SLT_SLO_MAX_TIERS];
    int pd_open; /* a PagerDuty incident of this SLO's dedup_key is open (first SLO of a key) */
};

/* Everything taken from the config, replaced whole by a reload. */
struct alert_conf {
    int64_t interval_ms;
    int64_t timeout_ms;
    int64_t redis_timeout_ms;
    int64_t minute_retention_s;
    int64_t hour_retention_s;
    int has_am, has_wh, has_pd;
    struct slt_http_url am, wh; /* for the log */
    char *am_url, *wh_url;      /* what is POSTed to */
    /* TLS and credentials of every receiver; its strings are owned here */
    struct slt_httpc_auth auth;
    /* PagerDuty: its own TLS settings (our credentials are not PagerDuty's) */
    char *pd_url;
    struct slt_httpc_auth pd_auth;
    char *pd_key;
    char *generator_url;
    struct slt_label *labels;
    size_t nlabels;
    struct alert_slo *slos;
    size_t nslos;
};

/* A webhook document of a state change, before the shared state says whether to send it. */
struct pending_doc {
    char *doc; /* json_dumps, free() */
    char fp[17];
    const char *state; /* "firing" or "resolved" */
    int mode;          /* SLT_CAS_SET (a state change), SLT_CAS_SYNC (taking over the lease) */
};

/*
 * The state of each alert is shared through the store (slt_store_req_cas, docs/ALERTS.md), so
 * that of several aggregators only the first to see a state change sends its webhook
 * document. A firing state lives a few intervals past the last refresh, so an alert that
 * resolved while no aggregator ran fires again.
 */
#define RESOLVED_TTL_S (30 * 86400)

/* PagerDuty events waiting to be sent, oldest first; past SLT_ALERT_QUEUE_MAX the oldest go. */
struct nqueue {
    struct slt_alert *al;
    char *q[SLT_ALERT_QUEUE_MAX];
    size_t head, len;
    struct slt_httpc_req *req;
    const char *doc; /* the document req carries; NULL once dropped */
    int failed_this_round;
};

struct slt_alert {
    uv_loop_t *loop;
    struct slt_aggr_stats *stats;
    struct slt_store *store; /* borrowed; outlives us */
    struct alert_conf *conf;
    uv_timer_t tick;

    /* the evaluation in flight: its store request (sums, then the compare-and-sets) */
    struct slt_store_req rq;
    int eval_active;
    int eval_stale; /* the config changed meanwhile: its sums no longer match */
    int eval_failed;
    int redis_logged_down;
    char id[160]; /* holder id of the alerting lease: host/pid/http_listen */
    int leader;   /* holds the alerting lease: sends the webhook documents */
    /* phase 2: webhook documents of this evaluation's state changes, waiting for their CAS */
    int cas_phase;
    struct pending_doc *docs;
    size_t ndocs, cap_docs;

    /* notifications */
    struct slt_httpc *httpc; /* one client (connection pool) for every receiver */
    struct slt_httpc_req *am_req;
    struct slt_httpc_req *wh_req;
    const char *wh_doc;            /* the queued document wh_req carries; NULL once dropped */
    char *wq[SLT_ALERT_QUEUE_MAX]; /* webhook documents, a ring */
    size_t wq_head, wq_len;
    int wh_failed_this_round; /* stop sending until the next evaluation */
    struct nqueue pdq;        /* PagerDuty events */

    int stopping;
    int nopen; /* handles and requests not finished */
    slt_closed_cb on_stopped;
    void *stopped_data;
    int releasing; /* stopping: the lease's release is in flight */
};

/* ------------------------------------------------------------------------------------------ */
/* Config                                                                                      */

static void slos_free(struct alert_slo *s, size_t n)
{
    size_t i;

    for (i = 0; s && i < n; i++)
        slt_slo_copy_free(&s[i].slo);
    slt_free(s);
}

static void free_secret(char *s)
{
    if (s)
        memset(s, 0, strlen(s));
    slt_free(s);
}

/* The receivers' TLS and credentials: 0, or SLT_ECONFIG after logging what failed. */
static int conf_auth(const struct slt_alert_conf *ac, struct slt_httpc_auth *a)
{
    char *s = NULL;
    int rc;

    if (ac->tls_ca_file && !(a->ca_file = slt_strdup(ac->tls_ca_file)))
        return SLT_ENOMEM;
    if (ac->bearer_token_file) {
        rc = slt_read_secret(ac->bearer_token_file, 16384, &s);
        if (rc < 0) {
            slt_log(SLT_LOG_ERROR, COMPONENT, "cannot read alerting.bearer_token_file '%s': %s",
                    ac->bearer_token_file, slt_strerror(rc));
            return rc == SLT_ENOMEM ? rc : SLT_ECONFIG;
        }
        a->bearer_token = s;
    }
    if (ac->basic_auth_username) {
        if (!(a->basic_user = slt_strdup(ac->basic_auth_username)))
            return SLT_ENOMEM;
        rc = slt_read_secret(ac->basic_auth_password_file, 16384, &s);
        if (rc < 0) {
            slt_log(SLT_LOG_ERROR, COMPONENT,
                    "cannot read alerting.basic_auth.password_file '%s': %s",
                    ac->basic_auth_password_file, slt_strerror(rc));
            return rc == SLT_ENOMEM ? rc : SLT_ECONFIG;
        }
        a->basic_password = s;
    }
    return 0;
}

static void conf_free(struct alert_conf *c)
{
    size_t i;

    if (!c)
        return;
    slt_free(c->generator_url);
    slt_free(c->am_url);
    slt_free(c->wh_url);
    slt_free(c->pd_url);
    slt_free((char *)c->pd_auth.ca_file);
    free_secret(c->pd_key);
    slt_free((char *)c->auth.ca_file);
    free_secret((char *)c->auth.bearer_token);
    slt_free((char *)c->auth.basic_user);
    free_secret((char *)c->auth.basic_password);
    for (i = 0; i < c->nlabels; i++) {
        slt_free(c->labels[i].name);
        slt_free(c->labels[i].value);
    }
    slt_free(c->labels);
    slos_free(c->slos, c->nslos);
    slt_free(c);
}

static int conf_new(const struct slt_config *cfg, struct alert_conf **out)
{
    const struct slt_alert_conf *ac = &cfg->alerting;
    const struct slt_aggr_conf *ag = &cfg->aggregator;
    struct alert_conf *c = slt_calloc(1, sizeof(*c));
    char err[256], url[600];
    size_t i;
    int rc = 0;

    if (!c)
        return SLT_ENOMEM;
    c->interval_ms = ac->interval_ms > 0 ? ac->interval_ms : 30000;
    c->timeout_ms = ac->timeout_ms > 0 ? ac->timeout_ms : 5000;
    c->redis_timeout_ms = ag->redis_timeout_ms > 0 ? ag->redis_timeout_ms : 2000;
    c->minute_retention_s = ag->minute_retention_s > 0 ? ag->minute_retention_s : 2 * 86400;
    c->hour_retention_s = ag->hour_retention_s > 0 ? ag->hour_retention_s : 35 * 86400;
    if (ac->alertmanager) {
        c->has_am = 1;
        rc = slt_http_url_parse(ac->alertmanager, &c->am, err, sizeof(err));
    }
    if (rc == 0 && ac->webhook) {
        c->has_wh = 1;
        rc = slt_http_url_parse(ac->webhook, &c->wh, err, sizeof(err));
    }
    if (rc < 0) {
        slt_log(SLT_LOG_ERROR, COMPONENT, "bad receiver url: %s", err);
        conf_free(c);
        return SLT_ECONFIG;
    }
    if (c->has_am) {
        /* POST {url}/api/v2/alerts */
        size_t n = strlen(ac->alertmanager);

        while (n > 0 && ac->alertmanager[n - 1] == '/')
            n--;
        c->am_url = slt_malloc(n + sizeof("/api/v2/alerts"));
        if (!c->am_url)
            goto nomem;
        memcpy(c->am_url, ac->alertmanager, n);
        memcpy(c->am_url + n, "/api/v2/alerts", sizeof("/api/v2/alerts"));
    }
    if (c->has_wh && !(c->wh_url = slt_strdup(ac->webhook)))
        goto nomem;
    rc = conf_auth(ac, &c->auth);
    if (rc < 0) {
        conf_free(c);
        return rc;
    }
    if (ac->pagerduty_routing_key_file) {
        rc = slt_read_secret(ac->pagerduty_routing_key_file, MAX_ROUTING_KEY, &c->pd_key);
        if (rc < 0) {
            slt_log(SLT_LOG_ERROR, COMPONENT,
                    "cannot read alerting.pagerduty.routing_key_file '%s': %s",
                    ac->pagerduty_routing_key_file, slt_strerror(rc));
            conf_free(c);
            return rc == SLT_ENOMEM ? rc : SLT_ECONFIG;
        }
        c->pd_url = slt_strdup(ac->pagerduty_url ? ac->pagerduty_url
                                                 : "https://events.pagerduty.com/v2/enqueue");
        if (!c->pd_url || (ac->tls_ca_file && !(c->pd_auth.ca_file = slt_strdup(ac->tls_ca_file))))
            goto nomem;
        c->has_pd = 1;
    }
    if (ac->external_url) {
        snprintf(url, sizeof(url), "%s", ac->external_url);
    } else {
        const char *l = ag->http_listen ? ag->http_listen : "127.0.0.1:7480";

        snprintf(url, sizeof(url), "http://%s%s/", l[0] == ':' ? "localhost" : "", l);
    }
    c->generator_url = slt_strdup(url);
    if (!c->generator_url)
        goto nomem;
    if (ac->nlabels) {
        c->labels = slt_calloc(ac->nlabels, sizeof(*c->labels));
        if (!c->labels)
            goto nomem;
        for (i = 0; i < ac->nlabels; i++, c->nlabels++) {
            c->labels[i].name = slt_strdup(ac->labels[i].name);
            c->labels[i].value = slt_strdup(ac->labels[i].value);
            if (!c->labels[i].name || !c->labels[i].value) {
                c->nlabels++;
                goto nomem;
            }
        }
    }
    if (cfg->nslos) {
        c->slos = slt_calloc(cfg->nslos, sizeof(*c->slos));
        if (!c->slos)
            goto nomem;
        for (i = 0; i < cfg->nslos; i++, c->nslos++) {
            struct alert_slo *s = &c->slos[i];

            if (slt_slo_copy(&s->slo, &cfg->slos[i]) < 0)
                goto nomem;
            slt_slo_plan_init(&s->plan, &s->slo);
        }
    }
    *out = c;
    return 0;
nomem:
    conf_free(c);
    return SLT_ENOMEM;
}

/* ------------------------------------------------------------------------------------------ */
/* Documents                                                                                   */

static void rfc3339(int64_t t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Labels: ours, then alerting.labels, then the SLO's own labels (which win). */
static json_t *labels_json(const struct alert_conf *c, const struct alert_slo *s, size_t k)
{
    const struct slt_slo_tier *t = &s->slo.tiers[k];
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "alertname", ALERTNAME, "slo",
                          s->slo.name, "sli", s->slo.sli, "tier", t->name, "severity",
                          slt_severity_name(t->severity), "dedup_key", s->slo.dedup_key);
    size_t i;

    for (i = 0; j && i < c->nlabels; i++)
        if (!json_object_get(j, c->labels[i].name))
            json_object_set_new(j, c->labels[i].name, json_string(c->labels[i].value));
    for (i = 0; j && i < s->slo.nlabels; i++)
        if (strcmp(s->slo.labels[i].name, "dedup_key") != 0)
            json_object_set_new(j, s->slo.labels[i].name, json_string(s->slo.labels[i].value));
    return j;
}

static void summary_text(const struct alert_slo *s, size_t k, char *buf, size_t len)
{
    const struct slt_slo_tier *t = &s->slo.tiers[k];
    const struct slt_slo_tier_eval *te = &s->last.tier[k];
    char l[32], sh[32];

    slt_slo_fmt_window(t->long_s, l, sizeof(l));
    slt_slo_fmt_window(t->short_s, sh, sizeof(sh));
    snprintf(buf, len,
             "SLO %s burns its error budget: %.1fx over %s and %.1fx over %s (%s fires at "
             "%.4gx, %g%% of the budget in %s)",
             s->slo.name, te->long_burn, l, te->short_burn, sh, t->name, t->threshold,
             t->budget_percent, l);
}

static json_t *annotations_json(const struct alert_slo *s, size_t k)
{
    const struct slt_slo_eval *e = &s->last;
    const double *b = e->burn;
    char summary[512], desc[1024], win[32];
    size_t i;
    int n;

    slt_slo_fmt_window(s->slo.window_s, win, sizeof(win));
    summary_text(s, k, summary, sizeof(summary));
    n = snprintf(desc, sizeof(desc), "SLI %s: burn rates", s->slo.sli);
    for (i = 0; i < SLT_SLO_NBURN && n > 0 && (size_t)n < sizeof(desc); i++)
        n += snprintf(desc + n, sizeof(desc) - (size_t)n, "%s %s %.2fx", i ? "," : "",
                      slt_slo_burn_window_names[i], b[i]);
    if (n > 0 && (size_t)n < sizeof(desc))
        snprintf(desc + n, sizeof(desc) - (size_t)n,
                 ". Error budget left %.1f%% of the %s window (%s; attainment %.4f%%, "
                 "objective %g%%).",
                 e->budget_remaining * 100.0, win, slt_budget_status_name(e->status),
                 e->attainment * 100.0, s->slo.objective);
    return json_pack("{s:s, s:s}", "summary", summary, "description", desc);
}

/* One alert as Alertmanager API v2 wants it (postableAlert). */
static json_t *am_alert_json(const struct alert_conf *c, const struct alert_slo *s, size_t k,
                             int64_t ends)
{
    char starts_s[32], ends_s[32];

    rfc3339(s->st[k].since, starts_s, sizeof(starts_s));
    rfc3339(ends, ends_s, sizeof(ends_s));
    return json_pack("{s:o, s:o, s:s, s:s, s:s}", "labels", labels_json(c, s, k), "annotations",
                     annotations_json(s, k), "startsAt", starts_s, "endsAt", ends_s, "generatorURL",
                     c->generator_url);
}

/* FNV-1a 64 of the labels as sorted compact JSON: the same alert has the same print. */
static void fingerprint(json_t *labels, char out[17])
{
    char *s = json_dumps(labels, JSON_COMPACT | JSON_SORT_KEYS);
    uint64_t h = slt_fnv1a64(s ? s : "", s ? strlen(s) : 0);

    free(s);
    snprintf(out, 17, "%016" PRIx64, h);
}

/*
 * The webhook document of a state change; a new string (free with free()) or NULL. Its
 * fingerprint goes to fp.
 */
static char *webhook_doc(const struct alert_conf *c, const struct alert_slo *s, size_t k,
                         int firing, int64_t now, char fp[17])
{
    const struct slt_slo_eval *e = &s->last;
    json_t *labels = labels_json(c, s, k), *burn = json_object(), *j;
    char starts_s[32], ends_s[32];
    size_t w;
    char *out;

    if (!labels || !burn) {
        json_decref(labels);
        json_decref(burn);
        return NULL;
    }
    fingerprint(labels, fp);
    for (w = 0; w < SLT_SLO_NBURN; w++)
        json_object_set_new(burn, slt_slo_burn_window_names[w], json_real(e->burn[w]));
    rfc3339(s->st[k].since, starts_s, sizeof(starts_s));
    rfc3339(now, ends_s, sizeof(ends_s));
    j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:o, s:s, s:s, s:{s:s, s:s, s:f, "
                  "s:I, s:o, s:f, s:s, s:o}}",
                  "version", "2", "status", firing ? "firing" : "resolved", "alert",
                  s->slo.tiers[k].name, "severity", slt_severity_name(s->slo.tiers[k].severity),
                  "dedup_key", s->slo.dedup_key, "labels", labels, "annotations",
                  annotations_json(s, k), "startsAt", starts_s, "endsAt",
                  firing ? json_null() : json_string(ends_s), "generatorURL", c->generator_url,
                  "fingerprint", fp, "slo", "name", s->slo.name, "sli", s->slo.sli, "objective",
                  s->slo.objective, "window_seconds", (json_int_t)s->slo.window_s, "attainment",
                  e->has_data ? json_real(e->attainment) : json_null(), "error_budget_remaining",
                  e->budget_remaining, "budget_status", slt_budget_status_name(e->status),
                  "burn_rates", burn);
    if (!j)
        return NULL;
    out = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(12));
    json_decref(j);
    return out;
}

/* ------------------------------------------------------------------------------------------ */
/* Sending                                                                                     */

static void alert_maybe_stopped(struct slt_alert *al);
static void wh_kick(struct slt_alert *al);

static void wq_push(struct slt_alert *al, char *doc)
{
    if (!doc) {
        al->stats->alert_notifications_dropped[SLT_ALERT_TARGET_WEBHOOK]++;
        return;
    }
    if (al->wq_len == SLT_ALERT_QUEUE_MAX) {
        /* drop the oldest: the newest says how things are now */
        if (al->wq[al->wq_head] == al->wh_doc)
            al->wh_doc = NULL;
        free(al->wq[al->wq_head]);
        al->wq_head = (al->wq_head + 1) % SLT_ALERT_QUEUE_MAX;
        al->wq_len--;
        al->stats->alert_notifications_dropped[SLT_ALERT_TARGET_WEBHOOK]++;
    }
    al->wq[(al->wq_head + al->wq_len) % SLT_ALERT_QUEUE_MAX] = doc;
    al->wq_len++;
}

static void log_failure(const char *target, int status, const char *error)
{
    char why[320];

    if (status > 0)
        snprintf(why, sizeof(why), "answered %d", status);
    else if (error && error[0])
        snprintf(why, sizeof(why), "%s", error);
    else
        snprintf(why, sizeof(why), "%s",
                 status > -10000 ? uv_strerror(status) : slt_strerror(status));
    slt_log(SLT_LOG_WARN, COMPONENT, "%s notification failed: %s (retried)", target, why);
}

static void on_wh_done(int status, const char *error, void *data)
{
    struct slt_alert *al = data;
    const char *doc = al->wh_doc;

    al->wh_req = NULL;
    al->wh_doc = NULL;
    al->nopen--;
    if (status >= 200 && status < 300) {
        al->stats->alert_notifications_sent[SLT_ALERT_TARGET_WEBHOOK]++;
        /* pop it, unless the queue dropped it meanwhile (then the head was never sent) */
        if (doc && al->wq_len && al->wq[al->wq_head] == doc) {
            free(al->wq[al->wq_head]);
            al->wq_head = (al->wq_head + 1) % SLT_ALERT_QUEUE_MAX;
            al->wq_len--;
        }
    } else if (status != UV_ECANCELED) {
        al->stats->alert_notifications_failed[SLT_ALERT_TARGET_WEBHOOK]++;
        al->wh_failed_this_round = 1;
        log_failure("webhook", status, error);
    }
    if (al->stopping)
        alert_maybe_stopped(al);
    else
        wh_kick(al);
}

/* Sends the oldest queued document, unless one is in flight or this round failed. */
static void wh_kick(struct slt_alert *al)
{
    const struct alert_conf *c = al->conf;
    const char *doc;
    int rc;

    if (al->stopping || al->wh_req || !al->wq_len || al->wh_failed_this_round || !c->has_wh)
        return;
    doc = al->wq[al->wq_head];
    rc = slt_httpc_post(al->httpc, c->wh_url, &c->auth, "application/json", doc, strlen(doc),
                        c->timeout_ms, on_wh_done, al, &al->wh_req);
    if (rc < 0) {
        al->stats->alert_notifications_failed[SLT_ALERT_TARGET_WEBHOOK]++;
        al->wh_failed_this_round = 1;
        return;
    }
    al->wh_doc = doc;
    al->nopen++;
}

/* ---- PagerDuty Events API v2 --------------------------------------------------------- */

/* A trigger (with the SLO's tier k that opened it) or a resolve of dedup_key. */
static char *pd_event(const struct alert_conf *c, const struct alert_slo *s, size_t k, int trigger)
{
    json_t *j;
    char *out;

    if (!trigger) {
        j = json_pack("{s:s, s:s, s:s}", "routing_key", c->pd_key, "event_action", "resolve",
                      "dedup_key", s->slo.dedup_key);
    } else {
        const struct slt_slo_tier *t = &s->slo.tiers[k];
        char summary[512];

        summary_text(s, k, summary, sizeof(summary));
        j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:o}}",
                      "routing_key", c->pd_key, "event_action", "trigger", "dedup_key",
                      s->slo.dedup_key, "client", "slitail", "client_url", c->generator_url,
                      "payload", "summary", summary, "source", "slitail", "severity",
                      t->severity == SLT_SEVERITY_PAGE ? "critical" : "warning", "component",
                      s->slo.sli, "group", s->slo.name, "class", t->name, "custom_details",
                      labels_json(c, s, k));
    }
    if (!j)
        return NULL;
    out = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(12));
    json_decref(j);
    return out;
}

static void nq_pop(struct nqueue *q)
{
    free(q->q[q->head]);
    q->head = (q->head + 1) % SLT_ALERT_QUEUE_MAX;
    q->len--;
}

static void nq_push(struct nqueue *q, char *doc)
{
    struct slt_alert *al = q->al;

    if (!doc) {
        al->stats->alert_notifications_dropped[SLT_ALERT_TARGET_PAGERDUTY]++;
        return;
    }
    if (q->len == SLT_ALERT_QUEUE_MAX) {
        if (q->q[q->head] == q->doc)
            q->doc = NULL;
        nq_pop(q);
        al->stats->alert_notifications_dropped[SLT_ALERT_TARGET_PAGERDUTY]++;
    }
    q->q[(q->head + q->len) % SLT_ALERT_QUEUE_MAX] = doc;
    q->len++;
}

static void pd_kick(struct slt_alert *al);

static void on_pd_done(int status, const char *error, void *data)
{
    struct slt_alert *al = data;
    struct nqueue *q = &al->pdq;
    const char *doc = q->doc;

    q->req = NULL;
    q->doc = NULL;
    al->nopen--;
    if (status >= 200 && status < 300) {
        al->stats->alert_notifications_sent[SLT_ALERT_TARGET_PAGERDUTY]++;
        if (doc && q->len && q->q[q->head] == doc)
            nq_pop(q);
    } else if (status == 400) {
        /* PagerDuty refused the event itself: sending it again cannot help */
        al->stats->alert_notifications_failed[SLT_ALERT_TARGET_PAGERDUTY]++;
        log_failure("pagerduty", status, error);
        if (doc && q->len && q->q[q->head] == doc)
            nq_pop(q);
    } else if (status != UV_ECANCELED) {
        al->stats->alert_notifications_failed[SLT_ALERT_TARGET_PAGERDUTY]++;
        q->failed_this_round = 1;
        log_failure("pagerduty", status, error);
    }
    if (al->stopping)
        alert_maybe_stopped(al);
    else
        pd_kick(al);
}

/* Sends the oldest PagerDuty event, one at a time, until one fails this round. */
static void pd_kick(struct slt_alert *al)
{
    struct nqueue *q = &al->pdq;
    const char *doc;

    if (al->stopping || q->req || !q->len || q->failed_this_round || !al->conf->has_pd)
        return;
    doc = q->q[q->head];
    if (slt_httpc_post(al->httpc, al->conf->pd_url, &al->conf->pd_auth, "application/json", doc,
                       strlen(doc), al->conf->timeout_ms, on_pd_done, al, &q->req) < 0) {
        al->stats->alert_notifications_failed[SLT_ALERT_TARGET_PAGERDUTY]++;
        q->failed_this_round = 1;
        return;
    }
    q->doc = doc;
    al->nopen++;
}

/*
 * One PagerDuty incident per dedup_key: triggered when the first notification of an SLO
 * sharing the key opens, resolved when the last one closes.
 */
static void pd_sync(struct slt_alert *al)
{
    struct alert_conf *c = al->conf;
    size_t i, j, k;

    if (!c->has_pd)
        return;
    for (i = 0; i < c->nslos; i++) {
        struct alert_slo *s = &c->slos[i];
        const struct alert_slo *opener = NULL;
        size_t open_k = 0;

        for (j = 0; j < i; j++)
            if (!strcmp(c->slos[j].slo.dedup_key, s->slo.dedup_key))
                break;
        if (j < i)
            continue; /* the first SLO with the key keeps its incident state */
        for (j = i; j < c->nslos && !opener; j++) {
            if (strcmp(c->slos[j].slo.dedup_key, s->slo.dedup_key))
                continue;
            for (k = 0; k < c->slos[j].slo.ntiers && !opener; k++)
                if (c->slos[j].st[k].firing) {
                    opener = &c->slos[j];
                    open_k = k;
                }
        }
        if (opener && !s->pd_open) {
            s->pd_open = 1;
            nq_push(&al->pdq, pd_event(c, opener, open_k, 1));
        } else if (!opener && s->pd_open) {
            s->pd_open = 0;
            nq_push(&al->pdq, pd_event(c, s, 0, 0));
        }
    }
}

static void on_am_done(int status, const char *error, void *data)
{
    struct slt_alert *al = data;
    int ok = status >= 200 && status < 300;
    size_t i, k;

    al->am_req = NULL;
    al->nopen--;
    if (ok)
        al->stats->alert_notifications_sent[SLT_ALERT_TARGET_ALERTMANAGER]++;
    else if (status != UV_ECANCELED) {
        al->stats->alert_notifications_failed[SLT_ALERT_TARGET_ALERTMANAGER]++;
        log_failure("alertmanager", status, error);
    }
    for (i = 0; i < al->conf->nslos; i++) {
        for (k = 0; k < al->conf->slos[i].slo.ntiers; k++) {
            struct alert_state *st = &al->conf->slos[i].st[k];

            if (st->resolve_sending && ok)
                st->resolve_pending = 0;
            st->resolve_sending = 0;
        }
    }
    if (al->stopping)
        alert_maybe_stopped(al);
}

/* Posts every firing alert and every resolve Alertmanager has not taken yet. */
static void am_send(struct slt_alert *al, int64_t now)
{
    const struct alert_conf *c = al->conf;
    int64_t ends = now + 4 * ((c->interval_ms + 999) / 1000);
    json_t *arr;
    size_t i, k;
    char *body;
    int rc;

    if (!c->has_am || al->am_req || al->stopping)
        return;
    arr = json_array();
    for (i = 0; arr && i < c->nslos; i++) {
        for (k = 0; k < c->slos[i].slo.ntiers; k++) {
            struct alert_state *st = &c->slos[i].st[k];

            if (st->firing)
                json_array_append_new(arr, am_alert_json(c, &c->slos[i], k, ends));
            else if (st->resolve_pending)
                json_array_append_new(arr, am_alert_json(c, &c->slos[i], k, st->resolved_at));
        }
    }
    if (!arr || json_array_size(arr) == 0) {
        json_decref(arr);
        return;
    }
    body = json_dumps(arr, JSON_COMPACT | JSON_REAL_PRECISION(12));
    json_decref(arr);
    if (!body) {
        al->stats->alert_notifications_failed[SLT_ALERT_TARGET_ALERTMANAGER]++;
        return;
    }
    rc = slt_httpc_post(al->httpc, c->am_url, &c->auth, "application/json", body, strlen(body),
                        c->timeout_ms, on_am_done, al, &al->am_req);
    free(body);
    if (rc < 0) {
        al->stats->alert_notifications_failed[SLT_ALERT_TARGET_ALERTMANAGER]++;
        return;
    }
    al->nopen++;
    for (i = 0; i < c->nslos; i++)
        for (k = 0; k < c->slos[i].slo.ntiers; k++)
            if (!c->slos[i].st[k].firing && c->slos[i].st[k].resolve_pending)
                c->slos[i].st[k].resolve_sending = 1;
}

/* ------------------------------------------------------------------------------------------ */
/* Evaluation                                                                                  */

/* Keeps the document of a state change until its compare-and-set answered. */
static void doc_add(struct slt_alert *al, char *doc, const char *fp, const char *state, int mode)
{
    struct pending_doc *d;

    if (!doc) {
        al->stats->alert_notifications_dropped[SLT_ALERT_TARGET_WEBHOOK]++;
        return;
    }
    if (al->ndocs == al->cap_docs) {
        size_t cap = al->cap_docs ? al->cap_docs * 2 : 8;

        d = slt_realloc(al->docs, cap * sizeof(*d));
        if (!d) {
            wq_push(al, doc); /* send it without asking: a duplicate beats a loss */
            return;
        }
        al->docs = d;
        al->cap_docs = cap;
    }
    d = &al->docs[al->ndocs++];
    d->doc = doc;
    d->state = state;
    d->mode = mode;
    snprintf(d->fp, sizeof(d->fp), "%s", fp);
}

/* Queues every document that was not given a 0 by its compare-and-set. */
static void docs_flush(struct slt_alert *al)
{
    size_t i;

    for (i = 0; i < al->ndocs; i++)
        if (al->docs[i].doc)
            wq_push(al, al->docs[i].doc);
    slt_free(al->docs);
    al->docs = NULL;
    al->ndocs = al->cap_docs = 0;
}

/* Applies a finished evaluation to the states; keeps the webhook documents of what changed. */
static void eval_apply(struct slt_alert *al, int64_t now)
{
    struct alert_conf *c = al->conf;
    uint64_t firing = 0;
    size_t i, k, w, n;
    char fp[17];

    for (i = 0; i < c->nslos; i++) {
        struct alert_slo *s = &c->slos[i];
        const int64_t(*sm)[3] = (const int64_t(*)[3])al->rq.sums + i * SLOTS;
        struct slt_slo_notice nt[SLT_SLO_MAX_TIERS];
        struct slt_slo_sums sums;
        struct slt_slo_eval e;

        memset(&sums, 0, sizeof(sums));
        memcpy(sums.win, sm[0], sizeof(sums.win));
        for (w = 0; w < s->plan.nwin; w++)
            memcpy(sums.burn[w], sm[1 + w], sizeof(sums.burn[w]));
        slt_slo_evaluate_slo(&s->slo, &s->plan, &sums, &e);
        s->last = e;
        s->evaluated = 1;
        n = slt_slo_tiers_update(&s->slo, &e, s->ts, now, nt);
        for (k = 0; k < n; k++) {
            size_t t = nt[k].tier;
            struct alert_state *st = &s->st[t];

            if (nt[k].firing) {
                st->firing = 1;
                st->since = now;
                st->resolve_pending = 0;
                slt_log(SLT_LOG_INFO, COMPONENT, "slo '%s': %s firing", s->slo.name,
                        s->slo.tiers[t].name);
                if (c->has_wh)
                    doc_add(al, webhook_doc(c, s, t, 1, now, fp), fp, "firing", SLT_CAS_SET);
            } else {
                st->firing = 0;
                st->resolve_pending = c->has_am;
                st->resolved_at = now;
                slt_log(SLT_LOG_INFO, COMPONENT, "slo '%s': %s resolved", s->slo.name,
                        s->slo.tiers[t].name);
                if (c->has_wh)
                    doc_add(al, webhook_doc(c, s, t, 0, now, fp), fp, "resolved", SLT_CAS_SET);
            }
        }
        for (k = 0; k < s->slo.ntiers; k++)
            firing += (uint64_t)s->st[k].firing;
    }
    al->stats->alerts_firing = firing;
    pd_sync(al);
}

/* Ends the evaluation: queues the documents, sends the queue. */
static void eval_end(struct slt_alert *al)
{
    al->eval_active = 0;
    al->cas_phase = 0;
    slt_store_req_reset(&al->rq);
    docs_flush(al);
    if (al->stopping) {
        alert_maybe_stopped(al);
        return;
    }
    al->wh_failed_this_round = 0;
    al->pdq.failed_this_round = 0;
    wh_kick(al);
    pd_kick(al);
}

/* The compare-and-sets answered: drop the documents another aggregator sent already. */
static void cas_done(struct slt_alert *al)
{
    size_t i;

    for (i = 0; i < al->ndocs && i < al->rq.ncas; i++) {
        if (al->rq.cas[i] == 0) {
            slt_log(SLT_LOG_DEBUG, COMPONENT, "alert %s: %s sent by another aggregator",
                    al->docs[i].fp, al->docs[i].state);
            free(al->docs[i].doc);
            al->docs[i].doc = NULL;
        }
        /* anything else (an error, no answer): send it, a duplicate beats a loss */
    }
    eval_end(al);
}

/* The TTL of an alert's shared state follows the state. */
static int64_t cas_ttl(const struct slt_alert *al, const char *state)
{
    return !strcmp(state, "firing") ? 4 * ((al->conf->interval_ms + 999) / 1000) + 10
                                    : RESOLVED_TTL_S;
}

/* The documents of this evaluation are dropped: another aggregator sends them. */
static void docs_drop(struct slt_alert *al)
{
    size_t i;

    for (i = 0; i < al->ndocs; i++)
        free(al->docs[i].doc);
    al->ndocs = 0;
}

/*
 * The alerting lease (docs/ALERTS.md, "Several aggregators"): of the aggregators on one store,
 * the one holding slt:alert:lease sends the webhook documents; the others evaluate too (for
 * /metrics and Alertmanager, which deduplicates) but send none. A new holder brings the shared
 * state of every alert in line with what it sees (SLT_CAS_SYNC): a state change the old one
 * recorded is not sent again, one it never recorded is. Answer 0 of the evaluation's request.
 */
static void lease_update(struct slt_alert *al)
{
    struct alert_conf *c = al->conf;
    int held = !al->eval_failed && al->rq.ncas > 0 && al->rq.cas[0] == 1;
    int64_t now = slt_now_ms() / 1000;
    size_t i, k;
    char fp[17];

    if (held != al->leader)
        slt_log(SLT_LOG_INFO, COMPONENT, "%s the alerting lease (webhook documents)",
                held ? "took" : "lost");
    al->stats->alert_leader = (uint64_t)held;
    if (!held) {
        if (!al->eval_failed)
            al->leader = 0;
        docs_drop(al);
        return;
    }
    if (!al->leader && c->has_wh && !al->eval_stale) {
        docs_drop(al);
        for (i = 0; i < c->nslos; i++) {
            const struct alert_slo *s = &c->slos[i];

            for (k = 0; k < s->slo.ntiers; k++) {
                int f = s->st[k].firing;

                doc_add(al, webhook_doc(c, s, k, f, now, fp), fp, f ? "firing" : "resolved",
                        SLT_CAS_SYNC);
            }
        }
    }
    al->leader = 1;
}

/* The lease lives 3 intervals: a holder that stops is replaced within 4 (docs/ALERTS.md). */
static int64_t lease_ttl_s(const struct slt_alert *al)
{
    return 3 * ((al->conf->interval_ms + 999) / 1000);
}

/*
 * Every sum is in: change the states and post to Alertmanager. Webhook documents of state
 * changes first go through a compare-and-set of the alert's shared state (in the store, under
 * the same deadline), so that of several aggregators only the first to see a change sends
 * it; an alert still firing refreshes its shared state.
 */
static void eval_finish(struct slt_alert *al)
{
    int64_t now = slt_now_ms() / 1000;
    size_t i, k;
    int rc = 0;

    if (al->stopping) {
        eval_end(al);
        return;
    }
    if (al->eval_failed) {
        al->stats->alert_eval_failures++;
        if (!al->redis_logged_down)
            slt_log(SLT_LOG_WARN, COMPONENT,
                    "cannot read the SLOs from redis; alerts keep their state until it answers");
        al->redis_logged_down = 1;
    } else if (!al->eval_stale) {
        al->stats->alert_evaluations++;
        if (al->redis_logged_down)
            slt_log(SLT_LOG_INFO, COMPONENT, "reading the SLOs from redis again");
        al->redis_logged_down = 0;
        eval_apply(al, now);
        am_send(al, now);
    }
    lease_update(al);
    slt_store_req_reset(&al->rq);
    for (i = 0; rc == 0 && i < al->ndocs; i++)
        rc = slt_store_req_cas(&al->rq, al->docs[i].fp, al->docs[i].state,
                               cas_ttl(al, al->docs[i].state), al->docs[i].mode);
    /* after the documents (cas_done tells them apart by their index) */
    for (i = 0;
         rc == 0 && al->conf->has_wh && al->leader && !al->eval_failed && i < al->conf->nslos;
         i++) {
        for (k = 0; rc == 0 && k < al->conf->slos[i].slo.ntiers; k++) {
            char fp[17];
            json_t *labels;

            if (!al->conf->slos[i].st[k].firing)
                continue;
            labels = labels_json(al->conf, &al->conf->slos[i], k);
            fingerprint(labels, fp);
            json_decref(labels);
            rc = slt_store_req_cas(&al->rq, fp, "firing", cas_ttl(al, "firing"), SLT_CAS_REFRESH);
        }
    }
    if ((al->ndocs || al->rq.op) && rc == 0 &&
        slt_store_req_send(al->store, &al->rq, al->conf->redis_timeout_ms) == 0) {
        al->cas_phase = 1; /* on_store_reply ends it */
        return;
    }
    eval_end(al);
}

static void on_store_reply(struct slt_store_req *rq)
{
    struct slt_alert *al = rq->data;

    if (al->cas_phase) {
        cas_done(al);
        return;
    }
    if (rq->status < 0)
        al->eval_failed = 1;
    eval_finish(al);
}

/* Queues the sums of every SLO window: [from, to) of the SLO, then each burn window. */
static int eval_queue(struct slt_alert *al)
{
    const struct alert_conf *c = al->conf;
    int64_t now = slt_now_ms() / 1000;
    int64_t to = slt_slo_now_end(now);
    size_t i, w;
    int rc;

    rc = slt_store_req_sums(&al->rq, c->nslos * SLOTS);
    if (rc == 0)
        rc = slt_store_req_cas(&al->rq, "lease", al->id, lease_ttl_s(al), SLT_CAS_LEASE);
    for (i = 0; rc == 0 && i < c->nslos; i++) {
        const struct alert_slo *s = &c->slos[i];
        struct slt_slo_ranges r;

        slt_slo_ranges(&s->plan, &s->slo, to, c->minute_retention_s, c->hour_retention_s, &r);
        rc = slt_store_req_range(&al->rq, al->store, SLT_SERIES_SLI, s->slo.sli, r.win_from, to,
                                 i * SLOTS, now, NULL);
        for (w = 0; rc == 0 && w < s->plan.nwin; w++)
            rc = slt_store_req_range(&al->rq, al->store, SLT_SERIES_SLI, s->slo.sli, r.burn_from[w],
                                     to, i * SLOTS + 1 + w, now, NULL);
    }
    return rc;
}

static void eval_start(struct slt_alert *al)
{
    const struct alert_conf *c = al->conf;
    int rc;

    if (al->eval_active || al->stopping)
        return; /* the previous one is still waiting for the store (bounded by its deadline) */
    if (c->nslos == 0) {
        al->stats->alert_evaluations++;
        al->stats->alerts_firing = 0;
        al->wh_failed_this_round = 0;
        wh_kick(al);
        return;
    }
    al->eval_failed = 0;
    al->eval_stale = 0;
    slt_store_req_reset(&al->rq);
    slt_store_req_limit(&al->rq, SLT_ALERT_MAX_KEYS);
    rc = eval_queue(al);
    if (rc == 0)
        rc = slt_store_req_send(al->store, &al->rq, c->redis_timeout_ms);
    if (rc < 0) {
        if (rc != SLT_EREDIS)
            slt_log(SLT_LOG_ERROR, COMPONENT, "cannot evaluate the SLOs: %s", slt_strerror(rc));
        al->eval_active = 1;
        al->eval_failed = 1;
        eval_finish(al);
        return;
    }
    al->eval_active = 1;
}

static void on_tick(uv_timer_t *t)
{
    eval_start(t->data);
}

/* ------------------------------------------------------------------------------------------ */
/* Lifecycle                                                                                   */

static void alert_free(struct slt_alert *al)
{
    while (al->wq_len) {
        free(al->wq[al->wq_head]);
        al->wq_head = (al->wq_head + 1) % SLT_ALERT_QUEUE_MAX;
        al->wq_len--;
    }
    while (al->pdq.len)
        nq_pop(&al->pdq);
    conf_free(al->conf);
    slt_store_req_release(&al->rq);
    slt_free(al);
}

static void alert_maybe_stopped(struct slt_alert *al)
{
    slt_closed_cb cb;
    void *d;

    if (!al->stopping || al->nopen || al->eval_active)
        return;
    if (al->releasing)
        return;
    cb = al->on_stopped;
    d = al->stopped_data;
    alert_free(al);
    if (cb)
        cb(d);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct slt_alert *al = h->data;

    al->nopen--;
    alert_maybe_stopped(al);
}

static void describe(const struct alert_conf *c)
{
    char am[SLT_URL_MAX_HOST + 24], wh[SLT_URL_MAX_HOST + 24];

    snprintf(am, sizeof(am), "%s%s:%d", c->am.tls ? "https://" : "", c->am.host, c->am.port);
    snprintf(wh, sizeof(wh), "%s%s:%d", c->wh.tls ? "https://" : "", c->wh.host, c->wh.port);
    slt_log(SLT_LOG_INFO, COMPONENT,
            "%zu slo(s) evaluated every %" PRId64 " ms; alertmanager %s, webhook %s", c->nslos,
            c->interval_ms, c->has_am ? am : "off", c->has_wh ? wh : "off");
}

int slt_alert_start(struct uv_loop_s *loop, const struct slt_config *cfg,
                    struct slt_aggr_stats *stats, struct slt_store *store, struct slt_alert **out)
{
    struct slt_alert *al = slt_calloc(1, sizeof(*al));
    int rc;

    if (!al)
        return SLT_ENOMEM;
    rc = conf_new(cfg, &al->conf);
    if (rc < 0) {
        slt_free(al);
        return rc;
    }
    rc = slt_httpc_new(loop, &al->httpc);
    if (rc < 0) {
        conf_free(al->conf);
        slt_free(al);
        return rc;
    }
    al->loop = loop;
    al->stats = stats;
    al->store = store;
    al->pdq.al = al;
    {
        char host[64] = "aggregator";

        gethostname(host, sizeof(host) - 1);
        host[sizeof(host) - 1] = '\0';
        snprintf(al->id, sizeof(al->id), "%.60s/%d/%.60s", host, (int)getpid(),
                 cfg->aggregator.http_listen ? cfg->aggregator.http_listen : "");
    }
    slt_store_req_init(&al->rq);
    al->rq.done = on_store_reply;
    al->rq.data = al;
    uv_timer_init(loop, &al->tick);
    al->tick.data = al;
    al->nopen = 1;
    uv_timer_start(&al->tick, on_tick, (uint64_t)al->conf->interval_ms,
                   (uint64_t)al->conf->interval_ms);
    describe(al->conf);
    *out = al;
    return 0;
}

int slt_alert_set_config(struct slt_alert *al, const struct slt_config *cfg)
{
    struct alert_conf *c, *old;
    char fp[17];
    size_t i, j, k;
    int64_t now = slt_now_ms() / 1000;
    int rc;

    if (!al)
        return 0;
    rc = conf_new(cfg, &c);
    if (rc < 0)
        return rc;
    old = al->conf;
    /* carry the states over by name; resolve what is gone */
    for (i = 0; i < old->nslos; i++) {
        struct alert_slo *o = &old->slos[i];

        for (j = 0; j < c->nslos; j++)
            if (!strcmp(c->slos[j].slo.name, o->slo.name))
                break;
        if (j < c->nslos) {
            struct alert_slo *n = &c->slos[j];
            size_t t;

            n->last = o->last;
            n->evaluated = o->evaluated;
            n->pd_open = o->pd_open;
            if (n->last.ntiers > n->slo.ntiers)
                n->last.ntiers = n->slo.ntiers;
            /* tiers carry over by name; a tier that is gone while open resolves */
            for (k = 0; k < o->slo.ntiers; k++) {
                for (t = 0; t < n->slo.ntiers; t++)
                    if (!strcmp(n->slo.tiers[t].name, o->slo.tiers[k].name))
                        break;
                if (t < n->slo.ntiers) {
                    n->ts[t] = o->ts[k];
                    n->st[t] = o->st[k];
                    n->st[t].resolve_sending = 0;
                } else if (o->st[k].firing && old->has_wh && al->leader) {
                    wq_push(al, webhook_doc(old, o, k, 0, now, fp));
                }
            }
            continue;
        }
        for (k = 0; k < o->slo.ntiers; k++) {
            if (o->st[k].firing && old->has_wh && al->leader)
                wq_push(al, webhook_doc(old, o, k, 0, now, fp));
            /* Alertmanager ends it by itself when its endsAt (4 intervals) passes */
        }
        if (o->pd_open && old->has_pd)
            nq_push(&al->pdq, pd_event(old, o, 0, 0));
    }
    al->conf = c;
    conf_free(old);
    if (!c->has_wh) {
        /* no webhook any more: what waited for it is dropped */
        al->wh_doc = NULL;
        while (al->wq_len) {
            free(al->wq[al->wq_head]);
            al->wq_head = (al->wq_head + 1) % SLT_ALERT_QUEUE_MAX;
            al->wq_len--;
            al->stats->alert_notifications_dropped[SLT_ALERT_TARGET_WEBHOOK]++;
        }
    }
    if (al->eval_active)
        al->eval_stale = 1; /* its sums follow the old list of SLOs */
    /* a request in flight lost its resolve_sending marks above: those resolves go again */
    uv_timer_start(&al->tick, on_tick, (uint64_t)c->interval_ms, (uint64_t)c->interval_ms);
    describe(c);
    return 0;
}

static void on_lease_released(struct slt_store_req *rq)
{
    struct slt_alert *al = rq->data;

    al->releasing = 0;
    alert_maybe_stopped(al);
}

/*
 * A holder that stops gives the alerting lease back (deleted only if still its own), so a
 * survivor takes it at its next evaluation; the stop waits for it at most redis_timeout.
 */
static void lease_release(struct slt_alert *al)
{
    if (!al->leader)
        return;
    slt_store_req_reset(&al->rq);
    al->rq.done = on_lease_released;
    if (slt_store_req_cas(&al->rq, "lease", al->id, 0, SLT_CAS_RELEASE) == 0 &&
        slt_store_req_send(al->store, &al->rq, al->conf->redis_timeout_ms) == 0)
        al->releasing = 1;
}

void slt_alert_close(struct slt_alert *al, slt_closed_cb on_stopped, void *data)
{
    if (!al) {
        if (on_stopped)
            on_stopped(data);
        return;
    }
    if (al->stopping)
        return;
    al->stopping = 1;
    al->on_stopped = on_stopped;
    al->stopped_data = data;
    uv_timer_stop(&al->tick);
    /* the evaluation ends now; what it would have sent is queued and dropped with the queue */
    slt_store_req_cancel(&al->rq);
    if (al->eval_active)
        eval_end(al);
    /* cancels the requests in flight; their callbacks run from the loop */
    slt_httpc_close(al->httpc, NULL, NULL);
    al->httpc = NULL;
    lease_release(al);
    uv_close((uv_handle_t *)&al->tick, on_timer_closed);
}

void slt_alert_tier_state(void *data, const char *slo, const char *tier, int *firing,
                          int64_t *since)
{
    const struct slt_alert *al = data;
    size_t i, k;

    for (i = 0; al && al->conf && i < al->conf->nslos; i++) {
        const struct alert_slo *s = &al->conf->slos[i];

        if (!s->evaluated || strcmp(s->slo.name, slo) != 0)
            continue;
        for (k = 0; k < s->slo.ntiers; k++) {
            if (strcmp(s->slo.tiers[k].name, tier) != 0)
                continue;
            *firing = s->ts[k].firing;
            *since = s->ts[k].firing ? s->ts[k].since : 0;
            return;
        }
    }
}
