/*
 * `slitail check`: read log files (plain or .gz) and report, per file, how many lines parsed,
 * why the others did not, and per SLI how many events were good, bad or excluded, the ratio and
 * the minutes covered. Memory is bounded: one read buffer (lreader.h), a fixed number of
 * unparsed samples, and one minute bitmap per SLI (minset.h).
 */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "explain.h"
#include "lreader.h"
#include "minset.h"
#include "slt/rule.h"

#define SLT_CHECK_SAMPLES 5

struct sample {
    uint64_t line;
    int reason;
    const char *detail; /* static string from the parser, or NULL */
    size_t column;
};

struct sli_count {
    uint64_t n[SLT_CLASS_COUNTED];
    struct slt_minset minutes;
};

struct report {
    const char *path;
    const char *input;  /* NULL for the total */
    const char *format; /* NULL for the total */
    const char *error;  /* the file could not be read */
    int err;
    uint64_t lines, parsed, unparsed;
    uint64_t reasons[SLT_UP__COUNT];
    uint64_t classes[10]; /* parsed lines by status / 100 */
    uint64_t rule_errors; /* regexes that hit their match or depth limit */
    struct sample samples[SLT_CHECK_SAMPLES];
    size_t nsamples;
    struct slt_minset minutes;
    int64_t first, last;
    int have_time;
    unsigned char *uses;    /* uses[i]: SLI i belongs to this file's input */
    struct sli_count *slis; /* one per SLI of the config */
    int in;                 /* index of the input, -1 when the file is missing */
    int done;               /* -j: read by a worker, ready to merge */
};

static void check_usage(FILE *f)
{
    fprintf(f, "usage: slitail check [-c CONFIG] [--format NAME] [--input NAME]\n"
               "                     [--latency-threshold DURATION] [--json]\n"
               "                     [--max-unparsed PCT] [-j N] FILE...\n"
               "\n"
               "Reads plain or gzip access logs and reports, per file, the lines that parsed, the\n"
               "ones that did not (and why), and per SLI the good, bad and excluded events, the\n"
               "ratio good/(good+bad) and the minutes covered.\n"
               "\n"
               "  -c, --config FILE            rules from this config (default: --format with an\n"
               "                               'availability' SLI and, with latency, 'latency')\n"
               "  -f, --format NAME            built-in format to use without a config\n"
               "  -i, --input NAME             the config input the files belong to (default: the\n"
               "                               only input, or the one whose paths match the file)\n"
               "  -l, --latency-threshold DUR  slow-request threshold of the default 'latency'\n"
               "                               SLI (default 300ms)\n"
               "      --json                   print JSON\n"
               "      --max-unparsed PCT       exit 3 when more than PCT of an input's lines\n"
               "                               did not parse (default 10%%; 100%% disables)\n"
               "  -j, --jobs N                 read N files at a time, one per thread\n"
               "                               (default 1; the report is the same)\n"
               "\n"
               "Exit status: 0 when every file was read, 1 when one could not be (or does not\n"
               "exist), 2 on bad arguments or a config that does not load, 3 when more than\n"
               "--max-unparsed of an input's lines did not parse (the top reasons and the\n"
               "built-in format that parses most of a sample are printed).\n");
}

static int report_init(struct report *r, size_t nslis)
{
    memset(r, 0, sizeof(*r));
    r->slis = slt_calloc(nslis ? nslis : 1, sizeof(*r->slis));
    r->uses = slt_calloc(nslis ? nslis : 1, 1);
    return r->slis && r->uses ? 0 : SLT_ENOMEM;
}

static void report_release(struct report *r, size_t nslis)
{
    size_t i;

    slt_minset_release(&r->minutes);
    for (i = 0; r->slis && i < nslis; i++)
        slt_minset_release(&r->slis[i].minutes);
    slt_free(r->slis);
    slt_free(r->uses);
}

static void note_unparsed(struct report *r, uint64_t line, int reason, const char *detail,
                          size_t column)
{
    r->unparsed++;
    r->reasons[reason]++;
    if (r->nsamples < SLT_CHECK_SAMPLES) {
        struct sample *s = &r->samples[r->nsamples++];
        s->line = line;
        s->reason = reason;
        s->detail = detail;
        s->column = column;
    }
}

/* One SLI of the file's input, with its counters, as the hot loop wants them. */
struct hot_sli {
    const struct slt_sli *sli;
    struct sli_count *c;
};

