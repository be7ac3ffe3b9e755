/*
 * The error-budget decisions at a terminal or in CI (docs/CLI.md):
 *   slitail replay     every alert notification the tiers of an SLO would have sent
 *   slitail recommend  objectives the last 28 days support (the 28-day method)
 *   slitail gate       the release gate of the budget policy (exit 0 allowed, 1 refused)
 * Each reads its counts from log files (--logs, classified here with the config's rules) or
 * from a running aggregator (--url, its /api/v1 answers) and evaluates them with the SLO math
 * of aggregator/src/slo.c, the code the aggregator runs, so the numbers agree.
 *
 * Memory is bounded: the counts are one array of buckets for the range asked (at most
 * MAX_BUCKETS), and log lines are read through one buffer (lreader.h).
 */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lreader.h"
#include "slo.h"
#include "slt/common.h"
#include "slt/rule.h"

#define MAX_BUCKETS 1000000 /* minutes of one replay: about 694 days */
#define MAX_FILES 4096
#define URL_POINTS 10000 /* points of one /counts request (the API's limit) */
#define DEFAULT_SERVER "http://127.0.0.1:7480"

struct opts {
    const char *cmd;
    const char *config, *slo, *url, *from_s, *to_s, *at_s, *ca_file, *token_file;
    const char *files[MAX_FILES];
    size_t nfiles;
    int json, timeout_s;
    double min_budget; /* percent */
    double share;      /* fraction */
};

/* Counts in buckets of width seconds from start. */
struct series {
    int64_t start, width;
    size_t n;
    int64_t (*c)[3];
    uint64_t outside; /* events outside [start, start + n * width) */
    uint64_t lines, unparsed;
    int partial; /* the aggregator said some bucket was past its retention */
};

/* ---- options ------------------------------------------------------------------------------- */

static void usage(FILE *f, const char *cmd)
{
    if (!strcmp(cmd, "replay"))
        fprintf(f, "usage: slitail replay -c CONFIG --slo NAME [--from T] [--to T] [--json]\n"
                   "                      (--logs FILE... | --url URL)\n"
                   "\n"
                   "Evaluates the alert tiers of the SLO at the end of every minute of (from, to]\n"
                   "and prints every notification that would have been sent (default: the last\n"
                   "7 days).\n");
    else if (!strcmp(cmd, "recommend"))
        fprintf(f, "usage: slitail recommend -c CONFIG --slo NAME [--share PCT] [--at T]\n"
                   "                         [--json] (--logs FILE... | --url URL)\n"
                   "\n"
                   "The 28-day method: what the 28 days before T (default now) achieved, per day\n"
                   "and in the worst rolling day, and the highest objective they would have met\n"
                   "spending at most --share of its error budget (default 75%%).\n");
    else
        fprintf(f, "usage: slitail gate -c CONFIG --slo NAME [--min-budget PCT] [--at T]\n"
                   "                    [--json] (--logs FILE... | --url URL)\n"
                   "\n"
                   "The release gate of the budget policy. Exit 0 when releases are allowed (with\n"
                   "a warning when the budget is depleting), 1 when the error budget left is\n"
                   "under --min-budget (default 25%%) or a page tier fires, 2 on errors.\n");
    fprintf(f, "\n"
               "  -c, --config FILE   the config holding the SLO\n"
               "      --slo NAME      the SLO\n"
               "      --logs FILE     read counts from log files (plain or .gz; repeat it, or\n"
               "                      list more files after the options)\n"
               "      --url URL       read counts from a running aggregator (http[s]://host:port)\n"
               "      --ca-file FILE  PEM bundle that verifies an https:// aggregator\n"
               "      --token-file FILE  bearer token for the aggregator's API\n"
               "      --json          print JSON\n"
               "      --timeout SECS  per request to the aggregator (default 10)\n"
               "\n"
               "T is UNIX seconds, 'now', or relative to now: -1h, -7d, now-2d.\n");
}

static int parse_pct(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);

    if (end == s || (*end && strcmp(end, "%")) || !isfinite(v) || v < 0 || v > 100)
        return -1;
    *out = v;
    return 0;
}

