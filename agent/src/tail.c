/*
 * The file tailer: see tail.h for the contract.
 *
 * One list of tracked files. Each holds an open fd (so its inode cannot be reused while we
 * know it), its identity (dev, ino, fingerprint of the first bytes) and two offsets:
 * `offset`, just after the last delivered line (what positions report), and `read_off`, how
 * far we have read; the bytes between them are a partial line waiting in `buf`.
 *
 * Events (uv_fs_event on directories, a uv_timer poll) only mark work: `want_read` on files,
 * `need_scan` on the tailer. The work runs in a uv_idle callback, at most TAIL_TURN_BYTES per
 * file per loop turn, so one busy file cannot starve the others or the network.
 *
 * Ordering: files of one history (access.log and its rotated siblings) share a `group` and
 * are chained by `pred`, oldest first. A file reads only when every older file in its chain
 * has been drained to its end, so lines come out oldest first across rotations and backfill.
 *
 * Each history (struct tail_group) also keeps the identities of its rotated siblings at the
 * last scan and its newest sibling (checkpointed as a POS_MARK), and the tailer remembers the
 * last files it closed (graves). With them it tells apart a file rotated away before it was
 * seen, a closed file that grew again, a copytruncate copy, and, after a restart, the files
 * that came while the agent was down - each to be read once, from the right offset.
 */
#include "tail.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "gz.h"
#include "slt/common.h"

#define TAIL_BUF_MIN 65536u          /* read buffer per open file, at least max_line + 1 */
#define TAIL_TURN_BYTES (1u << 20)   /* read at most this much per file per loop turn */
#define TAIL_MAX_FILES 1024u         /* tracked files (open fds) at most */
#define TAIL_MAX_SIBLINGS 512u       /* rotated siblings considered per path */
#define TAIL_MAX_WATCHES 64u         /* directories watched with inotify */
#define TAIL_ROTATE_WAIT_MS 5000     /* default opts.rotate_wait_ms */
#define TAIL_POLL_MS 1000            /* default opts.poll_ms */
#define TAIL_MAX_LINE 65536u         /* default opts.max_line */
#define TAIL_MAX_DIRENTS 65536u      /* names read from one directory when listing siblings */
#define TAIL_GRAVES 64u              /* closed files remembered (identity and offset) */
#define TAIL_MAX_ROTATE_NUM 1000000L /* access.log.N: larger N is a date (dateext), not N */
#define TAIL_SCAN_TRIES 50           /* startup scans redone when files moved during one */
/* a sibling new since the last listing is taken for a file rotated between two scans only if
   it changed after that listing, less this much (file times lag the clock by a tick) */
#define TAIL_LISTED_SLACK_NS 100000000LL

enum tail_state {
    F_ACTIVE,  /* a configured path names it */
    F_ROTATED, /* renamed away, a backfill file or a copy: read to the end, then closed */
    F_DELETED, /* unlinked: read what is left, then closed */
    F_DONE,    /* finished: closed and freed at the next reap */
};

struct slt_tail_file {
    struct slt_tail *t;
    struct slt_tail_file *next;
    struct slt_tail_file *pred;  /* next older file of the same history, or NULL */
    struct slt_tail_file *hnext; /* same bucket of the name hash */
    char *path;                  /* where it was last seen */
    char *name;                  /* its name in its directory, through symlinks (for events) */
    char *group;                 /* the configured path whose history this is */
    struct tail_group *g;        /* the same, with its sibling snapshot */
    int fd;
    int gz;
    struct slt_gz *gzs;
    enum tail_state state;
    uint64_t dev, ino;
    uint64_t fp;
    uint32_t fp_len;
    uint64_t offset;   /* just after the last delivered line */
    uint64_t read_off; /* bytes read; buf holds [read_off - len, read_off) */
    uint64_t skip_to;  /* .gz resumed from a checkpoint: drop decoded bytes before this */
    uint64_t size;     /* last size seen by fstat */
    char *buf;
    size_t len;
    int skipping;  /* discarding up to the next '\n' (rest of an oversize line) */
    int want_read; /* there may be bytes to read or lines to deliver */
    int drained;   /* not active and read to its end at least once */
    int64_t eof_since_ms;
    int seen;
    int watched;   /* its directory (through symlinks) is watched, or was tried */
    int size_lies; /* reported a size below bytes it had (logged once) */
    uint64_t lines, oversize, truncations, errors;
    int64_t last_line_ms;
    int64_t first_bytes_ns; /* wall clock when its first bytes were first seen; 0: not yet */
};

/*
 * One history (a configured path and its rotated siblings). `sib` is the identities of its
 * siblings at the last scan: a sibling that is new at a rotation, not followed and not a copy
 * of a followed file was at the path between two scans (rotated twice before we looked).
 */
struct tail_group {
    struct tail_group *next;
    char *path;
    size_t refs; /* files in it */
    struct tail_id {
        uint64_t dev, ino;
        int64_t mtime_ns; /* a reused inode is a new file: its mtime differs */
    } * sib;
    size_t nsib;
    int64_t sib_ns; /* wall clock just before sib was listed */
    int valid;      /* sib was taken */
    int rotated;    /* a rotation of this path was seen in this scan */
    int young_hold; /* siblings were left to judge at the next scan under young_active() */
    /* the newest sibling at the last scan, checkpointed as a POS_MARK: after a restart,
       siblings newer than it came while we were down */
    int mark_valid, mark_none, mark_gz;
    uint64_t mark_dev, mark_ino, mark_size, mark_fp;
    uint32_t mark_fp_len;
    char *mark_path;
};

struct tail_watch {
    uv_fs_event_t h;
    struct slt_tail *t;
    char *dir;
    int ok;
};

struct slt_tail {
    uv_loop_t *loop;
    char **patterns;
    size_t npatterns;
    /* one history per plain configured path, held for the tailer's life: its POS_MARK is in
       every set of positions, followed file or not, so a restart is never a first start */
    struct tail_group **held;
    int read_from_beginning;
    size_t max_line, bufcap;
    int64_t poll_ms, rotate_wait_ms;
    slt_tail_line_cb on_line;
    void *data;

    struct slt_tail_file *files;
    size_t nfiles;
    /* files by name, so a write event wakes its file without walking them all */
    struct slt_tail_file **hbuckets;
    size_t hmask;
    int hdirty;
    struct tail_group *groups;
    /* the last directory listed; valid during one scan, so N paths in one directory cost
       one readdir per scan, not N */
    char *dc_dir;
    char **dc_names;
    size_t dc_n;
    int dc_valid;
    struct tail_watch *watches[TAIL_MAX_WATCHES];
    size_t nwatches;
    uv_timer_t timer;
    uv_idle_t idle;
    int ready, idle_on, paused, closing, need_scan;
    int pending_closes;
    void (*on_closed)(void *data);
    void *closed_data;
    uint64_t truncations, errors;
    int limit_logged;
    /* files closed lately: one that grows again (a writer later than rotate_wait) or turns up
       as a new sibling is known, and read on from where we stopped, never again from 0 */
    struct tail_grave {
        uint64_t dev, ino, fp, offset;
        uint32_t fp_len;
        int skipping;
    } graves[TAIL_GRAVES];
    size_t ngraves, grave_next;
    /* a listed sibling was no longer at its name when opened (a rotation renamed files while
       we looked): the startup scan is redone, a history's snapshot is not taken */
    int moved;
    int scan_retry; /* initial_scan: return -EAGAIN when moved, to be called again */
};

/* ---- small helpers ---- */

/* The fingerprint is persisted in checkpoints: it must stay FNV-1a 64 with the standard basis. */
static uint64_t fnv1a(const void *p, size_t n)
{
    return slt_fnv1a64(p, n);
}

static int has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);

    return a >= b && strcmp(s + a - b, suf) == 0;
}

static int has_glob_chars(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

/* pread until n bytes or end of file; returns bytes read or -errno. */
static ssize_t pread_full(int fd, void *buf, size_t n, uint64_t off)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));

        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static int open_regular(const char *path, struct stat *st)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

    if (fd < 0)
        return -errno;
    if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        return SLT_EINVAL;
    }
    return fd;
}

