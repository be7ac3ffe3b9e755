#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "slt/common.h"

/* Vectors from the FNV reference (draft-eastlake-fnv): "" is the offset basis, "a" and "foobar". */
static void test_fnv1a64_matches_the_reference_vectors(void **state)
{
    (void)state;
    assert_true(slt_fnv1a64("", 0) == 14695981039346656037ULL);
    assert_true(slt_fnv1a64("a", 1) == 0xaf63dc4c8601ec8cULL);
    assert_true(slt_fnv1a64("foobar", 6) == 0x85944171f73967e8ULL);
}

static void test_error_codes_have_their_texts(void **state)
{
    (void)state;
    assert_string_equal(slt_strerror(SLT_EINVAL), "invalid value");
    assert_string_equal(slt_strerror(SLT_ENOMEM), "out of memory");
    assert_int_equal(SLT_EINVAL, -10001);
    assert_string_equal(slt_strerror(-ENOENT), strerror(ENOENT));
}

static void test_durations_parse_with_units(void **state)
{
    int64_t us = 0;

    (void)state;
    assert_int_equal(slt_parse_duration_us("300ms", 5, 0, &us), 0);
    assert_int_equal(us, 300000);
    assert_int_equal(slt_parse_duration_us("1.5s", 4, 0, &us), 0);
    assert_int_equal(us, 1500000);
    assert_int_equal(slt_parse_duration_us("28d", 3, 0, &us), 0);
    assert_int_equal(us, 28LL * 86400 * 1000000);
    assert_int_equal(slt_parse_duration_us("250us", 5, 0, &us), 0);
    assert_int_equal(us, 250);
}

static void test_bare_duration_needs_a_default_unit(void **state)
{
    int64_t us = 0;

    (void)state;
    assert_int_equal(slt_parse_duration_us("12", 2, 0, &us), SLT_EINVAL);
    assert_int_equal(slt_parse_duration_us("12", 2, 1000, &us), 0);
    assert_int_equal(us, 12000);
    assert_int_equal(slt_parse_duration_us("ms", 2, 0, &us), SLT_EINVAL);
    assert_int_equal(slt_parse_duration_us("3parsecs", 8, 0, &us), SLT_EINVAL);
}

static void test_sizes_parse_binary_and_decimal(void **state)
{
    uint64_t n = 0;

    (void)state;
    assert_int_equal(slt_parse_size("64MiB", 5, &n), 0);
    assert_int_equal(n, 64ULL << 20);
    assert_int_equal(slt_parse_size("10MB", 4, &n), 0);
    assert_int_equal(n, 10000000ULL);
    assert_int_equal(slt_parse_size("4096", 4, &n), 0);
    assert_int_equal(n, 4096);
    assert_int_equal(slt_parse_size("1XB", 3, &n), SLT_EINVAL);
}

static void test_buf_refuses_to_grow_past_its_max(void **state)
{
    struct slt_buf b;

    (void)state;
    slt_buf_init(&b, 8);
    assert_int_equal(slt_buf_append(&b, "12345", 5), 0);
    assert_int_equal(slt_buf_append(&b, "6789", 4), SLT_ELIMIT);
    assert_int_equal(b.len, 5);
    assert_int_equal(slt_buf_append(&b, "678", 3), 0);
    slt_buf_consume(&b, 2);
    assert_memory_equal(b.p, "345678", 6);
    slt_buf_release(&b);
}

static void test_failed_allocation_is_reported(void **state)
{
    struct slt_buf b;

    (void)state;
    slt_buf_init(&b, 1024);
    slt_alloc_fail_after(0);
    assert_int_equal(slt_buf_append(&b, "x", 1), SLT_ENOMEM);
    assert_int_equal(slt_buf_append(&b, "x", 1), 0);
    slt_buf_release(&b);
}

