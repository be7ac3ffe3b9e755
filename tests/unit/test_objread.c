/* Whole objects read as lines (agent/src/objread.c): gzip in any chunking, resume, pause. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "objread.h"
#include "slt/common.h"

struct got {
    char text[1 << 16];
    size_t len;
    unsigned lines, oversize;
    uint64_t last_end;
    struct slt_objread *pause_r; /* pause after every line when set */
};

static void on_line(void *data, struct slt_tail_file *f, const char *line, size_t len,
                    unsigned flags, uint64_t end)
{
    struct got *g = data;

    (void)f;
    assert_true(g->len + len + 1 < sizeof(g->text));
    memcpy(g->text + g->len, line, len);
    g->len += len;
    g->text[g->len++] = '\n';
    g->lines++;
    if (flags & SLT_TAIL_OVERSIZE)
        g->oversize++;
    assert_true(end > g->last_end || g->lines == 1);
    g->last_end = end;
    if (g->pause_r)
        slt_objread_pause(g->pause_r);
}

/* gzip of p..p+n (one member) into out; returns its length. */
static size_t gzip_of(const char *p, size_t n, unsigned char *out, size_t cap)
{
    z_stream zs;

    memset(&zs, 0, sizeof(zs));
    assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = (unsigned char *)(uintptr_t)p;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    deflateEnd(&zs);
    return cap - zs.avail_out;
}

static const char TEXT[] = "one\ntwo two\nthree three three\n\nfive\nlast without newline";

/* Feeds p in chunks of step bytes, resuming after pauses. */
static void feed_all(struct slt_objread *r, const unsigned char *p, size_t n, size_t step)
{
    size_t off = 0;

    while (off < n) {
        size_t k = n - off < step ? n - off : step;
        long used = slt_objread_feed(r, p + off, k);

        assert_true(used >= 0);
        off += (size_t)used;
        if (slt_objread_paused(r))
            slt_objread_resume(r);
    }
}

static void test_gzip_in_any_chunking_gives_every_line_once(void **state)
{
    unsigned char gz[4096], two[8192];
    size_t n = gzip_of(TEXT, strlen(TEXT), gz, sizeof(gz)), step, n2;
    static struct got g;

    (void)state;
    /* two members: gzip a; gzip b; cat a b */
    memcpy(two, gz, n);
    n2 = n + gzip_of(TEXT, strlen(TEXT), two + n, sizeof(two) - n);
    for (step = 1; step <= n2; step = step * 3 + 1) {
        struct slt_objread *r;

        memset(&g, 0, sizeof(g));
        assert_int_equal(slt_objread_new(1, 1024, 0, on_line, &g, &r), 0);
        g.pause_r = step % 2 ? r : NULL;
        feed_all(r, two, n2, step);
        while (slt_objread_paused(r)) {
            assert_int_equal(slt_objread_finish(r), -EAGAIN);
            slt_objread_resume(r);
        }
        g.pause_r = NULL;
        assert_int_equal(slt_objread_finish(r), 0);
        /* the members join: the first one's last line runs into the second's first */
        assert_int_equal(g.lines, 11);
        assert_memory_equal(g.text, "one\ntwo two\n", 12);
        assert_int_equal(slt_objread_offset(r), 2 * strlen(TEXT));
        slt_objread_free(r);
    }
}

static void test_a_truncated_gzip_is_incomplete_until_the_rest_arrives(void **state)
{
    unsigned char gz[4096];
    size_t n = gzip_of(TEXT, strlen(TEXT), gz, sizeof(gz));
    static struct got g;
    struct slt_objread *r;

    (void)state;
    memset(&g, 0, sizeof(g));
    assert_int_equal(slt_objread_new(1, 1024, 0, on_line, &g, &r), 0);
    assert_int_equal(slt_objread_feed(r, gz, n - 5), (long)(n - 5));
    assert_int_equal(slt_objread_finish(r), -EAGAIN);
    assert_int_equal(g.lines, 5); /* the complete lines so far; not the unterminated last */
    assert_int_equal(slt_objread_feed(r, gz + n - 5, 5), 5);
    assert_int_equal(slt_objread_finish(r), 0);
    assert_int_equal(g.lines, 6);
    slt_objread_free(r);
}

static void test_resuming_at_an_offset_delivers_exactly_the_lines_after_it(void **state)
{
    unsigned char gz[4096];
    size_t n = gzip_of(TEXT, strlen(TEXT), gz, sizeof(gz));
    static struct got g;
    struct slt_objread *r;

    (void)state;
    memset(&g, 0, sizeof(g));
    /* after "one\ntwo two\n" */
    assert_int_equal(slt_objread_new(1, 1024, 12, on_line, &g, &r), 0);
    feed_all(r, gz, n, 7);
    assert_int_equal(slt_objread_finish(r), 0);
    assert_int_equal(g.lines, 4);
    assert_memory_equal(g.text, "three three three\n\nfive\nlast without newline\n", g.len);
    slt_objread_free(r);
}

static void test_plain_bytes_and_oversize_lines(void **state)
{
    static char big[5000];
    static struct got g;
    struct slt_objread *r;
    size_t i;

    (void)state;
    memset(big, 'x', sizeof(big));
    memcpy(big, "short\n", 6);
    big[3000] = '\n';
    big[sizeof(big) - 1] = '\n';
    memset(&g, 0, sizeof(g));
    assert_int_equal(slt_objread_new(0, 256, 0, on_line, &g, &r), 0);
    for (i = 0; i < sizeof(big); i += 100)
        assert_int_equal(
            slt_objread_feed(r, big + i, sizeof(big) - i < 100 ? sizeof(big) - i : 100),
            (long)(sizeof(big) - i < 100 ? sizeof(big) - i : 100));
    assert_int_equal(slt_objread_finish(r), 0);
    assert_int_equal(g.lines, 3);
    assert_int_equal(g.oversize, 2);
    assert_int_equal(g.last_end, sizeof(big));
    slt_objread_free(r);
}

static void test_garbage_is_corrupt_not_a_crash(void **state)
{
    static struct got g;
    struct slt_objread *r;
    unsigned char junk[64];

    (void)state;
    memset(junk, 0xab, sizeof(junk));
    junk[0] = 0x1f;
    junk[1] = 0x8b;
    memset(&g, 0, sizeof(g));
    assert_int_equal(slt_objread_new(1, 256, 0, on_line, &g, &r), 0);
    assert_int_equal(slt_objread_feed(r, junk, sizeof(junk)), SLT_ECORRUPT);
    assert_int_equal(slt_objread_finish(r), SLT_ECORRUPT);
    slt_objread_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gzip_in_any_chunking_gives_every_line_once),
        cmocka_unit_test(test_a_truncated_gzip_is_incomplete_until_the_rest_arrives),
        cmocka_unit_test(test_resuming_at_an_offset_delivers_exactly_the_lines_after_it),
        cmocka_unit_test(test_plain_bytes_and_oversize_lines),
        cmocka_unit_test(test_garbage_is_corrupt_not_a_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
