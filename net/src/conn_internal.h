/*
 * Inside a connection: the table of operations plain TCP (conn.c) and TLS (tls.c) implement.
 * The socket is always a uv_tcp_t; TLS sits between it and the user's callbacks with OpenSSL
 * memory BIOs.
 */
#ifndef SLT_CONN_INTERNAL_H
#define SLT_CONN_INTERNAL_H

#include <uv.h>

#include "slt/common.h"
#include "slt/conn.h"

struct slt_conn_ops {
    const char *name;
    int (*read_start)(struct slt_conn *c);
    void (*read_stop)(struct slt_conn *c);
    int (*write)(struct slt_conn *c, const char *p, size_t len, slt_conn_write_cb cb, void *arg);
    void (*close)(struct slt_conn *c);
};

struct slt_tls_conn; /* tls.c */

struct slt_conn {
    const struct slt_conn_ops *ops;
    uv_loop_t *loop;
    uv_tcp_t tcp;
    uv_connect_t creq;
    void *data;
    slt_conn_alloc_cb alloc_cb;
    slt_conn_read_cb read_cb;
    slt_conn_close_cb close_cb;
    slt_conn_connect_cb connect_cb;
    int reading; /* the user wants bytes */
    int closing;
    int open_handles; /* tcp (+ the TLS timer) */
    size_t write_queued;
    char peer[64];
    char peer_ip[48];
    char err[256];
    struct slt_tls_conn *tls; /* NULL on plain TCP */
};

/* A write handed to libuv: the user's callback runs when it completes. */
struct slt__conn_wreq {
    uv_write_t req;
    struct slt_conn *c;
    slt_conn_write_cb cb;
    void *arg;
    size_t len;  /* user bytes this request accounts for (write_queued) */
    char data[]; /* TLS: the ciphertext (plain TCP writes the user's buffer) */
};

void slt__conn_handle_closed(uv_handle_t *h);
/* Writes w->data[0..n) (owned by w, freed after cb); w->cb, arg and len set by the caller. */
int slt__conn_write_owned(struct slt_conn *c, struct slt__conn_wreq *w, size_t n);

/* tls.c */
int slt__tls_conn_attach(struct slt_conn *c, struct slt_tls *tls, int server,
                         const char *server_name);
void slt__tls_conn_free(struct slt_conn *c);
/* The TCP connection of a client is up: start the handshake. */
void slt__tls_conn_start(struct slt_conn *c);

#endif