/*
 * The hot loop: one file through one parser and the SLIs of its input. Counters live in locals
 * while it runs (the compiler cannot keep fields of r in registers across the calls).
 */
static int check_file(struct report *r, const struct slt_input *in, const struct hot_sli *hot,
                      size_t nsli, struct slt_parser *p, struct slt_matcher *m)
{
    struct slt_lreader lr;
    struct slt_str line;
    struct slt_record rec;
    uint64_t lines = 0, parsed = 0;
    int64_t first = r->first, last = r->last;
    int have_time = r->have_time, rc;
    int64_t minute = 0, minute_t0 = 0; /* the minute of the last line, and its first second */
    const struct slt_sli **slis = slt_malloc((nsli ? nsli : 1) * sizeof(*slis));
    unsigned char *cls = slt_malloc(nsli ? nsli : 1);
    size_t k;

    if (!slis || !cls) {
        slt_free(slis);
        slt_free(cls);
        return SLT_ENOMEM;
    }
    for (k = 0; k < nsli; k++)
        slis[k] = hot[k].sli;

    rc = slt_lreader_open(&lr, r->path, in->max_line ? in->max_line : SLT_DEFAULT_MAX_LINE);
    if (rc < 0) {
        slt_free(slis);
        slt_free(cls);
        return rc;
    }
    while ((rc = slt_lreader_next_fast(&lr, &line)) > 0) {
        int up;

        lines++;
        if (rc == SLT_LR_OVERSIZE) {
            note_unparsed(r, lr.lineno, SLT_UP_OVERSIZE, "longer than max_line", 0);
            continue;
        }
        up = slt_parse(p, line.p, line.len, &rec); /* zeroes rec itself */
        if (up != SLT_UP_OK) {
            if (up < 0 || up >= SLT_UP__COUNT)
                up = SLT_UP_SYNTAX;
            note_unparsed(r, lr.lineno, up, rec.detail, rec.column);
            continue;
        }
        parsed++;
        r->classes[(unsigned)rec.status / 100 % 10]++;
        if (!have_time) {
            first = last = rec.time;
            have_time = 1;
        } else if (rec.time < first) {
            first = rec.time;
        } else if (rec.time > last) {
            last = rec.time;
        }
        /* times are >= 0 (parsers reject earlier ones): most lines are in the last minute */
        if ((uint64_t)(rec.time - minute_t0) >= 60) {
            minute = slt_minute_of(rec.time);
            minute_t0 = minute * 60;
        }
        slt_minset_add(&r->minutes, minute);
        slt_slis_classify(slis, nsli, &rec, m, cls);
        for (k = 0; k < nsli; k++) {
            if (cls[k] < SLT_CLASS_COUNTED) {
                hot[k].c->n[cls[k]]++;
                slt_minset_add(&hot[k].c->minutes, minute);
            }
        }
    }
    r->lines += lines;
    r->parsed += parsed;
    r->first = first;
    r->last = last;
    r->have_time = have_time;
    if (rc == 0 && lr.truncated) {
        r->error = "truncated gzip file (unexpected end of file)";
        rc = SLT_ECORRUPT;
    }
    slt_lreader_close(&lr);
    slt_free(slis);
    slt_free(cls);
    return rc;
}

static void merge_report(struct report *t, const struct report *r, size_t nslis)
{
    size_t i, j;

    t->lines += r->lines;
    t->parsed += r->parsed;
    t->unparsed += r->unparsed;
    t->rule_errors += r->rule_errors;
    for (i = 0; i < SLT_UP__COUNT; i++)
        t->reasons[i] += r->reasons[i];
    for (i = 0; i < SLT_ARRAY_SIZE(t->classes); i++)
        t->classes[i] += r->classes[i];
    slt_minset_merge(&t->minutes, &r->minutes);
    if (r->have_time) {
        if (!t->have_time || r->first < t->first)
            t->first = r->first;
        if (!t->have_time || r->last > t->last)
            t->last = r->last;
        t->have_time = 1;
    }
    for (i = 0; i < nslis; i++) {
        if (!r->uses[i])
            continue;
        t->uses[i] = 1;
        for (j = 0; j < SLT_CLASS_COUNTED; j++)
            t->slis[i].n[j] += r->slis[i].n[j];
        slt_minset_merge(&t->slis[i].minutes, &r->slis[i].minutes);
    }
}

static json_t *ratio_json(const struct sli_count *c)
{
    uint64_t den = c->n[SLT_GOOD] + c->n[SLT_BAD];
    return den ? json_real((double)c->n[SLT_GOOD] / (double)den) : json_null();
}

