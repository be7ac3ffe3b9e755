/*
 * Parse-only microbenchmark: reads FILE into memory, then calls slt_parse() on every line,
 * REPEAT times, and prints CPU time (getrusage: user + sys) per line and lines per CPU second.
 * No rules, no I/O in the timed loop: this is the parser alone.
 *
 *   parse_bench FORMAT FILE [REPEAT=5] [all]
 *
 * With "all", every canonical field of every parsed line is read through slt_record_get (what a
 * config whose rules name every field costs: alb reads the fields after the request on first
 * use). Lines of one FILE are one stream (w3c and cloudfront headers apply).
 * FORMAT is a built-in name (nginx_timed, alb, ...). Build (see bench/RESULTS.md):
 *   cc -O2 -g -std=c11 -D_GNU_SOURCE bench/parse_bench.c -Iparsers/include -Icommon/include \
 *      build-rel/parsers/libslt_parsers.a build-rel/common/libslt_common.a \
 *      $(pkg-config --libs libpcre2-8) -ljansson -o build-rel/bin/parse_bench
 * For instruction counts: valgrind --tool=callgrind build-rel/bin/parse_bench FORMAT FILE 1
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "slt/parser.h"

static double cpu_seconds(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0, r;

    if (!f)
        return NULL;
    for (;;) {
        if (n == cap) {
            char *nb;

            cap = cap ? cap * 2 : (size_t)1 << 20;
            nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        r = fread(buf + n, 1, cap - n, f);
        if (r == 0)
            break;
        n += r;
    }
    fclose(f);
    *len = n;
    return buf;
}

int main(int argc, char **argv)
{
    struct slt_format *fmt;
    struct slt_parser *p;
    struct slt_record rec;
    size_t len, lines = 0, parsed = 0;
    int repeat = argc > 3 ? atoi(argv[3]) : 5, all = argc > 4 && strcmp(argv[4], "all") == 0, k;
    long long sum = 0;
    int f;
    double t0, t;
    char *buf;

    if (argc < 3) {
        fprintf(stderr, "usage: parse_bench FORMAT FILE [REPEAT] [all]\n");
        return 2;
    }
    if (slt_format_builtin(argv[1], &fmt) < 0) {
        fprintf(stderr, "parse_bench: unknown format '%s'\n", argv[1]);
        return 2;
    }
    if (!(buf = read_file(argv[2], &len))) {
        fprintf(stderr, "parse_bench: cannot read '%s'\n", argv[2]);
        return 2;
    }
    p = slt_parser_new(fmt, 0);
    if (!p)
        return 2;
    t0 = cpu_seconds();
    for (k = 0; k < (repeat > 0 ? repeat : 1); k++) {
        const char *s = buf, *end = buf + len, *nl;

        while (s < end) {
            nl = memchr(s, '\n', (size_t)(end - s));
            if (!nl)
                nl = end;
            if (slt_parse(p, s, (size_t)(nl - s), &rec) == SLT_UP_OK) {
                parsed++;
                sum += rec.status + rec.latency_us + (long long)rec.field[SLT_F_TIME].len;
                for (f = 0; all && f < SLT_F__COUNT; f++)
                    sum += (long long)slt_record_get(&rec, f).len;
            }
            lines++;
            s = nl + 1;
        }
    }
    t = cpu_seconds() - t0;
    printf("%s: %zu lines, %zu parsed (check %lld), %.3f s cpu, %.1f ns/line, %.2f M lines/s\n",
           argv[1], lines, parsed, sum, t, t * 1e9 / (double)lines, (double)lines / t / 1e6);
    slt_parser_free(p);
    slt_format_free(fmt);
    free(buf);
    return 0;
}
