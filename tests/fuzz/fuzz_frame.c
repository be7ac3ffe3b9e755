/*
 * Fuzz target for the frame reader and the message decoder: the input is a byte stream as it
 * would arrive on a connection, fed in pieces whose sizes come from the input itself. Every
 * frame is decoded, and a decoded message is re-encoded and decoded again to the same thing.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "slt/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_reencode(const struct slt_msg *m, const struct slt_proto_limits *l)
{
    struct slt_buf b;
    struct slt_msg d;
    char err[256];

    slt_buf_init(&b, 1 << 22);
    if (slt_msg_encode(m, &b) == 0) {
        if (slt_msg_decode(b.p + 4, b.len - 4, l, &d, err, sizeof(err)) != 0)
            abort();
        if (d.type != m->type)
            abort();
        if (m->type == SLT_MSG_BATCH &&
            (d.u.batch.nseries != m->u.batch.nseries || d.u.batch.seq != m->u.batch.seq))
            abort();
        slt_msg_release(&d);
    }
    slt_buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct slt_frame_reader fr;
    struct slt_proto_limits l;
    struct slt_msg m;
    const char *payload;
    char err[256];
    size_t len, step;
    int r;

    slt_proto_limits_default(&l);
    l.max_depth = 6;
    l.max_rows = 1000;
    l.max_series = 64;
    slt_frame_reader_init(&fr, 4096);
    /* the first byte picks the feed size, so split frames get exercised */
    step = size ? (size_t)(data[0] % 64) + 1 : 1;
    while (size) {
        len = size < step ? size : step;
        if (slt_frame_reader_feed(&fr, data, len) < 0)
            break;
        data += len;
        size -= len;
        while ((r = slt_frame_reader_next(&fr, &payload, &len)) == 1) {
            if (slt_msg_decode(payload, len, &l, &m, err, sizeof(err)) == 0) {
                check_reencode(&m, &l);
                slt_msg_release(&m);
            } else if (err[0] == '\0') {
                abort(); /* every refusal has a reason */
            }
            slt_frame_reader_consume(&fr);
        }
        if (r < 0)
            break;
    }
    slt_frame_reader_release(&fr);
    return 0;
}
