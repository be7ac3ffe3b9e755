/* SLI rules: classification order, maps and lists, status and latency atoms, explanations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "slt/config.h"
#include "slt/rule.h"

/* A loaded config with a parser for its first input and a matcher. */
struct fixture {
    struct slt_config *cfg;
    struct slt_parser *p;
    struct slt_matcher *m;
    struct slt_record rec;
    char why[512];
};

static void setup(struct fixture *f, const char *yaml)
{
    char err[512] = "";
    int rc = slt_config_load_string("r.yaml", yaml, strlen(yaml), &f->cfg, err, sizeof(err));

    if (rc)
        fail_msg("config rejected: %s", err);
    f->p = slt_parser_new(f->cfg->inputs[0].fmt, 0);
    f->m = slt_matcher_new();
    assert_non_null(f->p);
    assert_non_null(f->m);
}

static void teardown(struct fixture *f)
{
    slt_parser_free(f->p);
    slt_matcher_free(f->m);
    slt_config_free(f->cfg);
}

/* The class of line for the SLI called sli; the explanation is left in f->why. */
static const char *classify(struct fixture *f, const char *sli, const char *line)
{
    struct slt_decision d;
    int idx = slt_config_sli_index(f->cfg, sli);
    int r = slt_parse(f->p, line, strlen(line), &f->rec);
    enum slt_class cls, fast;

    assert_true(idx >= 0);
    if (r != SLT_UP_OK)
        fail_msg("line does not parse (%s): %s", slt_unparsed_name(r), line);
    cls = slt_sli_classify(&f->cfg->slis[idx], &f->rec, f->m, &d);
    fast = slt_sli_classify(&f->cfg->slis[idx], &f->rec, f->m, NULL);
    assert_int_equal(cls, fast);
    /* slt_sli_prepare's status tables give the same class */
    if (!f->cfg->slis[idx].prep)
        assert_int_equal(slt_sli_prepare(&f->cfg->slis[idx]), 0);
    fast = slt_sli_classify(&f->cfg->slis[idx], &f->rec, f->m, NULL);
    assert_int_equal(cls, fast);
    {
        const struct slt_sli *one = &f->cfg->slis[idx];
        unsigned char c = 0xff;

        slt_slis_classify(&one, 1, &f->rec, f->m, &c);
        assert_int_equal(cls, c);
    }
    slt_decision_format(&d, &f->rec, f->why, sizeof(f->why));
    return slt_class_name(cls);
}

/* An nginx_timed line with the given method, path, status and request time. */
static const char *timed(const char *method, const char *path, int status, const char *rt)
{
    static char buf[1024];

    snprintf(buf, sizeof(buf),
             "10.0.0.1 - - [10/Oct/2023:13:55:36 +0000] \"%s %s HTTP/1.1\" %d 12 \"-\" "
             "\"curl/8\" %s 0.010",
             method, path, status, rt);
    return buf;
}

static const char issue_slis[] = "inputs: [{name: web, format: nginx_timed}]\n"
                                 "slis:\n"
                                 "  - name: checkout-availability\n"
                                 "    input: web\n"
                                 "    match:   { path: '^/api/checkout', method: '^POST$' }\n"
                                 "    exclude: { status: '^4' }\n"
                                 "    bad:     { status: '^5' }\n"
                                 "  - name: search-latency\n"
                                 "    input: web\n"
                                 "    match:   { path: '^/search' }\n"
                                 "    exclude: { status: '^[45]' }\n"
                                 "    bad:     { latency_over: 300ms }\n";