static json_t *report_json(const struct report *r, const struct slt_config *cfg)
{
    json_t *o = json_object(), *reasons = json_object(), *samples = json_array();
    json_t *slis = json_object(), *classes;
    size_t i;

    if (r->path)
        json_object_set_new(o, "file", slt__json_str(r->path, strlen(r->path)));
    if (r->input)
        json_object_set_new(o, "input", json_string(r->input));
    if (r->format)
        json_object_set_new(o, "format", json_string(r->format));
    if (r->error)
        json_object_set_new(o, "error", json_string(r->error));
    json_object_set_new(o, "lines", json_integer((json_int_t)r->lines));
    json_object_set_new(o, "parsed", json_integer((json_int_t)r->parsed));
    json_object_set_new(o, "unparsed", json_integer((json_int_t)r->unparsed));
    for (i = 1; i < SLT_UP__COUNT; i++)
        if (r->reasons[i])
            json_object_set_new(reasons, slt_unparsed_name((int)i),
                                json_integer((json_int_t)r->reasons[i]));
    json_object_set_new(o, "unparsed_reasons", reasons);
    for (i = 0; i < r->nsamples; i++) {
        const struct sample *s = &r->samples[i];
        json_t *js = json_object();
        json_object_set_new(js, "line", json_integer((json_int_t)s->line));
        json_object_set_new(js, "reason", json_string(slt_unparsed_name(s->reason)));
        if (s->detail) {
            json_object_set_new(js, "detail", json_string(s->detail));
            json_object_set_new(js, "column", json_integer((json_int_t)s->column));
        }
        json_array_append_new(samples, js);
    }
    json_object_set_new(o, "unparsed_samples", samples);
    classes = json_object();
    for (i = 0; i < SLT_ARRAY_SIZE(r->classes); i++) {
        char name[8];
        if (!r->classes[i] && (i < 1 || i > 5))
            continue;
        snprintf(name, sizeof(name), "%zuxx", i);
        json_object_set_new(classes, name, json_integer((json_int_t)r->classes[i]));
    }
    json_object_set_new(o, "status_classes", classes);
    if (r->rule_errors)
        json_object_set_new(o, "rule_errors", json_integer((json_int_t)r->rule_errors));
    json_object_set_new(o, "minutes", json_integer((json_int_t)r->minutes.count));
    if (slt_minset_approx(&r->minutes))
        json_object_set_new(o, "minutes_approximate", json_true());
    json_object_set_new(o, "first_time", r->have_time ? json_integer(r->first) : json_null());
    json_object_set_new(o, "last_time", r->have_time ? json_integer(r->last) : json_null());
    for (i = 0; i < cfg->nslis; i++) {
        const struct sli_count *c = &r->slis[i];
        json_t *js;
        if (!r->uses[i])
            continue;
        js = json_object();
        json_object_set_new(js, "good", json_integer((json_int_t)c->n[SLT_GOOD]));
        json_object_set_new(js, "bad", json_integer((json_int_t)c->n[SLT_BAD]));
        json_object_set_new(js, "excluded", json_integer((json_int_t)c->n[SLT_EXCLUDED]));
        json_object_set_new(js, "ratio", ratio_json(c));
        json_object_set_new(js, "minutes", json_integer((json_int_t)c->minutes.count));
        if (slt_minset_approx(&c->minutes))
            json_object_set_new(js, "minutes_approximate", json_true());
        json_object_set_new(slis, cfg->slis[i].name, js);
    }
    json_object_set_new(o, "slis", slis);
    return o;
}

