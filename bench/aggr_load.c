/*
 * Load driver for slitail-aggregator: N simulated agents on one libuv loop, each sending
 * batches of S series x M minute rows, one batch in flight per agent (as the real agent does),
 * for a fixed number of batches. Prints batches/s, ack latency percentiles and ack statuses.
 *
 *   aggr_load HOST PORT TOKEN_FILE AGENTS BATCHES_PER_AGENT [SERIES=10] [MINUTES=2]
 *
 * With AGGR_LOAD_CA=ca.pem the agents speak TLS (slt/conn.h, the agent's own transport),
 * verifying the aggregator's certificate for "localhost"; AGGR_LOAD_CERT and AGGR_LOAD_KEY add
 * a client certificate (mutual TLS; the agent ids are then not checked against it only if the
 * aggregator has no client_ca_file, so bench/aggr_run.sh uses server-side TLS only).
 *
 * Build: bench/aggr_run.sh does it (slt_proto, slt_net, slt_common, libuv, OpenSSL).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "slt/conn.h"
#include "slt/proto.h"
#include "slt/tls.h"

struct agent {
    struct slt_conn *c;
    struct slt_frame_reader fr;
    char id[64];
    uint64_t seq;
    uint64_t sent_ns;
    int welcomed;
    int done;
};

static struct {
    uv_loop_t *loop;
    struct sockaddr_in addr;
    char token[4096];
    size_t nagents, batches, nseries, nminutes;
    uint64_t epoch;
    struct agent *agents;
    struct slt_series *series;
    struct slt_count_row *rows;
    char (*names)[32];
    uint64_t *lat_us;
    size_t nlat;
    uint64_t status[5];
    size_t finished;
    uint64_t t0_ns, t1_ns;
    uint64_t start_ns, welcomed_ns; /* connect of the first .. WELCOME of the last */
    size_t nwelcomed;
    int64_t minute;
    struct slt_tls *tls;
} g;

static void on_written(struct slt_conn *c, int status, void *arg)
{
    (void)c;
    (void)status;
    free(arg);
}

static void send_buf(struct agent *a, struct slt_buf *b)
{
    char *w = malloc(b->len);

    memcpy(w, b->p, b->len);
    if (slt_conn_write(a->c, w, b->len, on_written, w) < 0)
        free(w);
}

static void send_batch(struct agent *a)
{
    struct slt_msg m;
    struct slt_buf b;
    size_t i, j;

    memset(&m, 0, sizeof(m));
    m.type = SLT_MSG_BATCH;
    m.u.batch.agent_id = slt_str_make(a->id, strlen(a->id));
    m.u.batch.epoch = g.epoch;
    m.u.batch.seq = a->seq;
    m.u.batch.created_ms = slt_now_ms();
    for (i = 0; i < g.nseries; i++) {
        for (j = 0; j < g.nminutes; j++) {
            struct slt_count_row *r = &g.series[i].rows[j];
            r->v[0] = 1 + (a->seq + i + j) % 50;
            r->v[1] = (a->seq + j) % 3;
            r->v[2] = (a->seq + i) % 2;
        }
    }
    m.u.batch.series = g.series;
    m.u.batch.nseries = g.nseries;
    slt_buf_init(&b, 64u << 20);
    if (slt_msg_encode(&m, &b) == 0)
        send_buf(a, &b);
    slt_buf_release(&b);
    a->sent_ns = uv_hrtime();
}

static void finish_agent(struct agent *a)
{
    if (a->done)
        return;
    a->done = 1;
    g.finished++;
    if (g.finished == g.nagents)
        g.t1_ns = uv_hrtime();
    slt_conn_close(a->c, NULL);
}

static void on_alloc(struct slt_conn *c, size_t sz, char **p, size_t *room)
{
    struct agent *a = slt_conn_data(c);

    (void)sz;
    if (slt_frame_reader_reserve(&a->fr, 16384, p, room) < 0) {
        *p = NULL;
        *room = 0;
    }
}

