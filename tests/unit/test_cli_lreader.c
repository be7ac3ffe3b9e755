/*
 * The CLI's line reader and minute set. The CLI is an executable, not a library, so its two
 * small modules are compiled into this test directly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "../../cli/lreader.c"
#include "../../cli/minset.c"

/* A line as the reader must return it: its text, or oversize. */
struct want {
    size_t off, len;
    int oversize;
};

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Random content: mostly short lines, some around max_line, a few far longer than the buffer. */
static char *make_content(size_t total, size_t max_line, int final_newline, size_t *outlen)
{
    char *p = malloc(total + 4 * 1024 * 1024);
    size_t n = 0;

    assert_non_null(p);
    while (n < total) {
        uint64_t r = rnd() % 1000;
        size_t len, i;
        if (r < 5)
            len = 0;
        else if (r < 900)
            len = 1 + rnd() % 200;
        else if (r < 990)
            len = max_line - 2 + rnd() % 5; /* around the limit */
        else if (r < 998)
            len = max_line * 2 + rnd() % (max_line * 20);
        else
            len = SLT_LR_MIN_BUF + rnd() % (2 * SLT_LR_MIN_BUF); /* longer than the buffer */
        for (i = 0; i < len; i++)
            p[n + i] = (char)('a' + (n + i) % 26);
        n += len;
        p[n++] = '\n';
    }
    if (!final_newline)
        n--;
    *outlen = n;
    return p;
}

static size_t expected(const char *p, size_t n, size_t max_line, struct want *w, size_t maxw)
{
    size_t start = 0, i, k = 0;

    for (i = 0; i <= n; i++) {
        if (i < n && p[i] != '\n')
            continue;
        if (i == n && start == n)
            break; /* nothing after the last '\n' */
        assert_true(k < maxw);
        w[k].off = start;
        w[k].len = i - start;
        w[k].oversize = i - start > max_line;
        k++;
        start = i + 1;
    }
    return k;
}

static void write_file(const char *path, const char *p, size_t n, int gz)
{
    if (gz) {
        gzFile g = gzopen(path, "wb1");
        size_t off = 0;
        assert_non_null(g);
        while (off < n) {
            unsigned chunk = n - off > (1u << 20) ? (1u << 20) : (unsigned)(n - off);
            assert_int_equal(gzwrite(g, p + off, chunk), (int)chunk);
            off += chunk;
        }
        assert_int_equal(gzclose(g), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(p, 1, n, f), n);
        assert_int_equal(fclose(f), 0);
    }
}

static void read_and_compare(const char *path, const char *p, size_t max_line, const struct want *w,
                             size_t nw)
{
    struct slt_lreader r;
    struct slt_str line;
    size_t k = 0;
    int rc;

    assert_int_equal(slt_lreader_open(&r, path, max_line), 0);
    while ((rc = slt_lreader_next(&r, &line)) > 0) {
        assert_true(k < nw);
        assert_int_equal(r.lineno, k + 1);
        if (w[k].oversize) {
            assert_int_equal(rc, SLT_LR_OVERSIZE);
        } else {
            assert_int_equal(rc, SLT_LR_LINE);
            assert_int_equal(line.len, w[k].len);
            assert_memory_equal(line.p, p + w[k].off, line.len);
        }
        k++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(k, nw);
    assert_int_equal(r.truncated, 0);
    slt_lreader_close(&r);
}

static void run_property(size_t total, size_t max_line, int final_newline, int gz)
{
    char path[] = "/tmp/slt-lreader-XXXXXX";
    size_t n, nw, maxw;
    struct want *w;
    char *p;
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    close(fd);
    p = make_content(total, max_line, final_newline, &n);
    maxw = n + 2;
    w = malloc(maxw * sizeof(*w));
    assert_non_null(w);
    nw = expected(p, n, max_line, w, maxw);
    write_file(path, p, n, gz);
    read_and_compare(path, p, max_line, w, nw);
    unlink(path);
    free(w);
    free(p);
}

static void it_returns_every_line_across_buffer_refills(void **state)
{
    (void)state;
    run_property(6 * 1024 * 1024, 100, 1, 0);
    run_property(6 * 1024 * 1024, 100, 0, 0);
    run_property(5 * 1024 * 1024, 4096, 1, 0);
    run_property(8 * 1024 * 1024, 65536, 0, 0);
}

static void it_reads_gzip_like_plain(void **state)
{
    (void)state;
    run_property(4 * 1024 * 1024, 100, 1, 1);
    run_property(4 * 1024 * 1024, 65536, 0, 1);
}

static void one_file(const char *content, size_t n, size_t max_line, int *kinds, size_t nk)
{
    char path[] = "/tmp/slt-lreader-XXXXXX";
    struct slt_lreader r;
    struct slt_str line;
    size_t k = 0;
    int fd = mkstemp(path), rc;

    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, n), (ssize_t)n);
    close(fd);
    assert_int_equal(slt_lreader_open(&r, path, max_line), 0);
    while ((rc = slt_lreader_next(&r, &line)) > 0) {
        assert_true(k < nk);
        assert_int_equal(rc, kinds[k]);
        k++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(k, nk);
    slt_lreader_close(&r);
    unlink(path);
}

