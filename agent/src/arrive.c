/* .gz files arriving in a glob, read once each in name order: see arrive.h. */
#include "arrive.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "objread.h"
#include "slt/common.h"

#define ARRIVE_IN_BYTES 65536u
#define ARRIVE_TURN_BYTES (1u << 20) /* read per loop turn at most */

struct slt_arrive {
    uv_loop_t *loop;
    uv_timer_t timer;
    uv_idle_t idle;
    int idle_on;
    char *input;
    char **paths;
    size_t npaths;
    int from_beginning;
    size_t max_line;
    int64_t poll_ms, settle_ms;
    slt_tail_line_cb on_line;
    void *data;

    char *mark; /* last file read completely, "" when none */
    /* the file being read */
    char *cur;
    int fd;
    uint64_t dev, ino;
    struct slt_objread *r;
    unsigned char in[ARRIVE_IN_BYTES];
    size_t in_pos, in_len;
    int64_t seen_size, seen_mtime_ns, unchanged_since_ms;

    int paused, closing, open_handles;
    void (*on_closed)(void *data);
    void *closed_data;
    uint64_t files, lines, errors;
};

static int has_glob_chars(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

static int is_gz(const char *s)
{
    size_t n = strlen(s);

    return n > 3 && strcmp(s + n - 3, ".gz") == 0;
}

int slt_arrive_wanted(const char *const *paths, size_t npaths)
{
    size_t i;

    for (i = 0; i < npaths; i++)
        if (has_glob_chars(paths[i]) || is_gz(paths[i]))
            return 1;
    return 0;
}

/* ---- listing ---- */

struct names {
    char **v;
    size_t n, cap;
};

static int names_push(struct names *l, const char *s)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 16;
        char **nv = slt_realloc(l->v, nc * sizeof(*nv));

        if (!nv)
            return SLT_ENOMEM;
        l->v = nv;
        l->cap = nc;
    }
    if (!(l->v[l->n] = slt_strdup(s)))
        return SLT_ENOMEM;
    l->n++;
    return 0;
}

static void names_release(struct names *l)
{
    size_t i;

    for (i = 0; i < l->n; i++)
        slt_free(l->v[i]);
    slt_free(l->v);
    memset(l, 0, sizeof(*l));
}

/* 1 when gz is a rotated sibling of plain (plain.N.gz, plain-DATE.gz): the tailer's file. */
static int sibling_of(const char *gz, const char *plain)
{
    size_t n = strlen(plain);

    return strncmp(gz, plain, n) == 0 && (gz[n] == '.' || gz[n] == '-');
}

/*
 * The .gz files the paths match now, not rotated siblings of a plain file of the input.
 * Only names after `after` when after != NULL. The smallest such name goes to *first
 * (NULL: none), the greatest to *last; both owned by the caller.
 */
static int list_gz(struct slt_arrive *a, const char *after, char **first, char **last)
{
    struct names gz = {0}, plain = {0};
    size_t i, j;
    int rc = 0;

    *first = *last = NULL;
    for (i = 0; i < a->npaths && rc == 0; i++) {
        glob_t g;

        if (!has_glob_chars(a->paths[i]) && !is_gz(a->paths[i]))
            rc = names_push(&plain, a->paths[i]);
        memset(&g, 0, sizeof(g));
        if (rc == 0 && glob(a->paths[i], 0, NULL, &g) == 0) {
            for (j = 0; j < g.gl_pathc && rc == 0; j++) {
                struct stat st;

                if (stat(g.gl_pathv[j], &st) < 0 || !S_ISREG(st.st_mode))
                    continue;
                rc = names_push(is_gz(g.gl_pathv[j]) ? &gz : &plain, g.gl_pathv[j]);
            }
        }
        globfree(&g);
    }
    for (i = 0; i < gz.n && rc == 0; i++) {
        const char *p = gz.v[i];

        for (j = 0; j < plain.n; j++)
            if (sibling_of(p, plain.v[j]))
                break;
        if (j < plain.n || (after && strcmp(p, after) <= 0))
            continue;
        if (!*first || strcmp(p, *first) < 0) {
            slt_free(*first);
            if (!(*first = slt_strdup(p)))
                rc = SLT_ENOMEM;
        }
        if (rc == 0 && (!*last || strcmp(p, *last) > 0)) {
            slt_free(*last);
            if (!(*last = slt_strdup(p)))
                rc = SLT_ENOMEM;
        }
    }
    names_release(&gz);
    names_release(&plain);
    if (rc < 0) {
        slt_free(*first);
        slt_free(*last);
        *first = *last = NULL;
    }
    return rc;
}

