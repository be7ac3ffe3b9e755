/*
 * A changed config: inputs renamed between runs (their positions carry over) and a reload on
 * SIGHUP.
 */
#include "agent_internal.h"

#include <fnmatch.h>
#include <string.h>

/* ---- renamed inputs ---- */

/* Whether one of the input's paths (or globs) names path. */
static int paths_cover(const struct slt_input *ci, const char *path)
{
    size_t k;

    for (k = 0; k < ci->npaths; k++)
        if (strcmp(ci->paths[k], path) == 0 || fnmatch(ci->paths[k], path, FNM_PATHNAME) == 0)
            return 1;
    return 0;
}

static int configured(const struct slt_config *cfg, const char *name)
{
    size_t i;

    for (i = 0; i < cfg->ninputs; i++)
        if (strcmp(cfg->inputs[i].name, name) == 0)
            return 1;
    return 0;
}

/* Whether the positions si (of an input no longer configured) followed files of input ci. */
static int followed(const struct slt_state_input *si, const struct slt_input *ci)
{
    size_t k;

    for (k = 0; k < si->npos; k++) {
        const struct slt_tail_pos *p = &si->pos[k];

        if (!(p->flags & (SLT_TAIL_POS_MARK | SLT_POS_OBJECT)) && p->path[0] &&
            paths_cover(ci, p->path))
            return 1;
    }
    return 0;
}

/*
 * The positions of input i in st: those under its name or, when st has none, those of an input
 * that is no longer configured and followed the same files (the input was renamed: its files
 * are neither counted again nor skipped). More than one candidate either way is ambiguous:
 * SLT_ECONFIG, with the reason logged (at start the agent refuses to run). *out may be NULL.
 */
int slt__agent_restore_of(struct slt_agent *a, const struct slt_state *st, size_t i, int verbose,
                          const struct slt_state_input **out)
{
    const struct slt_input *ci = &a->cfg->inputs[i];
    const struct slt_state_input *found = NULL;
    size_t k, j;

    *out = NULL;
    if (!st)
        return 0;
    if ((*out = slt_state_input(st, ci->name)) != NULL)
        return 0;
    for (k = 0; k < st->ninputs; k++) {
        const struct slt_state_input *si = &st->inputs[k];

        if (configured(a->cfg, si->name) || !followed(si, ci))
            continue;
        if (found) {
            slt_log(SLT_LOG_ERROR, "agent",
                    "input '%s' follows files that inputs '%s' and '%s' followed before: which "
                    "one was renamed is ambiguous; rename inputs one at a time "
                    "(docs/AGENT.md, 'Renaming an input')",
                    ci->name, found->name, si->name);
            return SLT_ECONFIG;
        }
        /* an input added next to the renamed one, over the same files, would take them too */
        for (j = 0; j < a->cfg->ninputs; j++) {
            if (j != i && !slt_state_input(st, a->cfg->inputs[j].name) &&
                followed(si, &a->cfg->inputs[j])) {
                slt_log(SLT_LOG_ERROR, "agent",
                        "inputs '%s' and '%s' both follow the files input '%s' followed "
                        "before: which one it was renamed to is ambiguous; rename it first, "
                        "add the other afterwards (docs/AGENT.md, 'Renaming an input')",
                        ci->name, a->cfg->inputs[j].name, si->name);
                return SLT_ECONFIG;
            }
        }
        found = si;
    }
    if (found && verbose)
        slt_log(SLT_LOG_INFO, "agent",
                "input '%s' follows the files input '%s' followed: taken as renamed, its "
                "positions carry over",
                ci->name, found->name);
    *out = found;
    return 0;
}

/* At start: an ambiguous rename refuses to run rather than count twice or skip. */
int slt__agent_check_renames(struct slt_agent *a)
{
    const struct slt_state_input *r;
    size_t i;
    int rc;

    for (i = 0; i < a->cfg->ninputs; i++)
        if ((rc = slt__agent_restore_of(a, &a->last, i, 0, &r)) < 0)
            return rc;
    return 0;
}

/* ---- a reload (SIGHUP) ---- */

