/*
 * Counting each line (per series and minute) and closing batches: encoded, spooled with the
 * positions after the last counted line, retried as is when the spool cannot take them.
 */
#include "agent_internal.h"

#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "slt/parser.h"
#include "slt/rule.h"

/* ---- counting ---- */

static void request_early_close(struct slt_agent *a);

static inline int count(struct slt_agent *a, uint32_t series, int64_t minute, unsigned idx)
{
    int r = slt_count_add(&a->count, series, minute, idx, 1);

    if (r < 0) {
        slt__agent_fatal(a, "cannot count a line", r);
        return 0;
    }
    return r;
}

static void count_unparsed_file(struct slt_agent *a, struct slt_tail_file *file)
{
    uint64_t h = slt_path_hash(slt_tail_file_path(file));
    struct slt_file_rate *v;
    size_t i;

    for (i = 0; i < a->nunparsed_by_file; i++)
        if (a->unparsed_by_file[i].path_hash == h) {
            a->unparsed_by_file[i].lines++;
            return;
        }
    if (a->nunparsed_by_file >= SLT_AGENT_MAX_UNPARSED_FILES)
        return;
    v = slt_realloc(a->unparsed_by_file, (a->nunparsed_by_file + 1) * sizeof(*v));
    if (!v)
        return;
    a->unparsed_by_file = v;
    v[a->nunparsed_by_file].path_hash = h;
    v[a->nunparsed_by_file].lines = 1;
    a->nunparsed_by_file++;
}

/*
 * w3c / cloudfront: the columns of a line come from the last '#Fields:' line before it in the
 * same file, which the parser keeps per stream (one per tailed file). A file first seen in the
 * middle (a restart from a checkpoint, read_from: end) has its header behind us: read back
 * from where reading starts, at most W3C_LOOKBACK bytes, for the last '#Fields:' line and the
 * '#' lines of its block, and give them to the parser. Plain files only (a .gz is read from
 * its start); without a header found, the format's default columns apply.
 */
#define W3C_LOOKBACK (64u << 20)
#define W3C_CHUNK (64u << 10)

static void recover_header(struct slt_agent_input *in, const char *path, uint64_t start)
{
    char *buf = NULL;
    uint64_t pos = start, lo = start > W3C_LOOKBACK ? start - W3C_LOOKBACK : 0;
    size_t n, i, blk, e;
    ssize_t r;
    int fd;

    if (!path || (strlen(path) > 3 && strcmp(path + strlen(path) - 3, ".gz") == 0))
        return;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return;
    buf = slt_malloc(W3C_CHUNK + 1);
    while (buf && pos > lo) {
        /* the chunk before pos, overlapping the next one by a header line's worth */
        uint64_t from = pos - lo > W3C_CHUNK ? pos - W3C_CHUNK : lo;

        n = (size_t)(pos - from);
        r = pread(fd, buf, n, (off_t)from);
        if (r != (ssize_t)n)
            break;
        for (i = n; i-- > 0;) {
            struct slt_record rec;

            if (buf[i] != '#' || (i > 0 && buf[i - 1] != '\n') || (i == 0 && from != 0) ||
                n - i < 8 || strncasecmp(buf + i, "#Fields:", 8) != 0)
                continue;
            /* the header block: the '#' lines right before it, then this one */
            for (blk = i; blk > 0;) {
                size_t b = blk - 1;
                while (b > 0 && buf[b - 1] != '\n')
                    b--;
                if (buf[b] != '#' || (b == 0 && from != 0))
                    break;
                blk = b;
            }
            for (e = blk; e < n;) {
                size_t l = e;
                while (l < n && buf[l] != '\n')
                    l++;
                if (l == n)
                    break; /* the #Fields: line runs past the chunk: not complete */
                (void)slt_parse(in->parser, buf + e, l - e, &rec);
                if (e == i)
                    break;
                e = l + 1;
            }
            slt_log(SLT_LOG_INFO, "agent",
                    "input '%s': '%s' read from offset %" PRIu64 " with the #Fields: line at "
                    "offset %" PRIu64,
                    in->name, path, start, from + i);
            goto out;
        }
        if (from == lo)
            break;
        pos = from + 256; /* keep a little overlap for a line cut at the chunk edge */
        if (pos >= start)
            break;
    }
out:
    slt_free(buf);
    close(fd);
}

