/*
 * The tailer's insides, shared by its pieces (tail.c says which piece does what; tail.h is the
 * contract). Nothing here is for other modules.
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
#ifndef SLT_TAIL_INTERNAL_H
#define SLT_TAIL_INTERNAL_H

#include "tail.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <uv.h>

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
/* a new sibling that is empty (or, see young_active(), changed this recently) may be a copy
   still being made: it is judged at a later scan, but after this long held at the latest
   (and after half of rotate_wait, if that is shorter) */
#define TAIL_SETTLE_NS 200000000LL
#define TAIL_HOLD_MAX_NS 2000000000LL
#define TAIL_CUTS 8u /* truncations whose copy was not found, remembered per path */

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
    /* new siblings left to judge at a later scan (maybe a copy still being made, or renamed
       while we judged them): out of sib, so still new then, and never under the mark, so
       judged again after a restart; at most one per listed sibling, and one a listing missed
       is kept (and the mark not moved) for at most the hold time, TAIL_MAX_SIBLINGS in all */
    struct tail_held {
        uint64_t dev, ino;
        int64_t since_ns; /* wall clock when first held */
    } * held;
    size_t nheld;
    /* truncated files of this path whose copy was not found then (not there yet, or renamed
       while listed): a new sibling with their first bytes, at least offset long, is that copy,
       read from offset, never from 0; each kept rotate_wait, the last TAIL_CUTS */
    struct tail_cut {
        uint64_t fp, offset;
        uint32_t fp_len; /* 0: free */
        int skipping;
        int64_t since_ns;
    } cuts[TAIL_CUTS];
    size_t cut_next;
    /* the newest sibling at the last scan older than every held one, checkpointed as a
       POS_MARK: after a restart, siblings newer than it came while we were down (or were
       still to be judged) */
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

/* A rotated sibling (or the file at the path) as listed: by name, then stat. */
struct cand {
    char *path;
    uint64_t dev, ino, size;
    int64_t mtime_ns;
    long num; /* access.log.N or access.log.N.gz: N; else -1 */
    int gz;
    const struct slt_tail_pos *r; /* matched restore position */
    int mark;                     /* the newest sibling at the checkpoint (a POS_MARK) */
    int moved;                    /* another file was at its name when it was opened */
    int held;                     /* left to judge at a later scan (tail_group.held) */
};

struct cands {
    struct cand *v;
    size_t n, cap;
};

/* ---- small helpers ---- */

/* The fingerprint is persisted in checkpoints: it must stay FNV-1a 64 with the standard basis. */
static inline uint64_t fnv1a(const void *p, size_t n)
{
    return slt_fnv1a64(p, n);
}

static inline int has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);

    return a >= b && strcmp(s + a - b, suf) == 0;
}

static inline int has_glob_chars(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

/* CLOCK_REALTIME in ns: the clock of file times. */
static inline int64_t wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* tail.c: the work loop */
void slt__tail_kick(struct slt_tail *t);

/* tail_file.c: the file record, reading, truncation */
int slt__tail_open_regular(const char *path, struct stat *st);
int slt__tail_fp_plain(int fd, uint32_t want, uint64_t *fp, uint32_t *got);
int slt__tail_fp_gz_fd(int fd, uint32_t want, uint64_t *fp, uint32_t *got);
struct slt_tail_file *slt__tail_find_by_id(struct slt_tail *t, uint64_t dev, uint64_t ino);
struct tail_group *slt__tail_group_ref(struct slt_tail *t, const char *path);
void slt__tail_group_unref(struct slt_tail *t, struct tail_group *g);
int slt__tail_file_set_group(struct slt_tail_file *f, const char *path);
void slt__tail_file_close_fd(struct slt_tail_file *f);
void slt__tail_file_set_path(struct slt_tail_file *f, const char *path);
void slt__tail_file_free(struct slt_tail_file *f);
int slt__tail_file_add(struct slt_tail *t, int fd, const struct stat *st, const char *path,
                       const char *group, int gz, enum tail_state state,
                       struct slt_tail_file *before, struct slt_tail_file **out);
void slt__tail_file_start_at_end(struct slt_tail_file *f);
void slt__tail_file_resume(struct slt_tail_file *f, const struct slt_tail_pos *r);
int slt__tail_reaches(int fd, uint64_t off);
void slt__tail_file_truncated(struct slt_tail_file *f);
void slt__tail_file_check(struct slt_tail_file *f);
int slt__tail_may_read(const struct slt_tail_file *f);
void slt__tail_file_read(struct slt_tail_file *f);

/* tail_rotate.c: siblings, and rotation seen at a scan */
void slt__tail_cands_release(struct cands *c);
int slt__tail_cands_push(struct cands *c, const char *path, const struct stat *st);
int slt__tail_real_dir_base(const char *path, char **dir, char **base);
void slt__tail_dc_clear(struct slt_tail *t);
int slt__tail_list_siblings(struct slt_tail *t, const char *path, struct cands *out);
int slt__tail_cand_open(struct slt_tail *t, struct cand *c, struct stat *st);
int slt__tail_cand_fp_check(struct slt_tail *t, struct cand *c, const struct slt_tail_pos *r);
int slt__tail_cand_fp_matches(struct slt_tail *t, struct cand *c, const struct slt_tail_pos *r);
void slt__tail_file_moved(struct slt_tail_file *f);
void slt__tail_groups_update(struct slt_tail *t);

/* tail_watch.c: inotify and the stat poll */
void slt__tail_watch_dir(struct slt_tail *t, const char *dir);
void slt__tail_on_timer(uv_timer_t *h);
void slt__tail_scan(struct slt_tail *t);

/* tail_restore.c: the first scan (restore, backfill, where reading starts) */
int slt__tail_initial_scan(struct slt_tail *t, const struct slt_tail_pos *restore, size_t nrestore,
                           int restarted);

#endif