/* Returns -1 to go on, or the exit code. */
static int parse_opts(int argc, char **argv, const char *cmd, struct opts *o)
{
    enum {
        O_SLO = 256,
        O_LOGS,
        O_URL,
        O_FROM,
        O_TO,
        O_AT,
        O_JSON,
        O_TIMEOUT,
        O_MIN,
        O_SHARE,
        O_CA,
        O_TOKEN
    };
    static const struct option lo[] = {
        {"config", required_argument, NULL, 'c'},
        {"slo", required_argument, NULL, O_SLO},
        {"logs", required_argument, NULL, O_LOGS},
        {"url", required_argument, NULL, O_URL},
        {"from", required_argument, NULL, O_FROM},
        {"to", required_argument, NULL, O_TO},
        {"at", required_argument, NULL, O_AT},
        {"json", no_argument, NULL, O_JSON},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"min-budget", required_argument, NULL, O_MIN},
        {"share", required_argument, NULL, O_SHARE},
        {"ca-file", required_argument, NULL, O_CA},
        {"token-file", required_argument, NULL, O_TOKEN},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    memset(o, 0, sizeof(*o));
    o->cmd = cmd;
    o->timeout_s = 10;
    o->min_budget = 25;
    o->share = 0.75;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:h", lo, NULL)) != -1) {
        switch (ch) {
        case 'c':
            o->config = optarg;
            break;
        case O_SLO:
            o->slo = optarg;
            break;
        case O_LOGS:
            if (o->nfiles == MAX_FILES) {
                fprintf(stderr, "slitail %s: more than %d log files\n", cmd, MAX_FILES);
                return SLT_EXIT_USAGE;
            }
            o->files[o->nfiles++] = optarg;
            break;
        case O_URL:
            o->url = optarg;
            break;
        case O_FROM:
            o->from_s = optarg;
            break;
        case O_TO:
            o->to_s = optarg;
            break;
        case O_AT:
            o->at_s = optarg;
            break;
        case O_JSON:
            o->json = 1;
            break;
        case O_CA:
            o->ca_file = optarg;
            break;
        case O_TOKEN:
            o->token_file = optarg;
            break;
        case O_TIMEOUT:
            o->timeout_s = atoi(optarg);
            if (o->timeout_s <= 0) {
                fprintf(stderr, "slitail %s: bad --timeout '%s'\n", cmd, optarg);
                return SLT_EXIT_USAGE;
            }
            break;
        case O_MIN:
            if (parse_pct(optarg, &o->min_budget) < 0) {
                fprintf(stderr, "slitail %s: bad --min-budget '%s' (a percent, e.g. 25%%)\n", cmd,
                        optarg);
                return SLT_EXIT_USAGE;
            }
            break;
        case O_SHARE: {
            double v;

            if (parse_pct(optarg, &v) < 0 || v <= 0) {
                fprintf(stderr, "slitail %s: bad --share '%s' (a percent, e.g. 75%%)\n", cmd,
                        optarg);
                return SLT_EXIT_USAGE;
            }
            o->share = v / 100.0;
            break;
        }
        case 'h':
            usage(stdout, cmd);
            return SLT_EXIT_OK;
        default:
            usage(stderr, cmd);
            return SLT_EXIT_USAGE;
        }
    }
    for (; optind < argc; optind++) {
        if (o->nfiles == MAX_FILES) {
            fprintf(stderr, "slitail %s: more than %d log files\n", cmd, MAX_FILES);
            return SLT_EXIT_USAGE;
        }
        o->files[o->nfiles++] = argv[optind];
    }
    if (!o->config || !o->slo) {
        fprintf(stderr, "slitail %s: needs -c CONFIG and --slo NAME\n", cmd);
        usage(stderr, cmd);
        return SLT_EXIT_USAGE;
    }
    if ((o->nfiles > 0) == (o->url != NULL)) {
        fprintf(stderr, "slitail %s: give either --logs FILE... or --url URL\n", cmd);
        return SLT_EXIT_USAGE;
    }
    return -1;
}

