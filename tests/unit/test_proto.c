#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "slt/proto.h"

/* Encodes m, checks the length prefix and returns the body in b (offset 4). */
static void encode_frame(const struct slt_msg *m, struct slt_buf *b)
{
    uint32_t n;

    slt_buf_init(b, 1 << 24);
    assert_int_equal(slt_msg_encode(m, b), 0);
    assert_true(b->len > 4);
    n = (uint32_t)((uint8_t)b->p[0] << 24 | (uint8_t)b->p[1] << 16 | (uint8_t)b->p[2] << 8 |
                   (uint8_t)b->p[3]);
    assert_int_equal(n, b->len - 4);
}

static int decode_body(const struct slt_buf *b, const struct slt_proto_limits *l, struct slt_msg *m,
                       char *err, size_t errlen)
{
    return slt_msg_decode(b->p + 4, b->len - 4, l, m, err, errlen);
}

static void test_hello_round_trips(void **state)
{
    struct slt_msg m = {0}, d;
    struct slt_buf b;
    char err[256];

    (void)state;
    m.type = SLT_MSG_HELLO;
    m.u.hello.version = SLT_PROTO_VERSION;
    m.u.hello.agent_id = slt_str_make("web-1", 5);
    m.u.hello.epoch = 1700000000123ULL;
    m.u.hello.token = slt_str_make("s3cret", 6);
    encode_frame(&m, &b);
    assert_int_equal(decode_body(&b, NULL, &d, err, sizeof(err)), 0);
    assert_int_equal(d.type, SLT_MSG_HELLO);
    assert_int_equal(d.u.hello.version, 1);
    assert_true(slt_str_eq(d.u.hello.agent_id, "web-1"));
    assert_true(slt_str_eq(d.u.hello.token, "s3cret"));
    assert_int_equal(d.u.hello.epoch, 1700000000123ULL);
    slt_msg_release(&d);
    slt_buf_release(&b);
}

static void test_batch_round_trips_with_every_integer_width(void **state)
{
    struct slt_count_row rows[3] = {
        {0, {0, 1, 127}},
        {1700000040, {128, 65536, 4294967296ULL}},
        {60, {(uint64_t)INT64_MAX, 255, 65535}},
    };
    struct slt_series ser[3] = {
        {SLT_SERIES_SLI, {"checkout", 8}, 1, rows, 3},
        {SLT_SERIES_INPUT, {"web", 3}, 7, NULL, 0},
        {SLT_SERIES_SLI, {"a-very-long-series-name-over-31-bytes", 37}, 2, rows + 1, 1},
    };
    struct slt_msg m = {0}, d;
    struct slt_buf b;
    char err[256];
    size_t i, j;

    (void)state;
    m.type = SLT_MSG_BATCH;
    m.u.batch.agent_id = slt_str_make("a1", 2);
    m.u.batch.epoch = 5;
    m.u.batch.seq = 300;
    m.u.batch.created_ms = -5; /* odd but legal */
    m.u.batch.series = ser;
    m.u.batch.nseries = 3;
    encode_frame(&m, &b);
    assert_int_equal(decode_body(&b, NULL, &d, err, sizeof(err)), 0);
    assert_int_equal(d.type, SLT_MSG_BATCH);
    assert_int_equal(d.u.batch.epoch, 5);
    assert_int_equal(d.u.batch.seq, 300);
    assert_int_equal(d.u.batch.created_ms, -5);
    assert_int_equal(d.u.batch.nseries, 3);
    for (i = 0; i < 3; i++) {
        assert_int_equal(d.u.batch.series[i].kind, ser[i].kind);
        assert_int_equal(d.u.batch.series[i].since, ser[i].since);
        assert_int_equal(d.u.batch.series[i].name.len, ser[i].name.len);
        assert_memory_equal(d.u.batch.series[i].name.p, ser[i].name.p, ser[i].name.len);
        assert_int_equal(d.u.batch.series[i].nrows, ser[i].nrows);
        for (j = 0; j < ser[i].nrows; j++) {
            assert_int_equal(d.u.batch.series[i].rows[j].minute, ser[i].rows[j].minute);
            assert_int_equal(d.u.batch.series[i].rows[j].v[0], ser[i].rows[j].v[0]);
            assert_int_equal(d.u.batch.series[i].rows[j].v[1], ser[i].rows[j].v[1]);
            assert_int_equal(d.u.batch.series[i].rows[j].v[2], ser[i].rows[j].v[2]);
        }
    }
    slt_msg_release(&d);
    slt_buf_release(&b);
}

