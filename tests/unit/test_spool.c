#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool.h"

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/slt-spool-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[300];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void append_n(struct slt_spool *sp, uint64_t epoch, uint64_t from, uint64_t n,
                     int64_t created)
{
    char frame[100], st[20];
    uint64_t s;

    for (s = from; s < from + n; s++) {
        int fl = snprintf(frame, sizeof(frame), "frame-%" PRIu64 "-xxxxxxxxxxxxxxxxxxxx", s);
        int sl = snprintf(st, sizeof(st), "st%" PRIu64, s);

        assert_int_equal(slt_spool_append(sp, epoch, s, created, frame, (size_t)fl, st, (size_t)sl),
                         0);
    }
}

static void check_frame(struct slt_spool *sp, size_t i, uint64_t seq)
{
    struct slt_buf b;
    char want[100];
    int n = snprintf(want, sizeof(want), "frame-%" PRIu64 "-xxxxxxxxxxxxxxxxxxxx", seq);

    slt_buf_init(&b, 1 << 20);
    assert_int_equal(slt_spool_read_frame(sp, i, &b), 0);
    assert_int_equal(b.len, (size_t)n);
    assert_memory_equal(b.p, want, (size_t)n);
    b.len = 0;
    n = snprintf(want, sizeof(want), "st%" PRIu64, seq);
    assert_int_equal(slt_spool_read_state(sp, i, &b), 0);
    assert_int_equal(b.len, (size_t)n);
    assert_memory_equal(b.p, want, (size_t)n);
    slt_buf_release(&b);
}

static void test_records_survive_reopen_in_order(void **state)
{
    struct slt_spool *sp;
    size_t i;

    (void)state;
    assert_int_equal(slt_spool_open(tmpdir, 1 << 20, 4096, &sp), 0);
    append_n(sp, 7, 1, 200, 1000);
    assert_true(sp->nsegs > 1);
    slt_spool_free(sp);
    assert_int_equal(slt_spool_open(tmpdir, 1 << 20, 4096, &sp), 0);
    assert_int_equal(slt_spool_count(sp), 200);
    assert_int_equal(sp->unacked, 200);
    for (i = 0; i < 200; i++) {
        assert_int_equal(slt_spool_at(sp, i)->seq, i + 1);
        check_frame(sp, i, i + 1);
    }
    assert_int_equal(slt_spool_find(sp, 7, 150), 149);
    assert_int_equal(slt_spool_find(sp, 7, 201), -1);
    assert_int_equal(slt_spool_find(sp, 6, 1), -1);
    /* appends after a reopen continue in a new segment */
    append_n(sp, 7, 201, 1, 1000);
    assert_int_equal(slt_spool_find(sp, 7, 201), 200);
    check_frame(sp, 200, 201);
    slt_spool_free(sp);
}

static void last_segment(char *path, size_t len)
{
    char cmd[400];
    FILE *f;

    snprintf(cmd, sizeof(cmd), "ls %s/*.seg | tail -1", tmpdir);
    f = popen(cmd, "r");
    assert_non_null(f);
    assert_non_null(fgets(path, (int)len, f));
    path[strcspn(path, "\n")] = '\0';
    pclose(f);
}

static void test_torn_tail_record_is_truncated_away(void **state)
{
    struct slt_spool *sp;
    char path[400];
    struct stat st;

    (void)state;
    assert_int_equal(slt_spool_open(tmpdir, 1 << 20, 1 << 20, &sp), 0);
    append_n(sp, 1, 1, 10, 1000);
    slt_spool_free(sp);
    last_segment(path, sizeof(path));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(truncate(path, st.st_size - 5), 0);
    assert_int_equal(slt_spool_open(tmpdir, 1 << 20, 1 << 20, &sp), 0);
    assert_int_equal(slt_spool_count(sp), 9);
    assert_true(sp->repaired_bytes > 0);
    check_frame(sp, 8, 9);
    slt_spool_free(sp);
    /* the file was cut back to the last valid record */
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(slt_spool_open(tmpdir, 1 << 20, 1 << 20, &sp), 0);
    assert_int_equal(sp->repaired_bytes, 0);
    assert_int_equal(slt_spool_count(sp), 9);
    slt_spool_free(sp);
}

static void test_corrupt_record_ends_the_segment(void **state)
{
    struct slt_spool *sp;
    char path[400], c;
    int fd;

    (void)state;
    assert_int_equal(slt_spool_open(tmpdir, 1 << 20, 1 << 20, &sp), 0);
    append_n(sp, 1, 1, 10, 1000);
    slt_spool_free(sp);
    last_segment(path, sizeof(path));
    fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    /* a byte inside the body of the 6th record: records are equal-sized here */
    off_t rec = lseek(fd, 0, SEEK_END) / 10;
    assert_int_equal(pread(fd, &c, 1, rec * 5 + 20), 1);
    c ^= 1;
    assert_int_equal(pwrite(fd, &c, 1, rec * 5 + 20), 1);
    close(fd);
    assert_int_equal(slt_spool_open(tmpdir, 1 << 20, 1 << 20, &sp), 0);
    assert_int_equal(slt_spool_count(sp), 5);
    slt_spool_free(sp);
}

