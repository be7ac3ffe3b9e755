/*
 * Rotated siblings of a configured path (listed by name, opened and checked by identity), and
 * rotation as a scan sees it: where a file went, files rotated before they were seen, closed
 * files that grew again, and each history's sibling snapshot and POS_MARK.
 */
#include "tail_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "slt/common.h"

/* ---- siblings: rotated files of a path, oldest first ---- */

void slt__tail_cands_release(struct cands *c)
{
    size_t i;

    for (i = 0; i < c->n; i++)
        slt_free(c->v[i].path);
    slt_free(c->v);
    c->v = NULL;
    c->n = c->cap = 0;
}

int slt__tail_cands_push(struct cands *c, const char *path, const struct stat *st)
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
int slt__tail_real_dir_base(const char *path, char **dir, char **base)
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
void slt__tail_dc_clear(struct slt_tail *t)
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
    slt__tail_dc_clear(t);
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
    slt__tail_dc_clear(t);
    return SLT_ENOMEM;
}

int slt__tail_list_siblings(struct slt_tail *t, const char *path, struct cands *out)
{
    char *dir = NULL, *base = NULL, full[SLT_TAIL_PATH_MAX];
    struct stat st;
    size_t blen, i;
    int all_num = 1, rc;

    rc = slt__tail_real_dir_base(path, &dir, &base);
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
        rc = slt__tail_cands_push(out, full, &st);
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
int slt__tail_cand_open(struct slt_tail *t, struct cand *c, struct stat *st)
{
    int fd = slt__tail_open_regular(c->path, st);

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
int slt__tail_cand_fp_check(struct slt_tail *t, struct cand *c, const struct slt_tail_pos *r)
{
    struct stat st;
    uint64_t fp = 0;
    uint32_t got = 0;
    int fd, rc;

    if (r->fp_len == 0)
        return 1;
    fd = slt__tail_cand_open(t, c, &st);
    if (fd < 0)
        return 0;
    if (c->gz)
        rc = slt__tail_fp_gz_fd(fd, r->fp_len, &fp, &got);
    else
        rc = slt__tail_fp_plain(fd, r->fp_len, &fp, &got);
    close(fd);
    if (rc == SLT_ENOMEM)
        return rc;
    return rc == 0 && got == r->fp_len && fp == r->fingerprint;
}

int slt__tail_cand_fp_matches(struct slt_tail *t, struct cand *c, const struct slt_tail_pos *r)
{
    return slt__tail_cand_fp_check(t, c, r) == 1;
}

/* ---- rotation: what became of each history since the last scan ---- */

/* A file is no longer at its configured path: find where it went (or that it is gone). */
void slt__tail_file_moved(struct slt_tail_file *f)
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
    if (slt__tail_list_siblings(f->t, f->group, &sib) == 0) {
        for (i = 0; i < sib.n; i++) {
            if (sib.v[i].dev == f->dev && sib.v[i].ino == f->ino) {
                slt__tail_file_set_path(f, sib.v[i].path);
                break;
            }
        }
    }
    slt__tail_cands_release(&sib);
}

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
        if (slt__tail_cand_fp_matches(t, x, &want))
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
        if (slt__tail_cand_fp_matches(t, x, &want))
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
 * still be written (empty, or changed within TAIL_SETTLE_NS): they are held and judged again
 * at a later scan, so a copytruncate copy is never taken while it is being made.
 */
static int young_active(struct slt_tail *t, struct tail_group *g)
{
    struct slt_tail_file *f = active_of(t, g);

    return f && f->truncations == 0 && f->first_bytes_ns &&
           f->first_bytes_ns >= g->sib_ns - TAIL_LISTED_SLACK_NS;
}

/*
 * x holds the first bytes that the file at g's path has now while we have not read it: a copy
 * of bytes we are about to read there (its truncation still to come). Taken from 0 it would
 * count them twice; held, it is judged once that file's first bytes are ours (a copy of a
 * followed file), or gone from it (truncated before we read it: x is their only place).
 */
static int copies_unread_active(struct slt_tail *t, struct tail_group *g, struct cand *x)
{
    struct slt_tail_file *f = active_of(t, g);
    struct slt_tail_pos want;

    if (!f || f->fp_len != 0 || f->fd < 0)
        return 0;
    memset(&want, 0, sizeof(want));
    if (slt__tail_fp_plain(f->fd, SLT_TAIL_FP_BYTES, &want.fingerprint, &want.fp_len) < 0 ||
        want.fp_len == 0)
        return 0;
    return slt__tail_cand_fp_matches(t, x, &want);
}

/* The truncation of g's path whose copy x is (see tail_group.cuts), or NULL. */
static struct tail_cut *cut_of(struct slt_tail *t, struct tail_group *g, struct cand *x,
                               int64_t now_ns)
{
    size_t k;

    for (k = 0; k < TAIL_CUTS; k++) {
        struct tail_cut *c = &g->cuts[k];
        struct slt_tail_pos want;

        if (c->fp_len == 0)
            continue;
        if (now_ns - c->since_ns > t->rotate_wait_ms * 1000000) {
            c->fp_len = 0;
            continue;
        }
        if (x->gz || x->size < c->offset)
            continue;
        memset(&want, 0, sizeof(want));
        want.fingerprint = c->fp;
        want.fp_len = c->fp_len;
        if (slt__tail_cand_fp_matches(t, x, &want))
            return c;
    }
    return NULL;
}

/* How long a sibling may be held before it is judged as it is. */
static int64_t hold_max_ns(const struct slt_tail *t)
{
    int64_t half_wait = t->rotate_wait_ms * 500000;

    return half_wait < TAIL_HOLD_MAX_NS ? half_wait : TAIL_HOLD_MAX_NS;
}

static const struct tail_held *held_of(const struct tail_group *g, const struct cand *x)
{
    size_t k;

    for (k = 0; k < g->nheld; k++)
        if (g->held[k].dev == x->dev && g->held[k].ino == x->ino)
            return &g->held[k];
    return NULL;
}

/* Follows sibling x again from `from`, before the file at the path. */
static void adopt(struct slt_tail *t, struct tail_group *g, struct cand *x, uint64_t from,
                  int skipping, const char *why)
{
    struct slt_tail_file *nf;
    struct stat st;
    /* another file at its name now is not this one from `from`: groups_update keeps the old
       snapshot, so the next scan looks again */
    int fd = slt__tail_cand_open(t, x, &st);

    if (fd < 0)
        return;
    if (slt__tail_file_add(t, fd, &st, x->path, g->path, 0, F_ROTATED, active_of(t, g), &nf) == 0) {
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

        if (x->gz || slt__tail_find_by_id(t, x->dev, x->ino))
            continue;
        gr = grave_of(t, x);
        if (!gr || x->size <= gr->offset)
            continue;
        adopt(t, g, x, gr->offset, gr->skipping, "grew after it was closed");
        memset(gr, 0, sizeof(*gr)); /* its next close makes a new one */
    }
}

/*
 * After a rotation or truncation of g's path (or while its file is unread or young, or while
 * siblings are held): siblings that were not there at the previous scan, that we do not follow
 * and that are no copy of what we follow lived at the path between two scans (rotated again
 * before we looked), or are a copy of bytes we never saw. Read them from 0, before the file at
 * the path. One that is empty (a copy just created), or under young_active() changed lately,
 * or a copy of what the unread file at the path holds now, or that was renamed while we judged
 * it, is held: left out of the snapshot and of the mark, and judged again at the next scan.
 */
static int adopt_intermediates(struct slt_tail *t, struct tail_group *g, struct cands *cur,
                               int young)
{
    size_t i, k, nheld = 0;
    int64_t now_ns = wall_ns();
    struct tail_held *held = slt_malloc((cur->n + g->nheld + 1) * sizeof(*held));
    int unlisted = 0;

    for (i = 0; i < cur->n; i++) {
        struct cand *x = &cur->v[i];
        const struct tail_held *h;
        struct tail_cut *cut;

        if (x->gz || slt__tail_find_by_id(t, x->dev, x->ino))
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
         * file that was at the path after that listing was written after it. A held one was
         * new when it was held.
         */
        h = held_of(g, x);
        if (x->mtime_ns < g->sib_ns - TAIL_LISTED_SLACK_NS && !h)
            continue;
        if ((x->size == 0 || ((young || h) && x->mtime_ns > now_ns - TAIL_SETTLE_NS) ||
             copies_unread_active(t, g, x)) &&
            (!h || now_ns - h->since_ns < hold_max_ns(t))) {
            /* maybe a copy still being made: its first bytes cannot be compared yet */
        } else if ((cut = cut_of(t, g, x, now_ns)) != NULL) {
            adopt(t, g, x, cut->offset, cut->skipping, "is the copy of a truncated file");
            if (!x->moved) {
                cut->fp_len = 0;
                continue;
            }
        } else if (grave_of(t, x) || is_copy_of_followed(t, x)) {
            continue; /* ours, read and closed; or a copy of one we follow */
        } else {
            adopt(t, g, x, 0, 0, "was rotated before it was seen");
            if (!x->moved)
                continue;
            /* another file was at its name when opened: judged again at the next scan */
        }
        x->moved = 1; /* out of the snapshot */
        x->held = 1;  /* and not under the mark */
        if (held) {
            held[nheld].dev = x->dev;
            held[nheld].ino = x->ino;
            held[nheld].since_ns = h ? h->since_ns : now_ns;
            nheld++;
        }
    }
    /* a held sibling this listing missed (renamed while the names were read) is still to be
       judged: kept, for a while (it may be gone), and the mark is not moved past it */
    for (k = 0; held && k < g->nheld; k++) {
        for (i = 0; i < cur->n; i++)
            if (cur->v[i].dev == g->held[k].dev && cur->v[i].ino == g->held[k].ino)
                break;
        if (i == cur->n && now_ns - g->held[k].since_ns < hold_max_ns(t) &&
            nheld < TAIL_MAX_SIBLINGS) {
            held[nheld++] = g->held[k];
            unlisted = 1;
        }
    }
    slt_free(g->held);
    g->held = nheld ? held : NULL;
    g->nheld = nheld;
    if (!nheld)
        slt_free(held);
    return unlisted;
}

/*
 * Remembers the newest sibling (or that there is none), for positions: the newest one older
 * than every held sibling, so that after a restart those are newer than the mark and judged
 * again (a held copy of bytes never read is not lost with the agent).
 */
static void group_mark(struct slt_tail *t, struct tail_group *g, struct cands *cur)
{
    struct cand *x;
    struct stat st;
    uint64_t fp = 0;
    uint32_t got = 0;
    char *p;
    size_t n, k;
    int fd, rc;

    for (n = cur->n, k = 0; k < cur->n; k++) {
        if (cur->v[k].held) {
            n = k;
            break;
        }
    }
    if (n == 0) {
        g->mark_valid = g->mark_none = 1;
        return;
    }
    x = &cur->v[n - 1];
    if (g->mark_valid && !g->mark_none && g->mark_dev == x->dev && g->mark_ino == x->ino &&
        g->mark_size == x->size && strcmp(g->mark_path, x->path) == 0)
        return;
    fd = slt__tail_cand_open(t, x, &st);
    if (fd == -EAGAIN)
        return; /* renamed while we looked: the old mark stays until the next scan */
    if (fd < 0)
        rc = fd;
    else if (x->gz)
        rc = slt__tail_fp_gz_fd(fd, SLT_TAIL_FP_BYTES, &fp, &got);
    else
        rc = slt__tail_fp_plain(fd, SLT_TAIL_FP_BYTES, &fp, &got);
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
void slt__tail_groups_update(struct slt_tail *t)
{
    struct tail_group *g;
    size_t i;

    for (g = t->groups; g; g = g->next) {
        struct cands cur = {0};
        struct tail_id *v;
        int64_t listed_ns = wall_ns();
        int unlisted = 0;

        if (slt__tail_list_siblings(t, g->path, &cur) < 0) {
            slt__tail_cands_release(&cur);
            g->valid = 0;
            continue;
        }
        t->moved = 0;
        resume_graves(t, g, &cur);
        if (g->valid && (g->rotated || unread_active(t, g)))
            unlisted = adopt_intermediates(t, g, &cur, 0);
        else if (g->valid && young_active(t, g))
            unlisted = adopt_intermediates(t, g, &cur, 1);
        else if (g->valid && g->nheld)
            unlisted = adopt_intermediates(t, g, &cur, 0);
        if (!unlisted)
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
        slt__tail_cands_release(&cur);
    }
}
