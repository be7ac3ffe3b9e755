/*
 * The agent's own health as JSON or Prometheus text: state_dir/status.json rewritten every
 * flush (read by `slitail-agent -c CONFIG --status`), and what the status endpoint (status.c)
 * serves.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "agent.h"
#include "slt/version.h"

#define MAX_FILES 256 /* files listed per input */

static const char *conn_name(enum slt_conn_state st)
{
    switch (st) {
    case SLT_CONN_UP:
        return "connected";
    case SLT_CONN_CONNECTING:
    case SLT_CONN_HELLO:
        return "connecting";
    default:
        return "down";
    }
}

static void json_str(struct slt_buf *b, const char *s)
{
    slt_buf_append(b, "\"", 1);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\')
            slt_buf_printf(b, "\\%c", c);
        else if (c < 0x20)
            slt_buf_printf(b, "\\u%04x", c);
        else
            slt_buf_append(b, s, 1);
    }
    slt_buf_append(b, "\"", 1);
}

/* A JSON string, or null for NULL. */
static void json_str_or_null(struct slt_buf *b, const char *s)
{
    if (s)
        json_str(b, s);
    else
        slt_buf_printf(b, "null");
}

/* Prometheus label values: slt_prom_escape_label of a C string. */
static void prom_label(struct slt_buf *b, const char *s)
{
    slt_prom_escape_label(b, s, s ? strlen(s) : 0);
}

static uint64_t file_unparsed(const struct slt_agent *a, const char *path)
{
    uint64_t h = slt_path_hash(path);
    size_t i;

    for (i = 0; i < a->nunparsed_by_file; i++)
        if (a->unparsed_by_file[i].path_hash == h)
            return a->unparsed_by_file[i].lines;
    return 0;
}

static uint64_t prev_lines(struct slt_agent *a, uint64_t h, int *found)
{
    size_t i;

    for (i = 0; i < a->nrates; i++)
        if (a->rates[i].path_hash == h) {
            *found = 1;
            return a->rates[i].lines;
        }
    *found = 0;
    return 0;
}

struct file_view {
    struct slt_tail_file_stats st;
    const struct slt_agent_input *in;
    double lines_per_sec;
    double lag_seconds;
};

/* Snapshot of every file, with rates against the previous call when update_rates. */
static size_t collect_files(struct slt_agent *a, struct file_view *out, size_t max,
                            int update_rates)
{
    struct slt_tail_file_stats st[MAX_FILES];
    int64_t now = slt_now_ms();
    double dt = a->status_ms ? (double)(now - a->status_ms) / 1000.0 : 0.0;
    size_t i, k, n = 0;

    for (i = 0; i < a->ninputs; i++) {
        struct slt_agent_input *in = &a->inputs[i];
        size_t m;

        if (!in->tail)
            continue;
        m = slt_tail_stats(in->tail, st, MAX_FILES);
        if (m > MAX_FILES)
            m = MAX_FILES;
        for (k = 0; k < m && n < max; k++) {
            struct file_view *v = &out[n++];
            int found;
            uint64_t prev = prev_lines(a, slt_path_hash(st[k].path ? st[k].path : ""), &found);

            v->st = st[k];
            v->in = in;
            v->lines_per_sec =
                found && dt > 0 && st[k].lines >= prev ? (double)(st[k].lines - prev) / dt : 0.0;
            v->lag_seconds = 0;
            if (st[k].size > st[k].offset && in->last_event_s > 0)
                v->lag_seconds = (double)(now / 1000 - in->last_event_s);
            if (v->lag_seconds < 0)
                v->lag_seconds = 0;
        }
    }
    if (update_rates) {
        struct slt_file_rate *r = slt_calloc(n ? n : 1, sizeof(*r));

        if (r) {
            for (k = 0; k < n; k++) {
                r[k].path_hash = slt_path_hash(out[k].st.path ? out[k].st.path : "");
                r[k].lines = out[k].st.lines;
            }
            slt_free(a->rates);
            a->rates = r;
            a->nrates = n;
            a->status_ms = now;
        }
    }
    return n;
}

static const struct slt_ship_counters no_counters;