static void on_read(struct slt_conn *c, long n)
{
    struct agent *a = slt_conn_data(c);
    const char *payload;
    size_t len;
    struct slt_msg m;
    char err[256];

    if (n < 0) {
        fprintf(stderr, "agent %s: %s\n", a->id,
                n == SLT_EPROTO ? slt_conn_error(c) : uv_strerror((int)n));
        finish_agent(a);
        return;
    }
    slt_frame_reader_commit(&a->fr, (size_t)n);
    while (slt_frame_reader_next(&a->fr, &payload, &len) == 1) {
        if (slt_msg_decode(payload, len, NULL, &m, err, sizeof(err)) < 0) {
            fprintf(stderr, "agent %s: bad frame: %s\n", a->id, err);
            finish_agent(a);
            return;
        }
        if (m.type == SLT_MSG_WELCOME) {
            a->welcomed = 1;
            if (++g.nwelcomed == g.nagents)
                g.welcomed_ns = uv_hrtime();
            if (!g.t0_ns)
                g.t0_ns = uv_hrtime();
            send_batch(a);
        } else if (m.type == SLT_MSG_ACK) {
            g.status[m.u.ack.status]++;
            g.lat_us[g.nlat++] = (uv_hrtime() - a->sent_ns) / 1000;
            if (m.u.ack.status == SLT_ACK_APPLIED || m.u.ack.status == SLT_ACK_DUPLICATE)
                a->seq++;
            else if (m.u.ack.status == SLT_ACK_GAP)
                a->seq = m.u.ack.resend_from;
            if (a->seq > g.batches || g.nlat >= g.nagents * g.batches * 4) {
                slt_msg_release(&m);
                finish_agent(a);
                return;
            }
            send_batch(a);
        } else if (m.type == SLT_MSG_ERROR) {
            fprintf(stderr, "agent %s: error %.*s\n", a->id, (int)m.u.error.message.len,
                    m.u.error.message.p);
            slt_msg_release(&m);
            finish_agent(a);
            return;
        }
        slt_msg_release(&m);
        slt_frame_reader_consume(&a->fr);
    }
}

