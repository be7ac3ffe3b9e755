/* gzip decoding: whole files, multi-member files, truncated and garbage input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "gz.h"
#include "slt/common.h"

/* gzip-compresses p..p+n into a malloc'd buffer. */
static unsigned char *gzip_mem(const void *p, size_t n, size_t *out_len)
{
    z_stream zs;
    size_t cap = compressBound((uLong)n) + 64;
    unsigned char *out = malloc(cap);

    assert_non_null(out);
    memset(&zs, 0, sizeof(zs));
    assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = (unsigned char *)(uintptr_t)p;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    *out_len = cap - zs.avail_out;
    deflateEnd(&zs);
    return out;
}

static void it_decodes_a_gzip_file_whole(void **state)
{
    const char *text = "GET / 200\nGET /a 500\nGET /b 404\n";
    uint64_t len, lines;
    unsigned char *z;
    size_t zlen;

    (void)state;
    z = gzip_mem(text, strlen(text), &zlen);
    assert_int_equal(slt_gz_decode(z, zlen, 1 << 20, &len, &lines), 0);
    assert_int_equal(len, strlen(text));
    assert_int_equal(lines, 3);
    free(z);
}

static void it_decodes_concatenated_members_as_one_stream(void **state)
{
    unsigned char *a, *b, *both;
    size_t alen, blen;
    struct slt_gz *g;
    char out[64];
    size_t have = 0;
    long n;

    (void)state;
    a = gzip_mem("one\n", 4, &alen);
    b = gzip_mem("two\n", 4, &blen);
    both = malloc(alen + blen);
    assert_non_null(both);
    memcpy(both, a, alen);
    memcpy(both + alen, b, blen);
    assert_int_equal(slt_gz_new_mem(both, alen + blen, &g), 0);
    /* one byte at a time: the member boundary falls inside a read */
    while ((n = slt_gz_read(g, out + have, 1)) > 0)
        have += (size_t)n;
    assert_int_equal(n, 0);
    assert_int_equal(have, 8);
    assert_memory_equal(out, "one\ntwo\n", 8);
    slt_gz_free(g);
    free(a);
    free(b);
    free(both);
}

static void it_returns_what_decoded_then_corrupt_for_a_truncated_file(void **state)
{
    char text[20000];
    uint64_t len, lines;
    unsigned char *z;
    size_t zlen, i;

    (void)state;
    for (i = 0; i < sizeof(text); i++)
        text[i] = (i % 50 == 49) ? '\n' : (char)('a' + (i * 7919) % 26);
    z = gzip_mem(text, sizeof(text), &zlen);
    assert_true(zlen > 100);
    assert_int_equal(slt_gz_decode(z, zlen - 10, 1 << 20, &len, &lines), SLT_ECORRUPT);
    assert_true(len > 0);
    assert_true(len <= sizeof(text));
    free(z);
}

static void it_calls_garbage_corrupt_and_empty_input_empty(void **state)
{
    uint64_t len, lines;

    (void)state;
    assert_int_equal(slt_gz_decode("not gzip at all\n", 16, 1 << 20, &len, &lines), SLT_ECORRUPT);
    assert_int_equal(len, 0);
    assert_int_equal(slt_gz_decode("", 0, 1 << 20, &len, &lines), 0);
    assert_int_equal(len, 0);
}

static void it_stops_at_the_output_bound(void **state)
{
    char *zeros = calloc(1, 1 << 20);
    uint64_t len, lines;
    unsigned char *z;
    size_t zlen;

    (void)state;
    assert_non_null(zeros);
    z = gzip_mem(zeros, 1 << 20, &zlen);
    assert_int_equal(slt_gz_decode(z, zlen, 4096, &len, &lines), 0);
    assert_int_equal(len, 4096);
    free(z);
    free(zeros);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(it_decodes_a_gzip_file_whole),
        cmocka_unit_test(it_decodes_concatenated_members_as_one_stream),
        cmocka_unit_test(it_returns_what_decoded_then_corrupt_for_a_truncated_file),
        cmocka_unit_test(it_calls_garbage_corrupt_and_empty_input_empty),
        cmocka_unit_test(it_stops_at_the_output_bound),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
