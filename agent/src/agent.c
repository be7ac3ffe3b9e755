/*
 * The agent: counting, batches, recovery, backpressure, reload and shutdown. See agent.h and
 * docs/AGENT.md.
 */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "slt/curl_uv.h"
#include "slt/parser.h"
#include "slt/rule.h"
#include "slt/tls.h"

#define CKPT_EVERY_MS 5000
#define RESERVE_BYTES (256 * 1024) /* state_dir/reserve: room for a checkpoint on a full disk */
#define RESERVE_RETRY_MS 2000

static void on_line(void *data, struct slt_tail_file *file, const char *line, size_t len,
                    unsigned flags, uint64_t end_offset);
static void finish(struct slt_agent *a);
static void reload_status(struct slt_agent *a);
static void check_paths(struct slt_agent *a, int warn);
static int close_batch(struct slt_agent *a);

/* ---- small helpers ---- */

static int mkdir_p(const char *path)
{
    char tmp[PATH_MAX];
    size_t i, n = strlen(path);

    if (n == 0 || n >= sizeof(tmp))
        return SLT_EINVAL;
    memcpy(tmp, path, n + 1);
    for (i = 1; i <= n; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0')
            continue;
        tmp[i] = '\0';
        if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
            return -errno;
        tmp[i] = i < n ? '/' : '\0';
    }
    return 0;
}

/* Reads a token file (slt_read_secret, at most SLT_TOKEN_MAX bytes); no file: "". */
static int read_token(const char *path, char **out)
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

static void fatal(struct slt_agent *a, const char *what, int rc)
{
    /* Nothing more is counted or checkpointed: a restart re-reads from the last spooled
     * positions, so exiting keeps every count exact. */
    slt_log(SLT_LOG_ERROR, "agent", "%s: %s; exiting so a restart recounts from the spool", what,
            slt_strerror(rc));
    a->exit_code = 1;
    a->stopped = 1;
    uv_stop(a->loop);
}

static void update_pause(struct slt_agent *a)
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

