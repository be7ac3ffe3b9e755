/*
 * The tailer against real files in a temp dir and a real uv loop: every complete line exactly
 * once and in order, through partial lines, oversize lines, rotation, copytruncate, deletion,
 * restarts from checkpointed positions and backfill of rotated (.gz) files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include <zlib.h>

#include "slt/common.h"
#include "tail.h"

#define MAX_GOT 200000

struct ctx {
    uv_loop_t loop;
    struct slt_tail *t;
    char dir[256];
    char path[512]; /* dir/access.log */
    char **got;
    unsigned *flags;
    size_t n;
    int closed;
    size_t pause_at; /* pause the tailer when this many lines arrived (0: never) */
};

static void on_line(void *data, struct slt_tail_file *f, const char *line, size_t len,
                    unsigned flags, uint64_t end_offset)
{
    struct ctx *c = data;

    assert_non_null(slt_tail_file_path(f));
    if (getenv("SLT_TEST_TRACE"))
        fprintf(stderr, "line %zu %.*s %s@%llu\n", c->n, (int)len, line, slt_tail_file_path(f),
                (unsigned long long)end_offset);
    assert_true(c->n < MAX_GOT);
    c->got[c->n] = strndup(line, len);
    c->flags[c->n] = flags;
    c->n++;
    if (c->pause_at && c->n == c->pause_at)
        slt_tail_pause(c->t);
}

static void on_closed(void *data)
{
    ((struct ctx *)data)->closed = 1;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs the loop until n lines arrived or timeout_ms passed. */
static void run_until(struct ctx *c, size_t n, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;

    while (c->n < n && now_ms() < end)
        uv_run(&c->loop, UV_RUN_ONCE);
}

static void run_for(struct ctx *c, int ms)
{
    int64_t end = now_ms() + ms;

    while (now_ms() < end)
        uv_run(&c->loop, UV_RUN_ONCE);
}

/* Files the tailer follows: its positions without the POS_MARK entries. */
static size_t files_followed(struct slt_tail *t)
{
    struct slt_tail_pos *v;
    size_t i, n = slt_tail_positions(t, NULL, 0), files = 0;

    v = calloc(n ? n : 1, sizeof(*v));
    assert_non_null(v);
    assert_int_equal(slt_tail_positions(t, v, n), n);
    for (i = 0; i < n; i++)
        if (!(v[i].flags & SLT_TAIL_POS_MARK))
            files++;
    free(v);
    return files;
}

/* Runs the loop until the tailer follows n files (rotated ones closed) or timeout_ms passed. */
static void run_until_files(struct ctx *c, size_t n, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;

    while (files_followed(c->t) != n && now_ms() < end)
        uv_run(&c->loop, UV_RUN_ONCE);
}

static void ctx_init(struct ctx *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->dir, sizeof(c->dir), "/tmp/slt_tail_XXXXXX");
    assert_non_null(mkdtemp(c->dir));
    snprintf(c->path, sizeof(c->path), "%s/access.log", c->dir);
    assert_int_equal(uv_loop_init(&c->loop), 0);
    c->got = calloc(MAX_GOT, sizeof(*c->got));
    c->flags = calloc(MAX_GOT, sizeof(*c->flags));
    assert_non_null(c->got);
    assert_non_null(c->flags);
}

static void reset_got(struct ctx *c)
{
    size_t i;

    for (i = 0; i < c->n; i++)
        free(c->got[i]);
    c->n = 0;
}

static void tail_start(struct ctx *c, const char *pattern, int beginning,
                       const struct slt_tail_pos *restore, size_t nrestore, size_t max_line)
{
    const char *paths[1];
    struct slt_tail_opts o;

    paths[0] = pattern ? pattern : c->path;
    memset(&o, 0, sizeof(o));
    o.paths = paths;
    o.npaths = 1;
    o.read_from_beginning = beginning;
    o.max_line = max_line ? max_line : 1024;
    o.poll_ms = 20;
    o.rotate_wait_ms = 100;
    o.on_line = on_line;
    o.data = c;
    c->closed = 0;
    assert_int_equal(slt_tail_new(&c->loop, &o, restore, nrestore, &c->t), 0);
}

static void tail_stop(struct ctx *c)
{
    slt_tail_close(c->t, on_closed, c);
    while (!c->closed)
        uv_run(&c->loop, UV_RUN_ONCE);
    c->t = NULL;
}

static void ctx_release(struct ctx *c)
{
    char cmd[600];

    if (c->t)
        tail_stop(c);
    assert_int_equal(uv_loop_close(&c->loop), 0);
    reset_got(c);
    free(c->got);
    free(c->flags);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", c->dir);
    assert_int_equal(system(cmd), 0);
}

/* Appends lines "<tag>-<i>" for i in [from, to) through fd. */
static void write_lines(int fd, const char *tag, int from, int to)
{
    char line[64];
    int i;

    for (i = from; i < to; i++) {
        int n = snprintf(line, sizeof(line), "%s-%06d\n", tag, i);
        assert_int_equal(slt_write_all(fd, line, (size_t)n), 0);
    }
}

static int open_append(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

    assert_true(fd >= 0);
    return fd;
}

static void append_lines(const char *path, const char *tag, int from, int to)
{
    int fd = open_append(path);

    write_lines(fd, tag, from, to);
    close(fd);
}

static void write_gz(const char *path, const char *tag, int from, int to)
{
    gzFile g = gzopen(path, "wb");
    int i;

    assert_non_null(g);
    for (i = from; i < to; i++)
        gzprintf(g, "%s-%06d\n", tag, i);
    assert_int_equal(gzclose(g), Z_OK);
}

/* got[at..] holds "<tag>-<i>" for i in [from, to), in order. */
static void assert_lines(struct ctx *c, size_t at, const char *tag, int from, int to)
{
    char want[64];
    int i;

    assert_true(c->n >= at + (size_t)(to - from));
    for (i = from; i < to; i++) {
        snprintf(want, sizeof(want), "%s-%06d", tag, i);
        assert_string_equal(c->got[at + (size_t)(i - from)], want);
    }
}

/* Open fds of this process, after one tailer has run on the loop: libuv keeps its inotify fd
   for the life of the loop, which is not ours to count. */
static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    int n = 0;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the DIR's own fd */
}

static size_t take_positions(struct ctx *c, struct slt_tail_pos **out)
{
    size_t n = slt_tail_positions(c->t, NULL, 0);

    *out = calloc(n ? n : 1, sizeof(**out));
    assert_non_null(*out);
    assert_int_equal(slt_tail_positions(c->t, *out, n), n);
    return n;
}

/* ---- tests ---- */

static void it_delivers_every_line_once_in_order(void **state)
{
    struct ctx c;

    (void)state;
    ctx_init(&c);
    append_lines(c.path, "a", 0, 1000);
    tail_start(&c, NULL, 1, NULL, 0, 0);
    run_until(&c, 1000, 5000);
    assert_int_equal(c.n, 1000);
    append_lines(c.path, "a", 1000, 1500);
    run_until(&c, 1500, 5000);
    run_for(&c, 100);
    assert_int_equal(c.n, 1500);
    assert_lines(&c, 0, "a", 0, 1500);
    ctx_release(&c);
}

