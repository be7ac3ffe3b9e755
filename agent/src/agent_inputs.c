/*
 * The agent's series (one per SLI and input) and inputs (tail, .gz arrivals, S3): made from
 * the config, started from restored positions, their live positions, closed.
 */
#include "agent_internal.h"

#include <inttypes.h>
#include <string.h>

#include "slt/curl_uv.h"
#include "slt/parser.h"

/* ---- series ---- */

static long find_series(struct slt_agent *a, uint32_t kind, const char *name)
{
    size_t i;

    for (i = 0; i < a->nseries; i++)
        if (a->series[i].kind == kind && strcmp(a->series[i].name, name) == 0)
            return (long)i;
    return -1;
}

static long add_series(struct slt_agent *a, uint32_t kind, const char *name, uint64_t since)
{
    struct slt_agent_series *n;
    long i = find_series(a, kind, name);

    if (i >= 0) {
        a->series[i].live = 1;
        return i;
    }
    n = slt_realloc(a->series, (a->nseries + 1) * sizeof(*n));
    if (!n)
        return SLT_ENOMEM;
    a->series = n;
    n = &a->series[a->nseries];
    memset(n, 0, sizeof(*n));
    n->kind = kind;
    n->since = since;
    n->live = 1;
    if (!(n->name = slt_strdup(name)))
        return SLT_ENOMEM;
    return (long)a->nseries++;
}

/* Series of cfg (marked live) after the ones already known (kept, carried empty). */
int slt__agent_build_series(struct slt_agent *a, const struct slt_config *cfg,
                            const struct slt_state *st)
{
    size_t i;
    long r;

    for (i = 0; i < a->nseries; i++)
        a->series[i].live = 0;
    /* series of the recovered state first, so that removed ones stay contiguous */
    for (i = 0; st && i < st->nseries; i++) {
        if ((r = add_series(a, st->series[i].kind, st->series[i].name, st->series[i].since)) < 0)
            return (int)r;
        a->series[r].live = 0;
    }
    for (i = 0; i < cfg->nslis; i++)
        if ((r = add_series(a, SLT_SERIES_SLI, cfg->slis[i].name, 0)) < 0)
            return (int)r;
    for (i = 0; i < cfg->ninputs; i++)
        if ((r = add_series(a, SLT_SERIES_INPUT, cfg->inputs[i].name, 0)) < 0)
            return (int)r;
    return 0;
}

/* Bytes of a batch frame that do not depend on the rows: the series headers and names. */
static uint64_t frame_overhead(const struct slt_agent *a)
{
    uint64_t n = 256 + strlen(a->agent_id);
    size_t i;

    for (i = 0; i < a->nseries; i++)
        n += 32 + strlen(a->series[i].name);
    return n;
}

#define ROW_MAX_BYTES 42 /* [minute, v0, v1, v2] at their widest */

/* Cells counted before a batch is closed early: what minutes_kept allows and a frame holds. */
size_t slt__agent_soft_max(const struct slt_agent *a)
{
    uint64_t m = (uint64_t)a->cfg->agent.minutes_kept * (a->nseries ? a->nseries : 1);
    uint64_t over = frame_overhead(a), room;

    if (m > SLT_AGENT_MAX_ROWS)
        m = SLT_AGENT_MAX_ROWS;
    room = over < SLT_AGENT_MAX_FRAME ? (SLT_AGENT_MAX_FRAME - over) / ROW_MAX_BYTES : 0;
    /* one line may add a cell per series past the bound before the close */
    room = room > a->nseries ? room - a->nseries : 0;
    if (m > room)
        m = room;
    return m ? (size_t)m : 1;
}

/* 0 when a batch of every series with at least one row fits in a frame. */
int slt__agent_check_frame_room(const struct slt_agent *a)
{
    uint64_t over = frame_overhead(a);

    if (over + ((uint64_t)a->nseries * 2 + 1) * ROW_MAX_BYTES > SLT_AGENT_MAX_FRAME) {
        slt_log(SLT_LOG_ERROR, "agent",
                "%zu series with their names need %" PRIu64 " bytes per batch: over the %u byte "
                "frame limit; use fewer SLIs or inputs",
                a->nseries, over, SLT_AGENT_MAX_FRAME);
        return SLT_ELIMIT;
    }
    return 0;
}

