#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ckpt.h"

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/slt-ckpt-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[300];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void make_state(struct slt_state *st, uint64_t seq)
{
    memset(st, 0, sizeof(*st));
    st->epoch = 1700000000123ull;
    st->seq = seq;
    st->acked_seq = seq - 1;
    st->nseries = 2;
    st->series = calloc(2, sizeof(*st->series));
    st->series[0].kind = 0;
    st->series[0].name = slt_strdup("availability");
    st->series[0].since = 1;
    st->series[1].kind = 1;
    st->series[1].name = slt_strdup("web");
    st->series[1].since = 3;
    st->ninputs = 1;
    st->inputs = calloc(1, sizeof(*st->inputs));
    st->inputs[0].name = slt_strdup("web");
    st->inputs[0].npos = 2;
    st->inputs[0].pos = calloc(2, sizeof(struct slt_tail_pos));
    st->inputs[0].pos[0].ino = 42;
    st->inputs[0].pos[0].offset = seq * 100;
    strcpy(st->inputs[0].pos[0].path, "/var/log/nginx/access.log");
    st->inputs[0].pos[1].ino = 41;
    st->inputs[0].pos[1].flags = SLT_TAIL_POS_DONE;
    strcpy(st->inputs[0].pos[1].path, "/var/log/nginx/access.log.1");
}

static void test_state_round_trips(void **state)
{
    struct slt_state a, b;
    struct slt_buf buf;

    (void)state;
    make_state(&a, 7);
    slt_buf_init(&buf, 1 << 20);
    assert_int_equal(slt_state_encode(&a, &buf), 0);
    assert_int_equal(slt_state_decode(buf.p, buf.len, &b), 0);
    assert_int_equal(b.epoch, a.epoch);
    assert_int_equal(b.seq, 7);
    assert_int_equal(b.acked_seq, 6);
    assert_int_equal(b.nseries, 2);
    assert_string_equal(b.series[1].name, "web");
    assert_int_equal(slt_state_since(&b, 1, "web"), 3);
    assert_int_equal(slt_state_since(&b, 0, "web"), 0);
    assert_non_null(slt_state_input(&b, "web"));
    assert_int_equal(slt_state_input(&b, "web")->pos[0].offset, 700);
    assert_string_equal(slt_state_input(&b, "web")->pos[1].path, "/var/log/nginx/access.log.1");
    assert_int_equal(slt_state_input(&b, "web")->pos[1].flags, SLT_TAIL_POS_DONE);
    slt_state_release(&b);
    /* every truncation of the encoding is refused, never read past */
    for (size_t n = 0; n < buf.len; n++)
        assert_int_equal(slt_state_decode(buf.p, n, &b) == SLT_ECORRUPT, 1);
    slt_state_release(&a);
    slt_buf_release(&buf);
}

static void write_ckpt(uint64_t seq)
{
    struct slt_state a;
    struct slt_buf buf;

    make_state(&a, seq);
    slt_buf_init(&buf, 1 << 20);
    assert_int_equal(slt_state_encode(&a, &buf), 0);
    assert_int_equal(slt_ckpt_write(tmpdir, buf.p, buf.len), 0);
    slt_state_release(&a);
    slt_buf_release(&buf);
}

static uint64_t read_seq(int *from_prev)
{
    struct slt_buf buf;
    struct slt_state b;
    uint64_t seq;

    slt_buf_init(&buf, 1 << 20);
    assert_int_equal(slt_ckpt_read(tmpdir, &buf, from_prev), 0);
    assert_int_equal(slt_state_decode(buf.p, buf.len, &b), 0);
    seq = b.seq;
    slt_state_release(&b);
    slt_buf_release(&buf);
    return seq;
}

static void test_missing_checkpoint_is_not_found(void **state)
{
    struct slt_buf buf;
    int prev = 0;

    (void)state;
    slt_buf_init(&buf, 1 << 20);
    assert_int_equal(slt_ckpt_read(tmpdir, &buf, &prev), SLT_ENOTFOUND);
    slt_buf_release(&buf);
}

static void test_checkpoint_reads_back_the_newest(void **state)
{
    int prev = -1;

    (void)state;
    write_ckpt(5);
    write_ckpt(6);
    assert_int_equal(read_seq(&prev), 6);
    assert_int_equal(prev, 0);
}

static void test_torn_checkpoint_falls_back_to_the_previous(void **state)
{
    char path[300];
    int prev = -1;

    (void)state;
    write_ckpt(5);
    write_ckpt(6);
    snprintf(path, sizeof(path), "%s/checkpoint", tmpdir);
    assert_int_equal(truncate(path, 40), 0);
    assert_int_equal(read_seq(&prev), 5);
    assert_int_equal(prev, 1);
}

static void test_flipped_byte_falls_back_to_the_previous(void **state)
{
    char path[300];
    int prev = -1, fd;
    char c;

    (void)state;
    write_ckpt(8);
    write_ckpt(9);
    snprintf(path, sizeof(path), "%s/checkpoint", tmpdir);
    fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &c, 1, 30), 1);
    c ^= 0x10;
    assert_int_equal(pwrite(fd, &c, 1, 30), 1);
    close(fd);
    assert_int_equal(read_seq(&prev), 8);
    assert_int_equal(prev, 1);
}

static void test_crash_between_renames_keeps_the_previous(void **state)
{
    char path[300];
    int prev = -1;

    (void)state;
    write_ckpt(3);
    write_ckpt(4);
    snprintf(path, sizeof(path), "%s/checkpoint", tmpdir);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(read_seq(&prev), 3);
    assert_int_equal(prev, 1);
}

static void test_both_corrupt_is_reported(void **state)
{
    char path[300];
    struct slt_buf buf;
    int prev;

    (void)state;
    write_ckpt(3);
    write_ckpt(4);
    snprintf(path, sizeof(path), "%s/checkpoint", tmpdir);
    assert_int_equal(truncate(path, 3), 0);
    snprintf(path, sizeof(path), "%s/checkpoint.prev", tmpdir);
    assert_int_equal(truncate(path, 20), 0);
    slt_buf_init(&buf, 1 << 20);
    assert_int_equal(slt_ckpt_read(tmpdir, &buf, &prev), SLT_ECORRUPT);
    slt_buf_release(&buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_round_trips),
        cmocka_unit_test_setup_teardown(test_missing_checkpoint_is_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_reads_back_the_newest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_checkpoint_falls_back_to_the_previous, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_flipped_byte_falls_back_to_the_previous, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_crash_between_renames_keeps_the_previous, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_both_corrupt_is_reported, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
