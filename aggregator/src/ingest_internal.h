/*
 * The contract between the agent listener (server.c) and its sessions (session.c); only these
 * two files include it.
 *
 * The server owns the list of sessions and its counts (nsessions, npreauth): it adds a session
 * when it admits a connection, walks the list to make room among the unauthenticated and to
 * drain at shutdown, and takes a session off the list only when the session says it is gone.
 * A session never edits the list or the counts; it tells the server:
 *   slt__server_preauth_end(srv, s)    it waits for HELLO no more (a good one came, or it closes)
 *   slt__server_auth_failed(srv, ...)  an authentication from its address failed (throttling)
 *   slt__server_session_gone(srv, s)   the one way off the list: from its last close callback,
 *                                      just before its memory is freed
 *
 * A connection (server.c, on_connection):
 *   its address is throttled (too many failed authentications): closed, no session
 *   slt__session_new(srv, c, &s)    allocates and sets up; nothing read or sent yet
 *   the server adds it to the list, then
 *     slt__session_refuse(s, msg)   over max_agents or shutting down: ERROR msg, then closed
 *     slt__session_refuse(s, NULL)  no room among the unauthenticated: closed without a word
 *     slt__session_start(s)         admitted: the HELLO deadline runs and reading starts
 * The server closes a session with slt__session_close (evicting the oldest stranger) or
 * slt__session_drain (shutdown); a session closes itself for every other reason.
 */
#ifndef SLT_INGEST_INTERNAL_H
#define SLT_INGEST_INTERNAL_H

#include <stdint.h>

#include "aggr.h"

/*
 * Before authentication (issue 11 item 7): at most max_agents clamped to
 * SLT_PREAUTH_MIN..SLT_PREAUTH_MAX connections that have not sent a good HELLO, apart from
 * max_agents, each with hello_timeout to do so. Past the cap the oldest of them is closed to
 * make room if it has waited SLT_PREAUTH_EVICT_MS (a real agent says HELLO at once, a silent
 * socket never), else the newcomer is refused (a burst of agents reconnecting at once: they
 * retry). An address whose authentications failed SLT_AUTH_FAILURES times in
 * SLT_AUTH_WINDOW_MS is refused at accept for SLT_AUTH_BLOCK_MS; failures are logged once per
 * address per window, with a count. The table holds SLT_AUTH_SLOTS addresses (the least recent
 * is reused).
 */
#define SLT_PREAUTH_MIN 64
#define SLT_PREAUTH_MAX 1024
#define SLT_PREAUTH_EVICT_MS 1000
#define SLT_AUTH_FAILURES 5
#define SLT_AUTH_WINDOW_MS 60000
#define SLT_AUTH_BLOCK_MS 60000
#define SLT_AUTH_SLOTS 1024

struct slt_session;

/* The server's record of one session. It lives inside struct slt_session (so adding a session
 * cannot fail) but only server.c reads or writes it. */
struct slt_session_entry {
    struct slt_session *session;
    struct slt_session_entry *prev, *next;
    uint64_t accepted_ms; /* uv_now() when admitted */
    int preauth;          /* admitted and waiting for HELLO: counted in srv->npreauth */
};

/* ---- server.c, called by session.c ---- */

/* An authentication from ip failed; what says how ("authentication failed for agent 'x'"),
 * peer is ip:port. Logs once per address per window, with the count. */
void slt__server_auth_failed(struct slt_server *srv, const char *ip, const char *peer,
                             const char *what);
/* s waits for HELLO no more (it sent a good one, or it is closing); no-op when it did not. */
void slt__server_preauth_end(struct slt_server *srv, struct slt_session *s);
/* s is gone: off the list, no longer counted. Its last close callback calls this once, right
 * before freeing it; the server may finish stopping here. */
void slt__server_session_gone(struct slt_server *srv, struct slt_session *s);

/* ---- session.c, called by server.c ---- */

/* A session for c, linked to nothing yet. Takes c (closes it on failure, SLT_ENOMEM). */
int slt__session_new(struct slt_server *srv, struct slt_conn *c, struct slt_session **out);
/* The server's record inside s. */
struct slt_session_entry *slt__session_entry(struct slt_session *s);
/* Refuses a session not started: sends an ERROR frame msg and closes after it left (or
 * CLOSE_LINGER_MS); msg NULL: closes at once without a word. */
void slt__session_refuse(struct slt_session *s, const char *msg);
/* Starts an admitted session: the HELLO deadline runs, reading starts. */
void slt__session_start(struct slt_session *s);
/* Stops reading; closes once the in-flight apply (if any) answered and the writes left. */
void slt__session_close(struct slt_session *s, const char *reason);
/* slt__session_close for the shutdown. */
void slt__session_drain(struct slt_session *s);

#endif