static void test_ack_welcome_error_round_trip(void **state)
{
    struct slt_msg m = {0}, d;
    struct slt_buf b;
    char err[256];

    (void)state;
    m.type = SLT_MSG_ACK;
    m.u.ack.epoch = 9;
    m.u.ack.seq = 70000;
    m.u.ack.status = SLT_ACK_GAP;
    m.u.ack.resend_from = 65000;
    encode_frame(&m, &b);
    assert_int_equal(decode_body(&b, NULL, &d, err, sizeof(err)), 0);
    assert_int_equal(d.type, SLT_MSG_ACK);
    assert_int_equal(d.u.ack.epoch, 9);
    assert_int_equal(d.u.ack.seq, 70000);
    assert_int_equal(d.u.ack.status, SLT_ACK_GAP);
    assert_int_equal(d.u.ack.resend_from, 65000);
    slt_buf_release(&b);

    memset(&m, 0, sizeof(m));
    m.type = SLT_MSG_WELCOME;
    m.u.welcome.version = 1;
    m.u.welcome.server = slt_str_make("aggr-1", 6);
    encode_frame(&m, &b);
    assert_int_equal(decode_body(&b, NULL, &d, err, sizeof(err)), 0);
    assert_int_equal(d.type, SLT_MSG_WELCOME);
    assert_true(slt_str_eq(d.u.welcome.server, "aggr-1"));
    slt_buf_release(&b);

    memset(&m, 0, sizeof(m));
    m.type = SLT_MSG_ERROR;
    m.u.error.message = slt_str_make("authentication failed", 21);
    encode_frame(&m, &b);
    assert_int_equal(decode_body(&b, NULL, &d, err, sizeof(err)), 0);
    assert_int_equal(d.type, SLT_MSG_ERROR);
    assert_true(slt_str_eq(d.u.error.message, "authentication failed"));
    slt_buf_release(&b);
}

/* REJECTED names its reason and the stored epoch; HELLO may carry the agent's instance. */
static void test_rejected_ack_and_hello_instance_round_trip(void **state)
{
    struct slt_msg m = {0}, d;
    struct slt_buf b;
    char err[256];

    (void)state;
    m.type = SLT_MSG_ACK;
    m.u.ack.epoch = 5;
    m.u.ack.seq = 3;
    m.u.ack.status = SLT_ACK_REJECTED;
    m.u.ack.reason = SLT_REJECT_STALE_EPOCH;
    m.u.ack.mark = 9007199254740991ULL;
    encode_frame(&m, &b);
    assert_int_equal(decode_body(&b, NULL, &d, err, sizeof(err)), 0);
    assert_int_equal(d.u.ack.status, SLT_ACK_REJECTED);
    assert_int_equal(d.u.ack.reason, SLT_REJECT_STALE_EPOCH);
    assert_int_equal(d.u.ack.mark, 9007199254740991ULL);
    slt_buf_release(&b);

    /* other answers carry neither (an old agent sees the same five keys as before) */
    m.u.ack.status = SLT_ACK_APPLIED;
    encode_frame(&m, &b);
    assert_int_equal((uint8_t)b.p[4], 0x85);
    assert_int_equal(decode_body(&b, NULL, &d, err, sizeof(err)), 0);
    assert_int_equal(d.u.ack.reason, 0);
    assert_int_equal(d.u.ack.mark, 0);
    slt_buf_release(&b);

    memset(&m, 0, sizeof(m));
    m.type = SLT_MSG_HELLO;
    m.u.hello.version = 1;
    m.u.hello.agent_id = slt_str_make("web-1", 5);
    m.u.hello.token = slt_str_make("k", 1);
    m.u.hello.instance = slt_str_make("0123456789abcdef", 16);
    encode_frame(&m, &b);
    assert_int_equal(decode_body(&b, NULL, &d, err, sizeof(err)), 0);
    assert_true(slt_str_eq(d.u.hello.instance, "0123456789abcdef"));
    slt_buf_release(&b);
}