static void test_ct_equal_compares_length_and_bytes(void **state)
{
    (void)state;
    assert_true(slt_ct_equal("abc", 3, "abc", 3));
    assert_false(slt_ct_equal("abc", 3, "abd", 3));
    assert_false(slt_ct_equal("abc", 3, "abcd", 4));
    assert_string_equal(slt_strerror(SLT_ELIMIT), "limit reached");
}

static void test_prom_escape_label_escapes_backslash_quote_and_newline(void **state)
{
    struct slt_buf b;
    const char in[] = "a\\b\"c\nd\te\0f";

    (void)state;
    slt_buf_init(&b, 64);
    assert_int_equal(slt_prom_escape_label(&b, in, sizeof(in) - 1), 0);
    assert_int_equal(b.len, 14);
    assert_memory_equal(b.p, "a\\\\b\\\"c\\nd\te\0f", 14);
    slt_buf_release(&b);

    slt_buf_init(&b, 4); /* bounded like every buffer: nothing past max */
    assert_int_equal(slt_prom_escape_label(&b, "abc\\", 4), SLT_ELIMIT);
    assert_true(b.len <= 4);
    slt_buf_release(&b);
    slt_buf_init(&b, 4);
    assert_int_equal(slt_prom_escape_label(&b, "\"\"\"", 3), SLT_ELIMIT);
    slt_buf_release(&b);
}

static void write_file(const char *path, const char *p, size_t n)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void test_read_secret_strips_the_newline_and_refuses_empty_and_oversized(void **state)
{
    char path[] = "/tmp/slt_test_secret_XXXXXX", *big, *out = (char *)1;
    int fd;

    (void)state;
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);

    write_file(path, "s3cret\n", 7);
    assert_int_equal(slt_read_secret(path, SLT_TOKEN_MAX, &out), 0);
    assert_string_equal(out, "s3cret");
    slt_free(out);

    write_file(path, "a b\r\n", 5); /* inner whitespace is the secret's */
    assert_int_equal(slt_read_secret(path, SLT_TOKEN_MAX, &out), 0);
    assert_string_equal(out, "a b");
    slt_free(out);

    write_file(path, "\n", 1);
    assert_int_equal(slt_read_secret(path, SLT_TOKEN_MAX, &out), SLT_EINVAL);
    assert_null(out);
    assert_string_equal(slt_secret_strerror(SLT_EINVAL), "empty");

    big = malloc(SLT_TOKEN_MAX + 2);
    assert_non_null(big);
    memset(big, 'x', SLT_TOKEN_MAX + 1);
    big[SLT_TOKEN_MAX + 1] = '\n';
    write_file(path, big, SLT_TOKEN_MAX + 2); /* one byte over, never cut to fit */
    assert_int_equal(slt_read_secret(path, SLT_TOKEN_MAX, &out), SLT_ELIMIT);
    assert_null(out);
    write_file(path, big + 1, SLT_TOKEN_MAX + 1); /* exactly the bound, then the newline */
    assert_int_equal(slt_read_secret(path, SLT_TOKEN_MAX, &out), 0);
    assert_int_equal(strlen(out), SLT_TOKEN_MAX);
    slt_free(out);
    free(big);

    unlink(path);
    assert_true(slt_read_secret(path, SLT_TOKEN_MAX, &out) == -ENOENT);
    assert_null(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fnv1a64_matches_the_reference_vectors),
        cmocka_unit_test(test_error_codes_have_their_texts),
        cmocka_unit_test(test_durations_parse_with_units),
        cmocka_unit_test(test_bare_duration_needs_a_default_unit),
        cmocka_unit_test(test_sizes_parse_binary_and_decimal),
        cmocka_unit_test(test_buf_refuses_to_grow_past_its_max),
        cmocka_unit_test(test_failed_allocation_is_reported),
        cmocka_unit_test(test_ct_equal_compares_length_and_bytes),
        cmocka_unit_test(test_prom_escape_label_escapes_backslash_quote_and_newline),
        cmocka_unit_test(test_read_secret_strips_the_newline_and_refuses_empty_and_oversized),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