static void test_match_then_exclude_then_bad_then_good(void **state)
{
    struct fixture f = {0};

    (void)state;
    setup(&f, issue_slis);
    assert_string_equal(
        classify(&f, "checkout-availability", timed("GET", "/api/checkout", 503, "0.1")),
        "nomatch");
    assert_string_equal(f.why, "nomatch: method 'GET' does not match '^POST$' (match[0])");
    assert_string_equal(classify(&f, "checkout-availability", timed("POST", "/home", 503, "0.1")),
                        "nomatch");
    assert_string_equal(f.why, "nomatch: path '/home' does not match '^/api/checkout' (match[0])");
    assert_string_equal(
        classify(&f, "checkout-availability", timed("POST", "/api/checkout/x", 404, "0.1")),
        "excluded");
    assert_string_equal(f.why, "excluded: status '404' matches '^4' (exclude[0])");
    assert_string_equal(
        classify(&f, "checkout-availability", timed("POST", "/api/checkout", 503, "0.1")), "bad");
    assert_string_equal(f.why, "bad: status '503' matches '^5' (bad[0])");
    assert_string_equal(
        classify(&f, "checkout-availability", timed("POST", "/api/checkout", 201, "0.1")), "good");
    assert_string_equal(f.why, "good: no exclude or bad condition held");
    teardown(&f);
}

static void test_latency_over_is_strictly_over(void **state)
{
    struct fixture f = {0};

    (void)state;
    setup(&f, issue_slis);
    assert_string_equal(classify(&f, "search-latency", timed("GET", "/search?q=1", 200, "0.300")),
                        "good");
    assert_string_equal(classify(&f, "search-latency", timed("GET", "/search?q=1", 200, "0.301")),
                        "bad");
    assert_string_equal(f.why, "bad: latency 301ms is over 300ms (bad[0])");
    assert_string_equal(classify(&f, "search-latency", timed("GET", "/search", 500, "9.0")),
                        "excluded");
    assert_string_equal(classify(&f, "search-latency", timed("GET", "/searc", 200, "9.0")),
                        "nomatch");
    teardown(&f);
}

static void test_latency_under_and_absent_latency(void **state)
{
    struct fixture f = {0};

    (void)state;
    setup(&f, "inputs: [{name: web, format: nginx_timed}]\n"
              "slis:\n"
              "  - {name: fast, bad: {latency_under: 1.5ms}}\n"
              "  - {name: slow, bad: {not: {latency_under: 1s}}}\n");
    assert_string_equal(classify(&f, "fast", timed("GET", "/", 200, "0.001")), "bad");
    assert_string_equal(f.why, "bad: latency 1ms is under 1.5ms (bad[0])");
    assert_string_equal(classify(&f, "fast", timed("GET", "/", 200, "0.0015")), "good");
    /* nginx logs "-" for requests it did not time: the latency is absent. */
    assert_string_equal(classify(&f, "fast", timed("GET", "/", 200, "-")), "good");
    assert_string_equal(classify(&f, "slow", timed("GET", "/", 200, "1.000")), "bad");
    assert_string_equal(f.why, "bad: not: latency 1000ms is not under 1s (bad[0])");
    assert_string_equal(classify(&f, "slow", timed("GET", "/", 200, "0.999")), "good");
    teardown(&f);
}

static void test_list_of_maps_holds_when_any_map_holds(void **state)
{
    struct fixture f = {0};

    (void)state;
    setup(&f, "inputs: [{name: web, format: nginx_timed}]\n"
              "slis:\n"
              "  - name: s\n"
              "    bad:\n"
              "      - { status: 5xx }\n"
              "      - { path: '^/slow', latency_over: 1s }\n");
    assert_string_equal(classify(&f, "s", timed("GET", "/x", 502, "0.1")), "bad");
    assert_string_equal(f.why, "bad: status 502 is in 5xx (bad[0])");
    assert_string_equal(classify(&f, "s", timed("GET", "/slow", 200, "2")), "bad");
    assert_string_equal(f.why, "bad: path '/slow' matches '^/slow' and latency 2000ms is over 1s "
                               "(bad[1])");
    /* A map needs all of its entries. */
    assert_string_equal(classify(&f, "s", timed("GET", "/slow", 200, "0.5")), "good");
    assert_string_equal(classify(&f, "s", timed("GET", "/fast", 200, "2")), "good");
    teardown(&f);
}