static int parse_time_opt(const struct opts *o, const char *name, const char *s, int64_t now,
                          int64_t *out)
{
    if (slt__cli_parse_time(s, now, out) < 0) {
        fprintf(stderr, "slitail %s: bad --%s '%s' (UNIX seconds, now, -1h, now-2d)\n", o->cmd,
                name, s);
        return -1;
    }
    return 0;
}

/* ---- counts from log files ----------------------------------------------------------------- */

static int read_file(const char *path, const struct slt_input *in, const struct slt_sli *sli,
                     struct slt_parser *p, struct slt_matcher *m, struct series *s)
{
    struct slt_lreader lr;
    struct slt_str line;
    struct slt_record rec;
    int64_t end = s->start + (int64_t)s->n * s->width;
    int rc;

    rc = slt_lreader_open(&lr, path, in->max_line ? in->max_line : SLT_DEFAULT_MAX_LINE);
    if (rc < 0)
        return rc;
    while ((rc = slt_lreader_next(&lr, &line)) > 0) {
        enum slt_class cls;

        s->lines++;
        if (rc == SLT_LR_OVERSIZE || slt_parse(p, line.p, line.len, &rec) != SLT_UP_OK) {
            s->unparsed++;
            continue;
        }
        cls = slt_sli_classify(sli, &rec, m, NULL);
        if ((int)cls >= SLT_CLASS_COUNTED)
            continue;
        if (rec.time < s->start || rec.time >= end) {
            s->outside++;
            continue;
        }
        s->c[(rec.time - s->start) / s->width][cls]++;
    }
    if (rc == 0 && lr.truncated)
        rc = SLT_ECORRUPT;
    slt_lreader_close(&lr);
    return rc;
}

static int load_logs(const struct opts *o, const struct slt_config *cfg, const struct slt_sli *sli,
                     struct series *s)
{
    const struct slt_input *in = &cfg->inputs[sli->input_idx];
    struct slt_parser *p = slt_parser_new(in->fmt, in->max_line);
    struct slt_matcher *m = slt_matcher_new();
    size_t i;
    int rc = 0;

    if (!p || !m) {
        rc = SLT_ENOMEM;
        fprintf(stderr, "slitail %s: out of memory\n", o->cmd);
    }
    for (i = 0; rc == 0 && i < o->nfiles; i++) {
        rc = read_file(o->files[i], in, sli, p, m, s);
        if (rc < 0)
            fprintf(stderr, "slitail %s: cannot read '%s': %s\n", o->cmd, o->files[i],
                    slt_strerror(rc));
    }
    slt_parser_free(p);
    slt_matcher_free(m);
    if (rc == 0 && s->lines && s->unparsed == s->lines)
        fprintf(stderr,
                "slitail %s: warning: none of the %" PRIu64 " lines parsed as format '%s'\n",
                o->cmd, s->lines, in->format_name);
    return rc;
}

/* ---- counts from the aggregator ------------------------------------------------------------ */

static int load_url(const struct opts *o, const char *sli, struct series *s)
{
    char enc[800], target[1200];
    size_t i = 0;

    if (slt__cli_pct_encode(sli, enc, sizeof(enc)) < 0)
        return -1;
    while (i < s->n) {
        size_t k = s->n - i < URL_POINTS ? s->n - i : URL_POINTS, idx;
        int64_t from = s->start + (int64_t)i * s->width, to = from + (int64_t)k * s->width;
        json_t *j, *pt;

        snprintf(target, sizeof(target),
                 "/api/v1/slis/%s/counts?from=%" PRId64 "&to=%" PRId64 "&step=%" PRId64, enc, from,
                 to, s->width);
        if (slt__cli_get_json(o->url, target, o->timeout_s, o->ca_file, o->token_file, &j) < 0)
            return -1;
        if (json_is_true(json_object_get(j, "partial")))
            s->partial = 1;
        json_array_foreach(json_object_get(j, "series"), idx, pt)
        {
            int64_t f = json_integer_value(json_object_get(pt, "from"));
            int64_t b = (f - s->start) / s->width;

            if (f < s->start || b < 0 || (size_t)b >= s->n)
                continue;
            s->c[b][0] += json_integer_value(json_object_get(pt, "good"));
            s->c[b][1] += json_integer_value(json_object_get(pt, "bad"));
            s->c[b][2] += json_integer_value(json_object_get(pt, "excluded"));
        }
        json_decref(j);
        i += k;
    }
    return 0;
}

