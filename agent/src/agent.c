/*
 * The agent: its life (slt_agent_new, slt_agent_start, slt_agent_free), timers and signals,
 * and what the shipper and the status endpoint see of it. See agent.h and docs/AGENT.md.
 * agent_internal.h is what the pieces share; the rest:
 *   agent_inputs.c  series, inputs (tail, .gz arrivals, S3) and their positions
 *   agent_reload.c  renamed inputs, and a reload (SIGHUP)
 *   agent_batch.c   counting each line, closing and spooling batches
 *   agent_disk.c    state_dir: created, locked, its instance; the reserve and a full disk
 *   agent_ckpt.c    the checkpoint, spool upkeep, recovery at start
 *   agent_epoch.c   a new epoch that carries the spooled batches over
 */
#include "agent_internal.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "slt/curl_uv.h"
#include "slt/rule.h"
#include "slt/tls.h"

static void finish(struct slt_agent *a);

/* ---- small helpers ---- */

/* Reads a token file (slt_read_secret, at most SLT_TOKEN_MAX bytes); no file: "". */
int slt__agent_read_token(const char *path, char **out)
{
    *out = NULL;
    if (!path) {
        *out = slt_strdup("");
        return *out ? 0 : SLT_ENOMEM;
    }
    return slt_read_secret(path, SLT_TOKEN_MAX, out);
}

static void refresh_clock(struct slt_agent *a)
{
    a->now_s = slt_now_ms() / 1000;
}

void slt__agent_fatal(struct slt_agent *a, const char *what, int rc)
{
    /* Nothing more is counted or checkpointed: a restart re-reads from the last spooled
     * positions, so exiting keeps every count exact. */
    slt_log(SLT_LOG_ERROR, "agent", "%s: %s; exiting so a restart recounts from the spool", what,
            slt_strerror(rc));
    a->exit_code = 1;
    a->stopped = 1;
    uv_stop(a->loop);
}

void slt__agent_update_pause(struct slt_agent *a)
{
    int want = a->paused_full || a->paused_pending || a->paused_close || a->stopping;
    size_t i;

    if (want == a->tails_paused)
        return;
    a->tails_paused = want;
    for (i = 0; i < a->ninputs; i++) {
        if (a->inputs[i].s3 && !a->inputs[i].closing) {
            if (want)
                slt_s3_pause(a->inputs[i].s3);
            else
                slt_s3_resume(a->inputs[i].s3);
        }
        if (!a->inputs[i].tail || a->inputs[i].closing)
            continue;
        if (want)
            slt_tail_pause(a->inputs[i].tail);
        else
            slt_tail_resume(a->inputs[i].tail);
        if (a->inputs[i].arrive) {
            if (want)
                slt_arrive_pause(a->inputs[i].arrive);
            else
                slt_arrive_resume(a->inputs[i].arrive);
        }
    }
}

void slt__agent_check_backpressure(struct slt_agent *a)
{
    int full = slt_spool_full(a->spool);

    /* resume below 90% so that one batch does not flip it back and forth */
    if (a->paused_full && a->spool->bytes < a->spool->max_bytes / 10 * 9)
        full = 0;
    else if (a->paused_full)
        full = 1;
    if (full && !a->paused_full) {
        a->backpressure_events++;
        slt_log(SLT_LOG_WARN, "agent",
                "spool full (%" PRIu64 " bytes, %" PRIu64 " unacknowledged batches): reading "
                "paused until the aggregator acknowledges",
                a->spool->bytes, a->spool->unacked);
    } else if (!full && a->paused_full) {
        slt_log(SLT_LOG_INFO, "agent", "spool below its bound again (%" PRIu64 " bytes): reading",
                a->spool->bytes);
    }
    a->paused_full = full;
    slt__agent_update_pause(a);
}

/* ---- timers and signals ---- */

static void on_clock(uv_prepare_t *p)
{
    refresh_clock(p->data);
}

static void on_flush(uv_timer_t *t)
{
    struct slt_agent *a = t->data;

    refresh_clock(a);
    if (a->stopped || a->stopping)
        return;
    slt__agent_close_batch(a);
}

/* Spool upkeep and status, every second (or every flush when that is shorter). */
static void on_tick(uv_timer_t *t)
{
    struct slt_agent *a = t->data;

    refresh_clock(a);
    if (a->stopped)
        return;
    slt__agent_checkpoint_positions(a);
    slt__agent_maintain_spool(a);
    slt__agent_check_paths(a, 0);
    slt_status_write(a);
}

uint64_t slt__agent_tick_ms(const struct slt_agent *a)
{
    return a->cfg->agent.flush_interval_ms < 1000 ? (uint64_t)a->cfg->agent.flush_interval_ms
                                                  : 1000;
}