static void test_status_ranges_classes_and_single_values(void **state)
{
    struct fixture f = {0};

    (void)state;
    setup(&f, "inputs: [{name: web, format: nginx_timed}]\n"
              "slis:\n"
              "  - {name: range, bad: {status: 500-504}}\n"
              "  - {name: class, bad: {status: 4XX}}\n"
              "  - {name: one, bad: {status: 503}}\n"
              "  - {name: re, bad: {status: '^50[234]$'}}\n"
              "  - {name: list, bad: [{status: 429}, {status: 5xx}]}\n");
    assert_string_equal(classify(&f, "range", timed("GET", "/", 499, "0")), "good");
    assert_string_equal(classify(&f, "range", timed("GET", "/", 500, "0")), "bad");
    assert_string_equal(classify(&f, "range", timed("GET", "/", 504, "0")), "bad");
    assert_string_equal(f.why, "bad: status 504 is in 500-504 (bad[0])");
    assert_string_equal(classify(&f, "range", timed("GET", "/", 505, "0")), "good");
    assert_string_equal(classify(&f, "class", timed("GET", "/", 400, "0")), "bad");
    assert_string_equal(classify(&f, "class", timed("GET", "/", 499, "0")), "bad");
    assert_string_equal(classify(&f, "class", timed("GET", "/", 500, "0")), "good");
    assert_string_equal(classify(&f, "one", timed("GET", "/", 503, "0")), "bad");
    assert_string_equal(classify(&f, "one", timed("GET", "/", 502, "0")), "good");
    assert_string_equal(classify(&f, "re", timed("GET", "/", 501, "0")), "good");
    assert_string_equal(classify(&f, "re", timed("GET", "/", 502, "0")), "bad");
    assert_string_equal(classify(&f, "re", timed("GET", "/", 504, "0")), "bad");
    assert_string_equal(classify(&f, "list", timed("GET", "/", 429, "0")), "bad");
    assert_string_equal(classify(&f, "list", timed("GET", "/", 428, "0")), "good");
    teardown(&f);
}

static void test_a_status_list_holds_for_any_of_its_entries(void **state)
{
    struct fixture f = {0};

    (void)state;
    setup(&f, "inputs: [{name: web, format: nginx_timed}]\n"
              "slis:\n"
              "  - {name: s, bad: {status: [429, 5xx, '^40[08]$']}}\n"
              "  - {name: n, bad: {not: {status: [200-299, 304]}}}\n");
    assert_string_equal(classify(&f, "s", timed("GET", "/", 429, "0")), "bad");
    assert_string_equal(f.why, "bad: status '429' is in [429, 5xx, ^40[08]$] (bad[0])");
    assert_string_equal(classify(&f, "s", timed("GET", "/", 599, "0")), "bad");
    assert_string_equal(classify(&f, "s", timed("GET", "/", 408, "0")), "bad");
    assert_string_equal(classify(&f, "s", timed("GET", "/", 404, "0")), "good");
    assert_string_equal(classify(&f, "n", timed("GET", "/", 304, "0")), "good");
    assert_string_equal(classify(&f, "n", timed("GET", "/", 301, "0")), "bad");
    assert_string_equal(f.why, "bad: not: status '301' is not in [200-299, 304] (bad[0])");
    teardown(&f);
}

static void test_bad_status_ranges_are_rejected(void **state)
{
    struct slt_config *cfg = NULL;
    char err[512];
    static const char text[] = "inputs: [{name: web, format: nginx_timed}]\n"
                               "slis: [{name: s, bad: {status: 599-500}}]\n";

    (void)state;
    assert_int_equal(slt_config_load_string("r.yaml", text, strlen(text), &cfg, err, sizeof(err)),
                     SLT_ECONFIG);
    assert_string_equal(err,
                        "r.yaml:2:32: sli 's': bad status range '599-500' (want e.g. 500-599)");
    {
        static const char list[] = "inputs: [{name: web, format: nginx_timed}]\n"
                                   "slis: [{name: s, bad: {status: [500, 599-500]}}]\n";

        assert_int_equal(
            slt_config_load_string("r.yaml", list, strlen(list), &cfg, err, sizeof(err)),
            SLT_ECONFIG);
        assert_string_equal(err,
                            "r.yaml:2:38: sli 's': bad status range '599-500' (want e.g. 500-599)");
    }
}