/* The counts of sli over [start, end) in buckets of width: from the logs or the aggregator. */
static int load_series(const struct opts *o, const struct slt_config *cfg,
                       const struct slt_slo *slo, int64_t start, int64_t end, int64_t width,
                       struct series *s)
{
    memset(s, 0, sizeof(*s));
    s->start = start;
    s->width = width;
    if (end <= start || (end - start) / width > MAX_BUCKETS) {
        fprintf(stderr, "slitail %s: the range needs more than %d buckets of %" PRId64 " s\n",
                o->cmd, MAX_BUCKETS, width);
        return -1;
    }
    s->n = (size_t)((end - start) / width);
    s->c = slt_calloc(s->n ? s->n : 1, sizeof(*s->c));
    if (!s->c) {
        fprintf(stderr, "slitail %s: out of memory\n", o->cmd);
        return -1;
    }
    if (o->url)
        return load_url(o, slo->sli, s);
    return load_logs(o, cfg, &cfg->slis[slo->sli_idx], s) < 0 ? -1 : 0;
}

/* Counts of [from, to) from a series of minutes; ctx is the struct series. */
static int series_sum(void *ctx, int64_t from, int64_t to, int64_t out[3])
{
    const struct series *s = ctx;
    int64_t a = (from - s->start) / s->width, b = (to - s->start) / s->width, i;

    if (from < s->start)
        a = 0;
    if (b > (int64_t)s->n)
        b = (int64_t)s->n;
    for (i = a; i < b; i++) {
        out[0] += s->c[i][0];
        out[1] += s->c[i][1];
        out[2] += s->c[i][2];
    }
    return 0;
}

/* ---- common --------------------------------------------------------------------------------- */

struct run {
    struct opts o;
    struct slt_config *cfg;
    const struct slt_slo *slo;
    int64_t now;
};

/* Options, config and SLO; returns -1 to go on or the exit code. */
static int run_init(struct run *r, int argc, char **argv, const char *cmd)
{
    char err[1024];
    size_t i;
    int rc;

    memset(r, 0, sizeof(*r));
    rc = parse_opts(argc, argv, cmd, &r->o);
    if (rc >= 0)
        return rc;
    r->now = slt_now_ms() / 1000;
    rc = slt_config_load_file(r->o.config, &r->cfg, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "slitail %s: %s\n", cmd, err);
        return SLT_EXIT_USAGE;
    }
    for (i = 0; i < r->cfg->nslos; i++)
        if (!strcmp(r->cfg->slos[i].name, r->o.slo))
            r->slo = &r->cfg->slos[i];
    if (!r->slo) {
        fprintf(stderr, "slitail %s: no SLO '%s' in '%s'\n", cmd, r->o.slo, r->o.config);
        return SLT_EXIT_USAGE;
    }
    return -1;
}

static void run_release(struct run *r)
{
    slt_config_free(r->cfg);
}

static int print_json(json_t *j)
{
    char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(12)) : NULL;

    json_decref(j);
    if (!s)
        return -1;
    puts(s);
    free(s);
    return 0;
}

/* "2026-10-10T13:55:00Z" */
static const char *fmt_time(int64_t t, char *buf, size_t len)
{
    slt__cli_iso8601(t, 0, buf, len);
    return buf;
}

static int64_t min_start(const struct slt_slo_ranges *r, const struct slt_slo_plan *p)
{
    int64_t m = r->win_from;
    size_t i;

    for (i = 0; i < p->nwin; i++)
        if (r->burn_from[i] < m)
            m = r->burn_from[i];
    return m;
}

/* ---- replay --------------------------------------------------------------------------------- */