/* The exact bytes of a HELLO, so other encoders (tests/lib/slt_proto.py) can be checked. */
static void test_hello_bytes_are_stable(void **state)
{
    static const unsigned char want[] = {0x00, 0x00, 0x00, 0x1e, 0x85, 0xa1, 't', 0x01, 0xa1,
                                         'v',  0x01, 0xa5, 'a',  'g',  'e',  'n', 't',  0xa1,
                                         'x',  0xa5, 'e',  'p',  'o',  'c',  'h', 0x02, 0xa5,
                                         't',  'o',  'k',  'e',  'n',  0xa1, 'k'};
    struct slt_msg m = {0};
    struct slt_buf b;

    (void)state;
    m.type = SLT_MSG_HELLO;
    m.u.hello.version = 1;
    m.u.hello.agent_id = slt_str_make("x", 1);
    m.u.hello.epoch = 2;
    m.u.hello.token = slt_str_make("k", 1);
    encode_frame(&m, &b);
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.p, want, sizeof(want));
    slt_buf_release(&b);
}

static void test_frame_reader_reassembles_frames_fed_one_byte_at_a_time(void **state)
{
    struct slt_frame_reader fr;
    struct slt_msg m = {0}, d;
    struct slt_buf b;
    const char *payload;
    size_t len, i;
    int got = 0, r;
    char err[128];

    (void)state;
    m.type = SLT_MSG_ACK;
    m.u.ack.epoch = 1;
    slt_buf_init(&b, 1 << 16);
    for (i = 1; i <= 3; i++) {
        m.u.ack.seq = i;
        assert_int_equal(slt_msg_encode(&m, &b), 0);
    }
    slt_frame_reader_init(&fr, 1024);
    for (i = 0; i < b.len; i++) {
        assert_int_equal(slt_frame_reader_feed(&fr, b.p + i, 1), 0);
        while ((r = slt_frame_reader_next(&fr, &payload, &len)) == 1) {
            assert_int_equal(slt_msg_decode(payload, len, NULL, &d, err, sizeof(err)), 0);
            assert_int_equal(d.u.ack.seq, got + 1);
            got++;
            slt_frame_reader_consume(&fr);
        }
        assert_int_equal(r, 0);
    }
    assert_int_equal(got, 3);
    assert_int_equal(slt_frame_reader_pending(&fr), 0);
    slt_frame_reader_release(&fr);
    slt_buf_release(&b);
}

static void test_frame_reader_reads_in_place(void **state)
{
    struct slt_frame_reader fr;
    struct slt_msg m = {0};
    struct slt_buf b;
    const char *payload;
    size_t len, avail, done = 0;
    char *p;
    int frames = 0;

    (void)state;
    m.type = SLT_MSG_ERROR;
    m.u.error.message = slt_str_make("bye", 3);
    slt_buf_init(&b, 1 << 16);
    while (b.len < 5000)
        assert_int_equal(slt_msg_encode(&m, &b), 0);
    slt_frame_reader_init(&fr, 64);
    while (done < b.len) {
        assert_int_equal(slt_frame_reader_reserve(&fr, 700, &p, &avail), 0);
        assert_true(avail >= 1 && avail <= 700);
        if (avail > b.len - done)
            avail = b.len - done;
        memcpy(p, b.p + done, avail);
        slt_frame_reader_commit(&fr, avail);
        done += avail;
        while (slt_frame_reader_next(&fr, &payload, &len) == 1) {
            assert_int_equal(len, 12);
            frames++;
            slt_frame_reader_consume(&fr);
        }
    }
    assert_int_equal(frames * 16, b.len);
    slt_frame_reader_release(&fr);
    slt_buf_release(&b);
}

static void test_oversized_length_prefix_is_refused_before_the_body_arrives(void **state)
{
    struct slt_frame_reader fr;
    const unsigned char big[4] = {0x00, 0x00, 0x04, 0x01}; /* 1025 */
    const unsigned char zero[4] = {0, 0, 0, 0};
    const char *payload;
    size_t len;

    (void)state;
    slt_frame_reader_init(&fr, 1024);
    assert_int_equal(slt_frame_reader_feed(&fr, big, 4), 0);
    assert_int_equal(slt_frame_reader_next(&fr, &payload, &len), SLT_ELIMIT);
    /* the buffer never grew to hold the announced frame */
    assert_true(fr.buf.cap < 1025);
    assert_int_equal(slt_frame_reader_feed(&fr, "x", 1), SLT_ELIMIT);
    slt_frame_reader_release(&fr);

    slt_frame_reader_init(&fr, 1024);
    assert_int_equal(slt_frame_reader_feed(&fr, zero, 4), 0);
    assert_int_equal(slt_frame_reader_next(&fr, &payload, &len), SLT_ELIMIT);
    slt_frame_reader_release(&fr);
}