static void it_starts_at_the_end_by_default_and_skips_a_partial_line(void **state)
{
    struct ctx c;
    int fd;

    (void)state;
    ctx_init(&c);
    append_lines(c.path, "old", 0, 10);
    fd = open_append(c.path);
    assert_int_equal(slt_write_all(fd, "half of a li", 12), 0);
    tail_start(&c, NULL, 0, NULL, 0, 0);
    run_for(&c, 100);
    assert_int_equal(c.n, 0);
    assert_int_equal(slt_write_all(fd, "ne\n", 3), 0);
    write_lines(fd, "new", 0, 3);
    close(fd);
    run_until(&c, 3, 5000);
    run_for(&c, 60);
    assert_int_equal(c.n, 3);
    assert_lines(&c, 0, "new", 0, 3);
    ctx_release(&c);
}

static void it_holds_a_partial_line_until_its_newline(void **state)
{
    struct ctx c;
    int fd;

    (void)state;
    ctx_init(&c);
    fd = open_append(c.path);
    tail_start(&c, NULL, 0, NULL, 0, 0);
    assert_int_equal(slt_write_all(fd, "GET /par", 8), 0);
    run_for(&c, 100);
    assert_int_equal(c.n, 0);
    assert_int_equal(slt_write_all(fd, "tial 200\n", 9), 0);
    run_until(&c, 1, 5000);
    run_for(&c, 60);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.got[0], "GET /partial 200");
    close(fd);
    ctx_release(&c);
}

static void it_delivers_an_oversize_line_once(void **state)
{
    struct ctx c;
    char *big = malloc(300000);
    int fd;

    (void)state;
    assert_non_null(big);
    memset(big, 'x', 300000);
    ctx_init(&c);
    fd = open_append(c.path);
    tail_start(&c, NULL, 0, NULL, 0, 100);
    write_lines(fd, "a", 0, 1);
    assert_int_equal(slt_write_all(fd, big, 150), 0); /* oversize, inside one buffer */
    assert_int_equal(slt_write_all(fd, "\n", 1), 0);
    assert_int_equal(slt_write_all(fd, big, 300000), 0); /* oversize, bigger than the buffer */
    assert_int_equal(slt_write_all(fd, "\n", 1), 0);
    write_lines(fd, "a", 1, 2);
    close(fd);
    run_until(&c, 4, 5000);
    run_for(&c, 60);
    assert_int_equal(c.n, 4);
    assert_string_equal(c.got[0], "a-000000");
    assert_int_equal(strlen(c.got[1]), 100);
    assert_int_equal(c.flags[1], SLT_TAIL_OVERSIZE);
    assert_int_equal(strlen(c.got[2]), 100);
    assert_int_equal(c.flags[2], SLT_TAIL_OVERSIZE);
    assert_string_equal(c.got[3], "a-000001");
    assert_int_equal(c.flags[3], 0);
    free(big);
    ctx_release(&c);
}

static void it_follows_rename_rotation_without_loss_or_duplicate(void **state)
{
    struct ctx c;
    char rotated[600];
    int fd, round, next = 0;

    (void)state;
    ctx_init(&c);
    fd = open_append(c.path);
    tail_start(&c, NULL, 0, NULL, 0, 0);
    for (round = 0; round < 5; round++) {
        write_lines(fd, "r", next, next + 300);
        next += 300;
        run_for(&c, 30);
        /* logrotate `create`: rename, then the writer goes on in the old file for a while */
        snprintf(rotated, sizeof(rotated), "%s.1", c.path);
        assert_int_equal(rename(c.path, rotated), 0);
        write_lines(fd, "r", next, next + 200);
        next += 200;
        close(fd);
        fd = open_append(c.path);
        write_lines(fd, "r", next, next + 100);
        next += 100;
    }
    close(fd);
    run_until(&c, (size_t)next, 10000);
    run_for(&c, 300);
    assert_int_equal(c.n, next);
    assert_lines(&c, 0, "r", 0, next);
    assert_int_equal(slt_tail_truncations(c.t), 0);
    ctx_release(&c);
}

static void it_copytruncate_loses_no_line(void **state)
{
    struct ctx c;
    char cmd[4096];
    int fd;

    (void)state;
    ctx_init(&c);
    fd = open_append(c.path);
    tail_start(&c, NULL, 0, NULL, 0, 0);
    write_lines(fd, "c", 0, 100);
    run_until(&c, 100, 5000);
    assert_int_equal(c.n, 100);
    /* written but not read yet when logrotate copies: only the copy still has them */
    write_lines(fd, "c", 100, 200);
    /* the writer is paused during copy + truncate: lines written between the two are lost by
       copytruncate itself, whatever reads the file */
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s.1'", c.path, c.path);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(ftruncate(fd, 0), 0);
    write_lines(fd, "c", 200, 250);
    close(fd);
    run_until(&c, 250, 5000);
    run_for(&c, 200);
    assert_int_equal(c.n, 250);
    assert_lines(&c, 0, "c", 0, 250);
    assert_int_equal(slt_tail_truncations(c.t), 1);
    ctx_release(&c);
}

static void it_counts_an_in_place_truncation_and_reads_from_zero(void **state)
{
    struct ctx c;
    int fd;

    (void)state;
    ctx_init(&c);
    fd = open_append(c.path);
    tail_start(&c, NULL, 0, NULL, 0, 0);
    write_lines(fd, "t", 0, 50);
    run_until(&c, 50, 5000);
    assert_int_equal(ftruncate(fd, 0), 0);
    run_for(&c, 60);
    write_lines(fd, "u", 0, 5);
    close(fd);
    run_until(&c, 55, 5000);
    run_for(&c, 100);
    assert_int_equal(c.n, 55);
    assert_lines(&c, 50, "u", 0, 5);
    assert_int_equal(slt_tail_truncations(c.t), 1);
    ctx_release(&c);
}

static void it_drains_a_deleted_file_then_closes_it(void **state)
{
    struct ctx c;
    int fd, base;

    (void)state;
    ctx_init(&c);
    tail_start(&c, NULL, 0, NULL, 0, 0);
    run_for(&c, 30);
    tail_stop(&c);
    base = count_fds();
    fd = open_append(c.path);
    tail_start(&c, NULL, 0, NULL, 0, 0);
    write_lines(fd, "d", 0, 10);
    run_until(&c, 10, 5000);
    assert_int_equal(unlink(c.path), 0);
    write_lines(fd, "d", 10, 20);
    close(fd);
    run_until(&c, 20, 5000);
    run_until_files(&c, 0, 5000); /* closed after rotate_wait */
    assert_int_equal(c.n, 20);
    assert_lines(&c, 0, "d", 0, 20);
    assert_int_equal(files_followed(c.t), 0);
    tail_stop(&c);
    assert_int_equal(count_fds(), base);
    ctx_release(&c);
}

