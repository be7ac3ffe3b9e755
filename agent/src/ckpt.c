/* Durable agent state and the checkpoint file: see ckpt.h. */
#include "ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "bytes.h"

#define STATE_MAGIC 0x31545353u /* "SST1" */
#define CKPT_MAGIC "SLTCKPT1"
#define CKPT_MAX (64u << 20)
#define STATE_MAX_ITEMS 100000u

static int put_str(struct slt_buf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    int rc;

    if (n > UINT32_MAX)
        return SLT_ELIMIT;
    if ((rc = slt_put_u32(b, (uint32_t)n)) < 0)
        return rc;
    return slt_buf_append(b, s ? s : "", n);
}

int slt_state_encode(const struct slt_state *st, struct slt_buf *out)
{
    size_t i, j;
    int rc = 0;

    rc |= slt_put_u32(out, STATE_MAGIC);
    rc |= slt_put_u64(out, st->epoch);
    rc |= slt_put_u64(out, st->seq);
    rc |= slt_put_u64(out, st->acked_seq);
    rc |= slt_put_u32(out, (uint32_t)st->nseries);
    for (i = 0; i < st->nseries; i++) {
        rc |= slt_put_u32(out, st->series[i].kind);
        rc |= put_str(out, st->series[i].name);
        rc |= slt_put_u64(out, st->series[i].since);
    }
    rc |= slt_put_u32(out, (uint32_t)st->ninputs);
    for (i = 0; i < st->ninputs; i++) {
        const struct slt_state_input *in = &st->inputs[i];

        rc |= put_str(out, in->name);
        rc |= slt_put_u32(out, (uint32_t)in->npos);
        for (j = 0; j < in->npos; j++) {
            const struct slt_tail_pos *p = &in->pos[j];

            rc |= slt_put_u64(out, p->dev);
            rc |= slt_put_u64(out, p->ino);
            rc |= slt_put_u64(out, p->fingerprint);
            rc |= slt_put_u32(out, p->fp_len);
            rc |= slt_put_u64(out, p->offset);
            rc |= slt_put_u32(out, p->flags);
            rc |= put_str(out, p->path);
        }
    }
    return rc ? SLT_ENOMEM : 0;
}

static char *rd_str(struct slt_rd *r, size_t max)
{
    uint32_t n = slt_rd_u32(r);
    const unsigned char *q;

    if (r->bad || n > max) {
        r->bad = 1;
        return NULL;
    }
    q = slt_rd_take(r, n);
    if (!q)
        return NULL;
    return slt_strndup((const char *)q, n);
}

int slt_state_decode(const void *p, size_t n, struct slt_state *st)
{
    struct slt_rd r = {p, n, 0};
    size_t i, j;
    uint32_t k;

    memset(st, 0, sizeof(*st));
    if (slt_rd_u32(&r) != STATE_MAGIC)
        return SLT_ECORRUPT;
    st->epoch = slt_rd_u64(&r);
    st->seq = slt_rd_u64(&r);
    st->acked_seq = slt_rd_u64(&r);
    k = slt_rd_u32(&r);
    if (r.bad || k > STATE_MAX_ITEMS)
        goto corrupt;
    st->series = slt_calloc(k ? k : 1, sizeof(*st->series));
    if (!st->series)
        goto nomem;
    st->nseries = k;
    for (i = 0; i < st->nseries; i++) {
        st->series[i].kind = slt_rd_u32(&r);
        st->series[i].name = rd_str(&r, 4096);
        st->series[i].since = slt_rd_u64(&r);
        if (r.bad)
            goto corrupt;
        if (!st->series[i].name)
            goto nomem;
    }
    k = slt_rd_u32(&r);
    if (r.bad || k > STATE_MAX_ITEMS)
        goto corrupt;
    st->inputs = slt_calloc(k ? k : 1, sizeof(*st->inputs));
    if (!st->inputs)
        goto nomem;
    st->ninputs = k;
    for (i = 0; i < st->ninputs; i++) {
        struct slt_state_input *in = &st->inputs[i];

        in->name = rd_str(&r, 4096);
        k = slt_rd_u32(&r);
        if (r.bad || k > STATE_MAX_ITEMS)
            goto corrupt;
        if (!in->name)
            goto nomem;
        in->pos = slt_calloc(k ? k : 1, sizeof(*in->pos));
        if (!in->pos)
            goto nomem;
        in->npos = k;
        for (j = 0; j < in->npos; j++) {
            struct slt_tail_pos *ps = &in->pos[j];
            uint32_t plen;
            const unsigned char *q;

            ps->dev = slt_rd_u64(&r);
            ps->ino = slt_rd_u64(&r);
            ps->fingerprint = slt_rd_u64(&r);
            ps->fp_len = slt_rd_u32(&r);
            ps->offset = slt_rd_u64(&r);
            ps->flags = slt_rd_u32(&r);
            plen = slt_rd_u32(&r);
            if (r.bad || plen >= SLT_TAIL_PATH_MAX)
                goto corrupt;
            q = slt_rd_take(&r, plen);
            if (!q)
                goto corrupt;
            memcpy(ps->path, q, plen);
            ps->path[plen] = '\0';
        }
    }
    if (r.n != 0)
        goto corrupt;
    return 0;
corrupt:
    slt_state_release(st);
    return SLT_ECORRUPT;
nomem:
    slt_state_release(st);
    return SLT_ENOMEM;
}