static void check_backpressure(struct slt_agent *a)
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
    update_pause(a);
}

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
static int build_series(struct slt_agent *a, const struct slt_config *cfg,
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
static size_t soft_max(const struct slt_agent *a)
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
static int check_frame_room(const struct slt_agent *a)
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

static void input_release(struct slt_agent_input *in)
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
        so.on_line = on_line;
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
    o.on_line = on_line;
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
        ao.on_line = on_line;
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
static int collect_positions(struct slt_agent *a, struct slt_state_input **out, size_t *nout)
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

/* ---- counting ---- */

static void request_early_close(struct slt_agent *a);

static inline int count(struct slt_agent *a, uint32_t series, int64_t minute, unsigned idx)
{
    int r = slt_count_add(&a->count, series, minute, idx, 1);

    if (r < 0) {
        fatal(a, "cannot count a line", r);
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

static void on_line(void *data, struct slt_tail_file *file, const char *line, size_t len,
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
        close_batch(a);
    update_pause(a);
}

static void request_early_close(struct slt_agent *a)
{
    if (a->paused_close || a->stopped)
        return;
    /* the tail is mid-delivery: pause it, close the batch on the next loop turn, when its
     * positions are just after the line counted last */
    a->early_closes++;
    a->paused_close = 1;
    update_pause(a);
    uv_timer_start(&a->close_timer, on_close_timer, 0, 0);
}

/* ---- batches ---- */

static uint64_t compute_acked(struct slt_agent *a)
{
    size_t i, n = slt_spool_count(a->spool);

    for (i = 0; i < n; i++) {
        const struct slt_spool_rec *r = slt_spool_at(a->spool, i);

        if (r->epoch == a->epoch && !r->acked)
            return r->seq - 1;
    }
    return a->seq - (a->has_pending ? 1 : 0);
}

/* ---- a full disk under state_dir ---- */

static int is_disk_full(int rc)
{
    return rc == -ENOSPC || rc == -EDQUOT;
}

/* A write under state_dir failed (rc < 0) or succeeded (rc == 0): the disk_full condition. */
static void note_disk(struct slt_agent *a, int rc, const char *what)
{
    if (rc < 0 && is_disk_full(rc) && !a->disk_full) {
        a->disk_full = 1;
        a->disk_full_events++;
        slt_log(SLT_LOG_ERROR, "agent",
                "'%s' is full (%s: %s): acknowledged batches are pruned now, reading is paused "
                "until a batch can be spooled again",
                a->state_dir, what, slt_strerror(rc));
    } else if (rc == 0 && a->disk_full) {
        a->disk_full = 0;
        slt_log(SLT_LOG_INFO, "agent", "'%s' has room again (%s): reading", a->state_dir, what);
    }
}

/*
 * state_dir/reserve holds RESERVE_BYTES set aside at start. Pruning deletes the newest spool
 * record only after the checkpoint holds its state; on a full disk the reserve is given back so
 * that the checkpoint can be written, and made again once there is room.
 */
static void reserve_make(struct slt_agent *a)
{
    char path[PATH_MAX];
    struct stat st;
    int fd, rc;

    a->reserve_try_ms = slt_now_ms();
    snprintf(path, sizeof(path), "%s/reserve", a->state_dir);
    fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    if (fstat(fd, &st) == 0 && st.st_size >= RESERVE_BYTES &&
        (uint64_t)st.st_blocks * 512 >= RESERVE_BYTES) {
        a->reserve_held = 1;
        close(fd);
        return;
    }
    rc = posix_fallocate(fd, 0, RESERVE_BYTES);
    if (rc == 0 && fsync(fd) < 0)
        rc = errno;
    close(fd);
    if (rc != 0) {
        unlink(path);
        return;
    }
    a->reserve_held = 1;
}

static void reserve_release(struct slt_agent *a)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/reserve", a->state_dir);
    if (unlink(path) < 0 && errno != ENOENT)
        slt_log(SLT_LOG_WARN, "agent", "cannot delete '%s': %s", path, strerror(errno));
    a->reserve_held = 0;
    a->reserve_try_ms = slt_now_ms();
}

static int spool_pending(struct slt_agent *a)
{
    struct slt_state st;
    int rc;

    rc =
        slt_spool_append(a->spool, a->epoch, a->pending_seq, a->pending_created, a->pending_frame.p,
                         a->pending_frame.len, a->pending_state.p, a->pending_state.len);
    note_disk(a, rc, "spool");
    if (rc < 0) {
        if (!a->paused_pending)
            slt_log(SLT_LOG_ERROR, "agent",
                    "cannot spool batch %" PRIu64 ": %s; reading paused, retrying", a->pending_seq,
                    slt_strerror(rc));
        a->spool_errors++;
        a->paused_pending = 1;
        update_pause(a);
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
    check_backpressure(a);
    if (a->ship)
        slt_ship_kick(a->ship);
    return 0;
}

static int close_batch(struct slt_agent *a)
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
    if ((rc = collect_positions(a, &st.inputs, &st.ninputs)) < 0)
        goto out;
    st.epoch = a->epoch;
    st.seq = seq;
    st.acked_seq = compute_acked(a);
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
        fatal(a, "cannot close a batch", rc);
    return rc;
}

/* ---- checkpoint ---- */

static int checkpoint(struct slt_agent *a)
{
    struct slt_buf b;
    int rc;

    a->last.epoch = a->epoch;
    a->last.acked_seq = compute_acked(a);
    if (a->last.seq > a->seq)
        a->last.seq = a->seq;
    slt_buf_init(&b, SIZE_MAX);
    rc = slt_state_encode(&a->last, &b);
    if (rc == 0)
        rc = slt_ckpt_write(a->state_dir, b.p, b.len);
    slt_buf_release(&b);
    if (rc < 0) {
        if (!is_disk_full(rc) || !a->disk_full)
            slt_log(SLT_LOG_ERROR, "agent", "cannot write checkpoint in '%s': %s", a->state_dir,
                    slt_strerror(rc));
        note_disk(a, rc, "checkpoint");
        return rc;
    }
    a->ckpt_acked = a->last.acked_seq;
    a->last_ckpt_ms = slt_now_ms();
    return 0;
}

static int pos_equal(const struct slt_tail_pos *x, const struct slt_tail_pos *y)
{
    return x->dev == y->dev && x->ino == y->ino && x->fingerprint == y->fingerprint &&
           x->fp_len == y->fp_len && x->offset == y->offset && x->flags == y->flags &&
           strcmp(x->path, y->path) == 0;
}

static int inputs_equal(const struct slt_state_input *v, size_t n, const struct slt_state *st)
{
    size_t i, k;

    if (n != st->ninputs)
        return 0;
    for (i = 0; i < n; i++) {
        const struct slt_state_input *o = slt_state_input(st, v[i].name);

        if (!o || o->npos != v[i].npos)
            return 0;
        for (k = 0; k < o->npos; k++)
            if (!pos_equal(&o->pos[k], &v[i].pos[k]))
                return 0;
    }
    return 1;
}

/*
 * Positions can move without a line being counted: a file found at its end (read_from: end),
 * a rotation, a truncation. With nothing counted and nothing waiting to be spooled, the live
 * positions are exactly after the last counted line, so they are checkpointed; otherwise lines
 * written before the first batch of a fresh agent would be skipped after a crash.
 */
static void checkpoint_positions(struct slt_agent *a)
{
    struct slt_state_input *v = NULL;
    size_t n = 0, i;

    if (slt_count_len(&a->count) || a->has_pending || a->paused_close || a->stopped)
        return;
    if (collect_positions(a, &v, &n) < 0)
        return;
    if (inputs_equal(v, n, &a->last)) {
        for (i = 0; i < n; i++) {
            slt_free(v[i].name);
            slt_free(v[i].pos);
        }
        slt_free(v);
        return;
    }
    for (i = 0; i < a->last.ninputs; i++) {
        slt_free(a->last.inputs[i].name);
        slt_free(a->last.inputs[i].pos);
    }
    slt_free(a->last.inputs);
    a->last.inputs = v;
    a->last.ninputs = n;
    checkpoint(a);
}

/* The spool's newest record is the checkpoint; the file matters when that record goes. */
static void maintain_spool(struct slt_agent *a)
{
    int64_t now = slt_now_ms();
    int64_t retention = a->cfg->agent.spool_retention_s * 1000;

    /* on a full disk, the resend window after acknowledgement is a luxury */
    unsigned flags = a->disk_full ? SLT_SPOOL_PRUNE_EARLY : 0;
    int rc;

    if (slt_spool_prunable(a->spool, now, retention, flags) > 0) {
        rc = checkpoint(a);
        if (rc < 0 && is_disk_full(rc) && a->reserve_held) {
            slt_log(SLT_LOG_WARN, "agent", "giving back the space reserved in '%s/reserve'",
                    a->state_dir);
            reserve_release(a);
            rc = checkpoint(a);
        }
        /* without a checkpoint the newest record is the state: its segment stays */
        slt_spool_prune(a->spool, now, retention, flags | (rc < 0 ? SLT_SPOOL_PRUNE_KEEP_LAST : 0));
    } else if (now - a->last_ckpt_ms >= CKPT_EVERY_MS && compute_acked(a) != a->ckpt_acked) {
        checkpoint(a);
    }
    check_backpressure(a);
    if (!a->reserve_held && !a->disk_full && now - a->reserve_try_ms >= RESERVE_RETRY_MS)
        reserve_make(a);
}

/* since of (kind, name) in the new epoch, assigned at the first re-encoded batch carrying it */
struct since_map {
    struct slt_agent *a;
    uint64_t *since; /* per agent series */
};

static uint64_t *since_slot(struct since_map *m, uint32_t kind, struct slt_str name)
{
    size_t i;

    for (i = 0; i < m->a->nseries; i++)
        if (m->a->series[i].kind == kind && slt_str_eq(name, m->a->series[i].name))
            return &m->since[i];
    return NULL;
}

/*
 * Re-encodes one batch (frame and state) of the old epoch as batch seq of epoch. The counts
 * are untouched; epoch, seq and every since change. 0 or a negative code.
 */
static int reencode(struct since_map *m, uint64_t epoch, uint64_t seq, const char *frame,
                    size_t flen, const char *state, size_t slen, struct slt_buf *of,
                    struct slt_buf *os)
{
    struct slt_proto_limits lim;
    struct slt_msg msg;
    struct slt_state st;
    char err[200];
    size_t i;
    int rc;

    slt_proto_limits_default(&lim);
    if (flen < 4)
        return SLT_ECORRUPT;
    if ((rc = slt_msg_decode(frame + 4, flen - 4, &lim, &msg, err, sizeof(err))) < 0)
        return rc;
    if (msg.type != SLT_MSG_BATCH) {
        slt_msg_release(&msg);
        return SLT_ECORRUPT;
    }
    msg.u.batch.epoch = epoch;
    msg.u.batch.seq = seq;
    for (i = 0; i < msg.u.batch.nseries; i++) {
        struct slt_series *se = &msg.u.batch.series[i];
        uint64_t *sl = since_slot(m, (uint32_t)se->kind, se->name);

        if (sl && !*sl)
            *sl = seq;
        se->since = sl ? *sl : seq;
    }
    rc = slt_msg_encode(&msg, of);
    slt_msg_release(&msg);
    if (rc < 0)
        return rc;
    if ((rc = slt_state_decode(state, slen, &st)) < 0)
        return rc;
    st.epoch = epoch;
    st.seq = seq;
    st.acked_seq = 0;
    for (i = 0; i < st.nseries; i++) {
        struct slt_str nm = slt_str_make(st.series[i].name, strlen(st.series[i].name));
        uint64_t *sl = since_slot(m, st.series[i].kind, nm);

        st.series[i].since = sl ? *sl : 0;
    }
    rc = slt_state_encode(&st, os);
    slt_state_release(&st);
    return rc;
}

/*
 * Starts a new epoch larger than both the current one and `above` (the aggregator accepts a
 * new epoch from its `since`) and copies the batches of the old epoch that are still spooled
 * into it, in order (all of them, or only the unacknowledged ones with unacked_only):
 *  - the aggregator lost batches we no longer have (unrecoverable GAP): its mark is below every
 *    spooled batch, so it holds none of them, and only the pruned ones are lost;
 *  - a larger epoch is stored for our id (REJECTED, stale epoch): what was acknowledged is
 *    stored, the rest was rejected and is sent again in the new epoch.
 */
static void new_epoch(struct slt_agent *a, uint64_t above, int unacked_only, const char *why)
{
    uint64_t now = (uint64_t)slt_now_ms(), old = a->epoch, oldseq = a->seq, nep, seq = 0;
    struct since_map m;
    struct slt_buf fr, stb, nf, ns;
    size_t i, n = slt_spool_count(a->spool), copied = 0, lost = 0;
    struct slt_state last;
    int rc;

    nep = now > old ? now : old + 1;
    if (above >= nep)
        nep = above + 1;
    m.a = a;
    m.since = slt_calloc(a->nseries ? a->nseries : 1, sizeof(*m.since));
    slt_buf_init(&fr, SIZE_MAX);
    slt_buf_init(&stb, SIZE_MAX);
    slt_buf_init(&nf, (size_t)SLT_AGENT_MAX_FRAME + 4);
    slt_buf_init(&ns, SIZE_MAX);
    for (i = 0; i < n; i++) {
        struct slt_spool_rec *r = slt_spool_at(a->spool, i);

        if (r->epoch != old || !m.since || (unacked_only && r->acked))
            continue;
        fr.len = stb.len = nf.len = ns.len = 0;
        rc = slt_spool_read_frame(a->spool, i, &fr);
        if (rc == 0)
            rc = slt_spool_read_state(a->spool, i, &stb);
        if (rc == 0)
            rc = reencode(&m, nep, seq + 1, fr.p, fr.len, stb.p, stb.len, &nf, &ns);
        if (rc == 0)
            rc = slt_spool_append(a->spool, nep, seq + 1, slt_now_ms(), nf.p, nf.len, ns.p, ns.len);
        /* the append may have moved the index */
        r = slt_spool_at(a->spool, i);
        slt_spool_set_acked(a->spool, i, 1);
        if (rc < 0) {
            lost++;
            slt_log(SLT_LOG_ERROR, "agent", "cannot carry batch %" PRIu64 " into the new epoch: %s",
                    r->seq, slt_strerror(rc));
            continue;
        }
        seq++;
        copied++;
        if (slt_state_decode(ns.p, ns.len, &last) == 0) {
            slt_state_release(&a->last);
            a->last = last;
        }
    }
    if (a->has_pending && m.since) {
        /* closed but not spooled yet: it joins the new epoch too */
        nf.len = ns.len = 0;
        rc = reencode(&m, nep, seq + 1, a->pending_frame.p, a->pending_frame.len,
                      a->pending_state.p, a->pending_state.len, &nf, &ns);
        if (rc == 0) {
            a->pending_frame.len = a->pending_state.len = 0;
            slt_buf_append(&a->pending_frame, nf.p, nf.len);
            slt_buf_append(&a->pending_state, ns.p, ns.len);
            a->pending_seq = ++seq;
        } else {
            a->has_pending = 0;
            a->paused_pending = 0;
            lost++;
        }
    }
    a->abandoned += lost;
    a->given_up += lost;
    slt_log(SLT_LOG_ERROR, "agent",
            "%s: starting epoch %" PRIu64 " after %" PRIu64 ":%" PRIu64 "; %zu spooled batches "
            "carried over%s%s",
            why, nep, old, oldseq, copied,
            unacked_only ? "" : ", the counts of the batches no longer spooled are lost",
            lost ? " (and some could not be carried)" : "");
    a->epoch = nep;
    a->seq = seq;
    for (i = 0; i < a->nseries; i++)
        a->series[i].since = m.since ? m.since[i] : 0;
    if (!copied) {
        for (i = 0; i < a->last.nseries; i++)
            a->last.series[i].since = 0;
        a->last.seq = 0;
    }
    a->last.epoch = nep;
    slt_free(m.since);
    slt_buf_release(&fr);
    slt_buf_release(&stb);
    slt_buf_release(&nf);
    slt_buf_release(&ns);
    checkpoint(a);
    check_backpressure(a);
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
    close_batch(a);
}

/* Spool upkeep and status, every second (or every flush when that is shorter). */
static void on_tick(uv_timer_t *t)
{
    struct slt_agent *a = t->data;

    refresh_clock(a);
    if (a->stopped)
        return;
    checkpoint_positions(a);
    maintain_spool(a);
    check_paths(a, 0);
    slt_status_write(a);
}

static uint64_t tick_ms(const struct slt_agent *a)
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
    update_pause(a);
    refresh_clock(a);
    close_batch(a);
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
        input_release(&o->inputs[i]);
    slt_free(o->inputs);
    slt_config_free(o->cfg);
    o->a->handles_open--;
    slt_free(o);
}

/* Hands inputs (and the config they borrow from, may be NULL) to an async close. */
static void close_inputs(struct slt_agent *a, struct slt_agent_input *inputs, size_t n,
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

static void finish(struct slt_agent *a)
{
    if (a->stopped)
        return;
    a->stopped = 1;
    if (a->has_pending)
        slt_log(SLT_LOG_WARN, "agent",
                "the last batch could not be spooled; its lines are "
                "re-read at the next start");
    checkpoint(a);
    slt_status_write(a);
    close_inputs(a, a->inputs, a->ninputs, NULL);
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

/* Inputs of cfg, restored from st (by input name). */
static int make_inputs(struct slt_agent *a, struct slt_config *cfg, const struct slt_state *st,
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
                input_release(&v[i]);
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
static void check_paths(struct slt_agent *a, int warn)
{
    int64_t now = slt_now_ms();
    size_t i;

    for (i = 0; i < a->ninputs; i++)
        slt_paths_check(&a->inputs[i].paths, a->inputs[i].name, a->cfg->inputs[i].paths, warn, now);
}

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
static int restore_of(struct slt_agent *a, const struct slt_state *st, size_t i, int verbose,
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
static int check_renames(struct slt_agent *a)
{
    const struct slt_state_input *r;
    size_t i;
    int rc;

    for (i = 0; i < a->cfg->ninputs; i++)
        if ((rc = restore_of(a, &a->last, i, 0, &r)) < 0)
            return rc;
    return 0;
}

static void start_inputs(struct slt_agent *a, const struct slt_state *st)
{
    const struct slt_state_input *r;
    size_t i;

    check_paths(a, 1);
    for (i = 0; i < a->ninputs; i++) {
        /* an ambiguous rename at a reload: that input starts per its read_from */
        if (restore_of(a, st, i, 1, &r) < 0)
            r = NULL;
        input_start(a, &a->inputs[i], &a->cfg->inputs[i], r);
    }
}

static void reload(struct slt_agent *a)
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
    if ((rc = read_token(ncfg->agent.token_file, &tok)) < 0) {
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
    close_batch(a);
    if (a->stopped) {
        slt_config_free(ncfg);
        slt_free(tok);
        return;
    }
    memset(&live, 0, sizeof(live));
    if ((rc = collect_positions(a, &live.inputs, &live.ninputs)) < 0 ||
        (rc = build_series(a, ncfg, NULL)) < 0 || (rc = check_frame_room(a)) < 0 ||
        (rc = slt_count_set_series(&a->count, a->nseries)) < 0 ||
        (rc = make_inputs(a, ncfg, NULL, &nin)) < 0) {
        a->reload_failures++;
        slt_log(SLT_LOG_ERROR, "agent", "reload failed: %s", slt_strerror(rc));
        build_series(a, a->cfg, NULL);
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
    close_inputs(a, oin, oldn, ocfg);
    a->cfg = ncfg;
    a->inputs = nin;
    a->ninputs = ncfg->ninputs;
    a->count.soft_max = soft_max(a);
    start_inputs(a, &live);
    slt_state_release(&live);
    slt_free(a->token);
    a->token = tok;
    /* the old config's id and state_dir stay (copied at start) */
    uv_timer_set_repeat(&a->flush_timer, (uint64_t)ncfg->agent.flush_interval_ms);
    uv_timer_set_repeat(&a->tick_timer, tick_ms(a));
    if (a->spool)
        a->spool->max_bytes = ncfg->agent.spool_max_bytes;
    if (a->ship)
        slt_ship_reload_tls(a->ship);
    reload_status(a);
    if (reconnect && a->ship)
        slt_ship_reconnect(a->ship);
    a->reloads++;
    check_backpressure(a);
    slt_log(SLT_LOG_INFO, "agent", "reloaded '%s': %zu inputs, %zu SLIs", a->config_path,
            ncfg->ninputs, ncfg->nslis);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct slt_agent *a = s->data;

    if (signum == SIGHUP) {
        if (!a->stopping)
            reload(a);
        return;
    }
    slt__agent_stop(a);
}

/* ---- recovery ---- */

static int state_newer(const struct slt_state *x, const struct slt_state *y)
{
    return x->epoch > y->epoch || (x->epoch == y->epoch && x->seq > y->seq);
}

static int recover(struct slt_agent *a)
{
    struct slt_buf b;
    struct slt_state ck, sp;
    int have_ck = 0, have_sp = 0, from_prev = 0, rc;
    size_t i, n;

    memset(&ck, 0, sizeof(ck));
    memset(&sp, 0, sizeof(sp));
    slt_buf_init(&b, SIZE_MAX);
    rc = slt_ckpt_read(a->state_dir, &b, &from_prev);
    if (rc == 0) {
        if (slt_state_decode(b.p, b.len, &ck) == 0)
            have_ck = 1;
        else
            slt_log(SLT_LOG_ERROR, "agent", "checkpoint in '%s' does not decode; ignoring it",
                    a->state_dir);
    } else if (rc != SLT_ENOTFOUND) {
        slt_log(SLT_LOG_ERROR, "agent", "no usable checkpoint in '%s' (%s); using the spool",
                a->state_dir, slt_strerror(rc));
    }
    n = slt_spool_count(a->spool);
    while (n > 0) {
        /* the newest record whose state decodes (all of them do unless the format changed) */
        b.len = 0;
        if (slt_spool_read_state(a->spool, n - 1, &b) == 0 &&
            slt_state_decode(b.p, b.len, &sp) == 0) {
            have_sp = 1;
            break;
        }
        slt_log(SLT_LOG_ERROR, "agent", "spooled batch %" PRIu64 " has an unreadable state",
                slt_spool_at(a->spool, n - 1)->seq);
        n--;
    }
    slt_buf_release(&b);
    if (have_sp && (!have_ck || state_newer(&sp, &ck))) {
        if (have_ck && ck.epoch == sp.epoch)
            sp.acked_seq = ck.acked_seq;
        else if (have_ck)
            sp.acked_seq = 0;
        slt_state_release(&ck);
        a->last = sp;
    } else if (have_ck) {
        slt_state_release(&sp);
        a->last = ck;
    } else {
        memset(&a->last, 0, sizeof(a->last));
        a->last.epoch = (uint64_t)slt_now_ms();
        slt_log(SLT_LOG_INFO, "agent", "new state in '%s': epoch %" PRIu64, a->state_dir,
                a->last.epoch);
    }
    a->epoch = a->last.epoch;
    a->seq = a->last.seq;
    n = slt_spool_count(a->spool);
    for (i = 0; i < n; i++) {
        struct slt_spool_rec *r = slt_spool_at(a->spool, i);

        if (r->epoch < a->epoch || (r->epoch == a->epoch && r->seq <= a->last.acked_seq))
            slt_spool_set_acked(a->spool, i, 1);
        if (r->epoch == a->epoch && r->seq > a->seq)
            a->seq = r->seq; /* cannot happen: the newest record is the state */
        if (r->acked && r->epoch == a->epoch && r->seq > a->last_acked_seq)
            a->last_acked_seq = r->seq;
    }
    if (a->last.acked_seq > a->last_acked_seq)
        a->last_acked_seq = a->last.acked_seq;
    if (have_ck || have_sp)
        slt_log(SLT_LOG_INFO, "agent",
                "resuming epoch %" PRIu64 " after batch %" PRIu64 " (%zu spooled, %" PRIu64
                " to resend)%s",
                a->epoch, a->seq, slt_spool_count(a->spool), a->spool->unacked,
                from_prev ? " from the previous checkpoint" : "");
    /* persist the epoch from the first start on */
    if (!have_ck)
        return checkpoint(a);
    a->ckpt_acked = a->last.acked_seq;
    return 0;
}

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

/*
 * state_dir/instance: 16 random hex digits made at the first start and sent in HELLO, so that
 * the aggregators tell this agent's reconnections (the same instance) from another host that
 * runs with the same agent.id (docs/PROTOCOL.md). A lost state dir makes a new one.
 */
static void load_instance(struct slt_agent *a)
{
    char path[PATH_MAX], tmp[PATH_MAX], buf[32];
    unsigned char rnd[8];
    ssize_t n = -1;
    size_t i;
    int fd;

    snprintf(path, sizeof(path), "%s/instance", a->state_dir);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
    }
    if (n >= 16 && strspn(buf, "0123456789abcdef") >= 16) {
        memcpy(a->instance, buf, 16);
        a->instance[16] = '\0';
        return;
    }
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        uint64_t x = slt_mono_ns() ^ (uint64_t)slt_now_ms() * 1000003u ^ (uint64_t)getpid();

        memcpy(rnd, &x, sizeof(rnd));
    }
    for (i = 0; i < sizeof(rnd); i++)
        snprintf(a->instance + 2 * i, 3, "%02x", rnd[i]);
    snprintf(tmp, sizeof(tmp), "%s/instance.tmp", a->state_dir);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || slt_write_all(fd, a->instance, 16) < 0 || slt_write_all(fd, "\n", 1) < 0 ||
        fsync(fd) < 0 || rename(tmp, path) < 0 || slt_fsync_dir(a->state_dir) < 0)
        slt_log(SLT_LOG_WARN, "agent", "cannot save '%s' (%s): this run's instance is %s", path,
                strerror(errno), a->instance);
    if (fd >= 0)
        close(fd);
}

static int lock_state_dir(const char *dir)
{
    char path[PATH_MAX];
    int fd;

    snprintf(path, sizeof(path), "%s/lock", dir);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;

        close(fd);
        return e == EWOULDBLOCK ? SLT_ELIMIT : -e;
    }
    return fd; /* held until exit */
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
    if ((rc = read_token(cfg->agent.token_file, &a->token)) < 0) {
        slt_log(SLT_LOG_ERROR, "agent", "cannot read token_file '%s': %s", cfg->agent.token_file,
                slt_secret_strerror(rc));
        goto fail;
    }
    if ((rc = mkdir_p(a->state_dir)) < 0) {
        slt_log(SLT_LOG_ERROR, "agent", "cannot create state_dir '%s': %s", a->state_dir,
                slt_strerror(rc));
        goto fail;
    }
    if ((rc = lock_state_dir(a->state_dir)) < 0) {
        slt_log(SLT_LOG_ERROR, "agent", "cannot lock state_dir '%s': %s", a->state_dir,
                rc == SLT_ELIMIT ? "another agent is running on it" : slt_strerror(rc));
        goto fail;
    }
    load_instance(a);
    snprintf(path, sizeof(path), "%s/spool", a->state_dir);
    if ((rc = slt_spool_open(path, cfg->agent.spool_max_bytes, 0, &a->spool)) < 0) {
        slt_log(SLT_LOG_ERROR, "agent", "cannot open spool '%s': %s", path, slt_strerror(rc));
        goto fail;
    }
    if ((rc = recover(a)) < 0)
        goto fail;
    if ((rc = build_series(a, cfg, &a->last)) < 0 || (rc = check_frame_room(a)) < 0)
        goto fail;
    if ((rc = slt_count_init(&a->count, a->nseries, soft_max(a))) < 0)
        goto fail;
    if (!(a->matcher = slt_matcher_new())) {
        rc = SLT_ENOMEM;
        goto fail;
    }
    if ((rc = check_renames(a)) < 0 || (rc = make_inputs(a, cfg, &a->last, &a->inputs)) < 0)
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
    new_epoch(data, above, unacked_only, why);
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
    return read_token(ac->status_token_file, tok);
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

static void reload_status(struct slt_agent *a)
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

    reserve_make(a);
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
    uv_timer_start(&a->tick_timer, on_tick, tick_ms(a), tick_ms(a));
    if ((rc = slt_ship_new(&hooks, &a->ship)) < 0) {
        slt_log(SLT_LOG_ERROR, "agent", "cannot start shipping: %s", slt_strerror(rc));
        return rc;
    }
    if (a->cfg->agent.status_listen && (rc = start_status(a)) < 0) {
        slt_log(SLT_LOG_ERROR, "agent", "cannot serve status on '%s': %s",
                a->cfg->agent.status_listen, slt_strerror(rc));
        return rc;
    }
    check_backpressure(a);
    start_inputs(a, &a->last);
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
        input_release(&a->inputs[i]);
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
