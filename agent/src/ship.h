/*
 * ship.c: one connection at a time to the aggregator (slt/conn.h; TLS when agent.tls is set),
 * HELLO -> WELCOME, then up to SLT_SHIP_WINDOW spooled batches in flight, resent from the
 * oldest unacknowledged one after every reconnection (docs/PROTOCOL.md, docs/AGENT.md).
 *
 * The shipper knows the agent only through struct slt_ship_hooks and the spool it reads; it
 * keeps its own counters (slt_ship_counters()).
 *
 * Calling sequence:
 *   slt_ship_new(&hooks, &s)     starts connecting; hooks are copied
 *   slt_ship_kick(s)             new records are in the spool
 *   slt_ship_reconnect(s)        drop the connection and reconnect (new epoch, addresses, token)
 *   slt_ship_reload_tls(s)       re-read agent.tls's certificates (SIGHUP)
 *   slt_ship_close(s, cb, d)     closes every handle; s is freed once they are closed, then cb
 */
#ifndef SLT_SHIP_H
#define SLT_SHIP_H

#include <stddef.h>
#include <stdint.h>

#include "slt/common.h" /* slt_closed_cb */

struct uv_loop_s;
struct slt_spool;
struct slt_agent_conf;
struct slt_ship;

#define SLT_SHIP_WINDOW 64 /* batches in flight, unacknowledged */

enum slt_conn_state {
    SLT_CONN_DOWN = 0,
    SLT_CONN_CONNECTING,
    SLT_CONN_HELLO,
    SLT_CONN_UP,
};

struct slt_ship_hooks {
    void *data; /* passed to every hook */
    struct uv_loop_s *loop;
    struct slt_spool *spool; /* borrowed; outlives the shipper */
    const char *agent_id;    /* borrowed */
    const char *instance;    /* borrowed: state_dir/instance, sent in HELLO ("" or NULL: none) */
    size_t max_frame;        /* largest frame either way */
    /* the agent's current epoch */
    uint64_t (*epoch)(void *data);
    /* the agent section of the running config: addresses, TLS (read at every connection) */
    const struct slt_agent_conf *(*conf)(void *data);
    /* the token for HELLO ("" for none), read at every connection */
    const char *(*token)(void *data);
    /* the aggregator acknowledged batch (epoch, seq): applied or already there */
    void (*acked)(void *data, uint64_t epoch, uint64_t seq);
    /* after each acknowledgement was handled (the spool's unacked count changed) */
    void (*after_ack)(void *data);
    /* start a new epoch above max(epoch, above), carrying the spooled batches (unacked_only:
     * only those not acknowledged) -- agent_epoch.c's slt__agent_new_epoch() */
    void (*new_epoch)(void *data, uint64_t above, int unacked_only, const char *why);
};

struct slt_ship_counters {
    uint64_t acked;              /* APPLIED */
    uint64_t duplicates;         /* DUPLICATE */
    uint64_t rejected;           /* REJECTED answers */
    uint64_t stale_epochs;       /* REJECTED for a stale epoch: moved to a larger one */
    uint64_t given_up;           /* REJECTED and dropped for good */
    uint64_t retries;            /* RETRY */
    uint64_t gaps;               /* GAP */
    uint64_t unrecoverable_gaps; /* GAPs whose batches were gone: new epoch */
    uint64_t connects;           /* sessions established */
    uint64_t failures;           /* connections that failed or broke */
    uint64_t tls_failures;       /* of those, TLS handshakes or certificate checks */
};

int slt_ship_new(const struct slt_ship_hooks *hooks, struct slt_ship **out);
void slt_ship_kick(struct slt_ship *s);
void slt_ship_reconnect(struct slt_ship *s);
/* SIGHUP: re-read agent.tls's files for the next connections (a bad one keeps the old). */
void slt_ship_reload_tls(struct slt_ship *s);
void slt_ship_close(struct slt_ship *s, slt_closed_cb on_closed, void *data);
enum slt_conn_state slt_ship_state(const struct slt_ship *s);
const char *slt_ship_address(const struct slt_ship *s);
/* Why the last connection failed or ended ("" once a session is up). */
const char *slt_ship_last_error(const struct slt_ship *s);
const struct slt_ship_counters *slt_ship_counters(const struct slt_ship *s);

#endif