/* The status bit set must agree with PCRE2 for every status and many patterns. */
static void test_status_regex_fast_path_agrees_with_pcre2(void **state)
{
    static const char *const pats[] = {"^5",          "^[45]",     "^50[234]$", "5$", "0",
                                       "^(200|304)$", "^2\\d\\d$", "[^2]..",    "^.0"};
    char yaml[512], line[1024];
    size_t i;
    int st;

    (void)state;
    for (i = 0; i < SLT_ARRAY_SIZE(pats); i++) {
        struct fixture f = {0};

        snprintf(yaml, sizeof(yaml),
                 "inputs: [{name: web, format: nginx_timed}]\n"
                 "slis: [{name: s, bad: {status: '%s'}}]\n",
                 pats[i]);
        setup(&f, yaml);
        assert_int_equal(f.cfg->slis[0].bad.maps[0].atoms[0].fast, SLT_FAST_STATUS_SET);
        for (st = 100; st < 1000; st += 7) {
            struct slt_atom *a = &f.cfg->slis[0].bad.maps[0].atoms[0];
            char s[4];
            int want;

            snprintf(line, sizeof(line), "%s", timed("GET", "/", st, "0"));
            assert_int_equal(slt_parse(f.p, line, strlen(line), &f.rec), SLT_UP_OK);
            snprintf(s, sizeof(s), "%03d", st);
            /* Ask PCRE2 directly by turning the fast path off on a copy. */
            {
                struct slt_atom slow = *a;
                struct slt_record r = f.rec;

                slow.fast = SLT_FAST_NONE;
                r.field[SLT_F_STATUS] = slt_str_make(s, 3);
                want = slt_atom_eval(&slow, &r, f.m);
            }
            assert_int_equal(slt_atom_eval(a, &f.rec, f.m), want);
        }
        teardown(&f);
    }
}

static void test_literal_fast_paths_agree_with_pcre2(void **state)
{
    static const struct {
        const char *pat;
        int fast;
    } pats[] = {
        {"^/api", SLT_FAST_PREFIX},
        {"^/api$", SLT_FAST_EXACT},
        {"\\.php$", SLT_FAST_SUFFIX},
        {"/api", SLT_FAST_CONTAINS},
        {"a\\.b", SLT_FAST_CONTAINS},
        {"^$", SLT_FAST_EXACT},
        {"x\\$", SLT_FAST_CONTAINS},
        {"^\\^", SLT_FAST_PREFIX},
        {"\\\\$", SLT_FAST_SUFFIX},
        {"^a.b", SLT_FAST_NONE},
        {"(?i)^/api", SLT_FAST_NONE},
        {"", SLT_FAST_CONTAINS},
        {"^/a-b_c~d", SLT_FAST_PREFIX},
        {"^\\d", SLT_FAST_NONE},
        {"^(/api|a\\.b|x\\$)$", SLT_FAST_ALT_EXACT},
        {"^(?:/ap|\\^)", SLT_FAST_ALT_PREFIX},
        {"^(/api|)$", SLT_FAST_ALT_EXACT},
        {"^(a\\|b|\\\\)$", SLT_FAST_ALT_EXACT},
        {"^(/api|a.b)$", SLT_FAST_NONE},
        {"^(/api|x)y$", SLT_FAST_NONE},
        {"^(?i:/api|x)$", SLT_FAST_NONE},
        {"^(/api|x\\))$", SLT_FAST_ALT_EXACT},
        {"^(/api|(x))$", SLT_FAST_NONE},
        {"(/api|x)$", SLT_FAST_NONE},
    };
    static const char *const paths[] = {
        "/api", "/api/", "/ap", "/apix", "",   "/API",       "x/api", "a.php",
        "a.b",  "axb",   "x$",  "^x",    "\\", "/a-b_c~d/e", "a|b",   "/api/checkout/12345678"};
    char yaml[256];
    size_t i, j;

    (void)state;
    for (i = 0; i < SLT_ARRAY_SIZE(pats); i++) {
        struct fixture f = {0};
        struct slt_atom *a, slow;

        snprintf(yaml, sizeof(yaml),
                 "inputs: [{name: web, format: nginx_timed}]\n"
                 "slis: [{name: s, match: {path: '%s'}}]\n",
                 pats[i].pat);
        setup(&f, yaml);
        a = &f.cfg->slis[0].match.maps[0].atoms[0];
        if (a->fast != pats[i].fast)
            fail_msg("pattern '%s': fast %d, want %d", pats[i].pat, a->fast, pats[i].fast);
        slow = *a;
        slow.fast = SLT_FAST_NONE;
        for (j = 0; j < SLT_ARRAY_SIZE(paths); j++) {
            struct slt_record r = {0};

            r.field[SLT_F_PATH] = slt_str_make(paths[j], strlen(paths[j]));
            if (slt_atom_eval(a, &r, f.m) != slt_atom_eval(&slow, &r, f.m))
                fail_msg("pattern '%s' on '%s': fast path disagrees with pcre2", pats[i].pat,
                         paths[j]);
        }
        teardown(&f);
    }
}

