/*
 * The aggregator's ingest side: the agent listener (server.c) and one session per connection
 * (session.c); batches go to the store (store.h) that applies them exactly once.
 *
 * Calling sequence (main.c):
 *   slt_store_new(loop, &conf, &params, stats, &store)  connects, reconnects with backoff
 *   slt_server_start(&srv, loop, &params, store, stats) listens on params.listen
 *   on SIGHUP:  slt_server_set_params / slt_store_set_params with the new values
 *   on SIGTERM: slt_server_stop(&srv, cb)     stops accepting, lets in-flight applies finish
 *               (bounded by redis_timeout), closes every session; cb runs last
 *               slt_store_free(store)         after the server stopped; closes its handles
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
struct slt_session;

struct slt_server {
    uv_loop_t *loop;
    struct slt_listener *listener;
    struct slt_tls *tls; /* borrowed (main); NULL: plain TCP */
    int listening;
    struct slt_aggr_params *params; /* borrowed; main keeps it alive */
    struct slt_store *store;
    struct slt_aggr_stats *stats;
    struct slt_session *sessions; /* every open connection, newest first */
    size_t nsessions;
    size_t npreauth; /* of those, not authenticated yet (capped by SLT_PREAUTH_MAX) */
    struct slt_auth_throttle *throttle; /* per address: failed authentications */
    size_t nthrottle;
    int stopping;
    uv_timer_t stop_timer;
    void (*on_stopped)(struct slt_server *srv);
    int stop_timer_open;
};

/* tls (borrowed, may be NULL) must outlive the server. */
int slt_server_start(struct slt_server *srv, uv_loop_t *loop, struct slt_aggr_params *params,
                     struct slt_store *store, struct slt_aggr_stats *stats, struct slt_tls *tls,
                     char *err, size_t errlen);
/*
 * Stops accepting, drains every session (in-flight applies answer first, bounded by the apply
 * timeout) and closes its own handles; on_stopped runs last. The params struct may be updated
 * in place at any time (SIGHUP): sessions read it when they need a value.
 */
void slt_server_stop(struct slt_server *srv, void (*on_stopped)(struct slt_server *srv));

/*
 * Before authentication (issue 11 item 7): at most slt__preauth_max() connections that have not
 * sent a good HELLO, apart from max_agents (max_agents clamped to 64..1024), each with
 * hello_timeout to do so. Past the cap the oldest of them is closed to make room if it has
 * waited SLT_PREAUTH_EVICT_MS (a real agent says HELLO at once, a silent socket never), else the
 * newcomer is refused (a burst of agents reconnecting at once: they retry). An
 * address whose authentications failed SLT_AUTH_FAILURES times in SLT_AUTH_WINDOW_MS is refused
 * at accept for SLT_AUTH_BLOCK_MS; failures are logged once per address per window, with a
 * count. The table holds SLT_AUTH_SLOTS addresses (the least recent is reused).
 */
#define SLT_PREAUTH_MIN 64
#define SLT_PREAUTH_MAX 1024
#define SLT_PREAUTH_EVICT_MS 1000
#define SLT_AUTH_FAILURES 5
#define SLT_AUTH_WINDOW_MS 60000
#define SLT_AUTH_BLOCK_MS 60000
#define SLT_AUTH_SLOTS 1024

/* server.c: 1 when ip is refused now (counted, logged once per window). */
int slt__server_throttled(struct slt_server *srv, const char *ip);
/* server.c: an authentication from ip failed; what says how ("authentication failed for agent
 * 'x'"), peer is ip:port. Logs once per address per window, with the count. */
void slt__server_auth_failed(struct slt_server *srv, const char *ip, const char *peer,
                             const char *what);

/* session.c, used by server.c */
/* Takes c (closes it on failure). */
int slt__session_accept(struct slt_server *srv, struct slt_conn *c);
/* Closes the oldest session still waiting for HELLO for SLT_PREAUTH_EVICT_MS (to make room);
 * 0 when there is none. */
int slt__session_evict_preauth(struct slt_server *srv);
/* Stop reading; close once the in-flight apply (if any) answered. */
void slt__session_drain(struct slt_session *s);
void slt__session_close(struct slt_session *s, const char *reason);
struct slt_session *slt__session_next(struct slt_session *s);
/* Called by a session when its memory is freed (it has unlinked itself). */
void slt__server_session_gone(struct slt_server *srv, struct slt_session *s);

#endif
