/*
 * The tailer's file record: identity (dev, ino, fingerprint of the first bytes), its history,
 * reading and delivering lines, and truncation (with the search for a copytruncate copy).
 */
#include "tail_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "gz.h"
#include "slt/common.h"

/* ---- identity: opening and fingerprints ---- */

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

int slt__tail_open_regular(const char *path, struct stat *st)
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
int slt__tail_fp_plain(int fd, uint32_t want, uint64_t *fp, uint32_t *got)
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
int slt__tail_fp_gz_fd(int fd, uint32_t want, uint64_t *fp, uint32_t *got)
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

struct slt_tail_file *slt__tail_find_by_id(struct slt_tail *t, uint64_t dev, uint64_t ino)
{
    struct slt_tail_file *f;

    for (f = t->files; f; f = f->next)
        if (f->dev == dev && f->ino == ino && f->state != F_DONE)
            return f;
    return NULL;
}

/* ---- files ---- */

struct tail_group *slt__tail_group_ref(struct slt_tail *t, const char *path)
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

void slt__tail_group_unref(struct slt_tail *t, struct tail_group *g)
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
    slt_free(g->held);
    slt_free(g->mark_path);
    slt_free(g->path);
    slt_free(g);
}

/* Moves a file to another history (it was renamed onto another configured path). */
int slt__tail_file_set_group(struct slt_tail_file *f, const char *path)
{
    struct tail_group *g = slt__tail_group_ref(f->t, path);
    char *ng = slt_strdup(path);

    if (!g || !ng) {
        slt__tail_group_unref(f->t, g);
        slt_free(ng);
        return SLT_ENOMEM;
    }
    slt__tail_group_unref(f->t, f->g);
    slt_free(f->group);
    f->g = g;
    f->group = ng;
    return 0;
}