static void test_prune_keeps_unacked_and_recent_records(void **state)
{
    struct slt_spool *sp;
    size_t i;

    (void)state;
    assert_int_equal(slt_spool_open(tmpdir, 1 << 20, 4096, &sp), 0);
    append_n(sp, 1, 1, 100, 1000);
    append_n(sp, 1, 101, 100, 500000);
    /* nothing acked: nothing goes, however old */
    assert_int_equal(slt_spool_prune(sp, 10000000, 1000, 0), 0);
    for (i = 0; i < 150; i++)
        slt_spool_set_acked(sp, i, 1);
    assert_int_equal(sp->unacked, 50);
    /* retention 100 s at t=200 s: the old half may go, whole segments only */
    size_t n = slt_spool_prune(sp, 200000, 100000, 0);
    assert_true(n > 0 && n <= 100);
    assert_int_equal(slt_spool_at(sp, 0)->seq, n + 1);
    assert_int_equal(sp->pruned_early, 0);
    /* the remaining acked ones are recent */
    assert_int_equal(slt_spool_prune(sp, 200000, 100000, 0), 0);
    check_frame(sp, 0, n + 1);
    assert_int_equal(slt_spool_find(sp, 1, 200), 199 - (long)n);
    slt_spool_free(sp);
    /* reopen sees what is left */
    assert_int_equal(slt_spool_open(tmpdir, 1 << 20, 4096, &sp), 0);
    assert_int_equal(slt_spool_count(sp), 200 - n);
    slt_spool_free(sp);
}

static void test_full_spool_prunes_acked_records_early(void **state)
{
    struct slt_spool *sp;
    size_t i;

    (void)state;
    assert_int_equal(slt_spool_open(tmpdir, 20000, 4096, &sp), 0);
    append_n(sp, 1, 1, 400, 1000);
    assert_true(slt_spool_full(sp));
    for (i = 0; i < slt_spool_count(sp); i++)
        slt_spool_set_acked(sp, i, 1);
    assert_true(slt_spool_prune(sp, 2000, 600000, 0) > 0);
    assert_false(slt_spool_full(sp));
    assert_true(sp->bytes <= 10000);
    assert_true(sp->pruned_early > 0);
    slt_spool_free(sp);
}

/* A full disk: acknowledged records go before their retention, but the newest record's segment
 * stays when asked (it is the state when the checkpoint cannot be written). */
static void test_disk_full_prunes_early_and_can_keep_the_newest_record(void **state)
{
    struct slt_spool *sp;
    size_t i, n;

    (void)state;
    assert_int_equal(slt_spool_open(tmpdir, 1 << 30, 4096, &sp), 0);
    append_n(sp, 1, 1, 300, 1000);
    for (i = 0; i < slt_spool_count(sp); i++)
        slt_spool_set_acked(sp, i, 1);
    /* recent and far below max_bytes: nothing goes without EARLY */
    assert_int_equal(slt_spool_prunable(sp, 2000, 600000, 0), 0);
    assert_true(slt_spool_prunable(sp, 2000, 600000, SLT_SPOOL_PRUNE_EARLY) > 0);
    n = slt_spool_prune(sp, 2000, 600000, SLT_SPOOL_PRUNE_EARLY | SLT_SPOOL_PRUNE_KEEP_LAST);
    assert_true(n > 0 && n < 300);
    assert_int_equal(slt_spool_at(sp, slt_spool_count(sp) - 1)->seq, 300);
    assert_int_equal(
        slt_spool_prunable(sp, 2000, 600000, SLT_SPOOL_PRUNE_EARLY | SLT_SPOOL_PRUNE_KEEP_LAST), 0);
    /* with the checkpoint written, the rest may go too */
    assert_int_equal(slt_spool_prune(sp, 2000, 600000, SLT_SPOOL_PRUNE_EARLY), 300 - n);
    assert_int_equal(slt_spool_count(sp), 0);
    slt_spool_free(sp);
}

/* A name that only looks like a segment's (past 2^64, signed, spaced) is ignored, not opened. */
static void test_foreign_segment_names_are_ignored(void **state)
{
    static const char *names[] = {"99999999999999999999.seg", "-0000000000000000001.seg",
                                  " 0000000000000000001.seg", "+0000000000000000001.seg",
                                  "00000000000000000000.seg"};
    struct slt_spool *sp;
    char path[400];
    size_t i;

    (void)state;
    assert_int_equal(slt_spool_open(tmpdir, 1 << 20, 4096, &sp), 0);
    append_n(sp, 1, 1, 3, 1000);
    slt_spool_free(sp);
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
        f = fopen(path, "w");
        assert_non_null(f);
        fputs("not a segment", f);
        fclose(f);
    }
    assert_int_equal(slt_spool_open(tmpdir, 1 << 20, 4096, &sp), 0);
    assert_int_equal(slt_spool_count(sp), 3);
    check_frame(sp, 2, 3);
    append_n(sp, 1, 4, 1, 1000);
    assert_int_equal(slt_spool_count(sp), 4);
    slt_spool_free(sp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_records_survive_reopen_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_segment_names_are_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disk_full_prunes_early_and_can_keep_the_newest_record,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_record_is_truncated_away, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_record_ends_the_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune_keeps_unacked_and_recent_records, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_full_spool_prunes_acked_records_early, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
