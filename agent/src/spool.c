/* The on-disk spool of closed batches: see spool.h. */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "bytes.h"

#define REC_MAGIC 0x31524c53u /* "SLR1" */
#define REC_HDR 12
#define REC_BODY_FIXED 32 /* epoch, seq, created, frame length, (state length after frame) */
#define REC_MAX (64u << 20)
#define SEG_ID_MAX ((uint64_t)1 << 62) /* ids count up from 1: never reached */

static void seg_path(const struct slt_spool *sp, uint64_t id, char *out, size_t len)
{
    snprintf(out, len, "%s/%020" PRIu64 ".seg", sp->dir, id);
}

static int add_seg(struct slt_spool *sp, uint64_t id, uint64_t bytes)
{
    if (sp->nsegs == sp->segcap) {
        size_t ncap = sp->segcap ? sp->segcap * 2 : 16;
        struct slt_spool_seg *n = slt_realloc(sp->segs, ncap * sizeof(*n));

        if (!n)
            return SLT_ENOMEM;
        sp->segs = n;
        sp->segcap = ncap;
    }
    sp->segs[sp->nsegs].id = id;
    sp->segs[sp->nsegs].bytes = bytes;
    sp->nsegs++;
    return 0;
}

static int add_rec(struct slt_spool *sp, const struct slt_spool_rec *r)
{
    if (sp->nrecs == sp->reccap) {
        size_t live = sp->nrecs - sp->head, ncap;
        struct slt_spool_rec *n;

        /* compact first when at least half of the array is pruned records */
        if (sp->head && sp->head >= live) {
            memmove(sp->recs, sp->recs + sp->head, live * sizeof(*sp->recs));
            sp->head = 0;
            sp->nrecs = live;
        } else {
            ncap = sp->reccap ? sp->reccap * 2 : 64;
            n = slt_realloc(sp->recs, ncap * sizeof(*n));
            if (!n)
                return SLT_ENOMEM;
            sp->recs = n;
            sp->reccap = ncap;
        }
    }
    sp->recs[sp->nrecs++] = *r;
    if (!r->acked) {
        sp->unacked++;
        sp->unacked_bytes += r->rec_len;
    }
    return 0;
}

/* Parses the record at buf[off..len). 1 and *r when valid, 0 when torn or corrupt. */
static int parse_rec(const unsigned char *buf, size_t len, size_t off, struct slt_spool_rec *r)
{
    uint32_t blen, flen, slen;
    const unsigned char *b;

    if (len - off < REC_HDR || slt_get_u32(buf + off) != REC_MAGIC)
        return 0;
    blen = slt_get_u32(buf + off + 4);
    if (blen < REC_BODY_FIXED || blen > REC_MAX || len - off - REC_HDR < blen)
        return 0;
    b = buf + off + REC_HDR;
    if ((uint32_t)crc32(0L, b, blen) != slt_get_u32(buf + off + 8))
        return 0;
    flen = slt_get_u32(b + 24);
    if ((uint64_t)flen + REC_BODY_FIXED > blen)
        return 0;
    slen = slt_get_u32(b + 28 + flen);
    if ((uint64_t)flen + slen + REC_BODY_FIXED != blen)
        return 0;
    memset(r, 0, sizeof(*r));
    r->epoch = slt_get_u64(b);
    r->seq = slt_get_u64(b + 8);
    r->created_ms = (int64_t)slt_get_u64(b + 16);
    r->off = off;
    r->rec_len = REC_HDR + blen;
    r->frame_len = flen;
    r->state_len = slen;
    return 1;
}

