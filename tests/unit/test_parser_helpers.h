/*
 * Shared by the tests/unit/test_parser_*.c files (one executable each): a built-in format and
 * a parser as file-level state, and a field assertion that prints both values.
 */
#ifndef SLT_TEST_PARSER_HELPERS_H
#define SLT_TEST_PARSER_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "slt/parser.h"

static struct slt_format *fmt;
static struct slt_parser *parser;

static void use(const char *name)
{
    slt_parser_free(parser);
    slt_format_free(fmt);
    parser = NULL;
    assert_int_equal(slt_format_builtin(name, &fmt), 0);
    parser = slt_parser_new(fmt, 0);
    assert_non_null(parser);
}

static int teardown(void **state)
{
    (void)state;
    slt_parser_free(parser);
    slt_format_free(fmt);
    parser = NULL;
    fmt = NULL;
    return 0;
}

static int parse(const char *line, struct slt_record *rec)
{
    return slt_parse(parser, line, strlen(line), rec);
}

/* Field k of rec is want (NULL: absent); shows both values on failure. */
static void field_is(const struct slt_record *rec, int k, const char *want)
{
    char got[2048];
    struct slt_str s = slt_record_get(rec, k); /* fields may be read on first use (alb) */

    if (!want) {
        if (s.p)
            fail_msg("field %s: want absent, got '%.*s'", slt_field_name(k), (int)s.len, s.p);
        return;
    }
    if (!s.p)
        fail_msg("field %s: want '%s', got absent", slt_field_name(k), want);
    snprintf(got, sizeof(got), "%.*s", (int)s.len, s.p);
    assert_string_equal(got, want);
}

#endif