static void it_picks_up_a_new_file_matching_a_glob_from_its_start(void **state)
{
    struct ctx c;
    char pattern[600], other[600];

    (void)state;
    ctx_init(&c);
    snprintf(pattern, sizeof(pattern), "%s/*.log", c.dir);
    snprintf(other, sizeof(other), "%s/other.log", c.dir);
    append_lines(c.path, "a", 0, 5); /* existing: read from its end */
    tail_start(&c, pattern, 0, NULL, 0, 0);
    run_for(&c, 60);
    append_lines(other, "o", 0, 7);
    append_lines(c.path, "a", 5, 6);
    run_until(&c, 8, 5000);
    run_for(&c, 100);
    assert_int_equal(c.n, 8);
    {
        size_t i, na = 0, no = 0;

        for (i = 0; i < c.n; i++) {
            if (c.got[i][0] == 'o')
                no++;
            else
                na++;
        }
        assert_int_equal(no, 7);
        assert_int_equal(na, 1);
    }
    ctx_release(&c);
}

static void it_resumes_exactly_from_restored_positions_across_a_rotation(void **state)
{
    struct ctx c;
    struct slt_tail_pos *pos;
    char rotated[600];
    size_t npos;

    (void)state;
    ctx_init(&c);
    append_lines(c.path, "p", 0, 10);
    tail_start(&c, NULL, 1, NULL, 0, 0);
    run_until(&c, 10, 5000);
    npos = take_positions(&c, &pos);
    assert_int_equal(files_followed(c.t), 1);
    tail_stop(&c);
    /* while down: more lines, a rotation, more lines in the new file */
    append_lines(c.path, "p", 10, 15);
    snprintf(rotated, sizeof(rotated), "%s.1", c.path);
    assert_int_equal(rename(c.path, rotated), 0);
    append_lines(c.path, "p", 15, 20);
    reset_got(&c);
    tail_start(&c, NULL, 0, pos, npos, 0);
    run_until(&c, 10, 5000);
    run_for(&c, 300);
    assert_int_equal(c.n, 10);
    assert_lines(&c, 0, "p", 10, 20);
    free(pos);
    ctx_release(&c);
}

static void it_resumes_a_partial_line_and_an_oversize_skip_exactly(void **state)
{
    struct ctx c;
    struct slt_tail_pos *pos;
    char big[400];
    size_t npos;
    int fd;

    (void)state;
    memset(big, 'y', sizeof(big));
    ctx_init(&c);
    fd = open_append(c.path);
    write_lines(fd, "s", 0, 2);
    assert_int_equal(slt_write_all(fd, big, sizeof(big)), 0); /* oversize, no '\n' yet */
    tail_start(&c, NULL, 1, NULL, 0, 100);
    run_until(&c, 3, 5000);
    run_for(&c, 60);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.flags[2], SLT_TAIL_OVERSIZE);
    npos = take_positions(&c, &pos);
    assert_int_equal(files_followed(c.t), 1);
    assert_int_equal(pos[0].flags & SLT_TAIL_POS_SKIP, SLT_TAIL_POS_SKIP);
    tail_stop(&c);
    assert_int_equal(slt_write_all(fd, big, 10), 0);
    assert_int_equal(slt_write_all(fd, "\n", 1), 0);
    write_lines(fd, "s", 2, 3);
    assert_int_equal(slt_write_all(fd, "s-0000", 6), 0); /* partial at the checkpoint */
    reset_got(&c);
    tail_start(&c, NULL, 0, pos, npos, 100);
    run_until(&c, 1, 5000);
    run_for(&c, 60);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.got[0], "s-000002");
    free(pos);
    npos = take_positions(&c, &pos);
    tail_stop(&c);
    assert_int_equal(slt_write_all(fd, "03\n", 3), 0);
    close(fd);
    reset_got(&c);
    tail_start(&c, NULL, 0, pos, npos, 100);
    run_until(&c, 1, 5000);
    run_for(&c, 60);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.got[0], "s-000003");
    free(pos);
    ctx_release(&c);
}