/* ---- reading ---- */

static void on_idle(uv_idle_t *h);

static void kick(struct slt_arrive *a)
{
    if (!a->idle_on && !a->closing && !a->paused && uv_idle_start(&a->idle, on_idle) == 0)
        a->idle_on = 1;
}

static void stop_idle(struct slt_arrive *a)
{
    if (a->idle_on) {
        uv_idle_stop(&a->idle);
        a->idle_on = 0;
    }
}

static void drop_current(struct slt_arrive *a)
{
    if (a->fd >= 0)
        close(a->fd);
    a->fd = -1;
    slt_objread_free(a->r);
    a->r = NULL;
    slt_free(a->cur);
    a->cur = NULL;
    a->in_pos = a->in_len = 0;
}

/* The current file is done (complete, or given up): it becomes the mark. */
static void current_done(struct slt_arrive *a)
{
    a->lines += slt_objread_lines(a->r);
    a->files++;
    slt_free(a->mark);
    a->mark = a->cur;
    a->cur = NULL;
    drop_current(a);
}

static void on_line(void *data, struct slt_tail_file *f, const char *line, size_t len,
                    unsigned flags, uint64_t end)
{
    struct slt_arrive *a = data;

    a->on_line(a->data, f, line, len, flags, end);
}

/* Opens path to read from decoded offset skip_to. 0, or -errno (logged by the caller). */
static int open_current(struct slt_arrive *a, const char *path, uint64_t skip_to)
{
    struct stat st;
    int fd, rc;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        rc = -errno ? -errno : SLT_EINVAL;
        close(fd);
        return rc;
    }
    a->cur = slt_strdup(path);
    if (!a->cur || (rc = slt_objread_new(1, a->max_line, skip_to, on_line, a, &a->r)) < 0) {
        close(fd);
        slt_free(a->cur);
        a->cur = NULL;
        return SLT_ENOMEM;
    }
    if (a->paused)
        slt_objread_pause(a->r);
    a->fd = fd;
    a->dev = (uint64_t)st.st_dev;
    a->ino = (uint64_t)st.st_ino;
    a->seen_size = -1;
    a->unchanged_since_ms = 0;
    return 0;
}

/* Starts the next file after the mark, if any. 1 when one was opened. */
static int next_file(struct slt_arrive *a)
{
    char *first, *last;

    while (!a->cur) {
        if (list_gz(a, a->mark, &first, &last) < 0 || !first) {
            slt_free(first);
            slt_free(last);
            return 0;
        }
        slt_free(last);
        int err = open_current(a, first, 0);

        if (err < 0) {
            /* gone between the listing and the open: look again; else pass it */
            if (err != -ENOENT) {
                slt_log(SLT_LOG_WARN, "arrive", "input '%s': cannot open '%s': %s", a->input, first,
                        slt_strerror(err));
                a->errors++;
                slt_free(a->mark);
                a->mark = first;
                continue;
            }
            slt_free(first);
            continue;
        }
        slt_log(SLT_LOG_INFO, "arrive", "input '%s': reading '%s'", a->input, first);
        slt_free(first);
    }
    return 1;
}