void slt__agent_reload(struct slt_agent *a)
{
    struct slt_config *ncfg = NULL, *ocfg;
    struct slt_agent_input *nin = NULL, *oin;
    struct slt_state live;
    char err[1024];
    char *tok = NULL;
    size_t oldn, j;
    int rc, reconnect = 0;

    rc = slt_config_load_file(a->config_path, &ncfg, err, sizeof(err));
    if (rc < 0) {
        a->reload_failures++;
        slt_log(SLT_LOG_ERROR, "agent", "reload failed: %s; keeping the running config", err);
        return;
    }
    if ((rc = slt__agent_read_token(ncfg->agent.token_file, &tok)) < 0) {
        a->reload_failures++;
        slt_log(SLT_LOG_ERROR, "agent",
                "reload failed: cannot read token_file '%s': %s; keeping the running config",
                ncfg->agent.token_file, slt_secret_strerror(rc));
        slt_config_free(ncfg);
        return;
    }
    if (strcmp(ncfg->agent.id, a->agent_id) != 0 ||
        strcmp(ncfg->agent.state_dir, a->state_dir) != 0)
        slt_log(SLT_LOG_WARN, "agent",
                "reload: agent.id and agent.state_dir take effect at the next start");
    /* count everything so far under the old config */
    slt__agent_close_batch(a);
    if (a->stopped) {
        slt_config_free(ncfg);
        slt_free(tok);
        return;
    }
    memset(&live, 0, sizeof(live));
    if ((rc = slt__agent_collect_positions(a, &live.inputs, &live.ninputs)) < 0 ||
        (rc = slt__agent_build_series(a, ncfg, NULL)) < 0 ||
        (rc = slt__agent_check_frame_room(a)) < 0 ||
        (rc = slt_count_set_series(&a->count, a->nseries)) < 0 ||
        (rc = slt__agent_make_inputs(a, ncfg, NULL, &nin)) < 0) {
        a->reload_failures++;
        slt_log(SLT_LOG_ERROR, "agent", "reload failed: %s", slt_strerror(rc));
        slt__agent_build_series(a, a->cfg, NULL);
        slt_state_release(&live);
        slt_config_free(ncfg);
        slt_free(tok);
        return;
    }
    /* inputs still in the config continue where the old tail stopped */
    ocfg = a->cfg;
    oin = a->inputs;
    oldn = a->ninputs;
    if (strcmp(tok, a->token) != 0 || ncfg->agent.naggregators != ocfg->agent.naggregators)
        reconnect = 1;
    for (j = 0; !reconnect && j < ncfg->agent.naggregators; j++)
        if (strcmp(ncfg->agent.aggregators[j], ocfg->agent.aggregators[j]) != 0)
            reconnect = 1;
    /* status totals continue across the reload */
    for (j = 0; j < ncfg->ninputs; j++) {
        size_t k;

        for (k = 0; k < oldn; k++) {
            if (strcmp(oin[k].name, nin[j].name) != 0)
                continue;
            nin[j].lines = oin[k].lines;
            nin[j].unparsed = oin[k].unparsed;
            nin[j].oversize = oin[k].oversize;
            memcpy(nin[j].reasons, oin[k].reasons, sizeof(nin[j].reasons));
            memcpy(nin[j].cls, oin[k].cls, sizeof(nin[j].cls));
            nin[j].last_event_s = oin[k].last_event_s;
            nin[j].paths.none_since_ms = oin[k].paths.none_since_ms;
        }
    }
    slt__agent_close_inputs(a, oin, oldn, ocfg);
    a->cfg = ncfg;
    a->inputs = nin;
    a->ninputs = ncfg->ninputs;
    a->count.soft_max = slt__agent_soft_max(a);
    slt__agent_start_inputs(a, &live);
    slt_state_release(&live);
    slt_free(a->token);
    a->token = tok;
    /* the old config's id and state_dir stay (copied at start) */
    uv_timer_set_repeat(&a->flush_timer, (uint64_t)ncfg->agent.flush_interval_ms);
    uv_timer_set_repeat(&a->tick_timer, slt__agent_tick_ms(a));
    if (a->spool)
        a->spool->max_bytes = ncfg->agent.spool_max_bytes;
    if (a->ship)
        slt_ship_reload_tls(a->ship);
    slt__agent_reload_status(a);
    if (reconnect && a->ship)
        slt_ship_reconnect(a->ship);
    a->reloads++;
    slt__agent_check_backpressure(a);
    slt_log(SLT_LOG_INFO, "agent", "reloaded '%s': %zu inputs, %zu SLIs", a->config_path,
            ncfg->ninputs, ncfg->nslis);
}
