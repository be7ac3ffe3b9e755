/*
 * `slitail test`: rule test cases in YAML, the way `promtool test rules` runs alerting tests.
 * Each case is a log line and the class each SLI must give it; docs/RULE_TESTS.md has the
 * format. A case file is checked whole before any case runs, so a typo fails with file:line
 * (exit 2) instead of a half-run.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "cli.h"
#include "explain.h"
#include "slt/rule.h"

#define SLT_TEST_MAX_FILE (16 * 1024 * 1024)

struct opts {
    const char *config; /* -c: overrides the files' config: */
    const char *format; /* --format: the default config when a file names none */
    int64_t threshold_us;
    int verbose;
};

struct tfile {
    const char *path;
    yaml_document_t doc;
    int loaded;
    struct slt_config *cfg;
};

static void test_usage(FILE *f)
{
    fprintf(f, "usage: slitail test [-c CONFIG] [--format NAME] [-v] CASES.yaml...\n"
               "\n"
               "Runs rule test cases: each is a log line and the class (good, bad, excluded,\n"
               "nomatch, unparsed) each SLI must give it. A case file names its config with\n"
               "'config:' (relative to the file); -c overrides it. See docs/RULE_TESTS.md.\n"
               "\n"
               "  -c, --config FILE   use this config for every case file\n"
               "  -f, --format NAME   without any config: the default config of this format\n"
               "  -v, --verbose       print passing cases too\n"
               "\n"
               "Exit status: 0 when every case passed, 1 when one failed, 2 on a case file or\n"
               "config that does not load.\n");
}

static yaml_node_t *node(yaml_document_t *d, int id)
{
    return yaml_document_get_node(d, id);
}

