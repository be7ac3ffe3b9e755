/*
 * `slitail explain`: parse one line as the rules would and show the fields captured and, for
 * each SLI of the input, the class and the condition that decided it.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "explain.h"
#include "lreader.h"
#include "slt/rule.h"

static void explain_usage(FILE *f)
{
    fprintf(f, "usage: slitail explain [-c CONFIG] [--format NAME] [--input NAME]\n"
               "                       [--latency-threshold DURATION] [--json] 'LINE'\n"
               "       slitail explain [OPTIONS] --file FILE [--line N]   (or FILE as LINE: a\n"
               "                                  path starting with /, ./ or ../)\n"
               "\n"
               "Parses LINE ('-' reads one line from standard input), or line N of FILE (default:\n"
               "the first that is not empty or a '#' header), and prints the fields it captured\n"
               "and, for each SLI, its class and the condition that decided it. Lines before the\n"
               "last of a multi-line LINE, and before line N of FILE, are read first, for formats\n"
               "whose header says what the fields are (w3c, cloudfront).\n"
               "Exit status: 0 when the line parsed, 1 when it did not, 2 on bad arguments or\n"
               "a config that does not load.\n");
}

json_t *slt__json_str(const char *p, size_t len)
{
    struct slt_buf b;
    json_t *j;
    size_t i;

    j = json_stringn(p ? p : "", p ? len : 0);
    if (j)
        return j;
    /* not UTF-8: keep ASCII, write other bytes as \xHH the way nginx logs them */
    slt_buf_init(&b, len * 4 + 1);
    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch < 0x80 && ch != 0)
            slt_buf_append(&b, &p[i], 1);
        else
            slt_buf_printf(&b, "\\x%02X", ch);
    }
    j = json_stringn(b.p ? b.p : "", b.len);
    slt_buf_release(&b);
    return j ? j : json_string("");
}

void slt__print_safe(void *fp, const char *p, size_t len)
{
    FILE *f = fp;
    size_t i;

    /* control bytes from a log line must not reach the terminal as themselves */
    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch < 0x20 || ch == 0x7f)
            fprintf(f, "\\x%02X", ch);
        else
            fputc(ch, f);
    }
}

/* Collects the non-canonical fields the SLIs of input idx refer to. */
static size_t extra_fields(const struct slt_config *cfg, const char *input,
                           const struct slt_atom **out, size_t max)
{
    size_t i, j, k, a, n = 0;

    for (i = 0; i < cfg->nslis; i++) {
        const struct slt_sli *s = &cfg->slis[i];
        const struct slt_condset *sets[3] = {&s->match, &s->exclude, &s->bad};
        if (strcmp(s->input, input) != 0)
            continue;
        for (j = 0; j < 3; j++) {
            for (k = 0; k < sets[j]->nmaps; k++) {
                const struct slt_condmap *cm = &sets[j]->maps[k];
                for (a = 0; a < cm->natoms; a++) {
                    const struct slt_atom *at = &cm->atoms[a];
                    size_t d;
                    int dup = 0;
                    if (at->kind != SLT_ATOM_REGEX || at->key < SLT_F__COUNT || !at->field)
                        continue;
                    for (d = 0; d < n; d++)
                        dup |= out[d]->key == at->key;
                    if (!dup && n < max)
                        out[n++] = at;
                }
            }
        }
    }
    return n;
}

int slt__explain_line(const struct slt_config *cfg, int input, const char *line, size_t len,
                      struct slt_explained *ex)
{
    const struct slt_input *in = &cfg->inputs[input];
    struct slt_parser *p;
    const char *nl;

    memset(ex, 0, sizeof(*ex));
    ex->input = input;
    p = slt_parser_new(in->fmt, in->max_line);
    if (!p)
        return SLT_ENOMEM;
    /* lines before the last one only set the parser's state (a W3C #Fields: header) */
    while ((nl = memchr(line, '\n', len)) != NULL) {
        (void)slt_parse(p, line, (size_t)(nl - line), &ex->rec);
        len -= (size_t)(nl + 1 - line);
        line = nl + 1;
    }
    ex->up = slt_parse(p, line, len, &ex->rec);
    if (ex->up < 0 || ex->up >= SLT_UP__COUNT)
        ex->up = SLT_UP_SYNTAX;
    ex->parser = p;
    return 0;
}