void slt__agent_on_line(void *data, struct slt_tail_file *file, const char *line, size_t len,
                        unsigned flags, uint64_t end_offset)
{
    struct slt_agent_input *in = data;
    struct slt_agent *a = in->a;
    struct slt_record rec;
    int64_t minute;
    size_t k;
    int r, full = 0;

    (void)end_offset;
    if (in->closing || a->stopped)
        return;
    in->lines++;
    /* per-file header state (w3c, cloudfront); a file first met mid-way gets its header */
    if (in->has_header && slt_parser_stream(in->parser, (uint64_t)(uintptr_t)file) &&
        end_offset > len + 1)
        recover_header(in, file ? slt_tail_file_path(file) : NULL, end_offset - len - 1);
    if (flags & SLT_TAIL_OVERSIZE)
        r = SLT_UP_OVERSIZE;
    else
        r = slt_parse(in->parser, line, len, &rec);
    if (r != SLT_UP_OK) {
        /* no event time: the line counts in the minute it was read */
        minute = slt_minute_of(a->now_s);
        in->unparsed++;
        if (file)
            count_unparsed_file(a, file);
        if (r > 0 && r < SLT_UP__COUNT)
            in->reasons[r]++;
        full |= count(a, in->series, minute, 0);
        full |= count(a, in->series, minute, 1);
        if (r == SLT_UP_OVERSIZE) {
            in->oversize++;
            full |= count(a, in->series, minute, 2);
        }
    } else {
        minute = slt_minute_of(rec.time);
        in->last_event_s = rec.time;
        full |= count(a, in->series, minute, 0);
        slt_slis_classify(in->sli_cfg, in->nslis, &rec, a->matcher, in->line_cls);
        for (k = 0; k < in->nslis; k++) {
            unsigned c = in->line_cls[k];

            if (c < SLT_CLASS_COUNTED) {
                in->cls[c]++;
                full |= count(a, in->slis[k], minute, c);
            }
        }
    }
    if (full)
        request_early_close(a);
}

static void on_close_timer(uv_timer_t *t)
{
    struct slt_agent *a = t->data;

    a->paused_close = 0;
    if (!a->stopping)
        slt__agent_close_batch(a);
    slt__agent_update_pause(a);
}

static void request_early_close(struct slt_agent *a)
{
    if (a->paused_close || a->stopped)
        return;
    /* the tail is mid-delivery: pause it, close the batch on the next loop turn, when its
     * positions are just after the line counted last */
    a->early_closes++;
    a->paused_close = 1;
    slt__agent_update_pause(a);
    uv_timer_start(&a->close_timer, on_close_timer, 0, 0);
}

/* ---- batches ---- */

uint64_t slt__agent_compute_acked(struct slt_agent *a)
{
    size_t i, n = slt_spool_count(a->spool);

    for (i = 0; i < n; i++) {
        const struct slt_spool_rec *r = slt_spool_at(a->spool, i);

        if (r->epoch == a->epoch && !r->acked)
            return r->seq - 1;
    }
    return a->seq - (a->has_pending ? 1 : 0);
}