int slt_cli_replay(int argc, char **argv)
{
    struct run r;
    struct series s;
    struct slt_slo_replay_alert *al = NULL;
    int64_t from, to, longest = 0;
    size_t n = 0, i;
    int rc = run_init(&r, argc, argv, "replay");

    memset(&s, 0, sizeof(s));
    if (rc >= 0)
        goto out;
    rc = SLT_EXIT_USAGE;
    if (parse_time_opt(&r.o, "from", r.o.from_s ? r.o.from_s : "-7d", r.now, &from) < 0 ||
        parse_time_opt(&r.o, "to", r.o.to_s ? r.o.to_s : "now", r.now, &to) < 0)
        goto out;
    from = from / 60 * 60;
    to = to / 60 * 60;
    if (from >= to) {
        fprintf(stderr, "slitail replay: --from must be before --to\n");
        goto out;
    }
    for (i = 0; i < r.slo->ntiers; i++)
        if (r.slo->tiers[i].long_s > longest)
            longest = r.slo->tiers[i].long_s;
    /* every window of the first evaluation is read whole */
    if (load_series(&r.o, r.cfg, r.slo, from - longest > 0 ? from - longest : 0, to, 60, &s) < 0)
        goto out;
    {
        struct slt_minutes m = {s.start, s.n, s.c};

        rc = slt_slo_replay(r.slo, &m, from, to, SLT_SLO_REPLAY_MAX, &al, &n);
    }
    if (rc < 0 && rc != SLT_ELIMIT) {
        fprintf(stderr, "slitail replay: %s\n", slt_strerror(rc));
        rc = SLT_EXIT_USAGE;
        goto out;
    }
    if (rc == SLT_ELIMIT)
        fprintf(stderr, "slitail replay: more than %d notifications, the rest are left out\n",
                SLT_SLO_REPLAY_MAX);
    if (s.partial)
        fprintf(stderr, "slitail replay: warning: the aggregator no longer holds every minute of "
                        "the range (minute_retention); its counts are partial\n");
    if (r.o.json) {
        json_t *j = json_object(), *arr = json_array();

        for (i = 0; i < n; i++) {
            const struct slt_slo_tier *t = &r.slo->tiers[al[i].tier];
            char win[64];

            slt_slo_tier_windows(t, win, sizeof(win));
            json_array_append_new(
                arr, json_pack("{s:s, s:s, s:s, s:I, s:o}", "name", t->name, "severity",
                               slt_severity_name(t->severity), "windows", win, "fired",
                               (json_int_t)al[i].fired, "resolved",
                               al[i].resolved ? json_integer(al[i].resolved) : json_null()));
        }
        json_object_set_new(j, "slo", json_string(r.slo->name));
        json_object_set_new(j, "from", json_integer(from));
        json_object_set_new(j, "to", json_integer(to));
        json_object_set_new(j, "partial", json_boolean(s.partial));
        json_object_set_new(j, "alerts", arr);
        rc = print_json(j) < 0 ? SLT_EXIT_FAIL : SLT_EXIT_OK;
    } else {
        char a[32], b[32];

        printf("SLO %s, %s .. %s: %zu notification%s\n", r.slo->name, fmt_time(from, a, sizeof(a)),
               fmt_time(to, b, sizeof(b)), n, n == 1 ? "" : "s");
        if (n)
            printf("\n%-16s %-8s %-10s %-21s %-21s\n", "tier", "severity", "windows", "fired",
                   "resolved");
        for (i = 0; i < n; i++) {
            const struct slt_slo_tier *t = &r.slo->tiers[al[i].tier];
            char win[64];

            slt_slo_tier_windows(t, win, sizeof(win));
            printf("%-16s %-8s %-10s %-21s %-21s\n", t->name, slt_severity_name(t->severity), win,
                   fmt_time(al[i].fired, a, sizeof(a)),
                   al[i].resolved ? fmt_time(al[i].resolved, b, sizeof(b)) : "(still firing)");
        }
        rc = SLT_EXIT_OK;
    }
out:
    slt_free(al);
    slt_free(s.c);
    run_release(&r);
    return rc;
}

/* ---- recommend ------------------------------------------------------------------------------ */