static void test_absent_field_does_not_match_and_not_holds(void **state)
{
    struct fixture f = {0};

    (void)state;
    /* nginx_combined lines have no host. */
    setup(&f, "inputs: [{name: web, format: nginx_combined}]\n"
              "slis:\n"
              "  - {name: h, match: {host: '.'}}\n"
              "  - {name: n, bad: {not: {host: '^example'}}}\n");
    assert_string_equal(classify(&f, "h",
                                 "1.2.3.4 - - [10/Oct/2023:13:55:36 +0000] \"GET / "
                                 "HTTP/1.1\" 200 1 \"-\" \"-\""),
                        "nomatch");
    assert_string_equal(f.why, "nomatch: host is absent, so it does not match '.' (match[0])");
    assert_string_equal(classify(&f, "n",
                                 "1.2.3.4 - - [10/Oct/2023:13:55:36 +0000] \"GET / "
                                 "HTTP/1.1\" 200 1 \"-\" \"-\""),
                        "bad");
    teardown(&f);
}

static void test_not_negates_each_entry(void **state)
{
    struct fixture f = {0};

    (void)state;
    setup(&f, "inputs: [{name: web, format: nginx_timed}]\n"
              "slis:\n"
              "  - name: s\n"
              "    match: {not: {path: '^/health', method: '^HEAD$'}}\n");
    assert_string_equal(classify(&f, "s", timed("GET", "/x", 200, "0")), "good");
    assert_string_equal(classify(&f, "s", timed("GET", "/health", 200, "0")), "nomatch");
    assert_string_equal(f.why, "nomatch: not: path '/health' matches '^/health' (match[0])");
    assert_string_equal(classify(&f, "s", timed("HEAD", "/x", 200, "0")), "nomatch");
    teardown(&f);
}

static void test_regex_on_a_named_capture_of_a_user_format(void **state)
{
    struct fixture f = {0};

    (void)state;
    setup(&f, "formats:\n"
              "  - name: app\n"
              "    regex: '^(?<time>\\S+) (?<tenant>\\w+) (?<status>\\d+) (?<latency>\\d+)$'\n"
              "    latency_unit: ms\n"
              "inputs: [{name: app, format: app}]\n"
              "slis:\n"
              "  - {name: acme, match: {tenant: '^acme$'}, bad: {latency_over: 250ms}}\n");
    assert_string_equal(classify(&f, "acme", "2023-10-10T12:00:00Z acme 200 251"), "bad");
    assert_string_equal(f.why, "bad: latency 251ms is over 250ms (bad[0])");
    assert_string_equal(classify(&f, "acme", "2023-10-10T12:00:00Z acme 200 250"), "good");
    assert_string_equal(classify(&f, "acme", "2023-10-10T12:00:00Z other 200 900"), "nomatch");
    assert_string_equal(f.why, "nomatch: tenant 'other' does not match '^acme$' (match[0])");
    teardown(&f);
}