static int read_file(const char *path, unsigned char **out, size_t *len)
{
    struct stat st;
    unsigned char *p;
    size_t got = 0;
    ssize_t k;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0) {
        k = -errno;
        close(fd);
        return (int)k;
    }
    p = slt_malloc((size_t)st.st_size + 1);
    if (!p) {
        close(fd);
        return SLT_ENOMEM;
    }
    while (got < (size_t)st.st_size) {
        k = read(fd, p + got, (size_t)st.st_size - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    *out = p;
    *len = got;
    return 0;
}

static int scan_seg(struct slt_spool *sp, uint64_t id)
{
    char path[PATH_MAX];
    unsigned char *buf = NULL;
    size_t len = 0, off = 0;
    struct slt_spool_rec r;
    int rc;

    seg_path(sp, id, path, sizeof(path));
    if ((rc = read_file(path, &buf, &len)) < 0)
        return rc;
    while (off < len && parse_rec(buf, len, off, &r)) {
        r.seg = id;
        if (slt_spool_count(sp) > 0) {
            struct slt_spool_rec *last = &sp->recs[sp->nrecs - 1];

            if (r.epoch < last->epoch || (r.epoch == last->epoch && r.seq <= last->seq)) {
                /* out of order: cannot come from our appends; treat like corruption */
                break;
            }
        }
        if ((rc = add_rec(sp, &r)) < 0)
            goto out;
        off += r.rec_len;
    }
    if (off < len) {
        slt_log(SLT_LOG_WARN, "spool",
                "segment '%s': %zu bytes after offset %zu are torn or corrupt, truncating "
                "(they were never sent)",
                path, len - off, off);
        sp->repaired_bytes += len - off;
        if (truncate(path, (off_t)off) < 0) {
            rc = -errno;
            slt_log(SLT_LOG_ERROR, "spool", "cannot truncate '%s': %s", path, strerror(errno));
            goto out;
        }
    }
    sp->bytes += off;
    rc = add_seg(sp, id, off);
out:
    slt_free(buf);
    return rc;
}

static int id_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

int slt_spool_open(const char *dir, uint64_t max_bytes, uint64_t seg_max, struct slt_spool **out)
{
    struct slt_spool *sp;
    DIR *d;
    struct dirent *e;
    uint64_t *ids = NULL;
    size_t nids = 0, capids = 0, i;
    int rc = 0;

    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return -errno;
    sp = slt_calloc(1, sizeof(*sp));
    if (!sp)
        return SLT_ENOMEM;
    sp->fd = -1;
    sp->rfd = -1;
    sp->max_bytes = max_bytes ? max_bytes : 1;
    if (!seg_max) {
        seg_max = max_bytes / 8;
        if (seg_max < 4096)
            seg_max = 4096;
        if (seg_max > (4u << 20))
            seg_max = 4u << 20;
    }
    sp->seg_max = seg_max;
    sp->dir = slt_strdup(dir);
    if (!sp->dir) {
        rc = SLT_ENOMEM;
        goto fail;
    }
    d = opendir(dir);
    if (!d) {
        rc = -errno;
        goto fail;
    }
    while ((e = readdir(d)) != NULL) {
        char *end;
        unsigned long long v;
        size_t n = strlen(e->d_name);

        if (n != 24 || strcmp(e->d_name + 20, ".seg") != 0)
            continue;
        /* ours are 20 digits below SEG_ID_MAX; strtoull alone would take "-1", " 1" or a value
           past 2^64 (ERANGE), and the segment would then be opened under another name */
        errno = 0;
        v = strspn(e->d_name, "0123456789") == 20 ? strtoull(e->d_name, &end, 10) : 0;
        if (v == 0 || errno || v > SEG_ID_MAX) {
            slt_log(SLT_LOG_WARN, "spool", "ignoring '%s/%s': not a spool segment name", dir,
                    e->d_name);
            continue;
        }
        if (nids == capids) {
            size_t nc = capids ? capids * 2 : 16;
            uint64_t *n2 = slt_realloc(ids, nc * sizeof(*n2));

            if (!n2) {
                closedir(d);
                rc = SLT_ENOMEM;
                goto fail;
            }
            ids = n2;
            capids = nc;
        }
        ids[nids++] = v;
    }
    closedir(d);
    if (nids)
        qsort(ids, nids, sizeof(*ids), id_cmp);
    for (i = 0; i < nids; i++)
        if ((rc = scan_seg(sp, ids[i])) < 0)
            goto fail;
    sp->next_id = nids ? ids[nids - 1] + 1 : 1;
    slt_free(ids);
    *out = sp;
    return 0;
fail:
    slt_free(ids);
    slt_spool_free(sp);
    return rc;
}

void slt_spool_free(struct slt_spool *sp)
{
    if (!sp)
        return;
    if (sp->fd >= 0)
        close(sp->fd);
    if (sp->rfd >= 0)
        close(sp->rfd);
    slt_free(sp->dir);
    slt_free(sp->segs);
    slt_free(sp->recs);
    slt_free(sp);
}

static int open_segment(struct slt_spool *sp)
{
    char path[PATH_MAX];
    int rc;

    seg_path(sp, sp->next_id, path, sizeof(path));
    sp->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (sp->fd < 0)
        return -errno;
    /* the new name must survive a crash as surely as the records written into it */
    if ((rc = slt_fsync_dir(sp->dir)) < 0 || (rc = add_seg(sp, sp->next_id, 0)) < 0) {
        close(sp->fd);
        sp->fd = -1;
        unlink(path);
        return rc;
    }
    sp->active_id = sp->next_id++;
    return 0;
}

int slt_spool_append(struct slt_spool *sp, uint64_t epoch, uint64_t seq, int64_t created_ms,
                     const void *frame, size_t frame_len, const void *state, size_t state_len)
{
    struct slt_buf b;
    struct slt_spool_seg *seg;
    struct slt_spool_rec r;
    uint64_t blen = REC_BODY_FIXED + (uint64_t)frame_len + state_len;
    int rc;

    if (blen > REC_MAX)
        return SLT_ELIMIT;
    if (sp->fd >= 0 && sp->segs[sp->nsegs - 1].bytes >= sp->seg_max) {
        close(sp->fd);
        sp->fd = -1;
    }
    if (sp->fd < 0 && (rc = open_segment(sp)) < 0)
        return rc;
    seg = &sp->segs[sp->nsegs - 1];
    slt_buf_init(&b, SIZE_MAX);
    if (slt_buf_reserve(&b, REC_HDR + blen) < 0)
        return SLT_ENOMEM;
    slt_put_u32(&b, REC_MAGIC);
    slt_put_u32(&b, (uint32_t)blen);
    slt_put_u32(&b, 0);
    slt_put_u64(&b, epoch);
    slt_put_u64(&b, seq);
    slt_put_u64(&b, (uint64_t)created_ms);
    slt_put_u32(&b, (uint32_t)frame_len);
    slt_buf_append(&b, frame, frame_len);
    slt_put_u32(&b, (uint32_t)state_len);
    slt_buf_append(&b, state, state_len);
    slt_set_u32((unsigned char *)b.p + 8,
                (uint32_t)crc32(0L, (const Bytef *)b.p + REC_HDR, (uInt)blen));
    rc = slt_write_all(sp->fd, b.p, b.len);
    if (rc == 0 && fdatasync(sp->fd) < 0)
        rc = -errno;
    if (rc < 0) {
        /* cut the partial record away so later appends are not hidden behind it */
        if (ftruncate(sp->fd, (off_t)seg->bytes) < 0) {
            close(sp->fd);
            sp->fd = -1;
        }
        slt_buf_release(&b);
        return rc;
    }
    memset(&r, 0, sizeof(r));
    r.epoch = epoch;
    r.seq = seq;
    r.created_ms = created_ms;
    r.seg = seg->id;
    r.off = seg->bytes;
    r.rec_len = (uint32_t)b.len;
    r.frame_len = (uint32_t)frame_len;
    r.state_len = (uint32_t)state_len;
    seg->bytes += b.len;
    sp->bytes += b.len;
    slt_buf_release(&b);
    return add_rec(sp, &r);
}

long slt_spool_find(const struct slt_spool *sp, uint64_t epoch, uint64_t seq)
{
    size_t lo = sp->head, hi = sp->nrecs;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct slt_spool_rec *r = &sp->recs[mid];

        if (r->epoch < epoch || (r->epoch == epoch && r->seq < seq))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < sp->nrecs && sp->recs[lo].epoch == epoch && sp->recs[lo].seq == seq)
        return (long)(lo - sp->head);
    return -1;
}