void slt__explained_release(struct slt_explained *ex)
{
    slt_parser_free(ex->parser);
    ex->parser = NULL;
}

static void print_human(const struct slt_config *cfg, const struct slt_explained *ex,
                        struct slt_matcher *m)
{
    const struct slt_input *in = &cfg->inputs[ex->input];
    const struct slt_record *rec = &ex->rec;
    const struct slt_atom *extra[64];
    size_t i, n, w = 6;
    char tbuf[64], why[512];

    printf("input %s (format %s)\n", in->name, slt_format_name(in->fmt));
    if (ex->up != SLT_UP_OK) {
        printf("unparsed: %s", slt_unparsed_name(ex->up));
        if (rec->detail)
            printf(": %s at column %zu", rec->detail, rec->column + 1);
        printf("\n");
        return;
    }
    printf("fields:\n");
    for (i = 0; i < SLT_F__COUNT; i++) {
        struct slt_str s = slt_record_get(rec, (int)i);
        if (!s.p)
            continue;
        printf("  %-16s ", slt_field_name((int)i));
        if (i == SLT_F_TIME) {
            slt__cli_iso8601(rec->time, rec->time_frac_us, tbuf, sizeof(tbuf));
            printf("%s  '", tbuf);
            slt__print_safe(stdout, s.p, s.len);
            printf("'\n");
        } else if (i == SLT_F_LATENCY && rec->latency_us >= 0) {
            printf("%.3f ms  '", (double)rec->latency_us / 1000.0);
            slt__print_safe(stdout, s.p, s.len);
            printf("'\n");
        } else if (i == SLT_F_UPSTREAM_LATENCY && rec->upstream_us >= 0) {
            printf("%.3f ms  '", (double)rec->upstream_us / 1000.0);
            slt__print_safe(stdout, s.p, s.len);
            printf("'\n");
        } else {
            slt__print_safe(stdout, s.p, s.len);
            printf("\n");
        }
    }
    if (!slt_record_get(rec, SLT_F_TIME).p) {
        slt__cli_iso8601(rec->time, rec->time_frac_us, tbuf, sizeof(tbuf));
        printf("  %-16s %s\n", "time", tbuf);
    }
    n = extra_fields(cfg, in->name, extra, SLT_ARRAY_SIZE(extra));
    for (i = 0; i < n; i++) {
        struct slt_str s = slt_record_get(rec, extra[i]->key);
        printf("  %-16s ", extra[i]->field);
        if (s.p)
            slt__print_safe(stdout, s.p, s.len);
        printf("%s\n", s.p ? "" : "(absent)");
    }
    for (i = 0; i < cfg->nslis; i++)
        if (cfg->slis[i].input_idx == (size_t)ex->input && strlen(cfg->slis[i].name) > w)
            w = strlen(cfg->slis[i].name);
    printf("slis:\n");
    for (i = 0; i < cfg->nslis; i++) {
        struct slt_decision d;
        const struct slt_sli *s = &cfg->slis[i];
        if (s->input_idx != (size_t)ex->input)
            continue;
        memset(&d, 0, sizeof(d));
        slt_sli_classify(s, rec, m, &d);
        why[0] = 0;
        slt_decision_format(&d, rec, why, sizeof(why));
        printf("  %-*s  %-8s \xe2\x80\x94 %s\n", (int)w, s->name, slt_class_name(d.cls), why);
    }
}

static json_t *explain_json(const struct slt_config *cfg, const struct slt_explained *ex,
                            struct slt_matcher *m)
{
    const struct slt_input *in = &cfg->inputs[ex->input];
    const struct slt_record *rec = &ex->rec;
    const struct slt_atom *extra[64];
    json_t *o = json_object(), *fields, *slis;
    char tbuf[64], why[512];
    size_t i, n;