/* At the end of the bytes there are now: complete, incomplete (wait) or corrupt. */
static void at_eof(struct slt_arrive *a)
{
    int rc = slt_objread_finish(a->r);
    struct stat st;
    int64_t now = (int64_t)uv_now(a->loop), mtime_ns;

    if (rc == 0) {
        slt_log(SLT_LOG_INFO, "arrive", "input '%s': read '%s': %" PRIu64 " lines", a->input,
                a->cur, slt_objread_lines(a->r));
        current_done(a);
        return;
    }
    if (rc == -EAGAIN && a->paused)
        return;
    if (rc != -EAGAIN) {
        slt_log(SLT_LOG_WARN, "arrive",
                "input '%s': '%s' is not valid gzip after %" PRIu64 " decoded bytes: %s; "
                "its lines so far are counted, the rest is skipped",
                a->input, a->cur, slt_objread_decoded(a->r), slt_strerror(rc));
        a->errors++;
        current_done(a);
        return;
    }
    /* the gzip stream has not ended: still being written, or truncated for good */
    if (fstat(a->fd, &st) < 0) {
        a->errors++;
        current_done(a);
        return;
    }
    mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    if (st.st_size != a->seen_size || mtime_ns != a->seen_mtime_ns) {
        a->seen_size = st.st_size;
        a->seen_mtime_ns = mtime_ns;
        a->unchanged_since_ms = now;
    } else if (now - a->unchanged_since_ms >= a->settle_ms) {
        slt_log(SLT_LOG_WARN, "arrive",
                "input '%s': '%s' ends inside its gzip stream and has not changed for %" PRId64
                " ms: taken as complete (truncated); %" PRIu64 " lines read",
                a->input, a->cur, a->settle_ms, slt_objread_lines(a->r));
        a->errors++;
        current_done(a);
        return;
    }
    stop_idle(a); /* the poll looks again */
}

static void on_idle(uv_idle_t *h)
{
    struct slt_arrive *a = h->data;
    size_t budget = ARRIVE_TURN_BYTES;

    if (a->closing || a->paused) {
        stop_idle(a);
        return;
    }
    if (!a->cur && !next_file(a)) {
        stop_idle(a);
        return;
    }
    while (budget > 0 && !a->paused && a->cur) {
        ssize_t n;
        long used;

        if (a->in_pos < a->in_len) {
            used = slt_objread_feed(a->r, a->in + a->in_pos, a->in_len - a->in_pos);
            if (used < 0) {
                a->in_pos = a->in_len = 0;
                at_eof(a); /* reports the corruption */
                continue;
            }
            a->in_pos += (size_t)used;
            continue;
        }
        do {
            n = read(a->fd, a->in, sizeof(a->in));
        } while (n < 0 && errno == EINTR);
        if (n < 0) {
            int err = -errno;

            slt_log(SLT_LOG_WARN, "arrive", "input '%s': cannot read '%s': %s", a->input, a->cur,
                    slt_strerror(err));
            a->errors++;
            current_done(a);
            continue;
        }
        if (n == 0) {
            at_eof(a);
            if (a->cur)
                return; /* waiting for more bytes (idle stopped) or paused */
            continue;
        }
        a->in_pos = 0;
        a->in_len = (size_t)n;
        budget -= (size_t)n < budget ? (size_t)n : budget;
    }
    if (!a->cur)
        next_file(a);
}

static void on_timer(uv_timer_t *h)
{
    struct slt_arrive *a = h->data;

    if (!a->closing)
        kick(a);
}

/* ---- life ---- */