static void print_report(const struct report *r, const struct slt_config *cfg, int nfiles)
{
    char t1[40], t2[40];
    size_t i, w = 3;
    int first;

    if (r->path && !r->input)
        printf("%s\n", r->path);
    else if (r->path)
        printf("%s  (input %s, format %s)\n", r->path, r->input, r->format);
    else
        printf("TOTAL  (%d files)\n", nfiles);
    if (r->error) {
        printf("  error: %s\n\n", r->error);
        return;
    }
    printf("  lines %" PRIu64 "  parsed %" PRIu64 "  unparsed %" PRIu64, r->lines, r->parsed,
           r->unparsed);
    first = 1;
    for (i = 1; i < SLT_UP__COUNT; i++) {
        if (!r->reasons[i])
            continue;
        printf("%s%s %" PRIu64, first ? " (" : ", ", slt_unparsed_name((int)i), r->reasons[i]);
        first = 0;
    }
    printf("%s\n", first ? "" : ")");
    if (r->have_time) {
        slt__cli_iso8601(r->first, 0, t1, sizeof(t1));
        slt__cli_iso8601(r->last, 0, t2, sizeof(t2));
        printf("  time  %s .. %s  minutes %" PRIu64 "%s\n", t1, t2, r->minutes.count,
               slt_minset_approx(&r->minutes) ? " (approximate)" : "");
    }
    printf("  status");
    for (i = 0; i < SLT_ARRAY_SIZE(r->classes); i++)
        if (r->classes[i] || (i >= 1 && i <= 5))
            printf("  %zuxx %" PRIu64, i, r->classes[i]);
    printf("\n");
    if (r->rule_errors)
        printf("  rule errors %" PRIu64 " (a regex hit its match or depth limit; the condition "
               "did not hold)\n",
               r->rule_errors);
    for (i = 0; i < r->nsamples; i++) {
        const struct sample *s = &r->samples[i];
        printf("  unparsed line %" PRIu64 ": %s", s->line, slt_unparsed_name(s->reason));
        if (s->detail)
            printf(" (%s, column %zu)", s->detail, s->column + 1);
        printf("\n");
    }
    if (r->path && r->unparsed > r->nsamples)
        printf("  ... and %" PRIu64 " more unparsed\n", r->unparsed - r->nsamples);
    for (i = 0; i < cfg->nslis; i++)
        if (r->uses[i] && strlen(cfg->slis[i].name) > w)
            w = strlen(cfg->slis[i].name);
    printf("  %-*s %12s %10s %10s %10s %8s\n", (int)w, "SLI", "good", "bad", "excluded", "ratio",
           "minutes");
    for (i = 0; i < cfg->nslis; i++) {
        const struct sli_count *c = &r->slis[i];
        uint64_t den = c->n[SLT_GOOD] + c->n[SLT_BAD];
        char ratio[32];
        if (!r->uses[i])
            continue;
        if (den)
            snprintf(ratio, sizeof(ratio), "%.6f", (double)c->n[SLT_GOOD] / (double)den);
        else
            snprintf(ratio, sizeof(ratio), "-");
        printf("  %-*s %12" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10s %8" PRIu64 "%s\n", (int)w,
               cfg->slis[i].name, c->n[SLT_GOOD], c->n[SLT_BAD], c->n[SLT_EXCLUDED], ratio,
               c->minutes.count, slt_minset_approx(&c->minutes) ? "~" : "");
    }
    printf("\n");
}

/* ---- the check of unparsed lines (exit 3) ---- */

#define SUGGEST_SAMPLE_LINES 1000

/* Lines of an input, and those unparsed for a reason that says the format may be wrong. */
struct input_sum {
    uint64_t lines, unparsed, counted;
    uint64_t reasons[SLT_UP__COUNT];
    int first_file;         /* the first of its files with unparsed lines, -1 when none */
    const char *suggestion; /* a built-in name, or NULL */
    uint64_t suggestion_parsed, sample_lines, current_parsed;
};

/*
 * Unparsed lines that count against --max-unparsed: all but not_access, which are lines the
 * format recognised as not being requests (W3C '#' directives, Caddy's other log entries, ALB
 * connection logs), so they say the format is right rather than wrong.
 */
static uint64_t counted_unparsed(const uint64_t *reasons, uint64_t unparsed)
{
    return unparsed - reasons[SLT_UP_NOT_ACCESS];
}