void slt_spool_set_acked(struct slt_spool *sp, size_t i, int acked)
{
    struct slt_spool_rec *r = slt_spool_at(sp, i);

    if (!r->acked == !acked)
        return;
    r->acked = acked ? 1 : 0;
    if (acked) {
        sp->unacked--;
        sp->unacked_bytes -= r->rec_len;
    } else {
        sp->unacked++;
        sp->unacked_bytes += r->rec_len;
    }
}

static int read_range(struct slt_spool *sp, uint64_t id, uint64_t off, size_t n,
                      struct slt_buf *out)
{
    char path[PATH_MAX];
    size_t got = 0;
    ssize_t k;
    int rc;

    if (sp->rfd >= 0 && sp->rfd_id != id) {
        close(sp->rfd);
        sp->rfd = -1;
    }
    if (sp->rfd < 0) {
        seg_path(sp, id, path, sizeof(path));
        sp->rfd = open(path, O_RDONLY | O_CLOEXEC);
        if (sp->rfd < 0)
            return -errno;
        sp->rfd_id = id;
    }
    if ((rc = slt_buf_reserve(out, n)) < 0)
        return rc;
    while (got < n) {
        k = pread(sp->rfd, out->p + out->len + got, n - got, (off_t)(off + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -errno;
        if (k == 0)
            return SLT_ECORRUPT;
        got += (size_t)k;
    }
    out->len += n;
    return 0;
}

int slt_spool_read_frame(struct slt_spool *sp, size_t i, struct slt_buf *out)
{
    const struct slt_spool_rec *r = slt_spool_at(sp, i);

    return read_range(sp, r->seg, r->off + REC_HDR + 28, r->frame_len, out);
}

int slt_spool_read_state(struct slt_spool *sp, size_t i, struct slt_buf *out)
{
    const struct slt_spool_rec *r = slt_spool_at(sp, i);

    return read_range(sp, r->seg, r->off + REC_HDR + 32 + r->frame_len, r->state_len, out);
}

/* Walks the segments from the oldest; calls del for each one to delete. Returns how many. */
static size_t prune_walk(struct slt_spool *sp, int64_t now_ms, int64_t retention_ms, unsigned flags,
                         int doit, size_t *nrecs_out)
{
    size_t s, ri = sp->head, nseg = 0, nrecs = 0;
    uint64_t bytes = sp->bytes;

    for (s = 0; s < sp->nsegs; s++) {
        const struct slt_spool_seg *seg = &sp->segs[s];
        size_t rj = ri;
        int all_acked = 1;
        int64_t newest = INT64_MIN;

        while (rj < sp->nrecs && sp->recs[rj].seg == seg->id) {
            if (!sp->recs[rj].acked)
                all_acked = 0;
            newest = sp->recs[rj].created_ms;
            rj++;
        }
        if (!all_acked)
            break;
        /* an empty active segment is about to receive a record: leave it */
        if (rj == ri && sp->fd >= 0 && seg->id == sp->active_id)
            break;
        if ((flags & SLT_SPOOL_PRUNE_KEEP_LAST) && rj == sp->nrecs && rj > ri)
            break;
        if (!(rj == ri || newest <= now_ms - retention_ms || bytes > sp->max_bytes / 2 ||
              (flags & SLT_SPOOL_PRUNE_EARLY)))
            break;
        if (doit && rj > ri && !(newest <= now_ms - retention_ms))
            sp->pruned_early += rj - ri;
        bytes -= seg->bytes;
        nrecs += rj - ri;
        ri = rj;
        nseg++;
    }
    if (nrecs_out)
        *nrecs_out = nrecs;
    return nseg;
}

size_t slt_spool_prunable(const struct slt_spool *sp, int64_t now_ms, int64_t retention_ms,
                          unsigned flags)
{
    return prune_walk((struct slt_spool *)sp, now_ms, retention_ms, flags, 0, NULL);
}

size_t slt_spool_prune(struct slt_spool *sp, int64_t now_ms, int64_t retention_ms, unsigned flags)
{
    char path[PATH_MAX];
    size_t nrecs = 0, nseg, s;

    nseg = prune_walk(sp, now_ms, retention_ms, flags, 1, &nrecs);
    if (!nseg)
        return 0;
    for (s = 0; s < nseg; s++) {
        const struct slt_spool_seg *seg = &sp->segs[s];

        if (sp->fd >= 0 && seg->id == sp->active_id) {
            close(sp->fd);
            sp->fd = -1;
        }
        if (sp->rfd >= 0 && seg->id == sp->rfd_id) {
            close(sp->rfd);
            sp->rfd = -1;
        }
        seg_path(sp, seg->id, path, sizeof(path));
        if (unlink(path) < 0 && errno != ENOENT)
            slt_log(SLT_LOG_WARN, "spool", "cannot delete '%s': %s", path, strerror(errno));
        sp->bytes -= seg->bytes;
    }
    memmove(sp->segs, sp->segs + nseg, (sp->nsegs - nseg) * sizeof(*sp->segs));
    sp->nsegs -= nseg;
    sp->head += nrecs;
    if (sp->head == sp->nrecs)
        sp->head = sp->nrecs = 0;
    slt_fsync_dir(sp->dir);
    return nrecs;
}
