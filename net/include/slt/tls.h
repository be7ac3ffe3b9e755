/*
 * TLS contexts for slt_conn (slt/conn.h): OpenSSL, TLS 1.2 at least, 1.3 when both sides have
 * it. One struct slt_tls per listener or per outgoing link; connections made with it share its
 * certificates and its counters.
 *
 *   slt_tls_new(SLT_TLS_SERVER, &opts, "ingest", &t, err, errlen)   loads the files now
 *   slt_listener_start(..., t, ...) / slt_conn_connect(..., t, name, ...)
 *   slt_tls_reload(t, &opts, err, errlen)   SIGHUP: new connections use the files read now; a
 *                                           file that does not load keeps the old context
 *   slt_tls_free(t)                         after the listener and its connections are closed
 *                                           (connections hold a reference; the last frees)
 */
#ifndef SLT_TLS_H
#define SLT_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "slt/common.h"

struct slt_tls;

enum slt_tls_role {
    SLT_TLS_SERVER = 0,
    SLT_TLS_CLIENT = 1,
};

struct slt_tls_opts {
    const char *cert_file; /* PEM chain; server: required; client: optional (mutual TLS) */
    const char *key_file;  /* PEM key of cert_file */
    /*
     * server: CA bundle of client certificates; set, every client must present one it signs.
     * client: CA bundle for the server's certificate; NULL: the system store.
     */
    const char *ca_file;
};

/* Why handshakes failed, as /metrics shows them (reason label). */
enum slt_tls_reason {
    SLT_TLS_R_PLAINTEXT = 0, /* the peer does not speak TLS */
    SLT_TLS_R_UNKNOWN_CA,    /* a certificate not signed by a trusted CA (either side's view) */
    SLT_TLS_R_EXPIRED,       /* a certificate outside its validity dates */
    SLT_TLS_R_BAD_NAME,      /* the certificate does not carry the expected name */
    SLT_TLS_R_NO_CERT,       /* a client without the certificate mutual TLS requires */
    SLT_TLS_R_OTHER,
    SLT_TLS_R__COUNT,
};

struct slt_tls_counters {
    uint64_t handshakes;                 /* completed */
    uint64_t failures[SLT_TLS_R__COUNT]; /* failed, by reason */
    uint64_t reloads, reload_failures;   /* slt_tls_reload */
};

/*
 * Loads the files into a new context. what names it in messages ("ingest", "http").
 * Returns 0 and *out, or SLT_ECONFIG (err says which file and why) or SLT_ENOMEM.
 */
int slt_tls_new(enum slt_tls_role role, const struct slt_tls_opts *opts, const char *what,
                struct slt_tls **out, char *err, size_t errlen);
/* Loads the files again (opts may name new ones); on failure the old context stays. */
int slt_tls_reload(struct slt_tls *t, const struct slt_tls_opts *opts, char *err, size_t errlen);
/* 1 when client certificates are required (a server with a client CA). */
int slt_tls_requires_client_cert(const struct slt_tls *t);
const struct slt_tls_counters *slt_tls_counters(const struct slt_tls *t);
/* Drops the caller's reference; NULL does nothing. */
void slt_tls_free(struct slt_tls *t);

/*
 * Prometheus text for the counters of n contexts (any may be NULL: skipped), labelled
 * {listener="<names[i]>"}: <prefix>_tls_handshakes_total, <prefix>_tls_handshake_failures_total
 * {reason=...}, <prefix>_tls_reloads_total, <prefix>_tls_reload_failures_total.
 */
int slt_tls_prom(struct slt_buf *b, const char *prefix, struct slt_tls *const *tls,
                 const char *const *names, size_t n);

#endif