/* How many of the first SUGGEST_SAMPLE_LINES lines of path each built-in format parses. */
static void suggest_format(const char *path, const struct slt_input *in, struct input_sum *sum)
{
    const char *const *names = slt_format_builtin_names();
    const char *current = slt_format_name(in->fmt);
    size_t n = 0, k;
    struct slt_format *fmt[32];
    struct slt_parser *p[32];
    uint64_t parsed[32], fields[32], best = 0, best_fields = 0;
    struct slt_lreader lr;
    struct slt_record rec;
    struct slt_parser *cur;
    struct slt_str line;
    int rc;

    memset(fmt, 0, sizeof(fmt));
    memset(p, 0, sizeof(p));
    memset(parsed, 0, sizeof(parsed));
    memset(fields, 0, sizeof(fields));
    cur = slt_parser_new(in->fmt, in->max_line);
    for (n = 0; names[n] && n < SLT_ARRAY_SIZE(fmt); n++) {
        if (slt_format_builtin(names[n], &fmt[n]) == 0)
            p[n] = slt_parser_new(fmt[n], in->max_line);
    }
    if (cur &&
        slt_lreader_open(&lr, path, in->max_line ? in->max_line : SLT_DEFAULT_MAX_LINE) == 0) {
        while (sum->sample_lines < SUGGEST_SAMPLE_LINES &&
               (rc = slt_lreader_next(&lr, &line)) > 0) {
            sum->sample_lines++;
            if (rc == SLT_LR_OVERSIZE)
                continue;
            if (slt_parse(cur, line.p, line.len, &rec) == SLT_UP_OK)
                sum->current_parsed++;
            for (k = 0; k < n; k++) {
                int f;

                if (!p[k] || slt_parse(p[k], line.p, line.len, &rec) != SLT_UP_OK)
                    continue;
                parsed[k]++;
                for (f = 0; f < SLT_F__COUNT; f++)
                    fields[k] += slt_record_get(&rec, f).p != NULL;
            }
        }
        slt_lreader_close(&lr);
    }
    /* the format that parses the most lines; on a tie, the one that fills more fields */
    for (k = 0; k < n; k++) {
        if (!parsed[k] || strcmp(names[k], current) == 0 || parsed[k] <= sum->current_parsed)
            continue;
        if (parsed[k] > best || (parsed[k] == best && fields[k] > best_fields)) {
            best = parsed[k];
            best_fields = fields[k];
            sum->suggestion = names[k];
            sum->suggestion_parsed = parsed[k];
        }
    }
    for (k = 0; k < n; k++) {
        slt_parser_free(p[k]);
        if (fmt[k])
            slt_format_free(fmt[k]);
    }
    slt_parser_free(cur);
}

/* The reasons of sum, most lines first (at most 3, not_access left out). */
static size_t top_reasons(const struct input_sum *sum, int *out)
{
    size_t n = 0, i, j;
    int r;

    for (r = 1; r < SLT_UP__COUNT; r++) {
        if (!sum->reasons[r] || r == SLT_UP_NOT_ACCESS)
            continue;
        for (i = 0; i < n && sum->reasons[out[i]] >= sum->reasons[r]; i++)
            ;
        if (i >= 3)
            continue;
        for (j = n < 3 ? n : 2; j > i; j--)
            out[j] = out[j - 1];
        out[i] = r;
        if (n < 3)
            n++;
    }
    return n;
}

/* Sums per input; returns how many inputs are over max (and fills sums). */
static size_t unparsed_check(const struct slt_config *cfg, const struct report *reports, int nfiles,
                             double max, struct input_sum *sums)
{
    size_t over = 0, i;
    int f, r;

    for (i = 0; i < cfg->ninputs; i++)
        sums[i].first_file = -1;
    for (f = 0; f < nfiles; f++) {
        const struct report *rp = &reports[f];
        struct input_sum *s;

        if (rp->in < 0)
            continue;
        s = &sums[rp->in];
        s->lines += rp->lines;
        s->unparsed += rp->unparsed;
        for (r = 0; r < SLT_UP__COUNT; r++)
            s->reasons[r] += rp->reasons[r];
        if (s->first_file < 0 && counted_unparsed(rp->reasons, rp->unparsed) > 0)
            s->first_file = f;
    }
    for (i = 0; i < cfg->ninputs; i++) {
        struct input_sum *s = &sums[i];

        s->counted = counted_unparsed(s->reasons, s->unparsed);
        if (max > 1.0 || !s->lines || (double)s->counted <= max * (double)s->lines)
            continue;
        over++;
        if (s->first_file >= 0)
            suggest_format(reports[s->first_file].path, &cfg->inputs[i], s);
    }
    return over;
}

static double ratio_of(uint64_t a, uint64_t b)
{
    return b ? (double)a / (double)b : 0.0;
}

static json_t *over_json(const struct slt_input *in, const struct input_sum *s)
{
    json_t *o = json_object(), *top = json_array();
    int tr[3];
    size_t n = top_reasons(s, tr), i;

    json_object_set_new(o, "input", json_string(in->name));
    json_object_set_new(o, "format", json_string(slt_format_name(in->fmt)));
    json_object_set_new(o, "lines", json_integer((json_int_t)s->lines));
    json_object_set_new(o, "unparsed", json_integer((json_int_t)s->counted));
    json_object_set_new(o, "unparsed_ratio", json_real(ratio_of(s->counted, s->lines)));
    for (i = 0; i < n; i++) {
        json_t *r = json_object();
        json_object_set_new(r, "reason", json_string(slt_unparsed_name(tr[i])));
        json_object_set_new(r, "lines", json_integer((json_int_t)s->reasons[tr[i]]));
        json_array_append_new(top, r);
    }
    json_object_set_new(o, "top_reasons", top);
    json_object_set_new(o, "suggested_format",
                        s->suggestion ? json_string(s->suggestion) : json_null());
    json_object_set_new(o, "sample_lines", json_integer((json_int_t)s->sample_lines));
    json_object_set_new(o, "sample_parsed", json_integer((json_int_t)s->current_parsed));
    if (s->suggestion)
        json_object_set_new(o, "suggested_format_parsed",
                            json_integer((json_int_t)s->suggestion_parsed));
    return o;
}

