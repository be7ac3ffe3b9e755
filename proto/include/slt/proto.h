/*
 * The agent <-> aggregator wire protocol (docs/PROTOCOL.md). A frame is a 4-byte big-endian
 * length N (1 <= N <= max_frame) followed by N bytes holding one msgpack map. The length is
 * checked before anything is allocated.
 *
 * Calling sequence, receiving:
 *   slt_frame_reader_init(&fr, max_frame)
 *   on bytes: slt_frame_reader_feed(&fr, data, n)      (or reserve/commit to read in place)
 *             while ((r = slt_frame_reader_next(&fr, &payload, &len)) == 1) {
 *                 slt_msg_decode(payload, len, &limits, &msg, err, sizeof(err));
 *                 ... use msg (its slices point into payload) ...
 *                 slt_msg_release(&msg);
 *                 slt_frame_reader_consume(&fr);        payload is invalid from here
 *             }
 *             r < 0: oversized or malformed frame: close that connection
 * Sending: slt_msg_encode(&msg, &buf) appends one whole frame to buf.
 */
#ifndef SLT_PROTO_H
#define SLT_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "slt/common.h"

#define SLT_PROTO_VERSION 1
#define SLT_DEFAULT_MAX_FRAME (1u << 20)

enum slt_msg_type {
    SLT_MSG_HELLO = 1,   /* agent -> aggregator: who I am, my token */
    SLT_MSG_WELCOME = 2, /* aggregator -> agent: authenticated */
    SLT_MSG_BATCH = 3,   /* agent -> aggregator: counter deltas */
    SLT_MSG_ACK = 4,     /* aggregator -> agent: outcome of one batch */
    SLT_MSG_ERROR = 5,   /* either way, then close */
};

enum slt_series_kind {
    SLT_SERIES_SLI = 0,   /* rows: minute, good, bad, excluded */
    SLT_SERIES_INPUT = 1, /* rows: minute, lines, unparsed, oversize */
};

struct slt_count_row {
    int64_t minute; /* UTC seconds, a multiple of 60 */
    uint64_t v[3];
};

struct slt_series {
    enum slt_series_kind kind;
    struct slt_str name;
    uint64_t since; /* first seq of this epoch that carried this series */
    struct slt_count_row *rows;
    size_t nrows;
};

struct slt_msg_hello {
    uint32_t version;
    struct slt_str agent_id;
    uint64_t epoch;
    struct slt_str token;
    struct slt_str instance; /* optional: this agent's lasting random id (empty: none) */
};

struct slt_msg_welcome {
    uint32_t version;
    struct slt_str server; /* aggregator id, informational */
};

struct slt_msg_batch {
    struct slt_str agent_id;
    uint64_t epoch;
    uint64_t seq;              /* 1, 2, 3 ... within an epoch */
    int64_t created_ms;        /* when the agent closed the batch */
    struct slt_series *series; /* every series the agent has, rows may be empty */
    size_t nseries;
};

enum slt_ack_status {
    SLT_ACK_APPLIED = 0,   /* stored in Redis */
    SLT_ACK_DUPLICATE = 1, /* was stored before; not applied again */
    SLT_ACK_GAP = 2,       /* not applied: resend from resend_from */
    SLT_ACK_REJECTED = 3,  /* not applied and never will be (stale epoch, bad content) */
    SLT_ACK_RETRY = 4,     /* not applied now (Redis down); resend later */
};

/* Why a batch was REJECTED (optional on the wire; 0 from aggregators before it existed). */
enum slt_reject_reason {
    SLT_REJECT_STALE_EPOCH = 1, /* a larger epoch is stored for this agent id: see mark */
    SLT_REJECT_INVALID = 2,     /* content the aggregator cannot store; resending cannot help */
};

