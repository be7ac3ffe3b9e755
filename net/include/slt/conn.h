/*
 * One connection type for every socket slitail serves or opens: the agent's shipper, the
 * aggregator's agent listener and every HTTP server. Plain TCP and TLS implement the same
 * table of operations (net/src/conn_internal.h), so the code above never knows which it has,
 * in the spirit of Redis' connection.h.
 *
 * Calling sequence, server side:
 *   slt_listener_start(loop, "0.0.0.0:7433", tls_or_NULL, on_conn, data, &l, err, errlen)
 *   on_conn(l, c)                     a new connection (TLS: the handshake runs under it)
 *     slt_conn_set_data(c, mine)
 *     slt_conn_read_start(c, alloc_cb, read_cb)
 *     slt_conn_write(c, p, len, write_cb, arg)   p stays valid until write_cb
 *     slt_conn_close(c, close_cb)     idempotent; write_cbs run first (UV_ECANCELED), then
 *                                     close_cb; the connection's memory is freed after close_cb
 *   slt_listener_close(l, cb, data)   stops accepting; open connections are the caller's
 *
 * Client side:
 *   slt_conn_connect(loop, addr, tls_or_NULL, server_name, connect_cb, data, &c)
 *   connect_cb(c, 0) once connected (TLS: once the handshake succeeded), or connect_cb(c, err);
 *   the caller then closes c either way.
 *
 * Errors given to read_cb, write_cb and connect_cb are libuv codes (UV_EOF when the peer
 * closed) or SLT_EPROTO for a TLS failure; slt_conn_error() then says what failed, in words.
 */
#ifndef SLT_CONN_H
#define SLT_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "slt/common.h" /* slt_closed_cb */

struct uv_loop_s;
struct sockaddr;
struct sockaddr_storage;
struct slt_conn;
struct slt_listener;
struct slt_tls;

/* Room for the next read: *p and *room (room 0: read_cb gets UV_ENOBUFS). */
typedef void (*slt_conn_alloc_cb)(struct slt_conn *c, size_t suggested, char **p, size_t *room);
/* nread > 0 bytes arrived where alloc_cb said; nread < 0 an error (the caller closes). */
typedef void (*slt_conn_read_cb)(struct slt_conn *c, long nread);
typedef void (*slt_conn_write_cb)(struct slt_conn *c, int status, void *arg);
typedef void (*slt_conn_close_cb)(struct slt_conn *c);
typedef void (*slt_conn_connect_cb)(struct slt_conn *c, int status);
typedef void (*slt_listener_cb)(struct slt_listener *l, struct slt_conn *c);

void slt_conn_set_data(struct slt_conn *c, void *data);
void *slt_conn_data(const struct slt_conn *c);
/* "1.2.3.4:5678", "[::1]:5678"; peer_ip without the port (throttling key). */
const char *slt_conn_peer(const struct slt_conn *c);
const char *slt_conn_peer_ip(const struct slt_conn *c);
/* The last failure in words ("" when none): TLS alerts and certificate checks land here. */
const char *slt_conn_error(const struct slt_conn *c);
/*
 * The peer's verified certificate names (mutual TLS): 1 when name equals its subject CN or one
 * of its DNS subjectAltNames (exact, case-insensitive), 0 otherwise or without a certificate.
 */
int slt_conn_peer_cert_has_name(const struct slt_conn *c, const char *name, size_t len);

int slt_conn_read_start(struct slt_conn *c, slt_conn_alloc_cb alloc_cb, slt_conn_read_cb read_cb);
void slt_conn_read_stop(struct slt_conn *c);
/*
 * Queues len bytes at p; p must stay valid until cb(c, status, arg) runs (always later, never
 * from inside this call). Returns 0, or a negative code and cb never runs.
 */
int slt_conn_write(struct slt_conn *c, const char *p, size_t len, slt_conn_write_cb cb, void *arg);
/* Bytes queued with slt_conn_write whose callback has not run yet. */
size_t slt_conn_write_queued(const struct slt_conn *c);
void slt_conn_close(struct slt_conn *c, slt_conn_close_cb cb);

/*
 * Connects to addr. With tls (borrowed; it must outlive the connection) the handshake runs
 * and the peer is verified against server_name (NULL: no name check) before connect_cb(c, 0).
 * Returns 0 and *out (connect_cb will run), or a negative code.
 */
int slt_conn_connect(struct uv_loop_s *loop, const struct sockaddr *addr, struct slt_tls *tls,
                     const char *server_name, slt_conn_connect_cb cb, void *data,
                     struct slt_conn **out);

/*
 * "host:port", "[v6]:port", ":port" or "*:port" (any address), "localhost:port" into addr.
 * Numeric hosts only (and localhost). Returns 0 or SLT_EINVAL.
 */
int slt_net_parse_listen(const char *listen, struct sockaddr_storage *addr);
/* 1 when addr is a loopback address (127/8, ::1). */
int slt_net_is_loopback(const struct sockaddr_storage *addr);

/*
 * Listens on listen; every accepted connection goes to cb (TLS with tls non-NULL; tls is
 * borrowed and must outlive the listener and its connections). err gets a message on failure.
 */
int slt_listener_start(struct uv_loop_s *loop, const char *listen, struct slt_tls *tls,
                       slt_listener_cb cb, void *data, struct slt_listener **out, char *err,
                       size_t errlen);
void *slt_listener_data(const struct slt_listener *l);
/* The port actually bound (useful with port 0). */
int slt_listener_port(const struct slt_listener *l);
/* Closes the listening socket; cb(data) runs once closed and the listener is freed. */
void slt_listener_close(struct slt_listener *l, slt_closed_cb cb, void *data);

#endif