static void print_over(FILE *f, const struct slt_input *in, const struct input_sum *s, double max)
{
    int tr[3];
    size_t n = top_reasons(s, tr), i;

    fprintf(f,
            "slitail check: too many unparsed lines: input %s (format %s): %" PRIu64 " of %" PRIu64
            " lines (%.1f%%) did not parse, more than --max-unparsed %g%%\n",
            in->name, slt_format_name(in->fmt), s->counted, s->lines,
            100.0 * ratio_of(s->counted, s->lines), 100.0 * max);
    fprintf(f, "  top reasons:");
    for (i = 0; i < n; i++)
        fprintf(f, "%s %s %" PRIu64, i ? "," : "", slt_unparsed_name(tr[i]), s->reasons[tr[i]]);
    fprintf(f, "\n");
    if (s->suggestion)
        fprintf(f,
                "  suggested format: %s (parses %" PRIu64 " of the first %" PRIu64
                " lines, %s parses %" PRIu64 ")\n",
                s->suggestion, s->suggestion_parsed, s->sample_lines, slt_format_name(in->fmt),
                s->current_parsed);
    else
        fprintf(f, "  no built-in format parses more of the first %" PRIu64 " lines\n",
                s->sample_lines);
}

/* ---- reading the files: in this thread, or N at a time (-j) ---- */

struct worker_ctx {
    struct slt_config *cfg;
    struct report *reports;
    int nfiles;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int next;   /* the next file to read */
    int merged; /* files merged into the total (by the main thread) */
    int window; /* a worker starts file i only when i < merged + window */
    int nomem;
};

/*
 * Reads one file into its report: parse, classify, count. Uses its own parser, m and hot
 * (sized for every SLI), so workers share only the config, which nothing writes while they run.
 */
static int read_one(struct slt_config *cfg, struct report *r, struct slt_matcher *m,
                    struct hot_sli *hot)
{
    const struct slt_input *in = &cfg->inputs[r->in];
    struct slt_parser *p;
    size_t k, nsli = 0;
    uint64_t rule_errors;
    int err;

    for (k = 0; k < cfg->nslis; k++) {
        if (strcmp(cfg->slis[k].input, in->name) == 0) {
            hot[nsli].sli = &cfg->slis[k];
            hot[nsli].c = &r->slis[k];
            nsli++;
            r->uses[k] = 1;
        }
    }
    p = slt_parser_new(in->fmt, in->max_line);
    if (!p)
        return SLT_ENOMEM;
    rule_errors = slt_matcher_rule_errors(m);
    err = check_file(r, in, hot, nsli, p, m);
    r->rule_errors = slt_matcher_rule_errors(m) - rule_errors;
    slt_parser_free(p);
    if (err < 0) {
        r->err = err;
        if (!r->error)
            r->error = slt_strerror(err);
        if (err == SLT_ENOMEM)
            return err;
    }
    return 0;
}

static void *worker(void *arg)
{
    struct worker_ctx *w = arg;
    struct slt_matcher *m = slt_matcher_new();
    struct hot_sli *hot = slt_calloc(w->cfg->nslis ? w->cfg->nslis : 1, sizeof(*hot));
    int i;

    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (w->next < w->nfiles && w->next >= w->merged + w->window && !w->nomem)
            pthread_cond_wait(&w->cv, &w->mu);
        i = w->nomem ? w->nfiles : w->next++;
        pthread_mutex_unlock(&w->mu);
        if (i >= w->nfiles)
            break;
        if (w->reports[i].in >= 0 &&
            (!m || !hot || read_one(w->cfg, &w->reports[i], m, hot) == SLT_ENOMEM)) {
            pthread_mutex_lock(&w->mu);
            w->nomem = 1;
            pthread_cond_broadcast(&w->cv);
            pthread_mutex_unlock(&w->mu);
            break;
        }
        pthread_mutex_lock(&w->mu);
        w->reports[i].done = 1;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
    }
    slt_free(hot);
    slt_matcher_free(m);
    return NULL;
}