static void on_acked_all(struct slt_agent *a)
{
    if (a->stopping && !a->stopped && a->spool->unacked == 0 && !a->has_pending)
        finish(a);
}

static void on_stop_timer(uv_timer_t *t)
{
    struct slt_agent *a = t->data;

    slt_log(SLT_LOG_WARN, "agent",
            "%" PRIu64 " batches still unacknowledged after ack_timeout; they stay spooled and "
            "are resent at the next start",
            a->spool->unacked);
    finish(a);
}

void slt__agent_stop(struct slt_agent *a)
{
    if (a->stopping || a->stopped)
        return;
    slt_log(SLT_LOG_INFO, "agent",
            "stopping: flushing and waiting up to %" PRId64 " ms for acknowledgements",
            a->cfg->agent.ack_timeout_ms);
    a->stopping = 1;
    slt__agent_update_pause(a);
    refresh_clock(a);
    slt__agent_close_batch(a);
    if (a->stopped)
        return;
    if (a->spool->unacked == 0 && !a->has_pending) {
        finish(a);
        return;
    }
    uv_timer_start(&a->stop_timer, on_stop_timer, (uint64_t)a->cfg->agent.ack_timeout_ms, 0);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct slt_agent *a = h->data;

    a->handles_open--;
}

static void close_handle(struct slt_agent *a, uv_handle_t *h)
{
    if (!uv_is_closing(h)) {
        a->handles_open++;
        uv_close(h, on_handle_closed);
    }
}

static void finish(struct slt_agent *a)
{
    if (a->stopped)
        return;
    a->stopped = 1;
    if (a->has_pending)
        slt_log(SLT_LOG_WARN, "agent",
                "the last batch could not be spooled; its lines are "
                "re-read at the next start");
    slt__agent_checkpoint(a);
    slt_status_write(a);
    slt__agent_close_inputs(a, a->inputs, a->ninputs, NULL);
    a->inputs = NULL;
    a->ninputs = 0;
    slt_curl_uv_close(a->curl, NULL, NULL); /* after the S3 inputs cancelled their requests */
    a->curl = NULL;
    if (a->ship) {
        slt_ship_close(a->ship, NULL, NULL);
        a->ship = NULL;
    }
    if (a->http) {
        slt_status_http_close(a->http, NULL, NULL);
        a->http = NULL;
    }
    close_handle(a, (uv_handle_t *)&a->flush_timer);
    close_handle(a, (uv_handle_t *)&a->tick_timer);
    close_handle(a, (uv_handle_t *)&a->close_timer);
    close_handle(a, (uv_handle_t *)&a->stop_timer);
    close_handle(a, (uv_handle_t *)&a->clock);
    close_handle(a, (uv_handle_t *)&a->sighup);
    close_handle(a, (uv_handle_t *)&a->sigterm);
    close_handle(a, (uv_handle_t *)&a->sigint);
    a->exit_code = 0;
    slt_log(SLT_LOG_INFO, "agent",
            "stopped at %" PRIu64 ":%" PRIu64 ", %" PRIu64 " batches unacknowledged", a->epoch,
            a->seq, a->spool->unacked);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct slt_agent *a = s->data;

    if (signum == SIGHUP) {
        if (!a->stopping)
            slt__agent_reload(a);
        return;
    }
    slt__agent_stop(a);
}

/* ---- start and end ---- */

/* docs/PROTOCOL.md: 1 .. 1024 bytes, no control bytes, no '{' or '}' (Redis hash tags). */
static int agent_id_ok(const char *id)
{
    size_t n = strlen(id), i;

    if (n == 0 || n > 1024)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)id[i];

        if (c < 0x20 || c == 0x7f || c == '{' || c == '}')
            return 0;
    }
    return 1;
}

int slt_agent_new(uv_loop_t *loop, const char *config_path, struct slt_config *cfg,
                  struct slt_agent **out)
{
    struct slt_agent *a;
    char path[PATH_MAX];
    int rc;

