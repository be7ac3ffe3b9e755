/*
 * Watching: uv_fs_event on directories wakes the files a write names and asks for a scan on
 * create/rename/delete; a timer asks for one every poll_ms; the scan (the stat poll) matches
 * the configured paths to the files followed.
 */
#include "tail_internal.h"

#include <glob.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#include "slt/common.h"

/* ---- inotify ---- */

static size_t name_hash(const char *s)
{
    return (size_t)fnv1a(s, strlen(s));
}

/* Rebuilds the name hash after files came, went or were renamed; 0, or -1 without memory. */
static int names_index(struct slt_tail *t)
{
    struct slt_tail_file *f;
    size_t n = 16;

    if (!t->hdirty && t->hbuckets)
        return 0;
    while (n < 2 * t->nfiles)
        n *= 2;
    if (n - 1 != t->hmask || !t->hbuckets) {
        struct slt_tail_file **b = slt_calloc(n, sizeof(*b));

        if (!b)
            return -1;
        slt_free(t->hbuckets);
        t->hbuckets = b;
        t->hmask = n - 1;
    } else {
        memset(t->hbuckets, 0, n * sizeof(*t->hbuckets));
    }
    for (f = t->files; f; f = f->next) {
        size_t i = name_hash(f->name) & t->hmask;

        f->hnext = t->hbuckets[i];
        t->hbuckets[i] = f;
    }
    t->hdirty = 0;
    return 0;
}

static void on_fs_event(uv_fs_event_t *h, const char *filename, int events, int status)
{
    struct tail_watch *w = h->data;
    struct slt_tail *t = w->t;
    struct slt_tail_file *f;

    if (status < 0 || t->closing)
        return;
    if (events & UV_RENAME)
        t->need_scan = 1;
    /* a write names its file: wake only that one (the poll covers anything missed) */
    if (!(events & UV_RENAME) && filename && names_index(t) == 0) {
        for (f = t->hbuckets[name_hash(filename) & t->hmask]; f; f = f->hnext)
            if (f->fd >= 0 && !f->gz && strcmp(filename, f->name) == 0)
                f->want_read = 1;
    } else {
        for (f = t->files; f; f = f->next)
            if (f->fd >= 0 && !f->gz)
                f->want_read = 1;
    }
    slt__tail_kick(t);
}

void slt__tail_watch_dir(struct slt_tail *t, const char *dir)
{
    struct tail_watch *w;
    struct stat st;
    size_t i;

    for (i = 0; i < t->nwatches; i++)
        if (strcmp(t->watches[i]->dir, dir) == 0)
            return;
    if (t->nwatches >= TAIL_MAX_WATCHES || stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
        return;
    w = slt_calloc(1, sizeof(*w));
    if (!w)
        return;
    w->dir = slt_strdup(dir);
    if (!w->dir || uv_fs_event_init(t->loop, &w->h) != 0) {
        slt_free(w->dir);
        slt_free(w);
        return;
    }
    w->t = t;
    w->h.data = w;
    t->watches[t->nwatches++] = w;
    if (uv_fs_event_start(&w->h, on_fs_event, dir, 0) == 0)
        w->ok = 1;
    else
        slt_log(SLT_LOG_INFO, "tail", "cannot watch '%s'; polling it", dir);
}

void slt__tail_on_timer(uv_timer_t *h)
{
    struct slt_tail *t = h->data;

    t->need_scan = 1;
    slt__tail_kick(t);
    if (t->idle_on)
        return;
    /* paused: still notice rotations so nothing is lost, but deliver nothing */
    slt__tail_scan(t);
}

/* ---- the poll: scanning the configured paths ---- */

/* Files at the configured paths now: picked up, or matched to what we follow. */
void slt__tail_scan(struct slt_tail *t)
{
    struct slt_tail_file *f;
    size_t i, j;
    int64_t now = (int64_t)uv_now(t->loop);

    t->need_scan = 0;
    t->dc_valid = 0;
    for (f = t->files; f; f = f->next)
        f->seen = 0;
    for (i = 0; i < t->npatterns; i++) {
        glob_t g;

        memset(&g, 0, sizeof(g));
        /* a failed glob may still hold partial results; globfree handles every outcome */
        if (glob(t->patterns[i], 0, NULL, &g) != 0) {
            globfree(&g);
            continue;
        }
        for (j = 0; j < g.gl_pathc; j++) {
            const char *path = g.gl_pathv[j];
            struct stat st;
            int fd;

            if (has_suffix(path, ".gz") || stat(path, &st) < 0 || !S_ISREG(st.st_mode))
                continue;
            f = slt__tail_find_by_id(t, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
            if (f) {
                /* known by identity; renamed back or onto another configured path */
                if (f->state == F_ROTATED) {
                    f->state = F_ACTIVE;
                    f->eof_since_ms = 0;
                }
                if (f->state == F_ACTIVE && strcmp(f->path, path) != 0 &&
                    slt__tail_file_set_group(f, path) == 0)
                    slt__tail_file_set_path(f, path);
                if (f->state == F_ACTIVE)
                    f->seen = 1;
                continue;
            }
            fd = slt__tail_open_regular(path, &st);
            if (fd < 0)
                continue;
            /* appeared while we run: every line of it is new */
            if (slt__tail_file_add(t, fd, &st, path, path, 0, F_ACTIVE, NULL, &f) == 0) {
                f->seen = 1;
                if (f->pred)
                    f->g->rotated = 1;
                slt_log(SLT_LOG_INFO, "tail", "following '%s'", path);
            }
        }
        globfree(&g);
    }
    for (f = t->files; f; f = f->next) {
        if (f->state == F_ACTIVE && !f->seen)
            slt__tail_file_moved(f);
        slt__tail_file_check(f);
        if ((f->state == F_ROTATED || f->state == F_DELETED) && f->drained && !f->want_read &&
            f->eof_since_ms && now - f->eof_since_ms >= t->rotate_wait_ms)
            f->state = F_DONE;
        if (f->state == F_ACTIVE && !f->watched) {
            char *dir = NULL, *base = NULL;

            if (slt__tail_real_dir_base(f->path, &dir, &base) == 0)
                slt__tail_watch_dir(t, dir);
            slt_free(dir);
            slt_free(base);
            f->watched = 1;
        }
    }
    slt__tail_groups_update(t);
    slt__tail_dc_clear(t); /* no listing outlives its scan (nor its memory) */
    slt__tail_kick(t);
}