/* Fingerprint of the first `want` bytes of a plain file (fewer if it is shorter). */
static int fp_plain(int fd, uint32_t want, uint64_t *fp, uint32_t *got)
{
    char b[SLT_TAIL_FP_BYTES];
    ssize_t n;

    if (want > sizeof(b))
        want = sizeof(b);
    n = pread_full(fd, b, want, 0);
    if (n < 0)
        return (int)n;
    *fp = fnv1a(b, (size_t)n);
    *got = (uint32_t)n;
    return 0;
}

/* Fingerprint of the first `want` decoded bytes of a .gz file open as fd (not closed; its
   offset is left anywhere). */
static int fp_gz_fd(int fd, uint32_t want, uint64_t *fp, uint32_t *got)
{
    char b[SLT_TAIL_FP_BYTES];
    struct slt_gz *g;
    size_t have = 0;
    long n = 0;
    int rc;

    if (want > sizeof(b))
        want = sizeof(b);
    if (lseek(fd, 0, SEEK_SET) < 0)
        return -errno;
    rc = slt_gz_new_fd(fd, &g);
    if (rc < 0)
        return rc;
    while (have < want && (n = slt_gz_read(g, b + have, want - have)) > 0)
        have += (size_t)n;
    slt_gz_free(g);
    /* a corrupt file still has an identity for what decoded */
    *fp = fnv1a(b, have);
    *got = (uint32_t)have;
    return 0;
}

/* CLOCK_REALTIME in ns: the clock of file times. */
static int64_t wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct slt_tail_file *find_by_id(struct slt_tail *t, uint64_t dev, uint64_t ino)
{
    struct slt_tail_file *f;

    for (f = t->files; f; f = f->next)
        if (f->dev == dev && f->ino == ino && f->state != F_DONE)
            return f;
    return NULL;
}

static void on_idle(uv_idle_t *h);

/* Makes sure the idle callback runs work at the next loop turn. */
static void kick(struct slt_tail *t)
{
    if (t->ready && !t->idle_on && !t->paused && !t->closing &&
        uv_idle_start(&t->idle, on_idle) == 0)
        t->idle_on = 1;
}

/* ---- files ---- */

static struct tail_group *group_ref(struct slt_tail *t, const char *path)
{
    struct tail_group *g;

    for (g = t->groups; g; g = g->next)
        if (strcmp(g->path, path) == 0)
            break;
    if (!g) {
        g = slt_calloc(1, sizeof(*g));
        if (!g)
            return NULL;
        g->path = slt_strdup(path);
        if (!g->path) {
            slt_free(g);
            return NULL;
        }
        g->next = t->groups;
        t->groups = g;
    }
    g->refs++;
    return g;
}

static void group_unref(struct slt_tail *t, struct tail_group *g)
{
    struct tail_group **pp;

    if (!g || --g->refs > 0)
        return;
    for (pp = &t->groups; *pp; pp = &(*pp)->next) {
        if (*pp == g) {
            *pp = g->next;
            break;
        }
    }
    slt_free(g->sib);
    slt_free(g->mark_path);
    slt_free(g->path);
    slt_free(g);
}

/* Moves a file to another history (it was renamed onto another configured path). */
static int file_set_group(struct slt_tail_file *f, const char *path)
{
    struct tail_group *g = group_ref(f->t, path);
    char *ng = slt_strdup(path);

    if (!g || !ng) {
        group_unref(f->t, g);
        slt_free(ng);
        return SLT_ENOMEM;
    }
    group_unref(f->t, f->g);
    slt_free(f->group);
    f->g = g;
    f->group = ng;
    return 0;
}