    a = slt_calloc(1, sizeof(*a));
    if (!a) {
        slt_config_free(cfg);
        return SLT_ENOMEM;
    }
    a->loop = loop;
    a->cfg = cfg;
    a->exit_code = 1;
    a->started_ms = slt_now_ms();
    slt_buf_init(&a->pending_frame, (size_t)SLT_AGENT_MAX_FRAME + 4);
    slt_buf_init(&a->pending_state, SIZE_MAX);
    refresh_clock(a);
    a->config_path = slt_strdup(config_path);
    a->agent_id = slt_strdup(cfg->agent.id);
    a->state_dir = slt_strdup(cfg->agent.state_dir);
    if (!a->config_path || !a->agent_id || !a->state_dir) {
        rc = SLT_ENOMEM;
        goto fail;
    }
    if (!agent_id_ok(a->agent_id)) {
        slt_log(SLT_LOG_ERROR, "agent",
                "agent.id '%s' is not usable: 1 to 1024 bytes without control bytes, '{' or '}'",
                a->agent_id);
        rc = SLT_ECONFIG;
        goto fail;
    }
    if ((rc = slt__agent_read_token(cfg->agent.token_file, &a->token)) < 0) {
        slt_log(SLT_LOG_ERROR, "agent", "cannot read token_file '%s': %s", cfg->agent.token_file,
                slt_secret_strerror(rc));
        goto fail;
    }
    if ((rc = slt__agent_mkdir_p(a->state_dir)) < 0) {
        slt_log(SLT_LOG_ERROR, "agent", "cannot create state_dir '%s': %s", a->state_dir,
                slt_strerror(rc));
        goto fail;
    }
    if ((rc = slt__agent_lock_state_dir(a->state_dir)) < 0) {
        slt_log(SLT_LOG_ERROR, "agent", "cannot lock state_dir '%s': %s", a->state_dir,
                rc == SLT_ELIMIT ? "another agent is running on it" : slt_strerror(rc));
        goto fail;
    }
    slt__agent_load_instance(a);
    snprintf(path, sizeof(path), "%s/spool", a->state_dir);
    if ((rc = slt_spool_open(path, cfg->agent.spool_max_bytes, 0, &a->spool)) < 0) {
        slt_log(SLT_LOG_ERROR, "agent", "cannot open spool '%s': %s", path, slt_strerror(rc));
        goto fail;
    }
    if ((rc = slt__agent_recover(a)) < 0)
        goto fail;
    if ((rc = slt__agent_build_series(a, cfg, &a->last)) < 0 ||
        (rc = slt__agent_check_frame_room(a)) < 0)
        goto fail;
    if ((rc = slt_count_init(&a->count, a->nseries, slt__agent_soft_max(a))) < 0)
        goto fail;
    if (!(a->matcher = slt_matcher_new())) {
        rc = SLT_ENOMEM;
        goto fail;
    }
    if ((rc = slt__agent_check_renames(a)) < 0 ||
        (rc = slt__agent_make_inputs(a, cfg, &a->last, &a->inputs)) < 0)
        goto fail;
    a->ninputs = cfg->ninputs;
    *out = a;
    return 0;
fail:
    slt_agent_free(a);
    return rc;
}

/* ---- what the shipper sees of the agent (ship.h) ---- */

static uint64_t ship_epoch(void *data)
{
    return ((struct slt_agent *)data)->epoch;
}

static const struct slt_agent_conf *ship_conf(void *data)
{
    return &((struct slt_agent *)data)->cfg->agent;
}

static const char *ship_token(void *data)
{
    return ((struct slt_agent *)data)->token;
}

static void ship_acked(void *data, uint64_t epoch, uint64_t seq)
{
    struct slt_agent *a = data;

    if (epoch == a->epoch && seq > a->last_acked_seq)
        a->last_acked_seq = seq;
}

static void ship_after_ack(void *data)
{
    on_acked_all(data);
}

static void ship_new_epoch(void *data, uint64_t above, int unacked_only, const char *why)
{
    slt__agent_new_epoch(data, above, unacked_only, why);
}

/* agent.status_tls's files (NULL when plain HTTP). */
static const struct slt_tls_opts *status_tls(const struct slt_agent_conf *ac,
                                             struct slt_tls_opts *o)
{
    if (!ac->status_tls.enabled)
        return NULL;
    o->cert_file = ac->status_tls.cert_file;
    o->key_file = ac->status_tls.key_file;
    o->ca_file = NULL;
    return o;
}

/* Reads agent.status_token_file (NULL *tok when not set). */
static int status_token(const struct slt_agent_conf *ac, char **tok)
{
    *tok = NULL;
    if (!ac->status_token_file)
        return 0;
    return slt__agent_read_token(ac->status_token_file, tok);
}

static int start_status(struct slt_agent *a)
{
    const struct slt_agent_conf *ac = &a->cfg->agent;
    struct slt_tls_opts o;
    char *tok;
    int rc;

    if ((rc = status_token(ac, &tok)) < 0) {
        slt_log(SLT_LOG_ERROR, "agent", "cannot read status_token_file '%s': %s",
                ac->status_token_file, slt_secret_strerror(rc));
        return rc;
    }
    rc = slt_status_http_start(a->loop, ac->status_listen, status_tls(ac, &o), tok,
                               slt_status_render, a, &a->http);
    if (tok) {
        memset(tok, 0, strlen(tok));
        slt_free(tok);
    }
    return rc;
}

