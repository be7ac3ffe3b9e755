/* Subcommands of the slitail CLI. Each returns the process exit code. */
#ifndef SLT_CLI_H
#define SLT_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "slt/config.h"

/* Exit codes shared by the subcommands. */
#define SLT_EXIT_OK 0
#define SLT_EXIT_FAIL 1     /* check: a file could not be read; test: a case failed */
#define SLT_EXIT_USAGE 2    /* bad arguments, config or case file */
#define SLT_EXIT_UNPARSED 3 /* check: more than --max-unparsed of an input's lines unparsed */

/* `slitail query ...`: wraps the aggregator's HTTP API (cli/query.c). argv[0] is "query". */
int slt_cli_query(int argc, char **argv);

/* `slitail check ...` (cli/check.c), `slitail explain ...` (cli/explain.c) and
 * `slitail test ...` (cli/ruletest.c). argv[0] is the subcommand. */
int slt_cli_check(int argc, char **argv);
int slt_cli_explain(int argc, char **argv);
int slt_cli_test(int argc, char **argv);

/* The options check and explain share. */
struct slt_cli_opts {
    const char *config, *format, *input;
    int64_t threshold_us; /* 0: not given, SLT_CLI_DEFAULT_LATENCY_US without -c */
    int json;
    /* check only */
    double max_unparsed; /* fraction 0..1 (default SLT_CLI_DEFAULT_MAX_UNPARSED); > 1: off */
    int jobs;            /* threads, 1..SLT_CLI_MAX_JOBS (default 1) */
    /* explain only */
    const char *file; /* --file: explain a line of this file */
    uint64_t line_no; /* --line: which one (1-based; 0: the first that is not a header) */
};

#define SLT_CLI_DEFAULT_MAX_UNPARSED 0.10
#define SLT_CLI_MAX_JOBS 64

/*
 * Parse -c -f -i -l -h --json (and, for check, -j/--jobs and --max-unparsed; for explain,
 * --file and --line) for subcommand name ("check" or "explain"); usage prints its help.
 * Returns -1 to go on (optind is at the first operand), or the exit code to return now.
 */
int slt__cli_parse_opts(int argc, char **argv, const char *name, void (*usage)(FILE *f),
                        struct slt_cli_opts *o);

#define SLT_CLI_DEFAULT_LATENCY_US 300000 /* --latency-threshold without -c */
/*
 * The config a subcommand works with: the file given with -c, or without one the default
 * config of --format (an "availability" SLI and, when the format has latency, a "latency" SLI
 * with latency_threshold_us). Returns 0, or prints the error to stderr and returns
 * SLT_EXIT_USAGE.
 */
int slt__cli_load_config(const char *path, const char *format, int64_t latency_threshold_us,
                         struct slt_config **out);

/*
 * Which input of cfg a file belongs to: the input called name when name is not NULL; else the
 * only input; else the one whose paths (fnmatch globs) match file. Returns the index, or -1
 * after printing why to stderr. file may be NULL (explain: a line has no file).
 */
int slt__cli_pick_input(const struct slt_config *cfg, const char *name, const char *file);

/*
 * 1 when file is "-" or exists (or cannot be looked at for another reason); else prints
 * "slitail CMD: no such file 'FILE'" (CMD may be NULL) to stderr and returns 0.
 */
int slt__cli_file_exists(const char *file, const char *cmd);

/* `slitail replay`, `recommend` and `gate` (cli/budget.c). argv[0] is the subcommand. */
int slt_cli_replay(int argc, char **argv);
int slt_cli_recommend(int argc, char **argv);
int slt_cli_gate(int argc, char **argv);

/* From cli/query.c: a time as `query` reads it (UNIX seconds, now, -1h, now-2d). */
int slt__cli_parse_time(const char *s, int64_t now, int64_t *out);
/*
 * GET target from the aggregator at server_url (http[s]://host:port; ca_file verifies https,
 * token_file holds a bearer token; both may be NULL); *out is the JSON of a 200 answer
 * (decref it). Returns 0, or -1 after printing why to stderr.
 */
struct json_t;
int slt__cli_get_json(const char *server_url, const char *target, int timeout_s,
                      const char *ca_file, const char *token_file, struct json_t **out);
/* Percent-encodes all but unreserved characters; -1 when out (max bytes) is too small. */
int slt__cli_pct_encode(const char *in, char *out, size_t max);

/* UTC ISO 8601 ("2026-10-10T13:55:36Z", with ".123456" when frac_us > 0) into buf. */
void slt__cli_iso8601(int64_t t, int32_t frac_us, char *buf, size_t len);

#endif