static void it_counts_edge_files_exactly(void **state)
{
    int one_line[] = {SLT_LR_LINE};
    int two[] = {SLT_LR_LINE, SLT_LR_LINE};
    int over[] = {SLT_LR_LINE, SLT_LR_OVERSIZE, SLT_LR_LINE};

    (void)state;
    one_file("", 0, 10, NULL, 0);
    one_file("\n", 1, 10, one_line, 1);             /* one empty line */
    one_file("abc", 3, 10, one_line, 1);            /* no final newline */
    one_file("abc\n\n", 5, 10, two, 2);             /* a blank line is a line */
    one_file("a\n0123456789A\nb", 15, 10, over, 3); /* 11 bytes > max_line 10 */
}

static void it_fails_cleanly_on_a_missing_file(void **state)
{
    struct slt_lreader r;

    (void)state;
    assert_int_equal(slt_lreader_open(&r, "/nonexistent/slt/file", 100), -ENOENT);
}

static void it_flags_a_gzip_cut_short(void **state)
{
    char path[] = "/tmp/slt-lreader-XXXXXX";
    char *p, *gzdata;
    size_t n, gzlen;
    struct slt_lreader r;
    struct slt_str line;
    FILE *f;
    int fd = mkstemp(path), rc;

    (void)state;
    assert_true(fd >= 0);
    close(fd);
    p = make_content(512 * 1024, 100, 1, &n);
    write_file(path, p, n, 1);
    f = fopen(path, "rb");
    assert_non_null(f);
    gzdata = malloc(n + 1024);
    gzlen = fread(gzdata, 1, n + 1024, f);
    fclose(f);
    write_file(path, gzdata, gzlen / 2, 0);
    assert_int_equal(slt_lreader_open(&r, path, 100), 0);
    while ((rc = slt_lreader_next(&r, &line)) > 0)
        ;
    assert_int_equal(rc, 0);
    assert_int_equal(r.truncated, 1);
    slt_lreader_close(&r);
    unlink(path);
    free(gzdata);
    free(p);
}

static void it_counts_distinct_minutes_and_far_outliers(void **state)
{
    struct slt_minset s, t;
    int64_t m;
    int i;

    (void)state;
    memset(&s, 0, sizeof(s));
    memset(&t, 0, sizeof(t));
    assert_int_equal(slt_minute_of(59), 0);
    assert_int_equal(slt_minute_of(60), 1);
    assert_int_equal(slt_minute_of(-1), -1);
    for (m = 1000000; m < 1000000 + 1440; m++) {
        slt_minset_add(&s, m);
        slt_minset_add(&s, m); /* repeats count once */
    }
    slt_minset_add(&s, 1000000); /* out of order */
    assert_int_equal(s.count, 1440);
    /* far from the first minute: the hash set, exact up to SLT_MINSET_EXTRA */
    for (i = 0; i < SLT_MINSET_EXTRA; i++)
        slt_minset_add(&s, 1000000 + SLT_MINSET_BITS + (int64_t)i * 7);
    slt_minset_add(&s, 1000000 + SLT_MINSET_BITS); /* already there */
    assert_int_equal(s.count, 1440 + SLT_MINSET_EXTRA);
    assert_int_equal(slt_minset_approx(&s), 0);
    slt_minset_add(&s, -5000000000LL);
    assert_int_equal(s.count, 1440 + SLT_MINSET_EXTRA);
    assert_int_equal(slt_minset_approx(&s), 1);

    slt_minset_add(&t, 1000000); /* in s too */
    slt_minset_add(&t, 2);       /* far away: t's hash set */
    slt_minset_merge(&t, &s);
    /* t: its 2, s's other 1439 bitmap minutes, and of s's far minutes as many as t's hash set
     * still holds (one slot went to minute 2); the rest and s's outlier make it approximate */
    assert_int_equal(t.count, 2 + 1439 + (SLT_MINSET_EXTRA - 1));
    assert_int_equal(slt_minset_approx(&t), 1);
    slt_minset_release(&s);
    slt_minset_release(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(it_returns_every_line_across_buffer_refills),
        cmocka_unit_test(it_reads_gzip_like_plain),
        cmocka_unit_test(it_counts_edge_files_exactly),
        cmocka_unit_test(it_fails_cleanly_on_a_missing_file),
        cmocka_unit_test(it_flags_a_gzip_cut_short),
        cmocka_unit_test(it_counts_distinct_minutes_and_far_outliers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