void slt_state_release(struct slt_state *st)
{
    size_t i;

    for (i = 0; st->series && i < st->nseries; i++)
        slt_free(st->series[i].name);
    slt_free(st->series);
    for (i = 0; st->inputs && i < st->ninputs; i++) {
        slt_free(st->inputs[i].name);
        slt_free(st->inputs[i].pos);
    }
    slt_free(st->inputs);
    memset(st, 0, sizeof(*st));
}

const struct slt_state_input *slt_state_input(const struct slt_state *st, const char *name)
{
    size_t i;

    for (i = 0; i < st->ninputs; i++)
        if (strcmp(st->inputs[i].name, name) == 0)
            return &st->inputs[i];
    return NULL;
}

uint64_t slt_state_since(const struct slt_state *st, uint32_t kind, const char *name)
{
    size_t i;

    for (i = 0; i < st->nseries; i++)
        if (st->series[i].kind == kind && strcmp(st->series[i].name, name) == 0)
            return st->series[i].since;
    return 0;
}

int slt_ckpt_write(const char *dir, const void *p, size_t n)
{
    char path[PATH_MAX], tmp[PATH_MAX], prev[PATH_MAX];
    unsigned char hdr[16];
    int fd, rc = 0;

    if (n > CKPT_MAX)
        return SLT_ELIMIT;
    snprintf(path, sizeof(path), "%s/checkpoint", dir);
    snprintf(tmp, sizeof(tmp), "%s/checkpoint.tmp", dir);
    snprintf(prev, sizeof(prev), "%s/checkpoint.prev", dir);
    memcpy(hdr, CKPT_MAGIC, 8);
    slt_set_u32(hdr + 8, (uint32_t)n);
    slt_set_u32(hdr + 12, (uint32_t)crc32(0L, p, (uInt)n));
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    if ((rc = slt_write_all(fd, hdr, sizeof(hdr))) < 0 || (rc = slt_write_all(fd, p, n)) < 0)
        goto out;
    if (fsync(fd) < 0) {
        rc = -errno;
        goto out;
    }
    /* keep the current one as the fallback; a crash between the renames leaves only .prev */
    if (rename(path, prev) < 0 && errno != ENOENT) {
        rc = -errno;
        goto out;
    }
    if (rename(tmp, path) < 0) {
        rc = -errno;
        goto out;
    }
    rc = slt_fsync_dir(dir);
out:
    close(fd);
    return rc;
}

static int read_one(const char *path, struct slt_buf *out)
{
    unsigned char hdr[16];
    struct stat stb;
    size_t len, got = 0;
    ssize_t k;
    int fd, rc = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? SLT_ENOTFOUND : -errno;
    if (fstat(fd, &stb) < 0) {
        rc = -errno;
        goto out;
    }
    if (stb.st_size < 16 || pread(fd, hdr, 16, 0) != 16 || memcmp(hdr, CKPT_MAGIC, 8) != 0) {
        rc = SLT_ECORRUPT;
        goto out;
    }
    len = slt_get_u32(hdr + 8);
    if (len > CKPT_MAX || (uint64_t)stb.st_size != 16 + (uint64_t)len) {
        rc = SLT_ECORRUPT;
        goto out;
    }
    if ((rc = slt_buf_reserve(out, len)) < 0)
        goto out;
    while (got < len) {
        k = pread(fd, out->p + out->len + got, len - got, 16 + (off_t)got);
        if (k <= 0) {
            rc = k < 0 ? -errno : SLT_ECORRUPT;
            goto out;
        }
        got += (size_t)k;
    }
    if ((uint32_t)crc32(0L, (const Bytef *)out->p + out->len, (uInt)len) != slt_get_u32(hdr + 12)) {
        rc = SLT_ECORRUPT;
        goto out;
    }
    out->len += len;
out:
    close(fd);
    return rc;
}

int slt_ckpt_read(const char *dir, struct slt_buf *out, int *from_prev)
{
    char path[PATH_MAX];
    int rc, rc2;
    size_t keep = out->len;

    *from_prev = 0;
    snprintf(path, sizeof(path), "%s/checkpoint", dir);
    rc = read_one(path, out);
    if (rc == 0)
        return 0;
    out->len = keep;
    if (rc != SLT_ENOTFOUND)
        slt_log(SLT_LOG_WARN, "ckpt", "checkpoint '%s' unusable (%s), trying the previous one",
                path, slt_strerror(rc));
    snprintf(path, sizeof(path), "%s/checkpoint.prev", dir);
    rc2 = read_one(path, out);
    if (rc2 == 0) {
        *from_prev = 1;
        if (rc != SLT_ENOTFOUND)
            slt_log(SLT_LOG_WARN, "ckpt", "using previous checkpoint '%s'", path);
        return 0;
    }
    out->len = keep;
    if (rc == SLT_ENOTFOUND && rc2 == SLT_ENOTFOUND)
        return SLT_ENOTFOUND;
    return SLT_ECORRUPT;
}