static const struct slt_ship_counters *ship_counters(const struct slt_agent *a)
{
    return a->ship ? slt_ship_counters(a->ship) : &no_counters;
}

/* Seconds no path of the input has matched a file; 0 when some does. */
static int64_t unmatched_s(const struct slt_agent_input *in)
{
    int64_t ms = slt_paths_none_for_ms(&in->paths, slt_now_ms());

    return ms < 0 ? 0 : ms / 1000;
}

static void render_json(struct slt_agent *a, struct slt_buf *b, struct file_view *fv, size_t nf)
{
    const struct slt_ship_counters *sc = ship_counters(a);
    struct slt_spool *sp = a->spool;
    size_t i, k, r;
    int first;

    slt_buf_printf(b, "{\n  \"agent_id\": ");
    json_str(b, a->agent_id);
    slt_buf_printf(b, ",\n  \"instance\": ");
    json_str(b, a->instance);
    slt_buf_printf(b,
                   ",\n  \"pid\": %d,\n  \"updated_ms\": %" PRId64 ",\n  \"started_ms\": %" PRId64
                   ",\n  \"epoch\": %" PRIu64 ",\n  \"seq\": %" PRIu64
                   ",\n  \"last_acked_seq\": %" PRIu64 ",\n",
                   (int)getpid(), slt_now_ms(), a->started_ms, a->epoch, a->seq, a->last_acked_seq);
    slt_buf_printf(b, "  \"connection\": {\"state\": \"%s\", \"address\": ",
                   a->ship ? conn_name(slt_ship_state(a->ship)) : "down");
    json_str(b, a->ship ? slt_ship_address(a->ship) : "");
    slt_buf_printf(b, ", \"last_error\": ");
    json_str(b, a->ship ? slt_ship_last_error(a->ship) : "");
    slt_buf_printf(b,
                   ", \"connects\": %" PRIu64 ", \"failures\": %" PRIu64
                   ", \"tls_failures\": %" PRIu64 "},\n",
                   sc->connects, sc->failures, sc->tls_failures);
    slt_buf_printf(b,
                   "  \"spool\": {\"batches\": %zu, \"bytes\": %" PRIu64
                   ", \"unacked_batches\": %" PRIu64 ", \"unacked_bytes\": %" PRIu64
                   ", \"max_bytes\": %" PRIu64 ", \"repaired_bytes\": %" PRIu64
                   ", \"pruned_early\": %" PRIu64 "},\n",
                   slt_spool_count(sp), sp->bytes, sp->unacked, sp->unacked_bytes, sp->max_bytes,
                   sp->repaired_bytes, sp->pruned_early);
    slt_buf_printf(b, "  \"backpressure\": %s,\n", a->paused_full ? "true" : "false");
    slt_buf_printf(b, "  \"disk_full\": %s,\n", a->disk_full ? "true" : "false");
    slt_buf_printf(b,
                   "  \"counters\": {\"batches\": %" PRIu64 ", \"early_closes\": %" PRIu64
                   ", \"acked\": %" PRIu64 ", \"duplicates\": %" PRIu64 ", \"rejected\": %" PRIu64
                   ", \"retries\": %" PRIu64 ", \"gaps\": %" PRIu64
                   ", \"unrecoverable_gaps\": %" PRIu64 ", \"abandoned\": %" PRIu64
                   ", \"stale_epochs\": %" PRIu64 ", \"given_up\": %" PRIu64
                   ", \"disk_full_events\": %" PRIu64 ", \"spool_errors\": %" PRIu64
                   ", \"backpressure_events\": %" PRIu64 ", \"reloads\": %" PRIu64
                   ", \"reload_failures\": %" PRIu64 "},\n",
                   a->batches, a->early_closes, sc->acked, sc->duplicates, sc->rejected,
                   sc->retries, sc->gaps, sc->unrecoverable_gaps, a->abandoned, sc->stale_epochs,
                   sc->given_up + a->given_up, a->disk_full_events, a->spool_errors,
                   a->backpressure_events, a->reloads, a->reload_failures);
    slt_buf_printf(b, "  \"inputs\": [");
    for (i = 0; i < a->ninputs; i++) {
        struct slt_agent_input *in = &a->inputs[i];

        slt_buf_printf(b, "%s\n    {\"name\": ", i ? "," : "");
        json_str(b, in->name);
        slt_buf_printf(b,
                       ", \"lines\": %" PRIu64 ", \"unparsed\": %" PRIu64 ", \"oversize\": %" PRIu64
                       ", \"good\": %" PRIu64 ", \"bad\": %" PRIu64 ", \"excluded\": %" PRIu64
                       ", \"truncations\": %" PRIu64 ",\n     \"unparsed_reasons\": {",
                       in->lines, in->unparsed, in->oversize, in->cls[SLT_GOOD], in->cls[SLT_BAD],
                       in->cls[SLT_EXCLUDED], in->tail ? slt_tail_truncations(in->tail) : 0);
        first = 1;
        for (r = 1; r < SLT_UP__COUNT; r++) {
            if (!in->reasons[r])
                continue;
            slt_buf_printf(b, "%s\"%s\": %" PRIu64, first ? "" : ", ", slt_unparsed_name((int)r),
                           in->reasons[r]);
            first = 0;
        }
        slt_buf_printf(b, "},\n     \"unmatched_paths\": [");
        first = 1;
        for (k = 0; k < in->paths.npaths && k < a->cfg->inputs[i].npaths; k++) {
            if (!in->paths.unmatched[k])
                continue;
            slt_buf_printf(b, "%s", first ? "" : ", ");
            json_str(b, a->cfg->inputs[i].paths[k]);
            first = 0;
        }
        slt_buf_printf(b, "], \"unmatched_seconds\": %" PRId64 ",", unmatched_s(in));
        if (in->arrive) {
            struct slt_arrive_stats as;

            slt_arrive_stats(in->arrive, &as);
            slt_buf_printf(b,
                           "\n     \"gz\": {\"files_read\": %" PRIu64 ", \"lines\": %" PRIu64
                           ", \"errors\": %" PRIu64 ", \"last\": ",
                           as.files, as.lines, as.errors);
            json_str(b, as.mark);
            slt_buf_printf(b, ", \"current\": ");
            json_str_or_null(b, as.current);
            slt_buf_printf(b, ", \"offset\": %" PRIu64 "},", as.offset);
        }
        if (in->s3) {
            struct slt_s3_stats ss;

            slt_s3_stats(in->s3, &ss);
            slt_buf_printf(b,
                           "\n     \"s3\": {\"objects_read\": %" PRIu64 ", \"lines\": %" PRIu64
                           ", \"errors\": %" PRIu64 ", \"list_errors\": %" PRIu64
                           ", \"requests\": %" PRIu64 ", \"remembered\": %zu, \"floor\": ",
                           ss.objects, ss.lines, ss.errors, ss.list_errors, ss.requests,
                           ss.remembered);
            json_str(b, ss.floor);
            slt_buf_printf(b, ", \"current\": ");
            json_str_or_null(b, ss.current);
            slt_buf_printf(b, ", \"offset\": %" PRIu64 ", \"credentials\": ", ss.offset);
            json_str(b, ss.credentials);
            slt_buf_printf(b, "},");
        }
        slt_buf_printf(b, "\n     \"files\": [");
        first = 1;
        for (k = 0; k < nf; k++) {
            const struct slt_tail_file_stats *f = &fv[k].st;

            if (fv[k].in != in)
                continue;
            slt_buf_printf(b, "%s\n       {\"path\": ", first ? "" : ",");
            json_str(b, f->path);
            slt_buf_printf(b,
                           ", \"offset\": %" PRIu64 ", \"size\": %" PRIu64
                           ", \"lag_bytes\": %" PRIu64 ", \"lag_seconds\": %.0f"
                           ", \"lines\": %" PRIu64 ", \"lines_per_sec\": %.1f"
                           ", \"unparsed\": %" PRIu64 ", \"oversize\": %" PRIu64
                           ", \"truncations\": %" PRIu64 ", \"errors\": %" PRIu64 "}",
                           f->offset, f->size, f->size > f->offset ? f->size - f->offset : 0,
                           fv[k].lag_seconds, f->lines, fv[k].lines_per_sec,
                           file_unparsed(a, f->path), f->oversize, f->truncations, f->errors);
            first = 0;
        }
        slt_buf_printf(b, "]}");
    }
    slt_buf_printf(b, "\n  ]\n}\n");
}