/* The fd only: buf may still be in use by deliver_lines when we close from on_line. */
static void file_close_fd(struct slt_tail_file *f)
{
    slt_gz_free(f->gzs);
    f->gzs = NULL;
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

static int real_dir_base(const char *path, char **dir, char **base);

/* Where the file is now; its name as inotify reports it (the symlink target's name). */
static void file_set_path(struct slt_tail_file *f, const char *path)
{
    char *p = slt_strdup(path), *dir = NULL, *base = NULL;

    if (!p)
        return;
    slt_free(f->path);
    f->path = p;
    f->watched = 0;
    f->t->hdirty = 1;
    if (real_dir_base(path, &dir, &base) == 0) {
        slt_free(f->name);
        f->name = base;
        slt_free(dir);
    }
}

static void file_free(struct slt_tail_file *f)
{
    if (!f)
        return;
    file_close_fd(f);
    slt_free(f->buf);
    slt_free(f->name);
    slt_free(f->path);
    slt_free(f->group);
    group_unref(f->t, f->g);
    slt_free(f);
}

/* Newest file of a history, to chain a newer one after it. */
static struct slt_tail_file *newest_of(struct slt_tail *t, const char *group)
{
    struct slt_tail_file *f, *last = NULL;

    /* files are appended, so the last match in list order is the newest */
    for (f = t->files; f; f = f->next)
        if (f->state != F_DONE && strcmp(f->group, group) == 0)
            last = f;
    return last;
}

/*
 * Starts tracking an open fd (taken over: closed on failure too). The file goes at the end
 * of its history unless `before` is given, in which case it is chained just before it.
 */
static int file_add(struct slt_tail *t, int fd, const struct stat *st, const char *path,
                    const char *group, int gz, enum tail_state state, struct slt_tail_file *before,
                    struct slt_tail_file **out)
{
    struct slt_tail_file *f, **pp;
    int rc;

    if (t->nfiles >= TAIL_MAX_FILES) {
        if (!t->limit_logged)
            slt_log(SLT_LOG_WARN, "tail", "cannot follow '%s': %u files already followed", path,
                    TAIL_MAX_FILES);
        t->limit_logged = 1;
        t->errors++;
        close(fd);
        return SLT_ELIMIT;
    }
    f = slt_calloc(1, sizeof(*f));
    if (!f) {
        close(fd);
        return SLT_ENOMEM;
    }
    f->t = t;
    f->fd = fd;
    file_set_path(f, path);
    f->group = slt_strdup(group);
    f->g = group_ref(t, group);
    if (!f->path || !f->name || !f->group || !f->g) {
        file_free(f);
        return SLT_ENOMEM;
    }
    f->gz = gz;
    f->state = state;
    f->dev = (uint64_t)st->st_dev;
    f->ino = (uint64_t)st->st_ino;
    f->size = (uint64_t)st->st_size;
    if (gz) {
        /* the decoder (about 110 KiB) is made when the file is read, not while it waits;
           fingerprinted from fd, not by name (another file may be at the name by now) */
        rc = fp_gz_fd(fd, SLT_TAIL_FP_BYTES, &f->fp, &f->fp_len);
        if (rc == 0 && lseek(fd, 0, SEEK_SET) < 0)
            rc = -errno;
    } else {
        rc = fp_plain(fd, SLT_TAIL_FP_BYTES, &f->fp, &f->fp_len);
    }
    if (rc < 0) {
        file_free(f);
        return rc;
    }
    if (f->fp_len > 0)
        f->first_bytes_ns = wall_ns();
    if (before) {
        f->pred = before->pred;
        before->pred = f;
    } else {
        f->pred = newest_of(t, group);
    }
    for (pp = &t->files; *pp; pp = &(*pp)->next)
        if (*pp == before)
            break;
    f->next = *pp;
    *pp = f;
    t->nfiles++;
    f->want_read = 1;
    *out = f;
    return 0;
}

/* Starts a plain file at its current end; a partial last line there is not ours. */
static void file_start_at_end(struct slt_tail_file *f)
{
    char c = '\n';

    f->offset = f->read_off = f->size;
    if (f->size > 0 && pread_full(f->fd, &c, 1, f->size - 1) == 1 && c != '\n')
        f->skipping = 1;
}

/* Where to start reading: a restored position or 0. Same-inode mismatch counts as truncation. */
static void file_resume(struct slt_tail_file *f, const struct slt_tail_pos *r)
{
    f->offset = r->offset;
    if (f->gz) {
        f->read_off = 0;
        f->skip_to = r->offset;
    } else {
        f->read_off = r->offset;
    }
    f->skipping = (r->flags & SLT_TAIL_POS_SKIP) != 0;
}

static void file_reset(struct slt_tail_file *f)
{
    f->offset = f->read_off = f->skip_to = 0;
    f->len = 0;
    f->skipping = 0;
    f->fp_len = 0;
    f->fp = fnv1a("", 0);
    f->drained = 0;
    f->want_read = 1;
}

/* ---- siblings: rotated files of a path, oldest first ---- */

struct cand {
    char *path;
    uint64_t dev, ino, size;
    int64_t mtime_ns;
    long num; /* access.log.N or access.log.N.gz: N; else -1 */
    int gz;
    const struct slt_tail_pos *r; /* matched restore position */
    int mark;                     /* the newest sibling at the checkpoint (a POS_MARK) */
    int moved;                    /* another file was at its name when it was opened */
};

struct cands {
    struct cand *v;
    size_t n, cap;
};

static void cands_release(struct cands *c)
{
    size_t i;

    for (i = 0; i < c->n; i++)
        slt_free(c->v[i].path);
    slt_free(c->v);
    c->v = NULL;
    c->n = c->cap = 0;
}

static int cands_push(struct cands *c, const char *path, const struct stat *st)
{
    struct cand *x;

    if (c->n == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 16;
        struct cand *v = slt_realloc(c->v, ncap * sizeof(*v));

        if (!v)
            return SLT_ENOMEM;
        c->v = v;
        c->cap = ncap;
    }
    x = &c->v[c->n];
    memset(x, 0, sizeof(*x));
    x->path = slt_strdup(path);
    if (!x->path)
        return SLT_ENOMEM;
    x->dev = (uint64_t)st->st_dev;
    x->ino = (uint64_t)st->st_ino;
    x->size = (uint64_t)st->st_size;
    x->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    x->gz = has_suffix(path, ".gz");
    x->num = -1;
    c->n++;
    return 0;
}

static int cmp_num_desc(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;

    return x->num < y->num ? 1 : x->num > y->num ? -1 : 0;
}

static int cmp_mtime_asc(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;

    if (x->mtime_ns != y->mtime_ns)
        return x->mtime_ns < y->mtime_ns ? -1 : 1;
    return strcmp(x->path, y->path);
}

/* "dir/base" for a configured path, through symlinks (rotation happens at the target). */
static int real_dir_base(const char *path, char **dir, char **base)
{
    char *rp = realpath(path, NULL), *slash;
    const char *use = rp ? rp : path;

    slash = strrchr(use, '/');
    if (slash) {
        *dir = slt_strndup(use, slash == use ? 1 : (size_t)(slash - use));
        *base = slt_strdup(slash + 1);
    } else {
        *dir = slt_strdup(".");
        *base = slt_strdup(use);
    }
    free(rp);
    if (!*dir || !*base) {
        slt_free(*dir);
        slt_free(*base);
        return SLT_ENOMEM;
    }
    return 0;
}

/*
 * Rotated siblings of `path`: regular files in its directory named base + '.' or '-' +
 * anything (access.log.1, access.log.2.gz, access.log-20240101.gz), oldest first: by N
 * descending when every name is base.N[.gz], else by mtime.
 */
static void dc_clear(struct slt_tail *t)
{
    size_t i;

    for (i = 0; i < t->dc_n; i++)
        slt_free(t->dc_names[i]);
    slt_free(t->dc_names);
    slt_free(t->dc_dir);
    t->dc_names = NULL;
    t->dc_dir = NULL;
    t->dc_n = 0;
    t->dc_valid = 0;
}

/* The names in dir, from the cache when it holds dir and is still valid. */
static int dc_load(struct slt_tail *t, const char *dir)
{
    struct dirent *de;
    size_t cap = 0;
    DIR *d;

    if (t->dc_valid && strcmp(t->dc_dir, dir) == 0)
        return 0;
    dc_clear(t);
    t->dc_dir = slt_strdup(dir);
    if (!t->dc_dir)
        return SLT_ENOMEM;
    d = opendir(dir);
    if (!d) {
        t->dc_valid = 1; /* no directory: no siblings */
        return 0;
    }
    while ((de = readdir(d)) != NULL && t->dc_n < TAIL_MAX_DIRENTS) {
        if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
            continue;
        if (t->dc_n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            char **v = slt_realloc(t->dc_names, ncap * sizeof(*v));

            if (!v)
                goto nomem;
            t->dc_names = v;
            cap = ncap;
        }
        t->dc_names[t->dc_n] = slt_strdup(de->d_name);
        if (!t->dc_names[t->dc_n])
            goto nomem;
        t->dc_n++;
    }
    closedir(d);
    t->dc_valid = 1;
    return 0;
nomem:
    /* a partial listing would hide rotated files: none at all is an error */
    closedir(d);
    dc_clear(t);
    return SLT_ENOMEM;
}

static int list_siblings(struct slt_tail *t, const char *path, struct cands *out)
{
    char *dir = NULL, *base = NULL, full[SLT_TAIL_PATH_MAX];
    struct stat st;
    size_t blen, i;
    int all_num = 1, rc;

    rc = real_dir_base(path, &dir, &base);
    if (rc < 0)
        return rc;
    rc = dc_load(t, dir);
    if (rc < 0)
        goto out;
    blen = strlen(base);
    for (i = 0; i < t->dc_n && out->n < TAIL_MAX_SIBLINGS; i++) {
        const char *name = t->dc_names[i], *rest;
        char *endp;
        long num;

        if (strncmp(name, base, blen) != 0 || (name[blen] != '.' && name[blen] != '-'))
            continue;
        if ((size_t)snprintf(full, sizeof(full), "%s/%s", dir, name) >= sizeof(full))
            continue;
        if (stat(full, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        rc = cands_push(out, full, &st);
        if (rc < 0)
            break;
        /* access.log.N[.gz] with a small N: logrotate's numbering, higher is older */
        rest = name + blen + 1;
        num = strtol(rest, &endp, 10);
        if (name[blen] == '.' && endp != rest && *rest >= '0' && *rest <= '9' &&
            num < TAIL_MAX_ROTATE_NUM && (*endp == '\0' || strcmp(endp, ".gz") == 0))
            out->v[out->n - 1].num = num;
        else
            all_num = 0;
    }
    if (rc == 0 && out->n > 1) {
        if (all_num)
            qsort(out->v, out->n, sizeof(out->v[0]), cmp_num_desc);
        else
            qsort(out->v, out->n, sizeof(out->v[0]), cmp_mtime_asc);
    }
out:
    slt_free(dir);
    slt_free(base);
    return rc;
}

/*
 * Opens a listed candidate by name. A rotation may have renamed another file onto its name
 * since it was listed (access.log.N -> access.log.N+1): the fd is checked to be the listed
 * (dev, ino), else -EAGAIN, with c->moved and t->moved set (the startup scan is redone; a
 * history leaves c out of its snapshot, to look at it again at the next scan).
 */
static int cand_open(struct slt_tail *t, struct cand *c, struct stat *st)
{
    int fd = open_regular(c->path, st);

    if (fd < 0)
        return fd;
    if ((uint64_t)st->st_dev != c->dev || (uint64_t)st->st_ino != c->ino) {
        c->moved = 1;
        t->moved = 1;
        close(fd);
        return -EAGAIN;
    }
    return fd;
}

/*
 * Does this candidate hold the restore position's first bytes? 1 or 0; SLT_ENOMEM when that
 * cannot be known. A file that cannot be read, or that is no longer at its name (t->moved is
 * then set), does not match: its name is never fingerprinted for it.
 */
static int cand_fp_check(struct slt_tail *t, struct cand *c, const struct slt_tail_pos *r)
{
    struct stat st;
    uint64_t fp = 0;
    uint32_t got = 0;
    int fd, rc;

    if (r->fp_len == 0)
        return 1;
    fd = cand_open(t, c, &st);
    if (fd < 0)
        return 0;
    if (c->gz)
        rc = fp_gz_fd(fd, r->fp_len, &fp, &got);
    else
        rc = fp_plain(fd, r->fp_len, &fp, &got);
    close(fd);
    if (rc == SLT_ENOMEM)
        return rc;
    return rc == 0 && got == r->fp_len && fp == r->fingerprint;
}

static int cand_fp_matches(struct slt_tail *t, struct cand *c, const struct slt_tail_pos *r)
{
    return cand_fp_check(t, c, r) == 1;
}

/* ---- truncation ---- */

/*
 * copytruncate: before the truncation, the file was copied to a sibling. If a sibling that is
 * not followed holds our first bytes and reaches our offset, it is that copy: read it from our
 * offset first, so the lines written between our last read and the copy are not lost. A plain
 * copy is preferred; else a .gz one (copytruncate + compress), read from our decoded offset.
 */
static void find_copy(struct slt_tail_file *f)
{
    struct slt_tail *t = f->t;
    struct slt_tail_pos want;
    struct cands sib = {0};
    struct slt_tail_file *c;
    size_t i;
    int gz;

    if (f->fp_len == 0 || f->gz)
        return;
    memset(&want, 0, sizeof(want));
    want.fingerprint = f->fp;
    want.fp_len = f->fp_len;
    if (list_siblings(t, f->group, &sib) < 0)
        goto out;
    for (gz = 0; gz < 2; gz++) {
        for (i = 0; i < sib.n; i++) {
            struct cand *x = &sib.v[i];
            struct stat st;
            int fd;

            /* the decoded size of a .gz is unknown without decoding it: not checked */
            if (x->gz != gz || (!gz && x->size < f->offset) || find_by_id(t, x->dev, x->ino) ||
                !cand_fp_matches(t, x, &want))
                continue;
            /* the file listed, not another renamed onto its name since (the next scan's
               intermediates search looks again) */
            fd = cand_open(t, x, &st);
            if (fd < 0)
                continue;
            if (file_add(t, fd, &st, x->path, f->group, gz, F_ROTATED, f, &c) == 0) {
                struct slt_tail_pos at;

                memset(&at, 0, sizeof(at));
                at.offset = f->offset;
                at.flags = f->skipping ? SLT_TAIL_POS_SKIP : 0;
                file_resume(c, &at);
                slt_log(SLT_LOG_INFO, "tail", "'%s' was truncated; reading its copy '%s' from %llu",
                        f->path, x->path, (unsigned long long)f->offset);
            }
            goto out;
        }
    }
out:
    cands_release(&sib);
}

/*
 * Whether the file still has the byte just before off. A size below our offset usually means a
 * truncation, but procfs reports 0 and NFS with a stale attribute cache an old size while the
 * bytes are there: a truncation is believed only when a read agrees (else the same bytes would
 * be read again and again as a new file).
 */
static int reaches(int fd, uint64_t off)
{
    ssize_t n;
    char c;

    if (off == 0)
        return 1;
    do
        n = pread(fd, &c, 1, (off_t)(off - 1));
    while (n < 0 && errno == EINTR);
    return n == 1;
}

/* Size below the read offset: truncated, or a size that cannot be trusted (see reaches()). */
static int shrunk(struct slt_tail_file *f, uint64_t size)
{
    if (size >= f->read_off)
        return 0;
    if (!reaches(f->fd, f->read_off))
        return 1;
    if (!f->size_lies++)
        slt_log(SLT_LOG_WARN, "tail",
                "'%s' reports a size (%llu) below bytes it has (%llu): its size is not trusted "
                "(procfs, or NFS with a stale attribute cache?)",
                f->path, (unsigned long long)size, (unsigned long long)f->read_off);
    return 0;
}

static void file_truncated(struct slt_tail_file *f)
{
    /* the copy may not be recognizable (or not complete yet): look for new siblings too */
    f->g->rotated = 1;
    f->truncations++;
    f->t->truncations++;
    slt_log(SLT_LOG_INFO, "tail", "'%s' was truncated at %llu; reading it from the start", f->path,
            (unsigned long long)f->read_off);
    find_copy(f);
    file_reset(f);
}

/* fstat-based check: deletion, truncation, growth, fingerprint growth. */
static void file_check(struct slt_tail_file *f)
{
    struct stat st;
    uint64_t fp = 0;
    uint32_t got = 0;

    if (f->fd < 0 || f->state == F_DONE || f->gz)
        return;
    if (fstat(f->fd, &st) < 0)
        return;
    f->size = (uint64_t)st.st_size;
    if (st.st_nlink == 0 && f->state != F_DELETED) {
        f->state = F_DELETED;
        f->want_read = 1;
    }
    if (shrunk(f, f->size)) {
        file_truncated(f);
    } else if (f->fp_len > 0 && fp_plain(f->fd, f->fp_len, &fp, &got) == 0 &&
               (got != f->fp_len || fp != f->fp)) {
        /* rewritten in place past our offset before we looked */
        file_truncated(f);
    }
    if (f->fp_len < SLT_TAIL_FP_BYTES && f->size > f->fp_len &&
        fp_plain(f->fd, SLT_TAIL_FP_BYTES, &fp, &got) == 0) {
        if (f->fp_len == 0 && got > 0)
            f->first_bytes_ns = wall_ns();
        f->fp = fp;
        f->fp_len = got;
    }
    if (f->size > f->read_off)
        f->want_read = 1;
}

/* ---- reading ---- */

static int may_read(const struct slt_tail_file *f)
{
    const struct slt_tail_file *p;

    /* only older files that are being finished hold a newer one back */
    for (p = f->pred; p; p = p->pred)
        if (!p->drained && (p->state == F_ROTATED || p->state == F_DELETED))
            return 0;
    return 1;
}

/* Delivers the complete lines in buf; keeps the partial rest at the start of buf. */
static void deliver_lines(struct slt_tail_file *f)
{
    struct slt_tail *t = f->t;
    char *p = f->buf, *end = f->buf + f->len, *nl;
    uint64_t before = f->lines;
    size_t len;

    while (p < end && !t->paused && !t->closing) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (f->skipping) {
            if (!nl) {
                f->offset += (uint64_t)(end - p);
                p = end;
                break;
            }
            f->offset += (uint64_t)(nl + 1 - p);
            p = nl + 1;
            f->skipping = 0;
            continue;
        }
        if (!nl) {
            if ((size_t)(end - p) > t->max_line) {
                /* no '\n' within max_line + 1 bytes: oversize, delivered once, rest skipped */
                f->offset += (uint64_t)(end - p);
                f->skipping = 1;
                f->lines++;
                f->oversize++;
                t->on_line(t->data, f, p, t->max_line, SLT_TAIL_OVERSIZE, f->offset);
                p = end;
            }
            break;
        }
        len = (size_t)(nl - p);
        f->offset += len + 1;
        f->lines++;
        if (len > t->max_line) {
            f->oversize++;
            t->on_line(t->data, f, p, t->max_line, SLT_TAIL_OVERSIZE, f->offset);
        } else {
            t->on_line(t->data, f, p, len, 0, f->offset);
        }
        p = nl + 1;
    }
    if (f->buf && p != f->buf) {
        memmove(f->buf, p, (size_t)(end - p));
        f->len = (size_t)(end - p);
    }
    if (f->lines != before)
        f->last_line_ms = slt_now_ms();
}

static void file_at_end(struct slt_tail_file *f)
{
    struct slt_tail *t = f->t;

    f->want_read = 0;
    if (f->gz) {
        f->drained = 1;
        f->state = F_DONE;
        kick(t);
        return;
    }
    if (f->state == F_ROTATED || f->state == F_DELETED) {
        if (!f->drained)
            kick(t); /* a newer file may be waiting for this one */
        f->drained = 1;
        /* closed by scan() after rotate_wait without growth: a writer that has not reopened
           yet may still append, to a deleted file too */
        if (!f->eof_since_ms)
            f->eof_since_ms = (int64_t)uv_now(t->loop);
    }
}

static void file_read(struct slt_tail_file *f)
{
    struct slt_tail *t = f->t;
    size_t budget = TAIL_TURN_BYTES;
    long n;

    if (f->gz && !f->gzs && slt_gz_new_fd(f->fd, &f->gzs) < 0) {
        t->errors++;
        f->want_read = 0; /* retried at the next event or poll, not in a spin */
        return;
    }
    if (!f->buf) {
        f->buf = slt_malloc(t->bufcap);
        if (!f->buf) {
            t->errors++;
            f->want_read = 0; /* retried at the next event or poll, not in a spin */
            return;
        }
    }
    /* lines held back by a pause first */
    deliver_lines(f);
    while (budget > 0 && !t->paused && !t->closing) {
        size_t room = t->bufcap - f->len;

        if (f->gz) {
            n = slt_gz_read(f->gzs, f->buf + f->len, room);
        } else {
            n = (long)pread(f->fd, f->buf + f->len, room, (off_t)f->read_off);
            if (n < 0)
                n = -errno;
        }
        if (n == -EINTR)
            continue;
        if (n < 0) {
            f->errors++;
            t->errors++;
            slt_log(SLT_LOG_WARN, "tail", "cannot read '%s': %s", f->path, slt_strerror((int)n));
            if (f->state != F_ACTIVE) {
                /* a corrupt .gz or an unreadable old file: what decoded was delivered; the
                   files after it must not wait for it forever */
                f->drained = 1;
                f->state = F_DONE;
                kick(t);
            }
            f->want_read = 0;
            return;
        }
        if (n == 0) {
            struct stat st;

            /* truncated in place: notice now rather than at the next poll */
            if (!f->gz && fstat(f->fd, &st) == 0 && shrunk(f, (uint64_t)st.st_size)) {
                t->dc_valid = 0;
                file_truncated(f);
                if (!may_read(f))
                    return; /* its copy goes first */
                continue;
            }
            file_at_end(f);
            return;
        }
        if (!f->gz && f->fp_len > 0) {
            uint64_t fp = 0;
            uint32_t got = 0;

            /*
             * Checked after the read, before delivering: if the first bytes are no longer ours,
             * the file was truncated and written again (copytruncate) before or while we read,
             * and what we read is the middle of other lines. One 256-byte pread per chunk.
             */
            if (fp_plain(f->fd, f->fp_len, &fp, &got) == 0 && (got != f->fp_len || fp != f->fp)) {
                t->dc_valid = 0;
                file_truncated(f);
                if (!may_read(f))
                    return; /* its copy goes first */
                continue;
            }
        }
        f->eof_since_ms = 0;
        f->read_off += (uint64_t)n;
        if (!f->gz && f->fp_len < SLT_TAIL_FP_BYTES && f->read_off > f->fp_len) {
            /* a young file: its identity grows with it (the copy search needs it) */
            uint64_t fp = 0;
            uint32_t got = 0;

            if (fp_plain(f->fd, SLT_TAIL_FP_BYTES, &fp, &got) == 0) {
                if (f->fp_len == 0 && got > 0)
                    f->first_bytes_ns = wall_ns();
                f->fp = fp;
                f->fp_len = got;
            }
        }
        budget = (size_t)n >= budget ? 0 : budget - (size_t)n;
        if (f->read_off <= f->skip_to)
            continue; /* resuming a .gz: already delivered */
        if (f->read_off - (uint64_t)n < f->skip_to) {
            size_t drop = (size_t)(f->skip_to - (f->read_off - (uint64_t)n));

            memmove(f->buf + f->len, f->buf + f->len + drop, (size_t)n - drop);
            n -= (long)drop;
        }
        f->len += (size_t)n;
        deliver_lines(f);
    }
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
        file_free(f);
    }
}

static void scan(struct slt_tail *t);

static void pump(struct slt_tail *t)
{
    struct slt_tail_file *f;
    int busy = 0;

    if (t->closing)
        return;
    if (t->need_scan)
        scan(t);
    for (f = t->files; f && !t->paused && !t->closing; f = f->next) {
        if (f->fd < 0 || !f->want_read || f->state == F_DONE)
            continue;
        if (!may_read(f)) {
            continue;
        }
        file_read(f);
        if (f->want_read)
            busy = 1;
    }
    if (t->closing)
        return;
    reap(t);
    /* a file freed by reap may have been the last thing a waiting file needed */
    for (f = t->files; f && !busy; f = f->next)
        if (f->want_read && f->state != F_DONE && may_read(f))
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

/* ---- scanning the configured paths ---- */

/* A file is no longer at its configured path: find where it went (or that it is gone). */
static void file_moved(struct slt_tail_file *f)
{
    struct cands sib = {0};
    struct stat st;
    size_t i;

    f->want_read = 1;
    f->drained = 0;
    f->g->rotated = 1;
    if (fstat(f->fd, &st) == 0 && st.st_nlink == 0) {
        f->state = F_DELETED;
        return;
    }
    f->state = F_ROTATED;
    if (list_siblings(f->t, f->group, &sib) == 0) {
        for (i = 0; i < sib.n; i++) {
            if (sib.v[i].dev == f->dev && sib.v[i].ino == f->ino) {
                file_set_path(f, sib.v[i].path);
                break;
            }
        }
    }
    cands_release(&sib);
}

static void watch_dir(struct slt_tail *t, const char *dir);

/* Is x a copy of a file we follow (same first bytes)? Then it is not a new history file. */
static int is_copy_of_followed(struct slt_tail *t, struct cand *x)
{
    struct slt_tail_file *f;
    struct slt_tail_pos want;

    memset(&want, 0, sizeof(want));
    for (f = t->files; f; f = f->next) {
        if (f->gz || f->fp_len == 0 || f->state == F_DONE)
            continue;
        want.fingerprint = f->fp;
        want.fp_len = f->fp_len;
        if (cand_fp_matches(t, x, &want))
            return 1;
    }
    return 0;
}

/* The grave of a closed file that x is (same inode, same first bytes), or NULL. */
static struct tail_grave *grave_of(struct slt_tail *t, struct cand *x)
{
    size_t k;

    for (k = 0; k < t->ngraves; k++) {
        struct slt_tail_pos want;

        if (t->graves[k].dev != x->dev || t->graves[k].ino != x->ino)
            continue;
        memset(&want, 0, sizeof(want));
        want.fingerprint = t->graves[k].fp;
        want.fp_len = t->graves[k].fp_len;
        if (cand_fp_matches(t, x, &want))
            return &t->graves[k];
    }
    return NULL;
}

/* The newest file at g's path, if one is followed there. */
static struct slt_tail_file *active_of(struct slt_tail *t, struct tail_group *g)
{
    struct slt_tail_file *f, *active = NULL;

    for (f = t->files; f; f = f->next)
        if (f->g == g && f->state == F_ACTIVE)
            active = f;
    return active;
}

/*
 * The file at g's path has not shown us a byte yet: a copytruncate now would leave its lines
 * only in a copy we cannot recognize (we have no first bytes to compare). Any new sibling is
 * then taken for such a copy.
 */
static int unread_active(struct slt_tail *t, struct tail_group *g)
{
    struct slt_tail_file *f = active_of(t, g);

    return f && f->offset == 0 && f->read_off == 0 && f->fp_len == 0;
}

/*
 * The file at g's path showed its first bytes only after g's last listing (it was empty when
 * followed): a copytruncate before its first read left bytes we never saw in a sibling new
 * since that listing, and the truncation itself left no trace (no offset, no first bytes to
 * lose). Seen at 15 ms rotations: a file made by a rename rotation, written, copytruncated
 * and written again before its first read. Such siblings are adopted, except ones that may
 * still be written (empty, or changed within 200 ms): they are judged again at the next
 * scan (young_hold), so a copytruncate copy is never taken while it is being made.
 */
static int young_active(struct slt_tail *t, struct tail_group *g)
{
    struct slt_tail_file *f = active_of(t, g);

    return f && f->truncations == 0 && f->first_bytes_ns &&
           (g->young_hold || f->first_bytes_ns >= g->sib_ns - TAIL_LISTED_SLACK_NS);
}

/* Follows sibling x again from `from`, before the file at the path. */
static void adopt(struct slt_tail *t, struct tail_group *g, struct cand *x, uint64_t from,
                  int skipping, const char *why)
{
    struct slt_tail_file *nf;
    struct stat st;
    /* another file at its name now is not this one from `from`: groups_update keeps the old
       snapshot, so the next scan looks again */
    int fd = cand_open(t, x, &st);

    if (fd < 0)
        return;
    if (file_add(t, fd, &st, x->path, g->path, 0, F_ROTATED, active_of(t, g), &nf) == 0) {
        nf->offset = nf->read_off = from;
        nf->skipping = skipping;
        slt_log(SLT_LOG_INFO, "tail", "'%s' %s; reading it from %llu", x->path, why,
                (unsigned long long)from);
    }
}

/* A file we closed (rotate_wait over) that grew since: a late writer. Read on from there. */
static void resume_graves(struct slt_tail *t, struct tail_group *g, struct cands *cur)
{
    size_t i;

    for (i = 0; i < cur->n && t->ngraves; i++) {
        struct cand *x = &cur->v[i];
        struct tail_grave *gr;

        if (x->gz || find_by_id(t, x->dev, x->ino))
            continue;
        gr = grave_of(t, x);
        if (!gr || x->size <= gr->offset)
            continue;
        adopt(t, g, x, gr->offset, gr->skipping, "grew after it was closed");
        memset(gr, 0, sizeof(*gr)); /* its next close makes a new one */
    }
}

/*
 * After a rotation or truncation of g's path (or while its file is unread): siblings that were
 * not there at the previous scan, that we do not follow and that are no copy of what we follow
 * lived at the path between two scans (rotated again before we looked), or are a copy of bytes
 * we never saw. Read them from 0, before the file at the path.
 */
static void adopt_intermediates(struct slt_tail *t, struct tail_group *g, struct cands *cur,
                                int young)
{
    size_t i, k;
    int64_t now_ns = wall_ns();

    g->young_hold = 0;

    for (i = 0; i < cur->n; i++) {
        struct cand *x = &cur->v[i];

        if (x->gz || find_by_id(t, x->dev, x->ino))
            continue;
        for (k = 0; k < g->nsib; k++)
            if (g->sib[k].dev == x->dev && g->sib[k].ino == x->ino &&
                g->sib[k].mtime_ns == x->mtime_ns)
                break;
        if (k < g->nsib)
            continue; /* was there, unchanged */
        /*
         * Not listed last time, yet unchanged since: it was there under another name and the
         * listing missed it (a rotation renamed it while the names were read and stat'ed). A
         * file that was at the path after that listing was written after it.
         */
        if (x->mtime_ns < g->sib_ns - TAIL_LISTED_SLACK_NS)
            continue;
        if (young && (x->size == 0 || x->mtime_ns > now_ns - 2 * TAIL_LISTED_SLACK_NS)) {
            /* maybe a copy still being written: judged again at the next scan */
            x->moved = 1;
            g->young_hold = 1;
            continue;
        }
        if (grave_of(t, x) || is_copy_of_followed(t, x))
            continue; /* ours, read and closed; or a copy of one we follow */
        adopt(t, g, x, 0, 0, "was rotated before it was seen");
    }
}

/* Remembers the newest sibling (or that there is none), for positions. */
static void group_mark(struct slt_tail *t, struct tail_group *g, struct cands *cur)
{
    struct cand *x;
    struct stat st;
    uint64_t fp = 0;
    uint32_t got = 0;
    char *p;
    int fd, rc;

    if (cur->n == 0) {
        g->mark_valid = g->mark_none = 1;
        return;
    }
    x = &cur->v[cur->n - 1];
    if (g->mark_valid && !g->mark_none && g->mark_dev == x->dev && g->mark_ino == x->ino &&
        g->mark_size == x->size && strcmp(g->mark_path, x->path) == 0)
        return;
    fd = cand_open(t, x, &st);
    if (fd == -EAGAIN)
        return; /* renamed while we looked: the old mark stays until the next scan */
    if (fd < 0)
        rc = fd;
    else if (x->gz)
        rc = fp_gz_fd(fd, SLT_TAIL_FP_BYTES, &fp, &got);
    else
        rc = fp_plain(fd, SLT_TAIL_FP_BYTES, &fp, &got);
    if (fd >= 0)
        close(fd);
    p = slt_strdup(x->path);
    if (rc < 0 || !p) {
        slt_free(p);
        g->mark_valid = 0;
        return;
    }
    slt_free(g->mark_path);
    g->mark_path = p;
    g->mark_dev = x->dev;
    g->mark_ino = x->ino;
    g->mark_size = x->size;
    g->mark_fp = fp;
    g->mark_fp_len = got;
    g->mark_gz = x->gz;
    g->mark_none = 0;
    g->mark_valid = 1;
}

/* Takes each history's sibling snapshot (after adopting files rotated between scans). */
static void groups_update(struct slt_tail *t)
{
    struct tail_group *g;
    size_t i;

    for (g = t->groups; g; g = g->next) {
        struct cands cur = {0};
        struct tail_id *v;
        int64_t listed_ns = wall_ns();

        if (list_siblings(t, g->path, &cur) < 0) {
            cands_release(&cur);
            g->valid = 0;
            continue;
        }
        t->moved = 0;
        resume_graves(t, g, &cur);
        if (g->valid && (g->rotated || unread_active(t, g)))
            adopt_intermediates(t, g, &cur, 0);
        else if (g->valid && young_active(t, g))
            adopt_intermediates(t, g, &cur, 1);
        else
            g->young_hold = 0;
        group_mark(t, g, &cur);
        /* a sibling that was renamed while we looked at it was not judged: it stays out of
           the snapshot and the next scan looks at it again as new */
        g->rotated = t->moved;
        t->moved = 0;
        v = slt_realloc(g->sib, (cur.n ? cur.n : 1) * sizeof(*v));
        if (!v) {
            g->valid = 0;
        } else {
            size_t n = 0;

            g->sib = v;
            for (i = 0; i < cur.n; i++) {
                if (cur.v[i].moved)
                    continue;
                v[n].dev = cur.v[i].dev;
                v[n].ino = cur.v[i].ino;
                v[n].mtime_ns = cur.v[i].mtime_ns;
                n++;
            }
            g->nsib = n;
            g->sib_ns = listed_ns;
            g->valid = 1;
        }
        cands_release(&cur);
    }
}

/* Files at the configured paths now: picked up, or matched to what we follow. */
static void scan(struct slt_tail *t)
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
            f = find_by_id(t, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
            if (f) {
                /* known by identity; renamed back or onto another configured path */
                if (f->state == F_ROTATED) {
                    f->state = F_ACTIVE;
                    f->eof_since_ms = 0;
                }
                if (f->state == F_ACTIVE && strcmp(f->path, path) != 0 &&
                    file_set_group(f, path) == 0)
                    file_set_path(f, path);
                if (f->state == F_ACTIVE)
                    f->seen = 1;
                continue;
            }
            fd = open_regular(path, &st);
            if (fd < 0)
                continue;
            /* appeared while we run: every line of it is new */
            if (file_add(t, fd, &st, path, path, 0, F_ACTIVE, NULL, &f) == 0) {
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
            file_moved(f);
        file_check(f);
        if ((f->state == F_ROTATED || f->state == F_DELETED) && f->drained && !f->want_read &&
            f->eof_since_ms && now - f->eof_since_ms >= t->rotate_wait_ms)
            f->state = F_DONE;
        if (f->state == F_ACTIVE && !f->watched) {
            char *dir = NULL, *base = NULL;

            if (real_dir_base(f->path, &dir, &base) == 0)
                watch_dir(t, dir);
            slt_free(dir);
            slt_free(base);
            f->watched = 1;
        }
    }
    groups_update(t);
    dc_clear(t); /* no listing outlives its scan (nor its memory) */
    kick(t);
}

/* ---- watching ---- */

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
    kick(t);
}

static void on_handle_closed(uv_handle_t *h);

static void watch_dir(struct slt_tail *t, const char *dir)
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

static void on_timer(uv_timer_t *h)
{
    struct slt_tail *t = h->data;

    t->need_scan = 1;
    kick(t);
    if (t->idle_on)
        return;
    /* paused: still notice rotations so nothing is lost, but deliver nothing */
    scan(t);
}

/* ---- startup: restore, backfill, first positions ---- */

static int restore_matches_path(const struct slt_tail_pos *restore, size_t nrestore,
                                const char *path)
{
    size_t i;

    for (i = 0; i < nrestore; i++)
        if (strncmp(restore[i].path, path, sizeof(restore[i].path)) == 0)
            return 1;
    return 0;
}

/* Match restore positions to candidates by (dev, ino); then unmatched ones by fingerprint. */
static int match_restore(struct slt_tail *t, struct cands *c, const struct slt_tail_pos *restore,
                         size_t nrestore, unsigned char *used)
{
    size_t i, k;
    int m;

    /* marks only say where a history stood; they are matched in match_marks() */
    /* first: same inode and same first bytes: the file itself */
    for (k = 0; k < nrestore; k++) {
        for (i = 0; i < c->n && !used[k]; i++) {
            if (c->v[i].r || c->v[i].dev != restore[k].dev || c->v[i].ino != restore[k].ino ||
                (restore[k].flags & SLT_TAIL_POS_MARK))
                continue;
            if (((restore[k].flags & SLT_TAIL_POS_GZ) != 0) != c->v[i].gz)
                continue;
            m = cand_fp_check(t, &c->v[i], &restore[k]);
            if (m < 0)
                return m;
            if (!m)
                continue;
            c->v[i].r = &restore[k];
            used[k] = 1;
        }
    }
    /*
     * Not found by inode: the rotated file may have been compressed while we were down
     * (access.log.1 -> access.log.1.gz, a new inode). Its decoded first bytes still match.
     */
    for (k = 0; k < nrestore; k++) {
        if (used[k] || restore[k].fp_len == 0 || (restore[k].flags & SLT_TAIL_POS_DONE))
            continue;
        for (i = 0; i < c->n; i++) {
            if (c->v[i].r || !c->v[i].gz)
                continue;
            m = cand_fp_check(t, &c->v[i], &restore[k]);
            if (m < 0)
                return m;
            if (!m)
                continue;
            c->v[i].r = &restore[k];
            used[k] = 1;
            break;
        }
    }
    /*
     * Last, same inode with other first bytes: truncated and rewritten, or the inode was
     * reused by a new file. Either way it is read from 0 and counted as a truncation.
     */
    for (k = 0; k < nrestore; k++) {
        for (i = 0; i < c->n && !used[k]; i++) {
            if (c->v[i].r || c->v[i].gz ||
                (restore[k].flags & (SLT_TAIL_POS_GZ | SLT_TAIL_POS_MARK)) ||
                c->v[i].dev != restore[k].dev || c->v[i].ino != restore[k].ino)
                continue;
            c->v[i].r = &restore[k];
            used[k] = 1;
        }
    }
    return 0;
}

/*
 * Finds the marks (newest sibling at the checkpoint) among the candidates: by inode and first
 * bytes, or, compressed since, by decoded first bytes. *none is set when the checkpoint saw no
 * sibling of this path at all.
 */
static int match_marks(struct slt_tail *t, struct cands *c, const char *group,
                       const struct slt_tail_pos *restore, size_t nrestore, int *none)
{
    size_t i, k;
    int m;

    *none = 0;
    for (k = 0; k < nrestore; k++) {
        const struct slt_tail_pos *r = &restore[k];

        if (!(r->flags & SLT_TAIL_POS_MARK))
            continue;
        if (r->ino == 0 && r->dev == 0) {
            if (strncmp(r->path, group, sizeof(r->path)) == 0)
                *none = 1;
            continue;
        }
        for (i = 0; i < c->n; i++) {
            int same_inode = c->v[i].dev == r->dev && c->v[i].ino == r->ino &&
                             c->v[i].gz == ((r->flags & SLT_TAIL_POS_GZ) != 0);

            if (!same_inode && !(c->v[i].gz && r->fp_len > 0))
                continue;
            m = cand_fp_check(t, &c->v[i], r);
            if (m < 0)
                return m;
            if (m) {
                c->v[i].mark = 1;
                break;
            }
        }
    }
    return 0;
}

/* Does x hold the first bytes of a restored file (a copy of it)? 1, 0 or SLT_ENOMEM. */
static int is_copy_of_restored(struct slt_tail *t, struct cand *x,
                               const struct slt_tail_pos *restore, size_t nrestore)
{
    size_t k;
    int m;

    for (k = 0; k < nrestore; k++) {
        if (restore[k].fp_len == 0 || (restore[k].flags & SLT_TAIL_POS_MARK))
            continue;
        m = cand_fp_check(t, x, &restore[k]);
        if (m != 0)
            return m;
    }
    return 0;
}

/* Opens one candidate at startup and places it. Only running out of memory is an error. */
static int start_cand(struct slt_tail *t, struct cand *x, const char *group, int active,
                      int backfill, int known)
{
    struct slt_tail_file *f;
    const struct slt_tail_pos *r = x->r;
    struct stat st;
    int fd, rc;

    if (find_by_id(t, x->dev, x->ino))
        return 0;
    if (!r && !active && !backfill)
        return 0;
    if (r && (r->flags & SLT_TAIL_POS_DONE))
        return 0;
    /* the file listed, or none: x->r was matched to it, not to what is at its name now */
    fd = cand_open(t, x, &st);
    if (fd == -EMFILE || fd == -ENFILE || fd == -EACCES) {
        t->errors++;
        slt_log(SLT_LOG_WARN, "tail", "cannot open '%s': %s", x->path, slt_strerror(fd));
        return 0;
    }
    if (fd < 0)
        return 0; /* gone or not a file: nothing to read */
    rc = file_add(t, fd, &st, x->path, group, x->gz, active ? F_ACTIVE : F_ROTATED, NULL, &f);
    if (rc < 0)
        return rc == SLT_ENOMEM ? rc : 0;
    if (r) {
        int same = 1;

        if (x->dev == r->dev && x->ino == r->ino && !x->gz) {
            uint64_t fp = 0;
            uint32_t got = 0;

            /* from the fd we follow, never by name again */
            same = (f->size >= r->offset || reaches(f->fd, r->offset)) &&
                   (r->fp_len == 0 || (fp_plain(f->fd, r->fp_len, &fp, &got) == 0 &&
                                       got == r->fp_len && fp == r->fingerprint));
        }
        if (same) {
            file_resume(f, r);
        } else {
            /* same inode, other content: reused inode or truncated and rewritten */
            f->offset = r->offset;
            f->read_off = r->offset;
            f->fp = r->fingerprint;
            f->fp_len = r->fp_len;
            file_truncated(f);
            fp_plain(f->fd, SLT_TAIL_FP_BYTES, &f->fp, &f->fp_len);
        }
    } else if (active && !t->read_from_beginning && !known) {
        /* known: the path was followed at the checkpoint, so this file is new since */
        file_start_at_end(f);
    }
    return 0;
}

/*
 * Is the directory still as c listed it (the same names with the same identities, the file at
 * the path included)? A listing reads names, then stats them one by one: a rotation during
 * it, or while its files were opened, leaves it out of step with the files. Sets t->moved
 * when not. Only running out of memory is an error.
 */
static int cands_still(struct slt_tail *t, const char *path, const struct cands *c)
{
    struct cands now = {0};
    struct stat st;
    size_t i, j;
    int rc;

    t->dc_valid = 0; /* read the directory again */
    rc = list_siblings(t, path, &now);
    if (rc == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode))
        rc = cands_push(&now, path, &st);
    if (rc < 0) {
        cands_release(&now);
        return rc;
    }
    if (now.n != c->n) {
        t->moved = 1;
    } else {
        for (i = 0; i < now.n && !t->moved; i++) {
            for (j = 0; j < c->n; j++)
                if (c->v[j].dev == now.v[i].dev && c->v[j].ino == now.v[i].ino &&
                    strcmp(c->v[j].path, now.v[i].path) == 0)
                    break;
            if (j == c->n)
                t->moved = 1;
        }
    }
    cands_release(&now);
    return 0;
}