struct slt_msg_ack {
    uint64_t epoch;
    uint64_t seq;
    enum slt_ack_status status;
    uint64_t resend_from; /* with SLT_ACK_GAP */
    uint32_t reason;      /* with SLT_ACK_REJECTED: enum slt_reject_reason, 0 when not given */
    uint64_t mark;        /* with SLT_REJECT_STALE_EPOCH: the epoch stored for this agent id */
};

struct slt_msg_error {
    struct slt_str message;
};

struct slt_msg {
    enum slt_msg_type type;
    union {
        struct slt_msg_hello hello;
        struct slt_msg_welcome welcome;
        struct slt_msg_batch batch;
        struct slt_msg_ack ack;
        struct slt_msg_error error;
    } u;
    void *priv; /* decoder's allocations */
};

/* Bounds enforced while decoding; anything over them makes the frame malformed. */
struct slt_proto_limits {
    uint32_t max_series; /* default 4096 */
    uint32_t max_rows;   /* per series, default 100000 */
    uint32_t max_str;    /* any string, default 1024 */
    uint32_t max_depth;  /* default 8; at most 32 (msgpack-c's unpacker stack) */
};
void slt_proto_limits_default(struct slt_proto_limits *l);

/*
 * Decode one frame payload. Slices in *out point into payload; arrays are owned by *out
 * (slt_msg_release). Returns 0, or SLT_EPROTO with the reason in err.
 */
int slt_msg_decode(const char *payload, size_t len, const struct slt_proto_limits *limits,
                   struct slt_msg *out, char *err, size_t errlen);
void slt_msg_release(struct slt_msg *m);

/* Append one whole frame (length prefix and body) to out. 0, SLT_ELIMIT or SLT_ENOMEM. */
int slt_msg_encode(const struct slt_msg *m, struct slt_buf *out);

/*
 * The reader holds at most 4 + max_frame + SLT_FRAME_READ_SLACK bytes: one whole frame plus
 * one read's worth of the next ones. A length prefix over max_frame is refused as soon as its
 * 4 bytes are in, before anything is allocated for the frame.
 */
#define SLT_FRAME_READ_SLACK (64u * 1024)

struct slt_frame_reader {
    struct slt_buf buf;
    uint32_t max_frame;
    size_t frame_len; /* length of the frame last returned by next(), 0 when none */
    size_t off;       /* bytes of buf already consumed (compacted lazily) */
};

void slt_frame_reader_init(struct slt_frame_reader *fr, uint32_t max_frame);
void slt_frame_reader_release(struct slt_frame_reader *fr);
/* Copy bytes in. 0 or SLT_ELIMIT/SLT_ENOMEM. */
int slt_frame_reader_feed(struct slt_frame_reader *fr, const void *data, size_t len);
/* 1: a frame is ready in *payload and *len; 0: need more bytes; SLT_ELIMIT: frame too large or
 * zero length (close the connection). */
int slt_frame_reader_next(struct slt_frame_reader *fr, const char **payload, size_t *len);
/* Drop the frame returned by next(). */
void slt_frame_reader_consume(struct slt_frame_reader *fr);
/*
 * Read in place (libuv alloc_cb / read_cb): reserve() hands out *p with *avail >= 1 writable
 * bytes (at most want), commit(n) adds the n bytes written there. reserve() returns 0,
 * SLT_ELIMIT when the reader is full (a frame bigger than allowed) or SLT_ENOMEM.
 */
int slt_frame_reader_reserve(struct slt_frame_reader *fr, size_t want, char **p, size_t *avail);
void slt_frame_reader_commit(struct slt_frame_reader *fr, size_t n);
/* Bytes buffered and not yet consumed. */
size_t slt_frame_reader_pending(const struct slt_frame_reader *fr);
/*
 * Changes the largest frame accepted from here on (e.g. small before authentication, max_frame
 * after). Bytes already buffered stay; a pending frame over the new bound fails next().
 */
void slt_frame_reader_set_max(struct slt_frame_reader *fr, uint32_t max_frame);

/* Name of an ack status for logs ("gap"), "unknown" otherwise. */
const char *slt_ack_status_name(int status);

#endif
