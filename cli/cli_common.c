/* Pieces shared by check, explain and test: the config, the input of a file, times. */
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"

/* Prints the built-in format names, comma separated, to fp. */
static void print_formats(void *fp)
{
    FILE *f = fp;
    const char *const *names = slt_format_builtin_names();
    size_t i;

    for (i = 0; names && names[i]; i++)
        fprintf(f, "%s%s", i ? ", " : "", names[i]);
}

int slt__cli_load_config(const char *path, const char *format, int64_t latency_threshold_us,
                         struct slt_config **out)
{
    char err[1024] = "";
    int rc;

    *out = NULL;
    if (path && latency_threshold_us > 0)
        fprintf(stderr, "slitail: --latency-threshold is ignored with -c (the config's SLIs "
                        "say latency_over themselves)\n");
    if (latency_threshold_us <= 0)
        latency_threshold_us = SLT_CLI_DEFAULT_LATENCY_US;
    if (path) {
        rc = slt_config_load_file(path, out, err, sizeof(err));
        if (rc < 0) {
            if (err[0])
                fprintf(stderr, "slitail: %s\n", err);
            else
                fprintf(stderr, "slitail: cannot load config '%s': %s\n", path, slt_strerror(rc));
            return SLT_EXIT_USAGE;
        }
        return 0;
    }
    if (!format) {
        fprintf(stderr, "slitail: no config: give -c CONFIG, or --format NAME (built-in: ");
        print_formats(stderr);
        fprintf(stderr, ")\n");
        return SLT_EXIT_USAGE;
    }
    rc = slt_config_default(format, latency_threshold_us, out, err, sizeof(err));
    if (rc < 0) {
        if (err[0])
            fprintf(stderr, "slitail: %s\n", err);
        else
            fprintf(stderr, "slitail: cannot use format '%s': %s\n", format, slt_strerror(rc));
        fprintf(stderr, "slitail: built-in formats: ");
        print_formats(stderr);
        fprintf(stderr, "\n");
        return SLT_EXIT_USAGE;
    }
    return 0;
}

/* The last n+1 '/'-separated components of path (all of it when it has fewer). */
static const char *tail_components(const char *path, size_t n)
{
    const char *p = path + strlen(path);

    while (p > path) {
        p--;
        if (*p == '/' && n-- == 0)
            return p + 1;
    }
    return path;
}

/*
 * An absolute pattern matches the file's absolute path (or the path as given); a relative one
 * matches the end of it, as many components as the pattern has: "access.log*" matches any
 * directory's access.log.1.gz, "examples/logs/access.log*" a file in any .../examples/logs/.
 */
static int pattern_matches(const char *pat, const char *file, const char *abs)
{
    size_t slashes = 0;
    const char *c;

    if (fnmatch(pat, file, FNM_PATHNAME) == 0 || (abs && fnmatch(pat, abs, FNM_PATHNAME) == 0))
        return 1;
    if (pat[0] == '/')
        return 0;
    for (c = pat; *c; c++)
        slashes += *c == '/';
    return fnmatch(pat, tail_components(file, slashes), FNM_PATHNAME) == 0 ||
           (abs && fnmatch(pat, tail_components(abs, slashes), FNM_PATHNAME) == 0);
}

/*
 * A file belongs to an input when one of its paths matches it, or matches it once the
 * rotation suffix is taken off: access.log.1, access.log.2.gz and access.log-20261122 belong
 * with access.log, as the agent's backfill reads them.
 */
static int input_matches(const struct slt_input *in, const char *file, const char *abs)
{
    char rotated[PATH_MAX + 8];
    size_t i;

    for (i = 0; i < in->npaths; i++) {
        if (pattern_matches(in->paths[i], file, abs))
            return 1;
        if ((size_t)snprintf(rotated, sizeof(rotated), "%s[.-]*", in->paths[i]) < sizeof(rotated) &&
            pattern_matches(rotated, file, abs))
            return 1;
    }
    return 0;
}

int slt__cli_file_exists(const char *file, const char *cmd)
{
    struct stat st;

    if (strcmp(file, "-") == 0 || stat(file, &st) == 0 || errno != ENOENT)
        return 1;
    fprintf(stderr, "slitail%s%s: no such file '%s'\n", cmd ? " " : "", cmd ? cmd : "", file);
    return 0;
}

int slt__cli_pick_input(const struct slt_config *cfg, const char *name, const char *file)
{
    char abs[PATH_MAX];
    const char *absp = NULL;
    int found = -1;
    size_t i;

    if (name) {
        int idx = slt_config_input_index(cfg, name);
        if (idx < 0) {
            fprintf(stderr, "slitail: no input '%s' in '%s' (inputs:", name,
                    cfg->path ? cfg->path : "default config");
            for (i = 0; i < cfg->ninputs; i++)
                fprintf(stderr, " %s", cfg->inputs[i].name);
            fprintf(stderr, ")\n");
        }
        return idx;
    }
    if (cfg->ninputs == 1)
        return 0;
    if (cfg->ninputs == 0) {
        fprintf(stderr, "slitail: config '%s' has no inputs\n", cfg->path ? cfg->path : "");
        return -1;
    }
    if (file) {
        if (!slt__cli_file_exists(file, NULL))
            return -1;
        if (strcmp(file, "-") != 0 && realpath(file, abs))
            absp = abs;
        for (i = 0; i < cfg->ninputs; i++) {
            if (!input_matches(&cfg->inputs[i], file, absp))
                continue;
            if (found >= 0) {
                fprintf(stderr,
                        "slitail: '%s' matches the paths of inputs '%s' and '%s'; pick one "
                        "with --input NAME\n",
                        file, cfg->inputs[found].name, cfg->inputs[i].name);
                return -1;
            }
            found = (int)i;
        }
        if (found >= 0)
            return found;
        fprintf(stderr, "slitail: '%s' matches the paths of no input; pick one with --input", file);
    } else {
        fprintf(stderr, "slitail: the config has %zu inputs; pick one with --input", cfg->ninputs);
    }
    fprintf(stderr, " (inputs:");
    for (i = 0; i < cfg->ninputs; i++)
        fprintf(stderr, " %s", cfg->inputs[i].name);
    fprintf(stderr, ")\n");
    return -1;
}