static void test_frame_reader_bound_can_grow_after_authentication(void **state)
{
    struct slt_frame_reader fr;
    const unsigned char hdr[4] = {0x00, 0x00, 0x20, 0x00}; /* 8192 */
    const char *payload;
    size_t len;

    (void)state;
    slt_frame_reader_init(&fr, 4096);
    assert_int_equal(slt_frame_reader_feed(&fr, hdr, 4), 0);
    assert_int_equal(slt_frame_reader_next(&fr, &payload, &len), SLT_ELIMIT);
    slt_frame_reader_set_max(&fr, 1 << 20);
    assert_int_equal(slt_frame_reader_next(&fr, &payload, &len), 0);
    assert_int_equal(fr.buf.max, (1u << 20) + 4 + SLT_FRAME_READ_SLACK);
    slt_frame_reader_release(&fr);
}

static void test_frame_reader_bounds_buffered_bytes(void **state)
{
    struct slt_frame_reader fr;
    const unsigned char hdr[4] = {0x00, 0x00, 0x04, 0x00}; /* 1024, the max */
    char *junk;
    size_t total;

    (void)state;
    slt_frame_reader_init(&fr, 1024);
    total = 4 + 1024 + SLT_FRAME_READ_SLACK;
    junk = calloc(1, total + 1);
    assert_non_null(junk);
    assert_int_equal(slt_frame_reader_feed(&fr, hdr, 4), 0);
    assert_int_equal(slt_frame_reader_feed(&fr, junk, total - 4), 0);
    assert_int_equal(slt_frame_reader_feed(&fr, junk, 1), SLT_ELIMIT);
    free(junk);
    slt_frame_reader_release(&fr);
}

/* Hand-written msgpack bodies that must be refused with a reason. */
static void expect_malformed(const void *body, size_t len, const struct slt_proto_limits *l,
                             const char *reason_part)
{
    struct slt_msg d;
    char err[256];
    int rc = slt_msg_decode(body, len, l, &d, err, sizeof(err));

    if (rc != SLT_EPROTO || !strstr(err, reason_part)) {
        print_error("rc %d err '%s', want SLT_EPROTO with '%s'\n", rc, err, reason_part);
        fail();
    }
}

static void test_malformed_bodies_are_refused_with_a_reason(void **state)
{
    /* array header announcing 2^32-1 elements in 5 bytes */
    static const unsigned char huge_array[] = {0x82, 0xa1, 't', 0x03, 0xa6, 's',  'e',  'r',
                                               'i',  'e',  's', 0xdd, 0xff, 0xff, 0xff, 0xff};
    static const unsigned char not_a_map[] = {0x93, 0x01, 0x02, 0x03};
    static const unsigned char type_not_first[] = {0x82, 0xa3, 's', 'e', 'q',
                                                   0x01, 0xa1, 't', 0x04};
    static const unsigned char unknown_type[] = {0x81, 0xa1, 't', 0x09};
    static const unsigned char missing_keys[] = {0x81, 0xa1, 't', 0x04};
    static const unsigned char trailing[] = {0x82, 0xa1, 't', 0x05, 0xa3,
                                             'm',  's',  'g', 0xa0, 0x00};
    static const unsigned char truncated_str[] = {0x82, 0xa1, 't', 0x05, 0xa3,
                                                  'm',  's',  'g', 0xa5, 'a'};
    static const unsigned char dup_key[] = {0x83, 0xa1, 't',  0x05, 0xa3, 'm', 's',
                                            'g',  0xa0, 0xa3, 'm',  's',  'g', 0xa0};
    static const unsigned char bad_byte[] = {0x82, 0xa1, 't', 0x05, 0xa1, 'x', 0xc1};

    (void)state;
    expect_malformed(huge_array, sizeof(huge_array), NULL, "elements announced");
    expect_malformed(not_a_map, sizeof(not_a_map), NULL, "expected a map");
    expect_malformed(type_not_first, sizeof(type_not_first), NULL, "first key must be 't'");
    expect_malformed(unknown_type, sizeof(unknown_type), NULL, "unknown message type 9");
    expect_malformed(missing_keys, sizeof(missing_keys), NULL, "without 'epoch'");
    expect_malformed(trailing, sizeof(trailing), NULL, "bytes after the message");
    expect_malformed(truncated_str, sizeof(truncated_str), NULL, "truncated");
    expect_malformed(dup_key, sizeof(dup_key), NULL, "repeated");
    expect_malformed(bad_byte, sizeof(bad_byte), NULL, "invalid msgpack byte 0xc1");
    expect_malformed("", 0, NULL, "truncated");
}

