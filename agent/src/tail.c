/*
 * The file tailer: see tail.h for the contract, tail_internal.h for how it is built.
 *
 * This file: the tailer's life (slt_tail_new, slt_tail_close), the work loop that events only
 * schedule (kick, pump, reap) and the public calls. The rest, in the shape of Fluent Bit's
 * in_tail:
 *   tail_file.c     the file record: identity, reading, truncation (and its copy)
 *   tail_rotate.c   rotated siblings of a path; what became of each history at a scan
 *   tail_watch.c    watching: inotify on directories, the stat poll (a scan of the paths)
 *   tail_restore.c  the first scan: restore positions, backfill, where reading starts
 */
#include "tail_internal.h"

#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "slt/common.h"

/* ---- the work loop ---- */

static void on_idle(uv_idle_t *h);

/* Makes sure the idle callback runs work at the next loop turn. */
void slt__tail_kick(struct slt_tail *t)
{
    if (t->ready && !t->idle_on && !t->paused && !t->closing &&
        uv_idle_start(&t->idle, on_idle) == 0)
        t->idle_on = 1;
}

static void reap(struct slt_tail *t)
{
    struct slt_tail_file **pp = &t->files, *f, *g;

    while ((f = *pp) != NULL) {
        if (f->state != F_DONE) {
            pp = &f->next;
            continue;
        }
        for (g = t->files; g; g = g->next)
            if (g->pred == f)
                g->pred = f->pred;
        if (!f->gz) {
            struct tail_grave *gr = &t->graves[t->grave_next];

            gr->dev = f->dev;
            gr->ino = f->ino;
            gr->fp = f->fp;
            gr->fp_len = f->fp_len;
            gr->offset = f->offset;
            gr->skipping = f->skipping;
            t->grave_next = (t->grave_next + 1) % TAIL_GRAVES;
            if (t->ngraves < TAIL_GRAVES)
                t->ngraves++;
        }
        *pp = f->next;
        t->nfiles--;
        t->hdirty = 1;
        slt__tail_file_free(f);
    }
}

static void pump(struct slt_tail *t)
{
    struct slt_tail_file *f;
    int busy = 0;

    if (t->closing)
        return;
    if (t->need_scan)
        slt__tail_scan(t);
    for (f = t->files; f && !t->paused && !t->closing; f = f->next) {
        if (f->fd < 0 || !f->want_read || f->state == F_DONE)
            continue;
        if (!slt__tail_may_read(f)) {
            continue;
        }
        slt__tail_file_read(f);
        if (f->want_read)
            busy = 1;
    }
    if (t->closing)
        return;
    reap(t);
    /* a file freed by reap may have been the last thing a waiting file needed */
    for (f = t->files; f && !busy; f = f->next)
        if (f->want_read && f->state != F_DONE && slt__tail_may_read(f))
            busy = 1;
    if ((!busy || t->paused) && t->idle_on) {
        uv_idle_stop(&t->idle);
        t->idle_on = 0;
    }
}

static void on_idle(uv_idle_t *h)
{
    pump(h->data);
}

/* ---- public ---- */

static void tail_free(struct slt_tail *t)
{
    struct slt_tail_file *f, *next;
    size_t i;

    for (f = t->files; f; f = next) {
        next = f->next;
        slt__tail_file_free(f);
    }
    slt_free(t->hbuckets);
    for (i = 0; t->held && i < t->npatterns; i++)
        slt__tail_group_unref(t, t->held[i]);
    slt_free(t->held);
    for (i = 0; i < t->npatterns; i++)
        slt_free(t->patterns[i]);
    slt_free(t->patterns);
    slt__tail_dc_clear(t);
    slt_free(t);
}