static void test_json_user_format_and_a_condition_on_a_dotted_path(void **state)
{
    struct fixture f = {0};

    (void)state;
    setup(&f, "formats:\n"
              "  - name: app\n"
              "    json: {status: code, latency: took_ms, time: ts, path: uri}\n"
              "    latency_unit: ms\n"
              "inputs: [{name: a, format: app}]\n"
              "slis:\n"
              "  - {name: s, match: {tenant.id: '^acme$'}, bad: [{status: 5xx}, "
              "{latency_over: 100ms}]}\n");
    assert_string_equal(classify(&f, "s",
                                 "{\"ts\":\"2023-10-10T12:00:00Z\",\"code\":503,\"took_ms\":12,"
                                 "\"uri\":\"/x\",\"tenant\":{\"id\":\"acme\"}}"),
                        "bad");
    assert_string_equal(f.why, "bad: status 503 is in 5xx (bad[0])");
    assert_string_equal(classify(&f, "s",
                                 "{\"ts\":\"2023-10-10T12:00:00Z\",\"code\":200,\"took_ms\":101,"
                                 "\"uri\":\"/x\",\"tenant\":{\"id\":\"acme\"}}"),
                        "bad");
    assert_string_equal(f.why, "bad: latency 101ms is over 100ms (bad[1])");
    assert_string_equal(classify(&f, "s",
                                 "{\"ts\":\"2023-10-10T12:00:00Z\",\"code\":200,\"took_ms\":1,"
                                 "\"tenant\":{\"id\":\"other\"}}"),
                        "nomatch");
    assert_string_equal(f.why, "nomatch: tenant.id 'other' does not match '^acme$' (match[0])");
    teardown(&f);
}

static void test_catastrophic_regex_is_a_rule_error_not_a_hang(void **state)
{
    struct fixture f = {0};
    char path[256];
    uint64_t t0;

    (void)state;
    setup(&f, "inputs: [{name: web, format: nginx_timed}]\n"
              "slis:\n"
              "  - {name: s, bad: {path: '^/(a+)+$'}}\n");
    memset(path, 'a', sizeof(path));
    path[0] = '/';
    path[sizeof(path) - 2] = 'b';
    path[sizeof(path) - 1] = '\0';
    t0 = slt_mono_ns();
    assert_string_equal(classify(&f, "s", timed("GET", path, 200, "0")), "good");
    assert_true(slt_mono_ns() - t0 < 2000000000ULL);
    /* classify() runs the rules 4 times: with an explanation, without, prepared, batched. */
    assert_int_equal(slt_matcher_rule_errors(f.m), 4);
    assert_string_equal(classify(&f, "s", timed("GET", "/aaa", 200, "0")), "bad");
    assert_int_equal(slt_matcher_rule_errors(f.m), 4);
    teardown(&f);
}

/* Every shape of stage slt_sli_prepare plans: absent, status table, one map, several maps. */
static void test_prepared_plans_classify_like_the_atoms(void **state)
{
    static const struct {
        const char *method, *path;
        int status;
        const char *rt, *want[3];
    } cases[] = {
        {"GET", "/a", 200, "0.100", {"good", "good", "nomatch"}},
        {"GET", "/a", 404, "0.100", {"excluded", "excluded", "nomatch"}},
        {"GET", "/a", 101, "0.100", {"good", "excluded", "nomatch"}},
        {"POST", "/a", 503, "0.100", {"bad", "bad", "bad"}},
        {"GET", "/a", 200, "2.000", {"bad", "good", "nomatch"}},
        {"PUT", "/b", 302, "0.100", {"good", "good", "good"}},
    };
    struct fixture f = {0};
    size_t i, j;

    (void)state;
    setup(&f, "inputs: [{name: web, format: nginx_timed}]\n"
              "slis:\n"
              "  - name: maps\n"
              "    match: {}\n"
              "    exclude: [{status: 4xx}, {not: {status: '^[0-4]'}, latency_over: 5s}]\n"
              "    bad: [{status: '^5'}, {latency_over: 1s}]\n"
              "  - name: tables\n"
              "    exclude: [{status: 4xx}, {status: [101, '^3(0[4-9]|1)']}]\n"
              "    bad: {not: {status: '^[1-4]'}}\n"
              "  - name: one-map\n"
              "    match: {method: '^(POST|PUT)$', path: '^(?:/a|/b)'}\n"
              "    bad: {status: 5xx, latency_over: 10ms}\n");
    for (i = 0; i < SLT_ARRAY_SIZE(cases); i++) {
        static const char *const names[] = {"maps", "tables", "one-map"};

        for (j = 0; j < 3; j++) {
            const char *got = classify(
                &f, names[j], timed(cases[i].method, cases[i].path, cases[i].status, cases[i].rt));
            if (strcmp(got, cases[i].want[j]))
                fail_msg("case %zu, SLI %s: %s, want %s", i, names[j], got, cases[i].want[j]);
        }
    }
    teardown(&f);
}

