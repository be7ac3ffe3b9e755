/*
 * The agent's durable state and the checkpoint file that holds it.
 *
 * struct slt_state is what the agent needs to resume exactly: its epoch, the last batch seq
 * it closed, the last seq acknowledged, the `since` of every series, and for every input the
 * tail positions just after the last line counted into that batch. The same encoding is
 * stored in every spool record (spool.h) and in the checkpoint file.
 *
 * The checkpoint file (state_dir/checkpoint) is "SLTCKPT1", u32 length, u32 crc32, body.
 * slt_ckpt_write() writes state_dir/checkpoint.tmp, fsyncs it, renames the current file to
 * checkpoint.prev, renames the temp file into place and fsyncs the directory.
 * slt_ckpt_read() falls back to checkpoint.prev when the current file is missing, torn or
 * fails its crc.
 */
#ifndef SLT_CKPT_H
#define SLT_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "slt/common.h"
#include "tail.h"

struct slt_state_series {
    uint32_t kind; /* enum slt_series_kind */
    char *name;
    uint64_t since; /* 0: not carried yet in this epoch */
};

struct slt_state_input {
    char *name;
    struct slt_tail_pos *pos;
    size_t npos;
};

struct slt_state {
    uint64_t epoch;
    uint64_t seq;       /* last batch closed (0: none yet in this epoch) */
    uint64_t acked_seq; /* every batch of this epoch up to here is acknowledged */
    struct slt_state_series *series;
    size_t nseries;
    struct slt_state_input *inputs;
    size_t ninputs;
};

/* Appends the encoding of st to out. 0 or SLT_ENOMEM/SLT_ELIMIT. */
int slt_state_encode(const struct slt_state *st, struct slt_buf *out);
/* Decodes into *st (owned; slt_state_release). 0, SLT_ECORRUPT or SLT_ENOMEM. */
int slt_state_decode(const void *p, size_t n, struct slt_state *st);
void slt_state_release(struct slt_state *st);
/* The positions stored for input name, or NULL. */
const struct slt_state_input *slt_state_input(const struct slt_state *st, const char *name);
/* The since stored for series (kind, name), 0 when none. */
uint64_t slt_state_since(const struct slt_state *st, uint32_t kind, const char *name);

/* Writes p..p+n as the checkpoint of dir (see above). 0 or -errno. */
int slt_ckpt_write(const char *dir, const void *p, size_t n);
/*
 * Reads the checkpoint of dir into out (appended). *from_prev is set to 1 when the current
 * file was bad and checkpoint.prev was used (logged). 0, SLT_ENOTFOUND when neither file
 * exists, SLT_ECORRUPT when no file is valid, -errno.
 */
int slt_ckpt_read(const char *dir, struct slt_buf *out, int *from_prev);

#endif