static int spool_pending(struct slt_agent *a)
{
    struct slt_state st;
    int rc;

    rc =
        slt_spool_append(a->spool, a->epoch, a->pending_seq, a->pending_created, a->pending_frame.p,
                         a->pending_frame.len, a->pending_state.p, a->pending_state.len);
    slt__agent_note_disk(a, rc, "spool");
    if (rc < 0) {
        if (!a->paused_pending)
            slt_log(SLT_LOG_ERROR, "agent",
                    "cannot spool batch %" PRIu64 ": %s; reading paused, retrying", a->pending_seq,
                    slt_strerror(rc));
        a->spool_errors++;
        a->paused_pending = 1;
        slt__agent_update_pause(a);
        return rc;
    }
    if (a->paused_pending)
        slt_log(SLT_LOG_INFO, "agent", "batch %" PRIu64 " spooled after a retry", a->pending_seq);
    a->has_pending = 0;
    a->paused_pending = 0;
    a->batches++;
    if (slt_state_decode(a->pending_state.p, a->pending_state.len, &st) == 0) {
        slt_state_release(&a->last);
        a->last = st;
    }
    slt__agent_check_backpressure(a);
    if (a->ship)
        slt_ship_kick(a->ship);
    return 0;
}

int slt__agent_close_batch(struct slt_agent *a)
{
    struct slt_count_snapshot snap;
    struct slt_msg msg;
    struct slt_series *ser = NULL;
    struct slt_state st;
    uint64_t seq;
    size_t i;
    int rc;

    if (a->has_pending && (rc = spool_pending(a)) < 0)
        return rc;
    if (slt_count_len(&a->count) == 0)
        return 0;
    if ((rc = slt_count_take(&a->count, &snap)) < 0)
        return rc;
    seq = a->seq + 1;
    memset(&st, 0, sizeof(st));
    ser = slt_calloc(a->nseries, sizeof(*ser));
    st.series = slt_calloc(a->nseries, sizeof(*st.series));
    if (!ser || !st.series) {
        rc = SLT_ENOMEM;
        goto out;
    }
    for (i = 0; i < a->nseries; i++) {
        if (!a->series[i].since)
            a->series[i].since = seq;
        ser[i].kind = (enum slt_series_kind)a->series[i].kind;
        ser[i].name = slt_str_make(a->series[i].name, strlen(a->series[i].name));
        ser[i].since = a->series[i].since;
        if (i < snap.nseries) {
            ser[i].rows = snap.rows + snap.off[i];
            ser[i].nrows = snap.off[i + 1] - snap.off[i];
        }
        st.series[i].kind = a->series[i].kind;
        st.series[i].name = a->series[i].name; /* borrowed for the encoding */
        st.series[i].since = a->series[i].since;
    }
    st.nseries = a->nseries;
    memset(&msg, 0, sizeof(msg));
    msg.type = SLT_MSG_BATCH;
    msg.u.batch.agent_id = slt_str_make(a->agent_id, strlen(a->agent_id));
    msg.u.batch.epoch = a->epoch;
    msg.u.batch.seq = seq;
    msg.u.batch.created_ms = slt_now_ms();
    msg.u.batch.series = ser;
    msg.u.batch.nseries = a->nseries;
    a->pending_frame.len = 0;
    a->pending_state.len = 0;
    if ((rc = slt_msg_encode(&msg, &a->pending_frame)) < 0) {
        slt_log(SLT_LOG_ERROR, "agent", "cannot encode batch %" PRIu64 ": %s", seq,
                slt_strerror(rc));
        goto out;
    }
    if ((rc = slt__agent_collect_positions(a, &st.inputs, &st.ninputs)) < 0)
        goto out;
    st.epoch = a->epoch;
    st.seq = seq;
    st.acked_seq = slt__agent_compute_acked(a);
    rc = slt_state_encode(&st, &a->pending_state);
    for (i = 0; i < st.ninputs; i++) {
        slt_free(st.inputs[i].name);
        slt_free(st.inputs[i].pos);
    }
    slt_free(st.inputs);
    if (rc < 0)
        goto out;
    a->seq = seq;
    a->pending_seq = seq;
    a->pending_created = msg.u.batch.created_ms;
    a->has_pending = 1;
    rc = spool_pending(a);
out:
    slt_free(st.series);
    slt_free(ser);
    slt_count_snapshot_release(&snap);
    if (rc < 0 && !a->has_pending)
        slt__agent_fatal(a, "cannot close a batch", rc);
    return rc;
}