static int initial_scan(struct slt_tail *t, const struct slt_tail_pos *restore, size_t nrestore,
                        int restarted)
{
    char **groups = NULL;
    size_t ngroups = 0, i, j, k;
    unsigned char *used = NULL;
    int backfill = t->read_from_beginning && !restarted;
    int rc = 0;

    t->dc_valid = 0;
    /* histories: every file a pattern matches, plain paths even when missing, and the paths
       of restored files that a pattern matches (their file may be gone, its siblings not) */
    for (i = 0; i < t->npatterns && rc == 0; i++) {
        glob_t g;
        size_t n = 0;
        char **v = NULL;

        memset(&g, 0, sizeof(g));
        if (glob(t->patterns[i], 0, NULL, &g) == 0) {
            v = g.gl_pathv;
            n = g.gl_pathc;
        }
        for (j = 0; j <= n + nrestore && rc == 0; j++) {
            const char *p;
            char **ng;

            if (j < n) {
                p = v[j];
                if (has_suffix(p, ".gz"))
                    continue;
            } else if (j == n) {
                if (has_glob_chars(t->patterns[i]))
                    continue;
                p = t->patterns[i];
            } else {
                p = restore[j - n - 1].path;
                if (fnmatch(t->patterns[i], p, FNM_PATHNAME) != 0 || has_suffix(p, ".gz"))
                    continue;
            }
            for (k = 0; k < ngroups; k++)
                if (strcmp(groups[k], p) == 0)
                    break;
            if (k < ngroups)
                continue;
            ng = slt_realloc(groups, (ngroups + 1) * sizeof(*groups));
            if (!ng) {
                rc = SLT_ENOMEM;
                break;
            }
            groups = ng;
            groups[ngroups] = slt_strdup(p);
            if (!groups[ngroups]) {
                rc = SLT_ENOMEM;
                break;
            }
            ngroups++;
        }
        globfree(&g);
    }
    if (rc < 0)
        goto out;
    used = slt_calloc(nrestore ? nrestore : 1, 1);
    if (!used) {
        rc = SLT_ENOMEM;
        goto out;
    }
    for (i = 0; i < ngroups; i++) {
        struct cands c = {0};
        struct stat st;
        size_t active_at, newer_from;
        struct slt_tail_pos live;
        int none;

        rc = list_siblings(t, groups[i], &c);
        if (rc == 0 && stat(groups[i], &st) == 0 && S_ISREG(st.st_mode))
            rc = cands_push(&c, groups[i], &st);
        if (rc < 0) {
            cands_release(&c);
            goto out;
        }
        active_at = (c.n > 0 && strcmp(c.v[c.n - 1].path, groups[i]) == 0) ? c.n - 1 : c.n;
        /* a sibling that a pattern itself matches is followed as its own file */
        for (j = 0; j < active_at; j++) {
            for (k = 0; k < t->npatterns; k++)
                if (fnmatch(t->patterns[k], c.v[j].path, FNM_PATHNAME) == 0 && !c.v[j].gz)
                    c.v[j].num = -2;
        }
        rc = match_restore(t, &c, restore, nrestore, used);
        if (rc < 0) {
            cands_release(&c);
            goto out;
        }
        /*
         * A file that was at the path at the checkpoint and is a rotated sibling now: every
         * sibling newer than it that no position describes came after the checkpoint (it was
         * created, written and rotated while we were down). Read those from 0.
         */
        rc = match_marks(t, &c, groups[i], restore, nrestore, &none);
        if (rc < 0) {
            cands_release(&c);
            goto out;
        }
        newer_from = none ? 0 : c.n;
        /* the first bytes of the file at the path now: a sibling that has them is a copy */
        memset(&live, 0, sizeof(live));
        if (active_at < c.n && c.v[active_at].size > 0) {
            int lfd = cand_open(t, &c.v[active_at], &st);

            if (lfd >= 0) {
                if (fp_plain(lfd, SLT_TAIL_FP_BYTES, &live.fingerprint, &live.fp_len) < 0)
                    live.fp_len = 0;
                close(lfd);
            }
        }
        for (j = 0; j < active_at; j++)
            if (c.v[j].mark ||
                (c.v[j].r && strncmp(c.v[j].r->path, groups[i], sizeof(c.v[j].r->path)) == 0))
                newer_from = j + 1;
        for (j = 0; j < c.n; j++) {
            int after = 0;

            if (j < active_at && c.v[j].num == -2)
                continue;
            if (restarted && j >= newer_from && j < active_at && !c.v[j].r) {
                /* came while we were down, unless it is a copy of a restored file (the
                   copytruncate search reads that one from the right offset) */
                after = is_copy_of_restored(t, &c.v[j], restore, nrestore);
                if (after == 0 && live.fp_len > 0)
                    after = cand_fp_check(t, &c.v[j], &live);
                if (after < 0) {
                    rc = after;
                    break;
                }
                after = !after;
            }
            rc = start_cand(t, &c.v[j], groups[i], j == active_at, backfill || after,
                            restarted && (none || newer_from < c.n ||
                                          restore_matches_path(restore, nrestore, groups[i])));
            if (rc < 0)
                break;
        }
        if (rc == 0 && t->scan_retry && !t->moved)
            rc = cands_still(t, groups[i], &c);
        cands_release(&c);
        if (rc < 0)
            goto out;
        if (t->moved && t->scan_retry)
            break; /* redone from the start: the rest would be dropped */
    }
    if (t->moved && t->scan_retry) {
        rc = -EAGAIN; /* files were renamed while we matched them: the caller starts over */
        goto out;
    }
    for (k = 0; k < nrestore; k++)
        if (!used[k] && !(restore[k].flags & SLT_TAIL_POS_DONE))
            slt_log(SLT_LOG_INFO, "tail", "checkpointed file '%.256s' is gone", restore[k].path);
out:
    for (i = 0; i < ngroups; i++)
        slt_free(groups[i]);
    slt_free(groups);
    slt_free(used);
    return rc;
}