/* After file i is read: report a read error, add it to the total, drop its bitmaps. */
static int finish_file(struct report *r, struct report *total, size_t nslis)
{
    size_t k;

    if (r->err < 0 && r->in >= 0)
        fprintf(stderr, "slitail check: cannot read '%s': %s\n", r->path, r->error);
    merge_report(total, r, nslis);
    /* keep the counts, drop the bitmaps: memory stays flat however many files */
    slt_minset_release(&r->minutes);
    for (k = 0; k < nslis; k++)
        slt_minset_release(&r->slis[k].minutes);
    return r->err < 0 ? SLT_EXIT_FAIL : SLT_EXIT_OK;
}

/* Reads every file, jobs at a time, and merges them into total in file order. */
static int read_all(struct slt_config *cfg, struct report *reports, int nfiles, int jobs,
                    struct report *total)
{
    struct worker_ctx w;
    pthread_t th[SLT_CLI_MAX_JOBS];
    int nth = 0, i, rc = SLT_EXIT_OK;

    if (jobs > nfiles)
        jobs = nfiles;
    if (jobs <= 1) {
        struct slt_matcher *m = slt_matcher_new();
        struct hot_sli *hot = slt_calloc(cfg->nslis ? cfg->nslis : 1, sizeof(*hot));

        for (i = 0; i < nfiles && m && hot; i++) {
            if (reports[i].in >= 0 && read_one(cfg, &reports[i], m, hot) == SLT_ENOMEM)
                break;
            if (finish_file(&reports[i], total, cfg->nslis) != SLT_EXIT_OK)
                rc = SLT_EXIT_FAIL;
        }
        slt_free(hot);
        slt_matcher_free(m);
        return i < nfiles ? SLT_ENOMEM : rc;
    }
    memset(&w, 0, sizeof(w));
    w.cfg = cfg;
    w.reports = reports;
    w.nfiles = nfiles;
    w.window = 2 * jobs;
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    for (nth = 0; nth < jobs; nth++)
        if (pthread_create(&th[nth], NULL, worker, &w) != 0)
            break;
    if (nth == 0) {
        /* no thread could start: read them here */
        pthread_mutex_destroy(&w.mu);
        pthread_cond_destroy(&w.cv);
        return read_all(cfg, reports, nfiles, 1, total);
    }
    for (i = 0; i < nfiles; i++) {
        pthread_mutex_lock(&w.mu);
        while (!reports[i].done && !w.nomem)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        if (!reports[i].done)
            break;
        if (finish_file(&reports[i], total, cfg->nslis) != SLT_EXIT_OK)
            rc = SLT_EXIT_FAIL;
        pthread_mutex_lock(&w.mu);
        w.merged = i + 1;
        pthread_cond_broadcast(&w.cv);
        pthread_mutex_unlock(&w.mu);
    }
    while (nth > 0)
        pthread_join(th[--nth], NULL);
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
    return w.nomem ? SLT_ENOMEM : rc;
}

