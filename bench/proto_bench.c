/*
 * Cost of the wire codec: encode and decode of the messages an agent and an aggregator
 * exchange, in CPU ns per message (getrusage) and bytes per frame. Built and run by
 * bench/proto_run.sh; figures go to bench/RESULTS.md by hand.
 *
 *   proto_bench [scale [case]]     scale multiplies the iterations; case: one of the names,
 *                                  as a prefix (for callgrind: instructions / iterations)
 *
 * Cases: a HELLO, an ACK, a steady-state batch (40 series, 1 row each: one agent's flush), a
 * backfill batch (40 series x 120 rows: two hours of minutes).
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "slt/proto.h"

static double cpu_ns(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9 +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3;
}

static void make_batch(struct slt_msg *m, size_t nser, size_t nrows)
{
    static char names[64][32];
    struct slt_series *ser = calloc(nser, sizeof(*ser));
    size_t i, j;

    for (i = 0; i < nser; i++) {
        snprintf(names[i % 64], sizeof(names[0]), "checkout-availability-%02zu", i);
        ser[i].kind = i % 8 == 0 ? SLT_SERIES_INPUT : SLT_SERIES_SLI;
        ser[i].name = slt_str_make(names[i % 64], strlen(names[i % 64]));
        ser[i].since = 1000;
        ser[i].rows = calloc(nrows, sizeof(*ser[i].rows));
        ser[i].nrows = nrows;
        for (j = 0; j < nrows; j++) {
            ser[i].rows[j].minute = 1764800000 / 60 * 60 + (int64_t)j * 60;
            ser[i].rows[j].v[0] = 1200 + j * 7 + i;
            ser[i].rows[j].v[1] = j % 3;
            ser[i].rows[j].v[2] = 40 + j;
        }
    }
    memset(m, 0, sizeof(*m));
    m->type = SLT_MSG_BATCH;
    m->u.batch.agent_id = slt_str_make("web-17.eu-west-1.example.com", 28);
    m->u.batch.epoch = 1764800000123ull;
    m->u.batch.seq = 123456;
    m->u.batch.created_ms = 1764800012345;
    m->u.batch.series = ser;
    m->u.batch.nseries = nser;
}

static void run(const char *name, const struct slt_msg *m, double fiters)
{
    long iters = fiters < 1 ? 1 : (long)fiters;
    struct slt_buf b;
    struct slt_msg d;
    char err[256];
    double t0, enc, dec;
    long i;

    slt_buf_init(&b, 1 << 26);
    t0 = cpu_ns();
    for (i = 0; i < iters; i++) {
        b.len = 0;
        if (slt_msg_encode(m, &b) != 0)
            abort();
    }
    enc = (cpu_ns() - t0) / (double)iters;
    t0 = cpu_ns();
    for (i = 0; i < iters; i++) {
        if (slt_msg_decode(b.p + 4, b.len - 4, NULL, &d, err, sizeof(err)) != 0) {
            fprintf(stderr, "%s: %s\n", name, err);
            abort();
        }
        slt_msg_release(&d);
    }
    dec = (cpu_ns() - t0) / (double)iters;
    printf("%-28s %8zu %10ld %12.0f %12.0f\n", name, b.len, iters, enc, dec);
    slt_buf_release(&b);
}

static const char *only;

static void run_case(const char *name, const struct slt_msg *m, double iters)
{
    if (!only || strncmp(name, only, strlen(only)) == 0)
        run(name, m, iters);
}

int main(int argc, char **argv)
{
    double scale = argc > 1 ? atof(argv[1]) : 1;
    struct slt_msg hello = {0}, ack = {0}, steady, backfill;

    hello.type = SLT_MSG_HELLO;
    hello.u.hello.version = 1;
    hello.u.hello.agent_id = slt_str_make("web-17.eu-west-1.example.com", 28);
    hello.u.hello.epoch = 1764800000123ull;
    hello.u.hello.token = slt_str_make("0123456789abcdef0123456789abcdef", 32);
    ack.type = SLT_MSG_ACK;
    ack.u.ack.epoch = 1764800000123ull;
    ack.u.ack.seq = 123456;
    ack.u.ack.status = SLT_ACK_APPLIED;
    make_batch(&steady, 40, 1);
    make_batch(&backfill, 40, 120);
    only = argc > 2 ? argv[2] : NULL;

    printf("%-28s %8s %10s %12s %12s\n", "message", "bytes", "iters", "encode ns", "decode ns");
    run_case("hello", &hello, 1000000 * scale);
    run_case("ack", &ack, 1000000 * scale);
    run_case("batch 40 series x 1 row", &steady, 100000 * scale);
    run_case("batch 40 series x 120 rows", &backfill, 2000 * scale);
    return 0;
}