/* ---- inputs ---- */

void slt__agent_input_release(struct slt_agent_input *in)
{
    slt_parser_free(in->parser);
    slt_free(in->name);
    slt_free(in->slis);
    slt_free(in->sli_cfg);
    slt_free(in->line_cls);
    slt_paths_release(&in->paths);
    memset(in, 0, sizeof(*in));
}

static int input_init(struct slt_agent *a, struct slt_agent_input *in, const struct slt_config *cfg,
                      size_t idx)
{
    const struct slt_input *ci = &cfg->inputs[idx];
    size_t k, n = 0;

    memset(in, 0, sizeof(*in));
    in->a = a;
    in->name = slt_strdup(ci->name);
    in->parser = slt_parser_new(ci->fmt, ci->max_line);
    in->has_header = slt_format_has_header(ci->fmt);
    in->series = (uint32_t)find_series(a, SLT_SERIES_INPUT, ci->name);
    for (k = 0; k < cfg->nslis; k++)
        if (cfg->slis[k].input_idx == idx)
            n++;
    in->slis = slt_calloc(n ? n : 1, sizeof(*in->slis));
    in->sli_cfg = slt_calloc(n ? n : 1, sizeof(*in->sli_cfg));
    in->line_cls = slt_calloc(n ? n : 1, sizeof(*in->line_cls));
    if (!in->name || !in->parser || !in->slis || !in->sli_cfg || !in->line_cls ||
        slt_paths_init(&in->paths, ci->npaths) < 0)
        return SLT_ENOMEM;
    for (k = 0; k < cfg->nslis; k++) {
        if (cfg->slis[k].input_idx != idx)
            continue;
        in->sli_cfg[in->nslis] = &cfg->slis[k];
        in->slis[in->nslis] = (uint32_t)find_series(a, SLT_SERIES_SLI, cfg->slis[k].name);
        in->nslis++;
    }
    return 0;
}

