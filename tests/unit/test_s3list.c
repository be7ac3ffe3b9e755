/* The ListObjectsV2 parser (agent/src/s3list.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "s3list.h"
#include "slt/common.h"

static void test_keys_sizes_and_the_continuation_token_are_read(void **state)
{
    static const char xml[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>logs</Name>"
        "<IsTruncated>true</IsTruncated><NextContinuationToken>tok/en=</NextContinuationToken>"
        "<Contents><Key>AWSLogs/1/a&amp;b.log.gz</Key><Size>6</Size></Contents>"
        "<Contents><Key>AWSLogs/1/c.log.gz</Key><Size>123456789012</Size></Contents>"
        "</ListBucketResult>";
    struct slt_s3list l;

    (void)state;
    slt_s3list_init(&l);
    assert_int_equal(slt_s3list_parse(&l, xml, sizeof(xml) - 1), 0);
    assert_int_equal(l.nkeys, 2);
    assert_string_equal(l.keys[0].key, "AWSLogs/1/a&b.log.gz");
    assert_int_equal(l.keys[0].size, 6);
    assert_int_equal(l.keys[1].size, 123456789012ull);
    assert_true(l.truncated);
    assert_string_equal(l.next_token, "tok/en=");
    slt_s3list_release(&l);
}

static void test_an_error_document_gives_its_code(void **state)
{
    static const char xml[] = "<Error><Code>AccessDenied</Code><Message>Access Denied</Message>"
                              "</Error>";
    struct slt_s3list l;

    (void)state;
    slt_s3list_init(&l);
    assert_int_equal(slt_s3list_parse(&l, xml, sizeof(xml) - 1), 0);
    assert_int_equal(l.nkeys, 0);
    assert_string_equal(l.error_code, "AccessDenied");
    slt_s3list_release(&l);
}

static void test_bad_answers_are_refused(void **state)
{
    static const char *bad[] = {
        "",
        "not xml",
        "<Other/>",
        "<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents></ListBucketResult>",
        ("<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaa\">]><ListBucketResult>"
         "<Contents><Key>&a;</Key></Contents></ListBucketResult>"), /* one string */
        "<ListBucketResult><Contents><Key>k</Key>",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct slt_s3list l;

        slt_s3list_init(&l);
        if (slt_s3list_parse(&l, bad[i], strlen(bad[i])) == 0)
            fail_msg("accepted: %s", bad[i]);
        assert_int_equal(l.nkeys, 0);
        slt_s3list_release(&l);
    }
}

static void test_more_than_the_bound_of_keys_is_a_limit(void **state)
{
    struct slt_buf b;
    struct slt_s3list l;
    int i;

    (void)state;
    slt_buf_init(&b, 1 << 24);
    assert_int_equal(slt_buf_printf(&b, "<ListBucketResult>"), 0);
    for (i = 0; i <= SLT_S3LIST_MAX_KEYS; i++)
        assert_int_equal(slt_buf_printf(&b, "<Contents><Key>k%d</Key></Contents>", i), 0);
    assert_int_equal(slt_buf_printf(&b, "</ListBucketResult>"), 0);
    slt_s3list_init(&l);
    assert_int_equal(slt_s3list_parse(&l, b.p, b.len), SLT_ELIMIT);
    slt_s3list_release(&l);
    slt_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_sizes_and_the_continuation_token_are_read),
        cmocka_unit_test(test_an_error_document_gives_its_code),
        cmocka_unit_test(test_bad_answers_are_refused),
        cmocka_unit_test(test_more_than_the_bound_of_keys_is_a_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