/* The fd only: buf may still be in use by deliver_lines when we close from on_line. */
void slt__tail_file_close_fd(struct slt_tail_file *f)
{
    slt_gz_free(f->gzs);
    f->gzs = NULL;
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

/* Where the file is now; its name as inotify reports it (the symlink target's name). */
void slt__tail_file_set_path(struct slt_tail_file *f, const char *path)
{
    char *p = slt_strdup(path), *dir = NULL, *base = NULL;

    if (!p)
        return;
    slt_free(f->path);
    f->path = p;
    f->watched = 0;
    f->t->hdirty = 1;
    if (slt__tail_real_dir_base(path, &dir, &base) == 0) {
        slt_free(f->name);
        f->name = base;
        slt_free(dir);
    }
}

void slt__tail_file_free(struct slt_tail_file *f)
{
    if (!f)
        return;
    slt__tail_file_close_fd(f);
    slt_free(f->buf);
    slt_free(f->name);
    slt_free(f->path);
    slt_free(f->group);
    slt__tail_group_unref(f->t, f->g);
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
int slt__tail_file_add(struct slt_tail *t, int fd, const struct stat *st, const char *path,
                       const char *group, int gz, enum tail_state state,
                       struct slt_tail_file *before, struct slt_tail_file **out)
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
    slt__tail_file_set_path(f, path);
    f->group = slt_strdup(group);
    f->g = slt__tail_group_ref(t, group);
    if (!f->path || !f->name || !f->group || !f->g) {
        slt__tail_file_free(f);
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
        rc = slt__tail_fp_gz_fd(fd, SLT_TAIL_FP_BYTES, &f->fp, &f->fp_len);
        if (rc == 0 && lseek(fd, 0, SEEK_SET) < 0)
            rc = -errno;
    } else {
        rc = slt__tail_fp_plain(fd, SLT_TAIL_FP_BYTES, &f->fp, &f->fp_len);
    }
    if (rc < 0) {
        slt__tail_file_free(f);
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
void slt__tail_file_start_at_end(struct slt_tail_file *f)
{
    char c = '\n';

    f->offset = f->read_off = f->size;
    if (f->size > 0 && pread_full(f->fd, &c, 1, f->size - 1) == 1 && c != '\n')
        f->skipping = 1;
}

/* Where to start reading: a restored position or 0. Same-inode mismatch counts as truncation. */
void slt__tail_file_resume(struct slt_tail_file *f, const struct slt_tail_pos *r)
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
    if (slt__tail_list_siblings(t, f->group, &sib) < 0)
        goto out;
    for (gz = 0; gz < 2; gz++) {
        for (i = 0; i < sib.n; i++) {
            struct cand *x = &sib.v[i];
            struct stat st;
            int fd;

            /* the decoded size of a .gz is unknown without decoding it: not checked */
            if (x->gz != gz || (!gz && x->size < f->offset) ||
                slt__tail_find_by_id(t, x->dev, x->ino) || !slt__tail_cand_fp_matches(t, x, &want))
                continue;
            /* the file listed, not another renamed onto its name since (the next scan's
               intermediates search looks again) */
            fd = slt__tail_cand_open(t, x, &st);
            if (fd < 0)
                continue;
            if (slt__tail_file_add(t, fd, &st, x->path, f->group, gz, F_ROTATED, f, &c) == 0) {
                struct slt_tail_pos at;

                memset(&at, 0, sizeof(at));
                at.offset = f->offset;
                at.flags = f->skipping ? SLT_TAIL_POS_SKIP : 0;
                slt__tail_file_resume(c, &at);
                slt_log(SLT_LOG_INFO, "tail", "'%s' was truncated; reading its copy '%s' from %llu",
                        f->path, x->path, (unsigned long long)f->offset);
            }
            goto out;
        }
    }
    {
        /* no copy now: a later scan that finds it reads it from offset (tail_group.cuts) */
        struct tail_cut *cut = &f->g->cuts[f->g->cut_next];

        f->g->cut_next = (f->g->cut_next + 1) % TAIL_CUTS;
        cut->fp = f->fp;
        cut->fp_len = f->fp_len;
        cut->offset = f->offset;
        cut->skipping = f->skipping;
        cut->since_ns = wall_ns();
    }
out:
    slt__tail_cands_release(&sib);
}

/*
 * Whether the file still has the byte just before off. A size below our offset usually means a
 * truncation, but procfs reports 0 and NFS with a stale attribute cache an old size while the
 * bytes are there: a truncation is believed only when a read agrees (else the same bytes would
 * be read again and again as a new file).
 */
int slt__tail_reaches(int fd, uint64_t off)
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

/* Size below the read offset: truncated, or a size that cannot be trusted (see
 * slt__tail_reaches()). */
static int shrunk(struct slt_tail_file *f, uint64_t size)
{
    if (size >= f->read_off)
        return 0;
    if (!slt__tail_reaches(f->fd, f->read_off))
        return 1;
    if (!f->size_lies++)
        slt_log(SLT_LOG_WARN, "tail",
                "'%s' reports a size (%llu) below bytes it has (%llu): its size is not trusted "
                "(procfs, or NFS with a stale attribute cache?)",
                f->path, (unsigned long long)size, (unsigned long long)f->read_off);
    return 0;
}

void slt__tail_file_truncated(struct slt_tail_file *f)
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
void slt__tail_file_check(struct slt_tail_file *f)
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
        slt__tail_file_truncated(f);
    } else if (f->fp_len > 0 && slt__tail_fp_plain(f->fd, f->fp_len, &fp, &got) == 0 &&
               (got != f->fp_len || fp != f->fp)) {
        /* rewritten in place past our offset before we looked */
        slt__tail_file_truncated(f);
    }
    if (f->fp_len < SLT_TAIL_FP_BYTES && f->size > f->fp_len &&
        slt__tail_fp_plain(f->fd, SLT_TAIL_FP_BYTES, &fp, &got) == 0) {
        if (f->fp_len == 0 && got > 0)
            f->first_bytes_ns = wall_ns();
        f->fp = fp;
        f->fp_len = got;
    }
    if (f->size > f->read_off)
        f->want_read = 1;
}

/* ---- reading ---- */

int slt__tail_may_read(const struct slt_tail_file *f)
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
        slt__tail_kick(t);
        return;
    }
    if (f->state == F_ROTATED || f->state == F_DELETED) {
        if (!f->drained)
            slt__tail_kick(t); /* a newer file may be waiting for this one */
        f->drained = 1;
        /* closed by slt__tail_scan() after rotate_wait without growth: a writer that has not
           reopened yet may still append, to a deleted file too */
        if (!f->eof_since_ms)
            f->eof_since_ms = (int64_t)uv_now(t->loop);
    }
}

void slt__tail_file_read(struct slt_tail_file *f)
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
                slt__tail_kick(t);
            }
            f->want_read = 0;
            return;
        }
        if (n == 0) {
            struct stat st;

            /* truncated in place: notice now rather than at the next poll */
            if (!f->gz && fstat(f->fd, &st) == 0 && shrunk(f, (uint64_t)st.st_size)) {
                t->dc_valid = 0;
                slt__tail_file_truncated(f);
                if (!slt__tail_may_read(f))
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
            if (slt__tail_fp_plain(f->fd, f->fp_len, &fp, &got) == 0 &&
                (got != f->fp_len || fp != f->fp)) {
                t->dc_valid = 0;
                slt__tail_file_truncated(f);
                if (!slt__tail_may_read(f))
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

            if (slt__tail_fp_plain(f->fd, SLT_TAIL_FP_BYTES, &fp, &got) == 0) {
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