static void test_unknown_keys_are_skipped(void **state)
{
    /* {"t":5, "x":{"y":[1,2.5,nil,true]}, "msg":"m"} */
    static const unsigned char body[] = {0x83, 0xa1, 't',  0x05, 0xa1, 'x', 0x81, 0xa1, 'y', 0x94,
                                         0x01, 0xcb, 0x40, 0x04, 0,    0,   0,    0,    0,   0,
                                         0xc0, 0xc3, 0xa3, 'm',  's',  'g', 0xa1, 'm'};
    struct slt_msg d;
    char err[128];

    (void)state;
    assert_int_equal(slt_msg_decode((const char *)body, sizeof(body), NULL, &d, err, sizeof(err)),
                     0);
    assert_true(slt_str_eq(d.u.error.message, "m"));
}

static void test_nesting_past_max_depth_is_refused(void **state)
{
    unsigned char body[64];
    size_t n = 0, i;
    struct slt_proto_limits l;

    (void)state;
    slt_proto_limits_default(&l);
    body[n++] = 0x83;
    body[n++] = 0xa1;
    body[n++] = 't';
    body[n++] = 0x05;
    body[n++] = 0xa1;
    body[n++] = 'x';
    for (i = 0; i < 20; i++)
        body[n++] = 0x91;
    body[n++] = 0x01;
    body[n++] = 0xa3;
    body[n++] = 'm';
    body[n++] = 's';
    body[n++] = 'g';
    body[n++] = 0xa0;
    expect_malformed(body, n, &l, "nesting deeper than 8");
    l.max_depth = 32;
    {
        struct slt_msg d;
        char err[128];
        assert_int_equal(slt_msg_decode((const char *)body, n, &l, &d, err, sizeof(err)), 0);
    }
}

static void batch_with(struct slt_msg *m, struct slt_series *ser, size_t nser)
{
    memset(m, 0, sizeof(*m));
    m->type = SLT_MSG_BATCH;
    m->u.batch.agent_id = slt_str_make("a", 1);
    m->u.batch.epoch = 1;
    m->u.batch.seq = 1;
    m->u.batch.series = ser;
    m->u.batch.nseries = nser;
}

static void test_batch_limits_are_enforced(void **state)
{
    struct slt_count_row rows[10] = {{0, {0, 0, 0}}};
    struct slt_series ser[5];
    struct slt_proto_limits l;
    struct slt_msg m;
    struct slt_buf b;
    size_t i;

    (void)state;
    for (i = 0; i < 5; i++) {
        ser[i].kind = SLT_SERIES_SLI;
        ser[i].name = slt_str_make("sli-name", 8);
        ser[i].since = 1;
        ser[i].rows = rows;
        ser[i].nrows = 10;
    }
    batch_with(&m, ser, 5);
    encode_frame(&m, &b);
    slt_proto_limits_default(&l);
    l.max_series = 4;
    expect_malformed(b.p + 4, b.len - 4, &l, "5 series over the limit of 4");
    slt_proto_limits_default(&l);
    l.max_rows = 9;
    expect_malformed(b.p + 4, b.len - 4, &l, "10 rows over the limit of 9");
    slt_proto_limits_default(&l);
    l.max_str = 7;
    expect_malformed(b.p + 4, b.len - 4, &l, "string of 8 bytes over the limit of 7");
    slt_buf_release(&b);
}