void slt__cli_iso8601(int64_t t, int32_t frac_us, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (!gmtime_r(&tt, &tm)) {
        snprintf(buf, len, "%lld", (long long)t);
        return;
    }
    if (frac_us > 0)
        snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac_us);
    else
        snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* "10%", "0.5%", "100%", or the same without '%': into *out (0..1, or > 1 for "off"). */
static int parse_percent(const char *s, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (end == s || errno || v < 0 || v != v || v > 100)
        return -1;
    if (*end == '%')
        end++;
    if (*end)
        return -1;
    v /= 100.0;
    /* 100% disables the check: no share of unparsed lines can exceed it */
    *out = v >= 1.0 ? 2.0 : v;
    return 0;
}

int slt__cli_parse_opts(int argc, char **argv, const char *name, void (*usage)(FILE *f),
                        struct slt_cli_opts *o)
{
    enum { OPT_MAX_UNPARSED = 256, OPT_FILE, OPT_LINE };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"format", required_argument, NULL, 'f'},
        {"input", required_argument, NULL, 'i'},
        {"latency-threshold", required_argument, NULL, 'l'},
        {"json", no_argument, NULL, 'J'},
        {"jobs", required_argument, NULL, 'j'},
        {"max-unparsed", required_argument, NULL, OPT_MAX_UNPARSED},
        {"file", required_argument, NULL, OPT_FILE},
        {"line", required_argument, NULL, OPT_LINE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int is_check = strcmp(name, "check") == 0, c;
    char *end;
    long v;
    unsigned long long u;

    memset(o, 0, sizeof(*o));
    o->max_unparsed = SLT_CLI_DEFAULT_MAX_UNPARSED;
    o->jobs = 1;
    optind = 1;
    while ((c = getopt_long(argc, argv, is_check ? "c:f:i:l:j:h" : "c:f:i:l:h", opts, NULL)) !=
           -1) {
        if (!is_check && (c == 'j' || c == OPT_MAX_UNPARSED)) {
            fprintf(stderr, "slitail %s: --jobs and --max-unparsed are options of check\n", name);
            usage(stderr);
            return SLT_EXIT_USAGE;
        }
        if (is_check && (c == OPT_FILE || c == OPT_LINE)) {
            fprintf(stderr, "slitail %s: --file and --line are options of explain\n", name);
            usage(stderr);
            return SLT_EXIT_USAGE;
        }
        switch (c) {
        case 'c':
            o->config = optarg;
            break;
        case 'f':
            o->format = optarg;
            break;
        case 'i':
            o->input = optarg;
            break;
        case 'l':
            if (slt_parse_duration_us(optarg, strlen(optarg), 0, &o->threshold_us) < 0 ||
                o->threshold_us <= 0) {
                fprintf(stderr, "slitail %s: bad --latency-threshold '%s' (e.g. 300ms)\n", name,
                        optarg);
                return SLT_EXIT_USAGE;
            }
            break;
        case 'J':
            o->json = 1;
            break;
        case 'j':
            errno = 0;
            v = strtol(optarg, &end, 10);
            if (end == optarg || *end || errno || v < 1 || v > SLT_CLI_MAX_JOBS) {
                fprintf(stderr, "slitail %s: bad --jobs '%s' (1 to %d threads)\n", name, optarg,
                        SLT_CLI_MAX_JOBS);
                return SLT_EXIT_USAGE;
            }
            o->jobs = (int)v;
            break;
        case OPT_MAX_UNPARSED:
            if (parse_percent(optarg, &o->max_unparsed) < 0) {
                fprintf(stderr,
                        "slitail %s: bad --max-unparsed '%s' (a percentage from 0 to 100, such "
                        "as 10%% or 0.5; 100%% disables the check)\n",
                        name, optarg);
                return SLT_EXIT_USAGE;
            }
            break;
        case OPT_FILE:
            o->file = optarg;
            break;
        case OPT_LINE:
            errno = 0;
            u = strtoull(optarg, &end, 10);
            if (end == optarg || *end || errno || u < 1 || optarg[0] == '-') {
                fprintf(stderr, "slitail %s: bad --line '%s' (a line number from 1)\n", name,
                        optarg);
                return SLT_EXIT_USAGE;
            }
            o->line_no = u;
            break;
        case 'h':
            usage(stdout);
            return SLT_EXIT_OK;
        default:
            usage(stderr);
            return SLT_EXIT_USAGE;
        }
    }
    return -1;
}