static const char *scalar(yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int bad(const struct tfile *f, yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prints "file:line:col: message" for node n and returns -1. */
static int bad(const struct tfile *f, yaml_node_t *n, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s:%zu:%zu: ", f->path, n ? n->start_mark.line + 1 : 0,
            n ? n->start_mark.column + 1 : 0);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    return -1;
}

/* The value of key in mapping m, or NULL; *keynode gets the key's node. */
static yaml_node_t *get(yaml_document_t *d, yaml_node_t *m, const char *key)
{
    yaml_node_pair_t *p;

    if (!m || m->type != YAML_MAPPING_NODE)
        return NULL;
    for (p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        const char *k = scalar(node(d, p->key));
        if (k && strcmp(k, key) == 0)
            return node(d, p->value);
    }
    return NULL;
}

static int check_keys(struct tfile *f, yaml_node_t *m, const char *const *allowed)
{
    yaml_node_pair_t *p;
    size_t i;

    for (p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = node(&f->doc, p->key);
        const char *k = scalar(kn);
        int ok = 0;
        for (i = 0; k && allowed[i]; i++)
            ok |= strcmp(k, allowed[i]) == 0;
        if (!ok)
            return bad(f, kn,
                       "unknown key '%s' (expected one of: name, input, line, expect, "
                       "expect_fields, expect_unparsed)",
                       k ? k : "(not a string)");
    }
    return 0;
}

static int load_yaml(struct tfile *f)
{
    yaml_parser_t parser;
    struct stat st;
    FILE *fp;
    int rc = 0;

    fp = fopen(f->path, "rb");
    if (!fp) {
        fprintf(stderr, "slitail test: cannot open '%s': %s\n", f->path, slt_strerror(-errno));
        return -1;
    }
    if (fstat(fileno(fp), &st) == 0 && st.st_size > SLT_TEST_MAX_FILE) {
        fprintf(stderr, "%s: %lld bytes is more than a case file may hold (%d)\n", f->path,
                (long long)st.st_size, SLT_TEST_MAX_FILE);
        fclose(fp);
        return -1;
    }
    if (!yaml_parser_initialize(&parser)) {
        fclose(fp);
        fprintf(stderr, "slitail test: out of memory\n");
        return -1;
    }
    yaml_parser_set_input_file(&parser, fp);
    if (!yaml_parser_load(&parser, &f->doc)) {
        fprintf(stderr, "%s:%zu:%zu: %s %s\n", f->path, parser.problem_mark.line + 1,
                parser.problem_mark.column + 1, parser.problem ? parser.problem : "bad YAML",
                parser.context ? parser.context : "");
        rc = -1;
    } else {
        f->loaded = 1;
    }
    yaml_parser_delete(&parser);
    fclose(fp);
    return rc;
}

static int class_from_name(const char *s)
{
    int c;

    for (c = SLT_GOOD; c <= SLT_NOMATCH; c++)
        if (strcmp(s, slt_class_name(c)) == 0)
            return c;
    return -1;
}

static int reason_from_name(const char *s)
{
    int r;

    for (r = 1; r < SLT_UP__COUNT; r++)
        if (strcmp(s, slt_unparsed_name(r)) == 0)
            return r;
    return -1;
}

/* The input a case runs against, or -1 after an error message. */
static int case_input(struct tfile *f, yaml_node_t *tc)
{
    yaml_node_t *in = get(&f->doc, tc, "input"), *ex = get(&f->doc, tc, "expect");
    const struct slt_config *cfg = f->cfg;
    yaml_node_pair_t *p;
    int idx = -1;

    if (in) {
        const char *name = scalar(in);
        if (!name)
            return bad(f, in, "input: must be a string");
        idx = slt_config_input_index(cfg, name);
        if (idx < 0)
            return bad(f, in, "no input '%s' in the config", name);
        return idx;
    }
    if (cfg->ninputs == 1)
        return 0;
    /* several inputs: the one every expected SLI belongs to */
    if (ex && ex->type == YAML_MAPPING_NODE) {
        for (p = ex->data.mapping.pairs.start; p < ex->data.mapping.pairs.top; p++) {
            const char *sli = scalar(node(&f->doc, p->key));
            int s = sli ? slt_config_sli_index(cfg, sli) : -1;
            if (s < 0)
                continue;
            if (idx >= 0 && (size_t)idx != cfg->slis[s].input_idx)
                return bad(f, tc, "the expected SLIs belong to different inputs; add input:");
            idx = (int)cfg->slis[s].input_idx;
        }
    }
    if (idx < 0)
        return bad(f, tc, "the config has several inputs; add input:");
    return idx;
}

/* Checks one case without running it. 0 or -1 (message printed). */
static int validate_case(struct tfile *f, yaml_node_t *tc)
{
    static const char *const keys[] = {"name",          "input",           "line", "expect",
                                       "expect_fields", "expect_unparsed", NULL};
    yaml_node_t *n, *ex, *ef, *eu;
    yaml_node_pair_t *p;
    int in;

    if (tc->type != YAML_MAPPING_NODE)
        return bad(f, tc, "a test case must be a mapping (name:, line:, expect:)");
    if (check_keys(f, tc, keys) < 0)
        return -1;
    n = get(&f->doc, tc, "name");
    if (!scalar(n))
        return bad(f, n ? n : tc, "a test case needs name: (a string)");
    n = get(&f->doc, tc, "line");
    if (!scalar(n))
        return bad(f, n ? n : tc, "test case needs line: (a string: quote it with ')");
    ex = get(&f->doc, tc, "expect");
    ef = get(&f->doc, tc, "expect_fields");
    eu = get(&f->doc, tc, "expect_unparsed");
    if (!ex && !ef && !eu)
        return bad(f, tc, "test case needs expect:, expect_fields: or expect_unparsed:");
    if ((in = case_input(f, tc)) < 0)
        return -1;
    if (ex) {
        if (ex->type != YAML_MAPPING_NODE)
            return bad(f, ex, "expect: must map SLI names to classes");
        for (p = ex->data.mapping.pairs.start; p < ex->data.mapping.pairs.top; p++) {
            yaml_node_t *kn = node(&f->doc, p->key), *vn = node(&f->doc, p->value);
            const char *sli = scalar(kn), *cls = scalar(vn);
            int s = sli ? slt_config_sli_index(f->cfg, sli) : -1;
            if (s < 0)
                return bad(f, kn, "no SLI '%s' in the config", sli ? sli : "");
            if (f->cfg->slis[s].input_idx != (size_t)in)
                return bad(f, kn, "SLI '%s' reads input '%s', not this case's", sli,
                           f->cfg->slis[s].input);
            if (!cls || class_from_name(cls) < 0)
                return bad(f, vn, "class '%s' is not good, bad, excluded, nomatch or unparsed",
                           cls ? cls : "");
        }
    }
    if (ef) {
        if (ef->type != YAML_MAPPING_NODE)
            return bad(f, ef, "expect_fields: must map field names to text");
        for (p = ef->data.mapping.pairs.start; p < ef->data.mapping.pairs.top; p++) {
            yaml_node_t *kn = node(&f->doc, p->key), *vn = node(&f->doc, p->value);
            const char *field = scalar(kn);
            if (!field || slt_format_field_key(f->cfg->inputs[in].fmt, field, strlen(field)) < 0)
                return bad(f, kn, "format '%s' has no field '%s'",
                           slt_format_name(f->cfg->inputs[in].fmt), field ? field : "");
            if (!scalar(vn))
                return bad(f, vn, "expect_fields: '%s' must be a string", field);
        }
    }
    if (eu) {
        const char *r = scalar(eu);
        if (!r || (reason_from_name(r) < 0 && strcmp(r, "any") != 0))
            return bad(f, eu,
                       "expect_unparsed: '%s' is not a reason (any, empty, oversize, syntax, "
                       "time, status, latency, no_match, match_limit, not_access)",
                       r ? r : "");
    }
    return 0;
}

static void show_line(const char *line)
{
    printf("    line: ");
    slt__print_safe(stdout, line, strlen(line));
    printf("\n");
}

/* Prints text line by line, control bytes escaped. */
static void print_lines_safe(const char *p, size_t len)
{
    while (len > 0) {
        const char *nl = memchr(p, '\n', len);
        size_t n = nl ? (size_t)(nl - p) : len;
        slt__print_safe(stdout, p, n);
        printf("\n");
        if (!nl)
            break;
        len -= n + 1;
        p = nl + 1;
    }
}

/* Runs one validated case; prints it when it fails (or always with -v). 1 pass, 0 fail. */
static int run_case(struct tfile *f, yaml_node_t *tc, struct slt_matcher *m, int verbose)
{
    const char *name = scalar(get(&f->doc, tc, "name"));
    const char *line = scalar(get(&f->doc, tc, "line"));
    yaml_node_t *ex = get(&f->doc, tc, "expect"), *ef = get(&f->doc, tc, "expect_fields");
    yaml_node_t *eu = get(&f->doc, tc, "expect_unparsed");
    struct slt_explained e;
    struct slt_buf diff;
    yaml_node_pair_t *p;
    char why[512];
    int in = case_input(f, tc), failed = 0;
    size_t len = strlen(line);

    if (len > 0 && line[len - 1] == '\n')
        len--;
    if (slt__explain_line(f->cfg, in, line, len, &e) < 0) {
        printf("  FAILED: %s: out of memory\n", name);
        return 0;
    }
    slt_buf_init(&diff, 1 << 20);
    if (eu) {
        const char *want = scalar(eu);
        int ok = e.up != SLT_UP_OK &&
                 (strcmp(want, "any") == 0 || strcmp(want, slt_unparsed_name(e.up)) == 0);
        if (!ok) {
            failed = 1;
            slt_buf_printf(&diff, "    unparsed:\n      - expected %s\n      + got      %s", want,
                           e.up == SLT_UP_OK ? "parsed" : slt_unparsed_name(e.up));
            if (e.up != SLT_UP_OK && e.rec.detail)
                slt_buf_printf(&diff, " (%s at column %zu)", e.rec.detail, e.rec.column + 1);
            slt_buf_printf(&diff, "\n");
        }
    } else if (e.up != SLT_UP_OK && ef) {
        failed = 1;
        slt_buf_printf(&diff, "    parse:\n      - expected parsed\n      + got      unparsed %s",
                       slt_unparsed_name(e.up));
        if (e.rec.detail)
            slt_buf_printf(&diff, " (%s at column %zu)", e.rec.detail, e.rec.column + 1);
        slt_buf_printf(&diff, "\n");
    }
    if (ex) {
        for (p = ex->data.mapping.pairs.start; p < ex->data.mapping.pairs.top; p++) {
            const char *sli = scalar(node(&f->doc, p->key));
            const char *want = scalar(node(&f->doc, p->value));
            const struct slt_sli *s = &f->cfg->slis[slt_config_sli_index(f->cfg, sli)];
            struct slt_decision d;
            int got;

            memset(&d, 0, sizeof(d));
            why[0] = 0;
            if (e.up != SLT_UP_OK) {
                got = SLT_UNPARSED;
                snprintf(why, sizeof(why), "%s%s%s", slt_unparsed_name(e.up),
                         e.rec.detail ? ": " : "", e.rec.detail ? e.rec.detail : "");
            } else {
                got = (int)slt_sli_classify(s, &e.rec, m, &d);
                slt_decision_format(&d, &e.rec, why, sizeof(why));
            }
            if (got != class_from_name(want)) {
                failed = 1;
                slt_buf_printf(&diff, "    %s:\n      - expected %s\n      + got      %s (%s)\n",
                               sli, want, slt_class_name(got), why);
            }
        }
    }
    if (ef && e.up == SLT_UP_OK) {
        for (p = ef->data.mapping.pairs.start; p < ef->data.mapping.pairs.top; p++) {
            const char *field = scalar(node(&f->doc, p->key));
            const char *want = scalar(node(&f->doc, p->value));
            int key = slt_format_field_key(f->cfg->inputs[in].fmt, field, strlen(field));
            struct slt_str got = slt_record_get(&e.rec, key);
            if (!got.p || got.len != strlen(want) || memcmp(got.p, want, got.len) != 0) {
                failed = 1;
                if (got.p)
                    slt_buf_printf(&diff,
                                   "    field %s:\n      - expected '%s'\n      + got      "
                                   "'%.*s'\n",
                                   field, want, (int)got.len, got.p);
                else
                    slt_buf_printf(&diff,
                                   "    field %s:\n      - expected '%s'\n      + got      "
                                   "(absent)\n",
                                   field, want);
            }
        }
    }
    if (failed) {
        printf("  FAILED: %s  (%s:%zu)\n", name, f->path, tc->start_mark.line + 1);
        show_line(line);
        print_lines_safe(diff.p, diff.len);
    } else if (verbose) {
        printf("  ok: %s\n", name);
    }
    slt_buf_release(&diff);
    slt__explained_release(&e);
    return !failed;
}

/* Loads, validates and runs one file. Returns 0, or -1 for a bad file (nothing ran). */
static int run_file(struct tfile *f, const struct opts *o, int *passed, int *failed)
{
    yaml_node_t *root, *tests, *cfgn;
    yaml_node_item_t *it;
    struct slt_matcher *m = NULL;
    char *dir = NULL, *cfgpath = NULL;
    int rc = -1, before;
    static const char *const keys[] = {"config", "tests", NULL};

    if (load_yaml(f) < 0)
        return -1;
    root = yaml_document_get_root_node(&f->doc);
    if (!root || root->type != YAML_MAPPING_NODE)
        return bad(f, root, "a case file is a mapping with config: and tests:");
    {
        yaml_node_pair_t *p;
        for (p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
            yaml_node_t *kn = node(&f->doc, p->key);
            const char *k = scalar(kn);
            if (!k || (strcmp(k, keys[0]) != 0 && strcmp(k, keys[1]) != 0))
                return bad(f, kn, "unknown key '%s' (expected config: and tests:)", k ? k : "");
        }
    }
    tests = get(&f->doc, root, "tests");
    if (!tests || tests->type != YAML_SEQUENCE_NODE)
        return bad(f, tests ? tests : root, "tests: must be a list of cases");
    cfgn = get(&f->doc, root, "config");
    if (o->config) {
        if (slt__cli_load_config(o->config, NULL, o->threshold_us, &f->cfg) != 0)
            return -1;
    } else if (cfgn) {
        const char *c = scalar(cfgn);
        char *tmp;
        if (!c)
            return bad(f, cfgn, "config: must be a path");
        tmp = slt_strdup(f->path);
        dir = tmp ? slt_strdup(dirname(tmp)) : NULL;
        slt_free(tmp);
        cfgpath = slt_malloc(strlen(c) + (dir ? strlen(dir) : 0) + 2);
        if (!dir || !cfgpath) {
            fprintf(stderr, "slitail test: out of memory\n");
            goto out;
        }
        if (c[0] == '/')
            strcpy(cfgpath, c);
        else
            sprintf(cfgpath, "%s/%s", dir, c);
        if (slt__cli_load_config(cfgpath, NULL, o->threshold_us, &f->cfg) != 0) {
            bad(f, cfgn, "config '%s' does not load (see above)", cfgpath);
            goto out;
        }
    } else if (o->format) {
        if (slt__cli_load_config(NULL, o->format, o->threshold_us, &f->cfg) != 0)
            goto out;
    } else {
        bad(f, root, "no config: add config: to the file, or give -c CONFIG or --format NAME");
        goto out;
    }
    for (it = tests->data.sequence.items.start; it < tests->data.sequence.items.top; it++)
        if (validate_case(f, node(&f->doc, *it)) < 0)
            goto out;
    m = slt_matcher_new();
    if (!m) {
        fprintf(stderr, "slitail test: out of memory\n");
        goto out;
    }
    printf("Unit Testing: %s\n", f->path);
    before = *failed;
    for (it = tests->data.sequence.items.start; it < tests->data.sequence.items.top; it++) {
        if (run_case(f, node(&f->doc, *it), m, o->verbose))
            (*passed)++;
        else
            (*failed)++;
    }
    printf("  %s\n\n", *failed == before ? "SUCCESS" : "FAILED");
    rc = 0;
out:
    slt_matcher_free(m);
    slt_free(dir);
    slt_free(cfgpath);
    return rc;
}

int slt_cli_test(int argc, char **argv)
{
    static const struct option lopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"format", required_argument, NULL, 'f'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct opts o = {NULL, NULL, 0, 0}; /* threshold 0: the default, and no warning with -c */
    int c, i, passed = 0, failed = 0, badfile = 0;

    optind = 1;
    while ((c = getopt_long(argc, argv, "c:f:vh", lopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o.config = optarg;
            break;
        case 'f':
            o.format = optarg;
            break;
        case 'v':
            o.verbose = 1;
            break;
        case 'h':
            test_usage(stdout);
            return SLT_EXIT_OK;
        default:
            test_usage(stderr);
            return SLT_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "slitail test: no CASES.yaml given\n");
        test_usage(stderr);
        return SLT_EXIT_USAGE;
    }
    for (i = optind; i < argc; i++) {
        struct tfile f;
        memset(&f, 0, sizeof(f));
        f.path = argv[i];
        if (run_file(&f, &o, &passed, &failed) < 0)
            badfile = 1;
        if (f.loaded)
            yaml_document_delete(&f.doc);
        slt_config_free(f.cfg);
        fflush(stdout);
    }
    printf("%d passed, %d failed%s\n", passed, failed,
           badfile ? ", and a case file did not load" : "");
    if (badfile)
        return SLT_EXIT_USAGE;
    return failed ? SLT_EXIT_FAIL : SLT_EXIT_OK;
}
