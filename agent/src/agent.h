/*
 * slitail-agent: tails the config's inputs, parses and classifies every line, counts per
 * (series, minute), closes a batch every flush interval, spools it (fdatasync) and ships it to
 * the aggregator until acknowledged. docs/AGENT.md describes the crash-consistency design.
 *
 * Calling sequence (main.c):
 *   slt_agent_new(loop, config_path, cfg, &a)   takes ownership of cfg; recovers the state dir
 *   slt_agent_start(a)                          starts tails, timers, signals, shipping
 *   uv_run(loop)                                returns after SIGTERM/SIGINT (or a fatal error)
 *   rc = slt_agent_exit_code(a); slt_agent_free(a)
 *
 * Modules: count.c (counter table), spool.c (on-disk batches), ckpt.c (state and checkpoint
 * file), ship.c (connection to the aggregator, ship.h), status.c (HTTP status endpoint,
 * status.h), report.c (status JSON and Prometheus text, status.json), agent.c and its pieces
 * (agent.c lists them; agent_internal.h is what they share). ship.c and status.c see the agent
 * only through their hooks; they do not include this header.
 */
#ifndef SLT_AGENT_H
#define SLT_AGENT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "arrive.h"
#include "ckpt.h"
#include "count.h"
#include "paths.h"
#include "s3.h"
#include "ship.h"
#include "slt/config.h"
#include "slt/proto.h"
#include "spool.h"
#include "status.h"
#include "tail.h"

#define SLT_AGENT_MAX_ROWS 20000       /* rows per batch: keeps a frame well under 1 MiB */
#define SLT_AGENT_MAX_FRAME (1u << 20) /* the aggregator's default max_frame */

struct slt_agent;

struct slt_agent_input {
    struct slt_agent *a;
    char *name;
    struct slt_parser *parser;
    struct slt_tail *tail;
    struct slt_arrive *arrive; /* .gz files arriving in its globs (arrive.h), or NULL */
    struct slt_s3 *s3;         /* an S3 input (s3.h): instead of tail and arrive */
    uint32_t series;           /* its INPUT series */
    uint32_t *slis;            /* SLT series of the SLIs over this input */
    const struct slt_sli **sli_cfg;
    unsigned char *line_cls; /* per SLI, the class of the line being counted */
    size_t nslis;
    int closing;    /* lines delivered after this are ignored (re-read from the positions) */
    int has_header; /* the format keeps a header per file (w3c, cloudfront): one stream each */
    /* totals since start, for status */
    uint64_t lines, unparsed, oversize;
    uint64_t reasons[SLT_UP__COUNT];
    uint64_t cls[SLT_CLASS_COUNTED];
    int64_t last_event_s;
    struct slt_paths paths; /* which of its paths match no file (paths.h) */
};

struct slt_agent_series {
    uint32_t kind; /* enum slt_series_kind */
    char *name;
    uint64_t since; /* 0: not carried yet in this epoch */
    int live;       /* in the current config (removed ones are carried empty until the epoch
                       ends, so that their per-series seq stays contiguous) */
};

struct slt_file_rate;

struct slt_agent {
    uv_loop_t *loop;
    char *config_path;
    struct slt_config *cfg;
    char *agent_id;
    char instance[17]; /* state_dir/instance: sent in HELLO */
    char *state_dir;
    char *token;

    struct slt_agent_input *inputs;
    size_t ninputs;
    struct slt_agent_series *series;
    size_t nseries;
    struct slt_matcher *matcher;
    struct slt_count count;
    int64_t now_s; /* wall clock, refreshed each loop turn; minute of unparsed lines */

    struct slt_spool *spool;
    struct slt_state last; /* state of the newest spooled batch (or the recovered one) */
    uint64_t epoch, seq;   /* seq: last batch closed */
    uint64_t last_acked_seq;
    /* a batch that could not be spooled (disk full, EIO): retried as is, reading paused */
    struct slt_buf pending_frame, pending_state;
    uint64_t pending_seq;
    int64_t pending_created;
    int has_pending;

    uv_timer_t flush_timer, tick_timer, close_timer, stop_timer;
    uv_prepare_t clock;
    uv_signal_t sighup, sigterm, sigint;
    int64_t last_ckpt_ms;
    uint64_t ckpt_acked; /* acked_seq in the last checkpoint */

    struct slt_curl_uv *curl; /* S3 inputs' requests, created with the first one */
    struct slt_ship *ship;
    struct slt_status_http *http;

    int disk_full;    /* the last write under state_dir failed with ENOSPC or EDQUOT */
    int reserve_held; /* state_dir/reserve is in place */
    int64_t reserve_try_ms;
    int paused_full;    /* backpressure: the spool is full */
    int paused_pending; /* a batch is waiting to be spooled */
    int paused_close;   /* an early batch close is scheduled */
    int tails_paused;
    int stopping, stopped;
    int exit_code;
    int handles_open;

    /* metrics */
    uint64_t batches, early_closes, backpressure_events, spool_errors, disk_full_events;
    uint64_t abandoned; /* the shipper counts acknowledgements (slt_ship_counters) */
    uint64_t given_up;  /* batches not carried into a new epoch (the shipper counts REJECTED) */
    uint64_t reloads, reload_failures;
    int64_t started_ms;
    /* status rates */
    int64_t status_ms;
    struct slt_file_rate *rates; /* per file, at the previous status write */
    size_t nrates;
    /* unparsed lines per file path (hash), for status; bounded, the rest is per input only */
    struct slt_file_rate *unparsed_by_file;
    size_t nunparsed_by_file;
};

#define SLT_AGENT_MAX_UNPARSED_FILES 1024

/* FNV-1a 64 of a path: keys per-file figures in the status (in memory only, never persisted). */
static inline uint64_t slt_path_hash(const char *s)
{
    return slt_fnv1a64(s ? s : "", s ? strlen(s) : 0);
}

struct slt_file_rate {
    uint64_t path_hash;
    uint64_t lines;
};

int slt_agent_new(uv_loop_t *loop, const char *config_path, struct slt_config *cfg,
                  struct slt_agent **out);
int slt_agent_start(struct slt_agent *a);
void slt_agent_free(struct slt_agent *a);
int slt_agent_exit_code(const struct slt_agent *a);

/* internal, shared by agent.c and main.c (agent_internal.h: by the agent's pieces) */
void slt__agent_stop(struct slt_agent *a);

/* report.c */
/* Renders the status of the agent (data) as JSON (prometheus = 0) or Prometheus text. */
int slt_status_render(void *data, int prometheus, struct slt_buf *out);
/* Writes state_dir/status.json (tmp + rename). */
int slt_status_write(struct slt_agent *a);

#endif