static void on_connect(struct slt_conn *c, int status)
{
    struct agent *a = slt_conn_data(c);
    struct slt_msg m;
    struct slt_buf b;

    if (status < 0) {
        fprintf(stderr, "agent %s: connect: %s\n", a->id,
                status == SLT_EPROTO ? slt_conn_error(c) : uv_strerror(status));
        finish_agent(a);
        return;
    }
    slt_conn_read_start(c, on_alloc, on_read);
    memset(&m, 0, sizeof(m));
    m.type = SLT_MSG_HELLO;
    m.u.hello.version = SLT_PROTO_VERSION;
    m.u.hello.agent_id = slt_str_make(a->id, strlen(a->id));
    m.u.hello.epoch = g.epoch;
    m.u.hello.token = slt_str_make(g.token, strlen(g.token));
    slt_buf_init(&b, 1 << 16);
    slt_msg_encode(&m, &b);
    send_buf(a, &b);
    slt_buf_release(&b);
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

int main(int argc, char **argv)
{
    FILE *f;
    size_t i, j, n;
    double secs;

    if (argc < 6) {
        fprintf(stderr,
                "usage: aggr_load HOST PORT TOKEN_FILE AGENTS BATCHES [SERIES] [MINUTES]\n");
        return 2;
    }
    uv_ip4_addr(argv[1], atoi(argv[2]), &g.addr);
    f = fopen(argv[3], "r");
    if (!f || !fgets(g.token, sizeof(g.token), f)) {
        fprintf(stderr, "cannot read token file '%s'\n", argv[3]);
        return 2;
    }
    fclose(f);
    g.token[strcspn(g.token, "\r\n")] = '\0';
    g.nagents = (size_t)atol(argv[4]);
    g.batches = (size_t)atol(argv[5]);
    g.nseries = argc > 6 ? (size_t)atol(argv[6]) : 10;
    g.nminutes = argc > 7 ? (size_t)atol(argv[7]) : 2;
    g.epoch = (uint64_t)slt_now_ms();
    g.minute = slt_now_ms() / 1000 / 60 * 60;
    g.loop = uv_default_loop();
    if (getenv("AGGR_LOAD_CA")) {
        struct slt_tls_opts o = {getenv("AGGR_LOAD_CERT"), getenv("AGGR_LOAD_KEY"),
                                 getenv("AGGR_LOAD_CA")};
        char err[512];

        if (slt_tls_new(SLT_TLS_CLIENT, &o, "bench", &g.tls, err, sizeof(err)) < 0) {
            fprintf(stderr, "aggr_load: %s\n", err);
            return 2;
        }
    }
    g.start_ns = uv_hrtime();
    g.agents = calloc(g.nagents, sizeof(*g.agents));
    g.series = calloc(g.nseries, sizeof(*g.series));
    g.rows = calloc(g.nseries * g.nminutes, sizeof(*g.rows));
    g.names = calloc(g.nseries, sizeof(*g.names));
    g.lat_us = calloc(g.nagents * g.batches * 4 + 1, sizeof(*g.lat_us));
    for (i = 0; i < g.nseries; i++) {
        snprintf(g.names[i], sizeof(g.names[i]), "bench-sli-%zu", i);
        g.series[i].kind = SLT_SERIES_SLI;
        g.series[i].name = slt_str_make(g.names[i], strlen(g.names[i]));
        g.series[i].since = 1;
        g.series[i].rows = g.rows + i * g.nminutes;
        g.series[i].nrows = g.nminutes;
        for (j = 0; j < g.nminutes; j++)
            g.series[i].rows[j].minute = g.minute - 60 * (int64_t)j;
    }
    for (i = 0; i < g.nagents; i++) {
        struct agent *a = &g.agents[i];
        snprintf(a->id, sizeof(a->id), "bench-%llu-%zu", (unsigned long long)g.epoch % 100000, i);
        a->seq = 1;
        slt_frame_reader_init(&a->fr, 1 << 20);
        if (slt_conn_connect(g.loop, (struct sockaddr *)&g.addr, g.tls, "localhost", on_connect, a,
                             &a->c) < 0) {
            fprintf(stderr, "agent %s: cannot connect\n", a->id);
            a->done = 1;
            g.finished++;
        }
    }
    uv_run(g.loop, UV_RUN_DEFAULT);
    if (!g.t1_ns)
        g.t1_ns = uv_hrtime();
    n = g.nlat;
    qsort(g.lat_us, n, sizeof(*g.lat_us), cmp_u64);
    secs = (double)(g.t1_ns - g.t0_ns) / 1e9;
    printf("agents %zu, batches/agent %zu, series %zu x %zu minutes\n", g.nagents, g.batches,
           g.nseries, g.nminutes);
    printf("acks %zu in %.2f s: %.0f batches/s\n", n, secs, secs > 0 ? (double)n / secs : 0);
    if (g.welcomed_ns)
        printf("%s: %zu agents connected and welcomed in %.3f s\n", g.tls ? "tls" : "tcp",
               g.nagents, (double)(g.welcomed_ns - g.start_ns) / 1e9);
    if (n)
        printf("ack latency ms: p50 %.2f p90 %.2f p99 %.2f max %.2f\n",
               (double)g.lat_us[n / 2] / 1000, (double)g.lat_us[n * 9 / 10] / 1000,
               (double)g.lat_us[n * 99 / 100] / 1000, (double)g.lat_us[n - 1] / 1000);
    printf("applied %llu duplicate %llu gap %llu rejected %llu retry %llu\n",
           (unsigned long long)g.status[0], (unsigned long long)g.status[1],
           (unsigned long long)g.status[2], (unsigned long long)g.status[3],
           (unsigned long long)g.status[4]);
    {
        /* what every agent's batches add to the first series, for a check against Redis */
        uint64_t want[3] = {0, 0, 0}, seq;
        for (seq = 1; seq <= g.batches; seq++)
            for (j = 0; j < g.nminutes; j++) {
                want[0] += 1 + (seq + 0 + j) % 50;
                want[1] += (seq + j) % 3;
                want[2] += (seq + 0) % 2;
            }
        printf("expected slt:{s:%s}:tot g %llu b %llu e %llu\n", g.names[0],
               (unsigned long long)(want[0] * g.nagents), (unsigned long long)(want[1] * g.nagents),
               (unsigned long long)(want[2] * g.nagents));
    }
    for (i = 0; i < g.nagents; i++)
        slt_frame_reader_release(&g.agents[i].fr);
    slt_tls_free(g.tls);
    free(g.agents);
    free(g.series);
    free(g.rows);
    free(g.names);
    free(g.lat_us);
    return g.status[4] || g.status[3] ? 1 : 0;
}