static void it_does_not_confuse_a_reused_inode_or_a_copy(void **state)
{
    struct ctx c;
    struct slt_tail_pos *pos;
    char cmd[4096];
    size_t npos;
    int fd;

    (void)state;
    ctx_init(&c);
    append_lines(c.path, "first", 0, 20);
    tail_start(&c, NULL, 1, NULL, 0, 0);
    run_until(&c, 20, 5000);
    npos = take_positions(&c, &pos);
    tail_stop(&c);
    /* same inode, other content, already longer than the old offset */
    fd = open(c.path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    write_lines(fd, "second", 0, 30);
    close(fd);
    /* and a copy of it, which must not be taken for the checkpointed file */
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s.1'", c.path, c.path);
    assert_int_equal(system(cmd), 0);
    reset_got(&c);
    tail_start(&c, NULL, 0, pos, npos, 0);
    run_until(&c, 30, 5000);
    run_for(&c, 100);
    assert_int_equal(c.n, 30);
    assert_lines(&c, 0, "second", 0, 30);
    assert_int_equal(slt_tail_truncations(c.t), 1);
    free(pos);
    ctx_release(&c);
}

static void it_backfills_rotated_files_oldest_first_exactly_once(void **state)
{
    struct ctx c;
    struct slt_tail_pos *pos;
    char p[600];
    size_t npos;

    (void)state;
    ctx_init(&c);
    snprintf(p, sizeof(p), "%s.3.gz", c.path);
    write_gz(p, "b", 0, 100);
    snprintf(p, sizeof(p), "%s.2.gz", c.path);
    write_gz(p, "b", 100, 200);
    snprintf(p, sizeof(p), "%s.1", c.path);
    append_lines(p, "b", 200, 300);
    append_lines(c.path, "b", 300, 400);
    tail_start(&c, NULL, 1, NULL, 0, 0);
    run_until(&c, 400, 5000);
    run_for(&c, 300);
    assert_int_equal(c.n, 400);
    assert_lines(&c, 0, "b", 0, 400);
    npos = take_positions(&c, &pos);
    tail_stop(&c);
    /* a restart reads none of it again */
    append_lines(c.path, "b", 400, 401);
    reset_got(&c);
    tail_start(&c, NULL, 1, pos, npos, 0);
    run_until(&c, 1, 5000);
    run_for(&c, 200);
    assert_int_equal(c.n, 1);
    assert_lines(&c, 0, "b", 400, 401);
    free(pos);
    ctx_release(&c);
}

static void it_resumes_a_backfill_interrupted_inside_a_gz(void **state)
{
    struct ctx c;
    struct slt_tail_pos *pos;
    char p[600];
    size_t npos;

    (void)state;
    ctx_init(&c);
    snprintf(p, sizeof(p), "%s.2.gz", c.path);
    write_gz(p, "g", 0, 100);
    snprintf(p, sizeof(p), "%s.1.gz", c.path);
    write_gz(p, "g", 100, 200);
    append_lines(c.path, "g", 200, 250);
    c.pause_at = 150;
    tail_start(&c, NULL, 1, NULL, 0, 0);
    run_until(&c, 150, 5000);
    run_for(&c, 60);
    assert_int_equal(c.n, 150); /* paused: nothing more */
    npos = take_positions(&c, &pos);
    tail_stop(&c);
    reset_got(&c);
    c.pause_at = 0;
    tail_start(&c, NULL, 1, pos, npos, 0);
    run_until(&c, 100, 5000);
    run_for(&c, 200);
    assert_int_equal(c.n, 100);
    assert_lines(&c, 0, "g", 150, 250);
    free(pos);
    ctx_release(&c);
}

static void it_finds_a_rotated_file_compressed_while_down(void **state)
{
    struct ctx c;
    struct slt_tail_pos *pos;
    char cmd[4096];
    size_t npos;

    (void)state;
    ctx_init(&c);
    append_lines(c.path, "z", 0, 40);
    tail_start(&c, NULL, 1, NULL, 0, 0);
    run_until(&c, 40, 5000);
    npos = take_positions(&c, &pos);
    tail_stop(&c);
    append_lines(c.path, "z", 40, 60);
    snprintf(cmd, sizeof(cmd), "mv '%s' '%s.1' && gzip '%s.1'", c.path, c.path, c.path);
    assert_int_equal(system(cmd), 0);
    append_lines(c.path, "z", 60, 70);
    reset_got(&c);
    tail_start(&c, NULL, 0, pos, npos, 0);
    run_until(&c, 30, 5000);
    run_for(&c, 200);
    assert_int_equal(c.n, 30);
    assert_lines(&c, 0, "z", 40, 70);
    free(pos);
    ctx_release(&c);
}

static void it_counts_a_corrupt_gz_as_an_error_and_moves_on(void **state)
{
    struct ctx c;
    char p[600], cmd[4096];

    (void)state;
    ctx_init(&c);
    snprintf(p, sizeof(p), "%s.1.gz", c.path);
    write_gz(p, "k", 0, 5000);
    /* cut it short: the first part decodes, then the stream ends early */
    snprintf(cmd, sizeof(cmd), "head -c 4000 '%s' > '%s.tmp' && mv '%s.tmp' '%s'", p, p, p, p);
    assert_int_equal(system(cmd), 0);
    append_lines(c.path, "k", 5000, 5010);
    tail_start(&c, NULL, 1, NULL, 0, 0);
    run_until(&c, 10, 5000);
    run_for(&c, 300);
    assert_true(c.n > 10);
    assert_true(c.n < 5010);
    assert_lines(&c, 0, "k", 0, (int)c.n - 10);
    assert_lines(&c, c.n - 10, "k", 5000, 5010);
    assert_int_equal(slt_tail_errors(c.t), 1);
    ctx_release(&c);
}

static void it_delivers_nothing_while_paused(void **state)
{
    struct ctx c;

    (void)state;
    ctx_init(&c);
    append_lines(c.path, "w", 0, 100);
    c.pause_at = 10;
    tail_start(&c, NULL, 1, NULL, 0, 0);
    run_until(&c, 10, 5000);
    run_for(&c, 100);
    assert_int_equal(c.n, 10);
    slt_tail_resume(c.t);
    run_until(&c, 100, 5000);
    run_for(&c, 60);
    assert_int_equal(c.n, 100);
    assert_lines(&c, 0, "w", 0, 100);
    ctx_release(&c);
}

static void it_follows_a_symlinked_log_through_rotation(void **state)
{
    struct ctx c;
    char real[600], link[600], rotated[700];
    int fd;

    (void)state;
    ctx_init(&c);
    snprintf(real, sizeof(real), "%s/real", c.dir);
    assert_int_equal(mkdir(real, 0755), 0);
    snprintf(real, sizeof(real), "%s/real/access.log", c.dir);
    snprintf(link, sizeof(link), "%s/link.log", c.dir);
    fd = open_append(real);
    assert_int_equal(symlink(real, link), 0);
    tail_start(&c, link, 0, NULL, 0, 0);
    write_lines(fd, "l", 0, 10);
    run_until(&c, 10, 5000);
    snprintf(rotated, sizeof(rotated), "%s.1", real);
    assert_int_equal(rename(real, rotated), 0);
    write_lines(fd, "l", 10, 20);
    close(fd);
    append_lines(real, "l", 20, 30);
    run_until(&c, 30, 5000);
    run_for(&c, 200);
    assert_int_equal(c.n, 30);
    assert_lines(&c, 0, "l", 0, 30);
    ctx_release(&c);
}

static void it_returns_fds_to_baseline_after_rotations_and_close(void **state)
{
    struct ctx c;
    char rotated[600];
    int base, round, next = 0;

    (void)state;
    ctx_init(&c);
    tail_start(&c, NULL, 0, NULL, 0, 0);
    run_for(&c, 30);
    tail_stop(&c);
    base = count_fds();
    append_lines(c.path, "f", next, next + 10);
    next += 10;
    tail_start(&c, NULL, 1, NULL, 0, 0);
    for (round = 0; round < 5; round++) {
        run_until(&c, (size_t)next, 5000);
        snprintf(rotated, sizeof(rotated), "%s.%d", c.path, round + 1);
        assert_int_equal(rename(c.path, rotated), 0);
        append_lines(c.path, "f", next, next + 10);
        next += 10;
    }
    run_until(&c, (size_t)next, 5000);
    run_until_files(&c, 1, 5000); /* past rotate_wait: the rotated files are closed */
    assert_int_equal(c.n, next);
    assert_int_equal(files_followed(c.t), 1);
    tail_stop(&c);
    assert_int_equal(count_fds(), base);
    ctx_release(&c);
}

struct writer {
    const char *path;
    int total, per_file, late; /* lines; lines per file; lines written after the rename */
};

/* nginx + logrotate `create` in a thread: rename, a few late lines in the old file, reopen. */
static void *writer_main(void *arg)
{
    struct writer *w = arg;
    char rotated[700];
    int fd = open_append(w->path), i, n = 0;

    for (i = 0; i < w->total; i++) {
        write_lines(fd, "w", i, i + 1);
        if (++n == w->per_file && i + 1 < w->total) {
            snprintf(rotated, sizeof(rotated), "%s.1", w->path);
            assert_int_equal(rename(w->path, rotated), 0);
            write_lines(fd, "w", i + 1, i + 1 + w->late);
            i += w->late;
            close(fd);
            fd = open_append(w->path);
            n = 0;
        }
        if (i % 500 == 0)
            usleep(1000);
    }
    close(fd);
    return NULL;
}

static void it_rotates_under_a_concurrent_writer_without_loss_or_duplicate(void **state)
{
    struct writer w = {NULL, 20000, 3000, 50};
    struct ctx c;
    pthread_t th;

    (void)state;
    ctx_init(&c);
    w.path = c.path;
    append_lines(c.path, "x", 0, 1); /* exists at start: read from its end */
    tail_start(&c, NULL, 0, NULL, 0, 0);
    assert_int_equal(pthread_create(&th, NULL, writer_main, &w), 0);
    run_until(&c, (size_t)w.total, 20000);
    assert_int_equal(pthread_join(th, NULL), 0);
    run_until(&c, (size_t)w.total, 5000);
    run_for(&c, 300);
    /* the first wrong line, if any, tells more than the count */
    assert_lines(&c, 0, "w", 0, (int)c.n);
    assert_int_equal(c.n, w.total);
    assert_lines(&c, 0, "w", 0, w.total);
    ctx_release(&c);
}

static void it_recovers_a_copytruncate_done_while_down(void **state)
{
    struct ctx c;
    struct slt_tail_pos *pos;
    char cmd[4096];
    size_t npos;
    int fd;

    (void)state;
    ctx_init(&c);
    append_lines(c.path, "q", 0, 30);
    tail_start(&c, NULL, 1, NULL, 0, 0);
    run_until(&c, 30, 5000);
    npos = take_positions(&c, &pos);
    tail_stop(&c);
    append_lines(c.path, "q", 30, 40);
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s.1'", c.path, c.path);
    assert_int_equal(system(cmd), 0);
    fd = open(c.path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    close(fd);
    append_lines(c.path, "q", 40, 45);
    reset_got(&c);
    tail_start(&c, NULL, 0, pos, npos, 0);
    run_until(&c, 15, 5000);
    run_for(&c, 200);
    assert_int_equal(c.n, 15);
    assert_lines(&c, 0, "q", 30, 45);
    assert_int_equal(slt_tail_truncations(c.t), 1);
    free(pos);
    ctx_release(&c);
}

/* logrotate's shift of access.log.N -> .N+1 in a thread, as fast as it can, no new lines. */
struct shifter {
    const char *path;
    int nrot;          /* access.log.1 .. .nrot exist */
    int max_shifts;    /* bound on the files made (each shift adds an empty access.log) */
    atomic_int run;    /* shift while set */
    atomic_int stop;   /* leave the thread */
    atomic_int shifts; /* done so far */
};

static void *shifter_main(void *arg)
{
    struct shifter *s = arg;
    char from[700], to[700];
    int k, fd;

    while (!atomic_load(&s->stop)) {
        if (!atomic_load(&s->run) || atomic_load(&s->shifts) >= s->max_shifts) {
            usleep(200);
            continue;
        }
        for (k = s->nrot; k >= 1; k--) {
            snprintf(from, sizeof(from), "%s.%d", s->path, k);
            snprintf(to, sizeof(to), "%s.%d", s->path, k + 1);
            assert_int_equal(rename(from, to), 0);
        }
        snprintf(to, sizeof(to), "%s.1", s->path);
        assert_int_equal(rename(s->path, to), 0);
        fd = open(s->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        close(fd);
        s->nrot++;
        atomic_fetch_add(&s->shifts, 1);
    }
    return NULL;
}

/*
 * The startup scan lists siblings by name and then opens them: a rotation in between puts the
 * next-older file at each listed name. Every file is read; then the tailer is restarted from
 * its positions again and again while another thread keeps shifting the names and writes no
 * line: nothing may be read again.
 */
static void it_reads_nothing_again_when_names_shift_during_a_restart(void **state)
{
    struct shifter s;
    struct slt_tail_pos *pos;
    struct ctx c;
    pthread_t th;
    char p[700];
    size_t npos;
    int k, round, total = 0;

    (void)state;
    ctx_init(&c);
    memset(&s, 0, sizeof(s));
    s.path = c.path;
    s.nrot = 40;
    s.max_shifts = 200; /* at most 241 siblings: under the 512 looked at per path */
    for (k = s.nrot; k >= 1; k--) {
        char tag[16];

        snprintf(p, sizeof(p), "%s.%d", c.path, k);
        snprintf(tag, sizeof(tag), "r%d", k);
        append_lines(p, tag, 0, 20);
        total += 20;
    }
    append_lines(c.path, "a", 0, 20);
    total += 20;
    tail_start(&c, NULL, 1, NULL, 0, 0);
    run_until(&c, (size_t)total, 10000);
    run_for(&c, 200);
    assert_int_equal(c.n, total);
    assert_int_equal(pthread_create(&th, NULL, shifter_main, &s), 0);
    for (round = 0; round < 12 && atomic_load(&s.shifts) < s.max_shifts; round++) {
        npos = take_positions(&c, &pos);
        tail_stop(&c);
        atomic_store(&s.run, 1);
        usleep(500); /* shifting when the scan starts */
        tail_start(&c, NULL, 1, pos, npos, 0);
        atomic_store(&s.run, 0);
        free(pos);
        run_for(&c, 150);
        assert_int_equal(c.n, total);
    }
    atomic_store(&s.stop, 1);
    assert_int_equal(pthread_join(th, NULL), 0);
    run_for(&c, 150);
    assert_int_equal(c.n, total);
    assert_true(atomic_load(&s.shifts) > 0);
    ctx_release(&c);
}

/*
 * copytruncate of a file not one line of which was read yet (paused from the start): the copy,
 * already listed by an earlier scan, is read from 0 before the file starts again.
 */
static void it_reads_the_copy_of_a_file_truncated_before_any_line_was_read(void **state)
{
    struct ctx c;
    char cmd[4096];
    int fd;

    (void)state;
    ctx_init(&c);
    append_lines(c.path, "c", 0, 30);
    tail_start(&c, NULL, 1, NULL, 0, 0);
    slt_tail_pause(c.t);
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s.1'", c.path, c.path);
    assert_int_equal(system(cmd), 0);
    run_for(&c, 100); /* scans while paused: the copy is in the sibling snapshot */
    fd = open(c.path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    close(fd);
    append_lines(c.path, "n", 0, 5);
    run_for(&c, 100); /* the truncation is seen while paused */
    assert_int_equal(c.n, 0);
    slt_tail_resume(c.t);
    run_until(&c, 35, 5000);
    run_for(&c, 200);
    assert_int_equal(c.n, 35);
    assert_lines(&c, 0, "c", 0, 30);
    assert_lines(&c, 30, "n", 0, 5);
    ctx_release(&c);
}

static void it_reads_a_file_rotated_away_before_it_was_seen(void **state)
{
    struct ctx c;
    char p1[600], p2[600];

    (void)state;
    ctx_init(&c);
    snprintf(p1, sizeof(p1), "%s.1", c.path);
    snprintf(p2, sizeof(p2), "%s.2", c.path);
    append_lines(p1, "old", 0, 5); /* history from before: never read */
    append_lines(c.path, "v", 0, 10);
    tail_start(&c, NULL, 0, NULL, 0, 0);
    run_for(&c, 60);
    append_lines(c.path, "v", 10, 20);
    /* two logrotate runs before the loop looks again: B lives at the path unseen */
    assert_int_equal(rename(p1, p2), 0);
    assert_int_equal(rename(c.path, p1), 0);
    append_lines(c.path, "v", 20, 30);
    assert_int_equal(rename(p1, p2), 0);
    assert_int_equal(rename(c.path, p1), 0);
    append_lines(c.path, "v", 30, 40);
    run_until(&c, 30, 5000);
    run_for(&c, 300);
    assert_int_equal(c.n, 30);
    assert_lines(&c, 0, "v", 10, 40);
    ctx_release(&c);
}

static void set_mtime(const char *path, time_t when)
{
    struct timespec ts[2];

    ts[0].tv_sec = ts[1].tv_sec = when;
    ts[0].tv_nsec = ts[1].tv_nsec = 0;
    assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void it_backfills_dateext_files_oldest_first(void **state)
{
    struct ctx c;
    char p[600];
    time_t now = time(NULL);

    (void)state;
    ctx_init(&c);
    /* dateext names: the numbers are dates, not logrotate's .N (newest is not .1) */
    snprintf(p, sizeof(p), "%s-20240103", c.path);
    append_lines(p, "e", 200, 300);
    set_mtime(p, now - 86400);
    snprintf(p, sizeof(p), "%s-20240101.gz", c.path);
    write_gz(p, "e", 0, 100);
    set_mtime(p, now - 3 * 86400);
    snprintf(p, sizeof(p), "%s-20240102.gz", c.path);
    write_gz(p, "e", 100, 200);
    set_mtime(p, now - 2 * 86400);
    append_lines(c.path, "e", 300, 350);
    tail_start(&c, NULL, 1, NULL, 0, 0);
    run_until(&c, 350, 5000);
    run_for(&c, 100);
    assert_int_equal(c.n, 350);
    assert_lines(&c, 0, "e", 0, 350);
    ctx_release(&c);
}

static void it_resumes_exactly_after_a_pause_inside_on_line(void **state)
{
    struct ctx c;
    struct slt_tail_pos *pos;
    size_t npos;

    (void)state;
    ctx_init(&c);
    append_lines(c.path, "m", 0, 1000); /* one read: the pause falls inside the buffer */
    c.pause_at = 377;
    tail_start(&c, NULL, 1, NULL, 0, 0);
    run_until(&c, 377, 5000);
    run_for(&c, 60);
    assert_int_equal(c.n, 377);
    npos = take_positions(&c, &pos);
    assert_int_equal(files_followed(c.t), 1);
    assert_int_equal(pos[0].offset, 377 * 9);
    tail_stop(&c); /* a crash here loses nothing: the checkpoint has these positions */
    reset_got(&c);
    c.pause_at = 0;
    tail_start(&c, NULL, 0, pos, npos, 0);
    run_until(&c, 623, 5000);
    run_for(&c, 60);
    assert_int_equal(c.n, 623);
    assert_lines(&c, 0, "m", 377, 1000);
    free(pos);
    ctx_release(&c);
}

static void it_follows_many_files_of_one_glob(void **state)
{
    struct ctx c;
    char pattern[600], p[700];
    size_t i, per[150] = {0};
    int k;

    (void)state;
    ctx_init(&c);
    snprintf(pattern, sizeof(pattern), "%s/*.log", c.dir);
    for (k = 0; k < 150; k++) {
        snprintf(p, sizeof(p), "%s/vhost%03d.log", c.dir, k);
        append_lines(p, "h", 0, 1);
    }
    tail_start(&c, pattern, 0, NULL, 0, 0);
    run_for(&c, 60);
    for (k = 0; k < 150; k++) {
        char tag[16];

        snprintf(p, sizeof(p), "%s/vhost%03d.log", c.dir, k);
        snprintf(tag, sizeof(tag), "%03d", k);
        append_lines(p, tag, 0, 10);
    }
    run_until(&c, 1500, 10000);
    run_for(&c, 100);
    assert_int_equal(c.n, 1500);
    for (i = 0; i < c.n; i++) {
        k = atoi(c.got[i]);
        assert_true(k >= 0 && k < 150);
        /* in order within each file */
        assert_int_equal(atoi(c.got[i] + 4), per[k]);
        per[k]++;
    }
    ctx_release(&c);
}

static void it_fails_cleanly_when_memory_runs_out_at_start(void **state)
{
    struct ctx c;
    const char *paths[1];
    struct slt_tail_opts o;
    char p[600];
    long n;
    int rc = -1;

    (void)state;
    ctx_init(&c);
    snprintf(p, sizeof(p), "%s.2.gz", c.path);
    write_gz(p, "n", 0, 10);
    snprintf(p, sizeof(p), "%s.1", c.path);
    append_lines(p, "n", 10, 20);
    append_lines(c.path, "n", 20, 30);
    paths[0] = c.path;
    memset(&o, 0, sizeof(o));
    o.paths = paths;
    o.npaths = 1;
    o.read_from_beginning = 1;
    o.on_line = on_line;
    o.data = &c;
    /* every allocation in turn fails: an error, never a crash or a leak (ASan checks) */
    for (n = 0; n < 200 && rc != 0; n++) {
        slt_alloc_fail_after(n);
        rc = slt_tail_new(&c.loop, &o, NULL, 0, &c.t);
        slt_alloc_fail_after(-1);
        if (rc != 0)
            assert_int_equal(rc, SLT_ENOMEM);
    }
    assert_int_equal(rc, 0);
    run_until(&c, 30, 5000);
    assert_lines(&c, 0, "n", 0, 30);
    ctx_release(&c);
}

static void close_on_line(void *data, struct slt_tail_file *f, const char *line, size_t len,
                          unsigned flags, uint64_t end_offset)
{
    struct ctx *c = data;

    on_line(data, f, line, len, flags, end_offset);
    if (c->n == 3)
        slt_tail_close(c->t, on_closed, c);
}

static void it_can_be_closed_from_inside_on_line(void **state)
{
    struct ctx c;
    const char *paths[1];
    struct slt_tail_opts o;
    int base;

    (void)state;
    ctx_init(&c);
    tail_start(&c, NULL, 0, NULL, 0, 0);
    run_for(&c, 30);
    tail_stop(&c);
    base = count_fds();
    append_lines(c.path, "k", 0, 100);
    paths[0] = c.path;
    memset(&o, 0, sizeof(o));
    o.paths = paths;
    o.npaths = 1;
    o.read_from_beginning = 1;
    o.on_line = close_on_line;
    o.data = &c;
    assert_int_equal(slt_tail_new(&c.loop, &o, NULL, 0, &c.t), 0);
    run_until(&c, 100, 500);
    while (!c.closed)
        uv_run(&c.loop, UV_RUN_ONCE);
    c.t = NULL;
    assert_int_equal(c.n, 3);
    assert_int_equal(count_fds(), base);
    ctx_release(&c);
}

static void it_survives_a_damaged_restore_position(void **state)
{
    struct ctx c;
    struct slt_tail_pos bad[2];

    (void)state;
    ctx_init(&c);
    append_lines(c.path, "b", 0, 10);
    memset(bad, 'A', sizeof(bad)); /* paths without NUL, absurd numbers */
    bad[1].fp_len = 100000;
    bad[1].flags = SLT_TAIL_POS_GZ | SLT_TAIL_POS_SKIP;
    tail_start(&c, NULL, 0, bad, 2, 0);
    append_lines(c.path, "b", 10, 12);
    run_until(&c, 2, 5000);
    run_for(&c, 60);
    assert_int_equal(c.n, 2);
    assert_lines(&c, 0, "b", 10, 12);
    ctx_release(&c);
}

static void it_copytruncate_with_compression_loses_no_line(void **state)
{
    struct ctx c;
    char cmd[4096];
    int fd;

    (void)state;
    ctx_init(&c);
    fd = open_append(c.path);
    tail_start(&c, NULL, 0, NULL, 0, 0);
    write_lines(fd, "y", 0, 100);
    run_until(&c, 100, 5000);
    write_lines(fd, "y", 100, 200); /* not read yet: only the compressed copy keeps them */
    snprintf(cmd, sizeof(cmd), "gzip -c '%s' > '%s.1.gz'", c.path, c.path);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(ftruncate(fd, 0), 0);
    write_lines(fd, "y", 200, 250);
    close(fd);
    run_until(&c, 250, 5000);
    run_for(&c, 200);
    assert_int_equal(c.n, 250);
    assert_lines(&c, 0, "y", 0, 250);
    assert_int_equal(slt_tail_truncations(c.t), 1);
    ctx_release(&c);
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void it_backfills_real_logs_exactly(void **state)
{
    struct ctx c;
    char cmd[4096];
    uint64_t bytes = 0;
    size_t i, oversize_at = 0, noversize = 0;

    (void)state;
    ctx_init(&c);
    /* real third-party logs (SOURCES.md): 2492 lines gzipped, 10000, then 1000 live */
    snprintf(cmd, sizeof(cmd),
             "cp '%s/lnav-test-logs/playground-access_log.gz' '%s.2.gz' && "
             "cp '%s/elastic-examples-apache/apache_logs' '%s.1' && "
             "cp '%s/lnav-test-logs/logfile_shop_access_log.0' '%s'",
             SLT_REAL_DATA, c.path, SLT_REAL_DATA, c.path, SLT_REAL_DATA, c.path);
    assert_int_equal(system(cmd), 0);
    tail_start(&c, NULL, 1, NULL, 0, 1024);
    run_until(&c, 13492, 10000);
    run_for(&c, 100);
    assert_int_equal(c.n, 13492);
    for (i = 0; i < c.n; i++) {
        bytes += strlen(c.got[i]);
        if (c.flags[i] & SLT_TAIL_OVERSIZE) {
            oversize_at = i;
            noversize++;
        }
    }
    /* apache_logs line 3029 is 1363 bytes: the only line over 1024, cut to 1024 */
    assert_int_equal(noversize, 1);
    assert_int_equal(oversize_at, 2492 + 3028);
    assert_int_equal(bytes, 452222 + (2360789 - 1363 + 1024) + 307554);
    assert_true(starts_with(c.got[2492], "83.149.9.216 - - [17/May/2015:10:05:03 +0000]"));
    assert_true(starts_with(c.got[0], "192.0.2.122 - combatcarl@example.com [11/Jan/2022"));
    assert_true(starts_with(c.got[12492], "54.36.149.41 - - [22/Jan/2019:03:56:14 +0330]"));
    ctx_release(&c);
}

static void it_reads_late_writes_to_a_closed_rotated_file_once(void **state)
{
    struct ctx c;
    char p1[600], p2[600];
    int late;

    (void)state;
    ctx_init(&c);
    snprintf(p1, sizeof(p1), "%s.1", c.path);
    snprintf(p2, sizeof(p2), "%s.2", c.path);
    late = open_append(c.path);
    tail_start(&c, NULL, 0, NULL, 0, 0);
    write_lines(late, "a", 0, 10);
    run_until(&c, 10, 5000);
    assert_int_equal(rename(c.path, p1), 0);
    append_lines(c.path, "b", 0, 10);
    run_until(&c, 20, 5000);
    run_until_files(&c, 1, 5000); /* the rotated file is closed after rotate_wait */
    /* a writer that reopens later than rotate_wait */
    write_lines(late, "a", 10, 15);
    close(late);
    run_for(&c, 60);
    /* found grown: read on from where we stopped, then rotated once more */
    assert_int_equal(rename(p1, p2), 0);
    assert_int_equal(rename(c.path, p1), 0);
    append_lines(c.path, "c", 0, 10);
    run_until(&c, 35, 5000);
    run_for(&c, 200);
    assert_int_equal(c.n, 35);
    assert_lines(&c, 0, "a", 0, 10);
    assert_lines(&c, 10, "b", 0, 10);
    assert_lines(&c, 20, "a", 10, 15);
    assert_lines(&c, 25, "c", 0, 10);
    ctx_release(&c);
}

/* logrotate with `create`, `delaycompress`, `compress`, no deletion: .N -> .N+1, .2 gzipped */
static void logrotate(const char *path)
{
    char a[700], b[700], cmd[4096];
    int n;

    for (n = 8; n >= 2; n--) {
        snprintf(a, sizeof(a), "%s.%d.gz", path, n);
        snprintf(b, sizeof(b), "%s.%d.gz", path, n + 1);
        if (access(a, F_OK) == 0)
            assert_int_equal(rename(a, b), 0);
    }
    snprintf(a, sizeof(a), "%s.1", path);
    snprintf(b, sizeof(b), "%s.2", path);
    if (access(a, F_OK) == 0) {
        assert_int_equal(rename(a, b), 0);
        snprintf(cmd, sizeof(cmd), "gzip -f '%s'", b);
        assert_int_equal(system(cmd), 0);
    }
    assert_int_equal(rename(path, a), 0);
}

/* The same with `copytruncate`: the live file keeps its inode; the writer is paused. */
static void logrotate_copytruncate(const char *path, int fd)
{
    char cmd[4096];

    logrotate(path); /* shifts, and moves the live file to .1 */
    snprintf(cmd, sizeof(cmd), "cp '%s.1' '%s.tmp' && mv '%s.1' '%s' && mv '%s.tmp' '%s.1'", path,
             path, path, path, path, path);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(ftruncate(fd, 0), 0);
}

static void it_counts_every_line_once_across_crashes_and_rotations(void **state)
{
    struct ctx c;
    struct slt_tail_pos *pos = NULL;
    size_t npos = 0;
    unsigned seed = 12345;
    int fd, round, next = 0, crashes = 0, rotations = 0;

    (void)state;
    /* SLT_TEST_SEED=N replays another sequence of writes, rotations and crashes */
    if (getenv("SLT_TEST_SEED"))
        seed = (unsigned)strtoul(getenv("SLT_TEST_SEED"), NULL, 10);
    ctx_init(&c);
    fd = open_append(c.path);
    tail_start(&c, NULL, 1, NULL, 0, 0);
    for (round = 0; round < 60; round++) {
        int k = (int)(rand_r(&seed) % 200), rotated = 1;

        write_lines(fd, "s", next, next + k);
        next += k;
        if (getenv("SLT_TEST_TRACE"))
            fprintf(stderr, "round %d wrote to %d\n", round, next);
        if (rand_r(&seed) % 7 == 0) {
            logrotate_copytruncate(c.path, fd);
            rotations++;
            if (getenv("SLT_TEST_TRACE"))
                fprintf(stderr, "copytruncate\n");
        } else if (rand_r(&seed) % 3 == 0) {
            logrotate(c.path);
            rotations++;
            /* nginx writes on in the old file until it reopens */
            k = (int)(rand_r(&seed) % 20);
            write_lines(fd, "s", next, next + k);
            next += k;
            close(fd);
            fd = open_append(c.path);
            if (getenv("SLT_TEST_TRACE"))
                fprintf(stderr, "rotated, late lines to %d\n", next);
        } else
            rotated = 0;
        /* logrotate does not run twice before the tailer scans (docs/AGENT.md, Tailing,
           Limits): a few loop turns see the inotify event, then scan in the idle callback,
           however loaded */
        if (rotated) {
            int turn;

            for (turn = 0; turn < 3; turn++)
                uv_run(&c.loop, UV_RUN_ONCE);
        }
        run_for(&c, (int)(rand_r(&seed) % 25));
        if (rand_r(&seed) % 6 == 0) {
            /* checkpoint, go on a little, crash: what came after the checkpoint is lost */
            size_t at;

            free(pos);
            npos = take_positions(&c, &pos);
            at = c.n;
            run_for(&c, (int)(rand_r(&seed) % 10));
            tail_stop(&c);
            while (c.n > at)
                free(c.got[--c.n]);
            /* while down: more lines, maybe a rotation (the file we were in gets compressed
               by the one after) */
            k = (int)(rand_r(&seed) % 50);
            write_lines(fd, "s", next, next + k);
            next += k;
            if (rand_r(&seed) % 2 == 0) {
                logrotate(c.path);
                rotations++;
                close(fd);
                fd = open_append(c.path);
            }
            tail_start(&c, NULL, 1, pos, npos, 0);
            crashes++;
            if (getenv("SLT_TEST_TRACE"))
                fprintf(stderr, "crashed at %zu, wrote to %d\n", at, next);
        }
    }
    close(fd);
    run_until(&c, (size_t)next, 20000);
    run_for(&c, 300);
    if (!getenv("SLT_TEST_SEED")) {
        assert_true(crashes > 3);
        assert_true(rotations > 10);
    }
    assert_lines(&c, 0, "s", 0, (int)c.n);
    assert_int_equal(c.n, next);
    free(pos);
    ctx_release(&c);
}

static void it_restarts_as_a_restart_when_no_file_was_followed(void **state)
{
    struct ctx c;
    struct slt_tail_pos *pos;
    char p1[600];
    size_t npos;

    (void)state;
    ctx_init(&c);
    snprintf(p1, sizeof(p1), "%s.1", c.path);
    append_lines(p1, "o", 0, 10); /* history only: the live file does not exist yet */
    tail_start(&c, NULL, 1, NULL, 0, 0);
    run_until(&c, 10, 5000);
    run_until_files(&c, 0, 5000);
    assert_int_equal(files_followed(c.t), 0);
    npos = take_positions(&c, &pos);
    assert_int_equal(npos, 1); /* the path's mark: positions are never empty */
    assert_int_equal(pos[0].flags & SLT_TAIL_POS_MARK, SLT_TAIL_POS_MARK);
    tail_stop(&c);
    append_lines(c.path, "n", 0, 5); /* created while down */
    reset_got(&c);
    /* not a first start: no backfill again; the new file is read whole even from the end */
    tail_start(&c, NULL, 0, pos, npos, 0);
    run_until(&c, 5, 5000);
    run_for(&c, 100);
    assert_int_equal(c.n, 5);
    assert_lines(&c, 0, "n", 0, 5);
    free(pos);
    ctx_release(&c);
}

static void on_tick(uv_timer_t *h)
{
    (void)h;
}

static void it_wakes_the_written_file_through_inotify_alone(void **state)
{
    struct ctx c;
    uv_timer_t tick;
    const char *paths[1];
    struct slt_tail_opts o;
    char pattern[600], p[700];
    int k;

    (void)state;
    ctx_init(&c);
    snprintf(pattern, sizeof(pattern), "%s/*.log", c.dir);
    for (k = 0; k < 100; k++) {
        snprintf(p, sizeof(p), "%s/site%03d.log", c.dir, k);
        append_lines(p, "h", 0, 1);
    }
    paths[0] = pattern;
    memset(&o, 0, sizeof(o));
    o.paths = paths;
    o.npaths = 1;
    o.poll_ms = 60000; /* no poll within the test: only a write event can wake a file */
    o.on_line = on_line;
    o.data = &c;
    assert_int_equal(slt_tail_new(&c.loop, &o, NULL, 0, &c.t), 0);
    /* the loop must not sleep until the poll: a tick makes the 2 s bound below real */
    assert_int_equal(uv_timer_init(&c.loop, &tick), 0);
    assert_int_equal(uv_timer_start(&tick, on_tick, 10, 10), 0);
    run_for(&c, 30);
    for (k = 0; k < 100; k += 33) {
        snprintf(p, sizeof(p), "%s/site%03d.log", c.dir, k);
        append_lines(p, "w", k, k + 1);
    }
    run_until(&c, 4, 2000);
    assert_int_equal(c.n, 4);
    uv_close((uv_handle_t *)&tick, NULL);
    ctx_release(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(it_delivers_every_line_once_in_order),
        cmocka_unit_test(it_starts_at_the_end_by_default_and_skips_a_partial_line),
        cmocka_unit_test(it_holds_a_partial_line_until_its_newline),
        cmocka_unit_test(it_delivers_an_oversize_line_once),
        cmocka_unit_test(it_follows_rename_rotation_without_loss_or_duplicate),
        cmocka_unit_test(it_rotates_under_a_concurrent_writer_without_loss_or_duplicate),
        cmocka_unit_test(it_reads_a_file_rotated_away_before_it_was_seen),
        cmocka_unit_test(it_reads_nothing_again_when_names_shift_during_a_restart),
        cmocka_unit_test(it_reads_the_copy_of_a_file_truncated_before_any_line_was_read),
        cmocka_unit_test(it_reads_late_writes_to_a_closed_rotated_file_once),
        cmocka_unit_test(it_copytruncate_loses_no_line),
        cmocka_unit_test(it_recovers_a_copytruncate_done_while_down),
        cmocka_unit_test(it_copytruncate_with_compression_loses_no_line),
        cmocka_unit_test(it_counts_an_in_place_truncation_and_reads_from_zero),
        cmocka_unit_test(it_drains_a_deleted_file_then_closes_it),
        cmocka_unit_test(it_picks_up_a_new_file_matching_a_glob_from_its_start),
        cmocka_unit_test(it_resumes_exactly_from_restored_positions_across_a_rotation),
        cmocka_unit_test(it_resumes_a_partial_line_and_an_oversize_skip_exactly),
        cmocka_unit_test(it_does_not_confuse_a_reused_inode_or_a_copy),
        cmocka_unit_test(it_backfills_rotated_files_oldest_first_exactly_once),
        cmocka_unit_test(it_restarts_as_a_restart_when_no_file_was_followed),
        cmocka_unit_test(it_resumes_a_backfill_interrupted_inside_a_gz),
        cmocka_unit_test(it_finds_a_rotated_file_compressed_while_down),
        cmocka_unit_test(it_counts_a_corrupt_gz_as_an_error_and_moves_on),
        cmocka_unit_test(it_delivers_nothing_while_paused),
        cmocka_unit_test(it_resumes_exactly_after_a_pause_inside_on_line),
        cmocka_unit_test(it_backfills_dateext_files_oldest_first),
        cmocka_unit_test(it_backfills_real_logs_exactly),
        cmocka_unit_test(it_counts_every_line_once_across_crashes_and_rotations),
        cmocka_unit_test(it_follows_many_files_of_one_glob),
        cmocka_unit_test(it_wakes_the_written_file_through_inotify_alone),
        cmocka_unit_test(it_follows_a_symlinked_log_through_rotation),
        cmocka_unit_test(it_returns_fds_to_baseline_after_rotations_and_close),
        cmocka_unit_test(it_fails_cleanly_when_memory_runs_out_at_start),
        cmocka_unit_test(it_can_be_closed_from_inside_on_line),
        cmocka_unit_test(it_survives_a_damaged_restore_position),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