int slt_tail_new(struct uv_loop_s *loop, const struct slt_tail_opts *opts,
                 const struct slt_tail_pos *restore, size_t nrestore, struct slt_tail **out)
{
    struct slt_tail *t;
    struct slt_tail_file *f;
    size_t i;
    int rc, tries;

    if (!loop || !opts || !opts->on_line || !opts->paths || opts->npaths == 0 ||
        (nrestore && !restore))
        return SLT_EINVAL;
    t = slt_calloc(1, sizeof(*t));
    if (!t)
        return SLT_ENOMEM;
    t->loop = loop;
    t->patterns = slt_calloc(opts->npaths, sizeof(*t->patterns));
    if (!t->patterns) {
        slt_free(t);
        return SLT_ENOMEM;
    }
    for (i = 0; i < opts->npaths; i++) {
        if (!opts->paths[i] || !opts->paths[i][0]) {
            tail_free(t);
            return SLT_EINVAL;
        }
        t->patterns[i] = slt_strdup(opts->paths[i]);
        if (!t->patterns[i]) {
            tail_free(t);
            return SLT_ENOMEM;
        }
        t->npatterns++;
    }
    t->held = slt_calloc(opts->npaths, sizeof(*t->held));
    if (!t->held) {
        tail_free(t);
        return SLT_ENOMEM;
    }
    for (i = 0; i < t->npatterns; i++) {
        if (has_glob_chars(t->patterns[i]))
            continue;
        t->held[i] = slt__tail_group_ref(t, t->patterns[i]);
        if (!t->held[i]) {
            tail_free(t);
            return SLT_ENOMEM;
        }
    }
    t->read_from_beginning = opts->read_from_beginning;
    t->max_line = opts->max_line ? opts->max_line : TAIL_MAX_LINE;
    t->bufcap = t->max_line + 1 > TAIL_BUF_MIN ? t->max_line + 1 : TAIL_BUF_MIN;
    t->poll_ms = opts->poll_ms > 0 ? opts->poll_ms : TAIL_POLL_MS;
    t->rotate_wait_ms = opts->rotate_wait_ms > 0 ? opts->rotate_wait_ms : TAIL_ROTATE_WAIT_MS;
    t->on_line = opts->on_line;
    t->data = opts->data;

    /*
     * Candidates are listed by name, then opened: a rotation that renames files meanwhile
     * (access.log.N -> access.log.N+1) puts another file at a listed name, and a restored
     * position would be applied to it (an old file read again from 0). Nothing is read before
     * the scan ends, so a scan that saw a file move is dropped and done again; the last try
     * keeps what it found (a moved file is then skipped, never taken for another).
     */
    for (tries = 0;; tries++) {
        t->moved = 0;
        t->scan_retry = tries < TAIL_SCAN_TRIES - 1;
        if (nrestore) {
            /* a checkpoint is input: its paths may lack their NUL */
            struct slt_tail_pos *copy = slt_malloc(nrestore * sizeof(*copy));

            if (!copy) {
                tail_free(t);
                return SLT_ENOMEM;
            }
            memcpy(copy, restore, nrestore * sizeof(*copy));
            for (i = 0; i < nrestore; i++)
                copy[i].path[sizeof(copy[i].path) - 1] = '\0';
            rc = slt__tail_initial_scan(t, copy, nrestore, 1);
            slt_free(copy);
        } else {
            rc = slt__tail_initial_scan(t, NULL, 0, restore != NULL);
        }
        if (rc != -EAGAIN)
            break;
        while (t->files) {
            f = t->files;
            t->files = f->next;
            slt__tail_file_free(f);
        }
        t->nfiles = 0;
        t->hdirty = 1;
        t->truncations = t->errors = 0;
        t->limit_logged = 0;
    }
    if (tries > 0)
        slt_log(t->moved ? SLT_LOG_WARN : SLT_LOG_INFO, "tail",
                "files were renamed while the tail started: scanned %d times%s", tries + 1,
                t->moved ? "; a file renamed during the last scan may have been skipped" : "");
    t->moved = 0;
    if (rc < 0) {
        tail_free(t);
        return rc;
    }

    uv_timer_init(loop, &t->timer);
    t->timer.data = t;
    uv_idle_init(loop, &t->idle);
    t->idle.data = t;
    t->ready = 1;
    t->dc_valid = 0;
    slt__tail_groups_update(t);
    slt__tail_dc_clear(t);
    uv_timer_start(&t->timer, slt__tail_on_timer, (uint64_t)t->poll_ms, (uint64_t)t->poll_ms);
    for (i = 0; i < t->npatterns; i++) {
        char *slash = strrchr(t->patterns[i], '/');
        char *dir =
            slash ? slt_strndup(t->patterns[i],
                                slash == t->patterns[i] ? 1 : (size_t)(slash - t->patterns[i]))
                  : slt_strdup(".");

        if (dir && !has_glob_chars(dir))
            slt__tail_watch_dir(t, dir);
        slt_free(dir);
    }
    for (f = t->files; f; f = f->next) {
        char *dir = NULL, *base = NULL;

        if (f->state == F_ACTIVE && slt__tail_real_dir_base(f->path, &dir, &base) == 0)
            slt__tail_watch_dir(t, dir);
        slt_free(dir);
        slt_free(base);
    }
    slt__tail_kick(t);
    *out = t;
    return 0;
}