/* ---- public ---- */

static void tail_free(struct slt_tail *t)
{
    struct slt_tail_file *f, *next;
    size_t i;

    for (f = t->files; f; f = next) {
        next = f->next;
        file_free(f);
    }
    slt_free(t->hbuckets);
    for (i = 0; t->held && i < t->npatterns; i++)
        group_unref(t, t->held[i]);
    slt_free(t->held);
    for (i = 0; i < t->npatterns; i++)
        slt_free(t->patterns[i]);
    slt_free(t->patterns);
    dc_clear(t);
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
        t->held[i] = group_ref(t, t->patterns[i]);
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
            rc = initial_scan(t, copy, nrestore, 1);
            slt_free(copy);
        } else {
            rc = initial_scan(t, NULL, 0, restore != NULL);
        }
        if (rc != -EAGAIN)
            break;
        while (t->files) {
            f = t->files;
            t->files = f->next;
            file_free(f);
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
    groups_update(t);
    dc_clear(t);
    uv_timer_start(&t->timer, on_timer, (uint64_t)t->poll_ms, (uint64_t)t->poll_ms);
    for (i = 0; i < t->npatterns; i++) {
        char *slash = strrchr(t->patterns[i], '/');
        char *dir =
            slash ? slt_strndup(t->patterns[i],
                                slash == t->patterns[i] ? 1 : (size_t)(slash - t->patterns[i]))
                  : slt_strdup(".");

        if (dir && !has_glob_chars(dir))
            watch_dir(t, dir);
        slt_free(dir);
    }
    for (f = t->files; f; f = f->next) {
        char *dir = NULL, *base = NULL;

        if (f->state == F_ACTIVE && real_dir_base(f->path, &dir, &base) == 0)
            watch_dir(t, dir);
        slt_free(dir);
        slt_free(base);
    }
    kick(t);
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
    kick(t);
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
        file_close_fd(f);
    t->pending_closes = 2 + (int)t->nwatches;
    uv_close((uv_handle_t *)&t->timer, on_handle_closed);
    uv_close((uv_handle_t *)&t->idle, on_handle_closed);
    for (i = 0; i < t->nwatches; i++)
        uv_close((uv_handle_t *)&t->watches[i]->h, on_handle_closed);
    t->nwatches = 0;
}