int slt_arrive_new(struct uv_loop_s *loop, const struct slt_arrive_opts *o,
                   const struct slt_tail_pos *restore, size_t nrestore, struct slt_arrive **out)
{
    struct slt_arrive *a = slt_calloc(1, sizeof(*a));
    const struct slt_tail_pos *cur = NULL;
    int have_mark = 0, rc = SLT_ENOMEM;
    size_t i;

    if (!a)
        return SLT_ENOMEM;
    a->loop = loop;
    a->fd = -1;
    a->from_beginning = o->read_from_beginning;
    a->max_line = o->max_line;
    a->poll_ms = o->poll_ms > 0 ? o->poll_ms : 1000;
    a->settle_ms = o->settle_ms;
    a->on_line = o->on_line;
    a->data = o->data;
    a->input = slt_strdup(o->input ? o->input : "");
    a->paths = slt_calloc(o->npaths ? o->npaths : 1, sizeof(*a->paths));
    if (!a->input || !a->paths)
        goto fail;
    for (i = 0; i < o->npaths; i++)
        if (!(a->paths[a->npaths++] = slt_strdup(o->paths[i])))
            goto fail;
    for (i = 0; i < nrestore; i++) {
        if (!(restore[i].flags & SLT_POS_OBJECT))
            continue;
        if (restore[i].flags & SLT_TAIL_POS_MARK) {
            slt_free(a->mark);
            if (!(a->mark = slt_strdup(restore[i].path)))
                goto fail;
            have_mark = 1;
        } else {
            cur = &restore[i];
        }
    }
    if (!have_mark) {
        char *first = NULL, *last = NULL;

        /* first start, or an input that had no .gz mark: read_from decides */
        if (!a->from_beginning && (rc = list_gz(a, NULL, &first, &last)) < 0)
            goto fail;
        slt_free(first);
        a->mark = last ? last : slt_strdup("");
        if (!a->mark)
            goto fail;
    }
    if (cur && strcmp(cur->path, a->mark) > 0) {
        int orc = open_current(a, cur->path, cur->offset);

        if (orc < 0)
            slt_log(SLT_LOG_WARN, "arrive",
                    "input '%s': cannot reopen '%s' to resume at %" PRIu64 ": %s", a->input,
                    cur->path, cur->offset, slt_strerror(orc));
    }
    uv_timer_init(loop, &a->timer);
    uv_idle_init(loop, &a->idle);
    a->timer.data = a->idle.data = a;
    a->open_handles = 2;
    uv_timer_start(&a->timer, on_timer, 0, (uint64_t)a->poll_ms);
    *out = a;
    return 0;
fail:
    for (i = 0; i < a->npaths; i++)
        slt_free(a->paths[i]);
    slt_free(a->paths);
    slt_free(a->input);
    slt_free(a->mark);
    drop_current(a);
    slt_free(a);
    return rc;
}

void slt_arrive_pause(struct slt_arrive *a)
{
    a->paused = 1;
    if (a->r)
        slt_objread_pause(a->r);
    stop_idle(a);
}

void slt_arrive_resume(struct slt_arrive *a)
{
    a->paused = 0;
    if (a->r)
        slt_objread_resume(a->r);
    kick(a);
}

static void put_pos(struct slt_tail_pos *p, const char *path, uint64_t offset, uint32_t flags,
                    uint64_t dev, uint64_t ino)
{
    memset(p, 0, sizeof(*p));
    p->dev = dev;
    p->ino = ino;
    p->offset = offset;
    p->flags = flags | SLT_POS_OBJECT;
    snprintf(p->path, sizeof(p->path), "%s", path);
}

size_t slt_arrive_positions(struct slt_arrive *a, struct slt_tail_pos *out, size_t max)
{
    size_t n = 0;

    if (n < max)
        put_pos(&out[n], a->mark, 0, SLT_TAIL_POS_MARK | SLT_TAIL_POS_DONE, 0, 0);
    n++;
    if (a->cur) {
        if (n < max)
            put_pos(&out[n], a->cur, slt_objread_offset(a->r), SLT_TAIL_POS_GZ, a->dev, a->ino);
        n++;
    }
    return n;
}

void slt_arrive_stats(struct slt_arrive *a, struct slt_arrive_stats *st)
{
    memset(st, 0, sizeof(*st));
    st->current = a->cur;
    st->offset = a->r ? slt_objread_offset(a->r) : 0;
    st->files = a->files;
    st->lines = a->lines + (a->r ? slt_objread_lines(a->r) : 0);
    st->errors = a->errors;
    st->mark = a->mark;
}

static void on_handle_closed(uv_handle_t *h)
{
    struct slt_arrive *a = h->data;
    size_t i;

    if (--a->open_handles > 0)
        return;
    if (a->on_closed)
        a->on_closed(a->closed_data);
    for (i = 0; i < a->npaths; i++)
        slt_free(a->paths[i]);
    slt_free(a->paths);
    slt_free(a->input);
    slt_free(a->mark);
    slt_free(a);
}

void slt_arrive_close(struct slt_arrive *a, slt_closed_cb on_closed, void *data)
{
    if (!a) {
        if (on_closed)
            on_closed(data);
        return;
    }
    if (a->closing)
        return;
    a->closing = 1;
    a->on_closed = on_closed;
    a->closed_data = data;
    drop_current(a);
    uv_close((uv_handle_t *)&a->timer, on_handle_closed);
    uv_close((uv_handle_t *)&a->idle, on_handle_closed);
}