    json_object_set_new(o, "input", json_string(in->name));
    json_object_set_new(o, "format", json_string(slt_format_name(in->fmt)));
    if (ex->up != SLT_UP_OK) {
        json_object_set_new(o, "parsed", json_false());
        json_object_set_new(o, "reason", json_string(slt_unparsed_name(ex->up)));
        if (rec->detail) {
            json_object_set_new(o, "detail", json_string(rec->detail));
            json_object_set_new(o, "column", json_integer((json_int_t)rec->column));
        }
        return o;
    }
    json_object_set_new(o, "parsed", json_true());
    fields = json_object();
    for (i = 0; i < SLT_F__COUNT; i++) {
        struct slt_str s = slt_record_get(rec, (int)i);
        if (s.p)
            json_object_set_new(fields, slt_field_name((int)i), slt__json_str(s.p, s.len));
    }
    n = extra_fields(cfg, in->name, extra, SLT_ARRAY_SIZE(extra));
    for (i = 0; i < n; i++) {
        struct slt_str s = slt_record_get(rec, extra[i]->key);
        json_object_set_new(fields, extra[i]->field, s.p ? slt__json_str(s.p, s.len) : json_null());
    }
    json_object_set_new(o, "fields", fields);
    slt__cli_iso8601(rec->time, rec->time_frac_us, tbuf, sizeof(tbuf));
    json_object_set_new(o, "time", json_string(tbuf));
    json_object_set_new(o, "time_unix", json_integer(rec->time));
    json_object_set_new(o, "status", json_integer(rec->status));
    json_object_set_new(o, "latency_ms",
                        rec->latency_us >= 0 ? json_real((double)rec->latency_us / 1000.0)
                                             : json_null());
    json_object_set_new(o, "upstream_latency_ms",
                        rec->upstream_us >= 0 ? json_real((double)rec->upstream_us / 1000.0)
                                              : json_null());
    slis = json_object();
    for (i = 0; i < cfg->nslis; i++) {
        struct slt_decision d;
        const struct slt_sli *s = &cfg->slis[i];
        json_t *js;
        if (s->input_idx != (size_t)ex->input)
            continue;
        memset(&d, 0, sizeof(d));
        slt_sli_classify(s, rec, m, &d);
        why[0] = 0;
        slt_decision_format(&d, rec, why, sizeof(why));
        js = json_object();
        json_object_set_new(js, "class", json_string(slt_class_name(d.cls)));
        json_object_set_new(js, "stage", json_string(d.stage ? d.stage : ""));
        json_object_set_new(js, "reason", slt__json_str(why, strlen(why)));
        json_object_set_new(slis, s->name, js);
    }
    json_object_set_new(o, "slis", slis);
    return o;
}

/* 1 for "/...", "./..." or "../..." with no space or tab in it. */
static int looks_like_path(const char *s)
{
    if (!(s[0] == '/' || strncmp(s, "./", 2) == 0 || strncmp(s, "../", 3) == 0))
        return 0;
    return strpbrk(s, " \t\n") == NULL;
}

/*
 * --file: the text from the file's first line through line n (1-based; 0: the first line that
 * is not empty and does not start with '#'), '\n'-separated, in *out (malloc'd). Only the
 * lines starting with '#' before it are kept (headers), so memory stays bounded by them.
 */