static int input_start(struct slt_agent *a, struct slt_agent_input *in, const struct slt_input *ci,
                       const struct slt_state_input *restore)
{
    struct slt_tail_opts o;
    struct slt_tail_pos *tpos;
    size_t k, ntpos = 0;
    int rc;

    if (ci->s3.bucket) {
        struct slt_s3_opts so;

        if (!a->curl && (rc = slt_curl_uv_new(a->loop, &a->curl)) < 0) {
            slt_log(SLT_LOG_ERROR, "agent", "input '%s': cannot start libcurl: %s", ci->name,
                    slt_strerror(rc));
            return rc;
        }
        memset(&so, 0, sizeof(so));
        so.input = ci->name;
        so.conf = &ci->s3;
        so.read_from_beginning = ci->read_from_beginning;
        so.max_line = ci->max_line ? ci->max_line : SLT_DEFAULT_MAX_LINE;
        so.on_line = slt__agent_on_line;
        so.data = in;
        rc = slt_s3_new(a->loop, a->curl, &so, restore ? restore->pos : NULL,
                        restore ? restore->npos : 0, &in->s3);
        if (rc < 0) {
            slt_log(SLT_LOG_ERROR, "agent", "input '%s': cannot start reading s3://%s: %s",
                    ci->name, ci->s3.bucket, slt_strerror(rc));
            in->s3 = NULL;
            return rc;
        }
        if (a->tails_paused)
            slt_s3_pause(in->s3);
        return 0;
    }
    memset(&o, 0, sizeof(o));
    o.paths = (const char *const *)ci->paths;
    o.npaths = ci->npaths;
    o.read_from_beginning = ci->read_from_beginning;
    o.max_line = ci->max_line ? ci->max_line : SLT_DEFAULT_MAX_LINE;
    o.poll_ms = a->cfg->agent.poll_interval_ms;
    o.on_line = slt__agent_on_line;
    o.data = in;
    /* the tailer gets its own positions; .gz arrivals (SLT_POS_OBJECT) theirs */
    tpos = restore && restore->npos ? slt_malloc(restore->npos * sizeof(*tpos)) : NULL;
    if (restore && restore->npos && !tpos)
        return SLT_ENOMEM;
    for (k = 0; restore && k < restore->npos; k++)
        if (!(restore->pos[k].flags & SLT_POS_OBJECT))
            tpos[ntpos++] = restore->pos[k];
    rc = slt_tail_new(a->loop, &o, restore ? (tpos ? tpos : restore->pos) : NULL, ntpos, &in->tail);
    slt_free(tpos);
    if (rc < 0) {
        slt_log(SLT_LOG_ERROR, "agent", "input '%s': cannot start tailing: %s", ci->name,
                slt_strerror(rc));
        in->tail = NULL;
        return rc;
    }
    if (a->tails_paused)
        slt_tail_pause(in->tail);
    if (slt_arrive_wanted((const char *const *)ci->paths, ci->npaths)) {
        struct slt_arrive_opts ao;

        memset(&ao, 0, sizeof(ao));
        ao.input = ci->name;
        ao.paths = (const char *const *)ci->paths;
        ao.npaths = ci->npaths;
        ao.read_from_beginning = ci->read_from_beginning;
        ao.max_line = o.max_line;
        ao.poll_ms = o.poll_ms;
        ao.settle_ms = ci->gz_settle_ms;
        ao.on_line = slt__agent_on_line;
        ao.data = in;
        rc = slt_arrive_new(a->loop, &ao, restore ? restore->pos : NULL,
                            restore ? restore->npos : 0, &in->arrive);
        if (rc < 0) {
            slt_log(SLT_LOG_ERROR, "agent", "input '%s': cannot start reading .gz files: %s",
                    ci->name, slt_strerror(rc));
            in->arrive = NULL;
            return rc;
        }
        if (a->tails_paused)
            slt_arrive_pause(in->arrive);
    }
    return 0;
}

/* Live positions of every input, as a state's input list. */
int slt__agent_collect_positions(struct slt_agent *a, struct slt_state_input **out, size_t *nout)
{
    struct slt_state_input *v;
    size_t i;

    v = slt_calloc(a->ninputs ? a->ninputs : 1, sizeof(*v));
    if (!v)
        return SLT_ENOMEM;
    for (i = 0; i < a->ninputs; i++) {
        struct slt_agent_input *in = &a->inputs[i];
        size_t cap = 8, n = 0;

        v[i].name = slt_strdup(in->name);
        if (!v[i].name)
            goto nomem;
        if (in->s3) {
            for (;;) {
                v[i].pos = slt_malloc(cap * sizeof(*v[i].pos));
                if (!v[i].pos)
                    goto nomem;
                n = slt_s3_positions(in->s3, v[i].pos, cap);
                if (n <= cap)
                    break;
                slt_free(v[i].pos);
                v[i].pos = NULL;
                cap = n;
            }
            v[i].npos = n;
            continue;
        }
        if (!in->tail) {
            /* not tailing (failed to start): keep what the last state had */
            const struct slt_state_input *old = slt_state_input(&a->last, in->name);

            if (old && old->npos) {
                v[i].pos = slt_malloc(old->npos * sizeof(*v[i].pos));
                if (!v[i].pos)
                    goto nomem;
                memcpy(v[i].pos, old->pos, old->npos * sizeof(*v[i].pos));
                v[i].npos = old->npos;
            }
            continue;
        }
        for (;;) {
            size_t m = 0;

            v[i].pos = slt_malloc(cap * sizeof(*v[i].pos));
            if (!v[i].pos)
                goto nomem;
            n = slt_tail_positions(in->tail, v[i].pos, cap);
            if (in->arrive)
                m = slt_arrive_positions(in->arrive, n <= cap ? v[i].pos + n : NULL,
                                         n <= cap ? cap - n : 0);
            if (n + m <= cap) {
                n += m;
                break;
            }
            slt_free(v[i].pos);
            v[i].pos = NULL;
            cap = n + m;
        }
        v[i].npos = n;
    }
    *out = v;
    *nout = a->ninputs;
    return 0;
nomem:
    for (i = 0; i < a->ninputs; i++) {
        slt_free(v[i].name);
        slt_free(v[i].pos);
    }
    slt_free(v);
    return SLT_ENOMEM;
}