static void prom(struct slt_buf *b, const char *name, const char *type, const char *help,
                 uint64_t v)
{
    slt_buf_printf(b, "# HELP slitail_agent_%s %s\n# TYPE slitail_agent_%s %s\n", name, help, name,
                   type);
    slt_buf_printf(b, "slitail_agent_%s %" PRIu64 "\n", name, v);
}

static void render_prom(struct slt_agent *a, struct slt_buf *b, struct file_view *fv, size_t nf)
{
    const struct slt_ship_counters *sc = ship_counters(a);
    struct slt_spool *sp = a->spool;
    enum slt_conn_state cs = a->ship ? slt_ship_state(a->ship) : SLT_CONN_DOWN;
    size_t i, k;
    static const struct {
        const char *name, *help;
        size_t off;
    } in_counters[] = {
        {"input_lines_total", "lines read", offsetof(struct slt_agent_input, lines)},
        {"input_unparsed_total", "lines that did not parse",
         offsetof(struct slt_agent_input, unparsed)},
        {"input_oversize_total", "lines over max_line", offsetof(struct slt_agent_input, oversize)},
    };

    slt_build_info_prom(b);
    prom(b, "connected", "gauge", "1 when connected to an aggregator", cs == SLT_CONN_UP);
    prom(b, "spool_batches", "gauge", "batches in the spool", slt_spool_count(sp));
    prom(b, "spool_bytes", "gauge", "bytes in the spool", sp->bytes);
    prom(b, "spool_unacked_batches", "gauge", "batches not yet acknowledged", sp->unacked);
    prom(b, "spool_max_bytes", "gauge", "spool bound", sp->max_bytes);
    prom(b, "disk_full", "gauge", "1 while writes under state_dir fail with ENOSPC or EDQUOT",
         (uint64_t)a->disk_full);
    prom(b, "backpressure", "gauge", "1 while reading is paused because the spool is full",
         (uint64_t)a->paused_full);
    prom(b, "last_acked_seq", "gauge", "last acknowledged batch seq", a->last_acked_seq);
    prom(b, "batches_total", "counter", "batches closed", a->batches);
    prom(b, "acked_total", "counter", "batches applied by the aggregator", sc->acked);
    prom(b, "duplicates_total", "counter", "batches the aggregator already had", sc->duplicates);
    prom(b, "rejected_total", "counter", "REJECTED answers", sc->rejected);
    prom(b, "stale_epochs_total", "counter",
         "REJECTED for a stale epoch: moved to a larger epoch and resent", sc->stale_epochs);
    prom(b, "batches_given_up_total", "counter",
         "batches dropped for good (rejected as invalid, or not carried into a new epoch)",
         sc->given_up + a->given_up);
    prom(b, "retries_total", "counter", "RETRY answers", sc->retries);
    prom(b, "gaps_total", "counter", "GAP answers", sc->gaps);
    prom(b, "unrecoverable_gaps_total", "counter",
         "GAPs whose batches were no longer spooled (new epoch)", sc->unrecoverable_gaps);
    prom(b, "backpressure_events_total", "counter", "times the spool filled up",
         a->backpressure_events);
    prom(b, "spool_errors_total", "counter", "failed spool appends", a->spool_errors);
    prom(b, "reload_failures_total", "counter", "rejected reloads", a->reload_failures);
    prom(b, "connects_total", "counter", "sessions established", sc->connects);
    prom(b, "connection_failures_total", "counter", "connections that failed or broke",
         sc->failures);
    prom(b, "tls_failures_total", "counter",
         "TLS handshakes or certificate checks with the aggregator that failed", sc->tls_failures);
    for (k = 0; k < SLT_ARRAY_SIZE(in_counters); k++) {
        slt_buf_printf(b, "# HELP slitail_agent_%s %s\n# TYPE slitail_agent_%s counter\n",
                       in_counters[k].name, in_counters[k].help, in_counters[k].name);
        for (i = 0; i < a->ninputs; i++) {
            const struct slt_agent_input *in = &a->inputs[i];
            uint64_t v;

            memcpy(&v, (const char *)in + in_counters[k].off, sizeof(v));
            slt_buf_printf(b, "slitail_agent_%s{input=\"", in_counters[k].name);
            prom_label(b, in->name);
            slt_buf_printf(b, "\"} %" PRIu64 "\n", v);
        }
    }
    slt_buf_printf(b, "# HELP slitail_agent_input_unmatched_paths paths and globs of the input "
                      "that match no file\n"
                      "# TYPE slitail_agent_input_unmatched_paths gauge\n");
    for (i = 0; i < a->ninputs; i++) {
        slt_buf_printf(b, "slitail_agent_input_unmatched_paths{input=\"");
        prom_label(b, a->inputs[i].name);
        slt_buf_printf(b, "\"} %zu\n", a->inputs[i].paths.nunmatched);
    }
    slt_buf_printf(b, "# HELP slitail_agent_input_unmatched 1 when no path of the input has "
                      "matched a file for agent.unmatched_after\n"
                      "# TYPE slitail_agent_input_unmatched gauge\n");
    for (i = 0; i < a->ninputs; i++) {
        int64_t ms = slt_paths_none_for_ms(&a->inputs[i].paths, slt_now_ms());

        slt_buf_printf(b, "slitail_agent_input_unmatched{input=\"");
        prom_label(b, a->inputs[i].name);
        slt_buf_printf(b, "\"} %d\n", ms >= 0 && ms >= a->cfg->agent.unmatched_after_ms);
    }
    {
        static const struct {
            const char *name, *type, *help;
        } fm[] = {
            {"file_offset_bytes", "gauge", "next byte to read"},
            {"file_lag_bytes", "gauge", "bytes written and not yet read"},
            {"file_lines_total", "counter", "lines read since the agent started"},
            {"file_truncations_total", "counter", "truncations seen"},
        };

        /* one family at a time: Prometheus wants a family's samples together */
        for (i = 0; i < SLT_ARRAY_SIZE(fm); i++) {
            slt_buf_printf(b, "# HELP slitail_agent_%s %s\n# TYPE slitail_agent_%s %s\n",
                           fm[i].name, fm[i].help, fm[i].name, fm[i].type);
            for (k = 0; k < nf; k++) {
                const struct slt_tail_file_stats *f = &fv[k].st;
                uint64_t vals[] = {f->offset, f->size > f->offset ? f->size - f->offset : 0,
                                   f->lines, f->truncations};

                slt_buf_printf(b, "slitail_agent_%s{input=\"", fm[i].name);
                prom_label(b, fv[k].in->name);
                slt_buf_printf(b, "\",path=\"");
                prom_label(b, f->path);
                slt_buf_printf(b, "\"} %" PRIu64 "\n", vals[i]);
            }
        }
    }
}