/* The src of each atom of map, in order, joined by spaces. */
static const char *atom_order(const struct slt_condmap *map)
{
    static char buf[256];
    size_t i, pos = 0;

    buf[0] = '\0';
    for (i = 0; i < map->natoms && pos < sizeof(buf); i++)
        pos +=
            (size_t)snprintf(buf + pos, sizeof(buf) - pos, "%s%s", i ? " " : "", map->atoms[i].src);
    return buf;
}

/*
 * slt_sli_prepare orders the atoms of every map cheap first (status, latency and anchored
 * literal tests before substring searches and other regexes), keeping the written order among
 * equals, for an SLI built by hand as for one the config loader built; again changes nothing.
 */
static void test_prepare_orders_atoms_cheap_first(void **state)
{
    static const char *const written[] = {"^/a(b|c)+x", "/static/", "5xx",
                                          "^POST$",     "1ms",      "^/api"};
    struct slt_format *fmt;
    struct slt_sli sli;
    struct slt_condmap *map;
    struct fixture f = {0};
    char err[256];
    size_t i, k;
    int rc;

    (void)state;
    assert_int_equal(slt_format_builtin("nginx_timed", &fmt), 0);
    memset(&sli, 0, sizeof(sli));
    sli.match.present = sli.bad.present = 1;
    assert_non_null(map = slt_condset_add_map(&sli.match));
    for (i = 0; i < SLT_ARRAY_SIZE(written); i++) {
        struct slt_atom *a = slt_condmap_add_atom(map);

        assert_non_null(a);
        if (i == 2)
            assert_int_equal(slt_atom_init_status(a, fmt, written[i], err, sizeof(err)), 0);
        else if (i == 4)
            assert_int_equal(slt_atom_init_latency(a, SLT_ATOM_LATENCY_OVER, 1000, written[i]), 0);
        else
            assert_int_equal(slt_atom_init_regex(a, fmt, i == 3 ? "method" : "path", written[i],
                                                 err, sizeof(err)),
                             0);
    }
    for (k = 0; k < 2; k++) {
        assert_non_null(map = slt_condset_add_map(&sli.bad));
        for (i = 0; i < 2; i++) {
            struct slt_atom *a = slt_condmap_add_atom(map);

            assert_non_null(a);
            if (i == 0)
                rc =
                    slt_atom_init_regex(a, fmt, "path", k ? "/x/" : "^/a(b|c)+x", err, sizeof(err));
            else
                rc = slt_atom_init_status(a, fmt, k ? "429" : "^5", err, sizeof(err));
            assert_int_equal(rc, 0);
        }
    }
    assert_string_equal(atom_order(&sli.match.maps[0]), "^/a(b|c)+x /static/ 5xx ^POST$ 1ms ^/api");
    for (k = 0; k < 2; k++) {
        assert_int_equal(slt_sli_prepare(&sli), 0);
        assert_string_equal(atom_order(&sli.match.maps[0]),
                            "5xx ^POST$ 1ms ^/api ^/a(b|c)+x /static/");
        assert_string_equal(atom_order(&sli.bad.maps[0]), "^5 ^/a(b|c)+x");
        assert_string_equal(atom_order(&sli.bad.maps[1]), "429 /x/");
    }
    slt_sli_release(&sli);
    slt_format_free(fmt);

    setup(&f, "inputs: [{name: web, format: nginx_timed}]\n"
              "slis: [{name: s, match: {path: '/static/', method: '^GET$', status: 2xx}}]\n");
    assert_string_equal(atom_order(&f.cfg->slis[0].match.maps[0]), "^GET$ 2xx /static/");
    teardown(&f);
}

static void test_empty_map_always_holds(void **state)
{
    struct fixture f = {0};

    (void)state;
    setup(&f, "inputs: [{name: web, format: nginx_timed}]\n"
              "slis: [{name: s, bad: {}}]\n");
    assert_string_equal(classify(&f, "s", timed("GET", "/", 200, "0")), "bad");
    assert_string_equal(f.why, "bad: the empty condition always holds (bad[0])");
    teardown(&f);
}