struct old_inputs {
    struct slt_agent *a;
    struct slt_config *cfg; /* freed with the inputs */
    struct slt_agent_input *inputs;
    size_t n, open;
};

static void on_old_tail_closed(void *data)
{
    struct old_inputs *o = data;
    size_t i;

    if (--o->open > 0)
        return;
    for (i = 0; i < o->n; i++)
        slt__agent_input_release(&o->inputs[i]);
    slt_free(o->inputs);
    slt_config_free(o->cfg);
    o->a->handles_open--;
    slt_free(o);
}

/* Hands inputs (and the config they borrow from, may be NULL) to an async close. */
void slt__agent_close_inputs(struct slt_agent *a, struct slt_agent_input *inputs, size_t n,
                             struct slt_config *cfg)
{
    struct old_inputs *o = slt_calloc(1, sizeof(*o));
    size_t i;

    if (!o) {
        /* cannot track the close: leak rather than free under the tailer */
        slt_log(SLT_LOG_ERROR, "agent", "out of memory closing inputs");
        return;
    }
    o->a = a;
    o->cfg = cfg;
    o->inputs = inputs;
    o->n = n;
    o->open = 1; /* released below, after every close is started */
    a->handles_open++;
    for (i = 0; i < n; i++) {
        inputs[i].closing = 1;
        if (inputs[i].tail) {
            o->open++;
            slt_tail_close(inputs[i].tail, on_old_tail_closed, o);
            inputs[i].tail = NULL;
        }
        if (inputs[i].arrive) {
            o->open++;
            slt_arrive_close(inputs[i].arrive, on_old_tail_closed, o);
            inputs[i].arrive = NULL;
        }
        if (inputs[i].s3) {
            o->open++;
            slt_s3_close(inputs[i].s3, on_old_tail_closed, o);
            inputs[i].s3 = NULL;
        }
    }
    on_old_tail_closed(o);
}

/* Inputs of cfg, restored from st (by input name). */
int slt__agent_make_inputs(struct slt_agent *a, struct slt_config *cfg, const struct slt_state *st,
                           struct slt_agent_input **out)
{
    struct slt_agent_input *v = slt_calloc(cfg->ninputs ? cfg->ninputs : 1, sizeof(*v));
    size_t i;
    int rc;

    if (!v)
        return SLT_ENOMEM;
    for (i = 0; i < cfg->ninputs; i++) {
        if ((rc = input_init(a, &v[i], cfg, i)) < 0) {
            while (i + 1 > 0) {
                slt__agent_input_release(&v[i]);
                if (i-- == 0)
                    break;
            }
            slt_free(v);
            return rc;
        }
    }
    (void)st;
    *out = v;
    return 0;
}

/* Paths and globs that match no file: logged as warnings with warn (start, SIGHUP). */
void slt__agent_check_paths(struct slt_agent *a, int warn)
{
    int64_t now = slt_now_ms();
    size_t i;

    for (i = 0; i < a->ninputs; i++)
        slt_paths_check(&a->inputs[i].paths, a->inputs[i].name, a->cfg->inputs[i].paths, warn, now);
}

void slt__agent_start_inputs(struct slt_agent *a, const struct slt_state *st)
{
    const struct slt_state_input *r;
    size_t i;

    slt__agent_check_paths(a, 1);
    for (i = 0; i < a->ninputs; i++) {
        /* an ambiguous rename at a reload: that input starts per its read_from */
        if (slt__agent_restore_of(a, st, i, 1, &r) < 0)
            r = NULL;
        input_start(a, &a->inputs[i], &a->cfg->inputs[i], r);
    }
}
