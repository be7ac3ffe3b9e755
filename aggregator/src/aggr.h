/*
 * The aggregator's ingest side: the agent listener (server.c) and one session per connection
 * (session.c); batches go to the store (store.h) that applies them exactly once.
 *
 * Calling sequence (main.c):
 *   slt_store_new(loop, &conf, &params, stats, &store)  connects, reconnects with backoff
 *   slt_server_start(&srv, loop, &params, store, stats) listens on params.listen
 *   on SIGHUP:  slt_server_set_params / slt_store_set_params with the new values
 *   on SIGTERM: slt_server_close(&srv, cb, d) stops accepting, lets in-flight applies finish
 *               (bounded by redis_timeout), closes every session; cb runs last
 *               slt_store_close(store, cb, d) after the server stopped; closes its handles
 */
#ifndef SLT_AGGR_H
#define SLT_AGGR_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "slt/conn.h"
#include "slt/proto.h"

#include "redis_url.h"
#include "stats.h"
#include "store.h"

/* Everything the ingest side reads from the config, copied so a reload can swap it. */
struct slt_aggr_params {
    char listen[256];
    char *token; /* owned; NULL: agents are not authenticated */
    size_t token_len;
    uint32_t max_frame;
    uint32_t max_agents;
    uint64_t max_series; /* series in the store at most (aggregator.max_series) */
    int64_t minute_retention_s;
    int64_t hour_retention_s;
    int64_t day_retention_s;
    int64_t redis_timeout_ms;
    int64_t hello_timeout_ms; /* first frame must be HELLO within this, 5 s */
    int64_t idle_timeout_ms;  /* a session that sends nothing this long is closed, 10 min */
    size_t write_queue_max;   /* unsent ack bytes per session before it counts as slow, 64 KiB */
    char server_id[64];
};

void slt_aggr_params_release(struct slt_aggr_params *p);

/*
 * Reads a token file (aggregator.token_file, api_token_file): at most 4096 bytes, trailing
 * whitespace (the newline) is not part of it, empty is an error. Returns 0 and a copy in *out
 * (the caller frees it), or a negative code with a message in err.
 */
int slt_aggr_read_token(const char *path, char **out, size_t *outlen, char *err, size_t errlen);

/*
 * A batch whose epoch is this far ahead of the aggregator's clock (ms) is REJECTED (invalid):
 * stored, a huge epoch (2^53 - 1) would leave the agent id no larger epoch to move to.
 */
#define SLT_EPOCH_AHEAD_MAX_MS (366LL * 86400 * 1000)

/* ---- server and sessions -------------------------------------------------------------------- */
struct slt_session_entry; /* the server's record of a session (ingest_internal.h) */

struct slt_server {
    uv_loop_t *loop;
    struct slt_listener *listener;
    struct slt_tls *tls; /* borrowed (main); NULL: plain TCP */
    int listening;
    struct slt_aggr_params *params; /* borrowed; main keeps it alive */
    struct slt_store *store;
    struct slt_aggr_stats *stats;
    /* the sessions are the server's: only server.c adds, walks and unlinks (ingest_internal.h) */
    struct slt_session_entry *sessions; /* every open connection, newest first */
    size_t nsessions;
    size_t npreauth; /* of those, not authenticated yet (capped by SLT_PREAUTH_MAX) */
    struct slt_auth_throttle *throttle; /* per address: failed authentications */
    size_t nthrottle;
    int stopping;
    uv_timer_t stop_timer;
    slt_closed_cb on_stopped;
    void *stopped_data;
    int stop_timer_open;
};

/* tls (borrowed, may be NULL) must outlive the server. */
int slt_server_start(struct slt_server *srv, uv_loop_t *loop, struct slt_aggr_params *params,
                     struct slt_store *store, struct slt_aggr_stats *stats, struct slt_tls *tls,
                     char *err, size_t errlen);
/*
 * The lifecycle verb (slt/common.h) for a server embedded in its owner: stops accepting,
 * drains every session (in-flight applies answer first, bounded by the apply timeout) and
 * closes its own handles; on_closed runs last. The params struct may be updated in place at
 * any time (SIGHUP): sessions read it when they need a value.
 */
void slt_server_close(struct slt_server *srv, slt_closed_cb on_closed, void *data);

#endif