void slt__agent_reload_status(struct slt_agent *a)
{
    const struct slt_agent_conf *ac = &a->cfg->agent;
    struct slt_tls_opts o;
    char *tok;
    int rc;

    if (!a->http)
        return;
    if ((rc = status_token(ac, &tok)) < 0) {
        slt_log(SLT_LOG_ERROR, "agent",
                "reload: cannot read status_token_file '%s': %s; keeping the token in use",
                ac->status_token_file, slt_secret_strerror(rc));
        return;
    }
    slt_status_http_reload(a->http, status_tls(ac, &o), tok);
    if (tok) {
        memset(tok, 0, strlen(tok));
        slt_free(tok);
    }
}

int slt_agent_start(struct slt_agent *a)
{
    const struct slt_ship_hooks hooks = {
        .data = a,
        .loop = a->loop,
        .spool = a->spool,
        .agent_id = a->agent_id,
        .instance = a->instance,
        .max_frame = SLT_AGENT_MAX_FRAME,
        .epoch = ship_epoch,
        .conf = ship_conf,
        .token = ship_token,
        .acked = ship_acked,
        .after_ack = ship_after_ack,
        .new_epoch = ship_new_epoch,
    };
    int rc;

    slt__agent_reserve_make(a);
    uv_timer_init(a->loop, &a->flush_timer);
    uv_timer_init(a->loop, &a->tick_timer);
    uv_timer_init(a->loop, &a->close_timer);
    uv_timer_init(a->loop, &a->stop_timer);
    uv_prepare_init(a->loop, &a->clock);
    uv_signal_init(a->loop, &a->sighup);
    uv_signal_init(a->loop, &a->sigterm);
    uv_signal_init(a->loop, &a->sigint);
    a->flush_timer.data = a->tick_timer.data = a->close_timer.data = a->stop_timer.data = a;
    a->clock.data = a->sighup.data = a->sigterm.data = a->sigint.data = a;
    uv_prepare_start(&a->clock, on_clock);
    uv_signal_start(&a->sighup, on_signal, SIGHUP);
    uv_signal_start(&a->sigterm, on_signal, SIGTERM);
    uv_signal_start(&a->sigint, on_signal, SIGINT);
    uv_timer_start(&a->flush_timer, on_flush, (uint64_t)a->cfg->agent.flush_interval_ms,
                   (uint64_t)a->cfg->agent.flush_interval_ms);
    uv_timer_start(&a->tick_timer, on_tick, slt__agent_tick_ms(a), slt__agent_tick_ms(a));
    if ((rc = slt_ship_new(&hooks, &a->ship)) < 0) {
        slt_log(SLT_LOG_ERROR, "agent", "cannot start shipping: %s", slt_strerror(rc));
        return rc;
    }
    if (a->cfg->agent.status_listen && (rc = start_status(a)) < 0) {
        slt_log(SLT_LOG_ERROR, "agent", "cannot serve status on '%s': %s",
                a->cfg->agent.status_listen, slt_strerror(rc));
        return rc;
    }
    slt__agent_check_backpressure(a);
    slt__agent_start_inputs(a, &a->last);
    slt_status_write(a);
    slt_log(SLT_LOG_INFO, "agent", "agent '%s' started: %zu inputs, %zu SLIs, state in '%s'",
            a->agent_id, a->ninputs, a->cfg->nslis, a->state_dir);
    return 0;
}

int slt_agent_exit_code(const struct slt_agent *a)
{
    return a->exit_code;
}

void slt_agent_free(struct slt_agent *a)
{
    size_t i;

    if (!a)
        return;
    for (i = 0; a->inputs && i < a->ninputs; i++)
        slt__agent_input_release(&a->inputs[i]);
    slt_free(a->inputs);
    for (i = 0; i < a->nseries; i++)
        slt_free(a->series[i].name);
    slt_free(a->series);
    slt_matcher_free(a->matcher);
    slt_count_release(&a->count);
    slt_spool_free(a->spool);
    slt_state_release(&a->last);
    slt_buf_release(&a->pending_frame);
    slt_buf_release(&a->pending_state);
    if (a->token) {
        memset(a->token, 0, strlen(a->token));
        slt_free(a->token);
    }
    slt_free(a->config_path);
    slt_free(a->agent_id);
    slt_free(a->state_dir);
    slt_free(a->rates);
    slt_free(a->unparsed_by_file);
    slt_config_free(a->cfg);
    slt_free(a);
}