int slt_cli_check(int argc, char **argv)
{
    struct slt_cli_opts opt;
    int rc = SLT_EXIT_OK, nfiles, i, r;
    struct slt_config *cfg = NULL;
    struct report *reports = NULL, total;
    struct input_sum *sums = NULL;
    size_t over = 0, k;
    json_t *root = NULL, *files = NULL;

    memset(&total, 0, sizeof(total));
    if ((rc = slt__cli_parse_opts(argc, argv, "check", check_usage, &opt)) >= 0)
        return rc;
    rc = SLT_EXIT_OK;
    nfiles = argc - optind;
    if (nfiles <= 0) {
        fprintf(stderr, "slitail check: no FILE given\n");
        check_usage(stderr);
        return SLT_EXIT_USAGE;
    }
    if (opt.config && opt.format)
        fprintf(stderr, "slitail check: --format is ignored with -c (the config names "
                        "each input's format)\n");
    if (slt__cli_load_config(opt.config, opt.format, opt.threshold_us, &cfg) != 0)
        return SLT_EXIT_USAGE;

    reports = slt_calloc((size_t)nfiles, sizeof(*reports));
    sums = slt_calloc(cfg->ninputs ? cfg->ninputs : 1, sizeof(*sums));
    if (!reports || !sums || report_init(&total, cfg->nslis) < 0) {
        fprintf(stderr, "slitail check: out of memory\n");
        rc = SLT_EXIT_USAGE;
        goto out;
    }
    /* pick every file's input first, so a wrong path fails before a long read */
    for (i = 0; i < nfiles; i++) {
        struct report *rp = &reports[i];
        if (report_init(rp, cfg->nslis) < 0) {
            fprintf(stderr, "slitail check: out of memory\n");
            rc = SLT_EXIT_USAGE;
            goto out;
        }
        rp->path = argv[optind + i];
        if (!slt__cli_file_exists(rp->path, "check")) {
            /* reported like a file that cannot be read: the others are still checked */
            rp->in = -1;
            rp->err = SLT_ENOTFOUND;
            rp->error = "no such file";
            continue;
        }
        rp->in = slt__cli_pick_input(cfg, opt.input, rp->path);
        if (rp->in < 0) {
            rc = SLT_EXIT_USAGE;
            goto out;
        }
        rp->input = cfg->inputs[rp->in].name;
        rp->format = slt_format_name(cfg->inputs[rp->in].fmt);
    }
    /* status-only stages as tables; without them (out of memory) the atoms are run */
    for (k = 0; k < cfg->nslis; k++)
        (void)slt_sli_prepare(&cfg->slis[k]);
    /* standard input named twice is read once, then found empty: keep that order */
    for (i = 0, k = 0; i < nfiles; i++)
        k += strcmp(reports[i].path, "-") == 0;
    r = read_all(cfg, reports, nfiles, k > 1 ? 1 : opt.jobs, &total);
    if (r == SLT_ENOMEM) {
        fprintf(stderr, "slitail check: out of memory\n");
        rc = SLT_EXIT_USAGE;
        goto out;
    }
    rc = r;
    over = unparsed_check(cfg, reports, nfiles, opt.max_unparsed, sums);

    if (opt.json) {
        json_t *list = json_array();
        root = json_object();
        files = json_array();
        for (i = 0; i < nfiles; i++)
            json_array_append_new(files, report_json(&reports[i], cfg));
        json_object_set_new(root, "files", files);
        if (nfiles > 1)
            json_object_set_new(root, "total", report_json(&total, cfg));
        json_object_set_new(root, "max_unparsed",
                            opt.max_unparsed > 1.0 ? json_null() : json_real(opt.max_unparsed));
        json_object_set_new(
            root, "unparsed_ratio",
            json_real(ratio_of(counted_unparsed(total.reasons, total.unparsed), total.lines)));
        json_object_set_new(root, "too_many_unparsed", json_boolean(over > 0));
        for (k = 0; k < cfg->ninputs; k++) {
            const struct input_sum *s = &sums[k];
            if (opt.max_unparsed > 1.0 || !s->lines ||
                (double)s->counted <= opt.max_unparsed * (double)s->lines)
                continue;
            if (json_array_size(list) == 0) {
                /* the first input over the limit, at the top for the common one-input case */
                json_t *o = over_json(&cfg->inputs[k], s);
                json_object_set(root, "top_reasons", json_object_get(o, "top_reasons"));
                json_object_set(root, "suggested_format", json_object_get(o, "suggested_format"));
                json_array_append_new(list, o);
            } else {
                json_array_append_new(list, over_json(&cfg->inputs[k], s));
            }
        }
        if (over)
            json_object_set_new(root, "over_max_unparsed", list);
        else
            json_decref(list);
        json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
        printf("\n");
        json_decref(root);
    } else {
        for (i = 0; i < nfiles; i++)
            print_report(&reports[i], cfg, nfiles);
        if (nfiles > 1)
            print_report(&total, cfg, nfiles);
    }
    for (k = 0; k < cfg->ninputs && over; k++) {
        const struct input_sum *s = &sums[k];
        if (s->lines && (double)s->counted > opt.max_unparsed * (double)s->lines)
            print_over(opt.json ? stderr : stdout, &cfg->inputs[k], s, opt.max_unparsed);
    }
    if (over && rc == SLT_EXIT_OK)
        rc = SLT_EXIT_UNPARSED;
    if (fflush(stdout) != 0 && rc == SLT_EXIT_OK)
        rc = SLT_EXIT_FAIL;

out:
    if (reports) {
        for (i = 0; i < nfiles; i++)
            report_release(&reports[i], cfg->nslis);
        slt_free(reports);
        report_release(&total, cfg->nslis);
    }
    slt_free(sums);
    slt_config_free(cfg);
    return rc;
}