static json_t *period_json(int64_t from, int64_t to, int64_t good, int64_t bad)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:o}", "from", (json_int_t)from, "to", (json_int_t)to,
                     "good", (json_int_t)good, "bad", (json_int_t)bad, "attainment",
                     good + bad ? json_real((double)good / (double)(good + bad)) : json_null());
}

#define DAYS 28

int slt_cli_recommend(int argc, char **argv)
{
    struct run r;
    struct series s;
    struct slt_slo_recommendation rec;
    int64_t at, to, from, good = 0, bad = 0, wf = 0, wg = 0, wb = 0;
    double worst = 2;
    json_t *days;
    size_t i, d;
    int rc = run_init(&r, argc, argv, "recommend");

    memset(&s, 0, sizeof(s));
    if (rc >= 0)
        goto out;
    rc = SLT_EXIT_USAGE;
    if (parse_time_opt(&r.o, "at", r.o.at_s ? r.o.at_s : "now", r.now, &at) < 0)
        goto out;
    /* whole hours, so the aggregator answers from its hour buckets (kept 35 days) */
    to = (at + 3599) / 3600 * 3600;
    from = to - DAYS * 86400;
    if (load_series(&r.o, r.cfg, r.slo, from, to, 3600, &s) < 0)
        goto out;
    days = json_array();
    for (d = 0; d < DAYS; d++) {
        int64_t g = 0, b = 0;

        for (i = d * 24; i < d * 24 + 24; i++) {
            g += s.c[i][0];
            b += s.c[i][1];
        }
        good += g;
        bad += b;
        json_array_append_new(
            days, period_json(from + (int64_t)d * 86400, from + (int64_t)(d + 1) * 86400, g, b));
    }
    /* the worst rolling day, hour by hour */
    for (i = 0; i + 24 <= s.n; i++) {
        int64_t g = 0, b = 0;
        size_t k;

        for (k = i; k < i + 24; k++) {
            g += s.c[k][0];
            b += s.c[k][1];
        }
        if (g + b > 0 && (double)g / (double)(g + b) < worst) {
            worst = (double)g / (double)(g + b);
            wf = from + (int64_t)i * 3600;
            wg = g;
            wb = b;
        }
    }
    slt_slo_recommend(good, bad, r.o.share, &rec);
    if (r.o.json) {
        json_t *j = period_json(from, to, good, bad), *cand = json_array();

        json_object_set_new(j, "slo", json_string(r.slo->name));
        json_object_set_new(j, "objective", json_real(r.slo->objective));
        json_object_set_new(j, "partial", json_boolean(s.partial));
        json_object_set_new(j, "days", days);
        json_object_set_new(j, "worst_day",
                            worst <= 1 ? period_json(wf, wf + 86400, wg, wb) : json_null());
        json_object_set_new(j, "share", json_real(rec.share));
        for (i = 0; i < SLT_SLO_NCANDIDATES; i++)
            json_array_append_new(
                cand, json_pack("{s:f, s:o, s:b}", "objective", slt_slo_candidates[i],
                                "budget_spent", good + bad ? json_real(rec.spent[i]) : json_null(),
                                "met", good + bad > 0 && rec.spent[i] <= rec.share + 1e-9));
        json_object_set_new(j, "candidates", cand);
        json_object_set_new(j, "recommended",
                            rec.pick >= 0 ? json_real(slt_slo_candidates[rec.pick]) : json_null());
        json_object_set_new(j, "exact", good + bad ? json_real(rec.exact) : json_null());
        rc = print_json(j) < 0 ? SLT_EXIT_FAIL : SLT_EXIT_OK;
        goto out;
    }
    {
        char a[32], b[32];

        printf("SLO %s (objective %g%%), %s .. %s\n", r.slo->name, r.slo->objective,
               fmt_time(from, a, sizeof(a)), fmt_time(to, b, sizeof(b)));
        if (good + bad == 0) {
            printf("no events in the last %d days: nothing to recommend\n", DAYS);
            json_decref(days);
            rc = SLT_EXIT_OK;
            goto out;
        }
        printf("achieved %.4f%% (%" PRId64 " good, %" PRId64 " bad)\n", 100.0 * rec.attainment,
               good, bad);
        printf("worst rolling day: %.4f%% from %s\n\nday from             attainment\n",
               100.0 * worst, fmt_time(wf, a, sizeof(a)));
        for (d = 0; d < DAYS; d++) {
            json_t *o = json_array_get(days, d);
            json_t *v = json_object_get(o, "attainment");

            printf("%-21s %s", fmt_time(from + (int64_t)d * 86400, a, sizeof(a)),
                   json_is_real(v) ? "" : "-\n");
            if (json_is_real(v))
                printf("%.4f%%\n", 100.0 * json_real_value(v));
        }
        printf("\nobjective   budget spent   met (at most %.0f%%)\n", 100.0 * rec.share);
        for (i = 0; i < SLT_SLO_NCANDIDATES; i++)
            printf("%-9g%%  %11.1f%%   %s\n", slt_slo_candidates[i], 100.0 * rec.spent[i],
                   rec.spent[i] <= rec.share + 1e-9 ? "yes" : "no");
        if (rec.pick >= 0)
            printf("\nrecommended objective: %g%% (exactly %.4f%% spends %.0f%% of the budget)\n",
                   slt_slo_candidates[rec.pick], rec.exact, 100.0 * rec.share);
        else
            printf("\nno candidate objective was met; exactly %.4f%% spends %.0f%% of the "
                   "budget\n",
                   rec.exact, 100.0 * rec.share);
        json_decref(days);
        rc = SLT_EXIT_OK;
    }
out:
    slt_free(s.c);
    run_release(&r);
    return rc;
}