static void test_explanation_escapes_and_cuts_long_values(void **state)
{
    struct fixture f = {0};
    char path[200];

    (void)state;
    setup(&f, "inputs: [{name: web, format: nginx_timed}]\n"
              "slis: [{name: s, match: {path: '^/api'}}]\n");
    memset(path, 'x', sizeof(path));
    path[0] = '/';
    path[1] = '\'';
    path[sizeof(path) - 1] = '\0';
    assert_string_equal(classify(&f, "s", timed("GET", path, 200, "0")), "nomatch");
    assert_string_equal(f.why,
                        "nomatch: path '/\\x27xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                        "xxxxxxxxxxxxxxxxxxxxxxxxxxxx...' does not match '^/api' "
                        "(match[0])");
    teardown(&f);
}

/* elastic-examples-apache/apache_logs: 10000 combined lines, counts from SOURCES.md. */
static void test_real_apache_log_counts(void **state)
{
    struct fixture f = {0};
    char line[65536];
    size_t n[5] = {0}, unparsed = 0, total = 0;
    FILE *fp;

    (void)state;
    setup(&f, "inputs: [{name: web, format: apache_combined}]\n"
              "slis:\n"
              "  - {name: avail, exclude: {status: 4xx}, bad: {status: 5xx}}\n");
    fp = fopen(SLT_REAL_DATA "/elastic-examples-apache/apache_logs", "r");
    assert_non_null(fp);
    while (fgets(line, sizeof(line), fp)) {
        size_t len = strlen(line);

        if (len && line[len - 1] == '\n')
            line[--len] = '\0';
        total++;
        if (slt_parse(f.p, line, len, &f.rec) != SLT_UP_OK) {
            unparsed++;
            continue;
        }
        {
            struct slt_decision d;
            enum slt_class fast = slt_sli_classify(&f.cfg->slis[0], &f.rec, f.m, NULL);

            /* the explained path must agree with the fast one on every real line */
            assert_int_equal(slt_sli_classify(&f.cfg->slis[0], &f.rec, f.m, &d), fast);
            n[fast]++;
        }
    }
    fclose(fp);
    assert_int_equal(total, 10000);
    assert_int_equal(unparsed, 0);
    assert_int_equal(n[SLT_BAD], 3);
    assert_int_equal(n[SLT_EXCLUDED], 213 + 2 + 2);
    assert_int_equal(n[SLT_GOOD], 9126 + 445 + 164 + 45);
    assert_int_equal(n[SLT_NOMATCH], 0);
    teardown(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_then_exclude_then_bad_then_good),
        cmocka_unit_test(test_latency_over_is_strictly_over),
        cmocka_unit_test(test_latency_under_and_absent_latency),
        cmocka_unit_test(test_list_of_maps_holds_when_any_map_holds),
        cmocka_unit_test(test_status_ranges_classes_and_single_values),
        cmocka_unit_test(test_a_status_list_holds_for_any_of_its_entries),
        cmocka_unit_test(test_bad_status_ranges_are_rejected),
        cmocka_unit_test(test_status_regex_fast_path_agrees_with_pcre2),
        cmocka_unit_test(test_literal_fast_paths_agree_with_pcre2),
        cmocka_unit_test(test_absent_field_does_not_match_and_not_holds),
        cmocka_unit_test(test_not_negates_each_entry),
        cmocka_unit_test(test_regex_on_a_named_capture_of_a_user_format),
        cmocka_unit_test(test_json_user_format_and_a_condition_on_a_dotted_path),
        cmocka_unit_test(test_catastrophic_regex_is_a_rule_error_not_a_hang),
        cmocka_unit_test(test_prepared_plans_classify_like_the_atoms),
        cmocka_unit_test(test_prepare_orders_atoms_cheap_first),
        cmocka_unit_test(test_empty_map_always_holds),
        cmocka_unit_test(test_explanation_escapes_and_cuts_long_values),
        cmocka_unit_test(test_real_apache_log_counts),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