void slt_tail_pause(struct slt_tail *t)
{
    t->paused = 1;
    if (t->idle_on && !t->closing) {
        uv_idle_stop(&t->idle);
        t->idle_on = 0;
    }
}

void slt_tail_resume(struct slt_tail *t)
{
    t->paused = 0;
    slt__tail_kick(t);
}

size_t slt_tail_positions(struct slt_tail *t, struct slt_tail_pos *out, size_t max)
{
    struct slt_tail_file *f;
    struct tail_group *g;
    size_t n = 0;

    for (f = t->files; f; f = f->next) {
        if (n < max) {
            struct slt_tail_pos *p = &out[n];

            memset(p, 0, sizeof(*p));
            p->dev = f->dev;
            p->ino = f->ino;
            p->fingerprint = f->fp;
            p->fp_len = f->fp_len;
            p->offset = f->offset;
            p->flags = (f->gz ? SLT_TAIL_POS_GZ : 0) | (f->skipping ? SLT_TAIL_POS_SKIP : 0) |
                       (f->state == F_DONE ? SLT_TAIL_POS_DONE : 0);
            snprintf(p->path, sizeof(p->path), "%s", f->path);
        }
        n++;
    }
    for (g = t->groups; g; g = g->next) {
        if (!g->mark_valid)
            continue;
        if (n < max) {
            struct slt_tail_pos *p = &out[n];

            memset(p, 0, sizeof(*p));
            p->flags = SLT_TAIL_POS_DONE | SLT_TAIL_POS_MARK;
            if (g->mark_none) {
                snprintf(p->path, sizeof(p->path), "%s", g->path);
            } else {
                p->dev = g->mark_dev;
                p->ino = g->mark_ino;
                p->fingerprint = g->mark_fp;
                p->fp_len = g->mark_fp_len;
                p->flags |= g->mark_gz ? SLT_TAIL_POS_GZ : 0;
                snprintf(p->path, sizeof(p->path), "%s", g->mark_path);
            }
        }
        n++;
    }
    return n;
}

size_t slt_tail_stats(struct slt_tail *t, struct slt_tail_file_stats *out, size_t max)
{
    struct slt_tail_file *f;
    size_t n = 0;

    for (f = t->files; f; f = f->next) {
        if (n < max) {
            struct slt_tail_file_stats *s = &out[n];

            s->path = f->path;
            s->offset = f->offset;
            s->size = f->size;
            s->lines = f->lines;
            s->oversize = f->oversize;
            s->truncations = f->truncations;
            s->last_line_ms = f->last_line_ms;
            s->errors = f->errors;
        }
        n++;
    }
    return n;
}

uint64_t slt_tail_truncations(struct slt_tail *t)
{
    return t->truncations;
}

uint64_t slt_tail_errors(struct slt_tail *t)
{
    return t->errors;
}

const char *slt_tail_file_path(const struct slt_tail_file *f)
{
    return f->path;
}

static void on_handle_closed(uv_handle_t *h)
{
    struct slt_tail *t;

    if (h->type == UV_FS_EVENT) {
        struct tail_watch *w = h->data;

        t = w->t;
        slt_free(w->dir);
        slt_free(w);
    } else {
        t = h->data;
    }
    if (--t->pending_closes == 0) {
        void (*cb)(void *) = t->on_closed;
        void *data = t->closed_data;

        tail_free(t);
        if (cb)
            cb(data);
    }
}

void slt_tail_close(struct slt_tail *t, void (*on_closed)(void *data), void *data)
{
    struct slt_tail_file *f;
    size_t i;

    if (t->closing)
        return;
    t->closing = 1;
    t->on_closed = on_closed;
    t->closed_data = data;
    /* fds go now; the structs stay until the handles are closed (we may be in on_line) */
    for (f = t->files; f; f = f->next)
        slt__tail_file_close_fd(f);
    t->pending_closes = 2 + (int)t->nwatches;
    uv_close((uv_handle_t *)&t->timer, on_handle_closed);
    uv_close((uv_handle_t *)&t->idle, on_handle_closed);
    for (i = 0; i < t->nwatches; i++)
        uv_close((uv_handle_t *)&t->watches[i]->h, on_handle_closed);
    t->nwatches = 0;
}