/* ---- gate ----------------------------------------------------------------------------------- */

struct gate_state {
    int has_data;
    double budget; /* ratio left */
    const char *status;
    size_t nfiring;
    const char *firing_name[SLT_SLO_MAX_TIERS];
    int firing_page[SLT_SLO_MAX_TIERS];
    int partial;
};

/* The SLO now, from the logs: the aggregator's windows evaluated over their minutes. */
static int gate_logs(struct run *r, int64_t at, struct gate_state *g, json_t **keep)
{
    struct slt_slo_plan p;
    struct slt_slo_ranges rg;
    struct slt_slo_eval e;
    struct series s;
    int64_t to = slt_slo_now_end(at);
    const struct slt_aggr_conf *ag = &r->cfg->aggregator;
    size_t k;

    (void)keep;
    slt_slo_plan_init(&p, r->slo);
    slt_slo_ranges(&p, r->slo, to, ag->minute_retention_s, ag->hour_retention_s, &rg);
    if (load_series(&r->o, r->cfg, r->slo, min_start(&rg, &p), to, 60, &s) < 0) {
        slt_free(s.c);
        return -1;
    }
    slt_slo_eval_fn(r->slo, &p, to, ag->minute_retention_s, ag->hour_retention_s, series_sum, &s,
                    &e);
    slt_free(s.c);
    g->has_data = e.has_data;
    g->budget = e.budget_remaining;
    g->status = slt_budget_status_name(e.status);
    for (k = 0; k < e.ntiers; k++) {
        if (!e.tier[k].firing)
            continue;
        g->firing_name[g->nfiring] = r->slo->tiers[k].name;
        g->firing_page[g->nfiring++] = r->slo->tiers[k].severity == SLT_SEVERITY_PAGE;
    }
    return 0;
}

