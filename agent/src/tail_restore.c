/*
 * The tailer's first scan: restore positions matched to files (by inode, fingerprint, or the
 * decoded fingerprint of a file compressed while the agent was down), backfill at first start,
 * files that came while the agent was down, and where reading starts for the rest.
 */
#include "tail_internal.h"

#include <errno.h>
#include <fnmatch.h>
#include <glob.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "slt/common.h"

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
            m = slt__tail_cand_fp_check(t, &c->v[i], &restore[k]);
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
            m = slt__tail_cand_fp_check(t, &c->v[i], &restore[k]);
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
            m = slt__tail_cand_fp_check(t, &c->v[i], r);
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
        m = slt__tail_cand_fp_check(t, x, &restore[k]);
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

    if (slt__tail_find_by_id(t, x->dev, x->ino))
        return 0;
    if (!r && !active && !backfill)
        return 0;
    if (r && (r->flags & SLT_TAIL_POS_DONE))
        return 0;
    /* the file listed, or none: x->r was matched to it, not to what is at its name now */
    fd = slt__tail_cand_open(t, x, &st);
    if (fd == -EMFILE || fd == -ENFILE || fd == -EACCES) {
        t->errors++;
        slt_log(SLT_LOG_WARN, "tail", "cannot open '%s': %s", x->path, slt_strerror(fd));
        return 0;
    }
    if (fd < 0)
        return 0; /* gone or not a file: nothing to read */
    rc = slt__tail_file_add(t, fd, &st, x->path, group, x->gz, active ? F_ACTIVE : F_ROTATED, NULL,
                            &f);
    if (rc < 0)
        return rc == SLT_ENOMEM ? rc : 0;
    if (r) {
        int same = 1;

        if (x->dev == r->dev && x->ino == r->ino && !x->gz) {
            uint64_t fp = 0;
            uint32_t got = 0;

            /* from the fd we follow, never by name again */
            same = (f->size >= r->offset || slt__tail_reaches(f->fd, r->offset)) &&
                   (r->fp_len == 0 || (slt__tail_fp_plain(f->fd, r->fp_len, &fp, &got) == 0 &&
                                       got == r->fp_len && fp == r->fingerprint));
        }
        if (same) {
            slt__tail_file_resume(f, r);
        } else {
            /* same inode, other content: reused inode or truncated and rewritten */
            f->offset = r->offset;
            f->read_off = r->offset;
            f->fp = r->fingerprint;
            f->fp_len = r->fp_len;
            slt__tail_file_truncated(f);
            slt__tail_fp_plain(f->fd, SLT_TAIL_FP_BYTES, &f->fp, &f->fp_len);
        }
    } else if (active && !t->read_from_beginning && !known) {
        /* known: the path was followed at the checkpoint, so this file is new since */
        slt__tail_file_start_at_end(f);
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
    rc = slt__tail_list_siblings(t, path, &now);
    if (rc == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode))
        rc = slt__tail_cands_push(&now, path, &st);
    if (rc < 0) {
        slt__tail_cands_release(&now);
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
    slt__tail_cands_release(&now);
    return 0;
}

int slt__tail_initial_scan(struct slt_tail *t, const struct slt_tail_pos *restore, size_t nrestore,
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

        rc = slt__tail_list_siblings(t, groups[i], &c);
        if (rc == 0 && stat(groups[i], &st) == 0 && S_ISREG(st.st_mode))
            rc = slt__tail_cands_push(&c, groups[i], &st);
        if (rc < 0) {
            slt__tail_cands_release(&c);
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
            slt__tail_cands_release(&c);
            goto out;
        }
        /*
         * A file that was at the path at the checkpoint and is a rotated sibling now: every
         * sibling newer than it that no position describes came after the checkpoint (it was
         * created, written and rotated while we were down). Read those from 0.
         */
        rc = match_marks(t, &c, groups[i], restore, nrestore, &none);
        if (rc < 0) {
            slt__tail_cands_release(&c);
            goto out;
        }
        newer_from = none ? 0 : c.n;
        /* the first bytes of the file at the path now: a sibling that has them is a copy */
        memset(&live, 0, sizeof(live));
        if (active_at < c.n && c.v[active_at].size > 0) {
            int lfd = slt__tail_cand_open(t, &c.v[active_at], &st);

            if (lfd >= 0) {
                if (slt__tail_fp_plain(lfd, SLT_TAIL_FP_BYTES, &live.fingerprint, &live.fp_len) < 0)
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
                    after = slt__tail_cand_fp_check(t, &c.v[j], &live);
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
        slt__tail_cands_release(&c);
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
