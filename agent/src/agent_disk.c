/*
 * state_dir: created, locked against a second agent, its instance file; the reserve kept
 * there and what a full disk under it does.
 */
#include "agent_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define RESERVE_BYTES (256 * 1024) /* state_dir/reserve: room for a checkpoint on a full disk */

/* ---- state_dir ---- */

int slt__agent_mkdir_p(const char *path)
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

/*
 * state_dir/instance: 16 random hex digits made at the first start and sent in HELLO, so that
 * the aggregators tell this agent's reconnections (the same instance) from another host that
 * runs with the same agent.id (docs/PROTOCOL.md). A lost state dir makes a new one.
 */
void slt__agent_load_instance(struct slt_agent *a)
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

int slt__agent_lock_state_dir(const char *dir)
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

/* ---- a full disk under state_dir ---- */

int slt__agent_is_disk_full(int rc)
{
    return rc == -ENOSPC || rc == -EDQUOT;
}

/* A write under state_dir failed (rc < 0) or succeeded (rc == 0): the disk_full condition. */
void slt__agent_note_disk(struct slt_agent *a, int rc, const char *what)
{
    if (rc < 0 && slt__agent_is_disk_full(rc) && !a->disk_full) {
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
void slt__agent_reserve_make(struct slt_agent *a)
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

void slt__agent_reserve_release(struct slt_agent *a)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/reserve", a->state_dir);
    if (unlink(path) < 0 && errno != ENOENT)
        slt_log(SLT_LOG_WARN, "agent", "cannot delete '%s': %s", path, strerror(errno));
    a->reserve_held = 0;
    a->reserve_try_ms = slt_now_ms();
}