/* The SLO now, as the aggregator evaluates it (GET /api/v1/slos/{name}). */
static int gate_url(struct run *r, struct gate_state *g, json_t **keep)
{
    char enc[800], target[1000];
    json_t *j, *a;
    size_t i;

    if (slt__cli_pct_encode(r->slo->name, enc, sizeof(enc)) < 0)
        return -1;
    snprintf(target, sizeof(target), "/api/v1/slos/%s", enc);
    if (slt__cli_get_json(r->o.url, target, r->o.timeout_s, r->o.ca_file, r->o.token_file, &j) < 0)
        return -1;
    *keep = j;
    g->has_data = !json_is_null(json_object_get(j, "attainment"));
    g->budget = json_number_value(json_object_get(j, "error_budget_remaining"));
    g->status = json_string_value(json_object_get(j, "budget_status"));
    g->partial = json_is_true(json_object_get(j, "partial"));
    if (!g->status || !json_is_number(json_object_get(j, "error_budget_remaining"))) {
        fprintf(stderr, "slitail gate: the aggregator's answer has no budget_status\n");
        return -1;
    }
    json_array_foreach(json_object_get(j, "alerts"), i, a)
    {
        const char *sev = json_string_value(json_object_get(a, "severity"));

        if (!json_is_true(json_object_get(a, "firing")) || g->nfiring == SLT_SLO_MAX_TIERS)
            continue;
        g->firing_name[g->nfiring] = json_string_value(json_object_get(a, "name"));
        g->firing_page[g->nfiring++] = sev && !strcmp(sev, "page");
    }
    return 0;
}

int slt_cli_gate(int argc, char **argv)
{
    struct run r;
    struct gate_state g;
    json_t *keep = NULL, *reasons = json_array(), *warnings = json_array(), *firing = json_array();
    char msg[512];
    int64_t at = 0;
    size_t i;
    int rc = run_init(&r, argc, argv, "gate"), allowed;

    memset(&g, 0, sizeof(g));
    if (rc >= 0)
        goto out;
    rc = SLT_EXIT_USAGE;
    if (parse_time_opt(&r.o, "at", r.o.at_s ? r.o.at_s : "now", r.now, &at) < 0)
        goto out;
    if ((r.o.url ? gate_url(&r, &g, &keep) : gate_logs(&r, at, &g, &keep)) < 0)
        goto out;
    if (g.budget * 100.0 < r.o.min_budget - 1e-9) {
        snprintf(msg, sizeof(msg), "error budget left %.1f%% is under --min-budget %g%%",
                 100.0 * g.budget, r.o.min_budget);
        json_array_append_new(reasons, json_string(msg));
    }
    for (i = 0; i < g.nfiring; i++) {
        json_array_append_new(firing, json_string(g.firing_name[i] ? g.firing_name[i] : "?"));
        if (!g.firing_page[i])
            continue;
        snprintf(msg, sizeof(msg), "page tier '%s' is firing", g.firing_name[i]);
        json_array_append_new(reasons, json_string(msg));
    }
    if (!strcmp(g.status, "depleting")) {
        snprintf(msg, sizeof(msg), "error budget depleting (%.1f%% left): deploy with extra care",
                 100.0 * g.budget);
        json_array_append_new(warnings, json_string(msg));
    }
    if (!g.has_data)
        json_array_append_new(warnings, json_string("no events in the SLO window"));
    if (g.partial)
        json_array_append_new(warnings,
                              json_string("the SLO window is only partly covered by data"));
    allowed = json_array_size(reasons) == 0;
    if (r.o.json) {
        json_t *j = json_pack(
            "{s:s, s:b, s:s, s:f, s:f, s:O, s:O, s:O}", "slo", r.slo->name, "allowed", allowed,
            "budget_status", g.status, "error_budget_remaining", g.budget, "min_budget",
            r.o.min_budget / 100.0, "reasons", reasons, "warnings", warnings, "firing", firing);

        if (print_json(j) < 0) {
            rc = SLT_EXIT_USAGE;
            goto out;
        }
    } else {
        printf("SLO %s: %s, %.1f%% of the error budget left\n", r.slo->name, g.status,
               100.0 * g.budget);
        for (i = 0; i < json_array_size(warnings); i++)
            printf("warning: %s\n", json_string_value(json_array_get(warnings, i)));
        for (i = 0; i < json_array_size(reasons); i++)
            printf("release refused: %s\n", json_string_value(json_array_get(reasons, i)));
        if (allowed)
            printf("releases allowed\n");
    }
    rc = allowed ? SLT_EXIT_OK : SLT_EXIT_FAIL;
out:
    json_decref(keep);
    json_decref(reasons);
    json_decref(warnings);
    json_decref(firing);
    run_release(&r);
    return rc;
}