static int read_file_lines(const char *path, uint64_t n, char **out)
{
    struct slt_lreader lr;
    struct slt_str line;
    struct slt_buf b;
    int rc, found = 0;

    rc = slt_lreader_open(&lr, path, SLT_DEFAULT_MAX_LINE);
    if (rc < 0) {
        fprintf(stderr, "slitail explain: cannot read '%s': %s\n", path, slt_strerror(rc));
        return SLT_EXIT_USAGE;
    }
    slt_buf_init(&b, 64 * 1024 * 1024);
    while ((rc = slt_lreader_next(&lr, &line)) > 0) {
        int header = line.len > 0 && line.p[0] == '#', blank = line.len == 0;

        if (rc == SLT_LR_OVERSIZE)
            line.len = 0;
        if (n ? lr.lineno == n : (!header && !blank && rc == SLT_LR_LINE)) {
            slt_buf_append(&b, line.p, line.len);
            found = 1;
            break;
        }
        if (header && slt_buf_append(&b, line.p, line.len) == 0)
            slt_buf_append(&b, "\n", 1);
    }
    slt_lreader_close(&lr);
    if (!found) {
        fprintf(stderr,
                n ? "slitail explain: '%s' has fewer than %llu lines\n"
                  : "slitail explain: '%s' has no line to explain\n",
                path, (unsigned long long)n);
        slt_buf_release(&b);
        return SLT_EXIT_USAGE;
    }
    *out = malloc(b.len + 1);
    if (!*out) {
        slt_buf_release(&b);
        return SLT_EXIT_USAGE;
    }
    memcpy(*out, b.p, b.len);
    (*out)[b.len] = '\0';
    slt_buf_release(&b);
    return 0;
}

int slt_cli_explain(int argc, char **argv)
{
    struct slt_cli_opts opt;
    int rc, in;
    struct slt_config *cfg = NULL;
    struct slt_matcher *m = NULL;
    struct slt_explained ex;
    char *line = NULL, *stdin_line = NULL;
    size_t len, cap = 0;

    if ((rc = slt__cli_parse_opts(argc, argv, "explain", explain_usage, &opt)) >= 0)
        return rc;
    rc = SLT_EXIT_OK;
    if (opt.line_no && !opt.file) {
        fprintf(stderr, "slitail explain: --line needs --file\n");
        return SLT_EXIT_USAGE;
    }
    if (argc - optind != (opt.file ? 0 : 1)) {
        fprintf(stderr, opt.file ? "slitail explain: give --file FILE or a LINE, not both\n"
                                 : "slitail explain: give exactly one LINE (quote it)\n");
        explain_usage(stderr);
        return SLT_EXIT_USAGE;
    }
    /* a LINE that is a path ('/var/log/x.log', './x.log': no log line looks like that) is taken
     * for --file: the user meant the file, and a missing one is "no such file" */
    if (!opt.file && looks_like_path(argv[optind]))
        opt.file = argv[optind];
    if (opt.file) {
        if (!slt__cli_file_exists(opt.file, "explain"))
            return SLT_EXIT_USAGE;
        if ((rc = read_file_lines(opt.file, opt.line_no, &stdin_line)) != 0)
            return rc;
        line = stdin_line;
    } else {
        line = argv[optind];
    }
    if (!opt.file && strcmp(line, "-") == 0) {
        ssize_t n = getline(&stdin_line, &cap, stdin);
        if (n < 0) {
            fprintf(stderr, "slitail explain: no line on standard input\n");
            free(stdin_line);
            return SLT_EXIT_USAGE;
        }
        line = stdin_line;
    }
    len = strlen(line);
    if (len > 0 && line[len - 1] == '\n')
        len--;
    if (slt__cli_load_config(opt.config, opt.format, opt.threshold_us, &cfg) != 0) {
        free(stdin_line);
        return SLT_EXIT_USAGE;
    }
    rc = SLT_EXIT_USAGE;
    in = slt__cli_pick_input(cfg, opt.input, opt.file);
    if (in < 0)
        goto out;
    m = slt_matcher_new();
    if (!m || slt__explain_line(cfg, in, line, len, &ex) < 0) {
        fprintf(stderr, "slitail explain: out of memory\n");
        goto out;
    }
    if (opt.json) {
        json_t *o = explain_json(cfg, &ex, m);
        json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
        printf("\n");
        json_decref(o);
    } else {
        print_human(cfg, &ex, m);
    }
    rc = ex.up == SLT_UP_OK ? SLT_EXIT_OK : SLT_EXIT_FAIL;
    slt__explained_release(&ex);
out:
    slt_matcher_free(m);
    slt_config_free(cfg);
    free(stdin_line);
    return rc;
}