int slt_status_render(void *data, int prometheus, struct slt_buf *out)
{
    struct slt_agent *a = data;
    struct file_view *fv = slt_calloc(MAX_FILES, sizeof(*fv));
    size_t nf;

    if (!fv)
        return SLT_ENOMEM;
    nf = collect_files(a, fv, MAX_FILES, !prometheus);
    if (prometheus)
        render_prom(a, out, fv, nf);
    else
        render_json(a, out, fv, nf);
    slt_free(fv);
    return 0;
}

int slt_status_write(struct slt_agent *a)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    struct slt_buf b;
    FILE *f;
    int rc = 0;

    slt_buf_init(&b, 16u << 20);
    if ((rc = slt_status_render(a, 0, &b)) < 0)
        goto out;
    snprintf(path, sizeof(path), "%s/status.json", a->state_dir);
    snprintf(tmp, sizeof(tmp), "%s/status.json.tmp", a->state_dir);
    f = fopen(tmp, "w");
    if (!f) {
        rc = SLT_EINVAL;
        goto out;
    }
    if (fwrite(b.p, 1, b.len, f) != b.len)
        rc = SLT_EINVAL;
    if (fclose(f) != 0)
        rc = SLT_EINVAL;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = SLT_EINVAL;
out:
    slt_buf_release(&b);
    return rc;
}