static void test_batch_content_is_checked(void **state)
{
    struct slt_count_row row = {61, {1, 2, 3}};
    struct slt_series ser = {SLT_SERIES_SLI, {"x", 1}, 1, &row, 1};
    struct slt_msg m;
    struct slt_buf b;

    (void)state;
    batch_with(&m, &ser, 1);
    encode_frame(&m, &b);
    expect_malformed(b.p + 4, b.len - 4, NULL, "not a non-negative multiple of 60");
    slt_buf_release(&b);

    row.minute = 120;
    ser.name = slt_str_make("a{b}", 4);
    encode_frame(&m, &b);
    expect_malformed(b.p + 4, b.len - 4, NULL, "byte 0x7b not allowed");
    slt_buf_release(&b);

    ser.name = slt_str_make("ok", 2);
    ser.since = 0;
    encode_frame(&m, &b);
    expect_malformed(b.p + 4, b.len - 4, NULL, "'since': must be at least 1");
    slt_buf_release(&b);

    ser.since = 1;
    row.v[1] = (uint64_t)INT64_MAX + 1;
    encode_frame(&m, &b);
    expect_malformed(b.p + 4, b.len - 4, NULL, "out of range");
    slt_buf_release(&b);

    row.v[1] = 0;
    m.u.batch.seq = 0;
    encode_frame(&m, &b);
    expect_malformed(b.p + 4, b.len - 4, NULL, "'seq': must be at least 1");
    slt_buf_release(&b);
}

/* Failing each allocation in turn leaves no leak and gives an error, never a crash. */
static void test_decoder_survives_every_allocation_failure(void **state)
{
    struct slt_count_row rows[2] = {{0, {1, 2, 3}}, {60, {4, 5, 6}}};
    struct slt_series ser[2] = {{SLT_SERIES_SLI, {"a", 1}, 1, rows, 2},
                                {SLT_SERIES_INPUT, {"b", 1}, 1, rows, 2}};
    struct slt_msg m, d;
    struct slt_buf b;
    char err[128];
    long i;
    int rc;

    (void)state;
    batch_with(&m, ser, 2);
    encode_frame(&m, &b);
    for (i = 0; i < 10; i++) {
        slt_alloc_fail_after(i);
        rc = slt_msg_decode(b.p + 4, b.len - 4, NULL, &d, err, sizeof(err));
        slt_alloc_fail_after(-1);
        if (rc == 0) {
            slt_msg_release(&d);
            break;
        }
        assert_int_equal(rc, SLT_EPROTO);
        assert_non_null(strstr(err, "out of memory"));
    }
    assert_true(i < 10);
    slt_buf_release(&b);
}

static void test_encoder_respects_the_buffer_bound(void **state)
{
    struct slt_msg m = {0};
    struct slt_buf b;

    (void)state;
    m.type = SLT_MSG_ERROR;
    m.u.error.message = slt_str_make("0123456789", 10);
    slt_buf_init(&b, 12);
    assert_int_equal(slt_msg_encode(&m, &b), SLT_ELIMIT);
    assert_int_equal(b.len, 0);
    slt_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello_round_trips),
        cmocka_unit_test(test_batch_round_trips_with_every_integer_width),
        cmocka_unit_test(test_ack_welcome_error_round_trip),
        cmocka_unit_test(test_hello_bytes_are_stable),
        cmocka_unit_test(test_rejected_ack_and_hello_instance_round_trip),
        cmocka_unit_test(test_frame_reader_reassembles_frames_fed_one_byte_at_a_time),
        cmocka_unit_test(test_frame_reader_reads_in_place),
        cmocka_unit_test(test_oversized_length_prefix_is_refused_before_the_body_arrives),
        cmocka_unit_test(test_frame_reader_bounds_buffered_bytes),
        cmocka_unit_test(test_frame_reader_bound_can_grow_after_authentication),
        cmocka_unit_test(test_malformed_bodies_are_refused_with_a_reason),
        cmocka_unit_test(test_unknown_keys_are_skipped),
        cmocka_unit_test(test_nesting_past_max_depth_is_refused),
        cmocka_unit_test(test_batch_limits_are_enforced),
        cmocka_unit_test(test_batch_content_is_checked),
        cmocka_unit_test(test_decoder_survives_every_allocation_failure),
        cmocka_unit_test(test_encoder_respects_the_buffer_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
